/*
 * guc.c
 *		The extension's configuration parameters.
 *
 * All of them live here so that doc/reference.md's table of settings has
 * one source to check against (t/095_reference.pl compares it with
 * pg_settings).  Postmaster-level ones only take effect when the library is
 * in shared_preload_libraries.
 */
#include "telemetry.h"
#include "destination.h"

#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/varlena.h"

bool		telemetry_enabled = true;
char	   *telemetry_database = NULL;
int			telemetry_max_workers = 4;
int			telemetry_rescan_interval = 300;
int			telemetry_maintenance_interval = 60;
int			telemetry_premake_days = 7;
int			telemetry_default_retention_days = 30;
int			telemetry_history_retention_days = 30;
int			telemetry_max_event_bytes = 32 * 1024;
int			telemetry_on_invalid = TELEMETRY_ON_INVALID_ERROR;
int			telemetry_anomaly_interval = 10000;
int			telemetry_batch_size = 100;
int			telemetry_max_parallel_requests = 4;
int			telemetry_http_timeout = 10000;
int			telemetry_max_delivery_age = 24 * 3600;
int			telemetry_max_tracked_events = 1000;
int			telemetry_lock_timeout = 5000;
int			telemetry_max_backdate_days = 7;
int			telemetry_insert_path = TELEMETRY_INSERT_AUTO;
int			telemetry_max_batch_events = 1000;
int			telemetry_max_batch_bytes = 4 * 1024 * 1024;
char	   *telemetry_context = NULL;

/* anomaly checks: bounds on what a spec can make a check cost */
int			telemetry_anomaly_max_window = 7 * 24 * 3600;
int			telemetry_anomaly_min_interval = 1000;
int			telemetry_anomaly_batch_size = 10000;
int			telemetry_anomaly_max_aggregates = 8;
int			telemetry_anomaly_max_aggregate_rows = 1000000;
bool		telemetry_anomaly_notify = true;

/* catalog and privacy checks (H-catalog) */
char	   *telemetry_allowed_env = NULL;
bool		telemetry_readers_may_hash = false;

static const struct config_enum_entry insert_path_options[] = {
	{"auto", TELEMETRY_INSERT_AUTO, false},
	{"executor", TELEMETRY_INSERT_EXECUTOR, false},
	{NULL, 0, false}
};
/* delivery (H-delivery) */
int			telemetry_delivery_pass_bytes = 32 * 1024 * 1024;

/* tracking (H-track) */
int			telemetry_delivery_interval = 1000;

static const struct config_enum_entry on_invalid_options[] = {
	{"error", TELEMETRY_ON_INVALID_ERROR, false},
	{"quarantine", TELEMETRY_ON_INVALID_QUARANTINE, false},
	{NULL, 0, false}
};

/* telemetry.database must be a list of names. */
static bool
check_database_list(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitIdentifierString(raw, ',', &names);

	list_free(names);
	pfree(raw);
	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	return ok;
}

/*
 * Define every GUC.  Called from _PG_init in every process that loads the
 * library, so the values are known to backends and the worker alike.
 */
