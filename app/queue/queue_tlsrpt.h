/*
 * queue_tlsrpt.h — the queue's TLS outcomes as TLS-RPT data (RFC 8460
 * §4.3): which policy applied to a session, and which result type its
 * failure is, handed to report/tlsrpt_seen.h for counting.
 *
 * Design. queue_sched.c calls these at the points where an outcome is
 * known (a session's end, a host skipped for its policy, a policy that
 * could not be fetched); the mapping from the SMTP client's TLS outcome
 * and BearSSL's certificate error to the RFC's result types lives here
 * alone. Counting is a mutex and a short scan, never I/O: safe on the
 * scheduler's loop.
 */
#ifndef TERN_QUEUE_QUEUE_TLSRPT_H
#define TERN_QUEUE_QUEUE_TLSRPT_H

#include <stddef.h>
#include <sys/socket.h>

#include "tlspol/mta_sts.h"
#include "tlspol/tlsa.h"
#include "tlspol/tlsrpt.h"

/* The policy a session ran under: DANE records (ntlsa > 0, or
 * dane_unusable), else an MTA-STS policy (mode not NONE), else none. */
struct queue_tlsrpt_pol {
	const char *domain;
	const struct mta_sts_policy *sts; /* NULL or mode NONE: none */
	const struct tlsa_rec *tlsa;
	size_t ntlsa;
	int dane; /* 1: the host had TLSA records (usable or not) */
	const char *sending_ip; /* our side of the connection ("" or NULL unknown) */
	/* 1: an MTA-STS policy exists but could not be had (fetch failed,
	 * nothing cached): counted under policy type sts, with no strings. */
	int sts_failed;
};

/*
 * What one session counted, kept so that each later message on the same
 * connection (a kept session, queue_sched.c's cache) counts as one more
 * session of the same outcome: RFC 8460 counts sessions, and a message
 * sent on a reused connection is one the policy domain received under
 * that TLS outcome. set 0: nothing was counted.
 */
struct queue_tlsrpt_row {
	int set;
	int ok;
	enum tlsrpt_result result;
	enum tlsrpt_policy_type type;
	char domain[256];
	char policy[1000];
	char mx[256];
	char ip[48];
	char info[256];
	char sending_ip[48];
};

/*
 * A session's end: tls_outcome and tls_err as smtp_client_msg reports
 * them (SMTPC_TLS_*). Outcomes that say nothing about TLS (the session
 * ended before, or ran in plaintext because we chose so) count nothing.
 * ip: the address tried (NULL or a zero family: unknown).
 */
void queue_tlsrpt_session(const struct queue_tlsrpt_pol *p, const char *mx,
			  const struct sockaddr_storage *ip, int tls_outcome, int tls_err,
			  struct queue_tlsrpt_row *row_r);

/* A failure found without a session or standing for one (an MX host the
 * policy does not name, TLSA records that could not be read or used, a
 * policy that could not be fetched). row_r (NULL: not wanted) gets what
 * was counted, as for queue_tlsrpt_session. */
void queue_tlsrpt_failure(const struct queue_tlsrpt_pol *p, enum tlsrpt_result r, const char *mx,
			  const struct sockaddr_storage *ip, const char *info,
			  struct queue_tlsrpt_row *row_r);

/* Counts row once more (a later message on the session that counted it);
 * nothing when row->set is 0. */
void queue_tlsrpt_replay(const struct queue_tlsrpt_row *row);

/* The result type of a refused certificate (BearSSL's BR_ERR_X509_* or DANE_ERR_NO_MATCH). */
enum tlsrpt_result queue_tlsrpt_cert_result(int tls_err);

#endif
