/*
 * smtp_tx.c — message content (DATA and BDAT) and hand-off to delivery.
 *
 * The Received field we add is written into the message spool first and
 * the content is appended behind it. The spool (core/spool.h) keeps a
 * usual message in memory and moves a big one, or any once the process
 * holds its budget of message bytes, to a file as it arrives; either way
 * deliver/ (port 25) or submission (smtp_submit.c) reads it as one range.
 * On port 25 the Return-Path and the stages' fields are the delivery's
 * head (deliver/deliver.h). The same bytes go to every recipient: the
 * Received field names the recipient only when there is one, so a
 * message to many local users is one blob in the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/iprev.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/punycode.h"
#include "imap/imap_urlauth.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/str.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "deliver/deliver_sieve.h"
#include "mime/mime_date.h"
#include "net/conn.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "sieve/sieve.h"
#include "store/store_queue.h"
#include "report/dmarc_intake.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_virus.h"
#include "spam/spam_recent.h"

#define ADDED_HEADERS_MAX 4096
#define MSG_PREALLOC 32768
/* Room in the spool before the message for the rest of the stored head
 * (Return-Path, Authentication-Results, the spam verdict: our Received
 * is there already), so the store takes the message where it was
 * received instead of a copy (struct delivery.data_spool). A head that
 * does not fit is composed with a copy as before. */
#define HEAD_ROOM 4096


/* Keeps header-unsafe bytes (CR, LF, NUL, parentheses) out of the HELO we echo. */
static void sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;
	for (; *src && o + 1 < dstsz; src++) {
		unsigned char c = (unsigned char)*src;
		dst[o++] = (c < ' ' || c == 0x7f || c == '(' || c == ')' || c == '\\') ? '?' : (char)c;
	}
	dst[o] = '\0';
}

static int is_ascii(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 0;
	return 1;
}

static int add_headers(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct conn *c = s->conn;
	char date[MIME_DATE_MAX], helo[260];
	const char *proto;
	int tls = conn_tls_established(c);

	/* The registered names (RFC 3848, RFC 6531 §3.7.3): there is no
	 * "SMTPS" or "SMTPA". STARTTLS and AUTH are ESMTP extensions, so a
	 * client that said HELO after them still used ESMTP. */
	if (tx->smtputf8)
		proto = tls ? "UTF8SMTPS" : "UTF8SMTP";
	else if (s->esmtp || tls || s->authenticated)
		proto = tls ? "ESMTPS" : "ESMTP";
	else
		proto = "SMTP";
	mime_date_format((int64_t)time_wall(), date);
	/* A UTF-8 HELO name in a message that is not SMTPUTF8's goes in its
	 * A-labels, else with '?' for each octet past ASCII, as the "for"
	 * address below: our own field must not make the header section
	 * need SMTPUTF8 (RFC 6531 §3.7.3 allows UTF-8 there only in a
	 * UTF8SMTP transaction), or it could not be forwarded to a server
	 * without it. */
	char helo_a[sizeof(helo)];
	const char *helo_in = s->helo;
	int helo_ascii = !tx->smtputf8 && !is_ascii(s->helo);
	if (helo_ascii && punycode_domain_other(str_make(s->helo, strlen(s->helo)), helo_a,
						sizeof helo_a) && is_ascii(helo_a))
		helo_in = helo_a;
	sanitize(helo, sizeof(helo), helo_in);
	if (helo_ascii)
		for (char *h = helo; *h; h++)
			if ((unsigned char)*h >= 0x80)
				*h = '?';

	struct buf hb, *m = &hb;
	int r = 0;

	buf_init(&hb, ADDED_HEADERS_MAX);
	/* The Return-Path belongs to the final delivery (RFC 5321 §4.4): the
	 * head deliver/ prepends (port 25), or the queue's. */
	/* RFC 3848: an "A" for authenticated (ESMTPSA). */
	/* RFC 5321 §4.4 TCP-info is an address-literal: an IPv6 address
	 * goes as "[IPv6:...]" (§4.1.3), not bare in brackets. */
	r |= buf_printf(m, "Received: from %s ([%s%s])\r\n\tby %s (tern) with %s%s id %s.%u", helo,
			strchr(c->peer_ip, ':') ? "IPv6:" : "", c->peer_ip, hostname_now(), proto,
			s->authenticated ? "A" : "", s->id, tx->seq);
	if (tls)
		r |= buf_printf(m, "\r\n\t(using %s with cipher %s (%d/%d bits))", conn_tls_version(c),
				conn_tls_cipher(c), conn_tls_bits(c), conn_tls_bits(c));
	if (s->authenticated) {
		/* The login of an IDN domain, as the HELO name above: in its
		 * A-labels (or '?' past ASCII) unless the message is SMTPUTF8's. */
		char login[sizeof(s->login)], login_a[sizeof(s->login)];
		int ascii = !tx->smtputf8 && !is_ascii(s->login);
		sanitize(login, sizeof(login),
			 ascii && punycode_address_ascii(s->login, login_a, sizeof login_a) &&
				     is_ascii(login_a)
			     ? login_a
			     : s->login);
		for (char *l = login; ascii && *l; l++)
			if ((unsigned char)*l >= 0x80)
				*l = '?';
		r |= buf_printf(m, "\r\n\t(Authenticated sender: %s)", login);
	}
	/* Not an address rewritten to a served UTF-8 spelling (the
	 * recipient's IDN domain) in a message that is not SMTPUTF8's. A
	 * UTF-8 domain goes in its A-labels, the same address, so that our
	 * own field does not make the header section need SMTPUTF8: the
	 * queue can then deliver to a server without it (smtp_client.c). */
	char alabels[1024];
	const char *rcpt0 = tx->nrcpts == 1 ? tx->rcpts[0].address : NULL;
	if (rcpt0 && !is_ascii(rcpt0) && punycode_address_ascii(rcpt0, alabels, sizeof alabels))
		rcpt0 = alabels;
	if (rcpt0 && (tx->smtputf8 || is_ascii(rcpt0)))
		r |= buf_printf(m, "\r\n\tfor <%s>", rcpt0);
	r |= buf_printf(m, ";\r\n\t%s\r\n", date);
	tx->header_len = buf_len(m);
	if (!r)
		r = spool_append(&tx->msg, buf_data(m), buf_len(m));
	buf_free(&hb);
	return r ? -1 : 0;
}

