# Alerts out of the database: an anomaly whose actions include "alert" is
# queued with the anomaly and delivered by the worker to the spec's
# providers, each in its own format (PostHog: the event telemetry.anomaly;
# webhook: "type": "telemetry.anomaly", signed; OpenTelemetry: a WARN log
# record; slack: {"text"}), exactly once when the sinks fail first, exactly
# once when the worker is killed (kill -9) between failed attempts, and at
# least once with the same id when it is killed in the middle of a request.
# A provider with "alerts": false receives events and no alert; slack
# receives alerts and no event.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;
# the providers are down at first
$sink->set_default(status => 503);

my $node = PostgreSQL::Test::Cluster->new('delivery_alerts');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
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
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}),
	'the telemetry worker is running');

my $hook_key = 'alert hook key';
my $spec = encode_json({
	meta => { key => 'al', version => '1.0.0' },
	config => { providers => [
		{ type => 'posthog', config => { projectApiKey => 'k', host => "$url/ph" } },
		{ type => 'webhook', name => 'hook',
		  config => { url => "$url/hook", secret => 'whsec_' . encode_base64($hook_key, '') } },
		{ type => 'opentelemetry', name => 'otel', config => { endpoint => "$url/otel" } },
		{ type => 'slack', name => 'ops', config => { url => "$url/slack" } },
		{ type => 'posthog', name => 'quiet', alerts => JSON::PP::false,
		  config => { projectApiKey => 'k', host => "$url/quiet" } } ] },
	events => [ {
		key => 'al.step', version => '1.0.0',
		semantics => { what => 'a workflow step' }, privacy => 'public',
		properties => { durationMs => { type => 'number' } },
		anomalyDetection => { enabled => JSON::PP::true, minimumSample => 1,
			thresholds => [ { metric => 'durationMs', max => 100 } ], actions => ['alert'] } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");

sub body_json
{
	my ($r) = @_;
	my $raw = $r->{body};
	if (($r->{headers}{'content-encoding'} // '') eq 'gzip')
	{
		my $out;
		gunzip(\$raw => \$out) or die $GunzipError;
		$raw = $out;
	}
	return decode_json($raw);
}

# The anomaly ids of the alerts each provider received (from 2xx answers
# only, or from every request), and the requests that carried them.
sub alerts_received
{
	my (%opt) = @_;
	my %got = map { $_ => [] } qw(posthog quiet hook otel ops);
	for my $r ($sink->requests)
	{
		next if $opt{ok_only} && ($r->{status} < 200 || $r->{status} >= 300);
		my $b = body_json($r);
		if ($r->{path} =~ m{^/(ph|quiet)/batch/$})
		{
			my $who = $1 eq 'ph' ? 'posthog' : 'quiet';
			push @{ $got{$who} }, [ $_->{properties}{anomaly_id}, $_->{uuid}, $r, $_ ]
			  for grep { $_->{event} eq 'telemetry.anomaly' } @{ $b->{batch} };
		}
		elsif ($r->{path} eq '/hook' && $b->{type} eq 'telemetry.anomaly')
		{
			push @{ $got{hook} }, [ $_->{anomaly}{anomaly_id}, $_->{id}, $r, $_ ] for @{ $b->{data} };
		}
		elsif ($r->{path} eq '/otel/v1/logs')
		{
			for my $rec (map { @{ $_->{logRecords} } } map { @{ $_->{scopeLogs} } } @{ $b->{resourceLogs} })
			{
				next unless $rec->{severityText} eq 'WARN';
				my %a = map { $_->{key} => (values %{ $_->{value} })[0] } @{ $rec->{attributes} };
				push @{ $got{otel} }, [ $a{'telemetry.anomaly.anomaly_id'}, $a{'telemetry.alert.id'}, $r, $rec ];
			}
		}
		elsif ($r->{path} eq '/slack')
		{
			my ($id) = ($b->{text} // '') =~ /^telemetry anomaly (\d+) /;
			push @{ $got{ops} }, [ $id, undef, $r, $b ];
		}
	}
	return \%got;
}

# Whether every alert provider has received (any answer) the anomaly.
sub all_tried
{
	my ($anomaly) = @_;
	my $got = alerts_received();
	return !grep { my $p = $_; !grep { ($_->[0] // '') eq $anomaly } @{ $got->{$p} } } qw(posthog hook otel ops);
}

sub queue_settled
{
	return $node->poll_query_until('postgres',
		q{SELECT count(*) > 0 AND bool_and(state = 'delivered') FROM telemetry.alert_queue});
}

# Track a slow step and check until its anomaly is recorded; returns its id.
my $checks = 0;
sub slow_step
{
	my ($ms) = @_;
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM telemetry.anomalies');
	$node->safe_psql('postgres', "SELECT telemetry_track('al.step', '1.0.0', '{\"durationMs\": $ms}')");
	$node->poll_query_until('postgres',
		"SELECT telemetry_check_anomalies() >= 0 AND (SELECT count(*) FROM telemetry.anomalies) > $before")
	  or die 'no anomaly recorded';
	return $node->safe_psql('postgres', 'SELECT max(id) FROM telemetry.anomalies');
}

# ---- the sinks fail first, then accept: each provider gets the alert once ----
my $a1 = slow_step(250);
is($node->safe_psql('postgres',
		"SELECT string_agg(provider, ',' ORDER BY provider) FROM telemetry.alert_queue WHERE anomaly_id = $a1"),
	'hook,ops,otel,posthog', 'queued for the four providers that take alerts (not "quiet")');
ok($sink->wait_until(sub { all_tried($a1) }, 120), 'every provider was sent the alert while failing');
ok(!grep({ $_->{status} == 200 } $sink->requests), 'no request succeeded yet');
$sink->set_default(status => 200);
ok(queue_settled(), 'every alert delivered once the sinks accept');
my $got = alerts_received(ok_only => 1);
for my $p (qw(posthog hook otel ops))
{
	is(join(',', map { $_->[0] } @{ $got->{$p} }), $a1, "$p: the alert received exactly once");
}
is(scalar @{ $got->{quiet} }, 0, '"alerts": false: no alert');
ok($sink->wait_until(sub {
	grep { $_->{path} eq '/quiet/batch/' && $_->{status} == 200 } $sink->requests }, 60),
	'"alerts": false: the provider still receives the events');
ok(!grep({ $_->{path} eq '/slack' && join(',', sort keys %{ body_json($_) }) ne 'text' } $sink->requests),
	'slack receives {"text"} only, and no event');
is(scalar(grep { $_->{path} eq '/slack' && $_->{status} == 200 } $sink->requests), 1,
	'slack: one message for one alert');
ok($node->poll_query_until('postgres',
		q{SELECT pending = 0 AND delivered = 0 FROM telemetry.delivery_status WHERE provider = 'al/ops'}),
	'slack: its cursor passes the events it does not receive (nothing pending)');

# the formats
my ($ph) = @{ $got->{posthog} };
is($ph->[3]{event}, 'telemetry.anomaly', 'posthog: event telemetry.anomaly');
is($ph->[3]{properties}{observed}, 250, 'posthog: the anomaly fields as properties');
is($ph->[3]{properties}{metric}, 'durationMs', 'posthog: its metric');
ok(!$ph->[3]{properties}{'$process_person_profile'}, 'posthog: no person profile');
is($ph->[1], $node->safe_psql('postgres',
		"SELECT alert_id FROM telemetry.alert_queue WHERE anomaly_id = $a1 AND provider = 'posthog'"),
	'posthog: uuid is the alert id');
my ($hk) = @{ $got->{hook} };
my $req = $hk->[2];
my $expected_sig = encode_base64(hmac_sha256("$req->{headers}{'webhook-id'}.$req->{headers}{'webhook-timestamp'}.$req->{body}",
		$hook_key), '');
is($req->{headers}{'webhook-signature'}, "v1,$expected_sig", 'webhook: the alert is signed like events');
is($req->{headers}{'webhook-id'}, $hk->[1], 'webhook: webhook-id is the alert id');
is(body_json($req)->{type}, 'telemetry.anomaly', 'webhook: "type": "telemetry.anomaly"');
my ($ot) = @{ $got->{otel} };
is($ot->[3]{severityNumber}, 13, 'opentelemetry: severity WARN (13)');
like($ot->[3]{body}{stringValue}, qr/^telemetry anomaly $a1 \(spec al\@1\.0\.0\): event "al\.step"/,
	'opentelemetry: the summary as body');
my ($sl) = @{ $got->{ops} };
like($sl->[3]{text}, qr/durationMs = 250 above max 100/, 'slack: the summary as text');

# ---- kill -9 of the worker between failed attempts: still exactly once ----
$sink->set_default(status => 503);
$sink->clear;
my $a2 = slow_step(300);
ok($sink->wait_until(sub { all_tried($a2) }, 120), 'the second alert failed at every provider');
my $pid = worker_pid();
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND pid <> $pid}),
	'worker back after kill -9');
$sink->set_default(status => 200);
ok(queue_settled(), 'every alert delivered after the restart');
$got = alerts_received(ok_only => 1);
for my $p (qw(posthog hook otel ops))
{
	is(join(',', map { $_->[0] } @{ $got->{$p} }), $a2, "$p: kill -9: the alert received exactly once");
}

# ---- kill -9 in the middle of the request: at least once, same id ----
$sink->clear;
$sink->set_default(status => 200, delay => 3);
my $a3 = slow_step(400);
ok($sink->wait_until(sub { all_tried($a3) }, 120), 'the third alert is being sent');
$pid = worker_pid();
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND pid <> $pid}),
	'worker back after kill -9');
$sink->set_default(status => 200);
ok(queue_settled(), 'every alert settled after the restart');
$got = alerts_received(ok_only => 1);
my $a3_id = $node->safe_psql('postgres',
	"SELECT DISTINCT alert_id FROM telemetry.alert_queue WHERE anomaly_id = $a3");
for my $p (qw(posthog hook otel))
{
	my @copies = grep { $_->[0] eq $a3 } @{ $got->{$p} };
	ok(@copies >= 1, "$p: the alert received (" . scalar(@copies) . ' copies)');
	ok(!grep({ $_->[1] ne $a3_id } @copies), "$p: every copy carries the alert id");
}
ok(scalar(grep { $_->[0] eq $a3 } @{ $got->{ops} }) >= 1, 'slack: the alert received');
is(scalar(grep { $_->[0] ne $a3 } map { @{ $got->{$_} } } qw(posthog hook otel ops)), 0,
	'no earlier alert sent again');

unlike(slurp_file($node->logfile), qr/terminated by signal (?!9:)\d+/, 'no process crashed');
$node->stop;
$sink->stop;
done_testing();
