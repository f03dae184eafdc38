/*
 * test_mdn.c — disposition notification fields (mime/mdn.c): RFC 8098's
 * own example parsed, Disposition with comments, modifiers and any case,
 * the refusals (no Final-Recipient, no or a bad Disposition), Error and
 * extension fields kept in order up to their limits, a known field given
 * twice keeping the first; written and parsed back to the same values;
 * every prefix of RFC 8098's example (mdn_report_parse takes a complete
 * block, so this stands for the byte-at-a-time replay): none crashes and
 * only those holding the whole Disposition parse.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mdn.h"
#include "unit.h"

static int eq(struct str s, const char *c)
{
	return s.p && s.len == strlen(c) && !memcmp(s.p, c, s.len);
}

static const char EXAMPLE[] =
    "Reporting-UA: joes-pc.cs.example.com; Foomail 97.1\r\n"
    "Original-Recipient: rfc822;Joe_Recipient@example.com\r\n"
    "Final-Recipient: rfc822;Joe_Recipient@example.com\r\n"
    "Original-Message-ID: <199509192301.23456@example.org>\r\n"
    "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
    "\r\n";

static void test_example(void)
{
	struct arena *a = arena_new(0);
	struct mdn_report r;
	CHECK_EQ_INT(mdn_report_parse(EXAMPLE, sizeof EXAMPLE - 1, a, &r), 0);
	CHECK(eq(r.reporting_ua, "joes-pc.cs.example.com; Foomail 97.1"));
	CHECK(eq(r.original_recipient, "rfc822;Joe_Recipient@example.com"));
	CHECK(eq(r.final_recipient, "rfc822;Joe_Recipient@example.com"));
	CHECK(eq(r.original_message_id, "<199509192301.23456@example.org>"));
	CHECK(r.mdn_gateway.p == NULL);
	CHECK_EQ_INT(r.manual_action, 1);
	CHECK_EQ_INT(r.sent_manually, 1);
	CHECK_EQ_INT(r.type, MDN_DISPLAYED);
	CHECK_EQ_INT(r.nerrors, 0);
	CHECK_EQ_INT(r.next, 0);

	/* Written and read again: the same values. */
	struct buf b;
	struct mdn_report r2;
	buf_init(&b, 4096);
	CHECK_EQ_INT(mdn_report_write(&r, &b), 0);
	CHECK_EQ_INT(mdn_report_parse(buf_data(&b), buf_len(&b), a, &r2), 0);
	CHECK(eq(r2.reporting_ua, "joes-pc.cs.example.com; Foomail 97.1"));
	CHECK(eq(r2.final_recipient, "rfc822;Joe_Recipient@example.com"));
	CHECK(eq(r2.original_message_id, "<199509192301.23456@example.org>"));
	CHECK(r2.manual_action == 1 && r2.sent_manually == 1 && r2.type == MDN_DISPLAYED);
	buf_free(&b);

	/* Every prefix: no crash; the ones that cut Disposition off fail. */
	for (size_t n = 0; n < sizeof EXAMPLE - 1; n++) {
		char *p = malloc(n + 1);
		memcpy(p, EXAMPLE, n);
		int rc = mdn_report_parse(p, n, a, &r);
		size_t whole = (size_t)(strstr(EXAMPLE, "Disposition") - EXAMPLE) + 55;
		CHECK_EQ_INT(rc, n < whole ? -1 : 0);
		free(p);
	}
	arena_free(&a);
}

static void test_disposition(void)
{
	struct mdn_report r;
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("Automatic-Action (why) / mdn-SENT-automatically ;"
						 " Deleted / error, x-foo"), &r), 0);
	CHECK(r.manual_action == 0 && r.sent_manually == 0 && r.type == MDN_DELETED);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("manual-action/MDN-sent-manually;dispatched"), &r), 0);
	CHECK(r.manual_action == 1 && r.sent_manually == 1 && r.type == MDN_DISPATCHED);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("manual-action/MDN-sent-manually; read"), &r), -1);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("manual-action; displayed"), &r), -1);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("human-action/MDN-sent-manually; displayed"), &r), -1);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("manual-action/MDN-sent-manually; displayed x"), &r), -1);
	CHECK_EQ_INT(mdn_disposition_parse(str_c("manual-action/MDN-sent-manually; (unclosed"), &r), -1);
	CHECK_EQ_INT(mdn_disposition_parse(str_c(""), &r), -1);
}

