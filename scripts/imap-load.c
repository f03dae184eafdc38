/*
 * scripts/imap-load.c - the IMAP load generator of scripts/bench-imap.
 *
 * A bench tool, not part of the product: it is built by bench-imap with
 * the system gcc against Debian's OpenSSL (libssl-dev), because the client
 * must not be what is measured. The Python clients it replaces cost more
 * CPU than the server under test on a 2-core machine.
 *
 * One thread per client, one blocking TLS 1.2 connection per client, one
 * command at a time. The same program drives tern and Dovecot, so both see
 * the same bytes. Phases (--kind):
 *   login   connect, handshake, LOGIN, LOGOUT, close, in a loop,
 *   mixed   on a connection with INBOX selected: SELECT INBOX, FETCH of 20
 *           messages' headers, FETCH of one whole message, STORE +FLAGS,
 *           UID SEARCH UNSEEN SUBJECT, APPEND (its UID from APPENDUID, else
 *           from a UID SEARCH), UID STORE +FLAGS.SILENT (\Deleted), EXPUNGE,
 *   append  APPEND of one message in a loop.
 * Messages are byte for byte those of bench-pop3's body_for().
 *
 * Protocol with the parent: the clients connect, log in and SELECT; the
 * program prints "ready" and waits for a line on stdin; then every client
 * runs for --seconds (the iteration under way is finished) and the program
 * prints one JSON object: counts per command, errors per command (a tagged
 * NO or BAD, or a reply that lacks what the command must return: counted
 * there, never as an operation; the rest of that iteration is skipped),
 * a few error samples, the clients that failed (connection or TLS errors
 * end a client), and the span from the first start to the last end.
 *
 * Usage: imap-load --port P --kind K --seconds T --size S --password PW
 *                  USER...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum op { OP_LOGIN, OP_SELECT, OP_FETCH_HEADERS, OP_FETCH_BODY, OP_STORE, OP_SEARCH, OP_APPEND,
	  OP_EXPUNGE, OP_LOGOUT, OP_N };
static const char *const op_names[OP_N] = {"LOGIN", "SELECT", "FETCH-HEADERS", "FETCH-BODY",
					   "STORE", "SEARCH", "APPEND", "EXPUNGE", "LOGOUT"};

static int g_port, g_seconds, g_size;
static const char *g_kind, *g_password;
static SSL_CTX *g_ctx;
/* the cipher suite both servers are held to (bench-imap's tls_ctx too) */
#define BENCH_SUITE "ECDHE-ECDSA-AES128-GCM-SHA256"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_ready, g_go;

#define SAMPLES_MAX 5
static char g_samples[SAMPLES_MAX][256];
static int g_nsamples;

struct client {
	pthread_t thread;
	int index;
	const char *user;
	uint64_t rnd;
	long counts[OP_N], errors[OP_N];
	double t0, t1;
	int failed;
	char why[256];
	/* the connection */
	int fd;
	SSL *ssl;
	char *buf; /* received, not yet consumed: buf[off..len) */
	size_t off, len, cap;
	unsigned tag;
	/* the last reply: its untagged lines and tagged line, each NUL-terminated
	 * in lines (literal contents skipped, noted by a count) */
	char *lines;
	size_t lines_len, lines_cap;
	long literals;     /* literals in the last reply */
	size_t literal_sz; /* bytes of the largest one */
	char *msg;         /* message buffer */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: deterministic per client, enough for picking messages */
static uint64_t rnd_next(struct client *c)
{
	c->rnd ^= c->rnd >> 12;
	c->rnd ^= c->rnd << 25;
	c->rnd ^= c->rnd >> 27;
	return c->rnd * 2685821657736338717ULL;
}

/* uniform in [lo, hi] */
static long rnd_range(struct client *c, long lo, long hi)
{
	if (hi <= lo)
		return lo;
	return lo + (long)(rnd_next(c) % (uint64_t)(hi - lo + 1));
}

static void sample(const char *fmt, ...)
{
	pthread_mutex_lock(&g_mu);
	if (g_nsamples < SAMPLES_MAX) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(g_samples[g_nsamples], sizeof g_samples[0], fmt, ap);
		va_end(ap);
		g_nsamples++;
	}
	pthread_mutex_unlock(&g_mu);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "imap-load: out of memory\n");
		exit(1);
	}
	return q;
}

/* ------------------------------------------------------------ connection */

static void conn_close(struct client *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->off = c->len = 0;
}

static int fail(struct client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	c->failed = 1;
	return -1;
}

