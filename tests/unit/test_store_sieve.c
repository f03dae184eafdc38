/*
 * test_store_sieve.c — Sieve scripts in the store (store_sieve.c): put,
 * get, list, activate (one at a time), delete (not the active one),
 * rename, the name rules of RFC 5804 §1.6, the count and byte limits, the
 * memory of vacation replies with its expiry, and the account's deletion
 * taking its scripts.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

struct listing {
	char names[40][STORE_SIEVE_NAME_MAX + 1];
	int active[40];
	size_t size[40];
	int n;
};

static void list_cb(void *arg, const char *name, int active, size_t size)
{
	struct listing *l = arg;
	if (l->n < 40) {
		strcpy(l->names[l->n], name);
		l->active[l->n] = active;
		l->size[l->n++] = size;
	}
}

int main(void)
{
	char dir[256], err[256], nm[STORE_SIEVE_NAME_MAX + 1];
	uint32_t acc = 0;
	struct buf b;
	int active = -1;
	struct listing l;

	if (unit_env_begin(dir, sizeof dir, "store-sieve") < 0)
		return 1;
	struct store *st = unit_store_with_account(dir, 0, "u@example.com", &acc);
	if (!st)
		return 1;
	buf_init(&b, 1 << 20);

	CHECK_EQ_INT(store_sieve_put(st, acc, "main", "keep;", 5, 100), STORE_OK);
	CHECK_EQ_INT(store_sieve_put(st, acc, "vac", "discard;", 8, 100), STORE_OK);
	CHECK_EQ_INT(store_sieve_put(st, acc + 99, "x", "keep;", 5, 100), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_sieve_get(st, acc, "main", &b, &active), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "keep;");
	CHECK_EQ_INT(active, 0);
	CHECK_EQ_INT(store_sieve_active(st, acc, NULL, nm), STORE_ENOTFOUND);

	/* One active at a time; replacing keeps it active. */
	CHECK_EQ_INT(store_sieve_activate(st, acc, "main"), STORE_OK);
	CHECK_EQ_INT(store_sieve_activate(st, acc, "vac"), STORE_OK);
	CHECK_EQ_INT(store_sieve_activate(st, acc, "nope"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_sieve_put(st, acc, "vac", "stop;", 5, 200), STORE_OK);
	buf_reset(&b);
	CHECK_EQ_INT(store_sieve_active(st, acc, &b, nm), STORE_OK);
	CHECK_EQ_STR(nm, "vac");
	CHECK_EQ_SLICE(buf_str(&b), "stop;");
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 2);
	CHECK_EQ_STR(l.names[0], "main");
	CHECK_EQ_INT(l.active[0] + 2 * l.active[1], 2);
	CHECK_EQ_INT(l.size[1], 5);

	/* Delete: not the active one. Rename: not onto another. */
	CHECK_EQ_INT(store_sieve_del(st, acc, "vac"), STORE_EACTIVE);
	CHECK_EQ_INT(store_sieve_rename(st, acc, "vac", "main"), STORE_EEXIST);
	CHECK_EQ_INT(store_sieve_rename(st, acc, "vac", "away"), STORE_OK);
	CHECK_EQ_INT(store_sieve_active(st, acc, NULL, nm), STORE_OK);
	CHECK_EQ_STR(nm, "away");
	CHECK_EQ_INT(store_sieve_rename(st, acc, "vac", "x"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_sieve_activate(st, acc, ""), STORE_OK);
	CHECK_EQ_INT(store_sieve_active(st, acc, NULL, nm), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_sieve_del(st, acc, "away"), STORE_OK);
	CHECK_EQ_INT(store_sieve_get(st, acc, "away", NULL, NULL), STORE_ENOTFOUND);

	/* Names. */
	CHECK_EQ_INT(store_sieve_put(st, acc, "", "k", 1, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, "a\tb", "k", 1, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, "a\xe2\x80\xa8", "k", 1, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, "\xff", "k", 1, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, "caf\xc3\xa9 rules", "k", 1, 1), STORE_OK);
	char longname[STORE_SIEVE_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_EQ_INT(store_sieve_put(st, acc, longname, "k", 1, 1), STORE_EINVAL);

	/* Limits: bytes alone, bytes together, count. */
	char *big = calloc(1, STORE_SIEVE_BYTES_MAX + 1);
	memset(big, '#', STORE_SIEVE_BYTES_MAX);
	CHECK_EQ_INT(store_sieve_room(st, acc, "big", STORE_SIEVE_BYTES_MAX + 1), STORE_ETOOBIG);
	CHECK_EQ_INT(store_sieve_put(st, acc, "big", big, STORE_SIEVE_BYTES_MAX + 1, 1), STORE_ETOOBIG);
	/* "main" (5 octets) and "café rules" (1) are there too. */
	CHECK_EQ_INT(store_sieve_put(st, acc, "big", big, STORE_SIEVE_BYTES_MAX - 6, 1), STORE_OK);
	CHECK_EQ_INT(store_sieve_put(st, acc, "big", big, STORE_SIEVE_BYTES_MAX - 5, 1), STORE_ELIMIT);
	CHECK_EQ_INT(store_sieve_room(st, acc, "big", STORE_SIEVE_BYTES_MAX - 6), STORE_OK);
	CHECK_EQ_INT(store_sieve_put(st, acc, "more", "keep;", 5, 1), STORE_ELIMIT);
	CHECK_EQ_INT(store_sieve_del(st, acc, "big"), STORE_OK);
	free(big);
	int last = STORE_OK;
	for (int i = 0; i < STORE_SIEVE_SCRIPTS_MAX + 1; i++) {
		char n[16];
		snprintf(n, sizeof n, "s%02d", i);
		last = store_sieve_put(st, acc, n, "keep;", 5, 1);
	}
	CHECK_EQ_INT(last, STORE_ELIMIT);
	CHECK_EQ_INT(store_sieve_room(st, acc, "s00", 10), STORE_OK);
	CHECK_EQ_INT(store_sieve_room(st, acc, "new", 10), STORE_ELIMIT);

	/* Sieve's memory. */
	uint8_t key[32] = {1, 2, 3};
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 0);
	CHECK_EQ_INT(store_sieve_seen_put(st, acc, key, 2000), STORE_OK);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 1);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 2000), 0);
	CHECK_EQ_INT(store_sieve_seen_sweep(st, 2500), STORE_OK);
	CHECK_EQ_INT(store_sieve_seen_put(st, acc, key, 9000), STORE_OK);

	/* Deleting the account takes its scripts and memory. */
	CHECK_EQ_INT(store_account_del(st, "u@example.com", err, sizeof err), STORE_OK);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 0);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 0);

	buf_free(&b);
	store_close(&st);
	unit_rmrf(dir);
	return unit_done("test_store_sieve");
}
