/*
 * smime.c — a user's S/MIME certificate, and messages enveloped to it for
 * encryption at rest (RFC 5652 CMS EnvelopedData, RFC 8551 S/MIME 4.0).
 *
 * Reading: the certificate (RFC 5280 §4.1) is walked with net/'s bounded
 * DER reader, tls_der_next(), which checks every length against what is
 * left and never reads past its input. The nesting is followed by hand,
 * one function per level that matters (certificate, SubjectPublicKeyInfo,
 * extensions, names), so the depth is fixed by the code and no input
 * drives recursion. BearSSL's X.509 decoder is not used: it gives the key
 * but neither the issuer nor the serial, and one walker reads it all.
 *
 * Writing: AES-CBC (RFC 3565 §2.3 aes128-CBC, aes256-CBC) because RFC
 * 8551 §2.7 makes it what every receiving agent supports, while
 * AuthEnvelopedData/AES-GCM (RFC 5083, RFC 5084) is not read by Apple
 * Mail nor older Thunderbird; the key goes to the recipient by
 * RSAES-PKCS1-v1_5 (RFC 8017 §7.2.1, RFC 8551 §2.7.1 "MUST support"),
 * padded and raised to e (crypt_prim.h, shared with OpenPGP). The
 * lengths of every element are computed first (the ciphertext's is the
 * entity's padded to the block), so the ContentInfo is written front to
 * back to a sink as it is made: its head, then the entity encrypted in
 * 4 KiB CBC runs; no copy of a large message is held, and the DER
 * length forms are right for any size (net/der_w.c moves content to fit
 * each length once known, fine for certificates, not for tens of MB).
 */
#include "crypt/smime.h"

#include <bearssl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "crypt/crypt_prim.h"
#include "net/tls_private.h"

/* ---- reading */

/* One DER element: tag, content, and the whole TLV it came from. */
struct tlv {
	unsigned tag;
	const unsigned char *p; /* content */
	size_t len;
	const unsigned char *whole; /* tag, length and content */
	size_t whole_len;
};

/* A cursor over a sequence of elements. */
struct cur {
	const unsigned char *p;
	size_t len;
};

#define TAG_ANY 0x100u

/* The next element of in into *t, of tag want (or any tag). 0 or -1. */
static int take(struct cur *in, unsigned want, struct tlv *t)
{
	const unsigned char *start = in->p;

	if (tls_der_next(&in->p, &in->len, &t->tag, &t->p, &t->len) < 0)
		return -1;
	if (want != TAG_ANY && t->tag != want)
		return -1;
	t->whole = start;
	t->whole_len = (size_t)(in->p - start);
	return 0;
}

static struct cur inside(const struct tlv *t)
{
	return (struct cur){t->p, t->len};
}

static int oid_is(const struct tlv *t, const unsigned char *oid, size_t n)
{
	return t->tag == 0x06 && t->len == n && memcmp(t->p, oid, n) == 0;
}

