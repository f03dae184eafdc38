/*
 * jmap_api.c — one API request (RFC 8620 §3): the Request object checked,
 * its method calls run in order with their result references resolved,
 * the Response written. See jmap.h.
 *
 * The Response is written as each call ends, not built at the end: into
 * the answer's spool (jmap_api_spooled over HTTP, jmap_ws_message over
 * WebSocket), each call's response moving there as the method writes
 * it, so a 29 MB answer costs a small buffer and the spool instead of
 * the call's text, its copy, the whole Response and the spool (VmHWM
 * +61 MiB for one, +244 MiB for four at once, measured; over WebSocket
 * +73 and +146 MiB). Only a response some result reference of the
 * request names stays in memory for the calls after it.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/spool.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/*
 * Budgets that keep a request's memory near its size. Each call's
 * response may use only what the calls before it left of
 * JMAP_RESPONSE_MAX (else it is serverFail, "too large"): the Response
 * holds them all, and without the budget result references let a small
 * request grow without end (a Core/echo of 30 references to a 1 MB
 * argument, echoed again by each of 30 calls, held gigabytes). An error
 * always fits: CALL_ERR_ROOM. And references parse at most
 * JMAP_MAX_SIZE_REQUEST octets of responses in all (each at most once),
 * and make at most JMAP_JSON_VALUES_MAX values in all, so the trees they
 * build cost no more than the request's own may (a parsed "[0,0,...]"
 * takes some 40 times its text).
 */
#define CALL_ERR_ROOM 4096
#define REF_PARSE_MAX JMAP_MAX_SIZE_REQUEST

void jmap_problem(struct buf *out, int status, const char *type, const char *limit,
		  const char *detail)
{
	struct jw w;
	char t[96];

	buf_reset(out);
	jw_init(&w, out);
	snprintf(t, sizeof t, "urn:ietf:params:jmap:error:%s", type);
	jw_obj_begin(&w);
	jw_kstr(&w, "type", t);
	jw_kint(&w, "status", status);
	if (limit)
		jw_kstr(&w, "limit", limit);
	jw_kstr(&w, "detail", detail);
	jw_obj_end(&w);
}

/* ---- result references (§3.7) ---- */

static struct jmap_resp *resp_find(struct jmap_request *r, const char *id)
{
	for (size_t i = 0; i < r->nresp; i++)
		if (strcmp(r->resp[i].id, id) == 0)
			return &r->resp[i];
	return NULL;
}

/* Resolves one "#name": {resultOf, name, path} into *out_r. 0, -1, or
 * -2 when the response referred to is past REF_PARSE_MAX. */
static int ref_resolve(struct jmap_request *r, const struct json_value *ref,
		       const struct json_value **out_r)
{
	const struct json_value *of = json_get(ref, "resultOf"), *nm = json_get(ref, "name"),
				*path = json_get(ref, "path");

	if (ref->type != JSON_OBJECT || ref->count != 3 || !of || of->type != JSON_STRING || !nm ||
	    nm->type != JSON_STRING || !path || path->type != JSON_STRING)
		return -1;
	struct jmap_resp *p = resp_find(r, of->str);
	if (!p || strcmp(p->name, nm->str) != 0 || !p->is_kept)
		return -1;
	if (!p->tree) {
		char err[64];
		int over;
		if (p->args_len > REF_PARSE_MAX - r->ref_parsed)
			return -2;
		r->ref_parsed += p->args_len;
		p->tree = json_parse_capped(buf_data(&p->kept), p->args_len, r->a, &r->ref_values,
					    &over, err, sizeof err);
		if (!p->tree)
			return over ? -2 : -1;
	}
	return jmap_pointer(r->a, p->tree, path->str, out_r);
}

/*
 * The arguments with every "#name" member replaced by name and its
 * referenced value: a new object (members copied), or args itself when
 * it has no reference. 0, or -1 with c's error set.
 */
static int args_resolve(struct jmap_call *c, const struct json_value *args,
			const struct json_value **out_r)
{
	int refs = 0;

	for (const struct json_value *m = args->first; m; m = m->next)
		refs += m->key[0] == '#';
	*out_r = args;
	if (!refs)
		return 0;
	struct json_value *o = arena_zalloc(c->r->a, sizeof *o), **tail = &o->first;
	o->type = JSON_OBJECT;
	for (const struct json_value *m = args->first; m; m = m->next) {
		struct json_value *n = arena_alloc(c->r->a, sizeof *n);
		if (m->key[0] == '#') {
			const struct json_value *v;
			if (json_get(args, m->key + 1)) {
				jmap_error(c, "invalidArguments", "both an argument and its reference");
				return -1;
			}
			int rc = ref_resolve(c->r, m, &v);
			if (rc < 0) {
				jmap_error(c, "invalidResultReference",
					   rc == -2 ? "the results referred to are larger than "
						      "maxSizeRequest in all, or hold too many "
						      "values"
						    : m->key);
				return -1;
			}
			*n = *v;
			n->key = m->key + 1;
		} else {
			*n = *m;
		}
		n->next = NULL;
		*tail = n;
		tail = &n->next;
		o->count++;
	}
	*out_r = o;
	return 0;
}

