# Helpers of the tools suite's shell tests.  scripts/test runs each test with
# PGHOST, PGPORT and PGUSER of a running throwaway cluster (tools/test/
# cluster.conf), PGBIN first in PATH and TELEMETRY_ROOT; a test prints TAP
# lines and exits non-zero when a check failed.
set -uo pipefail

ROOT=${TELEMETRY_ROOT:?TELEMETRY_ROOT is not set}
PUSH=$ROOT/scripts/push-specs
T=$(mktemp -d /tmp/tools-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
tests=0
fails=0

pass() { tests=$((tests + 1)); echo "ok $tests - $1"; }
fail() { tests=$((tests + 1)); fails=$((fails + 1)); echo "not ok $tests - $1"; }

# check DESC CMD...: the command succeeds
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3"
		printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"
	fi
}

# like TEXT ERE DESC: some line of TEXT matches
like() {
	if grep -Eq -- "$2" <<<"$1"; then
		pass "$3"
	else
		fail "$3"
		printf '#   no line matches /%s/ in:\n' "$2"
		sed 's/^/#     /' <<<"$1"
	fi
}

# unlike TEXT ERE DESC: no line of TEXT matches
unlike() {
	if grep -Eq -- "$2" <<<"$1"; then
		fail "$3"
		printf '#   a line matches /%s/:\n' "$2"
		grep -E -- "$2" <<<"$1" | sed 's/^/#     /'
	else
		pass "$3"
	fi
}

# q DB SQL: the query's rows, unaligned
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# new_db NAME: a fresh database with the extension and what the examples
# need registered first (tools/test/setup.sql)
new_db() {
	dropdb --if-exists "$1" >/dev/null 2>&1
	createdb "$1" && psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c 'CREATE EXTENSION telemetry' \
		-f "$ROOT/tools/test/setup.sql" >/dev/null || { echo "Bail out! cannot create database $1"; exit 1; }
}

# push ARGS...: run push-specs; sets $out, $err and $rc
push() {
	"$PUSH" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

done_testing() {
	echo "1..$tests"
	[ "$fails" -eq 0 ] && [ "$tests" -gt 0 ]
}
