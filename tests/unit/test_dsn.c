/*
 * test_dsn.c — RFC 3464 notices from dsn_build(): structure, per-message
 * and per-recipient fields, RET=HDRS vs FULL, the Status class agreeing
 * with the Action, CR/LF in inputs neutralised, the size limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "queue/dsn.h"
#include "unit.h"

static const char MSG[] = "From: alice@example.test\r\nTo: carol@remote.test\r\n"
			  "Subject: hello\r\n\r\nBody line\r\n.dot line\r\n";

static int has(const struct buf *b, const char *s)
{
	size_t n = strlen(s), len = buf_len(b);
	const char *p = buf_data(b);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

static size_t count(const struct buf *b, const char *s)
{
	size_t n = strlen(s), len = buf_len(b), c = 0;
	const char *p = buf_data(b);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			c++;
	return c;
}

/* The boundary parameter of the notice's Content-Type. */
static int boundary_of(const struct buf *b, char *out, size_t outsz)
{
	const char *p = buf_data(b), *end = p + buf_len(b);
	const char *q = memmem(p, buf_len(b), "boundary=\"", 10);
	if (!q)
		return -1;
	q += 10;
	const char *e = memchr(q, '"', (size_t)(end - q));
	if (!e || (size_t)(e - q) >= outsz)
		return -1;
	memcpy(out, q, (size_t)(e - q));
	out[e - q] = '\0';
	return 0;
}

/*
 * The notice mail.example.test writes to alice@example.test about MSG
 * for r[0..n), into b (1 MB of room): dsn_build's result.
 */
static int build_plain(const struct dsn_rcpt *r, size_t n, struct buf *b)
{
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .envid = "",
	    .arrival = 1700000000, .now = 1700000100, .msg = MSG, .msglen = sizeof MSG - 1,
	    .id = 7, .rcpts = r, .nrcpts = n,
	};
	buf_init(b, 1 << 20);
	return dsn_build(&in, b);
}

static void test_failure_headers_only(void)
{
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "rfc822;Carol@Remote.test", "550 5.1.1 no such user",
	     "mx.remote.test", DSN_FAILED, 0},
	    {"dave@remote.test", "", "4.4.1 mx.remote.test[127.0.0.2]: connection refused", "",
	     DSN_FAILED, 0},
	};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .envid = "ENV-1",
	    .arrival = 1700000000, .now = 1700000100, .ret_full = 0, .msg = MSG,
	    .msglen = sizeof MSG - 1, .id = 42, .rcpts = r, .nrcpts = 2,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>\r\n"));
	CHECK(has(&b, "To: <alice@example.test>\r\n"));
	CHECK(has(&b, "Subject: Undelivered Mail Returned to Sender\r\n"));
	CHECK(has(&b, "Auto-Submitted: auto-replied\r\n"));
	CHECK(has(&b, "Content-Type: multipart/report; report-type=delivery-status;"));
	CHECK(has(&b, "Content-Type: message/delivery-status\r\n"));
	CHECK(has(&b, "Reporting-MTA: dns; mail.example.test\r\n"));
	CHECK(has(&b, "Original-Envelope-Id: ENV-1\r\n"));
	CHECK(has(&b, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	CHECK(has(&b, "Final-Recipient: rfc822; carol@remote.test\r\n"));
	CHECK(has(&b, "Original-Recipient: rfc822;Carol@Remote.test\r\n"));
	CHECK(has(&b, "Action: failed\r\nStatus: 5.1.1\r\n"));
	CHECK(has(&b, "Remote-MTA: dns; mx.remote.test\r\n"));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	/* Our own temporary reason, now final: the class follows the action. */
	CHECK(has(&b, "Final-Recipient: rfc822; dave@remote.test\r\nAction: failed\r\n"
		      "Status: 5.4.1\r\n"));
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"));
	CHECK(has(&b, "Subject: hello\r\n"));
	CHECK(!has(&b, "Body line"));
	char bnd[128];
	CHECK(boundary_of(&b, bnd, sizeof bnd) == 0);
	CHECK(strncmp(bnd, "42.1700000100.", 14) == 0 && strlen(bnd) == 14 + 16 + 18);
	CHECK(strcmp(bnd + 30, "/mail.example.test") == 0);
	CHECK_EQ_INT(count(&b, bnd), 5); /* the header, three delimiters, the close */
	buf_free(&b);
}

/*
 * A returned message holding delimiter lines of the boundary one could
 * guess (entry id, time, host) does not end its part early: the boundary
 * carries a hash of the returned octets, which the octets cannot hold.
 */
static void test_boundary_not_in_message(void)
{
	static const char evil[] = "Subject: x\r\n\r\n--42.1700000100/mail.example.test\r\n"
				   "Content-Type: text/plain\r\n\r\nforged part\r\n"
				   "--42.1700000100/mail.example.test--\r\n";
	struct dsn_rcpt r[] = {{"carol@remote.test", "", "550 5.1.1 no", "", DSN_FAILED, 0}};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .envid = "",
	    .arrival = 1700000000, .now = 1700000100, .ret_full = 1, .msg = evil,
	    .msglen = sizeof evil - 1, .id = 42, .rcpts = r, .nrcpts = 1,
	};
	struct buf b, b2;
	char bnd[128], bnd2[128];
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(boundary_of(&b, bnd, sizeof bnd) == 0);
	CHECK_EQ_INT(count(&b, bnd), 5);
	/* Another message, another boundary; the same one, the same. */
	in.msglen--;
	buf_init(&b2, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b2), 0);
	CHECK(boundary_of(&b2, bnd2, sizeof bnd2) == 0 && strcmp(bnd, bnd2) != 0);
	in.msglen++;
	buf_reset(&b2);
	CHECK_EQ_INT(dsn_build(&in, &b2), 0);
	CHECK(buf_len(&b2) == buf_len(&b) && memcmp(buf_data(&b2), buf_data(&b), buf_len(&b)) == 0);
	/* A boundary is 70 characters at most (RFC 2046 §5.1.1), whatever
	 * the host's name and the entry's id: a 46-octet name made it 90. */
	in.hostname = "mx01.outbound.mail.somecompany-internal.example";
	in.id = UINT64_MAX;
	buf_reset(&b);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(boundary_of(&b, bnd, sizeof bnd) == 0);
	CHECK(strlen(bnd) <= 70);
	CHECK_EQ_INT(count(&b, bnd), 5);
	buf_free(&b);
	buf_free(&b2);
}

