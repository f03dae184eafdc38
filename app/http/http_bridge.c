/*
 * http_bridge.c — every HTTP connection: accepted on our loops, parsed by
 * libmicrohttpd.
 *
 * libmicrohttpd speaks TLS only through GnuTLS, which we do not ship. So
 * both HTTP listeners are loop listeners like the mail ones: each accepted
 * connection is a struct conn (implicit TLS on the HTTPS port: BearSSL,
 * the same certificate as the mail services, reloaded on SIGHUP). Its
 * plaintext is spliced to one end of a socketpair; the other end goes to
 * the HTTPS or the plain daemon with MHD_add_connection() and the client's
 * real address, so logs and handlers see the client, not the socketpair.
 *
 * Limits are ours, taken here before anything reaches the daemon: the
 * POOL_HTTP slots (a total and a share per IPv4 address or IPv6 /64; a
 * trusted proxy's requests count against their clients' shares), and
 * deadlines libmicrohttpd cannot give, since its timeout restarts on every
 * byte (one header byte every 20 s would hold a slot for ever):
 * - a complete request header within TERN_HTTP_HEADER_TIMEOUT of the
 *   connection (TLS handshake included) or of the moment the client
 *   took the last answer whole (a keep-alive connection idles no
 *   longer than that either);
 * - after the header, the body and the start of the answer within
 *   REQUEST_DEADLINE_MS;
 * - once answer bytes are pending for the client (in the conn's output
 *   buffer or TLS engine, on the socketpair, unread by us while the conn
 *   is full, or in the socket's send queue), the client owes us no
 *   header: we owe it bytes (PHASE_SEND). It must take some within
 *   TERN_HTTP_SEND_TIMEOUT, counted afresh each time it takes some
 *   (nginx's send_timeout, between two successive writes); one that
 *   takes none for that long is cut (event=timeout kind=response,
 *   reason send_timeout). Taking some is our writes moving (out_taken)
 *   or, while the socket will take no more, its TCP acknowledging more:
 *   the kernel's send buffer grows to megabytes, and writes resume only
 *   once half of it was taken, which a slow reader needs minutes for.
 *   The header deadline starts once all of it left for the socket; one
 *   that passes while the answer's end is still in the socket's send
 *   queue goes back to PHASE_SEND (once an answer: a TLS alert, which
 *   a client can draw at will, is no answer).
 * A client still taking a response is never cut: a deadline that passes
 * while our output moves is pushed back. Nor is one still sending a large
 * body (a streamed upload, http_upload.h): the request deadline is pushed
 * back when at least BRIDGE_PROGRESS_MIN request bytes came since it was
 * set. A client that dribbles less than that gains nothing, and one that
 * stops is cut by libmicrohttpd's timeout on the upload, which counts from
 * the last byte.
 *
 * Why the daemon never refuses a connection itself: libmicrohttpd 0.9.75
 * (daemon.c, new_connection_process_) returns from its connection-limit
 * branch with cleanup_connection_mutex still locked. A connection added
 * with MHD_add_connection() is counted against a worker's limit only
 * later, on that worker's thread, so a burst of adds can overshoot the
 * limit and reach that branch; the worker then deadlocks on its own mutex
 * for good (HTTP wedged, sockets never closed, MHD_stop_daemon() hanging
 * at SIGTERM). http_server.c therefore gives each worker a limit above
 * the process's file descriptor limit: every connection the daemon holds
 * is an open descriptor, so that branch cannot be reached.
 *
 * The daemon's own error answers carry none of the security headers
 * (0.9.75 has no hook that adds headers to them), so the bridge judges
 * every request's header before the daemon sees it: 431 (too large), 414
 * (the request target too long), 400 (a malformed request line or field
 * line). It follows the request
 * stream (http_stream_feed, http_parse.h): each body is skipped by its
 * framing, so a request pipelined behind another is judged as the first
 * was, not passed unchecked. A header is held back until it is complete;
 * one refused is replaced by a stand-in request (HTTP_BRIDGE_REFUSAL)
 * that the daemon answers with the problem in its turn, after the
 * requests before it, and then closes. A chunked body whose framing
 * breaks is answered 400 here. Left to the daemon, without those
 * headers: 505 for an HTTP version other than 1.x and 413 for a
 * Content-Length past 2^64; both fixed text, nothing of the request in
 * them.
 *
 * Flow control both ways: when the socketpair will not take more request
 * bytes, the conn stops reading the client (conn_pause_read) until it
 * drains; when the conn's output buffer is nearly full, we stop reading
 * the socketpair until the conn reports it drained. Either side closing
 * closes the other: the daemon closing its end (keep-alive over, timeout,
 * error) makes us flush and close the connection (TLS with close_notify);
 * the client going away closes our end, which the daemon sees as EOF.
 *
 * Answers in order, none cut (RFC 9112 §9.3): the bridge counts the
 * requests it passes on (their header ends) and the daemon's threads the
 * answers they complete (struct bridge_tally, matched to the bridge by
 * the socketpair's daemon end), so a JMAP push request pipelined behind
 * others (even a download of megabytes) is held in c->in until every
 * answer before it was completed and relayed, then taken over.
 *
 * Caveats: at a SIGTERM drain the end of input (shutdown of the
 * socketpair) is still given once an answer starts, not at sent ==
 * completed. Measured with libmicrohttpd 0.9.75: requests pipelined
 * behind a 4 MiB download, in its packet or while it streams, are all
 * answered before the daemon closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/http_push.h"
#include "http/http_server.h"
#include "net/conn.h"
#include "net/forwarded.h"
#include "net/limits.h"

#define BRIDGE_IN_MAX (64 * 1024)
#define BRIDGE_OUT_MAX (256 * 1024)
#define BRIDGE_CHUNK (16 * 1024)
/* Body and answer after a complete header: HTTP_BODY_MAX is 64 KiB, and
 * libmicrohttpd's own idle timeout is as long. */
