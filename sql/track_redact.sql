-- telemetry_track: redaction of properties and context before the row is written.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

-- mask (pii or redact): string, number, boolean, array elements; an object
-- becomes {} (its keys can be the data);
-- hash: hmac-sha256 pseudonym; drop: removed; undeclared-as-pii stays as is
SELECT telemetry_track('t.redact', '1', '{
	"m": "alice@example.com", "r": "secret", "num": 42, "flag": true,
	"arr": ["a", 1, {"x": 2}], "obj": {"street": "Main St 1", "zip": 12345},
	"h": "alice@example.com", "hn": 42, "d": "10.0.0.1", "plain": "kept"}') AS id \gset
SELECT jsonb_pretty(properties - 'h' - 'hn') FROM telemetry.events WHERE id = :'id';
-- hashes are hmac-sha256 hex, stable for the same value, different for another
SELECT properties ->> 'h' ~ '^hmac-sha256:[0-9a-f]{64}$' AS h_is_hmac,
	properties ->> 'hn' ~ '^hmac-sha256:[0-9a-f]{64}$' AS hn_is_hmac
FROM telemetry.events WHERE id = :'id';
SELECT telemetry_track('t.redact', '1', '{"h": "alice@example.com"}') AS id2 \gset
SELECT telemetry_track('t.redact', '1', '{"h": "bob@example.com"}') AS id3 \gset
SELECT (SELECT properties ->> 'h' FROM telemetry.events WHERE id = :'id')
	= (SELECT properties ->> 'h' FROM telemetry.events WHERE id = :'id2') AS same_value_same_hash,
	(SELECT properties ->> 'h' FROM telemetry.events WHERE id = :'id')
	<> (SELECT properties ->> 'h' FROM telemetry.events WHERE id = :'id3') AS other_value_other_hash;
SELECT properties ->> 'h' <> 'hmac-sha256:' || encode(sha256(convert_to('alice@example.com', 'UTF8')), 'hex') AS not_a_plain_sha256
FROM telemetry.events WHERE id = :'id';
-- null values of redacted properties stay null
SELECT telemetry_track('t.redact', '1', '{"m": null, "h": null}') AS id \gset
SELECT properties FROM telemetry.events WHERE id = :'id';

-- The exact mask of each JSON type: string "REDACTED", number 0, boolean
-- false, null null, array one "REDACTED" per element (whatever the element),
-- object {} at any depth: no key is kept, as {"4111111111111111": "visa"}
-- shows (issue 10, finding 8).
CREATE TEMP TABLE masks AS
SELECT v.ord, v.label, telemetry_track('t.redact', '1', jsonb_build_object('obj', v.val)) AS id
FROM (VALUES (1, 'string', '"4111 1111 1111 1111"'::jsonb), (2, 'number', '4111111111111111'), (3, 'true', 'true'),
	(4, 'false', 'false'), (5, 'null', 'null'), (6, 'empty array', '[]'),
	(7, 'array', '[{"4111111111111111": "visa"}, ["x", ["y"]], null, 7, "s"]'),
	(8, 'empty object', '{}'), (9, 'object', '{"4111111111111111": "visa"}'),
	(10, 'nested object', '{"card": {"4111111111111111": {"cvv": 123}}, "list": [{"k": "v"}]}')) AS v(ord, label, val);
SELECT m.label, e.properties -> 'obj' AS stored
FROM masks m JOIN telemetry.events e ON e.id = m.id ORDER BY m.ord;
-- every property of a sensitive event is masked the same way
SELECT telemetry_register_spec('{"meta": {"key": "mk", "version": "1.0.0"}, "events": [{"key": "mk.sensitive",
	"version": "1.0.0", "privacy": "sensitive", "semantics": {"what": "w"},
	"properties": {"o": {"type": "json"}, "a": {"type": "json"}, "s": {"type": "string"}}}]}');
SELECT telemetry_track('mk.sensitive', '1', '{"o": {"4111111111111111": "visa", "k": {"x": 1}}, "a": [{"4111111111111111": 1}], "s": "x"}') AS id \gset
SELECT properties FROM telemetry.events WHERE id = :'id';

-- sensitive events: every declared property masked, an explicit hash kept as hash
SELECT telemetry_track('t.sensitive', '1', '{"a": "card 4242", "n": 7, "h": "x"}') AS id \gset
SELECT properties ->> 'a' AS a, properties ->> 'n' AS n, properties ->> 'h' LIKE 'hmac-sha256:%' AS h_hashed
FROM telemetry.events WHERE id = :'id';

-- context: declared keys redacted the same way, undeclared kept
SELECT telemetry_track('t.all', '1', '{}',
	'{"userId": "u-1", "ip": "10.1.2.3", "email": "a@b.c", "tenant": 7, "sessionId": "s-1"}') AS id \gset
SELECT context - 'userId' AS context, context ->> 'userId' LIKE 'hmac-sha256:%' AS user_hashed
FROM telemetry.events WHERE id = :'id';

-- raw values reached neither the table nor the quarantine
SELECT count(*) AS raw_values_stored FROM telemetry.events
WHERE properties::text ~ '(alice|bob)@example.com|Main St|10\.0\.0\.1|card 4242|10\.1\.2\.3|a@b\.c|4111|visa|cvv|card|list'
	OR context::text ~ '(alice|bob)@example.com|10\.1\.2\.3|a@b\.c|u-1';

DROP EXTENSION telemetry;
