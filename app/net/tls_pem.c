/*
 * tls_pem.c — building a struct tls_conf from PEM/DER certificate and key.
 *
 * BearSSL decodes PEM (br_pem_decoder), certificates (br_x509_decoder) and
 * private keys (br_skey_decoder); this file strings them together, checks
 * that the key belongs to the leaf certificate, and reads the two things
 * BearSSL's decoder does not expose — the subject CN and the validity
 * dates — with a small bounded DER reader.
 */
#include "net/tls_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xalloc.h"

/* One DER object (a certificate or key). */
#define TLS_OBJ_MAX (64 * 1024)

int tls_read_fd(int fd, const char *label, struct buf *out, char *err, size_t errsz)
{
	for (;;) {
		size_t room = buf_room(out), avail;
		char *p;
		ssize_t n;

		if (room == 0) {
			char c;
			while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
				;
			if (n == 0)
				break;
			snprintf(err, errsz, "%s: larger than %d bytes", label, TLS_FILE_MAX);
			return -1;
		}
		p = buf_reserve(out, room < 4096 ? room : 4096, &avail);
		if (p == NULL) {
			snprintf(err, errsz, "%s: larger than %d bytes", label, TLS_FILE_MAX);
			return -1;
		}
		if (avail > room)
			avail = room;
		n = read(fd, p, avail);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "%s: cannot read: %s", label, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		buf_commit(out, (size_t)n);
	}
	return 0;
}

int tls_read_file(const char *path, struct buf *out, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	int rc = tls_read_fd(fd, path, out, err, errsz);
	close(fd);
	return rc;
}


struct pem_sink {
	struct buf der;
	int overflow;
};

static void pem_sink_append(void *ctx, const void *data, size_t len)
{
	struct pem_sink *s = ctx;
	if (buf_append(&s->der, data, len) < 0)
		s->overflow = 1;
}

/*
 * A banner's label without the dashes and blanks that may follow it.
 * BearSSL 0.6 trims the closing dashes only when they end the line: a
 * CRLF line end or blanks after them (both allowed, RFC 7468 §2 and §3's
 * laxtextualmsg) leave them in the name, and a certificate file saved on
 * Windows had no CERTIFICATE block.
 */
static void pem_name_trim(char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == '-' || name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	name[n] = '\0';
}

int tls_pem_each(const unsigned char *data, size_t len, const char *label, tls_pem_obj_fn *fn,
                    void *ctx, char *err, size_t errsz)
{
	br_pem_decoder_context pc;
	struct pem_sink sink;
	char name[128] = "";
	int inobj = 0, count = 0, rc = 0, tail = 0;

	buf_init(&sink.der, TLS_OBJ_MAX);
	/* Key bytes: wiped wherever the buffer leaves them (core/buf.h). */
	buf_set_secret(&sink.der);
	sink.overflow = 0;
	br_pem_decoder_init(&pc);
	/*
	 * The decoder only finishes a line at its newline, so one "\n" is
	 * pushed after the data for files whose last line lacks one.
	 */
	while (rc == 0 && (len > 0 || !tail)) {
		size_t n;

		if (len == 0) {
			data = (const unsigned char *)"\n";
			len = 1;
			tail = 1;
		}
		n = br_pem_decoder_push(&pc, data, len);
		data += n;
		len -= n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
			pem_name_trim(name);
			buf_reset(&sink.der);
			sink.overflow = 0;
			br_pem_decoder_setdest(&pc, pem_sink_append, &sink);
			inobj = 1;
			break;
		case BR_PEM_END_OBJ:
			inobj = 0;
			if (sink.overflow) {
				snprintf(err, errsz, "%s: PEM block %s larger than %d bytes", label,
				         name, TLS_OBJ_MAX);
				rc = -1;
				break;
			}
			count++;
			if (fn(ctx, name, (const unsigned char *)buf_data(&sink.der),
			       buf_len(&sink.der)) < 0)
				rc = -1;
			break;
		case BR_PEM_ERROR:
			snprintf(err, errsz, "%s: malformed PEM", label);
			rc = -1;
			break;
		default:
			break;
		}
	}
	if (rc == 0 && inobj) {
		snprintf(err, errsz, "%s: truncated PEM block %s", label, name);
		rc = -1;
	}
	buf_free(&sink.der);
	explicit_bzero(&pc, sizeof pc);
	return rc < 0 ? -1 : count;
}

