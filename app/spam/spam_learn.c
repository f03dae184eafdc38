/*
 * spam_learn.c — lessons from users' Junk moves (spam_learn.h).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/str.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "spam/spam.h"
#include "spam/spam_learn.h"
#include "spam/spam_rep.h"
#include "store/store.h"

#define KEY_HEX 32
/* spamtrained/ records: 's' or 'h', u32 emails; then u64 microseconds
 * when no email names it (trained_read). */
#define MARK_LEN 5
#define MARK_LEN_STAMPED 13

/* A header field's first line ("Subject: ...") in head[0..len), or an empty slice. */
static struct str field_line(const char *head, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(head + i, '\n', len - i);
		size_t e = eol ? (size_t)(eol - head) : len;
		if (e - i > n && strncasecmp(head + i, name, n) == 0)
			return str_make(head + i, e - i);
		i = e + 1;
	}
	return str_make(head, 0);
}

/*
 * The message's key: From, Subject and the body. Not the whole stored
 * bytes: the header we add (Return-Path, Received) differs for every
 * transaction, so two users' copies of one spam would never meet. It is
 * the first half of a 32-octet BLAKE2b (the output length is one of
 * BLAKE2b's parameters: a 16-octet one would change the stored keys).
 */
#define KEY_HASH 32
static void key_of_crlf(const char *msg, size_t len, uint8_t id[KEY_HASH]);

/* The key of the message's CRLF form, the one the store keeps: a file
 * with bare LF line ends (an mbox or Maildir on disk, given to `tern spam
 * train`) has the key its stored copy has. Without this its header's end
 * ("\r\n\r\n") was never found and the key was of From and Subject
 * alone, so every message with the From and Subject of another was taken
 * as that one. No memory for the copy: the text as given. */
static void key_of(const char *msg, size_t len, uint8_t id[KEY_HASH])
{
	struct buf fixed;
	buf_init(&fixed, 2 * len + 2);
	if (buf_crlf_text(&fixed, &msg, &len) < 0)
		buf_init(&fixed, 0);
	key_of_crlf(msg, len, id);
	buf_free(&fixed);
}

static void key_of_crlf(const char *msg, size_t len, uint8_t id[KEY_HASH])
{
	crypto_generichash_state h;
	const char *body = memmem(msg, len, "\r\n\r\n", 4);
	size_t hlen = body ? (size_t)(body - msg) : len;
	struct str from = field_line(msg, hlen, "From:"), subj = field_line(msg, hlen, "Subject:");
	crypto_generichash_init(&h, NULL, 0, KEY_HASH);
	crypto_generichash_update(&h, (const uint8_t *)from.p, from.len);
	crypto_generichash_update(&h, (const uint8_t *)"\n", 1);
	crypto_generichash_update(&h, (const uint8_t *)subj.p, subj.len);
	crypto_generichash_update(&h, (const uint8_t *)"\n", 1);
	if (body)
		crypto_generichash_update(&h, (const uint8_t *)body + 4, len - hlen - 4);
	crypto_generichash_final(&h, id, KEY_HASH);
}

static void hex_of(const char *msg, size_t len, char out[KEY_HEX + 1])
{
	uint8_t id[KEY_HASH];
	key_of(msg, len, id);
	hex_encode(out, id, KEY_HEX / 2);
}

/* ---- the filter's own lessons: each message once ---- */

static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t own_seen[SPAM_LEARN_OWN_SEEN][KEY_HEX / 2]; /* direct-mapped by the key */

int spam_learn_own_first(const char *msg, size_t len)
{
	uint8_t id[KEY_HASH];
	/* the caller is a loop: a 50 MB message is not hashed whole there */
	key_of(msg, len < SPAM_LEARN_OWN_BYTES ? len : SPAM_LEARN_OWN_BYTES, id);
	size_t slot = ((size_t)id[0] << 8 | id[1]) % SPAM_LEARN_OWN_SEEN;
	pthread_mutex_lock(&own_lock);
	int first = memcmp(own_seen[slot], id, KEY_HEX / 2) != 0;
	memcpy(own_seen[slot], id, KEY_HEX / 2);
	pthread_mutex_unlock(&own_lock);
	return first;
}

struct votes {
	uint8_t n, global; /* global: 0 none, 's' or 'h' learned by the global model */
	uint32_t account[SPAM_VOTE_MAX];
	uint8_t what[SPAM_VOTE_MAX];
};

