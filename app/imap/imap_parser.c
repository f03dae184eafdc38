/*
 * imap_parser.c — incremental IMAP command parser. See imap_parser.h.
 *
 * One state per position in the grammar; imap_parser_feed() runs octets
 * through step() one at a time, with bulk paths for the long runs (atom
 * and quoted text, literal data, skipped input) that stop exactly where
 * the per-octet path would, so results never depend on chunking. Every
 * text octet is counted against the line and command limits before it is
 * interpreted. Arguments are collected per open list as a linked list in
 * the arena and turned into an END-terminated array when the list closes.
 */
#include "imap_parser.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/spool.h"
#include "core/xalloc.h"
#include "imap_seqset.h"
#include "imap_utf7.h"

/* Literals up to this size are put straight into the arena. */
#define SMALL_LITERAL 4096
/* The token buffer is trimmed back to this after a command. */
#define TOK_KEEP 4096

enum state {
	ST_START,    /* before a tag */
	ST_EMPTY_LF, /* CR at the start of a line */
	ST_TAG,
	ST_NAME_START, /* after the tag's space */
	ST_NAME,
	ST_UIDNAME_START, /* after "UID " */
	ST_UIDNAME,
	ST_ARG, /* after a space or "(": an argument, ")" or line end */
	ST_SEP, /* after an argument: space, ")" or line end */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_LIT_NUM,   /* after "{" */
	ST_LIT_CLOSE, /* after "+": "}" */
	ST_LIT_CR,    /* after "}": line end */
	ST_LIT_LF,    /* after "}" CR: LF */
	ST_LIT_WAIT,  /* IMAP_PARSE_LITERAL returned */
	ST_LIT_DATA,
	ST_SECTION,      /* inside "[" */
	ST_SECTION_LIST, /* after "HEADER.FIELDS ": "(" */
	ST_SECTION_END,  /* after the header list: "]" */
	ST_PARTIAL,      /* after "]": "<" or the end of the attribute */
	ST_PARTIAL_OFF,
	ST_PARTIAL_LEN,
	ST_EOL_LF,    /* CR at the end of the command */
	ST_DONE,      /* IMAP_PARSE_COMMAND returned */
	ST_FAILED,    /* an error returned */
	ST_SKIP_LINE, /* resynchronising: to the line end */
	ST_SKIP_LIT,  /* resynchronising: literal octets */
	ST_DEAD,      /* cannot resynchronise */
	ST_LINE,      /* imap_parser_line() */
	ST_LINE_LF,
};

/* step() results besides the public ones. */
#define R_CONT 100  /* octet used, go on */
#define R_AGAIN 101 /* octet not used, state changed: run it again */

enum frame_kind { FRAME_TOP, FRAME_LIST, FRAME_HEADERS };

struct link {
	struct imap_arg arg;
	struct link *next;
};

struct imap_frame {
	struct link *head, *tail;
	size_t count;
	struct imap_arg *owner; /* the LIST argument this frame fills */
	enum frame_kind kind;
};

struct imap_lit {
	struct imap_lit *next;
	struct spool sp; /* in memory within the budget, else in a file */
	struct str data; /* sp as one range, once complete */
	uint64_t held;   /* counted in lits_held until freed */
};

/* Octets announced by the big literals alive in the whole process (all
 * loops): APPEND admission keeps it under a ceiling (imap_literals_held). */
static _Atomic uint64_t lits_held;

uint64_t imap_literals_held(void)
{
	return atomic_load_explicit(&lits_held, memory_order_relaxed);
}

static void lit_free(struct imap_lit *l)
{
	atomic_fetch_sub_explicit(&lits_held, l->held, memory_order_relaxed);
	spool_free(&l->sp);
	if (l->held >= MEM_RELEASE_AFTER)
		mem_release_soon(); /* a big literal is gone: so is its memory */
	free(l);
}

/*
 * Octet classes. ATOM: may appear in an atom (ATOM-CHAR plus "]", "%",
 * "*", which astrings, list patterns and sequence sets use); RUN: atom
 * octets the bulk path may take without a look ("[" needs one); TAG: tag
 * octets (ASTRING-CHAR but "+"). Not in any: CTL, SP, 8-bit, and
 * ( ) { " \ (GNU range designators keep this a constant table).
 */
#define C_ATOM 1
#define C_RUN 2
#define C_TAG 4
#define C_ALL (C_ATOM | C_RUN | C_TAG)
/* clang-format off */
static const unsigned char cls[256] = {
	['!'] = C_ALL,
	['#' ... '$'] = C_ALL,
	['%'] = C_ATOM | C_RUN,
	['&' ... '\''] = C_ALL,
	['*' ... '+'] = C_ATOM | C_RUN,
	[',' ... 'Z'] = C_ALL,
	['['] = C_ATOM | C_TAG,
	[']' ... 'z'] = C_ALL,
	['|' ... '~'] = C_ALL,
};
/* clang-format on */

/* ---- command table ---- */

