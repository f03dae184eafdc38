/*
 * jmap_submission.c — EmailSubmission/get, /changes, /query,
 * /queryChanges, /set (RFC 8621 §7): sending an Email through the
 * outbound queue submission (port 587) uses.
 *
 * create takes an identity and an email (or its creation id) and an
 * envelope, given or derived (§7.5: mailFrom from Sender, else From;
 * rcptTo from To, Cc and Bcc). Submission's rules apply: the envelope
 * sender and every address of From and Sender must be the account's as
 * submission judges it (smtp_submit_owned: its own, aliases, +tags), else
 * forbiddenMailFrom / forbiddenFrom; the From domain's DKIM keys sign the
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
 * email, thread, envelope, sendAt, the queue entry); deliveryStatus is
 * read from that queue entry while it exists (queued / yes / no with the
 * last reply), "yes" for recipients delivered locally, and "unknown" once
 * the entry is gone (the queue keeps no history). undoStatus is always
 * final: tern sends at once (maxDelayedSend 0).
 *
 * Caveats: no delayed sending, no SMTP parameters in the envelope (they
 * are refused), no Received field added; the state is a digest of the
 * account's submissions, so /changes from another state answers
 * cannotCalculateChanges; submissions are never destroyed by tern (a
 * client may destroy them).
 */
#include <pthread.h>
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
#include "dkim/dkim.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "mime/mime_field.h"
#include "mime/rfc5322.h"
#include "queue/queue.h"
#include "smtp/smtp_headers.h"
#include "smtp/smtp_session.h"
#include "spam/spam_sent.h"
#include "store/store.h"
#include "store/store_queue.h"

#define SUB_MAX 1000   /* submissions listed per account */
#define RCPT_MAX 1000  /* queue_submit's limit */
#define SIGS_MAX 8192

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

/* DKIM-Signature fields for the From domain (empty when it has no keys). */
static void sign(struct store *st, const char *domain, struct str m, struct buf *sigs)
{
	struct dkim_keys *keys;
	struct dkim_signer sg;

	if (!domain || !dkim_domain_ok(domain))
		return;
	keys = xmalloc(sizeof *keys);
	if (store_dkim_get(st, domain, keys) == STORE_OK &&
	    dkim_signer_init(&sg, keys, domain, time(NULL)) == DKIM_OK) {
		dkim_signer_update(&sg, m.p, m.len);
		if (dkim_signer_final(&sg, sigs) != DKIM_OK)
			buf_reset(sigs);
		dkim_signer_clear(&sg);
	}
	dkim_keys_wipe(keys);
	free(keys);
}

/* queue_submit() from a thread that may wait: done() signals. */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void enqueued(struct queue_request *r, void *arg)
{
	struct waiter *w = arg;
	(void)r;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- records ---- */

struct sub {
	const char *id;
	const struct json_value *o; /* the stored record */
};

struct subs {
	struct jmap_request *r;
	struct sub v[SUB_MAX];
	size_t n;
};

static void sub_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct subs *s = arg;
	char err[64];
	const char *id = strrchr(name, '/');
	if (!id || s->n == SUB_MAX)
		return;
	struct json_value *o = json_parse(val, len, s->r->a, err, sizeof err);
	if (!o || o->type != JSON_OBJECT)
		return;
	s->v[s->n].id = arena_strdup(s->r->a, id + 1);
	s->v[s->n++].o = o;
}