#define REQUEST_DEADLINE_MS 60000
/* Request bytes within one REQUEST_DEADLINE_MS that push it back. */
#define BRIDGE_PROGRESS_MIN (64 * 1024)
/* A request header that may be a push request (http_push.h) is held
 * back from the daemon until it is complete, up to this size. */
#define HOLD_MAX 8192

enum bridge_phase {
	PHASE_HEADER,  /* waiting for a complete request header */
	PHASE_REQUEST, /* header seen: body and answer to come */
	PHASE_SEND,    /* answer bytes pending for the client */
};

struct bridge {
	struct conn *c;
	struct loop *loop;
	int sp;          /* our end of the socketpair */
	unsigned sp_want;
	int https;
	int proxy; /* the peer is a trusted proxy */
	int limited; /* holds a POOL_HTTP slot: 1 with the peer's share, 2 without */
	enum bridge_phase phase;
	struct http_stream stream; /* over the bytes sent to the daemon */
	int refusal;               /* a header refused: 400, 414 or 431, its stand-in being sent */
	unsigned refusal_sent;     /* bytes of the stand-in request sent */
	int daemon_gone;           /* its end refused bytes: it reads no more */
	uint64_t timer;
	uint64_t out_mark; /* c->out_taken when the deadline was set */
	uint64_t in_mark;  /* c->bytes_in then */
	uint64_t acked_mark; /* in PHASE_SEND, what the peer's TCP had acknowledged then */
	int tail; /* PHASE_HEADER entered as an answer's last bytes left for the socket */
	struct http_push *push; /* taken over: EventSource or WebSocket */
	unsigned sent; /* requests passed to the daemon (header ends) */
	struct bridge_tally *tally; /* the answers the daemon completed */
	struct bridge *prev, *next;
};

/*
 * The answers the daemon completed on a bridge's connection. Threads: the
 * bridge's loop thread creates it and alone reads or clears b; a daemon
 * worker thread adds to completed (on_completed, http_server.c) and posts
 * a wake-up to the loop for each; both read loop and fd, set before the
 * daemon sees the connection. The bridge, the daemon's connection and
 * each wake-up on its way hold a reference (atomics), so it outlives
 * whichever of them goes first.
 */
struct bridge_tally {
	struct loop *loop;
	struct bridge *b; /* loop thread only; NULL once the bridge is gone */
	int fd;           /* the daemon's end of the socketpair */
	unsigned completed;
	unsigned refs;
	struct bridge_tally *next; /* in pending, under pending_lock */
};

/* Added to the daemon, not yet started by it (http_bridge_tally_take). */
static struct bridge_tally *pending;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local struct bridge *loop_bridges;
/* SIGTERM (http_server_drain): connections end after their answer. */
static _Thread_local int loop_draining;
static unsigned bridges_alive;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

static void bridge_data(struct conn *c, void *arg);
static void bridge_drained(struct conn *c, void *arg);
static void bridge_closed(struct conn *c, void *arg, const char *reason);
static const struct conn_ops bridge_ops = {
	.on_data = bridge_data,
	.on_drained = bridge_drained,
	.on_close = bridge_closed,
};

