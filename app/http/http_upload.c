/*
 * http_upload.c — a streamed request body from the first handler call to
 * its answer; see http_upload.h. The state lives in struct http_upload
 * (one per request, in its arena), moved on by libmicrohttpd's calls:
 * ADMIT (admit's job running) -> BODY (pieces into the spool) -> DONE
 * (done's job running) -> answered. The jobs run with the connection
 * suspended (http_job_run), so libmicrohttpd reads nothing meanwhile: the
 * body is not read before admit said yes.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/str.h"
#include "http/http_internal.h"
#include "http/http_upload.h"

enum upload_state { U_ADMIT, U_BODY, U_DONE };

struct http_upload {
	const struct http_upload_ops *ops;
	void *arg;
	struct http_ctx *x;
	enum upload_state state;
	int job;      /* a job runs or ran and was not looked at yet */
	int job_done; /* set by http_job_run's thread (read with http_job_done) */
	int admitted;
	int ended;
	uint64_t max;
	uint64_t seen; /* body bytes received */
	int over;      /* the body passed max: the rest is dropped */
	int werr;      /* errno of a failed write: the rest is dropped */
	struct spool sp;
	struct str data; /* done's range */
	uint8_t id[32];
};

/* Bodies arriving per pool (enum http_upload_pool), and each one's limit. */
static atomic_uint active[2];
static const struct {
	unsigned max;
	const char *busy;
} pools[2] = {
	{ HTTP_UPLOAD_MAX, "too many uploads at once, try again" },
	{ HTTP_REQUESTS_MAX, "too many requests at once, try again" },
};

unsigned http_upload_active(void)
{
	return atomic_load(&active[0]) + atomic_load(&active[1]);
}

static void problem(struct http_upload *u, int status, const char *code, const char *what)
{
	if (u->ops->problem)
		u->ops->problem(u->x, u->arg, status, what);
	else
		http_problem(u->x, status, code, NULL, "%s", what);
}

int http_upload_start(struct http_ctx *x, const struct http_upload_ops *ops, void *arg)
{
	unsigned pool = ops->pool;
	if (atomic_fetch_add(&active[pool], 1) >= pools[pool].max) {
		atomic_fetch_sub(&active[pool], 1);
		log_info("http", NULL, "event=upload_refused ip=%s reason=busy pool=%u", x->ip,
			 pool);
		http_problem(x, 503, "busy", NULL, "%s", pools[pool].busy);
		http_header(x, "Retry-After", "5");
		return -1;
	}
	struct http_upload *u = arena_zalloc(x->arena, sizeof *u);
	u->ops = ops;
	u->arg = arg;
	u->x = x;
	u->state = U_ADMIT;
	x->upload_ = u;
	return 0;
}

static void admit_main(void *arg)
{
	struct http_upload *u = arg;
	u->admitted = u->ops->admit(u->x, u->arg, &u->max) == 0;
}

static void done_main(void *arg)
{
	struct http_upload *u = arg;
	u->ops->done(u->x, u->arg, u->data.p, u->data.len, u->ops->blob ? u->id : NULL);
}

/* Starts fn on a job; ANSWER with a 503 when no thread could run it. */
static enum http_upload_step run(struct http_upload *u, void (*fn)(void *))
{
	u->job = 1;
	if (http_job_run(u->x->mc, fn, u, &u->job_done) == 0)
		return HTTP_UPLOAD_WAIT;
	u->job = 0;
	problem(u, 503, "busy", "the server is busy, try again");
	return HTTP_UPLOAD_ANSWER;
}

/* admit said yes: the body may come. */
static enum http_upload_step admitted(struct http_upload *u)
{
	const char *cl = MHD_lookup_connection_value(u->x->mc, MHD_HEADER_KIND, "Content-Length");
	uint64_t n;
	if (cl && str_to_u64(str_c(cl), UINT64_MAX, &n) == 0 && n > u->max) {
		if (n > HTTP_DISCARD_MAX) {
			/* Refused before a byte of it is read (the connection closes). */
			problem(u, 413, "too_large", "the body is larger than the upload limit");
			return HTTP_UPLOAD_ANSWER;
		}
		/* Somewhat over (an API request's limit is below
		 * HTTP_DISCARD_MAX): read and dropped, then refused, as
		 * http_server.c does, for a client that sends its whole body
		 * before it reads. */
		u->over = 1;
	}
	/* From here the timeout counts from the last byte: a stalled body
	 * is cut, a slow one that keeps coming is not. */
	MHD_set_connection_option(u->x->mc, MHD_CONNECTION_OPTION_TIMEOUT,
				  (unsigned)http_cfg->http_header_timeout_s);
	if (u->ops->blob)
		spool_init(&u->sp, u->max, u->x->ip);
	else
		spool_init_unhashed(&u->sp, u->max, u->x->ip);
	u->state = U_BODY;
	return HTTP_UPLOAD_WAIT;
}

