/*
 * imap_acl.c — RFC 4314 §4's table of the rights IMAP commands need on a
 * mailbox (imap_acl.h says how commands use it).
 */
#include "imap/imap_acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_mailbox_view.h"

/* All of these are needed for the row's operation. */
static const uint32_t need_all[IMAP_ACL_OP_COUNT] = {
    [IMAP_ACL_OP_LOOKUP] = STORE_ACL_L,
    [IMAP_ACL_OP_READ] = STORE_ACL_R,
    [IMAP_ACL_OP_APPEND] = STORE_ACL_I,
    /* MOVE sets \Deleted on the source and expunges it (RFC 6851 §3.3). */
    [IMAP_ACL_OP_MOVE_FROM] = STORE_ACL_T | STORE_ACL_E,
    [IMAP_ACL_OP_EXPUNGE] = STORE_ACL_E,
    [IMAP_ACL_OP_CREATE_UNDER] = STORE_ACL_K,
    [IMAP_ACL_OP_DELETE] = STORE_ACL_X,
    [IMAP_ACL_OP_ADMIN] = STORE_ACL_A,
    [IMAP_ACL_OP_MYRIGHTS] = 0, /* any right: below */
    [IMAP_ACL_OP_METADATA] = STORE_ACL_L, /* and one more: below */
    /* A /shared entry is what the owner and every grantee read: changing
     * it takes "w" as well, as Cyrus asks (RFC 5464's rule is a floor:
     * "users can only set ... on a mailbox on which they have"). */
    [IMAP_ACL_OP_METADATA_SHARED] = STORE_ACL_L | STORE_ACL_W,
};

int imap_acl_allows(uint32_t rights, enum imap_acl_op op)
{
	if ((unsigned)op >= IMAP_ACL_OP_COUNT)
		return 0;
	if (op == IMAP_ACL_OP_MYRIGHTS)
		return (rights & STORE_ACL_ALL) != 0;
	/* RFC 5464 (its ACL paragraph, as Dovecot's acl plugin quotes it):
	 * mailbox entries, private or shared, are read and set by a user
	 * holding "l" and any one of "r", "s", "w", "i" or "p". */
	if ((op == IMAP_ACL_OP_METADATA || op == IMAP_ACL_OP_METADATA_SHARED) &&
	    !(rights & (STORE_ACL_R | STORE_ACL_S | STORE_ACL_W | STORE_ACL_I | STORE_ACL_P)))
		return 0;
	return (rights & need_all[op]) == need_all[op];
}

unsigned imap_acl_flags_allowed(uint32_t rights, int *keywords_r)
{
	unsigned f = 0;

	if (rights & STORE_ACL_S)
		f |= IMAP_F_SEEN;
	if (rights & STORE_ACL_T)
		f |= IMAP_F_DELETED;
	if (rights & STORE_ACL_W)
		f |= IMAP_F_ANSWERED | IMAP_F_FLAGGED | IMAP_F_DRAFT;
	if (keywords_r)
		*keywords_r = (rights & STORE_ACL_W) != 0;
	return f;
}

static int word_is(const char *w, size_t n, const char *lower)
{
	size_t l = strlen(lower);
	if (n != l)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] + 32) : w[i];
		if (c != lower[i])
			return 0;
	}
	return 1;
}

uint32_t imap_acl_keyword_right(const char *w, size_t n)
{
	return word_is(w, n, "$seen")	   ? STORE_ACL_S
	       : word_is(w, n, "$deleted") ? STORE_ACL_T
					   : STORE_ACL_W;
}

size_t imap_acl_keywords_filter(uint32_t rights, char *kw, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		size_t st = i;
		while (i < len && kw[i] != ' ')
			i++;
		size_t n = i - st;
		i++; /* the space */
		if (n == 0)
			continue;
		if (!(rights & imap_acl_keyword_right(kw + st, n)))
			continue;
		if (out)
			kw[out++] = ' ';
		memmove(kw + out, kw + st, n);
		out += n;
	}
	return out;
}

struct store_kw_actor imap_acl_kw_actor(uint32_t user, int refuse)
{
	return (struct store_kw_actor){user, imap_acl_keywords_filter, refuse};
}

struct store_copy_into imap_acl_copy_into(uint32_t user, uint32_t account, uint32_t mailbox,
					  uint32_t rights)
{
	return (struct store_copy_into){
	    .account = account,
	    .mailbox = mailbox,
	    .rights = rights,
	    .keywords_filter = account != user ? imap_acl_keywords_filter : NULL,
	};
}

int imap_acl_select_readonly(uint32_t rights)
{
	return (rights & (STORE_ACL_I | STORE_ACL_E | STORE_ACL_S | STORE_ACL_W | STORE_ACL_T)) == 0;
}

/* "Shared/OWNER/M": OWNER (owner_r, NUL-terminated) and M; -1 when name
 * is no shared name. The owner's address ends at the first "/" after its
 * "@" (a domain has none; a local part may). */
