/*
 * migrate_sieve.c — the ManageSieve side of `tern migrate --sieve`
 * (migrate_sieve.h).
 *
 * RFC 5804 as a client needs little: the greeting is a capability list
 * ended by OK; STARTTLS, after which the server sends the list again (the
 * one before TLS is not trusted); AUTHENTICATE "PLAIN" with an initial
 * response; LISTSCRIPTS (a name, " ACTIVE" on the active one); GETSCRIPT
 * (the script as a literal); LOGOUT. Strings and literals are IMAP's, so
 * responses are gathered by cli_client_response and read by imapr_string.
 *
 * A script goes through tern's Sieve compiler before it is stored, as a
 * PUTSCRIPT would: a script tern cannot run must not become the one that
 * decides where mail goes. It is reported, and the run fails, so the user
 * knows to look; the other scripts are still copied. The source's active
 * script is made active here through the check every activation takes
 * (cli_sieve_activate): one that would fail at every delivery here (an
 * include of a script not copied...) is reported and stays inactive.
 */
#include "cli/migrate_sieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "backup/imap_resp.h"
#include "cli/cli.h"
#include "cli/cli_client.h"
#include "core/buf.h"
#include "sieve/sieve.h"
#include "store/store.h"

#define MS_LINE_MAX ((size_t)16 << 10)
#define MS_SCRIPTS_MAX 256

struct ms_caps {
	int starttls, plain;
};

struct ms_list {
	char *names[MS_SCRIPTS_MAX];
	size_t n;
	int active; /* index of the active one, -1 for none */
};

typedef void ms_line_fn(void *arg, const char *p, size_t len);

/* Whether a response line is the end of a command: 1 OK, 0 NO or BYE,
 * -1 for any other line. */
static int ms_final(const char *p, size_t len)
{
	static const struct {
		const char *w;
		int ok;
	} f[] = {{"OK", 1}, {"NO", 0}, {"BYE", 0}};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		size_t n = strlen(f[i].w);
		if (len >= n && strncasecmp(p, f[i].w, n) == 0 &&
		    (len == n || p[n] == ' ' || p[n] == '\r' || p[n] == '\n' || p[n] == '('))
			return f[i].ok;
	}
	return -1;
}

/* Sends cmd (NULL: none, for the greeting) and reads up to the OK, NO
 * or BYE that ends it, giving other responses to fn: 0 for OK, else -1
 * with the server's words or the connection's fate in err. */
static int ms_cmd(struct cli_client *c, const char *cmd, ms_line_fn *fn, void *arg, struct buf *resp,
                  char *err, size_t errsz)
{
	if (cmd && (cli_client_write(c, cmd, strlen(cmd)) || cli_client_write(c, "\r\n", 2)))
		return snprintf(err, errsz, "cannot send: %s", cli_client_error(c)), -1;
	for (;;) {
		if (cli_client_response(c, resp, MS_LINE_MAX, STORE_SIEVE_BYTES_MAX))
			return snprintf(err, errsz, "%s, or a response too long", cli_client_error(c)), -1;
		const char *p = buf_data(resp);
		size_t len = buf_len(resp);
		int f = ms_final(p, len);
		if (f == 1)
			return 0;
		if (f == 0) {
			while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
				len--;
			return snprintf(err, errsz, "%.*s", (int)(len > 300 ? 300 : len), p), -1;
		}
		if (fn)
			fn(arg, p, len);
	}
}

static void caps_fn(void *arg, const char *p, size_t len)
{
	struct ms_caps *caps = arg;
	struct buf name, val;
	size_t off = 0;
	buf_init(&name, 64);
	buf_init(&val, 1024);
	if (imapr_string(p, len, &off, &name) == 0) {
		if (buf_len(&name) == 8 && strncasecmp(buf_data(&name), "STARTTLS", 8) == 0)
			caps->starttls = 1;
		if (buf_len(&name) == 4 && strncasecmp(buf_data(&name), "SASL", 4) == 0 &&
		    imapr_string(p, len, &off, &val) == 0 && buf_append(&val, " ", 2) == 0) {
			/* A space-separated list of mechanisms. */
			for (char *w = strtok(buf_data(&val), " "); w; w = strtok(NULL, " "))
				if (strcasecmp(w, "PLAIN") == 0)
					caps->plain = 1;
		}
	}
	buf_free(&name);
	buf_free(&val);
}

static void list_fn(void *arg, const char *p, size_t len)
{
	struct ms_list *l = arg;
	struct buf name;
	size_t off = 0;
	buf_init(&name, STORE_SIEVE_NAME_MAX + 1); /* and its NUL */
	if (l->n < MS_SCRIPTS_MAX && imapr_string(p, len, &off, &name) == 0 &&
	    buf_append(&name, "", 1) == 0 && (l->names[l->n] = strdup(buf_data(&name))) != NULL) {
		while (off < len && p[off] == ' ')
			off++;
		if (len - off >= 6 && strncasecmp(p + off, "ACTIVE", 6) == 0)
			l->active = (int)l->n;
		l->n++;
	} else {
		fprintf(stderr, "tern: a script name from the server cannot be used: %.*s\n",
		        (int)(len > 200 ? 200 : len), p);
	}
	buf_free(&name);
}

static void script_fn(void *arg, const char *p, size_t len)
{
	struct buf *text = arg;
	size_t off = 0;
	buf_reset(text);
	if (imapr_string(p, len, &off, text) != 0)
		buf_reset(text);
}

