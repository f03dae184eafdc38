/*
 * queue.c — queue_submit(): resolve recipients, copy local ones into their
 * INBOX and record remote ones as a queue entry, in one writer commit.
 * With QUEUE_SIEVE, the local accounts' scripts run first; their
 * redirects to outside addresses become a second entry in that commit,
 * a forwarded copy as port 25 makes (forward/forward_copy.h); when the
 * scripts edited it, it is DKIM-signed again (resign). See queue.h.
 */
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/hostname.h"
#include "deliver/deliver.h"
#include "deliver/deliver_sieve.h"
#include "dkim/dkim.h"
#include "dkim/dkim_verify.h"
#include "queue/dsn.h"
#include "queue/queue_7bit.h"
#include "sieve/sieve.h"
#include "forward/forward.h"
#include "forward/forward_copy.h"
#include "mime/rfc5322.h"
#include "store/store.h"
#include "store/store_queue.h"

/* Every account an address names gets its copy (store.h). */
#define LOCAL_MAX_PER_RCPT STORE_RESOLVE_ACCOUNTS_MAX

struct submit_job {
	struct worker_job wj;       /* hashing a big message on the pool */
	struct store *st;
	struct delivery dl;         /* the local copies, and the entry through the hook */
	struct queue_request *r;
	struct store_queue_entry e; /* remote recipients; nrcpts 0 when none */
	char *head;                 /* Return-Path for INBOX copies */
	uint32_t *accounts;
	char **envelopes;           /* per account: MAIL FROM and its RCPT TO lines */
	struct deliver_plan *plans;
	size_t naccounts;
	size_t rcpts_room;          /* e.rcpts allocated */
	/* QUEUE_SIEVE: per account, the recipient address that reached it,
	 * what its script leaves for after the commit, and a reject's reason
	 * (NULL: none); the strings in arena. */
	const char **rcpt_of;
	struct deliver_sieve_reply **after;
	const char **rejected;
	struct arena *arena;
	/* QUEUE_SIEVE: redirects to outside addresses leave as a forwarded
	 * copy of their own (forward/forward_copy.h, as on port 25): the
	 * message as the scripts edited it (RFC 5293 §4) and a redirect's
	 * own deadline (RFC 6009 §5). fwd_in is set when there is one. */
	struct forward_copy_in *fwd_in;
	struct forward_copy *fwd;
	const char **fwd_to;        /* its targets, their notify bits, */
	uint8_t *fwd_notify;
	const char **fwd_dt;        /* and our addresses that redirect it */
	struct str fwd_msg;         /* the edited message, when all agree */
	int fwd_mixed;              /* redirects carried different messages */
	int fwd_own_by;             /* a redirect's own deadline replaced MAIL's */
};

/* Accounts a submitted message's redirects may add to its recipients'. */
#define SIEVE_REDIRECT_ACCOUNTS 16
/* Delivered-To fields (redirecting addresses) of the forwarded copy. */
#define FWD_DT_MAX 32

static uint8_t notify_bits(unsigned n);

/*
 * 1 when the message's header has "TLS-Required: No" (RFC 8689 §5): the
 * sender asks that recipients' TLS policies (MTA-STS, DANE) not hold it
 * back. Read with the one header parser; only the header is looked at.
 */
static int tls_optional(const char *data, size_t len)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t used, off = 0;
	int found = 0;

	rfc5322_init(&p);
	while (rfc5322_parse(&p, data + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (str_eq_ci_c(f.name, "TLS-Required") && f.value.len < 16) {
			char v[16];
			size_t n = rfc5322_unfold(f.value, v);
			found = n == 2 && (v[0] | 32) == 'n' && (v[1] | 32) == 'o';
		}
	}
	rfc5322_clear(&p);
	return found;
}

static void job_free(struct submit_job *j)
{
	for (size_t i = 0; j->after && i < j->naccounts; i++)
		deliver_sieve_reply_free(j->after[i]);
	free(j->after);
	free(j->rcpt_of);
	free(j->rejected);
	if (j->fwd) {
		forward_copy_free(j->fwd);
		free(j->fwd);
	}
	arena_free(&j->arena);
	store_queue_entry_free(&j->e);
	free(j->head);
	free(j->plans);
	for (size_t i = 0; i < j->naccounts; i++)
		free(j->envelopes[i]);
	free(j->envelopes);
	free(j->accounts);
	free(j);
}

static void call_done(void *arg)
{
	struct queue_request *r = arg;
	r->done(r, r->arg);
}

/* Completion for requests refused before reaching the store. */
static void complete_now(struct queue_request *r, int result)
{
	r->result = result;
	r->queue_id = 0;
	if (r->loop)
		loop_post(r->loop, call_done, r);
	else
		r->done(r, r->arg);
}

