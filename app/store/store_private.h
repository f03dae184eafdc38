/*
 * store_private.h — what the store's own files share: the struct behind the
 * opaque handle, the named databases, transaction helpers, record codecs,
 * name validation, and the hooks the unit tests use.
 *
 * Transactions. Every transaction this process opens, read or write, runs
 * with st->maplock held shared; only growing (or re-adopting) the map takes
 * it exclusive, because mdb_env_set_mapsize() requires that no transaction
 * of this process is live. The lock is a plain pthread rwlock, which on
 * glibc and musl lets a new reader in while a writer waits: that makes a
 * read callback that calls another store read function safe (no
 * self-deadlock), at the price that a resize can wait for a gap between
 * readers — reads are short, callback-style, so gaps come quickly. Never
 * call a writing function from inside a read callback: a map growth there
 * would wait for the lock its own thread holds.
 *
 * The layouts of keys and values are documented in SCHEMA.md; the codecs
 * below are the only code that knows them.
 */
#ifndef TERN_STORE_STORE_PRIVATE_H
#define TERN_STORE_STORE_PRIVATE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Schema version this build writes (see migrations in store.c). */
#define STORE_SCHEMA_VERSION 17u

/* Named databases, in the order store.c opens them. */
enum store_db {
	DB_META,
	DB_DOMAIN,
	DB_PRINCIPAL,
	DB_PRINCIPAL_NAME,
	DB_ALIAS,
	DB_MAILBOX,
	DB_EMAIL,
	DB_UID,
	DB_CHANGE,
	DB_BLOB,
	DB_BLOBREF,
	DB_ENVELOPE,
	DB_DKIM,
	DB_QUEUE,     /* outbound queue entries (store_queue.c) */
	DB_QUEUE_DUE, /* (next attempt, entry id) schedule index */
	DB_BLOBDATA,  /* blob bytes by sequence number (schema 2; store_codec.c) */
	DB_BLOBGC,    /* freed blobs' bytes waiting for the sweep (schema 4; store_hold.c) */
	DB_SUBSCRIPTION, /* IMAP subscriptions by (account, name hash) (schema 5) */
	DB_DMARC_REPORT, /* DMARC aggregate reports received (schema 6; store_dmarc.c) */
	DB_DMARC_SEEN,   /* DMARC results of received mail, to report (schema 6) */
	DB_METADATA,     /* IMAP METADATA by (account, mailbox, name) (schema 7) */
	DB_SIEVE,        /* Sieve scripts by (account, name) (schema 8; store_sieve.c) */
	DB_SIEVE_SEEN,   /* vacation/duplicate memory by (account, hash) (schema 8) */
	DB_APPPASS,      /* app passwords by (account, id) (schema 9; store_apppass.c) */
	DB_THREADREF,    /* message id hash -> thread (schema 10; store_thread.c) */
	DB_SPAM,         /* spam models and fuzzy memory by (account, kind) (schema 12) */
	DB_THREAD,       /* thread sums, mailboxes and emails (schema 13; store_counts.c) */
	DB_MBCOUNT,      /* per-mailbox JMAP counters (schema 13; store_counts.c) */
	DB_FTS,          /* full-text index postings and state (store_fts.c) */
	DB_FTS_TERM,     /* full-text index terms by account (store_fts.c) */
	DB_BLOBOWN,      /* (account, blob id, email) index (schema 15; store_counts.c) */
	DB_ACL,          /* grants by (owner, mailbox, grantee) (schema 16; store_acl.c) */
	DB_ACL_REV,      /* the same by (grantee, owner, mailbox) (schema 16) */
	DB_COUNT
};

/* Version byte that starts every record this build writes. */
#define REC_V1 1u
#define REC_V2 2u /* blobref with a blobdata sequence number */

/* Name limits (octets); the address ones are in store.h. */
#define STORE_MAILBOX_NAME_MAX 1000
#define STORE_HASH_MAX 128 /* == PASSWORD_HASH_MAX */

/* Mailbox 1 of every account is its INBOX (created first, never deleted). */
#define STORE_INBOX_ID 1u

/* Group-commit batch limits: whichever is reached first closes a batch. */
#define STORE_BATCH_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define STORE_BATCH_MAX_REQUESTS 1000

/* Default first map size; the file's size wins when larger. */
#define STORE_MAP_MIN ((uint64_t)64 * 1024 * 1024)

enum mailbox_role {
	ROLE_NONE,
	ROLE_INBOX,
	ROLE_SENT,
	ROLE_DRAFTS,
	ROLE_TRASH,
	ROLE_JUNK,
	ROLE_ARCHIVE,
	/* The rest of the IANA "IMAP Mailbox Name Attributes" registry's
	 * names JMAP uses (RFC 8621 §2): a client's label, which tern keeps
	 * and shows (LIST, Mailbox/get) but gives no meaning of its own. */
	ROLE_IMPORTANT, /* RFC 8457 */
	ROLE_FLAGGED,   /* RFC 6154 */
	ROLE_ALL,       /* RFC 6154 */
	ROLE_MEMOS,     /* RFC 9979 */
	ROLE_SCHEDULED, /* RFC 9979 */
	ROLE_SNOOZED,   /* RFC 9979 */
	ROLE_COUNT
};

/* Kinds of entries in a change record. */
enum change_kind {
	CHANGE_EMAIL_CREATED = 1,
	CHANGE_EMAIL_UPDATED = 2,
	CHANGE_EMAIL_DESTROYED = 3,
	CHANGE_MAILBOX_CREATED = 4,
	CHANGE_MAILBOX_UPDATED = 5,
	CHANGE_MAILBOX_DESTROYED = 6,
	/* Follows each CHANGE_EMAIL_DESTROYED in its record: the thread the
	 * email was in (id), the email (uid field); mailbox 0. */
	CHANGE_EMAIL_THREAD = 7,
	/* Ends a record's keyword changes (store_flags.c) none of which
	 * moved a mailbox count (no email's unread state changed): JMAP's
	 * Mailbox/changes then has no mailbox to tell for the entries
	 * before it. Those of a copy or removal of the same write
	 * (store_update.c) follow it. id, mailbox, uid 0. */
	CHANGE_EMAIL_QUIET = 8,
};

struct store_feed; /* subscriptions; refcounted, outlives st (store_writer.c) */
#define XCHG_PEND_MAX 64 /* accounts a CLI notes before it writes them (store_xchg.c) */