static int ssl_fail(struct client *c, const char *what, int r)
{
	unsigned long e = ERR_get_error();
	char eb[160] = "";
	if (e)
		ERR_error_string_n(e, eb, sizeof eb);
	return fail(c, "%s: SSL error %d %s (errno %d)", what, SSL_get_error(c->ssl, r), eb, errno);
}

static int send_all(struct client *c, const char *p, size_t n)
{
	while (n > 0) {
		int k = n > 1 << 30 ? 1 << 30 : (int)n;
		int r = SSL_write(c->ssl, p, k);
		if (r <= 0)
			return ssl_fail(c, "write", r);
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads more bytes into buf. */
static int fill(struct client *c, size_t want)
{
	if (c->off > 0 && c->off == c->len)
		c->off = c->len = 0;
	if (c->cap - c->len < want) {
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->cap - c->len < want) {
			c->cap = c->len + want + 65536;
			c->buf = xrealloc(c->buf, c->cap);
		}
	}
	int r = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len));
	if (r <= 0) {
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN || r == 0)
			return fail(c, "connection closed by the server");
		return ssl_fail(c, "read", r);
	}
	c->len += (size_t)r;
	return 0;
}

/* The next line without its CRLF, NUL-terminated in place; NULL on error. */
static char *read_line(struct client *c, size_t *n_r)
{
	for (;;) {
		char *start = c->buf + c->off;
		char *nl = c->len > c->off ? memmem(start, c->len - c->off, "\r\n", 2) : NULL;
		if (nl) {
			*nl = '\0';
			*n_r = (size_t)(nl - start);
			c->off += *n_r + 2;
			return start;
		}
		if (c->len - c->off > (64u << 20)) {
			fail(c, "line longer than 64 MiB");
			return NULL;
		}
		if (fill(c, 65536) < 0)
			return NULL;
	}
}

static int skip_bytes(struct client *c, size_t k)
{
	while (c->len - c->off < k) {
		k -= c->len - c->off;
		c->off = c->len;
		if (fill(c, k < 65536 ? 65536 : k) < 0)
			return -1;
	}
	c->off += k;
	return 0;
}

static void lines_add(struct client *c, const char *l, size_t n)
{
	if (c->lines_cap - c->lines_len < n + 1) {
		c->lines_cap = (c->lines_len + n + 1) * 2;
		c->lines = xrealloc(c->lines, c->lines_cap);
	}
	memcpy(c->lines + c->lines_len, l, n);
	c->lines[c->lines_len + n] = '\0';
	c->lines_len += n + 1;
}

/* Iterates over the lines of the last reply: pass NULL first. */
static const char *next_line(struct client *c, const char *prev)
{
	const char *p = prev ? prev + strlen(prev) + 1 : c->lines;
	return p < c->lines + c->lines_len ? p : NULL;
}

static int conn_open(struct client *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(c, "socket: %s", strerror(errno));
	struct timeval tv = {.tv_sec = 60};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return fail(c, "connect: %s", strerror(errno));
	c->ssl = SSL_new(g_ctx);
	if (!c->ssl)
		return fail(c, "SSL_new failed");
	SSL_set_fd(c->ssl, c->fd);
	int r = SSL_connect(c->ssl);
	if (r != 1)
		return ssl_fail(c, "handshake", r);
	size_t n;
	char *g = read_line(c, &n);
	if (!g)
		return -1;
	if (strncmp(g, "* OK", 4) != 0)
		return fail(c, "greeting: %.100s", g);
	return 0;
}

/* The tagged line l ends the reply: 0 for OK, 1 for NO/BAD (counted, sampled). */
static int tagged(struct client *c, enum op op, const char *l, size_t taglen)
{
	lines_add(c, l, strlen(l));
	if (strncmp(l + taglen, " OK", 3) == 0)
		return 0;
	c->errors[op]++;
	sample("%s: %s: %.150s", c->user, op_names[op], l);
	return 1;
}

/*
 * Sends a command (with a synchronizing literal when lit is not NULL) and
 * reads its reply into c->lines. Returns 0 for a tagged OK, 1 for a tagged
 * NO/BAD (counted under op, sampled), -1 when the connection failed.
 */
