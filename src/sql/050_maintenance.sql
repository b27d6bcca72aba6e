-- telemetry: partition upkeep and retention (run by the worker and from SQL).
--
-- A maintenance run is a list of small steps, each safe to commit on its
-- own: the worker runs every step in its own transaction (commit per
-- partition, per batch); telemetry_run_maintenance() runs the same steps in
-- the caller's transaction.  Days are UTC days throughout.

-- Expired events with retention.policy = "archive" are moved here, out of
-- telemetry.events and so out of every view built on it.  Created by the
-- install script, so DROP EXTENSION removes the schema and its rows;
-- pg_dump keeps the rows (config table).
CREATE SCHEMA telemetry_archive;
COMMENT ON SCHEMA telemetry_archive IS 'expired events kept by retention policy "archive"';
CREATE TABLE telemetry_archive.events (
	LIKE telemetry.events,
	archived_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON telemetry_archive.events (event, version, occurred_at);
SELECT pg_catalog.pg_extension_config_dump('telemetry_archive.events', '');

-- History tables the extension writes, trimmed by
-- telemetry.history_retention_days: rows whose time_column falls on a UTC
-- day more than that many days before as_of are deleted (only in tables the
-- extension's owner owns).  Later features
-- add their tables here from their own install fragments.  Names, not
-- regclass: pg_upgrade refuses reg* columns in user tables.
CREATE TABLE telemetry.history_tables (
	schema_name name NOT NULL,
	table_name name NOT NULL,
	time_column name NOT NULL,
	PRIMARY KEY (schema_name, table_name)
);
INSERT INTO telemetry.history_tables VALUES ('telemetry', 'rejected_events', 'rejected_at');

-- Rows touched by one retention or history step: bounds the time a step
-- holds its transaction open and the WAL it writes between commits.
CREATE FUNCTION telemetry._maintenance_batch_size() RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT 10000 $$;

-- Start (UTC midnight) of the first day still kept by a retention of
-- "days" days as of as_of: an event is expired when occurred_at is before
-- it, i.e. when its UTC day is more than "days" days before as_of's UTC day.
CREATE FUNCTION telemetry._retention_cutoff(as_of timestamptz, days integer) RETURNS timestamptz
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT (((as_of AT TIME ZONE 'UTC')::date - days)::timestamp AT TIME ZONE 'UTC') $$;

-- An integer GUC of the extension, with a fallback when the library is not
-- loaded in this backend (the GUC is then unknown).
CREATE FUNCTION telemetry._guc_int(name text, fallback integer) RETURNS integer
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT coalesce(nullif(current_setting(name, true), '')::integer, fallback) $$;

-- Retention of an event version by the one rule
-- (telemetry._effective_retention_days) with telemetry.default_retention_days
-- as the global default (also for events no longer in the catalog); policy
-- "delete" unless it says "archive".
CREATE FUNCTION telemetry._event_retention(event text, version text,
		OUT days integer, OUT policy text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT telemetry._effective_retention_days(d.retention_days, s.default_retention_days,
					telemetry._guc_int('telemetry.default_retention_days', 30)),
		   coalesce(d.retention_policy, 'delete')
	FROM (SELECT) AS one
	LEFT JOIN telemetry.event_defs d ON d.event = $1 AND d.version = $2
	LEFT JOIN telemetry.specs s ON s.key = d.spec_key AND s.version = d.spec_version
$$;

-- Shortest retention any stored event can have: partitions entirely newer
-- than its cutoff hold nothing to expire and are not even looked at.
CREATE FUNCTION telemetry._min_retention_days() RETURNS integer
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT least(telemetry._guc_int('telemetry.default_retention_days', 30),
				 (SELECT min(telemetry._effective_retention_days(d.retention_days, s.default_retention_days,
									  telemetry._guc_int('telemetry.default_retention_days', 30)))
				  FROM telemetry.event_defs d
				  JOIN telemetry.specs s ON s.key = d.spec_key AND s.version = d.spec_version))
$$;

-- The distinct (event, version) pairs stored in one partition, read with a
-- skip scan of the (event, version, occurred_at) index: one index descent
-- per pair, never a scan of the partition.  With their retention and the
-- cutoff it implies as of as_of.
CREATE FUNCTION telemetry._partition_pairs(part regclass, as_of timestamptz,
		OUT event text, OUT version text, OUT days integer, OUT policy text, OUT cutoff timestamptz)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
BEGIN
	FOR r IN EXECUTE format($q$
		WITH RECURSIVE pairs AS (
			(SELECT e.event, e.version FROM %1$s e ORDER BY e.event, e.version LIMIT 1)
			UNION ALL
			SELECT n.event, n.version
			FROM pairs p, LATERAL (
				SELECT e.event, e.version FROM %1$s e
				WHERE (e.event, e.version) > (p.event, p.version)
				ORDER BY e.event, e.version LIMIT 1) n)
		SELECT event, version FROM pairs$q$, part)
	LOOP
		event := r.event;
		version := r.version;
		SELECT x.days, x.policy INTO days, policy FROM telemetry._event_retention(r.event, r.version) x;
		cutoff := telemetry._retention_cutoff(as_of, days);
		RETURN NEXT;
	END LOOP;
END
$$;

-- The steps of one maintenance phase as of as_of.
-- Phase 1: partitions that may hold expired rows (entirely in the past,
-- both of now() and of as_of, and older than the shortest retention's
-- cutoff), oldest first; then each history table, then the copies of late
-- events that every reader has passed.
-- Phase 2: partitions to ensure: every UTC day with rows waiting in
-- events_default (late or back-dated events; their expired rows are removed
-- as they are drained, see _partition_step), then as_of's day through
-- telemetry.premake_days ahead.
-- Retention comes first so that a run in one transaction locks the parent
-- (to drop a partition) before the default partition (to drain it), the
-- order telemetry_track locks them in; the other order can deadlock with a
-- tracking transaction.
CREATE FUNCTION telemetry._maintenance_plan(as_of timestamptz, phase integer,
		OUT kind text, OUT target text)
	RETURNS SETOF record
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	as_of_day date := (as_of AT TIME ZONE 'UTC')::date;
	today timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
	IF phase = 2 THEN
		RETURN QUERY
			SELECT 'partition', d::text
			FROM (SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS d FROM telemetry.events_default
				  UNION
				  SELECT generate_series(as_of_day,
										 as_of_day + telemetry._guc_int('telemetry.premake_days', 7),
										 interval '1 day')::date) days
			ORDER BY d;
	ELSIF phase = 1 THEN
		RETURN QUERY
			SELECT 'retention', p.part::text
			FROM telemetry._event_partitions() p
			WHERE p.hi <= least(today, telemetry._retention_cutoff(as_of, 0))
			  AND p.lo < telemetry._retention_cutoff(as_of, telemetry._min_retention_days())
			ORDER BY p.lo;
		RETURN QUERY
			SELECT 'history', format('%I.%I', h.schema_name, h.table_name)
			FROM telemetry.history_tables h
			WHERE to_regclass(format('%I.%I', h.schema_name, h.table_name)) IS NOT NULL
			ORDER BY h.schema_name, h.table_name;
		RETURN QUERY SELECT 'late', 'telemetry.late_events';
	END IF;
END
$$;

-- Retention of one partition as of as_of.  When every pair it holds is
-- expired for the whole partition (and no archive rows are left) it is
-- dropped whole: parent locked first, under telemetry.lock_timeout, and the
-- decision re-checked under that lock.  Otherwise expired rows are deleted
-- (or moved to telemetry_archive.events) through the index, at most one
-- batch per call; "more" says another call is needed.
CREATE FUNCTION telemetry._retention_step(part regclass, as_of timestamptz) RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	b record;
	r record;
	today timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	budget integer := telemetry._maintenance_batch_size();
	whole boolean := true;
	n bigint;
	deleted bigint := 0;
	archived bigint := 0;
	cols text;
	name text;
BEGIN
	SELECT * INTO b FROM telemetry._event_partitions() p WHERE p.part = $1;
	IF NOT FOUND OR b.hi > least(today, telemetry._retention_cutoff(as_of, 0)) THEN
		RETURN '{}';			-- gone already, or today's or a future partition
	END IF;

	-- whole-partition drop?
	IF b.hi > telemetry._retention_cutoff(as_of, telemetry._min_retention_days()) THEN
		whole := false;			-- not even the shortest retention expires all of it
	END IF;
	FOR r IN SELECT * FROM telemetry._partition_pairs(part, as_of) LOOP
		IF r.cutoff < b.hi OR r.policy = 'archive' THEN
			whole := false;
		END IF;
	END LOOP;
	IF whole THEN
		PERFORM set_config('lock_timeout', coalesce(current_setting('telemetry.lock_timeout', true), '5s'), true);
		LOCK TABLE telemetry.events IN ACCESS EXCLUSIVE MODE;
		EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', part);
		-- nothing can be inserted now: check again what is there
		IF NOT EXISTS (SELECT FROM telemetry._partition_pairs(part, as_of) x
					   WHERE x.cutoff < b.hi OR x.policy = 'archive') THEN
			name := part::text;
			EXECUTE format('DROP TABLE %s', part);
			RETURN jsonb_build_object('dropped', jsonb_build_array(name));
		END IF;
	END IF;

	-- bounded batches through the (event, version, occurred_at) index
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	FROM pg_attribute a
	WHERE a.attrelid = 'telemetry.events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	  AND EXISTS (SELECT FROM pg_attribute x WHERE x.attrelid = 'telemetry_archive.events'::regclass
				  AND x.attname = a.attname AND NOT x.attisdropped);
	FOR r IN SELECT * FROM telemetry._partition_pairs(part, as_of) x WHERE x.cutoff > b.lo LOOP
		IF r.policy = 'archive' THEN
			EXECUTE format($q$
				WITH moved AS (
					DELETE FROM %1$s WHERE ctid = ANY (ARRAY(
						SELECT ctid FROM %1$s
						WHERE event = $1 AND version = $2 AND occurred_at < $3 LIMIT $4))
					RETURNING %2$s)
				INSERT INTO telemetry_archive.events (%2$s) SELECT %2$s FROM moved$q$, part, cols)
				USING r.event, r.version, r.cutoff, budget;
			GET DIAGNOSTICS n = ROW_COUNT;
			archived := archived + n;
		ELSE
			EXECUTE format($q$
				DELETE FROM %1$s WHERE ctid = ANY (ARRAY(
					SELECT ctid FROM %1$s
					WHERE event = $1 AND version = $2 AND occurred_at < $3 LIMIT $4))$q$, part)
				USING r.event, r.version, r.cutoff, budget;
			GET DIAGNOSTICS n = ROW_COUNT;
			deleted := deleted + n;
		END IF;
		budget := budget - n;
		IF budget <= 0 THEN
			EXIT;
		END IF;
	END LOOP;
	-- out of budget: call again; an emptied archive-only partition is then dropped
	RETURN jsonb_build_object('deleted', deleted, 'archived', archived,
							  'more', budget <= 0 OR (archived > 0 AND b.hi <= telemetry._retention_cutoff(as_of, telemetry._min_retention_days())));
END
$$;

-- One batch of history trimming for one table of telemetry.history_tables.
CREATE FUNCTION telemetry._history_step(tbl regclass, as_of timestamptz) RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col name;
	n bigint;
	budget integer := telemetry._maintenance_batch_size();
BEGIN
	-- only tables of the extension's owner: deleting from another role's
	-- table would run that role's triggers as the owner
	SELECT h.time_column INTO col FROM telemetry.history_tables h
	JOIN pg_class c ON c.oid = tbl
	WHERE to_regclass(format('%I.%I', h.schema_name, h.table_name)) = tbl
		AND c.relowner = (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'telemetry');
	IF col IS NULL THEN
		RETURN '{}';
	END IF;
	EXECUTE format($q$
		DELETE FROM %1$s WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM %1$s WHERE %2$I < $1 LIMIT $2))$q$, tbl, col)
		USING telemetry._retention_cutoff(as_of, telemetry._guc_int('telemetry.history_retention_days', 30)), budget;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN jsonb_build_object('history_deleted', n, 'more', n >= budget);
