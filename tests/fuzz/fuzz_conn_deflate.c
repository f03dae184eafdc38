/*
 * fuzz_conn_deflate.c — the COMPRESS layer (net/conn_deflate.h) on
 * arbitrary bytes. Taken as a peer's raw DEFLATE stream, fed in chunks the
 * first octet chooses into a small plaintext buffer that is drained as it
 * fills: inflating never writes past the buffer's room, never reports
 * growth it did not make, and stops on a broken stream. Taken as
 * plaintext, deflated through the layer's bounded buffer and inflated
 * back by a second layer, it comes back exactly.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "net/conn_deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)(data[0] % 61) + 1;
	struct conn_deflate *z = conn_deflate_new();
	struct buf plain;

	assert(z);
	buf_init(&plain, 97);
	/* 1. Peer input. */
	for (size_t off = 1; off < size;) {
		struct buf *rb = conn_deflate_rbuf(z);
		size_t n = size - off < chunk ? size - off : chunk;
		if (n > buf_room(rb))
			n = buf_room(rb);
		if (n)
			assert(buf_append(rb, data + off, n) == 0);
		off += n;
		size_t before = buf_len(&plain);
		int r = conn_deflate_in(z, &plain);
		if (r < 0)
			break;
		assert(buf_len(&plain) <= 97);
		assert((r > 0) == (buf_len(&plain) > before));
		buf_reset(&plain); /* the session consumed it */
		if (n == 0 && r == 0)
			break; /* no room and no progress: a stuck stream */
	}
	conn_deflate_free(&z);
	buf_free(&plain);

	/* 2. Round trip of the input as plaintext. */
	struct conn_deflate *a = conn_deflate_new(), *b = conn_deflate_new();
	struct buf src, back;
	assert(a && b);
	buf_init(&src, size);
	buf_init(&back, size + 1);
	assert(buf_append(&src, data, size) == 0);
	for (int guard = 0; guard < 100000; guard++) {
		assert(conn_deflate_out(a, &src) == 0);
		struct buf *wb = conn_deflate_wbuf(a), *rb = conn_deflate_rbuf(b);
		size_t n = buf_len(wb) < buf_room(rb) ? buf_len(wb) : buf_room(rb);
		assert(buf_append(rb, buf_data(wb), n) == 0);
		buf_consume(wb, n);
		assert(conn_deflate_in(b, &back) >= 0);
		if (!buf_len(&src) && !conn_deflate_pending(a) && !buf_len(conn_deflate_rbuf(b)))
			break;
	}
	assert(buf_len(&back) == size && memcmp(buf_data(&back), data, size) == 0);
	conn_deflate_free(&a);
	conn_deflate_free(&b);
	buf_free(&src);
	buf_free(&back);
	return 0;
}
