/*
 * test_imap_acl.c — the IMAP side of shared mailboxes (imap_acl.c): RFC
 * 4314 §4's table per operation, the flags a STORE may change with each
 * right, SELECT's read-only rule, and the name resolver: own names as
 * before, "Shared/OWNER/M" to the owner's mailbox with the user's
 * rights, and everything the user may not see answered as nonexistent;
 * with the switch off, no shared name resolves.
 */
#include <stdio.h>
#include <string.h>

#include "imap/imap_acl.h"
#include "imap/imap_mailbox_view.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static uint32_t letters(const char *s)
{
	uint32_t r = 0;
	CHECK_EQ_INT(store_acl_rights_parse(s, strlen(s), &r), STORE_OK);
	return r;
}

/* The operations rights allow, as a string of row numbers' names. */
static const char *allowed(const char *rights, char *out, size_t outsz)
{
	static const char *const names[IMAP_ACL_OP_COUNT] = {
	    "lookup", "read", "append", "movefrom", "expunge", "createunder", "delete", "admin",
	    "myrights", "metadata", "sharedmeta"};
	uint32_t r = letters(rights);
	size_t n = 0;
	out[0] = '\0';
	for (int op = 0; op < IMAP_ACL_OP_COUNT; op++)
		if (imap_acl_allows(r, (enum imap_acl_op)op))
			n += (size_t)snprintf(out + n, outsz - n, "%s%s", n ? " " : "", names[op]);
	return out;
}

static void check_table(void)
{
	char b[256];
	int kw = -1;

	CHECK_EQ_STR(allowed("", b, sizeof b), "");
	CHECK_EQ_STR(allowed("l", b, sizeof b), "lookup myrights");
	CHECK_EQ_STR(allowed("lr", b, sizeof b), "lookup read myrights metadata");
	CHECK_EQ_STR(allowed("i", b, sizeof b), "append myrights");
	/* MOVE out needs both t and e. */
	CHECK_EQ_STR(allowed("t", b, sizeof b), "myrights");
	CHECK_EQ_STR(allowed("e", b, sizeof b), "expunge myrights");
	CHECK_EQ_STR(allowed("te", b, sizeof b), "movefrom expunge myrights");
	CHECK_EQ_STR(allowed("k", b, sizeof b), "createunder myrights");
	CHECK_EQ_STR(allowed("x", b, sizeof b), "delete myrights");
	CHECK_EQ_STR(allowed("a", b, sizeof b), "admin myrights");
	CHECK_EQ_STR(allowed("p", b, sizeof b), "myrights");
	CHECK_EQ_STR(allowed("lrswipkxtea", b, sizeof b),
		     "lookup read append movefrom expunge createunder delete admin myrights "
		     "metadata sharedmeta");
	/* METADATA (RFC 5464): "l" and any one of "r", "s", "w", "i", "p". */
	CHECK_EQ_STR(allowed("ls", b, sizeof b), "lookup myrights metadata");
	/* A /shared entry is set with "w" too (Cyrus's rule), "w" alone
	 * being enough for RFC 5464's. */
	CHECK_EQ_STR(allowed("lw", b, sizeof b), "lookup myrights metadata sharedmeta");
	CHECK_EQ_STR(allowed("lrsip", b, sizeof b), "lookup read append myrights metadata");
	CHECK_EQ_STR(allowed("w", b, sizeof b), "myrights");
	CHECK_EQ_STR(allowed("li", b, sizeof b), "lookup append myrights metadata");
	CHECK_EQ_STR(allowed("lp", b, sizeof b), "lookup myrights metadata");
	CHECK_EQ_STR(allowed("lkxtea", b, sizeof b),
		     "lookup movefrom expunge createunder delete admin myrights");
	CHECK_EQ_STR(allowed("rswip", b, sizeof b), "read append myrights");
	CHECK_EQ_INT(imap_acl_allows(STORE_ACL_ALL, IMAP_ACL_OP_COUNT), 0);

	/* STORE: \Seen with s, \Deleted with t, the rest and keywords with w. */
	CHECK_EQ_INT((int)imap_acl_flags_allowed(letters("lr"), &kw), 0);
	CHECK_EQ_INT(kw, 0);
	CHECK_EQ_INT((int)imap_acl_flags_allowed(letters("s"), &kw), (int)IMAP_F_SEEN);
	CHECK_EQ_INT(kw, 0);
	CHECK_EQ_INT((int)imap_acl_flags_allowed(letters("t"), NULL), (int)IMAP_F_DELETED);
	CHECK_EQ_INT((int)imap_acl_flags_allowed(letters("w"), &kw),
		     (int)(IMAP_F_ANSWERED | IMAP_F_FLAGGED | IMAP_F_DRAFT));
	CHECK_EQ_INT(kw, 1);
	CHECK_EQ_INT((int)imap_acl_flags_allowed(STORE_ACL_ALL, &kw),
		     (int)(IMAP_F_ANSWERED | IMAP_F_FLAGGED | IMAP_F_DRAFT | IMAP_F_SEEN |
			   IMAP_F_DELETED));

	/* STORE's keywords kept by right, in place. */
	struct {
		const char *rights, *in, *out;
	} kf[] = {
	    {"lrswt", "$seen $deleted $answered foo", "$seen $deleted $answered foo"},
	    {"lrs", "$seen $deleted $answered foo", "$seen"},
	    {"lrt", "$answered $DELETED", "$DELETED"},
	    {"lrw", "$Seen $deleted $flagged $draft Work", "$flagged $draft Work"},
	    {"lr", "$seen foo", ""},
	    {"lrsw", "", ""},
	};
	for (size_t i = 0; i < sizeof kf / sizeof kf[0]; i++) {
		char kb[128];
		snprintf(kb, sizeof kb, "%s", kf[i].in);
		size_t n = imap_acl_keywords_filter(letters(kf[i].rights), kb, strlen(kb));
		kb[n] = '\0';
		CHECK_EQ_STR(kb, kf[i].out);
	}

	/* The one mapping of keyword to right (STORE's filter above, the
	 * store's check for a shared mailbox, JMAP's Email/set). */
	CHECK_EQ_INT((int)imap_acl_keyword_right("$SEEN", 5), (int)STORE_ACL_S);
	CHECK_EQ_INT((int)imap_acl_keyword_right("$seen", 5), (int)STORE_ACL_S);
	CHECK_EQ_INT((int)imap_acl_keyword_right("$Deleted", 8), (int)STORE_ACL_T);
	CHECK_EQ_INT((int)imap_acl_keyword_right("$seen2", 6), (int)STORE_ACL_W);
	CHECK_EQ_INT((int)imap_acl_keyword_right("$seen foo", 4), (int)STORE_ACL_W);
	CHECK_EQ_INT((int)imap_acl_keyword_right("$flagged", 8), (int)STORE_ACL_W);

	/* SELECT is read-only without any of i, e, s, w, t. */
	CHECK_EQ_INT(imap_acl_select_readonly(letters("lr")), 1);
	CHECK_EQ_INT(imap_acl_select_readonly(letters("lrpkxa")), 1);
	const char *rw[] = {"lri", "lre", "lrs", "lrw", "lrt"};
	for (size_t i = 0; i < sizeof rw / sizeof rw[0]; i++)
		CHECK_EQ_INT(imap_acl_select_readonly(letters(rw[i])), 0);
}