/*
 * Zeroed room past the end of data.mdb (store_room.c); tern serve only.
 * The writer adds STORE_ROOM_STEP at a time in its idle moments, to keep
 * about STORE_ROOM_AHEAD past LMDB's last page: room for some hundreds of
 * 10 KiB messages. Should the room fall under STORE_ROOM_LOW all the same,
 * the next write transaction tops it up to STORE_ROOM_AHEAD first: about
 * 4 MiB at once, a few ms on an SSD.
 */
#define STORE_ROOM_LOW (2u << 20)
#define STORE_ROOM_AHEAD (6u << 20)
#define STORE_ROOM_STEP (256u << 10)
struct store_room {
	int fd;            /* data.mdb opened O_DIRECT, or -1: no room kept */
	atomic_int kept;   /* fd >= 0, readable without LMDB's write lock */
	void *zeros;       /* 1 MiB mapping of the zero page, read-only */
	unsigned psize;    /* LMDB's page size */
	uint64_t end;      /* the file's size as last seen or made */
	uint64_t retry_at; /* after a failure, no new attempt before (s) */
};

/*
 * Streams' holds on blob bytes (store_hold.c), by sequence number, with a
 * count (two sessions may stream one blob).
 */
struct store_pin {
	uint64_t seq;
	uint32_t count;
	int freed; /* a sweep found the bytes freed and left them for the hold */
};
struct store_pins {
	pthread_mutex_t mu;
	struct store_pin *v;
	size_t n, cap;
};

/* Room kept back for deletions (store_reserve.c). */
struct store_reserve {
	pthread_mutex_t mu;    /* making and giving back the file */
	atomic_ullong bytes;   /* R: the file's size and the floor; 0: none */
	atomic_int held;       /* the reserve file is there, whole */
	uint64_t retry_at_ms;  /* under mu: no new file before (monotonic) */
	atomic_ullong released; /* times given back (tests) */
	atomic_int refusing;   /* the writer's run after an ENOSPC (store_writer.c) */
	atomic_int given;      /* given back (a full disk), not made again yet */
};

/* What a batch has left for new mail (store_space_take); zeroed per run. */
struct store_space {
	uint64_t avail; /* bytes, UINT64_MAX: unknown (no limit) */
	int known;      /* avail has been read */
	int counted;    /* LMDB's free pages are in avail */
};

/* How long freed bytes wait in blobgc before a sweep may delete them. */
#define STORE_GC_GRACE_MS 10000u
/* The longest `tern serve` goes without a sweep: entries another process
 * made (the CLI deleting an account) are found this way. */
#define STORE_GC_POLL_MS 60000u

/* IMAP \Recent claims on their way to the writer, seen by reads at once
 * (store_flags.c); more at a time go unnoted (the old race, no harm). */
#define STORE_RECENT_CLAIMS 64
struct store_recent_claim {
	uint32_t account, mailbox, upto;
};

/* The highest \Recent claim of the mailbox not committed yet, 0 when none. */
uint32_t store_recent_pending(struct store *st, uint32_t account, uint32_t mailbox);

struct store {
	MDB_env *env;
	unsigned flags;
	int lock_fd; /* the data directory, flock'ed by tern serve; else -1 */
	char *dir;   /* the data directory (store_open's) */
	uint32_t serial; /* this process's count of stores opened (store_names_gen) */
	unsigned mailbox_max, mailbox_name_max; /* store_mailbox_limits() */
	/* Mailboxes a name lookup of store_mailbox_ops.c looked at, by the
	 * writer only (tests see that a lookup is not a walk of them all). */
	unsigned long mailbox_name_probes;
	MDB_dbi db[DB_COUNT];
	pthread_rwlock_t maplock;

	/* Writer queue (store_writer.c), all under qlock. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct store_delivery *qhead, *qtail;
	int stopping;
	int paused; /* test hook: the writer leaves the queue alone */
	int release_due; /* under qlock: a big delivery was queued; mem_release() when idle */
	int writer_started;
	_Atomic unsigned inflight; /* posted to a loop, its done not yet run (store_inflight) */
	pthread_t writer;

	struct store_feed *feed;
	/* Other processes' changes (store_xchg.c): the accounts this one
	 * published and not yet noted, under xchg_mu; the server's last
	 * "xchg_seq" acted on (loop 0's timer only). */
	pthread_mutex_t xchg_mu;
	uint32_t xchg_pend[XCHG_PEND_MAX];
	size_t xchg_n;
	uint64_t xchg_flushed_ms;
	uint64_t xchg_seen;

	/* \Recent claims not committed yet (store_flags.c), under recent_mu. */
	pthread_mutex_t recent_mu;
	struct store_recent_claim recent_claims[STORE_RECENT_CLAIMS];
	unsigned nrecent_claims;
	/* Claims dropped so far: store_mailbox_recent_take() reads again when
	 * one was dropped while it read (its snapshot may predate the commit). */
	uint64_t recent_forgets;

	/* Deferred freeing of blobs (store_hold.c). */
	struct store_pins pins;
	atomic_int gc_note; /* this transaction deferred a blob: schedule a sweep */
	uint64_t gc_at_ms;  /* under qlock: the writer sweeps then (0: not due) */
	atomic_uint gc_grace_ms; /* STORE_GC_GRACE_MS; tests shorten it */
	unsigned gc_poll_ms;     /* STORE_GC_POLL_MS; tests shorten it */

	/* Counters for tests and metrics. */
	atomic_ullong commits;  /* successful write commits (batches and admin) */
	atomic_ullong batches;  /* group-commit batches attempted */
	atomic_ullong grows;    /* map growths performed by this process */
	atomic_int fail_commit; /* test hook: errno the next commits fail with */
	atomic_int fail_once;   /* test hook: errno the next commit fails with */
	atomic_int fail_skip;   /* test hook: commits that pass before fail_commit applies */
	atomic_int fail_sync_once; /* test hook: errno the next store_sync fails with */
	atomic_ullong syncs;    /* store_sync calls (the flushes apart from commits') */
	atomic_int halted;      /* store_halted(): no write from now on */
	void (*on_halt)(void); /* store_on_halt(), set before the writer starts */

	struct store_reserve reserve;
	struct store_room room;
	atomic_ullong room_fills; /* room made by store_room_keep (tests) */
	atomic_ullong room_steps; /* room made by store_room_step (tests) */
	atomic_int room_fail;     /* test hook: errno the next fills fail with */
};

/* ---- Transactions and map growth (store.c) ---- */

/*
 * Begins a read transaction with maplock held shared; adopts a map grown by
 * another process (MDB_MAP_RESIZED) on the way. Returns 0 or an LMDB error
 * (the lock is not held then).
 */
