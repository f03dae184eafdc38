/*
 * test_store_uids_keep.c — a mailbox keeping a source's UIDs (tern
 * import and migrate): store_mailbox_uids_keep and store_delivery.uid.
 * Checked: an empty mailbox takes the UIDVALIDITY, its UIDs start at 1
 * again (also after mail it once held was expunged); messages keep UIDs
 * with gaps, in one chain and apart; a UID below UIDNEXT, or not above
 * the one before it in the chain, refuses the whole chain (STORE_EEXIST,
 * nothing written); UIDNEXT goes up to the source's, never down; the same
 * UIDVALIDITY again is fine (a resumed run) while another one on a
 * mailbox with messages is refused (STORE_EEXIST, the UIDNEXT told), and
 * so is the mailbox's own UIDVALIDITY when it holds mail it did not get
 * from a source (the same value by chance); a
 * UID or UIDNEXT past STORE_UID_KEEP_MAX is refused (STORE_EINVAL);
 * last_uidvalidity goes up to a kept value, so a mailbox made later
 * never takes it; an APPEND without a UID goes on after the kept ones.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

struct mb {
	uint32_t uidvalidity, uidnext, messages;
};

static void mb_cb(void *arg, const struct store_mailbox_info *i)
{
	struct mb *m = arg;
	m->uidvalidity = i->uidvalidity;
	m->uidnext = i->uidnext;
	m->messages = i->messages;
}

static struct mb mbox(struct store *st, uint32_t acc, uint32_t id)
{
	struct mb m = {0, 0, 0};
	CHECK_EQ_INT(store_mailbox_get(st, acc, id, mb_cb, &m), STORE_OK);
	return m;
}

struct uids {
	uint32_t n, uid[16];
};

static void uid_cb(void *arg, const struct store_email_info *i)
{
	struct uids *u = arg;
	if (u->n < 16)
		u->uid[u->n++] = i->uid;
}

static struct uids uids(struct store *st, uint32_t acc, uint32_t id)
{
	struct uids u = {0, {0}};
	CHECK_EQ_INT(store_email_list(st, acc, id, uid_cb, &u), STORE_OK);
	return u;
}

/* Appends texts[0..n) as one chain into mailbox with UIDs kept[0..n). */
static int append(struct store *st, uint32_t *acc, uint32_t mailbox, const char *const *texts,
                  const uint32_t *kept, size_t n)
{
	struct store_delivery d[4];
	for (size_t i = 0; i < n; i++) {
		unit_delivery_init(&d[i], texts[i], acc, 1700000000);
		d[i].mailbox = mailbox;
		d[i].uid = kept[i];
		d[i].also = i + 1 < n ? &d[i + 1] : NULL;
	}
	return store_deliver_sync(st, &d[0]);
}

