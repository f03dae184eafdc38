/*
 * jmap_share.c — other users' mailboxes as JMAP accounts (RFC 8620
 * §1.6.2, RFC 8621 §2 myRights): the grants IMAP's shared namespace
 * reads (store_acl.c) shown as accounts of the session.
 *
 * Accounts. An owner that gives the user "l" on at least one mailbox is
 * an account of the user's session, isPersonal false. Its id is the
 * owner's own account id ("A%08x" of the owner's number), the one the
 * owner's session lists as personal: ids agree across users, as
 * mailbox and email ids already do (they are the owner's numbers too).
 * isReadOnly is true when no visible mailbox gives a right that writes
 * (RFC 8620 §1.6.2: "the entire account is read-only").
 *
 * What the user sees of the account. A mailbox without "l" does not
 * exist for the user (RFC 4314 §6, as IMAP's LIST of the shared
 * namespace): it is left out of every list, and an id naming it is not
 * found. An email is visible when it is in at least one mailbox whose
 * items the user may read, "l" and "r" both (RFC 8621 §2,
 * mayReadItems: "Corresponds to IMAP ACLs lr ... both are required"),
 * and its mailboxIds name only those mailboxes.
 *
 * The session's state (RFC 8620 §2) changes with these accounts: "0"
 * while there is none (as before sharing), else a hash of each one's id
 * and isReadOnly, so that a grant given or taken away tells a client,
 * through a Response's sessionState, to fetch the session again.
 *
 * States. A grant change writes a Mailbox update of its mailbox in the
 * owner's change log (store_acl.c, STORE_CHANGE_GRANT): every view of
 * the account sees the state move and the mailbox updated, and the
 * grantee's Mailbox/changes tells it destroyed once "l" is gone
 * (jmap_mailbox_changes.c). The emails of a mailbox whose "l" and "r"
 * came or went appear or vanish for the user with no entry of their
 * own, and listing them could mean every email of a large mailbox in
 * one step: Email/changes, Thread/changes and Email/queryChanges over
 * such a grant change answer cannotCalculateChanges instead (RFC 8620
 * §5.2: the client fetches the account again), bounded whatever the
 * mailbox holds (jmap_share_reads_moved). A grant change that leaves
 * "l" and "r" as they were (a "w" given) does not: the readable emails
 * are the same, and their mailboxIds too.
 *
 * Calls. A method call in a shared account runs with the request's
 * account switched to the owner for that call (jmap_share_enter, from
 * jmap_api.c), and share naming the grants; only methods marked
 * JMAP_M_SHARED in the table accept such an account, the others answer
 * accountNotSupportedByMethod (RFC 8620 §3.6.2) so that no method that
 * was not written for it ever runs on another user's data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/xalloc.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/* The rights that write something in the account (isReadOnly). */
#define SHARE_WRITE_RIGHTS                                                                       \
	(STORE_ACL_S | STORE_ACL_W | STORE_ACL_I | STORE_ACL_K | STORE_ACL_X | STORE_ACL_T |     \
	 STORE_ACL_E)

struct accounts_ctx {
	struct jmap_shared_account *v;
	size_t n, cap;
};

/* Grants come by (owner, mailbox): one entry per owner, its rights
 * ORed over the mailboxes it lets the user see. */
static void accounts_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			uint32_t rights)
{
	struct accounts_ctx *x = arg;

	(void)mailbox;
	(void)grantee;
	if (!(rights & STORE_ACL_L))
		return;
	if (x->n && x->v[x->n - 1].owner == owner) {
		x->v[x->n - 1].rights |= rights;
		return;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 8;
		x->v = xrealloc(x->v, x->cap * sizeof *x->v);
	}
	x->v[x->n].owner = owner;
	x->v[x->n].rights = rights;
	x->n++;
}

/* JMAP_SHARE_TOP_CREATE into a's rights when user holds "k" on the
 * owner's INBOX (jmap_share_set.c's rule for a mailbox at the top):
 * read only when some grant gives "k" at all. 0 or -1. */
