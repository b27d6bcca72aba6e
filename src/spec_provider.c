/*
 * spec_provider.c
 *		Providers in specs: validation, the policy checks on what a provider
 *		may use and where it may send, and masking for non-owners.
 *
 * A provider entry is {type, name?, config}.  Its type and config keys (and
 * which keys are required, credentials, URLs, aliases) are the provider
 * type's descriptor's.  With SPEC_CHECK_POLICY, registration also checks
 * that every {"secret": n} exists and lists the provider's destination host
 * among its hosts, that every {"env": NAME} is listed in
 * telemetry.allowed_env (both 42501, naming the setting and never a value),
 * and the destination against telemetry.allowed_destinations.
 */
#include "telemetry.h"
#include "spec_provider.h"
#include "spec_validate.h"
#include "destination.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"

/* ---------------------------------------------------------------------
 * The provider types
 * ---------------------------------------------------------------------
 */

int
spec_provider_type_count(void)
{
	return delivery_format_count();
}

const SpecProviderType *
spec_provider_type(int i)
{
	return delivery_format_at(i);
}

/* The descriptor of a provider type, or NULL. */
const SpecProviderType *
spec_provider_lookup(const char *type)
{
	for (int i = 0; i < spec_provider_type_count(); i++)
		if (strcmp(spec_provider_type(i)->type, type) == 0)
			return spec_provider_type(i);
	return NULL;
}

/* The key of a type that holds its destination URL, or NULL (sends nothing). */
static const SpecConfigKey *
url_key(const SpecProviderType *t)
{
	for (const SpecConfigKey *k = t->keys; k->name; k++)
		if (k->url)
			return k;
	return NULL;
}

/* ---------------------------------------------------------------------
 * URLs and hosts
 * ---------------------------------------------------------------------
 */

/*
 * The host of an http:// or https:// URL as delivery sees it (libcurl's
 * parse), or NULL.
 */
static char *
url_host(const char *url)
{
	char	   *host;

	if (url == NULL || (pg_strncasecmp(url, "http://", 7) != 0 && pg_strncasecmp(url, "https://", 8) != 0))
		return NULL;
	host = destination_url_host(url);
	if (host == NULL || *host == '\0')
		return NULL;
	return host;
}

/* Whether a host is among a secret's hosts (as delivery decides it). */
static bool
host_allowed(const char *host, Datum hosts)
{
	Datum	   *items;
	bool	   *nulls;
	int			n;

	if (host == NULL)
		return false;
	deconstruct_array(DatumGetArrayTypeP(hosts), TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && destination_host_matches(TextDatumGetCString(items[i]), host))
			return true;
	return false;
}

/* Whether the text has a space or a control character. */
static bool
has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

/* Whether an http(s) URL carries user:password@ before its host. */
static bool
has_credentials(const char *u)
{
	const char *p;

	if (pg_strncasecmp(u, "http://", 7) == 0)
		p = u + 7;
	else if (pg_strncasecmp(u, "https://", 8) == 0)
		p = u + 8;
	else
		return false;
	for (; *p && *p != '/' && *p != '?' && *p != '#'; p++)
	{
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
			return false;
		if (*p == '@')
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------
 */

/*
 * A credential setting: a literal string, {"env": NAME} or {"secret":
 * NAME}; URL settings (allow_env false) take no {"env": ...}.
 */
static void
check_secret_value(const JsonbValue *v, const char *path, bool allow_env)
{
	if (v != NULL && v->type == jbvString)
	{
		int			chars = spec_chars(v->val.string.val, v->val.string.len);

		if (chars == 0 || chars > SPEC_MAX_SECRET_CHARS)
			spec_invalid(path, "must be 1 to %d characters", SPEC_MAX_SECRET_CHARS);
		return;
	}
	if (sj_is(v, "object") && sj_count(v) == 1)
	{
		JsonbValue	b1,
					b2;
		JsonbValue *env = sj_get(v, "env", &b1);
		JsonbValue *sec = sj_get(v, "secret", &b2);
		JsonbValue *name = env ? env : sec;

		if (name != NULL && name->type == jbvString && (allow_env || sec != NULL))
		{
			sj_check_key(name->val.string.val, name->val.string.len,
						 sj_path(path, env ? "env" : "secret"));
			return;
		}
	}
	if (allow_env)
		spec_invalid(path, "must be a string, {\"env\": \"NAME\"} or {\"secret\": \"name\"}");
	spec_invalid(path, "must be an http:// or https:// URL or {\"secret\": \"name\"}");
}

/* Whether a header name is an HTTP token of 1 to 128 characters. */
static bool
header_name_valid(const char *s, int len)
{
	if (len < 1 || len > 128)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) &&
			(c == '\0' || strchr("!#$%&'*+.^_`|~-", c) == NULL))
			return false;
	}
	return true;
}

