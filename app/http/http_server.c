/*
 * http_server.c — the libmicrohttpd daemon: start/stop, per-request
 * context and body limits, the plain-HTTP redirect policy, and turning a
 * handler's response into an MHD response with the security headers.
 * See http_server.h.
 */
#include "auth/password_policy.h"
#include "core/cidr.h"
#include "core/hex.h"
#include "core/hostname.h"
#include "http/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_meta.h"
#include "auth/password.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/spool.h"
#include "core/xalloc.h"
#include "http/http_internal.h"
#include "http/http_upload.h"
#include "net/forwarded.h"
#include "net/limits.h"
#include "http/http_parse.h"
#include "http/http_push.h"
#include "net/listener.h"
#include "store/store.h"

const struct config *http_cfg;
struct store *http_store;
int64_t http_started_at;
char http_env_admin_hash[PASSWORD_HASH_MAX];

/* How long SIGTERM waits for libmicrohttpd's threads. */
#define HTTP_STOP_SECONDS 3

/* [1]: the HTTPS daemon, [0]: plain HTTP. */
static struct MHD_Daemon *daemons[2];
static uint16_t https_port, http_port;
static int ready;
static sem_t hash_sem;

/* The HTTPS daemon's handler argument. */
static char https_marker;

int http_is_ready(void)
{
	return __atomic_load_n(&ready, __ATOMIC_ACQUIRE);
}

void http_server_ready(void)
{
	__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

void http_hash_enter(void)
{
	while (sem_wait(&hash_sem) < 0 && errno == EINTR)
		;
}

int http_hash_try_enter(void)
{
	int r;
	while ((r = sem_trywait(&hash_sem)) < 0 && errno == EINTR)
		;
	return r == 0 ? 0 : -1;
}

void http_hash_leave(void)
{
	sem_post(&hash_sem);
}

struct http_req {
	struct arena *arena;
	struct buf body;
	uint64_t seen; /* body bytes read, kept or dropped */
	int too_big;
	int answered; /* a response was queued on the first call */
	struct http_ctx *deferred; /* suspended for http_defer's work */
	int deferred_done;         /* set (under jobs.mu) when the work ended */
	char ip[64];               /* the client: the peer, or whom a trusted proxy names */
	int loopback;              /* that client is on this host */
	int share;                 /* holds a POOL_HTTP share for ip (a proxied client) */
	int over_share;            /* refused: that client's share was taken */
	struct http_ctx *x;        /* a streamed request's context (http_upload.h) */
	int answered_upload;       /* its answer was queued */
	int bad_host;              /* host_wrong(): HOST_COUNT, HOST_VALUE */
	const char *path;          /* the target's path (http_absolute_target) */
	const char *raw_target;    /* as sent, before decoding (on_uri) */
	int begun;                 /* on_request saw its first call */
	const char *target_host;   /* an absolute-form target's authority, else NULL */
	int proxied;               /* the peer is a trusted proxy */
	struct forwarded_origin origin; /* what the client asked that proxy for */
};

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, "Host") == 0)
		++*(int *)cls;
	return MHD_YES;
}

/*
 * RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request
 * without a Host field or with more than one (HOST_COUNT), and to any
 * request whose Host field has an invalid value (HOST_VALUE: "a b",
 * "a/b", "u@h"), which was otherwise taken as no host at all and the
 * request served. libmicrohttpd checks the first only in its strict
 * mode, and then answers with its own HTML page; this keeps the answer
 * a problem like every other.
 */
enum { HOST_OK, HOST_COUNT, HOST_VALUE };

static int host_wrong(struct MHD_Connection *mc, const char *version)
{
	int n = 0;
	MHD_get_connection_values(mc, MHD_HEADER_KIND, count_host, &n);
	if (version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && n != 1)
		return HOST_COUNT;
	const char *h = n == 1 ? MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Host") : NULL;
	return h && !http_host_valid(h, strlen(h)) ? HOST_VALUE : HOST_OK;
}

/* http_defer's jobs in flight: stopping waits for them (each is bounded). */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
} jobs = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

int http_defer(struct http_ctx *x, void (*work)(void *arg),
	       void (*finish)(struct http_ctx *x, void *arg), void *arg)
{
	pthread_mutex_lock(&jobs.mu);
	int ok = jobs.n < HTTP_DEFER_MAX;
	if (ok)
		jobs.n++;
	pthread_mutex_unlock(&jobs.mu);
	if (!ok)
		return -1;
	x->defer_work = work;
	x->defer_finish = finish;
	x->defer_arg = arg;
	return 0;
}

struct job {
	struct MHD_Connection *mc;
	void (*fn)(void *arg);
	void *arg;
	int *done;
	struct job *next; /* handed to an idle thread, not taken yet */
};

/*
 * The threads jobs run on. One that has run its job waits a while for the
 * next instead of ending: a thread made per job (its stack mapped with a
 * guard page, its pages touched for the first time, the allocator's heap
 * for it, all given back at its end) was about 28% of a small JMAP
 * request's server CPU (perf on bench-jmap's Email/changes, session 78).
 * A job goes to an idle thread when there is one, else to a new thread;
 * at most HTTP_DEFER_MAX threads wait, each for JOB_IDLE_S at most, and
 * none past the stop. What a thread caches for itself (dkim_rsa.c's keys)
 * lives as long as the thread. Under jobs.mu.
 */
#define JOB_IDLE_S 30

