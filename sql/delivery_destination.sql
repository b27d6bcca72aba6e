-- Delivery: the destination policy on URL text (registration's check), and
-- the items each provider type receives, rendered in C exactly as the SQL
-- expressions of earlier versions rendered them.  The regress instance
-- lists 127.0.0.1 in telemetry.allowed_destinations (test/regress.conf).
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.dest(url text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	PERFORM telemetry._check_destination(url, 'config.providers[0].config.url');
	RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN detail <> '' THEN ' / ' || detail ELSE '' END;
END
$$;

SHOW telemetry.allowed_destinations;

-- public destinations, and the listed 127.0.0.1 in every spelling
SELECT u AS url, pg_temp.dest(u) AS result FROM unnest(ARRAY[
	'https://api.segment.io',
	'https://hooks.example.com/x?y=1',
	'http://8.8.8.8:8080/',
	'http://[2001:4860:4860::8888]/',
	'http://127.0.0.1:5432/',
	'http://2130706433/',
	'http://0x7f.0.0.1/',
	'http://0177.0.0.1/',
	'http://127.1/',
	'http://[::ffff:127.0.0.1]/',
	'http://[::ffff:7f00:1]/']) AS u;

-- private, loopback and other non-public destinations that are not listed,
-- however they are written: 42501
SELECT u AS url, pg_temp.dest(u) AS result FROM unnest(ARRAY[
	'http://127.0.0.2/',
	'http://2130706434/',
	'http://0x7f.0.0.2/',
	'http://0177.0.0.02/',
	'http://127.2/',
	'http://0x7f000002/',
	'http://%31%32%37.0.0.2/',
	'http://[::ffff:127.0.0.2]/',
	'http://[0:0:0:0:0:ffff:7f00:2]/',
	'http://169.254.169.254/latest/meta-data/',
	'http://[::1]:5432/',
	'http://localhost:8500/',
	'http://LocalHost./',
	'http://sink.localhost/',
	'http://10.1.2.3/',
	'http://172.16.0.1/',
	'http://192.168.1.1/',
	'http://100.64.0.1/',
	'http://0/',
	'http://0.0.0.0/',
	'http://[::]/',
	'http://[fe80::1%25eth0]/',
	'http://[fd00::1]/',
	'http://[fec0::1]/',
	'http://[ff02::1]/',
	'http://224.0.0.1/',
	'http://255.255.255.255/',
	'http://[::10.0.0.1]/',
	'http://[64:ff9b::a00:1]/',
	'http://[2002:a00:1::]/']) AS u;

-- hosts that are neither a valid address nor a valid name: 22023
SELECT u AS url, pg_temp.dest(u) AS result FROM unnest(ARRAY[
	'http://09.0.0.1/',
	'http://1.2.3.4.5/',
	'http://１２７.０.０.１/',
	'http://exa mple.com/']) AS u;

-- registration refuses them too (through _validate_provider)
SELECT telemetry_register_spec('{"meta": {"key": "ssrf", "version": "1.0.0"},
  "config": {"providers": [{"type": "webhook", "config": {"url": "http://169.254.169.254/latest", "secret": "whsec_MTIz"}}]},
  "events": [{"key": "ssrf.e", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "public"}]}');

-- only a superuser's configuration changes the policy, and it must parse
SELECT set_config('telemetry.allowed_destinations', '0.0.0.0/0', false);
ALTER SYSTEM SET telemetry.allowed_destinations = 'not a host!';
ALTER SYSTEM SET telemetry.allowed_destinations = '10.0.0.0/33';
ALTER SYSTEM SET telemetry.allowed_destinations = 'hooks.internal, 300.1.1.1/8';
CREATE ROLE regress_dest_admin;
SET ROLE regress_dest_admin;
ALTER SYSTEM SET telemetry.allowed_destinations = '0.0.0.0/0';
RESET ROLE;
DROP ROLE regress_dest_admin;

-- Items: what each type sends for stored events, against the SQL that
-- rendered them before (jsonb_build_object(...)::text), byte for byte.
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, received_at, properties, context) VALUES
	('00000000-0000-4000-8000-000000000001', 'shop.e', '1.0.0', 'shop@1.0.0', '2026-03-01 12:34:56.789+00', '2026-03-01 12:35:00+00',
	 '{"n": 1, "s": "a"}', '{"userId": "u1", "sessionId": "s1"}'),
	('00000000-0000-4000-8000-000000000002', 'shop.e', '1.0.0', 'shop@1.0.0', '2026-03-01 12:34:56.000001+05', '2026-03-01 12:35:00+00',
	 '{"a": 1, "zz": 2, "spec": "mine", "version": "v", "aaaaaaaaaaaa": null, "Z": true, "é": "ü", "specs": 1, "vers": 2}',
	 '{"sessionId": "s2"}'),
	('00000000-0000-4000-8000-000000000003', 'shop.e"\', '1.0.0', 'shop@1.0.0', '1999-12-31 23:59:59.999999+00', '2000-01-01 00:00:00+00',
	 '{"q": "quote\" back\\ nl\n tab\t cr\r ff\f bs\b ctrl\u0001 esc\u001b del\u007f snow\u2603 /"}', '{}'),
	('00000000-0000-4000-8000-000000000004', 'shop.e', '1.0.0', 'shop@1.0.0', '2026-03-01 00:00:00+00', '2026-03-01 00:00:00+00',
	 '{"big": 1e30, "neg": -0.0, "frac": 1.50, "tiny": 1e-7, "int": 12345678901234567890, "zero": 0}',
	 '{"userId": 42, "sessionId": {"b": [1, 2], "a": "x"}}'),
	('00000000-0000-4000-8000-000000000005', 'shop.e', '1.0.0', 'shop@1.0.0', '2026-03-01 00:00:00+00', '2026-03-01 00:00:00+00',
	 '{"arr": [1, [2, {"b": [], "a": {}}], null, "x"], "obj": {"k": {"kk": [true, false]}}, "B": "upper", "_u": "under"}',
	 '{"userId": null, "sessionId": "s5", "ip": "10.0.0.5"}'),
	('00000000-0000-4000-8000-000000000006', 'shop.e', '1.0.0', 'shop@1.0.0', '0044-03-15 12:00:00+00 BC', '2026-03-01 00:00:00+00',
	 '[1, 2]', '["userId"]'),
	('00000000-0000-4000-8000-000000000007', 'shop.e', '1.0.0', 'shop@1.0.0', '12026-03-01 00:00:00+00', '2026-03-01 00:00:00+00',
	 '"scalar"', '"ctx"'),
	('00000000-0000-4000-8000-000000000008', 'shop.e', '1.0.0', 'shop@1.0.0', '2026-03-01 00:00:00+00', '2026-03-01 00:00:00+00',
	 '{}', '{"userId": "", "sessionId": true}');
-- and 300 generated ones: keys of every length, control characters,
-- numbers of every scale, nesting
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, received_at, properties, context)
SELECT ('00000000-0000-4000-8001-' || lpad(to_hex(i), 12, '0'))::uuid, 'gen.' || chr(32 + i % 90), '1.' || i || '.0', 'gen@1.0.0',
	'2026-03-01'::timestamptz + make_interval(secs => i * 1234.567891), '2026-03-01'::timestamptz + make_interval(secs => i),
	(SELECT jsonb_object_agg(substr(md5(i::text || k::text), 1, 1 + (i + k) % 14) || chr(33 + (i * k) % 94),
		CASE (i + k) % 7
			WHEN 0 THEN to_jsonb(chr(1 + (i * k) % 31) || md5(k::text) || chr(34) || chr(92))
			WHEN 1 THEN to_jsonb(round((i - 150) * power(10::numeric, (k * 7) % 41 - 20), (k % 9)))
			WHEN 2 THEN to_jsonb(i % 2 = 0)
			WHEN 3 THEN 'null'::jsonb
			WHEN 4 THEN jsonb_build_array(k, jsonb_build_object('z' || k, 'y', 'a', jsonb_build_array()), '{}'::jsonb)
			WHEN 5 THEN jsonb_build_object('spec', k, 'version', 'v' || k)
			ELSE to_jsonb(repeat('é☃', k % 5))
		END) FROM generate_series(1, 1 + i % 11) k),
	CASE i % 4 WHEN 0 THEN '{}'::jsonb WHEN 1 THEN jsonb_build_object('userId', 'u' || i)
		WHEN 2 THEN jsonb_build_object('sessionId', i, 'userId', NULL) ELSE jsonb_build_object('userId', jsonb_build_array(i), 'sessionId', 's' || chr(1 + i % 31)) END
