/*
 * cmd_urlauth.c — URLAUTH (RFC 4467): GENURLAUTH, RESETKEY, URLFETCH.
 *
 * A mailbox's access key is 32 random octets kept as a METADATA entry of
 * the mailbox under the name "urlauth" (no leading "/", so no IMAP
 * command can name, read or change it; it goes with the mailbox on
 * DELETE). GENURLAUTH signs an absolute URL of the user's own
 * ("imap://user@host/mailbox[;UIDVALIDITY=n]/;UID=n[...][;EXPIRE=t]
 * ;URLAUTH=access") with the INTERNAL mechanism: the token is the first
 * 16 octets of HMAC-SHA-256(key, URL up to the access), in hex, and the
 * key is made the first time. RESETKEY makes new keys (one mailbox, or
 * all), so every URL signed before stops working.
 *
 * URLFETCH gives each URL's octets ("* URLFETCH url data"), or NIL when
 * the URL is not valid for this session: wrong token or mechanism, past
 * its EXPIRE, an access that is not this user ("user+name"), not a
 * logged-in user ("authuser" needs one, "anonymous" anyone), "submit+"
 * (kept for the submission server, BURL), or naming nothing. Writes (a
 * new key) run on the worker pool; reads on the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "core/xalloc.h"
#include "imap/imap_session.h"
#include "imap/imap_url.h"
#include "imap/imap_urlauth.h"
#include "imap/imap_utf7.h"

#define KEY_NAME "urlauth"
#define KEY_LEN 32
#define TOKEN_LEN 16
#define MAX_URLS 100

struct key_find {
	uint8_t key[KEY_LEN];
	int found;
};

static void key_cb(void *arg, struct str name, struct str value)
{
	struct key_find *k = arg;
	if (str_eq(name, str_c(KEY_NAME)) && value.len == KEY_LEN) {
		memcpy(k->key, value.p, KEY_LEN);
		k->found = 1;
	}
}

/* The mailbox's key: 1 found, 0 none, -1 store error. */
static int key_get(uint32_t account, uint32_t mailbox, uint8_t key[KEY_LEN])
{
	struct key_find k = { 0 };
	if (store_metadata_get(imap_store, account, mailbox, key_cb, &k) != STORE_OK)
		return -1;
	memcpy(key, k.key, KEY_LEN);
	return k.found;
}

/* A new random key (worker thread). STORE_* code. */
static int key_reset(uint32_t account, uint32_t mailbox, uint8_t key[KEY_LEN])
{
	uint8_t k[KEY_LEN];
	randombytes_buf(k, sizeof(k));
	struct store_metadata e = { str_c(KEY_NAME), str_make((const char *)k, KEY_LEN) };
	int r = store_metadata_set(imap_store, account, mailbox, &e, 1);
	if (key)
		memcpy(key, k, KEY_LEN);
	return r;
}

static void token_hex(const uint8_t key[KEY_LEN], const char *rump, size_t n, char out[2 * TOKEN_LEN + 1])
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)rump, n);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 2 * TOKEN_LEN + 1, mac, TOKEN_LEN);
}

/* The URL's mailbox in the owner's account; 0 or -1. */
static int url_mailbox(struct imap_session *s, uint32_t account, const struct imap_url *u,
		       uint32_t *mailbox_r)
{
	char name[1024];
	struct imap_arg a = { .type = IMAP_ARG_STRING, .str = str_c(u->mailbox) };
	if (imap_mailbox_name(s, &a, name, sizeof(name)) < 0)
		return -1;
	return store_mailbox_find(imap_store, account, name, mailbox_r) == STORE_OK ? 0 : -1;
}

/* ---- GENURLAUTH ---- */

struct gen_item {
	uint32_t mailbox;
	size_t rump_len;
	char url[2048]; /* the rump (NUL-terminated) */
	char token[2 * TOKEN_LEN + 1];
};

/* One malloc'ed block in j->keywords, freed with the job. */
struct gen_job {
	size_t n;
	int reset; /* RESETKEY: 1 every mailbox, 2 one mailbox */
	struct gen_item it[];
};

