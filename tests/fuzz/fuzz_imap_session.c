/*
 * fuzz_imap_session.c — whole IMAP sessions from arbitrary client bytes.
 *
 * Each input is one connection: a socketpair, a session on the server end
 * (the first input octet chooses: odd starts not authenticated, on the
 * STARTTLS port's rules; even starts with PREAUTH as bob, so SELECT,
 * FETCH, SEARCH, SORT, THREAD, STORE, APPEND with literals, IDLE, COPY,
 * EXPUNGE and the mailbox commands are reached), the rest written by the
 * client end, which then half-closes. The real loop, worker pool and store
 * (a temp dir, on tmpfs when there is one, with a few varied messages,
 * made once) run the session
 * until it ends; the output is read and dropped. What is checked is what
 * the sanitizers check, plus: the session always ends (after 20 s the
 * run aborts as a hang).
 *
 * State: the store persists across inputs (mailboxes created, flags set,
 * messages appended or expunged stay), so a crash input may need the
 * inputs before it; libFuzzer's -runs=0 replay of the corpus starts from
 * the same store every time, which keeps the replay check deterministic
 * enough. Inputs are cut at 64 KiB.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "imap/imap_server.h"
#include "net/limits.h"
#include "store/store.h"
#include "fuzz_tmpdir.h"

#define INPUT_MAX 65536

static struct loop *L;
static struct store *ST;
static uint32_t ACC;
static struct config CFG;
static unsigned ticks;
static int client_fd = -1, server_fd = -1, preauth;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;
static void *loop_thread(void *arg);
static int show;

static const char *const messages[] = {
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
};

static void deliver(const char *text)
{
	struct store_delivery d;
	memset(&d, 0, sizeof d);
	d.data = text;
	d.len = strlen(text);
	store_blob_id(text, d.len, d.blob_id);
	d.accounts = &ACC;
	d.naccounts = 1;
	d.received_at = 1795176000;
	if (store_deliver_sync(ST, &d) != STORE_OK)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tmpfs when there is one: commits fsync, and a loaded disk would
	 * make sessions slow for nothing. */
	static char shm[] = "/dev/shm/tern-fuzz-imap-XXXXXX", tmp[] = "/tmp/tern-fuzz-imap-XXXXXX";
	char *dir = fuzz_tmpdir(shm) ? shm : fuzz_tmpdir(tmp);
	char err[256];

	log_init(open("/dev/null", O_WRONLY), LOG_ERROR, 0);
	if (!dir || store_open(dir, STORE_SERVER, &ST, err, sizeof err) != STORE_OK ||
	    store_domain_add(ST, "example.test", err, sizeof err) != STORE_OK ||
	    store_account_add(ST, "bob@example.test", "pw", 0, &ACC, err, sizeof err) != STORE_OK) {
		fprintf(stderr, "fuzz_imap_session: store setup failed in %s\n", dir);
		abort();
	}
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		deliver(messages[i]);
	CFG.max_message_size = 1024 * 1024;
	show = getenv("FUZZ_IMAP_SHOW") != NULL;
	for (int p = 0; p < POOL_COUNT; p++)
		CFG.pools[p] = (struct pool_limits){ 1000, 1000 };
	/* CFG.login_timeout_s stays 0: no login deadline, runs are short. */
	limits_init(&CFG);
	worker_pool_start(1);
	imap_server_init(&CFG, ST);
	L = loop_new();
	pthread_t t;
	if (pthread_create(&t, NULL, loop_thread, NULL) != 0)
		abort();
	return 0;
}

static void client_cb(struct loop *loop, int fd, unsigned events, void *arg)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (show) /* FUZZ_IMAP_SHOW=1: see what the corpus does */
			fwrite(buf, 1, (size_t)n, stderr);
	if (n == 0 || (events & LOOP_HUP)) {
		loop_del_fd(loop, fd);
		close(fd);
		client_fd = -1;
	}
}

static void tick(struct loop *loop, void *arg)
{
	if (imap_server_sessions() == 0 && client_fd < 0) {
		pthread_mutex_lock(&lock);
		done = 1;
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&lock);
		return;
	}
	if (++ticks == 20000) { /* 20 s: a session that does not end is a bug */
		fprintf(stderr, "fuzz_imap_session: the session did not end\n");
		abort();
	}
	loop_timer_add(loop, 1, tick, NULL);
}

/* On the loop's thread: the session starts there, as after an accept. */
static void start(void *arg)
{
	loop_add_fd(L, client_fd, LOOP_READ, client_cb, NULL);
	if (preauth)
		imap_server_accept_preauth(L, server_fd, ACC, "bob@example.test");
	else
		imap_server_accept(L, server_fd, NULL);
	ticks = 0;
	loop_timer_add(L, 1, tick, NULL);
}

static void *loop_thread(void *arg)
{
	loop_run(L);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size == 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	size_t n = size - 1 > INPUT_MAX ? INPUT_MAX : size - 1;
	/* The socket buffer holds the whole input: the client writes it all
	 * before the session runs, then half-closes. */
	int sz = 4 * INPUT_MAX;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (n && write(sv[1], data + 1, n) != (ssize_t)n)
		abort();
	shutdown(sv[1], SHUT_WR);
	/* One loop for the whole run, on its own thread (as in the server):
	 * it never stops, so what the store posts to it always runs. */
	client_fd = sv[1];
	server_fd = sv[0];
	preauth = !(data[0] & 1);
	done = 0;
	loop_post(L, start, NULL);
	pthread_mutex_lock(&lock);
	while (!done)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return 0;
}