int main(void)
{
	struct store *st;
	uint32_t ann = 0, bob = 0, team = 0, inbox = 0;
	struct imap_acl_target t;
	char err[256];

	check_table();
	if (unit_env_begin(base, sizeof base, "imapacl") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "ann@example.test", &ann);
	if (!st)
		return unit_done("test_imap_acl");
	CHECK_EQ_INT(store_account_add(st, "bob@example.test", "pw", 0, &bob, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.test", "ann@example.test", err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, ann, "Team/Support", &team), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, ann, "INBOX", &inbox), STORE_OK);

	/* Own names: every right, the name as given. */
	CHECK_EQ_INT(imap_acl_resolve_any(st, ann, "Team/Support", &t), STORE_OK);
	CHECK_EQ_INT((int)t.owner, (int)ann);
	CHECK_EQ_INT((int)t.mailbox, (int)team);
	CHECK_EQ_INT((int)t.rights, (int)STORE_ACL_ALL);
	CHECK_EQ_INT(t.shared, 0);
	CHECK_EQ_INT(imap_acl_resolve_any(st, ann, "Nothing", &t), STORE_ENOTFOUND);

	/* Not granted: as if there were no such mailbox, the same answer as
	 * for one that does not exist or an owner that is no account. */
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test/Team/Support", &t),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test/Nothing", &t),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/zed@example.test/INBOX", &t),
		     STORE_ENOTFOUND);

	/* Granted: the owner's mailbox with bob's rights; the address in
	 * any case; INBOX in any case as ever. */
	CHECK_EQ_INT(store_acl_set(st, ann, team, bob, letters("lr")), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, ann, inbox, STORE_ACL_ANYONE, letters("l")), STORE_OK);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/Ann@Example.test/Team/Support", &t),
		     STORE_OK);
	CHECK_EQ_INT((int)t.owner, (int)ann);
	CHECK_EQ_INT((int)t.mailbox, (int)team);
	CHECK_EQ_INT((int)t.rights, (int)letters("lr"));
	CHECK_EQ_INT(t.shared, 1);
	CHECK_EQ_STR(t.name, "Team/Support");
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test/inbox", &t), STORE_OK);
	CHECK_EQ_INT((int)t.mailbox, (int)inbox);
	CHECK_EQ_INT((int)t.rights, (int)letters("l"));
	/* The parent level, granted nothing, is not a mailbox of bob's. */
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test/Team", &t),
		     STORE_ENOTFOUND);
	/* An alias is no owner; nor is the user itself; nor are names
	 * without a mailbox part. */
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/team@example.test/Team/Support", &t),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, ann, "Shared/ann@example.test/Team/Support", &t),
		     STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test/", &t), STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/ann@example.test", &t), STORE_ENOTFOUND);
	CHECK_EQ_INT(imap_acl_resolve_any(st, bob, "Shared/", &t), STORE_ENOTFOUND);

	/* The namespace's names, only with the switch on. */
	CHECK_EQ_INT(imap_acl_name_shared("Shared/ann@example.test/Team"), IMAP_ACL_ENABLED);
	CHECK_EQ_INT(imap_acl_name_shared("Shared/"), IMAP_ACL_ENABLED);
	CHECK_EQ_INT(imap_acl_name_shared("Shared"), IMAP_ACL_ENABLED);
	CHECK_EQ_INT(imap_acl_name_shared("Sharedx"), 0);
	CHECK_EQ_INT(imap_acl_name_shared("shared/x"), 0);
	CHECK_EQ_INT(imap_acl_name_shared("Team/Shared/x"), 0);

	/* The switch: off, a shared name is an own name (none such here). */
	if (!IMAP_ACL_ENABLED) {
		CHECK_EQ_INT(imap_acl_resolve(st, bob, "Shared/ann@example.test/Team/Support", &t),
			     STORE_ENOTFOUND);
		CHECK_EQ_INT(t.shared, 0);
		CHECK_EQ_INT((int)t.owner, (int)bob);
	}
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_imap_acl");
}
