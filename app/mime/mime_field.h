/*
 * mime_field.h — parsers for the structured header values MIME and IMAP
 * need: "value/subtype; param=value" (Content-Type, Content-Disposition)
 * with RFC 2231 continuations and charsets, address lists (RFC 5322 §3.4
 * with groups and obsolete routes) in the shape of IMAP ENVELOPE address
 * structures, and comma lists of tokens (Content-Language).
 *
 * Design: every parser takes an unfolded value (rfc5322_unfold()) and
 * never fails: it returns what it could make sense of, the way Dovecot's
 * message-address and rfc2231 parsers do, because a FETCH must answer
 * something for any message. Results are slices into the value where no
 * rewriting was needed, and arena copies otherwise; keep both alive.
 *
 * Caveats: encoded-words (RFC 2047) are left as they are — IMAP returns
 * them raw and rfc5322_decode_words() makes display text. Parameter names
 * keep their case. Counts are capped by the max arguments; what is past a
 * cap is dropped, never an error.
 */
#ifndef TERN_MIME_FIELD_H
#define TERN_MIME_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"

/* mime_param.flags */
#define MIME_PARAM_EXTENDED                                                                        \
	0x1u                  /* RFC 2231 charset'language'%XX form: value                         \
	                       * is percent-decoded, charset/language set */
#define MIME_PARAM_UTF8 0x2u  /* value was converted from charset to UTF-8 */
#define MIME_PARAM_FLAGS 0x3u /* all defined bits */

struct mime_param {
	struct str name;     /* as written, RFC 2231 "*N" and "*" removed */
	struct str value;    /* quotes and quoted-pairs removed; RFC 2231
	                      * sections joined; with EXTENDED percent-decoded,
	                      * and with UTF8 also in UTF-8. Without UTF8 the
	                      * octets are in charset (unknown to us) */
	struct str charset;  /* with EXTENDED: as written (may be empty) */
	struct str language; /* with EXTENDED: as written (may be empty) */
	unsigned flags;      /* MIME_PARAM_* */
};

/*
 * IMAP ENVELOPE address (RFC 9051 §7.5.2): a mailbox has mailbox and host
 * non-NULL; a group start has host NULL and mailbox the group's name; a
 * group end has mailbox and host NULL. name and adl are NULL when absent.
 */
struct mime_address {
	struct str name;    /* display name, quotes removed, words joined by one
	                     * space; a comment when there was no phrase */
	struct str adl;     /* obsolete source route "@a,@b" */
	struct str mailbox; /* local part as written (quoted-strings keep
	                     * their quotes: SEARCH matches that form; ENVELOPE
	                     * gives mime_local_part_content()),
	                     * "MISSING_MAILBOX" when absent */
	struct str host;    /* domain, "MISSING_DOMAIN" when absent */
};

/*
 * Parses "value [/ subtype] *(; attribute=value)" from an unfolded value.
 * With subtype_r (Content-Type) a "/" and a subtype are required; without
 * (Content-Disposition) only the value is read. Comments are skipped
 * anywhere; a parameter that is malformed is skipped up to the next ";";
 * an unquoted value may contain "/", "=" and "?", as real mailers write
 * them, but ends at white space (RFC 2045 §5.1 token): the rest up to the
 * next ";" is skipped, as in Dovecot. RFC 2231 sections ("name*0", "name*1*") are joined
 * in section order into one parameter of the base name, and a
 * "charset'language'" prefix is split off and the value percent-decoded,
 * then converted to UTF-8 when mime_charset_known(); a plain "name" next
 * to an extended "name*" is kept as its own entry. At most max_params
 * parameters are kept (sections of one parameter count once).
 *
 * *params_r is an arena array of *nparams_r entries (NULL when 0).
 * Returns 0, or -1 when the value (or the type/subtype pair) is not
 * token syntax — then *value_r and *subtype_r are empty and no parameter is
 * returned.
 */
int mime_field_params(struct arena *a, struct str v, struct str *value_r, struct str *subtype_r,
                      struct mime_param **params_r, uint32_t *nparams_r, uint32_t max_params);

/*
 * Parses an address list (From, To, Cc, Bcc, Sender, Reply-To) into IMAP
 * envelope addresses, at most max entries (group markers count; an open
 * group is always closed, so at most max + 1 are returned). Whatever does
 * not parse is skipped up to the next ",". *list_r is an arena array
 * (NULL when *n_r is 0).
 */
void mime_field_addresses(struct arena *a, struct str v, struct mime_address **list_r,
                          uint32_t *n_r, uint32_t max);

/*
 * The content of a local part as written (mime_address.mailbox): each
 * quoted-string's quotes dropped and its quoted-pairs resolved, atoms and
 * dots kept ("\"a b\".c" gives "a b.c"), as Dovecot puts it in ENVELOPE.
 * dst has room for as_written.len octets; returns the length written.
 * Searching keeps the form as written, so a needle with or without the
 * quotes finds it.
 */
size_t mime_local_part_content(struct str as_written, char *dst);

/*
 * An envelope address as JMAP's EmailAddress "email" (RFC 8621 §4.1.2.3,
 * which lets it be no addr-spec): "mailbox@host" without the IMAP
 * placeholders, so "root" for a local part alone, "@domain" for a domain
 * alone and "" for "<>", where ENVELOPE has MISSING_DOMAIN, MISSING_MAILBOX
 * and "" "" (such forms would read as real addresses). In a's memory;
 * NULL for a group's start or end.
 */
const char *mime_address_email(struct arena *a, const struct mime_address *ad);

/* 1 when ad is a mailbox with both a local part and a domain: one mail
 * can be sent to (not a group marker, nor a placeholder's). */
int mime_address_complete(const struct mime_address *ad);

/*
 * Splits a comma-separated list of tokens (Content-Language), comments
 * and white space removed, empty items dropped, at most max items.
 */
void mime_field_tokens(struct arena *a, struct str v, struct str **list_r, uint32_t *n_r,
                       uint32_t max);

/* Value of the first parameter named name (ASCII case-insensitive), or
 * STR_NULL (p == NULL) when there is none. */
struct str mime_param_get(const struct mime_param *params, uint32_t n, const char *name);

#endif
