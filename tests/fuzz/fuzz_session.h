/*
 * fuzz_session.h — the harness of the whole-session fuzz targets
 * (fuzz_imap_session, fuzz_pop3_session, fuzz_msieve_session,
 * fuzz_smtp_session, fuzz_submission_session).
 *
 * Each input is one connection: a socketpair whose server end gets a
 * session of the protocol under test (the target's start function, on
 * the loop's thread as after an accept; the first input octet is the
 * target's to read, e.g. authenticated or not), and whose client end is
 * written the rest of the input, then half-closed. The real loop, worker
 * pool and store run the session until it ends; the output is read and
 * dropped (FUZZ_SESSION_SHOW=1 copies it to stderr, to see what a corpus
 * does). What is checked is what the sanitizers check, plus: the session
 * always ends (after 20 s the run aborts as a hang).
 *
 * A target with turns set is written in turns instead, as a client that
 * waits for answers: the input is cut at each FUZZ_SESSION_TURN octet
 * (which the session never sees), and each piece is written once the
 * session has said something since the last (its greeting first), or
 * after FUZZ_SESSION_TURN_MS of silence. SMTP on port 25 needs it: a
 * command written before the answer to one that may not be pipelined
 * ends the session (Postfix's rule), so input written at once reaches
 * nothing past EHLO.
 *
 * The store (a private directory, on tmpfs when there is one: commits
 * fsync, and a loaded disk would make sessions slow for nothing) holds
 * bob@example.test with a few varied messages in INBOX, made once. It
 * persists across inputs (mailboxes, flags, scripts, expunges stay), so a
 * crash input may need the inputs before it; libFuzzer's -runs=0 replay
 * of a corpus starts from the same store every time, which keeps the
 * replay check deterministic enough. Inputs are cut at 64 KiB.
 *
 * Static functions in a header: each target is its own translation unit
 * (and its own process under make fuzz-check), with its own harness.
 */
#ifndef TERN_TESTS_FUZZ_SESSION_H
#define TERN_TESTS_FUZZ_SESSION_H

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "net/limits.h"
#include "store/store.h"
#include "fuzz_tmpdir.h"

#define FUZZ_SESSION_INPUT_MAX 65536
#define FUZZ_SESSION_TURN 0x1e /* ASCII's record separator */
#define FUZZ_SESSION_TURN_MS 20
#define FUZZ_SESSION_LOGIN "bob@example.test"

/* What a target gives the harness. */
struct fuzz_session_target {
	const char *name; /* for messages */
	/* On the loop's thread: a session on fd; first is the input's first octet. */
	void (*start)(struct loop *loop, int fd, uint8_t first);
	unsigned (*sessions)(void); /* sessions alive */
	int turns;                  /* written in turns (above) */
};

static struct {
	const struct fuzz_session_target *t;
	const char *dir; /* the store's */
	struct loop *loop;
	struct store *store;
	uint32_t account;
	struct config cfg;
	unsigned ticks;
	unsigned long said; /* reads of the session's output, under lock */
	int client_fd, server_fd, show, done;
	uint8_t first;
	/* fuzz_session_said(): the session's output, kept (NUL-terminated,
	 * cut at capture_max - 1 octets); NULL while fuzzing. */
	char *capture;
	size_t capture_len, capture_max;
	pthread_mutex_t lock;
	pthread_cond_t cond;
} fz = { .client_fd = -1, .server_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER };

static const char *const fuzz_session_messages[] = {
	"From: Alice <alice@remote.test>\r\nTo: bob@example.test\r\nSubject: Hello\r\n"
	"Date: Fri, 20 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@remote.test>\r\n\r\nHello Bob.\r\n",
	"From: carol@remote.test\r\nTo: bob@example.test\r\nSubject: Re: Hello\r\n"
	"Date: Fri, 20 Nov 2026 13:00:00 +0100\r\nMessage-ID: <2@remote.test>\r\n"
	"References: <1@remote.test>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	"Gr=C3=BC=C3=9Fe\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Gr&uuml;&szlig;e</p>\r\n--b--\r\n",
	"From: =?UTF-8?Q?J=C3=BCrgen?= <j@remote.test>\r\nTo: bob@example.test\r\n"
	"Subject: [list] Fwd: report\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
	"see attached\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner\r\n"
	"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"AAECAwQ=\r\n--x--\r\n",
	/* a bare LF and a dot at a line's start: POP3's size as sent and
	 * dot-stuffing have work to do */
	"From: dave@remote.test\nTo: bob@example.test\nSubject: dots\n\n.\n..\nend\n",
};