int tls_looks_pem(const unsigned char *data, size_t len)
{
	static const char mark[] = "-----BEGIN ";
	size_t i;

	if (len < sizeof mark - 1)
		return 0;
	for (i = 0; i + sizeof mark - 1 <= len; i++)
		if (memcmp(data + i, mark, sizeof mark - 1) == 0)
			return 1;
	return 0;
}

/*
 * Small DER reader: one TLV at a time, definite lengths up to 4 bytes,
 * never reading past in.
 */
struct der {
	const unsigned char *p;
	size_t len;
};

static int der_next(struct der *in, unsigned *tag_r, struct der *val_r)
{
	size_t off = 2, l;

	if (in->len < 2)
		return -1;
	if ((in->p[0] & 0x1F) == 0x1F) /* multi-byte tags never occur where we look */
		return -1;
	l = in->p[1];
	if (l & 0x80) {
		size_t i, n = l & 0x7F;
		if (n == 0 || n > 4 || in->len < 2 + n)
			return -1;
		l = 0;
		for (i = 0; i < n; i++)
			l = (l << 8) | in->p[2 + i];
		off += n;
	}
	if (l > in->len - off)
		return -1;
	*tag_r = in->p[0];
	val_r->p = in->p + off;
	val_r->len = l;
	in->p += off + l;
	in->len -= off + l;
	return 0;
}

int tls_der_next(const unsigned char **p, size_t *len, unsigned *tag_r,
                 const unsigned char **val_r, size_t *vlen_r)
{
	struct der in = {*p, *len}, v;

	if (der_next(&in, tag_r, &v) < 0)
		return -1;
	*p = in.p;
	*len = in.len;
	*val_r = v.p;
	*vlen_r = v.len;
	return 0;
}

