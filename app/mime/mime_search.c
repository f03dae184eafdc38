/*
 * mime_search.c — see mime_search.h.
 */
#include "mime/mime_search.h"
#include "mime/mime_thread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/unorm.h"
#include "core/xalloc.h"
#include "mime/mime_field.h"
#include "mime/mime_decode.h"
#include "mime/mime_html.h"
#include "mime/rfc5322.h"

/* One decoded header value. */
#define SEARCH_VALUE_MAX (256u * 1024)

void mime_search_init(struct mime_search *sm, const char *msg, size_t len,
                      const struct mime_tree *t)
{
	memset(sm, 0, sizeof(*sm));
	sm->msg = msg;
	sm->len = len;
	sm->t = t;
	buf_init(&sm->body, MIME_SEARCH_TEXT_MAX * 3 + MIME_PARTS_MAX + 64);
}

void mime_search_clear(struct mime_search *sm)
{
	buf_free(&sm->body);
	if (sm->keep && sm->body_done)
		buf_free(&sm->text);
	sm->body_done = 0;
}

/* i;unicode-casemap (RFC 5051, core/unorm.h): the key IMAP SEARCH
 * compares under I18NLEVEL=1 (RFC 5255 §4), JMAP's text filters and the
 * full-text index alike. Not mime_casefold, which stays as it was:
 * thread keys kept in the store hash subjects it folded
 * (store_thread.c), and changing it would move stored threads. ASCII
 * text (nearly all of it) is uppercased where it is (unorm_ascii_upper). */
size_t mime_search_fold(char *p, size_t n)
{
	size_t i = unorm_ascii_upper(p, p, n, 1);
	if (i == n)
		return n;
	char *t = xmalloc(UNORM_KD_GROWTH * (n - i));
	size_t m = unorm_casemap(p + i, n - i, t);
	memcpy(p + i, t, m);
	free(t);
	return i + m;
}

/* Where to end a piece of p[at..n) that is mapped on its own: about
 * FOLD_PIECE octets on, before an ASCII octet (a starter: nothing
 * reorders across it) when one is near, else before a lead octet. */
#define FOLD_PIECE 4096
static size_t piece_end(const char *p, size_t at, size_t n)
{
	if (n - at <= FOLD_PIECE)
		return n;
	size_t e = at + FOLD_PIECE;
	for (size_t k = e; k > e - 256; k--)
		if ((unsigned char)p[k] < 0x80)
			return k;
	while (e > at + 1 && ((unsigned char)p[e] & 0xc0) == 0x80)
		e--;
	return e;
}

void mime_search_fold_buf(struct buf *b)
{
	size_t n = buf_len(b), i = unorm_ascii_upper(buf_data(b), buf_data(b), n, 1);
	if (i == n)
		return;
	/* The rest is copied out and mapped back onto the buf piece by
	 * piece (a key may be UNORM_KD_GROWTH times as long); past the
	 * max, the prefix that fits, whole characters, as decoding keeps a
	 * prefix. */
	size_t rest = n - i;
	char *src = xmalloc(rest);
	memcpy(src, buf_data(b) + i, rest);
	b->len = i;
	for (size_t at = 0; at < rest;) {
		size_t e = piece_end(src, at, rest), avail;
		char *o = buf_reserve(b, UNORM_KD_GROWTH * (e - at), &avail);
		if (o) {
			buf_commit(b, unorm_casemap(src + at, e - at, o));
			at = e;
			continue;
		}
		/* near the max (or out of memory): what fits of this piece */
		char *t = xmalloc(UNORM_KD_GROWTH * (e - at));
		size_t m = unorm_casemap(src + at, e - at, t), room = buf_room(b), k = 0;
		while (k < m) {
			size_t l;
			(void)unorm_casemap_char_len(t + k, m - k, &l);
			if (k + l > room)
				break;
			k += l;
		}
		buf_append(b, t, k);
		free(t);
		break;
	}
	free(src);
}

