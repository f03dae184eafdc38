/*
 * cmd_search.c — SEARCH and UID SEARCH (RFC 3501 §6.4.4), first slice.
 *
 * The keys are compiled once into a small tree in the command arena, then
 * evaluated for every message of the snapshot. Served: ALL, sequence
 * sets, UID sets, LARGER, SMALLER, BEFORE, ON, SINCE (internal date, by
 * day in UTC), NOT, OR, parenthesised lists, and the flag keys. No flags
 * are stored yet, so every message is unflagged: SEEN, ANSWERED, DELETED,
 * DRAFT, FLAGGED, RECENT, NEW and KEYWORD match nothing, their UN-
 * counterparts and OLD match everything — the same answer FETCH FLAGS
 * gives. Keys that need the message text (FROM, SUBJECT, HEADER, BODY,
 * TEXT, SENT*...) get "NO [CANNOT]": the MIME library is not there yet.
 * CHARSET UTF-8 and US-ASCII are accepted.
 *
 * The result may be long (one number per message): it goes out through
 * imap_write_big(), which streams what does not fit.
 */
#include <stdio.h>
#include <string.h>

#include "imap/imap_seqset.h"
#include "imap/imap_session.h"

#define SEARCH_MAX_DEPTH 32

enum node_kind { N_CONST, N_SEQ, N_UID, N_LARGER, N_SMALLER, N_BEFORE, N_ON, N_SINCE, N_NOT,
		 N_OR, N_AND };

struct node {
	enum node_kind kind;
	int value;                /* N_CONST */
	uint64_t num;             /* sizes; days for dates */
	int64_t day;
	struct imap_seqset set;   /* N_SEQ, N_UID */
	struct node *a, *b;       /* NOT (a), OR (a, b) */
	struct node **list;       /* AND */
	size_t n;
};

struct compiler {
	struct imap_session *s;
	const char *err; /* BAD text */
	int cannot;      /* the error is "NO [CANNOT]" */
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

static const struct {
	const char *name;
	int value;
} flag_keys[] = {
	{ "ANSWERED", 0 },   { "DELETED", 0 },   { "DRAFT", 0 },    { "FLAGGED", 0 },
	{ "SEEN", 0 },       { "RECENT", 0 },    { "NEW", 0 },      { "UNANSWERED", 1 },
	{ "UNDELETED", 1 },  { "UNDRAFT", 1 },   { "UNFLAGGED", 1 }, { "UNSEEN", 1 },
	{ "OLD", 1 },        { "ALL", 1 },
};

static const char *const text_keys[] = { "BCC", "BODY", "CC", "FROM", "HEADER", "SUBJECT", "TEXT",
					  "TO", "SENTBEFORE", "SENTON", "SENTSINCE" };

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
	for (size_t k = 0; k < sizeof(flag_keys) / sizeof(flag_keys[0]); k++) {
		if (str_eq_ci_c(w, flag_keys[k].name)) {
			n = node_new(c, N_CONST);
			n->value = flag_keys[k].value;
			return n;
		}
	}
	for (size_t k = 0; k < sizeof(text_keys) / sizeof(text_keys[0]); k++) {
		if (str_eq_ci_c(w, text_keys[k])) {
			c->err = "Searching message text and headers is not supported by this "
				 "server yet.";
			c->cannot = 1;
			return NULL;
		}
	}
	if (a->flags & IMAP_ARGF_SEQSET) {
		n = node_new(c, N_SEQ);
		if (imap_seqset_parse(w, c->s->view.count, IMAP_MAX_RANGES, c->s->cmd_arena,
				      &n->set) != IMAP_SEQSET_OK || n->set.saved) {
			c->err = "Invalid messageset.";
			return NULL;
		}
		return n;
	}
	int needs_arg = str_eq_ci_c(w, "NOT") || str_eq_ci_c(w, "OR") || str_eq_ci_c(w, "UID") ||
			str_eq_ci_c(w, "LARGER") || str_eq_ci_c(w, "SMALLER") ||
			str_eq_ci_c(w, "BEFORE") || str_eq_ci_c(w, "ON") || str_eq_ci_c(w, "SINCE") ||
			str_eq_ci_c(w, "KEYWORD") || str_eq_ci_c(w, "UNKEYWORD");
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
	a = &args[(*i)++];
	if (str_eq_ci_c(w, "KEYWORD") || str_eq_ci_c(w, "UNKEYWORD")) {
		if (imap_arg_atom(a, &v) < 0) {
			c->err = "Invalid keyword.";
			return NULL;
		}
		n = node_new(c, N_CONST);
		n->value = str_eq_ci_c(w, "UNKEYWORD");
		return n;
	}
	if (str_eq_ci_c(w, "UID")) {
		n = node_new(c, N_UID);
		if (imap_arg_atom(a, &v) < 0 ||
		    imap_seqset_parse(v, imap_view_last_uid(&c->s->view), IMAP_MAX_RANGES,
				      c->s->cmd_arena, &n->set) != IMAP_SEQSET_OK ||
		    n->set.saved) {
			c->err = "Invalid UID set.";
			return NULL;
		}
		return n;
	}
	if (str_eq_ci_c(w, "LARGER") || str_eq_ci_c(w, "SMALLER")) {
		n = node_new(c, str_eq_ci_c(w, "LARGER") ? N_LARGER : N_SMALLER);
		if (imap_arg_number64(a, &n->num) < 0) {
			c->err = "Invalid size.";
			return NULL;
		}
		return n;
	}
	n = node_new(c, str_eq_ci_c(w, "BEFORE") ? N_BEFORE : str_eq_ci_c(w, "ON") ? N_ON : N_SINCE);
	if (imap_arg_astring(a, &v) < 0 || imap_date_parse(v, &n->day) < 0) {
		c->err = "Invalid date.";
		return NULL;
	}
	return n;
}