static int top_create(struct store *st, uint32_t user, struct jmap_shared_account *a)
{
	uint32_t inbox, rights = 0;
	int rc;

	if (!(a->rights & STORE_ACL_K))
		return 0;
	if ((rc = store_mailbox_find(st, a->owner, "INBOX", &inbox)) == STORE_ENOTFOUND)
		return 0;
	if (rc != STORE_OK ||
	    ((rc = store_mailbox_rights(st, user, a->owner, inbox, &rights)) != STORE_OK &&
	     rc != STORE_ENOTFOUND))
		return -1;
	if (rights & STORE_ACL_K)
		a->rights |= JMAP_SHARE_TOP_CREATE;
	return 0;
}

int jmap_shared_accounts(struct store *st, uint32_t user, struct jmap_shared_account **v_r,
			 size_t *n_r)
{
	struct accounts_ctx x = {0};

	if (store_acl_shared_with(st, user, accounts_cb, &x) != STORE_OK) {
		free(x.v);
		return -1;
	}
	for (size_t i = 0; i < x.n; i++)
		if (top_create(st, user, &x.v[i]) < 0) {
			free(x.v);
			return -1;
		}
	*v_r = x.v;
	*n_r = x.n;
	return 0;
}

int jmap_shared_read_only(uint32_t rights)
{
	return !(rights & SHARE_WRITE_RIGHTS);
}

void jmap_session_state_of(const struct jmap_shared_account *v, size_t n, char out[24])
{
	/* FNV-1a over what the session shows of each account: its id,
	 * isReadOnly and mayCreateTopLevelMailbox (the name follows the id). */
	uint64_t h = 14695981039346656037ull;

	if (n == 0) {
		memcpy(out, "0", 2);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t x[2] = {v[i].owner, (uint32_t)jmap_shared_read_only(v[i].rights) |
						 (v[i].rights & JMAP_SHARE_TOP_CREATE)};
		const uint8_t *p = (const uint8_t *)x;
		for (size_t k = 0; k < sizeof x; k++)
			h = (h ^ p[k]) * 1099511628211ull;
	}
	snprintf(out, 24, "s%llx", (unsigned long long)h);
}

int jmap_session_state(struct store *st, uint32_t user, char out[24])
{
	struct jmap_shared_account *v;
	size_t n;

	if (jmap_shared_accounts(st, user, &v, &n) < 0)
		return -1;
	jmap_session_state_of(v, n, out);
	free(v);
	return 0;
}

struct load_ctx {
	struct jmap_share *s;
	struct arena *a;
	size_t cap;
	int seen; /* a mailbox with "l" */
};

static void load_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee, uint32_t rights)
{
	struct load_ctx *x = arg;
	struct jmap_share *s = x->s;

	(void)grantee;
	/* Without "l" the mailbox is not there for the user: kept out. */
	if (owner != s->owner || !(rights & STORE_ACL_L))
		return;
	if (s->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct jmap_share_grant *nv = arena_alloc(x->a, cap * sizeof *nv);
		if (s->n)
			memcpy(nv, s->grant, s->n * sizeof *nv);
		s->grant = nv;
		x->cap = cap;
	}
	s->grant[s->n].mailbox = mailbox;
	s->grant[s->n].rights = rights;
	s->n++;
	x->seen = 1;
}

int jmap_share_load(struct store *st, uint32_t user, uint32_t owner, struct arena *a,
		    struct jmap_share *s)
{
	struct load_ctx x = {s, a, 0, 0};

	memset(s, 0, sizeof *s);
	s->owner = owner;
	if (owner == 0 || owner == user)
		return 1;
	if (store_acl_shared_with(st, user, load_cb, &x) != STORE_OK)
		return -1;
	return x.seen ? 0 : 1;
}

uint32_t jmap_rights(const struct jmap_request *r, uint32_t mailbox)
{
	return jmap_share_rights(r->share, mailbox);
}

