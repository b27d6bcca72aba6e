/*
 * uuid7.c
 *		Time-ordered UUIDs (RFC 9562 version 7) for event ids.
 *
 * 48 bits of Unix milliseconds, then 74 random bits.  Within one backend
 * and millisecond, rand_a (12 bits) is a counter seeded at random, so ids
 * of one session stay in order even when several come in one millisecond.
 */
#include "telemetry.h"

#include "miscadmin.h"
#include "utils/uuid.h"

static int64 last_ms = -1;
static uint16 seq = 0;

/*
 * The random bits come from pg_strong_random, drawn in blocks: one call
 * costs more than the whole heap insert of an event (OpenSSL's per-call
 * work), so a block serves about a hundred ids.  The block belongs to the
 * process that drew it (MyProcPid): a process started by fork never uses
 * its parent's bytes.
 */
#define RANDOM_BLOCK_BYTES 1024

static uint8 random_block[RANDOM_BLOCK_BYTES];
static int	random_used = RANDOM_BLOCK_BYTES;
static int	random_pid = 0;

/* Copy n (<= RANDOM_BLOCK_BYTES) strong random bytes to out. */
static void
take_random(uint8 *out, int n)
{
	if (random_pid != MyProcPid || random_used + n > RANDOM_BLOCK_BYTES)
	{
		if (!pg_strong_random(random_block, RANDOM_BLOCK_BYTES))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random values for an event id")));
		random_used = 0;
		random_pid = MyProcPid;
	}
	memcpy(out, random_block + random_used, n);
	/* each byte is handed out once */
	memset(random_block + random_used, 0, n);
	random_used += n;
}

/* A new version 7 UUID for time now. */
pg_uuid_t *
telemetry_uuid7(TimestampTz now)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));
	int64		ms;
	uint8		rnd[10];

	/* TimestampTz is microseconds since 2000-01-01; UUIDv7 wants Unix ms */
	ms = now / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	take_random(rnd, sizeof(rnd));

	if (ms == last_ms && seq < 0xFFF)
		seq++;
	else if (ms <= last_ms)
	{
		/* clock went back or the counter is spent: stay on the last ms */
		ms = last_ms;
		seq = (seq + 1) & 0xFFF;
	}
	else
		seq = ((rnd[0] << 8) | rnd[1]) & 0x7FF;	/* top bit left as headroom */
	last_ms = ms;

	u->data[0] = (ms >> 40) & 0xFF;
	u->data[1] = (ms >> 32) & 0xFF;
	u->data[2] = (ms >> 24) & 0xFF;
	u->data[3] = (ms >> 16) & 0xFF;
	u->data[4] = (ms >> 8) & 0xFF;
	u->data[5] = ms & 0xFF;
	u->data[6] = 0x70 | ((seq >> 8) & 0x0F);
	u->data[7] = seq & 0xFF;
	u->data[8] = 0x80 | (rnd[2] & 0x3F);
	memcpy(&u->data[9], &rnd[3], 7);
	return u;
}
