/*
 * jmap_submission.c — EmailSubmission/get, /changes, /query,
 * /queryChanges, /set (RFC 8621 §7): sending an Email through the
 * outbound queue submission (port 587) uses.
 *
 * create takes an identity and an email (or its creation id) and an
 * envelope, given or derived (§7.5: mailFrom from Sender, else From;
 * rcptTo from To, Cc and Bcc). Submission's rules apply: the envelope
 * sender must be the account's as submission judges it
 * (smtp_submit_owned: its own, aliases, +tags) or the null sender,
 * else forbiddenMailFrom;
 * the author fields pass port 587's own check (smtp_author.h: From,
 * Sender, Resent-From, Resent-Sender, display names that show another
 * address), else forbiddenFrom (invalidEmail for a header that cannot be
 * checked); the From domain's DKIM keys sign the
 * message (the signer submission uses); Bcc fields are taken out; then
 * queue_submit() resolves the recipients (local ones are delivered as
 * submission's local copies are), queues the rest, and commits before
 * this answers. The caller is a JMAP worker thread, so it waits for the
 * commit here.
 *
 * onSuccessUpdateEmail / onSuccessDestroyEmail become the implicit
 * Email/set call that follows the response (jmap_request.then).
 *
 * A submission is recorded in meta "jmapsub/ACCOUNT/ID" (JSON: identity,
 * email, thread, envelope, sendAt, the queue entry), in parts of 64 KiB
 * (the most a meta value holds) when longer: "ID.1", "ID.2"... after it,
 * written in one transaction, read back joined (an envelope of many
 * recipients with parameters is longer: it was sent and not recorded).
 * A record over SUB_PARTS parts is refused as tooLarge before anything
 * is sent. deliveryStatus is
 * read from that queue entry while it exists (queued / yes / no with the
 * last reply; a local recipient waiting there for room in its mailbox,
 * queue.h, too), "yes" for recipients delivered locally, and "unknown" once
 * the entry is gone (the queue keeps no history). undoStatus is always
 * final: tern sends at once (maxDelayedSend 0).
 *
 * State and /changes: snapshots of the submissions as /get renders them
 * (jmap_typestate.c), deliveryStatus included, so a recipient the queue
 * delivered since is an update.
 *
 * An account keeps its newest SUB_MAX submissions, and SUB_BYTES of
 * records: each new one past either removes the oldest (subs_prune; RFC
 * 8621 §7 lets a server delete a submission once it is final, and
 * tern's are final at once). A list cut at SUB_MAX instead showed the
 * oldest and hid every new one; without the byte bound every /get read
 * up to SUB_MAX records of SUB_PARTS parts.
 *
 * Caveats: no delayed sending, no SMTP parameters in the envelope (they
 * are refused), no Received field added.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_send.h"
#include "jmap/jmap_typestate.h"
#include "mime/mime_field.h"
#include "mime/rfc5322.h"
#include "queue/queue.h"
#include "smtp/smtp_author.h"
#include "smtp/smtp_headers.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session.h"
#include "store/store.h"
#include "store/store_queue.h"

#define SUB_MAX 1000   /* submissions kept per account (subs_prune) */
#define SUB_PART 65536 /* octets of a record's part: a meta value's most */
#define SUB_PARTS 4    /* parts of a record at most (see the top) */
#define SUB_BYTES (4 * 1024 * 1024) /* records' octets kept per account (subs_prune) */
#define RCPT_MAX 1000  /* queue_submit's limit */

/* ---- the message ---- */

struct msg {
	char *data;
	size_t len;
	int found;
};

static void msg_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct msg *m = arg;
	(void)meta;
	(void)metalen;
	m->data = xmalloc(len + 1);
	memcpy(m->data, data, len);
	m->len = len;
	m->found = 1;
}

/* The message without its Bcc fields (RFC 8621 §7.5), into a's memory. */
static struct str without_bcc(struct arena *a, const char *d, size_t len)
{
	char *o = arena_alloc(a, len + 1);
	size_t n = 0, i = 0;
	int skipping = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && d[e] != '\n')
			e++;
		if (e < len)
			e++;
		int blank = (e - i == 1) || (e - i == 2 && d[i] == '\r');
		int cont = d[i] == ' ' || d[i] == '\t';
		if (!cont)
			skipping = e - i >= 4 && !strncasecmp(d + i, "bcc:", 4);
		if (!skipping) {
			memcpy(o + n, d + i, e - i);
			n += e - i;
		}
		i = e;
		if (blank) {
			memcpy(o + n, d + i, len - i);
			n += len - i;
			break;
		}
	}
	return str_make(o, n);
}

/* ---- records ---- */

struct sub {
	uint32_t account;
	const char *id;
	const struct json_value *o; /* the stored record */
};

struct subs {
	struct jmap_request *r;
	struct sub v[SUB_MAX];
	size_t n;
	char pend_id[32]; /* the record being joined from its parts */
	struct buf pend;
};

/* The part name's ".N", or NULL for a record's first (or only) part. */
static const char *part_of(const char *id)
{
	return strchr(id, '.');
}

/* Parses the joined record, when it is whole JSON. */
static void sub_flush(struct subs *s)
{
	char err[64];
	if (!s->pend_id[0] || s->n == SUB_MAX)
		return;
	struct json_value *o = json_parse(buf_data(&s->pend), buf_len(&s->pend), s->r->a, err, sizeof err);
	if (o && o->type == JSON_OBJECT) {
		s->v[s->n].account = s->r->account;
		s->v[s->n].id = arena_strdup(s->r->a, s->pend_id);
		s->v[s->n++].o = o;
	}
	s->pend_id[0] = '\0';
	buf_reset(&s->pend);
}

/* Names come in order, a record's parts right after it (its id is of
 * fixed width, so "ID.1" sorts before every later id). */
static void sub_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct subs *s = arg;
	const char *id = strrchr(name, '/');
	if (!id)
		return;
	id++;
	const char *dot = part_of(id);
	if (dot) {
		size_t n = (size_t)(dot - id);
		if (s->pend_id[0] && strlen(s->pend_id) == n && !memcmp(s->pend_id, id, n) &&
		    buf_append(&s->pend, val, len) < 0)
			s->pend_id[0] = '\0'; /* over SUB_PARTS: not one of ours */
		return;
	}
	sub_flush(s);
	if (strlen(id) >= sizeof s->pend_id)
		return;
	memcpy(s->pend_id, id, strlen(id) + 1);
	if (buf_append(&s->pend, val, len) < 0)
		s->pend_id[0] = '\0';
}