static const unsigned char OID_RSA[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const unsigned char OID_RSA_PSS[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A};
static const unsigned char OID_EC[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const unsigned char OID_ED25519[] = {0x2B, 0x65, 0x70};
static const unsigned char OID_ED448[] = {0x2B, 0x65, 0x71};
static const unsigned char OID_DSA[] = {0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01};
static const unsigned char OID_EMAIL[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01};
static const unsigned char OID_SAN[] = {0x55, 0x1D, 0x11};

/* What the parse found, pointing into the DER, before it is copied. */
struct found {
	struct tlv issuer, serial;
	const unsigned char *n, *e;
	size_t nlen, elen;
	unsigned bits;
	int64_t not_after;
	char email[sizeof((struct smime_cert *)0)->email];
};

static int fail(char *err, size_t errsz, const char *what)
{
	if (errsz > 0)
		snprintf(err, errsz, "%s", what);
	return -1;
}

static int malformed(char *err, size_t errsz, const char *part)
{
	if (errsz > 0)
		snprintf(err, errsz, "not a valid X.509 certificate: malformed %s", part);
	return -1;
}

/* Copies an address made of printable ASCII that fits; else leaves out alone. */
static void email_set(char *out, size_t outsz, const struct tlv *v)
{
	size_t i;

	if (out[0] != '\0' || v->len == 0 || v->len >= outsz)
		return;
	for (i = 0; i < v->len; i++)
		if (v->p[i] <= 0x20 || v->p[i] >= 0x7F)
			return;
	memcpy(out, v->p, v->len);
	out[v->len] = '\0';
}

/* An INTEGER's content as an unsigned big-endian number, no leading zero;
 * -1 for an empty or negative one, or zero. */
static int positive(const struct tlv *t, const unsigned char **p_r, size_t *len_r)
{
	const unsigned char *p = t->p;
	size_t n = t->len;

	if (t->tag != 0x02 || n == 0 || (p[0] & 0x80))
		return -1;
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n == 0)
		return -1;
	*p_r = p;
	*len_r = n;
	return 0;
}

static unsigned bit_length(const unsigned char *p, size_t n)
{
	unsigned b = 0, top = p[0];

	while (top) {
		b++;
		top >>= 1;
	}
	return (unsigned)((n - 1) * 8) + b;
}

/* SubjectPublicKeyInfo: an RSA key of an accepted size, or a clear refusal. */
static int read_spki(const struct tlv *spki, struct found *f, char *err, size_t errsz)
{
	struct cur in = inside(spki), alg_in, bits_in, key_in;
	struct tlv alg, oid, bits, key, n, e;
	const char *kind;

	if (take(&in, 0x30, &alg) < 0 || take(&in, 0x03, &bits) < 0 || in.len != 0)
		return malformed(err, errsz, "subject public key");
	alg_in = inside(&alg);
	if (take(&alg_in, 0x06, &oid) < 0)
		return malformed(err, errsz, "subject public key algorithm");
	if (!oid_is(&oid, OID_RSA, sizeof OID_RSA)) {
		if (oid_is(&oid, OID_EC, sizeof OID_EC))
			kind = "an EC key";
		else if (oid_is(&oid, OID_RSA_PSS, sizeof OID_RSA_PSS))
			kind = "an RSA-PSS key, which is for signatures only";
		else if (oid_is(&oid, OID_ED25519, sizeof OID_ED25519) ||
		         oid_is(&oid, OID_ED448, sizeof OID_ED448))
			kind = "an EdDSA key";
		else if (oid_is(&oid, OID_DSA, sizeof OID_DSA))
			kind = "a DSA key";
		else
			kind = "of an unknown type";
		if (errsz > 0)
			snprintf(
			    err, errsz,
			    "the certificate's key is not RSA (it is %s): only RSA certificates "
			    "can be used for S/MIME encryption here",
			    kind);
		return -1;
	}
	/* RSAPublicKey (RFC 8017 §A.1.1) inside a BIT STRING of whole octets. */
	if (bits.len < 1 || bits.p[0] != 0)
		return malformed(err, errsz, "RSA public key");
	bits_in = (struct cur){bits.p + 1, bits.len - 1};
	if (take(&bits_in, 0x30, &key) < 0 || bits_in.len != 0)
		return malformed(err, errsz, "RSA public key");
	key_in = inside(&key);
	if (take(&key_in, 0x02, &n) < 0 || take(&key_in, 0x02, &e) < 0 || key_in.len != 0 ||
	    positive(&n, &f->n, &f->nlen) < 0 || positive(&e, &f->e, &f->elen) < 0)
		return malformed(err, errsz, "RSA public key");
	/* An even modulus or exponent, e = 1 or e >= n: no RSA key. */
	if (!(f->n[f->nlen - 1] & 1) || !(f->e[f->elen - 1] & 1) ||
	    (f->elen == 1 && f->e[0] == 1) || f->elen >= f->nlen)
		return fail(err, errsz, "the certificate's RSA key is invalid");
	f->bits = bit_length(f->n, f->nlen);
	if (f->bits < SMIME_RSA_MIN_BITS) {
		if (errsz > 0)
			snprintf(err, errsz,
			         "the certificate's RSA key is shorter than %d bits (it has %u): "
			         "too weak to protect mail",
			         SMIME_RSA_MIN_BITS, f->bits);
		return -1;
	}
	if (f->bits > SMIME_RSA_MAX_BITS) {
		if (errsz > 0)
			snprintf(err, errsz,
			         "the certificate's RSA key is longer than %d bits (it has %u): "
			         "not supported here",
			         SMIME_RSA_MAX_BITS, f->bits);
		return -1;
	}
	return 0;
}

/* The first rfc822Name of a subjectAltName extension's value. */
static int read_san(const struct tlv *value, struct found *f)
{
	struct cur in = inside(value), names_in;
	struct tlv names, name;

	if (take(&in, 0x30, &names) < 0 || in.len != 0)
		return -1;
	names_in = inside(&names);
	while (names_in.len > 0) {
		if (take(&names_in, TAG_ANY, &name) < 0)
			return -1;
		if (name.tag == 0x81) /* [1] IMPLICIT IA5String rfc822Name */
			email_set(f->email, sizeof f->email, &name);
	}
	return 0;
}

/* [3] Extensions: each well formed; subjectAltName read. */
static int read_extensions(const struct tlv *ext3, struct found *f)
{
	struct cur in = inside(ext3), list;
	struct tlv exts, ext, oid, v;

	if (take(&in, 0x30, &exts) < 0 || in.len != 0)
		return -1;
	list = inside(&exts);
	while (list.len > 0) {
		struct cur e_in;

		if (take(&list, 0x30, &ext) < 0)
			return -1;
		e_in = inside(&ext);
		if (take(&e_in, 0x06, &oid) < 0 || take(&e_in, TAG_ANY, &v) < 0)
			return -1;
		if (v.tag == 0x01 && take(&e_in, TAG_ANY, &v) < 0) /* critical */
			return -1;
		if (v.tag != 0x04 || e_in.len != 0)
			return -1;
		if (oid_is(&oid, OID_SAN, sizeof OID_SAN) && read_san(&v, f) < 0)
			return -1;
	}
	return 0;
}

/* A Name: SEQUENCE OF SET OF AttributeTypeAndValue; emailAddress read. */
static int read_subject(const struct tlv *name, struct found *f)
{
	struct cur in = inside(name);
	struct tlv rdn, atv, oid, v;

	while (in.len > 0) {
		struct cur set;

		if (take(&in, 0x31, &rdn) < 0)
			return -1;
		set = inside(&rdn);
		while (set.len > 0) {
			struct cur a;

			if (take(&set, 0x30, &atv) < 0)
				return -1;
			a = inside(&atv);
			if (take(&a, 0x06, &oid) < 0 || take(&a, TAG_ANY, &v) < 0 || a.len != 0)
				return -1;
			/* IA5String as RFC 5280 says, UTF8String as some CAs write it */
			if (oid_is(&oid, OID_EMAIL, sizeof OID_EMAIL) &&
			    (v.tag == 0x16 || v.tag == 0x0C))
				email_set(f->email, sizeof f->email, &v);
		}
	}
	return 0;
}

/* TBSCertificate (RFC 5280 §4.1). */
static int read_tbs(const struct tlv *tbs, struct found *f, char *err, size_t errsz)
{
	struct cur in = inside(tbs), val_in;
	struct tlv t, validity, subject, spki, when;
	int64_t not_before;

	if (take(&in, TAG_ANY, &t) < 0)
		return malformed(err, errsz, "version");
	if (t.tag == 0xA0 && take(&in, TAG_ANY, &t) < 0) /* [0] EXPLICIT version */
		return malformed(err, errsz, "serial number");
	if (t.tag != 0x02 || t.len == 0)
		return malformed(err, errsz, "serial number");
	f->serial = t;
	if (take(&in, 0x30, &t) < 0)
		return malformed(err, errsz, "signature algorithm");
	if (take(&in, 0x30, &f->issuer) < 0)
		return malformed(err, errsz, "issuer");
	if (take(&in, 0x30, &validity) < 0)
		return malformed(err, errsz, "validity");
	val_in = inside(&validity);
	if (take(&val_in, TAG_ANY, &when) < 0 ||
	    tls_der_time(when.tag, when.p, when.len, &not_before) < 0 ||
	    take(&val_in, TAG_ANY, &when) < 0 ||
	    tls_der_time(when.tag, when.p, when.len, &f->not_after) < 0 || val_in.len != 0)
		return malformed(err, errsz, "validity");
	if (take(&in, 0x30, &subject) < 0)
		return malformed(err, errsz, "subject");
	if (take(&in, 0x30, &spki) < 0)
		return malformed(err, errsz, "subject public key");
	if (read_spki(&spki, f, err, errsz) < 0)
		return -1;
	/* Optional issuerUniqueID [1], subjectUniqueID [2], extensions [3]. */
	while (in.len > 0) {
		if (take(&in, TAG_ANY, &t) < 0)
			return malformed(err, errsz, "extensions");
		if (t.tag == 0xA3 && read_extensions(&t, f) < 0)
			return malformed(err, errsz, "extensions");
		if (t.tag != 0xA3 && t.tag != 0x81 && t.tag != 0x82 && t.tag != 0xA1 &&
		    t.tag != 0xA2)
			return malformed(err, errsz, "extensions");
	}
	if (read_subject(&subject, f) < 0)
		return malformed(err, errsz, "subject");
	return 0;
}

/* One DER Certificate filling *f, or -1 with err set. */
static int read_cert(const unsigned char *der, size_t len, struct found *f, char *err, size_t errsz)
{
	struct cur in = {der, len}, c_in;
	struct tlv cert, tbs, alg, sig;

	if (take(&in, 0x30, &cert) < 0 || in.len != 0)
		return fail(err, errsz, "not a certificate");
	c_in = inside(&cert);
	if (take(&c_in, 0x30, &tbs) < 0 || take(&c_in, 0x30, &alg) < 0 ||
	    take(&c_in, 0x03, &sig) < 0 || c_in.len != 0)
		return fail(err, errsz, "not a certificate");
	return read_tbs(&tbs, f, err, errsz);
}

/* Copies n octets to *p, advancing it; returns where they went. */
static const unsigned char *own(unsigned char **p, const unsigned char *src, size_t n)
{
	const unsigned char *at = *p;

	memcpy(*p, src, n);
	*p += n;
	return at;
}

/* Copies what was found into c's one block. */
static void cert_own(struct smime_cert *c, const struct found *f)
{
	unsigned char *p = xmalloc(f->nlen + f->elen + f->issuer.whole_len + f->serial.whole_len);

	c->data = p;
	c->n = own(&p, f->n, f->nlen);
	c->nlen = f->nlen;
	c->e = own(&p, f->e, f->elen);
	c->elen = f->elen;
	c->issuer = own(&p, f->issuer.whole, f->issuer.whole_len);
	c->issuer_len = f->issuer.whole_len;
	c->serial = own(&p, f->serial.whole, f->serial.whole_len);
	c->serial_len = f->serial.whole_len;
	c->bits = f->bits;
	c->not_after = f->not_after;
	memcpy(c->email, f->email, sizeof c->email);
}

/* The first certificate of a PEM text, read and copied while the decoder
 * holds its DER (it wipes it afterwards). */
struct pem_first {
	struct smime_cert *c;
	char *err;
	size_t errsz;
	int seen, rc;
};

static int pem_first_obj(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct pem_first *pf = ctx;
	struct found f;

	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;
	pf->seen = 1;
	memset(&f, 0, sizeof f);
	pf->rc = read_cert(der, len, &f, pf->err, pf->errsz);
	if (pf->rc == 0)
		cert_own(pf->c, &f);
	return -1; /* stop: later blocks are not ours to judge */
}

int smime_cert_parse(const char *text, size_t len, struct smime_cert *c, char *err, size_t errsz)
{
	const unsigned char *data = (const unsigned char *)text;
	struct found f;
	char pem_err[256] = "";

	memset(c, 0, sizeof *c);
	if (tls_looks_pem(data, len)) {
		struct pem_first pf = {c, err, errsz, 0, -1};

		if (tls_pem_each(data, len, "certificate", pem_first_obj, &pf, pem_err,
		                 sizeof pem_err) < 0 &&
		    !pf.seen) {
			if (errsz > 0)
				snprintf(err, errsz, "%s", pem_err);
			return -1;
		}
		if (!pf.seen)
			return fail(err, errsz, "no CERTIFICATE block in the PEM text");
		return pf.rc;
	}
	if (len > 0 && data[0] == 0x30) {
		memset(&f, 0, sizeof f);
		if (read_cert(data, len, &f, err, errsz) < 0)
			return -1;
		cert_own(c, &f);
		return 0;
	}
	return fail(err, errsz, "not a certificate: neither PEM nor DER");
}

void smime_cert_free(struct smime_cert *c)
{
	if (c == NULL)
		return;
	free(c->data);
	memset(c, 0, sizeof *c);
}

/* ---- writing */

static const unsigned char OID_ENVELOPED[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03};
static const unsigned char OID_DATA[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
static const unsigned char OID_AES128_CBC[] = {0x60, 0x86, 0x48, 0x01, 0x65,
                                               0x03, 0x04, 0x01, 0x02};
static const unsigned char OID_AES256_CBC[] = {0x60, 0x86, 0x48, 0x01, 0x65,
                                               0x03, 0x04, 0x01, 0x2A};

#define AES_BLOCK 16
/* RSAES-PKCS1-v1_5 wants 8 octets of padding at least (RFC 8017 §7.2.1). */

/* Octets of a DER length field for n. */
static size_t len_size(size_t n)
{
	size_t k = 1;

	if (n < 0x80)
		return 1;
	while (n > 0) {
		k++;
		n >>= 8;
	}
	return k;
}

/* Octets of a whole element with n content octets (single-octet tag). */
static size_t tlv_size(size_t n)
{
	return 1 + len_size(n) + n;
}

/* Writes tag and the definite length of n; returns the next free octet. */
static unsigned char *put_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	size_t k = len_size(n) - 1, i;

	*p++ = tag;
	if (k == 0) {
		*p++ = (unsigned char)n;
		return p;
	}
	*p++ = (unsigned char)(0x80 | k);
	for (i = k; i > 0; i--)
		*p++ = (unsigned char)(n >> (8 * (i - 1)));
	return p;
}

static unsigned char *put(unsigned char *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

static unsigned char *put_oid(unsigned char *p, const unsigned char *oid, size_t n)
{
	return put(put_hdr(p, 0x06, n), oid, n);
}

/* The ciphertext as it is made: the entity's octets gathered into
 * blocks, encrypted in CBC runs of up to 4 KiB and written; the padding
 * (RFC 5652 §6.3: 1 to 16 octets, each the count) closes it. */
struct cbc_w {
	struct crypt_aes aes;
	uint8_t iv[AES_BLOCK];
	uint8_t stage[4096];
	size_t n;
	const struct crypt_sink *out;
	int err;
};

static void cbc_flush(struct cbc_w *w)
{
	size_t whole = w->n - w->n % AES_BLOCK;
	if (whole == 0 || w->err)
		return;
	crypt_aes_cbc(&w->aes, w->iv, w->stage, whole);
	if (w->out->write(w->out->arg, w->stage, whole) < 0)
		w->err = 1;
	memmove(w->stage, w->stage + whole, w->n - whole);
	w->n -= whole;
}

static void cbc_put(struct cbc_w *w, const void *data, size_t n)
{
	const uint8_t *p = data;
	while (n && !w->err) {
		size_t k = sizeof w->stage - w->n < n ? sizeof w->stage - w->n : n;
		memcpy(w->stage + w->n, p, k);
		w->n += k;
		p += k;
		n -= k;
		if (w->n == sizeof w->stage)
			cbc_flush(w);
	}
}

int smime_envelop_parts(const struct smime_cert *c, int aes_bits, const struct str *parts,
			size_t nparts, const struct crypt_sink *out)
{
	unsigned char key[32], iv[AES_BLOCK], em[SMIME_RSA_MAX_BITS / 8];
	size_t keylen = aes_bits == 128 ? 16 : 32, k = c->nlen, clen, pad, len = 0;
	size_t ias, ktri, ri, alg, eci, ed, ci, total;
	const unsigned char *aes_oid = aes_bits == 128 ? OID_AES128_CBC : OID_AES256_CBC;
	unsigned char *head = NULL, *p;
	struct cbc_w *w = NULL;
	int rc = -1;

	for (size_t i = 0; i < nparts; i++)
		len += parts[i].len;
	if ((aes_bits != 128 && aes_bits != 256) || c->data == NULL || len > SIZE_MAX / 2)
		return -1;

	/* Step 1: a fresh key and IV; the key sealed to the recipient. */
	randombytes_buf(key, keylen);
	randombytes_buf(iv, sizeof iv);
	if (k > sizeof em || crypt_rsa_pkcs1_encrypt(c->n, c->nlen, c->e, c->elen, key, keylen, em) < 0)
		goto out;

	/* Step 2: every length, innermost first (PKCS #7 padding always adds 1-16 octets). */
	pad = AES_BLOCK - len % AES_BLOCK;
	clen = len + pad;
	ias = c->issuer_len + c->serial_len;
	ktri = 3 + tlv_size(ias) + 15 + tlv_size(k);
	ri = tlv_size(tlv_size(ktri));
	alg = tlv_size(sizeof OID_AES128_CBC) + tlv_size(AES_BLOCK);
	eci = tlv_size(sizeof OID_DATA) + tlv_size(alg) + tlv_size(clen);
	ed = 3 + ri + tlv_size(eci);
	ci = tlv_size(sizeof OID_ENVELOPED) + tlv_size(tlv_size(ed));
	total = tlv_size(ci);
	/* Everything before the ciphertext is small: the recipient's names
	 * and sealed key (the certificate bounds them). */
	head = xmalloc(total - clen);

	/* Step 3: ContentInfo { id-envelopedData, [0] EnvelopedData { version 0, ... */
	p = put_hdr(head, 0x30, ci);
	p = put_oid(p, OID_ENVELOPED, sizeof OID_ENVELOPED);
	p = put_hdr(p, 0xA0, tlv_size(ed));
	p = put_hdr(p, 0x30, ed);
	p = put(p, "\x02\x01\x00", 3);
	/* recipientInfos: SET { KeyTransRecipientInfo { version 0, issuerAndSerialNumber,
	 * rsaEncryption NULL, encryptedKey } } (RFC 5652 §6.2.1) */
	p = put_hdr(p, 0x31, tlv_size(ktri));
	p = put_hdr(p, 0x30, ktri);
	p = put(p, "\x02\x01\x00", 3);
	p = put_hdr(p, 0x30, ias);
	p = put(p, c->issuer, c->issuer_len);
	p = put(p, c->serial, c->serial_len);
	p = put_hdr(p, 0x30, 13);
	p = put_oid(p, OID_RSA, sizeof OID_RSA);
	p = put(p, "\x05\x00", 2);
	p = put_hdr(p, 0x04, k);
	p = put(p, em, k);
	/* encryptedContentInfo { id-data, aesN-CBC IV, [0] IMPLICIT ciphertext } */
	p = put_hdr(p, 0x30, eci);
	p = put_oid(p, OID_DATA, sizeof OID_DATA);
	p = put_hdr(p, 0x30, alg);
	p = put_oid(p, aes_oid, sizeof OID_AES128_CBC);
	p = put_hdr(p, 0x04, AES_BLOCK);
	p = put(p, iv, AES_BLOCK);
	p = put_hdr(p, 0x80, clen);
	if ((size_t)(p - head) != total - clen)
		fatalx("smime: envelope lengths and writing disagree");
	if (out->write(out->arg, head, total - clen) < 0)
		goto out;

	/* Step 4: the entity and its padding, encrypted as they are written. */
	w = xcalloc(1, sizeof *w);
	w->out = out;
	memcpy(w->iv, iv, sizeof iv);
	crypt_aes_init(&w->aes, key, keylen);
	for (size_t i = 0; i < nparts; i++)
		cbc_put(w, parts[i].p, parts[i].len);
	uint8_t padding[AES_BLOCK];
	memset(padding, (int)pad, pad);
	cbc_put(w, padding, pad);
	cbc_flush(w);
	rc = w->err || w->n ? -1 : 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_memzero(em, sizeof em);
	if (w) {
		sodium_memzero(w, sizeof *w);
		free(w);
	}
	free(head);
	return rc;
}

int smime_envelop(struct buf *out, const struct smime_cert *c, int aes_bits, const void *entity,
                  size_t len)
{
	struct crypt_sink sink = {crypt_sink_buf, out};
	struct str part = {entity, len};
	size_t at = buf_len(out);
	int rc = smime_envelop_parts(c, aes_bits, &part, 1, &sink);
	if (rc < 0)
		out->len = at; /* out unchanged, as promised */
	return rc;
}
