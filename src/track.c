/*
 * track.c
 *		telemetry_track(): resolve, validate, sample, redact and store one event
 *		in the caller's transaction.
 *
 * The hot path runs no SQL: definitions come from spec_cache.c, and the row
 * goes straight into its partition (insert.c) where the table allows it,
 * else through a kept prepared INSERT (the executor path, for example when
 * a distributed engine manages the table).  Validation failures either
 * raise an error or, with telemetry.on_invalid = quarantine, store the
 * redacted event in telemetry.rejected_events and return NULL, so telemetry
 * never aborts the caller's work by accident.
 */
#include "telemetry.h"
#include "event_check.h"
#include "floor.h"
#include "insert.h"
#include "sample_condition.h"
#include "track.h"
#include "shmem.h"
#include "spi_plan.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(telemetry_track);
PG_FUNCTION_INFO_V1(telemetry_track_int);
PG_FUNCTION_INFO_V1(telemetry_track_row);

#define INSERT_NARGS EVENT_NCOLUMNS

/* longest event name or version tracking accepts (and quarantine keeps) */
#define TELEMETRY_MAX_NAME_BYTES 128

/* The executor path's INSERT of an event row into a table. */
#define EVENT_INSERT(table) \
	"INSERT INTO " table " (id, event, version, spec, occurred_at, received_at, " \
	"properties, context, sample_rate, xid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"

static const Oid event_insert_types[INSERT_NARGS] = {
	UUIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	JSONBOID, JSONBOID, FLOAT8OID, XID8OID
};
static bool xact_callback_registered = false;
static bool tracked_in_xact = false;

/*
 * Wake the worker when a transaction that stored events commits.  A
 * prepared one's events become visible at COMMIT PREPARED, which wakes it
 * (worker_hook.c).
 */
static void
track_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (tracked_in_xact)
				telemetry_wake_worker_for_delivery();
			tracked_in_xact = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			tracked_in_xact = false;
			break;
		default:
			break;
	}
}

/*
 * Sampling decision.  With sampling.by, the decision is a hash of that
 * context value, so a user is in or out for every event at that rate.  An
 * event matching one of its sampling.conditions is kept, and stored with
 * *rate 1 (else *rate is the event's rate).
 */
static bool
sample_keep(const CompiledEvent *ev, Jsonb *props, Jsonb *context, double *rate)
{
	*rate = ev->sample_rate > 1.0 ? 1.0 : ev->sample_rate;
	if (ev->sample_rate >= 1.0)
		return true;
	if (ev->nconditions > 0 && sample_conditions_match(ev->conditions, ev->nconditions, props))
	{
		*rate = 1.0;
		return true;
	}
	if (ev->sample_rate <= 0.0)
		return false;
	if (ev->sample_by)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&context->root, ev->sample_by,
													 strlen(ev->sample_by), NULL);

		if (v && v->type != jbvNull)
		{
			uint64		h;
			StringInfoData buf;

			if (v->type == jbvString)
				h = hash_bytes_extended((const unsigned char *) v->val.string.val,
										v->val.string.len, 0x7e1e);
			else
			{
				Jsonb	   *j = JsonbValueToJsonb(v);

				initStringInfo(&buf);
				JsonbToCString(&buf, &j->root, VARSIZE(j));
				h = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0x7e1e);
			}
			/* top 53 bits as a fraction in [0, 1) */
			return (double) (h >> 11) / (double) (UINT64CONST(1) << 53) < ev->sample_rate;
		}
	}
	return pg_prng_double(&pg_global_prng_state) < ev->sample_rate;
}

/*
 * The oldest occurred_at an event with this retention may have: the start
 * of the UTC day `days` days before now's UTC day, the same rule as
 * maintenance (telemetry._retention_cutoff), so tracking never stores what
 * the next maintenance run would delete, nor refuses what it would keep.
 */
static TimestampTz
retention_cutoff(TimestampTz now, int days)
{
	TimestampTz day_start = now - (now % USECS_PER_DAY);

	/* TimestampTz counts from 2000-01-01 00:00 UTC; floor for negatives */
	if (now < 0 && now % USECS_PER_DAY != 0)
		day_start -= USECS_PER_DAY;
	return day_start - (int64) days * USECS_PER_DAY;
}

/*
 * Store a quarantined event (already redacted) and warn.  The event name
 * and version are cut at 128 bytes on a character boundary, like the
 * names tracking accepts: the quarantine keeps nothing tracking would
 * refuse.  The role is the current effective user, the one who tracked.
 */
