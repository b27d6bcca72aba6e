# The launcher serves every database with the extension, each with its own
# worker: two databases with it and one without; one created later; DROP
# DATABASE of a served database; DROP EXTENSION; a worker that keeps failing
# (its role may not connect) is restarted with a
# growing delay while the others work; kill -9 of a worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('launcher');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.maintenance_interval = '1h'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{CREATE DATABASE a; CREATE DATABASE b; CREATE DATABASE c;
CREATE DATABASE tmpl IS_TEMPLATE true; CREATE DATABASE closed ALLOW_CONNECTIONS false});
$node->safe_psql('tmpl', 'CREATE EXTENSION telemetry');
$node->safe_psql($_, 'CREATE EXTENSION telemetry') for qw(a b);

sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = '$db'});
}

sub maintained
{
	my ($db) = @_;
	return $node->poll_query_until($db,
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'});
}

# ---- two databases with the extension, one without ----
ok(maintained('a'), 'database a has a worker that runs maintenance');
ok(maintained('b'), 'database b too');
for my $db (qw(a b))
{
	cmp_ok($node->safe_psql($db, q{SELECT count(*) FROM telemetry._event_partitions() WHERE hi > now()}),
		'>=', 8, "partitions premade in $db");
}
isnt(worker_pid('a'), worker_pid('b'), 'one worker each');
ok($node->poll_query_until('a', q{SELECT state = 'extension missing' FROM telemetry.workers WHERE database = 'c'}),
	'c was probed: no extension');
is($node->safe_psql('a', q{SELECT string_agg(database || ': ' || state, ', ' ORDER BY database) FROM telemetry.workers}),
	'a: running, b: running, c: extension missing, postgres: extension missing',
	'telemetry.workers lists every connectable database but templates');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'telemetry%' AND datname IN ('c', 'postgres', 'tmpl')}),
	'0', 'no worker, and no connection left, in c, postgres or the template');

# ---- a database created later gets its worker without a restart ----
$node->safe_psql('postgres', 'CREATE DATABASE d');
$node->safe_psql('d', 'CREATE EXTENSION telemetry');
ok(maintained('d'), 'database d, created later, gets a worker');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'd'}),
	'one worker in d');

# ---- DROP DATABASE of a served database ----
my $pid_a = worker_pid('a');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE b');
is($ret, 0, 'DROP DATABASE b succeeds');
is($err, '', 'without waiting for its worker');
is(worker_pid('a'), $pid_a, 'the worker of a is not disturbed');

# ---- DROP EXTENSION: that worker leaves, the others go on ----
my $pid_d = worker_pid('d');
$node->safe_psql('d', 'DROP EXTENSION telemetry');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'd'}),
	'DROP EXTENSION: the worker of d leaves');
is($node->safe_psql('a', q{SELECT state FROM telemetry.workers WHERE database = 'd'}),
	'extension missing', 'and telemetry.workers says why');
my $run = $node->safe_psql('a', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'delivery'});
ok($node->poll_query_until('a',
		qq{SELECT last_run > '$run' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'the worker of a keeps working');
is(worker_pid('a'), $pid_a, 'in the same process');

# ---- the worker acts as the extension's owner ----
# d's extension is created by a superuser that is then demoted: the worker
# runs as that role, not as a superuser.
$node->safe_psql('postgres', 'CREATE ROLE ext_owner LOGIN SUPERUSER');
$node->safe_psql('d', 'SET ROLE ext_owner; CREATE EXTENSION telemetry');
$node->safe_psql('postgres', 'ALTER ROLE ext_owner NOSUPERUSER');
ok($node->poll_query_until('postgres',
		q{SELECT usename = 'ext_owner' FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'd'}),
	'the worker of d runs as the extension\'s owner');
ok(maintained('d'), 'and maintains d as that role');

# ---- a worker that keeps failing does not stop the others ----
# Without CONNECT on d, the non-superuser owner is kept out: the worker
# fails at every start (the probe, a superuser, still gets in).
$node->safe_psql('postgres', 'REVOKE CONNECT ON DATABASE d FROM PUBLIC');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'd'});
ok($node->poll_query_until('a',
		q{SELECT state = 'crash backoff' AND failures >= 2 AND retry_at IS NOT NULL FROM telemetry.workers WHERE database = 'd'}),
	'd keeps failing: crash backoff, with the next start shown');
$run = $node->safe_psql('a', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'delivery'});
ok($node->poll_query_until('a',
		qq{SELECT last_run > '$run' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'meanwhile a keeps working');
is(worker_pid('a'), $pid_a, 'in the same process');
like(slurp_file($node->logfile), qr/telemetry worker for database "d" exited unexpectedly; restarting in \d+ ms/,
	'the failures are logged with the delay');
$node->safe_psql('postgres', 'GRANT CONNECT ON DATABASE d TO PUBLIC');
ok($node->poll_query_until('a', q{SELECT state = 'running' FROM telemetry.workers WHERE database = 'd'}),
	'once d lets it in again, its worker comes back');

# ---- kill -9 of one worker ----
# A worker killed by a signal makes the postmaster restart the whole cluster
# (restart_after_crash); the launcher then starts every worker again.
$pid_d = worker_pid('d');
kill 'KILL', $pid_a;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'a' AND pid <> $pid_a}),
	'kill -9: the worker of a comes back');
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'd' AND pid <> $pid_d}),
	'and so does the worker of d');
ok(maintained('a') && maintained('d'), 'both work');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'c'}),
	'0', 'c still has none');

$node->stop('fast');
done_testing();
