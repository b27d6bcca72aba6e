-- telemetry: delivery of stored events to providers (state, dead letters,
-- history, status view and SQL entry points).  The sending itself is C
-- (src/delivery*.c, src/http.c, src/provider_*.c).

-- Per provider: a cursor on (xid, id) over telemetry.events.  Only rows
-- whose xid is below the reading snapshot's xmin are read, so no row can
-- commit behind the cursor later.  Counters and the retry schedule live here.
CREATE TABLE telemetry.delivery_state (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	provider text NOT NULL,
	cursor_xid xid8 NOT NULL DEFAULT '0',
	cursor_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
	delivered bigint NOT NULL DEFAULT 0,
	in_flight integer NOT NULL DEFAULT 0,
	in_flight_since timestamptz,
	retrying integer NOT NULL DEFAULT 0,
	failures integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	last_success_at timestamptz,
	last_error text,
	last_error_at timestamptz,
	-- no event after the cursor has received_at before floor, so a pass
	-- reads the partitions from a day before it (and telemetry.late_events);
	-- pending_xid/pending_at is a sample of the xid clock that becomes the
	-- floor once the horizon has passed pending_xid (see src/floor.c)
	floor timestamptz NOT NULL DEFAULT '-infinity',
	pending_xid xid8,
	pending_at timestamptz,
	PRIMARY KEY (spec_key, spec_version, provider),
	FOREIGN KEY (spec_key, spec_version, provider)
		REFERENCES telemetry.providers (spec_key, spec_version, name) ON DELETE CASCADE
);

-- Where each provider starts: the horizon (snapshot xmin) of the
-- transaction that registered it.  Its cursor starts there, so a new
-- provider (a spec registered again with a new webhook included) sends
-- nothing that was stored before it existed; history is sent only by the
-- owner, with telemetry_replay().  Kept apart from delivery_state: restoring
-- the providers (a COPY, which fires the trigger below) makes horizon rows,
-- which the dumped ones then replace (see _delivery_horizon_replace), while
-- a state row made by a trigger would collide with the dumped cursors.
CREATE TABLE telemetry.delivery_horizons (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	provider text NOT NULL,
	horizon xid8 NOT NULL,
	-- every transaction id >= horizon was assigned after floor
	floor timestamptz NOT NULL DEFAULT '-infinity',
	PRIMARY KEY (spec_key, spec_version, provider),
	FOREIGN KEY (spec_key, spec_version, provider)
		REFERENCES telemetry.providers (spec_key, spec_version, name) ON DELETE CASCADE
);

CREATE FUNCTION telemetry._delivery_horizon() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	-- a sample of the xid clock: the new provider sends the events of the
	-- transactions that get their id from now on, and can bound their
	-- received_at from the start (src/floor.c)
	INSERT INTO telemetry.delivery_horizons (spec_key, spec_version, provider, horizon, floor)
	SELECT NEW.spec_key, NEW.spec_version, NEW.name, c.next_xid, c.at FROM telemetry._xid_clock() c
	ON CONFLICT (spec_key, spec_version, provider) DO NOTHING;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION telemetry._delivery_horizon() FROM PUBLIC;
CREATE TRIGGER delivery_horizon AFTER INSERT ON telemetry.providers
	FOR EACH ROW EXECUTE FUNCTION telemetry._delivery_horizon();

-- pg_restore loads the dumped horizons after the providers, whose trigger
-- made rows of its own: the dumped row replaces the one made then.
CREATE FUNCTION telemetry._delivery_horizon_replace() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM telemetry.delivery_horizons h
	WHERE (h.spec_key, h.spec_version, h.provider) = (NEW.spec_key, NEW.spec_version, NEW.provider);
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION telemetry._delivery_horizon_replace() FROM PUBLIC;
CREATE TRIGGER delivery_horizon_replace BEFORE INSERT ON telemetry.delivery_horizons
	FOR EACH ROW EXECUTE FUNCTION telemetry._delivery_horizon_replace();

