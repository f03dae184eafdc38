/*
 * sieve_vacation.c — RFC 5230's rules for vacation replies; see
 * sieve_vacation.h.
 */
#include "sieve/sieve_vacation.h"
#include "sieve/sieve_mailto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/utf8.h"

#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "mime/mime_header_text.h"
#include "mime/rfc5322.h"

#define HEADER_SCAN_MAX (256 * 1024)

/* Calls fn for each header field of msg (unfolded value); stops when fn
 * returns non-zero and returns that. */
typedef int field_fn(void *arg, struct str name, struct str value);

static int each_field(const char *msg, size_t len, field_fn *fn, void *arg)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int r = 0;
	char *tmp = NULL;
	size_t tmpcap = 0;

	if (len > HEADER_SCAN_MAX)
		len = HEADER_SCAN_MAX;
	rfc5322_init(&p);
	while (r == 0 && rfc5322_parse(&p, msg + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (f.name.len == 0)
			continue;
		if (f.value.len + 1 > tmpcap) {
			tmpcap = f.value.len + 1;
			free(tmp);
			tmp = malloc(tmpcap);
			if (!tmp)
				break;
		}
		size_t n = rfc5322_unfold(f.value, tmp);
		r = fn(arg, f.name, str_make(tmp, n));
	}
	free(tmp);
	rfc5322_clear(&p);
	return r;
}

static int addr_eq(struct str a, struct str b)
{
	a = str_trim(a);
	b = str_trim(b);
	return a.len && str_eq_ci(a, b);
}

/*
 * An Auto-Submitted value other than "no" (RFC 3834 §5: [CFWS] value
 * [CFWS] *(";" param), so "no (a person)" is "no"): read as MIME reads a
 * Content-Disposition, comments skipped and parameters apart. No token at
 * all is automatic too.
 */
static int automatic(struct str v)
{
	struct arena *a = arena_new(0);
	struct str t;
	struct mime_param *params;
	uint32_t np;
	int no = mime_field_params(a, v, &t, NULL, &params, &np, 8) == 0 && str_eq_ci(t, STR_LIT("no"));
	arena_free(&a);
	return !no;
}

/*
 * X-Auto-Response-Suppress (Microsoft, [MS-OXCMAIL] §2.2.3.2.20): a
 * comma-separated list of the kinds of automatic reply the sender does
 * not want; "OOF" (out of office) or "All" includes a vacation reply.
 * Exchange sets it on meeting requests and its own notices; Pigeonhole
 * honours it too.
 */
static int suppresses_oof(struct str v)
{
	while (v.len) {
		ptrdiff_t comma = str_chr(v, ',');
		size_t n = comma < 0 ? v.len : (size_t)comma;
		struct str t = str_trim(str_make(v.p, n));
		if (str_eq_ci(t, STR_LIT("All")) || str_eq_ci(t, STR_LIT("OOF")))
			return 1;
		v = comma < 0 ? str_make(v.p + v.len, 0) : str_make(v.p + n + 1, v.len - n - 1);
	}
	return 0;
}

struct skip_ctx {
	const struct str *ours;
	uint32_t nours;
	sieve_owned_fn *owned;
	void *owned_arg;
	uint32_t asked; /* addresses owned was asked about (a store look-up each) */
	int addressed;
	const char *why;
	char *found; /* the caller's, or NULL */
};

/* 1 when full (an address of a To/Cc/... field) is the user's. */
static int is_ours(struct skip_ctx *c, struct str full)
{
	for (uint32_t k = 0; k < c->nours; k++)
		if (addr_eq(full, c->ours[k]))
			return 1;
	if (!c->owned || c->asked >= SIEVE_VACATION_OWNED_MAX)
		return 0;
	c->asked++;
	return c->owned(c->owned_arg, full) == 1;
}