static void test_delay_and_full(void)
{
	struct dsn_rcpt r[] = {{"carol@remote.test", "", "451 4.3.0 later", "mx.remote.test",
				DSN_DELAYED, 0}};
	struct dsn_info in = {
	    .hostname = "h.test", .to = "alice@example.test\r\nBcc: x@y", .envid = "",
	    .arrival = 0, .now = 14400, .retry_until = 432000, .ret_full = 1, .msg = MSG,
	    .msglen = sizeof MSG - 1, .id = 7, .rcpts = r, .nrcpts = 1,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Subject: Delayed Mail (still being retried)\r\n"));
	CHECK(has(&b, "Action: delayed\r\nStatus: 4.3.0\r\n"));
	CHECK(has(&b, "Will-Retry-Until: Tue, 6 Jan 1970 00:00:00 +0000\r\n"));
	CHECK(!has(&b, "Original-Envelope-Id"));
	/* RET=FULL is for failures: a delay notice returns the header only. */
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"));
	CHECK(!has(&b, "Body line"));
	/* Nothing in it is undelivered for good. */
	CHECK(has(&b, "Content-Description: Headers of the Delayed Message\r\n"));
	CHECK(!has(&b, "Undelivered"));
	/* A CR LF smuggled into a field cannot start a header. */
	CHECK(!has(&b, "\r\nBcc: x@y"));
	buf_free(&b);

	/* Success, and a buffer too small. */
	r[0] = (struct dsn_rcpt){"carol@remote.test", "", "250 2.0.0 ok", "mx.remote.test",
				 DSN_RELAYED, 0};
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Subject: Successful Mail Delivery Report\r\n"));
	CHECK(has(&b, "Action: relayed\r\nStatus: 2.0.0\r\n"));
	/* Nor does a success notice carry the message (issue 28, finding 10). */
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"));
	CHECK(!has(&b, "message/rfc822") && !has(&b, "Body line"));
	CHECK(has(&b, "Content-Description: Headers of the Delivered Message\r\n"));
	CHECK(!has(&b, "Undelivered"));
	buf_free(&b);

	/* A failure notice returns it all when asked. */
	r[0].action = DSN_FAILED;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/rfc822\r\n"));
	CHECK(has(&b, "Content-Description: Undelivered Message\r\n"));
	CHECK(has(&b, "Body line\r\n.dot line\r\n"));
	buf_free(&b);
	buf_init(&b, 200);
	CHECK_EQ_INT(dsn_build(&in, &b), -1);
	buf_free(&b);
}

/* 1 when the notice's own header says Content-Transfer-Encoding: 8bit. */
static int top_cte_8bit(const struct buf *b)
{
	const char *p = buf_data(b);
	const char *end = memmem(p, buf_len(b), "\r\n\r\n", 4);
	const char *cte = memmem(p, buf_len(b), "\r\nContent-Transfer-Encoding: 8bit\r\n", 35);
	return end && cte && cte < end;
}

/*
 * RFC 6533: a notice naming a UTF-8 address (SMTPUTF8 mail) is
 * message/global-delivery-status with "utf-8" addresses and the UTF-8
 * header back as message/global-headers; ASCII ones keep RFC 3464's.
 */
static void test_utf8_global(void)
{
	static const char U8[] = "From: J\xc3\xb6rg <j\xc3\xb6rg@origin.test>\r\n"
				 "Subject: gr\xc3\xbc\xc3\x9f""e\r\n\r\nHallo.\r\n";
	struct dsn_rcpt r[] = {
	    {"m\xc3\xbcller@remote.test", "", "550 5.1.1 no such user", "mx.remote.test",
	     DSN_FAILED, 0},
	    {"carol@remote.test", "", "550 5.1.1 no such user", "mx.remote.test", DSN_FAILED, 0},
	};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "j\xc3\xb6rg@origin.test", .arrival = 1700000000,
	    .now = 1700000100, .msg = U8, .msglen = sizeof U8 - 1, .id = 7, .rcpts = r, .nrcpts = 2,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/global-delivery-status\r\n"));
	CHECK(!has(&b, "Content-Type: message/delivery-status"));
	/* report-type names the second part's subtype (RFC 6522 §3). */
	CHECK(has(&b, "Content-Type: multipart/report; report-type=global-delivery-status;"));
	/* Its parts are 8bit, and so is the multipart (RFC 2045 §6.4):
	 * the header said no encoding (7bit). */
	CHECK(top_cte_8bit(&b));
	CHECK(has(&b, "Final-Recipient: utf-8; m\xc3\xbcller@remote.test\r\n"));
	CHECK(has(&b, "Final-Recipient: rfc822; carol@remote.test\r\n"));
	CHECK(has(&b, "Content-Type: text/plain; charset=utf-8\r\n"));
	CHECK(has(&b, "Content-Type: message/global-headers\r\n"));
	CHECK(has(&b, "Subject: gr\xc3\xbc\xc3\x9f""e\r\n"));
	buf_reset(&b);
	in.ret_full = 1;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/global\r\n"));
	/* A UTF-8 sender: its To field and RCPT need SMTPUTF8 (and 8BITMIME). */
	CHECK_EQ_INT((int)dsn_needs(in.to, buf_data(&b), buf_len(&b)),
		     DSN_NEEDS_SMTPUTF8 | DSN_NEEDS_8BITMIME);
	/* An ASCII sender, a UTF-8 recipient: 8-bit parts under an ASCII
	 * header, BODY=8BITMIME alone. */
	buf_reset(&b);
	in.to = "joerg@origin.test";
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK_EQ_INT((int)dsn_needs(in.to, buf_data(&b), buf_len(&b)), DSN_NEEDS_8BITMIME);
	in.to = "j\xc3\xb6rg@origin.test";

	/* The same 8-bit header for ASCII addresses: RFC 3464 as before. */
	buf_reset(&b);
	r[0].addr = "mueller@remote.test";
	in.to = "joerg@origin.test";
	in.ret_full = 0;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/delivery-status\r\n"));
	CHECK(has(&b, "Content-Type: multipart/report; report-type=delivery-status;"));
	CHECK(!top_cte_8bit(&b));
	CHECK(has(&b, "Content-Type: text/plain; charset=us-ascii\r\n"));
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"));
	CHECK(!has(&b, "utf-8;"));
	/* A 7-bit notice asks nothing of the next hop. */
	CHECK_EQ_INT((int)dsn_needs(in.to, buf_data(&b), buf_len(&b)), 0);
	buf_free(&b);
}

static int all_7bit(const struct buf *b)
{
	for (size_t i = 0; i < buf_len(b); i++)
		if ((unsigned char)buf_data(b)[i] & 0x80)
			return 0;
	return 1;
}

/*
 * RFC 6152 §3: a notice may reach a server without 8BITMIME, so an 8-bit
 * original returns as 7 bit (ASCII addresses): its 8-bit parts made
 * quoted-printable inside message/rfc822 (an 8-bit Subject in RFC 2047
 * words), or its header alone as quoted-printable text/rfc822-headers
 * when another field of it is 8-bit.
 */
static void test_8bit_original_returns_7bit(void)
{
	static const char MP[] = "From: alice@example.test\r\nSubject: menu\r\nMIME-Version: 1.0\r\n"
				 "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
				 "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 = cr\xc3\xa8me \r\n"
				 "--b1\r\nContent-Type: text/plain\r\n\r\nplain ascii\r\n--b1--\r\n";
	static const char H8[] = "From: alice@example.test\r\nSubject: caf\xc3\xa9\r\n\r\n"
				 "cr\xc3\xa8me\r\n";
	struct dsn_rcpt r[] = {{"carol@remote.test", "", "550 5.1.1 no such user",
				"mx.remote.test", DSN_FAILED, 0}};
	struct dsn_info in = {
	    .hostname = "h.test", .to = "alice@example.test", .arrival = 0, .now = 100,
	    .ret_full = 1, .msg = MP, .msglen = sizeof MP - 1, .id = 9, .rcpts = r, .nrcpts = 1,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b));
	CHECK(has(&b, "Content-Type: message/rfc822\r\n\r\nFrom: alice@example.test\r\n"));
	CHECK(!has(&b, "8bit"));
	CHECK(has(&b, "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		      "caf=C3=A9 =3D cr=C3=A8me=20\r\n--b1\r\n"));
	CHECK(has(&b, "--b1\r\nContent-Type: text/plain\r\n\r\nplain ascii\r\n--b1--\r\n"));

	/* An 8-bit unstructured field takes RFC 2047 words (RFC 5322
	 * §3.6.5): the whole message still returns. */
	buf_reset(&b);
	in.msg = H8;
	in.msglen = sizeof H8 - 1;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b));
	CHECK(has(&b, "Content-Type: message/rfc822\r\n\r\nMIME-Version: 1.0\r\n"
		      "From: alice@example.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"));
	CHECK(has(&b, "\r\n\r\ncr=C3=A8me\r\n"));

	/* Any other 8-bit field (an address) cannot be converted: the
	 * header alone, as text. */
	static const char H8F[] = "From: J\xc3\xb6rg <alice@example.test>\r\nSubject: caf\xc3\xa9\r\n"
				  "\r\ncr\xc3\xa8me\r\n";
	buf_reset(&b);
	in.msg = H8F;
	in.msglen = sizeof H8F - 1;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b));
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		      "From: J=C3=B6rg <alice@example.test>\r\nSubject: caf=C3=A9\r\n"));
	CHECK(!has(&b, "message/rfc822") && !has(&b, "cr=C3=A8me"));

	/* Long 8-bit lines are broken softly within 76 columns. */
	char big[600];
	int k = snprintf(big, sizeof big, "Subject: long\r\n\r\n");
	for (int i = 0; i < 150; i++)
		k += snprintf(big + k, sizeof big - (size_t)k, "\xc3\xa9");
	snprintf(big + k, sizeof big - (size_t)k, "\r\n");
	buf_reset(&b);
	in.msg = big;
	in.msglen = strlen(big);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b) && has(&b, "=C3=A9=\r\n=C3=A9"));
	/* Not MIME before, so it says it is now (RFC 2045 §4), once; and
	 * its UTF-8 text is named so (the default is US-ASCII, §5.2). */
	CHECK(has(&b, "Content-Type: message/rfc822\r\n\r\nMIME-Version: 1.0\r\nSubject: long\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
	size_t col = 0, widest = 0;
	for (size_t i = 0; i < buf_len(&b); i++) {
		col = buf_data(&b)[i] == '\n' ? 0 : col + 1;
		widest = col > widest ? col : widest;
	}
	CHECK(widest <= 77); /* 76 and the CR */
	/* 8-bit text that is not UTF-8 (Latin-1) gets no charset named:
	 * a guess would be worse than none. */
	static const char LATIN1[] = "Subject: latin\r\n\r\ncaf\xe9\r\n";
	buf_reset(&b);
	in.msg = LATIN1;
	in.msglen = sizeof LATIN1 - 1;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b) && has(&b, "Subject: latin\r\nContent-Transfer-Encoding: "
					"quoted-printable\r\n\r\ncaf=E9\r\n"));
	in.msg = H8;
	in.msglen = sizeof H8 - 1;

	/* RET=HDRS (and every delay notice) the same. */
	buf_reset(&b);
	in.ret_full = 0;
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b));
	CHECK(has(&b, "Subject: caf=C3=A9\r\n"));

	/* A remote's 8-bit reply text does not make the ASCII report (and
	 * its us-ascii text part) 8 bit: such octets become '?'. */
	buf_reset(&b);
	in.msg = MSG;
	in.msglen = sizeof MSG - 1;
	r[0].status = "550 5.1.1 unbekannt: M\xc3\xbcller";
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(all_7bit(&b));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 unbekannt: M??ller\r\n"));
	buf_free(&b);
}

