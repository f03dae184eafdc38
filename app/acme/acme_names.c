/*
 * acme_names.c — which names the certificate covers.
 *
 * Today TERN_HOSTNAME alone. The mta-sts., autoconfig. and autodiscover.
 * names of each served domain (each only when its DNS points here, so one
 * missing record does not fail the whole order) are not added yet.
 */
#include "acme/acme_private.h"

#include <stdio.h>

void acme_names_pick(const char *hostname, char names[ACME_NAMES_MAX][256], size_t *n_r)
{
	snprintf(names[0], 256, "%s", hostname);
	*n_r = 1;
}
