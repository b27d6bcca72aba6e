'use strict';
// Reads a *.telemetry.ts file with the TypeScript parser and turns its
// exported TelemetrySpec object literals into spec documents, without
// executing anything: only literals and two known forms are understood,
// everything else is an error with the file, line and column.
//
// What counts as a spec (everything else exported is skipped):
//   - an exported const annotated with a type named TelemetrySpec
//     (`export const S: TelemetrySpec = {...}`, also `x.TelemetrySpec`),
//   - an exported const or default export whose value is asserted or checked
//     as TelemetrySpec (`{...} satisfies TelemetrySpec`, `{...} as TelemetrySpec`),
//   - an exported const or default export whose value is an object literal
//     with both a `meta` and an `events` property.
// `export { S }`, `export { S as T }` and `export default S` of a const of
// the same file count like `export const`.
//
// Values: object, array, string, number (also negative), boolean, null and
// template-without-substitution literals; StabilityEnum.X is the stability
// "x" (X lowercased); process.env.NAME (or process.env['NAME']) is
// {"env": "NAME"}.  `as`, `satisfies`, `<T>x`, the non-null `x!` and
// parentheses are looked through.

const ts = require('typescript');

const SPEC_TYPE = 'TelemetrySpec';

const KIND_NAMES = {
	[ts.SyntaxKind.CallExpression]: 'function calls are not supported',
	[ts.SyntaxKind.NewExpression]: '"new" expressions are not supported',
	[ts.SyntaxKind.SpreadElement]: 'spread elements (...) are not supported',
	[ts.SyntaxKind.SpreadAssignment]: 'spread properties (...) are not supported',
	[ts.SyntaxKind.ShorthandPropertyAssignment]: null,	/* message names the property */
	[ts.SyntaxKind.TemplateExpression]: 'template literals with substitutions (${...}) are not supported',
	[ts.SyntaxKind.TaggedTemplateExpression]: 'tagged templates are not supported',
	[ts.SyntaxKind.GetAccessor]: 'getters are not supported',
	[ts.SyntaxKind.SetAccessor]: 'setters are not supported',
	[ts.SyntaxKind.MethodDeclaration]: 'methods are not supported',
	[ts.SyntaxKind.ArrowFunction]: 'functions are not supported',
	[ts.SyntaxKind.FunctionExpression]: 'functions are not supported',
	[ts.SyntaxKind.ClassExpression]: 'classes are not supported',
	[ts.SyntaxKind.ConditionalExpression]: 'conditional expressions (a ? b : c) are not supported',
	[ts.SyntaxKind.BinaryExpression]: null,	/* message names the operator */
	[ts.SyntaxKind.OmittedExpression]: 'array holes are not supported',
	[ts.SyntaxKind.BigIntLiteral]: 'bigint literals are not supported',
	[ts.SyntaxKind.RegularExpressionLiteral]: 'regular expressions are not supported',
	[ts.SyntaxKind.AwaitExpression]: '"await" is not supported',
	[ts.SyntaxKind.TypeOfExpression]: '"typeof" is not supported',
	[ts.SyntaxKind.VoidExpression]: '"void" is not supported',
	[ts.SyntaxKind.DeleteExpression]: '"delete" is not supported',
	[ts.SyntaxKind.PostfixUnaryExpression]: 'increment and decrement are not supported',
	[ts.SyntaxKind.ThisKeyword]: '"this" is not supported',
	[ts.SyntaxKind.SuperKeyword]: '"super" is not supported',
	[ts.SyntaxKind.ImportKeyword]: '"import" is not supported',
	[ts.SyntaxKind.JsxElement]: 'JSX is not supported',
	[ts.SyntaxKind.JsxSelfClosingElement]: 'JSX is not supported',
	[ts.SyntaxKind.JsxFragment]: 'JSX is not supported',
	[ts.SyntaxKind.YieldExpression]: '"yield" is not supported',
};

const ALLOWED = 'only literals, StabilityEnum.X and process.env.NAME are';

// Errors of the file being converted: [{node, message}].  A construct that
// is not supported is recorded and converted as null, so that one run reports
// every error of a file.
let failures = null;

function fail(node, message) {
	failures.push({ node, message });
	return null;
}

// A JSON object that keeps its keys in source order (JavaScript objects put
// integer-like keys first) and cannot be confused with a prototype.
class JsonObject {
	constructor() {
		this.entries = new Map();
	}

