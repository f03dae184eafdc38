/*
 * test_spam_account.c — an account's spam filter state goes with the
 * account (store_account_del): its model and fuzzy memory (the spam
 * table), what it learned from which message (spamtrained/), and its
 * allow and block lists (spamlist/); the global model keeps what it
 * learned. Only an email tern received itself (a delivery carrying the
 * filter's view of the sender, meta spamfrom/) corrects the shared
 * reputation table and votes for the global model: one a client
 * APPENDed, forged Received and Authentication-Results fields and all,
 * teaches its account's model only. The spamfrom/ record goes with its
 * email and with the account.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/worker.h"
#include "spam/spam.h"
#include "spam/spam_private.h"
#include "spam/spam_learn.h"
#include "spam/spam_rep.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

#define INBOX_ID 1u /* the INBOX is every account's first mailbox */

static char base[256];

static void count_rec(void *arg, const struct str *recs)
{
	size_t *n = arg;
	*n = recs[0].p ? recs[0].len : 0;
}

static size_t rec_len(struct store *st, uint32_t account, unsigned kind)
{
	size_t n = 0;
	CHECK_EQ_INT(store_spam_get(st, &account, 1, kind, count_rec, &n), STORE_OK);
	return n;
}

static void count_name(void *arg, const char *name, const void *val, size_t len)
{
	(void)name, (void)val, (void)len;
	++*(size_t *)arg;
}

static size_t meta_count(struct store *st, const char *prefix)
{
	size_t n = 0;
	CHECK_EQ_INT(store_meta_list(st, prefix, count_name, &n), STORE_OK);
	return n;
}

static void first_value(void *arg, const char *name, const void *val, size_t len)
{
	(void)name;
	memcpy(arg, val, len < 64 ? len : 64);
}

static int meta_has(struct store *st, const char *name)
{
	char v[64];
	size_t n = 0;
	return store_meta_get(st, name, v, sizeof v, &n) == STORE_OK;
}

static void inbox_validity(void *arg, const struct store_mailbox_info *i)
{
	if (i->id == INBOX_ID)
		*(uint32_t *)arg = i->uidvalidity;
}

/* Delivers text to acc's INBOX as port 25 does (with the filter's view
 * of the sender, spam_from) or, spam_from NULL, as an APPEND to it; the
 * email id. */
static uint32_t put(struct store *st, uint32_t acc, const char *text, const char *spam_from)
{
	struct store_delivery d;
	uint32_t id = 0;
	unit_delivery_init(&d, text, &acc, 1700000000);
	d.email_ids = &id;
	d.spam_from = spam_from;
	if (!spam_from)
		d.mailbox = INBOX_ID;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK(id != 0);
	return id;
}

/* Two accounts agree on a message: the global model learns it, and the
 * reputation of the sender domain moves, only when tern received it. */