END
$$;

-- One batch of deleting copies of late events (telemetry.late_events) that
-- no reader needs: below every delivery cursor and anomaly position, or
-- received longer ago than telemetry.history_retention_days.
CREATE FUNCTION telemetry._late_step(as_of timestamptz) RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	passed xid8;
	n bigint;
	budget integer := telemetry._maintenance_batch_size();
BEGIN
	SELECT min(x) INTO passed FROM (
		SELECT s.cursor_xid AS x FROM telemetry.delivery_state s
		UNION ALL
		SELECT a.position FROM telemetry.anomaly_state a) readers;
	DELETE FROM telemetry.late_events l WHERE l.ctid = ANY (ARRAY(
		SELECT c.ctid FROM telemetry.late_events c
		WHERE c.xid < coalesce(passed, pg_snapshot_xmin(pg_current_snapshot()))
		   OR c.received_at < telemetry._retention_cutoff(as_of, telemetry._guc_int('telemetry.history_retention_days', 30))
		LIMIT budget));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN jsonb_build_object('late_deleted', n, 'more', n >= budget);
END
$$;

-- One step of a plan; the unit the worker commits.
CREATE FUNCTION telemetry._maintenance_step(kind text, target text, as_of timestamptz) RETURNS jsonb
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	CASE kind
		WHEN 'partition' THEN
			RETURN telemetry._partition_step(target::date, as_of);
		WHEN 'late' THEN
			RETURN telemetry._late_step(as_of);
		WHEN 'retention' THEN
			IF to_regclass(target) IS NULL THEN
				RETURN '{}';
			END IF;
			RETURN telemetry._retention_step(target::regclass, as_of);
		WHEN 'history' THEN
			IF to_regclass(target) IS NULL THEN
				RETURN '{}';
			END IF;
			RETURN telemetry._history_step(target::regclass, as_of);
		ELSE
			RAISE EXCEPTION 'unknown maintenance step "%"', kind
				USING ERRCODE = 'invalid_parameter_value';
	END CASE;
