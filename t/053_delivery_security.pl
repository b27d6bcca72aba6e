# Delivery security (issue 10, findings 3, 4 and 10): the destination policy
# (telemetry.allowed_destinations) at registration and at connect time, no
# proxy from the server's environment, response bodies and transport errors
# for the owner only, secrets and environment variables only where the owner
# allows them, a new provider starting at the current horizon, and history
# sent again only by the owner's telemetry_replay().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;
my $port = $sink->port;
# a proxy named by the server's environment must not be used
my $proxy = HttpSink->new;
$ENV{http_proxy} = $ENV{HTTP_PROXY} = $ENV{https_proxy} = $ENV{ALL_PROXY} = $proxy->url;
$ENV{TELEMETRY_TEST_ENV_KEY} = 'env-write-key';

my $node = PostgreSQL::Test::Cluster->new('delivery_security');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
});
$node->start;
delete $ENV{$_} for qw(http_proxy HTTP_PROXY https_proxy ALL_PROXY);
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
$node->safe_psql('app', 'CREATE ROLE app_user LOGIN');
my $whsec = 'whsec_' . encode_base64('0123456789abcdef0123456789abcdef', '');

# Set telemetry.allowed_destinations (or another setting) and reload.
sub set_conf
{
	my ($name, $value) = @_;
	$node->safe_psql('app', "ALTER SYSTEM SET $name = '$value'");
	$node->reload;
	$node->poll_query_until('app', "SELECT current_setting('$name') = '$value'")
	  or die "$name never became '$value'";
}

# A named secret and the hosts it may be sent to ('{a,b}').
sub set_secret
{
	my ($name, $value, $hosts) = @_;
	$node->safe_psql('app', "SELECT telemetry_set_secret('$name', '$value', '$hosts')");
}

