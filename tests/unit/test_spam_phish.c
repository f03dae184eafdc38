/*
 * test_spam_phish.c — the phishing URL list (spam_phish.h): a URL's key,
 * the feed parser (OpenPhish lines, PhishTank CSV with quoted fields,
 * comments, a byte order mark, CRLF, lines without a URL), matching a
 * link (exact, fragment, query, parents, what must not match), the
 * stored record and its status, an empty feed removing the list, and
 * the rule on a message view. Then the malware attachment list
 * (spam_hashes.h), which shares the record (spam_feed.h): its parser
 * (plain, CSV and ClamAV lines, any case, a longer hex word not taken),
 * its own record beside the phishing list's, and FILE_HASH_LISTED on an
 * attachment read whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "spam/spam.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_phish.h"
#include "spam/spam_private.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static const char *key(const char *url)
{
	static char out[SPAM_PHISH_KEY_MAX];
	if (spam_phish_key(str_c(url), out, sizeof out) == 0)
		return "";
	return out;
}

static void test_keys(void)
{
	CHECK_EQ_STR(key("https://Evil.Example./login/"), "evil.example/login");
	CHECK_EQ_STR(key("http://user:pw@evil.example:8080/a//?q=1#frag"), "evil.example/a?q=1");
	CHECK_EQ_STR(key("evil.example/a/b"), "evil.example/a/b");
	CHECK_EQ_STR(key("https://evil.example/?"), "evil.example");
	CHECK_EQ_STR(key("https://evil.example#x"), "evil.example");
	CHECK_EQ_STR(key("http://192.0.2.7/x.php"), "192.0.2.7/x.php");
	CHECK_EQ_STR(key("http://[2001:db8::1]:81/p"), "[2001:db8::1]/p");
	CHECK_EQ_STR(key("mailto:someone@evil.example"), "");
	CHECK_EQ_STR(key("javascript:alert(1)"), "");
	CHECK_EQ_STR(key("localhost"), "");
	CHECK_EQ_STR(key(""), "");
	/* the path keeps its case; the host does not */
	CHECK_EQ_STR(key("HTTPS://EVIL.EXAMPLE/Login"), "evil.example/Login");
	/* the host a browser connects to: fullwidth and ideographic dots
	 * and letters folded, an IPv4 address in any form inet_aton takes */
	CHECK_EQ_STR(key("https://\xef\xbd\x85vil\xe3\x80\x82" "example/login/"), "evil.example/login");
	CHECK_EQ_STR(key("http://0xc0.0.2.7/x.php"), "192.0.2.7/x.php");
	CHECK_EQ_STR(key("http://3221225991/x.php"), "192.0.2.7/x.php");
	CHECK_EQ_STR(key("http://0300.0000.0002.0007/x.php"), "192.0.2.7/x.php");
}

static void test_parse_and_match(void)
{
	static const char feed[] =
	    "\xef\xbb\xbf# OpenPhish\r\n"
	    "https://evil.example/login/\r\n"
	    "\r\n"
	    "http://bank-verify.test/secure/update.php?session=1 extra words\r\n"
	    "not a url\r\n"
	    "https://phish.test/\r\n"
	    "https://evil.example/login\r\n"; /* the same key as line 2 */
	struct spam_feed f;
	spam_phish_parse(feed, sizeof feed - 1, &f);
	CHECK_EQ_INT((int)f.n, 3);
	CHECK_EQ_INT((int)f.bad, 1); /* "not" has no dot */
	CHECK_EQ_INT((int)f.dropped, 0);
	for (size_t i = 1; i < f.n; i++)
		CHECK(f.h[i - 1] < f.h[i]);
	spam_feed_free(&f);

	static const char csv[] =
	    "phish_id,url,phish_detail_url,online\n"
	    "1,\"http://csv.test/a/pay.php?x=1&y=\"\"q\"\"\",http://d/1,yes\n"
	    "2,https://other.test/wallet,http://d/2,yes\n"
	    "3,,http://d/3,yes\n"
	    "4,\"unterminated\n";
	spam_phish_parse(csv, sizeof csv - 1, &f);
	CHECK_EQ_INT((int)f.n, 2);
	CHECK_EQ_INT((int)f.bad, 2);
	spam_feed_free(&f);

	/* the header alone, or nothing: no entries */
	spam_phish_parse("phish_id,url\n", 13, &f);
	CHECK_EQ_INT((int)f.n, 0);
	spam_feed_free(&f);
	spam_phish_parse("", 0, &f);
	CHECK_EQ_INT((int)f.n, 0);
	spam_feed_free(&f);
}

