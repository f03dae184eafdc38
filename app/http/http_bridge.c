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
 *   connection (TLS handshake included) or of the last response bytes
 *   (a keep-alive connection idles no longer than that either);
 * - after the header, the body and the answer within REQUEST_DEADLINE_MS.
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
 * (0.9.75 has no hook that adds headers to them), so the bridge answers
 * what it can see in the header as it passes: 431 (too large), 400 (a
 * malformed request line or field line). Left to the daemon, without
 * those headers: 505 for an HTTP version other than 1.x and 413 for a
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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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
/* A request header larger than this, or of more lines, is answered 431
 * here, with the security headers every response of ours carries:
 * libmicrohttpd's own 431 (past its 32 KiB connection pool, less with
 * many short lines) has none and cannot be given any. Both are well
 * below what fills the pool. */
#define HEADER_BYTES_MAX (16 * 1024)
#define HEADER_LINES_MAX 100
/* A request header that may be a push request (http_push.h) is held
 * back from the daemon until it is complete, up to this size. */
#define HOLD_MAX 8192

enum { RL_START, RL_METHOD, RL_TARGET0, RL_TARGET, RL_VERSION /* .. +7 */, RL_EOL = RL_VERSION + 8,
       RL_LF, FL_START, FL_NAME, FL_VALUE, FL_VALUE_CR, FL_END, RL_DONE, RL_BAD };

enum bridge_phase {
	PHASE_HEADER,  /* waiting for a complete request header */
	PHASE_REQUEST, /* header seen: body and answer to come */
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
	unsigned line_len; /* bytes in the header line being read */
	unsigned head_bytes, head_lines; /* of the header being read */
	int rline;          /* request_line_step's state over the bytes sent */
	uint64_t timer;
	uint64_t out_mark; /* c->bytes_out when the deadline was set */
	uint64_t in_mark;  /* c->bytes_in then */
	struct http_push *push; /* taken over: EventSource or WebSocket */
	struct bridge *prev, *next;
};

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
					    : REQUEST_DEADLINE_MS;
	b->phase = phase;
	if (phase == PHASE_HEADER) {
		b->line_len = HTTP_HEADER_START;
		b->head_bytes = b->head_lines = 0;
		b->rline = RL_START;
	}
	b->out_mark = b->c->bytes_out;
	b->in_mark = b->c->bytes_in;
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = loop_timer_add(b->loop, ms, deadline_passed, b);
}

static void deadline_passed(struct loop *loop, void *arg)
{
	struct bridge *b = arg;
	(void)loop;
	b->timer = 0;
	if (b->c->bytes_out != b->out_mark) {
		/* The client is taking a response: not the client's delay. */
		deadline_set(b, b->phase);
		return;
	}
	if (b->phase == PHASE_REQUEST && b->c->bytes_in - b->in_mark >= BRIDGE_PROGRESS_MIN) {
		/* A body still coming at a fair pace. */
		deadline_set(b, b->phase);
		return;
	}
	log_info("http", NULL, "event=timeout kind=%s peer=%s https=%d",
		 b->phase == PHASE_HEADER ? "request_header" : "request", b->c->peer_ip, b->https);
	conn_close(b->c, b->phase == PHASE_HEADER ? "header_timeout" : "request_timeout");
}

/*
 * The request line and field lines, byte by byte (RFC 9112 §3: method
 * token SP target SP HTTP-version CRLF, empty lines before it ignored,
 * §2.2; §5: each field line a token, a colon with no blank before it,
 * the value). RL_DONE at the empty line that ends the header. A line
 * starting with a blank (obs-fold) is refused too, as RFC 9112 §5.2
 * allows: libmicrohttpd 0.9.75 glued it to the line before without the
 * SP the RFC asks for ("chun" + " ked" read as chunked, where a front
 * end that follows the RFC reads "chun ked"), and lost a folded Host
 * field. What breaks them is
 * answered 400 here, with the security headers every response
 * of ours carries: libmicrohttpd's own 400 has none and cannot be given
 * any. The version's digits are the daemon's to judge (505).
 */

