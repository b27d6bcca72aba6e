# Shared helpers for scripts/test, scripts/demo and bench/*.  Source it; do not run it.
#
# Everything here works as root on a fresh Debian 12 machine: it installs the
# packages it needs, builds the extension, and runs PostgreSQL as the
# "postgres" user from a private copy of the server with the extension
# installed into it, so tests never depend on (or disturb) the system install.

TELEMETRY_ROOT=${TELEMETRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PG_MAJOR=${PG_MAJOR:-15}
PG_SYS_LIB=/usr/lib/postgresql/$PG_MAJOR
PG_SYS_SHARE=/usr/share/postgresql/$PG_MAJOR
PG_CONFIG=${PG_CONFIG:-$PG_SYS_LIB/bin/pg_config}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: install whichever of the Debian packages are missing.
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not root to install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

ensure_build_packages() {
	ensure_packages postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-client-$PG_MAJOR \
		libcurl4-openssl-dev zlib1g-dev libssl-dev libipc-run-perl make gcc
	id postgres >/dev/null 2>&1 || die "no postgres user after installing postgresql-$PG_MAJOR"
}

# build_extension: compile in the source tree.
build_extension() {
	log "building"
	make -C "$TELEMETRY_ROOT" -s PG_CONFIG="$PG_CONFIG" ${TELEMETRY_CFLAGS:+COPT="$TELEMETRY_CFLAGS"} >/dev/null ||
		die "build failed"
}

# private_install DIR: a copy of the server with the extension installed into
# it.  The server finds its share and lib directories relative to its own
# binary, so the copy is self-contained.  Sets PGBIN.
private_install() {
	local dir=$1
	mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql"
	cp -a "$PG_SYS_LIB" "$dir/usr/lib/postgresql/"
	cp -a "$PG_SYS_SHARE" "$dir/usr/share/postgresql/"
	make -C "$TELEMETRY_ROOT" -s PG_CONFIG="$PG_CONFIG" DESTDIR="$dir" install >/dev/null || die "install failed"
	PGBIN=$dir$PG_SYS_LIB/bin
	export PGBIN
	# TELEMETRY_SERVER_WRAPPER=FILE: a script put in place of the postgres
	# binary, which it runs as postgres.real next to itself (scripts/sanitize
	# uses it to run the server with AddressSanitizer).
	if [ -n "${TELEMETRY_SERVER_WRAPPER:-}" ]; then
		mv "$PGBIN/postgres" "$PGBIN/postgres.real"
		install -m 755 "$TELEMETRY_SERVER_WRAPPER" "$PGBIN/postgres"
	fi
}

# system_install: install the extension into the system server (for the demo).
system_install() {
	make -C "$TELEMETRY_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null || die "install failed"
	PGBIN=$PG_SYS_LIB/bin
	export PGBIN
}

# free_port: a TCP port nobody listens on.
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 50); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port"
}

as_pg() { runuser -u postgres -- "$@"; }

# start_cluster DATADIR PORT [EXTRA_CONF_FILE]: initdb and start a throwaway
# cluster owned by postgres, listening on loopback and a socket in DATADIR/..
start_cluster() {
	local data=$1 port=$2 extra=${3:-}
	local sock
	sock=$(dirname "$data")/sock
	mkdir -p "$sock" && chown postgres "$sock" "$(dirname "$data")"
	as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null || die "initdb failed"
	{
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$sock'"
		echo "shared_preload_libraries = 'telemetry'"
		echo "fsync = off"
		[ -n "$extra" ] && cat "$extra"
	} >>"$data/postgresql.conf"
	as_pg "$PGBIN/pg_ctl" -D "$data" -l "$data/../server.log" -w -t 60 start >/dev/null || {
		cat "$data/../server.log" >&2
		die "server did not start"
	}
	export PGHOST=$sock PGPORT=$port PGUSER=postgres
}

stop_cluster() {
	local data=$1
	[ -f "$data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
	return 0
}

# bench_setup: what every benchmark starts with: build, then a private
# install in a fresh temporary directory $WORK, which is removed (its
# cluster stopped first) on exit.
bench_setup() {
	ensure_build_packages
	build_extension
	WORK=$(mktemp -d /tmp/telemetry-bench.XXXXXX)
	chmod 755 "$WORK"
	trap 'stop_cluster "$WORK/data"; rm -rf "$WORK"' EXIT
	private_install "$WORK/inst"
}
