/*
 * test_store_sharenote.c — share notifications (store_sharenote.c, JMAP's
 * ShareNotification, RFC 9670 §5): a grant's change leaves one record
 * in the grantee's name with the rights before and after, who changed
 * it and the mailbox's name; none for "anyone", none when the rights
 * stay; the bound per account drops the oldest; a destroyed one is gone
 * and its number never comes back; the removal of the account drops
 * them all.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

struct notes {
	char text[4096];
	size_t n;
	uint64_t first, last;
};

static void collect(void *arg, const struct store_sharenote *n)
{
	struct notes *x = arg;
	size_t l = strlen(x->text);
	char o[16], w[16];

	store_acl_rights_format(n->old_rights, o, sizeof o);
	store_acl_rights_format(n->new_rights, w, sizeof w);
	if (x->n < 4)
		snprintf(x->text + l, sizeof x->text - l, "%s#%llu by%u %u/%u %s %s>%s",
			 l ? " " : "", (unsigned long long)n->seq, n->changed_by, n->owner,
			 n->mailbox, n->name, o, w);
	if (!x->n)
		x->first = n->seq;
	x->last = n->seq;
	x->n++;
	CHECK(n->created > 0);
}

static const char *notes(struct store *st, uint32_t account, struct notes *x)
{
	memset(x, 0, sizeof *x);
	CHECK_EQ_INT(store_sharenote_list(st, account, collect, x), STORE_OK);
	return x->text;
}

static uint32_t letters(const char *s)
{
	uint32_t r = 0;
	CHECK_EQ_INT(store_acl_rights_parse(s, strlen(s), &r), STORE_OK);
	return r;
}

int main(void)
{
	char dir[256], err[256], want[512];
	struct store *st;
	struct notes x;
	uint32_t ann = 0, bob = 0, team = 0, now = 0;

	if (unit_env_begin(dir, sizeof dir, "sharenote") < 0)
		return 1;
	st = unit_store_with_account(dir, 0, "ann@example.test", &ann);
	if (!st)
		return unit_done("test_store_sharenote");
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw", 0, &bob, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Team/Q1", &team), STORE_OK);
	CHECK_EQ_STR(notes(st, bob, &x), "");

	/* A grant given, then changed by another account, then taken away
	 * by an administrator (by 0): three records, oldest first. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("lr")), STORE_OK);
	CHECK_EQ_INT(store_acl_modify_by(st, bob, ann, team, bob, STORE_ACL_ADD, letters("i"), &now),
		     STORE_OK);
	CHECK_EQ_INT((int)now, (int)letters("lri"));
	CHECK_EQ_INT(store_acl_modify_by(st, 0, ann, team, bob, STORE_ACL_REPLACE, 0, NULL),
		     STORE_OK);
	snprintf(want, sizeof want,
		 "#1 by%u %u/%u Team/Q1 >lr #2 by%u %u/%u Team/Q1 lr>lri #3 by0 %u/%u Team/Q1 lri>",
		 ann, ann, team, bob, ann, team, ann, team);
	CHECK_EQ_STR(notes(st, bob, &x), want);
	/* The owner's account holds none. */
	CHECK_EQ_STR(notes(st, ann, &x), "");

	/* No change, no record: the same rights again, a removal of what is
	 * not there, and anyone's grant (no one account to tell). */
	CHECK_EQ_INT(store_acl_modify(st, ann, team, bob, STORE_ACL_REMOVE, letters("r"), NULL),
		     STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, team, 0, letters("lr")), STORE_OK);
	notes(st, bob, &x);
	CHECK_EQ_INT((int)x.n, 3);

	/* Destroyed: gone, and its number is not given again. */
	CHECK_EQ_INT(store_sharenote_del(st, bob, 3), STORE_OK);
	CHECK_EQ_INT(store_sharenote_del(st, bob, 3), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("l")), STORE_OK);
	notes(st, bob, &x);
	CHECK_EQ_INT((int)x.n, 3);
	CHECK_EQ_INT((int)x.last, 4);

	/* The bound: past STORE_SHARENOTE_MAX the oldest go. */
	for (int i = 0; i < STORE_SHARENOTE_MAX + 5; i++)
		CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters(i % 2 ? "l" : "lr")),
			     STORE_OK);
	notes(st, bob, &x);
	CHECK_EQ_INT((int)x.n, STORE_SHARENOTE_MAX);
	CHECK_EQ_INT((int)x.last, 4 + STORE_SHARENOTE_MAX + 5);
	CHECK_EQ_INT((int)x.first, (int)(x.last - STORE_SHARENOTE_MAX + 1));

	/* A subscription's drop (RFC 9670 §5): the records about that
	 * mailbox go, a full list's included; the others stay. */
	uint32_t other = 0;
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Other", &other), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, other, bob, letters("lr")), STORE_OK);
	notes(st, bob, &x);
	CHECK_EQ_INT((int)x.n, STORE_SHARENOTE_MAX);
	CHECK_EQ_INT(store_sharenote_drop_about(st, bob, ann, team), STORE_OK);
	snprintf(want, sizeof want, "#%u by%u %u/%u Other >lr", (unsigned)x.last, ann, ann, other);
	CHECK_EQ_STR(notes(st, bob, &x), want);
	CHECK_EQ_INT(store_sharenote_drop_about(st, bob, ann, team), STORE_OK); /* none left */
	CHECK_EQ_INT(store_sharenote_drop_about(st, ann, bob, other), STORE_OK); /* none at all */
	CHECK_EQ_STR(notes(st, bob, &x), want);

	/* The grantee's removal drops its records and its sequence. */
	CHECK_EQ_INT(store_account_del(st, "bob@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_STR(notes(st, bob, &x), "");
	char val[32];
	size_t len;
	snprintf(want, sizeof want, "sharenoteseq/%u", bob);
	CHECK_EQ_INT(store_meta_get(st, want, val, sizeof val, &len), STORE_ENOTFOUND);

	store_close(&st);
	unit_rmrf(dir);
	return unit_done("test_store_sharenote");
}
