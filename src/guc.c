/*
 * guc.c
 *		The extension's configuration parameters.
 *
 * All of them live here so the README's GUC table has one source to check
 * against.  Postmaster-level ones only take effect when the library is in
 * shared_preload_libraries.
 */
#include "telemetry.h"

#include "destination.h"
#include "utils/guc.h"

bool		telemetry_enabled = true;
char	   *telemetry_database = NULL;
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
char	   *telemetry_context = NULL;

/* delivery (H-delivery) */
int			telemetry_delivery_pass_bytes = 32 * 1024 * 1024;

static const struct config_enum_entry on_invalid_options[] = {
	{"error", TELEMETRY_ON_INVALID_ERROR, false},
	{"quarantine", TELEMETRY_ON_INVALID_QUARANTINE, false},
	{NULL, 0, false}
};

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
	DefineCustomStringVariable("telemetry.database",
							   "Database the telemetry worker connects to.",
							   NULL, &telemetry_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
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
	DefineCustomIntVariable("telemetry.max_tracked_events",
							"Most distinct event versions whose counters are kept in shared memory.",
							NULL, &telemetry_max_tracked_events, 1000, 100, 100000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("telemetry.lock_timeout",
							"lock_timeout used by maintenance DDL.",
							NULL, &telemetry_lock_timeout, 5000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("telemetry.context",
							   "JSON object used as the context of events tracked by telemetry_track_trigger.",
							   NULL, &telemetry_context, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

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

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("telemetry");
#else
	EmitWarningsOnPlaceholders("telemetry");
#endif
}