static struct {
	struct job *head, *tail;
	int queued;     /* jobs handed over, never more than idle */
	int idle;       /* threads waiting in job_next */
	int threads;    /* job threads alive */
	int stopping;
	pthread_cond_t cv;   /* a job handed over, or the stop */
	pthread_cond_t gone; /* the last thread ended */
} pool = { NULL, NULL, 0, 0, 0, 0, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void job_end(void)
{
	pthread_mutex_lock(&jobs.mu);
	if (--jobs.n == 0)
		pthread_cond_broadcast(&jobs.cv);
	pthread_mutex_unlock(&jobs.mu);
}

static void job_run(struct job *j)
{
	j->fn(j->arg);
	pthread_mutex_lock(&jobs.mu);
	*j->done = 1;
	pthread_mutex_unlock(&jobs.mu);
	/* MHD_USE_ITC: resuming from another thread wakes the daemon's. */
	MHD_resume_connection(j->mc);
	free(j);
	job_end();
}

/* The next job handed to this thread, or NULL for it to end (enough
 * threads wait already, none came for JOB_IDLE_S, or the stop). */
static struct job *job_next(void)
{
	struct timespec until;
	struct job *j = NULL;

	clock_gettime(CLOCK_REALTIME, &until); /* the condition's clock */
	until.tv_sec += JOB_IDLE_S;
	pthread_mutex_lock(&jobs.mu);
	if (pool.idle < HTTP_DEFER_MAX && !pool.stopping) {
		int rc = 0;
		pool.idle++;
		while (!pool.head && !pool.stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&pool.cv, &jobs.mu, &until);
		if ((j = pool.head) != NULL) { /* taken even at the stop: it was handed over */
			pool.head = j->next;
			if (!pool.head)
				pool.tail = NULL;
			pool.queued--;
		}
		pool.idle--;
	}
	if (!j && --pool.threads == 0)
		pthread_cond_broadcast(&pool.gone);
	pthread_mutex_unlock(&jobs.mu);
	return j;
}

static void *job_main(void *arg)
{
	for (struct job *j = arg; j; j = job_next())
		job_run(j);
	return NULL;
}

/* At the stop, once no job runs: the waiting threads end, waited for. */
static void job_threads_stop(void)
{
	pthread_mutex_lock(&jobs.mu);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.cv);
	while (pool.threads > 0)
		pthread_cond_wait(&pool.gone, &jobs.mu);
	pthread_mutex_unlock(&jobs.mu);
}

/* Runs fn(arg) on a thread of its own with mc suspended; the caller holds
 * one count in jobs.n, which the job gives back. -1 when no thread. */
static int job_start(struct MHD_Connection *mc, void (*fn)(void *arg), void *arg, int *done)
{
	pthread_attr_t a;
	pthread_t t;
	struct job *j = xmalloc(sizeof(*j));

	j->mc = mc;
	j->fn = fn;
	j->arg = arg;
	j->done = done;
	j->next = NULL;
	*done = 0;
	MHD_suspend_connection(mc);
	pthread_mutex_lock(&jobs.mu);
	if (pool.queued < pool.idle) { /* a thread waits for it */
		if (pool.tail)
			pool.tail->next = j;
		else
			pool.head = j;
		pool.tail = j;
		pool.queued++;
		pthread_cond_signal(&pool.cv);
		pthread_mutex_unlock(&jobs.mu);
		return 0;
	}
	pool.threads++;
	pthread_mutex_unlock(&jobs.mu);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 512 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, job_main, j);
	pthread_attr_destroy(&a);
	if (rc == 0)
		return 0;
	pthread_mutex_lock(&jobs.mu);
	if (--pool.threads == 0)
		pthread_cond_broadcast(&pool.gone);
	pthread_mutex_unlock(&jobs.mu);
	MHD_resume_connection(mc);
	free(j);
	return -1;
}

int http_job_run(struct MHD_Connection *mc, void (*fn)(void *arg), void *arg, int *done)
{
	pthread_mutex_lock(&jobs.mu);
	jobs.n++;
	pthread_mutex_unlock(&jobs.mu);
	if (job_start(mc, fn, arg, done) == 0)
		return 0;
	job_end();
	return -1;
}

int http_job_done(const int *done)
{
	pthread_mutex_lock(&jobs.mu);
	int d = *done;
	pthread_mutex_unlock(&jobs.mu);
	return d;
}

static void defer_main(void *arg)
{
	struct http_ctx *x = arg;
	x->defer_work(x->defer_arg);
}

#define CSP_TEXT                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "      \
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; "                     \
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
static const char csp[] = CSP_TEXT;

/* The same headers as raw lines, for a response the bridge writes itself
 * (http_bridge.c: a request header too large for the daemon). */
const char *http_security_header_lines(int https)
{
#define SEC_LINES(hsts)                                                                     \
	"Content-Security-Policy: " CSP_TEXT "\r\nX-Content-Type-Options: nosniff\r\n"         \
	"X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"                            \
	"Cross-Origin-Opener-Policy: same-origin\r\n" hsts
	return https ? SEC_LINES("Strict-Transport-Security: max-age=31536000\r\n") : SEC_LINES("");
#undef SEC_LINES
}