static int shared_split(const char *name, char *owner_r, size_t ownersz, const char **rest_r)
{
	size_t pl = sizeof IMAP_ACL_PREFIX - 1;

	if (strncmp(name, IMAP_ACL_PREFIX, pl) != 0)
		return -1;
	const char *o = name + pl, *at = strchr(o, '@');
	const char *slash = at ? strchr(at, '/') : NULL;
	if (!slash || slash == o || (size_t)(slash - o) >= ownersz || slash[1] == '\0')
		return -1;
	memcpy(owner_r, o, (size_t)(slash - o));
	owner_r[slash - o] = '\0';
	*rest_r = slash + 1;
	return 0;
}

static int resolve(struct store *st, uint32_t account, const char *name, int shared_on,
		   struct imap_acl_target *t)
{
	char owner[STORE_ADDR_MAX + 1];
	const char *rest;
	int rc;

	memset(t, 0, sizeof *t);
	t->name = name;
	if (!shared_on || shared_split(name, owner, sizeof owner, &rest) != 0) {
		t->owner = account;
		t->rights = STORE_ACL_ALL;
		return store_mailbox_find(st, account, name, &t->mailbox);
	}
	t->shared = 1;
	t->name = rest;
	if ((rc = store_account_id(st, owner, &t->owner)) != STORE_OK)
		return rc;
	if (t->owner == account)
		return STORE_ENOTFOUND; /* its own are in the personal namespace */
	if ((rc = store_mailbox_find(st, t->owner, rest, &t->mailbox)) != STORE_OK)
		return rc;
	if ((rc = store_mailbox_rights(st, account, t->owner, t->mailbox, &t->rights)) != STORE_OK)
		return rc;
	return t->rights ? STORE_OK : STORE_ENOTFOUND;
}

int imap_acl_name_shared(const char *name)
{
	size_t pl = sizeof IMAP_ACL_PREFIX - 1;
	return IMAP_ACL_ENABLED &&
	       (strncmp(name, IMAP_ACL_PREFIX, pl) == 0 ||
		(strncmp(name, IMAP_ACL_PREFIX, pl - 1) == 0 && name[pl - 1] == '\0'));
}

int imap_acl_shared_owner(struct store *st, uint32_t account, const char *name,
			  uint32_t *owner_r)
{
	char owner[STORE_ADDR_MAX + 1];
	const char *rest;

	if (!IMAP_ACL_ENABLED || shared_split(name, owner, sizeof owner, &rest) != 0)
		return STORE_EINVAL;
	int rc = store_account_id(st, owner, owner_r);
	if (rc == STORE_OK && *owner_r == account)
		return STORE_ENOTFOUND; /* its own are in the personal namespace */
	return rc;
}

const char *imap_acl_owner_name(const char *name)
{
	char owner[STORE_ADDR_MAX + 1];
	const char *rest;

	return shared_split(name, owner, sizeof owner, &rest) == 0 ? rest : NULL;
}

int imap_acl_resolve(struct store *st, uint32_t account, const char *name,
		     struct imap_acl_target *t)
{
	return resolve(st, account, name, IMAP_ACL_ENABLED, t);
}

int imap_acl_resolve_any(struct store *st, uint32_t account, const char *name,
			 struct imap_acl_target *t)
{
	return resolve(st, account, name, 1, t);
}

/* The grants imap_acl_shared_each() walks: those with "l", up to max. */
struct shared_grants {
	struct {
		uint32_t owner, mailbox, rights;
	} *v;
	size_t n, cap, max;
};

static void shared_grant_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			    uint32_t rights)
{
	struct shared_grants *g = arg;
	(void)grantee;
	if (!(rights & STORE_ACL_L) || g->n >= g->max)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
	}
	g->v[g->n].owner = owner;
	g->v[g->n].mailbox = mailbox;
	g->v[g->n++].rights = rights;
}

struct shared_each {
	imap_acl_shared_cb *cb;
	void *arg;
	const char *owner_addr;
	uint32_t owner, rights;
};

static void shared_mailbox_cb(void *arg, const struct store_mailbox_info *info)
{
	struct shared_each *e = arg;
	size_t n = sizeof IMAP_ACL_PREFIX + strlen(e->owner_addr) + 1 + strlen(info->name);
	char *name = xmalloc(n);

	snprintf(name, n, IMAP_ACL_PREFIX "%s/%s", e->owner_addr, info->name);
	e->cb(e->arg, name, e->owner, e->rights, info);
	free(name);
}

int imap_acl_shared_each(struct store *st, uint32_t account, size_t max, imap_acl_shared_cb *cb,
			 void *arg)
{
	struct shared_grants g = { .max = max };
	char addr[STORE_ADDR_MAX + 1];
	uint32_t addr_of = 0;
	int rc = store_acl_shared_with(st, account, shared_grant_cb, &g);

	for (size_t i = 0; i < g.n && rc == STORE_OK; i++) {
		/* the grants come by owner: one address read each */
		if (addr_of != g.v[i].owner) {
			rc = store_account_email(st, g.v[i].owner, addr, sizeof addr);
			addr_of = rc == STORE_OK ? g.v[i].owner : 0;
		}
		struct shared_each e = { cb, arg, addr, g.v[i].owner, g.v[i].rights };
		if (rc == STORE_OK)
			rc = store_mailbox_get(st, g.v[i].owner, g.v[i].mailbox, shared_mailbox_cb, &e);
		if (rc == STORE_ENOTFOUND) /* gone meanwhile, or its owner */
			rc = STORE_OK;
	}
	free(g.v);
	return rc;
}
