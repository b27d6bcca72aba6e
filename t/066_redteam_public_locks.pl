# Red-team review (issue 10 follow-up): a role with nothing but LOGIN must
# not be able to stop the worker's jobs.
#
# Maintenance, the anomaly checks and delivery serialize on advisory locks
# whose keys are public: hashtextextended('telemetry.maintenance', 0),
# hashtextextended('telemetry.check_anomalies', 0) and (1952803941, 6).
# Advisory locks need no privilege, so any role can take them first.  The
# anomaly check waits for its lock without a timeout (the worker pins
# lock_timeout = 0), so the whole worker hangs; maintenance reports
# "skipped" on every run; delivery reports "ok: 0 delivered" with events
# pending.
#
# Expected (fails on main at d24c851): with the three locks held by an
# ordinary role, every job still runs and delivery still delivers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use HttpSink;

my $sink = HttpSink->new;
$sink->set_default(status => 200);

my $node = PostgreSQL::Test::Cluster->new('redteam_locks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.maintenance_interval = 1
telemetry.anomaly_interval = 1000
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION telemetry;
CREATE ROLE nobody LOGIN;
});

my $spec = encode_json({
	meta => { key => 'lk', version => '1.0.0' },
	config => { providers => [ { type => 'webhook', name => 'hook',
		config => { url => $sink->url . '/hook', secret => 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } } ] },
	events => [ {
		key => 'lk.e', version => '1.0.0', semantics => { what => 'x' }, privacy => 'internal',
		properties => { n => { type => 'number' } },
		anomalyDetection => { thresholds => [ { metric => 'n', max => 10 } ], actions => ['log'] } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 3 FROM telemetry.worker_status WHERE last_outcome LIKE 'ok:%'}),
	'the worker runs its three jobs');

# poll for at most 30 s (the jobs run every second or so)
sub soon
{
	my ($sql) = @_;
	for (1 .. 60)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		select undef, undef, undef, 0.5;
	}
	return 0;
}

# an ordinary role takes the maintenance and delivery locks and stays idle
my $bg = $node->background_psql('postgres', extra_params => [ '-U', 'nobody' ]);
$bg->query_safe(q{SELECT pg_advisory_lock(hashtextextended('telemetry.maintenance', 0)),
	pg_advisory_lock(1952803941, 6)});

my $t0 = $node->safe_psql('postgres', 'SELECT pg_catalog.clock_timestamp()');
$node->safe_psql('postgres', q{SELECT telemetry_track('lk.e', NULL, '{"n": 1}') FROM generate_series(1, 3)});

ok(soon(qq{SELECT last_run > '$t0' AND last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'maintenance is not skipped while an ordinary role holds its advisory lock');
ok(soon(q{SELECT pending = 0 AND delivered = 3 FROM telemetry.delivery_status WHERE provider = 'lk/hook'}),
	'delivery still delivers while an ordinary role holds its advisory lock');

# then the anomaly checks' lock: the worker waits for it without a timeout
$bg->query_safe(q{SELECT pg_advisory_lock(hashtextextended('telemetry.check_anomalies', 0))});
my $t1 = $node->safe_psql('postgres', 'SELECT pg_catalog.clock_timestamp()');
ok(soon(qq{SELECT last_run > '$t1' AND last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'anomaly'}),
	'anomaly checks still run while an ordinary role holds their advisory lock');
ok(soon(qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'telemetry worker'
		AND wait_event_type = 'Lock' AND wait_event = 'advisory'}),
	'the worker does not wait on an advisory lock an ordinary role holds');

$bg->quit;
$node->stop('fast');
done_testing();
