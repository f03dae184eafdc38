/*
 * store_queue.h — the outbound queue's records in the store: entries with
 * per-recipient state, their schedule index, and the message blobs they
 * reference.
 *
 * Design. A queue entry is one message (a content-addressed blob shared
 * with any mailbox copies, reference counted like theirs) with its
 * envelope and one state per recipient. DB "queue" maps the entry id to
 * the record; DB "queue_due" indexes (next attempt, id) so the scheduler
 * finds due entries with one cursor walk (layouts in SCHEMA.md). Entries
 * are added and updated inside a writer-thread transaction through a
 * struct store_delivery hook (queue/queue.c, queue/queue_sched.c), so an
 * entry is durable before the submitting client sees 250 and a recipient
 * is marked delivered in the commit right after the remote's 250. The CLI
 * (another process) changes entries with synchronous transactions; LMDB
 * serialises the two.
 *
 * An entry whose recipients are all final (sent or failed, notices done)
 * is deleted together with its blob reference.
 *
 * Caveats: strings in a decoded entry are malloc'ed and freed by
 * store_queue_entry_free(). Every function returns STORE_OK or a STORE_*
 * code; the *_txn ones return 0 or an LMDB error for the writer's batch.
 */
#ifndef TERN_STORE_STORE_QUEUE_H
#define TERN_STORE_STORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* A finished entry's outcome, meta "qdone/ACCOUNT/ID" (store_queue.c):
 * parts of STORE_QDONE_PART octets, "ID" then "ID.1".., at most
 * STORE_QDONE_PARTS; lines "<state digit><address>\t<last reply>\n"
 * after a version octet. */
#define STORE_QDONE_PART 65536
#define STORE_QDONE_PARTS 4

/* Recipient states. */
#define SQ_PENDING 0 /* not yet delivered: will be tried again */
#define SQ_SENT 1    /* a remote (or the local store) accepted it */
#define SQ_FAILED 2  /* permanently failed */

/* NOTIFY bits (RFC 3461); 0 means "not given": FAILURE and DELAY. */
#define SQ_NOTIFY_NEVER 1u
#define SQ_NOTIFY_SUCCESS 2u
#define SQ_NOTIFY_FAILURE 4u
#define SQ_NOTIFY_DELAY 8u

/* Entry flags. */
#define SQ_8BITMIME 1u /* BODY=8BITMIME was given */
#define SQ_SMTPUTF8 2u /* SMTPUTF8 was given */
#define SQ_RET_FULL 4u /* RET=FULL (else headers only) */
/* RET=HDRS was given: passed on as such. With neither RET bit the sender
 * gave no RET, and none is passed on (RFC 3461 §4.3: the receiving MTA
 * then decides; our own notices return the header). */
#define SQ_RET_HDRS 512u
#define SQ_DELAY_SENT 8u /* the delay notice went out (see SQ_BY_NOTIFIED) */
#define SQ_REQUIRETLS 16u /* MAIL FROM had REQUIRETLS (RFC 8689) */
#define SQ_TLS_OPTIONAL 32u /* "TLS-Required: No" without REQUIRETLS: no MTA-STS/DANE */
/* Deliver By (RFC 2852): by_deadline holds; R mode (return the message
 * when it cannot be delivered in time), else N mode (a delay notice);
 * T: trace (the notices of each hop). */
#define SQ_BY_RETURN 64u
#define SQ_BY_TRACE 128u
#define SQ_BY 256u
/* Deliver By's N mode: the delay notice its deadline calls for went out
 * (RFC 2852 §4); the ordinary one (SQ_DELAY_SENT) may have gone before. */
#define SQ_BY_NOTIFIED 1024u
/* Future Release (RFC 4865): the entry is a submitted message held
 * whole until next_attempt, its recipients not yet resolved (local ones
 * too); the scheduler then submits it again (queue_hold.h) and the
 * entry goes. No field of its own: the release time is next_attempt. */
#define SQ_HOLD 2048u
/* Message Transfer Priority (RFC 6710): the priority trailer follows
 * (set exactly when priority is not 0). */
#define SQ_MT_PRIORITY 4096u
/* The last_update trailer follows (set exactly when last_update is not 0). */
#define SQ_LAST_UPDATE 8192u

/* RFC 6710's range; 0 is the default ("normal"). */
#define SQ_PRIORITY_MIN (-9)
#define SQ_PRIORITY_MAX 9

/* Limits (octets) kept per field; longer input is refused or cut. */
#define SQ_ADDR_MAX 320
#define SQ_ENVID_MAX 100
/* "type;address" of ORCPT: RFC 3461 §4.2 allows 500 characters as sent,
 * and the decoded form is no longer (what SMTP and JMAP take). */
#define SQ_ORCPT_MAX 500
#define SQ_STATUS_MAX 512
#define SQ_RCPTS_MAX 1000

/* next_attempt of a held entry: never due, until `tern queue flush` (or
 * the API's flush) makes it due now. A restore holds every entry the
 * backup had (store_restore.c): they may have left since the backup.
 * 2^53 - 1: after any real time, and exact in JSON. */
#define SQ_HELD_AT ((int64_t)9007199254740991)

struct store_queue_rcpt {
	char *addr;    /* envelope recipient */
	char *orcpt;   /* ORCPT as "type;address" decoded, or "" */
	char *status;  /* last reply or reason ("550 5.1.1 no such user"), or "" */
	char *remote;  /* host that gave status ("mx.example.net"), or "" */
	uint8_t state; /* SQ_* */
	uint8_t notify;
	uint8_t dsn_done; /* the notice this state calls for was made (or none needed) */
};

