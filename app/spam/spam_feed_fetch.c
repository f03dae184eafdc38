/*
 * spam_feed_fetch.c — the server's download of a local list's feed URL
 * (spam_feed_fetch_tick in spam_feed.h).
 *
 * The housekeeping thread decides when (the URL changed, or the last
 * download is SPAM_FEED_REFRESH old; at start a stored list from the
 * same URL counts as the last download), the loop downloads through
 * acme_http (the one HTTPS client: verified TLS, at most
 * SPAM_FEED_BYTES_MAX octets held), and the worker pool parses and
 * stores, so neither the loop nor the housekeeping thread waits on a
 * multi-megabyte parse or store write. Each kind of list has its own
 * schedule. Log lines (event=<kind>_list_loaded, <kind>_fetch_failed)
 * name the URL's host only: feed URLs can carry an API key
 * (PhishTank's do).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/acme_http.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "spam/spam_feed.h"
#include "store/store.h"

#define URL_MAX 1024
#define FETCH_TIMEOUT_MS (120 * 1000)
#define RETRY_AFTER_FAILURE (15 * 60)

#define KINDS_MAX 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Each kind's schedule, by the kind's address (the kinds are static). */
static struct schedule {
	const struct spam_feed_kind *k;
	int in_flight;
	char url[URL_MAX]; /* the URL the schedule is for */
	int64_t next_at;   /* Unix time of the next download */
} F[KINDS_MAX];

struct fetch {
	struct store *st;
	struct loop *loop;
	struct schedule *sched;
	char url[URL_MAX];
	char host[256];
	char *body;
	size_t len;
	struct spam_feed feed;
	int rc;
	struct worker_job job;
};

/* k's schedule (under lock); NULL past KINDS_MAX kinds. */
static struct schedule *schedule_of(const struct spam_feed_kind *k)
{
	for (size_t i = 0; i < KINDS_MAX; i++) {
		if (F[i].k == k)
			return &F[i];
		if (F[i].k == NULL) {
			F[i].k = k;
			return &F[i];
		}
	}
	return NULL;
}

static void finished(struct fetch *f, int ok)
{
	struct schedule *sc = f->sched;
	pthread_mutex_lock(&lock);
	sc->in_flight = 0;
	if (strcmp(sc->url, f->url) == 0) /* else the URL changed meanwhile: the new one is due */
		sc->next_at = (int64_t)time(NULL) + (ok ? SPAM_FEED_REFRESH : RETRY_AFTER_FAILURE);
	pthread_mutex_unlock(&lock);
	spam_feed_free(&f->feed);
	free(f->body);
	free(f);
}

static void store_job(void *arg)
{
	struct fetch *f = arg;
	f->sched->k->parse(f->body, f->len, &f->feed);
	f->rc = f->feed.n ? spam_feed_store(f->st, f->sched->k, &f->feed, f->url) : STORE_OK;
}

static void stored(void *arg)
{
	struct fetch *f = arg;
	const char *name = f->sched->k->name;
	char q[300];
	if (f->feed.n == 0) {
		log_warn("spam", NULL, "event=%s_fetch_failed host=%s error=\"no entry in the "
		         "download (%zu octets); the list is kept\"", name,
		         log_q(f->host, q, sizeof q), f->len);
		finished(f, 0);
	} else if (f->rc != STORE_OK) {
		log_warn("spam", NULL, "event=%s_fetch_failed host=%s error=\"store write failed\"",
		         name, log_q(f->host, q, sizeof q));
		finished(f, 0);
	} else {
		log_info("spam", NULL, "event=%s_list_loaded host=%s entries=%zu bad=%zu dropped=%zu",
		         name, log_q(f->host, q, sizeof q), f->feed.n, f->feed.bad, f->feed.dropped);
		finished(f, 1);
	}
}

static void fetched(void *arg, const struct acme_http_resp *r)
{
	struct fetch *f = arg;
	char q[300], e[300];
	if (r->status != 200) {
		log_warn("spam", NULL, "event=%s_fetch_failed host=%s status=%d error=%s",
		         f->sched->k->name, log_q(f->host, q, sizeof q), r->status,
		         log_q(r->status ? "not 200" : r->error, e, sizeof e));
		finished(f, 0);
		return;
	}
	f->body = xmalloc(r->body_len + 1);
	memcpy(f->body, r->body, r->body_len);
	f->len = r->body_len;
	f->job = (struct worker_job){.fn = store_job, .done = stored, .arg = f, .loop = NULL};
	worker_submit(&f->job);
}

static void start(void *arg)
{
	struct fetch *f = arg;
	unsigned port;
	const char *path;
	if (acme_url_split(f->url, f->host, sizeof f->host, &port, &path) < 0 ||
	    acme_http_request_opts(f->loop, dns_thread(), "GET", f->url, NULL, NULL, 0,
	                           FETCH_TIMEOUT_MS, NULL, NULL, SPAM_FEED_BYTES_MAX, fetched,
	                           f, NULL) < 0) {
		/* not the URL itself: it may carry a key */
		log_warn("spam", NULL, "event=%s_fetch_failed error=\"the feed URL is not https\"",
		         f->sched->k->name);
		finished(f, 0);
	}
}

void spam_feed_fetch_tick(struct store *st, struct loop *loop, const struct spam_feed_kind *k)
{
	char url[URL_MAX];
	size_t len;
	if (store_meta_get(st, k->url_setting, url, sizeof url - 1, &len) != STORE_OK)
		len = 0;
	url[len] = '\0';
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&lock);
	struct schedule *sc = schedule_of(k);
	if (sc == NULL) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (strcmp(url, sc->url) != 0) {
		snprintf(sc->url, sizeof sc->url, "%s", url);
		sc->next_at = now;
		/* a list this URL gave, still fresh (a restart): due when it ages */
		struct spam_feed_status s;
		if (url[0] && spam_feed_status(st, k, &s) == STORE_OK && strcmp(s.source, url) == 0 &&
		    s.loaded_at + SPAM_FEED_REFRESH > now && s.loaded_at <= now)
			sc->next_at = s.loaded_at + SPAM_FEED_REFRESH;
	}
	if (url[0] == '\0' || sc->in_flight || now < sc->next_at) {
		pthread_mutex_unlock(&lock);
		return;
	}
	sc->in_flight = 1;
	pthread_mutex_unlock(&lock);

	struct fetch *f = xcalloc(1, sizeof *f);
	f->st = st;
	f->loop = loop;
	f->sched = sc;
	snprintf(f->url, sizeof f->url, "%s", url);
	loop_post(loop, start, f);
}
