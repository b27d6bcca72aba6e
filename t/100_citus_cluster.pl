# The Citus test cluster (issue 17, item 1): a coordinator and two workers
# run both extensions, CREATE EXTENSION telemetry on the coordinator reaches
# the workers, a spec registered on the coordinator reaches them too
# (t/101_citus_catalog.pl tests that in depth), and a trigger on a
# distributed table tracks each row on the node that holds its shard.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CitusCluster;

my $c = CitusCluster->new(conf => q{
telemetry.maintenance_interval = '1h'
});
my $coord = $c->coordinator;
my @workers = $c->workers;
my $db = $c->database;

# Both extensions on every node: Citus answers, telemetry's launcher runs.
is_deeply([ $c->safe_psql_each('SHOW shared_preload_libraries') ],
	[ ('citus,telemetry') x 3 ], 'every node preloads citus and telemetry');
is_deeply([ $c->safe_psql_each(q{SELECT extname FROM pg_extension WHERE extname = 'citus'}) ],
	[ ('citus') x 3 ], 'every node has the citus extension');
for my $node ($c->nodes)
{
	ok($node->poll_query_until($db,
			q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry launcher'}),
		$node->name . ' runs the telemetry launcher');
}
is($coord->safe_psql($db, q{
	SELECT string_agg(nodename || ':' || nodeport, ' ' ORDER BY nodeport)
	FROM pg_catalog.pg_dist_node WHERE isactive AND noderole = 'primary' AND shouldhaveshards}),
	join(' ', map { '127.0.0.1:' . $_->port } sort { $a->port <=> $b->port } @workers),
	'the coordinator has both workers registered on loopback');

# CREATE EXTENSION telemetry on the coordinator is propagated by Citus.
$coord->safe_psql($db, 'CREATE EXTENSION telemetry');
my $version = $coord->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'telemetry'});
is_deeply([ map { $_->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'telemetry'}) } @workers ],
	[ ($version) x 2 ], "CREATE EXTENSION telemetry on the coordinator created it ($version) on both workers");
for my $node ($c->nodes)
{
	ok($node->poll_query_until($db, qq{
			SELECT count(*) = 1 FROM pg_stat_activity
			WHERE backend_type = 'telemetry worker' AND datname = '$db'}),
		$node->name . ' runs a telemetry worker in the database');
}

my $spec = q{{
	"meta": {"key": "citus.smoke", "version": "1.0.0"},
	"events": [{"key": "citus.smoke.order", "version": "1.0.0", "privacy": "internal",
		"semantics": {"what": "An order row was inserted"},
		"properties": {"id": {"type": "number", "required": true}, "amount": {"type": "number"}}}]
}};
my $count_specs = q{SELECT count(*) FROM telemetry.specs WHERE key = 'citus.smoke'};

# One catalog (issue 17 item 2): once telemetry_citus_sync() has set the
# cluster up, a spec registered on the coordinator is on every node.
is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '3', 'telemetry_citus_sync() reaches the three nodes');
$coord->safe_psql($db, "SELECT telemetry_register_spec('$spec')");
is_deeply([ $c->safe_psql_each($count_specs) ], [ 1, 1, 1 ],
	'the spec registered on the coordinator is on every node');

my ($rc, $out, $err) = $coord->psql($db, q{
	CREATE TABLE public.orders (id integer PRIMARY KEY, amount integer);
	SELECT create_distributed_table('public.orders', 'id');
	CREATE TRIGGER orders_tracked AFTER INSERT ON public.orders
		FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('citus.smoke.order', '1');
});
isnt($rc, 0, 'CREATE TRIGGER on a distributed table fails without citus.enable_unsafe_triggers');
like($err, qr/triggers are not supported on distributed tables/,
	'with Citus\'s error');

$coord->safe_psql($db, q{
	SET citus.enable_unsafe_triggers = on;
	CREATE TRIGGER orders_tracked AFTER INSERT ON public.orders
		FOR EACH ROW EXECUTE FUNCTION telemetry_track_trigger('citus.smoke.order', '1');
});
my $rows = 40;
$coord->safe_psql($db,
	"INSERT INTO public.orders SELECT g, g * 10 FROM generate_series(1, $rows) g");

# Where Citus put each row: worker port -> its ids.
my %expected;
for my $line (split /\n/, $coord->safe_psql($db, q{
	SELECT n.nodeport, string_agg(o.id::text, ',' ORDER BY o.id)
	FROM public.orders o
	JOIN pg_catalog.pg_dist_placement p
		ON p.shardid = pg_catalog.get_shard_id_for_distribution_column('public.orders', o.id)
	JOIN pg_catalog.pg_dist_node n USING (groupid)
	GROUP BY n.nodeport}))
{
	my ($port, $ids) = split /\|/, $line;
	$expected{$port} = $ids;
}
is(scalar(keys %expected), 2, 'the rows are spread over both workers');

my $tracked = q{SELECT coalesce(string_agg(properties->>'id', ',' ORDER BY (properties->>'id')::int), '')
	FROM telemetry.events WHERE event = 'citus.smoke.order'};
is($coord->safe_psql($db, $tracked), '', 'the coordinator holds no shard and tracked nothing');
my $total = 0;
for my $w (@workers)
{
	is($w->safe_psql($db, $tracked), $expected{ $w->port } // '',
		$w->name . ' tracked exactly the rows of its shards');
	$total += $w->safe_psql($db, q{SELECT count(*) FROM telemetry.events WHERE event = 'citus.smoke.order'});
}
is($total, $rows, "the workers' events add up to the $rows rows inserted");

$c->stop;
done_testing();
