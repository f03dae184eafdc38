/*
 * report_uri.h — one reporting URI of a DMARC rua=/ruf= list (RFC 7489
 * §6.2, §6.3) or a TLS-RPT rua= list (RFC 8460 §3), read the same way
 * for both report kinds.
 *
 * Design. The caller splits its record's list at the commas (both
 * grammars do); each element comes here. A mailto: URI (RFC 6068) gives
 * one address: the addr-spec before any "?" is percent-decoded
 * ("mailto:dmarc%2Breports@example.com" is dmarc+reports@example.com)
 * and must then be one RFC 5321 mailbox (sieve_mailbox_valid, the
 * server's one check: no CR, LF, NUL, space outside quotes, no second
 * address); its domain is lowercased so that the same destination
 * written twice compares equal. The hfields after "?" (subject=, body=,
 * even to= and cc=) are ignored: the report message is ours, and its
 * recipients are the ones the record names. An https: URI is left to
 * the caller as written (TLS-RPT posts to it; DMARC has no use for
 * it). For DMARC the URI may end in "!" and a size with an optional
 * unit k, m, g or t (powers of 1024): a report whose message is larger
 * is not sent there (RFC 7489 §6.2, §7.2.1; dmarc_dest_fit says what is
 * measured); an unencoded "!" is the grammar's own, since the URI
 * itself must write it %21.
 *
 * Caveats: a decoded address list ("a@x%2Cb@y", RFC 6068's several
 * recipients in one URI) is refused, not split: a report URI names one
 * destination. A size too large for 64 bits counts as no limit.
 */
#ifndef TERN_REPORT_REPORT_URI_H
#define TERN_REPORT_REPORT_URI_H

#include <stdint.h>

#include "core/str.h"

#define REPORT_URI_ADDR_MAX 320

enum report_uri_kind { REPORT_URI_MAILTO, REPORT_URI_HTTPS };

struct report_uri {
	enum report_uri_kind kind;
	char addr[REPORT_URI_ADDR_MAX + 1]; /* mailto: the decoded mailbox, NUL-ended */
	uint64_t max_size;                  /* "!size" in bytes, 0 = none (DMARC only) */
};

/*
 * Reads one list element uri (white space around it already trimmed by
 * the caller, or trimmed here) into *u. dmarc: 1 to take RFC 7489's
 * "!size" suffix, 0 for TLS-RPT (where "!" is an ordinary URI octet).
 * Returns 0 for a usable mailto: or https: URI, -1 for another scheme,
 * a malformed % escape or size, or a decoded address that is not one
 * mailbox.
 */
int report_uri_parse(struct str uri, int dmarc, struct report_uri *u);

#endif
