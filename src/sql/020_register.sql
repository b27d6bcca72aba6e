-- telemetry: spec validation (C, src/spec_validate.c and src/spec_provider.c).

-- A spec document checked and normalized, as registration compares it (the
-- policy checks on secrets, environment variables and destinations are
-- registration's own, and are not made here).
CREATE FUNCTION telemetry._validate_spec(spec jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'telemetry_validate_spec'
	LANGUAGE C STABLE;

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

-- The URL a provider sends to: its URL setting, the value of the secret it
-- names there, or the type's default host.  NULL when it sends nothing
-- (internal) or the secret is missing.  Reads telemetry.secrets: internal,
-- the owner's only.
CREATE FUNCTION telemetry._destination_url(ptype text, cfg jsonb) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_destination_url'
	LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION telemetry._destination_url(text, jsonb) FROM PUBLIC;

-- Whether a provider config may use the secrets and environment variables
-- it names: NULL when it may, else the problem, naming the setting (under
-- path) and never a value.  A {"secret": n} needs n to exist and its hosts
-- to include the provider's destination host (when the URL itself is that
-- secret, the host of its value); an {"env": NAME} needs NAME listed in
-- telemetry.allowed_env.  Registration refuses a problem with 42501;
-- telemetry_set_secret warns about providers a changed secret leaves out.
CREATE FUNCTION telemetry._provider_refs_problem(ptype text, cfg jsonb, path text) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_provider_refs_problem'
	LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION telemetry._provider_refs_problem(text, jsonb, text) FROM PUBLIC;