int64_t tls_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Count from 1 March so the leap day is the last of the year. */
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const unsigned char *p, size_t n, unsigned *v_r)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* UTCTime (tag 0x17) or GeneralizedTime (0x18), DER form ending in Z. */
static int der_time(unsigned tag, struct der v, int64_t *t_r)
{
	unsigned y, mo, d, h, mi, s;
	const unsigned char *p = v.p;

	if (tag == 0x17 && v.len == 13 && p[12] == 'Z') {
		if (digits(p, 2, &y))
			return -1;
		y += y < 50 ? 2000 : 1900;
		p += 2;
	} else if (tag == 0x18 && v.len == 15 && p[14] == 'Z') {
		if (digits(p, 4, &y))
			return -1;
		p += 4;
	} else {
		return -1;
	}
	if (digits(p, 2, &mo) || digits(p + 2, 2, &d) || digits(p + 4, 2, &h) ||
	    digits(p + 6, 2, &mi) || digits(p + 8, 2, &s))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	*t_r = tls_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

int tls_der_time(unsigned tag, const unsigned char *p, size_t len, int64_t *t_r)
{
	struct der v = {p, len};

	return der_time(tag, v, t_r);
}

/* The last CN of a DN, as printable ASCII (spaces kept: CAs name themselves in words). */
static void dn_cn(struct der dn, char *out, size_t outsz)
{
	static const unsigned char oid_cn[] = {0x55, 0x04, 0x03};

	out[0] = '\0';
	while (dn.len > 0) {
		struct der set, atv, oid, val;
		unsigned tag;

		if (der_next(&dn, &tag, &set) || tag != 0x31)
			return;
		while (set.len > 0) {
			size_t i, n;

			if (der_next(&set, &tag, &atv) || tag != 0x30)
				return;
			if (der_next(&atv, &tag, &oid) || tag != 0x06)
				return;
			if (der_next(&atv, &tag, &val))
				return;
			if (oid.len != sizeof oid_cn || memcmp(oid.p, oid_cn, sizeof oid_cn) != 0)
				continue;
			/* UTF8String, PrintableString, T61String, IA5String */
			if (tag != 0x0C && tag != 0x13 && tag != 0x14 && tag != 0x16)
				continue;
			n = val.len < outsz - 1 ? val.len : outsz - 1;
			for (i = 0; i < n; i++)
				out[i] = val.p[i] >= 0x20 && val.p[i] < 0x7F ? (char)val.p[i] : '?';
			out[n] = '\0';
		}
	}
}

/* The GeneralNames of the subjectAltName in [3] extensions (*names_r):
 * 0, or -1 when there is none or it does not parse. */
static int san_seq(struct der ext3, struct der *names_r)
{
	static const unsigned char oid_san[] = {0x55, 0x1D, 0x11};
	struct der exts, ext, oid, val;
	unsigned tag;

	if (der_next(&ext3, &tag, &exts) || tag != 0x30)
		return -1;
	while (exts.len > 0) {
		if (der_next(&exts, &tag, &ext) || tag != 0x30 || der_next(&ext, &tag, &oid) ||
		    tag != 0x06)
			return -1;
		if (oid.len != sizeof oid_san || memcmp(oid.p, oid_san, sizeof oid_san) != 0)
			continue;
		if (der_next(&ext, &tag, &val))
			return -1;
		if (tag == 0x01 && der_next(&ext, &tag, &val)) /* critical */
			return -1;
		if (tag != 0x04 || der_next(&val, &tag, names_r) || tag != 0x30)
			return -1;
		return 0;
	}
	return -1;
}

/* The dNSNames of the subjectAltName in [3] extensions, comma-separated, printable ASCII. */
static void san_names(struct der ext3, char *out, size_t outsz)
{
	struct der names, name;
	unsigned tag;
	size_t o = 0;

	if (san_seq(ext3, &names) < 0)
		return;
	while (names.len > 0 && der_next(&names, &tag, &name) == 0) {
		if (tag != 0x82 || o + name.len + 2 >= outsz)
			continue;
		if (o > 0)
			out[o++] = ',';
		for (size_t i = 0; i < name.len; i++)
			out[o++] = name.p[i] > 0x20 && name.p[i] < 0x7F ? (char)name.p[i] : '?';
		out[o] = '\0';
	}
}

/* A certificate's issuer DN (*issuer_r), and its TBSCertificate from
 * just after the issuer on (*tbs_r). 0, or -1 when it does not parse. */
static int cert_issuer(const unsigned char *data, size_t len, struct der *tbs_r,
                       struct der *issuer_r)
{
	struct der in = {data, len}, cert, v;
	unsigned tag;

	if (der_next(&in, &tag, &cert) || tag != 0x30)
		return -1;
	if (der_next(&cert, &tag, tbs_r) || tag != 0x30)
		return -1;
	if (der_next(tbs_r, &tag, &v))
		return -1;
	if (tag == 0xA0 && der_next(tbs_r, &tag, &v)) /* explicit version, then serial */
		return -1;
	if (tag != 0x02)
		return -1;
	if (der_next(tbs_r, &tag, &v) || tag != 0x30) /* signature algorithm */
		return -1;
	if (der_next(tbs_r, &tag, issuer_r) || tag != 0x30)
		return -1;
	return 0;
}

/* Subject and issuer CN, validity and names of a certificate. */
static int cert_info(const unsigned char *data, size_t len, struct tls_conf *conf)
{
	struct der tbs, v, validity, issuer;
	unsigned tag;

	if (cert_issuer(data, len, &tbs, &issuer) < 0)
		return -1;
	if (der_next(&tbs, &tag, &validity) || tag != 0x30)
		return -1;
	if (der_next(&validity, &tag, &v) || der_time(tag, v, &conf->not_before))
		return -1;
	if (der_next(&validity, &tag, &v) || der_time(tag, v, &conf->not_after))
		return -1;
	if (der_next(&tbs, &tag, &v) || tag != 0x30) /* subject */
		return -1;
	dn_cn(v, conf->subject, sizeof conf->subject);
	dn_cn(issuer, conf->issuer, sizeof conf->issuer);
	conf->self_signed = issuer.len == v.len && memcmp(issuer.p, v.p, v.len) == 0;
	conf->names[0] = '\0';
	/* subjectPublicKeyInfo, optional unique IDs, then [3] extensions. */
	while (tbs.len > 0 && der_next(&tbs, &tag, &v) == 0) {
		if (tag == 0xA3) {
			san_names(v, conf->names, sizeof conf->names);
			break;
		}
	}
	return 0;
}

int tls_cert_san(const unsigned char *cert, size_t len, const unsigned char **names_r,
                 size_t *nlen_r)
{
	struct der tbs, v, issuer, names;
	unsigned tag;

	if (cert_issuer(cert, len, &tbs, &issuer) < 0)
		return -1;
	/* validity, subject, subjectPublicKeyInfo, optional unique IDs, then [3]. */
	while (tbs.len > 0 && der_next(&tbs, &tag, &v) == 0) {
		if (tag != 0xA3)
			continue;
		if (san_seq(v, &names) < 0)
			return -1;
		*names_r = names.p;
		*nlen_r = names.len;
		return 0;
	}
	return -1;
}

/* Collects certificates: DER bytes back to back plus their lengths. */
struct chain_acc {
	struct buf der;
	size_t lens[TLS_MAX_CHAIN];
	size_t n;
	const char *label;
	char *err;
	size_t errsz;
};

static int chain_add(struct chain_acc *acc, const unsigned char *der, size_t len)
{
	if (acc->n == TLS_MAX_CHAIN) {
		snprintf(acc->err, acc->errsz, "%s: more than %d certificates", acc->label,
		         TLS_MAX_CHAIN);
		return -1;
	}
	if (buf_append(&acc->der, der, len) < 0) {
		snprintf(acc->err, acc->errsz, "%s: certificates too large", acc->label);
		return -1;
	}
	acc->lens[acc->n++] = len;
	return 0;
}

static int chain_obj(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0)
		return 0; /* keys and parameters may share the file */
	return chain_add(ctx, der, len);
}