unsigned http_server_sessions(void)
{
	return __atomic_load_n(&bridges_alive, __ATOMIC_SEQ_CST);
}

static void tally_unref(struct bridge_tally *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_SEQ_CST) == 0)
		free(t);
}

/* The pending tally of the daemon's end fd (only if it is this one, when
 * this is given), unlinked (its reference is the caller's), or NULL. */
static struct bridge_tally *tally_unpend(int fd, const struct bridge_tally *this)
{
	struct bridge_tally *t = NULL;
	pthread_mutex_lock(&pending_lock);
	for (struct bridge_tally **pp = &pending; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd && (!this || *pp == this)) {
			t = *pp;
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&pending_lock);
	return t;
}

/* Before MHD_add_connection(): the daemon's connection will take t by its
 * fd. One left with that fd is of a connection the daemon closed without
 * starting it (the fd number is free again): dropped. */
static void tally_pend(struct bridge_tally *t)
{
	tally_unref(tally_unpend(t->fd, NULL));
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&pending_lock);
	t->next = pending;
	pending = t;
	pthread_mutex_unlock(&pending_lock);
}

struct bridge_tally *http_bridge_tally_take(int fd)
{
	return tally_unpend(fd, NULL);
}

void http_bridge_tally_put(struct bridge_tally *t)
{
	tally_unref(t);
}

static void bridge_feed(struct bridge *b);

/* On the bridge's loop: an answer completed, perhaps the last one a push
 * request held in c->in waits for. */
static void tally_wake(void *arg)
{
	struct bridge_tally *t = arg;
	struct bridge *b = t->b;
	if (b && !b->push && b->sp >= 0 && buf_len(&b->c->in) > 0) {
		struct conn *c = b->c;
		conn_hold(c);
		bridge_feed(b);
		conn_release(c); /* b may be gone */
	}
	tally_unref(t);
}

void http_bridge_answered(struct bridge_tally *t)
{
	if (!t)
		return;
	__atomic_add_fetch(&t->completed, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_SEQ_CST);
	loop_post(t->loop, tally_wake, t);
}

/* Whether the daemon's answers left bytes on the socketpair that we have
 * not read yet (1 too when that cannot be told). */
static int sp_unread(const struct bridge *b)
{
	int unread = -1;
	return b->sp >= 0 && (ioctl(b->sp, FIONREAD, &unread) != 0 || unread != 0);
}

/*
 * Every request passed to the daemon was answered, and the answers are
 * all ours (the daemon writes an answer whole before it counts it
 * complete, so nothing unread on the socketpair means none still to
 * relay): what the client sends next may be answered by someone else.
 */
static int answers_done(const struct bridge *b)
{
	return b->tally && b->sent == __atomic_load_n(&b->tally->completed, __ATOMIC_SEQ_CST) &&
	       !sp_unread(b);
}

/* Octets in the client socket's send queue, and (*acked_r) what its TCP
 * acknowledged so far; 0 and 0 when the socket cannot tell. */
static size_t socket_queued(const struct bridge *b, uint64_t *acked_r)
{
	uint64_t acked = 0;
	size_t queued = 0;
	if (conn_socket_output(b->c, &acked, &queued) < 0)
		acked = queued = 0;
	if (acked_r)
		*acked_r = acked;
	return queued;
}

/* Answer bytes the client has yet to take: queued in the socket's send
 * queue, in the conn, or on the socketpair (left there while the conn's
 * output buffer is full). */
static int answer_pending(const struct bridge *b, size_t queued)
{
	return queued > 0 || conn_output_pending(b->c) || sp_unread(b);
}

static void sp_interest(struct bridge *b, unsigned want)
{
	if (b->sp >= 0 && want != b->sp_want) {
		b->sp_want = want;
		loop_mod_fd(b->loop, b->sp, want);
	}
}

static void deadline_passed(struct loop *loop, void *arg);

static void deadline_set(struct bridge *b, enum bridge_phase phase)
{
	uint64_t ms = phase == PHASE_HEADER ? (uint64_t)http_cfg->http_header_timeout_s * 1000
		      : phase == PHASE_SEND ? (uint64_t)http_cfg->http_send_timeout_s * 1000
					    : REQUEST_DEADLINE_MS;
	b->phase = phase;
	b->out_mark = b->c->out_taken;
	b->in_mark = b->c->bytes_in;
	b->tail = 0;
	if (phase == PHASE_SEND)
		socket_queued(b, &b->acked_mark);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = loop_timer_add(b->loop, ms, deadline_passed, b);
}

