/*
 * smtp_author.h — submission's check of who a message says it is from:
 * the From field, Sender when present (a reader shows it as "on behalf
 * of"), and the Resent-From / Resent-Sender of every resent block (a
 * reader may show those as the sender of a resent message) must hold
 * only addresses of the sending account (smtp_submit_owned), none with a
 * display name that shows another address ("b@x" <a@x>: the reader would
 * see b), in a header section without broken lines.
 *
 * Design. One implementation for both ways a user sends: port 587
 * (smtp_submit.c) and JMAP's EmailSubmission/set (jmap_submission.c).
 * The check returns a verdict as data, never a reply: SMTP renders it as
 * a 553/554 reply and a log line, JMAP as a SetError. The order is fixed
 * (header shape, then From, Sender, each Resent-From, each Resent-Sender;
 * the first failure wins), so both protocols refuse the same message for
 * the same reason.
 *
 * Caveats. Each address costs a recipient resolution (a store read
 * transaction), as smtp_submit_owned() does for the envelope sender.
 */
#ifndef TERN_SMTP_SMTP_AUTHOR_H
#define TERN_SMTP_SMTP_AUTHOR_H

#include <stdint.h>

struct arena;
struct store;
struct smtp_headers;

/* Mailboxes a From or Resent-From may list. */
#define SMTP_AUTHOR_FROM_MAX 16

enum smtp_author_verdict {
	SMTP_AUTHOR_OK,
	SMTP_AUTHOR_MALFORMED,        /* a header line that is not "Name: value" */
	SMTP_AUTHOR_NO_FROM,          /* no From field */
	SMTP_AUTHOR_SEVERAL_FROM,     /* more than one From field */
	SMTP_AUTHOR_SEVERAL_SENDER,   /* more than one Sender field */
	SMTP_AUTHOR_TOO_MANY_RESENT,  /* past SMTP_RESENT_MAX of either kind */
	SMTP_AUTHOR_UNPARSABLE,       /* field is not a plain list (one address for the Sender kinds) */
	SMTP_AUTHOR_NOT_OWNED,        /* addr in field is not the account's */
	SMTP_AUTHOR_NAME_SHOWS_OTHER, /* addr is, but its display name shows another address */
};

struct smtp_author {
	enum smtp_author_verdict verdict;
	/* UNPARSABLE, NOT_OWNED, NAME_SHOWS_OTHER: "From", "Sender",
	 * "Resent-From" or "Resent-Sender" (a literal); single is 1 for the
	 * Sender kinds (one address allowed). */
	const char *field;
	int single;
	const char *addr; /* NOT_OWNED, NAME_SHOWS_OTHER: the address (arena) */
	/* OK: the From's addresses and the text a reader shows beside each
	 * ("" when none), and the Sender's address or NULL (all arena). */
	char *from[SMTP_AUTHOR_FROM_MAX], *from_names[SMTP_AUTHOR_FROM_MAX];
	int nfrom;
	const char *sender;
};

/*
 * Checks the author fields of h (smtp_headers_scan's, on the message
 * account is sending) into *r; strings it returns live in a. Returns 0
 * when they pass (r->verdict OK), -1 with the first failure in r.
 */
int smtp_author_check(struct arena *a, struct store *st, uint32_t account,
		      const struct smtp_headers *h, struct smtp_author *r);

/*
 * 1 when name (a display name as smtp_from_mailboxes gives it) shows an
 * address other than addr that account does not own; else 0. The rule
 * for the client's names above, also kept by a display name tern adds.
 */
int smtp_author_name_shows_other(struct store *st, uint32_t account, const char *name,
				 const char *addr);

#endif
