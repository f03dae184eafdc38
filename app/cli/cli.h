/*
 * cli.h — the administrative subcommands of the tern binary.
 *
 * Each command opens the same LMDB environment the server uses (LMDB
 * serialises writers across processes), so they work while it runs. A
 * command returns its exit status: 0 success, 1 failure (message on
 * stderr), 2 usage or configuration error.
 */
#ifndef TERN_CLI_CLI_H
#define TERN_CLI_CLI_H

#include "core/config.h"

int cli_account(const struct config *cfg, int argc, char **argv);
int cli_domain(const struct config *cfg, int argc, char **argv);
int cli_alias(const struct config *cfg, int argc, char **argv);
int cli_fetch(const struct config *cfg, int argc, char **argv);
int cli_health(const struct config *cfg, int argc, char **argv);
int cli_setup_code(const struct config *cfg, int argc, char **argv);
int cli_token(const struct config *cfg, int argc, char **argv);
int cli_queue(const struct config *cfg, int argc, char **argv);
/* tern check dkim FILE (cmd_check_dkim.c): one line per signature. */
int cli_check_dkim(const struct config *cfg, int argc, char **argv);
/* tern check spf IP SENDER HELO (cmd_check_spf.c): the result, then any explanation. */
int cli_check_spf(const struct config *cfg, int argc, char **argv);
/* tern check auth --ip IP --helo H --mail-from A FILE (cmd_check_auth.c): the Authentication-Results field. */
int cli_check_auth(const struct config *cfg, int argc, char **argv);
/* tern serve: runs until SIGTERM. */
int cli_serve(const struct config *cfg, int argc, char **argv);

/* Shared helpers (cli_util.c). */
struct store;
/* Opens the store for a command; prints the error and returns NULL on failure. */
struct store *cli_store_open(const struct config *cfg, int readonly);
/* Reads one line (a password) from stdin without its newline; -1 on EOF/too long. */
int cli_read_secret(char *out, size_t outsz);

#endif