static void deadline_passed(struct loop *loop, void *arg)
{
	struct bridge *b = arg;
	(void)loop;
	b->timer = 0;
	if (b->c->out_taken != b->out_mark) {
		/* The client is taking a response: not the client's delay.
		 * Answers only: counted in bytes_out, the TLS handshake on an
		 * HTTPS connection pushed its first header deadline back once
		 * (twice TERN_HTTP_HEADER_TIMEOUT), and a TLS alert a client
		 * can draw at will (a renegotiation refused) again each time. */
		deadline_set(b, b->phase);
		return;
	}
	if (b->phase == PHASE_REQUEST && b->c->bytes_in - b->in_mark >= BRIDGE_PROGRESS_MIN) {
		/* A body still coming at a fair pace. */
		deadline_set(b, b->phase);
		return;
	}
	if (b->phase == PHASE_HEADER && b->tail && socket_queued(b, NULL) > 0) {
		/* The last answer's end is still in the socket's send queue
		 * (megabytes on a fast path, which a slow reader takes for
		 * longer than this): it owes us no header yet. Once only
		 * for each answer, so that TLS alerts a client draws at will
		 * cannot keep it here. */
		deadline_set(b, PHASE_SEND);
		return;
	}
	if (b->phase == PHASE_SEND) {
		uint64_t acked;
		size_t queued = socket_queued(b, &acked);
		if (!answer_pending(b, queued)) {
			/* It took all of it: the next header is due from now. */
			deadline_set(b, PHASE_HEADER);
		} else if (acked != b->acked_mark) {
			/* It takes bytes, though the socket's send buffer is
			 * still too full for us to write more: a slow reader,
			 * not a stalled one. */
			deadline_set(b, PHASE_SEND);
		} else {
			/* We owe it bytes it has not taken for that long. */
			log_info("http", NULL, "event=timeout kind=response peer=%s https=%d taken=%llu",
				 b->c->peer_ip, b->https, (unsigned long long)b->c->out_taken);
			conn_close(b->c, "send_timeout");
		}
		return;
	}
	log_info("http", NULL, "event=timeout kind=%s peer=%s https=%d",
		 b->phase == PHASE_HEADER ? "request_header" : "request", b->c->peer_ip, b->https);
	conn_close(b->c, b->phase == PHASE_HEADER ? "header_timeout" : "request_timeout");
}

/*
 * How many of the n request bytes at p may go to the daemon: those up to
 * the end of the last complete request header or body byte among them.
 * A request's header is held back (in c->in, HTTP_HEAD_BYTES_MAX at most)
 * until it is complete and checked, so that the daemon never holds a
 * part of one we refuse. *ev says what stopped the stream after them: a
 * refusal (400, 414, 431, at the first byte not sendable), HTTP_STREAM_STOP,
 * or HTTP_STREAM_MORE (a header still incomplete, or all of p taken).
 */
static int push_candidate(const struct bridge *b, const char *p, size_t n);

static size_t stream_room(const struct bridge *b, const char *p, size_t n, int *ev)
{
	struct http_stream probe = b->stream;
	size_t off = 0, room = 0;
	*ev = HTTP_STREAM_MORE;
	while (off < n) {
		off += http_stream_feed(&probe, p + off, n - off, ev);
		int boundary = *ev == HTTP_STREAM_HEAD_END || *ev == HTTP_STREAM_BODY_END;
		if (*ev != HTTP_STREAM_MORE && !boundary)
			break; /* refused or stopped: nothing of it goes */
		if (boundary || !http_stream_in_header(&probe))
			room = off;
		*ev = HTTP_STREAM_MORE;
		/* A request that may be a push one stops here: push_check's. */
		if (boundary && http_stream_at_start(&probe) && off < n &&
		    push_candidate(b, p + off, n - off))
			break;
	}
	return room;
}

/* The n bytes at p went to the daemon: each header's end starts its
 * request's deadline. */
static void stream_sent(struct bridge *b, const char *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		int ev;
		off += http_stream_feed(&b->stream, p + off, n - off, &ev);
		if (ev == HTTP_STREAM_HEAD_END) {
			b->sent++;
			deadline_set(b, PHASE_REQUEST);
		} else if (ev != HTTP_STREAM_MORE && ev != HTTP_STREAM_BODY_END)
			break;
	}
}

static void sp_close(struct bridge *b);

/* An answer of ours in place of the daemon's (a problem, with the
 * security headers), then close: for a request the daemon holds a part
 * of (a chunked body whose framing broke). */
