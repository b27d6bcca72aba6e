-- Spec validation: every rule of the catalog, each with its SQLSTATE and the
-- message naming the JSON path of the problem.
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
-- the base spec's named secret, allowed to its webhook's host
SELECT telemetry_set_secret('hook', 'whsec_aG9vaw==', ARRAY['hooks.example.com']);

-- As users see it: the message names the JSON path, and nothing is stored.
SELECT telemetry_register_spec('{"meta": {"key": "a.b", "version": "1.0.0"}, "events": [{"key": "a.b.c", "version": "1.0.0",
  "semantics": {"what": "w"}, "privacy": "public", "properties": {"durationMs": {"type": "integer"}}}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS specs FROM telemetry.specs;

-- check_spec(doc): "accepted: key@version" (then undone, so cases stay
-- independent) or "SQLSTATE: message".
CREATE FUNCTION pg_temp.check_spec(doc jsonb) RETURNS text
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

-- A valid spec that uses every section; the cases below break one thing each.
CREATE TEMP TABLE base AS SELECT '{
  "meta": {"key": "test.base", "version": "1.0.0", "title": "Base", "description": "d", "domain": "test",
           "owners": ["@team"], "tags": ["t"], "stability": "stable"},
  "config": {
    "defaultRetentionDays": 30, "defaultSamplingRate": 0.5,
    "providers": [
      {"type": "posthog", "config": {"projectApiKey": {"env": "POSTHOG_KEY"}, "host": "https://eu.posthog.example"}},
      {"type": "webhook", "config": {"url": "https://hooks.example.com/t", "secret": {"secret": "hook"}}}
    ],
    "anomalyDetection": {"enabled": true, "checkIntervalMs": 60000}
  },
  "events": [{
    "key": "test.base.step", "version": "1.0.0",
    "semantics": {"what": "A step ran", "who": "worker", "why": "latency"},
    "privacy": "internal",
    "properties": {
      "ms": {"type": "number", "required": true},
      "kind": {"type": "string"},
      "email": {"type": "string", "pii": true},
      "note": {"type": "string", "redact": true},
      "at": {"type": "timestamp"}, "ok": {"type": "boolean"}, "extra": {"type": "json"}
    },
    "retention": {"days": 10, "policy": "delete"},
    "sampling": {"rate": 0.5},
    "tags": ["x"],
    "anomalyDetection": {"enabled": true, "minimumSample": 5,
      "thresholds": [{"metric": "ms", "min": 0, "max": 100}], "actions": ["log", "alert", "trigger_regen"]}
  }]
}'::jsonb AS b;

\pset format unaligned
SELECT pg_temp.check_spec(b) AS base FROM base;

