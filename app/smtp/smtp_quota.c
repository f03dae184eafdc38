/*
 * smtp_quota.c — what RCPT on port 25 knows of the recipients' quotas
 * before the data comes (DESIGN.md §3b, stage 3).
 *
 * The store decides whether a message fits (store_quota_fits: the rule
 * the commit applies again where it cannot race); here its verdict is
 * asked with the size MAIL declared (RFC 1870 §6.1), so that a message
 * that cannot fit is refused at RCPT: 552 5.2.2 when it is larger than
 * the whole quota (no retry helps), 452 4.2.2 when it is larger than the
 * room left (RFC 3463 X.2.2, the owner may make room). Without a declared
 * size only a full account is refused (store_resolve_forwards).
 *
 * After DATA SMTP has one reply for all recipients, so an account that
 * may not take the message must not share a transaction with another
 * one: the commit would store it for the other and fill this one past its
 * quota (the rule for one address that names several accounts, an alias,
 * README). Such a later recipient is put off with 452 4.5.3, as one
 * whose Sieve script may reject (smtp_session.c). So is one that mixes
 * such an account with a forward: a delivery that forwards skips the
 * quota check (smtp_forward_attach: the forward takes any message). "May not take it": its
 * room is less than the declared size, or than the largest message the
 * server takes when none was declared.
 *
 * Caveats: the usage read here may change before the commit (parallel
 * deliveries, an expunge); the commit's check is the one that holds.
 */
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "smtp/smtp_session.h"
#include "store/store.h"

int smtp_rcpt_quota(struct smtp_session *s, const char *addr, const char *qa,
		    const uint32_t *ids, size_t n)
{
	uint64_t size = s->tx.size;

	if (s->mode != SMTP_MODE_MX || size == 0 || n == 0)
		return 0;
	int rc = store_quota_fits(smtp_store, ids, n, size);
	if (rc == STORE_EQUOTA) {
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=over_quota size=%llu", qa,
			 (unsigned long long)size);
		smtp_reply(s, "452 4.2.2 <%s>: Mailbox full", addr);
	} else if (rc == STORE_ETOOBIG) {
		log_info("smtp", s->id, "event=rcpt_rejected rcpt=%s reason=over_quota_size size=%llu", qa,
			 (unsigned long long)size);
		smtp_reply(s, "552 5.2.2 <%s>: Message larger than the mailbox's quota", addr);
	} else {
		return 0; /* fits; a store error is the commit's to meet */
	}
	metrics_inc(METRIC_REJECTED);
	smtp_session_error(s);
	return -1;
}

int smtp_quota_may_refuse(struct smtp_session *s, uint32_t account)
{
	uint64_t size = s->tx.size ? s->tx.size : smtp_cfg->max_message_size;

	return store_quota_fits(smtp_store, &account, 1, size) != STORE_OK;
}

/* 1 when one of accounts (n) may not take the message. */
static int any_may_refuse(struct smtp_session *s, const uint32_t *accounts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (smtp_quota_may_refuse(s, accounts[i]))
			return 1;
	return 0;
}

int smtp_quota_forward_mix(struct smtp_session *s, const uint32_t *ids, size_t n, size_t nf)
{
	const struct smtp_tx *tx = &s->tx;
	unsigned fwd = 0;

	for (unsigned i = 0; i < tx->nrcpts; i++)
		fwd += tx->rcpts[i].nfwd;
	/* This address forwards, beside accounts taken before; or it names
	 * accounts, beside forwards taken before. (One address that both
	 * keeps a copy and forwards is one reply: README's soft rule.) */
	return (nf && any_may_refuse(s, tx->accounts, tx->naccounts)) ||
	       (fwd && any_may_refuse(s, ids, n));
}
