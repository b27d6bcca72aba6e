-- The anomaly views respect the event's privacy (issue 10, finding 17):
-- roles other than the extension's owner and the documented reader (a role
-- with SELECT on telemetry.events) see no anomaly of an event whose privacy
-- is not public (its values, and which thresholds fired, would tell them
-- what it stored).  The table
-- itself is the owner's.  The decision is on the role in force, so a
-- SECURITY DEFINER function of an ordinary role sees what that role sees,
-- whoever calls it.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_run_maintenance() IS NOT NULL AS partitions;
SELECT telemetry_register_spec('{
  "meta": {"key": "priv.spec", "version": "1.0.0"},
  "events": [
    {"key": "pay.salary", "version": "1.0.0", "semantics": {"what": "A salary was paid"}, "privacy": "pii",
     "properties": {"amount": {"type": "number"}},
     "anomalyDetection": {"enabled": true, "thresholds": [
       {"metric": "amount", "max": 100000},
       {"metric": "amount", "aggregate": "max", "window": "1 hour", "max": 100000}]}},
    {"key": "page.latency", "version": "1.0.0", "semantics": {"what": "A page was served"}, "privacy": "public",
     "properties": {"ms": {"type": "number"}},
     "anomalyDetection": {"enabled": true, "thresholds": [{"metric": "ms", "max": 1000}]}}
  ]
}');
SELECT telemetry_track('pay.salary', '1.0.0', '{"amount": 183250.75}') IS NOT NULL AS tracked;
SELECT telemetry_track('page.latency', '1.0.0', '{"ms": 2500}') IS NOT NULL AS tracked;
SELECT telemetry_check_anomalies();

CREATE ROLE regress_anom_nobody;
CREATE ROLE regress_anom_reader;
GRANT SELECT ON telemetry.events TO regress_anom_reader;
CREATE ROLE regress_anom_member IN ROLE regress_anom_reader;

CREATE FUNCTION pg_temp.seen() RETURNS TABLE (id bigint, event text, privacy text, observed float8, sample_size bigint,
	first_id boolean, first_at boolean, last_id boolean, last_at boolean)
	LANGUAGE sql AS $$
	SELECT id, event, privacy, observed, sample_size, first_event_id IS NOT NULL, first_event_at IS NOT NULL,
		last_event_id IS NOT NULL, last_event_at IS NOT NULL
	FROM telemetry.anomaly_history ORDER BY id
$$;

-- the owner (a superuser here) sees every value
SELECT * FROM pg_temp.seen();

-- PUBLIC: values of the public event only; the table is not readable
SET ROLE regress_anom_nobody;
SELECT * FROM pg_temp.seen();
SELECT id, observed, first_event_id IS NULL AS no_id FROM telemetry.open_anomalies ORDER BY id;
SELECT event, metric, open, worst_high FROM telemetry.anomaly_summary ORDER BY event, metric;
SELECT count(*) FROM telemetry.anomalies;
-- a filter on the view sees only what the view shows
SELECT count(*) AS salaries_above_150k FROM telemetry.anomaly_history WHERE observed > 150000;
RESET ROLE;

-- the documented reader, and a member of it, see the values
SET ROLE regress_anom_reader;
SELECT * FROM pg_temp.seen();
SELECT event, metric, worst_high FROM telemetry.anomaly_summary ORDER BY event, metric;
RESET ROLE;
SET ROLE regress_anom_member;
SELECT id, observed FROM telemetry.anomaly_history ORDER BY id;
RESET ROLE;

-- A SECURITY DEFINER function of the ordinary role runs as that role:
-- called by the superuser, it still sees no value of the pii event.
CREATE FUNCTION public.regress_nobody_reads() RETURNS TABLE (event text, observed float8)
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT event, observed FROM telemetry.anomaly_history ORDER BY id $$;
ALTER FUNCTION public.regress_nobody_reads() OWNER TO regress_anom_nobody;
SELECT * FROM public.regress_nobody_reads();
DROP FUNCTION public.regress_nobody_reads();

-- each anomaly carries its event's privacy, as it was when detected
SELECT event, privacy FROM telemetry.anomalies ORDER BY id;

DROP EXTENSION telemetry;
DROP ROLE regress_anom_member;
DROP ROLE regress_anom_reader;
DROP ROLE regress_anom_nobody;
