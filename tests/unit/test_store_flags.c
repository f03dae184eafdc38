/*
 * test_store_flags.c — keywords of emails (set/add/remove, modseqs, change
 * records, UNCHANGEDSINCE), \Deleted per membership (COPY, MOVE, APPEND,
 * EXPUNGE, the schema 2 -> 3 migration), REPLACE's append-and-expunge and mailbox management (create with parents,
 * rename with children, RENAME INBOX, delete with its messages,
 * subscriptions as names of their own, the schema 4 -> 5 migration), and
 * \Recent taken in one step (store_mailbox_recent_take()).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct em {
	uint32_t uid, email_id;
	char kw[256];
	uint64_t modseq;
	int deleted;
};
struct ems {
	struct em v[16];
	int n;
};

static void collect(void *arg, const struct store_email_info *i)
{
	struct ems *e = arg;
	if (e->n == 16)
		return;
	struct em *m = &e->v[e->n++];
	m->uid = i->uid;
	m->email_id = i->email_id;
	m->modseq = i->modseq;
	m->deleted = i->deleted;
	snprintf(m->kw, sizeof m->kw, "%.*s", (int)i->keywords_len, i->keywords);
}

struct mbs {
	char name[16][64];
	uint32_t id[16], parent[16], uidvalidity[16], messages[16];
	int sub[16];
	uint64_t hms[16];
	int n;
};

static void collect_mb(void *arg, const struct store_mailbox_info *i)
{
	struct mbs *m = arg;
	if (m->n == 16)
		return;
	snprintf(m->name[m->n], 64, "%s", i->name);
	m->id[m->n] = i->id;
	m->parent[m->n] = i->parent;
	m->uidvalidity[m->n] = i->uidvalidity;
	m->messages[m->n] = i->messages;
	m->sub[m->n] = i->subscribed;
	m->hms[m->n] = i->highest_modseq;
	m->n++;
}

static int mb_index(const struct mbs *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->name[i], name) == 0)
			return i;
	return -1;
}

/* Number of entries of the change record at modseq and the first kind. */
static int change_at(struct store *st, uint32_t acc, uint64_t modseq, int *kind_r)
{
	MDB_txn *txn;
	uint8_t kb[12];
	MDB_val k = key_u32_u64(kb, acc, modseq), v;
	int n = -1;
	if (store_rd_begin(st, &txn) != 0)
		return -1;
	if (mdb_get(txn, st->db[DB_CHANGE], &k, &v) == 0 && v.mv_size >= 3) {
		n = be16_get((uint8_t *)v.mv_data + 1);
		if (kind_r && n > 0)
			*kind_r = ((uint8_t *)v.mv_data)[3];
	}
	store_rd_end(st, txn);
	return n;
}

