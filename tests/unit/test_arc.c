/*
 * test_arc.c — ARC (RFC 8617): chains sealed by tern's sealer and checked
 * by the validator against a table resolver, and every way a chain fails:
 * a broken seal, a broken AMS (body, header), a gap, a duplicate, i>50,
 * cv=fail in the newest seal and on sealing, a missing key, a DNS
 * failure; oldest-pass; the trusted-sealer question; the AAR reader. Each
 * message is also fed one byte at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "core/buf.h"
#include "dns/dns_table.h"
#include "unit.h"

#define NOW 1795000000

static const char MSG[] = "Received: from a.example.com by list.example.org; Sun, 22 Nov 2026 19:00:00 +0000\r\n"
                          "From: Ann <ann@example.com>\r\n"
                          "To: list@example.org\r\n"
                          "Subject: lunch on Friday\r\n"
                          "Date: Sun, 22 Nov 2026 19:00:00 +0000\r\n"
                          "Message-ID: <lunch.1@example.com>\r\n"
                          "\r\n"
                          "Noon at the usual place?  \r\n"
                          "\r\n"
                          "Ann\r\n";

/* RFC 8617 Appendix B: a message through a list (i=1), gmail.example
 * (i=2) and clochette.example.org (i=3), as printed in the RFC. Its
 * signatures were made with 512-bit keys that the RFC does not publish. */
static const char RFC8617_B[] =
    "Return-Path: <jqd@d1.example>\r\n"
    "Received: from example.org (example.org [208.69.40.157])\r\n"
    "    by gmail.example with ESMTP id d200mr22663000ykb.93.1421363207\r\n"
    "    for <fmartin@example.com>; Thu, 14 Jan 2015 15:02:40 -0800 (PST)\r\n"
    "Received: from segv.d1.example (segv.d1.example [72.52.75.15])\r\n"
    "    by lists.example.org (8.14.5/8.14.5) with ESMTP id t0EKaNU9010123\r\n"
    "    for <arc@example.org>; Thu, 14 Jan 2015 15:01:30 -0800 (PST)\r\n"
    "    (envelope-from jqd@d1.example)\r\n"
    "Received: from [2001:DB8::1A] (w-x-y-z.dsl.static.isp.example [w.x.y.z])\r\n"
    "    (authenticated bits=0)\r\n"
    "    by segv.d1.example with ESMTP id t0FN4a8O084569;\r\n"
    "    Thu, 14 Jan 2015 15:00:01 -0800 (PST)\r\n"
    "    (envelope-from jqd@d1.example)\r\n"
    "Received: from mail-ob0-f188.google.example\r\n"
    "    (mail-ob0-f188.google.example [208.69.40.157]) by\r\n"
    "    clochette.example.org with ESMTP id d200mr22663000ykb.93.1421363268\r\n"
    "    for <fmartin@example.org>; Thu, 14 Jan 2015 15:03:15 -0800 (PST)\r\n"
    "ARC-Seal: i=3; a=rsa-sha256; cv=pass; d=clochette.example.org; s=\r\n"
    "        clochette; t=12345; b=CU87XzXlNlk5X/yW4l73UvPUcP9ivwYWxyBWcVrRs7\r\n"
    "        +HPx3K05nJhny2fvymbReAmOA9GTH/y+k9kEc59hAKVg==\r\n"
    "ARC-Message-Signature: i=3; a=rsa-sha256; c=relaxed/relaxed; d=\r\n"
    "        clochette.example.org; h=message-id:date:from:to:subject; s=\r\n"
    "        clochette; t=12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZY\r\n"
    "        LQ=; b=o71vwyLsK+Wm4cOSlirXoRwzEvi0vqIjd/2/GkYFYlSd/GGfKzkAgPqxf\r\n"
    "        K7ccBMP7Zjb/mpeggswHjEMS8x5NQ==\r\n"
    "ARC-Authentication-Results: i=3; clochette.example.org; spf=fail\r\n"
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n"
    "    header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass,\r\n"
    "    ams.2.gmail.example=pass, as.1.lists.example.org=pass,\r\n"
    "    ams.1.lists.example.org=fail (message has been altered))\r\n"
    "Authentication-Results: clochette.example.org; spf=fail\r\n"
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n"
    "    header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass,\r\n"
    "    ams.2.gmail.example=pass, as.1.lists.example.org=pass,\r\n"
    "    ams.1.lists.example.org=fail (message has been altered))\r\n"
    "ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=gmail.example; s=20120806; t=\r\n"
    "        12345; b=Zpukh/kJL4Q7Kv391FKwTepgS56dgHIcdhhJZjsalhqkFIQQAJ4T9BE\r\n"
    "        8jjLXWpRNuh81yqnT1/jHn086RwezGw==\r\n"
    "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed; d=\r\n"
    "        gmail.example; h=message-id:date:from:to:subject; s=20120806; t=\r\n"
    "        12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=CVoG44\r\n"
    "        cVZvoSs2mMig2wwqPaJ4OZS5XGMCegWqQs1wvRZJS894tJM0xO1RJLgCPsBOxdA5\r\n"
    "        9WSqI9s9DfyKDfWg==\r\n"
    "ARC-Authentication-Results: i=2; gmail.example; spf=fail\r\n"
    "    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n"
    "    header.i=@example.org; dmarc=fail; arc=pass\r\n"
    "    (as.1.lists.example.org=pass, ams.1.lists.example.org=pass)\r\n"
    "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=lists.example.org; s=dk-lists;\r\n"
    "         t=12345; b=TlCCKzgk3TrAa+G77gYYO8Fxk4q/Ml0biqduZJeOYh6+0zhwQ8u/\r\n"
    "        lHxLi21pxu347isLSuNtvIagIvAQna9a5A==\r\n"
    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=\r\n"
    "        lists.example.org; h=message-id:date:from:to:subject; s=\r\n"
    "        dk-lists; t=12345; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYL\r\n"
    "        Q=; b=DsoD3n3hiwlrN1ma8IZQFgZx8EDO7Wah3hUjIEsYKuShRKYB4LwGUiKD5Y\r\n"
    "        yHgcIwGHhSc/4+ewYqHMWDnuFxiQ==\r\n"
    "ARC-Authentication-Results: i=1; lists.example.org; spf=pass\r\n"
    "    smtp.mfrom=jqd@d1.example; dkim=pass (512-bit key)\r\n"
    "    header.i=@d1.example; dmarc=pass\r\n"
    "DKIM-Signature: v=1; a=rsa-sha1; c=relaxed/relaxed; d=d1.example; h=\r\n"
    "        message-id:date:from:to:subject; s=origin2015; bh=bIxxaeIQvmOBdT\r\n"
    "        AitYfSNFgzPP4=; b=qKjd5fYibKXWWIcMKCgRYuo1vJ2fD+IAQPjX+uamXIGY2Q\r\n"
    "        0HjQ+Lq3/yHzG3JHJp6780/nKQPOWt2UDJQrJkEA==\r\n"
    "Message-ID: <54B84785.1060301@d1.example>\r\n"
    "Date: Thu, 14 Jan 2015 15:00:01 -0800\r\n"
    "From: John Q Doe <jqd@d1.example>\r\n"
    "To: arc@dmarc.example\r\n"
    "Subject: [List 2] Example 1\r\n"
    "\r\n"
    "Hey gang,\r\n"
    "This is a test message.\r\n"
    "--J.\r\n";

