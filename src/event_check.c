/*
 * event_check.c
 *		Check an event's properties (or context) against its definition, and
 *		redact them before anything is written.
 *
 * Validation never ereports: it fills a TrackError, so the caller can
 * raise it or, under telemetry.on_invalid = quarantine, store the event in
 * telemetry.rejected_events without a subtransaction.  Messages name the
 * event, version and key and the expected and actual JSON types, never a
 * value: a pii property's raw value must not reach an error message.
 */
#include "event_check.h"

#include <ctype.h>

#include "common/hmac.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#define MAX_JSON_DEPTH 32
#define MAX_CONTEXT_KEYS 100

/*
 * A palloc'd string formatted from a va_list: what the builders of
 * validation messages (here, spec_validate.c) and spec changes
 * (spec_diff.c) have in common, as psprintf is for a fixed argument list.
 */
char *
telemetry_vformat(const char *fmt, va_list args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/* Record the first validation failure. */
void
track_error(TrackError *err, int sqlstate, const char *fmt,...)
{
	va_list		args;

	if (err->sqlstate != 0)
		return;
	va_start(args, fmt);
	err->message = telemetry_vformat(fmt, args);
	va_end(args);
	err->sqlstate = sqlstate;
}

/* The JSON type of a value as users know it. */
const char *
jsonb_value_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvArray:
			return "array";
		case jbvObject:
			return "object";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "object";
	}
}

/* Whether a string parses as timestamptz, without raising an error. */
bool
event_is_timestamptz(const char *s, int len)
{
	char		str[MAXDATELEN + 1];
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt;
	fsec_t		fsec;
	Timestamp	result;
	int			dterr;
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra extra;
#endif

	if (len <= 0 || len > MAXDATELEN)
		return false;
	memcpy(str, s, len);
	str[len] = '\0';
	dterr = ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
	if (dterr != 0)
		return false;

	/*
	 * DecodeDateTime raises its own error, quoting the field, for a date
	 * field that starts with a letter and names no time zone ("time zone
	 * ... not recognized"): the value of a pii property would reach the
	 * message, and the error could not be quarantined.  Look the zone up
	 * first, as it would.
	 */
	for (int i = 0; i < nf; i++)
		if (ftype[i] == DTK_DATE && isalpha((unsigned char) field[i][0]) &&
			pg_tzset(field[i]) == NULL)
			return false;
#if PG_VERSION_NUM >= 160000
	dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz, &extra);
#else
	dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
#endif
	if (dterr != 0)
		return false;
	if (dtype == DTK_DATE)
		return tm2timestamp(&tt, fsec, &tz, &result) == 0;
	return dtype == DTK_EPOCH || dtype == DTK_LATE || dtype == DTK_EARLY;
}

/* Nesting depth of a container, counted without recursion. */
static int
container_depth(JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0,
				max = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			if (++depth > max)
				max = depth;
			if (max > MAX_JSON_DEPTH)
				break;
		}
		else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
			depth--;
	}
	return max;
}

/*
 * Whether an undeclared key may be named in a message: only a name that
 * could have been declared (the catalog's key rule), such as a typo of a
 * property name.  Anything else (an email, a card number used as a key)
 * may be the data itself, and messages reach the quarantine and the log.
 */