static void test_keywords(struct store *st, uint32_t acc)
{
	struct ems e = { 0 };
	struct store_kw_result res[4];
	uint64_t ms0, ms;

	for (int i = 0; i < 3; i++)
		unit_deliver(st, acc,
		             i == 0 ? "Subject: a\r\n\r\nA\r\n"
		             : i == 1 ? "Subject: b\r\n\r\nB\r\n"
		                      : "Subject: c\r\n\r\nC\r\n",
		             1700000000, NULL);
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms0), STORE_OK);
	uint32_t uids[4] = { 1, 2, 99, 3 };

	/* Add to 1, 2 and a missing uid. */
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, uids, 3, STORE_KW_ADD, "$Seen $flagged",
					  0, res, &ms),
		     STORE_OK);
	CHECK_EQ_INT(ms, ms0 + 1);
	CHECK_EQ_INT(res[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(res[0].keywords, "$seen $flagged");
	CHECK_EQ_INT(res[0].modseq, ms0 + 1);
	CHECK_EQ_INT(res[2].status, STORE_KW_GONE);
	CHECK(res[2].keywords == NULL);
	store_kw_results_free(res, 3);
	int kind = 0;
	CHECK_EQ_INT(change_at(st, acc, ms0 + 1, &kind), 2);
	CHECK_EQ_INT(kind, 2);

	CHECK_EQ_INT(store_email_list(st, acc, 1, collect, &e), STORE_OK);
	CHECK_EQ_INT(e.n, 3);
	CHECK_EQ_STR(e.v[0].kw, "$seen $flagged");
	CHECK_EQ_STR(e.v[2].kw, "");
	CHECK_EQ_INT(e.v[0].modseq, ms0 + 1);

	/* Adding again changes nothing and spends no modseq. */
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, uids, 1, STORE_KW_ADD, "$seen", 0, res,
					  &ms),
		     STORE_OK);
	CHECK_EQ_INT(ms, 0);
	CHECK_EQ_INT(res[0].status, STORE_KW_SAME);
	store_kw_results_free(res, 1);
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	CHECK_EQ_INT(ms, ms0 + 1);

	/* Remove, then set. */
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, uids, 2, STORE_KW_REMOVE, "$FLAGGED", 0,
					  res, &ms),
		     STORE_OK);
	CHECK_EQ_STR(res[0].keywords, "$seen");
	CHECK_EQ_STR(res[1].keywords, "$seen");
	store_kw_results_free(res, 2);
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, &uids[3], 1, STORE_KW_SET,
					  "$deleted work", 0, res, &ms),
		     STORE_OK);
	CHECK_EQ_STR(res[0].keywords, "$deleted work");
	store_kw_results_free(res, 1);

	/* UNCHANGEDSINCE below the email's modseq: left alone. */
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, uids, 1, STORE_KW_SET, "", ms0, res, &ms),
		     STORE_OK);
	CHECK_EQ_INT(res[0].status, STORE_KW_MODIFIED);
	CHECK_EQ_STR(res[0].keywords, "$seen");
	store_kw_results_free(res, 1);

	/* Bad keywords and a wrong UIDVALIDITY change nothing. */
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 0, uids, 1, STORE_KW_ADD, "a(b", 0, res, &ms),
		     STORE_EINVAL);
	CHECK_EQ_INT(store_email_keywords(st, acc, 1, 12345, uids, 1, STORE_KW_ADD, "x", 0, res,
					  &ms),
		     STORE_ENOTFOUND);

	/* Expunge of \Deleted: uid 3 goes, the others stay. */
	size_t removed = 0;
	struct mbs m = { 0 };
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK_EQ_INT(store_expunge(st, acc, 1, m.uidvalidity[0], &uids[3], 1, &removed, NULL),
		     STORE_OK);
	CHECK_EQ_INT(removed, 1);
}

static uint32_t mailbox_id(struct store *st, uint32_t acc, const char *name, uint32_t *uv_r)
{
	struct mbs m = { 0 };
	store_mailbox_list(st, acc, collect_mb, &m);
	int i = mb_index(&m, name);
	CHECK(i >= 0);
	if (i < 0)
		return 0;
	if (uv_r)
		*uv_r = m.uidvalidity[i];
	return m.id[i];
}

static struct em list_one(struct store *st, uint32_t acc, uint32_t mailbox, int *n_r)
{
	struct ems e = { 0 };
	CHECK_EQ_INT(store_email_list(st, acc, mailbox, collect, &e), STORE_OK);
	*n_r = e.n;
	return e.n ? e.v[e.n - 1] : (struct em){ 0 };
}

/* Puts "$deleted" back into an email's keywords, as schema 2 kept it. */
struct old_kw {
	uint32_t acc, email_id;
	const char *kw;
};

static int put_old_keywords(struct store *st, MDB_txn *txn, void *arg)
{
	struct old_kw *o = arg;
	uint8_t kb[8], *copy;
	MDB_val k = key_u32_u32(kb, o->acc, o->email_id);
	struct email_rec e;
	int rc = email_get_copy(txn, st, &k, &e, &copy);
	if (rc == 0) {
		e.keywords = o->kw;
		e.keywords_len = (uint16_t)strlen(o->kw);
		rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
	}
	free(copy);
	return rc;
}

