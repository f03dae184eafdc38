/*
 * clamd.c — one message's scan by clamd over INSTREAM (clamd.h says the
 * protocol and the bounds).
 *
 * A scan's life: the address (a unix socket's path, or a lookup on the
 * loop's resolver, whose addresses are tried in turn until one takes
 * the connection), the connection (net/client.h), the command and the
 * first chunk once connected, one more chunk each time the output
 * drained, the zero length, then the reply. Every failure before the
 * connection exists is delivered through a timer of 0 ms, so the result
 * never arrives inside clamd_scan_start(). The client's on_close is the
 * one place a scan with a connection is freed: the result may be
 * delivered before (the reply came, the timer fired), the memory only
 * once the connection is gone.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/cidr.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "net/client.h"
#include "virus/clamd.h"

/* The command and the zero length that ends the stream. */
#define CMD "zINSTREAM"
#define OUT_MAX (sizeof CMD + 4 + CLAMD_CHUNK + 4)

/* TERN_CLAMD, parsed once at start (clamd_configure) before any loop runs. */
static char clamd_path[108];
static struct listen_addr clamd_tcp;
static int clamd_set;
/* TERN_TEST_CLAMD_TIMEOUT_MS (tests only), read with TERN_CLAMD: 0 when
 * unset, else it replaces both timeouts. */
static uint64_t clamd_test_timeout_ms;

struct clamd_scan {
	struct loop *loop;
	struct str data;
	size_t sent;              /* octets of data written */
	unsigned connected : 1;   /* the connection was made */
	unsigned ended : 1;       /* the zero length is written */
	unsigned finished : 1;    /* the result was delivered (or cancelled) */
	struct client *c;
	struct dns_lookup *lookup;
	/* Where clamd may listen: the unix socket, or the host's addresses
	 * in the resolver's order; cur is the next to try (next_address). */
	struct sockaddr_storage addrs[CLAMD_ADDRS_MAX];
	socklen_t addrlens[CLAMD_ADDRS_MAX];
	size_t naddrs, cur;
	uint64_t timer;
	clamd_done_cb *done;
	void *arg;
	struct clamd_result res;  /* a failure waiting for its 0 ms timer */
};

void clamd_configure(const char *v)
{
	clamd_set = 0;
	clamd_path[0] = '\0';
	const char *t = getenv("TERN_TEST_CLAMD_TIMEOUT_MS");
	clamd_test_timeout_ms = t && *t ? strtoull(t, NULL, 10) : 0;
	if (!v || !*v)
		return;
	int kind = config_clamd_parse(v, &clamd_tcp);
	if (kind < 0)
		return; /* config_load() refused it already */
	if (kind == 1)
		memcpy(clamd_path, v, strlen(v) + 1);
	clamd_set = 1;
}

int clamd_enabled(void)
{
	return clamd_set;
}

static uint64_t timeout_ms(uint64_t dflt)
{
	return clamd_test_timeout_ms ? clamd_test_timeout_ms : dflt;
}

/* Delivers r once, then lets go: of the connection (whose on_close frees
 * sc) or of sc itself. */
static void finish(struct clamd_scan *sc, const struct clamd_result *r)
{
	if (sc->timer)
		loop_timer_del(sc->loop, sc->timer);
	sc->timer = 0;
	if (!sc->finished) {
		sc->finished = 1;
		if (sc->done)
			sc->done(sc->arg, r);
	}
	if (sc->lookup)
		dns_cancel(sc->lookup);
	sc->lookup = NULL;
	if (sc->c)
		client_close(sc->c, "done");
	else
		free(sc);
}

static void fail(struct clamd_scan *sc, const char *why)
{
	struct clamd_result r = {.status = CLAMD_FAILED, .why = why};
	finish(sc, &r);
}

static void timed_out(struct loop *loop, void *arg)
{
	(void)loop;
	struct clamd_scan *sc = arg;
	sc->timer = 0;
	/* A connection that did not come up in time: on_close moves on to
	 * the next address, if any. */
	if (sc->c && !sc->connected && sc->cur < sc->naddrs) {
		client_close(sc->c, "connect_timeout");
		return;
	}
	fail(sc, "timeout");
}

static void deliver_later(struct loop *loop, void *arg)
{
	(void)loop;
	struct clamd_scan *sc = arg;
	sc->timer = 0;
	finish(sc, &sc->res);
}

/* A failure where the result may not be delivered at once. */
static void fail_soon(struct clamd_scan *sc, const char *why)
{
	if (sc->timer)
		loop_timer_del(sc->loop, sc->timer);
	sc->res = (struct clamd_result){.status = CLAMD_FAILED, .why = why};
	sc->timer = loop_timer_add(sc->loop, 0, deliver_later, sc);
}

static void rearm(struct clamd_scan *sc, uint64_t ms)
{
	if (sc->timer)
		loop_timer_del(sc->loop, sc->timer);
	sc->timer = loop_timer_add(sc->loop, timeout_ms(ms), timed_out, sc);
}

/* The next chunk behind its length, and the zero length after the last. */
static void write_chunk(struct clamd_scan *sc)
{
	size_t n = sc->data.len - sc->sent;
	if (n > CLAMD_CHUNK)
		n = CLAMD_CHUNK;
	if (n) {
		uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
		client_write(sc->c, len, 4);
		client_write(sc->c, sc->data.p + sc->sent, n);
		sc->sent += n;
	}
	if (sc->sent == sc->data.len) {
		static const uint8_t end[4];
		client_write(sc->c, end, 4);
		sc->ended = 1;
	}
}

