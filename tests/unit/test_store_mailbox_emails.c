/*
 * test_store_mailbox_emails.c — store_mailbox_emails, the read of one
 * mailbox's emails from the uid index that JMAP's Email/query inMailbox
 * uses instead of every email record of the account: after each kind of
 * write (delivery, keyword change, copy, a copy into the same mailbox,
 * move, expunge, a deleted mailbox, a second delivery of the same bytes),
 * each mailbox gives exactly the emails store_emails_all lists with that
 * mailbox among their members, in id order, each once, with the same
 * record (thread, size, receivedAt, keywords); an empty or unknown
 * mailbox gives none.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

enum { INBOX = 1, TRASH = 4, ARCHIVE = 6, MB_MAX = 10, EM_MAX = 64 };

/* What a reader saw of an email: enough to tell the records apart. */
struct seen {
	uint32_t id, thread;
	uint64_t size;
	int64_t received;
	char kw[64];
};

struct list {
	struct seen v[EM_MAX];
	size_t n;
	int ordered; /* every index i the callback got was n */
	uint32_t mailbox; /* 0: take every email (the reference read) */
};

static int has_member(const struct store_email_brief *b, uint32_t mb)
{
	for (size_t k = 0; k < b->nmembers; k++) {
		const uint8_t *p = b->members + k * 8;
		if (((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) == mb)
			return 1;
	}
	return 0;
}

static void add(struct list *l, const struct store_email_brief *b)
{
	struct seen *s = &l->v[l->n++];
	memset(s, 0, sizeof *s);
	s->id = b->email_id;
	s->thread = b->thread_id;
	s->size = b->size;
	s->received = b->received_at;
	snprintf(s->kw, sizeof s->kw, "%.*s", (int)b->keywords_len, b->keywords);
}

static void scoped_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct list *l = arg;
	l->ordered &= i == l->n;
	if (b && l->n < EM_MAX)
		add(l, b);
}

/* The reference: every email of the account, those in l->mailbox kept. */
static void all_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct list *l = arg;
	(void)i;
	if (b && has_member(b, l->mailbox) && l->n < EM_MAX)
		add(l, b);
}

/* Every mailbox id up to MB_MAX (those that do not exist included) gives
 * what the reference gives; the step is named on a difference. Returns
 * how many emails mailbox want_mb listed. */
static size_t same_as_all(struct store *st, uint32_t acc, const char *step, uint32_t want_mb)
{
	size_t got = 0;
	for (uint32_t mb = 0; mb <= MB_MAX; mb++) {
		struct list a = {.mailbox = mb}, s = {.ordered = 1, .mailbox = mb};
		CHECK_EQ_INT(store_emails_all(st, acc, all_cb, &a), STORE_OK);
		CHECK_EQ_INT(store_mailbox_emails(st, acc, mb, scoped_cb, &s), STORE_OK);
		int same = a.n == s.n && memcmp(a.v, s.v, a.n * sizeof a.v[0]) == 0 && s.ordered;
		if (!same) {
			fprintf(stderr, "step %s mailbox %u: %zu emails, want %zu:", step, mb, s.n, a.n);
			for (size_t i = 0; i < s.n; i++)
				fprintf(stderr, " %u", s.v[i].id);
			fprintf(stderr, "\n");
		}
		CHECK(same);
		if (mb == want_mb)
			got = s.n;
	}
	return got;
}

static uint32_t uidvalidity_of;
static void mb_cb(void *arg, const struct store_mailbox_info *i)
{
	if (i->id == *(uint32_t *)arg)
		uidvalidity_of = i->uidvalidity;
}

static uint32_t uidvalidity(struct store *st, uint32_t acc, uint32_t mb)
{
	uidvalidity_of = 0;
	CHECK_EQ_INT(store_mailbox_list(st, acc, mb_cb, &mb), STORE_OK);
	return uidvalidity_of;
}

static void copy(struct store *st, uint32_t acc, uint32_t from, uint32_t uid, uint32_t to,
		 int move)
{
	struct store_copy_result r;
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(store_email_copy(st, acc, from, uidvalidity(st, acc, from), &uid, 1, to, move,
				      &r),
		     STORE_OK);
	CHECK_EQ_INT((int)r.n, 1);
	store_copy_result_free(&r);
}

static void kw(struct store *st, uint32_t acc, uint32_t mb, uint32_t uid, const char *k)
{
	struct store_kw_result r;
	CHECK_EQ_INT(store_email_keywords(st, acc, mb, 0, &uid, 1, STORE_KW_ADD, k, 0, &r, NULL),
		     STORE_OK);
	store_kw_results_free(&r, 1);
}

/*
 * The writes, each followed by the comparison, on account acc after bulk
 * emails moved into a mailbox of their own: with none the mailboxes
 * checked hold most of the account (store_mailbox_emails walks every
 * record), with many they hold a few of its emails (it reads the uid
 * index), so each way is checked after every kind of write.
 */
