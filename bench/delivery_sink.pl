#!/usr/bin/perl
# Runs an HttpSink (t/lib/HttpSink.pm) for bench/delivery.sh: writes its
# port to the file named by $ARGV[1], records into the directory $ARGV[0],
# and stops the sink on SIGTERM.  With "count DIR [PATH]" instead, prints
# how many events the recorded batch requests carried (2xx only), how many
# requests and bytes, and the seconds from the first request to the last.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use HttpSink;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);

if ($ARGV[0] eq 'count')
{
	my ($dir, $prefix) = @ARGV[1, 2];
	my $sink = bless { dir => $dir }, 'HttpSink';
	my ($events, $requests, $bytes, $first, $last) = (0, 0, 0, undef, undef);
	for my $r ($sink->requests)
	{
		next if defined $prefix && index($r->{path}, $prefix) != 0;
		next unless $r->{status} >= 200 && $r->{status} < 300;
		my $body = $r->{body};
		if (substr($body, 0, 2) eq "\x1f\x8b")
		{
			my $raw;
			gunzip(\$body => \$raw) or die $GunzipError;
			$body = $raw;
		}
		my $j = decode_json($body);
		$events += scalar @{ $j->{batch} // [] };
		$requests++;
		$bytes += $r->{body_len};
		$first = $r->{at} if !defined $first || $r->{at} < $first;
		$last = $r->{at} if !defined $last || $r->{at} > $last;
	}
	printf "%d %d %d %.3f\n", $events, $requests, $bytes, defined $first ? $last - $first : 0;
	exit 0;
}

my ($dir, $portfile) = @ARGV;
my $sink = HttpSink->new(dir => $dir);
open my $fh, '>', $portfile or die;
print $fh $sink->port, "\n";
close $fh;
$SIG{TERM} = sub { $sink->stop; exit 0 };
sleep 1 while 1;