static void add_security_headers(struct MHD_Response *resp, int https, const char *own_csp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", own_csp ? own_csp : csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	if (https)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

/*
 * A response body stays with libmicrohttpd until the client has read it
 * all, and a client may never read: a copy of each answer held that way
 * cost its whole size for as long as the connection stayed open.
 * Measured: 30 connections of one user, each asking Email/get of 28
 * messages of 1 MB (a 29 MB answer) and reading nothing, took RssAnon
 * up 451 MiB (VmHWM 611 MiB), 50 connections an address allowed. So a
 * body past SPOOL_STAGE goes out of a spool (core/spool.h), as received
 * messages do: in memory within TERN_MESSAGE_MEMORY (a quarter of it an
 * address, SPOOL_MEM_MAX an answer), else in an unlinked file whose
 * mapping is file-backed. A small body is copied as before.
 */
static void spool_done(void *cls)
{
	struct spool *sp = cls;
	spool_free(sp);
	free(sp);
}

static struct MHD_Response *response_from_out(struct http_ctx *x)
{
	size_t n = buf_len(&x->out);

	if (n > SPOOL_STAGE) {
		struct spool *sp = xmalloc(sizeof(*sp));
		struct str body;
		spool_init_unhashed(sp, n, x->ip); /* no blob: no hash */
		if (spool_append(sp, buf_data(&x->out), n) == 0 && spool_finish(sp, &body) == 0) {
			struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
				n, (void *)body.p, spool_done, sp);
			if (resp)
				return resp;
		} else {
			/* The disk failed: the copy in memory still answers. */
			log_warn("http", NULL, "event=response_spool_failed size=%zu errno=%d", n,
				 sp->error);
		}
		spool_done(sp);
	}
	return MHD_create_response_from_buffer(n, buf_data(&x->out), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result send_ctx(struct http_ctx *x)
{
	struct MHD_Response *resp;

	if (x->stream_read) {
		resp = MHD_create_response_from_callback(x->stream_size, 64 * 1024, x->stream_read,
							 x->stream_cls, x->stream_free);
		if (!resp)
			x->stream_free(x->stream_cls);
	} else if (x->static_body)
		resp = MHD_create_response_from_buffer(x->static_len, (void *)x->static_body,
						       MHD_RESPMEM_PERSISTENT);
	else
		resp = response_from_out(x);
	if (!resp)
		return MHD_NO;
	add_security_headers(resp, x->https, x->csp);
	if (x->type)
		MHD_add_response_header(resp, "Content-Type", x->type);
	int cache_set = 0;
	for (int i = 0; i < x->nheaders; i++) {
		MHD_add_response_header(resp, x->hname[i], x->hvalue[i]);
		cache_set |= strcasecmp(x->hname[i], "Cache-Control") == 0;
	}
	/* The API's answers hold secrets (a session's CSRF token, a new
	 * bearer token or app password, the settings): with no validator
	 * and no Cache-Control a browser's disk cache or a TLS-terminating
	 * proxy could keep them (RFC 9111 §4.2.2 heuristics). */
	if (!cache_set && strncmp(x->path, "/api/", 5) == 0)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result r = MHD_queue_response(x->mc, (unsigned)x->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return 0;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	out[0] = '\0';
	if (sa)
		cidr_addr_text(sa, out, outsz);
}

/* Paths plain HTTP serves itself: ACME, health, client autoconfiguration. */
static int plain_allowed(const struct http_ctx *x)
{
	const char *p = x->path;
	/* /metrics has its own access rule (TERN_METRICS_ALLOW or a token), and
	 * Prometheus scrapes plain HTTP inside a compose network. */
	if (strncmp(p, "/.well-known/acme-challenge/", 28) == 0 || strcmp(p, "/healthz") == 0 ||
	    strcmp(p, "/metrics") == 0 ||
	    strncmp(p, "/.well-known/autoconfig/", 24) == 0 ||
	    strcmp(p, "/mail/config-v1.1.xml") == 0 || strncasecmp(p, "/autodiscover/", 14) == 0)
		return 1;
	/* Scripts on the host itself may use the API or metrics with a token. */
	if (x->loopback && strncmp(p, "/api/", 5) == 0) {
		const char *a = MHD_lookup_connection_value(x->mc, MHD_HEADER_KIND, "Authorization");
		return a && strncasecmp(a, "Bearer ", 7) == 0;
	}
	return 0;
}

/*
 * The target's path and query as the client sent them, for a Location:
 * a valid %XX stays as it came (decoded and encoded again, "%2F" became
 * "/" and "%00" "%2500": another resource). Octets RFC 3986 §2 allows
 * in a URI (unreserved, reserved, "%" of an escape) are kept; any other
 * ("\"", "<", "{", a lone "%", 8-bit) is %-encoded, and so is "#",
 * which no request target holds and which would start a fragment. An
 * absolute-form target loses its scheme and authority: the redirect
 * names our host.
 */
static void target_append(struct buf *b, const char *t)
{
	static const char hex[] = "0123456789ABCDEF";
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		t = strchr(t, ':') + 3;
		t += strcspn(t, "/?#");
		if (*t != '/')
			buf_append(b, "/", 1);
	}
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c && strchr("-._~:/?[]@!$&'()*+,;=", c)) ||
		    (c == '%' && isxdigit((unsigned char)t[1]) && isxdigit((unsigned char)t[2]))) {
			buf_append(b, t, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, e, 3);
		}
	}
}

/*
 * Plain HTTP before there is a name to send the client to: the first-run
 * wizard (README, "Quick start") is served on HTTPS only, and until it
 * stored a host name (or TERN_HOSTNAME gave one) tern's is the system's,
 * inside a container its id: https://3f2a9c1b7d4e/ resolves nowhere.
 * Told apart by form: before set-up is completed, a name that is not
 * fully qualified (an unqualified TERN_HOSTNAME too) gets this page. The
 * request's Host is the client's to choose, never a redirect's, and the
 * address the connection reached is the container's own behind docker's
 * NAT. So no redirect: a page saying where the wizard is.
 */
static void https_by_hand(struct http_ctx *x)
{
	const char *text =
		https_port == 443 || !https_port
			? "This server answers on HTTPS only. Set-up is not done yet: open the address "
			  "you typed with https:// in front, accept the self-signed certificate, and "
			  "give the wizard the setup code from the server's log (tern setup-code).\n"
			: arena_printf(x->arena,
				       "This server answers on HTTPS only. Set-up is not done yet: open "
				       "the address you typed with https:// in front and port %u, accept "
				       "the self-signed certificate, and give the wizard the setup code "
				       "from the server's log (tern setup-code).\n",
				       (unsigned)https_port);
	http_text(x, 403, "text/plain; charset=utf-8", text);
}

/*
 * https://NAME[:PORT]TARGET, NAME being the server's host name, never
 * the request's Host: that is the client's to choose, and a redirect built
 * from it sent a browser (or a cache keyed on the URL) wherever a forged
 * Host said. The certificate is the host name's anyway. The target goes
 * on as sent (target_append).
 */
