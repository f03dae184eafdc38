/*
 * test_mime_tree.c — MIME part tree, its cache record, BODYSTRUCTURE /
 * BODY / ENVELOPE output and section lookup, on messages shaped like the
 * ones real clients send.
 *
 * Every BODYSTRUCTURE here is rendered from the tree as it comes back from
 * the cache record (what FETCH does), and compared with the rendering of
 * the freshly parsed tree. The parser takes a whole message, so instead of
 * a byte-at-a-time replay each message is also parsed at every prefix
 * length (and with its line ends turned into bare LF), checking the tree's
 * invariants and the cache round trip each time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/imap_bodystructure.h"
#include "mime/mime_cache.h"
#include "mime/mime_decode.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "mime/summary.h"
#include "unit.h"

static struct arena *A;

/* Structural rules every tree must keep (the cache decoder enforces the
 * same ones). */
static int tree_ok(const struct mime_tree *t)
{
	uint32_t i, c, n;

	if (t->nparts < 1 || t->nparts > MIME_PARTS_MAX || t->parts[0].parent != MIME_NONE ||
	    t->parts[0].hdr_off != 0 || t->parts[0].body_end != t->size || !t->parts[0].env)
		return 0;
	for (i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];

		if (p->hdr_off > p->body_off || p->body_off > p->body_end || p->body_end > t->size)
			return 0;
		if (p->depth > MIME_DEPTH_MAX)
			return 0;
		if ((p->flags & MIME_PART_MESSAGE) && p->nchildren != 1)
			return 0;
		if (i > 0) {
			const struct mime_part *pp = &t->parts[p->parent];

			if (p->parent >= i || p->hdr_off < pp->body_off ||
			    p->body_end > pp->body_end || p->depth != pp->depth + 1)
				return 0;
			if (!!p->env != !!(pp->flags & MIME_PART_MESSAGE))
				return 0;
		}
		n = 0;
		for (c = p->nchildren ? i + 1 : MIME_NONE; c != MIME_NONE; c = t->parts[c].next) {
			if (c >= t->nparts || t->parts[c].parent != i)
				return 0;
			n++;
		}
		if (n != p->nchildren)
			return 0;
	}
	return 1;
}

static char *render(const struct mime_tree *t, unsigned flags)
{
	struct buf out;
	char *s;

	buf_init(&out, 1 << 24);
	CHECK(imap_bodystructure_write(&out, t, 0, flags) == 0);
	s = strdup(buf_data(&out));
	buf_free(&out);
	return s;
}

/* Parses, round-trips through the cache and returns the tree as decoded
 * from the record. */
static struct mime_tree parse_cached(const char *msg, size_t len, size_t *reclen_r)
{
	struct mime_tree t, d;
	struct buf rec, rec2;
	char *r1, *r2;
	unsigned fl;

	mime_tree_parse(msg, len, A, &t);
	CHECK(tree_ok(&t));
	buf_init(&rec, 1 << 24);
	buf_init(&rec2, 1 << 24);
	CHECK(mime_cache_encode(&t, &rec) == 0);
	/* The record is kept alive in the arena: the decoded tree points into it. */
	char *keep = arena_alloc(A, buf_len(&rec) + 1);

	memcpy(keep, buf_data(&rec), buf_len(&rec));
	CHECK(mime_cache_decode(keep, buf_len(&rec), A, &d) == 0);
	CHECK(tree_ok(&d));
	CHECK(mime_cache_encode(&d, &rec2) == 0);
	CHECK(buf_len(&rec) == buf_len(&rec2) &&
	      memcmp(buf_data(&rec), buf_data(&rec2), buf_len(&rec)) == 0);
	for (fl = 0; fl < 8; fl++) {
		r1 = render(&t, fl);
		r2 = render(&d, fl);
		CHECK_EQ_STR(r2, r1);
		free(r1);
		free(r2);
	}
	if (reclen_r)
		*reclen_r = buf_len(&rec);
	buf_free(&rec);
	buf_free(&rec2);
	return d;
}

static void check_bs(const char *msg, unsigned flags, const char *want)
{
	struct mime_tree t = parse_cached(msg, strlen(msg), NULL);
	char *got = render(&t, flags);

	CHECK_EQ_STR(got, want);
	free(got);
}

static char *envelope_of(const char *msg, unsigned flags)
{
	struct mime_tree t = parse_cached(msg, strlen(msg), NULL);
	struct buf out;
	char *s;

	buf_init(&out, 1 << 20);
	CHECK(imap_envelope_write(&out, t.parts[0].env, flags) == 0);
	s = strdup(buf_data(&out));
	buf_free(&out);
	return s;
}

/* The octets of a section as text (or "<n>" for an error code n). */
static char *section(const char *msg, const char *spec, enum mime_section kind)
{
	struct mime_tree t = parse_cached(msg, strlen(msg), NULL);
	uint64_t off = 0, len = 0;
	char tmp[32];
	int r = mime_tree_section_str(&t, str_c(spec), kind, NULL, &off, &len);

	if (r != 0) {
		snprintf(tmp, sizeof(tmp), "<%d>", r);
		return strdup(tmp);
	}
	return strndup(msg + off, (size_t)len);
}

static void check_section(const char *msg, const char *spec, enum mime_section kind,
                          const char *want)
{
	char *got = section(msg, spec, kind);

	CHECK_EQ_STR(got, want);
	free(got);
}

