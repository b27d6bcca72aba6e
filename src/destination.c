/*
 * destination.c
 *		The destination policy: telemetry.allowed_destinations.
 *
 * A provider may send to any public address.  Loopback, link-local,
 * private (RFC 1918), shared (100.64/10), unique-local (fc00::/7),
 * site-local, unspecified, multicast and broadcast addresses are reached
 * only when the superuser lists them in telemetry.allowed_destinations: an
 * IP address or CIDR range allows those addresses, a host name allows that
 * name whatever it resolves to.  Every spelling of an address counts: the
 * numeric, hex, octal and short IPv4 forms ("2130706433", "0x7f.1",
 * "0177.0.0.1", "127.1"), and IPv4 inside IPv6 (mapped "::ffff:a.b.c.d",
 * compatible, NAT64 and 6to4).
 *
 * Registration checks the URL text (telemetry._check_destination, called
 * by _validate_provider), with the host as libcurl parses it; http.c checks
 * every resolved address when it opens a socket, so a name that resolves
 * to a private address (DNS rebinding included) is refused too.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <curl/curl.h>

#include "destination.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(telemetry_check_destination);

#define DEST_MAX_ENTRIES	256
#define DEST_MAX_NAME		253

typedef struct DestEntry
{
	bool		is_name;
	DestAddr	addr;			/* when !is_name */
	int			prefix;			/* bits */
	char		name[DEST_MAX_NAME + 1];	/* lower case, no trailing dot */
} DestEntry;

typedef struct DestList
{
	int			n;
	DestEntry	entries[FLEXIBLE_ARRAY_MEMBER];
} DestList;

char	   *telemetry_allowed_destinations = NULL;
uint32		destination_policy_generation = 0;
static DestList *dest_list = NULL;

