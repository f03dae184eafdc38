/*
 * acme_private.h — what the ACME client's files share.
 */
#ifndef TERN_ACME_ACME_PRIVATE_H
#define TERN_ACME_ACME_PRIVATE_H

#include <stddef.h>

/* Names in one certificate (one order). */
#define ACME_NAMES_MAX 16

/*
 * The names to order: hostname first (the subject), then the others
 * acme_names.c found pointing here. Fills names[0..*n_r).
 */
void acme_names_pick(const char *hostname, char names[ACME_NAMES_MAX][256], size_t *n_r);

#endif
