/*
 * insert.c
 *		Store event rows without the executor, as COPY does.
 *
 * telemetry_track used to run a prepared INSERT through SPI: plan cache
 * check, executor start-up, tuple routing set-up and shut-down for every
 * event, more than the work of the insert itself.  Here an event row goes
 * straight to its partition: the routing (partition bounds of
 * telemetry.events) is cached across transactions and dropped by any
 * relcache invalidation of the parent (partitions made, attached, dropped
 * by maintenance); each call locks the parent and the partition as an
 * INSERT would (ROW EXCLUSIVE, the parent first), so it waits for a
 * partition being made or dropped exactly like the executor path, then
 * inserts the heap tuple and its index entries.
 *
 * The direct path is taken only where it is equivalent to an INSERT: a
 * plain local range-partitioned heap table on occurred_at, without
 * triggers on the table or its partitions, whose columns are exactly the
 * event columns.  Anything else (for example a table managed by a
 * distributed engine, which routes rows itself) and
 * telemetry.insert_path = executor use the executor path in track.c.
 */
#include "telemetry.h"
#include "insert.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/xact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"

/* The event columns, in EventRow order. */
static const char *const event_columns[EVENT_NCOLUMNS] = {
	"id", "event", "version", "spec", "occurred_at", "received_at",
	"properties", "context", "sample_rate", "xid"
};

/*
 * The routing of telemetry.events, kept across transactions: range bounds
 * on occurred_at as PostgreSQL keeps them (bounds[i] is the upper bound of
 * the range indexes[i + 1] ... see get_partition_for_tuple), partition
 * OIDs, and the default partition.
 */
typedef struct EventRouting
{
	bool		valid;
	bool		stale;			/* invalidated since the build began */
	bool		direct;			/* the direct path is equivalent to INSERT */
	Oid			parent;
	Oid			late;			/* telemetry.late_events */
	Oid			default_part;
	int			nbounds;
	TimestampTz *bounds;
	int		   *indexes;		/* nbounds + 1 entries, -1 for gaps */
	Oid		   *oids;
} EventRouting;

static EventRouting routing;
static MemoryContext routing_cxt = NULL;
static bool callback_registered = false;

/*
 * What inserting into one relation (a partition, telemetry.late_events)
 * needs that can outlive a transaction: whether it suits the direct path,
 * its column map, and its indexes with their IndexInfo, expressions and
 * predicate compiled.  An INSERT builds these for every statement
 * (ExecOpenIndices, FormIndexDatum): for the expression index on
 * ROW(event, version, xid, id) that is a run of the expression planner and
 * an executor set-up per event.  A shape is dropped by any relcache
 * invalidation of its relation or of one of its indexes, and is checked
 * after the relation is locked, so it is never older than what the
 * executor would read.  Only btree indexes keep their IndexInfo (other
 * access methods may keep per-relation state in ii_AmCache); the others
 * get a new one per use, as in ExecOpenIndices.
 */
typedef struct TargetShape
{
	Oid			relid;			/* InvalidOid: a free slot */
	bool		valid;
	bool		stale;			/* invalidated since the build began */
	bool		usable;			/* a heap with exactly the event columns */
	AttrNumber	attnums[EVENT_NCOLUMNS];
	int			nindexes;
	Oid		   *indexoids;
	IndexInfo **indexinfo;		/* NULL until first used, or not btree */
	MemoryContext cxt;
} TargetShape;

#define SHAPE_CACHE_SIZE 8

static TargetShape shapes[SHAPE_CACHE_SIZE];
static int	shape_next_victim = 0;

/*
 * Contexts of shapes rebuilt or evicted: an inserter of the current
 * transaction may still point into them, so they are deleted in a later
 * transaction (inserters never outlive theirs).
 */
static List *retired_cxts = NIL;
static LocalTransactionId retired_lxid = InvalidLocalTransactionId;

/* Rows a buffered inserter keeps per relation before a multi-row insert. */
#define INSERTER_BUFFER_ROWS 256