/* Collects the one private key. */
struct key_acc {
	br_skey_decoder_context dc;
	int found;
	const char *label;
	char *err;
	size_t errsz;
};

static int key_obj(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct key_acc *acc = ctx;
	int e;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		snprintf(acc->err, acc->errsz, "%s: encrypted private keys are not supported",
		         acc->label);
		return -1;
	}
	if (strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0 &&
	    strcmp(name, "PRIVATE KEY") != 0 && name[0] != '\0')
		return 0;
	if (acc->found) {
		snprintf(acc->err, acc->errsz, "%s: more than one private key", acc->label);
		return -1;
	}
	br_skey_decoder_init(&acc->dc);
	br_skey_decoder_push(&acc->dc, der, len);
	e = br_skey_decoder_last_error(&acc->dc);
	if (e != 0) {
		snprintf(acc->err, acc->errsz,
		         "%s: unsupported or malformed private key (BearSSL error %d)", acc->label,
		         e);
		return -1;
	}
	acc->found = 1;
	return 0;
}

/* Frees a conf being built or whose last reference went. */
static void conf_free(struct tls_conf *conf)
{
	if (conf == NULL)
		return;
	if (conf->key_data != NULL) {
		explicit_bzero(conf->key_data, conf->key_data_len);
		free(conf->key_data);
	}
	explicit_bzero(&conf->key, sizeof conf->key);
	free(conf->chain);
	free(conf->cert_data);
	free(conf);
}