int store_rd_begin(struct store *st, MDB_txn **txn_r);
/* Aborts the read transaction and releases maplock. */
void store_rd_end(struct store *st, MDB_txn *txn);

/*
 * A unit of writing: called inside a fresh write transaction, possibly
 * several times (after a map growth the whole function runs again from
 * scratch), so it must keep no state between calls except what it resets.
 * Returns 0 to commit, a STORE_* code to abort and return that code, or an
 * LMDB/errno code: MDB_MAP_FULL grows the map and retries, anything else
 * aborts and becomes STORE_ETEMP.
 */
typedef int store_write_fn(struct store *st, MDB_txn *txn, void *ctx);
/*
 * Runs fn in a write transaction and commits, growing the map as needed.
 * Returns STORE_OK, fn's STORE_* code, STORE_EFULL when the disk is full
 * and the reserve cannot help (STORE_W_FULL_CODE below), or STORE_ETEMP
 * (logged as event=commit_failed when the commit itself failed).
 */
int store_write(struct store *st, store_write_fn *fn, void *ctx);
/*
 * store_write() with flags. Without STORE_W_NEW_MAIL, a commit that fails
 * with ENOSPC gives the reserve file back (store_reserve.c) and runs fn
 * again: what adds no mail may use the reserve. With it, ENOSPC returns
 * STORE_EFULL at once and the reserve stays.
 */
#define STORE_W_NEW_MAIL 1u
/* The store writer only: returns once committed, before the meta page is
 * flushed; the caller must store_sync() (or see a later commit of its
 * own) before it treats the write as durable. */
#define STORE_W_DEFER_SYNC 2u
/* A commit that meets a full disk the reserve cannot help (none kept, or
 * given back already) returns STORE_EFULL rather than STORE_ETEMP, so
 * that what the caller answers can say the disk is full. */
#define STORE_W_FULL_CODE 4u
int store_write_ex(struct store *st, store_write_fn *fn, void *ctx, unsigned wflags);
/* Flushes the data file (mdb_env_sync, forced): every commit so far is on
 * disk once it returns 0. A failure halts the store (store_halted), and a
 * halted store flushes no more: it returns EIO at once (a flush that
 * succeeds after one that failed vouches for nothing). */
int store_sync(struct store *st);

/*
 * 0 when env's file holds every page its meta page names; else
 * MDB_CORRUPTED with the file's size and the size those pages need (an
 * errno when the file cannot be looked at). Asked right after
 * mdb_env_open, before any page is read: see store.c.
 */
int store_env_whole(MDB_env *env, uint64_t *have_r, uint64_t *need_r);

/* Maps an LMDB result to a STORE_* code (MDB_NOTFOUND -> ENOTFOUND, ...). */
int store_mdb_code(int rc);
/* err helper: formats into err (may be NULL) and returns code. */
int store_err(char *err, size_t errsz, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- Big-endian helpers and keys (store_codec.c) ---- */
/* Inline: a SEARCH or a mailbox read decodes a few of these per message
 * (as calls they were 5% of an IMAP mixed load's CPU). */
static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

/* Keys (u32 a [, u32 b [, u32 c]]) and (u32 a, u64 b) built in caller's buffer. */
MDB_val key_u32(uint8_t b[4], uint32_t a);
MDB_val key_u32_u32(uint8_t b[8], uint32_t a, uint32_t c);
MDB_val key_u32_u32_u32(uint8_t b[12], uint32_t a, uint32_t c, uint32_t d);
MDB_val key_u32_u64(uint8_t b[12], uint32_t a, uint64_t c);

/*
 * Record writer: with p == NULL it only counts (first pass to size an
 * MDB_RESERVE), otherwise it writes into p and never past cap.
 */
struct rec_w {
	uint8_t *p;
	size_t len, cap;
};
void rw_u8(struct rec_w *w, uint8_t v);
void rw_u16(struct rec_w *w, uint16_t v);
void rw_u32(struct rec_w *w, uint32_t v);
void rw_u64(struct rec_w *w, uint64_t v);
void rw_bytes(struct rec_w *w, const void *p, size_t n);
/* u16 length then bytes. */
void rw_str16(struct rec_w *w, const char *s, size_t n);

/* Record reader: any read past the end sets bad and yields zeros. */
struct rec_r {
	const uint8_t *p;
	size_t len, off;
	int bad;
};
struct rec_r rr_init(const MDB_val *v);
uint8_t rr_u8(struct rec_r *r);
uint16_t rr_u16(struct rec_r *r);
uint32_t rr_u32(struct rec_r *r);
uint64_t rr_u64(struct rec_r *r);
const uint8_t *rr_bytes(struct rec_r *r, size_t n);
/* u16 length then bytes; copies into dst (NUL-terminated); bad if too long. */
void rr_str16(struct rec_r *r, char *dst, size_t dstsz);

/* Encodes a record of reclen bytes via rec_w into a DB with MDB_RESERVE. */
int rec_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, size_t reclen,
            void (*enc)(struct rec_w *w, const void *rec), const void *rec, unsigned flags);

/* Account (DB_PRINCIPAL value). */
struct acct_rec {
	uint64_t quota, used, modseq;
	uint32_t emails, next_email_id, next_mailbox_id;
	int64_t created_at;
	char email[STORE_ADDR_MAX + 1];
	char hash[STORE_HASH_MAX];
	uint8_t state; /* enum store_account_state (schema 11) */
	char name[STORE_DISPLAY_NAME_MAX + 1]; /* display name, "" = none (schema 11) */
	/* What the credentials stamp digests in place of hash while
	 * stamp_bind is the bind (scram_bind) of hash: set by a re-hash of
	 * the same password (acct_rehash), so the stamp does not move; any
	 * other change of hash unbinds it. "" = none (optional trailing
	 * fields, no schema change). */
	char stamp_src[STORE_HASH_MAX];
	uint8_t stamp_bind[8];
};
void acct_enc(struct rec_w *w, const void *rec);
int acct_dec(const MDB_val *v, struct acct_rec *a);
int acct_get(MDB_txn *txn, struct store *st, uint32_t id, struct acct_rec *a);
int acct_put(MDB_txn *txn, struct store *st, uint32_t id, const struct acct_rec *a);
/* store_quota_fits() in txn: 0 (fits), STORE_EQUOTA, STORE_ETOOBIG, or an
 * LMDB error (store_read.c). An account listed more than once (a
 * delivery's copies, store_delivery.targets) is charged every copy:
 * targets[i].bytes->len when it has bytes of its own, else len; targets
 * may be NULL (each entry len). */
