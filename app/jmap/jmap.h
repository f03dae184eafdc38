/*
 * jmap.h — JMAP (RFC 8620 core, RFC 8621 mail) over the store: the
 * session resource and the API endpoint's request processing. The HTTP
 * side (app/http/api_jmap.c) authenticates, bounds sizes and concurrency,
 * and hands the request body here; nothing here knows HTTP or TLS.
 *
 * Design. A request is parsed with app/http/json.c into an arena, checked
 * against RFC 8620 §3.3 (else a request-level problem, §3.6.1), then its
 * method calls run in order through the one method table
 * (jmap_methods.c), one file per object type (jmap_mailbox.c, ...).
 * Each call's arguments have their result references (§3.7) resolved
 * against the responses before it; each writes its response arguments as
 * JSON text, and an error is a response of its own (§3.6.2). Reads use
 * the store's read transactions; writes go through its write functions,
 * which commit before a response says they happened.
 *
 * Ids are the store's numbers in the form IMAP's OBJECTID (RFC 8474)
 * shows them, so that a client using both sees one id: mailboxes
 * "M%08x", emails "E%08x", threads "T%08x"; accounts "A%08x".
 *
 * States: one counter per account, its highest modseq, serves every
 * object type (DESIGN.md §4): a state string is that modseq in decimal.
 * A type's state may therefore change when only another type changed
 * (allowed: RFC 8620 §5.1's SHOULD); /changes then reports nothing new.
 *
 * Accounts: the user's own, and each other user's that shares a mailbox
 * with it (jmap_share.c): a call names one with its accountId, and only
 * the methods written for it (jmap_methods.c's JMAP_M_SHARED) accept
 * another user's.
 *
 * Caveats: EventSource and WebSocket push follow the shared accounts
 * there were when push started (app/http/http_push.c), and their push
 * state covers the own account only; PushSubscription deliveries follow
 * those there were when the subscription subscribed
 * (app/http/http_pushsub.c).
 */
#ifndef TERN_JMAP_JMAP_H
#define TERN_JMAP_JMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct store;
struct arena;
struct spool;

/* The limits advertised in the core capability and enforced. */
#define JMAP_MAX_SIZE_REQUEST 5000000
#define JMAP_MAX_CONCURRENT_REQUESTS 4
#define JMAP_MAX_CALLS_IN_REQUEST 32
#define JMAP_MAX_OBJECTS_IN_GET 500
#define JMAP_MAX_OBJECTS_IN_SET 500
/*
 * Not advertised: the JSON values a request (or a WebSocket message) may
 * hold, and those its result references may parse in all. A parsed value
 * is a node of some 80 octets, so maxSizeRequest alone let one request of
 * "[0,0,...]" take 250 MB, and a client its four concurrent ones a
 * gigabyte. 100,000 values is 200 for each of maxObjectsInSet's objects;
 * past it the request is refused as over maxSizeRequest.
 */
#define JMAP_JSON_VALUES_MAX 100000
/* The ceiling of an upload and of a blob read into memory whatever
 * TERN_MAX_MESSAGE_SIZE says; what the session advertises and /upload
 * takes is jmap_max_size_upload() (jmap_blob.h), at most this. */
#define JMAP_MAX_SIZE_UPLOAD 50000000
#define JMAP_MAX_CONCURRENT_UPLOAD 4
/* A response larger than this is refused with a request-level limit. */
#define JMAP_RESPONSE_MAX (32 * 1024 * 1024)

#define JMAP_CAP_CORE "urn:ietf:params:jmap:core"
#define JMAP_CAP_MAIL "urn:ietf:params:jmap:mail"
#define JMAP_CAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define JMAP_CAP_VACATION "urn:ietf:params:jmap:vacationresponse"
#define JMAP_CAP_QUOTA "urn:ietf:params:jmap:quota"
#define JMAP_CAP_BLOB "urn:ietf:params:jmap:blob"
#define JMAP_CAP_SIEVE "urn:ietf:params:jmap:sieve" /* RFC 9661 */
#define JMAP_CAP_MDN "urn:ietf:params:jmap:mdn"     /* RFC 9007 */
#define JMAP_CAP_PRINCIPALS "urn:ietf:params:jmap:principals" /* RFC 9670 */
#define JMAP_CAP_PRINCIPALS_OWNER "urn:ietf:params:jmap:principals:owner"

