/*
 * test_store_sieve.c — Sieve scripts in the store (store_sieve.c): put,
 * get, list, activate (one at a time), delete (not the active one),
 * rename, the name rules of RFC 5804 §1.6 (128 characters, up to 512
 * octets), the count and byte limits, the memory of vacation replies with
 * its expiry (also written by a delivery in its own commit, and not by a
 * refused one), the account's deletion taking its scripts, and schema
 * 13's scripts (keyed by name) moved to schema 14's keys with their ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "store/store.h"
#include "store/store_private.h"
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

/* The meta key of a script's JMAP id (store_sieve.c): the name's hash. */
static void id_meta_key(char out[64], uint32_t acc, const char *name)
{
	uint8_t h[16];
	int o = snprintf(out, 64, "sieve-id/%08x/", acc);
	crypto_generichash(h, sizeof h, (const uint8_t *)name, strlen(name), NULL, 0);
	for (int i = 0; i < 16; i++)
		o += snprintf(out + o, (size_t)(64 - o), "%02x", h[i]);
}

/* n copies of the UTF-8 character c into out (NUL-terminated). */
static char *repeat(char *out, const char *c, int n)
{
	size_t l = strlen(c);
	for (int i = 0; i < n; i++)
		memcpy(out + i * l, c, l);
	out[n * l] = '\0';
	return out;
}

/* A small message to acc with the memory entries e, as port 25 sends it. */
static int deliver_with_seen(struct store *st, uint32_t acc, const struct store_seen *e, size_t n)
{
	static const char m[] = "Subject: hi\r\n\r\nbody\r\n";
	struct store_delivery d;
	memset(&d, 0, sizeof d);
	d.data = m;
	d.len = sizeof m - 1;
	store_blob_id(d.data, d.len, d.blob_id);
	d.accounts = &acc;
	d.naccounts = 1;
	d.received_at = 1000;
	d.quota_check = 1;
	d.seen = e;
	d.nseen = n;
	return store_deliver_sync(st, &d);
}

/* Schema 13's layout: key (account, name), value version 1, active,
 * updated_at, text; the id under "sieve-id/<account>/<name>". */
struct old13 {
	uint32_t acc;
	const char *name, *text;
	int active;
	uint32_t id; /* 0: none recorded */
};

static int write13(struct store *st, MDB_txn *txn, void *arg)
{
	const struct old13 *o = arg;
	for (; o->name; o++) {
		uint8_t kb[4 + 128], vb[64];
		size_t n = strlen(o->name), t = strlen(o->text);
		be32_put(kb, o->acc);
		memcpy(kb + 4, o->name, n);
		vb[0] = 1;
		vb[1] = (uint8_t)o->active;
		be64_put(vb + 2, 1234);
		memcpy(vb + 10, o->text, t);
		MDB_val k = {4 + n, kb}, v = {10 + t, vb};
		int rc = mdb_put(txn, st->db[DB_SIEVE], &k, &v, 0);
		if (rc)
			return rc;
		if (o->id) {
			char mk[64 + 128];
			snprintf(mk, sizeof mk, "sieve-id/%08x/%s", o->acc, o->name);
			if ((rc = meta_put_u32(txn, st, mk, o->id)) != 0)
				return rc;
		}
	}
	return 0;
}

/* A record of account arg that schema 13 could not have written (version 9). */
static int write13_damaged(struct store *st, MDB_txn *txn, void *arg)
{
	uint8_t kb[4 + 3], vb[12] = {9};
	be32_put(kb, *(uint32_t *)arg);
	memcpy(kb + 4, "bad", 3);
	MDB_val k = {sizeof kb, kb}, v = {sizeof vb, vb};
	return mdb_put(txn, st->db[DB_SIEVE], &k, &v, 0);
}

/* A store of schema 13 opens as 14 with every script, text, active flag
 * and id as they were; a damaged record of another account stays where it
 * was and does not keep the store from opening. */
