/*
 * delivery.h
 *		Shared structures of event delivery: providers, batches, outcomes,
 *		and the descriptor of a provider type.
 *
 * One delivery pass: claim (read providers, their cursors and a bounded
 * number of events after each cursor, render each event's item in C within
 * a byte budget, build batches), send (HTTP, no transaction), record
 * (advance cursors, dead letters, history).  All memory of a pass lives in
 * one context that is reset after it.
 */
#ifndef TELEMETRY_DELIVERY_H
#define TELEMETRY_DELIVERY_H

#include "postgres.h"

#include "access/transam.h"

#include "http.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/portal.h"
#include "utils/hsearch.h"
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

/* One event as a provider sees it: its rendered item and its identity. */
typedef struct DeliveryEvent
{
	char	   *id;				/* uuid text */
	char	   *xid;			/* xid8 text */
	TimestampTz occurred_at;
	TimestampTz received_at;
	bool		replay;			/* queued again by telemetry_replay() */
	char	   *item;			/* provider-specific JSON of the event */
	int			len;
	char	   *skip_reason;	/* too large: dead without sending */
	bool		routed_away;	/* its event's "providers" leave this one out */
} DeliveryEvent;

/* A batch of events sent in one request (or a part of one split by 413). */
typedef struct DeliveryBatch
{
	struct DeliveryProvider *prov;
	bool		requeued;		/* from telemetry.delivery_failures */
	bool		alerts;			/* alerts from telemetry.alert_queue, not events */
	bool		routed_away;	/* events this provider does not receive: not sent */
	DeliveryEvent *events;
	int			nevents;
	char	   *skip_reason;	/* dead without sending (oversized event) */
	HttpRequest req;
	StringInfoData body;
	DeliveryOutcome outcome;
	char	   *error;			/* detail, for history and dead letters (owner) */
	char	   *public_error;	/* summary for delivery_status: no body, no transport detail */
	struct DeliveryBatch *half[2];	/* set when outcome is SPLIT */
} DeliveryBatch;

/*
 * A bounded JSON writer (delivery_json.c): once the text passes `limit`
 * bytes it stops writing and sets `over`, so an event that renders large
 * (numbers such as 1e131071, escaping) costs at most about the limit.
 */
typedef struct JsonOut
{
	StringInfoData buf;
	int			limit;
	bool		over;
} JsonOut;

/*
 * Who an event is about, as PostHog and Segment may send it (identity.c
 * decides, from the stored context and the redaction its event version
 * declares for context.userId and context.sessionId).
 */
typedef enum DeliveryIdentity
{
	IDENTITY_NONE,				/* no identity key: an id derived from the event */
	IDENTITY_USER,				/* context.userId as stored (maybe its pseudonym) */
	IDENTITY_SESSION,			/* context.sessionId as stored */
	IDENTITY_REDACTED			/* the identity key is masked or dropped: anonymous */
} DeliveryIdentity;

/* The stored columns of one event, as the item builders read them. */
typedef struct DeliveryRow
{
	const char *id;				/* uuid text */
	text	   *event;
	text	   *version;
	text	   *spec;
	TimestampTz occurred_at;
	TimestampTz received_at;
	Jsonb	   *properties;		/* NULL when SQL NULL */
	Jsonb	   *context;
	/* context ->> 'userId' and ->> 'sessionId', NULL when absent or null */
	char	   *user_id;
	int			user_id_len;
	char	   *session_id;
	int			session_id_len;
	/* set by identity_resolve (PostHog and Segment use them) */
	DeliveryIdentity identity;
	bool		session_usable; /* sessionId may be sent as an anonymous id */
} DeliveryRow;

/*
 * An alert (the alert action of an anomaly) as telemetry.alert_queue holds
 * it for one provider: payload is the anomaly's fields that the event's
 * privacy allows (telemetry._alert_payload), summary a one-line text.
 */
typedef struct DeliveryAlert
{
	const char *id;				/* alert uuid: the same for every provider */
	const char *spec_key;
	Jsonb	   *payload;		/* a flat object */
	const char *summary;
	TimestampTz detected_at;
	TimestampTz queued_at;
} DeliveryAlert;

/*
 * A config key of a provider type (issue 15: one provider descriptor).  The
 * spec model (spec_provider.c) validates and masks provider configs from
 * these descriptors, delivery resolves them.
 */
typedef struct DeliveryConfigKey
{
	const char *name;
	bool		required;
	bool		secret;			/* a credential: prefer {"secret"} or {"env"} */
	bool		url;			/* the destination: host, url or endpoint */
	bool		headers;		/* an object of header names and (secret) values */
	const char *alias_of;		/* an older name of another key, renamed at registration */
	int			max_chars;		/* a plain string of at most this many characters */
} DeliveryConfigKey;

/* A provider type: its name, config keys, limits, item and request builders. */
typedef struct DeliveryFormat
{
	const char *type;
	const DeliveryConfigKey *keys;	/* ends with a NULL name */
	const char *default_url;	/* when the url key is absent; NULL: required */
	const char *url_path;		/* appended to the url key; NULL: used as is */
	int			max_request_bytes;
	int			max_event_bytes;
	int			max_batch_events;
	/* resolve the rest of the config; return NULL or an error (never a secret) */
	char	   *(*configure) (struct DeliveryProvider *prov);
	/* the item of one event (stops early when out->over) */
	void		(*render_item) (JsonOut *out, const DeliveryRow *row);
	/* fill in batch->req and batch->body (batch->alerts: alert items) */
	void		(*build) (DeliveryBatch *batch);
	/* the item of one alert; NULL: the type receives no alerts */
	void		(*render_alert) (JsonOut *out, const DeliveryAlert *alert);
	bool		alerts_only;	/* receives alerts and no events (slack) */
} DeliveryFormat;

