/*
 * test_store_acl.c — mailbox access control lists in the store
 * (store_acl.c): rights letters (RFC 4314 §2.1, §2.1.1's "c" and "d"),
 * SETACL's "+" and "-" changes, identifiers ("anyone", accounts, no alias),
 * the owner's implicit rights, a grant and anyone's adding up, the
 * forward and reverse records kept in step (set, change, remove),
 * RENAME keeping grants, a backup holding them, DELETE of a mailbox and
 * removal of either account dropping them, and the schema 15 -> 16
 * migration; CREATE, DELETE and RENAME of the owner's mailboxes by
 * another account with its rights (store_mailbox_create_as and friends).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_backup.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct got {
	char text[1024];
};

static void collect(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		    uint32_t rights)
{
	struct got *g = arg;
	size_t l = strlen(g->text);
	char r[16];
	store_acl_rights_format(rights, r, sizeof r);
	snprintf(g->text + l, sizeof g->text - l, "%s%u/%u>%u:%s", l ? " " : "", owner, mailbox,
		 grantee, r);
}

static const char *grants(struct store *st, uint32_t owner, uint32_t mailbox, struct got *g)
{
	memset(g, 0, sizeof *g);
	CHECK_EQ_INT(store_acl_list(st, owner, mailbox, collect, g), STORE_OK);
	return g->text;
}

static const char *shared(struct store *st, uint32_t account, struct got *g)
{
	memset(g, 0, sizeof *g);
	CHECK_EQ_INT(store_acl_shared_with(st, account, collect, g), STORE_OK);
	return g->text;
}

static uint32_t rights(struct store *st, uint32_t account, uint32_t owner, uint32_t mailbox)
{
	uint32_t r = 0xdead;
	CHECK_EQ_INT(store_mailbox_rights(st, account, owner, mailbox, &r), STORE_OK);
	return r;
}

static uint32_t letters(const char *s)
{
	uint32_t r = 0;
	CHECK_EQ_INT(store_acl_rights_parse(s, strlen(s), &r), STORE_OK);
	return r;
}

/* Records in one database (the raw count: a twin left behind shows). */
static size_t db_entries(struct store *st, int db)
{
	MDB_txn *txn;
	MDB_stat s = {0};
	if (store_rd_begin(st, &txn) != 0)
		return (size_t)-1;
	mdb_stat(txn, st->db[db], &s);
	store_rd_end(st, txn);
	return s.ms_entries;
}

static void count_entry(void *arg, struct str name, struct str value)
{
	(void)name;
	(void)value;
	(*(int *)arg)++;
}

/* The METADATA entries user sees on owner's mailbox. */
static int entries_of(struct store *st, uint32_t user, uint32_t owner, uint32_t mailbox)
{
	int n = 0;
	CHECK_EQ_INT(store_metadata_get_as(st, user, owner, mailbox, count_entry, &n), STORE_OK);
	return n;
}

