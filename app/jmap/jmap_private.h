/*
 * jmap_private.h — what the files of app/jmap share: a method call's
 * context, the method table's entry, argument checks and the pieces
 * every standard method (/get, /changes, /query, /set) has in common.
 *
 * A method gets a struct jmap_call: its (reference-resolved) arguments,
 * the request it belongs to, and a JSON writer for its response's
 * arguments. It either writes that object (jmap_ok) or sets an error
 * (jmap_error), which replaces the response (RFC 8620 §3.6.2). All
 * memory comes from the request's arena.
 */
#ifndef TERN_JMAP_JMAP_PRIVATE_H
#define TERN_JMAP_JMAP_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/json.h"
#include "jmap/jmap.h"

struct arena;
struct spool;
struct store;

/* A response already made in this request (for result references). */
struct jmap_resp {
	const char *name, *id;
	/* The JSON text of its arguments, kept only when a call of the
	 * request refers to its id (else written to the Response and gone). */
	struct buf kept;
	int is_kept;
	size_t args_len;
	struct json_value *tree; /* args parsed, on first reference */
};

/* A creation id given or made in this request (createdIds, §3.3). */
struct jmap_created {
	const char *cid, *id;
	struct jmap_created *next;
};

struct jmap_share;

struct jmap_request {
	struct store *st;
	/* The account the running call works in: the user's own, or for a
	 * call in a shared account the owner's (jmap_share.c), share then
	 * naming what the user may do there (NULL in the user's own). */
	uint32_t account;
	const struct jmap_share *share;
	uint32_t user; /* the logged-in account, whatever the call */
	uint32_t apppass; /* the login's (struct jmap_who): PushSubscription's owner */
	uint64_t cred;
	const char *client_ip; /* the transport's, or NULL (jmap_api) */
	struct arena *a;
	unsigned caps; /* JMAP_USING_* the request's "using" named */
	struct jmap_resp *resp;
	size_t nresp, capresp;
	struct jmap_created *created;
	int created_given; /* the request had createdIds: the response has them */
	/* An implicit call a method asks for (EmailSubmission/set's
	 * onSuccess Email/set, RFC 8621 §7.5): run right after it, its
	 * response following, then cleared. An Invocation array. */
	const struct json_value *then;
	int in_implicit; /* that call is running */
	/* Octets of the responses kept (what the Response will hold), and
	 * of those parsed for result references: jmap_api.c's budgets. */
	size_t resp_used, ref_parsed;
	/* JSON values references may still parse (JMAP_JSON_VALUES_MAX). */
	size_t ref_values;
	/* The Response as it is written (jmap_api.c): its writer, and the
	 * spool its text moves to past JW_FLUSH_AT octets (NULL: it all
	 * stays in the writer's buffer). */
	struct jw *w;
	struct spool *sink;
	/* The call ids some result reference of the request names. */
	const char **refd;
	size_t nrefd;
};

#define JMAP_USING_CORE 1u
#define JMAP_USING_MAIL 2u
#define JMAP_USING_SUBMISSION 4u
#define JMAP_USING_VACATION 8u
#define JMAP_USING_QUOTA 16u
#define JMAP_USING_BLOB 32u
#define JMAP_USING_SIEVE 64u
#define JMAP_USING_MDN 128u
#define JMAP_USING_PRINCIPALS 256u

struct jmap_call {
	struct jmap_request *r;
	const char *name, *id;
	const struct json_value *args;
	struct buf out; /* response arguments */
	size_t sunk;    /* octets of them already moved to the Response's spool */
	struct jw w;
	const char *err_type, *err_desc;
	const char *err_props[8]; /* invalidArguments / invalidProperties names */
	int nerr_props;
};

struct jmap_method {
	const char *name;
	unsigned cap; /* JMAP_USING_* needed */
	void (*fn)(struct jmap_call *c);
	unsigned flags; /* JMAP_M_* */
};
/* The method works in a shared account too (jmap_share.c): it reads
 * through the request's share. */
#define JMAP_M_SHARED 1u

/*
 * ---- Shared accounts (jmap_share.c) ----
 * The grants of one owner to the user, by mailbox id (ascending), only
 * those with "l" (the others are mailboxes the user does not see).
 */
struct jmap_share_grant {
	uint32_t mailbox, rights; /* STORE_ACL_* */
};
struct jmap_share {
	uint32_t owner;
	struct jmap_share_grant *grant;
	size_t n;
};
/* (struct jmap_shared_account and jmap_shared_accounts: jmap.h) */
/* The session's state string (RFC 8620 §2) for those accounts (v[0..n))
 * into out; _state reads them first: 0 or -1 (store error). */
