/*
 * http.c
 *		POST requests to providers with a libcurl multi handle.
 *
 * Lessons from pg_net: only http and https, no redirects, no proxy (not
 * even one named by the server's environment), a timeout on every request,
 * TLS verified, no signals, no header with CR or LF; the multi handle and
 * the connections it caches are process-local and never shared.  Every
 * socket is opened through the destination policy, on the address libcurl
 * resolved: a host name that resolves to a private address is refused
 * unless that name or address is listed (DNS rebinding included), and a
 * change of the policy drops the cached connections.  Interrupts are checked at least every 100 ms so a SIGTERM or a
 * query cancel ends a slow provider call promptly; on error every easy
 * handle is released before the error propagates.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <curl/curl.h>

#include "destination.h"
#include "http.h"
#include "miscadmin.h"
#include "portability/instr_time.h"

#define TELEMETRY_USER_AGENT "telemetry-postgres/0.1.0"

static CURLM *http_multi = NULL;
static bool http_initialized = false;
static uint32 http_policy_generation = 0;

/* Initialize libcurl once per process, and the process's multi handle. */
static void
http_init(void)
{
	if (!http_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not initialize libcurl")));
		http_initialized = true;
	}
	/* connections made under another policy are not reused */
	if (http_multi != NULL && http_policy_generation != destination_policy_generation)
	{
		curl_multi_cleanup(http_multi);
		http_multi = NULL;
	}
	if (http_multi == NULL)
	{
		http_policy_generation = destination_policy_generation;
		http_multi = curl_multi_init();
		if (http_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
	}
}

/*
 * A header line is sent only when its name is a token and neither part has
 * a CR, LF or NUL: otherwise it could inject headers or a body.
 */
bool
http_header_is_safe(const char *name, const char *value)
{
	const char *p;

	if (name == NULL || *name == '\0' || strlen(name) > 256)
		return false;
	for (p = name; *p; p++)
		if (!(isalnum((unsigned char) *p) || strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	if (value == NULL || strlen(value) > 8192)
		return false;
	for (p = value; *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

/* Keep the start of a response body (for dead-letter details); drop the rest. */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpRequest *req = (HttpRequest *) arg;
	size_t		len = size * nmemb;
	size_t		room = HTTP_BODY_START_LEN - req->body_start_len;

	if (room > 0)
	{
		size_t		n = Min(room, len);

		memcpy(req->body_start + req->body_start_len, data, n);
		req->body_start_len += n;
		req->body_start[req->body_start_len] = '\0';
	}
	return len;
}

/*
 * libcurl's socket opener: connect only where the destination policy
 * allows.  A refused address gets no socket (libcurl then tries the host's
 * other addresses, if any); the request remembers why.
 */
static curl_socket_t
http_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpRequest *req = (HttpRequest *) arg;
	DestAddr	a;
	const char *kind = "not an IP address";
	int			type = address->socktype;

	if (purpose != CURLSOCKTYPE_IPCXN ||
		!destination_sockaddr(&address->addr, &a) ||
		!destination_address_allowed(&a, req->host_listed, &kind))
	{
		char		text[64] = "?";

		if (address->addr.sa_family == AF_INET || address->addr.sa_family == AF_INET6)
			destination_format(&a, text, sizeof(text));
		req->refused = true;
		snprintf(req->error, sizeof(req->error), "%s is %s", text, kind);
		return CURL_SOCKET_BAD;
	}
#ifdef SOCK_CLOEXEC
	type |= SOCK_CLOEXEC;
#endif
	return socket(address->family, type, address->protocol);
}

/* Make the easy handle of one request; false (with req->error) on failure. */
static bool
http_prepare(HttpRequest *req)
{
	CURL	   *easy;
	struct curl_slist *list = NULL;
	int			i;

	req->status = 0;
	req->error[0] = '\0';
	req->refused = false;
	req->body_start[0] = '\0';
	req->body_start_len = 0;
	req->retry_after = -1;
	req->elapsed_ms = 0;

	{
		char	   *host = destination_url_host(req->url);

		req->host_listed = host != NULL && destination_host_listed(host);
		if (host)
			pfree(host);
	}
	easy = curl_easy_init();
	if (easy == NULL)
	{
		strlcpy(req->error, "could not create a libcurl handle", sizeof(req->error));
		return false;
	}
	for (i = 0; i < req->nheaders; i++)
	{
		struct curl_slist *l = curl_slist_append(list, req->headers[i]);

		if (l == NULL)
		{
			curl_slist_free_all(list);
			curl_easy_cleanup(easy);
			strlcpy(req->error, "out of memory building headers", sizeof(req->error));
			return false;
		}
		list = l;
	}
	/* no "Expect: 100-continue" round trip for large bodies */
	list = curl_slist_append(list, "Expect:");
	req->easy = easy;
	req->slist = list;

	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, TELEMETRY_USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* "" disables proxies, those of http_proxy and the like included */
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, req);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500		/* 7.85.0 */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	return true;
}

/* Release the libcurl resources of one request (safe to call twice). */
static void
http_release(HttpRequest *req)
{
	if (req->easy)
	{
		curl_multi_remove_handle(http_multi, (CURL *) req->easy);
		curl_easy_cleanup((CURL *) req->easy);
		req->easy = NULL;
	}
	if (req->slist)
	{
		curl_slist_free_all((struct curl_slist *) req->slist);
		req->slist = NULL;
	}
}

/* Record the outcome of a finished transfer. */
static void
http_finish(HttpRequest *req, CURLcode rc)
{
	CURL	   *easy = (CURL *) req->easy;
	double		total = 0;

	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &total);
	req->elapsed_ms = total * 1000.0;
	if (rc == CURLE_OK)
	{
		long		status = 0;

		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		req->status = status;
#if LIBCURL_VERSION_NUM >= 0x074200		/* 7.66.0 */
		{
			curl_off_t	ra = -1;

			if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
				req->retry_after = (long) Min(ra, (curl_off_t) 86400 * 30);
		}
#endif
	}
	else
	{
		req->status = 0;
		/* a refusal keeps its own message (the address and why) */
		if (!req->refused)
			snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(rc));
	}
	http_release(req);
}

