/*
 * login_limit.h — the brute-force limits every login shares: failures per
 * client address and per account, checked and reserved before a password
 * is looked at.
 *
 * Design. Every attempt (SMTP AUTH, IMAP LOGIN/AUTHENTICATE, POP3, the web
 * admin, a bearer token) first asks login_limit_admit(). Admission is one
 * step under one lock: it refuses an address whose failures plus attempts
 * still in flight reach LOGIN_IP_LIMIT, and otherwise counts the attempt
 * as in flight at once — so 50 parallel attempts from a fresh address get
 * at most LOGIN_IP_LIMIT password checks, not 50. The attempt's outcome
 * then settles the reservation: a failure turns it into a counted failure,
 * a success or a temporary error only drops it. A success never clears
 * failures (Dovecot resets its penalty on success; here that let one
 * attacker reset the counter with a login to its own account).
 *
 * An IPv6 client is an address as its /64 (one host picks any address in
 * it) and is also counted in its /48, which one site may hold whole
 * (RFC 6177): the /48's failures plus attempts in flight are refused at
 * LOGIN_SITE_LIMIT, ten /64s' worth, so a guesser cycling through the
 * 65,536 /64s of its /48 gets LOGIN_SITE_LIMIT guesses a window, not 65,536
 * times LOGIN_IP_LIMIT; the refusal names its tier (LOGIN_GATE_SITE), so
 * an admin reading the log sees a whole network refused. A trusted pair
 * (below) is not refused for its /48, only for its /64.
 *
 * Attempts in flight are not failures: an address (or /48) whose budget
 * is taken by checks still under way, not by failures, is busy
 * (LOGIN_GATE_BUSY, LOGIN_GATE_SITE_BUSY). The loop flow (login.c) holds
 * such an attempt until one of them settles and admits it again through
 * the same gate (a family's phones behind one NAT logging in to eleven
 * accounts at once all get in); a caller that cannot wait refuses it as
 * busy, a temporary failure. Either way the address gets no more checks
 * in parallel than LOGIN_IP_LIMIT, as before.
 *
 * Attempts for an (address, account) pair that is trusted (below) are
 * reserved apart, up to LOGIN_TRUSTED_PARALLEL in flight: a client opening
 * many connections at once, or an office behind one NAT, is not refused
 * for the logins it has under way (their failures still count).
 *
 * A client that has not logged in yet opens its connections at once too
 * (a phone on a new network, a mail app's eight connections, a sending
 * tool's ten sessions), and each of its attempts in flight would count
 * against the account like a failure: the sixth onward spaced, the ninth
 * refused, although nothing failed. So the loop flow (login.c) admits
 * through login_limit_admit_or_hold(): while one attempt of an untrusted
 * (address, account) pair is in flight (the pair's lead), another of the
 * same pair is told LOGIN_GATE_HOLD — after the address's checks, and
 * reserving nothing — and admitted again with login_limit_admit() once
 * the lead has settled: at once as trusted if it succeeded, through the
 * account's spacing as today if it failed. A guesser thus gets no more
 * checks in parallel than before (a held attempt is checked only after
 * the lead's failure, through the same gate), only later.
 *
 * Per account (the user name as sent, lowercased, so unknown names count
 * too) failures space out the checks rather than lock the account: after
 * LOGIN_ACCOUNT_FREE failures (in flight ones included) each further check
 * gets a time slot LOGIN_ACCOUNT_STEP_MS after the previous one, doubling
 * up to LOGIN_ACCOUNT_MAX_GAP_MS; an attempt whose slot is more than
 * LOGIN_WAIT_MAX_MS away is refused without a check ("try again later").
 * A botnet of many addresses thus gets about one guess a minute at one
 * account. An address (IPv6: its /64) that logged in to that account in
 * the last LOGIN_TRUST_MS is exempt from the spacing, so guessing cannot
 * lock the real user's devices out — the idea of Stalwart's auto-ban with
 * a trusted-client escape.
 *
 * The reply to a failure is held LOGIN_FIRST_DELAY_MS after the first
 * failure from an address, doubling to LOGIN_MAX_DELAY_MS (Dovecot's
 * auth_failure_delay): a typo costs a second, a single-connection guesser
 * is slowed down.
 *
 * Memory is bounded: five fixed tables (addresses, /48 sites, accounts,
 * trusted pairs, pairs' leads) of LOGIN_LIMIT_SLOTS entries, keyed by a BLAKE2b digest under a
 * key drawn at start (an attacker cannot aim names at one bucket). A key
 * probes LOGIN_LIMIT_PROBE slots; when none is free or expired, the entry
 * with the fewest failures (then the stalest) is reused, so a flood of
 * fresh names cannot push out the account actually under attack. A lead
 * pushed out only leaves its pair's next attempts unheld, as before holds.
 *
 * Caveats. Times are monotonic milliseconds passed in by the caller
 * (loop_now_ms()), which lets tests drive the clock; a time slightly
 * before an entry's last one (another loop's cached clock) counts as "just
 * now". An address that is not a literal IPv4/IPv6 (a unix socket) shares
 * one key. Callers wait with loop timers, never by sleeping. Thread-safe.
 */
#ifndef TERN_AUTH_LOGIN_LIMIT_H
#define TERN_AUTH_LOGIN_LIMIT_H

#include <stdint.h>

