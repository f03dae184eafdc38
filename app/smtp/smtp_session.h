/*
 * smtp_session.h — the inbound SMTP session, shared by smtp_session.c
 * (commands and state) and smtp_tx.c (message data and delivery).
 *
 * A session is an explicit state plus a transaction. The transaction (MAIL
 * to end of data) owns an arena freed in one call when it ends, and the
 * message buffer, bounded by TERN_MAX_MESSAGE_SIZE plus room for the
 * headers we add.
 *
 * The same session serves port 25 (mode SMTP_MODE_MX: mail for local
 * recipients only) and submission (587 with STARTTLS, 465 with implicit
 * TLS): the submission policy — AUTH, sender ownership, the rate limit,
 * DKIM signing and the hand-off to the outbound queue — is in
 * smtp_auth.c and smtp_submit.c, called from the shared command handlers
 * where the mode matters.
 */
#ifndef TERN_SMTP_SMTP_SESSION_H
#define TERN_SMTP_SMTP_SESSION_H

#include <stdint.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "auth/session_watch.h"
#include "core/buf.h"
#include "core/spool.h"
#include "deliver/deliver.h"
#include "dns/dns_resolver.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "store/store.h"

struct arena;
struct login_held;
struct config;
struct spf_eval;
struct spf_run;
struct forward_copy;
struct smtp_checks;
struct smtp_spam;
struct spam_dnsbl_run;
struct iprev_eval;
struct dns_drive;
struct dns_query;
struct verdict;
struct conn;
struct loop;

enum smtp_state {
	SMTP_S_GREETING, /* connected, greeting not sent yet */
	SMTP_S_CONNECTED, /* greeting sent, no HELO/EHLO yet */
	SMTP_S_HELO,      /* HELO/EHLO done, no transaction */
	SMTP_S_MAIL,      /* MAIL accepted */
	SMTP_S_RCPT,      /* at least one RCPT accepted */
	SMTP_S_DATA,      /* reading DATA content */
	SMTP_S_BDAT,      /* reading a BDAT chunk */
	SMTP_S_WAIT_STORE, /* message handed to the store, waiting for commit */
	SMTP_S_CLOSING,   /* final reply queued */
	SMTP_S_AUTH,      /* submission: reading a SASL response line */
	SMTP_S_WAIT_AUTH, /* submission: password check running, or failure delay */
	SMTP_S_WAIT_DNS,  /* submission: RCPT waits for its null MX check (smtp_nullmx.c) */
};

enum smtp_mode {
	SMTP_MODE_MX,          /* port 25: local recipients only, no AUTH */
	SMTP_MODE_SUBMISSION,  /* 587: STARTTLS, then AUTH, then anything */
	SMTP_MODE_SUBMISSIONS, /* 465: implicit TLS, greeting after the handshake */
};

struct smtp_rcpt {
	char *address; /* as given, domain lowercased */
	char *params;  /* DSN parameters as kept in the envelope ("NOTIFY=.. ORCPT=..") */
	uint32_t *accounts; /* the accounts this address resolved to (tx arena) */
	unsigned naccounts;
	unsigned notify;      /* SMTP_NOTIFY_* as given, 0 when absent */
	char *orcpt;          /* ORCPT decoded ("rfc822;user@host"), or NULL */
	/* Outside targets this address is forwarded to (smtp_forward.c),
	 * each with the alias that names it ("" for an SRS bounce). */
	char **fwd, **fwd_alias;
	unsigned nfwd;
	int srs; /* 1: an SRS address of ours; fwd[0] is where the bounce goes */
	/* Submission: its copy waits in the queue for room in the mailbox
	 * (queue.h, queue_request.waits): the queue tells "delivered". */
	uint8_t waits;
};

