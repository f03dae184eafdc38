/*
 * cmd_sort.c — SORT and UID SORT (RFC 5256 §3, SORT=DISPLAY RFC 5957) and
 * THREAD and UID THREAD (RFC 5256 §3, ORDEREDSUBJECT and REFERENCES).
 *
 * Both first run the search keys (imap_search_start(), shared with
 * SEARCH: in steps, with INPROGRESS between them, RFC 9585), then read,
 * in steps too, what the criteria need for each match: nothing for
 * ARRIVAL and SIZE (the view has them), else the envelope from the MIME
 * structure cached at delivery (mime_cache_load) and, for
 * THREAD=REFERENCES, the References field from the header, each message
 * in one short read transaction. Keys are kept in a per-command arena.
 *
 * Criteria: ARRIVAL (internal date), CC, FROM, TO (the first address's
 * mailbox, i.e. the local part, case-folded), DATE (the Date header in
 * UTC, the internal date when missing or unreadable), SIZE, SUBJECT (the
 * base subject, mime_thread.h), DISPLAYFROM and DISPLAYTO (the first
 * address's decoded display name, or its addr-spec when it has none),
 * each optionally REVERSE; messages equal on every criterion keep their
 * sequence order (RFC 5256). Strings are made keys by mime_sortkey()
 * (i;unicode-casemap, RFC 5051: titlecase, then NFKD) and ordered as
 * octets (mime_sortkey_cmp()), as I18NLEVEL=1 asks (RFC 5255 §4).
 *
 * Caveats: like text SEARCH, this reads every matching message on the
 * loop (IMAP_STEP of them at a time); a big mailbox would want an index.
 */
#include <stdlib.h>
#include <string.h>

#include "core/msort.h"
#include "core/xalloc.h"
#include "imap/imap_esearch.h"
#include "imap/imap_session.h"
#include "mime/mime_cache.h"
#include "mime/mime_date.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "mime/mime_thread.h"
#include "mime/mime_tree.h"
#include "mime/rfc5322.h"

enum sort_key { K_ARRIVAL, K_CC, K_DATE, K_FROM, K_SIZE, K_SUBJECT, K_TO, K_DISPLAYFROM,
		K_DISPLAYTO, K_COUNT };

static const char *const key_names[K_COUNT] = { "ARRIVAL", "CC",      "DATE",
						 "FROM",    "SIZE",    "SUBJECT",
						 "TO",      "DISPLAYFROM", "DISPLAYTO" };

#define SORT_MAX_KEYS IMAP_SORT_MAX_KEYS

/* What one message contributes. */
struct msg_keys {
	uint32_t seq;
	int64_t sent;
	struct str s[K_COUNT]; /* string keys, folded */
	struct str msgid;
	struct str *refs;
	size_t nrefs;
	int reply;
};

struct gather {
	struct arena *a;
	struct msg_keys *k;
	unsigned want;   /* bit per enum sort_key that needs the message */
	int references; /* THREAD=REFERENCES: Message-ID, References, In-Reply-To */
};

static struct str keep(struct arena *a, const char *p, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return str_make(d, n);
}

/* v's i;unicode-casemap sort key (mime_sortkey), in the arena. */
static struct str folded(struct arena *a, struct str v)
{
	size_t n;
	char *k = mime_sortkey(v.p ? v.p : "", v.p ? v.len : 0, &n);
	struct str r = keep(a, k, n);
	free(k);
	return r;
}

/* DISPLAYFROM/DISPLAYTO (RFC 5957 §3): the decoded display name, else
 * the addr-spec. */
static struct str display(struct arena *a, const struct mime_addrs *l)
{
	struct buf b;
	struct str r;

	if (l->n == 0)
		return str_make("", 0);
	const struct mime_address *ad = &l->v[0];
	buf_init(&b, 4096);
	if (ad->name.p && ad->name.len)
		rfc5322_decode_words(ad->name, &b);
	if (buf_len(&b) == 0)
		buf_printf(&b, "%.*s@%.*s", (int)ad->mailbox.len, ad->mailbox.p, (int)ad->host.len,
			   ad->host.p);
	r = folded(a, buf_str(&b));
	buf_free(&b);
	return r;
}

