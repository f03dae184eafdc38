/*
 * test_dkim_pem.c — dkim_key_from_text: DKIM private keys made by openssl
 * (PKCS#1, PKCS#8, DER, Ed25519 PKCS#8 and base64) become keys that
 * publish the public key openssl derives, sign, and survive the store's
 * export/import; what cannot sign is refused with a sentence.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dkim/dkim.h"
#include "unit.h"

/* openssl genrsa -traditional 1024, picked with p = q = 1 (mod 4):
 * BearSSL's br_rsa_compute_pubexp cannot recover e from such a key. */
static const char rsa1024_pkcs1[] = "-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXAIBAAKBgQDwpq8+7/abCpA5LD/h4zZe5TwVC3yRFDW1UKK7rf/EQG+f0+XA\n"
	"ElrL8lxfND3F07/q/hpQSJzWSQIs0700qbmkPLYezTMgASo3OsbrYYzWQRs8Aksh\n"
	"EenywT82Fg3DVYZtYaGjhuhytP0HJkp8+cmXwnQp7l6IfPfmxMHv5JRRkQIDAQAB\n"
	"AoGAFpf/shADfjDys3t1D/cuHqC1EGDAtDpKhJhqfuZqMfm+wSm601qlzaoWhBW6\n"
	"iv1DcoOi4tC+cNvv6VeD1xLsS9GNOmyf++9W9l0V+YtaA9qeomhqDWodN3i79Ibs\n"
	"y7Hrfb4uVs+RW1P/z2emab6Tm4pFODOiZRq/wQ9WbdweWgECQQD9npO1EcSPWi/m\n"
	"7AzTy7bp6MqAUiUjTIAvgesCCiC/fJ+7vYLET6PgmCHMwvIZrbM7og7hnSUlnn0+\n"
	"RAaI40exAkEA8ujyKGGSuaDcLjANOMWwxI7j4TsE/sX9Hk6xxB4nXJ1Z6h8AGoC4\n"
	"+MsatfF+710VgGxm0eZtkfpEk16IWjn/4QJAPYD4Rv/hD/aKCVETJ0WOvRjUCtxg\n"
	"3zeNGnhCGoOEP4ukXO3vSVYa4rth7vsTpQCHp518SGBIgt/1dWUfxJCBcQJBAOjx\n"
	"e0g+Sfa5zGx+qC9JZbsZTG8xqhioxZPK466vPBAU1aUvFWpVBw2PuI3CiXgCTBxb\n"
	"2D5yO6FB34Fzpk7gUAECQAyfR5HRgVp0Z5hXjrmKVpv4sWzSU7U8n+IYQJMnPBtv\n"
	"59oO75MH0E2QjXFLcvgt9Ik6anDOLja20JNOsUZ3fk4=\n"
	"-----END RSA PRIVATE KEY-----\n";
/* The same key, openssl pkey (PKCS#8), with CRLF line ends. */
static const char rsa1024_pkcs8_head[] = "-----BEGIN PRIVATE KEY-----\r\n";
static const char *const rsa1024_pkcs8_body =
	"MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAPCmrz7v9psKkDks\n"
	"P+HjNl7lPBULfJEUNbVQorut/8RAb5/T5cASWsvyXF80PcXTv+r+GlBInNZJAizT\n"
	"vTSpuaQ8th7NMyABKjc6xuthjNZBGzwCSyER6fLBPzYWDcNVhm1hoaOG6HK0/Qcm\n"
	"Snz5yZfCdCnuXoh89+bEwe/klFGRAgMBAAECgYAWl/+yEAN+MPKze3UP9y4eoLUQ\n"
	"YMC0OkqEmGp+5mox+b7BKbrTWqXNqhaEFbqK/UNyg6Li0L5w2+/pV4PXEuxL0Y06\n"
	"bJ/771b2XRX5i1oD2p6iaGoNah03eLv0huzLset9vi5Wz5FbU//PZ6ZpvpObikU4\n"
	"M6JlGr/BD1Zt3B5aAQJBAP2ek7URxI9aL+bsDNPLtunoyoBSJSNMgC+B6wIKIL98\n"
	"n7u9gsRPo+CYIczC8hmtszuiDuGdJSWefT5EBojjR7ECQQDy6PIoYZK5oNwuMA04\n"
	"xbDEjuPhOwT+xf0eTrHEHidcnVnqHwAagLj4yxq18X7vXRWAbGbR5m2R+kSTXoha\n"
	"Of/hAkA9gPhG/+EP9ooJURMnRY69GNQK3GDfN40aeEIag4Q/i6Rc7e9JVhriu2Hu\n"
	"+xOlAIennXxIYEiC3/V1ZR/EkIFxAkEA6PF7SD5J9rnMbH6oL0lluxlMbzGqGKjF\n"
	"k8rjrq88EBTVpS8ValUHDY+4jcKJeAJMHFvYPnI7oUHfgXOmTuBQAQJADJ9HkdGB\n"
	"WnRnmFeOuYpWm/ixbNJTtTyf4hhAkyc8G2/n2g7vkwfQTZCNcUty+C30iTpqcM4u\n"
	"NrbQk06xRnd+Tg==\n"
	;
