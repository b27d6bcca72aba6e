# The extension's own errors and warnings hide the statement (errhidestmt),
# so the raw values in a failing call's literals do not reach the server log
# through log_min_error_statement (issue 10, finding 13).  A failing
# statement of another kind does log its STATEMENT line, which proves the
# setting is in effect.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('privacy_log');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.enabled = off
# the TAP framework logs every statement: back to the defaults
log_statement = none
log_min_error_statement = error
});
$node->start;

my $spec = "$ENV{TELEMETRY_SRC}/test/track-spec.json";
$node->safe_psql('postgres', qq{
CREATE EXTENSION telemetry;
SELECT telemetry_load_spec('$spec');
SELECT telemetry_run_maintenance();
SELECT telemetry_register_spec('{"meta": {"key": "dup", "version": "1.0.0"},
	"config": {"providers": [{"type": "segment", "config": {"writeKey": "sk-first"}}]},
	"events": [{"key": "dup.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}');
CREATE ROLE reader;
GRANT SELECT ON telemetry.events TO reader;
});

# Each call fails with one of the extension's errors; every literal holds a
# marker that must not reach the log.
my @failing = (
	# tracking: validation errors with a raw email (default and trigger-like calls)
	q{SELECT telemetry_track('t.redact', '1', '{"m": "alice-7f3a91@example.com", "num": "not a number"}')},
	q{SELECT telemetry_track('t.typed', '1.0.0', '{"n": 1, "extra": "bob-7f3a91@example.com"}')},
	q{SELECT telemetry_track('no.such.event', NULL, '{"email": "carol-7f3a91@example.com"}')},
	q{SELECT telemetry_track(NULL, NULL, '{"email": "dave-7f3a91@example.com"}')},
	q{SELECT telemetry_track('t.typed', '1.0.0', '{"s": "erin-7f3a91@example.com"}', '{}', now() + interval '1 year')},
	# the hash guard
	q{SET ROLE reader; SELECT telemetry_track('t.redact', '1', '{"h": "frank-7f3a91@example.com"}')},
	# the catalog: a validation error, a refused secret reference and a
	# duplicate, each in a spec with a literal secret
	q{SELECT telemetry_register_spec('{"meta": {"key": "x", "version": "1.0.0"},
		"config": {"providers": [{"type": "segment", "config": {"writeKey": "sk-7f3a91-validation"}}]},
		"events": [{"key": "9bad", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}')},
	q{SELECT telemetry_register_spec('{"meta": {"key": "x", "version": "1.0.0"},
		"config": {"providers": [{"type": "webhook", "config": {"url": "https://h.example/", "secret": "whsec_7f3a91",
			"headers": {"X-Leak": {"env": "AWS_SECRET_ACCESS_KEY"}}}}]},
		"events": [{"key": "x.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}')},
	q{SELECT telemetry_register_spec('{"meta": {"key": "dup", "version": "1.0.0"},
		"config": {"providers": [{"type": "segment", "config": {"writeKey": "sk-7f3a91-duplicate"}}]},
		"events": [{"key": "dup.e", "version": "1.0.0", "privacy": "public", "semantics": {"what": "w"}, "properties": {}}]}')},
	# secrets
	q{SELECT telemetry_set_secret('k', 'sk-7f3a91-nohosts', NULL)},
	q{SELECT telemetry_set_secret('k', 'https://elsewhere.example/sk-7f3a91-url', ARRAY['h.example'])},
	q{SET ROLE reader; SELECT telemetry_set_secret('k', 'sk-7f3a91-notowner', ARRAY['h.example'])},
);
for my $sql (@failing)
{
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	isnt($rc, 0, 'fails: ' . substr($sql =~ s/\s+/ /gr, 0, 70));
	like($err, qr/ERROR/, 'with an error');
}

# quarantine warnings hide the statement too (when warnings are logged with it)
my ($rc, $out, $err) = $node->psql('postgres', q{
SET log_min_error_statement = warning;
SET telemetry.on_invalid = quarantine;
SELECT telemetry_track('t.redact', '1', '{"m": 1, "r": "grace-7f3a91@example.com"}');
});
like($err, qr/WARNING:.*quarantined|WARNING:  event "t.redact"/, 'quarantined with a warning');

# control: another failing statement is logged with its literal
$node->psql('postgres', q{SELECT 1 / 0 AS "control-7f3a91"});

my $log = slurp_file($node->logfile);
like($log, qr/STATEMENT:.*control-7f3a91/, 'a failing statement is logged (log_min_error_statement works)');
like($log, qr/ERROR:  event "t.redact" 1.0.0: property "num" must be a number/, 'the errors themselves are logged');
my @leaks = grep { /7f3a91/ && !/control-7f3a91/ } split /\n/, $log;
is(join("\n", @leaks), '', 'no raw value or literal secret in the server log');
unlike($log, qr/sk-first/, 'nor a value of the duplicate spec');

$node->stop;
done_testing();
