/*
 * spam_feed.h — the filter's local lists loaded from feeds, kept as
 * sorted 64-bit hashes: the phishing URL list (spam_phish.h) and the
 * malware attachment list (spam_hashes.h). What is hashed is each
 * list's own; the rest is common and here: the parsed feed, the stored
 * record, its status, the check of a message, and the server's download
 * of the feed URL the administrator set.
 *
 * Design. A list is one store record (its store kind, account 0): a new
 * list replaces the old in one write, a check is a binary search in the
 * record in place. A feed comes from a file (`tern spam phish|hashes
 * load`), an upload (the API, the web admin) or a URL the housekeeping
 * thread downloads every SPAM_FEED_REFRESH seconds.
 *
 * The record: "TSP1", then little-endian u32 n, i64 loaded_at, u16
 * source length, the source's octets, then n u64 hashes in ascending
 * order (SCHEMA.md). A record that is not this reads as no list.
 */
#ifndef TERN_SPAM_SPAM_FEED_H
#define TERN_SPAM_SPAM_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct buf;
struct loop;
struct spam_feed_rec;
struct spam_msg;
struct spam_result;
struct store;

#define SPAM_FEED_ENTRIES_MAX 1000000u  /* entries kept (8 MB) */
#define SPAM_FEED_BYTES_MAX (32u << 20) /* octets of an upload or a download */
#define SPAM_FEED_SOURCE_MAX 512        /* the feed's name kept with the list */
#define SPAM_FEED_REFRESH (6 * 3600)    /* seconds between downloads of a feed URL */

struct spam_feed {
	uint64_t *h;    /* the entries' hashes, sorted, no duplicates */
	size_t n;
	size_t bad;     /* lines that are not an entry */
	size_t dropped; /* entries past SPAM_FEED_ENTRIES_MAX */
	size_t cap;     /* of h */
};

/* One kind of list. */
struct spam_feed_kind {
	const char *name;        /* "phish", "hashes": log events, the CLI's subcommand */
	const char *label;       /* "phishing list", ...: messages */
	uint32_t store_kind;     /* STORE_SPAM_PHISH, ... */
	const char *url_setting; /* the feed URL's meta name */
	/* Parses a feed text[0..len) into f (spam_feed_add for each entry,
	 * then spam_feed_done). Never fails; allocation failure aborts. */
	void (*parse)(const char *text, size_t len, struct spam_feed *f);
	/* The rule a listed message gets, its weight, and the check: 1 when
	 * something of m is in r, with the rule's description in desc.
	 * wanted(m) 0 spares the store a read (m has no link, no attachment). */
	const char *rule;
	double weight;
	int (*match)(const struct spam_feed_rec *r, const struct spam_msg *m, char *desc,
		     size_t descsz);
	int (*wanted)(const struct spam_msg *m);
};

/* Adds an entry's hash to f (counted as dropped past SPAM_FEED_ENTRIES_MAX). */
void spam_feed_add(struct spam_feed *f, uint64_t h);
/* Sorts f and drops duplicates. */
void spam_feed_done(struct spam_feed *f);
void spam_feed_free(struct spam_feed *f);

/* The record of feed f appended to out; 0, or -1 when out's ceiling is
 * too small. */
int spam_feed_encode(const struct spam_feed *f, const char *source, int64_t now,
		     struct buf *out);
/*
 * Replaces k's stored list with f, noting source (a file name or URL)
 * and the time; an empty feed removes the list. 0 or a store error.
 */
int spam_feed_store(struct store *st, const struct spam_feed_kind *k,
		    const struct spam_feed *f, const char *source);

struct spam_feed_status {
	uint32_t entries;
	int64_t loaded_at; /* Unix time; 0 when there is no list */
	char source[SPAM_FEED_SOURCE_MAX];
};
/* k's stored list's size, time and source. 0 or a store error. */
int spam_feed_status(struct store *st, const struct spam_feed_kind *k, struct spam_feed_status *s);

/* A record read in place. */
struct spam_feed_rec {
	uint32_t n;
	int64_t loaded_at;
	struct str source;
	const unsigned char *ent;
};
/* 0, or -1 when r is not a list record. */
int spam_feed_rec_read(struct str r, struct spam_feed_rec *out);
/* 1 when h is in the record. */
int spam_feed_rec_has(const struct spam_feed_rec *r, uint64_t h);

/*
 * Adds k's rule to res when k->match finds m on k's stored list (one
 * read transaction; nothing when there is no list). 0 or a store error
 * (nothing added).
 */
int spam_feed_check(struct store *st, const struct spam_feed_kind *k, const struct spam_msg *m,
		    struct spam_result *res);

/*
 * The server's download of k's feed URL (k->url_setting, https only):
 * called every few seconds from the housekeeping thread, it starts a
 * download on loop when the URL changed, or SPAM_FEED_REFRESH seconds
 * after the last one (15 minutes after a failure). The download runs on
 * loop (verified TLS), the parse and the store write on the worker pool;
 * one at a time per kind. A download that holds no entry (an error
 * page) keeps the list there was. (spam_feed_fetch.c)
 */
void spam_feed_fetch_tick(struct store *st, struct loop *loop, const struct spam_feed_kind *k);

#endif
