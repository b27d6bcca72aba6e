# Provider delivery by the background worker: woken on commit, and every
# committed event received after a kill -9 of the worker in the middle of a
# delivery and after an immediate shutdown in the middle of a delivery
# (duplicates allowed, only with the same id; never an event that was not
# committed).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MIME::Base64 qw(encode_base64);
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
# every request takes a while, so a crash lands in the middle of delivery
$sink->set_default(status => 200, delay => 0.3);

my $node = PostgreSQL::Test::Cluster->new('delivery_worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.batch_size = 10
telemetry.max_parallel_requests = 2
telemetry.allowed_destinations = '127.0.0.1'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');

sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker'});
}

my $have_worker = 0;
for (1 .. 50)
{
	$have_worker = $node->safe_psql('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}) eq 't';
	last if $have_worker;
	select undef, undef, undef, 0.2;
}
# a missing worker is a failure, not a reason to skip
unless (ok($have_worker, 'the telemetry worker is running'))
{
	$node->stop;
	done_testing();
	exit;
}

my $spec = encode_json({
	meta => { key => 'wk', version => '1.0.0' },
	config => { providers => [ { type => 'posthog', config => { projectApiKey => 'k', host => $sink->url } } ] },
	events => [ {
		key => 'wk.happened', version => '1.0.0',
		semantics => { what => 'something happened' }, privacy => 'internal',
		properties => { n => { type => 'number' } } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");

# Every event id the sink received (from 2xx and failed requests alike).
sub received
{
	my %ids;
	for my $r ($sink->requests)
	{
		my $raw;
		gunzip(\$r->{body} => \$raw) or die $GunzipError;
		$ids{ $_->{uuid} }++ for @{ decode_json($raw)->{batch} };
	}
	return \%ids;
}

sub committed
{
	return [ split /\n/, $node->safe_psql('postgres',
		q{SELECT id FROM telemetry.events WHERE spec = 'wk' ORDER BY id}) ];
}

sub wait_all_delivered
{
	return $node->poll_query_until('postgres',
		q{SELECT bool_and(pending = 0 AND in_flight = 0) FROM telemetry.delivery_status});
}

# ---- woken on commit: a tracked event is delivered without any call ----
$node->safe_psql('postgres', q{SELECT telemetry_track('wk.happened', '1.0.0', '{"n": 0}')});
ok($sink->wait_until(sub { $sink->count >= 1 }, 60), 'the worker delivers a tracked event by itself');
ok(wait_all_delivered(), 'nothing pending');

# ---- the worker sends every provider type (webhook ids and signatures use
# PostgreSQL's hash contexts outside any transaction) ----
my $sink2 = HttpSink->new;
my $spec2 = encode_json({
	meta => { key => 'wk2', version => '1.0.0' },
	config => { providers => [
		{ type => 'webhook', config => { url => $sink2->url . '/hook', secret => 'whsec_' . encode_base64('worker key', '') } },
		{ type => 'segment', config => { writeKey => 'w', host => $sink2->url } },
		{ type => 'opentelemetry', config => { endpoint => $sink2->url } } ] },
	events => [ {
		key => 'wk2.happened', version => '1.0.0',
		semantics => { what => 'something happened' }, privacy => 'internal',
		properties => { n => { type => 'number' } } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec(\$j\$$spec2\$j\$::jsonb)");
$node->safe_psql('postgres', q{SELECT telemetry_track('wk2.happened', '1.0.0', '{"n": 1}')});
ok($sink2->wait_until(sub { $sink2->count >= 3 }, 60), 'the worker delivers to webhook, segment and opentelemetry');
is(join(',', sort map { $_->{path} } $sink2->requests), '/hook,/v1/batch,/v1/logs', 'one request to each');
my ($hook) = grep { $_->{path} eq '/hook' } $sink2->requests;
like($hook->{headers}{'webhook-signature'} // '', qr/^v1,[A-Za-z0-9+\/]+=*$/, 'the webhook request is signed');
ok(wait_all_delivered(), 'nothing pending');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}),
	'1', 'the worker is still running');
$sink2->stop;

# a rolled-back transaction's events are never sent
$node->safe_psql('postgres', q{BEGIN; SELECT telemetry_track('wk.happened', '1.0.0', '{"n": -1}'); ROLLBACK});

# ---- kill -9 of the worker in the middle of delivery ----
$node->safe_psql('postgres', q{SELECT telemetry_track('wk.happened', '1.0.0', jsonb_build_object('n', g)) FROM generate_series(1, 200) g});
my $before = $sink->count;
ok($sink->wait_until(sub { $sink->count >= $before + 2 }, 60), 'delivery under way');
my $pid = worker_pid();
ok($pid, "worker pid $pid");
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND pid <> $pid}),
	'worker back after kill -9 (and crash restart)');
ok(wait_all_delivered(), 'backlog drained after the restart');
my $got = received();
my $all = committed();
is(scalar(grep { !$got->{$_} } @$all), 0, 'kill -9: every committed event received');
is(scalar(grep { my $id = $_; !grep { $_ eq $id } @$all } keys %$got), 0,
	'kill -9: no event received that was not committed (duplicates only with the same id)');

# ---- immediate shutdown in the middle of delivery ----
$node->safe_psql('postgres', q{SELECT telemetry_track('wk.happened', '1.0.0', jsonb_build_object('n', g)) FROM generate_series(1, 200) g});
$before = $sink->count;
ok($sink->wait_until(sub { $sink->count >= $before + 2 }, 60), 'delivery under way');
$node->stop('immediate');
$node->start;
ok(wait_all_delivered(), 'backlog drained after an immediate shutdown and restart');
$got = received();
$all = committed();
is(scalar @$all, 401, 'all committed events are stored');
is(scalar(grep { !$got->{$_} } @$all), 0, 'immediate shutdown: every committed event received');
is(scalar(grep { my $id = $_; !grep { $_ eq $id } @$all } keys %$got), 0,
	'immediate shutdown: nothing received that was not committed');
my $dups = grep { $_ > 1 } values %$got;
note("events received more than once (same id): $dups");

# the only crash was ours: no process died of a signal other than SIGKILL
unlike(slurp_file($node->logfile), qr/terminated by signal (?!9:)\d+/, 'no process crashed');

$node->stop;
$sink->stop;
done_testing();