static void test_ours_only(struct store *st, uint32_t a1)
{
	static const char forged[] =
	    "Received: from mx.victim.example ([198.51.100.7])\r\n\tby mx.example.test\r\n"
	    "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=a@victim.example;"
	    " dmarc=pass header.from=victim.example\r\n"
	    "From: a@victim.example\r\nSubject: forged\r\n\r\nBuy cheap watches now.\r\n";
	static const char real[] =
	    "Received: from mx.other.example ([198.51.100.9])\r\n\tby mx.example.test\r\n"
	    "From: a@real.example\r\nSubject: real\r\n\r\nBuy cheap watches today.\r\n";
	char err[256], name[64], v[64];
	uint32_t a2 = 0;
	size_t n = 0;
	double ham, spam;
	const char *what = NULL;
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw", 0, &a2, err, sizeof err),
		     STORE_OK);
	spam_rep_reset();

	/* APPENDed by both users, the forged fields name victim.example */
	uint32_t f1 = put(st, a1, forged, NULL), f2 = put(st, a2, forged, NULL);
	snprintf(name, sizeof name, "spamfrom/%u/%u", a1, f1);
	CHECK(store_meta_get(st, name, v, sizeof v, &n) == STORE_ENOTFOUND);
	CHECK_EQ_INT(spam_learn_message(st, a1, f1, forged, sizeof forged - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained");
	CHECK_EQ_INT(spam_learn_message(st, a2, f2, forged, sizeof forged - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained"); /* no "+global" */
	CHECK_EQ_INT(spam_rep_get("dom:victim.example", 1700000000, &ham, &spam), -1);
	CHECK_EQ_INT(spam_rep_get("ip:198.51.100.0/24", 1700000000, &ham, &spam), -1);

	/* Received by tern: the keys it saw, not the message's fields */
	uint32_t r1 = put(st, a1, real, "ip:192.0.2.0/24\ndom:real.example");
	uint32_t r2 = put(st, a2, real, "ip:192.0.2.0/24\ndom:real.example");
	snprintf(name, sizeof name, "spamfrom/%u/%u", a1, r1);
	CHECK_EQ_INT(store_meta_get(st, name, v, sizeof v, &n), STORE_OK);
	CHECK_EQ_INT(spam_learn_message(st, a1, r1, real, sizeof real - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained");
	CHECK_EQ_INT(spam_learn_message(st, a2, r2, real, sizeof real - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained+global");
	CHECK_EQ_INT(spam_rep_get("dom:real.example", time(NULL), &ham, &spam), 0);
	CHECK(spam > 7.9 && ham == 0);
	CHECK_EQ_INT(spam_rep_get("ip:192.0.2.0/24", time(NULL), &ham, &spam), 0);
	CHECK_EQ_INT(spam_rep_get("ip:198.51.100.0/24", time(NULL), &ham, &spam), -1);

	/* The record goes with its email, and so do what the account
	 * learned from it and its vote (the other account's stays) */
	char trained[64];
	snprintf(trained, sizeof trained, "spamtrained/%u/", a1);
	CHECK_EQ_INT((int)meta_count(st, trained), 2);
	uint32_t uv = 0, uid = 0;
	CHECK_EQ_INT(store_mailbox_list(st, a1, inbox_validity, &uv), STORE_OK);
	uid = 2; /* forged is 1, real 2 */
	CHECK_EQ_INT(store_expunge(st, a1, INBOX_ID, uv, &uid, 1, NULL, NULL), STORE_OK);
	CHECK(store_meta_get(st, name, v, sizeof v, &n) == STORE_ENOTFOUND);
	CHECK_EQ_INT((int)meta_count(st, trained), 1);
	CHECK_EQ_INT((int)meta_count(st, "spamvote/"), 1);
	uint8_t votes[64];
	CHECK_EQ_INT(store_meta_list(st, "spamvote/", first_value, votes), STORE_OK);
	CHECK_EQ_INT(votes[0], 1); /* one voter left: a2, spam */
	CHECK_EQ_INT(votes[1], 's');
	CHECK_EQ_INT((int)(votes[2] << 24 | votes[3] << 16 | votes[4] << 8 | votes[5]), (int)a2);
	/* the appended one's lesson (no vote) goes with it too */
	uid = 1;
	CHECK_EQ_INT(store_expunge(st, a1, INBOX_ID, uv, &uid, 1, NULL, NULL), STORE_OK);
	CHECK_EQ_INT((int)meta_count(st, trained), 0);
	snprintf(trained, sizeof trained, "spamlesson/%u/", a1);
	CHECK_EQ_INT((int)meta_count(st, trained), 0);
	/* and with the account: its lessons, their records and its votes */
	snprintf(name, sizeof name, "spamfrom/%u/", a2);
	CHECK_EQ_INT((int)meta_count(st, name), 1);
	CHECK_EQ_INT(store_account_del(st, "carol@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	snprintf(name, sizeof name, "spamlesson/%u/", a2);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	CHECK_EQ_INT((int)meta_count(st, "spamvote/"), 0);
}

/* A user who changes their mind takes their correction back: moving one
 * delivered message in and out of Junk again and again leaves one
 * correction, the last one, not a pile of both ways that washes out
 * what the filter's own verdicts say of the sender. */
static void test_flip(struct store *st, uint32_t acc)
{
	static const char m[] = "From: a@wash.example\r\nSubject: flip\r\n\r\nCheap pills here.\r\n";
	const char *what = NULL;
	double ham, spam;
	spam_rep_reset();
	uint32_t e = put(st, acc, m, "\ndom:wash.example");
	for (int i = 0; i < 10; i++) {
		CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 1, &what), 0);
		CHECK_EQ_STR(what, i ? "retrained" : "trained");
		CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 0, &what), 0);
		CHECK_EQ_STR(what, "retrained");
	}
	CHECK_EQ_INT(spam_rep_get("dom:wash.example", time(NULL), &ham, &spam), 0);
	CHECK(ham > 3.9 && ham < 4.1);
	CHECK(spam < 0.01);
	CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_INT(spam_rep_get("dom:wash.example", time(NULL), &ham, &spam), 0);
	CHECK(ham < 0.01);
	CHECK(spam > 3.9 && spam < 4.1);
	/* taking back what the table no longer holds: nothing below zero,
	 * and no slot for a key it does not know */
	spam_rep_reset();
	CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_INT(spam_rep_get("dom:wash.example", time(NULL), &ham, &spam), 0);
	CHECK(ham > 3.9 && spam == 0);

	/* Nor through a second email with the same key (From, Subject and
	 * body copied from the other sender's): each email takes back only
	 * the correction it made, with its own sender's keys. */
	spam_rep_reset();
	uint32_t own = put(st, acc, m, "\ndom:attacker.example");
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(spam_learn_message(st, acc, own, m, sizeof m - 1, 1, &what), 0);
		CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 1, &what), 0);
		CHECK_EQ_STR(what, "known");
		CHECK_EQ_INT(spam_learn_message(st, acc, e, m, sizeof m - 1, 0, &what), 0);
		CHECK_EQ_STR(what, "retrained");
	}
	/* e stood at ham before: nothing new for wash.example */
	CHECK_EQ_INT(spam_rep_get("dom:wash.example", time(NULL), &ham, &spam), -1);
	CHECK_EQ_INT(spam_rep_get("dom:attacker.example", time(NULL), &ham, &spam), 0);
	CHECK(spam > 3.9 && spam < 4.1 && ham == 0);
}

/* Lessons run on the worker pool, several at once: a user moving one
 * message into Junk and straight back out gets two jobs that may run
 * together. They must not both see the email's old state (each would
 * correct the table, neither taking the other's back). */
struct racer {
	struct store *st;
	uint32_t acc, email;
	int is_spam, rounds;
	const char *m;
	size_t len;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	const char *what;
	for (int i = 0; i < r->rounds; i++)
		spam_learn_message(r->st, r->acc, r->email, r->m, r->len, r->is_spam, &what);
	return NULL;
}

static void test_race(struct store *st, uint32_t acc)
{
	static const char m[] = "From: a@race.example\r\nSubject: race\r\n\r\nCheap pills today.\r\n";
	double ham, spam;
	spam_rep_reset();
	uint32_t e = put(st, acc, m, "\ndom:race.example");
	struct racer r[2] = {{st, acc, e, 1, 15, m, sizeof m - 1}, {st, acc, e, 0, 15, m, sizeof m - 1}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, race, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(spam_rep_get("dom:race.example", time(NULL), &ham, &spam), 0);
	/* one correction stands, one way */
	CHECK(ham + spam > 3.9 && ham + spam < 4.1);
	if (!(ham + spam > 3.9 && ham + spam < 4.1))
		fprintf(stderr, "race: ham %.1f spam %.1f\n", ham, spam);
}

/* Two emails of one account with one key (the same message delivered
 * twice) share a lesson: the one deleted from Junk must not take the
 * lesson's record with it while the other still stands on it, or the
 * other, moved out of Junk, learned ham on top of the spam lesson it
 * never took back. The record goes with the last of them. */
static void test_shared(struct store *st)
{
	static const char m[] =
	    "From: a@twice.example\r\nSubject: twice\r\n\r\nCheap pills twice.\r\n";
	char err[256], name[80];
	const char *what = NULL;
	uint32_t acc = 0, uv = 0, uid;
	CHECK_EQ_INT(store_account_add(st, "dave@example.test", "pw", 0, &acc, err, sizeof err),
	             STORE_OK);
	uint32_t e1 = put(st, acc, m, "\ndom:twice.example"),
	         e2 = put(st, acc, m, "\ndom:twice.example");
	CHECK_EQ_INT(spam_learn_message(st, acc, e1, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained");
	CHECK_EQ_INT(spam_learn_message(st, acc, e2, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "known");
	CHECK_EQ_INT(store_mailbox_list(st, acc, inbox_validity, &uv), STORE_OK);
	uid = 2; /* e2 */
	CHECK_EQ_INT(store_expunge(st, acc, INBOX_ID, uv, &uid, 1, NULL, NULL), STORE_OK);
	snprintf(name, sizeof name, "spamtrained/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 1);
	CHECK_EQ_INT(spam_learn_message(st, acc, e1, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_STR(what, "retrained"); /* was "trained": the spam lesson stayed */
	/* the same email's lesson again does not count it twice */
	CHECK_EQ_INT(spam_learn_message(st, acc, e1, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_STR(what, "known");
	uid = 1;
	CHECK_EQ_INT(store_expunge(st, acc, INBOX_ID, uv, &uid, 1, NULL, NULL), STORE_OK);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	snprintf(name, sizeof name, "spamlesson/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
}

/* The last email of a mailbox: uid and email id. */
struct last_email {
	uint32_t uid, email;
};

static void last_cb(void *arg, const struct store_email_info *i)
{
	struct last_email *l = arg;
	l->uid = i->uid;
	l->email = i->email_id;
}

static struct last_email last_in(struct store *st, uint32_t acc, uint32_t mb)
{
	struct last_email l = {0, 0};
	CHECK_EQ_INT(store_email_list(st, acc, mb, last_cb, &l), STORE_OK);
	return l;
}

static void validity_of(void *arg, const struct store_mailbox_info *i)
{
	*(uint32_t *)arg = i->uidvalidity;
}

/* IMAP COPY to Junk, then EXPUNGE of the copy there, again and again:
 * each copy is an email of its own (STORE_COPY_NEW) and its lesson's
 * records went with it, so the next copy of the same received message
 * trained the model and corrected the sender's reputation once more,
 * where a MOVE counts once. A copy's lesson is the original's too
 * (spamfrom/'s origin), so it counts once per message received; one
 * moved back out takes that one correction back. */
static void test_copy_once(struct store *st)
{
	static const char m[] =
	    "From: a@copy.example\r\nSubject: copied\r\n\r\nCheap copied pills.\r\n";
	char err[256], name[80];
	const char *what = NULL;
	double ham = 0, spam = 0;
	uint32_t acc = 0, junk = 0, uv = 0, inbox_uv = 0;
	CHECK_EQ_INT(store_account_add(st, "gil@example.test", "pw", 0, &acc, err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Spam", &junk), STORE_OK);
	CHECK_EQ_INT(store_mailbox_get(st, acc, junk, validity_of, &uv), STORE_OK);
	CHECK_EQ_INT(store_mailbox_get(st, acc, INBOX_ID, validity_of, &inbox_uv), STORE_OK);
	spam_rep_reset();
	uint32_t orig = put(st, acc, m, "\ndom:copy.example");
	uint32_t orig_uid = last_in(st, acc, INBOX_ID).uid;
	for (int i = 0; i < 3; i++) {
		struct store_copy_result r;
		CHECK_EQ_INT(store_email_copy(st, acc, INBOX_ID, inbox_uv, &orig_uid, 1, junk,
		                              STORE_COPY_NEW | STORE_COPY_ALL, &r),
		             STORE_OK);
		store_copy_result_free(&r);
		struct last_email c = last_in(st, acc, junk);
		CHECK(c.email != 0 && c.email != orig);
		CHECK_EQ_INT(spam_learn_message(st, acc, c.email, m, sizeof m - 1, 1, &what), 0);
		CHECK_EQ_STR(what, i ? "known" : "trained");
		CHECK_EQ_INT(store_expunge(st, acc, junk, uv, &c.uid, 1, NULL, NULL), STORE_OK);
	}
	CHECK_EQ_INT(spam_rep_get("dom:copy.example", time(NULL), &ham, &spam), 0);
	CHECK(spam > 3.9 && spam < 4.1 && ham == 0); /* one correction, not three */
	if (!(spam > 3.9 && spam < 4.1))
		fprintf(stderr, "copy_once: ham %.1f spam %.1f\n", ham, spam);
	/* The original taken out of Junk's verdict (a lesson on it) takes
	 * the one correction back before it corrects the other way. */
	CHECK_EQ_INT(spam_learn_message(st, acc, orig, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_STR(what, "retrained");
	CHECK_EQ_INT(spam_rep_get("dom:copy.example", time(NULL), &ham, &spam), 0);
	CHECK(ham > 3.9 && ham < 4.1 && spam < 0.01);
	/* The records go with the last email naming them. */
	CHECK_EQ_INT(store_expunge(st, acc, INBOX_ID, inbox_uv, &orig_uid, 1, NULL, NULL), STORE_OK);
	snprintf(name, sizeof name, "spamtrained/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	snprintf(name, sizeof name, "spamlesson/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
}

/* On a server of more than ten accounts the global model learns a
 * message once three users agree, not two. */
static void test_many(struct store *st)
{
	static const char m[] =
	    "From: a@three.example\r\nSubject: three\r\n\r\nCheap pills thrice.\r\n";
	char err[256], addr[64];
	const char *what = NULL;
	uint32_t acc[11];
	size_t have = 0;
	CHECK_EQ_INT(store_account_count(st, &have), STORE_OK);
	for (size_t i = have; i < 11; i++) {
		snprintf(addr, sizeof addr, "many%zu@example.test", i);
		CHECK_EQ_INT(store_account_add(st, addr, "pw", 0, &acc[i], err, sizeof err),
		             STORE_OK);
	}
	CHECK_EQ_INT(store_account_count(st, &have), STORE_OK);
	CHECK_EQ_INT((int)have, 11);
	for (int i = 8; i < 11; i++) {
		uint32_t e = put(st, acc[i], m, "\ndom:three.example");
		CHECK_EQ_INT(spam_learn_message(st, acc[i], e, m, sizeof m - 1, 1, &what), 0);
		CHECK_EQ_STR(what, i < 10 ? "trained" : "trained+global");
	}
}

/* A lesson whose email is gone (one that raced the email's expunge
 * wrote its name after the store removed the rest) is swept, in
 * batches, with its records; the lessons of emails still there stay. */
static void test_sweep(struct store *st)
{
	static const char m1[] =
	    "From: a@kept.example\r\nSubject: kept\r\n\r\nCheap kept pills.\r\n";
	static const char m2[] =
	    "From: a@orph.example\r\nSubject: orph\r\n\r\nCheap orphan pills.\r\n";
	char err[256], name[80], cursor[64] = "";
	const char *what = NULL;
	uint32_t acc = 0;
	CHECK_EQ_INT(store_account_add(st, "erin@example.test", "pw", 0, &acc, err, sizeof err),
	             STORE_OK);
	uint32_t kept = put(st, acc, m1, "\ndom:kept.example");
	CHECK_EQ_INT(spam_learn_message(st, acc, kept, m1, sizeof m1 - 1, 1, &what), 0);
	size_t votes = meta_count(st, "spamvote/");
	snprintf(name, sizeof name, "spamfrom/%u/%u", acc, kept + 1000);
	CHECK_EQ_INT(store_meta_put(st, name, "\ndom:orph.example", 17, 0), STORE_OK);
	CHECK_EQ_INT(spam_learn_message(st, acc, kept + 1000, m2, sizeof m2 - 1, 1, &what), 0);
	CHECK_EQ_INT((int)meta_count(st, "spamvote/"), (int)votes + 1);
	size_t dropped = 0, total = 0, batches = 0;
	do {
		CHECK_EQ_INT(store_spam_sweep(st, cursor, sizeof cursor, 1, &dropped), STORE_OK);
		total += dropped;
	} while (cursor[0] && ++batches < 100);
	CHECK(batches > 1); /* one name a batch */
	CHECK_EQ_INT((int)total, 1);
	CHECK(!meta_has(st, name));
	snprintf(name, sizeof name, "spamlesson/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 1);
	snprintf(name, sizeof name, "spamtrained/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 1);
	CHECK_EQ_INT((int)meta_count(st, "spamvote/"), (int)votes);
}

/* The lessons waiting are bounded: with the pool busy, Junk moves of
 * more emails than SPAM_LEARN_QUEUE_MAX queue that many, not all of them
 * (each move kept its list of emails until learned, without bound). */
static pthread_mutex_t block_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cv = PTHREAD_COND_INITIALIZER;
static int block_on = 1;

static void blocker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&block_mu);
	while (block_on)
		pthread_cond_wait(&block_cv, &block_mu);
	pthread_mutex_unlock(&block_mu);
}

static void test_queue(struct store *st)
{
	static uint32_t ids[40000];
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		ids[i] = 900000u + (uint32_t)i; /* no such emails: each lesson is skipped */
	struct worker_job wj = {.fn = blocker};
	worker_pool_start(1);
	worker_submit(&wj); /* the one worker waits: nothing is learned yet */
	for (int i = 0; i < 4; i++)
		spam_learn_hook(st, 1, ids, sizeof ids / sizeof ids[0], i & 1);
	CHECK_EQ_INT((int)spam_learn_pending(), SPAM_LEARN_QUEUE_MAX);
	spam_learn_hook(st, 1, ids, 1, 1);
	CHECK_EQ_INT((int)spam_learn_pending(), SPAM_LEARN_QUEUE_MAX);
	pthread_mutex_lock(&block_mu);
	block_on = 0;
	pthread_cond_broadcast(&block_cv);
	pthread_mutex_unlock(&block_mu);
	worker_pool_stop(); /* runs what was queued */
	CHECK_EQ_INT((int)spam_learn_pending(), 0);
}

static void model_counts(void *arg, const struct str *recs)
{
	struct spam_model m;
	uint32_t *out = arg;
	out[0] = out[1] = 0;
	if (spam_model_decode(recs[0].p, recs[0].len, &m) == 0) {
		out[0] = m.nspam;
		out[1] = m.nham;
	}
}

static uint32_t global_spam(struct store *st)
{
	uint32_t zero = 0, n[2] = {0, 0};
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_MODEL, model_counts, n), STORE_OK);
	return n[0];
}

/* A voter who changes their mind takes the global model's lesson back
 * when too few agree then; a newcomer disagreeing alone does not. */
static void test_unvote(struct store *st, uint32_t a1)
{
	static const char m[] =
	    "From: a@mind.example\r\nSubject: mind\r\n\r\nCheap pills, or not.\r\n";
	char err[256];
	const char *what = NULL;
	uint32_t a2 = 0, a3 = 0;
	CHECK_EQ_INT(store_account_add(st, "fay@example.test", "pw", 0, &a2, err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "gus@example.test", "pw", 0, &a3, err, sizeof err),
	             STORE_OK);
	uint32_t e1 = put(st, a1, m, "\ndom:mind.example"),
	         e2 = put(st, a2, m, "\ndom:mind.example");
	uint32_t e3 = put(st, a3, m, "\ndom:mind.example");
	uint32_t before = global_spam(st);
	CHECK_EQ_INT(spam_learn_message(st, a1, e1, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_INT(spam_learn_message(st, a2, e2, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained+global");
	CHECK_EQ_INT((int)global_spam(st), (int)before + 1);
	CHECK_EQ_INT(spam_learn_message(st, a3, e3, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_STR(what, "trained"); /* a newcomer alone: the lesson stands */
	CHECK_EQ_INT((int)global_spam(st), (int)before + 1);
	CHECK_EQ_INT(spam_learn_message(st, a2, e2, m, sizeof m - 1, 0, &what), 0);
	CHECK_EQ_STR(what, "retrained-global");
	CHECK_EQ_INT((int)global_spam(st), (int)before); /* was before + 1 */
	CHECK_EQ_INT(spam_learn_message(st, a2, e2, m, sizeof m - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "retrained"); /* gus still disagrees */
	CHECK_EQ_INT((int)global_spam(st), (int)before);
}

/* A mark of `tern spam train` for key number i (32 hex digits). */
static struct spam_learn_mark cli_mark(unsigned i)
{
	struct spam_learn_mark m;
	snprintf(m.hex, sizeof m.hex, "%032x", 0xc0de0000u + i);
	m.what = 's';
	return m;
}

static void count_unnamed(void *arg, const char *name, const void *val, size_t len)
{
	const uint8_t *p = val;
	(void)name;
	if (len >= 5 && (p[1] | p[2] | p[3] | p[4]) == 0)
		++*(size_t *)arg;
}

/* The CLI's marks (no email names them) are bounded, the oldest going
 * first, as Rspamd's learn cache expires; the marks emails name stay. They
 * were never removed: each message ever trained kept one. */
static void test_marks_bounded(struct store *st, uint32_t acc)
{
	char prefix[40], name[80];
	struct spam_learn_mark a[10], b[10];
	size_t unnamed = 0;
	snprintf(prefix, sizeof prefix, "spamtrained/%u/", acc);
	size_t named = meta_count(st, prefix);
	CHECK(named > 0); /* the tests before left lessons emails name */
	CHECK_EQ_INT(store_meta_list(st, prefix, count_unnamed, &unnamed), STORE_OK);
	CHECK_EQ_INT((int)unnamed, 0);
	/* a record from before the stamp: the oldest of all */
	snprintf(name, sizeof name, "spamtrained/%u/%032x", acc, 0xc0deffffu);
	CHECK_EQ_INT(store_meta_put(st, name, "s\0\0\0\0", 5, 0), STORE_OK);
	for (unsigned i = 0; i < 10; i++) {
		a[i] = cli_mark(i);
		b[i] = cli_mark(100 + i);
	}
	CHECK_EQ_INT(spam_learn_trained_set(st, acc, a, 10), 0);
	CHECK_EQ_INT(spam_learn_trained_set(st, acc, b, 10), 0);
	CHECK_EQ_INT((int)meta_count(st, prefix), (int)(named + 21));
	CHECK_EQ_INT(spam_learn_marks_prune(st, acc, 15), 0);
	CHECK_EQ_INT((int)meta_count(st, prefix), (int)(named + 15));
	CHECK(!meta_has(st, name));
	for (unsigned i = 0; i < 10; i++) {
		/* after the unstamped one, a[0..4] were the oldest */
		CHECK_EQ_INT(spam_learn_trained(st, acc, a[i].hex), i < 5 ? 0 : 's');
		CHECK_EQ_INT(spam_learn_trained(st, acc, b[i].hex), 's');
	}
	/* under the bound nothing goes; a mark an email names never does */
	CHECK_EQ_INT(spam_learn_marks_prune(st, acc, 1000), 0);
	CHECK_EQ_INT((int)meta_count(st, prefix), (int)(named + 15));
	CHECK_EQ_INT(spam_learn_marks_prune(st, acc, 0), 0);
	CHECK_EQ_INT((int)meta_count(st, prefix), (int)named);
}

int main(void)
{
	static const char msg[] = "From: a@remote.test\r\nTo: bob@example.test\r\nSubject: cheap watches\r\n"
				  "\r\nDear customer, your parcel from the central warehouse is waiting at the "
				  "depot. Confirm the delivery address and pay the customs fee of 2.99 today to "
				  "avoid the return of the parcel to the sender.\r\n";
	char err[256], name[80];
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "spamacct") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_spam_account");

	const char *what = NULL;
	CHECK_EQ_INT(spam_learn_message(st, acc, 0, msg, sizeof msg - 1, 1, &what), 0);
	CHECK_EQ_STR(what, "trained");
	snprintf(name, sizeof name, "spamlist/allow/u%u", acc);
	CHECK_EQ_INT(store_meta_put(st, name, "friend.test\n", 12, 0), STORE_OK);
	snprintf(name, sizeof name, "spamlist/block/u%u", acc);
	CHECK_EQ_INT(store_meta_put(st, name, "spammer.test\n", 13, 0), STORE_OK);
	CHECK(rec_len(st, acc, STORE_SPAM_MODEL) > 0);
	CHECK(rec_len(st, acc, STORE_SPAM_FUZZY) > 0);
	snprintf(name, sizeof name, "spamtrained/%u/", acc);
	CHECK_EQ_INT((int)meta_count(st, name), 1);

	CHECK_EQ_INT(store_account_del(st, "bob@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT((int)rec_len(st, acc, STORE_SPAM_MODEL), 0);
	CHECK_EQ_INT((int)rec_len(st, acc, STORE_SPAM_FUZZY), 0);
	CHECK_EQ_INT((int)meta_count(st, name), 0);
	snprintf(name, sizeof name, "spamlist/allow/u%u", acc);
	CHECK(!meta_has(st, name));
	snprintf(name, sizeof name, "spamlist/block/u%u", acc);
	CHECK(!meta_has(st, name));

	store_close(&st);
	unit_rmrf(base);
	if (unit_env_begin(base, sizeof base, "spamacct2") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_spam_account");
	test_ours_only(st, acc);
	test_flip(st, acc);
	test_race(st, acc);
	test_shared(st);
	test_copy_once(st);
	test_unvote(st, acc);
	test_many(st);
	test_sweep(st);
	test_queue(st);
	test_marks_bounded(st, acc);
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_spam_account");
}
