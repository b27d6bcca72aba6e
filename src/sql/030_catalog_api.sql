-- telemetry: the catalog's SQL API (register, load, unregister, resolve, read).

-- Register a spec document.  Returns '<key>@<version>'.  Not SECURITY
-- DEFINER: the C entry point records its caller (the current effective
-- user), then validates and writes the catalog as the extension's owner
-- with search_path pinned (src/spec_register.c).  EXECUTE on it is the spec
-- admin's grant.
CREATE FUNCTION @extschema@.telemetry_register_spec(spec jsonb) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_register_spec'
	LANGUAGE C VOLATILE;

-- Register a spec from a JSON file on the server.  The caller needs EXECUTE
-- on this and on telemetry_register_spec, and the privileges of
-- pg_read_server_files.
CREATE FUNCTION @extschema@.telemetry_load_spec(path text) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_load_spec'
	LANGUAGE C VOLATILE STRICT;

-- Remove a spec version (its list of events, its providers, and the event
-- versions no other version of the key lists).  Stored events stay.
-- Refused (55006) while it would stop a provider that has events to send.
CREATE FUNCTION @extschema@.telemetry_unregister_spec(key text, version text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'telemetry_unregister_spec'
	LANGUAGE C VOLATILE;

-- Whether a stored version satisfies a request: NULL (any), a prefix such as
-- '1' or '1.2' (that major or major.minor), or anything else (exact).
CREATE FUNCTION telemetry._version_matches(version text, request text) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT request IS NULL
		OR version = request
		OR (request ~ '^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$' AND starts_with(version, request || '.'))
$$;

-- The event version an event name and version request resolve to: the
-- highest registered version that satisfies the request.  The one rule of
-- tracking (the spec cache, src/spec_cache.c) and telemetry_event_def.
-- Reads the owner-only catalog: internal.
CREATE FUNCTION telemetry._resolve_event(event text, request text) RETURNS SETOF telemetry.event_defs
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	ROWS 1
	AS $$
	SELECT e.* FROM telemetry.event_defs e
	WHERE e.event = _resolve_event.event AND telemetry._version_matches(e.version, request)
	ORDER BY e.version_key DESC, e.version DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION telemetry._resolve_event(text, text) FROM PUBLIC;

-- The latest registered version of a spec key (highest semver, then text):
-- the version whose providers deliver every event of the key.  The one
-- rule of delivery's claim (src/delivery_claim.c), registration
-- (src/spec_register.c), alerts and the delivery views (080).  Reads the
-- owner-only catalog: internal.
CREATE FUNCTION telemetry._latest_version(spec_key text) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT s.version FROM telemetry.specs s WHERE s.key = spec_key
	ORDER BY s.version_key DESC, s.version DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION telemetry._latest_version(text) FROM PUBLIC;

-- A registered spec document.  Not SECURITY DEFINER: the C entry point
-- shows secrets only when the current effective user has the owner's
-- privileges outside any security-restricted operation (an index
-- expression run by ANALYZE, a materialized view refresh, a SECURITY
-- DEFINER function of another role: the code there is not the owner's),
-- then reads the catalog as the owner.
CREATE FUNCTION @extschema@.telemetry_spec(key text, version text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'telemetry_spec'
	LANGUAGE C STABLE;

-- An event's normalized definition, with its spec (the governing version,
-- key@version) and effective retention and sampling.  Reads the catalog as
-- the owner (src/spec_read.c).
CREATE FUNCTION @extschema@.telemetry_event_def(event text, version text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'telemetry_event_def'
	LANGUAGE C STABLE;

-- What a new version of a spec changes, for CI before registering it:
-- one row per change, with the path in the new document and whether it
-- breaks producers or readers of the old version (src/spec_diff.c).
CREATE FUNCTION @extschema@.telemetry_spec_diff(old jsonb, new jsonb)
	RETURNS TABLE (path text, change text, breaking boolean)
	AS 'MODULE_PATHNAME', 'telemetry_spec_diff'
	LANGUAGE C STABLE;

-- The same for two registered versions of a spec (each a version request,
-- as telemetry_spec() takes it), as the caller may read them.
CREATE FUNCTION @extschema@.telemetry_spec_diff(key text, old_version text, new_version text)
	RETURNS TABLE (path text, change text, breaking boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT * FROM @extschema@.telemetry_spec_diff(@extschema@.telemetry_spec(key, old_version),
		@extschema@.telemetry_spec(key, new_version)) $$;

-- One row per registered event version (an event version listed by several
-- spec versions is one row; spec is the governing version).
CREATE VIEW telemetry.event_catalog AS
SELECT e.event, e.version, e.spec_key || '@' || e.spec_version AS spec, e.privacy,
	telemetry._effective_retention_days(e.retention_days, s.default_retention_days,
		COALESCE(current_setting('telemetry.default_retention_days', true)::integer, 30)) AS retention_days,
	e.retention_policy,
	telemetry._effective_sampling_rate(e.sampling_rate, s.default_sampling_rate) AS sampling_rate,
	e.anomaly_enabled AS anomaly_detection,
	(SELECT count(*) FROM telemetry.event_properties p
	 WHERE p.event = e.event AND p.version = e.version AND p.scope = 'property')::integer AS properties,
	s.registered_at
FROM telemetry.event_defs e
JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version;

-- One row per registered spec version: whether it is its key's latest (whose
-- providers deliver), its stability and how many events it lists.
CREATE VIEW telemetry.spec_catalog AS
SELECT s.key, s.version, s.title, s.stability,
	s.version = first_value(s.version) OVER (PARTITION BY s.key ORDER BY s.version_key DESC, s.version DESC) AS latest,
	(SELECT count(*) FROM telemetry.spec_events se WHERE se.spec_key = s.key AND se.spec_version = s.version)::integer AS events,
	(SELECT count(*) FROM telemetry.providers p WHERE p.spec_key = s.key AND p.spec_version = s.version)::integer AS providers,
	s.registered_at
FROM telemetry.specs s;

REVOKE ALL ON FUNCTION @extschema@.telemetry_register_spec(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.telemetry_load_spec(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.telemetry_unregister_spec(text, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA telemetry TO PUBLIC;
GRANT SELECT ON telemetry.event_catalog TO PUBLIC;
GRANT SELECT ON telemetry.spec_catalog TO PUBLIC;