static const struct {
	const char *name;
	enum imap_cmd_id id, uid_id;
} commands[] = {
    {"CAPABILITY", IMAP_CMD_CAPABILITY, IMAP_CMD_UNKNOWN},
    {"NOOP", IMAP_CMD_NOOP, IMAP_CMD_UNKNOWN},
    {"LOGOUT", IMAP_CMD_LOGOUT, IMAP_CMD_UNKNOWN},
    {"STARTTLS", IMAP_CMD_STARTTLS, IMAP_CMD_UNKNOWN},
    {"AUTHENTICATE", IMAP_CMD_AUTHENTICATE, IMAP_CMD_UNKNOWN},
    {"LOGIN", IMAP_CMD_LOGIN, IMAP_CMD_UNKNOWN},
    {"ENABLE", IMAP_CMD_ENABLE, IMAP_CMD_UNKNOWN},
    {"SELECT", IMAP_CMD_SELECT, IMAP_CMD_UNKNOWN},
    {"EXAMINE", IMAP_CMD_EXAMINE, IMAP_CMD_UNKNOWN},
    {"CREATE", IMAP_CMD_CREATE, IMAP_CMD_UNKNOWN},
    {"DELETE", IMAP_CMD_DELETE, IMAP_CMD_UNKNOWN},
    {"RENAME", IMAP_CMD_RENAME, IMAP_CMD_UNKNOWN},
    {"SUBSCRIBE", IMAP_CMD_SUBSCRIBE, IMAP_CMD_UNKNOWN},
    {"UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_UNKNOWN},
    {"LIST", IMAP_CMD_LIST, IMAP_CMD_UNKNOWN},
    {"LSUB", IMAP_CMD_LSUB, IMAP_CMD_UNKNOWN},
    {"NAMESPACE", IMAP_CMD_NAMESPACE, IMAP_CMD_UNKNOWN},
    {"STATUS", IMAP_CMD_STATUS, IMAP_CMD_UNKNOWN},
    {"APPEND", IMAP_CMD_APPEND, IMAP_CMD_UNKNOWN},
    {"IDLE", IMAP_CMD_IDLE, IMAP_CMD_UNKNOWN},
    {"CHECK", IMAP_CMD_CHECK, IMAP_CMD_UNKNOWN},
    {"CLOSE", IMAP_CMD_CLOSE, IMAP_CMD_UNKNOWN},
    {"UNSELECT", IMAP_CMD_UNSELECT, IMAP_CMD_UNKNOWN},
    {"EXPUNGE", IMAP_CMD_EXPUNGE, IMAP_CMD_UID_EXPUNGE},
    {"SEARCH", IMAP_CMD_SEARCH, IMAP_CMD_UID_SEARCH},
    {"FETCH", IMAP_CMD_FETCH, IMAP_CMD_UID_FETCH},
    {"STORE", IMAP_CMD_STORE, IMAP_CMD_UID_STORE},
    {"COPY", IMAP_CMD_COPY, IMAP_CMD_UID_COPY},
    {"MOVE", IMAP_CMD_MOVE, IMAP_CMD_UID_MOVE},
    {"ID", IMAP_CMD_ID, IMAP_CMD_UNKNOWN},
    {"GETQUOTA", IMAP_CMD_GETQUOTA, IMAP_CMD_UNKNOWN},
    {"GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT, IMAP_CMD_UNKNOWN},
    {"SETQUOTA", IMAP_CMD_SETQUOTA, IMAP_CMD_UNKNOWN},
    {"SORT", IMAP_CMD_SORT, IMAP_CMD_UID_SORT},
    {"THREAD", IMAP_CMD_THREAD, IMAP_CMD_UID_THREAD},
    {"REPLACE", IMAP_CMD_REPLACE, IMAP_CMD_UID_REPLACE},
    {"COMPRESS", IMAP_CMD_COMPRESS, IMAP_CMD_UNKNOWN},
    {"GETMETADATA", IMAP_CMD_GETMETADATA, IMAP_CMD_UNKNOWN},
    {"SETMETADATA", IMAP_CMD_SETMETADATA, IMAP_CMD_UNKNOWN},
    {"CANCELUPDATE", IMAP_CMD_CANCELUPDATE, IMAP_CMD_UNKNOWN},
    {"NOTIFY", IMAP_CMD_NOTIFY, IMAP_CMD_UNKNOWN},
    {"GENURLAUTH", IMAP_CMD_GENURLAUTH, IMAP_CMD_UNKNOWN},
    {"RESETKEY", IMAP_CMD_RESETKEY, IMAP_CMD_UNKNOWN},
    {"URLFETCH", IMAP_CMD_URLFETCH, IMAP_CMD_UNKNOWN},
    {"GETJMAPACCESS", IMAP_CMD_GETJMAPACCESS, IMAP_CMD_UNKNOWN},
    {"SETACL", IMAP_CMD_SETACL, IMAP_CMD_UNKNOWN},
    {"DELETEACL", IMAP_CMD_DELETEACL, IMAP_CMD_UNKNOWN},
    {"GETACL", IMAP_CMD_GETACL, IMAP_CMD_UNKNOWN},
    {"LISTRIGHTS", IMAP_CMD_LISTRIGHTS, IMAP_CMD_UNKNOWN},
    {"MYRIGHTS", IMAP_CMD_MYRIGHTS, IMAP_CMD_UNKNOWN},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum imap_cmd_id imap_cmd_lookup(struct str name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (str_eq_ci_c(name, commands[i].name))
			return commands[i].id;
	return IMAP_CMD_UNKNOWN;
}

static enum imap_cmd_id uid_lookup(struct str name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (str_eq_ci_c(name, commands[i].name))
			return commands[i].uid_id;
	return IMAP_CMD_UNKNOWN;
}

const char *imap_cmd_name(enum imap_cmd_id id)
{
	static const char *const uid_names[] = {
	    "UID EXPUNGE", "UID SEARCH", "UID FETCH", "UID STORE",
	    "UID COPY",    "UID MOVE",   "UID SORT",  "UID THREAD", "UID REPLACE",
	};

	if (id >= IMAP_CMD_UID_EXPUNGE && id < IMAP_CMD_COUNT)
		return uid_names[id - IMAP_CMD_UID_EXPUNGE];
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].id == id)
			return commands[i].name;
	return "UNKNOWN";
}

const char *imap_parse_strerror(int code)
{
#define T(c) [(c)-IMAP_PARSE_ERR_MIN]
	static const char *const text[] = {
	    T(IMAP_PARSE_LINE) = "line",
	    T(IMAP_PARSE_COMMAND) = "command",
	    T(IMAP_PARSE_LITERAL) = "literal",
	    T(IMAP_PARSE_MORE) = "need more",
	    T(IMAP_PARSE_ERR_EMPTY_LINE) = "Empty command line",
	    T(IMAP_PARSE_ERR_TAG) = "Invalid tag",
	    T(IMAP_PARSE_ERR_NO_COMMAND) = "Missing command",
	    T(IMAP_PARSE_ERR_SYNTAX) = "Syntax error",
	    T(IMAP_PARSE_ERR_QUOTED) = "Invalid quoted string",
	    T(IMAP_PARSE_ERR_UTF8) = "Invalid UTF-8 in string",
	    T(IMAP_PARSE_ERR_NUL) = "NUL octet not allowed",
	    T(IMAP_PARSE_ERR_BARE_CR) = "CR not followed by LF",
	    T(IMAP_PARSE_ERR_PARENS) = "Unbalanced parentheses",
	    T(IMAP_PARSE_ERR_DEPTH) = "Lists nested too deep",
	    T(IMAP_PARSE_ERR_SECTION) = "Invalid section",
	    T(IMAP_PARSE_ERR_NUMBER) = "Number too big",
	    T(IMAP_PARSE_ERR_LITERAL_SIZE) = "Invalid literal size",
	    T(IMAP_PARSE_ERR_LINE_TOO_LONG) = "Line too long",
	    T(IMAP_PARSE_ERR_COMMAND_TOO_BIG) = "Command too big",
	    T(IMAP_PARSE_ERR_LITERAL_TOO_BIG) = "Literal too big",
	    T(IMAP_PARSE_ERR_LITERAL_MINUS) = "Non-synchronizing literal over 4096 octets",
	    T(IMAP_PARSE_ERR_TOO_MANY_ARGS) = "Too many arguments",
	    T(IMAP_PARSE_ERR_DESYNC) = "Cannot skip the rest of the command",
	    T(IMAP_PARSE_ERR_RESOURCES) = "Out of local resources for the literal",
	    T(IMAP_PARSE_ERR_DISK_FULL) = "Not enough disk space on the server",
	};
#undef T

	if (code < IMAP_PARSE_ERR_MIN || code > IMAP_PARSE_LINE)
		return "Unknown error";
	return text[code - IMAP_PARSE_ERR_MIN];
}

/* ---- life cycle ---- */

void imap_parser_limits_default(struct imap_parser_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	lim->max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	lim->max_command = IMAP_PARSER_DEFAULT_MAX_COMMAND;
	lim->max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
}

void imap_parser_init(struct imap_parser *p, struct arena *arena,
                      const struct imap_parser_limits *lim)
{
	memset(p, 0, sizeof(*p));
	if (lim)
		p->limits = *lim;
	else
		imap_parser_limits_default(&p->limits);
	p->arena = arena;
	p->frames = xcalloc(IMAP_PARSER_MAX_DEPTH + 1, sizeof(*p->frames));
	buf_init(&p->tok, p->limits.max_line);
	/* A LOGIN password is a token too: each is wiped as it is reset. */
	buf_set_secret(&p->tok);
	p->state = ST_START;
}

static void free_lits(struct imap_parser *p)
{
	while (p->lits) {
		struct imap_lit *l = p->lits;

		p->lits = l->next;
		lit_free(l);
	}
	p->lit_cur = NULL;
	p->lit_dst = NULL;
}

struct imap_lit *imap_parser_take_literals(struct imap_parser *p)
{
	struct imap_lit *l = p->lits;

	p->lits = NULL;
	p->lit_cur = NULL;
	p->lit_dst = NULL;
	return l;
}

void imap_literals_free(struct imap_lit **lp)
{
	while (*lp) {
		struct imap_lit *l = *lp;

		*lp = l->next;
		lit_free(l);
	}
}

int imap_literal_blob_id(struct imap_lit *lits, const char *p, size_t len, uint8_t id_r[32])
{
	for (struct imap_lit *l = lits; l; l = l->next) {
		if (l->data.p == p && l->data.len == len && l->sp.len == len) {
			spool_blob_id(&l->sp, id_r);
			return 0;
		}
	}
	return -1;
}

void imap_parser_clear(struct imap_parser *p)
{
	free_lits(p);
	buf_free(&p->tok);
	free(p->frames);
	p->frames = NULL;
}

/* Forgets the command under construction (its arena memory is the daemon's). */
static void drop_command(struct imap_parser *p)
{
	free_lits(p);
	memset(p->frames, 0, (p->depth + 1) * sizeof(*p->frames));
	p->depth = 0;
	p->sec = NULL;
	buf_reset(&p->tok);
}

int imap_parser_mid_command(const struct imap_parser *p)
{
	return p->state != ST_START && p->state != ST_DEAD && p->state != ST_DONE &&
	       p->state != ST_FAILED;
}

void imap_parser_next(struct imap_parser *p)
{
	switch (p->state) {
	case ST_DONE:
		drop_command(p);
		p->state = ST_START;
		break;
	case ST_FAILED:
		p->state = p->resume;
		break;
	case ST_START:
	case ST_SKIP_LINE:
	case ST_SKIP_LIT:
	case ST_DEAD:
		break;
	default:
		fatalx("imap_parser_next in the middle of a command (state %d)", p->state);
	}
	if (p->state == ST_DEAD)
		return;
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->err = 0;
	p->err_msg = NULL;
	p->err_skip = 0;
	p->err_close = 0;
	p->line_len = 0;
	p->cmd_bytes = 0;
	p->nargs_total = 0;
	if (p->tok.cap > TOK_KEEP)
		buf_free(&p->tok);
	else
		buf_reset(&p->tok);
}

/* ---- errors and resynchronisation ---- */

/* Follows a literal announcement ("{N}" / "{N+}" then a line end) while skipping. */
static void skip_track(struct imap_parser *p, unsigned char c)
{
	if (p->skip_raw)
		return;
	if (c == '{') {
		p->skip_st = 1;
		p->skip_num = 0;
		p->skip_digits = 0;
		p->skip_overflow = 0;
		p->skip_nonsync = 0;
		return;
	}
	switch (p->skip_st) {
	case 1:
		if (c >= '0' && c <= '9') {
			if (p->skip_num > (UINT64_MAX - 9) / 10)
				p->skip_overflow = 1;
			else
				p->skip_num = p->skip_num * 10 + (c - '0');
			p->skip_digits++;
			return;
		}
		if (p->skip_digits && c == '+') {
			p->skip_nonsync = 1;
			p->skip_st = 2;
			return;
		}
		if (p->skip_digits && c == '}') {
			p->skip_st = 3;
			return;
		}
		break;
	case 2:
		if (c == '}') {
			p->skip_st = 3;
			return;
		}
		break;
	case 3:
		if (c == '\r') {
			p->skip_st = 4;
			return;
		}
		break;
	}
	p->skip_st = 0;
}

/*
 * Reports code and arranges the resynchronisation. c is the offending
 * octet (already consumed): after an LF the line is over; otherwise the
 * rest of the line is skipped, and the skipper picks up a literal
 * announcement the octet was part of. c < 0: skip the line, nothing
 * pending (the error came at the end of literal data).
 */
static int fail(struct imap_parser *p, int code, const char *msg, int c)
{
	p->skip_st = 0;
	/* A raw line has no literals: skip it without looking for any. */
	p->skip_raw = p->state == ST_LINE || p->state == ST_LINE_LF;
	if (c >= 0) {
		/* Continue an announcement in progress so its octets are skipped. */
		switch (p->state) {
		case ST_LIT_NUM:
			p->skip_st = 1;
			p->skip_num = p->num;
			p->skip_digits = p->num_digits;
			p->skip_overflow = p->num_overflow;
			p->skip_nonsync = 0;
			break;
		case ST_LIT_CLOSE:
		case ST_LIT_CR:
		case ST_LIT_LF:
			p->skip_st = p->state == ST_LIT_CLOSE ? 2 : p->state == ST_LIT_CR ? 3 : 4;
			p->skip_num = p->num;
			p->skip_digits = p->num_digits;
			p->skip_overflow = p->num_overflow;
			p->skip_nonsync = p->lit_nonsync;
			break;
		default:
			break;
		}
	}
	drop_command(p);
	p->err = code;
	p->err_msg = msg ? msg : imap_parse_strerror(code);
	p->err_skip = 0;
	p->err_close = 0;
	if (c == '\n') {
		p->resume = ST_START;
	} else {
		p->resume = ST_SKIP_LINE;
		if (c >= 0)
			skip_track(p, (unsigned char)c);
	}
	p->state = ST_FAILED;
	return code;
}

/*
 * Like fail() for a literal that was announced (its line end consumed) but
 * will not be read: a synchronizing one was never sent; a non-sync one is
 * on its way and is skipped with the rest of the command.
 */
static int fail_literal(struct imap_parser *p, int code, const char *msg)
{
	int nonsync = p->lit_nonsync, overflow = p->num_overflow;
	uint64_t n = p->num;

	p->state = ST_FAILED; /* no announcement to continue in fail() */
	fail(p, code, msg, '\n');
	if (nonsync) {
		/* Skipping more than a whole command may carry is not worth it. */
		if (overflow || n > p->limits.max_command) {
			p->err_close = 1;
			p->resume = ST_DEAD;
		} else {
			p->resume = ST_SKIP_LIT;
			p->lit_left = n;
		}
		p->err_skip = overflow ? UINT64_MAX : n;
	}
	return code;
}

/* ---- tree building ---- */

static char *dup(struct imap_parser *p, const char *s, size_t n)
{
	return arena_strndup(p->arena, s, n);
}

/* Appends an argument to the innermost open list; NULL past max_args. */
static struct imap_arg *add_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_frame *f = &p->frames[p->depth];
	struct link *l;

	if (p->nargs_total >= p->limits.max_args)
		return NULL;
	p->nargs_total++;
	l = arena_zalloc(p->arena, sizeof(*l));
	l->arg.type = type;
	if (f->tail)
		f->tail->next = l;
	else
		f->head = l;
	f->tail = l;
	f->count++;
	return &l->arg;
}

