/*
 * cmd_check_auth.c — `tern check auth --ip IP --helo H --mail-from A FILE`:
 * the Authentication-Results field tern would add to the message in FILE
 * received from IP after HELO H and MAIL FROM A (DESIGN.md §5): iprev
 * (RFC 8601 §3) of the client address, SPF (RFC
 * 7208) of the MAIL FROM identity, every DKIM signature (RFC 6376), the
 * ARC chain (RFC 8617), and DMARC (RFC 9989) of the From domain over SPF
 * and DKIM.
 *
 * Output: the field on the first line, unfolded:
 *   Authentication-Results: HOST; iprev=R policy.iprev=IP; spf=R smtp.mailfrom=A; dkim=R header.d=D
 *     header.s=S ...; arc=CV ... smtp.remote-ip=IP; dmarc=R header.from=F policy.dmarc=P
 * (HOST is TERN_HOSTNAME, the authserv-id; one dkim= per signature, or
 * dkim=none), then "key: value" details: the DMARC policy domain, the
 * disposition tern would apply, and the reasons. With --record, the
 * DMARC result is also counted for the aggregate reports tern sends
 * (report/dmarc_seen.h) and stored at once: "recorded: DOMAIN" (or "no").
 * Exit status 0 when the checks ran, whatever their results; 1 when FILE
 * cannot be read (or --record cannot store); 2 on usage; 3 (nothing
 * printed, nothing created) with --record when TERN_DATA_DIR holds no
 * store.
 *
 * The five checks run one after the other, each on a private loop of
 * its own (a stopped loop stays stopped: loop_stop is final), through
 * dns_query() (TERN_DNS_SERVERS), each with the same 20-second bound as
 * tern check spf.
 *
 * The field comes from auth_results_field(), the renderer the server
 * uses for the field it prepends on port 25.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/arc.h"
#include "auth/auth_results.h"
#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "auth/spf.h"
#include "cli/cli.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dkim/dkim_verify.h"
#include "dns/dns.h"
#include "dns/dns_drive.h"
#include "report/dmarc_seen.h"
#include "store/store.h"
#include "mime/rfc5322.h"

#define CHECK_DEADLINE_MS 20000
#define AUTH_FILE_MAX (64u << 20)

struct wait {
	struct loop *loop;
	int done;
};

static void stop_loop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static void spf_finished(void *arg, struct spf_eval *e)
{
	struct wait *w = arg;
	(void)e;
	w->done = 1;
	loop_stop(w->loop);
}

static void dmarc_finished(void *arg, struct dmarc_eval *e)
{
	struct wait *w = arg;
	(void)e;
	w->done = 1;
	loop_stop(w->loop);
}

static void iprev_finished(void *arg)
{
	struct wait *w = arg;
	w->done = 1;
	loop_stop(w->loop);
}

static void dkim_wake(void *arg)
{
	loop_stop(arg);
}

/* Runs the loop until *done or the deadline. */
static void wait_for(struct loop *loop, const int *done)
{
	if (*done)
		return;
	uint64_t t = loop_timer_add(loop, CHECK_DEADLINE_MS, stop_loop, NULL);
	loop_run(loop);
	loop_timer_del(loop, t);
}

/* Reads FILE whole (at most AUTH_FILE_MAX); NULL with errno set. */
static char *read_file(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, len = 0;
	char *p = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= AUTH_FILE_MAX) {
				free(p);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			p = xrealloc(p, cap);
		}
		ssize_t got = read(fd, p + len, cap - len);
		if (got < 0) {
			int e = errno;
			free(p);
			close(fd);
			errno = e;
			return NULL;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	*len_r = len;
	return p;
}


/* A loop and its resolver for one check. */
struct stage {
	struct loop *loop;
	struct dns *dns;
	struct dns_resolver r;
};

static int stage_open(struct stage *st, const struct config *cfg)
{
	char err[256];
	st->loop = loop_new();
	st->dns = dns_new(st->loop, cfg->dns_servers, err, sizeof err);
	if (!st->dns) {
		fprintf(stderr, "tern check auth: %s\n", err);
		loop_free(&st->loop);
		return -1;
	}
	st->r = dns_resolver_of(st->dns);
	return 0;
}

static void stage_close(struct stage *st)
{
	dns_free(&st->dns);
	loop_free(&st->loop);
}


/*
 * --record: counts the result for the DMARC aggregate reports, as the
 * delivery of that message would (dmarc_seen_note), and stores it at
 * once: with `tern dmarc report --send --today` a user sees the report
 * their DMARC record would get for it.
 */
