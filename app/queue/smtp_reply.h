/*
 * smtp_reply.h — the client side of SMTP replies: finding lines in what
 * the remote sent, assembling multi-line replies, reading EHLO keywords
 * and enhanced status codes. Used by the outbound SMTP client.
 *
 * Design. The client keeps its own input buffer; smtp_reply_line_find() tells
 * it where the next complete line ends (or that it needs more, or that a
 * line is too long: a misbehaving remote). Each line goes to
 * smtp_reply_line(), which checks "ddd-" / "ddd " / "ddd" framing, keeps
 * the code of the first line, and appends the text (capped) so the whole
 * reply can go into logs and DSNs. Nothing is sized from the peer's data.
 *
 * Caveats: text is kept up to SMTP_REPLY_TEXT_MAX octets, lines joined by
 * "\n"; longer replies are cut (the code, the completion and the EHLO
 * keywords, read line by line, are still right). The number of lines is
 * not limited (RFC 5321 sets none; Postfix reads them all): memory stays
 * bounded, and a reply that never ends is ended by its timeout (§4.5.3.2).
 */
#ifndef TERN_QUEUE_SMTP_REPLY_H
#define TERN_QUEUE_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 2048 /* a longer line is a protocol error */
#define SMTP_REPLY_TEXT_MAX 1024

/* EHLO extensions we use. */
#define SMTP_EXT_PIPELINING 1u
#define SMTP_EXT_STARTTLS 2u
#define SMTP_EXT_8BITMIME 4u
#define SMTP_EXT_SMTPUTF8 8u
#define SMTP_EXT_SIZE 16u
#define SMTP_EXT_DSN 32u
#define SMTP_EXT_AUTH_PLAIN 64u
#define SMTP_EXT_AUTH_LOGIN 128u
#define SMTP_EXT_ENHANCEDSTATUSCODES 256u
#define SMTP_EXT_REQUIRETLS 512u /* RFC 8689 */
#define SMTP_EXT_DELIVERBY 1024u /* RFC 2852 */
#define SMTP_EXT_MTPRIORITY 2048u /* RFC 6710 */

/* RFC 9422 LIMITS values past this are taken as this (the registered
 * limits' values are 1*6DIGIT). */
#define SMTP_LIMIT_MAX 999999u

struct smtp_ehlo {
	unsigned ext;  /* SMTP_EXT_* */
	uint64_t size; /* SIZE limit, 0 = none announced */
	/* RFC 9422 LIMITS, 0 = none announced (or malformed, ignored):
	 * RCPT commands per transaction, transactions per session,
	 * recipient domains per transaction. */
	unsigned rcptmax, mailmax, rcptdomainmax;
};

struct smtp_reply {
	int code;      /* 100..599 once the first line was seen, else 0 */
	unsigned lines;
	size_t textlen;
	char text[SMTP_REPLY_TEXT_MAX + 1]; /* NUL-terminated, without codes */
	/* The keywords of the lines after the first, read as each line
	 * comes: the text above is cut, and an EHLO reply may announce
	 * PIPELINING or STARTTLS past its first KiB. */
	struct smtp_ehlo ehlo;
};


/*
 * Looks for the end of the next line in p[0..n): returns the length of the
 * line including its LF (a CR before it belongs to the line), 0 when no
 * LF is there yet and fewer than max octets are, -1 when max octets came
 * without an LF.
 */
long smtp_reply_line_find(const char *p, size_t n, size_t max);

void smtp_reply_init(struct smtp_reply *r);
/*
 * Feeds one line (without CR LF). Returns 1 when this line completed the
 * reply, 0 when more lines follow, -1 when the line is malformed (no three
 * digits 2..5 first, a bad separator, a code other than the first line's:
 * RFC 5321 §4.2.1's MUST). After 1 or -1, call smtp_reply_init() before the next.
 */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len);

/* Fills e from a complete EHLO reply (each line after the first is a
 * keyword line; all of them count, however long the reply). */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e);

/*
 * Copies the enhanced status code ("5.1.1") the reply starts with into out
 * (size >= 16) when its class matches the reply code's first digit;
 * otherwise writes "<class>.0.0". Returns out.
 */
const char *smtp_reply_status(const struct smtp_reply *r, char *out, size_t outsz);

/*
 * Same for a status string as the queue keeps it: "550 5.1.1 text" (a
 * remote's reply) or "5.1.10 text" (our own reason). Returns out.
 */
const char *smtp_status_code(const char *status, char *out, size_t outsz);

/*
 * 1 when a status string as the queue keeps it is a remote's reply: it
 * begins with a reply code and a space ("450 4.2.0 ..."), not with an
 * enhanced code of ours ("4.4.1 ..."); else 0.
 */
int smtp_status_is_reply(const char *status);

/* How the queue keeps a 2xx or 3xx a remote gave where it settles nothing
 * (a 250 to DATA, a 3xx to RCPT): a temporary status of ours, then the
 * reply itself, which the notice gives as the Diagnostic-Code (dsn.c). */
#define SMTP_UNEXPECTED_REPLY "4.5.0 unexpected reply: "

#endif