static void piece(struct http_upload *u, const char *data, size_t n)
{
	u->seen += n;
	if (u->over || u->werr)
		return;
	if (spool_append(&u->sp, data, n) == 0)
		return;
	if (u->sp.failed)
		u->werr = u->sp.error ? u->sp.error : EIO;
	else
		u->over = 1;
	/* What was written goes at once (the file is unlinked: closing it
	 * frees the space). */
	spool_free(&u->sp);
	log_info("http", NULL, "event=upload_dropped ip=%s reason=%s bytes=%llu", u->x->ip,
		 u->over ? "too_large" : "write_error", (unsigned long long)u->seen);
}

static enum http_upload_step write_failed(struct http_upload *u)
{
	int full = u->werr == ENOSPC || u->werr == EDQUOT || u->werr == EFBIG;
	if (full)
		problem(u, 507, "storage_full", "no room to store the upload");
	else
		problem(u, 503, "temporary", "the upload could not be stored, try again");
	return HTTP_UPLOAD_ANSWER;
}

/* The whole body arrived. */
static enum http_upload_step body_end(struct http_upload *u)
{
	/* The body's timeout (from its last byte, set when it started) no
	 * longer applies: the daemon's own again, so that an answer a client
	 * takes slowly is not cut after TERN_HTTP_HEADER_TIMEOUT of blocked
	 * writes (the bridge's send deadline judges that client). */
	MHD_set_connection_option(u->x->mc, MHD_CONNECTION_OPTION_TIMEOUT,
				  http_daemon_timeout_s());
	if (u->over) {
		problem(u, 413, "too_large", "the body is larger than the upload limit");
		return HTTP_UPLOAD_ANSWER;
	}
	if (u->werr)
		return write_failed(u);
	if (u->ops->blob)
		spool_blob_id(&u->sp, u->id);
	if (spool_finish(&u->sp, &u->data) < 0) {
		u->werr = u->sp.error ? u->sp.error : EIO;
		spool_free(&u->sp);
		return write_failed(u);
	}
	u->state = U_DONE;
	return run(u, done_main);
}

enum http_upload_step http_upload_call(struct http_ctx *x, const char *data, size_t *size)
{
	struct http_upload *u = x->upload_;

	if (!size) /* the first call */
		return run(u, admit_main);
	if (u->job) {
		if (!http_job_done(&u->job_done))
			return HTTP_UPLOAD_WAIT;
		u->job = 0;
		if (u->state == U_DONE)
			return HTTP_UPLOAD_ANSWER;
		if (!u->admitted)
			return HTTP_UPLOAD_ANSWER;
		return admitted(u);
	}
	if (u->state != U_BODY)
		return HTTP_UPLOAD_WAIT;
	if (*size) {
		piece(u, data, *size);
		*size = 0;
		/* Dropping a body costs reading it: not past this. */
		if ((u->over || u->werr) && u->seen > u->max + HTTP_DISCARD_MAX)
			return HTTP_UPLOAD_CLOSE;
		return HTTP_UPLOAD_WAIT;
	}
	return body_end(u);
}

void http_upload_end(struct http_ctx *x)
{
	struct http_upload *u = x->upload_;

	if (!u || u->ended)
		return;
	u->ended = 1;
	if (u->state == U_BODY && !u->over && !u->werr)
		/* Cut before its end: a stalled or vanished client. */
		log_info("http", NULL, "event=upload_cut ip=%s bytes=%llu", x->ip,
			 (unsigned long long)u->seen);
	spool_free(&u->sp);
	if (u->ops->end)
		u->ops->end(u->arg, u->admitted);
	atomic_fetch_sub(&active[u->ops->pool], 1);
}
