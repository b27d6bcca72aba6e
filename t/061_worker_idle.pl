# The worker idles quietly: before CREATE EXTENSION and after DROP EXTENSION
# in its database, and while its database is dropped; DROP DATABASE and
# ALTER DATABASE RENAME of its database are not blocked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('idle');
$node->init;
$node->start;
# the worker's database exists before the worker starts
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'app'
telemetry.maintenance_interval = '1s'
});
$node->restart;

# The worker's shared status, read from a database without the extension.
$node->safe_psql('postgres', q{
CREATE FUNCTION ws(OUT job text, OUT pid integer, OUT started_at timestamptz, OUT last_run timestamptz,
	OUT last_outcome text, OUT last_error text, OUT next_run timestamptz)
	RETURNS SETOF record AS '$libdir/telemetry', 'telemetry_worker_status' LANGUAGE C;
});
my $in_app = q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'app'};

# errors, fatals and warnings logged from $offset on
sub problems
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return join '', grep { /\b(ERROR|FATAL|WARNING|PANIC):/ || /job failed/ } split /^/, $log;
}

ok($node->poll_query_until('postgres', $in_app), 'worker connected to its database');
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome = 'idle: extension not installed' FROM ws() WHERE job = 'maintenance'}),
	'worker idles before CREATE EXTENSION');
my $offset = -s $node->logfile;

$node->safe_psql('app', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('app',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'worker works once the extension is created');
# a busy worker (1 s interval) does not block DROP EXTENSION
$node->safe_psql('app', 'DROP EXTENSION telemetry');
ok($node->poll_query_until('postgres',
		q{SELECT last_outcome = 'idle: extension not installed' FROM ws() WHERE job = 'maintenance'}),
	'worker idles after DROP EXTENSION');
# let it look a few more times
my $n = $node->safe_psql('postgres', q{SELECT next_run FROM ws() WHERE job = 'maintenance'});
ok($node->poll_query_until('postgres', qq{SELECT next_run > '$n' FROM ws() WHERE job = 'maintenance'}),
	'worker keeps idling');
is(problems($offset), '', 'no errors in the log while idle');

# DROP DATABASE of the worker's database is not blocked.
$offset = -s $node->logfile;
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM ws() WHERE job = 'maintenance'});
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
is($ret, 0, 'DROP DATABASE of the worker\'s database succeeds');
is($stderr, '', 'without complaint');
# the restarted worker waits, unconnected and silent
ok($node->poll_query_until('postgres',
		qq{SELECT pid <> $pid AND last_outcome = 'idle: database "app" does not exist'
		   FROM ws() WHERE job = 'maintenance'}),
	'worker restarted, and says why it idles');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}),
	'0', 'and is not connected anywhere');
$node->safe_psql('postgres', 'CREATE DATABASE app');
ok($node->poll_query_until('postgres', $in_app), 'worker reconnects after CREATE DATABASE');
is(problems($offset), '', 'no errors in the log around DROP DATABASE');

# ALTER DATABASE ... RENAME is not blocked either.
($ret, $stdout, $stderr) = $node->psql('postgres', 'ALTER DATABASE app RENAME TO app2');
is($ret, 0, 'ALTER DATABASE RENAME of the worker\'s database succeeds');
$node->safe_psql('postgres', 'ALTER DATABASE app2 RENAME TO app');
ok($node->poll_query_until('postgres', $in_app), 'worker reconnects after the rename back');

# A failed DROP DATABASE (another session connected) leaves the worker working.
my $bg = $node->background_psql('app');
($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
isnt($ret, 0, 'DROP DATABASE with another session connected fails');
like($stderr, qr/is being accessed by other users/, 'because of that session');
$bg->quit;
ok($node->poll_query_until('postgres', $in_app), 'worker reconnects after the failed drop');

# A worker stuck in a long step (here a history table whose DELETE sleeps)
# is terminated, so DROP DATABASE still succeeds.
$node->safe_psql('app', q{
CREATE EXTENSION telemetry;
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

$node->stop('fast');
done_testing();