static int skip_field(void *arg, struct str name, struct str v)
{
	struct skip_ctx *c = arg;
	if (str_eq_ci(name, STR_LIT("Auto-Submitted"))) {
		if (automatic(v)) {
			c->why = "auto_submitted";
			return 1;
		}
	} else if (str_has_prefix_ci(name, "List-") &&
	           (str_eq_ci(name, STR_LIT("List-Id")) || str_eq_ci(name, STR_LIT("List-Help")) ||
	            str_eq_ci(name, STR_LIT("List-Unsubscribe")) ||
	            str_eq_ci(name, STR_LIT("List-Subscribe")) || str_eq_ci(name, STR_LIT("List-Post")) ||
	            str_eq_ci(name, STR_LIT("List-Owner")) || str_eq_ci(name, STR_LIT("List-Archive")))) {
		c->why = "list";
		return 1;
	} else if (str_eq_ci(name, STR_LIT("X-Auto-Response-Suppress"))) {
		if (suppresses_oof(v)) {
			c->why = "suppressed";
			return 1;
		}
	} else if (str_eq_ci(name, STR_LIT("Precedence"))) {
		struct str t = str_trim(v);
		if (str_eq_ci(t, STR_LIT("bulk")) || str_eq_ci(t, STR_LIT("list")) ||
		    str_eq_ci(t, STR_LIT("junk"))) {
			c->why = "bulk";
			return 1;
		}
	} else if (!c->addressed &&
	           (str_eq_ci(name, STR_LIT("To")) || str_eq_ci(name, STR_LIT("Cc")) ||
	            str_eq_ci(name, STR_LIT("Bcc")) || str_eq_ci(name, STR_LIT("Resent-To")) ||
	            str_eq_ci(name, STR_LIT("Resent-Cc")) || str_eq_ci(name, STR_LIT("Resent-Bcc")))) {
		struct arena *a = arena_new(0);
		struct mime_address *list;
		uint32_t n;
		mime_field_addresses(a, v, &list, &n, 1000);
		for (uint32_t i = 0; i < n && !c->addressed; i++) {
			if (!list[i].host.p || !list[i].mailbox.p)
				continue;
			char *full = arena_printf(a, "%.*s@%.*s", (int)list[i].mailbox.len, list[i].mailbox.p,
			                          (int)list[i].host.len, list[i].host.p);
			c->addressed = is_ours(c, str_c(full));
			if (c->addressed && c->found && strlen(full) < SIEVE_VACATION_ADDR_MAX)
				memcpy(c->found, full, strlen(full) + 1);
		}
		arena_free(&a);
	}
	return 0;
}

static int system_sender(struct str from)
{
	ptrdiff_t at = str_rchr(from, '@');
	struct str local = at < 0 ? from : str_make(from.p, (size_t)at);
	static const char *const names[] = { "mailer-daemon", "listserv", "majordomo", "postmaster", NULL };
	for (int i = 0; names[i]; i++)
		if (str_eq_ci(local, str_c(names[i])))
			return 1;
	if (str_has_prefix_ci(local, "owner-"))
		return 1;
	return local.len >= 8 && str_eq_ci(str_make(local.p + local.len - 8, 8), STR_LIT("-request"));
}

const char *sieve_vacation_skip(const char *msg, size_t len, struct str env_from,
                                const struct str *ours, uint32_t nours, sieve_owned_fn *owned,
                                void *owned_arg, char found[SIEVE_VACATION_ADDR_MAX])
{
	struct skip_ctx c = { ours, nours, owned, owned_arg, 0, 0, NULL, found };

	if (found)
		found[0] = '\0';

	if (str_trim(env_from).len == 0)
		return "null_sender";
	if (system_sender(env_from))
		return "system_sender";
	for (uint32_t i = 0; i < nours; i++)
		if (addr_eq(env_from, ours[i]))
			return "own_address";
	each_field(msg, len, skip_field, &c);
	if (c.why)
		return c.why;
	return c.addressed ? NULL : "not_addressed";
}

void sieve_vacation_key(const struct sieve_action *a, struct str sender, uint8_t key[32])
{
	crypto_generichash_state h;
	uint8_t mime = a->mime;
	char lower[320];
	size_t n = sender.len < sizeof lower ? sender.len : sizeof lower;

	for (size_t i = 0; i < n; i++) {
		char ch = sender.p[i];
		lower[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
	}
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, (const uint8_t *)"vacation", 9);
	if (a->handle.len) {
		crypto_generichash_update(&h, (const uint8_t *)"h", 1);
		crypto_generichash_update(&h, (const uint8_t *)a->handle.p, a->handle.len);
	} else {
		/* RFC 5230 §4.2: without :handle, the reason and the other
		 * arguments tell one vacation action from another. */
		struct str parts[3] = { a->text, a->subject, a->from };
		for (int i = 0; i < 3; i++) {
			uint8_t l[8];
			for (int k = 0; k < 8; k++)
				l[k] = (uint8_t)((uint64_t)parts[i].len >> (8 * k));
			crypto_generichash_update(&h, l, 8);
			if (parts[i].len)
				crypto_generichash_update(&h, (const uint8_t *)parts[i].p, parts[i].len);
		}
		crypto_generichash_update(&h, &mime, 1);
	}
	crypto_generichash_update(&h, (const uint8_t *)"\0", 1);
	crypto_generichash_update(&h, (const uint8_t *)lower, n);
	crypto_generichash_final(&h, key, 32);
}

