/*
 * delivery_send.c
 *		Send the claimed batches and classify each response.
 *
 * Runs with no transaction open (in the worker).  2xx: delivered; 408,
 * 429, 5xx and network errors: retry later; 413: the batch is split in two
 * and both halves are sent at once (a single event that is still too large
 * is dead); 410 from a webhook: the provider is disabled; any other status:
 * dead at once.  Each failure gets two descriptions: the detail (the start
 * of the response body, libcurl's transport error) for the owner's tables,
 * delivery_history and delivery_failures; and a summary (the status code,
 * names of settings) for telemetry.delivery_status, which everyone reads:
 * response bodies and transport errors ("Connection refused") would make it
 * a window into other servers and a port scanner.
 */
#include "telemetry.h"
#include "delivery.h"

#include "miscadmin.h"

/* Outcome of a finished request. */
static DeliveryOutcome
classify(DeliveryBatch *b)
{
	long		s = b->req.status;

	if (s >= 200 && s < 300)
		return DELIVERY_OK;
	if (s == 0 || s == 408 || s == 429 || s >= 500)
		return DELIVERY_RETRY;
	if (s == 413 && b->nevents > 1)
		return DELIVERY_SPLIT;
	if (s == 410 && strcmp(b->prov->type, "webhook") == 0)
		return DELIVERY_DISABLE;
	return DELIVERY_DEAD;
}

/*
 * Describe a failed request: b->error, the detail (never a secret), and
 * b->public_error, what everyone may see.
 */
static void
describe(DeliveryBatch *b)
{
	StringInfoData s;

	if (b->req.status == 0 && b->req.refused)
	{
		b->error = psprintf("destination not allowed: %s (telemetry.allowed_destinations)",
							b->req.error);
		b->public_error = pstrdup("destination not allowed (telemetry.allowed_destinations)");
		return;
	}
	if (b->req.status == 0)
	{
		b->error = psprintf("network error: %s", b->req.error[0] ? b->req.error : "no response");
		b->public_error = pstrdup("network error (details in telemetry.delivery_history)");
		return;
	}
	initStringInfo(&s);
	appendStringInfo(&s, "HTTP %ld", b->req.status);
	b->public_error = pstrdup(s.data);
	if (b->req.body_start_len > 0)
	{
		appendStringInfoString(&s, ": ");
		for (int i = 0; i < b->req.body_start_len && b->req.body_start[i]; i++)
		{
			char		c = b->req.body_start[i];

			appendStringInfoChar(&s, (c >= 0x20 && c < 0x7f) ? c : ' ');
		}
	}
	b->error = s.data;
}

/* Prepare the request of a batch, or settle it without sending. */
static bool
prepare(DeliveryBatch *b)
{
	if (b->skip_reason != NULL)
	{
		b->outcome = DELIVERY_DEAD;
		b->error = b->skip_reason;
		b->public_error = b->skip_reason;
		return false;
	}
	if (b->prov->config_error != NULL)
	{
		b->outcome = DELIVERY_RETRY;
		b->error = b->prov->refs_problem
			? psprintf("provider %s", b->prov->refs_problem)
			: psprintf("provider config: %s", b->prov->config_error);
		b->public_error = b->error;
		return false;
	}
	memset(&b->req, 0, sizeof(b->req));
	b->req.timeout_ms = telemetry_http_timeout;
	b->prov->format->build(b);
	return true;
}

/* Collect the batches that still need a request (recursing into splits). */
static void
collect(DeliveryBatch *b, List **todo)
{
	if (b->outcome == DELIVERY_SPLIT)
	{
		collect(b->half[0], todo);
		collect(b->half[1], todo);
	}
	else if (b->outcome == DELIVERY_PENDING && prepare(b))
		*todo = lappend(*todo, b);
}

/* Send every batch of every provider; sets each batch's outcome. */
void
delivery_send(List *providers)
{
	for (int round = 0; round < 32; round++)
	{
		List	   *todo = NIL;
		ListCell   *lc;
		HttpRequest **reqs;
		int			n = 0;

		foreach(lc, providers)
		{
			DeliveryProvider *p = lfirst(lc);
			ListCell   *bc;

			foreach(bc, p->alerts)
				collect(lfirst(bc), &todo);
			foreach(bc, p->requeued)
				collect(lfirst(bc), &todo);
			foreach(bc, p->batches)
				collect(lfirst(bc), &todo);
		}
		if (todo == NIL)
			return;

		reqs = palloc(sizeof(HttpRequest *) * list_length(todo));
		foreach(lc, todo)
			reqs[n++] = &((DeliveryBatch *) lfirst(lc))->req;
		http_post_all(reqs, n, telemetry_max_parallel_requests);

		foreach(lc, todo)
		{
			DeliveryBatch *b = lfirst(lc);

			b->outcome = classify(b);
			if (b->outcome != DELIVERY_OK)
				describe(b);
			if (b->outcome == DELIVERY_SPLIT)
			{
				int			h = b->nevents / 2;

				for (int i = 0; i < 2; i++)
				{
					DeliveryBatch *half = palloc0(sizeof(DeliveryBatch));

					half->prov = b->prov;
					half->requeued = b->requeued;
					half->alerts = b->alerts;
					half->events = b->events + (i == 0 ? 0 : h);
					half->nevents = i == 0 ? h : b->nevents - h;
					b->half[i] = half;
				}
			}
		}
		pfree(reqs);
		list_free(todo);
	}
}
