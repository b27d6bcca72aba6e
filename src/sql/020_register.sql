-- telemetry: spec validation and registration.

-- Validate an object of property definitions; return them normalized as a
-- JSON array of {name, ordinal, type, required, pii, redact, redaction,
-- description}.  "redaction" is the effective mode: mask, hash, drop or null.
CREATE FUNCTION telemetry._validate_properties(props jsonb, path text, sensitive boolean) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	result jsonb[] := '{}';
	pname text;
	p jsonb;
	pp text;
	ptype text;
	pii boolean;
	redact boolean;
	redaction text;
	ord integer := 0;
BEGIN
	PERFORM telemetry._expect(props, 'object', path);
	IF (SELECT count(*) FROM jsonb_object_keys(props)) > 500 THEN
		PERFORM telemetry._invalid(path, 'more than 500 properties');
	END IF;
	FOR pname, p IN SELECT key, value FROM jsonb_each(props) ORDER BY key LOOP
		pp := telemetry._member(path, pname);
		PERFORM telemetry._check_key(pname, pp);
		PERFORM telemetry._expect(p, 'object', pp);
		PERFORM telemetry._allowed_keys(p, ARRAY['type', 'required', 'pii', 'redact', 'redaction', 'description'], pp);
		ptype := telemetry._opt_text(p, 'type', pp, 1000);
		IF ptype IS NULL THEN
			PERFORM telemetry._invalid(pp || '.type', 'required string is missing');
		END IF;
		IF NOT ptype = ANY (ARRAY['string', 'number', 'boolean', 'timestamp', 'json']) THEN
			PERFORM telemetry._invalid(pp || '.type', 'unknown type ' || telemetry._q(ptype) || ' (allowed: string, number, boolean, timestamp, json)');
		END IF;
		pii := telemetry._opt_bool(p, 'pii', pp, false);
		redact := telemetry._opt_bool(p, 'redact', pp, false);
		redaction := telemetry._opt_text(p, 'redaction', pp, 1000);
		IF redaction IS NOT NULL AND NOT redaction = ANY (ARRAY['mask', 'hash', 'drop']) THEN
			PERFORM telemetry._invalid(pp || '.redaction', 'unknown redaction ' || telemetry._q(redaction) || ' (allowed: mask, hash, drop)');
		END IF;
		IF redaction IS NULL AND (pii OR redact OR sensitive) THEN
			redaction := 'mask';
		END IF;
		-- appending to a jsonb[] is done in place; jsonb || jsonb would copy
		result := result || jsonb_build_object(
			'name', pname, 'ordinal', ord, 'type', ptype,
			'required', telemetry._opt_bool(p, 'required', pp, false),
			'pii', pii, 'redact', redact, 'redaction', redaction,
			'description', telemetry._opt_text(p, 'description', pp));
		ord := ord + 1;
	END LOOP;
	RETURN to_jsonb(result);
END
$$;

