/*
 * provider_otel.c
 *		OpenTelemetry: OTLP/HTTP JSON log records to {endpoint}/v1/logs.
 *
 * One log record per event: body = the event name, severity INFO, time =
 * occurred_at, observed time = received_at, attributes event.name,
 * event.id, telemetry.event.version, telemetry.spec, user.id and
 * session.id from the context, and each property as
 * telemetry.property.<name> in the order of its name (strings, doubles,
 * booleans; other JSON as a string).  The resource carries service.name
 * (config serviceName).
 */
#include "telemetry.h"
#include "delivery.h"

#include "catalog/pg_collation.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/varlena.h"

static const DeliveryConfigKey otel_keys[] = {
	{.name = "endpoint", .required = true, .url = true},
	{.name = "headers", .secret = true, .headers = true},	/* values may be secret references */
	{.name = "serviceName", .max_chars = 256},
	{.name = NULL}
};

/* Resolve service name and extra headers (the endpoint: delivery_configure). */
static char *
otel_configure(DeliveryProvider *prov)
{
	char	   *error = NULL;

	prov->service_name = delivery_config_text(prov, "serviceName", &error);
	if (prov->service_name == NULL)
		prov->service_name = pstrdup("postgresql-telemetry");
	if (error != NULL)
		return error;
	return delivery_config_headers(prov);
}

/* {"key": key, "value": {"stringValue": value}} */
static void
otel_string_attr(JsonOut *out, const char *key, const char *val, int len)
{
	json_out_lit(out, ", {\"key\": ");
	json_out_string(out, key, strlen(key));
	json_out_lit(out, ", \"value\": {\"stringValue\": ");
	json_out_string(out, val, len);
	json_out_lit(out, "}}");
}

/* Nanoseconds since the Unix epoch, as a JSON string; null when infinite. */
static void
otel_nanos(JsonOut *out, TimestampTz t)
{
	char		buf[64];

	if (TIMESTAMP_NOT_FINITE(t))
	{
		json_out_lit(out, "null");
		return;
	}
	snprintf(buf, sizeof(buf), "\"" INT64_FORMAT "000\"",
			 (int64) t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	json_out_raw(out, buf, strlen(buf));
}

typedef struct OtelProp
{
	char	   *key;
	int			keylen;
	JsonbValue	val;
} OtelProp;

/* Properties in the order of their names (ORDER BY under the default collation). */
static int
otel_prop_cmp(const void *a, const void *b)
{
	const OtelProp *x = a;
	const OtelProp *y = b;

	return varstr_cmp(x->key, x->keylen, y->key, y->keylen, DEFAULT_COLLATION_OID);
}

/* One <prefix><name> attribute (telemetry.property.<name> for events). */
static void
otel_prop_attr(JsonOut *out, OtelProp *p, const char *prefix)
{
	char	   *key = psprintf("%s%.*s", prefix, p->keylen, p->key);
	JsonbValue *v = &p->val;

	json_out_lit(out, ", {\"key\": ");
	json_out_string(out, key, strlen(key));
	switch (v->type)
	{
		case jbvString:
			json_out_lit(out, ", \"value\": {\"stringValue\": ");
			json_out_value(out, v);
			break;
		case jbvNumeric:
			json_out_lit(out, ", \"value\": {\"doubleValue\": ");
			json_out_value(out, v);
			break;
		case jbvBool:
			json_out_lit(out, ", \"value\": {\"boolValue\": ");
			json_out_value(out, v);
			break;
		default:
			{
				/* null, arrays and objects: their JSON text as a string */
				char	   *s;
				int			len;

				json_out_lit(out, ", \"value\": {\"stringValue\": ");
				if (!json_value_as_text(v, out->limit - out->buf.len, &s, &len))
				{
					out->over = true;
					return;
				}
				json_out_string(out, s, len);
				break;
			}
	}
	json_out_lit(out, "}}");
}

/*
 * The item of one event, as jsonb prints {"body", "attributes",
 * "severityText", "timeUnixNano", "severityNumber", "observedTimeUnixNano"}.
 */
static void
otel_item(JsonOut *out, const DeliveryRow *row)
{
	json_out_lit(out, "{\"body\": {\"stringValue\": ");
	json_out_text(out, row->event);
	json_out_lit(out, "}, \"attributes\": [{\"key\": \"event.name\", \"value\": {\"stringValue\": ");
	json_out_text(out, row->event);
	json_out_lit(out, "}}");
	otel_string_attr(out, "event.id", row->id, strlen(row->id));
	otel_string_attr(out, "telemetry.event.version",
					 VARDATA_ANY(row->version), VARSIZE_ANY_EXHDR(row->version));
	otel_string_attr(out, "telemetry.spec",
					 VARDATA_ANY(row->spec), VARSIZE_ANY_EXHDR(row->spec));
	if (row->user_id)
		otel_string_attr(out, "user.id", row->user_id, row->user_id_len);
	if (row->session_id)
		otel_string_attr(out, "session.id", row->session_id, row->session_id_len);
	if (row->properties && JB_ROOT_IS_OBJECT(row->properties))
	{
		int			n = JB_ROOT_COUNT(row->properties);
		OtelProp   *props = palloc(sizeof(OtelProp) * Max(n, 1));
		JsonbIterator *it = JsonbIteratorInit(&row->properties->root);
		JsonbValue	k;
		JsonbIteratorToken tok;
		int			i = 0;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY || i >= n)
				continue;
			props[i].key = k.val.string.val;
			props[i].keylen = k.val.string.len;
			(void) JsonbIteratorNext(&it, &props[i].val, true);
			i++;
		}
		qsort(props, i, sizeof(OtelProp), otel_prop_cmp);
		for (int j = 0; j < i && !out->over; j++)
			otel_prop_attr(out, &props[j], "telemetry.property.");
	}
	json_out_lit(out, "], \"severityText\": \"INFO\", \"timeUnixNano\": ");
	otel_nanos(out, row->occurred_at);
	json_out_lit(out, ", \"severityNumber\": 9, \"observedTimeUnixNano\": ");
	otel_nanos(out, row->received_at);
	json_out_lit(out, "}");
}

