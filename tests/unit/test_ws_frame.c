/*
 * test_ws_frame.c — the WebSocket frame reader (ws_frame.h): RFC 6455's
 * examples (§5.7, masked as a client sends them), fragments with a
 * control frame between them, every refusal and its close code, the
 * message limit taken on the declared length, and every frame fed one
 * byte at a time (need-more until its last byte, with the frame's size
 * once its length is there).
 */
#include <string.h>

#include "http/ws_frame.h"
#include "unit.h"

static size_t frame(char *out, unsigned first, const char *p, size_t n)
{
	static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t o = 0;
	out[o++] = (char)first;
	if (n < 126) {
		out[o++] = (char)(0x80 | n);
	} else {
		out[o++] = (char)(0x80 | 126);
		out[o++] = (char)(n >> 8);
		out[o++] = (char)n;
	}
	memcpy(out + o, key, 4);
	o += 4;
	for (size_t i = 0; i < n; i++)
		out[o + i] = (char)(p[i] ^ key[i & 3]);
	return o + n;
}

/* Reads buf[0..n) as one frame, after checking that every shorter prefix
 * is need-more, saying the frame's whole size once its length (2, 4 or
 * 10 octets in) is there. Returns ws_read's result for the whole. */
static long one(struct ws_reader *r, char *buf, size_t n, struct ws_msg *m)
{
	char copy[512];
	unsigned l7 = n > 1 ? (unsigned char)buf[1] & 127 : 0;
	size_t known = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
	for (size_t k = 0; k < n; k++) {
		memcpy(copy, buf, k);
		CHECK_EQ_INT(ws_read(r, copy, k, m), -2);
		CHECK_EQ_INT((long)r->need, k >= known ? (long)n : 0);
	}
	return ws_read(r, buf, n, m);
}

