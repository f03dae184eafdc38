/*
 * test_listener.c — accepted connections are spread over the loops
 * (net/listener.h): a burst accepted by one loop goes half to the other,
 * and a connection handed to a loop the listener was detached from
 * meanwhile is closed rather than served.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "net/listener.h"
#include "unit.h"

#define CLIENTS 8

/* What the service callback saw, per loop. */
struct side {
	struct loop *loop;
	pthread_t thread;
	_Atomic int taken;
	int fds[CLIENTS];
};

static struct side sides[2];
static _Atomic int taken_total;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void conn_ready(struct loop *l, int fd, unsigned events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	(void)arg;
}

/* The service: registers the socket on the loop that got it, as conn_new does. */
static void on_conn(struct loop *loop, int fd, void *arg)
{
	(void)arg;
	struct side *s = loop == sides[0].loop ? &sides[0] : &sides[1];
	CHECK(loop == sides[0].loop || loop == sides[1].loop);
	struct sockaddr_storage ss;
	socklen_t len;
	int nodelay;
	/* The peer travels with a handed-over socket too. */
	CHECK_EQ_INT(listener_accepted_peer(fd, &ss, &len, &nodelay), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET);
	CHECK_EQ_INT(loop_add_fd(loop, fd, LOOP_READ, conn_ready, NULL), 0);
	s->fds[atomic_fetch_add(&s->taken, 1)] = fd;
	atomic_fetch_add(&taken_total, 1);
}

static void *run(void *arg)
{
	loop_run(arg);
	return NULL;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_EQ_INT(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void wait_taken(int n)
{
	for (int i = 0; i < 500 && atomic_load(&taken_total) < n; i++)
		sleep_ms(10);
}

/* Holds loop 1 busy so that a hand-off waits in its queue, then detaches
 * the listener from it (a stopping server's drain) before the hand-off runs. */
struct hold {
	struct listener *ls;
	int drop; /* fds loop 1 gives up first, so that it has the fewest */
	_Atomic int held, release;
};

static void hold_on_loop1(void *arg)
{
	struct hold *h = arg;
	for (int i = 0; i < h->drop; i++)
		loop_close_fd(sides[1].loop, sides[1].fds[--sides[1].taken]);
	atomic_fetch_sub(&taken_total, h->drop);
	atomic_store(&h->held, 1);
	while (!atomic_load(&h->release))
		sleep_ms(5);
	listener_detach(h->ls, sides[1].loop);
}

static void test_burst_spread(void)
{
	struct listener ls;
	struct listen_addr a = {.host = "127.0.0.1", .port = 0, .explicit_ = 1};
	char err[256];
	int clients[CLIENTS + 1];

	CHECK_EQ_INT(listener_open(&ls, &a, "test", on_conn, NULL, err, sizeof err), 0);
	struct sockaddr_in bound;
	socklen_t bl = sizeof bound;
	CHECK_EQ_INT(getsockname(ls.fd, (struct sockaddr *)&bound, &bl), 0);
	uint16_t port = ntohs(bound.sin_port);
	for (int i = 0; i < 2; i++) {
		sides[i].loop = loop_new();
		CHECK_EQ_INT(listener_attach(&ls, sides[i].loop), 0);
	}
	/* The burst waits in the backlog; only loop 0 runs: before the
	 * change it accepted all eight itself. */
	for (int i = 0; i < CLIENTS; i++)
		clients[i] = connect_to(port);
	pthread_create(&sides[0].thread, NULL, run, sides[0].loop);
	for (int i = 0; i < 500 && atomic_load(&sides[0].taken) < CLIENTS / 2; i++)
		sleep_ms(10);
	sleep_ms(50); /* anything more it would take */
	pthread_create(&sides[1].thread, NULL, run, sides[1].loop);
	wait_taken(CLIENTS);
	CHECK_EQ_INT(atomic_load(&taken_total), CLIENTS);
	CHECK_EQ_INT(atomic_load(&sides[0].taken), CLIENTS / 2);
	CHECK_EQ_INT(atomic_load(&sides[1].taken), CLIENTS / 2);

	/* A connection on its way to loop 1 when the listener is detached
	 * from it (a stopping server): closed there, never served. */
	struct hold h = {&ls, 2, 0, 0};
	loop_post(sides[1].loop, hold_on_loop1, &h);
	for (int i = 0; i < 500 && !atomic_load(&h.held); i++)
		sleep_ms(10);
	unsigned before = loop_fd_count(sides[1].loop);
	clients[CLIENTS] = connect_to(port);
	for (int i = 0; i < 500 && loop_fd_count(sides[1].loop) == before; i++)
		sleep_ms(10);
	CHECK_EQ_INT(loop_fd_count(sides[1].loop), before + 1); /* counted on its way */
	atomic_store(&h.release, 1);
	struct timeval tv = {5, 0};
	setsockopt(clients[CLIENTS], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char c;
	CHECK_EQ_INT(recv(clients[CLIENTS], &c, 1, 0), 0); /* closed */
	/* Less the listener's own registration, gone with the detach. */
	for (int i = 0; i < 500 && loop_fd_count(sides[1].loop) != before - 1; i++)
		sleep_ms(10);
	CHECK_EQ_INT(loop_fd_count(sides[1].loop), before - 1);
	CHECK_EQ_INT(atomic_load(&sides[1].taken), CLIENTS / 2 - 2);
	CHECK_EQ_INT(atomic_load(&sides[0].taken), CLIENTS / 2);

	for (int i = 0; i < 2; i++) {
		loop_stop(sides[i].loop);
		pthread_join(sides[i].thread, NULL);
		for (int k = 0; k < atomic_load(&sides[i].taken); k++)
			close(sides[i].fds[k]);
	}
	for (int i = 0; i < 2; i++)
		loop_free(&sides[i].loop);
	listener_close(&ls);
	for (int i = 0; i <= CLIENTS; i++)
		close(clients[i]);
}

int main(void)
{
	test_burst_spread();
	return unit_done("test_listener");
}
