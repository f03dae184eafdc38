/*
 * imap_session.h — the IMAP session, shared by imap_session.c (accept,
 * input, literals, timers, shutdown, the change feed), imap_cmd.c (the
 * command table and dispatch) and the cmd_*.c handlers.
 *
 * State: enum imap_state is the RFC's connection state (not
 * authenticated, authenticated, selected, logout). What the session waits
 * for besides the next command is enum imap_wait: a password check on the
 * worker pool or the failure delay (input paused), an AUTHENTICATE
 * continuation line, IDLE's DONE. Long output
 * (FETCH bodies, big SEARCH results) is produced in steps: s->fetch or
 * s->pend say what is still to send, and imap_session_input() adds more
 * whenever the output buffer drained below IMAP_OUT_HIGH, so the output
 * buffer never holds more than IMAP_OUT_MAX whatever the message size.
 *
 * Commands: each handler gets the parsed command (struct imap_cmd, in
 * s->cmd_arena) and either answers at once with imap_tagged() or starts
 * something that answers later. The arena lives until the command ended
 * (imap_cmd_end()), so a streamed FETCH may keep pointers into it.
 *
 * Store writes (STORE, EXPUNGE, CLOSE, mailbox management, FETCH's
 * implicit \Seen) run on the worker pool as a struct imap_job
 * (imap_job.c) while the session waits in IMAP_W_STORE. ENVELOPE, BODYSTRUCTURE, part sections, BINARY and text SEARCH read the
 * MIME structure cached with each email (mime/mime_cache.h).
 */
#ifndef TERN_IMAP_IMAP_SESSION_H
#define TERN_IMAP_IMAP_SESSION_H

#include <stdint.h>

#include "auth/sasl.h"
#include "auth/session_watch.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/worker.h"
#include "imap/imap_downgrade.h"
#include "imap/imap_mailbox_view.h"
#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "store/store.h"

struct config;
struct conn;
struct loop;

#define IMAP_IN_MAX 16384
#define IMAP_OUT_MAX 262144
/* Stop adding output (commands, stream chunks) above this many octets. */
#define IMAP_OUT_HIGH 65536
/* Prepared output waiting behind IMAP_OUT_HIGH (s->pend): past it the session ends. */
#define IMAP_PEND_MAX (64u * 1024 * 1024)
/* One "* n FETCH (UID n FLAGS (...) MODSEQ (n))" line at its longest,
 * as the store lets a message be: STORE_KEYWORDS_MAX keywords of
 * STORE_KEYWORD_MAX octets each after a space, then \Recent, the system
 * flags, the numbers and the fixed text (under 160 octets). */
#define IMAP_FLAGS_LINE_MAX (STORE_KEYWORDS_MAX * (STORE_KEYWORD_MAX + 1) + 256)
/* A VANISHED (EARLIER) line at its longest, CRLF included: a longer set
 * goes as several (imap_write_vanished_earlier()). Past RFC 2683's 8000
 * octets a client may keep for a line, well under any buffer's ceiling. */
#define IMAP_VANISHED_LINE_MAX 8192u

/* The ceiling of a sync's (or a STORE's) output for n messages: such a
 * line each (an EXPUNGE or a VANISHED number is shorter) and a few lines
 * after them, but never past IMAP_PEND_MAX, which no output gets past
 * anyway (imap_write_big() ends the session): one sync's worth, bounded. */
static inline size_t imap_sync_out_max(size_t n)
{
	return n >= (IMAP_PEND_MAX - 4096) / IMAP_FLAGS_LINE_MAX ? IMAP_PEND_MAX
								 : n * IMAP_FLAGS_LINE_MAX + 4096;
}
/* RFC 9051 §5.4: at least 30 minutes of inactivity before autologout. */
#define IMAP_AUTOLOGOUT_MS (30u * 60u * 1000u)
#define IMAP_MAX_ERRORS 20 /* bad commands before "* BYE" (Dovecot's count) */
#define IMAP_USER_MAX 320  /* an address: 64 + 1 + 255 */
#define IMAP_PASS_MAX 1024
/* Literal budgets: before login only a user name or password fits; after
 * it a literal is a mailbox name or a search string (no APPEND yet). */
#define IMAP_LITERAL_PREAUTH 4096
#define IMAP_LITERAL_MAX 65536
#define IMAP_COMMAND_MAX (256u * 1024u)
#define IMAP_MAX_RANGES 10000 /* ranges in one sequence set */
/* A command may carry this many APPENDLIMITs of literals (MULTIAPPEND). */
#define IMAP_APPEND_COMMAND_FACTOR 4

enum imap_state {
	IMAP_S_NOT_AUTH,
	IMAP_S_AUTH,
	IMAP_S_SELECTED,
	IMAP_S_LOGOUT, /* final reply queued, closing */
};

enum imap_wait {
	IMAP_W_NONE,
	IMAP_W_AUTH,     /* password check on a worker, or the failure delay */
	IMAP_W_SASL,     /* AUTHENTICATE: waiting for a continuation line */
	IMAP_W_IDLE,     /* IDLE: waiting for DONE */
	IMAP_W_STORE,    /* a store write on the worker pool (imap_job.c) */
};

struct login_held;

struct imap_append;
struct login;
struct imap_fetch;
struct imap_job;

struct imap_session {
	char id[20];
	struct conn *conn;
	struct loop *loop;
	enum imap_state state;
	enum imap_wait wait;
	struct imap_parser parser;
	struct arena *cmd_arena;
	char tag[IMAP_TAG_MAX + 1]; /* of the command under way */
	enum imap_cmd_id cmd_id;    /* of the command under way */
	int in_cmd;                 /* a command was dispatched and has not ended */
	unsigned errors;
	int starttls_pending; /* STARTTLS answered, waiting for the switch */
	int conn_gone;
	int draining;
	int limited;  /* holds a connection-limit slot */
	int flushing; /* inside imap_flush: freeing waits for it */
	int greeted;
	const char *refused; /* limit reached: the BYE text sent instead of a greeting */
	uint64_t idle_timer;