struct smtp_tx {
	struct arena *arena;
	char *mail_from; /* "" for the null sender */
	char *mail_params; /* RET/ENVID/BODY/SMTPUTF8 as kept in the envelope */
	int smtputf8;
	int requiretls; /* MAIL FROM had REQUIRETLS (RFC 8689) */
	enum smtp_body body;  /* BODY= of MAIL */
	enum smtp_ret ret;    /* RET= of MAIL */
	uint64_t size;        /* SIZE= of MAIL (RFC 1870), 0 when not given */
	char *envid;          /* ENVID decoded, or NULL */
	/* Deliver By (RFC 2852): BY= given; its deadline (the by-time
	 * counted from MAIL, seconds since the epoch), R mode, trace. */
	int by;
	int64_t by_deadline;
	int by_return, by_trace;
	/* Future Release (RFC 4865): the release time, seconds since the
	 * epoch; 0 = none (or one already past: sent at once). */
	int64_t hold_until;
	/* MT-PRIORITY (RFC 6710) as honoured: -9..9, 0 = normal (always 0
	 * from an untrusted client, smtp_mt_priority()). */
	int mt_priority;
	struct smtp_rcpt *rcpts;
	unsigned nrcpts;
	unsigned rcpt_overshoot; /* RCPTs refused past the limit */
	uint32_t *accounts; /* distinct accounts, one copy each */
	unsigned naccounts, accounts_cap;
	struct spool msg;   /* added headers + message (memory, or a file past the budget) */
	struct str data;    /* msg as one range, from spool_finish() at the end of data */
	struct buf chunk;   /* DATA: the reader's output for one input chunk, on its way to msg */
	size_t header_len;  /* bytes of added headers at the front of msg */
	int spool_failed;   /* msg refused bytes (no memory, disk error): 421 at the end */
	int data_failed;    /* BDAT: a chunk failed; consume and refuse the rest */
	/* Refused after its data by a verdict on the message (a policy's, the
	 * spam stage's, Sieve's, a quota): smtp_tx_committed() counts it
	 * among the session's errors, as a refused command. */
	int refused;
	int too_big;
	uint64_t bdat_left; /* bytes of the current chunk still to read */
	int bdat_last;
	int used_bdat;
	/* BDAT: what the content held so far, as DATA's reader tells it:
	 * the last octet was a CR (its LF may open the next chunk), a bare
	 * CR or LF, a NUL; and whether the last octet was an LF (the last
	 * line is closed, bdat_close_line()). */
	uint8_t bdat_cr, bdat_bare, bdat_nul, bdat_lf;
	struct smtp_data_reader reader;
	struct delivery dl;         /* port 25: the local delivery (deliver/deliver.h) */
	struct deliver_plan *plans; /* its plans, one per account (tx arena) */
	unsigned nplans;            /* the accounts, then those Sieve redirects reached */
	struct deliver_sieve_reply **sieve_replies; /* per plan, what follows the commit (tx arena array) */
	/* Sieve redirects to outside addresses (tx arena): they join the
	 * forwarded copy (smtp_forward.c), each with the address of ours
	 * whose script redirected it. */
	char **sfwd, **sfwd_by;
	unsigned nsfwd;
	/* Per sfwd entry: the redirect's :notify as SQ_NOTIFY_* bits (0: the
	 * default); and the last :ret given, 1 FULL, -1 HDRS, 0 none
	 * (redirect-dsn, RFC 6009 §5). */
	uint8_t *sfwd_notify;
	int sfwd_ret;
	/* redirect-deliverby (RFC 6009 §5): the earliest deadline a redirect
	 * to outside gave, as SQ_BY* flags (0: none) and the time; it is
	 * the forwarded copy's Deliver By in place of MAIL's. */
	unsigned sfwd_by_flags;
	int64_t sfwd_by_deadline;
	/* Per plan (tx arena): the message as the script that redirected it
	 * here left it (p NULL: as received); that account's copy and its
	 * own script get it. sfwd_edited: the same for the forwarded copy,
	 * when the redirects to outside carry one edited message;
	 * sfwd_mixed: they carry different ones (the copy then leaves as
	 * received, logged). */
	struct str *plan_msg;
	struct str sfwd_edited;
	int sfwd_mixed;
	/* DMARC passed (SPF or DKIM in alignment): a Sieve reject of one
	 * account among several may be told by a DSN (smtp_tx.c). */
	int dmarc_pass;
	/* Per plan: the reason of a Sieve reject told by a DSN after the
	 * commit (NULL: none); tx arena. */
	const char **sieve_rejects;
	/* What Sieve's spamtest/spamtestplus see (RFC 5235: 1..10; 0, the
	 * default, "not tested"), set by the spam stage (smtp_spam.c). */
	int sieve_spamtest;
	/* What Sieve's virustest sees (RFC 5235 §3.3): 1 when clamd found the
	 * message clean, 0 (the default) when it was not scanned; an
	 * infected message is refused before Sieve runs. */
	int sieve_virustest;
	struct clamd_scan *virus_scan; /* in flight (smtp_virus.c), else NULL */
	int virus_state; /* the session's state (enum smtp_state) before the scan */
	unsigned seq; /* transaction number within the session, for the id */
	void *submit_job; /* submission: the signing job in flight (smtp_submit.c) */
	/* Port 25: the SPF check of MAIL FROM (smtp_spf.c), logged, not acted on yet. */
	struct spf_eval *spf;
	struct spf_run *spf_run;         /* in flight, else NULL */
	int spf_waiting;                 /* not started: the session's spf_old still runs */
	const char *spf_result;          /* "pass", ... once known (static), else NULL */
	struct forward_copy *fwd; /* the forwarded copy and its queue entry (smtp_forward.c), or NULL */
	int fwd_pending;      /* end of data: something is forwarded (smtp_forward_check) */
	int arc_known;        /* the checks validated the message's ARC chain (not when a
			       * temporary failure left it unjudged): */
	int arc_cv;           /* its enum arc_cv, for the forwarded copy's seal */
	/* Port 25, end of DATA: the authentication stages (smtp_checks.c). */
	struct smtp_checks *checks;
	const char *auth_log;            /* the results as log pairs (tx arena), once decided */
	const char *report_dkim; /* the DKIM verdict for a report's intake (dmarc_intake_dkim; tx arena), or NULL */
	/* Port 25: the spam stage (smtp_spam.c): the first recipient's policy, then the message's. */
	struct smtp_spam *spam;
	uint64_t spam_key;    /* what makes a recipient's verdict differ (smtp_spam_rcpt) */
	int spam_key_set;
	int spam_postmaster;  /* the postmaster is a recipient: never refused */
	int spam_trap;        /* the recipients are spam traps */
	uint32_t spam_account; /* the first recipient's account (its lists) */
	uint64_t spam_recent_seq; /* the decision in spam_recent.h; 0: none */
	const char *spam_domain; /* the first recipient's domain (its lists; tx arena) */
	const char *spam_fields; /* X-Spam-Status and X-Spam-Result, after fields in the head (tx arena) */
	const char *spam_from;   /* the filter's reputation subjects (store_delivery.spam_from, tx arena) */
	/* Per account (tx->accounts' order) when the recipients' own models
	 * gave them verdicts that differ (smtp_spam.c), else NULL and the
	 * message's verdict holds for all (spam_fields, smtp_tx_store's junk,
	 * sieve_spamtest). tx arena. */
	struct smtp_spam_own *spam_own;
};

