/*
 * imap_acl.h — what each IMAP command needs on a mailbox of another
 * account (RFC 4314 §4), and the one switch that makes sharing reachable.
 *
 * The rights themselves (bits, letters, who holds what) are the store's
 * (store_acl.c, STORE_ACL_*); this is the protocol's table over them, so
 * that no command decides rights on its own: a command names its
 * operation and asks imap_acl_allows(). The owner holds every right, so
 * for an own mailbox every question answers yes with no store read.
 *
 * Flags are shared: every account that may see a message sees the same
 * \Seen and the same keywords (Dovecot's default without INDEXPVT; RFC
 * 4314 allows it). So "s" is a shared flag right like "w" and "t".
 */
#ifndef TERN_IMAP_IMAP_ACL_H
#define TERN_IMAP_IMAP_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * The switch, on since every command enforces the rights. Off (0), there
 * is no ACL capability, NAMESPACE shows only the personal namespace, the
 * RFC 4314 commands answer BAD as unknown commands and no shared name
 * resolves: kept so a build can leave sharing out in this one place.
 */
#define IMAP_ACL_ENABLED 1

/* The personal namespace's shared counterpart (RFC 2342): a mailbox M of
 * owner@example.test shared with the user is "Shared/owner@example.test/M"
 * (Cyrus and Stalwart name theirs in words too; Dovecot's "shared/"). */
#define IMAP_ACL_PREFIX STORE_SHARED_ROOT "/"

/* Operations on one mailbox, the rows of RFC 4314 §4's table. */
enum imap_acl_op {
	IMAP_ACL_OP_LOOKUP,       /* LIST, LSUB show it; a name resolves to it */
	IMAP_ACL_OP_READ,         /* SELECT, EXAMINE, STATUS, FETCH, SEARCH, SORT, THREAD */
	IMAP_ACL_OP_APPEND,       /* APPEND, COPY or MOVE into */
	IMAP_ACL_OP_MOVE_FROM,    /* MOVE out of (the source's \Deleted and expunge) */
	IMAP_ACL_OP_EXPUNGE,      /* EXPUNGE, UID EXPUNGE, CLOSE's expunge */
	IMAP_ACL_OP_CREATE_UNDER, /* CREATE with it as the parent; RENAME to under it */
	IMAP_ACL_OP_DELETE,       /* DELETE it; RENAME it (the old name) */
	IMAP_ACL_OP_ADMIN,        /* SETACL, DELETEACL, GETACL, LISTRIGHTS */
	IMAP_ACL_OP_MYRIGHTS,     /* MYRIGHTS: any right at all */
	IMAP_ACL_OP_METADATA,     /* GETMETADATA, SETMETADATA: "l" and one of "rswip" */
	IMAP_ACL_OP_METADATA_SHARED, /* SETMETADATA of a /shared entry: that and "w" */
	IMAP_ACL_OP_COUNT
};

/* 1 when rights allow op, 0 when not. */
int imap_acl_allows(uint32_t rights, enum imap_acl_op op);

/*
 * The system flags (IMAP_F_*) and whether keywords a STORE, APPEND or
 * COPY may set or clear with rights: \Seen needs "s", \Deleted "t", the
 * other flags and keywords "w" (RFC 4314 §4). A change asked of a flag
 * the user may not change is left out silently, as Dovecot does; the
 * command fails only when it needs a right it lacks altogether.
 */
unsigned imap_acl_flags_allowed(uint32_t rights, int *keywords_r);

/*
 * The right changing keyword w (n octets, the store's spelling, any
 * case) needs, for any protocol (JMAP's Email/set too, RFC 8621 §2's
 * maySetSeen and maySetKeywords): STORE_ACL_S for "$seen", STORE_ACL_T
 * for "$deleted" (IMAP's \Deleted, per mailbox: JMAP refuses it),
 * STORE_ACL_W for any other (RFC 4314 §4).
 */
uint32_t imap_acl_keyword_right(const char *w, size_t n);

/*
 * Keeps of kw (len octets: keywords separated by single spaces, the
 * system flags as the store's "$seen", "$deleted", ... in any case) those
 * rights let the user change (imap_acl_keyword_right), in place.
 * Returns the new length.
 */
size_t imap_acl_keywords_filter(uint32_t rights, char *kw, size_t len);

/* user as store_email_keywords_as_async() takes it, with the mapping
 * above: refuse 0 for IMAP (a flag user may not store is left as it is,
 * RFC 4314 §4), 1 for JMAP's Email/set (the change refused whole). */
