/*
 * dsn.h — delivery status notifications (RFC 3464) built from a queue
 * entry's outcome: a pure function from the facts to the message bytes.
 *
 * Design. The scheduler decides who gets a notice and which recipients it
 * covers (NOTIFY, null sender, one delay notice and one more at a Deliver
 * By deadline in N mode); dsn_build() only writes
 * the message: a multipart/report; report-type=delivery-status with a
 * human-readable part, the message/delivery-status part (per-message
 * fields, then one block per recipient: Final-Recipient, Original-
 * Recipient from ORCPT, Action, Status, Remote-MTA and Diagnostic-Code
 * when a remote said it, Last-Attempt-Date when known, Will-Retry-Until
 * for delays) and the original
 * message as message/rfc822 (RET=FULL, in failure notices only, up to
 * DSN_RETURN_MAX) or its header as text/rfc822-headers (RET=HDRS, the
 * default, every delay or success notice, RFC 3461 §4.3, and a larger
 * message, the text part saying its size).
 *
 * Caveats: the returned bytes use CRLF and are 7 bit unless an address
 * the notice names is UTF-8 (RFC 6533's global notice, sent only under
 * SMTPUTF8, its header then saying Content-Transfer-Encoding: 8bit):
 * an 8-bit original returns with its 8-bit parts made
 * quoted-printable (mime_downgrade.h), or, when it cannot be converted,
 * as its header alone in quoted-printable text/rfc822-headers. Strings must not contain CR or LF (the caller's records
 * never do; dsn_build replaces any it finds with spaces).
 */
#ifndef TERN_QUEUE_DSN_H
#define TERN_QUEUE_DSN_H

#include <stddef.h>
#include <stdint.h>

struct buf;

enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED };

/* The largest original a failure notice returns whole under RET=FULL
 * (Exim's bounce_return_size_limit; Postfix's bounce_size_limit is
 * 50,000). A larger one returns as its header: a notice carrying it all
 * (up to 64 MB) was often over the sender's own provider's size limit
 * (25 MB and less are common) and refused, and the bounce lost; the
 * sender has the message and needs to know which one it was. */
#define DSN_RETURN_MAX (100u * 1024)

/* What a recipient's status says after our own verdict to quote the
 * remote's reply that led to it ("5.4.7 delivery time expired; last
 * error: 450 4.2.0 busy"): the notice reports that reply as the
 * Diagnostic-Code (RFC 3464 §2.3.6). queue_sched.c writes it. */
#define DSN_LAST_ERROR "; last error: "

struct dsn_rcpt {
	const char *addr;   /* envelope recipient */
	const char *orcpt;  /* "rfc822;addr" or "" */
	const char *status; /* "550 5.1.1 text" from a remote, or "5.1.10 text" ours
			     * (maybe ending DSN_LAST_ERROR and a remote's reply) */
	const char *remote; /* remote host that said it, or "" */
	enum dsn_action action;
	/* When delivery to it was last attempted (Last-Attempt-Date, RFC
	 * 3464 §2.3.7); 0 when not known, and the field is left out (it
	 * is optional): never the notice's own time in its place. */
	int64_t attempted;
};

struct dsn_info {
	const char *hostname; /* reporting MTA, also MAILER-DAEMON@hostname */
	const char *to;       /* the original envelope sender */
	const char *envid;    /* "" when none */
	int64_t arrival;      /* when the original was queued */
	int64_t now;
	int64_t retry_until; /* for DSN_DELAYED: when we give up */
	int ret_full;         /* 1: whole message (DSN_FAILED only), 0: header only */
	const char *msg;      /* the original message */
	size_t msglen;
	uint64_t id; /* queue entry id, for Message-ID and boundary */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts; /* >= 1; all of one kind (failed, delayed, or success) */
	/* The original came with REQUIRETLS (RFC 8689): a notice that quotes
	 * it leaves with REQUIRETLS too (§5); queue_notify_delivered reads it. */
	int requiretls;
};

/*
 * Writes the notice into out (its maximum must allow what it returns, the
 * header or a message of at most DSN_RETURN_MAX in its 7-bit form, plus
 * about 4 KB per recipient). Returns 0, or -1 when out is full (the
 * caller may try again with ret_full 0). An 8-bit original whose 7-bit
 * form would not fit in out returns as its header instead (0).
 */
int dsn_build(const struct dsn_info *in, struct buf *out);

/* What a notice needs of the hop it is sent to (dsn_needs()). */
#define DSN_NEEDS_8BITMIME 1u /* 8-bit octets: BODY=8BITMIME (RFC 6152 §3) */
#define DSN_NEEDS_SMTPUTF8 2u /* a UTF-8 recipient or header field (RFC 6531 §3.4) */

/*
 * What the notice msg[0..len) (dsn_build()'s output) for the envelope
 * recipient to asks of the next hop: DSN_NEEDS_* bits, 0 for a 7-bit
 * notice. A global notice (RFC 6533) has 8-bit parts; one to a UTF-8
 * address has it in its To field too, and needs SMTPUTF8 (which implies
 * 8BITMIME, RFC 6531 §3.1). Every notice is queued with these declared,
 * so no hop gets one it cannot take (it fails at that hop instead).
 */
unsigned dsn_needs(const char *to, const char *msg, size_t len);

/* RFC 5322 date of t (UTC) into out (>= 32 octets). */
void dsn_date(char *out, size_t outsz, int64_t t);

#endif
