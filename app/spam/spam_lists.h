/*
 * spam_lists.h — allow and block lists: addresses, domains and networks
 * the administrator (global, per served domain) or a user (per account)
 * names, and whether a message's sender is on one.
 *
 * Design. A list is text, entries separated by line ends, commas or
 * spaces:
 *   alice@example.com   that address (case-insensitive)
 *   example.com         that domain and every domain under it ("@example.com" too)
 *   192.0.2.7, 2001:db8::/32, 10.0.0.0/8   the client's address in that network
 * A message is checked by its client address, its envelope sender and
 * its From address. An allow entry that names an address or a domain
 * counts only for an identity the checks verified (SPF pass for the
 * envelope sender, DMARC pass for From): otherwise "allow paypal.com"
 * would let any forger in. A block entry needs no proof: whoever forges
 * a blocked sender gets what the sender would.
 *
 * Where the lists live (meta, SCHEMA.md): spamlist/allow/SCOPE and
 * spamlist/block/SCOPE, SCOPE "*" (everyone), a served domain, or
 * "u<account id>" (one account).
 */
#ifndef TERN_SPAM_SPAM_LISTS_H
#define TERN_SPAM_SPAM_LISTS_H

#include <stddef.h>
#include <stdint.h>

#define SPAM_LIST_MAX 16384  /* bytes of one list */
#define SPAM_LIST_ENTRY_MAX 320

/* What is checked against a list. Any member may be NULL or "". */
struct spam_subject {
	const char *ip;        /* the client's address */
	const char *mail_from; /* the envelope sender */
	int mail_from_verified;
	const char *from;      /* the From address */
	int from_verified;
};

/*
 * 1 when every entry of text is one of the forms above; else 0 with the
 * first bad entry quoted in err.
 */
int spam_list_valid(const char *text, char *err, size_t errsz);

/*
 * The first entry of list that matches s (allow: 1, address and domain
 * entries only for verified identities), copied into hit (may be NULL).
 * 1 or 0.
 */
int spam_list_match(const char *list, const struct spam_subject *s, int allow, char *hit,
		    size_t hitsz);

/*
 * The canonical form of a list (entries lowercased, one a line, sorted,
 * duplicates dropped) into out; -1 when it does not fit or is not valid.
 */
int spam_list_canon(const char *text, char *out, size_t outsz);

#endif
