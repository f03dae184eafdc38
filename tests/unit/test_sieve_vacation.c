/*
 * test_sieve_vacation.c — RFC 5230 §4's rules (sieve_vacation.c): who gets
 * no reply (null sender, Auto-Submitted, List-*, Precedence, system
 * senders, our own address, mail not addressed to us), the key that
 * remembers a reply (per handle, per sender, case-insensitive), and the
 * reply's fields (Auto-Submitted, In-Reply-To, References, Subject, the
 * reason with CRLF line ends; no header injection from the script);
 * for notify (RFC 5435/5436): mailto URIs (sieve_mailto.c: recipients
 * from the path and to/cc/bcc, %-escapes, unsafe fields ignored, the
 * limits), no notification about an automatic message, and the
 * notification's fields.
 */
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve_mailto.h"
#include "sieve/sieve_vacation.h"
#include "core/utf8.h"
#include "mime/rfc5322.h"
#include "unit.h"

static const char *base =
	"From: Ann <ann@example.org>\r\n"
	"To: Bob <bob@example.com>\r\n"
	"Subject: =?utf-8?q?Caf=C3=A9?= plans\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"References: <m0@example.org>\r\n"
	"\r\nhello\r\n";

static const char *skip(const char *hdr, const char *from)
{
	static char msg[2048];
	struct str ours[2] = { STR_LIT("bob@example.com"), STR_LIT("bob.alias@example.com") };
	snprintf(msg, sizeof msg, "%s\r\nbody\r\n", hdr);
	return sieve_vacation_skip(msg, strlen(msg), str_c(from), ours, 2, NULL, NULL, NULL);
}

/* The longest line of b (without its CRLF). */
static size_t max_line(const struct buf *b)
{
	size_t best = 0, cur = 0;
	for (size_t i = 0; i < buf_len(b); i++) {
		if (buf_data(b)[i] == '\n') {
			cur = 0;
			continue;
		}
		if (buf_data(b)[i] != '\r' && ++cur > best)
			best = cur;
	}
	return best;
}

static int bare_lf(const struct buf *b)
{
	for (size_t i = 0; i < buf_len(b); i++)
		if (buf_data(b)[i] == '\n' && (i == 0 || buf_data(b)[i - 1] != '\r'))
			return 1;
	return 0;
}

static int has_8bit(const struct buf *b)
{
	for (size_t i = 0; i < buf_len(b); i++)
		if ((unsigned char)buf_data(b)[i] >= 0x80)
			return 1;
	return 0;
}

/* The reply's Subject in r, unfolded and its encoded words decoded, into
 * out (reset first). */
static void reply_subject(const char *r, struct buf *out)
{
	const char *s = strstr(r, "\r\nSubject: ");
	buf_reset(out);
	CHECK(s != NULL);
	if (!s)
		return;
	s += 11;
	size_t n = 0;
	while (s[n] && !(s[n] == '\r' && s[n + 1] == '\n' && s[n + 2] != ' ' && s[n + 2] != '\t'))
		n++;
	char *tmp = malloc(n + 1);
	size_t u = rfc5322_unfold(str_make(s, n), tmp);
	CHECK_EQ_INT(rfc5322_decode_words(str_make(tmp, u), out), 0);
	free(tmp);
}

