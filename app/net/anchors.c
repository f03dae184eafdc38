/*
 * anchors.c — the built-in roots plus the ones TERN_TLS_CA_FILE adds.
 *
 * The set handed out is one array: the built-in anchors' structs copied
 * (their bytes stay in the generated constant table) followed by the added
 * ones, whose DN and key bytes this module owns.
 */
#include "net/anchors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "net/anchors_table.h"
#include "net/tls_private.h"

static br_x509_trust_anchor *all;     /* NULL: only the built-in table */
static size_t all_n;
static size_t extra_n;

const br_x509_trust_anchor *anchors_get(size_t *n_r)
{
	if (all == NULL) {
		*n_r = anchors_builtin_count;
		return anchors_builtin;
	}
	*n_r = all_n;
	return all;
}

size_t anchors_builtin_n(void)
{
	return anchors_builtin_count;
}

static void ta_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

void anchors_reset(void)
{
	for (size_t i = anchors_builtin_count; all != NULL && i < all_n; i++)
		ta_free(&all[i]);
	free(all);
	all = NULL;
	all_n = extra_n = 0;
}

struct collect {
	br_x509_trust_anchor ta[ANCHORS_EXTRA_MAX];
	size_t n;
	const char *name;
	char *err;
	size_t errsz;
};

static void dn_append(void *ctx, const void *data, size_t len)
{
	if (buf_append(ctx, data, len) < 0) {
		/* A DN over the cap: the decode below reports it as unusable. */
	}
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = xmalloc(n ? n : 1);
	memcpy(d, p, n);
	return d;
}

/* One DER certificate -> one anchor in c. */
static int collect_cert(void *ctx, const char *pem_name, const unsigned char *der, size_t len)
{
	struct collect *c = ctx;
	br_x509_decoder_context dc;
	struct buf dn;

	if (pem_name != NULL && strcmp(pem_name, "CERTIFICATE") != 0 &&
	    strcmp(pem_name, "X509 CERTIFICATE") != 0)
		return 0; /* keys or other blocks in a bundle are not anchors */
	if (extra_n + c->n >= ANCHORS_EXTRA_MAX) {
		snprintf(c->err, c->errsz, "%s: more than %d certificates", c->name,
		         ANCHORS_EXTRA_MAX);
		return -1;
	}
	buf_init(&dn, 4096);
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || buf_len(&dn) == 0 ||
	    buf_len(&dn) == dn.max) {
		snprintf(c->err, c->errsz, "%s: certificate %zu does not decode (BearSSL error %d)",
		         c->name, c->n + 1, br_x509_decoder_last_error(&dc));
		buf_free(&dn);
		return -1;
	}
	br_x509_trust_anchor *ta = &c->ta[c->n++];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = dup_bytes((const unsigned char *)buf_data(&dn), buf_len(&dn));
	ta->dn.len = buf_len(&dn);
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	buf_free(&dn);
	return 0;
}

int anchors_add(const void *data, size_t len, const char *name, char *err, size_t errsz)
{
	struct collect *c = xcalloc(1, sizeof *c);
	int rc;

	c->name = name;
	c->err = err;
	c->errsz = errsz;
	if (tls_looks_pem(data, len))
		rc = tls_pem_each(data, len, name, collect_cert, c, err, errsz);
	else
		rc = collect_cert(c, NULL, data, len);
	if (rc >= 0 && c->n == 0) {
		snprintf(err, errsz, "%s: no certificate", name);
		rc = -1;
	}
	if (rc < 0) {
		for (size_t i = 0; i < c->n; i++)
			ta_free(&c->ta[i]);
		free(c);
		return -1;
	}
	if (all == NULL) {
		all = xmalloc((anchors_builtin_count + ANCHORS_EXTRA_MAX) * sizeof *all);
		memcpy(all, anchors_builtin, anchors_builtin_count * sizeof *all);
		all_n = anchors_builtin_count;
	}
	memcpy(all + all_n, c->ta, c->n * sizeof *all);
	all_n += c->n;
	extra_n += c->n;
	rc = (int)c->n;
	free(c);
	return rc;
}

int anchors_add_file(const char *path, char *err, size_t errsz)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, TLS_FILE_MAX);
	if (tls_read_file(path, &b, err, errsz) == 0)
		rc = anchors_add(buf_data(&b), buf_len(&b), path, err, errsz);
	buf_free(&b);
	return rc;
}
