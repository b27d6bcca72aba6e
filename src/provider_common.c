/*
 * provider_common.c
 *		Helpers shared by the wire formats: config values, headers, bodies.
 *
 * Config values arrive with {"secret": name} already replaced by the
 * secret's value; {"env": NAME} is read here from the server's environment.
 * Error messages name the setting, never its value.
 */
#include "telemetry.h"
#include "delivery.h"

#include "utils/jsonb.h"

/* Look up a key of the provider's (resolved) config. */
static JsonbValue *
config_value(DeliveryProvider *prov, const char *key)
{
	Jsonb	   *jb = (Jsonb *) prov->config;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}

/* A string value, {"env": NAME} or {"missing_secret": name} as text. */
static char *
value_text(JsonbValue *v, const char *what, char **error)
{
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		JsonbValue *env = getKeyJsonValueFromContainer(v->val.binary.data, "env", 3, NULL);
		JsonbValue *missing = getKeyJsonValueFromContainer(v->val.binary.data, "missing_secret", 14, NULL);

		if (env != NULL && env->type == jbvString)
		{
			char	   *name = pnstrdup(env->val.string.val, env->val.string.len);
			char	   *val = getenv(name);

			if (val == NULL || *val == '\0')
			{
				*error = psprintf("%s: environment variable \"%s\" is not set in the server's environment",
								  what, name);
				return NULL;
			}
			return pstrdup(val);
		}
		if (missing != NULL && missing->type == jbvString)
		{
			*error = psprintf("%s: secret \"%.*s\" is not set (see telemetry_set_secret)",
							  what, missing->val.string.len, missing->val.string.val);
			return NULL;
		}
	}
	*error = psprintf("%s: must be a string, {\"env\": \"NAME\"} or {\"secret\": \"name\"}", what);
	return NULL;
}

/*
 * The text of a config setting (NULL when absent).  Sets *error (if it is
 * not set already) when the setting cannot be resolved.
 */
char *
delivery_config_text(DeliveryProvider *prov, const char *key, bool secret,
					 char **error)
{
	char	   *err = NULL;
	char	   *val = value_text(config_value(prov, key), key, &err);

	if (err != NULL && *error == NULL)
		*error = err;
	return val;
}

/* Read config "headers" into prov->headers; returns an error or NULL. */
char *
delivery_config_headers(DeliveryProvider *prov)
{
	JsonbValue *h = config_value(prov, "headers");
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *error = NULL;

	prov->headers = NIL;
	if (h == NULL || h->type == jbvNull)
		return NULL;
	if (h->type != jbvBinary || !JsonContainerIsObject(h->val.binary.data))
		return pstrdup("headers: must be an object of header names to values");

	it = JsonbIteratorInit(h->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *val;
		char	   *what;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		what = psprintf("headers.%s", name);
		val = value_text(&v, what, &error);
		if (error != NULL)
			return error;
		if (val == NULL || !http_header_is_safe(name, val))
			return psprintf("header \"%s\": name must be a token and the value must have no line breaks", name);
		if (list_length(prov->headers) >= HTTP_MAX_HEADERS - 8)
			return pstrdup("headers: too many headers");
		prov->headers = lappend(prov->headers, psprintf("%s: %s", name, val));
	}
	return NULL;
}

/* base + path, without a doubled slash. */
char *
delivery_join_url(const char *base, const char *path)
{
	size_t		len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	return psprintf("%.*s%s", (int) len, base, path);
}

/* Append the batch's items, comma separated. */
void
delivery_join_items(StringInfo buf, DeliveryBatch *batch)
{
	for (int i = 0; i < batch->nevents; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		appendBinaryStringInfo(buf, batch->events[i].item, batch->events[i].len);
	}
}

/* Add one header line (already checked) to a batch's request. */
void
delivery_add_header(DeliveryBatch *batch, const char *line)
{
	if (batch->req.nheaders < HTTP_MAX_HEADERS)
		batch->req.headers[batch->req.nheaders++] = line;
}