static int subs_load(struct jmap_request *r, struct subs *s)
{
	char prefix[48];
	memset(s, 0, sizeof *s);
	s->r = r;
	buf_init(&s->pend, (size_t)SUB_PARTS * SUB_PART);
	snprintf(prefix, sizeof prefix, "jmapsub/%u/", r->account);
	int rc = store_meta_list(r->st, prefix, sub_cb, s);
	sub_flush(s);
	buf_free(&s->pend);
	return rc == STORE_OK ? 0 : -1;
}

/* Deletes a record and its parts: the first part's result. */
static int sub_del(struct store *st, uint32_t account, const char *id)
{
	char key[64];
	snprintf(key, sizeof key, "jmapsub/%u/%s", account, id);
	int rc = store_meta_del(st, key);
	for (int i = 1; i < SUB_PARTS; i++) {
		snprintf(key, sizeof key, "jmapsub/%u/%s.%d", account, id, i);
		if (store_meta_del(st, key) != STORE_OK)
			break;
	}
	return rc;
}

/* An account's submission records, oldest first (ids begin with the
 * time they were made in fixed-width hex), with their sizes. */
struct sub_names {
	struct arena *a;
	size_t n, cap;
	const char **v;  /* ids */
	size_t *bytes;   /* each one's, its parts included */
	size_t total;
};

static void sub_name_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct sub_names *s = arg;
	const char *id = strrchr(name, '/');
	(void)val;
	if (!id)
		return;
	s->total += len;
	if (part_of(id)) {
		if (s->n)
			s->bytes[s->n - 1] += len;
		return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		const char **v = arena_alloc(s->a, cap * sizeof *v);
		size_t *b = arena_alloc(s->a, cap * sizeof *b);
		if (s->n) {
			memcpy(v, s->v, s->n * sizeof *v);
			memcpy(b, s->bytes, s->n * sizeof *b);
		}
		s->v = v;
		s->bytes = b;
		s->cap = cap;
	}
	s->v[s->n] = arena_strdup(s->a, id + 1);
	s->bytes[s->n++] = len;
}

/* Deletes the oldest records past SUB_MAX of them or SUB_BYTES in all:
 * what every /get, /query and /changes reads and parses stays bounded.
 * The newest always stays (SUB_PARTS parts are less than SUB_BYTES). */
static void subs_prune(struct jmap_request *r)
{
	char prefix[48];
	struct sub_names s = {.a = r->a};
	snprintf(prefix, sizeof prefix, "jmapsub/%u/", r->account);
	if (store_meta_list(r->st, prefix, sub_name_cb, &s) != STORE_OK)
		return;
	for (size_t i = 0; i + 1 < s.n && (s.n - i > SUB_MAX || s.total > SUB_BYTES); i++) {
		sub_del(r->st, r->account, s.v[i]);
		s.total -= s.bytes[i];
	}
}

static const char *rec_str(const struct sub *x, const char *k)
{
	const struct json_value *v = json_get(x->o, k);
	return v && v->type == JSON_STRING ? v->str : "";
}

/* deliveryStatus from the queue entry (see the top of the file). */
static void w_delivery(struct jw *w, struct store *st, const struct sub *x)
{
	const struct json_value *q = json_get(x->o, "queueId"), *env = json_get(x->o, "envelope");
	const struct json_value *rc = env ? json_get(env, "rcptTo") : NULL;
	const struct json_value *remote = json_get(x->o, "remote");
	struct store_queue_entry e;
	int have = q && q->type == JSON_NUMBER && q->integer > 0 &&
		   store_queue_get(st, (uint64_t)q->integer, &e) == STORE_OK;
	/* Gone from the queue: the outcome it left (store_queue.c, qdone). */
	char *done = NULL;
	size_t dlen = 0;
	if (!have && q && q->type == JSON_NUMBER && q->integer > 0) {
		/* Its parts in order, while they are there (store_queue.h). */
		done = xmalloc((size_t)STORE_QDONE_PARTS * STORE_QDONE_PART + 1);
		for (int i = 0; i < STORE_QDONE_PARTS; i++) {
			char key[64];
			size_t n;
			snprintf(key, sizeof key, i ? "qdone/%08x/%016llx.%d" : "qdone/%08x/%016llx",
				 x->account, (unsigned long long)q->integer, i);
			if (store_meta_get(st, key, done + dlen, STORE_QDONE_PART, &n) != STORE_OK)
				break;
			dlen += n;
		}
		done[dlen] = '\0';
	}

	jw_obj_begin(w);
	for (const struct json_value *a = rc ? rc->first : NULL; a; a = a->next) {
		const struct json_value *em = json_get(a, "email");
		if (!em || em->type != JSON_STRING)
			continue;
		const char *reply = "250 2.0.0 Delivered", *delivered = "yes";
		char rbuf[SQ_STATUS_MAX + 1];
		int is_remote = 0;
		for (const struct json_value *m = remote ? remote->first : NULL; m; m = m->next)
			is_remote |= m->type == JSON_STRING && !strcasecmp(m->str, em->str);
		if (is_remote) {
			reply = "250 2.0.0 Queued";
			delivered = "unknown";
		}
		/* A local recipient is in the entry (and its outcome) when it
		 * waited there for room (queue.h): told as a remote one. */
		for (size_t i = 0; have && i < e.nrcpts; i++) {
			if (strcasecmp(e.rcpts[i].addr, em->str))
				continue;
			delivered = e.rcpts[i].state == SQ_SENT     ? "yes"
				    : e.rcpts[i].state == SQ_FAILED ? "no"
								    : "queued";
			if (e.rcpts[i].status && e.rcpts[i].status[0])
				reply = e.rcpts[i].status; /* freed after the loop */
		}
		/* Lines "<state><address>\t<reply>" (store_queue.c). */
		for (char *l = dlen ? done : NULL, *nl; l && *l && (nl = strchr(l, '\n'));
		     l = nl + 1) {
			char *tab = memchr(l, '\t', (size_t)(nl - l));
			if (!tab || (size_t)(tab - l - 1) != em->len ||
			    strncasecmp(l + 1, em->str, em->len))
				continue;
			delivered = l[0] - '0' == SQ_SENT     ? "yes"
				    : l[0] - '0' == SQ_FAILED ? "no"
							      : "unknown";
			size_t rl = (size_t)(nl - tab - 1);
			if (rl && rl < sizeof rbuf) {
				memcpy(rbuf, tab + 1, rl);
				rbuf[rl] = '\0';
				reply = rbuf;
			}
		}
		jw_key(w, em->str);
		jw_obj_begin(w);
		jw_kstr(w, "smtpReply", reply);
		jw_kstr(w, "delivered", delivered);
		jw_kstr(w, "displayed", "unknown");
		jw_obj_end(w);
	}
	jw_obj_end(w);
	if (have)
		store_queue_entry_free(&e);
	free(done);
}