/* openssl pkey -pubout -outform DER | base64 */
static const char rsa1024_pub[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwpq8+7/abCpA5LD/h4zZe5TwVC3yRFDW1UKK7rf/EQG+f0+XAElrL8lxfND3F07/q/hpQSJzWSQIs0700qbmkPLYezTMgASo3OsbrYYzWQRs8AkshEenywT82Fg3DVYZtYaGjhuhytP0HJkp8+cmXwnQp7l6IfPfmxMHv5JRRkQIDAQAB";

/* RFC 8410 §10.3's Ed25519 private key and §10.1's public key. */
static const char ed_pkcs8[] = "-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
	"-----END PRIVATE KEY-----\n";
static const char ed_seed_b64[] = "1O5y2/kTWErVttjx92n4rTr+fCjL8dT74Jeoj0R1WEI=\n";
static const char ed_pub[] = "v=DKIM1; k=ed25519; p=Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";

/* Imports text; checks the record it publishes and the export round trip. */
static void take(const char *text, size_t len, const char *want_txt, int want_weak)
{
	struct dkim_key k, back;
	struct buf txt;
	uint8_t ex[DKIM_KEY_EXPORT_MAX], sig[DKIM_RSA_MAX_BITS / 8], digest[32] = {1, 2, 3};
	size_t n = 0, siglen = 0;
	char err[256];
	int weak = -1;

	buf_init(&txt, 4096);
	CHECK_EQ_INT(dkim_key_from_text(&k, "mail", 1700000000, text, len, &weak, err, sizeof err),
	             DKIM_OK);
	CHECK_EQ_INT(weak, want_weak);
	CHECK_EQ_STR(k.selector, "mail");
	CHECK_EQ_INT(dkim_key_txt(&k, &txt), DKIM_OK);
	CHECK_EQ_STR(buf_data(&txt), want_txt);
	CHECK_EQ_INT(dkim_key_export(&k, ex, sizeof ex, &n), DKIM_OK);
	CHECK_EQ_INT(dkim_key_import(&back, k.alg, "mail", 1700000000, ex, n), DKIM_OK);
	CHECK(memcmp(&back, &k, sizeof k) == 0);
	CHECK_EQ_INT(dkim_key_sign_digest(&k, digest, sig, sizeof sig, &siglen), DKIM_OK);
	CHECK(siglen == 64 || siglen == 128);
	dkim_key_wipe(&k);
	dkim_key_wipe(&back);
	buf_free(&txt);
}

static void refuse(const char *text, size_t len, const char *selector, const char *why)
{
	struct dkim_key k;
	char err[256];
	int weak;

	CHECK_EQ_INT(dkim_key_from_text(&k, selector, 1700000000, text, len, &weak, err, sizeof err),
	             DKIM_EINVAL);
	if (strncmp(err, why, strlen(why)) != 0) {
		fprintf(stderr, "error \"%s\", expected \"%s...\"\n", err, why);
		CHECK(0);
	}
	CHECK(k.alg == 0 && k.rsa_bits == 0); /* wiped */
}

int main(void)
{
	char pkcs8[4096];
	uint8_t der[1024], sk[64], pk[32];
	size_t dlen = 0;

	take(rsa1024_pkcs1, sizeof rsa1024_pkcs1 - 1, rsa1024_pub, 1);
	snprintf(pkcs8, sizeof pkcs8, "%s", rsa1024_pkcs8_head);
	for (const char *p = rsa1024_pkcs8_body; *p; p++) /* CRLF line ends */
		snprintf(pkcs8 + strlen(pkcs8), sizeof pkcs8 - strlen(pkcs8), "%s",
		         *p == '\n' ? "\r\n" : (char[2]){*p, 0});
	snprintf(pkcs8 + strlen(pkcs8), sizeof pkcs8 - strlen(pkcs8), "-----END PRIVATE KEY-----\r\n");
	take(pkcs8, strlen(pkcs8), rsa1024_pub, 1);
	/* DER as is (the PKCS#8 body decoded). */
	CHECK(sodium_base642bin(der, sizeof der, rsa1024_pkcs8_body, strlen(rsa1024_pkcs8_body),
	                        "\n", &dlen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	take((const char *)der, dlen, rsa1024_pub, 1);

	take(ed_pkcs8, sizeof ed_pkcs8 - 1, ed_pub, 0);
	take(ed_seed_b64, sizeof ed_seed_b64 - 1, ed_pub, 0);
	/* libsodium's 64-octet secret key: seed then public key. */
	char b64[128];
	CHECK(sodium_init() >= 0);
	CHECK(sodium_base642bin(sk, 32, ed_seed_b64, strlen(ed_seed_b64), "\n", &dlen, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0 && dlen == 32);
	CHECK(sodium_base642bin(pk, 32, ed_pub + 22, strlen(ed_pub + 22), NULL, &dlen, NULL,
	                        sodium_base64_VARIANT_ORIGINAL) == 0 && dlen == 32);
	memcpy(sk + 32, pk, 32);
	sodium_bin2base64(b64, sizeof b64, sk, 64, sodium_base64_VARIANT_ORIGINAL);
	take(b64, strlen(b64), ed_pub, 0);
	sk[63] ^= 1;
	sodium_bin2base64(b64, sizeof b64, sk, 64, sodium_base64_VARIANT_ORIGINAL);
	refuse(b64, strlen(b64), "mail", "64-octet Ed25519 key whose public half");
	/* An octet over 0x7F where the seed has its "/": libsodium alone reads
	 * 0xFF as that digit and would take the very same key. */
	char hi[sizeof ed_seed_b64];
	memcpy(hi, ed_seed_b64, sizeof hi);
	CHECK(hi[5] == '/');
	hi[5] = (char)0xff;
	refuse(hi, sizeof hi - 1, "mail", "not a private key");

	/* Refusals. */
	char two[8192];
	snprintf(two, sizeof two, "%s%s", ed_pkcs8, rsa1024_pkcs1);
	refuse(two, strlen(two), "mail", "more than one private key");
	refuse(rsa1024_pkcs1, sizeof rsa1024_pkcs1 - 1, "bad selector", "invalid selector");
	refuse(rsa1024_pkcs1, sizeof rsa1024_pkcs1 - 1, "", "invalid selector");
	refuse("", 0, "mail", "not a private key");
	refuse("hello", 5, "mail", "not a private key");
	static const char pub[] = "-----BEGIN PUBLIC KEY-----\n"
	                          "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
	                          "-----END PUBLIC KEY-----\n";
	static const char cut[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n";
	refuse(pub, sizeof pub - 1, "mail", "a public key");
	refuse(cut, sizeof cut - 1, "mail", "key: truncated PEM");
	/* A damaged RSA key: one octet of the PKCS#1 text changed inside dp. */
	char bad[sizeof rsa1024_pkcs1];
	memcpy(bad, rsa1024_pkcs1, sizeof bad);
	char *line = strstr(bad, "\n3zeN");
	CHECK(line != NULL);
	if (line)
		line[2] = line[2] == 'A' ? 'B' : 'A';
	refuse(bad, sizeof bad - 1, "mail", "damaged RSA private key");
	return unit_done("test_dkim_pem");
}
