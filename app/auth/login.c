/*
 * login.c — the shared login flow (see login.h): the limits' gate, the
 * account's spacing, the password check on the worker pool, the one
 * auth_failed log event, the reply delay, then the protocol's done().
 */
#include "auth/login.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/login_limit.h"
#include "auth/scram_login.h"
#include "core/asan.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "store/store.h"

_Static_assert(LOGIN_USER_MAX == SCRAM_USER_MAX, "a SCRAM user name is a login name");

/*
 * A held attempt (LOGIN_GATE_HOLD) is admitted again when its pair's lead
 * settles, one held for a busy address (LOGIN_GATE_BUSY, _SITE_BUSY) when
 * any attempt of that address settles; should that never come (a bug, or
 * an address kept busy), after this long from its first hold anyway,
 * through the gate as it stands, refused as busy if the address still is.
 * Past the longest a check can take: its slot (LOGIN_WAIT_MAX_MS) and a
 * password check.
 */
#define LOGIN_HOLD_MAX_MS (3u * LOGIN_WAIT_MAX_MS)

/*
 * LOGIN_HOLD_MAX_MS, or shorter in a sanitizer build (build/tern-asan or -tsan,
 * the unit tests) with TERN_TEST_LOGIN_HOLD_MAX_MS: a test reaches the
 * backstop without 30 s of waiting. A release build never reads it (not
 * a setting), and it can only shorten: a login refused sooner as busy,
 * none admitted past the gate.
 */
static uint64_t hold_max_ms(void)
{
#if TERN_TEST_KNOBS
	const char *v = getenv("TERN_TEST_LOGIN_HOLD_MAX_MS");
	unsigned long long ms = v && *v ? strtoull(v, NULL, 10) : 0;
	if (ms && ms < LOGIN_HOLD_MAX_MS)
		return ms;
#endif
	return LOGIN_HOLD_MAX_MS;
}

enum step {
	STEP_WAIT,    /* the account's spacing: the timer submits the check */
	STEP_CHECK,   /* on the worker */
	STEP_REPLY,   /* a failure or refusal: the timer calls done */
	STEP_HOLD,    /* its pair's lead, or its address's checks, in flight: held */
};

struct login {
	struct worker_job wj;
	struct login_request rq; /* callbacks; its strings are not kept */
	char module[8], session[24], ip[48], mech[16];
	char user[LOGIN_USER_MAX + 1];
	char pass[LOGIN_PASS_MAX + 1];
	size_t pass_len;
	int has_scram;
	struct scram_server scram;
	char scram_final[64];
	struct login_ticket ticket;
	char malformed[16]; /* why the attempt cannot succeed, or "" */
	struct login *held_prev, *held_next; /* STEP_HOLD, while on the list */
	int held;                            /* on the held list (held_lock) */
	int held_busy;       /* held for its address's checks, not its pair's lead */
	uint64_t hold_until; /* holds end here (LOGIN_HOLD_MAX_MS after the first) */
	int hold_expired;    /* ... and that time came: a busy address is refused */
	enum step step;
	uint64_t timer;
	int abandoned;
	int rc; /* the worker's: 1, 0, STORE_LOGIN_NOLOGIN or STORE_ETEMP */
	struct login_result res;
};

static void copy_c(char *dst, size_t n, const char *src)
{
	size_t k = src ? strlen(src) : 0;
	if (k >= n)
		k = n - 1;
	if (k)
		memcpy(dst, src, k);
	dst[k] = '\0';
}

static void destroy(struct login *l)
{
	if (l->res.extra && l->rq.extra_free)
		l->rq.extra_free(l->res.extra);
	explicit_bzero(l, sizeof *l);
	free(l);
}

/*
 * The attempts held for their pairs' leads, from every loop: a list, as
 * they are bounded by the connections that made them and walked only
 * when a lead settles.
 */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct login *held_head;

static void flow_go(struct login *l, int may_hold);

/* Takes l off the held list; 0 when it was not on it (a wake is posted). */
static int held_unlink(struct login *l)
{
	if (!l->held)
		return 0;
	if (l->held_prev)
		l->held_prev->held_next = l->held_next;
	else
		held_head = l->held_next;
	if (l->held_next)
		l->held_next->held_prev = l->held_prev;
	l->held_prev = l->held_next = NULL;
	l->held = 0;
	return 1;
}

