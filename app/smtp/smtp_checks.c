/*
 * smtp_checks.c — port 25's authentication stages (DESIGN.md §3b, stages
 * 1, 2 and 4): iprev at connect, SPF of MAIL FROM (smtp_spf.c), and at
 * the end of DATA every DKIM signature and the ARC chain (auth/arc.h),
 * then DMARC over the SPF and DKIM results, then the policy decision
 * (policy/policy.h), then delivery with one Authentication-Results field
 * prepended, or the verdict.
 *
 * Each stage may wait without blocking the loop: iprev and SPF run on the
 * loop's resolver while the client talks; at the end of DATA the session
 * waits in SMTP_S_WAIT_STORE (reading paused, as for the store) while
 * DKIM's key lookups, then ARC's (started with DKIM's), then the SPF and
 * iprev checks still running, then DMARC's lookups finish. A big
 * message's body is hashed for DKIM and ARC on the worker pool. One
 * continuation at most is posted to the loop at a time: DKIM's wake posts
 * only while the stage waits for DKIM, ARC's only while it waits for ARC.
 *
 * Each lookup is bounded by the resolver's timeouts, but not their sum: a
 * sender whose nameservers never answer could make SPF (up to ~100
 * queries in a row), iprev, DKIM, ARC and DMARC (up to 40) wait out
 * c-ares' tries one after another, tens of minutes with the idle and
 * session limits suspended in SMTP_S_WAIT_STORE. So the stage has one
 * deadline, SMTP_CHECKS_DEADLINE_MS from the end of DATA: what is still
 * running then ends as a lookup that failed temporarily would (SPF,
 * iprev, DKIM and DMARC temperror, ARC a temporary fail), logged once
 * (event=checks_timeout checks=...), and the message goes on as with any
 * temperror (a DMARC temperror is a 451). DMARC, when it had not started
 * yet, still runs over those results, as it would after a lookup that
 * timed out, for a quarter of the deadline more at most (the From
 * domain's own nameservers may be fine), so the stage's whole time is
 * 1.25 x the deadline at most. As Rspamd's task_timeout
 * (8 s, then a soft reject), but longer: RFC 7208 §4.6.4 wants SPF given
 * 20 s at least, and SPF started at MAIL, before this.
 *
 * The decision is data (struct verdict); this file renders it and logs
 * one record per message with every result (event=delivered or
 * event=message_rejected, auth_results_log), counts each result
 * (metrics_auth_inc), and calls auth_results_observe() once the DMARC
 * result is known.
 *
 * The administrator's exceptions are named settings (SCHEMA.md):
 * setting/dmarc_tolerated (sending domains whose DMARC failures are
 * accepted) and setting/arc_trusted (trusted ARC sealers: a cv=pass chain
 * whose newest set sealed by one of them carries an AAR with dmarc=pass
 * for the message's From domain (header.from=) overrides a local DMARC
 * failure, as Rspamd and Stalwart allow), read per
 * message (one LMDB read each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/arc.h"
#include "auth/auth_results.h"
#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "auth/spf.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dkim/dkim_verify.h"
#include "dns/dns.h"
#include "dns/dns_drive.h"
#include "net/conn.h"
#include "policy/policy.h"
#include "report/dmarc_fail.h"
#include "report/dmarc_intake.h"
#include "report/tlsrpt_intake.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_spam.h"

#define SETTING_LIST_MAX 8192
#define FIELD_MAX 8192
/* The end-of-DATA checks' total time (above). Tests shorten it with
 * TERN_TEST_CHECKS_DEADLINE_MS (test-only, as TERN_TEST_ALLOC_FAIL; not a
 * user setting). */
#define SMTP_CHECKS_DEADLINE_MS 30000
#define DMARC_GRACE_SHARE 4 /* DMARC started past it: deadline / this more */
#define TIMED_OUT_MAX 40 /* "dkim,arc,spf,iprev,dmarc" */

enum phase { PH_DKIM, PH_ARC, PH_WAIT, PH_DMARC, PH_DONE };

