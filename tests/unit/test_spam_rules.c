/*
 * test_spam_rules.c — the spam filter's content rules (header, body,
 * attachments, phishing), the tokenizer (one byte at a time), the
 * classifier's model (learn, forget, prune, encode) and spam_analyse /
 * spam_train / spam_forget with a store: a per-user fuzzy memory that
 * marks a near-duplicate for that user only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam.h"
#include "core/punycode.h"
#include "spam/spam_private.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

/* Rules that fire on message text, with our domain "ours.example". */
static void rules_of(const char *msg, struct spam_result *r)
{
	static const char *const doms[] = {"ours.example"};
	struct spam_ours o = {doms, 1, NULL};
	struct spam_msg *m;
	spam_msg_new(msg, strlen(msg), &m);
	spam_result_init(r);
	spam_rules_header(m, &o, r);
	spam_rules_body(m, r);
	spam_rules_phish(m, &o, r);
	spam_msg_free(&m);
}

static int fires(const char *msg, const char *rule)
{
	struct spam_result r;
	rules_of(msg, &r);
	return spam_result_has(&r, rule);
}

#define GOOD_HDR                                                                                   \
	"From: Ann <ann@friend.example>\r\nTo: bob@ours.example\r\nSubject: lunch\r\n"           \
	"Date: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <1@friend.example>\r\n"

static void test_header(void)
{
	struct spam_result r;
	rules_of(GOOD_HDR "\r\nsee you at noon\r\n", &r);
	CHECK_EQ_INT(r.nrules, 0);
	CHECK(fires("From: a@b.example\r\nSubject: x\r\n\r\nhi\r\n", "MISSING_DATE"));
	CHECK(fires("From: a@b.example\r\nSubject: x\r\n\r\nhi\r\n", "MISSING_MID"));
	CHECK(fires("From: a@b.example\r\nDate: yesterday\r\nMessage-ID: nope\r\n\r\nhi\r\n",
	            "INVALID_DATE"));
	CHECK(fires("From: a@b.example\r\nDate: yesterday\r\nMessage-ID: nope\r\n\r\nhi\r\n",
	            "INVALID_MID"));
	CHECK(fires("From: a@b.example\r\nDate: Mon, 2 Sep 2999 10:00:00 +0000\r\n\r\nhi\r\n",
	            "DATE_IN_FUTURE"));
	CHECK(fires("Subject: x\r\n\r\nhi\r\n", "MISSING_FROM"));
	CHECK(fires(GOOD_HDR "Reply-To: x@other.example\r\n\r\nhi\r\n", "REPLYTO_DIFF_DOMAIN"));
	/* a list's Reply-To is not a mismatch */
	CHECK(!fires(GOOD_HDR "Reply-To: x@other.example\r\nList-Id: <l.other.example>\r\n\r\nhi\r\n",
	             "REPLYTO_DIFF_DOMAIN"));
	CHECK(fires("From: \"support@bank.example\" <x@evil.example>\r\n\r\nhi\r\n",
	            "FROM_NAME_HAS_ADDR"));
	CHECK(!fires("From: \"ann@friend.example\" <ann@friend.example>\r\n\r\nhi\r\n",
	             "FROM_NAME_HAS_ADDR"));
	CHECK(fires("From: \"ours.example IT desk\" <it@evil.example>\r\n\r\nhi\r\n",
	            "SPOOF_OUR_DOMAIN"));
	CHECK(!fires("From: \"ours.example IT desk\" <it@ours.example>\r\n\r\nhi\r\n",
	             "SPOOF_OUR_DOMAIN"));
	/* as a word only: a longer name that ends in ours is another domain */
	CHECK(!fires("From: \"Alerts from yours.example\" <a@yours.example>\r\n\r\nhi\r\n",
	             "SPOOF_OUR_DOMAIN"));
	CHECK(!fires("From: \"my-ours.example\" <a@my-ours.example>\r\n\r\nhi\r\n",
	             "SPOOF_OUR_DOMAIN"));
	CHECK(fires("From: \"it.ours.example, (OURS.EXAMPLE)\" <it@evil.example>\r\n\r\nhi\r\n",
	            "SPOOF_OUR_DOMAIN"));
	CHECK(fires(GOOD_HDR "Precedence: bulk\r\n\r\nhi\r\n", "BULK_HEADER"));
	CHECK(!fires(GOOD_HDR "\r\nhi\r\n", "SPOOF_OUR_USER")); /* needs an account named */
	CHECK(fires("Subject: FREE MONEY FOR YOU NOW\r\n\r\nhi\r\n", "SUBJ_ALL_CAPS"));
	CHECK(fires("Subject: win now!!!\r\n\r\nhi\r\n", "SUBJ_EXCESS_PUNCT"));
	CHECK(fires(GOOD_HDR "Content-Type: text/plain; charset=x-klingon\r\n\r\nhi\r\n",
	            "BAD_CHARSET"));
}

/* Display names as a reader tells people apart. */
static void test_names(void)
{
	char a[SPAM_NAME_KEY_MAX], b[SPAM_NAME_KEY_MAX];
	CHECK_EQ_INT(spam_name_key(STR_LIT("Alice Smith"), a), 0);
	CHECK_EQ_INT(spam_name_key(STR_LIT("  smith, ALICE "), b), 0);
	CHECK_EQ_STR(a, b);
	/* a Cyrillic А, and an l for the I of "Ian" */
	CHECK_EQ_INT(spam_name_key(STR_LIT("\xd0\x90lice Smith"), b), 0);
	CHECK_EQ_STR(a, b);
	CHECK_EQ_INT(spam_name_key(STR_LIT("Ian Moore"), a), 0);
	CHECK_EQ_INT(spam_name_key(STR_LIT("lan M0ore"), b), 0);
	CHECK_EQ_STR(a, b);
	CHECK_EQ_INT(spam_name_key(STR_LIT("Alice Smithe"), b), 0);
	CHECK(strcmp(a, b) != 0);
	/* not a person's name: one word, role words only, too many words */
	CHECK_EQ_INT(spam_name_key(STR_LIT("Alice"), a), -1);
	CHECK_EQ_INT(spam_name_key(STR_LIT("IT Support"), a), -1);
	CHECK_EQ_INT(spam_name_key(STR_LIT("The Billing Team"), a), -1);
	CHECK_EQ_INT(spam_name_key(STR_LIT("Alice from Support"), a), 0);
	CHECK_EQ_INT(spam_name_key(STR_LIT("a b c d e f g h i j k l m n o p q"), a), -1);
	CHECK_EQ_INT(spam_name_key(STR_LIT(""), a), -1);

	/* the rule: only from outside our domains */
	static const char *const doms[] = {"ours.example"};
	struct spam_ours o = {doms, 1, "alice@ours.example"};
	const char *from[] = {"From: Alice Smith <alice.ceo@freemail.example>\r\n\r\nhi\r\n",
	                      "From: Alice Smith <alice@ours.example>\r\n\r\nhi\r\n"};
	for (int i = 0; i < 2; i++) {
		struct spam_msg *m;
		struct spam_result r;
		spam_msg_new(from[i], strlen(from[i]), &m);
		spam_result_init(&r);
		spam_rules_header(m, &o, &r);
		CHECK_EQ_INT(spam_result_has(&r, "SPOOF_OUR_USER"), !i);
		spam_msg_free(&m);
	}
}