static bool
key_is_nameable(const char *s, int len)
{
	if (len <= 0 || len > 128 || !isalpha((unsigned char) s[0]))
		return false;
	for (int i = 1; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* Whether a value has the declared type (null is handled by the caller). */
static bool
value_has_type(const JsonbValue *v, PropType t)
{
	switch (t)
	{
		case PROP_STRING:
			return v->type == jbvString;
		case PROP_NUMBER:
			return v->type == jbvNumeric;
		case PROP_BOOLEAN:
			return v->type == jbvBool;
		case PROP_TIMESTAMP:
			return v->type == jbvString &&
				event_is_timestamptz(v->val.string.val, v->val.string.len);
		case PROP_JSON:
			return true;
	}
	return false;
}

/*
 * Check one object (the properties or the context) of an event.  Declared
 * keys must have their type, required keys must be present and not null;
 * undeclared properties are an error unless drop_undeclared (the trigger
 * path), undeclared context keys are allowed.  *needs_rewrite is set when
 * the object must go through event_redact_object before it is stored, and
 * *hashes (never cleared) when a hash redaction applies to a present value.
 */
bool
event_check_object(const CompiledEvent *ev, EventPart part, Jsonb *obj,
				   bool drop_undeclared, bool *needs_rewrite, bool *hashes,
				   TrackError *err)
{
	const CompiledPropSet *set = part == PART_CONTEXT ? &ev->context : &ev->props;
	const char *what = part == PART_CONTEXT ? "context key" : "property";
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			required_seen = 0;
	int			nkeys = 0;

	*needs_rewrite = false;
	if (!JB_ROOT_IS_OBJECT(obj) || JB_ROOT_IS_SCALAR(obj))
	{
		track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
					"event \"%s\" %s: %s must be a JSON object, got %s",
					ev->event, ev->version,
					part == PART_CONTEXT ? "context" : "properties",
					JB_ROOT_IS_SCALAR(obj) ? "a scalar" : "an array");
		return false;
	}

	it = JsonbIteratorInit(&obj->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const CompiledProperty *p;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		nkeys++;

		p = propset_find(set, k.val.string.val, k.val.string.len);
		if (p == NULL)
		{
			if (part == PART_CONTEXT)
			{
				if (nkeys > MAX_CONTEXT_KEYS)
				{
					track_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								"event \"%s\" %s: context has more than %d keys",
								ev->event, ev->version, MAX_CONTEXT_KEYS);
					return false;
				}
				if (v.type == jbvBinary && container_depth(v.val.binary.data) > MAX_JSON_DEPTH)
				{
					if (key_is_nameable(k.val.string.val, k.val.string.len))
						track_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
									"event \"%s\" %s: context key \"%.*s\" is nested deeper than %d levels",
									ev->event, ev->version,
									k.val.string.len, k.val.string.val, MAX_JSON_DEPTH);
					else
						track_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
									"event \"%s\" %s: a context key is nested deeper than %d levels",
									ev->event, ev->version, MAX_JSON_DEPTH);
					return false;
				}
				continue;
			}
			if (drop_undeclared)
			{
				*needs_rewrite = true;
				continue;
			}
			if (key_is_nameable(k.val.string.val, k.val.string.len))
				track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
							"event \"%s\" %s: property \"%.*s\" is not declared",
							ev->event, ev->version,
							k.val.string.len, k.val.string.val);
			else
				track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
							"event \"%s\" %s: a property is not declared, and its name is not a valid property name (not shown)",
							ev->event, ev->version);
			return false;
		}

		if (p->redaction != REDACT_NONE)
			*needs_rewrite = true;

		if (v.type == jbvNull)
			continue;			/* counts as absent; required is checked below */
		if (p->redaction == REDACT_HASH)
			*hashes = true;
		if (p->required)
			required_seen++;
		if (!value_has_type(&v, p->type))
		{
			if (p->type == PROP_TIMESTAMP && v.type == jbvString)
				track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
							"event \"%s\" %s: %s \"%s\" must be a timestamp, got a string that is not one",
							ev->event, ev->version, what, p->name);
			else
				track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
							"event \"%s\" %s: %s \"%s\" must be a %s, got %s",
							ev->event, ev->version, what, p->name,
							prop_type_name(p->type), jsonb_value_type_name(&v));
			return false;
		}
		if (v.type == jbvBinary && container_depth(v.val.binary.data) > MAX_JSON_DEPTH)
		{
			track_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
						"event \"%s\" %s: %s \"%s\" is nested deeper than %d levels",
						ev->event, ev->version, what, p->name, MAX_JSON_DEPTH);
			return false;
		}
	}

	if (required_seen < set->nrequired)
	{
		for (int i = 0; i < set->n; i++)
		{
			const CompiledProperty *p = &set->props[i];
			JsonbValue *found;

			if (!p->required)
				continue;
			found = getKeyJsonValueFromContainer(&obj->root, p->name, p->namelen, NULL);
			if (found == NULL || found->type == jbvNull)
			{
				track_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
							"event \"%s\" %s: %s \"%s\" is required",
							ev->event, ev->version, what, p->name);
				return false;
			}
		}
	}
	return true;
}

/*
 * Push the mask of a value.  Nothing of the value is kept but its JSON type
 * and, for an array, its length: string "REDACTED", number 0, boolean
 * false, null null, array one "REDACTED" per element (whatever the
 * element), object {} (no key is kept: keys can hold the data, as in
 * {"4111111111111111": "visa"}).
 */