struct smtp_checks {
	struct smtp_session *s;
	enum phase phase;
	struct dns_resolver resolver;
	struct dkim_verifier *dkim;
	struct arc_verifier *arc;
	struct dkim_bodies *bodies; /* both verifiers': a body hashed once */
	struct dmarc_eval *dmarc;
	struct dmarc_run *dmarc_run;
	struct worker_job wj;
	int starting; /* inside dmarc_run(): its done only records */
	int feeding;  /* the worker pool hashes the body (feed_run) */
	int posted;   /* dkim_resume is queued on the loop */
	int expired;  /* the deadline passed: nothing more may wait */
	uint64_t deadline_timer;
	uint64_t deadline_ms;
	char timed_out[TIMED_OUT_MAX]; /* the checks the deadline cut, for the log */
	char author[DMARC_DOMAIN_MAX];
	int author_ambiguous; /* auth_author_domain() said -2 */
};

/* ---- iprev, from the connect on ---- */

static void iprev_done(void *arg)
{
	struct smtp_session *s = arg;
	s->iprev_run = NULL;
	if (s->in_tx && s->tx.checks)
		smtp_checks_wake(s);
}

void smtp_checks_connect(struct smtp_session *s)
{
	struct dns *d = dns_thread();
	if (!d || s->mode != SMTP_MODE_MX || !smtp_cfg->auth_checks)
		return;
	smtp_spam_connect(s);
	s->iprev = iprev_eval_new(s->conn->peer_ip);
	if (!s->iprev)
		return; /* not an IP peer (a test socket) */
	s->iprev_resolver = dns_resolver_of(d);
	s->iprev_run = iprev_run(&s->iprev_resolver, s->iprev, iprev_done, s);
}

void smtp_checks_session_free(struct smtp_session *s)
{
	dns_drive_cancel(s->iprev_run);
	s->iprev_run = NULL;
	iprev_eval_free(&s->iprev);
	smtp_spam_session_free(s);
}

/* ---- the message ---- */

void smtp_checks_tx_free(struct smtp_tx *tx)
{
	struct smtp_checks *c = tx->checks;
	smtp_spam_tx_free(tx);
	if (!c)
		return;
	if (c->deadline_timer)
		loop_timer_del(c->s->loop, c->deadline_timer);
	dmarc_run_cancel(c->dmarc_run);
	dmarc_eval_free(&c->dmarc);
	dkim_verifier_free(&c->dkim);
	arc_verifier_free(&c->arc);
	free(c->bodies);
	free(c);
	tx->checks = NULL;
}

void smtp_reply_verdict(struct smtp_session *s, const struct verdict *v)
{
	smtp_reply(s, "%u %s %s", v->code, v->enhanced, v->text);
}

/* Reads a named setting into buf (at most SETTING_LIST_MAX); "" when unset. */
static void setting(const char *name, char *buf, size_t bufsz)
{
	size_t n = 0;
	if (store_meta_get(smtp_store, name, buf, bufsz - 1, &n) != STORE_OK)
		n = 0;
	buf[n] = '\0';
}

/* A DMARC failure report, when the sender's record asks for one
 * (report/dmarc_fail.h decides; never for our own domains, the caller's
 * check, nor a 451 whose retry counts). */
