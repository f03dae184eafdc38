/*
 * test_tls.c — certificates, keys and full in-memory handshakes.
 *
 * A BearSSL client engine talks to a struct tls_server; records are moved
 * between the two engines in memory, so the whole TLS path (policy, suite
 * order, key signatures, X.509 validation of our generated certificate by
 * BearSSL's minimal validator, resumption, close_notify) runs without a
 * socket. The openssl command line, when present, makes RSA, P-384 and
 * CA-issued chains and checks our DER writer from the other side.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/random.h"
#include "net/tls.h"
#include "net/tls_client.h"
#include "net/tls_private.h"
#include "unit.h"

static char tmpdir[256];
static int have_openssl;

/* ---- helpers ---- */

static int same_file(const char *path, const unsigned char *data, size_t len)
{
	size_t n;
	unsigned char *p = (unsigned char *)unit_read_file(path, &n);
	int same = p != NULL && n == len && memcmp(p, data, len) == 0;
	free(p);
	return same;
}

static int run(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", tmpdir, cmd);
	return system(full);
}

static void path_in(char *out, size_t outsz, const char *name)
{
	snprintf(out, outsz, "%s/%s", tmpdir, name);
}

static void cfg_selfsigned(struct config *cfg, const char *dir, const char *host)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", dir);
	snprintf(cfg->hostname, sizeof cfg->hostname, "%s", host);
}

/* A trust anchor made from a certificate (direct trust, or a CA). */
struct anchor {
	br_x509_decoder_context dc;
	unsigned char dn[1024];
	size_t dnlen;
	br_x509_trust_anchor ta;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct anchor *a = ctx;
	if (a->dnlen + len <= sizeof a->dn) {
		memcpy(a->dn + a->dnlen, buf, len);
		a->dnlen += len;
	}
}

static int anchor_init(struct anchor *a, const br_x509_certificate *c, int is_ca)
{
	br_x509_pkey *pk;

	a->dnlen = 0;
	br_x509_decoder_init(&a->dc, dn_append, a);
	br_x509_decoder_push(&a->dc, c->data, c->data_len);
	pk = br_x509_decoder_get_pkey(&a->dc);
	if (pk == NULL)
		return -1;
	a->ta.dn.data = a->dn;
	a->ta.dn.len = a->dnlen;
	a->ta.flags = is_ca ? BR_X509_TA_CA : 0;
	a->ta.pkey = *pk; /* points into a->dc */
	return 0;
}

/* The client side of an in-memory connection. */
struct client {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	struct tls_client_id id;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Set: the client starts with tern's tls_client_reset() (its address
 * check), not br_ssl_client_reset(). */
static int client_tern_reset;

static void client_init(struct client *c, const br_x509_trust_anchor *ta, const char *name,
                        const uint16_t *suites, size_t nsuites, unsigned vmin, unsigned vmax,
                        int resume)
{
	unsigned char seed[32];

	br_ssl_client_init_full(&c->cc, &c->xc, ta, 1);
	if (suites != NULL)
		br_ssl_engine_set_suites(&c->cc.eng, suites, nsuites);
	br_ssl_engine_set_versions(&c->cc.eng, vmin, vmax);
	br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof c->iobuf, 1);
	random_bytes(seed, sizeof seed);
	br_ssl_engine_inject_entropy(&c->cc.eng, seed, sizeof seed);
	memset(&c->id, 0, sizeof c->id);
	if (client_tern_reset && !resume)
		CHECK_EQ_INT(tls_client_reset(&c->cc, &c->id, name, 1), 1);
	else
		br_ssl_client_reset(&c->cc, name, resume);
}

/* Moves records one way; returns 1 if anything moved. */
static int xfer(br_ssl_engine_context *from, br_ssl_engine_context *to)
{
	size_t len, room;
	unsigned char *src = br_ssl_engine_sendrec_buf(from, &len), *dst;

	if (src == NULL)
		return 0;
	dst = br_ssl_engine_recvrec_buf(to, &room);
	if (dst == NULL)
		return 0;
	if (len > room)
		len = room;
	memcpy(dst, src, len);
	br_ssl_engine_sendrec_ack(from, len);
	br_ssl_engine_recvrec_ack(to, len);
	return 1;
}

static void pump(br_ssl_engine_context *a, br_ssl_engine_context *b)
{
	int i;

	for (i = 0; i < 100000; i++) {
		int m = xfer(a, b);
		m |= xfer(b, a);
		if (!m)
			break;
	}
}

/* Sends len bytes from one engine and reads them at the other. */
static int send_recv(br_ssl_engine_context *from, br_ssl_engine_context *to,
                     const unsigned char *data, size_t len, unsigned char *out)
{
	size_t sent = 0, got = 0;
	int rounds = 0;

	while (got < len && rounds++ < 100000) {
		size_t n;
		unsigned char *p;

		if (sent < len && (p = br_ssl_engine_sendapp_buf(from, &n)) != NULL) {
			if (n > len - sent)
				n = len - sent;
			memcpy(p, data + sent, n);
			br_ssl_engine_sendapp_ack(from, n);
			sent += n;
			br_ssl_engine_flush(from, 0);
		}
		pump(from, to);
		while ((p = br_ssl_engine_recvapp_buf(to, &n)) != NULL) {
			if (n > len - got)
				return -1;
			memcpy(out + got, p, n);
			br_ssl_engine_recvapp_ack(to, n);
			got += n;
		}
		if ((br_ssl_engine_current_state(from) | br_ssl_engine_current_state(to)) &
		    BR_SSL_CLOSED)
			return -1;
	}
	return got == len && memcmp(data, out, len) == 0 ? 0 : -1;
}

/*
 * Handshake + data both ways + close_notify. Returns 0 when everything
 * worked; expect_cipher may be NULL to accept any.
 */
struct hs_result {
	char version[16], cipher[64], sni[64];
	int bits, client_err, server_err;
	unsigned char session_id[32];
	size_t session_id_len;
	br_ssl_session_parameters client_params;
};

