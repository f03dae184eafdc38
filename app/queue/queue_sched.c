/*
 * queue_sched.c — the outbound queue's scheduler and delivery jobs.
 * See queue.h for the design.
 *
 * One job per queue entry being worked on, all on the scheduler's loop.
 * A job loads the entry and its message, groups the pending recipients by
 * domain (or puts them all in one group for the relay host), and for each
 * group: looks up the route (dns/), tries the addresses in order with an
 * SMTP session (smtp_client.c) until one gives a verdict, and commits the
 * verdict at once (a writer request whose hook rewrites the recipients'
 * states) — so a recipient the remote accepted is never tried again, even
 * after a crash. When every group is done the job's last commit sets the
 * next attempt (backoff) or deletes the entry, gives up on recipients past
 * TERN_QUEUE_LIFETIME, and carries the one notice (DSN) the outcome calls
 * for: into the sender's INBOX when the sender is local, else queued for
 * the sender's domain with the null sender.
 *
 * A recipient of ours in an entry (one whose mailbox had no room when the
 * message came, queue.h, or a notice to a full local sender) is a group
 * of its own, delivered here through queue_submit with the quota checked
 * in its commit (local_send): its verdict is recorded as a remote's.
 *
 * The scheduler wakes every second (and at once when an entry is added):
 * `tern queue flush` in another process changes next_attempt in the store,
 * and this tick is how the server notices.
 */
#include "forward/forward.h"
#include "queue/queue.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/punycode.h"
#include "core/random.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "deliver/deliver.h"
#include "queue/dsn.h"
#include "queue/queue_7bit.h"
#include "queue/queue_hold.h"
#include "queue/queue_self.h"
#include "queue/queue_tlsrpt.h"
#include "queue/smtp_client.h"
#include "queue/smtp_reply.h"
#include "queue/sts.h"
#include "tlspol/tlsa.h"
#include "store/store.h"
#include "store/store_queue.h"

#define MAX_JOBS 64
/* Message bytes held by running jobs; one job may always run. */
#define MAX_JOB_BYTES ((size_t)256 * 1024 * 1024)
#define TICK_MS 1000
#define CONNECT_TIMEOUT_S 30
/* Hosts tried in one delivery attempt, as Postfix bounds them: the
 * first MX_ADDRS_MAX addresses in preference order
 * (smtp_mx_address_limit), and at most MX_SESSIONS_MAX sessions that got
 * past EHLO and TLS (smtp_mx_session_limit: a host that refused the
 * connection, timed out or failed before MAIL does not count). The rest
 * wait for the next attempt. */
#define MX_ADDRS_MAX 5
#define MX_SESSIONS_MAX 2
#define DSN_MAX (64 * 1024 * 1024)

struct sched {
	struct store *st;
	struct loop *loop;
	struct dns *dns;
	int own_dns; /* dns is ours (no loop resolver on this thread): freed at stop */
	char relay_host[256];
	uint16_t relay_port;
	char relay_user[256], relay_pass[256];
	int relay_tls_verify; /* TERN_RELAY_TLS_VERIFY (on unless turned off) */
	int dane;             /* TERN_DNS_TRUST_AD: AD answers are believed, DANE applies */
	unsigned lifetime_s, delay_notice_s, timeout_s;
	unsigned retry[16], nretry;
	uint16_t mx_port, sts_port;
	enum dns_ip_strategy ip; /* TERN_QUEUE_IP_STRATEGY */
	char dns_servers[512];
	uint64_t timer;
	int stopping;
	/* SIGTERM: no new conversation starts (queue_sched_quiesce). */
	int quiescing;
	struct job *jobs;
};

/*
 * Idle sessions kept after a transaction, by destination (the domain, or
 * "" for the relay host), so the next message for it skips DNS, connect,
 * EHLO, TLS and AUTH. A session idles IDLE_S seconds at most.
 *
 * A kept session carries the next message only once the result of its
 * last one is in the store's file: unsettled until the update's commit
 * is written (upd_applied: store.h's applied, which comes before the
 * flush that makes the commit durable). Handed on at once, it carried
 * the next message while the last one's 250 was not yet recorded: a
 * crash then lost the record of every message the session had taken
 * meanwhile, and each was sent again after the restart. Waiting, a crash
 * of tern (kill -9 included: the kernel keeps the written pages) can
 * catch one message per session unrecorded, as with Postfix, whose smtp
 * process crosses the recipient off in the queue file (deliver_completed:
 * a write, no fsync) before the session goes back to its cache. A power
 * cut may lose records not yet flushed, here as there, and those
 * messages go again (RFC 5321 §6.1 allows a duplicate). An unsettled
 * session counts against DEST_MAX: it is a connection in use, and the
 * job waiting for a slot gets it once settled (dest_wake). Waiting for
 * the flush too (the update's done) cost about a third of the drain
 * rate to a loopback sink on a loaded machine: each connection idled
 * for a commit and a flush between messages. Measured (4,000 x 10 KiB to
 * smtp-sink on loopback, 13 interleaved rounds, load 13-24): no wait
 * median 2,861 msg/s, waiting for done 2,202, for the commit 2,555.
 */
#define CACHE_MAX 32
#define IDLE_S 5
/* Sessions to one destination at once (Postfix's default is 20 too);
 * jobs beyond it wait for one to finish. */
#define DEST_MAX 20

/* A host's DANE state (RFC 7672 §2.2). */
enum {
	DANE_NONE,   /* insecure MX or TLSA, or no TLSA: as without DANE */
	DANE_VERIFY, /* usable TLSA records: TLS required, verified by them */
	DANE_TLS,    /* TLSA records, none usable: TLS required, not verified */
	DANE_FAIL,   /* the TLSA lookup failed: this host is skipped */
};
/* Usable TLSA records kept for a host (each a struct tlsa_rec, ~1 KiB). */
#define DANE_TLSA_MAX 64
/* A host name as log_q() quotes it: it comes from DNS (an MX, a relay)
 * and may hold a quote or '='. */
#define HOST_Q (2 * 256 + 3)

struct upd;

struct cached {
	char key[256];
	struct dns_addr addr;
	struct smtp_client *c; /* NULL = free slot */
	struct queue_tlsrpt_row row; /* what the session counted for TLS-RPT */
	/* The update of its last message, not written yet: not to be taken. */
	const struct upd *unsettled;
};

static struct cached cache[CACHE_MAX];

/*
 * Destinations none of whose hosts answered a moment ago (Postfix's dead
 * destinations). Without this, each queued message for a domain that is
 * down opened its own sessions and waited out their timeouts, 20 at a
 * time: with thousands queued for it, the jobs (MAX_JOBS) and the due
 * list stayed full of them for hours and mail for every other domain
 * waited behind. Until the first retry interval has passed (DEAD_S at
 * most), a message for such a destination that was due before it was
 * found so is deferred at once with the reason its hosts gave; one due
 * since (new, retried by its schedule, or flushed by the admin) is tried.
 * A session that works there forgets it.
 */
#define DEAD_MAX 64
#define DEAD_S 60

struct dead {
	char key[256]; /* as dest_key(); "" with until 0 = free */
	int64_t since, until;
	char why[SQ_STATUS_MAX + 1];
};

static struct dead dead[DEAD_MAX];

struct group {
	char domain[256];
	size_t *idx; /* indexes into the entry's rcpts */
	size_t n;
	int local;   /* for no MX: one recipient of ours, delivered here (local_send) */
	int unsure;  /* local, of those not known to be ours or not now: left pending */
};

struct job {
	struct sched *s;
	struct store_queue_entry e;
	char *data;
	size_t len;
	struct group *groups;
	size_t ngroups, cur;
	/* The group being delivered. */
	struct smtp_client_rcpt *crcpts;
	struct smtp_client_msg cmsg;
	struct dns_addr addrs[DNS_ADDRS_MAX];
	size_t naddrs, cur_addr;
	unsigned sessions; /* sessions of this attempt that reached MAIL */
	int answered; /* a host of this attempt gave verdicts: the destination is not dead */
	struct dns_lookup *lookup;
	struct sts_lookup *sts_lookup;
	/* The group's MTA-STS policy (RFC 8461); mode MTA_STS_NONE when none applies. */
	struct mta_sts_policy sts;
	char sts_why[300]; /* "the MTA-STS policy of DOMAIN", for statuses */
	int sts_failed;            /* the domain has a policy that could not be had */
	struct sts_fail sts_fail;  /* why (sts_failed) */
	struct queue_tlsrpt_row tr_row; /* what the current address's session counted */
	int verify_retry;  /* testing policy: this address failed verification, try it unverified */
	/* DANE (RFC 7672) for the host of the current address. */
	struct dns_query *dane_q;
	char dane_host[256]; /* the host the state below is for; "" = not looked up */
	/* Its TLSA base domain when that is not the host: the name a secure
	 * CNAME chain led its address to, where TLSA records were found
	 * (RFC 7672 §2.2.2); "" otherwise. */
	char dane_base[256];
	int dane;            /* DANE_* */
	struct tlsa_rec *tlsa; /* the host's usable records, sized by the last answer */
	size_t ntlsa;
	char dane_why[300];
	size_t rtls_skipped; /* addresses REQUIRETLS could not use (none: a permanent failure) */
	struct smtp_client *client; /* set through job_client() */
	char last_why[SQ_STATUS_MAX + 1];
	/* The host whose reply last_why is, when it is one (a 4xx greeting,
	 * a 421): the notice names it as the Remote-MTA. */
	char last_host[sizeof ((struct dns_addr *)0)->host];
	int last_refused; /* last_why is a host's 5xx greeting or HELO reply */
	/* When each recipient (by index into e.rcpts) was last tried in this
	 * attempt: its notice's Last-Attempt-Date. 0 for one not tried (the
	 * record keeps no time of earlier attempts). */
	int64_t *tried;
	int skipped; /* the current group was deferred untried (a dead destination) */
	int reused;        /* the current session came from the cache */
	int plain_retry;   /* this address failed TLS: try it once without */
	int dest_busy;     /* counts against DEST_MAX for its group's destination */
	int waiting;       /* its current group waits for a DEST_MAX slot */
	int finished;      /* the final commit was sent */
	int store_pending; /* writer requests not yet completed (held ones too) */
	/* Updates waiting their turn, oldest first: one the store refused
	 * (tried again, see upd_hold) and those made after it or while
	 * another was with the writer (see upd_submit). */
	struct upd *held;
	uint64_t held_timer;
	unsigned held_ms;   /* the wait before the next try */
	int upd_busy;       /* one of the job's updates is with the writer */
	uint64_t upd_seq;   /* order of this job's updates */
	/* The message's 7-bit form for remotes without 8BITMIME (made once,
	 * when the first such remote is met; queue_7bit.h). */
	int conv;           /* CONV_* */
	char *data7;
	size_t len7;
	unsigned resigned;  /* our domains signed again over it */
	unsigned resealed;  /* our ARC set sealed again over it */
	struct worker_job conv_wj;
	/* A local group's delivery (local_send): one recipient at a time. */
	struct queue_request lreq;
	struct queue_rcpt lrcpt;
	struct job *next;
};

enum { CONV_NONE, CONV_RUNNING, CONV_OK, CONV_FAILED };

static struct sched *sched;
static atomic_int kick_pending;
static atomic_uint active_jobs;
/* Jobs with a conversation under way (j->client set): the shutdown
 * waits for these to end with a result before it cuts them. */
static atomic_uint talking_jobs;
static size_t active_bytes; /* scheduler loop only */
static struct loop *sched_loop;

/* ---- store updates (run in the writer's transaction) ---- */

struct upd_rcpt {
	size_t idx;
	uint8_t state, dsn_done;
	char *status, *remote;
};

struct upd {
	struct delivery d; /* the update through its hook, with a local notice's copy */
	struct job *job;
	uint64_t id;
	struct upd_rcpt *r;
	size_t nr;
	/* Final commit only. */
	int final;
	int64_t next_attempt;
	uint32_t add_flags;
	int all_dsn_done; /* mark every final recipient's notice as made */
	/* A notice for a remote sender, queued in the same transaction. */
	struct store_queue_entry dsn;
	char *dsn_data;
	size_t dsn_len;
	char *local_data; /* notice for a local sender (INBOX copy) */
	struct deliver_plan *plans;
	uint64_t seq;     /* the job's upd_seq when it was made */
	uint64_t token;   /* recorded in the entry with it (upd_once) */
	unsigned sent;    /* times it went to the writer */
	struct upd *next; /* in the job's held list */
	/* A kept session waits for this commit (struct cached.unsettled):
	 * the destination it goes on to, for the job waiting there. */
	int parked;
	char park_key[256];
};