uint32_t jmap_share_rights(const struct jmap_share *s, uint32_t mailbox)
{
	size_t lo = 0, hi;

	if (!s)
		return STORE_ACL_ALL;
	/* The store lists an owner's grants by mailbox id: a binary search. */
	hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->grant[mid].mailbox == mailbox)
			return s->grant[mid].rights;
		if (s->grant[mid].mailbox < mailbox)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int jmap_may_read(const struct jmap_request *r, uint32_t mailbox)
{
	return jmap_share_may_read(r->share, mailbox);
}

int jmap_share_may_read(const struct jmap_share *s, uint32_t mailbox)
{
	uint32_t need = STORE_ACL_L | STORE_ACL_R;

	return (jmap_share_rights(s, mailbox) & need) == need;
}

uint32_t jmap_member_mailbox(const uint8_t *members, size_t i)
{
	const uint8_t *p = members + 8 * i;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int jmap_email_readable(const struct jmap_request *r, const uint8_t *members, size_t nmembers)
{
	if (!r->share)
		return 1;
	for (size_t i = 0; i < nmembers; i++)
		if (jmap_may_read(r, jmap_member_mailbox(members, i)))
			return 1;
	return 0;
}

static void id_readable_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct {
		const struct jmap_request *r;
		int ok;
	} *x = arg;

	(void)i;
	x->ok = b && jmap_email_readable(x->r, b->members, b->nmembers);
}

int jmap_email_id_readable(const struct jmap_request *r, uint32_t id)
{
	struct {
		const struct jmap_request *r;
		int ok;
	} x = {r, 0};

	if (!r->share)
		return 1;
	if (store_emails_get(r->st, r->account, &id, 1, id_readable_cb, &x) != STORE_OK)
		return -1;
	return x.ok;
}

int jmap_share_grant_mine(const struct jmap_request *r, const struct store_change *sc)
{
	uint32_t grantee, was, now;

	return r->share && store_change_grant(sc, &grantee, &was, &now) &&
	       (grantee == r->user || grantee == STORE_ACL_ANYONE);
}

struct reads_moved {
	const struct jmap_request *r;
	uint64_t upto;
	int moved;
};

static int reads_moved_cb(void *arg, const struct store_change *sc)
{
	struct reads_moved *x = arg;
	uint32_t grantee, was, now, lr = STORE_ACL_L | STORE_ACL_R;

	if (sc->modseq > x->upto)
		return 1;
	if (!jmap_share_grant_mine(x->r, sc))
		return 0;
	store_change_grant(sc, &grantee, &was, &now);
	x->moved = ((was & lr) == lr) != ((now & lr) == lr);
	return x->moved;
}

int jmap_share_reads_moved(const struct jmap_request *r, uint64_t since, uint64_t upto)
{
	struct reads_moved x = {r, upto, 0};

	if (!r->share)
		return 0;
	if (store_changes_since(r->st, r->account, since, reads_moved_cb, &x) != STORE_OK)
		return -1;
	return x.moved;
}

void jmap_share_reads_error(struct jmap_call *c, int moved)
{
	if (moved < 0)
		jmap_error(c, "serverFail", NULL);
	else
		jmap_error(c, "cannotCalculateChanges",
			   "a grant changed which mailboxes of this account may be read since that state");
}

int jmap_share_enter(struct jmap_call *c, unsigned method_flags, struct jmap_share *s)
{
	struct jmap_request *r = c->r;
	const struct json_value *v = json_get(c->args, "accountId");
	uint32_t owner;

	if (!v || v->type != JSON_STRING || (owner = jmap_id_num(v->str, 'A')) == 0 ||
	    owner == r->user)
		return 0;
	switch (jmap_share_load(r->st, r->user, owner, r->a, s)) {
	case -1: jmap_error(c, "serverFail", "the store could not be read"); return -1;
	case 1: return 0; /* not shared with the user: accountNotFound later */
	}
	if (!(method_flags & JMAP_M_SHARED)) {
		jmap_error(c, "accountNotSupportedByMethod",
			   "this method does not work on a shared account yet");
		return -1;
	}
	r->account = owner;
	r->share = s;
	return 1;
}

void jmap_share_leave(struct jmap_request *r)
{
	r->account = r->user;
	r->share = NULL;
}
