/*
 * owner.c
 *		Who owns the extension, and whether the caller acts as that owner.
 *
 * Secret values (provider keys, the redaction key) are shown only to the
 * extension's owner.  Functions that read them run as SECURITY DEFINER, so
 * the check looks at the "outer" user: the role in effect outside every
 * SECURITY DEFINER function, which SET ROLE changes but fmgr does not.
 */
#include "telemetry.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(telemetry_caller_is_owner);
PG_FUNCTION_INFO_V1(telemetry_caller);

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

/* SQL: telemetry._caller_is_owner() RETURNS boolean */
Datum
telemetry_caller_is_owner(PG_FUNCTION_ARGS)
{
	Oid			owner = telemetry_extension_owner();

	PG_RETURN_BOOL(OidIsValid(owner) && has_privs_of_role(GetOuterUserId(), owner));
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
	ctx->guc_nest_level = 0;
	if (pin_search_path)
	{
		ctx->guc_nest_level = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	}
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
 * SQL: telemetry._caller() RETURNS name
 *
 * The role that called into the extension: inside a SECURITY DEFINER
 * function current_user is the owner, so records of who did what use this.
 */
Datum
telemetry_caller(PG_FUNCTION_ARGS)
{
	char	   *name = GetUserNameFromId(GetOuterUserId(), false);

	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(name)));
}
