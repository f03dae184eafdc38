/*
 * cmd_check_dkim.c — `tern check dkim FILE`: verifies every DKIM signature
 * of a message file, as a user debugging a domain would (DESIGN.md §5).
 *
 * Output: one line per signature, top to bottom, "RESULT d=D s=S"; a
 * message without signatures prints "none". Then, per signature, a
 * "signature N: REASON" line (why it got its result, and notes: a key in
 * testing mode, unsigned content after l=). Exit status 0 when the check
 * ran, whatever the results; 1 when the file cannot be read; 2 on usage.
 *
 * The file is streamed through the verifier in 64 KiB reads, so its size
 * does not matter. Keys come from DNS on a private event loop (resolvers
 * from TERN_DNS_SERVERS, else /etc/resolv.conf) through dns_resolver_of(),
 * the resolver interface every evaluator takes. A fresh process has an
 * empty cache, so the keys are always asked afresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/loop.h"
#include "dkim/dkim_verify.h"
#include "dns/dns.h"

static void wake(void *arg)
{
	loop_stop(arg);
}

int cli_check_dkim(const struct config *cfg, int argc, char **argv)
{
	char err[256], chunk[65536];
	ssize_t got;

	if (argc != 1) {
		return cli_usage("check dkim");
	}
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tern check dkim: %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	struct loop *loop = loop_new();
	struct dns *dns = dns_new(loop, cfg->dns_servers, err, sizeof err);
	if (dns == NULL) {
		fprintf(stderr, "tern check dkim: %s\n", err);
		close(fd);
		loop_free(&loop);
		return 2;
	}
	struct dns_resolver r = dns_resolver_of(dns);
	struct dkim_verifier *v = dkim_verifier_new(&r, time_wall());
	while ((got = read(fd, chunk, sizeof chunk)) > 0)
		dkim_verifier_update(v, chunk, (size_t)got);
	int rerr = got < 0 ? errno : 0;
	close(fd);
	if (rerr) {
		fprintf(stderr, "tern check dkim: %s: %s\n", argv[0], strerror(rerr));
		dkim_verifier_free(&v);
		dns_free(&dns);
		loop_free(&loop);
		return 1;
	}
	/* The DNS timeouts (c-ares' tries) bound the wait. */
	while (dkim_verifier_run(v, wake, loop) == DKIM_VERIFY_WAIT)
		loop_run(loop);

	size_t n = dkim_verifier_count(v);
	if (n == 0)
		printf("none\n");
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *s = dkim_verifier_result(v, i);
		printf("%s d=%s s=%s\n", dkim_result_name(s->result), s->d, s->s);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *s = dkim_verifier_result(v, i);
		printf("signature %zu: %s", i + 1, s->reason);
		if (s->testing)
			printf("; the key is in testing mode (t=y)");
		if (s->unsigned_octets)
			printf("; %" PRIu64 " body octets after l= are not signed", s->unsigned_octets);
		printf("\n");
	}
	dkim_verifier_free(&v);
	dns_free(&dns);
	loop_free(&loop);
	return 0;
}