/*
 * The ids a /get reads ("ids"), SearchSnippet/get's "emailIds" and
 * Email/parse's "blobIds" with every "#" and creation id of an object
 * made earlier in the request replaced by its id (RFC 8620 §5.3: the
 * creation id stands for the id within the request, as /set's
 * references and update keys take it): a new object, or args itself
 * when there is none. A "#" name no creation made stays as it is: a
 * /get lists it in notFound, as it does an id that names nothing (RFC
 * 8620 §5.1; Cyrus does the same), where emailIds and blobIds refuse it
 * as no Id (invalidArguments).
 */
static const struct json_value *ids_resolve(struct jmap_call *c, const struct json_value *args)
{
	size_t nl = strlen(c->name);
	int get = nl > 4 && !strcmp(c->name + nl - 4, "/get");
	int any = 0;

	if (!c->r->created || args->type != JSON_OBJECT)
		return args;
	for (const struct json_value *m = args->first; m; m = m->next) {
		if (m->type != JSON_ARRAY ||
		    !((get && !strcmp(m->key, "ids")) || !strcmp(m->key, "emailIds") ||
		      !strcmp(m->key, "blobIds")))
			continue;
		for (const struct json_value *e = m->first; e; e = e->next)
			any |= e->type == JSON_STRING && e->str[0] == '#' && jmap_id_ref(c->r, e->str);
	}
	if (!any)
		return args;
	struct json_value *o = arena_zalloc(c->r->a, sizeof *o), **tail = &o->first;
	*o = *args;
	o->first = NULL;
	for (const struct json_value *m = args->first; m; m = m->next) {
		struct json_value *n = arena_alloc(c->r->a, sizeof *n);
		*n = *m;
		n->next = NULL;
		if (m->type == JSON_ARRAY && ((get && !strcmp(m->key, "ids")) ||
					      !strcmp(m->key, "emailIds") || !strcmp(m->key, "blobIds"))) {
			struct json_value **et = &n->first;
			for (const struct json_value *e = m->first; e; e = e->next) {
				struct json_value *x = arena_alloc(c->r->a, sizeof *x);
				const char *id = e->type == JSON_STRING && e->str[0] == '#'
						     ? jmap_id_ref(c->r, e->str)
						     : NULL;
				*x = *e;
				x->next = NULL;
				if (id) {
					x->str = (char *)id;
					x->len = strlen(id);
				}
				*et = x;
				et = &x->next;
			}
		}
		*tail = n;
		tail = &n->next;
	}
	return o;
}

/* ---- the request ---- */

static const struct {
	const char *uri;
	unsigned bit;
} caps[] = {
    {JMAP_CAP_CORE, JMAP_USING_CORE},
    {JMAP_CAP_MAIL, JMAP_USING_MAIL},
    {JMAP_CAP_SIEVE, JMAP_USING_SIEVE},
    /* Names no method; a client may list it (RFC 8887 §4.1). */
    {JMAP_CAP_WEBSOCKET, 0},
    /* Advertised in the session: a client may send every capability it
     * read there in "using" (jmap-client-ts does), so each is known. */
    {JMAP_CAP_WEBPUSH_VAPID, 0},
    {JMAP_CAP_SUBMISSION, JMAP_USING_SUBMISSION},
    {JMAP_CAP_VACATION, JMAP_USING_VACATION},
    {JMAP_CAP_QUOTA, JMAP_USING_QUOTA},
    {JMAP_CAP_BLOB, JMAP_USING_BLOB},
    {JMAP_CAP_MDN, JMAP_USING_MDN},
    {JMAP_CAP_PRINCIPALS, JMAP_USING_PRINCIPALS},
    /* An account capability (RFC 9670 §2.1) no method needs. */
    {JMAP_CAP_PRINCIPALS_OWNER, 0},
};