static int contains(struct str hay, struct str needle)
{
	if (needle.len == 0)
		return 1;
	if (hay.len < needle.len)
		return 0;
	if (hay.len > 256)
		return memmem(hay.p, hay.len, needle.p, needle.len) != NULL;
	/* A header value: the first octet, then the rest, is cheaper here
	 * than memmem's set-up for a long needle. */
	const char *p = hay.p, *end = hay.p + hay.len - needle.len + 1;
	while (p < end && (p = memchr(p, needle.p[0], (size_t)(end - p))) != NULL) {
		if (memcmp(p + 1, needle.p + 1, needle.len - 1) == 0)
			return 1;
		p++;
	}
	return 0;
}

/* 1 when the unfolded header value, its encoded-words decoded and folded,
 * contains needle; dec is scratch space. */
static int value_contains(struct buf *dec, struct str unfolded, struct str needle)
{
	buf_reset(dec);
	rfc5322_decode_words(unfolded, dec); /* a prefix past the cap */
	mime_search_fold_buf(dec);
	return contains(buf_str(dec), needle);
}

/* No encoded-word: the decoded value is the value itself (a short one is
 * folded on the stack, not in a buf). */
static int plain_value(struct str v)
{
	return v.len <= 512 && !memmem(v.p, v.len, "=?", 2);
}

int mime_search_value(struct str unfolded, struct str needle)
{
	struct buf dec;
	if (!unfolded.p)
		return 0;
	if (needle.len == 0)
		return 1;
	if (plain_value(unfolded)) {
		char tmp[MIME_SEARCH_FOLD_ROOM(512)];
		memcpy(tmp, unfolded.p, unfolded.len);
		size_t n = mime_search_fold(tmp, unfolded.len);
		return contains(str_make(tmp, n), needle);
	}
	buf_init(&dec, SEARCH_VALUE_MAX);
	int hit = value_contains(&dec, unfolded, needle);
	buf_free(&dec);
	return hit;
}

void mime_search_fold_value(struct str unfolded, struct buf *out)
{
	buf_reset(out);
	if (plain_value(unfolded))
		buf_append(out, unfolded.p, unfolded.len); /* out full: nothing */
	else
		rfc5322_decode_words(unfolded, out); /* a prefix past the cap */
	mime_search_fold_buf(out);
}

int mime_search_contains(struct str folded, struct str needle)
{
	return contains(folded, needle);
}

static int is_address_field(struct str name)
{
	return str_eq_ci(name, STR_LIT("From")) || str_eq_ci(name, STR_LIT("To")) ||
	       str_eq_ci(name, STR_LIT("Cc")) || str_eq_ci(name, STR_LIT("Bcc"));
}

/* Addresses parsed from one field; more are not looked at. */
#define SEARCH_ADDR_MAX 1000

/*
 * Calls fn(arg, folded) with each address of an address field as the
 * ENVELOPE parses it, written back as "name <mailbox@host>", decoded and
 * folded in dec, until fn returns non-zero (then returns 1): a comment
 * or folding inside the address ("<user (c)@ (c) host>") is not in the
 * way of "user@host", as in Dovecot's address search.
 */
static int addresses_each(struct buf *dec, struct str unfolded,
			  int (*fn)(void *arg, struct str folded), void *arg)
{
	struct arena *a = arena_new(4096);
	struct mime_address *list;
	uint32_t n, i;
	int stop = 0;

	mime_field_addresses(a, unfolded, &list, &n, SEARCH_ADDR_MAX);
	for (i = 0; i < n && !stop; i++) {
		const struct mime_address *ad = &list[i];

		if (ad->host.p == NULL)
			continue; /* a group's start or end */
		buf_reset(dec);
		if (ad->name.p) {
			rfc5322_decode_words(ad->name, dec);
			buf_append(dec, " ", 1);
		}
		buf_append(dec, "<", 1);
		buf_append(dec, ad->mailbox.p, ad->mailbox.len);
		buf_append(dec, "@", 1);
		buf_append(dec, ad->host.p, ad->host.len);
		buf_append(dec, ">", 1);
		mime_search_fold_buf(dec);
		stop = fn(arg, buf_str(dec));
	}
	arena_free(&a);
	return stop;
}

