'use strict';
// The converter on source text: valid specs in both field-name generations,
// every unsupported construct refused at its line and column, which exports
// count as specs.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { convertSource, specIdentity, stringify, toPlain } = require('../lib/convert');

const ROOT = path.resolve(__dirname, '../../..');
const example = (p) => JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', p), 'utf8'));

function convert(text, file = 'x.telemetry.ts') {
	const r = convertSource(file, text);
	return { ...r, docs: r.specs.map((s) => toPlain(s.value)) };
}

function convertFile(p) {
	return convert(fs.readFileSync(path.join(ROOT, 'examples', p), 'utf8'), p);
}

test('the seed example, older field names (name, integer versions)', () => {
	const r = convertFile('ts/sigil.telemetry.ts');
	assert.deepEqual(r.errors, []);
	const want = example('sigil.telemetry.json');
	want.meta.version = 1;
	want.events[0].version = 1;
	assert.deepEqual(r.docs, [want]);
	assert.deepEqual(r.specs.map((s) => [s.name, s.line, s.column]), [['SigilTelemetry', 6, 14]]);
});

test('the seed example, newer field names (key, semver)', () => {
	const r = convertFile('ts/sigil.keyed.telemetry.ts');
	assert.deepEqual(r.errors, []);
	const want = example('sigil.telemetry.json');
	want.meta = { key: want.meta.name, ...want.meta };
	delete want.meta.name;
	want.events[0] = { key: want.events[0].name, ...want.events[0] };
	delete want.events[0].name;
	assert.deepEqual(r.docs, [want]);
});

test('the checkout example gives examples/shop.checkout.json', () => {
	const r = convertFile('ts/shop.checkout.telemetry.ts');
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs, [example('shop.checkout.json')]);
});

test('the reference spec gives examples/ts/support.desk.json; its helpers are skipped', () => {
	const r = convertFile('ts/support.desk.telemetry.ts');
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs, [example('ts/support.desk.json')]);
	assert.deepEqual(r.skipped, ['SUPPORT_CHANNELS']);
});

test('literals: strings, templates, numbers, negatives, booleans, null, nesting', () => {
	const r = convert(`export const S: TelemetrySpec = {
		meta: { key: 'k', "version": \`1.0.0\`, 'q"uote': 'it\\'s \\u00e9' },
		events: [{ n: 1.5e3, neg: -0.25, hex: 0x1F, sep: 1_000, zero: -0, t: true, f: false, z: null,
			a: [[], {}, [1, 'two', { three: 3 }]], 10: 'numeric key', 'x-y': \`multi
line\` }],
	};`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs, [{
		meta: { key: 'k', version: '1.0.0', 'q"uote': 'it\'s é' },
		events: [{
			n: 1500, neg: -0.25, hex: 31, sep: 1000, zero: 0, t: true, f: false, z: null,
			a: [[], {}, [1, 'two', { three: 3 }]], 10: 'numeric key', 'x-y': 'multi\nline',
		}],
	}]);
	// keys keep their source order, also integer-like ones
	assert.match(stringify(r.specs[0].value), /"sep": 1000,\n\s+"zero": 0,[\s\S]*"10": "numeric key",\n\s+"x-y"/);
});

test('StabilityEnum.X is the lowercase stability; process.env.NAME an env reference', () => {
	const r = convert(`export const S = {
		meta: { key: 'k', version: 1, stability: StabilityEnum.Deprecated },
		config: { providers: [{ type: 'segment', config: { writeKey: process.env.SEGMENT_WRITE_KEY } },
			{ type: 'posthog', config: { projectApiKey: process.env['POSTHOG_KEY']! } }] },
		events: [{ stability: StabilityEnum.Beta }],
	};`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs[0].meta.stability, 'deprecated');
	assert.deepEqual(r.docs[0].events[0].stability, 'beta');
	assert.deepEqual(r.docs[0].config.providers[0].config.writeKey, { env: 'SEGMENT_WRITE_KEY' });
	assert.deepEqual(r.docs[0].config.providers[1].config.projectApiKey, { env: 'POSTHOG_KEY' });
});

