/*
 * anchors.h — the trust anchors tern verifies servers against.
 *
 * Design. The Mozilla roots as Debian's ca-certificates package ships
 * them are compiled into the binary (net/anchors_table.h), so verification
 * needs no CA file at run time and works in a FROM scratch image. A
 * private CA (a company's own ACME server, the tests' pebble) is added at
 * start-up from TERN_TLS_CA_FILE: every CERTIFICATE in it becomes one
 * more anchor. The set is then fixed; consumers (the ACME client today,
 * outbound SMTP verification and MTA-STS fetches later) take it with
 * anchors_get() and hand it to BearSSL's X.509 validator
 * (net/client.h: client_start_tls_verified()).
 *
 * Caveats: anchors_add_*() are start-up calls, made before any thread
 * reads the set (no lock). The anchors returned by anchors_get() stay
 * valid until anchors_reset() (tests) or the end of the process.
 */
#ifndef TERN_NET_ANCHORS_H
#define TERN_NET_ANCHORS_H

#include <stddef.h>

#include <bearssl.h>

/* At most this many anchors from TERN_TLS_CA_FILE. */
#define ANCHORS_EXTRA_MAX 64

/*
 * The full set (built-in first, then the added ones) and its size in
 * *n_r. Never NULL; the array is owned by this module.
 */
const br_x509_trust_anchor *anchors_get(size_t *n_r);

/* The number of built-in anchors (the Mozilla roots). */
size_t anchors_builtin_n(void);

/*
 * Adds every certificate in data (PEM with one or more CERTIFICATE
 * blocks, or one DER certificate) as an anchor. A certificate with the
 * CA basic constraint becomes a CA anchor; any other becomes a direct
 * ("this exact server key") anchor. name labels the source in errors.
 * Returns the number added (>= 1), or -1 with one line in err (no
 * certificate, one that does not decode, over ANCHORS_EXTRA_MAX); on
 * failure nothing from data was added.
 */
int anchors_add(const void *data, size_t len, const char *name, char *err, size_t errsz);

/* anchors_add() of a file's contents (read during the call). */
int anchors_add_file(const char *path, char *err, size_t errsz);

/* Drops the added anchors (the built-in ones stay). Tests, end of process. */
void anchors_reset(void);

#endif
