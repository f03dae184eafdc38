/*
 * cmd_migrate.c — tern migrate EMAIL --from imaps://USER@HOST[:PORT]
 * [--password-file FILE]: every folder and message of an account on
 * another IMAP server, with flags, keywords and internal dates, like
 * imapsync. The password comes from the file or stdin.
 *
 * How. One blocking connection (a command-line tool waits for its one
 * server; no loop needed): LOGIN, LIST "" "*", then per folder EXAMINE
 * (read-only: \Seen stays as it was) and one UID FETCH 1:* (UID FLAGS
 * INTERNALDATE BODY.PEEK[]), each response read whole (its literal capped
 * at MSG_MAX before it is read) and handed to the import path
 * (cli_import.h): folders created, messages stored as APPEND stores them,
 * and a message already in the target folder (same bytes) skipped, so a
 * second run copies only what is new and a run cut short resumes.
 *
 * Folder names: the server's delimiter becomes "/", modified UTF-7 is
 * decoded. Folders marked \Noselect or \NonExistent are not selectable;
 * \All (Gmail's "All Mail") is skipped, as imapsync's Gmail profile does:
 * every message there is also under its labels, which Gmail lists as
 * folders, so each label becomes a folder holding its messages.
 *
 * imaps:// verifies the server's certificate against the built-in roots
 * (net/anchors.h, TERN_TLS_CA_FILE); imap:// is plain text, for a server
 * on the same machine or network (it says so on stderr).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>

#include "backup/imap_resp.h"
#include "backup/mailfmt.h"
#include "cli/cli.h"
#include "cli/cli_import.h"
#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_utf7.h"
#include "net/anchors.h"
#include "store/store.h"

#define LINE_MAX_ ((size_t)64 << 10)
#define MSG_MAX ((size_t)1 << 30)

struct src {
	int fd, tls;
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	char rbuf[16384];
	size_t roff, rlen;
	unsigned tag;
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

static int src_write(struct src *s, const char *p, size_t n)
{
	if (s->tls)
		return br_sslio_write_all(&s->io, p, n) == 0 && br_sslio_flush(&s->io) == 0 ? 0 : -1;
	while (n) {
		int w = sock_write(&s->fd, (const unsigned char *)p, n);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int src_getc(struct src *s)
{
	if (s->roff == s->rlen) {
		int n = s->tls ? br_sslio_read(&s->io, s->rbuf, sizeof s->rbuf)
		               : sock_read(&s->fd, (unsigned char *)s->rbuf, sizeof s->rbuf);
		if (n <= 0)
			return -1;
		s->roff = 0;
		s->rlen = (size_t)n;
	}
	return (unsigned char)s->rbuf[s->roff++];
}

/* One response whole (line, literals, rest of the line) into out: 0 or -1. */
static int src_response(struct src *s, struct buf *out)
{
	buf_reset(out);
	for (;;) {
		size_t start = buf_len(out);
		for (;;) {
			int c = src_getc(s);
			if (c < 0)
				return -1;
			char ch = (char)c;
			if (buf_append(out, &ch, 1) || buf_len(out) - start > LINE_MAX_)
				return -1;
			if (ch == '\n')
				break;
		}
		size_t l = buf_len(out) - start;
		const char *line = buf_data(out) + start;
		size_t ll = l >= 2 && line[l - 2] == '\r' ? l - 2 : l - 1;
		uint64_t n;
		int r = imapr_literal_at_end(line, ll, &n);
		if (r < 0 || (r == 1 && n > MSG_MAX))
			return -1;
		if (r == 0)
			return 0;
		for (uint64_t i = 0; i < n; i++) {
			int c = src_getc(s);
			char ch = (char)c;
			if (c < 0 || buf_append(out, &ch, 1))
				return -1;
		}
	}
}

/* Sends a command with a new tag; reads responses, handing each untagged
 * one to cb, until the tagged one: 0 for OK, -1 otherwise (its text in
 * err). */
