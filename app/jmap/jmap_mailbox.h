/*
 * jmap_mailbox.h — an account's mailboxes loaded for the Mailbox methods
 * (jmap_mailbox_load.c).
 */
#ifndef TERN_JMAP_JMAP_MAILBOX_H
#define TERN_JMAP_JMAP_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct jmap_request;
struct json_value;
struct jw;
struct store;

struct jmap_mailbox {
	uint32_t id, parent;
	const char *full, *leaf, *role; /* role "" for none */
	int subscribed;
	uint32_t messages, uidvalidity;
	uint32_t total, unread, threads, unread_threads; /* RFC 8621 §2 counts */
	uint32_t sort_order;
	uint32_t rights; /* the user's STORE_ACL_* (every one in its own account) */
	/* Its grants, for shareWith (jmap_mailbox_share.c): loaded by
	 * jmap_mailbox_share_load, share_loaded 0 before (shareWith null). */
	const struct jmap_share_with *share;
	size_t nshare;
	int share_loaded;
};
/* One grant of a mailbox to an account (not "anyone"). */
struct jmap_share_with {
	uint32_t mailbox, grantee, rights;
};

struct jmap_mailboxes {
	struct arena *a;
	struct jmap_mailbox *v;
	size_t n, cap;
};

/* Loads account's mailboxes with their counts into a's memory. 0 or -1
 * (store error). */
int jmap_mailboxes_load(struct store *st, uint32_t account, struct arena *a,
			struct jmap_mailboxes *m);
/*
 * The mailboxes of the running call's account as its user sees them:
 * jmap_mailboxes_load, and in a shared account (jmap_share.c) only those
 * with "l", each with its rights, its parent the nearest ancestor the
 * user sees (0: none) and isSubscribed the user's own subscription of
 * its IMAP name there ("Shared/OWNER/NAME"). 0 or -1 (store error).
 */
int jmap_mailboxes_view(const struct jmap_request *r, struct jmap_mailboxes *m);
/* One more (zeroed, rights every one) at the end of m, in m->a's memory; earlier pointers
 * into m->v may move. */
struct jmap_mailbox *jmap_mailboxes_add(struct jmap_mailboxes *m);
/* The one with id, or NULL. */
struct jmap_mailbox *jmap_mailbox_by_id(struct jmap_mailboxes *m, uint32_t id);
/* b as Mailbox/get writes it, every property, parsed into a (NULL on
 * failure; jmap_mailbox.c). */
const struct json_value *jmap_mailbox_json(struct arena *a, const struct jmap_mailbox *b);
/* Writes b's myRights object (RFC 8621 §2, from b->rights) to w
 * (jmap_mailbox.c). */
void jmap_mailbox_w_rights(struct jw *w, const struct jmap_mailbox *b);

/*
 * ---- Sharing a mailbox (RFC 9670 §4, jmap_mailbox_share.c) ----
 * _load fills every mailbox's grants where the user holds "a" (one scan
 * of the owner's grants): 0 or -1 (store error). _w_share_with writes
 * b's shareWith: principal id -> rights, or null without "a" or before
 * the load.
 */
int jmap_mailbox_share_load(const struct jmap_request *r, struct jmap_mailboxes *m);
void jmap_mailbox_w_share_with(struct jw *w, const struct jmap_mailbox *b);
/*
 * A Mailbox/set update's shareWith members ("shareWith", "shareWith/P…"
 * and "shareWith/P…/mayX"): _take checks them (forbidden without "a",
 * invalidProperties for a bad one) into sc, *rest_r the patch without
 * them (patch itself when it has none); 0, or -1 with e set and nothing
 * written. _apply writes sc's grants through the store after the rest of
 * the update succeeded: 0, or -1 with e set.
 */
struct jmap_set_err;
struct jmap_call;
struct jmap_share_op {
	uint32_t grantee;
	int mode; /* STORE_ACL_REPLACE, _ADD, _REMOVE */
	uint32_t rights;
};
struct jmap_share_change {
	struct jmap_share_op *op;
	size_t n, cap;
};
int jmap_mailbox_share_take(struct jmap_call *c, const struct jmap_mailbox *b,
			    const struct json_value *patch, const struct json_value **rest_r,
			    struct jmap_share_change *sc, struct jmap_set_err *e);
int jmap_mailbox_share_apply(struct jmap_call *c, const struct jmap_mailbox *b,
			     const struct jmap_share_change *sc, struct jmap_set_err *e);

/*
 * ---- Mailbox/set in a shared account (jmap_share_set.c) ----
 * In the user's own account each lets everything through and names the
 * user's own records.
 */
/* The name the user's subscription of the account's mailbox full is
 * kept under: full itself, or "Shared/OWNER/full" (in r->a; NULL when
 * the store could not be read). */
const char *jmap_share_sub_name(const struct jmap_request *r, const char *full);
/* store_mailbox_subscribe of that name for the user. */
int jmap_share_subscribe(const struct jmap_request *r, const char *full, int on);
/* Why the user may not do it (the description of a "forbidden"), or
 * NULL: a create under parent (0: the top) with a role (role 1) or a
 * sortOrder other than 0; an update of b's role or sortOrder; b's
 * destroy (remove_emails: its emails go with it). */
const char *jmap_share_create_refused(const struct jmap_request *r, uint32_t parent, int role,
				      int sort_order);
const char *jmap_share_update_refused(const struct jmap_request *r, const struct jmap_mailbox *b,
				      int role, int sort_order);
const char *jmap_share_destroy_refused(const struct jmap_request *r, const struct jmap_mailbox *b,
				       int remove_emails);
/* The user's rights on a mailbox the call just made (0 on a store
 * error). */
uint32_t jmap_share_new_rights(const struct jmap_request *r, uint32_t mailbox);
/* Reads the grants of the call's shared account again (a create or a
 * rename changed them): 0 or -1. */
int jmap_share_refresh(struct jmap_request *r);
/* jmap_mailboxes_view into a's memory. */
int jmap_mailboxes_view_in(const struct jmap_request *r, struct arena *a,
			   struct jmap_mailboxes *m);

#endif