/*
 * Writes the session resource (RFC 8620 §2) of account (its address
 * email) to out; base is the URL prefix the client reached us by
 * ("https://host:port", no slash at the end). 0, or -1 when the store
 * failed (out then holds nothing useful).
 */
int jmap_session_write(struct store *st, uint32_t account, const char *email, const char *base,
		       struct buf *out);

/*
 * Who a request runs as: the account and the login it rests on
 * (auth/login.h's login_result). A PushSubscription is tied to that login
 * (RFC 8620 §7.2), so jmap_pushsub.c keeps apppass and cred with it and
 * app/http/http_pushsub.c stops using it once the stamp changes.
 */
struct jmap_who {
	uint32_t account;
	uint32_t apppass; /* the app password or JMAP token used; 0: the account's own password */
	uint64_t cred;    /* that login's credentials stamp (store_account_creds) */
};

/*
 * Processes one API request body[0..len) for who (the caller's, read
 * during the call): writes the Response object, or a request-level
 * problem (RFC 7807 JSON), to out (which the caller made with room for
 * JMAP_RESPONSE_MAX). Returns the HTTP status: 200, or 400 for a problem.
 * Allocates from a. client_ip is the client's address as the transport
 * logs it (the Received field of mail the request sends); NULL when
 * there is none (tests, fuzzing).
 */
int jmap_api(struct store *st, const struct jmap_who *who, const char *client_ip,
	     const char *body, size_t len, struct arena *a, struct buf *out);
/*
 * jmap_api, the Response written as it is made: once it passes
 * JW_FLUSH_AT octets it moves to sink (an empty spool_init_unhashed
 * spool, max JMAP_RESPONSE_MAX), each method's response as the method
 * writes it, and only those a result reference of the request names are
 * also kept. So a large Response costs a small buffer and the spool, not
 * several copies of itself. The Response is in sink when sink->len > 0,
 * else in out (a problem always is: sink is then emptied). 503 with out
 * empty when the spool failed (the disk).
 */
int jmap_api_spooled(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const char *body, size_t len, struct arena *a, struct buf *out,
		     struct spool *sink);

/*
 * ---- Shared accounts (jmap_share.c) ----
 * An account that shares something with the user (a grant with "l" on
 * one of its mailboxes): its owner and the union of the rights over the
 * mailboxes it lets the user see, with JMAP_SHARE_TOP_CREATE when the
 * user may create a mailbox at the top there ("k" on the owner's INBOX,
 * as IMAP's CREATE of Shared/OWNER/NAME asks: mayCreateTopLevelMailbox).
 */
#define JMAP_SHARE_TOP_CREATE (1u << 31)
struct jmap_shared_account {
	uint32_t owner, rights;
};
/* Every such account of user, by owner, into *v_r (malloc'd, the caller
 * frees it; NULL when none) and *n_r. 0 or -1 (store error). */
int jmap_shared_accounts(struct store *st, uint32_t user, struct jmap_shared_account **v_r,
			 size_t *n_r);
/*
 * The download and upload URLs with the accountId of another user's
 * account (jmap_share_blob.c); *owner_r gets its owner. Both answer -2
 * when it is no account shared with user, -1 on a store error.
 * _blob_allowed: 1 when user may download blob (the id as the URL has
 * it) there, 0 when no such blob is there for it (404 as if absent);
 * user's uploads there are read with jmap_upload_open_by(owner, user).
 * _upload_allowed: 1 when user may upload there ("i" on a mailbox it
 * sees), 0 when not.
 */