static void refuse(struct bridge *b, const char *status, const char *body, const char *event)
{
	struct conn *c = b->c;
	log_info("http", NULL, "event=%s peer=%s bytes=%u lines=%u", event, c->peer_ip, b->stream.bytes,
		 b->stream.lines);
	sp_close(b);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = 0;
	buf_consume_wipe(&c->in, buf_len(&c->in));
	conn_printf(c,
		    "HTTP/1.1 %s\r\nConnection: close\r\n"
		    "Content-Type: application/problem+json\r\nCache-Control: no-store\r\n"
		    "%sContent-Length: %zu\r\n\r\n%s",
		    status, http_security_header_lines(b->https), strlen(body), body);
	conn_pause_read(c, 1);
	conn_close_after_flush(c, event);
}

/* A chunked body whose chunk lines are not (RFC 9112 §7.1), or whose
 * trailer section breaks the field-line rules or limits. */
static void body_refused(struct bridge *b, int status)
{
	if (status == 431)
		refuse(b, "431 Request Header Fields Too Large",
		       "{\"type\":\"about:blank\",\"title\":\"Request Header Fields Too Large\","
		       "\"status\":431,\"detail\":\"the trailer section is over 16384 bytes or 100 lines\","
		       "\"code\":\"too_large\"}",
		       "trailer_too_large");
	else
		refuse(b, "400 Bad Request",
		       "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
		       "\"detail\":\"the chunked body's framing or trailer section is malformed\","
		       "\"code\":\"bad_request\"}",
		       "bad_chunked_body");
}

/*
 * Sends the stand-in of a refused header (HTTP_BRIDGE_REFUSAL): the
 * daemon answers the requests before it, then this one with the problem
 * (431 for a header over our limits, RFC 6585 §5, 414 when its target
 * alone passed them, RFC 9110 §15.5.15; 400 for a request line
 * or field line that is not one, RFC 9112 §3, §5) and closes. Nothing of
 * the client's reaches it any more. 1 when sent.
 */
static int refusal_send(struct bridge *b)
{
	char req[160];
	int n = snprintf(req, sizeof req,
			 "GET / HTTP/1.1\r\nHost: refused.invalid\r\n" HTTP_BRIDGE_REFUSAL
			 ": %d\r\nConnection: close\r\n\r\n",
			 b->refusal);
	while (b->refusal_sent < (unsigned)n) {
		ssize_t w = send(b->sp, req + b->refusal_sent, (size_t)n - b->refusal_sent, MSG_NOSIGNAL);
		if (w > 0)
			b->refusal_sent += (unsigned)w;
		else if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		else
			return 1; /* the daemon is gone */
	}
	return 1;
}

static void header_refused(struct bridge *b, int status)
{
	log_info("http", NULL, "event=%s peer=%s bytes=%u lines=%u",
		 status == 431   ? "header_too_large"
		 : status == 414 ? "target_too_long"
				 : "bad_request_line",
		 b->c->peer_ip,
		 b->stream.bytes, b->stream.lines);
	b->refusal = status;
}

