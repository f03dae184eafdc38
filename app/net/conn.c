/*
 * conn.c — connection I/O. See conn.h.
 *
 * Every socket event runs conn_io(): pump bytes (through BearSSL when TLS is
 * on: net/tls_pump.h, the pump outgoing connections share), hand new
 * plaintext to the session, pump again to send what the session wrote,
 * then recompute the epoll interest set. Destruction is deferred while a
 * callback is on the stack (busy_ > 0).
 *
 * A loop holds its info log lines back and writes them once per iteration
 * (log_defer); before bytes go to a peer or its socket closes, what is held
 * is written first, so whatever a client sees has its log line already
 * (fail2ban and the tests read the log after the reply). The cost is one
 * write of the log per reply that logged something, none otherwise.
 */
#include "net/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
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
#include "net/conn_deflate.h"
#include "net/listener.h"
#include "net/tls.h"
#include "net/tls_pump.h"

#define IO_CHUNK 16384
#define CLOSE_GRACE_MS 5000

/*
 * After a callback into the session: if an allocation on this thread drew
 * the memory reserve meanwhile, this session ends with its temporary error
 * (core/xalloc.c), so what it holds is freed and the process goes on.
 */
static void check_reserve(struct conn *c)
{
	if (!mem_reserve_drawn())
		return;
	log_error("net", NULL, "event=session_ended reason=out_of_memory peer=%s", c->peer_ip);
	if (c->dead_)
		return;
	if (c->ops_->oom_goodbye && !c->close_after_flush_)
		(void)conn_write(c, c->ops_->oom_goodbye, strlen(c->ops_->oom_goodbye));
	buf_reset(&c->in);
	conn_pause_read(c, 1);
	conn_close_after_flush(c, "out_of_memory");
}

static void conn_io(struct loop *loop, int fd, unsigned events, void *arg);
static void conn_settle(struct conn *c);

/* The buffers the transport (socket or TLS) reads into and sends from:
 * the session's own, or the deflate layer's once COMPRESS is on. */
static struct buf *tin(struct conn *c)
{
	return c->z ? conn_deflate_rbuf(c->z) : &c->in;
}

static struct buf *tout(struct conn *c)
{
	return c->z ? conn_deflate_wbuf(c->z) : &c->out;
}

static int tls_begin(struct conn *c)
{
	struct tls_conf *conf = tls_current();
	if (!conf)
		return -1;
	c->tls = xmalloc(sizeof(*c->tls));
	int r = tls_server_init(c->tls, conf);
	tls_conf_unref(&conf);
	if (r < 0) {
		free(c->tls);
		c->tls = NULL;
		return -1;
	}
	c->tls_done_ = 0;
	return 0;
}

static void handshake_timeout(struct loop *loop, void *arg)
{
	struct conn *c = arg;
	(void)loop;
	c->handshake_timer_ = 0;
	if (c->dead_ || c->tls_done_)
		return;
	/* Nothing can be said before the handshake ends. */
	log_info("net", NULL, "event=timeout kind=tls_handshake peer=%s", c->peer_ip);
	conn_close(c, "tls_handshake_timeout");
}

/*
 * One bound for every handshake a client owes us: the implicit-TLS ports'
 * and the one after STARTTLS, which otherwise only the login deadline (or
 * ManageSieve's idle time) ended, a slot held for minutes by a peer that
 * sends nothing after "220 Ready to start TLS".
 */
static void handshake_arm(struct conn *c)
{
	c->handshake_timer_ = loop_timer_add(c->loop, CONN_HANDSHAKE_MS, handshake_timeout, c);
}

static void handshake_disarm(struct conn *c)
{
	if (c->handshake_timer_)
		loop_timer_del(c->loop, c->handshake_timer_);
	c->handshake_timer_ = 0;
}