static struct dkim_keys keys_list, keys_fwd;
static struct dns_table *table;

/* The validator's result for msg (a copy), fed whole or byte by byte. */
static struct arc_result verify_with(struct dns_table *t, const char *msg, int bytewise)
{
	struct dns_resolver r = dns_table_resolver(t);
	struct arc_verifier *v = arc_verifier_new(&r, NOW);
	size_t len = strlen(msg);
	if (bytewise)
		for (size_t i = 0; i < len; i++)
			arc_verifier_update(v, msg + i, 1);
	else
		arc_verifier_update(v, msg, len);
	int rc = arc_verifier_run(v, NULL, NULL);
	CHECK_EQ_INT(rc, ARC_VERIFY_DONE);
	static struct arc_result res;
	memset(&res, 0, sizeof res);
	const struct arc_result *got = arc_verifier_result(v);
	CHECK(got != NULL);
	if (got != NULL)
		res = *got;
	/* The AAR slices point into the verifier: keep none past free. */
	for (unsigned i = 0; i < ARC_SETS_MAX; i++)
		res.set[i].aar = (struct str){NULL, 0};
	arc_verifier_free(&v);
	CHECK(v == NULL);
	return res;
}

/* Whole and byte by byte must agree; returns the whole one. */
static struct arc_result verify(const char *msg)
{
	struct arc_result a = verify_with(table, msg, 0);
	struct arc_result b = verify_with(table, msg, 1);
	CHECK_EQ_INT(a.cv, b.cv);
	CHECK_EQ_INT(a.failed, b.failed);
	CHECK_EQ_INT(a.oldest_pass, b.oldest_pass);
	CHECK_EQ_STR(a.reason, b.reason);
	return a;
}

/* msg with a new set on top (malloc'd), or NULL with *rc_r set. */
static char *seal(const char *msg, const struct dkim_keys *k, const char *domain, enum arc_cv cv,
                  const char *authres, int *rc_r)
{
	struct arc_seal_params p = {arc_key_pick(k), domain, authres, cv, NOW};
	struct buf out;
	buf_init(&out, 1 << 20);
	int rc = arc_seal(&p, msg, strlen(msg), &out);
	if (rc_r)
		*rc_r = rc;
	if (rc != ARC_OK) {
		buf_free(&out);
		return NULL;
	}
	size_t n = buf_len(&out), m = strlen(msg);
	char *r = malloc(n + m + 1);
	memcpy(r, buf_data(&out), n);
	memcpy(r + n, msg, m + 1);
	buf_free(&out);
	return r;
}

/* msg with the first from replaced by to (malloc'd). */
static char *replace(const char *msg, const char *from, const char *to)
{
	const char *at = strstr(msg, from);
	CHECK(at != NULL);
	if (at == NULL)
		return strdup(msg);
	size_t a = (size_t)(at - msg), f = strlen(from), t = strlen(to), m = strlen(msg);
	char *r = malloc(m - f + t + 1);
	memcpy(r, msg, a);
	memcpy(r + a, to, t);
	memcpy(r + a + t, at + f, m - a - f + 1);
	return r;
}

/* The whole field (with its folds and CRLF) that starts with prefix. */
static char *cut_field(const char *msg, const char *prefix)
{
	const char *at = strstr(msg, prefix);
	CHECK(at != NULL);
	if (at == NULL)
		return strdup(msg);
	const char *e = at;
	do {
		e = strstr(e, "\r\n") + 2;
	} while (*e == ' ' || *e == '\t');
	size_t a = (size_t)(at - msg);
	char *r = malloc(strlen(msg) + 1);
	memcpy(r, msg, a);
	strcpy(r + a, e);
	return r;
}

static char *field_text(const char *msg, const char *prefix)
{
	const char *at = strstr(msg, prefix);
	if (at == NULL)
		return strdup("");
	const char *e = at;
	do {
		e = strstr(e, "\r\n") + 2;
	} while (*e == ' ' || *e == '\t');
	return strndup(at, (size_t)(e - at));
}

static int trust_list(void *arg, const char *d)
{
	(void)arg;
	return strcmp(d, "example.org") == 0;
}

static int trust_both(void *arg, const char *d)
{
	(void)arg;
	return strcmp(d, "example.org") == 0 || strcmp(d, "fwd.example.net") == 0;
}

/* A resolver that never answers (arc_verifier_expire). */
static int silent_started, silent_cancelled;
static void *silent_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	(void)ctx, (void)name, (void)type, (void)cb, (void)arg;
	silent_started++;
	return &silent_started;
}
static void silent_cancel(void *ctx, void *h)
{
	(void)ctx, (void)h;
	silent_cancelled++;
}
static void never_wake(void *arg)
{
	(void)arg;
	CHECK(0);
}

