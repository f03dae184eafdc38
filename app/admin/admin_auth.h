/*
 * admin_auth.h — the administrator's settings for inbound authentication
 * (issue 29), stored as named settings in meta (SCHEMA.md):
 *
 *   setting/dmarc_tolerated  sending domains whose DMARC failures are
 *                            accepted (some users receive from broken
 *                            forwarders); one domain a line, lowercase
 *   setting/arc_trusted      trusted ARC sealers (mailing lists,
 *                            forwarders) whose cv=pass chain showing a
 *                            pass upstream overrides a local DMARC
 *                            failure (smtp/smtp_checks.c); same layout
 *   setting/postmaster       the account that gets postmaster@ mail
 *                            (RFC 5321 §4.5.1); the wizard sets it to the
 *                            first account it makes
 *
 * Read per message by port 25 (one LMDB read each); written by the REST
 * API (PUT /settings) and so the web UI. An entry of a list matches the
 * domain itself and its subdomains (policy_domain_listed).
 */
#ifndef TERN_ADMIN_ADMIN_AUTH_H
#define TERN_ADMIN_ADMIN_AUTH_H

#include <stddef.h>

struct store;

#define ADMIN_AUTH_LIST_MAX 8192    /* bytes of one list setting */
#define ADMIN_AUTH_LIST_ENTRIES 200 /* domains in one list */

#define ADMIN_AUTH_TOLERATED "setting/dmarc_tolerated"
#define ADMIN_AUTH_ARC_TRUSTED "setting/arc_trusted"
#define ADMIN_AUTH_POSTMASTER "setting/postmaster"

/* The setting's text into out ("" when unset or unreadable). */
void admin_auth_get(struct store *st, const char *name, char *out, size_t outsz);
/*
 * The stored form of a list of n domains (lowercased, one a line),
 * appended to b (buf_init'ed with ADMIN_AUTH_LIST_MAX; empty for n 0,
 * which the caller stores as a removal): STORE_OK, or STORE_EINVAL when
 * an entry is not a domain name or there are too many (*bad_r names it,
 * or is NULL). PUT /settings stores it with its other fields in one
 * transaction (store_meta_put_all).
 */
struct buf;
int admin_auth_list_encode(const char *const *domains, size_t n, struct buf *b, const char **bad_r);
/* Stores the postmaster account (must be an existing account: STORE_ENOTFOUND). */
int admin_auth_set_postmaster(struct store *st, const char *email);

#endif