/* One account's spam verdict (smtp_tx.spam_own). */
struct smtp_spam_own {
	int junk;           /* as smtp_tx_store's: 0 as usual, 1 Junk, 2 discard */
	int spamtest;       /* what its Sieve spamtest sees */
	const char *fields; /* its X-Spam-* fields (tx arena) */
};

struct smtp_session {
	char id[20];
	struct conn *conn;
	struct loop *loop;
	enum smtp_state state;
	int esmtp;
	char helo[256];
	unsigned errors;
	/* Past smtp_soft_errors, each command line waits
	 * SMTP_ERROR_SLEEP_MS before it runs (Postfix's smtpd_error_sleep_time
	 * over smtpd_soft_error_limit): the timer, and whether the line at
	 * the head of the input has had its wait. */
	uint64_t pace_timer;
	int paced, pace_logged;
	/* Lines after an AUTH command still to come that may be the SASL
	 * responses of a refused exchange a client pipelined (a password in
	 * base64): an unknown command among them is logged without its text. */
	unsigned sasl_quiet;
	/* The last command was a DATA that was refused (text_after_refused_data). */
	int data_refused;
	unsigned junk_cmds; /* NOOP, RSET, VRFY, EXPN, HELP, HELO, EHLO, BDAT 0 since the last message accepted */
	unsigned tx_count;
	int discarding;  /* dropping the rest of an over-long line */
	uint64_t dropped; /* octets of that line dropped so far (SMTP_DROP_MAX) */
	int starttls_pending; /* 220 sent: nothing is read until TLS is up */
	uint64_t skip_bytes; /* chunk bytes of a refused BDAT still to drop */
	int conn_gone;   /* conn closed while the store still works for us */
	int draining;
	int limited;     /* holds a connection-limit slot */
	uint64_t idle_timer, life_timer, greet_timer;
	uint64_t idle_since; /* loop_now_ms() of the last input */
	uint64_t record_since; /* loop_now_ms() of the last complete record */
	size_t record_bytes; /* message octets since then (DATA, BDAT) */
	uint64_t rate_since; /* loop_now_ms() the message's rate window began */
	uint64_t rate_bytes; /* octets of the message (and BDAT lines) since then */
	struct smtp_tx tx; /* valid in MAIL..WAIT_STORE */
	int in_tx;
	struct smtp_session *prev, *next; /* per-loop list */

