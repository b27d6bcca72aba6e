/*
 * provider_otel.c
 *		OpenTelemetry: OTLP/HTTP JSON log records to {endpoint}/v1/logs.
 *
 * One log record per event: body = the event name, severity INFO, time =
 * occurred_at, observed time = received_at, attributes event.name,
 * event.id, telemetry.event.version, telemetry.spec, user.id and
 * session.id from the context, and each property as
 * telemetry.property.<name> (strings, doubles, booleans; other JSON as a
 * string).  The resource carries service.name (config serviceName).
 */
#include "telemetry.h"
#include "delivery.h"

#include "utils/json.h"

/* Resolve endpoint, service name and extra headers. */
static char *
otel_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;
	char	   *endpoint = delivery_config_text(prov, "endpoint", false, &error);

	prov->service_name = delivery_config_text(prov, "serviceName", false, &error);
	if (prov->service_name == NULL)
		prov->service_name = pstrdup("postgresql-telemetry");
	if (error != NULL)
		return error;
	if (endpoint == NULL)
		return pstrdup("endpoint: missing");
	prov->url = delivery_join_url(endpoint, "/v1/logs");
	return delivery_config_headers(prov);
}

/* The request for one batch. */
static void
otel_build(DeliveryBatch *batch)
{
	ListCell   *lc;

	initStringInfo(&batch->body);
	appendStringInfoString(&batch->body,
						   "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
	escape_json(&batch->body, batch->prov->service_name);
	appendStringInfoString(&batch->body,
						   "}}]},\"scopeLogs\":[{\"scope\":{\"name\":\"telemetry\",\"version\":\"0.1.0\"},\"logRecords\":[");
	delivery_join_items(&batch->body, batch);
	appendStringInfoString(&batch->body, "]}]}]}");
	delivery_add_header(batch, "Content-Type: application/json");
	foreach(lc, batch->prov->headers)
		delivery_add_header(batch, lfirst(lc));
	batch->req.url = batch->prov->url;
	batch->req.body = batch->body.data;
	batch->req.body_len = batch->body.len;
}

#define OTEL_ATTR(k, v) \
	"pg_catalog.jsonb_build_object('key', '" k "', 'value', pg_catalog.jsonb_build_object('stringValue', " v "))"
#define OTEL_NANOS(col) \
	"(((pg_catalog.extract('epoch', " col ") * 1000000)::bigint)::text || '000')"

const DeliveryFormat delivery_format_otel = {
	.type = "opentelemetry",
	.item_sql = "pg_catalog.jsonb_build_object("
	"'timeUnixNano', " OTEL_NANOS("e.occurred_at") ", "
	"'observedTimeUnixNano', " OTEL_NANOS("e.received_at") ", "
	"'severityNumber', 9, 'severityText', 'INFO', "
	"'body', pg_catalog.jsonb_build_object('stringValue', e.event), "
	"'attributes', pg_catalog.jsonb_build_array("
	OTEL_ATTR("event.name", "e.event") ", "
	OTEL_ATTR("event.id", "e.id::text") ", "
	OTEL_ATTR("telemetry.event.version", "e.version") ", "
	OTEL_ATTR("telemetry.spec", "e.spec") ")"
	" || CASE WHEN " DELIVERY_SQL_USER " IS NULL THEN '[]'::jsonb ELSE pg_catalog.jsonb_build_array("
	OTEL_ATTR("user.id", DELIVERY_SQL_USER) ") END"
	" || CASE WHEN " DELIVERY_SQL_SESSION " IS NULL THEN '[]'::jsonb ELSE pg_catalog.jsonb_build_array("
	OTEL_ATTR("session.id", DELIVERY_SQL_SESSION) ") END"
	" || COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
	"'key', 'telemetry.property.' || p.k, 'value', CASE pg_catalog.jsonb_typeof(p.v) "
	"WHEN 'string' THEN pg_catalog.jsonb_build_object('stringValue', p.v #>> '{}') "
	"WHEN 'number' THEN pg_catalog.jsonb_build_object('doubleValue', p.v) "
	"WHEN 'boolean' THEN pg_catalog.jsonb_build_object('boolValue', p.v) "
	"ELSE pg_catalog.jsonb_build_object('stringValue', p.v::text) END) ORDER BY p.k) "
	"FROM pg_catalog.jsonb_each(e.properties) AS p(k, v)), '[]'::jsonb))",
	.max_request_bytes = 4 * 1024 * 1024,
	.max_event_bytes = 1024 * 1024,
	.max_batch_events = 10000,
	.configure = otel_configure,
	.build = otel_build,
};
