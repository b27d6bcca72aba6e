-- telemetry: one spec catalog on a Citus cluster (src/citus.c, doc/citus.md).
--
-- Nothing here needs Citus: without it (or on a single node) the triggers
-- below return at once.  With Citus, the coordinator's catalog changes are
-- sent to every node through telemetry.cluster_messages, a reference table
-- that telemetry_citus_sync() creates.

-- What this node is for the catalog: none, applying, coordinator or worker
-- (everyone may ask: the catalog triggers run as whoever changes it).
CREATE FUNCTION telemetry._cluster_role() RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_cluster_role'
	LANGUAGE C VOLATILE;

-- Applies a message on each placement of telemetry.cluster_messages.
CREATE FUNCTION telemetry._cluster_message() RETURNS trigger
	AS 'MODULE_PATHNAME', 'telemetry_cluster_message'
	LANGUAGE C;
REVOKE ALL ON FUNCTION telemetry._cluster_message() FROM PUBLIC;

-- Sends a message to every node (src/citus.c): an INSERT ... SELECT into
-- telemetry.cluster_messages, whose refusal by a worker keeps that
-- worker's SQLSTATE.
CREATE FUNCTION telemetry._cluster_send(op text, payload jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_cluster_send'
	LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION telemetry._cluster_send(text, jsonb) FROM PUBLIC;

-- A change of a catalog row on the coordinator becomes a message to every
-- node (in this transaction); on a worker it is refused.  Runs as the user
-- who changes the catalog: registration acts as the extension's owner,
-- telemetry_set_secret is the owner's.
CREATE FUNCTION telemetry._cluster_propagate() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	role text := telemetry._cluster_role();
	msg jsonb;
	missing text;
BEGIN
	IF role IN ('none', 'applying') THEN
		RETURN NULL;
	END IF;
	IF role = 'worker' THEN
		RAISE EXCEPTION 'the telemetry catalog of a Citus cluster is changed on the coordinator'
			USING ERRCODE = 'feature_not_supported',
				DETAIL = format('This node is a Citus worker; %s of %s refused.', lower(TG_OP), TG_TABLE_NAME),
				HINT = 'Register specs, unregister them and set secrets on the coordinator: it changes every node in the same transaction.';
	END IF;
	IF to_regclass('telemetry.cluster_messages') IS NULL THEN
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node WHERE groupid <> 0) THEN
			RAISE EXCEPTION 'the telemetry catalog is not set up for this Citus cluster'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					HINT = 'Run SELECT telemetry_citus_sync() on the coordinator as the extension''s owner.';
		END IF;
		RETURN NULL;			-- a single Citus node: nothing to send
	END IF;
	-- a node added since the last telemetry_citus_sync() has another
	-- redaction key and none of the catalog: it would diverge
	SELECT n.nodename || ':' || n.nodeport INTO missing
	FROM pg_catalog.pg_dist_node n
	WHERE n.isactive AND n.noderole = 'primary' AND n.groupid <> 0
	  AND NOT EXISTS (SELECT 1 FROM telemetry.cluster_nodes s WHERE s.groupid = n.groupid)
	ORDER BY 1 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'Citus node % has not received the telemetry catalog', missing
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Run SELECT telemetry_citus_sync() on the coordinator as the extension''s owner.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		msg := to_jsonb(OLD);
	ELSE
		msg := to_jsonb(NEW);
	END IF;
	-- as binary COPY data, not in the text of a statement, so a secret or
	-- the key is not in the workers' server logs (log_statement)
	PERFORM telemetry._cluster_send(TG_TABLE_NAME || '_' || lower(TG_OP), msg);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION telemetry._cluster_propagate() FROM PUBLIC;

CREATE TRIGGER cluster_propagate AFTER INSERT OR DELETE ON telemetry.specs
	FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_propagate();
CREATE TRIGGER cluster_propagate AFTER INSERT OR UPDATE OR DELETE ON telemetry.secrets
	FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_propagate();
CREATE TRIGGER cluster_propagate AFTER INSERT OR UPDATE ON telemetry.redaction_key
	FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_propagate();

-- Make this Citus cluster's catalogs one (owner only, on the coordinator):
-- creates telemetry.cluster_messages the first time, places it on every
-- node (a node added since gets it), then sends the coordinator's redaction
-- key, secrets and spec versions to every node, all in this transaction.
-- Each node ends with the same key, the same secrets, the same spec
-- versions (registered in the coordinator's order; versions only a worker
-- had are unregistered) and the coordinator's event tombstones.  Returns the number of nodes.
CREATE FUNCTION telemetry_citus_sync() RETURNS integer
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	role text := telemetry._cluster_role();
	n integer;
