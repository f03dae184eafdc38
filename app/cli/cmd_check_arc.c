/*
 * cmd_check_arc.c — `tern check arc FILE`: validates the ARC chain of a
 * message file (RFC 8617 §5.2), as a user debugging a forwarder or a
 * mailing list would (DESIGN.md §5).
 *
 * Output: the verdict "cv=none|pass|fail" on the first line, then
 * "failed: N" when one instance is to blame, "reason: TEXT", "sets: N",
 * "oldest-pass: N" (with cv=pass), and per set, newest first,
 * "set N: d=D s=S cv=CV ams=RESULT as=RESULT" and "aar N: PAYLOAD" (the
 * ARC-Authentication-Results without i=, its folds unfolded). Exit status
 * 0 when the check ran, whatever the verdict; 1 when the file cannot be
 * read; 2 on usage.
 *
 * Diagnostic: `tern check arc --seal DOMAIN [--authres TEXT] FILE` seals
 * the message as tern would when forwarding it: the chain is validated
 * first (its cv= goes into the new seal), the new set is signed with
 * DOMAIN's RSA key from the store (TERN_DATA_DIR; `tern domain add` made
 * it), and the message is printed with the set on top. TEXT is the
 * Authentication-Results value ("authserv-id; results"); by default
 * "TERN_HOSTNAME; arc=CV". The tests use it to have dkimpy verify tern's
 * seals; users can use it to see what a forward would carry.
 *
 * Keys come from DNS on a private event loop (TERN_DNS_SERVERS, else
 * /etc/resolv.conf) through dns_resolver_of(), as for `tern check dkim`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/arc.h"
#include "cli/cli.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "store/store.h"

/* The largest message --seal reads (it keeps the message to print it). */
#define SEAL_MAX ((size_t)64 << 20)

static void wake(void *arg)
{
	loop_stop(arg);
}

static int usage(void)
{
	return cli_usage("check arc");
}

static void print_unfolded(struct str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] != '\r' && s.p[i] != '\n')
			putchar(s.p[i] == '\t' ? ' ' : s.p[i]);
}

static void print_result(const struct arc_result *r)
{
	printf("cv=%s\n", arc_cv_name(r->cv));
	if (r->failed)
		printf("failed: %u\n", r->failed);
	printf("reason: %s%s\n", r->reason, r->temporary ? " (temporary)" : "");
	printf("sets: %u\n", r->nsets);
	if (r->cv == ARC_CV_PASS)
		printf("oldest-pass: %u\n", r->oldest_pass);
	unsigned n = r->nsets < ARC_SETS_MAX ? r->nsets : ARC_SETS_MAX;
	for (unsigned i = n; i >= 1; i--) {
		const struct arc_set_info *s = &r->set[i - 1];
		if (s->instance == 0)
			continue;
		printf("set %u: d=%s s=%s cv=%s ams=%s as=%s\n", i, s->d, s->s, arc_cv_name(s->cv),
		       dkim_result_name(s->ams), dkim_result_name(s->as));
		if (s->aar.p) {
			printf("aar %u: ", i);
			print_unfolded(s->aar);
			printf("\n");
		}
	}
}

/* Seals msg with domain's key; prints the set and the message. */
static int seal(const struct config *cfg, const char *domain, const char *authres, enum arc_cv cv,
                struct str msg)
{
	struct dkim_keys keys;
	char text[512], low[DKIM_DOMAIN_MAX + 1];
	struct buf out;
	int rc = 1;

	if (str_lower_into(str_c(domain), low, sizeof low) != 0) {
		fprintf(stderr, "tern check arc: invalid domain name\n");
		return 2;
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	if (st == NULL)
		return 1;
	int got = store_dkim_get(st, low, &keys);
	store_close(&st);
	if (got != STORE_OK) {
		fprintf(stderr, "tern check arc: no DKIM keys for %s (tern domain add %s)\n", low,
		        low);
		return 1;
	}
	if (authres == NULL) {
		snprintf(text, sizeof text, "%s; arc=%s", cfg->hostname, arc_cv_name(cv));
		authres = text;
	}
	struct arc_seal_params p = {arc_key_pick(&keys), low, authres, cv, time_wall()};
	buf_init(&out, 4 * (size_t)DKIM_HEADER_MAX);
	int s = arc_seal(&p, msg.p, msg.len, &out);
	if (s == ARC_OK) {
		fwrite(buf_data(&out), 1, buf_len(&out), stdout);
		fwrite(msg.p, 1, msg.len, stdout);
		rc = 0;
	} else {
		fprintf(stderr, "tern check arc: not sealed: %s\n",
		        s == ARC_ECHAIN   ? "the chain ended (cv=fail) or has 50 sets"
		        : s == ARC_EINVAL ? "bad key, domain or --authres text"
		                          : "message too big or signing failed");
	}
	buf_free(&out);
	dkim_keys_wipe(&keys);
	return rc;
}

int cli_check_arc(const struct config *cfg, int argc, char **argv)
{
	const char *seal_domain = NULL, *authres = NULL;
	char err[256], chunk[65536];
	struct buf whole;
	ssize_t got;
	int i = 0;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--seal") == 0)
			seal_domain = argv[i + 1];
		else if (strcmp(argv[i], "--authres") == 0)
			authres = argv[i + 1];
		else
			return usage();
	}
	if (argc - i != 1 || (authres && !seal_domain))
		return usage();
	int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tern check arc: %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	struct loop *loop = loop_new();
	struct dns *dns = dns_new(loop, cfg->dns_servers, err, sizeof err);
	if (dns == NULL) {
		fprintf(stderr, "tern check arc: %s\n", err);
		close(fd);
		loop_free(&loop);
		return 2;
	}
	struct dns_resolver r = dns_resolver_of(dns);
	struct arc_verifier *v = arc_verifier_new(&r, time_wall());
	buf_init(&whole, seal_domain ? SEAL_MAX : 0);
	int rc = 0;
	while ((got = read(fd, chunk, sizeof chunk)) > 0) {
		arc_verifier_update(v, chunk, (size_t)got);
		if (seal_domain && buf_append(&whole, chunk, (size_t)got) != 0) {
			fprintf(stderr, "tern check arc: %s: over %zu MiB\n", argv[i],
			        SEAL_MAX >> 20);
			rc = 1;
			break;
		}
	}
	if (got < 0) {
		fprintf(stderr, "tern check arc: %s: %s\n", argv[i], strerror(errno));
		rc = 1;
	}
	close(fd);
	if (rc == 0) {
		/* The DNS timeouts (c-ares' tries) bound the wait. */
		while (arc_verifier_run(v, wake, loop) == ARC_VERIFY_WAIT)
			loop_run(loop);
		const struct arc_result *res = arc_verifier_result(v);
		if (seal_domain)
			rc = seal(cfg, seal_domain, authres, res->cv, buf_str(&whole));
		else
			print_result(res);
	}
	buf_free(&whole);
	arc_verifier_free(&v);
	dns_free(&dns);
	loop_free(&loop);
	return rc;
}