static void test_refusals_and_limits(void)
{
	struct arena *a = arena_new(0);
	struct mdn_report r;
	static const char nofinal[] = "Disposition: manual-action/MDN-sent-manually; displayed\r\n";
	static const char nodisp[] = "Final-Recipient: rfc822; a@b.example\r\n";
	static const char baddisp[] = "Final-Recipient: rfc822; a@b.example\r\nDisposition: yes\r\n";
	CHECK_EQ_INT(mdn_report_parse(nofinal, sizeof nofinal - 1, a, &r), -1);
	CHECK_EQ_INT(mdn_report_parse(nodisp, sizeof nodisp - 1, a, &r), -1);
	CHECK_EQ_INT(mdn_report_parse(baddisp, sizeof baddisp - 1, a, &r), -1);

	struct buf in;
	buf_init(&in, 1 << 16);
	buf_append_c(&in, "Final-Recipient: rfc822; first@b.example\r\n"
			  "Final-Recipient: rfc822; second@b.example\r\n"
			  "Disposition: automatic-action/MDN-sent-automatically;\r\n processed/error\r\n"
			  "Bad Name: skipped\r\n"
			  "not a field line\r\n"
			  "X-Folded: one\r\n\ttwo\r\n");
	for (int i = 0; i < MDN_ERRORS_MAX + 2; i++)
		buf_printf(&in, "Error: e%d\r\n", i);
	for (int i = 0; i < MDN_EXT_MAX + 2; i++)
		buf_printf(&in, "X-E%d: v%d\r\n", i, i);
	CHECK_EQ_INT(mdn_report_parse(buf_data(&in), buf_len(&in), a, &r), 0);
	CHECK(eq(r.final_recipient, "rfc822; first@b.example"));
	CHECK(r.type == MDN_PROCESSED && r.manual_action == 0);
	CHECK_EQ_INT(r.nerrors, MDN_ERRORS_MAX);
	CHECK(eq(r.errors[0], "e0") && eq(r.errors[MDN_ERRORS_MAX - 1], "e7"));
	CHECK_EQ_INT(r.next, MDN_EXT_MAX);
	CHECK(eq(r.ext[0].name, "X-Folded") && eq(r.ext[0].value, "one two"));
	CHECK(eq(r.ext[1].name, "X-E0") && eq(r.ext[1].value, "v0"));

	/* Written back: controls made spaces, bad names left out. */
	struct mdn_report w;
	struct buf out;
	memset(&w, 0, sizeof w);
	w.final_recipient = str_c("rfc822; a@b.example");
	w.reporting_ua = str_c("ua\r\nInjected: yes");
	w.ext[0].name = str_c("Bad:Name");
	w.ext[0].value = str_c("x");
	w.ext[1].name = str_c("Disposition");
	w.ext[1].value = str_c("x");
	w.ext[2].name = str_c("X-Ok");
	w.ext[2].value = str_c("fine");
	w.next = 3;
	buf_init(&out, 4096);
	CHECK_EQ_INT(mdn_report_write(&w, &out), 0);
	CHECK_EQ_STR(arena_strndup(a, buf_data(&out), buf_len(&out)),
		     "Reporting-UA: ua  Injected: yes\r\nFinal-Recipient: rfc822; a@b.example\r\n"
		     "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n"
		     "X-Ok: fine\r\n");
	/* RFC 5322 §2.1.1: no line over 998 octets, whatever the client
	 * gave (a JMAP MDN's error strings, extension fields); words are
	 * folded at 78 and read back the same. */
	static char word[1500], words[1300];
	memset(word, 'e', sizeof word - 1);
	for (size_t i = 0; i + 1 < sizeof words; i++)
		words[i] = i % 10 == 9 ? ' ' : 'w';
	words[sizeof words - 2] = 'w';
	memset(&w, 0, sizeof w);
	w.final_recipient = str_c("rfc822; a@b.example");
	w.errors[0] = str_c(word);
	w.errors[1] = str_c(words);
	w.nerrors = 2;
	buf_reset(&out);
	CHECK_EQ_INT(mdn_report_write(&w, &out), 0);
	size_t line = 0, longest = 0, lines = 0;
	for (size_t i = 0; i < buf_len(&out); i++) {
		if (buf_data(&out)[i] == '\n') {
			line = 0;
			lines++;
		} else if (buf_data(&out)[i] != '\r' && ++line > longest) {
			longest = line;
		}
	}
	CHECK_EQ_INT((int)longest, 998);
	CHECK(lines > 15);
	struct mdn_report back;
	CHECK_EQ_INT(mdn_report_parse(buf_data(&out), buf_len(&out), a, &back), 0);
	CHECK_EQ_INT((int)back.nerrors, 2);
	CHECK_EQ_INT((int)back.errors[0].len, 998 - 7);
	CHECK(str_eq(back.errors[1], str_make(words, 998 - 7))); /* unfolded: as written */
	/* A buffer too small fails cleanly. */
	struct buf tiny;
	buf_init(&tiny, 10);
	CHECK_EQ_INT(mdn_report_write(&w, &tiny), -1);
	buf_free(&tiny);
	buf_free(&out);
	buf_free(&in);
	arena_free(&a);
}

int main(void)
{
	test_example();
	test_disposition();
	test_refusals_and_limits();
	return unit_done("test_mdn");
}