void
telemetry_define_gucs(void)
{
	DefineCustomBoolVariable("telemetry.enabled",
							 "Whether the telemetry worker runs its jobs.",
							 NULL, &telemetry_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	/* the launcher and its database workers (worker*.c) */
	DefineCustomStringVariable("telemetry.database",
							   "Databases the telemetry workers serve (comma-separated names); empty: every database with the extension.",
							   NULL, &telemetry_database, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_database_list, NULL, NULL);
	/* PostgreSQL refuses (FATAL) server-start GUCs defined after startup */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("telemetry.max_workers",
								"Most databases served by a telemetry worker at once.",
								"Counted against max_worker_processes, with the launcher and one probe.",
								&telemetry_max_workers, 4, 1, 1024,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.rescan_interval",
							"Time between the launcher's scans for databases with the extension.",
							NULL, &telemetry_rescan_interval, 300, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.maintenance_interval",
							"Time between partition and retention maintenance runs.",
							NULL, &telemetry_maintenance_interval, 60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.premake_days",
							"Days of partitions created ahead of time.",
							NULL, &telemetry_premake_days, 7, 1, 365,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.default_retention_days",
							"Retention of events whose spec declares none.",
							NULL, &telemetry_default_retention_days, 30, 1, 36500,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.history_retention_days",
							"Retention of rejected events, anomalies and delivery history.",
							NULL, &telemetry_history_retention_days, 30, 1, 36500,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_event_bytes",
							"Largest event (properties plus context) that is accepted.",
							NULL, &telemetry_max_event_bytes, 32 * 1024, 256, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomEnumVariable("telemetry.on_invalid",
							 "What telemetry_track does with an invalid event: error or quarantine.",
							 NULL, &telemetry_on_invalid, TELEMETRY_ON_INVALID_ERROR,
							 on_invalid_options, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.anomaly_interval",
							"Time between anomaly checks.",
							NULL, &telemetry_anomaly_interval, 10000, 100, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.batch_size",
							"Most events sent to a provider in one request.",
							NULL, &telemetry_batch_size, 100, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_parallel_requests",
							"Most HTTP requests the worker has in flight at once.",
							NULL, &telemetry_max_parallel_requests, 4, 1, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.http_timeout",
							"Timeout of one HTTP request to a provider.",
							NULL, &telemetry_http_timeout, 10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_delivery_age",
							"How long failed deliveries are retried before they are dead-lettered.",
							NULL, &telemetry_max_delivery_age, 24 * 3600, 1, 30 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("telemetry.max_tracked_events",
								"Most distinct event versions whose counters are kept in shared memory.",
								NULL, &telemetry_max_tracked_events, 1000, 100, 100000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.lock_timeout",
							"lock_timeout used by maintenance DDL.",
							NULL, &telemetry_lock_timeout, 5000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_backdate_days",
							"How many days before today roles other than the extension's owner may date events.",
							"Older occurred_at values are refused (or quarantined); the owner is not limited.",
							&telemetry_max_backdate_days, 7, 0, 36500,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("telemetry.insert_path",
							 "How telemetry_track stores rows: auto (directly where the table allows) or executor.",
							 "auto inserts into the partition without the executor when telemetry.events is a plain local partitioned table; executor always runs an INSERT.",
							 &telemetry_insert_path, TELEMETRY_INSERT_AUTO,
							 insert_path_options, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_batch_events",
							"Most events telemetry_track_batch accepts in one call.",
							NULL, &telemetry_max_batch_events, 1000, 1, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.max_batch_bytes",
							"Largest events argument telemetry_track_batch accepts.",
							NULL, &telemetry_max_batch_bytes, 4 * 1024 * 1024, 1024, 256 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("telemetry.context",
							   "JSON object used as the context of events tracked by telemetry_track_trigger.",
							   NULL, &telemetry_context, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

	/*
	 * Anomaly checks.  Superuser only: they bound what a spec admin can make
	 * the worker do, whatever a spec says.
	 */
	DefineCustomIntVariable("telemetry.anomaly_max_window",
							"Longest window of an aggregate anomaly threshold.",
							"Checked at registration and again at every check.",
							&telemetry_anomaly_max_window, 7 * 24 * 3600, 1, 366 * 24 * 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.anomaly_min_interval",
							"Shortest time between two anomaly checks of an event version.",
							"A spec's checkIntervalMs below it is raised to it.",
							&telemetry_anomaly_min_interval, 1000, 100, 86400000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.anomaly_batch_size",
							"Most new events of one event version evaluated by one anomaly check.",
							NULL, &telemetry_anomaly_batch_size, 10000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.anomaly_max_aggregates",
							"Most aggregate thresholds of one event version evaluated by one anomaly check.",
							"When an event version has more, successive checks take turns.",
							&telemetry_anomaly_max_aggregates, 8, 1, 64,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.anomaly_max_aggregate_rows",
							"Most events in the window of one aggregate threshold that a check evaluates.",
							"A threshold whose window holds more is not evaluated and is reported.",
							&telemetry_anomaly_max_aggregate_rows, 1000000, 1, 1000000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("telemetry.anomaly_notify",
							 "Whether the alert and trigger_regen actions send NOTIFY.",
							 NULL, &telemetry_anomaly_notify, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	/* catalog and privacy checks (H-catalog) */
	DefineCustomStringVariable("telemetry.allowed_env",
							   "Server environment variables that specs may reference as {\"env\": NAME}.",
							   "A comma-separated list of variable names; empty (the default) allows none.",
							   &telemetry_allowed_env, "",
							   PGC_SIGHUP, 0,
							   telemetry_allowed_env_check, NULL, NULL);
	DefineCustomBoolVariable("telemetry.readers_may_hash",
							 "Whether roles that can read stored events may track events with hash-redacted values.",
							 "Off by default: such a role could test guesses against the pseudonyms.",
							 &telemetry_readers_may_hash, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	/* delivery (H-delivery): destination policy and memory of a pass */
	DefineCustomStringVariable("telemetry.allowed_destinations",
							   "Host names, IP addresses and CIDR ranges of private, loopback and other non-public destinations providers may send to.",
							   "Public addresses are always allowed; a listed host name allows that name whatever it resolves to.",
							   &telemetry_allowed_destinations, "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   destination_check_hook, destination_assign_hook, NULL);
	DefineCustomIntVariable("telemetry.delivery_pass_bytes",
							"Most bytes of rendered events one delivery pass holds, counted while it reads.",
							NULL, &telemetry_delivery_pass_bytes, 32 * 1024 * 1024,
							1024 * 1024, 1024 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);

	/* delivery polling */
	DefineCustomIntVariable("telemetry.delivery_interval",
							"Longest time between two delivery passes of the worker; commits of tracking transactions wake it sooner.",
							NULL, &telemetry_delivery_interval, 1000, 100, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	MarkGUCPrefixReserved("telemetry");
}
