# One spec catalog on a Citus cluster (issue 17, item 2): registering and
# unregistering on the coordinator changes every node in the same
# distributed transaction, all or nothing; caches are invalidated on every
# node; the redaction key and secrets are the same everywhere (equal hash
# pseudonyms); a worker refuses catalog changes with a hint; a node added
# later receives the catalog from telemetry_citus_sync().
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use CitusCluster;

my $conf = q{
telemetry.maintenance_interval = '1h'
telemetry.allowed_destinations = '127.0.0.1'
};
my $c = CitusCluster->new(conf => $conf, telemetry => 1);
my $coord = $c->coordinator;
my ($w1, $w2) = $c->workers;
my $db = $c->database;

# psql on NODE; returns (rc, stdout, stderr) with SQLSTATEs in stderr.
sub psql_err
{
	my ($node, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$sql");
	return ($rc, $out, $err);
}

# A fingerprint of a node's whole spec catalog (rows of every table).
my $fingerprint = q{
	SELECT md5(string_agg(t, E'\n' ORDER BY t)) FROM (
		SELECT 's ' || key || ' ' || version || ' ' || document::text || ' ' || registered_by FROM telemetry.specs
		UNION ALL SELECT 'e ' || to_jsonb(e)::text FROM telemetry.event_defs e
		UNION ALL SELECT 'm ' || to_jsonb(m)::text FROM telemetry.spec_events m
		UNION ALL SELECT 'p ' || to_jsonb(p)::text FROM telemetry.event_properties p
		UNION ALL SELECT 'r ' || to_jsonb(r)::text FROM telemetry.anomaly_rules r
		UNION ALL SELECT 'v ' || to_jsonb(v)::text FROM telemetry.providers v
		UNION ALL SELECT 't ' || (to_jsonb(t) - 'retired_at')::text FROM telemetry.event_tombstones t
		UNION ALL SELECT 'x') q(t)};
my $keyprint = q{SELECT encode(sha256(key), 'hex') FROM telemetry.redaction_key};
my $secretprint = q{SELECT coalesce(md5(string_agg(name || '=' || value || ' ' || hosts::text, ',' ORDER BY name)), 'none') FROM telemetry.secrets};
my $count_specs = q{SELECT count(*) FROM telemetry.specs};

sub spec_json
{
	my (%o) = @_;
	my $props = $o{props} // { n => { type => 'number' } };
	return encode_json({
		meta => { key => $o{key}, version => $o{version} // '1.0.0' },
		(defined $o{providers} ? (config => { providers => $o{providers} }) : ()),
		events => [ {
			key => "$o{key}.happened", version => $o{event_version} // '1.0.0',
			semantics => { what => 'something happened' }, privacy => 'internal',
			properties => $props } ] });
}

# Each node's CREATE EXTENSION made its own redaction key.
my @keys = $c->safe_psql_each($keyprint);
isnt($keys[1], $keys[0], 'before synchronizing, a worker has its own redaction key');

# Registering on the coordinator of a cluster that is not set up is refused.
my ($rc, $out, $err) = psql_err($coord, "SELECT telemetry_register_spec('" . spec_json(key => 'early') . "')");
like($err, qr/55000: the telemetry catalog is not set up for this Citus cluster/,
	'registering before telemetry_citus_sync() is refused (55000)');
like($err, qr/HINT:  Run SELECT telemetry_citus_sync\(\)/, 'with a hint');
is_deeply([ $c->safe_psql_each($count_specs) ], [ 0, 0, 0 ], 'and no node has it');

# Only the owner synchronizes.
$coord->safe_psql($db, 'CREATE ROLE admin LOGIN; GRANT EXECUTE ON FUNCTION telemetry_register_spec(jsonb) TO admin');
($rc, $out, $err) = $coord->psql($db, "SET ROLE admin; SELECT telemetry_citus_sync()", extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/42501: permission denied to synchronize/, 'telemetry_citus_sync() is the owner\'s (42501)');

is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '3', 'telemetry_citus_sync() reaches the three nodes');
is_deeply([ $c->safe_psql_each($keyprint) ], [ ($keys[0]) x 3 ], 'every node has the coordinator\'s redaction key');
is($coord->safe_psql($db, 'SELECT count(*) FROM telemetry.cluster_messages'), '0', 'the message table keeps no row');

# The message trigger changes the catalog as the owner: no one else may
# attach it to a table, and it applies only telemetry.cluster_messages.
$coord->safe_psql($db, 'GRANT CREATE ON SCHEMA public TO admin');
($rc, $out, $err) = psql_err($coord, q{SET ROLE admin;
	CREATE TABLE public.fake (origin integer, op text, payload jsonb);
	CREATE TRIGGER apply BEFORE INSERT ON public.fake FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_message()});
like($err, qr/42501: permission denied for function (telemetry\.)?_cluster_message/, 'a non-owner cannot attach the message trigger (42501)');
($rc, $out, $err) = psql_err($coord, q{CREATE TABLE public.cluster_messages (origin integer, op text, payload jsonb);
	CREATE TRIGGER apply BEFORE INSERT ON public.cluster_messages FOR EACH ROW EXECUTE FUNCTION telemetry._cluster_message();
	INSERT INTO public.cluster_messages VALUES (7, 'secrets_delete', '{"name": "x"}')});
like($err, qr/42501: telemetry._cluster_message\(\) applies only messages of telemetry.cluster_messages/,
	'nor does it apply rows of another table (42501)');

# Secrets: set on the coordinator, the same on every node; refused on a worker.
$coord->safe_psql($db, q{SELECT telemetry_set_secret('ph_key', 'phc_secret_value', ARRAY['127.0.0.1'])});
my @secrets = $c->safe_psql_each($secretprint);
isnt($secrets[0], 'none', 'the coordinator has the secret');
is_deeply(\@secrets, [ ($secrets[0]) x 3 ], 'every node has the same secret');
($rc, $out, $err) = psql_err($w1, q{SELECT telemetry_set_secret('other', 'v', ARRAY['127.0.0.1'])});
like($err, qr/0A000: the telemetry catalog of a Citus cluster is changed on the coordinator/,
	'setting a secret on a worker is refused (0A000)');
is_deeply([ $c->safe_psql_each($secretprint) ], [ ($secrets[0]) x 3 ], 'and changes no node');

# A spec with a provider that uses the secret, registered by a spec admin.
my $sink = 'http://127.0.0.1:9';
my $spec = spec_json(key => 'cat', providers => [ { type => 'posthog', name => 'ph',
			config => { projectApiKey => { secret => 'ph_key' }, host => $sink } } ]);
$coord->safe_psql($db, "SET ROLE admin; SELECT telemetry_register_spec('$spec')");
is_deeply([ $c->safe_psql_each($count_specs) ], [ 1, 1, 1 ], 'a spec registered on the coordinator is on every node');
my @fp = $c->safe_psql_each($fingerprint);
is_deeply(\@fp, [ ($fp[0]) x 3 ], 'every node\'s catalog is identical (rows of every catalog table, registered_by included)');
is_deeply([ $c->safe_psql_each(q{SELECT registered_by FROM telemetry.specs WHERE key = 'cat'}) ],
	[ ('admin') x 3 ], 'who registered is the coordinator\'s caller on every node');
is_deeply([ $c->safe_psql_each(q{SELECT provider FROM telemetry.delivery_status}) ],
	[ ('cat/ph') x 3 ], 'every node deploys the provider (each delivers its own events)');

# Registering on a worker is refused with a hint, and changes nothing.
($rc, $out, $err) = psql_err($w2, "SELECT telemetry_register_spec('" . spec_json(key => 'local') . "')");
like($err, qr/0A000: the telemetry catalog of a Citus cluster is changed on the coordinator/,
	'registering on a worker is refused (0A000)');
like($err, qr/HINT:  Register specs, unregister them and set secrets on the coordinator/, 'with a hint');
($rc, $out, $err) = psql_err($w2, "SELECT telemetry_unregister_spec('cat', '1.0.0')");
like($err, qr/0A000/, 'unregistering on a worker is refused (0A000)');
is_deeply([ $c->safe_psql_each($fingerprint) ], \@fp, 'no node changed');

# Registrations follow the coordinator's transaction: rolled back, no node
# has them; committed, every node has both.
my $tx = "SELECT telemetry_register_spec('" . spec_json(key => 'tx1') . "');
	SELECT telemetry_register_spec('" . spec_json(key => 'tx2') . "');";
$coord->safe_psql($db, "BEGIN; $tx ROLLBACK;");
is_deeply([ $c->safe_psql_each(q{SELECT count(*) FROM telemetry.specs WHERE key IN ('tx1', 'tx2')}) ], [ 0, 0, 0 ],
	'two registrations rolled back on the coordinator are on no node');
$coord->safe_psql($db, "BEGIN; $tx COMMIT;");
is_deeply([ $c->safe_psql_each(q{SELECT count(*) FROM telemetry.specs WHERE key IN ('tx1', 'tx2')}) ], [ 2, 2, 2 ],
	'committed, they are on every node');
$coord->safe_psql($db, q{SELECT telemetry_unregister_spec('tx1', '1.0.0'), telemetry_unregister_spec('tx2', '1.0.0')});
@fp = $c->safe_psql_each($fingerprint);
is_deeply(\@fp, [ ($fp[0]) x 3 ], 'unregistered on every node (with the same tombstones)');

# All or nothing: a registration that one worker refuses (its
# allowed_destinations does not list the provider's host) changes no node.
for my $node ($coord, $w1)
{
	$node->safe_psql($db, q{ALTER SYSTEM SET telemetry.allowed_destinations = '127.0.0.1, 127.0.0.2'; SELECT pg_reload_conf()});
	$node->poll_query_until($db, q{SELECT current_setting('telemetry.allowed_destinations') LIKE '%127.0.0.2%'});
}
my $far = spec_json(key => 'far', providers => [ { type => 'posthog', name => 'ph',
			config => { projectApiKey => 'k', host => 'http://127.0.0.2:9' } } ]);
($rc, $out, $err) = psql_err($coord, "SELECT telemetry_register_spec('$far')");
isnt($rc, 0, 'a registration that worker2 refuses fails on the coordinator');
like($err, qr/ERROR:  42501: Citus node 127\.0\.0\.1:${\ $w2->port} refused the change \(42501\): config\.providers\[0\]\.config\.host: destination not allowed/,
	'with worker2\'s destination error, naming worker2, raised with its SQLSTATE (42501)');
like($err, qr/DETAIL:  The destination is a loopback address\. A superuser can allow it in telemetry\.allowed_destinations\./,
	'and its detail and hint');
is_deeply([ $c->safe_psql_each(q{SELECT count(*) FROM telemetry.specs WHERE key = 'far'}) ], [ 0, 0, 0 ],
	'and no node registered it');
is_deeply([ $c->safe_psql_each($fingerprint) ], \@fp, 'no node\'s catalog changed');
is($c->coordinator->safe_psql($db, 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'no prepared transaction is left on the coordinator');
is_deeply([ map { $_->safe_psql($db, 'SELECT count(*) FROM pg_prepared_xacts') } ($w1, $w2) ], [ 0, 0 ],
	'nor on the workers');

# Caches: a worker session that compiled an event sees it go when the
# coordinator unregisters its spec (the worker's own catalog trigger
# invalidates at COMMIT PREPARED).
my $gone = spec_json(key => 'gone');
$coord->safe_psql($db, "SELECT telemetry_register_spec('$gone')");
my $bg = $w1->background_psql($db, on_error_stop => 0);
like($bg->query_safe(q{SELECT telemetry_track('gone.happened', '1.0.0', '{"n": 1}') IS NOT NULL}), qr/t/,
	'a worker session tracks the spec the coordinator registered');
is($coord->safe_psql($db, q{SELECT telemetry_unregister_spec('gone', '1.0.0')}), 't', 'the coordinator unregisters it');
is_deeply([ $c->safe_psql_each(q{SELECT count(*) FROM telemetry.specs WHERE key = 'gone'}) ], [ 0, 0, 0 ],
	'it is gone from every node');
$bg->query(q{SELECT telemetry_track('gone.happened', '1.0.0', '{"n": 2}')});
like($bg->{stderr}, qr/gone\.happened/, 'the same worker session no longer tracks it (its cache was invalidated)');
$bg->quit;

# Hash pseudonyms: the same userId tracked on the coordinator and on a worker.
my $hashed = spec_json(key => 'who', props => { userId => { type => 'string', pii => JSON::PP::true, redaction => 'hash' } });
$coord->safe_psql($db, "SELECT telemetry_register_spec('$hashed')");
sub track_who
{
	my $node = shift;
	my $id = $node->safe_psql($db, q{SELECT telemetry_track('who.happened', '1.0.0', '{"userId": "user-42"}')});
	return $node->safe_psql($db, "SELECT properties->>'userId' FROM telemetry.events WHERE id = '$id'");
}
my $p_coord = track_who($coord);
my $p_w1 = track_who($w1);
my $p_w2 = track_who($w2);
isnt($p_coord, 'user-42', 'the userId is stored as a pseudonym');
ok(length($p_coord) > 0, 'a non-empty one');
is($p_w1, $p_coord, 'worker1 stores the same pseudonym as the coordinator');
is($p_w2, $p_coord, 'worker2 too');

# A node added later: Citus propagates CREATE EXTENSION telemetry to it;
# registering is refused until telemetry_citus_sync() gives it the catalog.
my $w3 = PostgreSQL::Test::Cluster->new('citus_worker3');
$w3->init;
$w3->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,telemetry'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 20
max_worker_processes = 16
citus.node_conninfo = 'sslmode=disable'
$conf});
$w3->start;
$w3->safe_psql($db, 'CREATE EXTENSION citus');
$coord->safe_psql($db, sprintf(q{SELECT pg_catalog.citus_add_node('127.0.0.1', %d)}, $w3->port));
is($w3->safe_psql($db, q{SELECT count(*) FROM pg_extension WHERE extname = 'telemetry'}), '1',
	'the new node has the telemetry extension');