	/* Submission only (smtp_auth.c, smtp_submit.c). */
	enum smtp_mode mode;
	int authenticated;
	uint32_t account;     /* once authenticated */
	char login[SASL_USER_MAX + 1]; /* the account's address, once authenticated */
	struct sasl_login sasl; /* the AUTH exchange in progress (SMTP_S_AUTH) */
	struct login_held *scram_ok; /* SCRAM proven: waits for the empty response */
	struct login *auth;   /* AUTH in flight (auth/login.h): the session waits */
	struct session_watch watch; /* once authenticated: ends us when credentials change */
	int vouched; /* smtp_server_accept_preauth: the transport stands for TLS and AUTH */

	/* Port 25: iprev of the client, from the connect on (smtp_checks.c). */
	struct iprev_eval *iprev;
	struct dns_drive *iprev_run;       /* in flight, else NULL */
	struct dns_resolver iprev_resolver; /* must outlive iprev_run */
	/* Port 25: the resolver of SPF checks (outlives tx.spf_run and
	 * spf_old_run), and the check of an ended transaction whose last
	 * lookup is still in flight (smtp_spf.c). */
	struct dns_resolver spf_resolver;
	struct spf_eval *spf_old;
	struct spf_run *spf_old_run;
	/* Port 25: the client's blocklist lookups, from the connect on (smtp_spam.c). */
	struct spam_dnsbl_run *dnsbl;
	struct dns_resolver dnsbl_resolver; /* must outlive dnsbl */
	/* RFC 7505 null MX checks (smtp_nullmx.c): the last domain asked
	 * and its answer, the one query in flight. */
	struct dns_query *mx_q;    /* in flight for mx_domain, else NULL */
	char mx_domain[256];       /* "" until one is asked */
	int mx_null;               /* mx_domain's: 1 null MX, 0 not (or failed), -1 not yet */
	int mx_starting;           /* inside dns_query(): an answer only records */
	int mx_waited;             /* a RCPT waited SMTP_NULLMX_WAIT_MS for mx_q: no more waits */
	uint64_t mx_timer;         /* the bound of a RCPT's wait */
	enum smtp_state mx_state;  /* the state a waiting RCPT resumes in */
};

