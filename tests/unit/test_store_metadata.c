/*
 * test_store_metadata.c — IMAP METADATA entries in the store
 * (store_metadata.c): set and read back per server and per mailbox, names
 * compared in any case, removal by a NULL value, all-or-nothing writes,
 * the per-account limits (entries, octets), a mailbox gone meanwhile,
 * DELETE of a mailbox and removal of the account dropping the entries,
 * another user's /private entries on a shared mailbox kept apart, and the
 * schema 6 -> 7 migration.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct got {
	char text[4096];
	size_t n;
};

static void collect(void *arg, struct str name, struct str value)
{
	struct got *g = arg;
	size_t l = strlen(g->text);
	snprintf(g->text + l, sizeof g->text - l, "%s%.*s=%.*s", l ? " " : "", (int)name.len, name.p,
		 (int)value.len, value.p);
	g->n++;
}

static const char *entries(struct store *st, uint32_t acc, uint32_t mb, struct got *g)
{
	memset(g, 0, sizeof *g);
	CHECK_EQ_INT(store_metadata_get(st, acc, mb, collect, g), STORE_OK);
	return g->text;
}

static const char *entries_as(struct store *st, uint32_t user, uint32_t acc, uint32_t mb,
			      struct got *g)
{
	memset(g, 0, sizeof *g);
	CHECK_EQ_INT(store_metadata_get_as(st, user, acc, mb, collect, g), STORE_OK);
	return g->text;
}

/* Records in the metadata database. */
static size_t db_entries(struct store *st)
{
	MDB_txn *txn;
	MDB_stat s = {0};
	if (store_rd_begin(st, &txn) != 0)
		return (size_t)-1;
	mdb_stat(txn, st->db[DB_METADATA], &s);
	store_rd_end(st, txn);
	return s.ms_entries;
}

static struct store_metadata md(const char *name, const char *value)
{
	return (struct store_metadata){ str_c(name), value ? str_c(value) : STR_NULL };
}

