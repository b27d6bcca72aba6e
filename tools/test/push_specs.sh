#!/usr/bin/env bash
# scripts/push-specs against a throwaway cluster: loading twice is a no-op,
# one bad file leaves nothing registered and is named, --dry-run registers
# nothing, the connection comes from -d or libpq's environment, and spec
# documents never appear on a command line.
source "$(dirname "$0")/lib.sh"

# the catalog, with registration times: unchanged by a no-op
snapshot() {
	q "$1" "SELECT key || '@' || version, registered_at, md5(document::text) FROM telemetry.specs ORDER BY 1;
		SELECT event || '@' || version, spec FROM telemetry.event_catalog ORDER BY 1"
}
nspecs() { q "$1" 'SELECT count(*) FROM telemetry.specs'; }

# --- loading twice ---------------------------------------------------------
new_db push_twice
push -d push_twice "$ROOT/examples"
is "$rc" 0 'first load of examples/ succeeds'
is "$(grep -c ': new (registered)$' <<<"$out")" 3 'three specs are new'
is "$(grep -c ': unchanged (already registered)$' <<<"$out")" 4 'their other forms in examples/ts are unchanged'
like "$out" '^push-specs: 3 registered \(3 new, 0 new versions\), 4 unchanged$' 'summary of the first load'
like "$out" '/examples/ts/sigil\.telemetry\.ts: sigil\.telemetry@1\.0\.0: unchanged' 'a TypeScript spec is named by its file'
is "$(nspecs push_twice)" 3 'three specs registered'
before=$(snapshot push_twice)

push -d push_twice "$ROOT/examples"
is "$rc" 0 'second load succeeds'
is "$(grep -c ': unchanged (already registered)$' <<<"$out")" 7 'second load: every spec unchanged'
like "$out" '^push-specs: 0 registered \(0 new, 0 new versions\), 7 unchanged$' 'summary of the second load'
is "$(snapshot push_twice)" "$before" 'second load changes nothing in the catalog'

# a new version is reported as such
sed 's/"2\.1\.0"/"2.2.0"/g' "$ROOT/examples/shop.checkout.json" >"$T/shop-2.2.0.json"
push -d push_twice --dry-run "$T/shop-2.2.0.json"
is "$rc" 0 'dry run of a new version succeeds'
like "$out" 'shop-2\.2\.0\.json: shop\.checkout@2\.2\.0: would register \(new version; highest registered: 2\.1\.0\)$' 'a new version: would register, with the highest registered version'
is "$(snapshot push_twice)" "$before" 'the dry run registered nothing'

# a changed document under a registered version is refused
sed 's/"Checkout funnel"/"Checkout"/' "$ROOT/examples/shop.checkout.json" >"$T/shop-changed.json"
push -d push_twice "$T/shop-2.2.0.json" "$T/shop-changed.json"
is "$rc" 1 'a changed document under a registered version fails'
like "$err" "^push-specs: $T/shop-changed\.json: refused \(nothing was registered\):$" 'the refused file is named'
like "$err" 'ERROR: +42710: spec "shop\.checkout@2\.1\.0" is already registered with a different document' 'with the error and its SQLSTATE'
like "$err" 'HINT: +Publish the change under a new version' 'and its hint'
is "$out" '' 'nothing reported as registered'
is "$(snapshot push_twice)" "$before" 'the new version before it was rolled back'

