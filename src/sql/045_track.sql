-- telemetry: tracking events.

-- Compiled specs are cached per backend; any change to the catalog tells
-- every backend to drop its cache (at commit).
CREATE FUNCTION telemetry._catalog_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'telemetry_catalog_changed'
	LANGUAGE C;
-- (a trigger only on the extension's own tables: nobody else may attach it)
REVOKE ALL ON FUNCTION telemetry._catalog_changed() FROM PUBLIC;
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON telemetry.specs
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON telemetry.event_defs
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON telemetry.event_properties
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON telemetry.redaction_key
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();

-- Track one event in the caller's transaction.  Returns its id, or NULL when
-- it was sampled out, expired or (on_invalid = quarantine) rejected.
-- Not SECURITY DEFINER: the C code acts as the extension's owner for its
-- catalog reads (with a pinned search_path) and its INSERT, which costs
-- less per call than fmgr's SECURITY DEFINER + SET search_path.
CREATE FUNCTION @extschema@.telemetry_track(
	event text,
	version text DEFAULT NULL,
	properties jsonb DEFAULT '{}',
	context jsonb DEFAULT '{}',
	occurred_at timestamptz DEFAULT now())
RETURNS uuid
	AS 'MODULE_PATHNAME', 'telemetry_track'
	LANGUAGE C VOLATILE;

-- The seed's form: telemetry_track('sigil.telemetry.workflow_step', 1, '{...}').
CREATE FUNCTION @extschema@.telemetry_track(
	event text,
	version integer,
	properties jsonb DEFAULT '{}',
	context jsonb DEFAULT '{}',
	occurred_at timestamptz DEFAULT now())
RETURNS uuid
	AS 'MODULE_PATHNAME', 'telemetry_track_int'
	LANGUAGE C VOLATILE;

-- Several events in one call (one request's events in one round trip):
-- a JSON array of {event, version, properties, context, occurred_at}, each
-- tracked as telemetry_track would; one row per item, in order, with the
-- stored event's id or NULL.  The rows are written together at the end.
CREATE FUNCTION @extschema@.telemetry_track_batch(events jsonb) RETURNS SETOF uuid
	AS 'MODULE_PATHNAME', 'telemetry_track_batch'
	LANGUAGE C VOLATILE;

CREATE FUNCTION telemetry._track_row(event text, version text, properties jsonb, context jsonb, occurred_at timestamptz)
RETURNS uuid
	AS 'MODULE_PATHNAME', 'telemetry_track_row'
	LANGUAGE C VOLATILE;

-- Row trigger: track one event per row.  Arguments: event, version (or ''
-- for the latest), and optionally a JSON object mapping property names to
-- column names.  Properties are the NEW row's columns the event declares;
-- the context comes from the setting telemetry.context.
CREATE FUNCTION @extschema@.telemetry_track_trigger() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	props jsonb;
	row_json jsonb;
	mapping jsonb;
	ctx_text text;
	ctx jsonb;
	m record;
BEGIN
	IF TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
		RAISE EXCEPTION 'telemetry_track_trigger() must be a row trigger on INSERT or UPDATE'
			USING ERRCODE = 'trigger_protocol_violated';
	END IF;
	IF TG_NARGS < 1 OR TG_NARGS > 3 THEN
		RAISE EXCEPTION 'telemetry_track_trigger() takes 1 to 3 arguments: event, version, property-to-column map'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	row_json := to_jsonb(NEW);
	props := row_json;
	IF TG_NARGS = 3 THEN
		BEGIN
			mapping := TG_ARGV[2]::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			RAISE EXCEPTION 'telemetry_track_trigger(): the third argument must be a JSON object mapping property names to column names'
				USING ERRCODE = 'invalid_parameter_value';
		END;
		IF jsonb_typeof(mapping) <> 'object' THEN
			RAISE EXCEPTION 'telemetry_track_trigger(): the third argument must be a JSON object mapping property names to column names'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR m IN SELECT key, value FROM jsonb_each(mapping) LOOP
			IF jsonb_typeof(m.value) <> 'string' OR NOT row_json ? (m.value #>> '{}') THEN
				RAISE EXCEPTION 'telemetry_track_trigger(): property "%" maps to %, which is not a column of %',
					m.key, m.value, TG_TABLE_NAME
					USING ERRCODE = 'undefined_column';
			END IF;
			props := props || jsonb_build_object(m.key, row_json -> (m.value #>> '{}'));
		END LOOP;
	END IF;
	ctx_text := current_setting('telemetry.context', true);
	IF ctx_text IS NULL OR ctx_text = '' THEN
		ctx := '{}';
	ELSE
		BEGIN
			ctx := ctx_text::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			RAISE EXCEPTION 'telemetry.context is not valid JSON'
				USING ERRCODE = 'invalid_parameter_value';
		END;
	END IF;
	PERFORM telemetry._track_row(TG_ARGV[0], NULLIF(TG_ARGV[1], ''), props, ctx, now());
	RETURN NULL;
END
$$;

-- Per-event counters kept in shared memory (calls, not commits).
CREATE FUNCTION telemetry._track_stats(
	OUT event text, OUT version text, OUT stored bigint, OUT sampled_out bigint,
	OUT expired bigint, OUT rejected bigint, OUT last_tracked timestamptz)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'telemetry_track_stats'
	LANGUAGE C VOLATILE;

CREATE VIEW telemetry.track_stats AS
	SELECT * FROM telemetry._track_stats() ORDER BY event, version;

-- The shared counters table as this database sees it: its entries, the
-- table's size, the databases sharing it and this database's fair share,
-- calls not counted because the table was full and the share used, and its
-- entries evicted to give another database its share.
CREATE FUNCTION telemetry._track_stats_info(
	OUT entries integer, OUT max_entries integer, OUT databases integer, OUT fair_share integer,
	OUT not_counted bigint, OUT evicted bigint, OUT stats_reset timestamptz)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'telemetry_track_stats_info'
	LANGUAGE C VOLATILE;

CREATE VIEW telemetry.track_stats_info AS
	SELECT * FROM telemetry._track_stats_info();

CREATE FUNCTION @extschema@.telemetry_reset_stats() RETURNS void
	AS 'MODULE_PATHNAME', 'telemetry_reset_stats'
	LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION @extschema@.telemetry_reset_stats() FROM PUBLIC;
GRANT SELECT ON telemetry.track_stats, telemetry.track_stats_info TO PUBLIC;
