/*
 * test_mime_search.c — which text IMAP SEARCH BODY/TEXT and JMAP's text
 * filters look in (mime_search.h): an HTML part is searched as the text
 * a reader sees (no markup, references decoded, no script or style), in
 * whatever charset and transfer encoding it comes, and a part longer than
 * the piece mime_search converts at a time reads as if reduced whole; a
 * format=flowed part is searched with its soft line breaks joined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_decode.h"
#include "mime/mime_html.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "unit.h"

/* 1 when BODY needle finds msg; TEXT as well when text is set. */
static int found(const char *msg, const char *needle, int text)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;
	struct mime_search sm;
	char n[256];
	size_t nl = strlen(needle);
	memcpy(n, needle, nl);
	nl = mime_search_fold(n, nl);
	mime_tree_parse(msg, strlen(msg), a, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	int hit = mime_search_body(&sm, str_make(n, nl)) ||
		  (text && mime_search_header(&sm, STR_NULL, str_make(n, nl)));
	mime_search_clear(&sm);
	arena_free(&a);
	return hit;
}

#define HTML_HDR "From: a@example.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n"

static const char html_msg[] =
	HTML_HDR "Content-Type: text/html; charset=utf-8\r\n\r\n"
	"<!DOCTYPE html><html><head><title>T</title>\r\n"
	"<style>div.x { color: red } .nbspclass {}</style>\r\n"
	"<script>var secretScript = 1;</script></head>\r\n"
	"<body><div class=\"x\" style=\"margin:0\">\r\n"
	"<p><b>Hel</b>lo caf&eacute; na&#xEF;ve &#8364;5 a&nbsp;b &lt;tag&gt;</p>\r\n"
	"<p>one</p><p>two</p><!-- a comment word -->\r\n"
	"<a href=\"https://example.test/linkpath\">click</a></div></body></html>\r\n";

static void test_html(void)
{
	/* What a reader sees is found... */
	CHECK(found(html_msg, "hello", 0));
	CHECK(found(html_msg, "HELLO CAF\xc3\x89", 0));
	CHECK(found(html_msg, "na\xc3\xafve \xe2\x82\xac" "5", 0));
	CHECK(found(html_msg, "a b <tag>", 0));
	CHECK(found(html_msg, "click", 0));
	CHECK(found(html_msg, "one", 0) && found(html_msg, "two", 0));
	/* ...the markup, the style, the script and the comment are not. */
	CHECK(!found(html_msg, "div", 0));
	CHECK(!found(html_msg, "nbsp", 0));
	CHECK(!found(html_msg, "eacute", 0));
	CHECK(!found(html_msg, "<b>", 0));
	CHECK(!found(html_msg, "style", 0));
	CHECK(!found(html_msg, "secretscript", 0));
	CHECK(!found(html_msg, "comment word", 0));
	CHECK(!found(html_msg, "linkpath", 0));
	CHECK(!found(html_msg, "margin", 0));
	/* Blocks do not run together. */
	CHECK(!found(html_msg, "onetwo", 0));
	const char *blocks = HTML_HDR "Content-Type: text/html\r\n\r\n"
			     "<h5>Title</h5>text<dl><dt>Term</dt><dd>meaning</dd></dl>"
			     "<section>one</section><footer>two</footer>in<span>line</span>\r\n";
	CHECK(found(blocks, "title", 0) && found(blocks, "inline", 0));
	CHECK(!found(blocks, "titletext", 0) && !found(blocks, "textterm", 0));
	CHECK(!found(blocks, "termmeaning", 0) && !found(blocks, "onetwo", 0));
	/* TEXT: the header is still searched as it is. */
	CHECK(found(html_msg, "text/html", 1));
	CHECK(!found(html_msg, "div", 1));

	/* HTML 4's named references: accents as Spanish, Portuguese and
	 * French mail writes them; names are case-sensitive. */
	const char *ent = HTML_HDR "Content-Type: text/html\r\n\r\n"
			  "<p>Espa&ntilde;a, S&atilde;o Paulo, &Eacute;t&eacute; &agrave; "
			  "M&uuml;nchen &OElig;uvre &frac12; &Ntilde;</p>\r\n";
	CHECK(found(ent, "espa\xc3\xb1" "a, s\xc3\xa3o paulo", 0));
	CHECK(found(ent, "\xc3\xa9t\xc3\xa9 \xc3\xa0 m\xc3\xbcnchen", 0));
	CHECK(found(ent, "\xc5\x93uvre \xc2\xbd \xc3\xb1", 0));
	CHECK(!found(ent, "ntilde", 0) && !found(ent, "oelig", 0));

	/* Latin-1, quoted-printable, a soft line break inside a word and
	 * one inside a reference. */
	const char *qp =
		HTML_HDR "Content-Type: text/html; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"<p>Cr=E8me br=FBl=E9e, <i>ver</i>y gr=\r\nand, d&eacu=\r\nte;j=E0 vu</p>\r\n";
	CHECK(found(qp, "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e", 0));
	CHECK(found(qp, "very grand", 0));
	CHECK(found(qp, "d\xc3\xa9j\xc3\xa0 vu", 0));
	CHECK(!found(qp, "<p>", 0));

	/* Base64, its line breaks inside words, in a multipart/alternative
	 * beside a plain part, and inside an attached message. */
	const char *b64 =
		HTML_HDR "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
		"--o\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
		"--a\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
		"--a\r\nContent-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		/* <p>Sehr <b>geehrte</b> Dam&#101;n</p> */
		"PHA+U2VociA8Yj5nZWVo\r\ncnRlPC9iPiBEYW0mIzEwMTtuPC9wPg==\r\n"
		"--a--\r\n"
		"--o\r\nContent-Type: message/rfc822\r\n\r\n"
		"Subject: inner\r\nContent-Type: text/html\r\n\r\n"
		"<div>inner<span>most</span> text</div>\r\n"
		"--o--\r\n";
	CHECK(found(b64, "sehr geehrte damen", 0));
	CHECK(found(b64, "plain words", 0));
	CHECK(found(b64, "innermost text", 0));
	CHECK(!found(b64, "span", 0));
	CHECK(!found(b64, "div", 0));
	CHECK(found(b64, "subject: inner", 1));
}