int quota_fits_txn(MDB_txn *txn, struct store *st, const uint32_t *accounts, size_t n,
		   const struct store_target *targets, uint64_t len);

/* Mailbox (DB_MAILBOX value). */
struct mbox_rec {
	uint32_t uidvalidity, uidnext, messages, parent;
	uint64_t highest_modseq;
	uint8_t role, subscribed;
	char name[STORE_MAILBOX_NAME_MAX + 1];
	uint32_t first_recent; /* IMAP \Recent: uids from here on (0: all) */
	uint32_t sort_order;   /* JMAP's sortOrder (RFC 8621 §2), 0 by default */
};
void mbox_enc(struct rec_w *w, const void *rec);
int mbox_dec(const MDB_val *v, struct mbox_rec *m);
int mbox_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id, struct mbox_rec *m);
int mbox_put(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id,
             const struct mbox_rec *m);
const char *mbox_role_name(unsigned role);
/* The name a new account's mailbox of role has ("Sent" for ROLE_SENT,
 * store_admin.c); "" for ROLE_NONE and unknown roles. */
const char *mbox_role_default_name(unsigned role);
/* The first mailbox of account with role (enum mailbox_role) into
 * *mailbox_r: 0, MDB_NOTFOUND when it has none, or an LMDB error. */
int mbox_find_role(MDB_txn *txn, struct store *st, uint32_t account, unsigned role,
                   uint32_t *mailbox_r);
/* A delivery's mailbox by name (store_target.mailbox), created when
 * create is set under IMAP CREATE's rules: 0 with *mailbox_r; 1 with
 * *why_r (the copy goes to the INBOX); or an LMDB error
 * (store_mailbox_ops.c). */
int mbox_for_delivery(struct store *st, MDB_txn *txn, uint32_t account, const char *name,
                      int create, uint32_t *mailbox_r, const char **why_r);

/*
 * Subscriptions (DB_SUBSCRIPTION, store_subscription.c): key u32 account and
 * the BLAKE2b-256 of the name (a name may pass LMDB's 511-octet key limit),
 * value u8 version then the name. They are names, not mailboxes: DELETE
 * and RENAME leave them alone. sub_set() adds (on 1) or removes one:
 * 0 when it changed, 1 when it was so already, or an LMDB error.
 * sub_has(): 1, 0, or an LMDB error (negative or positive code: != 0/1).
 */
int sub_set(MDB_txn *txn, struct store *st, uint32_t account, const char *name, int on);
int sub_has(MDB_txn *txn, struct store *st, uint32_t account, const char *name);
/* Counts the account's subscriptions into *n_r: 0 or an LMDB error. */
int sub_count(struct store *st, MDB_txn *txn, uint32_t account, size_t *n_r);
/* Removes every METADATA entry of a mailbox (store_metadata.c): 0 or an
 * LMDB error. */
int meta_drop_mailbox(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox);
/* Removes the /private entries other users keep on owner's mailbox
 * whose user holds no right on it now (store_metadata.c): 0 or an LMDB
 * error. */
int meta_drop_unentitled(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox);
/* Removes the /private entries user keeps on owner's mailbox (user's
 * removal, store_acl.c): 0 or an LMDB error. */
int meta_drop_user_on(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox,
		      uint32_t user);

/* ---- Access control lists (store_acl.c) ---- */
/* store_mailbox_rights() inside txn: 0 or an LMDB error. */
int acl_rights_txn(MDB_txn *txn, struct store *st, uint32_t account, uint32_t owner,
		   uint32_t mailbox, uint32_t *rights_r);
/* Gives mailbox to of owner a copy of every grant on mailbox from (a new
 * mailbox inheriting its parent's, as Cyrus and Dovecot do): 0 or an
 * LMDB error. */
int acl_copy_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t from, uint32_t to);
/* The grants on a mailbox being deleted: 0 or an LMDB error. */
int acl_drop_mailbox_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox);
/* The owners whose grants to a removed account went (acl_drop_account_txn
 * fills it, each once; acl_owners_publish tells them after the commit). */
struct acl_owners {
	uint32_t *v; /* xrealloc'd */
	size_t n, cap;
};
/* The grants on an account's mailboxes and those made to it (its
 * removal), the owners of the latter added to owners (the caller
 * empties it before each attempt: a write may run again). 0 or an LMDB
 * error. */
int acl_drop_account_txn(MDB_txn *txn, struct store *st, uint32_t account,
			 struct acl_owners *owners);
/* After the commit: each owner's change feed told, as a grant change's
 * is (acl_publish_grant); then owners is freed and emptied. */
void acl_owners_publish(struct store *st, struct acl_owners *owners);
/* ---- Share notifications (store_sharenote.c) ---- */
/* A notification in grantee's name of its grant on (owner, mailbox),
 * named name, going from rights was to now, changed by account by: none
 * for "anyone", the owner, or rights that did not change. 0 or an LMDB
 * error. */
int sharenote_add_txn(MDB_txn *txn, struct store *st, uint32_t by, uint32_t owner,
		      uint32_t mailbox, uint32_t grantee, const char *name, uint32_t was,
		      uint32_t now);
/* Every record of account, with its sequence (store_admin.c). */
int sharenote_drop_account_txn(MDB_txn *txn, struct store *st, uint32_t account);
/* Moves account's sequence on by gap, from 0 when it has none, so that
 * no number given before is given again (a restore, store_restore.c).
 * 0 or an LMDB error. */
int sharenote_seq_jump_txn(MDB_txn *txn, struct store *st, uint32_t account, uint64_t gap);

/*
 * uid entry (DB_UID value): u8 version, u32 email, and since SAVEDATE an
 * optional i64 saved_at, then an optional u8 of membership flags
 * (SCHEMA.md). uid_rec_encode() writes saved_at, and the flags when there
 * are any, into out and returns the size; uid_rec_saved_at() reads the
 * date of a value, or fallback (the email's received_at) for the short
 * form; uid_rec_flags() the flags (0 for the shorter forms).
 */
#define UID_REC_SAVED 13
#define UID_REC_MAX 14
#define UID_F_DELETED 0x01u /* IMAP \Deleted in this mailbox */
size_t uid_rec_encode(uint8_t out[UID_REC_MAX], uint32_t email_id, int64_t saved_at,
		      unsigned flags);
int64_t uid_rec_saved_at(const MDB_val *v, int64_t fallback);
unsigned uid_rec_flags(const MDB_val *v);