static int src_cmd(struct src *s, const char *cmd, void (*cb)(void *, const char *, size_t), void *arg,
                   struct buf *resp, char *err, size_t errsz)
{
	char tag[16], line[4096];
	int n = snprintf(tag, sizeof tag, "m%u", ++s->tag);
	int ln = snprintf(line, sizeof line, "%s %s\r\n", tag, cmd);
	if (ln < 0 || (size_t)ln >= sizeof line || src_write(s, line, (size_t)ln))
		return snprintf(err, errsz, "cannot send to the server"), -1;
	for (;;) {
		if (src_response(s, resp))
			return snprintf(err, errsz, "connection lost or response too long"), -1;
		const char *p = buf_data(resp);
		size_t len = buf_len(resp);
		if (len > (size_t)n + 1 && memcmp(p, tag, (size_t)n) == 0 && p[n] == ' ') {
			if (len >= (size_t)n + 3 && strncasecmp(p + n + 1, "OK", 2) == 0)
				return 0;
			snprintf(err, errsz, "%.*s", (int)(len > 300 ? 300 : len - 2), p);
			return -1;
		}
		if (p[0] == '*' && cb)
			cb(arg, p, len);
	}
}

/* A quoted IMAP string of s into out (no CR, LF or NUL in s). */
static int quoted(const char *s, char *out, size_t outsz)
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

