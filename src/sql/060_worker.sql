-- telemetry: the launcher's and the background workers' status.

-- This database's worker's shared-memory state: one row per job.
CREATE FUNCTION telemetry._worker_status(OUT job text, OUT pid integer, OUT started_at timestamptz,
		OUT last_run timestamptz, OUT last_outcome text, OUT last_error text, OUT next_run timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'telemetry_worker_status'
	LANGUAGE C VOLATILE;

-- What this database's worker is doing: its pid and start time (NULL when
-- no worker runs), and per job (maintenance, anomaly, delivery) when it last
-- ran, how that went and when it runs next.  Without a worker, every job's
-- last_outcome says why ("idle: ...").
CREATE VIEW telemetry.worker_status AS
	SELECT pid, started_at, job, last_run, last_outcome, last_error, next_run
	FROM telemetry._worker_status();

REVOKE ALL ON FUNCTION telemetry._worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry._worker_status() TO pg_monitor;
GRANT SELECT ON telemetry.worker_status TO pg_monitor;

-- The launcher's table: one row per database it knows.
CREATE FUNCTION telemetry._workers(OUT dboid oid, OUT state text, OUT pid integer,
		OUT started_at timestamptz, OUT failures integer, OUT retry_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'telemetry_workers_list'
	LANGUAGE C VOLATILE;

-- Every database of the cluster that the launcher looks at (connectable,
-- not a template), and whether a worker serves it: state is one of
-- running, starting, extension missing, not served (telemetry.max_workers),
-- not served (max_worker_processes), crash backoff (restarted at
-- retry_at), disabled (telemetry.enabled), excluded (telemetry.database),
-- unknown (not probed yet).  Empty without shared_preload_libraries.
CREATE VIEW telemetry.workers AS
	SELECT d.datname AS database, w.state, w.pid, w.started_at, w.failures, w.retry_at
	FROM telemetry._workers() w
	JOIN pg_catalog.pg_database d ON d.oid = w.dboid;

REVOKE ALL ON FUNCTION telemetry._workers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry._workers() TO pg_monitor;
GRANT SELECT ON telemetry.workers TO pg_monitor;

-- CREATE EXTENSION on a server that did not preload the library warns
-- that no worker will serve this database.
CREATE FUNCTION telemetry._warn_without_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_warn_without_worker'
	LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION telemetry._warn_without_worker() FROM PUBLIC;
SELECT telemetry._warn_without_worker();
