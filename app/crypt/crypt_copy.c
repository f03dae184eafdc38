/* crypt_copy.c — the sealed form of a copy into another account: see
 * crypt_copy.h. */
#include "crypt/crypt_copy.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "store/store.h"

/* One email's sealed bytes and their MIME structure. */
struct crypt_copy_msg {
	struct spool sealed;
	struct buf meta;
};

int crypt_copy_key(struct store *st, uint32_t actor, uint32_t src, uint32_t dst,
		   struct crypt_key **k_r)
{
	*k_r = NULL;
	if (src == dst)
		return 0;
	return crypt_put_key(st, dst, actor, k_r);
}

/* store_email_raw's callback: the bytes sealed, in the read. */
struct seal_one {
	const struct crypt_key *k;
	struct crypt_copy_msg *m;
	struct store_copy_blob *b;
	int rc;
};

static void seal_raw_cb(void *arg, const char *data, size_t len)
{
	struct seal_one *x = arg;
	struct str sealed;

	x->rc = crypt_seal(x->k, data, len, &x->m->sealed, &sealed);
	if (x->rc <= 0)
		return; /* encrypted already (0): copied as it is */
	x->b->data = sealed.p;
	x->b->len = sealed.len;
	spool_blob_id(&x->m->sealed, x->b->id);
	if (mime_cache_build(sealed.p, sealed.len, &x->m->meta) == 0) {
		x->b->meta = buf_data(&x->m->meta);
		x->b->metalen = buf_len(&x->m->meta);
	}
}

int crypt_copy_seal(struct crypt_copy *cc, struct store *st, const struct crypt_key *k,
		    uint32_t src, const uint32_t *emails, size_t n)
{
	cc->n = n;
	cc->blobs = xcalloc(n + 1, sizeof *cc->blobs);
	cc->msgs = xcalloc(n + 1, sizeof *cc->msgs);
	for (size_t i = 0; i < n; i++) {
		struct seal_one x = {k, &cc->msgs[i], &cc->blobs[i], 0};
		int rc = store_email_raw(st, src, emails[i], seal_raw_cb, &x);
		if (rc == STORE_ENOTFOUND)
			continue; /* expunged meanwhile: the copy says so */
		if (rc != STORE_OK || x.rc < 0)
			return -1;
	}
	return 0;
}

void crypt_copy_free(struct crypt_copy *cc)
{
	for (size_t i = 0; cc->msgs && i < cc->n; i++) {
		spool_free(&cc->msgs[i].sealed);
		buf_free(&cc->msgs[i].meta);
	}
	free(cc->msgs);
	free(cc->blobs);
	memset(cc, 0, sizeof *cc);
}
