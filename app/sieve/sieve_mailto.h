/*
 * sieve_mailto.h — the mailto URI of a Sieve notification (RFC 5436 over
 * RFC 6068): its recipients, and the subject and body it asks for.
 *
 * Design: one parser for both users, the valid_notify_method test and
 * the delivery stage that sends the notification. The recipients are
 * the addresses before "?" and those of the to, cc and bcc header
 * fields, each %-decoded and split at commas (in a header field's value
 * not inside a quoted display name, and an address there may be a
 * display name and the address in angle brackets, RFC 6068 §2's
 * hfvalue being the field's value); subject and body are %-decoded. Every other header field of the URI is ignored, as RFC
 * 5436 §2.2 asks for those it names unsafe (From, Auto-Submitted,
 * Received, Return-Path...): the notification's own fields are ours.
 *
 * Every address a script gives (a redirect's, a notification's) is
 * checked by sieve_mailbox_valid(), the one check: at compile time when
 * the script writes it as a constant, at run time otherwise.
 *
 * Caveats: a quoted local part with a comma cannot be written in a mailto
 * URI (the comma splits it); a comment beside an address is refused; the
 * domain's labels are checked for form, not looked up.
 */
#ifndef TERN_SIEVE_MAILTO_H
#define TERN_SIEVE_MAILTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"

#define SIEVE_MAILTO_RCPTS_MAX 8  /* recipients of one notification */
#define SIEVE_MAILTO_ADDR_MAX 320 /* octets of one address */

enum { SIEVE_MAILTO_TO, SIEVE_MAILTO_CC, SIEVE_MAILTO_BCC };

struct sieve_mailto {
	struct str rcpts[SIEVE_MAILTO_RCPTS_MAX];
	uint32_t nrcpts;
	/* The field each came in: shown in To or Cc, a bcc one not shown */
	uint8_t field[SIEVE_MAILTO_RCPTS_MAX]; /* SIEVE_MAILTO_TO, _CC, _BCC */
	/* As a header field's value gave it with a display name ("Name
	 * <addr>", shown so in To or Cc); empty for an address alone */
	struct str named[SIEVE_MAILTO_RCPTS_MAX];
	struct str subject, body; /* empty when the URI has none */
};

/*
 * 1 when addr is an RFC 5321 §4.1.2 Mailbox as RCPT TO takes it (SMTP's
 * parser, smtp_mailbox_address(): a Dot-string or Quoted-string local
 * part of at most 64 octets, "@", a domain of letter-digit-hyphen labels,
 * UTF-8 allowed, RFC 6531, or an IPv4 or IPv6 address literal), with no
 * angle bracket or comma anywhere (a quoted one neither), at most
 * SIEVE_MAILTO_ADDR_MAX octets. No source route ("@a,@b:x@y"), comment,
 * display name, control, nor white space outside the quotes.
 */
int sieve_mailbox_valid(struct str addr);
/* 1 when s is a mailbox a :from may give (RFC 5230 §4.4, RFC 5435
 * §3.3): one RFC 5322 §3.4 mailbox as sieve_mailbox_scan() reads it
 * (a display name that may be quoted and hold "<" or ",", comments),
 * whose addr-spec, comments off, passes sieve_mailbox_valid(). */
int sieve_from_valid(struct str s);

/*
 * Walks one RFC 5322 §3.4 mailbox of s from offset from, the way its
 * lexer does: a quoted-string ("Doe, <J>") and a comment ("(work, <x>)",
 * nested, RFC 5322 §3.2.2) hide their commas and angle brackets, a
 * quoted-pair hides its character. *end: where the mailbox ends (the
 * first comma outside both, or s.len); *lt / *gt: the offsets of its
 * angle-addr's brackets, or -1 when it has none. Returns 0, or -1 for
 * what no header field may hold (CR, LF, NUL), a quote or comment left
 * open, a stray bracket, a second angle-addr, or text after one other
 * than white space and comments.
 */
int sieve_mailbox_scan(struct str s, size_t from, size_t *end, ptrdiff_t *lt, ptrdiff_t *gt);
/* The addr-spec of an RFC 5228 §2.4.2.3 sieve-address s (a redirect's):
 * s without the white space around it, or what is in the angle brackets
 * that end it after a display name on one line ("<a@b>" and
 * "Bob <a@b>" are a@b), and without the white space RFC 5322 §3.4.1
 * lets stand around its "@" (the CFWS of "[CFWS] dot-atom-text [CFWS]":
 * "a @ b" is a@b). Written into dst, which has room for s.len octets. */
struct str sieve_address_unwrap(struct str s, char *dst);

/* 1 when s is a header field's name (RFC 5322 §3.6.8: printable
 * US-ASCII but ':'), of at most 998 octets (§2.1.1's line). */
int sieve_field_name_valid(struct str s);

/*
 * Parses uri (case-insensitive "mailto:" first) into m, decoded strings
 * allocated from a. Returns 0, or -1 when it is not a mailto URI, a %
 * escape is malformed, a header field's name is none (RFC 5322), an address is not plausible, there are more than
 * SIEVE_MAILTO_RCPTS_MAX recipients, or none.
 */
int sieve_mailto_parse(struct str uri, struct arena *a, struct sieve_mailto *m);

#endif
