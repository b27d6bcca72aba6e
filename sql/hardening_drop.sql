-- DROP EXTENSION removes everything the extension created: its schemas,
-- tables, the partitions maintenance made, views, functions, triggers and
-- types, wherever they are.  Checked by name patterns over the catalogs, so
-- objects added by later features are covered too.
CREATE TEMP TABLE before_schemas AS SELECT nspname FROM pg_namespace;
CREATE TEMP TABLE before_classes AS SELECT oid FROM pg_class;
CREATE TEMP TABLE before_procs AS SELECT oid FROM pg_proc;
CREATE TEMP TABLE before_types AS SELECT oid FROM pg_type;
CREATE EXTENSION telemetry;
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set spec :abs_srcdir '/test/track-spec.json'
SELECT telemetry_load_spec(:'spec');
SELECT telemetry_run_maintenance() ? 'created' AS maintained;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": "x"}') IS NOT NULL AS tracked;
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('t.typed', '1.0.0', '{"s": 1}');
RESET telemetry.on_invalid;
-- a user table with the tracking trigger
CREATE TABLE public.drop_orders (id integer, s text);
CREATE TRIGGER track AFTER INSERT ON public.drop_orders FOR EACH ROW
	EXECUTE FUNCTION telemetry_track_trigger('t.typed', '1.0.0');
INSERT INTO public.drop_orders VALUES (1, 'row');
SELECT count(*) > 1 AS has_partitions FROM pg_inherits WHERE inhparent = 'telemetry.events'::regclass;

-- The trigger depends on the extension's function: a plain DROP refuses,
-- CASCADE takes the trigger (and nothing else of the user's) with it.
DROP EXTENSION telemetry;
DROP EXTENSION telemetry CASCADE;
SELECT count(*) AS user_rows FROM public.drop_orders;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.drop_orders'::regclass;
DROP TABLE public.drop_orders;

-- Nothing is left.
SELECT nspname AS schema_left FROM pg_namespace
WHERE nspname NOT IN (SELECT nspname FROM before_schemas) AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%';
SELECT c.oid::regclass AS relation_left FROM pg_class c
WHERE c.oid NOT IN (SELECT oid FROM before_classes) AND c.relpersistence <> 't'
	AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\_%temp\_%');
SELECT p.oid::regprocedure AS function_left FROM pg_proc p
WHERE p.oid NOT IN (SELECT oid FROM before_procs);
SELECT t.oid::regtype AS type_left FROM pg_type t
WHERE t.oid NOT IN (SELECT oid FROM before_types)
	AND t.typnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\_%temp\_%');
SELECT count(*) AS event_triggers_left FROM pg_event_trigger WHERE evtfoid NOT IN (SELECT oid FROM before_procs);
SELECT count(*) AS telemetry_objects_left FROM pg_class WHERE relname LIKE 'events\_p%' OR relname LIKE 'telemetry%';

-- and the extension installs again from scratch
CREATE EXTENSION telemetry;
SELECT count(*) AS specs FROM telemetry.specs;
DROP EXTENSION telemetry;