/*
 * \Deleted is the membership's: a copy keeps the flags it was made with,
 * but marking the original \Deleted and expunging it (a client's "save to
 * folder" without MOVE) leaves the copy whole and not \Deleted. Other
 * keywords stay the email's, shared by its copies.
 */
static void test_deleted_per_membership(struct store **stp, const char *dir, uint32_t acc)
{
	struct store *st = *stp;
	struct store_kw_result res[2];
	struct store_copy_result cr;
	uint32_t iv, av, jv;
	uint32_t inbox = mailbox_id(st, acc, "INBOX", &iv);
	uint32_t archive = mailbox_id(st, acc, "Archive", &av);
	uint32_t junk = mailbox_id(st, acc, "Junk", &jv);
	int n;

	unit_deliver(st, acc, "Subject: keep me\r\n\r\nK\r\n", 1700000100, NULL);
	struct em in = list_one(st, acc, inbox, &n);
	uint32_t uid = in.uid;
	CHECK_EQ_INT(store_email_copy(st, acc, inbox, iv, &uid, 1, archive, 0, &cr), STORE_OK);
	CHECK_EQ_INT(cr.n, 1);
	store_copy_result_free(&cr);

	/* neomutt's save: \Deleted (and \Seen) on the original. */
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &uid, 1, STORE_KW_ADD, "$seen $deleted",
					  0, res, NULL),
		     STORE_OK);
	CHECK_EQ_INT(res[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(res[0].keywords, "$seen $deleted");
	store_kw_results_free(res, 1);
	in = list_one(st, acc, inbox, &n);
	CHECK_EQ_INT(in.deleted, 1);
	CHECK_EQ_STR(in.kw, "$seen");
	struct em ar = list_one(st, acc, archive, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ar.deleted, 0);
	CHECK_EQ_STR(ar.kw, "$seen"); /* shared */
	CHECK_EQ_INT(ar.modseq, in.modseq);

	/* Only \Deleted again: the same, no modseq spent. */
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &uid, 1, STORE_KW_ADD, "$deleted", 0,
					  res, NULL),
		     STORE_OK);
	CHECK_EQ_INT(res[0].status, STORE_KW_SAME);
	store_kw_results_free(res, 1);

	size_t removed = 0;
	CHECK_EQ_INT(store_expunge(st, acc, inbox, iv, &uid, 1, &removed, NULL), STORE_OK);
	CHECK_EQ_INT(removed, 1);
	ar = list_one(st, acc, archive, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ar.deleted, 0);

	/* \Deleted alone changes the modseq (CONDSTORE) and comes off again;
	 * a copy made meanwhile keeps it, the original loses it. */
	uid = ar.uid;
	CHECK_EQ_INT(store_email_keywords(st, acc, archive, 0, &uid, 1, STORE_KW_ADD, "$DELETED",
					  0, res, NULL),
		     STORE_OK);
	CHECK_EQ_INT(res[0].status, STORE_KW_CHANGED);
	CHECK(res[0].modseq > ar.modseq);
	store_kw_results_free(res, 1);
	CHECK_EQ_INT(store_email_copy(st, acc, archive, av, &uid, 1, junk, 0, &cr), STORE_OK);
	store_copy_result_free(&cr);
	CHECK_EQ_INT(store_email_keywords(st, acc, archive, 0, &uid, 1, STORE_KW_SET, "$seen", 0,
					  res, NULL),
		     STORE_OK);
	CHECK_EQ_STR(res[0].keywords, "$seen");
	store_kw_results_free(res, 1);
	ar = list_one(st, acc, archive, &n);
	CHECK_EQ_INT(ar.deleted, 0);
	struct em jk = list_one(st, acc, junk, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(jk.deleted, 1);
	CHECK_EQ_STR(jk.kw, "$seen");

	/* APPEND with \Deleted: the membership has it, the email not. */
	struct store_delivery d;
	unit_delivery_init(&d, "Subject: appended\r\n\r\nA\r\n", &acc, 1700000200);
	d.mailbox = archive;
	d.keywords = "$Deleted $Flagged";
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	ar = list_one(st, acc, archive, &n);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ar.deleted, 1);
	CHECK_EQ_STR(ar.kw, "$flagged");

	/* Schema 2 kept $deleted among the email's keywords: opening the
	 * store migrates it to every membership and out of the keywords. */
	uid = ar.uid;
	CHECK_EQ_INT(store_email_copy(st, acc, archive, av, &uid, 1, inbox, 0, &cr), STORE_OK);
	store_copy_result_free(&cr);
	CHECK_EQ_INT(store_email_keywords(st, acc, archive, 0, &uid, 1, STORE_KW_REMOVE, "$deleted",
					  0, res, NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	struct old_kw o = { acc, ar.email_id, "$flagged $deleted" };
	CHECK_EQ_INT(store_write(st, put_old_keywords, &o), STORE_OK);
	CHECK_EQ_INT(store_test_set_schema(st, 2), STORE_OK);
	store_close(stp);
	char err[256] = "";
	CHECK_EQ_INT(store_open(dir, 0, stp, err, sizeof err), STORE_OK);
	st = *stp;
	if (!st)
		return;
	ar = list_one(st, acc, archive, &n);
	CHECK_EQ_INT(ar.deleted, 1);
	CHECK_EQ_STR(ar.kw, "$flagged");
	in = list_one(st, acc, inbox, &n);
	CHECK_EQ_INT(in.email_id, ar.email_id);
	CHECK_EQ_INT(in.deleted, 1);
	CHECK_EQ_STR(in.kw, "$flagged");
	jk = list_one(st, acc, junk, &n);
	CHECK_EQ_INT(jk.deleted, 1); /* untouched */
}

static void noop_raw(void *arg, const char *d, size_t n)
{
	(void)arg;
	(void)d;
	(void)n;
}

static void test_mailboxes(struct store *st, uint32_t acc)
{
	struct mbs m = { 0 };
	uint32_t id = 0;
	uint64_t ms0, ms;

	CHECK_EQ_INT(store_account_modseq(st, acc, &ms0), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Work/2024/Q1", &id), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Work", NULL), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "inbox", NULL), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "a//b", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "/a", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "a*", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	CHECK_EQ_INT(ms, ms0 + 1);
	store_mailbox_list(st, acc, collect_mb, &m);
	int w = mb_index(&m, "Work"), y = mb_index(&m, "Work/2024"), q = mb_index(&m, "Work/2024/Q1");
	CHECK(w >= 0 && y >= 0 && q >= 0);
	if (w < 0 || y < 0 || q < 0)
		return;
	CHECK_EQ_INT(m.id[q], id);
	CHECK_EQ_INT(m.parent[q], m.id[y]);
	CHECK_EQ_INT(m.parent[y], m.id[w]);
	CHECK_EQ_INT(m.parent[w], 0);
	CHECK_EQ_INT(m.sub[w], 0);
	CHECK(m.uidvalidity[w] > m.uidvalidity[0]);

	/* Rename with children, into a new parent. */
	uint32_t q_uv = m.uidvalidity[q];
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Work", "Old/Job"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Nope", "X"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Sent", "Trash"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Old", "Old/Job/x"), STORE_EINVAL);
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK(mb_index(&m, "Work") < 0);
	int o = mb_index(&m, "Old"), j = mb_index(&m, "Old/Job"), q2 = mb_index(&m, "Old/Job/2024/Q1");
	CHECK(o >= 0 && j >= 0 && q2 >= 0);
	if (o < 0 || j < 0 || q2 < 0)
		return;
	CHECK_EQ_INT(m.parent[j], m.id[o]);
	CHECK_EQ_INT(m.uidvalidity[q2], q_uv);
	CHECK_EQ_INT(m.id[q2], id);

	/* Subscribe. */
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Old/Job", 1), STORE_OK);
	/* A name without a mailbox too (RFC 9051 §6.3.7, as Dovecot). */
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Nope", 1), STORE_OK);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Nope", 0), STORE_OK);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Nope", 0), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "a//b", 1), STORE_EINVAL);
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Old/Job")], 1);

	/* RENAME INBOX: its two messages move with new UIDs, INBOX stays. */
	struct ems e = { 0 };
	store_email_list(st, acc, 1, collect, &e);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "INBOX", "Saved"), STORE_OK);
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	int in = mb_index(&m, "INBOX"), sv = mb_index(&m, "Saved");
	CHECK(in >= 0 && sv >= 0);
	if (in < 0 || sv < 0)
		return;
	CHECK_EQ_INT(m.messages[in], 0);
	CHECK_EQ_INT(m.messages[sv], 2);
	struct ems e2 = { 0 };
	store_email_list(st, acc, m.id[sv], collect, &e2);
	CHECK_EQ_INT(e2.n, 2);
	CHECK_EQ_INT(e2.v[0].uid, 1);
	CHECK_EQ_INT(e2.v[0].email_id, e.v[0].email_id);
	CHECK_EQ_STR(e2.v[0].kw, "$seen");
	struct ems e3 = { 0 };
	store_email_list(st, acc, 1, collect, &e3);
	CHECK_EQ_INT(e3.n, 0);

	/* Delete: INBOX no, a parent no, a leaf with messages yes. */
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "INBOX"), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Old/Job"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Nope"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Old/Job/2024/Q1"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Saved"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Trash"), STORE_OK); /* special-use: allowed */
	int kind = 0;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	CHECK_EQ_INT(change_at(st, acc, ms, &kind), 1);
	CHECK_EQ_INT(kind, 6);
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK(mb_index(&m, "Saved") < 0);
	CHECK(mb_index(&m, "Old/Job/2024/Q1") < 0);
	/* The emails of Saved are gone with it. */
	CHECK_EQ_INT(store_email_raw(st, acc, e.v[0].email_id, noop_raw, NULL), STORE_ENOTFOUND);
}

