/*
 * provider_common.c
 *		Helpers shared by the provider types: config values, headers, bodies.
 *
 * Config values arrive with {"secret": name} replaced by
 * {"secret_value", "secret_name", "secret_hosts"} (telemetry._delivery_config);
 * {"env": NAME} is read here from the server's environment.  A secret is
 * used only when its hosts include the provider's destination host, and an
 * environment variable only when telemetry.allowed_env lists it: otherwise
 * the provider gets a config error and nothing is sent.  Error messages
 * name the setting, never its value.
 */
#include "telemetry.h"
#include "delivery.h"
#include "destination.h"

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

/* A string member of an object value, or NULL. */
static char *
member_text(JsonbValue *obj, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj->val.binary.data, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Whether a resolved secret's hosts include a host. */
static bool
secret_allows(JsonbValue *obj, const char *host)
{
	JsonbValue *hosts = getKeyJsonValueFromContainer(obj->val.binary.data, "secret_hosts", 12, NULL);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (host == NULL || hosts == NULL || hosts->type != jbvBinary ||
		!JsonContainerIsArray(hosts->val.binary.data))
		return false;
	it = JsonbIteratorInit(hosts->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_ELEM && v.type == jbvString)
		{
			char	   *pattern = pnstrdup(v.val.string.val, v.val.string.len);

			if (destination_host_matches(pattern, host))
				return true;
		}
	}
	return false;
}

/*
 * A config value as text: a string, {"env": NAME} or a resolved secret.
 * `host` is where the value will be sent; NULL for the URL setting itself,
 * whose secret must allow the host of its own value.
 */
static char *
value_text(DeliveryProvider *prov, JsonbValue *v, const char *what, const char *host,
		   char **error)
{
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		char	   *env = member_text(v, "env");
		char	   *value = member_text(v, "secret_value");
		char	   *missing = member_text(v, "missing_secret");

		if (env != NULL)
		{
			char	   *val;

			if (!telemetry_env_allowed(env))
			{
				*error = psprintf("%s: environment variable \"%s\" is not listed in telemetry.allowed_env",
								  what, env);
				return NULL;
			}
			val = getenv(env);
			if (val == NULL || *val == '\0')
			{
				*error = psprintf("%s: environment variable \"%s\" is not set in the server's environment",
								  what, env);
				return NULL;
			}
			return pstrdup(val);
		}
		if (value != NULL)
		{
			char	   *name = member_text(v, "secret_name");
			const char *to = host;

			if (to == NULL)
				to = destination_url_host(value);
			/* no host in the message: it may come from a secret URL */
			if (to == NULL || !secret_allows(v, to))
			{
				*error = host != NULL
					? psprintf("%s: secret \"%s\" may not be sent to this provider's host (not in the secret's hosts)",
							   what, name ? name : "?")
					: psprintf("%s: secret \"%s\" holds a URL whose host is not in the secret's hosts",
							   what, name ? name : "?");
				return NULL;
			}
			return value;
		}
		if (missing != NULL)
		{
			*error = psprintf("%s: secret \"%s\" is not set (see telemetry_set_secret)",
							  what, missing);
			return NULL;
		}
	}
	*error = psprintf("%s: must be a string, {\"env\": \"NAME\"} or {\"secret\": \"name\"}", what);
	return NULL;
}

/*
 * The text of a config setting (NULL when absent), for the provider's
 * destination host.  Sets *error (if it is not set already) when the
 * setting cannot be resolved or may not be used there.
 */
char *
delivery_config_text(DeliveryProvider *prov, const char *key, char **error)
{
	char	   *err = NULL;
	char	   *val = value_text(prov, config_value(prov, key), key, prov->host, &err);

	if (err != NULL && *error == NULL)
		*error = err;
	return val;
}

/*
 * Resolve the destination (url, host or endpoint; a string or a secret
 * reference), then the rest of the config with the type's configure().
 * Returns NULL or an error naming the setting.
 */
char *
delivery_configure(DeliveryProvider *prov)
{
	const DeliveryFormat *f = prov->format;
	const char *url_key = NULL;
	char	   *error = NULL;
	char	   *base = NULL;

	for (const DeliveryConfigKey *k = f->keys; k->name != NULL; k++)
		if (k->url)
			url_key = k->name;
	prov->host = NULL;
	if (url_key != NULL)
		base = value_text(prov, config_value(prov, url_key), url_key, NULL, &error);
	if (error != NULL)
		return error;
	if (base == NULL)
	{
		if (f->default_url == NULL)
			return psprintf("%s: missing", url_key);
		base = pstrdup(f->default_url);
	}
	prov->host = destination_url_host(base);
	if (prov->host == NULL || *prov->host == '\0')
		return psprintf("%s: not a URL with a host", url_key);
	prov->url = f->url_path ? delivery_join_url(base, f->url_path) : base;
	return f->configure(prov);
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
		val = value_text(prov, &v, what, prov->host, &error);
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