-- required fields
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('spec not an object', '[1]'::jsonb),
  ('spec null', NULL::jsonb),
  ('meta missing', b - 'meta'),
  ('meta not an object', jsonb_set(b, '{meta}', '"x"')),
  ('meta.key missing', b #- '{meta,key}'),
  ('meta.version missing', b #- '{meta,version}'),
  ('events missing', b - 'events'),
  ('events not an array', jsonb_set(b, '{events}', '{}')),
  ('events empty', jsonb_set(b, '{events}', '[]')),
  ('event not an object', jsonb_set(b, '{events,0}', '"e"')),
  ('event key missing', b #- '{events,0,key}'),
  ('event version missing', b #- '{events,0,version}'),
  ('event privacy missing', b #- '{events,0,privacy}'),
  ('event properties missing', b #- '{events,0,properties}'),
  ('event semantics missing', b #- '{events,0,semantics}'),
  ('semantics.what missing', b #- '{events,0,semantics,what}'),
  ('property type missing', b #- '{events,0,properties,kind,type}'),
  ('threshold metric missing', b #- '{events,0,anomalyDetection,thresholds,0,metric}')
) AS c(label, doc);

-- keys: letters, digits, "_", "-", ".", starting with a letter, 128 at most
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('meta.key starts with a digit', jsonb_set(b, '{meta,key}', '"1shop"')),
  ('meta.key starts with "_"', jsonb_set(b, '{meta,key}', '"_shop"')),
  ('meta.key with a space', jsonb_set(b, '{meta,key}', '"my shop"')),
  ('meta.key with "/"', jsonb_set(b, '{meta,key}', '"shop/x"')),
  ('meta.key empty', jsonb_set(b, '{meta,key}', '""')),
  ('meta.key not a string', jsonb_set(b, '{meta,key}', '7')),
  ('meta.key of 128 characters', jsonb_set(b, '{meta,key}', to_jsonb('k' || repeat('x', 127)))),
  ('meta.key of 129 characters', jsonb_set(b, '{meta,key}', to_jsonb('k' || repeat('x', 128)))),
  ('meta.key with all allowed characters', jsonb_set(b, '{meta,key}', '"Shop_v2-x.Y9"')),
  ('event key invalid', jsonb_set(b, '{events,0,key}', '"9step"')),
  ('event key of 129 characters', jsonb_set(b, '{events,0,key}', to_jsonb('e' || repeat('x', 128)))),
  ('property name invalid', jsonb_set(b, '{events,0,properties}', '{"bad name": {"type": "string"}}')),
  ('property name of 200 characters', jsonb_set(b, '{events,0,properties}',
     jsonb_build_object('p' || repeat('x', 199), '{"type": "string"}'::jsonb))),
  ('meta.key and meta.name differ', jsonb_set(b, '{meta,name}', '"other"')),
  ('meta.key and meta.name agree', jsonb_set(b, '{meta,name}', '"test.base"')),
  ('event key twice in one spec', jsonb_set(b, '{events,1}', b #> '{events,0}', true)),
  ('provider name invalid', jsonb_set(b, '{config,providers,0,name}', '"ph one"')),
  ('provider name used twice', jsonb_set(jsonb_set(b, '{config,providers,0,name}', '"dup"'), '{config,providers,1,name}', '"dup"')),
  ('env reference name invalid', jsonb_set(b, '{config,providers,0,config,projectApiKey}', '{"env": "1KEY"}'))
) AS c(label, doc);

-- versions: semver 2.0.0, or an integer N meaning N.0.0
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('1.0', jsonb_set(b, '{meta,version}', '"1.0"')),
  ('v1.0.0', jsonb_set(b, '{meta,version}', '"v1.0.0"')),
  ('01.0.0', jsonb_set(b, '{meta,version}', '"01.0.0"')),
  ('1.0.0-', jsonb_set(b, '{meta,version}', '"1.0.0-"')),
  ('1.0.0-01', jsonb_set(b, '{meta,version}', '"1.0.0-01"')),
  ('1.0.0-a..b', jsonb_set(b, '{meta,version}', '"1.0.0-a..b"')),
  ('1.0.0+', jsonb_set(b, '{meta,version}', '"1.0.0+"')),
  ('1.0.0 with a space', jsonb_set(b, '{meta,version}', '" 1.0.0"')),
  ('129 characters', jsonb_set(b, '{meta,version}', to_jsonb('1.0.0-' || repeat('a', 123)))),
  ('1.0.0-rc.1+build.5', jsonb_set(b, '{meta,version}', '"1.0.0-rc.1+build.5"')),
  ('1.0.0-0A.is.legal', jsonb_set(b, '{meta,version}', '"1.0.0-0A.is.legal"')),
  ('integer 3', jsonb_set(b, '{meta,version}', '3')),
  ('integer 0', jsonb_set(b, '{meta,version}', '0')),
  ('1.5', jsonb_set(b, '{meta,version}', '1.5')),
  ('-1', jsonb_set(b, '{meta,version}', '-1')),
  ('1e300 (long values are cut in messages)', jsonb_set(b, '{meta,version}', '1e300')),
  ('true', jsonb_set(b, '{meta,version}', 'true')),
  ('event version 1.0', jsonb_set(b, '{events,0,version}', '"1.0"')),
  ('event version 2', jsonb_set(b, '{events,0,version}', '2'))
) AS c(label, doc);

-- enums
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('stability', jsonb_set(b, '{meta,stability}', '"alpha"')),
  ('privacy', jsonb_set(b, '{events,0,privacy}', '"secret"')),
  ('property type', jsonb_set(b, '{events,0,properties,ms,type}', '"integer"')),
  ('property type not a string', jsonb_set(b, '{events,0,properties,ms,type}', '["number"]')),
  ('redaction mode', jsonb_set(b, '{events,0,properties,email,redaction}', '"encrypt"')),
  ('retention policy', jsonb_set(b, '{events,0,retention,policy}', '"shred"')),
  ('anomaly action', jsonb_set(b, '{events,0,anomalyDetection,actions,1}', '"page"')),
  ('anomaly action not a string', jsonb_set(b, '{events,0,anomalyDetection,actions,0}', '1')),
  ('provider type', jsonb_set(b, '{config,providers,0,type}', '"mixpanel"')),
  ('threshold aggregate', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,aggregate}', '"median"'))
) AS c(label, doc);

-- numbers: rates in 0..1, retention days an integer in 1..36500,
-- minimumSample a positive integer, checkIntervalMs 100..86400000
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('defaultSamplingRate 1.5', jsonb_set(b, '{config,defaultSamplingRate}', '1.5')),
  ('defaultSamplingRate -0.1', jsonb_set(b, '{config,defaultSamplingRate}', '-0.1')),
  ('defaultSamplingRate "1"', jsonb_set(b, '{config,defaultSamplingRate}', '"1"')),
  ('sampling.rate 2', jsonb_set(b, '{events,0,sampling,rate}', '2')),
  ('sampling.rate 0', jsonb_set(b, '{events,0,sampling,rate}', '0')),
  ('sampling.rate 1', jsonb_set(b, '{events,0,sampling,rate}', '1')),
  ('retention.days 0', jsonb_set(b, '{events,0,retention,days}', '0')),
  ('retention.days 36501', jsonb_set(b, '{events,0,retention,days}', '36501')),
  ('retention.days 36500', jsonb_set(b, '{events,0,retention,days}', '36500')),
  ('retention.days 1.5', jsonb_set(b, '{events,0,retention,days}', '1.5')),
  ('defaultRetentionDays 0', jsonb_set(b, '{config,defaultRetentionDays}', '0')),
  ('defaultRetentionDays 2.5', jsonb_set(b, '{config,defaultRetentionDays}', '2.5')),
  ('minimumSample 0', jsonb_set(b, '{events,0,anomalyDetection,minimumSample}', '0')),
  ('minimumSample 2.5', jsonb_set(b, '{events,0,anomalyDetection,minimumSample}', '2.5')),
  ('minimumSample "10"', jsonb_set(b, '{events,0,anomalyDetection,minimumSample}', '"10"')),
  ('checkIntervalMs 10', jsonb_set(b, '{config,anomalyDetection,checkIntervalMs}', '10'))
) AS c(label, doc);

-- anomaly thresholds
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('neither min nor max', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}', '{"metric": "ms"}')),
  ('min greater than max', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}', '{"metric": "ms", "min": 5, "max": 1}')),
  ('min equal to max', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}', '{"metric": "ms", "min": 5, "max": 5}')),
  ('only min', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}', '{"metric": "ms", "min": 5}')),
  ('min not a number', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}', '{"metric": "ms", "min": "5"}')),
  ('metric not declared', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,metric}', '"latency"')),
  ('metric a string property', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,metric}', '"kind"')),
  ('metric pii', jsonb_set(b, '{events,0,properties,ms,pii}', 'true')),
  ('metric redact', jsonb_set(b, '{events,0,properties,ms,redact}', 'true')),
  ('metric hashed', jsonb_set(b, '{events,0,properties,ms,redaction}', '"hash"')),
  ('event sensitive', jsonb_set(b, '{events,0,privacy}', '"sensitive"')),
  ('enabled without thresholds', b #- '{events,0,anomalyDetection,thresholds}'),
  ('thresholds not an array', jsonb_set(b, '{events,0,anomalyDetection,thresholds}', '{}')),
  ('disabled with thresholds', jsonb_set(b, '{events,0,anomalyDetection,enabled}', 'false')),
  ('aggregate without window', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,aggregate}', '"p95"')),
  ('window without aggregate', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,window}', '"5 minutes"')),
  ('window not an interval', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}',
     '{"metric": "ms", "max": 1, "aggregate": "avg", "window": "soon"}')),
  ('window of 8 days', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}',
     '{"metric": "ms", "max": 1, "aggregate": "avg", "window": "8 days"}')),
  ('count needs no metric', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0}',
     '{"aggregate": "count", "window": "1 hour", "min": 1}'))
) AS c(label, doc);

-- providers: each type's required config keys, secrets as literal or reference
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('posthog without projectApiKey', jsonb_set(b, '{config,providers,0,config}', '{"host": "https://ph.example"}')),
  ('posthog with apiKey (alias)', jsonb_set(b, '{config,providers,0,config}', '{"apiKey": "phc_123"}')),
  ('segment without writeKey', jsonb_set(b, '{config,providers,0}', '{"type": "segment", "config": {}}')),
  ('segment without config', jsonb_set(b, '{config,providers,0}', '{"type": "segment"}')),
  ('segment with writeKey', jsonb_set(b, '{config,providers,0}', '{"type": "segment", "config": {"writeKey": "wk"}}')),
  ('webhook without url', jsonb_set(b, '{config,providers,1,config}', '{"secret": "whsec_MTIz"}')),
  ('webhook without secret', jsonb_set(b, '{config,providers,1,config}', '{"url": "https://h.example"}')),
  ('webhook url not http', jsonb_set(b, '{config,providers,1,config,url}', '"ftp://h.example/x"')),
  ('webhook url with credentials', jsonb_set(b, '{config,providers,1,config,url}', '"https://user:pw@h.example/x"')),
  ('webhook secret empty', jsonb_set(b, '{config,providers,1,config,secret}', '""')),
  ('webhook secret a number', jsonb_set(b, '{config,providers,1,config,secret}', '42')),
  ('webhook secret reference with two keys', jsonb_set(b, '{config,providers,1,config,secret}', '{"env": "A", "secret": "b"}')),
  ('webhook header name invalid', jsonb_set(b, '{config,providers,1,config,headers}', '{"X Bad": "v"}')),
  ('opentelemetry without endpoint', jsonb_set(b, '{config,providers,0}', '{"type": "opentelemetry", "config": {"serviceName": "s"}}')),
  ('opentelemetry with endpoint', jsonb_set(b, '{config,providers,0}', '{"type": "opentelemetry", "config": {"endpoint": "http://127.0.0.1:4318"}}')),
  ('internal with a config key', jsonb_set(b, '{config,providers,0}', '{"type": "internal", "config": {"x": 1}}')),
  ('internal', jsonb_set(b, '{config,providers,0}', '{"type": "internal"}')),
  ('provider type missing', jsonb_set(b, '{config,providers,0}', '{"config": {}}')),
  ('providers not an array', jsonb_set(b, '{config,providers}', '{}')),
  ('17 providers', jsonb_set(b, '{config,providers}', (SELECT jsonb_agg(jsonb_build_object('type', 'internal', 'name', 'p' || i))
     FROM generate_series(1, 17) i)))
) AS c(label, doc);

