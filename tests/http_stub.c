/*
 * http_stub.c — the HTTP server's entry points for the unit and fuzz
 * builds, which link no libmicrohttpd or c-ares (see the Makefile): the
 * server code links, and starting HTTP listeners there is a no-op.
 */
#include "http/http_pushsub.h"
#include "http/http_server.h"
#include "net/listener.h"

int http_server_start(const struct config *cfg, struct store *st, struct listener *ls, int *n_r,
		      enum listen_kind *failed_r, char *err, size_t errsz)
{
	(void)failed_r;
	(void)cfg;
	(void)st;
	(void)ls;
	(void)err;
	(void)errsz;
	*n_r = 0;
	return 0;
}

void http_server_ready(void) {}
void http_server_close_all(void) {}
unsigned http_server_sessions(void) { return 0; }
void http_server_stop(void) {}
void http_pushsub_start(const struct config *cfg, struct store *st, struct loop *loop)
{
	(void)cfg;
	(void)st;
	(void)loop;
}
void http_pushsub_stop_on_loop(void *arg)
{
	(void)arg;
}

void http_bridge_accept(struct loop *loop, int fd, void *arg)
{
	(void)loop;
	(void)arg;
	(void)fd;
}

/* No HTTP server here, so no JMAP: IMAP offers no JMAPACCESS. */
int http_jmap_session_url(char *out, size_t n)
{
	if (n)
		out[0] = '\0';
	return -1;
}
