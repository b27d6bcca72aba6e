# Red-team review (issue 10 follow-up): an ordinary role in any database
# stops delivery and the anomaly checks in every database.
#
# Delivery and the anomaly checks read only events whose xid is below
# pg_snapshot_xmin(pg_current_snapshot()), which is cluster-wide.  A role
# that opens a transaction, gets a transaction id (CREATE TEMP TABLE is
# enough, in a database without the extension) and stays idle holds that
# horizon back: nothing committed after it is delivered or checked until it
# ends, however long that is (idle_in_transaction_session_timeout is off
# by default).
#
# Expected (fails on main at d24c851): events committed while such a
# transaction is open are still delivered and checked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use HttpSink;

my $sink = HttpSink->new;
$sink->set_default(status => 200);

my $node = PostgreSQL::Test::Cluster->new('redteam_horizon');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'app'
telemetry.anomaly_interval = 1000
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE DATABASE app;
CREATE ROLE nobody LOGIN;
});
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
my $spec = encode_json({
	meta => { key => 'hz', version => '1.0.0' },
	config => { providers => [ { type => 'webhook', name => 'hook',
		config => { url => $sink->url . '/hook', secret => 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } } ] },
	events => [ {
		key => 'hz.e', version => '1.0.0', semantics => { what => 'x' }, privacy => 'public',
		properties => { n => { type => 'number' } },
		anomalyDetection => { thresholds => [ { metric => 'n', max => 10 } ] } } ] });
$node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
ok($node->poll_query_until('app',
		q{SELECT count(*) = 3 FROM telemetry.worker_status WHERE last_outcome LIKE 'ok:%'}),
	'the worker serves app');

sub soon
{
	my ($sql) = @_;
	for (1 .. 60)
	{
		return 1 if $node->safe_psql('app', $sql) eq 't';
		select undef, undef, undef, 0.5;
	}
	return 0;
}

# an ordinary role, in another database, keeps a transaction with an xid open
my $bg = $node->background_psql('postgres', extra_params => [ '-U', 'nobody' ]);
$bg->query_safe('BEGIN');
$bg->query_safe('CREATE TEMP TABLE hold (a int)');

$node->safe_psql('app', q{SELECT telemetry_track('hz.e', NULL, '{"n": 100}')});
ok(soon(q{SELECT pending = 0 AND delivered = 1 FROM telemetry.delivery_status WHERE provider = 'hz/hook'}),
	'an event committed while another database has an open transaction is delivered');
ok(soon(q{SELECT count(*) = 1 FROM telemetry.anomaly_history WHERE event = 'hz.e'}),
	'and checked');

$bg->query_safe('COMMIT');
$bg->quit;
$node->stop('fast');
done_testing();