FROM generate_series(1, 300) i;

CREATE TEMP VIEW old_items AS
SELECT e.id,
	pg_catalog.jsonb_build_object('event', e.event,
		'distinct_id', COALESCE((e.context ->> 'userId'), (e.context ->> 'sessionId'), ('telemetry:' || e.id::text)),
		-- an event without any identity makes no person profile
		'properties', (e.properties || (pg_catalog.jsonb_build_object('version', e.version, 'spec', e.spec)
			|| CASE WHEN (e.context ->> 'userId') IS NULL AND (e.context ->> 'sessionId') IS NULL
				THEN '{"$process_person_profile": false}'::jsonb ELSE '{}' END)),
		'timestamp', pg_catalog.to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'uuid', e.id)::text AS posthog,
	(pg_catalog.jsonb_build_object('type', 'track', 'event', e.event,
		'properties', (e.properties || pg_catalog.jsonb_build_object('version', e.version, 'spec', e.spec)),
		'timestamp', pg_catalog.to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'messageId', e.id) || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		'userId', (e.context ->> 'userId'),
		'anonymousId', CASE WHEN (e.context ->> 'userId') IS NULL
			THEN COALESCE((e.context ->> 'sessionId'), ('telemetry:' || e.id::text))
			ELSE (e.context ->> 'sessionId') END)))::text AS segment,
	pg_catalog.jsonb_build_object('id', e.id, 'event', e.event, 'version', e.version, 'spec', e.spec,
		'timestamp', pg_catalog.to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'properties', e.properties, 'context', e.context)::text AS webhook,
	CASE WHEN jsonb_typeof(e.properties) = 'object' THEN
	pg_catalog.jsonb_build_object(
		'timeUnixNano', (((pg_catalog.extract('epoch', e.occurred_at) * 1000000)::bigint)::text || '000'),
		'observedTimeUnixNano', (((pg_catalog.extract('epoch', e.received_at) * 1000000)::bigint)::text || '000'),
		'severityNumber', 9, 'severityText', 'INFO',
		'body', pg_catalog.jsonb_build_object('stringValue', e.event),
		'attributes', pg_catalog.jsonb_build_array(
			pg_catalog.jsonb_build_object('key', 'event.name', 'value', pg_catalog.jsonb_build_object('stringValue', e.event)),
			pg_catalog.jsonb_build_object('key', 'event.id', 'value', pg_catalog.jsonb_build_object('stringValue', e.id::text)),
			pg_catalog.jsonb_build_object('key', 'telemetry.event.version', 'value', pg_catalog.jsonb_build_object('stringValue', e.version)),
			pg_catalog.jsonb_build_object('key', 'telemetry.spec', 'value', pg_catalog.jsonb_build_object('stringValue', e.spec)))
		|| CASE WHEN (e.context ->> 'userId') IS NULL THEN '[]'::jsonb ELSE pg_catalog.jsonb_build_array(
			pg_catalog.jsonb_build_object('key', 'user.id', 'value', pg_catalog.jsonb_build_object('stringValue', (e.context ->> 'userId')))) END
		|| CASE WHEN (e.context ->> 'sessionId') IS NULL THEN '[]'::jsonb ELSE pg_catalog.jsonb_build_array(
			pg_catalog.jsonb_build_object('key', 'session.id', 'value', pg_catalog.jsonb_build_object('stringValue', (e.context ->> 'sessionId')))) END
		|| COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'key', 'telemetry.property.' || p.k, 'value', CASE pg_catalog.jsonb_typeof(p.v)
			WHEN 'string' THEN pg_catalog.jsonb_build_object('stringValue', p.v #>> '{}')
			WHEN 'number' THEN pg_catalog.jsonb_build_object('doubleValue', p.v)
			WHEN 'boolean' THEN pg_catalog.jsonb_build_object('boolValue', p.v)
			ELSE pg_catalog.jsonb_build_object('stringValue', p.v::text) END) ORDER BY p.k)
			FROM pg_catalog.jsonb_each(e.properties) AS p(k, v)), '[]'::jsonb))::text
	END AS otel
