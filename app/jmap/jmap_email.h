/*
 * jmap_email.h — what the Email methods' files share (jmap_email.c,
 * jmap_email_query.c, jmap_email_set.c): writers of the properties that
 * come from the email record.
 */
#ifndef TERN_JMAP_JMAP_EMAIL_H
#define TERN_JMAP_JMAP_EMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "http/json.h"

/* UTCDate (RFC 8620 §1.4): "2026-11-23T01:02:03Z". */
void jmap_w_utcdate(struct jw *w, int64_t t);
/* {"$seen": true, ...} from the store's space-separated keywords. */
void jmap_w_keywords(struct jw *w, const char *kw, size_t len);
/* {"M00000001": true, ...} from the record's (mailbox, uid) pairs. */
void jmap_w_mailboxes(struct jw *w, const uint8_t *members, size_t n);
/* A blob id: "B" and the 64 hex digits of the content hash. */
void jmap_w_blob(struct jw *w, const uint8_t id[32]);

#endif
