/*
 * smtp-load.c — the SMTP load generator of scripts/bench-submission and
 * scripts/bench-sieve.
 *
 * One program drives both servers the same way, so the comparison measures
 * the servers rather than the client: C threads, one blocking connection
 * each, STARTTLS (OpenSSL from Debian's libssl-dev; a bench tool, never
 * part of tern), optionally AUTH PLAIN, then messages one after the other
 * (MAIL, RCPT, DATA, each waiting for its reply, as Python's smtplib and
 * most mail clients do), QUIT and a new connection every K messages.
 *
 * Every reply is checked: a message counts as sent only after the 250 that
 * ends its DATA. Anything else is an error, printed once per thread, and
 * that thread stops. The last line of output is machine-readable:
 *   sent=N errors=E seconds=T
 *
 * scripts/bench-sieve drives tern's port 25 and Dovecot's LMTP with it too,
 * with three options before the arguments:
 *   -l        LMTP: LHLO instead of EHLO, one reply per RCPT after DATA
 *   -p        plain TCP, no STARTTLS
 *   -P        PIPELINING (RFC 2920): MAIL, RCPT and DATA go out in one
 *             write and their replies are read after, as Postfix's smtp and
 *             lmtp clients send them (both servers advertise it)
 *   -f LIST   messages from files: LIST has one "SENDER PATH" a line; the
 *             file's bytes are the message (CRLF lines, dot-stuffed here),
 *             MAIL FROM is SENDER; message i (counted over all threads) is
 *             LIST's line i mod its length, to recipient i mod the number
 *             of recipients; RCPT_DOMAIN is then a comma-separated list of
 *             whole addresses and SIZE and FROM are ignored
 *
 * Build: gcc -O2 -o smtp-load smtp-load.c -lssl -lcrypto -lpthread
 * Usage: smtp-load [-l] [-p] [-P] [-f LIST] PORT MESSAGES THREADS SIZE PER_SESSION FROM RCPT_DOMAIN
 *                  [USER PASSWORD]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct opts {
	int port, messages, threads, size, per_session;
	const char *from, *rcpt_domain, *user, *password;
	int lmtp, plain, pipeline;
};

/* -f: the messages read from files, dot-stuffed, and the recipients. */
struct file_msg {
	char *from, *data;
	size_t len;
};
static struct file_msg *fmsgs;
static int nfmsgs;
static char **rcpts;
static int nrcpts;
static atomic_int next_seq; /* -f: the next message to send, over all threads */

static struct opts o;
static SSL_CTX *tls_ctx;
static atomic_int sent, errors;
static char *body; /* the message body, identical for every message */
static size_t body_len;

struct conn {
	int fd;
	SSL *ssl;
	char in[8192];
	size_t have;
	int thread;
};

static int fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smtp-load: thread %d: ", c->thread);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	atomic_fetch_add(&errors, 1);
	return -1;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one whole reply (all its lines) and returns its code, or -1. */
static int reply(struct conn *c, char *last, size_t lastsz)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->have);
		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in) + 1;
			int more = len > 4 && c->in[3] == '-';
			int code = len >= 4 ? atoi(c->in) : -1;
			if (last != NULL) {
				size_t k = len < lastsz ? len : lastsz - 1;
				memcpy(last, c->in, k);
				last[k] = '\0';
			}
			memmove(c->in, c->in + len, c->have - len);
			c->have -= len;
			if (!more)
				return code;
			continue;
		}
		if (c->have == sizeof c->in)
			return -1;
		ssize_t r = c->ssl ? SSL_read(c->ssl, c->in + c->have, (int)(sizeof c->in - c->have))
		                   : read(c->fd, c->in + c->have, sizeof c->in - c->have);
		if (r <= 0)
			return -1;
		c->have += (size_t)r;
	}
}