static int cmd(struct client *c, enum op op, const char *lit, size_t litlen, const char *fmt, ...)
{
	char line[512];
	char tag[16];
	snprintf(tag, sizeof tag, "t%u", ++c->tag);
	int n = snprintf(line, sizeof line, "%s ", tag);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (lit)
		n += snprintf(line + n, sizeof line - (size_t)n, " {%zu}", litlen);
	n += snprintf(line + n, sizeof line - (size_t)n, "\r\n");
	if ((size_t)n >= sizeof line)
		return fail(c, "command too long");
	if (send_all(c, line, (size_t)n) < 0)
		return -1;
	c->lines_len = 0;
	c->literals = 0;
	c->literal_sz = 0;
	size_t taglen = strlen(tag);
	if (lit) {
		size_t k;
		char *l = read_line(c, &k);
		if (!l)
			return -1;
		if (l[0] != '+') {
			/* refused before the literal: a tagged NO/BAD ends it */
			if (strncmp(l, tag, taglen) == 0 && l[taglen] == ' ')
				return tagged(c, op, l, taglen);
			return fail(c, "%s: no continuation: %.100s", op_names[op], l);
		}
		if (send_all(c, lit, litlen) < 0 || send_all(c, "\r\n", 2) < 0)
			return -1;
	}
	for (;;) {
		size_t k;
		char *l = read_line(c, &k);
		if (!l)
			return -1;
		/* a literal in the reply: skip its octets */
		if (k > 2 && l[k - 1] == '}') {
			char *b = memrchr(l, '{', k);
			if (b) {
				char *end;
				errno = 0;
				unsigned long long lk = strtoull(b + 1, &end, 10);
				if (end == l + k - 1 && errno == 0 && lk < (1ull << 32)) {
					lines_add(c, l, k);
					c->literals++;
					if (lk > c->literal_sz)
						c->literal_sz = (size_t)lk;
					if (skip_bytes(c, (size_t)lk) < 0)
						return -1;
					continue;
				}
			}
		}
		if (strncmp(l, tag, taglen) == 0 && l[taglen] == ' ')
			return tagged(c, op, l, taglen);
		lines_add(c, l, k);
	}
}

/* A reply that is OK but lacks what it must hold: an error of op. */
static int bad_reply(struct client *c, enum op op, const char *what)
{
	c->errors[op]++;
	sample("%s: %s: %s", c->user, op_names[op], what);
	return 1;
}

/* --------------------------------------------------------------- messages */

/* bench-pop3's body_for(user, i, size), byte for byte; returns its length */
static size_t message(struct client *c, long i)
{
	static const char line[] =
		"The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n";
	size_t ll = sizeof line - 1;
	char head[1024];
	int hn = snprintf(head, sizeof head,
			  "From: sender@%s\r\nTo: %s\r\nSubject: bench %ld\r\n"
			  "Message-ID: <%ld.%s>\r\nDate: Fri, 20 Nov 2026 12:00:00 +0000\r\n\r\n",
			  strchr(c->user, '@') ? strchr(c->user, '@') + 1 : "", c->user, i, i,
			  c->user);
	long nl = ((long)g_size - hn - 300);
	/* Python's // floors toward minus infinity */
	nl = nl >= 0 ? nl / (long)ll : -((-nl + (long)ll - 1) / (long)ll);
	if (nl < 1)
		nl = 1;
	size_t total = (size_t)hn + 128 + (size_t)nl * ll;
	c->msg = xrealloc(c->msg, total);
	memcpy(c->msg, head, (size_t)hn);
	size_t n = (size_t)hn;
	n += (size_t)snprintf(c->msg + n, 128, "message %ld for %s\r\n", i, c->user);
	for (long k = 0; k < nl; k++) {
		memcpy(c->msg + n, line, ll);
		n += ll;
	}
	return n;
}

/* ------------------------------------------------------------------ phases */

static int login(struct client *c)
{
	return cmd(c, OP_LOGIN, NULL, 0, "LOGIN \"%s\" \"%s\"", c->user, g_password);
}

/* EXISTS of the last reply, -1 when absent */
static long exists_of(struct client *c)
{
	for (const char *l = next_line(c, NULL); l; l = next_line(c, l)) {
		size_t n = strlen(l);
		if (n > 9 && strcmp(l + n - 7, " EXISTS") == 0 && l[0] == '*')
			return strtol(l + 2, NULL, 10);
	}
	return -1;
}

/* UID from "[APPENDUID v u]" in the last reply, 0 when absent */
static unsigned long appenduid_of(struct client *c)
{
	for (const char *l = next_line(c, NULL); l; l = next_line(c, l)) {
		const char *p = strstr(l, "APPENDUID ");
		if (p) {
			char *end;
			strtoul(p + 10, &end, 10);
			return strtoul(end, NULL, 10);
		}
	}
	return 0;
}

/* the last number of the "* SEARCH" line of the last reply, 0 when none */
static unsigned long last_search_hit(struct client *c)
{
	for (const char *l = next_line(c, NULL); l; l = next_line(c, l)) {
		if (strncmp(l, "* SEARCH", 8) == 0) {
			const char *sp = strrchr(l, ' ');
			return sp && sp > l + 7 ? strtoul(sp + 1, NULL, 10) : 0;
		}
	}
	return 0;
}