-- unknown keys are errors naming the key (a typo must not disable a rule)
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('top level', b || '{"event": []}'),
  ('meta', jsonb_set(b, '{meta,owner}', '"me"')),
  ('config', jsonb_set(b, '{config,retentionDays}', '3')),
  ('config.anomalyDetection', jsonb_set(b, '{config,anomalyDetection,interval}', '3')),
  ('event', jsonb_set(b, '{events,0,privcy}', '"pii"')),
  ('semantics', jsonb_set(b, '{events,0,semantics,how}', '"x"')),
  ('property', jsonb_set(b, '{events,0,properties,ms,requried}', 'true')),
  ('retention', jsonb_set(b, '{events,0,retention,day}', '3')),
  ('sampling', jsonb_set(b, '{events,0,sampling,ratio}', '0.1')),
  ('anomalyDetection minimumSampel', jsonb_set(b, '{events,0,anomalyDetection,minimumSampel}', '100')),
  ('threshold', jsonb_set(b, '{events,0,anomalyDetection,thresholds,0,maximum}', '3')),
  ('provider', jsonb_set(b, '{config,providers,0,settings}', '{}')),
  ('provider config', jsonb_set(b, '{config,providers,0,config,token}', '"t"'))
) AS c(label, doc);

-- wrong JSON types
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('properties an array', jsonb_set(b, '{events,0,properties}', '[]')),
  ('property a string', jsonb_set(b, '{events,0,properties,ms}', '"number"')),
  ('required not a boolean', jsonb_set(b, '{events,0,properties,ms,required}', '"yes"')),
  ('owners not an array', jsonb_set(b, '{meta,owners}', '"@team"')),
  ('tags not strings', jsonb_set(b, '{meta,tags}', '[1]')),
  ('title a number', jsonb_set(b, '{meta,title}', '1')),
  ('retention a number', jsonb_set(b, '{events,0,retention}', '30')),
  ('semantics.what a number', jsonb_set(b, '{events,0,semantics,what}', '1')),
  ('sampling.by not a key', jsonb_set(b, '{events,0,sampling,by}', '"user id"')),
  ('sampling.conditions not strings', jsonb_set(b, '{events,0,sampling,conditions}', '[{"if": 1}]')),
  ('config.context property type', jsonb_set(b, '{config,context}', '{"userId": {"type": "uuid"}}')),
  ('config.context an array', jsonb_set(b, '{config,context}', '[]')),
  ('config null (as absent)', jsonb_set(b, '{config}', 'null')),
  ('retention null (as absent)', jsonb_set(b, '{events,0,retention}', 'null'))
) AS c(label, doc);