int smtp_tx_begin_data(struct smtp_session *s, int bdat)
{
	struct smtp_tx *tx = &s->tx;

	/* Unhashed: what is stored is the head then the message (written in
	 * place in front of it, or deliver_compose()'s copy when forged
	 * fields go), and its id is hashed there; a hash of these bytes was
	 * a second pass over every message that nothing read. */
	spool_init_unhashed(&tx->msg, ADDED_HEADERS_MAX + smtp_cfg->max_message_size,
	                    s->conn->peer_ip);
	/* A fixed head start (never the client's SIZE=) saves the first
	 * few doublings for typical messages. */
	spool_reserve_front(&tx->msg, HEAD_ROOM);
	spool_prealloc(&tx->msg, MSG_PREALLOC);
	/* The reader's output for one input chunk is at most the chunk. */
	buf_init(&tx->chunk, s->conn->in.max);
	if (add_headers(s) < 0) {
		smtp_reply(s, "451 4.3.0 Error: cannot build headers");
		return -1;
	}
	if (!bdat)
		smtp_data_init(&tx->reader, smtp_cfg->max_message_size);
	return 0;
}

/* Into the spool, unless the message is refused anyway. */
static void tx_append(struct smtp_tx *tx, const char *p, size_t n)
{
	if (tx->spool_failed || tx->too_big || n == 0)
		return;
	/* The content's limit is EHLO's SIZE, as for DATA (smtp_data.c):
	 * the spool's room also holds our Received field, and a BDAT or BURL
	 * message could take what that left over. */
	if (n > smtp_cfg->max_message_size - (tx->msg.len - tx->header_len) ||
	    n > tx->msg.max - tx->msg.len)
		tx->too_big = 1;
	else if (spool_append(&tx->msg, p, n) < 0)
		tx->spool_failed = 1;
}

int smtp_tx_feed_data(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct buf *in = &s->conn->in;
	size_t n = smtp_data_feed(&tx->reader, buf_data(in), buf_len(in), &tx->chunk);

	buf_consume(in, n);
	/* The reader also says too_big when its output buffer refused an
	 * append under the size limit: that was memory, not the client. */
	if (tx->reader.too_big && tx->reader.size <= tx->reader.max_size)
		tx->spool_failed = 1;
	if (!tx->reader.too_big)
		tx_append(tx, buf_data(&tx->chunk), buf_len(&tx->chunk));
	buf_reset(&tx->chunk);
	return tx->reader.done;
}

/* A message we could not hold (no memory, a disk error): a temporary
 * failure, and the session ends, as with any environment error. A full
 * disk is said as the store says it for a small message (RFC 3463
 * X.3.1, "mail system full"): the transaction ends, the session stays,
 * and the client may try again later or send something smaller. */
static void tx_spool_failed(struct smtp_session *s)
{
	int e = s->tx.msg.error;
	if (e == ENOSPC || e == EDQUOT || e == EFBIG) {
		log_info("smtp", s->id, "event=message_rejected reason=storage_full size=%" PRIu64,
			 s->tx.msg.len);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "452 4.3.1 Error: insufficient system storage, try again later");
		smtp_tx_end(s);
		return;
	}
	log_error("smtp", s->id, "event=message_dropped reason=spool_failed size=%" PRIu64,
		  s->tx.msg.len);
	smtp_reply(s, "421 4.3.0 %s Error: out of local resources, try again later",
		   hostname_now());
	smtp_tx_end(s);
	s->state = SMTP_S_CLOSING;
	conn_close_after_flush(s->conn, "spool_failed");
}

static void deliver(struct smtp_session *s);

/* Notes the line ends and NULs of n content octets at p (a BDAT chunk's). */
static void bdat_scan(struct smtp_tx *tx, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (tx->bdat_cr != (c == '\n'))
			tx->bdat_bare = 1; /* a CR without its LF, or an LF without its CR */
		tx->bdat_cr = c == '\r';
		tx->bdat_nul |= c == '\0';
	}
	if (n > 0)
		tx->bdat_lf = p[n - 1] == '\n';
}

/*
 * Closes a BDAT or BURL message's last line when its octets stopped in
 * the middle of one. RFC 5322 §2.1 makes a message lines ended by CRLF,
 * and DATA can carry no other (its "<CRLF>.<CRLF>" closes the last line,
 * RFC 5321 §4.1.1.4), but RFC 3030 frames BDAT by count, so the last
 * chunk may end anywhere. Postfix adds the CRLF; so do we, so that what
 * is stored, signed, filtered and relayed over DATA (smtp_client.c must
 * close the line to send the final dot) are the same octets. These two
 * may pass the configured size by two, not the spool's room.
 */
static void bdat_close_line(struct smtp_tx *tx)
{
	if (tx->bdat_lf || tx->msg.len == tx->header_len || tx->spool_failed || tx->too_big)
		return;
	if (tx->msg.max - tx->msg.len < 2)
		tx->too_big = 1;
	else if (spool_append(&tx->msg, "\r\n", 2) < 0)
		tx->spool_failed = 1;
	tx->bdat_lf = 1;
}

