/*
 * webpush.h — Web Push message encryption (RFC 8291: ECDH P-256, HKDF
 * SHA-256, one aes128gcm record of RFC 8188) and VAPID (RFC 8292: an
 * ES256 JWT naming our push's audience), with BearSSL's primitives and
 * acme_jws.h's key and base64url. Used by JMAP's PushSubscription
 * deliveries (http_pushsub.c) when the client gave keys.
 *
 * Design: pure functions over caller buffers; randomness from the TLS
 * layer's source (an ephemeral key and a salt per message).
 * Caveats: one record only, so a message is at most WEBPUSH_RECORD - 17
 * octets (a StateChange is far smaller).
 */
#ifndef TERN_HTTP_WEBPUSH_H
#define TERN_HTTP_WEBPUSH_H

#include <stddef.h>
#include <stdint.h>

#include "acme/acme_jws.h"
#include "core/buf.h"

#define WEBPUSH_RECORD 4096

/*
 * Encrypts pt[0..n) for the user agent whose public key is ua_pub (65
 * octets, uncompressed P-256) and authentication secret auth (16
 * octets): appends the aes128gcm body (salt, rs, our ephemeral key, the
 * record) to out. 0, or -1 (a bad key, no randomness, too long, out full).
 */
int webpush_encrypt(const uint8_t *ua_pub, size_t ua_len, const uint8_t *auth, size_t auth_len,
		    const void *pt, size_t n, struct buf *out);

/*
 * The Authorization header's value for a push to url signed with k:
 * "vapid t=<JWT>, k=<public key>" with the JWT's aud the URL's origin,
 * exp now + 12 h and sub (a mailto: or https: contact). 0, or -1.
 */
int webpush_vapid(const struct acme_key *k, const char *url, int64_t now, const char *sub,
		  char *out, size_t outsz);

#endif
