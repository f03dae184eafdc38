/*
 * cmd_backup.c — tern backup [--base PREV] DIR, tern backup --verify DIR,
 * tern restore DIR (app/backup/backup.h).
 *
 * backup opens the store read-only beside the running server and takes
 * one read snapshot (LMDB readers never stop the writer). It prints the
 * verdict first, then `key: value` lines, as the diagnostic commands do;
 * progress goes to stderr (cli_progress.c).
 *
 * Exit status: 0 done; 1 failed (the message says why; nothing that looks
 * like a backup is left); 2 usage, or a refusal the user must resolve (a
 * non-empty target, a backup of a newer schema).
 */
#include <stdio.h>
#include <string.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "core/file.h"
#include "store/store.h"

static int usage(void)
{
	return cli_usage("backup");
}

static void print_manifest(const char *dir, const struct backup_manifest *m)
{
	printf("dir: %s\nschema: %u\ntern-version: %s\naccounts: %llu\nmailboxes: %llu\n"
	       "emails: %llu\nqueue: %llu\nblobs: %llu\nblob-bytes: %llu\n",
	       dir, m->schema, m->version, (unsigned long long)m->accounts,
	       (unsigned long long)m->mailboxes, (unsigned long long)m->emails,
	       (unsigned long long)m->queue, (unsigned long long)m->blobs,
	       (unsigned long long)m->blob_bytes);
}

int cli_backup(const struct config *cfg, int argc, char **argv)
{
	const char *dir = NULL, *base = NULL;
	int verify = 0;
	char err[1024];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--verify") == 0)
			verify = 1;
		else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (argv[i][0] == '-' || dir)
			return usage();
		else
			dir = argv[i];
	}
	if (dir == NULL || dir[0] == '\0' || (verify && base))
		return usage();

	struct backup_manifest m = {0};
	struct cli_progress pr;
	struct backup_progress p = {cli_progress_step, &pr};
	if (verify) {
		cli_progress_init(&pr, "verify");
		if (backup_verify(dir, &m, &p, err, sizeof err) != 0) {
			printf("bad\nerror: %s\n", err);
			return 1;
		}
		printf("ok\n");
		print_manifest(dir, &m);
		backup_manifest_free(&m);
		return 0;
	}

	/* DIR a symlink to a directory (/backup pointing at a mounted
	 * disk): the backup goes where it points, as cp or tar would write.
	 * backup_run locks the directory it writes without following one. */
	char target[4200];
	int re = file_path_resolve(dir, target, sizeof target);
	if (re != 0) {
		fprintf(stderr, "tern: backup failed: cannot resolve %s: %s\n", dir, strerror(re));
		return 1;
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	int code;
	if (st == NULL)
		return 1;
	cli_progress_init(&pr, "backup");
	m.run = 0; /* a run of the schedule's sequence only */
	int rc = backup_run(st, cfg->data_dir, target, base, &m, &p, &code, err, sizeof err);
	store_close(&st);
	if (rc != 0) {
		fprintf(stderr, "tern: backup failed: %s\n", err);
		return code == STORE_EEXIST ? 2 : 1;
	}
	printf("ok\n");
	print_manifest(dir, &m);
	printf("reused: %llu\nduration-ms: %llu\nstore-growth-bytes: %llu\n",
	       (unsigned long long)m.reused, (unsigned long long)m.duration_ms,
	       (unsigned long long)m.growth);
	backup_manifest_free(&m);
	return 0;
}

int cli_restore(const struct config *cfg, int argc, char **argv)
{
	char err[1024];
	int code;

	if (argc != 1 || argv[0][0] == '-')
		return cli_usage("restore");
	struct cli_progress pr;
	struct backup_progress p = {cli_progress_step, &pr};
	cli_progress_init(&pr, "restore");
	uint64_t queue = 0;
	if (backup_restore(argv[0], cfg->data_dir, &p, &queue, &code, err, sizeof err) != 0) {
		fprintf(stderr, "tern: restore failed: %s\n", err);
		return code == STORE_EEXIST || code == STORE_EINVAL || code == STORE_EBUSY ? 2 : 1;
	}
	printf("ok\nfrom: %s\nto: %s\nqueue-held: %llu\n", argv[0], cfg->data_dir,
	       (unsigned long long)queue);
	/* They may have left since the backup: the admin decides. */
	if (queue)
		fprintf(stderr, "tern: the %llu outbound message(s) the backup had queued are held "
		        "(they may have been delivered since): tern queue list shows them, tern queue "
		        "flush sends them, tern queue del drops them\n", (unsigned long long)queue);
	return 0;
}