/* The allowed names of a type's config keys, for messages. */
static const char **
key_names(const SpecProviderType *t)
{
	int			n = 0;
	const char **names;

	for (const SpecConfigKey *k = t->keys; k->name; k++)
		n++;
	names = palloc(sizeof(char *) * (n + 1));
	n = 0;
	for (const SpecConfigKey *k = t->keys; k->name; k++)
		names[n++] = k->name;
	names[n] = NULL;
	return names;
}

/* "posthog, segment, ...": the provider types, for messages. */
static char *
types_allowed(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < spec_provider_type_count(); i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", spec_provider_type(i)->type);
	return buf.data;
}

/* An object with the member `from` renamed `to`. */
static Jsonb *
rename_member(const JsonbValue *obj, const char *from, const char *to)
{
	JsonbParseState *st = NULL;
	JsonbIterator *it = JsonbIteratorInit(obj->val.binary.data);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *result = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY && (int) strlen(from) == v.val.string.len &&
			memcmp(v.val.string.val, from, v.val.string.len) == 0)
		{
			v.val.string.val = (char *) to;
			v.val.string.len = strlen(to);
		}
		result = pushJsonbValue(&st, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(result);
}

static char *refs_problem(const SpecProviderType *t, Jsonb *config, const char *path);
static char *destination_url(const SpecProviderType *t, Jsonb *config);

/* destination.c: registration's check of a URL against the policy */
extern Datum telemetry_check_destination(PG_FUNCTION_ARGS);

/*
 * Validate one provider entry {type, name?, config, alerts?}; fill in prov
 * with its normalized form.
 */
