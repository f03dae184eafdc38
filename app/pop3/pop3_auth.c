/*
 * pop3_auth.c — POP3 authentication: USER/PASS, AUTH PLAIN and LOGIN
 * (RFC 5034, with initial response) through the shared login flow
 * (auth/login.h), and the account lock table.
 *
 * Only over TLS. Before STLS every authentication command gets Dovecot's
 * "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS)
 * connections." — loopback is not exempt, a password in clear text on any
 * network is the thing TLS is there to prevent.
 *
 * Once the password matched, the login flow's after_ok hook (on the
 * worker) takes the account lock and reads the INBOX snapshot, so a large
 * maildrop is not listed on the loop either, and the lock is taken before
 * the snapshot: no other POP3 session can expunge between the two. The
 * conn stays paused while the flow runs, so pipelined commands wait
 * behind the reply.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "core/base64.h"
#include "auth/sasl_next.h"
#include "auth/scram_login.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "mime/mime_header_downgrade.h"
#include "net/conn.h"
#include "pop3/pop3_session.h"
#include "store/store.h"

#define PLAINTEXT_DISALLOWED                                                                    \
	"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."

/* The reply for each login outcome but LOGIN_OK, indexed by enum login_outcome. */
static const char *const replies[] = {
	[LOGIN_FAILED] = "-ERR [AUTH] Authentication failed.",
	[LOGIN_REFUSED] = "-ERR [SYS/TEMP] Too many failed logins; try again later.",
	[LOGIN_TEMP] = "-ERR [SYS/TEMP] Temporary authentication failure; try again later.",
	[LOGIN_IN_USE] = "-ERR [IN-USE] Mailbox is locked by another POP3 session",
};
/* RFC 5034 §4: a cancelled exchange fails. */
#define POP3_AUTH_ABORTED "-ERR Authentication aborted by client."

/* What after_ok hands over: the lock is held, the snapshot taken. */
struct maildrop {
	uint32_t account, mailbox, uidvalidity;
	struct pop3_msg *msgs;
	uint32_t nmsgs, cap;
	uint64_t total;
	struct arena *a; /* while listing: reading the MIME records */
	int utf8;        /* the UTF8 command was given: no header downgrade */
	/* While listing: indexes of the messages whose records cannot tell
	 * their size as sent (size_as_sent() reads those). */
	uint32_t *unsized, nunsized, capunsized;
};

static const char *const mech_names[] = { "none", "user", "plain", "login", "scram-sha-1",
					  "scram-sha-256" };

/* ---- the account lock table ---- */

static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *locked_ids;
static size_t nlocked, caplocked;

int pop3_lock_acquire(uint32_t account)
{
	int r = 0;

	pthread_mutex_lock(&lock_mu);
	for (size_t i = 0; i < nlocked; i++) {
		if (locked_ids[i] == account) {
			r = -1;
			goto out;
		}
	}
	/* One entry per logged-in session: bounded by the connection limits. */
	if (nlocked == caplocked) {
		caplocked = caplocked ? caplocked * 2 : 64;
		locked_ids = xrealloc(locked_ids, caplocked * sizeof(*locked_ids));
	}
	locked_ids[nlocked++] = account;
out:
	pthread_mutex_unlock(&lock_mu);
	return r;
}

void pop3_lock_release(uint32_t account)
{
	pthread_mutex_lock(&lock_mu);
	for (size_t i = 0; i < nlocked; i++) {
		if (locked_ids[i] == account) {
			locked_ids[i] = locked_ids[--nlocked];
			break;
		}
	}
	pthread_mutex_unlock(&lock_mu);
}

void pop3_auth_release(struct pop3_session *s)
{
	if (s->locked)
		pop3_lock_release(s->account);
	s->locked = 0;
}

static void maildrop_free(void *extra);

/* A SCRAM success held for the client's last response goes: its maildrop
 * is unlocked and freed. */
static void scram_ok_drop(struct pop3_session *s)
{
	if (s->scram_drop)
		maildrop_free(s->scram_drop);
	s->scram_drop = NULL;
	login_held_free(&s->scram_ok);
}

void pop3_auth_cancel_delay(struct pop3_session *s)
{
	login_abandon(&s->auth);
	session_watch_leave(&s->watch);
	sasl_login_end(&s->sasl);
	scram_ok_drop(s);
}

/* ---- on the worker ---- */

