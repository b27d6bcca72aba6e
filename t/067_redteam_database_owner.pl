# Red-team review (issue 10 follow-up): a database owner who is not a
# superuser must not become one through anything the extension runs, nor
# choose the redaction key.  The extension lives in schema public, which
# in PostgreSQL 15 belongs to the database owner (pg_database_owner).
#
# 1. Before a superuser runs CREATE EXTENSION, the database owner plants
#    public.convert_to(text, text).  The install script's
#    sha256(convert_to(... , 'UTF8')) for the redaction key prefers it to
#    pg_catalog.convert_to(text, name) (an unknown literal resolves to the
#    preferred type text), so it runs as the superuser, and its return
#    value becomes the redaction key.
# 2. After CREATE EXTENSION, the database owner renames schema public
#    (which holds the extension's functions), creates a new schema public
#    and plants public.telemetry_register_spec(jsonb) there.
#    telemetry_load_spec's body calls public.telemetry_register_spec by
#    name (@extschema@ was substituted as text), so a superuser loading a
#    spec file calls the planted function.
#
# Expected (fails on main at d24c851): neither makes app_owner a superuser,
# and the redaction key is not one the database owner chose.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('redteam_dbowner');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.enabled = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE ROLE app_owner LOGIN;
CREATE DATABASE app1 OWNER app_owner;
CREATE DATABASE app2 OWNER app_owner;
});

my $escalate = q{
CREATE FUNCTION %s RETURNS %s LANGUAGE plpgsql AS $f$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE app_owner SUPERUSER';
	END IF;
	RETURN %s;
END $f$;
};
my $is_super = q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'};

# ---- 1: planted before CREATE EXTENSION ----
$node->safe_psql('app1', sprintf($escalate,
		'public.convert_to(t text, enc text)', 'bytea', q{'\x00'::bytea}),
	extra_params => [ '-U', 'app_owner' ]);
$node->safe_psql('app1', 'CREATE EXTENSION telemetry');
is($node->safe_psql('postgres', $is_super), 'f',
	'CREATE EXTENSION calls nothing the database owner planted in public');
is($node->safe_psql('app1', q{SELECT key = sha256('\x00'::bytea) FROM telemetry.redaction_key}), 'f',
	'the redaction key is not one the database owner chose');
$node->safe_psql('postgres', 'ALTER ROLE app_owner NOSUPERUSER');

# ---- 2: planted after CREATE EXTENSION ----
$node->safe_psql('app2', 'CREATE EXTENSION telemetry');
$node->safe_psql('app2', q{ALTER SCHEMA public RENAME TO public_old; CREATE SCHEMA public;}
	  . sprintf($escalate, 'public.telemetry_register_spec(spec jsonb)', 'text',
		'public_old.telemetry_register_spec(spec)'),
	extra_params => [ '-U', 'app_owner' ]);
my $file = $node->data_dir . '/redteam_spec.json';
open(my $fh, '>', $file) or die "cannot write $file: $!";
print $fh '{"meta":{"key":"s1","version":"1.0.0"},"events":[{"key":"e1","version":"1.0.0",'
  . '"semantics":{"what":"x"},"privacy":"public","properties":{}}]}';
close($fh);
# the superuser loads a spec file, as the README shows
my $schema = $node->safe_psql('app2',
	q{SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'telemetry'});
$node->psql('app2', "SELECT $schema.telemetry_load_spec('redteam_spec.json')");
is($node->safe_psql('postgres', $is_super), 'f',
	'telemetry_load_spec calls nothing the database owner planted');

$node->stop('fast');
done_testing();