static int enqueue_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct submit_job *j = d->hook_arg;
	int rc = 0;
	if (j->e.nrcpts)
		rc = store_queue_add_txn(st, txn, &j->e, j->r->data, j->r->len);
	if (rc == 0 && j->fwd)
		rc = store_queue_add_txn(st, txn, &j->fwd->e, j->fwd->data, j->fwd->len);
	if (rc == 0 && j->r->txn_also)
		rc = j->r->txn_also(st, txn, j->r->txn_also_arg);
	return rc;
}

/* The entry flags a submitted message's copies leave with. */
static uint32_t entry_flags(const struct queue_request *r)
{
	return ((r->flags & QUEUE_8BITMIME) ? SQ_8BITMIME : 0) |
	       ((r->flags & QUEUE_SMTPUTF8) ? SQ_SMTPUTF8 : 0) |
	       ((r->flags & QUEUE_RET_FULL) ? SQ_RET_FULL : 0) |
	       ((r->flags & QUEUE_RET_HDRS) ? SQ_RET_HDRS : 0) |
	       ((r->flags & QUEUE_REQUIRETLS) ? SQ_REQUIRETLS
		: tls_optional(r->data, r->len) ? SQ_TLS_OPTIONAL : 0) |
	       ((r->flags & QUEUE_BY) ? SQ_BY : 0) | ((r->flags & QUEUE_BY_RETURN) ? SQ_BY_RETURN : 0) |
	       ((r->flags & QUEUE_BY_TRACE) ? SQ_BY_TRACE : 0) |
	       ((r->flags & QUEUE_HOLD) ? SQ_HOLD : 0);
}

/*
 * One outside target of account i's redirect joins the forwarded copy:
 * edited is the message as that script left it (NULL p: as submitted),
 * by/by_deadline the redirect's own Deliver By (the earliest wins, as on
 * port 25), ret its :ret.
 */
static void redirect_out(struct submit_job *j, size_t i, const char *target, unsigned notify,
			 int ret, unsigned by, int64_t by_deadline, struct str edited)
{
	struct forward_copy_in *in = j->fwd_in;
	const struct queue_request *r = j->r;
	if (!in) {
		in = j->fwd_in = arena_zalloc(j->arena, sizeof *in);
		in->targets = j->fwd_to = arena_zalloc(j->arena, SQ_RCPTS_MAX * sizeof *j->fwd_to);
		in->target_notify = j->fwd_notify = arena_zalloc(j->arena, SQ_RCPTS_MAX);
		in->delivered_to = j->fwd_dt = arena_zalloc(j->arena, FWD_DT_MAX * sizeof *j->fwd_dt);
		in->sender = r->sender;
		in->envid = r->envid;
		in->notify_ok = 1; /* the sender is ours, and authenticated */
		in->flags = entry_flags(r);
		in->by_deadline = (r->flags & QUEUE_BY) ? r->by_deadline : 0;
		j->fwd_msg = edited;
	} else if (j->fwd_msg.p != edited.p) {
		j->fwd_mixed = 1;
	}
	if (in->ntargets == SQ_RCPTS_MAX)
		return;
	/* Our address that redirects it: a Delivered-To, and the domain the
	 * copy is sealed for. */
	const char *me = j->rcpt_of[i];
	size_t k = 0;
	while (k < in->ndelivered_to && strcmp(in->delivered_to[k], me) != 0)
		k++;
	if (k == in->ndelivered_to && k < FWD_DT_MAX && strrchr(me, '@')) {
		j->fwd_dt[in->ndelivered_to++] = me;
		if (!in->fwd_domain)
			in->fwd_domain = strrchr(me, '@') + 1;
	}
	j->fwd_notify[in->ntargets] = notify_bits(notify);
	j->fwd_to[in->ntargets++] = arena_strdup(j->arena, target);
	if (ret)
		in->ret = ret;
	if ((by & DELIVER_BY) && (!j->fwd_own_by || by_deadline < in->by_deadline)) {
		in->flags = (in->flags & ~(uint32_t)(SQ_BY | SQ_BY_RETURN | SQ_BY_TRACE)) | SQ_BY |
			    ((by & DELIVER_BY_RETURN) ? SQ_BY_RETURN : 0) |
			    ((by & DELIVER_BY_TRACE) ? SQ_BY_TRACE : 0);
		in->by_deadline = by_deadline;
		j->fwd_own_by = 1;
	}
}

static void add_account(struct submit_job *j, uint32_t id, const char *sender, const char *rcpt);
static void add_remote(struct submit_job *j, const char *addr, const char *orcpt, unsigned notify,
		       int once);

struct reject_notice {
	struct queue_request req;
	struct queue_rcpt rcpt;
	struct buf msg;
	char *to;
};

