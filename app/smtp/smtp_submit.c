/*
 * smtp_submit.c — the submission policy (RFC 6409) on top of the shared
 * SMTP session: who may send, as whom, how much, and the way out through
 * DKIM signing and the outbound queue.
 *
 * Order of checks, each with Postfix's reply:
 *   MAIL  — TLS first (530 5.7.0 Must issue a STARTTLS command first),
 *           then AUTH (530 5.7.0 Authentication required), then the
 *           account's hourly rate (450 4.7.1), then the envelope sender
 *           must be an address of the account (553 5.7.1).
 *   RCPT  — anything once authenticated (smtp_session.c); local addresses
 *           that do not exist are still refused there.
 *   end of data — the From field (and Sender, Resent-From and
 *           Resent-Sender, when there are some) must hold only addresses
 *           of the account, none with a display name that shows another
 *           address (553 5.7.1), in a header section without broken
 *           lines (554 5.6.0): smtp_author.h, the check JMAP's
 *           EmailSubmission shares; missing Date and
 *           Message-ID are added; a From of one bare address gets the
 *           account's display name (named_from); the message
 *           is signed with the keys of the From domain on the worker pool;
 *           then queue_submit() commits it, and 250 goes out only from
 *           its done callback.
 *
 * "An address of the account" is what recipient resolution says: an
 * address is the account's when mail to it would reach the account — its
 * own address (and +tags), an alias that targets it, or an address of a
 * domain whose catch-all targets it, unless that address is an account
 * or alias of its own (nobody sends as another user through a catch-all).
 * The null sender is let through (as Postfix's reject_sender_login_mismatch
 * does): a mail program sends read receipts with it, as RFC 8098 §2.1 and
 * RFC 5321 §4.5.5 say; the From field is checked all the same.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/sasl.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/hex.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dkim/dkim.h"
#include "net/conn.h"
#include "mime/mime_date.h"
#include "mime/mime_header_downgrade.h"
#include "queue/queue.h"
#include "spam/spam_sent.h"
#include "smtp/smtp_author.h"
#include "smtp/smtp_headers.h"
#include "smtp/smtp_rate.h"
#include "smtp/smtp_session.h"
#include "store/store.h"

#define ADDED_MAX 512  /* Date and Message-ID fields we may add */

/* The signing job and the queue request of one message. */
struct submit_job {
	struct worker_job wj;
	struct smtp_session *s;
	char domain[DKIM_DOMAIN_MAX + 1]; /* "" = do not sign */
	const char *added;                /* Date/Message-ID fields we add */
	const char *from;                 /* a From field in place of the client's, or NULL */
	size_t from_start, from_end;      /* the client's From field in tx->data */
	struct spool out;                 /* the final message (core/spool.h) */
	struct str data;                  /* out as one range */
	int out_failed;                   /* out could not be built: no memory, disk error */
	int sign_rc;                      /* DKIM_OK, STORE_ENOTFOUND, ... for the log */
	unsigned nsigs;
	struct spam_sent_note sent;       /* written in the queue's commit (spam_sent.h) */
	int noting;                       /* sent holds a note */
	struct queue_request req;
};

void smtp_submit_ehlo(struct smtp_session *s)
{
	/* RFC 4954 §4 and RFC 3207 §4: no mechanism in clear text; nor
	 * once logged in (AUTH, or a transport that vouches for its peer:
	 * smtp_auth_preauth), when another AUTH can only get 503. */
	if (smtp_session_private(s) && !s->authenticated)
		smtp_reply(s, "250-AUTH %s", sasl_mechs());
	/* RFC 4468: message parts by URLAUTH URL of this server's IMAP. */
	smtp_reply(s, "250-BURL imap");
	/* RFC 4865 §3: the longest hold, and the latest release time it
	 * allows from now. */
	unsigned max = smtp_cfg->smtp_futurerelease_max_s;
	if (max) {
		char until[MIME_RFC3339_MAX];
		mime_rfc3339_format((int64_t)time_wall() + max, until);
		smtp_reply(s, "250-FUTURERELEASE %u %s", max, until);
	}
}