/* Turns the innermost list into an END-terminated array and pops it. */
static const struct imap_arg *close_frame(struct imap_parser *p, size_t *count_r)
{
	struct imap_frame *f = &p->frames[p->depth];
	struct imap_arg *a = arena_alloc(p->arena, (f->count + 1) * sizeof(*a));
	size_t i = 0;

	for (struct link *l = f->head; l; l = l->next)
		a[i++] = l->arg;
	memset(&a[i], 0, sizeof(a[i]));
	*count_r = f->count;
	memset(f, 0, sizeof(*f));
	if (p->depth)
		p->depth--;
	return a;
}

static int push_frame(struct imap_parser *p, enum frame_kind kind, struct imap_arg *owner, int c)
{
	struct imap_frame *f;

	if (p->depth >= IMAP_PARSER_MAX_DEPTH)
		return fail(p, IMAP_PARSE_ERR_DEPTH, NULL, c);
	f = &p->frames[++p->depth];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->owner = owner;
	return R_CONT;
}

static int tok_add(struct imap_parser *p, const void *s, size_t n, int c)
{
	/* The token is part of the line, so max_line bounds it already. */
	if (buf_append(&p->tok, s, n) < 0)
		return fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, NULL, c);
	return R_CONT;
}

/* The command is complete: close the top level and hand it over. */
static int finish_command(struct imap_parser *p)
{
	p->cmd.args = close_frame(p, &p->cmd.nargs);
	p->state = ST_DONE;
	return IMAP_PARSE_COMMAND;
}

