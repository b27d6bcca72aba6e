# Erasure: telemetry_forget(user_id) removes a user's events whose context
# userId is the raw id or its pseudonym, events with a property hashed from
# the id, their late copies, archived and quarantined events and dead
# letters; leaves other users alone; records the pseudonym (never the id);
# and is the owner's alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use HttpSink;

my $sink = HttpSink->new;
my $url = $sink->url;

my $node = PostgreSQL::Test::Cluster->new('forget');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_destinations = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

# A spec whose context declares userId as given, with a PostHog provider.
sub register
{
	my ($key, $user) = @_;
	my $spec = encode_json({
		meta => { key => $key, version => '1.0.0' },
		config => { context => { userId => $user },
			providers => [ { type => 'posthog', config => { projectApiKey => 'k', host => "$url/$key" } } ] },
		events => [ {
			key => "$key.happened", version => '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => { n => { type => 'number' },
				owner => { type => 'string', pii => JSON::PP::true, redaction => 'hash' } } } ] });
	$node->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");
}

# Track one event: context user (string or number), optional hashed owner
# property, optional occurred_at (an SQL expression).
sub track
{
	my ($key, $user, %opt) = @_;
	my $props = encode_json({ n => 1, ($opt{owner} ? (owner => $opt{owner}) : ()) });
	my $ctx = encode_json({ defined $user ? (userId => $user) : () });
	my $at = $opt{at} // 'now()';
	return $node->safe_psql('app', "SELECT telemetry_track('$key.happened', NULL, '$props', '$ctx', $at)");
}

register('plain', { type => 'string' });
register('hashed', { type => 'string', pii => JSON::PP::true, redaction => 'hash' });

# alice: raw, hashed, as a hashed property of someone else's event, late,
# quarantined, archived; bob: the same; carol's numeric id 4242
for my $who (qw(alice bob))
{
	track('plain', $who);
	track('plain', $who);
	track('hashed', $who);
	track('plain', undef, owner => $who);
	track('plain', $who, at => "now() - interval '3 days'");	# late: a copy in late_events too
}
register('nump', { type => 'number' });
register('numh', { type => 'number', redaction => 'hash' });
track('nump', 4242);
track('numh', 4242);
track('nump', 4243);
$node->safe_psql('app', q{SET telemetry.on_invalid = 'quarantine';
	SELECT telemetry_track('plain.happened', NULL, '{"n": "x"}', '{"userId": "alice"}');
	SELECT telemetry_track('hashed.happened', NULL, '{"n": "x"}', '{"userId": "alice"}');
	SELECT telemetry_track('plain.happened', NULL, '{"n": "x"}', '{"userId": "bob"}');});
$node->safe_psql('app', q{INSERT INTO telemetry_archive.events
	SELECT e.*, now() FROM telemetry.events e WHERE e.spec = 'plain' AND e.context ->> 'userId' IN ('alice', 'bob')
	AND e.occurred_at > now() - interval '1 day'});

# every event a dead letter (PostHog answers 400)
$sink->set_default(status => 400);
$node->safe_psql('app', 'SELECT telemetry_deliver()');
$sink->set_default(status => 200);

# counts of rows per table that belong to a user, found by their pseudonym
# (the stored one) or raw id
sub count_user
{
	my ($raw, $ps) = @_;
	my $cond = "(t.context ->> 'userId' IN ('$raw', '$ps') OR t.properties ->> 'owner' = '$ps')";
	return $node->safe_psql('app', qq{
		SELECT (SELECT count(*) FROM telemetry.events t WHERE $cond) || ',' ||
			(SELECT count(*) FROM telemetry.late_events t WHERE $cond) || ',' ||
			(SELECT count(*) FROM telemetry_archive.events t WHERE $cond) || ',' ||
			(SELECT count(*) FROM telemetry.rejected_events t WHERE $cond) || ',' ||
			(SELECT count(*) FROM telemetry.delivery_failures f WHERE f.event_id IN (
				SELECT t.id FROM telemetry.events t WHERE $cond
				UNION ALL SELECT t.id FROM telemetry_archive.events t WHERE $cond))});
}

# pseudonyms per user: the hashed spec's stored userId of their events
# (alice tracked first), the same as their hashed "owner" property
my %ps;
my @hs = split /\n/, $node->safe_psql('app', q{SELECT e.context ->> 'userId' FROM telemetry.events e
	WHERE e.spec = 'hashed' ORDER BY e.received_at, e.id});
@ps{qw(alice bob)} = @hs;
is($node->safe_psql('app', q{SELECT string_agg(e.properties ->> 'owner', ',' ORDER BY e.received_at)
	FROM telemetry.events e WHERE e.properties ? 'owner'}), "$ps{alice},$ps{bob}",
	'a hashed property holds the same pseudonym as a hashed userId');
like($ps{alice}, qr/^hmac-sha256:[0-9a-f]{64}$/, 'alice has a pseudonym');
is($node->safe_psql('app', qq{SELECT count(*) FROM telemetry.events WHERE spec = 'hashed' AND context ->> 'userId' = '$ps{alice}'}),
	'1', "the hashed spec stores alice's pseudonym as her userId");

