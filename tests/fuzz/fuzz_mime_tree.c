/*
 * fuzz_mime_tree.c — a message through everything FETCH does with it:
 * parse, cache record, decode of the record (must give back the same
 * record and the same BODYSTRUCTURE/BODY/ENVELOPE), every part's sections
 * within the message, every leaf decoded. The input is also offered to the
 * record decoder as a (hostile) record: accepted or not, the tree must
 * render, and re-encoding an accepted one must be stable.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "mime/imap_bodystructure.h"
#include "mime/mime_cache.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"

#define OUT_MAX (1 << 22)

static void render_all(const struct mime_tree *t, struct buf *out)
{
	unsigned fl;

	for (fl = 0; fl < 16; fl++) { /* IMAP_BS_* up to IMAP_BS_ASCII */
		imap_bodystructure_write(out, t, 0, fl);
		imap_envelope_write(out, t->parts[0].env, fl);
	}
}

static void sections(const struct mime_tree *t, const char *msg, size_t len)
{
	uint32_t i, part;
	uint64_t off, n;
	char num[512];
	int k;

	for (i = 0; i < t->nparts; i++) {
		if (mime_tree_part_number(t, i, num, sizeof(num)) < 0)
			continue;
		for (k = MIME_SECTION_WHOLE; k <= MIME_SECTION_MIME; k++) {
			if (mime_tree_section_str(t, str_c(num), (enum mime_section)k, &part, &off,
			                          &n) == 0)
				assert(part < t->nparts && off <= len && n <= len - off);
		}
		if (!(t->parts[i].flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) && msg)
			(void)mime_decoded_size(
			    mime_cte_parse(t->parts[i].encoding),
			    str_make(msg + t->parts[i].body_off,
			             t->parts[i].body_end - t->parts[i].body_off));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	struct mime_tree t, d;
	struct buf r1, r2, o1, o2;

	buf_init(&r1, OUT_MAX);
	buf_init(&r2, OUT_MAX);
	buf_init(&o1, OUT_MAX);
	buf_init(&o2, OUT_MAX);

	mime_tree_parse((const char *)data, size, a, &t);
	/* memory linear in the message (an obsolete route once took its
	 * length's square) */
	assert(arena_used(a) <= 64 * size + (1u << 20));
	assert(t.size == size && t.nparts >= 1 && t.nparts <= MIME_PARTS_MAX);
	assert(mime_cache_encode(&t, &r1) == 0);
	assert(mime_cache_decode(buf_data(&r1), buf_len(&r1), a, &d) == 0);
	assert(mime_cache_encode(&d, &r2) == 0);
	assert(buf_len(&r1) == buf_len(&r2) &&
	       memcmp(buf_data(&r1), buf_data(&r2), buf_len(&r1)) == 0);
	/* The record tells how the message ends (POP3 sizes from it). */
	assert(mime_cache_final_lf(buf_data(&r1), buf_len(&r1), size) ==
	       (size == 0 || data[size - 1] == '\n'));
	render_all(&t, &o1);
	render_all(&d, &o2);
	assert(buf_len(&o1) == buf_len(&o2) &&
	       memcmp(buf_data(&o1), buf_data(&o2), buf_len(&o1)) == 0);
	sections(&d, (const char *)data, size);

	/* The input as a record: the root-subject reader (IMAP SEARCH) reads
	 * within it whatever it holds, and agrees with the full decoder. */
	{
		uint64_t rsize;
		struct str rsubj;
		int rr = mime_cache_root_subject(data, size, a, &rsize, &rsubj);
		assert(rr == -1 || rsubj.p == NULL ||
		       (rsubj.len <= size && (rsubj.len == 0 || rsubj.p != NULL)));
		if (mime_cache_decode(data, size, a, &t) == 0) {
			assert(rr == 0 && rsize == t.size);
			assert(rsubj.len == t.parts[0].env->subject.len);
			/* The flag readers agree with the full decoder. */
			int fl = mime_cache_final_lf(data, size, t.size);
			assert(fl == (!(t.flags & MIME_TREE_END_SCANNED)
					      ? -1
					      : !(t.flags & MIME_TREE_NO_FINAL_LF)));
		}
	}
	buf_reset(&r1);
	buf_reset(&r2);
	buf_reset(&o1);
	if (mime_cache_decode(data, size, a, &d) == 0) {
		assert(mime_cache_encode(&d, &r1) == 0);
		assert(mime_cache_decode(buf_data(&r1), buf_len(&r1), a, &t) == 0);
		assert(mime_cache_encode(&t, &r2) == 0);
		assert(buf_len(&r1) == buf_len(&r2) &&
		       memcmp(buf_data(&r1), buf_data(&r2), buf_len(&r1)) == 0);
		sections(&d, NULL, d.size);
	}
	render_all(&d, &o1);

	buf_free(&r1);
	buf_free(&r2);
	buf_free(&o1);
	buf_free(&o2);
	arena_free(&a);
	return 0;
}
