# pg_dump / pg_restore of a database that uses the extension: every table of
# the extension (catalog, events in their partitions and in the default
# partition, quarantine, and whatever history tables features add) comes
# back with the same rows, except named secrets, which are deliberately not
# dumped; partitions are attached again; tracking, quarantine and
# maintenance work after the restore.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{TELEMETRY_SRC} or die "TELEMETRY_SRC is not set";

my $node = PostgreSQL::Test::Cluster->new('dumpev');
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
$node->safe_psql('app', q{INSERT INTO telemetry.secrets (name, value, hosts) VALUES ('checkout_webhook', 'whsec_c2VjcmV0', '{127.0.0.1}')});
for my $f (sort(glob("$src/examples/*.json")), "$src/test/track-spec.json")
{
	$node->safe_psql('app', "SELECT telemetry_load_spec('$f')");
}
$node->safe_psql('app', q{
SELECT telemetry_run_maintenance();
-- now and in 12 hours: premade partitions; 20 days ago: a day without a
-- partition (the default partition, until maintenance makes one)
SELECT count(telemetry_track('t.typed', '1.0.0', jsonb_build_object('s', 'e' || i, 'n', i),
	jsonb_build_object('userId', 'u' || i % 5, 'tenant', i % 3),
	now() + CASE i % 3 WHEN 0 THEN interval '0' WHEN 1 THEN interval '12 hours' ELSE interval '-20 days' END))
	FROM generate_series(1, 60) i;
SELECT count(telemetry_track('t.redact', '1', '{"m": "a@b.c", "h": "u1", "d": "x", "plain": "p"}')) FROM generate_series(1, 5);
SET telemetry.on_invalid = quarantine;
SELECT count(telemetry_track('t.typed', '1.0.0', '{"s": 1}')) FROM generate_series(1, 3);
});

# Each table of the extension's schemas (partitions are read through their
# parent): name, row count and a digest of its rows.
my $snapshot = q{
SELECT string_agg(format('%s %s', c.oid::regclass, (xpath('/row/d/text()',
	query_to_xml(format('SELECT count(*) || '' '' || COALESCE(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), '''') AS d FROM %s t',
		c.oid::regclass), false, true, '')))[1]::text), E'\n' ORDER BY c.oid::regclass::text COLLATE "C")
FROM pg_class c
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
	AND c.relnamespace IN (SELECT r.relnamespace FROM pg_depend d JOIN pg_class r ON r.oid = d.objid
		WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry'))
	AND c.oid <> 'telemetry.secrets'::regclass
};
my $partitions = q{SELECT string_agg(inhrelid::regclass::text, ' ' ORDER BY inhrelid::regclass::text COLLATE "C")
	FROM pg_inherits WHERE inhparent = 'telemetry.events'::regclass};
my $before = $node->safe_psql('app', $snapshot);
my $parts_before = $node->safe_psql('app', $partitions);
like($before, qr/^telemetry\.events 65 /m, 'events stored');
like($before, qr/^telemetry\.rejected_events 3 /m, 'events quarantined');

my $dump = $node->basedir . '/app.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('app'), '-f', $dump ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my ($stdout, $stderr);
IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], '>', \$stdout, '2>', \$stderr);
is($?, 0, 'pg_restore succeeds');
is($stderr, '', 'pg_restore prints no error or warning');

is($node->safe_psql('restored', $snapshot), $before, 'every table of the extension has the same rows');
is($node->safe_psql('restored', $partitions), $parts_before, 'the same partitions are attached');
is($node->safe_psql('restored', 'SELECT count(*) FROM telemetry.secrets'), '0',
	'named secrets are not in the dump (documented: set them again after a restore)');
unlike(slurp_file($dump), qr/whsec_c2VjcmV0/, 'the secret value appears nowhere in the dump');

# the restored database works
is($node->safe_psql('restored', q{SELECT telemetry_track('t.typed', '1.0.0', '{"s": "after restore"}') IS NOT NULL}),
	't', 'tracking works after the restore');
is($node->safe_psql('restored', q{SELECT tableoid::regclass FROM telemetry.events WHERE properties ->> 's' = 'after restore'}),
	$node->safe_psql('restored', q{SELECT 'telemetry.' || telemetry._partition_name((now() AT TIME ZONE 'UTC')::date)}),
	'the new event went to today\'s partition');
$node->safe_psql('restored', q{SET telemetry.on_invalid = quarantine; SELECT telemetry_track('t.typed', '1.0.0', '{"s": 2}')});
is($node->safe_psql('restored', 'SELECT count(DISTINCT id) FROM telemetry.rejected_events'), '4',
	'quarantine continues its ids after the restore');
$node->safe_psql('restored', q{SELECT telemetry_track('t.redact', '1', '{"h": "u1"}')});
is($node->safe_psql('restored', q{SELECT count(DISTINCT properties ->> 'h') FROM telemetry.events WHERE event = 't.redact'}),
	'1', 'hash pseudonyms stay joinable across the restore (same redaction key)');
ok($node->safe_psql('restored', 'SELECT telemetry_run_maintenance() IS NOT NULL') eq 't', 'maintenance works after the restore');

$node->stop;
done_testing();