extern const struct config *smtp_cfg;
extern struct store *smtp_store;

/* Queues a reply line (with CRLF added). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counts a client error; after too many, queues 421 and closes. Returns 1 when closing. */
int smtp_session_error(struct smtp_session *s);
/* Counts a RCPT answered 452 4.5.3 (send it in another transaction):
 * an error only past a thousand in one transaction. */
void smtp_rcpt_put_off(struct smtp_session *s);
/* Processes buffered input until it runs out or the session waits. */
void smtp_session_input(struct smtp_session *s);
/* Frees the session once the conn is gone and the store no longer needs it. */
void smtp_session_free(struct smtp_session *s);
/* Ends the transaction and frees its memory. */
void smtp_tx_end(struct smtp_session *s);

/* smtp_auth.c (submission) */
/* AUTH command: PLAIN or LOGIN, only over TLS. */
void smtp_auth_cmd(struct smtp_session *s, struct smtp_cmd *cmd);
/* A SASL response line while in SMTP_S_AUTH. */
void smtp_auth_line(struct smtp_session *s, struct str line);
/* smtp_server_accept_preauth: logged in as login (account) from the
 * greeting on, as an AUTH success would make it, without a credential
 * watch; the session counts as private (smtp_session_private). */
void smtp_auth_preauth(struct smtp_session *s, uint32_t account, const char *login);
/* 1 when what the client sends cannot be read on the way: TLS is up, or
 * the transport vouches for its peer (smtp_auth_preauth). AUTH and MAIL
 * on the submission ports want it. */
int smtp_session_private(const struct smtp_session *s);
/* The conn is gone: stops the failure-delay timer. */
void smtp_auth_closed(struct smtp_session *s);
/* The account's password changed, or it was disabled or deleted: 421, close. */
void smtp_auth_revoked(struct smtp_session *s, int gone);

/* smtp_submit.c (submission) */
/* EHLO: the extension lines only submission offers. */
void smtp_submit_ehlo(struct smtp_session *s);
/* MAIL before anything is set up: TLS and AUTH done, rate not exceeded.
 * Returns 0, or -1 after replying. */
int smtp_submit_may_mail(struct smtp_session *s);
/* MAIL with HOLDFOR or HOLDUNTIL (RFC 4865): checks them against
 * TERN_SMTP_FUTURERELEASE_MAX and BY=, and sets *hold_until_r (0: none,
 * a time not in the future). 0, or -1 after replying. */
int smtp_submit_hold(struct smtp_session *s, const struct smtp_params *p, int64_t now,
		     int64_t *hold_until_r);
/* MAIL: the envelope sender belongs to the account. 0, or -1 after
 * replying (553, or 451 when the store could not tell now). */
int smtp_submit_check_sender(struct smtp_session *s, const char *addr);
/* 1 when addr is an address of account as submission judges it (mail to
 * it would reach the account: its own, +tags, aliases, a catch-all's
 * addresses that are no account or alias of their own); JMAP's
 * EmailSubmission asks the same (jmap_submission.c). 0 otherwise, also
 * when the store could not be read (a refusal, never a pass). */
struct store;
int smtp_submit_owned(struct store *st, uint32_t account, const char *addr);
/* Message complete: checks From, adds Date/Message-ID, signs, enqueues. */
void smtp_submit_deliver(struct smtp_session *s);

