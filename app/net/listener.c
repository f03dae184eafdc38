/*
 * listener.c — listening sockets. See listener.h.
 */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

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
				log_warn("net", NULL, "event=accept_failed listener=%s error=%s",
					 ls->name, strerror(errno));
			return;
		}
		accepted.fd = c;
		accepted.nodelay = ls->nodelay;
		ls->cb(loop, c, ls->arg);
		accepted.fd = -1; /* the number may be reused from here on */
	}
}

int listener_attach(struct listener *ls, struct loop *loop)
{
	return loop_add_fd(loop, ls->fd, LOOP_READ | LOOP_EXCLUSIVE, on_accept, ls);
}

void listener_detach(struct listener *ls, struct loop *loop)
{
	loop_del_fd(loop, ls->fd);
}

void listener_close(struct listener *ls)
{
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = -1;
}
