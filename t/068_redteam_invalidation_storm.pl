# Red-team review (issue 10 follow-up): PUBLIC crashes the server through
# telemetry._catalog_changed().
#
# The trigger function that tells every backend to drop its compiled specs
# (a relcache invalidation of telemetry.event_defs) is executable by PUBLIC.
# Any role may create a temporary table, put a statement trigger calling it
# on the table and commit inserts in a loop: thousands of invalidations a
# second of a relation every tracking backend has open.  A backend that
# tracks meanwhile rebuilds that relcache entry, takes a lock, receives
# the next invalidation, rebuilds again, ... until its stack overflows:
# SIGSEGV (no check_stack_depth on that path), and the postmaster restarts
# the whole cluster.  Seen on PostgreSQL 15.20 with 5867 nested
# RelationCacheInvalidateEntry -> LockRelationOid ->
# ReceiveSharedInvalidMessages frames.
#
# Expected (fails on main at d24c851): PUBLIC cannot create such a trigger,
# and tracking during the loop does not crash the server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('redteam_storm');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.enabled = off
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION telemetry;
CREATE ROLE nobody LOGIN;
SELECT telemetry_register_spec('{"meta": {"key": "st", "version": "1.0.0"},
	"events": [{"key": "st.e", "version": "1.0.0", "semantics": {"what": "x"},
		"privacy": "internal", "properties": {"n": {"type": "number"}}}]}');
});

is($node->safe_psql('postgres',
		q{SELECT has_function_privilege('nobody', 'telemetry._catalog_changed()', 'EXECUTE')}),
	'f', 'PUBLIC may not execute telemetry._catalog_changed()');

my ($ret, $out, $err) = $node->psql('postgres', q{
CREATE TEMP TABLE st (x int);
CREATE TRIGGER storm AFTER INSERT ON st FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();
}, extra_params => [ '-U', 'nobody' ]);
isnt($ret, 0, 'an ordinary role cannot put telemetry._catalog_changed() on a table of its own');

# the loop (if the trigger could be made), against a session that tracks
my $storm = $node->background_psql('postgres', extra_params => [ '-U', 'nobody' ],
	on_error_stop => 0);
$storm->query_until(qr/start/, q{
CREATE TEMP TABLE st (x int);
CREATE TRIGGER storm AFTER INSERT ON st FOR EACH STATEMENT EXECUTE FUNCTION telemetry._catalog_changed();
\echo start
DO $$ BEGIN FOR i IN 1 .. 1000000 LOOP INSERT INTO st VALUES (1); COMMIT; END LOOP; END $$;
});
my $deadline = time + 15;
my $crashed = 0;
while (time < $deadline)
{
	my ($r, $o, $e) = $node->psql('postgres',
		q{DO $$ BEGIN FOR i IN 1 .. 2000 LOOP PERFORM telemetry_track('st.e', NULL, '{"n": 1}'); COMMIT; END LOOP; END $$});
	if ($e =~ /terminat|server closed the connection|connection to server was lost/)
	{
		$crashed = 1;
		last;
	}
}
eval { $storm->quit; };
my $log = slurp_file($node->logfile);
ok(!$crashed && $log !~ /terminated by signal/, 'no backend crashed while tracking during the loop');

$node->stop('fast');
done_testing();
