/*
 * fuzz_msieve_session.c — whole ManageSieve sessions from arbitrary client
 * bytes (the harness, its store and what it checks: fuzz_session.h).
 *
 * The first input octet chooses: odd starts not authenticated (STARTTLS
 * first: AUTHENTICATE is refused in plaintext, so the pre-authentication
 * literal limit, CAPABILITY, NOOP and the state checks are what is
 * reached); even starts authenticated as bob
 * (msieve_server_accept_preauth), so PUTSCRIPT and CHECKSCRIPT with
 * literals through the Sieve compiler on the worker pool, SETACTIVE,
 * GETSCRIPT, LISTSCRIPTS, RENAMESCRIPT, DELETESCRIPT and HAVESPACE are
 * reached. Scripts stored stay for the inputs after.
 */
#include "sieve/msieve_server.h"
#include "fuzz_session.h"

static void start(struct loop *loop, int fd, uint8_t first)
{
	if (!(first & 1))
		msieve_server_accept_preauth(loop, fd, fz.account, FUZZ_SESSION_LOGIN);
	else
		msieve_server_accept(loop, fd, NULL);
}

static const struct fuzz_session_target msieve = { .name = "fuzz_msieve_session",
						  .start = start,
						  .sessions = msieve_server_sessions };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct config *cfg = fuzz_session_setup(&msieve);
	msieve_server_init(cfg, fz.store);
	fuzz_session_go();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_run(data, size);
}
