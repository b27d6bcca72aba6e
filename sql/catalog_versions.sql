-- Both generations of field names, the examples, what the catalog stores,
-- and version resolution for telemetry_spec() and telemetry_event_def().
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR

-- The seed's example (older names: meta.name, events[].name) loads as written.
\set sigil :abs_srcdir '/examples/sigil.telemetry.json'
SELECT telemetry_load_spec(:'sigil');
SELECT key, version, title, description, domain, owners, tags, stability,
	default_retention_days, default_sampling_rate, anomaly_enabled, anomaly_check_interval_ms
FROM telemetry.specs;
SELECT event, version, spec_key, spec_version, privacy, what, who, why, retention_days, retention_policy,
	sampling_rate, anomaly_enabled, minimum_sample, actions
FROM telemetry.event_defs;
SELECT event, version, scope, name, ordinal, type, required, pii, redact, redaction
FROM telemetry.event_properties ORDER BY event, version, scope, ordinal;
SELECT event, version, ordinal, metric, min, max, aggregate, "window" FROM telemetry.anomaly_rules;
SELECT spec_key, spec_version, name, ordinal, type, config, enabled FROM telemetry.providers;

-- The older generation's integer versions: N means N.0.0.
SELECT telemetry_register_spec('{
  "meta": {"name": "legacy.app", "version": 2},
  "events": [{"name": "legacy.app.opened", "version": 1, "semantics": {"what": "The app was opened"},
              "privacy": "public", "properties": {"screen": {"type": "string", "required": true}}}]}');
SELECT key, version FROM telemetry.specs WHERE key = 'legacy.app';
SELECT event, version, spec_key, spec_version FROM telemetry.event_defs WHERE event = 'legacy.app.opened';
-- the same spec written with the newer names is the same spec: a no-op
SELECT telemetry_register_spec('{
  "meta": {"key": "legacy.app", "version": "2.0.0"},
  "events": [{"key": "legacy.app.opened", "version": "1.0.0", "semantics": {"what": "The app was opened"},
              "privacy": "public", "properties": {"screen": {"type": "string", "required": true}}}]}');

-- The newer generation: a checkout funnel with context, sampling, retention,
-- hashed and dropped PII, a sensitive event and two providers.
-- the example's webhook secret, allowed to the loopback sink it names
SELECT telemetry_set_secret('checkout_webhook', 'whsec_ZXhhbXBsZQ==', ARRAY['127.0.0.1']);
\set shop :abs_srcdir '/examples/shop.checkout.json'
SELECT telemetry_load_spec(:'shop');
SELECT event, version, scope, name, type, required, pii, redact, redaction
FROM telemetry.event_properties WHERE event LIKE 'shop.%' ORDER BY event, scope, ordinal;
SELECT event, ordinal, metric, min, max, aggregate, "window" FROM telemetry.anomaly_rules
WHERE event LIKE 'shop.%' ORDER BY event, ordinal;
SELECT name, ordinal, type, config FROM telemetry.providers WHERE spec_key = 'shop.checkout' ORDER BY ordinal;

-- One row per event version, with effective retention (event, else the
-- spec's default, else telemetry.default_retention_days) and sampling rate
-- (event, else the spec's default, else 1).
SELECT event, version, spec, privacy, retention_days, retention_policy, sampling_rate, anomaly_detection, properties,
	registered_at <= now() AS registered
FROM telemetry.event_catalog ORDER BY event, version;

-- An event's definition, its spec and its effective settings.
SELECT jsonb_pretty(telemetry_event_def('shop.cart_viewed'));
SELECT e, d ->> 'spec' AS spec, d -> 'effectiveRetentionDays' AS retention, d -> 'effectiveSamplingRate' AS rate
FROM unnest(ARRAY['shop.order_placed', 'shop.payment_failed', 'sigil.telemetry.workflow_step', 'legacy.app.opened']) AS e,
	LATERAL telemetry_event_def(e) AS d;
-- a spec document reads back as registered
SELECT telemetry_spec('legacy.app') = '{
  "meta": {"name": "legacy.app", "version": 2},
  "events": [{"name": "legacy.app.opened", "version": 1, "semantics": {"what": "The app was opened"},
              "privacy": "public", "properties": {"screen": {"type": "string", "required": true}}}]}'::jsonb AS same;

-- Version precedence is semver's: numbers compare numerically, a
-- pre-release sorts below its release, identifiers as in semver.org's list,
-- build metadata is ignored.
SELECT v FROM unnest(ARRAY['1.0.0', '1.0.0-rc.1', '1.0.0-beta.11', '10.0.0', '1.0.0-alpha.1', '2.1.1', '1.0.0-beta',
	'1.0.0-alpha', '2.0.0', '1.0.0-alpha.beta', '1.0.0-beta.2', '2.1.0', '1.10.0', '1.9.0', '1.0.0-2', '1.0.0-10', '1.0.0-alpha.10'])
	AS v ORDER BY telemetry._semver_key(v), v;
SELECT telemetry._semver_key('1.0.0+build.1') = telemetry._semver_key('1.0.0+other') AS build_ignored;

-- Resolution: register one spec (and its event) in several versions, out of order.
CREATE FUNCTION pg_temp.reg(v text) RETURNS text LANGUAGE sql AS $$
	SELECT telemetry_register_spec(jsonb_build_object(
		'meta', jsonb_build_object('key', 'app.res', 'version', v),
		'events', jsonb_build_array(jsonb_build_object('key', 'app.res.ev', 'version', v, 'privacy', 'public',
			'semantics', '{"what": "w"}'::jsonb, 'properties', '{}'::jsonb))))
$$;
SELECT pg_temp.reg(v) FROM unnest(ARRAY['1.9.0', '1.2.5', '1.10.0', '1.2.0', '0.9.0']) AS v;
-- NULL is the highest version: 1.10.0 is above 1.9.0
SELECT telemetry_spec('app.res') #>> '{meta,version}' AS latest_spec,
	telemetry_event_def('app.res.ev') ->> 'version' AS latest_event;
-- a pre-release of a higher version is the highest until its release comes
SELECT pg_temp.reg('2.0.0-beta.1');
SELECT telemetry_spec('app.res') #>> '{meta,version}' AS latest_spec,
	telemetry_event_def('app.res.ev') ->> 'version' AS latest_event;
SELECT pg_temp.reg('2.0.0');
SELECT pg_temp.reg('2.0.0-rc.1');
SELECT telemetry_spec('app.res') #>> '{meta,version}' AS latest_spec,
	telemetry_event_def('app.res.ev') ->> 'version' AS latest_event;
-- '1' and '1.2' are prefixes (the highest version with them); anything else is exact
SELECT r AS request, telemetry_spec('app.res', r) #>> '{meta,version}' AS spec,
	telemetry_event_def('app.res.ev', r) ->> 'version' AS event
FROM unnest(ARRAY['1', '1.2', '1.9', '0', '2', '2.0', '1.2.0', '1.9.0', '2.0.0-beta.1', '2.0.0-rc.1']) AS r;

-- Not found: SQLSTATE 42704, naming what was asked for.
SELECT telemetry_spec('app.res', '3');
SELECT telemetry_spec('app.res', '1.3');
SELECT telemetry_spec('app.res', '1.2.1');
SELECT telemetry_spec('app.res', '1.x');
SELECT telemetry_spec('app.nope');
SELECT telemetry_event_def('app.res.ev', '1.11');
SELECT telemetry_event_def('app.nope.ev');
SELECT telemetry_event_def('app.res.ev', '2.0.1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

DROP EXTENSION telemetry;