static void test_chain_pass(void)
{
	int rc;
	struct arc_result r = verify(MSG);
	CHECK_EQ_INT(r.cv, ARC_CV_NONE);
	CHECK_EQ_INT(r.nsets, 0);

	char *m1 = seal(MSG, &keys_list, "Example.ORG", ARC_CV_NONE,
	                "list.example.org; spf=pass smtp.mailfrom=example.com;\r\n dkim=pass header.d=example.com;"
	                " dmarc=pass header.from=example.com",
	                &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	CHECK(strncmp(m1, "ARC-Seal: i=1; a=rsa-sha256; t=1795000000; cv=none;\r\n\td=example.org; s=", 71) == 0);
	CHECK(strstr(m1, "\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;") != NULL);
	CHECK(strstr(m1, "\r\nARC-Authentication-Results: i=1; list.example.org; spf=pass") != NULL);
	r = verify(m1);
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.nsets, 1);
	CHECK_EQ_INT(r.failed, 0);
	CHECK_EQ_INT(r.oldest_pass, 0);
	CHECK_EQ_STR(r.set[0].d, "example.org");
	CHECK_EQ_STR(r.set[0].ams_d, "example.org");
	CHECK_EQ_INT(r.set[0].cv, ARC_CV_NONE);
	CHECK_EQ_INT(r.set[0].ams, DKIM_RESULT_PASS);
	CHECK_EQ_INT(r.set[0].as, DKIM_RESULT_PASS);

	/* The AAR as the caller sees it, and the trusted-sealer question. */
	struct dns_resolver res = dns_table_resolver(table);
	struct arc_verifier *v = arc_verifier_new(&res, NOW);
	arc_verifier_update(v, m1, strlen(m1));
	CHECK_EQ_INT(arc_verifier_run(v, NULL, NULL), ARC_VERIFY_DONE);
	const struct arc_result *rr = arc_verifier_result(v);
	CHECK_EQ_SLICE(rr->set[0].aar, "list.example.org; spf=pass smtp.mailfrom=example.com;\r\n dkim=pass "
	                               "header.d=example.com; dmarc=pass header.from=example.com");
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "dmarc", "pass", NULL), 1);
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "dmarc", "pass", "example.com"), 1);
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "dmarc", "fail", NULL), 0);
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "arc", "pass", NULL), 0);
	/* The pass was for example.com's From: a message now from another
	 * domain (a later hop rewrote From and sealed again) gets nothing. */
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "dmarc", "pass", "bank.example"), 0);
	CHECK_EQ_INT(arc_trusted(rr, trust_list, NULL, "dmarc", "pass", ""), 0);

	/* Keys that never come: the caller's time runs out, the lookups
	 * are cancelled and the chain fails, temporarily. */
	struct dns_resolver silent = {silent_start, silent_cancel, NULL};
	struct arc_verifier *sv = arc_verifier_new(&silent, NOW);
	arc_verifier_update(sv, m1, strlen(m1));
	CHECK_EQ_INT(arc_verifier_run(sv, never_wake, NULL), ARC_VERIFY_WAIT);
	CHECK(silent_started > 0);
	CHECK_EQ_INT(arc_verifier_expire(sv), (size_t)silent_started);
	CHECK_EQ_INT(silent_cancelled, silent_started);
	CHECK_EQ_INT(arc_verifier_run(sv, never_wake, NULL), ARC_VERIFY_DONE);
	CHECK_EQ_INT(arc_verifier_result(sv)->cv, ARC_CV_FAIL);
	CHECK_EQ_INT(arc_verifier_result(sv)->temporary, 1);
	CHECK_EQ_INT(arc_verifier_expire(sv), 0);
	arc_verifier_free(&sv);
	CHECK_EQ_INT(silent_cancelled, silent_started); /* nothing cancelled twice */
	arc_verifier_free(&v);

	/* A second hop: cv=pass, signing both sets. */
	char *m2 = seal(m1, &keys_fwd, "fwd.example.net", ARC_CV_PASS,
	                "mx.fwd.example.net; arc=pass smtp.remote-ip=192.0.2.1; dmarc=fail header.from=example.com", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	CHECK(strncmp(m2, "ARC-Seal: i=2;", 14) == 0);
	CHECK(strstr(m2, "cv=pass;") != NULL);
	r = verify(m2);
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.nsets, 2);
	CHECK_EQ_INT(r.oldest_pass, 0);
	CHECK_EQ_STR(r.set[1].d, "fwd.example.net");
	CHECK_EQ_STR(r.set[0].d, "example.org");
	CHECK_EQ_INT(r.set[1].cv, ARC_CV_PASS);

	/* The trusted sealer is instance 1 (the list); instance 2 is not trusted. */
	v = arc_verifier_new(&res, NOW);
	arc_verifier_update(v, m2, strlen(m2));
	CHECK_EQ_INT(arc_verifier_run(v, NULL, NULL), ARC_VERIFY_DONE);
	CHECK_EQ_INT(arc_trusted(arc_verifier_result(v), trust_list, NULL, "dmarc", "pass", "example.com"), 1);
	arc_verifier_free(&v);

	/* A replay: the list's set 1 (dmarc=pass for example.com) taken from
	 * a copy the list sent, the body and Subject rewritten, sealed again
	 * by a hop nobody trusts. The chain verifies (only AMS 2 covers the
	 * message) but set 1's AMS no longer does: what the list vouched for
	 * is not this message, so its pass lifts nothing. */
	char *alt0 = replace(m1, "Noon at the usual place?", "Wire the money to account 123");
	char *alt = replace(alt0, "Subject: lunch on Friday", "Subject: urgent payment");
	char *m2x = seal(alt, &keys_fwd, "fwd.example.net", ARC_CV_PASS,
	                 "mx.fwd.example.net; dmarc=fail header.from=example.com", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	v = arc_verifier_new(&res, NOW);
	arc_verifier_update(v, m2x, strlen(m2x));
	CHECK_EQ_INT(arc_verifier_run(v, NULL, NULL), ARC_VERIFY_DONE);
	CHECK_EQ_INT(arc_verifier_result(v)->cv, ARC_CV_PASS);
	CHECK_EQ_INT(arc_verifier_result(v)->oldest_pass, 2);
	CHECK_EQ_INT(arc_trusted(arc_verifier_result(v), trust_list, NULL, "dmarc", "pass", "example.com"), 0);
	/* ... unless that later hop is trusted too: it vouches for its change. */
	CHECK_EQ_INT(arc_trusted(arc_verifier_result(v), trust_both, NULL, "dmarc", "pass", "example.com"), 1);
	arc_verifier_free(&v);
	free(m2x);
	free(alt);
	free(alt0);

	/* Broken AS: a seal's signature altered (instance 1's, under a valid set 2). */
	char *as1 = field_text(m2, "ARC-Seal: i=1;");
	char *b = strstr(as1, "b=") + 2;
	char *bad_as = strdup(as1);
	bad_as[b - as1 + 5] = bad_as[b - as1 + 5] == 'A' ? 'B' : 'A';
	char *m = replace(m2, as1, bad_as);
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 2); /* set 2's seal covers set 1's seal: it fails first */
	free(m);
	free(bad_as);
	/* ... and the seal's cv= edited: the seal no longer verifies. */
	m = replace(m2, "i=2; a=rsa-sha256; t=1795000000; cv=pass;", "i=2; a=rsa-sha256; t=1795000001; cv=pass;");
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 2);
	CHECK(strstr(r.reason, "ARC-Seal 2: signature did not verify") != NULL);
	free(m);

	/* Broken AMS of the newest set: the body, then a signed header. */
	m = replace(m2, "Noon at the usual place?", "Midnight at the usual place?");
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 2);
	CHECK(strstr(r.reason, "ARC-Message-Signature 2: body hash did not verify") != NULL);
	CHECK_EQ_INT(r.set[1].ams, DKIM_RESULT_FAIL);
	free(m);
	m = replace(m2, "Subject: lunch", "Subject: dinner");
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK(strstr(r.reason, "ARC-Message-Signature 2: signature did not verify") != NULL);
	free(m);
	/* An unsigned header added: still pass (Received is not signed). */
	m = replace(m2, "Received:", "Received: from x by y; Sun, 22 Nov 2026 19:00:01 +0000\r\nReceived:");
	CHECK_EQ_INT(verify(m).cv, ARC_CV_PASS);
	free(m);

	/* Gap: set 1 gone entirely, set 2 remains. */
	m = cut_field(m2, "ARC-Seal: i=1;");
	char *m_ = cut_field(m, "ARC-Message-Signature: i=1;");
	free(m);
	m = cut_field(m_, "ARC-Authentication-Results: i=1;");
	free(m_);
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 1);
	CHECK(strstr(r.reason, "instance 1 has no") != NULL);
	free(m);
	/* A set missing its AMS. */
	m = cut_field(m2, "ARC-Message-Signature: i=1;");
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_STR(r.reason, "instance 1 has no ARC-Message-Signature");
	free(m);

	/* Duplicate instance: a second AAR for i=1. */
	size_t l2 = strlen(m2);
	m = malloc(l2 + 64);
	snprintf(m, l2 + 64, "ARC-Authentication-Results: i=1; evil.example; dmarc=pass\r\n%s", m2);
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 1);
	CHECK_EQ_STR(r.reason, "instance 1 has more than one field of a kind");
	free(m);

	/* i > 50. */
	m = malloc(l2 + 64);
	snprintf(m, l2 + 64, "ARC-Authentication-Results: i=51; evil.example; dmarc=pass\r\n%s", m2);
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_STR(r.reason, "instance i=51 over the limit of 50 sets");
	free(m);
	/* An instance that is not a number. */
	m = malloc(l2 + 64);
	snprintf(m, l2 + 64, "ARC-Authentication-Results: i=01; evil.example; dmarc=pass\r\n%s", m2);
	CHECK_EQ_INT(verify(m).cv, ARC_CV_FAIL);
	free(m);

	/* Set 1 claiming cv=pass, and a later set claiming cv=none. */
	m = replace(m1, "cv=none;", "cv=pass;");
	r = verify(m);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_STR(r.reason, "ARC-Seal 1 says cv=pass, not none");
	free(m);

	/* DNS: no key, a temporary failure. */
	struct buf tt;
	buf_init(&tt, 1 << 16);
	buf_append_c(&tt, "fwd.example.net TXT x\n");
	for (unsigned i = 0; i < keys_list.n; i++) {
		buf_printf(&tt, "%s._domainkey.example.org TXT ", keys_list.key[i].selector);
		dkim_key_txt(&keys_list.key[i], &tt);
		buf_append_c(&tt, "\n");
	}
	struct dns_table *t2 = dns_table_new(buf_data(&tt), buf_len(&tt));
	r = verify_with(t2, m2, 0);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.temporary, 0);
	CHECK(strstr(r.reason, "ARC-Message-Signature 2: no key record at") != NULL);
	dns_table_free(&t2);
	buf_reset(&tt);
	buf_printf(&tt, "%s._domainkey.fwd.example.net TXT SERVFAIL\n", keys_fwd.key[0].selector);
	t2 = dns_table_new(buf_data(&tt), buf_len(&tt));
	r = verify_with(t2, m2, 0);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.temporary, 1);
	dns_table_free(&t2);
	buf_free(&tt);

	free(as1);
	free(m1);
	free(m2);
}

