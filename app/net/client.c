/*
 * client.c — outgoing connections. See client.h.
 *
 * As net/conn.c for the server side: each socket event runs client_io(),
 * which pumps (TLS through net/tls_pump.h, with a client engine), hands
 * new plaintext to the protocol, pumps again and recomputes the epoll
 * interest.
 */
#include "net/client.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/anchors.h"
#include "net/tls_client.h"
#include "net/tls_pump.h"
#include "tlspol/dane.h"

#define IO_CHUNK 16384

/* An X.509 "validator" that accepts any chain: opportunistic TLS. */
struct x509_any {
	const br_x509_class *vtable;
	br_x509_decoder_context dec;
	unsigned depth;
	int ok;
};

struct client_tls {
	br_ssl_client_context cc;
	br_x509_minimal_context xm; /* required by init_full, replaced by xa */
	struct x509_any xa;
	struct dane_x509 *dane; /* DANE's engine (client_start_tls_dane), else NULL */
	struct tls_client_id id; /* an address's check (tls_client_reset) */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static void xa_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	(void)server_name;
	xa->depth = 0;
	xa->ok = 0;
}

static void xa_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	(void)length;
	if (xa->depth == 0)
		br_x509_decoder_init(&xa->dec, NULL, NULL);
}

static void xa_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	if (xa->depth == 0)
		br_x509_decoder_push(&xa->dec, buf, len);
}

static void xa_end_cert(const br_x509_class **ctx)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	if (xa->depth == 0)
		xa->ok = br_x509_decoder_last_error(&xa->dec) == 0 &&
			 br_x509_decoder_get_pkey(&xa->dec) != NULL;
	xa->depth++;
}

static unsigned xa_end_chain(const br_x509_class **ctx)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	return xa->ok ? 0 : BR_ERR_X509_BAD_SERVER_NAME;
}

static const br_x509_pkey *xa_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct x509_any *xa = (struct x509_any *)(void *)ctx;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&xa->dec);
}

static const br_x509_class x509_any_class = {
    sizeof(struct x509_any), xa_start_chain, xa_start_cert, xa_append,
    xa_end_cert,             xa_end_chain,   xa_get_pkey,
};

static void client_io(struct loop *loop, int fd, unsigned events, void *arg);

static void mark_dead(struct client *c, const char *reason)
{
	if (!c->dead_) {
		c->dead_ = 1;
		c->reason_ = reason;
	}
}

