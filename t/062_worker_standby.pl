# On a standby neither the launcher nor any worker or probe runs (the
# launcher starts once recovery has finished), and nothing complains; after
# promotion they start and work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION telemetry');
ok($primary->poll_query_until('postgres',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'worker runs on the primary');
$primary->backup('b');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', q{SELECT telemetry_run_maintenance()});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'telemetry%'}),
	'0', 'no launcher, worker or probe on the standby');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM telemetry.workers}), '0',
	'telemetry.workers on the standby: nothing');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM telemetry.worker_status WHERE pid IS NOT NULL OR last_run IS NOT NULL}),
	'0', 'worker_status on the standby: no worker, no runs');
my @problems = grep { !/statement:/ && (/\b(ERROR|FATAL|WARNING|PANIC):/ || /telemetry worker/) }
  split /^/, slurp_file($standby->logfile);
is(join('', @problems), '', 'nothing logged about it on the standby');

$standby->promote;
ok($standby->poll_query_until('postgres',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'worker starts and works after promotion');

$standby->stop('fast');
$primary->stop('fast');
done_testing();