void jmap_session_state_of(const struct jmap_shared_account *v, size_t n, char out[24]);
int jmap_session_state(struct store *st, uint32_t user, char out[24]);
/* 1 when rights (a union as above) write nothing: isReadOnly. */
int jmap_shared_read_only(uint32_t rights);
/* owner's grants to user into s (memory from a): 0; 1 when owner shares
 * nothing the user may see (or is the user); -1 on a store error. */
int jmap_share_load(struct store *st, uint32_t user, uint32_t owner, struct arena *a,
		    struct jmap_share *s);
/* What the running call may do with mailbox: every right in the user's
 * own account, else the grant's rights (0: the mailbox is not there). */
uint32_t jmap_rights(const struct jmap_request *r, uint32_t mailbox);
/* 1 when the user may read the mailbox's emails ("l" and "r"). */
int jmap_may_read(const struct jmap_request *r, uint32_t mailbox);
/* The same two for an account other than the running call's (Email/copy's
 * source): s its grants, NULL for the user's own account. */
uint32_t jmap_share_rights(const struct jmap_share *s, uint32_t mailbox);
int jmap_share_may_read(const struct jmap_share *s, uint32_t mailbox);
/* Mailbox i of a store_email_brief's members. */
uint32_t jmap_member_mailbox(const uint8_t *members, size_t i);
/* 1 when an email with these members is visible to the running call:
 * always in the own account, else when one member mailbox is readable. */
int jmap_email_readable(const struct jmap_request *r, const uint8_t *members, size_t nmembers);
/* The same for the email id (a store read in a shared account): 1, 0
 * (not readable, or no such email), -1 (store error). */
int jmap_email_id_readable(const struct jmap_request *r, uint32_t id);
/*
 * In a shared account: whether the owner's change log above since (up
 * to upto) holds a grant change of the user's (or anyone's) whose "l"
 * and "r" together came or went (store.h, STORE_CHANGE_GRANT), so that
 * a mailbox's emails may have appeared or vanished for the user without
 * an email change of their own: 1 (Email/changes, Thread/changes and
 * Email/queryChanges then answer cannotCalculateChanges), 0 (also in
 * the user's own account), -1 (store error).
 */
int jmap_share_reads_moved(const struct jmap_request *r, uint64_t since, uint64_t upto);
/* The error for jmap_share_reads_moved's answer (1 or -1) on c. */
void jmap_share_reads_error(struct jmap_call *c, int moved);
struct store_change;
/* 1 when a store_change is a grant change that concerns the running
 * call's user (its own grant or anyone's); 0 else, and always in the
 * user's own account. */
int jmap_share_grant_mine(const struct jmap_request *r, const struct store_change *sc);
/*
 * Before a call runs (jmap_api.c): when its accountId names an account
 * shared with the user, switches the request to it (s, the caller's,
 * holds the grants) and returns 1; a method without JMAP_M_SHARED gets
 * accountNotSupportedByMethod instead (-1, error set). 0 when the call
 * is for the user's own account or an unknown one (the method's
 * argument check then answers accountNotFound). jmap_share_leave
 * switches back after the call.
 */
int jmap_share_enter(struct jmap_call *c, unsigned method_flags, struct jmap_share *s);
void jmap_share_leave(struct jmap_request *r);
/* Whose uploads the running call reads and makes (jmap_upload_open_by's
 * and _put_by's user, jmap_share_blob.c): the account's own, or in a
 * shared account the user's uploads there. */
uint32_t jmap_share_uploader(const struct jmap_request *r);
/* 1 when the user may upload to the account s holds the grants of ("i"
 * on a mailbox it sees); always in its own account (s NULL). */
int jmap_share_may_upload(const struct jmap_share *s);
/* jmap_bytes_get and jmap_part_read for the running call
 * (jmap_share_blob.c): in a shared account only the user's own uploads
 * there and the emails (and their parts) it may read. */
struct jmap_bytes;
int jmap_share_bytes_get(const struct jmap_request *r, const uint8_t id[32], struct jmap_bytes *b,
			 int *temp_r);
int jmap_share_part_read(const struct jmap_request *r, const char *blob, struct buf *out,
			 int *temp_r);

/* jmap_api_spooled() on a request already parsed (from a): jmap_ws.c's
 * way in. head: NULL, or key/value pairs ended by a NULL key, String
 * members the Response starts with (over WebSocket "@type" and
 * "requestId"), so they count against JMAP_RESPONSE_MAX with the rest. */
int jmap_api_request(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const struct json_value *req, struct arena *a, struct buf *out,
		     struct spool *sink, const char *const *head);

/*
 * store_email_update_async() through the store writer's group commit
 * (jmap_write.c), for the API's job threads: blocks until the commit and
 * returns its result (store.h), the change-feed told. One email's change
 * of keywords and mailboxes in one transaction at one modseq.
 */
struct store_email_update;
int jmap_write_update(struct store *st, const struct store_email_update *u);