static int handshake(struct tls_conf *conf, const br_x509_trust_anchor *ta, const char *name,
                     const uint16_t *suites, size_t nsuites, unsigned vmin, unsigned vmax,
                     const br_ssl_session_parameters *resume, struct hs_result *r, size_t data_len)
{
	struct client *c = malloc(sizeof *c);
	struct tls_server *ts = malloc(sizeof *ts);
	unsigned char *data = malloc(data_len + 1), *out = malloc(data_len + 1);
	int rc = -1;
	size_t i;

	memset(r, 0, sizeof *r);
	for (i = 0; i < data_len; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	if (tls_server_init(ts, conf) != 0)
		goto out;
	client_init(c, ta, name, suites, nsuites, vmin, vmax, 0);
	if (resume != NULL) {
		br_ssl_engine_set_session_parameters(&c->cc.eng, resume);
		br_ssl_client_reset(&c->cc, name, 1);
	}
	CHECK(!tls_server_handshake_done(ts));
	pump(&c->cc.eng, tls_server_engine(ts));
	r->client_err = br_ssl_engine_last_error(&c->cc.eng);
	r->server_err = br_ssl_engine_last_error(tls_server_engine(ts));
	if ((br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_SENDAPP) == 0 ||
	    !tls_server_handshake_done(ts))
		goto fin;
	snprintf(r->version, sizeof r->version, "%s",
	         tls_server_version(ts) ? tls_server_version(ts) : "");
	snprintf(r->cipher, sizeof r->cipher, "%s",
	         tls_server_cipher(ts) ? tls_server_cipher(ts) : "");
	snprintf(r->sni, sizeof r->sni, "%s", tls_server_name(ts) ? tls_server_name(ts) : "");
	r->bits = tls_server_cipher_bits(ts);
	br_ssl_engine_get_session_parameters(&c->cc.eng, &r->client_params);
	memcpy(r->session_id, r->client_params.session_id, r->client_params.session_id_len);
	r->session_id_len = r->client_params.session_id_len;

	/* Application data both ways, then close_notify from the client. */
	if (send_recv(&c->cc.eng, tls_server_engine(ts), data, data_len, out) != 0)
		goto fin;
	if (send_recv(tls_server_engine(ts), &c->cc.eng, data, data_len, out) != 0)
		goto fin;
	CHECK(tls_server_handshake_done(ts));
	br_ssl_engine_close(&c->cc.eng);
	pump(&c->cc.eng, tls_server_engine(ts));
	CHECK(br_ssl_engine_current_state(tls_server_engine(ts)) & BR_SSL_CLOSED);
	CHECK_EQ_INT(br_ssl_engine_last_error(tls_server_engine(ts)), BR_ERR_OK);
	CHECK(br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_CLOSED);
	CHECK_EQ_INT(br_ssl_engine_last_error(&c->cc.eng), BR_ERR_OK);
	rc = 0;
fin:
	tls_server_finish(ts);
	CHECK(ts->conf == NULL);
	/* BearSSL decrypts records in place: the application data the
	 * server read (an AUTH line, in a mail session) must not stay in
	 * its buffer (nor what it sent, encrypted in place there too). */
	if (rc == 0 && data_len >= 16)
		CHECK(memmem(ts->iobuf, sizeof ts->iobuf, data + data_len - 16, 16) == NULL);
	tls_server_finish(ts); /* idempotent */
out:
	tls_client_id_free(&c->id);
	free(c);
	free(ts);
	free(data);
	free(out);
	return rc;
}

static int fast_aes(void)
{
	return br_aes_x86ni_ctr_get_vtable() != NULL && br_ghash_pclmul_get() != 0;
}

/* ---- tests ---- */

static void test_dates(void)
{
	CHECK_EQ_INT(tls_days_from_civil(1970, 1, 1), 0);
	CHECK_EQ_INT(tls_days_from_civil(2000, 3, 1), 11017);
	CHECK_EQ_INT(tls_days_from_civil(2024, 2, 29), 19782);
	CHECK_EQ_INT(tls_days_from_civil(1969, 12, 31), -1);
}

static void test_error_text(void)
{
	char b[64];
	CHECK_EQ_STR(tls_error_text(BR_ERR_OK, b, sizeof b), "ok");
	CHECK_EQ_STR(tls_error_text(BR_ERR_BAD_MAC, b, sizeof b), "bad_mac");
	CHECK_EQ_STR(tls_error_text(BR_ERR_BAD_CIPHER_SUITE, b, sizeof b), "no_shared_cipher");
	CHECK_EQ_STR(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 48, b, sizeof b),
	             "peer_alert_unknown_ca");
	CHECK_EQ_STR(tls_error_text(BR_ERR_SEND_FATAL_ALERT + 70, b, sizeof b),
	             "sent_alert_protocol_version");
	CHECK_EQ_STR(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 250, b, sizeof b), "peer_alert_250");
	CHECK_EQ_STR(tls_error_text(BR_ERR_X509_EXPIRED, b, sizeof b), "x509_54");
	CHECK_EQ_STR(tls_error_text(9999, b, sizeof b), "error_9999");
}

/* Our DER writer, read back by our reader and by BearSSL, for a fixed date past 2049. */
static void test_make_fixed_date(void)
{
	unsigned char cert[2048], key[256];
	size_t clen, klen;
	int64_t now = tls_days_from_civil(2040, 2, 29) * 86400 + 12 * 3600 + 34 * 60 + 56;
	char err[256];
	struct tls_conf *conf;

	CHECK_EQ_INT(tls_selfsigned_make("fixed.example.test", now, cert, sizeof cert, &clen, key,
	                                 sizeof key, &klen),
	             0);
	CHECK(clen > 300 && clen < 1000);
	conf = tls_conf_from_pem(cert, clen, "mem-cert", key, klen, "mem-key", err, sizeof err);
	CHECK(conf != NULL);
	if (conf == NULL) {
		fprintf(stderr, "  err: %s\n", err);
		return;
	}
	CHECK_EQ_STR(tls_conf_subject(conf), "fixed.example.test");
	CHECK_EQ_INT(tls_conf_not_before(conf), now - 3600);
	/* 2050 is not a leap year: 29 February becomes the 28th, GeneralizedTime. */
	CHECK_EQ_INT(tls_conf_not_after(conf),
	             tls_days_from_civil(2050, 2, 28) * 86400 + 12 * 3600 + 34 * 60 + 56);
	CHECK(memmem(cert, clen, "20500228123456Z", 15) != NULL);
	CHECK(memmem(cert, clen, "400229113456Z", 12) != NULL);
	CHECK_EQ_STR(tls_conf_source(conf), "mem-cert");
	tls_conf_unref(&conf);
	CHECK(conf == NULL);
	tls_conf_unref(&conf); /* NULL is fine */

	/* A too-small output buffer fails cleanly. */
	CHECK_EQ_INT(tls_selfsigned_make("x.test", now, cert, 100, &clen, key, sizeof key, &klen),
	             -1);
	/* An IP literal host name goes into an iPAddress SAN. */
	CHECK_EQ_INT(
	    tls_selfsigned_make("192.0.2.7", now, cert, sizeof cert, &clen, key, sizeof key, &klen),
	    0);
	CHECK(memmem(cert, clen, "\x87\x04\xC0\x00\x02\x07", 6) != NULL);
}