static void upd_free(struct upd *u)
{
	for (size_t i = 0; i < u->nr; i++) {
		free(u->r[i].status);
		free(u->r[i].remote);
	}
	free(u->r);
	store_queue_entry_free(&u->dsn);
	free(u->dsn_data);
	free(u->local_data);
	free(u->plans);
	free(u);
}

/*
 * Whether u is in the entry already. An update whose commit went in and
 * whose flush then failed is answered STORE_ETEMP and tried again (see
 * upd_hold); applied a second time it delivered its local notice twice,
 * queued its remote one twice and counted the attempt twice. Each update
 * records its token in the entry it changes, in its own transaction; a
 * job's updates go in one at a time, in order, so the one tried again
 * is in when the entry's last token is its own.
 */
static int upd_once(struct store *st, void *txn, struct store_delivery *d)
{
	struct upd *u = d->hook_arg;
	struct store_queue_entry e;
	int done;
	int rc = store_queue_get_txn(st, txn, u->id, &e);
	if (rc == STORE_ENOTFOUND) {
		/* Tried again, the entry is gone: u finished it before (a
		 * finished entry is removed) or `tern queue del` removed it;
		 * either way no notice is due now. Tried first, deleted
		 * meanwhile: upd_hook goes on as before. */
		done = u->sent > 1;
	} else if (rc) {
		return rc;
	} else {
		done = e.last_update == u->token;
		store_queue_entry_free(&e);
	}
	if (done)
		log_info("queue", NULL, "event=queue_update_kept id=%llu final=%d reason=applied_before",
		         (unsigned long long)u->id, u->final);
	return done;
}

static int upd_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct upd *u = d->hook_arg;
	struct store_queue_entry old, e;
	int rc;

	if (u->dsn_data && u->dsn.nrcpts) {
		struct store_queue_entry dsn = u->dsn; /* add_txn sets the id */
		if ((rc = store_queue_add_txn(st, txn, &dsn, u->dsn_data, u->dsn_len)) != 0)
			return rc;
	}
	rc = store_queue_get_txn(st, txn, u->id, &old);
	if (rc == STORE_ENOTFOUND)
		return 0; /* deleted meanwhile (tern queue del) */
	if (rc)
		return rc;
	rc = store_queue_get_txn(st, txn, u->id, &e);
	if (rc == 0) {
		for (size_t i = 0; i < u->nr; i++) {
			struct upd_rcpt *x = &u->r[i];
			if (x->idx >= e.nrcpts)
				continue;
			struct store_queue_rcpt *q = &e.rcpts[x->idx];
			q->state = x->state;
			q->dsn_done = x->dsn_done;
			free(q->status);
			free(q->remote);
			q->status = xstrdup(x->status ? x->status : "");
			q->remote = xstrdup(x->remote ? x->remote : "");
		}
		if (u->final) {
			e.attempts++;
			e.next_attempt = u->next_attempt;
			e.flags |= u->add_flags;
			if (u->all_dsn_done)
				for (size_t i = 0; i < e.nrcpts; i++)
					if (e.rcpts[i].state != SQ_PENDING)
						e.rcpts[i].dsn_done = 1;
		}
		e.last_update = u->token;
		rc = store_queue_put_txn(st, txn, &old, &e);
		store_queue_entry_free(&e);
	}
	store_queue_entry_free(&old);
	return rc;
}

static void job_maybe_free(struct job *j);

/* Sets j->client, counting the jobs that talk to a remote now. */
static void job_client(struct job *j, struct smtp_client *c)
{
	if (!j->client && c)
		atomic_fetch_add(&talking_jobs, 1);
	else if (j->client && !c)
		atomic_fetch_sub(&talking_jobs, 1);
	j->client = c;
}

/*
 * An update the store refused for now (a full disk, an I/O error) is
 * kept and tried again, not dropped. Dropped, the entry kept in the
 * store what it had before the attempt: its recipients still pending and
 * its next_attempt past, so the next tick sent the message again to the
 * remotes that had accepted it, and failed to record that again: with
 * the store's writes failing for 8 s, one remote got the message 477
 * times. Held, the job lives on (job_active keeps the entry from being
 * started again) until its updates are in, oldest first, the wait
 * doubling from HELD_MS_MIN to HELD_MS_MAX. Only a stop drops them; the
 * entry is then sent again after the restart, as after a crash.
 *
 * A job's updates go to the writer one at a time, each after the one
 * before it is in. Two at the writer together commit out of order when
 * the first is refused and the second taken: the attempt's end (its
 * notice delivered, every final recipient's notice marked made) went in
 * without the recipient's verdict, which then came in on its retry
 * saying that recipient's notice was still to be made, and the next
 * attempt made it again (two notices, seen in CI, under load).
 */
#define HELD_MS_MIN 1000u
#define HELD_MS_MAX 60000u

static void held_fire(struct loop *loop, void *arg);
static void cache_settle(const struct upd *u, int committed);
static void dest_wake(struct sched *s, const char *key);

/* Into the held list, in the order the job made its updates. */
static void held_insert(struct job *j, struct upd *u)
{
	struct upd **pp = &j->held;
	while (*pp && (*pp)->seq < u->seq)
		pp = &(*pp)->next;
	u->next = *pp;
	*pp = u;
}

static void upd_send(struct job *j, struct upd *u)
{
	j->upd_busy = 1;
	u->sent++;
	deliver_submit(j->s->st, &u->d);
}

/* u was refused: back at the head of the list, and its next try armed,
 * each refusal in a row waiting twice as long. */
static void upd_hold(struct job *j, struct upd *u)
{
	held_insert(j, u);
	if (j->held_ms == 0)
		j->held_ms = HELD_MS_MIN;
	else
		j->held_ms = j->held_ms * 2 > HELD_MS_MAX ? HELD_MS_MAX : j->held_ms * 2;
	if (!j->held_timer)
		j->held_timer = loop_timer_add(j->s->loop, j->held_ms, held_fire, j);
}

/* Sends the oldest waiting update to the writer. */
static void held_next(struct job *j)
{
	struct upd *u = j->held;
	j->held = u->next;
	u->next = NULL;
	upd_send(j, u);
}

static void held_fire(struct loop *loop, void *arg)
{
	struct job *j = arg;
	(void)loop;
	j->held_timer = 0;
	if (j->held && !j->upd_busy)
		held_next(j);
}

/* At a stop, or when the update before them was refused at a stop: the
 * waiting updates are given up (see upd_hold). */
static void held_drop(struct job *j)
{
	if (j->held_timer)
		loop_timer_del(j->s->loop, j->held_timer);
	j->held_timer = 0;
	if (j->held)
		log_warn("queue", NULL, "event=queue_update_dropped id=%llu reason=stopping",
			 (unsigned long long)j->e.id);
	while (j->held) {
		struct upd *u = j->held;
		j->held = u->next;
		cache_settle(u, 0);
		upd_free(u);
		j->store_pending--;
	}
}

static void upd_done(struct delivery *d, void *arg)
{
	struct upd *u = arg;
	struct job *j = u->job;
	struct sched *s = j->s;
	char key[sizeof u->park_key];
	int parked = u->parked;
	snprintf(key, sizeof key, "%s", u->park_key);
	j->upd_busy = 0;
	if (d->result != STORE_OK) {
		/* What the store says to try later (store.h); any other answer
		 * would be the same the next time. */
		int later = !j->s->stopping && (d->result == STORE_ETEMP || d->result == STORE_EFULL ||
						 d->result == STORE_EQUOTA);
		log_error("queue", NULL, "event=queue_update_failed id=%llu result=%d%s",
			  (unsigned long long)u->id, d->result, later ? " action=retry" : "");
		if (later) {
			upd_hold(j, u); /* its kept session waits on (or idles out) */
			return;
		}
	} else if (u->dsn_data && u->dsn.nrcpts)
		queue_sched_kick();
	cache_settle(u, d->result == STORE_OK);
	if (d->result == STORE_OK)
		j->held_ms = 0;
	/* What an account sent: its EmailSubmission's deliveryStatus (or
	 * undoStatus) moved, which JMAP push tells its clients now. */
	uint64_t ms;
	if (d->result == STORE_OK && j->e.account &&
	    store_account_modseq(j->s->st, j->e.account, &ms) == STORE_OK)
		store_publish_change(j->s->st, j->e.account, ms);
	int refused = d->result != STORE_OK;
	upd_free(u);
	j->store_pending--;
	/* The next one now. Refused at a stop (not kept, see above), the
	 * ones after it would go in without it: they go too. */
	if (j->held && !j->held_timer) {
		if (refused && j->s->stopping)
			held_drop(j);
		else
			held_next(j);
	}
	job_maybe_free(j);
	if (parked) /* its session is free (or gone): a job waiting for one goes on */
		dest_wake(s, key);
}

/* u's commit is written, its flush to come (store.h, applied): a crash
 * of tern no longer loses it, so its kept session may carry the next
 * message, and a job waiting for the destination may take it. */
static void upd_applied(struct delivery *d, void *arg)
{
	struct upd *u = arg;
	(void)d;
	cache_settle(u, 1);
	if (u->parked) {
		u->parked = 0; /* upd_done() has no one to wake */
		dest_wake(u->job->s, u->park_key);
	}
}

/* A token no other update of any entry carries: a random start, then
 * counted (the scheduler's loop only). Never 0, which means none. */
static uint64_t upd_token(void)
{
	static uint64_t next;

	while (next == 0 && random_bytes(&next, sizeof next) != 0)
		fatal("queue: no random octets for update tokens");
	if (++next == 0)
		next = 1;
	return next;
}