struct orig {
	struct buf subject, msgid, refs;
};

static int orig_field(void *arg, struct str name, struct str v)
{
	struct orig *o = arg;
	if (str_eq_ci(name, STR_LIT("Subject")) && !buf_len(&o->subject))
		(void)rfc5322_decode_words(v, &o->subject);
	else if (str_eq_ci(name, STR_LIT("Message-ID")) && !buf_len(&o->msgid))
		(void)buf_append_str(&o->msgid, str_trim(v));
	else if (str_eq_ci(name, STR_LIT("References")) && !buf_len(&o->refs))
		(void)buf_append_str(&o->refs, str_trim(v));
	return 0;
}

/* Writes s without CR, LF or other controls (header injection). */
static void put_clean(struct buf *out, struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		(void)buf_append(out, &ch, 1);
	}
}

/* s as a MIME parameter's quoted-string (RFC 2045 §5.1, RFC 5322
 * §3.2.4): controls as spaces, '"' and '\\' as quoted-pairs. */
static void put_quoted(struct buf *out, struct str s)
{
	(void)buf_append(out, "\"", 1);
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			(void)buf_append(out, "\\", 1);
		put_clean(out, str_make(s.p + i, 1));
	}
	(void)buf_append(out, "\"", 1);
}

/* t with its line ends as CRLF, whatever the script wrote (a bare LF
 * is no line end in a message, RFC 5322 §2.3, and next hops refuse it). */
static void put_crlf(struct buf *out, struct str t)
{
	for (size_t i = 0; i < t.len; i++) {
		char c = t.p[i];
		if (c == '\n' && (i == 0 || t.p[i - 1] != '\r'))
			(void)buf_append(out, "\r", 1);
		(void)buf_append(out, &c, 1);
	}
}

/* Text with its line ends as CRLF, and one at its end. */
static void put_body(struct buf *out, struct str t)
{
	put_crlf(out, t);
	if (t.len < 2 || t.p[t.len - 1] != '\n')
		(void)buf_append_c(out, "\r\n");
}

void sieve_text_entity(struct buf *out, struct str t)
{
	(void)buf_append_c(out, "Content-Type: text/plain; charset=utf-8\r\n");
	(void)mime_text_body(out, t.p, t.len);
}

void sieve_from_value(struct buf *out, struct str s)
{
	int ascii = 1;
	for (size_t i = 0; i < s.len; i++)
		ascii &= (unsigned char)s.p[i] < 0x80;
	struct str t = str_trim(s);
	size_t end;
	ptrdiff_t lt = -1, gt = -1;
	/* The brackets as RFC 5322 reads them (sieve_mailbox_scan, as
	 * sieve_from_valid checked): a quoted name may hold "<" too. */
	if (ascii || sieve_mailbox_scan(t, 0, &end, &lt, &gt) < 0 || end != t.len || lt <= 0) {
		put_clean(out, s);
		return;
	}
	/* Comments after the angle-addr are dropped: they would stay 8-bit,
	 * and an encoded word there would not be a comment (RFC 2047 §5). */
	t.len = (size_t)gt + 1;
	struct str name = str_trim(str_make(t.p, (size_t)lt));
	struct buf plain;
	buf_init(&plain, name.len + 1);
	/* A quoted-string's quotes and escapes go: the words carry it. */
	if (name.len >= 2 && name.p[0] == '"' && name.p[name.len - 1] == '"') {
		for (size_t i = 1; i + 1 < name.len; i++) {
			if (name.p[i] == '\\' && i + 2 < name.len)
				i++;
			(void)buf_append(&plain, name.p + i, 1);
		}
	} else {
		(void)buf_append_str(&plain, name);
	}
	mime_header_text(out, buf_str(&plain));
	buf_free(&plain);
	(void)buf_append_c(out, " ");
	put_clean(out, str_make(t.p + lt, t.len - (size_t)lt));
}