/* A line end where an argument or separator may be. */
static int line_end(struct imap_parser *p, unsigned char c)
{
	if (p->depth > 0)
		return fail(p, IMAP_PARSE_ERR_PARENS, "Missing ')'", c);
	if (c == '\r') {
		p->state = ST_EOL_LF;
		return R_CONT;
	}
	p->cmd.bare_lf = 1;
	return finish_command(p);
}

static int close_paren(struct imap_parser *p, unsigned char c)
{
	struct imap_frame *f = &p->frames[p->depth];
	const struct imap_arg *a;
	size_t n;

	if (p->depth == 0)
		return fail(p, IMAP_PARSE_ERR_PARENS, "Unexpected ')'", c);
	if (f->kind == FRAME_HEADERS) {
		if (f->count == 0)
			return fail(p, IMAP_PARSE_ERR_SECTION, "Empty header list", c);
		a = close_frame(p, &n);
		p->sec->fields = a;
		p->sec->nfields = n;
		p->state = ST_SECTION_END;
		return R_CONT;
	}
	{
		struct imap_arg *owner = f->owner;

		a = close_frame(p, &n);
		owner->list = a;
		owner->list_count = n;
	}
	p->state = ST_SEP;
	return R_CONT;
}

/* ---- tokens ---- */

static int atom_done(struct imap_parser *p, int c)
{
	struct str t = buf_str(&p->tok);
	enum imap_arg_type type = IMAP_ARG_ATOM;
	struct imap_arg *a;
	unsigned flags = 0;
	uint64_t v = 0;

	if (t.p[0] == '\\') {
		if (t.len == 1)
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Empty flag", c);
		flags |= IMAP_ARGF_FLAG;
	}
	if (t.len == 3 && str_eq_ci_c(t, "NIL"))
		type = IMAP_ARG_NIL;
	if (str_to_u64(t, INT64_MAX, &v) == 0) {
		flags |= IMAP_ARGF_NUMBER;
		if (v <= UINT32_MAX)
			flags |= IMAP_ARGF_NUMBER32;
	} else {
		v = 0;
	}
	if ((t.p[0] == '$' || t.p[0] == '*' || (t.p[0] >= '1' && t.p[0] <= '9')) &&
	    imap_seqset_check(t, SIZE_MAX) >= 0)
		flags |= IMAP_ARGF_SEQSET;
	a = add_arg(p, type);
	if (!a)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL, c);
	a->flags = flags;
	a->num = v;
	a->str = str_make(dup(p, t.p, t.len), t.len);
	buf_reset(&p->tok);
	p->state = ST_SEP;
	return R_AGAIN;
}

static int quoted_done(struct imap_parser *p, int c)
{
	struct str t = buf_str(&p->tok);
	struct imap_arg *a;
	unsigned flags = 0;

	for (size_t i = 0; i < t.len; i++) {
		if ((unsigned char)t.p[i] >= 0x80) {
			if (!imap_utf8_valid(t))
				return fail(p, IMAP_PARSE_ERR_UTF8, NULL, c);
			flags = IMAP_ARGF_8BIT;
			break;
		}
	}
	a = add_arg(p, IMAP_ARG_STRING);
	if (!a)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL, c);
	a->flags = flags;
	a->str = str_make(dup(p, t.p, t.len), t.len);
	buf_reset(&p->tok);
	p->state = ST_SEP;
	return R_CONT;
}

/* The literal's octets are all in: it becomes an argument. */
static void literal_done(struct imap_parser *p)
{
	/* Room was checked at the announcement, so this cannot fail. */
	struct imap_arg *a = add_arg(p, IMAP_ARG_LITERAL);

	if (!a)
		fatalx("imap parser: literal argument over the checked limit");
	if (p->lit_dst)
		a->str = str_make(p->lit_dst, p->cmd.literal.size);
	else
		a->str = p->lit_cur->data;
	if (p->lit_binary)
		a->flags |= IMAP_ARGF_LITERAL8;
	if (p->lit_nonsync)
		a->flags |= IMAP_ARGF_NONSYNC;
	p->lit_dst = NULL;
	p->lit_cur = NULL;
	p->state = ST_SEP;
}

/* The line end after "{N}" is in: check the announcement and stop. */
static int literal_announced(struct imap_parser *p)
{
	uint64_t n = p->num;

	p->line_len = 0;
	p->cmd.literal.size = p->num_overflow ? 0 : n;
	p->cmd.literal.nonsync = p->lit_nonsync;
	p->cmd.literal.binary = p->lit_binary;
	if (p->num_overflow)
		return fail_literal(p, IMAP_PARSE_ERR_LITERAL_SIZE, "Literal size too big");
	if (p->nargs_total >= p->limits.max_args)
		return fail_literal(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL);
	if (p->lit_nonsync && p->limits.literal_minus && n > IMAP_LITERAL_MINUS_MAX)
		return fail_literal(p, IMAP_PARSE_ERR_LITERAL_MINUS, NULL);
	if (n > p->limits.max_literal)
		return fail_literal(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG, NULL);
	if (n > p->limits.max_command || p->cmd_bytes > p->limits.max_command - n)
		return fail_literal(p, IMAP_PARSE_ERR_COMMAND_TOO_BIG, NULL);
	p->state = ST_LIT_WAIT;
	return IMAP_PARSE_LITERAL;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	uint64_t n = p->cmd.literal.size;

	if (p->state != ST_LIT_WAIT)
		fatalx("imap_parser_literal_accept without a literal (state %d)", p->state);
	p->cmd_bytes += n;
	p->lit_left = n;
	p->lit_fill = 0;
	if (n <= SMALL_LITERAL) {
		p->lit_dst = arena_alloc(p->arena, (size_t)n + 1);
		p->lit_dst[n] = '\0';
	} else {
		struct imap_lit *l = xmalloc(sizeof(*l));

		/* Grows with the data, never past the checked size; past
		 * the memory budget it goes to a file (core/spool.h). */
		spool_init(&l->sp, n, p->peer);
		l->held = n;
		atomic_fetch_add_explicit(&lits_held, n, memory_order_relaxed);
		l->next = p->lits;
		p->lits = l;
		p->lit_cur = l;
	}
	if (n == 0)
		literal_done(p);
	else
		p->state = ST_LIT_DATA;
}

const struct imap_arg *imap_parser_first_arg(const struct imap_parser *p)
{
	const struct imap_frame *top = &p->frames[0];

	/* No head: the literal being announced is the first argument. */
	if (p->state != ST_LIT_WAIT || !top->head)
		return NULL;
	return &top->head->arg;
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != ST_LIT_WAIT)
		fatalx("imap_parser_literal_refuse without a literal (state %d)", p->state);
	fail_literal(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG, "Literal refused");
}

/* A literal's data could not be kept: the command is lost and so is the
 * stream (the rest of the literal is on its way); the session ends. */
