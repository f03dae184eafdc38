/*
 * dane.c — DANE-EE and DANE-TA checks as a BearSSL X.509 engine. See dane.h.
 */
#include "tlspol/dane.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct dane_x509 *self(const br_x509_class *const *ctx)
{
	return (struct dane_x509 *)(void *)ctx;
}

static void d_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct dane_x509 *x = self(ctx);
	(void)server_name; /* the MX host name given at init is the one to check */
	x->ncerts = x->used = 0;
	x->off[0] = 0;
	x->overflow = 0;
	x->matched = 0;
}

static void d_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct dane_x509 *x = self(ctx);
	if (x->ncerts >= DANE_CHAIN_MAX || length > DANE_CHAIN_BYTES - x->used)
		x->overflow = 1;
}

static void d_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct dane_x509 *x = self(ctx);
	if (x->overflow)
		return;
	if (len > DANE_CHAIN_BYTES - x->used) {
		x->overflow = 1;
		return;
	}
	memcpy(x->chain + x->used, buf, len);
	x->used += len;
}

static void d_end_cert(const br_x509_class **ctx)
{
	struct dane_x509 *x = self(ctx);
	if (x->overflow)
		return;
	x->ncerts++;
	x->off[x->ncerts] = x->used;
}

static const unsigned char *cert(const struct dane_x509 *x, size_t i, size_t *len)
{
	*len = x->off[i + 1] - x->off[i];
	return x->chain + x->off[i];
}

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dane_x509 *x = ctx;
	if (len > DANE_DN_MAX - x->ta_dn_len) {
		x->ta_dn_len = DANE_DN_MAX + 1; /* marks it too long */
		return;
	}
	memcpy(x->ta_dn + x->ta_dn_len, buf, len);
	x->ta_dn_len += len;
}

/*
 * The chain's certificates 0..last validated by BearSSL's minimal engine
 * with ta as the one anchor, for the name: 0, or BearSSL's X.509 error.
 * The anchor need only live through the call: only the verdict and the
 * leaf's key (copied into xm by the validator) are used after.
 */
static unsigned chain_path(struct dane_x509 *x, const br_x509_trust_anchor *ta, size_t last,
			   const char *name)
{
	size_t len;
	br_x509_minimal_init_full(&x->xm, ta, 1);
	const br_x509_class **v = &x->xm.vtable;
	(*v)->start_chain(v, name);
	for (size_t k = 0; k <= last; k++) {
		const unsigned char *d = cert(x, k, &len);
		(*v)->start_cert(v, (uint32_t)len);
		(*v)->append(v, d, len);
		(*v)->end_cert(v);
	}
	return (*v)->end_chain(v);
}

/* chain_path for the MX host name, then for the other name the leaf may carry. */
static unsigned chain_path_named(struct dane_x509 *x, const br_x509_trust_anchor *ta, size_t last)
{
	unsigned err = chain_path(x, ta, last, x->name);
	if (err == BR_ERR_X509_BAD_SERVER_NAME && x->also_name[0])
		err = chain_path(x, ta, last, x->also_name);
	return err;
}

/* Decodes a DER certificate's subject DN (into ta_dn) and key (in ta_dec). 0 or -1. */
static int ta_decode(struct dane_x509 *x, const unsigned char *der, size_t len,
		     br_x509_trust_anchor *ta)
{
	x->ta_dn_len = 0;
	br_x509_decoder_init(&x->ta_dec, dn_append, x);
	br_x509_decoder_push(&x->ta_dec, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&x->ta_dec);
	if (br_x509_decoder_last_error(&x->ta_dec) != 0 || !pk || x->ta_dn_len > DANE_DN_MAX)
		return -1;
	*ta = (br_x509_trust_anchor){{x->ta_dn, x->ta_dn_len}, BR_X509_TA_CA, *pk};
	return 0;
}

/*
 * A DANE-TA record carrying the trust anchor itself (matching type
 * Full): "2 0 0" a certificate, "2 1 0" a public key. RFC 7671 §5.2.2
 * lets such a server leave the anchor out of its chain, and OpenSSL's
 * DANE (Postfix's) accepts that: the anchor is made from the record
 * and the chain validated up to the certificate it signed. A "2 1 0"
 * key has no name: it is given the issuer name of each certificate in
 * turn, from the top down, and the engine checks the signature. 0, or
 * BearSSL's X.509 error (DANE_ERR_NO_MATCH when nothing could be tried).
 */
