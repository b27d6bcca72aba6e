# The track_stats counters live in one shared table for every database.  One
# database cannot take another's share, and what a database could not count
# is visible in telemetry.track_stats_info (issue 10, finding 19).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('stats_share');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.enabled = off
telemetry.max_tracked_events = 100
});
$node->start;

# A database with a spec of n events "$prefix.N", each tracked once.
sub setup_db
{
	my ($db, $prefix, $n) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION telemetry;
SELECT telemetry_run_maintenance();
SELECT telemetry_register_spec(jsonb_build_object('meta', jsonb_build_object('key', '$prefix', 'version', '1.0.0'),
	'events', (SELECT jsonb_agg(jsonb_build_object('key', '$prefix.' || i, 'version', '1.0.0', 'privacy', 'public',
		'semantics', jsonb_build_object('what', 'w'), 'properties', '{}'::jsonb)) FROM generate_series(1, $n) i)));
});
}

sub track
{
	my ($db, $prefix, $from, $to) = @_;
	$node->safe_psql($db,
		"SELECT count(telemetry_track('$prefix.' || i, '1.0.0')) FROM generate_series($from, $to) i");
}

sub info
{
	my ($db) = @_;
	return $node->safe_psql($db,
		'SELECT entries, max_entries, databases, fair_share, not_counted, evicted FROM telemetry.track_stats_info');
}

sub counted
{
	my ($db) = @_;
	return $node->safe_psql($db, 'SELECT count(*), coalesce(sum(stored), 0) FROM telemetry.track_stats');
}

setup_db('noisy', 'n', 140);
setup_db('quiet', 'q', 60);

# alone, the noisy database fills the table; what does not fit is shown
track('noisy', 'n', 1, 120);
is(info('noisy'), '100|100|1|100|20|0', 'noisy: 100 entries, 20 calls not counted, shown in track_stats_info');
is(counted('noisy'), '100|100', 'noisy: 100 event versions counted');

# the quiet database still gets its counters, taken from the noisy one
track('quiet', 'q', 1, 10);
is(counted('quiet'), '10|10', 'quiet: every event counted although the table was full');
is(info('quiet'), '10|100|2|50|0|0', 'quiet: 10 entries of a fair share of 50');
is(info('noisy'), '90|100|2|50|20|10', 'noisy: 10 entries evicted, and counted as such');

# the noisy database, above its share, cannot take them back
track('noisy', 'n', 121, 140);
is(info('noisy'), '90|100|2|50|40|10', 'noisy: above its share, new events are not counted (and that shows)');
is(counted('quiet'), '10|10', 'quiet: keeps its entries');
# entries it already has still count
my $kept = $node->safe_psql('noisy', q{SELECT event FROM telemetry.track_stats ORDER BY event LIMIT 1});
$node->safe_psql('noisy', "SELECT telemetry_track('$kept', '1.0.0')");
is($node->safe_psql('noisy', "SELECT stored FROM telemetry.track_stats WHERE event = '$kept'"), '2',
	'noisy: its remaining entries keep counting');

# the quiet database grows up to its fair share, not beyond
track('quiet', 'q', 11, 60);
is(info('quiet'), '50|100|2|50|10|0', 'quiet: up to its fair share of 50, then not counted (10)');
is(info('noisy'), '50|100|2|50|40|50', 'noisy: down to its fair share');
is(counted('quiet'), '50|50', 'quiet: 50 event versions counted');

# a reset forgets a database's counters and its losses
$node->safe_psql('quiet', 'SELECT telemetry_reset_stats()');
is(info('quiet'), '0|100|2|50|0|0', 'quiet: reset (the noisy database still counts as sharing)');
is($node->safe_psql('quiet', 'SELECT stats_reset IS NOT NULL FROM telemetry.track_stats_info'), 't', 'stats_reset is set');

$node->stop;
done_testing();
