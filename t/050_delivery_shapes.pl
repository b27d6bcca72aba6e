# Provider delivery: the exact request each provider type receives, secrets,
# rolled-back and out-of-order transactions (with telemetry_deliver(), the
# same pass the worker runs, in the caller's transaction).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use Digest::SHA qw(hmac_sha256);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;

$ENV{TELEMETRY_TEST_SEGMENT_KEY} = 'seg-write-key';
my $node = PostgreSQL::Test::Cluster->new('delivery_shapes');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
max_prepared_transactions = 4
telemetry.allowed_env = 'TELEMETRY_TEST_SEGMENT_KEY'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

# A spec with one event and the given providers.
sub register
{
	my ($key, $providers) = @_;
	my $spec = encode_json({
		meta => { key => $key, version => '1.0.0' },
		config => { providers => $providers },
		events => [ {
			key => "$key.happened", version => '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => { n => { type => 'number' }, s => { type => 'string' } } } ] });
	$node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
}

# Store an event directly, as telemetry_track would (dated long before it
# was received, so it is late and also copied to telemetry.late_events,
# where delivery finds it); returns its id.
sub store
{
	my ($key, $props, $context) = @_;
	$props = encode_json($props // { n => 1 });
	$context = encode_json($context // {});
	return $node->safe_psql('app', qq{
		WITH e AS (
			INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties, context)
			VALUES (gen_random_uuid(), '$key.happened', '1.0.0', '$key',
				'2026-03-01 12:34:56.789+00', '$props', '$context') RETURNING *),
		late AS (INSERT INTO telemetry.late_events SELECT * FROM e WHERE telemetry._is_late(e.occurred_at, e.received_at))
		SELECT id FROM e});
}

sub deliver { return $node->safe_psql('app', 'SELECT telemetry_deliver()'); }

sub requests_to
{
	my ($path) = @_;
	return grep { $_->{path} eq $path } $sink->requests;
}

# ---- PostHog ----
$node->safe_psql('app', "SELECT telemetry_set_secret('ph_key', 'phc_secret_key', ARRAY['127.0.0.1'])");
register('ph', [ { type => 'posthog', config => { projectApiKey => { secret => 'ph_key' }, host => "$url/ph" } } ]);
my $ph1 = store('ph', { n => 1, s => 'a' }, { userId => 'user-1', sessionId => 'sess-1' });
my $ph2 = store('ph', { n => 2 }, { sessionId => 'sess-2' });
my $ph3 = store('ph', { n => 3 }, {});
is(deliver(), '3', 'telemetry_deliver returns the number of events delivered');

my @ph = requests_to('/ph/batch/');
is(scalar @ph, 1, 'posthog: one batch request');
is($ph[0]{method}, 'POST', 'posthog: POST');
is($ph[0]{headers}{'content-encoding'}, 'gzip', 'posthog: gzip content encoding');
is($ph[0]{headers}{'content-type'}, 'application/json', 'posthog: JSON content type');
my $raw;
gunzip(\$ph[0]{body} => \$raw) or die "gunzip: $GunzipError";
my $body = decode_json($raw);
is($body->{api_key}, 'phc_secret_key', 'posthog: api_key from the named secret');
ok(!exists $body->{sent_at}, 'posthog: no sent_at');
is(scalar @{ $body->{batch} }, 3, 'posthog: three events in the batch');
my %by_uuid = map { $_->{uuid} => $_ } @{ $body->{batch} };
is_deeply([ sort keys %{ $by_uuid{$ph1} } ], [qw(distinct_id event properties timestamp uuid)],
	'posthog: item has exactly event, distinct_id, properties, timestamp, uuid');
is($by_uuid{$ph1}{event}, 'ph.happened', 'posthog: event name');
is($by_uuid{$ph1}{distinct_id}, 'user-1', 'posthog: distinct_id from context.userId');
is($by_uuid{$ph2}{distinct_id}, 'sess-2', 'posthog: distinct_id from context.sessionId');
is($by_uuid{$ph3}{distinct_id}, "telemetry:$ph3", 'posthog: distinct_id derived from the event id');
is($by_uuid{$ph1}{timestamp}, '2026-03-01T12:34:56.789000Z', 'posthog: timestamp is occurred_at in UTC');
is_deeply($by_uuid{$ph1}{properties}, { n => 1, s => 'a', version => '1.0.0', spec => 'ph' },
	'posthog: properties plus version and spec');

# ---- Segment, key from the server's environment ----
register('seg', [ { type => 'segment', config => { writeKey => { env => 'TELEMETRY_TEST_SEGMENT_KEY' }, host => "$url/seg/" } } ]);
my $sg1 = store('seg', { n => 1 }, { userId => 'user-1', sessionId => 'sess-1' });
my $sg2 = store('seg', { n => 2 }, { sessionId => 'sess-2' });
my $sg3 = store('seg', { n => 3 }, {});
deliver();
my @sg = requests_to('/seg/v1/batch');
is(scalar @sg, 1, 'segment: one request to {host}/v1/batch');
is($sg[0]{headers}{authorization}, 'Basic ' . encode_base64('seg-write-key:', ''),
	'segment: basic auth with writeKey and an empty password');
$body = decode_json($sg[0]{body});
my %sg = map { $_->{messageId} => $_ } @{ $body->{batch} };
is(scalar keys %sg, 3, 'segment: messageId is the event id');
is($sg{$sg1}{type}, 'track', 'segment: track call');
is($sg{$sg1}{userId}, 'user-1', 'segment: userId from context.userId');
is($sg{$sg2}{anonymousId}, 'sess-2', 'segment: anonymousId from context.sessionId');
ok(!exists $sg{$sg2}{userId}, 'segment: no userId without context.userId');
is($sg{$sg3}{anonymousId}, "telemetry:$sg3", 'segment: anonymousId derived from the event id');
is($sg{$sg1}{timestamp}, '2026-03-01T12:34:56.789000Z', 'segment: timestamp');
is($sg{$sg1}{properties}{spec}, 'seg', 'segment: properties carry the spec');
# the body, byte for byte as the SQL rendering of earlier versions made it
my $items = $node->safe_psql('app', q{
	SELECT string_agg((pg_catalog.jsonb_build_object('type', 'track', 'event', e.event,
		'properties', (e.properties || pg_catalog.jsonb_build_object('version', e.version, 'spec', e.spec)),
		'timestamp', pg_catalog.to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'messageId', e.id) || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		'userId', (e.context ->> 'userId'),
		'anonymousId', CASE WHEN (e.context ->> 'userId') IS NULL
			THEN COALESCE((e.context ->> 'sessionId'), ('telemetry:' || e.id::text))
			ELSE (e.context ->> 'sessionId') END)))::text, ',' ORDER BY e.xid, e.id)
	FROM telemetry.events e WHERE e.spec = 'seg'});
is($sg[0]{body}, "{\"batch\":[$items]}", 'segment: the body is byte for byte what it was');

# ---- Webhook (Standard Webhooks) ----
my $key = join '', map { chr(int(rand(256))) } 1 .. 32;
my $whsec = 'whsec_' . encode_base64($key, '');
$node->safe_psql('app', "SELECT telemetry_set_secret('hook_secret', '$whsec', ARRAY['127.0.0.1'])");
register('wh', [ { type => 'webhook', config => { url => "$url/hook", secret => { secret => 'hook_secret' },
	headers => { 'X-Team' => 'growth' } } } ]);
my $wh1 = store('wh', { n => 7, s => 'x' }, { userId => 'u7' });
deliver();
my @wh = requests_to('/hook');
is(scalar @wh, 1, 'webhook: one request');
my $h = $wh[0]{headers};
is($h->{'webhook-id'}, $wh1, 'webhook: webhook-id is the event id for a one-event batch');
like($h->{'webhook-timestamp'}, qr/^\d{10}$/, 'webhook: unix timestamp');
ok(abs($h->{'webhook-timestamp'} - time) < 300, 'webhook: timestamp is now');
my $expected = 'v1,' . encode_base64(hmac_sha256("$h->{'webhook-id'}.$h->{'webhook-timestamp'}.$wh[0]{body}", $key), '');
is($h->{'webhook-signature'}, $expected, 'webhook: signature verifies with the whsec_ key');
is($h->{'x-team'}, 'growth', 'webhook: configured header sent');
$body = decode_json($wh[0]{body});
is($body->{type}, 'telemetry.events', 'webhook: body type');
is($body->{data}[0]{id}, $wh1, 'webhook: event id in data');
is_deeply($body->{data}[0]{properties}, { n => 7, s => 'x' }, 'webhook: stored properties');
is($body->{data}[0]{context}{userId}, 'u7', 'webhook: context');

# ---- OpenTelemetry ----
register('ot', [ { type => 'opentelemetry', config => { endpoint => "$url/otel", serviceName => 'shop-db',
	headers => { Authorization => 'Bearer t0k' } } } ]);
my $ot1 = store('ot', { n => 5, s => 'y', ok => JSON::PP::true }, { userId => 'u5' });
deliver();
my @ot = requests_to('/otel/v1/logs');
is(scalar @ot, 1, 'otel: one request to {endpoint}/v1/logs');
is($ot[0]{headers}{authorization}, 'Bearer t0k', 'otel: configured header sent');
$body = decode_json($ot[0]{body});
my $rl = $body->{resourceLogs}[0];
is_deeply($rl->{resource}{attributes}, [ { key => 'service.name', value => { stringValue => 'shop-db' } } ],
	'otel: service.name resource attribute');
my $rec = $rl->{scopeLogs}[0]{logRecords}[0];
is($rec->{timeUnixNano}, '1772368496789000000', 'otel: timeUnixNano is occurred_at');
is($rec->{body}{stringValue}, 'ot.happened', 'otel: body is the event name');
my %attr = map { $_->{key} => $_->{value} } @{ $rec->{attributes} };
is($attr{'event.id'}{stringValue}, $ot1, 'otel: event.id attribute');
is($attr{'user.id'}{stringValue}, 'u5', 'otel: user.id attribute');
is($attr{'telemetry.property.n'}{doubleValue}, 5, 'otel: numeric property as doubleValue');
is($attr{'telemetry.property.s'}{stringValue}, 'y', 'otel: string property as stringValue');
ok($attr{'telemetry.property.ok'}{boolValue}, 'otel: boolean property as boolValue');

# ---- internal providers are never sent; nothing is sent twice ----
$sink->clear;
register('in', [ { type => 'internal' } ]);
store('in');
is(deliver(), '0', 'nothing left to deliver');
is($sink->count, 0, 'internal provider: no request, and delivered events are not sent again');

# ---- status view ----
is($node->safe_psql('app', q{SELECT string_agg(provider || ':' || delivered || ':' || pending || ':' || dead, ',' ORDER BY provider)
	FROM telemetry.delivery_status}),
	'ot/opentelemetry:1:0:0,ph/posthog:3:0:0,seg/segment:3:0:0,wh/webhook:1:0:0',
	'delivery_status: delivered and pending per provider');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_history WHERE outcome = 'delivered'}), '4',
	'delivery_history: one row per request');

