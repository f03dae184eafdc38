/*
 * fuzz_store_records.c — the decoders of stored records that a restored
 * backup reaches (`tern backup --verify` and `tern restore` read a
 * store.mdb from anywhere, and the server then reads every record): the
 * account, mailbox, email and uid records (store_codec.c) and an email's
 * MIME cache record (mime_cache.h). The first input byte picks the
 * decoder. A record that decodes is encoded again and decodes to the same
 * fields; every pointer an email record hands out lies inside the input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime_cache.h"
#include "store/store_private.h"

static void *encode(void (*enc)(struct rec_w *, const void *), const void *rec, size_t *n_r)
{
	struct rec_w w = {NULL, 0, 0};
	enc(&w, rec); /* a counting pass, as rec_put makes */
	w.p = malloc(w.len ? w.len : 1);
	w.cap = w.len;
	w.len = 0;
	enc(&w, rec);
	*n_r = w.len;
	return w.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t *copy = malloc(size); /* exactly the record: ASan sees any overread */
	memcpy(copy, data + 1, size - 1);
	MDB_val v = {size - 1, copy};
	size_t n;

	switch (data[0] % 5) {
	case 0: {
		struct acct_rec a, b;
		if (acct_dec(&v, &a) == 0) {
			void *p = encode(acct_enc, &a, &n);
			MDB_val w = {n, p};
			assert(acct_dec(&w, &b) == 0);
			assert(a.quota == b.quota && a.used == b.used && a.emails == b.emails &&
			       a.modseq == b.modseq && strcmp(a.email, b.email) == 0 &&
			       strcmp(a.hash, b.hash) == 0);
			free(p);
		}
		break;
	}
	case 1: {
		struct mbox_rec a, b;
		if (mbox_dec(&v, &a) == 0) {
			void *p = encode(mbox_enc, &a, &n);
			MDB_val w = {n, p};
			assert(mbox_dec(&w, &b) == 0);
			assert(a.uidvalidity == b.uidvalidity && a.uidnext == b.uidnext &&
			       a.messages == b.messages && strcmp(a.name, b.name) == 0 &&
			       a.first_recent == b.first_recent && a.sort_order == b.sort_order);
			free(p);
		}
		break;
	}
	case 2: {
		struct email_rec e, f;
		if (email_dec(&v, &e) == 0) {
			const uint8_t *lo = copy, *hi = copy + v.mv_size;
			assert(!e.keywords_len || ((const uint8_t *)e.keywords >= lo &&
			                           (const uint8_t *)e.keywords + e.keywords_len <= hi));
			assert(!e.nmembers || (e.members >= lo && e.members + (size_t)e.nmembers * 8 <= hi));
			assert(!e.metalen || (e.meta >= lo && e.meta + e.metalen <= hi));
			void *p = encode(email_enc, &e, &n);
			MDB_val w = {n, p};
			assert(email_dec(&w, &f) == 0);
			assert(f.size == e.size && f.keywords_len == e.keywords_len &&
			       f.nmembers == e.nmembers && f.metalen == e.metalen &&
			       f.origin == e.origin && f.zone == e.zone);
			free(p);
		}
		break;
	}
	case 3:
		(void)uid_rec_saved_at(&v, 7);
		(void)uid_rec_flags(&v);
		break;
	case 4: {
		struct arena *a = arena_new(4096);
		struct mime_tree t;
		(void)mime_cache_decode(copy, v.mv_size, a, &t);
		arena_free(&a);
		break;
	}
	}
	free(copy);
	return 0;
}
