/*
 * identity.c
 *		Whether an event's identity may be sent as the person it is about.
 *
 * PostHog and Segment merge everything sent under one distinct_id (userId)
 * into one person.  An identity key whose value was masked ("REDACTED", 0,
 * false, ...) or dropped before the row was written would merge every user
 * into one person, so such events are sent as anonymous events: PostHog
 * gets the event id as distinct_id with "$process_person_profile": false,
 * Segment the event id as anonymousId.  A hashed identity is its keyed
 * pseudonym, stable per user, and is sent as it is.
 *
 * The identity key is context.userId when the event version's context
 * declares it or the event carries it, else context.sessionId.  Its
 * declared redaction is read from telemetry.event_properties (an event
 * key@version never changes its definition), cached per delivery pass.
 * The same rule makes registration warn about a spec whose PostHog or
 * Segment providers would only receive anonymous events.
 */
#include "telemetry.h"
#include "identity.h"
#include "spi_plan.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/* the text every masked string becomes (event_check.c) */
#define MASK_TEXT		"REDACTED"
#define MASK_TEXT_LEN	8

/* longest event name or version (in bytes) looked up; longer: undeclared */
#define IDENTITY_NAME_BYTES	(SPEC_MAX_KEY_CHARS * 4)
#define IDENTITY_KEY_LEN	(2 * IDENTITY_NAME_BYTES + 2)
#define IDENTITY_MAX_ENTRIES 4096

/* The declared redaction of the identity keys of one event version. */
typedef struct IdentityDecl
{
	char		key[IDENTITY_KEY_LEN];	/* event \x01 version */
	bool		user_declared;
	Redaction	user_redaction;
	bool		session_declared;
	Redaction	session_redaction;
} IdentityDecl;

static HTAB *decls = NULL;
static SPIPlanPtr decl_plan = NULL;

/* Whether a redaction leaves nothing of the value that identifies anyone. */
static inline bool
redaction_hides(Redaction r)
{
	return r == REDACT_MASK || r == REDACT_DROP;
}

/*
 * Whether one identity key may be sent as an identity: it is present, its
 * event version does not mask or drop it, and it is not the mask's text
 * (an event stored before its definition masked the key, or one whose
 * definition is gone, can still hold "REDACTED").
 */
bool
identity_key_usable(const IdentityKey *key)
{
	if (key->declared && redaction_hides(key->redaction))
		return false;
	if (!key->present)
		return false;
	if (key->value != NULL && key->len == MASK_TEXT_LEN &&
		memcmp(key->value, MASK_TEXT, MASK_TEXT_LEN) == 0)
		return false;
	return true;
}

/*
 * The identity an event is sent with.  userId is the identity key when it
 * is declared or present; a masked or dropped userId does not fall back to
 * sessionId (the spec said who the event is about, and hid it).
 */
DeliveryIdentity
identity_choose(const IdentityKey *user, const IdentityKey *session)
{
	if (user->present || (user->declared && redaction_hides(user->redaction)))
		return identity_key_usable(user) ? IDENTITY_USER : IDENTITY_REDACTED;
	if (session->present || (session->declared && redaction_hides(session->redaction)))
		return identity_key_usable(session) ? IDENTITY_SESSION : IDENTITY_REDACTED;
	return IDENTITY_NONE;
}

/* Forget the cached declarations (once a delivery pass: specs may change). */
void
identity_reset(void)
{
	if (decls != NULL)
		hash_destroy(decls);
	decls = NULL;
}

/* Read the declared redaction of an event version's identity keys. */
static void
load_decl(IdentityDecl *d, text *event, text *version)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_plan_keep(&decl_plan, 0,
				  "SELECT p.name, p.redaction FROM telemetry.event_properties p "
				  "WHERE p.event = $1 AND p.version = $2 AND p.scope = 'context' "
				  "AND p.name IN ('userId', 'sessionId')",
				  2, types);
	args[0] = PointerGetDatum(event);
	args[1] = PointerGetDatum(version);
	ret = SPI_execute_plan(decl_plan, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "telemetry: identity lookup failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *red = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		int			r = red ? spec_enum_parse(&spec_redactions, red, strlen(red)) : REDACT_NONE;

		/* an unknown mode (a newer catalog): assume it hides the value */
		if (r < 0)
			r = REDACT_DROP;
		if (strcmp(name, "userId") == 0)
		{
			d->user_declared = true;
			d->user_redaction = (Redaction) r;
		}
		else
		{
			d->session_declared = true;
			d->session_redaction = (Redaction) r;
		}
	}
	SPI_finish();
}

