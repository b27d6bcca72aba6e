# Delivery across spec versions: the spec key is the unit of deployment.
# A provider kept by a new spec version continues its cursor and delivers
# every event of every version exactly once; a provider a new latest version
# adds starts at the current horizon; one it drops stops, and comes back as
# a new one; unregistering an older version with events pending loses none,
# and unregistering the latest is refused while a provider it would stop has
# events to deliver.  Passes are run with telemetry_deliver(), so counts do
# not depend on the worker's timing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use HttpSink;

my $sink = HttpSink->new;
my $sink2 = HttpSink->new;

my $node = PostgreSQL::Test::Cluster->new('delivery_versions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

my $secret = 'whsec_' . encode_base64('versions key', '');
my %event = (
	'ver.e' => { semantics => { what => 'e happened' }, privacy => 'internal', properties => { n => { type => 'number' } } },
	'ver.f' => { semantics => { what => 'f happened' }, privacy => 'internal', properties => { n => { type => 'number' } } });

# hook(NAME, SINK, HEADERS): a webhook provider
sub hook
{
	my ($name, $s, $headers) = @_;
	my $config = { url => $s->url . "/$name", secret => $secret };
	$config->{headers} = $headers if $headers;
	return { type => 'webhook', name => $name, config => $config };
}

# register(VERSION, [EVENT KEYS], [PROVIDERS]): spec "ver", each event at 1.0.0
sub register
{
	my ($version, $events, $providers) = @_;
	my $spec = encode_json({
		meta => { key => 'ver', version => $version },
		config => { providers => $providers },
		events => [ map { { key => $_, version => '1.0.0', %{ $event{$_} } } } @$events ] });
	return $node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
}

my $n = 0;
sub track
{
	my ($key) = @_;
	$n++;
	return $node->safe_psql('app', "SELECT telemetry_track('$key', '1.0.0', '{\"n\": $n}')");
}

# Passes until nothing is pending, in flight or retrying (bounded).
sub deliver_all
{
	for (1 .. 20)
	{
		$node->safe_psql('app', 'SELECT telemetry_deliver()');
		return 1 if $node->safe_psql('app',
			q{SELECT coalesce(sum(pending + in_flight + retrying), 0) = 0 FROM telemetry.delivery_status}) eq 't';
	}
	return 0;
}

# How many times a sink received each event id (webhook bodies).
sub received
{
	my ($s) = @_;
	my %ids;
	for my $r ($s->requests)
	{
		$ids{ $_->{id} }++ for @{ decode_json($r->{body})->{data} };
	}
	return \%ids;
}

sub status
{
	my ($col) = @_;
	return $node->safe_psql('app', "SELECT string_agg(provider || ':' || $col, ',' ORDER BY provider) FROM telemetry.delivery_status");
}

# ---- 1.0.0 with one webhook ----
register('1.0.0', ['ver.e'], [ hook('hook', $sink) ]);
my @ids = map { track('ver.e') } 1 .. 3;
ok(deliver_all(), '1.0.0: delivered');
is_deeply([ sort keys %{ received($sink) } ], [ sort @ids ], '1.0.0: the three events reached the sink');

# ---- events pending when 1.1.0 keeps the provider ----
push @ids, track('ver.e'), track('ver.e');
register('1.1.0', ['ver.e', 'ver.f'], [ hook('hook', $sink, { 'X-Spec-Version' => '1.1.0' }) ]);
is(status('pending'), 'ver/hook:2', 'one provider for the key, its two pending events still pending');
is($node->safe_psql('app', q{SELECT event || '@' || version || ' ' || spec FROM telemetry.event_catalog ORDER BY 1}),
	"ver.e\@1.0.0 ver\@1.1.0\nver.f\@1.0.0 ver\@1.1.0", 'the unchanged event is listed once, governed by 1.1.0');
push @ids, track('ver.f'), track('ver.f'), track('ver.e');
is($node->safe_psql('app', q{SELECT DISTINCT spec FROM telemetry.events}), 'ver', 'events store the spec key');
ok(deliver_all(), '1.1.0: delivered');
my $got = received($sink);
is_deeply([ sort keys %$got ], [ sort @ids ], 'every event of both versions reached the sink');
is(scalar(grep { $_ != 1 } values %$got), 0, 'each exactly once: the cursor continued across versions');
is(status('delivered'), 'ver/hook:8', 'one cursor and one count for the key');
my @after = grep { ($_->{headers}{'x-spec-version'} // '') eq '1.1.0' } $sink->requests;
ok(scalar(@after) >= 1, 'requests after 1.1.0 use its config');

# ---- a provider the new latest version adds starts at the horizon ----
my @before_hook2 = (track('ver.e'), track('ver.f'));
register('1.2.0', ['ver.e', 'ver.f'], [ hook('hook', $sink, { 'X-Spec-Version' => '1.2.0' }), hook('hook2', $sink2) ]);
my $first2 = track('ver.e');
push @ids, @before_hook2, $first2;
ok(deliver_all(), '1.2.0: delivered');
is_deeply([ sort keys %{ received($sink2) } ], [ $first2 ], 'the new provider got only what was tracked after it was added');
$got = received($sink);
is_deeply([ sort keys %$got ], [ sort @ids ], 'the kept provider got everything');
is(scalar(grep { $_ != 1 } values %$got), 0, 'still each exactly once');

# ---- unregistering an older version with events pending loses none ----
my @pending = (track('ver.e'), track('ver.f'));
push @ids, @pending;
is($node->safe_psql('app', q{SELECT telemetry_unregister_spec('ver', '1.0.0')}), 't', 'an older version unregisters with events pending');
is(status('pending'), 'ver/hook:2,ver/hook2:2', 'its pending events are still pending for both providers');
ok(deliver_all(), 'delivered after unregistering 1.0.0');
$got = received($sink);
is_deeply([ sort keys %$got ], [ sort @ids ], 'the pending events reached the sink');
is(scalar(grep { $_ != 1 } values %$got), 0, 'each exactly once');
is(scalar(grep { $_ != 1 } values %{ received($sink2) }), 0, 'and the second sink each once too');

# ---- unregistering the latest while a provider it would stop has a backlog ----
my $last2 = track('ver.e');
push @ids, $last2;
my ($rc, $out, $err) = $node->psql('app', q{SELECT telemetry_unregister_spec('ver', '1.2.0')});
like($err, qr/ERROR:  spec "ver\@1\.2\.0" cannot be unregistered while provider "ver\/hook2" has events to deliver/,
	'unregistering the latest version is refused while hook2 (which 1.1.0 lacks) has events pending');
ok(deliver_all(), 'delivered');
ok(exists received($sink2)->{$last2}, 'hook2 delivered its backlog');
is($node->safe_psql('app', q{SELECT telemetry_unregister_spec('ver', '1.2.0')}), 't', 'then it unregisters');
is(status('delivered'), 'ver/hook:' . scalar(@ids), '1.1.0 is the latest again: its provider, with its whole count');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_state WHERE provider = 'hook2'})
	. $node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_horizons WHERE provider = 'hook2'}),
	'00', 'the dropped provider\'s state is removed');

# ---- a dropped provider stops; named again, it is new again ----
my $gap = track('ver.f');
push @ids, $gap;
ok(deliver_all(), 'delivered');
ok(!exists received($sink2)->{$gap}, 'the dropped provider stopped');
register('1.3.0', ['ver.e', 'ver.f'], [ hook('hook', $sink), hook('hook2', $sink2) ]);
my $back = track('ver.e');
push @ids, $back;
ok(deliver_all(), 'delivered');
ok(exists received($sink2)->{$back} && !exists received($sink2)->{$gap},
	'named again it starts at the horizon: nothing from the gap');

# ---- in the end: every stored event reached the kept provider exactly once ----
my @stored = split /\n/, $node->safe_psql('app', q{SELECT id FROM telemetry.events WHERE spec = 'ver' ORDER BY id});
$got = received($sink);
is_deeply([ sort keys %$got ], [ sort @stored ], 'every stored event was delivered');
is(scalar(grep { $_ != 1 } values %$got), 0, 'none twice');

$sink->stop;
$sink2->stop;
$node->stop;
done_testing();
