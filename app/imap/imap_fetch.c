/*
 * imap_fetch.c — FETCH output, streamed.
 *
 * A FETCH may ask for gigabytes (1:* BODY.PEEK[] over a big mailbox), so
 * nothing is prepared ahead: imap_fetch_refill() produces one message's
 * response at a time, and a literal's octets chunk by chunk, each chunk
 * copied from the store in its own short read transaction (as pop3_mail.c
 * does for RETR), whenever the output buffer drained below IMAP_OUT_HIGH.
 * So the output buffer never holds more than IMAP_OUT_HIGH plus one chunk.
 *
 * Where a section starts and how long it is gets computed once per
 * message, from one look at the raw bytes, before anything of that
 * message is written: a message that disappeared from the store by then
 * (expunged over POP3) is left out and the command ends with
 * "NO [EXPUNGEISSUED]". Should it vanish in the middle of a literal, the
 * connection is closed: a half-sent literal cannot be taken back.
 *
 * Sections: HEADER is the header up to and including the empty line that
 * ends it; TEXT is what follows; a message without an empty line is all
 * header. HEADER.FIELDS(.NOT) keeps (drops) the named fields, each with
 * its continuation lines, and ends with the empty line, as Dovecot sends.
 *
 * Structure: ENVELOPE, BODY, BODYSTRUCTURE, sections with part numbers
 * and BINARY read the MIME tree cached with the email at delivery
 * (mime_cache_load(): decoded from the record, or the message parsed once
 * when an older build stored none), in the same read transaction as the
 * message. Sizes are given as if line ends were CRLF (IMAP_BS_CRLF); mail
 * arriving over SMTP always has CRLF, so they equal the octets sent. A
 * part that does not exist, or HEADER/TEXT of a part that is not a
 * message, is NIL (an nstring, RFC 9051 §7.5.2: Gmail answers so, and
 * clients take it; Dovecot sends ""). BINARY decodes base64 and
 * quoted-printable into memory (at most the part's size); a multipart or
 * message part goes as it is, its own encoding being an identity (RFC
 * 2045 §6.4) and its parts keeping the headers that name theirs; a part
 * in an encoding we do not know leaves its message out and ends the
 * command with NO [UNKNOWN-CTE]. PREVIEW
 * is computed the same way, from the tree and the message (mime_preview.h).
 * A NUL in a plain literal (a binary part APPENDed as literal8) goes out
 * as 0x80; BINARY sends the real octets as literal8 (write_literal()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "imap/imap_dg_cache.h"
#include "imap/imap_downgrade.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"
#include "mime/imap_bodystructure.h"
#include "mime/mime_cache.h"
#include "mime/mime_header_downgrade.h"
#include "mime/mime_decode.h"
#include "mime/mime_preview.h"
#include "mime/mime_tree.h"
#include "net/conn.h"

#define FETCH_CHUNK 65536
/* Ceiling of one ENVELOPE or BODYSTRUCTURE; past it the structure of the
 * root part only is sent. */
#define FETCH_STRUCT_MAX (4u * 1024 * 1024)
#define FETCH_DEGRADED_ADDRS 100

/* f->how[i]: how item i's octets go out. */
enum { HOW_LITERAL, HOW_LITERAL8, HOW_INLINE, HOW_NIL, HOW_NUMBER };

static void end_message(struct imap_fetch *f)
{
	if (f->mem)
		for (size_t i = 0; i < f->nitems; i++) {
			free(f->mem[i]);
			f->mem[i] = NULL;
		}
	f->in_msg = 0;
	f->lit = -1;
	f->msg_unknown_cte = 0;
	imap_dg_free(&f->dg);
	store_hold_release(imap_store, &f->hold);
}

void imap_fetch_free(struct imap_session *s)
{
	struct imap_fetch *f = s->fetch;
	if (!f)
		return;
	end_message(f);
	free(f->start);
	free(f->len);
	free(f->mem);
	free(f->how);
	free(f->seen_uids);
	arena_free(&f->arena);
	if (f->own)
		arena_free(&f->own);
	free(f);
	s->fetch = NULL;
}

