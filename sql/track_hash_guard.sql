-- Hash pseudonyms cannot be tested by guessing: a session whose roles can
-- read stored events may not track an event in which a hash redaction
-- applies (issue 10, finding 9), unless a superuser allows it.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

CREATE ROLE regress_hg_writer;
CREATE ROLE regress_hg_reader;
CREATE ROLE regress_hg_colreader;
CREATE ROLE regress_hg_archive;
CREATE ROLE regress_hg_noinherit NOINHERIT;
CREATE ROLE regress_hg_login LOGIN;
GRANT SELECT ON telemetry.events TO regress_hg_reader;
GRANT SELECT (properties) ON telemetry.events TO regress_hg_colreader;
GRANT SELECT ON telemetry_archive.events TO regress_hg_archive;
GRANT regress_hg_reader TO regress_hg_noinherit;

-- try(role, sql): runs sql as role; "ok" or "SQLSTATE: message".
CREATE FUNCTION pg_temp.try(r text, q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	res text;
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', r);
	BEGIN
		EXECUTE q;
		res := 'ok';
	EXCEPTION WHEN OTHERS THEN
		res := SQLSTATE || ': ' || SQLERRM;
	END;
	RESET ROLE;
	RETURN res;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text, text) TO PUBLIC;

-- t.redact hashes property h; the context hashes userId.
SELECT r.role, pg_temp.try(r.role, q.sql) AS result, q.label
FROM (VALUES ('regress_hg_writer'), ('regress_hg_reader'), ('regress_hg_colreader'), ('regress_hg_archive'),
	('regress_hg_noinherit')) AS r(role),
	(VALUES ('hashed property', $$SELECT telemetry_track('t.redact', '1', '{"h": "guess@example.com"}')$$),
		('hashed context key', $$SELECT telemetry_track('t.all', '1', '{}', '{"userId": "u-guess"}')$$),
		('no hash applies', $$SELECT telemetry_track('t.redact', '1', '{"m": "x", "h": null}')$$)) AS q(label, sql)
ORDER BY q.label, r.role;

-- The refusal as users see it (SQLSTATE 42501, with the reason and a hint).
SET ROLE regress_hg_reader;
SELECT telemetry_track('t.redact', '1', '{"h": "guess@example.com"}');
RESET ROLE;

-- The answer is cached per backend; a GRANT or REVOKE in between is seen.
SELECT pg_temp.try('regress_hg_writer', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS before_grant;
GRANT SELECT ON telemetry.events TO regress_hg_writer;
SELECT pg_temp.try('regress_hg_writer', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS after_grant;
REVOKE SELECT ON telemetry.events FROM regress_hg_writer;
SELECT pg_temp.try('regress_hg_writer', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS after_revoke;
-- ... and so is a membership in a reading role
GRANT regress_hg_reader TO regress_hg_writer;
SELECT pg_temp.try('regress_hg_writer', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS member_of_reader;
REVOKE regress_hg_reader FROM regress_hg_writer;
SELECT pg_temp.try('regress_hg_writer', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS no_longer_member;

-- A reader's session cannot go through another role either: not by SET
-- ROLE to a writer (its session user can read), nor through a writer's
-- SECURITY DEFINER function, nor through a trigger on a writer's table.
-- (SET SESSION AUTHORIZATION stands for the reader logging in.)
GRANT regress_hg_writer TO regress_hg_login;
GRANT SELECT ON telemetry.events TO regress_hg_login;
CREATE FUNCTION public.regress_hg_track(v text) RETURNS uuid LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT public.telemetry_track('t.redact', '1', jsonb_build_object('h', v)) $$;
ALTER FUNCTION public.regress_hg_track(text) OWNER TO regress_hg_writer;
CREATE TABLE public.regress_hg_signups (h text);
ALTER TABLE public.regress_hg_signups OWNER TO regress_hg_writer;
CREATE TRIGGER track AFTER INSERT ON public.regress_hg_signups FOR EACH ROW
	EXECUTE FUNCTION telemetry_track_trigger('t.redact', '1');
GRANT INSERT ON public.regress_hg_signups TO regress_hg_reader, regress_hg_login;
SET SESSION AUTHORIZATION regress_hg_login;
SET ROLE regress_hg_writer;
SELECT telemetry_track('t.redact', '1', '{"h": "guess@example.com"}');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_hg_reader;
SELECT public.regress_hg_track('guess@example.com');
INSERT INTO public.regress_hg_signups VALUES ('guess@example.com');
RESET SESSION AUTHORIZATION;
-- the writer itself may
SET ROLE regress_hg_writer;
SELECT public.regress_hg_track('real@example.com') IS NOT NULL AS tracked;
INSERT INTO public.regress_hg_signups VALUES ('real@example.com');
RESET ROLE;

-- Quarantine never aborts the caller: a reader's quarantined event keeps no
-- hash (the hashed key is dropped instead).
SET ROLE regress_hg_reader;
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('t.redact', '1', '{"m": 1, "h": "guess@example.com"}') AS quarantined;
RESET telemetry.on_invalid;
RESET ROLE;
SELECT properties, role FROM telemetry.rejected_events;

-- The owner (and superusers) may, and so may a role that can become one
-- (it could read the key); a superuser can allow readers, per role or
-- globally (telemetry.readers_may_hash is superuser-only).
SELECT telemetry_track('t.redact', '1', '{"h": "owner@example.com"}') IS NOT NULL AS owner_tracked;
CREATE ROLE regress_hg_super SUPERUSER;
CREATE ROLE regress_hg_admin NOINHERIT;
GRANT regress_hg_super TO regress_hg_admin;
SET SESSION AUTHORIZATION regress_hg_admin;
SELECT telemetry_track('t.redact', '1', '{"h": "admin@example.com"}') IS NOT NULL AS may_become_superuser_tracked;
RESET SESSION AUTHORIZATION;
SET ROLE regress_hg_reader;
SET telemetry.readers_may_hash = on;
RESET ROLE;
SET telemetry.readers_may_hash = on;
SELECT pg_temp.try('regress_hg_reader', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS allowed_by_superuser;
RESET telemetry.readers_may_hash;
SELECT pg_temp.try('regress_hg_reader', $$SELECT telemetry_track('t.redact', '1', '{"h": "a"}')$$) AS default_again;

-- what was stored: the writer's and the owner's hashed events, none of the
-- readers' guesses
SELECT count(*) FILTER (WHERE properties ->> 'h' LIKE 'hmac-sha256:%' OR context ->> 'userId' LIKE 'hmac-sha256:%') AS hashed,
	count(*) AS total FROM telemetry.events;

DROP TABLE public.regress_hg_signups;
DROP FUNCTION public.regress_hg_track(text);
DROP EXTENSION telemetry;
DROP ROLE regress_hg_writer;
DROP ROLE regress_hg_reader;
DROP ROLE regress_hg_colreader;
DROP ROLE regress_hg_archive;
DROP ROLE regress_hg_noinherit;
DROP ROLE regress_hg_login;
DROP ROLE regress_hg_admin;
DROP ROLE regress_hg_super;