static int lit_resources(struct imap_parser *p)
{
	drop_command(p);
	p->err = IMAP_PARSE_ERR_RESOURCES;
	p->err_msg = imap_parse_strerror(IMAP_PARSE_ERR_RESOURCES);
	p->err_close = 1;
	p->state = ST_DEAD;
	return IMAP_PARSE_ERR_RESOURCES;
}

/* Bulk literal data; stops at a NUL unless literal8. */
static int literal_data(struct imap_parser *p, const unsigned char *s, size_t len, size_t *ip)
{
	size_t i = *ip, n = len - i;
	const unsigned char *nul;

	if (n > p->lit_left)
		n = (size_t)p->lit_left;
	if (!p->lit_binary && (nul = memchr(s + i, 0, n)) != NULL) {
		n = (size_t)(nul - (s + i)) + 1;
		p->lit_left -= n;
		*ip = i + n;
		{
			uint64_t left = p->lit_left;

			fail(p, IMAP_PARSE_ERR_NUL, "NUL in literal (use literal8)", -1);
			if (left) {
				p->resume = ST_SKIP_LIT;
				p->lit_left = left;
				p->err_skip = left;
			}
		}
		return IMAP_PARSE_ERR_NUL;
	}
	if (p->lit_dst)
		memcpy(p->lit_dst + p->lit_fill, s + i, n);
	else if (spool_append(&p->lit_cur->sp, s + i, n) < 0 ||
		 (p->lit_left == n && spool_finish(&p->lit_cur->sp, &p->lit_cur->data) < 0)) {
		/* The size was checked: memory or disk. A full disk is not
		 * this session's fault and may pass: the rest of the command
		 * is skipped, as after a NUL, and the session goes on. */
		int e = p->lit_cur->sp.error;
		if (e != ENOSPC && e != EDQUOT && e != EFBIG)
			return lit_resources(p);
		uint64_t left = p->lit_left - n;
		*ip = i + n;
		fail(p, IMAP_PARSE_ERR_DISK_FULL, NULL, -1);
		if (left) {
			p->resume = ST_SKIP_LIT;
			p->lit_left = left;
			p->err_skip = left;
		}
		return IMAP_PARSE_ERR_DISK_FULL;
	}
	p->lit_fill += n;
	p->lit_left -= n;
	*ip = i + n;
	if (p->lit_left == 0)
		literal_done(p);
	return R_CONT;
}

/* ---- sections ---- */

static const struct {
	const char *name;
	enum imap_fetch_att att;
} section_atts[] = {
    {"BODY", IMAP_FETCH_BODY},
    {"BODY.PEEK", IMAP_FETCH_BODY_PEEK},
    {"BINARY", IMAP_FETCH_BINARY},
    {"BINARY.PEEK", IMAP_FETCH_BINARY_PEEK},
    {"BINARY.SIZE", IMAP_FETCH_BINARY_SIZE},
};

/* "[" after an atom: 1 and a new SECTION argument when the atom names one. */
static int section_start(struct imap_parser *p, int c)
{
	struct str t = buf_str(&p->tok);
	struct imap_arg *a;
	size_t i;

	if (p->frames[p->depth].kind == FRAME_HEADERS)
		return 0;
	for (i = 0; i < sizeof(section_atts) / sizeof(section_atts[0]); i++)
		if (str_eq_ci_c(t, section_atts[i].name))
			break;
	if (i == sizeof(section_atts) / sizeof(section_atts[0]))
		return 0;
	a = add_arg(p, IMAP_ARG_SECTION);
	if (!a)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL, c);
	p->sec = arena_zalloc(p->arena, sizeof(*p->sec));
	p->sec->att = section_atts[i].att;
	a->str = str_make(dup(p, t.p, t.len), t.len);
	a->section = p->sec;
	buf_reset(&p->tok);
	p->state = ST_SECTION;
	return 1;
}

/*
 * Parses the section spec in the token (at_space: it ended at a space, so
 * a header list must follow). Returns R_CONT or an error.
 */
static int section_spec(struct imap_parser *p, int at_space, int c)
{
	struct imap_section *sec = p->sec;
	struct str t = buf_str(&p->tok), rest;
	size_t i = 0, n = 0, dots = 0;
	uint32_t *part;

	for (size_t k = 0; k < t.len; k++)
		dots += t.p[k] == '.';
	if (t.len && t.p[0] >= '0' && t.p[0] <= '9') {
		if (dots + 1 > IMAP_SECTION_PARTS_MAX)
			return fail(p, IMAP_PARSE_ERR_SECTION, "Too many section parts", c);
		part = arena_alloc(p->arena, (dots + 1) * sizeof(*part));
		while (i < t.len && t.p[i] >= '0' && t.p[i] <= '9') {
			uint64_t v = 0;

			if (t.p[i] == '0')
				return fail(p, IMAP_PARSE_ERR_SECTION, "Section part must be >= 1",
				            c);
			for (; i < t.len && t.p[i] >= '0' && t.p[i] <= '9'; i++) {
				v = v * 10 + (uint64_t)(t.p[i] - '0');
				if (v > UINT32_MAX)
					return fail(p, IMAP_PARSE_ERR_NUMBER,
					            "Section part too big", c);
			}
			part[n++] = (uint32_t)v;
			if (i == t.len)
				break;
			if (t.p[i] != '.' || i + 1 == t.len)
				return fail(p, IMAP_PARSE_ERR_SECTION, NULL, c);
			i++;
		}
		sec->part = part;
		sec->nparts = n;
	}
	rest = str_make(t.p + i, t.len - i);
	if (rest.len == 0)
		sec->text = IMAP_SECTION_WHOLE;
	else if (str_eq_ci_c(rest, "HEADER"))
		sec->text = IMAP_SECTION_HEADER;
	else if (str_eq_ci_c(rest, "HEADER.FIELDS"))
		sec->text = IMAP_SECTION_HEADER_FIELDS;
	else if (str_eq_ci_c(rest, "HEADER.FIELDS.NOT"))
		sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (str_eq_ci_c(rest, "TEXT"))
		sec->text = IMAP_SECTION_TEXT;
	else if (n > 0 && str_eq_ci_c(rest, "MIME"))
		sec->text = IMAP_SECTION_MIME;
	else
		return fail(p, IMAP_PARSE_ERR_SECTION, NULL, c);
	/* RFC 3516's grammar gives BINARY part numbers only
	 * ('section-binary = "[" [section-part] "]"'); HEADER, TEXT, MIME
	 * and HEADER.FIELDS after them are taken too, as Dovecot does and
	 * imaptest's fetch-binary-mime expects (imap_fetch.c says what they
	 * return). */
	if (at_space != (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	                 sec->text == IMAP_SECTION_HEADER_FIELDS_NOT))
		return fail(p, IMAP_PARSE_ERR_SECTION,
		            at_space ? "Unexpected space in section" : "Missing header list", c);
	sec->spec = str_make(dup(p, t.p, t.len), t.len);
	buf_reset(&p->tok);
	return R_CONT;
}

/* Adds a digit to p->num, failing past 2^63-1. */
static int num_digit(struct imap_parser *p, unsigned char c)
{
	uint64_t d = (uint64_t)(c - '0');

	if (p->num > ((uint64_t)INT64_MAX - d) / 10)
		return fail(p, IMAP_PARSE_ERR_NUMBER, "Partial offset or length too big", c);
	p->num = p->num * 10 + d;
	p->num_digits++;
	return R_CONT;
}

/* ---- the state machine ---- */