	get(k) {
		return this.entries.get(k);
	}

	has(k) {
		return this.entries.has(k);
	}
}

// Look through what only matters to the type checker: parentheses, `as`
// (including `as const`), `satisfies`, `<T>x` and the non-null `x!`.
// Returns the inner expression and the types that were asserted.
function unwrap(node) {
	const types = [];
	for (;;) {
		if (ts.isParenthesizedExpression(node) || ts.isNonNullExpression(node)) {
			node = node.expression;
		} else if (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isTypeAssertionExpression(node)) {
			types.push(node.type);
			node = node.expression;
		} else {
			return { node, types };
		}
	}
}

// Is this type node a reference to TelemetrySpec (or ns.TelemetrySpec)?
function isSpecType(type) {
	if (!type || !ts.isTypeReferenceNode(type)) {
		return false;
	}
	const name = type.typeName;
	const last = ts.isQualifiedName(name) ? name.right : name;
	return ts.isIdentifier(last) && last.text === SPEC_TYPE;
}

// The name of an object literal member as JavaScript would compute it, or
// null when it is not a literal name.
function literalName(name) {
	if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) {
		return name.text;
	}
	if (ts.isNumericLiteral(name)) {
		return String(Number(name.text));
	}
	return null;
}

function hasMember(obj, wanted) {
	return obj.properties.some((p) => p.name && literalName(p.name) === wanted);
}

// Does this declaration (type annotation and initializer) describe a spec?
function looksLikeSpec(typeNode, init) {
	if (isSpecType(typeNode)) {
		return true;
	}
	if (!init) {
		return false;
	}
	const { node, types } = unwrap(init);
	if (types.some(isSpecType)) {
		return true;
	}
	return ts.isObjectLiteralExpression(node) && hasMember(node, 'meta') && hasMember(node, 'events');
}

function describeAccess(node) {
	return node.getText().replace(/\s+/g, '');
}

// process.env.NAME or process.env['NAME'] -> NAME, else null.
function envName(node) {
	let nameNode;
	if (ts.isPropertyAccessExpression(node)) {
		nameNode = node.name;
	} else if (ts.isElementAccessExpression(node)) {
		nameNode = node.argumentExpression;
		if (!ts.isStringLiteral(nameNode) && !ts.isNoSubstitutionTemplateLiteral(nameNode)) {
			return null;
		}
	} else {
		return null;
	}
	const env = node.expression;
	if (ts.isPropertyAccessExpression(env) && ts.isIdentifier(env.expression) &&
		env.expression.text === 'process' && ts.isIdentifier(env.name) && env.name.text === 'env' &&
		!env.questionDotToken && !node.questionDotToken) {
		return nameNode.text;
	}
	return null;
}

// Convert one expression to a value: null, boolean, number, string, array
// or JsonObject.
function value(init) {
	const { node } = unwrap(init);
	switch (node.kind) {
	case ts.SyntaxKind.ObjectLiteralExpression:
		return object(node);
	case ts.SyntaxKind.ArrayLiteralExpression:
		return node.elements.map((e) => {
			if (ts.isSpreadElement(e) || ts.isOmittedExpression(e)) {
				return fail(e, KIND_NAMES[e.kind]);
			}
			return value(e);
		});
	case ts.SyntaxKind.StringLiteral:
	case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
		return node.text;
	case ts.SyntaxKind.NumericLiteral:
		return number(node, Number(node.text));
	case ts.SyntaxKind.PrefixUnaryExpression: {
		const operand = unwrap(node.operand).node;
		if (node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(operand)) {
			return number(node, -Number(operand.text));
		}
		if (node.operator === ts.SyntaxKind.MinusToken) {
			return fail(node, '"-" is supported only before a number literal');
		}
		return fail(node, `unary "${ts.tokenToString(node.operator)}" is not supported (${ALLOWED})`);
	}
	case ts.SyntaxKind.TrueKeyword:
		return true;
	case ts.SyntaxKind.FalseKeyword:
		return false;
	case ts.SyntaxKind.NullKeyword:
		return null;
	case ts.SyntaxKind.PropertyAccessExpression:
	case ts.SyntaxKind.ElementAccessExpression: {
		const env = envName(node);
		if (env !== null) {
			const o = new JsonObject();
			o.entries.set('env', env);
			return o;
		}
		if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) &&
			node.expression.text === 'StabilityEnum' && ts.isIdentifier(node.name) && !node.questionDotToken) {
			return node.name.text.toLowerCase();
		}
		return fail(node, `"${describeAccess(node)}" is not supported (${ALLOWED})`);
	}
	case ts.SyntaxKind.Identifier:
		return fail(node, `identifier "${node.text}" is not supported (${ALLOWED})`);
	case ts.SyntaxKind.BinaryExpression:
		return fail(node, `operator "${ts.tokenToString(node.operatorToken.kind)}" is not supported (${ALLOWED})`);
	default:
		return fail(node, KIND_NAMES[node.kind] ||
			`${ts.SyntaxKind[node.kind]} is not supported (${ALLOWED})`);
	}
}

