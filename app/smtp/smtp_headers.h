/*
 * smtp_headers.h — what the submission policy needs from a message's header
 * section: the From field's addresses, and whether Date and Message-ID are
 * there.
 *
 * Design. smtp_headers_scan() walks the header section once with the
 * rfc5322 parser and counts the fields submission cares about, keeping the
 * unfolded value of From. smtp_from_addresses() turns that value into
 * plain "local@domain" strings for the ownership check.
 *
 * The From parser is deliberately strict where mime_field_addresses() (which
 * serves IMAP and must answer something for any message) is lenient: the
 * check exists to stop a user from sending as someone else, so a value that
 * a mail reader could show differently from what we checked is refused.
 * Every top-level list item must be exactly one mailbox with a local part
 * and a domain; groups, empty or unparsable items, and values with more
 * than max mailboxes are refused.
 *
 * smtp_from_mailboxes() also returns what a reader may show beside each
 * address (display name and comments, encoded-words decoded), and
 * smtp_name_shows_other() says whether that text shows an address other
 * than the real one ("b@x" <a@x>): the address checked would not be the
 * address the reader sees.
 *
 * Caveats: quoted local parts keep their quotes (they then match no
 * account, which refuses them: fine for a sender check).
 */
#ifndef TERN_SMTP_SMTP_HEADERS_H
#define TERN_SMTP_SMTP_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct arena;

/* Resent-From / Resent-Sender fields kept; a message with more is refused. */
#define SMTP_RESENT_MAX 4

struct smtp_headers {
	unsigned from_fields;   /* From: fields seen */
	unsigned sender_fields; /* Sender: */
	unsigned resent_from_fields;   /* Resent-From: (every resent block's) */
	unsigned resent_sender_fields; /* Resent-Sender: */
	struct str resent_from[SMTP_RESENT_MAX];   /* unfolded values (arena), in order */
	struct str resent_sender[SMTP_RESENT_MAX];
	unsigned date_fields;   /* Date: */
	unsigned msgid_fields;  /* Message-ID: */
	struct str from;        /* unfolded value of the first From (arena), or empty */
	uint64_t from_start, from_end; /* the first From field's bytes, its line end included */
	struct str sender;      /* unfolded value of the first Sender (arena), or empty */
	uint64_t header_end;    /* offset just after the header section (and its empty line) */
	unsigned no_separator : 1; /* the header section did not end with an empty line */
	unsigned malformed : 1;    /* it has a line that is not a field */
};

/*
 * Scans the header section at msg[0..len). Copies of values live in a.
 * Returns 0, or -1 when a header limit of rfc5322.h was passed (the
 * message is then refused: its header cannot be checked).
 */
int smtp_headers_scan(struct arena *a, const char *msg, size_t len, struct smtp_headers *h_r);

/*
 * Parses an unfolded From (or Sender) value into at most max addresses,
 * each "local@domain" NUL-terminated in a, domain lowercased. Returns the
 * number of addresses (>= 1), or -1 when the value is not a plain list of
 * mailboxes (see the design note above) or holds more than max.
 */
int smtp_from_addresses(struct arena *a, struct str value, char **addrs_r, unsigned max);

/*
 * smtp_from_addresses(), and in names_r[i] (in a) the text a reader may
 * show beside addrs_r[i]: its display name and comments, quotes removed,
 * encoded-words decoded (UTF-8), "" when none.
 */
int smtp_from_mailboxes(struct arena *a, struct str value, char **addrs_r, char **names_r,
			unsigned max);

/* Longest address smtp_name_shows_other() hands to its ok callback. */
#define SMTP_SHOWN_ADDR_MAX 320
/* 1 when the shown address (NUL-terminated, as written) may be shown. */
typedef int smtp_shown_ok_fn(void *arg, const char *shown);

/*
 * 1 when name (NUL-terminated UTF-8, as from smtp_from_mailboxes) shows
 * something that reads as an address ("x@host.tld", also with a fullwidth
 * or small at sign) other than addr (compared ignoring case) that ok (may
 * be NULL: none is) does not accept; else 0. Look-alike at signs and
 * addresses over SMTP_SHOWN_ADDR_MAX octets are never accepted.
 */
int smtp_name_shows_other(const char *name, const char *addr, smtp_shown_ok_fn *ok, void *arg);

#endif