static void
store_rejected(const char *event, const char *version, Jsonb *props, Jsonb *ctx,
			   TimestampTz occurred_at, const TrackError *err)
{
	static SPIPlanPtr reject_plan = NULL;
	static const Oid types[8] = {TEXTOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, NAMEOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	TelemetryOwnerContext octx;
	Oid			owner = spec_cache_owner();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PointerGetDatum(cstring_to_text_with_len(event, pg_mbcliplen(event, strlen(event), TELEMETRY_MAX_NAME_BYTES)));
	values[1] = version ? PointerGetDatum(cstring_to_text_with_len(version, pg_mbcliplen(version, strlen(version), TELEMETRY_MAX_NAME_BYTES))) : (Datum) 0;
	nulls[1] = version ? ' ' : 'n';
	values[2] = props ? JsonbPGetDatum(props) : (Datum) 0;
	nulls[2] = props ? ' ' : 'n';
	values[3] = ctx ? JsonbPGetDatum(ctx) : (Datum) 0;
	nulls[3] = ctx ? ' ' : 'n';
	values[4] = TimestampTzGetDatum(occurred_at);
	values[5] = CStringGetTextDatum(unpack_sql_state(err->sqlstate));
	values[6] = CStringGetTextDatum(err->message);
	values[7] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	telemetry_become_owner(&octx, owner, false);
	spi_plan_run(&reject_plan,
				 "INSERT INTO telemetry.rejected_events "
				 "(event, version, properties, context, occurred_at, sqlstate, error, role) "
				 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				 8, types, values, nulls, SPI_OK_INSERT);
	telemetry_restore_user(&octx);
	SPI_finish();

	ereport(WARNING,
			(errcode(err->sqlstate),
			 errmsg("%s", err->message),
			 errdetail("The event was quarantined in telemetry.rejected_events (telemetry.on_invalid = quarantine)."),
			 errhidestmt(true)));
}

/*
 * Raise or quarantine a validation failure; returns only in quarantine mode.
 * The error hides the statement (errhidestmt): its literals are the raw
 * values that redaction keeps off disk, and log_min_error_statement would
 * write them to the server log.
 */
static void
fail_event(const CompiledEvent *ev, const char *event, const char *request,
		   Jsonb *props, Jsonb *ctx, TimestampTz occurred_at, const TrackError *err)
{
	bool		may_hash = true;

	if (ev)
		telemetry_count(ev->event, ev->version, TELEMETRY_COUNT_REJECTED);

	if (telemetry_on_invalid != TELEMETRY_ON_INVALID_QUARANTINE)
		ereport(ERROR,
				(errcode(err->sqlstate),
				 errmsg("%s", err->message),
				 errhidestmt(true)));

	/*
	 * Redact what is known: declared keys by their redaction, undeclared
	 * properties dropped (they may hold anything), undeclared context keys
	 * kept as tracking keeps them.  For an unknown event nothing is known,
	 * and of an event over telemetry.max_event_bytes nothing is kept either
	 * (the quarantine must not store what tracking would refuse), so nothing
	 * of their payload is kept.  A session that may not hash (hash_guard.c)
	 * gets its hashed keys dropped rather than an error: quarantine never
	 * aborts the caller.
	 */
	if (ev && (Size) VARSIZE(props) + VARSIZE(ctx) <= (Size) telemetry_max_event_bytes)
	{
		if (propset_has_hash(&ev->props) || propset_has_hash(&ev->context))
			may_hash = telemetry_may_hash();
		props = event_redact_object(&ev->props, props, true, may_hash);
		ctx = event_redact_object(&ev->context, ctx, false, may_hash);
	}
	else
		props = ctx = NULL;
	store_rejected(event, ev ? ev->version : request, props, ctx, occurred_at, err);
}

/*
 * Store the final row (the executor path).  Also used when the direct path
 * (insert.c) does not apply.
 */
static void
insert_event_executor(const EventRow *row, bool late)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr late_plan = NULL;
	Oid			default_part;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Hold the default partition before the executor routes the row: a
	 * concurrent partition creation (which locks it exclusively) is then
	 * either finished, and its new partition is seen, or waits for us.
	 */
	default_part = spec_cache_default_partition();
	if (OidIsValid(default_part))
		LockRelationOid(default_part, RowExclusiveLock);

	spi_plan_run(&insert_plan, EVENT_INSERT("telemetry.events"), INSERT_NARGS,
				 event_insert_types, (Datum *) row->values, NULL, SPI_OK_INSERT);
	if (late)
		spi_plan_run(&late_plan, EVENT_INSERT("telemetry.late_events"), INSERT_NARGS,
					 event_insert_types, (Datum *) row->values, NULL, SPI_OK_INSERT);
	SPI_finish();
}