static int address_has(void *arg, struct str folded)
{
	return contains(folded, *(const struct str *)arg);
}

/* Calls fn(arg, field) for each field of the header section at
 * hdr[0..len) until it returns non-zero. */
static void section_walk(const char *hdr, size_t len,
			 int (*fn)(void *arg, const struct rfc5322_field *f), void *arg)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;

	rfc5322_init(&p);
	while (rfc5322_parse(&p, hdr + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (fn(arg, &f))
			break;
	}
	rfc5322_clear(&p);
}

/*
 * After a Content-Type or Content-Disposition value in dec, the values
 * of its RFC 2231 extended parameters as a reader's mail program shows
 * them (filename*=UTF-8''caf%C3%A9.pdf is "café.pdf"), each after a
 * space: the value as written is searched as well, as before.
 */
static void add_params(struct str name, struct str unfolded, struct buf *dec)
{
	int type = str_eq_ci(name, STR_LIT("Content-Type"));
	if ((!type && !str_eq_ci(name, STR_LIT("Content-Disposition"))) ||
	    !memchr(unfolded.p, '*', unfolded.len))
		return;
	struct arena *a = arena_new(1024);
	struct str v, sub;
	struct mime_param *pr;
	uint32_t np = 0;
	mime_field_params(a, unfolded, &v, type ? &sub : NULL, &pr, &np, MIME_PARAMS_MAX);
	for (uint32_t i = 0; i < np; i++) {
		if (!(pr[i].flags & MIME_PARAM_UTF8) && !(pr[i].flags & MIME_PARAM_EXTENDED))
			continue;
		buf_append(dec, " ", 1);
		buf_append(dec, pr[i].value.p, pr[i].value.len);
	}
	arena_free(&a);
}

/* A field's unfolded value decoded (encoded-words, RFC 2231 parameters)
 * and folded into dec, after "Name: " when with_name. */
static void value_text(struct str name, struct str unfolded, int with_name, struct buf *dec)
{
	buf_reset(dec);
	if (with_name) {
		buf_append(dec, name.p, name.len);
		buf_append(dec, ": ", 2);
	}
	rfc5322_decode_words(unfolded, dec); /* a prefix past the cap */
	add_params(name, unfolded, dec);
	mime_search_fold_buf(dec);
}

/* The haystack of any field for TEXT into dec: the field's name is header
 * text too (RFC 9051 §6.4.4 "in the header"), so "Name: value",
 * unfolded, its encoded-words and RFC 2231 parameters decoded, folded. */
static void field_text(const struct rfc5322_field *f, struct buf *dec)
{
	char *un = xmalloc(f->value.len + 1);
	size_t n = rfc5322_unfold(f->value, un);
	value_text(f->name, str_make(un, n), 1, dec);
	free(un);
}

struct field_has {
	struct str name, needle;
	struct buf *dec;
	int hit;
};

static int field_has(void *arg, const struct rfc5322_field *f)
{
	struct field_has *h = arg;
	if (h->name.p && !str_eq_ci(f->name, h->name))
		return 0;
	if (h->needle.len == 0)
		return h->hit = 1;
	if (!h->name.p) {
		field_text(f, h->dec);
		return h->hit = contains(buf_str(h->dec), h->needle);
	}
	char *un = xmalloc(f->value.len + 1);
	size_t n = rfc5322_unfold(f->value, un);
	value_text(f->name, str_make(un, n), 0, h->dec);
	h->hit = contains(buf_str(h->dec), h->needle) ||
		 (is_address_field(h->name) &&
		  addresses_each(h->dec, str_make(un, n), address_has, &h->needle));
	free(un);
	return h->hit;
}

/* 1 when a field of the header section at hdr[0..len) named name (p ==
 * NULL: any) holds needle, as mime_search_header() says; dec is scratch. */
static int section_has(const char *hdr, size_t len, struct str name, struct str needle,
		       struct buf *dec)
{
	struct field_has h = { .name = name, .needle = needle, .dec = dec };
	section_walk(hdr, len, field_has, &h);
	return h.hit;
}

