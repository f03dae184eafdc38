/*
 * hostname.h — the server's one effective host name, changeable while it
 * runs.
 *
 * The name comes from TERN_HOSTNAME, else the one the wizard or Settings
 * stored, else the system's; server start sets it once, and the web admin
 * sets it again when an administrator changes it, so the SMTP greeting,
 * EHLO, Received fields, Message-IDs, DSNs, autoconfig and the Apple
 * profile follow at once. What was built from the name at start (the
 * TLS certificate, ACME's order) keeps the start-time name until a
 * restart: those read config's hostname, which never changes.
 *
 * Caveats: a name returned stays valid for the life of the process (each
 * one set is kept, never freed: a handful in a server's life), so readers
 * on any thread need no lock. Only a set name is returned; before the
 * first hostname_set, hostname_now returns "localhost".
 */
#ifndef TERN_CORE_HOSTNAME_H
#define TERN_CORE_HOSTNAME_H

/* The current name. Never NULL; valid until the process exits. */
const char *hostname_now(void);
/* Makes name (copied) the current one; thread-safe. A name equal to the
 * current one changes nothing. */
void hostname_set(const char *name);
/* 1 when name is fully qualified (a dot inside, not at either end): a
 * container id or "mail" is not, and mail from it is refused by many. */
int hostname_is_fqdn(const char *name);
/* 1 when name is a host or domain name as DNS and SMTP take it (RFC 1035
 * §2.3.4, RFC 1123 §2.1, RFC 5321 §4.1.2 Domain): ASCII labels of 1 to 63
 * letters, digits and '-', none starting or ending with '-', joined by
 * single dots, at most 253 octets, no final dot; 0 otherwise. The one
 * check for every name the administrator gives (TERN_HOSTNAME,
 * TERN_DOMAIN, the web admin's host name, ...). */
int hostname_syntax_ok(const char *name);

#endif