/* Moves request bytes from the conn to the daemon. 1 when all went. */
static int push_request(struct bridge *b)
{
	struct conn *c = b->c;
	if (b->daemon_gone) {
		/* The daemon closed in the middle of a request (a body it
		 * refused to read on, http_server.c): the rest is no request,
		 * and read as one it was out of step with b->stream, which
		 * then found the "framing" broken and answered 400 in place of
		 * the daemon's answer still on its way. */
		buf_consume_wipe(&c->in, buf_len(&c->in));
		return 1;
	}
	while (buf_len(&c->in) > 0 && !b->refusal) {
		int ev;
		size_t room = stream_room(b, buf_data(&c->in), buf_len(&c->in), &ev);
		if (room == 0) {
			if (ev == HTTP_STREAM_MORE)
				return 1; /* a header still coming */
			if (ev == HTTP_STREAM_STOP) {
				/* A body we cannot delimit: the daemon refuses that
				 * request and closes; what follows is no request. */
				buf_consume_wipe(&c->in, buf_len(&c->in));
				return 1;
			}
			if (!http_stream_in_header(&b->stream)) {
				body_refused(b, ev);
				return 1;
			}
			header_refused(b, ev);
			break;
		}
		ssize_t w = send(b->sp, buf_data(&c->in), room, MSG_NOSIGNAL);
		if (w > 0) {
			stream_sent(b, buf_data(&c->in), (size_t)w);
			/* Wiped once handed on: a request body may hold a
			 * password (login, the wizard, a password change), and
			 * c->in (secret, wiped when freed) keeps consumed bytes
			 * for as long as a keep-alive connection lasts. Every
			 * request's, since the bridge does not route: a memset
			 * of what send() just copied (scripts/bench-http and a
			 * 16 KB POST run showed no change beyond the noise). */
			buf_consume_wipe(&c->in, (size_t)w);
			if (http_stream_at_start(&b->stream) &&
			    push_candidate(b, buf_data(&c->in), buf_len(&c->in)))
				return 1; /* push_check's to judge (bridge_feed) */
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		/* The daemon is gone: nothing more will be answered. */
		b->daemon_gone = 1;
		buf_consume_wipe(&c->in, buf_len(&c->in));
		return 1;
	}
	if (b->refusal) {
		/* What the client sends after a refused header is dropped. */
		buf_consume_wipe(&c->in, buf_len(&c->in));
		return refusal_send(b);
	}
	return 1;
}

/* Whether the first n bytes at p agree with pfx (as far as both go),
 * its bytes from fold on without regard to ASCII case. */
static int starts_like(const char *p, size_t n, const char *pfx, size_t fold)
{
	for (size_t i = 0; i < n && pfx[i]; i++) {
		char c = p[i];
		if (i >= fold && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != pfx[i])
			return 0;
	}
	return 1;
}

/* Could the request whose first n bytes are at p be one for http_push:
 * does it start like "GET /jmap/", or like an absolute-form target
 * ("GET http..." with the scheme in any case, RFC 9112 §3.2.2, which
 * http_head_parse takes apart), on a connection that may carry one? */
static int push_candidate(const struct bridge *b, const char *p, size_t n)
{
	/* Plain HTTP carries them when it is all there is, or from a proxy
	 * that ended the client's TLS (it says https); else the daemon
	 * redirects them to HTTPS. */
	if (!b->https && http_https_port() && !b->proxy)
		return 0;
	return starts_like(p, n, "GET /jmap/", SIZE_MAX) || starts_like(p, n, "GET http", 4);
}

/*
 * Where a request starts: is this one for http_push? Its bytes stay in
 * c->in (not sent to the daemon) while it may be (push_candidate, and
 * its header, within HOLD_MAX, is not complete yet), and while one is
 * waits for the answers to the requests before it (pipelined behind
 * them: answers_done; RFC 9112 §9.3). 1 while held, 2 when taken over,
 * 0 for the daemon.
 */
static int push_check(struct bridge *b)
{
	struct conn *c = b->c;
	const char *d = buf_data(&c->in);
	size_t n = buf_len(&c->in);
	unsigned line = HTTP_HEADER_START;
	struct http_head h;

	/* Only where a request starts, not in a body that looks like one. */
	if (!http_stream_at_start(&b->stream) || !push_candidate(b, d, n))
		return 0;
	long end = http_header_end(&line, d, n < HOLD_MAX ? n : HOLD_MAX);
	if (end < 0)
		return n < HOLD_MAX;
	if (http_head_parse(d, (size_t)end, &h) < 0 || !http_push_wants(&h))
		return 0;
	struct forwarded_origin o;
	if (!b->https && http_https_port() &&
	    (!http_push_origin(b->c->peer_ip, &h, &o) || o.https != 1))
		return 0;
	if (!answers_done(b))
		return 1; /* tally_wake or sp_event comes back to it */
	/* Ours: the daemon, idle, sees its end close. */
	sp_close(b);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = 0;
	/* Consumed first: what follows the header is the push session's
	 * (WebSocket frames). h's slices stay readable during the call:
	 * consuming only moves an offset, and nothing reads into c->in.
	 * Then the header's octets are wiped where they lie, as the bridge
	 * wipes what it hands the daemon: they hold the Authorization. */
	char *head = buf_data(&c->in);
	buf_consume(&c->in, (size_t)end);
	b->push = http_push_start(c, &h);
	explicit_bzero(head, (size_t)end);
	return 2;
}

/* Hands the client's bytes on: to the push session or the daemon, or
 * holds them (a header still coming, a push request waiting). */
static void bridge_feed(struct bridge *b)
{
	struct conn *c = b->c;
	if (b->push) {
		http_push_data(b->push);
		return;
	}
	for (;;) {
		if (b->sp < 0) {
			buf_consume_wipe(&c->in, buf_len(&c->in));
			return;
		}
		size_t before = buf_len(&c->in);
		if (before == 0 || push_check(b))
			return;
		if (!push_request(b)) {
			conn_pause_read(c, 1);
			sp_interest(b, b->sp_want | LOOP_WRITE);
			return;
		}
		/* Stopped before a push candidate (judged next), else done. */
		if (buf_len(&c->in) == before)
			return;
	}
}

static void bridge_data(struct conn *c, void *arg)
{
	(void)c;
	bridge_feed(arg);
}

static void bridge_drained(struct conn *c, void *arg)
{
	struct bridge *b = arg;
	(void)c;
	if (b->push)
		http_push_drained(b->push);
	/* Every answer byte we had left for the socket: from here the client
	 * owes us the next request's header (unless the socket still holds
	 * the answer's end when that deadline passes: deadline_passed). */
	if (!b->push && b->sp >= 0 && b->phase == PHASE_SEND && !sp_unread(b)) {
		deadline_set(b, PHASE_HEADER);
		b->tail = 1;
	}
	if (b->sp >= 0 && !(b->sp_want & LOOP_READ))
		sp_interest(b, b->sp_want | LOOP_READ);
}

static void sp_close(struct bridge *b)
{
	if (b->sp < 0)
		return;
	loop_del_fd(b->loop, b->sp);
	close(b->sp);
	b->sp = -1;
}

static void bridge_closed(struct conn *c, void *arg, const char *reason)
{
	struct bridge *b = arg;
	(void)reason;
	sp_close(b);
	http_push_free(&b->push);
	if (b->tally)
		b->tally->b = NULL;
	tally_unref(b->tally);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	if (b->limited)
		limits_release(POOL_HTTP, b->limited == 1 ? c->peer_ip : NULL);
	if (b->prev)
		b->prev->next = b->next;
	else
		loop_bridges = b->next;
	if (b->next)
		b->next->prev = b->prev;
	__atomic_sub_fetch(&bridges_alive, 1, __ATOMIC_SEQ_CST);
	free(b);
}

static void sp_event(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct bridge *b = arg;
	struct conn *c = b->c;
	int eof = 0;
	(void)loop;
	(void)fd;

	/* Nothing below frees c (or b) until conn_release(). */
	conn_hold(c);
	/* The loop reports a hang-up as writable too: push only when we
	 * were waiting to, and always look for the answer and the EOF. */
	if ((events & LOOP_WRITE) && (b->sp_want & LOOP_WRITE) && push_request(b)) {
		sp_interest(b, b->sp_want & ~LOOP_WRITE);
		conn_pause_read(c, 0);
	}
	if (events & (LOOP_READ | LOOP_HUP)) {
		while (buf_room(&c->out) >= BRIDGE_CHUNK) {
			char tmp[BRIDGE_CHUNK];
			ssize_t r = recv(b->sp, tmp, sizeof(tmp), 0);
			if (r > 0) {
				/* Stopping: the request is whole (it is being
				 * answered), the daemon closes after the answer. */
				if (loop_draining && b->phase == PHASE_REQUEST &&
				    !http_stream_in_body(&b->stream))
					shutdown(b->sp, SHUT_WR);
				/* An answer: bytes we owe the client (the next
				 * header is due once it took them all,
				 * bridge_drained), unless this is an interim one
				 * (100 Continue) or an early one while the body
				 * still comes. */
				deadline_set(b, http_stream_in_body(&b->stream) ? PHASE_REQUEST
										: PHASE_SEND);
				if (conn_write(c, tmp, (size_t)r) < 0) {
					eof = 1;
					break;
				}
				continue;
			}
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				eof = 1;
			break;
		}
		if (!eof && buf_room(&c->out) < BRIDGE_CHUNK)
			/* Wait for the client to take what is queued. */
			sp_interest(b, b->sp_want & ~LOOP_READ);
	}
	if (eof) {
		sp_close(b);
		conn_pause_read(c, 0);
		conn_close_after_flush(c, "http_done");
	} else if (b->sp >= 0 && !b->push && buf_len(&c->in) > 0 && !(b->sp_want & LOOP_WRITE)) {
		/* The last answer relayed, perhaps: a push request held. */
		bridge_feed(b);
	}
	/* Sends what was queued and hands over input the TLS engine already
	 * holds; b and c may be gone afterwards. */
	conn_release(c);
}

static socklen_t peer_sockaddr(const struct conn *c, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, c->peer_ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->peer_port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, c->peer_ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->peer_port);
		return sizeof(*s6);
	}
	return 0;
}

