/*
 * tls_selfsigned.c — a fresh EC P-256 key and a self-signed certificate.
 *
 * Used when no certificate is configured, so STARTTLS and the implicit-TLS
 * ports work from the first start (SMTP peers use TLS opportunistically and
 * do not check it; users see one warning). The certificate is X.509 v3 for
 * the host name: subject CN, subjectAltName (dNSName, or iPAddress for an
 * address literal), basicConstraints CA:FALSE, keyUsage digitalSignature,
 * extendedKeyUsage serverAuth, subjectKeyIdentifier, a random positive
 * 16-byte serial, valid from an hour ago for ten years, signed with
 * ECDSA-SHA256.
 *
 * BearSSL encodes keys but not certificates, so this file has a small DER
 * writer: elements are written front to back into a fixed buffer, and when
 * a constructed element ends its content is moved up to make room for the
 * length, which is only then known. A certificate is about 500 bytes.
 */
#include "net/tls_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"
#include "core/random.h"
#include "net/der_w.h"

#define DER_MAX 2048
#define RENEW_MARGIN (30 * 86400)

/* Object identifiers, content octets only. */
static const unsigned char OID_ECDSA_SHA256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const unsigned char OID_EC_PUBKEY[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const unsigned char OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const unsigned char OID_CN[] = {0x55, 0x04, 0x03};
static const unsigned char OID_SKI[] = {0x55, 0x1D, 0x0E};
static const unsigned char OID_KEY_USAGE[] = {0x55, 0x1D, 0x0F};
static const unsigned char OID_SAN[] = {0x55, 0x1D, 0x11};
static const unsigned char OID_BASIC[] = {0x55, 0x1D, 0x13};
static const unsigned char OID_EKU[] = {0x55, 0x1D, 0x25};
/* 1.3.6.1.5.5.7.1.31 */
static const unsigned char OID_ACME_ID[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1F};
static const unsigned char OID_SERVER_AUTH[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

static void dw_alg_ecdsa_sha256(struct der_w *w)
{
	/* RFC 5758: no parameters, not even NULL. */
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_ECDSA_SHA256, sizeof OID_ECDSA_SHA256);
	dw_end(w);
}

/* Name ::= SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String } } } */
static void dw_name_cn(struct der_w *w, const char *cn)
{
	dw_begin(w, 0x30);
	dw_begin(w, 0x31);
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_CN, sizeof OID_CN);
	dw_prim(w, 0x0C, cn, strlen(cn));
	dw_end(w);
	dw_end(w);
	dw_end(w);
}

static void civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	/* Inverse of tls_days_from_civil(): years start on 1 March. */
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int64_t)yoe + era * 400 + (*m_r <= 2);
}

/* RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
static void dw_time(struct der_w *w, int64_t t)
{
	int64_t y, days = t / 86400, secs = t % 86400;
	unsigned m, d, hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60),
	               ss = (unsigned)(secs % 60);
	char s[32];
	int n;

	civil_from_days(days, &y, &m, &d);
	if (y >= 1950 && y < 2050) {
		n = snprintf(s, sizeof s, "%02u%02u%02u%02u%02u%02uZ", (unsigned)(y % 100), m, d,
		             hh, mm, ss);
		dw_prim(w, 0x17, s, (size_t)n);
	} else {
		n = snprintf(s, sizeof s, "%04u%02u%02u%02u%02u%02uZ", (unsigned)y, m, d, hh, mm,
		             ss);
		dw_prim(w, 0x18, s, (size_t)n);
	}
}

/* Ten calendar years after t (29 February becomes 28 February). */
static int64_t plus_ten_years(int64_t t)
{
	int64_t y, secs = t % 86400;
	unsigned m, d;

	civil_from_days(t / 86400, &y, &m, &d);
	y += 10;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		d = 28;
	return tls_days_from_civil(y, m, d) * 86400 + secs;
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
static void dw_ext_begin(struct der_w *w, const unsigned char *oid, size_t oidlen, int critical)
{
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, oid, oidlen);
	if (critical)
		dw_prim(w, 0x01, "\xFF", 1);
	dw_begin(w, 0x04);
}

