/*
 * test_imap_view.c — the IMAP session's mailbox snapshot kept up to date
 * from the change log (store_mailbox_delta, imap_view_sync/refresh):
 * after deliveries, flag changes (also through a copy in another
 * mailbox), expunges, COPY and MOVE, the patched snapshot equals a fresh
 * read of the mailbox and the untagged responses are the ones a full
 * re-read gives; a mailbox that changed a lot falls back to the full
 * read; a deleted mailbox is reported, and so is one that took another
 * UIDVALIDITY (tern import: its UIDs start again at 1, no diff can say
 * it), which a new SELECT reads afresh. Snapshots kept across sessions
 * (imap_view_cache.h) are brought up to date the same way, a snapshot
 * newer than the store is not trusted, and an older one never replaces a
 * newer one.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "imap/imap_mailbox_view.h"
#include "imap/imap_view_cache.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static void deliver(struct store *st, uint32_t acc, int i)
{
	char text[128];
	snprintf(text, sizeof text, "Subject: m%d\r\n\r\nbody %d\r\n", i, i);
	unit_deliver(st, acc, text, 1700000000 + i, NULL);
}

/* v equals a fresh read of its mailbox, message by message. */
static void check_same_as_fresh(struct store *st, const struct imap_mailbox_view *v)
{
	struct imap_mailbox_view f;
	imap_view_cache_clear(); /* a read of the store, not of a kept snapshot */
	CHECK_EQ_INT(imap_view_load(&f, st, v->account, v->mailbox), STORE_OK);
	CHECK_EQ_INT(v->count, f.count);
	CHECK_EQ_INT(v->modseq, f.modseq);
	CHECK_EQ_INT(v->uidnext, f.uidnext);
	CHECK_EQ_INT(v->uidvalidity, f.uidvalidity);
	CHECK_EQ_INT(v->highest_modseq, f.highest_modseq);
	for (uint32_t i = 0; i < v->count && i < f.count; i++) {
		const struct imap_msg *a = &v->msgs[i], *b = &f.msgs[i];
		CHECK_EQ_INT(a->uid, b->uid);
		CHECK_EQ_INT(a->email_id, b->email_id);
		CHECK_EQ_INT(a->flags, b->flags);
		CHECK_EQ_INT(a->modseq, b->modseq);
		CHECK(b->modseq <= f.highest_modseq); /* RFC 7162: HIGHESTMODSEQ bounds them */
		CHECK_EQ_INT(a->size, b->size);
		CHECK_EQ_INT(a->saved_at, b->saved_at);
		CHECK_EQ_STR(a->kw ? a->kw : "", b->kw ? b->kw : "");
	}
	imap_view_free(&f);
}

static int has(const struct buf *b, const char *s)
{
	return memmem(buf_data(b), buf_len(b), s, strlen(s)) != NULL;
}