	/* authentication */
	struct sasl_login sasl;      /* AUTHENTICATE's exchange (auth/sasl.h) */
	/* SCRAM's proof held: the login waits for the client's empty
	 * response to the server-final challenge (cmd_login.c). */
	struct login_held *scram_ok;
	struct login *auth;         /* in flight (auth/login.h) */
	struct imap_job *job;       /* store write in flight (imap_job.c) */
	struct imap_append *append; /* APPEND in flight (cmd_append.c) */
	uint64_t append_bytes;      /* literal octets of the APPEND being read */
	char login[IMAP_USER_MAX + 1];
	uint32_t account;
	struct session_watch watch;  /* ends us when the credentials change */

	/* UIDs whose flags the syncs of the STORE under way told,
	 * ascending: a .SILENT STORE tells their flags after it too
	 * (cmd_store.c). */
	struct imap_view_told told;

	/* ENABLEd or implied extensions (cmd_enable.c) */
	unsigned condstore : 1, qresync : 1;
	unsigned rev2 : 1; /* ENABLE IMAP4rev2: no RECENT, ESEARCH answers, [CLOSED] */
	unsigned utf8 : 1; /* ENABLE UTF8=ACCEPT or IMAP4rev2: UTF-8 mailbox names */
	unsigned utf8_enabled : 1; /* UTF8=ACCEPT itself was enabled */
	/* ENABLE UIDONLY (RFC 9586): no message numbers in commands (BAD
	 * [UIDREQUIRED]) or responses (UIDFETCH, VANISHED). */
	unsigned uidonly : 1;
	/* MESSAGELIMIT (RFC 9738): the lowest UID the command under way
	 * worked on when it left older ones out; imap_tagged() then adds
	 * [MESSAGELIMIT n uid] to its OK. 0: nothing left out. */
	uint32_t msglimit_uid;

	/* change feed (subscribed while authenticated) */
	struct store_sub sub;
	int subscribed;
	/* The selected mailbox's owner's feed, when that is another account
	 * (a shared mailbox, imap_acl.h): its changes are synced as ours. */
	struct store_sub view_sub;
	int view_subscribed;

	/* selected mailbox */
	struct imap_mailbox_view view; /* valid in IMAP_S_SELECTED */
	/* SEARCHRES (RFC 5182): the saved result "$" as UIDs, ascending,
	 * malloc'ed; expunged ones simply no longer map to a message */
	uint32_t *saved_uids;
	size_t saved_n;
	int search_esearch; /* IMAP4rev2: plain SEARCH answers ESEARCH */
	struct imap_context *contexts; /* SEARCH RETURN (UPDATE) kept up to date */
	struct imap_notify *notify;    /* NOTIFY SET in effect, or NULL */
	struct imap_search_run *search; /* SEARCH going in steps (cmd_search.c) */
	int notify_pending;            /* a change came while a command ran */
	int feed_pending; /* a change came while output waited unread (feed_changed) */

	/* output produced in steps */
	struct imap_fetch *fetch; /* FETCH being streamed */
	struct buf pend;          /* prepared output not yet in the conn */
	int out_midline;          /* the last octet written was not a LF */
	int bye_said;             /* imap_session_bye() ended it: no more output */
	unsigned fetched;         /* messages with a body sent, for the log */

	struct imap_session *prev, *next; /* per-loop list */
};

extern const struct config *imap_cfg;
extern struct store *imap_store;

/* imap_session.c */
/* Queues a line (CRLF added); closes the session if output overflows. */
void imap_reply(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "TAG <status> <text>" for the command under way (CRLF added). */
void imap_tagged(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues raw bytes, behind what waits in s->pend: every writer goes
 * through here or imap_write_big(), so output leaves in the order made. */
void imap_write(struct imap_session *s, const char *p, size_t n);
/* Queues output of any size: what does not fit now is sent as the
 * connection drains, before anything else. */
void imap_write_big(struct imap_session *s, const char *p, size_t n);
/* Enters LOGOUT and closes after the queued output left. */
void imap_close_with(struct imap_session *s, const char *reason);
/* Ends the session with line ("* BYE ...", no CRLF; a string that outlives
 * the call is not needed): drops the output still waiting in s->pend,
 * which a closing session never sends, writes line to the connection (on
 * a line of its own, after a CRLF if the output stopped mid-line), then
 * closes as imap_close_with(s, reason). Output after it is dropped. Nothing
 * when the peer is gone or a BYE was said already. */
void imap_session_bye(struct imap_session *s, const char *line, const char *reason);
/* The untagged answers about n messages (a sync, a STORE) did not fit in
 * imap_sync_out_max(): logs it, sends "* BYE" and closes, having sent none
 * of them (the session's view is gone with it; the store is untouched). */
void imap_session_too_much(struct imap_session *s, size_t n);
/* Counts a client error; after too many, "* BYE" and close. 1 when closing. */
int imap_session_error(struct imap_session *s);
/* Ends the command under way: frees its arena. */
void imap_cmd_end(struct imap_session *s);
/* Runs buffered input and pending output until one of them must wait. */
void imap_session_input(struct imap_session *s);
/* Frees the session once the conn is gone and no job points to it. */
void imap_session_free(struct imap_session *s);
/* conn_flush() for code outside the conn's callbacks; s may be gone after. */
void imap_flush(struct imap_session *s);
/* 1 when the connection is TLS (implicit or after STARTTLS). */
int imap_secure(const struct imap_session *s);
/* Logged in: subscribes to the account's change feed. */
void imap_session_logged_in(struct imap_session *s);
/* Syncs the selected mailbox and queues untagged EXISTS/EXPUNGE. With
 * QRESYNC, when messages came or went and HIGHESTMODSEQ moved, "* OK
 * [HIGHESTMODSEQ n]" follows: nothing else tells the value an expunge or
 * an arrival moved it to, the one the client resynchronises from next
 * (RFC 7162 §3.2.10; Dovecot does the same). */
void imap_session_sync(struct imap_session *s);
/* The same without that line, for EXPUNGE and MOVE, whose tagged OK
 * carries it. */
void imap_session_sync_quiet(struct imap_session *s);
/* Queues other sessions' flag changes only (imap_view_sync_flags()): for
 * FETCH, STORE, SEARCH, SORT and THREAD, which may not send EXPUNGE. Not
 * with CONTEXT or NOTIFY, which follow the full syncs. 1 when it told
 * MODSEQs with expunges held back (imap_session_held_line() then). */
int imap_session_sync_flags(struct imap_session *s);
/* 1 when a sync of the STORE under way told uid's flags; each command
 * starts with none (imap_session_told_clear()). */
int imap_session_told(const struct imap_session *s, uint32_t uid);
void imap_session_told_clear(struct imap_session *s);
/* "* OK [HIGHESTMODSEQ n]" below held-back expunges (imap_view_held_line()),
 * before the tagged OK of a FETCH or STORE; nothing when none is held. */
void imap_session_held_line(struct imap_session *s);
/* Leaves the selected state (CLOSE, UNSELECT, a new SELECT). */
void imap_session_unselect(struct imap_session *s);
/* After a SELECT: subscribes to the view owner's change feed when that
 * is another account, so its changes reach this session (IDLE, NOOP)
 * as the account's own do. imap_session_unselect() ends it. */
void imap_session_watch_view(struct imap_session *s);
/* Subscribes sub to account's change feed for s: each change there
 * wakes s as its own account's do (IDLE, NOTIFY). The caller keeps sub
 * in place and store_unsubscribe()s it. */
void imap_session_watch_account(struct imap_session *s, struct store_sub *sub, uint32_t account);

/* imap_cmd.c */
/* Runs a complete command (p->cmd). */
void imap_dispatch(struct imap_session *s, const struct imap_cmd *cmd);
/* The CAPABILITY list for s's current state, without a leading space. */
const char *imap_capabilities(const struct imap_session *s);

/* cmd_login.c (LOGIN and the check shared with AUTHENTICATE) */
void imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd);
/* The tagged reply to a cancelled AUTHENTICATE (Dovecot's words). */
#define IMAP_AUTH_ABORTED "BAD Authentication aborted by client."
/*
 * Hands user/pass to the shared login flow and answers the command when it
 * ends; malformed (non-NULL) is why they cannot succeed ("malformed",
 * "authzid", LOGIN_ABORTED: answered IMAP_AUTH_ABORTED), and the attempt
 * fails like a wrong password. scram (non-NULL, copied): pass is the
 * client-final message of that SCRAM exchange. mech is the log's name.
 */
void imap_auth_begin(struct imap_session *s, const char *mech, struct str user, struct str pass,
		     const char *malformed, const struct scram_server *scram);
/* The client's response to SCRAM's server-final challenge: empty, the
 * login completes (tagged OK); anything else abandons it. */
void imap_auth_scram_ack(struct imap_session *s, struct str line);
/* 0 over TLS; else replies NO [PRIVACYREQUIRED] and returns -1. */
int imap_auth_require_tls(struct imap_session *s);
/* Session end: abandons a login in flight (and a SCRAM exchange), stops
 * watching the credentials. */
void imap_auth_cancel(struct imap_session *s);

/* cmd_authenticate.c */
void imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd);
void imap_sasl_line(struct imap_session *s, struct str line);

