/*
 * citus.c
 *		One spec catalog on a Citus cluster (issue 17).
 *
 * Citus is found at run time (its extension in this database, its
 * metadata tables through SPI): telemetry neither links to it nor needs it.
 *
 * Every node keeps its own, ordinary catalog tables: tracking and delivery
 * read them locally, and the spec cache is invalidated by the catalog's own
 * triggers on each node.  What makes the catalogs one is how they change:
 *	- on the coordinator, an AFTER ROW trigger on telemetry.specs (insert,
 *	  delete), telemetry.secrets and telemetry.redaction_key turns each
 *	  change into a message: a row inserted into telemetry.cluster_messages,
 *	  a Citus reference table (telemetry_citus_sync() creates it);
 *	- Citus writes that row to every placement of the reference table in
 *	  the same distributed transaction (two-phase commit), and a BEFORE ROW
 *	  trigger on each placement (telemetry_cluster_message) applies the
 *	  change to that node's catalog (registering or unregistering the spec
 *	  version with the same C code, setting the secret or the key), then
 *	  drops the row: the table stays empty.  The row is inserted by INSERT
 *	  ... SELECT, which Citus sends as binary COPY data: secrets and the key
 *	  never appear in the text of a statement on the workers (log_statement).
 * So a registration changes every node or none; a registration that fails
 * on one worker (a different document under the same key@version, a
 * destination that node does not allow) fails on the coordinator too.
 *
 * On a worker, changing the catalog directly is refused with a hint: only
 * the coordinator's messages (this backend's "applying" flag) may.
 */
#include "telemetry.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(telemetry_cluster_role);
PG_FUNCTION_INFO_V1(telemetry_cluster_message);
PG_FUNCTION_INFO_V1(telemetry_cluster_send);

/* the registration entry points of spec_register.c, called directly */
extern PGDLLEXPORT Datum telemetry_register_spec(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum telemetry_unregister_spec(PG_FUNCTION_ARGS);

/* true while this backend applies a message from the coordinator */
static bool applying = false;

/*
 * This node's Citus group id (0 on the coordinator), or -1 when Citus is
 * not installed in this database.  Runs inside an SPI connection.
 */
static int
citus_group_id(void)
{
	bool		isnull;
	Datum		d;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return -1;
	if (SPI_execute("SELECT groupid FROM pg_catalog.pg_dist_local_group", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "telemetry: could not read pg_dist_local_group");
	if (SPI_processed != 1)
		return -1;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? -1 : DatumGetInt32(d);
}

/* This node's address in pg_dist_node ("host:port"), for errors. */
static char *
node_name(int group)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(group)};

	if (SPI_execute_with_args("SELECT nodename || ':' || nodeport FROM pg_catalog.pg_dist_node "
							  "WHERE groupid = $1 AND noderole = 'primary' ORDER BY nodeid LIMIT 1",
							  1, types, values, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return psprintf("of group %d", group);
}

/*
 * SQL: telemetry._cluster_role() RETURNS text
 *
 * What this node is for the spec catalog: 'none' (no Citus, or inside
 * CREATE EXTENSION), 'applying' (this backend applies the coordinator's
 * message), 'coordinator' (group 0, which is also a single-node Citus) or
 * 'worker'.  The propagation trigger (100_citus.sql) decides on it.
 */
Datum
telemetry_cluster_role(PG_FUNCTION_ARGS)
{
	int			group;
	const char *role;

	if (applying)
		PG_RETURN_TEXT_P(cstring_to_text("applying"));
	if (creating_extension)
		PG_RETURN_TEXT_P(cstring_to_text("none"));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	group = citus_group_id();
	SPI_finish();
	role = group < 0 ? "none" : group == 0 ? "coordinator" : "worker";
	PG_RETURN_TEXT_P(cstring_to_text(role));
}

/* Run a statement with arguments as the owner's SPI caller. */
static void
cluster_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "telemetry: cluster catalog statement failed (%s): %s",
			 SPI_result_code_string(rc), sql);
}

/* A field of a JSON object, or NULL: what field_text and field_jsonb read. */
static JsonbValue *
field(Jsonb *obj, const char *name)
{
	return getKeyJsonValueFromContainer(&obj->root, name, strlen(name), NULL);
}

