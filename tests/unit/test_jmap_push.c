/*
 * test_jmap_push.c — what a push tells (jmap/jmap_push.c): the mail
 * types changed since each of several states in one walk of the change
 * log (jmap_push_changed_many) agree with one walk per state, and the
 * push state (pushState, the EventSource id) carries the own-state
 * types' states through format and parse, refusing what is not ours.
 */
#include <stdio.h>
#include <string.h>

#include "jmap/jmap.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static uint64_t modseq(struct store *st, uint32_t acc)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	return ms;
}

int main(void)
{
	uint32_t acc = 0, mb = 0;

	if (unit_env_begin(base, sizeof base, "jmap_push") < 0)
		return 1;
	struct store *st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (!st)
		return unit_done("test_jmap_push");

	/* States: before anything, after a mailbox, after a delivery. */
	uint64_t s[4];
	s[0] = modseq(st, acc);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Projects", &mb), STORE_OK);
	s[1] = modseq(st, acc);
	unit_deliver(st, acc, "From: a@b.test\r\nSubject: x\r\n\r\nhi\r\n", 1000, NULL);
	s[2] = modseq(st, acc);
	s[3] = s[2];
	CHECK(s[0] < s[1] && s[1] < s[2]);

	unsigned types[4];
	uint64_t upto[4];
	CHECK_EQ_INT(jmap_push_changed_many(st, acc, s, 4, types, upto), 0);
	for (size_t i = 0; i < 4; i++) {
		unsigned t1;
		uint64_t u1;
		CHECK_EQ_INT(jmap_push_changed(st, acc, s[i], &t1, &u1), 0);
		CHECK_EQ_INT(types[i], t1);
		CHECK_EQ_INT(upto[i] == u1, 1);
	}
	/* From the start: the mailbox and the new email; after the mailbox:
	 * the email only (Mailbox for its counts); at the end: nothing. */
	CHECK_EQ_INT(types[0], JMAP_TYPES_MAIL);
	CHECK_EQ_INT(types[1], JMAP_TYPES_MAIL);
	CHECK_EQ_INT(upto[0] == s[2] && upto[1] == s[2], 1);
	CHECK_EQ_INT(types[2], 0);
	CHECK_EQ_INT(types[3], 0);
	CHECK_EQ_INT(upto[2] == s[2], 1);
	/* A mailbox change alone is Mailbox only, told to the earlier
	 * states along with what they had already. */
	uint32_t mb2;
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Later", &mb2), STORE_OK);
	CHECK_EQ_INT(jmap_push_changed_many(st, acc, s, 3, types, upto), 0);
	CHECK_EQ_INT(types[0], JMAP_TYPES_MAIL);
	CHECK_EQ_INT(types[2], JMAP_TYPE_MAILBOX);
	CHECK_EQ_INT(upto[2] == modseq(st, acc), 1);
	CHECK_EQ_INT(jmap_push_changed_many(st, acc, s, 0, types, upto), 0);

	/* The push state: the modseq alone without own types asked. */
	struct jmap_push_own own, back;
	char ps[JMAP_PUSH_STATE_MAX];
	int has;
	uint64_t m;
	memset(&own, 0, sizeof own);
	snprintf(own.state[0], sizeof own.state[0], "J3");
	snprintf(own.state[4], sizeof own.state[4], "12.5000");
	size_t n = jmap_push_state_format(ps, sizeof ps, 42, JMAP_TYPES_MAIL, &own);
	CHECK_EQ_STR(ps, "42");
	CHECK_EQ_INT((int)n, 2);
	CHECK_EQ_INT(jmap_push_state_parse(ps, n, &m, &back, &has), 0);
	CHECK_EQ_INT(m == 42 && !has, 1);
	/* With them: each asked type's state, "" for one not asked. */
	n = jmap_push_state_format(ps, sizeof ps, 42, JMAP_TYPES_ALL & ~JMAP_TYPE_SIEVE, &own);
	CHECK_EQ_STR(ps, "42_J3____12.5000_");
	snprintf(own.state[2], sizeof own.state[2], "J9");
	n = jmap_push_state_format(ps, sizeof ps, 42, JMAP_TYPE_IDENTITY | JMAP_TYPE_QUOTA, &own);
	CHECK_EQ_STR(ps, "42_J3____12.5000_");
	n = jmap_push_state_format(ps, sizeof ps, 7, JMAP_TYPES_ALL, &own);
	CHECK_EQ_STR(ps, "7_J3__J9__12.5000_");
	CHECK_EQ_INT(jmap_push_state_parse(ps, n, &m, &back, &has), 0);
	CHECK_EQ_INT(m == 7 && has, 1);
	CHECK_EQ_INT(memcmp(&back, &own, sizeof own), 0);
	/* A state holding the separator or a space is left unknown. */
	snprintf(own.state[1], sizeof own.state[1], "a_b");
	snprintf(own.state[3], sizeof own.state[3], "c d");
	jmap_push_state_format(ps, sizeof ps, 7, JMAP_TYPES_ALL, &own);
	CHECK_EQ_STR(ps, "7_J3__J9__12.5000_");
	/* Not ours: no number, a leading zero, too few or too many parts, a
	 * part too long. */
	static const char *bad[] = {"", "x", "07", "_J3", "7_J3", "7_a_b_c_d_e_f_g", "7_____",
				    "7______", "7_x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = jmap_push_state_parse(bad[i], strlen(bad[i]), &m, &back, &has);
		if (!strcmp(bad[i], "7______"))
			CHECK_EQ_INT(rc == 0 && has && !back.state[0][0], 1); /* all unknown: ours */
		else
			CHECK_EQ_INT(rc, -1);
	}
	char longs[200];
	memset(longs, 'J', sizeof longs);
	memcpy(longs, "7_", 2);
	CHECK_EQ_INT(jmap_push_state_parse(longs, sizeof longs, &m, &back, &has), -1);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_jmap_push");
}
