/*
 * imap_context.c — CONTEXT=SEARCH (RFC 5267 §4): SEARCH RETURN (UPDATE)
 * results that the server keeps up to date, and CANCELUPDATE.
 *
 * A context keeps a copy of the search keys (in an arena of its own) and
 * the result as UIDs. At each sync of the selected mailbox (NOOP, IDLE,
 * the commands that report changes) and after the session's own STORE
 * (imap_context_refresh(): the update comes with the STORE's answer, as
 * Dovecot sends it) the keys are evaluated again, when
 * some message changed since the last evaluation (a fingerprint over
 * UIDs, flags and modseqs), and the differences go out as Dovecot sends
 * them: "* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set)" before the sync's
 * own responses, numbered as the client knew the messages (so before any
 * EXPUNGE), and "ADDTO (0 set)" after them (after EXISTS). The position
 * is 0: a SEARCH result has no order beyond ascending. MIN, MAX and COUNT
 * are not sent again (Dovecot does not either).
 *
 * CONTEXT=SORT (RFC 5267 §4.2): SORT RETURN (UPDATE) keeps the result in
 * its sort order, and the updates carry positions in it (update_sorted()).
 *
 * Limits: IMAP_CONTEXT_MAX contexts per session (another UPDATE gets the
 * search answered and "* NO [NOUPDATE "tag"]"); a context's memory is its
 * keys (at most a command's) and one UID per match. Contexts end with the
 * mailbox (SELECT, EXAMINE, CLOSE, UNSELECT) and with CANCELUPDATE.
 * Caveats: keys relative to the clock (OLDER, YOUNGER) are evaluated again
 * only when the mailbox changes.
 */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "core/xalloc.h"
#include "imap/imap_esearch.h"
#include "imap/imap_session.h"

struct imap_context {
	struct imap_context *next;
	char tag[IMAP_TAG_MAX + 1];
	int uid;
	struct arena *arena; /* the keys' copy */
	const struct imap_arg *args;
	size_t nargs;
	struct str charset;
	uint32_t *uids; /* the result, ascending (in sort order when sorted) */
	int sorted;     /* SORT RETURN (UPDATE): CONTEXT=SORT */
	struct imap_sort_spec spec;
	size_t n;
	uint64_t print; /* the view's fingerprint at the last evaluation */
};

/* FNV-1a over what a search may look at that can change. */
static uint64_t view_print(const struct imap_mailbox_view *v)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t i = 0; i < v->count; i++) {
		uint64_t x[3] = { v->msgs[i].uid, v->msgs[i].modseq, v->msgs[i].flags };
		const unsigned char *p = (const unsigned char *)x;
		for (size_t k = 0; k < sizeof(x); k++)
			h = (h ^ p[k]) * 1099511628211ull;
	}
	return h ^ v->count;
}

/* Evaluates c's keys over the view: the matches as ascending UIDs
 * (malloc'ed) in *uids_r. Scratch allocations go to their own arena,
 * so a long IDLE does not grow the command's. */
static int evaluate(struct imap_session *s, struct imap_context *c, uint32_t **uids_r,
		    size_t *n_r)
{
	struct arena *saved = s->cmd_arena, *scratch = arena_new(16384);
	uint32_t *hits;
	size_t n;
	int modseq;

	s->cmd_arena = scratch;
	int r = imap_search_eval(s, "SEARCH", c->charset, c->args, c->nargs, &hits, &n, &modseq,
				 IMAP_SEARCH_LIMIT_NONE);
	s->cmd_arena = saved;
	arena_free(&scratch);
	if (r < 0)
		return -1;
	if (c->sorted)
		imap_sort_seqs(s, &c->spec, hits, n);
	for (size_t i = 0; i < n; i++)
		hits[i] = s->view.msgs[hits[i] - 1].uid;
	*uids_r = hits;
	*n_r = n;
	return 0;
}