static int start_argument(struct imap_parser *p, unsigned char c)
{
	struct imap_arg *a;

	switch (c) {
	case ' ':
		return R_CONT;
	case '\r':
	case '\n':
		return line_end(p, c);
	case '(':
		if (p->frames[p->depth].kind == FRAME_HEADERS)
			return fail(p, IMAP_PARSE_ERR_SECTION, "List inside a header list", c);
		if (p->depth >= IMAP_PARSER_MAX_DEPTH)
			return fail(p, IMAP_PARSE_ERR_DEPTH, NULL, c);
		a = add_arg(p, IMAP_ARG_LIST);
		if (!a)
			return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL, c);
		return push_frame(p, FRAME_LIST, a, c);
	case ')':
		return close_paren(p, c);
	case '"':
		buf_reset(&p->tok);
		p->state = ST_QUOTED;
		return R_CONT;
	case '{':
		p->lit_binary = 0;
		goto literal;
	case 0:
		return fail(p, IMAP_PARSE_ERR_NUL, NULL, c);
	}
	if (cls[c] & C_ATOM || c == '\\') {
		buf_reset(&p->tok);
		p->state = ST_ATOM;
		return tok_add(p, &c, 1, c);
	}
	return fail(p, IMAP_PARSE_ERR_SYNTAX, c >= 0x80 ? "8-bit octet outside a string" : NULL, c);
literal:
	p->num = 0;
	p->num_digits = 0;
	p->num_overflow = 0;
	p->lit_nonsync = 0;
	p->state = ST_LIT_NUM;
	return R_CONT;
}

static int name_done(struct imap_parser *p, int uid, unsigned char c)
{
	struct str t = buf_str(&p->tok);

	if (!uid && str_eq_ci_c(t, "UID")) {
		p->cmd.uid = 1;
		p->cmd.name = str_make(dup(p, t.p, t.len), t.len);
		buf_reset(&p->tok);
		if (c != ' ')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "UID needs a command", c);
		p->state = ST_UIDNAME_START;
		return R_CONT;
	}
	if (uid) {
		char *name = arena_alloc(p->arena, p->cmd.name.len + 1 + t.len + 1);

		memcpy(name, p->cmd.name.p, p->cmd.name.len);
		name[p->cmd.name.len] = ' ';
		memcpy(name + p->cmd.name.len + 1, t.p, t.len);
		name[p->cmd.name.len + 1 + t.len] = '\0';
		p->cmd.name = str_make(name, p->cmd.name.len + 1 + t.len);
		p->cmd.id = uid_lookup(t);
	} else {
		p->cmd.name = str_make(dup(p, t.p, t.len), t.len);
		p->cmd.id = imap_cmd_lookup(t);
	}
	buf_reset(&p->tok);
	p->state = ST_ARG;
	if (c == ' ')
		return R_CONT;
	return line_end(p, c);
}

static int step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_START:
		p->tok.max = p->limits.max_line;
		buf_reset(&p->tok);
		if (c == '\r') {
			p->state = ST_EMPTY_LF;
			return R_CONT;
		}
		if (c == '\n')
			return fail(p, IMAP_PARSE_ERR_EMPTY_LINE, NULL, c);
		if (!(cls[c] & C_TAG))
			return fail(p, IMAP_PARSE_ERR_TAG, c == 0 ? "NUL in tag" : NULL, c);
		p->state = ST_TAG;
		return tok_add(p, &c, 1, c);

	case ST_EMPTY_LF:
		if (c == '\n')
			return fail(p, IMAP_PARSE_ERR_EMPTY_LINE, NULL, c);
		return fail(p, IMAP_PARSE_ERR_BARE_CR, NULL, c);

	case ST_TAG:
		if (cls[c] & C_TAG) {
			if (p->tok.len >= IMAP_TAG_MAX)
				return fail(p, IMAP_PARSE_ERR_TAG, "Tag too long", c);
			return tok_add(p, &c, 1, c);
		}
		if (c == ' ' || c == '\r' || c == '\n') {
			struct str t = buf_str(&p->tok);

			p->cmd.tag = str_make(dup(p, t.p, t.len), t.len);
			buf_reset(&p->tok);
			if (c != ' ')
				return fail(p, IMAP_PARSE_ERR_NO_COMMAND, NULL, c);
			p->state = ST_NAME_START;
			return R_CONT;
		}
		return fail(p, IMAP_PARSE_ERR_TAG, c == 0 ? "NUL in tag" : NULL, c);

	case ST_NAME_START:
	case ST_UIDNAME_START:
		if (c == ' ')
			return R_CONT;
		if (c == '\r' || c == '\n') {
			if (p->state == ST_UIDNAME_START)
				return fail(p, IMAP_PARSE_ERR_SYNTAX, "UID needs a command", c);
			return fail(p, IMAP_PARSE_ERR_NO_COMMAND, NULL, c);
		}
		if (!(cls[c] & C_ATOM))
			return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SYNTAX,
			            "Invalid command name", c);
		p->state = p->state == ST_NAME_START ? ST_NAME : ST_UIDNAME;
		return tok_add(p, &c, 1, c);

	case ST_NAME:
	case ST_UIDNAME:
		if (cls[c] & C_ATOM)
			return tok_add(p, &c, 1, c);
		if (c == ' ' || c == '\r' || c == '\n')
			return name_done(p, p->state == ST_UIDNAME, c);
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SYNTAX,
		            "Invalid command name", c);

	case ST_ARG:
		return start_argument(p, c);

	case ST_SEP:
		switch (c) {
		case ' ':
			p->state = ST_ARG;
			return R_CONT;
		case ')':
			return close_paren(p, c);
		case '\r':
		case '\n':
			return line_end(p, c);
		case 0:
			return fail(p, IMAP_PARSE_ERR_NUL, NULL, c);
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing space between arguments", c);

	case ST_ATOM:
		if (cls[c] & C_RUN)
			return tok_add(p, &c, 1, c);
		switch (c) {
		case ' ':
		case ')':
		case '\r':
		case '\n':
			return atom_done(p, c);
		case '[': {
			int r = section_start(p, c);

			if (r != 0)
				return r < 0 ? r : R_CONT;
			return tok_add(p, &c, 1, c);
		}
		case '{':
			if (p->tok.len == 1 && p->tok.p[0] == '~') {
				p->lit_binary = 1;
				buf_reset(&p->tok);
				goto literal;
			}
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "'{' inside an atom", c);
		case '\\':
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "'\\' inside an atom", c);
		case 0:
			return fail(p, IMAP_PARSE_ERR_NUL, NULL, c);
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX,
		            c >= 0x80 ? "8-bit octet outside a string" : "Invalid octet in atom",
		            c);

	case ST_QUOTED:
		switch (c) {
		case '"':
			return quoted_done(p, c);
		case '\\':
			p->state = ST_QUOTED_ESC;
			return R_CONT;
		case '\r':
		case '\n':
			return fail(p, IMAP_PARSE_ERR_QUOTED, "Line end in a quoted string", c);
		case 0:
			return fail(p, IMAP_PARSE_ERR_NUL, NULL, c);
		}
		return tok_add(p, &c, 1, c);

	case ST_QUOTED_ESC:
		if (c == '"' || c == '\\') {
			p->state = ST_QUOTED;
			return tok_add(p, &c, 1, c);
		}
		return fail(p, IMAP_PARSE_ERR_QUOTED, "Invalid escape in a quoted string", c);

	case ST_LIT_NUM:
		if (c >= '0' && c <= '9') {
			uint64_t d = (uint64_t)(c - '0');

			/* Digit by digit, 63 bits at most; keep reading on overflow
			 * to learn whether it is {N+}. */
			if (p->num > ((uint64_t)INT64_MAX - d) / 10)
				p->num_overflow = 1;
			else
				p->num = p->num * 10 + d;
			p->num_digits++;
			return R_CONT;
		}
		if (p->num_digits && c == '+') {
			p->lit_nonsync = 1;
			p->state = ST_LIT_CLOSE;
			return R_CONT;
		}
		if (p->num_digits && c == '}') {
			p->state = ST_LIT_CR;
			return R_CONT;
		}
		return fail(p, IMAP_PARSE_ERR_LITERAL_SIZE, NULL, c);

	case ST_LIT_CLOSE:
		if (c == '}') {
			p->state = ST_LIT_CR;
			return R_CONT;
		}
		return fail(p, IMAP_PARSE_ERR_LITERAL_SIZE, NULL, c);

	case ST_LIT_CR:
		if (c == '\r') {
			p->state = ST_LIT_LF;
			return R_CONT;
		}
		if (c == '\n') {
			p->cmd.bare_lf = 1;
			return literal_announced(p);
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "A literal size must end the line", c);

	case ST_LIT_LF:
		if (c == '\n')
			return literal_announced(p);
		return fail(p, IMAP_PARSE_ERR_BARE_CR, NULL, c);

	case ST_SECTION:
		if (c == ']') {
			int r = section_spec(p, 0, c);

			if (r == R_CONT)
				p->state = ST_PARTIAL;
			return r;
		}
		if (c == ' ') {
			int r = section_spec(p, 1, c);

			if (r == R_CONT)
				p->state = ST_SECTION_LIST;
			return r;
		}
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    c == '.')
			return tok_add(p, &c, 1, c);
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SECTION, NULL, c);

	case ST_SECTION_LIST:
		if (c == ' ')
			return R_CONT;
		if (c == '(') {
			int r = push_frame(p, FRAME_HEADERS, NULL, c);

			if (r == R_CONT)
				p->state = ST_ARG;
			return r;
		}
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SECTION,
		            "Missing header list", c);

	case ST_SECTION_END:
		if (c == ']') {
			p->state = ST_PARTIAL;
			return R_CONT;
		}
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SECTION, "Missing ']'",
		            c);

	case ST_PARTIAL:
		if (c == '<') {
			if (p->sec->att == IMAP_FETCH_BINARY_SIZE)
				return fail(p, IMAP_PARSE_ERR_SECTION,
				            "BINARY.SIZE takes no partial", c);
			p->num = 0;
			p->num_digits = 0;
			p->state = ST_PARTIAL_OFF;
			return R_CONT;
		}
		p->sec = NULL;
		p->state = ST_SEP;
		return R_AGAIN;

	case ST_PARTIAL_OFF:
		if (c >= '0' && c <= '9')
			return num_digit(p, c);
		if (c == '.' && p->num_digits) {
			p->sec->offset = p->num;
			p->num = 0;
			p->num_digits = 0;
			p->state = ST_PARTIAL_LEN;
			return R_CONT;
		}
		/* "<origin>" alone: RFC 9051's grammar wants a length, but
		 * Dovecot takes the rest from the origin and clients (imaptest
		 * among them) send it; the reply names it the same way. */
		if (c == '>' && p->num_digits) {
			p->sec->partial = 1;
			p->sec->offset = p->num;
			p->sec->length = UINT64_MAX;
			p->sec = NULL;
			p->state = ST_SEP;
			return R_CONT;
		}
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SECTION,
		            "Invalid partial", c);

	case ST_PARTIAL_LEN:
		if (c >= '0' && c <= '9')
			return num_digit(p, c);
		if (c == '>' && p->num > 0) {
			p->sec->partial = 1;
			p->sec->length = p->num;
			p->sec = NULL;
			p->state = ST_SEP;
			return R_CONT;
		}
		return fail(p, c == 0 ? IMAP_PARSE_ERR_NUL : IMAP_PARSE_ERR_SECTION,
		            "Invalid partial", c);

	case ST_EOL_LF:
		if (c == '\n')
			return finish_command(p);
		return fail(p, IMAP_PARSE_ERR_BARE_CR, NULL, c);

	default:
		fatalx("imap parser: octet in state %d", p->state);
	}