test('as const, satisfies, <T>, !, parentheses and type annotations are ignored', () => {
	const r = convert(`export const A: TelemetrySpec = ({ meta: { key: 'a', version: 1 } as const, events: [] } as const);
export const B = { meta: ({ key: 'b' }) satisfies Meta, events: [(1 as number), <number>2, (3)!] } satisfies TelemetrySpec;
export const C = <TelemetrySpec>{ meta: { key: 'c' }, events: [] };
export const D = ({ meta: { key: 'd' }, events: [] } as unknown as TelemetrySpec);`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs, [
		{ meta: { key: 'a', version: 1 }, events: [] },
		{ meta: { key: 'b' }, events: [1, 2, 3] },
		{ meta: { key: 'c' }, events: [] },
		{ meta: { key: 'd' }, events: [] },
	]);
});

// Each unsupported construct, placed after `events: [` on line 3 (column 12).
const REFUSED = [
	['a function call', 'makeEvent()', /^function calls are not supported$/],
	['a method call', 'events.map(e => e)', /^function calls are not supported$/],
	['new', 'new Date()', /"new" expressions are not supported/],
	['an array spread', '...others', /^spread elements \(\.\.\.\) are not supported$/],
	['an object spread', '{ ...base }', /^spread properties \(\.\.\.\) are not supported$/, 14],
	['an identifier', 'someEvent', /^identifier "someEvent" is not supported \(only literals, StabilityEnum\.X and process\.env\.NAME are\)$/],
	['undefined', 'undefined', /^identifier "undefined" is not supported/],
	['a computed key', '{ [name]: 1 }', /^computed property names are not supported$/, 14],
	['a computed string key', "{ ['a']: 1 }", /^computed property names are not supported$/, 14],
	['a shorthand property', '{ name }', /^shorthand property "name" is not supported \(write name: value\)$/, 14],
	['a template substitution', '`v${1}`', /^template literals with substitutions \(\$\{\.\.\.\}\) are not supported$/],
	['a tagged template', 'tag`x`', /^tagged templates are not supported$/],
	['a getter', '{ get key() { return "k"; } }', /^getters are not supported$/, 14],
	['a setter', '{ set key(v) {} }', /^setters are not supported$/, 14],
	['a method', '{ key() { return "k"; } }', /^methods are not supported$/, 14],
	['an arrow function', '() => 1', /^functions are not supported$/],
	['a function expression', 'function () { return 1; }', /^functions are not supported$/],
	['a conditional', 'prod ? 1 : 0', /^conditional expressions/],
	['a binary operator', "'a' + 'b'", /^operator "\+" is not supported/],
	['??', "process.env.X ?? 'dflt'", /^operator "\?\?" is not supported/],
	['a unary plus', '+1', /^unary "\+" is not supported/],
	['a negated non-number', '-x', /^"-" is supported only before a number literal$/],
	['not', '!0', /^unary "!" is not supported/],
	['a bigint', '10n', /^bigint literals are not supported$/],
	['a regular expression', '/x/', /^regular expressions are not supported$/],
	['an array hole', '[1, , 2]', /^array holes are not supported$/, 16],
	['an out-of-range number', '1e999', /^number out of range$/],
	['another enum', 'PrivacyEnum.Internal', /^"PrivacyEnum\.Internal" is not supported/],
	['a qualified StabilityEnum', 'lib.StabilityEnum.Beta', /^"lib\.StabilityEnum\.Beta" is not supported/],
	['StabilityEnum by index', "StabilityEnum['Beta']", /^"StabilityEnum\['Beta'\]" is not supported/],
	['optional chaining on env', 'process.env?.X', /^"process\.env\?\.X" is not supported/],
	['process.env itself', 'process.env', /^"process\.env" is not supported/],
	['an env index that is not a literal', 'process.env[name]', /^"process\.env\[name\]" is not supported/],
	['__proto__', "{ __proto__: {} }", /^property "__proto__" is not supported$/, 14],
	['a duplicate key', '{ a: 1, a: 2 }', /^duplicate property "a" \(first at line 3, column 14\)$/, 20],
	['typeof', "typeof 'x'", /^"typeof" is not supported$/],
	['this', 'this', /^"this" is not supported$/],
];

for (const [what, expr, message, column = 12] of REFUSED) {
	test(`refused: ${what}`, () => {
		const text = `export const S: TelemetrySpec = {\n  meta: { key: 'k', version: 1 },\n  events: [${expr}],\n};\n`;
		const r = convert(text);
		assert.equal(r.specs.length, 0, 'no spec is produced');
		assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
		assert.equal(r.errors[0].line, 3);
		assert.equal(r.errors[0].column, column);
		assert.match(r.errors[0].message, message);
	});
}