/* Copies the decoded private key into conf->key_data. */
static void conf_set_key(struct tls_conf *conf, const br_skey_decoder_context *dc)
{
	if (br_skey_decoder_key_type(dc) == BR_KEYTYPE_EC) {
		const br_ec_private_key *sk = br_skey_decoder_get_ec(dc);

		conf->key_type = BR_KEYTYPE_EC;
		conf->key_data_len = sk->xlen;
		conf->key_data = xmalloc(sk->xlen);
		memcpy(conf->key_data, sk->x, sk->xlen);
		conf->key.ec.curve = sk->curve;
		conf->key.ec.x = conf->key_data;
		conf->key.ec.xlen = sk->xlen;
	} else {
		const br_rsa_private_key *sk = br_skey_decoder_get_rsa(dc);
		br_rsa_private_key *k = &conf->key.rsa;
		unsigned char *p;

		conf->key_type = BR_KEYTYPE_RSA;
		conf->key_data_len = sk->plen + sk->qlen + sk->dplen + sk->dqlen + sk->iqlen;
		p = conf->key_data = xmalloc(conf->key_data_len);
		k->n_bitlen = sk->n_bitlen;
#define COPY(f)                                                                                    \
	do {                                                                                       \
		memcpy(p, sk->f, sk->f##len);                                                      \
		k->f = p;                                                                          \
		k->f##len = sk->f##len;                                                            \
		p += sk->f##len;                                                                   \
	} while (0)
		COPY(p);
		COPY(q);
		COPY(dp);
		COPY(dq);
		COPY(iq);
#undef COPY
	}
}

static const char *curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1:
		return "p256";
	case BR_EC_secp384r1:
		return "p384";
	case BR_EC_secp521r1:
		return "p521";
	default:
		return NULL;
	}
}

/* Strips leading zero bytes of a big-endian integer. */
static void strip_zeros(const unsigned char **p, size_t *len)
{
	while (*len > 0 && **p == 0) {
		(*p)++;
		(*len)--;
	}
}

/*
 * Checks the private key against the leaf's public key, which the X.509
 * decoder extracted. Both must be of one type and describe one key.
 */
static int key_matches(const struct tls_conf *conf, const br_x509_pkey *pk, const char *cert_label,
                       const char *key_label, char *err, size_t errsz)
{
	if (pk->key_type != conf->key_type) {
		snprintf(err, errsz, "%s: %s key does not match the %s certificate in %s",
		         key_label, conf->key_type == BR_KEYTYPE_EC ? "EC" : "RSA",
		         pk->key_type == BR_KEYTYPE_EC ? "EC" : "RSA", cert_label);
		return -1;
	}
	if (conf->key_type == BR_KEYTYPE_EC) {
		const br_ec_impl *ec = br_ec_get_default();
		unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
		size_t qlen;

		if (curve_name(conf->key.ec.curve) == NULL ||
		    !((ec->supported_curves >> conf->key.ec.curve) & 1)) {
			snprintf(err, errsz, "%s: unsupported EC curve %d", key_label,
			         conf->key.ec.curve);
			return -1;
		}
		qlen = br_ec_compute_pub(ec, NULL, q, &conf->key.ec);
		if (qlen == 0 || pk->key.ec.curve != conf->key.ec.curve ||
		    qlen != pk->key.ec.qlen || memcmp(q, pk->key.ec.q, qlen) != 0) {
			snprintf(err, errsz, "%s: private key does not match the certificate in %s",
			         key_label, cert_label);
			return -1;
		}
	} else {
		br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
		unsigned char n[4096 / 8 + 1]; /* BearSSL does RSA up to 4096 bits */
		const unsigned char *a = n, *b = pk->key.rsa.n;
		size_t alen, blen = pk->key.rsa.nlen;

		alen = modulus(NULL, &conf->key.rsa);
		if (alen == 0 || alen > sizeof n || modulus(n, &conf->key.rsa) != alen) {
			snprintf(err, errsz, "%s: invalid RSA private key", key_label);
			return -1;
		}
		strip_zeros(&a, &alen);
		strip_zeros(&b, &blen);
		if (alen != blen || memcmp(a, b, alen) != 0) {
			snprintf(err, errsz, "%s: private key does not match the certificate in %s",
			         key_label, cert_label);
			return -1;
		}
	}
	return 0;
}