/* cmd_enable.c: turns CONDSTORE on (ENABLE, or a command that uses it). */
void imap_session_condstore(struct imap_session *s);
/* A mailbox's highest modseq as CONDSTORE shows it: at least 1 (RFC 7162
 * mod-sequence-value; see SCHEMA.md for the one case where 1 is not exact). */
static inline uint64_t imap_highest_modseq(uint64_t m) { return m ? m : 1; }

/* one handler per command with logic */
void imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd); /* LIST, LSUB */
void imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd); /* and EXAMINE */
/* After a view sync that brought messages above last_uid (the highest UID
 * before it): in an IMAP4rev1 session, the mailbox's unclaimed recent
 * ones become this session's \Recent (claimed as SELECT claims, unless
 * read-only) and "* n RECENT" is appended to out (cmd_select.c). 1 when
 * it appended RECENT, else 0. */
int imap_select_recent_sync(struct imap_session *s, uint32_t last_uid, struct buf *out);
/*
 * The selected mailbox's rights as its owner grants them now (a mailbox
 * shared with the user, imap_acl.h; nothing to do for an own one), read
 * before each command, and before a change feed's news is told outside
 * a command (IDLE, NOTIFY; feed_changed() in imap_session.c): a SETACL
 * or DELETEACL since SELECT applies from the user's next command or the
 * owner's next change. Without "r" the session ends with BYE, as
 * when the owner deletes the mailbox: -1 then. Another change of rights
 * is told as FLAGS and PERMANENTFLAGS, and the commands ask the new ones.
 * 0 otherwise (also when the store cannot be read: the rights stay).
 */
int imap_select_rights_check(struct imap_session *s);
/* Writes "* VANISHED (EARLIER) uids" (RFC 7162 §3.2.5, §3.2.6) for the
 * ascending uids[0..n), runs as ranges; nothing when n is 0. For SELECT's
 * QRESYNC and UID FETCH's VANISHED modifier (cmd_select.c). */
void imap_write_vanished_earlier(struct imap_session *s, const uint32_t *uids, size_t n);
void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd);  /* and UID FETCH */
void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd); /* and UID SEARCH */
void imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd);
void imap_idle_line(struct imap_session *s, struct str line);
/* A change arrived while idling: send it now. */
void imap_idle_notify(struct imap_session *s);

/* imap_fetch.c: a FETCH under way, built by cmd_fetch.c */
enum imap_fetch_kind {
	IMAP_FI_UID,
	IMAP_FI_FLAGS,
	IMAP_FI_MODSEQ, /* CONDSTORE: "MODSEQ (n)" */
	IMAP_FI_INTERNALDATE,
	IMAP_FI_RFC822_SIZE,
	IMAP_FI_BODY, /* BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER, RFC822.TEXT */
	IMAP_FI_ENVELOPE,
	IMAP_FI_BODYSTRUCTURE,
	IMAP_FI_BODY_STRUCT, /* BODY without a section: non-extensible BODYSTRUCTURE */
	IMAP_FI_BINARY,      /* BINARY[...], BINARY.PEEK[...]: decoded part */
	IMAP_FI_BINARY_SIZE, /* BINARY.SIZE[...] */
	IMAP_FI_EMAILID,     /* OBJECTID (RFC 8474) */
	IMAP_FI_THREADID,
	IMAP_FI_SAVEDATE,    /* RFC 8514 */
	IMAP_FI_PREVIEW,     /* RFC 8970 */
};

