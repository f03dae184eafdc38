/*
 * msieve_parse.c — ManageSieve command lines; see msieve_parse.h.
 */
#include "sieve/msieve_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

size_t msieve_line_end(const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	return lf ? (size_t)(lf - p) + 1 : 0;
}

int msieve_line_literal(const char *p, size_t e, uint64_t *n_r)
{
	size_t i = e;
	uint64_t n = 0, scale = 1;
	if (i && p[i - 1] == '\n')
		i--;
	if (i && p[i - 1] == '\r')
		i--;
	if (!i || p[--i] != '}')
		return 0;
	if (i && p[i - 1] == '+')
		i--;
	size_t digits = 0;
	/* RFC 5804 §4's number is 1*DIGIT of 32-bit value: leading zeros
	 * are allowed, as parse_args takes them ("{00000000006+}" is a
	 * literal of 6 octets there, so here too, or its octets, skipped
	 * after a refused line's end, were read as commands). */
	while (i && p[i - 1] >= '0' && p[i - 1] <= '9') {
		char d = p[--i];
		if (digits++ >= 10) {
			if (d != '0')
				return 0;
			continue;
		}
		n += (uint64_t)(d - '0') * scale;
		scale *= 10;
	}
	if (!digits || !i || p[i - 1] != '{' || n > UINT32_MAX)
		return 0;
	*n_r = n;
	return 1;
}

/* No line end within MSIEVE_LINE_MAX octets (len of them or more). */
static int too_long(size_t len, size_t *consumed_r)
{
	*consumed_r = len - MSIEVE_ANNOUNCE_MAX;
	return MSIEVE_LONG;
}

/* The line from its start to p[i) is incomplete: more is needed, unless
 * it already holds MSIEVE_LINE_MAX octets or more (its literals aside).
 * Every incomplete line passes here, however it stops (a number or a
 * literal's size of zeros grows no value to refuse it by): the limit is
 * one for the whole line, not one per kind of token. */
static int more(size_t i, size_t lit, size_t len, size_t *consumed_r)
{
	return i - lit >= MSIEVE_LINE_MAX ? too_long(len, consumed_r) : MSIEVE_MORE;
}

static int bad(struct msieve_cmd *cmd, const char *p, size_t len, size_t at, size_t *consumed_r,
               size_t *need_r, const char *why)
{
	size_t e = msieve_line_end(p + at, len - at);
	if (!e) {
		if (len >= MSIEVE_LINE_MAX)
			return too_long(len, consumed_r);
		*need_r = len + 1;
		return MSIEVE_MORE;
	}
	snprintf(cmd->err, sizeof(cmd->err), "%s", why);
	*consumed_r = at + e;
	/* The line announces a literal: its octets are the command's data,
	 * never a command of their own. */
	cmd->skip = 0;
	cmd->skip_literal = msieve_line_literal(p, at + e, &cmd->skip);
	return MSIEVE_BAD;
}

static int is_atom_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static int parse_args(const char *p, size_t len, size_t i, int space, uint32_t literal_max,
                      struct msieve_cmd *cmd, size_t *consumed_r, size_t *need_r);

int msieve_parse(const char *p, size_t len, uint32_t literal_max, struct msieve_cmd *cmd,
                 size_t *consumed_r, size_t *need_r)
{
	size_t i = 0;

	memset(cmd, 0, offsetof(struct msieve_cmd, dec));
	cmd->err[0] = '\0';
	*consumed_r = 0;
	*need_r = len + 1;
	while (i < len && is_atom_char(p[i]))
		i++;
	if (i == len)
		return len >= MSIEVE_LINE_MAX ? too_long(len, consumed_r) : MSIEVE_MORE;
	if (i == 0)
		return bad(cmd, p, len, 0, consumed_r, need_r, "Expected a command name");
	cmd->name = str_make(p, i);
	return parse_args(p, len, i, 1, literal_max, cmd, consumed_r, need_r);
}

int msieve_parse_response(const char *p, size_t len, uint32_t literal_max, struct msieve_cmd *cmd,
                          size_t *consumed_r, size_t *need_r)
{
	memset(cmd, 0, offsetof(struct msieve_cmd, dec));
	cmd->err[0] = '\0';
	*consumed_r = 0;
	*need_r = len + 1;
	if (len == 0)
		return MSIEVE_MORE;
	int r = parse_args(p, len, 0, 0, literal_max, cmd, consumed_r, need_r);
	if (r == MSIEVE_OK && (cmd->nargs != 1 || cmd->args[0].kind != MSIEVE_ARG_STRING))
		return bad(cmd, p, len, 0, consumed_r, need_r, "Expected one string");
	return r;
}

/* The arguments from p[i], each after a space (the first too when
 * space), then the line end. A line of MSIEVE_LINE_MAX octets or more
 * (its literals' octets aside) is refused whether its end has come or
 * not: taken whole, it was accepted, while the same line read in pieces
 * was MSIEVE_LONG, so the limit held only when the network cut it. */