/*
 * REPLACE (RFC 8508): the append and the old message's expunge are one
 * transaction. The old message gone (or under another UIDVALIDITY): the
 * whole request is refused and nothing is appended; a missing target:
 * refused, the old message kept.
 */
static void test_replace(struct store *st, uint32_t acc)
{
	uint32_t drafts = 0, sent = 0, dv, sv;
	struct store_delivery d;
	int n;

	CHECK_EQ_INT(store_mailbox_create(st, acc, "RDrafts", &drafts), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "RSent", &sent), STORE_OK);
	mailbox_id(st, acc, "RDrafts", &dv);
	mailbox_id(st, acc, "RSent", &sv);
	unit_delivery_init(&d, "Subject: v1\r\n\r\n1\r\n", &acc, 1700000300);
	d.mailbox = drafts;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	uint32_t old = d.uid_r;

	/* Into the same mailbox: the new one in, the old one out. */
	unit_delivery_init(&d, "Subject: v2\r\n\r\n2\r\n", &acc, 1700000301);
	d.mailbox = drafts;
	d.keywords = "$draft";
	d.replace_mailbox = drafts;
	d.replace_uidvalidity = dv;
	d.replace_uid = old;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(d.replace_gone_r, 0);
	struct em e = list_one(st, acc, drafts, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(e.uid, d.uid_r);
	CHECK(d.uid_r > old);
	old = d.uid_r;

	/* The old message already gone: refused, nothing appended. */
	unit_delivery_init(&d, "Subject: v3\r\n\r\n3\r\n", &acc, 1700000302);
	d.mailbox = sent;
	d.replace_mailbox = drafts;
	d.replace_uidvalidity = dv;
	d.replace_uid = old + 100;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_ENOTFOUND);
	CHECK_EQ_INT(d.replace_gone_r, 1);
	list_one(st, acc, sent, &n);
	CHECK_EQ_INT(n, 0);
	/* Another UIDVALIDITY: the same. */
	d.replace_uid = old;
	d.replace_uidvalidity = dv + 1;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_ENOTFOUND);
	CHECK_EQ_INT(d.replace_gone_r, 1);
	list_one(st, acc, sent, &n);
	CHECK_EQ_INT(n, 0);

	/* A missing target: refused, the old message kept. */
	d.replace_uidvalidity = dv;
	d.mailbox = 999999;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_ENOTFOUND);
	CHECK_EQ_INT(d.replace_gone_r, 0);
	list_one(st, acc, drafts, &n);
	CHECK_EQ_INT(n, 1);

	/* Into another mailbox: moved over, one change record for both. */
	uint64_t before = 0, after = 0;
	CHECK_EQ_INT(store_account_modseq(st, acc, &before), STORE_OK);
	d.mailbox = sent;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(d.uidvalidity_r, sv);
	list_one(st, acc, drafts, &n);
	CHECK_EQ_INT(n, 0);
	list_one(st, acc, sent, &n);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(store_account_modseq(st, acc, &after), STORE_OK);
	CHECK(after > before);
}