static void test_delta(struct store *st, uint32_t acc)
{
	struct imap_mailbox_view v;
	struct store_kw_result res[2];
	struct store_copy_result cr;
	struct buf out;
	uint32_t inbox, archive;
	uint32_t u;

	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Archive", &archive), STORE_OK);
	for (int i = 1; i <= 5; i++)
		deliver(st, acc, i);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK);
	CHECK_EQ_INT(v.count, 5);

	/* Nothing changed: no responses. */
	buf_init(&out, 1 << 20);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	CHECK_EQ_INT(buf_len(&out), 0);

	/* A new message, a flag, an expunge, and a flag set through a copy
	 * of message 4 in Archive (keywords are the email's). */
	deliver(st, acc, 6);
	u = 2;
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &u, 1, STORE_KW_ADD, "$seen foo", 0, res,
					  NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	u = 3;
	CHECK_EQ_INT(store_expunge(st, acc, inbox, v.uidvalidity, &u, 1, NULL, NULL), STORE_OK);
	u = 4;
	memset(&cr, 0, sizeof cr);
	CHECK_EQ_INT(store_email_copy(st, acc, inbox, v.uidvalidity, &u, 1, archive, 0, &cr),
		     STORE_OK);
	CHECK_EQ_INT(cr.n, 1);
	uint32_t au = cr.n ? cr.dst_uids[0] : 1;
	store_copy_result_free(&cr);
	CHECK_EQ_INT(store_email_keywords(st, acc, archive, 0, &au, 1, STORE_KW_ADD, "$flagged", 0,
					  res, NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);

	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	buf_append(&out, "", 1);
	CHECK(has(&out, "* 3 EXPUNGE\r\n"));
	CHECK(has(&out, "* 2 FETCH (FLAGS (\\Seen foo))\r\n"));
	CHECK(has(&out, "* 3 FETCH (FLAGS (\\Flagged))\r\n")); /* uid 4, now number 3 */
	CHECK(has(&out, "* 5 EXISTS\r\n"));
	/* EXPUNGE before the FETCHes in the new numbering, EXISTS last. */
	CHECK(strstr(buf_data(&out), "EXPUNGE") < strstr(buf_data(&out), "FETCH"));
	CHECK(strstr(buf_data(&out), "FETCH") < strstr(buf_data(&out), "EXISTS"));
	check_same_as_fresh(st, &v);

	/* MOVE out of INBOX, seen with QRESYNC as VANISHED. */
	v.qresync = 1;
	u = 5;
	memset(&cr, 0, sizeof cr);
	CHECK_EQ_INT(store_email_copy(st, acc, inbox, v.uidvalidity, &u, 1, archive, 1, &cr),
		     STORE_OK);
	store_copy_result_free(&cr);
	buf_reset(&out);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	buf_append(&out, "", 1);
	/* VANISHED lowers the count as EXPUNGE does: no EXISTS (as Dovecot). */
	CHECK_EQ_STR(buf_data(&out), "* VANISHED 5\r\n");
	check_same_as_fresh(st, &v);
	v.qresync = 0;

	/* Silent refresh (SELECT of the selected mailbox). */
	deliver(st, acc, 7);
	CHECK_EQ_INT(imap_view_refresh(&v, st), 0);
	CHECK_EQ_INT(v.count, 5);
	check_same_as_fresh(st, &v);

	/* Many changes: past the delta's limit the whole mailbox is read. */
	for (int i = 0; i < 300; i++)
		deliver(st, acc, 100 + i);
	buf_reset(&out);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	buf_append(&out, "", 1);
	CHECK_EQ_STR(buf_data(&out), "* 305 EXISTS\r\n");
	check_same_as_fresh(st, &v);

	/* Archive deleted under a view of it: -2. */
	struct imap_mailbox_view av;
	CHECK_EQ_INT(imap_view_load(&av, st, acc, archive), STORE_OK);
	CHECK_EQ_INT(av.count, 2);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Archive"), STORE_OK);
	buf_reset(&out);
	CHECK_EQ_INT(imap_view_sync(&av, st, &out, NULL), -2);
	CHECK_EQ_INT(imap_view_refresh(&av, st), -2);
	imap_view_free(&av);

	/* The INBOX view saw nothing of it but the modseq. */
	buf_reset(&out);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	check_same_as_fresh(st, &v);
	buf_free(&out);
	imap_view_free(&v);
}

/* Snapshots kept across sessions (imap_view_cache.h). */
static void test_cache(struct store *st, uint32_t acc)
{
	struct imap_mailbox_view v, c;
	struct store_kw_result res[1];
	uint32_t inbox;

	imap_view_cache_clear();
	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	CHECK_EQ_INT(imap_view_cache_get(st, acc, inbox, &c), 0);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK);
	uint32_t n0 = v.count;
	CHECK(n0 > 3);
	v.condstore = 1;
	imap_view_close(&v, st); /* a session ends */
	CHECK_EQ_INT(v.count, 0);
	CHECK(v.msgs == NULL);

	/* Another session changes the mailbox after that. */
	deliver(st, acc, 900);
	CHECK_EQ_INT(imap_view_cache_get(st, acc, inbox, &c), 1);
	CHECK_EQ_INT(c.count, n0);
	CHECK_EQ_INT(c.condstore, 0); /* per-session settings stay behind */
	uint32_t first = c.msgs[0].uid, second = c.msgs[1].uid;
	CHECK_EQ_INT(store_expunge(st, acc, inbox, c.uidvalidity, &first, 1, NULL, NULL), STORE_OK);
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &second, 1, STORE_KW_ADD, "$seen", 0,
					  res, NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	imap_view_free(&c);

	/* The next SELECT starts from the kept snapshot and sees it all. */
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK);
	CHECK_EQ_INT(v.count, n0); /* one new, one gone */
	CHECK(v.msgs[0].uid == second && (v.msgs[0].flags & IMAP_F_SEEN));
	CHECK_EQ_INT(imap_view_last_uid(&v) > first, 1);
	check_same_as_fresh(st, &v);

	/* A snapshot newer than the store (another store at the same
	 * address): the load reads the mailbox instead. */
	imap_view_cache_clear();
	v.modseq += 1000;
	imap_view_close(&v, st);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK);
	check_same_as_fresh(st, &v);

	/* An older snapshot does not replace a newer one. */
	CHECK_EQ_INT(imap_view_load(&c, st, acc, inbox), STORE_OK);
	c.modseq -= 1;
	imap_view_close(&v, st);
	imap_view_close(&c, st);
	struct imap_mailbox_view g;
	CHECK_EQ_INT(imap_view_cache_get(st, acc, inbox, &g), 1);
	struct imap_mailbox_view f;
	imap_view_cache_clear();
	CHECK_EQ_INT(imap_view_load(&f, st, acc, inbox), STORE_OK);
	CHECK_EQ_INT(g.modseq, f.modseq);
	imap_view_free(&f);
	imap_view_free(&g);
	imap_view_cache_clear();
}

