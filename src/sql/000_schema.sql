-- telemetry: spec catalog tables.
-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION telemetry" to load this file. \quit

-- CREATE EXTENSION runs this script with search_path set to the target
-- schema (public, normally), which the database's owner controls: a
-- function or operator planted there (convert_to(text, text), say) would
-- otherwise be preferred to pg_catalog's by the statements below, and run
-- as the superuser installing the extension.  Everything below names its
-- schema (@extschema@ for the SQL API); SET LOCAL ends with the script.
SET LOCAL search_path = pg_catalog, pg_temp;

CREATE SCHEMA telemetry;
COMMENT ON SCHEMA telemetry IS 'catalog, events and views of the telemetry extension';

-- Catalog tables are readable only by the extension's owner: provider configs
-- may carry secrets.  Everyone else reads them through views and functions.
--
-- The catalog's words (property types, redactions, privacy levels, ...)
-- are the vocabulary of the C spec model (src/spec_model.c, provider types
-- from the delivery descriptors): CHECK constraints take them from
-- telemetry._vocabulary(), and the compiler of the per-backend cache
-- (src/spec_cache.c) refuses a value it does not know.
CREATE FUNCTION telemetry._vocabulary(kind text) RETURNS text[]
	AS 'MODULE_PATHNAME', 'telemetry_vocabulary'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A spec version.  The spec key is the unit of deployment (providers and
-- their delivery state belong to it); its highest version is its latest.
CREATE TABLE telemetry.specs (
	key text NOT NULL,
	version text NOT NULL,
	version_key bytea NOT NULL,
	title text,
	description text,
	domain text,
	owners text[] NOT NULL DEFAULT '{}',
	tags text[] NOT NULL DEFAULT '{}',
	stability text CHECK (stability = ANY (telemetry._vocabulary('stability'))),
	default_retention_days integer CHECK (default_retention_days BETWEEN 1 AND 36500),
	default_sampling_rate double precision CHECK (default_sampling_rate BETWEEN 0 AND 1),
	anomaly_enabled boolean NOT NULL DEFAULT true,
	anomaly_check_interval_ms integer CHECK (anomaly_check_interval_ms BETWEEN 100 AND 86400000),
	-- config.context, normalized: the properties every event of this
	-- version gets as its context
	context jsonb NOT NULL DEFAULT '[]',
	document jsonb NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now(),
	registered_by name NOT NULL DEFAULT current_user,
	PRIMARY KEY (key, version)
);

-- An event version, stored once whatever the number of spec versions that
-- list it (telemetry.spec_events).  It belongs to one spec key; spec_version
-- is the highest registered version of that key that lists it, whose
-- defaults, context, stability and anomaly switch apply to it.
CREATE TABLE telemetry.event_defs (
	event text NOT NULL,
	version text NOT NULL,
	version_key bytea NOT NULL,
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	privacy text NOT NULL CHECK (privacy = ANY (telemetry._vocabulary('privacy'))),
	what text NOT NULL,
	who text,
	why text,
	retention_days integer CHECK (retention_days BETWEEN 1 AND 36500),
	retention_policy text NOT NULL DEFAULT 'delete' CHECK (retention_policy = ANY (telemetry._vocabulary('retention policy'))),
	sampling_rate double precision CHECK (sampling_rate BETWEEN 0 AND 1),
	sampling_by text,
	-- normalized sampling.conditions (src/sample_condition.c)
	sampling_conditions text[] NOT NULL DEFAULT '{}',
	-- the event's switch and its governing spec version's
	anomaly_enabled boolean NOT NULL DEFAULT false,
	minimum_sample integer NOT NULL DEFAULT 1 CHECK (minimum_sample >= 1),
	actions text[] NOT NULL DEFAULT '{}' CHECK (actions <@ telemetry._vocabulary('action')),
	tags text[] NOT NULL DEFAULT '{}',
	definition jsonb NOT NULL,
	PRIMARY KEY (event, version),
	UNIQUE (event, version, spec_key),
	-- telemetry_unregister_spec moves an event to another version that
	-- lists it first; deleting a spec version by hand deletes the event
	-- versions it governs, or fails when another version still lists them
	FOREIGN KEY (spec_key, spec_version) REFERENCES telemetry.specs ON DELETE CASCADE
);
CREATE INDEX ON telemetry.event_defs (event, version_key);
CREATE INDEX ON telemetry.event_defs (spec_key, spec_version);