FROM telemetry.events e;

-- every item the same, byte for byte (the SQL of old could not render
-- OpenTelemetry items for non-object properties)
SELECT t.type, count(*) AS items,
	count(*) FILTER (WHERE telemetry._delivery_item(t.type, e) = t.old) AS identical
FROM telemetry.events e JOIN old_items o ON o.id = e.id,
	LATERAL (VALUES ('posthog', o.posthog), ('segment', o.segment), ('webhook', o.webhook),
		('opentelemetry', o.otel)) AS t(type, old)
WHERE t.old IS NOT NULL
GROUP BY t.type ORDER BY t.type;

-- two of them, to read
SELECT telemetry._delivery_item('posthog', e) FROM telemetry.events e WHERE e.id = '00000000-0000-4000-8000-000000000002';
SELECT telemetry._delivery_item('opentelemetry', e) FROM telemetry.events e WHERE e.id = '00000000-0000-4000-8000-000000000001';
-- where the SQL of old failed: OpenTelemetry for non-object properties
SELECT e.id, telemetry._delivery_item('opentelemetry', e) FROM telemetry.events e
WHERE e.id IN ('00000000-0000-4000-8000-000000000006', '00000000-0000-4000-8000-000000000007') ORDER BY e.id;

-- Amplification stops at the type's event limit: 16 stored bytes of
-- 1e131071 render as 131,072 digits; segment takes 32 kB an event.
INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties) VALUES
	('00000000-0000-4000-8000-0000000000a1', 'amp.e', '1.0.0', 'amp@1.0.0', now(),
	 jsonb_build_object('x', (SELECT jsonb_agg(1e131071::numeric) FROM generate_series(1, 1000)))),
	('00000000-0000-4000-8000-0000000000a2', 'amp.e', '1.0.0', 'amp@1.0.0', now(),
	 jsonb_build_object('x', repeat(E'\u0001', 6000)));
SELECT e.id, pg_column_size(e.properties) AS stored, t.type, telemetry._delivery_item(t.type, e) IS NULL AS refused
FROM telemetry.events e, unnest(ARRAY['segment', 'posthog']) AS t(type)
WHERE e.event = 'amp.e' ORDER BY e.id, t.type;
-- the item function is the owner's
CREATE ROLE regress_dest_reader;
SET ROLE regress_dest_reader;
SELECT telemetry._delivery_item('posthog', (SELECT NULL::telemetry.events));
RESET ROLE;
DROP ROLE regress_dest_reader;
DROP VIEW old_items;
DROP EXTENSION telemetry;
