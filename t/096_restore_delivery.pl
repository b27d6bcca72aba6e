# Delivery after pg_dump / pg_restore into a new cluster, whose transaction
# ids are far lower than the old one's: the dumped delivery state (cursors,
# floors, pending samples, horizons) is ahead of every new transaction id.
# The first delivery pass restarts such providers: the restored events they
# had not delivered are queued again, and the events tracked in the new
# cluster (also those tracked before that pass) are delivered.  Every such
# event reaches the sink, with its id; none delivered before the dump is
# sent again here.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use MIME::Base64;
use Time::HiRes qw(sleep);
use HttpSink;

my $sink = HttpSink->new;
my $secret = 'whsec_' . encode_base64('restore key', '');

sub new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.allowed_destinations = '127.0.0.1'
});
	$node->start;
	return $node;
}

# Event ids a sink received, with how many times each.
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

sub track
{
	my ($node, $n) = @_;
	return split /\n/, $node->safe_psql('app',
		"SELECT telemetry_track('rs.e', '1.0.0', jsonb_build_object('n', i)) FROM generate_series(1, $n) i");
}

# ---- cluster A: many transactions, some events delivered, some not ----
my $a = new_node('restore_a');
$a->safe_psql('postgres', 'CREATE DATABASE app');
$a->safe_psql('app', 'CREATE EXTENSION telemetry');
# transaction ids far above those of a new cluster
$a->safe_psql('app', q{DO $$ BEGIN FOR i IN 1 .. 5000 LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$});
my $spec = encode_json({
	meta => { key => 'rs', version => '1.0.0' },
	config => { providers => [ { type => 'webhook', name => 'hook',
		config => { url => $sink->url . '/hook', secret => $secret } } ] },
	events => [ { key => 'rs.e', version => '1.0.0', semantics => { what => 'e happened' },
		privacy => 'internal', properties => { n => { type => 'number' } } } ] });
$a->safe_psql('app', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");

my @delivered = track($a, 3);
$a->safe_psql('app', 'SELECT telemetry_deliver()');
is_deeply([ sort keys %{ received($sink) } ], [ sort @delivered ], 'A: the first events are delivered');

# the sink is down: these stay after the cursor
$sink->set_default(status => 503);
my @undelivered = track($a, 4);
$a->safe_psql('app', 'SELECT telemetry_deliver()');
is($a->safe_psql('app', q{SELECT retrying FROM telemetry.delivery_status WHERE provider = 'rs/hook'}),
	'4', 'A: the later events are retrying');
cmp_ok($a->safe_psql('app', q{SELECT cursor_xid::text::bigint FROM telemetry.delivery_state}), '>', 5000,
	'A: the cursor is past the burnt transaction ids');

my $dump = $a->basedir . '/app.dump';
$a->command_ok([ 'pg_dump', '-Fc', '-d', $a->connstr('app'), '-f', $dump ], 'pg_dump -Fc');
$a->stop;

# ---- cluster B: a fresh cluster, the dump restored ----
my $b = new_node('restore_b');
$b->safe_psql('postgres', 'CREATE DATABASE app');
my ($stdout, $stderr);
IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $b->connstr('app'), $dump ], '>', \$stdout, '2>', \$stderr);
is($?, 0, 'pg_restore succeeds');
cmp_ok($b->safe_psql('app', 'SELECT pg_current_xact_id()::text::bigint'), '<',
	$b->safe_psql('app', 'SELECT cursor_xid::text::bigint FROM telemetry.delivery_state'),
	'B: the restored cursor is ahead of the new transaction ids');
# the sink is up again, and counts from here on
$sink->clear;
$sink->set_default(status => 200);

# tracked in B before any delivery pass, then more between passes
my @new = track($b, 5);
$b->safe_psql('app', 'SELECT telemetry_deliver()');
push @new, track($b, 2);

my %expected = map { $_ => 1 } @undelivered, @new;
my $got;
for (1 .. 60)
{
	$b->safe_psql('app', "UPDATE telemetry.delivery_state SET next_attempt_at = NULL");
	$b->safe_psql('app', 'SELECT telemetry_deliver()');
	$got = received($sink);
	last if scalar(grep { $got->{$_} } keys %expected) == scalar(keys %expected);
	sleep 0.2;
}
is_deeply([ sort keys %$got ], [ sort keys %expected ],
	'B: every undelivered restored event and every new event is delivered, nothing else');
is_deeply([ grep { $got->{$_} != 1 } sort keys %$got ], [], 'B: each exactly once (so far)');
is($b->safe_psql('app', q{SELECT retrying || ' ' || in_flight FROM telemetry.delivery_status WHERE provider = 'rs/hook'}),
	'0 0', 'B: nothing left retrying or in flight');
# the documented caveat: the restored events keep their old transaction ids,
# after the restarted cursor; pending counts them until this cluster's ids
# pass theirs (then they are read once more, with the same ids)
is($b->safe_psql('app', q{SELECT pending FROM telemetry.delivery_status WHERE provider = 'rs/hook'}),
	'7', 'B: the restored events, with their old ids, are still after the cursor');
cmp_ok($b->safe_psql('app', 'SELECT cursor_xid::text::bigint FROM telemetry.delivery_state'), '<',
	$b->safe_psql('app', 'SELECT pg_current_xact_id()::text::bigint'),
	'B: the cursor is among this cluster\'s transaction ids');
is($b->safe_psql('app', q{SELECT count(*) FROM telemetry.delivery_history WHERE outcome = 'replay' AND note LIKE '%restored%'}),
	'1', 'B: the restart is recorded once in the delivery history');

# later tracking is delivered as usual
$sink->clear;
my @later = track($b, 2);
$b->safe_psql('app', 'SELECT telemetry_deliver()');
is_deeply([ sort keys %{ received($sink) } ], [ sort @later ], 'B: later events are delivered');

$b->stop;
done_testing();
