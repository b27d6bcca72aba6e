# Tracking and delivery on a Citus cluster (issue 17, items 3 and 4):
# events tracked by a trigger on a distributed table are stored on the
# workers that hold the rows, each reaches a loopback sink exactly once, a
# rolled-back or failed multi-shard transaction emits none, ids are unique
# cluster-wide, telemetry.cluster_delivery_status on the coordinator shows
# every node, and a kill -9 of one worker node's telemetry worker in the
# middle of a delivery loses nothing.  The same rows are tracked on a single
# node (no Citus) in the same run: the timings are printed as notes
# (TELEMETRY_CITUS_ROWS sets the number of rows, 1000 by default;
# TELEMETRY_CITUS_POOL the connections per worker of the cluster's INSERTs).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Time::HiRes qw(time);
use CitusCluster;
use HttpSink;

my $rows = $ENV{TELEMETRY_CITUS_ROWS} // 1000;
my $conf = q{
telemetry.maintenance_interval = '1h'
telemetry.allowed_destinations = '127.0.0.1'
restart_after_crash = on
};
my $sink = HttpSink->new;
my $single_sink = HttpSink->new;
my $c = CitusCluster->new(conf => $conf, telemetry => 1);
my $coord = $c->coordinator;
my ($w1, $w2) = $c->workers;
my $db = $c->database;

# The same spec and table, on the cluster and on a single node.
sub spec
{
	my $url = shift;
	return encode_json({
		meta => { key => 'orders', version => '1.0.0' },
		config => { providers => [ { type => 'posthog', name => 'ph',
			config => { projectApiKey => 'k', host => $url } } ] },
		events => [ {
			key => 'orders.placed', version => '1.0.0',
			semantics => { what => 'an order was placed' }, privacy => 'internal',
			properties => { id => { type => 'number', required => JSON::PP::true },
				amount => { type => 'number' } } } ] });
}
my $table = q{CREATE TABLE public.orders (id integer PRIMARY KEY, amount integer)};
my $trigger = q{CREATE TRIGGER orders_tracked AFTER INSERT ON public.orders
	FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('orders.placed', '1')};

is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '3', 'the cluster is set up');
$coord->safe_psql($db, "SELECT telemetry_register_spec('" . spec($sink->url) . "')");
$coord->safe_psql($db, "$table; SELECT create_distributed_table('public.orders', 'id');
	SET citus.enable_unsafe_triggers = on; $trigger");

my $single = PostgreSQL::Test::Cluster->new('single');
$single->init;
$single->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
$conf});
$single->start;
$single->safe_psql('postgres', 'CREATE EXTENSION telemetry');
$single->safe_psql('postgres', "SELECT telemetry_register_spec('" . spec($single_sink->url) . "')");
$single->safe_psql('postgres', "$table; $trigger");

# Every event id a sink received, with how many times.
sub received
{
	my $s = shift;
	my %ids;
	for my $r ($s->requests)
	{
		my $raw;
		gunzip(\$r->{body} => \$raw) or die $GunzipError;
		$ids{ $_->{uuid} }++ for @{ decode_json($raw)->{batch} };
	}
	return \%ids;
}

# Every stored event id of the cluster: node name => [ids].
my $ids_sql = q{SELECT id FROM telemetry.events WHERE event = 'orders.placed' ORDER BY id};
sub stored
{
	my %by;
	$by{ $_->name } = [ split /\n/, $_->safe_psql($db, $ids_sql) ] for $c->nodes;
	return \%by;
}

my $delivered_all = q{SELECT coalesce(sum(delivered), 0) || ' ' || coalesce(sum(pending), 0)
	FROM telemetry.cluster_delivery_status};

