# A database owner who can create objects in public plants an operator
# text || integer and a to_jsonb(telemetry.delivery_status) on a worker
# node.  Neither may run as the extension's owner (a superuser): not when
# the coordinator's catalog messages are applied there (telemetry_citus_sync,
# a spec admin's or the owner's registration), not when the coordinator
# reads telemetry.cluster_delivery_status (run_command_on_all_nodes runs in
# a new session on each node, under that node's search_path).  Found by the
# adversarial review of issue 17's code.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CitusCluster;

my $conf = q{
telemetry.maintenance_interval = '1h'
telemetry.allowed_destinations = '127.0.0.1'
};
my $c = CitusCluster->new(conf => $conf, telemetry => 1);
my $coord = $c->coordinator;
my ($w1, $w2) = $c->workers;
my $db = $c->database;
my $plant = q{
CREATE ROLE rv_evil LOGIN;
GRANT CREATE ON SCHEMA public TO rv_evil;
SET ROLE rv_evil;
CREATE FUNCTION public.rv_cat(a text, b integer) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE rv_evil SUPERUSER';
	END IF;
	RETURN a OPERATOR(pg_catalog.||) b::text;
END $f$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.rv_cat);
CREATE FUNCTION public.to_jsonb(d telemetry.delivery_status) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'CREATE TABLE public.rv_pwned_by_status()';
	END IF;
	RETURN pg_catalog.to_jsonb(d);
END $f$;
RESET ROLE;
};
# plant on worker 1 with citus propagation off (a local object of that node)
$w1->safe_psql($db, "SET citus.enable_ddl_propagation = off; SET citus.enable_metadata_sync = off; $plant");
note $w1->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_evil'");
my ($rc, $out, $err) = $coord->psql($db, 'SELECT telemetry_citus_sync()');
note "sync rc=$rc out=$out err=$err";
is($w1->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_evil'"), 'f', 'worker: planted || not run as superuser by cluster message apply');
$w2->safe_psql($db, "SET citus.enable_ddl_propagation = off; SET citus.enable_metadata_sync = off; $plant");
($rc, $out, $err) = $coord->psql($db, 'SELECT telemetry_citus_sync()');
note "second sync rc=$rc out=$out err=$err";
is($w2->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_evil'"), 'f', 'worker2: planted || not run by a second sync');
$coord->safe_psql($db, "CREATE ROLE rv_admin LOGIN; GRANT EXECUTE ON FUNCTION telemetry_register_spec(jsonb) TO rv_admin;");
($rc, $out, $err) = $coord->psql($db, q{SET ROLE rv_admin; SELECT telemetry_register_spec('{"meta": {"key": "rva", "version": "1.0.0"}, "events": [{"key": "rva.x", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal", "properties": {"n": {"type": "number"}}}]}')});
note "admin register rc=$rc out=$out err=$err";
is($w1->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_evil'"), 'f', 'worker1: planted || not run by a spec admin register');
($rc, $out, $err) = $coord->psql($db, q{SELECT telemetry_register_spec('{"meta": {"key": "rv", "version": "1.0.0"}, "config": {"providers": [{"type": "webhook", "name": "hook", "config": {"url": "http://127.0.0.1:9/hook", "secret": "whsec_aG9vaw=="}}]}, "events": [{"key": "rv.x", "version": "1.0.0", "semantics": {"what": "x"}, "privacy": "internal", "properties": {"n": {"type": "number"}}}]}')});
note "register rc=$rc out=$out err=$err";
is($w1->safe_psql($db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_evil'"), 'f', 'worker: planted || not run as superuser by register message');
($rc, $out, $err) = $coord->psql($db, 'SELECT count(*) FROM telemetry.cluster_delivery_status');
note "status rc=$rc out=$out err=$err";
is($w1->safe_psql($db, "SELECT to_regclass('public.rv_pwned_by_status') IS NULL"), 't', 'worker: planted to_jsonb not run by cluster_delivery_status');
done_testing();