static void test_body(void)
{
	CHECK(fires(GOOD_HDR "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n", "HTML_ONLY"));
	CHECK(fires(GOOD_HDR "Content-Type: text/html\r\n\r\n<p>hi<span style='display:none'>"
	                     "lorem ipsum dolor sit amet consectetur</span></p>\r\n",
	            "HIDDEN_TEXT"));
	CHECK(fires(GOOD_HDR "Content-Type: text/html\r\n\r\n<img src=\"http://i.example/a.png\">\r\n",
	            "IMAGE_ONLY"));
	CHECK(fires(GOOD_HDR "\r\nclick https://bit.ly/abc now\r\n", "URL_SHORTENER"));
	CHECK(fires(GOOD_HDR "\r\nclick http://192.0.2.7/login now\r\n", "URL_IP"));
	const char *att = GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                           "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	                           "--b\r\nContent-Type: application/octet-stream\r\n"
	                           "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n\r\n"
	                           "MZ\r\n--b--\r\n";
	CHECK(fires(att, "ATTACH_EXEC"));
	CHECK(fires(att, "ATTACH_DOUBLE_EXT"));
	const char *macro = GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                             "--b\r\nContent-Type: application/octet-stream; name=q3.xlsm\r\n"
	                             "Content-Disposition: attachment\r\n\r\nPK\r\n--b--\r\n";
	CHECK(fires(macro, "ATTACH_MACRO"));
	CHECK(!fires(macro, "ATTACH_EXEC"));
	/* the name as Windows saves it: trailing dots and spaces go */
	CHECK(spam_attach_classify(str_c("invoice.exe."), STR_NULL) & SPAM_ATTACH_EXEC);
	CHECK(spam_attach_classify(str_c("invoice.pdf.scr . ."), STR_NULL) &
	      SPAM_ATTACH_DOUBLE_EXT);
	CHECK(spam_name_is_exec(str_c("run.exe..")));
	CHECK(!spam_attach_classify(str_c("report.pdf."), STR_NULL));
	/* a ZIP (base64) holding "run.exe": one stored local file header */
	const char *zip = GOOD_HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                           "--b\r\nContent-Type: application/zip; name=docs.zip\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n"
	                           "UEsDBAoAAAAAAAAAAAAAAAAAAgAAAAIAAAAHAAAAcnVuLmV4ZU1a\r\n--b--\r\n";
	CHECK(fires(zip, "ATTACH_ARCHIVE_EXEC"));
	unsigned char z[64];
	memset(z, 0, sizeof z);
	memcpy(z, "PK\x03\x04", 4);
	z[26] = 200; /* a name longer than the archive: the walk stops */
	CHECK_EQ_INT(spam_zip_has_exec(z, sizeof z), 0);
}

static void test_phish(void)
{
	CHECK(fires(GOOD_HDR "Content-Type: text/html\r\n\r\n"
	                     "<a href=\"http://login.evil.example/\">www.bank.example</a>\r\n",
	            "PHISH_LINK_MISMATCH"));
	CHECK(!fires(GOOD_HDR "Content-Type: text/html\r\n\r\n"
	                      "<a href=\"http://www.bank.example/x\">https://bank.example</a>\r\n",
	             "PHISH_LINK_MISMATCH"));
	/* Two sites under a public suffix (github.io: the list's private
	 * section) are two owners; two hosts of one site under co.uk are one. */
	CHECK(fires(GOOD_HDR "Content-Type: text/html\r\n\r\n"
	                     "<a href=\"https://evil.github.io/\">bank.github.io</a>\r\n",
	            "PHISH_LINK_MISMATCH"));
	CHECK(!fires(GOOD_HDR "Content-Type: text/html\r\n\r\n"
	                      "<a href=\"https://login.bank.co.uk/\">www.bank.co.uk</a>\r\n",
	             "PHISH_LINK_MISMATCH"));
	/* xn--pypal-4ve: "pаypal" with a Cyrillic a */
	CHECK(fires(GOOD_HDR "\r\nlog in at http://xn--pypal-4ve.example/ now\r\n",
	            "PHISH_IDN_MIXED"));
	CHECK(fires(GOOD_HDR "\r\nlog in at http://0urs.example/ now\r\n", "PHISH_LOOKALIKE"));
	CHECK(fires(GOOD_HDR "\r\nsee http://frlend.example/ now\r\n", "PHISH_LOOKALIKE"));
	CHECK(!fires(GOOD_HDR "\r\nsee http://www.ours.example/ now\r\n", "PHISH_LOOKALIKE"));
	uint32_t cp[16];
	CHECK_EQ_INT(punycode_decode(STR_LIT("pypal-4ve"), cp, 16), 6);
	CHECK_EQ_INT(cp[1], 0x430);
	CHECK_EQ_INT(punycode_decode(STR_LIT("!!"), cp, 16), 0);
	struct buf b;
	buf_init(&b, 64);
	/* UTS #39 folds "m" to its prototype "rn" */
	CHECK_EQ_INT(spam_skeleton(STR_LIT("PAYPA1.c\xd0\xbem"), &b), 0);
	CHECK_EQ_SLICE(buf_str(&b), "paypal.corn");
	buf_free(&b);
}

/* A message from an address at from_domain with a link to url. */
static int fires_from(const char *from_domain, const char *url, const char *rule)
{
	char msg[1024];
	snprintf(msg, sizeof msg,
	         "From: Shop <news@%s>\r\nTo: bob@ours.example\r\nSubject: account\r\n"
	         "Date: Mon, 2 Sep 2024 10:00:00 +0000\r\nMessage-ID: <1@%s>\r\n\r\n"
	         "sign in at %s today\r\n",
	         from_domain, from_domain, url);
	return fires(msg, rule);
}