/* Copies one script: 0 stored, 1 not (reported). */
static int copy_one(struct cli_client *c, struct store *st, uint32_t account, const char *name,
                    struct buf *resp, struct buf *text)
{
	char q[STORE_SIEVE_NAME_MAX * 2 + 16], cmd[sizeof q + 16], err[SIEVE_ERROR_MAX];
	if (cli_client_quote(name, q, sizeof q) != 0 || !store_sieve_name_valid(name)) {
		fprintf(stderr, "tern: Sieve script \"%s\": its name cannot be used here\n", name);
		return 1;
	}
	snprintf(cmd, sizeof cmd, "GETSCRIPT %s", q);
	buf_reset(text);
	if (ms_cmd(c, cmd, script_fn, text, resp, err, sizeof err) != 0) {
		fprintf(stderr, "tern: Sieve script \"%s\": %s\n", name, err);
		return 1;
	}
	struct sieve_script *s = sieve_compile(buf_data(text), buf_len(text), err);
	if (!s) {
		fprintf(stderr, "tern: Sieve script \"%s\" not copied: tern cannot run it: %s\n", name, err);
		return 1;
	}
	sieve_script_free(&s);
	int rc = store_sieve_put(st, account, name, buf_data(text), buf_len(text), (int64_t)time(NULL));
	if (rc != STORE_OK) {
		fprintf(stderr, "tern: Sieve script \"%s\" not stored: %s\n", name, cli_sieve_store_msg(rc));
		return 1;
	}
	return 0;
}

int migrate_sieve(struct store *st, const char *email, const char *host, const char *port,
                  int need_tls, const char *user, const char *pw)
{
	char err[512], plain[1100], b64[1600], cmd[1700];
	struct ms_caps caps = {0};
	struct ms_list l = {.active = -1};
	struct buf resp, text;
	uint32_t account;
	int rc = 1;
	size_t copied = 0;

	if (store_account_id(st, email, &account) != STORE_OK) {
		fprintf(stderr, "tern: no account %s\n", email);
		return 1;
	}
	struct cli_client *c = cli_client_connect(host, port, 0, err, sizeof err);
	if (!c) {
		fprintf(stderr, "tern: ManageSieve: %s\n", err);
		return 1;
	}
	buf_init(&resp, STORE_SIEVE_BYTES_MAX + MS_LINE_MAX);
	buf_init(&text, STORE_SIEVE_BYTES_MAX);
	if (ms_cmd(c, NULL, caps_fn, &caps, &resp, err, sizeof err) != 0) {
		fprintf(stderr, "tern: ManageSieve greeting: %s\n", err);
		goto out;
	}
	if (caps.starttls) {
		caps = (struct ms_caps){0};
		if (ms_cmd(c, "STARTTLS", NULL, NULL, &resp, err, sizeof err) != 0 ||
		    cli_client_starttls(c, err, sizeof err) != 0 ||
		    ms_cmd(c, NULL, caps_fn, &caps, &resp, err, sizeof err) != 0) {
			fprintf(stderr, "tern: ManageSieve STARTTLS: %s\n", err);
			goto out;
		}
	} else if (need_tls) {
		fprintf(stderr, "tern: ManageSieve on %s:%s offers no STARTTLS; the password is not sent in "
		                "clear text\n", host, port);
		goto out;
	}
	if (!caps.plain) {
		fprintf(stderr, "tern: ManageSieve on %s:%s offers no PLAIN login\n", host, port);
		goto out;
	}
	size_t ul = strlen(user), pl = strlen(pw);
	if (ul + pl + 2 > sizeof plain) {
		fprintf(stderr, "tern: ManageSieve: user or password too long\n");
		goto out;
	}
	plain[0] = '\0';
	memcpy(plain + 1, user, ul);
	plain[1 + ul] = '\0';
	memcpy(plain + 2 + ul, pw, pl);
	int enc = base64_encode(plain, ul + pl + 2, 0, b64, sizeof b64);
	explicit_bzero(plain, sizeof plain);
	if (enc < 0) {
		fprintf(stderr, "tern: ManageSieve: user or password too long\n");
		goto out;
	}
	snprintf(cmd, sizeof cmd, "AUTHENTICATE \"PLAIN\" \"%s\"", b64);
	explicit_bzero(b64, sizeof b64);
	int ar = ms_cmd(c, cmd, NULL, NULL, &resp, err, sizeof err);
	explicit_bzero(cmd, sizeof cmd);
	if (ar != 0) {
		fprintf(stderr, "tern: ManageSieve login refused: %s\n", err);
		goto out;
	}
	if (ms_cmd(c, "LISTSCRIPTS", list_fn, &l, &resp, err, sizeof err) != 0) {
		fprintf(stderr, "tern: ManageSieve LISTSCRIPTS: %s\n", err);
		goto out;
	}
	int bad = 0, active_copied = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (copy_one(c, st, account, l.names[i], &resp, &text) == 0) {
			copied++;
			active_copied |= (int)i == l.active;
		} else {
			bad = 1;
		}
	}
	ms_cmd(c, "LOGOUT", NULL, NULL, &resp, err, sizeof err);
	/* one that would fail at every delivery here stays inactive */
	int made = active_copied && cli_sieve_activate(st, account, l.names[l.active]) == 0;
	bad |= active_copied && !made;
	printf("sieve: %zu of %zu scripts copied%s%s%s\n", copied, l.n,
	       l.active < 0 ? "" : made ? " (active: " : " (not made active: ",
	       l.active >= 0 ? l.names[l.active] : "", l.active >= 0 ? ")" : "");
	rc = bad;
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.names[i]);
	cli_client_close(&c);
	buf_free(&resp);
	buf_free(&text);
	return rc;
}
