/*
 * owner.c
 *		Who owns the extension, whether the current role acts as that owner,
 *		and how the extension's C entry points act as the owner.
 *
 * Privilege decisions look at the current effective user (GetUserId()):
 * inside a SECURITY DEFINER function that is the function's owner, inside a
 * security-restricted operation (an index expression evaluated by ANALYZE,
 * a materialized view refresh, ...) the owner of the table or view.  The
 * "outer" user is never used: in those operations it can be a superuser
 * while the code that runs was written by someone else.
 *
 * A SECURITY DEFINER function cannot learn who called it (GetUserId() is its
 * own owner), so an entry point that must know the caller is a plain C (or
 * SQL) function: it decides at entry, then acts as the owner through
 * telemetry_become_owner() or telemetry_call_as_owner().
 */
#include "telemetry.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(telemetry_caller_is_owner);

/* The owner of the telemetry extension, or InvalidOid when not installed. */
Oid
telemetry_extension_owner(void)
{
	Oid			owner = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("telemetry"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * The error of an entry point that needs the extension in this database
 * and finds it missing (its library called after DROP EXTENSION, or from
 * a database without it): one wording and SQLSTATE for all of them.
 */
void
telemetry_not_installed(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("extension \"telemetry\" is not installed in this database")));
}

/* The extension's owner; telemetry_not_installed() when there is none. */
Oid
telemetry_installed_owner(void)
{
	Oid			owner = telemetry_extension_owner();

	if (!OidIsValid(owner))
		telemetry_not_installed();
	return owner;
}

/*
 * Whether the current effective user has the privileges of the extension's
 * owner, outside any security-restricted operation.  This is the test for
 * everything that reveals a secret or needs the owner's approval.  Called
 * from a SECURITY DEFINER function of the extension it is always true, so
 * such functions must not use it (sql/hardening_privileges.sql checks).
 */
bool
telemetry_current_user_is_owner(void)
{
	Oid			owner;

	if (InSecurityRestrictedOperation())
		return false;
	owner = telemetry_extension_owner();
	return OidIsValid(owner) && has_privs_of_role(GetUserId(), owner);
}

/* SQL: telemetry._caller_is_owner() RETURNS boolean */
Datum
telemetry_caller_is_owner(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(telemetry_current_user_is_owner());
}

/*
 * Act as the extension's owner until telemetry_restore_user: the way
 * telemetry_track writes the tables PUBLIC cannot, without the per-call
 * cost of SECURITY DEFINER and SET search_path (about 15% of a track).
 * With pin_search_path, search_path is also pinned to pg_catalog, pg_temp
 * (for the rare catalog queries; the hot INSERT resolves no function or
 * operator).  An error in between is cleaned up by transaction abort, as
 * for SECURITY DEFINER functions.
 */
void
telemetry_become_owner(TelemetryOwnerContext *ctx, Oid owner, bool pin_search_path)
{
	GetUserIdAndSecContext(&ctx->save_user, &ctx->save_sec_context);
	SetUserIdAndSecContext(owner, ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ctx->guc_nest_level = pin_search_path ? telemetry_pin_search_path() : 0;
}

/*
 * Pin search_path to pg_catalog, pg_temp until AtEOXact_GUC(true, level)
 * with the returned level (or the end of the transaction): what C code
 * that runs SQL for a role other than its caller's choosing (a trigger
 * fired by another node, the owner's work) must resolve names under, so
 * that no function or operator a database owner planted in public runs.
 */
int
telemetry_pin_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return level;
}

/* Undo telemetry_become_owner. */
void
telemetry_restore_user(TelemetryOwnerContext *ctx)
{
	if (ctx->guc_nest_level > 0)
		AtEOXact_GUC(true, ctx->guc_nest_level);
	SetUserIdAndSecContext(ctx->save_user, ctx->save_sec_context);
}

/*
 * Act as the extension's owner, with search_path pinned, inside a new SPI
 * connection: how the C entry points that decided what they need about
 * their caller read and write the owner-only catalog.  Every query must
 * name everything with its schema.  telemetry_owner_spi_end() undoes it.
 */
void
telemetry_owner_spi_begin(TelemetryOwnerContext *ctx)
{
	telemetry_become_owner(ctx, telemetry_installed_owner(), true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/* Close the SPI connection of telemetry_owner_spi_begin and act as before. */
void
telemetry_owner_spi_end(TelemetryOwnerContext *ctx)
{
	SPI_finish();
	telemetry_restore_user(ctx);
}

/*
 * Run a one-value query as the extension's owner, with search_path pinned,
 * and return its value (copied into the caller's memory context).  This is
 * how C entry points that decided something about their caller run the
 * internal SQL function (revoked from PUBLIC) that does the work: the query
 * must name everything with its schema.
 */
Datum
telemetry_call_as_owner(const char *query, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, bool read_only,
						bool *isnull)
{
	TelemetryOwnerContext octx;
	Datum		result = (Datum) 0;
	int			ret;

	telemetry_owner_spi_begin(&octx);
	ret = SPI_execute_with_args(query, nargs, argtypes, values, nulls, read_only, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "telemetry: internal query failed: %s", SPI_result_code_string(ret));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	if (!*isnull)
	{
		Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, 0);

		result = SPI_datumTransfer(result, att->attbyval, att->attlen);
	}
	telemetry_owner_spi_end(&octx);
	return result;
}