static void reject_notice_done(struct queue_request *q, void *arg)
{
	struct reject_notice *n = arg;
	if (q->result != STORE_OK)
		log_warn("queue", NULL, "event=sieve_reject_dsn_failed result=%d", q->result);
	buf_free(&n->msg);
	free(n->to);
	free(n);
}

void queue_reject_notice(struct store *st, struct loop *loop, const char *sender,
			 const char *envid, const char *rcpt, const char *reason, const char *msg,
			 size_t len)
{
	char status[300];
	if (!sender[0])
		return; /* nobody to tell */
	snprintf(status, sizeof status, "550 5.7.1 %s", reason);
	struct dsn_rcpt dr = { rcpt, "", status, "", DSN_FAILED, (int64_t)time_wall() };
	struct reject_notice *n = xcalloc(1, sizeof *n);
	struct dsn_info in = {
		.hostname = hostname_now(), .to = sender, .envid = envid ? envid : "",
		.arrival = (int64_t)time_wall(), .now = (int64_t)time_wall(), .ret_full = 0,
		.msg = msg, .msglen = len, .id = (uint64_t)(uintptr_t)n, .rcpts = &dr, .nrcpts = 1,
	};
	buf_init(&n->msg, len + 64 * 1024);
	if (dsn_build(&in, &n->msg) < 0) {
		reject_notice_done(&n->req, n);
		return;
	}
	n->to = xstrdup(sender);
	n->rcpt.addr = n->to;
	n->req.data = buf_data(&n->msg);
	n->req.len = buf_len(&n->msg);
	n->req.sender = "";
	n->req.flags = queue_notice_flags(sender, &n->msg);
	n->req.rcpts = &n->rcpt;
	n->req.nrcpts = 1;
	n->req.loop = loop;
	n->req.done = reject_notice_done;
	n->req.arg = n;
	queue_submit(st, &n->req);
}

/* A local recipient's script rejected the submitted message: the
 * authenticated sender is told, once the rest is stored, unless that
 * RCPT asked for no failure notice (NOTIFY=NEVER, or NOTIFY without
 * FAILURE: RFC 3461 §4.1). An account a redirect reached has no RCPT
 * of its own: told as before. */
static void reject_notice(struct submit_job *j, const char *rcpt, const char *reason)
{
	const struct queue_request *r = j->r;
	for (size_t k = 0; k < r->nrcpts; k++) {
		unsigned n = r->rcpts[k].notify;
		if (r->rcpts[k].addr != rcpt || !n || (n & QUEUE_NOTIFY_FAILURE))
			continue;
		char q[2 * 320 + 8];
		log_info("queue", NULL, "event=notice_skipped reason=notify rcpt=%s kind=sieve_reject",
			 log_q(rcpt, q, sizeof q));
		return;
	}
	queue_reject_notice(j->st, r->loop, r->sender, r->envid, rcpt, reason, r->data, r->len);
}

/*
 * QUEUE_SIEVE: each local account's script over its copy (deliver_sieve.h),
 * before the entry is made: a redirect to an outside address joins the
 * entry's recipients, one to a local account gives that account a copy
 * of its own (its script runs in turn; once per account).
 */
