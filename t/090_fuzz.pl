# Randomized hostile input for telemetry_register_spec and telemetry_track.
#
# With a fixed seed (TELEMETRY_FUZZ_SEED) and a time budget
# (TELEMETRY_FUZZ_SECONDS), throws malformed and random JSON at both entry
# points through one long-lived psql session: wrong types, deep nesting, huge
# strings, NaN/Infinity-like tokens, unicode escapes including \u0000 and lone
# surrogates, duplicate keys, valid specs mutated field by field, and hostile
# names (quotes, semicolons, backslashes, unicode, format specifiers).
#
# It asserts that the server never crashes (same postmaster, no "terminated
# by signal" in the log, the session survives) and that every failing call
# raised a clean error: a SQLSTATE of class 22 (data exception), 42 (syntax
# or access rule) or 54 (program limit), never XX000 (an elog) or anything
# else.  Everything stored must still be valid text (no message cut in the
# middle of a multibyte character).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);

my $seed = $ENV{TELEMETRY_FUZZ_SEED} // 20261125;
my $budget = $ENV{TELEMETRY_FUZZ_SECONDS} // 30;
my $max_calls = $ENV{TELEMETRY_FUZZ_CALLS} // 6000;
srand($seed);
note "seed $seed, budget ${budget}s, at most $max_calls calls";

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
max_stack_depth = '2MB'
telemetry.allowed_env = 'POSTHOG_KEY, SEGMENT_WRITE_KEY'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE fuzz');
$node->safe_psql('fuzz', 'CREATE EXTENSION telemetry');
# the examples' webhook secret, so their providers register
$node->safe_psql('fuzz', q{SELECT telemetry_set_secret('checkout_webhook', 'whsec_ZnV6eg==', ARRAY['127.0.0.1'])});
my $pid_before = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# ---------------------------------------------------------------------------
# Random JSON text.  Objects are lists of pairs so duplicate keys are possible.