/*
 * A UTF-8 notice (RFC 6533) stays UTF-8: a remote's reply stored cut at
 * SQ_STATUS_MAX octets inside a character, or holding octets that are no
 * UTF-8, gets '?' for each of those, its characters kept. The notice
 * carried the cut sequence as it was, and the stray octets too, in a
 * message/global-delivery-status part and a charset=utf-8 text.
 */
static void test_utf8_reply_cut(void)
{
	static const char U8[] = "From: J\xc3\xb6rg <j\xc3\xb6rg@origin.test>\r\n"
				 "Subject: hi\r\n\r\nHallo.\r\n";
	static char status[513];
	int n = snprintf(status, sizeof status, "550 5.1.1 M\xc3\xbcller \xff\xfe unbekannt ");
	while (n < 509)
		n += snprintf(status + n, sizeof status - (size_t)n, "\xc3\xa4");
	status[n++] = '\xe2'; /* a 3-octet character cut after its first two */
	status[n++] = '\x82';
	status[n] = '\0';
	struct dsn_rcpt r[] = {{"m\xc3\xbcller@remote.test", "", status, "mx.remote.test", DSN_FAILED, 0}};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "j\xc3\xb6rg@origin.test", .arrival = 1700000000,
	    .now = 1700000100, .msg = U8, .msglen = sizeof U8 - 1, .id = 7, .rcpts = r, .nrcpts = 1,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/global-delivery-status\r\n"));
	CHECK(utf8_valid(str_make(buf_data(&b), buf_len(&b))));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 M\xc3\xbcller ?? unbekannt \xc3\xa4"));
	CHECK(has(&b, "\xc3\xa4??\r\n"));
	/* An ASCII notice has '?' for each 8-bit octet, as before. */
	r[0].addr = "mueller@remote.test";
	in.to = "joerg@origin.test";
	in.msg = MSG;
	in.msglen = sizeof MSG - 1;
	buf_reset(&b);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 M??ller ?? unbekannt ????"));
	buf_free(&b);
}