void http_bridge_accept(struct loop *loop, int fd, void *arg)
{
	struct bridge *b = xcalloc(1, sizeof(*b));
	int sp[2];

	b->loop = loop;
	b->sp = -1;
	b->https = arg == HTTP_BRIDGE_TLS;
	b->c = conn_new(loop, fd, b->https, BRIDGE_IN_MAX, BRIDGE_OUT_MAX, &bridge_ops, b);
	if (!b->c) {
		free(b);
		return;
	}
	__atomic_add_fetch(&bridges_alive, 1, __ATOMIC_SEQ_CST);
	b->next = loop_bridges;
	if (loop_bridges)
		loop_bridges->prev = b;
	loop_bridges = b;

	/* A trusted reverse proxy carries every client's requests: its
	 * connections take a slot of the total only, and each request counts
	 * against the share of the client the proxy names (http_server.c),
	 * a JMAP push connection for as long as it lasts (http_push.c), so
	 * the per-client limit sees real clients, not the proxy. */
	int proxy = b->proxy = http_cfg->trusted_proxies[0] &&
		    cidr_list_match(http_cfg->trusted_proxies, b->c->peer_ip);
	int lim = limits_acquire(POOL_HTTP, proxy ? NULL : b->c->peer_ip);
	if (lim < 0) {
		/* Refused before a byte is read: nothing reaches the daemon. */
		limits_log_refused(POOL_HTTP, "http", NULL, b->c->peer_ip, b->c->peer_port,
				   lim == -2 ? "per_ip_limit" : "connection_limit");
		conn_close(b->c, "connection_limit");
		return;
	}
	b->limited = proxy ? 2 : 1;
	http_stream_init(&b->stream);
	deadline_set(b, PHASE_HEADER);

	struct MHD_Daemon *d = http_daemon(b->https);
	if (!d || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("http", NULL, "event=bridge_failed error=\"%s\"",
			 d ? strerror(errno) : "no daemon");
		conn_close(b->c, "bridge_failed");
		return;
	}
	b->tally = xcalloc(1, sizeof(*b->tally));
	b->tally->loop = loop;
	b->tally->b = b;
	b->tally->fd = sp[1];
	b->tally->refs = 1;
	tally_pend(b->tally);
	struct sockaddr_storage ss;
	socklen_t sl = peer_sockaddr(b->c, &ss);
	pthread_mutex_lock(&add_lock);
	enum MHD_Result ok = MHD_add_connection(d, sp[1], sl ? (struct sockaddr *)&ss : NULL, sl);
	pthread_mutex_unlock(&add_lock);
	if (ok != MHD_YES) {
		/* MHD closed sp[1] already, never starting it (its number
		 * may be another bridge's by now: ours only). */
		tally_unref(tally_unpend(sp[1], b->tally));
		close(sp[0]);
		log_warn("http", NULL, "event=refused peer=%s reason=daemon error=\"%s\"",
			 b->c->peer_ip, strerror(errno));
		conn_close(b->c, "bridge_failed");
		return;
	}
	b->sp = sp[0];
	b->sp_want = LOOP_READ;
	if (loop_add_fd(loop, b->sp, b->sp_want, sp_event, b) < 0) {
		close(b->sp);
		b->sp = -1;
		conn_close(b->c, "bridge_failed");
	}
}

