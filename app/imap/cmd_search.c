/*
 * cmd_search.c — SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH
 * (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032) and the CONDSTORE
 * MODSEQ key (RFC 7162 §3.1.5).
 *
 * The keys are compiled once into a small tree in the command arena, then
 * evaluated for every message of the snapshot. Served: ALL, sequence
 * sets and UID sets (both may be "$", the saved result: imap_set_parse),
 * LARGER, SMALLER, BEFORE, ON, SINCE (internal date, by day in the zone
 * it was given in: RFC 9051 §6.4.4 disregards its time and zone),
 * OLDER and YOUNGER (internal date against the clock, in seconds),
 * SAVEDBEFORE, SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED (RFC 8514: the
 * day the message entered the mailbox, in UTC), EMAILID and THREADID
 * (RFC 8474),
 * SENTBEFORE, SENTON, SENTSINCE (the Date header's calendar day as
 * written, mime_date.h; a message without a readable Date falls back to
 * its internal date, as Dovecot does), MODSEQ (the message's modseq; the
 * optional entry name and type are accepted and not distinguished: a
 * flag's modseq is the message's), NOT, OR, parenthesised lists, and the
 * flag keys: SEEN, ANSWERED, DELETED, DRAFT, FLAGGED, KEYWORD and their
 * UN- forms test the flags of the session's view (what FETCH FLAGS
 * shows); RECENT, NEW and OLD test the session's \Recent (cmd_select.c;
 * none in IMAP4rev2 sessions). FROM, TO, CC, BCC, SUBJECT, HEADER, BODY and TEXT look into
 * the message (mime_search.h: case-insensitive substring over decoded
 * header values and decoded text parts, bounded per message), using the
 * MIME structure cached at delivery (decoded only for BODY, TEXT and
 * SENT* keys: header keys read the header section alone; SUBJECT alone
 * is answered from the cached envelope, as RFC 9051 defines it, without
 * reading the message); the messages
 * whose flags, sizes and dates do not decide are read together, one read
 * transaction per batch of them. CHARSET takes what
 * mime_decode.h converts (UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15,
 * windows-1252): search strings are converted to UTF-8, as message text
 * is; any other charset gets NO [BADCHARSET (...)] listing those.
 *
 * Results: "* SEARCH n..." (with "(MODSEQ m)" after a MODSEQ key), or,
 * with RETURN (...) or after ENABLE IMAP4rev2, one
 * "* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]
 * [MODSEQ m]". RETURN (SAVE) keeps the result for "$" (only MIN and/or
 * MAX when those are asked without ALL or COUNT, RFC 5182 §2.4) and sends
 * no ESEARCH when SAVE is the only option. A SEARCH ... SAVE that fails
 * empties the saved result.
 *
 * The result may be long (one number per message): it goes out through
 * imap_write_big(), which streams what does not fit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hex.h"
#include "core/log.h"
#include "core/loop.h"
#include "imap/imap_esearch.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"
#include "imap/imap_subject_cache.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "mime/mime_date.h"
#include "mime/mime_decode.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "search/fts.h"
#include "search/fts_indexer.h"

#define SEARCH_MAX_DEPTH 32

enum node_kind { N_FLAG, N_KW, N_CONST, N_RECENT, N_SEQ, N_UID, N_LARGER, N_SMALLER, N_BEFORE, N_ON, N_SINCE, N_NOT,
		 N_OR, N_AND, N_HEADER, N_BODY, N_TEXT, N_OLDER, N_YOUNGER, N_SENTBEFORE, N_SENTON,
		 N_SENTSINCE, N_MODSEQ, N_SAVEDBEFORE, N_SAVEDON, N_SAVEDSINCE, N_EMAILID,
		 N_THREADID };

struct node {
	enum node_kind kind;
	int value;                /* N_CONST; N_FLAG/N_KW: 1 = must be set */
	unsigned bit;             /* N_FLAG: IMAP_F_* */
	struct str kw;            /* N_KW: keyword (lowercased; compared in any case) */
	uint64_t num;             /* sizes; days for dates */
	int64_t day;
	struct imap_seqset set;   /* N_SEQ, N_UID */
	struct node *a, *b;       /* NOT (a), OR (a, b) */
	struct node **list;       /* AND */
	size_t n;
	struct str name, needle;  /* N_HEADER (name), N_BODY, N_TEXT: needle folded */
	/* N_BODY, N_TEXT: the full-text index's candidates (bit per email id
	 * up to fts_through; NULL: it narrows nothing). */
	const uint64_t *fts;
	uint32_t fts_through;
};

struct compiler {
	struct imap_session *s;
	const char *err; /* BAD text */
	int cannot;      /* the error is "NO [CANNOT]" */
	int uidreq;      /* the error is "BAD [UIDREQUIRED]" (UIDONLY) */
	int text;        /* some key needs the message's content */
	int body;        /* BODY or TEXT: the MIME structure is needed */
	int header;      /* a header key other than SUBJECT */
	int sent;        /* a SENT* key needs the Date header */
	int modseq;      /* a MODSEQ key was given: report the highest */
	int size;        /* LARGER or SMALLER: sizes as the session sees them */
	uint64_t unread; /* messages a text key did not need to read */
	int64_t now;     /* OLDER, YOUNGER */
	struct str charset; /* of the search strings; p == NULL: UTF-8 */
};

static struct node *node_new(struct compiler *c, enum node_kind k)
{
	struct node *n = arena_zalloc(c->s->cmd_arena, sizeof(*n));
	n->kind = k;
	return n;
}

static struct node *compile_key(struct compiler *c, const struct imap_arg *args, size_t *i,
				size_t count, unsigned depth);

/* Keys from args[*i] up to count (or the end of a list), ANDed. */
static struct node *compile_list(struct compiler *c, const struct imap_arg *args, size_t count,
				 unsigned depth)
{
	struct node *and = node_new(c, N_AND);
	size_t i = 0;

	and->list = arena_alloc(c->s->cmd_arena, (count ? count : 1) * sizeof(*and->list));
	while (i < count) {
		struct node *k = compile_key(c, args, &i, count, depth);
		if (!k)
			return NULL;
		and->list[and->n++] = k;
	}
	if (and->n == 0) {
		c->err = "Empty search key list.";
		return NULL;
	}
	return and;
}

