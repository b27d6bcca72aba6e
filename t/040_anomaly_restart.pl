# Anomaly detection state survives a restart: the persisted count of events
# per event version (minimumSample) and the position of the last check.
# After an immediate shutdown (a crash), the seed's example still fires on
# its tenth event, and a check after the restart reads only the new events.
# The log action writes its line to the server log, and pg_dump keeps the
# anomaly history and state.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{TELEMETRY_SRC} or die "TELEMETRY_SRC is not set";

my $node = PostgreSQL::Test::Cluster->new('anomaly');
$node->init;
# the worker idles in a database without the extension: the test runs the checks
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_env = 'POSTHOG_KEY'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
$node->safe_psql('app', 'SELECT telemetry_run_maintenance()');
$node->safe_psql('app', "SELECT telemetry_load_spec('$src/examples/sigil.telemetry.json')");

sub track_slow
{
	my ($n, $ms) = @_;
	$node->safe_psql('app', qq{
		SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1,
			jsonb_build_object('workflow', 'w', 'step', 's' || i, 'durationMs', $ms)))
		FROM generate_series(1, $n) i});
}

sub check { return $node->safe_psql('app', 'SELECT telemetry_check_anomalies()'); }

track_slow(5, 2000);
is(check(), '0', 'five slow events: below minimumSample');
is($node->safe_psql('app', 'SELECT stored, last_batch FROM telemetry.anomaly_state'),
	'5|5', 'five events counted');
my $position = $node->safe_psql('app', 'SELECT position FROM telemetry.anomaly_state');

$node->stop('immediate');
$node->start;

is($node->safe_psql('app', 'SELECT stored, position FROM telemetry.anomaly_state'),
	"5|$position", 'count and position survive a crash restart');
is(check(), '0', 'a check after the restart finds nothing new');
is($node->safe_psql('app', 'SELECT stored, last_batch FROM telemetry.anomaly_state'),
	'5|0', 'the events before the restart are not read again');

track_slow(4, 2000);
is(check(), '0', 'nine slow events in all: still no anomaly');
track_slow(1, 2100);
is(check(), '1', 'the tenth event gives one anomaly');
is( $node->safe_psql(
		'app',
		'SELECT observed, violations, sample_size FROM telemetry.anomalies'),
	'2100|1|1',
	'only the tenth event was evaluated');

$node->restart;
is($node->safe_psql('app', 'SELECT stored FROM telemetry.anomaly_state'),
	'10', 'count survives a clean restart');
track_slow(1, 1800);
is(check(), '1', 'the eleventh event is evaluated after a restart');

# the log action: a WARNING in the server log naming event, version, metric,
# worst value and threshold
$node->safe_psql('app', q{
	SELECT telemetry_register_spec('{
	  "meta": {"key": "logged.spec", "version": "1.0.0"},
	  "events": [{
	    "key": "logged.job", "version": "1.0.0",
	    "semantics": {"what": "A job ran"}, "privacy": "internal",
	    "properties": {"ms": {"type": "number"}},
	    "anomalyDetection": {"enabled": true, "minimumSample": 1,
	      "thresholds": [{"metric": "ms", "max": 100}], "actions": ["log"]}
	  }]
	}')});
$node->safe_psql('app', q{SELECT telemetry_track('logged.job', '1.0.0', '{"ms": 250}')});
my $offset = -s $node->logfile;
is(check(), '1', 'logged anomaly recorded');
ok( $node->log_contains(
		qr/WARNING:  telemetry anomaly \d+: event "logged\.job" version 1\.0\.0: ms = 250 above max 100/,
		$offset),
	'the log action writes the anomaly to the server log');

# pg_dump keeps the anomaly history, the regen requests and the state: in
# a restored database nothing old is evaluated again and new events are.
# (A database without day partitions: restoring those is maintenance's
# business, not this test's.)
$node->safe_psql('postgres', 'CREATE DATABASE dumped');
$node->safe_psql('dumped', 'CREATE EXTENSION telemetry');
$node->safe_psql('dumped', "SELECT telemetry_load_spec('$src/examples/sigil.telemetry.json')");
$node->safe_psql('dumped', q{
	SELECT count(telemetry_track('sigil.telemetry.workflow_step', 1,
		jsonb_build_object('workflow', 'w', 'step', 's' || i, 'durationMs', 1000 + 100 * i)))
	FROM generate_series(1, 12) i});
is($node->safe_psql('dumped', 'SELECT telemetry_check_anomalies()'), '1', 'anomaly before the dump');
my $dump = $node->basedir . '/dumped.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('dumped'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
my ($rc, $out, $err) = $node->psql('restored', undef,
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', $dump ]);
is($rc, 0, 'the dump restores without errors') or diag($err);
my $history = q{SELECT (SELECT count(*) FROM telemetry.anomalies) || '|' ||
	(SELECT count(*) FROM telemetry.regen_requests) || '|' ||
	(SELECT string_agg(event || ':' || stored, ',' ORDER BY event) FROM telemetry.anomaly_state)};
is($node->safe_psql('restored', $history), $node->safe_psql('dumped', $history),
	'anomalies, regen requests and counts are restored');
is($node->safe_psql('restored', 'SELECT telemetry_check_anomalies()'), '0',
	'restored events are not evaluated again');
$node->safe_psql('restored', q{SELECT telemetry_track('sigil.telemetry.workflow_step', 1,
	'{"workflow": "w", "step": "r", "durationMs": 1700}')});
is($node->safe_psql('restored', 'SELECT telemetry_check_anomalies()'), '1',
	'a new event in the restored database is evaluated');
is( $node->safe_psql('restored',
		q{SELECT string_agg(a.id || ':' || a.status || ':' || COALESCE(r.id::text, '-'), ',' ORDER BY a.id)
		  FROM telemetry.anomalies a LEFT JOIN telemetry.regen_requests r ON r.anomaly_id = a.id}),
	'1:open:1,2:open:2',
	'the restored sequences continue after the restored ids');
is($node->safe_psql('restored',
		q{SELECT string_agg(DISTINCT anomaly_id::text, ',' ORDER BY anomaly_id::text) FROM telemetry.alert_queue}),
	'1,2', 'the alerts queued before the dump are restored, and a new one is queued after them');

$node->stop;
done_testing();
