# A database worker leaves quietly: after DROP EXTENSION, before DROP
# DATABASE and ALTER DATABASE RENAME of its database (which it never
# blocks, even busy in a long step), and comes back after CREATE EXTENSION,
# a rename and a failed drop.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('idle');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.maintenance_interval = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');

# The launcher's table, read from a database without the extension.
$node->safe_psql('postgres', q{
CREATE FUNCTION wk(OUT dboid oid, OUT state text, OUT pid integer, OUT started_at timestamptz,
	OUT failures integer, OUT retry_at timestamptz)
	RETURNS SETOF record AS '$libdir/telemetry', 'telemetry_workers_list' LANGUAGE C;
CREATE VIEW w AS SELECT d.datname, wk.* FROM wk() JOIN pg_database d ON d.oid = wk.dboid;
});
my $in_app = q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'app'};
my $app_pid = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'app'};
my $none = q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type IN ('telemetry worker', 'telemetry probe')};

# errors, fatals and warnings logged from $offset on
sub problems
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return join '', grep { /\b(ERROR|FATAL|WARNING|PANIC):/ || /job failed|exited unexpectedly/ } split /^/, $log;
}

ok($node->poll_query_until('postgres', q{SELECT state = 'extension missing' FROM w WHERE datname = 'app'}),
	'the launcher looked at app and found no extension');
ok($node->poll_query_until('postgres', $none), 'and holds no connection to it');
my $offset = -s $node->logfile;

$node->safe_psql('app', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('app',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'a worker works once the extension is created');
# a busy worker (1 s interval) does not block DROP EXTENSION
$node->safe_psql('app', 'DROP EXTENSION telemetry');
ok($node->poll_query_until('postgres', q{SELECT state = 'extension missing' AND pid IS NULL FROM w WHERE datname = 'app'}),
	'the worker leaves after DROP EXTENSION');
ok($node->poll_query_until('postgres', $none), 'and nothing stays connected');
is(problems($offset), '', 'no errors in the log');

# DROP DATABASE of a served database is not blocked.
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('postgres', $in_app), 'worker back after CREATE EXTENSION');
$offset = -s $node->logfile;
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
is($ret, 0, 'DROP DATABASE of a served database succeeds');
is($stderr, '', 'without complaint');
ok($node->poll_query_until('postgres', $none), 'no worker or probe left');
is($node->safe_psql('postgres', q{SELECT count(*) FROM w WHERE datname = 'app'}), '0',
	'the launcher forgot the database');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('postgres', $in_app), 'a worker for the new database of that name');
is(problems($offset), '', 'no errors in the log around DROP DATABASE');

# ALTER DATABASE ... RENAME is not blocked either; the worker follows.
($ret, $stdout, $stderr) = $node->psql('postgres', 'ALTER DATABASE app RENAME TO app2');
is($ret, 0, 'ALTER DATABASE RENAME of a served database succeeds');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'app2'}),
	'the worker comes back, in the renamed database');
$node->safe_psql('postgres', 'ALTER DATABASE app2 RENAME TO app');
ok($node->poll_query_until('postgres', $in_app), 'and after the rename back');

# A failed DROP DATABASE (another session connected) leaves a worker working.
my $bg = $node->background_psql('app');
($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
isnt($ret, 0, 'DROP DATABASE with another session connected fails');
like($stderr, qr/is being accessed by other users/, 'because of that session');
$bg->quit;
ok($node->poll_query_until('postgres', $in_app), 'worker back after the failed drop');

# A worker stuck in a long step (here a history table whose DELETE sleeps)
# is terminated, so DROP DATABASE still succeeds.
$node->safe_psql('app', q{
CREATE TABLE slow_history (at timestamptz);
INSERT INTO slow_history VALUES ('2000-01-01');
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN OLD; END $$;
CREATE TRIGGER slow BEFORE DELETE ON slow_history FOR EACH ROW EXECUTE FUNCTION slow();
INSERT INTO telemetry.history_tables VALUES ('public', 'slow_history', 'at');
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND wait_event = 'PgSleep'}),
	'worker busy in a long step');
($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
is($ret, 0, 'DROP DATABASE succeeds while the worker is busy');
is($stderr, '', 'without complaint');
ok($node->poll_query_until('postgres', $none), 'and no worker comes back');

$node->stop('fast');
done_testing();