/* Subscribed names, sorted, joined by spaces. */
struct subs {
	char names[16][64];
	int n;
};

static void collect_sub(void *arg, const char *name)
{
	struct subs *s = arg;
	if (s->n < 16)
		snprintf(s->names[s->n++], 64, "%s", name);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void subs_of(struct store *st, uint32_t acc, char *out, size_t outsz)
{
	struct subs s = { 0 };
	size_t at = 0;
	CHECK_EQ_INT(store_subscription_list(st, acc, collect_sub, &s), STORE_OK);
	qsort(s.names, (size_t)s.n, sizeof s.names[0], cmp_name);
	out[0] = '\0';
	for (int i = 0; i < s.n && at < outsz; i++)
		at += (size_t)snprintf(out + at, outsz - at, "%s%s", i ? " " : "", s.names[i]);
}

/* Puts the account back in the schema 4 layout: subscriptions are the
 * mailbox records' flags (the names in `on`), none in `subscription`. */
struct old_subs {
	uint32_t acc;
	const char *const *on;
};

static int put_old_subscriptions(struct store *st, MDB_txn *txn, void *arg)
{
	struct old_subs *o = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t pfx[4];
	int rc = mdb_drop(txn, st->db[DB_SUBSCRIPTION], 0);
	uint32_t ids[64];
	size_t n = 0;

	if (rc || (rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur)) != 0)
		return rc;
	be32_put(pfx, o->acc);
	k = (MDB_val){ 4, pfx };
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && memcmp(k.mv_data, pfx, 4) == 0 && n < 64;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		ids[n++] = be32_get((uint8_t *)k.mv_data + 4);
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n; i++) {
		struct mbox_rec m;
		if ((rc = mbox_get(txn, st, o->acc, ids[i], &m)) != 0)
			return rc;
		m.subscribed = 0;
		for (const char *const *p = o->on; *p; p++)
			if (strcmp(*p, m.name) == 0)
				m.subscribed = 1;
		if ((rc = mbox_put(txn, st, o->acc, ids[i], &m)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Subscriptions are names of the account's (schema 5): a store written
 * with the schema 4 layout (a flag on each mailbox record) opens with the
 * same subscriptions; then DELETE and RENAME leave them alone, and a
 * mailbox created again under a subscribed name is subscribed.
 */
static void test_subscriptions(struct store **stp, const char *dir, uint32_t acc)
{
	struct store *st = *stp;
	char got[1024];

	CHECK_EQ_INT(store_mailbox_create(st, acc, "Lists/Tern", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Plain", NULL), STORE_OK);
	static const char *const on[] = { "INBOX", "Lists/Tern", "Sent", NULL };
	struct old_subs o = { acc, on };
	CHECK_EQ_INT(store_write(st, put_old_subscriptions, &o), STORE_OK);
	subs_of(st, acc, got, sizeof got);
	CHECK_EQ_STR(got, "");
	CHECK_EQ_INT(store_test_set_schema(st, 4), STORE_OK);
	store_close(stp);
	char err[256] = "";
	CHECK_EQ_INT(store_open(dir, 0, stp, err, sizeof err), STORE_OK);
	st = *stp;
	if (!st)
		return;
	subs_of(st, acc, got, sizeof got);
	CHECK_EQ_STR(got, "INBOX Lists/Tern Sent");
	struct mbs m = { 0 };
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Lists/Tern")], 1);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Lists")], 0);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Plain")], 0);
	CHECK_EQ_INT(m.sub[mb_index(&m, "INBOX")], 1);

	/* DELETE keeps the name; RENAME moves no subscription. */
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Lists/Tern"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Plain", 1), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Plain", "Renamed"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "inbox/Never", 1), STORE_OK);
	subs_of(st, acc, got, sizeof got);
	CHECK_EQ_STR(got, "INBOX INBOX/Never Lists/Tern Plain Sent");
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Renamed")], 0);

	/* Created again: subscribed, as its name is. */
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Lists/Tern", NULL), STORE_OK);
	memset(&m, 0, sizeof m);
	store_mailbox_list(st, acc, collect_mb, &m);
	CHECK_EQ_INT(m.sub[mb_index(&m, "Lists/Tern")], 1);

	/* Unsubscribing names without a mailbox. */
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Plain", 0), STORE_OK);
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "INBOX/Never", 0), STORE_OK);
	subs_of(st, acc, got, sizeof got);
	CHECK_EQ_STR(got, "INBOX Lists/Tern Sent");

	/* Subscriptions survive a reopen. */
	store_close(stp);
	CHECK_EQ_INT(store_open(dir, 0, stp, err, sizeof err), STORE_OK);
	st = *stp;
	if (!st)
		return;
	subs_of(st, acc, got, sizeof got);
	CHECK_EQ_STR(got, "INBOX Lists/Tern Sent");
}