int main(void)
{
	struct ws_reader r;
	struct ws_msg m;
	char b[512];
	size_t n;

	ws_reader_init(&r, 300);
	/* §5.7: a single-frame masked text message "Hello". */
	const char hello[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
	memcpy(b, hello, 11);
	CHECK_EQ_INT(one(&r, b, 11, &m), 11);
	CHECK(m.kind == WS_TEXT && m.len == 5 && !memcmp(m.p, "Hello", 5));
	/* Fragmented "Hel" + "lo" with a ping between. */
	n = frame(b, 0x01, "Hel", 3);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_NONE);
	n = frame(b, 0x89, "ping", 4);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_PING && m.len == 4 && !memcmp(m.p, "ping", 4));
	n = frame(b, 0x80, "lo", 2);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_TEXT && m.len == 5 && !memcmp(m.p, "Hello", 5));
	/* 16-bit length. */
	char big[200];
	memset(big, 'z', sizeof big);
	n = frame(b, 0x82, big, sizeof big);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_BINARY && m.len == 200);
	/* Close with a code and reason; an empty close. */
	n = frame(b, 0x88, "\x03\xe8ok", 4);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_CLOSE && m.code == 1000 && m.len == 2);
	n = frame(b, 0x88, "", 0);
	CHECK_EQ_INT(one(&r, b, n, &m), (long)n);
	CHECK(m.kind == WS_CLOSE && m.code == 0);
	ws_reader_free(&r);

	/* Refusals: each on a fresh reader. */
	struct {
		unsigned first;
		const char *p;
		size_t n;
		int mask;
		unsigned code;
	} bad[] = {
	    {0x81, "x", 1, 0, WS_CLOSE_PROTOCOL},      /* not masked */
	    {0xc1, "x", 1, 1, WS_CLOSE_PROTOCOL},      /* RSV1 */
	    {0x83, "x", 1, 1, WS_CLOSE_PROTOCOL},      /* opcode 3 */
	    {0x8b, "x", 1, 1, WS_CLOSE_PROTOCOL},      /* opcode 0xB */
	    {0x09, "x", 1, 1, WS_CLOSE_PROTOCOL},      /* fragmented ping */
	    {0x80, "x", 1, 1, WS_CLOSE_PROTOCOL},      /* continuation of nothing */
	    {0x81, "\xc3\x28", 2, 1, WS_CLOSE_BAD_DATA}, /* not UTF-8 */
	    {0x88, "\x03", 1, 1, WS_CLOSE_PROTOCOL},   /* close of one octet */
	    {0x88, "\x03\xed", 2, 1, WS_CLOSE_PROTOCOL}, /* 1005 is never sent */
	    {0x88, "\x03\xe8\xff", 3, 1, WS_CLOSE_BAD_DATA},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ws_reader_init(&r, 300);
		n = frame(b, bad[i].first, bad[i].p, bad[i].n);
		if (!bad[i].mask) {
			b[1] &= 0x7f;
			memmove(b + 2, b + 6, n - 6);
			memcpy(b + 2, bad[i].p, bad[i].n);
			n -= 4;
		}
		CHECK_EQ_INT(ws_read(&r, b, n, &m), -1);
		CHECK_EQ_INT(r.error, bad[i].code);
		ws_reader_free(&r);
	}
	/* A new message inside a fragmented one. */
	ws_reader_init(&r, 300);
	n = frame(b, 0x01, "a", 1);
	CHECK_EQ_INT(ws_read(&r, b, n, &m), (long)n);
	n = frame(b, 0x81, "b", 1);
	CHECK_EQ_INT(ws_read(&r, b, n, &m), -1);
	CHECK_EQ_INT(r.error, WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);
	/* Over the limit: refused on the header alone, also across fragments. */
	ws_reader_init(&r, 300);
	const char hdr64[] = "\x81\xff\x00\x00\x00\x00\x00\x10\x00\x00";
	CHECK_EQ_INT(ws_read(&r, (char *)memcpy(b, hdr64, 10), 10, &m), -1);
	CHECK_EQ_INT(r.error, WS_CLOSE_TOO_BIG);
	CHECK_EQ_INT((long)r.need, 0); /* no buffer is sized by it */
	ws_reader_free(&r);
	/* Within it, a frame under way says its size (a 64-bit length). */
	ws_reader_init(&r, 70000);
	const char hdr64ok[] = "\x81\xff\x00\x00\x00\x00\x00\x01\x00\x00";
	CHECK_EQ_INT(ws_read(&r, (char *)memcpy(b, hdr64ok, 10), 10, &m), -2);
	CHECK_EQ_INT((long)r.need, 14 + 65536);
	ws_reader_free(&r);
	ws_reader_init(&r, 300);
	n = frame(b, 0x01, big, 200);
	CHECK_EQ_INT(ws_read(&r, b, n, &m), (long)n);
	n = frame(b, 0x80, big, 101);
	CHECK_EQ_INT(ws_read(&r, b, 4, &m), -1); /* the header is enough */
	CHECK_EQ_INT(r.error, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
	/* A length not in its shortest form. */
	ws_reader_init(&r, 300);
	const char long16[] = "\x81\xfe\x00\x05";
	CHECK_EQ_INT(ws_read(&r, (char *)memcpy(b, long16, 4), 4, &m), -1);
	CHECK_EQ_INT(r.error, WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);

	/* The server's headers. */
	uint8_t h[WS_HEADER_MAX];
	CHECK_EQ_INT(ws_header(h, WS_OP_TEXT, 5), 2);
	CHECK(h[0] == 0x81 && h[1] == 5);
	CHECK_EQ_INT(ws_header(h, WS_OP_CLOSE, 300), 4);
	CHECK(h[0] == 0x88 && h[1] == 126 && h[2] == 1 && h[3] == 44);
	CHECK_EQ_INT(ws_header(h, WS_OP_TEXT, 70000), 10);
	CHECK(h[1] == 127 && h[7] == 1 && h[8] == 0x11 && h[9] == 0x70);
	return unit_done("test_ws_frame");
}
