/*
 * ws_frame.c — WebSocket framing (RFC 6455 §5); see ws_frame.h.
 */
#include "http/ws_frame.h"

#include <string.h>

#include "core/utf8.h"

void ws_reader_init(struct ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof *r);
	r->max_message = max_message;
	buf_init(&r->msg, max_message);
}

void ws_reader_free(struct ws_reader *r)
{
	buf_free(&r->msg);
	r->msg_op = 0;
}

static long fail(struct ws_reader *r, uint16_t code)
{
	r->error = code;
	return -1;
}

/* A close code a peer may send (RFC 6455 §7.4). */
static int close_code_ok(unsigned c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

/* The frame's header: its length into *hlen_r and payload length into
 * *len_r; -2 need more, -1 error (r->error set). */
static long header(struct ws_reader *r, const uint8_t *p, size_t n, size_t *hlen_r,
		   uint64_t *len_r)
{
	if (n < 2)
		return -2;
	unsigned fin = p[0] >> 7, rsv = (p[0] >> 4) & 7, op = p[0] & 15;
	unsigned masked = p[1] >> 7, l7 = p[1] & 127;
	size_t h = 2;
	uint64_t len = l7;

	if (rsv)
		return fail(r, WS_CLOSE_PROTOCOL); /* no extension was agreed */
	if (!masked)
		return fail(r, WS_CLOSE_PROTOCOL); /* §5.1: a client masks every frame */
	if (op >= 8) {
		if (op > WS_OP_PONG || !fin || l7 > 125)
			return fail(r, WS_CLOSE_PROTOCOL);
	} else if (op > WS_OP_BINARY) {
		return fail(r, WS_CLOSE_PROTOCOL);
	} else if (op == WS_OP_CONT ? r->msg_op == 0 : r->msg_op != 0) {
		/* A continuation with nothing to continue, or a new message
		 * inside a fragmented one. */
		return fail(r, WS_CLOSE_PROTOCOL);
	}
	if (l7 == 126) {
		if (n < 4)
			return -2;
		len = (uint64_t)p[2] << 8 | p[3];
		if (len < 126)
			return fail(r, WS_CLOSE_PROTOCOL); /* §5.2: the shortest form */
		h = 4;
	} else if (l7 == 127) {
		if (n < 10)
			return -2;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		if (len >> 63 || len < 65536)
			return fail(r, WS_CLOSE_PROTOCOL);
		h = 10;
	}
	/* Before the payload is awaited: the limit, on the declared length. */
	if (op < 8 && len > r->max_message - buf_len(&r->msg))
		return fail(r, WS_CLOSE_TOO_BIG);
	*hlen_r = h + 4;
	*len_r = len;
	return 0;
}

long ws_read(struct ws_reader *r, char *p, size_t n, struct ws_msg *m)
{
	const uint8_t *u = (const uint8_t *)p;
	size_t h;
	uint64_t len;
	if (r->msg_op == 0 && r->msg.p)
		buf_free(&r->msg); /* the last message, handed over: an idle
				    * connection keeps no reassembly memory */
	r->need = 0;
	long rc = header(r, u, n, &h, &len);

	if (rc < 0)
		return rc;
	if (n < h || n - h < len) {
		r->need = h + (size_t)len; /* len is within max_message: header() */
		return -2;
	}
	unsigned fin = u[0] >> 7, op = u[0] & 15;
	const uint8_t *mask = u + h - 4;
	char *pay = p + h;
	for (uint64_t i = 0; i < len; i++)
		pay[i] ^= (char)mask[i & 3];
	memset(m, 0, sizeof *m);
	long used = (long)(h + len);

	switch (op) {
	case WS_OP_PING:
	case WS_OP_PONG:
		m->kind = op == WS_OP_PING ? WS_PING : WS_PONG;
		m->p = pay;
		m->len = (size_t)len;
		return used;
	case WS_OP_CLOSE:
		m->kind = WS_CLOSE;
		if (len == 1)
			return fail(r, WS_CLOSE_PROTOCOL);
		if (len >= 2) {
			m->code = (uint16_t)((uint8_t)pay[0] << 8 | (uint8_t)pay[1]);
			if (!close_code_ok(m->code))
				return fail(r, WS_CLOSE_PROTOCOL);
			m->p = pay + 2;
			m->len = (size_t)len - 2;
			if (!utf8_valid(str_make(m->p, m->len)))
				return fail(r, WS_CLOSE_BAD_DATA);
		}
		return used;
	default:
		break;
	}
	/* Data: a whole message in one frame is handed over in place. */
	if (fin && op != WS_OP_CONT) {
		m->p = pay;
		m->len = (size_t)len;
	} else {
		if (op != WS_OP_CONT)
			r->msg_op = op;
		if (buf_append(&r->msg, pay, (size_t)len) < 0)
			return fail(r, WS_CLOSE_TOO_BIG);
		if (!fin) {
			m->kind = WS_NONE;
			return used;
		}
		op = r->msg_op;
		r->msg_op = 0;
		m->p = buf_data(&r->msg);
		m->len = buf_len(&r->msg);
		/* Read by the caller before the next call, which empties it. */
	}
	m->kind = op == WS_OP_TEXT ? WS_TEXT : WS_BINARY;
	if (m->kind == WS_TEXT && !utf8_valid(str_make(m->p, m->len)))
		return fail(r, WS_CLOSE_BAD_DATA);
	return used;
}

size_t ws_header(uint8_t hdr[WS_HEADER_MAX], unsigned op, uint64_t len)
{
	hdr[0] = (uint8_t)(0x80 | (op & 15));
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}
