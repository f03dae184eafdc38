/*
 * spam_phish.h — the local phishing URL list: feed files as OpenPhish
 * (one URL a line) and PhishTank (CSV with a "url" column) publish them,
 * loaded by the administrator (`tern spam phish load`, the API, the web
 * admin) or fetched from a URL every few hours, and the check of a
 * message's links against it (rule PHISH_URL_LISTED).
 *
 * Design. A URL's key is its host (lowercase, no trailing dot; scheme,
 * userinfo and port dropped), its path without trailing '/', then '?'
 * and the query when there is one; the fragment does not count. A link
 * is listed when its key, its key without the query, or the key of one
 * of its path's parents down to the bare host is: a feed naming
 * "http://evil.example/login/" catches
 * "https://evil.example/login/verify.php?user=x"; an entry with a query
 * names that query only. The list is kept as the
 * sorted 64-bit hashes of the keys in one record (STORE_SPAM_PHISH,
 * account 0; layout in SCHEMA.md), 8 octets an entry, so a check is a few
 * binary searches in the record in place and a new list replaces the old
 * one in one write.
 *
 * Caveats: a link is compared as written (entities decoded); percent
 * escapes and Unicode host names are not normalized, feeds write them
 * as the pages' links do.
 */
#ifndef TERN_SPAM_SPAM_PHISH_H
#define TERN_SPAM_SPAM_PHISH_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct store;
struct spam_msg;
struct spam_result;

#define SPAM_PHISH_MAX 1000000u             /* entries kept (8 MB) */
#define SPAM_PHISH_FEED_MAX (32u << 20)     /* octets of an upload or a download */
#define SPAM_PHISH_KEY_MAX 2048             /* a longer URL is cut (same for feed and link) */
#define SPAM_PHISH_SOURCE_MAX 512           /* the feed's name kept with the list */
#define SPAM_PHISH_WEIGHT 7.0               /* Rspamd's PHISHED_OPENPHISH weighs 7 */
#define SPAM_PHISH_REFRESH (6 * 3600)       /* seconds between downloads of the feed URL */

/* The key of url into out (outsz octets, NUL-terminated); its length, 0
 * when url has no host (mailto:, a bare word, a relative link). */
size_t spam_phish_key(struct str url, char *out, size_t outsz);

struct spam_phish_feed {
	uint64_t *h;    /* hashes of the keys, sorted, no duplicates */
	size_t n;
	size_t bad;     /* lines that are not a URL with a host */
	size_t dropped; /* URLs past SPAM_PHISH_MAX */
};

/*
 * Parses a feed text[0..len): PhishTank's CSV when its first line is a
 * header naming a "url" column (quoted fields, "" inside quotes), else
 * one URL a line (the first word of the line; blank lines and lines
 * starting with '#' skipped). Never fails (allocation failure aborts);
 * free with spam_phish_feed_free.
 */
void spam_phish_parse(const char *text, size_t len, struct spam_phish_feed *f);
void spam_phish_feed_free(struct spam_phish_feed *f);

/*
 * Replaces the stored list with feed f (spam_phish_parse), noting source
 * (a file name or URL) and the time; an empty feed removes the list.
 * Returns 0 or a store error.
 */
int spam_phish_store(struct store *st, const struct spam_phish_feed *f, const char *source);

/*
 * The server's download of the feed URL the administrator set
 * (setting/spam_phish_url, https only): called every few seconds from
 * the housekeeping thread, it starts a download on loop when the URL
 * changed, or SPAM_PHISH_REFRESH seconds after the last one (15 minutes
 * after a failure). The download runs on loop (verified TLS), the parse
 * and the store write on the worker pool; one at a time. A download
 * that holds no URL (an error page) keeps the list there was.
 */
struct loop;
void spam_phish_fetch_tick(struct store *st, struct loop *loop);

struct spam_phish_status {
	uint32_t entries;
	int64_t loaded_at; /* Unix time; 0 when there is no list */
	char source[SPAM_PHISH_SOURCE_MAX];
};
/* The stored list's size, time and source. 0 or a store error. */
int spam_phish_status(struct store *st, struct spam_phish_status *s);

/* The record of feed f (layout in spam_phish.c) appended to out; 0, or -1
 * when out's ceiling is too small. */
struct buf;
int spam_phish_encode(const struct spam_phish_feed *f, const char *source, int64_t now,
		      struct buf *out);

/* 1 when url is on the list in record rec (a STORE_SPAM_PHISH record). */
int spam_phish_listed(struct str rec, struct str url);

/*
 * Adds PHISH_URL_LISTED (SPAM_PHISH_WEIGHT, naming the first listed
 * link's host) to res when one of m's links is on the stored list.
 * Returns 0 or a store error (nothing added).
 */
int spam_phish_check(struct store *st, const struct spam_msg *m, struct spam_result *res);

#endif