/* One relation an EventInserter writes to, opened for its lifetime. */
typedef struct InsertTarget
{
	Oid			relid;
	Relation	rel;
	ResultRelInfo *rri;
	AttrNumber	attnums[EVENT_NCOLUMNS];
	int			nslots;			/* slots made so far */
	int			nbuffered;		/* rows waiting in slots[0 .. nbuffered) */
	TupleTableSlot **slots;		/* INSERTER_BUFFER_ROWS, or 1 unbuffered */
} InsertTarget;

#define INSERTER_MAX_TARGETS 8

struct EventInserter
{
	EState	   *estate;
	bool		buffered;		/* multi-row inserts at flush (a batch) */
	int			ntargets;
	InsertTarget targets[INSERTER_MAX_TARGETS];
};

/*
 * Any invalidation of telemetry.events (or all relations) drops the
 * routing; one of a cached relation or of one of its indexes, its shape.
 * Only flags are cleared here: an invalidation can arrive at any lock
 * acquisition, under a caller using what it invalidates.
 */
static void
routing_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == routing.parent)
	{
		routing.valid = false;
		routing.stale = true;
	}
	for (int i = 0; i < SHAPE_CACHE_SIZE; i++)
	{
		TargetShape *sh = &shapes[i];
		bool		hit = relid == InvalidOid || relid == sh->relid;

		for (int j = 0; !hit && j < sh->nindexes; j++)
			hit = sh->indexoids[j] == relid;
		if (hit)
		{
			sh->valid = false;
			sh->stale = true;
		}
	}
}

/* Read the partitions of telemetry.events (locked by the caller). */
static void
routing_build(Oid parent)
{
	Relation	rel;
	PartitionKey key;
	PartitionDesc pd;
	PartitionBoundInfo bi;
	MemoryContext old;

	if (routing_cxt == NULL)
		routing_cxt = AllocSetContextCreate(CacheMemoryContext, "telemetry routing",
											ALLOCSET_SMALL_SIZES);
	MemoryContextReset(routing_cxt);
	memset(&routing, 0, sizeof(routing));
	routing.parent = parent;
	routing.late = get_relname_relid("late_events", get_rel_namespace(parent));

	rel = relation_open(parent, NoLock);
	key = RelationGetPartitionKey(rel);
	pd = RelationGetPartitionDesc(rel, true);
	bi = pd->boundinfo;
	routing.direct = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
		rel->trigdesc == NULL && key->strategy == PARTITION_STRATEGY_RANGE &&
		key->partnatts == 1 && key->parttypid[0] == TIMESTAMPTZOID &&
		key->partattrs[0] != 0 &&
		strcmp(NameStr(TupleDescAttr(RelationGetDescr(rel), key->partattrs[0] - 1)->attname),
			   "occurred_at") == 0 &&
		OidIsValid(routing.late);

	old = MemoryContextSwitchTo(routing_cxt);
	routing.oids = palloc(sizeof(Oid) * Max(pd->nparts, 1));
	for (int i = 0; i < pd->nparts; i++)
	{
		routing.oids[i] = pd->oids[i];
		if (!pd->is_leaf[i])
			routing.direct = false;
	}
	routing.default_part = InvalidOid;
	if (bi != NULL)
	{
		if (partition_bound_has_default(bi))
			routing.default_part = pd->oids[bi->default_index];
		routing.nbounds = bi->ndatums;
		routing.bounds = palloc(sizeof(TimestampTz) * Max(bi->ndatums, 1));
		routing.indexes = palloc(sizeof(int) * (bi->ndatums + 1));
		for (int i = 0; i < bi->ndatums; i++)
		{
			if (bi->kind[i][0] != PARTITION_RANGE_DATUM_VALUE)
				routing.direct = false; /* MINVALUE/MAXVALUE bounds */
			routing.bounds[i] = DatumGetTimestampTz(bi->datums[i][0]);
		}
		for (int i = 0; i <= bi->ndatums; i++)
			routing.indexes[i] = i < bi->nindexes ? bi->indexes[i] : -1;
	}
	MemoryContextSwitchTo(old);
	relation_close(rel, NoLock);
	/* an invalidation that arrived while we read: build again next time */
	routing.valid = !routing.stale;
}