static void sieve_stage(struct submit_job *j)
{
	struct queue_request *r = j->r;
	size_t cap = j->naccounts + SIEVE_REDIRECT_ACCOUNTS;

	j->arena = arena_new(0);
	j->plans = xrealloc(j->plans, cap * sizeof *j->plans);
	j->after = xcalloc(cap, sizeof *j->after);
	j->rejected = xcalloc(cap, sizeof *j->rejected);
	/* envelope-deliverby (RFC 6009 §4): MAIL's BY= for every script; a
	 * redirect's own :bytime* goes with its forwarded copy. */
	struct deliver_sieve_dsn by = {
	    .by = (r->flags & QUEUE_BY) ? DELIVER_BY | ((r->flags & QUEUE_BY_RETURN) ? DELIVER_BY_RETURN : 0) |
					      ((r->flags & QUEUE_BY_TRACE) ? DELIVER_BY_TRACE : 0)
					: 0,
	    .by_deadline = r->by_deadline};
	/* envelope "auth": the account that signed in (RFC 4954 §5). */
	char login[STORE_ADDR_MAX + 1];
	if (r->account && store_account_email(j->st, r->account, login, sizeof login) == STORE_OK)
		by.auth = str_c(arena_strdup(j->arena, login));
	/* Per plan: the message as the script that redirected it here left
	 * it (RFC 5293 §4; p NULL: as submitted). */
	struct str *pmsg = arena_zalloc(j->arena, cap * sizeof *pmsg);
	/* Scripts read what is stored: no field claiming our authserv-id. */
	struct str clean = deliver_clean(str_make(r->data, r->len), hostname_now(), j->arena);
	for (size_t i = 0; i < j->naccounts; i++) {
		struct deliver_sieve_out out;
		/* may_reject: the sender is ours and authenticated, so a reject
		 * can be told as a DSN for this recipient alone. */
		deliver_sieve_plan(j->st, &j->plans[i], pmsg[i].p ? pmsg[i] : clean, str_c(j->head),
				   str_c(r->sender), str_c(j->rcpt_of[i]), 0, r->virus_score,
				   j->arena, NULL, 1, by.by || by.auth.len ? &by : NULL, &out);
		j->after[i] = out.after;
		if (out.reject) {
			j->rejected[i] = out.reject;
			continue;
		}
		for (unsigned k = 0; k < out.nredirects; k++) {
			uint32_t acc[LOCAL_MAX_PER_RCPT];
			struct store_forward fw[FORWARD_TARGETS_MAX];
			size_t n = 0, nf = 0;
			const char *t = out.redirects[k];
			/* What this redirect carries (RFC 5293 §5). */
			struct str edited = out.redirect_msg[k].p ? out.redirect_msg[k] : pmsg[i];
			enum store_rcpt res = store_resolve_forwards(j->st, t, acc, LOCAL_MAX_PER_RCPT, &n,
								     fw, FORWARD_TARGETS_MAX, &nf);
			if (res == STORE_RCPT_NOT_LOCAL) {
				redirect_out(j, i, t, out.redirect_notify[k], out.redirect_ret[k],
					     out.redirect_by[k], out.redirect_by_deadline[k], edited);
				continue;
			}
			if (res != STORE_RCPT_OK && res != STORE_RCPT_OVER_QUOTA) {
				log_info("queue", NULL, "event=sieve_redirect_failed account=%u reason=%s",
					 j->accounts[i], res == STORE_RCPT_UNKNOWN ? "unknown_user" : "store");
				if (j->plans[i].discard)
					j->plans[i] = (struct deliver_plan){.account = j->accounts[i],
									    .envelope = j->envelopes[i]};
				continue;
			}
			for (size_t m = 0; m < nf; m++)
				redirect_out(j, i, fw[m].addr, out.redirect_notify[k], out.redirect_ret[k],
					     out.redirect_by[k], out.redirect_by_deadline[k], edited);
			for (size_t m = 0; m < n && j->naccounts < cap; m++) {
				size_t before = j->naccounts;
				add_account(j, acc[m], r->sender, t);
				if (j->naccounts == before)
					continue;
				j->plans[before] = (struct deliver_plan){.account = acc[m],
									 .envelope = j->envelopes[before]};
				/* That account's copy is the edited message. */
				ptrdiff_t body = edited.p ? sieve_body_offset(edited.p, edited.len) : -1;
				pmsg[before] = edited;
				if (body >= 0) {
					j->plans[before].own_header = str_make(edited.p, (size_t)body);
					j->plans[before].own_body =
					    str_make(edited.p + body, edited.len - (size_t)body);
				}
			}
		}
	}
}

/* Runs on r->loop (or the writer thread) after the commit. */
static void stored(struct delivery *dl, void *arg)
{
	struct submit_job *j = arg;
	struct queue_request *r = j->r;

	/* What the scripts leave for after the commit: replies and notices
	 * only for a message stored. */
	for (size_t i = 0; j->after && i < j->naccounts; i++) {
		if (dl->result == STORE_OK) {
			deliver_sieve_reply_send(j->st, j->after[i], r->loop, NULL, dl->seen_stored);
			j->after[i] = NULL;
			if (j->rejected && j->rejected[i])
				reject_notice(j, j->rcpt_of[i], j->rejected[i]);
		}
	}
	r->result = dl->result;
	r->queue_id = dl->result == STORE_OK && j->e.nrcpts ? j->e.id : 0;
	if (r->result == STORE_OK && j->e.nrcpts) {
		log_info("queue", NULL, "event=queued id=%llu rcpts=%zu local=%zu size=%zu",
			 (unsigned long long)j->e.id, j->e.nrcpts, j->naccounts, r->len);
		queue_sched_kick();
	}
	if (r->result == STORE_OK && j->fwd) {
		/* Each redirecting address spends one of its forwards (once
		 * per message), as on port 25 (smtp_forward_committed): a
		 * script redirecting what our own users send is held to the
		 * same TERN_FORWARD_RATE as one redirecting what comes in. */
		uint64_t now = loop_now_ms();
		for (size_t k = 0; k < j->fwd_in->ndelivered_to; k++)
			forward_rate_record(j->fwd_dt[k], now);
		log_info("queue", NULL, "event=forwarded queue_id=%llu rcpts=%zu srs=%s arc=%s",
			 (unsigned long long)j->fwd->e.id, j->fwd->e.nrcpts,
			 srs_result_name(j->fwd->srs_rc), j->fwd->arc);
		queue_sched_kick();
	}
	job_free(j);
	r->done(r, r->arg);
}