static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int request_line_step(int st, unsigned char ch)
{
	static const char version[] = "HTTP/#.#";
	switch (st) {
	case RL_DONE: return RL_DONE;
	case RL_START: return ch == '\r' || ch == '\n' ? RL_START : is_tchar(ch) ? RL_METHOD : RL_BAD;
	case RL_METHOD: return ch == ' ' ? RL_TARGET0 : is_tchar(ch) ? RL_METHOD : RL_BAD;
	case RL_TARGET0:
	case RL_TARGET:
		if (ch == ' ' && st == RL_TARGET)
			return RL_VERSION;
		return ch > 0x20 && ch != 0x7f ? RL_TARGET : RL_BAD;
	case RL_EOL: return ch == '\r' ? RL_LF : ch == '\n' ? FL_START : RL_BAD;
	case RL_LF: return ch == '\n' ? FL_START : RL_BAD;
	case FL_START:
		return ch == '\r' ? FL_END : ch == '\n' ? RL_DONE : is_tchar(ch) ? FL_NAME : RL_BAD;
	case FL_NAME: return ch == ':' ? FL_VALUE : is_tchar(ch) ? FL_NAME : RL_BAD;
	case FL_VALUE:
		/* RFC 9110 §5.5, RFC 9112 §2.2: NUL, a bare CR, any control but
		 * HTAB in a value is refused (libmicrohttpd cut the value at a
		 * NUL, so "Bearer TOKEN\0junk" was the token, and kept a bare
		 * CR), as the push path's parser refuses them. */
		return ch == '\n' ? FL_START : ch == '\r' ? FL_VALUE_CR
		       : (ch < 0x20 && ch != '\t') || ch == 0x7f ? RL_BAD : FL_VALUE;
	case FL_VALUE_CR: return ch == '\n' ? FL_START : RL_BAD;
	case FL_END: return ch == '\n' ? RL_DONE : RL_BAD;
	default: {
		char want = version[st - RL_VERSION];
		int ok = want == '#' ? ch >= '0' && ch <= '9' : ch == (unsigned char)want;
		return !ok ? RL_BAD : st + 1;
	}
	}
}

/* Looks for the end of the request header in bytes going to the daemon. */
static void scan_header(struct bridge *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n && b->rline != RL_DONE; i++)
		b->rline = request_line_step(b->rline, (unsigned char)p[i]);
	long end = http_header_end(&b->line_len, p, n);
	size_t in = end >= 0 ? (size_t)end : n;
	b->head_bytes += (unsigned)in;
	for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + in - q))) != NULL; q++)
		b->head_lines++;
	if (end >= 0)
		/* Whatever follows is body (or a pipelined request, which the
		 * next answer's deadline covers). */
		deadline_set(b, PHASE_REQUEST);
}

/*
 * How many of the n header bytes at p may go to the daemon: all, or those
 * before the byte that takes the header past HEADER_BYTES_MAX or its line
 * count past HEADER_LINES_MAX, or the first that makes the request line
 * not one (the daemon acts on whole lines, so the rest of such a line
 * never reaches it).
 */
static size_t header_room(const struct bridge *b, const char *p, size_t n, int *bad_line)
{
	unsigned line = b->line_len, bytes = b->head_bytes, lines = b->head_lines;
	int rline = b->rline;
	for (size_t i = 0; i < n; i++) {
		if (++bytes > HEADER_BYTES_MAX)
			return i;
		if (rline != RL_DONE && (rline = request_line_step(rline, (unsigned char)p[i])) == RL_BAD) {
			*bad_line = 1;
			return i;
		}
		if (p[i] == '\n') {
			if (line == 0)
				return n; /* the end: the rest is body */
			if (++lines > HEADER_LINES_MAX)
				return i;
			line = 0;
		} else if (p[i] != '\r') {
			line++;
		}
	}
	return n;
}

static void sp_close(struct bridge *b);

/* An answer of ours in place of the daemon's (a problem, with the
 * security headers), then close. */
static void refuse(struct bridge *b, const char *status, const char *body, const char *event)
{
	struct conn *c = b->c;
	log_info("http", NULL, "event=%s peer=%s bytes=%u lines=%u", event, c->peer_ip, b->head_bytes,
		 b->head_lines);
	sp_close(b);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = 0;
	buf_consume(&c->in, buf_len(&c->in));
	conn_printf(c,
		    "HTTP/1.1 %s\r\nConnection: close\r\n"
		    "Content-Type: application/problem+json\r\nCache-Control: no-store\r\n"
		    "%sContent-Length: %zu\r\n\r\n%s",
		    status, http_security_header_lines(b->https), strlen(body), body);
	conn_pause_read(c, 1);
	conn_close_after_flush(c, event);
}

/* 431 for a request header over our limits (RFC 6585 §5); 400 for a
 * request line that is not one (RFC 9112 §3). */
static void header_refused(struct bridge *b, int bad_line)
{
	if (bad_line)
		refuse(b, "400 Bad Request",
		       "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
		       "\"detail\":\"the request line or a header field line is malformed\","
		       "\"code\":\"bad_request\"}",
		       "bad_request_line");
	else
		refuse(b, "431 Request Header Fields Too Large",
		       "{\"type\":\"about:blank\",\"title\":\"Request Header Fields Too Large\","
		       "\"status\":431,\"detail\":\"the request header is over 16384 bytes or 100 lines\","
		       "\"code\":\"too_large\"}",
		       "header_too_large");
}