static void dw_ext_end(struct der_w *w)
{
	dw_end(w);
	dw_end(w);
}

static void dw_tbs(struct der_w *w, const char *host, int64_t now, const unsigned char serial[16],
                   const br_ec_public_key *pk, const unsigned char *acme_id)
{
	unsigned char addr[16], ski[br_sha1_SIZE];
	br_sha1_context sha1;

	dw_begin(w, 0x30);

	dw_begin(w, 0xA0); /* version [0] EXPLICIT v3 */
	dw_prim(w, 0x02, "\x02", 1);
	dw_end(w);
	dw_prim(w, 0x02, serial, 16);
	dw_alg_ecdsa_sha256(w);
	dw_name_cn(w, host); /* issuer */
	dw_begin(w, 0x30);
	dw_time(w, now - 3600); /* tolerate clients whose clock is a little behind */
	dw_time(w, plus_ten_years(now));
	dw_end(w);
	dw_name_cn(w, host); /* subject */

	/* SubjectPublicKeyInfo: id-ecPublicKey on P-256, uncompressed point. */
	dw_begin(w, 0x30);
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_EC_PUBKEY, sizeof OID_EC_PUBKEY);
	dw_prim(w, 0x06, OID_P256, sizeof OID_P256);
	dw_end(w);
	dw_begin(w, 0x03);
	dw_byte(w, 0); /* no unused bits */
	dw_bytes(w, pk->q, pk->qlen);
	dw_end(w);
	dw_end(w);

	dw_begin(w, 0xA3); /* extensions [3] EXPLICIT */
	dw_begin(w, 0x30);

	dw_ext_begin(w, OID_BASIC, sizeof OID_BASIC, 1);
	dw_begin(w, 0x30); /* cA absent = FALSE */
	dw_end(w);
	dw_ext_end(w);

	dw_ext_begin(w, OID_KEY_USAGE, sizeof OID_KEY_USAGE, 1);
	dw_prim(w, 0x03, "\x07\x80", 2); /* digitalSignature is bit 0; 7 unused bits */
	dw_ext_end(w);

	dw_ext_begin(w, OID_EKU, sizeof OID_EKU, 0);
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_SERVER_AUTH, sizeof OID_SERVER_AUTH);
	dw_end(w);
	dw_ext_end(w);

	dw_ext_begin(w, OID_SAN, sizeof OID_SAN, 0);
	dw_begin(w, 0x30);
	if (inet_pton(AF_INET, host, addr) == 1)
		dw_prim(w, 0x87, addr, 4); /* iPAddress [7] */
	else if (inet_pton(AF_INET6, host, addr) == 1)
		dw_prim(w, 0x87, addr, 16);
	else
		dw_prim(w, 0x82, host, strlen(host)); /* dNSName [2] */
	dw_end(w);
	dw_ext_end(w);

	/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
	br_sha1_init(&sha1);
	br_sha1_update(&sha1, pk->q, pk->qlen);
	br_sha1_out(&sha1, ski);
	dw_ext_begin(w, OID_SKI, sizeof OID_SKI, 0);
	dw_prim(w, 0x04, ski, sizeof ski);
	dw_ext_end(w);

	/* RFC 8737 §3: id-pe-acmeIdentifier, critical, an OCTET STRING of
	 * the SHA-256 of the key authorization. */
	if (acme_id != NULL) {
		dw_ext_begin(w, OID_ACME_ID, sizeof OID_ACME_ID, 1);
		dw_prim(w, 0x04, acme_id, 32);
		dw_ext_end(w);
	}

	dw_end(w);
	dw_end(w);

	dw_end(w);
}

int tls_selfsigned_make(const char *hostname, int64_t now, unsigned char *cert, size_t certsz,
                        size_t *cert_len_r, unsigned char *key, size_t keysz, size_t *key_len_r)
{
	return tls_selfsigned_make_acme(hostname, now, NULL, cert, certsz, cert_len_r, key, keysz,
	                                key_len_r);
}