/* Appends "PREFIX<addr>\r\n" to *s (NULL: an empty string). */
static void add_line(char **s, const char *prefix, const char *addr)
{
	size_t have = *s ? strlen(*s) : 0, add = strlen(prefix) + strlen(addr) + 5; /* <>\r\n\0 */
	*s = xrealloc(*s, have + add);
	snprintf(*s + have, add, "%s<%s>\r\n", prefix, addr);
}

/*
 * Account id gets the local copy, for the recipient rcpt. Each account's
 * envelope (what `tern fetch --envelope` shows, as for mail that came in
 * on port 25) names the sender and only the recipients that reached it.
 */
static void add_account(struct submit_job *j, uint32_t id, const char *sender, const char *rcpt)
{
	size_t i = 0;
	while (i < j->naccounts && j->accounts[i] != id)
		i++;
	if (i == j->naccounts) {
		j->accounts = xrealloc(j->accounts, (i + 1) * sizeof *j->accounts);
		j->envelopes = xrealloc(j->envelopes, (i + 1) * sizeof *j->envelopes);
		j->rcpt_of = xrealloc(j->rcpt_of, (i + 1) * sizeof *j->rcpt_of);
		j->accounts[i] = id;
		j->envelopes[i] = NULL;
		j->rcpt_of[i] = rcpt;
		j->naccounts++;
		add_line(&j->envelopes[i], "MAIL FROM:", sender);
	}
	add_line(&j->envelopes[i], "RCPT TO:", rcpt);
}

static int request_valid(const struct queue_request *r)
{
	if (!r->data || r->len == 0 || !r->rcpts || r->nrcpts == 0 || r->nrcpts > SQ_RCPTS_MAX)
		return 0;
	if (!r->sender || strlen(r->sender) > SQ_ADDR_MAX)
		return 0;
	if (r->envid && strlen(r->envid) > SQ_ENVID_MAX)
		return 0;
	for (size_t i = 0; i < r->nrcpts; i++) {
		const char *a = r->rcpts[i].addr;
		if (!a || !*a || strlen(a) > SQ_ADDR_MAX || !strchr(a, '@'))
			return 0;
		if (r->rcpts[i].orcpt && strlen(r->rcpts[i].orcpt) > SQ_ORCPT_MAX)
			return 0;
	}
	return 1;
}

static uint8_t notify_bits(unsigned n)
{
	uint8_t b = 0;
	if (n & QUEUE_NOTIFY_NEVER)
		return SQ_NOTIFY_NEVER;
	if (n & QUEUE_NOTIFY_SUCCESS)
		b |= SQ_NOTIFY_SUCCESS;
	if (n & QUEUE_NOTIFY_FAILURE)
		b |= SQ_NOTIFY_FAILURE;
	if (n & QUEUE_NOTIFY_DELAY)
		b |= SQ_NOTIFY_DELAY;
	return b;
}

/* One remote recipient of the entry (with once, unless it is one already). */
static void add_remote(struct submit_job *j, const char *addr, const char *orcpt, unsigned notify,
		       int once)
{
	for (size_t k = 0; once && k < j->e.nrcpts; k++)
		if (strcmp(j->e.rcpts[k].addr, addr) == 0)
			return;
	if (j->e.nrcpts == j->rcpts_room) {
		j->rcpts_room = j->rcpts_room ? 2 * j->rcpts_room : 8;
		j->e.rcpts = xrealloc(j->e.rcpts, j->rcpts_room * sizeof *j->e.rcpts);
	}
	struct store_queue_rcpt *q = &j->e.rcpts[j->e.nrcpts++];
	q->addr = xstrdup(addr);
	q->orcpt = xstrdup(orcpt ? orcpt : "");
	q->status = xstrdup("");
	q->remote = xstrdup("");
	q->notify = notify_bits(notify);
	q->state = SQ_PENDING;
	/* Only a failure or delay ever needs a notice until sent. */
	q->dsn_done = 0;
}

/*
 * A held message (QUEUE_HOLD) becomes one entry with every recipient as
 * given, resolved only when it is released (queue_hold.c): an alias, a
 * forward or a Sieve script is applied as it is then, and a local copy
 * appears at the release time, not before.
 */
static void hold_whole(struct submit_job *j, struct queue_request *r)
{
	for (size_t i = 0; i < r->nrcpts; i++) {
		add_remote(j, r->rcpts[i].addr, r->rcpts[i].orcpt, r->rcpts[i].notify, 0);
		r->nremote++;
	}
}