/* Email (DB_EMAIL value); pointers point into the record (txn lifetime). */
struct email_rec {
	uint8_t blob_id[32];
	uint64_t size, modseq;
	int64_t received_at;
	uint32_t thread_id;
	const char *keywords; /* space-separated, not NUL-terminated */
	uint16_t keywords_len;
	uint16_t nmembers;
	const uint8_t *members; /* nmembers x (u32 mailbox, u32 uid) */
	const uint8_t *meta;
	uint32_t metalen;
	/* IMAP's EMAILID when not this email's id: the email an IMAP COPY
	 * was made from (RFC 8474 §5.1 wants the copy to show the source's
	 * EMAILID). 0: the email's own id. A trailing field, written only
	 * when set. */
	uint32_t origin;
	/* The zone the internal date was given in, minutes east of UTC
	 * (IMAP APPEND's "-0800": -480); 0 is +0000, as every record
	 * without it reads. A trailing field after origin (then written as
	 * 0 when unset), written only when not 0. */
	int16_t zone;
};
void email_enc(struct rec_w *w, const void *rec);

/*
 * What the counters and the thread index need of one email
 * (store_counts.c): its thread, received date, whether it is unread and
 * its distinct mailboxes. email_shape_of() copies them out of e (so the
 * shape survives edits of e's record); email_shape_free() frees them.
 */
struct email_shape {
	uint8_t blob[32]; /* the email's bytes (blobown) */
	uint32_t thread;
	int64_t received_at;
	int unread; /* neither $seen nor $draft */
	uint32_t *mbs;
	size_t nmbs;
};
void email_shape_of(struct email_shape *s, const struct email_rec *e);
void email_shape_free(struct email_shape *s);
/*
 * Applies the change of email email_id from old to now (either NULL: the
 * email is new / destroyed) to its mailboxes' counters and its thread's
 * records, in txn. Every writer of an email record calls it. 0 or an
 * LMDB error.
 */
int counts_email(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email_id,
		 const struct email_shape *old, const struct email_shape *now);
/* Recounts an account from its email records (migration 12 -> 13, a trash
 * mailbox deleted); counts_rebuild_all() does every account. 0 or an LMDB
 * error. */
int counts_rebuild(MDB_txn *txn, struct store *st, uint32_t account);
int counts_rebuild_all(MDB_txn *txn, struct store *st);
/* The ids of the principals (accounts among them) into *ids_r (n_r of
 * them, malloc'ed, the caller frees; NULL when none). 0 or an LMDB
 * error. */
int principal_ids(MDB_txn *txn, struct store *st, uint32_t **ids_r, size_t *n_r);
/* Schema 13 -> 14 (store_sieve.c): Sieve scripts moved from (account,
 * name) keys to (account, hash of name), their ids' meta keys with them.
 * 0 or an LMDB error (MDB_CORRUPTED for a record schema 13 did not write). */
int sieve_migrate_hashed(MDB_txn *txn, struct store *st);
/* Removes the account's counters and thread records. */
int counts_drop_account(MDB_txn *txn, struct store *st, uint32_t account);
/* How many emails thread has in *n_r (0: none, all destroyed, or no
 * thread index yet: before schema 13). 0 or an LMDB error. */
int counts_thread_emails(MDB_txn *txn, struct store *st, uint32_t account, uint32_t thread,
			 uint32_t *n_r);
/* A mailbox's totalEmails, unreadEmails, totalThreads, unreadThreads. */
int counts_mailbox_get(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox,
		       uint32_t c[4]);
int email_dec(const MDB_val *v, struct email_rec *e);
size_t email_size(const struct email_rec *e);
/*
 * Reads the email record under k and decodes it into e from a private
 * copy (*copy_r, the caller frees it), so that e stays valid across the
 * writes that follow: a rewrite may reuse the page the record sits in.
 * LMDB's MDB_NOTFOUND when there is none; *copy_r is NULL on any error.
 */
int email_get_copy(MDB_txn *txn, struct store *st, MDB_val *k, struct email_rec *e,
		   uint8_t **copy_r);
/* What readers are given about one message of a mailbox: the email record
 * e of email_id, listed under uid by the uid entry uv (for its saved_at). */
void email_info_fill(struct store_email_info *info, const struct email_rec *e,
                     uint32_t email_id, uint32_t uid, const MDB_val *uv);

/*
 * Blob refcount (DB_BLOBREF value) and where the bytes are: seq is their
 * key in DB_BLOBDATA, or 0 for a blob stored under schema 1, whose bytes
 * are in DB_BLOB under the blob id.
 */
struct blobref_rec {
	uint64_t refs, size, seq;
};
int blobref_get(MDB_txn *txn, struct store *st, const uint8_t id[32], struct blobref_rec *b);
int blobref_put(MDB_txn *txn, struct store *st, const uint8_t id[32], const struct blobref_rec *b);
/* Stores new bytes under id with refs references (the id must be new). */
int blob_store(MDB_txn *txn, struct store *st, const uint8_t id[32], const void *data,
               size_t len, uint64_t refs);
/* Adds n references to blob id, storing data[0..len) when they are new
 * (store_writer.c). */
int blob_ref(struct store *st, MDB_txn *txn, const uint8_t id[32], const char *data, size_t len,
	     uint64_t n);
/* The bytes of blob id (without the record's version byte): a pointer into
 * the map, valid until txn ends; *seq_r (may be NULL) their key in
 * blobdata, 0 for a schema 1 blob. MDB_NOTFOUND, or MDB_CORRUPTED. */
int blob_get(MDB_txn *txn, struct store *st, const uint8_t id[32], MDB_val *bytes_r,
             uint64_t *seq_r);
/* Drops one reference. At zero it deletes the refcount, and the bytes of a
 * schema 1 blob; a schema 2 blob's bytes go to blobgc (blob_defer). */
int blob_unref(MDB_txn *txn, struct store *st, const uint8_t id[32]);

/*
 * Threads (store_thread.c): the thread a new email email_id of account
 * joins, from its bytes data[0..len) (only the header is read), into
 * *thread_r (its own id when it starts one); records its message ids in
 * DB_THREADREF. With live (the thread index is kept: every caller but the
 * schema 10 migration, which runs before it exists) a thread whose emails
 * are all gone is not joined, and its ids' entries move to the new
 * email's thread. 0 or an LMDB error.
 */
int thread_assign(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email_id,
                  const char *data, size_t len, int live, uint32_t *thread_r);

