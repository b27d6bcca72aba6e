/*
 * hash_guard.c
 *		Keep roles that can read stored events from hashing chosen values.
 *
 * "redaction": "hash" stores HMAC-SHA256(key, value).  A role that can
 * both track and read events could track guesses (every email of a list,
 * every phone number), read their pseudonyms, compare them with stored
 * ones and roll back, leaving no trace: for low-entropy values the
 * pseudonym is then as good as the value.  So by default a session in
 * which a role that may read the stored rows (telemetry.events, its
 * default partition, the quarantine, the archive) is involved, the current
 * user or the session user or any role either may become, cannot track an
 * event in which a hash redaction applies, unless that role may become the
 * extension's owner or a superuser (who can read the key anyway).
 * A superuser can lift this with telemetry.readers_may_hash.
 *
 * The answer is cached per backend for the (current user, session user)
 * pair and forgotten when privileges on those tables change (relcache
 * invalidation) or roles and memberships change (syscache invalidation),
 * so the hot path costs two comparisons.
 */
#include "telemetry.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#define GUARD_MAX_RELS 8

static bool guard_valid = false;
static uint64 guard_generation = 0;	/* bumped by every invalidation */
static bool guard_callbacks = false;
static Oid	guard_user = InvalidOid;
static Oid	guard_session = InvalidOid;
static bool guard_answer = false;
static Oid	guard_relids[GUARD_MAX_RELS];
static int	guard_nrelids = 0;

/* A change of privileges on one of the watched tables (or of all) drops the answer. */
static void
guard_relcache_callback(Datum arg, Oid relid)
{
	/* before the tables are known (first computation), any relation counts */
	if (!OidIsValid(relid) || guard_nrelids == 0)
	{
		guard_valid = false;
		guard_generation++;
		return;
	}
	for (int i = 0; i < guard_nrelids; i++)
		if (guard_relids[i] == relid)
		{
			guard_valid = false;
			guard_generation++;
		}
}

/* Any change of roles or memberships drops the answer. */
static void
guard_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	guard_valid = false;
	guard_generation++;
}

/*
 * Compute the answer with SPI, as the extension's owner with search_path
 * pinned: whether neither role, nor any role either may become, can read
 * the stored rows, unless it may become the owner or a superuser.
 */
static bool
guard_compute(Oid user, Oid session)
{
	Oid			owner = telemetry_extension_owner();
	TelemetryOwnerContext octx;
	Oid			types[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];
	Datum		roles[2];
	bool		isnull;
	bool		answer;
	Datum		rels;
	ArrayType  *arr;
	Oid		   *relids;
	int			nrels;

	if (!OidIsValid(owner))
		return true;			/* nothing is stored without the extension */

	roles[0] = ObjectIdGetDatum(user);
	roles[1] = ObjectIdGetDatum(session);
	values[0] = PointerGetDatum(construct_array(roles, 2, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = ObjectIdGetDatum(owner);

	telemetry_become_owner(&octx, owner, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(
							  "WITH t AS (SELECT c FROM pg_catalog.unnest(ARRAY["
							  "  pg_catalog.to_regclass('telemetry.events'),"
							  "  pg_catalog.to_regclass('telemetry.events_default'),"
							  "  pg_catalog.to_regclass('telemetry.rejected_events'),"
							  "  pg_catalog.to_regclass('telemetry_archive.events')]) AS c"
							  "  WHERE c IS NOT NULL) "
							  "SELECT NOT EXISTS (SELECT FROM pg_catalog.unnest($1) AS u(r)"
							  "   WHERE NOT pg_catalog.pg_has_role(u.r, $2, 'MEMBER')"
							  "     AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles s"
							  "       WHERE s.rolsuper AND pg_catalog.pg_has_role(u.r, s.oid, 'MEMBER'))"
							  "     AND EXISTS (SELECT FROM pg_catalog.pg_roles g, t"
							  "       WHERE pg_catalog.pg_has_role(u.r, g.oid, 'MEMBER')"
							  "         AND pg_catalog.has_any_column_privilege(g.oid, t.c, 'SELECT'))),"
							  " ARRAY(SELECT c::pg_catalog.oid FROM t)",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "telemetry: could not check who may read stored events");
	answer = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	rels = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	arr = DatumGetArrayTypeP(rels);
	nrels = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	relids = (Oid *) ARR_DATA_PTR(arr);
	guard_nrelids = 0;
	for (int i = 0; i < nrels && i < GUARD_MAX_RELS; i++)
		guard_relids[guard_nrelids++] = relids[i];
	SPI_finish();
	telemetry_restore_user(&octx);
	return answer;
}

/* Whether this session may have values hashed now (see the file comment). */
bool
telemetry_may_hash(void)
{
	Oid			user = GetUserId();
	Oid			session = GetSessionUserId();
	uint64		generation;
	bool		answer;

	if (telemetry_readers_may_hash)
		return true;
	if (guard_valid && guard_user == user && guard_session == session)
		return guard_answer;

	if (!guard_callbacks)
	{
		CacheRegisterRelcacheCallback(guard_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, guard_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, guard_syscache_callback, (Datum) 0);
		guard_callbacks = true;
	}
	/* an invalidation that arrives while computing makes the answer stale */
	generation = guard_generation;
	answer = guard_compute(user, session);
	guard_answer = answer;
	guard_user = user;
	guard_session = session;
	guard_valid = (generation == guard_generation);
	return answer;
}

/* Refuse (42501) to hash values for this event when telemetry_may_hash says no. */
void
telemetry_check_may_hash(const char *event, const char *version)
{
	if (telemetry_may_hash())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("event \"%s\" %s has hash-redacted values, and this session's roles can read stored events",
					event, version),
			 errdetail("A role that can read the pseudonyms could test guessed values against them."),
			 errhint("Track it from a role without SELECT on telemetry.events, or ask a superuser about telemetry.readers_may_hash."),
			 errhidestmt(true)));
}