static void upd_submit(struct job *j, struct upd *u)
{
	u->job = j;
	u->id = j->e.id;
	u->d.loop = j->s->loop;
	u->d.done = upd_done;
	u->d.applied = upd_applied;
	u->d.arg = u;
	u->d.txn_hook = upd_hook;
	u->d.txn_once = upd_once;
	u->d.hook_arg = u;
	u->token = upd_token();
	u->d.keep_always = 1; /* a full disk must not lose what was sent */
	u->d.received_at = time_wall();
	u->seq = j->upd_seq++;
	j->store_pending++;
	if (j->upd_busy || j->held) /* after the one before it (see upd_hold) */
		held_insert(j, u);
	else
		upd_send(j, u);
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	struct job **pp;
	for (pp = &j->s->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	for (size_t g = 0; g < j->ngroups; g++)
		free(j->groups[g].idx);
	free(j->groups);
	free(j->crcpts);
	free(j->tried);
	free(j->tlsa);
	free(j->data);
	free(j->data7);
	active_bytes -= j->len + j->len7;
	store_queue_entry_free(&j->e);
	free(j);
	atomic_fetch_sub(&active_jobs, 1);
}

static void job_maybe_free(struct job *j)
{
	if (j->finished && j->store_pending == 0 && j->conv != CONV_RUNNING) {
		job_free(j);
		/* A slot is free: take the next due entry now, not at the next tick. */
		queue_sched_kick();
	}
}

static int wants_notice(const struct store_queue_entry *e, const struct store_queue_rcpt *r,
			uint8_t bit)
{
	if (e->sender[0] == '\0' || (r->notify & SQ_NOTIFY_NEVER))
		return 0;
	if (r->notify == 0) /* not given: failures and delays (RFC 3461 §4.1) */
		return bit == SQ_NOTIFY_FAILURE || bit == SQ_NOTIFY_DELAY;
	return (r->notify & bit) != 0;
}

/* Whether a recipient's new state needs no (further) notice. */
static uint8_t notice_done(const struct store_queue_entry *e, const struct store_queue_rcpt *r,
			   uint8_t state, int remote_dsn)
{
	if (state == SQ_FAILED)
		return !wants_notice(e, r, SQ_NOTIFY_FAILURE);
	if (state == SQ_SENT)
		return remote_dsn || !wants_notice(e, r, SQ_NOTIFY_SUCCESS);
	return 0;
}

static void start_group(struct job *j);

static const char *dest_key(const struct job *j)
{
	return j->s->relay_host[0] ? "" : j->groups[j->cur].domain;
}

static struct dead *dead_find(const char *key, int64_t now)
{
	for (size_t i = 0; i < DEAD_MAX; i++)
		if (dead[i].until > now && strcmp(dead[i].key, key) == 0)
			return &dead[i];
	return NULL;
}

/* Notes that no host of the job's destination answered (why: the last). */
static void dead_mark(const struct job *j, const char *why)
{
	int64_t now = time_wall(), in = j->s->retry[0] < DEAD_S ? j->s->retry[0] : DEAD_S;
	struct dead *d = dead_find(dest_key(j), now);
	for (size_t i = 0; !d && i < DEAD_MAX; i++)
		if (dead[i].until <= now)
			d = &dead[i];
	if (!d) { /* full: the one ending first goes */
		d = &dead[0];
		for (size_t i = 1; i < DEAD_MAX; i++)
			if (dead[i].until < d->until)
				d = &dead[i];
	}
	snprintf(d->key, sizeof d->key, "%s", dest_key(j));
	snprintf(d->why, sizeof d->why, "%s", why);
	d->since = now;
	d->until = now + in;
}

static void dead_clear(const char *key)
{
	struct dead *d = dead_find(key, time_wall());
	if (d)
		d->until = 0;
}

/* Sessions to key in use: jobs' and kept ones not settled. */
static unsigned dest_active(const struct sched *s, const char *key)
{
	unsigned n = 0;
	for (const struct job *j = s->jobs; j; j = j->next)
		if (j->dest_busy && strcmp(dest_key(j), key) == 0)
			n++;
	for (size_t i = 0; i < CACHE_MAX; i++)
		if (cache[i].c && cache[i].unsettled && strcmp(cache[i].key, key) == 0)
			n++;
	return n;
}

/* A slot for key may have come free: the oldest job waiting for one goes
 * on (with a kept session, if one is settled). */
static void dest_wake(struct sched *s, const char *key)
{
	if (s->stopping)
		return;
	struct job *w = NULL;
	for (struct job *x = s->jobs; x; x = x->next)
		if (x->waiting && strcmp(dest_key(x), key) == 0)
			w = x; /* the list is newest first: keep the last match */
	if (w && dest_active(s, key) < DEST_MAX) {
		w->waiting = 0;
		start_group(w);
	}
}

static void next_group(struct job *j)
{
	struct sched *s = j->s;
	char key[256];

	snprintf(key, sizeof key, "%s", dest_key(j));
	j->dest_busy = 0;
	j->cur++;
	start_group(j);
	dest_wake(s, key);
}

/* Records the group's verdicts in the job and commits them; with
 * decided_only, not those of recipients going to another host. Returns
 * the update (the job's until its upd_done()). */
static struct upd *commit_group(struct job *j, int remote_dsn, const char *remote,
				int decided_only)
{
	struct group *g = &j->groups[j->cur];
	struct upd *u = xcalloc(1, sizeof *u);
	u->r = xcalloc(g->n, sizeof *u->r);
	for (size_t i = 0; i < g->n; i++) {
		struct store_queue_rcpt *q = &j->e.rcpts[g->idx[i]];
		struct smtp_client_rcpt *c = &j->crcpts[i];
		if (decided_only && c->verdict == SQ_PENDING && c->elsewhere)
			continue;
		q->state = c->verdict;
		q->dsn_done = notice_done(&j->e, q, c->verdict, remote_dsn);
		if (!j->skipped)
			j->tried[g->idx[i]] = time_wall();
		free(q->status);
		free(q->remote);
		q->status = xstrdup(c->status);
		q->remote = xstrdup(remote ? remote : "");
		u->r[u->nr++] = (struct upd_rcpt){g->idx[i], q->state, q->dsn_done,
						  xstrdup(q->status), xstrdup(q->remote)};
		char qa[2 * SQ_ADDR_MAX + 8], qs[2 * SQ_STATUS_MAX + 8];
		metrics_inc(c->verdict == SQ_SENT     ? METRIC_DELIVERED
			    : c->verdict == SQ_FAILED ? METRIC_BOUNCED
						  : METRIC_DEFERRED);
		/* Before a host answered (no route, connection refused) the
		 * relay host is still where the mail was going. */
		char via[sizeof j->s->relay_host + 8];
		if (remote && *remote)
			snprintf(via, sizeof via, "%s", remote);
		else if (g->local)
			snprintf(via, sizeof via, "local");
		else if (j->s->relay_host[0])
			snprintf(via, sizeof via, "%.*s:%u", (int)sizeof j->s->relay_host - 1,
				 j->s->relay_host, j->s->relay_port);
		else
			snprintf(via, sizeof via, "none");
		char qv[2 * sizeof via + 3]; /* remote: the MX's name, from DNS */
		log_info("queue", NULL, "event=%s id=%llu rcpt=%s relay=%s status=%s",
			 c->verdict == SQ_SENT ? "sent" : c->verdict == SQ_FAILED ? "bounced" : "deferred",
			 (unsigned long long)j->e.id, log_q(q->addr, qa, sizeof qa),
			 log_q(via, qv, sizeof qv), log_q(c->status, qs, sizeof qs));
	}
	upd_submit(j, u);
	return u;
}

/* The whole group gets one outcome: one without talking to anyone, or
 * the reply of the last host that ended its session (remote: its name). */
static void group_outcome(struct job *j, uint8_t verdict, const char *status, const char *remote)
{
	struct group *g = &j->groups[j->cur];
	for (size_t i = 0; i < g->n; i++) {
		j->crcpts[i].verdict = verdict;
		snprintf(j->crcpts[i].status, sizeof j->crcpts[i].status, "%s", status);
	}
	(void)commit_group(j, 0, remote, 0);
	next_group(j);
}

static void try_addr(struct job *j);
static void route_group(struct job *j);
static int sts_filter(struct job *j);
static int tls_policy_skipped(const struct job *j);

/* The policy the current group's current host runs under, for TLS-RPT. */
static struct queue_tlsrpt_pol tlsrpt_pol(const struct job *j)
{
	struct queue_tlsrpt_pol p = {.domain = j->groups[j->cur].domain, .sts = &j->sts,
				     .sts_failed = j->sts_failed};
	if (j->s->relay_host[0])
		/* The relay host is where TLS is verified: its name is the
		 * policy domain (no policy: no-policy-found). */
		p.domain = j->s->relay_host;
	if (j->dane != DANE_NONE) {
		p.dane = 1;
		p.tlsa = j->tlsa;
		p.ntlsa = j->ntlsa;
	}
	return p;
}

/*
 * Counts the session that just ended for TLS-RPT (RFC 8460), once per
 * session and once more for each later message on a kept one (the row
 * it counted, replayed). Nothing for a session that ended before its TLS
 * outcome was known, and nothing more for the retries that follow a
 * counted failure on the same address (unverified under a testing
 * policy, plaintext after a failed STARTTLS): the failure stands for
 * them, and is what their kept sessions replay.
 */
static void tlsrpt_count(struct job *j, enum smtp_client_result res)
{
	/* A message that said "TLS-Required: No" went around the domain's
	 * MTA-STS and DANE policy: its session tells nothing about them
	 * (it read as a no-policy-found one). TLS-RPT reports are such
	 * messages (report/tlsrpt_send.h), and RFC 8460 §5.3 says their
	 * sessions "SHOULD NOT" be in the next report. */
	if (tls_policy_skipped(j))
		return;
	if (j->reused) {
		if (res != SMTPC_NEXT)
			queue_tlsrpt_replay(&j->tr_row);
		return;
	}
	if (j->verify_retry || j->cmsg.tls_outcome == SMTPC_TLS_SKIPPED)
		return;
	struct queue_tlsrpt_pol p = tlsrpt_pol(j);
	const struct dns_addr *a = &j->addrs[j->cur_addr];
	p.sending_ip = j->cmsg.local_ip;
	int relay = j->s->relay_host[0] != '\0';
	if (!relay && j->dane == DANE_NONE && j->cmsg.tls_outcome != SMTPC_TLS_UNKNOWN) {
		/* Policy failures stand for the session (§4.3.2): a host a
		 * testing policy does not name (once: sts_filter() counts only
		 * under enforce, where the host gets no session), or a policy
		 * that could not be had, reported with the host it concerned. */
		if (j->sts.mode == MTA_STS_TESTING && !mta_sts_mx_match(&j->sts, a->host)) {
			queue_tlsrpt_failure(&p, TLSRPT_VALIDATION_FAILURE, a->host, &a->sa,
					     "MX host not in the MTA-STS policy", &j->tr_row);
			return;
		}
		if (j->sts_failed) {
			queue_tlsrpt_failure(&p, j->sts_fail.result, a->host, &a->sa, j->sts_fail.info,
					     &j->tr_row);
			return;
		}
	}
	if (j->dane == DANE_TLS && j->cmsg.tls_outcome == SMTPC_TLS_OK)
		/* Encrypted, but by no usable record (RFC 7672 §2.2). */
		queue_tlsrpt_failure(&p, TLSRPT_TLSA_INVALID, a->host, &a->sa,
				     "no usable TLSA record", &j->tr_row);
	else
		queue_tlsrpt_session(&p, a->host, &a->sa, j->cmsg.tls_outcome, j->cmsg.tls_err,
				     &j->tr_row);
}

static void cache_gone(void *arg)
{
	struct cached *slot = arg;
	slot->c = NULL;
	/* Its update's upd_applied() or upd_done() wakes who waits. */
	slot->unsettled = NULL;
}

/* Whether the message goes to a domain's MX hosts without the domain's
 * MTA-STS and DANE checks: it said "TLS-Required: No" (RFC 8689 §5). The
 * relay's checks are the relay's settings, never skipped. */
static int tls_policy_skipped(const struct job *j)
{
	return !j->s->relay_host[0] &&
	       (j->e.flags & (SQ_TLS_OPTIONAL | SQ_REQUIRETLS)) == SQ_TLS_OPTIONAL;
}

/* Parks the job's session for the next message to the same destination,
 * unsettled until u (the update of the message it carried, NULL when
 * none) is committed (upd_applied). The cache holds only sessions opened
 * under the destination's policy: the next message takes one before its
 * own policy is looked up, so a session that skipped the checks is not
 * kept. */
static void cache_put(struct job *j, struct smtp_client *c, struct upd *u)
{
	const char *key = dest_key(j);
	if (tls_policy_skipped(j))
		return; /* the session quits when done() returns */
	for (size_t i = 0; i < CACHE_MAX; i++) {
		if (cache[i].c)
			continue;
		if (smtp_client_park(c, IDLE_S, cache_gone, &cache[i]) < 0)
			return;
		snprintf(cache[i].key, sizeof cache[i].key, "%s", key);
		cache[i].addr = j->addrs[j->cur_addr];
		cache[i].row = j->tr_row;
		cache[i].c = c;
		cache[i].unsettled = u;
		if (u) {
			u->parked = 1;
			snprintf(u->park_key, sizeof u->park_key, "%s", key);
		}
		return;
	}
	/* Full: the session quits when done() returns. */
}

/* u's commit is written (upd_applied) or over (upd_done, held_drop): its
 * kept session may carry the next message, or, when u was not committed,
 * quits (what it carried will be sent again). */
static void cache_settle(const struct upd *u, int committed)
{
	for (size_t i = 0; i < CACHE_MAX; i++) {
		if (!cache[i].c || cache[i].unsettled != u)
			continue;
		cache[i].unsettled = NULL;
		if (!committed) {
			struct smtp_client *c = cache[i].c;
			cache[i].c = NULL;
			smtp_client_abort(c);
		}
	}
}

static struct cached *cache_take(const char *key)
{
	for (size_t i = 0; i < CACHE_MAX; i++)
		if (cache[i].c && !cache[i].unsettled && strcmp(cache[i].key, key) == 0)
			return &cache[i];
	return NULL;
}

/*
 * After a host's verdicts: the recipients it put off at RCPT (a 4xx while
 * the session went on, smtp_client_rcpt.elsewhere) go to the next address
 * in this attempt, as Postfix keeps a soft-failed recipient for a backup
 * host while one is left; within MX_SESSIONS_MAX sessions
 * (smtp_mx_session_limit). The others' verdicts are committed now and
 * the group goes on with the put-off ones alone (never sent twice: they
 * were not taken). A kept session is one connection among the
 * destination's, opened for an earlier message with no MX list at hand:
 * its put-off ones get a fresh lookup and connection (Postfix goes on
 * from a cached session that failed recipients softly the same way),
 * once: that attempt is an ordinary one. The last host leaves them
 * deferred. Returns 1 when the group went on.
 */
static int rest_to_next_host(struct job *j, struct smtp_client *c)
{
	struct sched *s = j->s;
	struct group *g = &j->groups[j->cur];
	size_t k = 0, first = g->n;
	for (size_t i = 0; i < g->n; i++)
		if (j->crcpts[i].verdict == SQ_PENDING && j->crcpts[i].elsewhere && k++ == 0)
			first = i;
	if (k == 0 || s->stopping || s->quiescing ||
	    (!j->reused && (j->cur_addr + 1 >= j->naddrs || j->sessions + 1 >= MX_SESSIONS_MAX)))
		return 0;
	const char *host = j->addrs[j->cur_addr].host;
	struct upd *u = k < g->n ? commit_group(j, j->cmsg.remote_dsn, host, 1) : NULL;
	snprintf(j->last_why, sizeof j->last_why, "%s", j->crcpts[first].status);
	snprintf(j->last_host, sizeof j->last_host, "%s", host);
	char qh[HOST_Q];
	/* From a kept session: a new lookup and connection, from the first host on. */
	log_info("queue", NULL, "event=%s id=%llu host=%s rcpts=%zu",
		 j->reused ? "rcpts_to_new_session" : "rcpts_to_next_host",
		 (unsigned long long)j->e.id, log_q(host, qh, sizeof qh), k);
	k = 0;
	for (size_t i = 0; i < g->n; i++)
		if (j->crcpts[i].verdict == SQ_PENDING && j->crcpts[i].elsewhere) {
			g->idx[k] = g->idx[i];
			j->crcpts[k++] = j->crcpts[i];
		}
	g->n = j->cmsg.nrcpts = k;
	if (c)
		cache_put(j, c, u); /* clean for another message to this destination */
	if (j->reused) {
		j->reused = 0;
		route_group(j);
		return 1;
	}
	j->last_refused = 0;
	j->answered = 1;
	j->sessions++;
	j->cur_addr++;
	try_addr(j);
	return 1;
}

/*
 * The host answered EHLO with our own name (smtp_client.h's loops_back):
 * at a best exchanger (or the relay host) the mail would loop, and its
 * recipients fail with 5.4.6 as when the MX list names us (drop_self);
 * behind a better one the session's 4.4.6 stands for this host and the
 * next is tried, as Postfix decides between 5.4.6 and 4.4.6. 1 when the
 * recipients failed.
 */
static int ehlo_loops_back(struct job *j)
{
	const struct dns_addr *a = &j->addrs[j->cur_addr];
	const char *dom = j->groups[j->cur].domain;
	char qh[HOST_Q];
	log_warn("queue", NULL, "event=ehlo_loops_back id=%llu domain=%s host=%s",
		 (unsigned long long)j->e.id, dom, log_q(a->host, qh, sizeof qh));
	if (a->pref > j->addrs[0].pref)
		return 0;
	char status[SQ_STATUS_MAX];
	snprintf(status, sizeof status, "5.4.6 mail for %s loops back to myself",
		 j->s->relay_host[0] ? j->s->relay_host : dom);
	group_outcome(j, SQ_FAILED, status, "");
	return 1;
}

static void client_done(void *arg, enum smtp_client_result res, const char *why)
{
	struct job *j = arg;
	struct smtp_client *c = j->client;
	job_client(j, NULL);
	tlsrpt_count(j, res);
	if (res == SMTPC_NEXT && j->cmsg.loops_back && ehlo_loops_back(j))
		return;
	if (res == SMTPC_NEXT && j->reused) {
		/* A kept session failed (the remote timed it out): start over
		 * with a lookup and a new connection. */
		j->reused = 0;
		route_group(j);
		return;
	}
	if (res == SMTPC_NEXT && j->sts.mode == MTA_STS_TESTING && !j->verify_retry &&
	    j->dane == DANE_NONE && !(j->e.flags & SQ_REQUIRETLS) &&
	    strncmp(why, "4.7.5 ", 6) == 0) {
		/* A testing policy only reports (RFC 8461 §5): note the failure,
		 * then deliver as without a policy. */
		char qw[2 * SQ_STATUS_MAX + 8], qh[HOST_Q];
		log_warn("queue", NULL,
			 "event=mta_sts_failure mode=testing id=%llu domain=%s host=%s why=%s",
			 (unsigned long long)j->e.id, j->groups[j->cur].domain,
			 log_q(j->addrs[j->cur_addr].host, qh, sizeof qh), log_q(why, qw, sizeof qw));
		j->verify_retry = 1;
		try_addr(j);
		return;
	}
	if (res == SMTPC_NEXT && !j->plain_retry && !j->s->relay_host[0] &&
	    j->sts.mode != MTA_STS_ENFORCE && j->dane == DANE_NONE &&
	    !(j->e.flags & SQ_REQUIRETLS) && j->cmsg.tls_outcome == SMTPC_TLS_FAILED) {
		/* Opportunistic TLS (Postfix's "may"): a remote whose STARTTLS
		 * fails still gets the mail in plaintext, on a new connection.
		 * Decided by the session's TLS outcome, never by the words of
		 * the failure: a remote's "451 4.7.0 TLS ..." to MAIL, after a
		 * good handshake, had the mail sent again without TLS. */
		char qw[2 * SQ_STATUS_MAX + 8], qh[HOST_Q];
		log_info("queue", NULL, "event=tls_fallback_plaintext id=%llu host=%s why=%s",
			 (unsigned long long)j->e.id, log_q(j->addrs[j->cur_addr].host, qh, sizeof qh),
			 log_q(why, qw, sizeof qw));
		j->plain_retry = 1;
		try_addr(j);
		return;
	}
	j->plain_retry = 0;
	j->verify_retry = 0;
	if (res == SMTPC_NEXT) {
		snprintf(j->last_why, sizeof j->last_why, "%s", why);
		snprintf(j->last_host, sizeof j->last_host, "%s", j->addrs[j->cur_addr].host);
		j->last_refused = j->cmsg.refused_5xx;
		j->sessions += j->cmsg.session_up != 0;
		char qw[2 * SQ_STATUS_MAX + 8], qh[HOST_Q];
		log_info("queue", NULL, "event=attempt_failed id=%llu host=%s why=%s",
			 (unsigned long long)j->e.id, log_q(j->addrs[j->cur_addr].host, qh, sizeof qh),
			 log_q(why, qw, sizeof qw));
		if (j->s->relay_host[0] && strncmp(why, "4.7.5 ", 6) == 0)
			log_warn("queue", NULL,
				 "event=relay_tls_unverified host=%s why=%s hint=\"nothing was sent; "
				 "a private CA goes in TERN_TLS_CA_FILE, TERN_RELAY_TLS_VERIFY=off "
				 "turns the check off\"",
				 log_q(j->addrs[j->cur_addr].host, qh, sizeof qh),
				 log_q(why, qw, sizeof qw));
		j->cur_addr++;
		try_addr(j);
		return;
	}
	dead_clear(dest_key(j)); /* a host answered */
	if (rest_to_next_host(j, c))
		return;
	struct upd *u = commit_group(j, j->cmsg.remote_dsn, j->addrs[j->cur_addr].host, 0);
	if (c && !j->s->stopping && !j->s->quiescing)
		cache_put(j, c, u); /* (stopping: it says QUIT now) */
	next_group(j);
}

static void try_addr_go(struct job *j);

static void dane_tlsa_done(void *arg, const struct dns_answer *a)
{
	struct job *j = arg;
	j->dane_q = NULL;
	j->ntlsa = 0;
	if (a->status == DNS_ANS_TEMP) {
		/* §2.2.1: a secure host whose TLSA records cannot be read is not used. */
		j->dane = DANE_FAIL;
	} else if (a->status == DNS_ANS_OK && a->ad) {
		/* Every usable record is kept (RFC 7672 sets no limit; a cut
		 * would refuse a server matching only a later one), up to
		 * DANE_TLSA_MAX: a 64 KiB answer holds thousands of records,
		 * each a KiB kept here. More is no TLSA set anyone publishes:
		 * the host is skipped, as when the lookup fails. */
		size_t nrec = 0, usable = 0;
		struct tlsa_rec one;
		for (size_t i = 0; i < a->nrr; i++) {
			if (a->rr[i].type != DNS_T_TLSA)
				continue;
			nrec++;
			usable += tlsa_rdata_parse(a->data + a->rr[i].off, a->rr[i].len, &one) == 0 &&
				  tlsa_usable(&one);
		}
		free(j->tlsa);
		j->tlsa = NULL;
		if (usable > DANE_TLSA_MAX) {
			j->dane = DANE_FAIL;
			char qh[HOST_Q];
			log_warn("queue", NULL, "event=dane_too_many id=%llu host=%s records=%zu max=%d",
				 (unsigned long long)j->e.id, log_q(j->dane_host, qh, sizeof qh), usable,
				 DANE_TLSA_MAX);
		} else {
			j->tlsa = usable ? xcalloc(usable, sizeof *j->tlsa) : NULL;
			for (size_t i = 0; i < a->nrr && j->ntlsa < usable; i++) {
				if (a->rr[i].type != DNS_T_TLSA)
					continue;
				if (tlsa_rdata_parse(a->data + a->rr[i].off, a->rr[i].len,
						     &j->tlsa[j->ntlsa]) == 0 &&
				    tlsa_usable(&j->tlsa[j->ntlsa]))
					j->ntlsa++;
			}
			/* RFC 7671 §9: a weaker digest beside a stronger one for
			 * the same usage and selector is not trusted. */
			j->ntlsa = tlsa_strongest(j->tlsa, j->ntlsa);
			j->dane = j->ntlsa ? DANE_VERIFY : nrec ? DANE_TLS : DANE_NONE;
		}
	}
	char qh[HOST_Q], qb[HOST_Q];
	if (j->dane != DANE_NONE)
		log_info("queue", NULL, "event=dane id=%llu host=%s%s%s state=%s records=%zu",
			 (unsigned long long)j->e.id, log_q(j->dane_host, qh, sizeof qh),
			 j->dane_base[0] ? " base=" : "",
			 j->dane_base[0] ? log_q(j->dane_base, qb, sizeof qb) : "",
			 j->dane == DANE_VERIFY ? "verify" : j->dane == DANE_TLS ? "tls_only" : "lookup_failed",
			 j->ntlsa);
	try_addr_go(j);
}

/* The TLSA records of the host's own name (dane_host). */
static void dane_tlsa_host(struct job *j)
{
	char name[300];
	j->dane_base[0] = '\0';
	snprintf(name, sizeof name, "_25._tcp.%s", j->dane_host);
	struct dns_query *q = dns_query(j->s->dns, name, DNS_T_TLSA, dane_tlsa_done, j);
	if (q)
		j->dane_q = q;
}

/* The answer at the CNAME-expanded name: secure records there are the
 * host's; none there (NXDOMAIN, NODATA) or only unsigned ones (RFC 7672
 * §2.2.2: an insecure TLSA RRset at the expanded name is as none, and
 * the initial name is tried, as Postfix does), the host's own name is
 * asked. */
static void dane_tlsa_base_done(void *arg, const struct dns_answer *a)
{
	struct job *j = arg;
	j->dane_q = NULL;
	if (a->status == DNS_ANS_NXDOMAIN || a->status == DNS_ANS_NODATA ||
	    (a->status == DNS_ANS_OK && !a->ad)) {
		dane_tlsa_host(j);
		return;
	}
	dane_tlsa_done(arg, a);
}

/* Logs the DANE state of the job's host, known before its TLSA records. */
static void dane_state(const struct job *j, const char *state)
{
	char qh[HOST_Q];
	log_info("queue", NULL, "event=dane id=%llu host=%s state=%s", (unsigned long long)j->e.id,
		 log_q(j->dane_host, qh, sizeof qh), state);
}

/* The MX host's own CNAME record, its address answer not validated: a
 * validated first link still makes the host secure (RFC 7672 §2.2.2),
 * its TLSA records then asked for at its own name. */
static void dane_cname_done(void *arg, const struct dns_answer *a)
{
	struct job *j = arg;
	j->dane_q = NULL;
	int secure = 0;
	for (size_t i = 0; a->ad && a->status == DNS_ANS_OK && i < a->nrr; i++)
		secure |= a->rr[i].type == DNS_T_CNAME;
	if (!secure) {
		dane_state(j, "insecure_address");
		try_addr_go(j);
		return;
	}
	dane_state(j, "secure_alias_insecure_target");
	dane_tlsa_host(j);
}

static void dane_addr_done(void *arg, const struct dns_answer *a)
{
	struct job *j = arg;
	j->dane_q = NULL;
	if (!a->ad && a->status == DNS_ANS_OK && a->cname[0]) {
		/* An alias whose chain is not validated end to end: is its
		 * first link (the MX host's own CNAME) validated? */
		struct dns_query *q = dns_query(j->s->dns, j->dane_host, DNS_T_CNAME,
						dane_cname_done, j);
		if (q)
			j->dane_q = q;
		return;
	}
	if (!a->ad || a->status != DNS_ANS_OK) {
		dane_state(j, "insecure_address");
		try_addr_go(j);
		return;
	}
	char base[256];
	if (a->cname[0] && dns_name_canon(a->cname, base, sizeof base) == 0 &&
	    strcasecmp(base, j->dane_host) != 0) {
		/* RFC 7672 §2.2.2: the host name is an alias, validated with
		 * every hop (AD): the TLSA records are looked for first at the
		 * name it expands to, then at its own. */
		char name[300];
		snprintf(j->dane_base, sizeof j->dane_base, "%s", base);
		snprintf(name, sizeof name, "_25._tcp.%s", base);
		struct dns_query *q = dns_query(j->s->dns, name, DNS_T_TLSA, dane_tlsa_base_done, j);
		if (q)
			j->dane_q = q;
		return;
	}
	dane_tlsa_host(j);
}

static void dane_mx_done(void *arg, const struct dns_answer *a)
{
	struct job *j = arg;
	j->dane_q = NULL;
	/* §2.2.2: only a DNSSEC-validated MX RRset (or, without MX records,
	 * a validated denial) makes its host names safe to look TLSA up for. */
	if (!a->ad || a->status == DNS_ANS_TEMP) {
		try_addr_go(j);
		return;
	}
	/* §2.2.2 and RFC 6698 §4: the host's address records must be secure
	 * too, or its TLSA records are not looked up (an attacker who can
	 * fake the address could then serve TLSA-less insecurity anyway; a
	 * validated TLSA RRset on an unsigned address proves nothing). */
	uint16_t t = j->addrs[j->cur_addr].sa.ss_family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
	struct dns_query *q = dns_query(j->s->dns, j->dane_host, t, dane_addr_done, j);
	if (q)
		j->dane_q = q;
}

/* Delivery to the current address, after its host's DANE state is known. */
static void try_addr(struct job *j)
{
	struct sched *s = j->s;
	if (s->stopping)
		return;
	if (j->cur_addr >= j->naddrs || j->sessions >= MX_SESSIONS_MAX) {
		/* Every address was tried, or MX_SESSIONS_MAX hosts talked
		 * and failed. When no host answered (4.4.x: refused, timed
		 * out, cut off), that holds for the next message to the
		 * destination too; not a reason of this message's
		 * (REQUIRETLS, a TLS policy). */
		if (j->naddrs && !j->answered && strncmp(j->last_why, "4.4.", 4) == 0)
			dead_mark(j, j->last_why);
		/* REQUIRETLS could use none of the hosts: that will not change
		 * by waiting (RFC 8689 §5), the message fails now. So does one
		 * whose last host refused us with a 5xx greeting or HELO reply
		 * ("554 no SMTP service here", RFC 7504's "521 does not accept
		 * mail"): waiting five days would not change it either
		 * (Postfix bounces then with smtp_skip_5xx_greeting=no; its
		 * default defers, with a 4.x.x status). */
		int failed = j->naddrs && (j->rtls_skipped == j->naddrs || j->last_refused);
		/* A host's reply ended the last session: it said it. */
		group_outcome(j, failed ? SQ_FAILED : SQ_PENDING,
			      j->last_why[0] ? j->last_why : "4.4.1 no host answered",
			      smtp_status_is_reply(j->last_why) ? j->last_host : "");
		return;
	}
	const char *host = j->addrs[j->cur_addr].host;
	if (s->dane && !s->relay_host[0] && j->groups[j->cur].domain[0] != '[' &&
	    strcmp(j->dane_host, host) != 0 && !tls_policy_skipped(j)) {
		snprintf(j->dane_host, sizeof j->dane_host, "%s", host);
		j->dane_base[0] = '\0';
		snprintf(j->dane_why, sizeof j->dane_why, "the DANE TLSA records of %s", host);
		j->dane = DANE_NONE;
		j->ntlsa = 0;
		struct dns_query *q =
		    dns_query(s->dns, j->groups[j->cur].domain, DNS_T_MX, dane_mx_done, j);
		if (q)
			j->dane_q = q;
		return;
	}
	try_addr_go(j);
}

/*
 * REQUIRETLS (RFC 8689 §5): the next hop must be authenticated by DANE
 * or an MTA-STS policy (enforce or testing, its MX list matched), or be
 * the verified relay host; TLS is then required and verified. -1 when
 * this address cannot be used (the job has moved on).
 */
static int requiretls_check(struct job *j, struct smtp_client_cfg *cfg)
{
	struct sched *s = j->s;
	const char *host = j->addrs[j->cur_addr].host;
	if (!(j->e.flags & SQ_REQUIRETLS))
		return 0;
	int ok = s->relay_host[0] ? s->relay_tls_verify
				  : j->dane == DANE_VERIFY ||
					(j->sts.mode != MTA_STS_NONE && mta_sts_mx_match(&j->sts, host));
	if (!ok) {
		j->last_refused = 0;
		snprintf(j->last_why, sizeof j->last_why,
			 s->relay_host[0]
			     ? "5.7.10 REQUIRETLS: the relay host %s is not verified (TERN_RELAY_TLS_VERIFY=off)"
			     : "5.7.10 REQUIRETLS: %s is covered by no MTA-STS policy or DANE TLSA records",
			 host);
		if (!s->relay_host[0] && j->sts.mode == MTA_STS_NONE) {
			/* RFC 8460 §4.3.2.1 dane-required: the message requires
			 * DANE here (no MTA-STS policy could cover the host) and
			 * the host has no DNSSEC-validated usable TLSA records. */
			struct queue_tlsrpt_pol p = tlsrpt_pol(j);
			queue_tlsrpt_failure(&p, TLSRPT_DANE_REQUIRED, host, &j->addrs[j->cur_addr].sa,
					     "REQUIRETLS: no DNSSEC-validated TLSA records", NULL);
		}
		j->rtls_skipped++;
		j->cur_addr++;
		try_addr(j);
		return -1;
	}
	cfg->require_tls = 1;
	cfg->verify_tls = 1;
	if (!cfg->require_why)
		cfg->require_why = "REQUIRETLS";
	return 0;
}

static void try_addr_go(struct job *j)
{
	struct sched *s = j->s;
	/* Quiescing: no new connection; the job waits for the stop, which
	 * leaves the group due as it is. */
	if (s->stopping || s->quiescing)
		return;
	if (j->dane == DANE_FAIL && !s->relay_host[0]) {
		snprintf(j->last_why, sizeof j->last_why, "4.7.5 TLSA lookup for %s failed (DANE)",
			 j->addrs[j->cur_addr].host);
		j->last_refused = 0;
		struct queue_tlsrpt_pol p = tlsrpt_pol(j);
		queue_tlsrpt_failure(&p, TLSRPT_DNSSEC_INVALID, j->addrs[j->cur_addr].host,
				     &j->addrs[j->cur_addr].sa, "the TLSA lookup failed", NULL);
		j->cur_addr++;
		try_addr(j);
		return;
	}
	struct smtp_client_cfg cfg = {
	    .helo = hostname_now(),
	    .server_name = j->addrs[j->cur_addr].host,
	    .connect_timeout_s = CONNECT_TIMEOUT_S < s->timeout_s ? CONNECT_TIMEOUT_S : s->timeout_s,
	    .timeout_s = s->timeout_s,
	};
	cfg.no_starttls = j->plain_retry;
	if (s->relay_host[0]) {
		cfg.implicit_tls = s->relay_port == 465;
		cfg.require_tls = 1;
		cfg.auth_user = s->relay_user;
		cfg.auth_pass = s->relay_pass;
		/* The relay gets the account's password: its certificate must
		 * chain to a trusted root and carry its name (issue 30). */
		cfg.verify_tls = s->relay_tls_verify;
		cfg.auth_unverified_ok = !s->relay_tls_verify;
	} else if (j->sts.mode == MTA_STS_ENFORCE) {
		/* RFC 8461 §4.2: TLS, a certificate chaining to a trusted root
		 * and valid for the MX host's name, or nothing is sent. */
		cfg.require_tls = 1;
		cfg.verify_tls = 1;
		cfg.require_why = j->sts_why;
	} else if (j->sts.mode == MTA_STS_TESTING && !j->verify_retry && !j->plain_retry) {
		cfg.verify_tls = 1; /* to report a failure; client_done() retries unverified */
	}
	if (requiretls_check(j, &cfg) < 0)
		return;
	if (!s->relay_host[0] && j->dane == DANE_VERIFY) {
		/* DANE beats MTA-STS (RFC 8461 §2): the records, not the roots. */
		cfg.require_tls = 1;
		cfg.verify_tls = 1;
		cfg.tlsa = j->tlsa;
		cfg.ntlsa = j->ntlsa;
		cfg.require_why = j->dane_why;
		/* Records found at the CNAME-expanded name: that name is the
		 * SNI and the certificate's name (§3.2.2), the host's too. */
		if (j->dane_base[0])
			cfg.tls_name = j->dane_base;
	} else if (!s->relay_host[0] && j->dane == DANE_TLS) {
		cfg.require_tls = 1; /* RFC 7672 §2.2: encrypted, not authenticated */
		cfg.require_why = j->dane_why;
	}
	struct group *g = &j->groups[j->cur];
	for (size_t i = 0; i < g->n; i++) {
		j->crcpts[i].verdict = SQ_PENDING;
		j->crcpts[i].elsewhere = 0;
		j->crcpts[i].status[0] = '\0';
	}
	j->cmsg.tls_outcome = SMTPC_TLS_UNKNOWN;
	j->cmsg.refused_5xx = 0;
	j->cmsg.loops_back = 0;
	j->cmsg.session_up = 0;
	j->cmsg.tls_err = 0;
	if (!j->plain_retry && !j->verify_retry)
		j->tr_row.set = 0; /* a new address: its own session counts */
	j->cmsg.local_ip[0] = '\0';
	/* A session that fails at once reports before returning (and may have
	 * moved the job on): keep only a session that is still running. */
	struct smtp_client *c = smtp_client_start(s->loop, &j->addrs[j->cur_addr], &cfg, &j->cmsg,
						  client_done, j);
	if (c)
		job_client(j, c);
}

/*
 * RFC 5321 §5.1: the MX hosts not better than ourselves go (queue_self.h).
 * When none is left the mail would come back to us: its recipients fail
 * (5.4.6, as Postfix says it) and -1 is returned.
 */
static int drop_self(struct job *j)
{
	int self = 0;
	const char *dom = j->groups[j->cur].domain;
	j->naddrs = queue_self_drop(j->addrs, j->naddrs, hostname_now(), &self);
	if (j->naddrs > 0)
		return 0;
	char status[SQ_STATUS_MAX];
	snprintf(status, sizeof status, "5.4.6 mail for %s loops back to myself", dom);
	log_warn("queue", NULL, "event=mx_loops_back id=%llu domain=%s", (unsigned long long)j->e.id,
		 dom);
	group_outcome(j, SQ_FAILED, status, "");
	return -1;
}

static void route_done(void *arg, enum dns_status st, const struct dns_addr *a, size_t n,
		       const char *why)
{
	struct job *j = arg;
	char status[SQ_STATUS_MAX];

	j->lookup = NULL;
	switch (st) {
	case DNS_OK:
		j->plain_retry = 0;
		j->verify_retry = 0;
		j->dane_host[0] = '\0';
		j->dane = DANE_NONE;
		j->rtls_skipped = 0;
		memcpy(j->addrs, a, n * sizeof *a);
		j->naddrs = n;
		if (!j->s->relay_host[0] && drop_self(j) < 0)
			return;
		if (sts_filter(j) < 0)
			return;
		if (j->naddrs > MX_ADDRS_MAX)
			j->naddrs = MX_ADDRS_MAX;
		j->cur_addr = 0;
		j->sessions = 0;
		j->answered = 0;
		j->last_why[0] = '\0';
		j->last_refused = 0;
		try_addr(j);
		return;
	case DNS_NULL_MX:
		snprintf(status, sizeof status, "5.1.10 %s", why);
		group_outcome(j, SQ_FAILED, status, "");
		return;
	case DNS_NOTFOUND:
		snprintf(status, sizeof status, "5.1.2 %s", why);
		group_outcome(j, SQ_FAILED, status, "");
		return;
	case DNS_TEMP:
		snprintf(status, sizeof status, "4.4.3 %s", why);
		group_outcome(j, SQ_PENDING, status, "");
		return;
	}
}

static void finish_job(struct job *j);

/*
 * RFC 8461 §4.1: with a policy, only MX hosts matching its mx patterns
 * may get the mail. enforce drops the others (none left: the group is
 * deferred, and bounces when the message expires); testing only logs.
 * 0 to go on, -1 when the group's outcome is already decided.
 */
static int sts_filter(struct job *j)
{
	if (j->s->relay_host[0] || j->sts.mode == MTA_STS_NONE)
		return 0;
	size_t kept = 0;
	for (size_t i = 0; i < j->naddrs; i++) {
		if (mta_sts_mx_match(&j->sts, j->addrs[i].host)) {
			j->addrs[kept++] = j->addrs[i];
			continue;
		}
		char qh[HOST_Q];
		log_warn("queue", NULL, "event=mta_sts_failure mode=%s id=%llu domain=%s host=%s "
			 "why=\"MX host not in the policy\"", mta_sts_mode_name(j->sts.mode),
			 (unsigned long long)j->e.id, j->groups[j->cur].domain,
			 log_q(j->addrs[i].host, qh, sizeof qh));
		struct queue_tlsrpt_pol p = {.domain = j->groups[j->cur].domain, .sts = &j->sts};
		if (j->sts.mode != MTA_STS_ENFORCE) {
			/* testing: the host is still tried; its session counts
			 * the failure (tlsrpt_count), once. */
			j->addrs[kept++] = j->addrs[i];
			continue;
		}
		queue_tlsrpt_failure(&p, TLSRPT_VALIDATION_FAILURE, j->addrs[i].host, &j->addrs[i].sa,
				     "MX host not in the MTA-STS policy", NULL);
	}
	j->naddrs = kept;
	if (kept)
		return 0;
	char status[SQ_STATUS_MAX];
	snprintf(status, sizeof status, "4.7.5 no MX host of %s matches its MTA-STS policy",
		 j->groups[j->cur].domain);
	group_outcome(j, SQ_PENDING, status, "");
	return -1;
}

/* ---- the 7-bit form (queue_7bit.h) ---- */

static void conv_run(void *arg)
{
	struct job *j = arg;
	/* QP takes 3 octets for one, and a soft break per 75; the new
	 * signatures and a MIME-Version field on top. */
	struct buf out;
	buf_init(&out, j->len / 2 * 7 + 64 * 1024);
	if (queue_to_7bit(j->s->st, j->data, j->len, &out, &j->resigned, &j->resealed) == 0) {
		j->len7 = buf_len(&out);
		j->data7 = xmalloc(j->len7 + 1);
		memcpy(j->data7, buf_data(&out), j->len7);
		j->data7[j->len7] = '\0';
	}
	buf_free(&out);
}

static int conv_result(struct job *j)
{
	if (j->conv == CONV_OK) {
		j->cmsg.data = j->data7;
		j->cmsg.len = j->len7;
		return 1;
	}
	return j->conv == CONV_RUNNING ? 0 : -1;
}

/* The form is made (or found impossible): counted and logged. */
static void conv_settle(struct job *j)
{
	j->conv = j->data7 ? CONV_OK : CONV_FAILED;
	active_bytes += j->len7;
	log_info("queue", NULL,
		 "event=converted_7bit id=%llu result=%s size=%zu size_7bit=%zu dkim_resigned=%u "
		 "arc_resealed=%u",
		 (unsigned long long)j->e.id, j->data7 ? "ok" : "no_7bit_form", j->len, j->len7,
		 j->resigned, j->resealed);
}

static void conv_done(void *arg)
{
	struct job *j = arg;
	conv_settle(j);
	if (j->finished) {
		job_maybe_free(j);
		return;
	}
	/* The session that asked may have ended meanwhile (the next one
	 * finds the form made), and the job may be sending another group
	 * from the message as it is: only a session waiting for the form
	 * takes it (smtp_client_converted asks conv_start again). */
	if (j->client)
		smtp_client_converted(j->client);
}

/* smtp_client_msg.to7bit: on the pool for a big message, else here. */
static int conv_start(void *arg)
{
	struct job *j = arg;
	if (j->conv == CONV_NONE) {
		j->conv = CONV_RUNNING;
		if (j->len > WORKER_MESSAGE_BYTES && worker_pool_running()) {
			j->conv_wj = (struct worker_job){.fn = conv_run, .done = conv_done, .arg = j, .loop = j->s->loop};
			worker_submit(&j->conv_wj);
			return 0;
		}
		conv_run(j);
		conv_settle(j);
	}
	return conv_result(j);
}

/* ---- recipients of ours ---- */

/* A local recipient's success status (build_notice: "delivered"). */
static const char LOCAL_DELIVERED[] = "2.0.0 Ok: delivered to mailbox";

/* The verdict of a local delivery, as a remote's reply would give it. */
static void local_verdict(struct smtp_client_rcpt *c, int result)
{
	uint8_t v = SQ_PENDING;
	const char *why;

	switch (result) {
	case STORE_OK:
		v = SQ_SENT;
		why = LOCAL_DELIVERED;
		break;
	case STORE_EQUOTA: /* the owner may make room: retried, as a 452 */
		why = "4.2.2 mailbox full";
		break;
	case STORE_ETOOBIG: /* no retry helps: bounced, as a 552 */
		v = SQ_FAILED;
		why = "5.2.2 message larger than the mailbox's quota";
		break;
	case STORE_EINVAL: /* its account went (queue_submit dropped it) */
		v = SQ_FAILED;
		why = "5.1.1 no such recipient here";
		break;
	case STORE_EFULL:
		why = "4.3.1 insufficient system storage";
		break;
	default:
		why = "4.3.0 local delivery failed for now";
		break;
	}
	c->verdict = v;
	snprintf(c->status, sizeof c->status, "%s", why);
}

/*
 * A local group (its one recipient: group_rcpts) is delivered here, as
 * queue_submit delivers submitted mail to our accounts (aliases, the
 * account's Sieve script unless the sender is null, as for notices), but
 * with the quota checked in the commit (QUEUE_QUOTA): a full mailbox is
 * a 4xx for the retry schedule, a message larger than the whole quota a
 * 5xx, and the verdict is committed as a remote's would be.
 */
static void local_done(struct queue_request *r, void *arg)
{
	struct job *j = arg;

	local_verdict(&j->crcpts[0], r->result);
	(void)commit_group(j, 0, "", 0);
	j->store_pending--;
	next_group(j); /* nothing more once stopping: the update frees the job */
}

static void local_send(struct job *j)
{
	const struct store_queue_entry *e = &j->e;
	const struct smtp_client_rcpt *c = &j->crcpts[0];

	j->lrcpt = (struct queue_rcpt){c->addr, c->orcpt[0] ? c->orcpt : NULL,
				       queue_notify_of(c->notify)};
	j->lreq = (struct queue_request){
	    .data = j->data, .len = j->len, .sender = e->sender,
	    .envid = e->envid[0] ? e->envid : NULL,
	    .flags = QUEUE_QUOTA | (e->sender[0] ? QUEUE_SIEVE : 0),
	    .rcpts = &j->lrcpt, .nrcpts = 1, .account = e->account,
	    .loop = j->s->loop, .done = local_done, .arg = j,
	};
	j->store_pending++;
	queue_submit(j->s->st, &j->lreq);
}

static void start_group(struct job *j)
{
	struct sched *s = j->s;
	if (s->stopping)
		return;
	j->skipped = 0;
	if (j->cur >= j->ngroups) {
		finish_job(j);
		return;
	}
	if (s->quiescing)
		return; /* the next group waits for the next start, still due */
	struct group *g = &j->groups[j->cur];
	free(j->crcpts);
	j->crcpts = xcalloc(g->n, sizeof *j->crcpts);
	for (size_t i = 0; i < g->n; i++) {
		struct store_queue_rcpt *q = &j->e.rcpts[g->idx[i]];
		j->crcpts[i].addr = q->addr;
		j->crcpts[i].orcpt = q->orcpt;
		j->crcpts[i].notify = q->notify;
	}
	if (g->unsure) {
		/* Not tried: no attempt date (as for a dead destination). */
		log_info("queue", NULL, "event=rcpt_unresolved id=%llu rcpts=%zu action=retry",
			 (unsigned long long)j->e.id, g->n);
		j->skipped = 1;
		group_outcome(j, SQ_PENDING, "4.3.0 temporary local error: recipient lookup failed", "");
		return;
	}
	if (g->local) {
		local_send(j);
		return;
	}
	j->sts.mode = MTA_STS_NONE; /* route_group() looks it up */
	j->sts_failed = 0;
	j->dane = DANE_NONE;
	j->dane_host[0] = '\0';
	j->cmsg = (struct smtp_client_msg){
	    .data = j->data, .len = j->len, .sender = j->e.sender, .envid = j->e.envid,
	    .flags = j->e.flags, .by_deadline = j->e.by_deadline, .priority = j->e.priority,
	    .rcpts = j->crcpts, .nrcpts = g->n,
	    .to7bit = conv_start, .to7bit_arg = j,
	};
	/* A kept session was not necessarily verified: REQUIRETLS opens its own. */
	struct cached *k = (j->e.flags & SQ_REQUIRETLS) ? NULL : cache_take(dest_key(j));
	struct dead *d = k ? NULL : dead_find(dest_key(j), time_wall());
	if (d && j->e.next_attempt < d->since) {
		log_info("queue", NULL, "event=deferred id=%llu domain=%s reason=destination_unreachable",
			 (unsigned long long)j->e.id, g->domain[0] ? g->domain : "(relay)");
		j->skipped = 1;
		group_outcome(j, SQ_PENDING, d->why, "");
		return;
	}
	if (!k && dest_active(s, dest_key(j)) >= DEST_MAX) {
		j->waiting = 1; /* next_group() of another job resumes it */
		return;
	}
	j->dest_busy = 1;
	if (k) {
		struct smtp_client *c = k->c;
		j->addrs[0] = k->addr;
		j->naddrs = 1;
		j->cur_addr = 0;
		j->sessions = 0;
		j->answered = 0;
		j->last_why[0] = '\0';
		j->last_refused = 0;
		k->c = NULL;
		j->tr_row = k->row;
		j->reused = 1;
		job_client(j, c);
		for (size_t i = 0; i < g->n; i++) {
			j->crcpts[i].verdict = SQ_PENDING;
			j->crcpts[i].status[0] = '\0';
		}
		if (smtp_client_next(c, &j->cmsg, client_done, j) == 0)
			return;
		job_client(j, NULL);
		j->reused = 0;
	}
	route_group(j);
}

/* The MX lookup, after the policy (if any) is known; route_done() goes on. */
static void route_mx(struct job *j)
{
	struct dns_lookup *l = dns_route_ip(j->s->dns, j->groups[j->cur].domain, 1, j->s->mx_port,
					    j->s->ip, route_done, j);
	if (l)
		j->lookup = l;
}

static void sts_done(void *arg, const struct mta_sts_policy *pol, const char *source,
		     const struct sts_fail *fail)
{
	struct job *j = arg;
	j->sts_lookup = NULL;
	j->sts_failed = fail != NULL;
	if (fail)
		j->sts_fail = *fail;
	if (pol) {
		j->sts = *pol;
		log_info("queue", NULL, "event=mta_sts_policy id=%llu domain=%s mode=%s source=%s",
			 (unsigned long long)j->e.id, j->groups[j->cur].domain,
			 mta_sts_mode_name(pol->mode), source);
	}
	route_mx(j);
}

/* Looks up the current group's route; route_done() goes on. */
static void route_group(struct job *j)
{
	struct sched *s = j->s;
	struct group *g = &j->groups[j->cur];
	/* A lookup answered at once returns NULL after its callback ran. */
	if (s->relay_host[0]) {
		struct dns_lookup *l = dns_route_ip(s->dns, s->relay_host, 0, s->relay_port, s->ip,
						    route_done, j);
		if (l)
			j->lookup = l;
		return;
	}
	/* Mail to a domain's MX hosts: its MTA-STS policy first (RFC 8461),
	 * unless the message says "TLS-Required: No" (RFC 8689 §5). */
	j->sts.mode = MTA_STS_NONE;
	j->sts_failed = 0;
	if (g->domain[0] == '[') {
		/* An address literal: the host itself (dns_route), which no
		 * MTA-STS policy (RFC 8461 §4.1: a Policy Domain's MX hosts)
		 * or DANE TLSA record (RFC 7672 §2.2: MX host names) covers. */
		route_mx(j);
		return;
	}
	if (tls_policy_skipped(j)) {
		log_info("queue", NULL, "event=tls_policy_skipped id=%llu domain=%s "
			 "reason=\"TLS-Required: No\"", (unsigned long long)j->e.id, g->domain);
		route_mx(j);
		return;
	}
	snprintf(j->sts_why, sizeof j->sts_why, "the MTA-STS policy of %s", g->domain);
	struct sts_lookup *l = sts_lookup(g->domain, sts_done, j);
	if (l)
		j->sts_lookup = l;
}

static void group_rcpts(struct job *j)
{
	int relay = j->s->relay_host[0] != '\0';
	for (size_t i = 0; i < j->e.nrcpts; i++) {
		struct store_queue_rcpt *q = &j->e.rcpts[i];
		if (q->state != SQ_PENDING)
			continue;
		/* Ours (one waiting for room in its mailbox, queue.h): a
		 * group of its own, delivered here, never to an MX. One the
		 * directory could not place now (a store error) goes to
		 * neither: the group of those is left pending, tried again
		 * on the schedule as a local failure for now would be. */
		enum queue_rcpt_where w = queue_rcpt_local(j->s->st, q->addr);
		if (w != QUEUE_RCPT_OUTSIDE) {
			size_t g = 0;
			while (w == QUEUE_RCPT_UNSURE && g < j->ngroups && !j->groups[g].unsure)
				g++;
			if (w == QUEUE_RCPT_OURS || g == j->ngroups) {
				j->groups = xrealloc(j->groups, (j->ngroups + 1) * sizeof *j->groups);
				g = j->ngroups++;
				memset(&j->groups[g], 0, sizeof j->groups[g]);
				j->groups[g].local = 1;
				j->groups[g].unsure = w == QUEUE_RCPT_UNSURE;
			}
			struct group *lg = &j->groups[g];
			lg->idx = xrealloc(lg->idx, (lg->n + 1) * sizeof *lg->idx);
			lg->idx[lg->n++] = i;
			continue;
		}
		const char *at = strrchr(q->addr, '@');
		char dom[256];
		snprintf(dom, sizeof dom, "%s", relay ? "" : at ? at + 1 : "");
		int utf8 = 0;
		for (char *p = dom; *p; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
			utf8 |= (unsigned char)*p >= 0x80;
		}
		/* DNS knows an internationalised domain by its A-labels (RFC
		 * 5891 §5, RFC 6531 §3.7.5 paraphrased: the MX lookup is of the
		 * A-label form): the route, MTA-STS and DANE lookups use them. */
		char alabels[sizeof dom];
		if (utf8 && punycode_domain_other(str_c(dom), alabels, sizeof alabels) > 0)
			memcpy(dom, alabels, sizeof dom);
		size_t g;
		for (g = 0; g < j->ngroups; g++)
			if (!j->groups[g].local && strcmp(j->groups[g].domain, dom) == 0)
				break;
		if (g == j->ngroups) {
			j->groups = xrealloc(j->groups, (j->ngroups + 1) * sizeof *j->groups);
			memset(&j->groups[g], 0, sizeof j->groups[g]);
			snprintf(j->groups[g].domain, sizeof j->groups[g].domain, "%s", dom);
			j->ngroups++;
		}
		struct group *gp = &j->groups[g];
		gp->idx = xrealloc(gp->idx, (gp->n + 1) * sizeof *gp->idx);
		gp->idx[gp->n++] = i;
	}
}

/* ---- the last commit: backoff, expiry, notices ---- */

static int64_t backoff(const struct sched *s, uint32_t attempts)
{
	size_t i = attempts == 0 ? 0 : attempts - 1;
	if (i >= s->nretry)
		i = s->nretry - 1;
	return s->retry[i];
}

/* Builds the one notice for this round into u (local or queued). */
static void build_notice(struct job *j, struct upd *u, int64_t now)
{
	struct sched *s = j->s;
	struct store_queue_entry *e = &j->e;
	struct dsn_rcpt *dr = xcalloc(e->nrcpts, sizeof *dr);
	size_t n = 0;

	/* Failures first: the subject follows the first recipient's action. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < e->nrcpts; i++) {
			struct store_queue_rcpt *q = &e->rcpts[i];
			int take = 0;
			enum dsn_action act = DSN_FAILED;
			if (pass == 0 && q->state == SQ_FAILED && !q->dsn_done)
				take = wants_notice(e, q, SQ_NOTIFY_FAILURE);
			else if (pass == 1 && q->state == SQ_PENDING && (u->add_flags & SQ_DELAY_SENT)) {
				take = wants_notice(e, q, SQ_NOTIFY_DELAY);
				act = DSN_DELAYED;
			} else if (pass == 2 && q->state == SQ_SENT && !q->dsn_done) {
				take = wants_notice(e, q, SQ_NOTIFY_SUCCESS);
				act = strcmp(q->status, LOCAL_DELIVERED) == 0 ? DSN_DELIVERED : DSN_RELAYED;
			}
			if (take)
				dr[n++] = (struct dsn_rcpt){q->addr, q->orcpt, q->status,
							    q->remote, act,
							    j->tried ? j->tried[i] : 0};
		}
	}
	if (n == 0) {
		free(dr);
		return;
	}
	/* A forwarded copy's sender is one of our SRS addresses: the notice
	 * goes where it reverses to (the original sender). */
	char rev[SRS_ADDR_MAX + 1];
	const char *to = e->sender;
	if (forward_reverse_local(s->st, e->sender, rev, sizeof rev, NULL) == 1)
		to = rev;
	/* The queue gives up at the lifetime's end, or sooner at a Deliver
	 * By deadline in R mode (the message comes back then: by_returned):
	 * Will-Retry-Until says the one that comes first (RFC 3464 §2.3.9). */
	int64_t until = e->created_at + s->lifetime_s;
	if ((e->flags & (SQ_BY | SQ_BY_RETURN)) == (SQ_BY | SQ_BY_RETURN) && e->by_deadline < until)
		until = e->by_deadline;
	struct dsn_info in = {
	    .hostname = hostname_now(), .to = to, .envid = e->envid, .arrival = e->created_at,
	    .now = now, .retry_until = until,
	    .ret_full = (e->flags & SQ_RET_FULL) != 0, .msg = j->data, .msglen = j->len, .id = e->id,
	    .rcpts = dr, .nrcpts = n,
	};
	struct buf b;
	buf_init(&b, DSN_MAX);
	if (dsn_build(&in, &b) < 0) {
		/* Too big even for the limit: headers only. */
		buf_reset(&b);
		in.ret_full = 0;
		dsn_build(&in, &b);
	}
	free(dr);

	/* Every account a local sender's address names gets the notice
	 * (an alias of many members, as deliveries to it do). */
	uint32_t acc[STORE_RESOLVE_ACCOUNTS_MAX];
	size_t nacc = 0;
	enum store_rcpt res = store_resolve_rcpt(s->st, to, acc, STORE_RESOLVE_ACCOUNTS_MAX, &nacc);
	int local = (res == STORE_RCPT_OK || res == STORE_RCPT_OVER_QUOTA) && nacc;
	/* A local sender with no room for it: the notice waits in the queue
	 * like any mail to a full mailbox (a recipient of ours: delivered
	 * here once there is room, given up at TERN_QUEUE_LIFETIME, and
	 * never a notice about a notice), as Postfix defers it. */
	if (local && store_quota_fits(s->st, acc, nacc, buf_len(&b)) != STORE_OK) {
		local = 0;
		res = STORE_RCPT_NOT_LOCAL;
		log_info("queue", NULL, "event=notice_deferred id=%llu reason=over_quota",
			 (unsigned long long)e->id);
	}
	/* The directory could not be read now: the notice is queued too,
	 * where each attempt asks again whether its recipient is ours
	 * (group_rcpts), rather than dropped as for an unknown sender. */
	if (res == STORE_RCPT_TEMPFAIL) {
		res = STORE_RCPT_NOT_LOCAL;
		log_info("queue", NULL, "event=notice_deferred id=%llu reason=lookup_failed",
			 (unsigned long long)e->id);
	}
	if (local) {
		/* A local sender: straight into the INBOX. */
		u->local_data = xmalloc(buf_len(&b) ? buf_len(&b) : 1);
		memcpy(u->local_data, buf_data(&b), buf_len(&b));
		u->plans = xcalloc(nacc, sizeof *u->plans);
		for (size_t i = 0; i < nacc; i++)
			u->plans[i].account = acc[i];
		u->d.data = str_make(u->local_data, buf_len(&b));
		u->d.head = str_c("Return-Path: <>\r\n");
		u->d.plans = u->plans;
		u->d.nplans = nacc;
		log_info("queue", NULL, "event=notice id=%llu to=local rcpts=%zu", (unsigned long long)e->id, n);
	} else if (res == STORE_RCPT_NOT_LOCAL) {
		u->dsn_len = buf_len(&b);
		u->dsn_data = xmalloc(u->dsn_len ? u->dsn_len : 1);
		memcpy(u->dsn_data, buf_data(&b), u->dsn_len);
		u->dsn.created_at = u->dsn.next_attempt = now;
		/* RFC 8689 §5: a notice about a REQUIRETLS message may quote it;
		 * it travels under the same requirement. */
		if (e->flags & SQ_REQUIRETLS)
			u->dsn.flags |= SQ_REQUIRETLS;
		/* A UTF-8 sender can only be a RCPT TO under SMTPUTF8, and a
		 * global notice's 8-bit octets go only under BODY=8BITMIME. */
		unsigned needs = dsn_needs(to, u->dsn_data, u->dsn_len);
		u->dsn.flags |= ((needs & DSN_NEEDS_SMTPUTF8) ? SQ_SMTPUTF8 : 0) |
				((needs & DSN_NEEDS_8BITMIME) ? SQ_8BITMIME : 0);
		u->dsn.sender = xstrdup("");
		u->dsn.envid = xstrdup("");
		u->dsn.size = u->dsn_len;
		store_blob_id(u->dsn_data, u->dsn_len, u->dsn.blob_id);
		u->dsn.nrcpts = 1;
		u->dsn.rcpts = xcalloc(1, sizeof *u->dsn.rcpts);
		u->dsn.rcpts[0] = (struct store_queue_rcpt){xstrdup(to), xstrdup(""), xstrdup(""),
							    xstrdup(""), SQ_PENDING, SQ_NOTIFY_NEVER, 1};
		log_info("queue", NULL, "event=notice id=%llu to=remote rcpts=%zu", (unsigned long long)e->id, n);
	} else {
		log_warn("queue", NULL, "event=notice_dropped id=%llu reason=sender_unknown",
			 (unsigned long long)e->id);
	}
	buf_free(&b);
}

/* 1 when e asked Deliver By's R mode and its deadline has come. */
static int by_returned(const struct store_queue_entry *e, int64_t now)
{
	return (e->flags & (SQ_BY | SQ_BY_RETURN)) == (SQ_BY | SQ_BY_RETURN) && now >= e->by_deadline;
}

static void finish_job(struct job *j)
{
	struct sched *s = j->s;
	struct store_queue_entry *e = &j->e;
	int64_t now = time_wall();
	struct upd *u = xcalloc(1, sizeof *u);
	size_t pending = 0;

	/* Past the lifetime, or past Deliver By's deadline in R mode, what
	 * is still pending fails for good. */
	int by_expired = by_returned(e, now);
	int expired = now - e->created_at >= (int64_t)s->lifetime_s || by_expired;
	u->r = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *u->r);
	for (size_t i = 0; i < e->nrcpts; i++) {
		struct store_queue_rcpt *q = &e->rcpts[i];
		if (q->state == SQ_PENDING && expired) {
			char st[SQ_STATUS_MAX + 64];
			snprintf(st, sizeof st, "5.4.7 delivery time expired%s%s%s",
				 by_expired ? " (Deliver By)" : "",
				 q->status[0] ? DSN_LAST_ERROR : "", q->status);
			st[SQ_STATUS_MAX] = '\0';
			free(q->status);
			q->status = xstrdup(st);
			q->state = SQ_FAILED;
			q->dsn_done = 0;
			u->r[u->nr++] = (struct upd_rcpt){i, SQ_FAILED, 0, xstrdup(q->status),
							  xstrdup(q->remote)};
		}
		if (q->state == SQ_PENDING)
			pending++;
	}
	/* N mode's deadline calls for a delay notice of its own (RFC 2852
	 * §4), also when the ordinary one (after TERN_QUEUE_DELAY_NOTICE)
	 * went out before: each is sent once. */
	int by_late = (e->flags & SQ_BY) && !(e->flags & SQ_BY_RETURN) && now >= e->by_deadline &&
		      !(e->flags & SQ_BY_NOTIFIED);
	int delay_due = !(e->flags & SQ_DELAY_SENT) &&
			now - e->created_at >= (int64_t)s->delay_notice_s;
	if (pending && (delay_due || by_late)) {
		int any = 0;
		for (size_t i = 0; i < e->nrcpts; i++)
			if (e->rcpts[i].state == SQ_PENDING &&
			    wants_notice(e, &e->rcpts[i], SQ_NOTIFY_DELAY))
				any = 1;
		if (any)
			u->add_flags |= SQ_DELAY_SENT | (by_late ? SQ_BY_NOTIFIED : 0);
	}
	build_notice(j, u, now);
	u->final = 1;
	u->all_dsn_done = 1;
	u->next_attempt = now + backoff(s, e->attempts + 1);
	/* A Deliver By deadline before the next attempt: wake up then, to
	 * return the message (R) or send the delay notice (N). */
	if ((e->flags & SQ_BY) && e->by_deadline > now && e->by_deadline < u->next_attempt &&
	    ((e->flags & SQ_BY_RETURN) || !(e->flags & SQ_BY_NOTIFIED)))
		u->next_attempt = e->by_deadline;
	log_info("queue", NULL, "event=%s id=%llu pending=%zu attempts=%u",
		 pending ? "retry_later" : "done", (unsigned long long)e->id, pending,
		 e->attempts + 1);
	j->finished = 1;
	upd_submit(j, u);
}