static void next_address(struct clamd_scan *sc);

/* An address passed over while others remain: said, so that a dead
 * replica behind a service name shows (the last one's failure is the
 * scan's, logged by the caller). */
static void address_failed(const struct clamd_scan *sc, size_t i, const char *reason)
{
	char ip[64] = "unix";
	if (sc->addrs[i].ss_family != AF_UNIX)
		cidr_addr_text((const struct sockaddr *)&sc->addrs[i], ip, sizeof ip);
	log_warn("virus", NULL, "event=clamd_address_failed address=%s reason=%s", ip, reason);
}

static void on_connected(struct client *c, void *arg)
{
	struct clamd_scan *sc = arg;
	sc->connected = 1;
	rearm(sc, CLAMD_IO_MS);
	client_write(c, CMD, sizeof CMD); /* with its NUL: the "z" form */
	write_chunk(sc);
}

static void on_drained(struct client *c, void *arg)
{
	(void)c;
	struct clamd_scan *sc = arg;
	if (sc->ended || sc->finished)
		return;
	rearm(sc, CLAMD_IO_MS);
	write_chunk(sc);
}

static void on_data(struct client *c, void *arg)
{
	struct clamd_scan *sc = arg;
	if (sc->finished)
		return;
	long n = clamd_reply_find(c->in.p + c->in.off, c->in.len);
	if (n == -2)
		return;
	if (n == -1) {
		fail(sc, "bad_reply");
		return;
	}
	struct clamd_result r;
	clamd_reply_parse(c->in.p + c->in.off, (size_t)n, &r);
	finish(sc, &r);
}

static void on_close(struct client *c, void *arg, const char *reason)
{
	struct clamd_scan *sc = arg;
	sc->c = NULL;
	if (sc->finished) {
		free(sc);
		return;
	}
	if (!sc->connected && sc->cur < sc->naddrs) {
		/* Refused or timed out: the next one. */
		address_failed(sc, sc->cur - 1, reason);
		next_address(sc);
		return;
	}
	fail(sc, sc->connected ? "closed" : "unreachable");
}

static const struct client_ops ops = {
    .on_connected = on_connected,
    .on_data = on_data,
    .on_drained = on_drained,
    .on_close = on_close,
};

/*
 * Connects to the next address not tried yet, each with CLAMD_CONNECT_MS
 * of its own, as the outbound queue goes down a route's addresses: one
 * refusing or silent (a compose service's stopped replica) is passed
 * over. With none left: "unreachable".
 */
static void next_address(struct clamd_scan *sc)
{
	while (sc->cur < sc->naddrs) {
		size_t i = sc->cur++;
		rearm(sc, CLAMD_CONNECT_MS);
		sc->c = client_connect(sc->loop, (const struct sockaddr *)&sc->addrs[i],
				       sc->addrlens[i], CLAMD_REPLY_MAX, OUT_MAX, &ops, sc);
		if (sc->c)
			return;
		const char *why = errno == ECONNREFUSED ? "connection_refused" : "connect_failed";
		if (sc->cur < sc->naddrs)
			address_failed(sc, i, why);
	}
	fail_soon(sc, "unreachable");
}

static void routed(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
		   const char *why)
{
	(void)why;
	struct clamd_scan *sc = arg;
	sc->lookup = NULL;
	if (st != DNS_OK || n == 0) {
		fail_soon(sc, st == DNS_NOTFOUND ? "not_found" : "unreachable");
		return;
	}
	for (size_t i = 0; i < n && sc->naddrs < CLAMD_ADDRS_MAX; i++, sc->naddrs++) {
		memcpy(&sc->addrs[sc->naddrs], &addrs[i].sa, sizeof addrs[i].sa);
		sc->addrlens[sc->naddrs] = addrs[i].salen;
	}
	next_address(sc);
}

struct clamd_scan *clamd_scan_start(struct loop *loop, struct str data, clamd_done_cb *done,
				    void *arg)
{
	struct clamd_scan *sc = xcalloc(1, sizeof *sc);
	sc->loop = loop;
	sc->data = data;
	sc->done = done;
	sc->arg = arg;
	rearm(sc, CLAMD_CONNECT_MS);
	if (clamd_path[0]) {
		struct sockaddr_un *un = (struct sockaddr_un *)&sc->addrs[0];
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, clamd_path, strlen(clamd_path) + 1);
		sc->addrlens[0] = sizeof *un;
		sc->naddrs = 1;
		next_address(sc);
		return sc;
	}
	struct dns *d = dns_thread();
	if (!d) {
		fail_soon(sc, "unreachable");
		return sc;
	}
	/* A literal answers at once (routed has run, NULL returned). */
	struct dns_lookup *l = dns_route(d, clamd_tcp.host, 0, clamd_tcp.port, routed, sc);
	if (l)
		sc->lookup = l;
	return sc;
}

void clamd_scan_cancel(struct clamd_scan *sc)
{
	if (!sc)
		return;
	sc->done = NULL;
	struct clamd_result r = {.status = CLAMD_FAILED, .why = "cancelled"};
	finish(sc, &r);
}