is($w3->safe_psql($db, $count_specs), '0', 'but an empty catalog');
($rc, $out, $err) = psql_err($coord, "SELECT telemetry_register_spec('" . spec_json(key => 'later') . "')");
like($err, qr/55000: .*has not received the telemetry catalog/, 'registering is refused while a node lacks the catalog (55000)');
like($err, qr/HINT:  Run SELECT telemetry_citus_sync\(\)/, 'with a hint');
is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '4', 'telemetry_citus_sync() reaches the four nodes');
my @all = ($coord, $w1, $w2, $w3);
@fp = map { $_->safe_psql($db, $fingerprint) } @all;
is_deeply(\@fp, [ ($fp[0]) x 4 ], 'the new node\'s catalog is identical to the others');
is($w3->safe_psql($db, $keyprint), $keys[0], 'with the same redaction key');
is($w3->safe_psql($db, $secretprint), $secrets[0], 'and the same secrets');
is(track_who($w3), $p_coord, 'so it stores the same pseudonym');
$coord->safe_psql($db, "SELECT telemetry_register_spec('" . spec_json(key => 'later') . "')");
is_deeply([ map { $_->safe_psql($db, q{SELECT count(*) FROM telemetry.specs WHERE key = 'later'}) } @all ],
	[ 1, 1, 1, 1 ], 'a later registration reaches the new node too');