/* A certificate self-signed for host, as a server conf and a trust anchor. */
static struct tls_conf *conf_for(const char *host, struct anchor *a)
{
	unsigned char cert[2048], key[256];
	size_t clen, klen;
	char err[256];
	if (tls_selfsigned_make(host, time(NULL), cert, sizeof cert, &clen, key, sizeof key,
	                        &klen) != 0)
		return NULL;
	struct tls_conf *conf = tls_conf_from_pem(cert, clen, "c", key, klen, "k", err, sizeof err);
	if (conf == NULL || anchor_init(a, &conf->chain[0], 0) != 0) {
		tls_conf_unref(&conf);
		return NULL;
	}
	return conf;
}

/*
 * tls_client_reset() (net/tls_client.h): an address goes without SNI (RFC
 * 6066 §3) and must be the certificate's iPAddress; BearSSL alone checks
 * no name then, and any certificate from a trusted root passed.
 */
static void test_client_address_identity(void)
{
	static const struct {
		const char *cert, *name;
		int ok;
		const char *sni;
	} cases[] = {
	    {"192.0.2.7", "192.0.2.7", 1, ""},
	    {"192.0.2.7", "[192.0.2.7]", 1, ""},
	    {"192.0.2.7", "192.0.2.8", 0, NULL},
	    {"192.0.2.7", "::ffff:192.0.2.7", 0, NULL}, /* 16 octets, not the SAN's 4 */
	    {"2001:db8::1", "2001:db8:0:0::1", 1, ""},
	    {"2001:db8::1", "[2001:db8::1]", 1, ""},
	    {"2001:db8::1", "2001:db8::2", 0, NULL},
	    {"mail.example.test", "192.0.2.7", 0, NULL}, /* a dNSName only */
	    {"192.0.2.7", "mail.example.test", 0, NULL},
	    {"mail.example.test", "mail.example.test", 1, "mail.example.test"},
	};
	struct anchor *a = malloc(sizeof *a);
	struct hs_result r;
	unsigned char addr[16];
	size_t len = 0;

	client_tern_reset = 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tls_conf *conf = conf_for(cases[i].cert, a);
		CHECK(conf != NULL);
		if (conf == NULL)
			continue;
		int rc = handshake(conf, &a->ta, cases[i].name, NULL, 0, BR_TLS12, BR_TLS12, NULL, &r,
		                   100);
		if (cases[i].ok) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(r.sni, cases[i].sni);
		} else {
			CHECK(rc != 0);
			CHECK_EQ_INT(r.client_err, BR_ERR_X509_BAD_SERVER_NAME);
		}
		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "  case %zu: %s for %s\n", i, cases[i].name, cases[i].cert);
		tls_conf_unref(&conf);
	}
	client_tern_reset = 0;
	free(a);

	CHECK_EQ_INT(tls_client_addr("192.0.2.1", addr, &len), 1);
	CHECK_EQ_INT((int)len, 4);
	CHECK(memcmp(addr, "\xC0\x00\x02\x01", 4) == 0);
	CHECK_EQ_INT(tls_client_addr("[::1]", addr, &len), 1);
	CHECK_EQ_INT((int)len, 16);
	CHECK_EQ_INT(tls_client_addr("::1", addr, &len), 1);
	CHECK_EQ_INT(tls_client_addr("mail.example.test", addr, &len), 0);
	CHECK_EQ_INT(tls_client_addr("1.2.3", addr, &len), 0);
	CHECK_EQ_INT(tls_client_addr("[IPv6:::1]", addr, &len), 0);
	CHECK_EQ_INT(tls_client_addr("[]", addr, &len), 0);
	CHECK_EQ_INT(tls_client_addr("", addr, &len), 0);
	CHECK_EQ_INT(tls_client_addr(NULL, addr, &len), 0);
}

