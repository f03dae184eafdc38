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
struct store;

/* A response already made in this request (for result references). */
struct jmap_resp {
	const char *name, *id;
	const char *args; /* JSON text of its arguments */
	size_t args_len;
	struct json_value *tree; /* args parsed, on first reference */
};

/* A creation id given or made in this request (createdIds, §3.3). */
struct jmap_created {
	const char *cid, *id;
	struct jmap_created *next;
};

struct jmap_request {
	struct store *st;
	uint32_t account;
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
};

#define JMAP_USING_CORE 1u
#define JMAP_USING_MAIL 2u
#define JMAP_USING_SUBMISSION 4u
#define JMAP_USING_VACATION 8u
#define JMAP_USING_QUOTA 16u
#define JMAP_USING_BLOB 32u
#define JMAP_USING_SIEVE 64u

struct jmap_call {
	struct jmap_request *r;
	const char *name, *id;
	const struct json_value *args;
	struct buf out; /* response arguments */
	struct jw w;
	const char *err_type, *err_desc;
	const char *err_props[8]; /* invalidArguments / invalidProperties names */
	int nerr_props;
};

struct jmap_method {
	const char *name;
	unsigned cap; /* JMAP_USING_* needed */
	void (*fn)(struct jmap_call *c);
};

/* jmap_api() on a request already parsed (from a): jmap_ws.c's way in. */
int jmap_api_request(struct store *st, uint32_t account, const struct json_value *req,
		     struct arena *a, struct buf *out);

/*
 * Writes through the store writer's group commit (jmap_write.c), for
 * the API's job threads: they block until the commit, like the
 * synchronous forms (store_email_keywords of one uid, store_expunge of
 * one uid), with the same results and change-feed notification.
 */
enum store_kw_op;
struct store_kw_result;
int jmap_write_keywords(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uid,
			enum store_kw_op op, const char *keywords, struct store_kw_result *res);
int jmap_write_expunge(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		       uint32_t uid);

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
#define JMAP_FILTER_DEPTH 8
typedef int jmap_cond_fn(struct jmap_call *c, const struct json_value *cond, void *arg);
int jmap_filter_match(struct jmap_call *c, const struct json_value *f, jmap_cond_fn *cond, void *arg);

/* Expected type of one argument. */
enum jmap_kind {
	JA_ID,       /* a string of 1..255 URL-safe base64 characters */
	JA_STRING,
	JA_BOOL,
	JA_UINT,     /* UnsignedInt: 0 .. 2^53-1 */
	JA_INT,      /* Int: -2^53+1 .. 2^53-1 */
	JA_OBJECT,
	JA_IDS,      /* Id[] */
	JA_STRINGS,  /* String[] */
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

/* Ids in the store's numbering: "M%08x" etc. parsed; 0 when not ours. */
uint32_t jmap_id_num(const char *s, char prefix);
/* Writes "<prefix>%08x" as a JSON string. */
void jmap_w_id(struct jw *w, char prefix, uint32_t n);
/* The account's state string (its modseq) into out (24 octets);
 * 0 or -1 (serverFail set on c). */
int jmap_state(struct jmap_call *c, char out[24]);
/* A state string given by a client: its modseq, or -1 when not one of ours. */
int jmap_state_parse(const char *s, uint64_t *modseq_r);
/* Begins c's response object with "accountId" written. */
void jmap_begin(struct jmap_call *c);

/*
 * The one SetError writer (RFC 8620 §5.3): under key (NULL: where the
 * writer stands) {type, description when desc, properties: [prop] when
 * prop}. _open writes it without key and leaves the object open for a
 * type's own members (alreadyExists' existingId).
 */
void jmap_w_set_error_open(struct jw *w, const char *type, const char *desc, const char *prop);
void jmap_w_set_error(struct jw *w, const char *key, const char *type, const char *desc,
		      const char *prop);
/*
 * /changes of a type that keeps no log of its changes: the empty answer
 * when since is the current state, else cannotCalculateChanges with desc
 * (the client fetches the objects again).
 */
void jmap_changes_unlogged(struct jmap_call *c, const char *since, const char *state,
			   const char *desc);

/* A creation id's id (#cid in a reference to a created object), or NULL. */
const char *jmap_created_get(struct jmap_request *r, const char *cid);
void jmap_created_put(struct jmap_request *r, const char *cid, const char *id);

/* ---- JSON Pointer with "*" (jmap_pointer.c, RFC 8620 §3.7) ---- */
/* Evaluates path against root into *out_r (new nodes from a). 0 or -1. */
int jmap_pointer(struct arena *a, const struct json_value *root, const char *path,
		 const struct json_value **out_r);

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

#endif
