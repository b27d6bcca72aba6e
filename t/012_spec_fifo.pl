# telemetry_load_spec() refuses anything but a regular file before opening
# it, and opens without blocking: a FIFO with no writer used to hang the
# backend in open(), out of reach of cancel and terminate (issue 10,
# finding 20).  The call must return its error by itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX qw(mkfifo);
use Fcntl;

my $node = PostgreSQL::Test::Cluster->new('spec_fifo');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'telemetry'
telemetry.database = 'postgres'
telemetry.enabled = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION telemetry');

my $fifo = $node->basedir . '/spec.fifo';
mkfifo($fifo, 0600) or die "mkfifo $fifo: $!";

# The timeout only keeps a regression from hanging the suite: without the
# fix the call blocks until a writer appears, and the assertions fail.
my ($out, $err, $timed_out) = ('', '', 0);
$node->psql('postgres', "\\set VERBOSITY verbose\nSELECT telemetry_load_spec('$fifo')",
	stdout => \$out, stderr => \$err, timeout => 120, timed_out => \$timed_out);
ok(!$timed_out, 'telemetry_load_spec on a FIFO returns by itself');
like($err, qr/ERROR:  42809: spec file ".*spec\.fifo" is not a regular file/, 'with SQLSTATE 42809 (wrong_object_type)');
if ($timed_out)
{
	# unblock the backend stuck in open() so the node can stop
	if (sysopen(my $fh, $fifo, O_WRONLY | O_NONBLOCK)) { close($fh); }
}

# The same for a directory and a character device, and the backend is fine.
for my $path ($node->basedir, '/dev/null')
{
	my ($rc, $o, $e) = $node->psql('postgres', "SELECT telemetry_load_spec('$path')");
	like($e, qr/is not a regular file/, "refused: $path");
}
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');

$node->stop('immediate');
done_testing();