/* Flag keys: bit 0 is a constant (value), else the flag must be set (value
 * 1) or clear (0). RECENT, OLD and NEW test the session's \Recent
 * (N_RECENT; none in IMAP4rev2 sessions, RFC 9051 retired it). */
static const struct {
	const char *name;
	unsigned bit;
	int value;
} flag_keys[] = {
	{ "ANSWERED", IMAP_F_ANSWERED, 1 },   { "DELETED", IMAP_F_DELETED, 1 },
	{ "DRAFT", IMAP_F_DRAFT, 1 },         { "FLAGGED", IMAP_F_FLAGGED, 1 },
	{ "SEEN", IMAP_F_SEEN, 1 },           { "UNANSWERED", IMAP_F_ANSWERED, 0 },
	{ "UNDELETED", IMAP_F_DELETED, 0 },   { "UNDRAFT", IMAP_F_DRAFT, 0 },
	{ "UNFLAGGED", IMAP_F_FLAGGED, 0 },   { "UNSEEN", IMAP_F_SEEN, 0 },
	{ "ALL", 0, 1 },
};

/* RECENT, OLD and NEW (RECENT UNSEEN), as N_RECENT values 1, 0 and 2. */
static const struct {
	const char *name;
	int value;
} recent_keys[] = { { "RECENT", 1 }, { "OLD", 0 }, { "NEW", 2 } };

static const char *const text_keys[] = { "BCC", "BODY", "CC", "FROM", "HEADER", "SUBJECT", "TEXT",
					  "TO" };

/* A search string argument, folded for mime_search.h, in the command arena. */
static int needle_arg(struct compiler *c, const struct imap_arg *a, struct str *r)
{
	struct str v;
	if (imap_arg_astring(a, &v) < 0) {
		c->err = "Invalid search string.";
		return -1;
	}
	char *p;
	if (c->charset.p && mime_charset_known(c->charset)) {
		/* CHARSET ISO-8859-1 etc.: the needle to UTF-8, as messages are */
		p = arena_alloc(c->s->cmd_arena, MIME_SEARCH_FOLD_ROOM(v.len * 3));
		ptrdiff_t n = mime_charset_to_utf8(c->charset, v.p, v.len, p);
		v.len = n < 0 ? 0 : (size_t)n;
	} else {
		p = arena_alloc(c->s->cmd_arena, MIME_SEARCH_FOLD_ROOM(v.len));
		memcpy(p, v.p, v.len);
	}
	v.len = mime_search_fold(p, v.len);
	p[v.len] = '\0';
	*r = str_make(p, v.len);
	return 0;
}

/* FROM, TO, CC, BCC, SUBJECT, HEADER, BODY, TEXT and their arguments. */
static struct node *compile_text(struct compiler *c, struct str w, const struct imap_arg *args,
				 size_t *i, size_t count)
{
	int header = str_eq_ci_c(w, "HEADER");
	struct node *n;

	if (*i + (header ? 2 : 1) > count) {
		c->err = "Missing search key argument.";
		return NULL;
	}
	n = node_new(c, str_eq_ci_c(w, "BODY") ? N_BODY : str_eq_ci_c(w, "TEXT") ? N_TEXT : N_HEADER);
	if (header) {
		if (imap_arg_astring(&args[(*i)++], &n->name) < 0) {
			c->err = "Invalid header name.";
			return NULL;
		}
	} else if (n->kind == N_HEADER) {
		n->name = w;
	}
	if (needle_arg(c, &args[(*i)++], &n->needle) < 0)
		return NULL;
	c->text = 1;
	if (n->kind != N_HEADER)
		c->body = 1;
	else if (!str_eq_ci_c(n->name, "Subject"))
		c->header = 1;
	return n;
}