# ---- secrets are the owner's ----
$node->safe_psql('app', 'CREATE ROLE app_user LOGIN');
my ($rc, $out, $err) = $node->psql('app', "SET ROLE app_user; SELECT telemetry_set_secret('x', 'y')");
like($err, qr/permission denied/, 'telemetry_set_secret: not callable by other roles');
($rc, $out, $err) = $node->psql('app', "SET ROLE app_user; SELECT value FROM telemetry.secrets");
like($err, qr/permission denied/, 'secrets table: not readable by other roles');
($rc, $out, $err) = $node->psql('app', "SET ROLE app_user; SELECT telemetry_deliver()");
like($err, qr/permission denied/, 'telemetry_deliver: not callable by other roles');
is($node->safe_psql('app', "SET ROLE app_user; SELECT count(*) FROM telemetry.delivery_status"), '4',
	'delivery_status: readable by everyone');
unlike($node->safe_psql('app', "SELECT s::text FROM telemetry.delivery_status s"),
	qr/phc_secret_key|seg-write-key/, 'delivery_status: shows no secret');

# ---- a rolled-back transaction's events never arrive ----
$sink->clear;
$node->safe_psql('app', q{
	BEGIN;
	INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	VALUES ('00000000-0000-4000-8000-00000000dead', 'ph.happened', '1.0.0', 'ph', now());
	ROLLBACK;});
