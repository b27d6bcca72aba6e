# pg_dump keeps the spec catalog: a dump of a database with registered specs
# restores without errors into a new database with the same catalog rows
# and the same redaction key, and the restored catalog behaves (reload is a
# no-op, a changed document is rejected).  Named secrets are deliberately
# not in the dump (dumps travel further than the database): they are set
# again with telemetry_set_secret() after a restore.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{TELEMETRY_SRC} or die "TELEMETRY_SRC is not set";

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_env = 'POSTHOG_KEY, SEGMENT_WRITE_KEY'
# examples/shop.checkout.json sends to a loopback sink
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
# the example's webhook secret must exist (and allow its host) to register it
$node->safe_psql('app',
	"SELECT telemetry_set_secret('checkout_webhook', 'whsec_dGVzdA==', ARRAY['127.0.0.1'])");
my @files = sort glob("$src/examples/*.json");
ok(@files >= 2, 'examples found');
for my $f (@files)
{
	$node->safe_psql('app', "SELECT telemetry_load_spec('$f')");
}

# every row of every catalog table, in a stable order
my $snapshot = q{
SELECT t, (SELECT string_agg(r, E'\n' ORDER BY r) FROM unnest(rows) AS r)
FROM (
	SELECT 'specs' AS t, array_agg(s::text) AS rows FROM telemetry.specs s
	UNION ALL SELECT 'event_defs', array_agg(e::text) FROM telemetry.event_defs e
	UNION ALL SELECT 'event_properties', array_agg(p::text) FROM telemetry.event_properties p
	UNION ALL SELECT 'anomaly_rules', array_agg(a::text) FROM telemetry.anomaly_rules a
	UNION ALL SELECT 'providers', array_agg(p::text) FROM telemetry.providers p
	UNION ALL SELECT 'redaction_key', array_agg(k::text) FROM telemetry.redaction_key k
	UNION ALL SELECT 'event_catalog', array_agg(c::text) FROM telemetry.event_catalog c
) x ORDER BY t};
my $before = $node->safe_psql('app', $snapshot);
like($before, qr/shop\.order_placed/, 'catalog loaded');

my $dump = $node->basedir . '/app.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('app'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my ($stdout, $stderr);
my $rc = $node->psql('restored', undef,
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', $dump ],
	stdout => \$stdout, stderr => \$stderr);
is($rc, 0, 'the dump restores without errors');
is($stderr, '', 'no error or warning while restoring');

is($node->safe_psql('restored', $snapshot), $before,
	'restored catalog and redaction key are identical');
is($node->safe_psql('restored', 'SELECT count(*) FROM telemetry.secrets'), '0',
	'named secrets are not in the dump');
unlike(slurp_file($dump), qr/whsec_dGVzdA/, 'the secret value appears nowhere in the dump');

my $shop = "$src/examples/shop.checkout.json";
# a spec naming a secret registers only where the secret exists: set it again
($rc, $stdout, $stderr) = $node->psql('restored', "SELECT telemetry_load_spec('$shop')");
like($stderr, qr/secret "checkout_webhook" does not exist or may not be sent/,
	'before the secret is set again, the example is refused in the restored database');
$node->safe_psql('restored',
	"SELECT telemetry_set_secret('checkout_webhook', 'whsec_dGVzdA==', ARRAY['127.0.0.1'])");
is($node->safe_psql('restored', "SELECT telemetry_load_spec('$shop')"),
	'shop.checkout@2.1.0', 'reloading an example in the restored database is a no-op');
($rc, $stdout, $stderr) = $node->psql('restored',
	"SELECT telemetry_register_spec(jsonb_set(pg_read_file('$shop')::jsonb, '{meta,title}', '\"x\"'))");
like($stderr, qr/already registered with a different document/,
	'a changed document is rejected in the restored database');

$node->stop;
done_testing();