/*
 * RFC 5322 §2.1.1: no line of the notice passes 998 octets, though the
 * human-readable line names a 320-octet address and a 257-octet host
 * and quotes a remote's reply of 511 octets: wrapped at white space.
 */
static void test_long_reply_wrapped(void)
{
	static char addr[330], host[260], status[512];
	memset(addr, 'a', 64);
	addr[64] = '@';
	for (size_t i = 65; i < 318; i++)
		addr[i] = i % 60 == 0 ? '.' : 'd';
	memcpy(addr + 318, ".t", 3);
	for (size_t i = 0; i < 250; i++)
		host[i] = i % 50 == 49 ? '.' : 'h';
	memcpy(host + 250, "mx.test", 8);
	memcpy(status, "550 5.7.1 ", 10);
	for (size_t i = 10; i < 511; i++)
		status[i] = i < 300 && i % 7 == 0 ? ' ' : 'w';
	struct dsn_rcpt r[] = {{addr, "", status, host, DSN_FAILED, 0}};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .arrival = 1700000000,
	    .now = 1700000100, .msg = MSG, .msglen = sizeof MSG - 1, .id = 7, .rcpts = r,
	    .nrcpts = 1,
	};
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	size_t line = 0, longest = 0;
	for (size_t i = 0; i < buf_len(&b); i++) {
		if (buf_data(&b)[i] == '\n')
			line = 0;
		else if (buf_data(&b)[i] != '\r' && ++line > longest)
			longest = line;
	}
	CHECK(longest <= 998);
	/* The human-readable part: the reply's words, wrapped. */
	CHECK(longest > 800); /* wrapped only where it had to be */
	CHECK(has(&b, " said: 550 5.7.1 w"));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.7.1 "));
	buf_free(&b);
}

