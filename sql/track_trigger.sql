-- telemetry_track_trigger(): one event per row, from INSERT or UPDATE.
\getenv abs_srcdir PG_ABS_SRCDIR
\set setup :abs_srcdir '/test/track_setup.sql'
\i :setup

CREATE TABLE orders (id serial, s text, n numeric, b boolean, internal_note text);
CREATE TRIGGER orders_tracked AFTER INSERT OR UPDATE ON orders
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1.0.0');

-- declared columns become properties; other columns are left out
INSERT INTO orders (s, n, b, internal_note) VALUES ('first', 12.5, true, 'do not track');
-- context from telemetry.context, redacted like any context
BEGIN;
SET LOCAL telemetry.context = '{"userId": "u-7", "ip": "10.0.0.7", "requestId": "r-1"}';
UPDATE orders SET n = 13 WHERE s = 'first';
COMMIT;
SELECT event, version, properties, context - 'userId' AS context,
	context ->> 'userId' LIKE 'hmac-sha256:%' AS user_hashed
FROM telemetry.events ORDER BY received_at, id;

-- a rolled-back insert tracks nothing
BEGIN;
INSERT INTO orders (s) VALUES ('rolled back');
ROLLBACK;
SELECT count(*) AS events FROM telemetry.events;

-- a third argument maps property names to column names
CREATE TABLE signups (id serial, label text, amount int);
CREATE TRIGGER signups_tracked AFTER INSERT ON signups
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1.0', '{"s": "label", "n": "amount"}');
INSERT INTO signups (label, amount) VALUES ('mapped', 3);
SELECT version, properties FROM telemetry.events WHERE properties ->> 's' = 'mapped';

-- an invalid row aborts the statement by default ...
INSERT INTO orders (s) VALUES (NULL);
SELECT count(*) AS orders_without_s FROM orders WHERE s IS NULL;
-- ... and is quarantined instead when telemetry.on_invalid = quarantine
SET telemetry.on_invalid = quarantine;
INSERT INTO orders (s) VALUES (NULL);
RESET telemetry.on_invalid;
SELECT count(*) AS orders_without_s FROM orders WHERE s IS NULL;
SELECT event, error FROM telemetry.rejected_events;

-- misuse is reported clearly
CREATE TABLE bad (x int);
CREATE TRIGGER bad_map AFTER INSERT ON bad
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1', '{"s": "nope"}');
INSERT INTO bad VALUES (1);
DROP TRIGGER bad_map ON bad;
CREATE TRIGGER bad_json AFTER INSERT ON bad
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1', 'not json');
INSERT INTO bad VALUES (1);
DROP TRIGGER bad_json ON bad;
CREATE TRIGGER bad_event AFTER INSERT ON bad
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('no.such.event', '1');
INSERT INTO bad VALUES (1);
DROP TRIGGER bad_event ON bad;
CREATE TRIGGER bad_level AFTER INSERT ON bad
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1');
INSERT INTO bad VALUES (1);
DROP TRIGGER bad_level ON bad;
BEGIN;
SET LOCAL telemetry.context = '{not json';
INSERT INTO orders (s) VALUES ('x');
ROLLBACK;

DROP TABLE orders, signups, bad;
DROP EXTENSION telemetry;