/*
 * An HTML part of several pieces (mime_search converts PART_CHUNK octets
 * at a time): its search text is the whole part reduced at once, tags,
 * references and UTF-8 characters cut anywhere between the pieces.
 */
static void test_html_long(void)
{
	struct buf body, msg, want;
	buf_init(&body, 1u << 20);
	buf_init(&msg, 2u << 20);
	buf_init(&want, 2u << 20);
	static const char *const units[] = {
		"<b>Hel</b>lo ", "caf&eacute; ", "\xe2\x82\xac&#8364; ", "<a href=\"x/y\">k</a>",
		"<p>para</p>", "<!-- c -->", "&amp;&lt;", " ",
	};
	/* one long line: cuts at octets below 0x30, such as '/', '&' and ' ' */
	for (unsigned i = 0; buf_len(&body) < 300000; i++)
		buf_append_c(&body, units[(i * 7 + i / 3) % 8]);
	buf_printf(&msg, HTML_HDR "Content-Type: text/html; charset=utf-8\r\n\r\n%.*s\r\n",
		   (int)buf_len(&body), buf_data(&body));

	struct mime_html h;
	mime_html_init(&h, &want, &want, NULL, NULL);
	mime_html_feed(&h, buf_data(&body), buf_len(&body));
	mime_html_feed(&h, "\r\n", 2);
	mime_html_finish(&h);
	buf_append(&want, "\n", 1);

	struct arena *a = arena_new(0);
	struct mime_tree t;
	struct mime_search sm;
	mime_tree_parse(buf_data(&msg), buf_len(&msg), a, &t);
	mime_search_init(&sm, buf_data(&msg), buf_len(&msg), &t);
	sm.keep = 1;
	struct str got = mime_search_body_text(&sm);
	CHECK_EQ_INT(got.len, buf_len(&want));
	CHECK(got.len == buf_len(&want) && memcmp(got.p, buf_data(&want), got.len) == 0);
	CHECK(!memmem(got.p, got.len, "<b>", 3) && !memmem(got.p, got.len, "eacute", 6));
	mime_search_clear(&sm);
	arena_free(&a);
	buf_free(&body);
	buf_free(&msg);
	buf_free(&want);
}

/* The body text mime_search builds of msg is exactly want. */
static void check_body_text(const struct buf *msg, const struct buf *want)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;
	struct mime_search sm;
	mime_tree_parse(buf_data(msg), buf_len(msg), a, &t);
	mime_search_init(&sm, buf_data(msg), buf_len(msg), &t);
	sm.keep = 1;
	struct str got = mime_search_body_text(&sm);
	CHECK_EQ_INT(got.len, buf_len(want));
	CHECK(got.len == buf_len(want) && memcmp(got.p, buf_data(want), got.len) == 0);
	mime_search_clear(&sm);
	arena_free(&a);
}

/* A long UTF-16 part (RFC 2781) is cut for conversion at even octets
 * and never inside a surrogate pair, and its BOM's order holds for every
 * piece: the text is what converting it whole gives. */
