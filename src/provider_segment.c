/*
 * provider_segment.c
 *		Segment: POST {host}/v1/batch with HTTP Basic auth (writeKey + ":").
 *
 * Each item is a "track" call with messageId = the event id (Segment
 * dedupes on it), userId from context.userId, else anonymousId from
 * context.sessionId or derived from the event id; a masked or dropped
 * identity is never sent as one (identity.c).  Segment takes at most
 * 500 KB a request, 32 KB an event and 2500 events a batch.
 */
#include "telemetry.h"
#include "delivery.h"

#include "common/base64.h"

#define SEGMENT_DEFAULT_HOST "https://api.segment.io"

static const DeliveryConfigKey segment_keys[] = {
	{.name = "writeKey", .required = true, .secret = true},
	{.name = "host", .url = true},
	{.name = NULL}
};

/* Resolve the write key into the Authorization header. */
static char *
segment_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;
	char	   *key = delivery_config_text(prov, "writeKey", &error);

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
		prov->auth_header = psprintf("Authorization: Basic %s", b64);
	}
	return error;
}

/*
 * The item of one event, as jsonb prints {"type", "event", "userId"?,
 * "messageId", "timestamp", "properties", "anonymousId"?}.
 *
 * userId is sent when identity.c chose it; anonymousId is the sessionId
 * when that may be sent, else (without a userId) the event id for an event
 * whose identity key is masked or dropped, or "telemetry:<event id>" for
 * one without any.
 */
static void
segment_item(JsonOut *out, const DeliveryRow *row)
{
	bool		user = row->identity == IDENTITY_USER;

	json_out_lit(out, "{\"type\": \"track\", \"event\": ");
	json_out_text(out, row->event);
	if (user)
	{
		json_out_lit(out, ", \"userId\": ");
		json_out_string(out, row->user_id, row->user_id_len);
	}
	json_out_lit(out, ", \"messageId\": ");
	json_out_string(out, row->id, strlen(row->id));
	json_out_lit(out, ", \"timestamp\": ");
	json_out_timestamp(out, row->occurred_at);
	json_out_lit(out, ", \"properties\": ");
	json_out_props_with_spec(out, row);
	if (row->session_usable && row->identity != IDENTITY_REDACTED)
	{
		json_out_lit(out, ", \"anonymousId\": ");
		json_out_string(out, row->session_id, row->session_id_len);
	}
	else if (row->identity == IDENTITY_REDACTED)
	{
		json_out_lit(out, ", \"anonymousId\": ");
		json_out_string(out, row->id, strlen(row->id));
	}
	else if (!user)
	{
		char	   *derived = psprintf("telemetry:%s", row->id);

		json_out_lit(out, ", \"anonymousId\": ");
		json_out_string(out, derived, strlen(derived));
	}
	json_out_lit(out, "}");
}

/*
 * The item of one alert: a track call of the event telemetry.anomaly with
 * the alert's fields as properties, messageId the alert id, anonymousId
 * the spec key.
 */
static void
segment_alert(JsonOut *out, const DeliveryAlert *alert)
{
	json_out_lit(out, "{\"type\": \"track\", \"event\": \"telemetry.anomaly\", \"messageId\": ");
	json_out_string(out, alert->id, strlen(alert->id));
	json_out_alert_track(out, alert, NULL, "anonymousId");
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
	delivery_add_header(batch, batch->prov->auth_header);
	batch->req.url = batch->prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

const DeliveryFormat delivery_format_segment = {
	.type = "segment",
	.keys = segment_keys,
	.default_url = SEGMENT_DEFAULT_HOST,
	.url_path = "/v1/batch",
	.max_request_bytes = 500 * 1024,
	.max_event_bytes = 32 * 1024,
	.max_batch_events = 2500,
	.configure = segment_configure,
	.render_item = segment_item,
	.build = segment_build,
	.render_alert = segment_alert,
};
