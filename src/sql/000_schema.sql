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

CREATE TABLE telemetry.specs (
	key text NOT NULL,
	version text NOT NULL,
	version_key bytea NOT NULL,
	title text,
	description text,
	domain text,
	owners text[] NOT NULL DEFAULT '{}',
	tags text[] NOT NULL DEFAULT '{}',
	stability text,
	default_retention_days integer,
	default_sampling_rate double precision,
	anomaly_enabled boolean NOT NULL DEFAULT true,
	anomaly_check_interval_ms integer,
	document jsonb NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now(),
	registered_by name NOT NULL DEFAULT current_user,
	PRIMARY KEY (key, version)
);

CREATE TABLE telemetry.event_defs (
	event text NOT NULL,
	version text NOT NULL,
	version_key bytea NOT NULL,
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	privacy text NOT NULL,
	what text NOT NULL,
	who text,
	why text,
	retention_days integer,
	retention_policy text NOT NULL DEFAULT 'delete',
	sampling_rate double precision,
	sampling_by text,
	anomaly_enabled boolean NOT NULL DEFAULT false,
	minimum_sample integer NOT NULL DEFAULT 1,
	actions text[] NOT NULL DEFAULT '{}',
	tags text[] NOT NULL DEFAULT '{}',
	definition jsonb NOT NULL,
	PRIMARY KEY (event, version),
	FOREIGN KEY (spec_key, spec_version) REFERENCES telemetry.specs ON DELETE CASCADE
);
CREATE INDEX ON telemetry.event_defs (event, version_key);
CREATE INDEX ON telemetry.event_defs (spec_key, spec_version);

-- Declared properties of events (scope 'property') and of their spec's
-- context (scope 'context', copied onto each event of the spec).
CREATE TABLE telemetry.event_properties (
	event text NOT NULL,
	version text NOT NULL,
	scope text NOT NULL CHECK (scope IN ('property', 'context')),
	name text NOT NULL,
	ordinal integer NOT NULL,
	type text NOT NULL,
	required boolean NOT NULL DEFAULT false,
	pii boolean NOT NULL DEFAULT false,
	redact boolean NOT NULL DEFAULT false,
	redaction text,
	description text,
	PRIMARY KEY (event, version, scope, name),
	FOREIGN KEY (event, version) REFERENCES telemetry.event_defs ON DELETE CASCADE
);

CREATE TABLE telemetry.anomaly_rules (
	event text NOT NULL,
	version text NOT NULL,
	ordinal integer NOT NULL,
	metric text,
	min double precision,
	max double precision,
	aggregate text,
	"window" interval,
	PRIMARY KEY (event, version, ordinal),
	FOREIGN KEY (event, version) REFERENCES telemetry.event_defs ON DELETE CASCADE
);

CREATE TABLE telemetry.providers (
	spec_key text NOT NULL,
	spec_version text NOT NULL,
	name text NOT NULL,
	ordinal integer NOT NULL,
	type text NOT NULL,
	config jsonb NOT NULL DEFAULT '{}',
	enabled boolean NOT NULL DEFAULT true,
	disabled_reason text,
	PRIMARY KEY (spec_key, spec_version, name),
	FOREIGN KEY (spec_key, spec_version) REFERENCES telemetry.specs ON DELETE CASCADE
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
SELECT pg_catalog.pg_extension_config_dump('telemetry.event_properties', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.anomaly_rules', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.providers', '');
SELECT pg_catalog.pg_extension_config_dump('telemetry.redaction_key', '');