/* Sends a command line and expects reply code want. */
static int cmd(struct conn *c, int want, const char *fmt, ...)
{
	char line[1024], last[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	memcpy(line + n, "\r\n", 2);
	if (send_all(c, line, (size_t)n + 2) != 0)
		return fail(c, "write failed after %.*s", n, line);
	int code = reply(c, last, sizeof last);
	if (code != want)
		return fail(c, "%.40s -> %d %s", line, code, last);
	return 0;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = t[in[i] >> 2];
		out[o++] = t[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = t[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		out[o++] = t[in[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = t[in[i] >> 2];
		if (i + 1 < n) {
			out[o++] = t[(in[i] & 3) << 4 | in[i + 1] >> 4];
			out[o++] = t[(in[i + 1] & 15) << 2];
		} else {
			out[o++] = t[(in[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int session_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->have = 0;
	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return fail(c, "connect to port %d failed", o.port);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (reply(c, NULL, 0) != 220)
		return fail(c, "no 220 greeting");
	const char *hello = o.lmtp ? "LHLO" : "EHLO";
	if (cmd(c, 250, "%s load.bench.test", hello))
		return -1;
	if (o.plain)
		return 0;
	if (cmd(c, 220, "STARTTLS"))
		return -1;
	c->ssl = SSL_new(tls_ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		return fail(c, "TLS handshake failed");
	if (cmd(c, 250, "EHLO load.bench.test"))
		return -1;
	if (o.user != NULL) {
		unsigned char raw[512];
		char enc[700];
		size_t ul = strlen(o.user), pl = strlen(o.password);
		if (ul + pl + 2 > sizeof raw)
			return fail(c, "credentials too long");
		raw[0] = '\0';
		memcpy(raw + 1, o.user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, o.password, pl);
		b64(raw, ul + pl + 2, enc);
		if (cmd(c, 235, "AUTH PLAIN %s", enc))
			return -1;
	}
	return 0;
}

static void session_close(struct conn *c, int polite)
{
	if (polite)
		cmd(c, 221, "QUIT");
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* MAIL FROM, RCPT TO and DATA, up to DATA's 354: a command at a time, or
 * all three in one write with -P. */
static int envelope(struct conn *c, const char *from, const char *rcpt_fmt, ...)
{
	char rcpt[512], line[1536], last[512];
	va_list ap;

	va_start(ap, rcpt_fmt);
	vsnprintf(rcpt, sizeof rcpt, rcpt_fmt, ap);
	va_end(ap);
	if (!o.pipeline)
		return cmd(c, 250, "MAIL FROM:<%s>", from) || cmd(c, 250, "RCPT TO:<%s>", rcpt) ||
		       cmd(c, 354, "DATA") ? -1 : 0;
	int n = snprintf(line, sizeof line, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, rcpt);
	if (n < 0 || (size_t)n >= sizeof line || send_all(c, line, (size_t)n) != 0)
		return fail(c, "write failed in the envelope");
	static const int want[] = {250, 250, 354};
	for (int i = 0; i < 3; i++) {
		int code = reply(c, last, sizeof last);
		if (code != want[i])
			return fail(c, "pipelined reply %d -> %d %s", i + 1, code, last);
	}
	return 0;
}

static int send_message(struct conn *c, int seq)
{
	char head[512], last[512];
	int rcpt = seq % 50;

	if (envelope(c, o.from, "rcpt%d@%s", rcpt, o.rcpt_domain))
		return -1;
	int n = snprintf(head, sizeof head,
	                 "From: %s\r\nTo: rcpt%d@%s\r\nSubject: bench %d-%d\r\n"
	                 "Message-ID: <%d.%d.%ld@client.bench.test>\r\n\r\n",
	                 o.from, rcpt, o.rcpt_domain, c->thread, seq, c->thread, seq, random());
	if (send_all(c, head, (size_t)n) || send_all(c, body, body_len) ||
	    send_all(c, ".\r\n", 3))
		return fail(c, "write failed in DATA");
	int code = reply(c, last, sizeof last);
	if (code != 250)
		return fail(c, "end of DATA -> %d %s", code, last);
	atomic_fetch_add(&sent, 1);
	return 0;
}

/* -f: message seq from the list, to recipient seq mod their number. LMTP
 * answers DATA once per accepted RCPT; there is exactly one here. */
static int send_file_message(struct conn *c, int seq)
{
	char last[512];
	struct file_msg *m = &fmsgs[seq % nfmsgs];

	if (envelope(c, m->from, "%s", rcpts[seq % nrcpts]))
		return -1;
	if (send_all(c, m->data, m->len) || send_all(c, ".\r\n", 3))
		return fail(c, "write failed in DATA");
	int code = reply(c, last, sizeof last);
	if (code != 250)
		return fail(c, "end of DATA (message %d) -> %d %s", seq, code, last);
	atomic_fetch_add(&sent, 1);
	return 0;
}

static void *worker(void *arg)
{
	struct conn c = {.fd = -1, .thread = (int)(long)arg};
	int mine = o.messages / o.threads + (c.thread < o.messages % o.threads);

	for (int i = 0; i < mine; i++) {
		if (c.fd < 0 && session_open(&c) != 0)
			break;
		int r = nfmsgs > 0 ? send_file_message(&c, atomic_fetch_add(&next_seq, 1))
		                   : send_message(&c, i);
		if (r != 0)
			break;
		if ((i + 1) % o.per_session == 0 || i + 1 == mine)
			session_close(&c, 1);
	}
	session_close(&c, 0);
	return NULL;
}

/* Reads path whole, CRLF lines assumed, and dot-stuffs it (a line that
 * starts with "." gets another); a missing final CRLF is added. */
static char *load_stuffed(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *raw = malloc((size_t)n + 1), *out = malloc(2 * (size_t)n + 3);
	if (raw == NULL || out == NULL || fread(raw, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(raw);
		free(out);
		return NULL;
	}
	fclose(f);
	size_t k = 0;
	for (long i = 0; i < n; i++) {
		if (raw[i] == '.' && (i == 0 || raw[i - 1] == '\n'))
			out[k++] = '.';
		out[k++] = raw[i];
	}
	if (k < 2 || out[k - 2] != '\r' || out[k - 1] != '\n') {
		out[k++] = '\r';
		out[k++] = '\n';
	}
	free(raw);
	*len = k;
	return out;
}

static int load_list(const char *list, char *rcpt_csv)
{
	FILE *f = fopen(list, "r");
	char line[4096];
	int cap = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		char *sp = strchr(line, ' ');
		line[strcspn(line, "\r\n")] = '\0';
		if (sp == NULL)
			continue;
		*sp = '\0';
		if (nfmsgs == cap) {
			cap = cap ? 2 * cap : 64;
			fmsgs = realloc(fmsgs, (size_t)cap * sizeof *fmsgs);
		}
		struct file_msg *m = &fmsgs[nfmsgs];
		m->from = strdup(line);
		m->data = load_stuffed(sp + 1, &m->len);
		if (m->data == NULL) {
			fprintf(stderr, "smtp-load: cannot read %s\n", sp + 1);
			fclose(f);
			return -1;
		}
		nfmsgs++;
	}
	fclose(f);
	for (char *save = NULL, *t = strtok_r(rcpt_csv, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		rcpts = realloc(rcpts, (size_t)(nrcpts + 1) * sizeof *rcpts);
		rcpts[nrcpts++] = t;
	}
	return nfmsgs > 0 && nrcpts > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *list = NULL;
	int lmtp = 0, plain = 0, pipeline = 0, opt;

	while ((opt = getopt(argc, argv, "lpPf:")) != -1) {
		if (opt == 'l')
			lmtp = 1;
		else if (opt == 'p')
			plain = 1;
		else if (opt == 'P')
			pipeline = 1;
		else if (opt == 'f')
			list = optarg;
		else
			return 2;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc != 8 && argc != 10) {
		fprintf(stderr, "usage: smtp-load [-l] [-p] [-f LIST] PORT MESSAGES THREADS SIZE "
		                "PER_SESSION FROM RCPT_DOMAIN [USER PASSWORD]\n");
		return 2;
	}
	o = (struct opts){atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
	                  argv[6], argv[7], argc == 10 ? argv[8] : NULL,
	                  argc == 10 ? argv[9] : NULL, lmtp, plain, pipeline};
	if (o.port <= 0 || o.messages <= 0 || o.threads <= 0 || o.size <= 0 || o.per_session <= 0)
		return 2;
	if (list != NULL && load_list(list, argv[7]) != 0) {
		fprintf(stderr, "smtp-load: no messages or recipients from %s\n", list);
		return 2;
	}
	/* 76 x's per line, as many lines as fit in SIZE (at least one). */
	int lines = o.size / 78 > 0 ? o.size / 78 : 1;
	body_len = (size_t)lines * 78;
	body = malloc(body_len);
	for (int i = 0; i < lines; i++) {
		memset(body + i * 78, 'x', 76);
		memcpy(body + i * 78 + 76, "\r\n", 2);
	}
	tls_ctx = SSL_CTX_new(TLS_client_method());
	/* Both servers get TLS 1.2 with an AEAD suite: tern speaks no 1.3. */
	SSL_CTX_set_max_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);

	struct timespec t0, t1;
	pthread_t *th = calloc((size_t)o.threads, sizeof *th);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < o.threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < o.threads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sent=%d errors=%d seconds=%.3f\n", atomic_load(&sent), atomic_load(&errors), dt);
	return atomic_load(&errors) ? 1 : 0;
}
