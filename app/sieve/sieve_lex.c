/*
 * sieve_lex.c — tokens of a Sieve script; see sieve_lex.h.
 */
#include "sieve/sieve_lex.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void sv_lex_init(struct sv_lexer *lx, const char *text, size_t len, struct arena *a)
{
	lx->p = text;
	lx->end = text + len;
	lx->line = 1;
	lx->col = 1;
	lx->arena = a;
	lx->err[0] = '\0';
	lx->open_comment_line = lx->open_comment_col = 0;
}

const char *sv_tok_name(enum sv_tok t)
{
	switch (t) {
	case TK_EOF: return "end of script";
	case TK_IDENT: return "an identifier";
	case TK_TAG: return "a tag";
	case TK_NUMBER: return "a number";
	case TK_STRING: return "a string";
	case TK_LBRACKET: return "\"[\"";
	case TK_RBRACKET: return "\"]\"";
	case TK_LPAREN: return "\"(\"";
	case TK_RPAREN: return "\")\"";
	case TK_LBRACE: return "\"{\"";
	case TK_RBRACE: return "\"}\"";
	case TK_COMMA: return "\",\"";
	case TK_SEMI: return "\";\"";
	default: return "an error";
	}
}

static void adv(struct sv_lexer *lx)
{
	if (*lx->p == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->p++;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void fail(struct sv_lexer *lx, struct sv_token *t, uint32_t line, uint32_t col,
                 const char *msg)
{
	t->type = TK_ERROR;
	snprintf(lx->err, sizeof(lx->err), "line %u, column %u: %s", line, col, msg);
}

/* Skips white space and comments; -1 on an unterminated bracket comment. */
static int skip_space(struct sv_lexer *lx, struct sv_token *t)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			adv(lx);
		} else if (c == '#') {
			uint32_t line = lx->line, col = lx->col;
			while (lx->p < lx->end && *lx->p != '\n')
				adv(lx);
			if (lx->p >= lx->end) {
				lx->open_comment_line = line;
				lx->open_comment_col = col;
			}
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			uint32_t line = lx->line, col = lx->col;
			adv(lx);
			adv(lx);
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					fail(lx, t, line, col, "comment \"/*\" is not closed by \"*/\"");
					lx->p = lx->end; /* all of it is the comment */
					return -1;
				}
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					adv(lx);
					adv(lx);
					break;
				}
				adv(lx);
			}
		} else {
			break;
		}
	}
	return 0;
}

static void lex_number(struct sv_lexer *lx, struct sv_token *t)
{
	uint64_t v = 0;
	while (lx->p < lx->end && is_digit(*lx->p)) {
		unsigned d = (unsigned)(*lx->p - '0');
		if (v > (UINT64_MAX - d) / 10) {
			fail(lx, t, t->line, t->col, "number is too large");
			return;
		}
		v = v * 10 + d;
		adv(lx);
	}
	if (lx->p < lx->end) {
		unsigned shift = 0;
		switch (*lx->p) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		}
		if (shift) {
			if (v > (UINT64_MAX >> shift)) {
				fail(lx, t, t->line, t->col, "number is too large");
				return;
			}
			v <<= shift;
			adv(lx);
		}
	}
	if (lx->p < lx->end && (is_alpha(*lx->p) || is_digit(*lx->p))) {
		fail(lx, t, lx->line, lx->col, "expected white space after a number");
		return;
	}
	t->type = TK_NUMBER;
	t->num = v;
}

