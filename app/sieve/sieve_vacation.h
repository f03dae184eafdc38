/*
 * sieve_vacation.h — the messages Sieve sends on its own. For a vacation
 * action, the rules of RFC 5230 §4: whether to reply at all, the key
 * under which "already replied to this sender" is remembered
 * (store_sieve_seen), and the reply message; for a notify action with a
 * mailto method (RFC 5435, RFC 5436), whether to send one and the
 * notification message.
 *
 * Design: pure functions over the message and the action, so the
 * delivery stage that executes a Sieve result only has to look up and
 * record the key in the store and queue the message. Nothing here reads
 * the clock or the store.
 *
 * Caveats: the reply is plain text in UTF-8 (or the reason as a MIME
 * entity with :mime); DKIM signing is the outbound queue's.
 */
#ifndef TERN_SIEVE_VACATION_H
#define TERN_SIEVE_VACATION_H

#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "sieve/sieve.h"

/*
 * Whether to answer msg (RFC 5230 §4.5-4.6, RFC 3834 §2): returns NULL to
 * reply, else the reason not to, for the log: "null_sender",
 * "auto_submitted", "list" (List-* fields, RFC 2369/2919), "bulk"
 * (Precedence bulk/list/junk), "suppressed" (X-Auto-Response-Suppress
 * All or OOF, Microsoft's), "system_sender" (MAILER-DAEMON, owner-*,
 * *-request, LISTSERV, majordomo), "own_address" (the sender is one of
 * ours), "not_addressed" (none of our addresses in To, Cc, Bcc,
 * Resent-To, Resent-Cc or Resent-Bcc). ours[0..nours) are the recipient's addresses:
 * the envelope recipient and the action's :addresses. owned, when not
 * NULL, is asked about each other address of those fields (at most
 * SIEVE_VACATION_OWNED_MAX): 1 when it is the user's too (RFC 5230 §4.5:
 * all of the user's addresses count, its aliases among them, with
 * :addresses or without, as in Pigeonhole).
 *
 * found, when not NULL, receives the first address of those fields that
 * was the user's (as written there, local@domain), or "" when none was
 * or it is longer than SIEVE_VACATION_ADDR_MAX - 1 octets: the address
 * the message was sent to, which the reply's From is best taken from
 * when the script gives no :from (RFC 5230 §5.4 and its errata 2035).
 */
#define SIEVE_VACATION_OWNED_MAX 32
#define SIEVE_VACATION_ADDR_MAX 321
typedef int sieve_owned_fn(void *arg, struct str addr);
const char *sieve_vacation_skip(const char *msg, size_t len, struct str env_from,
                                const struct str *ours, uint32_t nours, sieve_owned_fn *owned,
                                void *owned_arg, char found[SIEVE_VACATION_ADDR_MAX]);

/* The key remembering a reply to sender under the action's :handle (or,
 * without one, its reason, subject, from and mime flag: RFC 5230 §4.2). */
void sieve_vacation_key(const struct sieve_action *a, struct str sender, uint8_t key[32]);

/*
 * Appends the reply to out: From (the action's :from, else from_default),
 * To the sender, Subject (:subject, else "Auto: " and the original's,
 * or "Automated reply" when it has none or a blank one; cut to 255
 * characters and "…" when longer than 256, as Pigeonhole),
 * In-Reply-To and References from the original's Message-ID, Date,
 * Message-ID, Auto-Submitted: auto-replied, MIME fields, then the reason
 * (a plain one that is empty or blank: a default text naming the
 * original's subject, as JMAP's textBody and htmlBody null ask, RFC 8621
 * §8; an empty reply tells the sender nothing). date is an RFC 5322 date, msgid without angle brackets. Returns 0, or
 * -1 when out's ceiling was reached.
 */
int sieve_vacation_reply(const struct sieve_action *a, const char *msg, size_t len,
                         struct str sender, struct str from_default, const char *date,
                         const char *msgid, struct buf *out);

/*
 * RFC 5436 §2.7: a message whose Auto-Submitted field is other than "no"
 * causes no notification (a notification about a notification would
 * loop). NULL when one may be sent, else "auto_submitted".
 */
const char *sieve_notify_skip(const char *msg, size_t len);

struct sieve_mailto;
/*
 * Appends the notification about msg to out: From (the action's :from,
 * else from_default), To and Cc the URI's recipients of those fields
 * (its bcc ones not shown), Subject (the :message, else the URI's
 * subject, else "New mail: " and the original's, "New mail" when it has
 * none: RFC 5436 §2.6), Date, Message-ID, Auto-Submitted: auto-notified with
 * owner-email= from_default (the script's owner, RFC 5436 §2.7.1),
 * Importance/X-Priority for :importance 1 or 3, then the URI's body, or
 * the :message and who sent what. date is an RFC 5322 date, msgid
 * without angle brackets. Returns 0, or -1 when out's ceiling was
 * reached.
 */
int sieve_notify_message(const struct sieve_action *a, const struct sieve_mailto *m,
                         const char *msg, size_t len, struct str from_default, const char *date,
                         const char *msgid, struct buf *out);

/*
 * The writers of what a script puts into mail tern composes (vacation and
 * notify replies, replace and enclose), one for each kind of text:
 *
 * sieve_text_entity: text as a text/plain entity in UTF-8, from its
 * Content-Type to its body (mime_text_body: 7bit, 8bit or
 * quoted-printable, whatever the script wrote: 8-bit text, lines over
 * 998 octets, a NUL).
 *
 * sieve_mime_entity: a script's MIME entity (vacation :mime, replace
 * :mime): of its header only the Content-* fields (RFC 2045 §9: any
 * other would join the composed message's own header, a second From
 * among them), then its body; a text entity (or one without
 * Content-Type: text/plain, written so) in the identity encoding
 * (none, 7bit, 8bit) gets its encoding from its body as
 * sieve_text_entity's, since 8-bit octets under 7bit or a line over 998
 * octets is no valid MIME; base64, quoted-printable and other types'
 * bodies stay as written.
 *
 * sieve_from_value: a :from (an address, or a display name and one): as
 * it is, without controls, when ASCII; a display name that is not ASCII
 * as RFC 2047 words (mime_header_text's, phrase-safe), since header
 * text is ASCII outside SMTPUTF8 mail (RFC 5322 §2.2; RFC 2047 §5 (3));
 * an address that is not ASCII stays (RFC 6532).
 *
 * At out's ceiling they stop short (buf_room(out) == 0 tells).
 */
void sieve_text_entity(struct buf *out, struct str t);
void sieve_mime_entity(struct buf *out, struct str text);
void sieve_from_value(struct buf *out, struct str s);

#endif