static const char *const props[] = {"id",     "identityId", "emailId",    "threadId",
				    "envelope", "sendAt",   "undoStatus", "deliveryStatus",
				    "dsnBlobIds", "mdnBlobIds"};

static void w_sub(struct jw *w, struct store *st, const struct sub *x, const struct json_value *pv)
{
	jw_obj_begin(w);
	for (size_t k = 0; k < sizeof props / sizeof props[0]; k++) {
		int want = !pv || k == 0;
		for (const struct json_value *e = pv ? pv->first : NULL; e && !want; e = e->next)
			want = !strcmp(e->str, props[k]);
		if (!want)
			continue;
		jw_key(w, props[k]);
		switch (k) {
		case 0: jw_str(w, x->id); break;
		case 1: case 2: case 3: case 5: jw_str(w, rec_str(x, props[k])); break;
		case 4: jw_value(w, json_get(x->o, "envelope")); break;
		case 6: jw_str(w, "final"); break;
		case 7: w_delivery(w, st, x); break;
		default: jw_arr_begin(w); jw_arr_end(w); break;
		}
	}
	jw_obj_end(w);
}

/* x as /get renders it, parsed into r's arena (NULL on failure). */
static const struct json_value *sub_json(struct jmap_request *r, const struct sub *x)
{
	struct buf b;
	struct jw w;
	buf_init(&b, 1024 * 1024);
	jw_init(&w, &b);
	w_sub(&w, r->st, x, NULL);
	const struct json_value *v = jmap_json_of(r->a, &w, &b);
	buf_free(&b);
	return v;
}

/* The submissions as /get renders them (jmap_typestate.h). */
static struct jmap_ts_obj *ts_objs(struct jmap_request *r, struct subs *s)
{
	struct jmap_ts_obj *v = arena_zalloc(r->a, (s->n + 1) * sizeof *v);
	struct buf b;
	struct jw w;
	buf_init(&b, 1024 * 1024);
	for (size_t i = 0; i < s->n; i++) {
		buf_reset(&b);
		jw_init(&w, &b);
		w_sub(&w, r->st, &s->v[i], NULL);
		jmap_ts_digest(&v[i], s->v[i].id, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
	return v;
}

static void state_of(struct jmap_request *r, struct subs *s, char out[24])
{
	jmap_ts_state(r, "sub", ts_objs(r, s), s->n, out);
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int sub_found(void *arg, const char *id)
{
	const struct subs *s = arg;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(id, s->v[i].id))
			return 1;
	return 0;
}

void jmap_submission_get(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, props, sizeof props / sizeof props[0], &g) < 0)
		return;
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	jmap_get_list(c, state);
	for (size_t i = 0; i < s->n; i++)
		if (jmap_get_has_id(&g, s->v[i].id))
			w_sub(&c->w, c->r->st, &s->v[i], g.props);
	jmap_get_end(c, &g, sub_found, s);
}

void jmap_submission_changes(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);

	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_ts_changes(c, "sub", ts_objs(c->r, s), s->n);
}

/* RFC 8621 §7.3's FilterCondition (jmap_cond_fn; x NULL: checked only). */
static int sub_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	const struct sub *x = arg;
	for (const struct json_value *p = f->first; p; p = p->next) {
		const char *k = p->key, *field = NULL;
		if (!strcmp(k, "identityIds"))
			field = "identityId";
		else if (!strcmp(k, "emailIds"))
			field = "emailId";
		else if (!strcmp(k, "threadIds"))
			field = "threadId";
		if (field) {
			if (p->type != JSON_ARRAY)
				goto bad;
			int any = 0;
			for (const struct json_value *e = p->first; e; e = e->next) {
				if (e->type != JSON_STRING)
					goto bad;
				/* "#cid": made earlier in the request (§5.3) */
				const char *id = jmap_id_ref(c->r, e->str);
				any |= x && id && !strcmp(id, rec_str(x, field));
			}
			if (x && !any)
				return 0;
		} else if (!strcmp(k, "undoStatus")) {
			/* RFC 8621 §7: one of the three; every one here is final. */
			if (p->type != JSON_STRING || (strcmp(p->str, "pending") &&
						       strcmp(p->str, "final") &&
						       strcmp(p->str, "canceled")))
				goto bad;
			if (x && strcmp(p->str, "final"))
				return 0;
		} else if (!strcmp(k, "before") || !strcmp(k, "after")) {
			/* UTCDates, compared as times, not as text (a client's
			 * may have fractions of a second). */
			int64_t t, sent = 0;
			if (p->type != JSON_STRING || jmap_utcdate_parse(p->str, &t) < 0)
				goto bad;
			if (x && jmap_utcdate_parse(rec_str(x, "sendAt"), &sent) < 0)
				return 0;
			if (x && (k[0] == 'b' ? sent >= t : sent < t))
				return 0;
		} else {
			jmap_error(c, "unsupportedFilter", k);
			return -1;
		}
	}
	return 1;
bad:
	jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
	return -1;
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
    {"anchor", JA_IDREF, JA_NULLABLE}, {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
};

/* A Comparator of EmailSubmission/query: prop 0 emailId, 1 threadId,
 * 2 sentAt. */
#define SUB_SORT_MAX 8
struct sub_key {
	int prop, asc;
};

/* Records are kept in the order made, which is sendAt's (to the second)
 * and ids': sentAt falls back on it. */
static int sub_cmp(const struct sub *a, const struct sub *b, const struct sub_key *k, int nk)
{
	static const char *const field[] = {"emailId", "threadId", "sendAt"};
	for (int i = 0; i < nk; i++) {
		int r = strcmp(rec_str(a, field[k[i].prop]), rec_str(b, field[k[i].prop]));
		if (!r && k[i].prop == 2)
			r = a < b ? -1 : a > b;
		if (r)
			return k[i].asc ? r : -r;
	}
	return 0;
}

static int is_anchor(void *arg, size_t i, const char *anchor)
{
	const struct sub **hit = arg;
	return !strcmp(hit[i]->id, anchor);
}