# --- the changes of a new version ---------------------------------------------
# a new version lists what it changes against the highest registered version
# (telemetry_spec_diff), breaking changes marked "!"
new_db push_diff
cat >"$T/diff-1.json" <<'JSON'
{"meta": {"key": "diff.app", "version": "1.0.0"},
 "config": {"providers": [{"type": "segment", "config": {"writeKey": "wk_SECRET_ONE"}}]},
 "events": [{"key": "diff.app.e", "version": "1.0.0", "semantics": {"what": "w"}, "privacy": "public",
             "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}]}
JSON
sed 's/1\.0\.0/2.0.0/g; s/"b": {"type": "number"}/"c": {"type": "string"}/; s/wk_SECRET_ONE/wk_SECRET_TWO/' \
	"$T/diff-1.json" >"$T/diff-2.json"
push -d push_diff "$T/diff-1.json"
is "$rc" 0 'first version registers'
push -d push_diff --dry-run "$T/diff-2.json"
is "$rc" 0 'a new major version: dry run succeeds'
like "$out" 'diff-2\.json: diff\.app@2\.0\.0: would register \(new version; highest registered: 1\.0\.0\)$' 'the status line'
like "$out" '^      meta\.version: changed from "1\.0\.0" to "2\.0\.0"$' 'then its changes, one a line'
like "$out" '^      config\.providers\[0\]\.config: provider segment config changed \(writeKey\); its cursor continues$' 'a provider config change names the key'
unlike "$out" 'SECRET' 'and never a value'
like "$out" '^    ! events\[0\]\.properties\.b: property "b" removed \(allowed by the new major version\)$' 'a breaking change is marked'
like "$out" '^      events\[0\]\.properties\.c: property "c" added$' 'a compatible change is not'
like "$out" '^push-specs: 1 breaking changes \(marked !\)' 'the summary counts breaking changes'
sed 's/2\.0\.0/1.1.0/g' "$T/diff-2.json" >"$T/diff-3.json"
push -d push_diff "$T/diff-3.json"
is "$rc" 1 'the same change within the major version is refused'
like "$err" 'ERROR: +22023: events\[0\]\.properties\.b: property "b" removed since version 1\.0\.0 of event "diff\.app\.e"' 'naming the change'
push -d push_diff "$T/diff-1.json"
is "$rc" 0 'an unchanged spec'
unlike "$out" '^ {4}' 'lists no changes'

# --- one bad file in a directory ----------------------------------------------
new_db push_bad
mkdir -p "$T/specs/nested"
cp "$ROOT/examples/shop.checkout.json" "$T/specs/10-shop.json"
sed 's/"internal"/"secret"/; s/sigil\.telemetry/sigil.other/g' "$ROOT/examples/sigil.telemetry.json" \
	>"$T/specs/nested/20 it's \"bad\".json"
cp "$ROOT/examples/ts/support.desk.telemetry.ts" "$T/specs/nested/30-support.telemetry.ts"
echo 'not a spec' >"$T/specs/README.md"
push -d push_bad "$T/specs"
is "$rc" 1 'a directory with one bad file fails'
like "$err" "^push-specs: $T/specs/nested/20 it's \"bad\"\\.json: refused \\(nothing was registered\\):$" 'the bad file is named (a name with spaces and quotes)'
like "$err" 'ERROR: +22023: events\[0\]\.privacy: unknown privacy "secret"' 'with the database error'
is "$(nspecs push_bad)" 0 'nothing registered, not even the spec before the bad one'

push -d push_bad --dry-run "$T/specs"
is "$rc" 1 'a dry run reports the bad file too'
like "$err" "nested/20 it's \"bad\"\\.json: refused" 'and names it'

# a TypeScript file that cannot be converted: refused before connecting
rm "$T/specs/nested/20 it's \"bad\".json"
printf 'export const S: TelemetrySpec = {\n  meta: { key: "x", version: "1.0.0" },\n  events: [makeEvent()],\n};\n' \
	>"$T/specs/nested/25-calls.telemetry.ts"
push -d push_bad "$T/specs"
is "$rc" 1 'an unconvertible TypeScript spec fails'
like "$err" "^$T/specs/nested/25-calls\\.telemetry\\.ts:3:12: function calls are not supported$" 'the converter names file, line and column'
like "$err" "^push-specs: a .telemetry.ts file could not be converted; nothing was registered$" 'push-specs says nothing was registered'
is "$(nspecs push_bad)" 0 'nothing registered'

rm "$T/specs/nested/25-calls.telemetry.ts"
push -d push_bad "$T/specs"
is "$rc" 0 'without the bad files the directory loads'
is "$(q push_bad "SELECT string_agg(key, ',' ORDER BY key) FROM telemetry.specs")" 'shop.checkout,support.desk' \
	'.json and .telemetry.ts files found recursively, other files ignored'

# --- dry run -----------------------------------------------------------------
new_db push_dry
push -d push_dry --dry-run "$ROOT/examples"
is "$rc" 0 'dry run of examples/ succeeds'
is "$(grep -c ': new (would register)$' <<<"$out")" 3 'dry run: three new specs'
like "$out" '^push-specs: dry run: 3 would be registered \(3 new, 0 new versions\), 4 unchanged; nothing was registered$' 'dry run summary'
is "$(nspecs push_dry)" 0 'dry run registers nothing'

# --- connection ---------------------------------------------------------------
PGDATABASE=push_twice "$PUSH" "$ROOT/examples/sigil.telemetry.json" >"$T/out" 2>&1
is "$?" 0 'connection from libpq environment variables'
like "$(cat "$T/out")" 'sigil\.telemetry@1\.0\.0: unchanged' 'reaches the database PGDATABASE names'
push -d "dbname=push_twice application_name=ci" "$ROOT/examples/sigil.telemetry.json"
is "$rc" 0 'connection from a conninfo string'
push -d postgres "$ROOT/examples/sigil.telemetry.json"
is "$rc" 2 'a database without the extension: exit status 2'
like "$err" 'extension "telemetry" is not installed in database "postgres"' 'with a message'
push -d push_twice
is "$rc" 2 'no PATH: usage error'
push -d push_twice "$T/nowhere"
is "$rc" 2 'a missing PATH: usage error'

# --- documents never on a command line ---------------------------------------
# psql and the commands it runs are wrapped to record their arguments
mkdir -p "$T/spy"
for cmd in psql cat cp; do
	real=$(command -v "$cmd")
	printf '#!/bin/sh\nprintf "%%s\\n" "%s $*" >>"%s"\nexec "%s" "$@"\n' "$cmd" "$T/argv.log" "$real" >"$T/spy/$cmd"
	chmod +x "$T/spy/$cmd"
done
sed 's/"Core Sigil product telemetry"/"MARKER-9c1f in the document"/; s/"1\.0\.0"/"1.0.1"/' \
	"$ROOT/examples/sigil.telemetry.json" >"$T/marked.json"
PATH="$T/spy:$PATH" "$PUSH" -d push_twice "$T/marked.json" >"$T/out" 2>&1
is "$?" 0 'a spec loads through the wrappers'
argv=$(cat "$T/argv.log")
like "$argv" '^psql ' 'psql was run'
like "$argv" '^cat .*spec-1\.json' 'the document was read by psql from a file'
unlike "$argv" 'MARKER-9c1f' 'no command line holds the document'
is "$(q push_twice "SELECT telemetry_spec('sigil.telemetry', '1.0.1') #>> '{meta,description}'")" \
	'MARKER-9c1f in the document' 'the document arrived whole'

done_testing