#define JMAP_SHARE_NO_ACCOUNT (-2)
int jmap_share_blob_allowed(struct store *st, uint32_t user, const char *account_id,
			    const char *blob, uint32_t *owner_r);
int jmap_share_upload_allowed(struct store *st, uint32_t user, const char *account_id,
			      uint32_t *owner_r);

/*
 * ---- Push (RFC 8620 §7, jmap_push.c) ----
 * The types a push can name; the transports are app/http/http_push.c.
 */
#define JMAP_TYPE_MAILBOX 1u
#define JMAP_TYPE_EMAIL 2u
#define JMAP_TYPE_THREAD 4u
#define JMAP_TYPE_EMAIL_DELIVERY 8u
/* Types with a state of their own (their /get's), not the modseq: */
#define JMAP_TYPE_IDENTITY 16u
#define JMAP_TYPE_SUBMISSION 32u
#define JMAP_TYPE_SIEVE 64u
#define JMAP_TYPE_VACATION 128u
#define JMAP_TYPE_QUOTA 256u
#define JMAP_TYPE_SHARENOTE 512u /* ShareNotification (RFC 9670 §5) */
#define JMAP_TYPES_MAIL 15u
#define JMAP_TYPES_OWN 1008u
#define JMAP_TYPES_ALL 1023u
/* The mask of a types list: "*" (all) or comma-separated type names;
 * names this server has no push for are ignored (0 when none is known). */
unsigned jmap_push_types(const char *s);
/*
 * What changed in account after modseq since: *types_r the JMAP_TYPE_*
 * mask of the mail types whose state changed (0: nothing, e.g. a change
 * that only touched IMAP METADATA), *upto_r the state (modseq) to tell,
 * since when nothing changed. Reads the store (a read transaction). 0, or
 * -1 when the store failed.
 */
int jmap_push_changed(struct store *st, uint32_t account, uint64_t since, unsigned *types_r,
		      uint64_t *upto_r);
/* The same for each of since[0..n) (ascending) in one walk of the
 * log: types_r[i] and upto_r[i] as jmap_push_changed's for since[i]. */
int jmap_push_changed_many(struct store *st, uint32_t account, const uint64_t *since, size_t n,
			   unsigned *types_r, uint64_t *upto_r);
/*
 * The states of the JMAP_TYPES_OWN types (Identity, EmailSubmission,
 * SieveScript, VacationResponse, Quota, ShareNotification): each the state its /get answers
 * who now, "" for a type not in mask or that who cannot read. Runs those
 * /get calls (store reads; a snapshot write when one changed,
 * jmap_typestate.h). 0, or -1 when none could be read.
 */
#define JMAP_PUSH_OWN_N 6
struct jmap_push_own {
	char state[JMAP_PUSH_OWN_N][48];
};
int jmap_push_own_states(struct store *st, const struct jmap_who *who, unsigned mask,
			 struct jmap_push_own *out);
/* Takes into *told the states in now of the own types in mask (a type
 * now "" is not counted and keeps its state): the JMAP_TYPES_OWN bits of
 * those whose state moved. */
unsigned jmap_push_own_take(struct jmap_push_own *told, const struct jmap_push_own *now,
			    unsigned mask);
/* Appends to out the StateChange object (RFC 8620 §7.1) saying that the
 * mail types in mask of account now have state modseq and the own types
 * in mask the states in own (NULL: none); push_state (NULL: none) is
 * added as "pushState" (RFC 8887 §4.3.5's WebSocket push). */
void jmap_push_state_change(struct buf *out, uint32_t account, unsigned mask, uint64_t modseq,
			    const struct jmap_push_own *own, const char *push_state);
/*
 * The push state told to a client that asked for the types in mask
 * (pushState, the EventSource event id): the modseq, then the own types'
 * states in own (jmap_push.c), into out[0..n). Its length; at most
 * JMAP_PUSH_STATE_MAX - 1 with n that large.
 */
#define JMAP_PUSH_STATE_MAX 320
size_t jmap_push_state_format(char *out, size_t n, uint64_t modseq, unsigned mask,
			      const struct jmap_push_own *own);