/* The ENVELOPE's mailbox (RFC 5256 addr-mailbox): a quoted local part's content. */
static struct str first_mailbox(struct arena *a, const struct mime_addrs *l)
{
	if (l->n == 0 || l->v[0].mailbox.p == NULL)
		return str_make("", 0);
	char *c = arena_alloc(a, l->v[0].mailbox.len + 1);
	return folded(a, str_make(c, mime_local_part_content(l->v[0].mailbox, c)));
}

/* The References field, raw, from the header (not in the cache). */
static struct str references_field(const char *d, size_t len, struct arena *a)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	struct str r = STR_NULL;

	rfc5322_init(&p);
	while (rfc5322_parse(&p, d + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (str_eq_ci_c(f.name, "References")) {
			r = keep(a, f.value.p, f.value.len);
			break;
		}
	}
	rfc5322_clear(&p);
	return r;
}

static void gather_cb(void *arg, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct gather *g = arg;
	struct msg_keys *k = g->k;
	struct arena *ta = arena_new(16384);
	struct mime_tree t;
	int64_t sent;

	mime_cache_load(meta, metalen, d, len, ta, &t);
	const struct mime_envelope *env = t.nparts ? t.parts[0].env : NULL;
	if (env) {
		if (mime_date_parse(env->date, &sent, NULL) == 0)
			k->sent = sent;
		if (g->want & ((1u << K_SUBJECT))) {
			struct buf b;
			buf_init(&b, 64 * 1024);
			mime_base_subject(env->subject, &b, &k->reply);
			k->s[K_SUBJECT] = folded(g->a, buf_str(&b));
			buf_free(&b);
		}
		k->s[K_FROM] = first_mailbox(g->a, &env->from);
		k->s[K_TO] = first_mailbox(g->a, &env->to);
		k->s[K_CC] = first_mailbox(g->a, &env->cc);
		if (g->want & (1u << K_DISPLAYFROM))
			k->s[K_DISPLAYFROM] = display(g->a, &env->from);
		if (g->want & (1u << K_DISPLAYTO))
			k->s[K_DISPLAYTO] = display(g->a, &env->to);
		if (g->references) {
			struct str ids[MIME_THREAD_REFS_MAX];
			struct str refs = references_field(d, len, ta);
			size_t n = mime_msgids(refs, ids, MIME_THREAD_REFS_MAX);
			if (n == 0) /* RFC 5256: else the first In-Reply-To id */
				n = mime_msgids(env->in_reply_to, ids, MIME_THREAD_REFS_MAX) ? 1 : 0;
			k->refs = arena_alloc(g->a, (n ? n : 1) * sizeof(*k->refs));
			char norm[998];
			for (size_t i = 0; i < n; i++)
				k->refs[i] = keep(g->a, norm, mime_msgid_norm(ids[i], norm));
			k->nrefs = n;
			struct str mid;
			if (mime_msgids(env->message_id, &mid, 1) == 1)
				k->msgid = keep(g->a, norm, mime_msgid_norm(mid, norm));
		}
	}
	arena_free(&ta);
}

/* Reads the keys of the messages hits[from, to) into keys[from, to). */
static void gather_range(struct imap_session *s, struct arena *a, struct msg_keys *keys,
			 const uint32_t *hits, size_t from, size_t to, unsigned want,
			 int references)
{
	struct gather g = { .a = a, .want = want, .references = references };
	unsigned content = want & ~((1u << K_ARRIVAL) | (1u << K_SIZE));

	for (size_t i = from; i < to; i++) {
		if (want & (1u << K_SIZE))
			imap_view_size_downgrades(s, hits[i] - 1, hits[i]);
		const struct imap_msg *m = &s->view.msgs[hits[i] - 1];
		keys[i].seq = hits[i];
		keys[i].sent = m->received_at;
		for (int k = 0; k < K_COUNT; k++)
			keys[i].s[k] = str_make("", 0);
		if (content || references) {
			g.k = &keys[i];
			/* a message gone meanwhile sorts with empty keys */
			store_email_content(imap_store, s->view.account, m->email_id, gather_cb, &g);
		}
	}
}

struct criteria {
	unsigned char key[SORT_MAX_KEYS];
	unsigned char reverse[SORT_MAX_KEYS];
	size_t n;
	const struct imap_session *s;
	const struct msg_keys *keys;
};