static struct node *compile_key(struct compiler *c, const struct imap_arg *args, size_t *i,
				size_t count, unsigned depth)
{
	const struct imap_arg *a = &args[(*i)++];
	struct str w, v;
	struct node *n;

	if (depth > SEARCH_MAX_DEPTH) {
		c->err = "Search keys nested too deep.";
		return NULL;
	}
	if (a->type == IMAP_ARG_LIST)
		return compile_list(c, a->list, a->list_count, depth + 1);
	if (imap_arg_atom(a, &w) < 0) {
		c->err = "Invalid search key.";
		return NULL;
	}
	for (size_t k = 0; k < sizeof(recent_keys) / sizeof(recent_keys[0]); k++) {
		if (str_eq_ci_c(w, recent_keys[k].name)) {
			n = node_new(c, N_RECENT);
			n->value = recent_keys[k].value;
			return n;
		}
	}
	for (size_t k = 0; k < sizeof(flag_keys) / sizeof(flag_keys[0]); k++) {
		if (str_eq_ci_c(w, flag_keys[k].name)) {
			n = node_new(c, flag_keys[k].bit ? N_FLAG : N_CONST);
			n->bit = flag_keys[k].bit;
			n->value = flag_keys[k].value;
			return n;
		}
	}
	for (size_t k = 0; k < sizeof(text_keys) / sizeof(text_keys[0]); k++)
		if (str_eq_ci_c(w, text_keys[k]))
			return compile_text(c, w, args, i, count);
	if (a->flags & IMAP_ARGF_SEQSET) {
		if (c->s->uidonly && !str_eq_ci_c(w, "$")) { /* RFC 9586: "UID set" is the way */
			c->err = "Message sequence numbers are not allowed with UIDONLY.";
			c->uidreq = 1;
			return NULL;
		}
		n = node_new(c, N_SEQ);
		/* RFC 9051: numbers past the end match nothing in SEARCH. */
		if (imap_set_parse(c->s, w, 0, &n->set) != IMAP_SEQSET_OK) {
			c->err = "Invalid messageset.";
			return NULL;
		}
		return n;
	}
	if (str_eq_ci_c(w, "SAVEDATESUPPORTED")) {
		/* RFC 8514: every mailbox here keeps save dates. */
		n = node_new(c, N_CONST);
		n->value = 1;
		return n;
	}
	int needs_arg = str_eq_ci_c(w, "NOT") || str_eq_ci_c(w, "OR") || str_eq_ci_c(w, "UID") ||
			str_eq_ci_c(w, "LARGER") || str_eq_ci_c(w, "SMALLER") ||
			str_eq_ci_c(w, "BEFORE") || str_eq_ci_c(w, "ON") || str_eq_ci_c(w, "SINCE") ||
			str_eq_ci_c(w, "KEYWORD") || str_eq_ci_c(w, "UNKEYWORD") ||
			str_eq_ci_c(w, "OLDER") || str_eq_ci_c(w, "YOUNGER") ||
			str_eq_ci_c(w, "SENTBEFORE") || str_eq_ci_c(w, "SENTON") ||
			str_eq_ci_c(w, "SENTSINCE") || str_eq_ci_c(w, "MODSEQ") ||
			str_eq_ci_c(w, "SAVEDBEFORE") || str_eq_ci_c(w, "SAVEDON") ||
			str_eq_ci_c(w, "SAVEDSINCE") || str_eq_ci_c(w, "EMAILID") ||
			str_eq_ci_c(w, "THREADID");
	if (!needs_arg) {
		c->err = "Unknown search key.";
		return NULL;
	}
	if (*i >= count) {
		c->err = "Missing search key argument.";
		return NULL;
	}
	if (str_eq_ci_c(w, "NOT")) {
		n = node_new(c, N_NOT);
		n->a = compile_key(c, args, i, count, depth + 1);
		return n->a ? n : NULL;
	}
	if (str_eq_ci_c(w, "OR")) {
		n = node_new(c, N_OR);
		n->a = compile_key(c, args, i, count, depth + 1);
		if (!n->a)
			return NULL;
		if (*i >= count) {
			c->err = "Missing search key argument.";
			return NULL;
		}
		n->b = compile_key(c, args, i, count, depth + 1);
		return n->b ? n : NULL;
	}
	if (str_eq_ci_c(w, "MODSEQ")) {
		/* [entry-name entry-type-req] mod-sequence-valzer: per-flag
		 * modseqs are the message's, so the entry is only checked. */
		n = node_new(c, N_MODSEQ);
		if (!(args[*i].flags & IMAP_ARGF_NUMBER)) {
			struct str en, et;
			if (*i + 3 > count || imap_arg_string(&args[*i], &en) < 0 ||
			    imap_arg_atom(&args[*i + 1], &et) < 0 ||
			    !(str_eq_ci_c(et, "priv") || str_eq_ci_c(et, "shared") ||
			      str_eq_ci_c(et, "all"))) {
				c->err = "Invalid MODSEQ arguments.";
				return NULL;
			}
			*i += 2;
		}
		if (imap_arg_number64(&args[(*i)++], &n->num) < 0) {
			c->err = "Invalid modseq.";
			return NULL;
		}
		c->modseq = 1;
		imap_session_condstore(c->s); /* RFC 7162 §3.1: using it enables it */
		return n;
	}
	a = &args[(*i)++];
	if (str_eq_ci_c(w, "OLDER") || str_eq_ci_c(w, "YOUNGER")) {
		uint32_t secs;
		n = node_new(c, str_eq_ci_c(w, "OLDER") ? N_OLDER : N_YOUNGER);
		if (imap_arg_number32(a, &secs) < 0 || secs == 0) {
			c->err = "Invalid interval.";
			return NULL;
		}
		n->day = c->now - secs; /* the boundary instant */
		return n;
	}
	if (str_eq_ci_c(w, "EMAILID") || str_eq_ci_c(w, "THREADID")) {
		/* OBJECTID: an id of another form matches nothing. */
		int email = str_eq_ci_c(w, "EMAILID");
		n = node_new(c, email ? N_EMAILID : N_THREADID);
		if (imap_arg_atom(a, &v) < 0) {
			c->err = "Invalid object id.";
			return NULL;
		}
		int64_t x = hex_objid_parse(v.p, v.len, email ? 'E' : 'T');
		n->num = x < 0 ? UINT64_MAX : (uint64_t)x;
		return n;
	}
	if (str_eq_ci_c(w, "KEYWORD") || str_eq_ci_c(w, "UNKEYWORD")) {
		if (imap_arg_atom(a, &v) < 0) {
			c->err = "Invalid keyword.";
			return NULL;
		}
		const char *sys = imap_flag_keyword(v);
		n = node_new(c, N_KW);
		n->value = !str_eq_ci_c(w, "UNKEYWORD");
		if (sys) {
			n->kind = N_FLAG;
			n->bit = str_eq_ci_c(v, "\\Seen")       ? IMAP_F_SEEN
				 : str_eq_ci_c(v, "\\Answered") ? IMAP_F_ANSWERED
				 : str_eq_ci_c(v, "\\Flagged")  ? IMAP_F_FLAGGED
				 : str_eq_ci_c(v, "\\Deleted")  ? IMAP_F_DELETED
								: IMAP_F_DRAFT;
			return n;
		}
		char *lc = arena_alloc(c->s->cmd_arena, v.len + 1);
		for (size_t k = 0; k < v.len; k++)
			lc[k] = v.p[k] >= 'A' && v.p[k] <= 'Z' ? (char)(v.p[k] + 32) : v.p[k];
		lc[v.len] = '\0';
		n->kw = str_make(lc, v.len);
		return n;
	}
	if (str_eq_ci_c(w, "UID")) {
		n = node_new(c, N_UID);
		if (imap_arg_atom(a, &v) < 0 || imap_set_parse(c->s, v, 1, &n->set) != IMAP_SEQSET_OK) {
			c->err = "Invalid UID set.";
			return NULL;
		}
		return n;
	}
	if (str_eq_ci_c(w, "LARGER") || str_eq_ci_c(w, "SMALLER")) {
		n = node_new(c, str_eq_ci_c(w, "LARGER") ? N_LARGER : N_SMALLER);
		c->size = 1;
		if (imap_arg_number64(a, &n->num) < 0) {
			c->err = "Invalid size.";
			return NULL;
		}
		return n;
	}
	n = node_new(c, str_eq_ci_c(w, "BEFORE")       ? N_BEFORE
			: str_eq_ci_c(w, "ON")         ? N_ON
			: str_eq_ci_c(w, "SINCE")      ? N_SINCE
			: str_eq_ci_c(w, "SENTBEFORE") ? N_SENTBEFORE
			: str_eq_ci_c(w, "SENTON")     ? N_SENTON
			: str_eq_ci_c(w, "SENTSINCE")  ? N_SENTSINCE
			: str_eq_ci_c(w, "SAVEDBEFORE") ? N_SAVEDBEFORE
			: str_eq_ci_c(w, "SAVEDON")    ? N_SAVEDON
						       : N_SAVEDSINCE);
	if (imap_arg_astring(a, &v) < 0 || imap_date_parse(v, &n->day) < 0) {
		c->err = "Invalid date.";
		return NULL;
	}
	if (n->kind >= N_SENTBEFORE && n->kind <= N_SENTSINCE)
		c->text = c->sent = 1; /* the Date header is in the cached envelope */
	return n;
}