/*
 * Refuses a message DATA or BDAT ended whose content had a bare CR or LF
 * or a NUL: replies, ends the transaction and returns 1; else 0.
 */
static int content_refused(struct smtp_session *s, int bare, int nul)
{
	const char *why;
	if (bare) {
		/* Refusing the whole message is what defeats SMTP smuggling: a
		 * hidden "<LF>.<LF>" can never split one message into two. */
		smtp_reply(s, "554 5.6.0 Error: message contains bare <CR> or <LF>; "
			      "lines must end with <CR><LF>");
		why = "bare_line_end";
	} else if (nul) {
		smtp_reply(s, "554 5.6.0 Error: message contains NUL octets");
		why = "nul";
	} else {
		return 0;
	}
	log_info("smtp", s->id, "event=message_rejected reason=%s size=%" PRIu64, why,
		 (uint64_t)(s->tx.msg.len - s->tx.header_len));
	metrics_inc(METRIC_REJECTED);
	smtp_tx_end(s);
	smtp_session_error(s);
	return 1;
}

/*
 * A BDAT (or BURL) message past the size limit: 552 for the chunk that
 * passed it and for each chunk after, the LAST one included, which ends the
 * transaction as DATA's 552 does. A client pipelines its chunks (RFC
 * 3030 §4.2), so those after the first refusal were sent before it came:
 * the message is refused, logged and counted as an error once, as with
 * DATA, not once a chunk (ten chunks cut the session with 421, which the
 * client takes for "try again later", for ever).
 */
static int bdat_too_big(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	int first = !tx->data_failed;

	smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
	tx->data_failed = 1; /* nothing more goes into the spool (tx_append) */
	s->state = SMTP_S_RCPT;
	if (first) {
		log_info("smtp", s->id, "event=message_rejected reason=too_big limit=%llu",
			 (unsigned long long)smtp_cfg->max_message_size);
		metrics_inc(METRIC_REJECTED);
	}
	if (tx->bdat_last)
		smtp_tx_end(s);
	if (first)
		smtp_session_error(s);
	return 1;
}

/* After a BDAT or BURL chunk went into the spool: 1 when the spool failed
 * or the message passed the limit, with the reply given; else 0. */
static int chunk_refused(struct smtp_session *s)
{
	if (s->tx.spool_failed) {
		tx_spool_failed(s);
		return 1;
	}
	if (s->tx.too_big)
		return bdat_too_big(s);
	return 0;
}

int smtp_tx_feed_bdat(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct buf *in = &s->conn->in;
	size_t n = buf_len(in);

	if (n > tx->bdat_left)
		n = (size_t)tx->bdat_left;
	/* Past the limit, keep reading the chunk to stay in step. */
	if (!tx->data_failed) {
		tx_append(tx, buf_data(in), n);
		bdat_scan(tx, buf_data(in), n);
	}
	buf_consume(in, n);
	tx->bdat_left -= n;
	if (tx->bdat_left > 0)
		return 0;

	/* Chunk complete. */
	if (chunk_refused(s))
		return 1;
	if (tx->data_failed) {
		smtp_reply(s, "503 5.5.1 Error: transaction failed, send RSET");
		s->state = SMTP_S_RCPT;
		smtp_session_error(s);
		return 1;
	}
	if (!tx->bdat_last) {
		smtp_reply(s, "250 2.0.0 %" PRIu64 " octets received",
			   (uint64_t)(tx->msg.len - tx->header_len));
		s->state = SMTP_S_RCPT;
		return 1;
	}
	/* As DATA's (smtp_tx_finish): the same content, the same verdict. */
	if (content_refused(s, tx->bdat_bare || tx->bdat_cr, tx->bdat_nul))
		return 1;
	bdat_close_line(tx);
	if (chunk_refused(s))
		return 1;
	deliver(s);
	return 1;
}

/*
 * A BURL chunk into the spool with its line ends made CRLF: the draft is
 * the store's, where a bare CR may stay (cmd_append.c) and other ways in
 * may keep a bare LF, but RFC 5321 §2.3.8 forbids both in what we send
 * on, and submission may fix what it submits (RFC 6409 §8). A CR that
 * ends the chunk waits for the next one unless this is the last; a NUL
 * is noted and refused with the message, as DATA's are.
 */
static void burl_append(struct smtp_tx *tx, const char *p, size_t n, int last)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		tx->bdat_nul |= c == '\0';
		if (c == '\n' && !tx->bdat_cr) {
			tx_append(tx, p + start, i - start);
			tx_append(tx, "\r", 1);
			start = i;
		} else if (c != '\n' && tx->bdat_cr) {
			tx_append(tx, p + start, i - start);
			tx_append(tx, "\n", 1);
			start = i;
		}
		tx->bdat_cr = c == '\r';
	}
	tx_append(tx, p + start, n - start);
	if (n > 0)
		tx->bdat_lf = p[n - 1] == '\n';
	if (last && tx->bdat_cr) {
		tx_append(tx, "\n", 1);
		tx->bdat_cr = 0;
		tx->bdat_lf = 1;
	}
}

