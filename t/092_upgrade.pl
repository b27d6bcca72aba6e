# Upgrades: an ALTER EXTENSION ... UPDATE from every older version must give
# the same catalog as a fresh install of the current version.
#
# The catalog is described by a query over the extension's member objects
# and everything in its schemas: functions (full definitions, privileges,
# settings), columns (position, type, default, not null), constraints,
# indexes, triggers, views, relation privileges, and the tables pg_dump
# dumps as configuration.  With a single version there is nothing to upgrade
# from: the test then checks that the description is stable and covers the
# extension, so the comparison is ready when a second version appears.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
});
$node->start;

my $describe = q{
WITH ext AS (SELECT oid, extnamespace, extconfig, extcondition FROM pg_extension WHERE extname = 'telemetry'),
members AS (
	SELECT classid, objid, objsubid FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e'),
schemas AS (
	SELECT extnamespace AS oid FROM ext
	UNION SELECT c.relnamespace FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
	UNION SELECT n.oid FROM pg_namespace n JOIN members m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid),
rels AS (
	SELECT c.* FROM pg_class c
	WHERE c.relnamespace IN (SELECT oid FROM schemas) AND c.relnamespace <> 'public'::regnamespace
	UNION SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT line FROM (
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure || ' secdef=' || p.prosecdef || ' config=' || COALESCE(p.proconfig::text, '')
		|| ' acl=' || COALESCE(p.proacl::text, '') || E'\n'
		|| CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE p.prosrc END
	FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	UNION ALL
	SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
		|| ' acl=' || COALESCE(c.relacl::text, '') || ' rls=' || c.relrowsecurity
		|| COALESCE(' partkey=' || pg_get_partkeydef(c.oid), '')
		|| COALESCE(' bound=' || pg_get_expr(c.relpartbound, c.oid), '')
		|| CASE WHEN c.relkind IN ('v', 'm') THEN E'\n' || pg_get_viewdef(c.oid) ELSE '' END
	FROM rels c WHERE c.relkind NOT IN ('i', 'I', 't')
	UNION ALL
	SELECT 'column ' || a.attrelid::regclass || ' ' || a.attnum || ' ' || quote_ident(a.attname) || ' '
		|| format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
		|| ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
		|| ' default=' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '') || ' acl=' || COALESCE(a.attacl::text, '')
	FROM pg_attribute a JOIN rels c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	UNION ALL
	SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
	FROM pg_constraint co JOIN rels c ON c.oid = co.conrelid
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels c ON c.oid = i.indrelid
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'policy ' || pol.polrelid::regclass || ' ' || pol.polname || ' ' || COALESCE(pg_get_expr(pol.polqual, pol.polrelid), '')
	FROM pg_policy pol JOIN rels c ON c.oid = pol.polrelid
	UNION ALL
	SELECT 'schema ' || n.nspname || ' acl=' || COALESCE(n.nspacl::text, '') FROM pg_namespace n
	WHERE n.oid IN (SELECT oid FROM schemas) AND n.nspname <> 'public'
	UNION ALL
	SELECT 'dumped ' || cfg::regclass || ' where=' || COALESCE(cond, '')
	FROM ext, unnest(extconfig, extcondition) AS u(cfg, cond)
	UNION ALL
	SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || d.description
	FROM pg_description d JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid
) s ORDER BY line COLLATE "C";
};

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'telemetry'});
my @versions = split /\n/, $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'telemetry' ORDER BY version});
note "default version $default; available: @versions";

sub catalog_of
{
	my ($db, $version) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	if (defined $version)
	{
		$node->safe_psql($db, "CREATE EXTENSION telemetry VERSION '$version'");
		$node->safe_psql($db, 'ALTER EXTENSION telemetry UPDATE');
		is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'telemetry'}),
			$default, "$version updated to $default");
	}
	else
	{
		$node->safe_psql($db, 'CREATE EXTENSION telemetry');
	}
	return $node->safe_psql($db, $describe);
}

# show the lines only one side has
sub catalog_diff
{
	my ($want, $got) = @_;
	my (%w, %g);
	$w{$_}++ for split /\n/, $want;
	$g{$_}++ for split /\n/, $got;
	my @out = ((map { "- $_" } grep { !$g{$_} } sort keys %w), (map { "+ $_" } grep { !$w{$_} } sort keys %g));
	return join "\n", @out[0 .. ($#out < 40 ? $#out : 39)];
}

my $fresh = catalog_of('fresh');
like($fresh, qr/^function telemetry_track\(text,text,jsonb,jsonb,timestamp with time zone\) secdef=/m,
	'the description covers functions');
like($fresh, qr/^column telemetry\.events \d+ id uuid notnull=true/m, 'the description covers columns');
like($fresh, qr/^index CREATE INDEX events_default_event_idx/m, 'the description covers indexes');
like($fresh, qr/^dumped telemetry\.specs where=/m, 'the description covers configuration tables');
is(catalog_of('fresh_again'), $fresh, 'the description of a fresh install is stable');

my $compared = 0;
for my $v (grep { $_ ne $default } @versions)
{
	my $path = $node->safe_psql('postgres',
		qq{SELECT path FROM pg_extension_update_paths('telemetry') WHERE source = '$v' AND target = '$default'});
	ok($path ne '', "version $v has an update path to $default")
	  or next;
	note "update path $path";
	(my $db = "from_$v") =~ s/[^a-z0-9_]/_/gi;
	my $updated = catalog_of($db, $v);
	is($updated, $fresh, "updating from $v gives the catalog of a fresh $default install")
	  or diag catalog_diff($fresh, $updated);
	$compared++;
}
note $compared ? "$compared update paths compared" : "only version $default exists: no update path to compare yet";

# The comparison catches a forgotten change: a made-up older version 0.0.1
# without the index on events (event, version, occurred_at), first with an update script that forgets
# it, then with one that adds it.  (The files are removed afterwards.)
my $share = $node->safe_psql('postgres', q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'}) . '/extension';
my $current = slurp_file("$share/telemetry--$default.sql");
(my $old = $current) =~ s/^CREATE INDEX events_default_event_idx .*$//m;
isnt($old, $current, 'made-up 0.0.1 lacks the index');
my @made_up = ("$share/telemetry--0.0.1.sql", "$share/telemetry--0.0.1--$default.sql");
open my $fh, '>', $made_up[0] or die $!;
print $fh $old;
close $fh;
open $fh, '>', $made_up[1] or die $!;
print $fh "-- forgot the index\n";
close $fh;
my $forgot = catalog_of('from_forgetful', '0.0.1');
isnt($forgot, $fresh, 'an update script that forgets a change is caught');
like(catalog_diff($fresh, $forgot), qr/^- index CREATE INDEX events_default_event_idx/m, 'and the difference is named');
open $fh, '>', $made_up[1] or die $!;
print $fh "CREATE INDEX events_default_event_idx ON telemetry.events_default (event, version, occurred_at);\n";
close $fh;
is(catalog_of('from_careful', '0.0.1'), $fresh, 'an update script that makes the change passes');
unlink @made_up;

$node->stop;
done_testing();