/*
 * The log record of one alert: severity WARN, body the alert's summary,
 * time its detection, attributes event.name telemetry.anomaly,
 * telemetry.alert.id, telemetry.spec and each of the alert's fields as
 * telemetry.anomaly.<name>.
 */
static void
otel_alert(JsonOut *out, const DeliveryAlert *alert)
{
	json_out_lit(out, "{\"body\": {\"stringValue\": ");
	json_out_string(out, alert->summary, strlen(alert->summary));
	json_out_lit(out, "}, \"attributes\": [{\"key\": \"event.name\", \"value\": {\"stringValue\": \"telemetry.anomaly\"}}");
	otel_string_attr(out, "telemetry.alert.id", alert->id, strlen(alert->id));
	otel_string_attr(out, "telemetry.spec", alert->spec_key, strlen(alert->spec_key));
	if (alert->payload && JB_ROOT_IS_OBJECT(alert->payload))
	{
		JsonbIterator *it = JsonbIteratorInit(&alert->payload->root);
		JsonbValue	k;
		JsonbIteratorToken tok;

		while (!out->over && (tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			OtelProp	p;
			char	   *key;

			if (tok != WJB_KEY)
				continue;
			key = psprintf("anomaly.%.*s", k.val.string.len, k.val.string.val);
			p.key = key;
			p.keylen = strlen(key);
			(void) JsonbIteratorNext(&it, &p.val, true);
			otel_prop_attr(out, &p, "telemetry.");
		}
	}
	json_out_lit(out, "], \"severityText\": \"WARN\", \"timeUnixNano\": ");
	otel_nanos(out, alert->detected_at);
	json_out_lit(out, ", \"severityNumber\": 13, \"observedTimeUnixNano\": ");
	otel_nanos(out, alert->queued_at);
	json_out_lit(out, "}");
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

const DeliveryFormat delivery_format_otel = {
	.type = "opentelemetry",
	.keys = otel_keys,
	.default_url = NULL,
	.url_path = "/v1/logs",
	.max_request_bytes = 4 * 1024 * 1024,
	.max_event_bytes = 1024 * 1024,
	.max_batch_events = 10000,
	.configure = otel_configure,
	.render_item = otel_item,
	.build = otel_build,
	.render_alert = otel_alert,
};