static void fuzz_session_deliver(const char *text)
{
	struct store_delivery d;
	memset(&d, 0, sizeof d);
	d.data = text;
	d.len = strlen(text);
	store_blob_id(text, d.len, d.blob_id);
	d.accounts = &fz.account;
	d.naccounts = 1;
	d.received_at = 1795176000;
	if (store_deliver_sync(fz.store, &d) != STORE_OK)
		abort();
}

/*
 * LLVMFuzzerInitialize's first half: the store, the config (returned, for
 * the target's server init), the limits and one worker. The target then
 * calls its server's init and fuzz_session_go().
 */
static struct config *fuzz_session_setup(const struct fuzz_session_target *t)
{
	static char shm[] = "/dev/shm/tern-fuzz-session-XXXXXX", tmp[] = "/tmp/tern-fuzz-session-XXXXXX";
	char *dir = fuzz_tmpdir(shm) ? shm : fuzz_tmpdir(tmp);
	char err[256];

	fz.t = t;
	fz.dir = dir;
	log_init(open("/dev/null", O_WRONLY), LOG_ERROR, 0);
	if (!dir || store_open(dir, STORE_SERVER, &fz.store, err, sizeof err) != STORE_OK ||
	    store_domain_add(fz.store, "example.test", err, sizeof err) != STORE_OK ||
	    store_account_add(fz.store, FUZZ_SESSION_LOGIN, "pw", 0, &fz.account, err, sizeof err) !=
	        STORE_OK) {
		fprintf(stderr, "%s: store setup failed in %s\n", t->name, dir);
		abort();
	}
	for (size_t i = 0; i < sizeof(fuzz_session_messages) / sizeof(fuzz_session_messages[0]); i++)
		fuzz_session_deliver(fuzz_session_messages[i]);
	/* The server's defaults (timeouts, limits), but for: */
	if (config_load(&fz.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", t->name, err);
		abort();
	}
	fz.cfg.max_message_size = 1024 * 1024;
	fz.show = getenv("FUZZ_SESSION_SHOW") != NULL;
	for (int p = 0; p < POOL_COUNT; p++)
		fz.cfg.pools[p] = (struct pool_limits){ 1000, 1000 };
	fz.cfg.login_timeout_s = 0; /* no login deadline: runs are short */
	limits_init(&fz.cfg);
	worker_pool_start(1);
	return &fz.cfg;
}

static void *fuzz_session_loop_thread(void *arg)
{
	(void)arg;
	loop_run(fz.loop);
	return NULL;
}

/* LLVMFuzzerInitialize's second half: the loop, on its own thread (as in
 * the server). It never stops, so what the store posts to it always runs. */
static void fuzz_session_go(void)
{
	pthread_t t;

	fz.loop = loop_new();
	if (pthread_create(&t, NULL, fuzz_session_loop_thread, NULL) != 0)
		abort();
}

static void fuzz_session_client_cb(struct loop *loop, int fd, unsigned events, void *arg)
{
	char buf[65536];
	ssize_t n;

	(void)arg;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (fz.show)
			fwrite(buf, 1, (size_t)n, stderr);
		pthread_mutex_lock(&fz.lock);
		if (fz.capture) {
			size_t room = fz.capture_max - 1 - fz.capture_len;
			size_t take = (size_t)n < room ? (size_t)n : room;
			memcpy(fz.capture + fz.capture_len, buf, take);
			fz.capture_len += take;
			fz.capture[fz.capture_len] = '\0';
		}
		fz.said++;
		pthread_cond_signal(&fz.cond);
		pthread_mutex_unlock(&fz.lock);
	}
	if (n == 0 || (events & LOOP_HUP)) {
		loop_del_fd(loop, fd);
		close(fd);
		fz.client_fd = -1;
	}
}