static void test_selfsigned(void)
{
	struct config cfg;
	char dir[300], crt[400], key[400], err[512];
	unsigned char *crt1, *key1;
	size_t crt1_len, key1_len;
	struct tls_conf *conf;
	struct stat st;
	struct anchor *a;
	struct hs_result r;
	const char *want;

	snprintf(dir, sizeof dir, "%s/data", tmpdir); /* does not exist yet: created */
	snprintf(crt, sizeof crt, "%s/tls/self-signed.crt", dir);
	snprintf(key, sizeof key, "%s/tls/self-signed.key", dir);
	cfg_selfsigned(&cfg, dir, "mail.example.test");

	CHECK(tls_current() == NULL);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	crt1 = (unsigned char *)unit_read_file(crt, &crt1_len);
	key1 = (unsigned char *)unit_read_file(key, &key1_len);
	CHECK(crt1 != NULL && key1 != NULL);
	if (crt1 == NULL || key1 == NULL)
		return;
	CHECK(memmem(crt1, crt1_len, "-----BEGIN CERTIFICATE-----", 27) != NULL);
	CHECK(memmem(key1, key1_len, "-----BEGIN EC PRIVATE KEY-----", 30) != NULL);
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(crt, &st) == 0 && (st.st_mode & 0600) == 0600 && (st.st_mode & 022) == 0);

	conf = tls_current();
	CHECK(conf != NULL);
	CHECK_EQ_STR(tls_conf_subject(conf), "mail.example.test");
	CHECK_EQ_STR(tls_conf_key_desc(conf), "ec-p256");
	CHECK_EQ_INT(tls_conf_key_type(conf), BR_KEYTYPE_EC);
	CHECK_EQ_INT(tls_conf_chain_len(conf), 1);
	CHECK_EQ_STR(tls_conf_source(conf), crt);
	CHECK(tls_conf_not_before(conf) <= (int64_t)time(NULL) - 3500);
	CHECK(tls_conf_not_after(conf) >= (int64_t)time(NULL) + 3650LL * 86400);
	CHECK(tls_conf_not_after(conf) <= (int64_t)time(NULL) + 3654LL * 86400);

	/* BearSSL's decoder: EC key, not a CA, signed ECDSA+SHA-256, DN holds the CN. */
	a = malloc(sizeof *a);
	CHECK_EQ_INT(anchor_init(a, &conf->chain[0], 0), 0);
	CHECK_EQ_INT(br_x509_decoder_isCA(&a->dc), 0);
	CHECK_EQ_INT(br_x509_decoder_get_signer_key_type(&a->dc), BR_KEYTYPE_EC);
	CHECK_EQ_INT(br_x509_decoder_get_signer_hash_id(&a->dc), br_sha256_ID);
	CHECK_EQ_INT(a->ta.pkey.key_type, BR_KEYTYPE_EC);
	CHECK_EQ_INT(a->ta.pkey.key.ec.curve, BR_EC_secp256r1);
	CHECK(memmem(a->dn, a->dnlen, "mail.example.test", 17) != NULL);

	/*
	 * Full handshake: the client validates our certificate with BearSSL's
	 * X.509 validator (direct trust: key + DN; SAN against SNI; key usage;
	 * dates), then data both ways and close_notify.
	 */
	want = fast_aes() ? "ECDHE-ECDSA-AES128-GCM-SHA256" : "ECDHE-ECDSA-CHACHA20-POLY1305";
	CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", NULL, 0, BR_TLS10, BR_TLS12, NULL,
	                       &r, 100000),
	             0);
	CHECK_EQ_STR(r.version, "TLSv1.2");
	CHECK_EQ_STR(r.cipher, want);
	CHECK_EQ_INT(r.bits, fast_aes() ? 128 : 256);
	CHECK_EQ_STR(r.sni, "mail.example.test");
	fprintf(stderr, "  negotiated %s %s (%s)\n", r.version, r.cipher,
	        fast_aes() ? "AES-NI+PCLMUL" : "no AES-NI");

	/* Resumption: same session id, still TLS 1.2. */
	{
		struct hs_result r2;
		br_ssl_session_parameters sp = r.client_params;
		CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", NULL, 0, BR_TLS10,
		                       BR_TLS12, &sp, &r2, 10),
		             0);
		CHECK(r.session_id_len == 32 && r2.session_id_len == 32 &&
		      memcmp(r.session_id, r2.session_id, 32) == 0);
		CHECK_EQ_STR(r2.cipher, want);
	}

	/* The name must match the certificate: the client refuses another. */
	CHECK(handshake(conf, &a->ta, "other.example.test", NULL, 0, BR_TLS10, BR_TLS12, NULL, &r,
	                10) != 0);
	CHECK_EQ_INT(r.client_err, BR_ERR_X509_BAD_SERVER_NAME);

	/* No SNI at all is fine (validation without a name). */
	CHECK_EQ_INT(handshake(conf, &a->ta, NULL, NULL, 0, BR_TLS10, BR_TLS12, NULL, &r, 10), 0);
	CHECK_EQ_STR(r.sni, "");

	/* Client preference does not matter: server order wins. */
	{
		static const uint16_t cli[] = {
		    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		};
		CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", cli, 3, BR_TLS12,
		                       BR_TLS12, NULL, &r, 10),
		             0);
		CHECK_EQ_STR(r.cipher, want);
	}
	/* Each suite on its own. */
	{
		static const uint16_t c1[] = {BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256};
		static const uint16_t c2[] = {BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384};
		static const uint16_t c3[] = {BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256};
		CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", c1, 1, BR_TLS12, BR_TLS12,
		                       NULL, &r, 5000),
		             0);
		CHECK_EQ_STR(r.cipher, "ECDHE-ECDSA-CHACHA20-POLY1305");
		CHECK_EQ_INT(r.bits, 256);
		CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", c2, 1, BR_TLS12, BR_TLS12,
		                       NULL, &r, 5000),
		             0);
		CHECK_EQ_STR(r.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
		CHECK_EQ_INT(r.bits, 256);
		CHECK_EQ_INT(handshake(conf, &a->ta, "mail.example.test", c3, 1, BR_TLS12, BR_TLS12,
		                       NULL, &r, 5000),
		             0);
		CHECK_EQ_STR(r.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
		CHECK_EQ_INT(r.bits, 128);
	}
	/* Refused: CBC, static ECDH, RSA suites, and TLS below 1.2. */
	{
		static const uint16_t cbc[] = {BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		                               BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		                               BR_TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256,
		                               BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256};
		CHECK(handshake(conf, &a->ta, "mail.example.test", cbc, 4, BR_TLS12, BR_TLS12, NULL,
		                &r, 10) != 0);
		CHECK_EQ_INT(r.server_err, BR_ERR_SEND_FATAL_ALERT + 40); /* handshake_failure */
		CHECK(handshake(conf, &a->ta, "mail.example.test", NULL, 0, BR_TLS10, BR_TLS11,
		                NULL, &r, 10) != 0);
		/*
		 * The server answers with a protocol_version alert in a TLS 1.2
		 * record, which this 1.0/1.1-only client rejects first.
		 */
		CHECK_EQ_INT(r.client_err, BR_ERR_UNSUPPORTED_VERSION);
	}

	/* Second start reuses the files byte for byte; so does a reload. */
	tls_conf_unref(&conf);
	tls_shutdown();
	CHECK(tls_current() == NULL);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	CHECK(same_file(crt, crt1, crt1_len));
	CHECK(same_file(key, key1, key1_len));
	CHECK_EQ_INT(tls_reload(err, sizeof err), 0);
	CHECK(same_file(crt, crt1, crt1_len));
	CHECK(same_file(key, key1, key1_len));

	/* A host name change regenerates the pair. */
	cfg_selfsigned(&cfg, dir, "new.example.test");
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	CHECK(!same_file(crt, crt1, crt1_len));
	CHECK(!same_file(key, key1, key1_len));
	conf = tls_current();
	CHECK_EQ_STR(tls_conf_subject(conf), "new.example.test");
	tls_conf_unref(&conf);

	/* A corrupt self-signed file is an error naming it, not silently replaced. */
	CHECK_EQ_INT(unit_write_file(crt, "garbage\n", 8), 0);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), -1);
	CHECK(strstr(err, "self-signed.crt") != NULL);
	unlink(crt);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0); /* missing: regenerated */

	/*
	 * A regeneration stopped between its two files (a crash, a full
	 * disk: here the certificate's temporary name is a directory, so only
	 * the key gets written) must not leave the old certificate beside the
	 * new key: that pair does not load, and the next start refused it as
	 * an operator's file, every start, until someone deleted it by hand.
	 */
	{
		char tmpc[450];
		snprintf(tmpc, sizeof tmpc, "%s.tmp", crt);
		cfg_selfsigned(&cfg, dir, "third.example.test");
		CHECK_EQ_INT(mkdir(tmpc, 0700), 0);
		CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), -1);
		CHECK(strstr(err, "self-signed.crt") != NULL);
		CHECK_EQ_INT(rmdir(tmpc), 0);
		CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
		conf = tls_current();
		CHECK(conf != NULL && strcmp(tls_conf_subject(conf), "third.example.test") == 0);
		tls_conf_unref(&conf);
		CHECK_EQ_INT(stat(key, &st), 0);
		CHECK_EQ_INT((int)(st.st_mode & 0777), 0600);
		cfg_selfsigned(&cfg, dir, "new.example.test");
		CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	}

	/* openssl's view of our certificate and key. */
	if (have_openssl) {
		/* run() works in tmpdir, where the data dir is "data". */
		CHECK_EQ_INT(
		    run("C=data/tls/self-signed.crt; "
		        "openssl x509 -in $C -noout -text > x509.txt && "
		        "grep -q 'Version: 3' x509.txt && grep -q 'DNS:new.example.test' x509.txt "
		        "&& "
		        "grep -q 'CA:FALSE' x509.txt && grep -q 'Digital Signature' x509.txt && "
		        "grep -q 'TLS Web Server Authentication' x509.txt && "
		        "grep -q 'ecdsa-with-SHA256' x509.txt && grep -q 'Subject Key Identifier' "
		        "x509.txt && "
		        "openssl x509 -in $C -noout -checkhost new.example.test | grep -q 'does "
		        "match' && "
		        "openssl verify -CAfile $C -check_ss_sig $C && "
		        "openssl ec -in data/tls/self-signed.key -check -noout"),
		    0);
	}
	free(a);
	free(crt1);
	free(key1);
}