/* The one method table (jmap_methods.c); NULL when unknown. */
const struct jmap_method *jmap_method_find(const char *name);

/* ---- errors and arguments (jmap_args.c) ---- */
/* Makes c's response the error type (RFC 8620 §3.6.2 or a method's own);
 * desc may be NULL. The first error set wins. */
void jmap_error(struct jmap_call *c, const char *type, const char *desc);
/* invalidArguments naming the argument. */
void jmap_bad_arg(struct jmap_call *c, const char *arg, const char *desc);

/*
 * A /query filter (RFC 8620 §5.5, jmap_filter.c): FilterOperators are
 * handled here; each FilterCondition (an object without "operator") goes
 * to cond with arg. Both return -1 for a bad filter (the error set on
 * c), 0 for no match, 1 for a match.
 */
/* Whatever the JSON parser takes (JSON_DEPTH_MAX, counting the request
 * around the filter) is nested shallower than this: a client's deep
 * filter is never refused for its depth alone (it was at 9 levels). */
#define JMAP_FILTER_DEPTH JSON_DEPTH_MAX
typedef int jmap_cond_fn(struct jmap_call *c, const struct json_value *cond, void *arg);
int jmap_filter_match(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond, void *arg);
/*
 * Checks filter f (NULL: none) before any object is judged: cond is
 * called with arg NULL, and must then check every property of the
 * condition and judge nothing (return 1 or -1). 0, or -1 with the error
 * set. A /query calls it first: judging stops at a condition's first
 * false property and judges nothing when there is no object, and a bad
 * filter must be refused whatever the account holds (RFC 8620 §5.5).
 */
int jmap_filter_check(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond);

/* Expected type of one argument. */
enum jmap_kind {
	JA_ID,       /* a string of 1..255 URL-safe base64 characters */
	JA_STRING,
	JA_BOOL,
	JA_UINT,     /* UnsignedInt: 0 .. 2^53-1 */
	JA_INT,      /* Int: -2^53+1 .. 2^53-1 */
	JA_OBJECT,
	JA_IDS,      /* Id[] */
	JA_IDREFS,   /* Id[] whose entries may be "#" and a creation id (/set destroy,
		      * a /get's ids: one no creation made is notFound) */
	JA_IDREF,    /* an Id, or "#" and a creation id (a /query anchor) */
	JA_STRINGS,  /* String[] */
	JA_IDMAP,    /* Id[X]: an object whose keys are Ids (a /set create's creation ids) */
	JA_IDREFMAP, /* Id[X] whose keys may also be "#" and a creation id (/set update) */
	JA_ARRAY,
	JA_ANY,
};
struct jmap_arg {
	const char *name;
	enum jmap_kind kind;
	unsigned flags;
};
#define JA_REQUIRED 1u
#define JA_NULLABLE 2u

/*
 * Checks c's arguments against args[0..n): every member known, of its
 * kind (null only where JA_NULLABLE), the JA_REQUIRED ones present; an
 * "accountId" argument must name the request's account (else
 * accountNotFound). 0, or -1 with the error set.
 */
int jmap_args_check(struct jmap_call *c, const struct jmap_arg *args, size_t n);
/* Argument name, or NULL when absent (JSON null counts as absent). */
const struct json_value *jmap_arg(const struct jmap_call *c, const char *name);
/* 1 when s is a valid Id (RFC 8620 §1.2). */
int jmap_id_valid(const char *s, size_t n);
/*
 * A /get's ids (an Id[] array) with each id kept once, at its first
 * place: ids itself when no id repeats, else a new array from a. RFC
 * 8620 §5.1: an id given twice is in list or notFound once.
 */
const struct json_value *jmap_ids_unique(struct arena *a, const struct json_value *ids);

/*
 * An index by id into a list the caller keeps (jmap_idx.c): the
 * /changes methods gather the objects the change log names, in the order
 * it first names them, and the log names each object once per change,
 * so a search of the list for each entry cost the square of the objects
 * changed. Zeroed to start; free with jmap_idx_free.
 */
struct jmap_idx {
	struct jmap_idx_slot *slot; /* open addressing */
	size_t nslot;               /* a power of two, at least twice the ids */
	size_t n;                   /* ids held */
};
/* The place of id in the caller's list; when id is new, the place n it
 * gets (n: the list's length, which the caller then extends by that
 * entry) with *added_r 1. */
size_t jmap_idx_place(struct jmap_idx *x, uint32_t id, size_t n, int *added_r);
/* The place of id, or SIZE_MAX when it is not held. */
size_t jmap_idx_find(const struct jmap_idx *x, uint32_t id);
void jmap_idx_free(struct jmap_idx *x);