/* 1 when the space-separated list kw holds w. */
static int has_keyword(const char *kw, struct str w)
{
	for (const char *p = kw; p && *p;) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (str_eq_ci(str_make(p, l), w)) /* kept in the case first given */
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* The message at hand. ms is its content when some key needs it, NULL
 * when it could not be read (then no text key matches). */
struct msg_ctx {
	const struct imap_msg *m;
	uint32_t seq;
	struct mime_search *ms;
	int folded;       /* SUBJECT from subject, folded (imap_subject_cache.h) */
	struct str subject; /* p == NULL: the message has none */
	int64_t sent_day; /* the Date header's day, or the internal date's */
	int recent;       /* the session shows it \Recent */
	int ascii;        /* no UTF-8 enabled: sizes as downgraded (imap_msg_size) */
};

/* Floor division: dates before 1970 stay right. */
static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* The calendar day of m's internal date in its own zone. */
static int64_t internal_day(const struct imap_msg *m)
{
	return day_of(m->received_at + (int64_t)m->zone * 60);
}

static int eval(const struct node *n, const struct msg_ctx *x)
{
	const struct imap_msg *m = x->m;
	int64_t day;

	switch (n->kind) {
	case N_CONST: return n->value;
	case N_FLAG: return ((m->flags & n->bit) != 0) == n->value;
	case N_RECENT:
		return n->value == 0 ? !x->recent
		       : n->value == 1 ? x->recent
				       : x->recent && !(m->flags & IMAP_F_SEEN);
	case N_KW: return has_keyword(m->kw, n->kw) == n->value;
	case N_SEQ: return imap_seqset_contains(&n->set, x->seq);
	case N_UID: return imap_seqset_contains(&n->set, m->uid);
	case N_LARGER: return imap_msg_size(m, x->ascii) > n->num;
	case N_SMALLER: return imap_msg_size(m, x->ascii) < n->num;
	case N_MODSEQ: return m->modseq >= n->num;
	case N_OLDER: return m->received_at <= n->day;
	case N_YOUNGER: return m->received_at > n->day;
	case N_BEFORE:
	case N_ON:
	case N_SINCE:
		day = internal_day(m);
		return n->kind == N_BEFORE ? day < n->day : n->kind == N_ON ? day == n->day : day >= n->day;
	case N_SAVEDBEFORE: return day_of(m->saved_at) < n->day;
	case N_SAVEDON: return day_of(m->saved_at) == n->day;
	case N_SAVEDSINCE: return day_of(m->saved_at) >= n->day;
	case N_EMAILID: return m->object_id == n->num;
	case N_THREADID: return m->thread_id == n->num;
	case N_SENTBEFORE: return x->sent_day < n->day;
	case N_SENTON: return x->sent_day == n->day;
	case N_SENTSINCE: return x->sent_day >= n->day;
	case N_HEADER:
		if (x->folded) /* only SUBJECT keys then (compiler.header 0) */
			return x->subject.p && mime_search_contains(x->subject, n->needle);
		return x->ms && mime_search_header(x->ms, n->name, n->needle);
	case N_BODY: return x->ms && mime_search_body(x->ms, n->needle);
	case N_TEXT:
		return x->ms && (mime_search_header(x->ms, STR_NULL, n->needle) ||
				 mime_search_body(x->ms, n->needle));
	case N_NOT: return !eval(n->a, x);
	case N_OR: return eval(n->a, x) || eval(n->b, x);
	case N_AND:
		for (size_t i = 0; i < n->n; i++)
			if (!eval(n->list[i], x))
				return 0;
		return 1;
	}
	return 0;
}

/*
 * The same evaluation from the snapshot alone: 1 or 0 when the flags,
 * sizes and dates decide, -1 when a key that needs the message's content
 * must be looked at. Lets "UNSEEN SUBJECT x" skip reading seen messages.
 */
static int eval_known(const struct node *n, const struct msg_ctx *x)
{
	int a, b, open = 0;

	switch (n->kind) {
	case N_BODY:
	case N_TEXT:
		if (n->fts && x->m->email_id <= n->fts_through &&
		    !(n->fts[x->m->email_id >> 6] >> (x->m->email_id & 63) & 1))
			return 0; /* the index says it cannot match */
		return -1;
	case N_HEADER:
	case N_SENTBEFORE:
	case N_SENTON:
	case N_SENTSINCE:
		return -1;
	case N_NOT:
		a = eval_known(n->a, x);
		return a < 0 ? -1 : !a;
	case N_OR:
		a = eval_known(n->a, x);
		if (a == 1)
			return 1;
		b = eval_known(n->b, x);
		if (b == 1)
			return 1;
		return a == 0 && b == 0 ? 0 : -1;
	case N_AND:
		for (size_t i = 0; i < n->n; i++) {
			a = eval_known(n->list[i], x);
			if (a == 0)
				return 0;
			open |= a < 0;
		}
		return open ? -1 : 1;
	default:
		return eval(n, x);
	}
}

struct search_run {
	const struct node *root;
	struct msg_ctx x;
	struct arena *a;
	int tree; /* decode the cached MIME structure (BODY, TEXT, SENT*) */
	int sent; /* parse the Date header (SENT* keys) */
	int hit;
};

/* Inside the store's read transaction: evaluate with the message at hand.
 * Header keys read the header section only: the structure is decoded
 * when a body or Date key needs it. */
static void search_cb(void *arg, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct search_run *r = arg;
	struct mime_tree t = { 0 };
	struct mime_search ms;
	int64_t day;

	arena_reset(r->a);
	if (r->tree)
		mime_cache_load(meta, metalen, d, len, r->a, &t);
	mime_search_init(&ms, d, len, &t);
	if (r->sent && t.nparts && t.parts[0].env &&
	    mime_date_parse(t.parts[0].env->date, NULL, &day) == 0)
		r->x.sent_day = day;
	r->x.ms = &ms;
	r->hit = eval(r->root, &r->x);
	mime_search_clear(&ms);
}

/* Messages whose content the keys need, read in one read transaction per
 * SEARCH_BATCH of them (not one per message). */
#define SEARCH_BATCH 1024

struct search_batch {
	struct imap_session *s;
	const struct node *root;
	const struct compiler *c;
	struct arena *a;
	const uint32_t *idx; /* view indexes of this batch */
	uint8_t *res;        /* per view index: 1 = hit */
	/* Subjects read from the records, folded, for the subject cache:
	 * their email ids and offsets in text (length in lens; NONE: no
	 * Subject). Added after the batch's read transaction. */
	uint32_t *ids, *offs, *lens;
	size_t n;
	struct buf text, fold;
};

#define NONE UINT32_MAX

/*
 * SUBJECT is "the envelope structure's SUBJECT field" (RFC 9051 §6.4.4):
 * when the keys need nothing else of the content, the envelope cached at
 * delivery answers, and the message itself is not read. A record that is
 * not a valid cache of this message leaves it to batch_cb (the bytes).
 */
static int batch_meta_cb(void *arg, size_t i, const void *meta, size_t metalen)
{
	struct search_batch *b = arg;
	uint32_t k = b->idx[i];
	const struct imap_msg *m = &b->s->view.msgs[k];
	struct str subject = STR_NULL;
	uint64_t size;

	if (b->c->body || b->c->sent || b->c->header || !meta)
		return 0;
	arena_reset(b->a);
	if (mime_cache_root_subject(meta, metalen, b->a, &size, &subject) != 0 ||
	    size != m->size)
		return 0;
	struct msg_ctx x = { .m = m, .seq = k + 1, .sent_day = internal_day(m),
			     .recent = imap_view_recent(&b->s->view, m), .ascii = !b->s->utf8 };
	/* Folded once: compared here, and kept for the next SEARCH. */
	if (subject.p)
		mime_search_fold_value(subject, &b->fold);
	size_t off = buf_len(&b->text);
	if (!subject.p || (buf_len(&b->fold) <= IMAP_SUBJECT_CACHE_TEXT_MAX &&
			   buf_append(&b->text, buf_data(&b->fold), buf_len(&b->fold)) == 0)) {
		b->ids[b->n] = m->email_id;
		b->offs[b->n] = (uint32_t)off;
		b->lens[b->n++] = subject.p ? (uint32_t)buf_len(&b->fold) : NONE;
	}
	x.folded = 1;
	x.subject = subject.p ? buf_str(&b->fold) : STR_NULL;
	b->res[k] = (uint8_t)eval(b->root, &x);
	return 1;
}

static void batch_cb(void *arg, size_t i, const void *meta, size_t metalen, const char *d,
		     size_t len)
{
	struct search_batch *b = arg;
	uint32_t k = b->idx[i];
	const struct imap_msg *m = &b->s->view.msgs[k];
	struct search_run r = { .root = b->root, .a = b->a, .tree = b->c->body || b->c->sent,
				.sent = b->c->sent };
	r.x = (struct msg_ctx){ .m = m, .seq = k + 1, .sent_day = internal_day(m),
				.recent = imap_view_recent(&b->s->view, m), .ascii = !b->s->utf8 };
	search_cb(&r, meta, metalen, d, len);
	b->res[k] = (uint8_t)r.hit;
}

/* A subject the cache holds: the keys evaluated with it. */
struct cached_eval {
	struct imap_session *s;
	const struct node *root;
	const uint32_t *idx;
	uint8_t *res;
};

static void cached_cb(void *arg, size_t i, struct str folded)
{
	struct cached_eval *ce = arg;
	uint32_t k = ce->idx[i];
	const struct imap_msg *m = &ce->s->view.msgs[k];
	struct msg_ctx x = { .m = m, .seq = k + 1, .sent_day = internal_day(m),
			     .recent = imap_view_recent(&ce->s->view, m), .folded = 1,
			     .ascii = !ce->s->utf8,
			     .subject = folded };
	ce->res[k] = (uint8_t)eval(ce->root, &x);
}

/*
 * SUBJECT being the only key on the content: the messages whose folded
 * subject the cache holds are decided here; idx and ids keep the rest
 * (their order kept), whose count is returned.
 */
static size_t search_cached(struct imap_session *s, const struct node *root, uint8_t *res,
			    uint32_t *idx, uint32_t *ids, size_t n)
{
	struct cached_eval ce = { .s = s, .root = root, .idx = idx, .res = res };
	uint8_t *found = xmalloc(n);
	size_t w = 0;

	if (imap_subject_cache_each(imap_store, s->view.account, ids, n, found, cached_cb, &ce) == 0) {
		free(found);
		return n;
	}
	for (size_t i = 0; i < n; i++)
		if (!found[i]) {
			idx[w] = idx[i];
			ids[w++] = ids[i];
		}
	free(found);
	return w;
}

/* The subjects a batch read go to the cache. */
static void cache_batch(struct imap_session *s, struct search_batch *b)
{
	struct str *v = xmalloc((b->n + 1) * sizeof(*v));
	for (size_t i = 0; i < b->n; i++)
		v[i] = b->lens[i] == NONE ? STR_NULL
					  : str_make(buf_data(&b->text) + b->offs[i], b->lens[i]);
	imap_subject_cache_add(imap_store, s->view.account, b->ids, v, b->n);
	free(v);
	b->n = 0;
	buf_reset(&b->text);
}

/* res[i] for every message of the view: from the snapshot where the keys
 * allow, else with the message's content. */
static void search_all(struct imap_session *s, const struct node *root, struct compiler *c,
		       uint8_t *res, uint32_t from, uint32_t to)
{
	const struct imap_mailbox_view *v = &s->view;
	uint32_t *idx = NULL, *ids = NULL;
	size_t n = 0;

	/* LARGER and SMALLER compare RFC822.SIZE (RFC 3501 §6.4.4): the
	 * size FETCH gives this session. */
	if (c->size)
		imap_view_size_downgrades(s, from, to);
	for (uint32_t i = from; i < to; i++) {
		struct msg_ctx x = { .m = &v->msgs[i], .seq = i + 1,
				     .sent_day = internal_day(&v->msgs[i]),
				     .recent = imap_view_recent(v, &v->msgs[i]), .ascii = !s->utf8 };
		int known = c->text ? eval_known(root, &x) : eval(root, &x);
		if (known >= 0) {
			res[i] = (uint8_t)known;
			c->unread += c->text;
			continue;
		}
		/* As if it were gone (text keys fail) until its content is read. */
		res[i] = (uint8_t)eval(root, &x);
		if (!idx) {
			idx = xmalloc(((size_t)(to - from) + 1) * sizeof(*idx));
			ids = xmalloc(((size_t)(to - from) + 1) * sizeof(*ids));
		}
		idx[n] = i;
		ids[n++] = v->msgs[i].email_id;
	}
	int subject_only = !c->body && !c->sent && !c->header;
	if (n && subject_only)
		n = search_cached(s, root, res, idx, ids, n);
	if (n) {
		struct search_batch b = { .s = s, .root = root, .c = c, .a = arena_new(65536),
					  .res = res };
		if (subject_only) {
			b.ids = xmalloc(3 * SEARCH_BATCH * sizeof(*b.ids));
			b.offs = b.ids + SEARCH_BATCH;
			b.lens = b.offs + SEARCH_BATCH;
		}
		buf_init(&b.text, (size_t)SEARCH_BATCH * IMAP_SUBJECT_CACHE_TEXT_MAX);
		buf_init(&b.fold, 256u * 1024); /* mime_search.c's SEARCH_VALUE_MAX */
		for (size_t off = 0; off < n; off += SEARCH_BATCH) {
			b.idx = idx + off;
			if (store_emails_content(imap_store, s->view.account, ids + off,
						 n - off < SEARCH_BATCH ? n - off : SEARCH_BATCH,
						 batch_meta_cb, batch_cb, &b) != STORE_OK)
				log_warn("imap", s->id, "event=search_read_failed");
			if (b.n)
				cache_batch(s, &b);
		}
		free(b.ids);
		buf_free(&b.text);
		buf_free(&b.fold);
		arena_free(&b.a);
	}
	free(idx);
	free(ids);
}

/* Writes the untagged result and saves what SAVE asks for. hits are
 * sequence numbers, ascending. */
static void search_answer(struct imap_session *s, int uid, int esearch,
			  const struct imap_return *r, const uint32_t *hits, size_t nhits,
			  int modseq)
{
	unsigned ret = r->opts;
	uint64_t high = modseq ? imap_return_modseq(&s->view, esearch, r, hits, nhits) : 0;
	struct buf out;

	/* The values the client sees: UIDs or sequence numbers, ascending. */
	uint32_t *v = xmalloc((nhits ? nhits : 1) * sizeof(*v));
	for (size_t i = 0; i < nhits; i++)
		v[i] = uid ? s->view.msgs[hits[i] - 1].uid : hits[i];

	if (ret & IMAP_RET_SAVE) {
		uint32_t *u = xmalloc((nhits ? nhits : 1) * sizeof(*u));
		for (size_t i = 0; i < nhits; i++)
			u[i] = s->view.msgs[hits[i] - 1].uid;
		imap_searchres_save(s, u, imap_return_saved(r, u, nhits));
		free(u);
	}

	buf_init(&out, nhits * 11 + 128);
	if (!esearch) {
		buf_append_c(&out, "* SEARCH");
		for (size_t i = 0; i < nhits; i++)
			buf_printf(&out, " %u", v[i]);
		if (modseq && nhits)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)high);
		buf_append_c(&out, "\r\n");
	} else if (ret & ~IMAP_RET_SAVE) {
		imap_esearch_append(&out, s->tag, uid, r, v, nhits, modseq, high);
	}
	free(v);
	if (buf_len(&out))
		imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
}