static long count_fetches(struct client *c)
{
	long n = 0;
	for (const char *l = next_line(c, NULL); l; l = next_line(c, l))
		if (l[0] == '*' && strstr(l, " FETCH ("))
			n++;
	return n;
}

/* One mixed iteration: 0 done (or skipped after an error), -1 failed. */
static int mixed_once(struct client *c, long i)
{
	long got[OP_N] = {0};
	int r = cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX");
	if (r)
		return r < 0 ? -1 : 0;
	long exists = exists_of(c);
	if (exists < 1)
		return bad_reply(c, OP_SELECT, "no EXISTS, or an empty INBOX"), 0;
	got[OP_SELECT]++;

	long lo = rnd_range(c, 1, exists - 19 > 1 ? exists - 19 : 1);
	if ((r = cmd(c, OP_FETCH_HEADERS, NULL, 0, "FETCH %ld:%ld (UID FLAGS BODY.PEEK[HEADER])",
		     lo, lo + 19)))
		return r < 0 ? -1 : 0;
	long want = exists - lo + 1 < 20 ? exists - lo + 1 : 20;
	if (count_fetches(c) < want || c->literals < want)
		return bad_reply(c, OP_FETCH_HEADERS, "fewer FETCH responses or literals than asked"),
		       0;
	got[OP_FETCH_HEADERS]++;

	if ((r = cmd(c, OP_FETCH_BODY, NULL, 0, "FETCH %ld (BODY.PEEK[])", rnd_range(c, 1, exists))))
		return r < 0 ? -1 : 0;
	if (c->literals != 1 || c->literal_sz < 100)
		return bad_reply(c, OP_FETCH_BODY, "no message literal"), 0;
	got[OP_FETCH_BODY]++;

	if ((r = cmd(c, OP_STORE, NULL, 0, "STORE %ld +FLAGS (\\Seen)", rnd_range(c, 1, exists))))
		return r < 0 ? -1 : 0;
	got[OP_STORE]++;

	if ((r = cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH UNSEEN SUBJECT \"bench %ld\"",
		     rnd_range(c, 0, 99))))
		return r < 0 ? -1 : 0;
	got[OP_SEARCH]++;

	size_t ml = message(c, 200000 + i);
	if ((r = cmd(c, OP_APPEND, c->msg, ml, "APPEND INBOX")))
		return r < 0 ? -1 : 0;
	got[OP_APPEND]++;
	unsigned long uid = appenduid_of(c);
	if (uid == 0) { /* no UIDPLUS answer: find it */
		if ((r = cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH SUBJECT \"bench %ld\"", 200000 + i)))
			return r < 0 ? -1 : 0;
		uid = last_search_hit(c);
		if (uid == 0)
			return bad_reply(c, OP_SEARCH, "appended message not found"), 0;
	}
	if ((r = cmd(c, OP_STORE, NULL, 0, "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid)))
		return r < 0 ? -1 : 0;
	got[OP_STORE]++;
	if ((r = cmd(c, OP_EXPUNGE, NULL, 0, "EXPUNGE")))
		return r < 0 ? -1 : 0;
	got[OP_EXPUNGE]++;
	for (int k = 0; k < OP_N; k++)
		c->counts[k] += got[k];
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	int ok = 1;
	c->fd = -1;
	if (strcmp(g_kind, "login") != 0) {
		if (conn_open(c) < 0 || login(c) != 0 || cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX") != 0)
			ok = 0;
	}
	pthread_mutex_lock(&g_mu);
	g_ready++;
	pthread_cond_broadcast(&g_cv);
	while (!g_go)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
	if (!ok) {
		if (!c->failed)
			fail(c, "could not log in and select INBOX");
		conn_close(c);
		return NULL;
	}
	c->t0 = now();
	double end = c->t0 + g_seconds;
	long i = 0;
	while (now() < end) {
		i++;
		if (strcmp(g_kind, "login") == 0) {
			int r;
			if (conn_open(c) < 0)
				break;
			if ((r = login(c)) < 0)
				break;
			if (r == 0) {
				if ((r = cmd(c, OP_LOGOUT, NULL, 0, "LOGOUT")) < 0)
					break;
				if (r == 0)
					c->counts[OP_LOGIN]++;
			}
			conn_close(c);
			continue;
		}
		if (strcmp(g_kind, "append") == 0) {
			size_t ml = message(c, 100000 + i);
			int r = cmd(c, OP_APPEND, c->msg, ml, "APPEND INBOX");
			if (r < 0)
				break;
			if (r == 0)
				c->counts[OP_APPEND]++;
			continue;
		}
		if (mixed_once(c, i) < 0)
			break;
	}
	c->t1 = now();
	if (!c->failed && c->ssl) {
		cmd(c, OP_LOGOUT, NULL, 0, "LOGOUT");
		c->failed = 0; /* a server that closes before its tagged OK: not a failure */
	}
	conn_close(c);
	return NULL;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void usage(void)
{
	fprintf(stderr, "usage: imap-load --port P --kind login|mixed|append --seconds T "
			"--size S --password PW USER...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			g_port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--kind") == 0)
			g_kind = argv[i + 1];
		else if (strcmp(argv[i], "--seconds") == 0)
			g_seconds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--size") == 0)
			g_size = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--password") == 0)
			g_password = argv[i + 1];
		else
			usage();
	}
	if (g_port <= 0 || !g_kind || g_seconds <= 0 || g_size <= 0 || !g_password || i >= argc)
		usage();
	if (strcmp(g_kind, "login") && strcmp(g_kind, "mixed") && strcmp(g_kind, "append"))
		usage();
	int n = argc - i;
	g_ctx = SSL_CTX_new(TLS_client_method());
	if (!g_ctx)
		return 1;
	SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_proto_version(g_ctx, TLS1_2_VERSION); /* tern speaks TLS 1.2 (BearSSL) */
	/* One suite for both servers: tern picks AES-128-GCM by its own order,
	 * Dovecot (ssl_prefer_server_ciphers = no) would take OpenSSL's first
	 * choice, AES-256-GCM; the ciphers must not differ between them. */
	if (SSL_CTX_set_cipher_list(g_ctx, BENCH_SUITE) != 1) {
		fprintf(stderr, "imap-load: cipher suite %s unknown\n", BENCH_SUITE);
		return 2;
	}
	SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF); /* a full handshake per login */

	struct client *cs = calloc((size_t)n, sizeof *cs);
	if (!cs)
		return 1;
	for (int k = 0; k < n; k++) {
		cs[k].index = k;
		cs[k].user = argv[i + k];
		cs[k].rnd = 0x9E3779B97F4A7C15ULL * (uint64_t)(k + 1);
		if (pthread_create(&cs[k].thread, NULL, client_main, &cs[k]) != 0) {
			fprintf(stderr, "imap-load: pthread_create failed\n");
			return 1;
		}
	}
	pthread_mutex_lock(&g_mu);
	while (g_ready < n)
		pthread_cond_wait(&g_cv, &g_mu);
	pthread_mutex_unlock(&g_mu);
	printf("ready\n");
	fflush(stdout);
	char go[64];
	if (!fgets(go, sizeof go, stdin))
		return 1;
	pthread_mutex_lock(&g_mu);
	g_go = 1;
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);

	long counts[OP_N] = {0}, errors[OP_N] = {0};
	double t0 = 0, t1 = 0;
	int started = 0;
	for (int k = 0; k < n; k++) {
		pthread_join(cs[k].thread, NULL);
		for (int o = 0; o < OP_N; o++) {
			counts[o] += cs[k].counts[o];
			errors[o] += cs[k].errors[o];
		}
		if (cs[k].t0 > 0) {
			if (!started || cs[k].t0 < t0)
				t0 = cs[k].t0;
			if (!started || cs[k].t1 > t1)
				t1 = cs[k].t1;
			started = 1;
		}
	}
	printf("{\"span\": %.6f, \"counts\": {", t1 - t0);
	for (int o = 0, first = 1; o < OP_N; o++)
		if (counts[o] && o != OP_LOGOUT) {
			printf("%s\"%s\": %ld", first ? "" : ", ", op_names[o], counts[o]);
			first = 0;
		}
	printf("}, \"errors\": {");
	for (int o = 0, first = 1; o < OP_N; o++)
		if (errors[o]) {
			printf("%s\"%s\": %ld", first ? "" : ", ", op_names[o], errors[o]);
			first = 0;
		}
	printf("}, \"samples\": [");
	for (int s = 0; s < g_nsamples; s++) {
		printf("%s", s ? ", " : "");
		json_str(g_samples[s]);
	}
	printf("], \"failed\": [");
	for (int k = 0, first = 1; k < n; k++)
		if (cs[k].failed) {
			char b[400];
			snprintf(b, sizeof b, "%s: %s", cs[k].user, cs[k].why);
			printf("%s", first ? "" : ", ");
			json_str(b);
			first = 0;
		}
	printf("]}\n");
	fflush(stdout);
	SSL_CTX_free(g_ctx);
	return 0;
}