/* "using": 0, or -1 with the problem written (the unknown one named). */
static int using_check(struct jmap_request *r, const struct json_value *u, struct buf *out)
{
	for (const struct json_value *e = u->first; e; e = e->next) {
		size_t i;
		for (i = 0; i < sizeof caps / sizeof caps[0]; i++)
			if (strcmp(e->str, caps[i].uri) == 0)
				break;
		if (i == sizeof caps / sizeof caps[0]) {
			char d[300];
			snprintf(d, sizeof d, "the server does not support the capability %.200s", e->str);
			jmap_problem(out, 400, "unknownCapability", NULL, d);
			return -1;
		}
		r->caps |= caps[i].bit;
	}
	return 0;
}

/* 1 when v is a Request object (§3.3), types only. */
static int request_shaped(const struct json_value *v)
{
	if (!v || v->type != JSON_OBJECT)
		return 0;
	const struct json_value *u = json_get(v, "using"), *mc = json_get(v, "methodCalls"),
				*ci = json_get(v, "createdIds");
	if (!u || u->type != JSON_ARRAY || !mc || mc->type != JSON_ARRAY)
		return 0;
	if (ci && ci->type != JSON_OBJECT)
		return 0;
	for (const struct json_value *m = v->first; m; m = m->next)
		if (strcmp(m->key, "using") && strcmp(m->key, "methodCalls") &&
		    strcmp(m->key, "createdIds"))
			return 0;
	for (const struct json_value *e = u->first; e; e = e->next)
		if (e->type != JSON_STRING)
			return 0;
	for (const struct json_value *e = ci ? ci->first : NULL; e; e = e->next)
		if (e->type != JSON_STRING)
			return 0;
	for (const struct json_value *e = mc->first; e; e = e->next) {
		if (e->type != JSON_ARRAY || e->count != 3)
			return 0;
		const struct json_value *n = e->first, *a = n->next, *id = a->next;
		if (n->type != JSON_STRING || a->type != JSON_OBJECT || id->type != JSON_STRING)
			return 0;
	}
	return 1;
}

/* ---- the Response, written as it is made ---- */

/* Whether some result reference of the request names call id. */
static int referenced(const struct jmap_request *r, const char *id)
{
	for (size_t i = 0; i < r->nrefd; i++)
		if (strcmp(r->refd[i], id) == 0)
			return 1;
	return 0;
}

/* The ids of calls the references of the request name: their responses
 * are all that must stay in memory once written. An implicit call's
 * arguments are the server's, with no reference. */
static void refs_scan(struct jmap_request *r, const struct json_value *calls)
{
	r->refd = arena_alloc(r->a, (calls->count + 1) * sizeof *r->refd);
	for (const struct json_value *e = calls->first; e; e = e->next)
		for (const struct json_value *m = e->first->next->first; m; m = m->next) {
			const struct json_value *of =
			    m->key[0] == '#' && m->type == JSON_OBJECT ? json_get(m, "resultOf") : NULL;
			if (!of || of->type != JSON_STRING || referenced(r, of->str))
				continue;
			for (const struct json_value *k = calls->first; k; k = k->next)
				if (strcmp(k->first->next->next->str, of->str) == 0) {
					r->refd[r->nrefd++] = of->str;
					break;
				}
		}
}

/* The Response's text so far, in all. */
static uint64_t out_pos(const struct jmap_request *r)
{
	return (r->sink ? r->sink->len : 0) + buf_len(r->w->b);
}

/* jw_flush_to's for the Response's writer: its buffer into the spool. */
static int out_flush(void *cls, struct buf *b)
{
	struct jmap_request *r = cls;
	if (buf_len(b) && spool_append(r->sink, buf_data(b), buf_len(b)) < 0)
		return -1;
	buf_reset(b);
	return 0;
}

/* A streamed call's: the Response's text before it, then its own. Its
 * buffer's ceiling shrinks by what left it, so the call's budget holds. */
static int call_flush(void *cls, struct buf *b)
{
	struct jmap_call *c = cls;
	size_t n = buf_len(b);
	if (out_flush(c->r, c->r->w->b) < 0 || out_flush(c->r, b) < 0)
		return -1;
	b->max -= n;
	c->sunk += n;
	return 0;
}

/* Takes the Response back to pos octets, its writer to saved. */
static void out_rewind(struct jmap_request *r, uint64_t pos, const struct jw *saved)
{
	uint64_t sunk = r->sink ? r->sink->len : 0;
	if (pos >= sunk) {
		buf_truncate(r->w->b, (size_t)(pos - sunk));
	} else {
		buf_reset(r->w->b);
		if (spool_truncate(r->sink, pos) < 0)
			r->w->failed = 1;
	}
	*r->w = *saved;
}