void imap_search_rev2(struct imap_session *s)
{
	s->search_esearch = 1;
}

/*
 * MESSAGELIMIT (RFC 9738): the index of the first message a search over
 * root may look at, so that at most the limit of those the top-level
 * sequence and UID sets name are searched, the highest UIDs first (0:
 * all of them). -1 when there are more and limit refuses them.
 */
static int64_t search_from(struct imap_session *s, const struct node *root, int limit)
{
	const struct imap_mailbox_view *v = &s->view;
	uint32_t lim = imap_message_limit(), seen = 0, last = 0;

	if (!limit || v->count <= lim)
		return 0;
	for (uint32_t i = v->count; i > 0; i--) {
		struct msg_ctx x = { .m = &v->msgs[i - 1], .seq = i };
		int in = 1;
		for (size_t k = 0; k < root->n && in; k++)
			if (root->list[k]->kind == N_UID || root->list[k]->kind == N_SEQ)
				in = eval(root->list[k], &x);
		if (!in)
			continue;
		if (++seen > lim) {
			if (limit == IMAP_SEARCH_LIMIT_ALL)
				return -1;
			s->msglimit_uid = v->msgs[last].uid;
			return last;
		}
		last = i - 1;
	}
	return 0;
}

/* The view indices [*lo_r, *hi_r) the top-level sequence and UID sets
 * leave (the whole view without them): nothing outside can match. */