/* The header sections TEXT looks at: the message's, then every part's
 * MIME header and every encapsulated message's header. fn as for
 * section_walk, per section; stops when it returns non-zero. */
static int each_section(struct mime_search *sm, int (*fn)(void *arg, const char *hdr, size_t len),
			void *arg)
{
	if (fn(arg, sm->msg, sm->len))
		return 1;
	for (uint32_t i = 1; sm->t && i < sm->t->nparts; i++) {
		const struct mime_part *pt = &sm->t->parts[i];
		if (pt->body_off > pt->hdr_off && pt->body_off <= sm->len &&
		    fn(arg, sm->msg + pt->hdr_off, (size_t)(pt->body_off - pt->hdr_off)))
			return 1;
	}
	return 0;
}

struct section_arg {
	struct str name, needle;
	struct buf *dec;
};

static int section_cb(void *arg, const char *hdr, size_t len)
{
	struct section_arg *a = arg;
	return section_has(hdr, len, a->name, a->needle, a->dec);
}

int mime_search_header(struct mime_search *sm, struct str name, struct str needle)
{
	struct buf dec;
	struct section_arg a = { .name = name, .needle = needle, .dec = &dec };
	int hit;

	buf_init(&dec, SEARCH_VALUE_MAX);
	/* TEXT: "the header (including MIME header fields)" (RFC 9051
	 * §6.4.4): every part's MIME header and every encapsulated message's
	 * header too. */
	hit = name.p ? section_has(sm->msg, sm->len, name, needle, &dec)
		     : each_section(sm, section_cb, &a);
	buf_free(&dec);
	return hit;
}

struct visit_arg {
	mime_search_visit *visit;
	void *arg;
	struct buf *dec;
};

static int visit_field(void *arg, const struct rfc5322_field *f)
{
	struct visit_arg *v = arg;
	field_text(f, v->dec);
	v->visit(v->arg, buf_str(v->dec));
	return 0;
}

static int visit_section(void *arg, const char *hdr, size_t len)
{
	section_walk(hdr, len, visit_field, arg);
	return 0;
}

static int visit_address(void *arg, struct str folded)
{
	struct visit_arg *v = arg;
	v->visit(v->arg, folded);
	return 0;
}

/* The root header's address fields as FROM, TO, CC and BCC also see them. */
static int visit_addresses(void *arg, const struct rfc5322_field *f)
{
	struct visit_arg *v = arg;
	if (!is_address_field(f->name))
		return 0;
	char *un = xmalloc(f->value.len + 1);
	size_t n = rfc5322_unfold(f->value, un);
	struct buf dec;
	buf_init(&dec, SEARCH_VALUE_MAX);
	addresses_each(&dec, str_make(un, n), visit_address, v);
	buf_free(&dec);
	free(un);
	return 0;
}

/* Encoded octets add_part decodes at a time: its buffers are a few of
 * these whatever the part's size (a whole 4 MiB part decoded and then
 * converted took up to four times its size at once). */
#define PART_CHUNK (64u * 1024)

/*
 * Where decoded text in p[0..n) may be cut so that converting the pieces
 * apart gives what converting it whole would, leaving at most PART_CHUNK
 * octets for the next piece: after the last line end (ISO-2022-JP returns
 * to ASCII before each, RFC 1468); else after the last octet below 0x30,
 * which no charset mime_decode converts uses inside a character (the
 * East Asian ones' second octets are 0x40 and up, GB18030's four-octet
 * form has digits second and fourth); else, in a run without either,
 * before a UTF-8 lead octet among the last four; else all of it. UTF-7
 * (utf7) and UTF-16 (utf16: mime_charset_utf16()'s order) have rules of
 * their own, below.
 */
