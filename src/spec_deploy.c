/*
 * spec_deploy.c
 *		The providers of a spec key, deployed to delivery.
 *
 * The spec key is the unit of deployment: the providers of its latest
 * version deliver the events of all its versions, each identified by the
 * key and its name, with its state (cursor, dead letters, horizon) kept
 * across versions.  When a registration or an unregistration changes which
 * version is the latest, the providers are compared by name:
 *	- kept: nothing changes (the cursor continues; the new config applies);
 *	- added: it starts at the current horizon, like every new provider (any
 *	  state left from an earlier life is removed);
 *	- dropped: it stops, and its state is removed (a later version naming
 *	  it again makes it new again).
 * Unregistering the latest version is refused while a provider it would
 * stop still has events to deliver, so unregistering loses no pending
 * event; unregistering an older version changes nothing for delivery.
 *
 * Runs inside the registration's SPI connection, as the extension's owner.
 */
#include "telemetry.h"
#include "spec_register.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

struct SpecDeployment
{
	char	   *key;
	char	   *latest;			/* NULL: no version */
	Datum		names;			/* text[] of its providers' names */
};

/* The names of a spec version's providers, as a text[] (empty for none). */
static Datum
provider_names(const char *key, const char *version, bool only_enabled)
{
	Oid			types[3] = {TEXTOID, TEXTOID, BOOLOID};
	Datum		values[3];
	bool		isnull;
	Datum		d;

	if (version == NULL)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	values[0] = CStringGetTextDatum(key);
	values[1] = CStringGetTextDatum(version);
	values[2] = BoolGetDatum(only_enabled);
	if (SPI_execute_with_args("SELECT COALESCE(array_agg(p.name ORDER BY p.name), '{}') FROM telemetry.providers p "
							  "WHERE p.spec_key = $1 AND p.spec_version = $2 AND p.type <> 'internal' "
							  "AND (p.enabled OR NOT $3)",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "telemetry: could not read telemetry.providers");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return PointerGetDatum(DatumGetArrayTypePCopy(d));
}

static bool
array_empty(Datum a)
{
	ArrayType  *arr = DatumGetArrayTypeP(a);

	return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) == 0;
}

/* Note the latest version of a key and its providers, before a change. */
SpecDeployment *
spec_deploy_begin(const char *key)
{
	SpecDeployment *d = palloc0(sizeof(SpecDeployment));

	d->key = pstrdup(key);
	d->latest = spec_latest_version(key);
	if (d->latest != NULL)
		d->latest = pstrdup(d->latest);
	d->names = provider_names(key, d->latest, false);
	return d;
}

/* The latest version noted by spec_deploy_begin (NULL: none). */
const char *
spec_deploy_latest(SpecDeployment *d)
{
	return d->latest;
}

/*
 * After a registration or an unregistration: when the key's latest version
 * changed, start the providers it adds at the current horizon and remove
 * the state of those it drops.
 */