static void test_utf16_long(void)
{
	struct buf units, msg, want;
	buf_init(&units, 1u << 20);
	buf_init(&msg, 2u << 20);
	buf_init(&want, 1u << 20);
	buf_append(&units, "\xFF\xFE", 2); /* little-endian by its BOM */
	for (unsigned i = 0; buf_len(&units) < 300000; i++) {
		/* "a", U+1F600 (a pair), "é", and every 7th time "\n" */
		buf_append(&units, "a\0\x3D\xD8\x00\xDE\xE9\0", 8);
		buf_append_c(&want, "a\xF0\x9F\x98\x80\xC3\xA9");
		if (i % 7 == 6) {
			buf_append(&units, "\n\0", 2);
			buf_append(&want, "\n", 1);
		}
	}
	buf_append(&want, "\n", 1);
	buf_append_c(&msg, HTML_HDR "Content-Type: text/plain; charset=UTF-16\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n");
	mime_base64_lines(&msg, buf_data(&units), buf_len(&units));

	check_body_text(&msg, &want);
	buf_free(&units);
	buf_free(&msg);
	buf_free(&want);
}

/* The body text of msg (kept, unfolded) into out. */
static void body_text(const char *msg, char *out, size_t cap)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;
	struct mime_search sm;
	mime_tree_parse(msg, strlen(msg), a, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	sm.keep = 1;
	struct str b = mime_search_body_text(&sm);
	snprintf(out, cap, "%.*s", (int)b.len, b.p);
	mime_search_clear(&sm);
	arena_free(&a);
}

/* format=flowed (RFC 3676): soft line breaks joined, DelSp, stuffing,
 * quote marks of joined lines, the signature line a hard break. */
static void test_flowed(void)
{
	char got[1024];
	body_text("Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
		  "The quarterly \r\nreport is \r\nlate.\r\n"
		  " From here on\r\n"
		  "> Quoted text \r\n> goes on\r\n"
		  ">> deeper \r\n>> still\r\n"
		  "-- \r\nsig\r\n"
		  "hard\r\nbreak\r\n",
		  got, sizeof got);
	CHECK_EQ_STR(got, "The quarterly report is late.\r\nFrom here on\r\n"
			  ">Quoted text goes on\r\n>>deeper still\r\n-- \r\nsig\r\n"
			  "hard\r\nbreak\r\n\n");
	body_text("Content-Type: text/plain; format=flowed; delsp=yes\r\n"
		  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		  "=E3=81=82=E3=81=84=20\r\n=E3=81=86=20\r\nmid=\r\ndle\r\n",
		  got, sizeof got);
	CHECK_EQ_STR(got, "\xe3\x81\x82\xe3\x81\x84\xe3\x81\x86middle\r\n\n");
	/* A soft break before a line of another quote depth is hard (§4.5). */
	body_text("Content-Type: text/plain; format=flowed\r\n\r\n> a \r\nb \r\n>c\n> -- \r\n>x", got,
		  sizeof got);
	CHECK_EQ_STR(got, ">a \r\nb \r\n>c\n>-- \r\n>x\n");
	/* Not flowed: the lines stay as they are. */
	body_text("Content-Type: text/plain\r\n\r\nThe quarterly \r\nreport\r\n", got,
		  sizeof got);
	CHECK_EQ_STR(got, "The quarterly \r\nreport\r\n\n");
	CHECK(found("Content-Type: text/plain; format=\"Flowed\"\r\n\r\n"
		    "the quarterly \r\nreport\r\n", "quarterly report", 0));
	CHECK(!found("Content-Type: text/plain\r\n\r\nthe quarterly \r\nreport\r\n",
		     "quarterly report", 0));
}

/* 1 when HEADER name needle finds msg. */
static int header_found(const char *msg, const char *name, const char *needle)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;
	struct mime_search sm;
	char n[256];
	size_t nl = strlen(needle);
	memcpy(n, needle, nl);
	nl = mime_search_fold(n, nl);
	mime_tree_parse(msg, strlen(msg), a, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	int hit = mime_search_header(&sm, str_c(name), str_make(n, nl));
	mime_search_clear(&sm);
	arena_free(&a);
	return hit;
}

/* Words cut by the transfer encoding's line breaks are whole again. */
static void test_encodings(void)
{
	const char *qp = "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			 "soft line br=\r\neak, Gr=C3=\r\n=BC=C3=9Fe, a=3Db\r\n";
	CHECK(found(qp, "soft line break", 0));
	CHECK(found(qp, "gr\xc3\xbc\xc3\x9f" "e", 0));
	CHECK(found(qp, "a=b", 0) && !found(qp, "a=3db", 0) && !found(qp, "br=", 0));
	/* base64 of "a word split across base64 lines", broken every 8 */
	const char *b64 = "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			  "YSB3b3Jk\r\nIHNwbGl0\r\nIGFjcm9z\r\ncyBiYXNl\r\nNjQgbGlu\r\nZXM=\r\n";
	CHECK(found(b64, "split across base64 lines", 0));
	CHECK(!found(b64, "ywsb3", 0));
}

