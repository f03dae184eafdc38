/*
 * api_jmap.c — JMAP's HTTP side (RFC 8620 §2-3): /.well-known/jmap
 * redirects to the session resource /jmap/session, and /jmap/api/ takes
 * API requests. Authentication is HTTP Basic (RFC 7617) with the
 * account's password or an app password, or a bearer token (RFC 6750,
 * auth/bearer.h) the account made in its portal; both are checked by the
 * one login flow (auth/login.h: its limits, delays and the auth_failed
 * line fail2ban reads, module=jmap, mech=basic or mech=bearer). A pair
 * that passed is remembered briefly (auth/login_cache.h), since clients
 * send it with every request.
 *
 * Every request runs on a thread of its own (http_defer, or for a body
 * http_upload.h's jobs), so neither the password check (argon2id,
 * failure delays) nor a long method call holds the daemon's thread. An
 * API request's body (up to maxSizeRequest) is a streamed one: the
 * credentials are checked from the header before a byte of it is read,
 * so an anonymous client never makes us hold more than HTTP_BODY_MAX.
 * At most JMAP_MAX_CONCURRENT_REQUESTS API requests per account run at
 * once, over HTTP and WebSocket (the session's maxConcurrentRequests);
 * more are refused with a limit problem. The session resource is not an
 * API request and is not counted.
 */
#include <errno.h>
#include <microhttpd.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/bearer.h"
#include "auth/login.h"
#include "auth/login_cache.h"
#include "core/base64.h"
#include "http/http_creds.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/http_server.h"
#include "http/http_upload.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap.h"
#include "store/store.h"

/* Requests (and uploads) running per account: a small table of the
 * accounts with some in flight at once. */
#define RUNNING_SLOTS 256
struct running {
	uint32_t account;
	int n;
};
static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static struct running running[RUNNING_SLOTS], uploading[RUNNING_SLOTS];

static int running_enter(struct running *t, uint32_t account, int max)
{
	int ok = 0, free_slot = -1;

	pthread_mutex_lock(&running_mu);
	for (int i = 0; i < RUNNING_SLOTS; i++) {
		if (t[i].n && t[i].account == account) {
			if (t[i].n < max) {
				t[i].n++;
				ok = 1;
			}
			free_slot = -2;
			break;
		}
		if (!t[i].n && free_slot == -1)
			free_slot = i;
	}
	if (free_slot >= 0) {
		t[free_slot].account = account;
		t[free_slot].n = 1;
		ok = 1;
	}
	pthread_mutex_unlock(&running_mu);
	return ok;
}

static void running_leave(struct running *t, uint32_t account)
{
	pthread_mutex_lock(&running_mu);
	for (int i = 0; i < RUNNING_SLOTS; i++)
		if (t[i].n && t[i].account == account) {
			t[i].n--;
			break;
		}
	pthread_mutex_unlock(&running_mu);
}

int http_jmap_request_enter(uint32_t account)
{
	return running_enter(running, account, JMAP_MAX_CONCURRENT_REQUESTS);
}

void http_jmap_request_leave(uint32_t account) { running_leave(running, account); }

enum jmap_kind { JK_SESSION, JK_API, JK_UPLOAD, JK_DOWNLOAD };

struct jmap_job {
	enum jmap_kind kind;
	struct http_creds c;    /* the request's (http_creds.h) */
	char base[300];
	struct arena *a;
	/* results */
	int status;
	int unauthorized; /* 401: ask for credentials */
	unsigned retry_after; /* 429 or 503 from authenticate(): seconds to wait */
	struct buf out;
	uint32_t account;
	uint32_t apppass; /* the login's, for PushSubscription (struct jmap_who) */
	uint64_t cred;
	int entered;
	/* upload and download */
	const char *want;  /* the accountId in the path */
	uint32_t target;   /* its account: the user's, or one shared with it */
	const char *type;  /* the upload's Content-Type */
	const char *blob, *name, *accept; /* download */
};

int http_basic_parse(const char *h, char *user, size_t *ulen_r, char *pass, size_t *plen_r)
{
	char dec[LOGIN_USER_MAX + LOGIN_PASS_MAX + 2];
	size_t n;

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return -1;
	h += 6;
	while (*h == ' ')
		h++;
	if (base64_decode(str_c(h), 0, dec, sizeof dec, &n) < 0)
		return -1;
	char *colon = memchr(dec, ':', n);
	if (!colon || (size_t)(colon - dec) > LOGIN_USER_MAX ||
	    n - (size_t)(colon - dec) - 1 > LOGIN_PASS_MAX) {
		explicit_bzero(dec, sizeof dec);
		return -1;
	}
	*ulen_r = (size_t)(colon - dec);
	*plen_r = n - *ulen_r - 1;
	memcpy(user, dec, *ulen_r);
	user[*ulen_r] = '\0';
	memcpy(pass, colon + 1, *plen_r);
	pass[*plen_r] = '\0';
	explicit_bzero(dec, sizeof dec);
	return 0;
}