/* The Content-Transfer-Encoding f names, lower case into cte (16). */
static void cte_of(struct str v, char cte[16])
{
	struct str t = str_trim(v);
	size_t n = t.len < 15 ? t.len : 15;
	for (size_t i = 0; i < n; i++)
		cte[i] = t.p[i] >= 'A' && t.p[i] <= 'Z' ? (char)(t.p[i] + 32) : t.p[i];
	cte[n] = '\0';
}

void sieve_mime_entity(struct buf *out, struct str text)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int r, typed = 0, text_type = 1, plain_cte = 1;
	char cte[16];

	/* What the entity is: a text one (or untyped: text/plain) whose
	 * encoding is the identity (none, 7bit, 8bit) gets its encoding
	 * from its body, as tern's own text does. */
	rfc5322_init(&p);
	while ((r = rfc5322_parse(&p, text.p + off, text.len - off, 1, &used, &f)) ==
	       RFC5322_FIELD) {
		off += used;
		if (str_eq_ci(f.name, STR_LIT("Content-Type"))) {
			typed = 1;
			text_type = str_has_prefix_ci(str_trim(f.value), "text/");
		} else if (str_eq_ci(f.name, STR_LIT("Content-Transfer-Encoding"))) {
			cte_of(f.value, cte);
			plain_cte = !strcmp(cte, "7bit") || !strcmp(cte, "8bit");
		}
	}
	int recode = text_type && plain_cte && r == RFC5322_END;
	rfc5322_clear(&p);
	rfc5322_init(&p);
	off = 0;
	while ((r = rfc5322_parse(&p, text.p + off, text.len - off, 1, &used, &f)) ==
	       RFC5322_FIELD) {
		off += used;
		if (f.name.len > 8 && str_has_prefix_ci(f.name, "Content-") &&
		    !(recode && str_eq_ci(f.name, STR_LIT("Content-Transfer-Encoding"))))
			put_crlf(out, f.raw);
	}
	struct str body = r == RFC5322_END && p.body_offset <= text.len
	                          ? str_make(text.p + p.body_offset, text.len - (size_t)p.body_offset)
	                          : STR_LIT("");
	rfc5322_clear(&p);
	if (recode) {
		if (!typed)
			(void)buf_append_c(out, "Content-Type: text/plain; charset=utf-8\r\n");
		(void)mime_text_body(out, body.p, body.len);
		return;
	}
	/* The empty line, then the body (none when the text was all header,
	 * or went past the parser's limits). */
	(void)buf_append_c(out, "\r\n");
	put_crlf(out, body);
}

/* Nothing but spaces, tabs and line ends: no text for a person. */
static int blank(struct str t)
{
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] != ' ' && t.p[i] != '\t' && t.p[i] != '\r' && t.p[i] != '\n')
			return 0;
	return 1;
}

/* The reply's text when the reason is blank (see the header): the
 * user's subject as its first line, when there is one, then which
 * message this answers and that no one wrote it. */
static void default_text(struct buf *out, struct str subject, struct str orig)
{
	struct buf b;
	buf_init(&b, subject.len + orig.len + 256);
	if (str_trim(subject).len) {
		put_clean(&b, subject);
		(void)buf_append_c(&b, "\n\n");
	}
	(void)buf_append_c(&b, "This is an automatic reply to your message");
	if (str_trim(orig).len) {
		(void)buf_append_c(&b, " \"");
		put_clean(&b, str_trim(orig));
		(void)buf_append_c(&b, "\"");
	}
	(void)buf_append_c(&b, ".\nIt has been received, and will be read later.\n");
	sieve_text_entity(out, buf_str(&b));
	buf_free(&b);
}

/*
 * RFC 5230 §5.5 leaves a long subject to the implementation: a reply's
 * subject longer than 256 characters is cut to 255 and "…" (U+2026), as
 * Pigeonhole cuts both a :subject and "Auto: " with the original's. A
 * notification's (RFC 5436 §2.6: :message, the URI's subject=, or "New
 * mail: " and the original's) is cut the same way, as RFC 5435 §3.8
 * asks of a method that shows it to a person. It
 * keeps a 1000-octet subject from filling a screen of folded lines; cut
 * at a character boundary, so no UTF-8 sequence is split. The lines stay
 * within RFC 5322 §2.1.1's limits either way (mime_header_text folds).
 */
