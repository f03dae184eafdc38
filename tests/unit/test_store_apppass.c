/*
 * test_store_apppass.c — app passwords in the store (store_apppass.c):
 * a generated secret is accepted by store_account_login() and only
 * there (store_account_check_password(), the web's, refuses it), its use
 * is recorded, names are unique, revocation refuses it, a disabled
 * account takes none, removing the account drops them, and a schema 8
 * store migrates.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct seen {
	char names[256];
	int64_t last_used;
};

static void collect(void *arg, const struct store_apppass_info *i)
{
	struct seen *s = arg;
	size_t l = strlen(s->names);
	snprintf(s->names + l, sizeof s->names - l, "%s%s", l ? " " : "", i->name);
	if (strcmp(i->name, "phone") == 0)
		s->last_used = i->last_used;
}

static const char *names(struct store *st, uint32_t acc, struct seen *s)
{
	memset(s, 0, sizeof *s);
	CHECK_EQ_INT(store_apppass_list(st, acc, collect, s), STORE_OK);
	return s->names;
}

int main(void)
{
	const char *u = "bob@example.test";
	char err[256], sec[STORE_APPPASS_SECRET_LEN + 1], sec2[sizeof sec];
	struct store *st;
	struct seen s;
	uint32_t acc = 0, id = 0;
	uint64_t cred = 0, cred_pw = 0;
	uint32_t ap = 0, ap_pw = 9;

	if (unit_env_begin(base, sizeof base, "apppass") < 0)
		return 1;
	st = unit_store_with_account(base, 0, u, &acc);
	if (!st)
		return unit_done("test_store_apppass");

	CHECK_EQ_STR(names(st, acc, &s), "");
	CHECK_EQ_INT(store_apppass_add(st, acc, "phone", sec, sizeof sec, err, sizeof err), STORE_OK);
	CHECK_EQ_INT((int)strlen(sec), STORE_APPPASS_SECRET_LEN);
	CHECK_EQ_INT(store_apppass_add(st, acc, "phone", sec2, sizeof sec2, err, sizeof err),
		     STORE_EEXIST);
	CHECK_EQ_INT(store_apppass_add(st, acc, "", sec2, sizeof sec2, err, sizeof err),
		     STORE_EINVAL);
	CHECK_EQ_INT(store_apppass_add(st, acc, "bad\nname", sec2, sizeof sec2, err, sizeof err),
		     STORE_EINVAL);
	CHECK_EQ_INT(store_apppass_add(st, 999, "x", sec2, sizeof sec2, err, sizeof err),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(store_apppass_add(st, acc, "laptop", sec2, sizeof sec2, err, sizeof err),
		     STORE_OK);
	CHECK(strcmp(sec, sec2) != 0);
	CHECK_EQ_STR(names(st, acc, &s), "phone laptop");
	CHECK(s.last_used == 0);

	/* Mail logins take it (the stamp names it); the web check does not. */
	CHECK_EQ_INT(store_account_login(st, u, "pw", &id, &cred_pw, &ap_pw), 1);
	CHECK_EQ_INT(store_account_login(st, u, sec, &id, &cred, &ap), 1);
	CHECK_EQ_INT((int)id, (int)acc);
	CHECK(cred != cred_pw && cred != 0);
	CHECK(ap_pw == 0 && ap != 0);
	uint32_t ids[2] = {acc, acc}, aps[2] = {0, ap};
	uint64_t now[2];
	CHECK_EQ_INT(store_account_creds(st, ids, aps, now, 2), STORE_OK);
	CHECK(now[0] == cred_pw && now[1] == cred);
	CHECK_EQ_INT(store_account_check_password(st, u, sec), 0);
	CHECK_EQ_INT(store_account_login(st, u, "abcd-efgh-jkmn-pqrs", NULL, NULL, NULL), 0);
	names(st, acc, &s);
	CHECK(s.last_used > 0);

	/* A JMAP bearer token is the same kind of record with its scope: a
	 * mail login never takes it, a bearer login takes nothing else. */
	{
		char tok[STORE_APPPASS_SECRET_LEN + 1], other[STORE_APPPASS_SECRET_LEN + 1];
		uint32_t tid = 0;
		CHECK_EQ_INT(store_apppass_add_scoped(st, acc, STORE_APPPASS_JMAP, "script", tok,
						      sizeof tok, err, sizeof err), STORE_OK);
		CHECK_EQ_INT(store_apppass_add_scoped(st, acc, STORE_APPPASS_JMAP, "phone", other,
						      sizeof other, err, sizeof err), STORE_EEXIST);
		CHECK_EQ_INT(store_account_login(st, u, tok, NULL, NULL, NULL), 0);
		CHECK_EQ_INT(store_account_login_scoped(st, u, tok, STORE_APPPASS_JMAP, NULL, NULL,
							&tid), 1);
		CHECK(tid != 0 && tid != ap);
		CHECK_EQ_INT(store_account_login_scoped(st, u, sec, STORE_APPPASS_JMAP, NULL, NULL,
							NULL), 0);
		CHECK_EQ_INT(store_account_login_scoped(st, u, "pw", STORE_APPPASS_JMAP, NULL, NULL,
							NULL), 0);
		CHECK_EQ_INT(store_apppass_del_scoped(st, acc, STORE_APPPASS_MAIL, "script", err,
						      sizeof err), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_apppass_del_scoped(st, acc, STORE_APPPASS_JMAP, "script", err,
						      sizeof err), STORE_OK);
		CHECK_EQ_INT(store_account_login_scoped(st, u, tok, STORE_APPPASS_JMAP, NULL, NULL,
							NULL), 0);
		char email[STORE_ADDR_MAX + 1];
		CHECK_EQ_INT(store_account_email(st, acc, email, sizeof email), STORE_OK);
		CHECK_EQ_STR(email, u);
		CHECK_EQ_INT(store_account_email(st, 999, email, sizeof email), STORE_ENOTFOUND);
	}

	/* Disabled: none is taken (the right one says so: NOLOGIN); enabled
	 * again: it is. */
	CHECK_EQ_INT(store_account_set_disabled(st, u, 1, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), STORE_LOGIN_NOLOGIN);
	CHECK_EQ_INT(store_account_set_disabled(st, u, 0, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), 1);

	/* Revoked: refused; the other goes on. */
	CHECK_EQ_INT(store_apppass_del(st, acc, "phone", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_apppass_del(st, acc, "phone", err, sizeof err), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_login(st, u, sec, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(store_account_login(st, u, sec2, NULL, NULL, NULL), 1);
	CHECK_EQ_STR(names(st, acc, &s), "laptop");
	/* The revoked one's sessions see their stamp change (item 4 of issue
	 * 31: they end); the password's do not. */
	CHECK_EQ_INT(store_account_creds(st, ids, aps, now, 2), STORE_OK);
	CHECK(now[0] == cred_pw && now[1] != cred && now[1] != 0);

	/* A schema 8 store migrates and keeps them. */
	CHECK_EQ_INT(store_test_set_schema(st, 8), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return unit_done("test_store_apppass");
	CHECK_EQ_INT(store_account_login(st, u, sec2, NULL, NULL, NULL), 1);

	/* The account's removal takes them; a new account of that name has none. */
	CHECK_EQ_INT(store_account_del(st, u, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, u, "pw", 0, &acc, err, sizeof err), STORE_OK);
	CHECK_EQ_STR(names(st, acc, &s), "");
	CHECK_EQ_INT(store_account_login(st, u, sec2, NULL, NULL, NULL), 0);
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_apppass");
}