/*
 * The copy a script edited, signed again (r->signed_by): submission
 * signed the message before the recipients' scripts ran, and an edit of
 * a field the signatures cover (Subject, say) breaks them, so the
 * forwarded copy would fail DKIM, and DMARC with it, at its next hop.
 * Its signatures of that domain go and new ones over the copy as edited
 * come on top; anything else (other domains' signatures) is left as it
 * is. The message is unchanged when signing fails.
 */
static struct str resign(struct submit_job *j, struct str m)
{
	const char *dom = j->r->signed_by;
	struct buf out;
	buf_init(&out, m.len + STORE_DKIM_SIGS_MAX);
	int rc = queue_resign(j->st, dom, m, &out);
	if (rc != DKIM_OK) {
		log_warn("queue", NULL, "event=dkim_unsigned domain=%s result=%d reason=sieve_edit", dom,
			 rc);
		buf_free(&out);
		return m;
	}
	char *copy = arena_alloc(j->arena, buf_len(&out));
	memcpy(copy, buf_data(&out), buf_len(&out));
	struct str r = str_make(copy, buf_len(&out));
	buf_free(&out);
	return r;
}

/*
 * The queue entry's blob id, linear in the size; the local copies (with
 * their Return-Path) are deliver_submit()'s.
 */
static void prepare(struct submit_job *j)
{
	if (j->e.nrcpts)
		store_blob_id(j->r->data, j->r->len, j->e.blob_id);
	if (j->fwd_in) {
		struct forward_copy_in *in = j->fwd_in;
		/* Sieve's edits travel with its redirects (RFC 5293 §4) when
		 * they all carry the same message: one entry holds one. */
		in->message = str_make(j->r->data, j->r->len);
		if (j->fwd_msg.p && !j->fwd_mixed &&
		    !forward_authors_same(in->message, j->fwd_msg))
			log_info("queue", NULL,
				 "event=sieve_action_skipped action=editheader reason=author_changed");
		else if (j->fwd_msg.p && !j->fwd_mixed)
			in->message = j->r->signed_by ? resign(j, j->fwd_msg) : j->fwd_msg;
		else if (j->fwd_msg.p || j->fwd_mixed)
			log_info("queue", NULL,
				 "event=sieve_action_skipped action=editheader reason=shared_forward");
		in->st = j->st;
		in->head = str_make("", 0);
		in->authserv_id = hostname_now();
		/* The AAR: the sender signed in (RFC 8601 "auth"). */
		in->authres = arena_printf(j->arena, "%s; auth=pass", hostname_now());
		in->now = (int64_t)time_wall();
		j->fwd = xmalloc(sizeof *j->fwd);
		if (forward_copy_build(in, j->fwd) < 0) {
			/* The spool refused (memory, disk): the local copies still go. */
			log_error("queue", NULL, "event=forward_failed reason=compose");
			free(j->fwd);
			j->fwd = NULL;
		} else {
			j->fwd->e.account = j->r->account;
		}
	}
}

static void prepare_run(void *arg)
{
	prepare(arg);
}

static void prepare_done(void *arg)
{
	struct submit_job *j = arg;
	deliver_submit(j->st, &j->dl);
}

/* The buffers rcpt_name may return the address in. */
struct rcpt_name {
	char rev[SRS_ADDR_MAX + 1];
	char ours[SQ_ADDR_MAX + 1];
};

/* The address a recipient addr is resolved as, in nm or addr itself. */
static const char *rcpt_name(struct store *st, const char *addr, struct rcpt_name *nm)
{
	/* A notice or a reply to one of our SRS addresses goes where
	 * it reverses to (forward/srs.h); one that does not verify is
	 * an unknown local address like any other. */
	if (forward_reverse_local(st, addr, nm->rev, sizeof nm->rev, NULL) == 1)
		addr = nm->rev;
	/* One of our IDN domains in the spelling we do not keep it in
	 * (JMAP, a Sieve redirect): ours all the same. */
	if (snprintf(nm->ours, sizeof nm->ours, "%s", addr) < (int)sizeof nm->ours) {
		store_served_spelling(st, nm->ours, sizeof nm->ours);
		addr = nm->ours;
	}
	return addr;
}

/* What queue_submit's resolution makes of addr. */
static enum store_rcpt rcpt_resolved(struct store *st, const char *addr)
{
	uint32_t acc[LOCAL_MAX_PER_RCPT];
	struct store_forward fw[FORWARD_TARGETS_MAX];
	size_t n = 0, nf = 0;
	struct rcpt_name nm;
	return store_resolve_forwards(st, rcpt_name(st, addr, &nm), acc, LOCAL_MAX_PER_RCPT, &n, fw,
				      FORWARD_TARGETS_MAX, &nf);
}

