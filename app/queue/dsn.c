/*
 * dsn.c — RFC 3464 delivery status notifications. See dsn.h.
 */
#include "queue/dsn.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "mime/mime_decode.h"
#include "mime/mime_downgrade.h"
#include "queue/smtp_reply.h"

void dsn_date(char *out, size_t outsz, int64_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	snprintf(out, outsz, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Appends s[0..n) with CR/LF/control characters turned into spaces and,
 * when ascii, 8-bit octets into '?': an ASCII report (message/delivery-
 * status, a us-ascii text part) stays so whatever a remote's reply held.
 * A UTF-8 report (RFC 6533) keeps well-formed UTF-8 and gets '?' for each
 * octet of anything else: a status is cut at SQ_STATUS_MAX octets
 * (smtp_client.c), which may fall inside a character, and a remote may
 * send any octets; a message/global-delivery-status part must be UTF-8.
 */
static int put_clean_n(struct buf *b, const char *s, size_t len, int ascii)
{
	char tmp[600];
	size_t n = 0;
	for (size_t i = 0; i < len && s[i];) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c >= 0x80 && !ascii ? utf8_seq((const unsigned char *)s + i, len - i) : 1;
		if (k > 1) {
			memcpy(tmp + n, s + i, k);
			n += k;
		} else {
			tmp[n++] = (c < 0x20 || c == 0x7f) ? ' ' : c >= 0x80 ? '?' : (char)c;
			k = 1;
		}
		i += k;
		if (n > sizeof tmp - 4) {
			if (buf_append(b, tmp, n) < 0)
				return -1;
			n = 0;
		}
	}
	return buf_append(b, tmp, n);
}

static int put_clean(struct buf *b, const char *s, int ascii)
{
	return put_clean_n(b, s, strlen(s), ascii);
}

/*
 * The remote's reply a recipient's status holds: the status itself, or
 * what follows DSN_LAST_ERROR in a verdict of ours (the lifetime's end
 * quoting the last 4xx), either maybe after SMTP_UNEXPECTED_REPLY (a 2xx
 * or 3xx that settled nothing, deferred with a status of ours); NULL
 * when the status is ours alone.
 */
static const char *remote_reply(const char *status)
{
	static const char unexpected[] = SMTP_UNEXPECTED_REPLY;
	const char *p = strstr(status, DSN_LAST_ERROR);
	if (!smtp_status_is_reply(status) && p)
		status = p + strlen(DSN_LAST_ERROR);
	if (strncmp(status, unexpected, sizeof unexpected - 1) == 0)
		status += sizeof unexpected - 1;
	return smtp_status_is_reply(status) ? status : NULL;
}

/*
 * Length of the remote's own words in reply: a reply that ended a session
 * carries our note of when it came, " (greeting from HOST[IP])", " (in
 * reply to RCPT TO, from HOST[IP])" (smtp_client.c), which the
 * Diagnostic-Code leaves out: RFC 3464 §2.3.6 wants there the reply the
 * remote gave, as Postfix writes it. The note is known by its ending in
 * the remote's own name and address; a reply without it is whole.
 */
static size_t reply_own_len(const char *reply, const char *remote)
{
	size_t n = strlen(reply), rl = strlen(remote);
	const char *open = NULL;
	for (const char *p = strstr(reply, " ("); p; p = strstr(p + 2, " ("))
		open = p;
	if (!open || rl == 0 || n < 2 || reply[n - 1] != ')' || reply[n - 2] != ']')
		return n;
	for (const char *h = strstr(open, remote); h; h = strstr(h + 1, remote))
		if (h[-1] == ' ' && h[rl] == '[' && !strchr(h + rl, ' ') && !strchr(h + rl, '('))
			return (size_t)(open - reply);
	return n;
}

/*
 * Appends the text line p[0..n) (no CR or LF in it), CRLF after it; one
 * longer than the 998 octets a line may hold (RFC 5322 §2.1.1: an
 * address, a host name and a remote's reply of 512 octets can be) is
 * wrapped at white space, continuation lines indented by 4, and a word
 * too long for a line cut. Shorter lines stay whole, so a reader (or a
 * script) finds the remote's reply as it was.
 */
static int put_wrapped(struct buf *b, const char *p, size_t n)
{
	size_t col = 0, i = 0;
	int r = 0;
	while (i < n) {
		size_t sp = i;
		while (sp < n && p[sp] == ' ')
			sp++;
		size_t e = sp;
		while (e < n && p[e] != ' ')
			e++;
		size_t w = e - sp, gap = sp - i;
		if (col > 4 && col + gap + w > 998) {
			r |= buf_append(b, "\r\n    ", 6);
			col = 4;
			gap = 0;
		}
		r |= buf_append(b, p + i + (sp - i - gap), gap);
		col += gap;
		while (w > 0) {
			size_t m = col + w > 998 ? 998 - col : w;
			r |= buf_append(b, p + sp, m);
			col += m;
			sp += m;
			w -= m;
			if (w > 0) {
				r |= buf_append(b, "\r\n    ", 6);
				col = 4;
			}
		}
		i = e;
	}
	return r | buf_append(b, "\r\n", 2);
}

/* Length of the header section (through the empty line), or n when none. */
static size_t header_len(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 2;
		if (p[i] == '\n' && p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return n;
}

static int is_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/*
 * 1 when an address the notice names is UTF-8 (SMTPUTF8 mail): RFC 6533
 * then has the report as message/global-delivery-status, whose fields
 * may hold UTF-8 and whose such addresses are of type "utf-8" (§3, §6.1);
 * message/delivery-status is ASCII only.
 */
static int needs_global(const struct dsn_info *in)
{
	if (!is_ascii(in->to))
		return 1;
	for (size_t i = 0; i < in->nrcpts; i++)
		if (!is_ascii(in->rcpts[i].addr) || !is_ascii(in->rcpts[i].orcpt))
			return 1;
	return 0;
}

static const char *action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "failed";
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	}
	return "failed";
}

