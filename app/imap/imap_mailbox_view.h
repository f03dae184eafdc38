/*
 * imap_mailbox_view.h — the selected mailbox as one IMAP session sees it.
 *
 * Design: IMAP numbers messages 1..n and those numbers may only change at
 * moments the client can follow (an untagged EXPUNGE or EXISTS). So a
 * session does not read the store's live list for each command: it keeps
 * a snapshot — the UIDs in ascending order, with the email id, size and
 * internal date of each — and message sequence number s is msgs[s - 1].
 * imap_view_sync() re-reads the mailbox at the moments the session chooses
 * (NOOP, CHECK, IDLE), compares, updates the snapshot and writes the
 * untagged responses that tell the client what changed.
 *
 * The snapshot is refreshed only when the account's modseq moved since
 * the last read, so a NOOP loop on a quiet mailbox costs one small read
 * transaction; and then from the change log (the messages named by
 * changes since), not by reading the whole mailbox again. A SELECT of
 * the mailbox already selected refreshes the snapshot the same way.
 *
 * Each message carries its flags (the email's keywords) as last read or
 * as set by this session's own STORE. Caveats: the view is read on the session's loop
 * (LMDB read transactions are cheap); a mailbox of a million messages
 * costs about 24 MB here.
 */
#ifndef TERN_IMAP_IMAP_MAILBOX_VIEW_H
#define TERN_IMAP_IMAP_MAILBOX_VIEW_H

#include <stdint.h>

#include "core/buf.h"

struct store;

struct imap_msg {
	uint32_t uid;
	uint32_t email_id;
	uint32_t object_id;  /* EMAILID: email_id, or a COPY's source's */
	uint64_t size;
	int64_t received_at; /* seconds since the epoch: INTERNALDATE */
	uint64_t modseq;     /* the email's last change */
	int64_t saved_at;    /* SAVEDATE: when it entered this mailbox */
	uint32_t thread_id;  /* THREADID */
	int32_t dg_delta;    /* IMAP_DG_SIZED: what the downgrade adds to size */
	char *kw;            /* keywords other than the system flags, space-separated,
			      * malloc'ed; NULL when none */
	uint8_t flags;       /* IMAP_F_* */
	uint8_t dg;          /* IMAP_DG_*: its size for a session without UTF-8 */
	int16_t zone;        /* INTERNALDATE's zone, minutes east of UTC */
};

/* imap_msg.dg: whether a session without UTF-8 (imap_downgrade.h) sees
 * the message at another size, from its MIME record (mime_cache.h). */
enum {
	IMAP_DG_UNKNOWN, /* the record cannot tell: read the message */
	IMAP_DG_NONE,    /* no UTF-8 header field: sent as stored */
	IMAP_DG_UTF8,    /* downgraded, size not yet worked out */
	IMAP_DG_SIZED,   /* downgraded, size + dg_delta octets */
};

/* RFC822.SIZE as a session sees it (FETCH, SEARCH LARGER/SMALLER, SORT
 * SIZE): for one without UTF-8 (ascii), the downgraded size once worked
 * out (imap_view_size_downgrades()). */
static inline uint64_t imap_msg_size(const struct imap_msg *m, int ascii)
{
	return ascii && m->dg == IMAP_DG_SIZED ? (uint64_t)((int64_t)m->size + m->dg_delta)
					       : m->size;
}

/* System flags, stored as the keywords $seen $answered ... (store.h). */
#define IMAP_F_ANSWERED 1u
#define IMAP_F_FLAGGED 2u
#define IMAP_F_DELETED 4u
#define IMAP_F_SEEN 8u
#define IMAP_F_DRAFT 16u

/* Octets of announced keywords a view keeps before it drops those no
 * message of it carries any more (imap_view_kw_learn()). */
#define IMAP_VIEW_KWNAMES_MAX 2048
/* Runs of \Recent uids a view keeps (struct imap_mailbox_view). */
#define IMAP_VIEW_RECENT_RUNS 8

