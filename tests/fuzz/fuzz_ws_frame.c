/*
 * fuzz_ws_frame.c — the WebSocket frame reader (ws_frame.h) on a client's
 * bytes. The input is read as a connection would deliver it: all at once,
 * one byte at a time and in pieces of 7; each way must give the same
 * messages (kind, length, a hash of the payload, close code) and end the
 * same way (need-more, or the same error code). Every payload lies inside
 * the buffer it was read from or the reader's own; a text message is
 * UTF-8; nothing passes the message limit, nor a frame's size said
 * after need-more (what the caller's buffer is sized by).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "http/ws_frame.h"

#define MAX_MESSAGE 300
#define EVENTS 64

struct trace {
	unsigned n;
	uint32_t ev[EVENTS][4];
	int end; /* -2 or the close code of the error */
};

static uint32_t hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static void run(const uint8_t *data, size_t size, size_t step, struct trace *t)
{
	struct ws_reader r;
	char *buf = malloc(size + 1);
	size_t have = 0, off = 0;

	memset(t, 0, sizeof *t);
	t->end = -2;
	ws_reader_init(&r, MAX_MESSAGE);
	while (have < size) {
		size_t k = size - have < step ? size - have : step;
		memcpy(buf + have, data + have, k);
		have += k;
		for (;;) {
			struct ws_msg m;
			long used = ws_read(&r, buf + off, have - off, &m);
			if (used == -2) {
				/* The frame's size, once known, is more than is
				 * there and within the limit plus a header. */
				assert(r.need == 0 || (r.need > have - off &&
						       r.need <= MAX_MESSAGE + WS_HEADER_MAX));
				break;
			}
			if (used < 0) {
				assert(r.error == WS_CLOSE_PROTOCOL || r.error == WS_CLOSE_BAD_DATA ||
				       r.error == WS_CLOSE_TOO_BIG);
				t->end = r.error;
				goto out;
			}
			assert(used >= 2 && (size_t)used <= have - off);
			int in_buf = m.p >= buf + off && m.p + m.len <= buf + off + (size_t)used;
			int in_msg = m.p >= r.msg.p && r.msg.p && m.p + m.len <= r.msg.p + r.msg.cap;
			assert(!m.len || in_buf || in_msg);
			if (m.kind == WS_TEXT || m.kind == WS_BINARY)
				assert(m.len <= MAX_MESSAGE);
			if (m.kind == WS_TEXT)
				assert(utf8_valid(str_make(m.p, m.len)));
			if (t->n < EVENTS) {
				uint32_t *e = t->ev[t->n++];
				e[0] = m.kind;
				e[1] = (uint32_t)m.len;
				e[2] = m.len ? hash(m.p, m.len) : 0;
				e[3] = m.code;
			}
			off += (size_t)used;
		}
	}
out:
	ws_reader_free(&r);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace a, b, c;

	if (size == 0)
		return 0;
	run(data, size, size, &a);
	run(data, size, 1, &b);
	run(data, size, 7, &c);
	assert(a.end == b.end && a.end == c.end);
	assert(a.n == b.n && a.n == c.n);
	assert(!memcmp(a.ev, b.ev, sizeof a.ev) && !memcmp(a.ev, c.ev, sizeof a.ev));

	/* What the server writes: a header that says the length given. */
	uint8_t h[WS_HEADER_MAX];
	uint64_t len = 0;
	for (size_t i = 0; i < size && i < 8; i++)
		len = len << 8 | data[i];
	len >>= 1;
	size_t hl = ws_header(h, WS_OP_TEXT, len);
	assert(h[0] == 0x81 && !(h[1] & 0x80));
	if (hl == 2)
		assert(h[1] == len);
	else if (hl == 4)
		assert(h[1] == 126 && ((uint64_t)h[2] << 8 | h[3]) == len && len >= 126);
	else {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | h[2 + i];
		assert(hl == 10 && h[1] == 127 && v == len && len >= 65536);
	}
	return 0;
}