static int subs_load(struct jmap_request *r, struct subs *s)
{
	char prefix[48];
	memset(s, 0, sizeof *s);
	s->r = r;
	snprintf(prefix, sizeof prefix, "jmapsub/%u/", r->account);
	return store_meta_list(r->st, prefix, sub_cb, s) == STORE_OK ? 0 : -1;
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

	jw_obj_begin(w);
	for (const struct json_value *a = rc ? rc->first : NULL; a; a = a->next) {
		const struct json_value *em = json_get(a, "email");
		if (!em || em->type != JSON_STRING)
			continue;
		const char *reply = "250 2.0.0 Delivered", *delivered = "yes";
		int is_remote = 0;
		for (const struct json_value *m = remote ? remote->first : NULL; m; m = m->next)
			is_remote |= m->type == JSON_STRING && !strcasecmp(m->str, em->str);
		if (is_remote) {
			reply = "250 2.0.0 Queued";
			delivered = "unknown";
			for (size_t i = 0; have && i < e.nrcpts; i++) {
				if (strcasecmp(e.rcpts[i].addr, em->str))
					continue;
				delivered = e.rcpts[i].state == SQ_SENT     ? "yes"
					    : e.rcpts[i].state == SQ_FAILED ? "no"
									    : "queued";
				if (e.rcpts[i].status && e.rcpts[i].status[0])
					reply = e.rcpts[i].status; /* freed after the loop */
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

static void state_of(struct jmap_request *r, struct subs *s, char out[24])
{
	struct buf b;
	struct jw w;
	uint8_t h[8];
	buf_init(&b, 16 * 1024 * 1024);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->n; i++)
		w_sub(&w, r->st, &s->v[i], NULL);
	jw_arr_end(&w);
	crypto_generichash(h, sizeof h, (const uint8_t *)buf_data(&b), buf_len(&b), NULL, 0);
	buf_free(&b);
	snprintf(out, 24, "%02x%02x%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5], h[6],
		 h[7]);
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

void jmap_submission_get(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];

	if (jmap_args_check(c, get_args, 3) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "ids"), *pv = jmap_arg(c, "properties");
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next) {
		size_t k;
		for (k = 0; k < sizeof props / sizeof props[0] && strcmp(props[k], e->str); k++)
			;
		if (k == sizeof props / sizeof props[0]) {
			jmap_bad_arg(c, "properties", "unknown property");
			return;
		}
	}
	if (ids && ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	jmap_begin(c);
	jw_kstr(&c->w, "state", state);
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < s->n; i++) {
		int want = !ids;
		for (const struct json_value *e = ids ? ids->first : NULL; e && !want; e = e->next)
			want = !strcmp(e->str, s->v[i].id);
		if (want)
			w_sub(&c->w, c->r->st, &s->v[i], pv);
	}
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	jw_arr_begin(&c->w);
	for (const struct json_value *e = ids ? ids->first : NULL; e; e = e->next) {
		int found = 0;
		for (size_t i = 0; i < s->n && !found; i++)
			found = !strcmp(e->str, s->v[i].id);
		if (!found)
			jw_str(&c->w, e->str);
	}
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

static const struct jmap_arg changes_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"sinceState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE},
};

void jmap_submission_changes(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];

	if (jmap_args_check(c, changes_args, 3) < 0)
		return;
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	jmap_changes_unlogged(c, jmap_arg(c, "sinceState")->str, state, "fetch the submissions again");
}

/* RFC 8621 §7.3's FilterCondition (jmap_cond_fn). */
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
				any |= !strcmp(e->str, rec_str(x, field));
			}
			if (!any)
				return 0;
		} else if (!strcmp(k, "undoStatus")) {
			if (p->type != JSON_STRING)
				goto bad;
			if (strcmp(p->str, "final"))
				return 0;
		} else if (!strcmp(k, "before") || !strcmp(k, "after")) {
			if (p->type != JSON_STRING)
				goto bad;
			int cmp = strcmp(rec_str(x, "sendAt"), p->str);
			if (k[0] == 'b' ? cmp >= 0 : cmp < 0)
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
    {"anchor", JA_ID, JA_NULLABLE},    {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
};

void jmap_submission_query(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];
	const struct json_value *v;

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter");
	int desc = 0;
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return;
		}
		/* Submissions are listed in the order they were made, which is
		 * sentAt's (ids grow with it). */
		if (strcmp(p->str, "sentAt")) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		desc = asc && asc->type == JSON_BOOL && !asc->boolean;
	}
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	const struct sub **hit = arena_alloc(c->r->a, (s->n + 1) * sizeof *hit);
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct sub *x = &s->v[desc ? s->n - 1 - i : i];
		int r = filter ? jmap_filter_match(c, filter, sub_cond, (void *)x) : 1;
		if (r < 0)
			return;
		if (r)
			hit[n++] = x;
	}
	int64_t pos = (v = jmap_arg(c, "position")) ? v->integer : 0;
	const struct json_value *anchor = jmap_arg(c, "anchor");
	if (anchor) {
		int64_t at = -1;
		for (size_t i = 0; i < n && at < 0; i++)
			if (!strcmp(hit[i]->id, anchor->str))
				at = (int64_t)i;
		if (at < 0) {
			jmap_error(c, "anchorNotFound", NULL);
			return;
		}
		pos = at + ((v = jmap_arg(c, "anchorOffset")) ? v->integer : 0);
	} else if (pos < 0) {
		pos += (int64_t)n;
	}
	if (pos < 0)
		pos = 0;
	if (pos > (int64_t)n)
		pos = (int64_t)n;
	int64_t lim = (v = jmap_arg(c, "limit")) ? v->integer : (int64_t)n;
	jmap_begin(c);
	jw_kstr(&c->w, "queryState", state);
	jw_kbool(&c->w, "canCalculateChanges", 0);
	jw_kint(&c->w, "position", pos);
	jw_key(&c->w, "ids");
	jw_arr_begin(&c->w);
	for (int64_t i = pos; i < (int64_t)n && i - pos < lim; i++)
		jw_str(&c->w, hit[i]->id);
	jw_arr_end(&c->w);
	if ((v = jmap_arg(c, "calculateTotal")) && v->boolean)
		jw_kint(&c->w, "total", (int64_t)n);
	jw_obj_end(&c->w);
}

