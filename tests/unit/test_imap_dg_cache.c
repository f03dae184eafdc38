/*
 * test_imap_dg_cache.c — the downgrade size differences STATUS (SIZE)
 * keeps (imap_dg_cache.h): what was put is found, per store, account and
 * email id; nothing else is found; an entry taking a slot replaces the
 * one there, which is then missed, never answered wrong; a difference
 * past 32 bits is not kept; clear drops everything.
 */
#include <stdint.h>

#include "imap/imap_dg_cache.h"
#include "unit.h"

static void test_cache(void)
{
	struct store *st = (struct store *)&st, *other = (struct store *)&other;
	int64_t d = 0;

	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 10, &d), 0); /* nothing allocated yet */
	imap_dg_cache_put(st, 1, 10, 29);
	imap_dg_cache_put(st, 1, 11, -3);
	imap_dg_cache_put(st, 2, 10, 0);
	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 10, &d), 1);
	CHECK(d == 29);
	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 11, &d), 1);
	CHECK(d == -3);
	CHECK_EQ_INT(imap_dg_cache_get(st, 2, 10, &d), 1);
	CHECK(d == 0);
	CHECK_EQ_INT(imap_dg_cache_get(other, 1, 10, &d), 0);
	CHECK_EQ_INT(imap_dg_cache_get(st, 3, 10, &d), 0);
	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 12, &d), 0);

	/* More entries than slots: each id is found with its own value or
	 * not at all, and the last ones put are all there. */
	uint32_t n = IMAP_DG_CACHE_SLOTS * 2;
	for (uint32_t i = 0; i < n; i++)
		imap_dg_cache_put(st, 7, 1000 + i, i % 1000);
	uint32_t found = 0, wrong = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (imap_dg_cache_get(st, 7, 1000 + i, &d)) {
			found++;
			wrong += d != (int64_t)(i % 1000);
		}
	}
	CHECK_EQ_INT(wrong, 0);
	CHECK(found > 0 && found <= IMAP_DG_CACHE_SLOTS);
	CHECK_EQ_INT(imap_dg_cache_get(st, 7, 1000 + n - 1, &d), 1);

	imap_dg_cache_put(st, 8, 1, (int64_t)INT32_MAX + 1);
	CHECK_EQ_INT(imap_dg_cache_get(st, 8, 1, &d), 0);
	imap_dg_cache_put(NULL, 8, 2, 5);
	CHECK_EQ_INT(imap_dg_cache_get(NULL, 8, 2, &d), 0);

	imap_dg_cache_clear();
	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 10, &d), 0);
	imap_dg_cache_put(st, 1, 10, 4);
	CHECK_EQ_INT(imap_dg_cache_get(st, 1, 10, &d), 1);
	CHECK(d == 4);
	imap_dg_cache_clear();
}

int main(void)
{
	test_cache();
	return unit_done("test_imap_dg_cache");
}