/* On the job's thread: 0 with j->account, or -1 with the answer set. */
static int authenticate(struct jmap_job *j)
{
	struct login_result r;
	enum login_outcome o = http_creds_login(&j->c, &r);

	if (o == LOGIN_OK) {
		j->account = r.account;
		j->apppass = r.apppass;
		j->cred = r.cred;
		return 0;
	}
	j->status = o == LOGIN_TEMP ? 503 : o == LOGIN_REFUSED ? 429 : 401;
	j->unauthorized = j->status == 401;
	j->retry_after = o == LOGIN_REFUSED ? r.retry_after_s : o == LOGIN_TEMP ? 5 : 0;
	/* Not a JMAP error type: a plain problem (RFC 7807). */
	struct jw w;
	jw_init(&w, &j->out);
	jw_obj_begin(&w);
	jw_kstr(&w, "type", "about:blank");
	jw_kint(&w, "status", j->status);
	jw_kstr(&w, "detail", o == LOGIN_TEMP ? "try again later"
			      : o == LOGIN_REFUSED ? login_refused_text(&r)
						   : "wrong user name or password");
	jw_obj_end(&w);
	return -1;
}

/* The session resource's job. */
static void job_work(void *arg)
{
	struct jmap_job *j = arg;

	buf_init(&j->out, JMAP_RESPONSE_MAX);
	int ok = authenticate(j) == 0;
	explicit_bzero(j->c.pass, sizeof j->c.pass);
	if (!ok)
		return;
	/* Not counted against maxConcurrentRequests: RFC 8620 section 2
	 * limits the requests to the API endpoint, and a client must be
	 * able to fetch the session while its API requests run. */
	j->status = 200;
	if (jmap_session_write(http_store, j->account, j->c.user, j->base, &j->out) < 0) {
		j->status = 503;
		jmap_problem(&j->out, 503, "serverUnavailable", NULL, "the store failed");
	}
}

/* The headers of an answer authenticate() refused: a 401 asks for
 * credentials, a 429 (too many failures) or a 503 says when to come back
 * (RFC 9110 §10.2.3), as the REST API's sign-ins do. */
static void auth_headers(struct http_ctx *x, const struct jmap_job *j)
{
	if (j->unauthorized)
		http_header(x, "WWW-Authenticate", "Basic realm=\"tern\", charset=\"UTF-8\"");
	if (j->retry_after)
		http_header(x, "Retry-After", arena_printf(x->arena, "%u", j->retry_after));
}

static void job_finish(struct http_ctx *x, void *arg)
{
	struct jmap_job *j = arg;

	buf_free(&x->out);
	x->out = j->out; /* the job's buffer becomes the response */
	x->status = j->status;
	x->type = j->status == 200 ? "application/json" : "application/problem+json";
	http_header(x, "Cache-Control", "no-cache, no-store, must-revalidate");
	auth_headers(x, j);
	explicit_bzero(j->c.user, sizeof j->c.user);
}

/* The URL prefix the client used: scheme and the host[:port] it asked
 * for (behind a trusted proxy, those it names), else the configured
 * host name. */
static void base_url(struct http_ctx *x, char *out, size_t n)
{
	snprintf(out, n, "%s://%s", x->https ? "https" : "http",
		 x->authority[0] ? x->authority : http_cfg->hostname);
}

/* A job with the request's credentials; NULL after answering 401. */
static struct jmap_job *job_new(struct http_ctx *x, enum jmap_kind kind)
{
	struct jmap_job *j = arena_zalloc(x->arena, sizeof *j);

	j->kind = kind;
	j->a = x->arena;
	http_creds_parse(&j->c, http_req_header(x, "Authorization"), x->ip);
	if (!http_req_header(x, "Authorization")) {
		/* No credentials at all: ask for them, nothing counted. */
		http_problem(x, 401, "unauthorized", NULL, "authentication required");
		return NULL;
	}
	return j;
}

/* GET /jmap/session. */
static void session(struct http_ctx *x)
{
	struct jmap_job *j = job_new(x, JK_SESSION);
	if (!j)
		return;
	base_url(x, j->base, sizeof j->base);
	if (http_defer(x, job_work, job_finish, j) < 0) {
		explicit_bzero(j->c.pass, sizeof j->c.pass);
		http_problem(x, 503, "temporary", NULL, "busy, try again");
		http_header(x, "Retry-After", "1");
	}
}

/* ---- upload (RFC 8620 §6.1), through http_upload.h ---- */

/* A request-level problem on x (JMAP's error types). */
static void jmap_http_problem(struct http_ctx *x, int status, const char *type, const char *limit,
			      const char *detail)
{
	buf_reset(&x->out);
	x->status = status;
	x->type = "application/problem+json";
	jmap_problem(&x->out, status, type, limit, detail);
}

/* On a streamed body's admit thread: the credentials; 0, or -1 with x's
 * answer set. */