/* The partition holding occurred_at (the default partition if none). */
static Oid
routing_find(TimestampTz occurred_at)
{
	int			lo = 0,
				hi = routing.nbounds - 1,
				found = -1;
	int			idx;

	/* the greatest bound <= occurred_at */
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (routing.bounds[mid] <= occurred_at)
		{
			found = mid;
			lo = mid + 1;
		}
		else
			hi = mid - 1;
	}
	idx = routing.nbounds > 0 ? routing.indexes[found + 1] : -1;
	return idx >= 0 ? routing.oids[idx] : routing.default_part;
}

/* Columns of rel matched to the event columns; false when they differ. */
static bool
map_columns(Relation rel, AttrNumber *attnums)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			matched = 0;

	for (int c = 0; c < EVENT_NCOLUMNS; c++)
		attnums[c] = InvalidAttrNumber;
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		int			c;

		if (att->attisdropped)
			continue;
		for (c = 0; c < EVENT_NCOLUMNS; c++)
			if (strcmp(NameStr(att->attname), event_columns[c]) == 0)
				break;
		if (c == EVENT_NCOLUMNS || attnums[c] != InvalidAttrNumber ||
			att->attgenerated)
			return false;
		attnums[c] = att->attnum;
		matched++;
	}
	return matched == EVENT_NCOLUMNS;
}

/*
 * Whether rows for telemetry.events (relid parent) can go the direct way:
 * routing cached and valid, and the table shaped as expected.  The parent
 * is locked first, as an INSERT would, which also processes invalidations.
 */
bool
event_insert_direct_ok(Oid parent)
{
	if (telemetry_insert_path != TELEMETRY_INSERT_AUTO || !OidIsValid(parent))
		return false;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(routing_inval_callback, (Datum) 0);
		callback_registered = true;
	}
	LockRelationOid(parent, RowExclusiveLock);
	if (!routing.valid || routing.parent != parent)
		routing_build(parent);
	return routing.direct;
}

/* Delete the contexts of shapes retired in an earlier transaction. */
static void
shapes_free_retired(void)
{
	ListCell   *lc;

	if (retired_cxts == NIL || retired_lxid == MyProc->lxid)
		return;
	foreach(lc, retired_cxts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(retired_cxts);
	retired_cxts = NIL;
}

/* Put a shape's memory aside (see retired_cxts) and free its slot. */
static void
shape_retire(TargetShape *sh)
{
	MemoryContext old;

	if (sh->cxt != NULL)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		retired_cxts = lappend(retired_cxts, sh->cxt);
		MemoryContextSwitchTo(old);
		retired_lxid = MyProc->lxid;
	}
	memset(sh, 0, sizeof(TargetShape));
}

/*
 * The shape of rel (locked by the caller, which also processed the
 * invalidations that came before the lock), built when missing or
 * invalidated.
 */
static TargetShape *
shape_get(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TargetShape *sh = NULL;
	List	   *indexes;
	ListCell   *lc;
	int			n = 0;

	for (int i = 0; i < SHAPE_CACHE_SIZE; i++)
		if (shapes[i].relid == relid)
		{
			if (shapes[i].valid)
				return &shapes[i];
			sh = &shapes[i];
			break;
		}
	if (sh == NULL)
	{
		for (int i = 0; i < SHAPE_CACHE_SIZE && sh == NULL; i++)
			if (!OidIsValid(shapes[i].relid))
				sh = &shapes[i];
		if (sh == NULL)
		{
			sh = &shapes[shape_next_victim];
			shape_next_victim = (shape_next_victim + 1) % SHAPE_CACHE_SIZE;
		}
	}
	shape_retire(sh);

	sh->cxt = AllocSetContextCreate(CacheMemoryContext, "telemetry insert target",
									ALLOCSET_SMALL_SIZES);
	sh->relid = relid;			/* from here on, invalidations set stale */
	sh->usable = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_rel->relam == HEAP_TABLE_AM_OID && map_columns(rel, sh->attnums);
	indexes = rel->rd_rel->relhasindex ? RelationGetIndexList(rel) : NIL;
	sh->indexoids = MemoryContextAlloc(sh->cxt, sizeof(Oid) * Max(list_length(indexes), 1));
	sh->indexinfo = MemoryContextAllocZero(sh->cxt, sizeof(IndexInfo *) * Max(list_length(indexes), 1));
	foreach(lc, indexes)
		sh->indexoids[n++] = lfirst_oid(lc);
	sh->nindexes = n;
	list_free(indexes);
	sh->valid = !sh->stale;
	return sh;
}