int main(void)
{
	struct str ours[1] = { STR_LIT("bob@example.com") };

	CHECK(sieve_vacation_skip(base, strlen(base), STR_LIT("ann@example.org"), ours, 1, NULL, NULL, NULL) == NULL);
	CHECK_EQ_STR(skip("To: bob@example.com\r\n", ""), "null_sender");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nAuto-Submitted: auto-replied\r\n", "a@x.org"), "auto_submitted");
	CHECK(skip("To: bob@example.com\r\nAuto-Submitted: no\r\n", "a@x.org") == NULL);
	/* RFC 3834 §5: "no" with CFWS around it (a comment) and
	 * parameters after ";" is still "no" (tern took it for automatic and
	 * sent no reply); other values in any form are not. */
	CHECK(skip("To: bob@example.com\r\nAuto-Submitted: No (sent by a person)\r\n", "a@x.org") == NULL);
	CHECK(skip("To: bob@example.com\r\nAuto-Submitted: (typed) no ; x=y\r\n", "a@x.org") == NULL);
	CHECK_EQ_STR(skip("To: bob@example.com\r\nAuto-Submitted: auto-generated (cron)\r\n", "a@x.org"),
	             "auto_submitted");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nAuto-Submitted: (no) auto-replied\r\n", "a@x.org"),
	             "auto_submitted");
	CHECK(sieve_notify_skip("Auto-Submitted: no (by hand)\r\n\r\n", 32) == NULL);
	CHECK_EQ_STR(sieve_notify_skip("Auto-Submitted: auto-notified\r\n\r\n", 33), "auto_submitted");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nList-Id: <dev.lists.x.org>\r\n", "a@x.org"), "list");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nList-Unsubscribe: <mailto:u@x.org>\r\n", "a@x.org"), "list");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nPrecedence: bulk\r\n", "a@x.org"), "bulk");
	/* Microsoft's X-Auto-Response-Suppress: All or OOF among its list
	 * asks for no out-of-office reply (tern answered; Pigeonhole's
	 * vacation/reply.svtest); other kinds do not. */
	CHECK_EQ_STR(skip("To: bob@example.com\r\nX-Auto-Response-Suppress: All\r\n", "a@x.org"), "suppressed");
	CHECK_EQ_STR(skip("To: bob@example.com\r\nX-Auto-Response-Suppress: DR, oof,\tRN\r\n", "a@x.org"),
	             "suppressed");
	CHECK(skip("To: bob@example.com\r\nX-Auto-Response-Suppress: DR, NDR, RN\r\n", "a@x.org") == NULL);
	CHECK(skip("To: bob@example.com\r\nX-Auto-Response-Suppress: OOFx\r\n", "a@x.org") == NULL);
	CHECK_EQ_STR(skip("To: bob@example.com\r\n", "MAILER-DAEMON@x.org"), "system_sender");
	CHECK_EQ_STR(skip("To: bob@example.com\r\n", "owner-dev@x.org"), "system_sender");
	CHECK_EQ_STR(skip("To: bob@example.com\r\n", "dev-request@x.org"), "system_sender");
	CHECK_EQ_STR(skip("To: bob@example.com\r\n", "Bob@Example.com"), "own_address");
	CHECK_EQ_STR(skip("To: carol@example.com\r\n", "a@x.org"), "not_addressed");
	CHECK(skip("To: carol@example.com\r\nCc: \"B\" <BOB.ALIAS@example.com>\r\n", "a@x.org") == NULL);
	CHECK(skip("Resent-To: bob@example.com\r\n", "a@x.org") == NULL);
	/* RFC 5230 §4.5 names Resent-Bcc too (tern did not read it) */
	CHECK(skip("Resent-Bcc: bob@example.com\r\n", "a@x.org") == NULL);
	/* found: the first of the user's addresses the message was sent to,
	 * as written, which the reply goes from (RFC 5230 §5.4, errata 2035);
	 * "" when none was. */
	{
		static const char m1[] = "To: carol@example.com, \"B\" <BOB.ALIAS@example.com>\r\n"
		                         "Cc: bob@example.com\r\n\r\nhi\r\n";
		static const char m2[] = "To: carol@example.com\r\n\r\nhi\r\n";
		struct str two[2] = { STR_LIT("bob@example.com"), STR_LIT("bob.alias@example.com") };
		char found[SIEVE_VACATION_ADDR_MAX] = "x";
		CHECK(sieve_vacation_skip(m1, strlen(m1), STR_LIT("a@x.org"), two, 2, NULL, NULL, found) == NULL);
		CHECK_EQ_STR(found, "BOB.ALIAS@example.com");
		CHECK_EQ_STR(sieve_vacation_skip(m2, strlen(m2), STR_LIT("a@x.org"), two, 2, NULL, NULL, found),
		             "not_addressed");
		CHECK_EQ_STR(found, "");
	}

	/* Keys: per sender (any case), per handle, per reason without one. */
	struct sieve_action a, b;
	uint8_t k1[32], k2[32], k3[32], k4[32];
	memset(&a, 0, sizeof a);
	a.kind = SIEVE_ACT_VACATION;
	a.text = STR_LIT("I am away.");
	b = a;
	sieve_vacation_key(&a, STR_LIT("ann@example.org"), k1);
	sieve_vacation_key(&a, STR_LIT("ANN@example.org"), k2);
	CHECK(memcmp(k1, k2, 32) == 0);
	sieve_vacation_key(&a, STR_LIT("carl@example.org"), k3);
	CHECK(memcmp(k1, k3, 32) != 0);
	b.text = STR_LIT("I am back soon.");
	sieve_vacation_key(&b, STR_LIT("ann@example.org"), k4);
	CHECK(memcmp(k1, k4, 32) != 0);
	a.handle = b.handle = STR_LIT("h1");
	sieve_vacation_key(&a, STR_LIT("ann@example.org"), k3);
	sieve_vacation_key(&b, STR_LIT("ann@example.org"), k4);
	CHECK(memcmp(k3, k4, 32) == 0);

	/* The reply. */
	struct buf out;
	buf_init(&out, 1 << 16);
	memset(&a, 0, sizeof a);
	a.text = STR_LIT("Away until Monday.\nAnn: call Carol.");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "Mon, 16 Nov 2026 09:00:00 +0000",
	                                  "v1@tern.example.com", &out), 0);
	const char *r = buf_data(&out);
	CHECK(strstr(r, "From: bob@example.com\r\nTo: <ann@example.org>\r\n") == r);
	CHECK(strstr(r, "Subject: =?utf-8?q?Auto=3A_Caf=C3=A9_plans?=\r\n") != NULL);
	CHECK(strstr(r, "In-Reply-To: <m1@example.org>\r\n") != NULL);
	CHECK(strstr(r, "References: <m0@example.org> <m1@example.org>\r\n") != NULL);
	CHECK(strstr(r, "Auto-Submitted: auto-replied (vacation)\r\n") != NULL);
	CHECK(strstr(r, "Message-ID: <v1@tern.example.com>\r\n") != NULL);
	CHECK(strstr(r, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n"
	                "\r\nAway until Monday.\r\nAnn: call Carol.\r\n") != NULL);
	/* A script's :subject cannot add header fields. */
	buf_reset(&out);
	a.subject = STR_LIT("Out\r\nBcc: everyone@example.net");
	a.from = STR_LIT("Bob <bob@example.com>");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("x"), "d", "v2@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\nBcc:") == NULL);
	CHECK(strstr(buf_data(&out), "Subject: Out  Bcc: everyone@example.net\r\n") != NULL);
	CHECK(strstr(buf_data(&out), "From: Bob <bob@example.com>\r\n") != NULL);
	/* RFC 5322 §2.1.1 and RFC 2047 whatever the script wrote: a reason
	 * line over 998 octets goes quoted-printable, a UTF-8 one 8bit; a
	 * display name that is not ASCII in encoded words; a long thread's
	 * References folded. */
	static char longline[1300], refs[3000], msg2[4096];
	memset(longline, 'x', 1200);
	memcpy(longline + 1200, " caf\xc3\xa9 \xc3\xa9t\xc3\xa9\n", 14);
	size_t rl = 0;
	for (int i = 0; i < 60; i++)
		rl += (size_t)snprintf(refs + rl, sizeof refs - rl, " <thread-%02d.abcdefghij@example.org>", i);
	snprintf(msg2, sizeof msg2, "From: ann@example.org\r\nTo: bob@example.com\r\nSubject: x\r\n"
	         "Message-ID: <m9@example.org>\r\nReferences:%s\r\n\r\nhi\r\n", refs);
	buf_reset(&out);
	memset(&a, 0, sizeof a);
	a.text = str_c(longline);
	a.from = STR_LIT("\"J\xc3\xb6rg \\\"Bob\\\" M\xc3\xbcller\" <bob@example.com>");
	CHECK_EQ_INT(sieve_vacation_reply(&a, msg2, strlen(msg2), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v5@t", &out), 0);
	r = buf_data(&out);
	CHECK(strstr(r, "Content-Transfer-Encoding: quoted-printable\r\n\r\nxxx") != NULL);
	CHECK(strstr(r, " caf=C3=A9 =C3=A9t=C3=A9\r\n") != NULL);
	CHECK(strstr(r, "From: =?utf-8?q?J=C3=B6rg_=22Bob=22_M=C3=BCller?= <bob@example.com>\r\n") == r);
	CHECK(strstr(r, "References: <thread-00.abcdefghij@example.org>") != NULL);
	CHECK(strstr(r, "\r\n <thread-59.abcdefghij@example.org> <m9@example.org>\r\n") != NULL);
	CHECK(max_line(&out) <= 78);
	CHECK(!has_8bit(&out));
	/* A quoted display name holding "<", read as RFC 5322 reads it
	 * (sieve_mailbox_scan, as sieve_from_valid), and a comment after
	 * the address: the name in encoded words, the comment dropped (it
	 * went out as raw 8-bit text, the whole value written as given). */
	buf_reset(&out);
	a.from = STR_LIT("\"J\xc3\xb6rg <b>\" <bob@example.com> (work)");
	CHECK_EQ_INT(sieve_vacation_reply(&a, msg2, strlen(msg2), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v5@t", &out), 0);
	CHECK(strstr(buf_data(&out), "From: =?utf-8?q?J=C3=B6rg_=3Cb=3E?= <bob@example.com>\r\n") == buf_data(&out));
	CHECK(!has_8bit(&out));
	/* An original without a subject, or a blank one: "Auto: " had
	 * nothing after it, a Subject field ending in white space
	 * (RFC 3834 §3.1.5 prefixes a subject there is not). */
	const char *const nosubj[] = {
	    "From: ann@example.org\r\nTo: bob@example.com\r\n\r\nhi\r\n",
	    "From: ann@example.org\r\nTo: bob@example.com\r\nSubject:  \r\n\r\nhi\r\n"};
	for (int i = 0; i < 2; i++) {
		buf_reset(&out);
		memset(&a, 0, sizeof a);
		a.text = STR_LIT("away");
		CHECK_EQ_INT(sieve_vacation_reply(&a, nosubj[i], strlen(nosubj[i]), STR_LIT("ann@example.org"),
		                                  STR_LIT("bob@example.com"), "d", "v6@t", &out), 0);
		CHECK(strstr(buf_data(&out), "\r\nSubject: Automated reply\r\n") != NULL);
	}
	/* RFC 5230 §5.5: a long subject is cut at 256 characters, the last
	 * "…", as Pigeonhole does (sieve-test 0.5.19: "Auto: " and the
	 * original's, or a :subject of 1000 "x", gave 255 characters and
	 * U+2026); tern sent all of it. Cut at a character boundary, encoded
	 * words of the original decoded first; no line past 78 either way. */
	{
		static char big[2200], enc[4200];
		size_t bl = (size_t)snprintf(big, sizeof big, "From: ann@example.org\r\nTo: bob@example.com\r\nSubject:");
		for (int i = 0; i < 125; i++)
			bl += (size_t)snprintf(big + bl, sizeof big - bl, " word%03d", i);
		snprintf(big + bl, sizeof big - bl, "\r\n\r\nhi\r\n");
		size_t el = (size_t)snprintf(enc, sizeof enc, "From: ann@example.org\r\nTo: bob@example.com\r\nSubject:");
		for (int i = 0; i < 60; i++)
			el += (size_t)snprintf(enc + el, sizeof enc - el, " =?utf-8?q?gr=C3=BC=C3=9Fe_%03d?=", i);
		snprintf(enc + el, sizeof enc - el, "\r\n\r\nhi\r\n");
		static char xs[1001];
		memset(xs, 'x', 1000);
		struct buf subj;
		buf_init(&subj, 8192);
		const char *const origs[] = { big, enc, big };
		for (int i = 0; i < 3; i++) {
			buf_reset(&out);
			memset(&a, 0, sizeof a);
			a.text = STR_LIT("away");
			if (i == 2)
				a.subject = str_c(xs);
			CHECK_EQ_INT(sieve_vacation_reply(&a, origs[i], strlen(origs[i]), STR_LIT("ann@example.org"),
			                                  STR_LIT("bob@example.com"), "d", "v7@t", &out), 0);
			CHECK(max_line(&out) <= 78);
			reply_subject(buf_data(&out), &subj);
			CHECK(utf8_valid(buf_str(&subj)));
			CHECK_EQ_INT((int)utf8_chars(buf_str(&subj)), 256);
			CHECK(buf_len(&subj) >= 3 &&
			      memcmp(buf_data(&subj) + buf_len(&subj) - 3, "\xe2\x80\xa6", 3) == 0);
		}
		CHECK(memcmp(buf_data(&subj), xs, 255) == 0);
		/* "Auto: grüße 000grüße 001…" as Pigeonhole: the words joined. */
		buf_reset(&out);
		memset(&a, 0, sizeof a);
		a.text = STR_LIT("away");
		CHECK_EQ_INT(sieve_vacation_reply(&a, enc, strlen(enc), STR_LIT("ann@example.org"),
		                                  STR_LIT("bob@example.com"), "d", "v7@t", &out), 0);
		reply_subject(buf_data(&out), &subj);
		CHECK(buf_len(&subj) > 30 && memcmp(buf_data(&subj), "Auto: gr\xc3\xbc\xc3\x9f" "e 000gr\xc3\xbc", 19) == 0);
		/* 256 characters exactly is not cut. */
		buf_reset(&out);
		a.subject = str_make(xs, 256);
		CHECK_EQ_INT(sieve_vacation_reply(&a, enc, strlen(enc), STR_LIT("ann@example.org"),
		                                  STR_LIT("bob@example.com"), "d", "v7@t", &out), 0);
		reply_subject(buf_data(&out), &subj);
		CHECK(buf_len(&subj) == 256 && memcmp(buf_data(&subj), xs, 256) == 0);
		buf_free(&subj);
	}
	buf_reset(&out);
	a.text = STR_LIT("Caf\xc3\xa9 ferm\xc3\xa9.\n");
	a.from = STR_LIT("bob@example.com");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v6@t", &out), 0);
	CHECK(strstr(buf_data(&out), "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 ferm\xc3\xa9.\r\n")
	      != NULL);
	/* A blank reason (JMAP's textBody and htmlBody null) is a default
	 * text naming the original's subject, the :subject first: it was
	 * an empty body. */
	buf_reset(&out);
	a.text = STR_LIT(" \n");
	a.subject = STR_LIT("Away until Monday");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v8@t", &out), 0);
	CHECK(strstr(buf_data(&out), "Content-Transfer-Encoding: 8bit\r\n\r\nAway until Monday\r\n\r\n"
	                             "This is an automatic reply to your message \"Caf\xc3\xa9 plans\".\r\n"
	                             "It has been received, and will be read later.\r\n") != NULL);
	/* :mime: the entity's Content-* fields (folds kept) and body; any
	 * other field there would join the reply's header (a second From). */
	buf_reset(&out);
	memset(&a, 0, sizeof a);
	a.mime = 1;
	a.text = STR_LIT("From: ceo@bank.example\nContent-Type: text/plain;\n charset=us-ascii\n"
	                 "Reply-To: x@bank.example\nContent-Transfer-Encoding: 7bit\n\nBack.\n");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v3@t", &out), 0);
	r = buf_data(&out);
	CHECK(strstr(r, "bank.example") == NULL);
	/* Line ends CRLF throughout: a bare LF is no line end (RFC 5322
	 * §2.3), and next hops refuse it. */
	CHECK(strstr(r, "MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset=us-ascii\r\n"
	                "Content-Transfer-Encoding: 7bit\r\n\r\nBack.\r\n") != NULL);
	CHECK(!bare_lf(&out));
	/* All header, no body: the empty line still ends the reply's header. */
	buf_reset(&out);
	a.text = STR_LIT("Content-Type: text/plain\r\n");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v4@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n") != NULL);
	/* A text entity goes out in the encoding its body needs, whatever
	 * the script declared (RFC 2045 §2.7, §2.8): 8-bit octets under
	 * "7bit", or a line over 998 octets, were sent as written. */
	buf_reset(&out);
	a.text = STR_LIT("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
	                 "Zur\xc3\xbc" "ck am Montag.\n");
	CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
	                                  STR_LIT("bob@example.com"), "d", "v5@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                             "Content-Transfer-Encoding: 8bit\r\n\r\nZur\xc3\xbc" "ck am Montag.\r\n") != NULL);
	CHECK(strstr(buf_data(&out), "7bit") == NULL);
	{
		static char longer[1400];
		strcpy(longer, "Content-Type: text/plain\r\n\r\n");
		size_t at = strlen(longer);
		memset(longer + at, 'z', 1200);
		a.text = str_make(longer, at + 1200);
		buf_reset(&out);
		CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
		                                  STR_LIT("bob@example.com"), "d", "v6@t", &out), 0);
		CHECK(strstr(buf_data(&out), "\r\nContent-Type: text/plain\r\n"
		                             "Content-Transfer-Encoding: quoted-printable\r\n\r\nzzz") != NULL);
		/* An entity already encoded stays as written. */
		a.text = STR_LIT("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nQmFjaw==\r\n");
		buf_reset(&out);
		CHECK_EQ_INT(sieve_vacation_reply(&a, base, strlen(base), STR_LIT("ann@example.org"),
		                                  STR_LIT("bob@example.com"), "d", "v7@t", &out), 0);
		CHECK(strstr(buf_data(&out), "Content-Transfer-Encoding: base64\r\n\r\nQmFjaw==\r\n") != NULL);
	}

	/* mailto URIs. */
	struct arena *ar = arena_new(0);
	struct sieve_mailto m;
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("MAILTO:timo@example.com%2cstephan@x.example.net"
	                                        "?cc=pm@frop.example.org&subject=Frop%20received"
	                                        "&from=evil@x.org&bcc=hid@x.org&body=a%0Ab"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 4);
	CHECK(str_eq(m.rcpts[0], STR_LIT("timo@example.com")) && str_eq(m.rcpts[1], STR_LIT("stephan@x.example.net")));
	CHECK(str_eq(m.rcpts[2], STR_LIT("pm@frop.example.org")) && str_eq(m.rcpts[3], STR_LIT("hid@x.org")));
	CHECK(m.field[0] == SIEVE_MAILTO_TO && m.field[1] == SIEVE_MAILTO_TO);
	CHECK(m.field[2] == SIEVE_MAILTO_CC && m.field[3] == SIEVE_MAILTO_BCC);
	CHECK(str_eq(m.subject, STR_LIT("Frop received")) && str_eq(m.body, STR_LIT("a\nb")));
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=a@x.org"), ar, &m), 0);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("xmpp:a@x.org"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:a@x.org?subject=%zz"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:a@x.org%"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:nobody"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:a%20b@x.org"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:a@x.org%0D%0ABcc:b@y.org"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:1@x,2@x,3@x,4@x,5@x,6@x,7@x,8@x"), ar, &m), 0);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:1@x,2@x,3@x,4@x,5@x,6@x,7@x,8@x?cc=9@x"), ar, &m), -1);
	/* An address named twice is one recipient, where it came first (the
	 * domain's case aside); another local part's case is another one. */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:t@example.com%2cs@x.example?cc=s@X.Example"
	                                        "&bcc=t@example.com,T@example.com&cc=s@x.example"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 3);
	CHECK(str_eq(m.rcpts[0], STR_LIT("t@example.com")) && m.field[0] == SIEVE_MAILTO_TO);
	CHECK(str_eq(m.rcpts[1], STR_LIT("s@x.example")) && m.field[1] == SIEVE_MAILTO_TO);
	CHECK(str_eq(m.rcpts[2], STR_LIT("T@example.com")) && m.field[2] == SIEVE_MAILTO_BCC);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:1@x,2@x,3@x,4@x,5@x,6@x,7@x,8@x?cc=8@x,1@X"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 8);
	/* RFC 6068 §2: a to, cc or bcc hfvalue is that header field's value,
	 * an RFC 5322 address-list: a display name may come first, a quoted
	 * one may hold a comma (Pigeonhole's enotify/mailto.svtest 'UTF-8
	 * address'; tern refused them). Before "?" addr-specs alone. */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=%3D%3Futf-8%3Fq%3FG%3DC3%3DBCnther%3F%3D%20M.%20"
	                                        "Karotte%20%3Cg.m.karotte%40example.com%3E&cc=%22Doe,%20Al%22"
	                                        "%20%3Cal@x.org%3E,bo@x.org&bcc=Hid%20%3Ch@x.org%3E"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 4);
	CHECK(str_eq(m.rcpts[0], STR_LIT("g.m.karotte@example.com")) && m.field[0] == SIEVE_MAILTO_TO);
	CHECK(str_eq(m.rcpts[1], STR_LIT("al@x.org")) && m.field[1] == SIEVE_MAILTO_CC);
	CHECK(str_eq(m.rcpts[2], STR_LIT("bo@x.org")) && !m.named[2].len);
	CHECK(str_eq(m.rcpts[3], STR_LIT("h@x.org")) && m.field[3] == SIEVE_MAILTO_BCC);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:a@x.org?cc=A%20%3Ca@x.org%3E"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:A%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20%3Ca@x.org"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20%3Cb%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%0D%0ABcc:%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20%3Ca%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20%3C%3E"), ar, &m), -1);
	/* RFC 5322 §3.2.2 comments and §3.2.4 quoted-strings hide what they
	 * hold: a quoted "<" or ">" in a display name, a comment after the
	 * address, before it, or holding "<" and "," (all refused before;
	 * Pigeonhole's sieve-test takes each but the comma in a comment). */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=%22Doe%20%3C1%3E%22%20%3Cd@x.org%3E"
	                                        "&cc=j@x.org%20(Joe)&bcc=(c)%20k@x.org"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 3);
	CHECK(str_eq(m.rcpts[0], STR_LIT("d@x.org")) && str_eq(m.named[0], STR_LIT("\"Doe <1>\" <d@x.org>")));
	CHECK(str_eq(m.rcpts[1], STR_LIT("j@x.org")) && str_eq(m.named[1], STR_LIT("j@x.org (Joe)")));
	CHECK(str_eq(m.rcpts[2], STR_LIT("k@x.org")) && m.field[2] == SIEVE_MAILTO_BCC);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=Joe%20(a%3Cb,%20%22c%22)%20%3Cj@x.org%3E%20(w),"
	                                        "%22a%3Eb%22%20%3Cab@x.org%3E"), ar, &m), 0);
	CHECK_EQ_INT((int)m.nrcpts, 2);
	CHECK(str_eq(m.rcpts[0], STR_LIT("j@x.org")) && str_eq(m.named[0], STR_LIT("Joe (a<b, \"c\") <j@x.org> (w)")));
	CHECK(str_eq(m.rcpts[1], STR_LIT("ab@x.org")));
	/* Still refused: a quote or comment left open, a stray ")", text
	 * after the angle-addr, a line end inside a comment. */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=%22A%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=(A%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A)%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20%3Ca@x.org%3E%20b"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=A%20(x%0D%0ABcc:%20y)%20%3Ca@x.org%3E"), ar, &m), -1);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=a@x.org%20(x%5C"), ar, &m), -1);

	/* Notifications. */
	CHECK(sieve_notify_skip(base, strlen(base)) == NULL);
	const char *autom = "From: a@x.org\r\nAuto-Submitted: auto-notified\r\n\r\nhi\r\n";
	CHECK_EQ_STR(sieve_notify_skip(autom, strlen(autom)), "auto_submitted");
	const char *no = "From: a@x.org\r\nAuto-Submitted: no\r\n\r\nhi\r\n";
	CHECK(sieve_notify_skip(no, strlen(no)) == NULL);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:p@x.org?bcc=h@x.org"), ar, &m), 0);
	memset(&a, 0, sizeof a);
	a.importance = STR_LIT("3");
	buf_free(&out);
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n1@t", &out), 0);
	r = buf_data(&out);
	CHECK(strstr(r, "From: bob@example.com\r\nTo: <p@x.org>\r\nSubject: =?utf-8?q?New_mail=3A_Caf=C3=A9_plans?=\r\n") == r);
	CHECK(strstr(r, "h@x.org") == NULL);
	/* RFC 5436 §2.7.1: auto-notified names the owner (it had no owner-email) */
	CHECK(strstr(r, "\r\nAuto-Submitted: auto-notified; owner-email=\"bob@example.com\"\r\n") != NULL);
	/* and is itself automatic: a notification about it is not sent */
	CHECK_EQ_STR(sieve_notify_skip(r, strlen(r)), "auto_submitted");
	CHECK(strstr(r, "\r\nImportance: low\r\n") != NULL);
	CHECK(strstr(r, "\r\n\r\nNew mail from Ann <ann@example.org>\r\nSubject: Caf\xc3\xa9 plans\r\n") != NULL);
	/* :message as the subject and the body's first line; no injection. */
	buf_reset(&out);
	a.text = STR_LIT("Boss\r\nBcc: x@y.org");
	a.from = STR_LIT("me@example.com");
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n2@t", &out), 0);
	CHECK(strstr(buf_data(&out), "From: me@example.com\r\n") != NULL);
	CHECK(strstr(buf_data(&out), "Subject: Boss  Bcc: x@y.org\r\n") != NULL);
	r = buf_data(&out);
	CHECK(strstr(r, "\nBcc:") > strstr(r, "\r\n\r\n")); /* in the body only */
	/* RFC 5436 §2.6: :message is the subject over the URI's subject=;
	 * the URI's cc recipients are a Cc field, not more To (they were
	 * one To field, and subject= won). */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:p@x.org?cc=c@x.org&bcc=h@x.org&subject=Uri"),
	                                ar, &m), 0);
	buf_reset(&out);
	a.text = STR_LIT("From the script");
	a.from = STR_NULL;
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n4@t", &out), 0);
	CHECK(strstr(buf_data(&out), "From: bob@example.com\r\nTo: <p@x.org>\r\nCc: <c@x.org>\r\n"
	                             "Subject: From the script\r\n") == buf_data(&out));
	CHECK(strstr(buf_data(&out), "h@x.org") == NULL);
	/* Without :message, the URI's; without either, the original's, or
	 * "New mail" alone when it has none (no "New mail: " with nothing after). */
	buf_reset(&out);
	a.text = STR_NULL;
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n5@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\r\nSubject: Uri\r\n") != NULL);
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:p@x.org"), ar, &m), 0);
	buf_reset(&out);
	CHECK_EQ_INT(sieve_notify_message(&a, &m, nosubj[0], strlen(nosubj[0]), STR_LIT("bob@example.com"),
	                                  "d", "n6@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\r\nSubject: New mail\r\n") != NULL);
	/* A display name the URI gave is shown with its address, UTF-8 in
	 * encoded words (as Pigeonhole's 'UTF-8 address' reads it back). */
	CHECK_EQ_INT(sieve_mailto_parse(STR_LIT("mailto:?to=G%C3%BCnther%20%3Cg@x.org%3E,p@x.org"
	                                        "&cc=%22Doe,%20Al%22%20%3Cal@x.org%3E"), ar, &m), 0);
	buf_reset(&out);
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n7@t", &out), 0);
	CHECK(strstr(buf_data(&out), "\r\nTo: =?utf-8?q?G=C3=BCnther?= <g@x.org>,\r\n\t<p@x.org>\r\n"
	                             "Cc: \"Doe, Al\" <al@x.org>\r\n") != NULL);
	/* RFC 5435 §3.8 / RFC 5436 §2.6: a notification's subject is cut at
	 * 256 characters (a character boundary, "…" last) as a vacation
	 * reply's is, whichever gives it: :message, the URI's subject=, or
	 * the original's after "New mail: ". tern sent all 1000 characters. */
	{
		static char xs[1001], ys[1001], uri2[1100], bigorig[1400];
		memset(xs, 'x', 1000);
		for (int i = 0; i < 500; i++)
			memcpy(ys + 2 * i, "\xc3\xa9", 2); /* é: 500 two-octet characters */
		snprintf(uri2, sizeof uri2, "mailto:p@x.org?subject=%s", xs);
		size_t ol = (size_t)snprintf(bigorig, sizeof bigorig, "From: ann@example.org\r\nSubject:");
		for (int i = 0; i < 125; i++)
			ol += (size_t)snprintf(bigorig + ol, sizeof bigorig - ol, " word%03d", i);
		snprintf(bigorig + ol, sizeof bigorig - ol, "\r\n\r\nhi\r\n");
		struct buf subj;
		buf_init(&subj, 8192);
		for (int i = 0; i < 4; i++) {
			CHECK_EQ_INT(sieve_mailto_parse(i == 2 ? str_c(uri2) : STR_LIT("mailto:p@x.org"), ar, &m), 0);
			memset(&a, 0, sizeof a);
			a.text = i == 0 ? str_c(xs) : i == 1 ? str_c(ys) : STR_NULL;
			const char *orig = i == 3 ? bigorig : base;
			buf_reset(&out);
			CHECK_EQ_INT(sieve_notify_message(&a, &m, orig, strlen(orig), STR_LIT("bob@example.com"),
			                                  "d", "n8@t", &out), 0);
			CHECK(max_line(&out) <= 78);
			reply_subject(buf_data(&out), &subj);
			CHECK(utf8_valid(buf_str(&subj)));
			CHECK_EQ_INT((int)utf8_chars(buf_str(&subj)), 256);
			CHECK(buf_len(&subj) >= 3 &&
			      memcmp(buf_data(&subj) + buf_len(&subj) - 3, "\xe2\x80\xa6", 3) == 0);
			if (i == 1)
				CHECK_EQ_INT((int)buf_len(&subj), 255 * 2 + 3);
			if (i == 3)
				CHECK(memcmp(buf_data(&subj), "New mail: word000 word001", 25) == 0);
		}
		/* 256 characters exactly stay whole. */
		memset(&a, 0, sizeof a);
		a.text = str_make(xs, 256);
		buf_reset(&out);
		CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
		                                  "n9@t", &out), 0);
		reply_subject(buf_data(&out), &subj);
		CHECK(buf_len(&subj) == 256 && memcmp(buf_data(&subj), xs, 256) == 0);
		buf_free(&subj);
		memset(&a, 0, sizeof a);
	}
	/* A mailto body= with a line no message may hold: quoted-printable. */
	static char uri[1400];
	snprintf(uri, sizeof uri, "mailto:p@x.org?body=%.1100s%%0Az", longline);
	CHECK_EQ_INT(sieve_mailto_parse(str_c(uri), ar, &m), 0);
	buf_reset(&out);
	CHECK_EQ_INT(sieve_notify_message(&a, &m, base, strlen(base), STR_LIT("bob@example.com"), "d",
	                                  "n3@t", &out), 0);
	CHECK(strstr(buf_data(&out), "Content-Transfer-Encoding: quoted-printable\r\n") != NULL);
	CHECK(max_line(&out) <= 78);
	buf_free(&out);
	arena_free(&ar);
	return unit_done("test_sieve_vacation");
}
