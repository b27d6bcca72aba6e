# telemetry.max_workers = 1 with two databases: the second is not served, is
# reported so (logged once, and in both views), and is served once the
# first no longer needs its worker.  Without shared_preload_libraries,
# CREATE EXTENSION warns what will not happen, and worker_status says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.max_workers = 1
telemetry.maintenance_interval = '1h'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE one; CREATE DATABASE two');
$node->safe_psql('one', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('one',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'the first database is served');
$node->safe_psql('two', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('one',
		q{SELECT state = 'not served (telemetry.max_workers)' AND pid IS NULL FROM telemetry.workers WHERE database = 'two'}),
	'the second is reported as not served');
is($node->safe_psql('two', q{SELECT string_agg(DISTINCT coalesce(pid::text, '-') || ' ' || last_outcome, ', ') FROM telemetry.worker_status}),
	'- idle: not served (telemetry.max_workers)', 'its worker_status says so for every job');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}),
	'1', 'one worker in all');
# let the launcher look again (a rescan, and a probe of two) a few times
$node->safe_psql('two', 'DROP TABLE IF EXISTS nothing');
$node->safe_psql('postgres', 'CREATE DATABASE three; DROP DATABASE three');
ok($node->poll_query_until('one',
		q{SELECT state = 'not served (telemetry.max_workers)' FROM telemetry.workers WHERE database = 'two'}),
	'still not served after a rescan');
my @logged = (slurp_file($node->logfile) =~ /telemetry\.max_workers \(1\) reached: database "two" is not served/g);
is(scalar @logged, 1, 'logged once');

$node->safe_psql('one', 'DROP EXTENSION telemetry');
ok($node->poll_query_until('two',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'once the first needs no worker, the second is served');
$node->stop('fast');

# ---- no shared_preload_libraries ----
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
my ($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION telemetry');
is($ret, 0, 'CREATE EXTENSION succeeds without the library preloaded');
like($err, qr/WARNING:  telemetry is not in shared_preload_libraries: no background worker serves this database/,
	'with a WARNING');
like($err, qr/DETAIL:  No partitions are made .*no retention is enforced, no anomaly checks run and no events are delivered/,
	'that says what will not happen');
is($plain->safe_psql('postgres', q{SELECT string_agg(DISTINCT coalesce(pid::text, '-') || ' ' || last_outcome, ', ') FROM telemetry.worker_status}),
	'- idle: telemetry is not in shared_preload_libraries: no background worker serves this database',
	'worker_status says so too');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM telemetry.workers'), '0', 'telemetry.workers is empty');
$plain->stop('fast');

done_testing();