int queue_rcpt_dropped(struct store *st, const char *addr)
{
	enum store_rcpt res = rcpt_resolved(st, addr);
	return res == STORE_RCPT_UNKNOWN || res == STORE_RCPT_INACTIVE;
}

enum queue_rcpt_where queue_rcpt_local(struct store *st, const char *addr)
{
	enum store_rcpt res = rcpt_resolved(st, addr);
	return res == STORE_RCPT_TEMPFAIL    ? QUEUE_RCPT_UNSURE
	       : res == STORE_RCPT_NOT_LOCAL ? QUEUE_RCPT_OUTSIDE
					     : QUEUE_RCPT_OURS;
}

/* The SQ_NOTIFY_* bits are QUEUE_NOTIFY_*'s values; spelled out all the
 * same, so that neither can change alone. */
unsigned queue_notify_of(uint8_t n)
{
	return ((n & SQ_NOTIFY_NEVER) ? QUEUE_NOTIFY_NEVER : 0) |
	       ((n & SQ_NOTIFY_SUCCESS) ? QUEUE_NOTIFY_SUCCESS : 0) |
	       ((n & SQ_NOTIFY_FAILURE) ? QUEUE_NOTIFY_FAILURE : 0) |
	       ((n & SQ_NOTIFY_DELAY) ? QUEUE_NOTIFY_DELAY : 0);
}

/*
 * 1 when recipient i (which names the one account acc and no forward)
 * waits in the entry instead of getting its copy now: the account has no
 * room for the message (queue.h). The scheduler's own delivery of it
 * (QUEUE_QUOTA) is checked in the commit instead. This look is a read:
 * deliveries in parallel may each still see the room (the account then
 * goes a little over, as before).
 */
static int local_waits(struct store *st, struct queue_request *r, size_t i, uint32_t acc)
{
	if (r->flags & QUEUE_QUOTA)
		return 0;
	int rc = store_quota_fits(st, &acc, 1, r->len);
	if (rc != STORE_EQUOTA && rc != STORE_ETOOBIG)
		return 0; /* fits; a store error is the commit's to meet */
	char q[SQ_ADDR_MAX * 2 + 8];
	log_info("queue", NULL, "event=local_deferred reason=%s rcpt=%s size=%zu",
		 rc == STORE_ETOOBIG ? "over_quota_size" : "over_quota",
		 log_q(r->rcpts[i].addr, q, sizeof q), r->len);
	return 1;
}

/* Sorts each recipient of r into j: local accounts (through aliases and
 * forwards), remote addresses (and local ones that wait for room), or
 * dropped (unknown or inactive, logged).
 * -1 when the directory could not be read: try again later. */
static int resolve_rcpts(struct store *st, struct submit_job *j, struct queue_request *r)
{
	for (size_t i = 0; i < r->nrcpts; i++) {
		uint32_t acc[LOCAL_MAX_PER_RCPT];
		struct store_forward fw[FORWARD_TARGETS_MAX];
		size_t n = 0, nf = 0;
		struct rcpt_name nm;
		const char *addr = rcpt_name(st, r->rcpts[i].addr, &nm);
		enum store_rcpt res = store_resolve_forwards(st, addr, acc, LOCAL_MAX_PER_RCPT, &n, fw,
							     FORWARD_TARGETS_MAX, &nf);
		switch (res) {
		case STORE_RCPT_OK:
		case STORE_RCPT_OVER_QUOTA:
			/* One account: it waits for room in the entry. Several
			 * (an alias), or forwards: the soft limit, every account
			 * its copy (queue.h). */
			if (n == 1 && nf == 0 && local_waits(st, r, i, acc[0])) {
				add_remote(j, r->rcpts[i].addr, r->rcpts[i].orcpt,
					   r->rcpts[i].notify, 0);
				r->nremote++;
				if (r->waits)
					r->waits[i] = 1;
				break;
			}
			for (size_t k = 0; k < n; k++)
				add_account(j, acc[k], r->sender, r->rcpts[i].addr);
			/* Outside targets of an alias: sent from here with the
			 * sender as it is (ours, or the null sender), and with
			 * the RCPT's NOTIFY and ORCPT (RFC 3461 §4.2). */
			for (size_t k = 0; k < nf; k++) {
				char o[SQ_ORCPT_MAX + 1];
				add_remote(j, fw[k].addr,
					   forward_orcpt(r->rcpts[i].orcpt, r->rcpts[i].addr, o, sizeof o),
					   r->rcpts[i].notify, 1);
			}
			if (n)
				r->nlocal++;
			if (nf)
				r->nremote++;
			break;
		case STORE_RCPT_NOT_LOCAL:
			add_remote(j, addr, r->rcpts[i].orcpt, r->rcpts[i].notify, 0);
			r->nremote++;
			break;
		case STORE_RCPT_UNKNOWN:
		case STORE_RCPT_INACTIVE: {
			char q[SQ_ADDR_MAX * 2 + 8];
			log_warn("queue", NULL, "event=rcpt_dropped reason=%s rcpt=%s",
				 res == STORE_RCPT_INACTIVE ? "inactive" : "unknown_local",
				 log_q(r->rcpts[i].addr, q, sizeof q));
			break;
		}
		case STORE_RCPT_TEMPFAIL:
			return -1;
		}
	}
	return 0;
}