/* ---- Deferred freeing of blob bytes (store_hold.c) ---- */
/* Puts seq in blobgc with the time; the sweep deletes its bytes later. */
int blob_defer(MDB_txn *txn, struct store *st, uint64_t seq);
/* Asks the writer for a sweep at at_ms (wall clock); no-op without a writer. */
void store_gc_schedule(struct store *st, uint64_t at_ms);
/* Deletes the bytes of blobgc entries older than grace_ms that no stream
 * holds. Returns when the next entry comes due (0: none waiting on time). */
uint64_t store_blob_sweep(struct store *st, uint64_t grace_ms);
void store_pins_init(struct store *st);
void store_pins_free(struct store *st);
uint64_t store_wall_ms(void);
/* An email's record and its blob's bytes (and their blobdata key, seq_r
 * may be NULL) in txn (store_read.c). */
int email_with_blob(struct store *st, MDB_txn *txn, uint32_t account, uint32_t email_id,
                    struct email_rec *e, MDB_val *blob_r, uint64_t *seq_r);

/* Small u32 record in DB_META (counters, schema version). */
int meta_get_u32(MDB_txn *txn, struct store *st, const char *name, uint32_t *v_r);
/* The environment's schema version (store_upgrade.c): 0, MDB_NOTFOUND
 * for a fresh one, or an LMDB error. */
int store_meta_schema(MDB_txn *txn, uint32_t *ver_r);
int meta_put_u32(MDB_txn *txn, struct store *st, const char *name, uint32_t v);

/* ---- App passwords (store_apppass.c) ---- */
#define APPPASS_TAG 4
/* The first APPPASS_TAG bytes of the BLAKE2b of a secret. */
void apppass_tag(const char *secret, uint8_t tag[APPPASS_TAG]);
struct apppass_cand {
	uint32_t id;
	char hash[STORE_HASH_MAX];
};
/* The account's app passwords of scope (enum store_apppass_scope) whose tag
 * is tag (at most max). */
int apppass_candidates(MDB_txn *txn, struct store *st, uint32_t account, int scope,
                       const uint8_t tag[APPPASS_TAG], struct apppass_cand *out, size_t max,
                       size_t *n_r);
/* Records a use now (its own write transaction). STORE_* code. */
int apppass_touch(struct store *st, uint32_t account, uint32_t id);
/* 1 when the app password (account, id) exists, 0 when not, or an LMDB error. */
int apppass_exists(MDB_txn *txn, struct store *st, uint32_t account, uint32_t id);

/* ---- Accounts (store_admin.c) ---- */
/* The id of account addr (canonical): 0 or an LMDB error (MDB_NOTFOUND). */
int name_lookup(MDB_txn *txn, struct store *st, const char *addr, uint32_t *id_r);
/* The credentials stamp of a login (see store_account_creds). */
uint64_t cred_stamp(const struct acct_rec *a, uint32_t apppass, int existing);
/*
 * Replaces account id's password hash old_hash by new_hash, a hash of the
 * same password (a login's re-hash, store_admin.c), in one write
 * transaction and only while the stored hash is still old_hash: a
 * password set meanwhile wins. The credentials stamp stays what it was
 * (stamp_src) and the SCRAM record is bound to the new hash. STORE_OK,
 * 1 when the hash had changed meanwhile (nothing written),
 * STORE_ENOTFOUND, or STORE_ETEMP.
 */
int acct_rehash(struct store *st, uint32_t id, const char *old_hash, const char *new_hash);

/* ---- SCRAM keys (store_scram.c) ---- */
#define SCRAM_BIND 8
/* The digest of a password hash a record is bound to. */
void scram_bind(const char *hash, uint8_t out[SCRAM_BIND]);
/* Writes account id's record for password hash hash (both sealed texts
 * non-empty): 0 or an LMDB error. */
int scram_put_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash,
		  const char sealed[2][STORE_SCRAM_SEALED_MAX]);
/* Removes it (none is fine): 0 or an LMDB error. */
int scram_del_txn(MDB_txn *txn, struct store *st, uint32_t id);
/* scram_put_txn when hash and both texts are non-empty, else scram_del_txn:
 * what a password change writes. */
int scram_set_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash,
		  const char sealed[2][STORE_SCRAM_SEALED_MAX]);
/* The sealed text of hash which (0 SHA-1... as enum scram_hash) into
 * sealed, "" when there is no record or it was made beside another
 * password hash than hash: 0 or an LMDB error. */
int scram_get_txn(MDB_txn *txn, struct store *st, uint32_t id, const char *hash, int which,
		  char *sealed, size_t sealedsz);
/* Writes the record in its own transaction, only while account id's
 * password hash is still hash (a login's derivation racing a password
 * change loses). STORE_* code. */
int scram_store_later(struct store *st, uint32_t id, const char *hash,
		      const char sealed[2][STORE_SCRAM_SEALED_MAX]);

/* ---- Two-factor records (store_totp.c) ---- */
/* 1 when owner (0: the admin) has TOTP on, 0 when not, -1 on an error. */
int totp_on_txn(MDB_txn *txn, struct store *st, uint32_t owner);
/* Removes owner's record (none is fine): 0 or an LMDB error. */
int totp_del_txn(MDB_txn *txn, struct store *st, uint32_t owner);
/* ---- After a restore (store_restore.c) ---- */
/* The meta key a restore leaves for the first open (no '/': the store's). */
#define RESTORE_MARK "restore_pending"
/* Puts RESTORE_MARK into the meta DB of a restored environment: 0 or an
 * LMDB error. */
int store_restore_mark(MDB_txn *txn, MDB_dbi meta);
/* When RESTORE_MARK is there: new UIDVALIDITYs, counters and JMAP states
 * moved past anything the lost store can have handed out, the change log
 * cut to a floor, the outbound queue held, the reports waiting to be sent
 * dropped, and the mark deleted, all inside txn (store_open's).
 * 0 (also when there is no mark) or an LMDB error. */
int store_restore_renew(struct store *st, MDB_txn *txn);
/* Whether txn sees a restored store no read-write open has renewed yet
 * (RESTORE_MARK there): a read-only reader (tern queue list, tern dmarc
 * report) then shows what the first open will make of it, the queue
 * held and the pending reports gone, not the backup's. 1 or 0. */
int store_restore_pending(struct store *st, MDB_txn *txn);
/* Whether every meta name under prefix is one the first open of a
 * restored store drops (its pending reports): 1 or 0. */
int store_restore_drops(const char *prefix);

/* Deletes every meta entry whose name starts with prefix (store_meta.c):
 * 0 or an LMDB error. */
int meta_del_prefix_txn(MDB_txn *txn, struct store *st, const char *prefix);
/* The spam filter's records of one email (store_spam.c; SCHEMA.md, meta
 * spamfrom/, spamlesson/ and the spamtrained/ and spamvote/ entries the
 * lesson named), removed with it: 0 or an LMDB error. */