# 1. $rows rows in two multi-shard INSERTs of one session (each a two-phase
# commit on both workers): the first opens the session's connections to the
# workers, whose backends then compile the spec; the second finds them warm.
my $half = int($rows / 2);
# TELEMETRY_CITUS_POOL=n: at most n connections per worker for a
# multi-shard statement (citus.max_adaptive_executor_pool_size).
my $pool = $ENV{TELEMETRY_CITUS_POOL} ? "SET citus.max_adaptive_executor_pool_size = $ENV{TELEMETRY_CITUS_POOL};" : '';
my $insert = qq{
	CREATE TEMP TABLE clock (at timestamptz);
	INSERT INTO clock VALUES (clock_timestamp());
	INSERT INTO public.orders SELECT g, g * 10 FROM generate_series(1, $half) g;
	INSERT INTO clock VALUES (clock_timestamp());
	INSERT INTO public.orders SELECT g, g * 10 FROM generate_series($half + 1, $rows) g;
	INSERT INTO clock VALUES (clock_timestamp());
	SELECT string_agg(extract(epoch FROM d)::text, ' ' ORDER BY at)
	FROM (SELECT at, at - lag(at) OVER (ORDER BY at) AS d FROM clock) q WHERE d IS NOT NULL};
my $t0 = time;
my ($t_cold, $t_warm) = split / /, $coord->safe_psql($db, $pool . $insert);
ok($coord->poll_query_until($db, $delivered_all, "$rows 0"), "every node delivered its events: $rows in all, none pending");
my $t_deliver = time - $t0;

$t0 = time;
my ($s_cold, $s_warm) = split / /, $single->safe_psql('postgres', $insert);
ok($single->poll_query_until('postgres', q{SELECT delivered || ' ' || pending FROM telemetry.delivery_status}, "$rows 0"),
	'the single node delivered its events');
my $s_deliver = time - $t0;
note(sprintf('tracking through the trigger of a distributed table, %d rows (new session): %.2f s (%.0f rows/s), then %d rows (same session): %.2f s (%.0f rows/s)',
	$half, $t_cold, $half / $t_cold, $rows - $half, $t_warm, ($rows - $half) / $t_warm));
note(sprintf('single node, the same: %.2f s (%.0f rows/s), then %.2f s (%.0f rows/s)',
	$s_cold, $half / $s_cold, $s_warm, ($rows - $half) / $s_warm));
note(sprintf('tracked and delivered, %d events (session start to last event acknowledged): cluster %.2f s (%.0f events/s); single node %.2f s (%.0f events/s)',
	$rows, $t_deliver, $rows / $t_deliver, $s_deliver, $rows / $s_deliver));

my $by = stored();
is(scalar @{ $by->{ $coord->name } }, 0, 'the coordinator holds no shard and stored no event');
ok(@{ $by->{ $w1->name } } > 0 && @{ $by->{ $w2->name } } > 0, 'both workers stored events');
my @all = map { @$_ } values %$by;
is(scalar @all, $rows, "the workers stored $rows events in all");
my %uniq = map { $_ => 1 } @all;
is(scalar keys %uniq, $rows, 'their ids are unique cluster-wide');

my $got = received($sink);
is(scalar keys %$got, $rows, "the sink received $rows distinct events");
is_deeply([ sort keys %$got ], [ sort @all ], 'exactly the stored ones');
is(scalar(grep { $got->{$_} != 1 } keys %$got), 0, 'each exactly once');

# The cluster-wide status: one row per node that deploys the provider.
my $status = $coord->safe_psql($db, q{
	SELECT string_agg(node || ' ' || provider || ' ' || delivered || ' ' || pending || ' ' || dead, ', ' ORDER BY nodeid)
	FROM telemetry.cluster_delivery_status});
my %per_node = map { $_->name => scalar @{ $by->{ $_->name } } } $c->nodes;
is($status, join(', ', map { sprintf('127.0.0.1:%d orders/ph %d 0 0', $_->port, $per_node{ $_->name }) } $c->nodes),
	'telemetry.cluster_delivery_status shows each node\'s delivery, with its address');