static void redirect_https(struct http_ctx *x)
{
	char port[16] = "";
	/* A trusted proxy's forwarded host is its word (checked when read),
	 * as its scheme and client address are: the name it serves. */
	const char *name = x->host_forwarded && x->host[0] ? x->host : hostname_now();

	if (!(x->host_forwarded && x->host[0]) && !hostname_is_fqdn(name) &&
	    !admin_setup_completed(http_store)) {
		https_by_hand(x);
		return;
	}
	/* Behind a proxy, its HTTPS port is the public one: ours is not
	 * what the client reaches, and the default is the likely one. */
	if (https_port && https_port != 443 && !x->proxied)
		snprintf(port, sizeof(port), ":%u", (unsigned)https_port);
	/* The target is at most 16 KiB; encoded, at most three times that. */
	struct buf loc;
	buf_init(&loc, 3 * 16384 + 512);
	buf_append_c(&loc, "https://");
	buf_append_c(&loc, name);
	buf_append_c(&loc, port);
	target_append(&loc, x->target ? x->target : "/");
	const char *l = buf_append(&loc, "", 1) == 0 ? arena_strdup(x->arena, buf_data(&loc))
						     : arena_printf(x->arena, "https://%s%s/", name, port);
	int get = strcmp(x->method, "GET") == 0 || strcmp(x->method, "HEAD") == 0;
	x->status = get ? 301 : 308;
	http_header(x, "Location", l);
	buf_free(&loc);
	http_text(x, x->status, "text/plain; charset=utf-8", "Use HTTPS.\n");
}

/*
 * A request target that is none of RFC 9112 §3.2's forms: origin-form
 * starts with "/", asterisk-form is "*" and for OPTIONS only (§3.2.4);
 * absolute-form was taken apart before (http_absolute_target), and the
 * authority-form is CONNECT's, which no origin server serves (§3.2.3:
 * refused as a method, 405). Anything else ("foo", "@evil.test/x") was
 * served as a file path, or on plain HTTP redirected to https://HOST +
 * target, which made "https://HOST@evil.test/x" of it: another site.
 */
static int target_form_wrong(const char *method, const char *path)
{
	if (path[0] == '/')
		return 0;
	if (strcmp(path, "*") == 0)
		return strcmp(method, "OPTIONS") != 0;
	return strcmp(method, "CONNECT") != 0;
}

/* OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7). */
static void server_options(struct http_ctx *x)
{
	http_no_content(x);
	http_header(x, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
}

static void handle(struct http_ctx *x)
{
	if (strcmp(x->path, "*") == 0) {
		server_options(x);
		return;
	}
	/* CONNECT's authority-form is no path to redirect: refused as a
	 * method (405) on either port. */
	if (!x->https && x->path[0] == '/' && !plain_allowed(x)) {
		if (!https_port) {
			/* No HTTPS listener: plain HTTP is all there is. */
			http_route(x);
			return;
		}
		redirect_https(x);
		return;
	}
	http_route(x);
}

/* Queues x's response (a problem when there is none) and logs API calls. */
static enum MHD_Result respond(struct http_ctx *x)
{
	if (!x->status)
		http_problem(x, 500, "temporary", NULL, "no response");
	if (x->status >= 500 || strncmp(x->path, "/api/", 5) == 0) {
		char qm[64]; /* the method is the client's token */
		log_debug("http", NULL, "event=request ip=%s https=%d method=%s status=%d", x->ip,
			  x->https, log_q(x->method, qm, sizeof qm), x->status);
	}
	enum MHD_Result res = send_ctx(x);
	buf_free(&x->out);
	return res;
}

/* Every value of the field name, in order, joined by ", " as RFC 9110
 * §5.3 combines lines of a list field (a proxy that adds its own line,
 * as HAProxy's forwardfor does, leaves the client's first); NULL when
 * absent. (The whole header is within MHD's 32 KiB per connection.) */
#define JOINED_MAX (64 * 1024)
struct joined {
	const char *name;
	struct buf b;
	int n, over;
};

static enum MHD_Result join_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct joined *j = cls;
	(void)kind;
	if (strcasecmp(key, j->name) != 0 || !value)
		return MHD_YES;
	if ((j->n++ && buf_append(&j->b, ", ", 2) < 0) ||
	    buf_append(&j->b, value, strlen(value)) < 0) {
		j->over = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

static const char *field_joined(struct MHD_Connection *mc, struct arena *a, const char *name)
{
	struct joined j = {.name = name};
	buf_init(&j.b, JOINED_MAX);
	MHD_get_connection_values(mc, MHD_HEADER_KIND, join_field, &j);
	const char *out = NULL;
	if (j.over) {
		out = "unknown"; /* there, and names no one */
	} else if (j.n) {
		char *o = arena_alloc(a, buf_len(&j.b) + 1);
		memcpy(o, buf_data(&j.b), buf_len(&j.b));
		o[buf_len(&j.b)] = '\0';
		out = o;
	}
	buf_free(&j.b);
	return out;
}

/*
 * The request's client into r->ip and r->loopback: the peer, or behind a
 * reverse proxy we trust, the client it names (from anyone else those
 * fields are the client's own claim). Rate limits, the fail2ban lines and
 * the loopback-only routes then see the real client. From such a proxy,
 * also the scheme and host the client asked it for (r->origin). Returns
 * 1 when the peer is a trusted proxy (whether or not it named anyone).
 */
static int client_of(struct MHD_Connection *mc, struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	addr_text(ci ? ci->client_addr : NULL, r->ip, sizeof r->ip);
	r->loopback = ci && is_loopback(ci->client_addr);
	r->origin.https = -1;
	r->origin.host[0] = '\0';
	if (!http_cfg->trusted_proxies[0] || !cidr_list_match(http_cfg->trusted_proxies, r->ip))
		return 0;
	r->proxied = 1;
	char client[64];
	const char *fwd = field_joined(mc, r->arena, "Forwarded");
	const char *xff = field_joined(mc, r->arena, "X-Forwarded-For");
	if (forwarded_client(fwd, xff, http_cfg->trusted_proxies, client, sizeof client)) {
		snprintf(r->ip, sizeof r->ip, "%s", client);
		r->loopback = strncmp(client, "127.", 4) == 0 || strcmp(client, "::1") == 0;
	}
	forwarded_origin(fwd, xff, field_joined(mc, r->arena, "X-Forwarded-Proto"),
			 field_joined(mc, r->arena, "X-Forwarded-Host"), &r->origin);
	return 1;
}

/* The Host field when it is a plain host[:port], else "". */
static const char *host_field(struct MHD_Connection *mc)
{
	const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Host");
	return h && forwarded_host_valid(h, strlen(h)) ? h : "";
}

/* The request context of a request whose header just arrived. */
static struct http_ctx *ctx_new(struct http_req *r, struct MHD_Connection *mc,
				const char *method, void *cls)
{
	struct http_ctx *x = arena_zalloc(r->arena, sizeof(*x));
	x->mc = mc;
	x->method = method;
	x->path = r->path;
	x->target = r->raw_target;
	x->arena = r->arena;
	buf_init(&x->out, HTTP_RESP_MAX);
	/* A new app password, a TOTP secret, an API token go out here. */
	buf_set_secret(&x->out);
	x->https = r->origin.https >= 0 ? r->origin.https : cls == &https_marker;
	x->proxied = r->proxied;
	x->host_forwarded = r->origin.host[0] != '\0';
	x->ip = r->ip;
	x->loopback = r->loopback;
	/* RFC 9112 §3.2.2: an absolute-form target's host stands in for
	 * the Host field's. */
	const char *host = r->origin.host[0] ? r->origin.host : r->target_host;
	x->authority = host ? host : host_field(mc);
	x->host = http_host_normalize(x->arena, host ? host
						     : MHD_lookup_connection_value(
							       mc, MHD_HEADER_KIND, "Host"));
	return x;
}

/*
 * A streamed route (http_upload.h): the handler runs on the first call,
 * before any body byte is read. It either answers at once (the body is
 * then never read and the connection closes after the answer) or starts
 * the upload, which takes the calls from here on.
 */
/*
 * A streamed route whose gate deferred its answer (an account's JMAP token
 * on an admin route, api_session.c): the deferred work runs as an
 * upload's admit, on a thread of its own, and refuses with its answer, so
 * the body is never read, as after any refusal from the header.
 */
static int deferred_admit(struct http_ctx *x, void *arg, uint64_t *max_r)
{
	(void)arg;
	*max_r = 0;
	x->defer_work(x->defer_arg);
	x->defer_finish(x, x->defer_arg);
	x->defer_work = NULL;
	job_end();
	return -1;
}

static void deferred_done(struct http_ctx *x, void *arg, const char *data, size_t len,
			  const uint8_t id[32])
{
	(void)x, (void)arg, (void)data, (void)len, (void)id; /* never admitted */
}

static const struct http_upload_ops deferred_ops = {
	.pool = HTTP_POOL_REQUESTS,
	.admit = deferred_admit,
	.done = deferred_done,
};

static enum MHD_Result stream_begin(struct http_req *r, struct http_ctx *x)
{
	r->x = x;
	r->answered = 1;
	if (r->over_share)
		http_problem(x, 429, "rate_limited", NULL,
			     "too many requests in flight from this address");
	else
		handle(x);
	if (!x->status && x->defer_work && !x->upload_ &&
	    http_upload_start(x, &deferred_ops, NULL) < 0) {
		x->defer_work = NULL; /* 503 answered: it will not run */
		job_end();
	}
	if (!x->status && x->upload_) {
		if (http_upload_call(x, NULL, NULL) == HTTP_UPLOAD_WAIT)
			return MHD_YES;
	}
	return respond(x);
}

/*
 * RFC 9112 §6.3: a body whose length a front end could read otherwise
 * than libmicrohttpd does is request smuggling's door. libmicrohttpd
 * 0.9.75 reads the first of two Content-Length lines, lets
 * Transfer-Encoding override Content-Length and keeps the connection,
 * takes "chunked" from the first of two Transfer-Encoding lines, and
 * reads an unknown coding's body until the client closes. Such a
 * request's status (http_framing_status), else 0.
 */
static int framing_wrong(struct MHD_Connection *mc, struct arena *a, const char *version)
{
	return http_framing_status(version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0,
				   field_joined(mc, a, "Content-Length"),
				   field_joined(mc, a, "Transfer-Encoding"));
}

/* Answers a request refused from its header at once, its body unread,
 * and closes: whatever follows on the connection may be that body. */
static enum MHD_Result refuse_unread(struct http_ctx *x)
{
	http_header(x, "Connection", "close");
	return respond(x);
}

static enum MHD_Result framing_refuse(struct http_ctx *x, int status)
{
	if (status == 501)
		http_problem(x, 501, "not_implemented", NULL,
			     "the only transfer coding taken is chunked");
	else
		http_problem(x, 400, "bad_request", NULL,
			     "the body's length is ambiguous: one Content-Length, or "
			     "Transfer-Encoding: chunked alone (RFC 9112 section 6.3)");
	return refuse_unread(x);
}

/*
 * The bridge's stand-in for a request whose header it refused
 * (HTTP_BRIDGE_REFUSAL): answered here so that it comes after the
 * answers to the requests before it on the connection, and the
 * connection closed (what the client sent after it was dropped).
 */
static enum MHD_Result bridge_refusal(struct http_req *r, struct MHD_Connection *mc,
				      const char *method, void *cls)
{
	const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, HTTP_BRIDGE_REFUSAL);
	client_of(mc, r); /* the address; the scheme is the listener's */
	r->path = "/";
	r->answered = 1;
	struct http_ctx *x = ctx_new(r, mc, method, cls);
	if (v && strcmp(v, "431") == 0)
		http_problem(x, 431, "too_large", NULL,
			     "the request header is over 16384 bytes or 100 lines");
	else if (v && strcmp(v, "414") == 0)
		http_problem(x, 414, "too_large", NULL,
			     "the request target is over 16384 bytes");
	else
		http_problem(x, 400, "bad_request", NULL,
			     "the request line or a header field line is malformed");
	return refuse_unread(x);
}

static struct http_req *req_new(void)
{
	struct http_req *r = xcalloc(1, sizeof(*r));
	r->arena = arena_new(16384);
	/* The JSON of a password or key change is decoded here. */
	arena_set_secret(r->arena);
	return r;
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK: the request's state starts here, with its
 * target as sent. The daemon decodes the path and the arguments before
 * on_request sees them, and the decoding loses what the redirect to
 * HTTPS must keep: "%2F" and "/" are other paths, "%00" stays "%00"
 * (unescape_keep_nul) and was sent on as "%2500". Already judged by the
 * bridge (no space, control or NUL: RFC 9112 §3.2, http_head_parse) and
 * at most 16 KiB.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	(void)cls;
	(void)mc;
	struct http_req *r = req_new();
	r->raw_target = arena_strdup(r->arena, uri);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_req *r = *con_cls;

	if (!r)
		r = *con_cls = req_new(); /* on_uri makes it; this is a fallback */
	if (!r->begun) {
		r->begun = 1;
		if (MHD_lookup_connection_value(mc, MHD_HEADER_KIND, HTTP_BRIDGE_REFUSAL))
			return bridge_refusal(r, mc, method, cls);
		r->bad_host = host_wrong(mc, version);
		/* libmicrohttpd hands an absolute-form target over whole:
		 * routed by its path, as RFC 9112 §3.2.2 asks. */
		int target = http_absolute_target(r->arena, url, &r->target_host, &r->path);
		if (target == 0)
			r->path = url;
		if (client_of(mc, r)) {
			/* The connection is a trusted proxy's and took no share
			 * (http_bridge.c): the request takes its client's. */
			if (limits_client_acquire(POOL_HTTP, r->ip) == 0) {
				r->share = 1;
			} else {
				/* Answered at once: nothing of it is worth reading. */
				r->over_share = 1;
				log_info("http", NULL,
					 "event=refused peer=%s reason=per_ip_limit proxied=1", r->ip);
			}
		}
		int framing = framing_wrong(mc, r->arena, version);
		if (framing) {
			r->answered = 1;
			return framing_refuse(ctx_new(r, mc, method, cls), framing);
		}
		if (target < 0) {
			r->answered = 1;
			r->path = "/";
			struct http_ctx *x = ctx_new(r, mc, method, cls);
			http_problem(x, 400, "bad_request", NULL,
				     "the request target has no host, or carries user information");
			return refuse_unread(x);
		}
		if (target_form_wrong(method, r->path)) {
			r->answered = 1;
			r->path = "/";
			struct http_ctx *x = ctx_new(r, mc, method, cls);
			http_problem(x, 400, "bad_request", NULL,
				     "the request target is not a path starting with '/', an absolute "
				     "URI, or '*' for OPTIONS (RFC 9112 section 3.2)");
			return refuse_unread(x);
		}
		if (http_route_streamed(method, r->path) && !r->bad_host) {
			buf_init(&r->body, 1);
			return stream_begin(r, ctx_new(r, mc, method, cls));
		}
		/*
		 * Every other body is held in memory before its handler runs,
		 * so before anyone proved who they are: HTTP_BODY_MAX for all,
		 * whatever the path. A route that takes more (JMAP's API and
		 * uploads) is a streamed one, whose credentials are checked
		 * from the header before its body is read (http_upload.h).
		 */
		buf_init(&r->body, HTTP_BODY_MAX);
		/* Passwords and keys come in these bodies (JSON): no copy left
		 * behind as it grows or when freed. */
		buf_set_secret(&r->body);
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
		uint64_t n;
		if (cl && str_to_u64(str_c(cl), UINT64_MAX, &n) == 0 && n > HTTP_BODY_MAX)
			r->too_big = 1;
		/*
		 * A body somewhat over the limit is read and dropped, then
		 * refused: a client that sends its whole body before reading
		 * (most do, without Expect: 100-continue) would otherwise block
		 * on a full socket and never see the 413. A huge one is refused
		 * at once and the connection closed after the answer.
		 */
		if (!r->over_share && (!r->too_big || n <= HTTP_DISCARD_MAX))
			return MHD_YES;
	} else if (r->x && r->x->upload_) {
		/* A streamed body: each piece to the upload, and its answer. */
		switch (http_upload_call(r->x, upload_data, upload_data_size)) {
		case HTTP_UPLOAD_WAIT: return MHD_YES;
		case HTTP_UPLOAD_CLOSE: return MHD_NO;
		case HTTP_UPLOAD_ANSWER: break;
		}
		if (r->answered_upload)
			return MHD_YES;
		r->answered_upload = 1;
		return respond(r->x);
	} else if (*upload_data_size) {
		r->seen += *upload_data_size;
		if (!r->too_big && buf_append(&r->body, upload_data, *upload_data_size) < 0)
			r->too_big = 1;
		*upload_data_size = 0;
		/*
		 * Dropping a body costs reading it: not past HTTP_DISCARD_MAX.
		 * A chunked body declares no length for the check above, so
		 * one that never ends was read and dropped for as long as its
		 * client kept sending, before anyone proved who they are. It
		 * is answered now, its rest unread, and the connection closed.
		 */
		if (!r->too_big || r->seen <= (uint64_t)HTTP_BODY_MAX + HTTP_DISCARD_MAX)
			return MHD_YES;
		if (r->answered)
			return MHD_NO;
		r->answered = 1;
		struct http_ctx *x = ctx_new(r, mc, method, cls);
		http_problem(x, 413, "too_large", NULL, "the request body is over %d bytes",
			     HTTP_BODY_MAX);
		return refuse_unread(x);
	}
	if (r->deferred) {
		/* Called again after a resume: the work is done, answer. */
		struct http_ctx *x = r->deferred;
		if (!http_job_done(&r->deferred_done))
			return MHD_YES;
		r->deferred = NULL;
		x->defer_finish(x, x->defer_arg);
		return respond(x);
	}
	if (r->answered)
		return MHD_YES;
	r->answered = 1;

	struct http_ctx *x = ctx_new(r, mc, method, cls);
	x->body = buf_data(&r->body);
	x->body_len = buf_len(&r->body);

	if (r->over_share) {
		http_problem(x, 429, "rate_limited", NULL,
			     "too many requests in flight from this address");
	} else if (r->too_big) {
		/* Who asks first, from the header alone (the body is not
		 * there): a client without credentials was told the limit
		 * (413) before that it needs them (401). */
		if (!r->bad_host && http_route_gate(x) == 0)
			http_problem(x, 413, "too_large", NULL, "the request body is over %d bytes",
				     HTTP_BODY_MAX);
	} else if (r->bad_host == HOST_COUNT)
		http_problem(x, 400, "bad_request", NULL,
			     "an HTTP/1.1 request needs one Host field (RFC 9112 section 3.2)");
	else if (r->bad_host)
		http_problem(x, 400, "bad_request", NULL,
			     "the Host field is not a host name or address with an optional port "
			     "(RFC 9112 section 3.2)");
	else
		handle(x);
	if (x->defer_work && !x->status) {
		r->deferred = x;
		if (job_start(mc, defer_main, x, &r->deferred_done) == 0)
			return MHD_YES;
		r->deferred = NULL;
		/* No thread: do the work here, as before deferring existed. */
		x->defer_work(x->defer_arg);
		job_end();
		x->defer_finish(x, x->defer_arg);
	} else if (x->defer_work) {
		job_end(); /* answered without it */
	}
	return respond(x);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	(void)cls;
	(void)toe;
	/* Every request the handler saw, answered or cut: the bridge counts. */
	if (ci)
		http_bridge_answered(ci->socket_context);
	if (!r)
		return;
	if (r->share)
		limits_client_release(POOL_HTTP, r->ip);
	if (r->deferred && http_job_done(&r->deferred_done)) {
		/* Ended after its work did but before the resumed handler
		 * answered (the daemon stopping at a drain's end): the finish
		 * still frees what the work holds, and its answer goes nowhere.
		 * Left, that was a leak at every such stop. */
		struct http_ctx *x = r->deferred;
		r->deferred = NULL;
		x->defer_finish(x, x->defer_arg);
		if (x->stream_free)
			x->stream_free(x->stream_cls);
	}
	if (r->x) {
		/* A streamed body ends here however the request ended (a
		 * stalled client cut, the connection gone): its file goes. */
		http_upload_end(r->x);
		buf_free(&r->x->out);
	}
	buf_free(&r->body);
	arena_free(&r->arena);
	free(r);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? http_bridge_tally_take(ci->connect_fd) : NULL;
		metrics_inc(METRIC_CONN_HTTP);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_bridge_tally_put(*socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], q[600];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* Bridged connections arrive on a unix socket: TCP options cannot
	 * apply there, and the data is in the socket already. Not worth a line. */
	if (strstr(msg, "TCP_NODELAY") || strstr(msg, "TCP_CORK") ||
	    strstr(msg, "Failed to push the data"))
		return;
	log_debug("http", NULL, "event=mhd message=%s", log_q(msg, q, sizeof(q)));
}

struct MHD_Daemon *http_daemon(int https)
{
	return daemons[!!https];
}

static void setup_admin(struct store *st)
{
	char code[ADMIN_SETUP_CODE_LEN + 1];

	if (http_cfg->admin_password[0]) {
		char why[128];
		/* Set before the rule existed, perhaps: warn, never refuse to start. */
		if (password_policy_check(http_cfg->admin_password, why, sizeof why) < 0)
			log_warn("http", NULL, "event=admin_password_weak variable=TERN_ADMIN_PASSWORD "
				 "hint=\"%s; the admin password still works, but change it\"", why);
		/* Hashed once: logins then cost what a stored hash costs. */
		if (password_hash(http_cfg->admin_password, http_env_admin_hash, PASSWORD_HASH_MAX) != 0)
			fatal("cannot hash TERN_ADMIN_PASSWORD");
		admin_setup_code_clear(st);
		return;
	}
	if (admin_exists(st))
		return;
	if (admin_setup_code_ensure(st, code, sizeof(code)) != STORE_OK) {
		log_error("http", NULL, "event=setup_code_failed");
		return;
	}
	/* One clear line: the only way into a fresh server. */
	log_info("http", NULL, "event=setup_code code=%s hint=\"open the web admin and enter this code, or run: tern setup-code\"",
		 code);
}

/*
 * A connection limit per worker thread that cannot be reached: above the
 * number of descriptors the process may hold (every connection the daemon
 * counts is one), see http_bridge.c for the bug this keeps us clear of.
 * Our own limits (POOL_HTTP) are taken in the bridge.
 */
static unsigned unreachable_limit(unsigned threads)
{
	struct rlimit rl;
	uint64_t fds = 1u << 20;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fds = (uint64_t)rl.rlim_cur;
	uint64_t total = (fds + 1) * threads;
	return total > UINT_MAX / 2 ? UINT_MAX / 2 : (unsigned)total;
}

/*
 * The path's and the query values' percent-decoding (MHD's default, but
 * for %00). Handlers read what the daemon decoded as C strings: a %00
 * decoded to NUL ended the value there, so /accounts/bob@example.test%00x
 * named bob (and a DELETE of it deleted him), and ?q=bob%00x searched for
 * bob. %00 stays as sent, three characters no name holds. In place, never
 * longer (the daemon's contract); invalid escapes stay as sent, as MHD's.
 */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	size_t n = strlen(s), len;
	(void)pct_decode(s, n, s, n + 1, &len, PCT_LENIENT | PCT_KEEP_00); /* lenient: cannot fail */
	return len;
}