static const struct jmap_arg qc_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},    {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},      {"sinceQueryState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE}, {"upToId", JA_ID, JA_NULLABLE},
    {"calculateTotal", JA_BOOL, 0},
};

void jmap_submission_query_changes(struct jmap_call *c)
{
	if (jmap_args_check(c, qc_args, sizeof qc_args / sizeof qc_args[0]) < 0)
		return;
	jmap_error(c, "cannotCalculateChanges", "query the submissions again");
}

/* ---- EmailSubmission/set ---- */

struct set_err {
	const char *type, *prop, *desc;
};

static int fail(struct set_err *e, const char *type, const char *prop, const char *desc)
{
	e->type = type;
	e->prop = prop;
	e->desc = desc;
	return -1;
}

/* An envelope Address without SMTP parameters (tern offers none). */
static const char *env_addr(const struct json_value *a)
{
	const struct json_value *em = a ? json_get(a, "email") : NULL, *pa;
	if (!a || a->type != JSON_OBJECT || !em || em->type != JSON_STRING || !strchr(em->str, '@') ||
	    em->len > STORE_ADDR_MAX)
		return NULL;
	pa = json_get(a, "parameters");
	if (pa && pa->type != JSON_NULL)
		return NULL;
	return em->str;
}

struct rcpts {
	const char *v[RCPT_MAX];
	size_t n;
	int too_many;
};

static void rcpt_add(struct rcpts *r, const char *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcasecmp(r->v[i], addr))
			return;
	if (r->n == RCPT_MAX)
		r->too_many = 1;
	else
		r->v[r->n++] = addr;
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
		for (uint32_t k = 0; k < n; k++)
			if (l[k].mailbox.p && l[k].host.p)
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

