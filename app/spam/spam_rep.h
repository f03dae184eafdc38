/*
 * spam_rep.h — sender reputation (issue 34), as Rspamd's reputation
 * module keeps it: for the client's network (IPv4 /24, IPv6 /64) and for
 * the sender's authenticated domain (the From domain when DMARC passed,
 * else the envelope sender's when SPF passed), how many of its messages
 * the filter judged ham and spam, with decay, turned into one rule each.
 *
 * Design. Bookkeeping, not learning: the counts are the filter's own
 * verdicts, noted with the score the message had *without* the
 * reputation rules, so a reputation never feeds itself; the classifier
 * never sees them. Counts decay exponentially (half-life
 * SPAM_REP_HALF_LIFE), so a network that changes hands or a domain that
 * cleans up recovers. The table is in memory, fixed size
 * (SPAM_REP_SLOTS entries, open addressing over a 64-bit hash of the
 * key, a short probe; a new key takes the weakest slot of its probe), so
 * memory is bounded whatever the traffic.
 *
 * Users' corrections are the other half (as Rspamd's reputation learns
 * from its fuzzy and Bayes training): a message a user files into Junk,
 * or takes out of it, or an admin's "spam" / "not spam" button, counts
 * SPAM_REP_CORRECTION verdicts that way for the message's client network
 * and sender domain (spam_learn.c), as the filter saw them when tern
 * received the message (kept with the email: store_delivery.spam_from),
 * never read back from the message's fields, which a client that
 * APPENDs it writes itself. A correction is a person's
 * judgement, so it weighs more than one of the filter's own verdicts.
 *
 * The table survives a restart: spam_rep_save writes the
 * SPAM_REP_KEEP keys with the most (decayed) verdicts to one meta record
 * (spam-rep/table, SCHEMA.md), at shutdown, after each correction and
 * every SPAM_REP_SAVE_EVERY verdicts; spam_rep_load reads it at start.
 *
 * A key counts only from SPAM_REP_MIN decayed verdicts on. Its weight is
 * (spam - ham) / n scaled by n / (n + 8) (more verdicts, more trust) and
 * by SPAM_REP_SPAM_MAX for spammy keys, SPAM_REP_HAM_MAX for good ones:
 * a good reputation helps less than a bad one hurts, as one forged
 * message from a good network must not slip through on it.
 *
 * Addresses that are not globally reachable (cidr_ip_global: loopback,
 * private, CGNAT, link-local, ...) have no IP reputation here: behind
 * them are our own relays and fetchers, not senders. Thread-safe (one
 * mutex; a note or a lookup is a few dozen instructions).
 */
#ifndef TERN_SPAM_SPAM_REP_H
#define TERN_SPAM_SPAM_REP_H

#include <stddef.h>
#include <stdint.h>

#include "spam/spam.h"

#define SPAM_REP_SLOTS 16384
#define SPAM_REP_PROBE 8
#define SPAM_REP_HALF_LIFE (7 * 86400) /* seconds */
#define SPAM_REP_MIN 4.0
#define SPAM_REP_SPAM_MAX 3.0
#define SPAM_REP_HAM_MAX 1.5
#define SPAM_REP_KEY_MAX 300
#define SPAM_REP_CORRECTION 4.0 /* verdicts one user's correction counts */
#define SPAM_REP_KEEP 4000      /* keys saved (16 octets each: one meta record) */
#define SPAM_REP_SAVE_EVERY 256 /* verdicts between saves */

struct store;

/*
 * The key of ip's network ("ip:192.0.2.0/24", "ip:2001:db8:1:2::/64")
 * into out; 0, or -1 when ip is not an address or has no reputation
 * (not globally reachable: cidr_ip_global): out is then "".
 */
int spam_rep_ip_key(const char *ip, char *out, size_t outsz);
/* The key of a domain ("dom:example.org", lowercase); -1 and "" when empty. */
int spam_rep_domain_key(const char *domain, char *out, size_t outsz);

/* Notes one verdict (is_spam 1 or 0) for key at time now (seconds). */
void spam_rep_note(const char *key, int is_spam, int64_t now);
/* Notes a user's correction: SPAM_REP_CORRECTION verdicts is_spam's way. */
void spam_rep_correct(const char *key, int is_spam, int64_t now);
/* Takes a correction back (the user changed their mind): as many
 * verdicts fewer is_spam's way, none below 0 (decay may have taken
 * some already); nothing when the table has no key. */
void spam_rep_uncorrect(const char *key, int is_spam, int64_t now);
/* The decayed counts of key at now; 0, or -1 when the table has none. */
int spam_rep_get(const char *key, int64_t now, double *ham_r, double *spam_r);
/* The rule's weight for those counts (0 below SPAM_REP_MIN). */
double spam_rep_weight(double ham, double spam);
/*
 * Adds rule name (IP_REPUTATION, DOMAIN_REPUTATION) for key to res when
 * its weight is not 0, with a description like "192.0.2.0/24: 9.5 spam,
 * 0.8 ham verdicts (decayed)". Returns the weight added (0: none).
 */
double spam_rep_rule(const char *key, const char *name, int64_t now, struct spam_result *res);
/* Empties the table (tests). */
void spam_rep_reset(void);

/* Writes the table (its SPAM_REP_KEEP strongest keys, decayed to now)
 * to the store: 0 or a store error. */
int spam_rep_save(struct store *st, int64_t now);
/* Adds the saved table to the one in memory (at start): 0, or a store
 * error; a record that is not a table is ignored (0). */
int spam_rep_load(struct store *st);
/* 1 once SPAM_REP_SAVE_EVERY verdicts were noted since the last call
 * that said 1 (then the caller saves, off the loop). */
int spam_rep_save_due(void);

#endif