/*
 * OBJECTID (RFC 8474) spellings: the ids JMAP gives the same objects
 * (app/jmap/jmap.h), so that a client using both protocols, or a Sieve
 * script's fileinto :mailboxid (RFC 9042), sees one id for one object, as
 * JMAPACCESS (RFC 9698) requires. MAILBOXID is the store's mailbox id:
 * kept across RENAME (RENAME INBOX makes a new mailbox, with a new id),
 * never reused within the account, and kept by a restore (the restored
 * mailbox is the same one; its UIDVALIDITY changes instead). JMAP's ids
 * were chosen over IMAP's because JMAP clients keep them (every Email's
 * mailboxIds, /changes) while an IMAP client that sees a new MAILBOXID
 * only fetches that mailbox again. Earlier builds gave the UIDVALIDITY as
 * MAILBOXID; Sieve still takes that spelling where it can name no other
 * mailbox (deliver_sieve.c). EMAILID and THREADID are the account's email
 * and thread ids (never reused within the account; a new account's start
 * above every deleted one's, store_admin.c, so an address deleted and made
 * again shows no old EMAILID for a new message).
 * Caveat: mailbox ids are per account, so an address deleted and made
 * again starts again from M00000001 (INBOX is mailbox 1, STORE_INBOX_ID);
 * its UIDVALIDITYs are new, which tells a client its cache is gone.
 */
#define IMAP_MAILBOXID_FMT "M%08x"
#define IMAP_EMAILID_FMT "E%08x"
#define IMAP_THREADID_FMT "T%08x"

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	const char *name;              /* in the response: "BODY[HEADER]<0>", "RFC822" */
	enum imap_section_text text;   /* BODY: WHOLE, HEADER, HEADER_FIELDS(_NOT), TEXT */
	const struct imap_arg *fields; /* HEADER.FIELDS[.NOT]: END-terminated */
	const uint32_t *part;          /* section part numbers (command arena) */
	size_t nparts;
	int partial;
	uint64_t offset, length;
	int implicit; /* FLAGS added for the implicit \Seen: only where it changed */
};

struct imap_fetch {
	struct imap_fetch_item *items; /* in the command arena */
	size_t nitems;
	int uid_mode, need_raw;
	int has_modseq; /* MODSEQ is among the items already */
	int need_tree;         /* some item needs the MIME structure */
	int ascii;             /* neither UTF8=ACCEPT nor IMAP4rev2: the message's
	                        * header sections go out downgraded (RFC 6855) */
	int has_size;          /* RFC822.SIZE is among the items */
	int dg_want;           /* current message: build dg (ascii, and its
	                        * record does not rule UTF-8 headers out) */
	struct imap_dg dg;     /* current message as sent (imap_downgrade.h);
	                        * literals of stored octets go through it */
	struct arena *arena;   /* the current message's MIME tree (need_tree) */
	unsigned char *how;    /* per item: how its octets are sent (imap_fetch.c) */
	int msg_unknown_cte;   /* current message: a BINARY part we cannot decode */
	unsigned unknown_cte;  /* messages left out for that */
	struct imap_seqset set;
	size_t range; /* next range of set */
	uint64_t next;  /* next sequence number, or view index (UID mode) */
	/* the message being sent */
	int in_msg;
	uint32_t cur; /* view index */
	size_t item;  /* next item */
	uint64_t *start, *len; /* per item: the octets of the message to send */
	char **mem;            /* per item: built text (HEADER.FIELDS), or NULL */
	int lit;               /* item whose literal is being sent, or -1 */
	uint64_t lit_pos, lit_left;
	struct store_hold hold; /* the current message's bytes, while it is sent */
	unsigned expunged; /* messages gone from the store before they were sent */
	uint64_t changedsince; /* CHANGEDSINCE: only messages with a higher modseq */
	uint32_t min_uid;      /* MESSAGELIMIT: only messages from this UID on */
	uint32_t *seen_uids;   /* UIDs the implicit \Seen changed, ascending (malloc'ed) */
	size_t nseen;
	/* NOTIFY MessageNew's fetch: no command, no tagged reply at the end
	 * (imap_notify.c); items and set live in own, freed with f. */
	unsigned unsolicited : 1;
	struct arena *own;
};

/* imap_fetch.c */
/* Offset just past the empty line that ends a message's header (len when
 * there is none): BODY[HEADER] and BODY[TEXT] of the whole message. */
uint64_t imap_header_end(const char *d, size_t len);
/* HEADER.FIELDS(.NOT) of the header d[0..hlen) with the field names of
 * fields (astrings, END-terminated): mime_header_filter(), the one
 * filter, given the names; malloc'ed, *len_r its length. FETCH and
 * CATENATE's URLs share it. */
char *imap_header_filter(const char *d, uint64_t hlen, const struct imap_arg *fields, int not,
			 uint64_t *len_r);
/*
 * Adds to f (items allocated for FETCH_MAX_ITEMS + 4) the items of a
 * FETCH argument a: one item, a list of them, or FAST/ALL/FULL; with uid,
 * a UID item is left out (the caller puts it first). 0, or -1 after a
 * tagged BAD (naming NOTIFY while NOTIFY runs, else FETCH).
 */
int imap_fetch_items(struct imap_session *s, struct imap_fetch *f, const struct imap_arg *a,
		     int uid);
#define IMAP_FETCH_ITEMS_ROOM (64 + 4) /* items a struct imap_fetch needs room for */
/* Takes f (malloc'ed; items in the command arena), sends what fits, and
 * goes on from imap_session_input() until the tagged reply is sent (no
 * reply and no command end for f->unsolicited). */
void imap_fetch_start(struct imap_session *s, struct imap_fetch *f);
/* Notes in g's message (view index idx) its downgraded size (IMAP_DG_SIZED,
 * or IMAP_DG_NONE when nothing changes). */
void imap_view_note_downgrade(struct imap_session *s, uint32_t idx, const struct imap_dg *g);
/* For a session without UTF-8: works out the downgraded size of every
 * message of the view in [from, to) whose record does not rule it out,
 * reading it once (imap_msg_size() then gives it). Nothing with UTF-8. */