/* A text field of a JSON object, or NULL. */
static char *
field_text(Jsonb *obj, const char *name)
{
	JsonbValue *v = field(obj, name);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A JSON field of a JSON object as jsonb, or NULL. */
static Jsonb *
field_jsonb(Jsonb *obj, const char *name)
{
	JsonbValue *v = field(obj, name);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	return JsonbValueToJsonb(v);
}

/*
 * Register a spec version from a telemetry.specs row (as JSON) and keep who
 * registered it and when, as the coordinator recorded them.
 */
static void
apply_register(Jsonb *row)
{
	Jsonb	   *doc = field_jsonb(row, "document");
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	char	   *by = field_text(row, "registered_by");
	char	   *at = field_text(row, "registered_at");

	if (doc == NULL)
		elog(ERROR, "telemetry: cluster message without a spec document");

	/*
	 * Registration reads some rows read-only, with the active snapshot: let
	 * it see what this message wrote before (the secrets of a sync).
	 */
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	DirectFunctionCall1(telemetry_register_spec, JsonbPGetDatum(doc));
	PopActiveSnapshot();
	values[0] = CStringGetTextDatum(field_text(row, "key"));
	values[1] = CStringGetTextDatum(field_text(row, "version"));
	values[2] = by ? CStringGetTextDatum(by) : (Datum) 0;
	values[3] = at ? CStringGetTextDatum(at) : (Datum) 0;
	nulls[2] = by ? ' ' : 'n';
	nulls[3] = at ? ' ' : 'n';
	cluster_exec("UPDATE telemetry.specs SET registered_by = coalesce($3::name, registered_by), "
		"registered_at = coalesce($4::timestamptz, registered_at) "
		"WHERE key = $1 AND version = $2 "
		"AND (registered_by, registered_at) IS DISTINCT FROM (coalesce($3::name, registered_by), coalesce($4::timestamptz, registered_at))",
		4, types, values, nulls);
}

/* Unregister a spec version named by a telemetry.specs row (as JSON). */
static void
apply_unregister(Jsonb *row)
{
	char	   *key = field_text(row, "key");
	char	   *version = field_text(row, "version");

	if (key == NULL || version == NULL)
		elog(ERROR, "telemetry: cluster message without a spec key and version");
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	DirectFunctionCall2(telemetry_unregister_spec, CStringGetTextDatum(key), CStringGetTextDatum(version));
	PopActiveSnapshot();
}

/*
 * Apply each jsonb row that a query over the sync payload ($1) returns, in
 * its order: the spec versions a sync registers, then those it
 * unregisters.  The rows are read before the first is applied, since
 * applying one runs SPI statements of its own.
 */
static void
apply_each(const char *sql, Jsonb *payload, void (*apply) (Jsonb *row))
{
	Oid			jtype[1] = {JSONBOID};
	Datum		jval[1] = {JsonbPGetDatum(payload)};
	SPITupleTable *tt;
	uint64		n;

	cluster_exec(sql, 1, jtype, jval, NULL);
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);

		apply(DatumGetJsonbPCopy(d));
	}
}

/*
 * Apply one message: op is "<table>_<insert|update|delete>" for a row of
 * telemetry.specs, telemetry.secrets or telemetry.redaction_key (payload:
 * the row as JSON), or "sync" (payload: the coordinator's whole catalog,
 * see telemetry_citus_sync()).  Secrets and the key are written as the
 * owner; registrations act as the owner themselves.
 */