static size_t safe_cut(const char *p, size_t n, int utf7, int utf16)
{
	if (utf16) {
		/* at a unit's start, not after a high surrogate (0xD8..0xDB
		 * its high octet, last or second last by the order) */
		size_t i = n & ~(size_t)1;
		if (i >= 2) {
			unsigned char hi = (unsigned char)p[utf16 == 2 ? i - 1 : i - 2];
			if (hi >= 0xD8 && hi <= 0xDB)
				i -= 2;
		}
		return i;
	}
	if (utf7) {
		/* UTF-7: after an octet that ends a base64 run (RFC 2152),
		 * which a line end is too; never after "+", "/" or a letter */
		for (size_t i = n; i > 0 && n - i <= PART_CHUNK; i--) {
			unsigned char c = (unsigned char)p[i - 1];
			if (base64_digit(c) < 0)
				return i;
		}
		return n;
	}
	const char *nl = memrchr(p, '\n', n);
	if (nl && n - (size_t)(nl + 1 - p) <= PART_CHUNK)
		return (size_t)(nl + 1 - p);
	for (size_t i = n; i > 0 && n - i <= PART_CHUNK; i--)
		if ((unsigned char)p[i - 1] < 0x30)
			return i;
	for (size_t i = n; i > 0 && i + 4 > n; i--)
		if ((unsigned char)p[i - 1] >= 0xC0)
			return i - 1;
	return n;
}

/*
 * A format=flowed part (RFC 3676) read as its reader shows it: a line
 * that ends in a space (the "-- " signature line aside) goes on with the
 * next when that one has as many quote marks (§4.5; they are dropped),
 * with DelSp=yes without that space; a space-stuffed line loses its
 * stuffing. Else a phrase a sender's mailer wrapped ("the quarterly
 * \r\nreport") was not found as "quarterly report". A state machine over
 * the converted text, so the pieces add_part converts may be cut
 * anywhere; it writes no more than it reads.
 */
struct flowed {
	int delsp;
	int phase;     /* 0: at quote marks, 1: after them, 2: in the text */
	int cr;        /* a CR held back: a line end if LF follows */
	int held;      /* a soft line end held back: 1 LF, 2 CRLF */
	size_t held_quotes; /* the quote marks of the line it ended */
	size_t spaces; /* spaces held back: at the line's end, soft */
	size_t words;  /* octets of the line's text but the held spaces */
	int dashes;    /* those octets are all '-' */
	size_t quotes; /* quote marks of this line */
};

/* The line's quote marks are counted: joined to the line before (same
 * depth after a soft end), or that line's end and the marks written. */
static void flowed_quotes(struct mime_search *sm, struct flowed *f)
{
	if (!f->held || f->quotes != f->held_quotes) {
		if (f->held)
			buf_append(&sm->body, &"\r\n"[f->held == 1], (size_t)f->held);
		for (size_t i = 0; i < f->quotes; i++)
			buf_append(&sm->body, ">", 1);
	}
	f->held = 0;
	f->phase = 1;
}

/* Text octets p[0..n), after the spaces held back. */
static void flowed_text(struct mime_search *sm, struct flowed *f, const char *p, size_t n)
{
	int dashes = f->words == 0 || (f->dashes && !f->spaces);
	for (size_t i = 0; i < n && dashes; i++)
		dashes = p[i] == '-';
	f->dashes = dashes;
	for (; f->spaces; f->spaces--, f->words++)
		buf_append(&sm->body, " ", 1);
	buf_append(&sm->body, p, n);
	f->words += n;
}

static void flowed_eol(struct mime_search *sm, struct flowed *f, int crlf)
{
	if (f->phase == 0)
		flowed_quotes(sm, f);
	int sig = f->words == 2 && f->dashes && f->spaces == 1;
	int soft = f->spaces && !sig;
	if (soft && f->delsp)
		f->spaces--;
	for (; f->spaces; f->spaces--)
		buf_append(&sm->body, " ", 1);
	if (soft) {
		f->held = 1 + crlf;
		f->held_quotes = f->quotes;
	} else {
		buf_append(&sm->body, &"\r\n"[!crlf], 2 - (size_t)!crlf);
	}
	f->phase = 0;
	f->words = 0;
	f->dashes = 0;
	f->quotes = 0;
}

