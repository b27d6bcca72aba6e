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