static void snapshot_mailbox(void *arg, const struct store_mailbox_info *info)
{
	struct maildrop *d = arg;
	if (info->id == d->mailbox)
		d->uidvalidity = info->uidvalidity;
}

static void snapshot_email(void *arg, const struct store_email_info *info)
{
	struct maildrop *d = arg;

	if (d->nmsgs == UINT32_MAX)
		return;
	if (d->nmsgs == d->cap) {
		d->cap = d->cap ? (d->cap > UINT32_MAX / 2 ? UINT32_MAX : d->cap * 2) : 256;
		d->msgs = xrealloc(d->msgs, (size_t)d->cap * sizeof(*d->msgs));
	}
	struct pop3_msg *m = &d->msgs[d->nmsgs++];
	m->uid = info->uid;
	m->email_id = info->email_id;
	/* The size as RETR sends it: bare LFs (a literal8 APPEND keeps them)
	 * go out as CRLF (pop3_stuff), counted from the message's MIME
	 * record, as Dovecot counts its virtual size. */
	uint64_t size = info->size, rsize, bare;
	if (info->meta &&
	    mime_cache_root_bare_lf(info->meta, info->metalen, d->a, &rsize, &bare) == 0 &&
	    rsize == info->size)
		size += bare;
	arena_reset(d->a);
	/* The rest comes from the record's flags when it has them: the CRLF
	 * added to a last line without one (sent_size), and whether the
	 * header is sent downgraded. Else the message is read, after the
	 * listing (size_as_sent): on a cold cache that is a disk read each. */
	int final_lf = mime_cache_final_lf(info->meta, info->metalen, info->size);
	int hdr_utf8 = d->utf8 ? 0 : mime_cache_header_utf8(info->meta, info->metalen, info->size);
	if (final_lf < 0 || hdr_utf8 != 0) {
		if (d->nunsized == d->capunsized) {
			d->capunsized = d->capunsized ? (d->capunsized > UINT32_MAX / 2
							     ? UINT32_MAX
							     : d->capunsized * 2)
						      : 64;
			d->unsized = xrealloc(d->unsized, (size_t)d->capunsized * sizeof(*d->unsized));
		}
		d->unsized[d->nunsized++] = d->nmsgs - 1;
	} else if (final_lf == 0) {
		size += 2;
	}
	/* A stored message is below 4 GiB (one LMDB value). */
	m->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	m->deleted = 0;
	m->read = 0;
	m->downgrade = 0;
	d->total += m->size;
}

static void maildrop_free(void *extra)
{
	struct maildrop *d = extra;
	pop3_lock_release(d->account);
	free(d->msgs);
	free(d->unsized);
	free(d);
}

/* Octets a bare LF adds when sent as CRLF: the bare LFs of p[0..n). */
static uint64_t bare_lfs(const char *p, size_t n)
{
	uint64_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n' && (i == 0 || p[i - 1] != '\r');
	return k;
}

struct sent_size {
	int check_utf8;  /* no UTF8 command: UTF-8 header fields are downgraded */
	int downgrade;   /* they are, for this message */
	int64_t delta;   /* octets sending adds to (or takes from) the size */
};

/*
 * On the message's bytes: what RETR sends beyond the stored size with
 * its bare LFs counted as CRLF. Without UTF8, a header with UTF-8 fields
 * goes out downgraded (pop3_mail.c), longer or shorter. And a message
 * whose last octet is not an LF (IMAP APPEND takes that, a bare CR too)
 * has a CRLF added to end its last line before the "." (refill_body):
 * RFC 1939 §5 and §11 make the scan listing the exact size as sent,
 * every line end counted as CRLF, so that CRLF is counted too.
 */
static void sent_size(void *arg, const char *data, size_t len)
{
	struct sent_size *ss = arg;
	char last = len ? data[len - 1] : '\n'; /* an empty message: nothing added */
	size_t hl = ss->check_utf8 ? mime_header_section_len(data, len) : 0;

	if (ss->check_utf8 && mime_header_needs_downgrade(data, hl)) {
		struct buf out;
		buf_init(&out, MIME_HEADER_DOWNGRADE_MAX(hl));
		if (mime_header_downgrade(data, hl, &out) == 0) {
			ss->downgrade = 1;
			ss->delta = (int64_t)(buf_len(&out) + bare_lfs(buf_data(&out), buf_len(&out))) -
				    (int64_t)(hl + bare_lfs(data, hl));
			/* All header: what is sent ends where the downgraded one does. */
			if (hl == len)
				last = buf_len(&out) ? buf_data(&out)[buf_len(&out) - 1] : '\n';
		}
		buf_free(&out);
	}
	if (last != '\n')
		ss->delta += 2;
}

