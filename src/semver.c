/*
 * semver.c
 *		Semantic Versioning 2.0.0: validation and a byte-comparable sort key.
 *
 * The catalog stores, next to each version string, a bytea whose ordinary
 * byte-wise ordering is semver precedence, so "the highest version" is a
 * plain ORDER BY ... DESC on an index.  Numbers of any length compare
 * numerically (length first, then digits), a pre-release sorts below its
 * release, and pre-release identifiers follow the spec's rules (numeric
 * below alphanumeric, fewer identifiers below more).  Build metadata is
 * ignored for precedence.
 */
#include "telemetry.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

PG_FUNCTION_INFO_V1(telemetry_semver_key);
PG_FUNCTION_INFO_V1(telemetry_semver_valid);

#define SEMVER_MAX_LEN 128

static inline bool
is_ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z') || c == '-';
}

/*
 * Parse a numeric core component at *p: digits without a leading zero.
 * Returns its length, or -1.
 */
static int
semver_number(const char *p)
{
	int			n = 0;

	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || (n > 1 && p[0] == '0'))
		return -1;
	return n;
}

/*
 * Parse one dot-separated identifier of a pre-release (numeric ones may not
 * have leading zeros) or build (anything goes) part.  Returns its length, or
 * -1; *numeric says whether it is all digits.
 */
static int
semver_ident(const char *p, bool prerelease, bool *numeric)
{
	int			n = 0;
	bool		digits = true;

	while (is_ident_char(p[n]))
	{
		if (p[n] < '0' || p[n] > '9')
			digits = false;
		n++;
	}
	if (n == 0)
		return -1;
	if (prerelease && digits && n > 1 && p[0] == '0')
		return -1;
	*numeric = digits;
	return n;
}

/*
 * Walk a version string; when key is not NULL, append the sort key to it.
 * Returns false when the string is not a valid semver.
 */
static bool
semver_walk(const char *s, StringInfo key)
{
	const char *p = s;
	int			i;
	bool		numeric;

	if (strlen(s) > SEMVER_MAX_LEN)
		return false;

	for (i = 0; i < 3; i++)
	{
		int			n = semver_number(p);

		if (n < 0)
			return false;
		if (key)
		{
			appendStringInfoChar(key, (char) n);
			appendBinaryStringInfo(key, p, n);
		}
		p += n;
		if (i < 2)
		{
			if (*p != '.')
				return false;
			p++;
		}
	}

	if (*p == '-')
	{
		/* pre-release: marker 0x01 sorts below a release's 0x02 */
		if (key)
			appendStringInfoChar(key, 0x01);
		p++;
		for (;;)
		{
			int			n = semver_ident(p, true, &numeric);

			if (n < 0)
				return false;
			if (key)
			{
				if (numeric)
				{
					appendStringInfoChar(key, 0x01);
					appendStringInfoChar(key, (char) n);
					appendBinaryStringInfo(key, p, n);
				}
				else
				{
					appendStringInfoChar(key, 0x02);
					appendBinaryStringInfo(key, p, n);
					appendStringInfoChar(key, 0x00);
				}
			}
			p += n;
			if (*p != '.')
				break;
			p++;
		}
		if (key)
			appendStringInfoChar(key, 0x00);
	}
	else if (key)
		appendStringInfoChar(key, 0x02);

	if (*p == '+')
	{
		p++;
		for (;;)
		{
			int			n = semver_ident(p, false, &numeric);

			if (n < 0)
				return false;
			p += n;
			if (*p != '.')
				break;
			p++;
		}
	}

	return *p == '\0';
}

/* Whether s is a valid Semantic Versioning 2.0.0 string (128 bytes at most). */
bool
semver_is_valid(const char *s)
{
	return semver_walk(s, NULL);
}

/* The sort key of a valid version; errors on an invalid one. */
bytea *
semver_sort_key(const char *s)
{
	StringInfoData buf;
	bytea	   *result;

	initStringInfo(&buf);
	if (!semver_walk(s, &buf))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid semantic version \"%s\"", s),
				 errhint("A version looks like 1.2.3, 1.2.3-beta.1 or 1.2.3+build.5.")));
	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

/* SQL: telemetry._semver_key(text) RETURNS bytea */
Datum
telemetry_semver_key(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BYTEA_P(semver_sort_key(s));
}

/* SQL: telemetry._semver_valid(text) RETURNS boolean */
Datum
telemetry_semver_valid(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(semver_is_valid(s));
}