-- The host of an http(s) URL: lower case, an IPv6 address in its canonical
-- form without brackets.  NULL when the text is not such a URL or when its
-- authority is anything but host[:port] (no user:password@, no character a
-- URL parser could read another way), so the host checked here is the host
-- libcurl connects to.  Not PARALLEL SAFE: its exception block is a
-- subtransaction.
CREATE FUNCTION telemetry._url_host(url text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	m text[];
BEGIN
	m := regexp_match(url, '^[Hh][Tt][Tt][Pp][Ss]?://(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?))(?::[0-9]{1,5})?(?:[/?#]|$)');
	IF m IS NULL THEN
		RETURN NULL;
	END IF;
	IF m[1] IS NOT NULL THEN
		BEGIN
			RETURN host(m[1]::inet);
		EXCEPTION WHEN invalid_text_representation THEN
			RETURN NULL;
		END;
	END IF;
	RETURN lower(m[2]);
END
$$;

-- Whether a host (as _url_host returns it) is among a secret's hosts: equal
-- ignoring case, or under a "*.suffix" entry (a.example.com and
-- a.b.example.com are under *.example.com; example.com itself is not).
CREATE FUNCTION telemetry._host_allowed(host text, hosts text[]) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT host IS NOT NULL AND host <> '' AND EXISTS (
		SELECT FROM unnest(hosts) AS h
		WHERE lower(h) = lower(host)
		   OR (starts_with(h, '*.') AND length(host) > length(h) - 1
		       AND right(lower(host), length(h) - 1) = lower(substr(h, 2))))
$$;

-- A secret-bearing provider setting: a literal string, {"env": NAME} or
-- {"secret": NAME}; URL settings (allow_env false) take no {"env": ...}.
CREATE FUNCTION telemetry._check_secret_value(v jsonb, path text, allow_env boolean DEFAULT true) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF jsonb_typeof(v) = 'string' THEN
		IF length(v #>> '{}') = 0 OR length(v #>> '{}') > 4096 THEN
			PERFORM telemetry._invalid(path, 'must be 1 to 4096 characters');
		END IF;
		RETURN;
	END IF;
	IF jsonb_typeof(v) = 'object' AND (SELECT count(*) FROM jsonb_object_keys(v)) = 1
		AND jsonb_typeof(COALESCE(v -> 'env', v -> 'secret')) = 'string'
		AND (allow_env OR v ? 'secret') THEN
		PERFORM telemetry._check_key(COALESCE(v ->> 'env', v ->> 'secret'), path || CASE WHEN v ? 'env' THEN '.env' ELSE '.secret' END);
		RETURN;
	END IF;
	IF allow_env THEN
		PERFORM telemetry._invalid(path, 'must be a string, {"env": "NAME"} or {"secret": "name"}');
	ELSE
		PERFORM telemetry._invalid(path, 'must be an http:// or https:// URL or {"secret": "name"}');
	END IF;
END
$$;

-- The provider setting that holds the URL a provider type sends to.
CREATE FUNCTION telemetry._destination_key(ptype text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE ptype WHEN 'posthog' THEN 'host' WHEN 'segment' THEN 'host'
		WHEN 'webhook' THEN 'url' WHEN 'opentelemetry' THEN 'endpoint' END
$$;

-- The URL a provider sends to: its URL setting, the value of the secret it
-- names there, or the type's default host.  NULL when it sends nothing
-- (internal) or the secret is missing.  Reads telemetry.secrets: internal,
-- the owner's only.
CREATE FUNCTION telemetry._destination_url(ptype text, cfg jsonb) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN d IS NULL OR jsonb_typeof(d) = 'null' THEN
			CASE ptype WHEN 'posthog' THEN 'https://us.i.posthog.com' WHEN 'segment' THEN 'https://api.segment.io' END
		WHEN jsonb_typeof(d) = 'string' THEN d #>> '{}'
		WHEN jsonb_typeof(d) = 'object' AND jsonb_typeof(d -> 'secret') = 'string' THEN
			(SELECT s.value FROM telemetry.secrets s WHERE s.name = d ->> 'secret')
		END
	FROM (SELECT cfg -> telemetry._destination_key(ptype) AS d) AS x
$$;
REVOKE ALL ON FUNCTION telemetry._destination_url(text, jsonb) FROM PUBLIC;

-- Whether a provider config may use the secrets and environment variables
-- it names: NULL when it may, else the problem, naming the setting (under
-- path) and never a value.  A {"secret": n} needs n to exist and its hosts
-- to include the provider's destination host (when the URL itself is that
-- secret, the host of its value); an {"env": NAME} needs NAME listed in
-- telemetry.allowed_env.  Registration refuses a problem with 42501;
-- delivery asks again before sending.
CREATE FUNCTION telemetry._provider_refs_problem(ptype text, cfg jsonb, path text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	dkey text := telemetry._destination_key(ptype);
	d jsonb;
	host text;
	shown text;
	k text;
	v jsonb;
BEGIN
	IF dkey IS NULL OR jsonb_typeof(cfg) <> 'object' THEN
		RETURN NULL;			-- sends nothing
	END IF;
	d := cfg -> dkey;
	host := telemetry._url_host(telemetry._destination_url(ptype, cfg));
	IF jsonb_typeof(d) = 'object' THEN
		-- the URL is a secret: its value's host must be one of its hosts
		IF NOT EXISTS (SELECT FROM telemetry.secrets s WHERE s.name = d ->> 'secret'
				AND telemetry._host_allowed(host, s.hosts)) THEN
			RETURN path || '.' || dkey || ': secret ' || telemetry._q(COALESCE(d ->> 'secret', ''))
				|| ' does not exist, is not an http(s) URL, or its host is not among the hosts it may be sent to';
		END IF;
		shown := 'this provider''s destination';
	ELSIF host IS NULL THEN
		RETURN path || '.' || dkey || ': not an http:// or https:// URL with a host';
	ELSE
		shown := 'host ' || telemetry._q(host);
	END IF;
	FOR k, v IN
		SELECT e.key, e.value FROM jsonb_each(cfg) AS e WHERE e.key NOT IN ('headers', dkey)
		UNION ALL
		SELECT 'headers.' || e.key, e.value
		FROM jsonb_each(CASE WHEN jsonb_typeof(cfg -> 'headers') = 'object' THEN cfg -> 'headers' ELSE '{}' END) AS e
		ORDER BY 1
	LOOP
		CONTINUE WHEN jsonb_typeof(v) <> 'object';
		IF v ? 'env' THEN
			IF NOT COALESCE(telemetry._env_allowed(v ->> 'env'), false) THEN
				RETURN telemetry._member(path, k) || ': environment variable ' || telemetry._q(COALESCE(v ->> 'env', ''))
					|| ' is not listed in telemetry.allowed_env';
			END IF;
		ELSIF v ? 'secret' THEN
			IF NOT EXISTS (SELECT FROM telemetry.secrets s WHERE s.name = v ->> 'secret'
					AND telemetry._host_allowed(host, s.hosts)) THEN
				RETURN telemetry._member(path, k) || ': secret ' || telemetry._q(COALESCE(v ->> 'secret', ''))
					|| ' does not exist or may not be sent to ' || shown;
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION telemetry._provider_refs_problem(text, jsonb, text) FROM PUBLIC;

-- Validate one provider entry {type, name?, config}; return it normalized.
-- STABLE, not IMMUTABLE: the secrets and environment variables a provider
-- may use depend on telemetry.secrets and telemetry.allowed_env.
CREATE FUNCTION telemetry._validate_provider(p jsonb, path text) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	ptype text;
	cfg jsonb;
	required text[];
	allowed text[];
	secrets text[];
	k text;
	u text;
	problem text;
	dest_url text;
	dest_path text;
BEGIN
	PERFORM telemetry._expect(p, 'object', path);
	PERFORM telemetry._allowed_keys(p, ARRAY['type', 'name', 'config'], path);
	ptype := telemetry._opt_text(p, 'type', path, 1000);
	IF ptype IS NULL THEN
		PERFORM telemetry._invalid(path || '.type', 'required string is missing');
	END IF;
	CASE ptype
		WHEN 'posthog' THEN
			required := ARRAY['projectApiKey']; allowed := ARRAY['projectApiKey', 'apiKey', 'host'];
			secrets := ARRAY['projectApiKey', 'apiKey'];
		WHEN 'segment' THEN
			required := ARRAY['writeKey']; allowed := ARRAY['writeKey', 'host'];
			secrets := ARRAY['writeKey'];
		WHEN 'webhook' THEN
			required := ARRAY['url', 'secret']; allowed := ARRAY['url', 'secret', 'headers'];
			secrets := ARRAY['secret'];
		WHEN 'opentelemetry' THEN
			required := ARRAY['endpoint']; allowed := ARRAY['endpoint', 'headers', 'serviceName'];
			secrets := ARRAY[]::text[];
		WHEN 'internal' THEN
			required := ARRAY[]::text[]; allowed := ARRAY[]::text[]; secrets := ARRAY[]::text[];
		ELSE
			PERFORM telemetry._invalid(path || '.type', 'unknown provider type ' || telemetry._q(ptype) || ' (allowed: posthog, segment, webhook, opentelemetry, internal)');
	END CASE;
	IF p ? 'name' THEN
		PERFORM telemetry._check_key(telemetry._opt_text(p, 'name', path, 1000), path || '.name');
	END IF;
	cfg := telemetry._opt_object(p, 'config', path || '.config');
	IF octet_length(cfg::text) > 16384 THEN
		PERFORM telemetry._invalid(path || '.config', 'larger than 16 kB');
	END IF;
	-- the seed's posthog key is projectApiKey; apiKey is accepted as its alias
	IF ptype = 'posthog' AND cfg ? 'apiKey' AND NOT cfg ? 'projectApiKey' THEN
		cfg := (cfg - 'apiKey') || jsonb_build_object('projectApiKey', cfg -> 'apiKey');
	END IF;
	PERFORM telemetry._allowed_keys(cfg, allowed, path || '.config');
	FOREACH k IN ARRAY required LOOP
		IF NOT cfg ? k OR jsonb_typeof(cfg -> k) = 'null' THEN
			PERFORM telemetry._invalid(path || '.config.' || k, 'required by provider type ' || telemetry._q(ptype) || ' but missing');
		END IF;
	END LOOP;
	FOREACH k IN ARRAY secrets LOOP
		IF cfg ? k THEN
			PERFORM telemetry._check_secret_value(cfg -> k, path || '.config.' || k);
		END IF;
	END LOOP;
	-- URL settings: a literal http(s) URL, or {"secret": name} whose value is one
	FOREACH k IN ARRAY ARRAY['host', 'url', 'endpoint'] LOOP
		IF cfg ? k AND jsonb_typeof(cfg -> k) = 'object' THEN
			PERFORM telemetry._check_secret_value(cfg -> k, path || '.config.' || k, false);
		ELSIF cfg ? k THEN
			u := telemetry._opt_text(cfg, k, path || '.config', 2048);
			-- credentials would be readable by everyone in the spec document
			IF u ~* '^https?://[^/?#\s]*@' THEN
				PERFORM telemetry._invalid(path || '.config.' || k, 'must not contain user:password@ (use headers with {"secret": ...} instead)');
			END IF;
			IF telemetry._url_host(u) IS NULL OR u ~ '[[:space:][:cntrl:]]' THEN
				PERFORM telemetry._invalid(path || '.config.' || k, 'must be an http:// or https:// URL');
			END IF;
		END IF;
	END LOOP;
	IF cfg ? 'serviceName' THEN
		PERFORM telemetry._opt_text(cfg, 'serviceName', path || '.config', 256);
	END IF;
	IF cfg ? 'headers' THEN
		PERFORM telemetry._expect(cfg -> 'headers', 'object', path || '.config.headers');
		FOR k IN SELECT jsonb_object_keys(cfg -> 'headers') LOOP
			IF k !~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]{1,128}$' THEN
				PERFORM telemetry._invalid(path || '.config.headers', 'invalid header name ' || telemetry._q(k));
			END IF;
			PERFORM telemetry._check_secret_value(cfg -> 'headers' -> k, telemetry._member(path || '.config.headers', k));
		END LOOP;
	END IF;

	-- Secrets go only where the owner approved them, environment variables
	-- only when a superuser listed them (finding 3 of issue 10).
	problem := telemetry._provider_refs_problem(ptype, cfg, path || '.config');
	IF problem IS NOT NULL THEN
		PERFORM telemetry._raise('42501', problem, NULL,
			'Named secrets are sent only to the hosts the extension''s owner gave them with telemetry_set_secret(name, value, hosts); '
			'environment variables only when a superuser lists them in telemetry.allowed_env.');
	END IF;

	-- Destination policy (telemetry.allowed_destinations): the URL this
	-- provider sends to (a literal, a secret's value or the type's default)
	-- may reach a non-public address only when a superuser listed it (42501).
	-- The errors name dest_path and the kind of address, never the URL (it
	-- may be a secret).  Connect time checks the resolved addresses again.
	dest_url := telemetry._destination_url(ptype, cfg);
	dest_path := path || '.config.' || COALESCE(telemetry._destination_key(ptype), 'type');
	PERFORM telemetry._check_destination(dest_url, dest_path);

	RETURN jsonb_build_object('type', ptype, 'name', p -> 'name', 'config', cfg);
END
$$;

-- Validate one anomaly threshold of an event; props are its normalized
-- properties.  STABLE, not IMMUTABLE: the longest window allowed is the
-- superuser-only telemetry.anomaly_max_window (the library is loaded by
-- then: _validate_spec has called its C functions for the versions, so a
-- placeholder value set by another role has been discarded).
CREATE FUNCTION telemetry._validate_threshold(t jsonb, path text, props jsonb, sensitive boolean) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	metric text;
	lo numeric;
	hi numeric;
	agg text;
	win text;
	w interval;
	prop jsonb;
	problem text;
BEGIN
	PERFORM telemetry._expect(t, 'object', path);
	PERFORM telemetry._allowed_keys(t, ARRAY['metric', 'min', 'max', 'aggregate', 'window'], path);
	metric := telemetry._opt_text(t, 'metric', path, 1000);
	lo := telemetry._opt_number(t, 'min', path, -1e300, 1e300, false);
	hi := telemetry._opt_number(t, 'max', path, -1e300, 1e300, false);
	agg := telemetry._opt_text(t, 'aggregate', path, 1000);
	win := telemetry._opt_text(t, 'window', path, 100);
	IF lo IS NULL AND hi IS NULL THEN
		PERFORM telemetry._invalid(path, 'a threshold needs min, max or both');
	END IF;
	IF lo IS NOT NULL AND hi IS NOT NULL AND lo > hi THEN
		PERFORM telemetry._invalid(path, 'min ' || telemetry._short(lo::text) || ' is greater than max ' || telemetry._short(hi::text));
	END IF;
	IF agg IS NOT NULL AND NOT agg = ANY (ARRAY['avg', 'p50', 'p95', 'p99', 'min', 'max', 'count']) THEN
		PERFORM telemetry._invalid(path || '.aggregate', 'unknown aggregate ' || telemetry._q(agg) || ' (allowed: avg, p50, p95, p99, min, max, count)');
	END IF;
	IF agg IS NULL AND win IS NOT NULL THEN
		PERFORM telemetry._invalid(path || '.window', 'a window needs an aggregate');
	END IF;
	IF agg IS NOT NULL THEN
		IF win IS NULL THEN
			PERFORM telemetry._invalid(path || '.window', 'required with an aggregate (for example "5 minutes")');
		END IF;
		BEGIN
			w := win::interval;
		EXCEPTION WHEN OTHERS THEN
			PERFORM telemetry._invalid(path || '.window', 'invalid interval ' || telemetry._q(win));
		END;
		-- its real span: no months or years, no negative part, within the
		-- owner's bound (the same test runs again at every check)
		problem := telemetry._window_problem(w, telemetry._anomaly_max_window());
		IF problem IS NOT NULL THEN
			PERFORM telemetry._invalid(path || '.window', problem);
		END IF;
	END IF;
	IF metric IS NULL AND COALESCE(agg, '') <> 'count' THEN
		PERFORM telemetry._invalid(path || '.metric', 'required string is missing');
	END IF;
	IF metric IS NOT NULL THEN
		SELECT value INTO prop FROM jsonb_array_elements(props) WHERE value ->> 'name' = metric;
		IF prop IS NULL THEN
			PERFORM telemetry._invalid(path || '.metric', 'property ' || telemetry._q(metric) || ' is not declared');
		END IF;
		IF prop ->> 'type' <> 'number' THEN
			PERFORM telemetry._invalid(path || '.metric', 'property ' || telemetry._q(metric) || ' is a ' || (prop ->> 'type') || ', not a number');
		END IF;
		IF sensitive THEN
			PERFORM telemetry._invalid(path || '.metric', 'the event is sensitive, so every property is redacted and cannot be measured');
		END IF;
		IF (prop ->> 'redaction') IS NOT NULL THEN
			PERFORM telemetry._invalid(path || '.metric', 'property ' || telemetry._q(metric) || ' is redacted (pii, redact or redaction) and cannot be measured');
		END IF;
	END IF;
	RETURN jsonb_build_object('metric', metric, 'min', lo, 'max', hi, 'aggregate', agg, 'window', win);
END
$$;

-- Validate a whole spec document; return it normalized:
-- {key, version, meta..., config..., providers: [...], context: [...], events: [...]}.
CREATE FUNCTION telemetry._validate_spec(spec jsonb) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	meta jsonb;
	cfg jsonb;
	events jsonb;
	ev jsonb;
	ep text;
	n jsonb;
	nev jsonb;
	nevents jsonb[] := '{}';
	providers jsonb := '[]';
	context jsonb := '[]';
	props jsonb;
	privacy text;
	sensitive boolean;
	ret jsonb;
	smp jsonb;
	ad jsonb;
	th jsonb := '[]';
	acts text[];
	a text;
	i integer;
	j integer;
	pname text;
	seen text[] := '{}';
	pnames text[] := '{}';
	stability text;
	ekey text;
	ever text;
	spec_ad jsonb;
BEGIN
	IF spec IS NULL THEN
		PERFORM telemetry._invalid('spec', 'must not be null');
	END IF;
	PERFORM telemetry._expect(spec, 'object', 'spec');
	IF octet_length(spec::text) > 1048576 THEN
		PERFORM telemetry._invalid('spec', 'larger than 1 MB (' || octet_length(spec::text) || ' bytes)');
	END IF;
	PERFORM telemetry._allowed_keys(spec, ARRAY['meta', 'config', 'events'], 'spec');

	-- meta
	meta := telemetry._expect(spec -> 'meta', 'object', 'meta');
	PERFORM telemetry._allowed_keys(meta, ARRAY['key', 'name', 'version', 'title', 'description', 'domain', 'owners', 'tags', 'stability'], 'meta');
	n := jsonb_build_object(
		'key', telemetry._key_or_name(meta, 'meta'),
		'version', telemetry._check_version(meta -> 'version', 'meta.version'),
		'title', telemetry._opt_text(meta, 'title', 'meta', 1000),
		'description', telemetry._opt_text(meta, 'description', 'meta'),
		'domain', telemetry._opt_text(meta, 'domain', 'meta', 1000),
		'owners', to_jsonb(telemetry._opt_text_array(meta, 'owners', 'meta')),
		'tags', to_jsonb(telemetry._opt_text_array(meta, 'tags', 'meta')));
	stability := telemetry._opt_text(meta, 'stability', 'meta', 1000);
	IF stability IS NOT NULL AND NOT stability = ANY (ARRAY['experimental', 'beta', 'stable', 'deprecated']) THEN
		PERFORM telemetry._invalid('meta.stability', 'unknown stability ' || telemetry._q(stability) || ' (allowed: experimental, beta, stable, deprecated)');
	END IF;
	n := n || jsonb_build_object('stability', stability);

	-- config
	cfg := telemetry._opt_object(spec, 'config', 'config');
	PERFORM telemetry._allowed_keys(cfg, ARRAY['defaultRetentionDays', 'defaultSamplingRate', 'providers', 'anomalyDetection', 'context'], 'config');
	n := n || jsonb_build_object(
		'defaultRetentionDays', telemetry._opt_number(cfg, 'defaultRetentionDays', 'config', 1, 36500, true),
		'defaultSamplingRate', telemetry._opt_number(cfg, 'defaultSamplingRate', 'config', 0, 1, false));
	IF cfg ? 'providers' AND jsonb_typeof(cfg -> 'providers') <> 'null' THEN
		PERFORM telemetry._expect(cfg -> 'providers', 'array', 'config.providers');
		IF jsonb_array_length(cfg -> 'providers') > 16 THEN
			PERFORM telemetry._invalid('config.providers', 'more than 16 providers');
		END IF;
		FOR i IN 0 .. jsonb_array_length(cfg -> 'providers') - 1 LOOP
			providers := providers || jsonb_build_array(telemetry._validate_provider(cfg -> 'providers' -> i, 'config.providers[' || i || ']'));
		END LOOP;
	END IF;
	spec_ad := telemetry._opt_object(cfg, 'anomalyDetection', 'config.anomalyDetection');
	PERFORM telemetry._allowed_keys(spec_ad, ARRAY['enabled', 'checkIntervalMs'], 'config.anomalyDetection');
	n := n || jsonb_build_object(
		'anomalyEnabled', telemetry._opt_bool(spec_ad, 'enabled', 'config.anomalyDetection', true),
		'checkIntervalMs', telemetry._opt_number(spec_ad, 'checkIntervalMs', 'config.anomalyDetection', 100, 86400000, true));
	IF cfg ? 'context' AND jsonb_typeof(cfg -> 'context') <> 'null' THEN
		context := telemetry._validate_properties(cfg -> 'context', 'config.context', false);
	END IF;

	-- events
	events := telemetry._expect(spec -> 'events', 'array', 'events');
	IF jsonb_array_length(events) = 0 THEN
		PERFORM telemetry._invalid('events', 'a spec needs at least one event');
	END IF;
	IF jsonb_array_length(events) > 1000 THEN
		PERFORM telemetry._invalid('events', 'more than 1000 events');
	END IF;
	FOR i IN 0 .. jsonb_array_length(events) - 1 LOOP
		ep := 'events[' || i || ']';
		ev := telemetry._expect(events -> i, 'object', ep);
		PERFORM telemetry._allowed_keys(ev, ARRAY['key', 'name', 'version', 'semantics', 'privacy', 'properties', 'retention', 'sampling', 'anomalyDetection', 'tags', 'description'], ep);
		ekey := telemetry._key_or_name(ev, ep);
		ever := telemetry._check_version(ev -> 'version', ep || '.version');
		IF (ekey || '@' || ever) = ANY (seen) THEN
			PERFORM telemetry._invalid(ep, 'event ' || telemetry._q(ekey || '@' || ever) || ' is defined twice in this spec');
		END IF;
		seen := seen || (ekey || '@' || ever);

		PERFORM telemetry._expect(ev -> 'semantics', 'object', ep || '.semantics');
		PERFORM telemetry._allowed_keys(ev -> 'semantics', ARRAY['what', 'who', 'why'], ep || '.semantics');
		IF telemetry._opt_text(ev -> 'semantics', 'what', ep || '.semantics') IS NULL THEN
			PERFORM telemetry._invalid(ep || '.semantics.what', 'required string is missing');
		END IF;

		privacy := telemetry._opt_text(ev, 'privacy', ep, 1000);
		IF privacy IS NULL THEN
			PERFORM telemetry._invalid(ep || '.privacy', 'required string is missing');
		END IF;
		IF NOT privacy = ANY (ARRAY['public', 'internal', 'pii', 'sensitive']) THEN
			PERFORM telemetry._invalid(ep || '.privacy', 'unknown privacy ' || telemetry._q(privacy) || ' (allowed: public, internal, pii, sensitive)');
		END IF;
		sensitive := privacy = 'sensitive';
		props := telemetry._validate_properties(ev -> 'properties', ep || '.properties', sensitive);

		nev := jsonb_build_object(
			'key', ekey, 'version', ever, 'privacy', privacy,
			'what', ev #>> '{semantics,what}',
			'who', telemetry._opt_text(ev -> 'semantics', 'who', ep || '.semantics'),
			'why', telemetry._opt_text(ev -> 'semantics', 'why', ep || '.semantics'),
			'tags', to_jsonb(telemetry._opt_text_array(ev, 'tags', ep)),
			'description', telemetry._opt_text(ev, 'description', ep),
			'properties', props);

		-- retention
		ret := telemetry._opt_object(ev, 'retention', ep || '.retention');
		PERFORM telemetry._allowed_keys(ret, ARRAY['days', 'policy'], ep || '.retention');
		a := COALESCE(telemetry._opt_text(ret, 'policy', ep || '.retention', 1000), 'delete');
		IF NOT a = ANY (ARRAY['delete', 'archive']) THEN
			PERFORM telemetry._invalid(ep || '.retention.policy', 'unknown policy ' || telemetry._q(a) || ' (allowed: delete, archive)');
		END IF;
		nev := nev || jsonb_build_object(
			'retentionDays', telemetry._opt_number(ret, 'days', ep || '.retention', 1, 36500, true),
			'retentionPolicy', a);

		-- sampling
		smp := telemetry._opt_object(ev, 'sampling', ep || '.sampling');
		PERFORM telemetry._allowed_keys(smp, ARRAY['rate', 'conditions', 'by'], ep || '.sampling');
		IF smp ? 'conditions' THEN
			PERFORM telemetry._opt_text_array(smp, 'conditions', ep || '.sampling');
		END IF;
		a := telemetry._opt_text(smp, 'by', ep || '.sampling', 1000);
		IF a IS NOT NULL THEN
			PERFORM telemetry._check_key(a, ep || '.sampling.by');
		END IF;
		nev := nev || jsonb_build_object(
			'samplingRate', telemetry._opt_number(smp, 'rate', ep || '.sampling', 0, 1, false),
			'samplingBy', a);

		-- anomaly detection
		ad := telemetry._opt_object(ev, 'anomalyDetection', ep || '.anomalyDetection');
		PERFORM telemetry._allowed_keys(ad, ARRAY['enabled', 'minimumSample', 'thresholds', 'actions'], ep || '.anomalyDetection');
		th := '[]';
		IF jsonb_typeof(ad -> 'thresholds') <> 'null' THEN
			PERFORM telemetry._expect(ad -> 'thresholds', 'array', ep || '.anomalyDetection.thresholds');
			IF jsonb_array_length(ad -> 'thresholds') > 64 THEN
				PERFORM telemetry._invalid(ep || '.anomalyDetection.thresholds', 'more than 64 thresholds');
			END IF;
			FOR j IN 0 .. jsonb_array_length(ad -> 'thresholds') - 1 LOOP
				th := th || jsonb_build_array(telemetry._validate_threshold(ad -> 'thresholds' -> j,
					ep || '.anomalyDetection.thresholds[' || j || ']', props, sensitive));
			END LOOP;
		END IF;
		acts := '{}';
		IF jsonb_typeof(ad -> 'actions') <> 'null' THEN
			PERFORM telemetry._expect(ad -> 'actions', 'array', ep || '.anomalyDetection.actions');
			FOR j IN 0 .. jsonb_array_length(ad -> 'actions') - 1 LOOP
				a := telemetry._expect(ad -> 'actions' -> j, 'string', ep || '.anomalyDetection.actions[' || j || ']') #>> '{}';
				IF NOT a = ANY (ARRAY['alert', 'log', 'trigger_regen']) THEN
					PERFORM telemetry._invalid(ep || '.anomalyDetection.actions[' || j || ']', 'unknown action ' || telemetry._q(a) || ' (allowed: alert, log, trigger_regen)');
				END IF;
				IF NOT a = ANY (acts) THEN
					acts := acts || a;
				END IF;
			END LOOP;
		END IF;
		nev := nev || jsonb_build_object(
			'anomalyEnabled', (ad <> '{}') AND telemetry._opt_bool(ad, 'enabled', ep || '.anomalyDetection', true),
			'minimumSample', COALESCE(telemetry._opt_number(ad, 'minimumSample', ep || '.anomalyDetection', 1, 2147483647, true), 1),
			'thresholds', th,
			'actions', to_jsonb(acts));
		IF (nev ->> 'anomalyEnabled')::boolean AND jsonb_array_length(th) = 0 THEN
			PERFORM telemetry._invalid(ep || '.anomalyDetection.thresholds', 'enabled anomaly detection needs at least one threshold');
		END IF;
		nevents := nevents || nev;
	END LOOP;

	RETURN n || jsonb_build_object('providers', providers, 'context', context, 'events', to_jsonb(nevents));
END
$$;
