/*
 * smtp_spf.c — port 25's SPF check of MAIL FROM (RFC 7208), run on the
 * session loop's resolver while the client sends RCPT and DATA.
 *
 * The MAIL stage: check (smtp_session.c) -> policy (this check starts; it
 * never holds the reply to MAIL, since SPF alone refuses nothing) ->
 * proceed (250). The result is logged (event=spf) and is one input of
 * DMARC at the end of DATA (smtp_checks.c), which waits for it when it is
 * still running; its end wakes that stage.
 *
 * A transaction that ends (RSET, a new MAIL) while its check waits for a
 * lookup does not cancel it: a cancelled lookup stays in flight in
 * c-ares for all its tries anyway, so a client pipelining MAIL and RSET
 * made one query a transaction, without bound, to nameservers that may
 * never answer. The check is ended (it asks nothing more) and kept as
 * the session's spf_old until that one answer comes; the next
 * transaction's check starts then. So a session has one SPF lookup in
 * flight at most; one cut by the end of DATA's deadline (smtp_checks.c)
 * is the only other, one a message.
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

static void spf_done(void *arg, struct spf_eval *e);

/* The ended transaction's lookup came back: the waiting check may start. */
static void old_done(struct smtp_session *s)
{
	s->spf_old_run = NULL;
	spf_eval_free(&s->spf_old);
	if (!s->in_tx || !s->tx.spf_waiting)
		return;
	s->tx.spf_waiting = 0;
	struct spf_run *run = spf_run(&s->spf_resolver, s->tx.spf, spf_done, s);
	if (run) /* else done ran: it may have ended the tx, even the session */
		s->tx.spf_run = run;
}

static void spf_done(void *arg, struct spf_eval *e)
{
	struct smtp_session *s = arg;

	if (e == s->spf_old) {
		old_done(s);
		return;
	}
	spf_record(s, e);
	smtp_checks_wake(s); /* last: the message's checks may end the tx */
}

int smtp_spf_expire(struct smtp_session *s)
{
	if (!s->tx.spf_run && !s->tx.spf_waiting)
		return 0;
	s->tx.spf_waiting = 0;
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
	s->spf_resolver = dns_resolver_of(d);
	if (s->spf_old_run) {
		tx->spf_waiting = 1; /* old_done starts it */
		return;
	}
	tx->spf_run = spf_run(&s->spf_resolver, tx->spf, spf_done, s);
}

void smtp_spf_stop(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;

	tx->spf_waiting = 0;
	if (tx->spf_run && !s->spf_old_run) {
		/* Its lookup would stay in flight if cancelled: wait for it. */
		spf_eval_abort(tx->spf, "transaction ended");
		s->spf_old = tx->spf;
		s->spf_old_run = tx->spf_run;
		tx->spf = NULL;
		tx->spf_run = NULL;
		return;
	}
	spf_run_cancel(tx->spf_run);
	tx->spf_run = NULL;
	spf_eval_free(&tx->spf);
}

void smtp_spf_session_free(struct smtp_session *s)
{
	spf_run_cancel(s->spf_old_run);
	s->spf_old_run = NULL;
	spf_eval_free(&s->spf_old);
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