#define SUBJECT_MAX_CHARS 256

static void put_subject(struct buf *out, struct str s)
{
	size_t off = 0, chars = 0, cut = 0, n;
	while (off < s.len) {
		(void)utf8_decode((const unsigned char *)s.p + off, s.len - off, &n);
		if (++chars == SUBJECT_MAX_CHARS)
			cut = off;
		off += n;
	}
	if (chars <= SUBJECT_MAX_CHARS) {
		mime_header_text(out, s);
		return;
	}
	struct buf b;
	buf_init(&b, cut + 3);
	(void)buf_append(&b, s.p, cut);
	(void)buf_append_c(&b, "\xe2\x80\xa6");
	mime_header_text(out, buf_str(&b));
	buf_free(&b);
}

int sieve_vacation_reply(const struct sieve_action *a, const char *msg, size_t len,
                         struct str sender, struct str from_default, const char *date,
                         const char *msgid, struct buf *out)
{
	struct orig o;
	buf_init(&o.subject, 4096);
	buf_init(&o.msgid, 1024);
	buf_init(&o.refs, 8192);
	each_field(msg, len, orig_field, &o);

	(void)buf_append_c(out, "From: ");
	sieve_from_value(out, a->from.len ? a->from : from_default);
	(void)buf_append_c(out, "\r\nTo: <");
	put_clean(out, sender);
	(void)buf_append_c(out, ">\r\nSubject: ");
	if (a->subject.len) {
		put_subject(out, a->subject);
	} else if (!str_trim(buf_str(&o.subject)).len) {
		/* No subject to prefix (RFC 3834 §3.1.5): "Auto: " alone
		 * would end the field in white space. */
		(void)buf_append_c(out, "Automated reply");
	} else {
		struct buf s;
		buf_init(&s, 4200);
		(void)buf_append_c(&s, "Auto: ");
		(void)buf_append_str(&s, buf_str(&o.subject));
		put_subject(out, buf_str(&s));
		buf_free(&s);
	}
	(void)buf_printf(out, "\r\nDate: %s\r\nMessage-ID: <%s>\r\n", date, msgid);
	if (buf_len(&o.msgid)) {
		/* Folded between the ids (a long thread's References would
		 * pass 998 octets on one line), controls made spaces. */
		(void)buf_append_c(out, "In-Reply-To: ");
		mime_header_fold(out, buf_str(&o.msgid));
		(void)buf_append_c(out, "\r\nReferences: ");
		if (buf_len(&o.refs)) {
			mime_header_fold(out, buf_str(&o.refs));
			(void)buf_append_c(out, " ");
		}
		mime_header_fold(out, buf_str(&o.msgid));
		(void)buf_append_c(out, "\r\n");
	}
	(void)buf_append_c(out, "Auto-Submitted: auto-replied (vacation)\r\nMIME-Version: 1.0\r\n");
	if (a->mime) {
		/* RFC 5230 §5.8: the reason is a MIME entity, its header included. */
		sieve_mime_entity(out, a->text);
	} else if (blank(a->text)) {
		default_text(out, a->subject, buf_str(&o.subject));
	} else {
		sieve_text_entity(out, a->text);
	}
	int full = buf_room(out) == 0;
	buf_free(&o.subject);
	buf_free(&o.msgid);
	buf_free(&o.refs);
	return full ? -1 : 0;
}

struct notify_skip {
	const char *why;
};

static int notify_field(void *arg, struct str name, struct str v)
{
	struct notify_skip *c = arg;
	if (!str_eq_ci(name, STR_LIT("Auto-Submitted")))
		return 0;
	if (automatic(v)) {
		c->why = "auto_submitted";
		return 1;
	}
	return 0;
}

const char *sieve_notify_skip(const char *msg, size_t len)
{
	struct notify_skip c = { NULL };
	each_field(msg, len, notify_field, &c);
	return c.why;
}

struct notify_orig {
	struct buf subject, from;
};