static void skel_eq(const char *a, const char *b, int want)
{
	struct buf x, y;
	buf_init(&x, 256);
	buf_init(&y, 256);
	CHECK_EQ_INT(spam_skeleton(str_c(a), &x), 0);
	CHECK_EQ_INT(spam_skeleton(str_c(b), &y), 0);
	int same = str_eq(buf_str(&x), buf_str(&y));
	if (same != want)
		fprintf(stderr, "skeletons of %s and %s: %.*s %.*s\n", a, b, (int)buf_len(&x),
		        buf_data(&x), (int)buf_len(&y), buf_data(&y));
	CHECK_EQ_INT(same, want);
	buf_free(&x);
	buf_free(&y);
}

/* UTS #39 skeletons from the generated table (Unicode's confusables.txt). */
static void test_confusables(void)
{
	/* Cyrillic а, and the all-Cyrillic аррӏе (palochka for l) */
	skel_eq("\xd0\xb0pple.com", "apple.com", 1);
	skel_eq("\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5.com", "apple.com", 1);
	skel_eq("p\xd0\xb0ypal", "paypal", 1);
	skel_eq("PAYPA1", "paypal", 1);  /* digit one, capitals */
	skel_eq("rnicrosoft", "microsoft", 1);
	skel_eq("g\xce\xbfogle", "google", 1); /* Greek omicron */
	skel_eq("\xd1\x95" "berbank", "sberbank", 1); /* Cyrillic dze */
	skel_eq("caf\xc3\xa9", "cafe\xcc\x81", 1); /* precomposed and decomposed */
	skel_eq("apple.com", "appel.com", 0);
	skel_eq("caf\xc3\xa9", "cafe", 0);
	/* xn--pple-43d is аpple with a Cyrillic а: a look-alike of the sender's
	 * domain, and a label mixing scripts */
	CHECK(fires_from("apple.com", "https://xn--pple-43d.com/id", "PHISH_LOOKALIKE"));
	CHECK(fires_from("apple.com", "https://xn--pple-43d.com/id", "PHISH_IDN_MIXED"));
	/* аррӏе, all Cyrillic: not mixed, but it looks like apple.com */
	CHECK(fires_from("apple.com", "https://www.xn--80ak6aa92e.com/", "PHISH_LOOKALIKE"));
	CHECK(!fires_from("apple.com", "https://www.xn--80ak6aa92e.com/", "PHISH_IDN_MIXED"));
	CHECK(!fires_from("apple.com", "https://www.apple.com/", "PHISH_LOOKALIKE"));
	/* paypal with a Cyrillic а, against our own domain list */
	CHECK(fires_from("shop.example", "http://xn--pypal-4ve.com/", "PHISH_IDN_MIXED"));
	/* a legitimate all-Cyrillic name (президент.рф, сбербанк.рф) is neither */
	CHECK(!fires_from("kremlin.ru", "http://xn--d1abbgf6aiiy.xn--p1ai/", "PHISH_IDN_MIXED"));
	CHECK(!fires_from("kremlin.ru", "http://xn--d1abbgf6aiiy.xn--p1ai/", "PHISH_LOOKALIKE"));
	CHECK(!fires_from("sberbank.ru", "http://xn--80abap1arsf.xn--p1ai/", "PHISH_IDN_MIXED"));
	/* Cyrillic dze in a Latin name */
	CHECK(fires_from("sberbank.ru", "http://xn--berbank-iog.ru/", "PHISH_IDN_MIXED"));
	CHECK(fires_from("sberbank.ru", "http://xn--berbank-iog.ru/", "PHISH_LOOKALIKE"));
}

struct words {
	char got[512];
};

static void on_word(void *arg, const char *w, size_t n)
{
	struct words *x = arg;
	size_t l = strlen(x->got);
	snprintf(x->got + l, sizeof x->got - l, "[%.*s]", (int)n, w);
}

static void count_word(void *arg, const char *w, size_t n)
{
	(void)w;
	(void)n;
	++*(size_t *)arg;
}

/* The tokens of three messages (checks that two share them, a third not) */
static void tokens_of3(const char *const m[3], uint64_t t[3][128], size_t n[3])
{
	for (int i = 0; i < 3; i++) {
		struct spam_msg *v;
		spam_msg_new(m[i], strlen(m[i]), &v);
		n[i] = spam_tokens(v, t[i], 128);
		spam_msg_free(&v);
	}
}

static void test_tokens(void)
{
	const char *t = "Buy CHEAP pills... it's $9.99 at shop.example, e-mail me@x.example! "
	                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x";
	const char *want = "[buy][cheap][pills][it's][$9.99][at][shop.example][e-mail][me@x.example]"
	                   "[\x01long" "a6]";
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct words w = {{0}};
		struct spam_words s;
		spam_words_init(&s, on_word, &w);
		if (bytewise)
			for (size_t i = 0; t[i]; i++)
				spam_words_feed(&s, t + i, 1);
		else
			spam_words_feed(&s, t, strlen(t));
		spam_words_finish(&s);
		CHECK_EQ_STR(w.got, want);
	}
	/* a Han run gives its overlapping bigrams, a lone character itself,
	 * CJK punctuation separates; Latin words around it are unchanged */
	const char *cjk = "Buy \xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97now"
	                  "\xe3\x80\x82\xed\x95\x9c caf\xc3\xa9";
	const char *cjk_want = "[buy][\xe4\xb8\xad\xe6\x96\x87][\xe6\x96\x87\xe5\xad\x97][now]"
	                       "[\xed\x95\x9c][caf\xc3\xa9]";
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct words w = {{0}};
		struct spam_words s;
		spam_words_init(&s, on_word, &w);
		if (bytewise)
			for (size_t i = 0; cjk[i]; i++)
				spam_words_feed(&s, cjk + i, 1);
		else
			spam_words_feed(&s, cjk, strlen(cjk));
		spam_words_finish(&s);
		CHECK_EQ_STR(w.got, cjk_want);
	}
	/* a long run is bounded: 64 bigrams, not 499 */
	{
		size_t nb = 0;
		struct spam_words s;
		spam_words_init(&s, count_word, &nb);
		for (int i = 0; i < 500; i++)
			spam_words_feed(&s, "\xe4\xb8\xad", 3);
		spam_words_finish(&s);
		CHECK(nb == 64);
	}
	/* order matters: sparse bigrams differ, words do not */
	struct spam_msg *a, *b;
	const char *ma = "Subject: s\r\n\r\nclick here now\r\n", *mb = "Subject: s\r\n\r\nnow here click\r\n";
	spam_msg_new(ma, strlen(ma), &a);
	spam_msg_new(mb, strlen(mb), &b);
	uint64_t ta[64], tb[64];
	size_t na = spam_tokens(a, ta, 64), nb = spam_tokens(b, tb, 64);
	CHECK(na == nb && na > 6);
	CHECK(memcmp(ta, tb, na * sizeof *ta) != 0);
	for (size_t i = 1; i < na; i++)
		CHECK(ta[i - 1] < ta[i]); /* sorted, unique */
	spam_msg_free(&a);
	spam_msg_free(&b);

	/* Header values are tokens, keyed by the field, except a mailing
	 * list's fields, Date and X-Spam-*: two messages that differ only
	 * there have the same tokens; a different X-Mailer does not. */
