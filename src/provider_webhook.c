/*
 * provider_webhook.c
 *		Signed webhooks (Standard Webhooks v1).
 *
 * Body {"type": "telemetry.events", "timestamp", "data": [events]}, or for
 * alerts {"type": "telemetry.anomaly", "timestamp", "data": [alerts]}.
 * Headers webhook-id (the event id for a one-event batch; for more, a
 * digest of the batch's event ids: the same on every retry of the same
 * batch), webhook-timestamp (unix seconds of this attempt) and
 * webhook-signature "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" with
 * the key base64-decoded from the secret after its "whsec_" prefix.
 */
#include "telemetry.h"
#include "delivery.h"

#include <time.h>

#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"

static const DeliveryConfigKey webhook_keys[] = {
	{.name = "url", .required = true, .url = true},
	{.name = "secret", .required = true, .secret = true},
	{.name = "headers", .secret = true, .headers = true},	/* values may be secret references */
	{.name = NULL}
};

/* Resolve the signing key and extra headers (the url: delivery_configure). */
static char *
webhook_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;
	char	   *secret;
	const char *b64;
	int			len;

	secret = delivery_config_text(prov, "secret", &error);
	if (error != NULL)
		return error;
	if (secret == NULL)
		return pstrdup("secret: missing");
	b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
	len = strlen(b64);
	prov->hmac_key = palloc(pg_b64_dec_len(len) + 1);
	prov->hmac_key_len = pg_b64_decode(b64, len, (char *) prov->hmac_key, pg_b64_dec_len(len));
	if (prov->hmac_key_len <= 0)
		return pstrdup("secret: must be \"whsec_\" followed by base64");
	return delivery_config_headers(prov);
}

/*
 * The item of one event, as jsonb prints {"id", "spec", "event", "context",
 * "version", "timestamp", "properties"}.
 */
static void
webhook_item(JsonOut *out, const DeliveryRow *row)
{
	json_out_lit(out, "{\"id\": ");
	json_out_string(out, row->id, strlen(row->id));
	json_out_lit(out, ", \"spec\": ");
	json_out_text(out, row->spec);
	json_out_lit(out, ", \"event\": ");
	json_out_text(out, row->event);
	json_out_lit(out, ", \"context\": ");
	if (row->context)
		json_out_jsonb(out, &row->context->root);
	else
		json_out_lit(out, "null");
	json_out_lit(out, ", \"version\": ");
	json_out_text(out, row->version);
	json_out_lit(out, ", \"timestamp\": ");
	json_out_timestamp(out, row->occurred_at);
	json_out_lit(out, ", \"properties\": ");
	if (row->properties)
		json_out_jsonb(out, &row->properties->root);
	else
		json_out_lit(out, "null");
	json_out_lit(out, "}");
}

/*
 * The item of one alert: {"id" (the alert id), "type": "telemetry.anomaly",
 * "spec" (the key), "timestamp" (detected), "anomaly" (its fields)}.
 */
static void
webhook_alert(JsonOut *out, const DeliveryAlert *alert)
{
	json_out_lit(out, "{\"id\": ");
	json_out_string(out, alert->id, strlen(alert->id));
	json_out_lit(out, ", \"type\": \"telemetry.anomaly\", \"spec\": ");
	json_out_string(out, alert->spec_key, strlen(alert->spec_key));
	json_out_lit(out, ", \"timestamp\": ");
	json_out_timestamp(out, alert->detected_at);
	json_out_lit(out, ", \"anomaly\": {");
	json_out_members(out, alert->payload, true);
	json_out_lit(out, "}}");
}

/* The webhook-id of a batch: stable for the same events. */
static char *
webhook_id(DeliveryBatch *batch)
{
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex;

	if (batch->nevents == 1)
		return batch->events[0].id;
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not initialize SHA-256");
	for (int i = 0; i < batch->nevents; i++)
		pg_cryptohash_update(ctx, (const uint8 *) batch->events[i].id, strlen(batch->events[i].id));
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256");
	pg_cryptohash_free(ctx);
	hex = palloc(4 + 32 + 1);
	strcpy(hex, "msg_");
	for (int i = 0; i < 16; i++)
		sprintf(hex + 4 + 2 * i, "%02x", digest[i]);
	return hex;
}

/* The request for one batch, signed now. */
static void
webhook_build(DeliveryBatch *batch)
{
	DeliveryProvider *prov = batch->prov;
	time_t		now = time(NULL);
	struct tm	tm;
	char		iso[32];
	char	   *id = webhook_id(batch);
	pg_hmac_ctx *hmac;
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char	   *prefix;
	char		sig[64];
	int			n;
	ListCell   *lc;

	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	initStringInfo(&batch->body);
	appendStringInfo(&batch->body, "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":[",
					 batch->alerts ? "telemetry.anomaly" : "telemetry.events", iso);
	delivery_join_items(&batch->body, batch);
	appendStringInfoString(&batch->body, "]}");

	prefix = psprintf("%s.%ld.", id, (long) now);
	hmac = pg_hmac_create(PG_SHA256);
	if (hmac == NULL ||
		pg_hmac_init(hmac, prov->hmac_key, prov->hmac_key_len) < 0 ||
		pg_hmac_update(hmac, (const uint8 *) prefix, strlen(prefix)) < 0 ||
		pg_hmac_update(hmac, (const uint8 *) batch->body.data, batch->body.len) < 0 ||
		pg_hmac_final(hmac, mac, sizeof(mac)) < 0)
		elog(ERROR, "could not compute HMAC-SHA256");
	pg_hmac_free(hmac);
	n = pg_b64_encode((const char *) mac, sizeof(mac), sig, sizeof(sig) - 1);
	if (n < 0)
		elog(ERROR, "could not encode a signature");
	sig[n] = '\0';

	delivery_add_header(batch, "Content-Type: application/json");
	delivery_add_header(batch, psprintf("webhook-id: %s", id));
	delivery_add_header(batch, psprintf("webhook-timestamp: %ld", (long) now));
	delivery_add_header(batch, psprintf("webhook-signature: v1,%s", sig));
	foreach(lc, prov->headers)
		delivery_add_header(batch, lfirst(lc));
	batch->req.url = prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

const DeliveryFormat delivery_format_webhook = {
	.type = "webhook",
	.keys = webhook_keys,
	.default_url = NULL,
	.url_path = NULL,
	.max_request_bytes = 5 * 1024 * 1024,
	.max_event_bytes = 1024 * 1024,
	.max_batch_events = 10000,
	.configure = webhook_configure,
	.render_item = webhook_item,
	.build = webhook_build,
	.render_alert = webhook_alert,
};
