/*
 * sieve_parse.c — the grammar of RFC 5228 §8.2 and the checks of each
 * command's table entry, in one pass: `require` comes first, so a
 * command is checked against the extensions required before it.
 *
 * Errors name the position of the token at fault and what was expected
 * there. The first error in a command abandons it: parse_block() then
 * skips to the command's end (recover()) and goes on with the next one,
 * so a script's errors are all reported (sieve_errors keeps the first
 * few and counts the rest); any error fails the compilation.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_date.h"
#include "sieve/sieve_lex.h"
#include "sieve/sieve_mailto.h"
#include "sieve/sieve_private.h"

#define ARGS_MAX 32
#define TESTS_MAX 256

struct parser {
	struct sv_lexer lx;
	struct sv_token tok;
	struct arena *a;
	uint64_t exts;
	int seen_command; /* a command other than require was seen */
	int depth;
	int lenient; /* inside an ihave block for an unknown extension */
	struct str loops[SIEVE_LOOPS_MAX]; /* names of the enclosing foreverypart loops */
	int nloops;
	/* errors of syntax (the text is no Sieve: lexer, grammar, nesting)
	 * and the others (names, arguments): a script with the first is
	 * reported with those alone, as Pigeonhole, which checks names and
	 * arguments only on a script that parses, does (the others may be
	 * of commands the parser misread) */
	struct sieve_errors syntax, other;
	/* unknown command and test names reported already: each once, as
	 * Pigeonhole (a list of "frop" errors says nothing more) */
	struct str unknown[16];
	int nunknown;
	int failed; /* the command being parsed has an error: unwinding to parse_block */
	int recovering; /* recover() skips the failing command's tokens */
	int open; /* "(" and "[" of the current command not closed yet */
	int too_deep; /* the error was nesting too deep */
	/* warnings (RFC 5804 §1.3's WARNINGS): "line L, column C: text"
	 * joined by "; ", as many as fit */
	char warn[SIEVE_WARNINGS_MAX];
	size_t warnlen;
	/* RFC 6609 §3.3: the variables used as local ones so far (set, read
	 * by "${NAME}") and those declared global, distinct names each (past
	 * SIEVE_VARS_MAX no more are noted) */
	struct str locals[SIEVE_VARS_MAX], globals[SIEVE_VARS_MAX];
	int nlocals, nglobals;
	/* the distinct constant names the script stores into (set,
	 * extracttext, a flag variable): those of its own frame and global
	 * ones, as the run's tables hold them (sieve_vars.c), each up to
	 * SIEVE_VARS_MAX; too_many_vars once one more is refused */
	struct str made[SIEVE_VARS_MAX], made_globals[SIEVE_VARS_MAX];
	int nmade, nmade_globals, too_many_vars;
};

struct raw_arg {
	uint8_t kind; /* A_NONE: a tag; A_STR, A_LIST, A_NUM */
	uint32_t line, col;
	struct str tag;
	struct str *strs;
	uint32_t n;
	uint64_t num;
};

/* s as one line (ManageSieve sends errors one a line): a control
 * character the script wrote is "?", and with text 1 an octet of
 * invalid UTF-8 too (warnings go in a quoted string; errors go in a
 * literal, their octets as written) */
static void one_line(char *s, int text)
{
	size_t len = strlen(s);
	int utf8 = !text || utf8_valid(str_make(s, len));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (!utf8 && (unsigned char)s[i] >= 0x80))
			s[i] = '?';
}

/* Counts an error and returns where its text goes: NULL past the
 * SIEVE_ERRORS_MAX kept (memory stays bounded whatever the script). */
static char *add_error(struct sieve_errors *errs)
{
	return errs->n++ < SIEVE_ERRORS_MAX ? errs->text[errs->n - 1] : NULL;
}

/* What an error does to the parse: ERR_CMD abandons the command (its
 * first error: what follows from it is not news; recover() skips the
 * rest), ERR_SYNTAX likewise for an error of syntax, ERR_SOFT leaves the
 * syntax readable (an unknown name): the command is parsed on, as one
 * of unknown meaning, so the mistakes in its arguments and block are
 * reported too (Pigeonhole parses first and checks names after, so it
 * finds both). */
enum { ERR_CMD, ERR_SYNTAX, ERR_SOFT };