void jmap_submission_query(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter");
	struct sub_key keys[SUB_SORT_MAX];
	int nkeys = 0;
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING ||
		    (asc && asc->type != JSON_BOOL)) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return;
		}
		/* §7.3: emailId, threadId and sentAt must sort (sentAt is the
		 * record's sendAt, so named too). */
		static const char *const names[] = {"emailId", "threadId", "sentAt", "sendAt"};
		int prop = -1;
		for (int k = 0; k < 4 && prop < 0; k++)
			if (!strcmp(p->str, names[k]))
				prop = k < 2 ? k : 2;
		if (prop < 0 || nkeys == SUB_SORT_MAX) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		if (jmap_comparator_collation(c, e) < 0)
			return;
		keys[nkeys++] = (struct sub_key){prop, asc ? asc->boolean : 1};
	}
	if (jmap_filter_check(c, filter, sub_cond) < 0)
		return;
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	const struct sub **hit = arena_alloc(c->r->a, (s->n + 1) * sizeof *hit);
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct sub *x = &s->v[i];
		int r = filter ? jmap_filter_match(c, filter, sub_cond, (void *)x) : 1;
		if (r < 0)
			return;
		if (r)
			hit[n++] = x;
	}
	/* Stable (at most SUB_MAX): ties stay in the order made. */
	for (size_t i = 1; i < n; i++) {
		const struct sub *x = hit[i];
		size_t k = i;
		for (; k > 0 && sub_cmp(hit[k - 1], x, keys, nkeys) > 0; k--)
			hit[k] = hit[k - 1];
		hit[k] = x;
	}
	size_t pos, end;
	if (jmap_query_window(c, n, is_anchor, hit, &pos, &end) < 0)
		return;
	jmap_query_begin(c, state, 0, pos);
	for (size_t i = pos; i < end; i++)
		jw_str(&c->w, hit[i]->id);
	jmap_query_end(c, n);
}

void jmap_submission_query_changes(struct jmap_call *c)
{
	jmap_query_changes_refused(c, "query the submissions again");
}

/* ---- EmailSubmission/set ---- */

/*
 * 1 when addr is one whole SMTP path as RCPT TO takes it (RFC 5321
 * §4.1.2: port 587's own parser): the queue writes it between "<" and
 * ">" on its SMTP client's command line, so a CR LF, a ">" followed by
 * parameters or any byte the grammar refuses would put commands of the
 * client's making (another MAIL FROM, a DATA) into tern's session with
 * the relay or the remote MX, past the sender and author checks.
 */
int jmap_addr_valid(const char *addr, size_t len)
{
	char canon[SMTP_ADDRESS_BUF];

	if (len > STORE_ADDR_MAX || memchr(addr, '\0', len) || strpbrk(addr, "\r\n"))
		return 0;
	return smtp_mailbox_address(str_make(addr, len), canon, sizeof canon) >= 0;
}

/* An envelope Address's email (its parameters are read apart). */
static const char *env_addr(const struct json_value *a)
{
	const struct json_value *em = a ? json_get(a, "email") : NULL, *pa;
	if (!a || a->type != JSON_OBJECT || !em || em->type != JSON_STRING ||
	    !jmap_addr_valid(em->str, em->len))
		return NULL;
	pa = json_get(a, "parameters");
	if (pa && pa->type != JSON_NULL && pa->type != JSON_OBJECT)
		return NULL;
	return em->str;
}

/* mailFrom's address: env_addr's, or "" for the null sender. */
static const char *env_sender(const struct json_value *a)
{
	const struct json_value *em = a && a->type == JSON_OBJECT ? json_get(a, "email") : NULL,
				*pa = em ? json_get(a, "parameters") : NULL;
	if (em && em->type == JSON_STRING && em->len == 0)
		return pa && pa->type != JSON_NULL && pa->type != JSON_OBJECT ? NULL : "";
	return env_addr(a);
}

/* rcptTo has an address env_addr refuses: invalidRecipients naming each
 * (RFC 8621 §7.5), or invalidProperties when one is no Address at all. */
static int bad_rcpts(struct arena *a, const struct json_value *rt, struct jmap_set_err *e)
{
	const struct json_value **bad = arena_alloc(a, (rt->count + 1) * sizeof *bad);
	size_t n = 0;
	for (const struct json_value *x = rt->first; x; x = x->next) {
		if (env_addr(x))
			continue;
		const struct json_value *em = json_get(x, "email"), *pa = json_get(x, "parameters");
		if (!em || em->type != JSON_STRING ||
		    (pa && pa->type != JSON_NULL && pa->type != JSON_OBJECT))
			return jmap_set_fail(e, "invalidProperties", "envelope", NULL);
		bad[n++] = em;
	}
	e->invalid = bad;
	e->ninvalid = n;
	return jmap_set_fail(e, "invalidRecipients", NULL, NULL);
}

/* A parameter's value as a string ("" for null), or NULL when neither. */
static const char *param_val(const struct json_value *p)
{
	if (p->type == JSON_NULL)
		return "";
	return p->type == JSON_STRING && !strpbrk(p->str, "\r\n") && p->len <= 500 ? p->str : NULL;
}

/*
 * MAIL FROM parameters (RFC 8621 §7: names as SMTP has them, values with
 * xtext undone), the ones the queue carries on (session capability
 * submissionExtensions): BODY=7BIT|8BITMIME, SMTPUTF8, RET=FULL|HDRS,
 * ENVID, REQUIRETLS, MT-PRIORITY (-9..9 into *priority, honoured as an
 * authenticated 587 client's: smtp_session.c's mail_priority). 0, or -1
 * (another, or a bad value: the queue cannot hold a message, so
 * HOLDFOR/HOLDUNTIL are refused too).
 */
static int mail_params(const struct json_value *pa, unsigned *flags, const char **envid,
		       int *priority)
{
	for (const struct json_value *p = pa && pa->type == JSON_OBJECT ? pa->first : NULL; p;
	     p = p->next) {
		const char *v = param_val(p);
		if (!v)
			return -1;
		if (!strcasecmp(p->key, "BODY") && (!strcasecmp(v, "8BITMIME") || !strcasecmp(v, "7BIT")))
			*flags |= !strcasecmp(v, "8BITMIME") ? QUEUE_8BITMIME : 0;
		else if (!strcasecmp(p->key, "SMTPUTF8") && !*v)
			*flags |= QUEUE_SMTPUTF8;
		else if (!strcasecmp(p->key, "RET") && (!strcasecmp(v, "FULL") || !strcasecmp(v, "HDRS")))
			*flags |= !strcasecmp(v, "FULL") ? QUEUE_RET_FULL : QUEUE_RET_HDRS;
		else if (!strcasecmp(p->key, "ENVID") && *v && strlen(v) <= 100)
			*envid = v;
		else if (!strcasecmp(p->key, "REQUIRETLS") && !*v)
			*flags |= QUEUE_REQUIRETLS;
		else if (!strcasecmp(p->key, "MT-PRIORITY") &&
			 smtp_mt_priority_parse(str_c(v), priority) == 0)
			continue;
		else
			return -1;
	}
	return 0;
}