int spam_email_drop_txn(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email);
/* The same for every email of account with a lesson (its deletion). */
int spam_account_lessons_drop_txn(MDB_txn *txn, struct store *st, uint32_t account);
/* Deletes every key of dbi starting with prefix; each(), when given, sees
 * each record first and stops the deleting with a non-zero return. */
int db_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
		  int (*each)(void *arg, const MDB_val *v), void *arg);
/* The account's full-text index (store_fts.c), inside txn. */
int fts_del_txn(MDB_txn *txn, struct store *st, uint32_t account);

/* ---- Account forwarding (store_forward.c) ---- */
/* The account's record (n 0 when none): 0 or an LMDB error. */
int fwd_get_txn(MDB_txn *txn, struct store *st, uint32_t id, struct store_account_forward *f);
/* Removes it (none is fine): 0 or an LMDB error. */
int fwd_del_txn(MDB_txn *txn, struct store *st, uint32_t id);
/* Removes the account's encryption at rest record (store_crypt.c). */
int enc_del_txn(MDB_txn *txn, struct store *st, uint32_t id);
/* store_domain_add() (store_admin.c) that runs then(st, txn, then_ctx)
 * in the same write transaction once the domain is put (then NULL: none),
 * so what goes with a new domain is never stored without it nor it
 * without that. Its returns, then's code when then fails. */
int store_domain_add_then(struct store *st, const char *domain, store_write_fn *then,
                          void *then_ctx, char *err, size_t errsz);

/* ---- Names (store_names.c) ---- */
/* Lowercases (ASCII) and validates a domain into out. 0 or -1. */
int name_domain(const char *in, char *out, size_t outsz);
/* Validates a local part (not NUL-terminated), 0 or -1. */
int name_local_ok(const char *p, size_t n);
/*
 * Lowercases and validates "local@domain" into out (size >= STORE_ADDR_MAX+1);
 * *at_r gets the '@' offset. With allow_catchall, "@domain" is accepted too
 * (local part empty). 0 or -1.
 */
int name_address(const char *in, int allow_catchall, char *out, size_t outsz, size_t *at_r);

/* ---- Other processes' changes (store_xchg.c) ---- */
/* A store that does not serve: account's change is noted for the server. */
void store_xchg_note(struct store *st, uint32_t account);
/* Writes out what store_xchg_note kept (store_close). */
void store_xchg_flush(struct store *st);
/* The server's store at open: notes from before are not replayed. */
void store_xchg_start(struct store *st);

/* ---- Writer and change feed (store_writer.c) ---- */
int store_writer_start(struct store *st, char *err, size_t errsz);
/* Drains the queue, stops and joins the writer thread. */
void store_writer_stop(struct store *st);
struct store_feed *store_feed_new(void);
void store_feed_unref(struct store_feed **f);

/* ---- Room past the data (store_room.c) ---- */
/* Opens data.mdb O_DIRECT for keeping room, where that pays (ext4, XFS). */
void store_room_open(struct store *st, const char *dir);
void store_room_close(struct store *st);
/* Inside a write transaction, before it writes: tops the room up when it
 * fell under STORE_ROOM_LOW. */
void store_room_keep(struct store *st);
/* Inside a write transaction: adds one STORE_ROOM_STEP when the room is a
 * step or more short of STORE_ROOM_AHEAD. Returns 1 when it added. */
int store_room_step(struct store *st);
/* Outside any transaction (the writer, between commits): takes LMDB's
 * write lock with an empty transaction for store_room_step(). Returns 1
 * when room was added, 0 when none was wanted or it could not be added. */
int store_room_between(struct store *st);

/* ---- Upgrades (store_upgrade.c) ---- */
/*
 * Before a migration (the stored schema is older than this build's, and
 * not a fresh environment): copies the environment, compacted, to
 * dir/backup-schema-N/data.mdb. STORE_OK (also
 * when no migration is due); STORE_EFULL when the file system has no
 * room for the copy, STORE_ETEMP when it failed: err says so in one line,
 * nothing was changed, and the open must stop. A command's open (not
 * STORE_SERVER) that would migrate first takes the server's lock on dir
 * into st->lock_fd (store_dir_lock), so no older server is running on
 * the store it changes, and the open releases it once the migration is
 * done; STORE_EBUSY when a server holds it (nothing changed).
 */
int store_upgrade_backup(struct store *st, const char *dir, char *err, size_t errsz);
/* The one-server-per-directory lock (flock on dir): its descriptor, or
 * -1 with the error in err and its code (STORE_EBUSY: a server holds it)
 * in *code_r. */
int store_dir_lock(const char *dir, int *code_r, char *err, size_t errsz);
/* A server is serving: marks the upgrade backups in dir as seen by a
 * first serve, and removes those a previous serve had marked. */
void store_upgrade_release(const char *dir);

/* ---- Free space and the reserve (store_reserve.c) ---- */
/* Bytes available to us on dir's file system (UINT64_MAX when unknown). */
uint64_t store_disk_free(const char *dir);
/*
 * Inside a write transaction: whether len bytes of new mail may be stored
 * and still leave the floor (the reserve's size) for deletions; when so,
 * takes them from sp. 1 yes, 0 no. Always 1 without a reserve. May open a
 * read transaction of its own (LMDB's free list).
 */
int store_space_take(struct store *st, struct store_space *sp, uint64_t len);
/*
 * The same for what is neither mail nor a deletion (the search index):
 * the floor of new mail, and never in a run after a commit met a full
 * disk, nor while the reserve file is given back (a file system where
 * it could never be made holds nothing back). 1 yes, 0 no.
 */
int store_space_take_extra(struct store *st, struct store_space *sp, uint64_t len);
/* Gives the reserve file back (ENOSPC). 1 when there was one. */
int store_reserve_give_back(struct store *st);
/* The writer, after a batch or sweep: makes the reserve file again when
 * it was given back and the disk has room for it (rate-limited). */
void store_reserve_tick(struct store *st);

/* ---- Test hooks ---- */
/* Makes store_disk_free() report bytes (UINT64_MAX: the real value). */
void store_test_set_disk_free(uint64_t bytes);
/* Times the reserve was given back, and whether it is held now. */
uint64_t store_test_reserve_released(struct store *st, int *held_r);
/* First map size for stores opened afterwards (0 = default). Process-wide. */
void store_test_set_initial_map(uint64_t bytes);
/* Tests: the map may not grow past bytes (0: no limit), as when the
 * address space is short (map_set). */
