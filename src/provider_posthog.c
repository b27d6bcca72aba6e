/*
 * provider_posthog.c
 *		PostHog: POST {host}/batch/, gzip'd {"api_key", "batch": [...]}.
 *
 * Each item is {event, distinct_id, properties, timestamp, uuid}; uuid is
 * the event id and timestamp its occurred_at, identical on every retry (so
 * PostHog can dedupe), and sent_at is left out on purpose.
 */
#include "telemetry.h"
#include "delivery.h"

#include <zlib.h>

#include "utils/json.h"

#define POSTHOG_DEFAULT_HOST "https://us.i.posthog.com"

/* Resolve host and key. */
static char *
posthog_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;
	char	   *host = delivery_config_text(prov, "host", false, &error);

	prov->key = delivery_config_text(prov, "projectApiKey", true, &error);
	if (error == NULL && prov->key == NULL)
		error = pstrdup("projectApiKey: missing");
	prov->url = delivery_join_url(host ? host : POSTHOG_DEFAULT_HOST, "/batch/");
	return error;
}

/* gzip (RFC 1952) a buffer; false when zlib fails. */
static bool
gzip_buffer(const char *src, size_t len, StringInfo out)
{
	z_stream	zs;
	uLong		bound;
	int			rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	bound = deflateBound(&zs, len) + 32;
	enlargeStringInfo(out, bound);
	zs.next_in = (Bytef *) src;
	zs.avail_in = len;
	zs.next_out = (Bytef *) out->data;
	zs.avail_out = bound;
	rc = deflate(&zs, Z_FINISH);
	out->len = zs.total_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END;
}

/* The request for one batch. */
static void
posthog_build(DeliveryBatch *batch)
{
	StringInfoData json;

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"api_key\":");
	escape_json(&json, batch->prov->key);
	appendStringInfoString(&json, ",\"batch\":[");
	delivery_join_items(&json, batch);
	appendStringInfoString(&json, "]}");

	initStringInfo(&batch->body);
	if (!gzip_buffer(json.data, json.len, &batch->body))
	{
		/* send it uncompressed rather than not at all */
		resetStringInfo(&batch->body);
		appendBinaryStringInfo(&batch->body, json.data, json.len);
	}
	else
		delivery_add_header(batch, "Content-Encoding: gzip");
	pfree(json.data);
	delivery_add_header(batch, "Content-Type: application/json");
	batch->req.url = batch->prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

const DeliveryFormat delivery_format_posthog = {
	.type = "posthog",
	.item_sql = "pg_catalog.jsonb_build_object("
	"'event', e.event, "
	"'distinct_id', COALESCE(" DELIVERY_SQL_USER ", " DELIVERY_SQL_SESSION ", " DELIVERY_SQL_DERIVED_ID "), "
	"'properties', " DELIVERY_SQL_PROPS ", "
	"'timestamp', " DELIVERY_SQL_TS("e.occurred_at") ", "
	"'uuid', e.id)",
	.max_request_bytes = 20 * 1024 * 1024,
	.max_event_bytes = 1024 * 1024,
	.max_batch_events = 10000,
	.configure = posthog_configure,
	.build = posthog_build,
};