void
spec_validate_provider(SpecProvider *prov, const JsonbValue *p, const char *path,
					   SpecCheckLevel level)
{
	const SpecProviderType *t;
	JsonbValue	b1;
	JsonbValue *nv;
	JsonbValue *cfgv;
	JsonbValue	cfg;
	char	   *cpath = sj_path(path, "config");

	sj_expect(p, "object", path);
	sj_allowed_keys(p, spec_provider_keys, path);
	prov->type = sj_opt_text(p, "type", path, SPEC_MAX_NAME_CHARS);
	if (prov->type == NULL)
		spec_invalid(sj_path(path, "type"), "required string is missing");
	t = spec_provider_lookup(prov->type);
	if (t == NULL)
		spec_invalid(sj_path(path, "type"), "unknown provider type %s (allowed: %s)",
					 spec_quote(prov->type, strlen(prov->type)), types_allowed());
	prov->alerts = sj_opt_bool(p, "alerts", path, true);
	if (!prov->alerts && strcmp(t->type, "slack") == 0)
		spec_invalid(sj_path(path, "alerts"), "a slack provider receives only alerts: \"alerts\": false would leave it nothing");
	nv = sj_get(p, "name", &b1);
	if (nv != NULL)
	{
		prov->name = sj_opt_text(p, "name", path, SPEC_MAX_NAME_CHARS);
		if (prov->name != NULL)
			sj_check_key(prov->name, strlen(prov->name), sj_path(path, "name"));
	}

	/* the config: an object, {} when absent */
	cfgv = sj_get(p, "config", &b1);
	if (sj_absent(cfgv))
		prov->config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	else
	{
		char	   *jtext;

		sj_expect(cfgv, "object", cpath);
		prov->config = sj_to_jsonb(cfgv);
		jtext = JsonbToCString(NULL, &prov->config->root, VARSIZE(prov->config));
		if (strlen(jtext) > SPEC_MAX_PROVIDER_CONFIG)
			spec_invalid(cpath, "larger than 16 kB");
	}
	cfg.type = jbvBinary;
	cfg.val.binary.data = &prov->config->root;
	cfg.val.binary.len = VARSIZE(prov->config) - VARHDRSZ;

	/* an alias stands for its key when that is not given too */
	for (const SpecConfigKey *k = t->keys; k->name; k++)
	{
		JsonbValue	b2,
					b3;

		if (k->alias_of && sj_get(&cfg, k->name, &b2) && !sj_get(&cfg, k->alias_of, &b3))
		{
			prov->config = rename_member(&cfg, k->name, k->alias_of);
			cfg.val.binary.data = &prov->config->root;
			cfg.val.binary.len = VARSIZE(prov->config) - VARHDRSZ;
		}
	}

	sj_allowed_keys(&cfg, key_names(t), cpath);
	for (const SpecConfigKey *k = t->keys; k->name; k++)
	{
		JsonbValue	b2;

		if (k->required && sj_absent(sj_get(&cfg, k->name, &b2)))
			spec_invalid(sj_path(cpath, k->name), "required by provider type %s but missing",
						 spec_quote(t->type, strlen(t->type)));
	}
	for (const SpecConfigKey *k = t->keys; k->name; k++)
	{
		JsonbValue	b2;
		JsonbValue *v = sj_get(&cfg, k->name, &b2);

		if (k->secret && !k->headers && v != NULL)
			check_secret_value(v, sj_path(cpath, k->name), true);
	}
	for (const SpecConfigKey *k = t->keys; k->name; k++)
	{
		JsonbValue	b2;
		JsonbValue *v = sj_get(&cfg, k->name, &b2);
		char	   *u;

		if (!k->url || v == NULL)
			continue;
		if (sj_is(v, "object"))
		{
			check_secret_value(v, sj_path(cpath, k->name), false);
			continue;
		}
		u = sj_opt_text(&cfg, k->name, cpath, SPEC_MAX_URL_CHARS);
		/* credentials would be readable by everyone in the spec document */
		if (u != NULL && has_credentials(u))
			spec_invalid(sj_path(cpath, k->name),
						 "must not contain user:password@ (use headers with {\"secret\": ...} instead)");
		if (u == NULL || url_host(u) == NULL || has_space_or_control(u))
			spec_invalid(sj_path(cpath, k->name), "must be an http:// or https:// URL");
	}
	for (const SpecConfigKey *k = t->keys; k->name; k++)
		if (k->max_chars > 0)
			(void) sj_opt_text(&cfg, k->name, cpath, k->max_chars);
	for (const SpecConfigKey *k = t->keys; k->name; k++)
	{
		JsonbValue	b2;
		JsonbValue *h = sj_get(&cfg, k->name, &b2);
		char	   *hpath = sj_path(cpath, k->name);
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *name = NULL;
		int			namelen = 0;

		if (!k->headers || h == NULL)
			continue;
		sj_expect(h, "object", hpath);
		it = JsonbIteratorInit(h->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				name = v.val.string.val;
				namelen = v.val.string.len;
				if (!header_name_valid(name, namelen))
					spec_invalid(hpath, "invalid header name %s", spec_quote(name, namelen));
			}
			else if (tok == WJB_VALUE)
				check_secret_value(&v, spec_member(hpath, name, namelen), true);
		}
	}

	if (level == SPEC_CHECK_POLICY)
	{
		char	   *problem = refs_problem(t, prov->config, cpath);
		const SpecConfigKey *uk = url_key(t);
		char	   *dest;

		if (problem != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s", problem),
					 errhint("Named secrets are sent only to the hosts the extension's owner gave them with telemetry_set_secret(name, value, hosts); "
							 "environment variables only when a superuser lists them in telemetry.allowed_env."),
					 errhidestmt(true)));

		/*
		 * The destination policy (telemetry.allowed_destinations): the URL
		 * this provider sends to (a literal, a secret's value or the type's
		 * default) may reach a non-public address only when a superuser
		 * listed it (42501).  Errors name the setting, never the URL (it may
		 * be a secret); connect time checks the resolved addresses again.
		 */
		dest = destination_url(t, prov->config);
		if (uk != NULL && dest != NULL)
			(void) DirectFunctionCall2(telemetry_check_destination, CStringGetTextDatum(dest),
									   CStringGetTextDatum(sj_path(cpath, uk->name)));
	}
}

