/*
 * cli_client.c — the blocking client connection of cli_client.h.
 *
 * BearSSL's sslio wrappers drive the engine over the blocking socket; the
 * X.509 "minimal" engine checks the chain against the trust anchors, and
 * tls_client_reset() the identity: a host name as SNI and dNSName, an
 * address literal as an iPAddress with no SNI (net/tls_client.h). Reads are
 * buffered here so callers can take a byte at a time.
 */
#include "cli/cli_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>

#include "backup/imap_resp.h"
#include "core/buf.h"
#include "net/anchors.h"
#include "net/client.h"
#include "net/tls_client.h"

struct cli_client {
	int fd, tls;
	char host[256];
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	struct tls_client_id id;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	char rbuf[16384];
	size_t roff, rlen;
};

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = write(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

struct cli_client *cli_client_connect(const char *host, const char *port, int tls, char *err,
                                      size_t errsz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
	if (strlen(host) >= sizeof ((struct cli_client *)0)->host) {
		snprintf(err, errsz, "host name too long");
		return NULL;
	}
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	int fd = -1, saved = 0;
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(err, errsz, "cannot connect to %s:%s: %s", host, port, strerror(saved));
		return NULL;
	}
	struct cli_client *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->fd = fd;
	snprintf(c->host, sizeof c->host, "%s", host);
	if (tls && cli_client_starttls(c, err, errsz) != 0) {
		cli_client_close(&c);
		return NULL;
	}
	return c;
}

int cli_client_starttls(struct cli_client *c, char *err, size_t errsz)
{
	size_t n;
	unsigned char seed[32];
	const br_x509_trust_anchor *ta = anchors_get(&n);

	if (c->tls || c->roff != c->rlen) {
		/* Bytes the server sent before the handshake could be injected
		 * by anyone on the path (RFC 3207 §4.2's lesson): refuse them. */
		snprintf(err, errsz, "unexpected data before TLS");
		return -1;
	}
	br_ssl_client_init_full(&c->sc, &c->xc, ta, n);
	tls_client_profile(&c->sc.eng, TLS_CLIENT_STRICT);
	br_ssl_engine_set_buffer(&c->sc.eng, c->iobuf, sizeof c->iobuf, 1);
	if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		snprintf(err, errsz, "no random bytes for TLS");
		return -1;
	}
	br_ssl_engine_inject_entropy(&c->sc.eng, seed, sizeof seed);
	if (!tls_client_reset(&c->sc, &c->id, c->host, 1)) {
		snprintf(err, errsz, "TLS setup failed");
		return -1;
	}
	br_sslio_init(&c->io, &c->sc.eng, sock_read, &c->fd, sock_write, &c->fd);
	c->tls = 1;
	return 0;
}

int cli_client_tls(const struct cli_client *c)
{
	return c->tls;
}

int cli_client_write(struct cli_client *c, const char *p, size_t n)
{
	if (c->tls)
		return br_sslio_write_all(&c->io, p, n) == 0 && br_sslio_flush(&c->io) == 0 ? 0 : -1;
	while (n) {
		int w = sock_write(&c->fd, (const unsigned char *)p, n);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cli_client_getc(struct cli_client *c)
{
	if (c->roff == c->rlen) {
		int n = c->tls ? br_sslio_read(&c->io, c->rbuf, sizeof c->rbuf)
		               : sock_read(&c->fd, (unsigned char *)c->rbuf, sizeof c->rbuf);
		if (n <= 0)
			return -1;
		c->roff = 0;
		c->rlen = (size_t)n;
	}
	return (unsigned char)c->rbuf[c->roff++];
}

int cli_client_response(struct cli_client *c, struct buf *out, size_t line_max,
                        uint64_t literal_max)
{
	buf_reset(out);
	for (;;) {
		size_t start = buf_len(out);
		for (;;) {
			int ch = cli_client_getc(c);
			if (ch < 0)
				return -1;
			char b = (char)ch;
			if (buf_append(out, &b, 1) || buf_len(out) - start > line_max)
				return -1;
			if (b == '\n')
				break;
		}
		size_t l = buf_len(out) - start;
		const char *line = buf_data(out) + start;
		size_t ll = l >= 2 && line[l - 2] == '\r' ? l - 2 : l - 1;
		uint64_t n;
		int r = imapr_literal_at_end(line, ll, &n);
		if (r < 0 || (r == 1 && n > literal_max))
			return -1;
		if (r == 0)
			return 0;
		for (uint64_t i = 0; i < n; i++) {
			int ch = cli_client_getc(c);
			char b = (char)ch;
			if (ch < 0 || buf_append(out, &b, 1))
				return -1;
		}
	}
}

int cli_client_quote(const char *s, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz < 3)
		return -1;
	out[o++] = '"';
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || o + 4 > outsz)
			return -1;
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

const char *cli_client_error(const struct cli_client *c)
{
	int e = c->tls ? br_ssl_engine_last_error(&c->sc.eng) : 0;
	return e ? client_tls_error_text(e) : "connection lost";
}

void cli_client_close(struct cli_client **cp)
{
	struct cli_client *c = *cp;
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	tls_client_id_free(&c->id);
	explicit_bzero(c, sizeof *c);
	free(c);
	*cp = NULL;
}
