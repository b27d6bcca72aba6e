/*
 * maintenance.c
 *		telemetry_run_maintenance(): the SQL entry point of a maintenance run.
 *
 * A run as of a far-future time drops partitions still within retention,
 * and one as of infinity never ends, so as_of is checked here, where the
 * caller is still known: a SECURITY DEFINER function would only see its
 * owner.  The run itself (telemetry._run_maintenance) then executes as the
 * extension's owner with search_path pinned.
 */
#include "telemetry.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(telemetry_run_maintenance);

/* How far from now a role other than the owner may set as_of. */
#define MAINTENANCE_AS_OF_SLACK USECS_PER_DAY

/*
 * SQL: telemetry_run_maintenance(as_of timestamptz DEFAULT now()) RETURNS jsonb
 */
Datum
telemetry_run_maintenance(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Oid			owner = telemetry_extension_owner();
	TelemetryOwnerContext octx;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	bool		isnull;
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be null")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("as_of must be a finite time")));
	if (!OidIsValid(owner))
		telemetry_not_installed();
	if ((as_of > now + MAINTENANCE_AS_OF_SLACK || as_of < now - MAINTENANCE_AS_OF_SLACK) &&
		(InSecurityRestrictedOperation() || !has_privs_of_role(GetUserId(), owner)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("as_of must be within a day of now"),
				 errdetail("Only the owner of extension telemetry may run maintenance as of another time.")));

	args[0] = TimestampTzGetDatum(as_of);
	telemetry_become_owner(&octx, owner, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT telemetry._run_maintenance($1)", 1, argtypes, args,
							  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "telemetry maintenance run failed");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* copied out of SPI's memory, which SPI_finish frees */
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	telemetry_restore_user(&octx);
	PG_RETURN_DATUM(result);
}
