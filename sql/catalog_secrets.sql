-- Secrets and environment variables go only where the owner approved them:
-- a named secret to the hosts stored with it, an environment variable only
-- when telemetry.allowed_env lists it (issue 10, finding 3).  Refusals are
-- SQLSTATE 42501 naming the setting, never a value.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
SHOW telemetry.allowed_env;
-- only the server configuration sets it (a superuser, reloadable), and it
-- holds variable names
SET telemetry.allowed_env = 'AWS_SECRET_ACCESS_KEY';
ALTER SYSTEM SET telemetry.allowed_env = 'GOOD_NAME, bad name';
ALTER SYSTEM SET telemetry.allowed_env = 'A=B';

-- try(doc): "accepted: key@version" (then undone) or "SQLSTATE: message".
CREATE FUNCTION pg_temp.try(doc jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	BEGIN
		r := telemetry_register_spec(doc);
		RAISE SQLSTATE 'TLMOK';
	EXCEPTION
		WHEN SQLSTATE 'TLMOK' THEN
			RETURN 'accepted: ' || r;
		WHEN OTHERS THEN
			RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;
-- spec(providers): a one-event spec with these providers.
CREATE FUNCTION pg_temp.spec(providers jsonb) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object('meta', jsonb_build_object('key', 'sec', 'version', '1.0.0'),
		'config', jsonb_build_object('providers', providers),
		'events', jsonb_build_array(jsonb_build_object('key', 'sec.e', 'version', '1.0.0', 'privacy', 'public',
			'semantics', jsonb_build_object('what', 'w'), 'properties', '{}'::jsonb)))
$$;
-- try_set(name, value, hosts): "ok" or "SQLSTATE: message (hint)".
CREATE FUNCTION pg_temp.try_set(n text, v text, h text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	PERFORM telemetry_set_secret(n, v, h);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || COALESCE(' (hint: ' || NULLIF(hint, '') || ')', '');
END
$$;

-- Setting a secret: the owner names the hosts it may be sent to (exact
-- names or addresses, or "*.suffix"); without hosts it is an error.
SELECT c.label, pg_temp.try_set(c.n, c.v, c.h) AS result FROM (VALUES
	('no hosts', 'k', 'v', NULL::text[]),
	('empty hosts', 'k', 'v', '{}'),
	('a URL as host', 'k', 'v', '{https://api.segment.io}'),
	('a space', 'k', 'v', '{"a b"}'),
	('a bare star', 'k', 'v', '{*}'),
	('a star inside', 'k', 'v', '{a.*.example.com}'),
	('two dots', 'k', 'v', '{a..example.com}'),
	('a bad IPv6 address', 'k', 'v', '{[zz::1]}'),
	('a null host', 'k', 'v', ARRAY[NULL]),
	('101 hosts', 'k', 'v', ARRAY(SELECT 'h' || i FROM generate_series(1, 101) i)),
	('bad name', 'a b', 'v', '{h.example}'),
	('empty value', 'k', '', '{h.example}'),
	('URL value on another host', 'k', 'https://evil.example/x', '{hooks.example}'),
	('URL value with credentials', 'k', 'https://u:p@hooks.example/x', '{hooks.example}'),
	('URL value not http', 'k', 'ftp://hooks.example/x', '{hooks.example}'),
	('hosts normalized', 'norm', 'v', '{API.Segment.IO, "[::FFFF:7F00:1]", *.Example.COM, 10.1.2.3, api.segment.io}')
) AS c(label, n, v, h);
-- nothing was stored but the last, whose hosts are normalized
SELECT name, hosts FROM telemetry.secrets ORDER BY name;

-- Only the owner sets secrets: the function checks the current user (and
-- the table is the owner's).  Everyone may call it, so that a refused call
-- fails with the extension's error, which keeps the statement, and the
-- secret in it, out of the server log.
CREATE ROLE regress_sec_admin;
SET ROLE regress_sec_admin;
SELECT telemetry_set_secret('mine', 'v', '{my.example}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO telemetry.secrets (name, value, hosts) VALUES ('mine', 'v', '{my.example}');
RESET ROLE;

SELECT telemetry_set_secret('seg_key', 'SEG-VALUE-1f2e', ARRAY['api.segment.io']);
SELECT telemetry_set_secret('hook_sign', 'whsec_SE9PSy1WQUxVRS0xZjJl', ARRAY['hooks.example.com', '*.hooks.example.net']);
SELECT telemetry_set_secret('slack_url', 'https://hooks.slack.example/services/SLACK-VALUE-1f2e', ARRAY['hooks.slack.example']);
-- a URL secret stored with hosts that do not allow its own host (as an
-- owner writing the table directly could)
INSERT INTO telemetry.secrets (name, value, hosts) VALUES ('bad_url', 'https://elsewhere.example/BAD-VALUE-1f2e', '{hooks.slack.example}');

-- Registration: each reference is checked against the provider's
-- destination host (its host/url/endpoint, or the type's default host).
SELECT c.label, pg_temp.try(pg_temp.spec(c.p)) AS result FROM (VALUES
	('segment, default host, allowed', '[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}}}]'::jsonb),
	('segment, own host', '[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}, "host": "https://collect.attacker.example"}}]'),
	('segment, allowed host in upper case', '[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}, "host": "https://API.SEGMENT.IO:443/"}}]'),
	('posthog, default host, secret for another', '[{"type": "posthog", "config": {"projectApiKey": {"secret": "seg_key"}}}]'),
	('missing secret', '[{"type": "segment", "config": {"writeKey": {"secret": "nope"}}}]'),
	('webhook, exact host', '[{"type": "webhook", "config": {"url": "https://hooks.example.com/in", "secret": {"secret": "hook_sign"}}}]'),
	('webhook, under *.suffix', '[{"type": "webhook", "config": {"url": "https://a.b.hooks.example.net/in", "secret": {"secret": "hook_sign"}}}]'),
	('webhook, the suffix itself', '[{"type": "webhook", "config": {"url": "https://hooks.example.net/in", "secret": {"secret": "hook_sign"}}}]'),
	('webhook, suffix look-alike', '[{"type": "webhook", "config": {"url": "https://evilhooks.example.net/in", "secret": {"secret": "hook_sign"}}}]'),
	('webhook, host look-alike', '[{"type": "webhook", "config": {"url": "https://hooks.example.com.attacker.example/in", "secret": {"secret": "hook_sign"}}}]'),
	('the issue''s leak: a header with another team''s key', '[{"type": "webhook", "config": {"url": "https://collect.attacker.example/h", "secret": "whsec_bWluZQ==",
		"headers": {"X-Leak": {"secret": "seg_key"}}}}]'),
	('the issue''s leak: a server variable', '[{"type": "webhook", "config": {"url": "https://collect.attacker.example/h", "secret": "whsec_bWluZQ==",
		"headers": {"X-Aws": {"env": "AWS_SECRET_ACCESS_KEY"}}}}]'),
	('a listed variable', '[{"type": "posthog", "config": {"projectApiKey": {"env": "POSTHOG_KEY"}}}]'),
	('a variable name differing in case', '[{"type": "posthog", "config": {"projectApiKey": {"env": "posthog_key"}}}]'),
	('opentelemetry header secret', '[{"type": "opentelemetry", "config": {"endpoint": "https://otel.example", "headers": {"api-key": {"secret": "seg_key"}}}}]'),
	('URL secret, allowed', '[{"type": "webhook", "config": {"url": {"secret": "slack_url"}, "secret": "whsec_bWluZQ=="}}]'),
	('URL secret, its host not among its hosts', '[{"type": "webhook", "config": {"url": {"secret": "bad_url"}, "secret": "whsec_bWluZQ=="}}]'),
	('URL secret that is not a URL', '[{"type": "webhook", "config": {"url": {"secret": "seg_key"}, "secret": "whsec_bWluZQ=="}}]'),
	('URL secret, another secret for another host', '[{"type": "webhook", "config": {"url": {"secret": "slack_url"}, "secret": {"secret": "hook_sign"}}}]'),
	('URL secret for segment host', '[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}, "host": {"secret": "slack_url"}}}]'),
	('URL as a variable', '[{"type": "webhook", "config": {"url": {"env": "POSTHOG_KEY"}, "secret": "whsec_bWluZQ=="}}]'),
	('URL with a space', '[{"type": "webhook", "config": {"url": "https://hooks.example.com/a b", "secret": "whsec_bWluZQ=="}}]'),
	('URL with a backslash host', '[{"type": "webhook", "config": {"url": "https://hooks.example.com\\@evil.example/", "secret": "whsec_bWluZQ=="}}]')
) AS c(label, p);
-- no refusal named a secret's value
SELECT count(*) AS messages_with_a_value FROM (VALUES
	(pg_temp.try(pg_temp.spec('[{"type": "webhook", "config": {"url": {"secret": "bad_url"}, "secret": {"secret": "seg_key"}}}]'))),
	(pg_temp.try(pg_temp.spec('[{"type": "webhook", "config": {"url": {"secret": "slack_url"}, "secret": {"secret": "hook_sign"}}}]')))) AS m(t)
WHERE t ~ 'VALUE-1f2e|elsewhere|slack\.example';

-- A spec admin (EXECUTE on telemetry_register_spec, not the owner) is held
-- to the same rules, and the error hint says who approves what.
GRANT EXECUTE ON FUNCTION telemetry_register_spec(jsonb) TO regress_sec_admin;
SET ROLE regress_sec_admin;
SELECT telemetry_register_spec(pg_temp.spec('[{"type": "webhook", "config": {"url": "https://collect.attacker.example/h",
	"secret": "whsec_bWluZQ==", "headers": {"X-Leak": {"secret": "seg_key"}, "X-Aws": {"env": "AWS_SECRET_ACCESS_KEY"}}}}]'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT telemetry_register_spec(pg_temp.spec('[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}}}]'));
RESET ROLE;

-- Narrowing a secret's hosts warns about the providers that used it (and
-- delivery refuses them); registering the same spec again is refused too.
SELECT telemetry_set_secret('seg_key', 'SEG-VALUE-1f2e', ARRAY['eu.segment.example']);
SELECT pg_temp.try(pg_temp.spec('[{"type": "segment", "config": {"writeKey": {"secret": "seg_key"}}}]')) AS again;
-- what delivery asks before sending
SELECT telemetry._provider_refs_problem(type, config, 'provider config') AS problem FROM telemetry.providers;

-- Neither the policy nor the destination resolver is callable by others.
SET ROLE regress_sec_admin;
SELECT telemetry._provider_refs_problem('segment', '{"writeKey": {"secret": "seg_key"}}', 'x');
SELECT telemetry._destination_url('webhook', '{"url": {"secret": "slack_url"}}');
RESET ROLE;

DROP EXTENSION telemetry;
DROP ROLE regress_sec_admin;
