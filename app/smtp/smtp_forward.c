/*
 * smtp_forward.c — forwarding on port 25: the one place where inbound
 * mail for aliases with outside targets, and bounces to our SRS
 * addresses, become an outbound queue entry (forward/forward.h).
 *
 * Where it sits. The delivery pipeline of DESIGN.md §3b (deliver/) was
 * not on main when this was written, so forwarding hangs on the inbound
 * SMTP delivery as it is: RCPT collects the outside targets next to the
 * accounts (smtp_forward_rcpt), the end of DATA runs the loop checks
 * (smtp_forward_check), and the store commit that writes the local
 * copies also writes the queue entry through its transaction hook
 * (smtp_forward_attach), so the forwarded copy is durable exactly when
 * the local ones are and the client's 250 covers both. When deliver/
 * lands, the same hook moves into its plan's redirects.
 *
 * Bounces: RCPT TO an SRS address at one of our domains is decided here,
 * before any alias or catch-all: with the null sender and a hash and
 * stamp that verify it is forwarded to the address it reverses to;
 * otherwise 550 5.1.1 (invalid or expired), or 550 5.7.1 for a message
 * that is not a bounce.
 *
 * ARC (RFC 8617): each forwarded copy gets an ARC set sealed with the
 * forwarding domain's RSA DKIM key, its ARC-Authentication-Results the
 * Authentication-Results field the checks made (smtp_checks.c), and cv=
 * what the checks found of the chain the message arrived with (none,
 * pass, fail). When the checks did not validate an existing chain, the
 * copy goes unsealed rather than vouch for what was not checked. The
 * log's arc= says which: sealed, skipped_chain, chain_closed (the chain
 * already ended in cv=fail, or has 50 sets), no_key or failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/spool.h"
#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "dkim/dkim.h"
#include "forward/forward.h"
#include "queue/queue.h"
#include "smtp/smtp_session.h"
#include "store/store_queue.h"

/* The forwarded copy of one transaction: one queue entry. */
struct smtp_fwd {
	struct store_queue_entry e;
	char *data; /* Delivered-To fields + the message without Return-Path */
	size_t len;
	int srs_rc; /* the sender rewrite's result, for the log */
	const char *arc; /* what became of the ARC set, for the log (static) */
};

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
		snprintf(out, outsz, "%s; arc=none; spf=%s smtp.mailfrom=%s", smtp_cfg->hostname, sp,
			 tx->mail_from);
	else if (sp && strcmp(sp, "pending") != 0)
		snprintf(out, outsz, "%s; arc=none; spf=%s", smtp_cfg->hostname, sp);
	else
		snprintf(out, outsz, "%s; arc=none", smtp_cfg->hostname);
}

/* Puts an ARC set in front of f->data when it can (see the top comment). */
static void seal(const struct smtp_session *s, struct smtp_fwd *f, const char *dom,
		 const char *fields)
{
	const struct smtp_tx *tx = &s->tx;
	char ar[1024];
	struct buf set;
	enum arc_cv cv = ARC_CV_NONE;

	if (forward_has_arc(f->data, f->len)) {
		/* A chain of its own: sealed with the cv the checks found, or
		 * not at all when they did not validate it. */
		if (!tx->arc_known) {
			f->arc = "skipped_chain";
			return;
		}
		cv = (enum arc_cv)tx->arc_cv;
	}
	struct dkim_keys *keys = xmalloc(sizeof *keys);
	const struct dkim_key *key = NULL;
	if (store_dkim_get(smtp_store, dom, keys) == STORE_OK)
		key = arc_key_pick(keys);
	f->arc = "no_key";
	if (key) {
		/* The AAR says what this hop found: the Authentication-Results
		 * field the checks made, else (no checks ran) SPF alone. */
		if (fields && fields[0])
			snprintf(ar, sizeof ar, "%s", fields);
		if (!fields || !fields[0] || strlen(fields) >= sizeof ar)
			authres(s, ar, sizeof ar);
		struct arc_seal_params p = {.key = key, .domain = dom, .authres = ar,
					    .cv = cv, .now = (int64_t)time_wall()};
		buf_init(&set, 64 * 1024);
		f->arc = "failed";
		int rc = arc_seal(&p, f->data, f->len, &set);
		if (rc == ARC_OK) {
			char *d = xmalloc(buf_len(&set) + f->len + 1);
			memcpy(d, buf_data(&set), buf_len(&set));
			memcpy(d + buf_len(&set), f->data, f->len);
			free(f->data);
			f->data = d;
			f->len += buf_len(&set);
			f->arc = "sealed";
		} else if (rc == ARC_ECHAIN) {
			f->arc = "chain_closed"; /* the newest seal says cv=fail, or 50 sets */
		}
		buf_free(&set);
	}
	dkim_keys_wipe(keys);
	free(keys);
}

