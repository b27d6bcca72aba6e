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

-- The effective retention and sampling rate of an event version: its own,
-- else its governing spec version's default, else the global one.  The one
-- statement of that rule, for every reader of the catalog (the spec cache,
-- telemetry_event_def, telemetry.event_catalog).  global_days is the
-- global default the caller applies: telemetry.default_retention_days, or 0
-- for the spec cache, which leaves it to tracking (the setting in force
-- then, src/track.c).  IMMUTABLE and unpinned so that it is inlined.
CREATE FUNCTION telemetry._effective_retention_days(event_days integer, spec_days integer, global_days integer)
	RETURNS integer
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT COALESCE(event_days, spec_days, global_days) $$;

CREATE FUNCTION telemetry._effective_sampling_rate(event_rate double precision, spec_rate double precision)
	RETURNS double precision
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT COALESCE(event_rate, spec_rate, 1) $$;
