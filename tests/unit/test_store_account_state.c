/*
 * test_store_account_state.c — account states and display names
 * (schema 11, issue 31): "cannot sign in" refuses every login (app
 * passwords too) while mail still resolves; "inactive" refuses logins
 * and resolution says STORE_RCPT_INACTIVE (an alias naming it and
 * another account keeps only the other); each change of state changes
 * the credentials stamp; display names are checked and listed; a
 * schema 10 store, whose disabled accounts had their hash behind a '!',
 * migrates to "cannot sign in" with the password kept.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct seen {
	enum store_account_state state;
	char name[STORE_DISPLAY_NAME_MAX + 1];
	int disabled;
};

static void collect(void *arg, const struct store_account_info *i)
{
	struct seen *s = arg;
	if (strcmp(i->email, "bob@example.test") != 0)
		return;
	s->state = i->state;
	s->disabled = i->disabled;
	snprintf(s->name, sizeof s->name, "%s", i->display_name);
}

static struct seen listed(struct store *st)
{
	struct seen s;
	memset(&s, 0, sizeof s);
	s.state = 99;
	CHECK_EQ_INT(store_account_list(st, collect, &s), STORE_OK);
	return s;
}

static uint64_t stamp(struct store *st, uint32_t acc)
{
	uint64_t c = 0;
	CHECK_EQ_INT(store_account_creds(st, &acc, NULL, &c, 1), STORE_OK);
	return c;
}

/* The schema 10 layout of an account record: no state, no name. */
static void enc10(struct rec_w *w, const void *rec)
{
	const struct acct_rec *a = rec;
	rw_u8(w, REC_V1);
	rw_u8(w, 1);
	rw_u64(w, a->quota);
	rw_u64(w, a->used);
	rw_u32(w, a->emails);
	rw_u64(w, a->modseq);
	rw_u32(w, a->next_email_id);
	rw_u32(w, a->next_mailbox_id);
	rw_u64(w, (uint64_t)a->created_at);
	rw_str16(w, a->email, strlen(a->email));
	rw_str16(w, a->hash, strlen(a->hash));
}

static uint32_t old_id;

/* Rewrites the account as schema 10 stored a disabled one. */
static int write10(struct store *st, MDB_txn *txn, void *ctx)
{
	struct acct_rec a;
	uint8_t kb[4];
	(void)ctx;
	int rc = acct_get(txn, st, old_id, &a);
	if (rc)
		return rc;
	memmove(a.hash + 1, a.hash, strlen(a.hash) + 1);
	a.hash[0] = '!';
	MDB_val k = key_u32(kb, old_id);
	struct rec_w w = {NULL, 0, 0};
	enc10(&w, &a);
	return rec_put(txn, st->db[DB_PRINCIPAL], &k, w.len, enc10, &a, 0);
}