int main(void)
{
	char dir[300];
	uint32_t acc = 0, work = 0, later = 0, next = 0;
	static const char *const t[] = {"Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n",
	                                "Subject: c\r\n\r\nc\r\n", "Subject: d\r\n\r\nd\r\n"};

	if (unit_env_begin(base, sizeof base, "uidskeep") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	struct store *st = unit_store_with_account(dir, 0, "k@example.test", &acc);
	if (!st)
		return unit_done("test_store_uids_keep");
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Work", &work), STORE_OK);

	/* Mail once held and expunged: UIDNEXT 3 under tern's UIDVALIDITY. */
	{
		uint32_t u0[2] = {0, 0}, gone[2] = {1, 2};
		CHECK_EQ_INT(append(st, &acc, work, t, u0, 2), STORE_OK);
		CHECK_EQ_INT(store_expunge(st, acc, work, mbox(st, acc, work).uidvalidity, gone, 2,
		                           NULL, NULL),
		             STORE_OK);
		CHECK_EQ_INT((int)mbox(st, acc, work).uidnext, 3);
	}
	/* A UIDVALIDITY in the future: later mailboxes go past it. */
	uint32_t uv = (uint32_t)time(NULL) + 100000;
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", 0, 0, NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Nope", uv, 0, NULL), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", uv, 0, &next), STORE_OK);
	CHECK_EQ_INT((int)next, 1);
	struct mb m = mbox(st, acc, work);
	CHECK(m.uidvalidity == uv && m.uidnext == 1 && m.messages == 0);

	/* UIDs 2 and 5 in one chain, then 9 alone. */
	{
		uint32_t k[2] = {2, 5}, k9 = 9;
		CHECK_EQ_INT(append(st, &acc, work, t, k, 2), STORE_OK);
		CHECK_EQ_INT(append(st, &acc, work, t + 2, &k9, 1), STORE_OK);
		struct uids u = uids(st, acc, work);
		CHECK(u.n == 3 && u.uid[0] == 2 && u.uid[1] == 5 && u.uid[2] == 9);
		CHECK_EQ_INT((int)mbox(st, acc, work).uidnext, 10);
	}
	/* Below UIDNEXT, or not increasing in the chain: all refused. */
	{
		uint32_t low = 7, dup[2] = {12, 12}, down[2] = {14, 13};
		CHECK_EQ_INT(append(st, &acc, work, t + 3, &low, 1), STORE_EEXIST);
		CHECK_EQ_INT(append(st, &acc, work, t + 2, dup, 2), STORE_EEXIST);
		CHECK_EQ_INT(append(st, &acc, work, t + 2, down, 2), STORE_EEXIST);
		uint32_t top = STORE_UID_KEEP_MAX + 1;
		CHECK_EQ_INT(append(st, &acc, work, t + 2, &top, 1), STORE_EINVAL);
		CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", uv, top + 1, NULL), STORE_EINVAL);
		CHECK_EQ_INT((int)uids(st, acc, work).n, 3);
		CHECK_EQ_INT((int)mbox(st, acc, work).uidnext, 10);
	}
	/* The same UIDVALIDITY again (a resumed run): UIDNEXT up, never down. */
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", uv, 20, &next), STORE_OK);
	CHECK_EQ_INT((int)next, 20);
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", uv, 15, &next), STORE_OK);
	CHECK_EQ_INT((int)next, 20);
	/* Another UIDVALIDITY on a mailbox with mail: refused, nothing changed. */
	next = 0;
	CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Work", uv - 5, 0, &next), STORE_EEXIST);
	CHECK_EQ_INT((int)next, 20);
	CHECK(mbox(st, acc, work).uidvalidity == uv);
	/* An APPEND without a UID goes on from UIDNEXT. */
	{
		uint32_t z = 0;
		CHECK_EQ_INT(append(st, &acc, work, t + 3, &z, 1), STORE_OK);
		struct uids u = uids(st, acc, work);
		CHECK(u.n == 4 && u.uid[3] == 20);
	}
	/* A mailbox made now never takes the kept UIDVALIDITY. */
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Later", &later), STORE_OK);
	CHECK(mbox(st, acc, later).uidvalidity > uv);
	/*
	 * A mailbox of our own with mail whose UIDVALIDITY is the source's by
	 * chance (both made from the clock in the same second): not a resumed
	 * run, its UIDs are not the source's. Refused like another
	 * UIDVALIDITY. Empty, it may take it, and then a second run goes on.
	 */
	{
		uint32_t z = 0, own = mbox(st, acc, later).uidvalidity;
		CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Later", own, 0, &next), STORE_OK);
		CHECK_EQ_INT(append(st, &acc, later, t, &z, 1), STORE_OK);
		CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Later", own, 0, NULL), STORE_OK);
		uint32_t mine = 0;
		CHECK_EQ_INT(store_mailbox_create(st, acc, "Mine", &mine), STORE_OK);
		CHECK_EQ_INT(append(st, &acc, mine, t + 1, &z, 1), STORE_OK);
		uint32_t same = mbox(st, acc, mine).uidvalidity;
		next = 0;
		CHECK_EQ_INT(store_mailbox_uids_keep(st, acc, "Mine", same, 0, &next), STORE_EEXIST);
		CHECK_EQ_INT((int)next, 2);
	}

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_uids_keep");
}