int smtp_submit_hold(struct smtp_session *s, const struct smtp_params *p, int64_t now,
		     int64_t *hold_until_r)
{
	unsigned max = smtp_cfg->smtp_futurerelease_max_s;
	int64_t until;

	*hold_until_r = 0;
	if (!(p->seen & (SMTP_PARAM_HOLDFOR | SMTP_PARAM_HOLDUNTIL)))
		return 0;
	if (max == 0) { /* not offered in EHLO */
		smtp_reply(s, "555 5.5.4 HOLDFOR/HOLDUNTIL not supported");
		smtp_session_error(s);
		return -1;
	}
	until = (p->seen & SMTP_PARAM_HOLDFOR) ? now + (int64_t)p->hold_for : p->hold_until;
	/* RFC 4865 §3: past max-future-release-interval (or -date-time,
	 * the same limit counted from now) is refused with 501 5.5.4. */
	if (until - now > (int64_t)max) {
		smtp_reply(s, "501 5.5.4 Requested release time is more than %u seconds ahead", max);
		smtp_session_error(s);
		return -1;
	}
	if (until <= now)
		return 0; /* HOLDFOR=0, or a HOLDUNTIL past: released at once */
	/* A Deliver By deadline (counted from MAIL, RFC 2852) that comes
	 * before the release could only fail or be late. */
	if ((p->seen & SMTP_PARAM_BY) && now + p->by_time <= until) {
		smtp_reply(s, "501 5.5.4 BY deadline comes before the release time");
		smtp_session_error(s);
		return -1;
	}
	*hold_until_r = until;
	return 0;
}

int smtp_submit_may_mail(struct smtp_session *s)
{
	char q[600];

	if (!smtp_session_private(s)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		smtp_session_error(s);
		return -1;
	}
	if (!s->authenticated) {
		smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_session_error(s);
		return -1;
	}
	if (!smtp_rate_allowed(s->account, loop_now_ms())) {
		log_info("smtp", s->id, "event=rate_limited user=%s limit=%u",
			 log_q(s->login, q, sizeof(q)), smtp_cfg->send_rate);
		smtp_reply(s, "450 4.7.1 Error: too much mail from %s; try again later", s->login);
		smtp_session_error(s); /* a refusal like the others: a loop on MAIL ends */
		return -1;
	}
	return 0;
}

/* 1 when mail to addr reaches account (see the top comment), 0 when
 * not, -1 when the store could not tell now (STORE_RCPT_TEMPFAIL); the
 * domain in either spelling (store_served_spelling). */
static int owns(struct store *st, uint32_t account, const char *addr)
{
	uint32_t ids[STORE_RESOLVE_ACCOUNTS_MAX];
	size_t n = 0;
	char a[SMTP_ADDRESS_BUF];

	if (snprintf(a, sizeof a, "%s", addr) >= (int)sizeof a)
		return 0;
	store_served_spelling(st, a, sizeof a);
	enum store_rcpt r = store_resolve_rcpt(st, a, ids, STORE_RESOLVE_ACCOUNTS_MAX, &n);

	if (r == STORE_RCPT_TEMPFAIL)
		return -1;
	if (r != STORE_RCPT_OK && r != STORE_RCPT_OVER_QUOTA)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] == account)
			return 1;
	return 0;
}

int smtp_submit_owned(struct store *st, uint32_t account, const char *addr)
{
	return owns(st, account, addr) == 1;
}

int smtp_submit_check_sender(struct smtp_session *s, const char *addr)
{
	char q[600], u[600];
	int o = addr[0] ? owns(smtp_store, s->account, addr) : 1;

	if (o == 1)
		return 0;
	/* A store error is no verdict on the address: 4xx, as RCPT says it
	 * (a 553 would have the client give up on a sender of its own). */
	if (o < 0) {
		log_info("smtp", s->id, "event=sender_deferred user=%s from=%s reason=lookup_failed",
			 log_q(s->login, u, sizeof(u)), log_q(addr, q, sizeof(q)));
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		smtp_session_error(s);
		return -1;
	}
	log_info("smtp", s->id, "event=sender_rejected user=%s from=%s reason=not_owned",
		 log_q(s->login, u, sizeof(u)), log_q(addr, q, sizeof(q)));
	smtp_reply(s, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s", addr,
		   s->login);
	smtp_session_error(s);
	return -1;
}