/* One number of an IPv4 address in decimal, 0x hex or 0 octal; false if not. */
static bool
parse_ipv4_number(const char *s, int len, uint64 *out)
{
	int			base = 10;
	uint64		v = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
	{
		base = 16;
		s += 2;
		len -= 2;
	}
	else if (len >= 2 && s[0] == '0')
	{
		base = 8;
		s++;
		len--;
	}
	for (int i = 0; i < len; i++)
	{
		int			d;
		char		c = s[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		v = v * base + d;
		if (v > PG_UINT32_MAX)
			return false;
	}
	*out = v;
	return true;
}

/* Whether a label is a number as the URL standard sees it (digits or 0x..). */
static bool
looks_numeric(const char *s, int len)
{
	if (len == 0)
		return false;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
	{
		for (int i = 2; i < len; i++)
			if (!isxdigit((unsigned char) s[i]))
				return false;
		return true;
	}
	for (int i = 0; i < len; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;
	return true;
}

/*
 * Parse a host as an IPv4 address in any of the forms resolvers and URL
 * parsers accept (1 to 4 parts, each decimal, hex or octal, the last one
 * filling the remaining bytes).  Returns 1 for an address, 0 for a host name
 * (its last label is not a number), -1 for something that looks numeric but
 * is no valid address.
 */
static int
parse_ipv4(const char *host, uint8 out[4])
{
	const char *parts[4];
	int			lens[4];
	int			n = 0;
	const char *p = host;
	size_t		hlen = strlen(host);
	const char *last;
	uint64		v[4];
	uint32		addr;

	if (hlen == 0)
		return 0;
	if (host[hlen - 1] == '.')
		hlen--;					/* one trailing dot is allowed */
	last = host + hlen;
	while (last > host && last[-1] != '.')
		last--;
	if (!looks_numeric(last, (int) (host + hlen - last)))
		return 0;

	while (p <= host + hlen)
	{
		const char *dot = memchr(p, '.', host + hlen - p);
		const char *end = dot ? dot : host + hlen;

		if (n == 4)
			return -1;
		parts[n] = p;
		lens[n] = (int) (end - p);
		if (lens[n] == 0 || !parse_ipv4_number(parts[n], lens[n], &v[n]))
			return -1;
		n++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	for (int i = 0; i < n - 1; i++)
		if (v[i] > 255)
			return -1;
	if (n < 4 && v[n - 1] >= ((uint64) 1 << (8 * (5 - n))))
		return -1;
	if (n == 4 && v[3] > 255)
		return -1;
	addr = 0;
	for (int i = 0; i < n - 1; i++)
		addr |= (uint32) v[i] << (24 - 8 * i);
	addr |= (uint32) v[n - 1];
	out[0] = addr >> 24;
	out[1] = (addr >> 16) & 0xff;
	out[2] = (addr >> 8) & 0xff;
	out[3] = addr & 0xff;
	return 1;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes its IPv4 address. */
static void
unmap(DestAddr *a)
{
	static const uint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (a->family == AF_INET6 && memcmp(a->bytes, mapped, 12) == 0)
	{
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
}

/*
 * Parse a host (without brackets) as an IP address: 1 when it is one, 0 for
 * a host name, -1 when it looks like an address but is not a valid one.
 */
static int
parse_ip(const char *host, DestAddr *a)
{
	memset(a, 0, sizeof(*a));
	if (strchr(host, ':') != NULL)
	{
		char		buf[INET6_ADDRSTRLEN + 1];
		const char *zone = strchr(host, '%');
		size_t		len = zone ? (size_t) (zone - host) : strlen(host);

		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, host, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, a->bytes) != 1)
			return -1;
		a->family = AF_INET6;
		unmap(a);
		return 1;
	}
	a->family = AF_INET;
	return parse_ipv4(host, a->bytes);
}

/* Why an IPv4 address needs listing, or NULL when it is public. */
static const char *
ipv4_kind(const uint8 *b)
{
	if (b[0] == 0)
		return "an unspecified address";
	if (b[0] == 127)
		return "a loopback address";
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168))
		return "a private address";
	if (b[0] == 100 && (b[1] & 0xc0) == 64)
		return "a shared (carrier-grade NAT) address";
	if (b[0] == 169 && b[1] == 254)
		return "a link-local address";
	if (b[0] >= 224 && b[0] <= 239)
		return "a multicast address";
	if (b[0] >= 240)
		return "a reserved or broadcast address";
	return NULL;
}

/*
 * The IPv4 address inside an IPv6 one that leads to it: compatible
 * (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
 */
static bool
embedded_ipv4(const DestAddr *a, uint8 out[4])
{
	static const uint8 zero[12] = {0};
	static const uint8 nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (a->family != AF_INET6)
		return false;
	if (memcmp(a->bytes, zero, 12) == 0 || memcmp(a->bytes, nat64, 12) == 0)
	{
		memcpy(out, a->bytes + 12, 4);
		return true;
	}
	if (a->bytes[0] == 0x20 && a->bytes[1] == 0x02)
	{
		memcpy(out, a->bytes + 2, 4);
		return true;
	}
	return false;
}

/* Why an address needs listing, or NULL when it is public. */
static const char *
restricted_kind(const DestAddr *a)
{
	const uint8 *b = a->bytes;
	static const uint8 zero[16] = {0};
	uint8		v4[4];

	if (a->family == AF_INET)
		return ipv4_kind(b);
	if (memcmp(b, zero, 16) == 0)
		return "an unspecified address";
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return "a loopback address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return "a site-local address";
	if ((b[0] & 0xfe) == 0xfc)
		return "a unique-local address";
	if (b[0] == 0xff)
		return "a multicast address";
	if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
		return "a private address";		/* local-use NAT64, 64:ff9b:1::/48 */
	if (embedded_ipv4(a, v4))
		return ipv4_kind(v4);
	return NULL;
}

/* Whether the first `bits` bits of two addresses are equal. */
static bool
prefix_match(const uint8 *a, const uint8 *b, int bits)
{
	int			full = bits / 8;
	int			rem = bits % 8;
	uint8		mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rem == 0)
		return true;
	mask = (uint8) (0xff << (8 - rem));
	return (a[full] & mask) == (b[full] & mask);
}

/* Whether an address is in a listed address or range. */
static bool
address_listed(const DestAddr *a)
{
	uint8		v4[4];
	bool		has_v4 = embedded_ipv4(a, v4);

	if (dest_list == NULL)
		return false;
	for (int i = 0; i < dest_list->n; i++)
	{
		const DestEntry *e = &dest_list->entries[i];

		if (e->is_name)
			continue;
		if (e->addr.family == a->family && prefix_match(a->bytes, e->addr.bytes, e->prefix))
			return true;
		if (has_v4 && e->addr.family == AF_INET && prefix_match(v4, e->addr.bytes, e->prefix))
			return true;
	}
	return false;
}

/* Copy a host name lower-cased and without its trailing dot; false if too long. */
static bool
normalize_name(const char *src, size_t len, char *dst, size_t dstlen)
{
	if (len > 0 && src[len - 1] == '.')
		len--;
	if (len == 0 || len >= dstlen)
		return false;
	for (size_t i = 0; i < len; i++)
		dst[i] = pg_ascii_tolower((unsigned char) src[i]);
	dst[len] = '\0';
	return true;
}

