-- telemetry: the background worker's status.

-- The worker's shared-memory state: one row per job.
CREATE FUNCTION telemetry._worker_status(OUT job text, OUT pid integer, OUT started_at timestamptz,
		OUT last_run timestamptz, OUT last_outcome text, OUT last_error text, OUT next_run timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'telemetry_worker_status'
	LANGUAGE C VOLATILE;

-- What the worker is doing: its pid and start time (NULL when no worker
-- runs), and per job (maintenance, anomaly, delivery) when it last ran, how
-- that went and when it runs next.
CREATE VIEW telemetry.worker_status AS
	SELECT pid, started_at, job, last_run, last_outcome, last_error, next_run
	FROM telemetry._worker_status();

REVOKE ALL ON FUNCTION telemetry._worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry._worker_status() TO pg_monitor;
GRANT SELECT ON telemetry.worker_status TO pg_monitor;