# 2. Rolled back, and failed, multi-shard transactions emit nothing.
$coord->safe_psql($db, "BEGIN; INSERT INTO public.orders SELECT g, g FROM generate_series($rows + 1, $rows + 200) g; ROLLBACK");
my ($rc, $out, $err) = $coord->psql($db,
	"INSERT INTO public.orders SELECT g, g FROM generate_series($rows + 1, $rows + 200) g UNION ALL SELECT 1, 1");
isnt($rc, 0, 'a multi-shard INSERT that one shard refuses (duplicate key) fails');
like($err, qr/duplicate key/, 'with the shard\'s error');
is_deeply([ $c->safe_psql_each(qq{SELECT count(*) FROM telemetry.events WHERE (properties->>'id')::int > $rows}) ],
	[ 0, 0, 0 ], 'neither stored an event on any node');
is_deeply([ map { $_->safe_psql($db, 'SELECT count(*) FROM pg_prepared_xacts') } $c->nodes ], [ 0, 0, 0 ],
	'and no prepared transaction is left');

# 3. A kill -9 of worker1's telemetry worker in the middle of a delivery:
# small batches, slow answers.
$sink->set_default(status => 200, delay => 0.2);
for my $node ($c->nodes)
{
	$node->safe_psql($db, q{ALTER SYSTEM SET telemetry.batch_size = 10; SELECT pg_reload_conf()});
}
my $before = scalar keys %{ received($sink) };
my $more = 400;
$coord->safe_psql($db, "INSERT INTO public.orders SELECT g, g FROM generate_series(100001, 100000 + $more) g");
my $w1_new = $w1->safe_psql($db, q{SELECT count(*) FROM telemetry.events WHERE (properties->>'id')::int > 100000});
ok($w1_new > 0, "worker1 stored $w1_new of the $more new events");
my $pid = $w1->safe_psql($db, q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker'});
ok($pid =~ /^\d+$/, 'worker1 runs a telemetry worker');
# wait until delivery of the new events has begun
my $started = 0;
for (1 .. 300)
{
	$started = scalar(keys %{ received($sink) }) > $before;
	last if $started;
	select undef, undef, undef, 0.05;
}
ok($started, 'delivery of the new events began');
kill 'KILL', $pid;
ok($w1->poll_query_until($db, qq{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'telemetry worker' AND pid <> $pid}), 'worker1 runs a new telemetry worker');
my $total = $rows + $more;
ok($coord->poll_query_until($db, q{SELECT coalesce(sum(pending), 0) FROM telemetry.cluster_delivery_status}, '0'),
	'every node has nothing pending');
$by = stored();
@all = map { @$_ } values %$by;
is(scalar @all, $total, "the cluster stored $total events");
%uniq = map { $_ => 1 } @all;
is(scalar keys %uniq, $total, 'with unique ids');
$got = received($sink);
is(scalar(grep { !$got->{$_} } @all), 0, 'every stored event reached the sink (the kill lost nothing)');
is(scalar(grep { !$uniq{$_} } keys %$got), 0, 'the sink received no event that is not stored');
note(sprintf('%d events were sent twice after the kill (same ids)', scalar grep { $got->{$_} > 1 } keys %$got));

# Partition upkeep runs on every node (each node's own worker).
for my $node ($c->nodes)
{
	ok($node->poll_query_until($db, q{
			SELECT count(*) > 0 FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
			WHERE i.inhparent = 'telemetry.events'::regclass AND p.relname ~ '^events_p[0-9]{8}$'
			  AND to_date(substr(p.relname, 9), 'YYYYMMDD') > current_date}),
		$node->name . ' has partitions made ahead by its worker\'s maintenance');
}

($rc, $out, $err) = $single->psql('postgres', 'SELECT * FROM telemetry.cluster_delivery_status',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000: Citus is not installed in this database/, 'without Citus, telemetry.cluster_delivery_status is 55000');

$single->stop('fast');
$c->stop;
done_testing();