static void gen_run(struct imap_job *j)
{
	struct gen_job *g = (struct gen_job *)(void *)j->keywords;
	uint8_t key[KEY_LEN];

	j->result = STORE_OK;
	for (size_t i = 0; i < g->n && j->result == STORE_OK; i++) {
		struct gen_item *it = &g->it[i];
		if (g->reset) {
			j->result = key_reset(j->account, it->mailbox, NULL);
			continue;
		}
		int r = key_get(j->account, it->mailbox, key);
		if (r < 0)
			j->result = STORE_ETEMP;
		else if (r == 0)
			j->result = key_reset(j->account, it->mailbox, key);
		if (j->result == STORE_OK)
			token_hex(key, it->url, it->rump_len, it->token);
	}
}

static void gen_done(struct imap_session *s, struct imap_job *j)
{
	struct gen_job *g = (struct gen_job *)(void *)j->keywords;

	if (j->result == STORE_EFULL) { /* a new key is a write: the disk, not a bug */
		imap_disk_full(s);
		goto out;
	}
	if (j->result != STORE_OK) {
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
		goto out;
	}
	if (g->reset) {
		/* RFC 4467's RESETKEY example answers a mailbox's reset with its
		 * mechanisms in URLMECH (as Dovecot does). */
		imap_tagged(s, g->reset == 2 ? "OK [URLMECH INTERNAL] Resetkey completed." :
					       "OK Resetkey completed.");
		goto out;
	}
	struct buf b;
	buf_init(&b, g->n * 2200 + 64);
	buf_append_c(&b, "* GENURLAUTH");
	for (size_t i = 0; i < g->n; i++) {
		/* The rump may take all of url[]: room for it, the mechanism
		 * and the token (a 2048-octet buffer cut a rump of over 2005
		 * octets' token short, a URL no URLFETCH could use). */
		char full[sizeof g->it[i].url + sizeof ":internal:" + 2 * TOKEN_LEN];
		snprintf(full, sizeof(full), "%s:internal:%s", g->it[i].url, g->it[i].token);
		buf_append_c(&b, " ");
		imap_append_string(&b, str_c(full));
	}
	buf_append_c(&b, "\r\n");
	imap_write_big(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_tagged(s, "OK Genurlauth completed.");
out:;
}

static void bad(struct imap_session *s, const char *cmd, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command %s: %s", cmd, why);
	imap_session_error(s);
}

static void badurl(struct imap_session *s, struct str url, const char *why)
{
	char shown[512];
	size_t k = 0;
	for (size_t i = 0; i < url.len && k + 1 < sizeof(shown); i++)
		if (url.p[i] != ']' && url.p[i] != '\r' && url.p[i] != '\n' && url.p[i])
			shown[k++] = url.p[i];
	shown[k] = '\0';
	imap_tagged(s, "NO [BADURL %s] %s", shown, why);
}

static void cmd_genurlauth(struct imap_session *s, const struct imap_cmd *cmd)
{
	size_t n = cmd->nargs;

	if (n == 0 || n % 2 || n / 2 > MAX_URLS) {
		bad(s, "GENURLAUTH", "Invalid arguments");
		return;
	}
	struct gen_job *g = xcalloc(1, sizeof(*g) + (n / 2) * sizeof(g->it[0]));
	for (size_t i = 0; i < n; i += 2) {
		struct str url, mech;
		struct imap_url_auth a;
		struct gen_item *it = &g->it[g->n];
		if (imap_arg_astring(&cmd->args[i], &url) < 0 ||
		    imap_arg_atom(&cmd->args[i + 1], &mech) < 0) {
			bad(s, "GENURLAUTH", "Invalid arguments");
			goto fail;
		}
		if (!str_eq_ci_c(mech, "INTERNAL")) {
			bad(s, "GENURLAUTH", "Unknown URLAUTH mechanism");
			goto fail;
		}
		if (imap_url_parse_auth(url, &a) < 0 || a.mech[0]) {
			badurl(s, url, "Invalid URLAUTH URL");
			goto fail;
		}
		if (strcasecmp(a.user, s->login) != 0) {
			badurl(s, url, "Not your own URL");
			goto fail;
		}
		if (url_mailbox(s, s->account, &a.u, &it->mailbox) < 0) {
			badurl(s, url, "Mailbox doesn't exist");
			goto fail;
		}
		if (a.rump_len >= sizeof(it->url)) {
			badurl(s, url, "URL too long");
			goto fail;
		}
		it->rump_len = a.rump_len;
		memcpy(it->url, url.p, a.rump_len);
		g->n++;
	}
	struct imap_job *j = imap_job_new(s);
	j->keywords = (char *)g;
	j->run = gen_run;
	j->done = gen_done;
	imap_job_submit(s, j);
	return;
fail:
	free(g);
}

struct list_ids {
	uint32_t *id;
	size_t n, cap;
};

static void ids_cb(void *arg, const struct store_mailbox_info *i)
{
	struct list_ids *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->id = xrealloc(l->id, l->cap * sizeof(*l->id));
	}
	l->id[l->n++] = i->id;
}