void queue_submit(struct store *st, struct queue_request *r)
{
	r->queue_id = 0;
	r->nlocal = r->nremote = 0;
	r->priv_ = NULL;
	if (!request_valid(r)) {
		complete_now(r, STORE_EINVAL);
		return;
	}
	if (r->waits)
		memset(r->waits, 0, r->nrcpts);
	int64_t now = r->received_at ? r->received_at : time_wall();
	struct submit_job *j = xcalloc(1, sizeof *j);
	j->r = r;
	j->st = st;

	if (r->flags & QUEUE_HOLD) {
		hold_whole(j, r);
	} else if (resolve_rcpts(st, j, r) < 0) {
		job_free(j);
		complete_now(r, STORE_ETEMP);
		return;
	}
	if (j->naccounts == 0 && j->e.nrcpts == 0) {
		job_free(j);
		complete_now(r, STORE_EINVAL);
		return;
	}

	struct delivery *d = &j->dl;
	if (j->naccounts) {
		j->head = xmalloc(strlen(r->sender) + 20);
		snprintf(j->head, strlen(r->sender) + 20, "Return-Path: <%s>\r\n", r->sender);
		j->plans = xcalloc(j->naccounts, sizeof *j->plans);
		for (size_t i = 0; i < j->naccounts; i++)
			j->plans[i] = (struct deliver_plan){.account = j->accounts[i],
							    .envelope = j->envelopes[i]};
		if (r->flags & QUEUE_SIEVE) {
			sieve_stage(j);
			/* Sieve's memory (vacation's senders, duplicate's ids)
			 * goes in the message's commit, as on port 25, not in a
			 * commit of its own after it (stored()). */
			deliver_sieve_seen_attach(d, j->after, j->naccounts, j->arena);
		}
		d->plans = j->plans;
		d->nplans = j->naccounts;
		d->head = str_c(j->head);
		/* Stored as the scripts read it (sieve_stage): without the
		 * sender's Return-Path, forged Authentication-Results or spam
		 * verdicts (deliver.h), as on port 25. */
		d->authserv_id = hostname_now();
		/* The scheduler's delivery of a recipient that waited: checked
		 * where parallel deliveries cannot race (store.h). */
		d->quota_check = (r->flags & QUEUE_QUOTA) != 0;
	}
	d->data = str_make(r->data, r->len);
	d->received_at = now;
	if (j->e.nrcpts) {
		j->e.created_at = now;
		j->e.next_attempt = (r->flags & QUEUE_HOLD) ? r->hold_until : now;
		j->e.account = r->account;
		j->e.flags = entry_flags(r);
		j->e.by_deadline = (r->flags & QUEUE_BY) ? r->by_deadline : 0;
		j->e.priority = (int8_t)(r->mt_priority < SQ_PRIORITY_MIN   ? SQ_PRIORITY_MIN
					 : r->mt_priority > SQ_PRIORITY_MAX ? SQ_PRIORITY_MAX
									    : r->mt_priority);
		j->e.size = r->len;
		j->e.sender = xstrdup(r->sender);
		j->e.envid = xstrdup(r->envid ? r->envid : "");
	}
	if (j->e.nrcpts || j->fwd_in || r->txn_also) {
		d->txn_hook = enqueue_hook;
		d->hook_arg = j;
		/* the queue's copies of the message (a forwarded one is a
		 * little longer: Delivered-To, the ARC set) */
		d->hook_len = (j->e.nrcpts ? r->len : 0) + (j->fwd_in ? r->len + 16 * 1024 : 0);
	}
	d->loop = r->loop;
	d->done = stored;
	d->arg = j;
	r->priv_ = j;
	j->st = st;
	/* A forwarded copy is sealed (RSA): on the pool as well. */
	if (((j->e.nrcpts && r->len > WORKER_MESSAGE_BYTES) || j->fwd_in) && worker_pool_running()) {
		j->wj.fn = prepare_run;
		j->wj.done = prepare_done;
		j->wj.arg = j;
		j->wj.loop = NULL; /* deliver_submit is safe from any thread */
		worker_submit(&j->wj);
		return;
	}
	prepare(j);
	deliver_submit(st, d);
}