/* Sends one creation; its record's id into *id_r. */
static int create_one(struct jmap_call *c, const struct json_value *o, const char **id_r,
		      const char **email_id_r, struct set_err *e)
{
	struct jmap_request *r = c->r;
	struct arena *a = r->a;

	if (o->type != JSON_OBJECT)
		return fail(e, "invalidProperties", NULL, NULL);
	for (const struct json_value *p = o->first; p; p = p->next) {
		if (!strcmp(p->key, "identityId") || !strcmp(p->key, "emailId") ||
		    !strcmp(p->key, "envelope"))
			continue;
		if (!strcmp(p->key, "undoStatus") && p->type == JSON_STRING && !strcmp(p->str, "final"))
			continue;
		return fail(e, "invalidProperties", p->key, NULL);
	}
	const struct json_value *idv = json_get(o, "identityId"), *ev = json_get(o, "emailId"),
				*env = json_get(o, "envelope");
	if (!idv || idv->type != JSON_STRING)
		return fail(e, "invalidProperties", "identityId", NULL);
	if (!jmap_identity_email(r, idv->str))
		return fail(e, "invalidProperties", "identityId", "no such identity");
	if (!ev || ev->type != JSON_STRING)
		return fail(e, "invalidProperties", "emailId", NULL);
	const char *eid = ev->str[0] == '#' ? jmap_created_get(r, ev->str + 1) : ev->str;
	uint32_t enum_ = eid ? jmap_id_num(eid, 'E') : 0;
	struct msg m = {0};
	if (enum_)
		store_email_content(r->st, r->account, enum_, msg_cb, &m);
	if (!m.found)
		return fail(e, "invalidProperties", "emailId", "no such email");
	*email_id_r = arena_printf(a, "E%08x", enum_);
	struct arena *ta = a;
	struct smtp_headers h;
	char *from[16];
	int nfrom = -1;
	if (smtp_headers_scan(ta, m.data, m.len, &h) == 0 && h.from_fields == 1 && !h.malformed)
		nfrom = smtp_from_addresses(ta, h.from, from, 16);
	if (nfrom < 1) {
		free(m.data);
		return fail(e, "invalidEmail", NULL, "the email needs one From field of plain addresses");
	}
	/* Submission's rule: every author address is the account's. */
	for (int i = 0; i < nfrom; i++)
		if (!smtp_submit_owned(r->st, r->account, from[i])) {
			free(m.data);
			return fail(e, "forbiddenFrom", NULL, "From is not an address of this account");
		}
	char *sender[1];
	if (h.sender_fields &&
	    (smtp_from_addresses(ta, h.sender, sender, 1) != 1 ||
	     !smtp_submit_owned(r->st, r->account, sender[0]))) {
		free(m.data);
		return fail(e, "forbiddenFrom", NULL, "Sender is not an address of this account");
	}
	/* The envelope, given or derived. */
	struct rcpts *rc = arena_zalloc(a, sizeof *rc);
	const char *mail_from;
	if (env && env->type != JSON_NULL) {
		const struct json_value *mf = json_get(env, "mailFrom"), *rt = json_get(env, "rcptTo");
		mail_from = env->type == JSON_OBJECT ? env_addr(mf) : NULL;
		if (!mail_from || !rt || rt->type != JSON_ARRAY) {
			free(m.data);
			return fail(e, "invalidProperties", "envelope", NULL);
		}
		for (const struct json_value *x = rt->first; x; x = x->next) {
			const char *ad = env_addr(x);
			if (!ad) {
				free(m.data);
				return fail(e, "invalidRecipients", NULL, NULL);
			}
			rcpt_add(rc, ad);
		}
	} else {
		struct jmap_hfields hf;
		mail_from = h.sender_fields ? sender[0] : from[0];
		jmap_hfields_read(a, m.data, m.len, &hf);
		rcpts_derive(a, &hf, rc);
	}
	if (!smtp_submit_owned(r->st, r->account, mail_from)) {
		free(m.data);
		return fail(e, "forbiddenMailFrom", NULL, "not an address of this account");
	}
	if (rc->too_many) {
		free(m.data);
		return fail(e, "tooManyRecipients", NULL, NULL);
	}
	if (!rc->n) {
		free(m.data);
		return fail(e, "noRecipients", NULL, NULL);
	}
	/* The bytes that go out: signed, without Bcc. */
	struct str body = without_bcc(a, m.data, m.len);
	free(m.data);
	struct buf sigs;
	buf_init(&sigs, SIGS_MAX);
	const char *at = strrchr(from[0], '@');
	sign(r->st, at ? at + 1 : NULL, body, &sigs);
	size_t total = buf_len(&sigs) + body.len;
	char *out = xmalloc(total + 1);
	memcpy(out, buf_data(&sigs), buf_len(&sigs));
	memcpy(out + buf_len(&sigs), body.p, body.len);
	int signed_ = buf_len(&sigs) > 0;
	buf_free(&sigs);
	struct queue_rcpt *qr = arena_zalloc(a, rc->n * sizeof *qr);
	for (size_t i = 0; i < rc->n; i++)
		qr[i].addr = rc->v[i];
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	struct queue_request q;
	memset(&q, 0, sizeof q);
	q.data = out;
	q.len = total;
	q.sender = mail_from;
	q.rcpts = qr;
	q.nrcpts = rc->n;
	q.account = r->account;
	q.received_at = (int64_t)time(NULL);
	q.done = enqueued;
	q.arg = &w;
	queue_submit(r->st, &q);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	if (q.result == STORE_OK)
		spam_sent_note(r->st, r->account, "", 0, out, total);
	free(out);
	if (q.result != STORE_OK)
		return fail(e, q.result == STORE_EINVAL ? "invalidRecipients" : "serverFail", NULL,
			    "the queue refused the message");
	/* The record. */
	uint8_t rnd[2];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	randombytes_buf(rnd, sizeof rnd);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	const char *id = arena_printf(a, "S%012llx%02x%02x", (unsigned long long)ms, rnd[0], rnd[1]);
	uint32_t tid = 0;
	store_emails_get(r->st, r->account, &enum_, 1, thread_cb, &tid);
	struct buf rec;
	struct jw rw;
	buf_init(&rec, 1024 * 1024);
	jw_init(&rw, &rec);
	jw_obj_begin(&rw);
	jw_kstr(&rw, "identityId", idv->str);
	jw_kstr(&rw, "emailId", *email_id_r);
	jw_key(&rw, "threadId");
	jmap_w_id(&rw, 'T', tid);
	jw_key(&rw, "envelope");
	jw_obj_begin(&rw);
	jw_key(&rw, "mailFrom");
	jw_obj_begin(&rw);
	jw_kstr(&rw, "email", mail_from);
	jw_key(&rw, "parameters");
	jw_null(&rw);
	jw_obj_end(&rw);
	jw_key(&rw, "rcptTo");
	jw_arr_begin(&rw);
	for (size_t i = 0; i < rc->n; i++) {
		jw_obj_begin(&rw);
		jw_kstr(&rw, "email", rc->v[i]);
		jw_key(&rw, "parameters");
		jw_null(&rw);
		jw_obj_end(&rw);
	}
	jw_arr_end(&rw);
	jw_obj_end(&rw);
	jw_key(&rw, "sendAt");
	jmap_w_utcdate(&rw, q.received_at);
	jw_kuint(&rw, "queueId", q.queue_id);
	jw_key(&rw, "remote");
	jw_arr_begin(&rw);
	for (size_t i = 0; i < rc->n; i++) {
		uint32_t ids[4];
		size_t n = 0;
		if (store_resolve_rcpt(r->st, rc->v[i], ids, 4, &n) != STORE_RCPT_OK || !n)
			jw_str(&rw, rc->v[i]);
	}
	jw_arr_end(&rw);
	jw_obj_end(&rw);
	char key[64];
	snprintf(key, sizeof key, "jmapsub/%u/%s", r->account, id);
	int src = jw_failed(&rw) ? STORE_EINVAL : store_meta_put(r->st, key, buf_data(&rec), buf_len(&rec), 0);
	buf_free(&rec);
	log_info("jmap", NULL, "event=submitted account=%u submission=%s queue_id=%llu rcpts=%zu "
		 "local=%zu remote=%zu dkim=%d", r->account, id, (unsigned long long)q.queue_id, rc->n,
		 q.nlocal, q.nremote, signed_);
	if (src != STORE_OK)
		/* Sent, but not recorded: the client must not send it again. */
		log_error("jmap", NULL, "event=submission_unrecorded account=%u submission=%s result=%d",
			  r->account, id, src);
	*id_r = id;
	return 0;
}

