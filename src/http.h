/*
 * http.h
 *		Bounded, parallel HTTP POSTs through one libcurl multi handle.
 *
 * The caller fills in the request part of each HttpRequest (palloc'd
 * strings); http_post_all() runs them, at most max_parallel at a time, and
 * fills in the outcome.  Nothing here touches the database, so it is called
 * with no transaction open.  Every connection goes through the destination
 * policy (destination.c): an address it refuses is never connected to, and
 * the request fails with refused set.
 */
#ifndef TELEMETRY_HTTP_H
#define TELEMETRY_HTTP_H

#include "postgres.h"

#define HTTP_BODY_START_LEN	256		/* bytes of a response body kept */
#define HTTP_MAX_HEADERS	40

typedef struct HttpRequest
{
	/* request */
	const char *url;
	const char *headers[HTTP_MAX_HEADERS];	/* "Name: value" */
	int			nheaders;
	const char *body;
	size_t		body_len;
	long		timeout_ms;

	/* outcome */
	long		status;			/* HTTP status, 0 when no response */
	char		error[256];		/* transport error, "" when a response came */
	bool		refused;		/* the destination policy refused an address */
	char		body_start[HTTP_BODY_START_LEN + 1];	/* NUL-terminated */
	int			body_start_len;
	long		retry_after;	/* seconds from Retry-After, -1 if none */
	double		elapsed_ms;

	/* private to http.c */
	bool		host_listed;	/* the URL's host name is listed */
	void	   *easy;
	void	   *slist;
} HttpRequest;

extern void http_post_all(HttpRequest **reqs, int nreqs, int max_parallel);
extern bool http_header_is_safe(const char *name, const char *value);

#endif							/* TELEMETRY_HTTP_H */