-- Each provider reads its spec's events after its cursor, in (xid, id)
-- order: this index serves that scan directly (equality on spec, range and
-- order on (xid, id)), however many other specs share the table.  (Made on
-- events_default, which every new partition copies its indexes from: a
-- partitioned index on the parent breaks pg_restore; see 040_events.sql.)
CREATE INDEX events_delivery_idx ON telemetry.events_default (spec, xid, id);

-- Events a provider refused for good ('dead'), dead letters an operator
-- asked to send again ('retry', see telemetry_retry_dead_letters), and
-- stored events the owner replays ('retry' with replay, telemetry_replay).
CREATE TABLE telemetry.delivery_failures (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	provider text NOT NULL,
	event_id uuid NOT NULL,
	event_xid xid8 NOT NULL,
	occurred_at timestamptz NOT NULL,
	state text NOT NULL DEFAULT 'dead' CHECK (state IN ('dead', 'retry')),
	attempts integer NOT NULL DEFAULT 1,
	status integer,
	error text,
	failed_at timestamptz NOT NULL DEFAULT now(),
	requeued_at timestamptz,
	replay boolean NOT NULL DEFAULT false,
	PRIMARY KEY (spec_key, spec_version, provider, event_id),
	FOREIGN KEY (spec_key, spec_version, provider)
		REFERENCES telemetry.providers (spec_key, spec_version, name) ON DELETE CASCADE
);
CREATE INDEX ON telemetry.delivery_failures (failed_at);

-- One row per request sent (or per batch dead-lettered without sending),
-- and one per provider of each telemetry_replay() call.  Only the owner
-- reads it: error holds the start of response bodies and transport errors.
CREATE TABLE telemetry.delivery_history (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	provider text NOT NULL,
	events integer NOT NULL,
	bytes integer NOT NULL,
	status integer,
	outcome text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead', 'split', 'disabled', 'replay')),
	duration_ms double precision,
	error text,
	note text
);
CREATE INDEX ON telemetry.delivery_history (at);

SELECT pg_catalog.pg_extension_config_dump('telemetry.delivery_horizons', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.delivery_state', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.delivery_failures', '');

-- A {"secret": name} reference resolved for delivery: the value with the
-- hosts it may be sent to ({"missing_secret": name} when unset).
CREATE FUNCTION telemetry._delivery_secret(ref jsonb) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT COALESCE(
		(SELECT jsonb_build_object('secret_value', s.value, 'secret_name', s.name,
			'secret_hosts', to_jsonb(COALESCE(s.hosts, '{}')))
		 FROM telemetry.secrets s WHERE s.name = ref ->> 'secret'),
		jsonb_build_object('missing_secret', ref ->> 'secret'))
$$;
REVOKE ALL ON FUNCTION telemetry._delivery_secret(jsonb) FROM PUBLIC;

-- A provider config with its {"secret": name} references resolved (in the
-- settings and in header values).  Internal: only the delivery code calls
-- it, which uses a secret only for a destination host in its hosts; its
-- result is never shown.
CREATE FUNCTION telemetry._delivery_config(config jsonb) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT COALESCE(jsonb_object_agg(k, CASE
			WHEN jsonb_typeof(v) = 'object' AND v ? 'secret' AND jsonb_typeof(v -> 'secret') = 'string' THEN
				telemetry._delivery_secret(v)
			WHEN k = 'headers' AND jsonb_typeof(v) = 'object' THEN
				(SELECT COALESCE(jsonb_object_agg(hk, CASE
						WHEN jsonb_typeof(hv) = 'object' AND hv ? 'secret' AND jsonb_typeof(hv -> 'secret') = 'string' THEN
							telemetry._delivery_secret(hv)
						ELSE hv END), '{}')
				 FROM jsonb_each(v) AS h(hk, hv))
			ELSE v END), '{}')
	FROM jsonb_each(config) AS c(k, v)
$$;
REVOKE ALL ON FUNCTION telemetry._delivery_config(jsonb) FROM PUBLIC;

-- Registration's check of a provider URL against
-- telemetry.allowed_destinations (called by _validate_provider; 42501 when
-- refused, naming the setting, never the URL).  The same policy applies to
-- resolved addresses at connect time.
CREATE FUNCTION telemetry._check_destination(url text, path text) RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_check_destination'
	LANGUAGE C STABLE;