static void
apply_message(const char *op, Jsonb *payload)
{
	TelemetryOwnerContext octx;
	Oid			owner = telemetry_installed_owner();
	Oid			jtype[1] = {JSONBOID};
	Datum		jval[1] = {JsonbPGetDatum(payload)};

	if (strcmp(op, "specs_insert") == 0)
	{
		telemetry_become_owner(&octx, owner, true);
		apply_register(payload);
		telemetry_restore_user(&octx);
		return;
	}
	if (strcmp(op, "specs_delete") == 0)
	{
		apply_unregister(payload);
		return;
	}

	telemetry_become_owner(&octx, owner, true);
	if (strcmp(op, "secrets_insert") == 0 || strcmp(op, "secrets_update") == 0)
		cluster_exec("INSERT INTO telemetry.secrets AS s (name, value, hosts, updated_at) "
			"SELECT r.name, r.value, r.hosts, r.updated_at "
			"FROM jsonb_populate_record(NULL::telemetry.secrets, $1) r "
			"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, hosts = EXCLUDED.hosts, updated_at = EXCLUDED.updated_at",
			1, jtype, jval, NULL);
	else if (strcmp(op, "secrets_delete") == 0)
		cluster_exec("DELETE FROM telemetry.secrets WHERE name = $1 ->> 'name'", 1, jtype, jval, NULL);
	else if (strcmp(op, "redaction_key_insert") == 0 || strcmp(op, "redaction_key_update") == 0)
		cluster_exec("INSERT INTO telemetry.redaction_key (id, key) "
			"SELECT true, r.key FROM jsonb_populate_record(NULL::telemetry.redaction_key, $1) r "
			"WHERE NOT EXISTS (SELECT 1 FROM telemetry.redaction_key k WHERE k.key = r.key)",
			1, jtype, jval, NULL);
	else if (strcmp(op, "sync") == 0)
	{
		/* the key and the secrets first: registration checks secrets */
		cluster_exec("INSERT INTO telemetry.redaction_key (id, key) "
			"SELECT true, r.key FROM jsonb_populate_record(NULL::telemetry.redaction_key, $1 -> 'redaction_key') r "
			"WHERE NOT EXISTS (SELECT 1 FROM telemetry.redaction_key k WHERE k.key = r.key)",
			1, jtype, jval, NULL);
		cluster_exec("DELETE FROM telemetry.secrets s WHERE NOT EXISTS "
			"(SELECT 1 FROM jsonb_populate_recordset(NULL::telemetry.secrets, $1 -> 'secrets') r WHERE r.name = s.name)",
			1, jtype, jval, NULL);
		cluster_exec("INSERT INTO telemetry.secrets AS s (name, value, hosts, updated_at) "
			"SELECT r.name, r.value, r.hosts, r.updated_at "
			"FROM jsonb_populate_recordset(NULL::telemetry.secrets, $1 -> 'secrets') r "
			"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, hosts = EXCLUDED.hosts, updated_at = EXCLUDED.updated_at "
			"WHERE (s.value, s.hosts) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.hosts)",
			1, jtype, jval, NULL);

		/* every spec version of the coordinator, in its registration order */
		apply_each("SELECT e.value FROM jsonb_array_elements($1 -> 'specs') WITH ORDINALITY AS e(value, n) ORDER BY e.n",
				   payload, apply_register);

		/*
		 * the coordinator's tombstones (retired event versions keep their
		 * definitions for good): a node added later must refuse what the
		 * coordinator refuses
		 */
		cluster_exec("INSERT INTO telemetry.event_tombstones "
			"SELECT r.* FROM jsonb_populate_recordset(NULL::telemetry.event_tombstones, $1 -> 'tombstones') r "
			"WHERE NOT EXISTS (SELECT 1 FROM telemetry.event_defs d WHERE d.event = r.event AND d.version = r.version) "
			"ON CONFLICT (event, version) DO NOTHING",
			1, jtype, jval, NULL);

		/* and no other: versions this node has alone go, lowest first */
		apply_each("SELECT to_jsonb(s) FROM telemetry.specs s WHERE NOT EXISTS "
			"(SELECT 1 FROM jsonb_array_elements($1 -> 'specs') e "
			" WHERE e.value ->> 'key' = s.key AND e.value ->> 'version' = s.version) "
			"ORDER BY s.key, s.version_key, s.version",
				   payload, apply_unregister);
	}
	else
		elog(ERROR, "telemetry: unknown cluster message \"%s\"", op);
	telemetry_restore_user(&octx);
}

/*
 * A message changes the catalog as the extension's owner: it must come from
 * telemetry.cluster_messages (the shell table or a placement of it, in the
 * extension's schema, where only the owner creates objects), inserted by a
 * user with the owner's privileges (only the owner may insert there; the
 * coordinator sends as the owner).  EXECUTE on the trigger function is
 * revoked from PUBLIC too, so no one else attaches it to a table.
 */
