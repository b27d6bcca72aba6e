/*
 * identity.h
 *		Whether an event's identity (context.userId, else context.sessionId)
 *		may be sent to PostHog and Segment as the person it is about.
 *
 * One rule (identity.c) serves delivery, which applies it to each stored
 * event, and registration, which warns about a spec whose PostHog or
 * Segment providers would only ever receive anonymous events.
 */
#ifndef TELEMETRY_IDENTITY_H
#define TELEMETRY_IDENTITY_H

#include "delivery.h"
#include "spec_model.h"

/* What is known of one identity key of an event's context. */
typedef struct IdentityKey
{
	bool		declared;		/* the event version's context declares it */
	Redaction	redaction;		/* its declared redaction */
	bool		present;		/* non-null in the stored context */
	const char *value;			/* its text (->>), NULL when unknown */
	int			len;
} IdentityKey;

extern bool identity_key_usable(const IdentityKey *key);
extern DeliveryIdentity identity_choose(const IdentityKey *user,
										const IdentityKey *session);
extern void identity_warn_spec(const SpecDoc *doc);

#endif							/* TELEMETRY_IDENTITY_H */