-- The item a provider type sends for a stored event (the delivery code's
-- rendering; NULL, with a notice, when the event is too large for it).
CREATE FUNCTION telemetry._delivery_item(type text, e telemetry.events) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_delivery_item'
	LANGUAGE C STABLE STRICT;
REVOKE ALL ON FUNCTION telemetry._delivery_item(text, telemetry.events) FROM PUBLIC;

-- One delivery pass, in the caller's transaction (see README).
CREATE FUNCTION @extschema@.telemetry_deliver() RETURNS integer
	AS 'MODULE_PATHNAME', 'telemetry_deliver'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.telemetry_deliver() FROM PUBLIC;

-- A secret's hosts, checked and normalized (lower case; IPv6 addresses in
-- canonical form without brackets): each is a host name, an IP address or
-- "*.suffix".  Raises 22023 naming the bad entry.
CREATE FUNCTION telemetry._secret_hosts(hosts text[]) RETURNS text[]
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	h text;
	n text;
	result text[] := '{}';
	i integer := 0;
BEGIN
	IF hosts IS NULL OR cardinality(hosts) = 0 THEN
		PERFORM telemetry._raise('22023', 'a secret needs the hosts it may be sent to',
			'Without hosts a secret could be sent nowhere.',
			'Name the destination hosts: telemetry_set_secret(name, value, ARRAY[''api.segment.io'']); '
			'a host name or IP address matches exactly (ignoring case), "*.example.com" matches every name under example.com.');
	END IF;
	IF cardinality(hosts) > 100 THEN
		PERFORM telemetry._raise('22023', 'a secret has at most 100 hosts');
	END IF;
	FOREACH h IN ARRAY hosts LOOP
		n := lower(btrim(h));
		IF n ~ '^\[?[0-9a-f]*:[0-9a-f:.]*\]?$' THEN
			BEGIN
				n := host(btrim(n, '[]')::inet);
			EXCEPTION WHEN invalid_text_representation THEN
				n := NULL;
			END;
		ELSIF n !~ '^(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$' OR n ~ '\.\.' OR length(n) > 253 THEN
			n := NULL;
		END IF;
		IF n IS NULL THEN
			PERFORM telemetry._raise('22023', format('hosts[%s]: %s is not a host name, an IP address or "*.suffix"', i + 1,
				telemetry._q(COALESCE(h, 'null'))));
		END IF;
		IF NOT n = ANY (result) THEN
			result := result || n;
		END IF;
		i := i + 1;
	END LOOP;
	RETURN result;
END
$$;