/* On l's loop: its lead settled (or it waited LOGIN_HOLD_MAX_MS). */
static void held_wake(void *arg)
{
	struct login *l = arg;

	if (l->timer)
		loop_timer_del(l->rq.loop, l->timer);
	l->timer = 0;
	if (l->abandoned) {
		destroy(l);
		return;
	}
	/* Through the gate as it stands: held for its pair's lead once at
	 * most; one that waited for its busy address may still lead. */
	flow_go(l, l->held_busy);
}

static void hold_timer(struct loop *loop, void *arg)
{
	struct login *l = arg;
	int mine;

	(void)loop;
	l->timer = 0;
	l->hold_expired = 1;
	pthread_mutex_lock(&held_lock);
	mine = held_unlink(l);
	pthread_mutex_unlock(&held_lock);
	if (mine) /* else the lead's wake is on its way */
		held_wake(l);
}

/* Onto the held list until its wake (busy: the address's next settle,
 * else its pair's lead's), LOGIN_HOLD_MAX_MS after its first hold at most. */
static void hold(struct login *l, int busy)
{
	uint64_t now = loop_now_ms();

	if (!l->hold_until)
		l->hold_until = now + hold_max_ms();
	l->step = STEP_HOLD;
	l->held_busy = busy;
	pthread_mutex_lock(&held_lock);
	l->held_next = held_head;
	if (held_head)
		held_head->held_prev = l;
	held_head = l;
	l->held = 1;
	pthread_mutex_unlock(&held_lock);
	l->timer = loop_timer_add(l->rq.loop, l->hold_until > now ? l->hold_until - now : 0,
				  hold_timer, l);
}

/* Whether the settle of t frees what held w waits for: its pair's lead,
 * or a check of its busy address or /48 (all of these wake: each goes
 * through the gate again, and those that find it busy still hold again). */
static int held_for(const struct login *w, const struct login_ticket *t)
{
	const struct login_ticket *h = &w->ticket;

	if (!w->held_busy)
		return t->lead && memcmp(h->pair, t->pair, sizeof t->pair) == 0;
	return memcmp(h->ip, t->ip, sizeof t->ip) == 0 ||
	       (h->has_site && t->has_site && memcmp(h->site, t->site, sizeof t->site) == 0);
}

/* An attempt settled: the attempts held for it go on, each on its loop. */
static void release_held(const struct login_ticket *t)
{
	pthread_mutex_lock(&held_lock);
	for (struct login *w = held_head, *next; w; w = next) {
		next = w->held_next;
		if (held_for(w, t)) {
			held_unlink(w);
			loop_post(w->rq.loop, held_wake, w);
		}
	}
	pthread_mutex_unlock(&held_lock);
}

/* The reservation's outcome, for both flows and the HTTP sign-ins
 * (login.h): a lead's, or any of a busy address's, releases the held. */
unsigned login_settle_failed(const struct login_ticket *t, uint64_t now_ms, unsigned *failures_r)
{
	unsigned delay = login_limit_failed(t, now_ms, failures_r);
	release_held(t);
	return delay;
}

void login_settle_ok(const struct login_ticket *t, uint64_t now_ms)
{
	login_limit_succeeded(t, now_ms);
	release_held(t);
}

void login_settle_cancel(const struct login_ticket *t)
{
	login_limit_cancel(t);
	release_held(t);
}

/* Hands the outcome to the protocol (unless it left) and ends the flow. */
static void finish(struct login *l)
{
	if (!l->abandoned) {
		l->res.user = l->user;
		l->res.mech = l->mech;
		l->res.scram_final = l->scram_final;
		l->rq.done(l->rq.arg, &l->res);
		l->res.extra = NULL; /* the caller's now */
	}
	destroy(l);
}

static void reply_timer(struct loop *loop, void *arg)
{
	struct login *l = arg;
	(void)loop;
	l->timer = 0;
	finish(l);
}

static void reply_later(struct login *l, enum login_outcome o, unsigned delay_ms)
{
	l->res.outcome = o;
	l->step = STEP_REPLY;
	l->timer = loop_timer_add(l->rq.loop, delay_ms, reply_timer, l);
}

