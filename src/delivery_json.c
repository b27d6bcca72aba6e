/*
 * delivery_json.c
 *		A bounded JSON writer for the items of delivered events.
 *
 * The items providers receive were built by SQL (jsonb_build_object(...)
 * cast to text) before; they are rendered here byte for byte the same
 * (jsonb's text form: keys in jsonb order, ", " and ": " separators,
 * escape_json's escaping, numeric_out's numbers), but with a limit: once
 * the text passes it, writing stops and `over` is set.  So an event whose
 * rendering amplifies (a 16-byte 1e131071 renders as 131,072 digits,
 * escaping turns a byte into six) costs at most about the limit, whatever
 * was stored.
 */
#include "telemetry.h"
#include "delivery.h"

#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

/* Start an empty text with a limit. */
void
json_out_init(JsonOut *out, int limit)
{
	initStringInfo(&out->buf);
	out->limit = limit;
	out->over = false;
}

/* Mark the text over its limit once it is. */
static inline void
check_limit(JsonOut *out)
{
	if (out->buf.len > out->limit)
		out->over = true;
}

/* Append JSON text as is. */
void
json_out_raw(JsonOut *out, const char *s, int len)
{
	if (out->over)
		return;
	if ((int64) out->buf.len + len > out->limit)
	{
		out->over = true;
		return;
	}
	appendBinaryStringInfo(&out->buf, s, len);
}

/*
 * Append a JSON string, escaped exactly as escape_json() does (which stops
 * at a NUL; text and jsonb strings have none).
 */
void
json_out_string(JsonOut *out, const char *s, int len)
{
	StringInfo	buf = &out->buf;
	int			run = 0;

	if (out->over)
		return;
	/* the escaped string is at least len + 2 bytes */
	if ((int64) buf->len + len + 2 > out->limit)
	{
		out->over = true;
		return;
	}
	appendStringInfoCharMacro(buf, '"');
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc = NULL;

		if (c >= ' ' && c != '"' && c != '\\')
		{
			run++;
			continue;
		}
		if (run > 0)
			appendBinaryStringInfo(buf, s + i - run, run);
		run = 0;
		if (c == '\0')
		{
			len = i;
			break;
		}
		switch (c)
		{
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
		}
		if (esc)
			appendBinaryStringInfo(buf, esc, 2);
		else
			appendStringInfo(buf, "\\u%04x", (int) c);
		if (buf->len > out->limit)
		{
			out->over = true;
			return;
		}
	}
	if (run > 0)
		appendBinaryStringInfo(buf, s + len - run, run);
	appendStringInfoCharMacro(buf, '"');
	check_limit(out);
}