static void check_letters(void)
{
	char out[16];
	uint32_t r;

	CHECK_EQ_INT((int)letters("lr"), (int)(STORE_ACL_L | STORE_ACL_R));
	store_acl_rights_format(STORE_ACL_ALL, out, sizeof out);
	CHECK_EQ_STR(out, "lrswipkxteacd");
	store_acl_rights_format(0, out, sizeof out);
	CHECK_EQ_STR(out, "");
	/* §2.1.1: "c" is k, "d" is x t e; either shown when a member is. */
	CHECK_EQ_INT((int)letters("c"), (int)STORE_ACL_K);
	CHECK_EQ_INT((int)letters("d"), (int)(STORE_ACL_X | STORE_ACL_T | STORE_ACL_E));
	store_acl_rights_format(STORE_ACL_T, out, sizeof out);
	CHECK_EQ_STR(out, "td");
	store_acl_rights_format(STORE_ACL_L | STORE_ACL_K, out, sizeof out);
	CHECK_EQ_STR(out, "lkc");
	/* Order of letters does not matter, repeats are harmless. */
	CHECK_EQ_INT((int)letters("rlrl"), (int)(STORE_ACL_L | STORE_ACL_R));
	/* Unknown letters, upper case, a NUL: refused. */
	CHECK_EQ_INT(store_acl_rights_parse("lz", 2, &r), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_rights_parse("L", 1, &r), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_rights_parse("l\0r", 3, &r), STORE_EINVAL);
	/* A short buffer is cut, still a string. */
	store_acl_rights_format(STORE_ACL_ALL, out, 4);
	CHECK_EQ_STR(out, "lrs");

	/* SETACL's change (RFC 4314 §3.1): "+" adds, "-" takes away, plain
	 * letters replace; one sign only, the letters as above. */
	int mode = -1;
	CHECK_EQ_INT(store_acl_change_parse("+ki", 3, &mode, &r), STORE_OK);
	CHECK_EQ_INT(mode, STORE_ACL_ADD);
	CHECK_EQ_INT((int)r, (int)(STORE_ACL_K | STORE_ACL_I));
	CHECK_EQ_INT(store_acl_change_parse("-d", 2, &mode, &r), STORE_OK);
	CHECK_EQ_INT(mode, STORE_ACL_REMOVE);
	CHECK_EQ_INT((int)r, (int)STORE_ACL_DELETE_OLD);
	CHECK_EQ_INT(store_acl_change_parse("lr", 2, &mode, &r), STORE_OK);
	CHECK_EQ_INT(mode, STORE_ACL_REPLACE);
	CHECK_EQ_INT(store_acl_change_parse("", 0, &mode, &r), STORE_OK);
	CHECK_EQ_INT(mode, STORE_ACL_REPLACE);
	CHECK_EQ_INT((int)r, 0);
	CHECK_EQ_INT(store_acl_change_parse("+", 1, &mode, &r), STORE_OK);
	CHECK_EQ_INT(mode, STORE_ACL_ADD);
	CHECK_EQ_INT((int)r, 0);
	CHECK_EQ_INT(store_acl_change_parse("+-l", 3, &mode, &r), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_change_parse("=l", 2, &mode, &r), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_change_parse("l+", 2, &mode, &r), STORE_EINVAL);
}

/* The change log of one account above since, one line per entry: the
 * kind, the id and, for a grant's entry, grantee, before and after. */
struct log_got {
	char text[512];
	size_t n;
};

static int log_cb(void *arg, const struct store_change *sc)
{
	struct log_got *g = arg;
	size_t l = strlen(g->text);
	uint32_t grantee, was, now;
	char w[16], n[16];

	g->n++;
	if (store_change_grant(sc, &grantee, &was, &now)) {
		store_acl_rights_format(was, w, sizeof w);
		store_acl_rights_format(now, n, sizeof n);
		snprintf(g->text + l, sizeof g->text - l, "%sgrant %u>%u:%s->%s", l ? " " : "", sc->id,
			 grantee, w, n);
	} else {
		snprintf(g->text + l, sizeof g->text - l, "%s%u %u", l ? " " : "", sc->kind, sc->id);
	}
	return 0;
}

static const char *log_since(struct store *st, uint32_t account, uint64_t since,
			     struct log_got *g)
{
	memset(g, 0, sizeof *g);
	CHECK_EQ_INT(store_changes_since(st, account, since, log_cb, g), STORE_OK);
	return g->text;
}

static void hms_cb(void *arg, const struct store_mailbox_info *info)
{
	*(uint64_t *)arg = info->highest_modseq;
}

static uint64_t modseq_of(struct store *st, uint32_t account)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(store_account_modseq(st, account, &ms), STORE_OK);
	return ms;
}

/*
 * A grant that changes writes one Mailbox update of its mailbox in the
 * owner's log (RFC 8620 §5.2: shareWith and myRights are Mailbox
 * properties), naming grantee and rights before and after, at a new
 * modseq the mailbox takes as its highest; one that changes nothing
 * writes nothing. A rename's entry is no grant's.
 */
