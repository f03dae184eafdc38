/*
 * test_jmap_share_set.c — Mailbox/set's decisions in a shared account
 * (jmap/jmap_share_set.c) on a real store: a role is refused, sortOrder
 * needs "a" (on the parent, or the owner's INBOX, for a create), a
 * destroy "x" and with its emails "t" and "e" too; the user's
 * subscription is kept under "Shared/OWNER/NAME"; the rights of a new
 * mailbox and the grants read again. In the own account nothing is
 * refused and names are the user's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static uint32_t mailbox(struct store *st, uint32_t acc, const char *name)
{
	uint32_t id = 0;
	CHECK_EQ_INT(store_mailbox_create(st, acc, name, &id), STORE_OK);
	return id;
}

struct sub_seen {
	const char *want;
	int seen;
};

static void sub_cb(void *arg, const char *name)
{
	struct sub_seen *x = arg;
	if (!strcmp(name, x->want))
		x->seen = 1;
}

static int has_sub(struct store *st, uint32_t acc, const char *name)
{
	struct sub_seen x = {name, 0};
	CHECK_EQ_INT(store_subscription_list(st, acc, sub_cb, &x), STORE_OK);
	return x.seen;
}

int main(void)
{
	uint32_t bob = 0, carol = 0;
	char err[128];

	if (unit_env_begin(base, sizeof base, "jmap_share_set") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &bob);
	if (!st)
		return unit_done("test_jmap_share_set");
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw-long-enough-1", 0, &carol, err,
				       sizeof err),
		     STORE_OK);
	uint32_t a = mailbox(st, bob, "A"), inbox = 0;
	CHECK_EQ_INT(store_mailbox_find(st, bob, "INBOX", &inbox), STORE_OK);
	const uint32_t L = STORE_ACL_L, X = STORE_ACL_X, TE = STORE_ACL_T | STORE_ACL_E;
	CHECK_EQ_INT(store_acl_set(st, bob, a, carol, L | X), STORE_OK);

	struct arena *ar = arena_new(0);
	struct jmap_share sh;
	CHECK_EQ_INT(jmap_share_load(st, carol, bob, ar, &sh), 0);
	struct jmap_request rq = {.st = st, .account = bob, .user = carol, .a = ar, .share = &sh};
	struct jmap_mailbox b = {.id = a, .full = "A", .rights = L | X, .messages = 2};

	/* A role: never Carol's to give; sortOrder: "a" where it counts. */
	CHECK(jmap_share_create_refused(&rq, a, 1, 0) != NULL);
	CHECK(jmap_share_create_refused(&rq, a, 0, 1) != NULL);
	CHECK(jmap_share_create_refused(&rq, a, 0, 0) == NULL);
	CHECK(jmap_share_create_refused(&rq, 0, 0, 1) != NULL); /* the INBOX: no "a" */
	CHECK_EQ_INT(store_acl_set(st, bob, inbox, carol, STORE_ACL_K | STORE_ACL_A), STORE_OK);
	CHECK(jmap_share_create_refused(&rq, 0, 0, 1) == NULL);
	CHECK(jmap_share_update_refused(&rq, &b, 1, 0) != NULL);
	CHECK(jmap_share_update_refused(&rq, &b, 0, 1) != NULL);
	CHECK(jmap_share_update_refused(&rq, &b, 0, 0) == NULL);
	b.rights |= STORE_ACL_A;
	CHECK(jmap_share_update_refused(&rq, &b, 0, 1) == NULL);

	/* Destroy: "x"; with its emails going too, "t" and "e" as well. */
	CHECK(jmap_share_destroy_refused(&rq, &b, 0) == NULL);
	CHECK(jmap_share_destroy_refused(&rq, &b, 1) != NULL);
	b.rights |= STORE_ACL_T;
	CHECK(jmap_share_destroy_refused(&rq, &b, 1) != NULL); /* "t" without "e" */
	b.rights |= TE;
	CHECK(jmap_share_destroy_refused(&rq, &b, 1) == NULL);
	b.messages = 0;
	b.rights = L;
	CHECK(jmap_share_destroy_refused(&rq, &b, 0) != NULL); /* no "x" */

	/* isSubscribed: Carol's own, under the IMAP shared name. */
	CHECK_EQ_STR(jmap_share_sub_name(&rq, "A"), "Shared/bob@example.test/A");
	CHECK_EQ_INT(jmap_share_subscribe(&rq, "A", 1), STORE_OK);
	CHECK_EQ_INT(has_sub(st, carol, "Shared/bob@example.test/A"), 1);
	CHECK_EQ_INT(has_sub(st, bob, "A"), 0);
	CHECK_EQ_INT(jmap_share_subscribe(&rq, "A", 0), STORE_OK);
	CHECK_EQ_INT(has_sub(st, carol, "Shared/bob@example.test/A"), 0);

	/* A mailbox Carol makes takes A's grant; the grants read again
	 * show it. */
	uint32_t kid = 0;
	CHECK_EQ_INT(store_acl_set(st, bob, a, carol, L | STORE_ACL_K), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_as(st, carol, bob, "A/Kid", &kid), STORE_OK);
	CHECK_EQ_INT(jmap_share_new_rights(&rq, kid), L | STORE_ACL_K);
	CHECK_EQ_INT(jmap_rights(&rq, kid), 0); /* loaded before */
	CHECK_EQ_INT(jmap_share_refresh(&rq), 0);
	CHECK_EQ_INT(jmap_rights(&rq, kid), L | STORE_ACL_K);

	/* A new email: "i" on each mailbox; its keywords cut to "s" for
	 * $seen, "w" for another (Kid holds "l" and "k" only, A the same). */
	struct jmap_targets t = {.mb = {kid}, .n = 1};
	buf_init(&t.kw, 256);
	CHECK(jmap_share_new_email_refused(&rq, &t) != NULL); /* no "i" */
	CHECK_EQ_INT(store_acl_set(st, bob, kid, carol, L | STORE_ACL_I), STORE_OK);
	CHECK_EQ_INT(jmap_share_refresh(&rq), 0);
	CHECK(jmap_share_new_email_refused(&rq, &t) == NULL);
	buf_append_c(&t.kw, "$SEEN $flagged");
	CHECK_EQ_INT(jmap_share_keywords_cut(&rq, &t), 1); /* no "s", no "w" */
	CHECK_EQ_STR(buf_data(&t.kw), "");
	CHECK_EQ_INT(store_acl_set(st, bob, kid, carol, L | STORE_ACL_I | STORE_ACL_S), STORE_OK);
	CHECK_EQ_INT(jmap_share_refresh(&rq), 0);
	buf_append_c(&t.kw, "$SEEN $flagged");
	CHECK_EQ_INT(jmap_share_keywords_cut(&rq, &t), 1);
	CHECK_EQ_STR(buf_data(&t.kw), "$SEEN");
	CHECK_EQ_INT(jmap_share_keywords_cut(&rq, &t), 0); /* nothing more to cut */
	/* Every mailbox counts: A has no "i" and no "s". */
	t.mb[t.n++] = a;
	CHECK(jmap_share_new_email_refused(&rq, &t) != NULL);
	CHECK_EQ_INT(jmap_share_keywords_cut(&rq, &t), 1);
	CHECK_EQ_STR(buf_data(&t.kw), "");

	/* The own account: nothing refused, the user's own names. */
	struct jmap_request own = {.st = st, .account = carol, .user = carol, .a = ar};
	CHECK(jmap_share_create_refused(&own, 0, 1, 1) == NULL);
	CHECK(jmap_share_update_refused(&own, &b, 1, 1) == NULL);
	CHECK(jmap_share_destroy_refused(&own, &b, 1) == NULL);
	CHECK_EQ_STR(jmap_share_sub_name(&own, "A"), "A");
	CHECK_EQ_INT(jmap_share_new_rights(&own, kid), STORE_ACL_ALL);
	CHECK_EQ_INT(jmap_share_refresh(&own), 0);
	CHECK(jmap_share_new_email_refused(&own, &t) == NULL);
	buf_append_c(&t.kw, "$seen $flagged");
	CHECK_EQ_INT(jmap_share_keywords_cut(&own, &t), 0);
	CHECK_EQ_STR(buf_data(&t.kw), "$seen $flagged");
	buf_free(&t.kw);
	arena_free(&ar);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_jmap_share_set");
}