/* smtp_tx.c */
/* DATA command accepted: prepares the message buffer and reader. */
int smtp_tx_begin_data(struct smtp_session *s, int bdat);
/* Feeds DATA content from the conn's input; returns 1 when the message is complete. */
int smtp_tx_feed_data(struct smtp_session *s);
/* Feeds BDAT chunk bytes; returns 1 when the chunk is complete. */
int smtp_tx_feed_bdat(struct smtp_session *s);
/* BURL url [LAST] (RFC 4468): the URL's octets (imap/imap_urlauth.h, for
 * the authenticated user) become the next chunk; replies 250 with the
 * octets so far, 554 5.6.6 when the URL gives nothing, 552 past the size
 * limit; with LAST the message goes for delivery as after BDAT LAST. */
void smtp_tx_burl(struct smtp_session *s, struct str url, int last);
/* The message is complete: checks it and hands it to the store, or replies an error. */
void smtp_tx_finish(struct smtp_session *s);
/* After the virus scan (smtp_virus.h) found the message clean, or when
 * there was none: delivery goes on (port 25's checks, or submission's
 * queue). */
void smtp_tx_scanned(struct smtp_session *s);
/* The store or the queue answered (after the reply was queued): ends the
 * transaction and resumes reading, or frees the session when it is gone. */
void smtp_tx_committed(struct smtp_session *s);
/* After the commit: the "delivered" notice for the local recipients that
 * asked NOTIFY=SUCCESS (msg/len: the message as stored, for RET). */
void smtp_tx_notify_delivered(struct smtp_session *s, const char *msg, size_t len);

/* smtp_nullmx.c */
/*
 * MAIL on port 25: starts the MX query of sender's domain (unless the
 * session has its answer or one in flight). 1 when the answer is known
 * already and is a null MX (MAIL is refused), else 0; never waits.
 */
int smtp_nullmx_mail(struct smtp_session *s, const char *sender);
/*
 * Port 25, in a transaction: its sender domain's answer. 1 null MX; 0
 * not, or no answer (failure, no resolver, a literal, the null sender);
 * -1 not in yet (nobody is woken when it is: port 25 never waits for
 * it). May start the query (a sender asked after another's).
 */
int smtp_nullmx_sender(struct smtp_session *s);
/*
 * Submission RCPT to rcpt, a domain not ours: 1 null MX (refuse it), 0
 * relay it (no null MX, a DNS failure, a timeout), -1 not in yet: the
 * session is in SMTP_S_WAIT_DNS with reading paused, the RCPT line must
 * stay in the input unconsumed; it is run again when the answer is in
 * (SMTP_NULLMX_WAIT_MS at most), and this then answers 0 or 1.
 */
int smtp_nullmx_relay(struct smtp_session *s, const char *rcpt);
/* The session ends: its query and timer go. */
void smtp_nullmx_session_free(struct smtp_session *s);

/* smtp_forward.c (port 25) */
struct store_forward;
/* RCPT: addr is an SRS address at one of our domains. 0: it is not
 * (resolve as usual); 1: a bounce to a valid one, fw[0] is where it goes
 * (*nf_r 1); -1: refused, the reply is queued. */
int smtp_forward_rcpt(struct smtp_session *s, const char *addr, struct store_forward *fw,
		      size_t *nf_r);
/* RCPT: each alias of fw may forward one more message (TERN_FORWARD_RATE).
 * 0, or -1 after replying 450 4.7.1. */
int smtp_forward_rate(struct smtp_session *s, const char *addr, const struct store_forward *fw,
		      size_t nf);
/* RCPT accepted: keeps addr's forwards in rc (the tx arena). */
void smtp_forward_keep(struct smtp_session *s, struct smtp_rcpt *rc, const struct store_forward *fw,
		       size_t nf, int srs);
/* End of data (tx->data set): the hop count and our own Delivered-To.
 * Looping forwards are dropped (logged); 0, or -1 after replying 554
 * 5.4.6 when nothing would be left to deliver or there are too many hops. */
int smtp_forward_check(struct smtp_session *s);
/* Builds the forwarded copy and its queue entry (tx->fwd) when the tx
 * forwards anything: linear in the size (smtp_tx_store, after the checks). */