void smtp_tx_burl(struct smtp_session *s, struct str url, int last)
{
	struct smtp_tx *tx = &s->tx;
	struct buf b;

	tx->bdat_last = last; /* as BDAT's: bdat_too_big() ends the transaction on the last */
	/* Only what the authenticated user may have (submit+user, or a
	 * wider access), read from the store as IMAP's URLFETCH would. */
	buf_init(&b, tx->msg.max - tx->msg.len + 1);
	int r = s->authenticated && !tx->data_failed
			? imap_urlauth_fetch(NULL, s->login, 1, url, &b)
			: -1;
	if (tx->too_big) { /* an earlier chunk passed the limit */
		buf_free(&b);
		bdat_too_big(s);
		return;
	}
	if (tx->data_failed) {
		buf_free(&b);
		smtp_reply(s, "503 5.5.1 Error: transaction failed, send RSET");
		smtp_session_error(s);
		return;
	}
	if (r == -2) {
		buf_free(&b);
		tx->too_big = 1;
		bdat_too_big(s);
		return;
	}
	if (r < 0) {
		buf_free(&b);
		log_info("smtp", s->id, "event=burl_failed");
		smtp_reply(s, "554 5.6.6 IMAP URL resolution failed");
		return;
	}
	burl_append(tx, buf_data(&b), buf_len(&b), last);
	buf_free(&b);
	if (chunk_refused(s))
		return;
	if (!last) {
		smtp_reply(s, "250 2.0.0 %" PRIu64 " octets received",
			   (uint64_t)(tx->msg.len - tx->header_len));
		return;
	}
	/* BDAT chunks before it are held to DATA's rule too. */
	if (content_refused(s, tx->bdat_bare, tx->bdat_nul))
		return;
	bdat_close_line(tx);
	if (chunk_refused(s))
		return;
	deliver(s);
}

void smtp_tx_finish(struct smtp_session *s)
{
	struct smtp_data_reader *r = &s->tx.reader;
	const char *why = NULL;

	if (s->tx.spool_failed) {
		tx_spool_failed(s);
		return;
	}
	if (r->too_big) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		why = "too_big";
	} else if (content_refused(s, r->saw_bare_lf || r->saw_bare_cr, r->saw_nul)) {
		return;
	}
	if (why) {
		log_info("smtp", s->id, "event=message_rejected reason=%s size=%" PRIu64, why, r->size);
		metrics_inc(METRIC_REJECTED);
		smtp_tx_end(s);
		smtp_session_error(s);
		return;
	}
	deliver(s);
}

void smtp_tx_committed(struct smtp_session *s)
{
	int refused = s->tx.refused;
	s->state = SMTP_S_HELO; /* lets the tx and session be freed */
	if (s->conn_gone) {
		smtp_session_free(s);
		return;
	}
	smtp_tx_end(s);
	/* A message refused for what it is counts as a refused command
	 * does: a client sending it again and again is cut at the limit
	 * (it says 421 and closes). */
	if (refused && smtp_session_error(s)) {
		conn_flush(s->conn);
		return;
	}
	if (s->draining) {
		smtp_reply(s, "421 4.3.2 %s Service shutting down", hostname_now());
		s->state = SMTP_S_CLOSING;
		conn_close_after_flush(s->conn, "shutdown");
	} else {
		conn_pause_read(s->conn, 0);
		smtp_session_input(s); /* commands pipelined behind the data */
	}
	conn_flush(s->conn);
}

void smtp_tx_notify_delivered(struct smtp_session *s, const char *msg, size_t len)
{
	struct smtp_tx *tx = &s->tx;
	struct dsn_rcpt *dr;
	size_t n = 0;

	if (!tx->mail_from[0])
		return; /* no notices to the null sender */
	for (unsigned i = 0; i < tx->nrcpts; i++)
		n += (tx->rcpts[i].notify & SMTP_NOTIFY_SUCCESS) != 0;
	if (n == 0)
		return;
	/* On port 25 a notice to an outside address would make us mail
	 * whoever MAIL FROM names (issue 28, finding 10): only our own
	 * domains get one. SPF is not consulted: a pass says the sending
	 * host may use the domain, not that the address asked. */
	const char *at = strrchr(tx->mail_from, '@');
	if (s->mode == SMTP_MODE_MX && (!at || store_domain_is_local(smtp_store, at + 1) != 1)) {
		log_info("smtp", s->id, "event=notice_skipped kind=delivered reason=unverified_sender");
		return;
	}
	dr = arena_alloc(tx->arena, n * sizeof(*dr));
	n = 0;
	int64_t now = (int64_t)time_wall(); /* the delivery just made */
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		const struct smtp_rcpt *rc = &tx->rcpts[i];
		if (!(rc->notify & SMTP_NOTIFY_SUCCESS) || rc->waits)
			continue;
		/* Local ones only: the scheduler reports the others once relayed.
		 * Port 25 resolved each at RCPT; submission leaves that to the
		 * queue, so ask the store. */
		size_t nacc = rc->naccounts;
		if (s->mode != SMTP_MODE_MX) {
			uint32_t acc[16];
			enum store_rcpt res = store_resolve_rcpt(smtp_store, rc->address, acc, 16, &nacc);
			if (res != STORE_RCPT_OK && res != STORE_RCPT_OVER_QUOTA)
				nacc = 0;
		}
		if (nacc)
			dr[n++] = (struct dsn_rcpt){rc->address, rc->orcpt ? rc->orcpt : "",
						    "2.0.0 Ok: delivered to mailbox", "",
						    DSN_DELIVERED, now};
	}
	if (n == 0)
		return;
	struct dsn_info in = {
	    .hostname = hostname_now(), .to = tx->mail_from, .envid = tx->envid ? tx->envid : "",
	    .arrival = now, .now = now, .ret_full = tx->ret == SMTP_RET_FULL, .msg = msg,
	    .msglen = len, .rcpts = dr, .nrcpts = n, .requiretls = tx->requiretls,
	};
	queue_notify_delivered(smtp_store, s->loop, s->id, &in);
}

/* The reply to a message the store refused, by its result (RFC 3463:
 * X.2.2 the mailbox is full, X.3.1 the system's storage is; RFC 5321 552
 * for a message larger than the whole quota, which no retry can help). */
static const struct {
	int result;
	const char *reply;
	const char *reason; /* for the log */
} store_refusals[] = {
    {STORE_EQUOTA, "452 4.2.2 Error: mailbox full, try again later", "over_quota"},
    {STORE_ETOOBIG, "552 5.2.2 Error: message larger than the mailbox's quota", "over_quota_size"},
    {STORE_EFULL, "452 4.3.1 Error: insufficient system storage, try again later", "storage_full"},
};