# DROP EXTENSION: refused while telemetry.cluster_messages (made by Citus,
# not a member) exists; CASCADE drops it on every node; the cluster is set
# up again by CREATE EXTENSION and telemetry_citus_sync().
($rc, $out, $err) = psql_err($coord, 'DROP EXTENSION telemetry');
like($err, qr/2BP01: cannot drop extension telemetry because other objects depend on it/,
	'DROP EXTENSION telemetry is refused while the cluster is set up (2BP01)');
$coord->safe_psql($db, 'DROP EXTENSION telemetry CASCADE');
is_deeply([ map { $_->safe_psql($db, q{SELECT count(*) FROM pg_namespace WHERE nspname = 'telemetry'}) } @all ],
	[ 0, 0, 0, 0 ], 'DROP EXTENSION telemetry CASCADE removes the schema on every node');
is_deeply([ map { $_->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relname LIKE 'cluster\_messages%' AND relnamespace <> 'public'::regnamespace}) } @all ],
	[ 0, 0, 0, 0 ], 'and the message table and its placements');
$coord->safe_psql($db, 'CREATE EXTENSION telemetry');
is($coord->safe_psql($db, 'SELECT telemetry_citus_sync()'), '4', 'CREATE EXTENSION and telemetry_citus_sync() set the cluster up again');
$coord->safe_psql($db, "SELECT telemetry_register_spec('" . spec_json(key => 'again') . "')");
is_deeply([ map { $_->safe_psql($db, $count_specs) } @all ], [ 1, 1, 1, 1 ], 'and registering reaches every node');

# Secret values and the key reach the workers as COPY data, never in the
# text of a statement: the workers' server logs (log_statement = all here)
# hold neither.
my $keyhex = $coord->safe_psql($db, q{SELECT encode(key, 'hex') FROM telemetry.redaction_key});
for my $node ($w1, $w2, $w3)
{
	my $log = slurp_file($node->logfile);
	ok(index($log, 'phc_secret_value') < 0, $node->name . '\'s log does not hold the secret value');
	ok(index($log, $keyhex) < 0, $node->name . '\'s log does not hold the redaction key');
	like($log, qr/COPY telemetry\.cluster_messages_\d+ \(origin, op, payload\) FROM STDIN WITH \(format 'binary'\)/,
		$node->name . ' received the messages as binary COPY');
}

$w3->stop('fast');
$c->stop;
done_testing();