void imap_view_size_downgrades(struct imap_session *s, uint32_t from, uint32_t to);
/* What the downgrade adds to the stored sizes of account's emails
 * ids[0..n), summed (may be negative): STATUS SIZE for a session
 * without UTF-8. Each is read and measured once, then kept
 * (imap_dg_cache.h). An email gone meanwhile adds nothing. */
int64_t imap_dg_size_delta(uint32_t account, const uint32_t *ids, size_t n);
/* Adds FETCH output while below IMAP_OUT_HIGH; s->fetch is NULL when done. */
void imap_fetch_refill(struct imap_session *s);
/* Drops a FETCH under way (session end). */
void imap_fetch_free(struct imap_session *s);

/* imap_job.c: store writes on the worker pool */
/* imap_progress.c: INPROGRESS (RFC 9585) */
/* Messages one step of a long command looks at before the loop serves
 * others again (SEARCH, SORT, THREAD); COPY and MOVE of more report. */
#define IMAP_STEP 1000
/* After the first report, at most one report this often. */
#define IMAP_PROGRESS_MS 1000
struct imap_progress {
	const char *what;  /* "Searching", "Copying", ... */
	uint64_t last_ms;  /* when the last report went out; 0: never */
};
/* Writes "* OK [INPROGRESS ("tag" done total)] what." unless one went
 * out less than IMAP_PROGRESS_MS ago or the connection is gone. */
void imap_progress(struct imap_session *s, struct imap_progress *p, uint64_t done, uint64_t total);

struct imap_job {
	struct worker_job wj;
	struct imap_session *s;
	void (*run)(struct imap_job *j);                          /* on a worker */
	void (*start)(struct imap_job *j); /* instead of run: on the loop, starts an
					    * async store write whose callback is
					    * imap_job_store_done(j) */
	void (*done)(struct imap_session *s, struct imap_job *j); /* on the loop */
	int result;
	uint32_t account, mailbox, uidvalidity;
	uint32_t *uids; /* malloc'ed, freed with the job */
	size_t n;
	int op, silent, uid_mode;
	char *keywords; /* malloc'ed */
	uint64_t unchangedsince;
	struct store_kw_result *res; /* malloc'ed, n entries */
	size_t removed;
	uint64_t modseq;
	char name[1024], name2[1024];
	struct imap_fetch *fetch; /* FETCH waiting for its \Seen to be stored */
	uint32_t target;                /* COPY/MOVE: the target mailbox; SETACL: the grantee */
	uint32_t target_account;        /* COPY/MOVE: the target's account (its owner) */
	uint32_t rights;                /* SETACL: the rights (cmd_acl.c); COPY: the user's on the target */
	uint32_t actor;                 /* CREATE, DELETE, RENAME of a shared mailbox, SETMETADATA,
					 * SETACL, DELETEACL: the user (account is the mailbox's owner) */
	struct store_copy_result *copy; /* COPY/MOVE: the result (cmd_copy.c) */
	struct imap_progress progress;  /* COPY/MOVE: INPROGRESS while it runs */
	uint64_t progress_timer;        /* and the next look at it, when due */
	void *ctx;                      /* a command's own state (COPY's sealed forms), */
	void (*ctx_free)(void *ctx);    /* freed with the job */
};
/* Completion of a j->start store write (store_async_cb): sets j->result
 * and finishes the job as a worker's completion would. */
void imap_job_store_done(void *arg, int result);
/* A j->start for a keyword change of j's uids (j->account, mailbox,
 * uidvalidity, uids, n) as the session's user: store_email_keywords_as_async
 * with the user's rights read through imap_acl_keywords_filter (in a
 * shared mailbox an email's keywords change only as far as the user's
 * rights on all its mailboxes let them), j->res allocated for the
 * results, j->modseq, then imap_job_store_done(j). keywords is read
 * until the write is done. */
void imap_job_keywords_start(struct imap_job *j, enum store_kw_op op, const char *keywords,
			     uint64_t unchangedsince);
/* A zeroed job for s (malloc'ed). */
struct imap_job *imap_job_new(struct imap_session *s);
/* Runs j->run on the worker pool with the session's input paused, then
 * j->done on the loop; the command ends after done unless done started
 * a FETCH. Takes j (freed after done, or when the session is gone). */
void imap_job_submit(struct imap_session *s, struct imap_job *j);
/* UIDs of the view messages in set (UIDs when uid_mode, else sequence
 * numbers), malloc'ed; *n_r their count. */
uint32_t *imap_set_uids(struct imap_session *s, const struct imap_seqset *set, int uid_mode,
			size_t *n_r);
/* MESSAGELIMIT (RFC 9738): TERN_IMAP_MESSAGE_LIMIT. */
uint32_t imap_message_limit(void);
/* SAVELIMIT (RFC 9738): the most UIDs "$" holds, TERN_IMAP_SAVE_LIMIT,
 * else imap_message_limit() (imap_searchres_save()). */
uint32_t imap_save_limit(void);
/*
 * Keeps the imap_message_limit() highest of the ascending uids[0..*n)
 * (moved to the front, *n updated) and notes the lowest one kept in
 * s->msglimit_uid for the tagged OK. Does nothing when *n is within the
 * limit.
 */
void imap_limit_uids(struct imap_session *s, uint32_t *uids, size_t *n);
/* "NO [MESSAGELIMIT n]" for a command that must do all or nothing (COPY,
 * SORT, THREAD) when count is over the limit: returns -1 after the reply. */
int imap_limit_refuse(struct imap_session *s, size_t count);
/* FETCH with a non-peek body item on a read-write mailbox: stores \Seen
 * for the messages first, then starts f (imap_fetch_start). */
void imap_fetch_mark_seen(struct imap_session *s, struct imap_fetch *f);
/* 1 when a FETCH item list (n args) has a body item without .PEEK. */
int imap_fetch_sets_seen(const struct imap_arg *list, size_t n);
/* Writes "<sp>FLAGS (...)" of m (a FETCH item). */
void imap_fetch_write_flags(struct imap_session *s, const char *sp, const struct imap_msg *m);

/* imap_context.c: CONTEXT=SEARCH (RFC 5267 §4) */
#define IMAP_CONTEXT_MAX 10 /* SEARCH RETURN (UPDATE) results kept per session */
struct imap_context;
/* Keeps a SEARCH's result (hits: its sequence numbers, ascending) and a
 * copy of its keys for updates, under the current command's tag; -1 when
 * the session holds IMAP_CONTEXT_MAX already (nothing kept). */
