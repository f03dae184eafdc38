/*
 * smtp_nullmx.c — RFC 7505 §4 at intake: a domain that publishes a null
 * MX ("0 .") takes no mail. Port 25 refuses mail from such a sender
 * (550 5.7.27: nothing could answer its bounces, §4.2) and submission
 * refuses a recipient at one (556 5.1.10, §4.1 and RFC 7504 §3) instead
 * of taking the message and bouncing it from the queue.
 *
 * One MX query (dns_query(), the cache the queue's routes share) with
 * DNS_QUERY_FAILURE_CACHED: a DNS error or timeout is a pass and is
 * remembered for DNS_FAILURE_TTL, so a dead resolver costs one timeout,
 * not one per session. A negative answer is cached for its SOA's TTL
 * (RFC 2308) as every answer is. The session keeps the last domain asked
 * and its answer, and one query in flight at most.
 *
 * Port 25 never waits for it. MAIL starts the query beside SPF's
 * (smtp_spf_start); an answer already known (the cache) refuses MAIL, one
 * that came by an RCPT refuses that RCPT, and one in by the decision at
 * the end of DATA (smtp_checks.c: after SPF, DKIM and DMARC, which asked
 * their own names meanwhile) refuses the message there. One not in by
 * then is a pass: waiting for it would make a resolver that answers the
 * MX query alone slowly (c-ares retries it after a refused datagram while
 * SPF's failed at once) hold every message's reply, which SPF does not.
 * A transaction whose sender's domain differs from the one in flight
 * (MAIL, RSET, MAIL) asks when that answer is in, as SPF does. With TERN_AUTH_CHECKS=off nothing waits: an answer in
 * by the end of DATA is applied, else the message passes.
 *
 * Submission's RCPT to another domain waits for the answer (the submitter
 * waits for the reply anyway): SMTP_S_WAIT_DNS, reading paused, and the
 * RCPT line is left in the input and run again when the answer is in (or
 * after SMTP_NULLMX_WAIT_MS, then as a pass), finding it in the session.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "net/conn.h"
#include "smtp/smtp_session.h"

#define SMTP_NULLMX_WAIT_MS 5000

/* The domain of address (after its last '@') when it can be asked about:
 * not empty, no literal, ASCII, short enough; else NULL. */
static const char *domain_of(const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	if (!at || !at[1] || at[1] == '[' || strlen(at + 1) >= sizeof(((struct smtp_session *)0)->mx_domain))
		return NULL;
	for (const unsigned char *p = (const unsigned char *)at + 1; *p; p++)
		if (*p >= 0x80 || *p <= 0x20)
			return NULL; /* a U-label: its A-label is what DNS holds */
	return at + 1;
}

static void ask(struct smtp_session *s, const char *domain);
static void too_slow(struct loop *loop, void *arg);

/* Submission's RCPT waited: it runs again from the input, finding the answer. */
static void wait_end(struct smtp_session *s)
{
	if (s->mx_timer)
		loop_timer_del(s->loop, s->mx_timer);
	s->mx_timer = 0;
	if (s->conn_gone || s->state != SMTP_S_WAIT_DNS)
		return; /* ended meanwhile (the session's time limit) */
	s->state = s->mx_state;
	conn_pause_read(s->conn, 0);
	smtp_session_input(s);
	if (s->conn) /* reading on may have ended the session's conn */
		conn_flush(s->conn);
}

static void answered(void *arg, const struct dns_answer *a)
{
	struct smtp_session *s = arg;
	int null_mx = dns_answer_null_mx(a);

	s->mx_q = NULL;
	s->mx_null = null_mx;
	/* A failure from the network (one remembered is not news). */
	if (!s->mx_starting && a->status == DNS_ANS_TEMP) {
		char q[300];
		log_info("smtp", s->id, "event=null_mx_check domain=%s result=temperror",
			 log_q(s->mx_domain, q, sizeof q));
	}
	if (s->mx_starting)
		return; /* inside dns_query(): the asker reads mx_null */
	if (s->state == SMTP_S_WAIT_DNS) {
		wait_end(s);
		return;
	}
	if (s->mode != SMTP_MODE_MX || !s->in_tx)
		return;
	/* The transaction's sender may be another domain (a new MAIL while
	 * this one was asked): its turn now. */
	const char *d = domain_of(s->tx.mail_from);
	if (d && strcasecmp(d, s->mx_domain) != 0)
		ask(s, d);
}

/* Asks about domain unless a query is in flight; the answer may be in at once. */
static void ask(struct smtp_session *s, const char *domain)
{
	struct dns *d = dns_thread();

	if (!d || s->mx_q)
		return;
	snprintf(s->mx_domain, sizeof s->mx_domain, "%s", domain);
	s->mx_null = -1;
	s->mx_waited = 0;
	s->mx_starting = 1;
	struct dns_query *q = dns_query_flags(d, domain, DNS_T_MX, DNS_QUERY_FAILURE_CACHED, answered, s);
	s->mx_starting = 0;
	if (q)
		s->mx_q = q;
}

/* What the session knows of domain: 1 null MX, 0 not, -1 not yet (asked, or to be). */
static int known(struct smtp_session *s, const char *domain)
{
	if (!domain || !dns_thread())
		return 0;
	if (s->mx_domain[0] && strcasecmp(s->mx_domain, domain) == 0)
		return s->mx_null;
	ask(s, domain);
	if (strcasecmp(s->mx_domain, domain) != 0)
		return -1; /* another domain's query still in flight */
	return s->mx_null;
}

int smtp_nullmx_sender(struct smtp_session *s)
{
	if (s->mode != SMTP_MODE_MX || !s->in_tx)
		return 0;
	return known(s, domain_of(s->tx.mail_from));
}

int smtp_nullmx_mail(struct smtp_session *s, const char *sender)
{
	return known(s, domain_of(sender)) == 1;
}

int smtp_nullmx_relay(struct smtp_session *s, const char *rcpt)
{
	const char *domain = domain_of(rcpt);
	int r = known(s, domain);

	if (r >= 0)
		return r;
	if (!s->mx_q || strcasecmp(s->mx_domain, domain) != 0 || s->mx_waited)
		return 0; /* another domain's query, or this one already waited for: a pass */
	s->mx_state = s->state;
	s->state = SMTP_S_WAIT_DNS;
	conn_pause_read(s->conn, 1);
	s->mx_timer = loop_timer_add(s->loop, SMTP_NULLMX_WAIT_MS, too_slow, s);
	return -1;
}

static void too_slow(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	char q[300];
	(void)loop;
	s->mx_timer = 0;
	s->mx_waited = 1; /* the query stays in flight; the RCPT passes */
	log_info("smtp", s->id, "event=null_mx_check domain=%s result=timeout",
		 log_q(s->mx_domain, q, sizeof q));
	wait_end(s);
}

void smtp_nullmx_session_free(struct smtp_session *s)
{
	if (s->mx_timer)
		loop_timer_del(s->loop, s->mx_timer);
	s->mx_timer = 0;
	dns_query_cancel(s->mx_q);
	s->mx_q = NULL;
}