/* RCPT TO parameters: NOTIFY (RFC 3461) and ORCPT. 0 or -1. */
static int rcpt_params(const struct json_value *pa, unsigned *notify, const char **orcpt)
{
	for (const struct json_value *p = pa && pa->type == JSON_OBJECT ? pa->first : NULL; p;
	     p = p->next) {
		const char *v = param_val(p);
		if (!v)
			return -1;
		if (!strcasecmp(p->key, "NOTIFY")) {
			if (!strcasecmp(v, "NEVER")) {
				*notify = QUEUE_NOTIFY_NEVER;
				continue;
			}
			char tok[64];
			for (const char *s = v; *s;) {
				size_t n = strcspn(s, ",");
				if (n == 0 || n >= sizeof tok)
					return -1;
				memcpy(tok, s, n);
				tok[n] = '\0';
				if (!strcasecmp(tok, "SUCCESS"))
					*notify |= QUEUE_NOTIFY_SUCCESS;
				else if (!strcasecmp(tok, "FAILURE"))
					*notify |= QUEUE_NOTIFY_FAILURE;
				else if (!strcasecmp(tok, "DELAY"))
					*notify |= QUEUE_NOTIFY_DELAY;
				else
					return -1;
				s += n + (s[n] == ',');
			}
			if (!*notify)
				return -1;
		} else if (!strcasecmp(p->key, "ORCPT") && strchr(v, ';') && strlen(v) <= 500) {
			*orcpt = v;
		} else {
			return -1;
		}
	}
	return 0;
}

struct rcpts {
	const char *v[RCPT_MAX];
	unsigned notify[RCPT_MAX];
	const char *orcpt[RCPT_MAX];
	const struct json_value *params[RCPT_MAX]; /* as given, for the record */
	size_t n;
	int too_many;
};

/* Adds addr (once); its index, or -1 when there were too many. */
static long rcpt_add(struct rcpts *r, const char *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcasecmp(r->v[i], addr))
			return (long)i;
	if (r->n == RCPT_MAX) {
		r->too_many = 1;
		return -1;
	}
	r->v[r->n] = addr;
	return (long)r->n++;
}

/*
 * Recipients the queue would drop (local addresses of no account or of a
 * disabled one: queue_rcpt_dropped) are invalidRecipients naming each
 * (RFC 8621 §7.5), nothing sent, as port 587 answers them 550 at RCPT
 * TO. They were sent to the others and told "250 Queued", or, when all
 * were such, refused without the list the RFC asks for. 0 or -1.
 */
static int unknown_rcpts(struct jmap_request *r, const struct rcpts *rc, struct jmap_set_err *e)
{
	const struct json_value **bad = NULL;
	size_t n = 0;
	for (size_t i = 0; i < rc->n; i++) {
		if (!queue_rcpt_dropped(r->st, rc->v[i]))
			continue;
		if (!bad)
			bad = arena_alloc(r->a, rc->n * sizeof *bad);
		struct json_value *v = arena_zalloc(r->a, sizeof *v);
		v->type = JSON_STRING;
		v->str = rc->v[i];
		v->len = strlen(rc->v[i]);
		bad[n++] = v;
	}
	if (!n)
		return 0;
	e->invalid = bad;
	e->ninvalid = n;
	return jmap_set_fail(e, "invalidRecipients", NULL,
			     "no such local recipient, or one that takes no mail");
}

/* §7.5: To, Cc and Bcc of the message, each address once. */
static void rcpts_derive(struct arena *a, const struct jmap_hfields *h, struct rcpts *r)
{
	for (size_t i = 0; i < h->n; i++) {
		if (!str_eq_ci_c(h->v[i].name, "To") && !str_eq_ci_c(h->v[i].name, "Cc") &&
		    !str_eq_ci_c(h->v[i].name, "Bcc"))
			continue;
		char *u = arena_alloc(a, h->v[i].value.len + 1);
		struct str v = str_make(u, rfc5322_unfold(h->v[i].value, u));
		struct mime_address *l;
		uint32_t n;
		mime_field_addresses(a, v, &l, &n, RCPT_MAX);
		/* a local part or a domain alone is no recipient */
		for (uint32_t k = 0; k < n; k++)
			if (mime_address_complete(&l[k]))
				rcpt_add(r, arena_printf(a, "%.*s@%.*s", (int)l[k].mailbox.len,
							 l[k].mailbox.p, (int)l[k].host.len,
							 l[k].host.p));
	}
}

static void thread_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	(void)i;
	if (b)
		*(uint32_t *)arg = b->thread_id;
}

/*
 * The author fields of m, as port 587 checks them (smtp_author.h): 0 with
 * *au filled, or -1 with the SetError in e. A message whose header cannot
 * be checked (broken, no or several From, unreadable From) is
 * invalidEmail; an author the account may not send as is forbiddenFrom.
 */
static int author_check(struct jmap_request *r, const struct msg *m, struct smtp_author *au,
			struct jmap_set_err *e)
{
	struct smtp_headers h;

	if (smtp_headers_scan(r->a, m->data, m->len, &h) < 0)
		return jmap_set_fail(e, "invalidEmail", NULL, "the email's header section is too long");
	if (smtp_author_check(r->a, r->st, r->account, &h, au) == 0)
		return 0;
	switch (au->verdict) {
	case SMTP_AUTHOR_MALFORMED:
		return jmap_set_fail(e, "invalidEmail", NULL,
				     "the email has a header line that is not \"Name: value\"");
	case SMTP_AUTHOR_NO_FROM:
	case SMTP_AUTHOR_SEVERAL_FROM:
		return jmap_set_fail(e, "invalidEmail", NULL, "the email needs exactly one From field");
	case SMTP_AUTHOR_TOO_MANY_RESENT:
		return jmap_set_fail(e, "invalidEmail", NULL,
				     "too many Resent-From or Resent-Sender fields");
	case SMTP_AUTHOR_NOT_OWNED:
		return jmap_set_fail(e, "forbiddenFrom", NULL,
				     arena_printf(r->a, "%s <%s> is not an address of this account",
						  au->field, au->addr));
	case SMTP_AUTHOR_NAME_SHOWS_OTHER:
		return jmap_set_fail(e, "forbiddenFrom", NULL,
				     arena_printf(r->a, "%s <%s>: its display name shows another address",
						  au->field, au->addr));
	default: /* UNPARSABLE, SEVERAL_SENDER */
		break;
	}
	if (!strcmp(au->field, "From"))
		return jmap_set_fail(e, "invalidEmail", NULL,
				     "the email needs one From field of plain addresses");
	return jmap_set_fail(e, "forbiddenFrom", NULL,
			     arena_printf(r->a, au->single ? "%s must be one plain address"
							   : "%s must be a list of plain addresses",
					  au->field));
}