sub spec_json
{
	my ($key, $providers) = @_;
	return encode_json({
		meta => { key => $key, version => '1.0.0' },
		config => { providers => $providers },
		events => [ {
			key => "$key.happened", version => '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => { n => { type => 'number' } } } ] });
}

sub register
{
	my ($key, $providers) = @_;
	return $node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$" . spec_json($key, $providers) . "\$j\$::jsonb)");
}

# Try to register; returns the SQLSTATE ('' when it worked).
sub try_register
{
	my ($key, $providers) = @_;
	my ($rc, $out, $err) = $node->psql('app',
		"\\set VERBOSITY sqlstate\nSELECT telemetry_register_spec(\$j\$" . spec_json($key, $providers) . "\$j\$::jsonb)");
	return $rc == 0 ? '' : ($err =~ /ERROR:\s+(\w{5})/ ? $1 : $err);
}

sub store
{
	my ($key, $at) = @_;
	$at //= 'now()';
	# as telemetry_track would: a late event is also copied to late_events
	return $node->safe_psql('app', qq{
		WITH e AS (
			INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
			VALUES (gen_random_uuid(), '$key.happened', '1.0.0', '$key', $at, '{"n": 1}') RETURNING *),
		late AS (INSERT INTO telemetry.late_events SELECT * FROM e WHERE telemetry._is_late(e.occurred_at, e.received_at))
		SELECT id FROM e});
}

sub deliver { return $node->safe_psql('app', 'SELECT telemetry_deliver()'); }

sub status
{
	my ($prov, $col, $role) = @_;
	my $set = $role ? "SET ROLE $role; " : '';
	return $node->safe_psql('app', "${set}SELECT $col FROM telemetry.delivery_status WHERE provider = '$prov'");
}

sub ids_in
{
	my ($req) = @_;
	my $body = $req->{body};
	if (($req->{headers}{'content-encoding'} // '') eq 'gzip')
	{
		gunzip(\$req->{body} => \$body) or die $GunzipError;
	}
	my $j = decode_json($body);
	return map { $_->{uuid} // $_->{messageId} // $_->{id} } @{ $j->{batch} // $j->{data} };
}

sub requests_to { my ($p) = @_; return grep { index($_->{path}, $p) == 0 } $sink->requests; }

sub hook { my ($u) = @_; return [ { type => 'webhook', config => { url => $u, secret => $whsec } } ]; }

# ---- registration: non-public destinations only when listed (finding 4) ----
my @ssrf = ('http://169.254.169.254/latest/meta-data/', 'http://[::1]:5432/', 'http://localhost:8500/',
	'http://2130706433/', 'http://0x7f.0.0.1/', 'http://[::ffff:127.0.0.1]/');
my $i = 0;
for my $u (@ssrf)
{
	is(try_register('ssrf' . $i++, hook($u)), '42501', "registration refuses $u (42501)");
}
is(try_register('public', hook('https://hooks.example.com/t')), '', 'registration accepts a public destination');
set_conf('telemetry.allowed_destinations', '169.254.169.254, ::1, localhost, 127.0.0.1');
for my $u (@ssrf)
{
	is(try_register('ssrf' . $i++, hook($u)), '', "registration accepts $u once listed");
}
is(try_register('ssrf' . $i++, hook('http://127.0.0.2/')), '42501', 'a listed address allows only itself');
set_conf('telemetry.allowed_destinations', '127.0.0.0/8');
is(try_register('ssrf' . $i++, hook('http://0177.0.0.2/')), '', 'a listed range allows its addresses, in any spelling');
is(try_register('ssrf' . $i++, hook('http://localhost/')), '42501', 'a range allows no host name');
$node->safe_psql('app', q{DELETE FROM telemetry.specs WHERE key LIKE 'ssrf%' OR key = 'public'});

# ---- connect time: the resolved address decides (DNS rebinding) ----
# curl resolves *.localhost to loopback itself, without /etc/hosts or DNS.
set_conf('telemetry.allowed_destinations', 'sink.localhost');
set_secret('hook', $whsec, '{sink.localhost,127.0.0.1}');
register('rb', [ { type => 'webhook', config => { url => "http://sink.localhost:$port/rb", secret => { secret => 'hook' } } } ]);
my $rb1 = store('rb');
is(deliver(), '1', 'a listed host name is reached, whatever it resolves to');
is_deeply([ map { ids_in($_) } requests_to('/rb') ], [$rb1], 'the event arrived');
is($proxy->count, 0, 'no request went through the proxy of the server environment');
# the name is no longer listed: it resolves to 127.0.0.1 (and ::1), which are not
set_conf('telemetry.allowed_destinations', '10.0.0.0/8');
store('rb');
is(deliver(), '0', 'connect time: a name resolving to a loopback address is refused');
is(scalar(requests_to('/rb')), 1, 'connect time: nothing was sent');
like($node->safe_psql('app', q{SELECT error FROM telemetry.delivery_history WHERE provider = 'webhook' AND spec_key = 'rb' ORDER BY id DESC LIMIT 1}),
	qr/^destination not allowed: (127\.0\.0\.1|::1) is a loopback address \(telemetry\.allowed_destinations\)$/,
	'connect time: the owner sees the address and why, naming the setting');
is(status('rb/webhook', 'last_error', 'app_user'), 'destination not allowed (telemetry.allowed_destinations)',
	'connect time: everyone sees the setting named');
is(status('rb/webhook', 'retrying'), '1', 'connect time: the event waits (retried)');
set_conf('telemetry.allowed_destinations', '127.0.0.1');
$node->safe_psql('app', q{UPDATE telemetry.delivery_state SET next_attempt_at = NULL WHERE spec_key = 'rb'});
is(deliver(), '1', 'an address listed later: the name resolves to it and the event is delivered');

# ---- response bodies and transport errors are the owner's (finding 4) ----
set_secret('ph_key', 'phc_key', '{127.0.0.1}');
register('bd', [ { type => 'posthog', config => { projectApiKey => { secret => 'ph_key' }, host => "$url/bd" } } ]);
$sink->script({ status => 400, body => 'BODY-SECRET-9f2c internal detail' });
store('bd');
deliver();
is(status('bd/posthog', 'last_error', 'app_user'), 'HTTP 400', 'PUBLIC sees the status code, no response body');
unlike($node->safe_psql('app', 'SET ROLE app_user; SELECT s::text FROM telemetry.delivery_status s'),
	qr/BODY-SECRET/, 'no response body anywhere in delivery_status');
like($node->safe_psql('app', q{SELECT error FROM telemetry.delivery_history WHERE spec_key = 'bd'}),
	qr/^HTTP 400: BODY-SECRET-9f2c/, 'the owner reads the body in delivery_history');
my ($rc, $out, $err) = $node->psql('app', 'SET ROLE app_user; SELECT error FROM telemetry.delivery_history');
like($err, qr/permission denied/, 'delivery_history is not readable by PUBLIC');
($rc, $out, $err) = $node->psql('app', 'SET ROLE app_user; SELECT error FROM telemetry.delivery_failures');
like($err, qr/permission denied/, 'delivery_failures is not readable by PUBLIC');

my $closed = PostgreSQL::Test::Cluster::get_free_port();
register('scan', [ { type => 'posthog', config => { projectApiKey => { secret => 'ph_key' }, host => "http://127.0.0.1:$closed" } } ]);
store('scan');
deliver();
my $public = status('scan/posthog', 'last_error', 'app_user');
like($public, qr/^network error/, 'a closed port: PUBLIC sees a network error');
unlike($public, qr/refused|connect|port|timed? ?out/i, 'a closed port: and no transport detail (no port scanner)');
like($node->safe_psql('app', q{SELECT error FROM telemetry.delivery_history WHERE spec_key = 'scan'}),
	qr/^network error: Couldn't connect/, 'a closed port: the owner sees the transport error');
$node->safe_psql('app', q{UPDATE telemetry.providers SET enabled = false WHERE spec_key = 'scan'});

# ---- secrets go only to their hosts; environment only when listed (finding 3) ----
register('sec', [ { type => 'posthog', config => { projectApiKey => { secret => 'ph_key' }, host => "$url/sec" } } ]);
store('sec');
is(deliver(), '1', 'a secret whose hosts include the destination is used');
set_secret('ph_key', 'phc_key', '{*.example.com,127.0.0.2}');
store('sec');
is(deliver(), '0', 'a secret whose hosts do not include the destination: nothing sent');
is(scalar(requests_to('/sec')), 1, 'the secret never left');
is(status('sec/posthog', 'last_error', 'app_user'),
	q{provider config: projectApiKey: secret "ph_key" may not be sent to this provider's host (not in the secret's hosts)},
	'the provider gets a config error naming the setting and the secret');
set_secret('ph_key', 'phc_key', '{*.0.0.1}');
$node->safe_psql('app', q{UPDATE telemetry.delivery_state SET next_attempt_at = NULL WHERE spec_key = 'sec'});
is(deliver(), '1', 'hosts "*.suffix" match names ending in ".suffix"');

# header values too
set_secret('tok', 'Bearer t0k-secret', '{127.0.0.1}');
register('hdr', [ { type => 'opentelemetry', config => { endpoint => "$url/hdr", headers => { Authorization => { secret => 'tok' } } } } ]);
set_secret('tok', 'Bearer t0k-secret', '{hooks.example.com}');
store('hdr');
is(deliver(), '0', 'a header secret for another host: nothing sent');
like(status('hdr/opentelemetry', 'last_error'), qr/^provider config: headers\.Authorization: secret "tok" may not be sent/,
	'a header secret for another host: config error naming the header');
is(scalar(requests_to('/hdr')), 0, 'the header secret never left');

# a URL given as a secret reference resolves to the secret's value
set_secret('hook_url', "$url/via-secret", '{127.0.0.1}');
register('su', [ { type => 'webhook', config => { url => { secret => 'hook_url' }, secret => { secret => 'hook' } } } ]);
my $su = store('su');
is(deliver(), '1', 'a secret URL: delivered');
is_deeply([ map { ids_in($_) } requests_to('/via-secret') ], [$su], "a secret URL: sent to the secret's value");
# (telemetry_set_secret refuses such a secret: the table is changed directly)
$node->safe_psql('app', q{UPDATE telemetry.secrets SET hosts = '{api.segment.io}' WHERE name = 'hook_url'});
store('su');
is(deliver(), '0', "a secret URL whose host is not in the secret's hosts: nothing sent");
like(status('su/webhook', 'last_error'), qr/^provider config: url: secret "hook_url" holds a URL whose host is not in the secret's hosts$/,
	'a secret URL: config error, without the URL');

# environment variables: only those listed in telemetry.allowed_env
set_conf('telemetry.allowed_env', 'TELEMETRY_TEST_ENV_KEY');
register('env', [ { type => 'segment', config => { writeKey => { env => 'TELEMETRY_TEST_ENV_KEY' }, host => "$url/env" } } ]);
set_conf('telemetry.allowed_env', '');
store('env');
is(deliver(), '0', 'an environment variable not in telemetry.allowed_env: nothing sent');
is(status('env/segment', 'last_error', 'app_user'),
	'provider config: writeKey: environment variable "TELEMETRY_TEST_ENV_KEY" is not listed in telemetry.allowed_env',
	'an unlisted environment variable: config error naming the setting');
set_conf('telemetry.allowed_env', 'OTHER, TELEMETRY_TEST_ENV_KEY');
$node->safe_psql('app', q{UPDATE telemetry.delivery_state SET next_attempt_at = NULL WHERE spec_key = 'env'});
is(deliver(), '1', 'a listed environment variable is used');
is((map { $_->{headers}{authorization} } requests_to('/env'))[0] // '', 'Basic ' . encode_base64('env-write-key:', ''),
	'the listed variable is the write key');

# ---- a new provider starts at the current horizon (finding 10) ----
my $before = store('hz');        # stored before spec hz exists
register('hz', [ { type => 'webhook', config => { url => "$url/hz-a", secret => { secret => 'hook' } } } ]);
my $first = store('hz');
deliver();
is_deeply([ map { ids_in($_) } requests_to('/hz-a') ], [$first], 'a new provider sends nothing stored before it existed');
is(status('hz/webhook', 'pending'), '0', 'and counts nothing older as pending');
$node->safe_psql('app', q{SELECT telemetry_unregister_spec('hz', '1.0.0')});
register('hz', [ { type => 'webhook', config => { url => "$url/hz-b", secret => { secret => 'hook' } } } ]);
my $second = store('hz');
deliver();
is_deeply([ map { ids_in($_) } requests_to('/hz-b') ], [$second],
	'registered again with a new webhook: only events stored after that are sent');

# ---- history is sent only by the owner's telemetry_replay ----
$node->safe_psql('app', q{GRANT EXECUTE ON FUNCTION telemetry_replay(text, timestamptz, timestamptz) TO app_user});
($rc, $out, $err) = $node->psql('app',
	q{SET ROLE app_user; SELECT telemetry_replay('hz', now() - interval '1 day', now() + interval '1 day')});
like($err, qr/only the owner of extension telemetry can replay events/, 'replay: refused to a non-owner, even with EXECUTE');
($rc, $out, $err) = $node->psql('app',
	qq{\\set VERBOSITY sqlstate\nSET ROLE app_user; SELECT telemetry_replay('hz', now() - interval '1 day', now() + interval '1 day')});
like($err, qr/42501/, 'replay: 42501');
$node->safe_psql('app', q{CREATE FUNCTION public.sneaky() RETURNS bigint LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT telemetry_replay('hz', now() - interval '1 day', now() + interval '1 day') $$;
	ALTER FUNCTION public.sneaky() OWNER TO app_user});
($rc, $out, $err) = $node->psql('app', q{SELECT public.sneaky()});
like($err, qr/only the owner/, 'replay: a non-owner SECURITY DEFINER function called by the owner is refused too');
($rc, $out, $err) = $node->psql('app', qq{\\set VERBOSITY sqlstate\nSELECT telemetry_replay('nope', now() - interval '1 day', now())});
like($err, qr/42704/, 'replay: an unknown provider is 42704');
($rc, $out, $err) = $node->psql('app', qq{\\set VERBOSITY sqlstate\nSELECT telemetry_replay('hz', now(), now() - interval '1 day')});
like($err, qr/22023/, 'replay: an empty range is 22023');
($rc, $out, $err) = $node->psql('app', qq{\\set VERBOSITY sqlstate\nSELECT telemetry_replay('hz', '-infinity', now())});
like($err, qr/22008/, 'replay: an infinite bound is 22008');

$sink->clear;
is($node->safe_psql('app', q{SELECT telemetry_replay('hz/webhook', now() - interval '1 day', now() + interval '1 day')}),
	'3', 'replay: the owner queues every stored event of the range again (older ones included)');
is(deliver(), '3', 'replay: delivered');
is_deeply([ sort map { ids_in($_) } requests_to('/hz-b') ], [ sort($before, $first, $second) ], 'replay: the same ids, sent again');
is($node->safe_psql('app', q{SELECT events || ' ' || outcome || ' ' || (note LIKE 'replay of the events that occurred from % requested by postgres')
	FROM telemetry.delivery_history WHERE spec_key = 'hz' AND outcome = 'replay'}), '3 replay true', 'replay: recorded in delivery_history');
is(status('hz/webhook', 'concat(retrying, dead)'), '00', 'replay: nothing left retrying');

# PostHog: a replay of events older than a day is a historical migration
my $old = store('ph', q{now() - interval '3 days'});
register('ph', [ { type => 'posthog', config => { projectApiKey => { secret => 'ph_key' }, host => "$url/ph" } } ]);
my $new = store('ph');
deliver();
my @ph = requests_to('/ph');
my $raw;
gunzip(\$ph[0]{body} => \$raw) or die $GunzipError;
ok(!exists decode_json($raw)->{historical_migration}, 'posthog: live events are no historical migration');
$node->safe_psql('app', q{SELECT telemetry_replay('ph/posthog', now() - interval '7 days', now() - interval '1 day')});
deliver();
@ph = requests_to('/ph');
gunzip(\$ph[-1]{body} => \$raw) or die $GunzipError;
my $body = decode_json($raw);
is_deeply([ map { $_->{uuid} } @{ $body->{batch} } ], [$old], 'posthog: the replay sends the old event');
ok($body->{historical_migration}, 'posthog: replaying events older than a day sets historical_migration');

$node->stop;
$sink->stop;
$proxy->stop;
done_testing();