/*
 * Store the final row, as the extension's owner: straight into its
 * partition where the table allows it (insert.c), else with an INSERT.  A
 * late event (occurred_at more than TELEMETRY_LATE_WINDOW before
 * received_at) is also copied to telemetry.late_events, where readers after
 * a cursor find it without a partition scan (floor.c).
 */
static void
insert_event(const CompiledEvent *ev, pg_uuid_t *id, TimestampTz occurred_at,
			 TimestampTz received_at, Jsonb *props, Jsonb *ctx, double sample_rate,
			 TrackBatch *batch)
{
	EventRow	row;
	TelemetryOwnerContext octx;
	bool		late = occurred_at < received_at - TELEMETRY_LATE_WINDOW;
	bool		done = false;

	row.values[EVENT_COL_ID] = UUIDPGetDatum(id);
	row.values[EVENT_COL_EVENT] = CStringGetTextDatum(ev->event);
	row.values[EVENT_COL_VERSION] = CStringGetTextDatum(ev->version);
	row.values[EVENT_COL_SPEC] = CStringGetTextDatum(ev->spec);
	row.values[EVENT_COL_OCCURRED_AT] = TimestampTzGetDatum(occurred_at);
	row.values[EVENT_COL_RECEIVED_AT] = TimestampTzGetDatum(received_at);
	row.values[EVENT_COL_PROPERTIES] = JsonbPGetDatum(props);
	row.values[EVENT_COL_CONTEXT] = JsonbPGetDatum(ctx);
	row.values[EVENT_COL_SAMPLE_RATE] = Float8GetDatum(sample_rate);
	row.values[EVENT_COL_XID] = FullTransactionIdGetDatum(GetTopFullTransactionId());

	telemetry_become_owner(&octx, spec_cache_owner(), false);
	if (event_insert_direct_ok(spec_cache_events_relation()))
	{
		if (batch == NULL)
		{
			EventInserter *ins = event_inserter_begin(false);

			done = event_inserter_put(ins, &row, late);
			event_inserter_end(ins);
		}
		else
		{
			/* a batch's rows are written together when it ends */
			if (batch->ins == NULL)
				batch->ins = event_inserter_begin(true);
			done = event_inserter_put(batch->ins, &row, late);
		}
	}
	if (!done)
		insert_event_executor(&row, late);
	telemetry_restore_user(&octx);
}

/*
 * Whether the caller may back-date events without limit: the extension's
 * owner (acting as itself, not inside a security-restricted operation).
 */
static bool
caller_may_backdate(void)
{
	return !InSecurityRestrictedOperation() &&
		has_privs_of_role(GetUserId(), spec_cache_owner());
}

/* A batch item's errors name its position in the array. */
static void
label_error(TrackError *err, TrackBatch *batch)
{
	if (batch != NULL)
		err->message = psprintf("events[%d]: %s", batch->index, err->message);
}

/*
 * The whole tracking pipeline.  Returns the new event's id, or NULL when
 * the event was sampled out, expired or quarantined.  With a batch, rows go
 * to its inserter (written when the batch ends) and errors name the item.
 */