/* The one failure record, for both flows: counted and logged for
 * fail2ban. Returns the reply delay. */
static unsigned fail_record(struct login *l, const char *reason, uint64_t now_ms)
{
	char q[LOGIN_USER_MAX * 4 + 8];
	unsigned failures;
	unsigned delay = login_settle_failed(&l->ticket, now_ms, &failures);

	metrics_inc(l->rq.metric);
	log_info(l->module, l->session[0] ? l->session : NULL,
		 "event=auth_failed mech=%s reason=%s failures=%u delay_ms=%u user=%s ip=%s",
		 l->mech, reason, failures, delay, log_quoted(l->user, q, sizeof q), l->ip);
	return delay;
}

/* A failure: recorded, answered late. */
static void failed(struct login *l, const char *reason)
{
	reply_later(l, LOGIN_FAILED, fail_record(l, reason, loop_now_ms()));
}

/* ---- on the worker ---- */

static void check_run(void *arg)
{
	struct login *l = arg;

	if (l->has_scram)
		l->rc = scram_login_check(l->rq.store, &l->scram, str_make(l->pass, l->pass_len),
					  l->scram_final, sizeof l->scram_final, &l->res.account,
					  &l->res.cred);
	else
		l->rc = store_account_login_scoped(l->rq.store, l->user, l->pass, l->rq.scope,
						   &l->res.account, &l->res.cred, &l->res.apppass);
	explicit_bzero(l->pass, sizeof l->pass);
	explicit_bzero(&l->scram, sizeof l->scram);
	l->res.outcome = LOGIN_OK;
	if (l->rc == 1 && l->rq.after_ok)
		l->res.outcome = l->rq.after_ok(l->rq.store, l->res.account, &l->res.extra);
}

/* ---- back on the loop ---- */

static void check_done(void *arg)
{
	struct login *l = arg;

	if (l->rc == 0 || l->rc == STORE_LOGIN_NOLOGIN) {
		if (l->abandoned) {
			login_settle_failed(&l->ticket, loop_now_ms(), NULL);
			destroy(l);
			return;
		}
		/* A failure all the same (counted, logged, answered late). */
		l->res.nologin = l->rc == STORE_LOGIN_NOLOGIN;
		failed(l, l->res.nologin ? "nologin" : "password");
		return;
	}
	if (l->rc != 1) {
		login_settle_cancel(&l->ticket);
		log_warn(l->module, l->session[0] ? l->session : NULL,
			 "event=auth_error reason=store_error ip=%s", l->ip);
		l->res.outcome = LOGIN_TEMP;
	} else {
		/* The password was right, whatever after_ok said. */
		login_settle_ok(&l->ticket, loop_now_ms());
	}
	finish(l);
}

static void submit(struct login *l)
{
	l->step = STEP_CHECK;
	l->wj.fn = check_run;
	l->wj.done = check_done;
	l->wj.arg = l;
	l->wj.loop = l->rq.loop;
	worker_submit(&l->wj);
}

static void wait_timer(struct loop *loop, void *arg)
{
	struct login *l = arg;
	(void)loop;
	l->timer = 0;
	submit(l);
}

static int bad_shape(struct str user, struct str pass)
{
	return user.len == 0 || user.len > LOGIN_USER_MAX || memchr(user.p, '\0', user.len) ||
	       pass.len > LOGIN_PASS_MAX || (pass.len && memchr(pass.p, '\0', pass.len));
}