struct store_kw_actor imap_acl_kw_actor(uint32_t user, int refuse);

/* The target of a copy user makes into account's mailbox, where its
 * rights are rights, as store_email_copy_into() takes it: the keywords
 * the copy keeps filtered by those rights (imap_acl_keywords_filter)
 * unless account is user's own (IMAP COPY/MOVE, JMAP's Email/copy).
 * The other members are zero for the caller to fill. */
struct store_copy_into imap_acl_copy_into(uint32_t user, uint32_t account, uint32_t mailbox,
					  uint32_t rights);

/* SELECT opens read-only when the user holds none of "i", "e" and the
 * shared flag rights "s", "w", "t" (RFC 4314 §4, SELECT's note): 1 then. */
int imap_acl_select_readonly(uint32_t rights);

/*
 * A client's mailbox name turned into the mailbox it stands for: the one
 * resolver every command goes through. owner is the account holding it,
 * name the owner's name for it (a pointer into the name given), rights
 * what the user may do (every right for an own mailbox: no store read).
 */
struct imap_acl_target {
	uint32_t owner, mailbox, rights;
	int shared;       /* 1: a name under IMAP_ACL_PREFIX */
	const char *name; /* the owner's name of the mailbox */
};

/*
 * Resolves name for account into t: an own name as store_mailbox_find()
 * does; with the switch on, "Shared/OWNER/M" to OWNER's mailbox M. A
 * shared name whose owner is no account (an alias included: a name
 * stands for one mailbox, and an alias may stand for several accounts),
 * is the user itself, or names a mailbox the user holds no right on is,
 * as a mailbox that does not exist, STORE_ENOTFOUND (RFC 4314 §6: an
 * error never tells a mailbox apart that the user may not see).
 * STORE_OK, STORE_ENOTFOUND or STORE_ETEMP.
 */
int imap_acl_resolve(struct store *st, uint32_t account, const char *name,
		     struct imap_acl_target *t);
/* 1 when name is in the other users' namespace (IMAP_ACL_PREFIX, or the
 * prefix's level itself) and the switch is on: no own mailbox may take
 * such a name. */
int imap_acl_name_shared(const char *name);

/*
 * A shared name's owner, for what makes or removes a mailbox there
 * (CREATE, DELETE, RENAME; the store checks the rights): *owner_r for
 * "Shared/OWNER/M". STORE_EINVAL for a name in the namespace that names
 * no owner's mailbox ("Shared", "Shared/x", "Shared/OWNER"),
 * STORE_ENOTFOUND when OWNER is no account (an alias included) or is the
 * user, STORE_ETEMP.
 */
int imap_acl_shared_owner(struct store *st, uint32_t account, const char *name,
			  uint32_t *owner_r);
/* The owner's name M in a shared name "Shared/OWNER/M" (a pointer into
 * name), NULL for any other name. */
const char *imap_acl_owner_name(const char *name);

/*
 * Each mailbox other accounts share with account that it holds "l" on
 * (RFC 4314 §4: only those are there for it), at most max of them, by
 * owner and mailbox: cb gets its name in the other users' namespace
 * ("Shared/OWNER/NAME", valid during the call), its owner, the user's
 * rights on it and the owner's info. The grants are read first and the
 * mailboxes after (no read inside another); a mailbox or owner gone
 * meanwhile is left out. STORE_OK or STORE_ETEMP. LIST and NOTIFY read
 * the shared mailboxes through this.
 */
typedef void imap_acl_shared_cb(void *arg, const char *name, uint32_t owner, uint32_t rights,
				const struct store_mailbox_info *info);
int imap_acl_shared_each(struct store *st, uint32_t account, size_t max, imap_acl_shared_cb *cb,
			 void *arg);

/* The same whatever the switch (unit tests; imap_acl_resolve otherwise). */
int imap_acl_resolve_any(struct store *st, uint32_t account, const char *name,
			 struct imap_acl_target *t);

struct imap_session;
struct imap_arg;
/*
 * A command's mailbox argument (cmd_acl.c): decoded into name (namesz
 * octets), resolved into t and checked for op. 0, or -1 after the tagged
 * NO: [NONEXISTENT] for a name that resolves to nothing or to a mailbox
 * the user may not look up ("l"), [NOPERM] when it may but lacks op's
 * right.
 */
int imap_acl_target(struct imap_session *s, const struct imap_arg *arg, enum imap_acl_op op,
		    char *name, size_t namesz, struct imap_acl_target *t);

#endif
