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

#endif