#define LOGIN_IP_LIMIT 10u                     /* failures per address in the window */
#define LOGIN_SITE_LIMIT 100u                  /* ... per IPv6 /48, untrusted attempts */
#define LOGIN_WINDOW_MS (15u * 60u * 1000u)    /* failures forgotten this long after the last */
#define LOGIN_FIRST_DELAY_MS 1000u             /* reply delay after a failure, doubling */
#define LOGIN_MAX_DELAY_MS 5000u               /* ... up to this */
#define LOGIN_ACCOUNT_FREE 5u                  /* account failures before checks are spaced */
#define LOGIN_ACCOUNT_STEP_MS 1000u            /* first spacing, doubling per failure */
#define LOGIN_ACCOUNT_MAX_GAP_MS 60000u        /* ... up to this */
#define LOGIN_WAIT_MAX_MS 10000u               /* a slot further away is refused */
#define LOGIN_TRUST_MS (7ull * 24 * 3600 * 1000) /* a success exempts address+account */
#define LOGIN_TRUSTED_PARALLEL 40u             /* trusted attempts in flight per address */
#define LOGIN_LIMIT_SLOTS 8192u                /* entries per table */
#define LOGIN_LIMIT_PROBE 8u

enum login_gate {
	LOGIN_GATE_GO,      /* check now, or after *wait_ms_r */
	LOGIN_GATE_IP,      /* the address (IPv6: /64) has too many failures: refuse, no check */
	LOGIN_GATE_SITE,    /* its IPv6 /48 has too many failures: refuse, no check */
	LOGIN_GATE_ACCOUNT, /* the account's next slot is too far: refuse, no check */
	LOGIN_GATE_HOLD,    /* the pair's lead is in flight: admit again when it settled */
	/* The address's (or its /48's) budget is taken by checks under way,
	 * not by failures: admit again when one of them settled, or refuse
	 * as busy. Nothing reserved. */
	LOGIN_GATE_BUSY,
	LOGIN_GATE_SITE_BUSY,
};

/*
 * The seconds a refused client is told to wait (HTTP's Retry-After): the
 * window for an address or /48 over its budget (its failures are
 * forgotten that long after the last; a refusal adds none), the widest
 * spacing of an account's checks for an account whose next check is too
 * far, the longest reply delay for an address whose checks are under way.
 */
unsigned login_gate_retry_s(enum login_gate g);

/* The refusal's log reason (event=auth_refused reason=...), naming the
 * tier that refused: "too_many_failures" (the address), "site_failures"
 * (its /48), "account_busy", "address_busy", "site_busy". Static. */
const char *login_gate_reason(enum login_gate g);

/* 1 when the refusal is for checks under way, not for failures: the
 * reply must say "temporary" / "busy", never "failed" (login.h). */
int login_gate_busy(enum login_gate g);

/* An admitted attempt's reservation; settle it exactly once. */
struct login_ticket {
	uint8_t ip[16], site[16], account[16], pair[16];
	int has_site;    /* an IPv6 client: its /48 counts too */
	int has_account; /* a user name was given */
	int trusted;     /* the pair was trusted: the account's spacing did not apply */
	int lead;        /* its pair's lead: settling it releases the held (login.c) */
	uint64_t slot, slot_end; /* the account's check slot this attempt took */
};

/*
 * Admits or refuses one attempt from ip for user (as sent; NULL or "" for
 * a login without a name, such as a bearer token: no account side) at
 * now_ms. On LOGIN_GATE_GO fills *t and *wait_ms_r (how long to wait
 * before the check; 0 mostly) and the attempt is reserved until settled.
 */
enum login_gate login_limit_admit(const char *ip, const char *user, uint64_t now_ms,
				  unsigned *wait_ms_r, struct login_ticket *t);

/*
 * The same for the loop flow, which can hold an attempt: an untrusted
 * pair's first attempt in flight becomes its lead (t->lead), and while it
 * is in flight another of the same pair gets LOGIN_GATE_HOLD with only
 * t->pair filled and nothing reserved. The caller keeps it until the lead
 * settles (login_limit_failed, _succeeded or _cancel with t->lead set)
 * and then admits it with login_limit_admit(), which never holds.
 */
enum login_gate login_limit_admit_or_hold(const char *ip, const char *user, uint64_t now_ms,
					  unsigned *wait_ms_r, struct login_ticket *t);

/*
 * The same for a caller that cannot wait (an HTTP thread, which answers
 * 429 instead): an attempt whose slot is not now is refused with
 * LOGIN_GATE_ACCOUNT and, like every refusal, leaves nothing behind. (A
 * slot taken and then handed back still moved the account's next slot:
 * one address asking again and again, never checked and never counted,
 * kept every untrusted login to the account refused.)
 */
enum login_gate login_limit_admit_now(const char *ip, const char *user, uint64_t now_ms,
				      struct login_ticket *t);

/*
 * The attempt failed: counts it against the address and the account.
 * Returns the reply delay in ms; *failures_r (may be NULL) gets the
 * address's failure count.
 */
unsigned login_limit_failed(const struct login_ticket *t, uint64_t now_ms, unsigned *failures_r);

/* The attempt succeeded: drops the reservation and trusts the pair. */
void login_limit_succeeded(const struct login_ticket *t, uint64_t now_ms);

/* No verdict (a store error): drops the reservation, counts nothing. */
void login_limit_cancel(const struct login_ticket *t);

/* Failures counted for ip at now_ms (in flight ones not included). */
unsigned login_limit_ip_failures(const char *ip, uint64_t now_ms);
/* Failures counted for ip's IPv6 /48 at now_ms (0 for IPv4). */
unsigned login_limit_site_failures(const char *ip, uint64_t now_ms);
/* Failures counted for the account user at now_ms. */
unsigned login_limit_account_failures(const char *user, uint64_t now_ms);

/* Forgets everything (tests). */
void login_limit_reset(void);

#endif
