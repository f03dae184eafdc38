/*
 * jmap_share_set.c — writing into an account another user shares
 * (jmap_share.c): Mailbox/set held to the user's rights as IMAP's
 * CREATE, DELETE and RENAME of a "Shared/OWNER/NAME" name are (RFC 4314
 * §4; cmd_mailbox.c), and a new email as IMAP's APPEND there.
 *
 * The store decides what it can (store_mailbox_create_as, _delete_as,
 * _rename_as, the same calls IMAP makes): a create needs "k" on the
 * closest existing parent, or on the owner's INBOX at the top, and the
 * new mailbox takes that parent's grants; a rename needs "x" on the
 * mailbox and on every mailbox under it, and "k" where it goes; a
 * destroy "x". Those calls answer
 * STORE_EACCES, which Mailbox/set tells as "forbidden" (RFC 8620 §5.3).
 * What IMAP has no command for is decided here:
 *
 *   role         the owner's to give (IMAP's CREATE ... USE in a shared
 *                name is CANNOT): any change is forbidden;
 *   sortOrder    one value of the mailbox that the owner and every user
 *                it is shared with see, so changing it is administering
 *                the mailbox: "a" (on the parent for a create);
 *   destroy with emails (onDestroyRemoveEmails) removes them: "t" and
 *                "e" besides "x", RFC 8621 §2's mayRemoveItems;
 *   isSubscribed the user's own (RFC 8621 §2: "per user"), kept as IMAP's
 *                SUBSCRIBE keeps it: the user's subscription of
 *                "Shared/OWNER/NAME" (jmap_mailboxes_view reads it);
 *                true takes the user's ShareNotifications about the
 *                mailbox (RFC 9670 §5), as IMAP's SUBSCRIBE does.
 *
 * A new email (Email/set create, Email/import) needs "i" on each of its
 * mailboxes, as IMAP's APPEND, and its keywords are cut to what the
 * rights on all of them allow ("s" for $seen, "w" for another), as
 * APPEND drops such flags and Email/copy cuts them; created then shows
 * the keywords kept (RFC 8620 §5.3: a value the server changed). The
 * owner's quota counts it (the store's, overQuota).
 *
 * In the user's own account every function lets everything through and
 * names the user's own records, so the methods call them either way.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "imap/imap_acl.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

const char *jmap_share_sub_name(const struct jmap_request *r, const char *full)
{
	char owner[320];

	if (!r->share)
		return full;
	if (store_account_email(r->st, r->account, owner, sizeof owner) != STORE_OK)
		return NULL;
	return arena_printf(r->a, "%s/%s/%s", STORE_SHARED_ROOT, owner, full);
}

int jmap_share_subscribe(const struct jmap_request *r, const char *full, int on)
{
	const char *name = jmap_share_sub_name(r, full);
	uint32_t mailbox;

	if (!name)
		return STORE_ETEMP;
	int rc = store_mailbox_subscribe(r->st, r->user, name, on);
	/* RFC 9670 §5: the user's notifications about a shared mailbox go
	 * when it subscribes to it (a SHOULD: the subscription stands if
	 * they could not be dropped). */
	if (rc == STORE_OK && on && r->share &&
	    store_mailbox_find(r->st, r->account, full, &mailbox) == STORE_OK)
		store_sharenote_drop_about(r->st, r->user, r->account, mailbox);
	return rc;
}

/* The user's rights on the mailbox a create under parent (0: the top)
 * takes its grants from: the parent, else the owner's INBOX (which the
 * user may not see: its grant is read from the store). */
static uint32_t parent_rights(const struct jmap_request *r, uint32_t parent)
{
	uint32_t inbox, rights = 0;

	if (parent)
		return jmap_rights(r, parent);
	if (store_mailbox_find(r->st, r->account, "INBOX", &inbox) != STORE_OK ||
	    store_mailbox_rights(r->st, r->user, r->account, inbox, &rights) != STORE_OK)
		return 0;
	return rights;
}

const char *jmap_share_create_refused(const struct jmap_request *r, uint32_t parent, int role,
				      int sort_order)
{
	if (!r->share)
		return NULL;
	if (role)
		return "a role is the owner's to give";
	if (sort_order && !(parent_rights(r, parent) & STORE_ACL_A))
		return "sortOrder needs the administer right (\"a\")";
	return NULL;
}

const char *jmap_share_update_refused(const struct jmap_request *r, const struct jmap_mailbox *b,
				      int role, int sort_order)
{
	if (!r->share)
		return NULL;
	if (role)
		return "a role is the owner's to give";
	if (sort_order && !(b->rights & STORE_ACL_A))
		return "sortOrder needs the administer right (\"a\")";
	return NULL;
}

const char *jmap_share_destroy_refused(const struct jmap_request *r, const struct jmap_mailbox *b,
				       int remove_emails)
{
	const uint32_t te = STORE_ACL_T | STORE_ACL_E;

	if (!r->share)
		return NULL;
	if (!(b->rights & STORE_ACL_X))
		return "no right to delete the mailbox";
	/* Its emails go with it: the right to remove them too. */
	if (remove_emails && b->messages && (b->rights & te) != te)
		return "no right to remove the mailbox's emails";
	return NULL;
}

uint32_t jmap_share_new_rights(const struct jmap_request *r, uint32_t mailbox)
{
	uint32_t rights = 0;

	if (!r->share)
		return STORE_ACL_ALL;
	if (store_mailbox_rights(r->st, r->user, r->account, mailbox, &rights) != STORE_OK)
		return 0;
	return rights;
}

const char *jmap_share_new_email_refused(const struct jmap_request *r,
					 const struct jmap_targets *t)
{
	for (size_t i = 0; r->share && i < t->n; i++)
		if (!(jmap_rights(r, t->mb[i]) & STORE_ACL_I))
			return "no right to add to that mailbox";
	return NULL;
}

int jmap_share_keywords_cut(const struct jmap_request *r, struct jmap_targets *t)
{
	uint32_t rights = STORE_ACL_ALL;

	if (!r->share)
		return 0;
	/* An email's keywords are one set for all its mailboxes: what every
	 * one of them allows, as Email/copy cuts them (jmap_copy.c). */
	for (size_t i = 0; i < t->n; i++)
		rights &= jmap_rights(r, t->mb[i]);
	size_t len = buf_len(&t->kw), n = imap_acl_keywords_filter(rights, buf_data(&t->kw), len);
	buf_truncate(&t->kw, n);
	return n != len;
}

int jmap_share_refresh(struct jmap_request *r)
{
	struct jmap_share *s = (struct jmap_share *)r->share;

	/* The request's own: jmap_share_enter's caller holds it, writable;
	 * a create or a rename in this call changed the grants. */
	if (!s)
		return 0;
	return jmap_share_load(r->st, r->user, r->account, r->a, s) < 0 ? -1 : 0;
}
