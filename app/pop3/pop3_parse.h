/*
 * pop3_parse.h — pure parsers and encoders for the POP3 server.
 *
 * Design: the session keeps its input in the connection's buffer, asks
 * pop3_line_find() where the next line ends and hands that line (without
 * its line end) to pop3_cmd_parse(), which fills a struct pop3_cmd whose
 * fields are slices into the line: nothing is allocated or copied, so the
 * result lives exactly as long as the line's bytes. The same file holds the
 * other byte-level piece the session needs and that deserves unit tests
 * and a fuzz target of its own (SASL base64 is core/base64.h, PLAIN auth/sasl.h):
 * the dot-stuffer that turns a stored message
 * into a RETR or TOP response body (RFC 1939 §3), resumable chunk by chunk
 * so a large message is streamed rather than copied whole.
 *
 * Grammar: RFC 1939 commands, RFC 2449 (CAPA, and its limit of 255 octets
 * per command line including CRLF), RFC 2595 (STLS), RFC 5034 (AUTH with
 * an initial response) and RFC 6856 (UTF8).
 *
 * Leniency, on purpose and like Dovecot: verbs are case-insensitive; a line
 * may end in LF alone (the CR is dropped); runs of spaces separate
 * arguments; commands without arguments ignore anything after the verb.
 * Strict: message numbers and line counts are plain decimal digits checked
 * for overflow digit by digit; anything after the last expected argument is
 * an error ("Noise after message number").
 *
 * Caveats: the PASS argument is the rest of the line after one space,
 * spaces included (RFC 1939 allows spaces in passwords), so its slice must
 * be wiped by whoever copies it. Nothing here knows about session state;
 * whether a command is allowed now is the session's business.
 */
#ifndef TERN_POP3_POP3_PARSE_H
#define TERN_POP3_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* RFC 2449 §4: a command line is at most 255 octets including CRLF. */
#define POP3_LINE_MAX 253
/*
 * A SASL continuation line (RFC 5034 §4) is not a command; it carries a
 * base64 PLAIN message of up to two 320-octet names and a password. The
 * session takes the lines of USER, PASS and AUTH (its initial response)
 * up to this length too: a password may be longer than 255 octets allow.
 */
#define POP3_SASL_LINE_MAX 2048
/* Longest decoded SASL message accepted (base64 of POP3_SASL_LINE_MAX). */
#define POP3_SASL_MAX 1536

enum pop3_line_result {
	POP3_LINE_FOUND = 1,
	POP3_LINE_MORE = 0,
	POP3_LINE_TOO_LONG = -1,     /* over max, LF not seen yet: discard the rest */
	POP3_LINE_TOO_LONG_END = -2, /* over max, the whole line through LF consumed */
	POP3_LINE_NUL = -3,          /* a NUL octet in the line; consumed through LF */
};

/*
 * Finds the next line in p[0..len). A line ends at the first LF; a CR right
 * before it is part of the line end. max is the longest line accepted, not
 * counting the line end. At most max+2 octets of p are examined, whatever
 * len is, so a peer cannot make us scan without bound.
 *
 * Returns:
 *   POP3_LINE_FOUND         *linelen_r = length without the line end,
 *                           *consumed_r = through the LF.
 *   POP3_LINE_MORE          no LF yet in fewer than max+2 octets: call again
 *                           with more bytes (the same ones first). Both
 *                           outputs are 0.
 *   POP3_LINE_TOO_LONG      no LF within max+2 octets: *consumed_r = max+2
 *                           and the caller goes on with pop3_line_discard()
 *                           until it returns 1.
 *   POP3_LINE_TOO_LONG_END  the LF was found but the line is over max;
 *                           *consumed_r covers it through the LF (in sync).
 *   POP3_LINE_NUL           the line holds a NUL; consumed through the LF.
 * *linelen_r is 0 for every error.
 */
int pop3_line_find(const char *p, size_t len, size_t max, size_t *linelen_r, size_t *consumed_r);

/*
 * Discards input up to and including the next LF. Returns 1 when the LF
 * was found (*consumed_r counts through it), 0 when p had none
 * (*consumed_r == len: keep discarding).
 */