-- Set (or replace) a named secret for {"secret": name} provider settings,
-- with the hosts it may be sent to.  Owner only.  Not SECURITY DEFINER: the
-- owner check needs the caller, and the owner may write the table anyway.
-- Executable by PUBLIC on purpose: a refused call must fail with the
-- extension's error, which hides the statement (and so the secret) from the
-- server log; PostgreSQL's "permission denied for function" would log it.
-- A value that is a URL (for a url/endpoint/host setting) must point to one
-- of the hosts.  Providers that used the secret and no longer may are
-- named in a WARNING (delivery refuses them).
CREATE FUNCTION @extschema@.telemetry_set_secret(name text, value text, hosts text[] DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	h text[];
	p record;
BEGIN
	IF NOT telemetry._caller_is_owner() THEN
		PERFORM telemetry._raise('42501', 'permission denied to set secrets',
			'Only the owner of extension telemetry can set secrets.');
	END IF;
	IF name IS NULL OR name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$' THEN
		PERFORM telemetry._raise('22023', 'invalid secret name', NULL,
			'A secret name is 1 to 128 letters, digits, "_", "." or "-", starting with a letter or "_".');
	END IF;
	IF value IS NULL OR length(value) = 0 OR length(value) > 4096 THEN
		PERFORM telemetry._raise('22023', format('secret "%s" must be 1 to 4096 characters', name));
	END IF;
	h := telemetry._secret_hosts(hosts);
	IF value ~* '^[a-z][a-z0-9+.-]*://' AND NOT telemetry._host_allowed(telemetry._url_host(value), h) THEN
		PERFORM telemetry._raise('22023', format('secret "%s" is a URL whose host is not among its hosts', name), NULL,
			'A URL secret must be an http:// or https:// URL without user:password@, and its host must be one of the hosts given.');
	END IF;
	INSERT INTO telemetry.secrets AS s (name, value, hosts) VALUES (name, value, h)
	ON CONFLICT ON CONSTRAINT secrets_pkey DO UPDATE SET value = EXCLUDED.value, hosts = EXCLUDED.hosts, updated_at = now();
	FOR p IN
		SELECT pr.spec_key || '@' || pr.spec_version || '/' || pr.name AS provider
		FROM telemetry.providers pr
		WHERE jsonb_path_exists(pr.config, '$.** ? (@.secret == $n)', jsonb_build_object('n', telemetry_set_secret.name))
		  AND telemetry._provider_refs_problem(pr.type, pr.config, 'config') IS NOT NULL
		ORDER BY 1
	LOOP
		RAISE WARNING 'provider "%" names secret "%" but may not use it now', p.provider, telemetry_set_secret.name
			USING HINT = 'Delivery refuses it until the secret allows the provider''s destination host.';
	END LOOP;
END
$$;

-- Providers matching a name: "key@version/name", or a bare name (every spec
-- version's provider of that name).
CREATE FUNCTION telemetry._delivery_providers(provider text)
	RETURNS TABLE (spec_key text, spec_version text, name text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT p.spec_key, p.spec_version, p.name FROM telemetry.providers p
	WHERE p.spec_key || '@' || p.spec_version || '/' || p.name = provider
	   OR (strpos(provider, '/') = 0 AND p.name = provider)
$$;

-- Send a provider's dead letters again (their events must still be stored);
-- returns how many were requeued.
CREATE FUNCTION @extschema@.telemetry_retry_dead_letters(provider text) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan
	AS $$
DECLARE
	n bigint;
	times timestamptz[];
	pname text := telemetry_retry_dead_letters.provider;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM telemetry._delivery_providers(pname)) THEN
		RAISE EXCEPTION 'provider "%" does not exist', pname
			USING ERRCODE = 'undefined_object',
			HINT = 'Name a provider as "spec@version/name" or by its name; see telemetry.delivery_status.';
	END IF;
	-- the events' times as plain values, so only their partitions are read
	SELECT COALESCE(array_agg(DISTINCT f.occurred_at), '{}') INTO times
	FROM telemetry.delivery_failures f
	JOIN telemetry._delivery_providers(pname) p
		ON (f.spec_key, f.spec_version, f.provider) = (p.spec_key, p.spec_version, p.name)
	WHERE f.state = 'dead';
	UPDATE telemetry.delivery_failures f
	SET state = 'retry', requeued_at = now()
	FROM telemetry._delivery_providers(pname) p
	WHERE (f.spec_key, f.spec_version, f.provider) = (p.spec_key, p.spec_version, p.name)
	  AND f.state = 'dead'
	  AND EXISTS (SELECT 1 FROM telemetry.events e
		WHERE e.occurred_at = f.occurred_at AND e.occurred_at = ANY (times)
		AND e.xid = f.event_xid AND e.id = f.event_id);
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM telemetry._wake_worker_if_possible();
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.telemetry_retry_dead_letters(text) FROM PUBLIC;

-- Send a provider's stored events that occurred in [from, to) again, with
-- the same ids: the owner's explicit act (a new provider starts at the
-- current horizon, so history reaches it only this way).  Queued like
-- requeued dead letters and recorded in delivery_history; PostHog batches
-- replaying events older than a day say "historical_migration".  Not
-- SECURITY DEFINER: it decides on the current user, who must act as the
-- extension's owner (and who then owns the tables it writes).
CREATE FUNCTION @extschema@.telemetry_replay(provider text, "from" timestamptz, "to" timestamptz) RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	-- planned for the range at hand: only its partitions are read
	SET plan_cache_mode = force_custom_plan
	AS $$
DECLARE
	pname text := telemetry_replay.provider;
	owner oid;
	p record;
	k bigint;
	n bigint := 0;
BEGIN
	SELECT x.extowner INTO owner FROM pg_extension x WHERE x.extname = 'telemetry';
	IF owner IS NULL OR NOT pg_has_role(current_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'only the owner of extension telemetry can replay events'
			USING ERRCODE = 'insufficient_privilege',
			HINT = 'Replaying sends stored events to a provider: the extension owner decides that.';
	END IF;
	IF "from" IS NULL OR "to" IS NULL OR NOT isfinite("from") OR NOT isfinite("to") THEN
		RAISE EXCEPTION 'telemetry_replay needs a finite "from" and "to"'
			USING ERRCODE = 'datetime_field_overflow';
	END IF;
	IF "from" >= "to" THEN
		RAISE EXCEPTION 'telemetry_replay: "from" (%) must be before "to" (%)', "from", "to"
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM telemetry._delivery_providers(pname) d
			JOIN telemetry.providers pr ON (pr.spec_key, pr.spec_version, pr.name) = (d.spec_key, d.spec_version, d.name)
			WHERE pr.type <> 'internal') THEN
		RAISE EXCEPTION 'provider "%" does not exist', pname
			USING ERRCODE = 'undefined_object',
			HINT = 'Name a provider as "spec@version/name" or by its name; see telemetry.delivery_status.';
	END IF;
	FOR p IN
		SELECT d.spec_key, d.spec_version, d.name,
			COALESCE(s.cursor_xid, h.horizon, '0') AS cursor_xid,
			COALESCE(s.cursor_id, '00000000-0000-0000-0000-000000000000') AS cursor_id
		FROM telemetry._delivery_providers(pname) d
		JOIN telemetry.providers pr ON (pr.spec_key, pr.spec_version, pr.name) = (d.spec_key, d.spec_version, d.name)
		LEFT JOIN telemetry.delivery_state s ON (s.spec_key, s.spec_version, s.provider) = (d.spec_key, d.spec_version, d.name)
		LEFT JOIN telemetry.delivery_horizons h ON (h.spec_key, h.spec_version, h.provider) = (d.spec_key, d.spec_version, d.name)
		WHERE pr.type <> 'internal'
		ORDER BY 1, 2, 3
	LOOP
		-- events the cursor has not reached yet will be sent anyway
		INSERT INTO telemetry.delivery_failures AS f
			(spec_key, spec_version, provider, event_id, event_xid, occurred_at, state, attempts,
			 failed_at, requeued_at, replay)
		SELECT p.spec_key, p.spec_version, p.name, e.id, e.xid, e.occurred_at, 'retry', 0, now(), now(), true
		FROM telemetry.events e
		WHERE e.spec = p.spec_key || '@' || p.spec_version
		  AND e.occurred_at >= "from" AND e.occurred_at < "to"
		  AND (e.xid, e.id) <= (p.cursor_xid, p.cursor_id)
		ON CONFLICT ON CONSTRAINT delivery_failures_pkey DO UPDATE
		SET state = 'retry', requeued_at = now(), replay = true;
		GET DIAGNOSTICS k = ROW_COUNT;
		INSERT INTO telemetry.delivery_history (spec_key, spec_version, provider, events, bytes, outcome, note)
		VALUES (p.spec_key, p.spec_version, p.name, k, 0, 'replay',
			format('replay of the events that occurred from %s to %s, requested by %s', "from", "to", current_user));
		n := n + k;
	END LOOP;
	PERFORM telemetry._wake_worker_if_possible();
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.telemetry_replay(text, timestamptz, timestamptz) FROM PUBLIC;

-- Wake the worker (no-op when it is not running).
CREATE FUNCTION telemetry._wake_worker_if_possible() RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_delivery_wake'
	LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION telemetry._wake_worker_if_possible() FROM PUBLIC;

-- The rows of telemetry.delivery_status.  pending counts the events after
-- each provider's cursor in the partitions from its floor on (and the
-- copies of late events), planned for the values at hand so that no other
-- partition is touched.  SECURITY DEFINER, callable by everyone: it shows
-- exactly what the view shows everyone.
CREATE FUNCTION telemetry._delivery_status(OUT provider text, OUT type text, OUT enabled boolean,
		OUT disabled_reason text, OUT pending bigint, OUT in_flight integer, OUT delivered bigint,
		OUT retrying bigint, OUT dead bigint, OUT consecutive_failures integer, OUT last_success timestamptz,
		OUT last_error text, OUT last_error_at timestamptz, OUT next_attempt timestamptz)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan
	AS $$