static void report(struct parser *ps, int kind, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void report(struct parser *ps, int kind, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	if (kind != ERR_SOFT) {
		if (ps->failed)
			return;
		ps->failed = 1;
	}
	char *e = add_error(kind == ERR_SYNTAX ? &ps->syntax : &ps->other);
	if (!e)
		return;
	int n = snprintf(e, SIEVE_ERROR_MAX, "line %u, column %u: ", line, col);
	va_start(ap, fmt);
	vsnprintf(e + n, SIEVE_ERROR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	one_line(e, 0);
}
#define errf(ps, ...) report(ps, ERR_CMD, __VA_ARGS__)
#define synf(ps, ...) report(ps, ERR_SYNTAX, __VA_ARGS__)
#define soft_errf(ps, ...) report(ps, ERR_SOFT, __VA_ARGS__)

static void warnf(struct parser *ps, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Something the script may do but likely did not mean: it compiles and
 * runs, and ManageSieve tells the user (Pigeonhole warns alike). A
 * warning that does not fit is dropped. */
static void warnf(struct parser *ps, uint32_t line, uint32_t col, const char *fmt, ...)
{
	char one[SIEVE_ERROR_MAX];
	va_list ap;
	int n = snprintf(one, sizeof(one), "line %u, column %u: warning: ", line, col);
	va_start(ap, fmt);
	vsnprintf(one + n, sizeof(one) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strlen(one), sep = ps->warnlen ? 2 : 0;
	one_line(one, 1);
	if (ps->warnlen + sep + len + 1 > sizeof(ps->warn))
		return;
	if (sep)
		memcpy(ps->warn + ps->warnlen, "; ", 2);
	memcpy(ps->warn + ps->warnlen + sep, one, len + 1);
	ps->warnlen += sep + len;
}

static void next(struct parser *ps)
{
	sv_lex_next(&ps->lx, &ps->tok);
	/* a bad token is an error, but not one in a command already
	 * reported and skipped: "$$$" is one mistake, not three */
	if (ps->tok.type == TK_ERROR && !ps->recovering) {
		char *e = add_error(&ps->syntax);
		if (e)
			snprintf(e, SIEVE_ERROR_MAX, "%s", ps->lx.err);
		ps->failed = 1;
	}
}

static int expect(struct parser *ps, enum sv_tok t, const char *what)
{
	if (ps->failed)
		return -1;
	if (ps->tok.type != t) {
		synf(ps, ps->tok.line, ps->tok.col, "expected %s, found %s", what,
		     sv_tok_name(ps->tok.type));
		return -1;
	}
	next(ps);
	return 0;
}

/* ---- encoded-character (RFC 5228 §2.4.2.4) ---- */

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Decodes one "${hex:...}" or "${unicode:...}" at s[i] (s[i] == '$').
 * Returns the octets consumed and appends the decoded text to o (*on
 * advanced), 0 when it is not a well-formed encoding (left as is), or -1
 * for a code point outside Unicode (an error, §2.4.2.4).
 */
static long decode_one(struct str s, size_t i, char *o, size_t *on)
{
	size_t j = i + 2, k;
	int unicode;
	size_t start_on = *on;

	if (i + 2 >= s.len || s.p[i + 1] != '{')
		return 0;
	if (s.len - j >= 4 && strncasecmp(s.p + j, "hex:", 4) == 0) {
		unicode = 0;
		j += 4;
	} else if (s.len - j >= 8 && strncasecmp(s.p + j, "unicode:", 8) == 0) {
		unicode = 1;
		j += 8;
	} else {
		return 0;
	}
	int any = 0, bad = 0;
	for (;;) {
		while (j < s.len && is_blank(s.p[j]))
			j++;
		if (j >= s.len)
			goto malformed;
		if (s.p[j] == '}')
			break;
		k = j;
		uint32_t v = 0;
		size_t digits = 0; /* past the leading zeros: unicode-hex = 1*HEXDIG */
		while (k < s.len && hex_digit(s.p[k]) >= 0) {
			if (digits || hex_digit(s.p[k]))
				digits++;
			if (digits <= 7)
				v = v << 4 | (uint32_t)hex_digit(s.p[k]);
			k++;
		}
		if (k == j || (k < s.len && !is_blank(s.p[k]) && s.p[k] != '}'))
			goto malformed;
		if (!unicode) {
			if (k - j > 2) /* hex-pair = 1*2HEXDIG */
				goto malformed;
			o[(*on)++] = (char)v;
		} else if (digits > 6 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
			/* An error only once the encoding is known to be one:
			 * "${unicode:D800" unterminated stays as written. */
			bad = 1;
		} else {
			*on += put_utf8(o + *on, v);
		}
		any = 1;
		j = k;
	}
	if (!any)
		goto malformed;
	if (bad) {
		*on = start_on;
		return -1;
	}
	return (long)(j + 1 - i);
malformed:
	*on = start_on;
	return 0;
}

static int decode_encoded(struct parser *ps, struct raw_arg *ra, struct str *s)
{
	char *o;
	size_t on = 0;
	if (!memchr(s->p, '$', s->len))
		return 0;
	/* UTF-8 of a 6-digit code point is 4 octets: never longer than the source. */
	o = arena_alloc(ps->a, s->len + 1);
	for (size_t i = 0; i < s->len;) {
		if (s->p[i] == '$') {
			long n = decode_one(*s, i, o, &on);
			if (n < 0) {
				errf(ps, ra->line, ra->col, "encoded character is not a Unicode code point");
				return -1;
			}
			if (n > 0) {
				i += (size_t)n;
				continue;
			}
		}
		o[on++] = s->p[i++];
	}
	o[on] = '\0';
	*s = str_make(o, on);
	return 0;
}

/* ---- arguments ---- */

static int parse_string_list(struct parser *ps, struct raw_arg *ra)
{
	struct str tmp[SIEVE_LIST_MAX];
	uint32_t n = 0;

	next(ps); /* '[' */
	ps->open++;
	for (;;) {
		if (ps->failed)
			return -1;
		if (ps->tok.type != TK_STRING) {
			synf(ps, ps->tok.line, ps->tok.col, "expected a string in the list, found %s",
			     sv_tok_name(ps->tok.type));
			return -1;
		}
		if (n >= SIEVE_LIST_MAX) {
			synf(ps, ps->tok.line, ps->tok.col, "string list has more than %d strings",
			     SIEVE_LIST_MAX);
			return -1;
		}
		tmp[n++] = ps->tok.text;
		next(ps);
		if (ps->tok.type == TK_COMMA) {
			next(ps);
			continue;
		}
		if (expect(ps, TK_RBRACKET, "\",\" or \"]\"") < 0)
			return -1;
		ps->open--;
		break;
	}
	ra->kind = A_LIST;
	ra->n = n;
	ra->strs = arena_alloc(ps->a, n * sizeof(struct str));
	memcpy(ra->strs, tmp, n * sizeof(struct str));
	return 0;
}

static int parse_args(struct parser *ps, struct raw_arg *args, int *nargs)
{
	*nargs = 0;
	for (;;) {
		struct raw_arg *ra;
		enum sv_tok t = ps->tok.type;
		if (ps->failed)
			return -1;
		if (t != TK_LBRACKET && t != TK_STRING && t != TK_NUMBER && t != TK_TAG)
			return 0;
		if (*nargs >= ARGS_MAX) {
			synf(ps, ps->tok.line, ps->tok.col, "more than %d arguments", ARGS_MAX);
			return -1;
		}
		ra = &args[(*nargs)++];
		memset(ra, 0, sizeof(*ra));
		ra->line = ps->tok.line;
		ra->col = ps->tok.col;
		if (t == TK_LBRACKET) {
			if (parse_string_list(ps, ra) < 0)
				return -1;
		} else if (t == TK_STRING) {
			ra->kind = A_STR;
			ra->n = 1;
			ra->strs = arena_alloc(ps->a, sizeof(struct str));
			ra->strs[0] = ps->tok.text;
			next(ps);
		} else if (t == TK_NUMBER) {
			ra->kind = A_NUM;
			ra->num = ps->tok.num;
			next(ps);
		} else {
			ra->kind = A_NONE;
			ra->tag = ps->tok.text;
			next(ps);
		}
	}
}

static int has_ext(struct parser *ps, int ext)
{
	return ext < 0 || (ps->exts >> ext & 1);
}

static int is_identifier(struct str s);

static int name_in(const struct str *names, int n, struct str name)
{
	for (int i = 0; i < n; i++)
		if (str_eq_ci(names[i], name))
			return 1;
	return 0;
}

/* NAME (an identifier) used as a variable from here: a local one unless
 * a global command declared it before. */
static void note_local(struct parser *ps, struct str name)
{
	if (!has_ext(ps, EXT_INCLUDE) || ps->nlocals >= SIEVE_VARS_MAX ||
	    name_in(ps->globals, ps->nglobals, name) || name_in(ps->locals, ps->nlocals, name))
		return;
	ps->locals[ps->nlocals++] = name;
}

/* NAME (global when the script stores into the global one) is
 * stored into here. RFC 5229 leaves the number of variables to the
 * implementation; a script that names more than the run's table holds
 * (SIEVE_VARS_MAX) would fail at every delivery on reaching the one too
 * many, so it is refused at upload instead, with one error. The run
 * still checks (a name built at run time, the globals of several
 * included scripts). */
static int note_made(struct parser *ps, const struct sv_node *n, struct str name, int global)
{
	struct str *tab = global ? ps->made_globals : ps->made;
	int *count = global ? &ps->nmade_globals : &ps->nmade;
	if (ps->too_many_vars || name_in(tab, *count, name))
		return 0;
	if (*count >= SIEVE_VARS_MAX) {
		ps->too_many_vars = 1;
		errf(ps, n->line, n->col, "more than %d %svariables", SIEVE_VARS_MAX, global ? "global " : "");
		return -1;
	}
	tab[(*count)++] = name;
	return 0;
}

/* The variables "${NAME}" reads in s (namespaced and match variables
 * are no local ones). */
static void note_refs(struct parser *ps, struct str s)
{
	for (size_t i = 0; i + 2 < s.len; i++) {
		if (s.p[i] != '$' || s.p[i + 1] != '{')
			continue;
		size_t e = i + 2;
		while (e < s.len && s.p[e] != '}' && e - i - 2 <= SIEVE_VAR_NAME_MAX)
			e++;
		struct str name = str_make(s.p + i + 2, e - i - 2);
		if (e < s.len && s.p[e] == '}' && is_identifier(name))
			note_local(ps, name);
	}
}

int sv_script_name_ok(struct str s)
{
	if (s.len == 0 || !utf8_valid(s))
		return 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == 0xc2 && i + 1 < s.len && (unsigned char)s.p[i + 1] < 0xa0)
			return 0; /* U+0080..U+009F */
		if (c == 0xe2 && i + 2 < s.len && (unsigned char)s.p[i + 1] == 0x80 &&
		    ((unsigned char)s.p[i + 2] == 0xa8 || (unsigned char)s.p[i + 2] == 0xa9))
			return 0; /* U+2028, U+2029 */
	}
	return 1;
}

/* RFC 5229 §6: a match variable above those supported (${0} to
 * ${SIEVE_MATCH_VARS_MAX}) is a syntax error, found at compile time
 * (tern expanded "${10}" to nothing). Leading zeroes are ignored
 * (§3.2): "${0001}" is "${1}". */
static int check_match_refs(struct parser *ps, const struct raw_arg *ra, struct str s)
{
	for (size_t i = 0; i + 2 < s.len; i++) {
		if (s.p[i] != '$' || s.p[i + 1] != '{' || s.p[i + 2] < '0' || s.p[i + 2] > '9')
			continue;
		size_t e = i + 2;
		unsigned long num = 0;
		while (e < s.len && s.p[e] >= '0' && s.p[e] <= '9') {
			if (num <= SIEVE_MATCH_VARS_MAX)
				num = num * 10 + (unsigned long)(s.p[e] - '0');
			e++;
		}
		if (e < s.len && s.p[e] == '}' && num > SIEVE_MATCH_VARS_MAX) {
			errf(ps, ra->line, ra->col, "match variable \"${%.*s}\" is out of range (at most ${%d})",
			     (int)(e - i - 2 > 20 ? 20 : e - i - 2), s.p + i + 2, SIEVE_MATCH_VARS_MAX);
			return -1;
		}
	}
	/* RFC 5229 §3: a reference into a namespace no extension required
	 * gave is an error; tern's one namespace is include's "global"
	 * (RFC 6609 §3.5). tern expanded "${namespace.frop}" to nothing. */
	for (size_t i = 0; i + 2 < s.len; i++) {
		if (s.p[i] != '$' || s.p[i + 1] != '{')
			continue;
		size_t e = i + 2, dot = 0;
		while (e < s.len && s.p[e] != '}' && e - i - 2 <= SIEVE_VAR_NAME_MAX) {
			if (s.p[e] == '.' && !dot)
				dot = e;
			e++;
		}
		struct str name = str_make(s.p + i + 2, e - i - 2);
		if (!dot || e >= s.len || s.p[e] != '}' || !sv_namespaced_name_ok(name))
			continue;
		struct str ns = str_make(name.p, dot - i - 2);
#ifdef SIEVE_TESTSUITE
		if (sv_hook && sv_hook->ns && has_ext(ps, EXT_HOOK) && str_eq_ci(ns, str_c(sv_hook->ns)))
			continue;
#endif
		if (!str_eq_ci(ns, STR_LIT("global")) || !has_ext(ps, EXT_INCLUDE)) {
			errf(ps, ra->line, ra->col, "variable \"${%.*s}\": no namespace \"%.*s\" was required",
			     (int)(name.len > 64 ? 64 : name.len), name.p, (int)(ns.len > 32 ? 32 : ns.len),
			     ns.p);
			return -1;
		}
	}
	return 0;
}

/* Makes the compiled string list of a raw argument. */
static int make_arg(struct parser *ps, struct raw_arg *ra, struct sv_arg *out)
{
	out->type = ra->kind;
	out->num = ra->num;
	out->n = ra->n;
	out->v = ra->n ? arena_zalloc(ps->a, ra->n * sizeof(struct sv_string)) : NULL;
	for (uint32_t i = 0; i < ra->n; i++) {
		struct str s = ra->strs[i];
		if (has_ext(ps, EXT_ENCODED_CHARACTER) && decode_encoded(ps, ra, &s) < 0)
			return -1;
		out->v[i].s = s;
		out->v[i].dyn = has_ext(ps, EXT_VARIABLES) && s.len >= 2 && memmem(s.p, s.len, "${", 2);
		if (out->v[i].dyn && check_match_refs(ps, ra, s) < 0)
			return -1;
		if (out->v[i].dyn)
			note_refs(ps, s);
	}
	return 0;
}

static const char *argtype_name(int t)
{
	return t == A_STR ? "a string" : t == A_LIST ? "a string or string list" : "a number";
}

static int is_match_tag(int g)
{
	return g <= G_COUNT;
}

static int is_addrpart_tag(int g)
{
	return g >= G_ALL && g <= G_DETAIL;
}

static int is_identifier(struct str s)
{
	if (s.len == 0 || s.len > SIEVE_VAR_NAME_MAX)
		return 0;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* A header field name (RFC 5322 §3.6.8's ftext): printable ASCII but
 * the colon, at most a line long. */
static int field_name_ok(struct str f)
{
	int ok = f.len > 0 && f.len <= 998;
	for (size_t i = 0; ok && i < f.len; i++)
		ok = (unsigned char)f.p[i] >= 33 && (unsigned char)f.p[i] <= 126 && f.p[i] != ':';
	return ok;
}

/* One IMAP flag (RFC 5232 §3, RFC 9051's flag): a system flag, or a
 * keyword atom. The delivery drops any other. */
static int imap_flag_ok(struct str f)
{
	static const char *const sys[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
		                           "\\Draft", NULL };
	if (f.len && f.p[0] == '\\') {
		for (int i = 0; sys[i]; i++)
			if (str_eq_ci(f, str_c(sys[i])))
				return 1;
		return 0;
	}
	for (size_t i = 0; i < f.len; i++) {
		unsigned char c = (unsigned char)f.p[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return 0;
	}
	return f.len > 0;
}

static const char *const date_parts[] = { "year", "month", "day", "date", "julian", "hour",
	"minute", "second", "time", "iso8601", "std11", "zone", "weekday", NULL };

/* The addresses and notify arguments a script writes as constants,
 * checked as a run would (RFC 5228 §4.2, RFC 5435, RFC 5230 §4.4):
 * refused here, where the user uploading the script sees why. */
static int check_addresses(struct parser *ps, struct sv_node *n)
{
	/* RFC 5228 §4.2: a redirect's address must be a valid mailbox; a
	 * constant one is checked now, so the error reaches the user who
	 * uploads the script, not a log line at delivery */
	if (n->id == C_REDIRECT && !n->pos[0].v[0].dyn &&
	    !sieve_mailbox_valid(sieve_address_unwrap(n->pos[0].v[0].s,
	                                              arena_alloc(ps->a, n->pos[0].v[0].s.len + 1)))) {
		struct str s = n->pos[0].v[0].s;
		errf(ps, n->line, n->col, "redirect to an invalid address \"%.*s\"",
		     (int)(s.len > 64 ? 64 : s.len), s.p);
		return -1;
	}
	/* RFC 5435 §3.1, §3.8: a constant method must be one we support, and
	 * a mailto URI one whose addresses are valid (the same check) */
	if (n->id == C_NOTIFY && !n->pos[0].v[0].dyn) {
		struct str u = n->pos[0].v[0].s;
		struct sieve_mailto m;
		if (sieve_mailto_parse(u, ps->a, &m) < 0) {
			errf(ps, n->line, n->col, "notify method \"%.*s\" is %s",
			     (int)(u.len > 64 ? 64 : u.len), u.p,
			     str_has_prefix_ci(u, "mailto:") ? "not a valid mailto URI" :
			                                       "not supported (only mailto)");
			return -1;
		}
	}
	/* RFC 5435 §3.5: :importance is "1", "2" or "3"; §3.7: each of
	 * :options is "name=value" (§3.5's option: the name a letter or
	 * digit, then those, ".", "-" and "_"; the value on one line);
	 * §3.3 and RFC 5230 §4.4: a :from is a mailbox (notify's and
	 * vacation's) */
	for (uint16_t i = 0; (n->id == C_NOTIFY || n->id == C_VACATION) && i < n->ntags; i++) {
		const struct sv_tagarg *at = &n->tags[i];
		struct str v = at->arg.type == A_STR ? at->arg.v[0].s : STR_NULL;
		if (at->tag == G_IMPORTANCE && !at->arg.v[0].dyn &&
		    !(v.len == 1 && v.p[0] >= '1' && v.p[0] <= '3')) {
			errf(ps, at->line, at->col, ":importance must be \"1\", \"2\" or \"3\"");
			return -1;
		}
		if (at->tag == G_FROM && !at->arg.v[0].dyn && !sieve_from_valid(v)) {
			errf(ps, at->line, at->col, ":from \"%.*s\" is not a valid address",
			     (int)(v.len > 64 ? 64 : v.len), v.p);
			return -1;
		}
		for (uint32_t k = 0; at->tag == G_OPTIONS && k < at->arg.n; k++) {
			struct str o = at->arg.v[k].s;
			ptrdiff_t eq = str_chr(o, '=');
			int ok = at->arg.v[k].dyn || eq > 0;
			for (ptrdiff_t j = 0; ok && !at->arg.v[k].dyn && j < eq; j++)
				ok = (o.p[j] >= 'a' && o.p[j] <= 'z') || (o.p[j] >= 'A' && o.p[j] <= 'Z') ||
				     (o.p[j] >= '0' && o.p[j] <= '9') ||
				     (j > 0 && (o.p[j] == '-' || o.p[j] == '_' || o.p[j] == '.'));
			for (size_t j = (size_t)eq + 1; ok && !at->arg.v[k].dyn && j < o.len; j++)
				ok = o.p[j] != '\r' && o.p[j] != '\n';
			if (!ok) {
				errf(ps, at->line, at->col, ":options \"%.*s\" is not \"name=value\"",
				     (int)(o.len > 64 ? 64 : o.len), o.p);
				return -1;
			}
		}
	}
	return 0;
}

/* Names and values a script writes as constants that a run would
 * refuse every time: mailbox, script, variable, field and envelope
 * part names, :bytimeabsolute. */
static int check_names(struct parser *ps, struct sv_node *n)
{
	/* Constant arguments a run would refuse every time, refused here
	 * where the user uploading the script sees why. */
	if (n->id == C_FILEINTO && !n->pos[0].v[0].dyn && n->pos[0].v[0].s.len == 0) {
		errf(ps, n->line, n->col, "fileinto with an empty mailbox name");
		return -1;
	}
	/* RFC 5228 §4.1 names a mailbox by a string, and a mailbox name is
	 * UTF-8 (RFC 9051 §5.1); Pigeonhole refuses one that is not. */
	if (n->id == C_FILEINTO && !n->pos[0].v[0].dyn && !utf8_valid(n->pos[0].v[0].s)) {
		errf(ps, n->line, n->col, "fileinto with a mailbox name that is not UTF-8");
		return -1;
	}
	/* RFC 8579 §3, §4: a special-use attribute is RFC 6154's use-attr,
	 * "\" and an atom; a constant that is none names no mailbox ever
	 * (Pigeonhole refuses it too) */
	const struct sv_arg *uses = n->id == T_SPECIALUSE_EXISTS ? &n->pos[n->npos - 1] : NULL;
	for (uint16_t i = 0; !uses && i < n->ntags; i++)
		if (n->tags[i].tag == G_SPECIALUSE)
			uses = &n->tags[i].arg;
	for (uint32_t k = 0; uses && k < uses->n; k++) {
		struct str u = uses->v[k].s;
		if (!uses->v[k].dyn &&
		    !(u.len > 1 && u.p[0] == '\\' && u.p[1] != '\\' && imap_flag_ok(str_sub(u, 1, u.len - 1)))) {
			errf(ps, n->line, n->col, "\"%.*s\" is no special-use attribute (\"\\\" and an atom)",
			     (int)(u.len > 64 ? 64 : u.len), u.p);
			return -1;
		}
	}
	for (uint16_t i = 0; i < n->ntags; i++) {
		const struct sv_tagarg *at = &n->tags[i];
		int64_t t;
		if (at->tag == G_BYTIMEABSOLUTE && !at->arg.v[0].dyn) {
			struct str v = str_trim(at->arg.v[0].s);
			if (mime_rfc3339_parse(arena_strndup(ps->a, v.p, v.len), &t) < 0) {
				errf(ps, at->line, at->col, ":bytimeabsolute \"%.*s\" is not an RFC 3339 date-time",
				     (int)(v.len > 64 ? 64 : v.len), v.p);
				return -1;
			}
		}
	}
	/* RFC 6609 §3.3: global names variables, by their constant names; it
	 * declares variables, so it needs the variables extension (as
	 * extracttext does; Pigeonhole refuses it too) */
	if (n->id == C_GLOBAL && !has_ext(ps, EXT_VARIABLES)) {
		errf(ps, n->line, n->col, "global needs require \"variables\"");
		return -1;
	}
	for (uint32_t k = 0; n->id == C_GLOBAL && k < n->pos[0].n; k++) {
		const struct sv_string *v = &n->pos[0].v[k];
		if (v->dyn || !is_identifier(v->s)) {
			errf(ps, n->line, n->col, "global: invalid variable name \"%.*s\"",
			     (int)(v->s.len > 64 ? 64 : v->s.len), v->s.p);
			return -1;
		}
		/* RFC 6609 §3.3: a variable this script set before is not made
		 * global (an error at upload or execution); one it read before
		 * is refused too, as Pigeonhole does: the same name would be
		 * two variables in one script */
		if (name_in(ps->locals, ps->nlocals, v->s)) {
			errf(ps, n->line, n->col, "global: variable \"%.*s\" was used as a local variable before",
			     (int)v->s.len, v->s.p);
			return -1;
		}
		/* the run's frame holds SIEVE_VARS_MAX declared names (a
		 * name declared again is the one) */
		if (!name_in(ps->globals, ps->nglobals, v->s)) {
			if (ps->nglobals >= SIEVE_VARS_MAX) {
				errf(ps, n->line, n->col, "more than %d global variables declared", SIEVE_VARS_MAX);
				return -1;
			}
			ps->globals[ps->nglobals++] = v->s;
		}
	}
	/* RFC 6609 §3.2: the name of an included script is a constant
	 * string, variables are not expanded in it; a name that could never
	 * be one fails here rather than at each run. "/" is no path: a
	 * ManageSieve name may hold it, and the script so named is included
	 * (tern refused it, though PUTSCRIPT stored "work/lists"). */
	if (n->id == C_INCLUDE) {
		const struct sv_string *v = &n->pos[0].v[0];
		if (v->dyn) {
			errf(ps, n->line, n->col, "include: the script name must be a constant string");
			return -1;
		}
		if (!sv_script_name_ok(v->s)) {
			errf(ps, n->line, n->col, "include: invalid script name \"%.*s\"",
			     (int)(v->s.len > 64 ? 64 : v->s.len), v->s.p);
			return -1;
		}
	}
	/* RFC 5293 §4, §5: the field name is a valid one (printable ASCII,
	 * no colon); a constant that is not fails here, not at each run */
	if ((n->id == C_ADDHEADER || n->id == C_DELETEHEADER) && !n->pos[0].v[0].dyn) {
		struct str f = n->pos[0].v[0].s;
		if (!field_name_ok(f)) {
			errf(ps, n->line, n->col, "%s: invalid field name \"%.*s\"",
			     sv_spec_by_id(n->id)->name, (int)(f.len > 64 ? 64 : f.len), f.p);
			return -1;
		}
	}
	/* RFC 5293 §4: a value with a NUL (${hex:00}) can be no header
	 * field's; a constant one fails here, one from a variable when it
	 * runs (line ends are folded: sieve_run.c) */
	const struct sv_string *hv = n->id == C_ADDHEADER ? &n->pos[1].v[0] : NULL;
	if (hv && !hv->dyn && hv->s.len && memchr(hv->s.p, '\0', hv->s.len)) {
		errf(ps, n->line, n->col, "addheader: the value holds a NUL");
		return -1;
	}
	/* RFC 5228 §5.4: an envelope part the test does not know is an
	 * error (those of envelope-dsn and envelope-deliverby, RFC 6009,
	 * when required) */
	for (uint32_t k = 0; n->id == T_ENVELOPE && k < n->pos[0].n; k++) {
		static const char *const dsn[] = { "notify", "orcpt", "ret", "envid", NULL };
		static const char *const by[] = { "bytimeabsolute", "bytimerelative", "bymode", "bytrace",
			                          NULL };
		const struct sv_string *v = &n->pos[0].v[k];
		int ok = v->dyn || str_eq_ci(v->s, STR_LIT("from")) || str_eq_ci(v->s, STR_LIT("to")) ||
		         str_eq_ci(v->s, STR_LIT("auth"));
		for (int i = 0; !ok && has_ext(ps, EXT_ENVELOPE_DSN) && dsn[i]; i++)
			ok = str_eq_ci(v->s, str_c(dsn[i]));
		for (int i = 0; !ok && has_ext(ps, EXT_ENVELOPE_DELIVERBY) && by[i]; i++)
			ok = str_eq_ci(v->s, str_c(by[i]));
		if (!ok) {
			errf(ps, n->line, n->col, "unknown envelope part \"%.*s\"",
			     (int)(v->s.len > 64 ? 64 : v->s.len), v->s.p);
			return -1;
		}
	}
	return 0;
}

/* Constants a run takes but changes or ignores, or that can never
 * match: warned about (Pigeonhole warns about the same ones), the
 * script compiles. */
static void check_warnings(struct parser *ps, struct sv_node *n)
{
	for (uint16_t i = 0; i < n->ntags; i++) {
		const struct sv_tagarg *at = &n->tags[i];
		uint64_t v = at->arg.num;
		/* RFC 5230 §4.1, RFC 6131 §2: the site's minimum and maximum
		 * period win (SIEVE_VACATION_MIN/MAX_SECONDS) */
		if (n->id == C_VACATION && at->tag == G_DAYS &&
		    v < SIEVE_VACATION_MIN_SECONDS / 86400)
			warnf(ps, at->line, at->col, ":days %llu is under the minimum of %d (raised to it)",
			      (unsigned long long)v, SIEVE_VACATION_MIN_SECONDS / 86400);
		if (n->id == C_VACATION && at->tag == G_DAYS && v > SIEVE_VACATION_MAX_SECONDS / 86400)
			warnf(ps, at->line, at->col, ":days %llu is over the maximum of %d (lowered to it)",
			      (unsigned long long)v, SIEVE_VACATION_MAX_SECONDS / 86400);
		if (n->id == C_VACATION && at->tag == G_SECONDS && v < SIEVE_VACATION_MIN_SECONDS)
			warnf(ps, at->line, at->col, ":seconds %llu is under the minimum of %d (raised to it)",
			      (unsigned long long)v, SIEVE_VACATION_MIN_SECONDS);
		if (n->id == C_VACATION && at->tag == G_SECONDS && v > SIEVE_VACATION_MAX_SECONDS)
			warnf(ps, at->line, at->col, ":seconds %llu is over the maximum of %d (lowered to it)",
			      (unsigned long long)v, SIEVE_VACATION_MAX_SECONDS);
		/* RFC 7352 §3.3: the site's maximum */
		if (n->id == T_DUPLICATE && at->tag == G_SECONDS && v > SIEVE_DUPLICATE_MAX_SECONDS)
			warnf(ps, at->line, at->col, ":seconds %llu is over the maximum of %d (lowered to it)",
			      (unsigned long long)v, SIEVE_DUPLICATE_MAX_SECONDS);
	}
	/* RFC 5232 §3: flags that are no IMAP flag are ignored */
	const struct sv_arg *fl = NULL;
	if (n->id == C_ADDFLAG || n->id == C_SETFLAG || n->id == C_REMOVEFLAG)
		fl = &n->pos[n->npos - 1];
	for (uint16_t i = 0; !fl && i < n->ntags; i++)
		if (n->tags[i].tag == G_FLAGS)
			fl = &n->tags[i].arg;
	for (uint32_t k = 0; fl && k < fl->n; k++) {
		struct str l = fl->v[k].s;
		if (fl->v[k].dyn)
			continue;
		for (size_t i = 0; i < l.len;) {
			size_t j = i;
			while (j < l.len && l.p[j] != ' ')
				j++;
			struct str f = str_make(l.p + i, j - i);
			i = j + 1;
			if (f.len && !imap_flag_ok(f)) {
				warnf(ps, n->line, n->col, "\"%.*s\" is no IMAP flag and will be ignored",
				      (int)(f.len > 64 ? 64 : f.len), f.p);
				return; /* the first one is enough */
			}
		}
	}
	/* RFC 5228 §2.4.2.2: a header name that is no field name matches
	 * nothing (Pigeonhole warns; an empty one it takes silently) */
	if (n->id == T_HEADER || n->id == T_EXISTS || n->id == T_ADDRESS || n->id == T_DATE)
		for (uint32_t k = 0; k < n->pos[0].n; k++) {
			const struct sv_string *h = &n->pos[0].v[k];
			if (!h->dyn && h->s.len && !field_name_ok(h->s)) {
				warnf(ps, n->line, n->col, "\"%.*s\" is no header field name: it matches nothing",
				      (int)(h->s.len > 64 ? 64 : h->s.len), h->s.p);
				break;
			}
		}
}

/* Checks the tags' values and combinations; sets the resolved fields. */
static int check_semantics(struct parser *ps, struct sv_node *n)
{
	int have_match = -1, have_ap = -1;
	uint64_t seen = 0;

	n->match = M_IS;
	n->cmp = CMP_CASEMAP;
	n->addrpart = AP_ALL;
	for (uint16_t i = 0; i < n->ntags; i++) {
		int g = n->tags[i].tag;
		struct sv_arg *v = &n->tags[i].arg;
		const struct sv_tagarg *at = &n->tags[i];
		if (g < 64) /* the few tags past 63 are checked by name below */
			seen |= 1ull << g;
		if (is_match_tag(g)) {
			if (have_match >= 0) {
				errf(ps, at->line, at->col, "only one match type (:%s or :%s) may be given",
				     sv_tag_name(have_match), sv_tag_name(g));
				return -1;
			}
			have_match = g;
			n->match = g == G_IS ? M_IS : g == G_CONTAINS ? M_CONTAINS : g == G_MATCHES ? M_MATCHES :
			           g == G_REGEX ? M_REGEX : g == G_VALUE ? M_VALUE : M_COUNT;
			if (g == G_VALUE || g == G_COUNT) {
				int r = v->v[0].dyn ? -1 : sv_rel_parse(v->v[0].s);
				if (r < 0) {
					errf(ps, at->line, at->col,
					     "expected a relation (\"gt\", \"ge\", \"lt\", \"le\", \"eq\" or \"ne\") after :%s",
					     sv_tag_name(g));
					return -1;
				}
				n->rel = (uint8_t)r;
			}
		} else if (is_addrpart_tag(g)) {
			if (have_ap >= 0) {
				errf(ps, at->line, at->col, "only one address part may be given");
				return -1;
			}
			have_ap = g;
			n->addrpart = (uint8_t)(g - G_ALL);
		} else if (g == G_COMPARATOR) {
			int c = sv_cmp_parse(v->v[0].s);
			if (c < 0) {
				errf(ps, at->line, at->col, "unknown comparator \"%.*s\"", (int)v->v[0].s.len,
				     v->v[0].s.p);
				return -1;
			}
			if (c == CMP_NUMERIC && !has_ext(ps, EXT_NUMERIC)) {
				errf(ps, at->line, at->col,
				     "comparator \"i;ascii-numeric\" needs require \"comparator-i;ascii-numeric\"");
				return -1;
			}
			n->cmp = (uint8_t)c;
		}
	}
	/* i;ascii-numeric offers equality and order, no substring
	 * operation (RFC 4790 §9.1.1): :contains, :matches and :regex with it
	 * are errors (RFC 5228 §2.7.1), not tests that never match */
	if ((n->match == M_CONTAINS || n->match == M_MATCHES || n->match == M_REGEX) &&
	    n->cmp == CMP_NUMERIC) {
		errf(ps, n->line, n->col, ":%s cannot be used with comparator \"i;ascii-numeric\"",
		     n->match == M_CONTAINS ? "contains" : n->match == M_MATCHES ? "matches" : "regex");
		return -1;
	}
#define BOTH(a, b) ((seen >> (a) & 1) && (seen >> (b) & 1))
	if (BOTH(G_OVER, G_UNDER) || BOTH(G_DAYS, G_SECONDS) || BOTH(G_PERSONAL, G_GLOBAL) ||
	    BOTH(G_RAW, G_TEXT) || BOTH(G_RAW, G_CONTENT) || BOTH(G_TEXT, G_CONTENT) ||
	    BOTH(G_ZONE, G_ORIGINALZONE) || BOTH(G_HEADER, G_UNIQUEID) ||
	    BOTH(G_LOWER, G_UPPER) || BOTH(G_LOWERFIRST, G_UPPERFIRST)) {
		errf(ps, n->line, n->col, "conflicting tags for %s", sv_spec_by_id(n->id)->name);
		return -1;
	}
	/* RFC 5703 §4.1: the part options only with :mime, and one of them. */
	uint64_t mimeopts = 1ull << G_ANYCHILD | 1ull << G_TYPE | 1ull << G_SUBTYPE |
	                    1ull << G_CONTENTTYPE | 1ull << G_PARAM;
	if ((seen & mimeopts) && !(seen >> G_MIME & 1) && n->id != C_VACATION) {
		errf(ps, n->line, n->col, ":anychild, :type, :subtype, :contenttype and :param need :mime");
		return -1;
	}
	if (__builtin_popcountll(seen & mimeopts & ~(1ull << G_ANYCHILD)) > 1) {
		errf(ps, n->line, n->col,
		     "only one of :type, :subtype, :contenttype and :param may be given");
		return -1;
	}
	if (n->id == T_SIZE && !(seen & (1ull << G_OVER | 1ull << G_UNDER))) {
		errf(ps, n->line, n->col, "size needs :over or :under");
		return -1;
	}
	if ((seen >> G_LAST & 1) && !(seen >> G_INDEX & 1) && n->id != C_ADDHEADER &&
	    n->id != T_DUPLICATE) {
		errf(ps, n->line, n->col, ":last needs :index");
		return -1;
	}
	for (uint16_t i = 0; i < n->ntags; i++)
		if (n->tags[i].tag == G_INDEX && n->tags[i].arg.num == 0) {
			errf(ps, n->line, n->col, ":index must be at least 1");
			return -1;
		}
	if (n->id == T_DATE || n->id == T_CURRENTDATE) {
		struct sv_string *dp = &n->pos[n->id == T_DATE ? 1 : 0].v[0];
		int ok = dp->dyn;
		for (int i = 0; !ok && date_parts[i]; i++)
			ok = str_eq_ci(dp->s, str_c(date_parts[i]));
		/* RFC 5260 §4 lists the parts; one it does not name is no
		 * error there: the test is false at run time. Pigeonhole takes
		 * the script with a warning, and so does tern. */
		if (!ok)
			warnf(ps, n->line, n->col, "unknown date part \"%.*s\": the test is always false",
			      (int)(dp->s.len > 64 ? 64 : dp->s.len), dp->s.p);
	}
	if (BOTH(G_BYTIMERELATIVE, G_BYTIMEABSOLUTE)) {
		errf(ps, n->line, n->col, "only one of :bytimerelative and :bytimeabsolute may be given");
		return -1;
	}
	/* RFC 6009 §5: the mode and trace go with a time. */
	for (uint16_t i = 0; i < n->ntags; i++) {
		const struct sv_tagarg *at = &n->tags[i];
		if ((at->tag == G_BYMODE || at->tag == G_BYTRACE) &&
		    !(seen >> G_BYTIMERELATIVE & 1) && !(seen >> G_BYTIMEABSOLUTE & 1)) {
			errf(ps, at->line, at->col, ":%s needs :bytimerelative or :bytimeabsolute",
			     sv_tag_name(at->tag));
			return -1;
		}
		if (at->tag == G_BYMODE && !at->arg.v[0].dyn &&
		    !str_eq_ci(at->arg.v[0].s, STR_LIT("notify")) &&
		    !str_eq_ci(at->arg.v[0].s, STR_LIT("return"))) {
			errf(ps, at->line, at->col, ":bymode must be \"notify\" or \"return\"");
			return -1;
		}
	}
	/* RFC 5228 §5.1: address reads only fields that hold addresses */
	if (n->id == T_ADDRESS)
		for (uint32_t k = 0; k < n->pos[0].n; k++) {
			const struct sv_string *h = &n->pos[0].v[k];
			if (!h->dyn && !sv_address_header(h->s)) {
				errf(ps, n->line, n->col, "header \"%.*s\" holds no addresses for address",
				     (int)h->s.len, h->s.p);
				return -1;
			}
		}
	if (check_addresses(ps, n) < 0 || check_names(ps, n) < 0)
		return -1;
	/* the name is a constant identifier: "${a}" names no variable (RFC 5229 §4),
	 * nor does "0" (a match variable is not set); extracttext's likewise
	 * (RFC 5703 §7: as set's); with include, "global.NAME" is the global
	 * NAME (RFC 6609 §3.5) */
	int names_var = n->id == C_SET || n->id == C_EXTRACTTEXT;
	struct str setname = names_var ? n->pos[0].v[0].s : STR_NULL;
	if (names_var && has_ext(ps, EXT_INCLUDE) && setname.len > 7 &&
	    str_has_prefix_ci(setname, "global."))
		setname = str_sub(setname, 7, setname.len - 7);
	if (names_var && !is_identifier(setname)) {
		errf(ps, n->line, n->col, "invalid variable name \"%.*s\"", (int)n->pos[0].v[0].s.len,
		     n->pos[0].v[0].s.p);
		return -1;
	}
	if (n->id == C_SET && setname.p == n->pos[0].v[0].s.p)
		note_local(ps, setname);
	int flagvar = (n->id == C_SETFLAG || n->id == C_ADDFLAG || n->id == C_REMOVEFLAG) && n->npos == 2;
	if (n->id == C_EXTRACTTEXT || flagvar)
		note_local(ps, n->pos[0].v[0].s);
	if (names_var || (flagvar && !n->pos[0].v[0].dyn)) {
		struct str raw = n->pos[0].v[0].s, made = raw;
		if (has_ext(ps, EXT_INCLUDE) && made.len > 7 && str_has_prefix_ci(made, "global."))
			made = str_sub(made, 7, made.len - 7);
		if (note_made(ps, n, made, made.p != raw.p || name_in(ps->globals, ps->nglobals, made)) < 0)
			return -1;
	}
	check_warnings(ps, n);
	return 0;
}

/* Checks raw arguments against the command's table entry. */
static int bind_args(struct parser *ps, const struct sv_spec *sp, struct sv_node *n,
                     struct raw_arg *args, int nargs)
{
	struct sv_tagarg tags[ARGS_MAX];
	struct raw_arg *pos[ARGS_MAX];
	int ntags = 0, npos = 0;

	for (int i = 0; i < nargs; i++) {
		struct raw_arg *ra = &args[i];
		int g, ok = 0;
		if (ra->kind != A_NONE) {
			pos[npos++] = ra;
			continue;
		}
		/* RFC 5228 §2.6.2: tagged arguments come before the positional ones */
		if (npos > 0) {
			errf(ps, ra->line, ra->col, "tag :%.*s after the positional arguments of %s",
			     (int)ra->tag.len, ra->tag.p, sp->name);
			return -1;
		}
		g = sv_tag_find(ra->tag);
		for (const uint8_t *t = sp->tags; g >= 0 && *t != G_COUNT_TAGS; t++)
			ok |= *t == g;
		if (!ok) {
			errf(ps, ra->line, ra->col, "unknown tag :%.*s for %s", (int)ra->tag.len, ra->tag.p,
			     sp->name);
			return -1;
		}
		int ext = sv_tag_ext(g, sp->id);
		if (ext >= 0 && !has_ext(ps, ext)) {
			errf(ps, ra->line, ra->col, "tag :%s needs require \"%s\"", sv_tag_name(g),
			     sv_ext_name(ext));
			return -1;
		}
		for (int k = 0; k < ntags; k++)
			if (tags[k].tag == g) {
				errf(ps, ra->line, ra->col, "tag :%s given twice", sv_tag_name(g));
				return -1;
			}
		memset(&tags[ntags], 0, sizeof(tags[ntags]));
		tags[ntags].tag = (uint8_t)g;
		tags[ntags].line = ra->line;
		tags[ntags].col = ra->col;
		enum sv_argtype want = sv_tag_argtype(g);
		if (want != A_NONE) {
			struct raw_arg *va = i + 1 < nargs ? &args[i + 1] : NULL;
			int fits = va && (va->kind == want || (want == A_LIST && va->kind == A_STR));
			if (!fits) {
				errf(ps, va ? va->line : ra->line, va ? va->col : ra->col,
				     "expected %s after :%s", argtype_name(want), sv_tag_name(g));
				return -1;
			}
			if (make_arg(ps, va, &tags[ntags].arg) < 0)
				return -1;
			tags[ntags].arg.type = (uint8_t)want;
			i++;
		}
		ntags++;
	}

	/* Positional arguments: the spec's letters, one of them may be optional. */
	int req = 0, opt = -1, slots = 0;
	char kinds[8];
	for (const char *p = sp->pos; *p; p++) {
		if (*p == '?') {
			opt = slots;
			continue;
		}
		kinds[slots++] = *p;
	}
	req = slots - (opt >= 0);
	if (npos < req || npos > slots) {
		struct raw_arg *at = npos > slots ? pos[slots] : NULL;
		errf(ps, at ? at->line : n->line, at ? at->col : n->col,
		     "%s takes %d%s positional argument%s, found %d", sp->name, req,
		     opt >= 0 ? " or more" : "", slots == 1 ? "" : "s", npos);
		return -1;
	}
	n->npos = (uint16_t)npos;
	n->pos = npos ? arena_zalloc(ps->a, (size_t)npos * sizeof(struct sv_arg)) : NULL;
	for (int i = 0, s = 0; i < npos; i++, s++) {
		if (s == opt && npos < slots)
			s++; /* the optional one is absent */
		char k = kinds[s];
		int want = k == 'S' ? A_STR : k == 'L' ? A_LIST : A_NUM;
		int fits = pos[i]->kind == want || (want == A_LIST && pos[i]->kind == A_STR);
		if (!fits) {
			errf(ps, pos[i]->line, pos[i]->col, "expected %s as argument %d of %s, found %s",
			     argtype_name(want), i + 1, sp->name,
			     pos[i]->kind == A_NUM ? "a number" : pos[i]->kind == A_LIST ? "a string list" : "a string");
			return -1;
		}
		if (make_arg(ps, pos[i], &n->pos[i]) < 0)
			return -1;
		n->pos[i].type = (uint8_t)want;
	}
	n->ntags = (uint16_t)ntags;
	n->tags = ntags ? arena_alloc(ps->a, (size_t)ntags * sizeof(struct sv_tagarg)) : NULL;
	if (ntags)
		memcpy(n->tags, tags, (size_t)ntags * sizeof(struct sv_tagarg));
	return check_semantics(ps, n);
}

static struct sv_node *parse_test(struct parser *ps);
static struct sv_node *parse_block(struct parser *ps, int toplevel);

/* Parses "(" test *("," test) ")" or a single test into n->tests. */
static int parse_tests(struct parser *ps, struct sv_node *n, const struct sv_spec *sp)
{
	struct sv_node *tmp[TESTS_MAX];
	uint16_t cnt = 0;

	if (sp && sp->tests == 2) {
		if (expect(ps, TK_LPAREN, "\"(\" starting a test list") < 0)
			return -1;
		ps->open++;
		for (;;) {
			struct sv_node *t = parse_test(ps);
			if (!t)
				return -1;
			if (cnt >= TESTS_MAX) {
				synf(ps, t->line, t->col, "more than %d tests in a list", TESTS_MAX);
				return -1;
			}
			tmp[cnt++] = t;
			if (ps->tok.type == TK_COMMA) {
				next(ps);
				continue;
			}
			if (expect(ps, TK_RPAREN, "\",\" or \")\"") < 0)
				return -1;
			ps->open--;
			break;
		}
	} else if (sp && sp->tests == 1) {
		struct sv_node *t = parse_test(ps);
		if (!t)
			return -1;
		tmp[cnt++] = t;
	} else if (sp && sp->is_test) {
		/* A test without tests: what follows is the caller's to judge. */
	} else if (ps->tok.type == TK_IDENT || ps->tok.type == TK_LPAREN) {
		/* sp NULL: an unknown command (lenient, or reported) */
		if (sp) {
			errf(ps, ps->tok.line, ps->tok.col, "%s takes no test", sp->name);
			return -1;
		}
		/* An unknown command: skip its tests. */
		if (ps->tok.type == TK_LPAREN) {
			struct sv_spec anyof = { "anyof", T_ANYOF, -1, 1, 2, 0, "", NULL };
			return parse_tests(ps, n, &anyof);
		}
		struct sv_node *t = parse_test(ps);
		if (!t)
			return -1;
		tmp[cnt++] = t;
	}
	n->ntests = cnt;
	n->tests = cnt ? arena_alloc(ps->a, cnt * sizeof(*n->tests)) : NULL;
	if (cnt)
		memcpy(n->tests, tmp, cnt * sizeof(*n->tests));
	return 0;
}

/* 1 the first time name is unknown (or not required), 0 after; past the
 * names noted, each time. */
static int first_unknown(struct parser *ps, struct str name)
{
	for (int i = 0; i < ps->nunknown; i++)
		if (str_eq(ps->unknown[i], name))
			return 0;
	if (ps->nunknown < (int)(sizeof ps->unknown / sizeof ps->unknown[0]))
		ps->unknown[ps->nunknown++] = name;
	return 1;
}

static struct sv_node *parse_node(struct parser *ps, int is_test)
{
	struct raw_arg args[ARGS_MAX];
	int nargs;
	struct sv_node *n;
	const struct sv_spec *sp;

	if (ps->failed)
		return NULL;
	if (ps->tok.type != TK_IDENT) {
		synf(ps, ps->tok.line, ps->tok.col, "expected %s, found %s",
		     is_test ? "a test" : "a command", sv_tok_name(ps->tok.type));
		return NULL;
	}
	if (++ps->depth > SIEVE_NEST_MAX) {
		synf(ps, ps->tok.line, ps->tok.col, "nesting deeper than %d", SIEVE_NEST_MAX);
		ps->too_deep = 1;
		return NULL;
	}
	n = arena_zalloc(ps->a, sizeof(*n));
	n->line = ps->tok.line;
	n->col = ps->tok.col;
	sp = sv_spec_find(ps->tok.text, is_test);
	if (!ps->lenient && (!sp || (sp->ext >= 0 && !has_ext(ps, sp->ext))) &&
	    first_unknown(ps, ps->tok.text)) {
		if (!sp)
			soft_errf(ps, n->line, n->col, "unknown %s \"%.*s\"",
			          is_test ? "test" : "command", (int)ps->tok.text.len, ps->tok.text.p);
		else
			soft_errf(ps, n->line, n->col, "%s needs require \"%s\"", sp->name,
			          sv_ext_name(sp->ext));
	}
	if (sp && sp->ext >= 0 && !has_ext(ps, sp->ext))
		sp = NULL; /* not enabled, so unknown (lenient, or reported) */
	n->name = ps->tok.text;
	next(ps);
	if (parse_args(ps, args, &nargs) < 0)
		return NULL;
	if (!sp) {
		n->id = is_test ? T_UNKNOWN : C_UNKNOWN;
	} else {
		n->id = sp->id;
		if (bind_args(ps, sp, n, args, nargs) < 0)
			return NULL;
	}
	if (parse_tests(ps, n, sp) < 0)
		return NULL;
	ps->depth--;
	return n;
}

static struct sv_node *parse_test(struct parser *ps)
{
	return parse_node(ps, 1);
}

static int do_require(struct parser *ps, struct sv_node *n)
{
	if (ps->seen_command) {
		errf(ps, n->line, n->col, "require must come before any other command");
		return -1;
	}
	for (uint32_t i = 0; i < n->pos[0].n; i++) {
		struct str e = n->pos[0].v[i].s;
		int x = sv_ext_find(e);
		if (x < 0 && !sieve_extension_known(e)) {
			errf(ps, n->line, n->col, "unsupported extension \"%.*s\"", (int)e.len, e.p);
			return -1;
		}
		if (x >= 0)
			ps->exts |= 1ull << x;
		/* Extensions that imply others (RFC 5173 none; 5235 spamtestplus
		 * includes spamtest; 5463's error comes with ihave; 6131 §2
		 * vacation-seconds includes vacation). */
		if (x == EXT_SPAMTESTPLUS)
			ps->exts |= 1ull << EXT_SPAMTEST;
		if (x == EXT_VACATION_SECONDS)
			ps->exts |= 1ull << EXT_VACATION;
	}
	return 0;
}

/* ihave with only known extensions it may grant (sv_ihave_grants)
 * enables them for the block; with another one the block is parsed
 * leniently (it never runs: the test is false, names taken as written). */
static int ihave_scope(struct parser *ps, struct sv_node *test, uint64_t *exts_r)
{
	int all_known = 1;
	*exts_r = 0;
	if (!test || test->id != T_IHAVE)
		return 1;
	for (uint32_t i = 0; i < test->pos[0].n; i++) {
		struct str name = test->pos[0].v[i].s;
		int x = sv_ext_find(name);
		int grants = sv_ihave_grants(name);
		all_known &= grants;
		if (x >= 0 && grants)
			*exts_r |= 1ull << x;
	}
	return all_known;
}

/* The :name of a foreverypart or break, NULL when absent. */
static const struct sv_arg *node_name_tag(const struct sv_node *n)
{
	for (uint16_t i = 0; i < n->ntags; i++)
		if (n->tags[i].tag == G_NAME)
			return &n->tags[i].arg;
	return NULL;
}

static struct sv_node *parse_command(struct parser *ps, struct sv_node *prev)
{
	struct sv_node *n = parse_node(ps, 0);
	if (!n)
		return NULL;
	if (n->id == C_REQUIRE) {
		if (do_require(ps, n) < 0)
			return NULL;
	} else {
		ps->seen_command = 1;
	}
	if ((n->id == C_ELSIF || n->id == C_ELSE) &&
	    (!prev || (prev->id != C_IF && prev->id != C_ELSIF) || prev->elsenode)) {
		errf(ps, n->line, n->col, "%s without a preceding if", n->id == C_ELSE ? "else" : "elsif");
		return NULL;
	}
	struct str loopname = STR_LIT("");
	const struct sv_arg *na = node_name_tag(n);
	if (na)
		loopname = na->v[0].s;
	if (n->id == C_BREAK) {
		int found = 0;
		for (int i = 0; i < ps->nloops && !found; i++)
			found = !na || str_eq(ps->loops[i], loopname);
		if (!found) {
			errf(ps, n->line, n->col, na ? "break :name \"%.*s\" names no enclosing foreverypart" :
			                                "break outside foreverypart", (int)loopname.len,
			     loopname.p);
			return NULL;
		}
	}
	/* RFC 5703 §7: extracttext stores into a variable, from a loop's part. */
	if (n->id == C_EXTRACTTEXT && !has_ext(ps, EXT_VARIABLES)) {
		errf(ps, n->line, n->col, "extracttext needs require \"variables\"");
		return NULL;
	}
	if (n->id == C_EXTRACTTEXT && ps->nloops == 0) {
		errf(ps, n->line, n->col, "extracttext outside foreverypart");
		return NULL;
	}
	if (n->id == C_FOREVERYPART) {
		if (ps->nloops >= SIEVE_LOOPS_MAX) {
			errf(ps, n->line, n->col, "foreverypart nested deeper than %d", SIEVE_LOOPS_MAX);
			return NULL;
		}
		ps->loops[ps->nloops++] = loopname;
	}
	const struct sv_spec *sp = n->id == C_UNKNOWN ? NULL : sv_spec_by_id(n->id);
	int wants_block = sp ? sp->block : ps->tok.type == TK_LBRACE;
	if (wants_block) {
		uint64_t save = ps->exts, add = 0;
		int save_lenient = ps->lenient;
		if (ps->tok.type != TK_LBRACE) {
			/* not of syntax: "foreverypart;" is a command as RFC
			 * 5228 §8.2 writes one, of the wrong shape */
			errf(ps, ps->tok.line, ps->tok.col, "expected \"{\" starting the block of %s, found %s",
			     sp ? sp->name : "command", sv_tok_name(ps->tok.type));
			return NULL;
		}
		if ((n->id == C_IF || n->id == C_ELSIF) && has_ext(ps, EXT_IHAVE)) {
			if (!ihave_scope(ps, n->tests[0], &add))
				ps->lenient = 1;
			ps->exts |= add;
		}
		if (++ps->depth > SIEVE_NEST_MAX) {
			synf(ps, ps->tok.line, ps->tok.col, "nesting deeper than %d", SIEVE_NEST_MAX);
		ps->too_deep = 1;
			return NULL;
		}
		next(ps);
		int seen = ps->seen_command;
		ps->seen_command = 1;
		n->block = parse_block(ps, 0);
		ps->seen_command = seen;
		ps->depth--;
		if (n->id == C_FOREVERYPART)
			ps->nloops--;
		ps->exts = save;
		ps->lenient = save_lenient;
		if (expect(ps, TK_RBRACE, "\"}\" or a command") < 0)
			return NULL;
	} else if (ps->tok.type == TK_LBRACE) {
		/* likewise: recover() checks the block's commands */
		errf(ps, ps->tok.line, ps->tok.col, "%s takes no block", sp ? sp->name : "command");
		return NULL;
	} else if (expect(ps, TK_SEMI, "\";\"") < 0) {
		return NULL;
	}
	if (n->id == C_ELSIF || n->id == C_ELSE)
		prev->elsenode = n;
	return n;
}

/*
 * After an error: skips to the end of the failing command, its ";" (taken)
 * or the "}" ending the block it is in (left for parse_block), as
 * Pigeonhole's parser does. A block the command has ("if ... {") is
 * parsed, its commands checked and thrown away, so their errors are
 * reported too, unless the error was nesting too deep or the block
 * would be (skipped whole, one error for the lot). Brackets of any
 * kind nest: a ";" or "}" inside them is not the end. The token after
 * the end belongs to the next command: a lexical error in it is that
 * command's (ps->failed set again).
 */
static void recover(struct parser *ps, int toplevel)
{
	int nest = ps->open; /* the error may be inside brackets */
	int descend = !ps->too_deep, whole = 0;
	ps->open = 0;
	ps->too_deep = 0;
	ps->recovering = 1;
	for (;;) {
		enum sv_tok t = ps->tok.type;
		if (t == TK_EOF || (nest == 0 && t == TK_RBRACE && !toplevel))
			break;
		if (nest == 0 && (t == TK_SEMI || t == TK_RBRACE)) {
			/* ";", or a stray "}" at the top (reported already) */
			ps->recovering = ps->failed = 0;
			next(ps);
			return;
		}
		/* within the nesting limit only: "{{{{..." recursed once a
		 * brace, past the stack */
		if (nest == 0 && t == TK_LBRACE && descend && ps->depth < SIEVE_NEST_MAX) {
			ps->recovering = ps->failed = 0;
			next(ps);
			ps->depth++;
			int seen = ps->seen_command;
			ps->seen_command = 1;
			parse_block(ps, 0);
			ps->seen_command = seen;
			ps->depth--;
			if (ps->tok.type == TK_RBRACE)
				next(ps);
			return;
		}
		if (nest == 0 && t == TK_LBRACE)
			whole = 1; /* the command's block, skipped whole */
		if (t == TK_LBRACE || t == TK_LPAREN || t == TK_LBRACKET)
			nest++;
		else if (nest > 0 && (t == TK_RBRACE || t == TK_RPAREN || t == TK_RBRACKET))
			nest--;
		if (whole && nest == 0) {
			ps->recovering = ps->failed = 0;
			next(ps); /* its "}" */
			return;
		}
		next(ps);
	}
	ps->recovering = ps->failed = 0;
}

/* Commands up to "}" (or the end of the script at top level). A command
 * with an error is left out (recover), the state it changed restored. */
static struct sv_node *parse_block(struct parser *ps, int toplevel)
{
	/* tail: the end of the block's chain so far, walked on from there
	 * (never from first: a script of 80,000 commands took seconds of
	 * CPU per compile, the walk quadratic). */
	struct sv_node *first = NULL, *last = NULL, *tail = NULL, standin;
	for (;;) {
		if (ps->failed)
			recover(ps, toplevel);
		if (ps->tok.type == TK_EOF || (!toplevel && ps->tok.type == TK_RBRACE))
			break;
		int depth = ps->depth, nloops = ps->nloops;
		ps->open = 0;
		struct sv_node *n = parse_command(ps, last);
		if (!n || ps->failed) {
			/* what the command's unwinding left changed */
			ps->depth = depth;
			ps->nloops = nloops;
			ps->failed = 1;
			/* an elsif or else after it is not "without an if" (it
			 * may have been one): a stand-in takes them, the
			 * block's one (one a failure made a script of 500,000
			 * ";" take 50 MB) */
			memset(&standin, 0, sizeof standin);
			standin.id = C_IF;
			last = &standin;
			continue;
		}
		/* elsif/else hang off their if; they are not commands of the block. */
		if (n->id == C_ELSIF || n->id == C_ELSE) {
			last = n;
			continue;
		}
		if (!first)
			first = tail = n;
		else {
			while (tail->next)
				tail = tail->next;
			tail->next = n;
		}
		last = n;
	}
	return first;
}

/* Counts (s->regexes NULL) or compiles the constant keys of every
 * :regex test under n: a run then matches without compiling. */
static void regex_walk(struct sieve_script *s, const struct sv_node *n)
{
	for (; n; n = n->next) {
		if (n->match == M_REGEX && n->npos) {
			const struct sv_arg *keys = &n->pos[n->npos - 1];
			for (uint32_t k = 0; keys->type != A_NUM && k < keys->n; k++) {
				struct sv_string *v = &keys->v[k];
				if (v->dyn || v->re)
					continue;
				if (!s->regexes) {
					s->nregexes++;
					s->regex_cost += sv_regex_cost(v->s);
					if (s->regex_cost > SIEVE_REGEX_COST_MAX && !s->regex_over)
						s->regex_over = n;
				} else {
					int invalid;
					if ((v->re = sv_regex_compile(v->s, n->cmp, &invalid)))
						s->regexes[s->nregexes++] = v;
					else if (invalid) {
						/* no regular expression (as Pigeonhole
						 * refuses it), where the script was taken
						 * and failed at each delivery that reached
						 * the test */
						char *e = add_error(s->regex_errs);
						int kl = (int)(v->s.len > 64 ? 64 : v->s.len);
						if (e)
							snprintf(e, SIEVE_ERROR_MAX,
							         "line %u, column %u: invalid regular expression \"%.*s\"",
							         n->line, n->col, kl, v->s.p);
					}
				}
			}
		}
		for (uint16_t t = 0; t < n->ntests; t++)
			regex_walk(s, n->tests[t]);
		regex_walk(s, n->block);
		if (n->elsenode)
			regex_walk(s, n->elsenode);
	}
}

struct sieve_script *sieve_compile(const char *text, size_t len, char err[SIEVE_ERROR_MAX])
{
	struct sieve_errors *errs = xmalloc(sizeof(*errs));
	struct sieve_script *s = sieve_compile_errors(text, len, errs);
	if (!s)
		snprintf(err, SIEVE_ERROR_MAX, "%s", errs->text[0]);
	free(errs);
	return s;
}

const char *sieve_errors_format(const struct sieve_errors *errs, const char *sep, char *out,
                                size_t outsz)
{
	size_t len = 0;
	uint32_t kept = errs->n < SIEVE_ERRORS_MAX ? errs->n : SIEVE_ERRORS_MAX;
	if (outsz == 0)
		return out;
	out[0] = '\0';
	for (uint32_t i = 0; i < kept && len < outsz; i++) {
		int n = snprintf(out + len, outsz - len, "%s%s", i ? sep : "", errs->text[i]);
		len += n > 0 ? (size_t)n : 0;
	}
	if (errs->n > kept && len < outsz)
		snprintf(out + len, outsz - len, "%s(%u more error%s)", sep, errs->n - kept,
		         errs->n - kept == 1 ? "" : "s");
	return out;
}

/* One error of the whole script (not of a command: nothing to recover). */
static struct sieve_script *compile_error(struct sieve_errors *errs, uint32_t line, uint32_t col,
                                          const char *what, const char *arg)
{
	errs->n = 1;
	snprintf(errs->text[0], SIEVE_ERROR_MAX, "line %u, column %u: %s%s", line, col, what, arg);
	return NULL;
}

struct sieve_script *sieve_compile_errors(const char *text, size_t len, struct sieve_errors *errs)
{
	struct parser ps;
	struct sieve_script *s;
	struct arena *a;

	errs->n = 0;
	if (len > SIEVE_SCRIPT_MAX) {
		snprintf(errs->text[0], SIEVE_ERROR_MAX, "line 1, column 1: script is larger than %d octets",
		         SIEVE_SCRIPT_MAX);
		errs->n = 1;
		return NULL;
	}
	/* RFC 5228 §8.1: no NUL anywhere (octet-not-crlf, not-star,
	 * octet-not-qspecial all leave out %x00), as Pigeonhole refuses it. */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		uint32_t line = 1, col = 1;
		for (const char *q = text; q < nul; q++, col++)
			if (*q == '\n')
				line++, col = 0;
		return compile_error(errs, line, col, "NUL character in the script", "");
	}
	a = arena_new(16 * 1024);
	memset(&ps, 0, sizeof(ps));
	ps.a = a;
	sv_lex_init(&ps.lx, text, len, a);
	next(&ps);
	struct sv_node *first = parse_block(&ps, 1);
	if (ps.syntax.n) {
		*errs = ps.syntax;
		arena_free(&a);
		return NULL;
	}
	/* Pigeonhole takes it too, with the same warning */
	if (ps.lx.open_comment_line)
		warnf(&ps, ps.lx.open_comment_line, ps.lx.open_comment_col,
		      "the last line's \"#\" comment is not ended by a line break");
	s = arena_zalloc(a, sizeof(*s));
	s->arena = a;
	s->first = first;
	s->exts = ps.exts;
	s->warnings = arena_strndup(a, ps.warn, ps.warnlen);
	/* the :regex keys of the commands that parsed, checked also when
	 * others had errors: their errors are listed with those */
	s->regex_errs = &ps.other;
	if (s->exts >> EXT_REGEX & 1) {
		regex_walk(s, first);
		if (s->regex_over) {
			/* Compiling them (here, and again after each cache
			 * miss) would take the thread seconds to minutes. */
			s->nregexes = 0; /* counted, none compiled */
			char *e = add_error(&ps.other);
			if (e)
				snprintf(e, SIEVE_ERROR_MAX,
				         "line %u, column %u: regular expressions too many or too complex",
				         s->regex_over->line, s->regex_over->col);
		} else if (s->nregexes) {
			s->regexes = arena_alloc(a, s->nregexes * sizeof *s->regexes);
			s->nregexes = 0;
			regex_walk(s, first);
		}
	}
	s->regex_errs = NULL;
	if (ps.other.n) {
		*errs = ps.other;
		sieve_script_free(&s);
		return NULL;
	}
	return s;
}

void sieve_script_free(struct sieve_script **s)
{
	if (!s || !*s)
		return;
	struct arena *a = (*s)->arena;
	for (uint32_t i = 0; i < (*s)->nregexes; i++)
		sv_regex_free((*s)->regexes[i]->re);
	arena_free(&a);
	*s = NULL;
}

/* Commands of a block and of the blocks in it, an if's elsif and else
 * (its elsenode chain, walked in a loop: a chain can be long) included;
 * nesting is bounded by SIEVE_NEST_MAX. */
static int sends_out(const struct sv_node *n)
{
	for (; n; n = n->next)
		for (const struct sv_node *e = n; e; e = e->elsenode)
			if (e->id == C_REDIRECT || e->id == C_NOTIFY || sends_out(e->block))
				return 1;
	return 0;
}

int sieve_script_sends_out(const struct sieve_script *s)
{
	return sends_out(s->first);
}

/* The mailboxes the tests of the enclosing ifs make sure exist: "if
 * mailboxexists" (RFC 5490 §3.1), alone or in an allof, guards the
 * block under it (up: the guard of an if around that one). */
struct guard {
	const struct sv_node *test;
	const struct guard *up;
};

static int guarded(const struct guard *g, struct str name)
{
	for (; g; g = g->up) {
		const struct sv_node *t = g->test;
		uint16_t nt = t->id == T_ALLOF ? t->ntests : 1;
		for (uint16_t k = 0; k < nt; k++) {
			const struct sv_node *m = t->id == T_ALLOF ? t->tests[k] : t;
			if (m->id != T_MAILBOXEXISTS || m->npos < 1)
				continue;
			for (uint32_t i = 0; i < m->pos[0].n; i++)
				if (!m->pos[0].v[i].dyn && str_eq(m->pos[0].v[i].s, name))
					return 1;
		}
	}
	return 0;
}

static void targets(const struct sv_node *n, const struct guard *g, sieve_target_fn *fn, void *arg)
{
	for (; n; n = n->next)
		for (const struct sv_node *e = n; e; e = e->elsenode) {
			/* a fileinto that runs only when its mailbox exists
			 * goes nowhere else: not reported */
			if ((e->id == C_FILEINTO || e->id == C_REDIRECT) && !e->pos[0].v[0].dyn &&
			    !(e->id == C_FILEINTO && guarded(g, e->pos[0].v[0].s))) {
				/* :specialuse and :mailboxid (RFC 8579, RFC 9042)
				 * name the mailbox when one has that use or id: the
				 * name given is only the fallback, as good as :create
				 * for a warning of a missing mailbox */
				int create = 0;
				for (uint16_t i = 0; i < e->ntags; i++)
					create |= e->tags[i].tag == G_CREATE ||
					          e->tags[i].tag == G_SPECIALUSE ||
					          e->tags[i].tag == G_MAILBOXID;
				fn(arg,
				   e->id == C_REDIRECT ? SIEVE_TARGET_REDIRECT
				                       : SIEVE_TARGET_FILEINTO,
				   e->pos[0].v[0].s, create, e->line, e->col);
			}
			/* RFC 6609 §3.2: a script included without :optional
			 * must exist when the script runs */
			if (e->id == C_INCLUDE && !e->pos[0].v[0].dyn) {
				int flags = 0, global = 0;
				for (uint16_t i = 0; i < e->ntags; i++) {
					if (e->tags[i].tag == G_OPTIONAL)
						flags |= SIEVE_INCLUDE_OPTIONAL;
					if (e->tags[i].tag == G_ONCE)
						flags |= SIEVE_INCLUDE_ONCE;
					global |= e->tags[i].tag == G_GLOBAL;
				}
				fn(arg, global ? SIEVE_TARGET_INCLUDE_GLOBAL : SIEVE_TARGET_INCLUDE,
				   e->pos[0].v[0].s, flags, e->line, e->col);
			}
			struct guard in = {
			    (e->id == C_IF || e->id == C_ELSIF) && e->ntests ? e->tests[0] : NULL,
			    g};
			targets(e->block, in.test ? &in : g, fn, arg);
		}
}

void sieve_script_targets(const struct sieve_script *s, sieve_target_fn *fn, void *arg)
{
	targets(s->first, NULL, fn, arg);
}

const char *sieve_script_warnings(const struct sieve_script *s)
{
	return s->warnings;
}

int sieve_script_requires(const struct sieve_script *s, const char *ext)
{
	int x = sv_ext_find(str_c(ext));
	return x >= 0 && (s->exts >> x & 1);
}
