/*
 * acme_ari.c — ACME Renewal Information (RFC 9773): the certificate's
 * ARI identifier and the CA's suggested renewal window.
 *
 * The identifier is base64url(the Authority Key Identifier's keyIdentifier)
 * "." base64url(the serial number's DER content octets), both read from
 * the leaf certificate with net/'s DER reader.
 */
#include "acme/acme_ari.h"

#include <stdio.h>
#include <string.h>

#include "acme/acme_jws.h"
#include "core/arena.h"
#include "core/base64.h"
#include "http/json.h"
#include "mime/mime_date.h"
#include "net/tls_private.h"

#define NEXT(p, n, tag, v, vn) (tls_der_next(&(p), &(n), &(tag), &(v), &(vn)) == 0)

int acme_ari_cert_id(const unsigned char *der, size_t len, char *out, size_t outsz)
{
	static const unsigned char oid_aki[] = {0x55, 0x1D, 0x23};
	const unsigned char *p = der, *cert, *tbs, *v, *serial = NULL, *aki = NULL;
	size_t n = len, cn, tn, vn, serial_len = 0, aki_len = 0;
	unsigned tag;

	if (!NEXT(p, n, tag, cert, cn) || tag != 0x30 || !NEXT(cert, cn, tag, tbs, tn) || tag != 0x30)
		return -1;
	if (!NEXT(tbs, tn, tag, v, vn))
		return -1;
	if (tag == 0xA0 && !NEXT(tbs, tn, tag, v, vn))
		return -1;
	if (tag != 0x02)
		return -1;
	serial = v;
	serial_len = vn;
	/* signature, issuer, validity, subject, subjectPublicKeyInfo */
	for (int i = 0; i < 5; i++)
		if (!NEXT(tbs, tn, tag, v, vn) || tag != 0x30)
			return -1;
	while (tn > 0 && NEXT(tbs, tn, tag, v, vn)) {
		if (tag != 0xA3)
			continue;
		const unsigned char *exts, *ext, *oid, *val;
		size_t en, xn, on, an;
		if (!NEXT(v, vn, tag, exts, en) || tag != 0x30)
			return -1;
		while (en > 0 && NEXT(exts, en, tag, ext, xn)) {
			if (!NEXT(ext, xn, tag, oid, on) || tag != 0x06)
				return -1;
			if (on != sizeof oid_aki || memcmp(oid, oid_aki, on) != 0)
				continue;
			if (!NEXT(ext, xn, tag, val, an))
				return -1;
			if (tag == 0x01 && !NEXT(ext, xn, tag, val, an))
				return -1;
			const unsigned char *seq, *kid;
			size_t sn, kn;
			if (tag != 0x04 || !NEXT(val, an, tag, seq, sn) || tag != 0x30)
				return -1;
			while (sn > 0 && NEXT(seq, sn, tag, kid, kn)) {
				if (tag == 0x80) {
					aki = kid;
					aki_len = kn;
				}
			}
		}
	}
	if (aki == NULL || aki_len == 0 || serial_len == 0)
		return -1;
	const unsigned b64url = BASE64_URL | BASE64_NOPAD;
	size_t a = base64_encoded_len(aki_len, b64url);
	if (base64_encode(aki, aki_len, b64url, out, outsz) != 0 || a + 2 >= outsz)
		return -1;
	out[a] = '.';
	return base64_encode(serial, serial_len, b64url, out + a + 1, outsz - a - 1);
}

int acme_rfc3339(const char *s, int64_t *t_r)
{
	return mime_rfc3339_parse(s, t_r);
}

int acme_ari_window(const char *body, size_t len, int64_t *start_r, int64_t *end_r,
                    char *explain, size_t explainsz)
{
	struct arena *a = arena_new(0);
	char err[64];
	int rc = -1;
	const struct json_value *v = json_parse(body, len, a, err, sizeof err);
	const struct json_value *w = v && v->type == JSON_OBJECT ? json_get(v, "suggestedWindow") : NULL;
	const struct json_value *s = w && w->type == JSON_OBJECT ? json_get(w, "start") : NULL;
	const struct json_value *e = w && w->type == JSON_OBJECT ? json_get(w, "end") : NULL;
	if (s && e && s->type == JSON_STRING && e->type == JSON_STRING &&
	    acme_rfc3339(s->str, start_r) == 0 && acme_rfc3339(e->str, end_r) == 0 &&
	    *end_r >= *start_r)
		rc = 0;
	const struct json_value *x = rc == 0 ? json_get(v, "explanationURL") : NULL;
	explain[0] = '\0';
	if (x && x->type == JSON_STRING && strlen(x->str) < explainsz)
		memcpy(explain, x->str, strlen(x->str) + 1);
	arena_free(&a);
	return rc;
}

int64_t acme_ari_renew_at(int64_t start, int64_t end, uint32_t rnd, int64_t planned,
                          int64_t not_before)
{
	int64_t at = start + (end > start ? (int64_t)(rnd % (uint64_t)(end - start + 1)) : 0);
	/* A failing CA whose window is open would otherwise get an attempt
	 * at every check (each Retry-After, a minute at least), whatever the
	 * back-off: the window says when to renew, not how often to retry. */
	if (at < not_before)
		at = not_before;
	return at < planned ? at : planned;
}

int64_t acme_renew_hold(int64_t nb, int64_t na)
{
	int64_t tenth = na > nb ? (na - nb) / 10 : 0;
	return tenth < ACME_HOLD_MAX ? tenth : ACME_HOLD_MAX;
}

unsigned acme_renew_wait(int64_t now, int64_t planned)
{
	if (planned <= now)
		return 0;
	return planned - now > ACME_RENEW_RECHECK ? ACME_RENEW_RECHECK : (unsigned)(planned - now);
}

unsigned acme_poll_wait(long retry_after, unsigned n)
{
	if (retry_after > 0)
		return retry_after > ACME_POLL_RETRY_MAX ? ACME_POLL_RETRY_MAX : (unsigned)retry_after;
	return n >= 5 ? ACME_POLL_BACKOFF_MAX : 1u << n; /* 1, 2, 4, 8, 16, 30, 30, ... */
}
