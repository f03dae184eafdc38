/*
 * fuzz_imap_session.c — whole IMAP sessions from arbitrary client bytes
 * (the harness, its store and what it checks: fuzz_session.h).
 *
 * The first input octet chooses: odd starts not authenticated, on the
 * STARTTLS port's rules; even starts with PREAUTH as bob, so SELECT,
 * FETCH, SEARCH, SORT, THREAD, STORE, APPEND with literals, IDLE, COPY,
 * EXPUNGE and the mailbox commands are reached.
 */
#include "imap/imap_server.h"
#include "fuzz_session.h"

static void start(struct loop *loop, int fd, uint8_t first)
{
	if (!(first & 1))
		imap_server_accept_preauth(loop, fd, fz.account, FUZZ_SESSION_LOGIN);
	else
		imap_server_accept(loop, fd, NULL);
}

static const struct fuzz_session_target imap = { .name = "fuzz_imap_session",
						  .start = start,
						  .sessions = imap_server_sessions };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct config *cfg = fuzz_session_setup(&imap);
	imap_server_init(cfg, fz.store);
	fuzz_session_go();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_run(data, size);
}