/*
 * Sizes as RETR sends them (sent_size) the messages whose records could
 * not tell (d->unsized: records written before the flags, or a header to
 * downgrade). Reads each (zero-copy: its header when checking UTF-8, and
 * its last octet) once, here on the worker; a vanished message keeps its
 * size.
 */
static void size_as_sent(struct store *st, struct maildrop *d)
{
	for (uint32_t k = 0; k < d->nunsized; k++) {
		struct pop3_msg *m = &d->msgs[d->unsized[k]];
		struct sent_size ss = { .check_utf8 = !d->utf8 };
		if (store_email_raw(st, d->account, m->email_id, sent_size, &ss) != STORE_OK ||
		    (ss.delta == 0 && !ss.downgrade))
			continue;
		int64_t size = (int64_t)m->size + ss.delta;
		if (size < 0 || size > UINT32_MAX)
			continue;
		d->total = d->total - m->size + (uint64_t)size;
		m->size = (uint32_t)size;
		m->downgrade = (uint8_t)ss.downgrade;
	}
}

/* after_ok: the lock, then the snapshot under it. */
static enum login_outcome open_maildrop_with(struct store *st, uint32_t account, void **extra_r,
					     int utf8)
{
	if (pop3_lock_acquire(account) < 0)
		return LOGIN_IN_USE;
	struct maildrop *d = xcalloc(1, sizeof *d);
	d->account = account;
	d->utf8 = utf8;
	d->a = arena_new(4096);
	int rc = store_mailbox_find(st, account, "INBOX", &d->mailbox) != STORE_OK ||
	         store_mailbox_list(st, account, snapshot_mailbox, d) != STORE_OK ||
	         store_email_list(st, account, d->mailbox, snapshot_email, d) != STORE_OK ||
	         d->uidvalidity == 0;
	arena_free(&d->a);
	if (rc) {
		maildrop_free(d);
		return LOGIN_TEMP;
	}
	size_as_sent(st, d);
	free(d->unsized);
	d->unsized = NULL;
	*extra_r = d;
	return LOGIN_OK;
}

static enum login_outcome open_maildrop(struct store *st, uint32_t account, void **extra_r)
{
	return open_maildrop_with(st, account, extra_r, 1);
}

static enum login_outcome open_maildrop_ascii(struct store *st, uint32_t account, void **extra_r)
{
	return open_maildrop_with(st, account, extra_r, 0);
}

/* ---- back on the loop ---- */

static void revoked(void *arg, int gone)
{
	struct pop3_session *s = arg;

	/* POP3 has no unsolicited reply: the connection just ends, and what
	 * DELE marked stays (no UPDATE state without QUIT). */
	log_info("pop3", s->id, "event=credentials_revoked reason=%s",
		 gone ? "account_deleted" : "credentials_changed");
	if (!s->conn_gone)
		conn_close(s->conn, gone ? "account_deleted" : "credentials_changed");
}

/* The maildrop d (now ours) is the session's: TRANSACTION state. */
static void enter_transaction(struct pop3_session *s, struct maildrop *d, const char *user)
{
	conn_deadline(s->conn, 0, NULL, NULL); /* the login deadline */
	s->state = POP3_S_TRANSACTION;
	/* The bad-command count starts again, as in Dovecot's pop3 process
	 * after pop3-login: a client that probed AUTHORIZATION (commands of
	 * the wrong state, a cancelled AUTH) keeps its full allowance for the
	 * maildrop. Password guessing is bounded by the login flow. */
	s->errors = 0;
	snprintf(s->login, sizeof(s->login), "%s", user);
	s->account = d->account;
	s->mailbox = d->mailbox;
	s->uidvalidity = d->uidvalidity;
	s->locked = 1;
	s->msgs = d->msgs;
	s->nmsgs = d->nmsgs;
	s->total_size = d->total;
	free(d);
}