int main(void)
{
	const char *u = "bob@example.test", *other = "eve@example.test";
	char err[256], sec[STORE_APPPASS_SECRET_LEN + 1], name[STORE_DISPLAY_NAME_MAX + 8];
	struct store *st;
	uint32_t acc = 0, acc2 = 0, ids[4];
	size_t n = 0;

	if (unit_env_begin(base, sizeof base, "acctstate") < 0)
		return 1;
	st = unit_store_with_account(base, 0, u, &acc);
	if (!st)
		return unit_done("test_store_account_state");
	CHECK_EQ_INT(store_account_add(st, other, "pw", 0, &acc2, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.test", u, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.test", other, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "bobby@example.test", u, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_apppass_add(st, acc, "phone", sec, sizeof sec, err, sizeof err),
		     STORE_OK);

	/* The words. */
	enum store_account_state s;
	CHECK_EQ_INT(store_account_state_parse("cannot_sign_in", &s), 0);
	CHECK_EQ_INT((int)s, STORE_ACCOUNT_NOLOGIN);
	CHECK_EQ_INT(store_account_state_parse("disabled", &s), -1);
	CHECK_EQ_STR(store_account_state_name(STORE_ACCOUNT_INACTIVE), "inactive");
	CHECK_EQ_INT(store_account_set_state(st, u, (enum store_account_state)7, err, sizeof err),
		     STORE_EINVAL);

	struct seen l = listed(st);
	CHECK_EQ_INT((int)l.state, STORE_ACCOUNT_ACTIVE);
	CHECK_EQ_STR(l.name, "");
	uint64_t c0 = stamp(st, acc);

	/* Cannot sign in: no login of any kind, mail still resolves. */
	CHECK_EQ_INT(store_account_set_state(st, u, STORE_ACCOUNT_NOLOGIN, err, sizeof err),
		     STORE_OK);
	uint64_t c1 = stamp(st, acc);
	CHECK(c1 != c0 && c1 != 0);
	/* The right password (or app password) is told apart from a wrong
	 * one (IMAP says CONTACTADMIN), and gives no id. */
	uint32_t got_id = 77;
	CHECK_EQ_INT(store_account_login(st, u, "pw", &got_id, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(got_id, 77);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(store_account_login(st, u, "wrong", NULL, NULL, NULL), 0);
	CHECK_EQ_INT(store_account_check_password(st, u, "pw"), 0);
	CHECK_EQ_INT(store_resolve_rcpt(st, u, ids, 4, &n), STORE_RCPT_OK);
	CHECK(n == 1 && ids[0] == acc);
	l = listed(st);
	CHECK_EQ_INT((int)l.state, STORE_ACCOUNT_NOLOGIN);
	CHECK_EQ_INT(l.disabled, 1);

	/* Inactive: refused as such, directly and through an alias; an alias
	 * naming another account too keeps that one only. */
	CHECK_EQ_INT(store_account_set_state(st, u, STORE_ACCOUNT_INACTIVE, err, sizeof err),
		     STORE_OK);
	uint64_t c2 = stamp(st, acc);
	CHECK(c2 != c1 && c2 != c0);
	CHECK_EQ_INT(store_resolve_rcpt(st, u, ids, 4, &n), STORE_RCPT_INACTIVE);
	CHECK_EQ_INT(store_resolve_rcpt(st, "bob+tag@example.test", ids, 4, &n),
		     STORE_RCPT_INACTIVE);
	CHECK_EQ_INT(store_resolve_rcpt(st, "bobby@example.test", ids, 4, &n), STORE_RCPT_INACTIVE);
	CHECK_EQ_INT(store_resolve_rcpt(st, "team@example.test", ids, 4, &n), STORE_RCPT_OK);
	CHECK(n == 1 && ids[0] == acc2);
	CHECK_EQ_INT(store_resolve_rcpt(st, "nobody@example.test", ids, 4, &n),
		     STORE_RCPT_UNKNOWN);
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(store_account_login(st, other, "pw", NULL, NULL, NULL), 1);

	/* A new password keeps the state; active again, both are taken. */
	CHECK_EQ_INT(store_account_passwd(st, u, "pw2", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_login(st, u, "pw2", NULL, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), 0);
	CHECK_EQ_INT(store_account_set_disabled(st, u, 0, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_login(st, u, "pw2", NULL, NULL, NULL), 1);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), 1);
	CHECK_EQ_INT(store_resolve_rcpt(st, u, ids, 4, &n), STORE_RCPT_OK);

	/* Display names. */
	CHECK_EQ_INT(store_account_set_name(st, u, "Bob \xc3\x89tienne", err, sizeof err), STORE_OK);
	CHECK_EQ_STR(listed(st).name, "Bob \xc3\x89tienne");
	CHECK_EQ_INT(store_account_name(st, acc, name, sizeof name), STORE_OK);
	CHECK_EQ_STR(name, "Bob \xc3\x89tienne");
	uint64_t c3 = stamp(st, acc);
	CHECK_EQ_INT(store_account_set_name(st, u, "Bob", err, sizeof err), STORE_OK);
	CHECK(stamp(st, acc) == c3); /* a name is no credential */
	CHECK_EQ_INT(store_account_set_name(st, u, "a\nb", err, sizeof err), STORE_EINVAL);
	CHECK_EQ_INT(store_account_set_name(st, u, "bad \xff utf8", err, sizeof err), STORE_EINVAL);
	memset(name, 'x', STORE_DISPLAY_NAME_MAX + 1);
	name[STORE_DISPLAY_NAME_MAX + 1] = '\0';
	CHECK_EQ_INT(store_account_set_name(st, u, name, err, sizeof err), STORE_EINVAL);
	name[STORE_DISPLAY_NAME_MAX] = '\0';
	CHECK_EQ_INT(store_account_set_name(st, u, name, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_set_name(st, "nobody@example.test", "x", err, sizeof err),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_name(st, 999, name, sizeof name), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_set_name(st, u, "", err, sizeof err), STORE_OK);
	CHECK_EQ_STR(listed(st).name, "");

	/* Schema 10: a disabled account (hash behind '!') migrates to
	 * "cannot sign in", its password kept. */
	CHECK_EQ_INT(store_account_passwd(st, u, "pw", err, sizeof err), STORE_OK);
	old_id = acc;
	CHECK_EQ_INT(store_write(st, write10, NULL), STORE_OK);
	CHECK_EQ_INT(store_test_set_schema(st, 10), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return unit_done("test_store_account_state");
	l = listed(st);
	CHECK_EQ_INT((int)l.state, STORE_ACCOUNT_NOLOGIN);
	CHECK_EQ_STR(l.name, "");
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(store_account_login(st, other, "pw", NULL, NULL, NULL), 1);
	CHECK_EQ_INT(store_account_set_state(st, u, STORE_ACCOUNT_ACTIVE, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_account_login(st, u, "pw", NULL, NULL, NULL), 1);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_account_state");
}
