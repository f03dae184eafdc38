/*
 * mime_downgrade.c — 8-bit MIME to 7-bit. See mime_downgrade.h.
 */
#include "mime/mime_downgrade.h"

#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/utf8.h"
#include "mime/mime_decode.h"
#include "mime/mime_header_text.h"
#include "mime/mime_tree.h"

int mime_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return 1;
	return 0;
}

int mime_has_long_line(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - p) : n, l = e - i;
		if (l > 0 && nl && p[e - 1] == '\r')
			l--;
		if (l > MIME_LINE_MAX)
			return 1;
		i = e + 1;
	}
	return 0;
}

static int enc_is(struct str e, const char *name)
{
	return e.p && e.len == strlen(name) && strncasecmp(e.p, name, e.len) == 0;
}

/* Where the line at h[i] ends (after its LF), in h[0..n). */
static size_t line_end(const char *h, size_t n, size_t i)
{
	const char *nl = memchr(h + i, '\n', n - i);
	return nl ? (size_t)(nl - h) + 1 : n;
}

static int name_is(const char *f, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n >= l && strncasecmp(f, name, l) == 0;
}

/*
 * The field f[0..n) (its line end included), which has 8-bit octets, in
 * 7 bit: an unstructured field (RFC 5322 §3.6.5, RFC 2045 §8) whose
 * value is UTF-8 gets it as RFC 2047 words; -1 for any other (an address
 * or a parameter has no such form a reader would take).
 */
static int put_field_7bit(struct buf *out, const char *f, size_t n)
{
	static const char *const unstructured[] = {"subject:", "comments:",
						    "content-description:"};
	const char *colon = memchr(f, ':', n);
	int ok = 0;
	for (size_t k = 0; k < sizeof unstructured / sizeof *unstructured; k++)
		ok |= name_is(f, n, unstructured[k]);
	if (!ok || !colon)
		return -1;
	size_t vs = (size_t)(colon - f) + 1, ve = n;
	while (vs < ve && (f[vs] == ' ' || f[vs] == '\t'))
		vs++;
	while (ve > vs && (f[ve - 1] == '\n' || f[ve - 1] == '\r'))
		ve--;
	struct str v = str_make(f + vs, ve - vs);
	/* Encoded, a value takes 3 octets for one and a line per 20. */
	if (!utf8_valid(v) || buf_room(out) < 4 * v.len + 256)
		return -1;
	int r = buf_append(out, f, (size_t)(colon - f) + 1);
	r |= buf_append_c(out, " ");
	mime_header_text(out, v);
	r |= buf_append_c(out, "\r\n");
	return r;
}

/*
 * Appends the header section h[0..n) (its empty line last) with its 8-bit
 * fields in 7 bit (put_field_7bit); with cte, without its
 * Content-Transfer-Encoding field(s) and with "Content-Transfer-Encoding:
 * cte" last (and a Content-Type naming UTF-8 before it with utf8).
 */
static int put_header(struct buf *out, const char *h, size_t n, const char *cte, int utf8)
{
	int r = 0;
	size_t i = 0;
	while (i < n) {
		size_t e = line_end(h, n, i);
		if (e - i == 1 || (e - i == 2 && h[i] == '\r'))
			break; /* the empty line */
		/* The field: its first line and those continuing it. */
		while (e < n && (h[e] == ' ' || h[e] == '\t'))
			e = line_end(h, n, e);
		if (cte && name_is(h + i, e - i, "content-transfer-encoding:"))
			;
		else if (mime_has_8bit(h + i, e - i))
			r |= put_field_7bit(out, h + i, e - i);
		else
			r |= buf_append(out, h + i, e - i);
		i = e;
	}
	if (!cte)
		return r < 0 || buf_append(out, h + i, n - i) < 0 ? -1 : 0;
	if (utf8)
		r |= buf_append_c(out, "Content-Type: text/plain; charset=utf-8\r\n");
	r |= buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n", cte);
	return r < 0 ? -1 : 0;
}

/* Whether the header section h[0..n) has a field name ("name:"). */
static int has_field(const char *h, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(h + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - h) + 1 : n;
		if (e - i >= len && strncasecmp(h + i, name, len) == 0)
			return 1;
		i = e;
	}
	return 0;
}

