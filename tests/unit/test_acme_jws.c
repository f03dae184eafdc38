/*
 * test_acme_jws.c — the JWK thumbprint, ES256 JWS, the EAB
 * MAC and the CSR, each checked from the other side: signatures verified
 * with BearSSL's verifier over the decoded parts, the MAC recomputed, the
 * CSR read back by openssl when present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme/acme_ari.h"
#include "acme/acme_jws.h"
#include "acme/acme_private.h"
#include "core/arena.h"
#include "core/base64.h"
#include "http/json.h"
#include "unit.h"

/* Splits a flattened JWS and checks its signature; fills the decoded protected header. */
static int verify_jws(const struct acme_key *k, const char *jws, char *prot, size_t protsz,
                      char *payload, size_t paysz, int hs256, const unsigned char *mac_key,
                      size_t mac_len)
{
	struct arena *a = arena_new(0);
	char err[128];
	int ok = 0;
	struct json_value *v = json_parse(jws, strlen(jws), a, err, sizeof err);
	const struct json_value *p = v ? json_get(v, "protected") : NULL;
	const struct json_value *y = v ? json_get(v, "payload") : NULL;
	const struct json_value *s = v ? json_get(v, "signature") : NULL;
	unsigned char sig[128], h[32];
	size_t siglen, n;

	if (p && y && s && v->count == 3 &&
	    base64_decode(str_make(s->str, s->len), BASE64_URL | BASE64_NOPAD, sig, sizeof sig,
	                  &siglen) == 0 &&
	    base64_decode(str_make(p->str, p->len), BASE64_URL | BASE64_NOPAD,
	                  (unsigned char *)prot, protsz - 1, &n) == 0) {
		prot[n] = '\0';
		if (base64_decode(str_make(y->str, y->len), BASE64_URL | BASE64_NOPAD,
		                  (unsigned char *)payload, paysz - 1, &n) == 0) {
			payload[n] = '\0';
			struct buf in;
			buf_init(&in, 65536);
			buf_printf(&in, "%s.%s", p->str, y->str);
			if (hs256) {
				br_hmac_key_context kc;
				br_hmac_context hc;
				br_hmac_key_init(&kc, &br_sha256_vtable, mac_key, mac_len);
				br_hmac_init(&hc, &kc, 0);
				br_hmac_update(&hc, buf_data(&in), buf_len(&in));
				br_hmac_out(&hc, h);
				ok = siglen == 32 && memcmp(h, sig, 32) == 0;
			} else {
				br_sha256_context sc;
				br_sha256_init(&sc);
				br_sha256_update(&sc, buf_data(&in), buf_len(&in));
				br_sha256_out(&sc, h);
				ok = siglen == 64 &&
				     br_ecdsa_vrfy_raw_get_default()(br_ec_get_default(), h, 32, &k->pk,
				                                     sig, siglen) == 1;
			}
			buf_free(&in);
		}
	}
	arena_free(&a);
	return ok;
}

