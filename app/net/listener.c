/*
 * listener.c — listening sockets. See listener.h.
 */
#include "net/listener.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "net/proxy_proto.h"

/* A proxied connection gets this long to send its header. */
#define PROXY_HEADER_MS 5000

static const char *trusted_proxies = "";

void listener_trust_proxies(const char *cidrs)
{
	trusted_proxies = cidrs ? cidrs : "";
}

/*
 * TCP keepalive on every accepted socket (they inherit it from the
 * listening one, Linux): a client that vanished without a FIN (a laptop
 * that left the Wi-Fi, a NAT that forgot the flow) otherwise held its
 * session, and POP3 its maildrop lock, until the protocol's idle
 * timeout (10 minutes for POP3, 30 for IMAP). Probes start after
 * KEEPALIVE_IDLE_S idle seconds and end the connection when
 * KEEPALIVE_COUNT go unanswered KEEPALIVE_INTVL_S apart (4 minutes); a
 * live client's kernel answers them, its session sees nothing.
 */
#define KEEPALIVE_IDLE_S 120
#define KEEPALIVE_INTVL_S 30
#define KEEPALIVE_COUNT 4

static void keepalive_set(int fd)
{
	int one = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_COUNT;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int bind_port(const char *host, uint16_t port, char *err, size_t errsz, int *errno_r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, family;

	memset(&ss, 0, sizeof(ss));
	if (host[0] == '\0' || strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		family = AF_INET6;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (host[0] && inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(err, errsz, "not an IPv6 address: %s", host);
			*errno_r = EINVAL;
			return -1;
		}
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		family = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(err, errsz, "not an IP address: %s", host);
			*errno_r = EINVAL;
			return -1;
		}
		sl = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && family == AF_INET6 && host[0] == '\0') {
		/* No IPv6 in this network namespace: all IPv4 addresses. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof(ss));
		family = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		*errno_r = errno;
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit it (Linux), so conn_new need not set it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	keepalive_set(fd);
	if (family == AF_INET6) {
		int zero = 0; /* dual stack for the wildcard */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
		*errno_r = errno;
		snprintf(err, errsz, "cannot listen on [%s]:%u: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int listener_open(struct listener *ls, const struct listen_addr *a, const char *name,
		  listener_accept_cb *cb, void *arg, char *err, size_t errsz)
{
	int e = 0;
	int fd = bind_port(a->host, a->port, err, errsz, &e);

	if (fd < 0 && e == EACCES && !a->explicit_ && a->fallback_port &&
	    a->fallback_port != a->port) {
		log_info("net", NULL, "event=port_fallback listener=%s port=%u fallback=%u reason=%s",
			 name, a->port, a->fallback_port, "not_permitted");
		fd = bind_port(a->host, a->fallback_port, err, errsz, &e);
		if (fd >= 0)
			ls->port = a->fallback_port;
	} else {
		ls->port = a->port;
	}
	if (fd < 0)
		return -1;
	int nd = 0;
	socklen_t ndl = sizeof(nd);
	ls->nodelay = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl) == 0 && nd;
	ls->fd = fd;
	ls->name = name;
	ls->cb = cb;
	ls->arg = arg;
	ls->proxy = 0;
	ls->busy_line = NULL;
	for (int i = 0; i < LISTENER_LOOPS_MAX; i++)
		atomic_store(&ls->loops[i], NULL);
	atomic_store(&ls->nloops, 0);
	return 0;
}

/* The socket on_accept is handing out on this thread, and its peer. */
static _Thread_local struct {
	int fd;
	int nodelay; /* inherited TCP_NODELAY from the listening socket */
	socklen_t len;
	struct sockaddr_storage ss;
} accepted = { .fd = -1 };

int listener_accepted_peer(int fd, struct sockaddr_storage *ss, socklen_t *len, int *nodelay_r)
{
	if (fd < 0 || fd != accepted.fd)
		return -1;
	*ss = accepted.ss;
	*len = accepted.len;
	*nodelay_r = accepted.nodelay;
	return 0;
}

/*
 * A connection from a trusted proxy, before its PROXY header is complete.
 * The header is read off the socket exactly (peeked, then only its own
 * bytes consumed), so what follows (a TLS ClientHello, a client's first
 * command) stays in the socket for the session.
 */
struct proxy_wait {
	struct listener *ls;
	struct loop *loop;
	int fd, nodelay;
	uint64_t timer;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct proxy_wait *next, *prev; /* this thread's waits */
	size_t n;                       /* header bytes consumed so far */
	uint8_t buf[PROXY_V2_MAX];
};

static _Thread_local struct proxy_wait *waits;

static void wait_end(struct proxy_wait *w, int close_fd)
{
	if (w->timer)
		loop_timer_del(w->loop, w->timer);
	if (close_fd)
		loop_close_fd(w->loop, w->fd);
	else
		loop_del_fd(w->loop, w->fd);
	if (w->prev)
		w->prev->next = w->next;
	else
		waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* A peer as the sessions name it (cidr_addr_text: a dual-stack socket's
 * IPv4 peer as IPv4). */
static void addr_text(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	cidr_addr_text((const struct sockaddr *)ss, out, outsz);
	if (!out[0])
		snprintf(out, outsz, "?");
}

static void wait_fail(struct proxy_wait *w, const char *reason)
{
	char ip[INET6_ADDRSTRLEN];
	addr_text(&w->peer, ip, sizeof ip);
	log_info("net", NULL, "event=proxy_refused listener=%s proxy=%s reason=%s", w->ls->name, ip,
		 reason);
	wait_end(w, 1);
}

static void on_proxy_timeout(struct loop *loop, void *arg)
{
	struct proxy_wait *w = arg;
	(void)loop;
	w->timer = 0;
	wait_fail(w, "timeout");
}

static void on_proxy_io(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct proxy_wait *w = arg;
	struct proxy_hdr h;
	(void)events;

	ssize_t m = recv(fd, w->buf + w->n, sizeof w->buf - w->n, MSG_PEEK);
	if (m == 0 || (m < 0 && errno != EAGAIN && errno != EINTR)) {
		wait_fail(w, m == 0 ? "closed" : "read_error");
		return;
	}
	if (m < 0)
		return;
	int r = proxy_parse(w->buf, w->n + (size_t)m, &h);
	if (r == -1) {
		wait_fail(w, "bad_header");
		return;
	}
	/* All of what arrived is header: take it, so the next wake-up
	 * brings new bytes rather than the same ones. */
	size_t take = r == -2 ? (size_t)m : (size_t)r - w->n;
	if (recv(fd, w->buf + w->n, take, 0) != (ssize_t)take) {
		wait_fail(w, "read_error");
		return;
	}
	w->n += take;
	if (r == -2) {
		if (w->n == sizeof w->buf)
			wait_fail(w, "bad_header");
		return;
	}
	/* Hand over as if just accepted, with the client's address. */
	struct listener *ls = w->ls;
	char proxy[INET6_ADDRSTRLEN], client[INET6_ADDRSTRLEN];
	addr_text(&w->peer, proxy, sizeof proxy);
	accepted.fd = fd;
	accepted.nodelay = w->nodelay;
	if (h.has_addr) {
		accepted.ss = h.src;
		accepted.len = h.src_len;
	} else {
		accepted.ss = w->peer;
		accepted.len = w->peer_len;
	}
	addr_text(&accepted.ss, client, sizeof client);
	log_debug("net", NULL, "event=proxied listener=%s proxy=%s client=%s version=%d",
		  ls->name, proxy, client, h.version);
	wait_end(w, 0);
	ls->cb(loop, fd, ls->arg);
	accepted.fd = -1;
}

/* 1 when the socket just accepted must first send a PROXY header. */
static int proxy_expected(const struct listener *ls)
{
	char ip[INET6_ADDRSTRLEN];
	if (!ls->proxy || !trusted_proxies[0])
		return 0;
	addr_text(&accepted.ss, ip, sizeof ip);
	return cidr_list_match(trusted_proxies, ip);
}

static void proxy_wait_start(struct loop *loop, struct listener *ls, int fd)
{
	struct proxy_wait *w = xcalloc(1, sizeof *w);
	w->ls = ls;
	w->loop = loop;
	w->fd = fd;
	w->nodelay = accepted.nodelay;
	w->peer = accepted.ss;
	w->peer_len = accepted.len;
	if (loop_add_fd(loop, fd, LOOP_READ, on_proxy_io, w) < 0) {
		close(fd);
		free(w);
		return;
	}
	w->next = waits;
	if (waits)
		waits->prev = w;
	waits = w;
	w->timer = loop_timer_add(loop, PROXY_HEADER_MS, on_proxy_timeout, w);
}

/* Whether a line about a flood (logged_at: when the last one went out)
 * is due: at most one a second, from whichever loop comes first. */
static int log_due(_Atomic uint64_t *logged_at)
{
	uint64_t now = loop_now_ms(), last = atomic_load(logged_at);
	return now >= last + 1000 && atomic_compare_exchange_strong(logged_at, &last, now);
}

/*
 * Memory is short (the reserve is drawn and not yet taken back): a new
 * connection is refused before anything is allocated for it, with its
 * protocol's temporary error where one can be said in the clear. Clients
 * retry later; sessions already open carry on. Logged at most once a
 * second with the count, since a flood is what brings this on.
 */
static void shed(struct listener *ls, int fd)
{
	static _Atomic uint64_t shed_count, logged_at;

	if (ls->busy_line)
		(void)send(fd, ls->busy_line, strlen(ls->busy_line), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	uint64_t n = atomic_fetch_add(&shed_count, 1) + 1;
	if (log_due(&logged_at))
		log_warn("net", NULL, "event=connection_shed listener=%s reason=memory_short total=%llu",
			 ls->name, (unsigned long long)n);
}

/* The socket, just accepted (its peer in `accepted`), to the service or
 * to its PROXY header's wait, on this loop. */
static void hand_over(struct loop *loop, struct listener *ls, int c)
{
	if (proxy_expected(ls))
		proxy_wait_start(loop, ls, c);
	else
		ls->cb(loop, c, ls->arg);
	accepted.fd = -1; /* the number may be reused from here on */
}

/* The attached loop with the fewest fds; here unless another has fewer. */
static struct loop *least_busy(struct listener *ls, struct loop *here)
{
	struct loop *best = here;
	unsigned min = loop_fd_count(here);
	int n = atomic_load(&ls->nloops);

	for (int i = 0; i < n; i++) {
		struct loop *l = atomic_load(&ls->loops[i]);
		if (!l || l == here)
			continue;
		unsigned k = loop_fd_count(l);
		if (k < min) {
			min = k;
			best = l;
		}
	}
	return best;
}

/* A socket accepted on one loop, on its way to another. */
struct handoff {
	struct listener *ls;
	struct loop *loop; /* where it goes */
	int fd, nodelay;
	socklen_t len;
	struct sockaddr_storage ss;
};

static int attached(struct listener *ls, struct loop *loop)
{
	int n = atomic_load(&ls->nloops);
	for (int i = 0; i < n; i++)
		if (atomic_load(&ls->loops[i]) == loop)
			return 1;
	return 0;
}

/* On the receiving loop. Detached from it meanwhile (the server is
 * stopping): the connection is closed, as one arriving then would be. */
static void handoff_run(void *arg)
{
	struct handoff *h = arg;

	if (attached(h->ls, h->loop)) {
		accepted.fd = h->fd;
		accepted.nodelay = h->nodelay;
		accepted.len = h->len;
		accepted.ss = h->ss;
		hand_over(h->loop, h->ls, h->fd);
	} else {
		close(h->fd);
	}
	loop_fd_incoming(h->loop, -1);
	free(h);
}

/*
 * At the descriptor limit (EMFILE, ENFILE) accept() fails while the
 * connection stays queued, so the listening socket stays readable: a loop
 * going straight back to it spins (a core and, with a warning each time,
 * 130,000 log lines a second). So the loop stops watching the listener
 * for ACCEPT_PAUSE_MS (nginx does the same), and the failure is logged
 * once a second at most, with the count of pauses so far (total=N).
 * The queued clients are accepted when the loop watches again.
 */
#define ACCEPT_PAUSE_MS 100

static void on_accept(struct loop *loop, int fd, unsigned events, void *arg);

static void accept_resume(struct loop *loop, void *arg)
{
	struct listener_pause *w = arg;
	w->timer = 0;
	if (w->ls->fd >= 0)
		loop_add_fd(loop, w->ls->fd, LOOP_READ | LOOP_EXCLUSIVE, on_accept, w->ls);
}

static void accept_pause(struct listener *ls, struct loop *loop, int err)
{
	int n = atomic_load(&ls->nloops);
	for (int i = 0; i < n; i++) {
		if (atomic_load(&ls->loops[i]) != loop || ls->pause_[i].timer)
			continue;
		loop_del_fd(loop, ls->fd);
		ls->pause_[i] = (struct listener_pause){ls, loop, 0};
		ls->pause_[i].timer = loop_timer_add(loop, ACCEPT_PAUSE_MS, accept_resume,
						     &ls->pause_[i]);
	}
	static _Atomic uint64_t pauses, logged_at;
	uint64_t total = atomic_fetch_add(&pauses, 1) + 1;
	if (log_due(&logged_at))
		log_warn("net", NULL, "event=accept_failed listener=%s error=%s paused_ms=%d total=%llu",
			 ls->name, strerror(err), ACCEPT_PAUSE_MS, (unsigned long long)total);
}

static void on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct listener *ls = arg;

	/* A bounded batch per wake-up keeps one loop from starving others. */
	for (int i = 0; i < 64; i++) {
		accepted.len = sizeof(accepted.ss);
		int c = accept4(fd, (struct sockaddr *)&accepted.ss, &accepted.len,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE)
				accept_pause(ls, loop, errno);
			return;
		}
		if (mem_reserve_short()) {
			shed(ls, c);
			continue;
		}
		struct loop *to = least_busy(ls, loop);
		if (to != loop) {
			struct handoff *h = xmalloc(sizeof *h);
			*h = (struct handoff){ls, to, c, ls->nodelay, accepted.len, accepted.ss};
			loop_fd_incoming(to, 1); /* counted at once: the rest of a burst goes elsewhere */
			loop_post(to, handoff_run, h);
			continue;
		}
		accepted.fd = c;
		accepted.nodelay = ls->nodelay;
		hand_over(loop, ls, c);
	}
}

int listener_attach(struct listener *ls, struct loop *loop)
{
	int n = atomic_load(&ls->nloops);

	if (n >= LISTENER_LOOPS_MAX) {
		errno = EMFILE;
		return -1;
	}
	if (loop_add_fd(loop, ls->fd, LOOP_READ | LOOP_EXCLUSIVE, on_accept, ls) < 0)
		return -1;
	atomic_store(&ls->loops[n], loop);
	atomic_store(&ls->nloops, n + 1);
	return 0;
}

void listener_detach(struct listener *ls, struct loop *loop)
{
	int n = atomic_load(&ls->nloops);
	for (int i = 0; i < n; i++)
		if (atomic_load(&ls->loops[i]) == loop) {
			atomic_store(&ls->loops[i], NULL);
			if (ls->pause_[i].timer)
				loop_timer_del(loop, ls->pause_[i].timer);
			ls->pause_[i].timer = 0;
		}
	loop_del_fd(loop, ls->fd);
	for (struct proxy_wait *w = waits, *next; w; w = next) {
		next = w->next;
		if (w->ls == ls && w->loop == loop)
			wait_end(w, 1);
	}
}

void listener_close(struct listener *ls)
{
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = -1;
}