void
spec_deploy_end(SpecDeployment *before)
{
	char	   *latest = spec_latest_version(before->key);
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];

	if ((latest == NULL && before->latest == NULL) ||
		(latest != NULL && before->latest != NULL && strcmp(latest, before->latest) == 0))
		return;
	values[0] = CStringGetTextDatum(before->key);
	values[1] = before->names;
	values[2] = provider_names(before->key, latest, false);
	if (array_empty(values[1]) && array_empty(values[2]))
		return;					/* no provider stops or starts */

	/*
	 * dropped, and added (whatever an earlier life of it left): no state,
	 * dead letters or pending alerts
	 */
	if (SPI_execute_with_args("WITH gone AS ((SELECT n FROM unnest($2) n EXCEPT SELECT n FROM unnest($3) n) "
							  "  UNION (SELECT n FROM unnest($3) n EXCEPT SELECT n FROM unnest($2) n)), "
							  "s AS (DELETE FROM telemetry.delivery_state s USING gone g "
							  "  WHERE s.spec_key = $1 AND s.provider = g.n RETURNING 1), "
							  "f AS (DELETE FROM telemetry.delivery_failures f USING gone g "
							  "  WHERE f.spec_key = $1 AND f.provider = g.n RETURNING 1), "
							  "a AS (DELETE FROM telemetry.alert_queue q USING gone g "
							  "  WHERE q.spec_key = $1 AND q.provider = g.n AND q.state = 'pending' RETURNING 1) "
							  "DELETE FROM telemetry.delivery_horizons h USING gone g "
							  "WHERE h.spec_key = $1 AND h.provider = g.n",
							  3, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "telemetry: could not remove delivery state");
	/*
	 * added: at a sample of the xid clock taken now (the events of
	 * transactions that get their id from now on are theirs, and their
	 * received_at is bounded from the start: src/floor.c)
	 */
	if (SPI_execute_with_args("INSERT INTO telemetry.delivery_horizons (spec_key, provider, horizon, floor) "
							  "SELECT $1, a.n, c.next_xid, c.at "
							  "FROM telemetry._xid_clock() c, "
							  "  (SELECT n FROM unnest($3) n EXCEPT SELECT n FROM unnest($2) n) a",
							  3, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "telemetry: could not start new providers at the horizon");
}

/*
 * Refuse to unregister a version while that would stop a provider that
 * still has events to deliver: the latest version's enabled providers that
 * the next version (the new latest) does not have, with events after their
 * cursor or requeued dead letters.  Events of transactions still running
 * are not waited for.
 */
void
spec_check_undeploy(const char *key, const char *version)
{
	char	   *latest = spec_latest_version(key);
	char	   *next = NULL;
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	Oid			vtypes[2] = {TEXTOID, TEXTOID};
	Datum		vvalues[2];

	if (latest == NULL || strcmp(latest, version) != 0)
		return;					/* an older version: delivery is unchanged */
	latest = pstrdup(latest);
	vvalues[0] = CStringGetTextDatum(key);
	vvalues[1] = CStringGetTextDatum(version);
	if (SPI_execute_with_args("SELECT version FROM telemetry.specs WHERE key = $1 AND version <> $2 "
							  "ORDER BY version_key DESC, version DESC LIMIT 1",
							  2, vtypes, vvalues, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.specs");
	if (SPI_processed == 1)
		next = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));

	values[0] = CStringGetTextDatum(key);
	values[1] = provider_names(key, latest, true);
	values[2] = provider_names(key, next, false);
	/* the reader's scan (src/floor.c): partitions from a day before the floor on */
	if (SPI_execute_with_args("SELECT g.n, COALESCE(s.delivered, 0) "
							  "FROM (SELECT n FROM unnest($2) n EXCEPT SELECT n FROM unnest($3) n) g "
							  "LEFT JOIN telemetry.delivery_state s ON s.spec_key = $1 AND s.provider = g.n "
							  "LEFT JOIN telemetry.delivery_horizons h ON h.spec_key = $1 AND h.provider = g.n, "
							  "LATERAL (SELECT COALESCE(s.cursor_xid, h.horizon, '0') AS x, "
							  "  COALESCE(s.cursor_id, '00000000-0000-0000-0000-000000000000') AS id, "
							  "  COALESCE(s.floor, h.floor, '-infinity') AS floor) c "
							  "WHERE EXISTS (SELECT 1 FROM telemetry.events e WHERE e.spec = $1 AND e.xid >= c.x "
							  "    AND (e.xid, e.id) > (c.x, c.id) "
							  "    AND e.occurred_at >= CASE WHEN isfinite(c.floor) THEN c.floor - interval '24 hours' ELSE c.floor END "
							  "    AND NOT telemetry._is_late(e.occurred_at, e.received_at)) "
							  "  OR EXISTS (SELECT 1 FROM telemetry.late_events l WHERE l.spec = $1 AND l.xid >= c.x "
							  "    AND (l.xid, l.id) > (c.x, c.id)) "
							  "  OR EXISTS (SELECT 1 FROM telemetry.delivery_failures f "
							  "    WHERE f.spec_key = $1 AND f.provider = g.n AND f.state = 'retry') "
							  "ORDER BY g.n LIMIT 1",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read the delivery backlog");
	if (SPI_processed == 1)
	{
		char	   *provider = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("spec \"%s@%s\" cannot be unregistered while provider \"%s/%s\" has events to deliver",
						key, version, key, provider),
				 next ? errdetail("It is the latest version of \"%s\"; %s, the latest after it, has no provider \"%s\", which would stop.",
								  key, next, provider)
				 : errdetail("It is the only version of \"%s\": its provider \"%s\" would stop.", key, provider),
				 errhint("Wait until telemetry.delivery_status shows nothing pending for \"%s/%s\", "
						 "register a version that keeps the provider, or disable it first "
						 "(UPDATE telemetry.providers SET enabled = false) to leave its events.",
						 key, provider),
				 errhidestmt(true)));
	}
}
