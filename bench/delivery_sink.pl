#!/usr/bin/perl
# Runs an HttpSink (t/lib/HttpSink.pm) for bench/delivery.sh: writes its
# port to the file named by $ARGV[1], records into the directory $ARGV[0],
# and stops the sink on SIGTERM.  With "count DIR [PATH]" instead, prints
# how many events the recorded batch requests carried (2xx only), how many
# requests and bytes, and the seconds from the first request to the last.
# With "latency DIR PATH", prints the number of events that carry a
# properties.trackedAt (unix seconds, when they were tracked) and the p50,
# p99 and max of (arrival of their request - trackedAt), in milliseconds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use HttpSink;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);

# The JSON of a recorded request's body (gunzipped).
sub body_json
{
	my ($body) = @_;
	if (substr($body, 0, 2) eq "\x1f\x8b")
	{
		my $raw;
		gunzip(\$body => \$raw) or die $GunzipError;
		$body = $raw;
	}
	return decode_json($body);
}

if ($ARGV[0] eq 'latency')
{
	my ($dir, $prefix) = @ARGV[1, 2];
	my $sink = bless { dir => $dir }, 'HttpSink';
	my @ms;
	for my $r ($sink->requests)
	{
		next if index($r->{path}, $prefix) != 0;
		next unless $r->{status} >= 200 && $r->{status} < 300;
		for my $item (@{ body_json($r->{body})->{batch} // [] })
		{
			my $t = $item->{properties}{trackedAt};
			push @ms, ($r->{at} - $t) * 1000 if defined $t;
		}
	}
	@ms = sort { $a <=> $b } @ms;
	my $pick = sub { @ms ? $ms[ int($_[0] * (@ms - 1) + 0.5) ] : 0 };
	printf "%d %.1f %.1f %.1f\n", scalar @ms, $pick->(0.5), $pick->(0.99), @ms ? $ms[-1] : 0;
	exit 0;
}

if ($ARGV[0] eq 'count')
{
	my ($dir, $prefix) = @ARGV[1, 2];
	my $sink = bless { dir => $dir }, 'HttpSink';
	my ($events, $requests, $bytes, $first, $last) = (0, 0, 0, undef, undef);
	for my $r ($sink->requests)
	{
		next if defined $prefix && index($r->{path}, $prefix) != 0;
		next unless $r->{status} >= 200 && $r->{status} < 300;
		my $j = body_json($r->{body});
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