/* Writes a PEM pair with openssl; returns 0 when it worked. */
static int openssl_pair(const char *cmd)
{
	return have_openssl && run(cmd) == 0 ? 0 : -1;
}

static void test_openssl_keys(void)
{
	char c[400], k[400], ca[400], err[512];
	struct tls_conf *conf;
	struct anchor *a = malloc(sizeof *a);
	struct hs_result r;
	struct config cfg;

	if (!have_openssl) {
		fprintf(stderr, "  note: openssl not found, RSA/P-384/chain tests skipped\n");
		free(a);
		return;
	}

	/* RSA-2048, PKCS#8 "PRIVATE KEY" (openssl's default). */
	CHECK_EQ_INT(openssl_pair("openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key "
	                          "-out rsa.crt -subj /CN=rsa.example.test -days 2 "
	                          "-addext subjectAltName=DNS:rsa.example.test"),
	             0);
	path_in(c, sizeof c, "rsa.crt");
	path_in(k, sizeof k, "rsa.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK_EQ_STR(tls_conf_key_desc(conf), "rsa-2048");
		CHECK_EQ_INT(tls_conf_key_type(conf), BR_KEYTYPE_RSA);
		CHECK_EQ_STR(tls_conf_subject(conf), "rsa.example.test");
		CHECK_EQ_INT(anchor_init(a, &conf->chain[0], 0), 0);
		CHECK_EQ_INT(handshake(conf, &a->ta, "rsa.example.test", NULL, 0, BR_TLS10,
		                       BR_TLS12, NULL, &r, 20000),
		             0);
		CHECK_EQ_STR(r.version, "TLSv1.2");
		CHECK_EQ_STR(r.cipher, fast_aes() ? "ECDHE-RSA-AES128-GCM-SHA256"
		                                  : "ECDHE-RSA-CHACHA20-POLY1305");
		{
			static const uint16_t c2[] = {BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384};
			CHECK_EQ_INT(handshake(conf, &a->ta, "rsa.example.test", c2, 1, BR_TLS12,
			                       BR_TLS12, NULL, &r, 10),
			             0);
			CHECK_EQ_STR(r.cipher, "ECDHE-RSA-AES256-GCM-SHA384");
			CHECK_EQ_INT(r.bits, 256);
		}
		tls_conf_unref(&conf);
	} else {
		fprintf(stderr, "  err: %s\n", err);
	}

	/* The same key as traditional "RSA PRIVATE KEY"; then as DER files. */
	CHECK_EQ_INT(run("openssl rsa -in rsa.key -traditional -out rsa-trad.key"), 0);
	path_in(k, sizeof k, "rsa-trad.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf != NULL);
	tls_conf_unref(&conf);
	CHECK_EQ_INT(run("openssl x509 -in rsa.crt -outform DER -out rsa.crt.der && "
	                 "openssl rsa -in rsa.key -outform DER -out rsa.key.der"),
	             0);
	path_in(c, sizeof c, "rsa.crt.der");
	path_in(k, sizeof k, "rsa.key.der");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf != NULL);
	tls_conf_unref(&conf);

	/* One file holding both, through tls_init with TERN_TLS_CERT == TERN_TLS_KEY. */
	CHECK_EQ_INT(run("cat rsa.crt rsa.key > rsa-both.pem"), 0);
	memset(&cfg, 0, sizeof cfg);
	path_in(cfg.tls_cert, sizeof cfg.tls_cert, "rsa-both.pem");
	path_in(cfg.tls_key, sizeof cfg.tls_key, "rsa-both.pem");
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	conf = tls_current();
	CHECK(conf != NULL && strcmp(tls_conf_key_desc(conf), "rsa-2048") == 0);
	tls_conf_unref(&conf);

	/* P-384 key from "openssl ecparam -genkey" (EC PARAMETERS block first). */
	CHECK_EQ_INT(
	    openssl_pair(
	        "openssl ecparam -name secp384r1 -genkey -out p384.key && "
	        "openssl req -x509 -key p384.key -out p384.crt -subj /CN=p384.example.test "
	        "-days 2 -addext subjectAltName=DNS:p384.example.test"),
	    0);
	path_in(c, sizeof c, "p384.crt");
	path_in(k, sizeof k, "p384.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK_EQ_STR(tls_conf_key_desc(conf), "ec-p384");
		CHECK_EQ_INT(anchor_init(a, &conf->chain[0], 0), 0);
		CHECK_EQ_INT(handshake(conf, &a->ta, "p384.example.test", NULL, 0, BR_TLS12,
		                       BR_TLS12, NULL, &r, 10),
		             0);
		tls_conf_unref(&conf);
	}

	/* A CA-issued leaf with the chain in the file; the client trusts only the CA. */
	CHECK_EQ_INT(
	    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	        "-keyout ca.key -out ca.crt -subj '/CN=Test CA R2' -days 2 "
	        "-addext basicConstraints=critical,CA:TRUE "
	        "-addext keyUsage=critical,keyCertSign && "
	        "openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr "
	        "-subj /CN=leaf.example.test && "
	        "printf 'subjectAltName=DNS:leaf.example.test\\nbasicConstraints=CA:FALSE\\n' > "
	        "leaf.ext && "
	        "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	        "-out leaf.crt -days 2 -extfile leaf.ext && cat leaf.crt ca.crt > chain.crt"),
	    0);
	path_in(c, sizeof c, "chain.crt");
	path_in(k, sizeof k, "leaf.key");
	path_in(ca, sizeof ca, "ca.crt");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf != NULL);
	if (conf != NULL) {
		struct tls_conf *caconf;
		char cak[400];

		CHECK_EQ_INT(tls_conf_chain_len(conf), 2);
		CHECK_EQ_STR(tls_conf_subject(conf), "leaf.example.test");
		/* Shown on the Settings page and by tern acme status as the CA
		 * names itself ("ZeroSSL ECC Domain Secure Site CA"). */
		CHECK_EQ_STR(tls_conf_issuer(conf), "Test CA R2");
		CHECK_EQ_INT(conf->issuer_key_type, BR_KEYTYPE_EC);
		path_in(cak, sizeof cak, "ca.key");
		caconf = tls_conf_load(ca, cak, err, sizeof err);
		CHECK(caconf != NULL);
		if (caconf != NULL) {
			CHECK_EQ_INT(anchor_init(a, &caconf->chain[0], 1), 0);
			CHECK_EQ_INT(handshake(conf, &a->ta, "leaf.example.test", NULL, 0, BR_TLS12,
			                       BR_TLS12, NULL, &r, 10),
			             0);
			CHECK_EQ_STR(r.cipher, fast_aes() ? "ECDHE-RSA-AES128-GCM-SHA256"
			                                  : "ECDHE-RSA-CHACHA20-POLY1305");
			tls_conf_unref(&caconf);
		}
		tls_conf_unref(&conf);
	}

	/* Mismatched pairs: RSA key with RSA cert of another key; EC key with RSA cert. */
	CHECK_EQ_INT(
	    run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key"), 0);
	path_in(c, sizeof c, "rsa.crt");
	path_in(k, sizeof k, "other.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf == NULL);
	CHECK(strstr(err, "does not match") != NULL && strstr(err, "other.key") != NULL);
	path_in(k, sizeof k, "p384.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf == NULL);
	CHECK(strstr(err, "does not match") != NULL);

	/* Encrypted keys are refused with a clear message. */
	CHECK_EQ_INT(run("openssl pkcs8 -topk8 -in p384.key -passout pass:x -out enc.key"), 0);
	path_in(c, sizeof c, "p384.crt");
	path_in(k, sizeof k, "enc.key");
	conf = tls_conf_load(c, k, err, sizeof err);
	CHECK(conf == NULL);
	CHECK(strstr(err, "encrypted") != NULL);
	free(a);
}

static int pem_name_seen(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	snprintf(ctx, 64, "%s/%zu", name, len);
	return 0;
}

/* Banner lines ending in CRLF or blanks (RFC 7468 §2, §3): the label alone. */
static void test_pem_banner_ends(void)
{
	static const char *const texts[] = {
	    "-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----\r\n",
	    "-----BEGIN CERTIFICATE-----  \nAAAA\n-----END CERTIFICATE----- \t\n",
	    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
	};
	char name[64], err[256];
	size_t i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		name[0] = '\0';
		CHECK_EQ_INT(tls_pem_each((const unsigned char *)texts[i], strlen(texts[i]), "t",
		                          pem_name_seen, name, err, sizeof err),
		             1);
		CHECK_EQ_STR(name, "CERTIFICATE/3");
	}
}

static void test_bad_input(void)
{
	char c[400], k[400], g[400], err[512];
	struct tls_conf *conf;
	struct config cfg;
	unsigned char cert[2048], key[256], key2[256], rnd[512];
	size_t clen, klen, klen2;
	char pem[4096];
	size_t i;
	static const char *const garbage[] = {
	    "",
	    "hello world\n",
	    "-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n",
	    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	    "-----BEGIN CERTIFICATE-----\nMIIB\n",
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n",
	};

	/* Two independent self-signed pairs: cert of one, key of the other. */
	CHECK_EQ_INT(tls_selfsigned_make("a.test", time(NULL), cert, sizeof cert, &clen, key,
	                                 sizeof key, &klen),
	             0);
	conf = tls_conf_from_pem(cert, clen, "c", key, klen, "k", err, sizeof err);
	CHECK(conf != NULL);
	tls_conf_unref(&conf);
	CHECK_EQ_INT(tls_selfsigned_make("a.test", time(NULL), rnd, sizeof rnd, &i, key2,
	                                 sizeof key2, &klen2),
	             0);
	conf = tls_conf_from_pem(cert, clen, "c", key2, klen2, "k2", err, sizeof err);
	CHECK(conf == NULL);
	CHECK(strstr(err, "k2: private key does not match the certificate in c") != NULL);

	/* Garbage in every position fails cleanly, naming the source. */
	for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		conf = tls_conf_from_pem(garbage[i], strlen(garbage[i]), "gc", key, klen, "k", err,
		                         sizeof err);
		CHECK(conf == NULL);
		CHECK(strncmp(err, "gc: ", 4) == 0);
		conf = tls_conf_from_pem(cert, clen, "c", garbage[i], strlen(garbage[i]), "gk", err,
		                         sizeof err);
		CHECK(conf == NULL);
		CHECK(strncmp(err, "gk: ", 4) == 0);
	}
	/* Random bytes, and a truncated DER certificate. */
	random_bytes(rnd, sizeof rnd);
	rnd[0] = 0x30;
	CHECK(tls_conf_from_pem(rnd, sizeof rnd, "rc", key, klen, "k", err, sizeof err) == NULL);
	CHECK(tls_conf_from_pem(cert, clen - 1, "tc", key, klen, "k", err, sizeof err) == NULL);
	CHECK(strstr(err, "does not parse") != NULL);
	CHECK(tls_conf_from_pem(cert, clen, "c", key, klen - 1, "tk", err, sizeof err) == NULL);
	/* PEM with the certificate twice and two keys. */
	{
		size_t n = br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
		memcpy(pem + n, pem, n);
		CHECK(tls_conf_from_pem(cert, clen, "c", pem, 2 * n, "kk", err, sizeof err) ==
		      NULL);
		CHECK(strstr(err, "more than one private key") != NULL);
		/* PEM without a trailing newline still loads. */
		n = br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
		CHECK(pem[n - 1] == '\n');
		conf = tls_conf_from_pem(cert, clen, "c", pem, n - 1, "k", err, sizeof err);
		CHECK(conf != NULL);
		tls_conf_unref(&conf);
	}
	/* Too many certificates. */
	{
		size_t n = br_pem_encode(NULL, cert, clen, "CERTIFICATE", 0), j;
		char *many = malloc(n * (TLS_MAX_CHAIN + 1) + 1);
		for (j = 0; j <= TLS_MAX_CHAIN; j++)
			br_pem_encode(many + j * n, cert, clen, "CERTIFICATE", 0);
		CHECK(tls_conf_from_pem(many, n * (TLS_MAX_CHAIN + 1), "mc", key, klen, "k", err,
		                        sizeof err) == NULL);
		CHECK(strstr(err, "more than") != NULL);
		conf = tls_conf_from_pem(many, n * TLS_MAX_CHAIN, "mc", key, klen, "k", err,
		                         sizeof err);
		CHECK(conf != NULL && tls_conf_chain_len(conf) == TLS_MAX_CHAIN);
		tls_conf_unref(&conf);
		free(many);
	}

	/* Files: missing, unreadable (a directory), one of the pair unset. */
	path_in(c, sizeof c, "nope.crt");
	path_in(k, sizeof k, "nope.key");
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", c);
	snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", k);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), -1);
	CHECK(strstr(err, "nope.crt: cannot open") != NULL);
	CHECK(tls_conf_load(tmpdir, k, err, sizeof err) == NULL);
	cfg.tls_key[0] = '\0';
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), -1);
	CHECK(strstr(err, "TERN_TLS_KEY") != NULL);
	memset(&cfg, 0, sizeof cfg); /* no files and no data dir */
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), -1);
	CHECK(strstr(err, "data directory") != NULL);

	/* Reload: a broken file keeps the old conf; a good one replaces it. */
	path_in(g, sizeof g, "live.crt");
	path_in(k, sizeof k, "live.key");
	br_pem_encode(pem, cert, clen, "CERTIFICATE", 0);
	CHECK_EQ_INT(unit_write_file(g, pem, strlen(pem)), 0);
	br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
	CHECK_EQ_INT(unit_write_file(k, pem, strlen(pem)), 0);
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", g);
	snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", k);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	{
		struct tls_conf *old = tls_current(), *cur;
		struct tls_server *ts = malloc(sizeof *ts);

		CHECK(old != NULL && strcmp(tls_conf_subject(old), "a.test") == 0);
		/* A connection in progress holds the old conf across the reload. */
		CHECK_EQ_INT(tls_server_init(ts, old), 0);
		CHECK_EQ_INT(unit_write_file(g, "-----BEGIN CERTIFICATE-----\nAAAA\n", 33), 0);
		CHECK_EQ_INT(tls_reload(err, sizeof err), -1);
		CHECK(strstr(err, "live.crt") != NULL);
		cur = tls_current();
		CHECK(cur == old);
		tls_conf_unref(&cur);

		/* An expired pair (a backup's copied back) or one not yet valid
		 * keeps the current one, which is within its dates. */
		static const struct {
			int64_t at;
			const char *why;
		} dated[] = {{-11LL * 366 * 86400, "expired"}, {2 * 86400, "not valid before"}};
		for (size_t d = 0; d < sizeof dated / sizeof dated[0]; d++) {
			CHECK_EQ_INT(tls_selfsigned_make("c.test", time(NULL) + dated[d].at, cert,
			                                 sizeof cert, &clen, key, sizeof key, &klen),
			             0);
			br_pem_encode(pem, cert, clen, "CERTIFICATE", 0);
			CHECK_EQ_INT(unit_write_file(g, pem, strlen(pem)), 0);
			br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
			CHECK_EQ_INT(unit_write_file(k, pem, strlen(pem)), 0);
			CHECK_EQ_INT(tls_reload(err, sizeof err), -1);
			CHECK(strstr(err, "live.crt") != NULL && strstr(err, dated[d].why) != NULL);
			cur = tls_current();
			CHECK(cur == old);
			tls_conf_unref(&cur);
		}

		CHECK_EQ_INT(tls_selfsigned_make("b.test", time(NULL), cert, sizeof cert, &clen,
		                                 key, sizeof key, &klen),
		             0);
		br_pem_encode(pem, cert, clen, "CERTIFICATE", 0);
		CHECK_EQ_INT(unit_write_file(g, pem, strlen(pem)), 0);
		br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
		CHECK_EQ_INT(unit_write_file(k, pem, strlen(pem)), 0);
		CHECK_EQ_INT(tls_reload(err, sizeof err), 0);
		cur = tls_current();
		CHECK(cur != old && strcmp(tls_conf_subject(cur), "b.test") == 0);
		tls_conf_unref(&cur);
		tls_conf_unref(&old);
		/* ts still owns the old conf: its key is intact until finish. */
		CHECK_EQ_STR(tls_conf_subject(ts->conf), "a.test");
		tls_server_finish(ts);
		free(ts);
	}
}