struct got {
	char rec[1 << 16];
	size_t len;
};

static void copy_rec(void *arg, const struct str *recs)
{
	struct got *g = arg;
	g->len = 0;
	if (recs[0].p && recs[0].len <= sizeof g->rec) {
		memcpy(g->rec, recs[0].p, recs[0].len);
		g->len = recs[0].len;
	}
}

static int listed(const struct got *g, const char *url)
{
	return spam_phish_listed(str_make(g->rec, g->len), str_c(url));
}

static void test_store(struct store *st)
{
	static const char feed[] = "https://evil.example/login/\n"
				   "http://bank-verify.test/secure/update.php?session=1\n"
				   "https://phish.test/\n"
				   "1,\"http://csv.test/a\n";
	struct spam_feed f;
	struct spam_feed_status s;
	struct got *g = xmalloc(sizeof *g);
	uint32_t zero = 0;

	CHECK_EQ_INT(spam_feed_status(st, &spam_phish_kind, &s), STORE_OK);
	CHECK_EQ_INT((int)s.entries, 0);
	CHECK(s.loaded_at == 0);

	spam_phish_parse(feed, sizeof feed - 1, &f);
	CHECK_EQ_INT((int)f.n, 3); /* not a CSV: the last line's first word has no host */
	CHECK_EQ_INT((int)f.bad, 1);
	spam_feed_free(&f);
	static const char feed3[] = "https://evil.example/login/\n"
				    "http://bank-verify.test/secure/update.php?session=1\n"
				    "https://phish.test/\n";
	spam_phish_parse(feed3, sizeof feed3 - 1, &f);
	CHECK_EQ_INT(spam_feed_store(st, &spam_phish_kind, &f, "file feed.txt"), STORE_OK);
	spam_feed_free(&f);
	CHECK_EQ_INT(spam_feed_status(st, &spam_phish_kind, &s), STORE_OK);
	CHECK_EQ_INT((int)s.entries, 3);
	CHECK(s.loaded_at > 1700000000);
	CHECK_EQ_STR(s.source, "file feed.txt");

	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_PHISH, copy_rec, g), STORE_OK);
	CHECK(g->len == 18 + 13 + 3 * 8);
	CHECK(listed(g, "https://evil.example/login/"));
	CHECK(listed(g, "http://EVIL.example/login"));
	CHECK(listed(g, "https://evil.example/login/step/2.php?id=1#x"));
	CHECK(listed(g, "https://evil.example/login?user=bob"));
	CHECK(listed(g, "https://bank-verify.test/secure/update.php?session=1#top"));
	CHECK(listed(g, "http://phish.test/anything"));
	CHECK(listed(g, "http://phish.test"));
	CHECK(listed(g, "http://phish\xef\xbc\x8etest/x"));
	CHECK(listed(g, "https://\xef\xbd\x85vil.example\xef\xbd\xa1/login/"));
	CHECK(!listed(g, "https://evil.example.net/login/"));
	CHECK(!listed(g, "https://x.evil.example/login/"));
	CHECK(!listed(g, "https://evil.example/login2"));
	CHECK(!listed(g, "https://evil.example/"));
	CHECK(!listed(g, "https://evil.example/Login"));
	CHECK(!listed(g, "http://bank-verify.test/secure/update.php?session=2"));
	CHECK(!listed(g, "http://bank-verify.test/secure/update.php"));
	CHECK(!listed(g, "mailto:a@phish.test"));
	/* a record that is not one reads as no list */
	CHECK(!spam_phish_listed(str_make(g->rec, g->len - 1), str_c("http://phish.test")));
	CHECK(!spam_phish_listed(str_make("TSP2", 4), str_c("http://phish.test")));
	CHECK(!spam_phish_listed(STR_NULL, str_c("http://phish.test")));

	/* the rule on a message view, once however many links are listed */
	static const char msg[] = "From: a@sender.test\r\nSubject: verify\r\nContent-Type: text/html\r\n\r\n"
				  "<a href=\"https://evil.example/login/x\">one</a> "
				  "<a href=\"http://phish.test/y\">two</a> see https://ok.test/\r\n";
	struct spam_msg *m;
	struct spam_result *res = xmalloc(sizeof *res);
	spam_msg_new(msg, sizeof msg - 1, &m);
	spam_result_init(res);
	CHECK_EQ_INT(spam_feed_check(st, &spam_phish_kind, m, res), STORE_OK);
	CHECK_EQ_INT((int)res->nrules, 1);
	CHECK_EQ_STR(res->rules[0].name, "PHISH_URL_LISTED");
	CHECK_EQ_STR(res->rules[0].desc, "link on the phishing list: evil.example");
	CHECK(res->score == SPAM_PHISH_WEIGHT);
	spam_msg_free(&m);

	/* an empty feed removes the list: the rule no longer fires */
	spam_phish_parse("", 0, &f);
	CHECK_EQ_INT(spam_feed_store(st, &spam_phish_kind, &f, "file empty"), STORE_OK);
	spam_feed_free(&f);
	CHECK_EQ_INT(spam_feed_status(st, &spam_phish_kind, &s), STORE_OK);
	CHECK_EQ_INT((int)s.entries, 0);
	spam_msg_new(msg, sizeof msg - 1, &m);
	spam_result_init(res);
	CHECK_EQ_INT(spam_feed_check(st, &spam_phish_kind, m, res), STORE_OK);
	CHECK_EQ_INT((int)res->nrules, 0);
	spam_msg_free(&m);
	free(res);
	free(g);
}

