/*
 * test_backup_manifest.c — a backup's MANIFEST (backup_manifest.h) says
 * when it was changed: any one byte of it changed to any other value,
 * the manifest cut at any length, or anything added after its end is
 * refused by the reader, so `tern backup --verify` never says ok for a
 * manifest that is not the one the backup wrote. A manifest written by
 * builds before the check line (its file lines last) is still read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup_manifest.h"
#include "unit.h"

#define MANY 300

static struct backup_manifest m, back;
static char text[BACKUP_MANIFEST_SIZE(MANY)], bad[BACKUP_MANIFEST_SIZE(MANY) + 16];

/* Whether a and b say the same: every field and every file, in order. */
static int same(const struct backup_manifest *a, const struct backup_manifest *b)
{
	if (a->created != b->created || a->run != b->run || strcmp(a->version, b->version) != 0 ||
	    a->schema != b->schema || a->accounts != b->accounts || a->mailboxes != b->mailboxes ||
	    a->emails != b->emails || a->queue != b->queue || a->blobs != b->blobs ||
	    a->blob_bytes != b->blob_bytes || a->reused != b->reused ||
	    a->duration_ms != b->duration_ms || a->growth != b->growth || a->nfiles != b->nfiles)
		return 0;
	for (size_t i = 0; i < a->nfiles; i++)
		if (strcmp(a->files[i].path, b->files[i].path) != 0 ||
		    a->files[i].size != b->files[i].size ||
		    memcmp(a->files[i].hash, b->files[i].hash, 32) != 0)
			return 0;
	return 1;
}

static void add_file(const char *path, uint64_t size, int fill)
{
	struct backup_file *f = backup_manifest_add(&m);
	CHECK(f != NULL);
	if (f == NULL)
		return;
	snprintf(f->path, sizeof f->path, "%s", path);
	f->size = size;
	memset(f->hash, fill, 32);
}

static int sample(void)
{
	backup_manifest_free(&m);
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
	add_file("store.mdb", 1 << 20, 0xab);
	add_file("keys/secrets.key", 32, 0x5c);
	return backup_manifest_format(&m, text, sizeof text);
}

static void test_round_trip(void)
{
	char err[300];
	int n = sample();

	CHECK(n > 0);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), 0);
	CHECK(same(&m, &back));
	backup_manifest_free(&back);
}

/* A data directory whose acme/ holds 300 files: listed, written and read
 * back whole. The list held 64 files in all, and a 65th made every
 * backup fail. */
static void test_many_files(void)
{
	char err[300], path[64];
	sample();
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof path, "keys/acme/name%03d.example.test.pem", i);
		add_file(path, (uint64_t)i * 100, i);
	}
	CHECK_EQ_INT(m.nfiles, MANY + 2);
	int n = backup_manifest_format(&m, text, sizeof text);
	CHECK(n > 0);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), 0);
	CHECK(same(&m, &back));
	backup_manifest_free(&back);

	/* The 300th made the same as the 1st: listed twice, refused. */
	snprintf(m.files[MANY + 1].path, sizeof m.files[0].path, "keys/acme/name000.example.test.pem");
	n = backup_manifest_format(&m, text, sizeof text);
	CHECK(n > 0);
	CHECK_EQ_INT(backup_manifest_parse(text, (size_t)n, &back, err, sizeof err), -1);
	CHECK(strstr(err, "listed twice") != NULL);
	CHECK(back.files == NULL && back.nfiles == 0);
}

/* More than BACKUP_FILES_MAX file lines (a manifest from anywhere):
 * refused at the first one over, the list never larger. */
static void test_too_many_files(void)
{
	char err[300];
	size_t cap = (size_t)(BACKUP_FILES_MAX + 10) * 100, len = 0;
	char *big = malloc(cap);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	len += (size_t)snprintf(big, cap, "tern-backup 1\nschema 5\n");
	for (int i = 0; i <= BACKUP_FILES_MAX; i++)
		len += (size_t)snprintf(big + len, cap - len, "file k/%d 1 %064d\n", i, 0);
	len += (size_t)snprintf(big + len, cap - len, "end\n");
	CHECK_EQ_INT(backup_manifest_parse(big, len, &back, err, sizeof err), -1);
	CHECK(strstr(err, "malformed") != NULL);
	CHECK(back.files == NULL);
	/* One fewer: read (an older build's format, no check line). */
	char *last = strstr(big + len - 100, "file k/");
	CHECK(last != NULL);
	if (last) {
		memcpy(last, "end\n", 4);
		CHECK_EQ_INT(backup_manifest_parse(big, (size_t)(last - big) + 4, &back, err,
		                                   sizeof err), 0);
		CHECK_EQ_INT(back.nfiles, BACKUP_FILES_MAX);
		backup_manifest_free(&back);
	}
	free(big);
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
	backup_manifest_free(&back);
}

int main(void)
{
	test_round_trip();
	test_many_files();
	test_too_many_files();
	test_any_byte_changed();
	test_cut_and_appended();
	test_check_line_placement();
	test_format_1_read();
	backup_manifest_free(&m);
	return unit_done("test_backup_manifest");
}