function number(node, n) {
	if (!Number.isFinite(n)) {
		return fail(node, 'number out of range');
	}
	return n === 0 ? 0 : n;	/* no -0 */
}

function object(node) {
	const o = new JsonObject();
	const seen = new Map();
	for (const p of node.properties) {
		if (ts.isShorthandPropertyAssignment(p)) {
			fail(p, `shorthand property "${p.name.text}" is not supported (write ${p.name.text}: value)`);
			continue;
		}
		if (!ts.isPropertyAssignment(p)) {
			fail(p, KIND_NAMES[p.kind] || `${ts.SyntaxKind[p.kind]} is not supported`);
			continue;
		}
		if (ts.isComputedPropertyName(p.name)) {
			fail(p.name, 'computed property names are not supported');
			continue;
		}
		const k = literalName(p.name);
		if (k === null) {
			fail(p.name, 'this property name is not supported');
			continue;
		}
		if (k === '__proto__') {
			// in JavaScript it would set the prototype, not a property
			fail(p.name, 'property "__proto__" is not supported');
			continue;
		}
		if (seen.has(k)) {
			const { line, character } = seen.get(k);
			fail(p.name, `duplicate property "${k}" (first at line ${line + 1}, column ${character + 1})`);
			continue;
		}
		const sf = p.getSourceFile();
		seen.set(k, sf.getLineAndCharacterOfPosition(p.name.getStart(sf)));
		o.entries.set(k, value(p.initializer));
	}
	return o;
}

// Serialize a converted value as JSON, with `indent` spaces a level.
function stringify(v, indent = 2, depth = 0) {
	const pad = ' '.repeat(indent * (depth + 1));
	const end = ' '.repeat(indent * depth);
	if (Array.isArray(v)) {
		if (v.length === 0) {
			return '[]';
		}
		return '[\n' + v.map((x) => pad + stringify(x, indent, depth + 1)).join(',\n') + '\n' + end + ']';
	}
	if (v instanceof JsonObject) {
		if (v.entries.size === 0) {
			return '{}';
		}
		const parts = [];
		for (const [k, x] of v.entries) {
			parts.push(pad + JSON.stringify(k) + ': ' + stringify(x, indent, depth + 1));
		}
		return '{\n' + parts.join(',\n') + '\n' + end + '}';
	}
	return JSON.stringify(v);
}

// Plain JavaScript data (for tests and callers that want objects).
function toPlain(v) {
	if (Array.isArray(v)) {
		return v.map(toPlain);
	}
	if (v instanceof JsonObject) {
		const o = Object.create(null);
		for (const [k, x] of v.entries) {
			o[k] = toPlain(x);
		}
		return { ...o };
	}
	return v;
}