/* What a submission's record holds (see the top). */
struct rec_in {
	struct store *st;
	const char *identity, *email, *mail_from;
	uint32_t thread;
	const struct json_value *mparams;
	const struct rcpts *rc;
};

/* The record's JSON into b: 0, or -1 when it is over b's maximum. */
static int rec_write(struct buf *b, const struct rec_in *in, int64_t at, uint64_t queue_id)
{
	struct jw rw;
	jw_init(&rw, b);
	jw_obj_begin(&rw);
	jw_kstr(&rw, "identityId", in->identity);
	jw_kstr(&rw, "emailId", in->email);
	jw_key(&rw, "threadId");
	jmap_w_id(&rw, 'T', in->thread);
	jw_key(&rw, "envelope");
	jw_obj_begin(&rw);
	jw_key(&rw, "mailFrom");
	jw_obj_begin(&rw);
	jw_kstr(&rw, "email", in->mail_from);
	jw_key(&rw, "parameters");
	if (in->mparams && in->mparams->type == JSON_OBJECT)
		jw_value(&rw, in->mparams);
	else
		jw_null(&rw);
	jw_obj_end(&rw);
	jw_key(&rw, "rcptTo");
	jw_arr_begin(&rw);
	for (size_t i = 0; i < in->rc->n; i++) {
		jw_obj_begin(&rw);
		jw_kstr(&rw, "email", in->rc->v[i]);
		jw_key(&rw, "parameters");
		if (in->rc->params[i])
			jw_value(&rw, in->rc->params[i]);
		else
			jw_null(&rw);
		jw_obj_end(&rw);
	}
	jw_arr_end(&rw);
	jw_obj_end(&rw);
	jw_key(&rw, "sendAt");
	jmap_w_utcdate(&rw, at);
	jw_kuint(&rw, "queueId", queue_id);
	jw_key(&rw, "remote");
	jw_arr_begin(&rw);
	for (size_t i = 0; i < in->rc->n; i++) {
		uint32_t ids[4];
		size_t n = 0;
		if (store_resolve_rcpt(in->st, in->rc->v[i], ids, 4, &n) != STORE_RCPT_OK || !n)
			jw_str(&rw, in->rc->v[i]);
	}
	jw_arr_end(&rw);
	jw_obj_end(&rw);
	return jw_failed(&rw) ? -1 : 0;
}

/* Stores the record b in its parts, all or none. */
static int rec_put(struct store *st, uint32_t account, const char *id, const struct buf *b)
{
	struct store_meta_item it[SUB_PARTS];
	char names[SUB_PARTS][64];
	size_t n = 0;
	for (size_t off = 0; off < buf_len(b) || n == 0; off += SUB_PART) {
		if (n == SUB_PARTS)
			return STORE_EINVAL;
		if (n)
			snprintf(names[n], sizeof names[n], "jmapsub/%u/%s.%zu", account, id, n);
		else
			snprintf(names[n], sizeof names[n], "jmapsub/%u/%s", account, id);
		size_t len = buf_len(b) - off < SUB_PART ? buf_len(b) - off : SUB_PART;
		it[n] = (struct store_meta_item){names[n], buf_data(b) + off, len};
		n++;
	}
	return store_meta_put_all(st, it, n);
}

/* Sends one creation; its record's id into *id_r. */
static int create_one(struct jmap_call *c, const struct json_value *o, const char **id_r,
		      const char **email_id_r, const struct json_value **rec_r,
		      struct jmap_set_err *e)
{
	struct jmap_request *r = c->r;
	struct arena *a = r->a;

