/*
 * test_backup_manifest.c — a backup's MANIFEST (backup_manifest.h) says
 * when it was changed: any one byte of it changed to any other value,
 * the manifest cut at any length, or anything added after its end is
 * refused by the reader, so `tern backup --verify` never says ok for a
 * manifest that is not the one the backup wrote. A manifest written by
 * builds before the check line (its file lines last) is still read.
 */
#include <stdio.h>
#include <string.h>

#include "backup/backup_manifest.h"
#include "unit.h"

static struct backup_manifest m, back;
static char text[BACKUP_MANIFEST_MAX], bad[BACKUP_MANIFEST_MAX + 16];

static int sample(void)
{
	memset(&m, 0, sizeof m);
	m.created = 1763850000;
	m.run = 7;
	snprintf(m.version, sizeof m.version, "v0.9-12-gabcdef");
	m.schema = 15;
	m.accounts = 3;
	m.mailboxes = 18;
	m.emails = 1234;
	m.queue = 2;
	m.blobs = 1200;
	m.blob_bytes = 98765432;
	m.reused = 1100;
	m.duration_ms = 4321;
	m.growth = 65536;
	m.nfiles = 2;
	snprintf(m.files[0].path, sizeof m.files[0].path, "store.mdb");
	m.files[0].size = 1 << 20;
	memset(m.files[0].hash, 0xab, 32);
	snprintf(m.files[1].path, sizeof m.files[1].path, "keys/secrets.key");
	m.files[1].size = 32;
	memset(m.files[1].hash, 0x5c, 32);
	return backup_manifest_format(&m, text, sizeof text);
}

static void test_round_trip(void)
{
	char err[300];
	int n = sample();

	CHECK(n > 0);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), 0);
	CHECK(memcmp(&m, &back, sizeof m) == 0);
}

/* Every byte, every other value: refused. Fields the reader checks
 * against nothing else (created, run, tern-version, reused,
 * duration-ms, store-growth, a key made unknown) were taken as they
 * came. */
static void test_any_byte_changed(void)
{
	char err[300];
	int n = sample();
	unsigned accepted = 0;

	for (int i = 0; i < n; i++)
		for (int x = 1; x < 256; x++) {
			memcpy(bad, text, (size_t)n);
			bad[i] = (char)(bad[i] ^ x);
			if (backup_manifest_parse(bad, (size_t)n, &back, err, sizeof err) != 0)
				continue;
			const char *line = text + i;
			while (line > text && line[-1] != '\n')
				line--;
			if (accepted++ < 5)
				fprintf(stderr, "byte %d ^ 0x%02x accepted, in \"%.*s\"\n", i, x,
				        (int)strcspn(line, "\n"), line);
		}
	CHECK_EQ_INT(accepted, 0);
}

/* Cut at any length, or anything after its end: refused. */
static void test_cut_and_appended(void)
{
	char err[300];
	int n = sample();
	unsigned accepted = 0;

	for (int len = 0; len < n; len++)
		accepted += backup_manifest_parse(text, (size_t)len, &back, err, sizeof err) == 0;
	CHECK_EQ_INT(accepted, 0);
	static const char *const tails[] = {"x", "\n", "end\n", "created 1\n", "check 00\n"};
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		memcpy(bad, text, (size_t)n);
		memcpy(bad + n, tails[i], strlen(tails[i]));
		CHECK_EQ_INT(backup_manifest_parse(bad, (size_t)n + strlen(tails[i]), &back, err,
		                                   sizeof err),
		             -1);
	}
}

/* A line moved after the check line, or no check line while the line
 * before end is not a file line: refused. */
static void test_check_line_placement(void)
{
	char err[300];
	static const char no_check[] = "tern-backup 1\nschema 5\nend\n";
	CHECK_EQ_INT(backup_manifest_parse(no_check, sizeof no_check - 1, &back, err, sizeof err),
	             -1);
	CHECK(strstr(err, "check") != NULL);

	int n = sample();
	char *chk = strstr(text, "\ncheck ");
	CHECK(chk != NULL);
	if (chk == NULL)
		return;
	/* "check HEX\nend\n" -> "check HEX\nrun 9\nend\n" */
	size_t head = (size_t)(chk - text) + 1 + 6 + 64 + 1;
	memcpy(bad, text, head);
	memcpy(bad + head, "run 9\nend\n", 10);
	CHECK_EQ_INT(backup_manifest_parse(bad, head + 10, &back, err, sizeof err), -1);
	(void)n;
}

/* As builds before the check line wrote it: read. */
static void test_format_1_read(void)
{
	char err[300];
	static const char old[] =
	    "tern-backup 1\ncreated 1763850000\nrun 3\ntern-version v0.8\n"
	    "schema 12\naccounts 1\nmailboxes 5\nemails 0\nqueue 0\nblobs 0\n"
	    "blob-bytes 0\nreused 0\nduration-ms 10\nstore-growth 0\n"
	    "file store.mdb 4096 "
	    "0000000000000000000000000000000000000000000000000000000000000000\n"
	    "end\n";
	CHECK_EQ_INT(backup_manifest_parse(old, sizeof old - 1, &back, err, sizeof err), 0);
	CHECK(back.run == 3 && back.schema == 12 && back.nfiles == 1);
}

int main(void)
{
	test_round_trip();
	test_any_byte_changed();
	test_cut_and_appended();
	test_check_line_placement();
	test_format_1_read();
	return unit_done("test_backup_manifest");
}