/* Moves request bytes from the conn to the daemon. 1 when all went. */
static int push_request(struct bridge *b)
{
	struct conn *c = b->c;
	while (buf_len(&c->in) > 0) {
		int bad_line = 0;
		size_t room = b->phase == PHASE_HEADER
				      ? header_room(b, buf_data(&c->in), buf_len(&c->in), &bad_line)
				      : buf_len(&c->in);
		if (room == 0) {
			header_refused(b, bad_line);
			return 1;
		}
		ssize_t w = send(b->sp, buf_data(&c->in), room, MSG_NOSIGNAL);
		if (w > 0) {
			/* Each byte is looked at once, as it goes. */
			if (b->phase == PHASE_HEADER)
				scan_header(b, buf_data(&c->in), (size_t)w);
			buf_consume(&c->in, (size_t)w);
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		/* The daemon is gone: nothing more will be answered. */
		buf_consume(&c->in, buf_len(&c->in));
		return 1;
	}
	return 1;
}

/*
 * Between requests on the HTTPS listener: is this one for http_push?
 * Its bytes stay in c->in (not sent to the daemon) while it may be: they
 * start like "GET /jmap/" and the header is not complete yet. 1 while
 * held, 2 when taken over, 0 for the daemon.
 */
static int push_check(struct bridge *b)
{
	static const char pfx[] = "GET /jmap/";
	struct conn *c = b->c;
	const char *d = buf_data(&c->in);
	size_t n = buf_len(&c->in), m = n < sizeof pfx - 1 ? n : sizeof pfx - 1;
	unsigned line = HTTP_HEADER_START;
	struct http_head h;

	if (b->phase != PHASE_HEADER || memcmp(d, pfx, m) != 0 || n > HOLD_MAX)
		return 0;
	/* Plain HTTP carries them when it is all there is, or from a proxy
	 * that ended the client's TLS (it says https); else the daemon
	 * redirects them to HTTPS. */
	if (!b->https && http_https_port() && !b->proxy)
		return 0;
	long end = http_header_end(&line, d, n);
	if (end < 0)
		return 1;
	if (http_head_parse(d, (size_t)end, &h) < 0 || !http_push_wants(&h))
		return 0;
	struct forwarded_origin o;
	if (!b->https && http_https_port() &&
	    (!http_push_origin(b->c->peer_ip, &h, &o) || o.https != 1))
		return 0;
	/* Ours: the daemon sees its end close (it answered every earlier
	 * request, or the client would not have sent this one). */
	sp_close(b);
	if (b->timer)
		loop_timer_del(b->loop, b->timer);
	b->timer = 0;
	/* Consumed first: what follows the header is the push session's
	 * (WebSocket frames). h's slices stay readable during the call:
	 * consuming only moves an offset, and nothing reads into c->in. */
	buf_consume(&c->in, (size_t)end);
	b->push = http_push_start(c, &h);
	return 2;
}

static void bridge_data(struct conn *c, void *arg)
{
	struct bridge *b = arg;
	if (b->push) {
		http_push_data(b->push);
		return;
	}
	if (b->sp >= 0 && push_check(b))
		return;
	if (b->sp < 0) {
		buf_consume(&c->in, buf_len(&c->in));
		return;
	}
	if (!push_request(b)) {
		conn_pause_read(c, 1);
		sp_interest(b, b->sp_want | LOOP_WRITE);
	}
}

static void bridge_drained(struct conn *c, void *arg)
{
	struct bridge *b = arg;
	(void)c;
	if (b->push)
		http_push_drained(b->push);
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
				if (loop_draining && b->phase == PHASE_REQUEST)
					shutdown(b->sp, SHUT_WR);
				/* An answer: the next request's header is due. */
				deadline_set(b, PHASE_HEADER);
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
	deadline_set(b, PHASE_HEADER);

	struct MHD_Daemon *d = http_daemon(b->https);
	if (!d || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("http", NULL, "event=bridge_failed error=\"%s\"",
			 d ? strerror(errno) : "no daemon");
		conn_close(b->c, "bridge_failed");
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl = peer_sockaddr(b->c, &ss);
	pthread_mutex_lock(&add_lock);
	enum MHD_Result ok = MHD_add_connection(d, sp[1], sl ? (struct sockaddr *)&ss : NULL, sl);
	pthread_mutex_unlock(&add_lock);
	if (ok != MHD_YES) {
		/* MHD closed sp[1] already. */
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
		} else if (b->phase == PHASE_HEADER) {
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
