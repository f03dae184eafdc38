/*
 * fuzz_mime_thread.c — base subjects, msg-id lists and both threading
 * algorithms on arbitrary input. The input is cut at NUL octets into
 * lines; each line is one message: "<id> subject | references". Checks:
 * the base subject is never longer than the decoded subject allows and is
 * a fixed point for its reply flag (extracting again removes nothing), the
 * msg-ids lie inside their value, and every message number appears
 * exactly once in each THREAD result, whose parentheses balance.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_thread.h"

#define MAX_MSGS 64

static void check_output(struct buf *out, size_t n)
{
	int depth = 0;
	unsigned seen[MAX_MSGS] = { 0 };
	const char *p = buf_data(out);
	size_t len = buf_len(out);

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '(') {
			depth++;
		} else if (p[i] == ')') {
			assert(depth > 0);
			depth--;
		} else if (p[i] >= '0' && p[i] <= '9') {
			unsigned v = 0;
			while (i < len && p[i] >= '0' && p[i] <= '9')
				v = v * 10 + (unsigned)(p[i++] - '0');
			i--;
			assert(v >= 1 && v <= n);
			seen[v - 1]++;
		} else {
			assert(p[i] == ' ');
		}
	}
	assert(depth == 0);
	for (size_t i = 0; i < n; i++)
		assert(seen[i] == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	struct mime_thread_msg m[MAX_MSGS];
	struct str refs[MAX_MSGS][MIME_THREAD_REFS_MAX];
	struct buf subj[MAX_MSGS], out;
	size_t n = 0, pos = 0;

	memcpy(p, data, size);
	p[size] = '\0';
	while (pos <= size && n < MAX_MSGS) {
		char *line = p + pos;
		size_t len = strlen(line);
		char *bar = memchr(line, '|', len);
		size_t slen = bar ? (size_t)(bar - line) : len;
		struct str ids[1];

		memset(&m[n], 0, sizeof(m[n]));
		m[n].num = (uint32_t)n + 1;
		m[n].sent = (int64_t)(len % 7);
		if (mime_msgids(str_make(line, slen), ids, 1) == 1)
			m[n].msgid = ids[0];
		buf_init(&subj[n], 64 * 1024);
		assert(mime_base_subject(str_make(line, slen), &subj[n], &m[n].reply) == 0);
		m[n].base = buf_str(&subj[n]);
		if (bar) {
			struct str v = str_make(bar + 1, len - slen - 1);
			m[n].nrefs = mime_msgids(v, refs[n], MIME_THREAD_REFS_MAX);
			for (size_t k = 0; k < m[n].nrefs; k++) {
				struct str id = refs[n][k];
				char norm[998];
				assert(id.p >= v.p && id.p + id.len <= v.p + v.len && id.len <= 998 &&
				       id.p[0] == '<' && id.p[id.len - 1] == '>');
				/* Normalizing only takes quoting away: never longer,
				 * brackets kept, and a second pass changes nothing
				 * when no quote was escaped. */
				size_t nl = mime_msgid_norm(id, norm);
				assert(nl >= 2 && nl <= id.len && norm[0] == '<' && norm[nl - 1] == '>');
				if (!memchr(id.p, '\\', id.len) && !memchr(norm, '"', nl)) {
					char again[998];
					assert(mime_msgid_norm(str_make(norm, nl), again) == nl &&
					       memcmp(again, norm, nl) == 0);
				}
			}
			m[n].refs = refs[n];
		}
		/* The base subject of a base subject is itself when nothing was a
		 * reply marker: decoding and trimming are done once. */
		if (!m[n].reply && memchr(line, '=', slen) == NULL) {
			struct buf again;
			int r2;
			buf_init(&again, 64 * 1024);
			mime_base_subject(m[n].base, &again, &r2);
			assert(str_eq(buf_str(&again), m[n].base));
			buf_free(&again);
		}
		n++;
		pos += len + 1;
	}
	buf_init(&out, 1u << 20);
	assert(mime_thread_references(m, n, &out) == 0);
	check_output(&out, n);
	buf_reset(&out);
	assert(mime_thread_orderedsubject(m, n, &out) == 0);
	check_output(&out, n);
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&subj[i]);
	free(p);
	return 0;
}
