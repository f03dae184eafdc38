/*
 * smtp_nullmx.c — RFC 7505 §4 at intake: a domain that publishes a null
 * MX ("0 .") takes no mail, so port 25 refuses MAIL FROM such a domain
 * (550 5.7.27: nothing could answer its bounces, §4.2) and submission
 * refuses RCPT TO one (556 5.1.10, §4.1, RFC 7504) instead of taking the
 * message and bouncing it from the queue.
 *
 * The MX query is the one the queue makes for that domain (dns_query(),
 * the shared cache), on the session loop's resolver. Its reply is what
 * the command's reply depends on, so the session waits for it as it
 * waits for AUTH's check: SMTP_S_WAIT_DNS, reading paused, a pipelined
 * command behind it stays unread. A DNS error, a timeout or no resolver
 * is a pass (the command goes on as without the check): a lookup failure
 * never turns into a 4xx here, as SPF's temperror refuses nothing.
 *
 * The wait is bounded (SMTP_NULLMX_WAIT_MS), shorter than c-ares' tries:
 * past it the command goes on, and the query is left to end in flight
 * (a cancelled one stays in c-ares anyway). While it is, the session
 * asks nothing more (the next check passes at once), so a session has
 * one MX query in flight at most.
 */
#include <stdio.h>

#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "net/conn.h"
#include "smtp/smtp_session.h"

#define SMTP_NULLMX_WAIT_MS 5000

static void check_end(struct smtp_session *s, int null_mx)
{
	if (s->mx_timer)
		loop_timer_del(s->loop, s->mx_timer);
	s->mx_timer = 0;
	s->mx_waiting = 0;
	if (s->conn_gone || s->state != SMTP_S_WAIT_DNS)
		return; /* ended meanwhile (the session's time limit): nothing to answer */
	s->state = s->mx_state;
	s->mx_done(s, null_mx);
	if (s->state == SMTP_S_CLOSING) { /* too many errors */
		conn_flush(s->conn);
		return;
	}
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
	if (s->mx_sync == -1) { /* inside dns_query(): from the cache */
		s->mx_sync = null_mx;
		return;
	}
	if (s->mx_waiting)
		check_end(s, null_mx);
}

static void too_slow(struct loop *loop, void *arg)
{
	struct smtp_session *s = arg;
	(void)loop;
	s->mx_timer = 0;
	log_info("smtp", s->id, "event=null_mx_check result=timeout");
	check_end(s, 0); /* the query stays: answered() finds nobody waiting */
}

int smtp_nullmx_check(struct smtp_session *s, const char *domain,
		      void (*done)(struct smtp_session *s, int null_mx))
{
	struct dns *d = dns_thread();

	if (!d || s->mx_q || !domain[0] || domain[0] == '[')
		return 0;
	s->mx_sync = -1;
	struct dns_query *q = dns_query(d, domain, DNS_T_MX, answered, s);
	if (!q) {
		int r = s->mx_sync;
		s->mx_sync = -2;
		return r == 1;
	}
	s->mx_sync = -2;
	s->mx_q = q;
	s->mx_waiting = 1;
	s->mx_done = done;
	s->mx_state = s->state;
	s->state = SMTP_S_WAIT_DNS;
	conn_pause_read(s->conn, 1);
	s->mx_timer = loop_timer_add(s->loop, SMTP_NULLMX_WAIT_MS, too_slow, s);
	return -1;
}

void smtp_nullmx_session_free(struct smtp_session *s)
{
	if (s->mx_timer)
		loop_timer_del(s->loop, s->mx_timer);
	s->mx_timer = 0;
	s->mx_waiting = 0;
	if (s->mx_q)
		dns_query_cancel(s->mx_q);
	s->mx_q = NULL;
}
