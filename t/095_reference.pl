# doc/reference.md is complete and names nothing that does not exist.
#
# The names come from the catalog of a fresh install: the functions that are
# members of the extension (pg_depend), but for the internal "_"-prefixed
# ones; its views; and the telemetry.* settings in pg_settings.  Each must
# have a row in its table of doc/reference.md (Functions, Views, Settings),
# each row must name something that exists, and a setting's "set by" column
# must say how pg_settings.context lets it be changed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{TELEMETRY_SRC} // '.';
my $doc_path = "$src/doc/reference.md";
open(my $fh, '<', $doc_path) or die "cannot open $doc_path: $!";
my @doc = <$fh>;
close($fh);

# The table rows of each "## " section, as arrays of cells.
my %rows;
my $section = '';
for my $line (@doc)
{
	if ($line =~ /^## (.*?)\s*$/)
	{
		$section = $1;
		next;
	}
	next unless $line =~ /^\|/;
	next if $line =~ /^\|\s*-/;
	my @cells = map { s/^\s+|\s+$//gr } split(/(?<!\\)\|/, $line);
	shift @cells;				# before the first |
	push @{ $rows{$section} }, \@cells;
}
for my $s ('Functions', 'Views', 'Settings (GUCs)')
{
	ok(@{ $rows{$s} // [] } > 1, "doc/reference.md has a table in section \"$s\"");
}

# Names in the first cell of a section's rows: `name(...)` or `telemetry.x`.
sub doc_names
{
	my ($s, $re) = @_;
	my %n;
	for my $r (@{ $rows{$s} })
	{
		$n{$1} = $r if $r->[0] =~ $re;
	}
	return \%n;
}
my $doc_funcs = doc_names('Functions', qr/^`([a-z_][a-z0-9_]*)\(/);
my $doc_views = doc_names('Views', qr/^`(telemetry(?:_archive)?\.[a-z0-9_]+)`$/);
my $doc_gucs = doc_names('Settings (GUCs)', qr/^`(telemetry\.[a-z0-9_]+)`$/);

my $node = PostgreSQL::Test::Cluster->new('reference');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.enabled = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');

my $members = q{
	FROM pg_depend d
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'telemetry')};
my @funcs = split /\n/, $node->safe_psql('postgres', qq{
	SELECT DISTINCT p.proname FROM pg_proc p
	WHERE p.oid IN (SELECT d.objid $members AND d.classid = 'pg_proc'::regclass)
	  AND p.proname !~ '^_' ORDER BY 1});
my @views = split /\n/, $node->safe_psql('postgres', qq{
	SELECT c.oid::regclass::text FROM pg_class c
	WHERE c.oid IN (SELECT d.objid $members AND d.classid = 'pg_class'::regclass)
	  AND c.relkind IN ('v', 'm') ORDER BY 1});
my %context = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
	SELECT name || '|' || context FROM pg_settings WHERE name LIKE 'telemetry.%' ORDER BY 1});
$node->stop;

# The catalog must not be empty (a query that finds nothing would pass).
cmp_ok(scalar @funcs, '>=', 10, 'the extension has functions: ' . scalar @funcs);
cmp_ok(scalar @views, '>=', 5, 'the extension has views: ' . scalar @views);
cmp_ok(scalar keys %context, '>=', 10, 'the extension has settings: ' . scalar keys %context);

# is_same_set NAME, CATALOG, DOC: every catalog name documented, every
# documented name in the catalog.
sub is_same_set
{
	my ($what, $catalog, $doc) = @_;
	my %in_catalog = map { $_ => 1 } @$catalog;
	my @missing = grep { !exists $doc->{$_} } @$catalog;
	my @stale = grep { !$in_catalog{$_} } sort keys %$doc;
	is(join(', ', @missing), '', "every $what of the extension is in doc/reference.md");
	is(join(', ', @stale), '', "every $what in doc/reference.md exists");
}
is_same_set('function', \@funcs, $doc_funcs);
is_same_set('view', \@views, $doc_views);
is_same_set('setting', [ sort keys %context ], $doc_gucs);

# "set by": how pg_settings.context lets a setting be changed.
my %set_by = (
	postmaster => 'restart',
	sighup => 'reload',
	superuser => 'superuser',
	user => 'session');
my @wrong;
for my $g (sort keys %context)
{
	my $r = $doc_gucs->{$g} or next;
	my $want = $set_by{ $context{$g} } // "context $context{$g}";
	push @wrong, "$g: documented $r->[2], is $want" if ($r->[2] // '') ne $want;
}
is(join('; ', @wrong), '', 'every setting\'s "set by" matches pg_settings.context');

done_testing();
