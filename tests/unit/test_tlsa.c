/*
 * test_tlsa.c — TLSA RDATA and matching (RFC 6698, RFC 7672 §3.1). The
 * certificate, its SubjectPublicKeyInfo and their SHA-256/SHA-512 digests
 * come from the openssl command (an independent implementation), so the
 * SPKI walk and each selector/matching pair are checked against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlspol/tlsa.h"
#include "unit.h"

static size_t slurp(const char *path, uint8_t *out, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(out, 1, max, f);
	fclose(f);
	return n;
}

static struct tlsa_rec rec(uint8_t u, uint8_t s, uint8_t m, const uint8_t *d, size_t n)
{
	uint8_t rd[3 + TLSA_DATA_MAX];
	struct tlsa_rec r;
	rd[0] = u;
	rd[1] = s;
	rd[2] = m;
	memcpy(rd + 3, d, n);
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(tlsa_rdata_parse(rd, 3 + n, &r), 0);
	return r;
}

int main(void)
{
	char dir[] = "/tmp/tern-tlsa-XXXXXX", cmd[2048];
	uint8_t cert[4096], spki[1024], h[6][64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout k.pem -out c.pem -days 2 -subj /CN=mx.example.test >/dev/null 2>&1 && "
		 "openssl x509 -in c.pem -outform DER -out c.der && "
		 "openssl x509 -in c.pem -noout -pubkey | openssl pkey -pubin -outform DER -out s.der && "
		 "openssl dgst -sha256 -binary c.der > c.256 && openssl dgst -sha512 -binary c.der > c.512 && "
		 "openssl dgst -sha256 -binary s.der > s.256 && openssl dgst -sha512 -binary s.der > s.512",
		 dir);
	CHECK_EQ_INT(system(cmd), 0);
	char p[256];
	snprintf(p, sizeof p, "%s/c.der", dir);
	size_t cn = slurp(p, cert, sizeof cert);
	snprintf(p, sizeof p, "%s/s.der", dir);
	size_t sn = slurp(p, spki, sizeof spki);
	const char *names[4] = {"c.256", "c.512", "s.256", "s.512"};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		CHECK_EQ_INT(slurp(p, h[i], 64), i % 2 ? 64 : 32);
	}
	CHECK(cn > 100 && sn > 50);

	/* The SPKI walk finds exactly what openssl exports. */
	const uint8_t *sp = NULL;
	size_t sl = 0;
	CHECK_EQ_INT(tlsa_cert_spki(cert, cn, &sp, &sl), 0);
	CHECK(sl == sn && sp && memcmp(sp, spki, sn) == 0);

	/* Every selector/matching pair, usage 3 (DANE-EE) and 2. */
	struct tlsa_rec r = rec(3, 0, 0, cert, cn);
	CHECK(tlsa_usable(&r) && tlsa_match(&r, cert, cn));
	r = rec(3, 1, 0, spki, sn);
	CHECK(tlsa_match(&r, cert, cn));
	r = rec(3, 0, 1, h[0], 32);
	CHECK(tlsa_match(&r, cert, cn));
	r = rec(2, 0, 2, h[1], 64);
	CHECK(tlsa_usable(&r) && tlsa_match(&r, cert, cn));
	r = rec(3, 1, 1, h[2], 32);
	CHECK(tlsa_match(&r, cert, cn));
	r = rec(3, 1, 2, h[3], 64);
	CHECK(tlsa_match(&r, cert, cn));
	/* Mismatches: a digest of the other selector, a changed byte. */
	r = rec(3, 1, 1, h[0], 32);
	CHECK(!tlsa_match(&r, cert, cn));
	h[2][5] ^= 1;
	r = rec(3, 1, 1, h[2], 32);
	CHECK(!tlsa_match(&r, cert, cn));
	/* Not for SMTP (RFC 7672 §3.1): PKIX usages; unknown selector/matching. */
	r = rec(1, 1, 1, h[2], 32);
	CHECK(!tlsa_usable(&r));
	r = rec(3, 2, 0, h[2], 5);
	CHECK(!tlsa_usable(&r) && !tlsa_match(&r, cert, cn));

	/* RDATA refusals: too short, a hash of the wrong size. */
	struct tlsa_rec bad;
	const uint8_t shortrd[3] = {3, 1, 1};
	CHECK_EQ_INT(tlsa_rdata_parse(shortrd, 3, &bad), -1);
	uint8_t rd[40] = {3, 1, 1};
	CHECK_EQ_INT(tlsa_rdata_parse(rd, 3 + 31, &bad), -1);
	CHECK_EQ_INT(tlsa_rdata_parse(rd, 3 + 32, &bad), 0);
	rd[2] = 2;
	CHECK_EQ_INT(tlsa_rdata_parse(rd, 3 + 32, &bad), -1);
	/* Digest agility (RFC 7671 §9): per usage and selector, only the
	 * strongest matching type present counts; other pairs keep theirs. */
	static struct tlsa_rec set[6];
	set[0] = rec(3, 1, 1, h[0], 32);   /* weaker than set[1]: dropped */
	set[1] = rec(3, 1, 2, h[3], 64);
	set[2] = rec(3, 1, 0, spki, sn);   /* Full, weaker still: dropped */
	set[3] = rec(3, 0, 1, h[0], 32);   /* the only 3 0 x: kept */
	set[4] = rec(2, 1, 1, h[2], 32);   /* the only 2 1 x (two of them): kept */
	set[5] = rec(2, 1, 1, h[0], 32);
	CHECK_EQ_INT((int)tlsa_strongest(set, 6), 4);
	CHECK(set[0].usage == 3 && set[0].selector == 1 && set[0].mtype == 2);
	CHECK(set[1].usage == 3 && set[1].selector == 0 && set[1].mtype == 1);
	CHECK(set[2].usage == 2 && set[2].mtype == 1 && memcmp(set[2].data, h[2], 32) == 0);
	CHECK(set[3].usage == 2 && set[3].mtype == 1 && memcmp(set[3].data, h[0], 32) == 0);
	set[0] = rec(1, 1, 2, h[3], 64);   /* unusable: neither kept nor stronger */
	set[1] = rec(3, 1, 1, h[2], 32);
	CHECK_EQ_INT((int)tlsa_strongest(set, 2), 1);
	CHECK(set[0].usage == 3 && set[0].mtype == 1);
	CHECK_EQ_INT((int)tlsa_strongest(set, 0), 0);

	/* A truncated certificate has no SPKI. */
	CHECK_EQ_INT(tlsa_cert_spki(cert, cn / 3, &sp, &sl), -1);

	/* A "2 1 0" record's key (RFC 7671 §5.2.2): the EC key openssl
	 * exported, on P-256, its point uncompressed; an RSA one with the
	 * modulus and exponent openssl prints; a cut or padded one refused. */
	br_x509_pkey pk;
	CHECK_EQ_INT(tlsa_spki_key(spki, sn, &pk), 0);
	CHECK(pk.key_type == BR_KEYTYPE_EC && pk.key.ec.curve == BR_EC_secp256r1 &&
	      pk.key.ec.qlen == 65 && pk.key.ec.q[0] == 4);
	CHECK_EQ_INT(tlsa_spki_key(spki, sn - 1, &pk), -1);
	uint8_t padded[1100];
	memcpy(padded, spki, sn);
	padded[sn] = 0;
	CHECK_EQ_INT(tlsa_spki_key(padded, sn + 1, &pk), -1);
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out r.pem "
		 ">/dev/null 2>&1 && openssl pkey -in r.pem -pubout -outform DER -out r.der && "
		 "openssl rsa -in r.pem -noout -modulus | cut -d= -f2 > r.mod",
		 dir);
	CHECK_EQ_INT(system(cmd), 0);
	uint8_t rsa[1024];
	char mod[1024] = "", hex[1024];
	snprintf(p, sizeof p, "%s/r.der", dir);
	size_t rn = slurp(p, rsa, sizeof rsa);
	snprintf(p, sizeof p, "%s/r.mod", dir);
	slurp(p, (uint8_t *)mod, sizeof mod - 1);
	CHECK_EQ_INT(tlsa_spki_key(rsa, rn, &pk), 0);
	CHECK(pk.key_type == BR_KEYTYPE_RSA && pk.key.rsa.nlen == 256 && pk.key.rsa.elen == 3 &&
	      memcmp(pk.key.rsa.e, "\x01\x00\x01", 3) == 0);
	for (size_t i = 0; i < pk.key.rsa.nlen && i < 256; i++)
		snprintf(hex + 2 * i, 3, "%02X", pk.key.rsa.n[i]);
	CHECK(strncmp(hex, mod, 512) == 0);
	/* The issuer of the self-signed certificate: its own name. */
	const uint8_t *dn = NULL;
	size_t dl = 0;
	CHECK_EQ_INT(tlsa_cert_issuer(cert, cn, &dn, &dl), 0);
	CHECK(dn && dl > 15 && dn[0] == 0x30 && memmem(dn, dl, "mx.example.test", 15) != NULL);
	CHECK_EQ_INT(tlsa_cert_issuer(cert, 20, &dn, &dl), -1);

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done("test_tlsa");
}
