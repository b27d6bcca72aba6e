/*
 * telemetry.h
 *		Declarations shared by the telemetry extension's C files.
 */
#ifndef TELEMETRY_H
#define TELEMETRY_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

/*
 * PostgreSQL 15 is the oldest version supported: the shared memory request
 * hook and the SQL the extension installs need it.  Version guards in the C
 * files are for newer versions only.
 */
#if PG_VERSION_NUM < 150000
#error "telemetry requires PostgreSQL 15 or later"
#endif

/* GUCs (guc.c) */
extern bool telemetry_enabled;
extern char *telemetry_database;	/* filter: databases served, "" = all */
extern int	telemetry_max_workers;
extern int	telemetry_rescan_interval;	/* seconds */
extern int	telemetry_maintenance_interval;	/* seconds */
extern int	telemetry_premake_days;
extern int	telemetry_default_retention_days;
extern int	telemetry_history_retention_days;
extern int	telemetry_max_event_bytes;
extern int	telemetry_on_invalid;
extern int	telemetry_anomaly_interval;	/* milliseconds */
extern int	telemetry_batch_size;
extern int	telemetry_max_parallel_requests;
extern int	telemetry_http_timeout;	/* milliseconds */
extern int	telemetry_max_delivery_age;	/* seconds */
extern int	telemetry_max_tracked_events;
extern int	telemetry_lock_timeout;	/* milliseconds */
extern int	telemetry_max_backdate_days;
extern int	telemetry_insert_path;
extern int	telemetry_max_batch_events;
extern int	telemetry_max_batch_bytes;
extern char *telemetry_context;

/* anomaly check bounds (guc.c), read by the SQL of 070_anomaly.sql */
extern int	telemetry_anomaly_max_window;	/* seconds */
extern int	telemetry_anomaly_min_interval;	/* milliseconds */
extern int	telemetry_anomaly_batch_size;
extern int	telemetry_anomaly_max_aggregates;
extern int	telemetry_anomaly_max_aggregate_rows;
extern bool telemetry_anomaly_notify;
/* delivery (H-delivery) */
extern int	telemetry_delivery_pass_bytes;
/* tracking (H-track) */
extern int	telemetry_delivery_interval;	/* milliseconds */

#define TELEMETRY_ON_INVALID_ERROR		0
#define TELEMETRY_ON_INVALID_QUARANTINE	1

#define TELEMETRY_INSERT_AUTO		0
#define TELEMETRY_INSERT_EXECUTOR	1

extern void telemetry_define_gucs(void);

/* worker_launcher.c */
extern void telemetry_worker_register(void);

/* delivery.c */
extern int	telemetry_delivery_worker_pass(bool *more, bool *none_due);

/* uuid7.c */
struct pg_uuid_t;
extern struct pg_uuid_t *telemetry_uuid7(TimestampTz now);

/* owner.c */
typedef struct TelemetryOwnerContext
{
	Oid			save_user;
	int			save_sec_context;
	int			guc_nest_level;
} TelemetryOwnerContext;

extern Oid	telemetry_extension_owner(void);
extern void telemetry_not_installed(void) pg_attribute_noreturn();
extern Oid	telemetry_installed_owner(void);
extern bool telemetry_current_user_is_owner(void);
extern void telemetry_become_owner(TelemetryOwnerContext *ctx, Oid owner,
								   bool pin_search_path);
extern int	telemetry_pin_search_path(void);
extern void telemetry_restore_user(TelemetryOwnerContext *ctx);
extern void telemetry_owner_spi_begin(TelemetryOwnerContext *ctx);
extern void telemetry_owner_spi_end(TelemetryOwnerContext *ctx);
extern Datum telemetry_call_as_owner(const char *query, int nargs, Oid *argtypes,
									 Datum *values, const char *nulls,
									 bool read_only, bool *isnull);

/* GUCs of the catalog and privacy checks (guc.c, H-catalog) */
extern char *telemetry_allowed_env;
extern bool telemetry_readers_may_hash;

/* secret_policy.c: telemetry.allowed_env */
extern bool telemetry_env_allowed(const char *name);
extern bool telemetry_allowed_env_check(char **newval, void **extra, GucSource source);

/* hash_guard.c: the hash-pseudonym oracle */
extern bool telemetry_may_hash(void);
extern void telemetry_check_may_hash(const char *event, const char *version);

/* semver.c */
extern bool semver_is_valid(const char *s);
extern bytea *semver_sort_key(const char *s);

#endif							/* TELEMETRY_H */
