-- Compatibility between versions of one event within a major version, each
-- rule on its breaking and its allowed side, and telemetry_spec_diff().
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never

-- ev(version, properties, privacy): a spec version "app.c@<version>" with
-- the event "app.c.ev" at that version.
CREATE FUNCTION pg_temp.ev(v text, props jsonb, privacy text DEFAULT 'pii') RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('meta', jsonb_build_object('key', 'app.c', 'version', v),
		'events', jsonb_build_array(jsonb_build_object('key', 'app.c.ev', 'version', v, 'privacy', privacy,
			'semantics', '{"what": "w"}'::jsonb, 'properties', props)))
$$;
-- check(doc): "accepted" (then undone, so cases stay independent) or "SQLSTATE: message".
CREATE FUNCTION pg_temp.check(doc jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM telemetry_register_spec(doc);
		RAISE SQLSTATE 'TLMOK';
	EXCEPTION
		WHEN SQLSTATE 'TLMOK' THEN
			RETURN 'accepted';
		WHEN OTHERS THEN
			RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;

-- 1.0.0: a required, b a number, c pii (masked), d hashed, e masked, f plain
CREATE TEMP TABLE base AS SELECT '{
  "a": {"type": "string", "required": true}, "b": {"type": "number"}, "c": {"type": "string", "pii": true},
  "d": {"type": "string", "redaction": "hash"}, "e": {"type": "string", "redaction": "mask"}, "f": {"type": "string"}}'::jsonb AS p;
SELECT telemetry_register_spec(pg_temp.ev('1.0.0', p)) FROM base;

\pset format unaligned
-- breaking within major version 1: each is refused (22023), naming the change
SELECT c.label, pg_temp.check(pg_temp.ev('1.1.0', c.props, c.privacy)) AS result FROM base, LATERAL (VALUES
  ('property removed', p - 'b', 'pii'),
  ('type changed', jsonb_set(p, '{b,type}', '"string"'), 'pii'),
  ('optional property became required', jsonb_set(p, '{f,required}', 'true'), 'pii'),
  ('new property that is required', p || '{"g": {"type": "string", "required": true}}', 'pii'),
  ('redaction weakened: mask to hash', jsonb_set(p, '{c,redaction}', '"hash"'), 'pii'),
  ('redaction weakened: mask to none', jsonb_set(p, '{c,pii}', 'false'), 'pii'),
  ('redaction weakened: hash to none', p - 'd' || '{"d": {"type": "string"}}', 'pii'),
  ('privacy lowered: pii to internal', p, 'internal'),
  ('privacy lowered: pii to public', p, 'public')
) AS c(label, props, privacy);
-- compatible: each is accepted
SELECT c.label, pg_temp.check(pg_temp.ev('1.1.0', c.props, c.privacy)) AS result FROM base, LATERAL (VALUES
  ('unchanged', p, 'pii'),
  ('new optional property', p || '{"g": {"type": "json"}}', 'pii'),
  ('required property became optional', jsonb_set(p, '{a,required}', 'false'), 'pii'),
  ('redaction strengthened: none to hash', jsonb_set(p, '{f,redaction}', '"hash"'), 'pii'),
  ('redaction strengthened: hash to mask', jsonb_set(p, '{d,redaction}', '"mask"'), 'pii'),
  ('redaction strengthened: mask to drop', jsonb_set(p, '{e,redaction}', '"drop"'), 'pii'),
  ('privacy raised: pii to sensitive', p, 'sensitive'),
  ('descriptions', jsonb_set(p, '{a,description}', '"the a"'), 'pii')
) AS c(label, props, privacy);
\pset format aligned

-- drop to mask: a version that drops e, then one that only masks it
SELECT telemetry_register_spec(pg_temp.ev('1.1.0', jsonb_set(p, '{e,redaction}', '"drop"'))) FROM base;
SELECT telemetry_register_spec(pg_temp.ev('1.2.0', p)) FROM base;
-- the rules hold for every neighbour of the same major: a version added
-- below a registered one must be what that one is compatible with
SELECT telemetry_register_spec(pg_temp.ev('1.0.5', p || '{"x": {"type": "string"}}')) FROM base;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT telemetry_register_spec(pg_temp.ev('1.0.5', p)) FROM base;
-- a new major version may change anything
SELECT telemetry_register_spec(pg_temp.ev('2.0.0', '{"z": {"type": "number", "required": true}}', 'public'));
-- and starts its own line: 2.1.0 is compared with 2.0.0
SELECT telemetry_register_spec(pg_temp.ev('2.1.0', '{}', 'public'));
SELECT telemetry_register_spec(pg_temp.ev('2.1.0', '{"z": {"type": "number", "required": true}, "y": {"type": "string"}}', 'public'));
-- pre-releases belong to their major version; so does 0.y.z
SELECT telemetry_register_spec(pg_temp.ev('3.0.0-rc.1', '{"k": {"type": "string"}}', 'public'));
SELECT telemetry_register_spec(pg_temp.ev('3.0.0', '{}', 'public'));
SELECT telemetry_register_spec(pg_temp.ev('0.1.0', '{"k": {"type": "string"}}', 'public'));
SELECT telemetry_register_spec(pg_temp.ev('0.2.0', '{}', 'public'));
SELECT event, version FROM telemetry.event_catalog ORDER BY telemetry._semver_key(version);

