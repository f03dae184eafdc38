/*
 * cmd_acme.c — tern acme status: the certificate ACME keeps in the store.
 *
 * First line: "valid", "expired" or "none"; then key: value lines
 * (subject, issuer, names, not_before, not_after, renew_after, acme,
 * directory, challenge). Reads the store only; works while the server runs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acme/acme.h"
#include "cli/cli.h"
#include "core/config.h"
#include "net/tls.h"
#include "store/store.h"

static void put_time(const char *key, int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s: %s\n", key, buf);
}

int cli_acme(const struct config *cfg, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "renew") == 0) {
		if (cfg->acme_email[0] == '\0' || cfg->tls_cert[0] != '\0') {
			fprintf(stderr, "tern acme renew: ACME is off (TERN_ACME_EMAIL unset%s)\n",
			        cfg->tls_cert[0] ? ", or TERN_TLS_CERT set" : "");
			return 1;
		}
		struct store *w = cli_store_open(cfg, CLI_STORE_CHANGE);
		if (w == NULL)
			return 1;
		int rc = store_meta_put(w, "acme/renew-requested", "1", 1, 0);
		store_close(&w);
		if (rc != STORE_OK) {
			fprintf(stderr, "tern acme renew: cannot write the request to the store\n");
			return 1;
		}
		printf("requested: the running server starts a renewal within 5 seconds\n");
		return 0;
	}
	if (argc != 1 || strcmp(argv[0], "status") != 0) {
		return cli_usage("acme");
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	if (st == NULL)
		return 1;
	char err[300];
	struct tls_conf *c = acme_stored_conf(st, cfg->data_dir, err, sizeof err);
	if (c == NULL && err[0]) {
		printf("unusable: %s\n", err);
	} else if (c == NULL) {
		printf("none\n");
	} else {
		int64_t nb = tls_conf_not_before(c), na = tls_conf_not_after(c);
		printf("%s\n", na > (int64_t)time(NULL) ? "valid" : "expired");
		printf("subject: %s\nissuer: %s\nnames: %s\n", tls_conf_subject(c),
		       tls_conf_issuer(c), tls_conf_names(c));
		put_time("not_before", nb);
		put_time("not_after", na);
		put_time("renew_after", nb + (na - nb) * 2 / 3);
		tls_conf_unref(&c);
	}
	int on = cfg->acme_email[0] != '\0' && cfg->tls_cert[0] == '\0';
	printf("acme: %s\n", on ? "on" : cfg->tls_cert[0] ? "off (TERN_TLS_CERT)" : "off");
	if (on)
		printf("directory: %s\nchallenge: %s\n", cfg->acme_directory, cfg->acme_challenge);
	store_close(&st);
	return 0;
}