#define LIST_MSG(mailer, id, been, sender, prec, date, xs)                                     \
	"From: a@b.example\r\nX-Mailer: " mailer "\r\nList-Id: <" id ">\r\nX-BeenThere: " been     \
	"\r\nSender: " sender "\r\nPrecedence: " prec "\r\nDate: " date "\r\nX-Spam-Status: " xs   \
	"\r\nSubject: s\r\n\r\nclick here now\r\n"
	const char *m1 = LIST_MSG("Mutt 1.4", "dev.lists.example", "dev@lists.example",
				  "dev-bounces@lists.example", "bulk", "Mon, 2 Sep 2002 10:00:00 +0000", "No");
	const char *m2 = LIST_MSG("Mutt 1.4", "deals.other.example", "deals@other.example",
				  "owner@other.example", "list", "Tue, 9 Nov 2026 11:00:00 +0100",
				  "Yes, score=9");
	const char *m3 = LIST_MSG("Bulk Mailer Pro", "dev.lists.example", "dev@lists.example",
				  "dev-bounces@lists.example", "bulk", "Mon, 2 Sep 2002 10:00:00 +0000", "No");
#undef LIST_MSG
	struct spam_msg *v1, *v2, *v3;
	spam_msg_new(m1, strlen(m1), &v1);
	spam_msg_new(m2, strlen(m2), &v2);
	spam_msg_new(m3, strlen(m3), &v3);
	uint64_t t1[128], t2[128], t3[128];
	size_t n1 = spam_tokens(v1, t1, 128), n2 = spam_tokens(v2, t2, 128), n3 = spam_tokens(v3, t3, 128);
	CHECK(n1 == n2 && memcmp(t1, t2, n1 * sizeof *t1) == 0);
	CHECK(n1 != n3 || memcmp(t1, t3, n1 * sizeof *t1) != 0);
	spam_msg_free(&v1);
	spam_msg_free(&v2);
	spam_msg_free(&v3);

	/* Date's words are not tokens (when mail was gathered) but its
	 * shape is one (digit and letter runs folded): another day
	 * written the same way gives the same tokens, the same day
	 * written another way other tokens */
	const char *const dates[3] = {
	    "From: a@b.example\r\nDate: Mon, 2 Sep 2002 10:00:00 +0000\r\n\r\nhi\r\n",
	    "From: a@b.example\r\nDate: Tue, 9 Nov 2026 11:07:59 +0100\r\n\r\nhi\r\n",
	    "From: a@b.example\r\nDate: 02 Sep 2002 10:00:00 +0000 GMT\r\n\r\nhi\r\n"};
	uint64_t tt[3][128];
	size_t nn[3];
	tokens_of3(dates, tt, nn);
	CHECK(nn[0] == nn[1] && memcmp(tt[0], tt[1], nn[0] * sizeof tt[0][0]) == 0);
	CHECK(nn[0] == nn[2] && memcmp(tt[0], tt[2], nn[0] * sizeof tt[0][0]) != 0);

	/* A mailing list's field names are one token between them: a
	 * message with six of them and one with only List-Unsubscribe have
	 * the same tokens; one with none has not (X-Padding, the same in
	 * all three, puts them in the same size band) */
#define PAD "X-Padding: " "0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789" \
	"0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
	const char *l6 = PAD "From: a@b.example\r\nList-Id: <d.example>\r\nList-Post: <mailto:d@example>\r\n"
	                 "List-Help: <mailto:h@example>\r\nX-BeenThere: d@example\r\n"
	                 "Sender: o@example\r\nPrecedence: bulk\r\nSubject: s\r\n\r\nclick here now\r\n";
	const char *l1 = PAD "From: a@b.example\r\nList-Unsubscribe: <mailto:u@example>\r\n"
	                 "Subject: s\r\n\r\nclick here now\r\n";
	const char *l0 = PAD "From: a@b.example\r\nSubject: s\r\n\r\nclick here now\r\n";