/* Decodes every certificate; fills in the leaf's details; checks the key. */
static int conf_check(struct tls_conf *conf, const char *cert_label, const char *key_label,
                      char *err, size_t errsz)
{
	br_x509_decoder_context *xd = xmalloc(sizeof *xd);
	int rc = -1;
	size_t i;

	for (i = 0; i < conf->chain_len; i++) {
		int e;

		br_x509_decoder_init(xd, NULL, NULL);
		br_x509_decoder_push(xd, conf->chain[i].data, conf->chain[i].data_len);
		e = br_x509_decoder_last_error(xd);
		if (e != 0) {
			snprintf(err, errsz,
			         "%s: certificate %zu does not parse (BearSSL error %d)",
			         cert_label, i + 1, e);
			goto out;
		}
		if (i > 0 && i + 1 == conf->chain_len) {
			/* The topmost certificate's issuer: the root the chain leads to. */
			struct der tbs, issuer;
			if (cert_issuer(conf->chain[i].data, conf->chain[i].data_len, &tbs,
			                &issuer) == 0)
				dn_cn(issuer, conf->top_issuer, sizeof conf->top_issuer);
		}
		if (i > 0)
			continue;
		/* The leaf: its key must be ours. */
		conf->issuer_key_type = (unsigned)br_x509_decoder_get_signer_key_type(xd);
		if (key_matches(conf, br_x509_decoder_get_pkey(xd), cert_label, key_label, err,
		                errsz) < 0)
			goto out;
		if (cert_info(conf->chain[0].data, conf->chain[0].data_len, conf) < 0) {
			snprintf(err, errsz, "%s: cannot read the certificate's subject or dates",
			         cert_label);
			goto out;
		}
		if (conf->chain_len == 1)
			memcpy(conf->top_issuer, conf->issuer, sizeof conf->top_issuer);
	}
	if (conf->issuer_key_type != BR_KEYTYPE_RSA && conf->issuer_key_type != BR_KEYTYPE_EC)
		conf->issuer_key_type = (unsigned)conf->key_type; /* only matters for static ECDH */
	if (conf->key_type == BR_KEYTYPE_EC)
		snprintf(conf->key_desc, sizeof conf->key_desc, "ec-%s",
		         curve_name(conf->key.ec.curve));
	else
		snprintf(conf->key_desc, sizeof conf->key_desc, "rsa-%u",
		         (unsigned)conf->key.rsa.n_bitlen);
	rc = 0;
out:
	free(xd); /* public data only */
	return rc;
}

