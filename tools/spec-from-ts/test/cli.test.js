'use strict';
// The command line: stdout, -o file names, errors as FILE:LINE:COLUMN:
// message with exit status 1, usage errors; the executable wrapper.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { main } = require('../lib/cli');

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'tools/spec-from-ts/spec-from-ts');
const EX = path.join(ROOT, 'examples/ts');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spec-from-ts-test-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The command in this process (loading TypeScript once), or through the
// wrapper script as a user runs it.
function run(...args) {
	const r = { stdout: '', stderr: '' };
	r.status = main(args, { stdout: (x) => { r.stdout += x; }, stderr: (x) => { r.stderr += x; } });
	return r;
}

function spawn(...args) {
	const r = spawnSync(BIN, args, { encoding: 'utf8' });
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(name, text) {
	const p = path.join(tmp, name);
	fs.writeFileSync(p, text);
	return p;
}

const json = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

test('without -o: one JSON array of every spec of every file, in order', () => {
	const r = spawn(path.join(EX, 'sigil.telemetry.ts'), path.join(EX, 'support.desk.telemetry.ts'));
	assert.equal(r.stderr, '');
	assert.equal(r.status, 0);
	const docs = JSON.parse(r.stdout);
	assert.equal(docs.length, 2);
	assert.equal(docs[0].meta.name, 'sigil.telemetry');
	assert.equal(docs[0].meta.version, 1);
	assert.deepEqual(docs[1], json(path.join(EX, 'support.desk.json')));
});

test('several specs in one file each become a document', () => {
	const f = write('two.telemetry.ts', `export const A: TelemetrySpec = { meta: { key: 'a', version: 1 }, events: [] };
export const helper = () => 1;
export const B: TelemetrySpec = { meta: { key: 'b', version: '2.0.0' }, events: [] };
`);
	const r = run(f);
	assert.equal(r.status, 0);
	assert.deepEqual(JSON.parse(r.stdout).map((d) => d.meta.key), ['a', 'b']);
});

test('-o writes <key>@<version>.json, an integer version as N.0.0', () => {
	const out = path.join(tmp, 'out');
	const r = run('-o', out, path.join(EX, 'sigil.telemetry.ts'), path.join(EX, 'support.desk.telemetry.ts'));
	assert.equal(r.stderr, '');
	assert.equal(r.status, 0);
	assert.deepEqual(fs.readdirSync(out).sort(), ['sigil.telemetry@1.0.0.json', 'support.desk@3.2.0-rc.1.json']);
	assert.equal(r.stdout, `${out}/sigil.telemetry@1.0.0.json\n${out}/support.desk@3.2.0-rc.1.json\n`);
	assert.deepEqual(json(path.join(out, 'support.desk@3.2.0-rc.1.json')), json(path.join(EX, 'support.desk.json')));
	assert.equal(json(path.join(out, 'sigil.telemetry@1.0.0.json')).meta.version, 1, 'the document keeps its version');
	const text = fs.readFileSync(path.join(out, 'sigil.telemetry@1.0.0.json'), 'utf8');
	assert.match(text, /^\{\n {2}"meta": \{\n {4}"name": "sigil.telemetry",\n/);
	assert.ok(text.endsWith('}\n'));
});

test('-o refuses two specs with the same key and version', () => {
	const out = path.join(tmp, 'dup');
	const older = path.join(EX, 'sigil.telemetry.ts');
	const newer = path.join(EX, 'sigil.keyed.telemetry.ts');
	const r = run('-o', out, older, newer);
	assert.equal(r.status, 1);
	assert.equal(r.stdout, '');
	assert.equal(r.stderr, `${newer}:6:14: spec "SigilTelemetry": sigil.telemetry@1.0.0 is also defined at ${older}:6:14\n`);
	assert.ok(!fs.existsSync(out), 'nothing written');
});

test('--batch puts each file\'s specs in a directory of its own', () => {
	const out = path.join(tmp, 'batch');
	const r = run('--batch', out, path.join(EX, 'sigil.telemetry.ts'), path.join(EX, 'sigil.keyed.telemetry.ts'));
	assert.equal(r.status, 0);
	assert.equal(r.stdout, `1\t${out}/1/sigil.telemetry@1.0.0.json\n2\t${out}/2/sigil.telemetry@1.0.0.json\n`);
	assert.equal(json(path.join(out, '2/sigil.telemetry@1.0.0.json')).meta.key, 'sigil.telemetry');
});

test('-o refuses a key or version that cannot name a file', () => {
	const f = write('unsafe.telemetry.ts', `export const A: TelemetrySpec = { meta: { key: '../etc/x', version: 1 }, events: [] };
export const B: TelemetrySpec = { meta: { key: 'b', version: '1/2' }, events: [] };
export const C: TelemetrySpec = { meta: { version: 1 }, events: [] };
`);
	const out = path.join(tmp, 'unsafe');
	const r = run('-o', out, f);
	assert.equal(r.status, 1);
	const lines = r.stderr.trimEnd().split('\n');
	assert.equal(lines.length, 3);
	assert.match(lines[0], new RegExp(`^${f}:1:14: spec "A": meta.key \\(or meta.name\\) must be a key`));
	assert.match(lines[1], new RegExp(`^${f}:2:14: spec "B": meta.version must be a semver string`));
	assert.match(lines[2], new RegExp(`^${f}:3:14: spec "C": meta.key`));
	assert.ok(!fs.existsSync(out));
});

test('errors: FILE:LINE:COLUMN: message on stderr, exit 1, nothing on stdout', () => {
	const good = path.join(EX, 'sigil.telemetry.ts');
	const bad = write('bad.telemetry.ts', `export const S: TelemetrySpec = {
  meta: { key: \`k-\${env}\`, version: 1 },
  events: [{ ...base }, makeEvent()],
};
`);
	const r = spawn(good, bad);
	assert.equal(r.status, 1);
	assert.equal(r.stdout, '');
	assert.equal(r.stderr, [
		`${bad}:2:16: template literals with substitutions (\${...}) are not supported`,
		`${bad}:3:14: spread properties (...) are not supported`,
		`${bad}:3:25: function calls are not supported`,
		'',
	].join('\n'));

	const out = path.join(tmp, 'not-written');
	assert.equal(run('-o', out, good, bad).status, 1);
	assert.ok(!fs.existsSync(out), '-o writes nothing when a file has errors');
});

test('a file that cannot be read is an error', () => {
	const missing = path.join(tmp, 'missing.telemetry.ts');
	const r = run(missing);
	assert.equal(r.status, 1);
	assert.equal(r.stderr, `${missing}: cannot read: ENOENT\n`);
});

test('a file without specs: a warning, and an empty array', () => {
	const f = write('none.telemetry.ts', 'export const helper = () => 1;\n');
	const r = run(f);
	assert.equal(r.status, 0);
	assert.equal(r.stdout, '[]\n');
	assert.equal(r.stderr, `${f}: warning: no exported spec found\n`);
});

test('usage errors exit 2', () => {
	assert.equal(run().status, 2);
	assert.equal(run('-o').status, 2);
	const r = spawn('--frobnicate', path.join(EX, 'sigil.telemetry.ts'));
	assert.equal(r.status, 2);
	assert.match(r.stderr, /unknown option --frobnicate/);
	assert.match(run('--help').stdout, /^usage: spec-from-ts \[-o DIR\] FILE\.\.\./);
});