int tls_selfsigned_make_acme(const char *hostname, int64_t now, const unsigned char *acme_id,
                             unsigned char *cert, size_t certsz, size_t *cert_len_r,
                             unsigned char *key, size_t keysz, size_t *key_len_r)
{
	const br_ec_impl *ec = br_ec_get_default();
	br_hmac_drbg_context rng;
	br_sha256_context sha;
	br_ec_private_key sk;
	br_ec_public_key pk;
	unsigned char seed[48], kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], qbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char serial[16], hash[br_sha256_SIZE], sig[160], tbsbuf[DER_MAX];
	struct der_w tbs = {.buf = tbsbuf, .cap = sizeof tbsbuf};
	struct der_w crt = {.buf = cert, .cap = certsz};
	size_t siglen, klen;
	int rc = -1;

	/* Step 1: key pair, from a DRBG seeded by the kernel. */
	if (random_bytes(seed, sizeof seed) < 0)
		return -1;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof seed);
	if (br_ec_keygen(&rng.vtable, ec, &sk, kbuf, BR_EC_secp256r1) == 0 ||
	    br_ec_compute_pub(ec, &pk, qbuf, &sk) == 0)
		goto out;
	br_hmac_drbg_generate(&rng, serial, sizeof serial);
	serial[0] &= 0x7F; /* positive */
	if (serial[0] == 0)
		serial[0] = 1; /* no leading zero octet: always 16 bytes */

	/* Step 2: the to-be-signed part, then its signature. */
	dw_tbs(&tbs, hostname, now, serial, &pk, acme_id);
	if (tbs.bad || tbs.depth != 0)
		goto out;
	br_sha256_init(&sha);
	br_sha256_update(&sha, tbs.buf, tbs.len);
	br_sha256_out(&sha, hash);
	siglen = br_ecdsa_i31_sign_asn1(ec, &br_sha256_vtable, hash, &sk, sig);
	if (siglen == 0)
		goto out;

	/* Step 3: Certificate ::= SEQUENCE { tbs, algorithm, BIT STRING signature } */
	dw_begin(&crt, 0x30);
	dw_bytes(&crt, tbs.buf, tbs.len);
	dw_alg_ecdsa_sha256(&crt);
	dw_begin(&crt, 0x03);
	dw_byte(&crt, 0);
	dw_bytes(&crt, sig, siglen);
	dw_end(&crt);
	dw_end(&crt);
	if (crt.bad || crt.depth != 0)
		goto out;

	/* Step 4: the key as SEC 1 ECPrivateKey ("EC PRIVATE KEY"). */
	klen = br_encode_ec_raw_der(NULL, &sk, &pk);
	if (klen == 0 || klen > keysz)
		goto out;
	br_encode_ec_raw_der(key, &sk, &pk);
	*cert_len_r = crt.len;
	*key_len_r = klen;
	rc = 0;
out:
	explicit_bzero(&rng, sizeof rng);
	explicit_bzero(seed, sizeof seed);
	explicit_bzero(kbuf, sizeof kbuf);
	explicit_bzero(&sk, sizeof sk);
	return rc;
}

/* Writes path through path.tmp + fsync + rename, so a crash leaves old or new, never half. */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                        size_t errsz)
{
	char tmp[1100];
	const unsigned char *p = data;
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT)
		goto fail;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail_unlink;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		close(fd);
		goto fail_unlink;
	}
	if (close(fd) < 0)
		goto fail_unlink;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	return 0;
fail_unlink:
	snprintf(err, errsz, "%s: cannot write: %s", path, strerror(errno));
	unlink(tmp);
	return -1;
fail:
	snprintf(err, errsz, "%s: cannot write: %s", path, strerror(errno));
	return -1;
}

