/*
 * smtp_forward.c — forwarding on port 25: the one place where inbound
 * mail for aliases with outside targets, and bounces to our SRS
 * addresses, become an outbound queue entry (forward/forward.h).
 *
 * Where it sits. RCPT collects the outside targets next to the accounts
 * (smtp_forward_rcpt), the end of DATA runs the loop checks
 * (smtp_forward_check), and once the checks decided (smtp_tx_store) the
 * copy is built on the worker pool (smtp_forward_prepare) and its queue
 * entry joins the delivery's commit as deliver/'s transaction hook
 * (smtp_forward_attach): the forwarded copy is durable exactly when the
 * local ones are, and the client's 250 covers both (DESIGN.md §3b step 6).
 *
 * Bounces: RCPT TO an SRS address at one of our domains is decided here,
 * before any alias or catch-all: with the null sender and a hash and
 * stamp that verify it is forwarded to the address it reverses to;
 * otherwise 550 5.1.1 (invalid or expired), or 550 5.7.1 for a message
 * that is not a bounce.
 *
 * The copy itself (bytes, SRS sender, ARC set, queue entry) is
 * forward/forward_copy.h's; here is what port 25 knows: the addresses,
 * the Authentication-Results field the checks made (smtp_checks.c) for
 * the ARC set's AAR, and the cv they found of the chain the message
 * arrived with.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/xalloc.h"
#include "forward/forward.h"
#include "forward/forward_copy.h"
#include "queue/queue.h"
#include "smtp/smtp_session.h"
#include "store/store_queue.h"

int smtp_forward_rcpt(struct smtp_session *s, const char *addr, struct store_forward *fw,
		      size_t *nf_r)
{
	char rev[SRS_ADDR_MAX + 1], q[600];
	int why = SRS_EINVAL;

	*nf_r = 0;
	if (s->mode != SMTP_MODE_MX)
		return 0;
	int rc = forward_reverse_local(smtp_store, addr, rev, sizeof rev, &why);
	if (rc == 0)
		return 0;
	if (rc > 0 && strlen(rev) > STORE_ADDR_MAX)
		rc = -1, why = SRS_ETOOLONG;
	const char *qa = log_q(addr, q, sizeof q);
	if (rc < 0) {
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=srs_%s", qa,
			 srs_result_name(why));
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: invalid or expired SRS address",
			   addr);
		smtp_session_error(s);
		return -1;
	}
	if (s->tx.mail_from[0]) {
		/* Only bounces go back through an SRS address: anything else
		 * would make it an open relay to whoever it reverses to. */
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=srs_not_bounce", qa);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "550 5.7.1 <%s>: Recipient address rejected: SRS addresses take bounces only",
			   addr);
		smtp_session_error(s);
		return -1;
	}
	memcpy(fw[0].addr, rev, strlen(rev) + 1);
	/* The rate limit counts bounces per SRS address (any case), as it
	 * counts forwards per alias: a valid address replayed is not a relay. */
	if (str_lower_into(str_c(addr), fw[0].alias, sizeof fw[0].alias) < 0)
		fw[0].alias[0] = '\0';
	*nf_r = 1;
	return 1;
}

int smtp_forward_rate(struct smtp_session *s, const char *addr, const struct store_forward *fw,
		      size_t nf)
{
	uint64_t now = loop_now_ms();
	char q[600];

	for (size_t i = 0; i < nf; i++) {
		if (!fw[i].alias[0] || forward_rate_allowed(fw[i].alias, now))
			continue;
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=forward_rate alias=%s",
			 log_q(addr, q, sizeof q), fw[i].alias);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "450 4.7.1 <%s>: forwarding rate limit reached, try again later", addr);
		return -1;
	}
	return 0;
}