/* After the reply: a message to a served domain's rua address is also
 * read for DMARC aggregate reports (dmarc_intake.h). It was delivered as
 * any other; this only adds the reports to the domain's view. */
static void offer_reports(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	for (unsigned r = 0; r < tx->nrcpts; r++)
		if (dmarc_intake_is_rua(smtp_store, tx->rcpts[r].address)) {
			dmarc_intake_submit(smtp_store, tx->data.p, tx->data.len, tx->report_dkim);
			return;
		}
}

static void delivered(struct delivery *d, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;

	/* Vacation replies leave only for a message that was stored. */
	for (unsigned i = 0; tx->sieve_replies && i < tx->nplans; i++) {
		if (d->result == STORE_OK)
			deliver_sieve_reply_send(smtp_store, tx->sieve_replies[i], s->loop, s->id,
						 d->seen_stored);
		else
			deliver_sieve_reply_free(tx->sieve_replies[i]);
		tx->sieve_replies[i] = NULL;
	}
	tx->sieve_replies = NULL;
	/* Accounts whose scripts rejected it while others took it: the
	 * verified sender is told, one DSN each (sieve_stage), unless the
	 * one recipient such a transaction has asked for no failure notice
	 * (NOTIFY=NEVER, or NOTIFY without FAILURE: RFC 3461 §4.1). */
	unsigned notify = tx->nrcpts ? tx->rcpts[0].notify : 0;
	int told = !notify || (notify & SMTP_NOTIFY_FAILURE);
	for (unsigned i = 0; d->result == STORE_OK && tx->sieve_rejects && i < tx->nplans; i++) {
		if (tx->sieve_rejects[i] && !told) {
			char q[600];
			log_info("smtp", s->id, "event=notice_skipped reason=notify rcpt=%s kind=sieve_reject",
				 log_q(tx->rcpts[0].address, q, sizeof(q)));
		} else if (tx->sieve_rejects[i])
			queue_reject_notice(smtp_store, s->loop, tx->mail_from, tx->envid,
					    tx->rcpts[0].address, tx->sieve_rejects[i],
					    tx->data.p + tx->header_len, tx->data.len - tx->header_len);
	}
	tx->sieve_rejects = NULL;
	if (s->conn_gone) {
		log_info("smtp", s->id, "event=delivered_after_disconnect result=%d", d->result);
		smtp_tx_committed(s);
		return;
	}
	if (d->result == STORE_OK) {
		char q[600];
		metrics_inc(METRIC_RECEIVED);
		log_info("smtp", s->id, "event=delivered id=%s.%u from=%s rcpts=%u accounts=%u size=%zu%s",
			 s->id, tx->seq, log_q(tx->mail_from, q, sizeof(q)), tx->nrcpts, tx->naccounts,
			 d->len, tx->auth_log ? tx->auth_log : smtp_spf_log(tx));
		smtp_reply(s, "250 2.0.0 Ok: queued as %s.%u", s->id, tx->seq);
		s->junk_cmds = 0; /* a message accepted: the session is doing work */
		s->errors = 0;    /* the limit is on errors made without delivering
				   * mail (Postfix's smtpd_hard_error_limit) */
		if (tx->spam_recent_seq && d->first_email)
			spam_recent_set_email(tx->spam_recent_seq, d->first_account, d->first_email);
		smtp_forward_committed(s, d->result);
		smtp_tx_notify_delivered(s, tx->data.p, tx->data.len);
		offer_reports(s);
	} else {
		size_t i = 0;
		while (i < sizeof store_refusals / sizeof store_refusals[0] &&
		       store_refusals[i].result != d->result)
			i++;
		if (i < sizeof store_refusals / sizeof store_refusals[0]) {
			log_info("smtp", s->id, "event=message_rejected reason=%s size=%zu",
				 store_refusals[i].reason, tx->data.len);
			metrics_inc(METRIC_REJECTED);
			smtp_reply(s, "%s", store_refusals[i].reply);
			/* The recipient's quota; a full disk is ours. */
			tx->refused = store_refusals[i].result != STORE_EFULL;
		} else {
			log_error("smtp", s->id, "event=delivery_failed result=%d", d->result);
			smtp_reply(s, "451 4.3.0 Error: local storage failure, try again later");
		}
	}
	smtp_tx_committed(s);
}

/* Plans past the accounts that Sieve redirects to local addresses may
 * add, and outside targets redirects may add to the forwarded copy. */
#define REDIRECT_PLANS_MAX 16
#define REDIRECT_FWD_MAX 32

/* Adds the plan of an account a redirect reached (once per account: an
 * account already planned, as a recipient or by an earlier redirect, is
 * not given a second copy, which also ends redirect loops among our
 * accounts). */
static void plan_add(struct smtp_session *s, const char **to, uint32_t account, const char *addr,
		     int junk, struct str edited, struct str own_fields)
{
	struct smtp_tx *tx = &s->tx;
	for (unsigned k = 0; k < tx->nplans; k++)
		if (tx->plans[k].account == account)
			return;
	if (tx->nplans >= tx->naccounts + REDIRECT_PLANS_MAX)
		return;
	unsigned i = tx->nplans++;
	tx->plans[i] = (struct deliver_plan){
	    .account = account,
	    .envelope = arena_printf(tx->arena, "MAIL FROM:<%s>%s\r\nRCPT TO:<%s>\r\n", tx->mail_from,
				     tx->mail_params, addr),
	    .own_fields = own_fields};
	if (junk) {
		tx->plans[i].folder = STORE_TARGET_JUNK;
		tx->plans[i].keywords = "$Junk";
	}
	to[i] = addr;
	/* RFC 5293 §4: the redirected copy is the message as edited. */
	tx->plan_msg[i] = edited;
	ptrdiff_t body = edited.p ? sieve_body_offset(edited.p, edited.len) : -1;
	if (body >= 0) {
		tx->plans[i].own_header = str_make(edited.p, (size_t)body);
		tx->plans[i].own_body = str_make(edited.p + body, edited.len - (size_t)body);
	}
}