int pop3_line_discard(const char *p, size_t len, size_t *consumed_r);

enum pop3_verb {
	POP3_VERB_UNKNOWN = 0,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_APOP,
	POP3_VERB_AUTH,
	POP3_VERB_STLS,
	POP3_VERB_CAPA,
	POP3_VERB_UTF8,
	POP3_VERB_QUIT,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_RETR,
	POP3_VERB_DELE,
	POP3_VERB_NOOP,
	POP3_VERB_RSET,
	POP3_VERB_TOP,
	POP3_VERB_UIDL,
	POP3_VERB_LANG,
};

enum pop3_parse_result {
	POP3_PARSE_OK = 0,
	POP3_PARSE_SYNTAX = -1, /* "-ERR <cmd->err>" */
};

struct pop3_cmd {
	enum pop3_verb verb;
	struct str verb_str; /* the verb as sent (also for unknown ones) */
	/*
	 * USER: the name (rest of the line, trailing spaces removed).
	 * PASS: the rest of the line after one space, spaces kept.
	 * AUTH: the mechanism name; empty for a bare "AUTH" (list mechanisms).
	 * LANG: the language range; empty for a bare "LANG" (list languages).
	 */
	struct str arg;
	struct str initial; /* AUTH: initial response ("=" is the empty one) */
	int has_initial;
	int has_msg;      /* LIST/UIDL: a message number was given */
	uint32_t msg;     /* LIST, UIDL, RETR, DELE, TOP: as sent (0 is possible) */
	uint64_t lines;   /* TOP: body lines, clamped to UINT64_MAX on overflow */
	const char *err;  /* static reason for POP3_PARSE_SYNTAX */
};

/*
 * Parses one command line (without its line end). Always sets cmd->verb
 * and cmd->verb_str, also for POP3_VERB_UNKNOWN (which returns
 * POP3_PARSE_OK: the session answers it). Returns POP3_PARSE_OK or
 * POP3_PARSE_SYNTAX with cmd->err set.
 */
int pop3_cmd_parse(struct str line, struct pop3_cmd *cmd);

/*
 * LANG's argument (RFC 6856 §3), a basic language range (RFC 4647 §2.1:
 * "*", or 1*8ALPHA *("-" 1*8alphanum)), against the one language the
 * server's text is in, English ("en"). Matching is RFC 4647 §3.4's
 * lookup: a range is cut back subtag by subtag until it is a tag the
 * server has, so "en-GB" selects "en"; "*" asks for the server's choice.
 * Returns 1 when "en" is selected, 0 when the range asks for another
 * language, -1 when it is no language range.
 */
int pop3_lang_select(struct str range);

/*
 * The dot-stuffer for RETR and TOP. State between chunks; zero it and set
 * top/lines for TOP before the first call.
 */
struct pop3_stuff {
	int top;          /* 1: stop after the header and `lines` body lines */
	uint64_t lines;   /* TOP: body lines still to send */
	int in_body;      /* TOP: the blank line ending the header was passed */
	int mid_line;     /* the last octet copied was not an LF */
	size_t line_len;  /* octets of the current line copied so far */
	char last;        /* last octet copied */
	int done;         /* TOP: enough was sent; further calls consume nothing */
};

/*
 * Copies src[0..n) into dst (capacity cap), doubling a '.' that starts a
 * line (after an LF, or at the very start). A bare LF goes out as CRLF
 * (RFC 1939 §3: every line of a response ends in CRLF; a literal8 APPEND
 * stores LFs as sent); a bare CR is passed through, as Dovecot does.
 * Stops when src is used up, dst cannot take the next octets (a stuffed
 * dot or a CRLF needs two), or TOP's limit is reached (st->done).
 * Returns octets of src consumed and sets *written_r. To end a response
 * the caller appends CRLF when st->mid_line, then ".\r\n".
 */
size_t pop3_stuff(struct pop3_stuff *st, const char *src, size_t n, char *dst, size_t cap,
		  size_t *written_r);

#endif