static int job_active(struct sched *s, uint64_t id)
{
	for (struct job *j = s->jobs; j; j = j->next)
		if (j->e.id == id)
			return 1;
	return 0;
}

/*
 * The entry's message is not in the store (a damaged store: its blob
 * record is gone). Nothing can be sent, not even a notice quoting it;
 * left due, the entry was started again at every tick, an error line a
 * second for ever, and never expired (finish_job never ran). It is held
 * instead (SQ_HELD_AT, as a restore holds entries), its pending
 * recipients saying why, for the administrator to see in `tern queue
 * list` and delete; a flush tries it again. Through the job's update, so
 * a store that refuses the write is tried again (upd_hold).
 */
static void hold_lost(struct job *j)
{
	static const char why[] = "4.3.0 the message is missing from the store (damaged): held";
	struct upd *u = xcalloc(1, sizeof *u);

	log_error("queue", NULL, "event=queue_blob_missing id=%llu action=hold",
		  (unsigned long long)j->e.id);
	u->r = xcalloc(j->e.nrcpts ? j->e.nrcpts : 1, sizeof *u->r);
	for (size_t i = 0; i < j->e.nrcpts; i++)
		if (j->e.rcpts[i].state == SQ_PENDING)
			u->r[u->nr++] = (struct upd_rcpt){i, SQ_PENDING, j->e.rcpts[i].dsn_done,
							  xstrdup(why), xstrdup("")};
	u->final = 1;
	u->next_attempt = SQ_HELD_AT;
	j->finished = 1;
	upd_submit(j, u);
}