/*
 * The IndexInfo of a shape's index (opened by the caller), with its
 * expressions and predicate compiled: kept in the shape for a btree index,
 * else made in the current memory context.
 */
static IndexInfo *
shape_index_info(TargetShape *sh, int i, Relation index)
{
	MemoryContext old;
	IndexInfo  *ii;
	ListCell   *lc;
	List	   *states = NIL;

	if (sh->indexinfo[i] != NULL)
		return sh->indexinfo[i];
	if (index->rd_rel->relam != BTREE_AM_OID)
		return BuildIndexInfo(index);

	/* as ExecPrepareExprList and ExecPrepareQual would, in the shape */
	old = MemoryContextSwitchTo(sh->cxt);
	ii = BuildIndexInfo(index);
	foreach(lc, ii->ii_Expressions)
		states = lappend(states, ExecInitExpr(expression_planner((Expr *) lfirst(lc)), NULL));
	ii->ii_ExpressionsState = states;
	if (ii->ii_Predicate != NIL)
		ii->ii_PredicateState = ExecInitQual((List *) expression_planner((Expr *) ii->ii_Predicate), NULL);
	MemoryContextSwitchTo(old);
	sh->indexinfo[i] = ii;
	return ii;
}

/* Open (once per inserter) a relation to insert into; NULL if unsuitable. */
static InsertTarget *
inserter_target(EventInserter *ins, Oid relid)
{
	InsertTarget *t;
	Relation	rel;
	TargetShape *sh;
	ResultRelInfo *rri;

	for (int i = 0; i < ins->ntargets; i++)
		if (ins->targets[i].relid == relid)
			return &ins->targets[i];
	if (ins->ntargets == INSERTER_MAX_TARGETS)
		return NULL;

	rel = table_open(relid, RowExclusiveLock);
	t = &ins->targets[ins->ntargets];
	sh = shape_get(rel);
	if (!sh->usable || rel->trigdesc != NULL)
	{
		table_close(rel, NoLock);
		return NULL;
	}
	memcpy(t->attnums, sh->attnums, sizeof(t->attnums));
	t->relid = relid;
	t->rel = rel;
	t->rri = rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);

	/* ExecOpenIndices, with the shape's index list and IndexInfos */
	rri->ri_NumIndices = sh->nindexes;
	rri->ri_IndexRelationDescs = palloc0(sizeof(Relation) * Max(sh->nindexes, 1));
	rri->ri_IndexRelationInfo = palloc0(sizeof(IndexInfo *) * Max(sh->nindexes, 1));
	for (int i = 0; i < sh->nindexes; i++)
	{
		Relation	index = index_open(sh->indexoids[i], RowExclusiveLock);

		rri->ri_IndexRelationDescs[i] = index;
		rri->ri_IndexRelationInfo[i] = shape_index_info(sh, i, index);
	}
	t->nslots = 0;
	t->nbuffered = 0;
	t->slots = palloc(sizeof(TupleTableSlot *) * (ins->buffered ? INSERTER_BUFFER_ROWS : 1));
	ins->ntargets++;
	return t;
}

/*
 * Start inserting rows: one call of telemetry_track, or, buffered, one
 * batch whose rows are written with multi-row inserts.
 */
EventInserter *
event_inserter_begin(bool buffered)
{
	EventInserter *ins = palloc0(sizeof(EventInserter));

	shapes_free_retired();
	ins->estate = CreateExecutorState();
	ins->buffered = buffered;
	return ins;
}