/* Writes a fresh self-signed pair for host, valid from not_before, to the files g and k. */
static void write_pair(const char *g, const char *k, const char *host, int64_t not_before)
{
	unsigned char cert[2048], key[256];
	size_t clen, klen;
	char pem[4096];

	/* tls_selfsigned_make() dates the certificate an hour before "now". */
	CHECK_EQ_INT(tls_selfsigned_make(host, not_before + 3600, cert, sizeof cert, &clen, key,
	                                 sizeof key, &klen),
	             0);
	br_pem_encode(pem, cert, clen, "CERTIFICATE", 0);
	CHECK_EQ_INT(unit_write_file(g, pem, strlen(pem)), 0);
	br_pem_encode(pem, key, klen, "EC PRIVATE KEY", 0);
	CHECK_EQ_INT(unit_write_file(k, pem, strlen(pem)), 0);
}

/*
 * A renewed pair refused at a reload as not yet valid (the CA's clock a
 * little ahead of ours) is loaded once it is valid, though the files do
 * not change again: before, the check never said so again, and once the
 * certificate in use expired tern served it expired with a valid one on
 * disk.
 */
static void test_reload_when_valid(void)
{
	char g[400], k[400], err[512];
	struct config cfg;
	struct tls_conf *cur;

	path_in(g, sizeof g, "early.crt");
	path_in(k, sizeof k, "early.key");
	write_pair(g, k, "old.test", (int64_t)time(NULL) - 3600);
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", g);
	snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", k);
	CHECK_EQ_INT(tls_init(&cfg, err, sizeof err), 0);
	CHECK_EQ_INT(tls_files_changed(), 0);

	int64_t valid_at = (int64_t)time(NULL) + 2;
	write_pair(g, k, "renewed.test", valid_at);
	CHECK_EQ_INT(tls_files_changed(), 1);
	CHECK_EQ_INT(tls_reload(err, sizeof err), -1);
	CHECK(strstr(err, "not valid before") != NULL);
	CHECK_EQ_INT(tls_files_changed(), 0); /* nothing new, not valid yet */
	cur = tls_current();
	CHECK_EQ_STR(tls_conf_subject(cur), "old.test");
	tls_conf_unref(&cur);

	while ((int64_t)time(NULL) < valid_at)
		sleep(1);
	CHECK_EQ_INT(tls_files_changed(), 2);
	CHECK_EQ_INT(tls_reload(err, sizeof err), 0);
	cur = tls_current();
	CHECK_EQ_STR(tls_conf_subject(cur), "renewed.test");
	tls_conf_unref(&cur);
	CHECK_EQ_INT(tls_files_changed(), 0); /* loaded: nothing waits any more */

	/* A pair refused as expired waits for nothing. */
	write_pair(g, k, "old.test", (int64_t)time(NULL) - 11LL * 366 * 86400);
	CHECK_EQ_INT(tls_files_changed(), 1);
	CHECK_EQ_INT(tls_reload(err, sizeof err), -1);
	CHECK(strstr(err, "expired") != NULL);
	CHECK_EQ_INT(tls_files_changed(), 0);
}