pg_uuid_t *
track_event(const char *event, const char *request, Jsonb *props, Jsonb *ctx,
			TimestampTz occurred_at, bool from_row, TrackBatch *batch)
{
	CompiledEvent *ev;
	TrackError	err = {0};
	bool		props_rewrite = false;
	bool		ctx_rewrite = false;
	bool		hashes = false;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			retention;
	TimestampTz received_at;
	pg_uuid_t  *id;
	double		sample_rate;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(track_xact_callback, NULL);
		xact_callback_registered = true;
	}

	ev = spec_cache_lookup(event, request);
	if (ev == NULL)
	{
		/* names are cut at 128 bytes, on a character boundary */
		if (request)
			track_error(&err, ERRCODE_UNDEFINED_OBJECT,
						"telemetry event \"%.*s\" has no registered version matching \"%.*s\"",
						pg_mbcliplen(event, strlen(event), TELEMETRY_MAX_NAME_BYTES), event,
						pg_mbcliplen(request, strlen(request), TELEMETRY_MAX_NAME_BYTES), request);
		else
			track_error(&err, ERRCODE_UNDEFINED_OBJECT,
						"telemetry event \"%.*s\" is not registered",
						pg_mbcliplen(event, strlen(event), TELEMETRY_MAX_NAME_BYTES), event);
		label_error(&err, batch);
		fail_event(NULL, event, request, props, ctx, occurred_at, &err);
		return NULL;
	}

	if ((Size) VARSIZE(props) + VARSIZE(ctx) > (Size) telemetry_max_event_bytes)
		track_error(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					"event \"%s\" %s: %zu bytes is more than telemetry.max_event_bytes (%d)",
					ev->event, ev->version, (Size) VARSIZE(props) + VARSIZE(ctx),
					telemetry_max_event_bytes);
	else if (event_check_object(ev, PART_PROPERTIES, props, from_row, &props_rewrite, &hashes, &err))
		event_check_object(ev, PART_CONTEXT, ctx, false, &ctx_rewrite, &hashes, &err);

	if (err.sqlstate == 0 && occurred_at > now + USECS_PER_DAY)
		track_error(&err, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
					"event \"%s\" %s: occurred_at is more than 1 day in the future",
					ev->event, ev->version);
	/* back-dating beyond telemetry.max_backdate_days is the owner's alone */
	if (err.sqlstate == 0 &&
		occurred_at < retention_cutoff(now, telemetry_max_backdate_days) &&
		!caller_may_backdate())
		track_error(&err, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
					"event \"%s\" %s: occurred_at is more than %d days in the past (telemetry.max_backdate_days)",
					ev->event, ev->version, telemetry_max_backdate_days);

	if (err.sqlstate != 0)
	{
		label_error(&err, batch);
		fail_event(ev, event, request, props, ctx, occurred_at, &err);
		return NULL;
	}

	/* no hash pseudonyms of chosen values for roles that can read them */
	if (hashes)
		telemetry_check_may_hash(ev->event, ev->version);

	retention = ev->retention_days > 0 ? ev->retention_days : telemetry_default_retention_days;
	if (occurred_at < retention_cutoff(now, retention))
	{
		telemetry_count(ev->event, ev->version, TELEMETRY_COUNT_EXPIRED);
		return NULL;
	}

	if (!sample_keep(ev, props, ctx, &sample_rate))
	{
		telemetry_count(ev->event, ev->version, TELEMETRY_COUNT_SAMPLED_OUT);
		return NULL;
	}

	if (props_rewrite)
		props = event_redact_object(&ev->props, props, from_row, true);
	if (ctx_rewrite)
		ctx = event_redact_object(&ev->context, ctx, false, true);

	/*
	 * received_at is read after the transaction has its id, so that it is
	 * later than any xid clock sample (floor.c) taken before that id.
	 */
	(void) GetTopFullTransactionId();
	received_at = GetCurrentTimestamp();
	id = telemetry_uuid7(received_at);
	insert_event(ev, id, occurred_at, received_at, props, ctx, sample_rate, batch);
	tracked_in_xact = true;
	telemetry_count(ev->event, ev->version, TELEMETRY_COUNT_STORED);
	return id;
}

/* Common argument handling of the SQL entry points. */
static Datum
track_fmgr(FunctionCallInfo fcinfo, char *request, bool from_row)
{
	char	   *event;
	Jsonb	   *props;
	Jsonb	   *ctx;
	TimestampTz occurred_at;
	pg_uuid_t  *id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("telemetry event name must not be null"),
				 errhidestmt(true)));
	event = text_to_cstring(PG_GETARG_TEXT_PP(0));
	props = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	ctx = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	occurred_at = PG_ARGISNULL(4) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(4);

	if (props == NULL)
		props = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (ctx == NULL)
		ctx = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	id = track_event(event, request, props, ctx, occurred_at, from_row, NULL);
	if (id == NULL)
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(id);
}

/*
 * SQL: telemetry_track(event text, version text, properties jsonb,
 *                      context jsonb, occurred_at timestamptz) RETURNS uuid
 */
Datum
telemetry_track(PG_FUNCTION_ARGS)
{
	return track_fmgr(fcinfo, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
}

/* SQL: the seed's call form, with an integer version meaning that major. */
Datum
telemetry_track_int(PG_FUNCTION_ARGS)
{
	char	   *request = NULL;

	if (!PG_ARGISNULL(1))
		request = psprintf("%d", PG_GETARG_INT32(1));
	return track_fmgr(fcinfo, request, false);
}

/*
 * SQL: telemetry._track_row(...) — like telemetry_track, but properties the
 * event does not declare are dropped instead of rejected (a table row has
 * more columns than the event has properties).  Used by the trigger.
 */
Datum
telemetry_track_row(PG_FUNCTION_ARGS)
{
	return track_fmgr(fcinfo, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)), true);
}