# alice: plain 2 + 1 late + hashed 1 + 1 owner = 5 events, 1 late copy,
# 2 archived (copies sharing ids with events), 2 quarantined, a dead letter
# for each of her 5 events
my $alice_before = count_user('alice', $ps{alice});
is($alice_before, '5,1,2,2,5', "alice's traces before");
my $bob_before = count_user('bob', $ps{bob});
is($bob_before, '5,1,2,1,5', "bob's traces before");
my $total_before = $node->safe_psql('app', 'SELECT count(*) FROM telemetry.events');

# ---- not the owner: refused, nothing removed ----
$node->safe_psql('app', 'CREATE ROLE mallory LOGIN; CREATE ROLE helper LOGIN;
	GRANT EXECUTE ON FUNCTION telemetry_forget(text) TO helper');
my ($rc, $out, $err) = $node->psql('app', "SET ROLE mallory; SELECT telemetry_forget('alice')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42501: permission denied for function telemetry_forget/, 'a role without EXECUTE: 42501');
($rc, $out, $err) = $node->psql('app', "SET ROLE helper; SELECT telemetry_forget('alice')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42501: only the owner of extension telemetry can forget a user/,
	'a role granted EXECUTE is still not the owner: 42501');
is(count_user('alice', $ps{alice}), $alice_before, 'refused calls removed nothing');
is($node->safe_psql('app', 'SELECT count(*) FROM telemetry.forget_log'), '0', 'refused calls left no audit row');

# ---- bad input ----
($rc, $out, $err) = $node->psql('app', 'SELECT telemetry_forget(NULL)', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22004: telemetry_forget needs a user id/, 'NULL: 22004');
($rc, $out, $err) = $node->psql('app', q{SELECT telemetry_forget('')}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22023: telemetry_forget needs a non-empty user id/, 'empty: 22023');

# ---- the owner forgets alice ----
my $counts = decode_json($node->safe_psql('app', q{SELECT telemetry_forget('alice')}));
is_deeply($counts, { 'telemetry.events' => 5, 'telemetry.late_events' => 1, 'telemetry_archive.events' => 2,
	'telemetry.rejected_events' => 2, 'telemetry.delivery_failures' => 5 },
	'counts per table');
is(count_user('alice', $ps{alice}), '0,0,0,0,0', 'alice: nothing left anywhere (raw, pseudonym, hashed property)');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_failures f
	WHERE NOT EXISTS (SELECT FROM telemetry.events e WHERE e.id = f.event_id)
	AND NOT EXISTS (SELECT FROM telemetry_archive.events a WHERE a.id = f.event_id)}), '0',
	'no dead letter of a removed event is left');
is(count_user('bob', $ps{bob}), $bob_before, 'bob untouched');
is($node->safe_psql('app', 'SELECT count(*) FROM telemetry.events'), $total_before - 5, 'only five events removed');

# ---- the audit row ----
my $audit = $node->safe_psql('app', 'SELECT l::text FROM telemetry.forget_log l');
unlike($audit, qr/alice/, 'the audit row does not hold the raw id');
is($node->safe_psql('app', 'SELECT pseudonym FROM telemetry.forget_log'), $ps{alice}, 'the audit row holds the pseudonym');
is($node->safe_psql('app', q{SELECT requested_by || ' ' || (counts ->> 'telemetry.events') FROM telemetry.forget_log}),
	'postgres 5', 'the audit row says who asked and what was removed');
($rc, $out, $err) = $node->psql('app', 'SET ROLE helper; SELECT count(*) FROM telemetry.forget_log');
like($err, qr/permission denied/, 'only the owner reads the audit log');

# ---- a numeric id, tracked as a number, raw and hashed ----
$counts = decode_json($node->safe_psql('app', q{SELECT telemetry_forget('4242')}));
is($counts->{'telemetry.events'}, 2, 'a numeric id: the raw number and its pseudonym');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.events WHERE context ->> 'userId' = '4242'}), '0',
	'no event of the numeric id is left');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.events WHERE context ->> 'userId' = '4243'}), '1',
	'another numeric id is untouched');

# ---- forgetting again finds nothing, and is recorded ----
$counts = decode_json($node->safe_psql('app', q{SELECT telemetry_forget('alice')}));
is($counts->{'telemetry.events'} + $counts->{'telemetry.rejected_events'}, 0, 'a second call finds nothing');
is($node->safe_psql('app', 'SELECT count(*) FROM telemetry.forget_log'), '3', 'one audit row per call');
is(count_user('bob', $ps{bob}), $bob_before, 'bob still untouched');

# ---- while a forget is open: tracking goes on, maintenance waits its turn ----
my $bg = $node->background_psql('app');
$bg->query_safe("BEGIN; SELECT telemetry_forget('bob')");
my $during = track('plain', 'dave');
ok($during =~ /^[0-9a-f-]{36}$/, 'tracking is not blocked by an open forget');
is($node->safe_psql('app', q{SELECT telemetry_run_maintenance() ->> 'skipped'}), 'true',
	'a maintenance run does not start (no partition DDL queues behind the forget)');
$bg->query_safe('COMMIT');
$bg->quit;
is($node->safe_psql('app', q{SELECT coalesce(telemetry_run_maintenance() ->> 'skipped', 'false')}), 'false',
	'maintenance runs once the forget committed');
is(count_user('bob', $ps{bob}), '0,0,0,0,0', 'bob forgotten at commit');
is($node->safe_psql('app', q{SELECT count(*) FROM telemetry.events WHERE context ->> 'userId' = 'dave'}), '1',
	'the event tracked meanwhile is kept');

$node->stop;
$sink->stop;
done_testing();
