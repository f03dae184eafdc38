/*
 * test_jmap_share.c — other users' mailboxes as JMAP accounts
 * (jmap/jmap_share.c) on a real store: which owners are accounts of a
 * user (a grant with "l" makes one, "r" alone none, "anyone" counts),
 * isReadOnly from the rights, the session state's change with them, and
 * a call's view: each mailbox's rights found among the grants, readable
 * only with "l" and "r", an email readable through any such mailbox;
 * the same read of another account's grants (Email/copy's source) by
 * jmap_share_rights and jmap_share_may_read; who may upload there and
 * whose uploads a call reads (jmap_share_blob.c); the rights objects of RFC
 * 9670's shareWith (jmap_mailbox_share.c) to and from RFC 4314 letters,
 * and a shareWith update's checks (who may share, whom).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static uint32_t account(struct store *st, const char *email)
{
	uint32_t id = 0;
	char err[128];
	CHECK_EQ_INT(store_account_add(st, email, "pw-long-enough-1", 0, &id, err, sizeof err),
		     STORE_OK);
	return id;
}

static uint32_t mailbox(struct store *st, uint32_t acc, const char *name)
{
	uint32_t id = 0;
	CHECK_EQ_INT(store_mailbox_create(st, acc, name, &id), STORE_OK);
	return id;
}

static void members(uint8_t *out, uint32_t mb)
{
	out[0] = (uint8_t)(mb >> 24);
	out[1] = (uint8_t)(mb >> 16);
	out[2] = (uint8_t)(mb >> 8);
	out[3] = (uint8_t)mb;
	memset(out + 4, 0, 4);
}

static uint32_t letters(const char *s)
{
	uint32_t r = 0;
	CHECK_EQ_INT(store_acl_rights_parse(s, strlen(s), &r), STORE_OK);
	return r;
}

/* A rights object's letters, or "!" when it is refused. */
static const char *rights_of(struct arena *a, const char *json, char out[16])
{
	char err[64];
	uint32_t r = 0;
	const struct json_value *v = json_parse(json, strlen(json), a, err, sizeof err);
	if (!v || jmap_share_rights_of(v, &r) < 0) {
		snprintf(out, 16, "!");
		return out;
	}
	store_acl_rights_format(r, out, 16);
	return out;
}

static void check_rights_mapping(void)
{
	struct arena *a = arena_new(0);
	struct buf b;
	struct jw w;
	char out[16];

	/* Names to letters: RFC 8621 §2's table, mayShare "a". */
	CHECK_EQ_INT((int)jmap_share_right_bits("mayReadItems"), (int)letters("lr"));
	CHECK_EQ_INT((int)jmap_share_right_bits("mayRemoveItems"), (int)letters("te"));
	CHECK_EQ_INT((int)jmap_share_right_bits("mayRename"), (int)letters("x"));
	CHECK_EQ_INT((int)jmap_share_right_bits("mayDelete"), (int)letters("x"));
	CHECK_EQ_INT((int)jmap_share_right_bits("maySubmit"), (int)letters("p"));
	CHECK_EQ_INT((int)jmap_share_right_bits("mayShare"), (int)letters("a"));
	CHECK_EQ_INT((int)jmap_share_right_bits("mayAdmin"), 0);
	CHECK_EQ_STR(rights_of(a, "{}", out), "");
	CHECK_EQ_STR(rights_of(a, "{\"mayReadItems\":true,\"mayAddItems\":true,"
				  "\"maySetSeen\":false,\"mayShare\":true}", out),
		     "lria");
	CHECK_EQ_STR(rights_of(a, "{\"maySetKeywords\":true,\"mayCreateChild\":true,"
				  "\"mayRename\":true,\"mayDelete\":true,\"mayRemoveItems\":true}",
			       out),
		     "wkxtecd");
	/* Refused: an unknown name, a value that is no boolean, no object;
	 * mayRename and mayDelete ("x" both) that differ, which could not be
	 * read back as asked (-2, not -1). */
	CHECK_EQ_STR(rights_of(a, "{\"mayFly\":true}", out), "!");
	CHECK_EQ_STR(rights_of(a, "{\"mayDelete\":true}", out), "!");
	CHECK_EQ_STR(rights_of(a, "{\"mayRename\":true,\"mayDelete\":false}", out), "!");
	{
		uint32_t r = 0;
		const char *j = "{\"mayRename\":true}";
		char err[64];
		const struct json_value *v = json_parse(j, strlen(j), a, err, sizeof err);
		CHECK_EQ_INT(jmap_share_rights_of(v, &r), -2);
	}
	CHECK_EQ_STR(rights_of(a, "{\"mayReadItems\":1}", out), "!");
	CHECK_EQ_STR(rights_of(a, "[]", out), "!");

	/* Letters to names: both letters for mayReadItems, "x" both
	 * mayRename and mayDelete. */
	buf_init(&b, 4096);
	jw_init(&w, &b);
	jmap_w_share_rights(&w, letters("lrxa"));
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b),
		     "{\"mayReadItems\":true,\"mayAddItems\":false,\"mayRemoveItems\":false,"
		     "\"maySetSeen\":false,\"maySetKeywords\":false,\"mayCreateChild\":false,"
		     "\"mayRename\":true,\"mayDelete\":true,\"maySubmit\":false,"
		     "\"mayShare\":true}");
	buf_reset(&b);
	jw_init(&w, &b);
	jmap_w_share_rights(&w, letters("l"));
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), "\"mayReadItems\":false") != NULL);
	buf_free(&b);
	arena_free(&a);
}