/* Reads a push state s[0..len): its modseq, and, when *has_own_r is 1,
 * the own types' states it carried ("" unknown). 0, or -1 when it is
 * not one of ours. */
int jmap_push_state_parse(const char *s, size_t len, uint64_t *modseq_r, struct jmap_push_own *own_r,
			  int *has_own_r);

/*
 * ---- PushSubscription (RFC 8620 §7.2, jmap_pushsub.c) ----
 * The objects live in meta ("pushsub/<account>/<id>", SCHEMA.md); the
 * deliveries are app/http/http_pushsub.c's, which sets
 * jmap_pushsub_changed to be told (on the API's thread) after /set
 * changed any, and reads them back with jmap_pushsub_parse.
 */
#define JMAP_CAP_WEBPUSH_VAPID "urn:ietf:params:jmap:webpush-vapid"
struct jmap_pushsub {
	uint32_t account;
	char id[20];
	char url[1025], p256dh[128], auth[64], code[40];
	int verified;
	int64_t expires;
	unsigned types;
	uint32_t apppass; /* the login that made it: struct jmap_who */
	uint64_t cred;    /* 0: an older record, made before the stamp was kept */
};
extern void (*jmap_pushsub_changed)(void);
struct arena;
/* One meta entry (its full name, its value) into p. 0, or -1 when it is
 * not a subscription record. */
int jmap_pushsub_parse(const char *name, const void *val, size_t len, struct jmap_pushsub *p,
		       struct arena *a);
/* The VAPID public key (RFC 8292, 65 octets) when http_pushsub.c made
 * one: the session lists it (base64url) as applicationServerKey. */
extern unsigned char jmap_vapid_pub[65];
extern int jmap_vapid_ready;

/*
 * ---- WebSocket (RFC 8887, jmap_ws.c) ----
 * One text message of a client, read: a Request runs here and its
 * Response (or a RequestError) is written to out (made with room for
 * JMAP_RESPONSE_MAX), a large Response to sink as jmap_api_spooled does
 * (the answer is in sink when sink->len > 0; JMAP_WS_SPOOL_FAILED, out
 * empty, when the disk refused it); WebSocketPushEnable and WebSocketPushDisable are
 * returned for the transport to apply, with out empty. busy: the
 * account runs maxConcurrentRequests requests already, so a Request is
 * answered with that limit's RequestError and not run. Blocks (the
 * store): a worker thread, never a loop. Allocates from a.
 */
#define JMAP_CAP_WEBSOCKET "urn:ietf:params:jmap:websocket"
enum jmap_ws_kind {
	JMAP_WS_REPLY,
	JMAP_WS_PUSH_ENABLE,
	JMAP_WS_PUSH_DISABLE,
	JMAP_WS_SPOOL_FAILED,
};
struct jmap_ws_verdict {
	enum jmap_ws_kind kind;
	unsigned types;     /* PUSH_ENABLE: JMAP_TYPE_* (dataTypes null: all) */
	int has_push_state; /* PUSH_ENABLE: pushState given and ours */
	uint64_t push_state;         /* its modseq */
	int push_state_own;          /* it carried the own types' states: */
	struct jmap_push_own push_own;
	/* PUSH_ENABLE: the states now, read on the worker (transports'
	 * baseline): the modseq, what changed since push_state, the own
	 * types' states. */
	int now_ok;
	uint64_t now_modseq, now_upto;
	unsigned now_changed;
	struct jmap_push_own now_own;
	int now_own_ok;
};
void jmap_ws_message(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const char *text, size_t len, int busy, struct arena *a, struct buf *out,
		     struct spool *sink, struct jmap_ws_verdict *v);

/* Writes a request-level problem (RFC 8620 §3.6.1) of type (the part
 * after "urn:ietf:params:jmap:error:") to out; limit may be NULL. */
void jmap_problem(struct buf *out, int status, const char *type, const char *limit,
		  const char *detail);

#endif