static void logged_in(struct pop3_session *s, const struct login_result *r)
{
	char q[POP3_USER_MAX * 4 + 8];

	enter_transaction(s, r->extra, r->user);
	session_watch_join(&s->watch, pop3_store, s->loop, r->account, r->apppass, r->cred, revoked,
			   s);
	log_info("pop3", s->id, "event=login user=%s mech=%s messages=%u size=%llu tls=%s",
		 log_q(s->login, q, sizeof(q)), r->mech, s->nmsgs,
		 (unsigned long long)s->total_size, conn_tls_version(s->conn));
	pop3_reply(s, "+OK Logged in.");
}

int pop3_auth_preauth(struct pop3_session *s, uint32_t account, const char *login)
{
	void *d;

	if (open_maildrop_with(pop3_store, account, &d, s->utf8) != LOGIN_OK)
		return -1;
	/* No watch on the credentials: the transport vouches for the peer. */
	enter_transaction(s, d, login);
	return 0;
}

static void login_done(void *arg, const struct login_result *r)
{
	struct pop3_session *s = arg;
	char q[POP3_USER_MAX * 4 + 8];

	s->auth = NULL;
	s->state = POP3_S_AUTHORIZATION;
	if (r->outcome == LOGIN_OK && r->scram_final && r->scram_final[0]) {
		/* SCRAM: the server-final message is a last challenge; the
		 * maildrop stays locked for the empty response (RFC 5034 §4). */
		char b64[SCRAM_FINAL_B64_MAX];
		s->scram_ok = login_hold(r);
		s->scram_drop = r->extra;
		base64_encode(r->scram_final, strlen(r->scram_final), 0, b64, sizeof b64);
		s->state = POP3_S_SASL;
		pop3_reply(s, "+ %s", b64);
	} else if (r->outcome == LOGIN_OK) {
		logged_in(s, r);
	} else {
		if (r->outcome == LOGIN_IN_USE)
			log_info("pop3", s->id, "event=login_refused user=%s reason=in_use",
				 log_q(r->user, q, sizeof(q)));
		pop3_reply(s, "%s", r->aborted ? POP3_AUTH_ABORTED : replies[login_reply_outcome(r)]);
		if (r->outcome == LOGIN_FAILED && pop3_session_error(s)) {
			pop3_flush(s);
			return;
		}
	}
	conn_pause_read(s->conn, 0);
	pop3_session_input(s);
	pop3_flush(s);
}

static const struct login_proto pop3_login = { "pop3", METRIC_AUTHFAIL_POP3, login_done };

/* Hands the credentials (or a reason they cannot succeed) to auth/login. */
static void auth_begin(struct pop3_session *s, enum pop3_mech mech, struct str user,
		       struct str pass, const char *malformed, const struct scram_server *scram)
{
	struct login_creds c = { mech_names[mech], user, pass, malformed, scram };
	struct login_request rq;

	login_request_init(&rq, &pop3_login, pop3_store, s->loop, s->id, s->conn->peer_ip, s, &c);
	rq.after_ok = s->utf8 ? open_maildrop : open_maildrop_ascii;
	rq.extra_free = maildrop_free;

	s->state = POP3_S_WAIT_AUTH;
	conn_pause_read(s->conn, 1);
	s->auth = login_start(&rq);
	sasl_login_end(&s->sasl);
	explicit_bzero(s->user, sizeof(s->user));
}

/* ---- commands ---- */

static int require_tls(struct pop3_session *s)
{
	if (pop3_secure(s))
		return 0;
	pop3_reply(s, PLAINTEXT_DISALLOWED);
	pop3_session_error(s);
	return -1;
}

void pop3_cmd_user(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (require_tls(s) < 0)
		return;
	if (cmd->arg.len > POP3_USER_MAX) {
		pop3_reply(s, "-ERR [AUTH] User name too long.");
		pop3_session_error(s);
		return;
	}
	/* RFC 6856 §2.2: with "UTF8 USER" announced, a user name that is not
	 * well-formed UTF-8 (RFC 3629) is refused; no account has one. */
	if (!utf8_valid(cmd->arg)) {
		pop3_reply(s, "-ERR [AUTH] User name is not valid UTF-8.");
		pop3_session_error(s);
		return;
	}
	memcpy(s->user, cmd->arg.p, cmd->arg.len);
	s->user[cmd->arg.len] = '\0';
	pop3_reply(s, "+OK");
}