static void destroy(struct client *c)
{
	loop_del_fd(c->loop, c->fd);
	close(c->fd);
	if (c->ops_->on_close)
		c->ops_->on_close(c, c->arg_, c->reason_ ? c->reason_ : "closed");
	if (c->tls_) {
		explicit_bzero(&c->tls_->cc, sizeof c->tls_->cc);
		free(c->tls_->dane);
		tls_client_id_free(&c->tls_->id);
		free(c->tls_);
	}
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

struct client *client_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
			      size_t in_max, size_t out_max, const struct client_ops *ops,
			      void *arg)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	struct client *c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->loop = loop;
	buf_init(&c->in, in_max);
	buf_init(&c->out, out_max);
	/* The relay's AUTH line is written here (queue/smtp_client.c). */
	buf_set_secret(&c->out);
	c->ops_ = ops;
	c->arg_ = arg;
	c->connecting_ = 1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s->sin_addr, c->peer_ip, sizeof c->peer_ip);
		c->peer_port = ntohs(s->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, c->peer_ip, sizeof c->peer_ip);
		c->peer_port = ntohs(s->sin6_port);
	}
	c->want_ = LOOP_WRITE;
	if (loop_add_fd(loop, fd, c->want_, client_io, c) < 0) {
		int e = errno;
		close(fd);
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

static int start_tls(struct client *c, const char *server_name, const char *also_name, int verify,
		     int strict, const struct tlsa_rec *tlsa, size_t ntlsa)
{
	unsigned char seed[32];

	if (c->tls_)
		return -1;
	if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
		return -1;
	struct client_tls *t = xcalloc(1, sizeof *t);
	if (tlsa) {
		/* DANE: the server's TLSA records decide, not the roots. */
		br_ssl_client_init_full(&t->cc, &t->xm, NULL, 0);
		t->dane = xmalloc(sizeof *t->dane);
		dane_x509_init(t->dane, tlsa, ntlsa, server_name);
		dane_x509_also_name(t->dane, also_name);
		br_ssl_engine_set_x509(&t->cc.eng, &t->dane->vtable);
	} else if (verify) {
		/* BearSSL's minimal validator over the built-in roots and
		 * TERN_TLS_CA_FILE's; it checks the name against the SAN. */
		size_t n;
		const br_x509_trust_anchor *ta = anchors_get(&n);
		br_ssl_client_init_full(&t->cc, &t->xm, ta, n);
	} else {
		br_ssl_client_init_full(&t->cc, &t->xm, NULL, 0);
		t->xa.vtable = &x509_any_class;
		br_ssl_engine_set_x509(&t->cc.eng, &t->xa.vtable);
	}
	tls_client_profile(&t->cc.eng, strict ? TLS_CLIENT_STRICT : TLS_CLIENT_WIDE);
	/* A renegotiation would run the X.509 engine again, after the
	 * first handshake's checks were made: for a kept DANE session,
	 * against TLSA records its first job owned and has freed. The
	 * server side refuses it too (tls.c); peers have no use for it. */
	br_ssl_engine_add_flags(&t->cc.eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(&t->cc.eng, t->iobuf, sizeof t->iobuf, 1);
	br_ssl_engine_inject_entropy(&t->cc.eng, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
	/* SNI for a name; an address is checked against the certificate's
	 * iPAddress instead when the chain is verified with the roots. */
	if (!tls_client_reset(&t->cc, &t->id, server_name, verify && !tlsa)) {
		free(t->dane);
		free(t);
		return -1;
	}
	buf_reset(&c->in);
	c->tls_ = t;
	c->tls_done_ = 0;
	if (c->busy_ == 0)
		client_flush(c);
	return 0;
}

int client_start_tls(struct client *c, const char *server_name, int strict)
{
	return start_tls(c, server_name, NULL, 0, strict, NULL, 0);
}

int client_start_tls_dane(struct client *c, const char *server_name, const char *also_name,
			  const struct tlsa_rec *tlsa, size_t n)
{
	return start_tls(c, server_name, also_name, 1, 1, tlsa, n);
}

int client_start_tls_verified(struct client *c, const char *server_name, int strict)
{
	return start_tls(c, server_name, NULL, 1, strict, NULL, 0);
}

int client_tls_error(const struct client *c)
{
	return c->tls_ ? br_ssl_engine_last_error(&c->tls_->cc.eng) : 0;
}

const char *client_tls_error_text(int err)
{
	switch (err) {
	case 0:
		return "no TLS error";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate not issued for that name";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate not signed by a trusted authority";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "certificate dates cannot be checked (no clock)";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "no certificate sent";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate chain signature does not verify";
	case BR_ERR_X509_NOT_CA:
		return "certificate chain contains a non-CA issuer";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate key too weak";
	case BR_ERR_INVALID_ALGORITHM:
		return "server signed the key exchange with a refused hash (SHA-1)";
	case BR_ERR_RECV_FATAL_ALERT + 40:
		return "server refused the handshake (no cipher suite or signature hash in common)";
	case DANE_ERR_NO_MATCH:
		return "no TLSA record matches the certificate chain (DANE)";
	default:
		return err > BR_ERR_X509_OK && err < BR_ERR_X509_OK + 64 ? "certificate refused"
		                                                          : "TLS protocol error";
	}
}

int client_tls_established(const struct client *c)
{
	return c->tls_ && c->tls_done_;
}

enum { GOT_DATA = 1, TLS_NOW_DONE = 2 };

static int pump_plain(struct client *c, unsigned events)
{
	int flags = 0;

	if ((events & (LOOP_READ | LOOP_HUP)) && !c->eof_ && buf_room(&c->in) > 0) {
		size_t avail;
		size_t want = buf_room(&c->in) < IO_CHUNK ? buf_room(&c->in) : IO_CHUNK;
		char *dst = buf_reserve(&c->in, want, &avail);
		if (!dst) {
			mark_dead(c, "out_of_memory");
			return flags;
		}
		if (avail > want)
			avail = want;
		ssize_t r = read(c->fd, dst, avail);
		if (r > 0) {
			buf_commit(&c->in, (size_t)r);
			flags |= GOT_DATA;
		} else if (r == 0) {
			c->eof_ = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			mark_dead(c, "read_error");
		}
	}
	while (!c->dead_ && buf_len(&c->out) > 0) {
		ssize_t w = write(c->fd, buf_data(&c->out), buf_len(&c->out));
		if (w > 0) {
			buf_consume(&c->out, (size_t)w);
		} else {
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				mark_dead(c, "write_error");
			break;
		}
	}
	return flags;
}

/* TLS: the pump (net/tls_pump.h) between the socket and c's buffers. */
static int pump_tls(struct client *c, unsigned events)
{
	struct tls_pump p = {
	    .eng = &c->tls_->cc.eng,
	    .fd = c->fd,
	    .in = &c->in,
	    .out = &c->out,
	    .eof = c->eof_,
	    .done = c->tls_done_,
	};
	int r = tls_pump_run(&p, (events & (LOOP_READ | LOOP_HUP)) != 0);

	c->eof_ = p.eof;
	c->tls_done_ = p.done;
	if (p.closed && p.err != BR_ERR_OK) {
		log_info("net", NULL, "event=tls_client_failed peer=%s error=%d handshake=%s",
			 c->peer_ip, p.err, c->tls_done_ ? "done" : "incomplete");
		mark_dead(c, c->tls_done_ ? "tls_error" : "tls_handshake_failed");
	} else if (p.closed) {
		mark_dead(c, c->close_after_flush_ ? c->reason_ : "tls_closed");
	} else if (p.dead) {
		mark_dead(c, p.dead);
	}
	return (r & TLS_PUMP_GOT_DATA ? GOT_DATA : 0) | (r & TLS_PUMP_NOW_DONE ? TLS_NOW_DONE : 0);
}

static int pump(struct client *c, unsigned events)
{
	if (c->dead_)
		return 0;
	return c->tls_ ? pump_tls(c, events) : pump_plain(c, events);
}

static int output_pending(struct client *c)
{
	if (buf_len(&c->out) > 0)
		return 1;
	if (c->tls_) {
		unsigned st = br_ssl_engine_current_state(&c->tls_->cc.eng);
		return st != BR_SSL_CLOSED && (st & BR_SSL_SENDREC);
	}
	return 0;
}

static void settle(struct client *c)
{
	if (c->busy_ > 0)
		return;
	if (!c->dead_ && c->close_after_flush_ && !output_pending(c)) {
		if (c->tls_ && br_ssl_engine_current_state(&c->tls_->cc.eng) != BR_SSL_CLOSED &&
		    c->tls_done_) {
			br_ssl_engine_close(&c->tls_->cc.eng);
			pump(c, 0);
		}
		mark_dead(c, c->reason_);
	}
	if (!c->dead_ && c->eof_ && !output_pending(c))
		mark_dead(c, c->close_after_flush_ ? c->reason_ : "peer_closed");
	if (c->dead_) {
		destroy(c);
		return;
	}
	unsigned want = 0;
	if (c->connecting_) {
		want = LOOP_WRITE;
	} else {
		if (!c->eof_ && buf_room(&c->in) > 0)
			want |= LOOP_READ;
		if (c->tls_) {
			unsigned st = br_ssl_engine_current_state(&c->tls_->cc.eng);
			if (st & BR_SSL_SENDREC)
				want |= LOOP_WRITE;
			if ((st & BR_SSL_RECVREC) && !c->eof_)
				want |= LOOP_READ;
		} else if (buf_len(&c->out) > 0) {
			want |= LOOP_WRITE;
		}
	}
	if (want != c->want_) {
		c->want_ = want;
		loop_mod_fd(c->loop, c->fd, want);
	}
}

static void client_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct client *c = arg;
	(void)loop;
	(void)fd;

	c->busy_++;
	if (c->connecting_) {
		int err = 0;
		socklen_t el = sizeof err;
		if (!(events & (LOOP_WRITE | LOOP_HUP)))
			goto out;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			mark_dead(c, err == ECONNREFUSED ? "connection_refused" : "connect_failed");
			goto out;
		}
		c->connecting_ = 0;
		if (c->ops_->on_connected)
			c->ops_->on_connected(c, c->arg_);
		events = LOOP_WRITE;
	}
	int flags = pump(c, events);
	if (!c->dead_ && (flags & TLS_NOW_DONE) && c->ops_->on_tls)
		c->ops_->on_tls(c, c->arg_);
	if (!c->dead_ && (flags & GOT_DATA) && c->ops_->on_data)
		c->ops_->on_data(c, c->arg_);
	if (!c->dead_)
		flags = pump(c, LOOP_WRITE);
	if (!c->dead_ && (flags & TLS_NOW_DONE) && c->ops_->on_tls)
		c->ops_->on_tls(c, c->arg_);
	if (!c->dead_ && (flags & GOT_DATA) && c->ops_->on_data)
		c->ops_->on_data(c, c->arg_);
	if (!c->dead_ && !output_pending(c) && c->ops_->on_drained)
		c->ops_->on_drained(c, c->arg_);
out:
	c->busy_--;
	settle(c);
}

int client_write(struct client *c, const void *p, size_t n)
{
	if (c->dead_ || c->close_after_flush_)
		return -1;
	return buf_append(&c->out, p, n);
}

void client_flush(struct client *c)
{
	if (c->busy_ > 0 || c->connecting_)
		return;
	client_io(c->loop, c->fd, LOOP_WRITE, c);
}

void client_close_after_flush(struct client *c, const char *reason)
{
	if (c->dead_ || c->close_after_flush_)
		return;
	c->close_after_flush_ = 1;
	c->reason_ = reason;
	if (c->busy_ == 0)
		settle(c);
}

void client_close(struct client *c, const char *reason)
{
	mark_dead(c, reason);
	if (c->busy_ == 0)
		destroy(c);
}