	/* Every bad property is named, not only the first (RFC 8620 §5.3). */
	e->bad = (struct jmap_bad){.a = a};
	if (o->type != JSON_OBJECT)
		return jmap_set_fail(e, "invalidProperties", NULL, "an EmailSubmission is an object");
	for (const struct json_value *p = o->first; p; p = p->next) {
		if (!strcmp(p->key, "identityId") || !strcmp(p->key, "emailId") ||
		    !strcmp(p->key, "envelope"))
			continue;
		if (!strcmp(p->key, "undoStatus") && p->type == JSON_STRING && !strcmp(p->str, "final"))
			continue;
		jmap_bad_member(&e->bad, p->key,
				strcmp(p->key, "undoStatus") ? "not a property a client may set"
							     : "undoStatus is \"final\": sent at once");
	}
	const struct json_value *idv = json_get(o, "identityId"), *ev = json_get(o, "emailId"),
				*env = json_get(o, "envelope");
	/* "#" and a creation id: an identity Identity/set made earlier in
	 * the request (RFC 8620 §5.3), kept under its id. */
	const char *iid = idv && idv->type == JSON_STRING ? jmap_id_ref(r, idv->str) : NULL;
	if (!idv || idv->type != JSON_STRING)
		jmap_bad_add(&e->bad, "identityId", "identityId is an Id, required");
	else if (!iid || !jmap_identity_email(r, iid))
		jmap_bad_add(&e->bad, "identityId", "no such identity");
	const char *eid = ev && ev->type == JSON_STRING ? jmap_id_ref(r, ev->str) : NULL;
	uint32_t enum_ = eid ? jmap_id_num(eid, 'E') : 0;
	struct msg m = {0};
	if (!ev || ev->type != JSON_STRING)
		jmap_bad_add(&e->bad, "emailId", "emailId is an Id, required");
	else if (!enum_)
		jmap_bad_add(&e->bad, "emailId", "no such email");
	if (env && env->type != JSON_NULL && env->type != JSON_OBJECT)
		jmap_bad_add(&e->bad, "envelope", "an Envelope or null");
	if (!e->bad.n) {
		store_email_content(r->st, r->account, enum_, msg_cb, &m);
		if (!m.found)
			jmap_bad_add(&e->bad, "emailId", "no such email");
	}
	if (e->bad.n) {
		free(m.data);
		return jmap_set_fail(e, "invalidProperties", NULL, e->bad.desc);
	}
	*email_id_r = arena_printf(a, "E%08x", enum_);
	/* Submission's rule, port 587's own check (smtp_author.h). */
	struct smtp_author au;
	if (author_check(r, &m, &au, e) < 0) {
		free(m.data);
		return -1;
	}
	/* The envelope, given or derived. */
	struct rcpts *rc = arena_zalloc(a, sizeof *rc);
	const char *mail_from, *envid = NULL;
	const struct json_value *mparams = NULL;
	unsigned qflags = QUEUE_SIEVE; /* local copies run their scripts, as on port 587 */
	int priority = 0;
	if (env && env->type != JSON_NULL) {
		const struct json_value *mf = json_get(env, "mailFrom"), *rt = json_get(env, "rcptTo");
		mail_from = env->type == JSON_OBJECT ? env_sender(mf) : NULL;
		if (!mail_from || !rt || rt->type != JSON_ARRAY) {
			free(m.data);
			return jmap_set_fail(e, "invalidProperties", "envelope", NULL);
		}
		mparams = json_get(mf, "parameters");
		if (mail_params(mparams, &qflags, &envid, &priority) < 0) {
			free(m.data);
			return jmap_set_fail(e, "invalidProperties", "envelope",
				    "an SMTP parameter this server does not carry on (see "
				    "submissionExtensions)");
		}
		for (const struct json_value *x = rt->first; x; x = x->next) {
			const char *ad = env_addr(x);
			if (!ad) {
				free(m.data);
				return bad_rcpts(a, rt, e);
			}
			long k = rcpt_add(rc, ad);
			const struct json_value *rp = json_get(x, "parameters");
			if (k >= 0 && rcpt_params(rp, &rc->notify[k], &rc->orcpt[k]) < 0) {
				free(m.data);
				return jmap_set_fail(e, "invalidProperties", "envelope",
					    "an SMTP parameter this server does not carry on (see "
					    "submissionExtensions)");
			}
			if (k >= 0 && rp && rp->type == JSON_OBJECT)
				rc->params[k] = rp;
		}
	} else {
		struct jmap_hfields hf;
		mail_from = au.sender ? au.sender : au.from[0];
		jmap_hfields_read(a, m.data, m.len, &hf);
		rcpts_derive(a, &hf, rc);
	}
	/* The null sender (a read receipt's, RFC 8098 §2.1) as on port 587. */
	if (mail_from[0] && !smtp_submit_owned(r->st, r->account, mail_from)) {
		free(m.data);
		return jmap_set_fail(e, "forbiddenMailFrom", NULL, "not an address of this account");
	}
	if (rc->too_many) {
		free(m.data);
		e->limit_name = "maxRecipients"; /* §7.5: MUST be present */
		e->limit = RCPT_MAX;
		return jmap_set_fail(e, "tooManyRecipients", NULL, NULL);
	}
	if (!rc->n) {
		free(m.data);
		return jmap_set_fail(e, "noRecipients", NULL, NULL);
	}
	if (unknown_rcpts(r, rc, e) < 0) {
		free(m.data);
		return -1;
	}
	/* The bytes that go out: without Bcc, signed by jmap_send. */
	struct str body = without_bcc(a, m.data, m.len);
	free(m.data);
	/* The record is measured before anything is sent: one the store
	 * cannot keep would be a message sent and then not to be found. A
	 * queue id of 20 digits and any UTCDate are the longest the real
	 * ones can be. */
	uint32_t tid = 0;
	store_emails_get(r->st, r->account, &enum_, 1, thread_cb, &tid);
	struct rec_in ri = {.st = r->st, .identity = iid, .email = *email_id_r, .thread = tid,
			    .mail_from = mail_from, .mparams = mparams, .rc = rc};
	struct buf rec;
	buf_init(&rec, (size_t)SUB_PARTS * SUB_PART);
	if (rec_write(&rec, &ri, (int64_t)time(NULL), UINT64_MAX) < 0) {
		buf_free(&rec);
		return jmap_set_fail(e, "tooLarge", NULL,
			    arena_printf(a, "the submission's record (its envelope, with every "
					    "parameter) is over %d KiB", SUB_PARTS * SUB_PART / 1024));
	}
	const char *at = strrchr(au.from[0], '@');
	struct jmap_outgoing q = {.mail_from = mail_from, .rcpts = rc->v, .nrcpts = rc->n,
				  .notify = rc->notify, .orcpt = rc->orcpt, .envid = envid,
				  .msg = body, .sign_domain = at ? at + 1 : NULL, .flags = qflags,
				  .mt_priority = priority};
	int sent = jmap_send(r, &q);
	if (sent != JMAP_SEND_OK)
		buf_free(&rec);
	if (sent == JMAP_SEND_RATE)
		return jmap_set_fail(e, "forbiddenToSend", NULL,
			    "the account's hourly sending limit is reached; try again later");
	if (sent == JMAP_SEND_FULL) /* a create the disk has no room for, as Email/set's */
		return jmap_set_fail(e, jmap_store_fail_type(STORE_EFULL, 1), NULL,
				     jmap_store_fail_desc(STORE_EFULL));
	if (sent != JMAP_SEND_OK)
		return jmap_set_fail(e, sent == JMAP_SEND_REFUSED ? "invalidRecipients" : "serverFail", NULL,
			    "the queue refused the message");
	int signed_ = q.signed_;
	/* The record, as measured before (the same length or shorter). */
	uint8_t rnd[2];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	randombytes_buf(rnd, sizeof rnd);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	const char *id = arena_printf(a, "S%012llx%02x%02x", (unsigned long long)ms, rnd[0], rnd[1]);
	buf_reset(&rec);
	int src = rec_write(&rec, &ri, q.at, q.queue_id) < 0 ? STORE_EINVAL
							       : rec_put(r->st, r->account, id, &rec);
	char perr[64];
	*rec_r = src == STORE_OK ? json_parse(buf_data(&rec), buf_len(&rec), a, perr, sizeof perr) : NULL;
	buf_free(&rec);
	log_info("jmap", NULL, "event=submitted account=%u submission=%s queue_id=%llu rcpts=%zu "
		 "local=%zu remote=%zu dkim=%d", r->account, id, (unsigned long long)q.queue_id, rc->n,
		 q.nlocal, q.nremote, signed_);
	if (src != STORE_OK)
		/* Sent, but not recorded: the client must not send it again. */
		log_error("jmap", NULL, "event=submission_unrecorded account=%u submission=%s result=%d",
			  r->account, id, src);
	else
		subs_prune(r);
	*id_r = id;
	return 0;
}

/*
 * The submission's email id for a key of onSuccess* (an id or "#cid"):
 * only a submission this call created, updated or destroyed (RFC 8621
 * §7.5: "if the create/update/destroy succeeds"; an update succeeds only
 * when it changes nothing, undoStatus "final" as it is). Another one of
 * the account's, sent long ago, is not named by this call's success, and
 * its email is left alone.
 */
struct then_ctx {
	struct jmap_request *r;
	const char **cids, **cemails;
	size_t ncr;
	const char **dids, **demails; /* updated or destroyed here, with their emails */
	size_t nde;
};