/* Every prefix, and the message with bare LF: invariants and round trip. */
static void check_prefixes(const char *msg)
{
	size_t len = strlen(msg), i, n = 0;
	char *lf = malloc(len + 1);

	for (i = 0; i <= len; i++) {
		struct arena *saved = A;

		A = arena_new(0);
		parse_cached(msg, i, NULL);
		arena_free(&A);
		A = saved;
	}
	for (i = 0; i < len; i++)
		if (!(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			lf[n++] = msg[i];
	parse_cached(lf, n, NULL);
	free(lf);
}

/* Thunderbird 115, multipart/alternative with format=flowed. */
static const char m_thunderbird[] =
    "Message-ID: <0a1b2c3d-1111-2222-3333-444455556666@example.org>\r\n"
    "Date: Mon, 3 Jun 2024 12:00:00 +0200\r\n"
    "MIME-Version: 1.0\r\n"
    "User-Agent: Mozilla Thunderbird\r\n"
    "Content-Language: en-US\r\n"
    "To: Bob <bob@example.net>\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "Subject: Lunch?\r\n"
    "Content-Type: multipart/alternative;\r\n"
    " boundary=\"------------AbCdEf0123456789\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--------------AbCdEf0123456789\r\n"
    "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Shall we have lunch at noon?\r\n"
    "\r\n"
    "Alice\r\n"
    "\r\n"
    "--------------AbCdEf0123456789\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "<html><body><p>Shall we have lunch at noon?</p></body></html>\r\n"
    "\r\n"
    "--------------AbCdEf0123456789--\r\n";

static void test_thunderbird(void)
{
	char *env;
	size_t reclen;

	check_bs(m_thunderbird, IMAP_BS_EXTENDED,
	         "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL "
	         "\"7bit\" 39 3 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL "
	         "\"7bit\" 63 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" "
	         "\"------------AbCdEf0123456789\") NIL \"en-US\" NIL)");
	check_bs(m_thunderbird, 0,
	         "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL "
	         "\"7bit\" 39 3)(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 63 1) "
	         "\"alternative\")");
	env = envelope_of(m_thunderbird, 0);
	CHECK_EQ_STR(env, "(\"Mon, 3 Jun 2024 12:00:00 +0200\" \"Lunch?\" ((\"Alice Example\" NIL "
	                  "\"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" "
	                  "\"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	                  "((\"Bob\" NIL \"bob\" \"example.net\")) NIL NIL NIL "
	                  "\"<0a1b2c3d-1111-2222-3333-444455556666@example.org>\")");
	free(env);
	check_section(m_thunderbird, "1", MIME_SECTION_WHOLE,
	              "Shall we have lunch at noon?\r\n\r\nAlice\r\n");
	check_section(m_thunderbird, "2.MIME", MIME_SECTION_WHOLE, "<-1>"); /* not numbers */
	check_section(m_thunderbird, "2", MIME_SECTION_MIME,
	              "Content-Type: text/html; charset=UTF-8\r\n"
	              "Content-Transfer-Encoding: 7bit\r\n\r\n");
	check_section(m_thunderbird, "1", MIME_SECTION_HEADER, "<-2>");
	check_section(m_thunderbird, "3", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_thunderbird, "", MIME_SECTION_MIME, "<-1>");
	check_section(m_thunderbird, "0", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_thunderbird, "1.", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_thunderbird, "01", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_thunderbird, "", MIME_SECTION_WHOLE, m_thunderbird);
	/* A typical record: a few hundred octets, mostly the envelope. */
	parse_cached(m_thunderbird, strlen(m_thunderbird), &reclen);
	fprintf(stderr,
	        "test_mime_tree: cache record for the Thunderbird message: %zu octets "
	        "(message %zu)\n",
	        reclen, strlen(m_thunderbird));
	CHECK(reclen < 400);
	check_prefixes(m_thunderbird);
}

/* Apple Mail: alternative of plain text and related(html, inline image). */
static const char m_apple[] =
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=\"Apple-Mail=_11111111-2222\"\r\n"
    "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3731.700.6\\))\r\n"
    "Subject: Photo\r\n"
    "From: Carol <carol@example.com>\r\n"
    "Date: Tue, 4 Jun 2024 09:15:00 -0700\r\n"
    "Message-Id: <AB12CD34-5678-90EF@example.com>\r\n"
    "To: dave@example.com\r\n"
    "\r\n"
    "\r\n"
    "--Apple-Mail=_11111111-2222\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "Content-Type: text/plain;\r\n"
    "\tcharset=us-ascii\r\n"
    "\r\n"
    "Look at this!\r\n"
    "\r\n"
    "--Apple-Mail=_11111111-2222\r\n"
    "Content-Type: multipart/related;\r\n"
    "\ttype=\"text/html\";\r\n"
    "\tboundary=\"Apple-Mail=_33333333-4444\"\r\n"
    "\r\n"
    "\r\n"
    "--Apple-Mail=_33333333-4444\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "Content-Type: text/html;\r\n"
    "\tcharset=us-ascii\r\n"
    "\r\n"
    "<html><body>Look at this!<img src=\"cid:img1@local\"></body></html>\r\n"
    "--Apple-Mail=_33333333-4444\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: inline;\r\n"
    "\tfilename=dot.png\r\n"
    "Content-Type: image/png;\r\n"
    "\tx-unix-mode=0644;\r\n"
    "\tname=\"dot.png\"\r\n"
    "Content-Id: <img1@local>\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "\r\n"
    "--Apple-Mail=_33333333-4444--\r\n"
    "\r\n"
    "--Apple-Mail=_11111111-2222--\r\n";

static void test_apple(void)
{
	check_bs(
	    m_apple, IMAP_BS_EXTENDED,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 1 NIL NIL NIL "
	    "NIL)((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 65 0 NIL NIL "
	    "NIL NIL)(\"image\" \"png\" (\"x-unix-mode\" \"0644\" \"name\" \"dot.png\") "
	    "\"<img1@local>\" NIL \"base64\" 14 NIL (\"inline\" (\"filename\" \"dot.png\")) "
	    "NIL NIL) \"related\" (\"type\" \"text/html\" \"boundary\" "
	    "\"Apple-Mail=_33333333-4444\") NIL NIL NIL) \"alternative\" (\"boundary\" "
	    "\"Apple-Mail=_11111111-2222\") NIL NIL NIL)");
	check_section(m_apple, "2.2", MIME_SECTION_WHOLE, "iVBORw0KGgo=\r\n");
	check_section(m_apple, "2.1", MIME_SECTION_WHOLE,
	              "<html><body>Look at this!<img src=\"cid:img1@local\"></body></html>");
	check_section(m_apple, "2", MIME_SECTION_MIME,
	              "Content-Type: multipart/related;\r\n\ttype=\"text/html\";\r\n"
	              "\tboundary=\"Apple-Mail=_33333333-4444\"\r\n\r\n");
	check_section(m_apple, "2.3", MIME_SECTION_WHOLE, "<-1>");
	check_prefixes(m_apple);
}

/* Outlook with a TNEF (winmail.dat) attachment. */
static const char m_outlook[] =
    "From: \"Eve Outlook\" <eve@corp.example>\r\n"
    "To: \"frank@example.org\" <frank@example.org>\r\n"
    "Subject: RE: Budget\r\n"
    "Thread-Topic: Budget\r\n"
    "Thread-Index: AdW1234567890abcdef==\r\n"
    "Date: Wed, 5 Jun 2024 08:00:00 +0000\r\n"
    "Message-ID: <DM6PR01MB1234@DM6PR01MB1234.namprd01.prod.outlook.com>\r\n"
    "In-Reply-To: <abc@example.org>\r\n"
    "Accept-Language: en-US\r\n"
    "Content-Language: en-US\r\n"
    "X-MS-Has-Attach: yes\r\n"
    "X-MS-TNEF-Correlator: <DM6PR01MB1234@DM6PR01MB1234.namprd01.prod.outlook.com>\r\n"
    "Content-Type: multipart/mixed;\r\n"
    "\tboundary=\"_000_DM6PR01MB1234_\"\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "--_000_DM6PR01MB1234_\r\n"
    "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "See attached.\r\n"
    "\r\n"
    "--_000_DM6PR01MB1234_\r\n"
    "Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"winmail.dat\"\r\n"
    "\r\n"
    "eJ8+IhAAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADoAAEIgAcAGAAAAElQTS5NaWNy\r\n"
    "b3NvZnQgTWFpbC5Ob3RlADEIAQ2ABAACAAAAAgACAAEFgAMADgAAAOgHBgAFAAgAAAAAAAMAGQEB\r\n"
    "\r\n"
    "--_000_DM6PR01MB1234_--\r\n";

static void test_outlook(void)
{
	char *env;

	check_bs(
	    m_outlook, IMAP_BS_EXTENDED,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 15 1 "
	    "NIL NIL NIL NIL)(\"application\" \"ms-tnef\" (\"name\" \"winmail.dat\") NIL NIL "
	    "\"base64\" 156 NIL (\"attachment\" (\"filename\" \"winmail.dat\")) NIL NIL) "
	    "\"mixed\" (\"boundary\" \"_000_DM6PR01MB1234_\") NIL \"en-US\" NIL)");
	env = envelope_of(m_outlook, 0);
	CHECK_EQ_STR(env, "(\"Wed, 5 Jun 2024 08:00:00 +0000\" \"RE: Budget\" ((\"Eve Outlook\" "
	                  "NIL \"eve\" \"corp.example\")) ((\"Eve Outlook\" NIL \"eve\" "
	                  "\"corp.example\")) ((\"Eve Outlook\" NIL \"eve\" \"corp.example\")) "
	                  "((\"frank@example.org\" NIL \"frank\" \"example.org\")) NIL NIL "
	                  "\"<abc@example.org>\" "
	                  "\"<DM6PR01MB1234@DM6PR01MB1234.namprd01.prod.outlook.com>\")");
	free(env);
	check_prefixes(m_outlook);
}

/* A forward: text, then the original as message/rfc822 with its own
 * multipart body. */
static const char m_forward[] = "From: Grace <grace@example.com>\r\n"
                                "To: heidi@example.com\r\n"
                                "Subject: Fwd: Report\r\n"
                                "Date: Thu, 6 Jun 2024 10:00:00 +0000\r\n"
                                "Message-ID: <fwd1@example.com>\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
                                "\r\n"
                                "--outer\r\n"
                                "Content-Type: text/plain; charset=us-ascii\r\n"
                                "\r\n"
                                "FYI\r\n"
                                "--outer\r\n"
                                "Content-Type: message/rfc822\r\n"
                                "Content-Disposition: inline\r\n"
                                "\r\n"
                                "From: Ivan <ivan@example.org>\r\n"
                                "To: Grace <grace@example.com>\r\n"
                                "Subject: Report\r\n"
                                "Date: Wed, 5 Jun 2024 18:00:00 +0000\r\n"
                                "Message-ID: <orig1@example.org>\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: multipart/mixed; boundary=\"inner\"\r\n"
                                "\r\n"
                                "--inner\r\n"
                                "Content-Type: text/plain\r\n"
                                "\r\n"
                                "Numbers attached.\r\n"
                                "--inner\r\n"
                                "Content-Type: text/csv; name=\"q2.csv\"\r\n"
                                "Content-Disposition: attachment; filename=\"q2.csv\"\r\n"
                                "\r\n"
                                "a,b\r\n"
                                "1,2\r\n"
                                "--inner--\r\n"
                                "--outer--\r\n";

static const char fwd_inner_header[] = "From: Ivan <ivan@example.org>\r\n"
                                       "To: Grace <grace@example.com>\r\n"
                                       "Subject: Report\r\n"
                                       "Date: Wed, 5 Jun 2024 18:00:00 +0000\r\n"
                                       "Message-ID: <orig1@example.org>\r\n"
                                       "MIME-Version: 1.0\r\n"
                                       "Content-Type: multipart/mixed; boundary=\"inner\"\r\n"
                                       "\r\n";
static const char fwd_inner_text[] = "--inner\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "\r\n"
                                     "Numbers attached.\r\n"
                                     "--inner\r\n"
                                     "Content-Type: text/csv; name=\"q2.csv\"\r\n"
                                     "Content-Disposition: attachment; filename=\"q2.csv\"\r\n"
                                     "\r\n"
                                     "a,b\r\n"
                                     "1,2\r\n"
                                     "--inner--";

static void test_forward(void)
{
	char want[4096], whole[2048];
	struct mime_tree t;
	char num[32];
	uint32_t i;

	snprintf(whole, sizeof(whole), "%s%s", fwd_inner_header, fwd_inner_text);
	/* The encapsulated header and body; 18 LFs. */
	snprintf(want, sizeof(want),
	         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL "
	         "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" %zu (\"Wed, 5 Jun 2024 18:00:00 "
	         "+0000\" \"Report\" ((\"Ivan\" NIL \"ivan\" \"example.org\")) ((\"Ivan\" NIL "
	         "\"ivan\" \"example.org\")) ((\"Ivan\" NIL \"ivan\" \"example.org\")) ((\"Grace\" "
	         "NIL \"grace\" \"example.com\")) NIL NIL NIL \"<orig1@example.org>\") ((\"text\" "
	         "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0 NIL NIL NIL "
	         "NIL)(\"text\" \"csv\" (\"name\" \"q2.csv\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL "
	         "(\"attachment\" (\"filename\" \"q2.csv\")) NIL NIL) \"mixed\" (\"boundary\" "
	         "\"inner\") NIL NIL NIL) 18 NIL (\"inline\" NIL) NIL NIL) \"mixed\" (\"boundary\" "
	         "\"outer\") NIL NIL NIL)",
	         strlen(whole));
	check_bs(m_forward, IMAP_BS_EXTENDED, want);
	check_section(m_forward, "1", MIME_SECTION_WHOLE, "FYI");
	check_section(m_forward, "2", MIME_SECTION_WHOLE, whole);
	check_section(m_forward, "2", MIME_SECTION_HEADER, fwd_inner_header);
	check_section(m_forward, "2", MIME_SECTION_TEXT, fwd_inner_text);
	check_section(m_forward, "2", MIME_SECTION_MIME,
	              "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n");
	check_section(m_forward, "2.1", MIME_SECTION_WHOLE, "Numbers attached.");
	/* a leaf inside a multipart has no part 1 (RFC 9051 6.4.5) */
	check_section(m_forward, "2.1.1", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_forward, "2.2", MIME_SECTION_WHOLE, "a,b\r\n1,2");
	check_section(m_forward, "2.2", MIME_SECTION_MIME,
	              "Content-Type: text/csv; name=\"q2.csv\"\r\n"
	              "Content-Disposition: attachment; filename=\"q2.csv\"\r\n\r\n");
	check_section(m_forward, "2.3", MIME_SECTION_WHOLE, "<-1>");
	check_section(m_forward, "2.2", MIME_SECTION_HEADER, "<-2>");
	check_section(m_forward, "", MIME_SECTION_TEXT,
	              strstr(m_forward, "--outer\r\nContent-Type: text/plain"));

	/* Part numbers name the parts back. */
	t = parse_cached(m_forward, strlen(m_forward), NULL);
	CHECK_EQ_INT(t.nparts, 6);
	{
		static const char *const want_num[] = {"", "1", "2", "2", "2.1", "2.2"};

		for (i = 0; i < 6; i++) {
			CHECK(mime_tree_part_number(&t, i, num, sizeof(num)) >= 0);
			CHECK_EQ_STR(num, want_num[i]);
		}
		for (i = 0; i < t.nparts; i++) {
			uint32_t nums[8], n = 0;
			char *p = num;

			mime_tree_part_number(&t, i, num, sizeof(num));
			while (*p) {
				nums[n++] = (uint32_t)strtoul(p, &p, 10);
				if (*p == '.')
					p++;
			}
			if (i != 3) /* the encapsulated multipart shares "2" */
				CHECK_EQ_INT(mime_tree_find(&t, nums, n), i);
		}
		CHECK(mime_tree_part_number(&t, 5, num, 3) < 0);
		CHECK(mime_tree_part_number(&t, 99, num, sizeof(num)) < 0);
	}
	check_prefixes(m_forward);
}

static void test_forward_header(void)
{
	char *h = section(m_forward, "", MIME_SECTION_HEADER);
	size_t n = (size_t)(strstr(m_forward, "\r\n\r\n") - m_forward) + 4;

	CHECK(strlen(h) == n && strncmp(h, m_forward, n) == 0);
	free(h);
}

/* No Content-Type at all, and the message that has nothing but a header. */
static void test_no_content_type(void)
{
	static const char m[] =
	    "From: root@localhost\r\nSubject: cron\r\n\r\nline one\r\nline two\r\n";
	char *env;

	check_bs(m, IMAP_BS_EXTENDED,
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL "
	         "NIL)");
	check_bs(m, 0, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2)");
	env = envelope_of(m, 0);
	CHECK_EQ_STR(env,
	             "(NIL \"cron\" ((NIL NIL \"root\" \"localhost\")) ((NIL NIL \"root\" "
	             "\"localhost\")) ((NIL NIL \"root\" \"localhost\")) NIL NIL NIL NIL NIL)");
	free(env);
	check_section(m, "1", MIME_SECTION_WHOLE, "line one\r\nline two\r\n");
	check_section(m, "1", MIME_SECTION_MIME, "From: root@localhost\r\nSubject: cron\r\n\r\n");
	check_section(m, "2", MIME_SECTION_WHOLE, "<-1>");
	/* only part 1: a non-multipart message without an encapsulated one */
	check_section(m, "1.1", MIME_SECTION_WHOLE, "<-1>");

	check_bs(
	    "Subject: x\r\n", IMAP_BS_EXTENDED,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
	check_bs("", 0, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	/* Lines are LFs, as Dovecot counts them. */
	check_bs("\r\nabc", 0,
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)");
	/* An invalid Content-Type is the default; "text/plain" alone gets
	 * the default charset too. */
	check_bs("Content-Type: text\r\n\r\nx", 0,
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)");
	check_bs("Content-Type: TEXT/Plain\r\nContent-Transfer-Encoding: 8BIT (comment)\r\n\r\nx",
	         0, "(\"TEXT\" \"Plain\" (\"charset\" \"us-ascii\") NIL NIL \"8BIT\" 1 0)");
	check_prefixes(m);
}

/* Missing close delimiters: the outer boundary ends the inner multipart,
 * the end of the message ends the outer one. */
static const char m_unclosed[] = "Content-Type: multipart/mixed; boundary=XX\r\n"
                                 "\r\n"
                                 "--XX\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "part one\r\n"
                                 "--XX\r\n"
                                 "Content-Type: multipart/alternative; boundary=YY\r\n"
                                 "\r\n"
                                 "--YY\r\n"
                                 "\r\n"
                                 "inner a\r\n"
                                 "--YY\r\n"
                                 "Content-Type: text/html\r\n"
                                 "\r\n"
                                 "<b>inner b</b>\r\n"
                                 "--XX\r\n"
                                 "\r\n"
                                 "last part without end\r\n";

static void test_unclosed(void)
{
	struct mime_tree t;

	check_bs(
	    m_unclosed, IMAP_BS_EXTENDED,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL "
	    "NIL)((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 0 NIL NIL "
	    "NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 0 NIL NIL "
	    "NIL NIL) \"alternative\" (\"boundary\" \"YY\") NIL NIL NIL)(\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 23 1 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"XX\") NIL NIL NIL)");
	t = parse_cached(m_unclosed, strlen(m_unclosed), NULL);
	CHECK(t.parts[0].flags & MIME_PART_NO_END);
	CHECK(t.parts[2].flags & MIME_PART_NO_END);
	CHECK(t.parts[3].flags & MIME_PART_DEFAULT_TYPE);
	check_section(m_unclosed, "2.2", MIME_SECTION_WHOLE, "<b>inner b</b>");
	check_section(m_unclosed, "3", MIME_SECTION_WHOLE, "last part without end\r\n");
	check_prefixes(m_unclosed);

	/* No boundary line at all, a multipart without a boundary parameter,
	 * a boundary that is too long. */
	check_bs("Content-Type: multipart/mixed; boundary=Q\r\n\r\nno parts here\r\n",
	         IMAP_BS_EXTENDED,
	         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL "
	         "NIL) \"mixed\" (\"boundary\" \"Q\") NIL NIL NIL)");
	check_bs("Content-Type: multipart/mixed\r\n\r\n--\r\nx\r\n", 0,
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 2)");
	/* Preamble and epilogue belong to no part; an empty part is a part. */
	check_bs("Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n--b\r\n\r\nz\r\n"
	         "--b--\r\n--b\r\nepilogue\r\n",
	         0,
	         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" "
	         "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")");
	/* Boundary lines may carry trailing garbage (Dovecot matches the
	 * prefix), and LWSP. */
	check_bs(
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \r\n\r\none\r\n--b-- x\r\n", 0,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")");
}

/* The longest enclosing boundary wins: "--abcdef" ends the inner "abc"
 * multipart instead of starting another of its parts. */
static void test_boundary_prefix(void)
{
	static const char m[] = "Content-Type: multipart/mixed; boundary=abcdef\r\n\r\n"
	                        "--abcdef\r\n"
	                        "Content-Type: multipart/alternative; boundary=abc\r\n\r\n"
	                        "--abc\r\n\r\none\r\n"
	                        "--abcdef\r\n\r\ntwo\r\n"
	                        "--abcdef--\r\n";
	static const char m2[] = "Content-Type: multipart/mixed; boundary=\"a:b\"\r\n\r\n"
	                         "--a:b\r\n"
	                         "--a:b\r\n"
	                         "Content-Type: text/plain\r\n\r\nz\r\n"
	                         "--a:b--\r\n";

	check_bs(
	    m, 0,
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) "
	    "\"alternative\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	    "0) \"mixed\")");
	/* A boundary with ':' looks like a header field; it still ends the
	 * (empty) part before it. */
	check_bs(m2, 0,
	         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" "
	         "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")");
	/* A header that runs into a boundary line without an empty line:
	 * the line end before the boundary is the boundary's (Dovecot). */
	check_bs(
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n--b--\r\n",
	    0,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL \"x\" NIL NIL NIL NIL NIL NIL "
	    "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) "
	    "\"mixed\")");
	check_section("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	              "Content-Type: text/plain\r\n--b--\r\n",
	              "1", MIME_SECTION_MIME, "Content-Type: text/plain");
	check_prefixes(m);
	check_prefixes(m2);
}

/* RFC 2231: continuations, charsets, languages, next to plain fallbacks. */
static const char m_rfc2231[] =
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: application/pdf;\r\n"
    " name*0*=utf-8'en'%E2%82%AC%20rates;\r\n"
    " name*1*=%202024.pdf\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''%E2%82%AC%20rates;\r\n"
    " filename*1=\" 2024.pdf\";\r\n"
    " filename=\"EUR rates 2024.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0=\r\n"
    "--b\r\n"
    "Content-Type: text/plain; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\r\n"
    "\r\n"
    "x\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream;\r\n"
    " name*1=\"file name.bin\";\r\n"
    " name*0=\"very long \"\r\n"
    "Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9.txt\r\n"
    "\r\n"
    "y\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream; name*=x-unknown'de'%FC%ZZ\r\n"
    "\r\n"
    "z\r\n"
    "--b--\r\n";

static void test_rfc2231(void)
{
	struct mime_tree t;
	const struct mime_part *p;

	check_bs(
	    m_rfc2231, IMAP_BS_EXTENDED,
	    "((\"application\" \"pdf\" (\"name*\" \"utf-8'en'%E2%82%AC%20rates%202024.pdf\") NIL "
	    "NIL \"base64\" 8 NIL (\"attachment\" (\"filename*\" "
	    "\"utf-8''%E2%82%AC%20rates%202024.pdf\" \"filename\" \"EUR rates 2024.pdf\")) NIL "
	    "NIL)(\"text\" \"plain\" (\"title\" \"This is ***fun***\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL "
	    "NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"very long file "
	    "name.bin\") NIL NIL \"7bit\" 1 NIL (\"attachment\" (\"filename*\" "
	    "\"utf-8''r%C3%A9sum%C3%A9.txt\")) NIL NIL)(\"application\" \"octet-stream\" "
	    "(\"name*\" \"x-unknown'de'%FC%25ZZ\") NIL NIL \"7bit\" 1 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b\") NIL NIL NIL)");
	check_bs(
	    m_rfc2231, IMAP_BS_EXTENDED | IMAP_BS_UTF8,
	    "((\"application\" \"pdf\" (\"name\" \"\xE2\x82\xAC rates 2024.pdf\") NIL NIL "
	    "\"base64\" 8 NIL (\"attachment\" (\"filename\" \"\xE2\x82\xAC rates 2024.pdf\")) NIL "
	    "NIL)(\"text\" \"plain\" (\"title\" \"This is ***fun***\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL "
	    "NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"very long file "
	    "name.bin\") NIL NIL \"7bit\" 1 NIL (\"attachment\" (\"filename\" "
	    "\"r\xC3\xA9sum\xC3\xA9.txt\")) NIL NIL)(\"application\" \"octet-stream\" "
	    "(\"name*\" \"x-unknown'de'%FC%25ZZ\") NIL NIL \"7bit\" 1 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b\") NIL NIL NIL)");

	/* What JMAP reads: decoded values with their charset and language. */
	t = parse_cached(m_rfc2231, strlen(m_rfc2231), NULL);
	p = &t.parts[1];
	CHECK_EQ_INT(p->nparams, 1);
	CHECK_EQ_SLICE(p->params[0].name, "name");
	CHECK_EQ_SLICE(p->params[0].value, "\xE2\x82\xAC rates 2024.pdf");
	CHECK_EQ_SLICE(p->params[0].charset, "utf-8");
	CHECK_EQ_SLICE(p->params[0].language, "en");
	CHECK_EQ_INT(p->params[0].flags, MIME_PARAM_EXTENDED | MIME_PARAM_UTF8);
	CHECK_EQ_INT(p->ndisp_params, 2);
	CHECK_EQ_SLICE(mime_param_get(p->disp_params, p->ndisp_params, "FILENAME"),
	               "\xE2\x82\xAC rates 2024.pdf");
	p = &t.parts[4];
	CHECK_EQ_SLICE(p->params[0].value, "\xFC%ZZ");
	CHECK_EQ_INT(p->params[0].flags, MIME_PARAM_EXTENDED);
	CHECK_EQ_SLICE(p->params[0].language, "de");
	check_prefixes(m_rfc2231);
}

/* Quoting: quotes and backslashes escaped, 8-bit and CR/LF as literals,
 * UTF-8 quoted for UTF8=ACCEPT clients; MD5, language list, location. */
static void test_quoting(void)
{
	static const char m[] =
	    "Content-Type: text/plain; charset=iso-8859-1; name=\"a \\\"quoted\\\" \\\\ name\"\r\n"
	    "Content-ID: <id1@x>\r\n"
	    "Content-Description: caf\xE9 \"menu\"\r\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	    "Content-Language: en, fr (French)\r\n"
	    "Content-Location: http://www.example.com/menu.txt\r\n"
	    "\r\n"
	    "menu\r\n";
	static const char m_utf8[] =
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Description: Caf\xC3\xA9\r\n"
	    "Content-Disposition: attachment; filename=\"r\xC3\xA9sum\xC3\xA9.txt\"\r\n"
	    "\r\n"
	    "x";
	struct buf out;

	check_bs(m, IMAP_BS_EXTENDED,
	         "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\" \"name\" \"a \\\"quoted\\\" \\\\ "
	         "name\") \"<id1@x>\" {11}\r\ncaf\xE9 \"menu\" \"7bit\" 6 1 "
	         "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"en\" \"fr\") "
	         "\"http://www.example.com/menu.txt\")");
	/* Latin-1 is not UTF-8: a literal even for UTF8=ACCEPT. */
	check_bs(m, IMAP_BS_UTF8,
	         "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\" \"name\" \"a \\\"quoted\\\" \\\\ "
	         "name\") \"<id1@x>\" {11}\r\ncaf\xE9 \"menu\" \"7bit\" 6 1)");
	check_bs(
	    m_utf8, IMAP_BS_EXTENDED,
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL {5}\r\nCaf\xC3\xA9 \"7bit\" 1 0 NIL "
	    "(\"attachment\" (\"filename\" {12}\r\nr\xC3\xA9sum\xC3\xA9.txt)) NIL NIL)");
	check_bs(m_utf8, IMAP_BS_EXTENDED | IMAP_BS_UTF8,
	         "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL \"Caf\xC3\xA9\" \"7bit\" 1 0 NIL "
	         "(\"attachment\" (\"filename\" \"r\xC3\xA9sum\xC3\xA9.txt\")) NIL NIL)");

	/* The string writers on their own: CR/LF and NUL. */
	buf_init(&out, 256);
	CHECK(imap_string_write(&out, STR_LIT("a\r\nb"), IMAP_BS_UTF8) == 0);
	CHECK(imap_nstring_write(&out, STR_NULL, 0) == 0);
	CHECK(imap_string_write(&out, STR_NULL, 0) == 0);
	CHECK(imap_string_write(&out, str_make("x\0y", 3), 0) == 0);
	CHECK_EQ_SLICE(buf_str(&out), "{4}\r\na\r\nbNIL\"\"\"x y\"");
	buf_free(&out);
	/* A ceiling too small fails cleanly. */
	buf_init(&out, 10);
	CHECK(imap_envelope_write(&out, NULL, 0) == -1);
	buf_free(&out);
	check_prefixes(m);
}

/* CRLF and bare LF: the same message stored both ways. */
static void test_line_ends(void)
{
	char *lf = malloc(sizeof(m_thunderbird)), *a, *b;
	size_t i, n = 0;
	struct mime_tree t, u;

	for (i = 0; m_thunderbird[i]; i++)
		if (m_thunderbird[i] != '\r')
			lf[n++] = m_thunderbird[i];
	lf[n] = '\0';
	check_bs(lf, 0,
	         "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL "
	         "\"7bit\" 36 3)(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 62 1) "
	         "\"alternative\")");
	/* With CRLF sizes the LF copy reports what the CRLF copy does. */
	t = parse_cached(lf, n, NULL);
	u = parse_cached(m_thunderbird, strlen(m_thunderbird), NULL);
	a = render(&t, IMAP_BS_EXTENDED | IMAP_BS_CRLF);
	b = render(&u, IMAP_BS_EXTENDED);
	CHECK_EQ_STR(a, b);
	free(a);
	free(b);
	a = render(&u, IMAP_BS_EXTENDED | IMAP_BS_CRLF);
	b = render(&u, IMAP_BS_EXTENDED);
	CHECK_EQ_STR(a, b);
	free(a);
	free(b);
	CHECK_EQ_INT(t.parts[0].hdr_bare_lf, 11);
	CHECK_EQ_INT(u.parts[0].hdr_bare_lf, 0);
	check_section(lf, "1", MIME_SECTION_WHOLE, "Shall we have lunch at noon?\n\nAlice\n");
	check_section(
	    lf, "2", MIME_SECTION_MIME,
	    "Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n");
	free(lf);
}

/* S/MIME multipart/signed; the QP text decodes for BINARY[1]. */
static const char m_signed[] =
    "From: Judy <judy@example.com>\r\n"
    "To: kim@example.com\r\n"
    "Subject: Signed\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
    "micalg=sha-256; boundary=\"----SIG\"\r\n"
    "\r\n"
    "This is an S/MIME signed message\r\n"
    "\r\n"
    "------SIG\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 ouvert.\r\n"
    "------SIG\r\n"
    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
    "Content-Description: S/MIME Cryptographic Signature\r\n"
    "\r\n"
    "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIF\r\n"
    "AAAAAAAA\r\n"
    "\r\n"
    "------SIG--\r\n"
    "\r\n";

static void test_signed(void)
{
	struct mime_tree t;
	uint64_t off, len;
	struct buf out;

	check_bs(
	    m_signed, IMAP_BS_EXTENDED,
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 17 0 NIL "
	    "NIL NIL NIL)(\"application\" \"pkcs7-signature\" (\"name\" \"smime.p7s\") NIL "
	    "\"S/MIME Cryptographic Signature\" \"base64\" 88 NIL (\"attachment\" "
	    "(\"filename\" \"smime.p7s\")) NIL NIL) \"signed\" (\"protocol\" "
	    "\"application/pkcs7-signature\" \"micalg\" \"sha-256\" \"boundary\" \"----SIG\") "
	    "NIL NIL NIL)");
	t = parse_cached(m_signed, strlen(m_signed), NULL);
	CHECK(mime_tree_section_str(&t, STR_LIT("1"), MIME_SECTION_WHOLE, NULL, &off, &len) == 0);
	buf_init(&out, 1024);
	CHECK(mime_decode_all(mime_cte_parse(t.parts[1].encoding),
	                      str_make(m_signed + off, (size_t)len), &out) == 0);
	CHECK_EQ_SLICE(buf_str(&out), "Caf\xC3\xA9 ouvert.");
	CHECK_EQ_INT(mime_decoded_size(MIME_CTE_QP, str_make(m_signed + off, (size_t)len)), 13);
	buf_free(&out);
	check_prefixes(m_signed);
}

/* multipart/digest: parts default to message/rfc822. */
static void test_digest(void)
{
	static const char m[] = "Content-Type: multipart/digest; boundary=D\r\n"
	                        "\r\n"
	                        "--D\r\n"
	                        "\r\n"
	                        "From: a@b.c\r\nSubject: one\r\n\r\nbody1\r\n"
	                        "--D\r\n"
	                        "Content-Type: text/plain\r\n\r\nnot a message\r\n"
	                        "--D--\r\n";

	check_bs(
	    m, IMAP_BS_EXTENDED,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 34 (NIL \"one\" ((NIL NIL \"a\" "
	    "\"b.c\")) ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL "
	    "NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 13 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"D\") NIL NIL NIL)");
	check_section(m, "1.1", MIME_SECTION_WHOLE, "body1");
	check_section(m, "1", MIME_SECTION_TEXT, "body1");
	check_section(m, "1", MIME_SECTION_HEADER, "From: a@b.c\r\nSubject: one\r\n\r\n");
	check_section(m, "1", MIME_SECTION_MIME, "\r\n"); /* just the empty line */
	check_prefixes(m);
}

/* message/rfc822 that cannot be parsed (base64) keeps its type with an
 * empty envelope and body. */
static void test_message_base64(void)
{
	static const char m[] = "Content-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n"
	                        "Content-Type: message/rfc822\r\n"
	                        "Content-Transfer-Encoding: base64\r\n\r\n"
	                        "RnJvbTogYUBiLmMNCg0KaGkNCg==\r\n--Z--\r\n";

	check_bs(
	    m, IMAP_BS_EXTENDED,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"base64\" 28 (NIL NIL NIL NIL NIL NIL NIL NIL "
	    "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL "
	    "NIL NIL) 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"Z\") NIL NIL NIL)");
	check_section(m, "1", MIME_SECTION_HEADER, "<-2>");
	check_prefixes(m);
}

/* ENVELOPE: groups, routes, comments as names, encoded words left raw,
 * Sender falling back to From when present but empty. */
static void test_envelope(void)
{
	static const char m[] =
	    "From: Pete <pete@silly.example>\r\n"
	    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
	    "Cc: Undisclosed recipients:;\r\n"
	    "Bcc: <@route1.test,@route2.test:user@c.test>, user2@d.test (Comment Name)\r\n"
	    "Reply-To: =?ISO-8859-1?Q?Andr=E9?=\r\n Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
	    "Sender: \r\n"
	    "Subject: =?UTF-8?B?w6k=?= raw\r\n"
	    "Date: Thu, 13 Feb 1969 23:32:54 -0330\r\n"
	    "In-Reply-To: <1234@local.machine.example>\r\n"
	    "Message-ID: <5678.21-Nov-1997@example.com>\r\n"
	    "\r\n"
	    "body\r\n";
	static const char m2[] = "To: root, John \"Q.\" Public <jqp@x.test>, <>, Bad <no-at>,\r\n"
	                         " @only.domain (no local part)\r\n"
	                         "Cc: \"J\xC3\xB6rg\" <j@x.test>\r\n"
	                         "Subject:\r\n"
	                         "From: a@b.test, c@d.test\r\n"
	                         "Sender: s@e.test\r\n"
	                         "\r\n";
	static const char m3[] = "From: \r\nTo: ,,, ; garbage <<>> \"unterminated\r\n"
	                         "Cc: g1: a@b.test; g2: c@d.test\r\n\r\n";
	char *env;

	env = envelope_of(m, 0);
	CHECK_EQ_STR(
	    env,
	    "(\"Thu, 13 Feb 1969 23:32:54 -0330\" \"=?UTF-8?B?w6k=?= raw\" ((\"Pete\" NIL "
	    "\"pete\" \"silly.example\")) ((\"Pete\" NIL \"pete\" \"silly.example\")) "
	    "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((NIL "
	    "NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" "
	    "\"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL "
	    "\"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) ((NIL \"@route1.test,@route2.test\" "
	    "\"user\" \"c.test\")(\"Comment Name\" NIL \"user2\" \"d.test\")) "
	    "\"<1234@local.machine.example>\" \"<5678.21-Nov-1997@example.com>\")");
	free(env);
	env = envelope_of(m2, 0);
	CHECK_EQ_STR(env,
	             "(NIL \"\" ((NIL NIL \"a\" \"b.test\")(NIL NIL \"c\" \"d.test\")) ((NIL NIL "
	             "\"s\" \"e.test\")) ((NIL NIL \"a\" \"b.test\")(NIL NIL \"c\" \"d.test\")) "
	             "((NIL NIL \"root\" \"MISSING_DOMAIN\")(\"John Q. Public\" NIL \"jqp\" "
	             "\"x.test\")(NIL NIL \"\" \"\")(\"Bad\" NIL \"no-at\" \"MISSING_DOMAIN\")"
	             "(\"no local part\" NIL \"MISSING_MAILBOX\" \"only.domain\")) "
	             "(({5}\r\nJ\xC3\xB6rg NIL \"j\" \"x.test\")) NIL NIL NIL)");
	free(env);
	env = envelope_of(m2, IMAP_BS_UTF8);
	CHECK(strstr(env, "((\"J\xC3\xB6rg\" NIL \"j\" \"x.test\"))") != NULL);
	free(env);
	env = envelope_of(m3, 0);
	CHECK_EQ_STR(env, "(NIL NIL NIL NIL NIL ((\"garbage\" NIL \"\" \"\")) ((NIL NIL "
	                  "\"g1\" NIL)(NIL NIL \"a\" \"b.test\")(NIL NIL NIL NIL)(NIL NIL \"g2\" "
	                  "NIL)(NIL NIL \"c\" \"d.test\")(NIL NIL NIL NIL)) NIL NIL NIL)");
	free(env);
	check_prefixes(m);
	check_prefixes(m2);
	check_prefixes(m3);
}

/* A long obsolete route costs memory linear in its length (each domain
 * once grew a copy of the route: 600 MB for a 60 KB field). */
static void test_envelope_long_route(void)
{
	struct buf m;
	struct arena *a = arena_new(0);
	struct mime_tree t;

	buf_init(&m, 1u << 20);
	buf_append_c(&m, "To: Someone <");
	for (int i = 0; i < 20000; i++)
		buf_append_c(&m, "@a,");
	buf_append_c(&m, ":x@y.test>\r\nSubject: r\r\n\r\nbody\r\n");
	mime_tree_parse(buf_data(&m), buf_len(&m), a, &t);
	CHECK(arena_used(a) < 64 * buf_len(&m));
	CHECK_EQ_INT(t.parts[0].env->to.n, 1);
	if (t.parts[0].env->to.n == 1) {
		const struct mime_address *ad = &t.parts[0].env->to.v[0];
		CHECK_EQ_INT(ad->adl.len, 20000 * 3 - 1);
		CHECK(ad->adl.len > 6 && !memcmp(ad->adl.p, "@a,@a,", 6));
		CHECK_EQ_SLICE(ad->mailbox, "x");
		CHECK_EQ_SLICE(ad->host, "y.test");
	}
	arena_free(&a);
	buf_free(&m);
}

/* Nested messages keep their own envelopes; BODY[2.1.HEADER]. */
static void test_nested_messages(void)
{
	static const char m[] = "Subject: outer\r\n"
	                        "Content-Type: message/rfc822\r\n\r\n"
	                        "Subject: middle\r\n"
	                        "Content-Type: message/rfc822\r\n\r\n"
	                        "Subject: inner\r\n\r\n"
	                        "deep\r\n";

	check_bs(
	    m, 0,
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 73 (NIL \"middle\" NIL NIL NIL NIL NIL "
	    "NIL NIL NIL) (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 24 (NIL \"inner\" NIL NIL "
	    "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 6 1) 3) 6)");
	check_section(m, "1", MIME_SECTION_HEADER,
	              "Subject: middle\r\nContent-Type: message/rfc822\r\n\r\n");
	check_section(m, "1.1", MIME_SECTION_HEADER, "Subject: inner\r\n\r\n");
	check_section(m, "1.1.1", MIME_SECTION_WHOLE, "deep\r\n");
	check_section(m, "1.1", MIME_SECTION_TEXT, "deep\r\n");
	check_prefixes(m);
}

/* Limits: a thousand nested multiparts, a thousand nested messages,
 * twenty thousand parts. */
static void test_limits(void)
{
	struct buf m, out;
	struct mime_tree t;
	size_t reclen;
	uint32_t i, maxd = 0, trunc = 0;
	char *s;

	buf_init(&m, 1 << 24);
	/* Boundaries that are not prefixes of each other: "--b50" would
	 * otherwise be a boundary line of "b5" (Dovecot's prefix rule). */
	for (i = 0; i < 1000; i++)
		buf_printf(&m,
		           "Content-Type: multipart/mixed; boundary=\"=_%u_=\"\r\n\r\n--=_%u_=\r\n",
		           i, i);
	buf_append_c(&m, "\r\ninnermost\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), &reclen);
	for (i = 0; i < t.nparts; i++) {
		if (t.parts[i].depth > maxd)
			maxd = t.parts[i].depth;
		trunc += !!(t.parts[i].flags & MIME_PART_TRUNCATED);
	}
	CHECK_EQ_INT(maxd, MIME_DEPTH_MAX);
	CHECK_EQ_INT(t.nparts, MIME_DEPTH_MAX + 1);
	CHECK_EQ_INT(trunc, 1);
	CHECK(t.flags & MIME_TREE_LIMITED);
	s = render(&t, IMAP_BS_EXTENDED);
	CHECK(strlen(s) > 50 * 20);
	free(s);

	buf_reset(&m);
	for (i = 0; i < 1000; i++)
		buf_append_c(&m, "Content-Type: message/rfc822\r\n\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK_EQ_INT(t.nparts, MIME_DEPTH_MAX + 1);
	CHECK(t.parts[MIME_DEPTH_MAX].flags & MIME_PART_TRUNCATED);

	buf_reset(&m);
	buf_append_c(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i < 20000; i++)
		buf_append_c(&m, "--b\r\n\r\nx\r\n");
	buf_append_c(&m, "--b--\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), &reclen);
	CHECK_EQ_INT(t.nparts, MIME_PARTS_MAX);
	CHECK(t.parts[MIME_PARTS_MAX - 1].flags & MIME_PART_TRUNCATED);
	CHECK_EQ_INT(t.parts[MIME_PARTS_MAX - 1].body_end, buf_len(&m));
	CHECK(t.flags & MIME_TREE_LIMITED);
	/* A bounded output buffer stops the rendering, nothing else. */
	buf_init(&out, 4096);
	CHECK(imap_bodystructure_write(&out, &t, 0, IMAP_BS_EXTENDED) == -1);
	buf_free(&out);
	fprintf(stderr, "test_mime_tree: %u parts -> %zu octet record\n", t.nparts, reclen);

	/* Addresses are capped per list. */
	buf_reset(&m);
	buf_append_c(&m, "To: ");
	for (i = 0; i < 3000; i++)
		buf_printf(&m, "u%u@x.test, ", i);
	buf_append_c(&m, "\r\n\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK_EQ_INT(t.parts[0].env->to.n, MIME_ADDRS_MAX);

	/* A repeated address field's lists are joined (as Dovecot's
	 * ENVELOPE), under the same cap; a repeated Subject keeps the first. */
	buf_reset(&m);
	buf_append_c(&m, "Cc: a@x.test\r\nSubject: one\r\nCc: b@x.test, c@x.test\r\n"
	                 "Subject: two\r\nCc:\r\nCc: \"D\" <d@x.test>\r\n\r\nbody\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK_EQ_INT(t.parts[0].env->cc.n, 4);
	if (t.parts[0].env->cc.n == 4) {
		CHECK_EQ_SLICE(t.parts[0].env->cc.v[0].mailbox, "a");
		CHECK_EQ_SLICE(t.parts[0].env->cc.v[2].mailbox, "c");
		CHECK_EQ_SLICE(t.parts[0].env->cc.v[3].name, "D");
	}
	CHECK_EQ_SLICE(t.parts[0].env->subject, "one");
	/* ...and the tree says so, through the cache, for JMAP (which wants
	 * the last instance); a field seen once, or repeated only in an
	 * attached message's header, does not set it. */
	CHECK(t.flags & MIME_TREE_REPEATED_ENV);
	buf_reset(&m);
	buf_append_c(&m, "Subject: one\r\nX-A: 1\r\nX-A: 2\r\nContent-Type: message/rfc822\r\n\r\n"
	                 "Subject: in\r\nSubject: again\r\n\r\nbody\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK(t.nparts == 2 && !(t.flags & MIME_TREE_REPEATED_ENV));
	buf_reset(&m);
	buf_append_c(
	    &m, "Date: Fri, 20 Nov 2026 12:00:00 +0000\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\n"
	        "\r\nbody\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK(t.flags & MIME_TREE_REPEATED_ENV);
	buf_reset(&m);
	for (int k = 0; k < 3; k++) {
		buf_append_c(&m, "To: ");
		for (i = 0; i < 600; i++)
			buf_printf(&m, "u%u@x.test, ", i);
		buf_append_c(&m, "\r\n");
	}
	buf_append_c(&m, "\r\n");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK_EQ_INT(t.parts[0].env->to.n, MIME_ADDRS_MAX);

	/* A field past rfc5322.h's 64 KiB limit is dropped, not the header
	 * after it. */
	buf_reset(&m);
	buf_append_c(&m, "Subject: big list\r\nTo: ");
	for (i = 0; i < 5000; i++)
		buf_printf(&m, "user%u@example.com,\r\n ", i);
	buf_append_c(&m,
	             "last@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>x</p>");
	t = parse_cached(buf_data(&m), buf_len(&m), NULL);
	CHECK(t.flags & MIME_TREE_LIMITED);
	CHECK_EQ_INT(t.parts[0].env->to.n, 0);
	CHECK_EQ_SLICE(t.parts[0].env->subject, "big list");
	s = render(&t, 0);
	CHECK_EQ_STR(s, "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 0)");
	free(s);
	buf_free(&m);
}

/* A corrupt record is refused and leaves a tree that renders. */
static void test_cache_corrupt(void)
{
	struct mime_tree t, d;
	struct buf rec;
	size_t i, ok = 0;
	char *s, *copy;

	mime_tree_parse(m_forward, strlen(m_forward), A, &t);
	buf_init(&rec, 1 << 16);
	CHECK(mime_cache_encode(&t, &rec) == 0);
	copy = malloc(buf_len(&rec));
	/* Every truncation fails. */
	for (i = 0; i < buf_len(&rec); i++) {
		CHECK(mime_cache_decode(buf_data(&rec), i, A, &d) == -1);
		CHECK(tree_ok(&d) || d.size == 0);
	}
	/* Flipped octets either fail or give a tree that keeps the rules. */
	for (i = 0; i < buf_len(&rec); i++) {
		memcpy(copy, buf_data(&rec), buf_len(&rec));
		copy[i] ^= 0x5A;
		if (mime_cache_decode(copy, buf_len(&rec), A, &d) == 0) {
			ok++;
			CHECK(tree_ok(&d));
		}
		s = render(&d, IMAP_BS_EXTENDED);
		free(s);
	}
	CHECK(mime_cache_decode("\x02", 1, A, &d) == -1);
	CHECK(mime_cache_decode("", 0, A, &d) == -1);
	s = render(&d, IMAP_BS_EXTENDED);
	CHECK_EQ_STR(s,
	             "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL "
	             "NIL NIL)");
	free(s);
	free(copy);
	buf_free(&rec);
}

/* The email meta record: mime cache, or the summary record of earlier
 * builds (same version byte), which must make readers parse instead. */
static void test_cache_load(void)
{
	struct mime_tree t, d;
	struct msg_summary sum;
	struct buf rec;
	size_t len = strlen(m_forward);

	mime_tree_parse(m_forward, len, A, &t);
	buf_init(&rec, 1 << 16);
	CHECK(mime_cache_encode(&t, &rec) == 0);
	CHECK_EQ_INT(mime_cache_load(buf_data(&rec), buf_len(&rec), m_forward, len, A, &d), 1);
	CHECK_EQ_INT(d.nparts, t.nparts);
	/* A record for another size is not this message's. */
	CHECK_EQ_INT(mime_cache_load(buf_data(&rec), buf_len(&rec), m_forward, len - 1, A, &d), 0);
	CHECK_EQ_INT(d.size, len - 1);
	buf_reset(&rec);
	CHECK(msg_summary_parse(m_forward, len, A, &sum) == 0);
	CHECK(msg_summary_encode(&sum, &rec) == 0);
	CHECK_EQ_INT(mime_cache_load(buf_data(&rec), buf_len(&rec), m_forward, len, A, &d), 0);
	CHECK_EQ_INT(d.nparts, t.nparts);
	CHECK_EQ_INT(mime_cache_load(NULL, 0, m_forward, len, A, &d), 0);

	/* Degraded to the root: a text/plain leaf that still encodes. */
	mime_tree_keep_root(&t, m_forward, len, 1);
	CHECK_EQ_INT(t.nparts, 1);
	CHECK(t.parts[0].flags & MIME_PART_TRUNCATED);
	CHECK(!(t.parts[0].flags & MIME_PART_MULTIPART));
	CHECK(t.flags & MIME_TREE_LIMITED);
	buf_reset(&rec);
	CHECK(mime_cache_encode(&t, &rec) == 0);
	CHECK(mime_cache_decode(buf_data(&rec), buf_len(&rec), A, &d) == 0);
	CHECK(tree_ok(&d));
	CHECK(d.parts[0].env != NULL);
	buf_free(&rec);
}

/* Whether some header has UTF-8 fields, noted in the record at parse time
 * (mime_cache_header_utf8(): an IMAP view reads it for every message). */
static void test_cache_header_utf8(void)
{
	static const char plain[] = "Subject: hi\r\n\r\nbody \xc3\xa9\r\n";
	static const char root[] = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	static const char nested[] =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		"Content-Type: message/rfc822\r\n\r\nSubject: caf\xc3\xa9\r\n\r\nx\r\n--b--\r\n";
	static const char latin1[] = "Subject: caf\xe9\r\n\r\nbody\r\n";
	const char *msgs[] = { plain, root, nested, latin1 };
	const int want[] = { 0, 1, 1, 0 };
	struct buf rec;

	for (size_t i = 0; i < 4; i++) {
		size_t len = strlen(msgs[i]);
		CHECK(mime_cache_build(msgs[i], len, &rec) == 0);
		CHECK_EQ_INT(mime_cache_header_utf8(buf_data(&rec), buf_len(&rec), len), want[i]);
		/* Another message's record, or none, tells nothing. */
		CHECK_EQ_INT(mime_cache_header_utf8(buf_data(&rec), buf_len(&rec), len + 1), -1);
		CHECK_EQ_INT(mime_cache_header_utf8(NULL, 0, len), -1);
		/* A record written before the scan (no MIME_TREE_HDR_SCANNED). */
		unsigned char *p = (unsigned char *)buf_data(&rec);
		p[1] &= (unsigned char)~(MIME_TREE_HDR_SCANNED | MIME_TREE_HDR_UTF8);
		CHECK_EQ_INT(mime_cache_header_utf8(buf_data(&rec), buf_len(&rec), len), -1);
		buf_free(&rec);
	}
}

/* Whether the last octet is an LF, noted in the record at parse time
 * (mime_cache_final_lf(): POP3 sizes a maildrop at login from it). */
static void test_cache_final_lf(void)
{
	static const char *const msgs[] = {
		"Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody", "Subject: a\r\n\r\nbody\r",
		"Subject: a\n\nbody\n", "Subject: a", "\n",
	};
	const int want[] = { 1, 0, 0, 1, 0, 1 };
	struct buf rec;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t len = strlen(msgs[i]);
		CHECK(mime_cache_build(msgs[i], len, &rec) == 0);
		CHECK_EQ_INT(mime_cache_final_lf(buf_data(&rec), buf_len(&rec), len), want[i]);
		/* Another message's record, or none, tells nothing. */
		CHECK_EQ_INT(mime_cache_final_lf(buf_data(&rec), buf_len(&rec), len + 1), -1);
		CHECK_EQ_INT(mime_cache_final_lf(NULL, 0, len), -1);
		/* The flags survive a decode and encode (a tree read back). */
		struct mime_tree t;
		struct buf again;
		CHECK(mime_cache_decode(buf_data(&rec), buf_len(&rec), A, &t) == 0);
		buf_init(&again, MIME_CACHE_META_MAX);
		CHECK(mime_cache_encode(&t, &again) == 0);
		CHECK_EQ_INT(mime_cache_final_lf(buf_data(&again), buf_len(&again), len), want[i]);
		buf_free(&again);
		/* A record written before the check (no MIME_TREE_END_SCANNED). */
		unsigned char *p = (unsigned char *)buf_data(&rec);
		p[1] &= (unsigned char)~(MIME_TREE_END_SCANNED | MIME_TREE_NO_FINAL_LF);
		CHECK_EQ_INT(mime_cache_final_lf(buf_data(&rec), buf_len(&rec), len), -1);
		CHECK(mime_cache_header_utf8(buf_data(&rec), buf_len(&rec), len) >= 0);
		buf_free(&rec);
	}
}

static int search_has(const char *msg, int body, const char *name, const char *needle)
{
	struct mime_tree t;
	struct mime_search sm;
	char fold[MIME_SEARCH_FOLD_ROOM(256)];
	size_t n = strlen(needle);

	memcpy(fold, needle, n);
	n = mime_search_fold(fold, n);
	mime_tree_parse(msg, strlen(msg), A, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	int r = body ? mime_search_body(&sm, str_make(fold, n))
		     : mime_search_header(&sm, name ? str_c(name) : STR_NULL, str_make(fold, n));
	mime_search_clear(&sm);
	return r;
}

static void test_search(void)
{
	static const char m[] = "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
				"Subject: Quarterly\r\n"
				" numbers\r\n"
				"MIME-Version: 1.0\r\n"
				"Content-Type: multipart/mixed; boundary=b\r\n"
				"\r\n"
				"--b\r\n"
				"Content-Type: text/plain; charset=iso-8859-1\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n"
				"\r\n"
				"Caf=E9 at ten, sof=\r\nt line break.\r\n"
				"--b\r\n"
				"Content-Type: text/plain\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"SGlkZGVuIFdvcmQ=\r\n"
				"--b\r\n"
				"Content-Type: application/pdf\r\n"
				"\r\n"
				"pdfonly\r\n"
				"--b--\r\n";

	CHECK(search_has(m, 0, "from", "ANDRÉ")); /* Latin letters fold too (mime_casefold) */
	CHECK(search_has(m, 0, "from", "andré"));
	CHECK(search_has(m, 0, "FROM", "example.ORG"));
	CHECK(search_has(m, 0, "subject", "quarterly numbers"));
	CHECK(search_has(m, 0, "subject", "andre") == 0);
	CHECK(search_has(m, 0, NULL, "andre@"));
	/* TEXT looks at the whole header, field names too (RFC 9051 §6.4.4) */
	CHECK(search_has(m, 0, NULL, "content-type"));
	CHECK(search_has(m, 0, NULL, "mime-version: 1.0"));
	CHECK(search_has(m, 0, "subject", "subject") == 0);
	/* ... "(including MIME header fields)": the parts' headers too, for
	 * TEXT only (HEADER names a field of the message's own header) */
	CHECK(search_has(m, 0, NULL, "transfer-encoding: quoted-printable"));
	CHECK(search_has(m, 0, NULL, "application/pdf"));
	CHECK(search_has(m, 0, "content-transfer-encoding", "quoted") == 0);
	CHECK(search_has(m, 0, "X-None", "") == 0);
	CHECK(search_has(m, 0, "Subject", ""));
	CHECK(search_has(m, 1, NULL, "café at ten"));
	CHECK(search_has(m, 1, NULL, "soft line"));
	CHECK(search_has(m, 1, NULL, "hidden word"));
	CHECK(search_has(m, 1, NULL, "pdfonly") == 0);
	CHECK(search_has(m, 1, NULL, "quarterly") == 0);
}

static struct str filter(struct str h, const struct str *names, size_t n, int not, char **m)
{
	uint64_t len;

	*m = mime_header_filter(h.p, h.len, names, n, not, &len);
	return str_make(*m, (size_t)len);
}

static void test_header_filter(void)
{
	struct mime_tree t = parse_cached(m_forward, strlen(m_forward), NULL);
	struct str names[] = {STR_LIT("subject"), STR_LIT("FROM")};
	uint64_t off, len;
	char *m;
	struct str r;

	CHECK(mime_tree_section_str(&t, STR_LIT("2"), MIME_SECTION_HEADER, NULL, &off, &len) == 0);
	r = filter(str_make(m_forward + off, (size_t)len), names, 2, 0, &m);
	CHECK_EQ_SLICE(r, "From: Ivan <ivan@example.org>\r\nSubject: Report\r\n\r\n");
	free(m);
	r = filter(str_make(m_forward + off, (size_t)len), names, 2, 1, &m);
	CHECK(strncmp(r.p, "To: Grace", 9) == 0);
	CHECK(memmem(r.p, r.len, "Subject", 7) == NULL);
	free(m);
	/* Lines are kept as written; the last gets a CRLF; no empty line
	 * in, none out. */
	r = filter(STR_LIT("Subject: a\nX: y\n b\nSubject: c"), names, 1, 0, &m);
	CHECK_EQ_SLICE(r, "Subject: a\nSubject: c\r\n");
	free(m);
	r = filter(STR_LIT("X: y\r\n\r\n"), names, 2, 0, &m);
	CHECK_EQ_SLICE(r, "\r\n");
	free(m);
	/* .NOT keeps a broken line that is no field. */
	r = filter(STR_LIT(" broken\r\nSubject: s\r\nX: y\r\n\r\n"), names, 1, 1, &m);
	CHECK_EQ_SLICE(r, " broken\r\nX: y\r\n\r\n");
	free(m);
}

/* Content-Type parameter syntax the way mailers really write it. */
static void test_params(void)
{
	struct str v, sub;
	struct mime_param *p;
	uint32_t n;

	CHECK(mime_field_params(A, STR_LIT("text/plain (comment); charset=us-ascii (Plain text)"),
	                        &v, &sub, &p, &n, 64) == 0);
	CHECK_EQ_SLICE(v, "text");
	CHECK_EQ_SLICE(sub, "plain");
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_SLICE(p[0].value, "us-ascii");
	CHECK(mime_field_params(A,
	                        STR_LIT("application/octet-stream; name=My File.pdf ;x=\"a\\\\b\""),
	                        &v, &sub, &p, &n, 64) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_SLICE(p[0].value, "My"); /* a token ends at white space (RFC 2045 §5.1) */
	CHECK_EQ_SLICE(p[1].value, "a\\b");
	/* ... and does not swallow a parameter written without its ';' */
	CHECK(mime_field_params(A, STR_LIT("text/plain; charset=us-ascii format=flowed; delsp=yes"),
	                        &v, &sub, &p, &n, 64) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_SLICE(p[0].value, "us-ascii");
	CHECK_EQ_SLICE(p[1].name, "delsp");
	CHECK(mime_field_params(A,
	                        STR_LIT("multipart/mixed; boundary=----=_Part_1_2.3; junk; =x; "
	                                "a=\"unterminated"),
	                        &v, &sub, &p, &n, 64) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_SLICE(p[0].value, "----=_Part_1_2.3");
	CHECK_EQ_SLICE(p[1].value, "unterminated");
	CHECK(mime_field_params(A, STR_LIT("text"), &v, &sub, &p, &n, 64) == -1);
	CHECK(mime_field_params(A, STR_LIT("text/"), &v, &sub, &p, &n, 64) == -1);
	CHECK(mime_field_params(A, STR_LIT("/plain"), &v, &sub, &p, &n, 64) == -1);
	CHECK(mime_field_params(A, STR_LIT("attachment;filename=a;filename=b"), &v, NULL, &p, &n,
	                        1) == 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_SLICE(mime_param_get(p, n, "filename"), "a");
	CHECK(mime_param_get(p, n, "other").p == NULL);
	/* Section numbers out of order, a gap, a duplicate, a leading zero
	 * (not a section: a parameter of its own). */
	CHECK(mime_field_params(A, STR_LIT("a/b; n*2=c; n*0=a; n*0=z; n*1=b; n*01=q; n*5=e"), &v,
	                        &sub, &p, &n, 64) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_SLICE(p[0].name, "n");
	CHECK_EQ_SLICE(p[0].value, "abce");
	CHECK_EQ_SLICE(p[1].name, "n*01");
	/* windows-1252 and an extended value without the quotes. */
	CHECK(mime_field_params(A, STR_LIT("a/b; f*=windows-1252''%80; g*=%41"), &v, &sub, &p, &n,
	                        64) == 0);
	CHECK_EQ_SLICE(p[0].value, "\xE2\x82\xAC");
	CHECK_EQ_SLICE(p[1].value, "A");
	CHECK_EQ_SLICE(p[1].charset, "");
}

int main(void)
{
	A = arena_new(0);
	test_thunderbird();
	test_apple();
	test_outlook();
	test_forward();
	test_forward_header();
	test_no_content_type();
	test_unclosed();
	test_boundary_prefix();
	test_rfc2231();
	test_quoting();
	test_line_ends();
	test_signed();
	test_digest();
	test_message_base64();
	test_envelope();
	test_envelope_long_route();
	test_nested_messages();
	test_limits();
	test_cache_corrupt();
	test_cache_load();
	test_cache_header_utf8();
	test_cache_final_lf();
	test_search();
	test_header_filter();
	test_params();
	arena_free(&A);
	return unit_done("test_mime_tree");
}