void smtp_forward_keep(struct smtp_session *s, struct smtp_rcpt *rc, const struct store_forward *fw,
		       size_t nf, int srs)
{
	struct smtp_tx *tx = &s->tx;

	rc->nfwd = (unsigned)nf;
	rc->srs = srs;
	rc->fwd = nf ? arena_alloc(tx->arena, nf * sizeof *rc->fwd) : NULL;
	rc->fwd_alias = nf ? arena_alloc(tx->arena, nf * sizeof *rc->fwd_alias) : NULL;
	for (size_t i = 0; i < nf; i++) {
		rc->fwd[i] = arena_strdup(tx->arena, fw[i].addr);
		rc->fwd_alias[i] = arena_strdup(tx->arena, fw[i].alias);
	}
}

static unsigned forwards(const struct smtp_tx *tx)
{
	unsigned n = 0;
	for (unsigned i = 0; i < tx->nrcpts; i++)
		n += tx->rcpts[i].nfwd;
	return n;
}

int smtp_forward_check(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const char *loop_rcpt = NULL;
	unsigned hops = 0;
	char q[600];

	forward_scan(tx->data.p, tx->data.len, NULL, &hops);
	if (hops >= FORWARD_HOPS_MAX) {
		log_info("smtp", s->id, "event=message_rejected reason=too_many_hops hops=%u max=%d",
			 hops, FORWARD_HOPS_MAX);
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "554 5.4.6 Error: too many hops (%u Received fields), mail loop?", hops);
		return -1;
	}
	/* A copy that carries our own Delivered-To for an address that
	 * forwards it has been here before: forwarding it again is a loop.
	 * The other recipients still get it (Postfix bounces just that one;
	 * we drop it, since one reply covers every recipient). */
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		struct smtp_rcpt *rc = &tx->rcpts[i];
		unsigned h;
		if (!rc->nfwd || rc->srs || !forward_scan(tx->data.p, tx->data.len, rc->address, &h))
			continue;
		log_warn("smtp", s->id, "event=forward_loop rcpt=%s action=dropped targets=%u",
			 log_q(rc->address, q, sizeof q), rc->nfwd);
		rc->nfwd = 0;
		loop_rcpt = rc->address;
	}
	if (loop_rcpt && tx->naccounts == 0 && forwards(tx) == 0) {
		log_info("smtp", s->id, "event=message_rejected reason=forward_loop rcpt=%s",
			 log_q(loop_rcpt, q, sizeof q));
		metrics_inc(METRIC_REJECTED);
		smtp_reply(s, "554 5.4.6 <%s>: mail forwarding loop", loop_rcpt);
		return -1;
	}
	tx->fwd_pending = forwards(tx) > 0;
	return 0;
}

/* The ORCPT an alias's forwarded copy goes with (forward_orcpt()). */
static const char *orcpt_of(const struct smtp_tx *tx, const struct smtp_rcpt *rc)
{
	char o[SQ_ORCPT_MAX + 1];
	const char *r = forward_orcpt(rc->orcpt, rc->address, o, sizeof o);
	return r ? arena_strdup(tx->arena, r) : NULL;
}

/* The Authentication-Results the ARC set carries: this hop's findings. */
static void authres(const struct smtp_session *s, char *out, size_t outsz)
{
	const struct smtp_tx *tx = &s->tx;
	const char *sp = tx->spf_result;
	int plain = 1;

	for (const char *p = tx->mail_from; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("\"();\\", *p))
			plain = 0; /* not a bare addr-spec: leave the property out */
	if (sp && strcmp(sp, "pending") != 0 && tx->mail_from[0] && plain)
		snprintf(out, outsz, "%s; arc=none; spf=%s smtp.mailfrom=%s", hostname_now(), sp,
			 tx->mail_from);
	else if (sp && strcmp(sp, "pending") != 0)
		snprintf(out, outsz, "%s; arc=none; spf=%s", hostname_now(), sp);
	else
		snprintf(out, outsz, "%s; arc=none", hostname_now());
}

