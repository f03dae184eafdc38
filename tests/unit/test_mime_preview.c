/*
 * test_mime_preview.c — preview text reduction (mime_preview_text) and the
 * part choice of mime_preview() over parsed messages.
 */
#include <string.h>

#include "mime/mime_preview.h"
#include "mime/mime_tree.h"
#include "unit.h"

static void text(const char *in, int html, const char *want, int line)
{
	char out[MIME_PREVIEW_MAX];
	size_t n = mime_preview_text(in, strlen(in), html, out);
	if (strcmp(out, want) != 0 || n != strlen(want))
		fprintf(stderr, "line %d: got \"%s\"\n", line, out);
	CHECK_EQ_STR(out, want);
	CHECK_EQ_INT(n, strlen(want));
}

static void msg(const char *m, const char *want, int line)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;
	char out[MIME_PREVIEW_MAX];

	mime_tree_parse(m, strlen(m), a, &t);
	mime_preview(m, strlen(m), &t, out);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "line %d: got \"%s\"\n", line, out);
	CHECK_EQ_STR(out, want);
	arena_free(&a);
}

static void test_text(void)
{
	text("", 0, "", __LINE__);
	text(" \r\n\t ", 0, "", __LINE__);
	text("  a\r\n\r\nb\tc  ", 0, "a b c", __LINE__);
	text("a\x01\x7f" "b", 0, "a b", __LINE__);
	text("x\xc2\xa0y", 0, "x y", __LINE__);           /* NBSP */
	text("bad \xff octet", 0, "bad \xef\xbf\xbd octet", __LINE__);
	text("<b>bold</b>", 0, "<b>bold</b>", __LINE__);  /* plain text keeps "<" */
	text("<b>bold</b>text", 1, "boldtext", __LINE__); /* as a reader sees it */
	text("<b>Hel</b>lo <i>wor</i>ld", 1, "Hello world", __LINE__);
	text("Espa&ntilde;a&nbsp;&Eacute;t&eacute;", 1, "Espa\xc3\xb1" "a \xc3\x89t\xc3\xa9", __LINE__);
	text("a<br>b<p>c</p>", 1, "a b c", __LINE__);
	text("<head><title>t</title></head>x", 1, "x", __LINE__);
	text("<STYLE type=x>p{}</STYLE>y<script>1<2</script>z", 1, "yz", __LINE__);
	text("a<!-- <p>hidden</p> -->b", 1, "ab", __LINE__);
	text("a<!-- unclosed", 1, "a", __LINE__);
	text("&lt;&gt;&amp;&quot;&apos;&nbsp;x", 1, "<>&\"' x", __LINE__);
	text("&#65;&#x42;&#x63;&#0;&#1114112;", 1, "ABc\xef\xbf\xbd\xef\xbf\xbd", __LINE__);
	text("&unknown; & &; &#; &#x; &#12a;", 1, "&unknown; & &; &#; &#x; &#12a;", __LINE__);
	text("<a href='x>y'", 1, "", __LINE__); /* a quoted ">" does not end a tag */
	/* a quoted ">" in a title is no tag end; an image's alt text is read */
	text("<p title=\"a>b\">text</p><img alt='>' src=x>after", 1, "text > after", __LINE__);
	/* named references of Western European mail and typography */
	text("&Eacute;t&eacute; &uuml;ber Stra&szlig;e, &ntilde;&ccedil;&agrave;", 1,
	     "\xc3\x89t\xc3\xa9 \xc3\xbc" "ber Stra\xc3\x9f" "e, \xc3\xb1\xc3\xa7\xc3\xa0", __LINE__);
	text("&trade;&bull;&laquo;&raquo;&middot;&deg;&EACUTE;", 1,
	     "\xe2\x84\xa2\xe2\x80\xa2\xc2\xab\xc2\xbb\xc2\xb7\xc2\xb0&EACUTE;", __LINE__);
	text("<unterminated", 1, "", __LINE__);
	text("<headline>kept</headline>", 1, "kept", __LINE__);
	/* 200 characters at most, counted as characters, not octets. */
	char in[1200], want[MIME_PREVIEW_MAX];
	for (int i = 0; i < 300; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[600] = '\0';
	for (int i = 0; i < 200; i++)
		memcpy(want + 2 * i, "\xc3\xa9", 2);
	want[400] = '\0';
	text(in, 0, want, __LINE__);
	/* A cut never leaves a trailing space. */
	memset(in, 'a', 199);
	memcpy(in + 199, " bbb", 5);
	memset(want, 'a', 199);
	want[199] = '\0';
	text(in, 0, want, __LINE__);
	for (int i = 0; i < 300; i++)
		memcpy(in + 4 * i, "\xf0\x9f\x98\x80", 4);
	in[1200 - 1] = '\0';
	char out[MIME_PREVIEW_MAX];
	size_t n = mime_preview_text(in, 1196, 0, out);
	CHECK_EQ_INT(n, 800);
}

static void test_parts(void)
{
	msg("Subject: x\r\n\r\nplain body\r\n", "plain body", __LINE__);
	msg("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n<i>h</i>\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\np\r\n--b--\r\n",
	    "p", __LINE__);
	msg("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n<i>caf=E9</i>\r\n--b--\r\n",
	    "caf\xc3\xa9", __LINE__);
	msg("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n"
	    "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\natt\r\n--b--\r\n",
	    "", __LINE__);
	msg("Content-Type: text/plain; charset=x-unknown\r\n\r\nraw \xe9\r\n", "", __LINE__);
	msg("Content-Type: text/plain; charset=x-unknown\r\n\r\nvalid \xc3\xa9\r\n", "valid \xc3\xa9",
	    __LINE__);
	msg("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n",
	    "hello world", __LINE__);
}

int main(void)
{
	test_text();
	test_parts();
	return unit_done("test_mime_preview");
}