typedef struct DeliveryProvider
{
	char	   *spec_key;		/* with name, the provider's identity */
	char	   *spec_version;	/* the key's latest version, whose config this is */
	char	   *name;
	char	   *spec;			/* the spec key, as in events.spec */
	char	   *type;
	const DeliveryFormat *format;
	void	   *config;			/* Jsonb *, secrets resolved, never logged */

	/* resolved config */
	char	   *url;
	char	   *host;			/* the url's host: where secrets may go */
	char	   *api_key;		/* PostHog: the project API key, sent in the body */
	char	   *auth_header;	/* Segment: the whole "Authorization: Basic ..." line */
	unsigned char *hmac_key;
	int			hmac_key_len;
	char	   *service_name;
	List	   *headers;		/* extra "Name: value" lines */
	char	   *config_error;
	char	   *refs_problem;	/* _provider_refs_problem(): not to be sent */

	/* state */
	char	   *cursor_xid;
	TimestampTz floor;			/* see src/floor.c */
	char	   *pending_xid;	/* NULL when no sample is pending */
	bool		caught_up;		/* this pass read every event below the horizon */
	char	   *cursor_id;
	int			failures;		/* consecutive failed attempts */
	List	   *batches;		/* DeliveryBatch *, cursor batches in order */
	List	   *requeued;		/* DeliveryBatch *, from the failure table */
	List	   *alerts;			/* DeliveryBatch *, from telemetry.alert_queue */
	HTAB	   *routed_away;	/* "event\x1fversion" it does not receive, or NULL */
	bool		has_requeued;	/* the failure table holds batches of it to send again */
	bool		more_waiting;	/* the claim hit its limit: more may wait */
	int			in_flight;
} DeliveryProvider;

/* delivery_claim.c */
extern FullTransactionId delivery_horizon;
extern FullTransactionId delivery_sample_xid;
/* providers the last claim found due (not backing off, not disabled) */
extern int	delivery_due_providers;
extern TimestampTz delivery_sample_at;
extern List *delivery_claim(MemoryContext cxt, int max_requests, bool *more);
extern const DeliveryFormat *delivery_format_for(const char *type);
extern int	delivery_format_count(void);
extern const DeliveryFormat *delivery_format_at(int i);

/* delivery_restore.c */
extern void delivery_restart_restored(void);

/* delivery_read.c */
extern void delivery_budget_reset(void);
extern bool delivery_budget_exhausted(void);
extern DeliveryEvent *delivery_read_events(MemoryContext cxt, DeliveryProvider *prov,
										   Portal portal, int max_rows,
										   int *nevents, bool *stopped);

/* delivery_alert.c */
extern int	delivery_claim_alerts(MemoryContext cxt, DeliveryProvider *prov, int max_alerts);
extern void delivery_record_alerts(DeliveryProvider *prov, DeliveryBatch *b);
extern HTAB *delivery_routing(MemoryContext cxt, Datum excluded);
extern bool delivery_routed_away(HTAB *routed_away, text *event, text *version);
extern void json_out_members(JsonOut *out, Jsonb *obj, bool first);
extern void json_out_alert_track(JsonOut *out, const DeliveryAlert *alert,
								 const char *first, const char *who_key);

/* delivery_send.c */
extern void delivery_send(List *providers);

/* delivery_record.c */
extern int	delivery_record(List *providers, bool *more);

/* delivery_json.c */
extern void json_out_init(JsonOut *out, int limit);
extern void json_out_raw(JsonOut *out, const char *s, int len);
extern void json_out_string(JsonOut *out, const char *s, int len);
extern void json_out_text(JsonOut *out, text *t);
extern void json_out_jsonb(JsonOut *out, JsonbContainer *c);
extern void json_out_value(JsonOut *out, JsonbValue *v);
extern void json_out_timestamp(JsonOut *out, TimestampTz t);
extern void json_out_props_with_spec(JsonOut *out, const DeliveryRow *row);
extern void json_out_props_with_spec_flag(JsonOut *out, const DeliveryRow *row,
										  const char *key, bool value);
extern bool json_value_as_text(JsonbValue *v, int limit, char **s, int *len);

#define json_out_lit(out, s) json_out_raw((out), (s), sizeof(s) - 1)

/* identity.c */
extern void identity_resolve(DeliveryRow *row);
extern bool identity_anonymous(const DeliveryRow *row);
extern void identity_reset(void);

/* provider_*.c */
extern const DeliveryFormat delivery_format_posthog;
extern const DeliveryFormat delivery_format_segment;
extern const DeliveryFormat delivery_format_webhook;
extern const DeliveryFormat delivery_format_otel;
extern const DeliveryFormat delivery_format_internal;
extern const DeliveryFormat delivery_format_slack;

/* helpers (provider_common.c) */
extern char *delivery_configure(DeliveryProvider *prov);
extern void delivery_join_items(StringInfo buf, DeliveryBatch *batch);
extern void delivery_add_header(DeliveryBatch *batch, const char *line);
extern char *delivery_config_text(DeliveryProvider *prov, const char *key,
								  char **error);
extern char *delivery_config_headers(DeliveryProvider *prov);
extern char *delivery_join_url(const char *base, const char *path);

#endif							/* TELEMETRY_DELIVERY_H */
