/*
 * test_admin_token.c — API token records (admin_meta.h): scope and expiry
 * round-trip through add, list and check; an expired token is refused; a
 * record written before scopes existed (the name right after the hash)
 * still reads as an admin token that never expires.
 */
#include <sodium.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "unit_env.h"

struct seen {
	int n;
	struct admin_token_info last;
	char name[80];
};

static void count_cb(void *arg, const struct admin_token_info *t)
{
	struct seen *s = arg;
	s->n++;
	s->last = *t;
	snprintf(s->name, sizeof s->name, "%s", t->name);
}

static void test_tokens(struct store *st)
{
	char tok[ADMIN_TOKEN_MAX], id[16], got[16];
	enum admin_token_scope sc = ADMIN_TOKEN_ADMIN;
	int64_t now = (int64_t)time(NULL);

	CHECK_EQ_INT(admin_token_add(st, "mon", ADMIN_TOKEN_READ, now + 3600, tok, id), STORE_OK);
	CHECK_EQ_INT(admin_token_check(st, tok, got, &sc), 1);
	CHECK_EQ_STR(got, id);
	CHECK_EQ_INT(sc, ADMIN_TOKEN_READ);
	struct seen s = { 0 };
	CHECK_EQ_INT(admin_token_list(st, count_cb, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 1);
	CHECK_EQ_STR(s.name, "mon");
	CHECK_EQ_INT(s.last.scope, ADMIN_TOKEN_READ);
	CHECK_EQ_INT(s.last.expires, now + 3600);
	/* An expiry in the past, or a bad scope, is refused at creation. */
	CHECK_EQ_INT(admin_token_add(st, "old", ADMIN_TOKEN_ADMIN, now - 1, tok, id), STORE_EINVAL);
	CHECK_EQ_INT(admin_token_add(st, "odd", (enum admin_token_scope)7, 0, tok, id), STORE_EINVAL);
	CHECK_EQ_INT(admin_token_del(st, got), STORE_OK);

	/* A token that has expired: its record made by hand, one second old. */
	CHECK_EQ_INT(admin_token_add(st, "brief", ADMIN_TOKEN_ADMIN, now + 1000, tok, id), STORE_OK);
	uint8_t rec[200];
	size_t len;
	char key[32];
	snprintf(key, sizeof key, "token/%s", id);
	CHECK_EQ_INT(store_meta_get(st, key, rec, sizeof rec, &len), STORE_OK);
	CHECK_EQ_INT(rec[40], 0x01);
	uint64_t past = (uint64_t)(now - 1);
	for (int i = 0; i < 8; i++)
		rec[42 + i] = (uint8_t)(past >> (56 - 8 * i));
	CHECK_EQ_INT(store_meta_del(st, key), STORE_OK);
	CHECK_EQ_INT(store_meta_put(st, key, rec, len, 1), STORE_OK);
	CHECK_EQ_INT(admin_token_check(st, tok, NULL, NULL), 0);

	/* The layout before scopes: created, hash, name. */
	memmove(rec + 40, rec + 50, len - 50);
	len -= 10;
	CHECK_EQ_INT(store_meta_del(st, key), STORE_OK);
	CHECK_EQ_INT(store_meta_put(st, key, rec, len, 1), STORE_OK);
	sc = ADMIN_TOKEN_READ;
	CHECK_EQ_INT(admin_token_check(st, tok, NULL, &sc), 1);
	CHECK_EQ_INT(sc, ADMIN_TOKEN_ADMIN);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(admin_token_list(st, count_cb, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 1);
	CHECK_EQ_STR(s.name, "brief");
	CHECK_EQ_INT(s.last.expires, 0);
	CHECK_EQ_INT(s.last.scope, ADMIN_TOKEN_ADMIN);
}

int main(void)
{
	char base[256], dir[300], err[256];
	struct store *st = NULL;

	if (unit_env_begin(base, sizeof base, "token") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/data", base);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		test_tokens(st);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_admin_token");
}