/*
 * POST every request, at most max_parallel at a time, and fill in each
 * outcome.  Never raises an error for a provider's failure: those are
 * outcomes.  Raises only on interrupts, after releasing every handle.
 */
void
http_post_all(HttpRequest **reqs, int nreqs, int max_parallel)
{
	int			next = 0;
	int			running_count = 0;

	http_init();
	for (int i = 0; i < nreqs; i++)
	{
		reqs[i]->easy = NULL;
		reqs[i]->slist = NULL;
	}

	PG_TRY();
	{
		while (next < nreqs || running_count > 0)
		{
			CURLMsg    *msg;
			int			left;
			int			still;
			int			nfds;

			/* start transfers up to the bound */
			while (next < nreqs && running_count < max_parallel)
			{
				HttpRequest *req = reqs[next++];

				if (!http_prepare(req))
					continue;
				if (curl_multi_add_handle(http_multi, (CURL *) req->easy) != CURLM_OK)
				{
					http_release(req);
					strlcpy(req->error, "could not add a libcurl handle", sizeof(req->error));
					continue;
				}
				running_count++;
			}
			if (running_count == 0)
				continue;

			curl_multi_perform(http_multi, &still);
			while ((msg = curl_multi_info_read(http_multi, &left)) != NULL)
			{
				HttpRequest *req = NULL;

				if (msg->msg != CURLMSG_DONE)
					continue;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
				http_finish(req, msg->data.result);
				running_count--;
			}
			if (running_count > 0)
				curl_multi_poll(http_multi, NULL, 0, 100, &nfds);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		for (int i = 0; i < nreqs; i++)
			http_release(reqs[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
}
