# Provider delivery when providers fail: retries with backoff and
# Retry-After, network errors, dead letters and requeueing them, 413 splits,
# 410 disabling a webhook, telemetry.max_delivery_age, oversized events,
# unresolvable secrets, and a provider down for a while then back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Time::HiRes qw(sleep);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;

my $node = PostgreSQL::Test::Cluster->new('delivery_failures');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');
my $whsec = 'whsec_' . encode_base64('0123456789abcdef0123456789abcdef', '');
$node->safe_psql('app', "SELECT telemetry_set_secret('hook', '$whsec', ARRAY['127.0.0.1'])");

# A spec "$key" with one provider; events are "$key.happened".
sub register
{
	my ($key, $type, $config) = @_;
	my $spec = encode_json({
		meta => { key => $key, version => '1.0.0' },
		config => { providers => [ { type => $type, name => $key, config => $config } ] },
		events => [ {
			key => "$key.happened", version => '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => { n => { type => 'number' }, s => { type => 'string' } } } ] });
	$node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
}

sub store
{
	my ($key, $n, $props) = @_;
	$props //= '{"n": 1}';
	return $node->safe_psql('app', qq{
		INSERT INTO telemetry.events (id, event, version, spec, occurred_at, properties)
		SELECT gen_random_uuid(), '$key.happened', '1.0.0', '$key', now(), '$props'
		FROM generate_series(1, ${\ ($n // 1)}) RETURNING id});
}

sub deliver { return $node->safe_psql('app', 'SELECT telemetry_deliver()'); }

sub status
{
	my ($key, $col) = @_;
	return $node->safe_psql('app', "SELECT $col FROM telemetry.delivery_status WHERE provider = '$key/$key'");
}

# Wait until the provider's next attempt is due (backoff over).
sub wait_due
{
	my ($key) = @_;
	$node->poll_query_until('app',
		"SELECT coalesce(next_attempt <= now(), true) FROM telemetry.delivery_status WHERE provider = '$key/$key'")
	  or die "provider $key never became due";
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

# ---- 503 then 200: retried after a backoff, with the same id ----
register('rt', 'webhook', { url => "$url/rt", secret => { secret => 'hook' } });
$sink->script({ status => 503 }, { status => 503 }, { status => 503 });
my $rt = store('rt');
is(deliver(), '0', '503: nothing delivered');
is(status('rt', 'retrying'), '1', '503: event is retrying');
like(status('rt', 'last_error'), qr/^HTTP 503/, '503: last_error has the status');
my $gap1 = status('rt', 'extract(epoch FROM next_attempt - last_error_at)');
ok($gap1 >= 0.5 && $gap1 <= 1.1, "first retry after 0.5 to 1 s (base 1 s with jitter): $gap1");
wait_due('rt');
deliver();
my $gap2 = status('rt', 'extract(epoch FROM next_attempt - last_error_at)');
ok($gap2 >= 1 && $gap2 <= 2.1, "second retry after 1 to 2 s: $gap2");
wait_due('rt');
deliver();
my $gap3 = status('rt', 'extract(epoch FROM next_attempt - last_error_at)');
ok($gap3 >= 2 && $gap3 <= 4.1, "third retry after 2 to 4 s: $gap3");
is(status('rt', 'consecutive_failures'), '3', 'three consecutive failures');
wait_due('rt');
is(deliver(), '1', 'delivered once the provider answers 200');
my @rt = requests_to('/rt');
is(scalar @rt, 4, 'four attempts in all');
is_deeply([ map { $_->{headers}{'webhook-id'} } @rt ], [ ($rt) x 4 ], 'same webhook-id on every attempt');
is(status('rt', 'concat(retrying, consecutive_failures, dead)'), '000', 'after success: nothing retrying or dead');
is($node->safe_psql('app', q{SELECT string_agg(outcome, ',' ORDER BY id) FROM telemetry.delivery_history WHERE provider = 'rt'}),
	'retry,retry,retry,delivered', 'history records every attempt');

# ---- 429 with Retry-After ----
register('ra', 'posthog', { projectApiKey => 'k', host => "$url/ra" });
$sink->script({ status => 429, retry_after => 3 });
store('ra');
deliver();
my $gap = status('ra', 'extract(epoch FROM next_attempt - last_error_at)');
ok($gap >= 3, "Retry-After: 3 honoured (next attempt in $gap s)");
deliver();
is(scalar(requests_to('/ra')), 1, 'no new attempt before the scheduled time');
wait_due('ra');
is(deliver(), '1', 'Retry-After: delivered on the next attempt');

# ---- network errors are retried ----
my $closed = PostgreSQL::Test::Cluster::get_free_port();
register('down', 'segment', { writeKey => 'k', host => "http://127.0.0.1:$closed" });
store('down');
deliver();
like(status('down', 'last_error'), qr/^network error/, 'connection refused: network error');
is(status('down', 'retrying'), '1', 'connection refused: retrying');
$node->safe_psql('app', q{UPDATE telemetry.providers SET enabled = false WHERE name = 'down'});

# ---- 400: dead at once, with the start of the body; later events flow ----
register('dl', 'posthog', { projectApiKey => 'k', host => "$url/dl" });
$sink->script({ status => 400, body => 'invalid api key: project not found' });
store('dl', 2);
is(deliver(), '0', '400: nothing delivered');
is(status('dl', 'dead'), '2', '400: both events dead-lettered');
is(status('dl', 'retrying'), '0', '400: nothing retrying');
is($node->safe_psql('app', q{SELECT DISTINCT status || ' ' || error FROM telemetry.delivery_failures WHERE provider = 'dl'}),
	'400 HTTP 400: invalid api key: project not found', 'dead letter keeps the status and the start of the body');
store('dl', 1);
is(deliver(), '1', 'the cursor moved past the dead letters');
is(scalar(requests_to('/dl')), 2, 'dead letters are not resent by themselves');
is($node->safe_psql('app', q{SELECT telemetry_retry_dead_letters('dl/dl')}), '2', 'two dead letters requeued');
is(status('dl', 'retrying'), '2', 'requeued dead letters count as retrying');
is(deliver(), '2', 'requeued dead letters delivered');
is(status('dl', 'concat(dead, retrying, delivered)'), '003', 'no dead letter left; three delivered');
my ($rc, $out, $err) = $node->psql('app', q{SELECT telemetry_retry_dead_letters('nope')});
like($err, qr/provider "nope" does not exist/, 'retry_dead_letters: unknown provider is an error');

# ---- 413: the batch is split ----
register('big', 'posthog', { projectApiKey => 'k', host => "$url/big" });
$sink->script({ status => 413 });
my @big = split /\n/, store('big', 4);
is(deliver(), '4', '413: all four delivered after the split');
my @reqs = requests_to('/big');
is_deeply([ map { scalar ids_in($_) } @reqs ], [ 4, 2, 2 ], '413: 4 events, then two halves of 2');
is_deeply([ sort map { ids_in($_) } @reqs[1, 2] ], [ sort @big ], '413: the halves carry every event');
$sink->script({ status => 413 }, { status => 413 });
store('big', 2);
deliver();
is(status('big', 'dead'), '1', '413 for a single event: dead');
is(status('big', 'delivered'), '5', '413: the other half delivered');
is($node->safe_psql('app', q{SELECT telemetry_retry_dead_letters('big')}), '1', 'requeue by bare provider name');
$node->safe_psql('app', q{DELETE FROM telemetry.events e USING telemetry.delivery_failures f
	WHERE f.provider = 'big' AND e.id = f.event_id});
is(deliver(), '0', 'a requeued event removed meanwhile is not sent');
is($node->safe_psql('app', q{SELECT state || ': ' || error FROM telemetry.delivery_failures WHERE provider = 'big'}),
	'dead: the event is no longer stored (expired before it could be sent again)',
	'a requeued event removed meanwhile is dead again, with the reason');

# ---- 410 from a webhook disables it ----
register('gone', 'webhook', { url => "$url/gone", secret => { secret => 'hook' } });
$sink->script({ status => 410 });
store('gone');
deliver();
is(status('gone', 'enabled'), 'f', '410: webhook provider disabled');
like(status('gone', 'disabled_reason'), qr/410/, '410: reason recorded');
store('gone');
deliver();
is(scalar(requests_to('/gone')), 1, 'a disabled provider is not called again');
is(status('gone', 'pending'), '2', 'its events stay pending, not lost');

# ---- events older than telemetry.max_delivery_age are dead-lettered ----
register('aged', 'posthog', { projectApiKey => 'k', host => "$url/aged" });
$node->safe_psql('app', q{
	WITH e AS (
		INSERT INTO telemetry.events (id, event, version, spec, occurred_at, received_at)
		VALUES (gen_random_uuid(), 'aged.happened', '1.0.0', 'aged', now() - interval '2 days', now() - interval '2 days')
		RETURNING *)
	-- received before the provider's floor: delivery finds it among the late copies
	INSERT INTO telemetry.late_events SELECT * FROM e});
store('aged');
$sink->script({ status => 500 });
deliver();
is(status('aged', 'dead'), '1', 'max_delivery_age: the event stored 2 days ago is dead after failing');
like($node->safe_psql('app', q{SELECT error FROM telemetry.delivery_failures WHERE provider = 'aged'}),
	qr/HTTP 500.*max_delivery_age/, 'max_delivery_age: the reason says so');
is(status('aged', 'retrying'), '1', 'max_delivery_age: the recent event is still retrying');
wait_due('aged');
is(deliver(), '1', 'max_delivery_age: the recent event delivered later');

# ---- an event over the provider's size limit is dead, the others flow ----
register('sz', 'segment', { writeKey => 'k', host => "$url/sz" });
store('sz', 1, encode_json({ s => 'x' x 40000 }));
store('sz', 2);
is(deliver(), '2', 'oversized segment event skipped, others delivered');
like($node->safe_psql('app', q{SELECT error FROM telemetry.delivery_failures WHERE provider = 'sz'}),
	qr/more than the 32768 bytes segment accepts/, 'oversized event dead-lettered with the reason');
is(scalar(requests_to('/sz')), 1, 'the oversized event was never sent');

# ---- a missing secret: retried (never sent), then sent once set ----
# (registration needs the secret; the owner then removes it)
$node->safe_psql('app', "SELECT telemetry_set_secret('later', '$whsec', ARRAY['127.0.0.1'])");
register('sec', 'webhook', { url => "$url/sec", secret => { secret => 'later' } });
$node->safe_psql('app', "DELETE FROM telemetry.secrets WHERE name = 'later'");
store('sec');
deliver();
like(status('sec', 'last_error'), qr/^provider config: secret: secret "later" is not set/, 'missing secret: clear error');
is(scalar(requests_to('/sec')), 0, 'missing secret: nothing sent');
$node->safe_psql('app', "SELECT telemetry_set_secret('later', '$whsec', ARRAY['127.0.0.1'])");
wait_due('sec');
is(deliver(), '1', 'secret set: delivered');
unlike($node->safe_psql('app', q{SELECT string_agg(coalesce(error, ''), ' ') FROM telemetry.delivery_history}),
	qr/0123456789abcdef|whsec_/, 'no secret value in any recorded error');

# ---- a provider down for a while receives the whole backlog when back ----
$node->safe_psql('app', q{ALTER SYSTEM SET telemetry.batch_size = 100; SELECT pg_reload_conf()});
register('back', 'posthog', { projectApiKey => 'k', host => "$url/back" });
my %backlog = map { $_ => 1 } split /\n/, store('back', 250);
$sink->set_default(status => 503);
deliver();
is(status('back', 'delivered'), '0', 'provider down: nothing delivered');
is(status('back', 'pending'), '250', 'provider down: the backlog waits in the database');
$sink->set_default(status => 200);
my $rounds = 0;
while (status('back', 'pending') > 0 && $rounds++ < 40)
{
	wait_due('back');
	deliver();
}
is(status('back', 'delivered'), '250', 'provider back: the whole backlog delivered');
my %got = map { $_ => 1 } map { ids_in($_) } grep { $_->{status} == 200 } requests_to('/back');
is_deeply([ sort keys %got ], [ sort keys %backlog ], 'provider back: every event of the backlog received');
ok((grep { scalar(ids_in($_)) > 100 } requests_to('/back')) == 0, 'batches hold at most telemetry.batch_size events');

$node->stop;
$sink->stop;
done_testing();
