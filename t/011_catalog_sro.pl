# Secrets are shown only to the extension's owner, decided from the current
# effective user, and never inside a security-restricted operation (issue 10,
# finding 2).  A role that owns a schema places telemetry_spec() where a
# superuser runs it for the role: an index expression evaluated by
# autovacuum's ANALYZE, a materialized view the superuser refreshes, a
# SECURITY DEFINER function the superuser calls.  The loot table must never
# receive a secret, while the rows in it prove each path ran as the
# superuser's session.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('catalog_sro');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.enabled = off
autovacuum = on
autovacuum_naptime = 1s
});
$node->start;

# A spec with every kind of secret a provider config can hold: literal keys,
# a webhook signing secret, header tokens and a URL with a secret path.
$node->safe_psql('postgres', q{
CREATE EXTENSION telemetry;
SELECT telemetry_set_secret('named', 'LOOT-named-value', ARRAY['hooks.example.com']);
SELECT telemetry_register_spec('{
  "meta": {"key": "shop", "version": "1.0.0"},
  "config": {"providers": [
    {"type": "segment", "config": {"writeKey": "LOOT-writekey"}},
    {"type": "posthog", "config": {"projectApiKey": "LOOT-phkey", "host": "https://eu.posthog.example/LOOT-path"}},
    {"type": "webhook", "config": {"url": "https://hooks.example.com/T0/LOOT-path?token=LOOT-query",
      "secret": "whsec_TE9PVC13ZWJob29r", "headers": {"Authorization": "Bearer LOOT-token", "X-Named": {"secret": "named"}}}}]},
  "events": [{"key": "shop.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}');
CREATE ROLE mallory LOGIN;
CREATE SCHEMA appdata AUTHORIZATION mallory;
});

# The owner, directly, sees everything (the loot pattern does match).
like($node->safe_psql('postgres', q{SELECT telemetry_spec('shop')::text}), qr/LOOT-writekey/,
	'the owner sees the literal secrets (the pattern below would find them)');

# The issue's repro, as mallory.  Names are schema-qualified: autovacuum
# runs with an empty search_path.
$node->safe_psql('postgres', q{
SET ROLE mallory;
CREATE TABLE appdata.loot (via text, session_role name, doc jsonb);
CREATE FUNCTION appdata.sink(via text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO appdata.loot SELECT via, session_user, public.telemetry_spec('shop') #> '{config,providers}';
	RETURN 1;
END $$;
CREATE FUNCTION appdata.f(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM appdata.sink('analyze'); RETURN $1; END $$;
CREATE TABLE appdata.t (x int);
CREATE INDEX ON appdata.t (appdata.f(x));
INSERT INTO appdata.t SELECT generate_series(1, 500);
CREATE MATERIALIZED VIEW appdata.mv AS SELECT appdata.sink('matview') AS x WITH NO DATA;
CREATE FUNCTION appdata.trap() RETURNS int LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN RETURN appdata.sink('definer'); END $$;
});

# auto-analyze evaluates the index expression as mallory, in a
# security-restricted operation, in a session of the bootstrap superuser
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM appdata.loot WHERE via = 'analyze' AND session_role <> 'mallory'}),
	'auto-analyze ran the index expression');

# the superuser refreshes mallory's materialized view and calls her function
$node->safe_psql('postgres', 'REFRESH MATERIALIZED VIEW appdata.mv');
$node->safe_psql('postgres', 'SELECT appdata.trap()');

# and the owner's own materialized view: inside a security-restricted
# operation nothing is revealed, to anyone
$node->safe_psql('postgres', q{
CREATE TABLE public.owner_loot (doc jsonb);
CREATE FUNCTION public.owner_sink() RETURNS int LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.owner_loot SELECT public.telemetry_spec('shop'); RETURN 1; END $$;
CREATE MATERIALIZED VIEW public.owner_mv AS SELECT public.owner_sink() AS x WITH NO DATA;
REFRESH MATERIALIZED VIEW public.owner_mv;
});

my $ran = $node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT via, ',' ORDER BY via) FROM appdata.loot WHERE session_role <> 'mallory'});
is($ran, 'analyze,definer,matview', 'every path ran in the superuser\'s session');
is($node->safe_psql('postgres', q{SELECT count(*) FROM appdata.loot WHERE doc::text ~ 'LOOT'}), '0',
	'the loot table never gets a secret');
# (one query: auto-analyze may add rows between two)
is($node->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE doc #>> '{0,config,writeKey}' = '********' AND doc #>> '{2,config,url}' = 'https://hooks.example.com/********') = count(*) FROM appdata.loot}),
	't', 'every loot row holds the masked document (references and hosts only)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM public.owner_loot WHERE doc::text !~ 'LOOT'}), '1',
	'not even the owner sees secrets inside a security-restricted operation');

$node->stop;
done_testing();