/* A redirect's target (deliver_sieve.h): our accounts get plans of their
 * own (their scripts run on it in turn), outside addresses (also those
 * an alias of ours names) join the forwarded copy. A local address that
 * does not resolve is logged, and the redirecting account keeps the
 * message rather than lose it. */
static void redirect_route(struct smtp_session *s, const char **to, unsigned from, const char *target,
			   int junk, unsigned notify, int ret, unsigned by, int64_t by_deadline,
			   struct str edited)
{
	struct smtp_tx *tx = &s->tx;
	uint32_t acc[STORE_RESOLVE_ACCOUNTS_MAX];
	struct store_forward *fw = arena_alloc(tx->arena, 8 * sizeof *fw);
	size_t n = 0, nf = 0;
	char q[600];
	enum store_rcpt rc = store_resolve_forwards(smtp_store, target, acc, STORE_RESOLVE_ACCOUNTS_MAX,
						    &n, fw, 8, &nf);

	if (rc == STORE_RCPT_NOT_LOCAL) {
		nf = 1;
		snprintf(fw[0].addr, sizeof fw[0].addr, "%s", target);
	} else if (rc != STORE_RCPT_OK && rc != STORE_RCPT_OVER_QUOTA) {
		log_info("smtp", s->id, "event=sieve_redirect_failed account=%u to=%s reason=%s",
			 tx->plans[from].account, log_q(target, q, sizeof q),
			 rc == STORE_RCPT_UNKNOWN ? "unknown_user" : "store");
		struct deliver_plan *p = &tx->plans[from];
		if (p->discard)
			*p = (struct deliver_plan){.account = p->account, .envelope = p->envelope,
							 .own_fields = p->own_fields};
		return;
	}
	for (size_t k = 0; k < n; k++)
		plan_add(s, to, acc[k], arena_strdup(tx->arena, target), junk, edited,
			 tx->plans[from].own_fields);
	for (size_t k = 0; k < nf && tx->nsfwd < REDIRECT_FWD_MAX; k++) {
		tx->sfwd[tx->nsfwd] = arena_strdup(tx->arena, fw[k].addr);
		tx->sfwd_notify[tx->nsfwd] = (uint8_t)notify;
		tx->sfwd_by[tx->nsfwd++] = arena_strdup(tx->arena, to[from]);
	}
	if (nf && ret)
		tx->sfwd_ret = ret;
	if (nf && edited.p) {
		if (!tx->sfwd_edited.p)
			tx->sfwd_edited = edited;
		else if (tx->sfwd_edited.p != edited.p)
			tx->sfwd_mixed = 1;
	} else if (nf && tx->sfwd_edited.p) {
		tx->sfwd_mixed = 1;
	}
	if (nf && (by & DELIVER_BY) && (!tx->sfwd_by_flags || by_deadline < tx->sfwd_by_deadline)) {
		tx->sfwd_by_flags = SQ_BY | ((by & DELIVER_BY_RETURN) ? SQ_BY_RETURN : 0) |
				    ((by & DELIVER_BY_TRACE) ? SQ_BY_TRACE : 0);
		tx->sfwd_by_deadline = by_deadline;
	}
}

/* The DSN parameters that reached a recipient account, for envelope-dsn
 * (RFC 6009 §3); rc NULL (an account a redirect reached) has none. MAIL's
 * BY= (envelope-deliverby, §4) and the client (environment, RFC 5183)
 * reach every account. */