struct conn *conn_new(struct loop *loop, int fd, int tls, size_t in_max, size_t out_max,
		      const struct conn_ops *ops, void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t sl;

	c->fd = fd;
	c->loop = loop;
	buf_init(&c->in, in_max);
	buf_init(&c->out, out_max);
	/* AUTH, LOGIN, PASS and SASL lines arrive here: no copy of them is
	 * left behind when it grows or is freed (the sessions wipe what they
	 * consume of such lines, buf_consume_wipe). */
	buf_set_secret(&c->in);
	c->ops_ = ops;
	c->arg_ = arg;
	/* Fresh from a listener: accept4 already said who the peer is. */
	int one = 1, nodelay = 0;
	sl = sizeof(ss);
	if (listener_accepted_peer(fd, &ss, &sl, &nodelay) == 0 ||
	    getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		c->peer_port = cidr_addr_text((const struct sockaddr *)&ss, c->peer_ip, sizeof(c->peer_ip));
	/* Replies are whole protocol lines written at once; Nagle would only
	 * hold the last one back waiting for an ACK. */
	if (!nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls && tls_begin(c) < 0) {
		close(fd);
		free(c);
		return NULL;
	}
	c->want_ = LOOP_READ;
	if (loop_add_fd(loop, fd, c->want_, conn_io, c) < 0) {
		if (c->tls) {
			tls_server_finish(c->tls);
			free(c->tls);
		}
		close(fd);
		free(c);
		return NULL;
	}
	if (c->tls)
		handshake_arm(c);
	return c;
}

/*
 * on_close runs before the socket is closed: it gives the connection slot
 * back (limits_release), and a client that has seen its EOF and connects
 * again at once must find the slot free. Closed first, a client was told
 * "closed" while its slot was still counted, and a reconnect from an
 * address at its limit could be refused.
 */
static void conn_destroy(struct conn *c)
{
	if (c->close_timer_)
		loop_timer_del(c->loop, c->close_timer_);
	if (c->deadline_timer_)
		loop_timer_del(c->loop, c->deadline_timer_);
	c->close_timer_ = c->deadline_timer_ = 0;
	handshake_disarm(c);
	if (c->ops_->on_close)
		c->ops_->on_close(c, c->arg_, c->close_reason_ ? c->close_reason_ : "closed");
	log_defer_flush(); /* the session's last lines before the peer's EOF */
	loop_close_fd(c->loop, c->fd);
	if (c->tls) {
		tls_server_finish(c->tls);
		free(c->tls);
	}
	conn_deflate_free(&c->z);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void mark_dead(struct conn *c, const char *reason)
{
	if (c->dead_)
		return;
	c->dead_ = 1;
	c->close_reason_ = reason;
}

enum { PUMP_GOT_DATA = 1 };

/* Plaintext: read what fits, write what is queued. */
static int pump_plain(struct conn *c, unsigned events)
{
	int flags = 0;
	struct buf *in = tin(c), *out = tout(c);

	if ((events & LOOP_READ) && !c->paused_ && !c->eof_ && buf_room(in) > 0) {
		/* Ask for a whole chunk so the buffer grows to a useful size
		 * at once instead of reading a few hundred bytes per call. */
		size_t avail, want = buf_room(in) < IO_CHUNK ? buf_room(in) : IO_CHUNK;
		char *dst = buf_reserve(in, want, &avail);
		if (!dst) {
			/* No memory for this connection's input: it ends, the
			 * process does not. */
			mark_dead(c, "out_of_memory");
			return flags;
		}
		if (avail > IO_CHUNK)
			avail = IO_CHUNK;
		ssize_t r = read(c->fd, dst, avail);
		if (r > 0) {
			buf_commit(in, (size_t)r);
			c->bytes_in += (uint64_t)r;
			flags |= PUMP_GOT_DATA;
		} else if (r == 0) {
			c->eof_ = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			mark_dead(c, "read_error");
		}
	}
	if (!c->dead_ && buf_len(out) > 0)
		log_defer_flush(); /* the log says it before the peer hears it */
	while (!c->dead_ && buf_len(out) > 0) {
		ssize_t w = write(c->fd, buf_data(out), buf_len(out));
		if (w > 0) {
			buf_consume(out, (size_t)w);
			c->bytes_out += (uint64_t)w;
			c->out_taken += (uint64_t)w;
		} else {
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				mark_dead(c, "write_error");
			break;
		}
	}
	return flags;
}

/* TLS: the pump (net/tls_pump.h) between the socket and the transport's
 * buffers; what it reports becomes this connection's state. */
static int pump_tls(struct conn *c, unsigned events)
{
	struct tls_pump p = {
	    .eng = tls_server_engine(c->tls),
	    .fd = c->fd,
	    .in = tin(c),
	    .out = tout(c),
	    .hold_in = c->paused_,
	    .before_write = log_defer_flush, /* the log says it before the peer hears it */
	    .eof = c->eof_,
	    .done = c->tls_done_,
	};
	int r = tls_pump_run(&p, (events & LOOP_READ) != 0);

	c->eof_ = p.eof;
	c->tls_done_ = p.done;
	c->bytes_in += p.bytes_in;
	c->bytes_out += p.bytes_out;
	c->out_taken += p.out_taken;
	if (r & TLS_PUMP_NOW_DONE)
		handshake_disarm(c);
	if (p.closed && p.err != BR_ERR_OK) {
		char why[64];
		log_info("net", NULL, "event=tls_failed peer=%s error=%s handshake=%s", c->peer_ip,
			 tls_error_text(p.err, why, sizeof(why)), c->tls_done_ ? "done" : "incomplete");
		mark_dead(c, c->tls_done_ ? "tls_error" : "tls_handshake_failed");
	} else if (p.closed) {
		mark_dead(c, c->close_after_flush_ ? c->close_reason_ : "tls_closed");
	} else if (p.dead) {
		mark_dead(c, p.dead);
	}
	return r & TLS_PUMP_GOT_DATA ? PUMP_GOT_DATA : 0;
}

static int pump_transport(struct conn *c, unsigned events)
{
	int flags;

	if (!c->tls) {
		flags = pump_plain(c, events);
		if (c->starttls_pending_ && !c->dead_ && buf_len(&c->out) == 0) {
			/* The 220 went out in plaintext; everything after is TLS.
			 * Pipelined plaintext must not survive the switch. */
			c->starttls_pending_ = 0;
			buf_reset(&c->in);
			flags &= ~PUMP_GOT_DATA;
			if (tls_begin(c) < 0) {
				mark_dead(c, "tls_unavailable");
			} else {
				handshake_arm(c);
				flags |= pump_tls(c, events);
			}
		}
		return flags;
	}
	return pump_tls(c, events);
}

/*
 * With COMPRESS: deflate the session's output, move bytes, inflate what
 * came, and again while the transport takes more of a long output (the
 * layer's buffers are smaller than the session's). PUMP_GOT_DATA then
 * means new plaintext in c->in, not compressed bytes in the layer.
 */
static int pump_deflate(struct conn *c, unsigned events)
{
	int flags = 0;

	for (int round = 0; !c->dead_ && round < 64; round++) {
		if (conn_deflate_out(c->z, &c->out) < 0) {
			mark_dead(c, "compress_error");
			break;
		}
		size_t queued = buf_len(tout(c));
		pump_transport(c, round ? LOOP_WRITE : events);
		if (c->dead_)
			break;
		if (!c->paused_) {
			int r = conn_deflate_in(c->z, &c->in);
			if (r < 0) {
				log_info("net", NULL, "event=inflate_failed peer=%s", c->peer_ip);
				mark_dead(c, "compress_error");
				break;
			}
			if (r > 0)
				flags |= PUMP_GOT_DATA;
		}
		/* Another round only while output waits to be compressed and
		 * the transport took some of what was (it did not block). */
		if ((buf_len(&c->out) == 0 && !conn_deflate_pending(c->z)) ||
		    buf_len(tout(c)) >= queued)
			break;
	}
	return flags;
}

static int pump(struct conn *c, unsigned events)
{
	if (c->dead_)
		return 0;
	return c->z ? pump_deflate(c, events) : pump_transport(c, events);
}

/* Bytes still waiting to go to the socket (queued or inside the engine). */
static int output_pending(struct conn *c)
{
	if (buf_len(&c->out) > 0 || (c->z && conn_deflate_pending(c->z)))
		return 1;
	if (c->tls) {
		unsigned st = br_ssl_engine_current_state(tls_server_engine(c->tls));
		return st != BR_SSL_CLOSED && (st & BR_SSL_SENDREC);
	}
	return 0;
}

int conn_output_pending(struct conn *c)
{
	return !c->dead_ && output_pending(c);
}

/* Linux's struct tcp_info (linux/tcp.h, an ABI): tcpi_bytes_acked, a u64
 * since Linux 4.1, lies at this offset. glibc's <netinet/tcp.h> (the
 * sanitizer builds) stops before it, musl's has it. */
#define TCPI_BYTES_ACKED_AT 120
#ifndef __GLIBC__
_Static_assert(offsetof(struct tcp_info, tcpi_bytes_acked) == TCPI_BYTES_ACKED_AT,
	       "struct tcp_info: tcpi_bytes_acked moved");
#endif

int conn_socket_output(const struct conn *c, uint64_t *acked_r, size_t *queued_r)
{
	unsigned char ti[256];
	socklen_t len = sizeof(ti);
	int queued = 0;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0 ||
	    len < TCPI_BYTES_ACKED_AT + sizeof(uint64_t) ||
	    /* SIOCOUTQ, which is TIOCOUTQ's number (musl has no linux/) */
	    ioctl(c->fd, TIOCOUTQ, &queued) < 0 || queued < 0)
		return -1;
	memcpy(acked_r, ti + TCPI_BYTES_ACKED_AT, sizeof(*acked_r));
	*queued_r = (size_t)queued;
	return 0;
}

/*
 * Whether waiting for the socket to become writable makes sense: plaintext
 * with bytes queued, or an engine with a record to send. Application bytes
 * queued while the TLS handshake is still running cannot move until the
 * peer speaks, so they must not make us poll for writability (that spins).
 */
static int socket_write_wanted(struct conn *c)
{
	/* With COMPRESS, output the session added after the last pass is
	 * still plaintext: the write event's pass compresses it. */
	int queued = buf_len(tout(c)) > 0 ||
		     (c->z && (buf_len(&c->out) > 0 || conn_deflate_pending(c->z)));
	if (!c->tls)
		return queued;
	unsigned st = br_ssl_engine_current_state(tls_server_engine(c->tls));
	if (st == BR_SSL_CLOSED)
		return 0;
	return (st & BR_SSL_SENDREC) || (queued && (st & BR_SSL_SENDAPP));
}

static void conn_settle(struct conn *c)
{
	if (c->busy_ > 0)
		return;
	if (!c->dead_ && c->close_after_flush_ && !output_pending(c)) {
		if (c->tls && !c->closing_) {
			/* Send close_notify, then close once it has left. */
			c->closing_ = 1;
			br_ssl_engine_close(tls_server_engine(c->tls));
			pump(c, 0);
			if (!c->dead_ && output_pending(c))
				goto interest;
		}
		mark_dead(c, c->close_reason_);
	}
	if (!c->dead_ && c->eof_ && !c->paused_ && !output_pending(c)) {
		/* The peer stopped sending and every answer has left (a session
		 * waiting for the store keeps the conn until it replied). */
		mark_dead(c, c->close_after_flush_ ? c->close_reason_ : "peer_closed");
	}
	if (c->dead_) {
		conn_destroy(c);
		return;
	}
interest:;
	unsigned want = 0;
	if (!c->paused_ && !c->eof_ && buf_room(tin(c)) > 0 && !c->closing_)
		want |= LOOP_READ;
	if (socket_write_wanted(c))
		want |= LOOP_WRITE;
	if (c->tls) {
		/* The engine may need to read (handshake, or to make room) even
		 * while the session does not want input. */
		unsigned st = br_ssl_engine_current_state(tls_server_engine(c->tls));
		if ((st & BR_SSL_RECVREC) && !c->eof_ && !c->paused_)
			want |= LOOP_READ;
	}
	/*
	 * Lazy pause: a session pauses input while it waits for the store,
	 * and a lock-step client sends nothing until it has the reply, so
	 * READ stays armed until input actually arrives during the pause.
	 * That saves two epoll_ctl calls per stored message.
	 */
	if (c->paused_ && !c->read_while_paused_ && (c->want_ & LOOP_READ) && !c->eof_ &&
	    !c->closing_ && buf_room(tin(c)) > 0)
		want |= LOOP_READ;
	if (c->hup_ && !want) {
		/* A hang-up is reported whatever the interest set says, as
		 * long as the fd is in it: a paused session's conn would wake
		 * the loop without end until its job ended. It leaves the set
		 * until it wants something again. */
		if (!c->parked_)
			loop_del_fd(c->loop, c->fd);
		c->parked_ = 1;
		c->want_ = 0;
		return;
	}
	if (c->parked_) {
		/* Back (a session resumed): the first event reads the end. */
		c->parked_ = 0;
		c->want_ = want;
		if (loop_add_fd(c->loop, c->fd, want, conn_io, c) < 0) {
			mark_dead(c, "peer_closed");
			conn_destroy(c);
		}
		return;
	}
	if (want != c->want_) {
		c->want_ = want;
		loop_mod_fd(c->loop, c->fd, want);
	}
}

static void conn_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	int flags;

	c->busy_++;
	if (events & LOOP_HUP)
		c->hup_ = 1;
	if (c->paused_ && (events & LOOP_READ)) {
		/* Input during a (lazy) pause: leave it in the socket, where
		 * the next READ event announces it, and disarm READ (settle).
		 * Read into the TLS engine it would sit there unannounced. */
		c->read_while_paused_ = 1;
		events &= ~(unsigned)LOOP_READ;
	}
	flags = pump(c, events);
	if (!c->dead_ && (flags & PUMP_GOT_DATA) && c->ops_->on_data)
		c->ops_->on_data(c, c->arg_);
	for (;;) {
		/* The write pass may move input the TLS engine already
		 * decrypted into c->in (the session just made room); no socket
		 * event will announce it, so hand it over now. Ends: each round
		 * needs room in c->in and bytes the engine holds, and a paused
		 * session takes none. */
		while (!c->dead_ && (pump(c, LOOP_WRITE) & PUMP_GOT_DATA) && c->ops_->on_data)
			c->ops_->on_data(c, c->arg_);
		if (c->dead_ || output_pending(c) || !c->ops_->on_drained)
			break;
		unsigned was_paused = c->paused_;
		c->ops_->on_drained(c, c->arg_);
		/* A session that resumed here may find input the engine holds
		 * from before its pause: one more pass hands it over. */
		if (c->dead_ || (!c->tls && !c->z) || !was_paused || c->paused_)
			break;
	}
	check_reserve(c);
	c->busy_--;
	conn_settle(c);
}

int conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->dead_ || c->close_after_flush_)
		return -1;
	return buf_append(&c->out, p, n);
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->dead_ || c->close_after_flush_)
		return -1;
	va_start(ap, fmt);
	r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	return r;
}

void conn_flush(struct conn *c)
{
	if (c->busy_ > 0)
		return; /* inside a callback: conn_io pumps when it returns */
	/* A full pass: sending may let the TLS engine hand over input it
	 * already holds (pipelined behind what the session waited for), and
	 * no socket event will announce those bytes. */
	conn_io(c->loop, c->fd, LOOP_WRITE, c);
}

void conn_hold(struct conn *c)
{
	c->busy_++;
}

void conn_release(struct conn *c)
{
	check_reserve(c);
	c->busy_--;
	conn_flush(c);
}

int conn_starttls(struct conn *c)
{
	if (c->tls || c->starttls_pending_)
		return -1;
	struct tls_conf *conf = tls_current();
	if (!conf)
		return -1;
	tls_conf_unref(&conf);
	c->starttls_pending_ = 1;
	return 0;
}

int conn_compress(struct conn *c)
{
	if (c->z || c->dead_)
		return -1;
	c->z = conn_deflate_new();
	if (!c->z)
		return -1;
	conn_deflate_raw(c->z, buf_len(&c->out));
	/* Sent behind the command: compressed already (and at most what
	 * c->in holds, which is what the layer's buffer holds). */
	struct buf *rb = conn_deflate_rbuf(c->z);
	size_t n = buf_len(&c->in) < buf_room(rb) ? buf_len(&c->in) : buf_room(rb);
	if (n && buf_append(rb, buf_data(&c->in), n) < 0)
		n = 0;
	buf_reset(&c->in);
	return 0;
}