void smtp_forward_prepare(struct smtp_session *s, const char *fields);
/* Makes d's commit write the queue entry too (its transaction hook). */
void smtp_forward_attach(struct smtp_session *s, struct delivery *d);
/* After the commit: counts the rate, logs, wakes the queue. */
void smtp_forward_committed(struct smtp_session *s, int result);
/* Frees tx->fwd (smtp_tx_end). */
void smtp_forward_free(struct smtp_tx *tx);
/* Port 25, after the checks: delivers with fields (the stages' header
 * fields, or NULL) after the Return-Path, to Junk when junk is 1; with
 * junk 2 (the spam filter's discard) nothing is stored, Sieve is not run,
 * and the client still gets its 250. */
void smtp_tx_store(struct smtp_session *s, const char *fields, int junk);

/* smtp_quota.c (port 25) */
/* RCPT: the size MAIL declared against the quotas of the accounts ids (n)
 * the address resolved to (store_quota_fits). 0 to go on (it fits, no
 * size was declared, not port 25), -1 when the address was refused (452
 * 4.2.2 or 552 5.2.2 sent, counted as an error). addr as the reply shows
 * it, qa as the log does. */
int smtp_rcpt_quota(struct smtp_session *s, const char *addr, const char *qa,
		    const uint32_t *ids, size_t n);
/* 1 when account may not take this transaction's message (its room is
 * less than the size MAIL declared, or than TERN_MAX_MESSAGE_SIZE), so
 * that it must not share the transaction with another account; else 0. */
int smtp_quota_may_refuse(struct smtp_session *s, uint32_t account);
/* 1 when this RCPT (accounts ids, n; nf outside targets) would mix forwards
 * with an account that may not take the message (smtp_quota_may_refuse)
 * in one transaction: a delivery that forwards stores its local copies
 * without the quota check (smtp_forward_attach), so the account waits
 * for a transaction of its own. Else 0. */
int smtp_quota_forward_mix(struct smtp_session *s, const uint32_t *ids, size_t n, size_t nf);

/* smtp_checks.c (port 25) */
/* Connect: starts iprev of the client. */
void smtp_checks_connect(struct smtp_session *s);
/* The session is freed: stops iprev. */
void smtp_checks_session_free(struct smtp_session *s);
/* End of DATA: DKIM, DMARC, the policy; then smtp_tx_store() or the verdict. */
void smtp_checks_message(struct smtp_session *s);
/* SPF or iprev finished: the message's checks may go on. */
void smtp_checks_wake(struct smtp_session *s);
/* Frees the message's checks (smtp_tx_end). */
void smtp_checks_tx_free(struct smtp_tx *tx);
/* Renders a policy verdict (policy/policy.h) as the reply. */
void smtp_reply_verdict(struct smtp_session *s, const struct verdict *v);
/* 550 5.7.27: sender's domain publishes a null MX (RFC 7505 §4.2). */
void smtp_reply_null_mx(struct smtp_session *s, const char *sender);

/* smtp_spf.c */
/* Port 25, MAIL accepted: starts the SPF check of the sender on the loop's resolver. */
void smtp_spf_start(struct smtp_session *s);
/* Ends the transaction's check; smtp_tx_end calls it. One still waiting
 * for a lookup becomes the session's spf_old until that answer comes. */
void smtp_spf_stop(struct smtp_session *s);
/* The session is freed: cancels spf_old. */
void smtp_spf_session_free(struct smtp_session *s);
/* The message's checks ran out of time: a check still running ends now as
 * temperror (logged as its end is), without waking them. 1 when it was
 * running. */
int smtp_spf_expire(struct smtp_session *s);
/* " spf=RESULT" for the message's log record ("pending" while it runs), or "" when not checked. */
const char *smtp_spf_log(const struct smtp_tx *tx);

#endif