static int src_connect(struct src *s, const char *host, const char *port, int tls, char *err, size_t errsz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return snprintf(err, errsz, "%s: %s", host, gai_strerror(rc)), -1;
	s->fd = -1;
	for (a = ai; a && s->fd < 0; a = a->ai_next) {
		s->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (s->fd >= 0 && connect(s->fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(s->fd);
			s->fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (s->fd < 0)
		return snprintf(err, errsz, "cannot connect to %s:%s: %s", host, port, strerror(errno)), -1;
	if (tls) {
		size_t n;
		unsigned char seed[32];
		const br_x509_trust_anchor *ta = anchors_get(&n);
		br_ssl_client_init_full(&s->sc, &s->xc, ta, n);
		br_ssl_engine_set_buffer(&s->sc.eng, s->iobuf, sizeof s->iobuf, 1);
		if (getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed)
			br_ssl_engine_inject_entropy(&s->sc.eng, seed, sizeof seed);
		if (!br_ssl_client_reset(&s->sc, host, 0))
			return snprintf(err, errsz, "TLS setup failed"), -1;
		br_sslio_init(&s->io, &s->sc.eng, sock_read, &s->fd, sock_write, &s->fd);
		s->tls = 1;
	}
	return 0;
}

struct folders {
	char **names;  /* as sent (for SELECT) */
	char **local;  /* tern's name */
	size_t n;
};

static void list_cb(void *arg, const char *p, size_t len)
{
	struct folders *f = arg;
	const char *attrs;
	size_t an;
	char delim;
	struct buf name, local;
	buf_init(&name, 4096);
	buf_init(&local, 8192);
	if (imapr_list(p, len, &attrs, &an, &delim, &name) == 1 && buf_len(&name) &&
	    !memmem(attrs, an, "\\Noselect", 9) && !memmem(attrs, an, "\\NoSelect", 9) &&
	    !memmem(attrs, an, "\\NonExistent", 12) && !memmem(attrs, an, "\\All", 4) &&
	    buf_append(&name, "", 1) == 0) {
		char *raw = strdup(buf_data(&name));
		char *conv = strdup(raw);
		for (char *q = conv; delim && delim != '/' && *q; q++)
			if (*q == delim)
				*q = '/';
		if (imap_utf7_to_utf8(str_c(conv), &local) == 0 && buf_append(&local, "", 1) == 0) {
			f->names = realloc(f->names, (f->n + 1) * sizeof *f->names);
			f->local = realloc(f->local, (f->n + 1) * sizeof *f->local);
			if (!f->names || !f->local)
				abort();
			f->names[f->n] = raw;
			f->local[f->n] = strcasecmp(conv, "INBOX") == 0 ? strdup("INBOX") : strdup(buf_data(&local));
			f->n++;
			raw = NULL;
		}
		free(raw);
		free(conv);
	}
	buf_free(&name);
	buf_free(&local);
}

struct fetch_ctx {
	struct imp *im;
	uint64_t seen;
};

/* IMAP flags as sent to the import's flags and keywords. */
static void fetch_cb(void *arg, const char *p, size_t len)
{
	struct fetch_ctx *fc = arg;
	struct imapr_fetch f;
	char others[4096];
	unsigned flags = 0;
	size_t on = 0;

	if (imapr_fetch(p, len, &f) != 1 || !f.has_body)
		return;
	others[0] = '\0';
	for (size_t i = 0; f.flags && i < f.flags_len;) {
		while (i < f.flags_len && f.flags[i] == ' ')
			i++;
		size_t s = i;
		while (i < f.flags_len && f.flags[i] != ' ')
			i++;
		size_t n = i - s;
		const char *w = f.flags + s;
		static const struct {
			const char *name;
			unsigned bit;
		} sys[] = {{"\\Seen", MF_SEEN},       {"\\Answered", MF_ANSWERED}, {"\\Flagged", MF_FLAGGED},
		           {"\\Draft", MF_DRAFT},     {"\\Deleted", MF_DELETED}, {"$Forwarded", MF_FORWARDED}};
		size_t k;
		for (k = 0; k < sizeof sys / sizeof sys[0]; k++)
			if (strlen(sys[k].name) == n && strncasecmp(sys[k].name, w, n) == 0)
				break;
		if (k < sizeof sys / sizeof sys[0])
			flags |= sys[k].bit;
		else if (n && w[0] != '\\' && on + n + 2 < sizeof others) {
			if (on)
				others[on++] = ' ';
			memcpy(others + on, w, n);
			on += n;
			others[on] = '\0';
		}
	}
	import_add(fc->im, f.body, f.body_len, 0, flags, others, f.internaldate);
	fc->seen++;
}

/* imap[s]://USER@HOST[:PORT]: 0 or -1. USER may hold '@' (taken up to the
 * last one) and %XX escapes. */
static int parse_url(const char *url, int *tls, char *user, size_t usz, char *host, size_t hsz,
                     char *port, size_t psz)
{
	const char *p;
	if (strncasecmp(url, "imaps://", 8) == 0)
		*tls = 1, p = url + 8;
	else if (strncasecmp(url, "imap://", 7) == 0)
		*tls = 0, p = url + 7;
	else
		return -1;
	const char *at = strrchr(p, '@');
	if (!at || at == p)
		return -1;
	size_t u = 0;
	for (const char *q = p; q < at; q++) {
		char c = *q;
		if (c == '%' && at - q > 2) {
			char hx[3] = {q[1], q[2], 0};
			c = (char)strtol(hx, NULL, 16);
			q += 2;
		}
		if (u + 1 >= usz)
			return -1;
		user[u++] = c;
	}
	user[u] = '\0';
	const char *h = at + 1, *colon = strrchr(h, ':');
	size_t hl = colon ? (size_t)(colon - h) : strlen(h);
	if (hl == 0 || hl >= hsz)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, psz, "%s", colon ? colon + 1 : (*tls ? "993" : "143"));
	return 0;
}

int cli_migrate(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL, *from = NULL, *pwfile = NULL;
	char user[512], host[256], port[16], pw[512], err[512], cmd[4096], q1[1100], q2[1100];
	int tls, rc = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			pwfile = argv[++i];
		else if (argv[i][0] != '-' && !email)
			email = argv[i];
		else
			goto usage;
	}
	if (!email || !from || parse_url(from, &tls, user, sizeof user, host, sizeof host, port, sizeof port))
		goto usage;
	if (pwfile) {
		FILE *f = fopen(pwfile, "r");
		if (!f || !fgets(pw, sizeof pw, f)) {
			fprintf(stderr, "tern: cannot read %s\n", pwfile);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
	} else if (cli_read_secret(pw, sizeof pw) != 0) {
		fprintf(stderr, "tern: no password on stdin\n");
		return 1;
	}
	if (!tls)
		fprintf(stderr, "tern: warning: imap:// sends the password in clear text\n");
	if (tls && cfg->tls_ca_file[0] && anchors_add_file(cfg->tls_ca_file, err, sizeof err) < 0) {
		fprintf(stderr, "tern: TERN_TLS_CA_FILE: %s\n", err);
		return 2;
	}

	struct src *s = calloc(1, sizeof *s);
	struct buf resp;
	buf_init(&resp, MSG_MAX + LINE_MAX_);
	if (!s || src_connect(s, host, port, tls, err, sizeof err) != 0 || src_response(s, &resp) != 0 ||
	    strncmp(buf_data(&resp), "* OK", 4) != 0) {
		fprintf(stderr, "tern: %s\n", s && err[0] ? err : "no greeting from the server");
		rc = 1;
		goto out;
	}
	if (quoted(user, q1, sizeof q1) || quoted(pw, q2, sizeof q2)) {
		fprintf(stderr, "tern: user or password cannot be sent\n");
		rc = 1;
		goto out;
	}
	snprintf(cmd, sizeof cmd, "LOGIN %s %s", q1, q2);
	explicit_bzero(pw, sizeof pw);
	if (src_cmd(s, cmd, NULL, NULL, &resp, err, sizeof err) != 0) {
		explicit_bzero(cmd, sizeof cmd);
		fprintf(stderr, "tern: login refused: %s\n", err);
		rc = 1;
		goto out;
	}
	explicit_bzero(cmd, sizeof cmd);
	struct folders fl = {0};
	if (src_cmd(s, "LIST \"\" \"*\"", list_cb, &fl, &resp, err, sizeof err) != 0) {
		fprintf(stderr, "tern: LIST failed: %s\n", err);
		rc = 1;
		goto out;
	}
	struct store *st = cli_store_open(cfg, 0);
	struct imp *im = st ? import_begin(st, email, "migrate") : NULL;
	if (!im) {
		store_close(&st);
		rc = 1;
		goto out;
	}
	int irc = 0;
	for (size_t i = 0; i < fl.n && irc == 0 && !import_fatal(im); i++) {
		struct fetch_ctx fc = {im, 0};
		if (quoted(fl.names[i], q1, sizeof q1) || import_mailbox(im, fl.local[i]) != 0) {
			irc = -1;
			break;
		}
		snprintf(cmd, sizeof cmd, "EXAMINE %s", q1);
		if (src_cmd(s, cmd, NULL, NULL, &resp, err, sizeof err) != 0) {
			fprintf(stderr, "tern: skipping %s: %s\n", fl.names[i], err);
			continue;
		}
		if (src_cmd(s, "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])", fetch_cb, &fc, &resp, err,
		            sizeof err) != 0) {
			fprintf(stderr, "tern: fetching %s failed: %s\n", fl.names[i], err);
			irc = -1;
		}
		import_flush(im);
	}
	src_cmd(s, "LOGOUT", NULL, NULL, &resp, err, sizeof err);
	rc = import_end(im, email, irc);
	store_close(&st);
	for (size_t i = 0; i < fl.n; i++) {
		free(fl.names[i]);
		free(fl.local[i]);
	}
	free(fl.names);
	free(fl.local);
out:
	if (s && s->fd >= 0)
		close(s->fd);
	free(s);
	buf_free(&resp);
	return rc;
usage:
	return cli_usage("migrate");
}