/* Whether a host name consists of letters, digits, '.', '-' and '_' only. */
static bool
valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char) *s) || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Whether a (normalized) host name is listed. */
bool
destination_host_listed(const char *host)
{
	char		name[DEST_MAX_NAME + 1];

	if (dest_list == NULL || host == NULL ||
		!normalize_name(host, strlen(host), name, sizeof(name)))
		return false;
	for (int i = 0; i < dest_list->n; i++)
		if (dest_list->entries[i].is_name && strcmp(dest_list->entries[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Whether connecting to an address is allowed: a public address, a listed
 * address, or any address of a listed host name.  Otherwise *kind says what
 * the address is ("a loopback address", ...).
 */
bool
destination_address_allowed(const DestAddr *addr, bool host_listed, const char **kind)
{
	DestAddr	a = *addr;
	const char *k;

	unmap(&a);
	k = restricted_kind(&a);
	if (k == NULL || host_listed || address_listed(&a))
		return true;
	*kind = k;
	return false;
}

/* The address of a socket address; false for a family other than IP. */
bool
destination_sockaddr(const struct sockaddr *sa, DestAddr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (sa->sa_family == AF_INET)
	{
		addr->family = AF_INET;
		memcpy(addr->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6)
	{
		addr->family = AF_INET6;
		memcpy(addr->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* An address as text. */
void
destination_format(const DestAddr *addr, char *buf, size_t len)
{
	if (inet_ntop(addr->family, addr->bytes, buf, len) == NULL)
		strlcpy(buf, "?", len);
}

/*
 * The host of a URL as libcurl parses it (so what is checked is what will
 * be connected to): lower case, without IPv6 brackets, zone or trailing
 * dot.  NULL when libcurl does not accept the URL.  Palloc'd.
 */
char *
destination_url_host(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	char	   *result = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != NULL)
	{
		size_t		len = strlen(host);
		const char *start = host;

		if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		{
			start++;
			len -= 2;
		}
		if (len > 0 && start[len - 1] == '.')
			len--;
		result = palloc(Max(len + 1, INET6_ADDRSTRLEN));
		for (size_t i = 0; i < len; i++)
			result[i] = pg_ascii_tolower((unsigned char) start[i]);
		result[len] = '\0';
		/* an IPv6 address in its canonical form, as secrets' hosts have it */
		if (strchr(result, ':') != NULL)
		{
			uint8		bytes[16];

			if (inet_pton(AF_INET6, result, bytes) == 1)
				inet_ntop(AF_INET6, bytes, result, INET6_ADDRSTRLEN);
		}
	}
	if (host)
		curl_free(host);
	curl_url_cleanup(u);
	return result;
}

/*
 * Whether a host matches a pattern of a secret's hosts: the same name
 * (case-insensitive, trailing dot and IPv6 brackets ignored), or
 * "*.suffix" for any name ending in ".suffix".
 */
bool
destination_host_matches(const char *pattern, const char *host)
{
	char		p[DEST_MAX_NAME + 1];
	char		h[DEST_MAX_NAME + 1];
	size_t		plen = strlen(pattern);

	if (plen >= 2 && pattern[0] == '[' && pattern[plen - 1] == ']')
	{
		pattern++;
		plen -= 2;
	}
	if (!normalize_name(pattern, plen, p, sizeof(p)) ||
		!normalize_name(host, strlen(host), h, sizeof(h)))
		return false;
	if (p[0] == '*' && p[1] == '.')
	{
		size_t		slen = strlen(p + 1);	/* ".suffix" */
		size_t		hl = strlen(h);

		return hl > slen && strcmp(h + hl - slen, p + 1) == 0;
	}
	return strcmp(p, h) == 0;
}

/* Parse one entry of the list into *e; false (with a GUC detail) if invalid. */
static bool
parse_entry(const char *s, DestEntry *e)
{
	const char *slash = strchr(s, '/');
	char		addr[DEST_MAX_NAME + 1];
	size_t		len = slash ? (size_t) (slash - s) : strlen(s);
	int			max_bits;
	int			r;

	memset(e, 0, sizeof(*e));
	if (len >= sizeof(addr))
	{
		GUC_check_errdetail("Entry \"%s\" is too long.", s);
		return false;
	}
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']')
	{
		memmove(addr, addr + 1, len - 2);
		addr[len - 2] = '\0';
	}
	r = parse_ip(addr, &e->addr);
	if (r < 0 || (r == 0 && slash != NULL))
	{
		GUC_check_errdetail("\"%s\" is not a valid IP address%s.", addr,
							slash ? " for a CIDR range" : "");
		return false;
	}
	if (r == 0)
	{
		if (!valid_name(addr) ||
			!normalize_name(addr, strlen(addr), e->name, sizeof(e->name)))
		{
			GUC_check_errdetail("\"%s\" is neither an IP address, a CIDR range nor a host name.", s);
			return false;
		}
		e->is_name = true;
		return true;
	}
	max_bits = e->addr.family == AF_INET ? 32 : 128;
	e->prefix = max_bits;
	if (slash != NULL)
	{
		char	   *end;
		long		bits = strtol(slash + 1, &end, 10);
		bool		was_mapped = strchr(addr, ':') != NULL && e->addr.family == AF_INET;

		if (end == slash + 1 || *end != '\0' || bits < 0 ||
			bits > (was_mapped ? 128 : max_bits) || (was_mapped && bits < 96))
		{
			GUC_check_errdetail("\"%s\" has an invalid prefix length.", s);
			return false;
		}
		e->prefix = was_mapped ? (int) bits - 96 : (int) bits;
	}
	return true;
}

/*
 * GUC check hook of telemetry.allowed_destinations: parse the comma list
 * into a malloc'd DestList passed to the assign hook as "extra".
 */
bool
destination_check_hook(char **newval, void **extra, GucSource source)
{
	DestList   *list;
	char	   *copy;
	char	   *tok;
	char	   *save = NULL;

	list = malloc(offsetof(DestList, entries) + sizeof(DestEntry) * DEST_MAX_ENTRIES);
	copy = strdup(*newval ? *newval : "");
	if (list == NULL || copy == NULL)
	{
		free(list);
		free(copy);
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	list->n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (*tok == ' ' || *tok == '\t' || *tok == '\n')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (list->n == DEST_MAX_ENTRIES)
		{
			GUC_check_errdetail("At most %d entries are allowed.", DEST_MAX_ENTRIES);
			free(list);
			free(copy);
			return false;
		}
		if (!parse_entry(tok, &list->entries[list->n]))
		{
			free(list);
			free(copy);
			return false;
		}
		list->n++;
	}
	free(copy);
	*extra = list;
	return true;
}

/* Whether two parsed lists allow the same destinations. */
static bool
same_list(const DestList *a, const DestList *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->n == b->n &&
		memcmp(a->entries, b->entries, sizeof(DestEntry) * a->n) == 0;
}

/*
 * GUC assign hook: install the parsed list.  When it allows other
 * destinations than before, connections cached under the old list must go
 * (a reload that changes nothing keeps them).
 */
void
destination_assign_hook(const char *newval, void *extra)
{
	if (!same_list(dest_list, (DestList *) extra))
		destination_policy_generation++;
	dest_list = (DestList *) extra;
}

/*
 * Refuse a host at registration: a restricted address that is not listed
 * (42501), or a host that is no valid name or address (22023).  The errors
 * name the setting and the kind of address, never the host: the URL may be
 * a secret's value.
 */
static void
check_host(const char *host, const char *path)
{
	DestAddr	a;
	const char *kind = NULL;
	int			r;

	if (destination_host_listed(host))
		return;
	if (!valid_name(host) && strchr(host, ':') == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the destination's host is not a valid host name", path),
				 errhint("Host names are ASCII letters, digits, \".\", \"-\" and \"_\"; "
						 "write an internationalized name in its \"xn--\" form.")));
	r = parse_ip(host, &a);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the destination's host is neither a valid IP address nor a valid host name", path)));
	if (r > 0 && !destination_address_allowed(&a, false, &kind))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: destination not allowed", path),
				 errdetail("The destination is %s.", kind),
				 errhint("A superuser can allow it in telemetry.allowed_destinations.")));
	if (r == 0 && (strcmp(host, "localhost") == 0 ||
				   (strlen(host) > 10 && strcmp(host + strlen(host) - 10, ".localhost") == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: destination not allowed", path),
				 errdetail("The destination is a \"localhost\" name, a loopback address."),
				 errhint("A superuser can allow it in telemetry.allowed_destinations.")));
}

/*
 * SQL: telemetry._check_destination(url text, path text) RETURNS void
 *
 * Registration's check of a provider URL against the policy (the same one
 * connect time applies to resolved addresses).  path names the setting in
 * errors.
 */
Datum
telemetry_check_destination(PG_FUNCTION_ARGS)
{
	char	   *url;
	char	   *path;
	char	   *host;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	path = PG_ARGISNULL(1) ? pstrdup("url") : text_to_cstring(PG_GETARG_TEXT_PP(1));
	host = destination_url_host(url);
	if (host == NULL || *host == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: not a URL with a host", path)));
	check_host(host, path);
	PG_RETURN_VOID();
}