static void votes_read(struct store *st, const char *name, struct votes *v)
{
	uint8_t b[2 + SPAM_VOTE_MAX * 5];
	size_t n = 0;
	memset(v, 0, sizeof *v);
	if (store_meta_get(st, name, b, sizeof b, &n) != STORE_OK || n < 2 || b[0] > SPAM_VOTE_MAX ||
	    n != 2 + (size_t)b[0] * 5)
		return;
	v->n = b[0];
	v->global = b[1];
	for (unsigned i = 0; i < v->n; i++) {
		const uint8_t *p = b + 2 + i * 5;
		v->account[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		v->what[i] = p[4];
	}
}

static int votes_write(struct store *st, const char *name, const struct votes *v)
{
	uint8_t b[2 + SPAM_VOTE_MAX * 5];
	b[0] = v->n;
	b[1] = v->global;
	for (unsigned i = 0; i < v->n; i++) {
		uint8_t *p = b + 2 + i * 5;
		p[0] = (uint8_t)(v->account[i] >> 24);
		p[1] = (uint8_t)(v->account[i] >> 16);
		p[2] = (uint8_t)(v->account[i] >> 8);
		p[3] = (uint8_t)v->account[i];
		p[4] = v->what[i];
	}
	return store_meta_put(st, name, b, 2 + (size_t)v->n * 5, 0);
}

/* The account's vote on this message, then the global model when users agree. */
static int vote(struct store *st, uint32_t account, const char *hex, const struct spam_msg *m,
		uint8_t what, int *global_r)
{
	char name[64];
	struct votes v;
	snprintf(name, sizeof name, "spamvote/%s", hex);
	votes_read(st, name, &v);
	unsigned i;
	for (i = 0; i < v.n && v.account[i] != account; i++)
		;
	if (i == v.n) {
		if (v.n == SPAM_VOTE_MAX)
			i = SPAM_VOTE_MAX - 1; /* the last slot is the newest voter's */
		else
			v.n++;
		v.account[i] = account;
	}
	v.what[i] = what;
	unsigned agree = 0, disagree = 0, held = 0;
	for (unsigned k = 0; k < v.n; k++) {
		agree += v.what[k] == what;
		disagree += v.what[k] != what;
		held += v.global && v.what[k] == v.global;
	}
	int rc = 0;
	size_t accounts = 0;
	if (store_account_count(st, &accounts) != STORE_OK)
		accounts = SIZE_MAX; /* unknown: the stricter rule */
	unsigned need = accounts > SPAM_VOTE_MANY ? SPAM_VOTE_AGREE_MANY : SPAM_VOTE_AGREE;
	/* What the global model learned from users stands while enough of
	 * them still say so: a voter who changes their mind and leaves too
	 * few takes the lesson back (before, it stayed, and with the one
	 * who disagreed it could never be learned the other way either). A
	 * newcomer disagreeing alone takes nothing back. */
	if (v.global && held < need) {
		rc = spam_forget(st, 0, m, v.global == 's');
		if (rc == 0) {
			v.global = 0;
			*global_r = -1;
		}
	}
	if (rc == 0 && agree >= need && disagree == 0 && v.global != what) {
		if (v.global)
			rc = spam_forget(st, 0, m, v.global == 's');
		if (rc == 0)
			rc = spam_train(st, 0, m, what == 's');
		if (rc == 0) {
			v.global = what;
			*global_r = 1;
		}
	}
	int w = votes_write(st, name, &v);
	return rc ? rc : w;
}

/*
 * What the filter saw of email's sender when tern received it on port 25
 * (store.h, store_delivery.spam_from): the network and domain keys into
 * ip and dom (SPAM_REP_KEY_MAX each). 0, or -1 when the email is not one
 * tern received itself (APPEND, JMAP import, submission, email 0): the
 * user wrote every byte of such a message, Received and
 * Authentication-Results included, so it must not move a global table.
 */
static int sender_of(struct store *st, uint32_t account, uint32_t email, char *ip, char *dom,
		     uint32_t *origin_r)
{
	char name[48], v[2 * SPAM_REP_KEY_MAX + 16];
	size_t n = 0;
	ip[0] = dom[0] = '\0';
	*origin_r = 0;
	snprintf(name, sizeof name, "spamfrom/%u/%u", account, email);
	if (!email || store_meta_get(st, name, v, sizeof v - 1, &n) != STORE_OK)
		return -1;
	v[n] = '\0';
	char *nl = strchr(v, '\n');
	if (!nl)
		return -1;
	*nl = '\0';
	/* A copy's record names its origin on a third line (store_copy.c). */
	char *nl2 = strchr(nl + 1, '\n');
	if (nl2) {
		char *end;
		unsigned long o = strtoul(nl2 + 1, &end, 10);
		*nl2 = '\0';
		if (*end == '\0' && o <= UINT32_MAX && o != email)
			*origin_r = (uint32_t)o;
	}
	if ((size_t)(nl - v) >= SPAM_REP_KEY_MAX || strlen(nl + 1) >= SPAM_REP_KEY_MAX)
		return -1;
	memcpy(ip, v, (size_t)(nl - v) + 1);
	memcpy(dom, nl + 1, strlen(nl + 1) + 1);
	return 0;
}

/* A user's lesson is also a correction of the sender's reputation
 * (spam_rep.h): its network and domain as the filter saw them; the
 * table is saved at once (lessons are rare). One email stands for one
 * correction at a time: a lesson the other way takes the email's
 * earlier one back first (was 's' or 'h', lesson_stands), as the model
 * forgets its lesson; else moving a message in and out of Junk piled up
 * corrections both ways, which washed out what the filter's own
 * verdicts say of a sender. */
static void correct_reputation(struct store *st, const char *ip, const char *dom, int is_spam,
			       uint8_t was)
{
	int64_t now = (int64_t)time(NULL);
	if (!ip[0] && !dom[0])
		return;
	if (was == 's' || was == 'h') {
		spam_rep_uncorrect(ip, was == 's', now);
		spam_rep_uncorrect(dom, was == 's', now);
	}
	spam_rep_correct(ip, is_spam, now);
	spam_rep_correct(dom, is_spam, now);
	if (spam_rep_save(st, now) != STORE_OK)
		log_warn("spam", NULL, "event=reputation_save_failed");
}

/* The reputation correction email's lessons stand at ('s', 'h', or 0:
 * none), from its spamlesson/ record; *named_r: the record names hex
 * already (the email counts in spamtrained/'s emails). */
static uint8_t lesson_stands(struct store *st, uint32_t account, uint32_t email, const char *hex,
                             int *named_r)
{
	char name[48];
	uint8_t v[KEY_HEX + 1];
	size_t n = 0;
	*named_r = 0;
	snprintf(name, sizeof name, "spamlesson/%u/%u", account, email);
	if (!email || store_meta_get(st, name, v, sizeof v, &n) != STORE_OK || n < KEY_HEX)
		return 0;
	*named_r = memcmp(v, hex, KEY_HEX) == 0;
	if (n != KEY_HEX + 1)
		return 0;
	return v[KEY_HEX] == 's' || v[KEY_HEX] == 'h' ? v[KEY_HEX] : 0;
}

/* spamtrained/ACCOUNT/HEX: what the account's model learned from the
 * message ('s', 'h'; 0: nothing) and how many of its emails name the
 * lesson in spamlesson/ (a record of one octet, from before the count:
 * one). The store removes the record with the last of those emails
 * (store_spam.c), not with the first: two emails with one key (a copy,
 * the same message delivered twice) share one lesson, and the one left
 * must still take it back when it leaves Junk. A record no email names
 * (count 0: `tern spam train`'s) carries when it was written too, for
 * spam_learn_marks_prune(). */
static uint8_t trained_read(struct store *st, const char *name, uint32_t *refs_r)
{
	uint8_t v[MARK_LEN_STAMPED];
	size_t n = 0;
	*refs_r = 0;
	if (store_meta_get(st, name, v, sizeof v, &n) != STORE_OK ||
	    (n != 1 && n != MARK_LEN && n != MARK_LEN_STAMPED) || (v[0] != 's' && v[0] != 'h'))
		return 0;
	*refs_r =
	    n == 1 ? 1 : (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
	return v[0];
}

/* A stamp for a mark no email names: microseconds, never the same twice
 * in a process, so a run's marks go oldest first in the order written. */
static uint64_t mark_stamp(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	pthread_mutex_lock(&lock);
	if (now <= last)
		now = last + 1;
	last = now;
	pthread_mutex_unlock(&lock);
	return now;
}

/* The record of a mark into v: its length, MARK_LEN_STAMPED when refs is 0. */
static size_t mark_encode(uint8_t v[MARK_LEN_STAMPED], uint8_t what, uint32_t refs)
{
	v[0] = what;
	for (int i = 0; i < 4; i++)
		v[1 + i] = (uint8_t)(refs >> (24 - 8 * i));
	if (refs)
		return MARK_LEN;
	uint64_t t = mark_stamp();
	for (int i = 0; i < 8; i++)
		v[MARK_LEN + i] = (uint8_t)(t >> (56 - 8 * i));
	return MARK_LEN_STAMPED;
}

static int trained_write(struct store *st, const char *name, uint8_t what, uint32_t refs)
{
	uint8_t v[MARK_LEN_STAMPED];
	return store_meta_put(st, name, v, mark_encode(v, what, refs), 0);
}

void spam_learn_key(const char *msg, size_t len, char hex[SPAM_LEARN_KEY_HEX + 1])
{
	hex_of(msg, len, hex);
}

uint8_t spam_learn_trained(struct store *st, uint32_t account, const char *hex)
{
	char name[80];
	uint32_t refs;
	snprintf(name, sizeof name, "spamtrained/%u/%.*s", account, KEY_HEX, hex);
	return trained_read(st, name, &refs);
}

int spam_learn_trained_set(struct store *st, uint32_t account, const struct spam_learn_mark *v,
			   size_t n)
{
	struct store_meta_item *it = xmalloc((n ? n : 1) * sizeof *it);
	char (*names)[80] = xmalloc((n ? n : 1) * sizeof *names);
	uint8_t (*vals)[MARK_LEN_STAMPED] = xmalloc((n ? n : 1) * sizeof *vals);
	for (size_t i = 0; i < n; i++) {
		uint32_t refs;
		snprintf(names[i], sizeof names[i], "spamtrained/%u/%.*s", account, KEY_HEX, v[i].hex);
		trained_read(st, names[i], &refs);
		it[i] = (struct store_meta_item){names[i], vals[i], mark_encode(vals[i], v[i].what, refs)};
	}
	int rc = n ? store_meta_put_all(st, it, n) : 0;
	free(it);
	free(names);
	free(vals);
	if (rc == 0 && n)
		rc = spam_learn_marks_prune(st, account, SPAM_LEARN_MARKS_MAX);
	return rc;
}

/* The marks no email names, with their stamps (0: written before the
 * stamp, the oldest). */
struct marks {
	struct mark_age {
		uint64_t stamp;
		char name[80];
	} *v;
	size_t n, cap;
};

static void mark_collect(void *arg, const char *name, const void *val, size_t len)
{
	struct marks *m = arg;
	const uint8_t *p = val;
	if ((len != MARK_LEN && len != MARK_LEN_STAMPED) || (p[1] | p[2] | p[3] | p[4]) != 0 ||
	    strlen(name) >= sizeof m->v[0].name)
		return; /* an email names it: it goes with the email */
	uint64_t t = 0;
	for (size_t i = MARK_LEN; i < len; i++)
		t = t << 8 | p[i];
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->v = xrealloc(m->v, m->cap * sizeof *m->v);
	}
	m->v[m->n].stamp = t;
	memcpy(m->v[m->n].name, name, strlen(name) + 1);
	m->n++;
}

static int age_cmp(const void *a, const void *b)
{
	const struct mark_age *x = a, *y = b;
	return x->stamp < y->stamp ? -1 : x->stamp > y->stamp;
}

int spam_learn_marks_prune(struct store *st, uint32_t account, size_t max)
{
	char prefix[40];
	struct marks m = {0};
	snprintf(prefix, sizeof prefix, "spamtrained/%u/", account);
	int rc = store_meta_list(st, prefix, mark_collect, &m);
	if (rc == STORE_OK && m.n > max) {
		qsort(m.v, m.n, sizeof *m.v, age_cmp);
		size_t drop = m.n - max;
		const char **names = xmalloc(drop * sizeof *names);
		for (size_t i = 0; i < drop; i++)
			names[i] = m.v[i].name;
		rc = store_meta_del_all(st, names, drop);
		free(names);
	}
	free(m.v);
	return rc;
}

/* Names the lesson's key under the email it was learned from
 * (spamlesson/ACCOUNT/EMAIL), so that the store removes the lesson's
 * records and the account's vote with the email (store_spam.c), and the
 * correction the email's lessons now stand at (stands, 0: none). */
static int lesson_index(struct store *st, uint32_t account, uint32_t email, const char *hex,
			uint8_t stands)
{
	char name[48];
	uint8_t v[KEY_HEX + 1];
	if (!email)
		return 0;
	snprintf(name, sizeof name, "spamlesson/%u/%u", account, email);
	memcpy(v, hex, KEY_HEX);
	v[KEY_HEX] = stands;
	return store_meta_put(st, name, v, KEY_HEX + (stands != 0), 0);
}

/*
 * One lesson at a time: each reads the message's records (spamtrained/,
 * spamlesson/, spamvote/), then trains and writes them, in separate
 * store transactions. Lessons run on the worker pool, and a message
 * moved into Junk and straight back out gives two jobs that may run
 * together: both saw the old state, so the model learned both ways and
 * the reputation table got two corrections, neither taken back. Lessons
 * are rare (a user's move); serialising them costs nothing that shows.
 */
static pthread_mutex_t learn_lock = PTHREAD_MUTEX_INITIALIZER;

static int learn_locked(struct store *st, uint32_t account, uint32_t email, const char *msg,
			size_t len, int is_spam, const char **what_r);

int spam_learn_message(struct store *st, uint32_t account, uint32_t email, const char *msg,
		       size_t len, int is_spam, const char **what_r)
{
	pthread_mutex_lock(&learn_lock);
	int rc = learn_locked(st, account, email, msg, len, is_spam, what_r);
	pthread_mutex_unlock(&learn_lock);
	return rc;
}

static int learn_locked(struct store *st, uint32_t account, uint32_t email, const char *msg,
			size_t len, int is_spam, const char **what_r)
{
	char hex[KEY_HEX + 1], name[80], ip[SPAM_REP_KEY_MAX], dom[SPAM_REP_KEY_MAX];
	uint8_t was = 0;
	uint32_t refs = 0;
	int named = 0;
	uint8_t what = is_spam ? 's' : 'h';
	const char *what_done = "trained";
	struct spam_msg *m = NULL;
	int rc;

	hex_of(msg, len, hex);
	snprintf(name, sizeof name, "spamtrained/%u/%s", account, hex);
	was = trained_read(st, name, &refs);
	/* A copy's lesson is its origin's too (the email tern received,
	 * sender_of): both name it and stand at one correction, so a copy
	 * filed into Junk, expunged there and copied again finds the lesson
	 * known, and one moved back out takes the correction back. */
	uint32_t origin = 0;
	int named_o = 0, ours = sender_of(st, account, email, ip, dom, &origin) == 0;
	uint8_t stands = lesson_stands(st, account, email, hex, &named);
	uint8_t stands_o = origin ? lesson_stands(st, account, origin, hex, &named_o) : 0;
	if (!named && named_o)
		stands = stands_o;
	if (email && !named)
		refs++; /* this email names the lesson from now on */
	if (origin && !named_o)
		refs++; /* and so does its origin */
	if (was == what) {
		if (what_r)
			*what_r = "known";
		rc = named && (!origin || named_o) ? 0 : trained_write(st, name, what, refs);
		if (rc == 0 && origin)
			rc = lesson_index(st, account, origin, hex, stands);
		return rc ? rc : lesson_index(st, account, email, hex, stands);
	}
	spam_msg_new(msg, len, &m);
	rc = 0;
	if (was == 's' || was == 'h') {
		rc = spam_forget(st, account, m, was == 's');
		what_done = "retrained";
	}
	if (rc == 0)
		rc = spam_train(st, account, m, is_spam);
	if (rc == 0)
		rc = trained_write(st, name, what, refs);
	int global = 0;
	if (rc == 0)
		rc = lesson_index(st, account, email, hex, ours ? what : 0);
	if (rc == 0 && origin)
		rc = lesson_index(st, account, origin, hex, ours ? what : 0);
	if (rc == 0 && ours)
		rc = vote(st, account, hex, m, what, &global);
	spam_msg_free(&m);
	if (rc == 0 && ours && stands != what)
		correct_reputation(st, ip, dom, is_spam, stands);
	if (what_r)
		*what_r = !global      ? what_done
		          : global < 0 ? (was ? "retrained-global" : "trained-global")
		          : was        ? "retrained+global"
		                       : "trained+global";
	return rc;
}

/* ---- the hook's jobs ---- */

struct lesson {
	struct lesson *next; /* in the queue below */
	struct store *st;
	uint32_t account;
	int is_spam;
	size_t n;
	uint32_t emails[];
};

struct raw {
	char *data;
	size_t len;
};

static void raw_copy(void *arg, const char *data, size_t len)
{
	struct raw *r = arg;
	r->data = xmalloc(len ? len : 1);
	memcpy(r->data, data, len);
	r->len = len;
}

static void lesson_run(void *arg)
{
	struct lesson *l = arg;
	for (size_t i = 0; i < l->n; i++) {
		struct raw r = {0};
		const char *what = "";
		if (store_email_raw(l->st, l->account, l->emails[i], raw_copy, &r) != STORE_OK || !r.data)
			continue; /* expunged meanwhile */
		int rc = spam_learn_message(l->st, l->account, l->emails[i], r.data, r.len, l->is_spam,
					    &what);
		free(r.data);
		if (rc)
			log_warn("spam", NULL, "event=learn_failed account=%u email=%u result=%d",
				 l->account, l->emails[i], rc);
		else
			log_info("spam", NULL, "event=learned account=%u email=%u kind=%s what=%s",
				 l->account, l->emails[i], l->is_spam ? "spam" : "ham", what);
	}
}

/*
 * The lessons waiting, run in order by one pool job at a time (drain):
 * lessons take learn_lock one at a time anyway, and a job per lesson
 * would let a burst of them (a mass move into Junk and back) hold every
 * worker, each waiting for the lock, while inbound mail's scoring and
 * the other pool work waited behind them.
 */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lesson *queue_head, *queue_tail;
static int draining; /* a drain job is queued or running */
static size_t queued; /* emails in the queue's lessons, at most SPAM_LEARN_QUEUE_MAX */

size_t spam_learn_pending(void)
{
	pthread_mutex_lock(&queue_lock);
	size_t n = queued;
	pthread_mutex_unlock(&queue_lock);
	return n;
}

/*
 * After the lessons, one batch of the sweep of lessons whose email is
 * gone (store_spam_sweep: a lesson racing its email's expunge leaves
 * its records, which nothing else removes before the account goes).
 * Lessons are what makes them, so their drain walks the records on, a
 * batch each time, from where the last one ended: the walk's cost stays
 * bounded per drain and the records do not pile up. One drain runs at
 * a time, so sweep_cursor has one user.
 */
#define SWEEP_BATCH 256
static char sweep_cursor[64];

static void sweep_batch(struct store *st)
{
	size_t dropped = 0;
	int rc = store_spam_sweep(st, sweep_cursor, sizeof sweep_cursor, SWEEP_BATCH, &dropped);
	if (rc)
		log_warn("spam", NULL, "event=lesson_sweep_failed result=%d", rc);
	else if (dropped)
		log_info("spam", NULL, "event=lesson_sweep dropped=%zu", dropped);
}

static void drain_run(void *arg)
{
	(void)arg;
	struct store *st = NULL;
	for (;;) {
		pthread_mutex_lock(&queue_lock);
		struct lesson *l = queue_head;
		if (l) {
			queue_head = l->next;
			if (!queue_head)
				queue_tail = NULL;
			queued -= l->n;
		} else if (!st) {
			draining = 0;
		}
		pthread_mutex_unlock(&queue_lock);
		if (!l && st) {
			sweep_batch(st);
			st = NULL;
			continue; /* lessons queued meanwhile */
		}
		if (!l)
			return;
		st = l->st;
		lesson_run(l);
		free(l);
	}
}

static void drain_done(void *arg)
{
	free(arg);
}

void spam_learn_hook(struct store *st, uint32_t account, const uint32_t *emails, size_t n,
		     int to_junk)
{
	struct lesson *l = xmalloc(sizeof *l + n * sizeof l->emails[0]);
	memset(l, 0, sizeof *l);
	l->st = st;
	l->account = account;
	l->is_spam = to_junk;
	l->n = n;
	memcpy(l->emails, emails, n * sizeof emails[0]);
	if (!worker_pool_running()) {
		lesson_run(l);
		free(l);
		return;
	}
	pthread_mutex_lock(&queue_lock);
	size_t room = queued < SPAM_LEARN_QUEUE_MAX ? SPAM_LEARN_QUEUE_MAX - queued : 0;
	size_t dropped = l->n > room ? l->n - room : 0;
	l->n -= dropped;
	if (dropped)
		log_warn("spam", NULL,
		         "event=learn_dropped account=%u emails=%zu reason=queue_full", account,
		         dropped);
	if (!l->n) {
		pthread_mutex_unlock(&queue_lock);
		free(l);
		return;
	}
	queued += l->n;
	if (queue_tail)
		queue_tail->next = l;
	else
		queue_head = l;
	queue_tail = l;
	int start = !draining;
	draining = 1;
	pthread_mutex_unlock(&queue_lock);
	if (start) {
		struct worker_job *wj = xcalloc(1, sizeof *wj);
		wj->fn = drain_run;
		wj->done = drain_done;
		wj->arg = wj;
		worker_submit(wj);
	}
}