/* Ids in the store's numbering: "M%08x" etc. parsed; 0 when not ours. */
uint32_t jmap_id_num(const char *s, char prefix);
/* Writes "<prefix>%08x" as a JSON string. */
void jmap_w_id(struct jw *w, char prefix, uint32_t n);
/* The account's state string (its modseq) into out (24 octets);
 * 0 or -1 (serverFail set on c). */
int jmap_state(struct jmap_call *c, char out[24]);
/* A state string given by a client: its modseq, or -1 when not one of ours. */
int jmap_state_parse(const char *s, uint64_t *modseq_r);
/* 1 when the change log answers from modseq since, 0 when since is older
 * than it (a state from before a restore: cannotCalculateChanges). */
int jmap_state_answerable(struct jmap_call *c, uint64_t since);
/* Begins c's response object with "accountId" written. */
void jmap_begin(struct jmap_call *c);

/*
 * The one SetError writer (RFC 8620 §5.3): under key (NULL: where the
 * writer stands) {type, description when desc, properties: [prop] when
 * prop}. _open writes it without key and leaves the object open for a
 * type's own members (alreadyExists' existingId).
 */
void jmap_w_set_error_open(struct jw *w, const char *type, const char *desc, const char *prop);
/* The same with properties props[0..n) (none when n is 0). */
void jmap_w_set_error_open_n(struct jw *w, const char *type, const char *desc,
			     const char *const *props, size_t n);
void jmap_w_set_error(struct jw *w, const char *key, const char *type, const char *desc,
		      const char *prop);
/* The SetError under key for a blob jmap_upload_put_by did not store (rc
 * its answer below 0, errno set with -1): Blob/upload's notCreated and
 * Blob/copy's notCopied (jmap_blob_methods.c). */
void jmap_w_upload_error(struct jw *w, const char *key, int rc);

/*
 * Every property one create or update got wrong (RFC 8620 §5.3: an
 * invalidProperties SetError's properties SHOULD name all of them, and
 * a client fixes them in one go): a type's check adds each bad property
 * and goes on to the next rather than stopping at the first; the first
 * description added is the SetError's. Names are kept by pointer (the
 * request's parsed JSON or constants: they outlive the answer). At most
 * one entry per property, so the list is bounded by the object's
 * properties: _member adds a member of the object being checked (the
 * parser refuses repeated names, so no look-up), _add a property named
 * by the check, skipped when already there. Zeroed to start (a set to
 * the request's arena); jmap_w_set_error_bad writes it under key.
 */
struct jmap_bad {
	struct arena *a;
	const char **v;
	size_t n, cap;
	const char *desc;
};
void jmap_bad_member(struct jmap_bad *b, const char *prop, const char *desc);
void jmap_bad_add(struct jmap_bad *b, const char *prop, const char *desc);
void jmap_w_set_error_bad(struct jw *w, const char *key, const struct jmap_bad *b);

/*
 * A SetError decided while one object is checked and written later under
 * its key: a check ends with `return jmap_set_fail(e, type, prop, desc)`
 * (-1), the caller writes it with jmap_w_set_err.
 */
struct jmap_set_err {
	const char *type, *prop, *desc;
	/* invalidRecipients' addresses (RFC 8621 §7.5), when any: strings. */
	const struct json_value *const *invalid;
	size_t ninvalid;
	/* A limit the error MUST name, when limit_name: tooManyRecipients'
	 * "maxRecipients" (RFC 8621 §7.5), the number in limit. */
	const char *limit_name;
	uint64_t limit;
	/* invalidProperties of every bad property, when bad.n (then in
	 * prop's place). */
	struct jmap_bad bad;
};
/* Inline, so the compiler sees the -1 and what a failed check leaves unset. */
static inline int jmap_set_fail(struct jmap_set_err *e, const char *type, const char *prop,
				const char *desc)
{
	e->type = type;
	e->prop = prop;
	e->desc = desc;
	return -1;
}
void jmap_w_set_err(struct jw *w, const char *key, const struct jmap_set_err *e);
/*
 * The SetError type of a store write that failed with rc for none of the
 * method's own reasons: a full disk (STORE_EFULL) is overQuota for a
 * create (RFC 8620 §5.3, the server's limit on what it stores) and
 * serverUnavailable for an update or destroy (§3.6.2: a resource is
 * temporarily short, retry later); anything else serverFail. The
 * description goes with it (NULL for serverFail).
 */
const char *jmap_store_fail_type(int rc, int create);
const char *jmap_store_fail_desc(int rc);

/*
 * key: the members a side buffer collected, or null when there are none
 * (RFC 8620 answers null rather than an empty map for notFound, notSent,
 * notParsable and the like). b holds an object or array written whole.
 */
void jmap_w_raw_or_null(struct jw *w, const char *key, const struct buf *b, int any);

