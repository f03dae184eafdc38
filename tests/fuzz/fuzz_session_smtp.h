/*
 * fuzz_session_smtp.h — what both SMTP session targets (fuzz_smtp_session
 * on port 25's rules, fuzz_submission_session on port 587's) set up on top
 * of fuzz_session.h before the loop starts.
 */
#ifndef TERN_TESTS_FUZZ_SESSION_SMTP_H
#define TERN_TESTS_FUZZ_SESSION_SMTP_H

#include "core/hostname.h"
#include "core/spool.h"
#include "forward/forward.h"
#include "smtp/smtp_server.h"
#include "fuzz_session.h"

/* Called by LLVMFuzzerInitialize once cfg (fuzz_session_setup's) and the
 * store are as the target wants them: the host name, the spool and the
 * forwarding state in the store's directory, then the SMTP server. */
static void fuzz_session_smtp_init(struct config *cfg)
{
	static char spool[512];

	snprintf(cfg->hostname, sizeof cfg->hostname, "mx.example.test");
	/* No second's wait before each command past the soft error limit:
	 * most inputs make errors, and it would make them a run a second. */
	cfg->smtp_soft_errors = cfg->smtp_max_errors;
	hostname_set(cfg->hostname);
	snprintf(spool, sizeof spool, "%s/spool", fz.dir);
	if (spool_setup(spool, cfg->message_memory) < 0 || forward_init(fz.dir, cfg->forward_rate) < 0) {
		fprintf(stderr, "%s: spool or forwarding setup failed in %s\n", fz.t->name, fz.dir);
		abort();
	}
	smtp_server_init(cfg, fz.store);
}

#endif
