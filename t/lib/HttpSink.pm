# HttpSink: a loopback HTTP/1.1 server for delivery tests and benchmarks.
#
# It records every request (method, path, headers, body) as one JSON file
# in a directory the test reads, and answers with scripted responses:
# a queue of {status, delay, retry_after, body} consumed one per request,
# then a default response (200 unless set).  Core Perl modules only.
#
#   my $sink = HttpSink->new;               # listens on 127.0.0.1, random port (or port => N)
#   $sink->url;                             # "http://127.0.0.1:PORT"
#   $sink->script({status => 503, retry_after => 1}, {status => 200});
#   $sink->set_default(status => 500);      # e.g. provider down
#   my @r = $sink->requests;                # [{method, path, headers, body, status}]
#   $sink->clear; $sink->stop;
#
# Each connection is served by its own process (keep-alive supported), so
# parallel requests run in parallel; the queue and the request counter are
# shared through files under flock.
package HttpSink;

use strict;
use warnings;
use Fcntl qw(:flock O_RDWR O_CREAT);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);

sub new
{
	my ($class, %opt) = @_;
	my $dir = $opt{dir} || tempdir('httpsink.XXXXXX', TMPDIR => 1, CLEANUP => 1);
	mkdir "$dir/req";
	my $self = bless { dir => $dir, record_bodies => $opt{record_bodies} // 1 }, $class;
	$self->set_default(status => 200);
	_write_file("$dir/queue", '');
	_write_file("$dir/seq", "0\n");

	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => $opt{port} // 0,
		Proto => 'tcp',
		Listen => 128,
		ReuseAddr => 1) or die "HttpSink: cannot listen: $!";
	$self->{port} = $listen->sockport;

	my $pid = fork();
	die "HttpSink: fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		POSIX::setpgid(0, 0);
		$SIG{CHLD} = 'IGNORE';
		$SIG{TERM} = sub { kill 'TERM', -$$; POSIX::_exit(0) };
		while (1)
		{
			my $conn = $listen->accept or next;
			my $child = fork();
			if (defined $child && $child == 0)
			{
				close $listen;
				$SIG{TERM} = 'DEFAULT';
				$self->_serve($conn);
				POSIX::_exit(0);
			}
			close $conn;
		}
	}
	close $listen;
	$self->{pid} = $pid;
	return $self;
}

sub url  { my $self = shift; return "http://127.0.0.1:$self->{port}"; }
sub port { return $_[0]->{port}; }
sub dir  { return $_[0]->{dir}; }

# Append scripted responses, answered in order before the default.
sub script
{
	my ($self, @responses) = @_;
	my $fh = _lock("$self->{dir}/queue");
	seek $fh, 0, 2;
	print $fh encode_json($_), "\n" for @responses;
	close $fh;
}

# The response given when the queue is empty.
sub set_default
{
	my ($self, %r) = @_;
	$r{status} //= 200;
	_write_file("$self->{dir}/default", encode_json(\%r));
}