/* The cached declarations of an event version (none when not registered). */
static const IdentityDecl *
lookup_decl(text *event, text *version)
{
	static const IdentityDecl none;
	char		key[IDENTITY_KEY_LEN];
	int			elen = VARSIZE_ANY_EXHDR(event);
	int			vlen = VARSIZE_ANY_EXHDR(version);
	IdentityDecl *d;
	bool		found;

	if (elen > IDENTITY_NAME_BYTES || vlen > IDENTITY_NAME_BYTES ||
		memchr(VARDATA_ANY(event), '\x01', elen) != NULL)
		return &none;			/* no registered event has such a name */
	memcpy(key, VARDATA_ANY(event), elen);
	key[elen] = '\x01';
	memcpy(key + elen + 1, VARDATA_ANY(version), vlen);
	key[elen + 1 + vlen] = '\0';

	if (decls == NULL || hash_get_num_entries(decls) >= IDENTITY_MAX_ENTRIES)
	{
		HASHCTL		ctl;

		identity_reset();
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = IDENTITY_KEY_LEN;
		ctl.entrysize = sizeof(IdentityDecl);
		ctl.hcxt = TopMemoryContext;
		decls = hash_create("telemetry identity declarations", 64, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	d = hash_search(decls, key, HASH_FIND, NULL);
	if (d != NULL)
		return d;

	{
		IdentityDecl loaded;

		memset(&loaded, 0, sizeof(loaded));
		load_decl(&loaded, event, version);
		d = hash_search(decls, key, HASH_ENTER, &found);
		d->user_declared = loaded.user_declared;
		d->user_redaction = loaded.user_redaction;
		d->session_declared = loaded.session_declared;
		d->session_redaction = loaded.session_redaction;
	}
	return d;
}

/*
 * Decide a row's identity before its item is rendered: row->identity, and
 * whether its sessionId may be sent as an anonymous id (Segment sends it
 * next to a userId).  The stored values stay as they are for the other
 * provider types (a webhook gets the whole context).
 */
void
identity_resolve(DeliveryRow *row)
{
	const IdentityDecl *d = lookup_decl(row->event, row->version);
	IdentityKey user = {d->user_declared, d->user_redaction,
	row->user_id != NULL, row->user_id, row->user_id_len};
	IdentityKey session = {d->session_declared, d->session_redaction,
	row->session_id != NULL, row->session_id, row->session_id_len};

	row->identity = identity_choose(&user, &session);
	row->session_usable = identity_key_usable(&session);
}

/*
 * Whether an event is sent as an anonymous event, about no person a
 * provider may profile: its identity key was masked or dropped, or it has
 * none at all.  PostHog then gets "$process_person_profile": false.
 */
bool
identity_anonymous(const DeliveryRow *row)
{
	return row->identity == IDENTITY_REDACTED || row->identity == IDENTITY_NONE;
}

/*
 * Registration: warn when a spec with PostHog or Segment providers masks or
 * drops its identity key (context.userId when declared, else sessionId),
 * since every event then reaches them as an anonymous event.
 */
void
identity_warn_spec(const SpecDoc *doc)
{
	IdentityKey user = {0};
	IdentityKey session = {0};
	const SpecProperty *hidden;
	StringInfoData names;

	initStringInfo(&names);
	for (int i = 0; i < doc->nproviders; i++)
	{
		const SpecProvider *p = &doc->providers[i];

		if (strcmp(p->type, "posthog") != 0 && strcmp(p->type, "segment") != 0)
			continue;
		appendStringInfo(&names, "%s\"%s\"", names.len > 0 ? ", " : "", p->ename);
	}
	if (names.len == 0)
		return;

	for (int i = 0; i < doc->ncontext; i++)
	{
		const SpecProperty *c = &doc->context[i];
		IdentityKey *k = strcmp(c->name, "userId") == 0 ? &user :
			strcmp(c->name, "sessionId") == 0 ? &session : NULL;

		if (k != NULL)
		{
			/* a declared key is taken as present: what most events carry */
			k->declared = k->present = true;
			k->redaction = c->redaction;
		}
	}
	if (identity_choose(&user, &session) != IDENTITY_REDACTED)
		return;

	hidden = NULL;
	for (int i = 0; i < doc->ncontext; i++)
		if (strcmp(doc->context[i].name, user.declared ? "userId" : "sessionId") == 0)
			hidden = &doc->context[i];
	ereport(WARNING,
			(errmsg("spec \"%s@%s\" hides its identity key context.%s from providers %s",
					doc->key, doc->version, hidden->name, names.data),
			 errdetail("The key's redaction is \"%s\": its events are sent as anonymous events, "
					   "each with its own id, and cannot be joined to a person.",
					   spec_enum_name(&spec_redactions, hidden->redaction)),
			 errhint("Declare it with \"redaction\": \"hash\" to send a stable pseudonym instead.")));
}