static void flowed_feed(struct mime_search *sm, struct flowed *f, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (f->cr) {
			f->cr = 0;
			if (p[i] == '\n') {
				flowed_eol(sm, f, 1);
				i++;
				continue;
			}
			flowed_text(sm, f, "\r", 1);
		}
		if (f->phase == 0) {
			if (p[i] == '>') {
				f->quotes++;
				i++;
				continue;
			}
			flowed_quotes(sm, f);
			if (p[i] == ' ') { /* stuffing: " >From" and "> text" */
				i++;
				continue;
			}
		}
		f->phase = 2;
		/* The rest of the line (or of this piece) in one append, its
		 * trailing spaces (and a CR at the piece's end) held back. */
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n, e = end, k;
		int cr = e > i && p[e - 1] == '\r';
		e -= (size_t)cr;
		for (k = e; k > i && p[k - 1] == ' '; k--)
			;
		if (k > i)
			flowed_text(sm, f, p + i, k - i);
		f->spaces += e - k;
		if (nl) {
			flowed_eol(sm, f, cr);
			i = end + 1;
		} else {
			f->cr = cr;
			i = n;
		}
	}
}

static void flowed_finish(struct mime_search *sm, struct flowed *f)
{
	if (f->phase == 0 && f->quotes)
		flowed_quotes(sm, f);
	if (f->held)
		buf_append(&sm->body, &"\r\n"[f->held == 1], (size_t)f->held);
	if (f->cr)
		flowed_text(sm, f, "\r", 1);
	for (; f->spaces; f->spaces--)
		buf_append(&sm->body, " ", 1);
}

/* Appends the decoded UTF-8 text of leaf p; *budget is encoded octets left.
 * Decodes and converts PART_CHUNK at a time, cutting where safe_cut says.
 * An HTML part's text is what a reader sees (mime_html.h: markup,
 * comments, <script> and <style> gone, character references decoded,
 * white space collapsed, blocks on lines of their own), and text the
 * markup hides from view too, as Dovecot's and Stalwart's HTML-to-text
 * keep it; its raw markup matched "div" and "nbsp" in every HTML message
 * and missed "Hello" in "<b>Hel</b>lo" and "café" in "caf&eacute;". */
static void add_part(struct mime_search *sm, const struct mime_part *p, size_t *budget)
{
	size_t n = (size_t)(p->body_end - p->body_off), at = 0, np = 0;
	struct str cs = mime_param_get(p->params, p->nparams, "charset");
	int utf7 = mime_charset_is_utf7(cs), utf16 = -1; /* -1: not yet seen */
	struct mime_decoder d;
	if (n > *budget)
		n = *budget;
	*budget -= n;
	/* Pending decoded text: what a cut left (at most one piece but for
	 * a few octets) and one piece's output; u its conversion. Sized by
	 * the part: most are a few KiB, and a search reads thousands. */
	size_t c = n < PART_CHUNK ? n : PART_CHUNK;
	size_t pcap = c + 4 + MIME_DECODE_OUT_MAX(c) + MIME_DECODE_OUT_MAX(0);
	char *pend = xmalloc(pcap), *u = xmalloc(3 * pcap + 1);
	struct mime_html *html = NULL;
	struct flowed fl = { 0 }, *flowed = NULL;
	if (mime_part_is(p, "text", "html")) {
		html = xmalloc(sizeof *html);
		mime_html_init(html, &sm->body, &sm->body, NULL, NULL);
	} else if (mime_part_is(p, "text", "plain") &&
		   str_eq_ci(mime_param_get(p->params, p->nparams, "format"), STR_LIT("flowed"))) {
		flowed = &fl;
		fl.delsp = str_eq_ci(mime_param_get(p->params, p->nparams, "delsp"), STR_LIT("yes"));
	}
	mime_decoder_init(&d, mime_cte_parse(p->encoding));
	for (;;) {
		size_t k = n - at < PART_CHUNK ? n - at : PART_CHUNK;
		int last = k == 0;
		if (last)
			np += mime_decoder_finish(&d, pend + np);
		else
			np += mime_decoder_feed(&d, sm->msg + p->body_off + at, k, pend + np);
		at += k;
		if (!last && np < PART_CHUNK)
			continue;
		if (utf16 < 0)
			utf16 = mime_charset_utf16(cs, pend, np); /* by the BOM */
		size_t cut = last ? np : safe_cut(pend, np, utf7, utf16);
		ptrdiff_t ul = mime_charset_to_utf8(cs, pend, cut, u);
		/* Only the first piece has UTF-16's BOM: the others are
		 * converted in the order it gave. */
		if (utf16 > 0)
			cs = utf16 == 2 ? STR_LIT("utf-16le") : STR_LIT("utf-16be");
		/* a charset we cannot convert: its octets as they are */
		struct str t = ul < 0 ? str_make(pend, cut) : str_make(u, (size_t)ul);
		if (html)
			mime_html_feed(html, t.p, t.len);
		else if (flowed)
			flowed_feed(sm, flowed, t.p, t.len);
		else
			buf_append(&sm->body, t.p, t.len);
		memmove(pend, pend + cut, np - cut);
		np -= cut;
		if (last)
			break;
	}
	if (html) {
		mime_html_finish(html);
		free(html);
	}
	if (flowed)
		flowed_finish(sm, flowed);
	/* Parts are joined with a line end so no match spans two of them. */
	buf_append(&sm->body, "\n", 1);
	free(u);
	free(pend);
}