BEGIN
	IF NOT telemetry._caller_is_owner() THEN
		PERFORM telemetry._raise('42501', 'permission denied to synchronize the telemetry catalog',
			'Only the owner of extension telemetry can.');
	END IF;
	IF role = 'none' THEN
		PERFORM telemetry._raise('55000', 'Citus is not installed in this database');
	ELSIF role <> 'coordinator' THEN
		PERFORM telemetry._raise('0A000', 'the telemetry catalog of a Citus cluster is synchronized from the coordinator',
			NULL, 'Run SELECT telemetry_citus_sync() on the coordinator.');
	END IF;
	IF to_regclass('telemetry.cluster_messages') IS NULL THEN
		-- no row is ever kept: each placement's trigger applies and drops it
		CREATE TABLE telemetry.cluster_messages (
			origin integer NOT NULL,
			op text NOT NULL,
			payload jsonb NOT NULL
		);
		REVOKE ALL ON telemetry.cluster_messages FROM PUBLIC;
		PERFORM pg_catalog.create_reference_table('telemetry.cluster_messages');
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
		EXECUTE 'CREATE TRIGGER apply BEFORE INSERT ON telemetry.cluster_messages FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_message()';
		-- the nodes that received the catalog (coordinator only)
		CREATE TABLE telemetry.cluster_nodes (
			groupid integer PRIMARY KEY,
			synced_at timestamptz NOT NULL
		);
		REVOKE ALL ON telemetry.cluster_nodes FROM PUBLIC;
	ELSE
		PERFORM pg_catalog.replicate_reference_tables('block_writes');
	END IF;
	-- (sent as binary COPY data: see telemetry._cluster_send)
	PERFORM telemetry._cluster_send('sync', jsonb_build_object(
		'redaction_key', (SELECT to_jsonb(k) FROM telemetry.redaction_key k),
		'secrets', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.name), '[]') FROM telemetry.secrets s),
		'specs', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.registered_at, s.key, s.version_key, s.version), '[]')
			FROM telemetry.specs s),
		'tombstones', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.event, t.version), '[]')
			FROM telemetry.event_tombstones t)));
	DELETE FROM telemetry.cluster_nodes;
	INSERT INTO telemetry.cluster_nodes (groupid, synced_at)
		SELECT DISTINCT p.groupid, now()
		FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p USING (shardid)
		WHERE s.logicalrelid = 'telemetry.cluster_messages'::regclass;
	SELECT count(*) INTO n FROM pg_catalog.pg_dist_node WHERE isactive AND noderole = 'primary';
	RETURN n;
END
$$;

-- Each node delivers the events it stores.  The whole cluster's delivery,
-- on the coordinator: every node's telemetry.delivery_status rows, read
-- through Citus's run_command_on_all_nodes (one connection per node, as
-- the current user).  A node that does not answer is an error naming it:
-- a status without it would look complete.
CREATE FUNCTION telemetry._cluster_delivery_status(OUT nodeid integer, OUT node text, OUT status jsonb)
	RETURNS SETOF record
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
BEGIN
	IF telemetry._cluster_role() NOT IN ('coordinator', 'worker') THEN
		PERFORM telemetry._raise('55000', 'Citus is not installed in this database', NULL,
			'telemetry.cluster_delivery_status is for a Citus cluster; read telemetry.delivery_status.');
	END IF;
	FOR r IN
		SELECT a.nodeid, a.success, a.result
		FROM pg_catalog.run_command_on_all_nodes(
			-- each node runs it in a new session under its own search_path:
			-- every function is named with its schema
			'SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d) ORDER BY d.provider) FROM telemetry.delivery_status d') a
		ORDER BY a.nodeid
	LOOP
		IF NOT r.success THEN
			RAISE EXCEPTION 'Citus node % did not report its delivery status', r.nodeid
				USING ERRCODE = 'connection_failure', DETAIL = r.result;
		END IF;
		nodeid := r.nodeid;
		node := coalesce((SELECT n.nodename || ':' || n.nodeport FROM pg_catalog.pg_dist_node n
			WHERE n.nodeid = r.nodeid), 'coordinator');
		FOR status IN SELECT e.value FROM jsonb_array_elements(coalesce(nullif(r.result, ''), '[]')::jsonb) e LOOP
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION telemetry._cluster_delivery_status() FROM PUBLIC;

