# Routing: events[].providers restricts which of the spec's providers
# receive an event.  An event restricted to one provider never reaches the
# other (not in its batches, not through a replay), the other's cursor
# still moves past it (a provider that receives none of a large backlog
# ends with nothing pending), an empty list sends the event nowhere, and a
# new spec version's routing applies to the events tracked after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;

my $node = PostgreSQL::Test::Cluster->new('delivery_routing');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.batch_size = 10
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
# delivery by telemetry_deliver() in a database the worker does not serve
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

sub event
{
	my ($key, $routes) = @_;
	my $e = {
		key => $key, version => '1.0.0', semantics => { what => $key }, privacy => 'internal',
		properties => { n => { type => 'number' } } };
	$e->{providers} = $routes if defined $routes;
	return $e;
}

sub register
{
	my ($version, $a_routes) = @_;
	my $spec = encode_json({
		meta => { key => 'rt', version => $version },
		config => { providers => [
			{ type => 'posthog', config => { projectApiKey => 'k', host => "$url/ph" } },
			{ type => 'webhook', name => 'hook',
			  config => { url => "$url/hook", secret => 'whsec_' . encode_base64('k', '') } } ] },
		events => [ event('rt.only_hook', $a_routes), event('rt.both'), event('rt.nobody', []) ] });
	$node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
}

sub track
{
	my ($event, $n) = @_;
	return $node->safe_psql('app', qq{
		SELECT string_agg(telemetry_track('$event', '1.0.0', jsonb_build_object('n', g))::text, ',')
		FROM generate_series(1, $n) g});
}

# Deliver until nothing is pending (at most 100 passes).
sub deliver_all
{
	for (1 .. 100)
	{
		$node->safe_psql('app', 'SELECT telemetry_deliver()');
		return 1 if $node->safe_psql('app',
			'SELECT bool_and(pending = 0 AND retrying = 0) FROM telemetry.delivery_status') eq 't';
	}
	return 0;
}

# The event names each provider received, with counts.
sub received
{
	my %got = (posthog => {}, hook => {});
	for my $r ($sink->requests)
	{
		if ($r->{path} eq '/ph/batch/')
		{
			my $raw;
			gunzip(\$r->{body} => \$raw) or die $GunzipError;
			$got{posthog}{ $_->{event} }++ for @{ decode_json($raw)->{batch} };
		}
		elsif ($r->{path} eq '/hook')
		{
			$got{hook}{ $_->{event} }++ for @{ decode_json($r->{body})->{data} };
		}
	}
	return \%got;
}

register('1.0.0', ['hook']);
is($node->safe_psql('app', q{SELECT provider || ':' || pending FROM telemetry.delivery_status ORDER BY 1}),
	"rt/hook:0\nrt/posthog:0", 'two providers, nothing pending');

# interleaved: a backlog posthog receives none of, between events it receives
track('rt.both', 3);
track('rt.only_hook', 250);
track('rt.nobody', 5);
track('rt.both', 4);
ok(deliver_all(), 'everything delivered');
my $got = received();
is($got->{posthog}{'rt.only_hook'} // 0, 0, 'an event routed to the webhook never reaches posthog');
is($got->{posthog}{'rt.both'} // 0, 7, 'posthog receives the unrouted events');
is($got->{hook}{'rt.only_hook'} // 0, 250, 'the webhook receives the event routed to it');
is($got->{hook}{'rt.both'} // 0, 7, 'the webhook receives the unrouted events');
is(($got->{posthog}{'rt.nobody'} // 0) + ($got->{hook}{'rt.nobody'} // 0), 0, '"providers": [] sends the event nowhere');
is($node->safe_psql('app', q{SELECT delivered FROM telemetry.delivery_status WHERE provider = 'rt/posthog'}),
	'7', 'posthog counts only what it was sent');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_failures}), '0', 'no dead letters');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_history WHERE provider = 'posthog' AND events > 7}),
	'0', 'no request of posthog carried the routed-away backlog');

# a replay to posthog sends its events again, and still not the routed ones
$sink->clear;
is($node->safe_psql('app', q{SELECT telemetry_replay('rt/posthog', now() - interval '1 day', now() + interval '1 day') > 0}), 't',
	'replay queued');
ok(deliver_all(), 'replay delivered');
$got = received();
is($got->{posthog}{'rt.only_hook'} // 0, 0, 'replay: the routed event still never reaches posthog');
is($got->{posthog}{'rt.both'} // 0, 7, 'replay: the unrouted events again');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_failures}), '0',
	'replay: nothing left queued for posthog');

# a new version routes rt.only_hook to both: events tracked after it reach posthog
$sink->clear;
register('1.1.0', [ 'hook', 'posthog' ]);
track('rt.only_hook', 2);
ok(deliver_all(), 'delivered after the new version');
$got = received();
is($got->{posthog}{'rt.only_hook'} // 0, 2, 'the new routing: posthog receives the new events only');
is($got->{hook}{'rt.only_hook'} // 0, 2, 'and the webhook still does');

$node->stop;
$sink->stop;
done_testing();