static int cmp_msgs(const void *ctx, uint32_t ia, uint32_t ib)
{
	const struct criteria *c = ctx;
	const struct msg_keys *a = &c->keys[ia], *b = &c->keys[ib];
	const struct imap_msg *ma = &c->s->view.msgs[a->seq - 1], *mb = &c->s->view.msgs[b->seq - 1];

	for (size_t i = 0; i < c->n; i++) {
		int r;
		switch (c->key[i]) {
		case K_ARRIVAL:
			r = ma->received_at < mb->received_at ? -1 : ma->received_at > mb->received_at;
			break;
		case K_DATE: r = a->sent < b->sent ? -1 : a->sent > b->sent; break;
		case K_SIZE: {
			/* RFC822.SIZE as this session sees it (RFC 5256 §3) */
			uint64_t sa = imap_msg_size(ma, !c->s->utf8), sb = imap_msg_size(mb, !c->s->utf8);
			r = sa < sb ? -1 : sa > sb;
			break;
		}
		default: r = mime_sortkey_cmp(a->s[c->key[i]], b->s[c->key[i]]); break;
		}
		if (r)
			return c->reverse[i] ? -r : r;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void bad(struct imap_session *s, const char *cmd, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command %s: %s", cmd, why);
	imap_session_error(s);
}

/* CHARSET argument of SORT and THREAD: 0, or -1 after the reply. */
static int charset_ok(struct imap_session *s, const char *cmd, const struct imap_arg *a,
		      struct str *cs_r)
{
	if (imap_arg_astring(a, cs_r) < 0) {
		bad(s, cmd, "Invalid charset.");
		return -1;
	}
	if (!imap_search_charset_ok(*cs_r)) {
		imap_tagged(s, "NO [BADCHARSET " IMAP_SEARCH_CHARSETS "] Unsupported charset.");
		return -1;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* SORT RETURN (SAVE ...): what the options return (MIN and MAX are the
 * first and last in sort order, as Dovecot saves them), kept as UIDs in
 * ascending order for "$". v: the results as sent, in sort order. */
static void save_sorted(struct imap_session *s, int uid, const struct imap_return *r,
			const uint32_t *v, size_t n)
{
	uint32_t *u = xmalloc((n ? n : 1) * sizeof(*u));
	size_t k, j = 0;

	for (size_t i = 0; i < n; i++)
		u[i] = uid ? v[i] : s->view.msgs[v[i] - 1].uid;
	k = imap_return_saved(r, u, n);
	qsort(u, k, sizeof(*u), cmp_u32);
	for (size_t i = 0; i < k; i++)
		if (j == 0 || u[j - 1] != u[i])
			u[j++] = u[i];
	imap_searchres_save(s, u, j);
	free(u);
}

void imap_sort_seqs(struct imap_session *s, const struct imap_sort_spec *spec, uint32_t *seqs,
		    size_t n)
{
	struct criteria c = { .s = s, .n = spec->n };
	struct arena *a = arena_new(65536);
	uint32_t *idx = xmalloc((n ? n : 1) * sizeof(*idx));

	memcpy(c.key, spec->key, spec->n);
	memcpy(c.reverse, spec->reverse, spec->n);
	struct msg_keys *keys = arena_zalloc(a, (n ? n : 1) * sizeof(*keys));
	gather_range(s, a, keys, seqs, 0, n, spec->want, 0);
	c.keys = keys;
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	msort_u32(idx, n, cmp_msgs, &c); /* stable: ties keep sequence order */
	for (size_t i = 0; i < n; i++)
		idx[i] = c.keys[idx[i]].seq;
	memcpy(seqs, idx, n * sizeof(*seqs));
	free(idx);
	arena_free(&a);
}

/*
 * A SORT or THREAD under way (imap_search_start() runs the search and
 * calls sort_gather on the matches in steps): the criteria, the keys
 * read so far (in a), and what the answer needs of the command.
 */
struct sort_cmd {
	const char *name;
	int uid, esort, thread, references;
	struct imap_sort_spec spec;
	struct imap_return ret;
	struct str charset;
	const struct imap_arg *args; /* the search keys, for CONTEXT updates */
	size_t nargs;
	struct arena *a;
	struct msg_keys *keys;
};

static void sort_cmd_free(void *arg)
{
	struct sort_cmd *sc = arg;
	arena_free(&sc->a);
	free(sc);
}

static void sort_gather(struct imap_session *s, void *arg, const uint32_t *hits, size_t nhits,
			size_t from, size_t to)
{
	struct sort_cmd *sc = arg;
	if (!sc->keys)
		sc->keys = arena_zalloc(sc->a, (nhits ? nhits : 1) * sizeof(*sc->keys));
	gather_range(s, sc->a, sc->keys, hits, from, to, sc->spec.want, sc->references);
}

static void sort_answer(struct imap_session *s, void *arg, uint32_t *hits, size_t n, int modseq)
{
	struct sort_cmd *sc = arg;
	struct criteria c = { .s = s, .n = sc->spec.n };
	uint32_t *idx = xmalloc((n ? n : 1) * sizeof(*idx));
	struct buf out;

	if (!sc->keys) /* no match: the gather step never ran */
		sc->keys = arena_zalloc(sc->a, sizeof(*sc->keys));
	memcpy(c.key, sc->spec.key, sc->spec.n);
	memcpy(c.reverse, sc->spec.reverse, sc->spec.n);
	c.keys = sc->keys;
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	msort_u32(idx, n, cmp_msgs, &c); /* stable: ties keep sequence order */
	for (size_t i = 0; i < n; i++) /* hits in sort order, as sequence numbers */
		hits[i] = sc->keys[idx[i]].seq;
	buf_init(&out, n * 11 + 128);
	for (size_t i = 0; i < n; i++) /* what the client sees, in sort order */
		idx[i] = sc->uid ? s->view.msgs[hits[i] - 1].uid : hits[i];
	if (sc->ret.opts & IMAP_RET_SAVE)
		save_sorted(s, sc->uid, &sc->ret, idx, n);
	/* A MODSEQ key: the mod-sequence follows, as after SEARCH's. */
	uint64_t high = modseq ? imap_return_modseq(&s->view, sc->esort, &sc->ret, hits, n) : 0;
	if (sc->esort && (sc->ret.opts & ~IMAP_RET_SAVE)) {
		imap_esearch_append(&out, s->tag, sc->uid, &sc->ret, idx, n, modseq, high);
	} else if (!sc->esort) {
		buf_append_c(&out, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(&out, " %u", idx[i]);
		if (modseq && n)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)high);
		buf_append_c(&out, "\r\n");
	}
	if (buf_len(&out))
		imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	free(idx);
	if ((sc->ret.opts & IMAP_RET_UPDATE) &&
	    imap_context_add_sorted(s, sc->uid, sc->charset, sc->args, sc->nargs, &sc->spec, hits,
				    n) < 0)
		imap_reply(s, "* NO [NOUPDATE \"%s\"] Too many updating searches.", s->tag);
	sort_cmd_free(sc);
	imap_tagged(s, "OK Sort completed.");
}

static const struct imap_search_then sort_then = {
	.gather = sort_gather,
	.answer = sort_answer,
	.discard = sort_cmd_free,
	.what = "Sorting",
};

/* A SORT RETURN (SAVE ...) that fails, NO or BAD, empties "$" as a
 * failed SEARCH ... SAVE does (RFC 5182 §2.1; RFC 5267 §3 gives SORT the
 * SAVE option): a "$" that outlived it would name the result before. The
 * tagged answer follows (imap_searchres_clear() sends nothing). */
static void sort_refused(struct imap_session *s, const struct imap_return *ret)
{
	if (ret->opts & IMAP_RET_SAVE)
		imap_searchres_clear(s);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_SORT;
	const char *name = uid ? "UID SORT" : "SORT";
	const struct imap_arg *l;
	size_t ln;
	struct imap_sort_spec spec = { 0 };
	const struct imap_arg *args = cmd->args;
	size_t nargs = cmd->nargs;
	struct imap_return ret = { 0 };
	int esort = 0;

	if (nargs && imap_arg_atom_is(&args[0], "RETURN")) {
		/* ESORT (RFC 5267 §3): RETURN (...) before the criteria. */
		const char *why = "Invalid RETURN options.";
		const struct imap_arg *rl;
		size_t rn;
		if (nargs < 2 || imap_arg_list(&args[1], &rl, &rn) < 0 ||
		    imap_return_parse(rl, rn, &ret, &why) < 0) {
			bad(s, name, why);
			return;
		}
		esort = 1;
		args += 2;
		nargs -= 2;
	}
	if (nargs < 3 || imap_arg_list(&args[0], &l, &ln) < 0 || ln == 0) {
		sort_refused(s, &ret);
		bad(s, name, "Invalid sort criteria.");
		return;
	}
	for (size_t i = 0; i < ln; i++) {
		int rev = imap_arg_atom_is(&l[i], "REVERSE");
		if (rev && ++i >= ln) {
			sort_refused(s, &ret);
			bad(s, name, "REVERSE without a sort key.");
			return;
		}
		size_t k;
		for (k = 0; k < K_COUNT; k++)
			if (imap_arg_atom_is(&l[i], key_names[k]))
				break;
		if (k == K_COUNT || spec.n == SORT_MAX_KEYS) {
			sort_refused(s, &ret);
			bad(s, name, k == K_COUNT ? "Unknown sort key." : "Too many sort keys.");
			return;
		}
		spec.key[spec.n] = (unsigned char)k;
		spec.reverse[spec.n++] = (unsigned char)rev;
		spec.want |= 1u << k;
	}
	struct str cs;
	if (charset_ok(s, name, &args[1], &cs) < 0) {
		sort_refused(s, &ret);
		return;
	}
	struct sort_cmd *sc = xcalloc(1, sizeof(*sc));
	*sc = (struct sort_cmd){ .name = name, .uid = uid, .esort = esort, .spec = spec,
				 .ret = ret, .charset = cs, .args = args + 2, .nargs = nargs - 2,
				 .a = arena_new(65536) };
	if (imap_search_start(s, name, cs, args + 2, nargs - 2, IMAP_SEARCH_LIMIT_ALL, &sort_then,
			      sc) < 0) {
		sort_refused(s, &ret);
		sort_cmd_free(sc);
	}
}

static void thread_answer(struct imap_session *s, void *arg, uint32_t *hits, size_t n,
			  int modseq)
{
	struct sort_cmd *sc = arg;
	struct msg_keys *keys = sc->keys;
	struct mime_thread_msg *tm = xcalloc(n ? n : 1, sizeof(*tm));

	(void)hits;
	(void)modseq;
	for (size_t i = 0; i < n; i++) {
		tm[i] = (struct mime_thread_msg){ .num = sc->uid ? s->view.msgs[keys[i].seq - 1].uid
							 : keys[i].seq,
						  .sent = keys[i].sent,
						  .msgid = keys[i].msgid,
						  .refs = keys[i].refs,
						  .nrefs = keys[i].nrefs,
						  .base = keys[i].s[K_SUBJECT],
						  .reply = keys[i].reply };
	}
	struct buf out;
	buf_init(&out, n * 16 + 64);
	buf_append_c(&out, "* THREAD ");
	if (sc->references)
		mime_thread_references(tm, n, &out);
	else
		mime_thread_orderedsubject(tm, n, &out);
	if (n == 0)
		buf_reset(&out), buf_append_c(&out, "* THREAD");
	buf_append_c(&out, "\r\n");
	imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	free(tm);
	sort_cmd_free(sc);
	imap_tagged(s, "OK Thread completed.");
}

static const struct imap_search_then thread_then = {
	.gather = sort_gather,
	.answer = thread_answer,
	.discard = sort_cmd_free,
	.what = "Threading",
};

void imap_cmd_thread(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_THREAD;
	const char *name = uid ? "UID THREAD" : "THREAD";
	int refs;

	if (cmd->nargs < 3) {
		bad(s, name, "Invalid arguments.");
		return;
	}
	if (imap_arg_atom_is(&cmd->args[0], "REFERENCES")) {
		refs = 1;
	} else if (imap_arg_atom_is(&cmd->args[0], "ORDEREDSUBJECT")) {
		refs = 0;
	} else {
		bad(s, name, "Unknown thread algorithm.");
		return;
	}
	struct str cs;
	if (charset_ok(s, name, &cmd->args[1], &cs) < 0)
		return;
	struct sort_cmd *sc = xcalloc(1, sizeof(*sc));
	*sc = (struct sort_cmd){ .name = name, .uid = uid, .thread = 1, .references = refs,
				 .spec = { .want = 1u << K_SUBJECT }, .charset = cs,
				 .a = arena_new(65536) };
	if (imap_search_start(s, name, cs, cmd->args + 2, cmd->nargs - 2, IMAP_SEARCH_LIMIT_ALL,
			      &thread_then, sc) < 0)
		sort_cmd_free(sc);
}