void smtp_forward_prepare(struct smtp_session *s, const char *fields)
{
	struct smtp_tx *tx = &s->tx;
	unsigned n = forwards(tx) + tx->nsfwd;
	char ar[1024];

	if (n == 0)
		return;
	/* Our addresses that forward it (Delivered-To), the outside targets,
	 * and the domain: the first forwarding address's (one of ours, so
	 * bounces to the SRS sender come back to us). Bounces to an SRS
	 * address only pass through: no domain, no Delivered-To. */
	const char **dt = arena_alloc(tx->arena, (tx->nrcpts + tx->nsfwd) * sizeof *dt);
	const char **tg = arena_alloc(tx->arena, n * sizeof *tg);
	uint8_t *tn = arena_zalloc(tx->arena, n);
	const char **to = arena_zalloc(tx->arena, n * sizeof *to);
	size_t ndt = 0, ntg = 0;
	const char *dom = NULL;
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		const struct smtp_rcpt *rc = &tx->rcpts[i];
		if (rc->nfwd && !rc->srs) {
			dt[ndt++] = rc->address;
			if (!dom)
				dom = strrchr(rc->address, '@') + 1;
		}
		for (unsigned j = 0; j < rc->nfwd; j++) {
			/* The alias's RCPT asked it for its targets: NOTIFY
			 * (NEVER: no notice under any conditions) and ORCPT go
			 * with the copy (RFC 3461 §4.1, §4.2), to the next hop
			 * and into our own notices. SMTP_NOTIFY_* and
			 * SQ_NOTIFY_* are the same bits. */
			tn[ntg] = (uint8_t)rc->notify;
			to[ntg] = orcpt_of(tx, rc);
			tg[ntg++] = rc->fwd[j];
		}
	}
	/* Sieve redirects (smtp_tx.c): the addresses whose scripts redirect
	 * it are ours that forward it too. */
	for (unsigned i = 0; i < tx->nsfwd; i++) {
		size_t k = 0;
		while (k < ndt && strcasecmp(dt[k], tx->sfwd_by[i]) != 0)
			k++;
		if (k == ndt && tx->sfwd_by[i][0] && strrchr(tx->sfwd_by[i], '@')) {
			dt[ndt++] = tx->sfwd_by[i];
			if (!dom)
				dom = strrchr(tx->sfwd_by[i], '@') + 1;
		}
		tn[ntg] = tx->sfwd_notify ? tx->sfwd_notify[i] : 0;
		tg[ntg++] = tx->sfwd[i];
	}
	/* The AAR: the Authentication-Results field the checks made, else
	 * (no checks ran) what SPF found. */
	if (fields && fields[0] && strlen(fields) < sizeof ar)
		snprintf(ar, sizeof ar, "%s", fields);
	else
		authres(s, ar, sizeof ar);
	/* Sieve's edits travel with its redirects (RFC 5293 §4), when the
	 * copy goes only where edited redirects send it: one queue entry
	 * holds one message. */
	struct str message = str_make(tx->data.p + tx->header_len, tx->data.len - tx->header_len);
	if (tx->sfwd_edited.p && !tx->sfwd_mixed && forwards(tx) == 0 &&
	    !forward_authors_same(message, tx->sfwd_edited))
		log_info("smtp", s->id, "event=sieve_action_skipped action=editheader reason=author_changed");
	else if (tx->sfwd_edited.p && !tx->sfwd_mixed && forwards(tx) == 0)
		message = tx->sfwd_edited;
	else if (tx->sfwd_edited.p)
		log_info("smtp", s->id, "event=sieve_action_skipped action=editheader reason=shared_forward");
	struct forward_copy_in in = {
	    .st = smtp_store,
	    .head = str_make(tx->data.p, tx->header_len),
	    .message = message,
	    .authserv_id = hostname_now(),
	    .delivered_to = dt, .ndelivered_to = ndt,
	    .targets = tg, .ntargets = ntg, .target_notify = tn, .target_orcpt = to,
	    .sender = tx->mail_from,
	    .fwd_domain = dom,
	    .authres = ar,
	    .arc_known = tx->arc_known, .arc_cv = tx->arc_cv,
	    /* Notices go to the SRS sender, that is to the original sender:
	     * only when SPF showed that sender is real (DESIGN.md §3b). */
	    .notify_ok = tx->mail_from[0] && tx->spf_result && strcmp(tx->spf_result, "pass") == 0,
	    .flags = (tx->body == SMTP_BODY_8BITMIME ? SQ_8BITMIME : 0) |
		     (tx->smtputf8 ? SQ_SMTPUTF8 : 0) | (tx->ret == SMTP_RET_FULL ? SQ_RET_FULL : 0) |
		     (tx->ret == SMTP_RET_HDRS ? SQ_RET_HDRS : 0) |
		     (tx->requiretls ? SQ_REQUIRETLS : 0) |
		     (tx->sfwd_by_flags ? tx->sfwd_by_flags
		      : (tx->by ? SQ_BY : 0) | (tx->by_return ? SQ_BY_RETURN : 0) |
				(tx->by_trace ? SQ_BY_TRACE : 0)),
	    .by_deadline = tx->sfwd_by_flags ? tx->sfwd_by_deadline : tx->by_deadline,
	    .envid = tx->envid,
	    .ret = tx->sfwd_ret,
	    .now = (int64_t)time_wall(),
	};
	struct forward_copy *f = xmalloc(sizeof *f);
	if (forward_copy_build(&in, f) < 0) {
		/* The spool refused (memory, disk): the local copies still go. */
		log_error("smtp", s->id, "event=forward_failed reason=compose");
		free(f);
		return;
	}
	tx->fwd = f;
}

