/*
 * migrate_sieve.h — `tern migrate --sieve`: the Sieve scripts of an
 * account on another server, read over ManageSieve (RFC 5804), into a
 * tern account.
 */
#ifndef TERN_CLI_MIGRATE_SIEVE_H
#define TERN_CLI_MIGRATE_SIEVE_H

struct store;

/*
 * Copies every script of user (password pw) on host:port into email's
 * account, making the server's active script active here; a script of
 * the same name is replaced, so a second run changes nothing. A script
 * tern's Sieve cannot compile is not stored and is named with the
 * compiler's error. need_tls: refuse a server that offers no STARTTLS
 * (the IMAP side was TLS, so the password must not go out in clear).
 * Returns 0, or 1 after printing why.
 */
int migrate_sieve(struct store *st, const char *email, const char *host, const char *port,
                  int need_tls, const char *user, const char *pw);

#endif