int mime_downgrade_7bit(const char *msg, size_t len, struct buf *out)
{
	if (!mime_has_8bit(msg, len) && !mime_has_long_line(msg, len))
		return buf_append(out, msg, len);
	struct arena *a = arena_new(64 * 1024);
	struct mime_tree t;
	mime_tree_parse(msg, len, a, &t);
	int r = 0;
	size_t pos = 0, start = buf_len(out);
	if (t.flags & MIME_TREE_LIMITED)
		r = -1;
	/* A Content-Transfer-Encoding counts only in a message that claims
	 * MIME (RFC 2045 §4): a plain RFC 5322 message made
	 * quoted-printable says MIME-Version: 1.0 too, or readers show it
	 * encoded. */
	if (r == 0 && t.nparts > 0 && !has_field(msg, (size_t)t.parts[0].body_off, "mime-version:"))
		r |= buf_append_c(out, "MIME-Version: 1.0\r\n");
	for (uint32_t i = 0; r == 0 && i < t.nparts; i++) {
		const struct mime_part *p = &t.parts[i];
		size_t ho = (size_t)p->hdr_off, bo = (size_t)p->body_off, be = (size_t)p->body_end;
		int head8 = mime_has_8bit(msg + ho, bo - ho);
		int body8 = mime_has_8bit(msg + bo, be - bo);
		/* A line over 998 octets (RFC 5322 §2.1.1) in a leaf that is
		 * not encoded yet: quoted-printable's soft breaks make it
		 * lines a hop takes (one in base64 or quoted-printable is
		 * left as it is). */
		int longl = !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) &&
			    (!p->encoding.p || enc_is(p->encoding, "7bit") ||
			     enc_is(p->encoding, "8bit") || enc_is(p->encoding, "binary")) &&
			    mime_has_long_line(msg + bo, be - bo);
		if (ho < pos || (!head8 && !body8 && !longl))
			continue; /* inside a leaf already written, or nothing to do */
		if (p->flags & MIME_PART_NO_SEPARATOR) {
			r = -1;
			break;
		}
		int composite = (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0;
		/* The body changes: a leaf's with 8-bit octets, or the
		 * encoding field of a composite that says 8bit or binary
		 * (its children carry the conversion otherwise). */
		int conv = longl || (body8 && (!composite || enc_is(p->encoding, "8bit") ||
					       enc_is(p->encoding, "binary")));
		if (!conv && !head8)
			continue;
		if (conv && !composite && p->encoding.p && !enc_is(p->encoding, "7bit") &&
		    !enc_is(p->encoding, "8bit") && !enc_is(p->encoding, "binary")) {
			r = -1; /* 8-bit octets in base64 or quoted-printable: broken */
			break;
		}
		r |= buf_append(out, msg + pos, ho - pos);
		/* An encapsulated message (RFC 2045 §4) claims MIME by the
		 * fields it gets, so it says so, as the top level does. */
		if (i > 0 && p->env && !has_field(msg + ho, bo - ho, "mime-version:"))
			r |= buf_append_c(out, "MIME-Version: 1.0\r\n");
		if (!conv) {
			r |= put_header(out, msg + ho, bo - ho, NULL, 0);
			pos = bo;
			continue;
		}
		/* A leaf with no Content-Type is text/plain in US-ASCII
		 * (RFC 2045 §5.2): once its 8-bit octets are encoded, readers
		 * would take them for that. 8-bit text that is UTF-8 says so
		 * (RFC 6532 §3's default); other octets are left unnamed, and
		 * ASCII made quoted-printable for a long line stays US-ASCII. */
		int utf8 = !composite && body8 && !has_field(msg + ho, bo - ho, "content-type:") &&
			   utf8_valid(str_make(msg + bo, be - bo));
		r |= put_header(out, msg + ho, bo - ho, composite ? "7bit" : "quoted-printable", utf8);
		if (composite) {
			pos = bo;
		} else {
			r |= mime_qp_lines(out, msg + bo, be - bo);
			pos = be;
		}
	}
	if (r == 0)
		r = buf_append(out, msg + pos, len - pos);
	/* 8-bit octets outside every part (a multipart's preamble or
	 * epilogue) have no encoding to take: refused. */
	if (r == 0 && mime_has_8bit(buf_data(out) + start, buf_len(out) - start))
		r = -1;
	arena_free(&a);
	return r < 0 ? -1 : 0;
}