static int auth_answer(struct http_ctx *x, struct jmap_job *j)
{
	buf_init(&j->out, 4096);
	int ok = authenticate(j) == 0;
	explicit_bzero(j->c.pass, sizeof j->c.pass);
	if (!ok) {
		buf_free(&x->out);
		x->out = j->out;
		x->status = j->status;
		x->type = "application/problem+json";
		auth_headers(x, j);
		return -1;
	}
	buf_free(&j->out);
	return 0;
}

/* On the upload's admit thread: the credentials and the account. */
static int auth_account(struct http_ctx *x, struct jmap_job *j)
{
	char want[16];

	if (auth_answer(x, j) < 0)
		return -1;
	snprintf(want, sizeof want, "A%08x", j->account);
	j->target = j->account;
	if (strcmp(want, j->want) == 0)
		return 0;
	/* Another user's account shared with this one: an upload there is
	 * the user's, for Email/import or Email/set create in it
	 * (jmap_share_blob.c). */
	switch (jmap_share_upload_allowed(http_store, j->account, j->want, &j->target)) {
	case 1: return 0;
	case 0:
		http_problem(x, 403, "forbidden", NULL,
			     "no mailbox of that account takes new emails from this user");
		return -1;
	case -1: http_problem(x, 503, "temporary", NULL, "try again later"); return -1;
	}
	/* Another account's, or none: one answer for both. */
	http_problem(x, 404, "accountNotFound", NULL, "no such account");
	return -1;
}

/* An upload past the account's quota: 413, as one past maxSizeUpload
 * (RFC 8620 §6.1 names no status for it; the body is refused for its
 * size), with the overQuota type JMAP's methods give (RFC 8620 §5.3). */
static void upload_over_quota(struct http_ctx *x)
{
	jmap_http_problem(x, 413, "overQuota", NULL,
			  "the upload does not fit the account's quota with its other uploads");
}

/*
 * From the header: an account its quota leaves no room (jmap_upload_room,
 * with the user's other live uploads there) is refused before the
 * body is read. Otherwise the body may be as large as maxSizeUpload: the
 * check that it fits is upload_done's, once its content id is known (the
 * same bytes again take no more room) and made as it is entered among
 * the live uploads, so that parallel uploads (maxConcurrentUpload) cannot
 * each take the same room (jmap_upload_put_by). 0, or -1 with x's answer.
 */
static int upload_full(struct http_ctx *x, struct jmap_job *j)
{
	uint64_t room, live;

	if (jmap_upload_room(http_store, j->target, &room) < 0 ||
	    (room != JMAP_UPLOAD_NO_QUOTA &&
	     jmap_upload_live(http_store, j->target, j->account, &live) < 0)) {
		http_problem(x, 503, "temporary", NULL, "try again later");
		return -1;
	}
	if (room != JMAP_UPLOAD_NO_QUOTA && live >= room) {
		upload_over_quota(x);
		return -1;
	}
	return 0;
}

static int upload_admit(struct http_ctx *x, void *arg, uint64_t *max_r)
{
	struct jmap_job *j = arg;

	if (auth_account(x, j) < 0)
		return -1;
	if (!running_enter(uploading, j->account, JMAP_MAX_CONCURRENT_UPLOAD)) {
		jmap_http_problem(x, 429, "limit", "maxConcurrentUpload",
				  "too many uploads at once for this account");
		return -1;
	}
	j->entered = 1;
	*max_r = jmap_max_size_upload();
	return upload_full(x, j);
}

static void upload_done(struct http_ctx *x, void *arg, const char *data, size_t len,
			const uint8_t id[32])
{
	struct jmap_job *j = arg;
	struct jw w;

	int rc = jmap_upload_put_by(http_store, j->target, j->account, data, len, id);
	if (rc == JMAP_UPLOAD_OVER_QUOTA) {
		upload_over_quota(x);
		return;
	}
	if (rc == JMAP_UPLOAD_TOO_MANY) {
		/* RFC 8620 §6.1 names no limit on the count: a plain 429, as
		 * the rateLimit Blob/upload answers. */
		http_problem(x, 429, "too_many_uploads", NULL,
			     "too many uploads of this user live in the account: import or "
			     "let some expire");
		return;
	}
	if (rc < -1) {
		http_problem(x, 503, "temporary", NULL, "try again later");
		return;
	}
	if (rc < 0) {
		int full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG;
		log_error("jmap", NULL, "event=upload_failed account=%u error=\"%s\"", j->account,
			  strerror(errno));
		if (full)
			http_problem(x, 507, "storage_full", NULL, "no room to store the upload");
		else
			http_problem(x, 503, "temporary", NULL, "the upload could not be stored");
		return;
	}
	http_json_begin(x, &w, 201);
	jw_obj_begin(&w);
	jw_kstr(&w, "accountId", j->want);
	jw_key(&w, "blobId");
	jmap_w_blob(&w, id);
	jw_kstr(&w, "type", j->type);
	jw_kint(&w, "size", (int64_t)len);
	jw_obj_end(&w);
}