/*
 * The /get skeleton (RFC 8620 §5.1): begin checks the arguments against
 * args (accountId, ids, properties and the type's own), refuses more
 * than JMAP_MAX_OBJECTS_IN_GET ids (requestTooLarge) and any property
 * not in known[0..n) (invalidArguments); 0, or -1 with the error set.
 * g->ids is the ids without repeats (jmap_ids_unique).
 * wants: 1 when property p is asked for ("id" always); has_id: 1 when
 * id is asked for (ids null asks for every one). list writes
 * {accountId, state, "list": [ (state NULL: {"list": [, for a type
 * without account or state, PushSubscription) and the caller writes the
 * objects; end
 * closes the list and writes notFound, the asked-for ids for which
 * found(arg, id) is 0 (found NULL: none was), and closes the answer.
 */
struct jmap_get {
	const struct json_value *ids, *props; /* NULL when absent */
};
int jmap_get_begin(struct jmap_call *c, const struct jmap_arg *args, size_t n,
		   const char *const *known, size_t nknown, struct jmap_get *g);
int jmap_get_wants(const struct jmap_get *g, const char *p);
/* The properties asked for as bits of known[0..n) (n <= 32, known[0]
 * "id", always set); every bit when properties is null. */
unsigned jmap_get_mask(const struct jmap_get *g, const char *const *known, size_t n);
int jmap_get_has_id(const struct jmap_get *g, const char *id);
void jmap_get_list(struct jmap_call *c, const char *state);
void jmap_get_end(struct jmap_call *c, const struct jmap_get *g,
		  int (*found)(void *arg, const char *id), void *arg);

/*
 * The head of a /changes (RFC 8620 §5.2) on the account's modseq: checks
 * the arguments (accountId, sinceState, maxChanges), writes the current
 * state into state, refuses maxChanges 0 (invalidArguments) and a
 * sinceState that is not ours or is after the current one
 * (cannotCalculateChanges). 0 with *since_r and *now_r (the modseqs) and
 * *max_r (maxChanges, 0 when absent); else -1 with the error set.
 */
int jmap_changes_begin(struct jmap_call *c, char state[24], uint64_t *since_r, uint64_t *now_r,
		       uint64_t *max_r);
/* The same with since (a modseq's spelling) checked in sinceState's
 * place (NULL: sinceState's): a type whose states can point inside a
 * step (Email/changes) passes the state before that step. */
int jmap_changes_begin_at(struct jmap_call *c, const char *since, char state[24],
			  uint64_t *since_r, uint64_t *now_r, uint64_t *max_r);

/*
 * A place in the change log: every change before modseq step, and of
 * step's changes those of its first skip emails, numbered in the order
 * the step first names them (jmap_step_place; a thread entry goes with
 * its email). skip 0 is the whole step, the state "<step>"; a place
 * part-way through one step (a mailbox of many emails destroyed, an
 * EXPUNGE of many) is spelled "<step>.<skip>", so Email/changes and
 * Thread/changes page inside it (RFC 8620 5.2: newState an intermediate
 * state) rather than refuse. Other types refuse that spelling.
 */
struct jmap_pos {
	uint64_t step, skip;
};
/* "N" (N, 0) or "N.K" (N, K) with K > 0 and N > 0; 0 or -1. _sep: with
 * another character in '.''s place (Mailbox/changes' "NmX"). */
int jmap_pos_parse(const char *s, struct jmap_pos *p);
int jmap_pos_parse_sep(const char *s, int sep, struct jmap_pos *p);
void jmap_pos_format(const struct jmap_pos *p, char out[48]);
/* Numbers a walk's email changes by their place among the emails of their
 * step (0 for its first); zeroed to start, jmap_idx_free(&idx) after. */
struct jmap_step {
	uint64_t cur;
	struct jmap_idx idx;
	size_t n;
};
size_t jmap_step_place(struct jmap_step *s, uint64_t modseq, uint32_t email);
/* 1 when a change at modseq, place i of its step, is after p. */
int jmap_pos_after(const struct jmap_pos *p, uint64_t modseq, size_t i);
/* jmap_changes_begin for a sinceState that may be a place inside a step:
 * *from that place, *since_r the modseq to walk the log from. */
int jmap_changes_begin_pos(struct jmap_call *c, char state[24], struct jmap_pos *from,
			   uint64_t *since_r, uint64_t *now_r, uint64_t *max_r);

/*
 * The /query answer (RFC 8620 §5.5) over a type's n sorted results:
 * window computes the slice [*pos_r, *end_r) from position (negative:
 * from the end) or from the anchor (is_anchor(arg, i, anchor) says
 * whether result i is it; anchorOffset added, clamped at 0) and limit
 * (a position past the end: an empty slice there, not at n); 0, or
 * -1 with anchorNotFound set. begin writes {accountId, queryState,
 * canCalculateChanges, position, "ids": [ and the caller writes the ids
 * of the slice; end closes them, adds total when calculateTotal asked
 * for it, and closes the answer.
 */