/*
 * Give each provider its name in the catalog: the name given, else its
 * type; a second provider of a type without a name gets "_<position>".
 * Two providers with the same name are an error.
 */
void
spec_name_providers(SpecDoc *doc)
{
	for (int i = 0; i < doc->nproviders; i++)
	{
		SpecProvider *p = &doc->providers[i];
		bool		taken = false;

		p->ename = p->name ? p->name : p->type;
		for (int j = 0; j < i; j++)
			taken |= strcmp(doc->providers[j].ename, p->ename) == 0;
		if (taken && p->name == NULL)
		{
			p->ename = psprintf("%s_%d", p->type, i + 1);
			taken = false;
			for (int j = 0; j < i; j++)
				taken |= strcmp(doc->providers[j].ename, p->ename) == 0;
		}
		if (taken)
			spec_invalid(psprintf("config.providers[%d].name", i), "provider name %s is used twice",
						 spec_quote(p->ename, strlen(p->ename)));
	}
}

/* ---------------------------------------------------------------------
 * Policy: secrets, environment variables, destinations
 * ---------------------------------------------------------------------
 */

typedef struct SecretRow
{
	bool		found;
	char	   *value;
	Datum		hosts;			/* text[] */
} SecretRow;

/* A named secret's value and hosts (read as the extension's owner). */
static SecretRow
read_secret(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	SecretRow	row = {false, NULL, (Datum) 0};
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT value, hosts FROM telemetry.secrets WHERE name = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read telemetry.secrets");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		h = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		row.found = true;
		row.value = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		row.hosts = isnull ? PointerGetDatum(construct_empty_array(TEXTOID))
			: PointerGetDatum(DatumGetArrayTypePCopy(h));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return row;
}

/* A reference's name: {"env": NAME} or {"secret": NAME}, else NULL. */
static char *
ref_name(const JsonbValue *v, const char *kind)
{
	JsonbValue	b;
	JsonbValue *n = sj_get(v, kind, &b);

	if (n == NULL || n->type != jbvString)
		return n ? pstrdup("") : NULL;
	return sj_text(n);
}

typedef struct RefItem
{
	char	   *key;			/* "writeKey", "headers.X-Api-Key" */
	JsonbValue	value;
} RefItem;

static int
ref_cmp(const void *a, const void *b)
{
	return strcmp(((const RefItem *) a)->key, ((const RefItem *) b)->key);
}

/*
 * Whether a provider config may use the secrets and environment variables
 * it names (42501 naming the setting, never a value when not): a
 * {"secret": n} needs n to exist with the provider's destination host among
 * its hosts (when the URL itself is that secret, the host of its value); an
 * {"env": NAME} needs NAME listed in telemetry.allowed_env.  Delivery asks
 * again before sending.
 */