static int record_result(const struct config *cfg, const char *ip, const char *sender,
			 const char *helo, const struct spf_eval *spf,
			 const struct dmarc_verdict *dv, enum dmarc_result dres,
			 const struct dkim_verifier *v, size_t nsig)
{
	struct dmarc_seen_dkim dk[DMARC_REPORT_AUTH_MAX];
	size_t nd = 0;
	for (size_t i = 0; i < nsig && nd < DMARC_REPORT_AUTH_MAX; i++) {
		const struct dkim_sig_result *s = dkim_verifier_result(v, i);
		if (s->d[0])
			dk[nd++] = (struct dmarc_seen_dkim){s->d, s->s, dkim_result_name(s->result)};
	}
	const char *at = strrchr(sender, '@');
	const char *env = *sender ? (at ? at + 1 : sender) : helo;
	struct dmarc_verdict vv = *dv;
	vv.result = dres;
	struct dmarc_seen_msg m = {&vv, ip, env, spf_eval_domain(spf), *sender ? "mfrom" : "helo",
				   spf_result_name(spf_eval_result(spf)), dk, nd, NULL, NULL};
	if (!dv->policy_domain[0]) {
		printf("recorded: no (no DMARC record applies)\n");
		return 0;
	}
	dmarc_seen_note(&m, time_wall());
	struct store *st = cli_store_open(cfg, CLI_STORE_CHANGE);
	if (st == NULL)
		return 1;
	int n = dmarc_seen_flush(st);
	store_close(&st);
	if (n < 0) {
		fprintf(stderr, "tern check auth: cannot store the result\n");
		return 1;
	}
	printf("recorded: %s\n", dv->policy_domain);
	return 0;
}

static int usage(void)
{
	return cli_usage("check auth");
}