/*
 * The lifetime's end: our 5.4.7 quotes the last 4xx a remote gave. The
 * notice's Diagnostic-Code is that reply (RFC 3464 §2.3.6) and the text
 * says the host said the reply, not our verdict; a verdict of ours with
 * no reply in it (over the remote's SIZE) is not put in the host's mouth.
 */
static void test_expired_keeps_the_last_reply(void)
{
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "",
	     "5.4.7 delivery time expired" DSN_LAST_ERROR "450 4.2.0 mailbox busy",
	     "mx0.remote.test", DSN_FAILED, 0},
	    {"dave@remote.test", "", "5.3.4 message size 3000 exceeds the remote's limit 1000",
	     "mx1.remote.test", DSN_FAILED, 1700000050},
	    {"erin@remote.test", "",
	     "5.4.7 delivery time expired" DSN_LAST_ERROR "4.4.1 connection refused", "",
	     DSN_FAILED, 0},
	};
	struct buf b;
	CHECK_EQ_INT(build_plain(r, 3, &b), 0);
	CHECK(has(&b, "Final-Recipient: rfc822; carol@remote.test\r\nAction: failed\r\n"
		      "Status: 5.4.7\r\nRemote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 450 4.2.0 mailbox busy\r\n"));
	CHECK(has(&b, "<carol@remote.test>: 5.4.7 delivery time expired; last error: host "
		      "mx0.remote.test said: 450 4.2.0 mailbox busy\r\n"));
	CHECK(has(&b, "Status: 5.3.4\r\nRemote-MTA: dns; mx1.remote.test\r\nLast-Attempt-Date"));
	CHECK(has(&b, "<dave@remote.test>: 5.3.4 message size 3000 exceeds the remote's limit "
		      "1000 (host mx1.remote.test)\r\n"));
	CHECK(!has(&b, "said: 5."));
	CHECK(has(&b, "<erin@remote.test>: 5.4.7 delivery time expired; last error: 4.4.1 "
		      "connection refused\r\n"));
	CHECK_EQ_INT(count(&b, "Diagnostic-Code:"), 1);
	buf_free(&b);
}