static void lex_quoted(struct sv_lexer *lx, struct sv_token *t)
{
	const char *start;
	char *out;
	size_t n = 0;

	adv(lx); /* the opening quote */
	start = lx->p;
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			adv(lx);
		adv(lx);
	}
	if (lx->p >= lx->end) {
		fail(lx, t, t->line, t->col, "string is not closed by '\"'");
		return;
	}
	if ((size_t)(lx->p - start) > SIEVE_STRING_MAX) {
		fail(lx, t, t->line, t->col, "string is too long");
		return;
	}
	/* twice the raw length: a bare LF becomes CRLF */
	out = arena_alloc(lx->arena, 2 * (size_t)(lx->p - start) + 1);
	for (const char *q = start; q < lx->p; q++) {
		if (*q == '\\')
			q++; /* \" and \\ stand for themselves; so does any other (§2.4.2) */
		/* A line break in a string is CRLF (RFC 5228 §2.4.2), as in a
		 * multi-line one: a script saved with bare LFs would otherwise
		 * give "a\nb" here and "a\r\nb" from text:, and a quoted
		 * vacation reason bare LFs (Pigeonhole converts them too). */
		if (*q == '\n' && (n == 0 || out[n - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = *q;
	}
	out[n] = '\0';
	if (n > SIEVE_STRING_MAX) {
		fail(lx, t, t->line, t->col, "string is too long");
		return;
	}
	adv(lx); /* closing quote */
	t->type = TK_STRING;
	t->text = str_make(out, n);
}

/* The line at p (before end): its text without the line end, into
 * *ll; returns the first octet past it (its LF), end when it has none. */
static const char *text_line(const char *p, const char *end, size_t *ll)
{
	const char *le = memchr(p, '\n', (size_t)(end - p));
	if (!le)
		le = end;
	*ll = (size_t)(le - p);
	if (*ll && p[*ll - 1] == '\r')
		(*ll)--;
	return le;
}

/* "text:" *(SP / HTAB) (hash-comment / CRLF) lines "." CRLF */
static void lex_multiline(struct sv_lexer *lx, struct sv_token *t)
{
	for (int i = 0; i < 5; i++)
		adv(lx);
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		adv(lx);
	if (lx->p < lx->end && *lx->p == '#') {
		while (lx->p < lx->end && *lx->p != '\n')
			adv(lx);
	} else if (lx->p < lx->end && *lx->p == '\r') {
		adv(lx);
	}
	if (lx->p >= lx->end || *lx->p != '\n') {
		fail(lx, t, lx->line, lx->col, "expected a line end after \"text:\"");
		return;
	}
	adv(lx);
	/* First the string's size, then its copy: each line ends in CRLF
	 * (a bare LF too, one octet more than written), and ".." stands for
	 * "." (dot-stuffing; a line of ".foo" is ".foo" as written, RFC 5228
	 * §2.4.2's multiline-dotstart). Sized from the rest of the script,
	 * the buffer was overrun by a string of bare-LF lines near the end
	 * (Pigeonhole's editheader size-limit.sieve came out holding NULs),
	 * and a script of many text: strings took the rest of itself for
	 * each, 1.3 GB for one of 510 KiB. */
	size_t need = 0, ll;
	for (const char *q = lx->p;; q++) {
		const char *le = text_line(q, lx->end, &ll);
		if (ll == 1 && q[0] == '.')
			break;
		if (le == lx->end) {
			fail(lx, t, t->line, t->col, "multi-line string is not ended by a line with \".\"");
			return;
		}
		need += ll + 2 - (ll >= 2 && q[0] == '.' && q[1] == '.');
		if (need > SIEVE_STRING_MAX) {
			fail(lx, t, t->line, t->col, "string is too long");
			return;
		}
		q = le;
	}
	char *out = arena_alloc(lx->arena, need + 1);
	size_t n = 0;
	for (;;) {
		const char *ls = lx->p;
		const char *le = text_line(ls, lx->end, &ll);
		while (lx->p < le)
			adv(lx);
		if (lx->p < lx->end)
			adv(lx); /* the LF */
		if (ll == 1 && ls[0] == '.')
			break;
		if (ll >= 2 && ls[0] == '.' && ls[1] == '.')
			ls++, ll--;
		memcpy(out + n, ls, ll);
		n += ll;
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	t->type = TK_STRING;
	t->text = str_make(out, n);
}

void sv_lex_next(struct sv_lexer *lx, struct sv_token *t)
{
	memset(t, 0, sizeof(*t));
	if (skip_space(lx, t) < 0)
		return;
	t->line = lx->line;
	t->col = lx->col;
	if (lx->p >= lx->end) {
		t->type = TK_EOF;
		return;
	}
	char c = *lx->p;
	switch (c) {
	case '[': t->type = TK_LBRACKET; adv(lx); return;
	case ']': t->type = TK_RBRACKET; adv(lx); return;
	case '(': t->type = TK_LPAREN; adv(lx); return;
	case ')': t->type = TK_RPAREN; adv(lx); return;
	case '{': t->type = TK_LBRACE; adv(lx); return;
	case '}': t->type = TK_RBRACE; adv(lx); return;
	case ',': t->type = TK_COMMA; adv(lx); return;
	case ';': t->type = TK_SEMI; adv(lx); return;
	case '"': lex_quoted(lx, t); return;
	}
	if (is_digit(c)) {
		lex_number(lx, t);
		return;
	}
	if (c == ':' || is_alpha(c)) {
		const char *s;
		if (c == ':') {
			adv(lx);
			if (lx->p >= lx->end || !is_alpha(*lx->p)) {
				fail(lx, t, t->line, t->col, "expected a tag name after \":\"");
				return;
			}
		}
		s = lx->p;
		/* "text:" starts a multi-line string. */
		if (c != ':' && lx->end - s >= 5 && strncasecmp(s, "text:", 5) == 0) {
			lex_multiline(lx, t);
			return;
		}
		while (lx->p < lx->end && (is_alpha(*lx->p) || is_digit(*lx->p)))
			adv(lx);
		/* no name of a command, test or tag is near as long (RFC
		 * 5228 sets no limit; Pigeonhole's is the same) */
		if (lx->p - s > SV_IDENT_MAX) {
			fail(lx, t, t->line, t->col, c == ':' ? "tag name is too long" :
			                                        "identifier is too long");
			return;
		}
		t->type = c == ':' ? TK_TAG : TK_IDENT;
		t->text = str_make(s, (size_t)(lx->p - s));
		return;
	}
	/* U+FEFF, which editors put first in "UTF-8 with BOM" files: no
	 * Sieve text (RFC 5228 §8.1; RFC 3629 §6 has protocols that are
	 * UTF-8 throughout forbid it), refused as Pigeonhole does, but
	 * named, since the user cannot see it. */
	if (lx->end - lx->p >= 3 && !memcmp(lx->p, "\xef\xbb\xbf", 3)) {
		fail(lx, t, t->line, t->col,
		     "a UTF-8 byte order mark (U+FEFF) is not allowed in a script: save it as UTF-8 "
		     "without one");
		lx->p += 3; /* past it: the parser goes on after an error */
		lx->col++;
		return;
	}
	char msg[64];
	if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
		snprintf(msg, sizeof(msg), "unexpected character '%c'", c);
	else
		snprintf(msg, sizeof(msg), "unexpected octet 0x%02x", (unsigned char)c);
	fail(lx, t, t->line, t->col, msg);
	/* past it (a UTF-8 character whole), so the parser, which goes on
	 * after an error, gets one error for it and then the next token */
	adv(lx);
	while (lx->p < lx->end && ((unsigned char)*lx->p & 0xc0) == 0x80)
		adv(lx);
}