END
$$;

-- Adds the result of a step to the result of a run: lists are appended,
-- counts summed, "more" dropped.
CREATE FUNCTION telemetry._maintenance_merge(acc jsonb, step jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT acc || jsonb_build_object(
		'created', coalesce(acc->'created', '[]') || coalesce(step->'created', '[]'),
		'dropped', coalesce(acc->'dropped', '[]') || coalesce(step->'dropped', '[]'),
		'deleted', coalesce((acc->>'deleted')::bigint, 0) + coalesce((step->>'deleted')::bigint, 0),
		'archived', coalesce((acc->>'archived')::bigint, 0) + coalesce((step->>'archived')::bigint, 0),
		'history_deleted', coalesce((acc->>'history_deleted')::bigint, 0) + coalesce((step->>'history_deleted')::bigint, 0),
		'late_deleted', coalesce((acc->>'late_deleted')::bigint, 0) + coalesce((step->>'late_deleted')::bigint, 0))
$$;

-- One maintenance run as of a given time, in the caller's transaction: the
-- steps the worker runs, each in its own transaction, on its interval.
-- Returns what it did, or {"skipped": true, ...} when another run holds the
-- maintenance lock.  Called as the owner by telemetry_run_maintenance(),
-- which checks as_of first.
CREATE FUNCTION telemetry._run_maintenance(as_of timestamptz) RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	result jsonb := telemetry._maintenance_merge('{}', '{}');
	s record;
	r jsonb;
	phase integer;
BEGIN
	IF NOT telemetry._run_lock('maintenance', false) THEN
		RETURN jsonb_build_object('skipped', true, 'reason', 'another maintenance run is in progress');
	END IF;
	FOR phase IN 1..2 LOOP
		FOR s IN SELECT * FROM telemetry._maintenance_plan(as_of, phase) LOOP
			LOOP
				r := telemetry._maintenance_step(s.kind, s.target, as_of);
				result := telemetry._maintenance_merge(result, r);
				EXIT WHEN NOT coalesce((r->>'more')::boolean, false);
			END LOOP;
		END LOOP;
	END LOOP;
	RETURN result;
END
$$;
REVOKE ALL ON FUNCTION telemetry._run_maintenance(timestamptz) FROM PUBLIC;

-- The SQL entry point (C, src/maintenance.c): refuses a NULL or infinite
-- as_of, and, for roles other than the extension's owner, one more than a
-- day away from now; then runs telemetry._run_maintenance as the owner.
CREATE FUNCTION @extschema@.telemetry_run_maintenance(as_of timestamptz DEFAULT now()) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'telemetry_run_maintenance'
	LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION @extschema@.telemetry_run_maintenance(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._maintenance_plan(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._maintenance_step(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._retention_step(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._history_step(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._late_step(timestamptz) FROM PUBLIC;