# Every recorded request, in arrival order.
sub requests
{
	my $self = shift;
	my @files = sort glob("$self->{dir}/req/*.json");
	my @out;
	for my $f (@files)
	{
		open my $fh, '<', $f or next;
		local $/;
		my $r = decode_json(<$fh>);
		close $fh;
		$r->{body} = decode_base64($r->{body_b64} // '');
		delete $r->{body_b64};
		push @out, $r;
	}
	return @out;
}

sub count
{
	my $self = shift;
	my @files = glob("$self->{dir}/req/*.json");
	return scalar @files;
}

# Forget the recorded requests (the queue and default stay).
sub clear
{
	my $self = shift;
	unlink glob("$self->{dir}/req/*.json");
}

# Wait until $cond->() is true (checked every 50 ms); false on timeout.
sub wait_until
{
	my ($self, $cond, $timeout) = @_;
	my $end = time + ($timeout // 60);
	while (time < $end)
	{
		return 1 if $cond->();
		sleep 0.05;
	}
	return $cond->() ? 1 : 0;
}

sub stop
{
	my $self = shift;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	kill 'TERM', -$self->{pid};
	waitpid $self->{pid}, 0;
	delete $self->{pid};
}

sub DESTROY { my $self = shift; $self->stop if $self->{pid} && $$ != $self->{pid}; }

# ---- server side ----

sub _serve
{
	my ($self, $conn) = @_;
	binmode $conn;
	my $buf = '';
	while (1)
	{
		my $req = _read_request($conn, \$buf) or last;
		my $resp = $self->_next_response;
		$req->{status} = $resp->{status};
		$self->_record($req);
		sleep $resp->{delay} if $resp->{delay};
		my $body = $resp->{body} // ($resp->{status} >= 200 && $resp->{status} < 300 ? '{"status":1}' : 'error from sink');
		my $head = "HTTP/1.1 $resp->{status} Sink\r\n"
		  . "Content-Type: text/plain\r\n"
		  . "Content-Length: " . length($body) . "\r\n";
		$head .= "Retry-After: $resp->{retry_after}\r\n" if defined $resp->{retry_after};
		$head .= "Location: $resp->{location}\r\n" if defined $resp->{location};
		$head .= "\r\n";
		syswrite($conn, $head . $body) or last;
		last if ($req->{headers}{connection} // '') =~ /close/i;
	}
	close $conn;
}

# Read more bytes into the connection's buffer; false at EOF.
sub _fill
{
	my ($conn, $buf) = @_;
	my $n = sysread($conn, my $chunk, 65536);
	return 0 unless $n;
	$$buf .= $chunk;
	return 1;
}

sub _read_line
{
	my ($conn, $buf) = @_;
	while (1)
	{
		my $i = index($$buf, "\n");
		if ($i >= 0)
		{
			my $line = substr($$buf, 0, $i + 1, '');
			$line =~ s/\r?\n$//;
			return $line;
		}
		return undef if length($$buf) > 65536;
		_fill($conn, $buf) or return undef;
	}
}

sub _read_bytes
{
	my ($conn, $buf, $len) = @_;
	while (length($$buf) < $len)
	{
		_fill($conn, $buf) or return undef;
	}
	return substr($$buf, 0, $len, '');
}

sub _read_request
{
	my ($conn, $buf) = @_;
	my $first = _read_line($conn, $buf) or return undef;
	my ($method, $path) = split / /, $first;
	my %headers;
	while (defined(my $l = _read_line($conn, $buf)))
	{
		last if $l eq '';
		my ($k, $v) = split /:\s*/, $l, 2;
		$headers{lc $k} = $v;
	}
	my $body = '';
	if (my $len = $headers{'content-length'})
	{
		$body = _read_bytes($conn, $buf, $len);
		return undef unless defined $body;
	}
	elsif (($headers{'transfer-encoding'} // '') =~ /chunked/i)
	{
		while (defined(my $sz = _read_line($conn, $buf)))
		{
			$sz = hex($sz);
			if ($sz == 0) { _read_line($conn, $buf); last; }
			my $chunk = _read_bytes($conn, $buf, $sz);
			return undef unless defined $chunk;
			$body .= $chunk;
			_read_line($conn, $buf);
		}
	}
	return { method => $method, path => $path, headers => \%headers, body => $body };
}

sub _next_response
{
	my $self = shift;
	my $fh = _lock("$self->{dir}/queue");
	my @lines = <$fh>;
	my $resp;
	if (@lines)
	{
		$resp = decode_json(shift @lines);
		seek $fh, 0, 0;
		truncate $fh, 0;
		print $fh @lines;
	}
	close $fh;
	unless ($resp)
	{
		open my $d, '<', "$self->{dir}/default" or die;
		local $/;
		$resp = decode_json(<$d>);
		close $d;
	}
	$resp->{status} //= 200;
	return $resp;
}

sub _record
{
	my ($self, $req) = @_;
	my $fh = _lock("$self->{dir}/seq");
	my $n = <$fh> + 1;
	seek $fh, 0, 0;
	truncate $fh, 0;
	print $fh "$n\n";
	my $rec = {
		seq => $n,
		at => time,
		method => $req->{method},
		path => $req->{path},
		headers => $req->{headers},
		status => $req->{status},
		body_b64 => $self->{record_bodies} ? encode_base64($req->{body}, '') : '',
		body_len => length($req->{body}),
	};
	my $file = sprintf("%s/req/%010d.json", $self->{dir}, $n);
	_write_file("$file.tmp", encode_json($rec));
	rename "$file.tmp", $file;
	close $fh;
}

sub _lock
{
	my ($file) = @_;
	sysopen(my $fh, $file, O_RDWR | O_CREAT) or die "HttpSink: $file: $!";
	flock($fh, LOCK_EX) or die "HttpSink: flock: $!";
	return $fh;
}

sub _write_file
{
	my ($file, $content) = @_;
	open my $fh, '>', $file or die "HttpSink: $file: $!";
	binmode $fh;
	print $fh $content;
	close $fh;
}

1;