static void fail_report(const struct auth_results *r, struct smtp_tx *tx)
{
	struct buf ar;
	buf_init(&ar, 8192);
	auth_results_field(r, &ar);
	struct dmarc_fail_msg m = {
	    .verdict = r->dmarc_verdict,
	    .source_ip = r->client_ip,
	    .mail_from = r->mail_from,
	    .auth_results = buf_data(&ar),
	    .delivery = strcmp(r->action, "junk") == 0     ? "spam"
			: strcmp(r->action, "reject") == 0 ? "reject"
							   : "delivered",
	    .spf_failed = r->has_spf && r->spf != SPF_PASS && r->spf != SPF_NONE &&
			  r->spf != SPF_NEUTRAL,
	    .msg = tx->data.p,
	    .len = tx->data.len,
	    .spf = r->has_spf ? tx->spf : NULL,
	};
	const struct dmarc_verdict *v = r->dmarc_verdict;
	/* What failed to authenticate an aligned identity (RFC 9991's
	 * Identity-Alignment); the DKIM fields name such a signature. */
	m.spf_aligned_failed = v && r->has_spf && r->spf != SPF_PASS && r->mail_from && r->mail_from[0] &&
			       dmarc_verdict_aligned(v, r->spf_domain, v->aspf);
	const struct dkim_sig_result *shown = NULL;
	for (size_t i = 0; i < r->ndkim; i++) {
		const struct dkim_sig_result *d = r->dkim[i];
		if (d->result == DKIM_RESULT_PASS || d->result == DKIM_RESULT_NONE)
			continue;
		m.dkim_failed = 1;
		int al = v && d->d[0] && dmarc_verdict_aligned(v, d->d, v->adkim);
		if (d->d[0] && (!shown || (al && !m.dkim_aligned_failed)))
			shown = d;
		m.dkim_aligned_failed |= al;
	}
	if (shown) {
		m.dkim_domain = shown->d;
		m.dkim_selector = shown->s;
		m.dkim_identity = shown->i;
		m.dkim_failure = shown->failed;
	}
	dmarc_fail_note(&m, time_wall());
	buf_free(&ar);
}

