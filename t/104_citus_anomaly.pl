# Anomalies of a Citus cluster (issue 17, item 5): the coordinator's worker
# evaluates every node's new events, so minimumSample counts the cluster's
# events, count/min/max/avg and percentiles are the cluster's exact values,
# each event is evaluated once, and each anomaly is recorded, and its
# actions run (regen request, alert delivered by the coordinator's worker),
# once, on the coordinator; the worker nodes neither check nor act on their
# own.  Events are tracked by a trigger on a distributed table, so each
# worker node stores its share, each below minimumSample.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use CitusCluster;
use HttpSink;

my $minimum = 30;
my $sink = HttpSink->new;
my $c = CitusCluster->new(telemetry => 1, conf => q{
telemetry.maintenance_interval = '1h'
telemetry.allowed_destinations = '127.0.0.1'
telemetry.anomaly_interval = '1s'
});
my $coord = $c->coordinator;
my @workers = $c->workers;
my $db = $c->database;

is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '3', 'the cluster is set up');
my $window = '1 hour';
my $spec = encode_json({
	meta => { key => 'shop', version => '1.0.0' },
	config => {
		anomalyDetection => { enabled => JSON::PP::true, checkIntervalMs => 1000 },
		providers => [ { type => 'webhook', name => 'hook',
			config => { url => $sink->url . '/hook', secret => 'whsec_' . encode_base64('k', '') } } ] },
	events => [ {
		key => 'orders.placed', version => '1.0.0',
		semantics => { what => 'an order was placed' }, privacy => 'internal',
		properties => { id => { type => 'number', required => JSON::PP::true },
			amount => { type => 'number' } },
		anomalyDetection => { enabled => JSON::PP::true, minimumSample => $minimum,
			thresholds => [
				# every amount is below: each event evaluated is a violation
				{ metric => 'amount', min => 100000 },
				{ aggregate => 'count', window => $window, max => 35 },
				{ metric => 'amount', aggregate => 'avg', window => $window, max => 1 },
				{ metric => 'amount', aggregate => 'max', window => $window, max => 1 },
				{ metric => 'amount', aggregate => 'min', window => $window, min => 1000 },
				{ metric => 'amount', aggregate => 'p95', window => $window, max => 1 } ],
			actions => [ 'trigger_regen', 'alert' ] } } ] });
