-- telemetry: the catalog's SQL API (register, load, unregister, resolve, read).

-- Register a spec document.  Returns '<key>@<version>'.  Not SECURITY
-- DEFINER: the C entry point records its caller (the current effective
-- user) and runs telemetry._register_spec as the extension's owner with
-- search_path pinned.  EXECUTE on it is the spec admin's grant.
CREATE FUNCTION @extschema@.telemetry_register_spec(spec jsonb) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_register_spec'
	LANGUAGE C VOLATILE;

-- The body of telemetry_register_spec, run as the owner; registered_by is
-- the caller.  Internal: revoked from PUBLIC.
CREATE FUNCTION telemetry._register_spec(spec jsonb, registered_by text) RETURNS text
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	n jsonb;
	skey text;
	sver text;
	existing jsonb;
	other text;
	p jsonb;
	pname text;
	i integer;
	lockid bigint;
	ekey text;
	ever text;
BEGIN
	n := telemetry._validate_spec(spec);
	skey := n ->> 'key';
	sver := n ->> 'version';

	-- Serialize registrations of the same key@version and of the same event
	-- key@version, so concurrent registrations get the errors below rather
	-- than a unique violation.  Locks are taken in one global order.
	FOR lockid IN
		SELECT DISTINCT hashtextextended(l, 0) FROM (
			SELECT 'telemetry.spec:' || skey || '@' || sver
			UNION ALL
			SELECT 'telemetry.event:' || (e ->> 'key') || '@' || (e ->> 'version')
			FROM jsonb_array_elements(n -> 'events') AS e) AS locks(l)
		ORDER BY 1
	LOOP
		PERFORM pg_advisory_xact_lock(lockid);
	END LOOP;

	SELECT document INTO existing FROM telemetry.specs WHERE key = skey AND version = sver;
	IF FOUND THEN
		-- identical: the same JSON, or the same once normalized (the other
		-- generation of field names, an integer version for N.0.0)
		IF existing = spec THEN
			RETURN skey || '@' || sver;
		END IF;
		BEGIN
			IF telemetry._validate_spec(existing) = n THEN
				RETURN skey || '@' || sver;
			END IF;
		EXCEPTION WHEN invalid_parameter_value OR insufficient_privilege THEN
			NULL;				-- stored under older rules: not identical
		END;
		PERFORM telemetry._raise('42710', format('spec "%s@%s" is already registered with a different document', skey, sver), NULL,
			'Publish the change under a new version, or unregister the old one first with telemetry_unregister_spec().');
	END IF;

	SELECT e.value ->> 'key', e.value ->> 'version', d.spec_key || '@' || d.spec_version
		INTO ekey, ever, other
		FROM jsonb_array_elements(n -> 'events') WITH ORDINALITY AS e(value, ord)
		JOIN telemetry.event_defs d ON d.event = e.value ->> 'key' AND d.version = e.value ->> 'version'
		ORDER BY e.ord LIMIT 1;
	IF FOUND THEN
		PERFORM telemetry._raise('42710', format('event "%s@%s" is already defined by spec "%s"', ekey, ever, other), NULL,
			'An event version belongs to one spec; give the event a new version.');
	END IF;

	INSERT INTO telemetry.specs (key, version, version_key, title, description, domain, owners, tags, stability,
		default_retention_days, default_sampling_rate, anomaly_enabled, anomaly_check_interval_ms, document, registered_by)
	VALUES (skey, sver, telemetry._semver_key(sver), n ->> 'title', n ->> 'description', n ->> 'domain',
		ARRAY(SELECT jsonb_array_elements_text(n -> 'owners')), ARRAY(SELECT jsonb_array_elements_text(n -> 'tags')),
		n ->> 'stability', (n ->> 'defaultRetentionDays')::integer, (n ->> 'defaultSamplingRate')::float8,
		(n ->> 'anomalyEnabled')::boolean, (n ->> 'checkIntervalMs')::integer, spec, registered_by);

	i := 0;
	FOR p IN SELECT value FROM jsonb_array_elements(n -> 'providers') LOOP
		pname := COALESCE(p ->> 'name', p ->> 'type');
		IF EXISTS (SELECT 1 FROM telemetry.providers WHERE spec_key = skey AND spec_version = sver AND name = pname) THEN
			IF p ? 'name' AND jsonb_typeof(p -> 'name') = 'string' THEN
				PERFORM telemetry._invalid(format('config.providers[%s].name', i), format('provider name "%s" is used twice', pname));
			END IF;
			pname := pname || '_' || (i + 1);
		END IF;
		INSERT INTO telemetry.providers (spec_key, spec_version, name, ordinal, type, config)
		VALUES (skey, sver, pname, i, p ->> 'type', p -> 'config');
		i := i + 1;
	END LOOP;

	-- one statement a table, whatever the number of events
	INSERT INTO telemetry.event_defs (event, version, version_key, spec_key, spec_version, privacy, what, who, why,
		retention_days, retention_policy, sampling_rate, sampling_by, anomaly_enabled, minimum_sample, actions, tags, definition)
	SELECT ev ->> 'key', ev ->> 'version', telemetry._semver_key(ev ->> 'version'), skey, sver,
		ev ->> 'privacy', ev ->> 'what', ev ->> 'who', ev ->> 'why',
		(ev ->> 'retentionDays')::integer, ev ->> 'retentionPolicy', (ev ->> 'samplingRate')::float8, ev ->> 'samplingBy',
		(ev ->> 'anomalyEnabled')::boolean AND (n ->> 'anomalyEnabled')::boolean,
		(ev ->> 'minimumSample')::integer,
		ARRAY(SELECT jsonb_array_elements_text(ev -> 'actions')), ARRAY(SELECT jsonb_array_elements_text(ev -> 'tags')),
		ev
	FROM jsonb_array_elements(n -> 'events') AS ev;

	-- a sensitive event's context properties are masked too, unless they
	-- declare their own redaction
	INSERT INTO telemetry.event_properties (event, version, scope, name, ordinal, type, required, pii, redact, redaction, description)
	SELECT ev ->> 'key', ev ->> 'version', s.scope, x.name, x.ordinal, x.type, x.required, x.pii, x.redact,
		CASE WHEN s.scope = 'property' OR x.redaction IS NOT NULL OR ev ->> 'privacy' <> 'sensitive' THEN x.redaction ELSE 'mask' END,
		x.description
	FROM jsonb_array_elements(n -> 'events') AS ev,
		LATERAL (VALUES ('property', ev -> 'properties'), ('context', n -> 'context')) AS s(scope, props),
		LATERAL jsonb_to_recordset(s.props) AS x(name text, ordinal integer, type text, required boolean, pii boolean,
			redact boolean, redaction text, description text);

	INSERT INTO telemetry.anomaly_rules (event, version, ordinal, metric, min, max, aggregate, "window")
	SELECT ev ->> 'key', ev ->> 'version', t.ord - 1, t.th ->> 'metric', (t.th ->> 'min')::float8, (t.th ->> 'max')::float8,
		t.th ->> 'aggregate', (t.th ->> 'window')::interval
	FROM jsonb_array_elements(n -> 'events') AS ev,
		LATERAL jsonb_array_elements(ev -> 'thresholds') WITH ORDINALITY AS t(th, ord);

	RETURN skey || '@' || sver;