-- Which event versions each spec version lists (an event version of
-- another spec key cannot be listed: the foreign key includes the key).
CREATE TABLE telemetry.spec_events (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	event text NOT NULL,
	version text NOT NULL,
	ordinal integer NOT NULL,
	PRIMARY KEY (spec_key, spec_version, event, version),
	FOREIGN KEY (spec_key, spec_version) REFERENCES telemetry.specs ON DELETE CASCADE,
	FOREIGN KEY (event, version, spec_key) REFERENCES telemetry.event_defs (event, version, spec_key)
);
CREATE INDEX ON telemetry.spec_events (event, version);

-- Event versions that were registered and are no longer (a tombstone is
-- written when an event_defs row goes).  An event key@version keeps its
-- definition for good: writers pin it and stored events were checked and
-- redacted by it.  Registering it again must give the same normalized
-- definition under the same spec key (42710 otherwise, as while it was
-- registered), and new versions of the same major version must stay
-- compatible with it; the registration that brings it back removes the
-- tombstone.  spec_version is the last version that listed it.
CREATE TABLE telemetry.event_tombstones (
	event text NOT NULL,
	version text NOT NULL,
	version_key bytea NOT NULL,
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	definition jsonb NOT NULL,
	retired_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (event, version)
);

-- Declared properties of events (scope 'property') and of their governing
-- spec version's context (scope 'context', copied onto each event).
CREATE TABLE telemetry.event_properties (
	event text NOT NULL,
	version text NOT NULL,
	scope text NOT NULL CHECK (scope IN ('property', 'context')),
	name text NOT NULL,
	ordinal integer NOT NULL,
	type text NOT NULL CHECK (type = ANY (telemetry._vocabulary('property type'))),
	required boolean NOT NULL DEFAULT false,
	pii boolean NOT NULL DEFAULT false,
	redact boolean NOT NULL DEFAULT false,
	redaction text CHECK (redaction = ANY (telemetry._vocabulary('redaction'))),
	description text,
	PRIMARY KEY (event, version, scope, name)
);

-- Each row of event_properties belongs to an event version.  A foreign key
-- would check that with one query per row (a third of the time of
-- registering a large spec); these statement triggers check and cascade
-- once per statement instead.  (event_defs rows cannot change their key or
-- go while a spec version lists them: spec_events refers to them.)
CREATE FUNCTION telemetry._event_properties_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM (SELECT DISTINCT event, version FROM new_rows) n
			WHERE NOT EXISTS (SELECT 1 FROM telemetry.event_defs d WHERE d.event = n.event AND d.version = n.version)) THEN
		RAISE EXCEPTION 'telemetry.event_properties rows must belong to an event version of telemetry.event_defs'
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER event_properties_event AFTER INSERT ON telemetry.event_properties
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._event_properties_check();
CREATE TRIGGER event_properties_event_update AFTER UPDATE ON telemetry.event_properties
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._event_properties_check();

-- An event version that goes (its last spec version unregistered, or
-- deleted by hand) leaves its properties and a tombstone.
CREATE FUNCTION telemetry._event_defs_deleted() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM telemetry.event_properties p USING old_rows o WHERE p.event = o.event AND p.version = o.version;
	INSERT INTO telemetry.event_tombstones (event, version, version_key, spec_key, spec_version, definition)
		SELECT o.event, o.version, o.version_key, o.spec_key, o.spec_version, o.definition FROM old_rows o
		ON CONFLICT (event, version) DO UPDATE
			SET version_key = excluded.version_key, spec_key = excluded.spec_key,
				spec_version = excluded.spec_version, definition = excluded.definition,
				retired_at = excluded.retired_at;
	RETURN NULL;
