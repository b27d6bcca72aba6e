/*
 * delivery.h
 *		Shared structures of event delivery: providers, batches, outcomes.
 *
 * One delivery pass: claim (read providers, their cursors and a bounded
 * number of events after each cursor, build requests), send (HTTP, no
 * transaction), record (advance cursors, dead letters, history).  All
 * memory of a pass lives in one context that is reset after it.
 */
#ifndef TELEMETRY_DELIVERY_H
#define TELEMETRY_DELIVERY_H

#include "postgres.h"

#include "http.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

typedef enum DeliveryOutcome
{
	DELIVERY_PENDING = 0,		/* not sent (yet) */
	DELIVERY_OK,				/* 2xx */
	DELIVERY_RETRY,				/* 408, 429, 5xx, network error, config */
	DELIVERY_DEAD,				/* other 4xx, oversized event */
	DELIVERY_SPLIT,				/* 413: replaced by its two halves */
	DELIVERY_DISABLE			/* 410 from a webhook */
} DeliveryOutcome;

struct DeliveryProvider;

/* One event as a provider sees it: its JSON item and its identity. */
typedef struct DeliveryEvent
{
	char	   *id;				/* uuid text */
	char	   *xid;			/* xid8 text */
	TimestampTz occurred_at;
	TimestampTz received_at;
	char	   *item;			/* provider-specific JSON of the event */
	int			len;
} DeliveryEvent;

/* A batch of events sent in one request (or a part of one split by 413). */
typedef struct DeliveryBatch
{
	struct DeliveryProvider *prov;
	bool		requeued;		/* from telemetry.delivery_failures */
	DeliveryEvent *events;
	int			nevents;
	char	   *skip_reason;	/* dead without sending (oversized event) */
	HttpRequest req;
	StringInfoData body;
	DeliveryOutcome outcome;
	char	   *error;			/* for history and dead letters */
	struct DeliveryBatch *half[2];	/* set when outcome is SPLIT */
} DeliveryBatch;

/* Wire format of a provider type. */
typedef struct DeliveryFormat
{
	const char *type;
	const char *item_sql;		/* SQL expression over events e: text */
	int			max_request_bytes;
	int			max_event_bytes;
	int			max_batch_events;
	/* resolve the config; return NULL or an error message (never a secret) */
	char	   *(*configure) (struct DeliveryProvider *prov);
	/* fill in batch->req and batch->body */
	void		(*build) (DeliveryBatch *batch);
} DeliveryFormat;

typedef struct DeliveryProvider
{
	char	   *spec_key;
	char	   *spec_version;
	char	   *name;
	char	   *spec;			/* "key@version", as in events.spec */
	char	   *type;
	const DeliveryFormat *format;
	void	   *config;			/* Jsonb *, secrets resolved, never logged */

	/* resolved config */
	char	   *url;
	char	   *key;			/* api key / write key */
	unsigned char *hmac_key;
	int			hmac_key_len;
	char	   *service_name;
	List	   *headers;		/* extra "Name: value" lines */
	char	   *config_error;

	/* state */
	char	   *cursor_xid;
	char	   *cursor_id;
	int			failures;		/* consecutive failed attempts */
	List	   *batches;		/* DeliveryBatch *, cursor batches in order */
	List	   *requeued;		/* DeliveryBatch *, from the failure table */
	bool		full;			/* the claim hit its limit: more may wait */
	int			in_flight;
} DeliveryProvider;

/* SQL pieces shared by the formats' item expressions (events are "e") */
#define DELIVERY_SQL_TS(col) \
	"pg_catalog.to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define DELIVERY_SQL_PROPS \
	"(e.properties || pg_catalog.jsonb_build_object('version', e.version, 'spec', e.spec))"
#define DELIVERY_SQL_USER "(e.context ->> 'userId')"
#define DELIVERY_SQL_SESSION "(e.context ->> 'sessionId')"
#define DELIVERY_SQL_DERIVED_ID "('telemetry:' || e.id::text)"

/* delivery_claim.c */
extern List *delivery_claim(MemoryContext cxt, int max_requests, bool *more);

/* delivery_send.c */
extern void delivery_send(List *providers);

/* delivery_record.c */
extern int	delivery_record(List *providers, bool *more);

/* provider_*.c */
extern const DeliveryFormat delivery_format_posthog;
extern const DeliveryFormat delivery_format_segment;
extern const DeliveryFormat delivery_format_webhook;
extern const DeliveryFormat delivery_format_otel;
extern const DeliveryFormat *delivery_format_for(const char *type);

/* helpers (provider_common.c) */
extern void delivery_join_items(StringInfo buf, DeliveryBatch *batch);
extern void delivery_add_header(DeliveryBatch *batch, const char *line);
extern char *delivery_config_text(DeliveryProvider *prov, const char *key,
								  bool secret, char **error);
extern char *delivery_config_headers(DeliveryProvider *prov);
extern char *delivery_join_url(const char *base, const char *path);

#endif							/* TELEMETRY_DELIVERY_H */