int imap_context_add(struct imap_session *s, int uid, struct str charset,
		     const struct imap_arg *args, size_t nargs, const uint32_t *hits, size_t nhits);
struct imap_sort_spec;
/* The same for SORT RETURN (UPDATE) (CONTEXT=SORT, RFC 5267 §4.2): hits
 * are the SORT's result in spec's order; its updates say where each
 * message goes or went in that order. */
int imap_context_add_sorted(struct imap_session *s, int uid, struct str charset,
			    const struct imap_arg *args, size_t nargs,
			    const struct imap_sort_spec *spec, const uint32_t *hits, size_t nhits);
/* Evaluates every context again after a sync (before: the view's UIDs
 * before it, ascending) and appends REMOVEFROM lines to pre (to go out
 * before the sync's responses) and ADDTO lines to post. */
void imap_context_update(struct imap_session *s, const uint32_t *before, size_t nbefore,
			 struct buf *pre, struct buf *post);
/* After the session's own change that the view already holds (STORE):
 * evaluates every context again and writes its REMOVEFROM and ADDTO
 * lines at once, as Dovecot answers a STORE; no view sync, so no
 * EXPUNGE goes out (forbidden during STORE, RFC 9051 §7.5.1). */
void imap_context_refresh(struct imap_session *s);
/* Drops every context (the mailbox is left, the session ends). */
void imap_context_clear(struct imap_session *s);
/* CANCELUPDATE "tag" ... */
void imap_cmd_cancelupdate(struct imap_session *s, const struct imap_cmd *cmd);

/* cmd_urlauth.c: GENURLAUTH, RESETKEY, URLFETCH (URLAUTH, RFC 4467) */
void imap_cmd_urlauth(struct imap_session *s, const struct imap_cmd *cmd);
/* imap_urlauth_fetch(): imap/imap_urlauth.h */

/* imap_notify.c: NOTIFY (RFC 5465) */
struct imap_notify;
void imap_cmd_notify(struct imap_session *s, const struct imap_cmd *cmd);
/* Compares the account's mailboxes with the last look and writes what the
 * NOTIFY events ask for (and syncs the selected mailbox for SELECTED). */
void imap_notify_check(struct imap_session *s);
/* Ends NOTIFY (NOTIFY NONE, session end). */
void imap_notify_clear(struct imap_session *s);
/* A mailbox was selected: MessageNew's fetch attributes apply to the
 * messages that come from now on. */
void imap_notify_selected(struct imap_session *s);
/* NOTIFY's unsolicited FETCH ended (imap_fetch.c): the next one if more
 * messages came meanwhile. */
void imap_notify_fetched(struct imap_session *s);

/* cmd_compress.c: COMPRESS DEFLATE (RFC 4978) */
void imap_cmd_compress(struct imap_session *s, const struct imap_cmd *cmd);

/* cmd_metadata.c: GETMETADATA, SETMETADATA (RFC 5464) */
void imap_cmd_metadata(struct imap_session *s, const struct imap_cmd *cmd);
/* Octets of one METADATA value (a longer literal is refused before "+"). */
#define IMAP_METADATA_VALUE_MAX 65536u

/* cmd_quota.c: GETQUOTA, GETQUOTAROOT, SETQUOTA (refused) */
void imap_cmd_quota(struct imap_session *s, const struct imap_cmd *cmd);

/* cmd_copy.c: COPY, MOVE, UID COPY, UID MOVE */
void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd);

/* cmd_append.c */
void imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd);
/* The message REPLACE expunges once the new one is stored (cmd_replace.c). */
struct imap_replace {
	uint32_t account; /* the selected mailbox's: its owner's when shared */
	uint32_t mailbox, uidvalidity, uid;
};
/*
 * APPEND's work from args[first] (the mailbox name) on: flags, date and
 * message(s) parsed, the literals kept, the store write queued, the tagged
 * reply sent from its completion. With rep (not NULL) exactly one message,
 * and rep's message is expunged in the same store transaction (RFC 8508):
 * the reply is then "* OK [APPENDUID ..]", the sync, "OK Replace completed".
 */
void imap_append_run(struct imap_session *s, const struct imap_cmd *cmd, size_t first,
		     const struct imap_replace *rep);

/* imap_catenate.c: CATENATE (RFC 4469) */
/*
 * Builds the message of "CATENATE (l[0..n))": TEXT literals and URL parts
 * concatenated, at most the APPENDLIMIT. 0 with *data_r (malloc'ed, the
 * caller frees) and *len_r; or -1 after a tagged BAD/NO (NO [BADURL url]
 * for a URL that names nothing this user has).
 */
int imap_catenate_build(struct imap_session *s, enum imap_cmd_id cmd, const struct imap_arg *l,
			size_t n, char **data_r, size_t *len_r);
struct imap_url;
/*
 * Appends the octets a URL names in account's mailboxes (the message, a
 * section, ;PARTIAL) to b. NULL, or why it names nothing (a reason for
 * NO [BADURL]); *toobig_r set when b's ceiling was reached.
 */
const char *imap_url_read(struct imap_session *s, uint32_t account, const struct imap_url *u,
			  struct buf *b, int *toobig_r);
/* The same for a mailbox already resolved; s may be NULL (no session:
 * the submission server's BURL). */
const char *imap_url_read_at(struct imap_session *s, uint32_t account, uint32_t mailbox,
			     const struct imap_url *u, struct buf *b, int *toobig_r);

/* cmd_replace.c: REPLACE and UID REPLACE (RFC 8508) */
void imap_cmd_replace(struct imap_session *s, const struct imap_cmd *cmd);
/* The APPENDLIMIT: TERN_MAX_MESSAGE_SIZE. */
uint64_t imap_append_limit(void);
/* A literal of size octets announced in APPEND: 1 to accept it, 0 with
 * the tagged reply's text (after the tag) in *reply_r (TOOBIG, OVERQUOTA). */