END
$$;
CREATE TRIGGER event_defs_deleted AFTER DELETE ON telemetry.event_defs
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION telemetry._event_defs_deleted();

CREATE TABLE telemetry.anomaly_rules (
	event text NOT NULL,
	version text NOT NULL,
	ordinal integer NOT NULL,
	metric text,
	min double precision,
	max double precision,
	aggregate text CHECK (aggregate = ANY (telemetry._vocabulary('aggregate'))),
	"window" interval,
	PRIMARY KEY (event, version, ordinal),
	CONSTRAINT anomaly_rules_bound_check CHECK (min IS NOT NULL OR max IS NOT NULL),
	CONSTRAINT anomaly_rules_range_check CHECK (min <= max),
	CONSTRAINT anomaly_rules_window_check CHECK ((aggregate IS NULL) = ("window" IS NULL)),
	CONSTRAINT anomaly_rules_metric_check CHECK (metric IS NOT NULL OR aggregate = 'count'),
	FOREIGN KEY (event, version) REFERENCES telemetry.event_defs ON DELETE CASCADE
);

-- The providers each spec version declares.  Delivery uses those of the
-- latest version of each spec key, identified by (spec_key, name).
CREATE TABLE telemetry.providers (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	name text NOT NULL,
	ordinal integer NOT NULL,
	type text NOT NULL CHECK (type = ANY (telemetry._vocabulary('provider type'))),
	config jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
	enabled boolean NOT NULL DEFAULT true,
	disabled_reason text,
	PRIMARY KEY (spec_key, spec_version, name),
	FOREIGN KEY (spec_key, spec_version) REFERENCES telemetry.specs ON DELETE CASCADE
);

-- Registrations and unregistrations of one spec key take turns: each
-- takes the key's run lock (telemetry._run_lock('spec:' || key, true),
-- which no other role can take first) and then writes the key's row here.
-- At READ COMMITTED the second waits for the first and then sees its
-- result; at REPEATABLE READ or SERIALIZABLE, where the second could not
-- see it, the write fails with a serialization error (40001) and is
-- retried.  Registrations of different keys do not
-- wait for each other (the same new event version in two keys: the second
-- waits on the index of telemetry.event_defs, then gets 42710).  Dumped
-- like the catalog (a restore brings back the same rows).
CREATE TABLE telemetry.spec_turns (
	key text PRIMARY KEY,
	turns bigint NOT NULL DEFAULT 1
);

-- Per-database key for "redaction": "hash" pseudonyms and named secrets.
CREATE TABLE telemetry.redaction_key (
	id boolean PRIMARY KEY DEFAULT true CHECK (id),
	key bytea NOT NULL
);
-- pg_dump restores the dumped key after CREATE EXTENSION has made a fresh
-- one: the restored key replaces it (instead of a duplicate-key error), so
-- "hash" pseudonyms stay the same across a dump and restore.
CREATE FUNCTION telemetry._redaction_key_replace() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM telemetry.redaction_key WHERE id = NEW.id;
	RETURN NEW;
END
$$;
CREATE TRIGGER redaction_key_replace BEFORE INSERT ON telemetry.redaction_key
	FOR EACH ROW EXECUTE FUNCTION telemetry._redaction_key_replace();

INSERT INTO telemetry.redaction_key (key)
	SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8'));

-- Named secrets for {"secret": name} provider settings, set by the owner
-- with telemetry_set_secret().  A secret is sent only to the hosts listed
-- with it (exact names or IP addresses, or "*.suffix"); without hosts it
-- is sent nowhere.
CREATE TABLE telemetry.secrets (
	name text PRIMARY KEY,
	value text NOT NULL,
	hosts text[] NOT NULL DEFAULT '{}',
	updated_at timestamptz NOT NULL DEFAULT now()
);

SELECT pg_catalog.pg_extension_config_dump('telemetry.specs', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.event_defs', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.spec_events', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.event_tombstones', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.spec_turns', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.event_properties', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.anomaly_rules', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.providers', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.redaction_key', '');
