/*
 * test_queue.c — the outbound queue's store side: queue_submit() splits
 * local and remote recipients (INBOX copy with Return-Path, queue entry
 * with per-recipient state), synchronously and through the writer thread;
 * the schedule index, updates, flush/del and blob references.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/arc.h"
#include "core/log.h"
#include "core/loop.h"
#include "dkim/dkim.h"
#include "dkim/dkim_verify.h"
#include "dns/dns_table.h"
#include "queue/queue.h"
#include "queue/queue_7bit.h"
#include "mime/mime_downgrade.h"
#include "store/store.h"
#include "store/store_private.h"
#include "store/store_queue.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];
static int dirno;

static const char *new_dir(char *buf, size_t n)
{
	snprintf(buf, n, "%s/q%d", base, ++dirno);
	return buf;
}

static struct store *setup(const char *dir, unsigned flags, uint32_t *bob_r)
{
	struct store *st = NULL;
	char err[256];
	CHECK_EQ_INT(store_open(dir, flags, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw-bob-123456", 0, bob_r, err,
				       sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.test", "bob@example.test", err, sizeof err),
		     STORE_OK);
	return st;
}

static atomic_int done_calls;

static void on_done(struct queue_request *r, void *arg)
{
	(void)r;
	(void)arg;
	atomic_fetch_add(&done_calls, 1);
}

static uint64_t blob_refs(struct store *st, const uint8_t id[32])
{
	MDB_txn *txn;
	struct blobref_rec b = {0, 0, 0};
	if (store_rd_begin(st, &txn) != 0)
		return (uint64_t)-1;
	int rc = blobref_get(txn, st, id, &b);
	store_rd_end(st, txn);
	return rc ? 0 : b.refs;
}

struct raw {
	char buf[512];
	size_t len;
};

static void collect_raw(void *arg, const char *data, size_t len)
{
	struct raw *r = arg;
	r->len = len;
	memcpy(r->buf, data, len < sizeof r->buf - 1 ? len : sizeof r->buf - 1);
}

static const char MSG[] = "From: bob@example.test\r\nTo: carol@remote.test\r\n"
			  "Subject: hi\r\n\r\nHello.\r\n";

static void test_submit_sync(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct queue_rcpt rc[] = {
	    {"carol@remote.test", "rfc822;carol@remote.test", QUEUE_NOTIFY_FAILURE},
	    {"Team@example.test", NULL, 0},
	    {"dave@remote.test", NULL, QUEUE_NOTIFY_NEVER},
	    {"nobody@example.test", NULL, 0}, /* dropped: unknown local */
	};
	struct queue_request r = {
	    .data = MSG, .len = sizeof MSG - 1, .sender = "bob@example.test", .envid = "ENV1",
	    .flags = QUEUE_8BITMIME, .rcpts = rc, .nrcpts = 4, .account = bob,
	    .received_at = 1700000000, .done = on_done,
	};
	atomic_store(&done_calls, 0);
	queue_submit(st, &r);
	CHECK_EQ_INT(atomic_load(&done_calls), 1);
	CHECK_EQ_INT(r.result, STORE_OK);
	CHECK(r.queue_id != 0);
	CHECK_EQ_INT(r.nlocal, 1);
	CHECK_EQ_INT(r.nremote, 2);

	/* The local copy: INBOX, with Return-Path. */
	struct raw raw = {{0}, 0};
	CHECK_EQ_INT(store_email_raw(st, bob, 1, collect_raw, &raw), STORE_OK);
	CHECK(strncmp(raw.buf, "Return-Path: <bob@example.test>\r\nFrom:", 38) == 0);
	CHECK_EQ_INT(raw.len, sizeof MSG - 1 + strlen("Return-Path: <bob@example.test>\r\n"));

	/* The queue entry. */
	struct store_queue_entry e;
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_OK);
	CHECK_EQ_INT(e.nrcpts, 2);
	CHECK_EQ_STR(e.sender, "bob@example.test");
	CHECK_EQ_STR(e.envid, "ENV1");
	CHECK_EQ_INT(e.account, bob);
	CHECK_EQ_INT(e.flags, SQ_8BITMIME);
	CHECK_EQ_INT(e.size, sizeof MSG - 1);
	CHECK_EQ_INT(e.next_attempt, 1700000000);
	CHECK_EQ_STR(e.rcpts[0].addr, "carol@remote.test");
	CHECK_EQ_STR(e.rcpts[0].orcpt, "rfc822;carol@remote.test");
	CHECK_EQ_INT(e.rcpts[0].notify, SQ_NOTIFY_FAILURE);
	CHECK_EQ_INT(e.rcpts[0].state, SQ_PENDING);
	CHECK_EQ_INT(e.rcpts[1].notify, SQ_NOTIFY_NEVER);
	CHECK_EQ_INT(blob_refs(st, e.blob_id), 1);

	char *data = NULL;
	size_t len = 0;
	CHECK_EQ_INT(store_queue_blob(st, e.blob_id, &data, &len), STORE_OK);
	CHECK(len == sizeof MSG - 1 && data && memcmp(data, MSG, len) == 0);
	free(data);

	/* Due now, not before. */
	uint64_t ids[4];
	size_t n = 0;
	int64_t next = 0;
	CHECK_EQ_INT(store_queue_due(st, 1699999999, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(next, 1700000000);
	CHECK_EQ_INT(store_queue_due(st, 1700000000, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(ids[0] == r.queue_id);

	/* flush moves it to now (later than 1700000000). */
	size_t changed = 0;
	CHECK_EQ_INT(store_queue_flush(st, 0, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(store_queue_due(st, 1700000000, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 0);
	CHECK(next > 1700000000);

	/* del drops entry, index and the blob reference. */
	uint8_t blob[32];
	memcpy(blob, e.blob_id, 32);
	store_queue_entry_free(&e);
	CHECK_EQ_INT(store_queue_del(st, r.queue_id, &changed), STORE_OK);
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_ENOTFOUND);
	CHECK_EQ_INT(blob_refs(st, blob), 0);
	CHECK_EQ_INT(store_queue_due(st, INT64_MAX - 1, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(store_queue_del(st, r.queue_id, &changed), STORE_ENOTFOUND);

	/* Bad input: done() still runs, EINVAL. */
	struct queue_request bad = {.data = MSG, .len = sizeof MSG - 1, .sender = "x@y",
				    .rcpts = rc, .nrcpts = 0, .done = on_done};
	queue_submit(st, &bad);
	CHECK_EQ_INT(bad.result, STORE_EINVAL);
	struct queue_rcpt only_unknown = {"nobody@example.test", NULL, 0};
	bad.rcpts = &only_unknown;
	bad.nrcpts = 1;
	queue_submit(st, &bad);
	CHECK_EQ_INT(bad.result, STORE_EINVAL);
	CHECK_EQ_INT(atomic_load(&done_calls), 3);
	store_close(&st);
}

/* Updates through the transaction API, as the scheduler makes them. */
struct upd {
	uint64_t id;
	int64_t next;
	int final;
};

static int upd_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct upd *u = ctx;
	struct store_queue_entry old, e;
	int rc = store_queue_get_txn(st, txn, u->id, &old);
	if (rc)
		return rc;
	rc = store_queue_get_txn(st, txn, u->id, &e);
	if (rc == 0) {
		e.next_attempt = u->next;
		for (size_t i = 0; i < e.nrcpts && u->final; i++) {
			e.rcpts[i].state = SQ_SENT;
			e.rcpts[i].dsn_done = 1;
		}
		rc = store_queue_put_txn(st, txn, &old, &e);
		store_queue_entry_free(&e);
	}
	store_queue_entry_free(&old);
	return rc;
}

static void test_writer_and_updates(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), STORE_SERVER, &bob);
	struct loop *lp = loop_new();
	struct queue_rcpt rc[] = {{"carol@remote.test", NULL, 0}};
	struct queue_request r[3];

	atomic_store(&done_calls, 0);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct queue_request){.data = MSG, .len = sizeof MSG - 1, .sender = "",
					      .rcpts = rc, .nrcpts = 1, .received_at = 1000 + i,
					      .done = on_done};
		queue_submit(st, &r[i]); /* loop NULL: done on the writer thread */
	}
	for (int i = 0; i < 2000 && atomic_load(&done_calls) < 3; i++)
		usleep(1000);
	CHECK_EQ_INT(atomic_load(&done_calls), 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(r[i].result, STORE_OK);
	CHECK(r[0].queue_id != r[1].queue_id && r[1].queue_id != r[2].queue_id);

	struct store_queue_entry e;
	CHECK_EQ_INT(store_queue_get(st, r[0].queue_id, &e), STORE_OK);
	CHECK_EQ_INT(blob_refs(st, e.blob_id), 3); /* three entries, one blob */
	uint8_t blob[32];
	memcpy(blob, e.blob_id, 32);
	store_queue_entry_free(&e);

	/* Reschedule the first, finish the second. */
	struct upd u1 = {r[0].queue_id, 5000, 0}, u2 = {r[1].queue_id, 1001, 1};
	CHECK_EQ_INT(store_write(st, upd_fn, &u1), STORE_OK);
	CHECK_EQ_INT(store_write(st, upd_fn, &u2), STORE_OK);
	uint64_t ids[4];
	size_t n = 0;
	int64_t next = 0;
	CHECK_EQ_INT(store_queue_due(st, 4999, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(ids[0] == r[2].queue_id);
	CHECK_EQ_INT(next, 5000);
	CHECK_EQ_INT(store_queue_get(st, r[1].queue_id, &e), STORE_ENOTFOUND);
	CHECK_EQ_INT(blob_refs(st, blob), 2);
	loop_free(&lp);
	store_close(&st);
}

/* A long queue (a remote domain down for days) added in one transaction. */
#define LONG_QUEUE 20000

static int fill_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < LONG_QUEUE; i++) {
		char addr[64];
		struct store_queue_rcpt r = {.addr = addr, .orcpt = "", .status = "", .remote = ""};
		struct store_queue_entry e = {.created_at = 1000, .next_attempt = 5000 + i % 7,
					      .sender = "bob@example.test", .envid = "",
					      .nrcpts = 1, .rcpts = &r, .size = sizeof MSG - 1};
		snprintf(addr, sizeof addr, "r%d@remote.test", i);
		memset(e.blob_id, 0x5a, 32);
		int rc = store_queue_add_txn(st, txn, &e, MSG, sizeof MSG - 1);
		if (rc)
			return rc;
	}
	return 0;
}

struct page {
	uint64_t *seen;
	size_t n, limit, on_page;
	uint64_t last;
	int more;
};

static int page_cb(void *arg, const struct store_queue_entry *e)
{
	struct page *p = arg;
	if (p->on_page == p->limit) {
		p->more = 1;
		return 1;
	}
	p->seen[p->n++] = e->id;
	p->on_page++;
	p->last = e->id;
	return 0;
}

/* store_queue_walk pages through the whole long queue in id order, each
 * entry once, and store_queue_count counts it without reading it. */
static void test_walk_pages(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), STORE_SERVER, &bob);
	uint64_t count = 0;

	CHECK_EQ_INT(store_write(st, fill_fn, NULL), STORE_OK);
	CHECK_EQ_INT(store_queue_count(st, &count, NULL), STORE_OK);
	CHECK_EQ_INT(count, LONG_QUEUE);

	struct page p = {.seen = calloc(LONG_QUEUE + 1, sizeof(uint64_t)), .limit = 997};
	uint64_t after = 0;
	int pages = 0;
	do {
		p.more = 0;
		p.on_page = 0;
		CHECK_EQ_INT(store_queue_walk(st, after, page_cb, &p), STORE_OK);
		after = p.last;
		pages++;
	} while (p.more && pages < 100);
	CHECK_EQ_INT(pages, (LONG_QUEUE + 996) / 997);
	CHECK_EQ_INT(p.n, LONG_QUEUE);
	for (size_t i = 1; i < p.n; i++)
		CHECK(p.seen[i] > p.seen[i - 1]); /* id order: none repeated */
	CHECK_EQ_INT(p.seen[p.n - 1] - p.seen[0] + 1, LONG_QUEUE); /* none missing */

	/* Past the last id, and at the very end of the id space: nothing. */
	p.on_page = 0;
	p.n = 0;
	CHECK_EQ_INT(store_queue_walk(st, p.seen[LONG_QUEUE - 1], page_cb, &p), STORE_OK);
	CHECK_EQ_INT(p.n, 0);
	CHECK_EQ_INT(store_queue_walk(st, UINT64_MAX, page_cb, &p), STORE_OK);
	CHECK_EQ_INT(p.n, 0);
	free(p.seen);
	store_close(&st);
}

/* How many DKIM-Signature fields of msg[0..n) pass with key k of d. */
static size_t sigs_pass(const char *msg, size_t n, const struct dkim_key *k, const char *d)
{
	struct buf txt;
	buf_init(&txt, 4096);
	buf_printf(&txt, "%s._domainkey.%s TXT ", k->selector, d);
	dkim_key_txt(k, &txt);
	struct dns_table *t = dns_table_new(buf_data(&txt), buf_len(&txt));
	struct dns_resolver r = dns_table_resolver(t);
	struct dkim_verifier *v = dkim_verifier_new(&r, time(NULL));
	dkim_verifier_update(v, msg, n);
	size_t pass = 0;
	if (dkim_verifier_run(v, NULL, NULL) == DKIM_VERIFY_DONE)
		for (size_t i = 0; i < dkim_verifier_count(v); i++)
			pass += dkim_verifier_result(v, i)->result == DKIM_RESULT_PASS;
	dkim_verifier_free(&v);
	dns_table_free(&t);
	buf_free(&txt);
	return pass;
}

static size_t count(const char *hay, size_t n, const char *needle)
{
	size_t c = 0, l = strlen(needle);
	for (size_t i = 0; i + l <= n; i++)
		c += memcmp(hay + i, needle, l) == 0;
	return c;
}

/*
 * queue_to_7bit (RFC 6152 §3): the 7-bit form of a message we signed is
 * signed again (and verifies); a signature of our domain that does not
 * verify on the queued message (forged on relayed mail, or the message
 * changed since) is never replaced by a good one; a foreign one stays.
 */
static void test_to_7bit_resigns_only_ours(void)
{
	char dir[300], err[256];
	uint32_t bob;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct dkim_keys *keys = calloc(1, sizeof *keys);
	CHECK_EQ_INT(dkim_key_generate(&keys->key[0], DKIM_ALG_ED25519_SHA256, time(NULL)), DKIM_OK);
	keys->n = 1;
	CHECK_EQ_INT(store_dkim_put(st, "example.test", keys, 0, err, sizeof err), STORE_OK);

	static const char body8[] = "From: bob@example.test\r\nTo: carol@remote.test\r\n"
				    "Subject: hi\r\n\r\ncaf\xc3\xa9\r\n";
	struct buf sigs, in, out;
	unsigned nsigs, resigned = 9, resealed = 9;
	struct str p = str_make(body8, sizeof body8 - 1);
	buf_init(&sigs, 1 << 16);
	buf_init(&in, 1 << 16);
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(store_dkim_sign(st, "example.test", &p, 1, &sigs, &nsigs), DKIM_OK);
	buf_append_c(&in, "DKIM-Signature: v=1; a=rsa-sha256; d=other.test; s=x; h=from; bh=AA==; "
			  "b=AA==\r\n");
	buf_append(&in, buf_data(&sigs), buf_len(&sigs));
	buf_append(&in, body8, sizeof body8 - 1);
	CHECK_EQ_INT(sigs_pass(buf_data(&in), buf_len(&in), &keys->key[0], "example.test"), 1);

	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&in), buf_len(&in), &out, &resigned, &resealed), 0);
	CHECK_EQ_INT(resigned, 1);
	CHECK(!mime_has_8bit(buf_data(&out), buf_len(&out)));
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "DKIM-Signature:"), 2);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "d=other.test"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "caf=C3=A9"), 1);
	CHECK_EQ_INT(sigs_pass(buf_data(&out), buf_len(&out), &keys->key[0], "example.test"), 1);

	/* The body changed after signing (a forger's copy of our field):
	 * converted, the field left as it was, and it still fails. */
	char *forged = malloc(buf_len(&in));
	memcpy(forged, buf_data(&in), buf_len(&in));
	forged[buf_len(&in) - 5] = 'E';
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, forged, buf_len(&in), &out, &resigned, &resealed), 0);
	CHECK_EQ_INT(resigned, 0);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), buf_data(&sigs)), 1);
	CHECK_EQ_INT(sigs_pass(buf_data(&out), buf_len(&out), &keys->key[0], "example.test"), 0);
	free(forged);

	/* No 7-bit form: 8-bit octets in a part declared base64. */
	static const char b64[] = "Subject: x\r\nMIME-Version: 1.0\r\n"
				  "Content-Transfer-Encoding: base64\r\n\r\n\xc3\xa9\r\n";
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, b64, sizeof b64 - 1, &out, &resigned, &resealed), -1);

	buf_free(&sigs);
	buf_free(&in);
	buf_free(&out);
	dkim_keys_wipe(keys);
	free(keys);
	store_close(&st);
}