void store_test_set_map_limit(uint64_t bytes);
/* Pauses (1) or resumes (0) the writer's taking of queued requests. */
void store_test_pause_writer(struct store *st, int paused);
/* Test hook: the grace freed bytes wait before a sweep (STORE_GC_GRACE_MS). */
void store_test_gc_grace(struct store *st, unsigned ms);
/* Test hook: the longest time between two sweeps (STORE_GC_POLL_MS) for
 * stores opened from now on; 0 restores the default. */
void store_test_set_gc_poll(unsigned ms);
/* Makes every following commit fail as if with errno e (0 to stop). */
void store_test_fail_commits(struct store *st, int e);
/* Lets the next n commits pass, then makes every following one fail as
 * if with errno e, until store_test_fail_commits(st, 0): the failure of
 * what comes after a given write (the delete after a report's queueing). */
void store_test_fail_commits_after(struct store *st, int n, int e);
/* Makes the next commit (one only) fail as if with errno e. */
void store_test_fail_commit_once(struct store *st, int e);
/* Test hooks: the next store_sync fails with errno e; how many ran. */
void store_test_fail_sync_once(struct store *st, int e);
unsigned long long store_test_syncs(struct store *st);
/* Writes allowed again after a failure (store_halted), for the tests
 * that go on with the same store. */
void store_test_clear_halt(struct store *st);
/* Makes every following room fill fail as if with errno e (0 to stop). */
void store_test_fail_room(struct store *st, int e);
/* Room fills made so far, and whether room is kept at all (0/1). */
uint64_t store_test_room_fills(struct store *st, int *kept_r);
/* Room steps made so far (store_room_step). */
uint64_t store_test_room_steps(struct store *st);
/* Overwrites the stored schema version (to test refusing a newer one). */
int store_test_set_schema(struct store *st, uint32_t version);

/*
 * Expunges uids of mailbox inside the caller's write transaction (what
 * store_expunge() does, minus the UIDVALIDITY check and the commit): used
 * by DELETE of a mailbox. 0, a STORE_* code or an LMDB error.
 */
int store_expunge_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox,
		      const uint32_t *uids, size_t n);
/*
 * Renames mailbox from of account to to inside the caller's write
 * transaction, as store_mailbox_rename() does (children follow; the
 * caller publishes nothing: a migration). STORE_ENOTFOUND (no from),
 * STORE_EEXIST (to taken), another STORE_* code or an LMDB error; a
 * refusal writes nothing.
 */
int mailbox_rename_txn(struct store *st, MDB_txn *txn, uint32_t account, const char *from,
		       const char *to);


/*
 * Group commit for transaction functions (store_group.c): fn(st, txn, ctx)
 * runs in a nested transaction inside the writer's next batch; then
 * finish(a) runs on loop with a->result (STORE_OK, fn's STORE_* code, or
 * STORE_ETEMP when the batch failed). a is the caller's until finish.
 * Subscribers are not told: finish publishes what changed.
 */
struct store_async {
	struct store_delivery d; /* private: the hook-only writer request */
	store_write_fn *fn;
	void *ctx;
	int result;
	void (*finish)(struct store_async *a);
};
void store_async_submit(struct store *st, struct store_async *a, struct loop *loop);
/*
 * store_write() for a thread that may block: fn runs in the writer's next
 * batch and this returns once that batch is on disk, with what
 * store_write() would return (store_group.c). Falls back to store_write()
 * where the writer cannot take it.
 */
int store_write_grouped(struct store *st, store_write_fn *fn, void *ctx);
/* store_sieve_seen_put's record, inside txn (store_writer.c for a
 * delivery's store_delivery.seen). */
int store_sieve_seen_put_txn(struct store *st, MDB_txn *txn, const struct store_seen *e);
/* 1 when the calling thread is inside a store transaction. */
int store_txn_held(void);
/* Completes a with *code (a STORE_* error; must live until finish). */
void store_async_fail(struct store *st, struct store_async *a, struct loop *loop, int *code);

/* Deduplicated (in any case), single-space-joined copy of a keyword list
 * (malloc'ed), or NULL when a keyword is invalid or there are too many. */
char *store_keywords_normalize(const char *text, size_t len);
/* Removes "$deleted" from a normalized keyword string, in place, and sets
 * *len_r to the new length; 1 when it was there. It is a flag of the
 * membership, not of the email (store_flags.c). */
int store_keywords_take_deleted(char *kw, size_t *len_r);

/* ---- One email's update in one write (store_update.c) ---- */
/*
 * The modseq a change of a write takes, the account's (*modseq) bumped:
 * alone (join 0) a new one each time it is asked; in a part of a
 * combined write (join: the account's modseq before the write, plus
 * one) that one for every part, so the write is one step of the change
 * log.
 */
static inline uint64_t modseq_take(uint64_t *modseq, uint64_t join)
{
	if (!join)
		return ++*modseq;
	if (*modseq < join)
		*modseq = join;
	return *modseq;
}
/*
 * Puts the change record crec (3 header octets, then n entries of 13)
 * at (account, modseq), its header filled in here. append (a part of a
 * combined write): after the entries of a record an earlier part wrote
 * there. 0 or an LMDB error.
 */
int change_rec_put(struct store *st, MDB_txn *txn, uint32_t account, uint64_t modseq,
		   uint8_t *crec, size_t n, int append);
/*
 * The parts of store_email_update_async(), each the transaction core of
 * its own operation run for one membership inside txn with join as
 * modseq_take() takes it. 0, STORE_EGONE when the membership is gone
 * (nothing done), another STORE_* code or an LMDB error; the caller
 * aborts the transaction on any.
 * kw_part_txn: the keywords of (mailbox, uid)'s email set to set, or
 * changed by add and remove when set is NULL (store_flags.c; as: NULL
 * for the owner, else held to its rights, refused whole with refuse).
 * copy_part_txn: (from, uid) given a new membership in to, moved with
 * move (store_copy.c). expunge_part_txn: (mailbox, uid) removed, the
 * email with its last membership (store_expunge.c).
 */
int kw_part_txn(struct store *st, MDB_txn *txn, const struct store_kw_actor *as, uint32_t account,
		uint32_t mailbox, uint32_t uid, const char *set, const char *add,
		const char *remove, uint64_t join);
int copy_part_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t from,
		  uint32_t uidvalidity, uint32_t uid, uint32_t to, int move, uint64_t join);
int expunge_part_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox,
		     uint32_t uidvalidity, uint32_t uid, uint64_t join);

#endif
