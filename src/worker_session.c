/*
 * worker_session.c
 *		Make a database worker's session one that the database's owner
 *		cannot steer.
 *
 * A database owner can ALTER DATABASE ... SET any user-settable parameter,
 * and InitPostgres applies those settings (and the connecting role's) to a
 * background worker like to any session: a search_path that puts the
 * owner's schema first, statement_timeout = 1, enable_partition_pruning =
 * off, a tiny work_mem, a role.  So the worker
 *
 *	1. remembers every parameter's value before it connects (the values of
 *	   postgresql.conf and the command line, inherited from the postmaster);
 *	2. after connecting, sets every parameter whose value came from a
 *	   database or role setting back to that value, with source
 *	   PGC_S_OVERRIDE (which later settings of lower priority, such as a
 *	   reload of postgresql.conf, cannot change);
 *	3. pins the parameters its SQL relies on, whatever postgresql.conf says
 *	   (search_path = pg_catalog, pg_temp first of all);
 *	4. acts as the extension's owner for everything it runs: connected as
 *	   that role when it may log in, else switched to it with
 *	   SECURITY_LOCAL_USERID_CHANGE, which also forbids SET ROLE and SET
 *	   SESSION AUTHORIZATION.
 */
#include "telemetry.h"
#include "worker.h"
#include "shmem.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"

typedef struct SavedGuc
{
	char	   *name;
	char	   *value;			/* NULL: unset string */
} SavedGuc;

static SavedGuc *saved_gucs = NULL;
static int	nsaved_gucs = 0;

/* Parameters pinned whatever any setting says. */
static const struct
{
	const char *name;
	const char *value;			/* NULL: the value before connecting */
}			pinned_gucs[] =
{
	{"search_path", "pg_catalog, pg_temp"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_deferrable", "off"},
	{"enable_partition_pruning", "on"},
	{"constraint_exclusion", "partition"},
	{"session_replication_role", "origin"},
	{"row_security", "on"},
	{"TimeZone", "UTC"},
	{"DateStyle", "ISO, MDY"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "1"},
	{"bytea_output", "hex"},
	{"standard_conforming_strings", "on"},
	{"transform_null_equals", "off"},
	{"work_mem", NULL},
	{"maintenance_work_mem", NULL},
};

/* The config_generic array and its length (the API changed in 16). */
static struct config_generic **
guc_array(int *n)
{
#if PG_VERSION_NUM >= 160000
	return get_guc_variables(n);
#else
	*n = GetNumConfigOptions();
	return get_guc_variables();
#endif
}

/* The value of a parameter before connecting, or NULL if unknown. */
static const SavedGuc *
saved_guc(const char *name)
{
	int			i;

	for (i = 0; i < nsaved_gucs; i++)
	{
		if (pg_strcasecmp(saved_gucs[i].name, name) == 0)
			return &saved_gucs[i];
	}
	return NULL;
}

/*
 * Remember every parameter's value; called before connecting, while they
 * are still those of the configuration files and the command line.
 */
void
worker_session_snapshot_gucs(void)
{
	struct config_generic **vars;
	int			n;
	int			i;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	vars = guc_array(&n);
	saved_gucs = palloc0(sizeof(SavedGuc) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		const char *v = GetConfigOption(vars[i]->name, true, false);

		saved_gucs[nsaved_gucs].name = pstrdup(vars[i]->name);
		saved_gucs[nsaved_gucs].value = v ? pstrdup(v) : NULL;
		nsaved_gucs++;
	}
	MemoryContextSwitchTo(old);
}

/* Set one parameter for the rest of the session, above every other source. */
static void
override_guc(const char *name, const char *value, int elevel)
{
	(void) set_config_option(name, value, PGC_SU_BACKEND, PGC_S_OVERRIDE,
							 GUC_ACTION_SET, true, elevel, false);
}

/*
 * The compiled-in default of a parameter defined after the snapshot (by a
 * library loaded later, such as plpgsql), as text; NULL if it has none.
 */
static const char *
boot_value(struct config_generic *gen)
{
	switch (gen->vartype)
	{
		case PGC_BOOL:
			return ((struct config_bool *) gen)->boot_val ? "on" : "off";
		case PGC_INT:
			return psprintf("%d", ((struct config_int *) gen)->boot_val);
		case PGC_REAL:
			return psprintf("%.17g", ((struct config_real *) gen)->boot_val);
		case PGC_STRING:
			return ((struct config_string *) gen)->boot_val;
		case PGC_ENUM:
			return config_enum_lookup_by_value((struct config_enum *) gen,
											   ((struct config_enum *) gen)->boot_val);
	}
	return NULL;
}

/*
 * Steps 2 to 4 of the file comment, right after connecting, before any
 * query.  A parameter that cannot be set back is logged; a pinned one that
 * cannot be set is an error (the worker exits and the launcher retries).
 */
void
worker_session_harden(Oid owner, bool connected_as_owner)
{
	struct config_generic **vars;
	int			n;
	int			i;
	List	   *names = NIL;
	ListCell   *lc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();

	/*
	 * PL/pgSQL's own parameters (plpgsql.variable_conflict, ...) exist only
	 * once it is loaded: load it now so that they are reset with the rest.
	 */
	load_file("$libdir/plpgsql", false);

	/* collect first: setting a parameter may re-sort the array */
	vars = guc_array(&n);
	for (i = 0; i < n; i++)
	{
		GucSource	src = vars[i]->source;

		if (src == PGC_S_DATABASE || src == PGC_S_USER ||
			src == PGC_S_DATABASE_USER ||
			vars[i]->reset_source == PGC_S_DATABASE ||
			vars[i]->reset_source == PGC_S_USER ||
			vars[i]->reset_source == PGC_S_DATABASE_USER)
		{
			if (vars[i]->flags & GUC_CUSTOM_PLACEHOLDER)
				continue;		/* no library defines it: nothing reads it */
			names = lappend(names, vars[i]);
		}
	}

	foreach(lc, names)
	{
		struct config_generic *gen = lfirst(lc);
		const char *name = gen->name;
		const SavedGuc *s = saved_guc(name);

		if (pg_strcasecmp(name, "session_authorization") == 0)
			override_guc(name, GetUserNameFromId(GetAuthenticatedUserId(), false), ERROR);
		else if (pg_strcasecmp(name, "role") == 0)
			override_guc(name, "none", ERROR);
		else if (s != NULL && s->value != NULL)
			override_guc(name, s->value, WARNING);
		else if (s == NULL && boot_value(gen) != NULL)
			override_guc(name, boot_value(gen), WARNING);
		else
			ereport(WARNING,
					(errmsg("telemetry worker: cannot reset parameter \"%s\" set for the database or role",
							name)));
	}

	for (i = 0; i < lengthof(pinned_gucs); i++)
	{
		const char *value = pinned_gucs[i].value;

		if (value == NULL)
		{
			const SavedGuc *s = saved_guc(pinned_gucs[i].name);

			if (s == NULL || s->value == NULL)
				continue;
			value = s->value;
		}
		override_guc(pinned_gucs[i].name, value, ERROR);
	}

	CommitTransactionCommand();

	if (!connected_as_owner && OidIsValid(owner))
	{
		Oid			save_user;
		int			save_sec;

		GetUserIdAndSecContext(&save_user, &save_sec);
		SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	}
}
