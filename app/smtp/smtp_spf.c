/*
 * smtp_spf.c — port 25's SPF check of MAIL FROM (RFC 7208), run on the
 * session loop's resolver while the client sends RCPT and DATA.
 *
 * The MAIL stage: check (smtp_session.c) -> policy (this check starts; it
 * never holds the reply to MAIL, since SPF alone refuses nothing) ->
 * proceed (250). The result is logged (event=spf) and is one input of
 * DMARC at the end of DATA (smtp_checks.c), which waits for it when it is
 * still running; its end wakes that stage. The check is cancelled with the
 * transaction.
 */
#include <stdio.h>

#include "auth/spf.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "net/conn.h"
#include "smtp/smtp_session.h"

static void spf_record(struct smtp_session *s, struct spf_eval *e)
{
	char q[600], d[300];

	s->tx.spf_run = NULL;
	s->tx.spf_result = spf_result_name(spf_eval_result(e));
	log_info("smtp", s->id, "event=spf identity=mailfrom result=%s domain=%s reason=%s",
		 s->tx.spf_result, log_q(spf_eval_domain(e), d, sizeof(d)),
		 log_q(spf_eval_reason(e), q, sizeof(q)));
}

static void spf_done(void *arg, struct spf_eval *e)
{
	struct smtp_session *s = arg;

	spf_record(s, e);
	smtp_checks_wake(s); /* last: the message's checks may end the tx */
}

int smtp_spf_expire(struct smtp_session *s)
{
	if (!s->tx.spf_run)
		return 0;
	spf_run_cancel(s->tx.spf_run);
	s->tx.spf_run = NULL;
	spf_eval_abort(s->tx.spf, "no result within the checks' time limit");
	spf_record(s, s->tx.spf);
	return 1;
}

void smtp_spf_start(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct dns *d = dns_thread();

	if (!d || tx->spf)
		return;
	tx->spf = spf_eval_new(SPF_ID_MAILFROM, s->conn->peer_ip, tx->mail_from, s->helo,
			       hostname_now(), time_wall());
	if (!tx->spf)
		return; /* not an IP peer (a test socket): nothing to check */
	tx->spf_resolver = dns_resolver_of(d);
	tx->spf_run = spf_run(&tx->spf_resolver, tx->spf, spf_done, s);
}

void smtp_spf_stop(struct smtp_tx *tx)
{
	spf_run_cancel(tx->spf_run);
	tx->spf_run = NULL;
	spf_eval_free(&tx->spf);
}

const char *smtp_spf_log(const struct smtp_tx *tx)
{
	if (!tx->spf)
		return "";
	if (!tx->spf_result)
		return " spf=pending";
	static __thread char buf[32];
	snprintf(buf, sizeof(buf), " spf=%s", tx->spf_result);
	return buf;
}
