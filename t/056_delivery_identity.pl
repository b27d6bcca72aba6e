# Identity sent to PostHog and Segment: a masked or dropped identity key is
# never sent as an identity (anonymous events, one id each), a hashed one is
# sent as its pseudonym (stable per user), and registration warns about a
# spec that hides its identity from PostHog or Segment.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;

my $node = PostgreSQL::Test::Cluster->new('delivery_identity');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

# Register a spec with the given context and a PostHog and a Segment
# provider (paths /KEY/ph and /KEY/seg); returns psql's stderr.
sub register
{
	my ($key, $context, %opt) = @_;
	my $providers = $opt{providers} // [
		{ type => 'posthog', config => { projectApiKey => 'phc_k', host => "$url/$key/ph" } },
		{ type => 'segment', config => { writeKey => 'wk', host => "$url/$key/seg" } } ];
	my $spec = encode_json({
		meta => { key => $key, version => '1.0.0' },
		config => { context => $context, providers => $providers },
		events => [ {
			key => "$key.happened", version => '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => { n => { type => 'number' } } } ] });
	my ($stdout, $stderr);
	$node->psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)",
		stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
	return $stderr;
}

# Track an event of a spec with a context; returns its id.
sub track
{
	my ($key, $context) = @_;
	my $c = encode_json($context);
	return $node->safe_psql('app', "SELECT telemetry_track('$key.happened', NULL, '{\"n\": 1}', '$c')");
}

sub deliver { return $node->safe_psql('app', 'SELECT telemetry_deliver()'); }

# The items of every PostHog (gunzipped) or Segment request to a path.
sub items
{
	my ($path) = @_;
	my @items;
	for my $r (grep { $_->{path} eq $path } $sink->requests)
	{
		my $raw = $r->{body};
		if (($r->{headers}{'content-encoding'} // '') eq 'gzip')
		{
			gunzip(\$r->{body} => \$raw) or die "gunzip: $GunzipError";
		}
		push @items, @{ decode_json($raw)->{batch} };
	}
	return @items;
}

# ---- masked identity, two users ----
my $warn = register('mk', { userId => { type => 'string', pii => JSON::PP::true },
	sessionId => { type => 'string' } });
like($warn, qr/WARNING:  spec "mk\@1.0.0" hides its identity key context.userId from providers "posthog", "segment"/,
	'registration warns when a spec with PostHog and Segment providers masks its identity');
like($warn, qr/DETAIL:  The key's redaction is "mask"/, 'the warning names the redaction');
like($warn, qr/HINT:  .*"redaction": "hash"/, 'the warning suggests a hash');

my @mk = (track('mk', { userId => 'alice', sessionId => 's-a' }), track('mk', { userId => 'alice', sessionId => 's-a' }),
	track('mk', { userId => 'bob', sessionId => 's-b' }), track('mk', { userId => 'bob' }));
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.events WHERE spec = 'mk' AND context ->> 'userId' = 'REDACTED'}),
	'4', 'the stored userId is masked');
is(deliver(), '8', 'four events delivered to each provider');

my @ph = items('/mk/ph/batch/');
is(scalar @ph, 4, 'posthog: four items');
my %ids = map { $_->{distinct_id} => 1 } @ph;
is(scalar keys %ids, 4, 'posthog: every item has its own distinct_id');
is(scalar(grep { $_->{distinct_id} eq $_->{uuid} } @ph), 4, 'posthog: distinct_id is the event id');
is(scalar(grep { $_->{distinct_id} =~ /REDACTED|s-a|s-b/ } @ph), 0,
	'posthog: no masked value (nor the sessionId) as distinct_id');
is(scalar(grep { exists $_->{properties}{'$process_person_profile'} && !$_->{properties}{'$process_person_profile'} } @ph), 4,
	'posthog: "$process_person_profile": false on every anonymous item');
is_deeply([ sort map { $_->{uuid} } @ph ], [ sort @mk ], 'posthog: the tracked events');

my @sg = items('/mk/seg/v1/batch');
is(scalar @sg, 4, 'segment: four items');
is(scalar(grep { exists $_->{userId} } @sg), 0, 'segment: no userId');
is(scalar(grep { ($_->{anonymousId} // '') eq $_->{messageId} } @sg), 4, 'segment: anonymousId is the event id');

# ---- dropped identity ----
$sink->clear;
$warn = register('dr', { userId => { type => 'string', redaction => 'drop' } });
like($warn, qr/hides its identity key context.userId .*\n.*redaction is "drop"/, 'registration warns about a dropped identity');
my @dr = (track('dr', { userId => 'alice', sessionId => 'plain-s' }), track('dr', { userId => 'bob' }));
deliver();
@ph = items('/dr/ph/batch/');
is(join(',', sort map { $_->{distinct_id} } @ph), join(',', sort @dr), 'dropped userId: distinct_id is the event id');
@sg = items('/dr/seg/v1/batch');
is(join(',', sort map { $_->{anonymousId} } @sg), join(',', sort @dr), 'dropped userId: segment anonymousId is the event id');

# ---- masked sessionId (no userId declared) ----
$sink->clear;
$warn = register('ms', { sessionId => { type => 'string', redact => JSON::PP::true } });
like($warn, qr/hides its identity key context.sessionId/, 'registration warns about a masked sessionId as the identity key');
my $ms1 = track('ms', { sessionId => 's1' });
my $ms2 = track('ms', { sessionId => 's2', userId => 'carol' });
deliver();
my %ph = map { $_->{uuid} => $_ } items('/ms/ph/batch/');
is($ph{$ms1}{distinct_id}, $ms1, 'masked sessionId: anonymous');
is($ph{$ms2}{distinct_id}, 'carol', 'an undeclared plain userId is still the identity');
ok(!exists $ph{$ms2}{properties}{'$process_person_profile'}, 'an identified event creates a person');
my %sg = map { $_->{messageId} => $_ } items('/ms/seg/v1/batch');
is($sg{$ms2}{userId}, 'carol', 'segment: plain userId');
ok(!exists $sg{$ms2}{anonymousId}, 'segment: the masked sessionId is not sent as anonymousId');
is($sg{$ms1}{anonymousId}, $ms1, 'segment: masked sessionId alone: anonymousId is the event id');

# ---- hashed identity: a stable pseudonym per user, no warning ----
$sink->clear;
$warn = register('hs', { userId => { type => 'string', pii => JSON::PP::true, redaction => 'hash' } });
unlike($warn, qr/WARNING/, 'no warning for a hashed identity');
my @hs = (track('hs', { userId => 'alice' }), track('hs', { userId => 'alice' }),
	track('hs', { userId => 'bob' }), track('hs', { userId => 'bob' }));
deliver();
%ph = map { $_->{uuid} => $_ } items('/hs/ph/batch/');
like($ph{ $hs[0] }{distinct_id}, qr/^hmac-sha256:[0-9a-f]{64}$/, 'hashed: distinct_id is the pseudonym');
is($ph{ $hs[0] }{distinct_id}, $ph{ $hs[1] }{distinct_id}, 'hashed: stable for one user');
is($ph{ $hs[2] }{distinct_id}, $ph{ $hs[3] }{distinct_id}, 'hashed: stable for the other user');
isnt($ph{ $hs[0] }{distinct_id}, $ph{ $hs[2] }{distinct_id}, 'hashed: two users, two pseudonyms');
ok(!exists $ph{ $hs[0] }{properties}{'$process_person_profile'}, 'hashed: a person profile');
%sg = map { $_->{messageId} => $_ } items('/hs/seg/v1/batch');
is($sg{ $hs[0] }{userId}, $ph{ $hs[0] }{distinct_id}, 'hashed: segment userId is the same pseudonym');
is($sg{ $hs[1] }{userId}, $sg{ $hs[0] }{userId}, 'hashed: segment userId stable per user');

# ---- no identity at all: anonymous, and no person profile ----
$sink->clear;
$warn = register('ni', {});
unlike($warn, qr/WARNING/, 'no warning for a spec without identity keys');
my @ni = (track('ni', {}), track('ni', {}));
deliver();
%ph = map { $_->{uuid} => $_ } items('/ni/ph/batch/');
is(join(',', map { $ph{$_}{distinct_id} } @ni), join(',', map { "telemetry:$_" } @ni),
	'no identity: distinct_id derived from the event id');
is(scalar(grep { exists $ph{$_}{properties}{'$process_person_profile'} && !$ph{$_}{properties}{'$process_person_profile'} } @ni), 2,
	'no identity: "$process_person_profile": false, as for a masked one');
%sg = map { $_->{messageId} => $_ } items('/ni/seg/v1/batch');
is($sg{ $ni[0] }{anonymousId}, "telemetry:$ni[0]", 'no identity: segment anonymousId derived from the event id');

# ---- no warning without PostHog or Segment, or for a plain identity ----
$warn = register('wh', { userId => { type => 'string', pii => JSON::PP::true } },
	providers => [ { type => 'opentelemetry', config => { endpoint => "$url/ot" } } ]);
unlike($warn, qr/WARNING/, 'no warning for a masked identity sent only to OpenTelemetry');
$sink->clear;
track('wh', { userId => 'erin' });
deliver();
my ($ot) = grep { $_->{path} eq '/ot/v1/logs' } $sink->requests;
my %attr = map { $_->{key} => $_->{value} } @{ decode_json($ot->{body})->{resourceLogs}[0]{scopeLogs}[0]{logRecords}[0]{attributes} };
is($attr{'user.id'}{stringValue}, 'REDACTED', 'OpenTelemetry: user.id is the stored (masked) value, as documented');
$warn = register('pl', { userId => { type => 'string' }, sessionId => { type => 'string', pii => JSON::PP::true } });
unlike($warn, qr/WARNING/, 'no warning when userId is plain (a masked sessionId is not the identity key)');

# ---- the mask's text is never an identity, whatever the definition ----
$sink->clear;
$node->safe_psql('app', q{INSERT INTO telemetry.events (id, event, version, spec, occurred_at, context)
	VALUES ('00000000-0000-4000-8000-0000000000aa', 'pl.happened', '1.0.0', 'pl', now(), '{"userId": "REDACTED"}')});
deliver();
%ph = map { $_->{uuid} => $_ } items('/pl/ph/batch/');
is($ph{'00000000-0000-4000-8000-0000000000aa'}{distinct_id}, '00000000-0000-4000-8000-0000000000aa',
	'a stored "REDACTED" userId is sent anonymously');

# ---- the item function (the same renderer) agrees ----
is($node->safe_psql('app', qq{SELECT (telemetry._delivery_item('posthog', e)::jsonb ->> 'distinct_id') = e.id::text
	FROM telemetry.events e WHERE e.id = '$mk[0]'}), 't', '_delivery_item: anonymous distinct_id');

# ---- registering warns; an unknown redaction stays an error (SQLSTATE) ----
my ($rc, $out, $err) = $node->psql('app', q{SELECT telemetry_register_spec('{"meta": {"key": "bad", "version": "1.0.0"},
	"config": {"context": {"userId": {"type": "string", "redaction": "blur"}},
		"providers": [{"type": "posthog", "config": {"projectApiKey": "k"}}]},
	"events": []}'::jsonb)}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22023/, 'an unknown redaction of the identity key: 22023');

$node->stop;
$sink->stop;
done_testing();