static int add(struct imap_session *s, int uid, struct str charset, const struct imap_arg *args,
	       size_t nargs, const struct imap_sort_spec *spec, const uint32_t *hits, size_t nhits)
{
	unsigned count = 0;
	for (struct imap_context *c = s->contexts; c; c = c->next)
		count++;
	if (count >= IMAP_CONTEXT_MAX)
		return -1;
	struct imap_context *c = xcalloc(1, sizeof(*c));
	snprintf(c->tag, sizeof(c->tag), "%s", s->tag);
	c->uid = uid;
	c->arena = arena_new(4096);
	c->args = imap_args_copy(c->arena, args, nargs);
	c->nargs = nargs;
	if (charset.p) {
		char *p = arena_alloc(c->arena, charset.len + 1);
		memcpy(p, charset.p, charset.len);
		p[charset.len] = '\0';
		c->charset = str_make(p, charset.len);
	}
	c->uids = xmalloc((nhits ? nhits : 1) * sizeof(*c->uids));
	for (size_t i = 0; i < nhits; i++)
		c->uids[i] = s->view.msgs[hits[i] - 1].uid;
	c->n = nhits;
	c->print = view_print(&s->view);
	if (spec) {
		c->sorted = 1;
		c->spec = *spec;
	}
	c->next = s->contexts;
	s->contexts = c;
	return 0;
}

int imap_context_add(struct imap_session *s, int uid, struct str charset,
		     const struct imap_arg *args, size_t nargs, const uint32_t *hits, size_t nhits)
{
	return add(s, uid, charset, args, nargs, NULL, hits, nhits);
}

int imap_context_add_sorted(struct imap_session *s, int uid, struct str charset,
			    const struct imap_arg *args, size_t nargs,
			    const struct imap_sort_spec *spec, const uint32_t *hits, size_t nhits)
{
	return add(s, uid, charset, args, nargs, spec, hits, nhits);
}

static void context_free(struct imap_context *c)
{
	arena_free(&c->arena);
	free(c->uids);
	free(c);
}

void imap_context_clear(struct imap_session *s)
{
	while (s->contexts) {
		struct imap_context *c = s->contexts;
		s->contexts = c->next;
		context_free(c);
	}
}

/* Index of uid in the ascending u[0..n), or n. */
static size_t find(const uint32_t *u, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && u[lo] == uid ? lo : n;
}

