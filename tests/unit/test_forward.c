/*
 * test_forward.c — the forwarding helpers (forward/forward.h): the loop
 * scan (Received count, our Delivered-To in any case, in brackets,
 * folded, and not in the body), the forwarded copy's sender (null,
 * local, SRS, kept when SRS cannot carry it), the per-alias rate window
 * and the per-account one of Sieve's vacation replies and notifications,
 * the key derived at forward_init, the ARC fields a message arrives
 * with, and a forwarded copy (forward_copy.h): its bytes (Delivered-To,
 * head, our forged Authentication-Results gone, an ARC set i=1 sealed
 * with the domain's key), its SRS sender, targets once each, notices, a
 * bounce passing through, an unvalidated chain left unsealed, a closed
 * one, and the hook's queue entry in a store commit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/arc.h"
#include "dkim/dkim.h"
#include "forward/forward.h"
#include "forward/forward_copy.h"
#include "store/store_queue.h"
#include "unit_env.h"

static void test_scan(void)
{
	static const char msg[] =
	    "Received: from a by b; Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	    "Delivered-To: other@example.com\r\n"
	    "received: from c\r\n\tby d; Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	    "Delivered-To:\r\n <Info@Example.COM> \r\n"
	    "Subject: x\r\n"
	    "\r\n"
	    "Received: not a field, the body\r\n"
	    "Delivered-To: body@example.com\r\n";
	unsigned n = 99;

	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, NULL, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "info@example.com", &n), 1);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "other@example.com", &n), 1);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "body@example.com", &n), 0);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "info@example.co", &n), 0);
	/* Byte by byte: every prefix is read within its length. */
	for (size_t len = 0; len < sizeof msg; len++) {
		char *copy = malloc(len ? len : 1);
		memcpy(copy, msg, len);
		forward_scan(copy, len, "info@example.com", &n);
		CHECK(n <= 2);
		free(copy);
	}
	CHECK_EQ_INT(forward_scan("", 0, "a@b", &n), 0);
	CHECK_EQ_INT(n, 0);

	/* ARC fields in the header (any of the three, any case), not in the body. */
	CHECK_EQ_INT(forward_has_arc(msg, sizeof msg - 1), 0);
	static const char arc[] = "Subject: x\r\narc-authentication-results: i=1; a.test; none\r\n\r\n";
	CHECK_EQ_INT(forward_has_arc(arc, sizeof arc - 1), 1);
	static const char seal[] = "ARC-Seal: i=1; cv=none\r\n\r\n";
	CHECK_EQ_INT(forward_has_arc(seal, sizeof seal - 1), 1);
	static const char body[] = "Subject: x\r\n\r\nARC-Seal: i=1; cv=none\r\n";
	CHECK_EQ_INT(forward_has_arc(body, sizeof body - 1), 0);
}