static void upload_problem(struct http_ctx *x, void *arg, int status, const char *what)
{
	(void)arg;
	if (status == 413)
		jmap_http_problem(x, 413, "limit", "maxSizeUpload", what);
	else
		http_problem(x, status, status == 507 ? "storage_full" : "temporary", NULL, "%s",
			     what);
}

/* The end of an upload or an API request, however it ended. */
static void stream_end(void *arg, int admitted)
{
	struct jmap_job *j = arg;
	(void)admitted;
	if (j->entered)
		running_leave(uploading, j->account);
	explicit_bzero(j->c.pass, sizeof j->c.pass);
	explicit_bzero(j->c.user, sizeof j->c.user);
}

static const struct http_upload_ops upload_ops = {
	.pool = HTTP_POOL_UPLOADS,
	.blob = 1,
	.admit = upload_admit,
	.done = upload_done,
	.problem = upload_problem,
	.end = stream_end,
};

/* ---- API requests (RFC 8620 §3.3), through http_upload.h ---- */

/* Whether a Content-Type value is application/json, parameters or not. */
static int json_type(const char *ct)
{
	static const char t[] = "application/json";
	while (ct && (*ct == ' ' || *ct == '\t'))
		ct++;
	if (!ct || strncasecmp(ct, t, sizeof t - 1) != 0)
		return 0;
	ct += sizeof t - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !*ct || *ct == ';';
}

/* On the admit thread, from the header alone: only a caller whose
 * credentials passed may send up to maxSizeRequest, and only as
 * application/json (RFC 8620 §3.6.1: another type is notJSON). The
 * type is also what makes a browser ask first (a CORS preflight): a
 * page elsewhere could otherwise POST text/plain or a type-less body
 * with the Basic credentials the browser keeps for this site, and
 * have Email/set or EmailSubmission/set run without reading the answer. */
static int api_admit(struct http_ctx *x, void *arg, uint64_t *max_r)
{
	if (auth_answer(x, arg) < 0)
		return -1;
	if (!json_type(http_req_header(x, "Content-Type"))) {
		jmap_http_problem(x, 400, "notJSON", NULL,
				  "the request's Content-Type is not application/json");
		return -1;
	}
	*max_r = JMAP_MAX_SIZE_REQUEST;
	return 0;
}

/*
 * A Response past JW_FLUSH_AT octets is written into a spool as it is
 * made (jmap_api_spooled) and sent from there, read as libmicrohttpd
 * asks: it is never whole in anonymous memory (core/spool.h: in memory
 * within TERN_MESSAGE_MEMORY and SPOOL_MEM_MAX, else an unlinked file).
 */
struct answer {
	struct spool sp;
	struct str body; /* spool_finish()'s */
};

static ssize_t answer_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct answer *an = cls;
	if (pos >= an->body.len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > an->body.len - pos)
		max = (size_t)(an->body.len - pos);
	memcpy(buf, an->body.p + pos, max);
	return (ssize_t)max;
}

static void answer_free(void *cls)
{
	struct answer *an = cls;
	spool_free(&an->sp);
	free(an);
}

static void api_done(struct http_ctx *x, void *arg, const char *data, size_t len,
		     const uint8_t id[32])
{
	struct jmap_job *j = arg;
	struct answer *an = xmalloc(sizeof *an);
	(void)id;

	buf_init(&j->out, JMAP_RESPONSE_MAX);
	spool_init_unhashed(&an->sp, JMAP_RESPONSE_MAX, j->c.ip);
	if (!running_enter(running, j->account, JMAP_MAX_CONCURRENT_REQUESTS)) {
		j->status = 400;
		jmap_problem(&j->out, 400, "limit", "maxConcurrentRequests",
			     "too many requests at once for this account");
	} else {
		struct jmap_who who = {.account = j->account, .apppass = j->apppass, .cred = j->cred};
		j->status = jmap_api_spooled(http_store, &who, j->c.ip, data, len, j->a, &j->out,
					     &an->sp);
		running_leave(running, j->account);
	}
	job_finish(x, j);
	if (j->status == 200 && an->sp.len && spool_finish(&an->sp, &an->body) == 0) {
		x->stream_read = answer_read;
		x->stream_free = answer_free;
		x->stream_cls = an;
		x->stream_size = an->body.len;
		return;
	}
	if (j->status == 503 || an->sp.len) {
		log_error("jmap", NULL, "event=answer_spool_failed account=%u error=\"%s\"",
			  j->account, strerror(an->sp.error));
		http_problem(x, 503, "temporary", NULL, "the answer could not be stored, try again");
	}
	answer_free(an);
}

static void api_problem(struct http_ctx *x, void *arg, int status, const char *what)
{
	(void)arg;
	/* RFC 8620 §3.6.1: a request over a limit is a 400 "limit" problem. */
	if (status == 413)
		jmap_http_problem(x, 400, "limit", "maxSizeRequest",
				  "the request is larger than maxSizeRequest");
	else
		http_problem(x, status, status == 507 ? "storage_full" : "temporary", NULL, "%s",
			     what);
}