/* Append a text datum as a JSON string. */
void
json_out_text(JsonOut *out, text *t)
{
	if (t == NULL)
		json_out_lit(out, "null");
	else
		json_out_string(out, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* Append a scalar (or a nested container) as jsonb's text form has it. */
void
json_out_value(JsonOut *out, JsonbValue *v)
{
	if (out->over)
		return;
	switch (v->type)
	{
		case jbvNull:
			json_out_lit(out, "null");
			break;
		case jbvString:
			json_out_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));

				json_out_raw(out, s, strlen(s));
				pfree(s);
				break;
			}
		case jbvBool:
			if (v->val.boolean)
				json_out_lit(out, "true");
			else
				json_out_lit(out, "false");
			break;
		case jbvBinary:
			json_out_jsonb(out, v->val.binary.data);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/*
 * Append a jsonb container in jsonb's text form (what jsonb_out and a
 * ::text cast print), stopping as soon as the limit is passed.
 */
void
json_out_jsonb(JsonOut *out, JsonbContainer *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		first = true;
	bool		raw_scalar = false;

	if (out->over)
		return;
	it = JsonbIteratorInit(c);
	while (!out->over && (tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				if (!first)
					json_out_lit(out, ", ");
				if (v.val.array.rawScalar)
					raw_scalar = true;
				else
					json_out_lit(out, "[");
				first = true;
				break;
			case WJB_BEGIN_OBJECT:
				if (!first)
					json_out_lit(out, ", ");
				json_out_lit(out, "{");
				first = true;
				break;
			case WJB_KEY:
				if (!first)
					json_out_lit(out, ", ");
				json_out_string(out, v.val.string.val, v.val.string.len);
				json_out_lit(out, ": ");
				/* a scalar value comes next; a container opens with BEGIN_* */
				first = true;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (!first)
					json_out_lit(out, ", ");
				json_out_value(out, &v);
				first = false;
				break;
			case WJB_END_ARRAY:
				if (!raw_scalar)
					json_out_lit(out, "]");
				first = false;
				break;
			case WJB_END_OBJECT:
				json_out_lit(out, "}");
				first = false;
				break;
			default:
				elog(ERROR, "unexpected jsonb token %d", (int) tok);
		}
	}
}

/*
 * Append a timestamp as to_char(t AT TIME ZONE 'UTC',
 * 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') gives it, null when infinite.
 */
void
json_out_timestamp(JsonOut *out, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[64];
	int			year;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		json_out_lit(out, "null");
		return;
	}
	/* to_char's YYYY: the year of the era, at least four digits */
	year = tm.tm_year <= 0 ? -(tm.tm_year - 1) : tm.tm_year;
	snprintf(buf, sizeof(buf), "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
			 year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	json_out_raw(out, buf, strlen(buf));
}

/* jsonb's key order: shorter first, then bytewise. */
static int
key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* A key merged into the properties providers receive. */
typedef struct PropExtra
{
	const char *key;
	int			keylen;
	text	   *val;			/* a string value, or NULL for the boolean */
	bool		flag;
} PropExtra;

/* Append an extra key's value. */
static void
extra_value(JsonOut *out, const PropExtra *e)
{
	if (e->val != NULL)
		json_out_text(out, e->val);
	else if (e->flag)
		json_out_lit(out, "true");
	else
		json_out_lit(out, "false");
}

/*
 * Append properties || {extra keys}, as jsonb's concatenation prints it:
 * for an object, its keys in jsonb order with the extra keys (sorted in
 * jsonb order) merged in, replacing properties of those names.
 */
static void
props_with(JsonOut *out, const DeliveryRow *row, const PropExtra *extra, int nextra)
{
	int			next = 0;
	bool		first = true;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (row->properties == NULL || !JB_ROOT_IS_OBJECT(row->properties))
	{
		/* an array or a scalar: let jsonb_concat say what it becomes */
		JsonbParseState *st = NULL;
		JsonbValue	kv;
		Jsonb	   *right;
		Jsonb	   *left = row->properties;
		Jsonb	   *sum;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		for (int i = 0; i < nextra; i++)
		{
			kv.type = jbvString;
			kv.val.string.val = (char *) extra[i].key;
			kv.val.string.len = extra[i].keylen;
			pushJsonbValue(&st, WJB_KEY, &kv);
			if (extra[i].val != NULL)
			{
				kv.val.string.val = VARDATA_ANY(extra[i].val);
				kv.val.string.len = VARSIZE_ANY_EXHDR(extra[i].val);
			}
			else
			{
				kv.type = jbvBool;
				kv.val.boolean = extra[i].flag;
			}
			pushJsonbValue(&st, WJB_VALUE, &kv);
		}
		right = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
		if (left == NULL)
		{
			json_out_lit(out, "null");
			return;
		}
		sum = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(left),
												 JsonbPGetDatum(right)));
		json_out_jsonb(out, &sum->root);
		return;
	}

	json_out_lit(out, "{");
	it = JsonbIteratorInit(&row->properties->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while (!out->over && (tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		int			c = 1;

		(void) JsonbIteratorNext(&it, &v, true);	/* WJB_VALUE */
		while (next < nextra &&
			   (c = key_cmp(extra[next].key, extra[next].keylen,
							k.val.string.val, k.val.string.len)) <= 0)
		{
			if (!first)
				json_out_lit(out, ", ");
			json_out_string(out, extra[next].key, extra[next].keylen);
			json_out_lit(out, ": ");
			extra_value(out, &extra[next]);
			first = false;
			next++;
			if (c == 0)
				break;
		}
		if (c == 0)
			continue;			/* replaced by an extra key */
		if (!first)
			json_out_lit(out, ", ");
		json_out_string(out, k.val.string.val, k.val.string.len);
		json_out_lit(out, ": ");
		json_out_value(out, &v);
		first = false;
	}
	for (; next < nextra; next++)
	{
		if (!first)
			json_out_lit(out, ", ");
		json_out_string(out, extra[next].key, extra[next].keylen);
		json_out_lit(out, ": ");
		extra_value(out, &extra[next]);
		first = false;
	}
	json_out_lit(out, "}");
}

/*
 * Append properties || {"version": version, "spec": spec}: what PostHog and
 * Segment receive as properties.
 */
void
json_out_props_with_spec(JsonOut *out, const DeliveryRow *row)
{
	PropExtra	extra[2] = {{"spec", 4, row->spec}, {"version", 7, row->version}};

	props_with(out, row, extra, 2);
}

/*
 * The same with one more boolean key (PostHog's "$process_person_profile"
 * of an anonymous event), replacing a property of that name.
 */
void
json_out_props_with_spec_flag(JsonOut *out, const DeliveryRow *row,
							  const char *key, bool value)
{
	PropExtra	extra[3] = {{"spec", 4, row->spec}, {"version", 7, row->version}};
	PropExtra	flag = {key, strlen(key), NULL, value};
	int			at = 2;

	/* keep the extra keys in jsonb order */
	while (at > 0 && key_cmp(flag.key, flag.keylen, extra[at - 1].key, extra[at - 1].keylen) < 0)
	{
		extra[at] = extra[at - 1];
		at--;
	}
	extra[at] = flag;
	props_with(out, row, extra, 3);
}

/*
 * The text of a JSON value as ->> gives it (a string's contents, the text
 * form of anything else), at most `limit` bytes; false when longer.
 */
bool
json_value_as_text(JsonbValue *v, int limit, char **s, int *len)
{
	JsonOut		o;

	if (v->type == jbvString)
	{
		*s = v->val.string.val;
		*len = v->val.string.len;
		return *len <= limit;
	}
	json_out_init(&o, limit);
	json_out_value(&o, v);
	*s = o.buf.data;
	*len = o.buf.len;
	return !o.over;
}