static void test_oldest_pass_and_fail(void)
{
	int rc;
	char *m1 = seal(MSG, &keys_list, "example.org", ARC_CV_NONE, "list.example.org; dmarc=pass header.from=example.com", &rc);
	/* The list rewrites the Subject after sealing; the next hop seals. */
	char *mod = replace(m1, "Subject: lunch", "Subject: [list] lunch");
	char *m2 = seal(mod, &keys_fwd, "fwd.example.net", ARC_CV_PASS, "mx.fwd.example.net; arc=pass", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	struct arc_result r = verify(m2);
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.oldest_pass, 2);
	CHECK_EQ_INT(r.set[0].ams, DKIM_RESULT_FAIL);
	CHECK_EQ_INT(r.set[1].ams, DKIM_RESULT_PASS);

	/* Sealing a failed chain: cv=fail, the seal covers the new set only,
	 * and the validator stops at the newest seal's cv=fail. */
	char *bad = replace(m1, "Noon", "Dawn");
	char *m3 = seal(bad, &keys_fwd, "fwd.example.net", ARC_CV_FAIL, "mx.fwd.example.net; arc=fail", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	CHECK(strstr(m3, "i=2; a=rsa-sha256; t=1795000000; cv=fail;") != NULL);
	r = verify(m3);
	CHECK_EQ_INT(r.cv, ARC_CV_FAIL);
	CHECK_EQ_INT(r.failed, 2);
	CHECK_EQ_STR(r.reason, "ARC-Seal 2 says cv=fail: the chain ended upstream");
	/* Nobody seals after a cv=fail. */
	char *m4 = seal(m3, &keys_list, "example.org", ARC_CV_FAIL, "x.example.org; arc=fail", &rc);
	CHECK(m4 == NULL);
	CHECK_EQ_INT(rc, ARC_ECHAIN);
	/* A caller saying "pass" for a chain the sealer finds broken gets cv=fail. */
	char *gap = cut_field(m1, "ARC-Message-Signature: i=1;");
	char *m5 = seal(gap, &keys_fwd, "fwd.example.net", ARC_CV_PASS, "mx.fwd.example.net; arc=pass", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	CHECK(m5 != NULL && strstr(m5, "cv=fail;") != NULL);
	/* A caller saying "pass" with no chain gets i=1 cv=none. */
	char *m6 = seal(MSG, &keys_fwd, "fwd.example.net", ARC_CV_PASS, "mx.fwd.example.net; arc=none", &rc);
	CHECK(m6 != NULL && strncmp(m6, "ARC-Seal: i=1; a=rsa-sha256; t=1795000000; cv=none;", 51) == 0);
	free(m1);
	free(mod);
	free(m2);
	free(bad);
	free(m3);
	free(gap);
	free(m5);
	free(m6);
}

static void test_fifty(void)
{
	int rc;
	char *m = strdup(MSG);
	for (unsigned i = 1; i <= ARC_SETS_MAX; i++) {
		char *n = seal(m, i % 2 ? &keys_list : &keys_fwd, i % 2 ? "example.org" : "fwd.example.net",
		               i == 1 ? ARC_CV_NONE : ARC_CV_PASS, "hop.example; arc=pass", &rc);
		CHECK_EQ_INT(rc, ARC_OK);
		if (n == NULL)
			break;
		free(m);
		m = n;
	}
	struct arc_result r = verify_with(table, m, 0);
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_INT(r.nsets, 50);
	CHECK_EQ_STR(r.set[49].d, "fwd.example.net");
	char *n = seal(m, &keys_list, "example.org", ARC_CV_PASS, "hop.example; arc=pass", &rc);
	CHECK(n == NULL);
	CHECK_EQ_INT(rc, ARC_ECHAIN);
	free(m);
}

static void test_seal_args(void)
{
	struct buf out;
	buf_init(&out, 1 << 16);
	struct arc_seal_params p = {arc_key_pick(&keys_list), "example.org", "a.example; arc=none", ARC_CV_NONE, NOW};
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_OK);
	buf_reset(&out);
	p.authres = "a.example;\r\narc=none"; /* a line break without WSP */
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	p.authres = "a.example;\narc=none";
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	p.authres = "";
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	p.authres = "a.example; arc=none\r\n\r\n";
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	/* The whole field as prepended: name and final CRLF dropped. */
	p.authres = "Authentication-Results: a.example;\r\n\tarc=none\r\n";
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_OK);
	buf_append(&out, "", 1);
	CHECK(strstr(buf_data(&out), "\r\nARC-Authentication-Results: i=1; a.example;\r\n\tarc=none\r\n") != NULL);
	buf_reset(&out);
	p.authres = "a.example; arc=none";
	p.domain = "nodot";
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	p.domain = "example.org";
	p.key = NULL;
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_EINVAL);
	CHECK_EQ_INT(buf_len(&out), 0);
	/* out too small: left as it was */
	struct buf small;
	buf_init(&small, 100);
	buf_append_c(&small, "x");
	p.key = arc_key_pick(&keys_list);
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &small), ARC_ETOOBIG);
	CHECK_EQ_INT(buf_len(&small), 1);
	buf_free(&small);
	buf_free(&out);
}

/* The streaming form as the pipeline uses it: the message hashed first
 * (in pieces, on the worker pool), the results set after the checks. */
