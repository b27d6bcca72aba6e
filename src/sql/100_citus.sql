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
	-- INSERT ... SELECT, not VALUES: Citus then sends the row to the
	-- workers as binary COPY data, not in the text of a statement, so a
	-- secret or the key is not in their server logs (log_statement)
	INSERT INTO telemetry.cluster_messages (origin, op, payload)
		SELECT 0, TG_TABLE_NAME || '_' || lower(TG_OP), msg;
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
	-- (sent as binary COPY data: see telemetry._cluster_propagate)
	INSERT INTO telemetry.cluster_messages (origin, op, payload)
	SELECT 0, 'sync', jsonb_build_object(
		'redaction_key', (SELECT to_jsonb(k) FROM telemetry.redaction_key k),
		'secrets', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.name), '[]') FROM telemetry.secrets s),
		'specs', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.registered_at, s.key, s.version_key, s.version), '[]')
			FROM telemetry.specs s),
		'tombstones', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.event, t.version), '[]')
			FROM telemetry.event_tombstones t));
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