/*
 * One email twice in a mailbox (copied out and back in): a change through
 * one membership names only that one in the log, and a view must still
 * see the other take the email's keywords and modseq, while \Deleted
 * stays the membership's own. Both for a snapshot kept in the cache and
 * for a live view with its untagged responses.
 */
static void test_twice_in_one_mailbox(struct store *st, uint32_t acc)
{
	struct imap_mailbox_view v, c;
	struct store_kw_result res[1];
	struct store_copy_result cr;
	struct buf out;
	uint32_t inbox, dup, u, back;

	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Dup", &dup), STORE_OK);
	deliver(st, acc, 900);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK);
	u = imap_view_last_uid(&v);
	memset(&cr, 0, sizeof cr);
	CHECK_EQ_INT(store_email_copy(st, acc, inbox, v.uidvalidity, &u, 1, dup, 0, &cr),
		     STORE_OK);
	uint32_t du = cr.n ? cr.dst_uids[0] : 1, dup_validity = cr.uidvalidity;
	store_copy_result_free(&cr);
	memset(&cr, 0, sizeof cr);
	CHECK_EQ_INT(store_email_copy(st, acc, dup, dup_validity, &du, 1, inbox, 0, &cr),
		     STORE_OK);
	back = cr.n ? cr.dst_uids[0] : 0;
	store_copy_result_free(&cr);
	CHECK_EQ_INT(imap_view_refresh(&v, st), 0);
	uint32_t s1 = imap_view_seq(&v, u), s2 = imap_view_seq(&v, back);
	CHECK(s1 && s2 && v.msgs[s1 - 1].email_id == v.msgs[s2 - 1].email_id);
	imap_view_close(&v, st); /* kept in the cache at this modseq */

	/* Flagged through the first, \Deleted through the second. */
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &u, 1, STORE_KW_ADD, "$flagged", 0,
					  res, NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &back, 1, STORE_KW_ADD, "$deleted",
					  0, res, NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, inbox), STORE_OK); /* from the cache */
	if (s2 <= v.count) {
		CHECK_EQ_INT(v.msgs[s1 - 1].flags, IMAP_F_FLAGGED);
		CHECK_EQ_INT(v.msgs[s2 - 1].flags, IMAP_F_FLAGGED | IMAP_F_DELETED);
		CHECK_EQ_INT(v.msgs[s1 - 1].modseq, v.msgs[s2 - 1].modseq);
	}
	check_same_as_fresh(st, &v);

	/* A live view: both messages' FETCH, the second keeping \Deleted. */
	CHECK_EQ_INT(store_email_keywords(st, acc, inbox, 0, &u, 1, STORE_KW_ADD, "$seen", 0, res,
					  NULL),
		     STORE_OK);
	store_kw_results_free(res, 1);
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), 0);
	buf_append(&out, "", 1);
	char want[64];
	snprintf(want, sizeof want, "* %u FETCH (FLAGS (\\Flagged \\Seen))\r\n", s1);
	CHECK(has(&out, want));
	snprintf(want, sizeof want, "* %u FETCH (FLAGS (\\Flagged \\Deleted \\Seen))\r\n", s2);
	CHECK(has(&out, want));
	check_same_as_fresh(st, &v);
	buf_free(&out);
	imap_view_free(&v);

	/* RENAME INBOX moves both copies to a new mailbox at a new modseq:
	 * the copy in Dup shows it, and Dup's HIGHESTMODSEQ follows. */
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "INBOX", "Old"), STORE_OK);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, dup), STORE_OK);
	check_same_as_fresh(st, &v);
	imap_view_free(&v);
	/* Expunging the copy in Dup leaves the email's modseq to the two in
	 * Old (their mailbox's HIGHESTMODSEQ does not move). */
	uint32_t old_box;
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Old", &old_box), STORE_OK);
	CHECK_EQ_INT(imap_view_load(&c, st, acc, old_box), STORE_OK);
	CHECK_EQ_INT(store_expunge(st, acc, dup, dup_validity, &du, 1, NULL, NULL), STORE_OK);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, old_box), STORE_OK);
	check_same_as_fresh(st, &v);
	CHECK_EQ_INT(v.highest_modseq, c.highest_modseq);
	imap_view_free(&v);
	imap_view_free(&c);
	imap_view_cache_clear();
}