int conn_tls_established(const struct conn *c)
{
	return c->tls && c->tls_done_;
}

const char *conn_tls_version(const struct conn *c)
{
	return conn_tls_established(c) ? tls_server_version(c->tls) : NULL;
}

const char *conn_tls_cipher(const struct conn *c)
{
	return conn_tls_established(c) ? tls_server_cipher(c->tls) : NULL;
}

int conn_tls_bits(const struct conn *c)
{
	return conn_tls_established(c) ? tls_server_cipher_bits(c->tls) : 0;
}

void conn_pause_read(struct conn *c, int pause)
{
	if (c->paused_ == (unsigned)!!pause)
		return;
	c->paused_ = !!pause;
	c->read_while_paused_ = 0;
	/* Resuming with READ still armed (the lazy pause above) changes
	 * nothing the kernel needs to know; the caller's conn_flush writes
	 * its reply. Settling here would ask for EPOLLOUT first. */
	if (c->busy_ == 0 && (pause || !(c->want_ & LOOP_READ)))
		conn_settle(c);
}

static void close_timeout(struct loop *loop, void *arg)
{
	struct conn *c = arg;
	c->close_timer_ = 0;
	mark_dead(c, c->close_reason_);
	if (c->busy_ == 0)
		conn_destroy(c);
}