static void check_grant_logged(struct store *st, uint32_t ann, uint32_t bob)
{
	struct log_got g;
	char want[128];
	uint32_t mb = 0, now = 0;
	uint64_t hms = 0;

	CHECK_EQ_INT(store_mailbox_create(st, ann, "Logged", &mb), STORE_OK);
	uint64_t before = modseq_of(st, ann), bob_before = modseq_of(st, bob);
	CHECK_EQ_INT(store_acl_set(st, ann, mb, bob, letters("lr")), STORE_OK);
	CHECK_EQ_INT((int)(modseq_of(st, ann) - before), 1);
	snprintf(want, sizeof want, "grant %u>%u:->lr", mb, bob);
	CHECK_EQ_STR(log_since(st, ann, before, &g), want);
	CHECK_EQ_INT((int)g.n, 1);
	CHECK_EQ_INT(store_mailbox_get(st, ann, mb, hms_cb, &hms), STORE_OK);
	CHECK_EQ_INT((int)(hms - before), 1);

	/* The same rights again: nothing changed, nothing written. */
	before = modseq_of(st, ann);
	CHECK_EQ_INT(store_acl_modify(st, ann, mb, bob, STORE_ACL_ADD, letters("l"), &now), STORE_OK);
	CHECK_EQ_INT((int)(modseq_of(st, ann) - before), 0);
	CHECK_EQ_STR(log_since(st, ann, before, &g), "");

	/* Anyone's grant (grantee 0), then both taken away. */
	CHECK_EQ_INT(store_acl_set(st, ann, mb, STORE_ACL_ANYONE, letters("l")), STORE_OK);
	CHECK_EQ_INT(store_acl_modify(st, ann, mb, bob, STORE_ACL_REMOVE, letters("r"), &now),
		     STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, mb, STORE_ACL_ANYONE, 0), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, mb, bob, 0), STORE_OK);
	snprintf(want, sizeof want, "grant %u>0:->l grant %u>%u:lr->l grant %u>0:l-> grant %u>%u:l->",
		 mb, mb, bob, mb, mb, bob);
	CHECK_EQ_STR(log_since(st, ann, before, &g), want);
	/* Nothing in the grantee's own log. */
	CHECK_EQ_STR(log_since(st, bob, bob_before, &g), "");
	CHECK_EQ_INT((int)(modseq_of(st, bob) - bob_before), 0);

	/* A rename's mailbox update is not read as a grant. */
	before = modseq_of(st, ann);
	CHECK_EQ_INT(store_mailbox_rename(st, ann, "Logged", "Logged2"), STORE_OK);
	snprintf(want, sizeof want, "%d %u", STORE_CHANGE_MAILBOX_UPDATED, mb);
	CHECK_EQ_STR(log_since(st, ann, before, &g), want);
}

static uint32_t find_id(struct store *st, uint32_t account, const char *name)
{
	uint32_t id = 0;
	return store_mailbox_find(st, account, name, &id) == STORE_OK ? id : 0;
}

/*
 * Another account acting on the owner's mailboxes: "k" on the closest
 * parent (INBOX for a top level) to create, the new mailboxes taking that
 * parent's grants; "x" to delete; "x" and "k" to rename, grants kept; a
 * mailbox without "l" answered as missing.
 */
