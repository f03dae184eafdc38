/*
 * fuzz_submission_session.c — whole SMTP sessions on the submission port's
 * rules (RFC 6409, port 587) from arbitrary client bytes (the harness, its
 * store and what it checks: fuzz_session.h).
 *
 * The first input octet chooses: odd is a client that has not logged in,
 * in plaintext (the refusals before STARTTLS and AUTH: EHLO without AUTH,
 * AUTH and MAIL answered 530, STARTTLS with no certificate); even is bob
 * logged in from the greeting on (smtp_server_accept_preauth: as if
 * STARTTLS and AUTH had succeeded), so MAIL FROM against bob's addresses,
 * RCPT to local and remote recipients (up to the limit, 5 here), DATA and
 * BDAT, the From check, DKIM signing (sign.test has keys, and bob the
 * address bob@sign.test), the local copies, queueing with FUTURERELEASE,
 * MT-PRIORITY, DSN and REQUIRETLS parameters are reached. AUTH's SASL
 * exchanges are not: every failed login is answered after a delay of one
 * to five seconds (auth/login_limit.h), and the SASL and SCRAM parsers
 * have targets of their own.
 *
 * Nothing leaves the process: the queue's scheduler (queue_sched_start)
 * never runs, so remote recipients stay queue entries in the store. Those
 * are deleted every FUZZ_SUBMISSION_PURGE inputs, so the store (on tmpfs)
 * stays bounded however long the run; bob's INBOX keeps the local copies,
 * each under the 8 KiB libFuzzer input, as fuzz_smtp_session's do. The
 * hourly sending limit is off: a run sends far more than a user may. The
 * input after the first octet is written in turns (fuzz_session.h).
 */
#include "dkim/dkim.h"
#include "store/store_queue.h"
#include "fuzz_session_smtp.h"

#define FUZZ_SUBMISSION_PURGE 64

static void start(struct loop *loop, int fd, uint8_t first)
{
	if (!(first & 1))
		smtp_server_accept_preauth(loop, fd, fz.account, FUZZ_SESSION_LOGIN);
	else
		smtp_server_accept(loop, fd, SMTP_SUBMISSION);
}

static const struct fuzz_session_target submission = { .name = "fuzz_submission_session",
							.start = start,
							.sessions = smtp_server_sessions,
							.turns = 1 };

/* A second domain with DKIM keys, bob's address there, another user to
 * impersonate and an alias that forwards outside. */
static void setup_addresses(void)
{
	struct dkim_keys keys;
	char err[256];
	uint32_t carol;

	if (dkim_keys_generate(&keys, 1795176000) != DKIM_OK ||
	    store_domain_add_dkim(fz.store, "sign.test", &keys, err, sizeof err) != STORE_OK ||
	    store_alias_add(fz.store, "bob@sign.test", FUZZ_SESSION_LOGIN, err, sizeof err) !=
	        STORE_OK ||
	    store_account_add(fz.store, "carol@example.test", "pw", 0, &carol, err, sizeof err) !=
	        STORE_OK ||
	    store_alias_add(fz.store, "fwd@example.test", "dave@remote.test", err, sizeof err) !=
	        STORE_OK) {
		fprintf(stderr, "fuzz_submission_session: address setup failed\n");
		abort();
	}
	dkim_keys_wipe(&keys);
}

/*
 * What a session logged in from the greeting on must say: its EHLO lists
 * the extensions of a logged-in client (BURL) and no AUTH, which could
 * only get 503 (RFC 4954 §4: no AUTH after a successful one), nor
 * STARTTLS: the transport stands for TLS, and STARTTLS is answered as
 * where TLS is up (RFC 3207 §4.2: its restart would drop the login).
 * Checked once at start, so that every run of the target (and make
 * fuzz-check) holds it.
 */
static void check_preauth_ehlo(void)
{
	static const char input[] = "\0EHLO client.test\r\n\x1eSTARTTLS\r\n\x1eQUIT\r\n";
	char out[4096];

	fuzz_session_said(input, sizeof input - 1, out, sizeof out);
	if (!strstr(out, "\r\n250-BURL imap\r\n") || strstr(out, "AUTH") ||
	    strstr(out, "250-STARTTLS") || !strstr(out, "\r\n554 5.5.1 ")) {
		fprintf(stderr, "fuzz_submission_session: a preauth session's EHLO said:\n%s\n", out);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct config *cfg = fuzz_session_setup(&submission);
	cfg->send_rate = 0;
	cfg->max_recipients = 5;
	setup_addresses();
	fuzz_session_smtp_init(cfg);
	fuzz_session_go();
	check_preauth_ehlo();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned inputs;
	size_t n;

	int r = fuzz_session_run(data, size);
	/* The session ended and its commits are done: nothing is in flight. */
	if (++inputs % FUZZ_SUBMISSION_PURGE == 0 && store_queue_del(fz.store, 0, &n) != STORE_OK)
		abort();
	return r;
}