/* msg[0..n) with an ARC set by domain (key k) on top, in b. */
static void seal_into(struct buf *b, const char *msg, size_t n, const struct dkim_key *k,
		      const char *domain, enum arc_cv cv, const char *authres)
{
	struct arc_seal_params p = {k, domain, authres, cv, time(NULL)};
	struct buf set;
	buf_init(&set, 1 << 16);
	CHECK_EQ_INT(arc_seal(&p, msg, n, &set), ARC_OK);
	buf_reset(b);
	buf_append(b, buf_data(&set), buf_len(&set));
	buf_append(b, msg, n);
	buf_free(&set);
}

/* The validator's verdict on msg[0..n) with the key records in txt. */
static struct arc_result arc_check(const char *txt, const char *msg, size_t n)
{
	struct dns_table *t = dns_table_new(txt, strlen(txt));
	struct dns_resolver r = dns_table_resolver(t);
	struct arc_verifier *v = arc_verifier_new(&r, time(NULL));
	arc_verifier_update(v, msg, n);
	struct arc_result res;
	memset(&res, 0, sizeof res);
	res.cv = ARC_CV_FAIL;
	if (arc_verifier_run(v, NULL, NULL) == ARC_VERIFY_DONE)
		res = *arc_verifier_result(v);
	for (unsigned i = 0; i < ARC_SETS_MAX; i++)
		res.set[i].aar = (struct str){NULL, 0};
	arc_verifier_free(&v);
	dns_table_free(&t);
	return res;
}