void smtp_forward_prepare(struct smtp_session *s, const char *fields)
{
	struct smtp_tx *tx = &s->tx;
	unsigned n = forwards(tx);

	if (n == 0)
		return;
	struct smtp_fwd *f = xcalloc(1, sizeof *f);
	struct store_queue_entry *e = &f->e;
	tx->fwd = f;

	/* The sender: SRS into the domain of the first address that
	 * forwards (one of ours, so its bounces come back to us). */
	const char *dom = NULL;
	for (unsigned i = 0; i < tx->nrcpts && !dom; i++)
		if (tx->rcpts[i].nfwd && !tx->rcpts[i].srs)
			dom = strrchr(tx->rcpts[i].address, '@') + 1;
	const char *sat = strrchr(tx->mail_from, '@');
	int local = sat && store_domain_is_local(smtp_store, sat + 1) == 1;
	char sender[SRS_ADDR_MAX + 1];
	f->srs_rc = forward_sender(tx->mail_from, local, dom ? dom : "", (int64_t)time_wall(), sender,
				   sizeof sender);

	/* The bytes: a Delivered-To per address that forwards (not for
	 * bounces, which only pass through), our Received, then the message
	 * without Authentication-Results fields that claim our name (RFC
	 * 8601 §5), composed as deliver/ composes the local copies. */
	char *head = arena_strdup(tx->arena, "");
	for (unsigned i = 0; i < tx->nrcpts; i++)
		if (tx->rcpts[i].nfwd && !tx->rcpts[i].srs)
			head = arena_printf(tx->arena, "%sDelivered-To: %s\r\n", head,
					    tx->rcpts[i].address);
	head = arena_printf(tx->arena, "%s%.*s", head, (int)tx->header_len, tx->data.p);
	struct spool sp;
	struct str out = {NULL, 0};
	if (deliver_compose(&sp, str_c(head),
			    str_make(tx->data.p + tx->header_len, tx->data.len - tx->header_len),
			    smtp_cfg->hostname) == 0)
		spool_finish(&sp, &out);
	f->data = xmalloc(out.len + 1);
	if (out.len)
		memcpy(f->data, out.p, out.len);
	f->len = out.len;
	spool_free(&sp);
	if (f->len == 0) {
		/* The spool refused (memory, disk): nothing to forward. The
		 * local copies still go; the log says so. */
		log_error("smtp", s->id, "event=forward_failed reason=compose");
		smtp_forward_free(tx);
		return;
	}
	if (dom)
		seal(s, f, dom, fields);
	else
		f->arc = "none"; /* bounces only: passed through as they came */
	store_blob_id(f->data, f->len, e->blob_id);

	/* One recipient per outside address, however many aliases name it.
	 * Failure notices go to the SRS sender, which reverses to the
	 * original sender: only when SPF showed that sender is real
	 * (DESIGN.md §3b: never bounce to a sender we could not verify). */
	int notify_ok = tx->mail_from[0] && tx->spf_result && strcmp(tx->spf_result, "pass") == 0;
	e->rcpts = xcalloc(n, sizeof *e->rcpts);
	for (unsigned i = 0; i < tx->nrcpts; i++) {
		const struct smtp_rcpt *rc = &tx->rcpts[i];
		for (unsigned j = 0; j < rc->nfwd; j++) {
			size_t k = 0;
			while (k < e->nrcpts && strcmp(e->rcpts[k].addr, rc->fwd[j]) != 0)
				k++;
			if (k < e->nrcpts)
				continue;
			e->rcpts[e->nrcpts++] = (struct store_queue_rcpt){
			    xstrdup(rc->fwd[j]), xstrdup(""), xstrdup(""), xstrdup(""), SQ_PENDING,
			    notify_ok ? 0 : SQ_NOTIFY_NEVER, 0};
		}
	}
	int64_t now = (int64_t)time_wall();
	e->created_at = e->next_attempt = now;
	e->flags = (tx->body == SMTP_BODY_8BITMIME ? SQ_8BITMIME : 0) | (tx->smtputf8 ? SQ_SMTPUTF8 : 0) |
		   (tx->ret == SMTP_RET_FULL ? SQ_RET_FULL : 0);
	e->size = f->len;
	e->sender = xstrdup(sender);
	e->envid = xstrdup(tx->envid ? tx->envid : "");
}

static int fwd_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct smtp_fwd *f = d->hook_arg;
	return store_queue_add_txn(st, txn, &f->e, f->data, f->len);
}

void smtp_forward_attach(struct smtp_session *s, struct delivery *d)
{
	struct smtp_fwd *f = s->tx.fwd;

	if (!f)
		return;
	d->txn_hook = fwd_hook;
	d->hook_arg = f;
	d->hook_len = f->len;
	/* The forward takes the message: full local accounts go a little
	 * over rather than have it refused (store_resolve_forwards' rule). */
	d->quota_check = 0;
}

void smtp_forward_committed(struct smtp_session *s, int result)
{
	struct smtp_tx *tx = &s->tx;
	struct smtp_fwd *f = tx->fwd;
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
	log_info("smtp", s->id, "event=forwarded id=%s.%u queue_id=%" PRIu64 " rcpts=%zu sender=%s srs=%s arc=%s",
		 s->id, tx->seq, f->e.id, f->e.nrcpts, log_q(f->e.sender, q, sizeof q),
		 srs_result_name(f->srs_rc), f->arc);
	queue_sched_kick();
}

void smtp_forward_free(struct smtp_tx *tx)
{
	struct smtp_fwd *f = tx->fwd;

	if (!f)
		return;
	store_queue_entry_free(&f->e);
	free(f->data);
	free(f);
	tx->fwd = NULL;
}