static void w_err(struct jw *w, const char *key, const struct set_err *e)
{
	jw_key(w, key);
	jw_obj_begin(w);
	jw_kstr(w, "type", e->type);
	if (e->prop) {
		jw_key(w, "properties");
		jw_arr_begin(w);
		jw_str(w, e->prop);
		jw_arr_end(w);
	}
	if (e->desc)
		jw_kstr(w, "description", e->desc);
	jw_obj_end(w);
}

/* The submission's email id for a key of onSuccess* (an id or "#cid"). */
static const char *email_of(struct subs *s, struct jmap_request *r, const char *key,
			    const char **cids, const char **cemails, size_t ncr)
{
	if (key[0] == '#') {
		for (size_t i = 0; i < ncr; i++)
			if (!strcmp(cids[i], key + 1))
				return cemails[i];
		return NULL;
	}
	for (size_t i = 0; i < ncr; i++)
		if (cids[i] && !strcmp(jmap_created_get(r, cids[i]) ? jmap_created_get(r, cids[i]) : "", key))
			return cemails[i];
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].id, key))
			return rec_str(&s->v[i], "emailId");
	return NULL;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},        {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_OBJECT, JA_NULLABLE},       {"update", JA_OBJECT, JA_NULLABLE},
    {"destroy", JA_IDS, JA_NULLABLE},         {"onSuccessUpdateEmail", JA_OBJECT, JA_NULLABLE},
    {"onSuccessDestroyEmail", JA_ARRAY, JA_NULLABLE},
};