void smtp_forward_attach(struct smtp_session *s, struct delivery *d)
{
	struct forward_copy *f = s->tx.fwd;

	if (!f)
		return;
	d->txn_hook = forward_copy_hook;
	d->hook_arg = f;
	d->hook_len = f->len;
	/* The forward takes the message: full local accounts go a little
	 * over rather than have it refused (store_resolve_forwards' rule). */
	d->quota_check = 0;
}

void smtp_forward_committed(struct smtp_session *s, int result)
{
	struct smtp_tx *tx = &s->tx;
	struct forward_copy *f = tx->fwd;
	char q[600];

	if (!f || result != STORE_OK)
		return;
	uint64_t now = loop_now_ms();
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		const struct smtp_rcpt *rc = &tx->rcpts[i];
		for (unsigned j = 0; j < rc->nfwd; j++) {
			unsigned k = 0;
			while (k < j && strcmp(rc->fwd_alias[k], rc->fwd_alias[j]) != 0)
				k++;
			if (k == j && rc->fwd_alias[j][0])
				forward_rate_record(rc->fwd_alias[j], now);
		}
	}
	/* A Sieve redirect counts against the redirecting address as an
	 * alias's forward does (once per message). */
	for (unsigned i = 0; i < tx->nsfwd; i++) {
		unsigned k = 0;
		while (k < i && strcasecmp(tx->sfwd_by[k], tx->sfwd_by[i]) != 0)
			k++;
		if (k == i)
			forward_rate_record(tx->sfwd_by[i], now);
	}
	log_info("smtp", s->id, "event=forwarded id=%s.%u queue_id=%" PRIu64 " rcpts=%zu sender=%s srs=%s arc=%s",
		 s->id, tx->seq, f->e.id, f->e.nrcpts, log_q(f->e.sender, q, sizeof q),
		 srs_result_name(f->srs_rc), f->arc);
	queue_sched_kick();
}

void smtp_forward_free(struct smtp_tx *tx)
{
	struct forward_copy *f = tx->fwd;

	if (!f)
		return;
	forward_copy_free(f);
	free(f);
	tx->fwd = NULL;
}