/* The next view index to send, or -1 at the end. */
static int64_t next_index(struct imap_session *s, struct imap_fetch *f)
{
	const struct imap_mailbox_view *v = &s->view;

	while (f->range < f->set.count) {
		const struct imap_seq_range *r = &f->set.ranges[f->range];
		if (!f->uid_mode) {
			if (f->next < r->lo)
				f->next = r->lo;
			if (f->next <= r->hi && f->next <= v->count)
				return (int64_t)f->next++ - 1;
		} else {
			uint32_t lb = imap_view_lower_bound(v, r->lo);
			if (f->next < lb)
				f->next = lb;
			if (f->next < v->count && v->msgs[f->next].uid <= r->hi)
				return (int64_t)f->next++;
		}
		f->range++;
	}
	return -1;
}

uint64_t imap_header_end(const char *d, size_t len)
{
	if (len >= 2 && d[0] == '\r' && d[1] == '\n')
		return 2;
	if (len >= 1 && d[0] == '\n')
		return 1;
	for (size_t i = 1; i + 1 < len; i++) {
		if (d[i] != '\n')
			continue;
		if (d[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

char *imap_header_filter(const char *d, uint64_t hlen, const struct imap_arg *fields, int not,
			 uint64_t *len_r)
{
	size_t n = 0, k = 0;
	for (const struct imap_arg *f = fields; f->type != IMAP_ARG_END; f++)
		n++;
	struct str *names = xmalloc((n + 1) * sizeof(*names));
	for (; fields->type != IMAP_ARG_END; fields++)
		if (imap_arg_astring(fields, &names[k]) == 0)
			k++; /* what is no astring names no field */
	char *out = mime_header_filter(d, hlen, names, k, not, len_r);
	free(names);
	return out;
}

struct locate_ctx {
	struct imap_fetch *f;
};

/* A malloc'ed copy of b's octets (b is freed). */
static char *buf_take(struct buf *b, uint64_t *len_r)
{
	char *m = xmalloc(buf_len(b) + 1);
	memcpy(m, buf_data(b), buf_len(b));
	*len_r = buf_len(b);
	buf_free(b);
	return m;
}

/* ENVELOPE, BODY or BODYSTRUCTURE of the message, malloc'ed: of t, the
 * tree as sent (downgraded: imap_dg_tree()), or when that is too big of
 * the root of orig, the stored message's tree. */
static char *render_structure(const struct imap_fetch_item *it, const struct mime_tree *t,
			      const struct mime_tree *orig, struct arena *a, const char *d,
			      size_t len, uint64_t *len_r, int ascii)
{
	/* IMAP_BS_ASCII for an attached message's envelope too. */
	unsigned flags = IMAP_BS_CRLF | (it->kind == IMAP_FI_BODYSTRUCTURE ? IMAP_BS_EXTENDED : 0) |
			 (ascii ? IMAP_BS_ASCII : 0);
	struct buf b;
	int r = -1;

	buf_init(&b, FETCH_STRUCT_MAX);
	for (int pass = 0; pass < 2; pass++) {
		if (it->kind == IMAP_FI_ENVELOPE)
			r = imap_envelope_write(&b, t->parts[0].env, flags);
		else
			r = imap_bodystructure_write(&b, t, 0, flags);
		if (r == 0 || pass)
			break;
		/* Too big (a hostile message): describe the root part only, on a
		 * copy so the other items still see the whole tree. */
		struct mime_tree *c = arena_alloc(a, sizeof(*c));
		struct mime_part *root = arena_alloc(a, sizeof(*root));
		t = orig; /* the root's offsets and sizes are its own */
		*c = *t;
		*root = t->parts[0];
		if (root->env) {
			struct mime_envelope *env = arena_alloc(a, sizeof(*env));
			*env = *root->env;
			root->env = env;
		}
		c->parts = root;
		mime_tree_keep_root(c, d, len, FETCH_DEGRADED_ADDRS);
		t = c;
		buf_reset(&b);
	}
	if (r < 0) {
		buf_reset(&b);
		buf_append_c(&b, it->kind == IMAP_FI_ENVELOPE
					 ? "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
					 : "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
	}
	return buf_take(&b, len_r);
}

static enum mime_section section_kind(enum imap_section_text text)
{
	switch (text) {
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT: return MIME_SECTION_HEADER;
	case IMAP_SECTION_TEXT: return MIME_SECTION_TEXT;
	case IMAP_SECTION_MIME: return MIME_SECTION_MIME;
	default: return MIME_SECTION_WHOLE;
	}
}

/*
 * BODY[section]'s octets: sets *st and *ln (in: 0 and the message's
 * length), or f->mem[i] for header fields filtered, or f->how[i] =
 * HOW_NIL for a part the message does not have. BINARY's HEADER, MIME
 * and HEADER.FIELDS sections are these octets too: a header has no
 * transfer encoding to undo.
 */
static void locate_body(struct imap_fetch *f, size_t i, const struct mime_tree *t, const char *d,
			uint64_t len, uint64_t hend, uint64_t *st, uint64_t *ln)
{
	const struct imap_fetch_item *it = &f->items[i];

	if (it->nparts == 0 && it->text != IMAP_SECTION_MIME) {
		switch (it->text) {
		case IMAP_SECTION_HEADER: *ln = hend; break;
		case IMAP_SECTION_TEXT:
			*st = hend;
			*ln = len - hend;
			break;
		case IMAP_SECTION_HEADER_FIELDS:
		case IMAP_SECTION_HEADER_FIELDS_NOT:
			*st = 0;
			*ln = hend;
			break;
		default: break;
		}
	} else if (mime_tree_section(t, it->part, it->nparts, section_kind(it->text), NULL, st,
				     ln) != 0) {
		f->how[i] = HOW_NIL;
		return;
	}
	if (it->text == IMAP_SECTION_HEADER_FIELDS || it->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		/* Filtered from the header as this session sees it
		 * (downgraded or not). */
		const char *h = imap_dg_section(&f->dg, d, *st, ln);
		f->mem[i] = imap_header_filter(h, *ln, it->fields,
					       it->text == IMAP_SECTION_HEADER_FIELDS_NOT, ln);
		*st = 0;
	}
}

/*
 * BINARY[part] and BINARY.SIZE[part]: the part's body decoded; and
 * BINARY[part.TEXT], the text of a message (the whole one, or one a
 * message/rfc822 part holds), decoded when that message is a single
 * part with an encoding of its own (a multipart's text is its parts as
 * they are, as BINARY[] of a multipart message is). Sets *st and *ln
 * (raw octets) or f->mem[i] (decoded), and f->how[i] (HOW_NIL for a
 * part the message does not have). Returns -1 when the encoding is
 * unknown.
 */
static int locate_binary(struct imap_fetch *f, size_t i, const struct mime_tree *t,
			 const char *d, uint64_t *st, uint64_t *ln)
{
	const struct imap_fetch_item *it = &f->items[i];
	enum mime_section kind =
		it->text == IMAP_SECTION_TEXT ? MIME_SECTION_TEXT : MIME_SECTION_WHOLE;
	uint32_t pi;
	uint64_t off, plen;

	if (it->nparts == 0 && kind == MIME_SECTION_WHOLE)
		return 0; /* BINARY[]: the message as it is */
	if (mime_tree_section(t, it->part, it->nparts, kind, &pi, &off, &plen) != 0) {
		f->how[i] = HOW_NIL;
		return 0;
	}
	const struct mime_part *p = &t->parts[pi];
	enum mime_cte cte = (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
				    ? MIME_CTE_7BIT
				    : mime_cte_parse(p->encoding);
	struct str in = str_make(d + off, (size_t)plen);
	*st = off;
	*ln = plen;
	if (cte == MIME_CTE_UNKNOWN)
		return -1;
	if (cte != MIME_CTE_BASE64 && cte != MIME_CTE_QP)
		return 0;
	if (it->kind == IMAP_FI_BINARY_SIZE) {
		*ln = mime_decoded_size(cte, in);
		return 0;
	}
	/* Decoded is never longer than encoded (plus a final quantum). */
	struct buf b;
	buf_init(&b, (size_t)plen + MIME_DECODE_OUT_MAX(0));
	mime_decode_all(cte, in, &b);
	*st = 0;
	f->mem[i] = buf_take(&b, ln);
	return 0;
}

/* Inside the store's read transaction: compute every item's octets. */
static void locate_cb(void *arg, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct imap_fetch *f = ((struct locate_ctx *)arg)->f;
	uint64_t hend = imap_header_end(d, len);
	struct mime_tree t;

	memset(&t, 0, sizeof(t));
	if (f->need_tree || f->dg_want) {
		arena_reset(f->arena);
		mime_cache_load(meta, metalen, d, len, f->arena, &t);
	}
	/* Every part's header too: BODY[n.MIME], an attached message's
	 * header and BODY[n] around it, and their sizes. */
	if (f->dg_want)
		imap_dg_build(&f->dg, d, len, hend, &t);
	for (size_t i = 0; i < f->nitems; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		uint64_t st = 0, ln = len;
		f->how[i] = HOW_LITERAL;
		switch (it->kind) {
		case IMAP_FI_ENVELOPE:
		case IMAP_FI_BODYSTRUCTURE:
		case IMAP_FI_BODY_STRUCT:
			f->mem[i] = render_structure(it, f->dg.n ? imap_dg_tree(&f->dg, &t, f->arena)
								 : &t,
						     &t, f->arena, d, len, &f->len[i], f->ascii);
			f->start[i] = 0;
			f->how[i] = HOW_INLINE;
			continue;
		case IMAP_FI_PREVIEW: {
			char pv[MIME_PREVIEW_MAX];
			size_t pn = mime_preview(d, len, &t, pv);
			struct buf b;
			buf_init(&b, 2 * MIME_PREVIEW_MAX + 32);
			imap_append_string(&b, str_make(pv, pn)); /* a literal for UTF-8 */
			f->mem[i] = buf_take(&b, &f->len[i]);
			f->start[i] = 0;
			f->how[i] = HOW_INLINE;
			continue;
		}
		case IMAP_FI_BINARY:
		case IMAP_FI_BINARY_SIZE:
			if (it->text != IMAP_SECTION_WHOLE && it->text != IMAP_SECTION_TEXT)
				locate_body(f, i, &t, d, len, hend, &st, &ln);
			else if (locate_binary(f, i, &t, d, &st, &ln) < 0) {
				f->msg_unknown_cte = 1;
				return;
			}
			if (it->kind == IMAP_FI_BINARY_SIZE) {
				/* RFC 3516 §4.2: the size of what BINARY[part]
				 * returns, so 0 where that is NIL (no such part). */
				if (f->how[i] == HOW_NIL)
					ln = 0;
				f->how[i] = HOW_NUMBER;
			}
			break;
		case IMAP_FI_BODY:
			locate_body(f, i, &t, d, len, hend, &st, &ln);
			break;
		default: continue;
		}
		int nul = 0; /* RFC 3516: octets with NUL go out as literal8 */
		if (f->dg.n && !f->mem[i] && f->how[i] != HOW_NIL) {
			/* The stored range as this session sees it: its
			 * literal is read through the map (send_chunk()). A
			 * downgraded header has no NUL the stored one lacks. */
			nul = it->kind == IMAP_FI_BINARY && ln && memchr(d + st, 0, (size_t)ln);
			uint64_t vst = imap_dg_map(&f->dg, st);
			ln = imap_dg_map(&f->dg, st + ln) - vst;
			st = vst;
		}
		if (it->partial && f->how[i] != HOW_NIL) {
			uint64_t off = it->offset < ln ? it->offset : ln;
			st += off;
			ln -= off;
			if (ln > it->length)
				ln = it->length;
		}
		if (it->kind == IMAP_FI_BINARY && f->how[i] == HOW_LITERAL && ln &&
		    (f->dg.n && !f->mem[i] ? nul
					   : memchr((f->mem[i] ? f->mem[i] : d) + st, 0, (size_t)ln) != NULL))
			f->how[i] = HOW_LITERAL8;
		f->start[i] = st;
		f->len[i] = ln;
	}
}

/* The instant t as the wall clock of zone (minutes east of UTC) shows it:
 * INTERNALDATE in the zone APPEND gave (RFC 9051 §2.3.3), SAVEDATE in
 * +0000. */
static void format_date(int64_t t, int zone, char out[32])
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)(t + (int64_t)zone * 60);
	struct tm tm;
	/* A stored date gmtime cannot render must not index mon[] with
	 * garbage: the epoch instead. */
	if (gmtime_r(&tt, &tm) == NULL) {
		tt = 0;
		zone = 0;
		gmtime_r(&tt, &tm);
	}
	unsigned az = (unsigned)(zone < 0 ? -zone : zone) % 6000;
	snprintf(out, 32, "%02d-%s-%04d %02d:%02d:%02d %c%02u%02u", tm.tm_mday, mon[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone < 0 ? '-' : '+',
		 az / 60, az % 60);
}

static void emit_item(struct imap_session *s, struct imap_fetch *f, size_t i)
{
	const struct imap_fetch_item *it = &f->items[i];
	const struct imap_msg *m = &s->view.msgs[f->cur];
	const char *sp = i ? " " : "";
	char line[128];

	if (it->implicit) {
		/* seen_uids is in UID order, as the job's uids were. */
		size_t lo = 0, hi = f->nseen;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (f->seen_uids[mid] < m->uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == f->nseen || f->seen_uids[lo] != m->uid)
			return;
	}

	switch (it->kind) {
	case IMAP_FI_UID: snprintf(line, sizeof(line), "%sUID %u", sp, m->uid); break;
	case IMAP_FI_MODSEQ:
		snprintf(line, sizeof(line), "%sMODSEQ (%llu)", sp, (unsigned long long)m->modseq);
		break;
	case IMAP_FI_FLAGS: imap_fetch_write_flags(s, sp, m); return;
	case IMAP_FI_RFC822_SIZE:
		/* As BODY[] sends it (imap_downgrade.h). */
		snprintf(line, sizeof(line), "%sRFC822.SIZE %llu", sp,
			 (unsigned long long)imap_msg_size(m, f->ascii));
		break;
	case IMAP_FI_INTERNALDATE: {
		char date[32];
		format_date(m->received_at, m->zone, date);
		snprintf(line, sizeof(line), "%sINTERNALDATE \"%s\"", sp, date);
		break;
	}
	case IMAP_FI_EMAILID:
		snprintf(line, sizeof(line), "%sEMAILID (" IMAP_EMAILID_FMT ")", sp, m->object_id);
		break;
	case IMAP_FI_THREADID:
		snprintf(line, sizeof(line), "%sTHREADID (" IMAP_THREADID_FMT ")", sp, m->thread_id);
		break;
	case IMAP_FI_SAVEDATE: {
		char date[32];
		format_date(m->saved_at, 0, date);
		snprintf(line, sizeof(line), "%sSAVEDATE \"%s\"", sp, date);
		break;
	}
	case IMAP_FI_PREVIEW:
	case IMAP_FI_BODY:
	case IMAP_FI_BINARY:
	case IMAP_FI_BINARY_SIZE:
	case IMAP_FI_ENVELOPE:
	case IMAP_FI_BODYSTRUCTURE:
	case IMAP_FI_BODY_STRUCT:
		imap_write(s, sp, strlen(sp));
		imap_write(s, it->name, strlen(it->name));
		if (f->how[i] == HOW_NIL || f->how[i] == HOW_NUMBER) {
			if (f->how[i] == HOW_NIL)
				snprintf(line, sizeof(line), " NIL");
			else
				snprintf(line, sizeof(line), " %llu", (unsigned long long)f->len[i]);
			imap_write(s, line, strlen(line));
			return;
		}
		if (f->how[i] == HOW_INLINE)
			snprintf(line, sizeof(line), " ");
		else
			snprintf(line, sizeof(line), " %s{%llu}\r\n",
				 f->how[i] == HOW_LITERAL8 ? "~" : "", (unsigned long long)f->len[i]);
		imap_write(s, line, strlen(line));
		f->lit = (int)i;
		f->lit_pos = f->start[i];
		f->lit_left = f->len[i];
		return;
	}
	imap_write(s, line, strlen(line));
}

struct chunk_ctx {
	struct imap_session *s;
	struct imap_fetch *f;
	uint64_t src, n; /* the stored octets to send */
	int bad;
};

/*
 * Writes n octets of the current literal. A plain literal must not carry
 * NUL (RFC 3501 §4.3: CHAR8 excludes it, RFC 9051 too): a message APPENDed
 * as literal8 with a binary part may hold some, so BODY[...] sends each
 * NUL as 0x80, as Dovecot's FETCH does (same length: sizes stay right);
 * BINARY[...] goes out as literal8 with the real octets.
 */
static void write_literal(struct imap_session *s, struct imap_fetch *f, const char *p, size_t n)
{
	if (f->how[f->lit] == HOW_LITERAL8 || !memchr(p, 0, n)) {
		imap_write(s, p, n);
		return;
	}
	/* The runs between NULs as they are, each NUL as one 0x80: no copy. */
	static const char high = (char)0x80;
	const char *end = p + n;
	while (p < end) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		size_t run = nul ? (size_t)(nul - p) : (size_t)(end - p);
		if (run)
			imap_write(s, p, run);
		if (!nul)
			break;
		imap_write(s, &high, 1);
		p = nul + 1;
	}
}

/* Inside the store's read transaction: copy one chunk, nothing else. */
static void chunk_cb(void *arg, const char *d, size_t len)
{
	struct chunk_ctx *c = arg;

	if (c->src > len || c->n > len - c->src) {
		c->bad = 1; /* not the message we measured */
		return;
	}
	write_literal(c->s, c->f, d + c->src, (size_t)c->n);
}

/* Sends one chunk of the current literal; -1 when the message vanished. */
static int send_chunk(struct imap_session *s, struct imap_fetch *f)
{
	if (f->mem[f->lit]) {
		uint64_t n = f->lit_left > FETCH_CHUNK ? FETCH_CHUNK : f->lit_left;
		write_literal(s, f, f->mem[f->lit] + f->lit_pos, (size_t)n);
		f->lit_pos += n;
		f->lit_left -= n;
	} else if (f->lit_left) {
		struct chunk_ctx c = { .s = s, .f = f, .src = f->lit_pos };
		c.n = f->lit_left > FETCH_CHUNK ? FETCH_CHUNK : f->lit_left;
		if (f->dg.n) {
			/* lit_pos is in the message as sent: a downgraded
			 * header's text, or stored octets up to the next. */
			const char *text;
			uint64_t run = imap_dg_at(&f->dg, f->lit_pos, &text, &c.src);
			if (run < c.n)
				c.n = run;
			if (text) {
				write_literal(s, f, text, (size_t)c.n);
				goto sent;
			}
		}
		/* Through the hold: the bytes stay readable if the message is
		 * expunged between two chunks (store_hold.c). */
		int rc = f->hold.held
			? store_hold_read(imap_store, &f->hold, chunk_cb, &c)
			: store_email_raw(imap_store, s->view.account,
					  s->view.msgs[f->cur].email_id, chunk_cb, &c);
		if (rc != STORE_OK || c.bad)
			return -1;
	sent:
		f->lit_pos += c.n;
		f->lit_left -= c.n;
	}
	if (f->lit_left == 0)
		f->lit = -1;
	return 0;
}

static void finish(struct imap_session *s)
{
	unsigned expunged = s->fetch->expunged;
	unsigned unknown_cte = s->fetch->unknown_cte;

	if (s->fetch->unsolicited) {
		imap_fetch_free(s);
		imap_notify_fetched(s); /* more may have come meanwhile */
		return;
	}
	imap_fetch_free(s);
	if (unknown_cte)
		imap_tagged(s, "NO [UNKNOWN-CTE] Cannot decode the content transfer encoding of "
			       "a requested part.");
	else if (expunged)
		imap_tagged(s, "NO [EXPUNGEISSUED] Some messages were expunged meanwhile.");
	else {
		imap_session_held_line(s); /* MODSEQs above a held-back expunge's */
		imap_tagged(s, "OK Fetch completed.");
	}
	imap_cmd_end(s);
}

void imap_fetch_refill(struct imap_session *s)
{
	struct imap_fetch *f = s->fetch;

	/* Not while output waits in s->pend: what is added goes behind it,
	 * and the connection's buffer would never fill to stop the loop. */
	while (f && !s->conn_gone && s->state != IMAP_S_LOGOUT &&
	       buf_len(&s->conn->out) < IMAP_OUT_HIGH && buf_len(&s->pend) == 0) {
		if (f->lit >= 0) {
			if (send_chunk(s, f) < 0) {
				log_warn("imap", s->id, "event=message_unavailable uid=%u",
					 s->view.msgs[f->cur].uid);
				imap_close_with(s, "message_unavailable");
				return;
			}
			continue;
		}
		if (!f->in_msg) {
			int64_t idx = next_index(s, f);
			if (idx < 0) {
				finish(s);
				return;
			}
			if (f->changedsince && s->view.msgs[idx].modseq <= f->changedsince)
				continue; /* RFC 7162 §3.1.4.1 */
			if (s->view.msgs[idx].uid < f->min_uid)
				continue; /* MESSAGELIMIT: left for the next command */
			f->cur = (uint32_t)idx;
			const struct imap_msg *m = &s->view.msgs[idx];
			/* A session without UTF-8 sees the message downgraded
			 * unless its record rules that out; RFC822.SIZE alone
			 * reads it only when its size is not known yet. */
			f->dg_want = f->ascii && m->dg != IMAP_DG_NONE;
			if (f->need_raw ||
			    (f->dg_want && f->has_size && m->dg != IMAP_DG_SIZED)) {
				struct locate_ctx c = { f };
				if (store_email_hold(imap_store, s->view.account,
						     s->view.msgs[f->cur].email_id, locate_cb, &c,
						     &f->hold) != STORE_OK) {
					end_message(f);
					f->expunged++;
					continue;
				}
				if (f->dg_want)
					imap_view_note_downgrade(s, f->cur, &f->dg);
				if (f->msg_unknown_cte) {
					end_message(f);
					f->unknown_cte++;
					continue;
				}
				s->fetched++;
			}
			char line[48];
			if (s->uidonly)
				snprintf(line, sizeof(line), "* %u UIDFETCH (",
					 s->view.msgs[f->cur].uid);
			else
				snprintf(line, sizeof(line), "* %u FETCH (", f->cur + 1);
			imap_write(s, line, strlen(line));
			f->in_msg = 1;
			f->item = 0;
			continue;
		}
		if (f->item < f->nitems) {
			emit_item(s, f, f->item++);
			continue;
		}
		imap_write(s, ")\r\n", 3);
		end_message(f);
	}
}

void imap_view_note_downgrade(struct imap_session *s, uint32_t idx, const struct imap_dg *g)
{
	struct imap_msg *m = &s->view.msgs[idx];
	int64_t delta = (int64_t)g->size - (int64_t)m->size;

	if (!g->n) {
		m->dg = IMAP_DG_NONE;
	} else if (delta >= INT32_MIN && delta <= INT32_MAX) {
		m->dg = IMAP_DG_SIZED;
		m->dg_delta = (int32_t)delta;
	}
}

struct size_ctx {
	struct arena *a;
	struct imap_dg dg;
	uint64_t len; /* the stored size */
};

/* Inside the store's read transaction: the message as sent, measured. */
static void size_cb(void *arg, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct size_ctx *c = arg;
	struct mime_tree t;

	c->len = len;
	arena_reset(c->a);
	mime_cache_load(meta, metalen, d, len, c->a, &t);
	imap_dg_build(&c->dg, d, len, imap_header_end(d, len), &t);
}

void imap_view_size_downgrades(struct imap_session *s, uint32_t from, uint32_t to)
{
	struct size_ctx c = { 0 };

	if (s->utf8)
		return;
	for (uint32_t i = from; i < to && i < s->view.count; i++) {
		const struct imap_msg *m = &s->view.msgs[i];
		if (m->dg == IMAP_DG_NONE || m->dg == IMAP_DG_SIZED)
			continue;
		if (!c.a)
			c.a = arena_new(65536);
		if (store_email_content(imap_store, s->view.account, m->email_id, size_cb, &c) ==
		    STORE_OK)
			imap_view_note_downgrade(s, i, &c.dg);
		imap_dg_free(&c.dg); /* a vanished message keeps its stored size */
	}
	if (c.a)
		arena_free(&c.a);
}

int64_t imap_dg_size_delta(uint32_t account, const uint32_t *ids, size_t n)
{
	struct size_ctx c = { 0 };
	int64_t d = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t one;
		if (imap_dg_cache_get(imap_store, account, ids[i], &one)) {
			d += one;
			continue;
		}
		if (!c.a)
			c.a = arena_new(65536);
		if (store_email_content(imap_store, account, ids[i], size_cb, &c) == STORE_OK) {
			one = (int64_t)c.dg.size - (int64_t)c.len;
			imap_dg_cache_put(imap_store, account, ids[i], one);
			d += one;
		}
		imap_dg_free(&c.dg); /* a vanished message adds nothing */
	}
	if (c.a)
		arena_free(&c.a);
	return d;
}

void imap_fetch_start(struct imap_session *s, struct imap_fetch *f)
{
	f->start = xcalloc(f->nitems, sizeof(*f->start));
	f->len = xcalloc(f->nitems, sizeof(*f->len));
	f->mem = xcalloc(f->nitems, sizeof(*f->mem));
	f->how = xcalloc(f->nitems, sizeof(*f->how));
	f->ascii = !s->utf8;
	if (f->need_tree || f->ascii)
		f->arena = arena_new(65536);
	f->lit = -1;
	s->fetch = f;
	imap_fetch_refill(s);
}
