/*
 * msieve_parse.h — ManageSieve (RFC 5804) command lines: a command name,
 * then up to MSIEVE_ARGS_MAX arguments separated by spaces (quoted
 * strings, literals "{N}" or "{N+}" followed by CRLF and N octets, or
 * numbers), then CRLF (a bare LF is accepted).
 *
 * Design: the session keeps a command's bytes in its input buffer until
 * the whole command is there (literals included, bounded by the caller's
 * literal_max), and msieve_parse() reads it from the start each
 * time, telling through *need_r how many octets must be buffered before a
 * new attempt can succeed, so a large literal arriving in pieces is not
 * scanned again for every piece. The literal's size is checked against
 * that maximum at its announcement's end ("+}" or "}", then the line
 * end), before anything is buffered for it (the line, its digits
 * included, is capped at MSIEVE_LINE_MAX); a malformed announcement
 * is a syntax error whatever size it names; a size past 32 bits is no
 * RFC 5804 "number", so a syntax error (MSIEVE_BAD), not a literal whose
 * octets are to be skipped.
 *
 * Caveats: quoted strings are at most MSIEVE_QUOTED_MAX octets of UTF-8
 * (RFC 5804 §4's SAFE-UTF8-CHAR; a literal may hold any octets) and are
 * decoded into the command struct; literals point into the input.
 */
#ifndef TERN_SIEVE_MSIEVE_PARSE_H
#define TERN_SIEVE_MSIEVE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "sieve/sieve.h"

#define MSIEVE_ARGS_MAX 4
#define MSIEVE_LINE_MAX 8192       /* a command without its literals' octets */
/* "{4294967295+}" CR: the longest literal announcement before its LF. A
 * line dropped in pieces keeps that many last octets for the next piece. */
#define MSIEVE_ANNOUNCE_MAX 14
/* One quoted string, decoded. A SASL response is a quoted string as
 * often as a literal (sieve-connect, Thunderbird's sieve add-on): the
 * longest the login flow takes, base64-encoded, is 2048 octets (a PLAIN
 * response with a 256-character password of 4-octet characters is about
 * 1400), so a string must hold that (msieve_session.c asserts it). */
#define MSIEVE_QUOTED_MAX 2048
#define MSIEVE_LITERAL_MAX SIEVE_SCRIPT_MAX
/* Before authentication a literal can only carry a SASL response or a
 * NOOP tag: 4096 octets hold the longest PLAIN or LOGIN response the
 * login flow takes, base64-encoded (msieve_session.c asserts it), and
 * stop an unauthenticated client from parking a script's worth of
 * memory in each connection (IMAP's IMAP_LITERAL_PREAUTH, too). */
#define MSIEVE_LITERAL_PREAUTH 4096

enum msieve_argkind { MSIEVE_ARG_STRING, MSIEVE_ARG_NUMBER };

struct msieve_arg {
	enum msieve_argkind kind;
	struct str s;  /* STRING: the decoded quoted string or the literal */
	uint64_t num;  /* NUMBER */
	int literal;   /* STRING given as a literal */
};

struct msieve_cmd {
	struct str name; /* into the input */
	int nargs;
	struct msieve_arg args[MSIEVE_ARGS_MAX];
	char dec[MSIEVE_ARGS_MAX][MSIEVE_QUOTED_MAX]; /* quoted strings, decoded */
	char err[128];   /* MSIEVE_BAD / MSIEVE_TOOBIG: why */
	uint64_t skip;   /* MSIEVE_TOOBIG, MSIEVE_BAD: literal octets still to discard */
	int skip_literal; /* MSIEVE_BAD: the line ended announcing a literal (of
	                   * skip octets, maybe 0): the command goes on after it */
};

enum msieve_parse_result {
	MSIEVE_OK = 1,     /* *consumed_r octets form the command */
	MSIEVE_MORE = 0,   /* incomplete: call again once *need_r octets are there */
	MSIEVE_BAD = -1,   /* syntax error: *consumed_r octets (through the line end)
	                    * are to be dropped, then, when the line ends
	                    * announcing a literal (cmd->skip_literal), cmd->skip
	                    * more and up to a line end (as for TOOBIG); cmd->err
	                    * says why */
	MSIEVE_LONG = -2,  /* no line end within MSIEVE_LINE_MAX: drop *consumed_r
	                    * octets (all but the last MSIEVE_ANNOUNCE_MAX, which
	                    * may begin a literal's announcement) and the rest
	                    * up to the next line end */
	MSIEVE_TOOBIG = -3, /* a literal over literal_max: drop *consumed_r
	                    * octets, then cmd->skip more, then up to a line end */
};

/*
 * Parses one command from p[0..len), each literal at most literal_max
 * octets (MSIEVE_LITERAL_MAX, or MSIEVE_LITERAL_PREAUTH before
 * authentication; at most UINT32_MAX). Sets *consumed_r for OK, BAD,
 * LONG and TOOBIG, *need_r (> len) for MORE.
 */
int msieve_parse(const char *p, size_t len, uint32_t literal_max, struct msieve_cmd *cmd,
                 size_t *consumed_r, size_t *need_r);

/*
 * Parses one SASL response line (RFC 5804 §2.1: a quoted string or a
 * literal, then CRLF) from p[0..len) into cmd->args[0], as msieve_parse
 * parses an argument (cmd->name empty). Same limit and results; BAD also for
 * anything but exactly one string.
 */
int msieve_parse_response(const char *p, size_t len, uint32_t literal_max, struct msieve_cmd *cmd,
                          size_t *consumed_r, size_t *need_r);

/*
 * Finds the end of the line in p[0..len): returns the octets up to and
 * including the LF, or 0 when there is none.
 */
size_t msieve_line_end(const char *p, size_t len);

/*
 * Whether the line ending at p[e) (its LF included, p[0..e) reaching back
 * at least to the line's start or to the announcement) ends announcing a
 * literal, "{N}" or "{N+}" with N a 32-bit number (leading zeros allowed,
 * as msieve_parse takes them): 1 and *n_r = N, else 0.
 * A command refused before its end still has that literal's octets on
 * the way: they are to be skipped, not read as commands.
 */
int msieve_line_literal(const char *p, size_t e, uint64_t *n_r);

#endif
