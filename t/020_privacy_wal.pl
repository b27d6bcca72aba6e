# PII is redacted before the row is written: the raw values of redacted
# properties and context keys appear nowhere in the WAL or the data files,
# while an unredacted marker tracked alongside them does (proving the scan
# would have found them).  "Raw values" include the keys of masked objects
# (a pii json property {"4111...": "visa"}, an object property of a
# sensitive event) and undeclared keys of quarantined events (issue 10,
# finding 8), and nothing of them reaches the server log either.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Find;

my $node = PostgreSQL::Test::Cluster->new('privacy');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.enabled = off
wal_level = replica
full_page_writes = off
# the TAP framework logs every statement; the log check below needs the default
log_statement = none
});
$node->start;

my $spec = "$ENV{TELEMETRY_SRC}/test/track-spec.json";
$node->safe_psql('postgres', qq{
CREATE EXTENSION telemetry;
SELECT telemetry_load_spec('$spec');
SELECT telemetry_register_spec('{"meta": {"key": "w", "version": "1.0.0"}, "events": [{"key": "w.sensitive",
	"version": "1.0.0", "privacy": "sensitive", "semantics": {"what": "w"}, "properties": {"o": {"type": "json"}}}]}');
SELECT telemetry_run_maintenance();
});

my $wal_start = $node->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$node->safe_psql('postgres', q{
SELECT telemetry_track('t.redact', '1', '{"m": "pii-mask-7f3a91", "h": "pii-hash-7f3a91", "d": "pii-drop-7f3a91", "plain": "visible-marker-7f3a91"}',
	'{"userId": "pii-ctx-hash-7f3a91", "ip": "pii-ctx-drop-7f3a91", "email": "pii-ctx-mask-7f3a91"}');
SELECT telemetry_track('t.sensitive', '1', '{"a": "pii-sensitive-7f3a91"}');
SELECT telemetry_track('t.redact', '1', '{"obj": {"4111-pii-objkey-7f3a91": "visa", "n": {"pii-nestedkey-7f3a91": 1}},
	"arr": [{"pii-arrkey-7f3a91": "x"}]}');
SELECT telemetry_track('w.sensitive', '1', '{"o": {"pii-sensobjkey-7f3a91": {"pii-sensdeep-7f3a91": "x"}}}');
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('t.redact', '1', '{"m": 1, "undeclared": "pii-quarantine-7f3a91"}');
SELECT telemetry_track('t.redact', '1', '{"m": 1, "pii-qkey-7f3a91": "x"}');
SELECT telemetry_track('t.redact', '1', '{"4111-pii-qnum-7f3a91": "x"}');
SELECT telemetry_track('t.redact', '1', '{"obj": {"pii-qobjkey-7f3a91": "x"}, "m": 2}');
CHECKPOINT;
SELECT pg_switch_wal();
});

# every WAL segment written since the start, raw bytes
my $waldir = $node->data_dir . '/pg_wal';
opendir(my $dh, $waldir) or die "opendir $waldir: $!";
my @segments = sort grep { /^[0-9A-F]{24}$/ && $_ ge $wal_start } readdir($dh);
closedir($dh);
ok(@segments > 0, 'found WAL segments to scan');

my $wal = '';
$wal .= slurp_file("$waldir/$_") for @segments;
like($wal, qr/visible-marker-7f3a91/, 'an unredacted value is found in the WAL (the scan works)');
unlike($wal, qr/pii-[a-z-]+-7f3a91/, 'no redacted raw value is in the WAL');

# and none in the relation files either
my ($found, $markers) = (0, 0);
my $base = $node->data_dir . '/base';
File::Find::find(sub {
	return unless -f $_;
	my $content = slurp_file($_);
	$found++ if $content =~ /pii-[a-z-]+-7f3a91/;
	$markers++ if $content =~ /visible-marker-7f3a91/;
}, $base);
ok($markers > 0, 'the unredacted value is found in a data file (the scan works)');
is($found, 0, 'no redacted raw value in any data file');

# the events and the quarantine hold exactly the masked shapes
is($node->safe_psql('postgres', q{SELECT properties - 'h' - 'hn' FROM telemetry.events WHERE event = 't.redact' AND properties ? 'obj'}),
	'{"arr": ["REDACTED"], "obj": {}}', 'a masked object keeps no key, a masked array one "REDACTED" per element');
is($node->safe_psql('postgres', q{SELECT properties FROM telemetry.events WHERE event = 'w.sensitive'}),
	'{"o": {}}', 'an object property of a sensitive event keeps no key');
is($node->safe_psql('postgres', q{SELECT string_agg(properties::text, ' ' ORDER BY id) FROM telemetry.rejected_events}),
	'{"m": 0} {"m": 0} {} {"m": 0, "obj": {}}', 'quarantined events keep no undeclared key and no masked key');

# nor the server log (messages name a property only by a declared name)
unlike(slurp_file($node->logfile), qr/7f3a91/, 'no raw value or key in the server log');

$node->stop;
done_testing();
