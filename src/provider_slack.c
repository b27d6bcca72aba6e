/*
 * provider_slack.c
 *		Slack incoming webhooks: alerts only, as {"text": ...}.
 *
 * Config "url", the incoming-webhook URL (a literal or a secret reference;
 * the destination policy applies as to every URL).  A slack provider
 * receives no events: only the anomalies of the alert action, one request
 * each, whose text is the alert's summary (which carries no more than the
 * event's privacy allows, see telemetry._alert_payload).  Slack answers 200
 * "ok"; 4xx other than 408/429 are permanent.
 */
#include "telemetry.h"
#include "delivery.h"

static const DeliveryConfigKey slack_keys[] = {
	{.name = "url", .required = true, .url = true},
	{.name = NULL}
};

/* Nothing to resolve beyond the url (delivery_configure). */
static char *
slack_configure(DeliveryProvider *prov)
{
	return NULL;
}

/* The message of one alert: {"text": summary}. */
static void
slack_alert(JsonOut *out, const DeliveryAlert *alert)
{
	json_out_lit(out, "{\"text\": ");
	json_out_string(out, alert->summary, strlen(alert->summary));
	json_out_lit(out, "}");
}

/* The request for one alert (batches of one). */
static void
slack_build(DeliveryBatch *batch)
{
	initStringInfo(&batch->body);
	delivery_join_items(&batch->body, batch);
	delivery_add_header(batch, "Content-Type: application/json");
	batch->req.url = batch->prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

const DeliveryFormat delivery_format_slack = {
	.type = "slack",
	.keys = slack_keys,
	.default_url = NULL,
	.url_path = NULL,
	.max_request_bytes = 64 * 1024,
	.max_event_bytes = 40 * 1024,
	.max_batch_events = 1,
	.configure = slack_configure,
	.render_item = NULL,
	.build = slack_build,
	.render_alert = slack_alert,
	.alerts_only = true,
};
