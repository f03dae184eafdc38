/*
 * fuzz_smtp_session.c — whole SMTP sessions on port 25's rules (MX mode)
 * from arbitrary client bytes (the harness, its store and what it
 * checks: fuzz_session.h).
 *
 * What the internet reaches without logging in: EHLO/HELO, MAIL with its
 * parameters (SIZE, BODY, SMTPUTF8, REQUIRETLS, DSN's RET/ENVID), RCPT
 * (NOTIFY, ORCPT) against the store's accounts (bob@example.test and
 * unknown ones), DATA and BDAT (chunks, LAST, pipelined), the message
 * through the delivery pipeline into bob's mailbox (header checks, spam
 * scoring, Sieve with no script), RSET, NOOP, VRFY, HELP, QUIT, STARTTLS
 * without TLS, AUTH refused in plaintext. The peer is a socketpair, not an
 * IP address, and the loop has no resolver, so the DNS checks (iprev,
 * SPF, DNSBLs) are skipped as for a test socket; their parsers have their
 * own targets. Messages delivered stay in the store for the inputs after.
 * The first input octet is not used; the rest is written in turns
 * (fuzz_session.h), so a client that waits for each answer is the norm and
 * pipelining out of turn is reached too.
 */
#include "fuzz_session_smtp.h"

static void start(struct loop *loop, int fd, uint8_t first)
{
	(void)first;
	smtp_server_accept(loop, fd, NULL);
}

static const struct fuzz_session_target smtp = { .name = "fuzz_smtp_session",
						  .start = start,
						  .sessions = smtp_server_sessions,
						  .turns = 1 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_session_smtp_init(fuzz_session_setup(&smtp));
	fuzz_session_go();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_run(data, size);
}