$coord->safe_psql($db, "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
$coord->safe_psql($db, q{
	CREATE TABLE public.orders (id integer PRIMARY KEY, amount integer);
	SELECT create_distributed_table('public.orders', 'id');
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER orders_tracked AFTER INSERT ON public.orders
		FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('orders.placed', '1')});

# 40 orders, amounts 10, 20, ..., 400, in one multi-shard INSERT
$coord->safe_psql($db, 'INSERT INTO public.orders SELECT g, g * 10 FROM generate_series(1, 40) g');
my @stored = map { $_->safe_psql($db, 'SELECT count(*) FROM telemetry.events') } @workers;
is($coord->safe_psql($db, 'SELECT count(*) FROM telemetry.events'), '0', 'the coordinator stored no event');
is($stored[0] + $stored[1], 40, 'the worker nodes stored the 40 events');
ok($stored[0] > 0 && $stored[0] < $minimum && $stored[1] > 0 && $stored[1] < $minimum,
	"each worker node stored fewer than minimumSample ($minimum): @stored");

# The coordinator's worker finds them: one record per threshold.
my $anomalies = q{SELECT count(*) FROM telemetry.anomalies};
ok($coord->poll_query_until($db, $anomalies, '6'),
	'the coordinator recorded one anomaly per threshold, minimumSample reached by the cluster');
is($coord->safe_psql($db, q{
	SELECT string_agg(format('%s %s %s %s %s', rule, coalesce(aggregate, '-'), bound, round(observed::numeric, 6)::float8, sample_size), ', ' ORDER BY rule)
	FROM telemetry.anomalies}),
	'0 - min 10 11, 1 count max 40 40, 2 avg max 205 40, 3 max max 400 40, 4 min min 10 40, 5 p95 max 380.5 40',
	'the cluster\'s exact values: count 40, avg 205, max 400, min 10, p95 380.5 over both worker nodes');
is($coord->safe_psql($db, q{SELECT violations FROM telemetry.anomalies WHERE aggregate IS NULL}), '11',
	'the per-event threshold: the events after the 29 counted first, each evaluated once');

# The actions, once: a regen request each, and an alert each, delivered by
# the coordinator's worker.
is($coord->safe_psql($db, q{SELECT count(DISTINCT anomaly_id) || ' ' || count(*) FROM telemetry.regen_requests}),
	'6 6', 'one regen request per anomaly, on the coordinator');
ok($coord->poll_query_until($db, q{SELECT count(*) FILTER (WHERE state = 'delivered') || ' ' || count(*)
		FROM telemetry.alert_queue}, '6 6'),
	'one alert per anomaly, queued and delivered on the coordinator');

# The worker nodes' own anomaly jobs ran since, and did nothing.
my $since = $coord->safe_psql($db, 'SELECT max(detected_at) FROM telemetry.anomalies');
for my $w (@workers)
{
	ok($w->poll_query_until($db, qq{SELECT last_run > '$since' AND last_outcome = 'ok: 0 recorded'
			FROM telemetry.worker_status WHERE job = 'anomaly'}),
		$w->name . ': its anomaly job ran and recorded nothing');
	is($w->safe_psql($db, q{SELECT (SELECT count(*) FROM telemetry.anomalies) || ' '
			|| (SELECT count(*) FROM telemetry.regen_requests) || ' ' || (SELECT count(*) FROM telemetry.alert_queue)
			|| ' ' || (SELECT count(*) FROM telemetry.anomaly_state)}),
		'0 0 0 0', $w->name . ': no anomaly, regen request, alert or check state of its own');
	my ($rc, $out, $err) = $w->psql($db, 'SELECT telemetry_check_anomalies()',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/0A000: the anomalies of a Citus cluster are checked on the coordinator/,
		$w->name . ': telemetry_check_anomalies() is refused with 0A000');
	is($w->safe_psql($db, q{SELECT has_function_privilege('public', 'telemetry._anomaly_node_batch(jsonb)', 'EXECUTE')
			OR has_function_privilege('public', 'telemetry._anomaly_window_json(jsonb)', 'EXECUTE')}),
		'f', $w->name . ': the functions that return a node\'s event values are not PUBLIC\'s');
}

# The webhook received each alert once.
my %alerts;
for my $r ($sink->requests)
{
	next unless $r->{path} eq '/hook';
	my $raw = $r->{body};
	if (($r->{headers}{'content-encoding'} // '') eq 'gzip')
	{
		my $out;
		gunzip(\$raw => \$out) or die $GunzipError;
		$raw = $out;
	}
	my $b = decode_json($raw);
	next unless $b->{type} eq 'telemetry.anomaly';
	$alerts{ $_->{anomaly}{anomaly_id} }++ for @{ $b->{data} };
}
is(scalar(keys %alerts), 6, 'the sink received an alert for each of the 6 anomalies');
is(scalar(grep { $alerts{$_} != 1 } keys %alerts), 0, 'each once');

# Ten more orders: each evaluated once more (the positions of both worker
# nodes moved past the first 40), the aggregates' open records updated.
$coord->safe_psql($db, 'INSERT INTO public.orders SELECT g, g * 10 FROM generate_series(41, 50) g');
ok($coord->poll_query_until($db, q{SELECT sum(violations) FROM telemetry.anomalies WHERE aggregate IS NULL}, '21'),
	'the ten new events were evaluated, and no old one again');
ok($coord->poll_query_until($db, q{SELECT observed FROM telemetry.anomalies WHERE aggregate = 'count'}, '50'),
	'the open count anomaly follows the cluster\'s count');
is($coord->safe_psql($db, q{SELECT count(*) FROM telemetry.anomalies WHERE aggregate IS NOT NULL}), '5',
	'still one record per aggregate threshold');
is($coord->safe_psql($db, q{SELECT sum(stored) FROM telemetry.anomaly_node_state}), '50',
	'the coordinator counted every event of both worker nodes once');
is($coord->safe_psql($db, q{SELECT stored FROM telemetry.anomaly_state}), '50',
	'and minimumSample counts them all');
is(join(' ', map { $_->safe_psql($db, $anomalies) } @workers), '0 0', 'the worker nodes still recorded none');

$c->stop;
done_testing();
