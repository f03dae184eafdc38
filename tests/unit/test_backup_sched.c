/*
 * test_backup_sched.c — the order of scheduled backup runs
 * (backup_sched_newer) and the run number in a manifest: runs order by
 * the run number they record, not by the wall clock in their names, and
 * a name's "-N" suffix (runs in the same second) compares as a number.
 */
#include <stdio.h>
#include <string.h>

#include "backup/backup_manifest.h"
#include "backup/backup_sched.h"
#include "unit.h"

static struct backup_sched_entry ent(const char *name, uint64_t run)
{
	struct backup_sched_entry e;
	memset(&e, 0, sizeof e);
	snprintf(e.name, sizeof e.name, "%s", name);
	e.run = run;
	return e;
}

static void test_order(void)
{
	/* The run number first: a run named ahead (the clock was ahead
	 * then) is older than the runs made after it. */
	struct backup_sched_entry ahead = ent("tern-29990101T000000Z", 4);
	struct backup_sched_entry now = ent("tern-20261127T020000Z", 5);
	CHECK(backup_sched_newer(&now, &ahead));
	CHECK(!backup_sched_newer(&ahead, &now));

	/* The same run number (none: an older build's): by name, the
	 * suffix as a number. */
	struct backup_sched_entry a = ent("tern-20261127T020000Z", 0);
	struct backup_sched_entry a2 = ent("tern-20261127T020000Z-2", 0);
	struct backup_sched_entry a9 = ent("tern-20261127T020000Z-9", 0);
	struct backup_sched_entry a10 = ent("tern-20261127T020000Z-10", 0);
	struct backup_sched_entry b = ent("tern-20261127T020001Z", 0);
	CHECK(backup_sched_newer(&a2, &a));
	CHECK(!backup_sched_newer(&a, &a2));
	CHECK(backup_sched_newer(&a10, &a9));
	CHECK(!backup_sched_newer(&a9, &a10));
	CHECK(backup_sched_newer(&b, &a10));
	CHECK(!backup_sched_newer(&a10, &b));
	CHECK(!backup_sched_newer(&a9, &a9));
}

static void test_manifest_run(void)
{
	static struct backup_manifest m, back;
	static char text[BACKUP_MANIFEST_SIZE(0)];
	char err[200];

	memset(&m, 0, sizeof m);
	m.created = 1763850000;
	m.schema = 5;
	m.run = 12;
	int n = backup_manifest_format(&m, text, sizeof text);
	CHECK(n > 0 && strstr(text, "\nrun 12\n") != NULL);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), 0);
	CHECK(back.run == 12);
	/* Without one (an older build's, `tern backup`'s): 0, no line. */
	m.run = 0;
	n = backup_manifest_format(&m, text, sizeof text);
	CHECK(n > 0 && strstr(text, "\nrun ") == NULL);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), 0);
	CHECK(back.run == 0);
	/* Twice: not trusted. */
	const char twice[] = "tern-backup 1\nrun 1\nrun 2\nschema 5\nend\n";
	CHECK_EQ_INT(backup_manifest_parse(twice, sizeof twice - 1, &back, err, sizeof err), -1);
}

int main(void)
{
	test_order();
	test_manifest_run();
	return unit_done("test_backup_sched");
}