my $after = store('ph', { n => 9 });
deliver();
my @all = map { gunzip(\$_->{body} => \my $r); @{ decode_json($r)->{batch} } } requests_to('/ph/batch/');
is_deeply([ map { $_->{uuid} } @all ], [$after], 'rolled-back event never sent; the committed one is');

# ---- out-of-order commits: T1 tracks, T2 tracks and commits, delivery, T1 commits ----
$sink->clear;
my $t1 = $node->background_psql('app');
$t1->query_safe(q{BEGIN; INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	VALUES ('11111111-1111-4111-8111-111111111111', 'ph.happened', '1.0.0', 'ph', now())});
my $t2id = store('ph', { n => 2 });
deliver();
$t1->query_safe('COMMIT');
$t1->quit;
deliver();
@all = map { gunzip(\$_->{body} => \my $r); @{ decode_json($r)->{batch} } } requests_to('/ph/batch/');
my %got = map { $_->{uuid} => 1 } @all;
ok($got{'11111111-1111-4111-8111-111111111111'}, 'out of order: T1 (committed last) delivered');
ok($got{$t2id}, 'out of order: T2 delivered');

# ---- prepared transactions hold the horizon too ----
$sink->clear;
$node->safe_psql('app', q{BEGIN; INSERT INTO telemetry.events (id, event, version, spec, occurred_at)
	VALUES ('22222222-2222-4222-8222-222222222222', 'ph.happened', '1.0.0', 'ph', now());
	PREPARE TRANSACTION 'p1'});
my $later = store('ph', { n => 3 });
deliver();
$node->safe_psql('app', "COMMIT PREPARED 'p1'");
deliver();
@all = map { gunzip(\$_->{body} => \my $r); @{ decode_json($r)->{batch} } } requests_to('/ph/batch/');
%got = map { $_->{uuid} => 1 } @all;
ok($got{'22222222-2222-4222-8222-222222222222'} && $got{$later},
	'prepared transaction committed later: both events delivered');

$node->stop;
$sink->stop;
done_testing();