void jmap_submission_set(struct jmap_call *c)
{
	struct subs *s = arena_alloc(c->r->a, sizeof *s);
	char old[24], now[24];

	if (jmap_args_check(c, set_args, sizeof set_args / sizeof set_args[0]) < 0)
		return;
	const struct json_value *cr = jmap_arg(c, "create"), *up = jmap_arg(c, "update"),
				*de = jmap_arg(c, "destroy"), *ifs = jmap_arg(c, "ifInState"),
				*osu = jmap_arg(c, "onSuccessUpdateEmail"),
				*osd = jmap_arg(c, "onSuccessDestroyEmail");
	if ((cr ? cr->count : 0) + (up ? up->count : 0) + (de ? de->count : 0) >
	    JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, old);
	if (ifs && strcmp(ifs->str, old)) {
		jmap_error(c, "stateMismatch", NULL);
		return;
	}
	struct buf ok[3], bad[3];
	struct jw okw[3], badw[3];
	for (int i = 0; i < 3; i++) {
		buf_init(&ok[i], 4 * 1024 * 1024);
		buf_init(&bad[i], 4 * 1024 * 1024);
		jw_init(&okw[i], &ok[i]);
		jw_init(&badw[i], &bad[i]);
		if (i == 2)
			jw_arr_begin(&okw[i]);
		else
			jw_obj_begin(&okw[i]);
		jw_obj_begin(&badw[i]);
	}
	size_t ncr = 0, cap = cr ? cr->count : 0;
	const char **cids = arena_zalloc(c->r->a, (cap + 1) * sizeof *cids);
	const char **cemails = arena_zalloc(c->r->a, (cap + 1) * sizeof *cemails);
	for (const struct json_value *o = cr ? cr->first : NULL; o; o = o->next) {
		struct set_err e = {0};
		const char *id, *email;
		if (create_one(c, o, &id, &email, &e) < 0) {
			w_err(&badw[0], o->key, &e);
			continue;
		}
		jmap_created_put(c->r, o->key, id);
		cids[ncr] = o->key;
		cemails[ncr++] = email;
		jw_key(&okw[0], o->key);
		jw_obj_begin(&okw[0]);
		jw_kstr(&okw[0], "id", id);
		jw_kstr(&okw[0], "undoStatus", "final");
		jw_obj_end(&okw[0]);
	}
	for (const struct json_value *o = up ? up->first : NULL; o; o = o->next) {
		struct set_err e = {"notFound", NULL, NULL};
		int found = 0;
		for (size_t i = 0; i < s->n && !found; i++)
			found = !strcmp(s->v[i].id, o->key);
		if (found) {
			const struct json_value *u = json_get(o, "undoStatus");
			/* Sent at once: nothing can be undone (§7.5). */
			e = u && o->count == 1 && u->type == JSON_STRING && !strcmp(u->str, "canceled")
				? (struct set_err){"cannotUnsend", NULL, NULL}
				: (struct set_err){"invalidProperties", NULL, NULL};
		}
		w_err(&badw[1], o->key, &e);
	}
	for (const struct json_value *o = de ? de->first : NULL; o; o = o->next) {
		char key[64];
		snprintf(key, sizeof key, "jmapsub/%u/%s", c->r->account, o->str);
		int rc = strchr(o->str, '/') ? STORE_ENOTFOUND : store_meta_del(c->r->st, key);
		if (rc == STORE_OK) {
			jw_str(&okw[2], o->str);
		} else {
			struct set_err e = {rc == STORE_ENOTFOUND ? "notFound" : "serverFail", NULL, NULL};
			w_err(&badw[2], o->str, &e);
		}
	}
	/* The implicit Email/set (§7.5) for the submissions that succeeded. */
	struct buf then;
	struct jw tw;
	int any = 0;
	buf_init(&then, 4 * 1024 * 1024);
	jw_init(&tw, &then);
	jw_arr_begin(&tw);
	jw_str(&tw, "Email/set");
	jw_obj_begin(&tw);
	jw_key(&tw, "accountId");
	jmap_w_id(&tw, 'A', c->r->account);
	if (osu) {
		jw_key(&tw, "update");
		jw_obj_begin(&tw);
		for (const struct json_value *o = osu->first; o; o = o->next) {
			const char *em = email_of(s, c->r, o->key, cids, cemails, ncr);
			if (!em)
				continue;
			jw_key(&tw, em);
			jw_value(&tw, o);
			any = 1;
		}
		jw_obj_end(&tw);
	}
	if (osd) {
		jw_key(&tw, "destroy");
		jw_arr_begin(&tw);
		for (const struct json_value *o = osd->first; o; o = o->next) {
			const char *em = o->type == JSON_STRING
					     ? email_of(s, c->r, o->str, cids, cemails, ncr)
					     : NULL;
			if (!em)
				continue;
			jw_str(&tw, em);
			any = 1;
		}
		jw_arr_end(&tw);
	}
	jw_obj_end(&tw);
	jw_str(&tw, c->id);
	jw_arr_end(&tw);
	if (any && !jw_failed(&tw)) {
		char err[64];
		c->r->then = json_parse(buf_data(&then), buf_len(&then), c->r->a, err, sizeof err);
	}
	buf_free(&then);
	if (subs_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
	} else {
		state_of(c->r, s, now);
		static const char *const ok_names[] = {"created", "updated", "destroyed"};
		static const char *const bad_names[] = {"notCreated", "notUpdated", "notDestroyed"};
		jmap_begin(c);
		jw_kstr(&c->w, "oldState", old);
		jw_kstr(&c->w, "newState", now);
		for (int i = 0; i < 3; i++) {
			if (i == 2)
				jw_arr_end(&okw[i]);
			else
				jw_obj_end(&okw[i]);
			jw_obj_end(&badw[i]);
			jw_key(&c->w, ok_names[i]);
			jw_rawn(&c->w, buf_data(&ok[i]), buf_len(&ok[i]));
			jw_key(&c->w, bad_names[i]);
			jw_rawn(&c->w, buf_data(&bad[i]), buf_len(&bad[i]));
		}
		jw_obj_end(&c->w);
	}
	for (int i = 0; i < 3; i++) {
		buf_free(&ok[i]);
		buf_free(&bad[i]);
	}
}