static int parse_args(const char *p, size_t len, size_t i, int space, uint32_t literal_max,
                      struct msieve_cmd *cmd, size_t *consumed_r, size_t *need_r)
{
	size_t lit = 0; /* literal octets of the line so far */
	for (;; space = 1) {
		if (i >= len)
			return more(i, lit, len, consumed_r);
		if (space && (p[i] == '\r' || p[i] == '\n')) {
			if (i - lit >= MSIEVE_LINE_MAX)
				return bad(cmd, p, len, i, consumed_r, need_r, "Line too long.");
			if (p[i] == '\r') {
				if (i + 1 >= len)
					return more(i, lit, len, consumed_r);
				if (p[i + 1] != '\n')
					return bad(cmd, p, len, i, consumed_r, need_r, "Expected LF after CR");
				i++;
			}
			*consumed_r = i + 1;
			return MSIEVE_OK;
		}
		if (space) {
			if (p[i] != ' ')
				return bad(cmd, p, len, i, consumed_r, need_r, "Expected a space or the line end");
			i++;
			if (i >= len)
				return more(i, lit, len, consumed_r);
		}
		if (cmd->nargs >= MSIEVE_ARGS_MAX)
			return bad(cmd, p, len, i, consumed_r, need_r, "Too many arguments");
		struct msieve_arg *a = &cmd->args[cmd->nargs];
		if (p[i] == '"') {
			size_t n = 0;
			char *d = cmd->dec[cmd->nargs];
			for (i++;; i++) {
				if (i >= len)
					return more(i, lit, len, consumed_r);
				char c = p[i];
				if (c == '"')
					break;
				if (c == '\r' || c == '\n' || c == '\0')
					return bad(cmd, p, len, i, consumed_r, need_r, "Line end or NUL in a quoted string");
				if (c == '\\') {
					if (i + 1 >= len)
						return more(i, lit, len, consumed_r);
					c = p[++i];
					if (c != '"' && c != '\\')
						return bad(cmd, p, len, i, consumed_r, need_r, "Invalid escape in a quoted string");
				}
				if (n >= MSIEVE_QUOTED_MAX)
					return bad(cmd, p, len, i, consumed_r, need_r, "Quoted string too long");
				d[n++] = c;
			}
			i++;
			/* RFC 5804 §4: QUOTED-CHAR is SAFE-UTF8-CHAR (Pigeonhole
			 * refuses the rest too); a literal is octets. */
			if (!utf8_valid(str_make(d, n)))
				return bad(cmd, p, len, i, consumed_r, need_r, "Invalid UTF-8 in a quoted string");
			a->kind = MSIEVE_ARG_STRING;
			a->s = str_make(d, n);
		} else if (p[i] == '{') {
			/* The size, then "+}" or "}" and the line end, checked
			 * whole before its size decides anything: a malformed
			 * announcement is a syntax error, its line's end the
			 * command's end, whatever size it names. The line is
			 * capped (more()), so its digits are too; past 32 bits
			 * only that it is past them counts. */
			uint64_t n = 0;
			size_t digits = 0;
			for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++)
				if (n <= UINT32_MAX)
					n = n * 10 + (uint64_t)(p[i] - '0');
			if (i >= len)
				return more(i, lit, len, consumed_r);
			if (digits == 0)
				return bad(cmd, p, len, i, consumed_r, need_r, "Expected digits in a literal");
			/* RFC 5804 §4: "number" is 32-bit. A size past it
			 * announces no literal, so no octets follow to be
			 * skipped: the command ends at this line's end, and
			 * the next line is a command again. */
			if (n > UINT32_MAX)
				return bad(cmd, p, len, i, consumed_r, need_r,
				           "Literal size is not a 32-bit number");
			if (p[i] == '+')
				i++;
			if (i >= len)
				return more(i, lit, len, consumed_r);
			if (p[i] != '}')
				return bad(cmd, p, len, i, consumed_r, need_r, "Expected '}' ending a literal");
			i++;
			if (i < len && p[i] == '\r')
				i++;
			if (i >= len)
				return more(i, lit, len, consumed_r);
			if (p[i] != '\n')
				return bad(cmd, p, len, i, consumed_r, need_r, "Expected CRLF after a literal's size");
			i++;
			if (n > literal_max) {
				/* Nothing of it is buffered: its octets (on their
				 * way, non-synchronising) are the caller's to skip. */
				*consumed_r = i;
				cmd->skip = n;
				snprintf(cmd->err, sizeof(cmd->err), "Literal larger than %u octets",
				         (unsigned)literal_max);
				return MSIEVE_TOOBIG;
			}
			if (len - i < n) {
				/* Its octets are read whole, even after a long
				 * line: dropped as the line's rest, they would be
				 * read as commands. The line's length is judged
				 * at its end, after them. */
				*need_r = i + (size_t)n + 1;
				return MSIEVE_MORE;
			}
			a->kind = MSIEVE_ARG_STRING;
			a->literal = 1;
			a->s = str_make(p + i, (size_t)n);
			i += (size_t)n;
			lit += (size_t)n;
		} else if (p[i] >= '0' && p[i] <= '9') {
			uint64_t n = 0;
			for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
				if (n > (UINT64_MAX - 9) / 10)
					return bad(cmd, p, len, i, consumed_r, need_r, "Number too large");
				n = n * 10 + (uint64_t)(p[i] - '0');
			}
			a->kind = MSIEVE_ARG_NUMBER;
			a->num = n;
		} else {
			return bad(cmd, p, len, i, consumed_r, need_r,
			           "Expected a quoted string, a literal or a number");
		}
		cmd->nargs++;
	}
}
