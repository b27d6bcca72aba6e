-- Set-up shared by the sql/track_*.sql tests (included with \i).
CREATE EXTENSION telemetry;
-- counters live in shared memory and outlive DROP EXTENSION: start from zero
SELECT telemetry_reset_stats() IS NULL AS fresh_counters;
\set SHOW_CONTEXT never
\set spec :abs_srcdir '/test/track-spec.json'
SELECT telemetry_load_spec(:'spec');
SELECT telemetry_run_maintenance() IS NOT NULL AS premade;