END
$$;

-- Register a spec from a JSON file on the server.  Runs as the caller, who
-- needs EXECUTE on this and on telemetry_register_spec, and the privileges of
-- pg_read_server_files.
CREATE FUNCTION @extschema@.telemetry_load_spec(path text) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_load_spec'
	LANGUAGE C VOLATILE STRICT;

-- Remove a spec (its events, properties, rules and providers).  Stored events stay.
CREATE FUNCTION @extschema@.telemetry_unregister_spec(key text, version text) RETURNS boolean
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM telemetry.specs s WHERE s.key = telemetry_unregister_spec.key AND s.version = telemetry_unregister_spec.version;
	RETURN FOUND;
END
$$;

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

-- The event version a request resolves to (highest semver that matches).
CREATE FUNCTION telemetry._resolve_event(event text, request text) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT d.version FROM telemetry.event_defs d
	WHERE d.event = _resolve_event.event AND telemetry._version_matches(d.version, request)
	ORDER BY d.version_key DESC, d.version DESC LIMIT 1
$$;

-- A provider URL as non-owners see it: scheme://host[:port] and no path,
-- query or fragment (a webhook path or a ?token= can be a bearer secret):
-- "https://hooks.example.com/********".
CREATE FUNCTION telemetry._mask_url(u text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN m IS NULL THEN '********'
		WHEN m[2] IN ('', '/') THEN u
		ELSE m[1] || '/********' END
	FROM (SELECT regexp_match(u, '^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(.*)$', 's') AS m) AS x
$$;

-- A spec's document as non-owners see it: literal values of the settings
-- that hold secrets (projectApiKey, apiKey, writeKey, secret, every header
-- value) are "********", URL settings (host, url, endpoint) lose their path
-- and query.  {"env": ...} and {"secret": ...} references name a secret
-- without being one, and are shown.
CREATE FUNCTION telemetry._mask_secrets(doc jsonb) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	provs jsonb;
	p jsonb;
	cfg jsonb;
	k text;
	result jsonb := '[]';
BEGIN
	provs := doc #> '{config,providers}';
	IF provs IS NULL OR jsonb_typeof(provs) <> 'array' THEN
		RETURN doc;
	END IF;
	FOR p IN SELECT value FROM jsonb_array_elements(provs) LOOP
		cfg := p -> 'config';
		IF jsonb_typeof(cfg) = 'object' THEN
			FOREACH k IN ARRAY ARRAY['projectApiKey', 'apiKey', 'writeKey', 'secret'] LOOP
				IF jsonb_typeof(cfg -> k) = 'string' THEN
					cfg := jsonb_set(cfg, ARRAY[k], '"********"');
				END IF;
			END LOOP;
			FOREACH k IN ARRAY ARRAY['host', 'url', 'endpoint'] LOOP
				IF jsonb_typeof(cfg -> k) = 'string' THEN
					cfg := jsonb_set(cfg, ARRAY[k], to_jsonb(telemetry._mask_url(cfg ->> k)));
				END IF;
			END LOOP;
			IF jsonb_typeof(cfg -> 'headers') = 'object' THEN
				cfg := jsonb_set(cfg, '{headers}', (SELECT COALESCE(jsonb_object_agg(key,
					CASE WHEN jsonb_typeof(value) = 'object' THEN value ELSE '"********"'::jsonb END), '{}')
					FROM jsonb_each(cfg -> 'headers')));
			END IF;
			p := jsonb_set(p, '{config}', cfg);
		ELSIF cfg IS NOT NULL THEN
			p := jsonb_set(p, '{config}', '"********"');
		END IF;
		result := result || jsonb_build_array(p);
	END LOOP;
	RETURN jsonb_set(doc, '{config,providers}', result);
END
$$;

-- A registered spec document; secrets masked (_mask_secrets) unless
-- show_secrets.  Internal: telemetry_spec() decides show_secrets from its
-- caller and runs this as the owner.  Revoked from PUBLIC.
CREATE FUNCTION telemetry._spec_document(key text, version text, show_secrets boolean) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	doc jsonb;
BEGIN
	SELECT s.document INTO doc FROM telemetry.specs s
	WHERE s.key = _spec_document.key AND telemetry._version_matches(s.version, _spec_document.version)
	ORDER BY s.version_key DESC, s.version DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'telemetry spec "%" not found', key || COALESCE('@' || version, '')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF show_secrets IS TRUE THEN
		RETURN doc;
	END IF;
	RETURN telemetry._mask_secrets(doc);
END
$$;

-- A registered spec document.  Not SECURITY DEFINER: the C entry point
-- shows secrets only when the current effective user has the owner's
-- privileges outside any security-restricted operation (an index
-- expression run by ANALYZE, a materialized view refresh, a SECURITY
-- DEFINER function of another role: the code there is not the owner's),
-- then reads the catalog as the owner.
CREATE FUNCTION @extschema@.telemetry_spec(key text, version text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'telemetry_spec'
	LANGUAGE C STABLE;

-- An event's definition, with its spec and effective retention and sampling.
CREATE FUNCTION @extschema@.telemetry_event_def(event text, version text DEFAULT NULL) RETURNS jsonb
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	d record;
	v text;
BEGIN
	v := telemetry._resolve_event(event, version);
	IF v IS NULL THEN
		RAISE EXCEPTION 'telemetry event "%" not found', event || COALESCE('@' || version, '')
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT e.*, s.default_retention_days, s.default_sampling_rate INTO d
	FROM telemetry.event_defs e JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version
	WHERE e.event = telemetry_event_def.event AND e.version = v;
	RETURN d.definition || jsonb_build_object(
		'spec', d.spec_key || '@' || d.spec_version,
		'effectiveRetentionDays', COALESCE(d.retention_days, d.default_retention_days,
			COALESCE(current_setting('telemetry.default_retention_days', true)::integer, 30)),
		'effectiveSamplingRate', COALESCE(d.sampling_rate, d.default_sampling_rate, 1));
END
$$;

-- One row per registered event version.
CREATE VIEW telemetry.event_catalog AS
SELECT e.event, e.version, e.spec_key || '@' || e.spec_version AS spec, e.privacy,
	COALESCE(e.retention_days, s.default_retention_days,
		COALESCE(current_setting('telemetry.default_retention_days', true)::integer, 30)) AS retention_days,
	e.retention_policy,
	COALESCE(e.sampling_rate, s.default_sampling_rate, 1) AS sampling_rate,
	e.anomaly_enabled AS anomaly_detection,
	(SELECT count(*) FROM telemetry.event_properties p
	 WHERE p.event = e.event AND p.version = e.version AND p.scope = 'property')::integer AS properties,
	s.registered_at
FROM telemetry.event_defs e
JOIN telemetry.specs s ON s.key = e.spec_key AND s.version = e.spec_version;

REVOKE ALL ON FUNCTION @extschema@.telemetry_register_spec(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._register_spec(jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION telemetry._spec_document(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.telemetry_load_spec(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.telemetry_unregister_spec(text, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA telemetry TO PUBLIC;
GRANT SELECT ON telemetry.event_catalog TO PUBLIC;
