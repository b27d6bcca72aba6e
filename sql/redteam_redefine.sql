-- Red-team review (issue 10 follow-up): the spec lifecycle says a changed
-- definition under an existing event key@version is an error, and that
-- weakening a redaction needs a new major version.  A spec admin bypasses
-- both by unregistering the spec and registering it again: rd.e@1.0.0
-- then stores "email" raw for every writer that pinned version 1.0.0.
-- Expected: the second registration is refused (42710), as it is while
-- the first one is registered.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SELECT telemetry_register_spec('{"meta": {"key": "rd", "version": "1.0.0"},
	"events": [{"key": "rd.e", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal",
		"properties": {"email": {"type": "string", "pii": true}}}]}');
SELECT telemetry_track('rd.e', '1.0.0', '{"email": "victim@example.com"}') IS NOT NULL AS stored;
SELECT telemetry_unregister_spec('rd', '1.0.0');
DO $$
BEGIN
	PERFORM telemetry_register_spec('{"meta": {"key": "rd", "version": "1.0.0"},
		"events": [{"key": "rd.e", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal",
			"properties": {"email": {"type": "string"}}}]}');
	RAISE NOTICE 'redefined';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'refused: %', SQLSTATE;
END
$$;
DO $$ BEGIN
	PERFORM telemetry_track('rd.e', '1.0.0', '{"email": "victim@example.com"}');
EXCEPTION WHEN undefined_object THEN NULL;
END $$;
SELECT count(*) AS raw_values FROM telemetry.events WHERE properties ->> 'email' = 'victim@example.com';
DROP EXTENSION telemetry;