#undef PAD
	spam_msg_new(l6, strlen(l6), &v1);
	spam_msg_new(l1, strlen(l1), &v2);
	spam_msg_new(l0, strlen(l0), &v3);
	n1 = spam_tokens(v1, t1, 128), n2 = spam_tokens(v2, t2, 128), n3 = spam_tokens(v3, t3, 128);
	CHECK(n1 == n2 && memcmp(t1, t2, n1 * sizeof *t1) == 0);
	CHECK(n3 == n1 - 1);
	spam_msg_free(&v1);
	spam_msg_free(&v2);
	spam_msg_free(&v3);

	/* a subject's words are body words too (seed 0), its pairs are not */
	const char *sj = "Subject: zebra crossing\r\n\r\nfoo\r\n";
	spam_msg_new(sj, strlen(sj), &v1);
	n1 = spam_tokens(v1, t1, 128);
	int zebra = 0, crossing = 0, pair = 0;
	uint64_t hz = spam_hash("zebra", 5, 0), hc = spam_hash("crossing", 8, 0);
	for (size_t i = 0; i < n1; i++) {
		zebra |= t1[i] == hz;
		crossing |= t1[i] == hc;
		pair |= t1[i] == ((hz * 0x9e3779b97f4a7c15ull + hc) ^ 0x51ull);
	}
	CHECK(zebra && crossing && !pair);
	spam_msg_free(&v1);

	/* The Message-ID's shape: digit and letter runs folded (a change of
	 * case starts a new run), punctuation kept, at most 48 octets */
	struct {
		const char *id, *want;
	} shapes[] = {
	    {"<20020823.1234@mail.example.com>", "<9.9@a.a.a>"},
	    {"<AbC12x@h>", "<aaa9a@a>"},
	    {"<caf\xc3\xa9-77$@x>", "<au-9$@a>"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		char sh[48];
		size_t sl = spam_msgid_shape(str_make(shapes[i].id, strlen(shapes[i].id)), sh);
		CHECK(sl == strlen(shapes[i].want) && memcmp(sh, shapes[i].want, sl) == 0);
	}
	{
		char sh[48], id[200];
		for (int i = 0; i < 199; i++)
			id[i] = i % 2 ? '.' : '1';
		CHECK(spam_msgid_shape(str_make(id, 199), sh) == 48);
	}
	/* ...is a token: two messages whose ids differ in their digits only
	 * share it, one written by another program has its own */
	const char *const ids[3] = {"Message-ID: <20020823.1234@mail.example.com>\r\n\r\nfoo\r\n",
	                            "Message-ID: <19991231.98765@relay.other.example>\r\n\r\nfoo\r\n",
	                            "Message-ID: <AB12CD34EF@mail.example.com>\r\n\r\nfoo\r\n"};
	tokens_of3(ids, tt, nn);
	const char mk[] = "\x06mid:<9.9@a.a.a>";
	uint64_t hs = spam_hash(mk, sizeof mk - 1, 7);
	int in[3] = {0};
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < nn[k]; i++)
			in[k] |= tt[k][i] == hs;
	CHECK(in[0] && in[1] && !in[2]);

	/* A URL's path words are tokens of their own (2 to 20 octets, up to
	 * the query or fragment); the query's and a mailto:'s are not */
	const char *ul = "Subject: s\r\n\r\nsee http://www.example.com/Track/click/x/"
	                 "aaaaaaaaaaaaaaaaaaaaaaaaa?id=5#frag mailto:someone@example.org\r\n";
	spam_msg_new(ul, strlen(ul), &v1);
	n1 = spam_tokens(v1, t1, 128);
	const char *const yes[] = {"track", "click"}, *const no[] = {"x", "id", "frag", "someone",
	                                                             "aaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t k = 0; k < 2 + 5; k++) {
		const char *w = k < 2 ? yes[k] : no[k - 2];
		char kb[64];
		int bl = snprintf(kb, sizeof kb, "\x03up:%s", w);
		uint64_t h = spam_hash(kb, (size_t)bl, 7);
		int found = 0;
		for (size_t i = 0; i < n1; i++)
			found |= t1[i] == h;
		CHECK(found == (k < 2));
	}
	spam_msg_free(&v1);
	/* at most 16 words of one path */
	char up[600];
	int ul2 = snprintf(up, sizeof up, "Subject: s\r\n\r\nhttp://h.example/");
	for (int k = 0; k < 20; k++)
		ul2 += snprintf(up + ul2, sizeof up - (size_t)ul2, "w%c%c/", 'a' + k, 'a' + k);
	snprintf(up + ul2, sizeof up - (size_t)ul2, "\r\n");
	spam_msg_new(up, strlen(up), &v1);
	n1 = spam_tokens(v1, t1, 128);
	int words = 0;
	for (int k = 0; k < 20; k++) {
		char kb[16];
		int bl = snprintf(kb, sizeof kb, "\x03up:w%c%c", 'a' + k, 'a' + k);
		uint64_t h = spam_hash(kb, (size_t)bl, 7);
		for (size_t i = 0; i < n1; i++)
			words += t1[i] == h;
	}
	CHECK(words == 16);
	spam_msg_free(&v1);

	/* The sender's tokens: From's shape, the Return-Path, Message-ID and
	 * Reply-To against From, and where the links go */
	struct {
		const char *msg;
		const char *want[10]; /* "\x07x:" tokens the message has */
	} snd[] = {
	    /* a bulk sender linking to itself, Return-Path and Message-ID
	     * at its own domain: every link at all three */
	    {"Return-Path: <bounce@mail.shop.example.com>\r\n"
	     "From: \"Shop News\" <news@shop.example.com>\r\n"
	     "Message-ID: <1.2@out.shop.example.com>\r\n\r\n"
	     "see http://www.shop.example.com/a and http://shop.example.com/b\r\n",
	     {"fn1", "fd0", "frp2", "fmid1", "frt0", "lf2", "lr2", "lm2", "lany1", "nd1"}},
	    /* a name that is the address again, digits in the local part, a
	     * Return-Path elsewhere, Reply-To elsewhere, links to two other
	     * domains and one of From's */
	    {"Return-Path: <x@relay.example.net>\r\n"
	     "From: \"ab123@spam.example.org\" <ab123@spam.example.org>\r\n"
	     "Reply-To: z@free.example\r\nMessage-ID: <9@host.example.net>\r\n\r\n"
	     "http://a.example.info/ http://b.example/ http://spam.example.org/\r\n",
	     {"fn2", "fd2", "frp3", "fmid2", "frt3", "lf1", "lr0", "lm0", "lany1", "nd3"}},
	    /* no name, Return-Path the From domain itself, Reply-To at
	     * From's address, no Message-ID, no links */
	    {"Return-Path: <a7@example.com>\r\nFrom: a7@example.com\r\n"
	     "Reply-To: a7@example.com\r\n\r\nhello\r\n",
	     {"fn0", "fd1", "frp1", "fmid0", "frt1", "nd0"}},
	};
	for (size_t k = 0; k < sizeof snd / sizeof snd[0]; k++) {
		spam_msg_new(snd[k].msg, strlen(snd[k].msg), &v1);
		n1 = spam_tokens(v1, t1, 128);
		size_t nwant = 0, found = 0;
		for (size_t w = 0; w < 10 && snd[k].want[w]; w++) {
			char kb[32];
			int bl = snprintf(kb, sizeof kb, "\x07x:%s", snd[k].want[w]);
			uint64_t h = spam_hash(kb, (size_t)bl, 7);
			nwant++;
			for (size_t i = 0; i < n1; i++)
				found += t1[i] == h;
		}
		CHECK_EQ_INT(found, nwant);
		/* and no other value of the same names */
		static const char *const names[] = {"fn", "fd", "frp", "fmid", "frt", "lf", "lr", "lm", "lany", "nd"};
		size_t any = 0;
		for (size_t w = 0; w < 10; w++)
			for (unsigned v = 0; v < 6; v++) {
				char kb[32];
				int bl = snprintf(kb, sizeof kb, "\x07x:%s%u", names[w], v);
				uint64_t h = spam_hash(kb, (size_t)bl, 7);
				for (size_t i = 0; i < n1; i++)
					any += t1[i] == h;
			}
		CHECK_EQ_INT(any, nwant);
		spam_msg_free(&v1);
	}
	/* distinct link domains, in bands: 9 or more are one token however
	 * many, past the 16 told apart too */
	for (int nl = 8; nl <= 40; nl += 32) {
		char lm[2048];
		int ll = snprintf(lm, sizeof lm, "From: a@example.com\r\n\r\n");
		for (int k = 0; k < nl; k++)
			ll += snprintf(lm + ll, sizeof lm - (size_t)ll, "http://d%d.example/ ", k);
		static uint64_t tl[2048];
		spam_msg_new(lm, (size_t)ll, &v1);
		n1 = spam_tokens(v1, tl, 2048);
		CHECK(n1 < 2048);
		char kb[32];
		int bl = snprintf(kb, sizeof kb, "\x07x:nd%u", nl == 8 ? 4u : 5u);
		uint64_t h = spam_hash(kb, (size_t)bl, 7);
		int found = 0;
		for (size_t i = 0; i < n1; i++)
			found |= tl[i] == h;
		CHECK(found);
		spam_msg_free(&v1);
	}
}