static char *
refs_problem(const SpecProviderType *t, Jsonb *config, const char *path)
{
	const SpecConfigKey *uk = url_key(t);
	JsonbValue	cfg;
	JsonbValue	b;
	JsonbValue *d;
	char	   *host;
	char	   *shown = NULL;
	char	   *problem = NULL;
	RefItem    *items;
	int			n = 0;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (uk == NULL || !JB_ROOT_IS_OBJECT(config))
		return NULL;			/* sends nothing */
	cfg.type = jbvBinary;
	cfg.val.binary.data = &config->root;
	cfg.val.binary.len = VARSIZE(config) - VARHDRSZ;
	d = sj_get(&cfg, uk->name, &b);
	host = url_host(destination_url(t, config));

	if (sj_is(d, "object"))
	{
		char	   *name = ref_name(d, "secret");
		SecretRow	s = read_secret(name ? name : "");

		if (!s.found || !host_allowed(host, s.hosts))
			problem = psprintf("%s.%s: secret %s does not exist, is not an http(s) URL, or its host is not among the hosts it may be sent to",
							   path, uk->name, spec_quote(name ? name : "", name ? strlen(name) : 0));
		shown = "this provider's destination";
	}
	else if (host == NULL)
		problem = psprintf("%s.%s: not an http:// or https:// URL with a host", path, uk->name);
	else
		shown = psprintf("host %s", spec_quote(host, strlen(host)));

	/* every other setting, and every header, in name order */
	items = palloc(sizeof(RefItem) * (sj_count(&cfg) + 256));
	it = JsonbIteratorInit(cfg.val.binary.data);
	while (problem == NULL && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = sj_text(&v);
		else if (tok == WJB_VALUE && strcmp(key, uk->name) != 0)
		{
			if (strcmp(key, "headers") == 0)
			{
				JsonbIterator *hit;
				JsonbValue	hv;
				JsonbIteratorToken htok;
				char	   *hkey = NULL;

				if (!sj_is(&v, "object"))
					continue;
				items = repalloc(items, sizeof(RefItem) * (n + sj_count(&v) + 256));
				hit = JsonbIteratorInit(v.val.binary.data);
				while ((htok = JsonbIteratorNext(&hit, &hv, true)) != WJB_DONE)
				{
					if (htok == WJB_KEY)
						hkey = psprintf("headers.%s", sj_text(&hv));
					else if (htok == WJB_VALUE)
					{
						items[n].key = hkey;
						items[n++].value = hv;
					}
				}
			}
			else
			{
				items[n].key = key;
				items[n++].value = v;
			}
		}
	}
	qsort(items, n, sizeof(RefItem), ref_cmp);
	for (int i = 0; i < n && problem == NULL; i++)
	{
		char	   *env;
		char	   *sec;

		if (!sj_is(&items[i].value, "object"))
			continue;
		env = ref_name(&items[i].value, "env");
		sec = ref_name(&items[i].value, "secret");
		if (env != NULL)
		{
			if (!telemetry_env_allowed(env))
				problem = psprintf("%s: environment variable %s is not listed in telemetry.allowed_env",
								   spec_member(path, items[i].key, strlen(items[i].key)),
								   spec_quote(env, strlen(env)));
		}
		else if (sec != NULL)
		{
			SecretRow	s = read_secret(sec);

			if (!s.found || !host_allowed(host, s.hosts))
				problem = psprintf("%s: secret %s does not exist or may not be sent to %s",
								   spec_member(path, items[i].key, strlen(items[i].key)),
								   spec_quote(sec, strlen(sec)), shown);
		}
	}
	return problem;
}

/*
 * The URL a provider sends to: its URL setting, the value of the secret it
 * names there, or the type's default.  NULL when it sends nothing or the
 * secret is missing.
 */
static char *
destination_url(const SpecProviderType *t, Jsonb *config)
{
	const SpecConfigKey *uk = t ? url_key(t) : NULL;
	JsonbValue	cfg;
	JsonbValue	b;
	JsonbValue *d;

	if (uk == NULL || !JB_ROOT_IS_OBJECT(config))
		return NULL;
	cfg.type = jbvBinary;
	cfg.val.binary.data = &config->root;
	cfg.val.binary.len = VARSIZE(config) - VARHDRSZ;
	d = sj_get(&cfg, uk->name, &b);
	if (sj_absent(d))
		return t->default_url ? pstrdup(t->default_url) : NULL;
	if (d->type == jbvString)
		return sj_text(d);
	if (sj_is(d, "object") && ref_name(d, "secret") != NULL)
		return read_secret(ref_name(d, "secret")).value;
	return NULL;
}

