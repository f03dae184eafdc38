/*
 * cmd_health.c — tern health: exit 0 when the local server answers.
 *
 * Probes the first listener that is configured to run, in this order:
 * HTTP (GET /healthz, 200 means the store and the listeners are up);
 * else the first plain mail listener, whose greeting must come (SMTP and
 * submission 220, IMAP "* OK", POP3 "+OK", ManageSieve its capabilities
 * then "OK"); else, with only implicit-TLS ports configured (HTTPS, 465,
 * 993, 995), the connection must be accepted (the probe holds no trust
 * anchor for a self-signed certificate, so it does not shake hands).
 * Either way the configured port is tried, then the unprivileged fallback
 * port, 5 s each. Used by the image's HEALTHCHECK, so it needs no shell
 * or tools. When loopback is one of TERN_TRUSTED_PROXIES (a proxy on the
 * same host), the mail ports wait for a PROXY header from it: the probe
 * then sends "PROXY UNKNOWN" (the protocol's line for a connection the
 * sender itself makes), so the server keeps the real addresses and greets.
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

/* One way to ask a listener whether it serves: what to send first (NULL:
 * nothing), the line start that means healthy (NULL: the connection being
 * accepted is all that is checked), and what to send after it. */
struct health_probe {
	enum listen_kind kind;
	const char *ask;
	const char *healthy;
	const char *bye;
	const char *failed; /* for the message when it does not answer */
};

static const struct health_probe probes[] = {
	{ LISTEN_HTTP, "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n", "HTTP/1.? 200", NULL,
	  "no 200 from /healthz" },
	{ LISTEN_SMTP, NULL, "220", "QUIT\r\n", "no SMTP greeting" },
	{ LISTEN_SUBMISSION, NULL, "220", "QUIT\r\n", "no SMTP greeting" },
	{ LISTEN_IMAP, NULL, "* OK", "a LOGOUT\r\n", "no IMAP greeting" },
	{ LISTEN_POP3, NULL, "+OK", "QUIT\r\n", "no POP3 greeting" },
	{ LISTEN_SIEVE, NULL, "OK", "LOGOUT\r\n", "no ManageSieve greeting" },
	{ LISTEN_HTTPS, NULL, NULL, NULL, "connection refused" },
	{ LISTEN_SUBMISSIONS, NULL, NULL, NULL, "connection refused" },
	{ LISTEN_IMAPS, NULL, NULL, NULL, "connection refused" },
	{ LISTEN_POP3S, NULL, NULL, NULL, "connection refused" },
};

/* Whether line (n octets, up to its end) starts with want, where '?' in
 * want stands for any octet. */
static int line_starts(const char *line, size_t n, const char *want)
{
	size_t i;

	for (i = 0; want[i]; i++)
		if (i >= n || (want[i] != '?' && line[i] != want[i]))
			return 0;
	return 1;
}

/* Whether a complete line of buf starts with want. A multi-line greeting
 * (SMTP's 220-, ManageSieve's capabilities) is read whole, up to buf's
 * size. */
static int answered(const char *buf, size_t n, const char *want)
{
	const char *p = buf, *end = buf + n, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (line_starts(p, (size_t)(nl - p), want))
			return 1;
		p = nl + 1;
	}
	return 0;
}

static int send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

static int connect_to(const char *host, uint16_t port)
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
	return fd;
}

static int probe(const struct health_probe *pr, const char *host, uint16_t port, int proxied)
{
	int fd = connect_to(host, port);

	if (fd < 0)
		return -1;
	if (!pr->healthy) {
		close(fd);
		return 0;
	}
	if ((proxied && send_all(fd, "PROXY UNKNOWN\r\n") < 0) || (pr->ask && send_all(fd, pr->ask) < 0)) {
		close(fd);
		return -1;
	}
	char buf[4096];
	size_t n = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (n < sizeof(buf) && !answered(buf, n, pr->healthy)) {
		if (poll(&pfd, 1, 5000) != 1)
			break;
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	int ok = answered(buf, n, pr->healthy);
	/* A polite goodbye keeps the server's log free of dropped sessions;
	 * its failure changes nothing about the answer. */
	if (ok && pr->bye)
		(void)send_all(fd, pr->bye);
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

/* The probe for the first listener configured to run, or NULL. */
static const struct health_probe *probe_for(const struct config *cfg)
{
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (cfg->listen[probes[i].kind].port)
			return &probes[i];
	return NULL;
}

int cli_health(const struct config *cfg, int argc, char **argv)
{
	const struct health_probe *pr = probe_for(cfg);

	(void)argv;
	if (argc != 0)
		return cli_usage("health");
	if (!pr) {
		fprintf(stderr, "tern: health: every listener is disabled\n");
		return 1;
	}
	const struct listen_addr *a = &cfg->listen[pr->kind];
	const char *host = loopback_for(a);
	/* HTTP from a trusted proxy needs no header (Forwarded fields are
	 * optional); a mail port refuses a connection without one. */
	int proxied = pr->kind != LISTEN_HTTP && pr->healthy &&
		      cidr_list_match(cfg->trusted_proxies, host);
	if (probe(pr, host, a->port, proxied) == 0 ||
	    (a->fallback_port && a->fallback_port != a->port &&
	     probe(pr, host, a->fallback_port, proxied) == 0)) {
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "tern: health: %s on %s port %u\n", pr->failed, host, a->port);
	return 1;
}