/* Future Release: after a release that failed for now, the next try. */
#define RELEASE_RETRY_S 60

/* The held entry's release (queue_hold.c) is committed, or was refused. */
static void release_done(void *arg, int result)
{
	struct job *j = arg;

	j->store_pending--;
	j->finished = 1;
	if (result == STORE_EINVAL) {
		/* Nobody left to send to (their accounts went while it was
		 * held): the entry goes, as queue_submit drops such a
		 * recipient. */
		struct upd *u = xcalloc(1, sizeof *u);
		log_warn("queue", NULL, "event=release_dropped id=%llu reason=no_recipient",
			 (unsigned long long)j->e.id);
		u->r = xcalloc(j->e.nrcpts ? j->e.nrcpts : 1, sizeof *u->r);
		for (size_t i = 0; i < j->e.nrcpts; i++)
			u->r[u->nr++] = (struct upd_rcpt){i, SQ_FAILED, 1, xstrdup("5.1.1 no such recipient at the release"),
							  xstrdup("")};
		u->final = 1;
		upd_submit(j, u);
	} else if (result != STORE_OK) {
		struct upd *u = xcalloc(1, sizeof *u);
		log_error("queue", NULL, "event=release_failed id=%llu result=%d action=retry",
			  (unsigned long long)j->e.id, result);
		u->final = 1;
		u->next_attempt = (int64_t)time_wall() + RELEASE_RETRY_S;
		upd_submit(j, u);
	}
	job_maybe_free(j);
}