/* One arguments object of the Response: a large one past the writer's
 * buffer straight into the spool when there is one. */
static void out_args(struct jmap_request *r, const char *json, size_t n)
{
	if (!r->sink || n < JW_FLUSH_AT) {
		jw_rawn(r->w, json, n);
		return;
	}
	jw_rawn(r->w, "", 0); /* the comma before it */
	if (out_flush(r, r->w->b) < 0 || spool_append(r->sink, json, n) < 0)
		r->w->failed = 1;
}

/*
 * Runs one invocation and writes its response (or error) to the
 * Response. A call no reference names, with a spool to write to, is
 * streamed: its arguments go to the spool as the method writes them
 * (the invocation's name before them), and an error takes them back.
 */
static void call_run(struct jmap_request *r, const struct json_value *inv)
{
	struct jmap_call c = {.r = r};
	const struct json_value *n = inv->first, *args = n->next, *id = args->next;
	const struct jmap_method *m = jmap_method_find(n->str);

	c.name = n->str;
	c.id = id->str;
	int keep = referenced(r, c.id), streamed = r->sink && !keep;
	struct jw saved = *r->w;
	uint64_t mark = out_pos(r);
	size_t room = JMAP_RESPONSE_MAX > r->resp_used ? JMAP_RESPONSE_MAX - r->resp_used : 0;
	room = room > CALL_ERR_ROOM ? room : CALL_ERR_ROOM;
	buf_init(&c.out, room);
	jw_init(&c.w, &c.out);
	if (streamed) {
		jw_arr_begin(r->w);
		jw_str(r->w, c.name);
		jw_rawn(r->w, "", 0); /* the comma before the arguments */
		jw_flush_to(&c.w, call_flush, &c);
	}
	/* An implicit call runs on the capability of the call that asked
	 * for it (EmailSubmission/set's Email/set under submission alone). */
	if (!m || (!r->in_implicit && (m->cap & ~r->caps)))
		jmap_error(&c, "unknownMethod", NULL);
	else if (args_resolve(&c, args, &c.args) == 0) {
		struct jmap_share share;
		c.args = ids_resolve(&c, c.args);
		if (jmap_share_enter(&c, m->flags, &share) >= 0)
			m->fn(&c);
		jmap_share_leave(r);
	}
	if (!c.err_type && jw_failed(&c.w))
		jmap_error(&c, "serverFail", "the response is too large");

	struct jmap_resp *p;
	if (r->nresp == r->capresp) {
		size_t cap = r->capresp ? r->capresp * 2 : 8;
		struct jmap_resp *nr = arena_alloc(r->a, cap * sizeof *nr);
		if (r->nresp)
			memcpy(nr, r->resp, r->nresp * sizeof *nr);
		r->resp = nr;
		r->capresp = cap;
	}
	p = &r->resp[r->nresp++];
	memset(p, 0, sizeof *p);
	p->id = c.id;
	p->name = c.err_type ? "error" : c.name;
	if (c.err_type) {
		if (streamed) {
			out_rewind(r, mark, &saved);
			streamed = 0;
		}
		buf_free(&c.out);
		buf_init(&c.out, room);
		c.sunk = 0;
		jw_init(&c.w, &c.out);
		jw_obj_begin(&c.w);
		jw_kstr(&c.w, "type", c.err_type);
		if (c.err_desc)
			jw_kstr(&c.w, "description", c.err_desc);
		if (c.nerr_props) {
			jw_key(&c.w, !strcmp(c.err_type, "invalidArguments") ? "arguments" : "properties");
			jw_arr_begin(&c.w);
			for (int i = 0; i < c.nerr_props; i++)
				jw_str(&c.w, c.err_props[i]);
			jw_arr_end(&c.w);
		}
		jw_obj_end(&c.w);
	}
	p->args_len = c.sunk + buf_len(&c.out);
	if (streamed) {
		/* A small response joins the Response's buffer: an answer
		 * that stays small never touches the spool. */
		if (c.sunk ? call_flush(&c, &c.out) < 0
			   : buf_append(r->w->b, buf_data(&c.out), buf_len(&c.out)) < 0)
			r->w->failed = 1;
	} else {
		jw_arr_begin(r->w);
		jw_str(r->w, p->name);
		out_args(r, buf_data(&c.out), buf_len(&c.out));
	}
	jw_str(r->w, c.id);
	jw_arr_end(r->w);
	r->resp_used += p->args_len;
	if (keep) {
		p->kept = c.out; /* freed with the request (jmap_api_request) */
		p->is_kept = 1;
	} else {
		buf_free(&c.out);
	}
	if (r->then) {
		const struct json_value *next = r->then;
		r->then = NULL;
		r->in_implicit = 1;
		call_run(r, next);
		r->in_implicit = 0;
	}
}

