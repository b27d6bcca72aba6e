-- telemetry: partition upkeep and retention (run by the worker and from SQL).

-- One maintenance run as of a given time; returns what it did.
CREATE FUNCTION telemetry_run_maintenance(as_of timestamptz DEFAULT now()) RETURNS jsonb
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	d date;
	created text[] := '{}';
BEGIN
	FOR d IN SELECT generate_series((as_of AT TIME ZONE 'UTC')::date,
			(as_of AT TIME ZONE 'UTC')::date + current_setting('telemetry.premake_days')::integer, '1 day')::date LOOP
		IF telemetry._ensure_partition(d) THEN
			created := created || telemetry._partition_name(d);
		END IF;
	END LOOP;
	RETURN jsonb_build_object('created', to_jsonb(created));
END
$$;
REVOKE ALL ON FUNCTION telemetry_run_maintenance(timestamptz) FROM PUBLIC;