/*
 * queue_to_7bit and ARC (RFC 8617 §5.1): our own newest set (a forwarded
 * copy we sealed) is made again over the 7-bit form, with its AAR, so the
 * chain still validates; a set before ours stays (its AMS breaks, which
 * ARC allows); a set of ours that does not verify on the queued message,
 * or a newest set that is not ours, is left as it is.
 */
static void test_to_7bit_reseals_our_arc_set(void)
{
	char dir[300], err[256];
	uint32_t bob;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct dkim_keys *keys = calloc(1, sizeof *keys), *list = calloc(1, sizeof *list);
	CHECK_EQ_INT(dkim_key_generate(&keys->key[0], DKIM_ALG_RSA_SHA256, time(NULL)), DKIM_OK);
	keys->n = 1;
	CHECK_EQ_INT(store_dkim_put(st, "example.test", keys, 0, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(dkim_key_generate(&list->key[0], DKIM_ALG_RSA_SHA256, time(NULL)), DKIM_OK);
	list->n = 1;
	struct buf txt;
	buf_init(&txt, 1 << 16);
	buf_printf(&txt, "%s._domainkey.example.test TXT ", keys->key[0].selector);
	dkim_key_txt(&keys->key[0], &txt);
	buf_printf(&txt, "\n%s._domainkey.lists.test TXT ", list->key[0].selector);
	dkim_key_txt(&list->key[0], &txt);
	buf_append_c(&txt, "\n");

	static const char msg8[] = "From: alice@origin.test\r\nTo: fwd@example.test\r\n"
				   "Subject: hi\r\n\r\ncaf\xc3\xa9\r\n";
	static const char ar[] = "mx.example.test; spf=pass smtp.mailfrom=alice@origin.test;\r\n"
				 "\tarc=none";
	struct buf in, out, listed;
	unsigned resigned = 9, resealed = 9;
	buf_init(&in, 1 << 16);
	buf_init(&out, 1 << 16);
	buf_init(&listed, 1 << 16);

	/* i=1, ours. */
	seal_into(&in, msg8, sizeof msg8 - 1, &keys->key[0], "example.test", ARC_CV_NONE, ar);
	CHECK_EQ_INT(arc_check(buf_data(&txt), buf_data(&in), buf_len(&in)).cv, ARC_CV_PASS);
	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&in), buf_len(&in), &out, &resigned, &resealed), 0);
	CHECK_EQ_INT(resigned, 0);
	CHECK_EQ_INT(resealed, 1);
	CHECK(!mime_has_8bit(buf_data(&out), buf_len(&out)));
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Seal: i=1;"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Seal:"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Message-Signature:"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Authentication-Results:"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out),
			   "ARC-Authentication-Results: i=1; mx.example.test; spf=pass "
			   "smtp.mailfrom=alice@origin.test;\r\n\tarc=none\r\n"), 1);
	struct arc_result r = arc_check(buf_data(&txt), buf_data(&out), buf_len(&out));
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.nsets, 1);

	/* Signed by us (submission), then sealed by us (a redirect): both
	 * made again, the new AMS over the new DKIM-Signature. */
	struct buf sigs, signed8;
	unsigned nsigs;
	struct str sp = str_make(msg8, sizeof msg8 - 1);
	buf_init(&sigs, 1 << 16);
	buf_init(&signed8, 1 << 16);
	CHECK_EQ_INT(store_dkim_sign(st, "example.test", &sp, 1, &sigs, &nsigs), DKIM_OK);
	buf_append(&signed8, buf_data(&sigs), buf_len(&sigs));
	buf_append(&signed8, msg8, sizeof msg8 - 1);
	seal_into(&listed, buf_data(&signed8), buf_len(&signed8), &keys->key[0], "example.test",
		  ARC_CV_NONE, ar);
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&listed), buf_len(&listed), &out, &resigned,
				   &resealed), 0);
	CHECK_EQ_INT(resigned, 1);
	CHECK_EQ_INT(resealed, 1);
	CHECK_EQ_INT(sigs_pass(buf_data(&out), buf_len(&out), &keys->key[0], "example.test"), 1);
	CHECK_EQ_INT(arc_check(buf_data(&txt), buf_data(&out), buf_len(&out)).cv, ARC_CV_PASS);
	CHECK(memcmp(buf_data(&out), "ARC-Seal: i=1;", 14) == 0);
	buf_free(&sigs);
	buf_free(&signed8);

	/* Changed after our seal: converted, our set left (and failing). */
	buf_reset(&listed);
	buf_append(&listed, buf_data(&in), buf_len(&in) - 4);
	buf_append_c(&listed, "E\r\n");
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&listed), buf_len(&listed), &out, &resigned,
				   &resealed), 0);
	CHECK_EQ_INT(resealed, 0);
	CHECK_EQ_INT(arc_check(buf_data(&txt), buf_data(&out), buf_len(&out)).cv, ARC_CV_FAIL);

	/* A list sealed it (i=1), we forwarded it (i=2, cv=pass). */
	seal_into(&listed, msg8, sizeof msg8 - 1, &list->key[0], "lists.test", ARC_CV_NONE,
		  "lists.test; spf=pass smtp.mailfrom=alice@origin.test");
	seal_into(&in, buf_data(&listed), buf_len(&listed), &keys->key[0], "example.test",
		  ARC_CV_PASS, ar);
	CHECK_EQ_INT(arc_check(buf_data(&txt), buf_data(&in), buf_len(&in)).cv, ARC_CV_PASS);
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&in), buf_len(&in), &out, &resigned, &resealed), 0);
	CHECK_EQ_INT(resealed, 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Seal: i=2;"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "cv=pass"), 1);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Seal:"), 2);
	r = arc_check(buf_data(&txt), buf_data(&out), buf_len(&out));
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.nsets, 2);
	CHECK_EQ_INT(r.oldest_pass, 2); /* the list's AMS covered the 8-bit body */

	/* The newest set is the list's, over ours: not ours to make again. */
	seal_into(&listed, buf_data(&in), buf_len(&in), &list->key[0], "lists.test", ARC_CV_PASS,
		  "lists.test; arc=pass");
	buf_reset(&out);
	CHECK_EQ_INT(queue_to_7bit(st, buf_data(&listed), buf_len(&listed), &out, &resigned,
				   &resealed), 0);
	CHECK_EQ_INT(resealed, 0);
	CHECK_EQ_INT(count(buf_data(&out), buf_len(&out), "ARC-Seal:"), 3);
	CHECK_EQ_INT(arc_check(buf_data(&txt), buf_data(&out), buf_len(&out)).cv, ARC_CV_FAIL);

	buf_free(&in);
	buf_free(&out);
	buf_free(&listed);
	buf_free(&txt);
	dkim_keys_wipe(keys);
	dkim_keys_wipe(list);
	free(keys);
	free(list);
	store_close(&st);
}