/*
 * A reply that ended a session carries the client's note of when it came
 * ("(greeting from HOST[IP])"): the Diagnostic-Code is the remote's words
 * alone (RFC 3464 §2.3.6), the text part keeps the note. A remote's own
 * parenthesis, or one naming another host, stays.
 */
static void test_session_reply_without_our_note(void)
{
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "",
	     "554 5.7.1 no service (greeting from mx0.remote.test[192.0.2.1])", "mx0.remote.test",
	     DSN_FAILED, 0},
	    {"dave@remote.test", "",
	     "5.4.7 delivery time expired" DSN_LAST_ERROR
	     "421 4.3.2 closing (in reply to RCPT TO, from mx0.remote.test[2001:db8::1])",
	     "mx0.remote.test", DSN_FAILED, 0},
	    {"erin@remote.test", "", "550 5.7.1 blocked (see mx0.remote.test[192.0.2.1] docs)",
	     "mx0.remote.test", DSN_FAILED, 0},
	    {"finn@remote.test", "", "550 5.7.1 listed (by mx9.other.test[192.0.2.9])",
	     "mx0.remote.test", DSN_FAILED, 0},
	};
	struct buf b;
	CHECK_EQ_INT(build_plain(r, 4, &b), 0);
	CHECK(has(&b, "Remote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 554 5.7.1 no service\r\n"));
	CHECK(has(&b, "Status: 5.4.7\r\nRemote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 421 4.3.2 closing\r\n"));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.7.1 blocked (see mx0.remote.test[192.0.2.1] "
		      "docs)\r\n"));
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.7.1 listed (by mx9.other.test[192.0.2.9])\r\n"));
	CHECK(has(&b, "<carol@remote.test>: host mx0.remote.test said: 554 5.7.1 no service "
		      "(greeting from mx0.remote.test[192.0.2.1])\r\n"));
	buf_free(&b);
}

/*
 * An 8-bit original under RET=FULL whose 7-bit form would not fit in the
 * notice: its header comes back, and the conversion stopped at the
 * notice's room (it held the whole quoted-printable form, three times
 * the original, only to fail: dsn_build returned -1 with 2 MB of "é"
 * lines and 1 MB of room).
 */