/* TEXT and HEADER see RFC 2231 parameters decoded (an attachment's name
 * as the reader's program shows it), and their values as written. */
static void test_rfc2231(void)
{
	const char *msg =
		"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		"--b\r\nContent-Type: application/pdf; name*=iso-8859-1''r%E9sum%E9.pdf\r\n"
		"Content-Disposition: attachment;\r\n filename*0*=UTF-8''Caf%C3;\r\n"
		" filename*1*=%A9%20Men%C3%BC.pdf\r\n\r\nJVBERi0=\r\n--b--\r\n";
	CHECK(found(msg, "caf\xc3\xa9 men\xc3\xbc.pdf", 1));
	CHECK(found(msg, "r\xc3\xa9sum\xc3\xa9.pdf", 1));
	CHECK(found(msg, "filename*1*=%A9", 1)); /* as written */
	CHECK(!found(msg, "caf\xc3\xa9", 0));  /* not in BODY */
	/* HEADER of the top-level header only (RFC 9051 §6.4.4). */
	const char *top = "Subject: s\r\nContent-Disposition: inline; "
			  "filename*=UTF-8''%E2%82%AC%20report.txt\r\n\r\nbody\r\n";
	CHECK(header_found(top, "content-disposition", "\xe2\x82\xac report"));
	CHECK(header_found(top, "Content-Disposition", "%E2%82%AC"));
	CHECK(!header_found(top, "Subject", "\xe2\x82\xac"));
}

/* A flowed part of several pieces, one line longer than a piece: the
 * pieces cut inside it and its soft break still joins. */
static void test_flowed_long(void)
{
	struct buf msg, want;
	buf_init(&msg, 1u << 20);
	buf_init(&want, 1u << 20);
	buf_append_c(&msg, "Content-Type: text/plain; format=flowed\r\n\r\n");
	for (int i = 0; i < 40000; i++) {
		buf_append_c(&msg, "ab ");
		buf_append_c(&want, "ab ");
	}
	buf_append_c(&msg, "\r\n cd \r\n>> q1 \r\n>> q2\r\nend\r\n");
	/* ">> q1" is two quote marks deeper: a hard break (RFC 3676 §4.5) */
	buf_append_c(&want, "cd \r\n>>q1 q2\r\nend\r\n\n");
	check_body_text(&msg, &want);
	buf_free(&msg);
	buf_free(&want);
}

/* A needle and a text differing only in normalisation (NFC, NFD, a
 * singleton) find each other, in the body, a header, an encoded word and
 * a quoted-printable part; a different accent does not. */
static void test_normalisation(void)
{
	const char *nfc = "Subject: =?utf-8?q?Caf=C3=A9_cr=C3=A8me?=\r\n"
			  "X-Name: \xc3\x85ngstr\xc3\xb6m\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n\r\n"
			  "Un caf\xc3\xa9 cr\xc3\xa8me, \xe1\xbb\x87\r\n";
	const char *nfd = "Subject: =?utf-8?q?Cafe=CC=81_cre=CC=80me?=\r\n"
			  "X-Name: A\xcc\x8angstro\xcc\x88m\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			  "Un cafe=CC=81 cre=CC=80me, e=CC=A3=CC=82\r\n";
	const char *both[] = {nfc, nfd};
	for (int i = 0; i < 2; i++) {
		const char *m = both[i];
		CHECK(found(m, "CAF\xc3\x89 CR\xc3\x88ME", 0));     /* composed */
		CHECK(found(m, "cafe\xcc\x81 cre\xcc\x80me", 0));   /* decomposed */
		CHECK(found(m, "e\xcc\xa3\xcc\x82", 0));           /* marks in either order */
		CHECK(found(m, "e\xcc\x82\xcc\xa3", 0));
		CHECK(found(m, "\xe1\xbb\x87", 0));
		CHECK(!found(m, "caf\xc3\xa8", 0));                  /* grave, not acute */
		CHECK(header_found(m, "Subject", "cafe\xcc\x81"));
		CHECK(header_found(m, "Subject", "CAF\xc3\x89"));
		CHECK(header_found(m, "X-Name", "\xe2\x84\xabngstr\xc3\xb6m")); /* U+212B */
		CHECK(header_found(m, "X-Name", "a\xcc\x8angstro\xcc\x88m"));
	}
}

int main(void)
{
	test_html();
	test_html_long();
	test_utf16_long();
	test_flowed();
	test_flowed_long();
	test_normalisation();
	test_rfc2231();
	test_encodings();
	return unit_done("test_mime_search");
}
