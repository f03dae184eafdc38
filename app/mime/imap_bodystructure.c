/*
 * imap_bodystructure.c — BODY, BODYSTRUCTURE and ENVELOPE writers (see
 * imap_bodystructure.h).
 */
#include "mime/imap_bodystructure.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "core/punycode.h"
#include "core/utf8.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_header_downgrade.h"
#include "mime/mime_header_text.h"

struct w {
	struct buf *out;
	const struct mime_tree *t;
	unsigned flags;
	int err;
};

static void put(struct w *w, const char *s, size_t n)
{
	if (!w->err && buf_append(w->out, s, n) < 0)
		w->err = 1;
}

static void putc_(struct w *w, char c)
{
	put(w, &c, 1);
}

static void puts_(struct w *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct w *w, uint64_t v)
{
	if (!w->err && buf_printf(w->out, "%" PRIu64, v) < 0)
		w->err = 1;
}

/* 1 when s must go as a literal. */
static int needs_literal(struct str s, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, k;

	while (i < s.len) {
		if (p[i] == '\r' || p[i] == '\n')
			return 1;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(flags & IMAP_BS_UTF8))
			return 1;
		k = utf8_seq(p + i, s.len - i);
		if (k == 0)
			return 1;
		i += k;
	}
	return 0;
}

static void string(struct w *w, struct str s)
{
	size_t i, start;

	if (needs_literal(s, w->flags)) {
		if (!w->err && buf_printf(w->out, "{%zu}\r\n", s.len) < 0)
			w->err = 1;
		for (i = start = 0; i < s.len; i++) {
			if (s.p[i] != '\0')
				continue;
			put(w, s.p + start, i - start);
			putc_(w, ' ');
			start = i + 1;
		}
		put(w, s.p + start, s.len - start);
		return;
	}
	putc_(w, '"');
	for (i = start = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c != '"' && c != '\\' && c != '\0')
			continue;
		put(w, s.p + start, i - start);
		if (c == '\0') {
			putc_(w, ' ');
		} else {
			putc_(w, '\\');
			putc_(w, c);
		}
		start = i + 1;
	}
	put(w, s.p + start, s.len - start);
	putc_(w, '"');
}

static void nstring(struct w *w, struct str s)
{
	if (s.p == NULL)
		puts_(w, "NIL");
	else
		string(w, s);
}

int imap_string_write(struct buf *out, struct str s, unsigned flags)
{
	struct w w = {out, NULL, flags, 0};

	if (s.p == NULL)
		s = str_make("", 0);
	string(&w, s);
	return w.err ? -1 : 0;
}

int imap_nstring_write(struct buf *out, struct str s, unsigned flags)
{
	struct w w = {out, NULL, flags, 0};

	nstring(&w, s);
	return w.err ? -1 : 0;
}

static int is_ascii_text(struct str s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] >= 0x7F || (unsigned char)s.p[i] < 0x20)
			return 0;
	return 1;
}

static int utf8_text(struct str s)
{
	return s.p && mime_has_8bit(s.p, s.len) && utf8_valid(s);
}

/* How a parameter goes out: decoded under its name, or (re-)encoded as
 * name*. A plain value in raw UTF-8 (RFC 6532) for a client without
 * UTF-8 (IMAP_BS_ASCII) goes as name*=utf-8''%XX, as the header
 * downgrade (mime_header_downgrade.h) rewrites it in BODY[MIME]. */
static int send_decoded(const struct mime_param *p, unsigned flags)
{
	if (!(p->flags & MIME_PARAM_EXTENDED))
		return !(flags & IMAP_BS_ASCII) || !utf8_text(p->value);
	if (!(p->flags & MIME_PARAM_UTF8))
		return 0;
	return is_ascii_text(p->value) ||
	       ((flags & IMAP_BS_UTF8) && !needs_literal(p->value, flags));
}