/* Starts a job for entry id; 0, or -1 when the byte budget is used up. */
static int start_job(struct sched *s, uint64_t id)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->s = s;
	if (store_queue_get(s->st, id, &j->e) != STORE_OK) {
		free(j);
		return 0;
	}
	if (s->jobs && active_bytes + j->e.size > MAX_JOB_BYTES) {
		store_queue_entry_free(&j->e);
		free(j);
		return -1;
	}
	int brc = store_queue_blob(s->st, j->e.blob_id, &j->data, &j->len);
	if (brc != STORE_OK && brc != STORE_ENOTFOUND) { /* a read that failed: next tick */
		log_error("queue", NULL, "event=queue_blob_unreadable id=%llu result=%d",
			  (unsigned long long)id, brc);
		store_queue_entry_free(&j->e);
		free(j);
		return 0;
	}
	j->next = s->jobs;
	s->jobs = j;
	active_bytes += j->len;
	atomic_fetch_add(&active_jobs, 1);
	if (brc == STORE_ENOTFOUND) {
		hold_lost(j);
		return 0;
	}
	if (j->e.flags & SQ_HOLD) { /* its release time: submitted again, as it is now */
		j->store_pending++;
		queue_hold_release(s->st, s->loop, &j->e, j->data, j->len, release_done, j);
		return 0;
	}
	/* The order entries start in (store_queue_due: priority first). */
	log_info("queue", NULL, "event=delivery_start id=%llu priority=%d attempts=%u",
		 (unsigned long long)id, j->e.priority, j->e.attempts);
	j->tried = xcalloc(j->e.nrcpts ? j->e.nrcpts : 1, sizeof *j->tried);
	group_rcpts(j);
	j->cur = 0;
	/* Deliver By's R mode (RFC 2852 §4): past the deadline nothing more
	 * is tried; finish_job() fails what is pending. */
	if (by_returned(&j->e, time_wall()))
		j->cur = j->ngroups;
	start_group(j);
	return 0;
}