static const struct deliver_sieve_dsn *dsn_of(struct smtp_session *s, const struct smtp_rcpt *rc)
{
	struct smtp_tx *tx = &s->tx;
	static const struct { unsigned bit; const char *name; } kw[] = {
		{ SMTP_NOTIFY_NEVER, "NEVER" }, { SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" }, { SMTP_NOTIFY_DELAY, "DELAY" },
	};
	struct deliver_sieve_dsn *d = arena_zalloc(tx->arena, sizeof *d);
	d->remote_ip = str_c(s->conn->peer_ip);
	const char *name = s->iprev && iprev_eval_result(s->iprev) == IPREV_PASS
	                       ? iprev_eval_name(s->iprev) : NULL;
	d->remote_host = name && *name ? str_c(name) : STR_NULL;
	if (tx->by) {
		d->by = DELIVER_BY | (tx->by_return ? DELIVER_BY_RETURN : 0) |
			(tx->by_trace ? DELIVER_BY_TRACE : 0);
		d->by_deadline = tx->by_deadline;
	}
	if (!rc)
		return d;
	char *n = arena_zalloc(tx->arena, 32);
	for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
		if (rc->notify & kw[k].bit)
			snprintf(n + strlen(n), 32 - strlen(n), "%s%s", n[0] ? "," : "", kw[k].name);
	d->notify = str_c(n);
	d->orcpt = rc->orcpt ? str_c(rc->orcpt) : STR_NULL;
	d->ret = tx->ret == SMTP_RET_FULL ? STR_LIT("FULL") : tx->ret == SMTP_RET_HDRS ? STR_LIT("HDRS")
										: STR_NULL;
	d->envid = tx->envid ? str_c(tx->envid) : STR_NULL;
	return d;
}

/* Account i's spam verdict as smtp_tx_store's junk: its own when the
 * recipients' verdicts differ (smtp_tx.spam_own), else the message's. */
static int junk_of(const struct smtp_tx *tx, unsigned i, int junk)
{
	return tx->spam_own && i < tx->naccounts ? tx->spam_own[i].junk : junk;
}

/*
 * Stage 5 (DESIGN.md §3b): one plan per distinct account, each keeping
 * the envelope lines that concern it only, then each account's Sieve
 * script over it, before anything is forwarded (a redirect adds to the
 * forwarded copy, or a plan for the local account it names). Returns -1
 * when a Sieve reject answered the message.
 */
/*
 * The fields the store writes in front of the message (deliver.h's
 * delivery.head): Return-Path, our Received, then the stages' fields (as
 * Postfix with OpenDMARC orders them; the spam verdict last). Our
 * Received moves from the data's front into the head, so the
 * forged-field removal never sees it. The scripts read these too.
 */
static const char *store_head(struct smtp_tx *tx, const char *fields)
{
	return arena_printf(tx->arena, "Return-Path: <%s>\r\n%.*s%s%s", tx->mail_from,
			    (int)tx->header_len, tx->data.p, fields ? fields : "",
			    tx->spam_fields ? tx->spam_fields : "");
}

static int sieve_stage(struct smtp_session *s, const char *fields, int junk)
{
	struct smtp_tx *tx = &s->tx;
	unsigned cap = tx->naccounts + REDIRECT_PLANS_MAX;

	tx->plans = arena_alloc(tx->arena, cap * sizeof(*tx->plans));
	tx->sieve_replies = arena_zalloc(tx->arena, cap * sizeof(*tx->sieve_replies));
	tx->sfwd = arena_alloc(tx->arena, REDIRECT_FWD_MAX * sizeof(*tx->sfwd));
	tx->sfwd_by = arena_alloc(tx->arena, REDIRECT_FWD_MAX * sizeof(*tx->sfwd_by));
	tx->sfwd_notify = arena_zalloc(tx->arena, REDIRECT_FWD_MAX * sizeof(*tx->sfwd_notify));
	tx->sfwd_ret = 0;
	tx->nsfwd = 0;
	tx->plan_msg = arena_zalloc(tx->arena, cap * sizeof(*tx->plan_msg));
	const char **to = arena_zalloc(tx->arena, cap * sizeof(*to));
	const struct smtp_rcpt **via = arena_zalloc(tx->arena, cap * sizeof(*via));
	/* A Sieve reject is carried out when the transaction's accounts came
	 * from one address (one account, or an alias of ours: RCPT sent later
	 * recipients of such accounts away with 452 4.5.3, DESIGN.md §3b)
	 * with nothing forwarded: when every account rejects, DATA gets 550;
	 * when only some do, those store nothing and the sender hears of
	 * each by a DSN, if DMARC verified it (else the copy is kept: never
	 * a bounce to a sender we could not verify). */
	int may_reject = tx->naccounts == 1 || tx->nrcpts == 1;
	for (unsigned r = 0; r < tx->nrcpts; r++)
		may_reject &= tx->rcpts[r].nfwd == 0;
	tx->sieve_rejects = arena_zalloc(tx->arena, cap * sizeof(*tx->sieve_rejects));
	unsigned nrej = 0;
	for (unsigned i = 0; i < tx->naccounts; i++) {
		char *env = arena_printf(tx->arena, "MAIL FROM:<%s>%s\r\n", tx->mail_from, tx->mail_params);
		to[i] = "";
		for (unsigned r = 0; r < tx->nrcpts; r++) {
			const struct smtp_rcpt *rc = &tx->rcpts[r];
			for (unsigned j = 0; j < rc->naccounts; j++) {
				if (rc->accounts[j] == tx->accounts[i]) {
					env = arena_printf(tx->arena, "%sRCPT TO:<%s>%s\r\n", env,
							   rc->address, rc->params);
					if (!*to[i]) {
						to[i] = rc->address;
						via[i] = rc;
					}
					break;
				}
			}
		}
		tx->plans[i] = (struct deliver_plan){.account = tx->accounts[i], .envelope = env};
		if (tx->spam_own)
			tx->plans[i].own_fields = str_c(tx->spam_own[i].fields);
		if (junk_of(tx, i, junk) == 2) {
			/* The spam filter's discard: no copy, no script, no reply. */
			tx->plans[i].discard = 1;
			continue;
		}
		if (junk_of(tx, i, junk)) {
			tx->plans[i].folder = STORE_TARGET_JUNK;
			tx->plans[i].keywords = "$Junk";
		}
	}
	tx->nplans = tx->naccounts;
	if (junk == 2)
		return 0;
	/* What the scripts read is what is stored: no forged field that
	 * claims our authserv-id (RFC 8601 §5), no sender's X-Spam-*. */
	struct str seen = deliver_clean(str_make(tx->data.p + tx->header_len,
						 tx->data.len - tx->header_len),
					hostname_now(), tx->arena);
	struct str head = str_c(store_head(tx, fields));
	/* The accounts' scripts, then those of accounts their redirects
	 * reached (the list grows as it is walked). */
	for (unsigned i = 0; i < tx->nplans; i++) {
		struct deliver_sieve_out out;
		if (junk_of(tx, i, junk) == 2)
			continue; /* this account's discard (its own verdict) */
		int spamtest = tx->spam_own && i < tx->naccounts ? tx->spam_own[i].spamtest
								 : tx->sieve_spamtest;
		deliver_sieve_plan(smtp_store, &tx->plans[i],
				   tx->plan_msg[i].p ? tx->plan_msg[i] : seen, head,
				   str_c(tx->mail_from), str_c(to[i]), spamtest, tx->sieve_virustest,
				   tx->arena, s->id,
				   may_reject && i < tx->naccounts, dsn_of(s, via[i]), &out);
		tx->sieve_replies[i] = out.after;
		if (out.reject) {
			tx->sieve_rejects[i] = out.reject;
			nrej++;
			continue;
		}
		for (unsigned k = 0; k < out.nredirects; k++)
			redirect_route(s, to, i, out.redirects[k], junk_of(tx, i, junk),
				       out.redirect_notify[k], out.redirect_ret[k], out.redirect_by[k],
				       out.redirect_by_deadline[k],
				       out.redirect_msg[k].p ? out.redirect_msg[k] : tx->plan_msg[i]);
	}
	if (nrej && nrej == tx->naccounts && tx->nplans == tx->naccounts) {
		/* Refused, never accepted and bounced (RFC 5429 §2.1). */
		const char *why = NULL;
		for (unsigned i = 0; i < tx->nplans && !why; i++)
			why = tx->sieve_rejects[i];
		log_info("smtp", s->id, "event=message_rejected reason=sieve_reject size=%zu",
			 tx->data.len);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "550 5.7.1 %s", why);
		tx->refused = 1;
		for (unsigned i = 0; i < tx->nplans; i++)
			deliver_sieve_reply_free(tx->sieve_replies[i]);
		tx->sieve_replies = NULL;
		return -1;
	}
	for (unsigned i = 0; i < tx->nplans && nrej; i++) {
		if (!tx->sieve_rejects[i] || tx->dmarc_pass)
			continue;
		/* Accepted for the others; this sender is unverified: keep. */
		log_info("smtp", s->id, "event=sieve_action_skipped account=%u action=reject reason=unverified_sender",
			 tx->plans[i].account);
		tx->plans[i] = (struct deliver_plan){.account = tx->plans[i].account,
						     .envelope = tx->plans[i].envelope,
						     .own_fields = tx->plans[i].own_fields};
		if (junk_of(tx, i, junk)) {
			tx->plans[i].folder = STORE_TARGET_JUNK;
			tx->plans[i].keywords = "$Junk";
		}
		tx->sieve_rejects[i] = NULL;
	}
	if (tx->nsfwd)
		tx->fwd_pending = 1;
	return 0;
}

