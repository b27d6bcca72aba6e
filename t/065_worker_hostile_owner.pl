# A database owner cannot turn the worker against the cluster (issue 10,
# findings 1 and 7).
#
# Finding 1: app_owner, who owns database app (with the extension, created
# by a superuser) but is no superuser, plants look-alikes of the catalog
# functions and operators the worker uses in schema public, puts public
# first in the database's search_path and sets statement_timeout,
# enable_partition_pruning and work_mem for the database.  After the worker
# reconnects it still runs its jobs, nothing planted was called, and
# app_owner is still no superuser.
#
# Finding 7: a role that may not drop app runs DROP DATABASE app (and a
# rename) again and again: the worker stays connected, same pid.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'app'
telemetry.maintenance_interval = '1h'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE ROLE app_owner LOGIN;
CREATE ROLE intruder LOGIN CREATEDB;
CREATE DATABASE app OWNER app_owner;
});
$node->safe_psql('app', 'CREATE EXTENSION telemetry');

my $worker_pid = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'telemetry worker' AND datname = 'app'};
ok($node->poll_query_until('app',
		q{SELECT last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'the worker serves app');

# ---- finding 1 ----
$node->safe_psql('app', q{
SET ROLE app_owner;
CREATE TABLE public.calls (fn text, by_user name, at timestamptz DEFAULT clock_timestamp());
GRANT ALL ON public.calls TO PUBLIC;
CREATE FUNCTION public.escalate(fn text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.calls (fn, by_user) VALUES (fn, current_user);
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE app_owner SUPERUSER';
	END IF;
END $$;
CREATE FUNCTION public.pg_try_advisory_lock(bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('pg_try_advisory_lock'); RETURN pg_catalog.pg_try_advisory_lock($1); END $$;
CREATE FUNCTION public.pg_advisory_unlock(bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('pg_advisory_unlock'); RETURN pg_catalog.pg_advisory_unlock($1); END $$;
CREATE FUNCTION public.to_regprocedure(text) RETURNS regprocedure LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('to_regprocedure'); RETURN pg_catalog.to_regprocedure($1); END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.jsonb_text(jsonb, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('->>'); RETURN pg_catalog.jsonb_object_field_text($1, $2); END $$;
CREATE OPERATOR public.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.jsonb_text);
CREATE FUNCTION public.jsonb_cat(jsonb, jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM public.escalate('||'); RETURN pg_catalog.jsonb_concat($1, $2); END $$;
CREATE OPERATOR public.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.jsonb_cat);
ALTER DATABASE app SET search_path = public, pg_catalog;
ALTER DATABASE app SET statement_timeout = 1;
ALTER DATABASE app SET enable_partition_pruning = off;
ALTER DATABASE app SET work_mem = '64kB';
ALTER ROLE app_owner IN DATABASE app SET lock_timeout = 1;
});
# the test's own sessions override the timeouts (client settings come first)
$ENV{PGOPTIONS} = '-c statement_timeout=0 -c lock_timeout=0';
# the planted objects do work for a session of the database
$node->safe_psql('app', 'SET ROLE app_owner; SELECT pg_try_advisory_lock(1)');
is($node->safe_psql('app', 'SELECT count(*) FROM public.calls'), '1', 'the planted function is what a session calls');
$node->safe_psql('app', 'TRUNCATE public.calls');

# reconnect the worker
my $pid = $node->safe_psql('postgres', $worker_pid);
my $t0 = $node->safe_psql('app', 'SELECT pg_catalog.clock_timestamp()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_pid) w WHERE pid <> $pid"),
	'the worker reconnects');
ok($node->poll_query_until('app',
		qq{SELECT last_run > '$t0' AND last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'maintenance'}),
	'it still runs maintenance (statement_timeout = 1 did not reach it)');
ok($node->poll_query_until('app',
		qq{SELECT last_run > '$t0' AND last_outcome LIKE 'ok:%' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'and delivery');
ok($node->poll_query_until('app',
		qq{SELECT last_run > '$t0' FROM telemetry.worker_status WHERE job = 'anomaly'}),
	'and the anomaly checks');
is($node->safe_psql('app', q{SELECT string_agg(fn || ' by ' || by_user, ', ') FROM public.calls}), '',
	'nothing planted was called');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'}), 'f',
	'app_owner is not a superuser');
cmp_ok($node->safe_psql('app', q{SELECT count(*) FROM telemetry._event_partitions() WHERE hi > pg_catalog.now()}),
	'>=', 8, 'partitions made');

# ---- finding 7 ----
$pid = $node->safe_psql('postgres', $worker_pid);
for my $i (1 .. 5)
{
	my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE app', extra_params => [ '-U', 'intruder' ]);
	like($err, qr/must be owner of database app/, "DROP DATABASE app by a non-owner fails ($i)");
	($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE app RENAME TO app2', extra_params => [ '-U', 'intruder' ]);
	like($err, qr/must be owner of database app/, "so does a rename ($i)");
}
my ($ret, $out, $err) = $node->psql('app', 'DROP DATABASE app', extra_params => [ '-U', 'app_owner' ]);
like($err, qr/cannot drop the currently open database/, 'the owner cannot drop the database it is connected to');
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE no_such_db', extra_params => [ '-U', 'intruder' ]);
like($err, qr/does not exist/, 'nor can anyone drop a database that does not exist');
is($node->safe_psql('postgres', $worker_pid), $pid, 'the worker stayed connected, same pid');
my $d = $node->safe_psql('app', q{SELECT last_run FROM telemetry.worker_status WHERE job = 'delivery'});
ok($node->poll_query_until('app',
		qq{SELECT last_run > '$d' FROM telemetry.worker_status WHERE job = 'delivery'}),
	'and keeps working');
is($node->safe_psql('postgres', $worker_pid), $pid, 'in the same process');

# the owner may drop it, and the worker does not stand in the way
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE app', extra_params => [ '-U', 'app_owner' ]);
is($err, '', 'the owner drops app without waiting for the worker');

$node->stop('fast');
done_testing();