/* The Author Domain or a parent of it is one we serve. */
static int domain_ours(const char *domain)
{
	for (const char *p = domain; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
		if (strchr(p, '.') && store_domain_is_local(smtp_store, p) == 1)
			return 1;
	return 0;
}

static const char *const action_names[] = {"accept", "junk", "reject"};

static int sealer_listed(void *arg, const char *domain)
{
	return policy_domain_listed(arg, domain);
}

static void count(const struct auth_results *r)
{
	if (r->has_iprev)
		metrics_auth_inc(METRIC_AUTH_IPREV, iprev_result_name(r->iprev));
	if (r->has_spf)
		metrics_auth_inc(METRIC_AUTH_SPF, spf_result_name(r->spf));
	if (r->ndkim == 0)
		metrics_auth_inc(METRIC_AUTH_DKIM, "none");
	for (size_t i = 0; i < r->ndkim; i++)
		metrics_auth_inc(METRIC_AUTH_DKIM, dkim_result_name(r->dkim[i]->result));
	if (r->dmarc_verdict)
		metrics_auth_inc(METRIC_AUTH_DMARC, dmarc_result_name(r->dmarc));
	if (r->arc)
		metrics_auth_inc(METRIC_AUTH_ARC, arc_cv_name(r->arc->cv));
	metrics_auth_inc(METRIC_AUTH_ACTION, r->action);
}

/* The sender's domain takes no mail (RFC 7505 §4.2, smtp_nullmx.c). */
static void refuse_null_mx(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char q[600];
	log_info("smtp", s->id, "event=message_rejected reason=null_mx from=%s size=%zu%s",
		 log_q(tx->mail_from, q, sizeof q), tx->data.len, smtp_spf_log(tx));
	metrics_inc(METRIC_REJECTED);
	if (!s->conn_gone)
		smtp_reply_null_mx(s, tx->mail_from);
	tx->refused = 1;
	smtp_tx_committed(s);
}

/* Everything is known: decide, then deliver or refuse. */
static void decide(struct smtp_checks *c)
{
	struct smtp_session *s = c->s;
	struct smtp_tx *tx = &s->tx;
	const struct dmarc_verdict *dv = dmarc_eval_verdict(c->dmarc);
	if (c->deadline_timer) {
		loop_timer_del(s->loop, c->deadline_timer);
		c->deadline_timer = 0;
	}
	if (c->timed_out[0])
		log_info("smtp", s->id, "event=checks_timeout checks=%s", c->timed_out + 1);
	/* The sender's null MX, asked at MAIL beside SPF: waited for by
	 * nobody, so a resolver slow to answer it holds no reply; its
	 * answer is in by now unless the MX lookup alone is slow. */
	if (smtp_nullmx_sender(s) == 1) {
		refuse_null_mx(s); /* frees c */
		return;
	}
	struct auth_results r = {
	    .authserv_id = hostname_now(),
	    .client_ip = s->iprev ? iprev_eval_ip(s->iprev) : s->conn_gone ? "" : s->conn->peer_ip,
	    .has_iprev = s->iprev != NULL,
	    .iprev = s->iprev ? iprev_eval_result(s->iprev) : IPREV_PERMERROR,
	    .has_spf = tx->spf != NULL,
	    .spf = tx->spf ? spf_eval_result(tx->spf) : SPF_NONE,
	    .mail_from = tx->mail_from,
	    .spf_domain = tx->spf ? spf_eval_domain(tx->spf) : NULL,
	    .helo = s->helo,
	    .dmarc = dv->result,
	    .header_from = c->author,
	    .dmarc_verdict = dv,
	};
	if (r.has_iprev && r.iprev == IPREV_PASS)
		r.iprev_name = iprev_eval_name(s->iprev);
	r.ndkim = dkim_verifier_count(c->dkim);
	if (r.ndkim > DKIM_VERIFY_SIGS_MAX)
		r.ndkim = DKIM_VERIFY_SIGS_MAX;
	for (size_t i = 0; i < r.ndkim; i++)
		r.dkim[i] = dkim_verifier_result(c->dkim, i);

	char rd[TLSRPT_DKIM_MAX];
	dmarc_intake_dkim(r.dkim, r.ndkim, rd, sizeof rd);
	tx->report_dkim = arena_printf(tx->arena, "%s", rd);

	r.arc = arc_verifier_result(c->arc);
	/* The forwarded copy's seal says what was found. A fail that a key
	 * lookup's temporary failure (or the stage's deadline) caused judged
	 * nothing: sealing it cv=fail would end a sound chain for every later
	 * hop (RFC 8617 §5.1.2), so the copy passes the chain on unsealed. */
	if (r.arc && !r.arc->temporary) {
		tx->arc_known = 1;
		tx->arc_cv = (int)r.arc->cv;
	}

	/* The policy's inputs. */
	char list[SETTING_LIST_MAX];
	struct policy_auth_in in = {.dmarc = dv->result, .disposition = dv->disposition,
				    .from_ambiguous = c->author_ambiguous, .temp_moot = dv->temp_moot};
	if (c->author[0]) {
		in.from_ours = domain_ours(c->author);
		if (in.from_ours) {
			if (r.has_spf && tx->mail_from[0] && r.spf == SPF_PASS)
				in.own_aligned = policy_domain_related(spf_eval_domain(tx->spf), c->author);
			for (size_t i = 0; i < r.ndkim && !in.own_aligned; i++)
				in.own_aligned = dkim_result_authenticates(r.dkim[i]) &&
						 policy_domain_related(r.dkim[i]->d, c->author);
		}
		setting("setting/dmarc_tolerated", list, sizeof list);
		in.tolerated = policy_domain_listed(list, c->author);
	}
	if (r.arc && r.arc->cv == ARC_CV_PASS) {
		setting("setting/arc_trusted", list, sizeof list);
		unsigned i = list[0] ? arc_trusted(r.arc, sealer_listed, list, "dmarc", "pass",
							  c->author) : 0;
		if (i) {
			in.arc_override = 1;
			r.arc_trusted = r.arc->set[i - 1].d;
		}
	}
	struct policy_decision pd;
	policy_auth_decide(&in, &pd);
	r.action = pd.action == POLICY_REFUSE && pd.verdict.code < 500 ? "tempfail"
									 : action_names[pd.action];
	r.policy_reason = pd.reason;
	count(&r);
	auth_results_observe(&r);
	if (dv->has_ruf && !in.from_ours && strcmp(r.action, "tempfail") != 0)
		fail_report(&r, tx);

	struct buf log;
	buf_init(&log, 2048);
	auth_results_log(&r, &log);
	tx->auth_log = arena_printf(tx->arena, "%.*s", (int)buf_len(&log), buf_data(&log));
	buf_free(&log);

	if (pd.action == POLICY_REFUSE) {
		char q[600];
		log_info("smtp", s->id, "event=message_rejected reason=%s from=%s size=%zu%s", pd.reason,
			 log_q(tx->mail_from, q, sizeof q), tx->data.len, tx->auth_log);
		metrics_inc(METRIC_REJECTED);
		if (!s->conn_gone)
			smtp_reply_verdict(s, &pd.verdict);
		tx->refused = 1;
		smtp_tx_committed(s);
		return;
	}
	struct buf field;
	buf_init(&field, FIELD_MAX);
	if (auth_results_field(&r, &field) < 0)
		buf_reset(&field); /* cannot happen within FIELD_MAX; never refuse for it */
	char *fields = arena_printf(tx->arena, "%.*s", (int)buf_len(&field), buf_data(&field));
	buf_free(&field);

	/* Stage 4's last step: the spam score over these results. */
	struct spam_conn_in sin = {
	    .helo = s->helo,
	    .helo_ours = strcasecmp(s->helo, hostname_now()) == 0 || domain_ours(s->helo) ||
			 store_domain_is_local(smtp_store, s->helo) == 1,
	    .has_iprev = r.has_iprev,
	    .iprev = (int)r.iprev,
	    .spf = !r.has_spf ? SPAM_AUTH_NONE
		   : r.spf == SPF_PASS ? SPAM_AUTH_PASS
		   : r.spf == SPF_FAIL ? SPAM_AUTH_FAIL
		   : r.spf == SPF_SOFTFAIL ? SPAM_AUTH_SOFT
		   : r.spf == SPF_PERMERROR ? SPAM_AUTH_ERROR : SPAM_AUTH_NONE,
	    .dmarc = dv->result == DMARC_RESULT_PASS ? SPAM_AUTH_PASS
		     : dv->result == DMARC_RESULT_FAIL ? SPAM_AUTH_FAIL : SPAM_AUTH_NONE,
	    .dmarc_policy = (int)dv->policy,
	    .arc_trusted = in.arc_override,
	    .tolerated = in.tolerated,
	    .arc = !r.arc ? SPAM_AUTH_NONE
		   : r.arc->cv == ARC_CV_PASS ? SPAM_AUTH_PASS
		   : r.arc->cv == ARC_CV_FAIL ? SPAM_AUTH_FAIL : SPAM_AUTH_NONE,
	};
	/* A pass counts when it speaks for the message (not one that leaves
	 * octets after l= unsigned, or under a second Subject); a key in
	 * testing mode makes its signature count as none, pass or fail (RFC
	 * 6376 §3.6.1 t=y: "MUST NOT treat messages from Signers in testing
	 * mode differently from unsigned email"). */
	for (size_t i = 0; i < r.ndkim; i++) {
		sin.dkim_pass += dkim_result_authenticates(r.dkim[i]);
		sin.dkim_fail += r.dkim[i]->result == DKIM_RESULT_FAIL && !r.dkim[i]->testing;
	}
	s->tx.dmarc_pass = dv->result == DMARC_RESULT_PASS;
	smtp_spam_message(s, &sin, c->author, fields, pd.action == POLICY_JUNK);
}

static void step(struct smtp_checks *c);

static void dmarc_done(void *arg, struct dmarc_eval *e)
{
	struct smtp_checks *c = arg;
	(void)e;
	c->dmarc_run = NULL;
	if (!c->starting)
		step(c);
}

static void expire(struct smtp_checks *c);

static void dkim_resume(void *arg)
{
	struct smtp_checks *c = arg;
	c->posted = 0;
	if (c->expired)
		expire(c);
	else
		step(c);
}

/* From the resolver's callback: continue on the loop, outside it. */
static void dkim_wake(void *arg)
{
	struct smtp_checks *c = arg;
	c->posted = 1;
	loop_post(c->s->loop, dkim_resume, c);
}

/* ARC's lookups were started with DKIM's: only a wait for them resumes. */
static void arc_wake(void *arg)
{
	struct smtp_checks *c = arg;
	if (c->phase == PH_ARC) {
		c->posted = 1;
		loop_post(c->s->loop, dkim_resume, c);
	}
}

static void timed_out(struct smtp_checks *c, const char *name)
{
	size_t n = strlen(c->timed_out);
	snprintf(c->timed_out + n, sizeof c->timed_out - n, ",%s", name);
}

/* The deadline passed: what still waits ends as temperror, then on. */
static void expire(struct smtp_checks *c)
{
	struct smtp_session *s = c->s;

	if (c->phase == PH_DONE)
		return;
	if (dkim_verifier_expire(c->dkim))
		timed_out(c, "dkim");
	if (arc_verifier_expire(c->arc))
		timed_out(c, "arc");
	if (smtp_spf_expire(s))
		timed_out(c, "spf");
	if (s->iprev_run) {
		dns_drive_cancel(s->iprev_run);
		s->iprev_run = NULL;
		iprev_eval_abort(s->iprev);
		timed_out(c, "iprev");
	}
	if (c->dmarc_run) {
		dmarc_run_cancel(c->dmarc_run);
		c->dmarc_run = NULL;
		dmarc_eval_abort(c->dmarc, "no result within the checks' time limit");
		timed_out(c, "dmarc");
	}
	step(c); /* everything is done now: on to the decision */
}

static void deadline_passed(struct loop *loop, void *arg)
{
	struct smtp_checks *c = arg;
	(void)loop;
	c->deadline_timer = 0;
	c->expired = 1;
	/* A continuation on its way, or the body on the worker pool: they
	 * see expired and cut what is left, so the checks never run twice. */
	if (c->posted || c->feeding)
		return;
	expire(c);
}

static uint64_t deadline_ms(void)
{
	const char *v = getenv("TERN_TEST_CHECKS_DEADLINE_MS");
	unsigned long long ms = v && *v ? strtoull(v, NULL, 10) : 0;
	return ms ? ms : SMTP_CHECKS_DEADLINE_MS;
}

static void start_dmarc(struct smtp_checks *c)
{
	struct smtp_tx *tx = &c->s->tx;
	size_t np, nt;
	const char *pass[DKIM_VERIFY_SIGS_MAX], *temp[DKIM_VERIFY_SIGS_MAX];

	/* Keys in testing mode (t=y) count as unsigned (RFC 6376 §3.6.1),
	 * and so does a pass that left body octets unsigned (l=). */
	auth_dkim_for_dmarc(c->dkim, pass, &np, temp, &nt, DKIM_VERIFY_SIGS_MAX);
	c->author_ambiguous = auth_author_domain(tx->data.p, tx->data.len, c->author,
						 sizeof c->author) == -2;
	/* RFC 9989 §4.4.2: only the MAIL FROM identity counts for DMARC. */
	struct dmarc_input in = {c->author,
				 tx->spf && tx->mail_from[0] ? spf_eval_result(tx->spf) : SPF_NONE,
				 tx->spf ? spf_eval_domain(tx->spf) : "", pass, np,
				 randombytes_uniform(100), temp, nt};
	c->dmarc = dmarc_eval_new(&in);
	c->phase = PH_DMARC;
	c->starting = 1;
	c->dmarc_run = dmarc_run(&c->resolver, c->dmarc, dmarc_done, c);
	c->starting = 0;
	if (c->dmarc_run && c->expired) /* past the deadline: a short while more */
		c->deadline_timer = loop_timer_add(c->s->loop, c->deadline_ms / DMARC_GRACE_SHARE,
						   deadline_passed, c);
}

static void step(struct smtp_checks *c)
{
	struct smtp_session *s = c->s;

	if (c->phase == PH_DKIM) {
		if (dkim_verifier_run(c->dkim, dkim_wake, c) == DKIM_VERIFY_WAIT)
			return;
		c->phase = PH_ARC;
	}
	if (c->phase == PH_ARC) {
		if (arc_verifier_run(c->arc, arc_wake, c) == ARC_VERIFY_WAIT)
			return;
		c->phase = PH_WAIT;
	}
	if (c->phase == PH_WAIT) {
		/* SPF and iprev started earlier; their ends wake us. */
		if (s->tx.spf_run || s->tx.spf_waiting || s->iprev_run)
			return;
		start_dmarc(c);
		if (c->dmarc_run)
			return; /* dmarc_done steps again */
	}
	if (c->phase == PH_DMARC && !c->dmarc_run) {
		c->phase = PH_DONE;
		decide(c);
	}
}

void smtp_checks_wake(struct smtp_session *s)
{
	struct smtp_checks *c = s->tx.checks;
	if (c && c->phase == PH_WAIT)
		step(c);
}

static void feed_run(void *arg)
{
	struct smtp_checks *c = arg;
	dkim_verifier_update(c->dkim, c->s->tx.data.p, c->s->tx.data.len);
	arc_verifier_update(c->arc, c->s->tx.data.p, c->s->tx.data.len);
}

/* Both verifiers have the message: ARC's lookups start beside DKIM's. */
static void start_lookups(struct smtp_checks *c)
{
	arc_verifier_run(c->arc, arc_wake, c);
	step(c);
}

static void feed_done(void *arg)
{
	struct smtp_checks *c = arg;
	c->feeding = 0;
	if (c->expired)
		expire(c); /* nothing is asked: every key lookup ends as temperror */
	else
		start_lookups(c);
}

void smtp_checks_message(struct smtp_session *s)
{
	struct dns *d = dns_thread();
	struct smtp_tx *tx = &s->tx;

	if (!smtp_cfg->auth_checks) {
		/* TERN_AUTH_CHECKS=off: a gateway in front checked (or a
		 * benchmark); forged fields for us are still removed. A
		 * null MX answer in by now still refuses; nothing waits. */
		if (smtp_nullmx_sender(s) == 1) {
			refuse_null_mx(s);
			return;
		}
		smtp_tx_store(s, NULL, 0);
		return;
	}
	if (!d) {
		/* No resolver on this thread (it could not be created): no
		 * checks, as before they existed; logged once per message. */
		log_warn("smtp", s->id, "event=checks_skipped reason=no_resolver");
		smtp_tx_store(s, NULL, 0);
		return;
	}
	struct smtp_checks *c = xcalloc(1, sizeof *c);
	c->s = s;
	c->resolver = dns_resolver_of(d);
	c->dkim = dkim_verifier_new(&c->resolver, time_wall());
	c->arc = arc_verifier_new(&c->resolver, time_wall());
	c->bodies = xmalloc(sizeof *c->bodies);
	dkim_bodies_init(c->bodies);
	dkim_verifier_share_bodies(c->dkim, c->bodies);
	arc_verifier_share_bodies(c->arc, c->bodies);
	c->phase = PH_DKIM;
	tx->checks = c;
	c->deadline_ms = deadline_ms();
	c->deadline_timer = loop_timer_add(s->loop, c->deadline_ms, deadline_passed, c);
	if (tx->data.len > WORKER_MESSAGE_BYTES && worker_pool_running()) {
		c->feeding = 1;
		/* The body hashes are linear in its size: off the loop. */
		c->wj.fn = feed_run;
		c->wj.done = feed_done;
		c->wj.arg = c;
		c->wj.loop = s->loop;
		worker_submit(&c->wj);
		return;
	}
	dkim_verifier_update(c->dkim, tx->data.p, tx->data.len);
	arc_verifier_update(c->arc, tx->data.p, tx->data.len);
	start_lookups(c);
}