/*
 * The delivery (deliver/deliver.h): the head (Return-Path, our Received,
 * the stages' fields) and the plans sieve_stage made; the forwarded
 * copy's queue entry (smtp_forward.c) joins the same commit.
 */
static void store_go(struct smtp_session *s, const char *fields, int junk)
{
	struct smtp_tx *tx = &s->tx;
	struct delivery *d = &tx->dl;

	(void)junk;
	memset(d, 0, sizeof(*d));
	d->data = str_make(tx->data.p + tx->header_len, tx->data.len - tx->header_len);
	d->head = str_c(store_head(tx, fields));
	d->data_spool = &tx->msg;
	d->authserv_id = hostname_now();
	d->plans = tx->plans;
	d->nplans = tx->nplans;
	d->received_at = time_wall();
	d->quota_check = 1; /* RCPT's look raced with other deliveries */
	d->spam_from = tx->spam_from;
	/* Sieve's memory (vacation's senders, duplicate's ids) goes in the
	 * message's commit, not in a commit and flush of its own on this
	 * loop after it (delivered()). */
	deliver_sieve_seen_attach(d, tx->sieve_replies, tx->nplans, tx->arena);
	d->loop = s->loop;
	d->done = delivered;
	d->arg = s;
	smtp_forward_attach(s, d);
	deliver_submit(smtp_store, d);
}

struct forward_job {
	struct worker_job wj;
	struct smtp_session *s;
	const char *fields; /* tx arena */
	int junk;
};

/* The forwarded copy is sealed (ARC: an RSA signature): on the pool. It
 * reads and writes the tx only, which nothing else touches meanwhile
 * (the session waits in SMTP_S_WAIT_STORE, reading paused). */
static void forward_run(void *arg)
{
	struct forward_job *j = arg;
	smtp_forward_prepare(j->s, j->fields);
}

/* Also when the client has gone meanwhile: the delivery's answer is where
 * a gone session is freed. */
static void forward_done(void *arg)
{
	struct forward_job *j = arg;
	struct smtp_session *s = j->s;
	const char *fields = j->fields;
	int junk = j->junk;

	free(j);
	store_go(s, fields, junk);
}

void smtp_tx_store(struct smtp_session *s, const char *fields, int junk)
{
	struct smtp_tx *tx = &s->tx;

	if (sieve_stage(s, fields, junk) < 0) {
		smtp_tx_committed(s);
		return;
	}
	/* The checks waited for SPF, so the forwarded copy's ARC set and its
	 * notices know what SPF found. */
	if (!tx->fwd_pending || !worker_pool_running()) {
		smtp_forward_prepare(s, fields);
		store_go(s, fields, junk);
		return;
	}
	struct forward_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->fields = fields;
	j->junk = junk;
	j->wj.fn = forward_run;
	j->wj.done = forward_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	worker_submit(&j->wj);
}

static void deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;

	if (spool_finish(&tx->msg, &tx->data) < 0) {
		tx_spool_failed(s);
		return;
	}
	if (smtp_virus_scan(s))
		return; /* smtp_tx_scanned() or the refusal follows */
	smtp_tx_scanned(s);
}

void smtp_tx_scanned(struct smtp_session *s)
{
	if (s->mode != SMTP_MODE_MX) {
		smtp_submit_deliver(s); /* signed and queued instead */
		return;
	}
	if (smtp_forward_check(s) < 0) {
		smtp_tx_end(s);
		smtp_session_error(s);
		return;
	}
	s->state = SMTP_S_WAIT_STORE;
	/* Nothing more is read until the store answered: the reply to this
	 * message must come before any reply to what is pipelined behind it. */
	conn_pause_read(s->conn, 1);
	smtp_checks_message(s);
}
