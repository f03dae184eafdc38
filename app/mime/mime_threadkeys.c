/*
 * mime_threadkeys.c — the hashes the store threads messages by (see
 * mime_threadkeys.h).
 */
#include "mime/mime_threadkeys.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "mime/mime_thread.h"
#include "mime/rfc5322.h"

static uint64_t hash64(const void *p, size_t n)
{
	unsigned char h[8];
	uint64_t v = 0;

	crypto_generichash(h, sizeof h, p, n, NULL, 0);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v;
}

static uint64_t id_hash(struct str id)
{
	char *norm = xmalloc(id.len ? id.len : 1);
	uint64_t h = hash64(norm, mime_msgid_norm(id, norm));

	free(norm);
	return h;
}

static void add_ref(struct mime_threadkeys *k, uint64_t h)
{
	if (k->nrefs == MIME_THREADKEYS_REFS || (k->has_self && h == k->self))
		return;
	for (size_t i = 0; i < k->nrefs; i++)
		if (k->refs[i] == h)
			return;
	k->refs[k->nrefs++] = h;
}

/* The field's value unfolded, in a fresh allocation (*n_r its length). */
static char *unfolded(struct str v, size_t *n_r)
{
	char *p = xmalloc(v.len ? v.len : 1);

	*n_r = rfc5322_unfold(v, p);
	return p;
}

void mime_threadkeys_get(const char *data, size_t len, struct mime_threadkeys *k)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	struct str *ids = xmalloc(MIME_THREAD_REFS_MAX * sizeof(*ids));
	char *irt = NULL, *refs = NULL, *subj = NULL;
	size_t irt_n = 0, refs_n = 0, subj_n = 0;
	int have_subj = 0;

	memset(k, 0, sizeof *k);
	rfc5322_init(&p);
	/* The first of each field counts, as for IMAP's envelope. */
	while (rfc5322_parse(&p, data + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (!k->has_self && str_eq_ci_c(f.name, "Message-ID")) {
			char *v;
			size_t n;
			v = unfolded(f.value, &n);
			if (mime_msgids(str_make(v, n), ids, MIME_THREAD_REFS_MAX) > 0) {
				k->has_self = 1;
				k->self = id_hash(ids[0]);
			}
			free(v);
		} else if (!irt && str_eq_ci_c(f.name, "In-Reply-To")) {
			irt = unfolded(f.value, &irt_n);
		} else if (!refs && str_eq_ci_c(f.name, "References")) {
			refs = unfolded(f.value, &refs_n);
		} else if (!have_subj && str_eq_ci_c(f.name, "Subject")) {
			subj = unfolded(f.value, &subj_n);
			have_subj = 1;
		}
	}
	rfc5322_clear(&p);

	/* The parent first (In-Reply-To), then References nearest first. */
	if (irt && mime_msgids(str_make(irt, irt_n), ids, MIME_THREAD_REFS_MAX) > 0)
		add_ref(k, id_hash(ids[0]));
	if (refs) {
		size_t n = mime_msgids(str_make(refs, refs_n), ids, MIME_THREAD_REFS_MAX);
		while (n-- > 0)
			add_ref(k, id_hash(ids[n]));
	}

	struct buf b;
	buf_init(&b, 64 * 1024);
	if (have_subj)
		mime_base_subject(str_make(subj, subj_n), &b, NULL);
	k->subject = hash64(buf_data(&b), buf_len(&b));
	buf_free(&b);
	free(irt);
	free(refs);
	free(subj);
	free(ids);
}