/* ---- end of data ---- */

/* The fields RFC 6409 §8.2/8.3 lets us add, as one string. */
static const char *added_fields(struct smtp_session *s, const struct smtp_headers *h)
{
	char date[MIME_DATE_MAX], id[33];
	const char *out = "";

	if (h->date_fields == 0) {
		mime_date_format((int64_t)time_wall(), date);
		out = arena_printf(s->tx.arena, "Date: %s\r\n", date);
	}
	if (h->msgid_fields == 0) {
		uint8_t rnd[16];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			/* Unique enough: the session id and transaction number. */
			snprintf(id, sizeof(id), "%s.%u.%" PRIu64, s->id, s->tx.seq, time_wall());
		} else {
			hex_encode(id, rnd, sizeof(rnd));
		}
		out = arena_printf(s->tx.arena, "%sMessage-ID: <%s@%s>\r\n", out, id,
				   hostname_now());
	}
	return out;
}

static void refuse(struct smtp_session *s, const char *why, const char *reply)
{
	log_info("smtp", s->id, "event=message_rejected reason=%s", why);
	smtp_reply(s, "%s", reply);
	smtp_tx_end(s);
	smtp_session_error(s);
}

/* The header-shape refusals, as data: smtp_author's verdict, the log's
 * reason, the reply. */
static const struct {
	enum smtp_author_verdict verdict;
	const char *why, *reply;
} shape_refusals[] = {
	{SMTP_AUTHOR_MALFORMED, "malformed_header",
	 "554 5.6.0 Error: malformed header line; header fields are \"Name: value\""},
	{SMTP_AUTHOR_NO_FROM, "no_from",
	 "554 5.6.0 Error: the message must have exactly one From header field"},
	{SMTP_AUTHOR_SEVERAL_FROM, "several_from",
	 "554 5.6.0 Error: the message must have exactly one From header field"},
	{SMTP_AUTHOR_TOO_MANY_RESENT, "too_many_resent",
	 "554 5.6.0 Error: too many Resent-From or Resent-Sender header fields"},
};

/* An author field with an address that is not the account's, or shown as
 * another: 553, and the log line naming both. */
static void refuse_owner(struct smtp_session *s, const struct smtp_author *v)
{
	char q[600], u[600];
	int own = v->verdict == SMTP_AUTHOR_NAME_SHOWS_OTHER;

	log_info("smtp", s->id, "event=from_rejected field=%s user=%s from=%s reason=%s", v->field,
		 log_q(s->login, u, sizeof(u)), log_q(v->addr, q, sizeof(q)),
		 own ? "name_shows_other" : "not_owned");
	if (own)
		smtp_reply(s, "553 5.7.1 <%s>: %s display name shows another address", v->addr,
			   v->field);
	else
		smtp_reply(s, "553 5.7.1 <%s>: %s address rejected: not owned by user %s", v->addr,
			   v->field, s->login);
	smtp_tx_end(s);
	smtp_session_error(s);
}

/* Replies to smtp_author_check()'s refusal v. */
static void refuse_author(struct smtp_session *s, const struct smtp_author *v)
{
	for (size_t i = 0; i < sizeof shape_refusals / sizeof shape_refusals[0]; i++)
		if (shape_refusals[i].verdict == v->verdict) {
			refuse(s, shape_refusals[i].why, shape_refusals[i].reply);
			return;
		}
	if (v->verdict == SMTP_AUTHOR_NOT_OWNED || v->verdict == SMTP_AUTHOR_NAME_SHOWS_OTHER) {
		refuse_owner(s, v);
		return;
	}
	/* UNPARSABLE, and SEVERAL_SENDER (a Sender field too many reads as
	 * one that is not one plain address). */
	const char *reply =
		arena_printf(s->tx.arena,
			     v->single ? "553 5.7.1 Error: %s header field must be one plain address"
				       : "553 5.7.1 Error: %s header field not understood; it "
					 "must be a list of plain addresses",
			     v->field);
	refuse(s, v->single ? "sender_unparsable" : "from_unparsable", reply);
}