literal:
	p->num = 0;
	p->num_digits = 0;
	p->num_overflow = 0;
	p->lit_nonsync = 0;
	p->state = ST_LIT_NUM;
	return R_CONT;
}

/* Skips to the line end; after a {N+} announcement, on to its literal. */
static int skip_line(struct imap_parser *p, const unsigned char *s, size_t len, size_t *ip)
{
	size_t i = *ip;

	while (i < len) {
		unsigned char c = s[i++];

		if (c != '\n') {
			skip_track(p, c);
			continue;
		}
		if ((p->skip_st == 3 || p->skip_st == 4) && p->skip_nonsync) {
			p->skip_st = 0;
			if (p->skip_overflow || p->skip_num > p->limits.max_command) {
				*ip = i;
				p->state = ST_DEAD;
				p->err = IMAP_PARSE_ERR_DESYNC;
				p->err_msg = "Literal too big to skip";
				p->err_close = 1;
				return IMAP_PARSE_ERR_DESYNC;
			}
			p->lit_left = p->skip_num;
			p->state = ST_SKIP_LIT;
		} else {
			/* A synchronizing literal is not sent without "+": over. */
			p->state = ST_START;
		}
		p->skip_st = 0;
		*ip = i;
		return R_CONT;
	}
	*ip = i;
	return R_CONT;
}

int imap_parser_feed(struct imap_parser *p, const char *in, size_t len, size_t *consumed_r)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	int r = R_CONT;

	switch (p->state) {
	case ST_DONE:
	case ST_FAILED:
	case ST_LIT_WAIT:
	case ST_LINE:
	case ST_LINE_LF:
		fatalx("imap_parser_feed in state %d: imap_parser_next() or a literal "
		       "decision is due",
		       p->state);
	case ST_DEAD:
		*consumed_r = 0;
		return IMAP_PARSE_ERR_DESYNC;
	default:
		break;
	}
	while (i < len) {
		size_t budget, j;
		unsigned char c;

		switch (p->state) {
		case ST_SKIP_LIT: {
			uint64_t n = len - i;

			if (n > p->lit_left)
				n = p->lit_left;
			i += (size_t)n;
			p->lit_left -= n;
			if (p->lit_left == 0) {
				p->skip_st = 0;
				p->state = ST_SKIP_LINE;
			}
			continue;
		}
		case ST_SKIP_LINE:
			r = skip_line(p, s, len, &i);
			if (r != R_CONT)
				goto out;
			continue;
		case ST_LIT_DATA:
			r = literal_data(p, s, len, &i);
			if (r != R_CONT)
				goto out;
			continue;
		case ST_ATOM:
		case ST_QUOTED:
			/* A run of ordinary octets, no further than the limits allow so
			 * a limit trips at the same octet as one by one. */
			budget = p->limits.max_line - p->line_len;
			if (p->limits.max_command - p->cmd_bytes < budget)
				budget = (size_t)(p->limits.max_command - p->cmd_bytes);
			if (budget > len - i)
				budget = len - i;
			j = i;
			if (p->state == ST_ATOM) {
				while (j < i + budget && (cls[s[j]] & C_RUN))
					j++;
			} else {
				while (j < i + budget && s[j] != '"' && s[j] != '\\' &&
				       s[j] != '\r' && s[j] != '\n' && s[j] != 0)
					j++;
			}
			if (j > i) {
				p->line_len += j - i;
				p->cmd_bytes += j - i;
				r = tok_add(p, s + i, j - i, s[j - 1]);
				i = j;
				if (r != R_CONT)
					goto out;
				continue;
			}
			break;
		default:
			break;
		}

		c = s[i++];
		if (c != '\r' && c != '\n') {
			if (p->line_len >= p->limits.max_line) {
				r = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, NULL, c);
				goto out;
			}
			p->line_len++;
		}
		if (p->cmd_bytes >= p->limits.max_command) {
			r = fail(p, IMAP_PARSE_ERR_COMMAND_TOO_BIG, NULL, c);
			goto out;
		}
		p->cmd_bytes++;
		do
			r = step(p, c);
		while (r == R_AGAIN);
		if (r != R_CONT)
			goto out;
	}
	r = IMAP_PARSE_MORE;