// Collect the exported declarations of a file: [{name, typeNode, init, node,
// exportNode}], in source order of their declarations.
function exportedDeclarations(sf) {
	const locals = new Map();	/* const name -> declaration */
	const found = new Map();	/* declaration node -> entry */
	const hasModifier = (st, kind) => (ts.getModifiers(st) || []).some((m) => m.kind === kind);
	const isExported = (st) => hasModifier(st, ts.SyntaxKind.ExportKeyword);
	const isAmbient = (st) => hasModifier(st, ts.SyntaxKind.DeclareKeyword);

	for (const st of sf.statements) {
		if (ts.isVariableStatement(st) && !isAmbient(st)) {
			for (const d of st.declarationList.declarations) {
				if (ts.isIdentifier(d.name)) {
					locals.set(d.name.text, { decl: d, list: st.declarationList });
				}
			}
		}
	}
	const add = (name, local, exportNode) => {
		const d = local.decl;
		if (!found.has(d)) {
			found.set(d, { name, typeNode: d.type, init: d.initializer, node: d, exportNode, list: local.list });
		}
	};
	for (const st of sf.statements) {
		if (ts.isVariableStatement(st) && isExported(st) && !isAmbient(st)) {
			for (const d of st.declarationList.declarations) {
				if (ts.isIdentifier(d.name)) {
					add(d.name.text, locals.get(d.name.text), st);
				}
			}
		} else if (ts.isExportDeclaration(st) && !st.moduleSpecifier && !st.isTypeOnly &&
				   st.exportClause && ts.isNamedExports(st.exportClause)) {
			for (const spec of st.exportClause.elements) {
				const local = locals.get((spec.propertyName || spec.name).text);
				if (local && !spec.isTypeOnly) {
					add(spec.name.text, local, st);
				}
			}
		} else if (ts.isExportAssignment(st) && !st.isExportEquals) {
			const inner = unwrap(st.expression).node;
			if (ts.isIdentifier(inner) && locals.has(inner.text)) {
				add('default', locals.get(inner.text), st);
			} else if (!found.has(st)) {
				found.set(st, { name: 'default', typeNode: undefined, init: st.expression, node: st, exportNode: st });
			}
		}
	}
	return [...found.values()].sort((a, b) => a.node.pos - b.node.pos);
}

function position(sf, node) {
	// an empty node (an array hole) is where the next token starts
	const start = node.pos === node.end ? ts.skipTrivia(sf.text, node.pos) : node.getStart(sf);
	const { line, character } = sf.getLineAndCharacterOfPosition(start);
	return { line: line + 1, column: character + 1 };
}

// Convert the text of one file.  Returns {specs, errors, skipped}: specs
// [{name, line, column, value}] in source order, errors [{line, column,
// message}], skipped [names of exports that are not specs].
function convertSource(fileName, text) {
	const kind = fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
	const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
	const result = { specs: [], errors: [], skipped: [] };

	// syntax errors: the parser recovers, but the tree may not say what the
	// author meant
	for (const d of sf.parseDiagnostics || []) {
		const { line, character } = sf.getLineAndCharacterOfPosition(d.start);
		result.errors.push({
			line: line + 1, column: character + 1,
			message: 'syntax error: ' + ts.flattenDiagnosticMessageText(d.messageText, ' '),
		});
	}
	if (result.errors.length > 0) {
		return result;
	}

	for (const e of exportedDeclarations(sf)) {
		if (!looksLikeSpec(e.typeNode, e.init)) {
			result.skipped.push(e.name);
			continue;
		}
		const at = position(sf, e.node);
		failures = [];
		if (e.list && (e.list.flags & ts.NodeFlags.Const) === 0) {
			fail(e.node, `spec "${e.name}" must be declared with const`);
		} else if (!e.init) {
			fail(e.node, `spec "${e.name}" has no value`);
		} else if (!ts.isObjectLiteralExpression(unwrap(e.init).node)) {
			fail(unwrap(e.init).node, `spec "${e.name}" must be an object literal`);
		} else {
			const v = value(e.init);
			if (failures.length === 0) {
				result.specs.push({ name: e.name, line: at.line, column: at.column, value: v });
			}
		}
		for (const f of failures) {
			result.errors.push({ ...position(sf, f.node), message: f.message });
		}
		failures = null;
	}
	result.errors.sort((a, b) => a.line - b.line || a.column - b.column);
	return result;
}

// The key and version a spec is registered under, as the database computes
// them: meta.key (or the older meta.name), and an integer version N is N.0.0.
// Returns {key, version} with null for what is missing or malformed.
function specIdentity(v) {
	const meta = v instanceof JsonObject ? v.get('meta') : undefined;
	if (!(meta instanceof JsonObject)) {
		return { key: null, version: null };
	}
	const k = meta.has('key') ? meta.get('key') : meta.get('name');
	const ver = meta.get('version');
	let version = null;
	if (typeof ver === 'string') {
		version = ver;
	} else if (typeof ver === 'number' && Number.isSafeInteger(ver) && ver >= 0) {
		version = `${ver}.0.0`;
	}
	return { key: typeof k === 'string' ? k : null, version };
}

module.exports = { convertSource, specIdentity, stringify, toPlain, JsonObject, typescriptVersion: ts.version };
