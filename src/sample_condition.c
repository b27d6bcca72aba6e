/*
 * sample_condition.c
 *		sampling.conditions: parse, check against the declared properties,
 *		and evaluate.
 *
 * A condition is "<property> <op> <literal>", op one of =, != (or <>), <,
 * <=, >, >=, the literal a JSON number, a string in single quotes ('' inside for
 * a quote) or true/false; or "<property> exists" (present and not null).
 * An event matching any condition of its definition is kept whatever its
 * sampling rate, and stored with sample_rate 1.
 *
 * Registration parses and checks each condition (spec_validate.c); the
 * compiler of the per-backend cache parses the stored, normalized text
 * again (spec_cache.c); tracking evaluates them on the event's properties
 * (track.c, sample_keep), only for events whose definition has any.
 */
#include "telemetry.h"
#include "sample_condition.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '.' || c == '-';
}

/* A JSON number at s[0..len): returns its length, 0 when there is none. */
static int
number_length(const char *s, int len)
{
	int			i = 0;
	int			digits;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && s[i] == '.')
	{
		i++;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
		if (digits == 0)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
		if (digits == 0)
			return 0;
	}
	return i;
}

#define SYNTAX "expected <property> <op> <literal> (op =, != or <>, <, <=, >, >=; literal a number, 'text', true or false) or <property> exists"

/*
 * Parse a condition.  Returns NULL, or what is wrong (for the caller's
 * message; it quotes no value).
 */
char *
sample_condition_parse(const char *text, int len, SampleCondition *c)
{
	int			i = 0;
	int			start;

	memset(c, 0, sizeof(*c));
	while (i < len && is_space(text[i]))
		i++;
	start = i;
	while (i < len && is_name_char(text[i]))
		i++;
	if (i == start || !spec_key_valid(text + start, i - start))
		return psprintf("a condition starts with a declared property name; %s", SYNTAX);
	c->property = pnstrdup(text + start, i - start);
	c->proplen = i - start;
	while (i < len && is_space(text[i]))
		i++;

	/* "exists" */
	if (len - i >= 6 && memcmp(text + i, "exists", 6) == 0)
	{
		int			j = i + 6;

		while (j < len && is_space(text[j]))
			j++;
		if (j == len)
		{
			c->op = COND_EXISTS;
			c->literal = LIT_NONE;
			return NULL;
		}
	}

	/* the operator */
	if (i < len && text[i] == '=')
		c->op = COND_EQ, i++;
	else if (len - i >= 2 && ((text[i] == '!' && text[i + 1] == '=') || (text[i] == '<' && text[i + 1] == '>')))
		c->op = COND_NE, i += 2;
	else if (len - i >= 2 && text[i] == '<' && text[i + 1] == '=')
		c->op = COND_LE, i += 2;
	else if (len - i >= 2 && text[i] == '>' && text[i + 1] == '=')
		c->op = COND_GE, i += 2;
	else if (i < len && text[i] == '<')
		c->op = COND_LT, i++;
	else if (i < len && text[i] == '>')
		c->op = COND_GT, i++;
	else
		return psprintf("no operator after the property; %s", SYNTAX);
	while (i < len && is_space(text[i]))
		i++;

	/* the literal */
	if (i < len && text[i] == '\'')
	{
		StringInfoData buf;

		initStringInfo(&buf);
		i++;
		for (;;)
		{
			if (i >= len)
				return psprintf("the string has no closing quote; %s", SYNTAX);
			if (text[i] == '\'')
			{
				if (i + 1 < len && text[i + 1] == '\'')
				{
					appendStringInfoChar(&buf, '\'');
					i += 2;
					continue;
				}
				i++;
				break;
			}
			appendStringInfoChar(&buf, text[i]);
			i++;
		}
		c->literal = LIT_STRING;
		c->string = buf.data;
		c->stringlen = buf.len;
	}
	else if (len - i >= 4 && memcmp(text + i, "true", 4) == 0 &&
			 (i + 4 == len || !is_name_char(text[i + 4])))
	{
		c->literal = LIT_BOOLEAN;
		c->boolean = true;
		i += 4;
	}
	else if (len - i >= 5 && memcmp(text + i, "false", 5) == 0 &&
			 (i + 5 == len || !is_name_char(text[i + 5])))
	{
		c->literal = LIT_BOOLEAN;
		c->boolean = false;
		i += 5;
	}
	else
	{
		int			n = number_length(text + i, len - i);
		char	   *num;

		if (n == 0)
			return psprintf("the literal is not a number, a quoted string, true or false; %s", SYNTAX);
		num = pnstrdup(text + i, n);
		c->literal = LIT_NUMBER;
		c->number = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(num),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
		i += n;
	}
	while (i < len && is_space(text[i]))
		i++;
	if (i != len)
		return psprintf("unexpected text after the literal; %s", SYNTAX);
	return NULL;
}