static void test_sender_and_rate(const char *base)
{
	char out[SRS_ADDR_MAX + 1], back[SRS_ADDR_MAX + 1];
	const int64_t now = (int64_t)20414 * 86400;

	/* Before forward_init: no key, senders are kept as they are. */
	CHECK(forward_srs() == NULL);
	CHECK_EQ_INT(forward_sender("a@origin.test", 0, "fwd.test", now, out, sizeof out), SRS_EINVAL);
	CHECK_EQ_STR(out, "a@origin.test");

	CHECK_EQ_INT(forward_init(base, 2), 0);
	CHECK(forward_srs() != NULL);
	CHECK_EQ_INT(forward_sender("", 0, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(forward_sender("me@fwd.test", 1, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK_EQ_STR(out, "me@fwd.test");
	CHECK_EQ_INT(forward_sender("a@origin.test", 0, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK(strncmp(out, "SRS0=", 5) == 0);
	CHECK_EQ_INT(srs_reverse(forward_srs(), out, now, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "a@origin.test");
	CHECK_EQ_INT(forward_sender("\"a b\"@origin.test", 0, "fwd.test", now, out, sizeof out),
		     SRS_EINVAL);
	CHECK_EQ_STR(out, "\"a b\"@origin.test");
	/* The key is the data directory's: a second init gives the same one. */
	struct srs k1 = *forward_srs();
	CHECK_EQ_INT(forward_init(base, 2), 0);
	CHECK(memcmp(k1.key, forward_srs()->key, sizeof k1.key) == 0);

	/* Two messages an hour per alias; others unaffected. */
	CHECK(forward_rate_allowed("a@fwd.test", 1000));
	forward_rate_record("a@fwd.test", 1000);
	forward_rate_record("a@fwd.test", 2000);
	CHECK(!forward_rate_allowed("a@fwd.test", 3000));
	CHECK(forward_rate_allowed("b@fwd.test", 3000));
	CHECK(forward_rate_allowed("a@fwd.test", 1000 + RATE_WINDOW_MS));
	/* A Sieve script's own messages count per account, apart from any
	 * address's forwards and from other accounts'. */
	CHECK(forward_rate_account_allowed(7, 3000));
	forward_rate_account_record(7, 3000);
	forward_rate_account_record(7, 4000);
	CHECK(!forward_rate_account_allowed(7, 5000));
	CHECK(forward_rate_account_allowed(8, 5000));
	CHECK(forward_rate_allowed("b@fwd.test", 5000));
	CHECK(forward_rate_account_allowed(7, 3000 + RATE_WINDOW_MS));
	CHECK_EQ_INT(forward_init(base, 0), 0); /* unlimited, and frees the table */
	CHECK(forward_rate_allowed("a@fwd.test", 3000));
}

/* 1 when needle is in the copy's bytes. */
static int has(const struct forward_copy *c, const char *needle)
{
	return memmem(c->data, c->len, needle, strlen(needle)) != NULL;
}

static void count_entry(void *arg, const struct store_queue_entry *e)
{
	(void)e;
	(*(int *)arg)++;
}

static void test_copy(const char *base)
{
	char dir[600], err[256];
	struct store *st = NULL;
	struct dkim_keys keys;
	struct forward_copy c;
	const int64_t now = (int64_t)20414 * 86400;
	static const char msg[] = "Authentication-Results: mx.fwd.test; dkim=pass header.d=forged.test\r\n"
				  "From: a@origin.test\r\nSubject: hi\r\n\r\nHello.\r\n";
	const char *dt[] = {"info@fwd.test"};
	const char *tg[] = {"x@far.test", "y@far.test", "x@far.test"};

	snprintf(dir, sizeof dir, "%s/copy", base);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "fwd.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(dkim_keys_generate(&keys, now), DKIM_OK);
	CHECK_EQ_INT(store_dkim_put(st, "fwd.test", &keys, 0, err, sizeof err), STORE_OK);
	dkim_keys_wipe(&keys);
	CHECK_EQ_INT(forward_init(base, 0), 0);

	struct forward_copy_in in = {
	    .st = st, .head = STR_LIT("Received: from a by mx.fwd.test; x\r\n"),
	    .message = str_make(msg, sizeof msg - 1), .authserv_id = "mx.fwd.test",
	    .delivered_to = dt, .ndelivered_to = 1, .targets = tg, .ntargets = 3,
	    .sender = "a@origin.test", .fwd_domain = "fwd.test",
	    .authres = "Authentication-Results: mx.fwd.test; spf=pass smtp.mailfrom=a@origin.test\r\n",
	    .notify_ok = 1, .flags = SQ_8BITMIME, .now = now,
	};
	CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
	CHECK_EQ_STR(c.arc, "sealed");
	CHECK(c.len > 0 && strncmp(c.data, "ARC-Seal: i=1; a=rsa-sha256; ", 29) == 0);
	struct str d = str_make(c.data, c.len);
	CHECK(has(&c, "\r\nDelivered-To: info@fwd.test\r\nReceived: from a"));
	CHECK(!has(&c, "forged.test"));
	CHECK(has(&c, "ARC-Authentication-Results: i=1; mx.fwd.test; spf=pass"));
	CHECK(d.len > 8 && memcmp(c.data + c.len - 8, "Hello.\r\n", 8) == 0);
	CHECK(strncmp(c.e.sender, "SRS0=", 5) == 0 && strstr(c.e.sender, "@fwd.test"));
	CHECK_EQ_INT(c.e.nrcpts, 2);
	CHECK_EQ_INT(c.e.rcpts[0].notify, 0);
	CHECK_EQ_INT(c.e.flags, SQ_8BITMIME);
	CHECK_EQ_INT(c.e.size, c.len);
	CHECK_EQ_INT(c.srs_rc, SRS_OK);

	/* The hook writes the entry in the commit (here with no local copy). */
	struct store_delivery sd = {.txn_hook = forward_copy_hook, .hook_arg = &c,
				    .hook_len = c.len, .received_at = now};
	CHECK_EQ_INT(store_deliver_sync(st, &sd), STORE_OK);
	int n = 0;
	CHECK_EQ_INT(store_queue_list(st, count_entry, &n), STORE_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(c.e.id != 0);
	forward_copy_free(&c);

	/* A bounce passing through: sender and bytes as they came, no seal. */
	in.fwd_domain = NULL;
	in.sender = "";
	in.ndelivered_to = 0;
	in.notify_ok = 0;
	CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
	CHECK_EQ_STR(c.arc, "none");
	CHECK_EQ_STR(c.e.sender, "");
	CHECK(strncmp(c.data, "Received: from a", 16) == 0);
	CHECK_EQ_INT(c.e.rcpts[1].notify, SQ_NOTIFY_NEVER);
	forward_copy_free(&c);

	/* A chain of its own: unsealed unless validated; closed when it says cv=fail. */
	static const char chained[] = "ARC-Seal: i=1; a=rsa-sha256; cv=fail; d=list.test; s=s; b=AAAA\r\n"
				      "Subject: hi\r\n\r\nHello.\r\n";
	in.fwd_domain = "fwd.test";
	in.ndelivered_to = 1;
	in.sender = "a@fwd.test"; /* one of ours: kept */
	in.message = str_make(chained, sizeof chained - 1);
	CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
	CHECK_EQ_STR(c.arc, "skipped_chain");
	CHECK_EQ_STR(c.e.sender, "a@fwd.test");
	forward_copy_free(&c);
	in.arc_known = 1;
	in.arc_cv = ARC_CV_FAIL;
	CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
	CHECK_EQ_STR(c.arc, "chain_closed");
	CHECK(strncmp(c.data, "Delivered-To:", 13) == 0);
	forward_copy_free(&c);
	/* An internationalized domain seals in either spelling, d= its
	 * A-labels (RFC 8616 §4): "failed" and "no_key" before. */
	in.arc_known = 0;
	in.message = str_make(msg, sizeof msg - 1);
	CHECK_EQ_INT(store_domain_add(st, "b\xc3\xbc" "cher.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(dkim_keys_generate(&keys, now), DKIM_OK);
	CHECK_EQ_INT(store_dkim_put(st, "b\xc3\xbc" "cher.test", &keys, 0, err, sizeof err), STORE_OK);
	dkim_keys_wipe(&keys);
	const char *idn[] = {"b\xc3\xbc" "cher.test", "xn--bcher-kva.test"};
	for (size_t i = 0; i < 2; i++) {
		in.fwd_domain = idn[i];
		in.sender = "a@origin.test";
		in.now = (int64_t)time(NULL); /* forward_reverse_local's clock */
		CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
		CHECK_EQ_STR(c.arc, "sealed");
		CHECK(has(&c, "d=xn--bcher-kva.test;"));
		/* The SRS sender in A-labels (it was SRS0=...@bücher.test: a
		 * UTF-8 envelope sender, refused by a next hop without
		 * SMTPUTF8), and a bounce to it reverses though the domain is
		 * kept as its U-labels. */
		const char *sat = strrchr(c.e.sender, '@');
		CHECK(strncmp(c.e.sender, "SRS0=", 5) == 0 && sat && strcmp(sat, "@xn--bcher-kva.test") == 0);
		char back[SRS_ADDR_MAX + 1];
		CHECK_EQ_INT(forward_reverse_local(st, c.e.sender, back, sizeof back, NULL), 1);
		CHECK_EQ_STR(back, "a@origin.test");
		forward_copy_free(&c);
	}
	/* No key for the domain. */
	in.fwd_domain = "nokeys.test";
	CHECK_EQ_INT(forward_copy_build(&in, &c), 0);
	CHECK_EQ_STR(c.arc, "no_key");
	forward_copy_free(&c);
	store_close(&st);
}

/* forward_authors_same: the author fields, byte for byte, in order. */
static void test_authors_same(void)
{
	struct str a = STR_LIT("Received: x\r\nFrom: Ann <ann@fwd.test>\r\nSubject: s\r\n"
			       "Sender: bob@fwd.test\r\n\r\nFrom: body@x.test\r\n");
	CHECK(forward_authors_same(a, a));
	/* Other fields edited, the body too: the same authors. */
	CHECK(forward_authors_same(a, STR_LIT("X-Edited: 1\r\nFrom: Ann <ann@fwd.test>\r\n"
					      "Sender: bob@fwd.test\r\n\r\nother\r\n")));
	CHECK(!forward_authors_same(a, STR_LIT("From: boss@fwd.test\r\n"
					       "Sender: bob@fwd.test\r\n\r\nx\r\n")));
	CHECK(!forward_authors_same(a, STR_LIT("From: Ann <ann@fwd.test>\r\n\r\nx\r\n")));
	CHECK(!forward_authors_same(a, STR_LIT("From: Ann <ann@fwd.test>\r\nSender: bob@fwd.test\r\n"
					       "Resent-From: boss@fwd.test\r\n\r\nx\r\n")));
	/* A folded field is compared with its fold; LF-only line ends work. */
	CHECK(!forward_authors_same(STR_LIT("From: a@x.test\n\nb\n"),
				    STR_LIT("From: a@x.test\n boss@x.test\n\nb\n")));
	CHECK(forward_authors_same(STR_LIT("From: a@x.test\n\nb\n"), STR_LIT("from: a@x.test\n\nc\n")) == 0);
	CHECK(!forward_authors_same(STR_LIT("From: a@x.test"), STR_LIT("From: a@x.test")));
}

/* An alias target's ORCPT: the RCPT's own, else the alias (RFC 3461 §4.2). */
static void test_orcpt(void)
{
	char o[SQ_ORCPT_MAX + 1], small[16];
	CHECK(strcmp(forward_orcpt("rfc822;Keep+me@ex.test", "keep@ex.test", o, sizeof o),
		     "rfc822;Keep+me@ex.test") == 0);
	CHECK(strcmp(forward_orcpt(NULL, "keep@ex.test", o, sizeof o), "rfc822;keep@ex.test") == 0);
	CHECK(strcmp(forward_orcpt("", "keep@ex.test", o, sizeof o), "rfc822;keep@ex.test") == 0);
	/* A UTF-8 alias has no rfc822 form; a given utf-8 ORCPT is kept. */
	CHECK(forward_orcpt(NULL, "j\xc3\xb6rg@ex.test", o, sizeof o) == NULL);
	CHECK(strcmp(forward_orcpt("utf-8;j\\x{F6}rg@ex.test", "j\xc3\xb6rg@ex.test", o, sizeof o),
		     "utf-8;j\\x{F6}rg@ex.test") == 0);
	CHECK(forward_orcpt(NULL, "a-long-alias@ex.test", small, sizeof small) == NULL);
}

int main(void)
{
	char base[256];

	if (unit_env_begin(base, sizeof base, "forward") < 0)
		return 1;
	test_scan();
	test_orcpt();
	test_authors_same();
	test_sender_and_rate(base);
	test_copy(base);
	unit_rmrf(base);
	return unit_done("test_forward");
}
