/*
 * spec_read.c
 *		Reading the catalog: telemetry_spec() and telemetry_event_def().
 *
 * Both are plain C functions (not SECURITY DEFINER: such a function cannot
 * know its caller) that read the owner-only catalog tables as the
 * extension's owner with search_path pinned.  telemetry_spec() shows
 * secrets only when the current effective user has the owner's privileges
 * and no security-restricted operation is running (an index expression run
 * by ANALYZE, a materialized view refresh, a SECURITY DEFINER function of
 * another role: the code there is not the owner's); to everyone else the
 * document is masked (spec_provider.c).
 */
#include "telemetry.h"
#include "spec_provider.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(telemetry_spec);
PG_FUNCTION_INFO_V1(telemetry_event_def);

/*
 * Run a one-row, one-column catalog query as the owner; the value is
 * copied into the caller's context.  Returns false when there is no row.
 */
static bool
read_one(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, Jsonb **result)
{
	MemoryContext caller = CurrentMemoryContext;
	TelemetryOwnerContext octx;
	bool		found = false;

	telemetry_owner_spi_begin(&octx);
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read the catalog");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		*result = isnull ? NULL : DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spi);
		found = true;
	}
	telemetry_owner_spi_end(&octx);
	return found;
}

/*
 * SQL: telemetry_spec(key text, version text DEFAULT NULL) RETURNS jsonb
 *
 * A registered spec document: the highest version matching the request
 * (NULL: any; '1' or '1.2': that major or major.minor; else exact).
 */
Datum
telemetry_spec(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Jsonb	   *doc = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	if (!read_one("SELECT s.document FROM telemetry.specs s "
				  "WHERE s.key = $1 AND telemetry._version_matches(s.version, $2) "
				  "ORDER BY s.version_key DESC, s.version DESC LIMIT 1",
				  2, types, values, nulls, &doc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("telemetry spec \"%s%s%s\" not found", TextDatumGetCString(values[0]),
						PG_ARGISNULL(1) ? "" : "@", PG_ARGISNULL(1) ? "" : TextDatumGetCString(values[1]))));
	if (!telemetry_current_user_is_owner())
		doc = spec_mask_secrets(doc);
	PG_RETURN_JSONB_P(doc);
}

/*
 * SQL: telemetry_event_def(event text, version text DEFAULT NULL) RETURNS jsonb
 *
 * An event version's normalized definition, plus its spec (the governing
 * version, key@version) and its effective retention and sampling rate.
 */
Datum
telemetry_event_def(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Jsonb	   *def = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = Int32GetDatum(telemetry_default_retention_days);
	if (!read_one("SELECT e.definition || jsonb_build_object("
				  "  'spec', e.spec_key || '@' || e.spec_version, "
				  "  'effectiveRetentionDays', "
				  "    telemetry._effective_retention_days(e.retention_days, s.default_retention_days, $3), "
				  "  'effectiveSamplingRate', telemetry._effective_sampling_rate(e.sampling_rate, s.default_sampling_rate)) "
				  "FROM telemetry._resolve_event($1, $2) e "
				  "JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version",
				  3, types, values, nulls, &def))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("telemetry event \"%s%s%s\" not found", TextDatumGetCString(values[0]),
						PG_ARGISNULL(1) ? "" : "@", PG_ARGISNULL(1) ? "" : TextDatumGetCString(values[1]))));
	PG_RETURN_JSONB_P(def);
}