static void test_seal_late_results(void)
{
	struct arc_seal_params p = {arc_key_pick(&keys_fwd), "fwd.example.net", NULL, ARC_CV_NONE, NOW};
	struct arc_sealer s;
	struct buf out;
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(arc_sealer_init(&s, &p), ARC_OK);
	for (size_t i = 0, n = strlen(MSG); i < n; i += 7)
		CHECK_EQ_INT(arc_sealer_update(&s, MSG + i, n - i < 7 ? n - i : 7), ARC_OK);
	CHECK_EQ_INT(arc_sealer_set_results(&s, "mx.fwd.example.net;\r\nspf=pass", ARC_CV_PASS), ARC_EINVAL);
	CHECK_EQ_INT(arc_sealer_set_results(&s, "mx.fwd.example.net; arc=none", ARC_CV_PASS), ARC_OK);
	CHECK_EQ_INT(arc_sealer_final(&s, &out), ARC_OK);
	CHECK_EQ_INT(arc_sealer_set_results(&s, "mx.fwd.example.net; arc=none", ARC_CV_PASS), ARC_EINVAL);
	buf_append_c(&out, MSG);
	buf_append(&out, "", 1);
	CHECK(strstr(buf_data(&out), "cv=none;") != NULL); /* no chain: none, whatever was said */
	struct arc_result r = verify(buf_data(&out));
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_STR(r.set[0].d, "fwd.example.net");
	/* Never given results: EINVAL at final, memory freed (ASan). */
	CHECK_EQ_INT(arc_sealer_init(&s, &p), ARC_OK);
	CHECK_EQ_INT(arc_sealer_update(&s, MSG, strlen(MSG)), ARC_OK);
	buf_reset(&out);
	CHECK_EQ_INT(arc_sealer_final(&s, &out), ARC_EINVAL);
	CHECK_EQ_INT(buf_len(&out), 0);
	buf_free(&out);
}

