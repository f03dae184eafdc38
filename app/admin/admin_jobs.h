/*
 * admin_jobs.h — long account operations started from the web admin
 * (issue 35: "migrate from a server" and "upload an mbox", with live
 * progress), run as the
 * same `tern` subcommand a user would type, in a child process.
 *
 * Why a child process: the command-line path (cli_import.h, cmd_migrate.c)
 * is the one implementation of migration, with its resumability and its
 * limits; running it as it is, on the same data directory (LMDB serves
 * several processes), gives the web admin exactly what the command line
 * does, and a crash or a stuck remote server there cannot take the
 * server's loops or memory with it. The child prints one JSON progress
 * line a second on stderr (cli_progress.c) and its result on stdout;
 * a reader thread per job keeps the last of each.
 *
 * At most ADMIN_JOBS_RUNNING run at once and the last ADMIN_JOBS_KEPT
 * are remembered (in memory: a restart forgets finished jobs; a migration
 * started again simply resumes, as on the command line). The password
 * goes to the child on a pipe, never on its command line or environment.
 */
#ifndef TERN_ADMIN_ADMIN_JOBS_H
#define TERN_ADMIN_ADMIN_JOBS_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_JOBS_RUNNING 2
#define ADMIN_JOBS_KEPT 16

enum admin_job_state { JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct admin_job {
	unsigned id;
	char kind[16];          /* "migrate", "import" */
	char account[256];
	char source[512];       /* the URL, without a password; an upload's file name */
	enum admin_job_state state;
	int64_t started, ended; /* seconds since the epoch; ended 0 while running */
	uint64_t done, total, bytes, total_bytes;
	double rate, left_s;    /* bytes a second, seconds left (from the last progress line) */
	char result[512];       /* the last lines the command printed on stdout */
	char error[512];        /* its last line on stderr that was not progress */
};

/*
 * Starts `tern migrate EMAIL --from URL --new-uids [--sieve]` with the
 * password on its stdin (folders keep the source's UIDs where the
 * account's mailbox is empty, README "Export, import, migration"). 0 and *id_r; -1 with err (too many running, cannot spawn).
 * The caller has checked that the account exists and the URL's form.
 */
int admin_jobs_migrate(const char *email, const char *url, const char *password, int sieve,
                       unsigned *id_r, char *err, size_t errsz);

/*
 * Starts `tern import EMAIL PATH [--mailbox MAILBOX]` for a file the web
 * admin received (an mbox upload); the job owns PATH and removes it when
 * it ends (also when it cannot start). name is what the job shows as its
 * source; mailbox NULL: INBOX.
 */
int admin_jobs_import(const char *email, const char *path, const char *mailbox, const char *name,
                      unsigned *id_r, char *err, size_t errsz);

/* A copy of job id: 0, or -1 when unknown (or forgotten). */
int admin_jobs_get(unsigned id, struct admin_job *out);

/* Copies of the kept jobs, newest first; returns how many. */
size_t admin_jobs_list(struct admin_job *out, size_t max);

/* Asks running jobs to stop (SIGTERM) and waits a little for them: at
 * shutdown. A stopped migration resumes when started again. */
void admin_jobs_stop(void);

#endif