static void cmd_resetkey(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct gen_job *g;
	if (cmd->nargs == 0) {
		/* Every mailbox's key. */
		struct list_ids l = { 0 };
		if (store_mailbox_list(imap_store, s->account, ids_cb, &l) != STORE_OK) {
			free(l.id);
			imap_tagged(s, "NO [SERVERBUG] Internal error.");
			return;
		}
		g = xcalloc(1, sizeof(*g) + (l.n + 1) * sizeof(g->it[0]));
		for (size_t i = 0; i < l.n; i++)
			g->it[g->n++].mailbox = l.id[i];
		free(l.id);
	} else {
		g = xcalloc(1, sizeof(*g) + sizeof(g->it[0]));
		char name[1024];
		uint32_t mb;
		for (size_t i = 1; i < cmd->nargs; i++) {
			struct str mech;
			if (imap_arg_atom(&cmd->args[i], &mech) < 0 || !str_eq_ci_c(mech, "INTERNAL")) {
				free(g);
				bad(s, "RESETKEY", "Unknown URLAUTH mechanism");
				return;
			}
		}
		if (imap_mailbox_arg(s, &cmd->args[0], name, sizeof(name)) < 0) {
			free(g);
			return;
		}
		if (store_mailbox_find(imap_store, s->account, name, &mb) != STORE_OK) {
			free(g);
			imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
			return;
		}
		g->it[g->n++].mailbox = mb;
	}
	g->reset = cmd->nargs ? 2 : 1;
	struct imap_job *j = imap_job_new(s);
	j->keywords = (char *)g;
	j->run = gen_run;
	j->done = gen_done;
	imap_job_submit(s, j);
}

/* ---- URLFETCH ---- */

/* The URL's mailbox in the owner's account without a session: its name
 * as modified UTF-7, else as UTF-8 (the client that signed it may have
 * enabled UTF8=ACCEPT). 0 or -1. */
static int url_mailbox_any(uint32_t account, const char *enc, uint32_t *mailbox_r)
{
	struct buf b;
	char name[1024];
	int r = -1;

	if (strcasecmp(enc, "INBOX") == 0)
		return store_mailbox_find(imap_store, account, "INBOX", mailbox_r) == STORE_OK ? 0 : -1;
	buf_init(&b, sizeof(name) - 1);
	if (imap_utf7_to_utf8(str_c(enc), &b) == IMAP_UTF7_OK && buf_len(&b) < sizeof(name)) {
		memcpy(name, buf_data(&b), buf_len(&b));
		name[buf_len(&b)] = '\0';
		r = store_mailbox_find(imap_store, account, name, mailbox_r) == STORE_OK ? 0 : -1;
	}
	buf_free(&b);
	if (r < 0)
		r = store_mailbox_find(imap_store, account, enc, mailbox_r) == STORE_OK ? 0 : -1;
	return r;
}

int imap_urlauth_fetch(struct imap_session *s, const char *login, int submit, struct str url,
		       struct buf *b)
{
	struct imap_url_auth a;
	uint32_t owner, mailbox;
	uint8_t key[KEY_LEN];
	char want[2 * TOKEN_LEN + 1];
	int toobig;

