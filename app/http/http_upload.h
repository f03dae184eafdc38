/*
 * http_upload.h — request bodies streamed to the spool: the one way an
 * HTTP handler takes a body larger than HTTP_BODY_MAX (JMAP's API
 * requests and uploads, the web admin's mbox upload, the spam feeds).
 *
 * Design. An ordinary route gets its whole body in memory (at most
 * HTTP_BODY_MAX, for every path: it is read before anyone proved who
 * they are) before its handler runs. A streamed route's handler runs as
 * soon as the request header is in, before a byte of the body is read,
 * and calls http_upload_start().
 * Then, on threads of their own with the connection suspended (so neither
 * argon2id nor a store write holds a daemon thread):
 *   1. ops->admit checks the credentials and the caller's own limits and
 *      says how large the body may be; a refusal is answered at once and
 *      the body is never read (the connection closes after the answer:
 *      a wrong password never costs us the upload);
 *   2. the body goes into a struct spool (core/spool.h: bounded memory,
 *      then an unlinked file under the data directory's spool/, hashed as
 *      it arrives when it becomes a blob: ops->blob) piece by piece as
 *      libmicrohttpd reads it;
 *   3. ops->done gets the complete body as one read-only range (a mapping
 *      of the file, or the spool's small buffer) and its content id, and
 *      writes the answer.
 * Limits kept here: at most HTTP_UPLOAD_MAX uploads and HTTP_REQUESTS_MAX
 * requests (ops->pool) with streamed bodies in the process at once (more:
 * 503 with Retry-After, before admit); a Content-Length over admit's
 * limit is answered 413 (or ops->problem's answer) from the header alone
 * and the connection closed, unless the whole body is at most
 * HTTP_DISCARD_MAX: then it is read and dropped first, as http_server.c
 * does, so that a client which sends its body before reading sees the
 * answer; a chunked body that passes the limit is dropped from there on
 * and answered 413 at its end (or the connection closed when it goes on
 * more than HTTP_DISCARD_MAX past the limit); a write error (disk full: ENOSPC,
 * EDQUOT, EFBIG) drops what was written and answers 507, another one 503.
 * Every error is an RFC 9457 problem (http_problem) unless the caller's
 * ops->problem writes its own (JMAP's urn:ietf:params:jmap:error: types).
 * A body must keep moving: the connection's libmicrohttpd timeout is
 * TERN_HTTP_HEADER_TIMEOUT from the last byte while it arrives (a
 * stalled client is cut, the spool dropped; once the body is in, the
 * daemon's own again, for the answer), and the bridge's request
 * deadline is pushed back while the body brings bytes (http_bridge.c),
 * so a slow but moving client is never cut.
 *
 * How another handler uses it: add its method and path to the streamed
 * routes (http_route_streamed() in http_router.c), route it as usual, and
 * in the handler call http_upload_start(x, &ops, arg) with ops' admit and
 * done; both may block (they run on their own thread) and answer on x
 * (status, type, out, headers) as a handler would. end(arg) always runs
 * once at the end, however the request ended: release there what admit
 * took (a concurrency slot).
 *
 * Caveats: a body is kept in memory only while core/spool.h allows
 * (SPOOL_MEM_MAX and TERN_MESSAGE_MEMORY), otherwise it is on disk; done
 * reads it through a mapping, so its pages are file-backed.
 */
#ifndef TERN_HTTP_HTTP_UPLOAD_H
#define TERN_HTTP_HTTP_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

struct http_ctx;

/* Streamed bodies in progress at once in the process, per pool: uploads
 * (a slow one may take minutes) apart from API requests, so that neither
 * can keep the other out. */
#define HTTP_UPLOAD_MAX 16
#define HTTP_REQUESTS_MAX 16

enum http_upload_pool {
	HTTP_POOL_UPLOADS,  /* files and blobs: HTTP_UPLOAD_MAX */
	HTTP_POOL_REQUESTS, /* API requests (JMAP's): HTTP_REQUESTS_MAX */
};

struct http_upload_ops {
	/* Whose count the body takes (0: the uploads'). */
	enum http_upload_pool pool;
	/*
	 * On a thread of its own, before the body: returns 0 with *max_r set
	 * (the largest body taken, in bytes) to go on, or -1 with x's answer
	 * written (401, 429, a limit, ...). Never reads x->body.
	 */
	int (*admit)(struct http_ctx *x, void *arg, uint64_t *max_r);
	/* 1: the body becomes a blob, hashed as it arrives for done's id;
	 * 0: it is not hashed (an API request: the hash cost 14% of a large
	 * one's CPU for nothing) and done's id is NULL. */
	int blob;
	/*
	 * On a thread of its own, once the whole body arrived: data[0..len)
	 * (valid during the call only, NUL-terminated one past the end),
	 * id its BLAKE2b-256 (store_blob_id() of the bytes) when ops->blob,
	 * else NULL. Writes x's answer.
	 */
	void (*done)(struct http_ctx *x, void *arg, const char *data, size_t len,
		     const uint8_t id[32]);
	/* Optional: writes x's answer for an error of the upload itself
	 * (status 413, 503, 507; what says why); NULL: an RFC 9457 problem. */
	void (*problem)(struct http_ctx *x, void *arg, int status, const char *what);
	/* Optional: runs exactly once when the request ends, after admit
	 * when admit ran (admitted: it returned 0). */
	void (*end)(void *arg, int admitted);
};

/*
 * From a streamed route's handler: takes the body through ops (copied
 * pointer: ops and arg must live until end runs; arg from x->arena is
 * fine). Returns 0; or -1 after answering 503 (ops->pool is full), in
 * which case nothing of ops runs, end included.
 */
int http_upload_start(struct http_ctx *x, const struct http_upload_ops *ops, void *arg);

/* ---- for http_server.c ---- */
enum http_upload_step {
	HTTP_UPLOAD_WAIT,   /* nothing to answer yet */
	HTTP_UPLOAD_ANSWER, /* x holds the answer: queue it */
	HTTP_UPLOAD_CLOSE,  /* give up on the connection */
};
/* One call of libmicrohttpd's handler for x's request (data NULL on the
 * call that starts it); consumes *size. */
enum http_upload_step http_upload_call(struct http_ctx *x, const char *data, size_t *size);
/* The request ended (answered or not): frees the spool, runs end. */
void http_upload_end(struct http_ctx *x);
/* Streamed bodies arriving now, both pools (tests, metrics). */
unsigned http_upload_active(void);

#endif