/*
 * An empty mailbox takes another UIDVALIDITY and messages with UIDs from 1
 * (store_mailbox_uids_keep, as tern import): a view of it from before is
 * told -3 by imap_view_sync and imap_view_refresh, unchanged and with
 * nothing written; imap_view_load, also from the snapshot the view left
 * (imap_view_cache.h), gives the new state.
 */
static void test_uidvalidity_change(struct store *st, uint32_t acc)
{
	struct imap_mailbox_view v, n;
	struct store_delivery d[2];
	struct buf out;
	uint32_t box, gone = 1;

	CHECK_EQ_INT(store_mailbox_create(st, acc, "Moved", &box), STORE_OK);
	unit_delivery_init(&d[0], "Subject: before\r\n\r\nx\r\n", &acc, 1700000000);
	d[0].mailbox = box;
	CHECK_EQ_INT(store_deliver_sync(st, &d[0]), STORE_OK);
	CHECK_EQ_INT(imap_view_load(&v, st, acc, box), STORE_OK);
	uint32_t uv = v.uidvalidity;
	CHECK_EQ_INT(store_expunge(st, acc, box, uv, &gone, 1, NULL, NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Moved", 1234, 0, NULL), STORE_OK);
	for (int i = 0; i < 2; i++) {
		unit_delivery_init(&d[i], i ? "Subject: b\r\n\r\nb\r\n" : "Subject: a\r\n\r\na\r\n",
				   &acc, 1700000000);
		d[i].mailbox = box;
		d[i].uid = (uint32_t)(1 + 4 * i); /* 1 (the expunged one's UID) and 5 */
		d[i].also = i ? NULL : &d[1];
	}
	CHECK_EQ_INT(store_deliver_sync(st, &d[0]), STORE_OK);
	/* The source's UIDNEXT once its messages are in, as tern import. */
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Moved", 1234, 9, NULL), STORE_OK);

	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(imap_view_sync(&v, st, &out, NULL), -3);
	CHECK_EQ_INT(buf_len(&out), 0);
	CHECK_EQ_INT(v.uidvalidity, uv);
	CHECK_EQ_INT(v.count, 1);
	CHECK_EQ_INT(imap_view_refresh(&v, st), -3);
	CHECK_EQ_INT(v.uidvalidity, uv);
	imap_view_close(&v, st); /* its snapshot kept for the next SELECT */

	CHECK_EQ_INT(imap_view_load(&n, st, acc, box), STORE_OK);
	CHECK_EQ_INT(n.uidvalidity, 1234);
	CHECK_EQ_INT(n.uidnext, 9);
	CHECK_EQ_INT(n.count, 2);
	CHECK_EQ_INT(n.count == 2 ? n.msgs[0].uid : 0, 1);
	CHECK_EQ_INT(n.count == 2 ? n.msgs[1].uid : 0, 5);
	check_same_as_fresh(st, &n);
	buf_reset(&out);
	CHECK_EQ_INT(imap_view_sync(&n, st, &out, NULL), 0);
	CHECK_EQ_INT(buf_len(&out), 0);
	imap_view_free(&n);
	buf_free(&out);
}

int main(void)
{
	struct store *st = NULL;
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "view") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (st) {
		test_delta(st, acc);
		test_cache(st, acc);
		test_twice_in_one_mailbox(st, acc);
		test_uidvalidity_change(st, acc);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_imap_view");
}