/* A fresh self-signed conf for host (with the acmeIdentifier when id). */
static struct tls_conf *make_conf(const char *host, const unsigned char *id, unsigned char *der,
                                  size_t *der_len)
{
	unsigned char key[512];
	size_t klen;
	char err[256];

	if (tls_selfsigned_make_acme(host, time(NULL), id, der, 2048, der_len, key, sizeof key,
	                             &klen) != 0)
		return NULL;
	return tls_conf_from_pem(der, *der_len, host, key, klen, host, err, sizeof err);
}

/* The conf the server side of the last hs_alpn() ended with (not a reference). */
static const struct tls_conf *hs_last_conf;

/*
 * Client handshake against conf, trusting exactly the certificate in der.
 * With sp: resumes the session in *sp when it has one, and leaves the
 * session the handshake ended with there.
 */
static int hs_alpn_session(struct tls_conf *conf, const unsigned char *der, size_t der_len,
                           const char *name, const char *alpn, br_ssl_session_parameters *sp)
{
	struct anchor a;
	br_x509_certificate xc = {(unsigned char *)der, der_len};
	struct client *c = malloc(sizeof *c);
	struct tls_server *ts = malloc(sizeof *ts);
	const char *names[1] = {alpn};
	int ok = 0;

	if (anchor_init(&a, &xc, 0) != 0 || tls_server_init(ts, conf) != 0) {
		free(c);
		free(ts);
		return 0;
	}
	client_init(c, &a.ta, name, NULL, 0, BR_TLS12, BR_TLS12, 0);
	if (alpn != NULL)
		br_ssl_engine_set_protocol_names(&c->cc.eng, names, 1);
	if (sp != NULL && sp->session_id_len > 0)
		br_ssl_engine_set_session_parameters(&c->cc.eng, sp);
	if (alpn != NULL || (sp != NULL && sp->session_id_len > 0))
		br_ssl_client_reset(&c->cc, name, sp != NULL && sp->session_id_len > 0);
	pump(&c->cc.eng, tls_server_engine(ts));
	ok = (br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_SENDAPP) != 0 &&
	     tls_server_handshake_done(ts);
	if (ok && sp != NULL)
		br_ssl_engine_get_session_parameters(&c->cc.eng, sp);
	hs_last_conf = ts->conf;
	tls_server_finish(ts);
	free(c);
	free(ts);
	return ok;
}