/* RFC 2231 attribute-char: what may stay unencoded in name*=. */
static int is_attr_char(unsigned char c)
{
	return c > 32 && c < 127 && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

static void param_2231(struct w *w, const struct mime_param *p)
{
	char tmp[3];
	size_t i, n = 0;
	/* A plain parameter here is raw UTF-8 (send_decoded()). */
	struct str cs = (p->flags & (MIME_PARAM_UTF8 | MIME_PARAM_EXTENDED)) != MIME_PARAM_EXTENDED
				? STR_LIT("utf-8")
				: p->charset;
	struct buf enc;

	/* Built apart first: its length decides quoting, and it is bounded
	 * by three times the value. */
	buf_init(&enc, cs.len + p->language.len + 3 * p->value.len + 2);
	if (buf_append_str(&enc, cs) < 0 || buf_append(&enc, "'", 1) < 0 ||
	    buf_append_str(&enc, p->language) < 0 || buf_append(&enc, "'", 1) < 0)
		w->err = 1;
	for (i = 0; i < p->value.len && !w->err; i++) {
		unsigned char c = (unsigned char)p->value.p[i];

		n = 0;
		if (is_attr_char(c)) {
			tmp[n++] = (char)c;
		} else {
			tmp[n++] = '%';
			tmp[n++] = hex_upper[c >> 4];
			tmp[n++] = hex_upper[c & 15];
		}
		if (buf_append(&enc, tmp, n) < 0)
			w->err = 1;
	}
	if (!w->err) {
		struct buf name;

		buf_init(&name, p->name.len + 1);
		if (buf_append_str(&name, p->name) < 0 || buf_append(&name, "*", 1) < 0)
			w->err = 1;
		string(w, buf_str(&name));
		putc_(w, ' ');
		string(w, buf_str(&enc));
		buf_free(&name);
	}
	buf_free(&enc);
}

static void params(struct w *w, const struct mime_param *v, uint32_t n, int text_default)
{
	uint32_t i, k, written = 0;

	if (n == 0) {
		puts_(w, text_default ? "(\"charset\" \"us-ascii\")" : "NIL");
		return;
	}
	putc_(w, '(');
	for (i = 0; i < n; i++) {
		const struct mime_param *p = &v[i];

		if (!(p->flags & MIME_PARAM_EXTENDED)) {
			/* A plain fallback next to an RFC 2231 value that goes
			 * out decoded under the same name would say it twice.
			 * Nor would one in raw UTF-8 going out as name* next to the
			 * name* already there. */
			for (k = 0; k < n; k++)
				if (k != i && (v[k].flags & MIME_PARAM_EXTENDED) &&
				    (send_decoded(&v[k], w->flags) || !send_decoded(p, w->flags)) &&
				    str_eq_ci(v[k].name, p->name))
					break;
			if (k < n)
				continue;
		}
		if (written++)
			putc_(w, ' ');
		if (send_decoded(p, w->flags)) {
			string(w, p->name);
			putc_(w, ' ');
			string(w, p->value);
		} else {
			param_2231(w, p);
		}
	}
	/* RFC 2046 §4.1.2: a text part without charset is US-ASCII; say so
	 * after its other parameters, as Dovecot does. */
	if (text_default && mime_param_get(v, n, "charset").p == NULL) {
		if (written)
			putc_(w, ' ');
		puts_(w, "\"charset\" \"us-ascii\"");
	}
	putc_(w, ')');
}

static void disposition(struct w *w, const struct mime_part *p)
{
	if (p->disposition.p == NULL) {
		puts_(w, "NIL");
		return;
	}
	putc_(w, '(');
	string(w, p->disposition);
	putc_(w, ' ');
	params(w, p->disp_params, p->ndisp_params, 0);
	putc_(w, ')');
}

/* 1 when s is UTF-8 the header downgrade has no ASCII form for: the
 * field (Content-Location, Content-MD5, Content-Language) is renamed
 * Downgraded-<name> for a client without UTF-8 (IMAP_BS_ASCII), so the
 * part has none. */
static int renamed(const struct w *w, struct str s)
{
	return (w->flags & IMAP_BS_ASCII) && utf8_text(s);
}

static void ascii_nstring(struct w *w, struct str s)
{
	nstring(w, renamed(w, s) ? (struct str){ 0 } : s);
}

static void languages(struct w *w, const struct mime_part *p)
{
	uint32_t i;

	for (i = 0; i < p->nlanguages; i++)
		if (renamed(w, p->languages[i]))
			break;
	if (p->nlanguages == 0 || i < p->nlanguages) {
		puts_(w, "NIL");
		return;
	}
	if (p->nlanguages == 1) {
		string(w, p->languages[0]);
		return;
	}
	putc_(w, '(');
	for (i = 0; i < p->nlanguages; i++) {
		if (i)
			putc_(w, ' ');
		string(w, p->languages[i]);
	}
	putc_(w, ')');
}

/* " md5 dsp lang loc" / " params dsp lang loc" tails */
static void extension_tail(struct w *w, const struct mime_part *p)
{
	putc_(w, ' ');
	disposition(w, p);
	putc_(w, ' ');
	languages(w, p);
	putc_(w, ' ');
	ascii_nstring(w, p->location);
}

static void empty_body(struct w *w)
{
	puts_(w, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
	if (w->flags & IMAP_BS_EXTENDED)
		puts_(w, " NIL NIL NIL NIL");
	putc_(w, ')');
}

/* s, or with IMAP_BS_ASCII its UTF-8 as RFC 2047 words (unstructured:
 * as a Subject field's value), on one line. */
static void text_nstring(struct w *w, struct str s, int unstructured)
{
	if (!(w->flags & IMAP_BS_ASCII) || !utf8_text(s)) {
		nstring(w, s);
		return;
	}
	struct buf b;
	buf_init(&b, 6 * s.len + 1024);
	if (unstructured)
		mime_header_text(&b, s);
	else
		mime_header_words(&b, s);
	char *p = buf_data(&b);
	size_t n = 0;
	for (size_t i = 0; i < buf_len(&b); i++)
		if (p[i] != '\r' && p[i] != '\n')
			p[n++] = p[i];
	nstring(w, str_make(p, n));
	buf_free(&b);
}

/* IMAP_BS_ASCII: a mailbox whose local part is UTF-8 (no ASCII form), as
 * an empty group named "name <mailbox@host>" in words. */
static void unconvertible(struct w *w, const struct mime_address *a)
{
	struct buf t;
	buf_init(&t, a->name.len + a->mailbox.len + a->host.len + 8);
	if (a->name.p && a->name.len) {
		buf_append(&t, a->name.p, a->name.len);
		buf_append_c(&t, " <");
	}
	buf_append(&t, a->mailbox.p, a->mailbox.len);
	buf_append_c(&t, "@");
	buf_append(&t, a->host.p, a->host.len);
	if (a->name.p && a->name.len)
		buf_append_c(&t, ">");
	puts_(w, "(NIL NIL ");
	text_nstring(w, buf_str(&t), 0);
	puts_(w, " NIL)(NIL NIL NIL NIL)");
	buf_free(&t);
}

static void addresses(struct w *w, const struct mime_addrs *l)
{
	uint32_t i;
	int in_group = 0;

	if (l->n == 0) {
		puts_(w, "NIL");
		return;
	}
	putc_(w, '(');
	for (i = 0; i < l->n && !w->err; i++) {
		const struct mime_address *a = &l->v[i];
		char host[1024];
		struct str h = a->host;

		if (!a->host.p)
			in_group = a->mailbox.p != NULL; /* a group's start or end */
		if ((w->flags & IMAP_BS_ASCII) && a->host.p && utf8_text(a->mailbox)) {
			if (!in_group)
				unconvertible(w, a);
			continue;
		}
		if ((w->flags & IMAP_BS_ASCII) && utf8_text(a->host) && a->host.len < 1000) {
			char addr[1024];
			addr[0] = 'x';
			addr[1] = '@';
			memcpy(addr + 2, a->host.p, a->host.len);
			addr[a->host.len + 2] = 0;
			size_t n = punycode_address_ascii(addr, host, sizeof host);
			if (n > 2)
				h = str_make(host + 2, n - 2);
		}
		putc_(w, '(');
		text_nstring(w, a->name, 0);
		putc_(w, ' ');
		nstring(w, a->adl);
		putc_(w, ' ');
		if (a->mailbox.p && a->host.p && memchr(a->mailbox.p, '"', a->mailbox.len)) {
			/* a quoted local part: ENVELOPE gives its content */
			char *c = xmalloc(a->mailbox.len + 1);

			string(w, str_make(c, mime_local_part_content(a->mailbox, c)));
			free(c);
		} else {
			nstring(w, a->mailbox);
		}
		putc_(w, ' ');
		nstring(w, h);
		putc_(w, ')');
	}
	putc_(w, ')');
}

/*
 * A message id as the header downgrade shows it (IMAP_BS_ASCII): one
 * "<local@domain>" whose domain alone is UTF-8 with its A-labels (the
 * field keeps its name); any other UTF-8 id has no ASCII form, the
 * field is renamed (Downgraded-Message-ID), so the ENVELOPE has none.
 */
static void ascii_id(struct w *w, int ascii, struct str id)
{
	if (!ascii || !utf8_text(id)) {
		nstring(w, id);
		return;
	}
	char in[512], out[600];
	size_t n = 0;
	if (id.len >= 4 && id.len < sizeof in && id.p[0] == '<' && id.p[id.len - 1] == '>' &&
	    !memchr(id.p + 1, '<', id.len - 2)) {
		memcpy(in, id.p + 1, id.len - 2);
		in[id.len - 2] = 0;
		out[0] = '<';
		n = punycode_address_ascii(in, out + 1, sizeof out - 2);
	}
	if (n == 0 || n + 2 > sizeof out) {
		nstring(w, (struct str){ 0 });
		return;
	}
	out[n + 1] = '>';
	nstring(w, str_make(out, n + 2));
}

static void envelope(struct w *w, const struct mime_envelope *e)
{
	if (e == NULL) {
		puts_(w, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	putc_(w, '(');
	nstring(w, e->date);
	putc_(w, ' ');
	text_nstring(w, e->subject, 1);
	putc_(w, ' ');
	addresses(w, &e->from);
	putc_(w, ' ');
	addresses(w, e->sender.n ? &e->sender : &e->from);
	putc_(w, ' ');
	addresses(w, e->reply_to.n ? &e->reply_to : &e->from);
	putc_(w, ' ');
	addresses(w, &e->to);
	putc_(w, ' ');
	addresses(w, &e->cc);
	putc_(w, ' ');
	addresses(w, &e->bcc);
	putc_(w, ' ');
	int ascii = w->flags & IMAP_BS_ASCII;
	ascii_id(w, ascii, e->in_reply_to);
	putc_(w, ' ');
	ascii_id(w, ascii, e->message_id);
	putc_(w, ')');
}

static void part(struct w *w, uint32_t i)
{
	const struct mime_part *p = &w->t->parts[i];
	int ext = (w->flags & IMAP_BS_EXTENDED) != 0;
	int is_text = str_eq_ci_c(p->type, "text");
	uint32_t c;

	if (w->err)
		return;
	putc_(w, '(');
	if (p->flags & MIME_PART_MULTIPART) {
		if (p->nchildren == 0)
			empty_body(w);
		for (c = p->nchildren ? i + 1 : MIME_NONE; c != MIME_NONE && !w->err;
		     c = w->t->parts[c].next)
			part(w, c);
		putc_(w, ' ');
		string(w, p->subtype);
		if (ext) {
			putc_(w, ' ');
			params(w, p->params, p->nparams, 0);
			extension_tail(w, p);
		}
		putc_(w, ')');
		return;
	}
	string(w, p->type);
	putc_(w, ' ');
	string(w, p->subtype);
	putc_(w, ' ');
	params(w, p->params, p->nparams, is_text);
	putc_(w, ' ');
	ascii_id(w, w->flags & IMAP_BS_ASCII, p->id);
	putc_(w, ' ');
	text_nstring(w, p->description, 1);
	putc_(w, ' ');
	if (p->encoding.p && p->encoding.len)
		string(w, p->encoding);
	else
		puts_(w, "\"7bit\"");
	putc_(w, ' ');
	put_u64(w, p->body_end - p->body_off + ((w->flags & IMAP_BS_CRLF) ? p->body_bare_lf : 0));
	if (str_eq_ci_c(p->type, "message") &&
	    (str_eq_ci_c(p->subtype, "rfc822") || str_eq_ci_c(p->subtype, "global"))) {
		putc_(w, ' ');
		if ((p->flags & MIME_PART_MESSAGE) && p->nchildren == 1) {
			envelope(w, w->t->parts[i + 1].env);
			putc_(w, ' ');
			part(w, i + 1);
		} else {
			envelope(w, NULL);
			putc_(w, ' ');
			empty_body(w);
		}
		putc_(w, ' ');
		put_u64(w, p->lines);
	} else if (is_text) {
		putc_(w, ' ');
		put_u64(w, p->lines);
	}
	if (ext) {
		putc_(w, ' ');
		ascii_nstring(w, p->md5);
		extension_tail(w, p);
	}
	putc_(w, ')');
}

int imap_bodystructure_write(struct buf *out, const struct mime_tree *t, uint32_t i, unsigned flags)
{
	struct w w = {out, t, flags, 0};

	if (i >= t->nparts)
		return -1;
	part(&w, i);
	return w.err ? -1 : 0;
}

int imap_envelope_write(struct buf *out, const struct mime_envelope *env, unsigned flags)
{
	struct w w = {out, NULL, flags, 0};

	envelope(&w, env);
	return w.err ? -1 : 0;
}
