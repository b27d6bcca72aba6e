CREATE EXTENSION telemetry;
\getenv abs_srcdir PG_ABS_SRCDIR
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'
SELECT telemetry_load_spec(:'sigil');
SELECT event, version, spec, privacy, retention_days, sampling_rate, anomaly_detection, properties
FROM telemetry.event_catalog ORDER BY event;
DROP EXTENSION telemetry;