/*
 * A From of one bare address (no display name) gets the account's display
 * name, when it has one (issue 31: "used by submission when a client sends
 * none"): j->from replaces the client's field. ASCII names go in a quoted
 * string; others as RFC 2047 encoded-words (mime_header_words_folded()).
 */
static void named_from(struct smtp_session *s, const struct smtp_headers *h, const char *addr,
		       struct submit_job *j)
{
	char name[STORE_DISPLAY_NAME_MAX + 1];
	struct buf b;
	int ascii = 1;
	size_t col = 6; /* "From: " */

	if (store_account_name(smtp_store, s->account, name, sizeof name) != STORE_OK || !name[0])
		return;
	/* The rule the client's own names follow: no other address shown. */
	if (smtp_author_name_shows_other(smtp_store, s->account, name, addr))
		return;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p >= 0x7f)
			ascii = 0;
	buf_init(&b, 2048);
	buf_append_c(&b, "From: ");
	if (ascii) {
		buf_append_c(&b, "\"");
		for (const char *p = name; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, p, 1);
		}
		buf_append_c(&b, "\"");
	} else {
		col = mime_header_words_folded(&b, str_c(name), col);
	}
	/* The address after its name, on a line of its own when the words'
	 * last line has no room for it (§2: at most 76 with words on it). */
	if (!ascii && col + 3 + strlen(addr) > 76)
		buf_append_c(&b, "\r\n");
	/* 2048 octets hold the longest name encoded (128 octets: about 230),
	 * so only the address could make it fail. */
	if (buf_printf(&b, " <%s>\r\n", addr) == 0) {
		j->from = arena_strndup(s->tx.arena, buf_data(&b), buf_len(&b));
		j->from_start = s->tx.header_len + (size_t)h->from_start;
		j->from_end = s->tx.header_len + (size_t)h->from_end;
	}
	buf_free(&b);
}

/*
 * Checks the author fields (smtp_author.h). Returns 0 with the domain to
 * sign for in domain_r (size DKIM_DOMAIN_MAX + 1; "" when it cannot be
 * signed), or -1 after replying.
 */
static int check_from(struct smtp_session *s, const struct smtp_headers *h, char *domain_r,
		      struct submit_job *j)
{
	struct smtp_author v;

	domain_r[0] = '\0';
	if (smtp_author_check(s->tx.arena, smtp_store, s->account, h, &v) < 0) {
		refuse_author(s, &v);
		return -1;
	}
	if (v.nfrom == 1 && v.from_names[0][0] == '\0' && h->from_end > h->from_start)
		named_from(s, h, v.from[0], j);
	/* DKIM d= is the (first) author's domain, the one DMARC aligns with. */
	const char *at = strrchr(v.from[0], '@');
	if (at)
		dkim_domain_ascii(at + 1, domain_r);
	return 0;
}