struct tls_conf *tls_conf_from_pem(const void *cert, size_t cert_len, const char *cert_name,
                                   const void *key, size_t key_len, const char *key_name, char *err,
                                   size_t errsz)
{
	struct chain_acc chain = {.label = cert_name, .err = err, .errsz = errsz};
	struct key_acc *ka = xcalloc(1, sizeof *ka);
	struct tls_conf *conf = xcalloc(1, sizeof *conf);
	size_t i, off;
	int n;

	atomic_init(&conf->refs, 1);
	snprintf(conf->source, sizeof conf->source, "%s", cert_name);
	buf_init(&chain.der, (size_t)TLS_MAX_CHAIN * TLS_OBJ_MAX);

	/* Step 1: the chain, leaf first, in file order. */
	if (tls_looks_pem(cert, cert_len)) {
		n = tls_pem_each(cert, cert_len, cert_name, chain_obj, &chain, err, errsz);
		if (n < 0)
			goto fail;
	} else if (cert_len > 0 && ((const unsigned char *)cert)[0] == 0x30) {
		if (chain_add(&chain, cert, cert_len) < 0)
			goto fail;
	} else {
		snprintf(err, errsz, "%s: neither PEM nor DER", cert_name);
		goto fail;
	}
	if (chain.n == 0) {
		snprintf(err, errsz, "%s: no CERTIFICATE block", cert_name);
		goto fail;
	}

	/* Step 2: the key. */
	ka->label = key_name;
	ka->err = err;
	ka->errsz = errsz;
	if (tls_looks_pem(key, key_len)) {
		n = tls_pem_each(key, key_len, key_name, key_obj, ka, err, errsz);
		if (n < 0)
			goto fail;
	} else if (key_len > 0 && ((const unsigned char *)key)[0] == 0x30) {
		if (key_obj(ka, "", key, key_len) < 0)
			goto fail;
	} else {
		snprintf(err, errsz, "%s: neither PEM nor DER", key_name);
		goto fail;
	}
	if (!ka->found) {
		snprintf(err, errsz, "%s: no PRIVATE KEY block", key_name);
		goto fail;
	}
	conf_set_key(conf, &ka->dc);

	/* Step 3: own the certificates. */
	conf->chain_len = chain.n;
	conf->chain = xcalloc(chain.n, sizeof *conf->chain);
	conf->cert_data = xmalloc(buf_len(&chain.der));
	memcpy(conf->cert_data, buf_data(&chain.der), buf_len(&chain.der));
	for (i = 0, off = 0; i < chain.n; i++) {
		conf->chain[i].data = conf->cert_data + off;
		conf->chain[i].data_len = chain.lens[i];
		off += chain.lens[i];
	}

	/* Step 4: everything parses and the key is the leaf's. */
	if (conf_check(conf, cert_name, key_name, err, errsz) < 0)
		goto fail;
	buf_free(&chain.der);
	explicit_bzero(ka, sizeof *ka);
	free(ka);
	return conf;
fail:
	buf_free(&chain.der);
	explicit_bzero(ka, sizeof *ka);
	free(ka);
	conf_free(conf);
	return NULL;
}

struct tls_conf *tls_conf_load(const char *cert_path, const char *key_path, char *err, size_t errsz)
{
	struct buf cert, key;
	struct tls_conf *conf = NULL;

	buf_init(&cert, TLS_FILE_MAX);
	buf_init(&key, TLS_FILE_MAX);
	buf_set_secret(&key);
	if (tls_read_file(cert_path, &cert, err, errsz) == 0 &&
	    tls_read_file(key_path, &key, err, errsz) == 0)
		conf = tls_conf_from_pem(buf_data(&cert), buf_len(&cert), cert_path, buf_data(&key),
		                         buf_len(&key), key_path, err, errsz);
	buf_free(&cert);
	buf_free(&key);
	return conf;
}

struct tls_conf *tls_conf_ref(struct tls_conf *conf)
{
	atomic_fetch_add_explicit(&conf->refs, 1, memory_order_relaxed);
	return conf;
}

void tls_conf_unref(struct tls_conf **confp)
{
	struct tls_conf *conf;

	if (confp == NULL || *confp == NULL)
		return;
	conf = *confp;
	*confp = NULL;
	if (atomic_fetch_sub_explicit(&conf->refs, 1, memory_order_acq_rel) == 1)
		conf_free(conf);
}

const char *tls_conf_subject(const struct tls_conf *conf)
{
	return conf->subject;
}

const char *tls_conf_key_desc(const struct tls_conf *conf)
{
	return conf->key_desc;
}

int tls_conf_key_type(const struct tls_conf *conf)
{
	return conf->key_type;
}

size_t tls_conf_chain_len(const struct tls_conf *conf)
{
	return conf->chain_len;
}

int64_t tls_conf_not_before(const struct tls_conf *conf)
{
	return conf->not_before;
}

int64_t tls_conf_not_after(const struct tls_conf *conf)
{
	return conf->not_after;
}

const char *tls_conf_issuer(const struct tls_conf *conf)
{
	return conf->issuer;
}

const char *tls_conf_top_issuer(const struct tls_conf *conf)
{
	return conf->top_issuer;
}

const char *tls_conf_names(const struct tls_conf *conf)
{
	return conf->names;
}

int tls_conf_self_signed(const struct tls_conf *conf)
{
	return conf->self_signed;
}

const char *tls_conf_source(const struct tls_conf *conf)
{
	return conf->source;
}