static void
push_mask(JsonbParseState **state, const JsonbValue *v)
{
	JsonbValue	m;

	switch (v->type)
	{
		case jbvNull:
			pushJsonbValue(state, WJB_VALUE, (JsonbValue *) v);
			return;
		case jbvNumeric:
			m.type = jbvNumeric;
			m.val.numeric = int64_to_numeric(0);
			pushJsonbValue(state, WJB_VALUE, &m);
			return;
		case jbvBool:
			m.type = jbvBool;
			m.val.boolean = false;
			pushJsonbValue(state, WJB_VALUE, &m);
			return;
		case jbvBinary:
			if (JsonContainerIsArray(v->val.binary.data))
			{
				int			n = JsonContainerSize(v->val.binary.data);

				pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				m.type = jbvString;
				m.val.string.val = "REDACTED";
				m.val.string.len = 8;
				for (int i = 0; i < n; i++)
					pushJsonbValue(state, WJB_ELEM, &m);
				pushJsonbValue(state, WJB_END_ARRAY, NULL);
			}
			else
			{
				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
			return;
		default:
			m.type = jbvString;
			m.val.string.val = "REDACTED";
			m.val.string.len = 8;
			pushJsonbValue(state, WJB_VALUE, &m);
			return;
	}
}

/*
 * The pseudonym "hash" redaction stores for a (non-null) value:
 * "hmac-sha256:<hex>" of a string's contents, or of the canonical JSON text
 * of anything else, keyed with the database's redaction key.  Also used by
 * telemetry_forget (forget.c) to find a user's pseudonymous traces.
 */
char *
event_pseudonym(const JsonbValue *v, int *outlen)
{
	const unsigned char *key;
	int			keylen;
	pg_hmac_ctx *ctx;
	uint8		digest[32];
	const char *data;
	int			len;
	StringInfoData buf;

	initStringInfo(&buf);
	if (v->type == jbvString)
	{
		data = v->val.string.val;
		len = v->val.string.len;
	}
	else
	{
		/* non-strings hash their canonical JSON text */
		Jsonb	   *j = JsonbValueToJsonb((JsonbValue *) v);

		data = JsonbToCString(&buf, &j->root, VARSIZE(j));
		len = buf.len;
	}

	key = spec_cache_redaction_key(&keylen);
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, key, keylen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_hmac_free(ctx);
		elog(ERROR, "telemetry: could not compute HMAC-SHA256");
	}
	pg_hmac_free(ctx);

	resetStringInfo(&buf);
	appendStringInfoString(&buf, "hmac-sha256:");
	enlargeStringInfo(&buf, 2 * sizeof(digest));
	buf.len += hex_encode((const char *) digest, sizeof(digest), buf.data + buf.len);
	buf.data[buf.len] = '\0';
	*outlen = buf.len;
	return buf.data;
}

/* Push the pseudonym of a value (null stays null). */
static void
push_hash(JsonbParseState **state, const JsonbValue *v)
{
	JsonbValue	m;

	if (v->type == jbvNull)
	{
		pushJsonbValue(state, WJB_VALUE, (JsonbValue *) v);
		return;
	}
	m.type = jbvString;
	m.val.string.val = event_pseudonym(v, &m.val.string.len);
	pushJsonbValue(state, WJB_VALUE, &m);
}

/* Whether a set of declared keys hashes any of them. */
bool
propset_has_hash(const CompiledPropSet *set)
{
	for (int i = 0; i < set->n; i++)
		if (set->props[i].redaction == REDACT_HASH)
			return true;
	return false;
}

/*
 * Build the object that is stored: declared keys redacted by their mode,
 * undeclared ones dropped (drop_undeclared: the trigger path, and
 * quarantined properties, whose undeclared keys may hold anything) or kept.
 * Without may_hash (quarantine in a session that may not hash, see
 * hash_guard.c) hashed keys are dropped instead.
 */
Jsonb *
event_redact_object(const CompiledPropSet *set, Jsonb *obj,
					bool drop_undeclared, bool may_hash)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	JsonbValue *res;

	if (!JB_ROOT_IS_OBJECT(obj) || JB_ROOT_IS_SCALAR(obj))
		return NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&obj->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const CompiledProperty *p;
		Redaction	mode;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		p = set ? propset_find(set, k.val.string.val, k.val.string.len) : NULL;
		if (p)
			mode = p->redaction;
		else if (drop_undeclared)
			mode = REDACT_DROP;
		else
			mode = REDACT_NONE;
		if (mode == REDACT_HASH && !may_hash)
			mode = REDACT_DROP;

		if (mode == REDACT_DROP)
			continue;
		pushJsonbValue(&state, WJB_KEY, &k);
		switch (mode)
		{
			case REDACT_NONE:
				pushJsonbValue(&state, WJB_VALUE, &v);
				break;
			case REDACT_MASK:
				push_mask(&state, &v);
				break;
			case REDACT_HASH:
				push_hash(&state, &v);
				break;
			case REDACT_DROP:
				break;
		}
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}