static void search_span(const struct imap_session *s, const struct node *root, uint32_t *lo_r,
			uint32_t *hi_r)
{
	const struct imap_mailbox_view *v = &s->view;
	uint32_t lo = 0, hi = v->count;

	for (size_t k = 0; k < root->n; k++) {
		const struct node *n = root->list[k];
		if (n->kind != N_UID && n->kind != N_SEQ)
			continue;
		if (n->set.count == 0) {
			lo = hi = 0;
			break;
		}
		uint32_t first = n->set.ranges[0].lo, last = n->set.ranges[n->set.count - 1].hi, a, b;
		if (n->kind == N_UID) {
			a = imap_view_lower_bound(v, first);
			b = last == UINT32_MAX ? v->count : imap_view_lower_bound(v, last + 1);
		} else {
			a = first - 1 < v->count ? first - 1 : v->count;
			b = last < v->count ? last : v->count;
		}
		lo = a > lo ? a : lo;
		hi = b < hi ? b : hi;
	}
	*lo_r = lo < hi ? lo : hi;
	*hi_r = hi;
}

/* Asks the full-text index which messages each BODY and TEXT key leaves
 * (search/fts.h): the others are decided without reading them. */
static void search_narrow(struct imap_session *s, struct node *n)
{
	switch (n->kind) {
	case N_BODY:
	case N_TEXT: {
		struct fts_cond conds[FTS_PLAN_MAX];
		size_t nc = fts_plan(n->needle, conds);
		uint64_t *bits;
		uint32_t through;
		if (!nc || store_fts_candidates(imap_store, s->view.account, conds, nc, &bits, &through) !=
				   STORE_OK || !bits)
			return;
		size_t sz = ((size_t)(through >> 6) + 1) * sizeof(*bits);
		uint64_t *copy = arena_alloc(s->cmd_arena, sz);
		memcpy(copy, bits, sz);
		free(bits);
		n->fts = copy;
		n->fts_through = through;
		return;
	}
	case N_NOT: search_narrow(s, n->a); return;
	case N_OR:
		search_narrow(s, n->a);
		search_narrow(s, n->b);
		return;
	case N_AND:
		for (size_t i = 0; i < n->n; i++)
			search_narrow(s, n->list[i]);
		return;
	default: return;
	}
}