static const char *then_email(void *arg, const char *key)
{
	struct then_ctx *t = arg;
	if (key[0] == '#') {
		for (size_t i = 0; i < t->ncr; i++)
			if (!strcmp(t->cids[i], key + 1))
				return t->cemails[i];
		return NULL;
	}
	for (size_t i = 0; i < t->ncr; i++) {
		const char *id = jmap_created_get(t->r, t->cids[i]);
		if (id && !strcmp(id, key))
			return t->cemails[i];
	}
	for (size_t i = 0; i < t->nde; i++)
		if (!strcmp(t->dids[i], key))
			return t->demails[i];
	return NULL;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},        {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE},       {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},         {"onSuccessUpdateEmail", JA_IDREFMAP, JA_NULLABLE},
    {"onSuccessDestroyEmail", JA_ARRAY, JA_NULLABLE},
};

void jmap_submission_set(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char old[24], now[24];
	struct jmap_set set;

	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0)
		return;
	const struct json_value *cr = set.create, *up = set.update, *de = set.destroy,
				*osu = jmap_arg(c, "onSuccessUpdateEmail"),
				*osd = jmap_arg(c, "onSuccessDestroyEmail");
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, old);
	if (jmap_set_if_in_state(c, old) < 0)
		return;
	jmap_set_open(&set, 4 * 1024 * 1024);
	/* okw[i], badw[i]: created/updated/destroyed and their not* (the enum's order). */
	struct jw *okw = &set.w[JMAP_SET_CREATED], *badw = &set.w[JMAP_SET_NOT_CREATED];
	size_t ncr = 0, cap = cr ? cr->count : 0;
	const char **cids = arena_zalloc(c->r->a, (cap + 1) * sizeof *cids);
	const char **cemails = arena_zalloc(c->r->a, (cap + 1) * sizeof *cemails);
	for (const struct json_value *o = cr ? cr->first : NULL; o; o = o->next) {
		struct jmap_set_err e = {0};
		const char *id, *email;
		const struct json_value *rec = NULL;
		if (create_one(c, o, &id, &email, &rec, &e) < 0) {
			jmap_w_set_err(&badw[0], o->key, &e);
			continue;
		}
		jmap_created_put(c->r, o->key, id);
		cids[ncr] = o->key;
		cemails[ncr++] = email;
		jw_key(&okw[0], o->key);
		if (rec && rec->type == JSON_OBJECT) {
			/* The server-set properties, and the envelope when
			 * the server made it (RFC 8620 §5.3, RFC 8621 §7). */
			static const char set_by_us[] =
			    "[\"threadId\",\"sendAt\",\"undoStatus\",\"deliveryStatus\","
			    "\"dsnBlobIds\",\"mdnBlobIds\",\"envelope\"]";
			const struct json_value *env = json_get(o, "envelope");
			/* Without the last, ,"envelope", when the client gave it. */
			size_t keep = sizeof set_by_us - 2 - (env && env->type != JSON_NULL ? 11 : 0);
			char *list = arena_printf(c->r->a, "%.*s]", (int)keep, set_by_us);
			char perr[64];
			const struct json_value *pv = json_parse(list, strlen(list), c->r->a, perr,
								 sizeof perr);
			struct sub x = {c->r->account, id, rec};
			w_sub(&okw[0], c->r->st, &x, pv);
		} else {
			jw_obj_begin(&okw[0]);
			jw_kstr(&okw[0], "id", id);
			jw_kstr(&okw[0], "undoStatus", "final");
			jw_obj_end(&okw[0]);
		}
	}
	/* The submissions updated or destroyed here, with their emails. */
	size_t nde = 0, dcap = (up ? up->count : 0) + (de ? de->count : 0);
	const char **dids = arena_zalloc(c->r->a, (dcap + 1) * sizeof *dids);
	const char **demails = arena_zalloc(c->r->a, (dcap + 1) * sizeof *demails);
	for (const struct json_value *o = up ? up->first : NULL; o; o = o->next) {
		struct jmap_set_err e = {.type = "notFound"};
		const char *id = jmap_id_ref(c->r, o->key);
		const struct sub *x = NULL;
		for (size_t i = 0; id && i < s->n && !x; i++)
			if (!strcmp(s->v[i].id, id))
				x = &s->v[i];
		int found = x != NULL;
		/* Every property it would change (RFC 8620 §5.3). */
		struct jmap_bad bad = {.a = c->r->a};
		if (found && o->type == JSON_OBJECT) {
			/* What only sets what is there already (undoStatus
			 * "final", a server-set property as it is; RFC 8620
			 * §5.3) changes nothing, and is no error. */
			const struct json_value *cur = sub_json(c->r, x);
			for (const struct json_value *p = o->first; p; p = p->next)
				if (!jmap_patch_same(c->r->a, cur, p))
					jmap_bad_member(&bad, p->key,
							"an EmailSubmission is sent at once: "
							"nothing of it can change");
			if (!bad.n) {
				jw_key(&okw[1], id);
				jw_null(&okw[1]);
				if (*rec_str(x, "emailId")) {
					dids[nde] = x->id;
					demails[nde++] = rec_str(x, "emailId");
				}
				continue;
			}
		}
		if (found) {
			const struct json_value *u = json_get(o, "undoStatus");
			/* Sent at once: nothing can be undone (§7.5). */
			e = u && o->count == 1 && u->type == JSON_STRING &&
			            !strcmp(u->str, "canceled")
			        ? (struct jmap_set_err){.type = "cannotUnsend"}
			        : (struct jmap_set_err){.type = "invalidProperties",
			                                .desc = bad.desc, .bad = bad};
		}
		jmap_w_set_err(&badw[1], id ? id : o->key, &e);
	}
	for (const struct json_value *o = de ? de->first : NULL; o; o = o->next) {
		const char *id = jmap_id_ref(c->r, o->str);
		int rc = STORE_ENOTFOUND;
		if (id && !strchr(id, '/') && !part_of(id) && strlen(id) < 32)
			rc = sub_del(c->r->st, c->r->account, id);
		if (rc == STORE_OK) {
			jw_str(&okw[2], id);
			/* Its email, from the records read before (s). */
			for (size_t i = 0; i < s->n; i++)
				if (!strcmp(s->v[i].id, id) && *rec_str(&s->v[i], "emailId")) {
					dids[nde] = id;
					demails[nde++] = rec_str(&s->v[i], "emailId");
					break;
				}
		} else {
			struct jmap_set_err e = {.type = rc == STORE_ENOTFOUND ? "notFound"
										: "serverFail"};
			jmap_w_set_err(&badw[2], id ? id : o->str, &e);
		}
	}
	/* The implicit Email/set (§7.5) for the submissions that succeeded. */
	struct then_ctx tc = {c->r, cids, cemails, ncr, dids, demails, nde};
	jmap_then_email_set(c, osu, osd, then_email, &tc);
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		jmap_set_free(&set);
		return;
	}
	state_of(c->r, s, now);
	jmap_set_end(c, &set, old, now);
}