/* On the worker: sign (when there is a domain) and assemble the final bytes. */
static void sign_run(void *arg)
{
	struct submit_job *j = arg;
	struct smtp_tx *tx = &j->s->tx;
	const char *msg = tx->data.p;
	size_t len = tx->data.len, hl = tx->header_len, alen = strlen(j->added);
	struct buf sigs;

	buf_init(&sigs, STORE_DKIM_SIGS_MAX);
	j->sign_rc = DKIM_EINVAL;
	if (j->domain[0]) {
		/* What goes out, in order: our Received, the added fields, the
		 * client's message (its From replaced when named_from made one). */
		struct str p[5] = {str_make(msg, hl), str_make(j->added, alen)};
		size_t np = 2;
		if (j->from) {
			p[np++] = str_make(msg + hl, j->from_start - hl);
			p[np++] = str_make(j->from, strlen(j->from));
			p[np++] = str_make(msg + j->from_end, len - j->from_end);
		} else {
			p[np++] = str_make(msg + hl, len - hl);
		}
		j->sign_rc = store_dkim_sign(smtp_store, j->domain, p, np, &sigs, &j->nsigs);
	}
	/* The output has room for all of it (spool_init in
	 * smtp_submit_deliver); what fails here is memory or the disk. */
	size_t cut = j->from ? j->from_start : len, resume = j->from ? j->from_end : len;
	if (spool_append(&j->out, buf_data(&sigs), buf_len(&sigs)) < 0 ||
	    spool_append(&j->out, msg, hl) < 0 || spool_append(&j->out, j->added, alen) < 0 ||
	    spool_append(&j->out, msg + hl, cut - hl) < 0 ||
	    (j->from && spool_append(&j->out, j->from, strlen(j->from)) < 0) ||
	    spool_append(&j->out, msg + resume, len - resume) < 0 ||
	    spool_finish(&j->out, &j->data) < 0)
		j->out_failed = 1;
	buf_free(&sigs);
}

static void enqueued(struct queue_request *r, void *arg);

/* Back on the loop: hand the final message to the queue. */
static void sign_done(void *arg)
{
	struct submit_job *j = arg;
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = &s->tx;
	struct queue_request *r = &j->req;

	if (j->domain[0] && j->sign_rc != DKIM_OK)
		log_warn("smtp", s->id, "event=dkim_unsigned domain=%s result=%d", j->domain,
			 j->sign_rc);
	struct queue_rcpt *rc = arena_alloc(tx->arena, tx->nrcpts * sizeof(*rc));
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		unsigned nf = tx->rcpts[i].notify;
		rc[i].addr = tx->rcpts[i].address;
		rc[i].orcpt = tx->rcpts[i].orcpt;
		rc[i].notify = ((nf & SMTP_NOTIFY_NEVER) ? QUEUE_NOTIFY_NEVER : 0) |
			       ((nf & SMTP_NOTIFY_SUCCESS) ? QUEUE_NOTIFY_SUCCESS : 0) |
			       ((nf & SMTP_NOTIFY_FAILURE) ? QUEUE_NOTIFY_FAILURE : 0) |
			       ((nf & SMTP_NOTIFY_DELAY) ? QUEUE_NOTIFY_DELAY : 0);
	}
	memset(r, 0, sizeof(*r));
	if (j->out_failed) {
		r->result = STORE_ETEMP; /* answered 451 as a queue failure */
		enqueued(r, j);
		return;
	}
	r->data = j->data.p;
	r->len = j->data.len;
	r->sender = tx->mail_from;
	r->envid = tx->envid;
	r->flags = (tx->body == SMTP_BODY_8BITMIME ? QUEUE_8BITMIME : 0) |
		   (tx->smtputf8 ? QUEUE_SMTPUTF8 : 0) | (tx->ret == SMTP_RET_FULL ? QUEUE_RET_FULL : 0) |
		   (tx->ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS : 0) |
		   (tx->requiretls ? QUEUE_REQUIRETLS : 0) |
		   (tx->by ? QUEUE_BY : 0) | (tx->by_return ? QUEUE_BY_RETURN : 0) |
		   (tx->by_trace ? QUEUE_BY_TRACE : 0) |
		   (tx->hold_until ? QUEUE_HOLD : 0) |
		   QUEUE_SIEVE; /* local copies run their accounts' scripts */
	r->by_deadline = tx->by_deadline;
	r->hold_until = tx->hold_until;
	r->mt_priority = tx->mt_priority;
	r->virus_score = tx->sieve_virustest; /* 1: clamd found it clean (smtp_virus.c) */
	r->signed_by = j->domain[0] && j->sign_rc == DKIM_OK ? j->domain : NULL;
	r->rcpts = rc;
	r->nrcpts = tx->nrcpts;
	r->waits = arena_alloc(tx->arena, tx->nrcpts);
	r->account = s->account;
	r->received_at = (int64_t)time_wall();
	r->loop = s->loop;
	r->done = enqueued;
	r->arg = j;
	/* Replies to it will lean ham (spam/spam_sent.h): the note goes in
	 * the message's own commit, no commit of its own. */
	j->noting = spam_sent_note_make(&j->sent, s->account, j->added, strlen(j->added),
					tx->data.p + tx->header_len, tx->data.len - tx->header_len);
	if (j->noting) {
		r->txn_also = spam_sent_note_txn;
		r->txn_also_arg = &j->sent;
	}
	queue_submit(smtp_store, r);
}