struct imap_mailbox_view {
	uint32_t account, mailbox;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;      /* the account's modseq when last read */
	int readonly;         /* EXAMINE: no flag changes, no expunge */
	uint32_t lacks;       /* the RFC 4314 rights the user lacks on it (STORE_ACL_*):
			       * 0 on its own mailbox, so a zeroed view lacks none */
	unsigned examined : 1; /* opened by EXAMINE: read-only whatever the rights */
	uint64_t highest_modseq; /* the mailbox's, as last read (CONDSTORE) */
	unsigned condstore : 1;  /* sync: MODSEQ in FETCH FLAGS lines (RFC 7162) */
	unsigned qresync : 1;    /* sync: VANISHED instead of EXPUNGE, UID in FETCH */
	unsigned uidonly : 1;    /* sync: VANISHED, and UIDFETCH instead of FETCH (RFC 9586) */
	/* imap_view_sync_flags() left expunges or new messages for the next
	 * full sync: highest_modseq is below them (RFC 7162 §3.2: a CONDSTORE
	 * session is told that value after FETCH MODSEQ lines above it). */
	unsigned held : 1;
	struct imap_msg *msgs; /* ascending UIDs; owned */
	uint32_t count, cap;
	/* Keywords announced in FLAGS / PERMANENTFLAGS (RFC 9051 §7.3.5),
	 * space-separated, each in the case first seen; malloc'ed (kwnames_cap
	 * octets), not NUL-terminated. Every keyword a response shows is in
	 * it, however many there are: a client may not see a keyword FLAGS did
	 * not list. Bounded by the messages' own keywords: once it passes
	 * kwnames_keep twice (IMAP_VIEW_KWNAMES_MAX at least) it is rebuilt
	 * from the keywords the messages carry. A snapshot (imap_view_cache.h)
	 * keeps none: SELECT builds the list afresh. */
	char *kwnames;
	size_t kwnames_len, kwnames_cap;
	size_t kwnames_keep; /* kwnames_len after the last rebuild */
	/* IMAP \Recent (RFC 3501 §2.3.2) for IMAP4rev1 sessions: runs of
	 * uids [lo, hi) this session claimed at SELECT (or saw at EXAMINE)
	 * and as new mail came, ascending; none when show_recent is 0. A
	 * claim that does not touch the last run is a run of its own (another
	 * session was told of the messages between first); past
	 * IMAP_VIEW_RECENT_RUNS runs a claim is not taken (cmd_select.c). */
	uint32_t recent[IMAP_VIEW_RECENT_RUNS][2];
	uint8_t nrecent;
	unsigned show_recent : 1;
};

/* UIDs a sync told the flags of (xrealloc'ed uids; free it). */
struct imap_view_told {
	uint32_t *uids;
	size_t n, cap;
};

/*
 * Reads mailbox of account into a fresh view *v (zeroed first): from a
 * snapshot another session closed, brought up to date, when there is
 * one (imap_view_cache.h), else the whole mailbox.
 * Returns STORE_OK, STORE_ENOTFOUND (no such mailbox) or STORE_ETEMP.
 * On error *v holds nothing to free.
 */
int imap_view_load(struct imap_mailbox_view *v, struct store *st, uint32_t account,
		   uint32_t mailbox);

/* Frees what v owns and zeroes it. */
void imap_view_free(struct imap_mailbox_view *v);
/*
 * As imap_view_free(), and the snapshot is kept for the next session that
 * SELECTs the mailbox (imap_view_cache.h). For views of st only.
 */
void imap_view_close(struct imap_mailbox_view *v, struct store *st);

/*
 * Brings v up to date with the store and appends to out the untagged
 * responses that describe the change: "* n EXPUNGE" for each message gone
 * (highest sequence number first, so the numbers the client holds stay
 * right while it applies them), FETCH FLAGS of messages others changed
 * (after FLAGS / PERMANENTFLAGS when they bring a new keyword), and then
 * "* n EXISTS" when messages came (not for expunges alone: each EXPUNGE
 * already lowered the client's count). Does nothing when the account did
 * not change.
 * The UIDs whose FETCH FLAGS it wrote are added to *told, ascending,
 * when told is given.
 * Returns 0, or -1 on a store error (v unchanged), or IMAP_VIEW_FULL when
 * out is full (v moved on and out holds a prefix: the caller sends none of
 * it and ends the session, imap_session_too_much()), or -2 when
 * the mailbox no longer exists (deleted by another session; v unchanged),
 * or -3 when it has another UIDVALIDITY than v (tern import or migrate
 * gave the empty mailbox a source's: its UIDs start again at 1, so no
 * EXPUNGE or EXISTS can describe the change; v unchanged, nothing in out).
 */
#define IMAP_VIEW_FULL (-4)
int imap_view_sync(struct imap_mailbox_view *v, struct store *st, struct buf *out,
		   struct imap_view_told *told);