PG_FUNCTION_INFO_V1(telemetry_provider_refs_problem);
PG_FUNCTION_INFO_V1(telemetry_destination_url);

/* SQL: telemetry._provider_refs_problem(ptype text, cfg jsonb, path text) RETURNS text */
Datum
telemetry_provider_refs_problem(PG_FUNCTION_ARGS)
{
	const SpecProviderType *t;
	char	   *problem;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	t = spec_provider_lookup(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	if (t == NULL)
		PG_RETURN_NULL();
	problem = refs_problem(t, PG_GETARG_JSONB_P(1),
						   PG_ARGISNULL(2) ? "config" : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/* SQL: telemetry._destination_url(ptype text, cfg jsonb) RETURNS text */
Datum
telemetry_destination_url(PG_FUNCTION_ARGS)
{
	char	   *url;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	url = destination_url(spec_provider_lookup(text_to_cstring(PG_GETARG_TEXT_PP(0))),
						  PG_GETARG_JSONB_P(1));
	if (url == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(url));
}

/* ---------------------------------------------------------------------
 * Masking
 * ---------------------------------------------------------------------
 */

/*
 * A URL as non-owners see it: scheme://host[:port] and no path, query or
 * fragment (a webhook path or a ?token= can be a bearer secret).
 */
static char *
mask_url(const char *u)
{
	const char *p = u;
	const char *sep;
	const char *rest;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return pstrdup("********");
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		   *p == '+' || *p == '.' || *p == '-')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return pstrdup("********");
	sep = p + 3;
	rest = sep + strcspn(sep, "/?#");
	if (*rest == '\0' || strcmp(rest, "/") == 0)
		return pstrdup(u);
	return psprintf("%.*s/********", (int) (rest - u), u);
}

static void
push_masked_value(JsonbParseState **st, JsonbIteratorToken tok, const JsonbValue *v,
				  const SpecConfigKey *k)
{
	JsonbValue	m;

	if (k != NULL && v->type == jbvString && (k->secret || k->url))
	{
		m.type = jbvString;
		m.val.string.val = k->url ? mask_url(sj_text(v)) : "********";
		m.val.string.len = strlen(m.val.string.val);
		pushJsonbValue(st, tok, &m);
	}
	else if (k != NULL && k->headers && sj_is(v, "object"))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	hv;
		JsonbIteratorToken htok;

		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		(void) JsonbIteratorNext(&it, &hv, true);	/* the object's start */
		while ((htok = JsonbIteratorNext(&it, &hv, true)) != WJB_DONE)
		{
			if (htok == WJB_KEY)
				pushJsonbValue(st, WJB_KEY, &hv);
			else if (htok == WJB_VALUE)
			{
				if (sj_is(&hv, "object"))
					pushJsonbValue(st, WJB_VALUE, &hv);
				else
				{
					m.type = jbvString;
					m.val.string.val = "********";
					m.val.string.len = 8;
					pushJsonbValue(st, WJB_VALUE, &m);
				}
			}
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	else
		pushJsonbValue(st, tok, (JsonbValue *) v);
}

/* A config key of any provider type by name (masking reads documents of any type). */
static const SpecConfigKey *
any_key(const SpecProviderType *t, const char *name, int len)
{
	for (int i = 0; i < spec_provider_type_count(); i++)
	{
		const SpecProviderType *ti = spec_provider_type(i);

		if (t != NULL && ti != t)
			continue;
		for (const SpecConfigKey *k = ti->keys; k->name; k++)
			if ((int) strlen(k->name) == len && memcmp(k->name, name, len) == 0 &&
				(k->secret || k->url || k->headers))
				return k;
	}
	return NULL;
}

/* One provider entry masked. */
static void
push_masked_provider(JsonbParseState **st, const JsonbValue *p)
{
	JsonbValue	b;
	JsonbValue *tv = sj_get(p, "type", &b);
	const SpecProviderType *t = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		in_config = false;

	if (!sj_is(p, "object"))
	{
		pushJsonbValue(st, WJB_ELEM, (JsonbValue *) p);
		return;
	}
	if (tv != NULL && tv->type == jbvString)
		t = spec_provider_lookup(sj_text(tv));
	it = JsonbIteratorInit(p->val.binary.data);
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	(void) JsonbIteratorNext(&it, &v, true);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			in_config = v.val.string.len == 6 && memcmp(v.val.string.val, "config", 6) == 0;
			pushJsonbValue(st, WJB_KEY, &v);
		}
		else if (tok == WJB_VALUE && in_config)
		{
			if (sj_is(&v, "object"))
			{
				JsonbIterator *cit = JsonbIteratorInit(v.val.binary.data);
				JsonbValue	cv;
				JsonbIteratorToken ctok;
				const SpecConfigKey *k = NULL;

				pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
				(void) JsonbIteratorNext(&cit, &cv, true);
				while ((ctok = JsonbIteratorNext(&cit, &cv, true)) != WJB_DONE)
				{
					if (ctok == WJB_KEY)
					{
						/* a known type's keys; of an unknown type, any type's */
						k = any_key(t, cv.val.string.val, cv.val.string.len);
						if (k == NULL && t != NULL)
							k = any_key(NULL, cv.val.string.val, cv.val.string.len);
						pushJsonbValue(st, WJB_KEY, &cv);
					}
					else if (ctok == WJB_VALUE)
						push_masked_value(st, WJB_VALUE, &cv, k);
				}
				pushJsonbValue(st, WJB_END_OBJECT, NULL);
			}
			else
			{
				/* as before: a config that is not an object is hidden whole */
				JsonbValue	m;

				m.type = jbvString;
				m.val.string.val = "********";
				m.val.string.len = 8;
				pushJsonbValue(st, WJB_VALUE, &m);
			}
		}
		else if (tok == WJB_VALUE)
			pushJsonbValue(st, WJB_VALUE, &v);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * A spec document as non-owners see it: literal values of credential
 * settings and of every header are "********", URL settings lose their
 * path and query.  {"env": ...} and {"secret": ...} references name a
 * secret without being one, and are shown.
 */
Jsonb *
spec_mask_secrets(Jsonb *doc)
{
	JsonbValue	root;
	JsonbValue	b1,
				b2;
	JsonbValue *cfg;
	JsonbValue *provs;
	JsonbParseState *st = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	bool		in_config = false;
	JsonbValue *result = NULL;

	if (!JB_ROOT_IS_OBJECT(doc))
		return doc;
	root.type = jbvBinary;
	root.val.binary.data = &doc->root;
	root.val.binary.len = VARSIZE(doc) - VARHDRSZ;
	cfg = sj_get(&root, "config", &b1);
	provs = sj_get(cfg, "providers", &b2);
	if (!sj_is(provs, "array"))
		return doc;

	/* copy the document, replacing config.providers */
	it = JsonbIteratorInit(&doc->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			depth++;
			pushJsonbValue(&st, tok, NULL);
		}
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
		{
			depth--;
			result = pushJsonbValue(&st, tok, NULL);
		}
		else if (tok == WJB_KEY)
		{
			pushJsonbValue(&st, tok, &v);
			if (depth == 1)
				in_config = v.val.string.len == 6 && memcmp(v.val.string.val, "config", 6) == 0;
			if (depth == 2 && in_config && v.val.string.len == 9 &&
				memcmp(v.val.string.val, "providers", 9) == 0)
			{
				/* write the masked providers and skip the original value */
				pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < sj_count(provs); i++)
					push_masked_provider(&st, getIthJsonbValueFromContainer(provs->val.binary.data, i));
				pushJsonbValue(&st, WJB_END_ARRAY, NULL);
				(void) JsonbIteratorNext(&it, &v, true);
			}
		}
		else
			pushJsonbValue(&st, tok, &v);
	}
	return JsonbValueToJsonb(result);
}