static void test_hashes(struct store *st)
{
	/* the attachment below: "MZ\x90\x00 not really a program\n" */
	static const char digest[] = "5c649aa294b4e1c6bb90552050e3de9bc1373062fc665cd20fcb91a664bf2a30";
	char feed[1024];
	snprintf(feed, sizeof feed,
		 "# MalwareBazaar export\n\n"
		 "%s\n"                                                       /* plain */
		 "\"2026-11-24 10:00:00\",\"%s\",\"d41d8cd98f00b204e9800998ecf8427e\"\n" /* CSV */
		 "%s:68:Win.Trojan.Test\n"                                     /* ClamAV */
		 "%s0\n"                                                      /* 65 digits: bad */
		 "not a digest\n",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", digest, digest);
	struct spam_feed f;
	spam_hashes_parse(feed, strlen(feed), &f);
	CHECK_EQ_INT((int)f.n, 3);
	CHECK_EQ_INT((int)f.bad, 2);
	uint8_t d[32];
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(digest + 2 * i, "%2x", &v);
		d[i] = (uint8_t)v;
	}
	int found = 0;
	for (size_t i = 0; i < f.n; i++)
		found |= f.h[i] == spam_hashes_key(d);
	CHECK(found);
	CHECK_EQ_INT(spam_feed_store(st, &spam_hashes_kind, &f, "file full_sha256.txt"), STORE_OK);
	spam_feed_free(&f);

	/* its own record: the phishing list's status is not its */
	struct spam_feed_status s;
	CHECK_EQ_INT(spam_feed_status(st, &spam_hashes_kind, &s), STORE_OK);
	CHECK_EQ_INT((int)s.entries, 3);
	CHECK_EQ_STR(s.source, "file full_sha256.txt");
	CHECK_EQ_INT(spam_feed_status(st, &spam_phish_kind, &s), STORE_OK);
	CHECK_EQ_INT((int)s.entries, 0);

	static const char msg[] =
	    "From: a@sender.test\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nSee the invoice.\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "TVqQACBub3QgcmVhbGx5IGEgcHJvZ3JhbQo=\r\n--b--\r\n";
	struct spam_msg *m;
	struct spam_result *res = xmalloc(sizeof *res);
	spam_msg_new_opts(msg, sizeof msg - 1, SPAM_VIEW_DIGESTS, &m);
	spam_result_init(res);
	CHECK_EQ_INT(spam_feed_check(st, &spam_hashes_kind, m, res), STORE_OK);
	CHECK_EQ_INT((int)res->nrules, 1);
	CHECK_EQ_STR(res->rules[0].name, "FILE_HASH_LISTED");
	CHECK_EQ_STR(res->rules[0].desc, "a known malicious file: invoice.pdf");
	CHECK(res->score == SPAM_HASHES_WEIGHT);
	spam_msg_free(&m);
	/* another file: nothing */
	char other[sizeof msg];
	memcpy(other, msg, sizeof msg);
	memcpy(strstr(other, "TVqQ"), "TVpQ", 4);
	spam_msg_new_opts(other, sizeof other - 1, SPAM_VIEW_DIGESTS, &m);
	spam_result_init(res);
	CHECK_EQ_INT(spam_feed_check(st, &spam_hashes_kind, m, res), STORE_OK);
	CHECK_EQ_INT((int)res->nrules, 0);
	spam_msg_free(&m);
	free(res);
}

int main(void)
{
	test_keys();
	test_parse_and_match();
	if (unit_env_begin(base, sizeof base, "spamphish") < 0)
		return 1;
	uint32_t acc = 0;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_spam_phish");
	test_store(st);
	test_hashes(st);
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_spam_phish");
}