static const struct http_upload_ops api_ops = {
	.pool = HTTP_POOL_REQUESTS,
	.admit = api_admit,
	.done = api_done,
	.problem = api_problem,
	.end = stream_end,
};

static void upload(struct http_ctx *x, const char *account)
{
	struct jmap_job *j = job_new(x, JK_UPLOAD);
	if (!j)
		return;
	j->want = account;
	const char *ct = http_req_header(x, "Content-Type");
	/* The type is echoed in JSON: a printable token only. */
	int ok = ct && *ct && strlen(ct) < 256;
	for (const char *p = ct; ok && *p; p++)
		ok = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	j->type = ok ? ct : "application/octet-stream";
	if (http_upload_start(x, &upload_ops, j) < 0)
		explicit_bzero(j->c.pass, sizeof j->c.pass); /* end will not run */
}

/* POST /jmap/api/: a streamed route (http_route_streamed). */
static void api(struct http_ctx *x)
{
	struct jmap_job *j = job_new(x, JK_API);
	if (j && http_upload_start(x, &api_ops, j) < 0)
		explicit_bzero(j->c.pass, sizeof j->c.pass);
}

/* ---- download (RFC 8620 §6.2) ---- */

/*
 * What a download sends, read as libmicrohttpd asks for it: an upload's
 * file, or a stored message's bytes through a hold (store_hold.h), whole
 * or one part's body decoded a chunk at a time. Nothing holds the whole
 * blob in memory.
 */
#define DL_IN 16384
struct dl {
	int fd; /* an upload's file, else -1 */
	int in_mem; /* else a part of a parsed blob, decoded in mem */
	struct buf mem;
	struct store_hold hold;
	uint32_t account;
	uint64_t off, end; /* the range of the held bytes sent */
	uint64_t size;     /* what is sent (decoded) */
	int decode;
	struct mime_decoder dec;
	uint64_t in_pos; /* next input byte (absolute) */
	int finished;    /* the decoder was finished */
	char out[MIME_DECODE_OUT_MAX(DL_IN)];
	size_t out_len, out_pos;
	/* for the hold's callbacks */
	char *dst;
	size_t got, want;
	uint64_t at;
};

static void dl_free(void *cls)
{
	struct dl *d = cls;
	if (d->fd >= 0)
		close(d->fd);
	if (d->in_mem)
		buf_free(&d->mem);
	store_hold_release(http_store, &d->hold);
	free(d);
}

static void dl_copy_cb(void *arg, const char *data, size_t len)
{
	struct dl *d = arg;
	if (d->at >= len)
		return;
	size_t n = len - (size_t)d->at < d->want ? len - (size_t)d->at : d->want;
	memcpy(d->dst, data + d->at, n);
	d->got = n;
}

/* Copies held bytes [at, at + want) into dst; their count, or -1. */
static ssize_t dl_held(struct dl *d, uint64_t at, char *dst, size_t want)
{
	d->at = at;
	d->dst = dst;
	d->want = want;
	d->got = 0;
	if (store_hold_read(http_store, &d->hold, dl_copy_cb, d) != STORE_OK)
		return -1;
	return (ssize_t)d->got;
}

static ssize_t dl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct dl *d = cls;

	if (pos >= d->size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > d->size - pos)
		max = (size_t)(d->size - pos);
	if (d->fd >= 0) {
		ssize_t r = pread(d->fd, buf, max, (off_t)pos);
		return r > 0 ? r : MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (d->in_mem) {
		memcpy(buf, buf_data(&d->mem) + pos, max);
		return (ssize_t)max;
	}
	if (!d->decode) {
		ssize_t r = dl_held(d, d->off + pos, buf, max);
		return r > 0 ? r : MHD_CONTENT_READER_END_WITH_ERROR;
	}
	/* Decoded: pos only moves forward, as libmicrohttpd reads. */
	while (d->out_pos == d->out_len) {
		char in[DL_IN];
		d->out_pos = d->out_len = 0;
		if (d->in_pos >= d->end) {
			if (d->finished)
				return MHD_CONTENT_READER_END_WITH_ERROR; /* shorter than said */
			d->finished = 1;
			d->out_len = mime_decoder_finish(&d->dec, d->out);
			continue;
		}
		size_t want = d->end - d->in_pos < DL_IN ? (size_t)(d->end - d->in_pos) : DL_IN;
		ssize_t r = dl_held(d, d->in_pos, in, want);
		if (r <= 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		d->in_pos += (uint64_t)r;
		d->out_len = mime_decoder_feed(&d->dec, in, (size_t)r, d->out);
	}
	size_t n = d->out_len - d->out_pos < max ? d->out_len - d->out_pos : max;
	memcpy(buf, d->out + d->out_pos, n);
	d->out_pos += n;
	return (ssize_t)n;
}

/* The part's range and encoding, read from the email's cached tree. */
struct dl_part {
	struct dl *d;
	unsigned part;
	struct arena *a;
	int found;
	char type[128];
};

static void dl_part_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct dl_part *q = arg;
	struct mime_tree t;
	if (mime_cache_load(meta, metalen, data, len, q->a, &t) < 0 || q->part >= t.nparts)
		return;
	const struct mime_part *p = &t.parts[q->part];
	if (p->flags & MIME_PART_MULTIPART)
		return;
	enum mime_cte cte = mime_cte_parse(p->encoding);
	struct str body = str_make(data + p->body_off, p->body_end - p->body_off);
	q->d->off = p->body_off;
	q->d->end = p->body_end;
	q->d->in_pos = p->body_off;
	q->d->decode = 1;
	mime_decoder_init(&q->d->dec, cte);
	q->d->size = mime_decoded_size(cte, body);
	snprintf(q->type, sizeof q->type, "%.*s/%.*s", (int)p->type.len, p->type.p,
		 (int)p->subtype.len, p->subtype.p);
	q->found = 1;
}