int cli_check_auth(const struct config *cfg, int argc, char **argv)
{
	const char *ip = NULL, *helo = NULL, *from = NULL, *file = NULL;
	char author[DMARC_DOMAIN_MAX];
	int record = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--record") == 0) {
			record = 1;
			continue;
		}
		const char **slot = strcmp(argv[i], "--ip") == 0 ? &ip
				    : strcmp(argv[i], "--helo") == 0 ? &helo
				    : strcmp(argv[i], "--mail-from") == 0 ? &from : NULL;
		if (slot && i + 1 < argc)
			*slot = argv[++i];
		else if (!slot && !file && argv[i][0] != '-')
			file = argv[i];
		else
			return usage();
	}
	if (!ip || !helo || !from || !file)
		return usage();
	/* The counts go to the store the server's reports read: without one
	 * nothing would send them, and one made here would hide a wrong
	 * TERN_DATA_DIR (as tern dmarc report and every command that reads
	 * or changes a store: exit 3 before any output). */
	if (record)
		cli_store_require(cfg, CLI_STORE_CHANGE);
	const char *sender = strcmp(from, "<>") == 0 ? "" : from;
	struct spf_eval *spf = spf_eval_new(SPF_ID_MAILFROM, ip, sender, helo, cfg->hostname, time_wall());
	if (!spf) {
		fprintf(stderr, "tern check auth: %s is not an IP address\n", ip);
		return 2;
	}
	size_t len;
	char *msg = read_file(file, &len);
	if (!msg) {
		fprintf(stderr, "tern check auth: %s: %s\n", file, strerror(errno));
		spf_eval_free(&spf);
		return 1;
	}
	struct stage st[5];
	if (stage_open(&st[3], cfg) < 0) {
		spf_eval_free(&spf);
		free(msg);
		return 2;
	}

	/* iprev. */
	struct iprev_eval *ipr = iprev_eval_new(ip);
	struct wait iw = { .loop = st[3].loop };
	struct dns_drive *irun = iprev_run(&st[3].r, ipr, iprev_finished, &iw);
	wait_for(st[3].loop, &iw.done);
	if (irun && !iw.done)
		dns_drive_cancel(irun);
	enum iprev_result ires = !irun || iw.done ? iprev_eval_result(ipr) : IPREV_TEMPERROR;
	stage_close(&st[3]);

	if (stage_open(&st[0], cfg) < 0) {
		iprev_eval_free(&ipr);
		spf_eval_free(&spf);
		free(msg);
		return 2;
	}

	/* SPF. */
	struct wait w = { .loop = st[0].loop };
	struct spf_run *srun = spf_run(&st[0].r, spf, spf_finished, &w);
	wait_for(st[0].loop, &w.done);
	if (srun && !w.done) {
		spf_run_cancel(srun);
		spf_eval_abort(spf, "no result within 20 seconds");
	}
	stage_close(&st[0]);

	/* DKIM: every signature; the passing d= feed DMARC, except keys in
	 * testing mode (t=y), which RFC 6376 §3.6.1 says to treat as unsigned,
	 * and passes that left body octets unsigned (l=). */
	if (stage_open(&st[1], cfg) < 0) {
		iprev_eval_free(&ipr);
		spf_eval_free(&spf);
		free(msg);
		return 2;
	}
	/* DKIM's body hashes serve ARC's too, as on port 25 (one command:
	 * static, not on the stack or freed at every exit). */
	static struct dkim_bodies bodies;
	dkim_bodies_init(&bodies);
	struct dkim_verifier *v = dkim_verifier_new(&st[1].r, time_wall());
	dkim_verifier_share_bodies(v, &bodies);
	dkim_verifier_update(v, msg, len);
	/* The DNS timeouts (c-ares' tries) bound the wait, as in tern check dkim. */
	while (dkim_verifier_run(v, dkim_wake, st[1].loop) == DKIM_VERIFY_WAIT)
		loop_run(st[1].loop);
	size_t nsig = dkim_verifier_count(v), npass, ntemp;
	const char **pass = xcalloc(2 * nsig + 2, sizeof *pass), **temp = pass + nsig + 1;
	auth_dkim_for_dmarc(v, pass, &npass, temp, &ntemp, nsig);

	/* ARC: the chain's cv=, as port 25 finds it (its own loop: a
	 * stopped loop stays stopped). */
	if (stage_open(&st[4], cfg) < 0) {
		free(pass);
		dkim_verifier_free(&v);
		stage_close(&st[1]);
		iprev_eval_free(&ipr);
		spf_eval_free(&spf);
		free(msg);
		return 2;
	}
	struct arc_verifier *av = arc_verifier_new(&st[4].r, time_wall());
	arc_verifier_share_bodies(av, &bodies);
	arc_verifier_update(av, msg, len);
	while (arc_verifier_run(av, dkim_wake, st[4].loop) == ARC_VERIFY_WAIT)
		loop_run(st[4].loop);
	const struct arc_result *arc = arc_verifier_result(av);

	/* DMARC over SPF and DKIM. */
	auth_author_domain(msg, len, author, sizeof author);
	/* RFC 9989 §4.4.2: only the MAIL FROM identity counts; the null path's HELO check does not. */
	struct dmarc_input in = { author, *sender ? spf_eval_result(spf) : SPF_NONE,
				  spf_eval_domain(spf), pass, npass,
				  0 /* a pct= sample always in: the policy as published */, temp, ntemp };
	struct dmarc_eval *de = dmarc_eval_new(&in);
	if (stage_open(&st[2], cfg) < 0) {
		free(pass);
		dmarc_eval_free(&de);
		dkim_verifier_free(&v);
		stage_close(&st[1]);
		arc_verifier_free(&av);
		stage_close(&st[4]);
		iprev_eval_free(&ipr);
		spf_eval_free(&spf);
		free(msg);
		return 2;
	}
	struct wait dw = { .loop = st[2].loop };
	struct dmarc_run *drun = dmarc_run(&st[2].r, de, dmarc_finished, &dw);
	wait_for(st[2].loop, &dw.done);
	if (drun && !dw.done)
		dmarc_run_cancel(drun);
	stage_close(&st[2]);
	const struct dmarc_verdict *dv = dmarc_eval_verdict(de);
	enum dmarc_result dres = !drun || dw.done ? dv->result : DMARC_RESULT_TEMPERROR;

	/* The field (the renderer the server uses, unfolded), then the details. */
	struct auth_results ar = {
	    .authserv_id = cfg->hostname, .client_ip = iprev_eval_ip(ipr), .has_iprev = 1,
	    .iprev = ires, .has_spf = 1, .spf = spf_eval_result(spf), .mail_from = sender,
	    .helo = helo, .ndkim = nsig > DKIM_VERIFY_SIGS_MAX ? DKIM_VERIFY_SIGS_MAX : nsig,
	    .dmarc = dres, .header_from = author, .dmarc_verdict = dv,
	};
	for (size_t i = 0; i < ar.ndkim; i++)
		ar.dkim[i] = dkim_verifier_result(v, i);
	ar.arc = arc;
	struct buf field;
	buf_init(&field, 65536);
	auth_results_field(&ar, &field);
	for (size_t i = 0; i < buf_len(&field); i++) {
		char c = buf_data(&field)[i];
		if (c == '\r')
			continue;
		/* A fold's CRLF and tab become one space; the last CRLF a line end. */
		if (c == '\n' && i + 1 < buf_len(&field) && buf_data(&field)[i + 1] == '\t') {
			putchar(' ');
			i++;
			continue;
		}
		putchar(c);
	}
	buf_free(&field);
	if (ires == IPREV_PASS)
		printf("iprev-name: %s\n", iprev_eval_name(ipr));
	printf("spf-reason: %s\n", spf_eval_reason(spf));
	for (size_t i = 0; i < nsig; i++)
		printf("dkim-reason: %s\n", dkim_verifier_result(v, i)->reason);
	printf("arc-reason: %s\n", arc->reason);
	if (dv->policy_domain[0])
		printf("dmarc-policy-domain: %s (%s=)\n", dv->policy_domain, dv->policy_tag);
	if (dres == DMARC_RESULT_FAIL)
		printf("dmarc-disposition: %s%s\n", dmarc_policy_name(dv->disposition),
		       dv->testing ? " (t=y: one step below the policy)" : "");
	printf("dmarc-reason: %s\n", !drun || dw.done ? (author[0] ? dv->reason
						     : "not exactly one From domain")
						  : "no result within 20 seconds");

	int rc = 0;
	if (record)
		rc = record_result(cfg, ip, sender, helo, spf, dv, dres, v, nsig);

	free(pass);
	iprev_eval_free(&ipr);
	dmarc_eval_free(&de);
	dkim_verifier_free(&v);
	stage_close(&st[1]);
	arc_verifier_free(&av);
	stage_close(&st[4]);
	spf_eval_free(&spf);
	free(msg);
	return rc;
}
