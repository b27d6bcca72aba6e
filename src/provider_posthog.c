/*
 * provider_posthog.c
 *		PostHog: POST {host}/batch/, gzip'd {"api_key", "batch": [...]}.
 *
 * Each item is {event, distinct_id, properties, timestamp, uuid}; uuid is
 * the event id and timestamp its occurred_at, identical on every retry (so
 * PostHog can dedupe), and sent_at is left out on purpose.  A batch that
 * replays (telemetry_replay) an event older than a day says
 * "historical_migration": true, as PostHog asks for imports of history.
 */
#include "telemetry.h"
#include "delivery.h"

#include <zlib.h>

#include "utils/json.h"

#define POSTHOG_DEFAULT_HOST "https://us.i.posthog.com"

static const DeliveryConfigKey posthog_keys[] = {
	{.name = "projectApiKey", .required = true, .secret = true},
	/* the seed's older name, renamed to projectApiKey at registration */
	{.name = "apiKey", .secret = true, .alias_of = "projectApiKey"},
	{.name = "host", .url = true},
	{.name = NULL}
};

/* Resolve the key (the host is resolved by delivery_configure). */
static char *
posthog_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;

	prov->api_key = delivery_config_text(prov, "projectApiKey", &error);
	if (error == NULL && prov->api_key == NULL)
		error = pstrdup("projectApiKey: missing");
	return error;
}

/*
 * The item of one event, as jsonb prints
 * {"uuid", "event", "timestamp", "properties", "distinct_id"}.
 *
 * distinct_id is the identity identity.c chose: userId, else sessionId,
 * else "telemetry:<event id>".  An event whose identity key is masked or
 * dropped is anonymous: distinct_id is its event id (a masked value such
 * as "REDACTED" would merge every user into one).  Anonymous events, those
 * without any identity included (identity_anonymous), say
 * "$process_person_profile": false, so PostHog makes no person of them.
 */
static void
posthog_item(JsonOut *out, const DeliveryRow *row)
{
	json_out_lit(out, "{\"uuid\": ");
	json_out_string(out, row->id, strlen(row->id));
	json_out_lit(out, ", \"event\": ");
	json_out_text(out, row->event);
	json_out_lit(out, ", \"timestamp\": ");
	json_out_timestamp(out, row->occurred_at);
	json_out_lit(out, ", \"properties\": ");
	if (identity_anonymous(row))
		json_out_props_with_spec_flag(out, row, "$process_person_profile", false);
	else
		json_out_props_with_spec(out, row);
	json_out_lit(out, ", \"distinct_id\": ");
	switch (row->identity)
	{
		case IDENTITY_USER:
			json_out_string(out, row->user_id, row->user_id_len);
			break;
		case IDENTITY_SESSION:
			json_out_string(out, row->session_id, row->session_id_len);
			break;
		case IDENTITY_REDACTED:
			json_out_string(out, row->id, strlen(row->id));
			break;
		case IDENTITY_NONE:
			{
				char	   *derived = psprintf("telemetry:%s", row->id);

				json_out_string(out, derived, strlen(derived));
				break;
			}
	}
	json_out_lit(out, "}");
}

/*
 * The item of one alert: the event telemetry.anomaly with the alert's
 * fields as properties, the alert id as uuid (the same on every retry), and
 * a distinct_id of the spec key that makes no person profile.
 */
static void
posthog_alert(JsonOut *out, const DeliveryAlert *alert)
{
	json_out_lit(out, "{\"uuid\": ");
	json_out_string(out, alert->id, strlen(alert->id));
	json_out_lit(out, ", \"event\": \"telemetry.anomaly\"");
	json_out_alert_track(out, alert, "\"$process_person_profile\": false", "distinct_id");
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

/* Whether a batch replays an event that occurred more than a day ago. */
static bool
replays_history(DeliveryBatch *batch)
{
	TimestampTz day_ago = GetCurrentTimestamp() - USECS_PER_DAY;

	for (int i = 0; i < batch->nevents; i++)
		if (batch->events[i].replay && batch->events[i].occurred_at < day_ago)
			return true;
	return false;
}

/* The request for one batch. */
static void
posthog_build(DeliveryBatch *batch)
{
	StringInfoData json;

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"api_key\":");
	escape_json(&json, batch->prov->api_key);
	if (replays_history(batch))
		appendStringInfoString(&json, ",\"historical_migration\":true");
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
	.keys = posthog_keys,
	.default_url = POSTHOG_DEFAULT_HOST,
	.url_path = "/batch/",
	.max_request_bytes = 20 * 1024 * 1024,
	.max_event_bytes = 1024 * 1024,
	.max_batch_events = 10000,
	.configure = posthog_configure,
	.render_item = posthog_item,
	.build = posthog_build,
	.render_alert = posthog_alert,
};
