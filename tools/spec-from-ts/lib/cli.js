'use strict';
// spec-from-ts [-o DIR] FILE...
//
// Without -o: prints one JSON array of every spec found in the files, in
// order, to stdout.  With -o DIR: writes each spec to DIR/<key>@<version>.json
// (an integer version N is written N.0.0, as the database registers it) and
// prints the paths written, one a line.  Errors go to stderr as
// FILE:LINE:COLUMN: message, and then nothing is printed or written: exit 1.
// Usage errors exit 2.
//
// spec-from-ts --batch DIR FILE... (for scripts/push-specs): like -o, but the
// specs of the N-th FILE go to DIR/N/ (so two files may hold the same
// key@version), and each line printed is "N<tab>PATH".

const fs = require('node:fs');
const path = require('node:path');
const { convertSource, specIdentity, stringify } = require('./convert');

const USAGE = 'usage: spec-from-ts [-o DIR] FILE...\n';

// The characters a file name may take from a key and a version: the
// database's rules for keys (a letter, then letters, digits, _ - .) and
// semver's (digits, letters, . - +).
const KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$/;

function parseArgs(argv) {
	const opts = { out: null, batch: false, files: [] };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--') {
			opts.files.push(...argv.slice(i + 1));
			break;
		} else if (a === '-h' || a === '--help') {
			opts.help = true;
		} else if (a === '-o' || a === '--output') {
			if (i + 1 >= argv.length) {
				throw new Error(`${a} needs a directory`);
			}
			opts.out = argv[++i];
		} else if (a === '--batch') {
			if (i + 1 >= argv.length) {
				throw new Error(`${a} needs a directory`);
			}
			opts.out = argv[++i];
			opts.batch = true;
		} else if (a.startsWith('--output=')) {
			opts.out = a.slice('--output='.length);
		} else if (a.startsWith('-o') && a.length > 2) {
			opts.out = a.slice(2);
		} else if (a.startsWith('-') && a !== '-') {
			throw new Error(`unknown option ${a}`);
		} else {
			opts.files.push(a);
		}
	}
	if (opts.out === '') {
		throw new Error('-o needs a directory');
	}
	return opts;
}

function main(argv, io) {
	let opts;
	try {
		opts = parseArgs(argv);
	} catch (e) {
		io.stderr(`spec-from-ts: ${e.message}\n${USAGE}`);
		return 2;
	}
	if (opts.help) {
		io.stdout(USAGE);
		return 0;
	}
	if (opts.files.length === 0) {
		io.stderr(USAGE);
		return 2;
	}

	const errors = [];
	const specs = [];
	for (const [index, file] of opts.files.entries()) {
		let text;
		try {
			text = fs.readFileSync(file, 'utf8');
		} catch (e) {
			errors.push(`${file}: cannot read: ${e.code || e.message}`);
			continue;
		}
		const r = convertSource(file, text);
		for (const e of r.errors) {
			errors.push(`${file}:${e.line}:${e.column}: ${e.message}`);
		}
		if (r.errors.length === 0 && r.specs.length === 0) {
			io.stderr(`${file}: warning: no exported spec found\n`);
		}
		for (const s of r.specs) {
			specs.push({ file, index: index + 1, ...s });
		}
	}

	let outputs = [];
	if (opts.out !== null) {
		const seen = new Map();
		for (const s of specs) {
			const where = `${s.file}:${s.line}:${s.column}`;
			const { key, version } = specIdentity(s.value);
			if (key === null || !KEY_RE.test(key)) {
				errors.push(`${where}: spec "${s.name}": meta.key (or meta.name) must be a key (a letter, then letters, digits, _ - .) to name its output file`);
				continue;
			}
			if (version === null || !VERSION_RE.test(version)) {
				errors.push(`${where}: spec "${s.name}": meta.version must be a semver string or a non-negative integer to name its output file`);
				continue;
			}
			const name = opts.batch ? path.join(String(s.index), `${key}@${version}.json`) : `${key}@${version}.json`;
			if (seen.has(name)) {
				errors.push(`${where}: spec "${s.name}": ${key}@${version} is also defined at ${seen.get(name)}`);
				continue;
			}
			seen.set(name, where);
			outputs.push({ name, spec: s });
		}
	}

	if (errors.length > 0) {
		io.stderr(errors.map((e) => e + '\n').join(''));
		return 1;
	}

	if (opts.out === null) {
		io.stdout(stringify(specs.map((s) => s.value)) + '\n');
		return 0;
	}
	const written = [];
	try {
		fs.mkdirSync(opts.out, { recursive: true });
		for (const o of outputs) {
			const target = path.join(opts.out, o.name);
			fs.mkdirSync(path.dirname(target), { recursive: true });
			const tmp = `${target}.tmp${process.pid}`;
			fs.writeFileSync(tmp, stringify(o.spec.value) + '\n');
			fs.renameSync(tmp, target);
			written.push(opts.batch ? `${o.spec.index}\t${target}` : target);
		}
	} catch (e) {
		io.stderr(`spec-from-ts: cannot write to ${opts.out}: ${e.code || e.message}\n`);
		return 1;
	}
	io.stdout(written.map((w) => w + '\n').join(''));
	return 0;
}

module.exports = { main, parseArgs };

if (require.main === module) {
	process.exitCode = main(process.argv.slice(2), {
		stdout: (s) => process.stdout.write(s),
		stderr: (s) => process.stderr.write(s),
	});
}
