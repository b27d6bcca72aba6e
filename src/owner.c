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
#include "utils/fmgroids.h"
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

/* SQL: telemetry._caller_is_owner() RETURNS boolean */
Datum
telemetry_caller_is_owner(PG_FUNCTION_ARGS)
{
	Oid			owner = telemetry_extension_owner();

	PG_RETURN_BOOL(OidIsValid(owner) && has_privs_of_role(GetOuterUserId(), owner));
}