/* The leaves whose text the body search reads. */
static int is_text_leaf(const struct mime_search *sm, const struct mime_part *p)
{
	return !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) &&
	       mime_part_is(p, "text", NULL) && p->body_end <= sm->len;
}

/*
 * Room for the body text of most mail: a part's encoded size bounds its
 * decoded size, and text in UTF-8 or ASCII keeps it when converted (other
 * charsets may grow, and the buffer with them), plus a line end a part.
 */
static size_t text_room(const struct mime_search *sm)
{
	size_t left = MIME_SEARCH_TEXT_MAX, need = 0;
	for (uint32_t i = 0; i < sm->t->nparts && left; i++) {
		const struct mime_part *p = &sm->t->parts[i];
		if (!is_text_leaf(sm, p))
			continue;
		size_t n = (size_t)(p->body_end - p->body_off);
		n = n < left ? n : left;
		left -= n;
		need += n + 1;
	}
	return need;
}

static void body_build(struct mime_search *sm)
{
	if (!sm->body_done) {
		size_t budget = MIME_SEARCH_TEXT_MAX, avail, need = text_room(sm);
		/* The room at once: doubling towards a 4 MB text held the old
		 * copy and the new one together. */
		if (need)
			buf_reserve(&sm->body, need, &avail);
		for (uint32_t i = 0; i < sm->t->nparts && budget; i++) {
			const struct mime_part *p = &sm->t->parts[i];
			if (is_text_leaf(sm, p))
				add_part(sm, p, &budget);
		}
		if (sm->keep) {
			buf_init(&sm->text, buf_len(&sm->body) + 1);
			buf_append(&sm->text, buf_data(&sm->body), buf_len(&sm->body));
		}
		mime_search_fold_buf(&sm->body);
		sm->body_done = 1;
	}
}

int mime_search_body(struct mime_search *sm, struct str needle)
{
	if (needle.len == 0)
		return 1;
	body_build(sm);
	return contains(buf_str(&sm->body), needle);
}

long mime_search_body_find(struct mime_search *sm, struct str needle, size_t from)
{
	body_build(sm);
	struct str b = buf_str(&sm->body);
	if (!needle.len || from >= b.len)
		return -1;
	const char *hit = memmem(b.p + from, b.len - from, needle.p, needle.len);
	return hit ? (long)(hit - b.p) : -1;
}

struct str mime_search_body_text(struct mime_search *sm)
{
	body_build(sm);
	return sm->keep ? buf_str(&sm->text) : STR_NULL;
}

void mime_search_each_text(struct mime_search *sm, mime_search_visit *visit, void *arg)
{
	struct buf dec;
	struct visit_arg v = { .visit = visit, .arg = arg, .dec = &dec };

	buf_init(&dec, SEARCH_VALUE_MAX);
	each_section(sm, visit_section, &v);
	section_walk(sm->msg, sm->len, visit_addresses, &v);
	buf_free(&dec);
	body_build(sm);
	visit(arg, buf_str(&sm->body));
}
