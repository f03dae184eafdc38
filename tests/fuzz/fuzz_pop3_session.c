/*
 * fuzz_pop3_session.c — whole POP3 sessions from arbitrary client bytes
 * (the harness, its store and what it checks: fuzz_session.h).
 *
 * The first input octet chooses: odd starts in AUTHORIZATION state on the
 * STLS port's rules (USER/PASS and AUTH are refused in plaintext, so the
 * login flow's refusals, CAPA, UTF8, LANG and the state checks are what is
 * reached); even starts in TRANSACTION state as bob
 * (pop3_server_accept_preauth), so STAT, LIST, UIDL, RETR and TOP with
 * their multi-line answers and dot-stuffing, DELE, RSET and QUIT's expunge
 * are reached. A QUIT that expunges changes the maildrop for the inputs
 * after it.
 */
#include "pop3/pop3_server.h"
#include "fuzz_session.h"

static void start(struct loop *loop, int fd, uint8_t first)
{
	if (!(first & 1))
		pop3_server_accept_preauth(loop, fd, fz.account, FUZZ_SESSION_LOGIN);
	else
		pop3_server_accept(loop, fd, NULL);
}

static const struct fuzz_session_target pop3 = { .name = "fuzz_pop3_session",
						  .start = start,
						  .sessions = pop3_server_sessions };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct config *cfg = fuzz_session_setup(&pop3);
	pop3_server_init(cfg, fz.store);
	fuzz_session_go();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_run(data, size);
}