static void dl_size_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct dl *d = arg;
	(void)meta;
	(void)metalen;
	(void)data;
	d->end = d->size = len;
}

/* On the job's thread: finds the blob the account may read; 0, or -1
 * with j's answer set. */
/* Opens blob j->blob of account (the user's own, or one shared with it,
 * whose blob the caller checked the user may read). */
static int dl_open(struct jmap_job *j, uint32_t account, struct dl **d_r)
{
	struct dl *d = xcalloc(1, sizeof *d);
	uint8_t id[32];
	uint32_t email;
	unsigned part;
	int rc = STORE_ENOTFOUND;

	d->fd = -1;
	d->account = account;
	if (jmap_blob_parse(j->blob, id) == 0) {
		uint64_t size;
		d->fd = jmap_upload_open_by(account, j->account, id, &size);
		if (d->fd >= 0) {
			d->size = size;
			*d_r = d;
			return 0;
		}
		long long e = jmap_blob_email(http_store, account, id);
		rc = e < 0 ? STORE_ETEMP : STORE_ENOTFOUND;
		if (e > 0)
			rc = store_email_hold(http_store, account, (uint32_t)e, dl_size_cb, d,
					      &d->hold);
	} else if (jmap_part_parse(j->blob, &email, &part) == 0) {
		struct dl_part q = { d, part, j->a, 0, "" };
		rc = store_email_hold(http_store, account, email, dl_part_cb, &q, &d->hold);
		if (rc == STORE_OK && !q.found)
			rc = STORE_ENOTFOUND;
		if (rc == STORE_OK && !j->accept)
			j->accept = arena_strdup(j->a, q.type);
	} else {
		/* A part of a blob Email/parse read (jmap_part_read). */
		char type[128];
		int temp = 0;
		buf_init(&d->mem, JMAP_MAX_SIZE_UPLOAD);
		d->in_mem = 1;
		if (jmap_part_read_type(http_store, account, j->blob, &d->mem, &temp, type,
		                        sizeof type) == 0) {
			d->size = buf_len(&d->mem);
			if (!j->accept)
				j->accept = arena_strdup(j->a, type);
			rc = STORE_OK;
		} else {
			rc = temp ? STORE_ETEMP : STORE_ENOTFOUND;
		}
	}
	if (rc == STORE_OK) {
		*d_r = d;
		return 0;
	}
	dl_free(d);
	struct jw w;
	buf_reset(&j->out);
	jw_init(&w, &j->out);
	j->status = rc == STORE_ENOTFOUND ? 404 : 503;
	jw_obj_begin(&w);
	jw_kstr(&w, "type", "about:blank");
	jw_kint(&w, "status", j->status);
	jw_kstr(&w, "detail", j->status == 404 ? "no such blob" : "try again later");
	jw_obj_end(&w);
	return -1;
}

struct dl_job {
	struct jmap_job j;
	struct dl *d;
};

static void dl_work(void *arg)
{
	struct dl_job *q = arg;
	struct jmap_job *j = &q->j;
	char want[16];

	buf_init(&j->out, 4096);
	int ok = authenticate(j) == 0;
	explicit_bzero(j->c.pass, sizeof j->c.pass);
	if (!ok)
		return;
	snprintf(want, sizeof want, "A%08x", j->account);
	uint32_t account = j->account;
	/* Another user's account shared with this one: only a blob the
	 * user may read there (jmap_share_blob.c); any other is absent. */
	int rc = strcmp(want, j->want) == 0
		     ? 1
		     : jmap_share_blob_allowed(http_store, j->account, j->want, j->blob, &account);
	if (rc <= 0) {
		struct jw w;
		jw_init(&w, &j->out);
		j->status = rc == -1 ? 503 : 404;
		jw_obj_begin(&w);
		jw_kstr(&w, "type", "about:blank");
		jw_kint(&w, "status", j->status);
		jw_kstr(&w, "detail", rc == JMAP_SHARE_NO_ACCOUNT ? "no such account"
				      : rc == 0		     ? "no such blob"
							     : "try again later");
		jw_obj_end(&w);
		return;
	}
	if (dl_open(j, account, &q->d) == 0)
		j->status = 200;
}