static void test_jws(void)
{
	struct acme_key k, k2;
	unsigned char x[32];
	char tp[48], tp2[48], prot[4096], pay[4096];
	struct buf b;

	for (size_t i = 0; i < sizeof x; i++)
		x[i] = (unsigned char)(i + 1);
	CHECK(acme_key_from_raw(&k, x, sizeof x) == 0);
	CHECK(acme_key_from_raw(&k2, x, sizeof x) == 0);
	CHECK(k.pk.qlen == 65 && k.qbuf[0] == 0x04);
	CHECK(acme_key_from_raw(&k2, x, 31) == -1);
	CHECK(acme_key_from_raw(&k2, x, sizeof x) == 0);
	CHECK(acme_thumbprint(&k, tp) == 0 && strlen(tp) == 43);
	CHECK(acme_thumbprint(&k2, tp2) == 0 && strcmp(tp, tp2) == 0);

	/* The JWK is RFC 7638's canonical member order with no spaces. */
	buf_init(&b, 4096);
	CHECK(acme_jwk(&k, &b) == 0);
	CHECK(strncmp(buf_data(&b), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31) == 0);
	CHECK(strstr(buf_data(&b), " ") == NULL);
	buf_free(&b);

	/* New account: jwk in the header; the signature verifies (ES256 raw r||s). */
	buf_init(&b, 65536);
	CHECK(acme_jws(&k, NULL, "nonce-1", "https://ca.test/new-acct",
	               "{\"termsOfServiceAgreed\":true}", &b) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK(verify_jws(&k, buf_data(&b), prot, sizeof prot, pay, sizeof pay, 0, NULL, 0));
	CHECK(strstr(prot, "\"alg\":\"ES256\"") && strstr(prot, "\"jwk\":{\"crv\"") &&
	      strstr(prot, "\"nonce\":\"nonce-1\"") &&
	      strstr(prot, "\"url\":\"https://ca.test/new-acct\"") && !strstr(prot, "kid"));
	CHECK_EQ_STR(pay, "{\"termsOfServiceAgreed\":true}");
	buf_free(&b);

	/* Later requests: kid, and POST-as-GET's empty payload. */
	buf_init(&b, 65536);
	CHECK(acme_jws(&k, "https://ca.test/acct/1", "n\"2", "https://ca.test/order/9", "", &b) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK(strstr(buf_data(&b), "\"payload\":\"\"") != NULL);
	CHECK(verify_jws(&k, buf_data(&b), prot, sizeof prot, pay, sizeof pay, 0, NULL, 0));
	CHECK(strstr(prot, "\"kid\":\"https://ca.test/acct/1\"") && !strstr(prot, "jwk") &&
	      strstr(prot, "\"nonce\":\"n\\\"2\""));
	/* Another key's signature does not verify. */
	struct acme_key other;
	CHECK(acme_key_generate(&other) == 0);
	CHECK(!verify_jws(&other, buf_data(&b), prot, sizeof prot, pay, sizeof pay, 0, NULL, 0));
	buf_free(&b);

	/* EAB: HS256 over the account JWK, kid and url in the header. */
	unsigned char mac[16];
	memset(mac, 0x42, sizeof mac);
	buf_init(&b, 65536);
	CHECK(acme_eab(&k, "kid-7", mac, sizeof mac, "https://ca.test/new-acct", &b) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK(verify_jws(&k, buf_data(&b), prot, sizeof prot, pay, sizeof pay, 1, mac, sizeof mac));
	CHECK(strstr(prot, "\"alg\":\"HS256\"") && strstr(prot, "\"kid\":\"kid-7\""));
	struct buf jwk;
	buf_init(&jwk, 1024);
	acme_jwk(&k, &jwk);
	buf_append(&jwk, "", 1);
	CHECK_EQ_STR(pay, buf_data(&jwk));
	buf_free(&jwk);
	mac[0] ^= 1;
	CHECK(!verify_jws(&k, buf_data(&b), prot, sizeof prot, pay, sizeof pay, 1, mac, sizeof mac));
	buf_free(&b);
	acme_key_wipe(&other);
}

static void test_csr(void)
{
	struct acme_key k;
	const char *names[] = {"mail.example.test", "mta-sts.example.test", "autoconfig.example.test"};
	unsigned char der[4096];
	size_t len;

	CHECK(acme_key_generate(&k) == 0);
	CHECK(acme_csr(&k, names, 3, der, sizeof der, &len) == 0);
	CHECK(len > 200 && der[0] == 0x30);
	CHECK(memmem(der, len, "mta-sts.example.test", 20) != NULL);
	CHECK(acme_csr(&k, names, 0, der, sizeof der, &len) == -1);
	CHECK(acme_csr(&k, names, 3, der, 100, &len) == -1);
	CHECK(acme_csr(&k, names, 3, der, sizeof der, &len) == 0);
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		printf("test_acme_jws: openssl missing, CSR read-back skipped\n");
		return;
	}
	char path[] = "/tmp/tern-csr-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "wb");
	fwrite(der, 1, len, f);
	fclose(f);
	char cmd[512], out[8192];
	snprintf(cmd, sizeof cmd,
	         "openssl req -inform DER -in %s -verify -noout -text 2>&1", path);
	FILE *p = popen(cmd, "r");
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	unlink(path);
	CHECK(strstr(out, "verify OK") || strstr(out, "Certificate request self-signature verify OK"));
	CHECK(strstr(out, "CN = mail.example.test") || strstr(out, "CN=mail.example.test"));
	CHECK(strstr(out, "DNS:mail.example.test, DNS:mta-sts.example.test, "
	                  "DNS:autoconfig.example.test") != NULL);
	CHECK(strstr(out, "prime256v1") != NULL);

	/* ACME_NAMES_MAX names of 253 octets (Let's Encrypt's 100 per
	 * certificate): 25 KiB of names, past the 4 KiB the request info
	 * had; the CSR verifies and holds the last name whole. */
	static char longnames[ACME_NAMES_MAX][254];
	const char *many[ACME_NAMES_MAX];
	for (size_t i = 0; i < ACME_NAMES_MAX; i++) {
		memset(longnames[i], 'a', 253);
		memcpy(longnames[i], "n000.", 5);
		longnames[i][1] = (char)('0' + i / 100 % 10);
		longnames[i][2] = (char)('0' + i / 10 % 10);
		longnames[i][3] = (char)('0' + i % 10);
		for (size_t j = 63; j < 253; j += 64)
			longnames[i][j] = '.';
		memcpy(longnames[i] + 248, ".test", 6);
		many[i] = longnames[i];
	}
	unsigned char *big = malloc(ACME_CSR_MAX);
	CHECK(acme_csr(&k, many, ACME_NAMES_MAX, big, ACME_CSR_MAX, &len) == 0);
	CHECK(len > (size_t)ACME_NAMES_MAX * 253);
	CHECK(memmem(big, len, longnames[ACME_NAMES_MAX - 1], 253) != NULL);
	char bpath[] = "/tmp/tern-csr-XXXXXX";
	fd = mkstemp(bpath);
	CHECK(fd >= 0);
	f = fdopen(fd, "wb");
	fwrite(big, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "openssl req -inform DER -in %s -verify -noout 2>&1", bpath);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	unlink(bpath);
	CHECK(strstr(out, "verify OK") != NULL);
	/* Its first name (253 octets) is too long for a CN (RFC 5280: 64):
	 * in the subjectAltName only, the subject empty. */
	static const unsigned char cn_oid[] = {0x06, 0x03, 0x55, 0x04, 0x03};
	CHECK(memmem(big, len, cn_oid, sizeof cn_oid) == NULL);
	CHECK(acme_csr(&k, names, 3, der, sizeof der, &len) == 0);
	CHECK(memmem(der, len, cn_oid, sizeof cn_oid) != NULL);
	free(big);
	acme_key_wipe(&k);
}

static void test_ari(void)
{
	int64_t t, a, b;

	CHECK(acme_rfc3339("2026-11-22T10:00:00Z", &t) == 0 && t == 1795341600);
	CHECK(acme_rfc3339("2026-11-22T12:30:00.123+02:30", &t) == 0 && t == 1795341600);
	CHECK(acme_rfc3339("2026-11-22t10:00:00z", &t) == 0 && t == 1795341600);
	CHECK(acme_rfc3339("2026-11-22T10:00:00", &t) == -1);
	CHECK(acme_rfc3339("2026-13-22T10:00:00Z", &t) == -1);
	CHECK(acme_rfc3339("2026-11-22T10:00:00Zx", &t) == -1);
	CHECK(acme_rfc3339("2026-11-22T10:00:00.Z", &t) == -1);
	const char *w = "{\"suggestedWindow\":{\"start\":\"2026-11-22T10:00:00Z\","
	                "\"end\":\"2026-11-23T10:00:00Z\"},\"explanationURL\":\"https://x\"}";
	char why[16];
	CHECK(acme_ari_window(w, strlen(w), &a, &b, why, sizeof why) == 0 && a == 1795341600 &&
	      b == a + 86400);
	CHECK_EQ_STR(why, "https://x");
	CHECK(acme_ari_window(w, strlen(w), &a, &b, why, 9) == 0 && why[0] == '\0');
	const char *nox = "{\"suggestedWindow\":{\"start\":\"2026-11-22T10:00:00Z\","
	                  "\"end\":\"2026-11-23T10:00:00Z\"},\"explanationURL\":7}";
	CHECK(acme_ari_window(nox, strlen(nox), &a, &b, why, sizeof why) == 0 && why[0] == '\0');
	const char *bad = "{\"suggestedWindow\":{\"start\":\"2026-11-23T10:00:00Z\","
	                  "\"end\":\"2026-11-22T10:00:00Z\"}}";
	CHECK(acme_ari_window(bad, strlen(bad), &a, &b, why, sizeof why) == -1);
	CHECK(acme_ari_window("{}", 2, &a, &b, why, sizeof why) == -1);
	/* The renewal time: a moment in the window, never later than planned. */
	int64_t now = 1795341600, day = 86400;
	CHECK(acme_ari_renew_at(now + day, now + 2 * day, 0, now + 60 * day, 0) == now + day);
	CHECK(acme_ari_renew_at(now + day, now + 2 * day, 7, now + 60 * day, 0) == now + day + 7);
	CHECK(acme_ari_renew_at(now + day, now + 2 * day, 0xFFFFFFFF, now + 60 * day, 0) <= now + 2 * day);
	CHECK(acme_ari_renew_at(now + 30 * day, now + 31 * day, 5, now + 20 * day, 0) == now + 20 * day);
	CHECK(acme_ari_renew_at(now - 20, now - 10, 3, now + 60 * day, 0) == now - 17);
	CHECK(acme_ari_renew_at(now, now, 99, now + day, 0) == now);
	/* After a failure the back-off holds: an open window (the CA wants the
	 * renewal now) may not bring the next attempt before the not-before
	 * the failure set, which is also the time planned then. */
	CHECK(acme_ari_renew_at(now - 20, now - 10, 3, now + 3600, now + 3600) == now + 3600);
	CHECK(acme_ari_renew_at(now - 20, now + day, 0, now + 60 * day, now + 60) == now + 60);
	CHECK(acme_ari_renew_at(now + 600, now + 600, 0, now + 60 * day, now + 60) == now + 600);
	/* Absurd windows: the year 9999 changes nothing, the year 0 means now. */
	CHECK(acme_ari_renew_at(253402214400, 253402300799, 0xFFFFFFFF, now + day, 0) == now + day);
	CHECK(acme_ari_renew_at(-62167219200, -62167219200 + day, 1, now + day, 0) < now);
	CHECK(acme_ari_renew_at(-62167219200, 253402300799, 0xFFFFFFFF, now + day, 0) <= now + day);
	/* The hold after an install: a tenth of the lifetime, 6 hours at most. */
	CHECK(acme_renew_hold(now, now + 90 * day) == ACME_HOLD_MAX);
	CHECK(acme_renew_hold(now - 61 * day, now + 29 * day) == 6 * 3600);
	CHECK(acme_renew_hold(now - 1, now + 59) == 6);
	CHECK(acme_renew_hold(now, now + 36000) == 3600);
	CHECK(acme_renew_hold(now, now) == 0 && acme_renew_hold(now, now - day) == 0);
	/* The renewal timer wakes at least daily and renews only when due: a
	 * renewal two months out is not run by a capped timer. */
	CHECK(acme_renew_wait(now, now + 60 * day) == ACME_RENEW_RECHECK);
	CHECK(acme_renew_wait(now, now + day) == ACME_RENEW_RECHECK);
	CHECK(acme_renew_wait(now, now + day - 1) == day - 1);
	CHECK(acme_renew_wait(now, now + 1) == 1);
	CHECK(acme_renew_wait(now, now) == 0);
	CHECK(acme_renew_wait(now, now - 365 * day) == 0);
	CHECK(acme_renew_wait(now, INT64_MAX) == ACME_RENEW_RECHECK);
	CHECK(acme_renew_wait(now, INT64_MIN) == 0);
	/* Polls: the CA's Retry-After, at most 10 minutes; without one, backing off. */
	CHECK(acme_poll_wait(12, 0) == 12);
	CHECK(acme_poll_wait(12, 9) == 12);
	CHECK(acme_poll_wait(1, 9) == 1);
	CHECK(acme_poll_wait(86400, 0) == ACME_POLL_RETRY_MAX);
	CHECK(acme_poll_wait(0, 0) == 1);
	CHECK(acme_poll_wait(-1, 1) == 2);
	CHECK(acme_poll_wait(0, 3) == 8);
	CHECK(acme_poll_wait(0, 4) == 16);
	CHECK(acme_poll_wait(0, 5) == ACME_POLL_BACKOFF_MAX);
	CHECK(acme_poll_wait(0, 4000000000u) == ACME_POLL_BACKOFF_MAX);
	/* The identifier needs an AKI: our own self-signed certificates have none. */
	unsigned char junk[4] = {0x30, 0x02, 0x30, 0x00};
	char id[200];
	CHECK(acme_ari_cert_id(junk, sizeof junk, id, sizeof id) == -1);
}

int main(void)
{
	test_ari();
	test_jws();
	test_csr();
	return unit_done("test_acme_jws");
}