int main(void)
{
	struct store *st;
	uint32_t acc = 0, mb = 0, other = 0;
	struct got g;
	char err[256];

	if (unit_env_begin(base, sizeof base, "metadata") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_store_metadata");
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Projects", &mb), STORE_OK);

	/* Server and mailbox entries are apart; names in any case. */
	struct store_metadata a[] = { md("/private/comment", "server words") };
	CHECK_EQ_INT(store_metadata_set(st, acc, 0, a, 1), STORE_OK);
	struct store_metadata b[] = { md("/private/comment", "one"), md("/shared/x/y", "deep") };
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, b, 2), STORE_OK);
	CHECK_EQ_STR(entries(st, acc, 0, &g), "/private/comment=server words");
	CHECK_EQ_STR(entries(st, acc, mb, &g), "/private/comment=one /shared/x/y=deep");
	struct store_metadata c[] = { md("/PRIVATE/Comment", "two") };
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, c, 1), STORE_OK);
	CHECK_EQ_STR(entries(st, acc, mb, &g), "/PRIVATE/Comment=two /shared/x/y=deep");
	/* One entry by name (Sieve's metadata tests): any case, the
	 * mailbox's apart from the server's, a missing one ENOTFOUND, a
	 * value past the buffer's maximum ETOOBIG. */
	{
		struct buf v;
		buf_init(&v, 64);
		CHECK_EQ_INT(store_metadata_get_one(st, acc, mb, STR_LIT("/private/COMMENT"), &v), STORE_OK);
		CHECK(str_eq(buf_str(&v), STR_LIT("two")));
		buf_reset(&v);
		CHECK_EQ_INT(store_metadata_get_one(st, acc, 0, STR_LIT("/private/comment"), &v), STORE_OK);
		CHECK(str_eq(buf_str(&v), STR_LIT("server words")));
		CHECK_EQ_INT(store_metadata_get_one(st, acc, 0, STR_LIT("/shared/x/y"), &v), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_metadata_get_one(st, acc, mb, STR_LIT("/shared/x"), &v), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_metadata_get_one(st, acc, mb, STR_LIT(""), &v), STORE_ENOTFOUND);
		buf_free(&v);
		buf_init(&v, 2);
		CHECK_EQ_INT(store_metadata_get_one(st, acc, mb, STR_LIT("/shared/x/y"), &v), STORE_ETOOBIG);
		buf_free(&v);
	}
	struct store_metadata d[] = { md("/private/comment", NULL) };
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, d, 1), STORE_OK);
	CHECK_EQ_STR(entries(st, acc, mb, &g), "/shared/x/y=deep");

	/* Limits: octets, then entries; a refused write stores nothing. */
	static char big[600 * 1024];
	memset(big, 'v', sizeof big - 1);
	struct store_metadata e[] = { md("/private/a", big), md("/private/b", big) };
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, e, 2), STORE_ETOOBIG);
	CHECK_EQ_INT(entries(st, acc, mb, &g) != NULL, 1);
	CHECK_EQ_INT((int)g.n, 1);
	static struct store_metadata many[STORE_METADATA_ENTRIES];
	static char names[STORE_METADATA_ENTRIES][32];
	for (int i = 0; i < STORE_METADATA_ENTRIES; i++) {
		snprintf(names[i], sizeof names[i], "/private/n%d", i);
		many[i] = md(names[i], "x");
	}
	/* Two entries exist already: 999 more is one too many. */
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, many, STORE_METADATA_ENTRIES - 1), STORE_ELIMIT);
	entries(st, acc, mb, &g);
	CHECK_EQ_INT((int)g.n, 1);
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, many, STORE_METADATA_ENTRIES - 2), STORE_OK);
	entries(st, acc, mb, &g);
	CHECK_EQ_INT((int)g.n, STORE_METADATA_ENTRIES - 1);
	struct store_metadata bad[] = { md("", "x") };
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, bad, 1), STORE_EINVAL);

	/* A mailbox gone: ENOTFOUND; DELETE drops its entries, the server's stay. */
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Projects"), STORE_OK);
	CHECK_EQ_INT(store_metadata_set(st, acc, mb, a, 1), STORE_ENOTFOUND);
	entries(st, acc, mb, &g);
	CHECK_EQ_INT((int)g.n, 0);
	CHECK_EQ_STR(entries(st, acc, 0, &g), "/private/comment=server words");

	/* Another account has its own; removing an account drops its entries. */
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw", 0, &other, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_STR(entries(st, other, 0, &g), "");
	CHECK_EQ_INT(store_metadata_set(st, other, 0, a, 1), STORE_OK);
	CHECK_EQ_INT(store_account_del(st, "carol@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_STR(entries(st, other, 0, &g), "");

	/* A mailbox shared with another user (RFC 5464 §3.2): /shared is the
	 * owner's, /private each user's own, kept and dropped with the mailbox. */
	{
		uint32_t dan = 0, team = 0;
		size_t before = db_entries(st);
		CHECK_EQ_INT(store_account_add(st, "dan@example.test", "pw", 0, &dan, err, sizeof err),
			     STORE_OK);
		CHECK_EQ_INT(store_mailbox_create(st, acc, "Team", &team), STORE_OK);
		struct store_metadata own[] = { md("/private/comment", "bob's"),
						md("/shared/comment", "team") };
		CHECK_EQ_INT(store_metadata_set(st, acc, team, own, 2), STORE_OK);
		CHECK_EQ_STR(entries_as(st, dan, acc, team, &g), "/shared/comment=team");
		struct store_metadata his[] = { md("/PRIVATE/comment", "dan's"),
						md("/shared/note", "by dan") };
		/* Only with a right on the mailbox, read in the write (the
		 * command's check is older): none, no mailbox (RFC 4314 §6). */
		CHECK_EQ_INT(store_metadata_set_as(st, dan, acc, team, his, 2), STORE_ENOTFOUND);
		CHECK_EQ_INT((int)db_entries(st), (int)before + 2);
		CHECK_EQ_INT(store_acl_set(st, acc, team, dan, STORE_ACL_L), STORE_OK);
		CHECK_EQ_INT(store_metadata_set_as(st, dan, acc, team, his, 2), STORE_OK);
		CHECK_EQ_STR(entries(st, acc, team, &g),
			     "/private/comment=bob's /shared/comment=team /shared/note=by dan");
		CHECK_EQ_STR(entries_as(st, dan, acc, team, &g),
			     "/PRIVATE/comment=dan's /shared/comment=team /shared/note=by dan");
		CHECK_EQ_STR(entries_as(st, other, acc, team, &g),
			     "/shared/comment=team /shared/note=by dan");
		/* Dan's own mailboxes of the same id hold none of it. */
		CHECK_EQ_STR(entries(st, dan, team, &g), "");
		/* His NIL removes his, not the owner's. */
		struct store_metadata gone[] = { md("/private/comment", NULL) };
		CHECK_EQ_INT(store_metadata_set_as(st, dan, acc, team, gone, 1), STORE_OK);
		CHECK_EQ_STR(entries_as(st, dan, acc, team, &g),
			     "/shared/comment=team /shared/note=by dan");
		CHECK_EQ_STR(entries(st, acc, team, &g),
			     "/private/comment=bob's /shared/comment=team /shared/note=by dan");
		CHECK_EQ_INT(store_metadata_set_as(st, dan, acc, team, his, 1), STORE_OK);
		CHECK_EQ_INT((int)db_entries(st), (int)before + 4);
		/* A user removed meanwhile (anyone's right stays) writes none:
		 * its removal took its entries, nothing would take these. */
		uint32_t eve = 0;
		CHECK_EQ_INT(store_account_add(st, "eve@example.test", "pw", 0, &eve, err, sizeof err),
			     STORE_OK);
		CHECK_EQ_INT(store_acl_set(st, acc, team, STORE_ACL_ANYONE, STORE_ACL_L), STORE_OK);
		CHECK_EQ_INT(store_account_del(st, "eve@example.test", err, sizeof err), STORE_OK);
		CHECK_EQ_INT(store_metadata_set_as(st, eve, acc, team, his, 1), STORE_ENOTFOUND);
		CHECK_EQ_INT((int)db_entries(st), (int)before + 4);
		/* DELETE takes every user's entries on it. */
		CHECK_EQ_INT(store_mailbox_delete(st, acc, "Team"), STORE_OK);
		CHECK_EQ_INT((int)db_entries(st), (int)before);
	}

	/* A schema 6 store migrates to the current one and keeps working. */
	CHECK_EQ_INT(store_test_set_schema(st, 6), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		CHECK_EQ_STR(entries(st, acc, 0, &g), "/private/comment=server words");
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_store_metadata");
}
