/*
 * mime_msgid.h — message identifiers read and checked by RFC 5322 §3.6.4's
 * grammar, for the readers and writers that must not guess.
 *
 * Design: mime_msgids() (mime_thread.h) finds the ids of a References
 * field the way threading wants them, skipping whatever is around them.
 * JMAP's asMessageIds form (RFC 8621 §4.1.2.3) instead parses the field
 * as a msg-id list and is null when that fails, and JMAP's Email/set
 * must write only ids a reader takes back as they were: both use the
 * grammar here, so what one writes the other reads.
 *
 * Read grammar: the value is CFWS, msg-ids and, between them, the words
 * of an obsolete phrase (atoms, quoted strings and dots, RFC 5322
 * §4.5.4's obs-in-reply-to / obs-references); a msg-id is "<" id-left
 * "@" id-right ">" with id-left a dot-atom-text or (obsolete) a quoted
 * string and id-right a dot-atom-text or a no-fold-literal. UTF-8 counts
 * as atext (RFC 6532 §3.2). Anything else (a comma, a stray '<' or '>',
 * an id with no '@' or with white space, an unclosed comment or quote)
 * makes the whole value malformed.
 *
 * Caveats: the obsolete CFWS inside a msg-id (around id-left's atoms,
 * RFC 5322 §4.5.4) is not taken; no mailer in use writes it.
 */
#ifndef TERN_MIME_MSGID_H
#define TERN_MIME_MSGID_H

#include <stddef.h>

#include "core/str.h"

/*
 * Whether id (without its brackets) is a msg-id as RFC 5322 §3.6.4 says
 * to generate one: dot-atom-text "@" (dot-atom-text / no-fold-literal).
 * Returns 1 or 0.
 */
int mime_msgid_valid(struct str id);

/*
 * Reads the next msg-id of the list value from *pos (0 to start) and
 * stores it, brackets removed, in *id_r (a slice of value). Returns 1
 * with *pos past it, 0 at the end of the value, -1 when the value is not
 * a msg-id list by the read grammar above (*pos is then undefined).
 */
int mime_msgid_list_next(struct str value, size_t *pos, struct str *id_r);

/*
 * Whether value is a msg-id list holding at least one msg-id: what
 * asMessageIds gives a non-null value for. Returns 1 or 0.
 */
int mime_msgid_list_valid(struct str value);

#endif