int imap_append_literal_ok(struct imap_session *s, uint64_t size, const char **reply_r);
/* The answer to a message over the APPENDLIMIT (RFC 7889), wherever it is found. */
#define IMAP_NO_TOOBIG "NO [TOOBIG] Message is larger than the APPENDLIMIT."
/* A change to the mailbox selected with EXAMINE (RFC 9051 §6.3.3): STORE,
 * EXPUNGE, UID EXPUNGE, MOVE and REPLACE (§7.1 READ-ONLY says why). */
#define IMAP_NO_READ_ONLY "NO [READ-ONLY] Mailbox is read-only."
/* Whether the command being parsed carries a message to store (APPEND,
 * REPLACE, UID REPLACE: RFC 8508 §3.4) in a logged-in session. */
int imap_cmd_carries_message(const struct imap_session *s);
/* cmd_store.c: appends one flag argument as a store keyword to b ("\\Seen"
 * -> "$seen"); -1 with a BAD reason in *why. */
int imap_flags_add(const struct imap_arg *a, struct buf *b, const char **why);
/* The keyword text one flag list may give (STORE, APPEND): as many
 * keywords of the longest kind as the store lets a message carry, and
 * the five system flags (41 octets), which it counts apart; the store
 * answers a count past its own limit (NO [LIMIT]), this only bounds the
 * text. */
#define IMAP_FLAGS_TEXT_MAX ((STORE_KEYWORDS_MAX + 1) * (STORE_KEYWORD_MAX + 1))

/* cmd_store.c, cmd_expunge.c, cmd_mailbox.c */
void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd);   /* and UID STORE */
void imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd); /* and UID EXPUNGE */
void imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd);
/* CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE */
void imap_cmd_mailbox(struct imap_session *s, const struct imap_cmd *cmd);

/* imap_searchres.c: sequence sets with "$" (SEARCHRES, RFC 5182) */
/*
 * Parses a sequence-set argument of a command in the selected state:
 * "*" resolves against the view (message count, or highest UID when uid),
 * and "$" becomes the saved search result, as UIDs (uid) or as the
 * current sequence numbers of the saved messages still in the view. The
 * set lives in the command arena. Every command taking a set (FETCH,
 * STORE, SEARCH, COPY, MOVE, UID EXPUNGE...) goes through here, so "$"
 * works everywhere. Returns an imap_seqset_result. For sequence numbers
 * the caller still refuses numbers past the count (see imap_seqset.h).
 */
int imap_set_parse(struct imap_session *s, struct str text, int uid, struct imap_seqset *set_r);
/* Replaces the saved result with uids[0..n) (ascending; copied): the
 * imap_save_limit() highest of them when there are more, after
 * "* OK [SAVELIMIT n uid]" naming the lowest kept (SAVELIMIT). */
void imap_searchres_save(struct imap_session *s, const uint32_t *uids, size_t n);
/* Empties the saved result (SELECT, CLOSE, a failed SEARCH ... SAVE). */
void imap_searchres_clear(struct imap_session *s);

/* cmd_status.c, shared with LIST-STATUS (cmd_list.c) */
/* Checks a STATUS item list (n items); 0 and *want_r, or -1 for an unknown item. */
int imap_status_items(const struct imap_arg *list, size_t n, unsigned *want_r);
/* Appends "* STATUS name (...)" and CRLF to out for owner's mailbox info
 * describes (its id, counters; name and role unused), the items in the
 * order of list. 0, or -1 on a store error. owner is s->account but for
 * a mailbox shared with the user (imap_acl.h). */
int imap_status_append(struct imap_session *s, uint32_t owner, const char *name,
		       const struct store_mailbox_info *info, const struct imap_arg *list, size_t n,
		       unsigned want, struct buf *out);

/* cmd_search.c */
/*
 * From ENABLE IMAP4rev2 on: SEARCH and UID SEARCH without RETURN answer
 * with "* ESEARCH (TAG ...) [UID] ALL ..." as RFC 9051 §6.4.4 requires,
 * instead of "* SEARCH".
 */
void imap_search_rev2(struct imap_session *s);
/* Drops a SEARCH, SORT or THREAD going in steps (session end). */
void imap_search_abort(struct imap_session *s);
/*
 * What a command that searches does with the matches (SEARCH, SORT,
 * THREAD). The search goes in steps of IMAP_STEP messages on the loop
 * (cmd_search.c), then gather, when set, is called on the matches in
 * steps too: hits[from, to) of the nhits (sequence numbers, ascending),
 * to read what the answer needs. Then answer(s, arg, hits, nhits,
 * modseq) writes the untagged answer and the tagged OK (hits is valid
 * during the call; modseq: a MODSEQ key was given). discard(arg) instead
 * when the session goes first. what names the work in INPROGRESS.
 */
struct imap_search_then {
	void (*gather)(struct imap_session *s, void *arg, const uint32_t *hits, size_t nhits,
		       size_t from, size_t to);
	void (*answer)(struct imap_session *s, void *arg, uint32_t *hits, size_t nhits,
		       int modseq);
	void (*discard)(void *arg);
	const char *what;
};
/*
 * Compiles the search keys args[0..count) and starts the search in steps
 * (INPROGRESS, RFC 9585, between them). limit as imap_search_eval()'s.
 * Returns 0 when started (then takes arg; the answer may already have
 * been written, and the command ends after it), or -1 after a tagged
 * BAD/NO naming cmd_name (arg stays the caller's).
 */
int imap_search_start(struct imap_session *s, const char *cmd_name, struct str charset,
		      const struct imap_arg *args, size_t count, int limit,
		      const struct imap_search_then *then, void *arg);
/*
 * Compiles the search keys args[0..count) and evaluates them over the
 * view (SEARCH, SORT, THREAD). Returns 0 with *hits_r (malloc'ed, the
 * caller frees it) holding the matching sequence numbers ascending,
 * *nhits_r their count and *modseq_r (may be NULL) set when a MODSEQ key
 * was given; or -1 after a tagged BAD/NO naming cmd_name (BAD [UIDREQUIRED]
 * for a sequence set key under UIDONLY). charset: of
 * the search strings (a known one, imap_search_charset_ok()), or STR_NULL.
 */
int imap_search_eval(struct imap_session *s, const char *cmd_name, struct str charset,
		     const struct imap_arg *args, size_t count, uint32_t **hits_r, size_t *nhits_r,
		     int *modseq_r, int limit);
