/*
 * fts_indexer.h — keeps every account's full-text index (search/fts.h,
 * store_fts.c) up with its mail, on a thread of its own in `tern serve`.
 *
 * The thread takes an account's emails after the one its index has
 * reached, FTS_INDEX_BATCH at a time in id order, reads each as IMAP
 * SEARCH would (mime_search_each_text: the cached MIME structure, the
 * decoded, folded header fields and text parts), and hands the batch's
 * postings to the store writer, whose next group commit takes them with
 * the deliveries; then the next batch or account, so one large mailbox
 * does not hold the others back. It runs at a lower CPU priority than the
 * loops, and sleeps FTS_INDEX_IDLE_S when nothing is new (deliveries do
 * not wake it: at a high rate a tick gathers many messages into one
 * batch); an index that lags only means that searches read the newest
 * messages themselves.
 *
 * A tick indexes, account by account, what each holds when its turn
 * comes, and the thread sleeps when that was all of it: mail that came
 * meanwhile waits for the next tick. Chasing it at once instead (a
 * batch for the few messages a steady stream of deliveries left during
 * the last one) made every batch rewrite the last posting chunk of
 * each of its terms for a handful of messages, and the thread never
 * slept: bench-imap's APPEND load (10 clients, 10 KiB) cost tern 461
 * us of CPU an APPEND that way, 435 us with the tick (medians of 4
 * interleaved rounds, the indexing after the load included).
 *
 * New mail is indexed within seconds; a store from before the index (an
 * upgrade) or a restore is indexed in the background from the oldest
 * email on. When the postings of deleted emails outweigh the live ones
 * (more than twice as many emails indexed as the account holds, and
 * 10000 more), the account's index is dropped and made again; so is an
 * index made by an older tern from text read another way (store_fts.c).
 *
 * TERN_FTS=off leaves the thread unstarted: no index is kept, and
 * searches read every message they look at, as before the index.
 */
#ifndef TERN_SEARCH_FTS_INDEXER_H
#define TERN_SEARCH_FTS_INDEXER_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct fts_cond;

#define FTS_INDEX_BATCH 128
#define FTS_INDEX_IDLE_S 2
/* Distinct terms kept of one message; one with more is a candidate of
 * every search (store_fts.c's MARK). */
#define FTS_DOC_TERMS_MAX 30000

/* Starts the thread (tern serve, TERN_FTS on). 0, or -1 when it could
 * not be started (then searches do without the index). */
int fts_indexer_start(struct store *st);
/* Stops it, waiting for the batch under way. */
void fts_indexer_stop(void);
/* For tests, without the thread: one tick over every account of st,
 * calling between(arg) after each batch written (NULL: none). Returns 1
 * when a backlog is left for a tick at once, 0 when the thread would
 * sleep. */
int fts_indexer_test_pass(struct store *st, void (*between)(void *), void *arg);
/* 1 while the thread runs: searches may ask the index. */
int fts_indexer_running(void);

#endif
