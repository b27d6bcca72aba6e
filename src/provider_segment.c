/*
 * provider_segment.c
 *		Segment: POST {host}/v1/batch with HTTP Basic auth (writeKey + ":").
 *
 * Each item is a "track" call with messageId = the event id (Segment
 * dedupes on it), userId from context.userId, else anonymousId from
 * context.sessionId or derived from the event id.  Segment takes at most
 * 500 KB a request, 32 KB an event and 2500 events a batch.
 */
#include "telemetry.h"
#include "delivery.h"

#include "common/base64.h"

#define SEGMENT_DEFAULT_HOST "https://api.segment.io"

/* Resolve host and write key into the Authorization header. */
static char *
segment_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;
	char	   *host = delivery_config_text(prov, "host", false, &error);
	char	   *key = delivery_config_text(prov, "writeKey", true, &error);

	prov->url = delivery_join_url(host ? host : SEGMENT_DEFAULT_HOST, "/v1/batch");
	if (error == NULL && key == NULL)
		error = pstrdup("writeKey: missing");
	if (key != NULL)
	{
		char	   *user = psprintf("%s:", key);
		int			len = strlen(user);
		char	   *b64 = palloc(pg_b64_enc_len(len) + 1);
		int			n = pg_b64_encode(user, len, b64, pg_b64_enc_len(len));

		if (n < 0)
			return pstrdup("writeKey: could not encode");
		b64[n] = '\0';
		prov->key = psprintf("Authorization: Basic %s", b64);
	}
	return error;
}

/* The request for one batch. */
static void
segment_build(DeliveryBatch *batch)
{
	initStringInfo(&batch->body);
	appendStringInfoString(&batch->body, "{\"batch\":[");
	delivery_join_items(&batch->body, batch);
	appendStringInfoString(&batch->body, "]}");
	delivery_add_header(batch, "Content-Type: application/json");
	delivery_add_header(batch, batch->prov->key);
	batch->req.url = batch->prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

const DeliveryFormat delivery_format_segment = {
	.type = "segment",
	.item_sql = "(pg_catalog.jsonb_build_object("
	"'type', 'track', "
	"'event', e.event, "
	"'properties', " DELIVERY_SQL_PROPS ", "
	"'timestamp', " DELIVERY_SQL_TS("e.occurred_at") ", "
	"'messageId', e.id) || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
	"'userId', " DELIVERY_SQL_USER ", "
	"'anonymousId', CASE WHEN " DELIVERY_SQL_USER " IS NULL "
	"THEN COALESCE(" DELIVERY_SQL_SESSION ", " DELIVERY_SQL_DERIVED_ID ") "
	"ELSE " DELIVERY_SQL_SESSION " END)))",
	.max_request_bytes = 500 * 1024,
	.max_event_bytes = 32 * 1024,
	.max_batch_events = 2500,
	.configure = segment_configure,
	.build = segment_build,
};