static void scenario(struct store *st, uint32_t acc, uint32_t bulk)
{
	char msg[128];
	uint32_t u = bulk; /* INBOX's UIDs of the scenario's emails start at u + 1 */

	if (bulk) {
		uint32_t box = 0;
		CHECK_EQ_INT(store_mailbox_create(st, acc, "Bulk", &box), STORE_OK);
		for (uint32_t i = 1; i <= bulk; i++) {
			snprintf(msg, sizeof msg, "Message-ID: <b%u@x>\r\nSubject: b\r\n\r\n%u\r\n", i, i);
			unit_deliver(st, acc, msg, 1600000000 + i, NULL);
			copy(st, acc, INBOX, i, box, 1);
		}
		CHECK_EQ_INT(same_as_all(st, acc, "bulk", box), bulk);
	}
	CHECK_EQ_INT(same_as_all(st, acc, "empty", INBOX), 0);
	for (int i = 1; i <= 5; i++) {
		snprintf(msg, sizeof msg, "Message-ID: <%d@x>\r\nSubject: m%d\r\n\r\n%d\r\n", i, i, i);
		unit_deliver(st, acc, msg, 1700000000 + i, NULL);
	}
	CHECK_EQ_INT(same_as_all(st, acc, "delivered", INBOX), 5);
	kw(st, acc, INBOX, u + 2, "$seen $flagged");
	CHECK_EQ_INT(same_as_all(st, acc, "keywords", INBOX), 5);

	/* The 1st email into Archive (two memberships), then the 5th and
	 * the 2nd: Archive's UIDs then name them out of id order. */
	copy(st, acc, INBOX, u + 1, ARCHIVE, 0);
	copy(st, acc, INBOX, u + 5, ARCHIVE, 1);
	copy(st, acc, INBOX, u + 2, ARCHIVE, 1);
	CHECK_EQ_INT(same_as_all(st, acc, "copy and moves", ARCHIVE), 3);
	CHECK_EQ_INT(same_as_all(st, acc, "copy and moves", INBOX), 3);

	/* A copy into the mailbox it is in: one email, two UIDs there,
	 * listed once. */
	copy(st, acc, ARCHIVE, 1, ARCHIVE, 0);
	CHECK_EQ_INT(same_as_all(st, acc, "copy into itself", ARCHIVE), 3);

	/* Expunging one membership leaves the email in the others; the
	 * last one destroys it. */
	CHECK_EQ_INT(store_expunge(st, acc, INBOX, uidvalidity(st, acc, INBOX),
				   (uint32_t[]){u + 1}, 1, NULL, NULL),
		     STORE_OK);
	CHECK_EQ_INT(same_as_all(st, acc, "expunge one membership", INBOX), 2);
	CHECK_EQ_INT(store_expunge(st, acc, INBOX, uidvalidity(st, acc, INBOX),
				   (uint32_t[]){u + 3}, 1, NULL, NULL),
		     STORE_OK);
	CHECK_EQ_INT(same_as_all(st, acc, "expunge the last", INBOX), 1);

	/* A mailbox made, filled and deleted with its emails. */
	uint32_t made = 0;
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Lists", &made), STORE_OK);
	CHECK(made > 0 && made <= MB_MAX);
	copy(st, acc, INBOX, u + 4, made, 1);
	copy(st, acc, ARCHIVE, 2, made, 0);
	CHECK_EQ_INT(same_as_all(st, acc, "filled", made), 2);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "Lists"), STORE_OK);
	CHECK_EQ_INT(same_as_all(st, acc, "mailbox deleted", made), 0);
	CHECK_EQ_INT(same_as_all(st, acc, "mailbox deleted", ARCHIVE), 3);

	/* The same bytes delivered again are an email of their own. */
	unit_deliver(st, acc, "Message-ID: <1@x>\r\nSubject: m1\r\n\r\n1\r\n", 1700000100, NULL);
	CHECK_EQ_INT(same_as_all(st, acc, "same bytes", INBOX), 1);
}

int main(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc = 0, other = 0;

	if (unit_env_begin(base, sizeof base, "mbemails") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "m@example.test", &acc);
	if (!st)
		return unit_done("test_store_mailbox_emails");
	scenario(st, acc, 0);
	/* A second account (whose emails the first never lists, nor the
	 * other way), most of whose emails are in a mailbox of their own. */
	CHECK_EQ_INT(store_account_add(st, "n@example.test", "pw", 0, &other, err, sizeof err),
		     STORE_OK);
	scenario(st, other, 40);
	CHECK_EQ_INT(same_as_all(st, acc, "second account", ARCHIVE), 3);

	/* The same after a close and an open. */
	store_close(&st);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		CHECK_EQ_INT(same_as_all(st, acc, "reopened", ARCHIVE), 3);
		CHECK_EQ_INT(same_as_all(st, other, "reopened", ARCHIVE), 3);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_store_mailbox_emails");
}
