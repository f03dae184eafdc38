/*
 * mime_downgrade.c — 8-bit MIME to 7-bit. See mime_downgrade.h.
 */
#include "mime/mime_downgrade.h"

#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/utf8.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"

int mime_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return 1;
	return 0;
}

static int enc_is(struct str e, const char *name)
{
	return e.p && e.len == strlen(name) && strncasecmp(e.p, name, e.len) == 0;
}

/*
 * Appends the header section h[0..n) (its empty line last) without its
 * Content-Transfer-Encoding field(s), then "Content-Transfer-Encoding:
 * cte" and the empty line.
 */
static int put_header(struct buf *out, const char *h, size_t n, const char *cte, int utf8)
{
	static const char name[] = "content-transfer-encoding:";
	int r = 0, skip = 0;
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(h + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - h) + 1 : n;
		size_t ll = e - i;
		if (ll == 1 || (ll == 2 && h[i] == '\r'))
			break; /* the empty line */
		if (h[i] != ' ' && h[i] != '\t')
			skip = ll >= sizeof name - 1 && strncasecmp(h + i, name, sizeof name - 1) == 0;
		if (!skip)
			r |= buf_append(out, h + i, ll);
		i = e;
	}
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
	if (!mime_has_8bit(msg, len))
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
		if (mime_has_8bit(msg + ho, bo - ho)) {
			r = -1;
			break;
		}
		if (ho < pos || !mime_has_8bit(msg + bo, be - bo))
			continue; /* inside a leaf already written, or nothing to do */
		if (p->flags & MIME_PART_NO_SEPARATOR) {
			r = -1;
			break;
		}
		int composite = (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0;
		if (composite && !enc_is(p->encoding, "8bit") && !enc_is(p->encoding, "binary"))
			continue; /* its children carry the conversion */
		if (!composite && p->encoding.p && !enc_is(p->encoding, "7bit") &&
		    !enc_is(p->encoding, "8bit") && !enc_is(p->encoding, "binary")) {
			r = -1; /* 8-bit octets in base64 or quoted-printable: broken */
			break;
		}
		r |= buf_append(out, msg + pos, ho - pos);
		/* A leaf with no Content-Type is text/plain in US-ASCII
		 * (RFC 2045 §5.2): once its 8-bit octets are encoded, readers
		 * would take them for that. 8-bit text that is UTF-8 says so
		 * (RFC 6532 §3's default); other octets are left unnamed. */
		int utf8 = !composite && !has_field(msg + ho, bo - ho, "content-type:") &&
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