static void
check_message_table(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	Oid			owner = telemetry_extension_owner();
	Oid			schema = get_namespace_oid("telemetry", true);
	size_t		len = strlen("cluster_messages");
	bool		ok;

	ok = OidIsValid(schema) && RelationGetNamespace(rel) == schema &&
		strncmp(name, "cluster_messages", len) == 0 &&
		(name[len] == '\0' ||
		 (name[len] == '_' && name[len + 1] != '\0' &&
		  strspn(name + len + 1, "0123456789") == strlen(name + len + 1)));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("telemetry._cluster_message() applies only messages of telemetry.cluster_messages")));
	if (!OidIsValid(owner) || !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to send telemetry catalog messages"),
				 errdetail("Only the owner of extension telemetry can.")));
}

/*
 * Trigger: BEFORE INSERT FOR EACH ROW on telemetry.cluster_messages (each
 * placement of the reference table).  Applies the message to this node's
 * catalog unless this node sent it, and keeps no row.
 */
Datum
telemetry_cluster_message(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	bool		isnull;
	int			origin;
	char	   *op;
	Jsonb	   *payload;
	int			group;
	int			guc_level;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("telemetry._cluster_message() must be a BEFORE INSERT row trigger")));
	check_message_table(trigdata->tg_relation);
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	tuple = trigdata->tg_trigtuple;

	origin = DatumGetInt32(heap_getattr(tuple, SPI_fnumber(tupdesc, "origin"), tupdesc, &isnull));
	if (isnull)
		elog(ERROR, "telemetry: cluster message without an origin");
	op = TextDatumGetCString(heap_getattr(tuple, SPI_fnumber(tupdesc, "op"), tupdesc, &isnull));
	payload = DatumGetJsonbPCopy(heap_getattr(tuple, SPI_fnumber(tupdesc, "payload"), tupdesc, &isnull));
	if (isnull)
		elog(ERROR, "telemetry: cluster message without a payload");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the coordinator's connection may carry any search_path: pin it */
	guc_level = telemetry_pin_search_path();
	group = citus_group_id();
	if (group != origin)
	{
		bool		was = applying;
		char	   *self = node_name(group);
		MemoryContext oldcxt = CurrentMemoryContext;

		applying = true;
		PG_TRY();
		{
			apply_message(op, payload);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/*
			 * The coordinator reports a COPY's error with its message and
			 * detail only: name this node and the SQLSTATE in the message,
			 * and keep the hint in the detail.
			 */
			applying = was;
			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			edata->message = psprintf("Citus node %s refused the change (%s): %s", self,
									  unpack_sql_state(edata->sqlerrcode), edata->message);
			if (edata->hint != NULL)
				edata->detail = edata->detail ? psprintf("%s %s", edata->detail, edata->hint) : edata->hint;
			ReThrowError(edata);
		}
		PG_END_TRY();
		applying = was;
	}
	AtEOXact_GUC(true, guc_level);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * The SQLSTATE that a worker node's refusal carries in its message ("Citus
 * node host:port refused the change (SQLSTATE): ..."), or 0.
 */
static int
refused_sqlstate(const char *message)
{
	const char *prefix = "Citus node ";
	const char *mark = " refused the change (";
	const char *p;

	if (message == NULL || strncmp(message, prefix, strlen(prefix)) != 0 ||
		(p = strstr(message, mark)) == NULL)
		return 0;
	p += strlen(mark);
	if (strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") < 5 || strncmp(p + 5, "): ", 3) != 0)
		return 0;
	return MAKE_SQLSTATE(p[0], p[1], p[2], p[3], p[4]);
}

/*
 * SQL: telemetry._cluster_send(op text, payload jsonb) RETURNS void
 *
 * Send one catalog message to every node: a row of
 * telemetry.cluster_messages, inserted by INSERT ... SELECT so that Citus
 * sends it as binary COPY data (see the top of this file).  Citus reports a
 * worker's error in that COPY with its message and detail only, as XX000:
 * a refusal (telemetry_cluster_message put its SQLSTATE in the message) is
 * raised again here with the worker's SQLSTATE.  Runs as the caller, who
 * must be allowed to insert there (the owner).
 */
Datum
telemetry_cluster_send(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		values[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
	MemoryContext oldcxt = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		cluster_exec("INSERT INTO telemetry.cluster_messages (origin, op, payload) SELECT 0, $1, $2",
			2, types, values, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			code;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		code = edata->sqlerrcode == ERRCODE_INTERNAL_ERROR ? refused_sqlstate(edata->message) : 0;
		if (code == 0)
			PG_RE_THROW();
		FlushErrorState();
		edata->sqlerrcode = code;
		ReThrowError(edata);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}