static void test_parse(void)
{
	char as[32], res[32];
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" i=3; a.example; none")), 3);
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" (c) i (c) = (c) 12 (c) ; x")), 12);
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" i=3 a.example")), 0);
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" i=0; x")), 0);
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" i=; x")), 0);
	CHECK_EQ_INT(arc_instance(ARC_F_AAR, str_c(" (unclosed i=1; x")), 0);
	CHECK_EQ_INT(arc_instance(ARC_F_AS, str_c(" a=rsa-sha256; i=7; cv=pass")), 7);
	CHECK_EQ_INT(arc_instance(ARC_F_AS, str_c(" i=51; cv=pass")), 51);
	CHECK_EQ_INT(arc_instance(ARC_F_AMS, str_c(" i=x")), 0);
	CHECK_EQ_INT(arc_field_kind(str_c("arc-seal: i=1")), ARC_F_AS);
	CHECK_EQ_INT(arc_field_kind(str_c("ARC-Message-Signature : i=1")), ARC_F_AMS);
	CHECK_EQ_INT(arc_field_kind(str_c("Arc-Authentication-Results: i=1")), ARC_F_AAR);
	CHECK_EQ_INT(arc_field_kind(str_c("ARC-Other: i=1")), ARC_F_NONE);
	CHECK_EQ_INT(arc_field_kind(str_c("Authentication-Results: x")), ARC_F_NONE);
	CHECK_EQ_SLICE(arc_aar_payload(str_c(" i=2;  mx.example; spf=pass \r\n")), "mx.example; spf=pass");

	struct str p = str_c("Mx.Example.COM 1 (comment; x=y); spf=pass smtp.mailfrom=a@b.c;\r\n"
	                     " dkim=fail (bad; sig) reason=\"x; y\" header.d=b.c; DMARC/1 = Pass header.from=b.c;");
	CHECK_EQ_INT(arc_authres_lookup(p, "dmarc", as, sizeof as, res, sizeof res), 1);
	CHECK_EQ_STR(as, "mx.example.com");
	CHECK_EQ_STR(res, "pass");
	CHECK_EQ_INT(arc_authres_lookup(p, "dkim", NULL, 0, res, sizeof res), 1);
	CHECK_EQ_STR(res, "fail");
	CHECK_EQ_INT(arc_authres_lookup(p, "arc", NULL, 0, res, sizeof res), 0);
	CHECK_EQ_INT(arc_authres_lookup(str_c("\"quoted id\"; none"), "dmarc", as, sizeof as, NULL, 0), 0);
	CHECK_EQ_STR(as, "quoted id");
	CHECK_EQ_INT(arc_authres_lookup(str_c("mx.example; spf"), "spf", NULL, 0, NULL, 0), -1);
	CHECK_EQ_INT(arc_authres_lookup(str_c("mx.example spf=pass"), "spf", NULL, 0, NULL, 0), -1);
	CHECK_EQ_INT(arc_authres_lookup(str_c(""), "spf", NULL, 0, NULL, 0), -1);
	/* A property of the method's resinfo (header.from), past comments,
	 * a reason and non-standard properties; an address gives its domain. */
	char from[64];
	CHECK_EQ_INT(arc_authres_property(p, "dmarc", "header.from", res, sizeof res, from, sizeof from), 1);
	CHECK_EQ_STR(res, "pass");
	CHECK_EQ_STR(from, "b.c");
	CHECK_EQ_INT(arc_authres_property(str_c("mx.example; dmarc=pass (p=REJECT sp=REJECT dis=NONE)"
	                                        " action=none Header.From=Bank.Example;compauth=pass reason=100"),
	                                  "dmarc", "header.from", res, sizeof res, from, sizeof from), 1);
	CHECK_EQ_STR(from, "bank.example");
	CHECK_EQ_INT(arc_authres_property(str_c("mx.example; dmarc=pass reason=\"a; b\" header.from=u@Ex.Org"),
	                                  "dmarc", "header.from", res, sizeof res, from, sizeof from), 1);
	CHECK_EQ_STR(from, "ex.org");
	CHECK_EQ_INT(arc_authres_property(str_c("mx.example; dmarc=pass; spf=pass header.from=x.example"),
	                                  "dmarc", "header.from", res, sizeof res, from, sizeof from), 1);
	CHECK_EQ_STR(from, "");

	struct arc_seal_sig s;
	const char *why;
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=Example.org; s=sel; t=12; b=AAAA"), &s, &why), 0);
	CHECK_EQ_STR(s.d, "example.org");
	CHECK_EQ_INT(s.cv, ARC_CV_NONE);
	CHECK_EQ_INT(s.blen, 3);
	/* d= and s= in U-labels (RFC 8616 §5): the key is at the A-labels. */
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=B\xc3\x9c" "cher.example; s=schl\xc3\xbcssel; b=AAAA"), &s, &why), 0);
	CHECK_EQ_STR(s.d, "xn--bcher-kva.example");
	CHECK_EQ_STR(s.s, "xn--schlssel-95a");
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=b\xff.example; s=sel; b=AAAA"), &s, &why), -1);
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; h=from; b=AAAA"), &s, &why), -1);
	CHECK_EQ_STR(why, "h= in an ARC-Seal (RFC 8617 §4.1.3)");
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=maybe; d=example.org; s=sel; b=AAAA"), &s, &why), -1);
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha1; cv=none; d=example.org; s=sel; b=AAAA"), &s, &why), -1);
	CHECK_EQ_STR(why, "rsa-sha1 is not accepted (RFC 8301)");
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha42; cv=none; d=example.org; s=sel; b=AAAA"), &s, &why), -1);
	CHECK_EQ_STR(why, "unknown algorithm a=");
	CHECK_EQ_INT(arc_seal_parse(str_c("a=rsa-sha256; cv=none; d=example.org; s=sel; b=AAAA"), &s, &why), -1);
	CHECK_EQ_INT(arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b="), &s, &why), -1);
	/* An octet over 0x7F is no base64 digit (the decoder took "\xff" for "/"). */
	CHECK_EQ_INT(
	    arc_seal_parse(str_c("i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b=AA\xff/"), &s,
	                   &why),
	    -1);
	CHECK_EQ_STR(why, "missing or bad b=");

	/* The AMS through DKIM's parser: no v=, i= the instance, no ARC-Seal in h=. */
	struct dkim_sig sig;
	enum dkim_result dr;
	unsigned inst = 0;
	CHECK_EQ_INT(dkim_sig_parse_ex(str_c("i=4; a=rsa-sha256; d=example.org; s=sel; h=from:to; bh=" 
	                                     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"),
	                               DKIM_SIG_ARC, &sig, &inst, &dr, &why), 0);
	CHECK_EQ_INT(inst, 4);
	/* Without c= an AMS is simple/simple, as a DKIM-Signature (RFC 8617
	 * §4.1.2 changes only the name, v= and i=); c= says otherwise. */
	CHECK_EQ_INT(sig.head_simple, 1);
	CHECK_EQ_INT(sig.body_simple, 1);
	CHECK_EQ_INT(dkim_sig_parse_ex(str_c("i=4; a=rsa-sha256; c=relaxed; d=example.org; s=sel; h=from:to; bh="
	                                     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"),
	                               DKIM_SIG_ARC, &sig, &inst, &dr, &why), 0);
	CHECK_EQ_INT(sig.head_simple, 0);
	CHECK_EQ_INT(sig.body_simple, 1);
	CHECK_EQ_INT(dkim_sig_parse_ex(str_c("i=4; a=rsa-sha256; d=example.org; s=sel; h=from:arc-seal; bh="
	                                     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"),
	                               DKIM_SIG_ARC, &sig, &inst, &dr, &why), -1);
	CHECK_EQ_INT(dkim_sig_parse_ex(str_c("a=rsa-sha256; d=example.org; s=sel; h=from; bh="
	                                     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"),
	                               DKIM_SIG_ARC, &sig, &inst, &dr, &why), -1);
	CHECK_EQ_STR(why, "missing required tag i=");
}

static void test_authres_append(void)
{
	struct arc_result r;
	struct buf b;
	buf_init(&b, 256);
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(arc_authres_append(&r, NULL, &b), 0);
	CHECK_EQ_SLICE(buf_str(&b), "arc=none");
	buf_reset(&b);
	r.cv = ARC_CV_PASS;
	r.nsets = 2;
	r.oldest_pass = 2;
	snprintf(r.set[1].d, sizeof r.set[1].d, "fwd.example.net");
	CHECK_EQ_INT(arc_authres_append(&r, "192.0.2.1", &b), 0);
	CHECK_EQ_SLICE(buf_str(&b), "arc=pass (i=2 d=fwd.example.net) header.oldest-pass=2 smtp.remote-ip=192.0.2.1");
	buf_reset(&b);
	r.cv = ARC_CV_FAIL;
	r.failed = 1;
	CHECK_EQ_INT(arc_authres_append(&r, "2001:db8::1", &b), 0);
	/* ":" is not a token's (RFC 8601 §2.2 pvalue): an IPv6 address is quoted. */
	CHECK_EQ_SLICE(buf_str(&b), "arc=fail (i=1) smtp.remote-ip=\"2001:db8::1\"");
	/* What it writes reads back with the A-R reader. */
	char res[16];
	buf_reset(&b);
	buf_append_c(&b, "mx.example; ");
	r.cv = ARC_CV_PASS;
	CHECK_EQ_INT(arc_authres_append(&r, "192.0.2.1", &b), 0);
	CHECK_EQ_INT(arc_authres_lookup(buf_str(&b), "arc", NULL, 0, res, sizeof res), 1);
	CHECK_EQ_STR(res, "pass");
	buf_free(&b);
	struct buf tiny;
	buf_init(&tiny, 8);
	CHECK_EQ_INT(arc_authres_append(&r, NULL, &tiny), -1);
	buf_free(&tiny);
}

/* What the RFC's example shows that can be checked without its keys:
 * the structure is valid (three complete sets, cv=none then pass), each
 * sealer and AAR is read, and the newest AMS is where validation needs a
 * key. With 512-bit keys published, RFC 8301 refuses them. */
static void test_rfc8617_example(void)
{
	static const char no_keys[] = "other.example TXT v=spf1 -all\n";
	static const char small_keys[] =
	    "clochette._domainkey.clochette.example.org TXT v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJB"
	    "AN2btrBoLDOIovfFkktn67vKbtDX92y6EemiL7hdvNCxHpjQ9FGXXwZME1Q2KYSHVktnHsEn7+jsWxYgpEqk540CAwEAAQ==\n"
	    "20120806._domainkey.gmail.example TXT v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJB"
	    "AN2btrBoLDOIovfFkktn67vKbtDX92y6EemiL7hdvNCxHpjQ9FGXXwZME1Q2KYSHVktnHsEn7+jsWxYgpEqk540CAwEAAQ==\n";
	struct dns_table *t = dns_table_new(no_keys, sizeof no_keys - 1);
	struct dns_resolver r = dns_table_resolver(t);
	struct arc_verifier *v = arc_verifier_new(&r, NOW);
	char id[64], res[16];

	arc_verifier_update(v, RFC8617_B, strlen(RFC8617_B));
	CHECK_EQ_INT(arc_verifier_run(v, NULL, NULL), ARC_VERIFY_DONE);
	const struct arc_result *a = arc_verifier_result(v);
	CHECK_EQ_INT(a->cv, ARC_CV_FAIL);
	CHECK_EQ_INT(a->nsets, 3);
	CHECK_EQ_INT(a->failed, 3);
	CHECK_EQ_STR(a->reason, "ARC-Message-Signature 3: no key record at clochette._domainkey.clochette.example.org");
	static const char *const sealer[] = {"lists.example.org", "gmail.example", "clochette.example.org"};
	static const char *const sel[] = {"dk-lists", "20120806", "clochette"};
	static const char *const dmarc[] = {"pass", "fail", "fail"};
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ_INT(a->set[i].instance, i + 1);
		CHECK_EQ_STR(a->set[i].d, sealer[i]);
		CHECK_EQ_STR(a->set[i].s, sel[i]);
		CHECK_EQ_STR(a->set[i].ams_d, sealer[i]);
		CHECK_EQ_STR(a->set[i].ams_s, sel[i]);
		CHECK_EQ_INT(a->set[i].cv, i == 0 ? ARC_CV_NONE : ARC_CV_PASS);
		CHECK_EQ_INT(arc_authres_lookup(a->set[i].aar, "dmarc", id, sizeof id, res, sizeof res), 1);
		CHECK_EQ_STR(id, sealer[i]);
		CHECK_EQ_STR(res, dmarc[i]);
		CHECK_EQ_INT(arc_authres_lookup(a->set[i].aar, "arc", NULL, 0, res, sizeof res), i == 0 ? 0 : 1);
	}
	CHECK_EQ_INT(a->set[2].ams, DKIM_RESULT_PERMERROR);
	CHECK_EQ_INT(a->set[0].as, DKIM_RESULT_NONE); /* not reached */
	/* Nested comments in the AAR of i=3 ("... (message has been altered))"). */
	CHECK_EQ_INT(arc_authres_lookup(a->set[2].aar, "spf", NULL, 0, res, sizeof res), 1);
	CHECK_EQ_STR(res, "fail");
	CHECK_EQ_INT(arc_trusted(a, trust_list, NULL, "dmarc", "pass", NULL), 0); /* not a pass chain */
	arc_verifier_free(&v);
	dns_table_free(&t);

	t = dns_table_new(small_keys, sizeof small_keys - 1);
	r = dns_table_resolver(t);
	v = arc_verifier_new(&r, NOW);
	for (size_t i = 0; RFC8617_B[i]; i++)
		arc_verifier_update(v, RFC8617_B + i, 1);
	CHECK_EQ_INT(arc_verifier_run(v, NULL, NULL), ARC_VERIFY_DONE);
	a = arc_verifier_result(v);
	CHECK_EQ_INT(a->cv, ARC_CV_FAIL);
	CHECK_EQ_STR(a->reason, "ARC-Message-Signature 3: RSA key of 512 bits, under 1024 (RFC 8301)");
	arc_verifier_free(&v);
	dns_table_free(&t);
}

static void test_ed25519_chain(void)
{
	/* A chain sealed with the Ed25519 key (arc_key_pick would not
	 * choose it; callers may). */
	struct dkim_keys ed = {1, {keys_list.key[1]}};
	struct arc_seal_params p = {&ed.key[0], "example.org", "a.example; arc=none", ARC_CV_NONE, NOW};
	struct buf out;
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(arc_seal(&p, MSG, strlen(MSG), &out), ARC_OK);
	buf_append_c(&out, MSG);
	buf_append(&out, "", 1);
	struct arc_result r = verify(buf_data(&out));
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	buf_free(&out);
	dkim_keys_wipe(&ed);
}

/* More instances of the signed fields than a verifier takes names in h=
 * (DKIM_H_NAMES_MAX): the seal listed them all, 130 "cc", and its own
 * validator answered cv=fail ("h= lists too many names"). */
static void test_seal_many_fields(void)
{
	struct dkim_keys ed = {1, {keys_list.key[1]}};
	struct arc_seal_params p = {&ed.key[0], "example.org", "a.example; arc=none", ARC_CV_NONE, NOW};
	struct buf msg, out;
	buf_init(&msg, 1 << 16);
	buf_init(&out, 1 << 16);
	for (int i = 0; i < 130; i++)
		buf_append_c(&msg, "Cc: c@example.org\r\n");
	buf_append_c(&msg, MSG);
	buf_append(&msg, "", 1);
	CHECK_EQ_INT(arc_seal(&p, buf_data(&msg), buf_len(&msg) - 1, &out), ARC_OK);
	buf_append(&out, buf_data(&msg), buf_len(&msg));
	struct arc_result r = verify(buf_data(&out));
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	/* The "cc" instances left out of h= are the topmost: changing the
	 * bottom one breaks the seal. */
	char *bad = replace(buf_data(&out), "Cc: c@example.org\r\nReceived", "Cc: x@example.org\r\nReceived");
	if (bad) {
		CHECK_EQ_INT(verify(bad).cv, ARC_CV_FAIL);
		free(bad);
	}
	buf_free(&msg);
	buf_free(&out);
	dkim_keys_wipe(&ed);
}

/* A served domain written as a U-label (TERN_DOMAIN, an alias's domain)
 * seals with d= its A-labels (RFC 8616 §4), where its key is published:
 * the sealer refused the domain and forwarded copies went unsealed. */
static void test_seal_idn(void)
{
	int rc = 0;
	char *m1 = seal(MSG, &keys_fwd, "b\xc3\xbc" "cher.example", ARC_CV_NONE,
	                "mx.b\xc3\xbc" "cher.example; arc=none", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	if (m1 == NULL)
		return;
	CHECK(strstr(m1, "ARC-Seal: i=1; a=rsa-sha256; t=") == m1);
	CHECK(strstr(m1, "d=xn--bcher-kva.example;") != NULL);
	struct arc_result r = verify(m1);
	CHECK_EQ_INT(r.cv, ARC_CV_PASS);
	CHECK_EQ_STR(r.set[0].d, "xn--bcher-kva.example");
	CHECK_EQ_STR(r.set[0].ams_d, "xn--bcher-kva.example");
	/* The A-label spelling seals the same. */
	char *m2 = seal(MSG, &keys_fwd, "XN--BCHER-KVA.example", ARC_CV_NONE, "mx.example; arc=none", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	if (m2)
		CHECK_EQ_INT(verify(m2).cv, ARC_CV_PASS);
	free(m1);
	free(m2);
}

/* ---- DKIM's and ARC's verifiers sharing their body hashers ---- */

enum feed_order { DKIM_THEN_ARC, INTERLEAVED_BYTES, ARC_THEN_DKIM_CHUNKS };

/* Verifies msg with both verifiers on one struct dkim_bodies, fed in the
 * given order; the DKIM results into d (at most 4; their count returned),
 * the ARC result into a, the set's hasher count into *nhash. */
static size_t verify_shared(const char *msg, enum feed_order order, struct dkim_sig_result d[4],
			    struct arc_result *a, size_t *nhash)
{
	static struct dkim_bodies set;
	struct dns_resolver r = dns_table_resolver(table);
	struct dkim_verifier *dv = dkim_verifier_new(&r, NOW);
	struct arc_verifier *av = arc_verifier_new(&r, NOW);
	size_t len = strlen(msg);

	dkim_bodies_init(&set);
	dkim_verifier_share_bodies(dv, &set);
	arc_verifier_share_bodies(av, &set);
	switch (order) {
	case DKIM_THEN_ARC: /* tern check auth: DKIM ends before ARC starts */
		dkim_verifier_update(dv, msg, len);
		CHECK_EQ_INT(dkim_verifier_run(dv, NULL, NULL), DKIM_VERIFY_DONE);
		arc_verifier_update(av, msg, len);
		break;
	case INTERLEAVED_BYTES:
		for (size_t i = 0; i < len; i++) {
			dkim_verifier_update(dv, msg + i, 1);
			arc_verifier_update(av, msg + i, 1);
		}
		break;
	case ARC_THEN_DKIM_CHUNKS:
		for (size_t i = 0; i < len; i++)
			arc_verifier_update(av, msg + i, 1);
		for (size_t i = 0; i < len; i += 7)
			dkim_verifier_update(dv, msg + i, len - i < 7 ? len - i : 7);
		break;
	}
	CHECK_EQ_INT(arc_verifier_run(av, NULL, NULL), ARC_VERIFY_DONE);
	CHECK_EQ_INT(dkim_verifier_run(dv, NULL, NULL), DKIM_VERIFY_DONE);
	size_t n = dkim_verifier_count(dv);
	for (size_t i = 0; i < n && i < 4; i++)
		d[i] = *dkim_verifier_result(dv, i);
	*a = *arc_verifier_result(av);
	for (unsigned i = 0; i < ARC_SETS_MAX; i++)
		a->set[i].aar = (struct str){NULL, 0};
	*nhash = set.n;
	dkim_verifier_free(&dv);
	arc_verifier_free(&av);
	return n;
}

static void test_shared_bodies(void)
{
	/* A message signed by its author's domain (two keys: RSA and
	 * Ed25519, relaxed body), then sealed by a list: one body hash
	 * serves the three signatures. */
	struct buf sig;
	buf_init(&sig, 1 << 16);
	CHECK_EQ_INT(dkim_sign(&keys_list, "example.org", MSG, strlen(MSG), NOW, &sig), DKIM_OK);
	char *signed_msg = malloc(buf_len(&sig) + strlen(MSG) + 1);
	memcpy(signed_msg, buf_data(&sig), buf_len(&sig));
	strcpy(signed_msg + buf_len(&sig), MSG);
	buf_free(&sig);
	int rc;
	char *m = seal(signed_msg, &keys_list, "example.org", ARC_CV_NONE,
		       "list.example.org; dkim=pass header.d=example.org", &rc);
	CHECK_EQ_INT(rc, ARC_OK);
	/* The same with the body changed after both signed: every one
	 * fails on its body hash, whoever hashed it. */
	char *bad = replace(m, "Noon at", "Nine at");

	for (int order = DKIM_THEN_ARC; order <= ARC_THEN_DKIM_CHUNKS; order++) {
		struct dkim_sig_result d[4];
		struct arc_result a;
		size_t nhash = 99;
		size_t n = verify_shared(m, (enum feed_order)order, d, &a, &nhash);
		CHECK_EQ_INT(n, keys_list.n);
		for (size_t i = 0; i < n && i < 4; i++)
			CHECK_EQ_INT(d[i].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(a.cv, ARC_CV_PASS);
		CHECK_EQ_INT(a.set[0].ams, DKIM_RESULT_PASS);
		CHECK_EQ_INT(nhash, 1);

		n = verify_shared(bad, (enum feed_order)order, d, &a, &nhash);
		CHECK_EQ_INT(n, keys_list.n);
		for (size_t i = 0; i < n && i < 4; i++) {
			CHECK_EQ_INT(d[i].result, DKIM_RESULT_FAIL);
			CHECK_EQ_STR(d[i].reason, "body hash did not verify");
		}
		CHECK_EQ_INT(a.cv, ARC_CV_FAIL);
		CHECK_EQ_INT(a.set[0].ams, DKIM_RESULT_FAIL);
		CHECK_EQ_INT(nhash, 1);
	}

	/* The set alone: two feeders at different splits and a hasher made
	 * after the first feeder had gone past its start all end with the
	 * hash of one dkim_body fed the body whole. */
	static const char body[] = "Line one  \t here\r\n\r\nline\ttwo\r\n\r\n\r\n";
	size_t bl = sizeof body - 1;
	struct dkim_body one;
	uint8_t want_relaxed[32], want_simple[32];
	dkim_body_init(&one);
	dkim_body_update(&one, body, bl);
	dkim_body_final(&one, want_relaxed);
	dkim_body_init_simple(&one);
	dkim_body_update(&one, body, bl);
	dkim_body_final(&one, want_simple);
	static struct dkim_bodies set;
	for (size_t k = 0; k <= 2 * bl + 1; k++) {
		/* The first feeder's rest before the second feeder begins
		 * (its hasher then behind: skipped) or after it ended. */
		size_t split = k / 2;
		int rest_first = k % 2;
		dkim_bodies_init(&set);
		int r1 = dkim_bodies_want(&set, 0, UINT64_MAX);
		dkim_bodies_feed(&set, 0, body, split); /* the first feeder's first part */
		int r2 = dkim_bodies_want(&set, 0, UINT64_MAX);
		int s2 = dkim_bodies_want(&set, 1, UINT64_MAX); /* the second feeder's own */
		CHECK_EQ_INT(r1, r2);
		CHECK(s2 != r1);
		/* The rest in a buffer of its own: nothing before it to read. */
		char *rest = malloc(bl - split + 1);
		memcpy(rest, body + split, bl - split);
		if (rest_first)
			dkim_bodies_feed(&set, split, rest, bl - split);
		for (size_t i = 0; i < bl; i++) /* the second feeder, byte by byte */
			dkim_bodies_feed(&set, i, body + i, 1);
		if (!rest_first)
			dkim_bodies_feed(&set, split, rest, bl - split);
		free(rest);
		CHECK(memcmp(dkim_bodies_hash(&set, r1), want_relaxed, 32) == 0);
		CHECK(memcmp(dkim_bodies_hash(&set, s2), want_simple, 32) == 0);
		CHECK(memcmp(dkim_bodies_hash(&set, r1), want_relaxed, 32) == 0); /* asked twice */
	}
	free(bad);
	free(m);
	free(signed_msg);
}

int main(void)
{
	CHECK_EQ_INT(dkim_keys_generate(&keys_list, NOW), DKIM_OK);
	CHECK_EQ_INT(dkim_key_generate(&keys_fwd.key[0], DKIM_ALG_RSA_SHA256, NOW), DKIM_OK);
	keys_fwd.n = 1;
	/* Distinct selectors so the table tells the keys apart. */
	snprintf(keys_fwd.key[0].selector, sizeof keys_fwd.key[0].selector, "fwd2026");

	struct buf tt;
	buf_init(&tt, 1 << 16);
	for (unsigned i = 0; i < keys_list.n; i++) {
		buf_printf(&tt, "%s._domainkey.example.org TXT ", keys_list.key[i].selector);
		dkim_key_txt(&keys_list.key[i], &tt);
		buf_append_c(&tt, "\n");
	}
	buf_append_c(&tt, "fwd2026._domainkey.fwd.example.net TXT ");
	dkim_key_txt(&keys_fwd.key[0], &tt);
	buf_append_c(&tt, "\n");
	buf_append_c(&tt, "fwd2026._domainkey.xn--bcher-kva.example TXT ");
	dkim_key_txt(&keys_fwd.key[0], &tt);
	buf_append_c(&tt, "\n");
	table = dns_table_new(buf_data(&tt), buf_len(&tt));
	buf_free(&tt);

	test_parse();
	test_seal_args();
	test_seal_idn();
	test_seal_many_fields();
	test_seal_late_results();
	test_chain_pass();
	test_oldest_pass_and_fail();
	test_fifty();
	test_ed25519_chain();
	test_authres_append();
	test_rfc8617_example();
	test_shared_bodies();

	dns_table_free(&table);
	dkim_keys_wipe(&keys_list);
	dkim_keys_wipe(&keys_fwd);
	printf("test_arc: %d checks, %d failed\n", unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}