out:
	if (r == R_CONT)
		r = IMAP_PARSE_MORE;
	*consumed_r = i;
	return r;
}

int imap_parser_line(struct imap_parser *p, const char *in, size_t len, size_t *consumed_r,
                     struct str *line_r)
{
	size_t i = 0;
	int r;

	if (p->state == ST_SKIP_LINE && p->skip_raw) {
		/* The rest of a failed raw line comes first. */
		const char *lf = len ? memchr(in, '\n', len) : NULL;

		if (!lf) {
			*consumed_r = len;
			return IMAP_PARSE_MORE;
		}
		i = (size_t)(lf - in) + 1;
		p->state = ST_START;
	}
	if (p->state == ST_START) {
		p->tok.max = p->limits.max_line;
		buf_reset(&p->tok);
		p->state = ST_LINE;
	} else if (p->state != ST_LINE && p->state != ST_LINE_LF) {
		fatalx("imap_parser_line in state %d", p->state);
	}
	while (i < len) {
		unsigned char c = (unsigned char)in[i++];

		if (p->state == ST_LINE_LF) {
			if (c != '\n') {
				r = fail(p, IMAP_PARSE_ERR_BARE_CR, NULL, c);
				goto out;
			}
			goto line;
		}
		if (c == '\n')
			goto line;
		if (c == '\r') {
			p->state = ST_LINE_LF;
			continue;
		}
		if (c == 0) {
			r = fail(p, IMAP_PARSE_ERR_NUL, NULL, c);
			goto out;
		}
		if (p->tok.len >= p->limits.max_line) {
			r = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, NULL, c);
			goto out;
		}
		if (buf_append(&p->tok, &c, 1) < 0) {
			r = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, NULL, c);
			goto out;
		}
	}
	*consumed_r = i;
	return IMAP_PARSE_MORE;
line:
	*line_r = buf_str(&p->tok);
	p->state = ST_START;
	*consumed_r = i;
	return IMAP_PARSE_LINE;
out:
	*consumed_r = i;
	return r;
}

/* ---- argument helpers ---- */

int imap_arg_atom(const struct imap_arg *arg, struct str *s_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return -1;
	*s_r = arg->str;
	return 0;
}

int imap_arg_atom_is(const struct imap_arg *arg, const char *word)
{
	return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	       str_eq_ci_c(arg->str, word);
}

int imap_arg_string(const struct imap_arg *arg, struct str *s_r)
{
	if (arg->type != IMAP_ARG_STRING &&
	    (arg->type != IMAP_ARG_LITERAL || (arg->flags & IMAP_ARGF_LITERAL8)))
		return -1;
	*s_r = arg->str;
	return 0;
}

int imap_arg_astring(const struct imap_arg *arg, struct str *s_r)
{
	if (imap_arg_atom(arg, s_r) == 0)
		return 0;
	return imap_arg_string(arg, s_r);
}

int imap_arg_nstring(const struct imap_arg *arg, struct str *s_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*s_r = STR_NULL;
		return 0;
	}
	return imap_arg_string(arg, s_r);
}

int imap_arg_number32(const struct imap_arg *arg, uint32_t *v_r)
{
	if (arg->type != IMAP_ARG_ATOM || !(arg->flags & IMAP_ARGF_NUMBER32))
		return -1;
	*v_r = (uint32_t)arg->num;
	return 0;
}

int imap_arg_number64(const struct imap_arg *arg, uint64_t *v_r)
{
	if (arg->type != IMAP_ARG_ATOM || !(arg->flags & IMAP_ARGF_NUMBER))
		return -1;
	*v_r = arg->num;
	return 0;
}

int imap_arg_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return -1;
	*list_r = arg->list;
	*count_r = arg->list_count;
	return 0;
}

/* ---- dates ---- */

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits_at(struct str s, size_t i, size_t n, unsigned *v_r)
{
	unsigned v = 0;

	if (i + n > s.len)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (s.p[i + k] < '0' || s.p[i + k] > '9')
			return -1;
		v = v * 10 + (unsigned)(s.p[i + k] - '0');
	}
	*v_r = v;
	return 0;
}

/*
 * Parses "d-Mon-yyyy" at the start of s with a day of 1 or 2 digits (a
 * leading space allowed when space_day). Returns the octets used, or 0.
 */
static size_t date_part(struct str s, int space_day, int64_t *days_r)
{
	static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned day, year, m;
	size_t i = 0;

	if (space_day && s.len > 0 && s.p[0] == ' ')
		i = 1;
	if (digits_at(s, i, 2, &day) == 0 && i == 0)
		i = 2;
	else if (digits_at(s, i, 1, &day) == 0)
		i += 1;
	else
		return 0;
	if (i + 1 + 3 + 1 + 4 > s.len || s.p[i] != '-' || s.p[i + 4] != '-')
		return 0;
	for (m = 0; m < 12; m++)
		if (str_eq_ci(str_make(s.p + i + 1, 3), str_make(months[m], 3)))
			break;
	if (m == 12 || digits_at(s, i + 5, 4, &year) < 0)
		return 0;
	if (day < 1 || day > mdays[m])
		return 0;
	if (m == 1 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return 0;
	*days_r = days_from_civil(year, m + 1, day);
	return i + 9;
}

int imap_date_parse(struct str s, int64_t *days_r)
{
	int64_t d;

	if (date_part(s, 0, &d) != s.len || s.len == 0)
		return -1;
	*days_r = d;
	return 0;
}

int imap_datetime_parse(struct str s, int64_t *t_r, int *zone_min_r)
{
	unsigned hh, mm, ss, zh, zm;
	int64_t days;
	size_t i = date_part(s, 1, &days);
	int sign, zone;

	/* " hh:mm:ss +zzzz" */
	if (i == 0 || s.len != i + 15 || s.p[i] != ' ' || s.p[i + 3] != ':' || s.p[i + 6] != ':' ||
	    s.p[i + 9] != ' ' || (s.p[i + 10] != '+' && s.p[i + 10] != '-'))
		return -1;
	if (digits_at(s, i + 1, 2, &hh) < 0 || digits_at(s, i + 4, 2, &mm) < 0 ||
	    digits_at(s, i + 7, 2, &ss) < 0 || digits_at(s, i + 11, 2, &zh) < 0 ||
	    digits_at(s, i + 13, 2, &zm) < 0)
		return -1;
	/* A leap second ("23:59:60" UTC, any minute's :60 in some zone) is
	 * a time; the clock has no such second, so it is the one before, as
	 * Dovecot stores it. */
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return -1;
	if (ss == 60)
		ss = 59;
	sign = s.p[i + 10] == '-' ? -1 : 1;
	zone = sign * (int)(zh * 60 + zm);
	*t_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)zone * 60;
	if (zone_min_r)
		*zone_min_r = zone;
	return 0;
}