static void test_model(void)
{
	struct spam_model m = {0};
	struct spam_delta d[4] = {{30, 1, 0}, {10, 1, 0}, {20, 0, 1}, {10, 1, 0}};
	size_t n = spam_delta_sort(d, 4);
	CHECK_EQ_INT(n, 3);
	spam_model_apply(&m, d, n, 2, 1, 100);
	uint32_t s, h;
	CHECK(spam_model_get(&m, 10, &s, &h) && s == 2 && h == 0);
	CHECK(spam_model_get(&m, 20, &s, &h) && s == 0 && h == 1);
	CHECK(!spam_model_get(&m, 15, &s, &h));
	/* forgetting takes counts back, never below 0, and drops empty tokens */
	struct spam_delta f[2] = {{20, 0, -1}, {30, -5, 0}};
	spam_model_apply(&m, f, 2, -1, -1, 100);
	CHECK_EQ_INT(m.ntok, 1);
	CHECK_EQ_INT(m.nspam, 1);
	CHECK_EQ_INT(m.nham, 0);
	/* pruning keeps the most seen */
	struct spam_delta many[10];
	for (int i = 0; i < 10; i++)
		many[i] = (struct spam_delta){100 + (uint64_t)i, i, 0};
	spam_model_apply(&m, many, 10, 0, 0, 4);
	CHECK_EQ_INT(m.ntok, 4);
	CHECK(spam_model_get(&m, 109, &s, &h) && s == 9);
	CHECK(!spam_model_get(&m, 101, &s, &h));
	struct buf b;
	buf_init(&b, 1 << 16);
	CHECK_EQ_INT(spam_model_encode(&m, &b), 0);
	struct spam_model r;
	CHECK_EQ_INT(spam_model_decode(buf_data(&b), buf_len(&b), &r), 0);
	CHECK_EQ_INT(r.ntok, 4);
	CHECK(spam_model_get(&r, 108, &s, &h) && s == 8);
	CHECK_EQ_INT(spam_model_decode("TSM1xxxx", 8, &r), -1);
	buf_free(&b);
	spam_model_free(&m);

	/* More clues than are kept (the strongest chosen without a full
	 * sort), tokens walked in order: the same probability whatever order
	 * the tokens come in, and tokens the model lacks change nothing. */
	enum { N = 1200 };
	struct spam_delta *big = calloc(N, sizeof *big);
	uint64_t *tok = calloc(2 * N, sizeof *tok), *rev = calloc(2 * N, sizeof *rev);
	for (int i = 0; i < N; i++)
		big[i] = (struct spam_delta){(uint64_t)i * 0x9e3779b97f4a7c15ull, i % 7, (i * 3) % 5};
	size_t nb = spam_delta_sort(big, N);
	spam_model_apply(&m, big, nb, 60, 60, 10 * N);
	for (size_t i = 0; i < nb; i++)
		tok[i] = big[i].h;
	struct spam_bayes b1, b2;
	double p1 = spam_model_classify(&m, NULL, tok, NULL, nb, &b1);
	for (size_t i = 0; i < nb; i++)
		rev[i] = tok[nb - 1 - i];
	CHECK(p1 >= 0 && p1 <= 1 && p1 == spam_model_classify(&m, NULL, rev, NULL, nb, &b2));
	CHECK(b1.p == p1 && b1.evidence == b2.evidence && b1.clues == b2.clues && b1.clues > 0);
	for (size_t i = 0; i < nb; i++)
		tok[i] = big[i].h + 1; /* none in the model */
	CHECK(spam_model_classify(&m, NULL, tok, NULL, nb, &b1) == 0.5);
	/* no clue: no evidence and no points */
	CHECK(b1.clues == 0 && b1.evidence == 0 && spam_bayes_points(&b1) == 0);
	free(big);
	free(tok);
	free(rev);
	spam_model_free(&m);
}

/* Strong clues both ways saturate the probability at 0.5; the evidence
 * still says which way the message leans, and so do the points. */