/* Appends the original with bare LFs made CRLF, as a MIME body must be. */
static int put_original(struct buf *b, const char *p, size_t n)
{
	if (buf_append_crlf(b, p, n) < 0)
		return -1;
	if (n && p[n - 1] != '\n')
		return buf_append(b, "\r\n", 2);
	return 0;
}

unsigned dsn_needs(const char *to, const char *msg, size_t len)
{
	size_t head = header_len(msg, len);
	if (!is_ascii(to) || mime_has_8bit(msg, head))
		return DSN_NEEDS_SMTPUTF8 | DSN_NEEDS_8BITMIME;
	return mime_has_8bit(msg, len) ? DSN_NEEDS_8BITMIME : 0;
}

int dsn_build(const struct dsn_info *in, struct buf *b)
{
	char date[64], arrival[64], boundary[96], code[16];
	enum dsn_action kind = in->nrcpts ? in->rcpts[0].action : DSN_FAILED;
	const char *subject = kind == DSN_FAILED    ? "Undelivered Mail Returned to Sender"
			      : kind == DSN_DELAYED ? "Delayed Mail (still being retried)"
						    : "Successful Mail Delivery Report";
	int r = 0;
	int global = needs_global(in);

	dsn_date(date, sizeof date, in->now);
	dsn_date(arrival, sizeof arrival, in->arrival);
	/* The returned message must not hold a delimiter line, or its part
	 * would end early. Entry id, time and host name can be guessed; a
	 * hash of the returned octets cannot be written into them. */
	/* RET=FULL is for notices of failure: any other returns the header
	 * only (RFC 3461 §4.3), so a success notice can never carry a whole
	 * message to whoever MAIL FROM named. */
	int full = in->ret_full && kind == DSN_FAILED;
	/* A message over DSN_RETURN_MAX returns as its header, and the text
	 * says so (RFC 3461 §4.3 and RFC 3464 §2 allow it). */
	int cut = full && in->msglen > DSN_RETURN_MAX;
	if (cut)
		full = 0;
	size_t n = full ? in->msglen : header_len(in->msg, in->msglen);
	uint8_t h[8];
	crypto_generichash(h, sizeof h, (const unsigned char *)in->msg, n, NULL, 0);
	/* At most 70 characters (RFC 2046 §5.1.1): the host's name, there
	 * to tell hosts apart, is cut to what is left (a name has no space
	 * to end on). */
	int bl = snprintf(boundary, sizeof boundary, "%llu.%lld.%02x%02x%02x%02x%02x%02x%02x%02x/",
			  (unsigned long long)in->id, (long long)in->now, h[0], h[1], h[2], h[3],
			  h[4], h[5], h[6], h[7]);
	if (bl > 0 && bl < 70)
		snprintf(boundary + bl, sizeof boundary - (size_t)bl, "%.*s", 70 - bl, in->hostname);

	r |= buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", in->hostname);
	r |= buf_append_c(b, "To: <");
	r |= put_clean(b, in->to, !global);
	r |= buf_printf(b, ">\r\nSubject: %s\r\nDate: %s\r\n", subject, date);
	r |= buf_printf(b, "Message-ID: <dsn.%llu.%lld@%s>\r\n", (unsigned long long)in->id,
			(long long)in->now, in->hostname);
	/* report-type is the subtype of the second part (RFC 6522 §3):
	 * RFC 6533's global-delivery-status when the report is that. A
	 * multipart holding 8bit parts is itself 8bit (RFC 2045 §6.4: its
	 * encoding says what the parts hold; none said is 7bit). */
	r |= buf_printf(b, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
			   "Content-Type: multipart/report; report-type=%sdelivery-status;\r\n"
			   "\tboundary=\"%s\"\r\n%s\r\n"
			   "This is a MIME-encapsulated message.\r\n\r\n",
			global ? "global-" : "", boundary,
			global ? "Content-Transfer-Encoding: 8bit\r\n" : "");

	/* 1. Human-readable part (it quotes the addresses). */
	r |= buf_printf(b, "--%s\r\nContent-Description: Notification\r\n"
			   "Content-Type: text/plain; charset=%s\r\n%s\r\n",
			boundary, global ? "utf-8" : "us-ascii",
			global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	r |= buf_printf(b, "This is the mail system at host %s.\r\n", in->hostname);
	/* A paragraph for each kind of outcome the notice reports (one
	 * notice may list failed, delayed and relayed recipients), and none
	 * for a kind it does not: a failure notice never says "delivered". */
	unsigned kinds = 0;
	for (size_t i = 0; i < in->nrcpts; i++)
		kinds |= 1u << in->rcpts[i].action;
	if (kinds & (1u << DSN_FAILED))
		r |= buf_append_c(b, "\r\nI'm sorry to have to inform you that your message could not\r\n"
				     "be delivered to one or more recipients. It's attached below.\r\n");
	if (cut)
		r |= buf_printf(b, "\r\nYour message was %zu bytes, more than the %u a notice\r\n"
				   "returns: only its header is attached below.\r\n",
				in->msglen, (unsigned)DSN_RETURN_MAX);
	if (kinds & (1u << DSN_DELAYED))
		r |= buf_append_c(b, "\r\nYour message could not be delivered for some time. The mail\r\n"
				     "system will keep trying; you do not have to resend it.\r\n");
	if (kinds & (1u << DSN_DELIVERED | 1u << DSN_RELAYED))
		r |= buf_append_c(b, "\r\nYour message was successfully delivered to the destination(s)\r\n"
				     "listed below.\r\n");
	r |= buf_append_c(b, "\r\n");
	struct buf line;
	buf_init(&line, 4096);
	for (size_t i = 0; i < in->nrcpts; i++) {
		const struct dsn_rcpt *x = &in->rcpts[i];
		buf_reset(&line);
		r |= buf_append_c(&line, "<");
		r |= put_clean(&line, x->addr, !global);
		r |= buf_append_c(&line, ">: ");
		/* "host X said:" goes before the remote's own words only: a
		 * verdict of ours (5.3.4 over its SIZE, 5.4.7 at the lifetime's
		 * end) was never said by the host. */
		const char *st = x->status && *x->status ? x->status : action_name(x->action);
		int remote = x->remote && *x->remote;
		const char *reply = remote ? remote_reply(st) : NULL;
		if (reply) {
			r |= put_clean_n(&line, st, (size_t)(reply - st), !global);
			r |= buf_append_c(&line, "host ");
			r |= put_clean(&line, x->remote, !global);
			r |= buf_append_c(&line, " said: ");
			r |= put_clean(&line, reply, !global);
		} else {
			r |= put_clean(&line, st, !global);
			if (remote) {
				r |= buf_append_c(&line, " (host ");
				r |= put_clean(&line, x->remote, !global);
				r |= buf_append_c(&line, ")");
			}
		}
		r |= put_wrapped(b, buf_data(&line), buf_len(&line));
	}
	buf_free(&line);
	r |= buf_append_c(b, "\r\n");

	/* 2. message/delivery-status. */
	r |= buf_printf(b, "--%s\r\nContent-Description: Delivery report\r\n"
			   "Content-Type: message/%sdelivery-status\r\n%s\r\n",
			boundary, global ? "global-" : "",
			global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	r |= buf_printf(b, "Reporting-MTA: dns; %s\r\n", in->hostname);
	if (in->envid && *in->envid) {
		r |= buf_append_c(b, "Original-Envelope-Id: ");
		r |= put_clean(b, in->envid, !global);
		r |= buf_append_c(b, "\r\n");
	}
	r |= buf_printf(b, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < in->nrcpts; i++) {
		const struct dsn_rcpt *x = &in->rcpts[i];
		const char *status = x->status ? x->status : "";
		r |= buf_append_c(b, is_ascii(x->addr) ? "\r\nFinal-Recipient: rfc822; "
						       : "\r\nFinal-Recipient: utf-8; ");
		r |= put_clean(b, x->addr, !global);
		r |= buf_append_c(b, "\r\n");
		if (x->orcpt && *x->orcpt && strchr(x->orcpt, ';')) {
			r |= buf_append_c(b, "Original-Recipient: ");
			r |= put_clean(b, x->orcpt, !global);
			r |= buf_append_c(b, "\r\n");
		}
		if (*status)
			smtp_status_code(status, code, sizeof code);
		else
			snprintf(code, sizeof code, "%s",
				 x->action == DSN_FAILED	? "5.0.0"
				 : x->action == DSN_DELAYED ? "4.0.0"
							    : "2.0.0");
		/* The Status class must agree with the Action (RFC 3464 §2.3.4). */
		if (x->action == DSN_FAILED && code[0] != '5')
			code[0] = '5';
		if (x->action == DSN_DELAYED)
			code[0] = '4';
		if (x->action == DSN_DELIVERED || x->action == DSN_RELAYED)
			code[0] = '2';
		r |= buf_printf(b, "Action: %s\r\nStatus: %s\r\n", action_name(x->action), code);
		if (x->remote && *x->remote) {
			r |= buf_append_c(b, "Remote-MTA: dns; ");
			r |= put_clean(b, x->remote, !global);
			r |= buf_append_c(b, "\r\n");
			/* The remote's reply, also when our verdict quotes it
			 * (RFC 3464 §2.3.6: the diagnostic the remote MTA gave). */
			const char *reply = remote_reply(status);
			if (reply) {
				r |= buf_append_c(b, "Diagnostic-Code: smtp; ");
				r |= put_clean_n(b, reply, reply_own_len(reply, x->remote), !global);
				r |= buf_append_c(b, "\r\n");
			}
		}
		if (x->attempted > 0) {
			char last[64];
			dsn_date(last, sizeof last, x->attempted);
			r |= buf_printf(b, "Last-Attempt-Date: %s\r\n", last);
		}
		if (x->action == DSN_DELAYED && in->retry_until > 0) {
			char until[64];
			dsn_date(until, sizeof until, in->retry_until);
			r |= buf_printf(b, "Will-Retry-Until: %s\r\n", until);
		}
	}
	r |= buf_append_c(b, "\r\n");

	/* 3. The original, or its header. */
	int eight = mime_has_8bit(in->msg, n);
	/* A notice goes to whatever server takes the sender's mail, and one
	 * without 8BITMIME must get no 8-bit octet (RFC 6152 §3); the queue
	 * learns the next hop only when it sends. So an 8-bit original
	 * returns as 7 bit, as Postfix's downgrade would: the whole message
	 * with its 8-bit parts made quoted-printable (message/rfc822 itself
	 * admits no such encoding, RFC 2046 §5.2.1), and when that cannot
	 * be done (an 8-bit header field other than an unstructured one,
	 * which takes RFC 2047 words) its header as text/rfc822-headers,
	 * quoted-printable (a text type may be). An SMTPUTF8 message's UTF-8
	 * header goes back as RFC 6533's message/global (or its header as
	 * message/global-headers, §6.3), 8 bit: such a notice only leaves
	 * under SMTPUTF8, which implies 8BITMIME. */
	/* The 7-bit form can be 3 times the original (quoted-printable):
	 * it may take no more than the notice has room for, with the margin
	 * mime_downgrade_7bit wants free before it encodes a header field
	 * (4 octets for one), else a large 8-bit original was held whole in
	 * memory (120 MB for 40 MB) only to be found too big. One that does
	 * not fit returns as its header, as the caller's second try would. */
	size_t cap = buf_room(b) + 4 * header_len(in->msg, in->msglen) + 4096;
	struct buf seven;
	buf_init(&seven, cap < in->msglen * 4 + 4096 ? cap : in->msglen * 4 + 4096);
	int qp = 0;
	if (eight && !global && full) {
		if (mime_downgrade_7bit(in->msg, n, &seven) == 0) {
			eight = 0;
		} else {
			buf_reset(&seven);
			full = 0;
			n = header_len(in->msg, in->msglen);
			eight = mime_has_8bit(in->msg, n);
		}
	}
	if (eight && !global && !full) {
		qp = 1;
		eight = 0;
	}
	/* Only a failure returns an undelivered message; a delay or
	 * success notice says what it returns and no more. */
	r |= buf_printf(b, "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n%s\r\n", boundary,
			full			? "Undelivered Message"
			: kind == DSN_FAILED	? "Undelivered Message Headers"
			: kind == DSN_DELAYED	? "Headers of the Delayed Message"
						: "Headers of the Delivered Message",
			full ? (global && eight ? "message/global" : "message/rfc822")
			     : (global && eight ? "message/global-headers" : "text/rfc822-headers"),
			eight ? "Content-Transfer-Encoding: 8bit\r\n"
			: qp  ? "Content-Transfer-Encoding: quoted-printable\r\n"
			      : "");
	if (qp)
		r |= mime_qp_lines(b, in->msg, n);
	else if (buf_len(&seven))
		r |= put_original(b, buf_data(&seven), buf_len(&seven));
	else
		r |= put_original(b, in->msg, n);
	buf_free(&seven);
	r |= buf_printf(b, "\r\n--%s--\r\n", boundary);
	return r < 0 ? -1 : 0;
}