-- telemetry.delivery_status of every node of a Citus cluster, with the
-- node's id and address (pg_dist_node): one row per node and provider.
-- Read on the coordinator by those granted EXECUTE on
-- telemetry._cluster_delivery_status() (the owner by default).
CREATE VIEW telemetry.cluster_delivery_status AS
	SELECT c.nodeid, c.node, s.*
	FROM telemetry._cluster_delivery_status() c,
		jsonb_populate_record(NULL::telemetry.delivery_status, c.status) s;

-- Anomalies of a Citus cluster (issue 17 item 5, doc/citus.md).  The
-- coordinator's anomaly check (070_anomaly.sql) evaluates every node's new
-- events: its own, read as on a single node, and each worker's, read on
-- that worker by telemetry._anomaly_node_batch() after a position that the
-- coordinator keeps here and moves in the check's own transaction (a check
-- that fails reads the same events again; the workers' reads change
-- nothing).  Worker nodes do not check on their own.

-- Whether this coordinator has worker nodes (active primaries of another
-- group): then its checks are the cluster's.  Only called where
-- telemetry._cluster_role() found Citus.
CREATE FUNCTION telemetry._cluster_has_workers() RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node n
		WHERE n.isactive AND n.noderole = 'primary' AND n.groupid <> 0);
END
$$;

-- Per worker node (Citus group) and event version, on the coordinator: the
-- position up to which that node's events are evaluated, its floor and
-- pending sample (the reader protocol, in that node's transaction ids and
-- clock), and how many of its events were counted.
CREATE TABLE telemetry.anomaly_node_state (
	groupid integer NOT NULL,
	event text NOT NULL,
	version text NOT NULL,
	position xid8 NOT NULL,
	position_id uuid NOT NULL,
	floor timestamptz NOT NULL,
	pending_xid xid8,
	pending_at timestamptz,
	stored bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (event, version, groupid)
);
COMMENT ON TABLE telemetry.anomaly_node_state IS
	'on a Citus coordinator: per worker node and event version, the position of the anomaly checks in that node''s events';
SELECT pg_catalog.pg_extension_config_dump('telemetry.anomaly_node_state', '');

