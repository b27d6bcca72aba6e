# CitusCluster: a Citus coordinator and its workers for TAP tests (issue 17).
#
# Each node is a PostgreSQL::Test::Cluster (owned by the user running the
# test, private port and socket directory) that also listens on 127.0.0.1,
# with shared_preload_libraries = 'citus,telemetry' and CREATE EXTENSION
# citus in the database.  The coordinator knows its own address
# (citus_set_coordinator_host) and has every worker registered
# (citus_add_node), all on loopback.  Citus must be installed next to the
# server the test runs (scripts/test's citus suite does that from the
# cached build of scripts/citus-build).  Every node is stopped when the test
# exits (PostgreSQL::Test::Cluster's END block), or earlier by $c->stop.
#
#   my $c = CitusCluster->new(workers => 2, conf => "telemetry.maintenance_interval = '1h'");
#   $c->coordinator->safe_psql('postgres', 'CREATE EXTENSION telemetry');
#   for my $w ($c->workers) { ... $w->name, $w->port ... }
#   my @out = $c->safe_psql_each('SELECT count(*) FROM telemetry.events');  # coordinator first
#   $c->node_by_port($port);   # the node behind a port from pg_dist_node or citus_shards
#
# Options: name (prefix of the node names, default "citus"), workers (default
# 2), database (default "postgres"; created on every node when it is another
# one), conf (more postgresql.conf lines for every node), telemetry (true:
# CREATE EXTENSION telemetry on the coordinator once the workers are
# registered, which Citus propagates to them).
package CitusCluster;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub new
{
	my ($class, %opt) = @_;
	my $name = $opt{name} // 'citus';
	my $nworkers = $opt{workers} // 2;
	my $db = $opt{database} // 'postgres';
	my $self = bless { database => $db, nodes => [] }, $class;

	for my $role ('coordinator', map { "worker$_" } 1 .. $nworkers)
	{
		my $node = PostgreSQL::Test::Cluster->new("${name}_$role");
		$node->init;
		# Citus must come first in shared_preload_libraries.  Multi-node
		# writes commit with two-phase commit, so prepared transactions are
		# on.  Background workers: Citus's maintenance daemon, telemetry's
		# launcher, probe and database workers.  SSL between nodes would
		# only cost certificate set-up here.
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus,telemetry'
listen_addresses = '127.0.0.1'
max_prepared_transactions = 20
max_worker_processes = 16
citus.node_conninfo = 'sslmode=disable'
});
		$node->append_conf('postgresql.conf', $opt{conf}) if defined $opt{conf};
		push @{ $self->{nodes} }, $node;
	}
	$_->start for @{ $self->{nodes} };

	for my $node (@{ $self->{nodes} })
	{
		$node->safe_psql('postgres', qq{CREATE DATABASE "$db"}) if $db ne 'postgres';
		$node->safe_psql($db, 'CREATE EXTENSION citus');
	}
	my $coord = $self->coordinator;
	$coord->safe_psql($db,
		sprintf(q{SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', %d)}, $coord->port));
	for my $w ($self->workers)
	{
		$coord->safe_psql($db,
			sprintf(q{SELECT pg_catalog.citus_add_node('127.0.0.1', %d)}, $w->port));
	}
	$coord->safe_psql($db, 'CREATE EXTENSION telemetry') if $opt{telemetry};
	return $self;
}

# The database the cluster was set up in.
sub database { return $_[0]->{database}; }

# The coordinator node (a PostgreSQL::Test::Cluster).
sub coordinator { return $_[0]->{nodes}[0]; }

# The worker nodes, in the order they were registered.
sub workers
{
	my $self = shift;
	my @n = @{ $self->{nodes} };
	return @n[ 1 .. $#n ];
}

# Every node, coordinator first.
sub nodes { return @{ $_[0]->{nodes} }; }

# The node listening on PORT (as pg_dist_node and citus_shards show it).
sub node_by_port
{
	my ($self, $port) = @_;
	my ($node) = grep { $_->port == $port } @{ $self->{nodes} };
	die "no node of this cluster listens on port $port" unless $node;
	return $node;
}

# safe_psql_each(SQL [, DATABASE]): SQL's output on every node, coordinator
# first; dies if it fails on any node.
sub safe_psql_each
{
	my ($self, $sql, $db) = @_;
	return map { $_->safe_psql($db // $self->{database}, $sql) } @{ $self->{nodes} };
}

# Stop every node (fast shutdown), the coordinator first (its connections
# to the workers end before the workers do).
sub stop
{
	my $self = shift;
	for my $node (@{ $self->{nodes} })
	{
		$node->stop('fast') if defined $node->{_pid};
	}
	return;
}

1;