int jmap_query_window(struct jmap_call *c, size_t n,
		      int (*is_anchor)(void *arg, size_t i, const char *anchor), void *arg,
		      size_t *pos_r, size_t *end_r);
void jmap_query_begin(struct jmap_call *c, const char *state, int can_changes, size_t pos);
void jmap_query_end(struct jmap_call *c, size_t n);
/*
 * The /queryChanges answer (RFC 8620 §5.6) of a type that tells every
 * object changed since sinceQueryState removed (changed[0..nc), sorted
 * and made unique here; the RFC lets removed hold ids the old results
 * did not) and those of them among today's n sorted results (ids
 * res[0..n)) added at their index. maxChanges 0 is invalidArguments,
 * fewer than the changes tooManyChanges; total when calculateTotal.
 * prefix: the ids' letter ('E', 'M').
 */
void jmap_query_changes_end(struct jmap_call *c, const char *state, char prefix, uint32_t *changed,
			    size_t nc, const uint32_t *res, size_t n);
/* The /queryChanges of a type whose /query answers canCalculateChanges
 * false (RFC 8620 §5.6): the arguments checked, then
 * cannotCalculateChanges with why (may be NULL). */
void jmap_query_changes_refused(struct jmap_call *c, const char *why);
/* Sorts v[0..n) and drops repeats: the count left. */
size_t jmap_u32_sort_unique(uint32_t *v, size_t n);
/* 1 when sorted v[0..n) holds x. */
int jmap_u32_has(const uint32_t *v, size_t n, uint32_t x);
/* The index of the first of v[0..n) (ascending) not below x: n when none. */
/*
 * Writes key and the object or array b holds (built with a struct jw
 * and closed), or null when it holds no entry ("{}", "[]"): the members
 * RFC 8620 answers "null if none" (§5.3 created ... notDestroyed, §5.4
 * copied, notCopied; Email/import and Blob/upload likewise).
 */
void jmap_w_map_or_null(struct jw *w, const char *key, const struct buf *b);

size_t jmap_u32_lower(const uint32_t *v, size_t n, uint32_t x);

/*
 * The /set skeleton (RFC 8620 §5.3) every type's /set follows:
 *
 *   struct jmap_set s;
 *   if (jmap_set_begin(c, set_args, n, &s) < 0) return;  // args, the count
 *   ... load, the state into old ...
 *   if (jmap_set_if_in_state(c, old) < 0) return;        // stateMismatch
 *   jmap_set_open(&s, max);
 *   ... s.create/s.update/s.destroy into s.w[JMAP_SET_*], SetErrors
 *       into s.w[JMAP_SET_NOT_*] (jmap_w_set_error) ...
 *   jmap_set_end(c, &s, old, now);                        // the answer
 *
 * begin checks the arguments against args (the type's table: the five of
 * §5.3 and its own) and refuses more than JMAP_MAX_OBJECTS_IN_SET
 * objects (requestTooLarge); 0, or -1 with the error set. open starts
 * the six writers (created and updated objects, destroyed an array, the
 * three not* objects), each buffer at most max octets. end writes
 * {accountId, oldState, newState, created, updated, destroyed,
 * notCreated, notUpdated, notDestroyed} and frees them (old NULL: a
 * type without account or state, PushSubscription: no accountId and
 * states, and the not* members only when not empty); jmap_set_free
 * frees them without an answer (an error set after open).
 */
enum { JMAP_SET_CREATED, JMAP_SET_UPDATED, JMAP_SET_DESTROYED, JMAP_SET_NOT_CREATED,
       JMAP_SET_NOT_UPDATED, JMAP_SET_NOT_DESTROYED, JMAP_SET_N };
struct jmap_set {
	const struct json_value *create, *update, *destroy; /* NULL when absent */
	struct buf b[JMAP_SET_N];
	struct jw w[JMAP_SET_N];
	int open;
};
int jmap_set_begin(struct jmap_call *c, const struct jmap_arg *args, size_t n, struct jmap_set *s);
int jmap_set_if_in_state(struct jmap_call *c, const char *old);
void jmap_set_open(struct jmap_set *s, size_t max);
void jmap_set_end(struct jmap_call *c, struct jmap_set *s, const char *old, const char *now);
void jmap_set_free(struct jmap_set *s);

/* A creation id's id (#cid in a reference to a created object), or NULL. */
const char *jmap_created_get(struct jmap_request *r, const char *cid);
void jmap_created_put(struct jmap_request *r, const char *cid, const char *id);
/*
 * An id where the client may also write "#" and a creation id (RFC 8620
 * §5.3: a property naming an object, and /set's update keys and destroy
 * entries, errata 6607): s itself when it does not start with "#", else
 * the id made for that creation id earlier in the request (r's memory),
 * or NULL when none was. A /set reports an object found this way under
 * its id (§5.3: updated and destroyed list ids), one not found
 * (notFound) under s as given.
 */