	if (!imap_store || imap_url_parse_auth(url, &a) < 0 || strcasecmp(a.mech, "INTERNAL") != 0 ||
	    strlen(a.token) != 2 * TOKEN_LEN)
		return -1;
	if (a.expire && a.expire <= (int64_t)time(NULL))
		return -1;
	/* Who may: anyone; a logged-in user; that user; the submission
	 * server for that user. */
	if ((strcmp(a.access, "authuser") == 0 && !login) ||
	    (strcmp(a.access, "user") == 0 && (!login || strcasecmp(a.access_user, login) != 0)) ||
	    (strcmp(a.access, "submit") == 0 &&
	     (!submit || !login || strcasecmp(a.access_user, login) != 0)))
		return -1;
	char lower[sizeof(a.user)];
	size_t k;
	for (k = 0; a.user[k]; k++)
		lower[k] = a.user[k] >= 'A' && a.user[k] <= 'Z' ? (char)(a.user[k] + 32) : a.user[k];
	lower[k] = '\0';
	if (store_account_id(imap_store, lower, &owner) != STORE_OK ||
	    (s ? url_mailbox(s, owner, &a.u, &mailbox) : url_mailbox_any(owner, a.u.mailbox, &mailbox)) < 0 ||
	    key_get(owner, mailbox, key) != 1)
		return -1;
	token_hex(key, url.p, a.rump_len, want);
	char got[2 * TOKEN_LEN + 1];
	for (k = 0; k < 2 * TOKEN_LEN; k++)
		got[k] = a.token[k] >= 'A' && a.token[k] <= 'F' ? (char)(a.token[k] + 32) : a.token[k];
	got[k] = '\0';
	if (sodium_memcmp(got, want, 2 * TOKEN_LEN) != 0)
		return -1;
	if (imap_url_read_at(s, owner, mailbox, &a.u, b, &toobig))
		return toobig ? -2 : -1;
	return 0;
}

static void cmd_urlfetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs == 0 || cmd->nargs > MAX_URLS) {
		bad(s, "URLFETCH", "Invalid arguments");
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		struct str url;
		struct buf data, out;
		if (imap_arg_astring(&cmd->args[i], &url) < 0) {
			bad(s, "URLFETCH", "Invalid arguments");
			return;
		}
		buf_init(&data, imap_append_limit());
		buf_init(&out, 2 * url.len + 64);
		buf_append_c(&out, "* URLFETCH ");
		imap_append_string(&out, url);
		int found = imap_urlauth_fetch(s, s->login, 0, url, &data) == 0;
		if (!found)
			buf_append_c(&out, " NIL\r\n");
		else
			buf_printf(&out, " %s{%zu}\r\n", memchr(buf_data(&data), '\0', buf_len(&data)) ? "~" : "",
				   buf_len(&data));
		/* The whole answer waits in s->pend, which has a ceiling: a few
		 * big messages (or one URL named four times) went past it and
		 * the session was closed with nothing sent. Stop before it. */
		if (buf_len(&s->pend) + buf_len(&out) + buf_len(&data) + 2 > IMAP_PEND_MAX) {
			buf_free(&data);
			buf_free(&out);
			imap_tagged(s, "NO [LIMIT] Too much URLFETCH data in one command; fetch the rest in another.");
			return;
		}
		imap_write_big(s, buf_data(&out), buf_len(&out));
		if (found) {
			imap_write_big(s, buf_data(&data), buf_len(&data));
			imap_write_big(s, "\r\n", 2);
		}
		buf_free(&data);
		buf_free(&out);
	}
	imap_tagged(s, "OK Urlfetch completed.");
}

void imap_cmd_urlauth(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->id == IMAP_CMD_GENURLAUTH)
		cmd_genurlauth(s, cmd);
	else if (cmd->id == IMAP_CMD_RESETKEY)
		cmd_resetkey(s, cmd);
	else
		cmd_urlfetch(s, cmd);
}