static void fuzz_session_tick(struct loop *loop, void *arg)
{
	(void)arg;
	if (fz.t->sessions() == 0 && fz.client_fd < 0) {
		pthread_mutex_lock(&fz.lock);
		fz.done = 1;
		pthread_cond_signal(&fz.cond);
		pthread_mutex_unlock(&fz.lock);
		return;
	}
	if (++fz.ticks == 20000) { /* 20 s: a session that does not end is a bug */
		fprintf(stderr, "%s: the session did not end\n", fz.t->name);
		abort();
	}
	loop_timer_add(loop, 1, fuzz_session_tick, NULL);
}

/* On the loop's thread: the session starts there, as after an accept. */
static void fuzz_session_start(void *arg)
{
	(void)arg;
	loop_add_fd(fz.loop, fz.client_fd, LOOP_READ, fuzz_session_client_cb, NULL);
	fz.t->start(fz.loop, fz.server_fd, fz.first);
	fz.ticks = 0;
	loop_timer_add(fz.loop, 1, fuzz_session_tick, NULL);
}

/* Under fz.lock: waits until the session says something after what
 * *seen counted, it ends, or FUZZ_SESSION_TURN_MS pass. */
static void fuzz_session_wait_said(unsigned long *seen)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += FUZZ_SESSION_TURN_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (fz.said == *seen && !fz.done)
		if (pthread_cond_timedwait(&fz.cond, &fz.lock, &until) != 0)
			break;
	*seen = fz.said;
}

/* The input's pieces, each once the session answered the one before. */
static void fuzz_session_write_turns(int fd, const uint8_t *p, size_t n)
{
	unsigned long seen = 0;

	for (;;) {
		const uint8_t *cut = memchr(p, FUZZ_SESSION_TURN, n);
		size_t len = cut ? (size_t)(cut - p) : n;
		pthread_mutex_lock(&fz.lock);
		fuzz_session_wait_said(&seen);
		int over = fz.done;
		pthread_mutex_unlock(&fz.lock);
		/* The socket buffer holds the whole input; a session that
		 * ended takes no more (EPIPE, no signal). */
		if (over || (len && send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len) || !cut)
			return;
		p = cut + 1;
		n -= len + 1;
	}
}

/* LLVMFuzzerTestOneInput: one connection, run to its end. */
static int fuzz_session_run(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size == 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	size_t n = size - 1 > FUZZ_SESSION_INPUT_MAX ? FUZZ_SESSION_INPUT_MAX : size - 1;
	/* The socket buffer holds the whole input: the client writes it all
	 * (at once, or in turns on a descriptor of its own: the loop closes
	 * fz.client_fd when the session ends), then half-closes. */
	int sz = 4 * FUZZ_SESSION_INPUT_MAX;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	int wfd = fz.t->turns ? dup(sv[1]) : -1;
	if (fz.t->turns && wfd < 0)
		abort();
	if (!fz.t->turns) {
		if (n && write(sv[1], data + 1, n) != (ssize_t)n)
			abort();
		shutdown(sv[1], SHUT_WR);
	}
	fz.client_fd = sv[1];
	fz.server_fd = sv[0];
	fz.first = data[0];
	pthread_mutex_lock(&fz.lock);
	fz.done = 0;
	fz.said = 0;
	pthread_mutex_unlock(&fz.lock);
	loop_post(fz.loop, fuzz_session_start, NULL);
	if (wfd >= 0) {
		fuzz_session_write_turns(wfd, data + 1, n);
		shutdown(wfd, SHUT_WR);
		close(wfd);
	}
	pthread_mutex_lock(&fz.lock);
	while (!fz.done)
		pthread_cond_wait(&fz.cond, &fz.lock);
	pthread_mutex_unlock(&fz.lock);
	return 0;
}

/*
 * For a target's own checks of fixed inputs (in LLVMFuzzerInitialize,
 * after fuzz_session_go): runs input (size octets, as an input of the
 * fuzzer) and returns what the session said, in out (max octets, max >
 * 0, NUL-terminated, cut to fit). Inline: only some targets use it.
 */
static inline const char *fuzz_session_said(const char *input, size_t size, char *out, size_t max)
{
	pthread_mutex_lock(&fz.lock);
	fz.capture = out;
	fz.capture_len = 0;
	fz.capture_max = max;
	out[0] = '\0';
	pthread_mutex_unlock(&fz.lock);
	fuzz_session_run((const uint8_t *)input, size);
	pthread_mutex_lock(&fz.lock);
	fz.capture = NULL;
	pthread_mutex_unlock(&fz.lock);
	return out;
}

#endif
