/*
 * acme_private.h — what the ACME client's files share.
 */
#ifndef TERN_ACME_ACME_PRIVATE_H
#define TERN_ACME_ACME_PRIVATE_H

#include <stddef.h>

/* Names in one certificate (one order): Let's Encrypt's limit, 100
 * (the host name and 33 domains' three names each). A bound all the
 * same: each name is one authorization, validated in turn. */
#define ACME_NAMES_MAX 100
/* The CSR of ACME_NAMES_MAX names of up to 253 octets, DER. */
#define ACME_CSR_MAX (ACME_NAMES_MAX * 256 + 1024)

struct dns;
struct store;

typedef void acme_names_cb(void *arg);

/*
 * Finds the names to order (acme_names.c): hostname first (the subject),
 * then mta-sts., autoconfig. and autodiscover. of each of st's domains
 * that resolve to one of hostname's addresses. Fills names[0..*n_r) and
 * then calls cb(arg), on the loop of dns (at once when there is nothing
 * to look up). names and n_r must stay valid until then.
 */
void acme_names_find(struct dns *dns, struct store *st, const char *hostname,
                     char names[ACME_NAMES_MAX][256], size_t *n_r, acme_names_cb *cb, void *arg);

#endif
