# A database worker's life cycle: the launcher starts it when the extension
# is created, it shows in pg_stat_activity and telemetry.worker_status,
# comes back after pg_terminate_backend and after kill -9, applies a changed
# interval on SIGHUP, leaves while telemetry.enabled is off, and does not
# delay a fast shutdown.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.maintenance_interval = '1h'
restart_after_crash = on
});
$node->start;

my $worker_pid = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'postgres'};

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry launcher' AND datname IS NULL}),
	'the launcher runs, connected to no database');
is($node->safe_psql('postgres', "SELECT count(*) FROM ($worker_pid) w"), '0',
	'no worker before CREATE EXTENSION');

# The worker starts, and runs maintenance, as soon as the extension is created.
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_pid) w"),
	'worker appears in pg_stat_activity with backend_type "telemetry worker"');
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'maintenance ran after CREATE EXTENSION');
my $pid = $node->safe_psql('postgres', $worker_pid);
is($node->safe_psql('postgres',
		q{SELECT pid || ' ' || (started_at IS NOT NULL) || ' ' || (next_run - last_run)
		  FROM telemetry.worker_status WHERE job = 'maintenance'}),
	"$pid true 01:00:00", 'worker_status shows pid, start time and the interval');
cmp_ok($node->safe_psql('postgres',
		q{SELECT count(*) FROM telemetry._event_partitions() WHERE hi > now()}),
	'>=', 8, 'partitions premade from today');

# Partitions made by maintenance are not extension members: pg_dump dumps them.
my ($dump) = run_command([ 'pg_dump', '-d', $node->connstr('postgres') ]);
like($dump, qr/CREATE TABLE telemetry\.events_p\d{8}/, 'pg_dump dumps the partitions');
like($dump, qr/ATTACH PARTITION telemetry\.events_p\d{8}/, 'and attaches them');

# SIGHUP: a shorter interval applies from the last run on.
$node->safe_psql('postgres', q{ALTER SYSTEM SET telemetry.maintenance_interval = '2s'});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres',
		q{SELECT next_run - last_run = interval '2 seconds' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'changed interval applied after reload');
my $run1 = $node->safe_psql('postgres', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'maintenance'});
ok($node->poll_query_until('postgres',
		qq{SELECT last_run > '$run1' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'maintenance runs again on the new interval');

# telemetry.enabled = off: the worker leaves, and the views say why.
$node->safe_psql('postgres', q{ALTER SYSTEM SET telemetry.enabled = off});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres',
		q{SELECT bool_and(pid IS NULL AND last_outcome = 'idle: disabled (telemetry.enabled)') FROM telemetry.worker_status}),
	'telemetry.enabled = off: no worker, and every job says why');
is($node->safe_psql('postgres', q{SELECT state FROM telemetry.workers WHERE database = 'postgres'}),
	'disabled (telemetry.enabled)', 'telemetry.workers says so too');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET telemetry.enabled});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'and a worker works again when it is back on');
$pid = $node->safe_psql('postgres', $worker_pid);

# A failing job is recorded, logged once and retried; the worker and the
# other jobs go on.
$node->safe_psql('postgres', q{
CREATE TABLE public.bad_history (x integer);
INSERT INTO telemetry.history_tables VALUES ('public', 'bad_history', 'no_such_column');
});
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome = 'error' AND last_error LIKE '%no_such_column%'
		  FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'a failing maintenance run is recorded with its error');
my $run2 = $node->safe_psql('postgres', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'maintenance'});
ok($node->poll_query_until('postgres',
		qq{SELECT last_run > '$run2' AND last_outcome = 'error' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'and retried on its interval');
my $d = $node->safe_psql('postgres', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'delivery'});
ok($node->poll_query_until('postgres',
		qq{SELECT last_run > '$d' AND last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'other jobs keep running');
is($node->safe_psql('postgres', $worker_pid), $pid, 'by the same worker process');
$node->safe_psql('postgres', q{DELETE FROM telemetry.history_tables WHERE table_name = 'bad_history'});
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome LIKE 'ok:%' AND last_error LIKE '%no_such_column%'
		  FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'maintenance recovers; the last error stays visible');
my @failed = (slurp_file($node->logfile) =~ /telemetry worker: maintenance job failed/g);
is(scalar @failed, 1, 'the repeated error was logged once');

# pg_terminate_backend: the launcher restarts it (after a short delay).
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_pid) w WHERE pid <> $pid"),
	'worker back after pg_terminate_backend');
$pid = $node->safe_psql('postgres', $worker_pid);

# kill -9: the postmaster restarts the whole cluster (restart_after_crash),
# then the launcher starts the worker again.
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_pid) w WHERE pid <> $pid"),
	'worker back after kill -9');
$pid = $node->safe_psql('postgres', $worker_pid);
is($node->safe_psql('postgres', q{SELECT pid FROM telemetry.worker_status WHERE job = 'maintenance'}),
	$pid, 'the new worker published its pid');

# A fast shutdown is not delayed: pg_ctl gives up after PGCTLTIMEOUT.
{
	local $ENV{PGCTLTIMEOUT} = 20;
	my $ok = eval { $node->stop('fast'); 1 };
	ok($ok, 'fast shutdown completes');
}
my $log = slurp_file($node->logfile);
@failed = ($log =~ /telemetry worker: \w+ job failed/g);
is(scalar @failed, 1, 'no other job failed');
unlike($log, qr/PANIC|TRAP/, 'no PANIC');

done_testing();