-- The diff of two spec documents: every change, breaking or not, with its
-- path in the new document.  Provider configs show which keys changed,
-- never their values.
CREATE TEMP TABLE old AS SELECT '{
  "meta": {"key": "shop", "version": "1.0.0", "title": "Shop"},
  "config": {"defaultSamplingRate": 1, "context": {"userId": {"type": "string", "pii": true}},
             "providers": [{"type": "segment", "config": {"writeKey": "wk_OLD_SECRET"}},
                           {"type": "internal", "name": "audit"}]},
  "events": [
    {"key": "shop.order", "version": "1.0.0", "semantics": {"what": "An order"}, "privacy": "pii",
     "properties": {"total": {"type": "number", "required": true}, "email": {"type": "string", "pii": true},
                    "coupon": {"type": "string"}}},
    {"key": "shop.cart", "version": "1.0.0", "semantics": {"what": "A cart"}, "privacy": "internal", "properties": {}},
    {"key": "shop.gone", "version": "1.0.0", "semantics": {"what": "Removed"}, "privacy": "public", "properties": {}}
  ]}'::jsonb AS d;
CREATE TEMP TABLE new AS SELECT '{
  "meta": {"key": "shop", "version": "1.1.0", "title": "Shop funnel"},
  "config": {"defaultSamplingRate": 0.5, "context": {"userId": {"type": "string", "pii": true, "redaction": "hash"}},
             "providers": [{"type": "segment", "config": {"writeKey": "wk_NEW_SECRET"}},
                           {"type": "webhook", "config": {"url": "https://hooks.example/x", "secret": "whsec_c2VjcmV0"}}]},
  "events": [
    {"key": "shop.order", "version": "1.1.0", "semantics": {"what": "An order was placed"}, "privacy": "internal",
     "properties": {"total": {"type": "string", "required": true}, "email": {"type": "string", "pii": true},
                    "note": {"type": "string"}},
     "sampling": {"rate": 0.1, "conditions": ["total exists"]}},
    {"key": "shop.cart", "version": "2.0.0", "semantics": {"what": "A cart"}, "privacy": "internal",
     "properties": {"items": {"type": "number", "required": true}}},
    {"key": "shop.new", "version": "1.0.0", "semantics": {"what": "New"}, "privacy": "public", "properties": {}}
  ]}'::jsonb AS d;
SELECT path, change, breaking FROM old, new, LATERAL telemetry_spec_diff(old.d, new.d);
-- no difference, no rows
SELECT count(*) AS changes FROM old, LATERAL telemetry_spec_diff(old.d, old.d);
-- the same event version changed without a new version is breaking (and refused by registration)
SELECT path, change, breaking FROM old, LATERAL telemetry_spec_diff(old.d,
	jsonb_set(jsonb_set(old.d, '{meta,version}', '"1.0.1"'), '{events,1,semantics,what}', '"Another cart"'));
-- a document that is not a valid spec is an error naming which one
\set SHOW_CONTEXT errors
SELECT * FROM old, LATERAL telemetry_spec_diff(old.d, '{"meta": {"key": "shop", "version": "x"}}');
SELECT * FROM new, LATERAL telemetry_spec_diff('{"meta": {}}', new.d);
\set SHOW_CONTEXT never
SELECT * FROM telemetry_spec_diff(NULL, '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Two registered versions of a spec, as the caller reads them.
SELECT path, change, breaking FROM telemetry_spec_diff('app.c', '1.0.0', '1.1.0');
SELECT path, change, breaking FROM telemetry_spec_diff('app.c', '1', '2');
SELECT * FROM telemetry_spec_diff('app.c', '1.0.0', '9');
-- everyone may call it: it shows no secret
CREATE ROLE regress_compat_reader;
SET ROLE regress_compat_reader;
SELECT count(*) > 0 AS rows FROM telemetry_spec_diff('app.c', '1', '2');
RESET ROLE;
DROP ROLE regress_compat_reader;

DROP EXTENSION telemetry;