/* ---- tick ---- */

static void tick(struct sched *s)
{
	/* Room for every running job (still due until it finishes) plus a
	 * full set of new ones. */
	uint64_t ids[2 * MAX_JOBS];
	size_t n = 0;
	int64_t next;

	if (s->stopping || s->quiescing || atomic_load(&active_jobs) >= MAX_JOBS)
		return;
	if (store_queue_due(s->st, time_wall(), ids, 2 * MAX_JOBS, &n, &next) != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (atomic_load(&active_jobs) >= MAX_JOBS)
			break;
		if (!job_active(s, ids[i]) && start_job(s, ids[i]) < 0)
			break;
	}
}

static void tick_timer(struct loop *loop, void *arg)
{
	struct sched *s = arg;
	s->timer = loop_timer_add(loop, TICK_MS, tick_timer, s);
	tick(s);
}

static void kick_run(void *arg)
{
	(void)arg;
	atomic_store(&kick_pending, 0);
	if (sched)
		tick(sched);
}

void queue_sched_kick(void)
{
	if (sched_loop && !atomic_exchange(&kick_pending, 1))
		loop_post(sched_loop, kick_run, NULL);
}

static void start_on_loop(void *arg)
{
	struct sched *s = arg;
	char err[256];
	/* The loop's own channel (server.c makes one per loop), else one of ours. */
	s->dns = dns_thread();
	if (!s->dns) {
		s->dns = dns_new(s->loop, s->dns_servers, err, sizeof err);
		s->own_dns = s->dns != NULL;
	}
	if (!s->dns)
		log_error("queue", NULL, "event=dns_unavailable error=\"%s\"", err);
	sts_init(s->loop, s->dns, s->st, s->sts_port);
	sched = s;
	s->timer = loop_timer_add(s->loop, 10, tick_timer, s);
}