const char *jmap_id_ref(struct jmap_request *r, const char *s);
/* jmap_id_num of s, a "#" and creation id first made the id it names
 * (a filter's inMailbox or parentId, a /query anchor: RFC 8620 §5.3
 * lets "#cid" stand for the id anywhere later in the request); 0 when
 * it names none. */
uint32_t jmap_ref_num(struct jmap_request *r, const char *s, char prefix);

/*
 * The collations a Comparator may name (RFC 8620 §5.5), the list the
 * session's collationAlgorithms shows: NULL-terminated.
 */
extern const char *const jmap_collations[];
/*
 * A Comparator's "collation": JMAP_COLLATION_NUMERIC for i;ascii-numeric,
 * JMAP_COLLATION_ASCII for i;ascii-casemap, JMAP_COLLATION_DEFAULT when
 * absent or i;unicode-casemap; else -1 with unsupportedSort (or
 * invalidArguments for a value that is no string) set on c.
 */
#define JMAP_COLLATION_DEFAULT 0
#define JMAP_COLLATION_NUMERIC 1
#define JMAP_COLLATION_ASCII 2
int jmap_comparator_collation(struct jmap_call *c, const struct json_value *comparator);

/* ---- JSON Pointer with "*" (jmap_pointer.c, RFC 8620 §3.7) ---- */
/* Evaluates path against root into *out_r (new nodes from a). 0 or -1. */
int jmap_pointer(struct arena *a, const struct json_value *root, const char *path,
		 const struct json_value **out_r);
/*
 * Checks the paths of PatchObject patch (RFC 8620 §5.3) against cur, the
 * object being patched in its /get form (NULL: it has no property that
 * is an object). A key holding "/" is a JSON Pointer whose parts before
 * the last must name objects that exist in cur, never an array (arrays
 * are replaced whole), with only "~0" and "~1" escapes; and no key may
 * be the prefix of another ("a" with "a/b"). 0 when the patch is well
 * formed; -1 (the SetError is invalidPatch) with *desc_r, static, saying
 * why. Memory from a. What the paths set is the caller's to check.
 */
int jmap_patch_check(struct arena *a, const struct json_value *cur, const struct json_value *patch,
		     const char **desc_r);
/* The one rule of those that needs no cur: no key of patch is the
 * prefix, up to a "/", of another (RFC 8620 §5.3). For the members a
 * type checks on its own (Mailbox's shareWith). 0, or -1 with *desc_r. */
int jmap_patch_prefix_check(struct arena *a, const struct json_value *patch, const char **desc_r);
/* 1 when x and y are the same JSON value (an object's members in any
 * order, numbers by value), else 0. */
int jmap_json_same(const struct json_value *x, const struct json_value *y);
/*
 * 1 when the member p of a PatchObject (a property, or a path into one)
 * sets what cur, the object in its /get form, has there already: RFC
 * 8620 §5.3 has a server accept a server-set or immutable property in an
 * update when "the value is the same as the current value". 0 otherwise
 * (cur NULL, or nothing there). Memory from a.
 */
int jmap_patch_same(struct arena *a, const struct json_value *cur, const struct json_value *p);
/* The JSON that w wrote into b, parsed into a; NULL when w failed. */
const struct json_value *jmap_json_of(struct arena *a, const struct jw *w, const struct buf *b);

/* ---- the account's sending addresses (jmap_identity.c) ---- */
/* The account's address, display name ("" when none) and every address
 * it may send from (its own first, then the aliases whose target it is),
 * all in r's arena. 0 or -1 (store error). */
int jmap_account_addresses(struct jmap_request *r, const char **email_r, const char **display_r,
			   const char ***v_r, size_t *n_r);
/* The address of identity id (in r's arena), or NULL when none. */
const char *jmap_identity_email(struct jmap_request *r, const char *id);
/* 1 when addr (any case) is one of those, 0 when not, -1 store error. */
int jmap_account_may_send(struct jmap_request *r, const char *addr);
/* 1 when addr (len octets) is one mailbox as an SMTP RCPT TO path takes
 * it (RFC 5321 §4.1.2, by the SMTP parser), "@" and all: no route, no
 * parameters, no CR, LF or NUL (jmap_submission.c). The one check of an
 * address a client gives: the envelope's, an Identity's replyTo and bcc. */
int jmap_addr_valid(const char *addr, size_t len);