static void test_model_evidence(void)
{
	struct spam_model m = {0};
	struct spam_delta d[80];
	for (int i = 0; i < 40; i++) /* 0..39 only in spam, 40..79 only in ham */
		d[i] = (struct spam_delta){1000 + (uint64_t)i, i < 20 ? 50 : 0, i < 20 ? 0 : 50};
	for (int i = 0; i < 40; i++)
		d[40 + i] = (struct spam_delta){2000 + (uint64_t)i, i < 20 ? 0 : 50, i < 20 ? 50 : 0};
	size_t n = spam_delta_sort(d, 80);
	spam_model_apply(&m, d, n, 100, 100, 1000);
	/* message A: 18 spam clues and 12 ham clues; B: the other way */
	uint64_t a[30], b[30];
	for (int i = 0; i < 18; i++)
		a[i] = 1000 + (uint64_t)i, b[i] = 1020 + (uint64_t)i;
	for (int i = 0; i < 12; i++)
		a[18 + i] = 1020 + (uint64_t)i, b[18 + i] = 1000 + (uint64_t)i;
	struct spam_bayes ba, bb;
	/* sorted for the walk (the hashes above already are, per half) */
	uint64_t sa[30], sb[30];
	memcpy(sa, a, sizeof a);
	memcpy(sb, b, sizeof b);
	for (int i = 1; i < 30; i++)
		for (int j = i; j > 0 && sa[j] < sa[j - 1]; j--) {
			uint64_t t = sa[j];
			sa[j] = sa[j - 1];
			sa[j - 1] = t;
		}
	for (int i = 1; i < 30; i++)
		for (int j = i; j > 0 && sb[j] < sb[j - 1]; j--) {
			uint64_t t = sb[j];
			sb[j] = sb[j - 1];
			sb[j - 1] = t;
		}
	double pa = spam_model_classify(&m, NULL, sa, NULL, 30, &ba);
	double pb = spam_model_classify(&m, NULL, sb, NULL, 30, &bb);
	CHECK(fabs(pa - 0.5) < 0.01 && fabs(pb - 0.5) < 0.01); /* saturated */
	CHECK(ba.evidence > 5 && bb.evidence < -5);                /* still apart */
	CHECK(spam_bayes_points(&ba) > SPAM_DEFAULT_TAG && spam_bayes_points(&bb) < 0);
	CHECK_EQ_INT(ba.clues, 30);
	/* only ham clues: the points stop at SPAM_BAYES_MIN */
	struct spam_bayes bh;
	spam_model_classify(&m, NULL, sb + 18, NULL, 12, &bh);
	CHECK(bh.p < 0.01 && spam_bayes_points(&bh) == SPAM_BAYES_MIN);
	/* the classifiers at their most stay under the refusal threshold:
	 * statistics alone file in Junk, never refuse */
	struct spam_bayes most = {.p = 1, .evidence = 1e9, .clues = 35};
	double stats = spam_bayes_points(&most) + spam_grams_points(1e9);
	CHECK(stats > SPAM_DEFAULT_TAG && stats + 1.25 < SPAM_DEFAULT_REJECT);
	spam_model_free(&m);
}

/* The header's tokens are marked beside the same hashes, and at most
 * spam_header_clues of them are among the clues: a message whose header
 * alone would give every clue is judged on its text too. */