/*
 * Check a parsed condition against the property it names (NULL when that
 * is not declared).  Returns NULL, or what is wrong.  A redacted property
 * cannot be used: a kept row's sample_rate of 1 would tell readers
 * something of the value redaction hides.
 */
char *
sample_condition_check(const SampleCondition *c, const SpecProperty *prop, bool sensitive)
{
	char	   *q = spec_quote(c->property, c->proplen);

	if (prop == NULL)
		return psprintf("property %s is not declared", q);
	if (sensitive)
		return pstrdup("the event is sensitive, so every property is redacted and cannot be used in a condition");
	if (prop->redaction != REDACT_NONE)
		return psprintf("property %s is redacted (pii, redact or redaction) and cannot be used in a condition", q);
	if (c->op == COND_EXISTS)
		return NULL;
	switch (prop->type)
	{
		case PROP_NUMBER:
			if (c->literal != LIT_NUMBER)
				return psprintf("property %s is a number: compare it with a number", q);
			break;
		case PROP_STRING:
			if (c->literal != LIT_STRING)
				return psprintf("property %s is a string: compare it with a string in single quotes", q);
			break;
		case PROP_BOOLEAN:
			if (c->literal != LIT_BOOLEAN)
				return psprintf("property %s is a boolean: compare it with true or false", q);
			if (c->op != COND_EQ && c->op != COND_NE)
				return psprintf("property %s is a boolean: only = and != apply", q);
			break;
		case PROP_TIMESTAMP:
		case PROP_JSON:
			return psprintf("property %s is a %s: only \"exists\" applies", q,
							spec_enum_name(&spec_prop_types, prop->type));
	}
	return NULL;
}

/* The normalized text of a condition: "ms > 1500", "kind = 'a''b'". */
char *
sample_condition_text(const SampleCondition *c)
{
	static const char *const ops[] = {"exists", "=", "!=", "<", "<=", ">", ">="};
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, c->property, c->proplen);
	appendStringInfo(&buf, " %s", ops[c->op]);
	switch (c->literal)
	{
		case LIT_NONE:
			break;
		case LIT_NUMBER:
			appendStringInfo(&buf, " %s",
							 DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(c->number))));
			break;
		case LIT_BOOLEAN:
			appendStringInfoString(&buf, c->boolean ? " true" : " false");
			break;
		case LIT_STRING:
			appendStringInfoString(&buf, " '");
			for (int i = 0; i < c->stringlen; i++)
			{
				if (c->string[i] == '\'')
					appendStringInfoChar(&buf, '\'');
				appendStringInfoChar(&buf, c->string[i]);
			}
			appendStringInfoChar(&buf, '\'');
			break;
	}
	return buf.data;
}

/* Whether a comparison result satisfies the operator. */
static bool
op_holds(CondOp op, int cmp)
{
	switch (op)
	{
		case COND_EQ:
			return cmp == 0;
		case COND_NE:
			return cmp != 0;
		case COND_LT:
			return cmp < 0;
		case COND_LE:
			return cmp <= 0;
		case COND_GT:
			return cmp > 0;
		case COND_GE:
			return cmp >= 0;
		case COND_EXISTS:
			return true;
	}
	return false;
}

/*
 * Whether the properties match any of the conditions.  A property that is
 * missing, null or not of the literal's JSON type matches nothing but
 * "exists" (present and not null).  Strings compare bytewise.
 */
bool
sample_conditions_match(const SampleCondition *conds, int n, Jsonb *props)
{
	if (!JB_ROOT_IS_OBJECT(props))
		return false;
	for (int i = 0; i < n; i++)
	{
		const SampleCondition *c = &conds[i];
		JsonbValue	buf;
		JsonbValue *v = getKeyJsonValueFromContainer(&props->root, c->property, c->proplen, &buf);
		int			cmp;

		if (v == NULL || v->type == jbvNull)
			continue;
		switch (c->literal)
		{
			case LIT_NONE:
				return true;
			case LIT_NUMBER:
				if (v->type != jbvNumeric)
					continue;
				cmp = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(v->val.numeric),
														NumericGetDatum(c->number)));
				break;
			case LIT_STRING:
				if (v->type != jbvString)
					continue;
				cmp = memcmp(v->val.string.val, c->string, Min(v->val.string.len, c->stringlen));
				if (cmp == 0)
					cmp = (v->val.string.len > c->stringlen) - (v->val.string.len < c->stringlen);
				break;
			case LIT_BOOLEAN:
				if (v->type != jbvBool)
					continue;
				cmp = (v->val.boolean != c->boolean);
				break;
			default:
				continue;
		}
		if (op_holds(c->op, cmp))
			return true;
	}
	return false;
}
