/*
 * cli_util.c — helpers shared by the subcommands.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "admin/admin_meta.h"
#include "auth/password_policy.h"
#include "core/hostname.h"
#include "store/store.h"
#include "store/store_backup.h"

void cli_store_require(const struct config *cfg, int mode)
{
	/* A restore cut short leaves its marker and no data.mdb yet:
	 * store_open() says so, which is the error to see. */
	struct stat sb;
	char path[4096], marker[4096];
	snprintf(marker, sizeof marker, "%s/" STORE_RESTORING_FILE, cfg->data_dir);
	if ((snprintf(path, sizeof path, "%s/data.mdb", cfg->data_dir) >= (int)sizeof path ||
	     stat(path, &sb) < 0) &&
	    stat(marker, &sb) < 0) {
		fprintf(stderr,
			"tern: no mail store in %s (TERN_DATA_DIR): nothing to %s; "
			"`tern serve` creates one\n",
			cfg->data_dir, mode == CLI_STORE_READ ? "read" : "change");
		exit(CLI_EXIT_NO_STORE);
	}
}

struct store *cli_store_open(const struct config *cfg, int mode)
{
	struct store *st;
	char err[512];
	int readonly = mode == CLI_STORE_READ;

	if (mode != CLI_STORE_CREATE)
		cli_store_require(cfg, mode);
	if (mode == CLI_STORE_CREATE && mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "tern: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
		return NULL;
	}
	if (store_open(cfg->data_dir, readonly ? STORE_READONLY : 0, &st, err, sizeof(err)) !=
	    STORE_OK) {
		fprintf(stderr, "tern: %s\n", err);
		return NULL;
	}
	/* The host name the server uses: the wizard's, unless TERN_HOSTNAME
	 * says otherwise (tern domain dns printed the system's name). */
	char h[256];
	if (!admin_setting_locked(SETTING_HOSTNAME) &&
	    admin_setting_get(st, SETTING_HOSTNAME, h, sizeof h) == STORE_OK && h[0])
		hostname_set(h);
	return st;
}

/* One line from stdin; on a terminal with echo off after PROMPT. */
static int read_line(const char *prompt, char *out, size_t outsz)
{
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;

	/* Echo goes off before the prompt shows, so nothing typed after the
	 * prompt is echoed or flushed away. */
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
		fputs(prompt, stderr);
	}
	char *r = fgets(out, (int)outsz, stdin);
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (!r)
		return -1;
	size_t n = strlen(out);
	if (n && out[n - 1] != '\n' && !feof(stdin)) {
		explicit_bzero(out, outsz);
		return -3; /* longer than the buffer: said so, not "no password" */
	}
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

int cli_read_secret(char *out, size_t outsz)
{
	return read_line("Password: ", out, outsz);
}

int cli_read_new_secret(char *out, size_t outsz)
{
	char again[PASSWORD_LINE_MAX]; /* as long as any new password may be */

	int rc = read_line("New password: ", out, outsz);
	if (rc < 0)
		return rc;
	/* A typo in a password nobody can see would lock its owner out:
	 * on a terminal it is typed twice. A pipe gives it once. */
	if (!isatty(0) || out[0] == '\0')
		return 0;
	int same = read_line("Again: ", again, sizeof again) == 0 && strcmp(out, again) == 0;
	explicit_bzero(again, sizeof again);
	if (!same) {
		fprintf(stderr, "tern: the two passwords differ\n");
		explicit_bzero(out, outsz);
		return -2;
	}
	return 0;
}