static void test_8bit_full_too_big_returns_its_header(void)
{
	static const char head[] = "From: alice@example.test\r\nSubject: big\r\n"
				   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
				   "Content-Transfer-Encoding: 8bit\r\n\r\n";
	size_t len = sizeof head - 1 + 2 * 1024 * 1024;
	char *msg = malloc(len);
	CHECK(msg != NULL);
	if (!msg)
		return;
	memcpy(msg, head, sizeof head - 1);
	for (size_t i = sizeof head - 1; i < len; i++) {
		size_t k = (i - (sizeof head - 1)) % 78;
		msg[i] = k == 76 ? '\r' : k == 77 ? '\n' : (k % 2 == 0 ? (char)0xc3 : (char)0xa9);
	}
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "", "550 5.1.1 no such user", "mx.remote.test", DSN_FAILED, 0},
	};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .envid = "",
	    .arrival = 1700000000, .now = 1700000100, .ret_full = 1, .msg = msg, .msglen = len,
	    .id = 9, .rcpts = r, .nrcpts = 1,
	};
	struct buf b;
	buf_init(&b, 1024 * 1024);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: text/rfc822-headers\r\n"));
	CHECK(has(&b, "Subject: big\r\n"));
	CHECK(!has(&b, "message/rfc822"));
	buf_free(&b);
	free(msg);
}

/*
 * RET=FULL returns the whole message up to DSN_RETURN_MAX; above it the
 * header alone, the text part saying how big the message was (an 8 MB
 * message made an 8.39 MB notice, over many providers' limits). A UTF-8
 * header comes back as message/global-headers (RFC 6533 §6.3).
 */
static void test_full_over_the_limit_returns_its_header(void)
{
	static const char head[] = "From: alice@example.test\r\nSubject: big\r\n\r\n";
	size_t len = DSN_RETURN_MAX + 1;
	char *msg = malloc(len);
	CHECK(msg != NULL);
	if (!msg)
		return;
	memcpy(msg, head, sizeof head - 1);
	for (size_t i = sizeof head - 1; i < len; i++) {
		size_t k = (i - (sizeof head - 1)) % 78;
		msg[i] = k == 76 ? '\r' : k == 77 ? '\n' : 'x';
	}
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "", "550 5.1.1 no such user", "mx.remote.test", DSN_FAILED, 0},
	};
	struct dsn_info in = {
	    .hostname = "mail.example.test", .to = "alice@example.test", .envid = "",
	    .arrival = 1700000000, .now = 1700000100, .ret_full = 1, .msg = msg, .msglen = len,
	    .id = 10, .rcpts = r, .nrcpts = 1,
	};
	char said[160];
	snprintf(said, sizeof said, "Your message was %zu bytes, more than the %u a notice\r\n"
		 "returns: only its header is attached below.\r\n", len, (unsigned)DSN_RETURN_MAX);
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Description: Undelivered Message Headers\r\n"
		      "Content-Type: text/rfc822-headers\r\n"));
	CHECK(has(&b, "Subject: big\r\n"));
	CHECK(!has(&b, "message/rfc822") && !has(&b, "xxxxxxxx"));
	CHECK(has(&b, said));
	CHECK(buf_len(&b) < 4096);
	buf_free(&b);

	/* One octet less: all of it, and no such sentence. */
	in.msglen = len - 1;
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/rfc822\r\n"));
	CHECK(has(&b, "xxxxxxxx"));
	CHECK(!has(&b, "only its header"));
	buf_free(&b);

	/* A UTF-8 header to a UTF-8 sender: message/global-headers. */
	static const char uhead[] = "From: j\xc3\xb6rg@example.test\r\nSubject: gr\xc3\xbc\xc3\x9f"
				    "e\r\n\r\n";
	memcpy(msg, uhead, sizeof uhead - 1);
	in.msglen = len;
	in.to = "j\xc3\xb6rg@example.test";
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(dsn_build(&in, &b), 0);
	CHECK(has(&b, "Content-Type: message/global-headers\r\n"));
	CHECK(has(&b, "Subject: gr\xc3\xbc\xc3\x9f" "e\r\n"));
	CHECK(!has(&b, "message/global\r\n") && !has(&b, "xxxxxxxx"));
	CHECK(has(&b, "only its header is attached below"));
	buf_free(&b);
	free(msg);
}

/*
 * A 2xx or 3xx where it settles nothing is deferred with a status of
 * ours before the reply ("4.5.0 unexpected reply: 250 ..."): the reply
 * is still the remote's, given as the Diagnostic-Code, also when the
 * lifetime's end quotes it.
 */