/* A line over 998 octets (RFC 5322 §2.1.1) makes its leaf quoted-printable;
 * 998 does not, nor does one in a part already base64. */
static void test_long_lines_get_a_7bit_form(void)
{
	char line[1200];
	memset(line, 'a', sizeof line);
	CHECK(!mime_has_long_line(line, 998));
	CHECK(mime_has_long_line(line, 999));
	struct buf m, out;
	buf_init(&m, 1 << 20);
	buf_init(&out, 1 << 20);
	/* 998 octets then CRLF, and then LF alone: neither is long. */
	buf_append_c(&m, "Subject: x\r\n\r\n");
	buf_append(&m, line, 998);
	buf_append_c(&m, "\r\n");
	buf_append(&m, line, 998);
	buf_append_c(&m, "\n");
	CHECK(!mime_has_long_line(buf_data(&m), buf_len(&m)));
	CHECK(mime_downgrade_7bit(buf_data(&m), buf_len(&m), &out) == 0);
	CHECK(buf_len(&out) == buf_len(&m) && memcmp(buf_data(&out), buf_data(&m), buf_len(&m)) == 0);
	/* 999 without its CRLF: quoted-printable, every line short. */
	buf_append(&m, line, 999);
	buf_append_c(&m, "\r\n");
	CHECK(mime_has_long_line(buf_data(&m), buf_len(&m)));
	buf_reset(&out);
	CHECK(mime_downgrade_7bit(buf_data(&m), buf_len(&m), &out) == 0);
	CHECK(!mime_has_long_line(buf_data(&out), buf_len(&out)));
	CHECK(strstr(buf_data(&out), "MIME-Version: 1.0\r\n") != NULL);
	CHECK(strstr(buf_data(&out), "Content-Transfer-Encoding: quoted-printable\r\n") != NULL);
	CHECK(strstr(buf_data(&out), "charset=utf-8") == NULL); /* ASCII stays US-ASCII */
	/* Declared base64 (broken, but not ours to mend): as it came. */
	buf_reset(&m);
	buf_append_c(&m, "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	buf_append(&m, line, 1200);
	buf_append_c(&m, "\r\n");
	buf_reset(&out);
	CHECK(mime_downgrade_7bit(buf_data(&m), buf_len(&m), &out) == 0);
	CHECK(buf_len(&out) == buf_len(&m) && memcmp(buf_data(&out), buf_data(&m), buf_len(&m)) == 0);
	buf_free(&m);
	buf_free(&out);
}

/*
 * MT-PRIORITY (RFC 6710) in the queue: kept in the entry (a trailer,
 * flag SQ_MT_PRIORITY only when not 0, out of range clamped), kept by
 * updates, and the due list puts higher priority first, in due order
 * within a level, even for an entry beyond the first max due ones.
 */
static void test_due_prefers_priority(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct queue_rcpt rc[] = {{"carol@remote.test", NULL, 0}};
	static const int prio[] = {0, 5, -3, 5, 1, 42};
	uint64_t qid[6];

	for (int i = 0; i < 6; i++) {
		struct queue_request r = {.data = MSG, .len = sizeof MSG - 1, .sender = "",
					  .rcpts = rc, .nrcpts = 1, .received_at = 1000 + i,
					  .mt_priority = prio[i], .done = on_done};
		queue_submit(st, &r);
		CHECK_EQ_INT(r.result, STORE_OK);
		qid[i] = r.queue_id;
	}
	struct store_queue_entry e;
	CHECK_EQ_INT(store_queue_get(st, qid[0], &e), STORE_OK);
	CHECK_EQ_INT(e.priority, 0);
	CHECK_EQ_INT(e.flags & SQ_MT_PRIORITY, 0);
	store_queue_entry_free(&e);
	CHECK_EQ_INT(store_queue_get(st, qid[2], &e), STORE_OK);
	CHECK_EQ_INT(e.priority, -3);
	CHECK(e.flags & SQ_MT_PRIORITY);
	store_queue_entry_free(&e);
	CHECK_EQ_INT(store_queue_get(st, qid[5], &e), STORE_OK);
	CHECK_EQ_INT(e.priority, SQ_PRIORITY_MAX);
	store_queue_entry_free(&e);

	/* The fifth (priority 1) is due after the first four, yet chosen
	 * before the normal one when four are asked for. */
	uint64_t ids[8];
	size_t n = 0;
	int64_t next = 0;
	CHECK_EQ_INT(store_queue_due(st, 2000, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 4);
	CHECK(ids[0] == qid[5] && ids[1] == qid[1] && ids[2] == qid[3] && ids[3] == qid[4]);
	CHECK_EQ_INT(store_queue_due(st, 2000, ids, 8, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 6);
	CHECK(ids[4] == qid[0] && ids[5] == qid[2]);
	CHECK_EQ_INT(next, INT64_MAX);
	/* Only what is due competes: not yet due, priority waits. */
	CHECK_EQ_INT(store_queue_due(st, 1002, ids, 8, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 3);
	CHECK(ids[0] == qid[1] && ids[1] == qid[0] && ids[2] == qid[2]);
	CHECK_EQ_INT(next, 1003);

	/* A retry keeps the priority (the scheduler's read-modify-write). */
	struct upd u = {qid[1], 1500, 0};
	CHECK_EQ_INT(store_write(st, upd_fn, &u), STORE_OK);
	CHECK_EQ_INT(store_queue_get(st, qid[1], &e), STORE_OK);
	CHECK_EQ_INT(e.priority, 5);
	CHECK_EQ_INT(e.next_attempt, 1500);
	store_queue_entry_free(&e);
	CHECK_EQ_INT(store_queue_due(st, 2000, ids, 3, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 3);
	CHECK(ids[0] == qid[5] && ids[1] == qid[3] && ids[2] == qid[1]);
	store_close(&st);
}

/* Sets the entry's last_update (queue_sched.c, upd_once). */
struct mark {
	uint64_t id, token;
};

static int mark_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct mark *m = ctx;
	struct store_queue_entry old, e;
	int rc = store_queue_get_txn(st, txn, m->id, &old);
	if (rc)
		return rc;
	rc = store_queue_get_txn(st, txn, m->id, &e);
	if (rc == 0) {
		e.last_update = m->token;
		rc = store_queue_put_txn(st, txn, &old, &e);
		store_queue_entry_free(&e);
	}
	store_queue_entry_free(&old);
	return rc;
}

/*
 * The last update's token (SQ_LAST_UPDATE and its trailer, after the
 * priority's): none on a new entry, kept as written, beside a priority,
 * kept by an update that does not set it, and gone with 0.
 */
static void test_last_update_token(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct queue_rcpt rc[] = {{"carol@remote.test", NULL, 0}};
	struct queue_request r = {.data = MSG, .len = sizeof MSG - 1, .sender = "",
				  .rcpts = rc, .nrcpts = 1, .received_at = 1000,
				  .mt_priority = -2, .done = on_done};
	struct store_queue_entry e;

	queue_submit(st, &r);
	CHECK_EQ_INT(r.result, STORE_OK);
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_OK);
	CHECK(e.last_update == 0 && !(e.flags & SQ_LAST_UPDATE));
	store_queue_entry_free(&e);

	struct mark m = {r.queue_id, 0x8000000000000001ull};
	CHECK_EQ_INT(store_write(st, mark_fn, &m), STORE_OK);
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_OK);
	CHECK(e.last_update == 0x8000000000000001ull && (e.flags & SQ_LAST_UPDATE));
	CHECK_EQ_INT(e.priority, -2);
	store_queue_entry_free(&e);

	struct upd u = {r.queue_id, 1500, 0};
	CHECK_EQ_INT(store_write(st, upd_fn, &u), STORE_OK);
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_OK);
	CHECK(e.last_update == 0x8000000000000001ull);
	CHECK_EQ_INT(e.next_attempt, 1500);
	CHECK_EQ_INT(e.priority, -2);
	store_queue_entry_free(&e);

	m.token = 0;
	CHECK_EQ_INT(store_write(st, mark_fn, &m), STORE_OK);
	CHECK_EQ_INT(store_queue_get(st, r.queue_id, &e), STORE_OK);
	CHECK(e.last_update == 0 && !(e.flags & SQ_LAST_UPDATE));
	CHECK_EQ_INT(e.priority, -2);
	store_queue_entry_free(&e);
	store_close(&st);
}

/*
 * The due scan stops once a full batch of the highest priority is found:
 * nothing after it can be chosen first. Where it stopped shows in next
 * (the due time of the first entry not read, at or before now), which
 * was INT64_MAX when the scan read every due key. A lower priority due
 * earlier does not stop it, and the order is the same either way.
 */
static void test_due_stops_at_a_full_top_batch(void)
{
	char dir[300];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);
	struct queue_rcpt rc[] = {{"carol@remote.test", NULL, 0}};
	uint64_t qid[40];

	for (int i = 0; i < 40; i++) {
		/* The first is priority 8, due first; the rest 9. */
		struct queue_request r = {.data = MSG, .len = sizeof MSG - 1, .sender = "",
					  .rcpts = rc, .nrcpts = 1, .received_at = 1000 + i,
					  .mt_priority = i == 0 ? SQ_PRIORITY_MAX - 1 : SQ_PRIORITY_MAX,
					  .done = on_done};
		queue_submit(st, &r);
		CHECK_EQ_INT(r.result, STORE_OK);
		qid[i] = r.queue_id;
	}
	uint64_t ids[8];
	size_t n = 0;
	int64_t next = 0;
	/* Four of priority 9 fill the batch with the fifth key (due 1004):
	 * the sixth's (due 1005) is read and the scan stops there. */
	CHECK_EQ_INT(store_queue_due(st, 2000, ids, 4, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 4);
	CHECK(ids[0] == qid[1] && ids[1] == qid[2] && ids[2] == qid[3] && ids[3] == qid[4]);
	CHECK_EQ_INT(next, 1005);
	/* Eight: the batch is full at due 1008, the next key is 1009. */
	CHECK_EQ_INT(store_queue_due(st, 2000, ids, 8, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 8);
	CHECK(ids[0] == qid[1] && ids[7] == qid[8]);
	CHECK_EQ_INT(next, 1009);
	/* Not yet due: as before, the first due time ahead. */
	CHECK_EQ_INT(store_queue_due(st, 1002, ids, 8, &n, &next), STORE_OK);
	CHECK_EQ_INT(n, 3);
	CHECK(ids[0] == qid[1] && ids[1] == qid[2] && ids[2] == qid[0]);
	CHECK_EQ_INT(next, 1003);
	store_close(&st);
}

/*
 * Whether a recipient is ours has three answers: a store error (the test
 * build's TERN_TEST_RESOLVE_FAIL_FILE, store_resolve.c) is "cannot tell
 * now", never "outside", for which the scheduler would send it to an MX.
 */
static void test_rcpt_local_three_answers(void)
{
	char dir[300], fail[320];
	uint32_t bob = 0;
	struct store *st = setup(new_dir(dir, sizeof dir), 0, &bob);

	CHECK_EQ_INT(queue_rcpt_local(st, "bob@example.test"), QUEUE_RCPT_OURS);
	CHECK_EQ_INT(queue_rcpt_local(st, "nobody@example.test"), QUEUE_RCPT_OURS);
	CHECK_EQ_INT(queue_rcpt_local(st, "carol@remote.test"), QUEUE_RCPT_OUTSIDE);
	snprintf(fail, sizeof fail, "%s/resolve-fail", dir);
	FILE *f = fopen(fail, "w");
	CHECK(f != NULL);
	fputs("Bob@example.test\n", f);
	fclose(f);
	setenv("TERN_TEST_RESOLVE_FAIL_FILE", fail, 1);
	CHECK_EQ_INT(queue_rcpt_local(st, "bob@example.test"), QUEUE_RCPT_UNSURE);
	CHECK_EQ_INT(queue_rcpt_dropped(st, "bob@example.test"), 0);
	CHECK_EQ_INT(queue_rcpt_local(st, "team@example.test"), QUEUE_RCPT_OURS);
	unsetenv("TERN_TEST_RESOLVE_FAIL_FILE");
	CHECK_EQ_INT(queue_rcpt_local(st, "bob@example.test"), QUEUE_RCPT_OURS);
	store_close(&st);
}

int main(void)
{
	if (unit_env_begin(base, sizeof base, "queue") < 0)
		return 1;
	test_submit_sync();
	test_rcpt_local_three_answers();
	test_writer_and_updates();
	test_due_prefers_priority();
	test_last_update_token();
	test_due_stops_at_a_full_top_batch();
	test_walk_pages();
	test_to_7bit_resigns_only_ours();
	test_to_7bit_reseals_our_arc_set();
	test_long_lines_get_a_7bit_form();
	unit_rmrf(base);
	return unit_done("test_queue");
}
