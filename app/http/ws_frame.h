/*
 * ws_frame.h — WebSocket framing (RFC 6455 §5), the server's side: the
 * reader of what a client sends, and the header of what we send. Used by
 * JMAP over WebSocket (RFC 8887, http_push.c); knows nothing of JMAP.
 *
 * Design. ws_read() takes the connection's input buffer as it is and
 * reads at most one frame: it returns need-more until the whole frame is
 * there, so it takes any chunking, and it keeps no state between frames
 * but the data message being reassembled from fragments. It checks
 * everything RFC 6455 asks of a server before anything is kept: frames
 * from a client are masked; RSV bits are 0 (no extension is ever
 * agreed); the opcode is known; a control frame is whole (FIN) and at
 * most 125 octets; a length uses its shortest form; a continuation
 * follows a started message and a new message does not start inside
 * one; a close frame's code is one a peer may send and its reason is
 * UTF-8; a text message is UTF-8. The limit on a message is checked on
 * each frame's declared length before its payload is awaited, so no
 * peer's number ever sizes a buffer past it.
 *
 * Caveats: the payload is unmasked in place (the caller's buffer is
 * written). Only the reassembly buffer is allocated, up to max_message.
 */
#ifndef TERN_HTTP_WS_FRAME_H
#define TERN_HTTP_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/* Close codes (RFC 6455 §7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009

/* Octets of the longest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_HEADER_MAX 14

struct ws_reader {
	size_t max_message; /* octets of one data message, fragments together */
	struct buf msg;     /* a fragmented data message under way */
	unsigned msg_op;    /* its opcode; 0 when none is under way */
	uint16_t error;     /* after -1: the close code to send */
	size_t need;        /* after -2: the octets of the whole frame under
			     * way, header and payload, once its length was
			     * read and is within the limit (else 0): what
			     * the caller's buffer must be able to hold */
};

enum ws_kind {
	WS_NONE,   /* a fragment was taken; no message is complete yet */
	WS_TEXT,   /* a complete text message (UTF-8) */
	WS_BINARY, /* a complete binary message */
	WS_PING,
	WS_PONG,
	WS_CLOSE,  /* code 0 when the frame had none */
};

struct ws_msg {
	enum ws_kind kind;
	const char *p; /* payload: in the caller's buffer or r->msg, valid
			* until the next ws_read() or the buffer changes */
	size_t len;
	uint16_t code; /* WS_CLOSE */
};

/* A reader for messages of at most max_message octets. No allocation. */
void ws_reader_init(struct ws_reader *r, size_t max_message);
void ws_reader_free(struct ws_reader *r);

/*
 * Reads one frame from p[0..n), unmasking its payload in place: returns
 * the octets it took with *m filled; -2 when the frame is not all there
 * (nothing taken: call again with more; r->need says how much the frame
 * takes once its length was read); -1 on a protocol error, with
 * r->error the close code to answer with (1002, 1007, 1009). After -1
 * the reader must not be used again but to free it.
 */
long ws_read(struct ws_reader *r, char *p, size_t n, struct ws_msg *m);

/*
 * Writes the header of a server frame (FIN set, not masked) of op and a
 * payload of len octets into hdr (WS_HEADER_MAX octets); returns its
 * length. The payload follows it as it is.
 */
size_t ws_header(uint8_t hdr[WS_HEADER_MAX], unsigned op, uint64_t len);

#endif
