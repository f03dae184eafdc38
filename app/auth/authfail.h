/*
 * authfail.h — failed logins counted per client address, process-wide.
 *
 * Design. Every protocol that checks passwords (POP3 today; IMAP,
 * submission and ManageSieve later) reports each failed attempt here and
 * gets back how long to hold the "-ERR"/"NO" reply: 1 s after the first
 * failure from an address, doubling with each further one, capped at 5 s —
 * the idea of Dovecot's auth_failure_delay and its anvil penalty, which
 * makes guessing slow without punishing a typo much. Once an address has
 * AUTHFAIL_BLOCK_AFTER failures within the window, authfail_blocked()
 * says so and the protocol refuses to check passwords at all (POP3
 * answers "-ERR [SYS/TEMP]") — no argon2id cost for a guessing bot. An
 * address is forgotten AUTHFAIL_WINDOW_MS after its last failure, and at
 * once after a successful login from it (Dovecot resets its penalty the
 * same way).
 *
 * IPv6 clients are counted per /64: one host commonly owns a whole /64, so
 * counting single addresses would let it rotate through 2^64 of them.
 *
 * The table is a fixed array of AUTHFAIL_TABLE_MAX entries under one mutex
 * (failures are rare next to the 20-50 ms a password check costs, so a
 * linear scan is fine); when it is full the entry whose last failure is
 * oldest is reused, so a flood of addresses cannot grow memory.
 *
 * Caveats. Callers must delay with a loop timer, never by sleeping. Times
 * are monotonic milliseconds passed in by the caller (loop_now_ms()), which
 * lets tests drive the clock. An address that is not a literal IPv4/IPv6
 * (e.g. "" for a unix socket) is counted under one shared key.
 */
#ifndef TERN_AUTH_AUTHFAIL_H
#define TERN_AUTH_AUTHFAIL_H

#include <stdint.h>

#define AUTHFAIL_TABLE_MAX 4096
#define AUTHFAIL_FIRST_DELAY_MS 1000u
#define AUTHFAIL_MAX_DELAY_MS 5000u
#define AUTHFAIL_BLOCK_AFTER 10u
#define AUTHFAIL_WINDOW_MS (15u * 60u * 1000u)

/*
 * Records one failed login from ip at now_ms. Returns the delay in
 * milliseconds the caller should wait before replying (1000, 2000, 4000,
 * then 5000). Thread-safe.
 */
unsigned authfail_failed(const char *ip, uint64_t now_ms);

/*
 * 1 when ip has had AUTHFAIL_BLOCK_AFTER or more failures, the last one
 * less than AUTHFAIL_WINDOW_MS before now_ms; 0 otherwise. Thread-safe.
 */
int authfail_blocked(const char *ip, uint64_t now_ms);

/* Failures counted for ip at now_ms (0 when unknown or expired). */
unsigned authfail_count(const char *ip, uint64_t now_ms);

/* A login from ip succeeded: forget its failures. Thread-safe. */
void authfail_succeeded(const char *ip);

/* Forgets everything (tests). */
void authfail_reset(void);

#endif