static void check_acting(void)
{
	char dir[256], err[256], want[256];
	struct store *st;
	struct got g;
	uint32_t own = 0, dan = 0, eve = 0, proj = 0, inbox = 0, id = 0;

	if (unit_env_begin(dir, sizeof dir, "acl-as") < 0)
		return;
	st = unit_store_with_account(dir, 0, "own@example.test", &own);
	if (!st)
		return;
	CHECK_EQ_INT(store_account_add(st, "dan@example.test", "pw", 0, &dan, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "eve@example.test", "pw", 0, &eve, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, own, "Proj", &proj), STORE_OK);
	inbox = find_id(st, own, "INBOX");

	/* No right: refused, nothing made. */
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/A", &id), STORE_EACCES);
	CHECK_EQ_INT((int)find_id(st, own, "Proj/A"), 0);
	/* "l" alone is not "k". */
	CHECK_EQ_INT(store_acl_set(st, own, proj, dan, letters("lr")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/A", &id), STORE_EACCES);
	/* With "k" on the parent: the owner's mailbox, the parent's grants. */
	CHECK_EQ_INT(store_acl_set(st, own, proj, dan, letters("lrk")), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, own, proj, 0, letters("l")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/A", &id), STORE_OK);
	CHECK_EQ_INT((int)find_id(st, own, "Proj/A"), (int)id);
	CHECK_EQ_INT((int)find_id(st, dan, "Proj/A"), 0);
	snprintf(want, sizeof want, "%u/%u>0:l %u/%u>%u:lrkc", own, id, own, id, dan);
	CHECK_EQ_STR(grants(st, own, id, &g), want);
	/* Missing levels are made too, each with the closest parent's grants. */
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/B/C", &id), STORE_OK);
	CHECK_EQ_INT((int)rights(st, dan, own, find_id(st, own, "Proj/B")), (int)letters("lrk"));
	CHECK_EQ_INT((int)rights(st, dan, own, id), (int)letters("lrk"));
	/* There already: EEXIST when it may see it, EACCES when not. */
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/A", &id), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_create(st, own, "Proj/Secret", &id), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Proj/Secret", &id), STORE_EACCES);
	/* A top level needs "k" on the owner's INBOX. */
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Top", &id), STORE_EACCES);
	CHECK_EQ_INT(store_acl_set(st, own, inbox, dan, letters("lk")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_as(st, dan, own, "Top", &id), STORE_OK);
	CHECK_EQ_INT((int)rights(st, dan, own, id), (int)letters("lk"));
	CHECK_EQ_INT(store_acl_set(st, own, inbox, dan, 0), STORE_OK);

	/* DELETE needs "x"; without "l" the mailbox is not there. */
	CHECK_EQ_INT(store_mailbox_delete_as(st, dan, own, "Proj/A"), STORE_EACCES);
	CHECK_EQ_INT(store_mailbox_delete_as(st, dan, own, "Proj/Secret"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_delete_as(st, dan, own, "Proj/None"), STORE_ENOTFOUND);
	id = find_id(st, own, "Proj/A");
	CHECK_EQ_INT(store_acl_set(st, own, id, dan, letters("lx")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete_as(st, dan, own, "Proj/A"), STORE_OK);
	CHECK_EQ_INT((int)find_id(st, own, "Proj/A"), 0);
	CHECK_EQ_STR(grants(st, own, id, &g), ""); /* its grants went with it */
	CHECK_EQ_INT(store_mailbox_delete_as(st, eve, own, "Proj"), STORE_EACCES); /* anyone's "l" */

	/* RENAME: "x" on the old name, "k" on the new parent; ids and grants kept. */
	id = find_id(st, own, "Proj/B/C");
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "Proj/B/C", "Proj/D"), STORE_EACCES);
	CHECK_EQ_INT(store_acl_set(st, own, id, dan, letters("lrx")), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, own, id, eve, letters("r")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "Proj/B/C", "Else/D"), STORE_EACCES);
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "Proj/B/C", "Proj/Secret"),
		     STORE_EACCES);
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "Proj/B/C", "Proj/B"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "Proj/B/C", "Proj/D"), STORE_OK);
	CHECK_EQ_INT((int)find_id(st, own, "Proj/D"), (int)id);
	CHECK_EQ_INT((int)find_id(st, own, "Proj/B/C"), 0);
	CHECK_EQ_INT((int)rights(st, eve, own, id), (int)letters("lr")); /* anyone's "l" too */
	/* The owner's INBOX stays the owner's to rename. */
	CHECK_EQ_INT(store_acl_set(st, own, inbox, dan, letters("lkx")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename_as(st, dan, own, "INBOX", "Old"), STORE_EINVAL);
	CHECK_EQ_INT((int)find_id(st, own, "Old"), 0);
	/* The owner acting through the _as calls is the owner's own call. */
	CHECK_EQ_INT(store_mailbox_create_as(st, own, own, "Mine", &id), STORE_OK);
	CHECK_EQ_STR(grants(st, own, id, &g), "");
	store_close(&st);
	unit_rmrf(dir);
}

