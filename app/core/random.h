/*
 * random.h — fresh random octets from the kernel, the one getrandom(2)
 * loop for keys and seeds (TLS, ACME, DKIM, Web Push).
 *
 * Design: getrandom(2) only, blocking until the pool is initialised: the
 * binary runs in an empty chroot where /dev/urandom does not exist.
 * Callers that need a few octets and must not block (DNS query ids)
 * call getrandom(GRND_NONBLOCK) themselves.
 */
#ifndef TERN_CORE_RANDOM_H
#define TERN_CORE_RANDOM_H

#include <stddef.h>

/*
 * Fills buf with n octets from getrandom(2), retrying on EINTR and short
 * reads. Returns 0, or -1 (errno set) when the kernel refuses.
 */
int random_bytes(void *buf, size_t n);

#endif