static void migrated(void)
{
	char dir[256], err[256], nm[STORE_SIEVE_NAME_MAX + 1], n128[129];
	uint32_t acc = 0;
	struct listing l;
	struct buf b;

	if (unit_env_begin(dir, sizeof dir, "store-sieve-13") < 0)
		return;
	struct store *st = unit_store_with_account(dir, 0, "m@example.com", &acc);
	if (!st)
		return;
	repeat(n128, "n", 128);
	struct old13 old[] = {
	    {acc, "rules", "keep;", 1, 7},
	    {acc, n128, "discard;", 0, 9},
	    {acc, "caf\xc3\xa9", "stop;", 0, 0},
	    {STORE_SIEVE_GLOBAL, "global", "keep;", 1, 3},
	    {0, NULL, NULL, 0, 0},
	};
	uint32_t other = acc + 1;
	CHECK_EQ_INT(store_write(st, write13, old), STORE_OK);
	CHECK_EQ_INT(store_write(st, write13_damaged, &other), STORE_OK);
	CHECK_EQ_INT(store_test_set_schema(st, 13), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return;
	buf_init(&b, 1 << 20);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 3);
	CHECK_EQ_STR(l.names[0], "caf\xc3\xa9");
	CHECK_EQ_STR(l.names[1], n128);
	CHECK_EQ_STR(l.names[2], "rules");
	CHECK_EQ_INT(l.size[1], 8);
	CHECK_EQ_INT(store_sieve_active(st, acc, &b, nm), STORE_OK);
	CHECK_EQ_STR(nm, "rules");
	CHECK_EQ_SLICE(buf_str(&b), "keep;");
	buf_reset(&b);
	CHECK_EQ_INT(store_sieve_get(st, acc, n128, &b, NULL), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "discard;");
	CHECK_EQ_INT(store_sieve_active(st, STORE_SIEVE_GLOBAL, NULL, nm), STORE_OK);
	CHECK_EQ_STR(nm, "global");
	{
		struct store_sieve_info *v = calloc(STORE_SIEVE_SCRIPTS_MAX, sizeof *v);
		size_t n = 0;
		uint32_t state = 0;
		CHECK_EQ_INT(store_sieve_index(st, acc, v, &n, &state), STORE_OK);
		CHECK_EQ_INT((int)n, 3);
		CHECK_EQ_STR(v[1].name, n128);
		CHECK_EQ_INT((int)v[1].id, 9);
		CHECK_EQ_INT((int)v[2].id, 7);
		CHECK(v[0].id != 0 && v[0].id != 7 && v[0].id != 9); /* had none: one now */
		free(v);
		char mk[64 + 128], val[16];
		size_t len;
		snprintf(mk, sizeof mk, "sieve-id/%08x/rules", acc);
		CHECK_EQ_INT(store_meta_get(st, mk, val, sizeof val, &len), STORE_ENOTFOUND);
	}
	/* and it is written as any other script now */
	CHECK_EQ_INT(store_sieve_rename(st, acc, "rules", "r2"), STORE_OK);
	CHECK_EQ_INT(store_sieve_active(st, acc, NULL, nm), STORE_OK);
	CHECK_EQ_STR(nm, "r2");
	buf_free(&b);
	store_close(&st);
	unit_rmrf(dir);
}

/* A script record under name as store_sieve.c lays it out (schema 14:
 * key u32 account + BLAKE2b-128 of the name; value version 2, active,
 * updated_at, u16 name length, name, text), whatever form name is in, as
 * a store from before names were NFC may hold it. */
struct raw_script {
	uint32_t acc;
	const char *name, *text;
};

static int write_raw(struct store *st, MDB_txn *txn, void *arg)
{
	struct raw_script *r = arg;
	uint8_t kb[20], vb[512];
	size_t n = strlen(r->name), t = strlen(r->text);
	be32_put(kb, r->acc);
	crypto_generichash(kb + 4, 16, (const uint8_t *)r->name, n, NULL, 0);
	memset(vb, 0, 12);
	vb[0] = 2;
	vb[10] = (uint8_t)(n >> 8);
	vb[11] = (uint8_t)n;
	memcpy(vb + 12, r->name, n);
	memcpy(vb + 12 + n, r->text, t);
	MDB_val k = {sizeof kb, kb}, v = {12 + n + t, vb};
	return mdb_put(txn, st->db[DB_SIEVE], &k, &v, 0);
}

#define E_NFD "e\xcc\x81"
#define E_NFC "\xc3\xa9"

/* Script names are NFC (RFC 5804 §1.6, Net-Unicode): either spelling of
 * "é" names one script; one stored decomposed before is still found,
 * replaced in place, renamed to NFC. */
