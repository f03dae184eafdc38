/*
 * spam_grey.h — greylisting (optional, off by default): the first
 * message of a new (client network, sender, recipient) triplet is
 * answered 451 4.7.1 and accepted when it comes back after a delay, as
 * real mail servers do and most spam software does not.
 *
 * Design. A triplet is the client's /24 (IPv4) or /64 (IPv6), so a
 * sender's pool of outgoing servers retrying from a neighbour address
 * still matches, the envelope sender (its BATV tag dropped and digit runs
 * of its local part one '#', so VERP bounce addresses that number each
 * message stay one sender) and one recipient, all lowercased;
 * its key in meta is "grey/" and 32 hex digits of a BLAKE2b hash of the
 * three (the addresses never appear in the store). The record is
 * i64 first_seen, i64 last_seen, u8 passed (big-endian): a triplet that
 * has not come back within SPAM_GREY_RETRY_WINDOW is forgotten, one that
 * passed is remembered SPAM_GREY_PASSED_TTL after its last message.
 * The decision (spam_grey_decide) is a pure function of the record and
 * the time, so it is unit-tested; reading is an LMDB read on the loop,
 * writing goes through the store writer (spam_grey_write, called from
 * the worker pool so the loop never waits for a commit).
 *
 * The exemptions are the caller's (smtp/smtp_spam.c): authenticated
 * senders (submission is never filtered), allow-listed ones, and an SPF
 * pass for a domain on the "known good" list.
 */
#ifndef TERN_SPAM_SPAM_GREY_H
#define TERN_SPAM_SPAM_GREY_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define SPAM_GREY_KEY_MAX 40
#define SPAM_GREY_RETRY_WINDOW (2 * 86400)
#define SPAM_GREY_PASSED_TTL (36 * 86400)
#define SPAM_GREY_REFRESH 86400 /* a passed record is rewritten at most once a day */

struct spam_grey_rec {
	int64_t first, last;
	int passed;
};

enum spam_grey_verdict {
	SPAM_GREY_PASS, /* deliver */
	SPAM_GREY_WAIT, /* 451: known, the delay has not passed yet */
	SPAM_GREY_NEW,  /* 451: first seen now */
};

/* "grey/<hex>" for the triplet into out (SPAM_GREY_KEY_MAX bytes). */
void spam_grey_key(const char *ip, const char *mail_from, const char *rcpt, char *out);

/*
 * The verdict for a triplet whose record is *rec (NULL: none) at now,
 * with delay seconds to wait. *write_r 1 when *next must be written
 * (a new or newly passed triplet, or a passed one not refreshed today).
 */
enum spam_grey_verdict spam_grey_decide(const struct spam_grey_rec *rec, int64_t now,
					unsigned delay, struct spam_grey_rec *next, int *write_r);

/* The record of key: 1 found (*rec filled), 0 not found or expired, -1 store error. */
int spam_grey_read(struct store *st, const char *key, int64_t now, struct spam_grey_rec *rec);
/* Writes the record (a store write: blocks until committed). 0 or -1. */
int spam_grey_write(struct store *st, const char *key, const struct spam_grey_rec *rec);
/* Reads the next `visit` records (after where the last sweep stopped,
 * from the first again past the last) and deletes the expired ones
 * among them: the cost of a sweep is bounded whatever the table's size.
 * Returns how many were deleted. */
size_t spam_grey_sweep(struct store *st, int64_t now, size_t visit);

#endif