static int hs_alpn(struct tls_conf *conf, const unsigned char *der, size_t der_len,
                   const char *name, const char *alpn)
{
	return hs_alpn_session(conf, der, der_len, name, alpn, NULL);
}

static void test_sni_alpn(void)
{
	unsigned char da[2048], db[2048], dc[2048], id[32];
	size_t la, lb, lc;
	struct tls_conf *a = make_conf("a.example.test", NULL, da, &la);
	struct tls_conf *b = make_conf("b.example.test", NULL, db, &lb);

	memset(id, 0x5a, sizeof id);
	struct tls_conf *c = make_conf("c.example.test", id, dc, &lc);
	CHECK(a != NULL && b != NULL && c != NULL);
	if (a == NULL || b == NULL || c == NULL)
		return;
	/* The acmeIdentifier extension: OID 1.3.6.1.5.5.7.1.31, critical, OCTET STRING(32). */
	static const unsigned char ext[] = {0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07,
	                                    0x01, 0x1F, 0x01, 0x01, 0xFF, 0x04, 0x22, 0x04, 0x20};
	CHECK(memmem(dc, lc, ext, sizeof ext) != NULL);
	CHECK(memmem(dc, lc, id, sizeof id) != NULL);
	CHECK(memmem(da, la, ext, sizeof ext) == NULL);
	/* What the Settings page shows. */
	CHECK(tls_conf_self_signed(a));
	CHECK_EQ_STR(tls_conf_names(a), "a.example.test");
	CHECK_EQ_STR(tls_conf_issuer(a), "a.example.test");

	/* Default conf for every name until b is put under its name. */
	CHECK(hs_alpn(a, da, la, "a.example.test", NULL));
	CHECK(!hs_alpn(a, db, lb, "b.example.test", NULL));
	CHECK(tls_sni_put("B.example.test", b) == 0);
	CHECK(hs_alpn(a, db, lb, "b.example.test", NULL));
	CHECK(hs_alpn(a, da, la, "a.example.test", NULL));
	/* No challenge pending: ALPN is not offered at all, acme-tls/1 is not
	 * negotiated and the handshake is an ordinary one. */
	CHECK(hs_alpn(a, da, la, "a.example.test", TLS_ALPN_ACME));
	CHECK(tls_alpn_challenge_put("c.example.test", c) == 0);
	/* Pending for c: acme-tls/1 for another name gets no handshake. */
	CHECK(!hs_alpn(a, da, la, "a.example.test", TLS_ALPN_ACME));
	/* BearSSL's own client refuses the unknown critical extension, so
	 * the handshake does not finish; the server did pick c (pebble's
	 * validation in the protocol test goes all the way). */
	CHECK(!hs_alpn(a, dc, lc, "c.example.test", TLS_ALPN_ACME));
	CHECK(hs_last_conf == c);
	/*
	 * A client that offers another protocol (Chromium: h2) while the
	 * challenge is pending, then comes back to resume: BearSSL 0.6 resumes
	 * without clearing its "no protocol matched" mark and reads past the
	 * end of the protocol list (a crash of the whole server, seen with
	 * Chromium on the web admin). Handshakes with a protocol list are not
	 * cached, so the second one is a full handshake, and it completes.
	 */
	{
		br_ssl_session_parameters sp;
		memset(&sp, 0, sizeof sp);
		CHECK(hs_alpn_session(a, da, la, "a.example.test", "h2", &sp));
		unsigned char first[32];
		memcpy(first, sp.session_id, sizeof first);
		CHECK(hs_alpn_session(a, da, la, "a.example.test", "h2", &sp));
		CHECK(memcmp(first, sp.session_id, sizeof first) != 0);
	}
	/* Only with acme-tls/1 does the challenge certificate answer. */
	CHECK(!hs_alpn(a, dc, lc, "c.example.test", NULL));
	CHECK(tls_sni_put("b.example.test", NULL) == 0);
	CHECK(!hs_alpn(a, db, lb, "b.example.test", NULL));
	tls_sni_clear();
	tls_conf_unref(&a);
	tls_conf_unref(&b);
	tls_conf_unref(&c);
}

int main(void)
{
	log_init(2, LOG_WARN, 0);
	snprintf(tmpdir, sizeof tmpdir, "%s/tern-tls-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	have_openssl = system("command -v openssl >/dev/null 2>&1") == 0;

	test_dates();
	test_error_text();
	test_make_fixed_date();
	test_selfsigned();
	test_client_address_identity();
	test_openssl_keys();
	test_pem_banner_ends();
	test_bad_input();
	test_reload_when_valid();
	test_sni_alpn();
	tls_shutdown();

	{
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return unit_done("test_tls");
}