void pop3_cmd_pass(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (require_tls(s) < 0)
		return;
	if (!s->user[0]) {
		pop3_reply(s, "-ERR No username given.");
		pop3_session_error(s);
		return;
	}
	char user[POP3_USER_MAX + 1];
	memcpy(user, s->user, sizeof(user));
	auth_begin(s, POP3_MECH_USER, str_c(user), cmd->arg, NULL, NULL);
	explicit_bzero(user, sizeof(user));
}

void pop3_cmd_apop(struct pop3_session *s, struct pop3_cmd *cmd)
{
	/* APOP needs the password in clear on the server; we keep argon2id only. */
	pop3_reply(s, "-ERR APOP is not supported.");
	pop3_session_error(s);
}

/* The running exchange's mechanism, as the log names it. */
static enum pop3_mech sasl_pop3_mech(const struct pop3_session *s)
{
	return s->sasl.mech == SASL_MECH_PLAIN		? POP3_MECH_PLAIN
	       : s->sasl.mech == SASL_MECH_SCRAM_SHA1	? POP3_MECH_SCRAM_SHA1
	       : s->sasl.mech == SASL_MECH_SCRAM_SHA256 ? POP3_MECH_SCRAM_SHA256
							: POP3_MECH_LOGIN;
}

/* One SASL response (initial or continuation), base64 as sent. */
static void sasl_step(struct pop3_session *s, struct str b64, int initial)
{
	char msg[SASL_RESPONSE_MAX];
	struct sasl_next n;
	enum pop3_mech mech = sasl_pop3_mech(s);

	sasl_next_step(&s->sasl, pop3_store, b64, initial, msg, &n);
	switch (n.what) {
	case SASL_NEXT_CHALLENGE:
		s->state = POP3_S_SASL;
		pop3_reply(s, "+ %s", n.challenge);
		break;
	case SASL_NEXT_LOGIN:
		auth_begin(s, mech, n.user, n.pass, n.malformed, n.scram);
		break;
	case SASL_NEXT_BAD_BASE64:
		s->state = POP3_S_AUTHORIZATION;
		sasl_login_end(&s->sasl);
		pop3_reply(s, "-ERR Invalid base64 data in %s response.",
			   initial ? "initial" : "continued");
		pop3_session_error(s);
		break;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(&n, sizeof(n));
}

void pop3_cmd_auth(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (cmd->arg.len == 0) {
		/* Bare AUTH lists the mechanisms (as Dovecot does); none in clear. */
		char list[128] = "";
		if (pop3_secure(s))
			sasl_mechs_each("", "\r\n", list, sizeof list);
		pop3_write(s, "+OK\r\n", 5);
		pop3_write(s, list, strlen(list));
		pop3_write(s, ".\r\n", 3);
		return;
	}
	if (require_tls(s) < 0)
		return;
	if (sasl_login_start_scram(&s->sasl, cmd->arg) < 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism.");
		pop3_session_error(s);
		return;
	}
	s->user[0] = '\0';
	if (cmd->has_initial) {
		sasl_step(s, cmd->initial, 1);
		return;
	}
	s->state = POP3_S_SASL;
	/* PLAIN and SCRAM have an empty challenge; LOGIN asks "Username:". */
	pop3_reply(s, s->sasl.mech != SASL_MECH_LOGIN ? "+ " : "+ " SASL_LOGIN_USERNAME);
}

void pop3_sasl_line(struct pop3_session *s, struct str line)
{
	if (s->scram_ok) {
		/* The answer to SCRAM's server-final challenge. */
		struct login_result r;
		s->state = POP3_S_AUTHORIZATION;
		if (line.len == 0) {
			login_held_result(s->scram_ok, &r);
			r.extra = s->scram_drop;
			s->scram_drop = NULL;
			logged_in(s, &r);
		} else {
			pop3_reply(s, POP3_AUTH_ABORTED);
		}
		scram_ok_drop(s);
		return;
	}
	if (str_eq(line, STR_LIT("*"))) {
		/* RFC 5034 §4: the client cancels; the AUTH command fails. */
		struct str user;
		if (sasl_login_cancel_counts(&s->sasl, &user)) {
			auth_begin(s, sasl_pop3_mech(s), user, STR_NULL, LOGIN_ABORTED, NULL);
			return;
		}
		s->state = POP3_S_AUTHORIZATION;
		sasl_login_end(&s->sasl);
		pop3_reply(s, POP3_AUTH_ABORTED);
		return;
	}
	sasl_step(s, line, 0);
}