-- limits: a spec at most 1 MB, 1000 events, 500 properties an event
CREATE FUNCTION pg_temp.events(n integer) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_object('key', 'test.many.e' || i, 'version', '1.0.0', 'privacy', 'public',
		'semantics', '{"what": "w"}'::jsonb, 'properties', '{"a": {"type": "number"}}'::jsonb))
	FROM generate_series(1, n) i
$$;
CREATE FUNCTION pg_temp.props(n integer) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_object_agg('p' || i, '{"type": "string"}'::jsonb) FROM generate_series(1, n) i
$$;
SELECT c.label, pg_temp.check_spec(c.doc) AS result FROM base, LATERAL (VALUES
  ('spec over 1 MB', jsonb_set(b, '{meta,description}', to_jsonb(repeat('d', 1048576)))),
  ('1001 events', jsonb_set(b, '{events}', pg_temp.events(1001))),
  ('1000 events', jsonb_set(b, '{events}', pg_temp.events(1000))),
  ('501 properties', jsonb_set(b, '{events,0,properties}', pg_temp.props(501))),
  ('500 properties', jsonb_set(b #- '{events,0,anomalyDetection}', '{events,0,properties}', pg_temp.props(500))),
  ('501 context properties', jsonb_set(b, '{config,context}', pg_temp.props(501))),
  ('101 tags', jsonb_set(b, '{meta,tags}', (SELECT jsonb_agg('t' || i) FROM generate_series(1, 101) i))),
  ('65 thresholds', jsonb_set(b, '{events,0,anomalyDetection,thresholds}',
     (SELECT jsonb_agg('{"metric": "ms", "max": 1}'::jsonb) FROM generate_series(1, 65))))
) AS c(label, doc);
\pset format aligned

-- None of the rejected specs left anything behind.
SELECT (SELECT count(*) FROM telemetry.specs) AS specs,
	(SELECT count(*) FROM telemetry.event_defs) AS events,
	(SELECT count(*) FROM telemetry.event_properties) AS properties,
	(SELECT count(*) FROM telemetry.anomaly_rules) AS rules,
	(SELECT count(*) FROM telemetry.providers) AS providers;

-- A spec rejected after its rows were written (a duplicate provider name is
-- found while inserting) leaves nothing behind either.
SELECT telemetry_register_spec(jsonb_set(jsonb_set(b, '{config,providers,0,name}', '"dup"'), '{config,providers,1,name}', '"dup"'))
FROM base;
SELECT (SELECT count(*) FROM telemetry.specs) AS specs,
	(SELECT count(*) FROM telemetry.event_defs) AS events,
	(SELECT count(*) FROM telemetry.providers) AS providers;

DROP EXTENSION telemetry;
