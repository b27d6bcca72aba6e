# The events of a prepared transaction are delivered when COMMIT PREPARED
# returns (Citus's two-phase commit, or a user's): it wakes the worker for
# delivery as the commit of a tracking transaction does.  The worker's own
# delivery interval is set to an hour, so only a wake-up delivers here.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use HttpSink;

my $sink = HttpSink->new;
$sink->set_default(status => 200);

my $node = PostgreSQL::Test::Cluster->new('track_prepared_wake');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
max_prepared_transactions = 2
telemetry.allowed_destinations = '127.0.0.1'
telemetry.delivery_interval = 3600000
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'telemetry worker'}),
	'the telemetry worker is running');

my $spec = encode_json({
	meta => { key => 'pw', version => '1.0.0' },
	config => { providers => [ { type => 'posthog',
		config => { projectApiKey => 'k', host => $sink->url } } ] },
	events => [ {
		key => 'pw.happened', version => '1.0.0',
		semantics => { what => 'something happened' }, privacy => 'internal',
		properties => { n => { type => 'number' } } } ] });
$node->safe_psql('postgres', "SELECT telemetry_register_spec(\$j\$$spec\$j\$::jsonb)");

my $delivered = q{SELECT delivered FROM telemetry.delivery_status WHERE provider = 'pw/posthog'};

# a plain tracking commit wakes the worker
$node->safe_psql('postgres', q{SELECT telemetry_track('pw.happened', '1.0.0', '{"n": 1}')});
ok($node->poll_query_until('postgres', "SELECT ($delivered) = 1"),
	'the event of a committed transaction is delivered');

# a prepared one: nothing before COMMIT PREPARED, its event after it
$node->safe_psql('postgres', q{
BEGIN;
SELECT telemetry_track('pw.happened', '1.0.0', '{"n": 2}');
PREPARE TRANSACTION 'pw_1';
});
is($node->safe_psql('postgres', $delivered), '1', 'nothing of the prepared transaction is delivered');
$node->safe_psql('postgres', q{COMMIT PREPARED 'pw_1'});
ok($node->poll_query_until('postgres', "SELECT ($delivered) = 2"),
	'the event of the prepared transaction is delivered after COMMIT PREPARED');

# a prepared transaction rolled back delivers nothing (and a tracking commit
# after it still wakes the worker)
$node->safe_psql('postgres', q{
BEGIN;
SELECT telemetry_track('pw.happened', '1.0.0', '{"n": 3}');
PREPARE TRANSACTION 'pw_2';
});
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'pw_2'});
$node->safe_psql('postgres', q{SELECT telemetry_track('pw.happened', '1.0.0', '{"n": 4}')});
ok($node->poll_query_until('postgres', "SELECT ($delivered) = 3"),
	'the next committed event is delivered');
my @n = sort map {
	my $r = $_;
	gunzip_batch($r)
} $sink->requests;
is(join(',', @n), '1,2,4', 'the sink received events 1, 2 and 4, not the rolled-back 3');

# the n property of every item of a request
sub gunzip_batch
{
	my ($r) = @_;
	require IO::Uncompress::Gunzip;
	my $raw;
	IO::Uncompress::Gunzip::gunzip(\$r->{body} => \$raw) or die $IO::Uncompress::Gunzip::GunzipError;
	return map { $_->{properties}{n} } @{ decode_json($raw)->{batch} };
}

$node->stop;
$sink->stop;
done_testing();
