/*
 * delivery.c
 *		Delivery passes: the worker's (three short steps, no transaction
 *		open during HTTP) and telemetry_deliver() (in the caller's
 *		transaction).
 *
 * A pass claims work (delivery_claim.c), sends it (delivery_send.c) and
 * records the outcomes (delivery_record.c).  Passes never overlap: each
 * holds the delivery run lock of its database (run_lock.c, which no other
 * role can take) for its whole duration, the worker as a session lock,
 * telemetry_deliver() as a transaction lock.
 */
#include "telemetry.h"
#include "utils/resowner.h"
#include "delivery.h"
#include "run_lock.h"
#include "shmem.h"
#include "worker.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(telemetry_deliver);
PG_FUNCTION_INFO_V1(telemetry_delivery_wake);


/*
 * Requests one pass claims: a few rounds of telemetry.max_parallel_requests
 * (at most that many in flight at once), so the fixed cost of a pass (two
 * short transactions) is spread over more events.
 */
#define DELIVERY_PASS_REQUESTS (telemetry_max_parallel_requests * 8)

static MemoryContext pass_cxt = NULL;

/* Whether this database has the extension, fully created, with our tables. */
static bool
delivery_ready(void)
{
	Oid			nsp;

	if (RecoveryInProgress() || creating_extension)
		return false;
	if (!OidIsValid(get_extension_oid("telemetry", true)))
		return false;
	nsp = get_namespace_oid("telemetry", true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("delivery_state", nsp));
}

/*
 * Start one of the worker's short transactions (worker.h's, with SPI and a
 * snapshot).  Losing a commit of delivery bookkeeping in a crash only
 * resends events (with the same ids), so it need not wait for the WAL
 * flush.
 */
static void
delivery_tx_begin(const char *activity)
{
	telemetry_worker_tx_begin(activity);
	(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Send with a resource owner of our own: PostgreSQL's SHA-256 and HMAC
 * contexts (webhook ids and signatures) register with CurrentResourceOwner,
 * which is NULL between the worker's transactions.
 */
static void
send_outside_transaction(List *provs)
{
	ResourceOwner save = CurrentResourceOwner;
	ResourceOwner owner = ResourceOwnerCreate(NULL, "telemetry delivery");

	CurrentResourceOwner = owner;
	PG_TRY();
	{
		delivery_send(provs);
	}
	PG_FINALLY();
	{
		ResourceOwnerRelease(owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, true);
		ResourceOwnerRelease(owner, RESOURCE_RELEASE_LOCKS, false, true);
		ResourceOwnerRelease(owner, RESOURCE_RELEASE_AFTER_LOCKS, false, true);
		CurrentResourceOwner = save;
		ResourceOwnerDelete(owner);
	}
	PG_END_TRY();
}

/*
 * One delivery pass run by the worker outside any transaction: it claims
 * work in short transactions of its own, sends with no transaction open,
 * and records outcomes.  Returns the number of events delivered, sets
 * *more when work remains for an immediate next pass, and *none_due when
 * no provider could be served (every one backing off or disabled, or none
 * at all): then commits need not wake the worker.
 */
int
telemetry_delivery_worker_pass(bool *more, bool *none_due)
{
	List	   *provs;
	int			delivered = 0;
	volatile bool locked = false;

	*more = false;
	*none_due = false;
	if (pass_cxt == NULL)
		pass_cxt = AllocSetContextCreate(TopMemoryContext, "telemetry delivery pass",
										 ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(pass_cxt);

	PG_TRY();
	{
		delivery_tx_begin("telemetry: claiming events to deliver");
		if (!delivery_ready() ||
			!telemetry_run_lock_acquire(RUN_LOCK_DELIVERY, true, false))
		{
			telemetry_worker_tx_commit();
			provs = NIL;
		}
		else
		{
			locked = true;
			delivery_due_providers = 0;
			provs = delivery_claim(pass_cxt, DELIVERY_PASS_REQUESTS, more);
			*none_due = (delivery_due_providers == 0 && !*more);
			telemetry_worker_tx_commit();
		}

		if (provs != NIL)
		{
			MemoryContext old;

			pgstat_report_activity(STATE_RUNNING, "telemetry: sending events to providers");
			old = MemoryContextSwitchTo(pass_cxt);
			send_outside_transaction(provs);
			MemoryContextSwitchTo(old);

			delivery_tx_begin("telemetry: recording delivery outcomes");
			old = MemoryContextSwitchTo(pass_cxt);
			delivered = delivery_record(provs, more);
			MemoryContextSwitchTo(old);
			telemetry_worker_tx_commit();
		}
		if (locked)
		{
			telemetry_run_lock_release(RUN_LOCK_DELIVERY);
			locked = false;
		}
	}
	PG_CATCH();
	{
		if (locked)
			telemetry_run_lock_release(RUN_LOCK_DELIVERY);
		PG_RE_THROW();
	}
	PG_END_TRY();

	MemoryContextReset(pass_cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return delivered;
}

/*
 * SQL: telemetry_deliver() RETURNS integer.  One pass inside the caller's
 * transaction, HTTP included: for tests and operators.  Waits for a pass
 * of the worker to finish first.  Events written by the calling
 * transaction itself are not delivered (they are above its horizon).
 */
Datum
telemetry_deliver(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	MemoryContext old;
	List	   *provs;
	bool		more = false;
	int			delivered = 0;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot deliver events during recovery")));
	(void) telemetry_run_lock_acquire(RUN_LOCK_DELIVERY, false, true);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "telemetry_deliver",
								ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	provs = delivery_claim(cxt, DELIVERY_PASS_REQUESTS, &more);
	if (provs != NIL)
	{
		old = MemoryContextSwitchTo(cxt);
		delivery_send(provs);
		delivered = delivery_record(provs, &more);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	MemoryContextDelete(cxt);
	PG_RETURN_INT32(delivered);
}

/* SQL: telemetry._wake_worker_if_possible(): set the worker's latch. */
Datum
telemetry_delivery_wake(PG_FUNCTION_ARGS)
{
	telemetry_wake_worker();
	PG_RETURN_VOID();
}