/* The index entries of a row just stored from slot. */
static void
insert_index_entries(EventInserter *ins, InsertTarget *t, TupleTableSlot *slot)
{
	if (t->rri->ri_NumIndices == 0)
		return;
	ResetPerTupleExprContext(ins->estate);
#if PG_VERSION_NUM >= 160000
	(void) ExecInsertIndexTuples(t->rri, slot, ins->estate, false, false, NULL, NIL, false);
#else
	(void) ExecInsertIndexTuples(t->rri, slot, ins->estate, false, false, NULL, NIL);
#endif
}

/* Write a target's buffered rows with one multi-row insert. */
static void
flush_target(EventInserter *ins, InsertTarget *t)
{
	if (t->nbuffered == 0)
		return;
	table_multi_insert(t->rel, t->slots, t->nbuffered, GetCurrentCommandId(true), 0, NULL);
	for (int i = 0; i < t->nbuffered; i++)
		insert_index_entries(ins, t, t->slots[i]);
	t->nbuffered = 0;
}

/* Store one row into one relation (or its buffer), with its index entries. */
static void
insert_into(EventInserter *ins, InsertTarget *t, const EventRow *row)
{
	TupleTableSlot *slot;

	if (ins->buffered && t->nbuffered == INSERTER_BUFFER_ROWS)
		flush_target(ins, t);
	if (t->nbuffered == t->nslots)
		t->slots[t->nslots++] = MakeSingleTupleTableSlot(RelationGetDescr(t->rel), &TTSOpsVirtual);
	slot = t->slots[t->nbuffered];

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (int c = 0; c < EVENT_NCOLUMNS; c++)
	{
		slot->tts_values[t->attnums[c] - 1] = row->values[c];
		slot->tts_isnull[t->attnums[c] - 1] = false;
	}
	ExecStoreVirtualTuple(slot);
	if (ins->buffered)
	{
		/* the caller's datums may go before the flush */
		ExecMaterializeSlot(slot);
		t->nbuffered++;
		return;
	}
	table_tuple_insert(t->rel, slot, GetCurrentCommandId(true), 0, NULL);
	insert_index_entries(ins, t, slot);
}

/*
 * Insert an event row into its partition (and, when late, its copy into
 * telemetry.late_events).  Returns false, having inserted nothing, when a
 * relation is not shaped for the direct path; the caller then uses the
 * executor.  event_insert_direct_ok() must have returned true in this
 * transaction.
 */
bool
event_inserter_put(EventInserter *ins, const EventRow *row, bool late)
{
	TimestampTz occurred_at = DatumGetTimestampTz(row->values[EVENT_COL_OCCURRED_AT]);
	InsertTarget *part;
	InsertTarget *copy = NULL;
	Oid			relid;

	for (;;)
	{
		relid = routing_find(occurred_at);
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("no partition of relation \"events\" found for the event"),
					 errdetail("The default partition telemetry.events_default is missing.")));
		/*
		 * Lock the partition before using the routing: a partition being
		 * made (it holds the default partition exclusively) or dropped is
		 * then either done, and its invalidation seen, or waits for us.
		 */
		LockRelationOid(relid, RowExclusiveLock);
		if (routing.valid)
			break;
		routing_build(routing.parent);
		if (!routing.direct)
			return false;
	}
	part = inserter_target(ins, relid);
	if (part == NULL)
		return false;
	if (late)
	{
		copy = inserter_target(ins, routing.late);
		if (copy == NULL)
			return false;
	}
	insert_into(ins, part, row);
	if (copy)
		insert_into(ins, copy, row);
	return true;
}

/*
 * Write what is buffered and close what the inserter opened (locks stay
 * until the transaction ends).
 */
void
event_inserter_end(EventInserter *ins)
{
	for (int i = 0; i < ins->ntargets; i++)
		flush_target(ins, &ins->targets[i]);
	for (int i = 0; i < ins->ntargets; i++)
	{
		InsertTarget *t = &ins->targets[i];

		for (int j = 0; j < t->nslots; j++)
			ExecDropSingleTupleTableSlot(t->slots[j]);
		ExecCloseIndices(t->rri);
		table_close(t->rel, NoLock);
	}
	FreeExecutorState(ins->estate);
	pfree(ins);
}