int main(void)
{
	struct store *st;
	uint32_t ann = 0, bob = 0, cat = 0, team = 0, kid = 0, inbox = 0;
	struct got g;
	char err[256];
	char want[256];

	check_letters();
	check_acting();
	if (unit_env_begin(base, sizeof base, "acl") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "ann@example.test", &ann);
	if (!st)
		return unit_done("test_store_acl");
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw", 0, &bob, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "cat@example.test", "pw", 0, &cat, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Team", &team), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Team/Kid", &kid), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, ann, "INBOX", &inbox), STORE_OK);

	check_grant_logged(st, ann, bob);

	/* Identifiers: "anyone" in any case, an account's address in any
	 * case; an alias or an unknown address is none. */
	uint32_t who = 99;
	CHECK_EQ_INT(store_alias_add(st, "help@example.test", "bob@example.test", err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_acl_identifier(st, "AnyOne", &who), STORE_OK);
	CHECK_EQ_INT((int)who, (int)STORE_ACL_ANYONE);
	CHECK_EQ_INT(store_acl_identifier(st, "Bob@Example.test", &who), STORE_OK);
	CHECK_EQ_INT((int)who, (int)bob);
	CHECK_EQ_INT(store_acl_identifier(st, "help@example.test", &who), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_acl_identifier(st, "zed@example.test", &who), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_acl_identifier(st, "", &who), STORE_ENOTFOUND);

	/* The owner holds every right, nothing stored; others none. */
	CHECK_EQ_INT((int)rights(st, ann, ann, team), (int)STORE_ACL_ALL);
	CHECK_EQ_INT((int)rights(st, bob, ann, team), 0);
	CHECK_EQ_STR(shared(st, bob, &g), "");

	/* A grant: forward and reverse. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("lr")), STORE_OK);
	CHECK_EQ_INT((int)rights(st, bob, ann, team), (int)letters("lr"));
	CHECK_EQ_INT((int)rights(st, cat, ann, team), 0);
	CHECK_EQ_INT((int)rights(st, bob, ann, kid), 0); /* no inheritance */
	snprintf(want, sizeof want, "%u/%u>%u:lr", ann, team, bob);
	CHECK_EQ_STR(grants(st, ann, team, &g), want);
	CHECK_EQ_STR(shared(st, bob, &g), want);
	CHECK_EQ_STR(shared(st, cat, &g), "");

	/* Changed, not added: still one record each way. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("lrswi")), STORE_OK);
	CHECK_EQ_INT((int)rights(st, bob, ann, team), (int)letters("lrswi"));
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 1);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 1);

	/* "+" and "-": added to and taken from the grant in place; taking
	 * the last right away removes the records. */
	uint32_t now = 0;
	CHECK_EQ_INT(store_acl_modify(st, ann, team, bob, STORE_ACL_ADD, letters("te"), &now), STORE_OK);
	CHECK_EQ_INT((int)now, (int)letters("lrswite"));
	CHECK_EQ_INT(store_acl_modify(st, ann, team, bob, STORE_ACL_REMOVE, letters("te"), &now),
		     STORE_OK);
	CHECK_EQ_INT((int)now, (int)letters("lrswi"));
	CHECK_EQ_INT(store_acl_modify(st, ann, kid, cat, STORE_ACL_ADD, letters("l"), &now), STORE_OK);
	CHECK_EQ_INT(store_acl_modify(st, ann, kid, cat, STORE_ACL_REMOVE, STORE_ACL_ALL, &now), STORE_OK);
	CHECK_EQ_INT((int)now, 0);
	CHECK_EQ_INT(store_acl_modify(st, ann, kid, cat, 7, STORE_ACL_ALL, &now), STORE_EINVAL);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 1);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 1);

	/* The owner cannot be a grantee, unknown bits are refused, a
	 * mailbox or grantee that does not exist is ENOTFOUND. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, ann, letters("l")), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, 1u << 20), STORE_EINVAL);
	CHECK_EQ_INT(store_acl_set(st, ann, 999, bob, letters("l")), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_acl_set(st, ann, team, 999, letters("l")), STORE_ENOTFOUND);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 1);

	/* Anyone adds to each account's own grant; the owner's mailbox given
	 * to anyone is not "shared with" the owner. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, STORE_ACL_ANYONE, letters("lrt")), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, inbox, STORE_ACL_ANYONE, letters("l")), STORE_OK);
	CHECK_EQ_INT((int)rights(st, bob, ann, team), (int)letters("lrswit"));
	CHECK_EQ_INT((int)rights(st, cat, ann, team), (int)letters("lrt"));
	CHECK_EQ_INT((int)rights(st, ann, ann, team), (int)STORE_ACL_ALL);
	snprintf(want, sizeof want, "%u/%u>%u:l %u/%u>%u:lrswitd", ann, inbox, bob, ann, team, bob);
	CHECK_EQ_STR(shared(st, bob, &g), want);
	snprintf(want, sizeof want, "%u/%u>%u:l %u/%u>%u:lrtd", ann, inbox, cat, ann, team, cat);
	CHECK_EQ_STR(shared(st, cat, &g), want);
	CHECK_EQ_STR(shared(st, ann, &g), "");
	snprintf(want, sizeof want, "%u/%u>0:lrtd %u/%u>%u:lrswi", ann, team, ann, team, bob);
	CHECK_EQ_STR(grants(st, ann, team, &g), want);
	CHECK_EQ_INT(store_acl_shared_with(st, 0, collect, &g), STORE_EINVAL);

	/* Rights 0 removes the grant, both records. */
	CHECK_EQ_INT(store_acl_set(st, ann, inbox, STORE_ACL_ANYONE, 0), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, inbox, STORE_ACL_ANYONE, 0), STORE_OK); /* again: fine */
	CHECK_EQ_INT((int)rights(st, cat, ann, inbox), 0);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 2);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 2);

	/* RENAME keeps the grants (ids, not names). */
	CHECK_EQ_INT(store_mailbox_rename(st, ann, "Team", "Crew"), STORE_OK);
	CHECK_EQ_INT((int)rights(st, bob, ann, team), (int)letters("lrswit"));

	/* A backup's store.mdb holds both databases, grants and all (a
	 * restore puts that file back whole: store_backup.c). */
	{
		char bdir[300], file[320];
		struct store_backup_info info;
		MDB_env *env = NULL;
		MDB_txn *txn = NULL;
		MDB_dbi fwd, rev;
		MDB_stat fs = {0}, rs = {0};
		snprintf(bdir, sizeof bdir, "%s/backup", base);
		CHECK_EQ_INT(mkdir(bdir, 0700), 0);
		CHECK_EQ_INT(store_backup_write(st, bdir, NULL, &info, NULL, NULL, err, sizeof err),
			     STORE_OK);
		snprintf(file, sizeof file, "%s/store.mdb", bdir);
		CHECK_EQ_INT(mdb_env_create(&env), 0);
		mdb_env_set_maxdbs(env, 64);
		CHECK_EQ_INT(mdb_env_open(env, file, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600), 0);
		CHECK_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
		CHECK_EQ_INT(mdb_dbi_open(txn, "acl", 0, &fwd), 0);
		CHECK_EQ_INT(mdb_dbi_open(txn, "acl_rev", 0, &rev), 0);
		mdb_stat(txn, fwd, &fs);
		mdb_stat(txn, rev, &rs);
		CHECK_EQ_INT((int)fs.ms_entries, 2);
		CHECK_EQ_INT((int)rs.ms_entries, 2);
		mdb_txn_abort(txn);
		mdb_env_close(env);
	}

	/* DELETE of a mailbox drops its grants, forward and reverse. */
	CHECK_EQ_INT(store_acl_set(st, ann, kid, cat, letters("lr")), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete(st, ann, "Crew/Kid"), STORE_OK);
	CHECK_EQ_INT((int)rights(st, cat, ann, kid), 0);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 2);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 2);

	/* Removing a grantee drops the grants made to it; the others stay. */
	uint32_t bobs = 0;
	CHECK_EQ_INT(store_mailbox_find(st, bob, "INBOX", &bobs), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, bob, bobs, cat, letters("lr")), STORE_OK);
	/* And its /private METADATA entries on others' mailboxes go (they
	 * sit in the owners' key space and count against their limits): on
	 * Bob's INBOX (its own grant) and on Ann's Team (anyone's). Bob's
	 * own on Team and Ann's stay. */
	struct store_metadata pe = {str_make("/private/comment", 16), str_make("mine", 4)};
	CHECK_EQ_INT(store_metadata_set_as(st, cat, bob, bobs, &pe, 1), STORE_OK);
	CHECK_EQ_INT(store_metadata_set_as(st, cat, ann, team, &pe, 1), STORE_OK);
	CHECK_EQ_INT(store_metadata_set_as(st, bob, ann, team, &pe, 1), STORE_OK);
	CHECK_EQ_INT(store_metadata_set(st, ann, team, &pe, 1), STORE_OK);
	CHECK_EQ_INT(entries_of(st, cat, bob, bobs), 1);
	CHECK_EQ_INT(entries_of(st, cat, ann, team), 1);
	CHECK_EQ_INT((int)db_entries(st, DB_METADATA), 4);
	/* Bob's log tells the grant to Cat taken away with Cat: his
	 * mailbox's shareWith changed (RFC 9670 §4). */
	uint64_t bob_before = modseq_of(st, bob);
	struct log_got lg;
	CHECK_EQ_INT(store_account_del(st, "cat@example.test", err, sizeof err), STORE_OK);
	snprintf(want, sizeof want, "grant %u>%u:lr->", bobs, cat);
	CHECK_EQ_STR(log_since(st, bob, bob_before, &lg), want);
	CHECK_EQ_INT(entries_of(st, cat, bob, bobs), 0);
	CHECK_EQ_INT(entries_of(st, cat, ann, team), 0);
	CHECK_EQ_INT(entries_of(st, bob, ann, team), 1);
	CHECK_EQ_INT(entries_of(st, ann, ann, team), 1);
	CHECK_EQ_INT((int)db_entries(st, DB_METADATA), 2);
	snprintf(want, sizeof want, "%u/%u>%u:lrswitd", ann, team, bob);
	CHECK_EQ_STR(shared(st, bob, &g), want);
	snprintf(want, sizeof want, "%u/%u>0:lrtd %u/%u>%u:lrswi", ann, team, ann, team, bob);
	CHECK_EQ_STR(grants(st, ann, team, &g), want);
	CHECK_EQ_STR(grants(st, bob, bobs, &g), "");
	CHECK_EQ_INT((int)db_entries(st, DB_ACL), 2);
	CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 2);

	/* A schema 15 store (no acl databases) migrates to 16 and keeps
	 * working; the grants of a 16 store survive a reopen. */
	CHECK_EQ_INT(store_test_set_schema(st, 15), STORE_OK);
	{
		MDB_txn *txn;
		CHECK_EQ_INT(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
		CHECK_EQ_INT(mdb_drop(txn, st->db[DB_ACL], 1), 0);
		CHECK_EQ_INT(mdb_drop(txn, st->db[DB_ACL_REV], 1), 0);
		CHECK_EQ_INT(mdb_txn_commit(txn), 0);
	}
	store_close(&st);
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		CHECK_EQ_INT((int)rights(st, bob, ann, team), 0);
		CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("lr")), STORE_OK);
		store_close(&st);
	}
	CHECK_EQ_INT(store_open(base, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		CHECK_EQ_INT((int)rights(st, bob, ann, team), (int)letters("lr"));
		/* Removing the owner drops the grants on its mailboxes. */
		CHECK_EQ_INT(store_account_del(st, "ann@example.test", err, sizeof err), STORE_OK);
		CHECK_EQ_STR(shared(st, bob, &g), "");
		CHECK_EQ_INT((int)db_entries(st, DB_ACL), 0);
		CHECK_EQ_INT((int)db_entries(st, DB_ACL_REV), 0);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_store_acl");
}
