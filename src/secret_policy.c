/*
 * secret_policy.c
 *		Which server environment variables specs may reference.
 *
 * A spec admin may name {"env": NAME} in a provider setting, and delivery
 * would send that variable's value to the provider.  Only the variables a
 * superuser lists in telemetry.allowed_env (PGC_SIGHUP, empty by default)
 * may be referenced; registration refuses the others with 42501, and
 * delivery checks again.  Named secrets are scoped by the hosts stored
 * with them (telemetry.secrets.hosts, checked in SQL).
 */
#include "telemetry.h"

#include <ctype.h>

#include "utils/builtins.h"
#include "utils/guc.h"

/* Whether a variable name is acceptable in the list. */
static bool
env_name_valid(const char *s, int len)
{
	if (len <= 0 || len > 128)
		return false;
	if (!isalpha((unsigned char) s[0]) && s[0] != '_')
		return false;
	for (int i = 1; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/*
 * Walk the comma-separated list, calling fn on each item (whitespace around
 * items ignored).  Stops and returns false when fn does.
 */
static bool
env_list_walk(const char *list, bool (*fn) (const char *item, int len, void *arg), void *arg)
{
	const char *p = list ? list : "";

	while (*p)
	{
		const char *start;
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		if (end > start || *p == ',')
		{
			if (!fn(start, (int) (end - start), arg))
				return false;
		}
		if (*p == ',')
			p++;
	}
	return true;
}

static bool
env_item_check(const char *item, int len, void *arg)
{
	if (!env_name_valid(item, len))
	{
		GUC_check_errdetail("\"%.*s\" is not an environment variable name (letters, digits, \"_\", \".\", \"-\", starting with a letter or \"_\").",
							len > 128 ? 128 : len, item);
		return false;
	}
	return true;
}

/* GUC check hook of telemetry.allowed_env: a list of variable names. */
bool
telemetry_allowed_env_check(char **newval, void **extra, GucSource source)
{
	return env_list_walk(*newval, env_item_check, NULL);
}

typedef struct EnvFind
{
	const char *name;
	bool		found;
} EnvFind;

static bool
env_item_find(const char *item, int len, void *arg)
{
	EnvFind    *f = arg;

	if ((int) strlen(f->name) == len && strncmp(item, f->name, len) == 0)
	{
		f->found = true;
		return false;
	}
	return true;
}

/* Whether specs may reference the environment variable name (exact case). */
bool
telemetry_env_allowed(const char *name)
{
	EnvFind		f = {name, false};

	(void) env_list_walk(telemetry_allowed_env, env_item_find, &f);
	return f.found;
}
