/*
 * cli_util.c — helpers shared by the subcommands.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "store/store.h"

struct store *cli_store_open(const struct config *cfg, int readonly)
{
	struct store *st;
	char err[512];

	if (!readonly && mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "tern: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
		return NULL;
	}
	if (store_open(cfg->data_dir, readonly ? STORE_READONLY : 0, &st, err, sizeof(err)) !=
	    STORE_OK) {
		fprintf(stderr, "tern: %s\n", err);
		return NULL;
	}
	return st;
}

int cli_read_secret(char *out, size_t outsz)
{
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;

	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	char *r = fgets(out, (int)outsz, stdin);
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!r)
		return -1;
	size_t n = strlen(out);
	if (n && out[n - 1] != '\n' && !feof(stdin))
		return -1; /* longer than the buffer */
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}