/* A value for a quoted-string: printable ASCII, no quote or backslash. */
static const char *quoted_safe(struct arena *a, const char *s)
{
	char *o = arena_strdup(a, s);
	for (char *p = o; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
			*p = '_';
	return o;
}

/* RFC 8187 ext-value: UTF-8 percent-encoded but for attr-chars. */
static const char *ext_value(struct arena *a, const char *s)
{
	size_t n = strlen(s);
	char *o = arena_alloc(a, n * 3 + 1), *p = o;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&+-.^_`|~", c))
			*p++ = (char)c;
		else
			p += snprintf(p, 4, "%%%02X", c);
	}
	*p = '\0';
	return o;
}

static void dl_finish(struct http_ctx *x, void *arg)
{
	struct dl_job *q = arg;
	struct jmap_job *j = &q->j;

	explicit_bzero(j->c.user, sizeof j->c.user);
	if (j->status != 200) {
		buf_free(&x->out);
		x->out = j->out;
		x->status = j->status;
		x->type = "application/problem+json";
		auth_headers(x, j);
		return;
	}
	buf_free(&j->out);
	x->status = 200;
	/* The admin pages' origin: nothing downloaded may run or render as a
	 * page there (http_download_type), and the download's own policy
	 * lets nothing run nor reach the origin even if a browser showed it. */
	x->type = http_download_type(j->accept);
	x->csp = "default-src 'none'; frame-ancestors 'none'; sandbox";
	/* Blobs never change: a client may keep what it fetched. */
	http_header(x, "Cache-Control", "private, immutable, max-age=31536000");
	http_header(x, "Content-Disposition",
		    arena_printf(x->arena, "attachment; filename=\"%s\"; filename*=UTF-8''%s",
				 quoted_safe(x->arena, j->name), ext_value(x->arena, j->name)));
	x->stream_read = dl_read;
	x->stream_free = dl_free;
	x->stream_cls = q->d;
	x->stream_size = q->d->size;
}

/* /jmap/download/{accountId}/{blobId}/{name}?accept={type} */
static void download(struct http_ctx *x, const char *rest)
{
	const char *s1 = strchr(rest, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s1 || !s2 || s1 == rest || s2 == s1 + 1 || !s2[1]) {
		http_problem(x, 404, "not_found", NULL, "no such JMAP endpoint");
		return;
	}
	if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "HEAD") != 0) {
		http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
		http_header(x, "Allow", "GET, HEAD");
		return;
	}
	struct dl_job *q = arena_zalloc(x->arena, sizeof *q);
	struct jmap_job *j = &q->j;
	j->a = x->arena;
	j->kind = JK_DOWNLOAD;
	if (!http_req_header(x, "Authorization")) {
		http_problem(x, 401, "unauthorized", NULL, "authentication required");
		return;
	}
	/* Either scheme job_new() takes: a client on a bearer token gets
	 * the downloadUrl in the session it opened with that token. */
	http_creds_parse(&j->c, http_req_header(x, "Authorization"), x->ip);
	j->want = arena_strndup(x->arena, rest, (size_t)(s1 - rest));
	j->blob = arena_strndup(x->arena, s1 + 1, (size_t)(s2 - s1 - 1));
	j->name = s2 + 1;
	const char *acc = http_query(x, "accept");
	j->accept = acc && *acc && strlen(acc) < 256 && strchr(acc, '/') ? acc : NULL;
	if (http_defer(x, dl_work, dl_finish, q) < 0) {
		explicit_bzero(j->c.pass, sizeof j->c.pass);
		http_problem(x, 503, "temporary", NULL, "busy, try again");
		http_header(x, "Retry-After", "1");
	}
}

/* 1 when a CORS-safelisted Content-Type (the Fetch standard's three,
 * or none): a type a page may send elsewhere without asking first. */
static int simple_type(const char *ct)
{
	static const char *const t[] = {"text/plain", "multipart/form-data",
					"application/x-www-form-urlencoded"};
	while (ct && (*ct == ' ' || *ct == '\t'))
		ct++;
	if (!ct || !*ct)
		return 1;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t n = strlen(t[i]);
		if (!strncasecmp(ct, t[i], n) && (!ct[n] || ct[n] == ';' || ct[n] == ' ' ||
						    ct[n] == '\t'))
			return 1;
	}
	return 0;
}

/*
 * Whether a request to the session, upload or download resource is one a
 * page of another site made the browser send with the Basic credentials
 * it keeps for this one (cross-site request forgery): 1 after answering
 * 403. A browser adds kept Basic credentials to a form's POST, an <img>
 * or <script> GET and a no-cors fetch; none of them asks this server
 * first (no CORS preflight), so CORS alone does not stop the upload or
 * the download being made. Refused, when the credentials are Basic (a
 * bearer token is never kept by the browser, so a client that sends one
 * chose to):
 * - Sec-Fetch-Site cross-site or same-site with a Sec-Fetch-Mode other
 *   than cors (a navigation, a form, an <img>, a no-cors fetch);
 * - for an upload, an Origin not tern's own with a CORS-safelisted
 *   Content-Type or none: such a POST is sent without a preflight, by a
 *   form in a browser without Sec-Fetch-* too. A web client on another
 *   site uploads with a bearer token, or with its file's own type.
 * A client outside a browser (curl, a library) sends neither header.
 */
static int cross_site(struct http_ctx *x, int upload)
{
	const char *auth = http_req_header(x, "Authorization");
	if (!auth || strncasecmp(auth, "Basic ", 6) != 0)
		return 0;
	const char *site = http_req_header(x, "Sec-Fetch-Site");
	const char *mode = http_req_header(x, "Sec-Fetch-Mode");
	int refuse = site && (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site")) &&
		     (!mode || strcasecmp(mode, "cors") != 0);
	if (!refuse && upload) {
		const char *o = http_req_header(x, "Origin");
		refuse = !http_origin_own(o, o ? strlen(o) : 0, x->authority, strlen(x->authority)) &&
			 simple_type(http_req_header(x, "Content-Type"));
	}
	if (!refuse)
		return 0;
	log_info("jmap", NULL, "event=cross_site_refused client=%s upload=%d", x->ip, upload);
	http_problem(x, 403, "forbidden", NULL,
		     "a request a page of another site made with this site's saved credentials "
		     "is refused (Origin, Sec-Fetch-Site)");
	return 1;
}

/*
 * The push channels' paths (RFC 8620 §7.3 EventSource, RFC 8887
 * WebSocket): the bridge takes their GET requests over (http_push.c), so
 * only another method reaches the daemon. The resource exists and that
 * method is not one of its: 405 with Allow (RFC 9110 §15.5.6), not 404.
 */
static int push_channel(const char *p)
{
	return !strcmp(p, "/jmap/eventsource") || !strcmp(p, "/jmap/eventsource/") ||
	       !strcmp(p, "/jmap/ws") || !strcmp(p, "/jmap/ws/");
}

void http_jmap(struct http_ctx *x)
{
	const char *p = x->path;
	int get = !strcmp(x->method, "GET") || !strcmp(x->method, "HEAD");

	/* CORS (RFC 8620 §1.1 expects browser clients on other origins):
	 * credentials travel in the Authorization header the client sets,
	 * never in cookies, so any origin may read the answers. */
	http_header(x, "Access-Control-Allow-Origin", "*");
	if (!strcmp(x->method, "OPTIONS")) {
		http_header(x, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
		http_header(x, "Access-Control-Allow-Headers", "Authorization, Content-Type, Accept");
		http_header(x, "Access-Control-Max-Age", "600");
		http_no_content(x);
		return;
	}

	if (!strcmp(p, "/.well-known/jmap")) {
		if (!get) {
			http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
			http_header(x, "Allow", "GET, HEAD");
			return;
		}
		/* RFC 8620 §2.2: the well-known URI redirects to the session. */
		x->status = 307;
		http_header(x, "Location", HTTP_JMAP_SESSION_PATH);
		http_header(x, "Cache-Control", "no-cache");
		x->type = "text/plain; charset=utf-8";
		buf_append_c(&x->out, "see " HTTP_JMAP_SESSION_PATH "\n");
		return;
	}
	if (!strcmp(p, HTTP_JMAP_SESSION_PATH)) {
		if (!get) {
			http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
			http_header(x, "Allow", "GET, HEAD");
			return;
		}
		if (!cross_site(x, 0))
			session(x);
		return;
	}
	if (!strcmp(p, "/jmap/api") || !strcmp(p, "/jmap/api/")) {
		if (strcmp(x->method, "POST") != 0) {
			http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
			http_header(x, "Allow", "POST");
			return;
		}
		api(x);
		return;
	}
	if (!strncmp(p, "/jmap/download/", 15)) {
		if (!cross_site(x, 0))
			download(x, p + 15);
		return;
	}
	if (!strncmp(p, "/jmap/upload/", 13)) {
		/* /jmap/upload/{accountId}/ (the trailing slash optional). */
		const char *acct = p + 13;
		size_t n = strcspn(acct, "/");
		if (n && n < 16 && (!acct[n] || !strcmp(acct + n, "/"))) {
			if (strcmp(x->method, "POST") != 0) {
				http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
				http_header(x, "Allow", "POST");
				return;
			}
			if (!cross_site(x, 1))
				upload(x, arena_strndup(x->arena, acct, n));
			return;
		}
	}
	if (push_channel(p) && strcmp(x->method, "GET") != 0) {
		http_problem(x, 405, "method", NULL, "%s is not allowed here", x->method);
		http_header(x, "Allow", "GET");
		return;
	}
	http_problem(x, 404, "not_found", NULL, "no such JMAP endpoint");
}