static int notify_orig_field(void *arg, struct str name, struct str v)
{
	struct notify_orig *o = arg;
	if (str_eq_ci(name, STR_LIT("Subject")) && !buf_len(&o->subject))
		(void)rfc5322_decode_words(v, &o->subject);
	else if (str_eq_ci(name, STR_LIT("From")) && !buf_len(&o->from))
		(void)rfc5322_decode_words(v, &o->from);
	return 0;
}


/* The URI's recipients of one field (To or Cc; its bcc ones are not
 * shown), as that field: with the display name the URI gave, written as
 * a :from's is (sieve_from_value). */
static void put_rcpts(struct buf *out, const struct sieve_mailto *m, int field, const char *name)
{
	int any = 0;
	for (uint32_t i = 0; i < m->nrcpts; i++) {
		if (m->field[i] != field)
			continue;
		(void)buf_append_c(out, any ? ",\r\n\t" : name);
		if (!any)
			(void)buf_append_c(out, ": ");
		if (m->named[i].len) {
			sieve_from_value(out, m->named[i]);
		} else {
			(void)buf_append_c(out, "<");
			put_clean(out, m->rcpts[i]);
			(void)buf_append_c(out, ">");
		}
		any = 1;
	}
	if (any)
		(void)buf_append_c(out, "\r\n");
}

int sieve_notify_message(const struct sieve_action *a, const struct sieve_mailto *m,
                         const char *msg, size_t len, struct str from_default, const char *date,
                         const char *msgid, struct buf *out)
{
	struct notify_orig o;
	buf_init(&o.subject, 4096);
	buf_init(&o.from, 4096);
	each_field(msg, len, notify_orig_field, &o);

	(void)buf_append_c(out, "From: ");
	sieve_from_value(out, a->from.len ? a->from : from_default);
	(void)buf_append_c(out, "\r\n");
	put_rcpts(out, m, SIEVE_MAILTO_TO, "To");
	put_rcpts(out, m, SIEVE_MAILTO_CC, "Cc");
	/* RFC 5436 §2.6: :message is the subject, over any other (the
	 * URI's subject= included, as in Pigeonhole); then the URI's; then
	 * one naming the original's. */
	(void)buf_append_c(out, "Subject: ");
	if (a->text.len) {
		put_subject(out, a->text);
	} else if (m->subject.len) {
		put_subject(out, m->subject);
	} else if (!str_trim(buf_str(&o.subject)).len) {
		(void)buf_append_c(out, "New mail"); /* nothing after ": " */
	} else {
		struct buf s;
		buf_init(&s, 4200);
		(void)buf_append_c(&s, "New mail: ");
		(void)buf_append_str(&s, buf_str(&o.subject));
		put_subject(out, buf_str(&s));
		buf_free(&s);
	}
	(void)buf_printf(out, "\r\nDate: %s\r\nMessage-ID: <%s>\r\n", date, msgid);
	/* RFC 5436 §2.7.1 and §3: auto-notified names the script's owner
	 * (owner-email or owner-token, one at least), so whoever gets a
	 * notification can tell whose script sent it. */
	(void)buf_append_c(out, "Auto-Submitted: auto-notified; owner-email=");
	put_quoted(out, from_default);
	(void)buf_append_c(out, "\r\n");
	if (str_eq(a->importance, STR_LIT("1")))
		(void)buf_append_c(out, "Importance: high\r\nX-Priority: 1 (Highest)\r\n");
	else if (str_eq(a->importance, STR_LIT("3")))
		(void)buf_append_c(out, "Importance: low\r\nX-Priority: 5 (Lowest)\r\n");
	(void)buf_append_c(out, "MIME-Version: 1.0\r\n");
	if (m->body.len) {
		sieve_text_entity(out, m->body);
	} else {
		struct buf b;
		buf_init(&b, a->text.len + 9000);
		if (a->text.len)
			put_body(&b, a->text);
		(void)buf_append_c(&b, "New mail from ");
		(void)buf_append_str(&b, buf_len(&o.from) ? buf_str(&o.from) : STR_LIT("(unknown)"));
		(void)buf_append_c(&b, "\nSubject: ");
		(void)buf_append_str(&b, buf_str(&o.subject));
		sieve_text_entity(out, buf_str(&b));
		buf_free(&b);
	}
	int full = buf_room(out) == 0;
	buf_free(&o.subject);
	buf_free(&o.from);
	return full ? -1 : 0;
}