void http_server_drain(void)
{
	struct bridge *next;

	loop_draining = 1;
	for (struct bridge *b = loop_bridges; b; b = next) {
		next = b->next;
		struct conn *c = b->c;
		conn_hold(c);
		if (b->push) {
			/* Its close frame or last event first (http_push.h). */
			if (!http_push_shutdown(b->push))
				conn_close(c, "shutdown");
		} else if (b->sp < 0) {
			conn_close(c, "shutdown");
		} else if (b->phase != PHASE_REQUEST) {
			/* The end of the client's requests, as the daemon sees
			 * it: idle, it closes its end now; mid-answer (a large
			 * one streaming), after the answer; either way we flush
			 * and close when its end closes (sp_event). A request
			 * whose body is still coming is told when its answer
			 * starts (sp_event), not now: the daemon would drop it. */
			shutdown(b->sp, SHUT_WR);
		}
		conn_release(c); /* b may be gone */
	}
}

void http_server_close_all(void)
{
	struct bridge *next;

	for (struct bridge *b = loop_bridges; b; b = next) {
		next = b->next;
		/* A push connection says goodbye first (its close frame); the
		 * second call (after the drain's wait) closes it like others. */
		struct conn *c = b->c;
		conn_hold(c);
		if (!b->push || !http_push_shutdown(b->push))
			conn_close(c, "shutdown");
		conn_release(c); /* sends the goodbye; b may be gone */
	}
}
