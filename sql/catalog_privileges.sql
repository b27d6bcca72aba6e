-- Who may register, load, unregister and read specs, and who sees secrets.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'

CREATE ROLE regress_telemetry_plain;
CREATE ROLE regress_telemetry_admin;
CREATE ROLE regress_telemetry_loader;

-- Registration, loading and unregistering are not executable by PUBLIC.
SELECT f, has_function_privilege('regress_telemetry_plain', f, 'EXECUTE') AS plain_may_execute
FROM unnest(ARRAY['telemetry_register_spec(jsonb)', 'telemetry_load_spec(text)', 'telemetry_unregister_spec(text,text)',
	'telemetry_spec(text,text)', 'telemetry_event_def(text,text)']) AS f;

-- A spec with literal secrets, environment references and named secrets,
-- and URLs whose paths and queries are bearer secrets.  Named secrets are
-- the owner's, each with the hosts it may be sent to; a URL may itself be a
-- named secret.
SELECT telemetry_set_secret('hook_token', 'Bearer NAMED_TOKEN', ARRAY['hooks.example']);
SELECT telemetry_set_secret('slack_url', 'https://hooks.slack.example/services/T0/B0/NAMED_PATH', ARRAY['hooks.slack.example']);
SELECT telemetry_set_secret('slack_sign', 'whsec_TkFNRUQ=', ARRAY['hooks.slack.example']);
SELECT telemetry_register_spec('{
  "meta": {"key": "app.secrets", "version": "1.0.0"},
  "config": {"providers": [
    {"type": "posthog", "config": {"projectApiKey": "phc_LITERAL_KEY", "host": "https://eu.posthog.example"}},
    {"type": "segment", "config": {"writeKey": {"env": "SEGMENT_WRITE_KEY"}}},
    {"type": "webhook", "config": {"url": "https://hooks.example/services/T0001/LITERAL_PATH?token=LITERAL_QUERY", "secret": "whsec_TElURVJBTA==",
                                   "headers": {"Authorization": "Bearer LITERAL_TOKEN", "X-Ref": {"secret": "hook_token"}}}},
    {"type": "opentelemetry", "config": {"endpoint": "https://otel.example:4318/LITERAL_PATH/v1?api_key=LITERAL_QUERY#LITERAL_FRAGMENT",
                                         "headers": {"api-key": "LITERAL_OTEL"}}},
    {"type": "webhook", "name": "slack", "config": {"url": {"secret": "slack_url"}, "secret": {"secret": "slack_sign"}}}
  ]},
  "events": [{"key": "app.secrets.ev", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');

-- The extension's owner sees the document as registered.
SELECT jsonb_pretty(telemetry_spec('app.secrets') #> '{config,providers}');

SET ROLE regress_telemetry_plain;
-- a plain role cannot register, load or unregister
SELECT telemetry_load_spec(:'sigil');
SELECT telemetry_register_spec('{"meta": {"key": "x", "version": "1.0.0"}, "events": []}');
SELECT telemetry_unregister_spec('app.secrets', '1.0.0');
-- nor read the catalog tables, which hold provider configs
SELECT * FROM telemetry.specs;
SELECT * FROM telemetry.providers;
SELECT * FROM telemetry.secrets;
-- nor read server files through the extension
SELECT telemetry._read_spec_file('postgresql.conf');
-- it reads the catalog view, event definitions and specs, with literal
-- secret values masked and URLs cut to scheme://host[:port] (references
-- are not secrets and stay)
SELECT event, version, spec FROM telemetry.event_catalog;
SELECT telemetry_event_def('app.secrets.ev') ->> 'spec' AS spec;
SELECT jsonb_pretty(telemetry_spec('app.secrets') #> '{config,providers}');
SELECT telemetry_spec('app.secrets')::text ~ 'LITERAL' AS shows_a_secret;
RESET ROLE;

-- A role granted EXECUTE may register and unregister; the catalog records
-- who registered; it is not the owner, so it sees masked secrets too.
GRANT EXECUTE ON FUNCTION telemetry_register_spec(jsonb), telemetry_unregister_spec(text, text) TO regress_telemetry_admin;
SET ROLE regress_telemetry_admin;
SELECT telemetry_register_spec('{"meta": {"key": "app.admin", "version": "1.0.0"},
  "events": [{"key": "app.admin.ev", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public", "properties": {}}]}');
SELECT telemetry_spec('app.secrets')::text ~ 'LITERAL' AS shows_a_secret;
-- loading a file needs its own grant
SELECT telemetry_load_spec(:'sigil');
RESET ROLE;
SELECT key, CASE WHEN registered_by = current_user THEN '(superuser)' ELSE registered_by END AS registered_by
FROM telemetry.specs ORDER BY key;
SET ROLE regress_telemetry_admin;
SELECT telemetry_unregister_spec('app.admin', '1.0.0');
RESET ROLE;

-- telemetry_load_spec also needs the privileges of pg_read_server_files.
GRANT EXECUTE ON FUNCTION telemetry_load_spec(text), telemetry_register_spec(jsonb) TO regress_telemetry_loader;
SET ROLE regress_telemetry_loader;
SELECT telemetry_load_spec(:'sigil');
RESET ROLE;
GRANT pg_read_server_files TO regress_telemetry_loader;
SET ROLE regress_telemetry_loader;
SELECT telemetry_load_spec(:'sigil');
RESET ROLE;
SELECT key, version, CASE WHEN registered_by = current_user THEN '(superuser)' ELSE registered_by END AS registered_by
FROM telemetry.specs ORDER BY key;

-- A spec admin re-registering a spec with a guessed literal secret learns
-- only that the providers differ, not which field (adversarial review: a
-- path would test one secret at a time); the owner sees the path.
SELECT telemetry_register_spec('{"meta": {"key": "guess", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://example.com/h", "secret": "whsec_c2VjcmV0"}}]},
	"events": [{"key": "guess.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}') AS registered;
SET ROLE regress_telemetry_admin;
SELECT telemetry_register_spec('{"meta": {"key": "guess", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://example.com/h", "secret": "whsec_Z3Vlc3M="}}]},
	"events": [{"key": "guess.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}');
RESET ROLE;
SELECT telemetry_register_spec('{"meta": {"key": "guess", "version": "1.0.0"},
	"config": {"providers": [{"type": "webhook", "config": {"url": "https://example.com/h", "secret": "whsec_Z3Vlc3M="}}]},
	"events": [{"key": "guess.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}');

DROP EXTENSION telemetry;
DROP ROLE regress_telemetry_plain;
DROP ROLE regress_telemetry_admin;
DROP ROLE regress_telemetry_loader;
