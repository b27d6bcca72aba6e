# Red-team review (issue 10 follow-up): the compiled-spec cache is freed
# under the event that is being tracked.
#
# spec_cache_lookup() returns a CompiledEvent that lives in the cache's
# memory context.  Every spec_cache_*() accessor resets that context when
# an invalidation has arrived (cache_valid false): spec_cache_owner() in
# insert_event, spec_cache_redaction_key() in push_hash (called while
# event_redact_object walks the event's property set), and
# spec_cache_default_partition() on the executor path.  An invalidation is
# accepted whenever the backend takes a lock, e.g. in the hash rule's SPI
# query (hash_guard.c), or arrives during the second compile in
# spec_cache_lookup(), which returns without checking cache_valid again.
# The caller then reads freed memory: SIGSEGV in insert_event
# (track.c:300, cstring_to_text(ev->event)), seen on PostgreSQL 15.20; and
# the property set used for redaction is freed while it is being walked.
#
# Here only legitimate activity causes the invalidations: a superuser
# registers new spec versions and changes a role's password (which makes
# the hash rule look again) while a writer tracks an event with a hashed
# and a pii property.
#
# Expected (fails on main at d24c851): no backend crashes, and every stored
# event is redacted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('redteam_cache');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.enabled = off
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION telemetry;
CREATE ROLE writer LOGIN;
CREATE ROLE other LOGIN;
SELECT telemetry_register_spec('{"meta": {"key": "uc", "version": "1.0.0"},
	"events": [{"key": "uc.e", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal",
		"properties": {"n": {"type": "number"}, "uid": {"type": "string", "redaction": "hash"},
			"email": {"type": "string", "pii": true}}}]}');
});

my $churn = $node->background_psql('postgres', on_error_stop => 0);
$churn->query_until(qr/start/, q{
\echo start
DO $$ BEGIN
	FOR i IN 1 .. 1000000 LOOP
		PERFORM telemetry_register_spec(jsonb_build_object('meta', jsonb_build_object('key', 'churn', 'version', i || '.0.0'),
			'events', jsonb_build_array(jsonb_build_object('key', 'churn.e', 'version', i || '.0.0',
				'semantics', jsonb_build_object('what', 'x'), 'privacy', 'public', 'properties', '{}'::jsonb))));
		EXECUTE format('ALTER ROLE other PASSWORD %L', 'p' || i);
		COMMIT;
		PERFORM pg_sleep(0.002);
	END LOOP;
END $$;
});

my $deadline = time + 20;
my $crashed = 0;
while (time < $deadline)
{
	my ($r, $o, $e) = $node->psql('postgres',
		q{DO $$ BEGIN FOR i IN 1 .. 2000 LOOP
			PERFORM telemetry_track('uc.e', NULL, '{"n": 1, "uid": "u-1", "email": "victim@example.com"}');
			COMMIT; END LOOP; END $$},
		extra_params => [ '-U', 'writer' ]);
	if ($e =~ /terminat|server closed the connection|connection to server was lost/)
	{
		$crashed = 1;
		last;
	}
}
eval { $churn->quit; };
my $log = slurp_file($node->logfile);
ok(!$crashed && $log !~ /terminated by signal/,
	'no tracking backend crashed while specs were registered and roles changed');
$node->poll_query_until('postgres', 'SELECT true');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM telemetry.events WHERE properties::text LIKE '%victim%'}),
	'0', 'no raw pii value was stored');

$node->stop('fast');
done_testing();