/*
 * \Recent taken (store_mailbox_recent_take()): the range read is noted as
 * claimed at once, so the next reader, before any commit, finds nothing
 * recent, and a new message is the next taker's alone.
 */
static void test_recent_take(struct store *st, uint32_t acc)
{
	uint32_t first = 0, next = 0, f2 = 0, n2 = 0;

	unit_deliver(st, acc, "Subject: r\r\n\r\nR\r\n", 1700000200, NULL);
	CHECK_EQ_INT(store_mailbox_recent(st, acc, 1, &first, &next), STORE_OK);
	CHECK(first < next);
	CHECK_EQ_INT(store_mailbox_recent_take(st, acc, 1, &f2, &n2), STORE_OK);
	CHECK_EQ_INT(f2, first);
	CHECK_EQ_INT(n2, next);
	/* Nothing committed yet: taken all the same, for readers and takers. */
	CHECK_EQ_INT(store_mailbox_recent(st, acc, 1, &f2, &n2), STORE_OK);
	CHECK_EQ_INT(f2, next);
	CHECK_EQ_INT(n2, next);
	CHECK_EQ_INT(store_mailbox_recent_take(st, acc, 1, &f2, &n2), STORE_OK);
	CHECK_EQ_INT(f2, n2);
	unit_deliver(st, acc, "Subject: s\r\n\r\nS\r\n", 1700000300, NULL);
	CHECK_EQ_INT(store_mailbox_recent_take(st, acc, 1, &f2, &n2), STORE_OK);
	CHECK_EQ_INT(f2, next);
	CHECK_EQ_INT(n2, next + 1);
	CHECK_EQ_INT(store_mailbox_recent_take(st, acc, 1, &f2, &n2), STORE_OK);
	CHECK_EQ_INT(f2, n2);
	CHECK_EQ_INT(store_mailbox_recent_take(st, acc, 999, &f2, &n2), STORE_ENOTFOUND);
}

int main(void)
{
	struct store *st = NULL;
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "flags") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (st) {
		test_keywords(st, acc);
		test_mailboxes(st, acc);
		test_deleted_per_membership(&st, base, acc);
		if (st)
			test_replace(st, acc);
		if (st)
			test_subscriptions(&st, base, acc);
		if (st)
			test_recent_take(st, acc);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_store_flags");
}