static void test_header_clues(void)
{
	char msg[8192];
	size_t o = 0;
	for (int i = 0; i < 40; i++) /* 80 header tokens or more: names and words */
		o += (size_t)snprintf(msg + o, sizeof msg - o, "X-Relay%d: hop%dq\r\n", i, i);
	o += (size_t)snprintf(msg + o, sizeof msg - o, "From: a@b.example\r\nSubject: s\r\n\r\n");
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(msg + o, sizeof msg - o, "word%dz ", i);
	struct spam_msg *m;
	spam_msg_new(msg, o, &m);
	enum { MAX = 2048 };
	uint64_t *tok = calloc(MAX, sizeof *tok), *plain = calloc(MAX, sizeof *plain);
	unsigned char *hdr = calloc(MAX, 1);
	size_t n = spam_tokens_marked(m, tok, hdr, MAX, NULL);
	/* the hashes are spam_tokens': a model trained before stays valid */
	CHECK(n == spam_tokens(m, plain, MAX) && !memcmp(tok, plain, n * sizeof *tok));
	size_t nh = 0, found = 0;
	uint64_t relay = spam_hash("hop7q", 5, spam_hash("x-relay7", 8, 3));
	uint64_t word = spam_hash("word7z", 6, 0);
	for (size_t i = 0; i < n; i++) {
		nh += hdr[i];
		if (tok[i] == relay)
			found += hdr[i] == 1;
		if (tok[i] == word)
			found += hdr[i] == 0;
	}
	CHECK(nh >= 80 && n - nh >= 40 && found == 2);
	spam_msg_free(&m);

	/* every header token strongly spam, every other one strongly ham (a
	 * little weaker): uncapped, the 35 clues are all the header's */
	struct spam_delta *d = calloc(n, sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = (struct spam_delta){tok[i], hdr[i] ? 60 : 0, hdr[i] ? 0 : 50};
	struct spam_model md = {0};
	spam_model_apply(&md, d, spam_delta_sort(d, n), 100, 100, MAX);
	struct spam_bayes all, capped, want;
	spam_model_classify(&md, NULL, tok, NULL, n, &all);
	spam_model_classify(&md, NULL, tok, hdr, n, &capped);
	CHECK(all.clues == 35 && all.p > 0.99 && capped.clues == 35);
	CHECK(spam_header_clues < 35 && capped.evidence < all.evidence - 10);
	/* the same as the header's first spam_header_clues and the body's
	 * first 35 - spam_header_clues alone (equally strong within each) */
	size_t k = 0, kh = 0, kb = 0;
	for (size_t i = 0; i < n; i++) {
		if (hdr[i] ? kh < spam_header_clues : kb < 35 - spam_header_clues) {
			plain[k++] = tok[i];
			*(hdr[i] ? &kh : &kb) += 1;
		}
	}
	spam_model_classify(&md, NULL, plain, NULL, k, &want);
	CHECK(k == 35 && want.clues == 35 && fabs(want.p - capped.p) < 1e-9 &&
	      fabs(want.evidence - capped.evidence) < 1e-9);
	/* no more header tokens marked than the cap: the marks change nothing */
	for (size_t i = 0, kept = 0; i < n; i++)
		if (hdr[i] && ++kept > spam_header_clues)
			hdr[i] = 0;
	spam_model_classify(&md, NULL, tok, hdr, n, &capped);
	CHECK(capped.clues == 35 && fabs(capped.p - all.p) < 1e-9 &&
	      fabs(capped.evidence - all.evidence) < 1e-9);
	spam_model_free(&md);
	free(d);
	free(tok);
	free(plain);
	free(hdr);
}

static void mk(char *out, size_t n, int spam, int i)
{
	static const char *const sw[] = {"cheap", "pills", "offer", "winner", "viagra", "casino",
	                                 "credit", "loan", "free", "bonus", "click", "unsubscribe"};
	static const char *const hw[] = {"meeting", "patch", "review", "kernel", "build", "lunch",
	                                 "thanks", "branch", "release", "agenda", "notes", "commit"};
	const char *const *w = spam ? sw : hw;
	snprintf(out, n,
	         "From: %s@%s.example\r\nSubject: %s %s\r\nDate: Mon, 2 Sep 2024 10:00:00 +0000\r\n"
	         "Message-ID: <%d@x.example>\r\n\r\n%s %s %s %s %s %s message %d of the run\r\n",
	         spam ? "deals" : "dev", spam ? "promo" : "team", w[i % 12], w[(i + 3) % 12], i,
	         w[i % 12], w[(i + 1) % 12], w[(i + 2) % 12], w[(i + 5) % 12], w[(i + 7) % 12],
	         w[(i + 9) % 12], i);
}

static double verdict_of(struct store *st, uint32_t acc, const char *msg, int *fuzzy_r)
{
	struct spam_msg *m;
	struct spam_result r;
	spam_msg_new(msg, strlen(msg), &m);
	spam_result_init(&r);
	CHECK_EQ_INT(spam_analyse(st, acc, m, &r), 0);
	spam_msg_free(&m);
	if (fuzzy_r)
		*fuzzy_r = spam_result_has(&r, "FUZZY_JUNK");
	return r.score;
}

/* 1 when the rules of st call msg a stranger showing our user's name. */
static int spoofs(struct store *st, const char *msg)
{
	struct spam_msg *m;
	struct spam_result r;
	spam_msg_new(msg, strlen(msg), &m);
	spam_result_init(&r);
	spam_analyse_rules(st, m, &r, NULL);
	spam_msg_free(&m);
	return spam_result_has(&r, "SPOOF_OUR_USER");
}

static void test_store(void)
{
	uint32_t acc, acc2;
	char err[256];
	struct store *st = unit_store_with_account(base, 0, "u@ours.example", &acc);
	if (!st)
		return;
	CHECK_EQ_INT(store_account_add(st, "v@ours.example", "pw", 0, &acc2, err, sizeof err),
	             STORE_OK);
	char msg[1024];
	struct spam_msg *m;
	for (int i = 0; i < 25; i++)
		for (int spam = 0; spam < 2; spam++) {
			mk(msg, sizeof msg, spam, i);
			spam_msg_new(msg, strlen(msg), &m);
			CHECK_EQ_INT(spam_train(st, 0, m, spam), 0);
			spam_msg_free(&m);
		}
	mk(msg, sizeof msg, 1, 40);
	CHECK(verdict_of(st, acc, msg, NULL) >= SPAM_DEFAULT_TAG);
	mk(msg, sizeof msg, 0, 40);
	CHECK(verdict_of(st, acc, msg, NULL) < 0);

	/* a user's Junk: the near-duplicate is spam for that user only */
	const char *junk = GOOD_HDR "\r\nDear friend, I am writing to you about the shipment of "
	                            "the parcel number 4471 that is waiting for you at our depot in "
	                            "the city, please confirm your address and pay the small fee\r\n";
	const char *near = GOOD_HDR "\r\nDear friend, I am writing to you about the shipment of "
	                            "the parcel number 9902 that is waiting for you at our depot in "
	                            "the city, please confirm your address and pay the small fee\r\n";
	int fz;
	verdict_of(st, acc, near, &fz);
	CHECK(!fz);
	spam_msg_new(junk, strlen(junk), &m);
	CHECK_EQ_INT(spam_train(st, acc, m, 1), 0);
	verdict_of(st, acc, near, &fz);
	CHECK(fz);
	verdict_of(st, acc2, near, &fz);
	CHECK(!fz);
	CHECK_EQ_INT(spam_forget(st, acc, m, 1), 0);
	spam_msg_free(&m);
	verdict_of(st, acc, near, &fz);
	CHECK(!fz);

	/* an account's display name shown by a stranger, from the moment
	 * it is set (the names kept are computed again) */
	const char *named[] = {
	    "From: \"Lynn, Vera\" <vera.lynn.office@freemail.example>\r\n\r\nA transfer today?\r\n",
	    "From: Vera Lynn <v@ours.example>\r\n\r\nA transfer today?\r\n",
	    "From: Vera Lynne <vera@freemail.example>\r\n\r\nA transfer today?\r\n"};
	CHECK(!spoofs(st, named[0])); /* no name yet */
	CHECK_EQ_INT(store_account_set_name(st, "v@ours.example", "Vera Lynn", err, sizeof err),
	             STORE_OK);
	CHECK(spoofs(st, named[0]));
	CHECK(!spoofs(st, named[1])); /* Vera herself */
	CHECK(!spoofs(st, named[2])); /* another name */
	spam_msg_new(named[0], strlen(named[0]), &m);
	struct spam_result r;
	spam_result_init(&r);
	spam_analyse_rules(st, m, &r, NULL);
	spam_msg_free(&m);
	for (size_t k = 0; k < r.nrules; k++)
		if (!strcmp(r.rules[k].name, "SPOOF_OUR_USER"))
			CHECK(strstr(r.rules[k].desc, "v@ours.example") != NULL);
	CHECK_EQ_INT(store_account_set_name(st, "v@ours.example", "", err, sizeof err), STORE_OK);
	CHECK(!spoofs(st, named[0])); /* her name removed */
	store_close(&st);
}

/* The token sort: random hashes, and hashes crowding one bucket (the
 * radix fallback), come out ascending with nothing lost. */
static void test_sort(void)
{
	enum { N = 5000 };
	uint64_t *v = malloc(N * sizeof *v);
	for (int crowd = 0; crowd < 2; crowd++) {
		uint64_t x = 88172645463325252ull, sum = 0, sum2 = 0;
		for (int i = 0; i < N; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v[i] = crowd ? (x >> 12) | (0xabcull << 52) : x;
			sum += v[i];
		}
		spam_sort_hashes(v, N);
		int sorted = 1;
		for (int i = 0; i < N; i++) {
			sum2 += v[i];
			if (i && v[i - 1] > v[i])
				sorted = 0;
		}
		CHECK(sorted);
		CHECK(sum == sum2);
	}
	spam_sort_hashes(v, 0);
	free(v);
}

int main(void)
{
	test_sort();
	test_header();
	test_names();
	test_body();
	test_phish();
	test_confusables();
	test_tokens();
	test_model();
	test_model_evidence();
	test_header_clues();
	if (unit_env_begin(base, sizeof base, "spam") == 0) {
		test_store();
		unit_rmrf(base);
	}
	return unit_done("test_spam_rules");
}