static unsigned record_anchor(struct dane_x509 *x, const struct tlsa_rec *t)
{
	br_x509_trust_anchor ta;
	if (t->selector == 0) {
		if (ta_decode(x, t->data, t->len, &ta) < 0)
			return DANE_ERR_NO_MATCH;
		return chain_path_named(x, &ta, x->ncerts - 1);
	}
	br_x509_pkey pk;
	if (tlsa_spki_key(t->data, t->len, &pk) < 0)
		return DANE_ERR_NO_MATCH;
	unsigned err = DANE_ERR_NO_MATCH;
	for (size_t i = x->ncerts; i-- > 0;) {
		size_t cl, dl;
		const unsigned char *c = cert(x, i, &cl), *dn;
		if (tlsa_cert_issuer(c, cl, &dn, &dl) < 0)
			continue;
		ta = (br_x509_trust_anchor){{(unsigned char *)(uintptr_t)dn, dl}, BR_X509_TA_CA, pk};
		err = chain_path_named(x, &ta, i);
		if (err == 0)
			break;
	}
	return err;
}

static unsigned d_end_chain(const br_x509_class **ctx)
{
	struct dane_x509 *x = self(ctx);
	size_t len;

	if (x->overflow)
		return BR_ERR_X509_LIMIT_EXCEEDED;
	if (x->ncerts == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	/* A DANE-TA record that matched but whose path failed says why
	 * (the name, the dates) rather than "no match". */
	unsigned err = DANE_ERR_NO_MATCH;
	const unsigned char *leaf = cert(x, 0, &len);
	for (size_t r = 0; r < x->nrecs; r++) {
		const struct tlsa_rec *t = &x->recs[r];
		if (!tlsa_usable(t) || t->usage != 3 || !tlsa_match(t, leaf, len))
			continue;
		br_x509_decoder_init(&x->leaf, NULL, NULL);
		br_x509_decoder_push(&x->leaf, leaf, len);
		if (br_x509_decoder_last_error(&x->leaf) == 0 && br_x509_decoder_get_pkey(&x->leaf)) {
			x->matched = 3;
			return 0;
		}
	}
	for (size_t r = 0; r < x->nrecs; r++) {
		const struct tlsa_rec *t = &x->recs[r];
		if (!tlsa_usable(t) || t->usage != 2)
			continue;
		for (size_t i = 1; i < x->ncerts; i++) {
			size_t cl;
			const unsigned char *c = cert(x, i, &cl);
			br_x509_trust_anchor ta;
			if (!tlsa_match(t, c, cl))
				continue;
			err = ta_decode(x, c, cl, &ta) < 0 ? BR_ERR_X509_INVALID_VALUE
							    : chain_path_named(x, &ta, i);
			if (err == 0) {
				x->matched = 2;
				return 0;
			}
		}
	}
	/* The anchor not in the chain: only a record holding it will do. */
	for (size_t r = 0; r < x->nrecs; r++) {
		const struct tlsa_rec *t = &x->recs[r];
		if (!tlsa_usable(t) || t->usage != 2 || t->mtype != 0)
			continue;
		unsigned e = record_anchor(x, t);
		if (e == 0) {
			x->matched = 2;
			return 0;
		}
		if (e != DANE_ERR_NO_MATCH && err == DANE_ERR_NO_MATCH)
			err = e;
	}
	return err;
}

static const br_x509_pkey *d_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct dane_x509 *x = self(ctx);
	if (x->matched == 2)
		return x->xm.vtable->get_pkey(&x->xm.vtable, usages);
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return x->matched == 3 ? br_x509_decoder_get_pkey(&x->leaf) : NULL;
}

static const br_x509_class dane_class = {
    sizeof(struct dane_x509), d_start_chain, d_start_cert, d_append,
    d_end_cert,               d_end_chain,   d_get_pkey,
};

void dane_x509_init(struct dane_x509 *x, const struct tlsa_rec *recs, size_t n, const char *name)
{
	x->vtable = &dane_class;
	x->recs = recs;
	x->nrecs = n;
	snprintf(x->name, sizeof x->name, "%s", name ? name : "");
	x->also_name[0] = '\0';
	x->ncerts = x->used = 0;
	x->matched = 0;
	x->overflow = 0;
}

void dane_x509_also_name(struct dane_x509 *x, const char *name)
{
	snprintf(x->also_name, sizeof x->also_name, "%s", name ? name : "");
}

int dane_x509_matched(const struct dane_x509 *x)
{
	return x->matched;
}