/* imap_search_eval()'s limit, MESSAGELIMIT (RFC 9738) on the messages the
 * top-level sequence and UID sets leave: NONE ignores it (updates of a
 * search already answered), PART searches the highest UIDs within it and
 * notes where it stopped (SEARCH), ALL refuses with NO [MESSAGELIMIT]
 * (SORT and THREAD, whose answer cannot come in parts). */
#define IMAP_SEARCH_LIMIT_NONE 0
#define IMAP_SEARCH_LIMIT_PART 1
#define IMAP_SEARCH_LIMIT_ALL 2
/* The CHARSETs SEARCH, SORT and THREAD take, for NO [BADCHARSET (...)]. */
/* 1 when SEARCH/SORT/THREAD take search strings in charset cs: one
 * mime_charset_known() converts, but not UTF-16, whose strings hold NUL
 * octets no IMAP string may carry (RFC 9051 §4.3). */
int imap_search_charset_ok(struct str cs);
#define IMAP_SEARCH_CHARSETS                                                             \
	"(UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252 ISO-8859-2 WINDOWS-1250 "   \
	"ISO-8859-5 WINDOWS-1251 KOI8-R KOI8-U GB2312 GBK GB18030 BIG5 BIG5-HKSCS EUC-KR " \
	"SHIFT_JIS EUC-JP ISO-2022-JP)"
/* cmd_sort.c: SORT and UID SORT (RFC 5256, SORT=DISPLAY RFC 5957), THREAD and UID THREAD */
void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd);
#define IMAP_SORT_MAX_KEYS 16
/* A SORT's criteria: key[i] (cmd_sort.c's keys), reverse[i], n of them;
 * want has bit key for each key used. */
struct imap_sort_spec {
	unsigned char key[IMAP_SORT_MAX_KEYS];
	unsigned char reverse[IMAP_SORT_MAX_KEYS];
	size_t n;
	unsigned want;
};
/* Reorders seqs[0..n) (sequence numbers of the view, ascending) into
 * spec's order (ties in sequence order, RFC 5256). */
void imap_sort_seqs(struct imap_session *s, const struct imap_sort_spec *spec, uint32_t *seqs,
		    size_t n);
void imap_cmd_thread(struct imap_session *s, const struct imap_cmd *cmd);

/* cmd_acl.c: SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS (RFC 4314). */
void imap_cmd_acl(struct imap_session *s, const struct imap_cmd *cmd);

/* Helpers shared by handlers (imap_cmd.c). */
/* A deep copy of args[0..n) (lists and strings, not sections) in a,
 * IMAP_ARG_END after them: arguments kept past their command. */
struct imap_arg *imap_args_copy(struct arena *a, const struct imap_arg *src, size_t n);
/*
 * Decodes a mailbox name argument (astring; modified UTF-7) to UTF-8 in
 * out (size outsz). INBOX in any case becomes "INBOX". Returns 0, or -1
 * after a tagged BAD/NO reply.
 */
int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz);
/* The same decoding, nothing replied: 0, or -1 for an argument that is
 * no mailbox name (not an astring, too long, invalid). */
int imap_mailbox_name_of(struct imap_session *s, const struct imap_arg *arg, char *out,
			 size_t outsz);
/* The same for a name only watched (NOTIFY's SUBTREE and MAILBOXES; RFC
 * 5465 §3.1: a name that refers to no mailbox is ignored): 1, nothing
 * replied, for a name no mailbox can have (too long, invalid). */
int imap_mailbox_watch_arg(struct imap_session *s, const struct imap_arg *arg, char *out,
			   size_t outsz);
/* The same for a name to be made (CREATE, RENAME's new name, SUBSCRIBE):
 * NO [LIMIT] for one too long, NO [CANNOT] for one that cannot be a name
 * (imap_mailbox_arg says NO [NONEXISTENT] to both). */
int imap_mailbox_new_arg(struct imap_session *s, const struct imap_arg *arg, char *out,
			 size_t outsz);
/* Tagged NO [LIMIT]: a name to be made is longer than the server takes
 * (imap_cfg->max_mailbox_name octets). */
void imap_mailbox_too_long(struct imap_session *s);
/* The tagged reply's text (in buf or a constant) for APPEND, COPY or MOVE
 * to name, a mailbox that is not there: NO [TRYCREATE] when a CREATE of it
 * could succeed, NO [NONEXISTENT] otherwise. */
const char *imap_missing_target(const char *name, char *buf, size_t bufsz);
/* Tagged NO [LIMIT]: a message would carry more than STORE_KEYWORDS_MAX
 * keywords (STORE, APPEND). */
void imap_keywords_too_many(struct imap_session *s);
/* Tagged NO [OVERQUOTA]: the server's disk is full (STORE_EFULL), which
 * is not the user's quota and not a bug; every write command says it so. */
void imap_disk_full(struct imap_session *s);
/* imap_mailbox_arg without any reply: 0, or -1 for a name that cannot
 * be one. */
int imap_mailbox_name(struct imap_session *s, const struct imap_arg *arg, char *out, size_t outsz);
/* Set by imap_dispatch() to the session's utf8 before each handler runs:
 * imap_append_mailbox() then writes UTF-8 names instead of modified
 * UTF-7. One loop thread runs one handler at a time. */
extern __thread int imap_names_utf8;
/* Appends name as an IMAP astring in modified UTF-7 (quoted when needed),
 * or in UTF-8 when imap_names_utf8 is set. */
int imap_append_mailbox(struct buf *b, const char *name);
/* The special-use attribute of a store role ("sent" -> "\Sent"), or NULL
 * for none (cmd_list.c: LIST, and METADATA's /private/specialuse). */
const char *imap_role_attr(const char *role);
/* SELECT and EXAMINE in an IMAP4rev2 session (RFC 9051 §6.3.2): writes
 * the LIST line of owner's mailbox, asked by the name asked (OLDNAME when
 * that is not in NFC). cmd_list.c. */
void imap_list_selected(struct imap_session *s, uint32_t owner, uint32_t mailbox, const char *asked);
/* The store role of a special-use attribute atom (CREATE's USE), or NULL. */
const char *imap_attr_role(const struct imap_arg *attr);
/* Appends s as a quoted string, or a literal when it cannot be quoted. */
int imap_append_string(struct buf *b, struct str s);

#endif