void conn_close_after_flush(struct conn *c, const char *reason)
{
	if (c->dead_ || c->close_after_flush_)
		return;
	c->close_after_flush_ = 1;
	c->close_reason_ = reason;
	c->close_timer_ = loop_timer_add(c->loop, CLOSE_GRACE_MS, close_timeout, c);
	if (c->busy_ == 0)
		conn_settle(c);
}

static void deadline_passed(struct loop *loop, void *arg)
{
	struct conn *c = arg;
	(void)loop;
	c->deadline_timer_ = 0;
	if (c->dead_ || c->close_after_flush_)
		return;
	if (c->tls && !conn_tls_established(c)) {
		/* Nothing can be said before the handshake ends. */
		conn_close(c, c->deadline_reason_);
		return;
	}
	conn_hold(c);
	if (c->deadline_bye_)
		conn_write(c, c->deadline_bye_, strlen(c->deadline_bye_));
	conn_close_after_flush(c, c->deadline_reason_);
	conn_release(c);
}

void conn_deadline(struct conn *c, uint64_t ms, const char *goodbye, const char *reason)
{
	if (c->deadline_timer_)
		loop_timer_del(c->loop, c->deadline_timer_);
	c->deadline_timer_ = 0;
	if (!ms || c->dead_)
		return;
	c->deadline_bye_ = goodbye;
	c->deadline_reason_ = reason;
	c->deadline_timer_ = loop_timer_add(c->loop, ms, deadline_passed, c);
}

void conn_close(struct conn *c, const char *reason)
{
	mark_dead(c, reason);
	if (c->busy_ == 0)
		conn_destroy(c);
}