/*
 * As imap_view_sync(), but only the flag changes of messages v holds
 * ("* n FETCH (FLAGS ...)"), for FETCH, STORE and SEARCH, during which an
 * EXPUNGE may not be sent and the numbers must stay (RFC 9051 §7.5.1).
 * Expunges and new messages are left for the next imap_view_sync() (v->held
 * set); with CONDSTORE the flag changes are told with their MODSEQ all the
 * same, and the command then says "* OK [HIGHESTMODSEQ n]" with the view's
 * highest, below the held-back expunges (imap_view_held_line()): a client
 * that resyncs from it is told them again (RFC 7162 §3.2, erratum 1810, as
 * Dovecot does). Before, such a session answered FETCH FLAGS with flags
 * another session had changed.
 * A change log longer than imap_view_sync() reads is left whole.
 * The UIDs whose flags it told are added to *told as imap_view_sync()
 * does.
 * Returns 0, 1 when it told MODSEQs with expunges held back, or
 * IMAP_VIEW_FULL when out is full (as imap_view_sync()).
 */
int imap_view_sync_flags(struct imap_mailbox_view *v, struct store *st, struct buf *out,
			 struct imap_view_told *told);
/* Appends "* OK [HIGHESTMODSEQ n] ..." when v is CONDSTORE and held (see
 * above): before the tagged OK of a FETCH or STORE that gave MODSEQs.
 * -1 when out is full. */
int imap_view_held_line(const struct imap_mailbox_view *v, struct buf *out);

/*
 * As imap_view_sync() without responses: brings v up to date (SELECT of
 * the mailbox that is selected already, CLOSE). Same results: on -3 the
 * caller reads the mailbox afresh (imap_view_load) or leaves it.
 */
int imap_view_refresh(struct imap_mailbox_view *v, struct store *st);

/* Sets m's flags and keywords from the store's keyword text. */
void imap_msg_set_keywords(struct imap_msg *m, const char *kw, size_t len);
/* Appends "(\\Seen kw ...)" for m of v to out, with \\Recent when v shows
 * it for m (v may be NULL: none). -1 when out is full. */
int imap_msg_flags_append(const struct imap_mailbox_view *v, const struct imap_msg *m,
			  struct buf *out);
/* 1 when v shows m as \\Recent. */
int imap_view_recent(const struct imap_mailbox_view *v, const struct imap_msg *m);
/* How many messages of v are \Recent to it (0 unless show_recent). */
uint32_t imap_view_recent_count(const struct imap_mailbox_view *v);
/* Those of them with a UID below `below`. */
uint32_t imap_view_recent_below(const struct imap_mailbox_view *v, uint32_t below);
/* The store keyword of a system flag name ("\\Seen" -> "$seen"), or NULL. */
const char *imap_flag_keyword(struct str flag);

/*
 * Adds m's keywords that v has not announced yet (compared in any case) to
 * v->kwnames; m must be one of v's messages. When the list would grow past
 * its bound it is first rebuilt from the keywords v's messages carry
 * (those no message has any more are dropped). Returns 1 when the list
 * changed: the caller then sends imap_view_flags_lines() before any
 * response that shows m's keywords.
 */
int imap_view_kw_learn(struct imap_mailbox_view *v, const struct imap_msg *m);
/* Drops every announced keyword and learns those of v's messages. */
void imap_view_kw_reset(struct imap_mailbox_view *v);
/*
 * Rewrites, in place, each keyword of the space-separated list kw[0..n)
 * that v has announced in another case to the announced spelling.
 */
void imap_view_kw_canon(const struct imap_mailbox_view *v, char *kw, size_t n);
/*
 * Appends "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" (empty for a
 * read-only view) with the system flags and v's announced keywords. The
 * lines bring their own room: out's ceiling is raised by what they take
 * (a sync cannot know beforehand how many keywords it will learn; the
 * list itself is bounded, see kwnames). -1 only on overflow of size_t.
 */
int imap_view_flags_lines(const struct imap_mailbox_view *v, struct buf *out);

/* The sequence number (1..count) of uid, or 0 when it is not in the view. */
uint32_t imap_view_seq(const struct imap_mailbox_view *v, uint32_t uid);

/* Index of the first message whose UID is >= uid (count when none). */
uint32_t imap_view_lower_bound(const struct imap_mailbox_view *v, uint32_t uid);

/* The highest UID in the view, 0 when empty. */
uint32_t imap_view_last_uid(const struct imap_mailbox_view *v);

#endif
