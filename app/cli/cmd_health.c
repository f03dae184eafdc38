/*
 * cmd_health.c — tern health: exit 0 when the local server answers.
 *
 * Connects to the SMTP listener on loopback (the configured port, then the
 * unprivileged fallback port), expects a 220 greeting within 5 s and says
 * QUIT. Used by the image's HEALTHCHECK, so it needs no shell or tools.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

static int probe(const char *host, uint16_t port)
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
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		if (poll(&pfd, 1, 5000) != 1)
			break;
		ssize_t r = read(fd, line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	int ok = n >= 4 && memcmp(line, "220", 3) == 0;
	if (write(fd, "QUIT\r\n", 6) < 0)
		ok = ok && 1;
	close(fd);
	return ok ? 0 : -1;
}

int cli_health(const struct config *cfg, int argc, char **argv)
{
	const struct listen_addr *a = &cfg->listen[LISTEN_SMTP];
	const char *host = a->host[0] ? a->host : "127.0.0.1";

	(void)argc;
	(void)argv;
	if (a->port == 0) {
		fprintf(stderr, "tern: health: the SMTP listener is disabled\n");
		return 1;
	}
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (probe(host, a->port) == 0 ||
	    (a->fallback_port && a->fallback_port != a->port && probe(host, a->fallback_port) == 0)) {
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "tern: health: no SMTP greeting on %s port %u\n", host, a->port);
	return 1;
}