static int eval(const struct node *n, const struct imap_msg *m, uint32_t seq)
{
	int64_t day;

	switch (n->kind) {
	case N_CONST: return n->value;
	case N_SEQ: return imap_seqset_contains(&n->set, seq);
	case N_UID: return imap_seqset_contains(&n->set, m->uid);
	case N_LARGER: return m->size > n->num;
	case N_SMALLER: return m->size < n->num;
	case N_BEFORE:
	case N_ON:
	case N_SINCE:
		/* Floor division: dates before 1970 stay right. */
		day = m->received_at >= 0 ? m->received_at / 86400 : -((-m->received_at + 86399) / 86400);
		return n->kind == N_BEFORE ? day < n->day : n->kind == N_ON ? day == n->day : day >= n->day;
	case N_NOT: return !eval(n->a, m, seq);
	case N_OR: return eval(n->a, m, seq) || eval(n->b, m, seq);
	case N_AND:
		for (size_t i = 0; i < n->n; i++)
			if (!eval(n->list[i], m, seq))
				return 0;
		return 1;
	}
	return 0;
}

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_SEARCH;
	const struct imap_arg *args = cmd->args;
	size_t count = cmd->nargs;
	struct compiler c = { .s = s };
	struct str cs;

	if (count && imap_arg_atom_is(&args[0], "RETURN")) {
		imap_tagged(s, "BAD Error in IMAP command SEARCH: RETURN options (ESEARCH) are not supported.");
		imap_session_error(s);
		return;
	}
	if (count >= 2 && imap_arg_atom_is(&args[0], "CHARSET")) {
		if (imap_arg_astring(&args[1], &cs) < 0 ||
		    !(str_eq_ci_c(cs, "UTF-8") || str_eq_ci_c(cs, "US-ASCII"))) {
			imap_tagged(s, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.");
			return;
		}
		args += 2;
		count -= 2;
	}
	struct node *root = count ? compile_list(&c, args, count, 0) : NULL;
	if (!root) {
		if (c.cannot) {
			imap_tagged(s, "NO [CANNOT] %s", c.err);
		} else {
			imap_tagged(s, "BAD Error in IMAP command SEARCH: %s",
				    c.err ? c.err : "Missing search keys.");
			imap_session_error(s);
		}
		return;
	}
	struct buf out;
	buf_init(&out, (size_t)s->view.count * 11 + 16);
	buf_append_c(&out, "* SEARCH");
	for (uint32_t i = 0; i < s->view.count; i++) {
		const struct imap_msg *m = &s->view.msgs[i];
		if (eval(root, m, i + 1))
			buf_printf(&out, " %u", uid ? m->uid : i + 1);
	}
	buf_append_c(&out, "\r\n");
	imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	imap_tagged(s, "OK Search completed.");
}