static void enqueued(struct queue_request *r, void *arg)
{
	struct submit_job *j = arg;
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = &s->tx;
	char q[600], u[600];

	tx->submit_job = NULL;
	if (r->result == STORE_OK) {
		/* Counted even when the client has gone: the message will go. */
		smtp_rate_record(s->account, loop_now_ms());
		metrics_inc(METRIC_SENT);
		if (j->noting)
			spam_sent_noted(smtp_store);
		log_info("smtp", s->id, "event=submitted id=%s.%u queue_id=%" PRIu64 " user=%s from=%s "
			 "rcpts=%u local=%zu remote=%zu size=%zu dkim=%u hold_until=%lld", s->id, tx->seq,
			 r->queue_id, log_q(s->login, u, sizeof(u)), log_q(tx->mail_from, q, sizeof(q)),
			 tx->nrcpts, r->nlocal, r->nremote, r->len, j->nsigs, (long long)tx->hold_until);
		if (tx->hold_until) {
			char t[MIME_RFC3339_MAX];
			mime_rfc3339_format(tx->hold_until, t);
			smtp_reply(s, "250 2.0.0 Ok: queued as %s.%u, held until %s", s->id, tx->seq, t);
		} else {
			smtp_reply(s, "250 2.0.0 Ok: queued as %s.%u", s->id, tx->seq);
		}
		s->junk_cmds = 0; /* a message accepted: the session is doing work */
		s->errors = 0;    /* as on port 25 (smtp_tx.c) */
		for (unsigned i = 0; i < tx->nrcpts; i++)
			tx->rcpts[i].waits = r->waits[i];
		if (r->nlocal)
			smtp_tx_notify_delivered(s, r->data, r->len);
	} else if (r->result == STORE_EINVAL) {
		log_warn("smtp", s->id, "event=submit_refused result=%d", r->result);
		smtp_reply(s, "554 5.3.0 Error: the queue refused the message");
	} else if (r->result == STORE_EFULL) {
		log_warn("smtp", s->id, "event=submit_refused reason=storage_full size=%zu", r->len);
		smtp_reply(s, "452 4.3.1 Error: insufficient system storage, try again later");
	} else {
		log_error("smtp", s->id, "event=submit_failed result=%d", r->result);
		smtp_reply(s, "451 4.3.0 Error: queue failure, try again later");
	}
	spool_free(&j->out);
	free(j);
	smtp_tx_committed(s);
}

void smtp_submit_deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct smtp_headers h;

	if (smtp_headers_scan(tx->arena, tx->data.p + tx->header_len,
			      tx->data.len - tx->header_len, &h) < 0) {
		refuse(s, "header_too_long", "552 5.3.4 Error: message header section too long");
		return;
	}
	struct submit_job *j = xcalloc(1, sizeof(*j));
	if (check_from(s, &h, j->domain, j) < 0) {
		free(j);
		return;
	}
	j->s = s;
	j->added = added_fields(s, &h);
	spool_init(&j->out, tx->data.len + strlen(j->added) + (j->from ? strlen(j->from) : 0) + STORE_DKIM_SIGS_MAX,
		   s->conn->peer_ip);
	j->wj.fn = sign_run;
	j->wj.done = sign_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	tx->submit_job = j;
	s->state = SMTP_S_WAIT_STORE;
	/* Nothing more is read until the queue answered: the reply to this
	 * message must come before any reply to what is pipelined behind it. */
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}
