/*
 * sieve_lex.h — the tokens of a Sieve script (RFC 5228 §8.1).
 *
 * The lexer reads the whole script (it is in memory, bounded by
 * SIEVE_SCRIPT_MAX) one token per call, tracking line and column for
 * errors. Strings come out decoded: quoted-string escapes removed,
 * multi-line strings without their "text:" line, dot-stuffing and final
 * ".". Bare LF is accepted where CRLF is written, as other servers do.
 */
#ifndef TERN_SIEVE_LEX_H
#define TERN_SIEVE_LEX_H

#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "sieve/sieve.h"

#define SV_IDENT_MAX 32 /* octets of an identifier or a tag's name */

enum sv_tok {
	TK_EOF, TK_IDENT, TK_TAG, TK_NUMBER, TK_STRING, TK_LBRACKET, TK_RBRACKET, TK_LPAREN,
	TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_COMMA, TK_SEMI, TK_ERROR
};

struct sv_token {
	enum sv_tok type;
	uint32_t line, col;
	struct str text; /* IDENT and TAG (without ':'): the name; STRING: decoded */
	uint64_t num;
};

struct sv_lexer {
	const char *p, *end;
	uint32_t line, col;
	struct arena *arena;
	char err[SIEVE_ERROR_MAX]; /* set with TK_ERROR */
	/* a hash comment ended by the end of the script, not by CRLF (RFC
	 * 5228 §8.1's hash-comment ends with one): its line and column,
	 * line 0 when none */
	uint32_t open_comment_line, open_comment_col;
};

void sv_lex_init(struct sv_lexer *lx, const char *text, size_t len, struct arena *a);
/* Reads the next token into *t. TK_ERROR: lx->err holds the message
 * (with its position). */
void sv_lex_next(struct sv_lexer *lx, struct sv_token *t);
/* Human name of a token type ("a string", "\";\""...). */
const char *sv_tok_name(enum sv_tok t);

#endif
