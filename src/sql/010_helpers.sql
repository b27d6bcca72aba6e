-- telemetry: small internal helpers used by the catalog functions.

CREATE FUNCTION telemetry._semver_key(text) RETURNS bytea
	AS 'MODULE_PATHNAME', 'telemetry_semver_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION telemetry._semver_valid(text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'telemetry_semver_valid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Whether the current effective user has the privileges of the extension's
-- owner, outside any security-restricted operation: the test for revealing
-- secrets and for owner-only actions.  Inside a SECURITY DEFINER function of
-- the extension it is always true, so only functions that run as their
-- caller may use it (sql/hardening_privileges.sql checks).
CREATE FUNCTION telemetry._caller_is_owner() RETURNS boolean
	AS 'MODULE_PATHNAME', 'telemetry_caller_is_owner'
	LANGUAGE C STABLE;

-- Raise an error with the statement hidden from the server log (the
-- statement may hold a spec with literal secrets, or a secret): SQLSTATE,
-- message, optional detail and hint.
CREATE FUNCTION telemetry._raise(sqlstate text, message text, detail text DEFAULT NULL, hint text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_raise'
	LANGUAGE C;

-- Whether telemetry.allowed_env lists an environment variable name.
CREATE FUNCTION telemetry._env_allowed(name text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'telemetry_env_allowed_sql'
	LANGUAGE C STABLE STRICT;

-- A spec file on the server, at most 1 MB; checks pg_read_server_files itself.
CREATE FUNCTION telemetry._read_spec_file(path text) RETURNS text
	AS 'MODULE_PATHNAME', 'telemetry_read_spec_file'
	LANGUAGE C VOLATILE STRICT;

-- A value for an error message, cut to a readable length.
CREATE FUNCTION telemetry._short(v text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN length(v) > 64 THEN left(v, 61) || '...' ELSE v END
$$;

-- A value quoted for an error message, cut to a readable length.
CREATE FUNCTION telemetry._q(v text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT '"' || CASE WHEN length(v) > 64 THEN left(v, 61) || '...' ELSE v END || '"'
$$;

-- Raise the catalog's validation error: SQLSTATE 22023, "<json path>: <problem>",
-- with the statement hidden from the server log.
CREATE FUNCTION telemetry._invalid(path text, problem text) RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_invalid'
	LANGUAGE C;

-- A member name appended to a JSON path, cut so hostile names keep messages short.
CREATE FUNCTION telemetry._member(path text, name text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT path || '.' || CASE WHEN length(name) > 128 THEN left(name, 61) || '...' ELSE name END
$$;

-- An optional object member: '{}' when absent or JSON null, error when not an object.
CREATE FUNCTION telemetry._opt_object(o jsonb, k text, path text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v jsonb := o -> k;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN '{}';
	END IF;
	RETURN telemetry._expect(v, 'object', path);
END
$$;

-- The JSON type name used in messages.
CREATE FUNCTION telemetry._jtype(v jsonb) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT COALESCE(jsonb_typeof(v), 'nothing') $$;

-- Check that v has JSON type t (object, array, string, number, boolean).
CREATE FUNCTION telemetry._expect(v jsonb, t text, path text) RETURNS jsonb
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		PERFORM telemetry._invalid(path, 'required ' || t || ' is missing');
	ELSIF jsonb_typeof(v) <> t THEN
		PERFORM telemetry._invalid(path, 'must be ' || CASE WHEN t IN ('object', 'array') THEN 'an ' ELSE 'a ' END || t || ', got ' || jsonb_typeof(v));
	END IF;
	RETURN v;
END
$$;

-- Check that object o has only the allowed keys.
CREATE FUNCTION telemetry._allowed_keys(o jsonb, allowed text[], path text) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	k text;
BEGIN
	FOR k IN SELECT jsonb_object_keys(o) ORDER BY 1 LOOP
		IF NOT k = ANY (allowed) THEN
			PERFORM telemetry._invalid(path, 'unknown key ' || telemetry._q(k) ||
				CASE WHEN cardinality(allowed) = 0 THEN ' (no keys allowed here)'
				ELSE ' (allowed: ' || array_to_string(allowed, ', ') || ')' END);
		END IF;
	END LOOP;
END
$$;

-- An optional string member: NULL when absent, error when not a string.
CREATE FUNCTION telemetry._opt_text(o jsonb, k text, path text, maxlen integer DEFAULT 10000) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v jsonb := o -> k;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	PERFORM telemetry._expect(v, 'string', path || '.' || k);
	IF length(v #>> '{}') > maxlen THEN
		PERFORM telemetry._invalid(path || '.' || k, 'longer than ' || maxlen || ' characters');
	END IF;
	RETURN v #>> '{}';
END
$$;

-- An optional boolean member.
CREATE FUNCTION telemetry._opt_bool(o jsonb, k text, path text, dflt boolean) RETURNS boolean
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v jsonb := o -> k;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	PERFORM telemetry._expect(v, 'boolean', path || '.' || k);
	RETURN v::boolean;
END
$$;

-- An optional number member within [lo, hi]; integral when asked.
CREATE FUNCTION telemetry._opt_number(o jsonb, k text, path text, lo numeric, hi numeric, integral boolean) RETURNS numeric
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v jsonb := o -> k;
	n numeric;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	PERFORM telemetry._expect(v, 'number', path || '.' || k);
	n := v::numeric;
	IF integral AND n <> trunc(n) THEN
		PERFORM telemetry._invalid(path || '.' || k, 'must be an integer, got ' || telemetry._short(n::text));
	END IF;
	IF n < lo OR n > hi THEN
		PERFORM telemetry._invalid(path || '.' || k, 'must be between ' || lo || ' and ' || hi || ', got ' || telemetry._short(n::text));
	END IF;
	RETURN n;
END
$$;

-- An optional array of strings.
CREATE FUNCTION telemetry._opt_text_array(o jsonb, k text, path text) RETURNS text[]
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v jsonb := o -> k;
	i integer;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN '{}';
	END IF;
	PERFORM telemetry._expect(v, 'array', path || '.' || k);
	IF jsonb_array_length(v) > 100 THEN
		PERFORM telemetry._invalid(path || '.' || k, 'more than 100 items');
	END IF;
	FOR i IN 0 .. jsonb_array_length(v) - 1 LOOP
		PERFORM telemetry._expect(v -> i, 'string', path || '.' || k || '[' || i || ']');
		IF length(v ->> i) > 256 THEN
			PERFORM telemetry._invalid(path || '.' || k || '[' || i || ']', 'longer than 256 characters');
		END IF;
	END LOOP;
	RETURN ARRAY(SELECT jsonb_array_elements_text(v));
END
$$;

-- A key or name: letters, digits, "_", "-", ".", starting with a letter, 128 at most.
CREATE FUNCTION telemetry._check_key(v text, path text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF length(v) > 128 THEN
		PERFORM telemetry._invalid(path, 'longer than 128 characters');
	END IF;
	IF v !~ '^[A-Za-z][A-Za-z0-9_.-]*$' THEN
		PERFORM telemetry._invalid(path, 'invalid key ' || telemetry._q(v) || ': use letters, digits, "_", "-" and ".", starting with a letter');
	END IF;
	RETURN v;
END
$$;

-- A version: a semver string, or an integer N meaning N.0.0 (the seed's older form).
CREATE FUNCTION telemetry._check_version(v jsonb, path text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	s text;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		PERFORM telemetry._invalid(path, 'required version is missing');
	ELSIF jsonb_typeof(v) = 'number' THEN
		IF v::numeric <> trunc(v::numeric) OR v::numeric < 0 OR v::numeric > 2147483647 THEN
			PERFORM telemetry._invalid(path, 'a numeric version must be a non-negative integer, got ' || telemetry._short(v::text));
		END IF;
		RETURN trunc(v::numeric)::bigint::text || '.0.0';
	ELSIF jsonb_typeof(v) <> 'string' THEN
		PERFORM telemetry._invalid(path, 'must be a string, got ' || jsonb_typeof(v));
	END IF;
	s := v #>> '{}';
	IF NOT telemetry._semver_valid(s) THEN
		PERFORM telemetry._invalid(path, 'invalid semantic version ' || telemetry._q(s) || ' (expected MAJOR.MINOR.PATCH, as in 1.2.3 or 1.2.3-beta.1)');
	END IF;
	RETURN s;
END
$$;

-- meta.key / events[].key with the older "name" as an alias.
CREATE FUNCTION telemetry._key_or_name(o jsonb, path text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	k text := telemetry._opt_text(o, 'key', path, 1000);
	n text := telemetry._opt_text(o, 'name', path, 1000);
BEGIN
	IF k IS NULL AND n IS NULL THEN
		PERFORM telemetry._invalid(path || '.key', 'required string is missing');
	END IF;
	IF k IS NOT NULL AND n IS NOT NULL AND k <> n THEN
		PERFORM telemetry._invalid(path || '.name', 'differs from ' || path || '.key');
	END IF;
	RETURN telemetry._check_key(COALESCE(k, n), path || CASE WHEN k IS NULL THEN '.name' ELSE '.key' END);
END
$$;