/* PEM-encodes der under banner and writes it atomically. */
static int write_pem(const char *path, const unsigned char *der, size_t len, const char *banner,
                     mode_t mode, char *err, size_t errsz)
{
	char pem[4096];
	size_t n = br_pem_encode(NULL, der, len, banner, BR_PEM_LINE64);
	int rc;

	if (n + 1 > sizeof pem) {
		snprintf(err, errsz, "%s: PEM too large", path);
		return -1;
	}
	br_pem_encode(pem, der, len, banner, BR_PEM_LINE64);
	rc = write_atomic(path, pem, n, mode, err, errsz);
	explicit_bzero(pem, sizeof pem);
	return rc;
}

static int make_dir(const char *path, char *err, size_t errsz)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errsz, "%s: cannot create directory: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct tls_conf *tls_selfsigned_load(const char *data_dir, const char *hostname, char *err,
                                     size_t errsz)
{
	const char *host = hostname[0] != '\0' ? hostname : "localhost";
	char dir[1024], crt[1100], key[1100], q[300], qp[1200];
	unsigned char certder[DER_MAX], keyder[256];
	size_t certlen, keylen;
	struct tls_conf *conf;
	struct stat st;
	int64_t now = (int64_t)time(NULL);
	const char *reason = "missing";

	if (data_dir[0] == '\0') {
		snprintf(err, errsz, "no data directory for the self-signed certificate");
		return NULL;
	}
	if (snprintf(dir, sizeof dir, "%s/tls", data_dir) >= (int)sizeof dir ||
	    snprintf(crt, sizeof crt, "%s/self-signed.crt", dir) >= (int)sizeof crt ||
	    snprintf(key, sizeof key, "%s/self-signed.key", dir) >= (int)sizeof key) {
		snprintf(err, errsz, "%s: path too long", data_dir);
		return NULL;
	}

	/*
	 * Step 1: reuse a pair that is still right. One that does not load
	 * is an error, not something to overwrite silently: the operator may
	 * have put it there.
	 */
	if (stat(crt, &st) == 0 && stat(key, &st) == 0) {
		conf = tls_conf_load(crt, key, err, errsz);
		if (conf == NULL)
			return NULL;
		if (strcasecmp(conf->subject, host) == 0 && conf->not_after - now > RENEW_MARGIN)
			return conf;
		reason = strcasecmp(conf->subject, host) != 0 ? "hostname_changed" : "expiring";
		tls_conf_unref(&conf);
	}

	/*
	 * Step 2: a new pair. The old certificate goes first, then the key,
	 * then the certificate: a crash (or a write failing) anywhere in
	 * between leaves no certificate, which the next start regenerates.
	 * Writing the key over an old pair left the old certificate beside
	 * the new key, a pair that does not load and that step 1 then refused
	 * at every start as if the operator had put it there.
	 */
	errno = 0;
	if (tls_selfsigned_make(host, now, certder, sizeof certder, &certlen, keyder, sizeof keyder,
	                        &keylen) < 0) {
		snprintf(err, errsz, "%s: cannot generate a key pair: %s", crt,
		         errno ? strerror(errno) : "internal error");
		return NULL;
	}
	if (unlink(crt) < 0 && errno != ENOENT) {
		snprintf(err, errsz, "%s: cannot remove: %s", crt, strerror(errno));
		explicit_bzero(keyder, sizeof keyder);
		return NULL;
	}
	if (make_dir(data_dir, err, errsz) < 0 || make_dir(dir, err, errsz) < 0 ||
	    write_pem(key, keyder, keylen, "EC PRIVATE KEY", 0600, err, errsz) < 0 ||
	    write_pem(crt, certder, certlen, "CERTIFICATE", 0644, err, errsz) < 0) {
		explicit_bzero(keyder, sizeof keyder);
		return NULL;
	}
	explicit_bzero(keyder, sizeof keyder);
	(void)file_sync_dir(dir); /* best effort: the files were synced */
	log_info("tls", NULL, "event=selfsigned_generated reason=%s subject=%s path=%s", reason,
	         log_q(host, q, sizeof q), log_q(crt, qp, sizeof qp));

	/* Step 3: load what is on disk, so first start and restart run the same code. */
	return tls_conf_load(crt, key, err, errsz);
}
