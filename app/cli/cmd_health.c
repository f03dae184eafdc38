/*
 * cmd_health.c — tern health: exit 0 when the local server answers.
 *
 * With the HTTP listener on, asks GET /healthz on loopback (200 means the
 * store and the listeners are up); otherwise connects to the SMTP listener
 * and expects a 220 greeting. Either way the configured port is tried,
 * then the unprivileged fallback port, 5 s each. Used by the image's
 * HEALTHCHECK, so it needs no shell or tools. When loopback is one of
 * TERN_TRUSTED_PROXIES (a proxy on the same host), port 25 waits for a
 * PROXY header from it: the probe then sends "PROXY UNKNOWN" (the
 * protocol's line for a connection the sender itself makes), so the
 * server keeps the real addresses and greets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/cidr.h"

/* HTTP: the request to send and the status line prefix that means healthy. */
static const char http_req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";

static int probe(const char *host, uint16_t port, int http, int proxied)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	char line[512];
	size_t n = 0;
	static const char proxy_hdr[] = "PROXY UNKNOWN\r\n";
	if ((proxied && write(fd, proxy_hdr, sizeof(proxy_hdr) - 1) != (ssize_t)(sizeof(proxy_hdr) - 1)) ||
	    (http && write(fd, http_req, sizeof(http_req) - 1) != (ssize_t)(sizeof(http_req) - 1))) {
		close(fd);
		return -1;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		if (poll(&pfd, 1, 5000) != 1)
			break;
		ssize_t r = read(fd, line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	int ok = http ? n >= 12 && memcmp(line, "HTTP/1.", 7) == 0 && memcmp(line + 8, " 200", 4) == 0
		      : n >= 4 && memcmp(line, "220", 3) == 0;
	if (!http && write(fd, "QUIT\r\n", 6) < 0)
		ok = ok && 1;
	close(fd);
	return ok ? 0 : -1;
}

/* Loopback address to reach a listener bound to a->host. */
static const char *loopback_for(const struct listen_addr *a)
{
	const char *host = a->host[0] ? a->host : "127.0.0.1";
	if (strcmp(host, "0.0.0.0") == 0)
		return "127.0.0.1";
	if (strcmp(host, "::") == 0)
		return "::1";
	return host;
}

int cli_health(const struct config *cfg, int argc, char **argv)
{
	const struct listen_addr *h = &cfg->listen[LISTEN_HTTP], *a = &cfg->listen[LISTEN_SMTP];
	int http = h->port != 0;

	(void)argv;
	if (argc != 0)
		return cli_usage("health");
	if (http)
		a = h;
	if (a->port == 0) {
		fprintf(stderr, "tern: health: the HTTP and SMTP listeners are disabled\n");
		return 1;
	}
	const char *host = loopback_for(a);
	/* HTTP from a trusted proxy needs no header (Forwarded fields are
	 * optional); a mail port refuses a connection without one. */
	int proxied = !http && cidr_list_match(cfg->trusted_proxies, host);
	if (probe(host, a->port, http, proxied) == 0 ||
	    (a->fallback_port && a->fallback_port != a->port &&
	     probe(host, a->fallback_port, http, proxied) == 0)) {
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "tern: health: %s on %s port %u\n",
		http ? "no 200 from /healthz" : "no SMTP greeting", host, a->port);
	return 1;
}