void login_user_name(struct store *st, struct str user, char out[LOGIN_USER_MAX + 1])
{
	size_t n = user.len > LOGIN_USER_MAX ? LOGIN_USER_MAX : user.len;

	for (size_t i = 0; i < n; i++) {
		char c = user.p[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	out[n] = '\0';
	/* An ASCII-only client sends an IDN domain's A-labels: still the
	 * account, and counted as it. */
	if (st)
		store_served_spelling(st, out, LOGIN_USER_MAX + 1);
}

void login_request_init(struct login_request *rq, const struct login_proto *p, struct store *st,
			struct loop *loop, const char *session, const char *ip, void *arg,
			const struct login_creds *c)
{
	/* A compound literal: every field not named here is zero. */
	*rq = (struct login_request){
		.store = st,
		.loop = loop,
		.module = p->module,
		.session = session,
		.ip = ip,
		.mech = c->mech,
		.metric = p->metric,
		.user = c->user,
		.pass = c->pass,
		.malformed = c->malformed,
		.scram = c->scram,
		.done = p->done,
		.arg = arg,
	};
}

/* Copies rq into a new flow; l->malformed is the reason the attempt
 * cannot succeed, or "". */
static struct login *flow_new(const struct login_request *rq)
{
	struct login *l = xcalloc(1, sizeof *l);
	const char *malformed = rq->malformed;

	l->rq = *rq;
	l->rq.user = l->rq.pass = STR_NULL;
	l->rq.module = l->rq.session = l->rq.ip = l->rq.mech = l->rq.malformed = NULL;
	copy_c(l->module, sizeof l->module, rq->module);
	copy_c(l->session, sizeof l->session, rq->session);
	copy_c(l->ip, sizeof l->ip, rq->ip);
	copy_c(l->mech, sizeof l->mech, rq->mech);
	l->res.aborted = malformed && strcmp(malformed, LOGIN_ABORTED) == 0;
	if (!malformed && bad_shape(rq->user, rq->pass))
		malformed = "malformed";
	/* The name for the log and the account's counter; a malformed one
	 * as sent (cut, lowercased): it names no account. */
	login_user_name(malformed ? NULL : l->rq.store, rq->user, l->user);
	if (!malformed && rq->pass.len) {
		memcpy(l->pass, rq->pass.p, rq->pass.len);
		l->pass_len = rq->pass.len;
	}
	if (rq->scram) {
		/* The name as checked (lowercased, our spelling): AuthMessage
		 * keeps the one the client sent. */
		l->scram = *rq->scram;
		memcpy(l->scram.user, l->user, sizeof l->scram.user);
		l->has_scram = 1;
	}
	l->rq.scram = NULL;
	copy_c(l->malformed, sizeof l->malformed, malformed);
	return l;
}

/* The gate: 0 admitted (with *wait_r), 1 held for its pair's lead (only
 * when may_hold), 2 to hold for its busy address (only when may_wait),
 * -1 refused (logged; the result says how long to wait and whether it
 * was for checks under way, busy, rather than failures). */
static int flow_admit(struct login *l, uint64_t now_ms, int may_hold, int may_wait, unsigned *wait_r)
{
	char q[LOGIN_USER_MAX * 4 + 8];
	/* A cancel guessed no password: it counts against the address only,
	 * so nobody spaces out an account's checks with cancels. */
	const char *user = l->res.aborted ? "" : l->user;
	enum login_gate g = may_hold ? login_limit_admit_or_hold(l->ip, user, now_ms, wait_r, &l->ticket)
				     : login_limit_admit(l->ip, user, now_ms, wait_r, &l->ticket);

	if (g == LOGIN_GATE_GO)
		return 0;
	if (g == LOGIN_GATE_HOLD)
		return 1;
	if ((g == LOGIN_GATE_BUSY || g == LOGIN_GATE_SITE_BUSY) && may_wait)
		return 2;
	l->res.retry_after_s = login_gate_retry_s(g);
	l->res.busy = login_gate_busy(g);
	explicit_bzero(l->pass, sizeof l->pass);
	log_info(l->module, l->session[0] ? l->session : NULL,
		 "event=auth_refused reason=%s mech=%s user=%s ip=%s", login_gate_reason(g), l->mech,
		 log_quoted(l->user, q, sizeof q), l->ip);
	return -1;
}

/* From the gate on; never calls done() itself (a timer or the worker does). */
static void flow_go(struct login *l, int may_hold)
{
	unsigned wait;
	int g = flow_admit(l, loop_now_ms(), may_hold, !l->hold_expired, &wait);

	if (g < 0) {
		reply_later(l, LOGIN_REFUSED, LOGIN_MAX_DELAY_MS);
		return;
	}
	if (g > 0) {
		hold(l, g == 2);
		return;
	}
	if (l->malformed[0]) {
		failed(l, l->malformed);
		return;
	}
	if (wait) {
		l->step = STEP_WAIT;
		l->timer = loop_timer_add(l->rq.loop, wait, wait_timer, l);
		return;
	}
	submit(l);
}

struct login *login_start(const struct login_request *rq)
{
	struct login *l = flow_new(rq);

	flow_go(l, 1);
	return l;
}

void login_abandon(struct login **lp)
{
	struct login *l = *lp;

	*lp = NULL;
	if (!l)
		return;
	if (l->step == STEP_CHECK) {
		l->abandoned = 1; /* check_done settles and frees */
		return;
	}
	if (l->step == STEP_HOLD) {
		/* Nothing reserved. Off the list, or its wake is posted and
		 * frees it (the wake runs on this loop, after us). */
		pthread_mutex_lock(&held_lock);
		int mine = held_unlink(l);
		pthread_mutex_unlock(&held_lock);
		if (!mine) {
			l->abandoned = 1;
			return;
		}
	}
	if (l->timer)
		loop_timer_del(l->rq.loop, l->timer);
	/* Waiting for its slot: the reservation stays as a failure, so
	 * opening and dropping connections buys nothing. */
	if (l->step == STEP_WAIT)
		login_settle_failed(&l->ticket, loop_now_ms(), NULL);
	destroy(l);
}

static uint64_t mono_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

enum login_outcome login_check_wait(const struct login_request *rq, struct login_result *r)
{
	struct login *l = flow_new(rq);
	unsigned wait, delay = 0;
	enum login_outcome o = LOGIN_OK;

	memset(r, 0, sizeof *r);
	if (flow_admit(l, mono_now_ms(), 0, 0, &wait) < 0) {
		/* Answered at once (HTTP says 429): nothing was checked, and a
		 * thread asleep for each refusal let one address over its
		 * budget hold every HTTP job, so JMAP answered everyone else
		 * 503 (a loop's timer costs nothing; a thread does). */
		o = LOGIN_REFUSED;
	} else if (l->malformed[0]) {
		o = LOGIN_FAILED;
		delay = fail_record(l, l->malformed, mono_now_ms());
	} else {
		if (wait)
			sleep_ms(wait); /* the account's spacing (LOGIN_WAIT_MAX_MS at most) */
		int rc = store_account_login_scoped(l->rq.store, l->user, l->pass, l->rq.scope,
						    &r->account, &r->cred, &r->apppass);
		explicit_bzero(l->pass, sizeof l->pass);
		if (rc == 1) {
			login_settle_ok(&l->ticket, mono_now_ms());
		} else if (rc == 0 || rc == STORE_LOGIN_NOLOGIN) {
			o = LOGIN_FAILED;
			r->nologin = rc == STORE_LOGIN_NOLOGIN;
			delay = fail_record(l, r->nologin ? "nologin" : "password", mono_now_ms());
		} else {
			login_settle_cancel(&l->ticket);
			log_warn(l->module, l->session[0] ? l->session : NULL,
				 "event=auth_error reason=store_error ip=%s", l->ip);
			o = LOGIN_TEMP;
		}
	}
	if (delay)
		sleep_ms(delay);
	r->outcome = o;
	r->retry_after_s = l->res.retry_after_s;
	r->busy = l->res.busy;
	r->user = NULL;
	r->mech = NULL;
	destroy(l);
	return o;
}

const char *login_refused_text(const struct login_result *r)
{
	/* Indexed by busy: a refusal for checks under way claims no failure. */
	static const char *const texts[2] = {
		"too many failed attempts, try again later",
		"too many logins under way, try again later",
	};
	return texts[r->busy != 0];
}

struct login_held *login_hold(const struct login_result *r)
{
	struct login_held *h = xcalloc(1, sizeof *h);

	h->account = r->account;
	h->apppass = r->apppass;
	h->cred = r->cred;
	copy_c(h->user, sizeof h->user, r->user);
	copy_c(h->mech, sizeof h->mech, r->mech);
	return h;
}

void login_held_result(const struct login_held *h, struct login_result *r)
{
	memset(r, 0, sizeof *r);
	r->outcome = LOGIN_OK;
	r->account = h->account;
	r->apppass = h->apppass;
	r->cred = h->cred;
	r->user = h->user;
	r->mech = h->mech;
	r->scram_final = "";
}

void login_held_free(struct login_held **hp)
{
	if (*hp) {
		explicit_bzero(*hp, sizeof **hp);
		free(*hp);
		*hp = NULL;
	}
}