DECLARE
	r record;
	v_spec text;
	v_xid xid8;
	v_id uuid;
	v_from timestamptz;
	v_horizon xid8 := telemetry._horizon();
BEGIN
	FOR r IN
		SELECT p.spec_key, p.spec_version, p.name, p.type, p.enabled, p.disabled_reason,
			COALESCE(s.cursor_xid, h.horizon, '0') AS cursor_xid,
			COALESCE(s.cursor_id, '00000000-0000-0000-0000-000000000000') AS cursor_id,
			COALESCE(s.floor, h.floor, '-infinity') AS floor,
			s.in_flight, s.delivered, s.retrying, s.failures, s.last_success_at, s.last_error,
			s.last_error_at, s.next_attempt_at
		FROM telemetry.providers p
		LEFT JOIN telemetry.delivery_state s
			ON (s.spec_key, s.spec_version, s.provider) = (p.spec_key, p.spec_version, p.name)
		LEFT JOIN telemetry.delivery_horizons h
			ON (h.spec_key, h.spec_version, h.provider) = (p.spec_key, p.spec_version, p.name)
		WHERE p.type <> 'internal'
		ORDER BY p.spec_key, p.spec_version, p.name
	LOOP
		v_spec := r.spec_key || '@' || r.spec_version;
		v_xid := r.cursor_xid;
		v_id := r.cursor_id;
		v_from := CASE WHEN isfinite(r.floor) THEN r.floor - interval '24 hours' ELSE r.floor END;
		provider := v_spec || '/' || r.name;
		type := r.type;
		enabled := r.enabled;
		disabled_reason := r.disabled_reason;
		SELECT count(*) INTO pending FROM telemetry.events e
		WHERE e.spec = v_spec AND e.xid >= v_xid AND (e.xid, e.id) > (v_xid, v_id)
			AND e.occurred_at >= v_from AND NOT telemetry._is_late(e.occurred_at, e.received_at);
		pending := pending + (SELECT count(*) FROM telemetry.late_events l
			WHERE l.spec = v_spec AND l.xid >= v_xid AND (l.xid, l.id) > (v_xid, v_id));
		in_flight := COALESCE(r.in_flight, 0);
		delivered := COALESCE(r.delivered, 0);
		retrying := COALESCE(r.retrying, 0) + (SELECT count(*) FROM telemetry.delivery_failures f
			WHERE (f.spec_key, f.spec_version, f.provider) = (r.spec_key, r.spec_version, r.name) AND f.state = 'retry');
		dead := (SELECT count(*) FROM telemetry.delivery_failures f
			WHERE (f.spec_key, f.spec_version, f.provider) = (r.spec_key, r.spec_version, r.name) AND f.state = 'dead');
		consecutive_failures := COALESCE(r.failures, 0);
		last_success := r.last_success_at;
		last_error := r.last_error;
		last_error_at := r.last_error_at;
		next_attempt := r.next_attempt_at;
		RETURN NEXT;
	END LOOP;
END
$$;

-- Delivery per provider: events waiting, in flight, delivered, retrying and
-- dead, and when it last worked, failed and will next try.  Everyone reads
-- it: last_error is a summary (a status code, names of settings), never a
-- response body or a transport error; the detail is in delivery_history.
CREATE VIEW telemetry.delivery_status AS
	SELECT * FROM telemetry._delivery_status();
GRANT SELECT ON telemetry.delivery_status TO PUBLIC;

-- Delivery history and dead letters are trimmed by maintenance after
-- telemetry.history_retention_days, like every history table
-- (telemetry.history_tables, created by the maintenance fragment).
DO $$
BEGIN
	IF to_regclass('telemetry.history_tables') IS NOT NULL THEN
		INSERT INTO telemetry.history_tables VALUES
			('telemetry', 'delivery_history', 'at'),
			('telemetry', 'delivery_failures', 'failed_at');
	END IF;
END
$$;