static void nfc_names(struct store *st, uint32_t acc)
{
	struct buf b;
	struct listing l;
	int active;
	buf_init(&b, 4096);
	CHECK_EQ_INT(store_sieve_put(st, acc, "caf" E_NFD, "keep;", 5, 100), STORE_OK);
	CHECK_EQ_INT(store_sieve_get(st, acc, "caf" E_NFC, &b, &active), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "keep;");
	CHECK_EQ_INT(store_sieve_put(st, acc, "caf" E_NFC, "stop;", 5, 100), STORE_OK);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_STR(l.names[0], "caf" E_NFC);
	CHECK_EQ_INT(store_sieve_activate(st, acc, "caf" E_NFD), STORE_OK);
	CHECK_EQ_INT(store_sieve_activate(st, acc, NULL), STORE_OK);
	CHECK_EQ_INT(store_sieve_rename(st, acc, "caf" E_NFD, "th" E_NFD), STORE_OK);
	CHECK_EQ_INT(store_sieve_del(st, acc, "th" E_NFC), STORE_OK);

	/* stored decomposed by an older tern */
	struct raw_script r = {acc, "old" E_NFD, "keep;"};
	CHECK_EQ_INT(store_write(st, write_raw, &r), 0);
	buf_reset(&b);
	CHECK_EQ_INT(store_sieve_get(st, acc, "old" E_NFC, &b, &active), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "keep;");
	CHECK_EQ_INT(store_sieve_put(st, acc, "old" E_NFC, "discard;", 8, 100), STORE_OK);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_STR(l.names[0], "old" E_NFD);
	CHECK_EQ_INT(store_sieve_put(st, acc, "other", "keep;", 5, 100), STORE_OK);
	CHECK_EQ_INT(store_sieve_rename(st, acc, "other", "old" E_NFC), STORE_EEXIST);
	CHECK_EQ_INT(store_sieve_rename(st, acc, "old" E_NFC, "old" E_NFC), STORE_OK);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 2);
	CHECK(!strcmp(l.names[0], "old" E_NFC) || !strcmp(l.names[1], "old" E_NFC));
	buf_reset(&b);
	CHECK_EQ_INT(store_sieve_get(st, acc, "old" E_NFD, &b, &active), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "discard;");
	CHECK_EQ_INT(store_sieve_del(st, acc, "old" E_NFD), STORE_OK);
	CHECK_EQ_INT(store_sieve_del(st, acc, "other"), STORE_OK);
	buf_free(&b);
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

	nfc_names(st, acc);
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
	/* 128 characters (RFC 5804 §1.6), however many octets: 128 "é" (256
	 * octets) and 128 U+1F600 (512, the most a name can have); not 129. */
	char longname[STORE_SIEVE_NAME_MAX + 8], ln2[STORE_SIEVE_NAME_MAX + 8];
	CHECK_EQ_INT(store_sieve_put(st, acc, repeat(longname, "n", 129), "k", 1, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, repeat(longname, "\xc3\xa9", 129), "k", 1, 1),
	             STORE_EINVAL);
	CHECK_EQ_INT(store_sieve_put(st, acc, repeat(ln2, "\xf0\x9f\x98\x80", 128), "k2", 2, 1),
	             STORE_OK);
	CHECK_EQ_INT(store_sieve_put(st, acc, repeat(longname, "\xc3\xa9", 128), "k", 1, 1),
	             STORE_OK);
	CHECK_EQ_INT(store_sieve_activate(st, acc, longname), STORE_OK);
	CHECK_EQ_INT(store_sieve_active(st, acc, NULL, nm), STORE_OK);
	CHECK_EQ_STR(nm, longname);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	/* in name order whatever the keys' order: café, main, é..., U+1F600... */
	CHECK_EQ_INT(l.n, 4);
	CHECK_EQ_STR(l.names[0], "caf\xc3\xa9 rules");
	CHECK_EQ_STR(l.names[1], "main");
	CHECK_EQ_STR(l.names[2], longname);
	CHECK_EQ_STR(l.names[3], ln2);
	CHECK_EQ_INT(l.active[2], 1);
	CHECK_EQ_INT(store_sieve_rename(st, acc, ln2, longname), STORE_EEXIST);
	CHECK_EQ_INT(store_sieve_del(st, acc, longname), STORE_EACTIVE);
	CHECK_EQ_INT(store_sieve_activate(st, acc, NULL), STORE_OK);
	CHECK_EQ_INT(store_sieve_del(st, acc, longname), STORE_OK);
	CHECK_EQ_INT(store_sieve_rename(st, acc, ln2, longname), STORE_OK);
	buf_reset(&b);
	CHECK_EQ_INT(store_sieve_get(st, acc, longname, &b, NULL), STORE_OK);
	CHECK_EQ_SLICE(buf_str(&b), "k2");
	CHECK_EQ_INT(store_sieve_get(st, acc, ln2, NULL, NULL), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_sieve_del(st, acc, longname), STORE_OK);

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

	/* JMAP's view (RFC 9661): ids survive a rename, are never given
	 * again, and every write moves the state; a script without an id
	 * (stored before ids existed) gets one when listed. */
	{
		struct store_sieve_info *v = calloc(STORE_SIEVE_SCRIPTS_MAX, sizeof *v);
		size_t n = 0;
		uint32_t st0 = 0, st1 = 0, id00 = 0, id01 = 0;
		CHECK(v != NULL);
		CHECK_EQ_INT(store_sieve_index(st, acc, v, &n, &st0), STORE_OK);
		CHECK_EQ_INT((int)n, STORE_SIEVE_SCRIPTS_MAX);
		for (size_t i = 0; i < n; i++) {
			CHECK(v[i].id != 0);
			if (!strcmp(v[i].name, "s00"))
				id00 = v[i].id;
			if (!strcmp(v[i].name, "s01"))
				id01 = v[i].id;
		}
		CHECK(id00 && id01 && id00 != id01);
		CHECK_EQ_INT(store_sieve_rename(st, acc, "s00", "renamed"), STORE_OK);
		CHECK_EQ_INT(store_sieve_index(st, acc, v, &n, &st1), STORE_OK);
		CHECK(st1 != st0);
		int kept = 0;
		for (size_t i = 0; i < n; i++)
			kept |= !strcmp(v[i].name, "renamed") && v[i].id == id00;
		CHECK(kept);
		/* No id recorded (as before ids existed): one is given, new. */
		char mk[64];
		id_meta_key(mk, acc, "s01");
		CHECK_EQ_INT(store_meta_del(st, mk), STORE_OK);
		CHECK_EQ_INT(store_sieve_index(st, acc, v, &n, &st1), STORE_OK);
		uint32_t again = 0;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].name, "s01"))
				again = v[i].id;
		CHECK(again != 0 && again != id01 && again != id00);
		/* A deleted script's id is not given to the next one. */
		CHECK_EQ_INT(store_sieve_del(st, acc, "renamed"), STORE_OK);
		CHECK_EQ_INT(store_sieve_put(st, acc, "fresh", "keep;", 5, 1), STORE_OK);
		CHECK_EQ_INT(store_sieve_index(st, acc, v, &n, &st1), STORE_OK);
		for (size_t i = 0; i < n; i++)
			CHECK(v[i].id != id00 && v[i].id != id01);
		free(v);
	}

	/* Sieve's memory. */
	uint8_t key[32] = {1, 2, 3};
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 0);
	CHECK_EQ_INT(store_sieve_seen_put(st, acc, key, 2000), STORE_OK);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 1);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 2000), 0);
	CHECK_EQ_INT(store_sieve_seen_sweep(st, 2500), STORE_OK);
	CHECK_EQ_INT(store_sieve_seen_put(st, acc, key, 9000), STORE_OK);

	/* Memory a delivery carries (store_delivery.seen) is recorded in the
	 * message's commit; a delivery refused (the quota) records none. */
	{
		struct store_seen e[2] = {{acc, {7, 7}, 5000}, {acc, {8, 8}, 6000}};
		CHECK_EQ_INT(deliver_with_seen(st, acc, e, 2), STORE_OK);
		CHECK_EQ_INT(store_sieve_seen(st, acc, e[0].key, 1000), 1);
		CHECK_EQ_INT(store_sieve_seen(st, acc, e[1].key, 5500), 1);
		CHECK_EQ_INT(store_sieve_seen(st, acc, e[0].key, 5500), 0); /* its own expiry */
		CHECK_EQ_INT(store_account_set_quota(st, "u@example.com", 1, err, sizeof err), 0);
		struct store_seen f = {acc, {9, 9}, 5000};
		CHECK(deliver_with_seen(st, acc, &f, 1) != STORE_OK);
		CHECK_EQ_INT(store_sieve_seen(st, acc, f.key, 1000), 0);
		CHECK_EQ_INT(store_account_set_quota(st, "u@example.com", 0, err, sizeof err), 0);
	}

	/* Deleting the account takes its scripts and memory. */
	CHECK_EQ_INT(store_account_del(st, "u@example.com", err, sizeof err), STORE_OK);
	memset(&l, 0, sizeof l);
	CHECK_EQ_INT(store_sieve_list(st, acc, list_cb, &l), STORE_OK);
	CHECK_EQ_INT(l.n, 0);
	CHECK_EQ_INT(store_sieve_seen(st, acc, key, 1000), 0);
	{
		char mk[64], val[16];
		size_t len;
		snprintf(mk, sizeof mk, "sieve-next/%08x", acc);
		CHECK_EQ_INT(store_meta_get(st, mk, val, sizeof val, &len), STORE_ENOTFOUND);
		id_meta_key(mk, acc, "fresh");
		CHECK_EQ_INT(store_meta_get(st, mk, val, sizeof val, &len), STORE_ENOTFOUND);
	}

	buf_free(&b);
	store_close(&st);
	unit_rmrf(dir);
	migrated();
	return unit_done("test_store_sieve");
}