test('every error of a file is reported, in order', () => {
	const r = convert(`export const A: TelemetrySpec = {
  meta: { key: f() },
  events: [...x],
};
export const B: TelemetrySpec = { meta: { key }, events: [] };
`);
	assert.deepEqual(r.errors.map((e) => [e.line, e.column]), [[2, 16], [3, 12], [5, 43]]);
	assert.equal(r.specs.length, 0);
});

test('syntax errors are reported at their position', () => {
	const r = convert("export const S: TelemetrySpec = {\n  meta: { key: 'k' \n  events: [],\n};\n");
	assert.ok(r.errors.length >= 1);
	assert.deepEqual([r.errors[0].line, r.errors[0].column], [3, 3]);
	assert.match(r.errors[0].message, /^syntax error: ',' expected/);
});

test('a spec must be a const object literal', () => {
	let r = convert("export let S: TelemetrySpec = { meta: {}, events: [] };");
	assert.match(r.errors[0].message, /^spec "S" must be declared with const$/);
	assert.deepEqual([r.errors[0].line, r.errors[0].column], [1, 12]);
	r = convert('export const S: TelemetrySpec = defineSpec({ meta: {}, events: [] });');
	assert.match(r.errors[0].message, /^spec "S" must be an object literal$/);
	assert.deepEqual([r.errors[0].line, r.errors[0].column], [1, 33]);
});

test('non-spec exports are skipped, without being converted', () => {
	const r = convert(`import { z } from 'zod';
export const helper = () => makeThings(...args);
export const NAMES = ['a', 'b'] as const;
export const config = { meta: { key: 'not a spec without events' } };
export const shape = z.object({ meta: z.string(), events: z.array() });
export function track() { return 1; }
export class Tracker {}
export type Alias = TelemetrySpec;
export interface Meta { key: string }
export enum Kind { A }
const localSpec: TelemetrySpec = { meta: { key: 'private' }, events: [] };
export const S: TelemetrySpec = { meta: { key: 's', version: 1 }, events: [] };
`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.docs, [{ meta: { key: 's', version: 1 }, events: [] }]);
	assert.deepEqual(r.skipped, ['helper', 'NAMES', 'config', 'shape']);
});

test('several specs in one file, in source order, by every form of export', () => {
	const r = convert(`const Local = { meta: { key: 'local', version: 1 }, events: [] };
export const First: TelemetrySpec = { meta: { key: 'first', version: '1.0.0' }, events: [] },
	Second: TelemetrySpec = { meta: { key: 'second', version: '1.0.0' }, events: [] };
export const Shaped = { meta: { key: 'shaped', version: 2 }, events: [] };
const Renamed = { meta: { key: 'renamed', version: 3 }, events: [] } satisfies TelemetrySpec;
export { Local, Renamed as Published };
export default { meta: { key: 'default', version: 4 }, events: [] };
`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.specs.map((s) => [s.name, s.value.get('meta').get('key')]), [
		['Local', 'local'], ['First', 'first'], ['Second', 'second'], ['Shaped', 'shaped'],
		['Published', 'renamed'], ['default', 'default'],
	]);
});

test('export default of a local const, and a spec exported twice is converted once', () => {
	const r = convert(`export const S: TelemetrySpec = { meta: { key: 's', version: 1 }, events: [] };
export { S as T };
export default S;
`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.specs.map((s) => s.name), ['S']);
});

test('declare and type-only exports are not specs', () => {
	const r = convert(`export declare const S: TelemetrySpec;
const T: TelemetrySpec = { meta: { key: 't' }, events: [] };
export type { T };
`);
	assert.deepEqual(r.errors, []);
	assert.deepEqual(r.specs, []);
});

test('specIdentity: key or name, integer versions as N.0.0', () => {
	const id = (text) => specIdentity(convert(`export const S = ${text};`).specs[0].value);
	assert.deepEqual(id("{ meta: { name: 'a', version: 1 }, events: [] }"), { key: 'a', version: '1.0.0' });
	assert.deepEqual(id("{ meta: { key: 'b', name: 'x', version: '2.0.0-rc.1' }, events: [] }"), { key: 'b', version: '2.0.0-rc.1' });
	assert.deepEqual(id("{ meta: { key: 'c', version: 1.5 }, events: [] }"), { key: 'c', version: null });
	assert.deepEqual(id("{ meta: { version: -1 }, events: [] }"), { key: null, version: null });
});