-- On a worker node, for the coordinator's check: this node's next new
-- events of an event version.  request: {"event", "version", "batch",
-- "keys" (the metrics of the per-event thresholds, or null), "positions":
-- {"<group>": {"position", "position_id", "floor", "pending_xid",
-- "pending_at"}}}.  This node's position is the one under its group;
-- without one (the coordinator has not read this node yet), what this
-- node's own checks evaluated (its anomaly_state), else the version's
-- registration, as _check_anomalies starts.  Reads at most "batch" events
-- (telemetry._anomaly_read, below this node's horizon) and returns
-- {"group", "full", "rows": [[id, occurred_at, {metric: value}]], "state":
-- the position after them, moved as _check_event_version moves its own}.
-- Changes nothing.  Returns the values of the events: the owner's only.
CREATE FUNCTION telemetry._anomaly_node_batch(request jsonb) RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_event text := request ->> 'event';
	v_version text := request ->> 'version';
	v_batch bigint := (request ->> 'batch')::bigint;
	v_keys text[];
	v_group integer;
	st jsonb;
	v_pos xid8;
	v_pos_id uuid;
	v_floor timestamptz;
	v_pxid xid8;
	v_pat timestamptz;
	v_sample_at timestamptz;
	v_sample_xid xid8;
	v_horizon xid8;
	v_next xid8;
	v_rows jsonb;
	v_n bigint;
	v_last_xid xid8;
	v_last_id uuid;
BEGIN
	IF v_event IS NULL OR v_version IS NULL OR v_batch IS NULL OR v_batch < 1 THEN
		PERFORM telemetry._raise('22023', 'an anomaly batch request needs an event, a version and a batch size');
	END IF;
	IF jsonb_typeof(request -> 'keys') = 'array' THEN
		v_keys := ARRAY(SELECT jsonb_array_elements_text(request -> 'keys'));
	END IF;
	SELECT g.groupid INTO v_group FROM pg_catalog.pg_dist_local_group g;
	st := request -> 'positions' -> v_group::text;
	IF st IS NOT NULL THEN
		v_pos := (st ->> 'position')::xid8;
		v_pos_id := (st ->> 'position_id')::uuid;
		v_floor := (st ->> 'floor')::timestamptz;
		v_pxid := (st ->> 'pending_xid')::xid8;
		v_pat := (st ->> 'pending_at')::timestamptz;
	ELSE
		SELECT s.position, s.position_id, s.floor, s.pending_xid, s.pending_at
		INTO v_pos, v_pos_id, v_floor, v_pxid, v_pat
		FROM telemetry.anomaly_state s WHERE s.event = v_event AND s.version = v_version;
		IF NOT FOUND THEN
			v_pos := '0';
			v_pos_id := '00000000-0000-0000-0000-000000000000';
			v_floor := COALESCE((SELECT min(sp.registered_at) FROM telemetry.spec_events se
				JOIN telemetry.specs sp ON sp.key = se.spec_key AND sp.version = se.spec_version
				WHERE se.event = v_event AND se.version = v_version), '-infinity');
		END IF;
	END IF;
	SELECT c.at, c.next_xid INTO v_sample_at, v_sample_xid FROM telemetry._xid_clock() c;
	SELECT telemetry._horizon(), pg_snapshot_xmax(s) INTO v_horizon, v_next FROM pg_current_snapshot() s;
	-- a position ahead of this node's transaction ids: a restored dump
	IF v_pos > v_next OR v_pxid > v_next THEN
		v_pos := v_horizon;
		v_pos_id := '00000000-0000-0000-0000-000000000000';
		v_pxid := NULL;
		v_pat := NULL;
	END IF;

	SELECT count(*),
		jsonb_agg(jsonb_build_array(b.id, b.occurred_at,
			CASE WHEN v_keys IS NOT NULL THEN (SELECT coalesce(jsonb_object_agg(k.k, b.properties -> k.k), '{}')
				FROM unnest(v_keys) k(k) WHERE b.properties ? k.k) END) ORDER BY b.n),
		telemetry._first(b.xid ORDER BY b.n DESC), telemetry._first(b.id ORDER BY b.n DESC)
	INTO v_n, v_rows, v_last_xid, v_last_id
	FROM telemetry._anomaly_read(v_event, v_version, v_pos, v_pos_id, v_floor, v_horizon, v_batch,
		v_keys IS NOT NULL) b;

	-- a full batch may have left rows: the position is its last row;
	-- otherwise every row below the horizon has been read (see
	-- _check_event_version)
	IF v_n >= v_batch THEN
		v_pos := v_last_xid;
		v_pos_id := v_last_id;
	ELSE
		v_pos := v_horizon;
		v_pos_id := '00000000-0000-0000-0000-000000000000';
		IF v_pxid <= v_horizon THEN
			v_floor := v_pat;
		END IF;
		IF v_pxid IS NULL OR v_pxid <= v_horizon THEN
			v_pxid := v_sample_xid;
			v_pat := v_sample_at;
		END IF;
	END IF;
	RETURN jsonb_build_object('group', v_group, 'full', v_n >= v_batch, 'rows', coalesce(v_rows, '[]'),
		'state', jsonb_build_object('position', v_pos, 'position_id', v_pos_id, 'floor', v_floor,
			'pending_xid', v_pxid, 'pending_at', v_pat));
END
$$;
REVOKE ALL ON FUNCTION telemetry._anomaly_node_batch(jsonb) FROM PUBLIC;

-- On the coordinator: the answer of telemetry.<fn>(request) on every
-- worker node (Citus's run_command_on_workers: a new session per node, as
-- the current user, under that node's own search_path, so every name is
-- qualified and the request is a literal).  A node that does not answer is
-- an error naming it (what: what it was asked for).
CREATE FUNCTION telemetry._cluster_ask_workers(fn text, request jsonb, what text) RETURNS SETOF jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT w.nodename, w.nodeport, w.success, w.result
		FROM pg_catalog.run_command_on_workers(format('SELECT telemetry.%I(%L::pg_catalog.jsonb)', fn, request)) w
		ORDER BY w.nodename, w.nodeport
	LOOP
		IF NOT r.success THEN
			RAISE EXCEPTION 'Citus node %:% did not return %', r.nodename, r.nodeport, what
				USING ERRCODE = 'connection_failure', DETAIL = r.result;
		END IF;
		RETURN NEXT r.result::jsonb;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION telemetry._cluster_ask_workers(text, jsonb, text) FROM PUBLIC;

-- On the coordinator: every worker node's next new events of an event
-- version (telemetry._anomaly_node_batch on each, through Citus's
-- run_command_on_workers, as the current user: the check's, the owner),
-- with each node's position moved past them in this transaction.  Returns
-- {"rows": [[id, occurred_at, {metric: value}]], "full": whether a node
-- may have more}.  A node that does not answer fails the check (it is
-- retried with the others' events unread: none is skipped or read twice).
CREATE FUNCTION telemetry._cluster_anomaly_batch(p_event text, p_version text, p_batch bigint, p_keys text[])
	RETURNS jsonb
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_request jsonb;
	v_answer jsonb;
	v_rows jsonb := '[]';
	v_full boolean := false;
BEGIN
	v_request := jsonb_build_object('event', p_event, 'version', p_version, 'batch', p_batch,
		'keys', to_jsonb(p_keys),
		'positions', (SELECT coalesce(jsonb_object_agg(ns.groupid::text, jsonb_build_object(
				'position', ns.position, 'position_id', ns.position_id, 'floor', ns.floor,
				'pending_xid', ns.pending_xid, 'pending_at', ns.pending_at)), '{}')
			FROM telemetry.anomaly_node_state ns WHERE ns.event = p_event AND ns.version = p_version));
	FOR v_answer IN
		SELECT a FROM telemetry._cluster_ask_workers('_anomaly_node_batch', v_request,
			format('its new events of event "%s" version %s', p_event, p_version)) a
	LOOP
		INSERT INTO telemetry.anomaly_node_state AS ns (groupid, event, version, position, position_id, floor,
			pending_xid, pending_at, stored)
		VALUES ((v_answer ->> 'group')::integer, p_event, p_version,
			(v_answer #>> '{state,position}')::xid8, (v_answer #>> '{state,position_id}')::uuid,
			(v_answer #>> '{state,floor}')::timestamptz, (v_answer #>> '{state,pending_xid}')::xid8,
			(v_answer #>> '{state,pending_at}')::timestamptz, jsonb_array_length(v_answer -> 'rows'))
		ON CONFLICT (event, version, groupid) DO UPDATE
		SET position = EXCLUDED.position, position_id = EXCLUDED.position_id, floor = EXCLUDED.floor,
			pending_xid = EXCLUDED.pending_xid, pending_at = EXCLUDED.pending_at,
			stored = ns.stored + EXCLUDED.stored;
		v_rows := v_rows || (v_answer -> 'rows');
		v_full := v_full OR (v_answer ->> 'full')::boolean;
	END LOOP;
	RETURN jsonb_build_object('rows', v_rows, 'full', v_full);
END
$$;
REVOKE ALL ON FUNCTION telemetry._cluster_anomaly_batch(text, text, bigint, text[]) FROM PUBLIC;

-- On a worker node, for the coordinator's aggregate thresholds: this
-- node's part of a window (telemetry._anomaly_window_part, without
-- percentiles) as JSON.  request: {"event", "version", "metric", "from",
-- "to", "max_rows", "values"}.  Numbers are written with every digit
-- (extra_float_digits), so the coordinator's merge is exact.  Returns the
-- values of the events: the owner's only.
CREATE FUNCTION telemetry._anomaly_window_json(request jsonb) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	SET extra_float_digits = 3
	AS $$
	SELECT to_jsonb(telemetry._anomaly_window_part(request ->> 'event', request ->> 'version',
		request ->> 'metric', (request ->> 'from')::timestamptz, (request ->> 'to')::timestamptz,
		(request ->> 'max_rows')::bigint, false, coalesce((request ->> 'values')::boolean, false)))
$$;
REVOKE ALL ON FUNCTION telemetry._anomaly_window_json(jsonb) FROM PUBLIC;

-- On the coordinator: every node's part of an aggregate threshold's
-- window, this node's first, all through the same JSON (see
-- telemetry._check_aggregate, which merges them).  A node that does not
-- answer fails the check.
CREATE FUNCTION telemetry._cluster_anomaly_window(request jsonb) RETURNS SETOF telemetry.anomaly_window_part
	LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT p.*
	FROM (SELECT telemetry._anomaly_window_json(request) AS part
		UNION ALL
		SELECT w FROM telemetry._cluster_ask_workers('_anomaly_window_json', request,
			format('its part of an anomaly window of event "%s" version %s', request ->> 'event', request ->> 'version')) w) a,
		jsonb_populate_record(NULL::telemetry.anomaly_window_part, a.part) p
$$;
REVOKE ALL ON FUNCTION telemetry._cluster_anomaly_window(jsonb) FROM PUBLIC;