/* " ADDTO (0 set)" or " REMOVEFROM (0 set)" line for v[0..n) (ascending). */
static void update_line(struct buf *out, const struct imap_context *c, const char *what,
			const uint32_t *v, size_t n)
{
	if (!n)
		return;
	buf_printf(out, "* ESEARCH (TAG \"%s\")%s %s (0 ", c->tag, c->uid ? " UID" : "", what);
	imap_esearch_list(out, v, n);
	buf_append_c(out, ")\r\n");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A copy of u[0..n), ascending (malloc'ed). */
static uint32_t *sorted_copy(const uint32_t *u, size_t n)
{
	uint32_t *c = xmalloc((n ? n : 1) * sizeof(*c));
	memcpy(c, u, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_u32);
	return c;
}

/* One "position value" pair of an ADDTO or REMOVEFROM line; *k counts them. */
static void pair_add(struct buf *out, const struct imap_context *c, const char *what, size_t *k,
		     size_t pos, uint32_t v)
{
	if ((*k)++ == 0)
		buf_printf(out, "* ESEARCH (TAG \"%s\")%s %s (%zu %u", c->tag, c->uid ? " UID" : "",
			   what, pos, v);
	else
		buf_printf(out, " %zu %u", pos, v);
}

/*
 * CONTEXT=SORT's updates (RFC 5267 §4.2): REMOVEFROM names each message
 * gone with its position in the result as the client holds it, applied
 * one after the other; ADDTO each new one with its position in the new
 * result, in increasing order, so inserting them one by one rebuilds it.
 * Sort keys (dates, sizes, addresses, subjects) never change, so the
 * messages in both keep their order.
 */
static void update_sorted(struct imap_session *s, const struct imap_context *c,
			  const uint32_t *now, size_t n, const uint32_t *before, size_t nbefore,
			  struct buf *pre, struct buf *post)
{
	uint32_t *olds = sorted_copy(c->uids, c->n), *news = sorted_copy(now, n);
	size_t pos = 0, k = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (find(news, n, c->uids[i]) < n) {
			pos++;
			continue;
		}
		/* The number the client knew it by, before EXPUNGE. */
		size_t b = c->uid ? 0 : find(before, nbefore, c->uids[i]);
		pair_add(pre, c, "REMOVEFROM", &k, pos + 1, c->uid ? c->uids[i] : (uint32_t)b + 1);
	}
	if (k)
		buf_append_c(pre, ")\r\n");
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (find(olds, c->n, now[i]) == c->n)
			pair_add(post, c, "ADDTO", &k, i + 1,
				 c->uid ? now[i] : imap_view_seq(&s->view, now[i]));
	if (k)
		buf_append_c(post, ")\r\n");
	free(olds);
	free(news);
}

void imap_context_update(struct imap_session *s, const uint32_t *before, size_t nbefore,
			 struct buf *pre, struct buf *post)
{
	uint64_t print = view_print(&s->view);

	for (struct imap_context *c = s->contexts; c; c = c->next) {
		uint32_t *now;
		size_t n;
		if (c->print == print || evaluate(s, c, &now, &n) < 0)
			continue;
		c->print = print;
		if (c->sorted) {
			update_sorted(s, c, now, n, before, nbefore, pre, post);
			free(c->uids);
			c->uids = now;
			c->n = n;
			continue;
		}
		uint32_t *gone = xmalloc((c->n + 1) * sizeof(*gone));
		uint32_t *came = xmalloc((n + 1) * sizeof(*came));
		size_t ng = 0, nc = 0;
		for (size_t i = 0; i < c->n; i++) {
			if (find(now, n, c->uids[i]) < n)
				continue;
			if (c->uid) {
				gone[ng++] = c->uids[i];
			} else {
				/* The number the client knew it by, before EXPUNGE. */
				size_t k = find(before, nbefore, c->uids[i]);
				if (k < nbefore)
					gone[ng++] = (uint32_t)k + 1;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (find(c->uids, c->n, now[i]) == c->n)
				came[nc++] = c->uid ? now[i] : imap_view_seq(&s->view, now[i]);
		update_line(pre, c, "REMOVEFROM", gone, ng);
		update_line(post, c, "ADDTO", came, nc);
		free(gone);
		free(came);
		free(c->uids);
		c->uids = now;
		c->n = n;
	}
}

void imap_context_refresh(struct imap_session *s)
{
	size_t n = s->view.count;

	if (!s->contexts)
		return;
	uint32_t *now = xmalloc((n + 1) * sizeof(*now));
	for (size_t i = 0; i < n; i++)
		now[i] = s->view.msgs[i].uid;
	struct buf pre, post;
	size_t room = ((size_t)2 * n + 2) * 22 * IMAP_CONTEXT_MAX + 4096;
	buf_init(&pre, room);
	buf_init(&post, room);
	imap_context_update(s, now, n, &pre, &post);
	if (buf_len(&pre))
		imap_write_big(s, buf_data(&pre), buf_len(&pre));
	if (buf_len(&post))
		imap_write_big(s, buf_data(&post), buf_len(&post));
	buf_free(&pre);
	buf_free(&post);
	free(now);
}

int imap_context_active(const struct imap_session *s)
{
	return s->contexts != NULL;
}

void imap_cmd_cancelupdate(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD Error in IMAP command CANCELUPDATE: Missing tag.");
		imap_session_error(s);
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		struct str t;
		if (imap_arg_string(&cmd->args[i], &t) < 0) {
			imap_tagged(s, "BAD Error in IMAP command CANCELUPDATE: Invalid tag.");
			imap_session_error(s);
			return;
		}
		int found = 0;
		for (struct imap_context *c = s->contexts; c; c = c->next)
			if (str_eq(str_c(c->tag), t))
				found = 1;
		if (!found) {
			imap_tagged(s, "NO Unknown tag.");
			return;
		}
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		struct str t;
		imap_arg_string(&cmd->args[i], &t);
		for (struct imap_context **pp = &s->contexts; *pp;) {
			struct imap_context *c = *pp;
			if (str_eq(str_c(c->tag), t)) {
				*pp = c->next;
				context_free(c);
			} else {
				pp = &c->next;
			}
		}
	}
	imap_tagged(s, "OK Updates cancelled.");
}