/* The request parsed from body; NULL with the problem written to out
 * and *status_r set. */
static struct json_value *request_parse(const char *body, size_t len, struct arena *a,
					struct buf *out, int *status_r)
{
	char err[128], d[200];
	size_t values = JMAP_JSON_VALUES_MAX;
	int over;

	struct json_value *req = json_parse_capped(body, len, a, &values, &over, err, sizeof err);
	*status_r = 400;
	if (!req && over) {
		snprintf(d, sizeof d, "the request holds more than %d JSON values",
			 JMAP_JSON_VALUES_MAX);
		jmap_problem(out, 400, "limit", "maxSizeRequest", d);
	} else if (!req) {
		snprintf(d, sizeof d, "the request is not valid JSON: %s", err);
		jmap_problem(out, 400, "notJSON", NULL, d);
	}
	return req;
}

int jmap_api(struct store *st, const struct jmap_who *who, const char *client_ip,
	     const char *body, size_t len, struct arena *a, struct buf *out)
{
	return jmap_api_spooled(st, who, client_ip, body, len, a, out, NULL);
}

int jmap_api_spooled(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const char *body, size_t len, struct arena *a, struct buf *out,
		     struct spool *sink)
{
	int status;
	struct json_value *req = request_parse(body, len, a, out, &status);

	return req ? jmap_api_request(st, who, client_ip, req, a, out, sink, NULL) : status;
}

int jmap_api_request(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const struct json_value *req, struct arena *a, struct buf *out,
		     struct spool *sink, const char *const *head)
{
	struct jw w;
	struct jmap_request r = {.st = st, .account = who->account, .user = who->account, .apppass = who->apppass,
				 .cred = who->cred, .client_ip = client_ip, .a = a,
				 .ref_values = JMAP_JSON_VALUES_MAX, .w = &w, .sink = sink};
	char d[200];

	if (!request_shaped(req)) {
		jmap_problem(out, 400, "notRequest", NULL,
			     "the request is not a JMAP Request object (RFC 8620 section 3.3)");
		return 400;
	}
	if (using_check(&r, json_get(req, "using"), out) < 0)
		return 400;
	const struct json_value *calls = json_get(req, "methodCalls");
	if (calls->count > JMAP_MAX_CALLS_IN_REQUEST) {
		snprintf(d, sizeof d, "at most %d method calls in a request",
			 JMAP_MAX_CALLS_IN_REQUEST);
		jmap_problem(out, 400, "limit", "maxCallsInRequest", d);
		return 400;
	}
	const struct json_value *ci = json_get(req, "createdIds");
	if (ci) {
		r.created_given = 1;
		for (const struct json_value *e = ci->first; e; e = e->next)
			jmap_created_put(&r, e->key, e->str);
	}
	refs_scan(&r, calls);

	/* The Response (§3.4), each call's response written as it ends. */
	buf_reset(out);
	jw_init(&w, out);
	if (sink)
		jw_flush_to(&w, out_flush, &r);
	jw_obj_begin(&w);
	for (; head && head[0]; head += 2)
		jw_kstr(&w, head[0], head[1]);
	jw_key(&w, "methodResponses");
	jw_arr_begin(&w);
	for (const struct json_value *e = calls->first; e; e = e->next)
		call_run(&r, e);
	for (size_t i = 0; i < r.nresp; i++)
		buf_free(&r.resp[i].kept);
	jw_arr_end(&w);
	if (r.created_given) {
		jw_key(&w, "createdIds");
		jw_obj_begin(&w);
		for (struct jmap_created *c = r.created; c; c = c->next)
			jw_kstr(&w, c->cid, c->id);
		jw_obj_end(&w);
	}
	/* The session's state as jmap_session_write shows it: it changes
	 * when a grant changes the shared accounts (jmap_share.c). */
	char sstate[24];
	if (jmap_session_state(st, r.user, sstate) < 0)
		memcpy(sstate, "0", 2);
	jw_kstr(&w, "sessionState", sstate);
	jw_obj_end(&w);
	if (sink && sink->len && out_flush(&r, out) < 0)
		w.failed = 1;
	if (sink && sink->failed) {
		buf_reset(out);
		return 503;
	}
	if (jw_failed(&w)) {
		if (sink)
			spool_truncate(sink, 0);
		jmap_problem(out, 400, "limit", "maxSizeResponse", "the response is too large");
		return 400;
	}
	return 200;
}