my @hostile_names = (
	q{a'b}, q{a"b}, q{a;b}, q{a\\b}, q{x'; DROP TABLE telemetry.events; --},
	q{"; SELECT pg_sleep(10); --}, q{%I%s%L%%}, q{$$}, q{$1}, q{a.b.c},
	"\x{00e9}v\x{00e9}nement", "\x{1F600}", "\x{202E}rtl", "a\tb", "a\nb", " ",
	'', 'x' x 129, 'x' x 5000, 'events_default', 'pg_catalog.pg_class',
	"\x{00e9}" x 127, 'a' . ("\x{00e9}" x 80), 'a' x 127 . "\x{1F600}",
	'telemetry.events', 'NULL', '\\u0000', q{'||'}, 'k' . ('.' x 50),
);

my @weird_numbers = (
	'NaN', 'Infinity', '-Infinity', 'nan', 'inf', '1e999999', '-1e999999',
	'1e-999999', '-0', '0.0000000000000000000001', '1' . ('0' x 400), '0x10',
	'01', '.5', '5.', '+1', '1e', '--1', '1_000', '9223372036854775808',
	'2147483648', '-2147483649', '1e308', '1e309', '4.9e-325',
);

my @weird_strings = (
	'\\u0000', 'a\\u0000b', '\\ud800', '\\udc00', '\\ud83d\\ude00', '\\uFFFF',
	'\\u00e9', '\\"', '\\\\', '\\/', '\\b\\f\\n\\r\\t', '\\x41', '\\u12',
	'\\uZZZZ', "'", "'';", '%s%n%x', "\x{00e9}", "\x{1F600}", "\x{0301}",
	'1.0.0', '1.0.0-rc.1', '2026-11-25T10:00:00Z', 'infinity', '-infinity',
	'epoch', 'now', 'allballs', 'today', '5 minutes', '-5 minutes',
	'1000000 years', 'REDACTED', 'hmac-sha256:00',
);

sub rnd { int(rand($_[0])) }
sub pick { $_[ rnd(scalar @_) ] }

sub json_str
{
	my ($s) = @_;
	$s =~ s/(["\\])/\\$1/g;
	$s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord($1))/ge;
	return qq{"$s"};
}

sub rand_name
{
	my $r = rand();
	return pick(@hostile_names) if $r < 0.3;
	return 'k' . rnd(20) if $r < 0.7;
	return join '', map { pick('a' .. 'z', 0 .. 9, '_', '.', '-') } 1 .. 1 + rnd(12);
}

sub rand_scalar
{
	my $r = rand();
	return json_str('h' x (1024 * 1024 + rnd(100000))) if $r < 0.003;
	return pick('true', 'false', 'null') if $r < 0.15;
	return (rnd(2) ? '-' : '') . rnd(1000000) . (rnd(2) ? '.' . rnd(1000) : '') if $r < 0.35;
	return pick(@weird_numbers) if $r < 0.45;
	return '"' . pick(@weird_strings) . '"' if $r < 0.6;
	return json_str(pick(@hostile_names)) if $r < 0.75;
	return json_str('s' x (1 + rnd(3) * rnd(20000))) if $r < 0.85;
	return json_str(join '', map { chr(32 + rnd(0x2ff)) } 1 .. rnd(40));
}

sub rand_json
{
	my ($depth) = @_;
	$depth //= 0;
	my $r = rand();
	if ($r < 0.003)
	{
		return ('[' x 100000) . (']' x 100000);
	}
	if ($r < 0.05)
	{
		my $n = 1 + rnd(200);
		return ('[' x $n) . ']' x $n;
	}
	if ($r < 0.07)
	{
		# a fragment: malformed on purpose
		return pick('{', '[', '{"a":}', '{"a" 1}', '[1,]', '{,}', "{'a': 1}", 'tru',
			'"unterminated', '{"a":1}}', '', ' ', '[1 2]', '/* c */ {}', "\x{FEFF}{}");
	}
	if ($r < 0.25 && $depth < 6)
	{
		my @pairs;
		for (1 .. rnd(6))
		{
			push @pairs, json_str(rand_name()) . ':' . rand_json($depth + 1);
		}
		push @pairs, $pairs[0] if @pairs && rand() < 0.2;    # duplicate key
		return '{' . join(',', @pairs) . '}';
	}
	if ($r < 0.35 && $depth < 6)
	{
		return '[' . join(',', map { rand_json($depth + 1) } 1 .. rnd(6)) . ']';
	}
	return rand_scalar();
}

# Serialize a decoded JSON::PP structure, keys sorted (deterministic), with a
# chance of a duplicated key in each object.
sub to_json_text
{
	my ($v) = @_;
	if (ref $v eq 'HASH')
	{
		my @pairs = map { json_str($_) . ':' . to_json_text($v->{$_}) } sort keys %$v;
		push @pairs, $pairs[ rnd(scalar @pairs) ] if @pairs && rand() < 0.02;
		return '{' . join(',', @pairs) . '}';
	}
	if (ref $v eq 'ARRAY')
	{
		return '[' . join(',', map { to_json_text($_) } @$v) . ']';
	}
	if (ref $v eq 'RAW')
	{
		return $$v;
	}
	return 'null' unless defined $v;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	return $v if $v =~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ && !ref $v;
	return json_str($v);
}

# Mutate one random node of a structure in place.
sub mutate
{
	my ($doc) = @_;
	my @nodes;
	my $walk;
	$walk = sub {
		my ($v) = @_;
		if (ref $v eq 'HASH')
		{
			push @nodes, $v;
			$walk->($v->{$_}) for sort keys %$v;
		}
		elsif (ref $v eq 'ARRAY')
		{
			push @nodes, $v;
			$walk->($_) for @$v;
		}
	};
	$walk->($doc);
	my $node = pick(@nodes);
	my $raw = bless \(my $s = rand_json(3)), 'RAW';
	if (ref $node eq 'HASH')
	{
		my @keys = sort keys %$node;
		my $op = rnd(4);
		if ($op == 0 && @keys) { delete $node->{ pick(@keys) } }
		elsif ($op == 1 || !@keys) { $node->{ rand_name() } = $raw }
		elsif ($op == 2) { my $k = pick(@keys); $node->{ rand_name() } = delete $node->{$k} }
		else { $node->{ pick(@keys) } = $raw }
	}
	else
	{
		my $op = rnd(3);
		if ($op == 0 && @$node) { splice @$node, rnd(scalar @$node), 1 }
		elsif ($op == 1 && @$node) { push @$node, $node->[ rnd(scalar @$node) ] }
		else { push @$node, $raw }
	}
}

sub sql_lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

# ---------------------------------------------------------------------------
# Base documents: the examples and the tracking tests' spec.

my $src = $ENV{TELEMETRY_SRC} // '.';
my @bases;
for my $f (glob("$src/examples/*.json"), "$src/test/track-spec.json")
{
	open my $fh, '<:raw', $f or die "$f: $!";
	local $/;
	push @bases, JSON::PP->new->decode(<$fh>);
}
my $track_spec = do
{
	open my $fh, '<:raw', "$src/test/track-spec.json" or die $!;
	local $/;
	<$fh>;
};
my $track_doc = JSON::PP->new->decode($track_spec);

# events we can track: name, version, declared properties and context
my @known;
sub remember
{
	my ($doc) = @_;
	return unless ref $doc eq 'HASH' && ref $doc->{events} eq 'ARRAY';
	my $ctx = ref $doc->{config} eq 'HASH' && ref $doc->{config}{context} eq 'HASH' ? [ sort keys %{ $doc->{config}{context} } ] : [];
	for my $e (@{ $doc->{events} })
	{
		next unless ref $e eq 'HASH' && ref $e->{properties} eq 'HASH';
		next if ref($e->{key} // $e->{name}) || ref $e->{version} || !defined($e->{key} // $e->{name});
		push @known, { key => $e->{key} // $e->{name}, version => $e->{version},
			props => [ sort keys %{ $e->{properties} } ], ctx => $ctx };
	}
}

# ---------------------------------------------------------------------------
# The session and its error-catching wrappers.  Each call prints one line:
# "ok" or "E<sqlstate> <message>".

my $psql = $node->background_psql('fuzz', on_error_stop => 0, timeout => 600);
$psql->query_safe(q{
CREATE ROLE regress_fuzz_user;
SET statement_timeout = '20s';
SET client_min_messages = error;
CREATE FUNCTION pg_temp.reg(doc text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; msg text;
BEGIN
	PERFORM telemetry_register_spec(doc::jsonb);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN 'E' || st || ' ' || left(regexp_replace(msg, '\s+', ' ', 'g'), 300);
END $f$;
CREATE FUNCTION pg_temp.trk(ev text, ver text, props text, ctx text, at text, mode text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; msg text;
BEGIN
	PERFORM set_config('telemetry.on_invalid', mode, true);
	PERFORM telemetry_track(ev, ver, props::jsonb, ctx::jsonb, at::timestamptz);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN 'E' || st || ' ' || left(regexp_replace(msg, '\s+', ' ', 'g'), 300);
END $f$;
CREATE FUNCTION pg_temp.trki(ev text, ver integer, props text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; msg text;
BEGIN
	PERFORM telemetry_track(ev, ver, props::jsonb);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN 'E' || st || ' ' || left(regexp_replace(msg, '\s+', ' ', 'g'), 300);
END $f$;
});
my $r = $psql->query_safe('SELECT pg_temp.reg(' . sql_lit($track_spec) . ')');
is($r, 'ok', 'tracking spec registered');
remember($track_doc);
remember($_) for @bases[0 .. $#bases - 1];
for my $i (0 .. $#bases - 1)
{
	$psql->query_safe('SELECT pg_temp.reg(' . sql_lit(to_json_text($bases[$i])) . ')');
}

# ---------------------------------------------------------------------------
# Call generators.

my $nspec = 0;

sub gen_register
{
	my $r = rand();
	return [ 'reg', rand_json(0) ] if $r < 0.15;
	my $doc = JSON::PP->new->decode(JSON::PP->new->canonical->encode(pick(@bases)));
	$nspec++;
	# a fresh key and event keys, so valid mutants register instead of clashing
	$doc->{meta}{key} = "fz.s$nspec" if ref $doc->{meta} eq 'HASH';
	if (ref $doc->{events} eq 'ARRAY')
	{
		for my $e (@{ $doc->{events} })
		{
			$e->{key} = "fz$nspec." . ($e->{key} // 'e') if ref $e eq 'HASH';
		}
	}
	my $n = $r < 0.3 ? 0 : 1 + rnd(4);
	mutate($doc) for 1 .. $n;
	my $text = to_json_text($doc);
	if (rand() < 0.05)
	{
		# cut the document short or splice garbage into it
		my $at = rnd(length $text);
		$text = rnd(2) ? substr($text, 0, $at) : substr($text, 0, $at) . pick('\\u0000', '"', '}', ',', "\x{00e9}") . substr($text, $at);
	}
	return [ 'reg', $text, $doc ];
}

sub rand_props
{
	my ($names) = @_;
	my @pairs;
	for my $k (@$names)
	{
		next if rand() < 0.3;
		push @pairs, json_str($k) . ':' . (rand() < 0.5 ? rand_scalar() : rand_json(2));
	}
	push @pairs, json_str(rand_name()) . ':' . rand_json(2) for 1 .. (rand() < 0.2 ? 1 + rnd(3) : 0);
	push @pairs, $pairs[0] if @pairs && rand() < 0.1;
	if (rand() < 0.03)
	{
		push @pairs, json_str("c$_") . ':' . $_ for 1 .. 90 + rnd(30);
	}
	return '{' . join(',', @pairs) . '}';
}

sub gen_track
{
	my $r = rand();
	if ($r < 0.1)
	{
		return [ 'trk', rand_name(), rand() < 0.5 ? undef : pick(@weird_strings, '1', '1.0', 'x'), rand_json(0), rand_json(0), undef, pick('error', 'quarantine') ];
	}
	my $e = pick(@known);
	my $ver = pick($e->{version}, undef, undef, '1', '1.0', '99', $e->{version} . '-rc.1', pick(@weird_strings));
	my $props = rand() < 0.9 ? rand_props($e->{props}) : rand_json(0);
	my $ctx = rand() < 0.85 ? rand_props($e->{ctx}) : rand_json(0);
	my $at = rand() < 0.8 ? undef : pick('2020-01-01', 'infinity', '-infinity', '2999-01-01', '4714-11-24 00:00:00+00 BC', 'epoch', 'now', 'x');
	if ($r < 0.15)
	{
		return [ 'trki', $e->{key}, pick(1, 2, 0, -1, 2147483647, -2147483648), $props ];
	}
	return [ 'trk', $e->{key}, $ver, $props, $ctx, $at, rand() < 0.3 ? 'quarantine' : 'error' ];
}

sub call_sql
{
	my ($c) = @_;
	my ($kind, @a) = @$c;
	return 'SELECT pg_temp.reg(' . sql_lit($a[0]) . ');' if $kind eq 'reg';
	return 'SELECT pg_temp.trki(' . sql_lit($a[0]) . ", $a[1], " . sql_lit($a[2]) . ');' if $kind eq 'trki';
	return 'SELECT pg_temp.trk(' . join(', ', map { sql_lit($_) } @a[0 .. 4]) . ', ' . sql_lit($a[5]) . ');';
}

# ---------------------------------------------------------------------------
# Run in chunks until the budget or the call limit is used up.

my %stats = (calls => 0, ok => 0, errors => 0, reg_ok => 0, track_ok => 0, plain_chunks => 0);
my (%by_state, @bad);
my $start = time;
my $crashed = 0;
while (time - $start < $budget && $stats{calls} < $max_calls)
{
	my @chunk = map { rand() < 0.35 ? gen_register() : gen_track() } 1 .. 50;
	my $sql = join "\n", map { call_sql($_) } @chunk;
	# one chunk in three runs as a plain role: tracking acts as the
	# extension's owner inside and must hand the role back on every path
	my $as_plain = rand() < 0.33;
	$sql = "SET ROLE regress_fuzz_user;\n$sql\nSELECT 'who=' || current_user;\nRESET ROLE;" if $as_plain;
	$stats{plain_chunks}++ if $as_plain;
	utf8::encode($sql);
	my ($out, $err) = eval { $psql->query($sql) };
	if (!defined $out)
	{
		$crashed = 1;
		diag "session died: $@";
		last;
	}
	if ($err)
	{
		# psql itself complained: the connection is gone or a statement broke out
		diag "psql stderr: " . substr($psql->{stderr}, 0, 2000);
		$crashed = 1 if $psql->{stderr} =~ /server closed|connection to server was lost|no connection/;
		$psql->{stderr} = '';
		push @bad, "psql error in chunk";
	}
	my @lines = split /\n/, $out;
	if ($as_plain)
	{
		my $who = pop @lines // '';
		push @bad, "after a chunk as the plain role, $who" if $who ne 'who=regress_fuzz_user';
	}
	if (@lines != @chunk)
	{
		push @bad, 'chunk returned ' . scalar(@lines) . ' results for ' . scalar(@chunk) . ' calls';
		last;
	}
	for my $i (0 .. $#chunk)
	{
		my $line = $lines[$i];
		$stats{calls}++;
		if ($line eq 'ok')
		{
			$stats{ok}++;
			if ($chunk[$i][0] eq 'reg')
			{
				$stats{reg_ok}++;
				remember($chunk[$i][2]) if $chunk[$i][2] && @known < 400;
			}
			else
			{
				$stats{track_ok}++;
			}
			next;
		}
		$stats{errors}++;
		my ($state, $msg) = $line =~ /^E(\w{5}) (.*)$/;
		if (!defined $state)
		{
			push @bad, "unparsable result: $line";
			next;
		}
		$by_state{$state}++;
		if ($state !~ /^(22|42|54)/ || $msg =~ /^(SPI_|cache lookup|unrecognized|unexpected|could not)/)
		{
			push @bad, "$state $msg <- " . substr(call_sql($chunk[$i]), 0, 300);
		}
	}
}
my $elapsed = time - $start;

my $summary = sprintf("fuzz: %d calls in %.1fs (%d chunks of 50 as a plain role), %d ok (%d register, %d track), %d errors; by SQLSTATE: %s",
	$stats{calls}, $elapsed, $stats{plain_chunks}, $stats{ok}, $stats{reg_ok}, $stats{track_ok}, $stats{errors},
	join(', ', map { "$_=$by_state{$_}" } sort keys %by_state));
diag $summary;

ok(!$crashed, 'the session survived every call');
cmp_ok($stats{calls}, '>=', $ENV{TELEMETRY_FUZZ_MIN_CALLS} // 500, 'enough calls were made');
cmp_ok($stats{reg_ok}, '>', 0, 'some mutated specs were valid and registered');
cmp_ok($stats{track_ok}, '>', 0, 'some random events were valid and stored');
is(scalar(@bad), 0, 'every failing call raised a clean error (SQLSTATE class 22, 42 or 54)')
  or diag join("\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)]);

# Everything stored is valid text in the database encoding.
my ($bad_text, $bad_text_err) = $psql->query(q{
SELECT count(*) FROM (
	SELECT error AS t FROM telemetry.rejected_events
	UNION ALL SELECT event FROM telemetry.rejected_events
	UNION ALL SELECT properties::text FROM telemetry.rejected_events
	UNION ALL SELECT properties::text FROM telemetry.events
	UNION ALL SELECT document::text FROM telemetry.specs
) s WHERE convert_from(convert_to(t, 'UTF8'), 'UTF8') <> t
});
is($bad_text, '0', 'stored events, rejects and specs are valid UTF-8')
  or diag $psql->{stderr};
$psql->{stderr} = '';
my $counts = $psql->query_safe(q{SELECT (SELECT count(*) FROM telemetry.events) || ' events, ' ||
	(SELECT count(*) FROM telemetry.rejected_events) || ' quarantined, ' ||
	(SELECT count(*) FROM telemetry.specs) || ' specs'});
diag "stored: $counts";
$psql->quit;

my $pid_after = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
is($pid_after, $pid_before, 'the postmaster never restarted');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated by exception|server process .* exited with exit code [^0]/,
	'no backend crashed');
unlike($log, qr/TRAP:|PANIC:/, 'no assertion failure or PANIC');

$node->stop;
done_testing();