int main(void)
{
	uint32_t bob = 0;

	check_rights_mapping();

	if (unit_env_begin(base, sizeof base, "jmap_share") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &bob);
	if (!st)
		return unit_done("test_jmap_share");
	uint32_t carol = account(st, "carol@example.test");
	uint32_t dave = account(st, "dave@example.test");
	uint32_t a = mailbox(st, bob, "A"), b = mailbox(st, bob, "B"), c = mailbox(st, bob, "C");
	uint32_t L = STORE_ACL_L, R = STORE_ACL_R;

	/* Nothing shared: no account, the state as before sharing. */
	struct jmap_shared_account *v = NULL;
	size_t n = 9;
	char s0[24], s1[24], s2[24];
	CHECK_EQ_INT(jmap_shared_accounts(st, carol, &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(v);
	CHECK_EQ_INT(jmap_session_state(st, carol, s0), 0);
	CHECK_EQ_STR(s0, "0");

	/* "lr" on A, "r" alone on B (no mailbox of its: not counted). */
	CHECK_EQ_INT(store_acl_set(st, bob, a, carol, L | R), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, bob, b, carol, R | STORE_ACL_W), STORE_OK);
	CHECK_EQ_INT(jmap_shared_accounts(st, carol, &v, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(v[0].owner, bob);
		CHECK_EQ_INT(v[0].rights, L | R); /* B's "w" is not seen */
		CHECK_EQ_INT(jmap_shared_read_only(v[0].rights), 1);
	}
	free(v);
	CHECK_EQ_INT(jmap_session_state(st, carol, s1), 0);
	CHECK(strcmp(s1, "0") != 0);
	/* A right that writes: read-write, and the state moves. */
	CHECK_EQ_INT(store_acl_set(st, bob, a, carol, L | R | STORE_ACL_S), STORE_OK);
	CHECK_EQ_INT(jmap_session_state(st, carol, s2), 0);
	CHECK(strcmp(s2, s1) != 0);
	/* Dave: no grant, no account; "anyone" with "l" on C gives him one. */
	CHECK_EQ_INT(jmap_shared_accounts(st, dave, &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(v);
	CHECK_EQ_INT(store_acl_set(st, bob, c, STORE_ACL_ANYONE, L), STORE_OK);
	CHECK_EQ_INT(jmap_shared_accounts(st, dave, &v, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(v);

	/* Carol's view of Bob's account: A and C, by id. */
	struct arena *ar = arena_new(0);
	struct jmap_share sh;
	CHECK_EQ_INT(jmap_share_load(st, carol, bob, ar, &sh), 0);
	CHECK_EQ_INT(sh.n, 2);
	struct jmap_request rq = {.st = st, .account = bob, .user = carol, .a = ar, .share = &sh};
	CHECK_EQ_INT(jmap_rights(&rq, a), L | R | STORE_ACL_S);
	CHECK_EQ_INT(jmap_rights(&rq, b), 0); /* no "l": not there */
	CHECK_EQ_INT(jmap_rights(&rq, c), L);
	CHECK_EQ_INT(jmap_rights(&rq, 0xffffff), 0);
	CHECK_EQ_INT(jmap_may_read(&rq, a), 1);
	CHECK_EQ_INT(jmap_may_read(&rq, c), 0); /* "l" without "r" */
	uint8_t m[16];
	members(m, c);
	CHECK_EQ_INT(jmap_email_readable(&rq, m, 1), 0);
	members(m + 8, a);
	CHECK_EQ_INT(jmap_email_readable(&rq, m, 2), 1);
	CHECK_EQ_INT(jmap_member_mailbox(m, 1), a);
	/* The same through the grants alone (a copy's source account). */
	CHECK_EQ_INT(jmap_share_rights(&sh, a), L | R | STORE_ACL_S);
	CHECK_EQ_INT(jmap_share_rights(&sh, b), 0);
	CHECK_EQ_INT(jmap_share_may_read(&sh, a), 1);
	CHECK_EQ_INT(jmap_share_may_read(&sh, c), 0);
	CHECK_EQ_INT(jmap_share_rights(NULL, b), STORE_ACL_ALL);
	CHECK_EQ_INT(jmap_share_may_read(NULL, c), 1);
	/* The own account: every right, everything readable. */
	struct jmap_request own = {.st = st, .account = carol, .user = carol, .a = ar};
	CHECK_EQ_INT(jmap_rights(&own, a), STORE_ACL_ALL);
	CHECK_EQ_INT(jmap_email_readable(&own, m, 1), 1);
	/* Uploads (jmap_share_blob.c): the user's own there, and only with
	 * "i" on a mailbox it sees; always in its own account. */
	CHECK_EQ_INT(jmap_share_uploader(&rq), carol);
	CHECK_EQ_INT(jmap_share_uploader(&own), carol);
	CHECK_EQ_INT(jmap_share_may_upload(&sh), 0);
	CHECK_EQ_INT(jmap_share_may_upload(NULL), 1);
	CHECK_EQ_INT(store_acl_set(st, bob, b, carol, R | STORE_ACL_I), STORE_OK);
	CHECK_EQ_INT(jmap_share_load(st, carol, bob, ar, &sh), 0);
	CHECK_EQ_INT(jmap_share_may_upload(&sh), 0); /* "i" where it sees nothing */
	CHECK_EQ_INT(store_acl_set(st, bob, c, carol, L | STORE_ACL_I), STORE_OK);
	CHECK_EQ_INT(jmap_share_load(st, carol, bob, ar, &sh), 0);
	CHECK_EQ_INT(jmap_share_may_upload(&sh), 1);
	/* The upload URL's check is the same rule. */
	char bob_id[16];
	uint32_t owner = 0;
	snprintf(bob_id, sizeof bob_id, "A%08x", bob);
	CHECK_EQ_INT(jmap_share_upload_allowed(st, carol, bob_id, &owner), 1);
	CHECK_EQ_INT(owner, bob);
	CHECK_EQ_INT(jmap_share_upload_allowed(st, dave, bob_id, &owner), 0);
	/* shareWith needs "a" (RFC 9670 §4): forbidden in Bob's account
	 * with "lrs", checked and taken out of the patch with "a"; the
	 * owner is no principal to share with. */
	char pj[128], err[64];
	snprintf(pj, sizeof pj, "{\"shareWith/P%08x\":{\"mayReadItems\":true},\"name\":\"N\"}",
		 dave);
	const struct json_value *patch = json_parse(pj, strlen(pj), ar, err, sizeof err), *rest;
	struct jmap_call call = {.r = &rq};
	struct jmap_mailbox box = {.id = a, .rights = L | R | STORE_ACL_S};
	struct jmap_share_change sc;
	struct jmap_set_err se;
	CHECK_EQ_INT(jmap_mailbox_share_take(&call, &box, patch, &rest, &sc, &se), -1);
	CHECK_EQ_STR(se.type, "forbidden");
	CHECK_EQ_INT(store_acl_set(st, bob, a, carol, L | R | STORE_ACL_A), STORE_OK);
	CHECK_EQ_INT(jmap_share_load(st, carol, bob, ar, &sh), 0);
	CHECK_EQ_INT(jmap_mailbox_share_take(&call, &box, patch, &rest, &sc, &se), 0);
	CHECK_EQ_INT((int)sc.n, 1);
	CHECK_EQ_INT(sc.op[0].grantee, dave);
	CHECK_EQ_INT(sc.op[0].rights, L | R);
	CHECK_EQ_INT((int)rest->count, 1);
	CHECK_EQ_STR(rest->first->key, "name");
	CHECK_EQ_INT(jmap_mailbox_share_apply(&call, &box, &sc, &se), 0);
	uint32_t got = 0;
	CHECK_EQ_INT(store_mailbox_rights(st, dave, bob, a, &got), STORE_OK);
	CHECK_EQ_INT(got, L | R);
	snprintf(pj, sizeof pj, "{\"shareWith/P%08x\":null}", bob);
	patch = json_parse(pj, strlen(pj), ar, err, sizeof err);
	CHECK_EQ_INT(jmap_mailbox_share_take(&call, &box, patch, &rest, &sc, &se), -1);
	CHECK_EQ_STR(se.type, "invalidProperties");
	/* A patch without shareWith is left as it is. */
	patch = json_parse("{\"name\":\"N\"}", 12, ar, err, sizeof err);
	CHECK_EQ_INT(jmap_mailbox_share_take(&call, &box, patch, &rest, &sc, &se), 0);
	CHECK(rest == patch);
	CHECK_EQ_INT((int)sc.n, 0);

	/* Not an account of the user: the user itself, 0, or no grant. */
	CHECK_EQ_INT(jmap_share_load(st, carol, carol, ar, &sh), 1);
	CHECK_EQ_INT(jmap_share_load(st, carol, 0, ar, &sh), 1);
	CHECK_EQ_INT(jmap_share_load(st, bob, carol, ar, &sh), 1);
	arena_free(&ar);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_jmap_share");
}