/* Compiles args[0..count) into *c (c->s set) and *root_r (command arena):
 * 0, or -1 after a tagged BAD/NO naming cmd_name. */
static int search_compile(struct imap_session *s, const char *cmd_name, struct str charset,
			  const struct imap_arg *args, size_t count, struct compiler *c,
			  struct node **root_r)
{
	*c = (struct compiler){ .s = s, .now = (int64_t)time(NULL), .charset = charset };
	struct node *root = count ? compile_list(c, args, count, 0) : NULL;

	if (!root) {
		if (c->cannot) {
			imap_tagged(s, "NO [CANNOT] %s", c->err);
		} else if (c->uidreq) {
			imap_tagged(s, "BAD [UIDREQUIRED] %s", c->err);
			imap_session_error(s);
		} else {
			imap_tagged(s, "BAD Error in IMAP command %s: %s", cmd_name,
				    c->err ? c->err : "Missing search keys.");
			imap_session_error(s);
		}
		return -1;
	}
	if (c->body && fts_indexer_running())
		search_narrow(s, root);
	*root_r = root;
	return 0;
}

/* The sequence numbers res marks, ascending (malloc'ed), and their count. */
static uint32_t *search_hits(const struct imap_session *s, const uint8_t *res, size_t *nhits_r)
{
	uint32_t *hits = xmalloc(((size_t)s->view.count + 1) * sizeof(*hits));
	size_t nhits = 0;

	for (uint32_t i = 0; i < s->view.count; i++)
		if (res[i])
			hits[nhits++] = i + 1;
	*nhits_r = nhits;
	return hits;
}

int imap_search_eval(struct imap_session *s, const char *cmd_name, struct str charset,
		     const struct imap_arg *args, size_t count, uint32_t **hits_r, size_t *nhits_r,
		     int *modseq_r, int limit)
{
	struct compiler c;
	struct node *root;

	if (search_compile(s, cmd_name, charset, args, count, &c, &root) < 0)
		return -1;
	int64_t from = search_from(s, root, limit);
	if (from < 0) {
		imap_limit_refuse(s, (size_t)s->view.count);
		return -1;
	}
	uint32_t lo, hi;
	search_span(s, root, &lo, &hi);
	if (lo < from)
		lo = (uint32_t)from < hi ? (uint32_t)from : hi;
	uint8_t *res = xcalloc((size_t)s->view.count + 1, 1);
	/* Text keys read every message on the loop, bounded per message
	 * (MIME_SEARCH_TEXT_MAX): this is for a search already answered
	 * (CONTEXT updates); commands go in steps (imap_search_start()). */
	search_all(s, root, &c, res, lo, hi);
	*hits_r = search_hits(s, res, nhits_r);
	free(res);
	if (modseq_r)
		*modseq_r = c.modseq;
	return 0;
}

/* ---- SEARCH, SORT and THREAD in steps (INPROGRESS, RFC 9585) ---- */

/*
 * A search under way: the keys (in the command arena, which lives until
 * the command ends), what the messages looked at so far matched, then
 * the matches and how far the command's gather step got through them,
 * and what answers. The session reads no command while s->search is set.
 */
struct imap_search_run {
	struct compiler c;
	struct node *root;
	uint8_t *res;             /* per view message: matched */
	uint32_t from, next, end; /* the view indices searched, [from, end); next */
	uint32_t *hits;           /* after the search: the matches, malloc'ed */
	size_t nhits, gathered;   /* and how many the gather step has read */
	const struct imap_search_then *then;
	void *arg;
	uint64_t timer; /* the next step, when one is due */
	struct imap_progress progress;
};

static void search_step(struct imap_session *s);

static void step_cb(struct loop *loop, void *arg)
{
	struct imap_session *s = arg;
	s->search->timer = 0;
	search_step(s);
	if (!s->search) { /* answered: on with the commands that wait */
		imap_session_input(s);
	}
	imap_flush(s);
}

static void run_free(struct imap_search_run *run)
{
	free(run->res);
	free(run->hits);
	free(run);
}

void imap_search_abort(struct imap_session *s)
{
	struct imap_search_run *run = s->search;
	if (!run)
		return;
	if (run->timer)
		loop_timer_del(s->loop, run->timer);
	if (run->then->discard)
		run->then->discard(run->arg);
	run_free(run);
	s->search = NULL;
}

/*
 * One step: IMAP_STEP messages' worth of work, the search first, then,
 * once it is done, the gather step reading the matches (SORT's keys,
 * THREAD's references); each message searched or read counts one. When
 * work is left, says how far it got (after the first step, then at most
 * every IMAP_PROGRESS_MS; the total is what is known so far: the
 * messages to search, plus the matches to read once the search is done)
 * and lets the loop run before the next step; else answers. The view
 * cannot change meanwhile: a command is under way, so syncs wait for its
 * end.
 */