unsigned http_daemon_timeout_s(void)
{
	unsigned send = http_cfg->http_send_timeout_s;
	return send > 60 ? send + 5 : 60;
}

static struct MHD_Daemon *daemon_start(int https, unsigned threads)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_keep_nul, NULL },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, http_daemon_timeout_s(), NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, unreachable_limit(threads), NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0, NULL }, /* ours, per /64 */
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL },
		{ MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL },
		{ threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, https ? &https_marker : NULL,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

int http_server_start(const struct config *cfg, struct store *st, struct listener *ls,
		      int *n_r, enum listen_kind *failed_r, char *err, size_t errsz)
{
	int n = 0;

	http_cfg = cfg;
	http_store = st;
	http_started_at = (int64_t)time(NULL);
	*n_r = 0;
	sem_init(&hash_sem, 0, 2);
	pthread_mutex_lock(&jobs.mu);
	pool.stopping = 0; /* started again (tests) */
	pthread_mutex_unlock(&jobs.mu);
	if (!cfg->listen[LISTEN_HTTP].port && !cfg->listen[LISTEN_HTTPS].port)
		return 0;
	http_push_pool_start();
	setup_admin(st);

	if (cfg->listen[LISTEN_HTTPS].port) {
		if (listener_open(&ls[n], &cfg->listen[LISTEN_HTTPS], "https", http_bridge_accept,
				  HTTP_BRIDGE_TLS, err, errsz) < 0) {
			*failed_r = LISTEN_HTTPS;
			goto fail;
		}
		https_port = ls[n++].port;
		/* The web admin and the API: password checks may hold a thread. */
		daemons[1] = daemon_start(1, 4);
		if (!daemons[1])
			goto fail_daemon;
	}
	if (cfg->listen[LISTEN_HTTP].port) {
		if (listener_open(&ls[n], &cfg->listen[LISTEN_HTTP], "http", http_bridge_accept, NULL,
				  err, errsz) < 0) {
			*failed_r = LISTEN_HTTP;
			goto fail;
		}
		ls[n].busy_line = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
				  "Content-Length: 0\r\nConnection: close\r\n\r\n";
		http_port = ls[n++].port;
		/* Redirects, health, metrics, ACME, autoconfiguration. */
		daemons[0] = daemon_start(0, 2);
		if (!daemons[0])
			goto fail_daemon;
	}
	*n_r = n;
	/* Where to go next, said once at start: the one thing a newcomer
	 * looks for in the log besides the setup code. */
	char port[16] = "";
	uint16_t p = https_port ? https_port : http_port;
	if (p != (https_port ? 443 : 80))
		snprintf(port, sizeof port, ":%u", (unsigned)p);
	log_info("http", NULL, "event=admin_url url=%s://%s%s/ hint=\"the web admin%s\"",
		 https_port ? "https" : "http", hostname_now(), port,
		 admin_exists(st) || cfg->admin_password[0] ? "" : " and first-run wizard");
	return 0;
fail_daemon:
	snprintf(err, errsz, "cannot start the HTTP daemon (libmicrohttpd)");
fail:
	for (int i = 0; i < n; i++)
		listener_close(&ls[i]);
	http_server_stop();
	https_port = http_port = 0;
	return -1;
}

/* The daemon stops on a thread of its own, waited for a bounded time. */
struct stopper {
	struct MHD_Daemon *d[2];
	sem_t done;
};

static void *stop_daemons(void *arg)
{
	struct stopper *s = arg;
	/*
	 * A suspended connection must be resumed before its daemon stops:
	 * wait for http_defer's jobs (each ends within its own deadline).
	 */
	pthread_mutex_lock(&jobs.mu);
	while (jobs.n > 0)
		pthread_cond_wait(&jobs.cv, &jobs.mu);
	pthread_mutex_unlock(&jobs.mu);
	job_threads_stop();
	for (int i = 0; i < 2; i++)
		if (s->d[i])
			MHD_stop_daemon(s->d[i]);
	sem_post(&s->done);
	return NULL;
}

void http_server_stop(void)
{
	/* Shared with a thread that may outlive this call: never freed. */
	static struct stopper st;
	pthread_t t;
	struct timespec until;

	/* WebSocket messages still queued run now: their connections are
	 * gone (the drain), but each job's end frees it on its loop. */
	http_push_pool_stop();
	if (!daemons[0] && !daemons[1])
		return;
	st.d[0] = daemons[0];
	st.d[1] = daemons[1];
	daemons[0] = daemons[1] = NULL;
	sem_init(&st.done, 0, 0);
	if (pthread_create(&t, NULL, stop_daemons, &st) != 0) {
		stop_daemons(&st);
		return;
	}
	pthread_detach(t);
	/*
	 * A wedged worker would hold SIGTERM for ever: after a few seconds
	 * the process goes on stopping (and exits, which ends those threads;
	 * the listeners are ours and close with the others).
	 */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += HTTP_STOP_SECONDS;
	while (sem_timedwait(&st.done, &until) < 0) {
		if (errno == EINTR)
			continue;
		log_error("http", NULL, "event=stop_timeout seconds=%d", HTTP_STOP_SECONDS);
		return;
	}
}

int http_jmap_session_url(char *out, size_t n)
{
	char port[16] = "";
	uint16_t p = https_port;

	if (n)
		out[0] = '\0';
	/* Behind a proxy (TERN_TRUSTED_PROXIES) the public URL is the proxy's,
	 * which we cannot see from here: https on the host name and the
	 * default port, with or without our own HTTPS listener (the proxy may
	 * end TLS and talk plain HTTP to us). */
	int proxied = http_cfg && http_cfg->trusted_proxies[0] && (p || http_port);
	if (!p && !proxied)
		return -1;
	if (p != 443 && !proxied)
		snprintf(port, sizeof port, ":%u", (unsigned)p);
	int len = snprintf(out, n, "https://%s%s" HTTP_JMAP_SESSION_PATH, hostname_now(), port);
	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

uint16_t http_https_port(void)
{
	return https_port;
}

uint16_t http_http_port(void)
{
	return http_port;
}
