/*
 * listener.h — listening sockets shared by every loop.
 *
 * One socket per configured address, registered on every loop with
 * EPOLLEXCLUSIVE so one loop wakes per incoming connection. (SO_REUSEPORT
 * would spread them by a hash of the addresses, but silently shares the
 * port with a second server started by mistake.)
 *
 * The kernel does not spread them: the loop it wakes accepts what has
 * arrived, and a burst of connections opened together (a relay's or a
 * benchmark's 8 or 16 kept sessions) often all landed on one loop (3 of
 * 6 runs of 8 smtp-load connections on 2 loops), which then did all the
 * work on one CPU while the other loop idled. So each accepted socket
 * goes to the attached loop with the fewest fds (loop_fd_count), the
 * accepting one on a tie: handed over with loop_post when that is
 * another loop (one post per connection, not per command).
 *
 * Connection limits are net/limits.h's, taken by each service's accept.
 * At the descriptor limit (EMFILE) a loop stops watching the socket for
 * a moment rather than spin on it (listener.c, accept_pause).
 */
#ifndef TERN_NET_LISTENER_H
#define TERN_NET_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct loop;

#define LISTENER_LOOPS_MAX 64

/*
 * Called on the loop that takes the connection (see the top), with a
 * non-blocking, close-on-exec socket the callee now owns.
 */
typedef void listener_accept_cb(struct loop *loop, int fd, void *arg);

struct listener {
	int fd;
	uint16_t port; /* the port actually bound */
	int nodelay;   /* TCP_NODELAY is set, so accepted sockets have it */
	const char *name;
	listener_accept_cb *cb;
	void *arg;
	/* 1: a peer in the trusted proxies (listener_trust_proxies) must
	 * start with a PROXY protocol header, whose client address the
	 * connection then has. Set by the caller after listener_open. */
	int proxy;
	/* Sent (best effort, no allocation) to a connection shed at accept
	 * while memory is short (core/xalloc.h mem_reserve_short); NULL on
	 * implicit-TLS ports, where nothing can be said before the handshake:
	 * those are just closed. Set by the caller after listener_open. */
	const char *busy_line;
	/* The loops it is attached to (NULL once detached from one). */
	struct loop *_Atomic loops[LISTENER_LOOPS_MAX];
	_Atomic int nloops;
	/* private: per loop, accepting paused after EMFILE (listener.c) */
	struct listener_pause {
		struct listener *ls;
		struct loop *loop;
		uint64_t timer;
	} pause_[LISTENER_LOOPS_MAX];
};

/*
 * The networks whose connections to a proxy listener carry a PROXY
 * header (TERN_TRUSTED_PROXIES, a cidr.h list; "" for none). Set once,
 * before any listener is attached; the string must outlive them.
 * From any other peer no header is looked for: its bytes are the
 * protocol's, so nobody can claim another address.
 */
void listener_trust_proxies(const char *cidrs);

/*
 * Binds and listens on a. When a->fallback_port is set and binding the
 * default port is refused (EACCES: not root), binds the fallback port
 * instead and logs it. Returns 0, or -1 with err filled.
 */
int listener_open(struct listener *ls, const struct listen_addr *a, const char *name,
		  listener_accept_cb *cb, void *arg, char *err, size_t errsz);
/* Registers the socket on a loop (call once per loop, before the loops run). */
int listener_attach(struct listener *ls, struct loop *loop);
/* Unregisters from a loop; call on that loop's thread. Connections of
 * this listener still waiting for their PROXY header on this loop are
 * closed. */
void listener_detach(struct listener *ls, struct loop *loop);
/* Closes the socket (after every loop detached). */
void listener_close(struct listener *ls);

/*
 * The peer address accept4() gave for fd, when fd is the socket this
 * thread's listener is handing to its callback right now (the callback
 * calls conn_new, which then needs no getpeername), and whether fd already
 * has TCP_NODELAY from the listening socket. Returns 0 and fills *ss, *len
 * and *nodelay_r, or -1.
 */
int listener_accepted_peer(int fd, struct sockaddr_storage *ss, socklen_t *len, int *nodelay_r);

#endif