static void test_unexpected_reply_is_the_diagnostic(void)
{
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "", "4.5.0 unexpected reply: 250 2.0.0 ok", "mx0.remote.test",
	     DSN_FAILED, 0},
	    {"dave@remote.test", "",
	     "5.4.7 delivery time expired" DSN_LAST_ERROR "4.5.0 unexpected reply: 354 go ahead",
	     "mx0.remote.test", DSN_FAILED, 0},
	};
	struct buf b;
	CHECK_EQ_INT(build_plain(r, 2, &b), 0);
	CHECK(has(&b, "Status: 5.5.0\r\nRemote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 250 2.0.0 ok\r\n"));
	CHECK(has(&b, "Status: 5.4.7\r\nRemote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 354 go ahead\r\n"));
	CHECK(has(&b, "<carol@remote.test>: 4.5.0 unexpected reply: host mx0.remote.test said: "
		      "250 2.0.0 ok\r\n"));
	buf_free(&b);

	r[0].action = DSN_DELAYED;
	CHECK_EQ_INT(build_plain(r, 1, &b), 0);
	CHECK(has(&b, "Action: delayed\r\nStatus: 4.5.0\r\nRemote-MTA: dns; mx0.remote.test\r\n"
		      "Diagnostic-Code: smtp; 250 2.0.0 ok\r\n"));
	buf_free(&b);
}

/*
 * Last-Attempt-Date is when delivery to the recipient was last tried
 * (RFC 3464 §2.3.7), not when the notice is written; a recipient not
 * tried in the attempt that made the notice (a dead destination, a
 * Deliver By return) has none, the queue keeping no time of earlier
 * attempts. Before, every block said the notice's own time.
 */
static void test_last_attempt_is_the_attempt(void)
{
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "", "550 5.1.1 no such user", "mx0.remote.test", DSN_FAILED,
	     1700000040},
	    {"dave@remote.test", "", "5.4.7 delivery time expired (Deliver By)", "", DSN_FAILED,
	     0},
	};
	struct buf b;
	CHECK_EQ_INT(build_plain(r, 2, &b), 0);
	CHECK(has(&b, "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
		      "Last-Attempt-Date: Tue, 14 Nov 2023 22:14:00 +0000\r\n"));
	CHECK(has(&b, "Status: 5.4.7\r\n\r\n"));
	CHECK_EQ_INT(count(&b, "Last-Attempt-Date:"), 1);
	CHECK(!has(&b, "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000"));
	buf_free(&b);
}

/*
 * The text part says what happened to the recipients it lists, and only
 * that: a failure notice said "Your message was successfully delivered
 * to the destination(s) listed below." under its apology (every failure
 * notice not cut to its header did). One notice may list failed, delayed
 * and relayed recipients (a round's outcome): a paragraph for each.
 */
static void test_text_follows_the_actions(void)
{
	static const char sorry[] = "could not\r\nbe delivered to one or more recipients";
	static const char later[] = "Your message could not be delivered for some time.";
	static const char done[] = "Your message was successfully delivered";
	struct dsn_rcpt r[] = {
	    {"carol@remote.test", "", "550 5.1.1 no such user", "mx.remote.test", DSN_FAILED, 0},
	    {"dave@remote.test", "", "451 4.3.0 later", "mx.remote.test", DSN_DELAYED, 0},
	    {"erin@remote.test", "", "250 2.0.0 ok", "mx.remote.test", DSN_RELAYED, 0},
	};
	struct buf b;
	CHECK_EQ_INT(build_plain(r, 1, &b), 0);
	CHECK(has(&b, sorry) && !has(&b, later) && !has(&b, done));
	buf_free(&b);
	CHECK_EQ_INT(build_plain(r + 1, 1, &b), 0);
	CHECK(!has(&b, sorry) && has(&b, later) && !has(&b, done));
	buf_free(&b);
	CHECK_EQ_INT(build_plain(r + 2, 1, &b), 0);
	CHECK(!has(&b, sorry) && !has(&b, later) && has(&b, done));
	buf_free(&b);
	CHECK_EQ_INT(build_plain(r, 3, &b), 0);
	CHECK(has(&b, sorry) && has(&b, later) && has(&b, done));
	buf_free(&b);
}

int main(void)
{
	test_text_follows_the_actions();
	test_last_attempt_is_the_attempt();
	test_full_over_the_limit_returns_its_header();
	test_unexpected_reply_is_the_diagnostic();
	test_8bit_full_too_big_returns_its_header();
	test_session_reply_without_our_note();
	test_expired_keeps_the_last_reply();
	test_8bit_original_returns_7bit();
	test_long_reply_wrapped();
	test_utf8_reply_cut();
	test_failure_headers_only();
	test_delay_and_full();
	test_boundary_not_in_message();
	test_utf8_global();
	return unit_done("test_dsn");
}
