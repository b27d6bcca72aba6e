# A worker that costs nothing while it waits (issue 12): when no provider
# can be served (here the only one is backing off after failures), the
# commits of tracking transactions do not wake the worker for delivery
# passes; an explicit wake-up still does, and a provider due again is
# tried again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $node = PostgreSQL::Test::Cluster->new('worker_quiet');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');

# nothing listens on this port: the provider is down
my $down = PostgreSQL::Test::Cluster::get_free_port();
my $spec = encode_json({
	meta => { key => 'qt', version => '1.0.0' },
	config => { providers => [ { type => 'posthog',
		config => { projectApiKey => 'k', host => "http://127.0.0.1:$down" } } ] },
	events => [ {
		key => 'qt.happened', version => '1.0.0',
		semantics => { what => 'something happened' }, privacy => 'internal',
		properties => { n => { type => 'number' } } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec('$spec'::jsonb)");

my $delivery = q{SELECT last_run || ' ' || last_outcome FROM telemetry.worker_status WHERE job = 'delivery'};

# one event, the provider fails, and is put in backoff for an hour
$node->safe_psql('postgres', q{SELECT telemetry_track('qt.happened', '1.0.0', '{"n": 0}')});
ok($node->poll_query_until('postgres',
	q{SELECT coalesce(sum(failures), 0) > 0 FROM telemetry.delivery_state}),
	'the provider failed');
$node->safe_psql('postgres',
	q{UPDATE telemetry.delivery_state SET next_attempt_at = now() + interval '1 hour'});
ok($node->poll_query_until('postgres',
	q{SELECT last_outcome LIKE '%no provider due%' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'a delivery run found no provider due');

# thirty tracking transactions commit; none wakes the worker
my $before = $node->safe_psql('postgres', $delivery);
$node->safe_psql('postgres', q{
DO $$
BEGIN
	FOR i IN 1..30 LOOP
		PERFORM telemetry_track('qt.happened', '1.0.0', jsonb_build_object('n', i));
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$});
is($node->safe_psql('postgres', $delivery), $before,
	'committed tracking transactions started no delivery run while no provider was due');
is($node->safe_psql('postgres', 'SELECT count(*) FROM telemetry.events'), '31', 'the events are stored');

# the backoff ends and the worker is woken explicitly: the provider is tried again
my $failures = $node->safe_psql('postgres', 'SELECT sum(failures) FROM telemetry.delivery_state');
$node->safe_psql('postgres', q{
UPDATE telemetry.delivery_state SET next_attempt_at = NULL;
SELECT telemetry._wake_worker_if_possible();
});
ok($node->poll_query_until('postgres',
	"SELECT sum(failures) > $failures FROM telemetry.delivery_state"),
	'after an explicit wake-up the provider due again is tried again');

$node->stop;
done_testing();