/*
 * ---- Sharing (RFC 9670): rights objects and principal ids
 * (jmap_mailbox_share.c) ----
 * A rights object has myRights' names (RFC 8621 §2) and mayShare, mapped
 * to STORE_ACL_* as myRights is. _bits: the letters of one name, 0 for a
 * name that is none. _of: an object of such names with boolean values
 * into *rights_r (left-out names false): 0, -1 when it is not one, -2
 * when the letters cannot say it (mayRename and mayDelete differ: "x").
 */
uint32_t jmap_share_right_bits(const char *name);
void jmap_w_share_rights(struct jw *w, uint32_t rights);
int jmap_share_rights_of(const struct json_value *o, uint32_t *rights_r);
/* A Principal's id: "P" and the account's number as 8 hex digits. */
void jmap_w_principal_id(struct jw *w, uint32_t account);
/* The accounts whose Principals r's user sees (Principal/get's list,
 * jmap_principal.c), ascending, in r->a: 0, or -1 when the store could
 * not be read. */
int jmap_principals_visible(struct jmap_request *r, uint32_t **ids_r, size_t *n_r);
/* The user's Account object (RFC 8620 §2) for account id (the user's
 * own or one shared with it, with that share's union of rights) as the
 * session lists it (jmap_session.c); name is the owner's address. */
void jmap_w_account_object(struct jw *w, uint32_t user, uint32_t id, const char *name,
			   uint32_t rights);

/* ---- methods ---- */
void jmap_core_echo(struct jmap_call *c);
void jmap_mailbox_get(struct jmap_call *c);
void jmap_mailbox_changes(struct jmap_call *c);
void jmap_mailbox_query(struct jmap_call *c);
void jmap_mailbox_query_changes(struct jmap_call *c);
void jmap_mailbox_set(struct jmap_call *c);
void jmap_thread_get(struct jmap_call *c);
void jmap_thread_changes(struct jmap_call *c);
void jmap_email_get(struct jmap_call *c);
void jmap_email_changes(struct jmap_call *c);
void jmap_email_query(struct jmap_call *c);
void jmap_email_query_changes(struct jmap_call *c);
void jmap_email_set(struct jmap_call *c);
/* The mask of a JSON list of type names (a PushSubscription's types, a
 * WebSocketPushEnable's dataTypes): absent or null is every type; -1 when
 * it is neither null nor a list of names a TypeState may hold, each one
 * name exactly (jmap_push_types' "*" and comma lists are not names). A
 * name we do not know is bad, as Stalwart and Cyrus have it: dropped
 * unseen, a misspelt type left the client wondering why no push came. */
long jmap_push_type_list(const struct json_value *t);
void jmap_pushsub_get(struct jmap_call *c);
void jmap_pushsub_set(struct jmap_call *c);
void jmap_email_import(struct jmap_call *c);
void jmap_snippet_get(struct jmap_call *c);
void jmap_identity_get(struct jmap_call *c);
void jmap_identity_changes(struct jmap_call *c);
void jmap_identity_set(struct jmap_call *c);
void jmap_quota_get(struct jmap_call *c);
void jmap_quota_changes(struct jmap_call *c);
void jmap_quota_query(struct jmap_call *c);
void jmap_quota_query_changes(struct jmap_call *c);
void jmap_vacation_get(struct jmap_call *c);
void jmap_vacation_set(struct jmap_call *c);
void jmap_email_parse(struct jmap_call *c);
void jmap_email_copy(struct jmap_call *c);
void jmap_blob_copy(struct jmap_call *c);
void jmap_submission_get(struct jmap_call *c);
void jmap_submission_changes(struct jmap_call *c);
void jmap_submission_query(struct jmap_call *c);
void jmap_submission_query_changes(struct jmap_call *c);
void jmap_submission_set(struct jmap_call *c);
void jmap_blob_upload(struct jmap_call *c);
void jmap_blob_get(struct jmap_call *c);
void jmap_blob_lookup(struct jmap_call *c);
void jmap_sieve_get(struct jmap_call *c);
void jmap_sieve_changes(struct jmap_call *c);
void jmap_sieve_query(struct jmap_call *c);
void jmap_sieve_query_changes(struct jmap_call *c);
void jmap_sieve_set(struct jmap_call *c);
void jmap_sieve_validate(struct jmap_call *c);
void jmap_mdn_send(struct jmap_call *c);
void jmap_mdn_parse(struct jmap_call *c);
void jmap_principal_get(struct jmap_call *c);
void jmap_principal_changes(struct jmap_call *c);
void jmap_principal_query(struct jmap_call *c);
void jmap_principal_query_changes(struct jmap_call *c);
void jmap_principal_set(struct jmap_call *c);
void jmap_sharenote_get(struct jmap_call *c);
void jmap_sharenote_changes(struct jmap_call *c);
void jmap_sharenote_query(struct jmap_call *c);
void jmap_sharenote_query_changes(struct jmap_call *c);
void jmap_sharenote_set(struct jmap_call *c);

#endif