static void search_step(struct imap_session *s)
{
	struct imap_search_run *run = s->search;
	uint32_t count = run->end, budget = IMAP_STEP;

	if (run->next < count) {
		uint32_t to = count - run->next > budget ? run->next + budget : count;
		search_all(s, run->root, &run->c, run->res, run->next, to);
		budget -= to - run->next;
		run->next = to;
	}
	if (run->next == count && !run->hits) { /* the search is done */
		run->hits = search_hits(s, run->res, &run->nhits);
		if (!run->then->gather)
			run->gathered = run->nhits;
	}
	if (run->next == count && run->gathered < run->nhits && budget) {
		size_t to = run->nhits - run->gathered > budget ? run->gathered + budget : run->nhits;
		run->then->gather(s, run->arg, run->hits, run->nhits, run->gathered, to);
		run->gathered = to;
	}
	if ((run->next < count || run->gathered < run->nhits) && !s->conn_gone) {
		uint64_t searched = run->next - run->from, total = count - run->from;
		if (run->next == count && run->then->gather)
			total += run->nhits;
		imap_progress(s, &run->progress, searched + run->gathered, total);
		run->timer = loop_timer_add(s->loop, 0, step_cb, s);
		return;
	}
	s->search = NULL;
	if (run->next < count || run->gathered < run->nhits) { /* the client went away */
		if (run->then->discard)
			run->then->discard(run->arg);
	} else {
		/* How much the full-text index (and the flags) spared. */
		if (run->c.body)
			log_debug("imap", s->id, "event=search_text searched=%u unread=%llu matched=%zu",
				  run->end - run->from, (unsigned long long)run->c.unread, run->nhits);
		run->then->answer(s, run->arg, run->hits, run->nhits, run->c.modseq);
	}
	run_free(run);
	imap_cmd_end(s);
}

int imap_search_start(struct imap_session *s, const char *cmd_name, struct str charset,
		      const struct imap_arg *args, size_t count, int limit,
		      const struct imap_search_then *then, void *arg)
{
	struct imap_search_run *run = xcalloc(1, sizeof(*run));
	if (search_compile(s, cmd_name, charset, args, count, &run->c, &run->root) < 0) {
		free(run);
		return -1;
	}
	int64_t from = search_from(s, run->root, limit);
	if (from < 0) {
		imap_limit_refuse(s, (size_t)s->view.count);
		free(run);
		return -1;
	}
	search_span(s, run->root, &run->from, &run->end);
	if (run->from < (uint32_t)from)
		run->from = (uint32_t)from < run->end ? (uint32_t)from : run->end;
	run->next = run->from;
	run->res = xcalloc((size_t)s->view.count + 1, 1);
	run->then = then;
	run->arg = arg;
	run->progress.what = then->what;
	s->search = run;
	search_step(s);
	return 0;
}

/* What SEARCH answers with, kept while it goes in steps. */
struct search_cmd {
	int uid, esearch;
	struct imap_return ret;
	struct str charset;
	const struct imap_arg *args;
	size_t count;
};

static void search_cmd_answer(struct imap_session *s, void *arg, uint32_t *hits, size_t nhits,
			      int modseq)
{
	struct search_cmd *sc = arg;
	search_answer(s, sc->uid, sc->esearch, &sc->ret, hits, nhits, modseq);
	if ((sc->ret.opts & IMAP_RET_UPDATE) &&
	    imap_context_add(s, sc->uid, sc->charset, sc->args, sc->count, hits, nhits) < 0)
		imap_reply(s, "* NO [NOUPDATE \"%s\"] Too many updating searches.", s->tag);
	free(sc);
	imap_tagged(s, "OK Search completed.");
}

static const struct imap_search_then search_then = {
	.answer = search_cmd_answer,
	.discard = free,
	.what = "Searching",
};

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_SEARCH;
	const struct imap_arg *args = cmd->args;
	size_t count = cmd->nargs;
	struct imap_return ret = { .opts = IMAP_RET_ALL };
	int esearch = s->search_esearch;
	struct str cs, charset = STR_NULL;

	if (count && imap_arg_atom_is(&args[0], "RETURN")) {
		const char *why = "Invalid RETURN options.";
		const struct imap_arg *rl;
		size_t rn;
		int used = 2;
		if (count < 2 || imap_arg_list(&args[1], &rl, &rn) < 0 ||
		    imap_return_parse(rl, rn, &ret, &why) < 0) {
			imap_searchres_clear(s); /* a failed SEARCH may have meant SAVE */
			imap_tagged(s, "BAD Error in IMAP command SEARCH: %s", why);
			imap_session_error(s);
			return;
		}
		args += used;
		count -= (size_t)used;
		esearch = 1;
	}
	if (count >= 2 && imap_arg_atom_is(&args[0], "CHARSET")) {
		/* RFC 9755 §3 (as RFC 6855): after ENABLE UTF8=ACCEPT the
		 * strings are UTF-8, and a client must not label them; a label
		 * conflicts, so BAD as the RFC recommends. IMAP4rev2
		 * alone keeps CHARSET (RFC 9051 §6.4.4). */
		if (s->utf8_enabled) {
			if (ret.opts & IMAP_RET_SAVE)
				imap_searchres_clear(s);
			imap_tagged(s, "BAD CHARSET is not allowed after ENABLE UTF8=ACCEPT.");
			imap_session_error(s);
			return;
		}
		if (imap_arg_astring(&args[1], &cs) < 0 || !imap_search_charset_ok(cs)) {
			if (ret.opts & IMAP_RET_SAVE)
				imap_searchres_clear(s);
			imap_tagged(s, "NO [BADCHARSET " IMAP_SEARCH_CHARSETS "] Unsupported charset.");
			return;
		}
		charset = cs;
		args += 2;
		count -= 2;
	}
	struct search_cmd *sc = xcalloc(1, sizeof(*sc));
	*sc = (struct search_cmd){ .uid = uid, .esearch = esearch, .ret = ret,
				   .charset = charset, .args = args, .count = count };
	if (imap_search_start(s, "SEARCH", charset, args, count, IMAP_SEARCH_LIMIT_PART,
			      &search_then, sc) < 0) {
		free(sc);
		if (ret.opts & IMAP_RET_SAVE)
			imap_searchres_clear(s);
	}
}

int imap_search_charset_ok(struct str cs)
{
	return mime_charset_known(cs) && !mime_charset_utf16(cs, NULL, 0);
}