struct store_queue_entry {
	uint64_t id;
	int64_t created_at;   /* seconds since the epoch */
	int64_t next_attempt; /* seconds since the epoch */
	uint32_t account;     /* submitting account, 0 = internal (DSN) */
	uint32_t attempts;
	uint32_t flags; /* SQ_8BITMIME ... */
	uint64_t size;
	uint8_t blob_id[32];
	char *sender; /* "" for the null sender */
	char *envid;  /* "" when not given */
	size_t nrcpts;
	struct store_queue_rcpt *rcpts;
	int64_t by_deadline; /* with SQ_BY: deliver by then (seconds since the epoch) */
	/* MT-PRIORITY (RFC 6710), SQ_PRIORITY_MIN..MAX: among due entries
	 * the higher goes first; passed on to a next hop that offers it. */
	int8_t priority;
	/* The token of the scheduler's last update applied to the entry
	 * (queue_sched.c, upd_once), 0 when none: an update answered
	 * STORE_ETEMP after its commit is not applied again when retried. */
	uint64_t last_update;
};

/* Frees the strings and recipient array of e (not e itself). */
void store_queue_entry_free(struct store_queue_entry *e);

/*
 * Inside a write transaction (txn is an MDB_txn *): gives e a new id
 * (e->id), stores data as a blob (or takes one more reference to the same
 * bytes) and writes the record and its schedule key. e->blob_id and
 * e->size must match data. 0 or an LMDB error.
 */
int store_queue_add_txn(struct store *st, void *txn, struct store_queue_entry *e,
			const char *data, size_t len);

/*
 * Inside a write transaction: reads entry id into *e. 0, STORE_ENOTFOUND
 * when it is gone (e.g. deleted by `tern queue del`), or an LMDB error.
 */
int store_queue_get_txn(struct store *st, void *txn, uint64_t id, struct store_queue_entry *e);

/*
 * Inside a write transaction: writes e back (old is the record as read,
 * for its schedule key). When every recipient is final and dsn_done, the
 * entry, its schedule key and its blob reference are deleted instead.
 * 0 or an LMDB error.
 */
int store_queue_put_txn(struct store *st, void *txn, const struct store_queue_entry *old,
			const struct store_queue_entry *e);

/* Reads one entry (read transaction). STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_queue_get(struct store *st, uint64_t id, struct store_queue_entry *e);

/*
 * Ids of entries due at or before now, at most max of them, into ids_r
 * (*n_r): higher priority first, then in due order. The choice is made
 * among the first STORE_QUEUE_DUE_SCAN due entries of the schedule index
 * (their priority is in the index value, no entry is read): a
 * high-priority entry further back waits until the ones ahead of it
 * leave. The scan stops early once max entries of SQ_PRIORITY_MAX are
 * found (none further on could come first). *next_r gets the earliest
 * due time after those scanned (or INT64_MAX when none): at or before
 * now when the scan stopped with due entries left. STORE_OK or
 * STORE_ETEMP.
 */
#define STORE_QUEUE_DUE_SCAN 4096
int store_queue_due(struct store *st, int64_t now, uint64_t *ids_r, size_t max, size_t *n_r,
		    int64_t *next_r);

/* Calls cb for every entry in id order (read transaction); in a
 * restored store no server opened yet, each shows held (next_attempt
 * SQ_HELD_AT), as the first open will make it. */
typedef void store_queue_cb(void *arg, const struct store_queue_entry *e);
int store_queue_list(struct store *st, store_queue_cb *cb, void *arg);

/*
 * One page of the queue (the API's listing): calls cb for the entries
 * whose id is above after, in id order (read transaction), until cb
 * returns nonzero. Ids only grow, so walking page by page with after =
 * the last id seen misses and repeats nothing that stays queued.
 * STORE_OK or STORE_ETEMP.
 */
typedef int store_queue_walk_cb(void *arg, const struct store_queue_entry *e);
int store_queue_walk(struct store *st, uint64_t after, store_queue_walk_cb *cb, void *arg);

/* How many entries the queue holds, without reading them (*n_r), and,
 * when held_r is not NULL, how many of them are held (SQ_HELD_AT; every
 * one in a restored store no server opened yet). STORE_OK or
 * STORE_ETEMP. */
int store_queue_count(struct store *st, uint64_t *n_r, uint64_t *held_r);

/*
 * Copies the message bytes of blob_id into a malloc'ed buffer (*data_r,
 * *len_r; the caller frees). STORE_OK, STORE_ENOTFOUND (the store has no
 * such bytes, or only damaged ones), STORE_ETEMP.
 */
int store_queue_blob(struct store *st, const uint8_t blob_id[32], char **data_r, size_t *len_r);

/*
 * Synchronous (CLI): makes entry id (0 = every entry but those held for
 * a Future Release, SQ_HOLD, unless a restore held them) due now.
 * *n_r gets how many entries changed. STORE_OK, STORE_ENOTFOUND, STORE_ETEMP.
 */
int store_queue_flush(struct store *st, uint64_t id, size_t *n_r);
/*
 * Synchronous (CLI): deletes entry id (0 = every entry) without notices.
 * STORE_OK, STORE_ENOTFOUND, STORE_ETEMP.
 */
int store_queue_del(struct store *st, uint64_t id, size_t *n_r);

#endif