/* Splits "host:port", "[v6]:port" or "host" (port 25). */
static void relay_parse(const char *v, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon = strrchr(v, ':');
	*port = 25;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		size_t n = close ? (size_t)(close - v - 1) : strlen(v + 1);
		snprintf(host, hostsz, "%.*s", (int)n, v + 1);
		if (close && close[1] == ':')
			*port = (uint16_t)atoi(close + 2);
		return;
	}
	if (colon && strchr(v, ':') == colon) {
		snprintf(host, hostsz, "%.*s", (int)(colon - v), v);
		*port = (uint16_t)atoi(colon + 1);
		return;
	}
	snprintf(host, hostsz, "%s", v);
}

int queue_sched_start(const struct config *cfg, struct store *st, struct loop *loop)
{
	struct sched *s = xcalloc(1, sizeof *s);
	s->st = st;
	s->loop = loop;
	snprintf(s->dns_servers, sizeof s->dns_servers, "%s", cfg->dns_servers);
	if (cfg->relay_host[0])
		relay_parse(cfg->relay_host, s->relay_host, sizeof s->relay_host, &s->relay_port);
	snprintf(s->relay_user, sizeof s->relay_user, "%s", cfg->relay_user);
	snprintf(s->relay_pass, sizeof s->relay_pass, "%s", cfg->relay_password);
	s->relay_tls_verify = cfg->relay_tls_verify;
	s->dane = cfg->dns_trust_ad;
	s->lifetime_s = cfg->queue_lifetime_s;
	s->delay_notice_s = cfg->queue_delay_notice_s;
	s->timeout_s = cfg->queue_timeout_s;
	s->mx_port = cfg->queue_mx_port;
	s->ip = (enum dns_ip_strategy)cfg->queue_ip_strategy;
	queue_self_init(&cfg->listen[LISTEN_SMTP]);
	s->sts_port = cfg->mta_sts_port;
	s->nretry = cfg->queue_nretry;
	memcpy(s->retry, cfg->queue_retry_s, sizeof s->retry);
	if (s->nretry == 0) {
		static const unsigned def[] = {60, 300, 900, 1800, 3600};
		memcpy(s->retry, def, sizeof def);
		s->nretry = 5;
	}
	sched_loop = loop;
	loop_post(loop, start_on_loop, s);
	log_info("queue", NULL, "event=scheduler_started relay=%s lifetime=%u ip_strategy=%s",
		 s->relay_host[0] ? s->relay_host : "none", s->lifetime_s,
		 dns_ip_strategy_name(s->ip));
	/* Held entries never expire (as Postfix's hold queue): said at each
	 * start, so a restore's held mail is not forgotten for good. */
	uint64_t queued = 0, held = 0;
	if (store_queue_count(st, &queued, &held) == STORE_OK && held)
		log_warn("queue", NULL,
			 "event=queue_held held=%llu queued=%llu hint=\"restored from a backup: "
			 "never sent nor expired until released (tern queue flush) or deleted (tern "
			 "queue del)\"",
			 (unsigned long long)held, (unsigned long long)queued);
	return 0;
}

void queue_sched_stop(void)
{
	struct sched *s = sched;
	if (!s || s->stopping)
		return;
	s->stopping = 1;
	if (s->timer)
		loop_timer_del(s->loop, s->timer);
	s->timer = 0;
	for (struct job *j = s->jobs, *next; j; j = next) {
		next = j->next;
		if (j->lookup)
			dns_cancel(j->lookup);
		j->lookup = NULL;
		sts_cancel(j->sts_lookup);
		j->sts_lookup = NULL;
		dns_query_cancel(j->dane_q);
		j->dane_q = NULL;
		if (j->client)
			smtp_client_abort(j->client);
		job_client(j, NULL);
		if (!j->upd_busy) /* else they follow it in (upd_done) */
			held_drop(j);
		j->finished = 1;
		job_maybe_free(j);
	}
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct smtp_client *c = cache[i].c;
		cache[i].c = NULL;
		cache[i].unsettled = NULL;
		if (c)
			smtp_client_abort(c);
	}
	smtp_client_close_quitting();
	sts_stop();
	if (s->own_dns)
		dns_free(&s->dns);
	s->dns = NULL;
}

unsigned queue_sched_active(void)
{
	return atomic_load(&active_jobs);
}

void queue_sched_quiesce(void)
{
	struct sched *s = sched;
	if (!s || s->stopping || s->quiescing)
		return;
	s->quiescing = 1;
	log_info("queue", NULL, "event=quiescing talking=%u", atomic_load(&talking_jobs));
	/* Kept sessions quit now: nothing will use them. */
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct smtp_client *c = cache[i].c;
		cache[i].c = NULL;
		cache[i].unsettled = NULL;
		if (c)
			smtp_client_abort(c);
	}
	/*
	 * A session that has not sent MAIL yet (connecting, or a remote that
	 * accepted and never greets) has nothing to finish: it is cut now,
	 * and its job waits for the stop, which leaves the entry due as it
	 * is (nothing recorded, the message sent after the restart). Waited
	 * for, a silent remote held every stop for the whole drain (6 s).
	 * A session in its transaction keeps the drain's time to a verdict.
	 */
	unsigned cut = 0;
	for (struct job *j = s->jobs; j; j = j->next) {
		if (j->client && smtp_client_before_mail(j->client)) {
			smtp_client_abort(j->client);
			job_client(j, NULL);
			cut++;
		}
	}
	if (cut)
		log_info("queue", NULL, "event=quiesce_cut sessions=%u reason=before_mail", cut);
}

unsigned queue_sched_talking(void)
{
	return atomic_load(&talking_jobs);
}
