/*
 * imap_parser.h — incremental, resumable parser for IMAP client commands.
 *
 * Design: the daemon feeds whatever bytes arrived (any chunking, one byte
 * at a time included) to imap_parser_feed(), which consumes them and
 * answers one of:
 *   IMAP_PARSE_MORE     everything was consumed; feed more when it comes.
 *   IMAP_PARSE_LITERAL  a literal {N}, {N+}, ~{N} or ~{N+} was announced and
 *                       its line end consumed. Nothing of the literal is
 *                       read yet. The daemon checks p->cmd.literal against
 *                       its budget for this command, then either replies
 *                       "+ Ready" (synchronizing literals only) and calls
 *                       imap_parser_literal_accept(), or replies with a
 *                       tagged NO/BAD and calls imap_parser_literal_refuse().
 *                       The parser has already refused what passes its
 *                       own limits, so "+" is never sent before a check.
 *                       Non-synchronizing literals stop here too (no "+"
 *                       is sent for them), so one budget check (APPEND
 *                       size, quota) covers both kinds.
 *   IMAP_PARSE_COMMAND  p->cmd holds a complete command: tag, name, id and
 *                       the argument tree. Parsing stopped right after the
 *                       command's line end; pipelined bytes that follow
 *                       are left unconsumed.
 *   an error (< 0)      the command is malformed or over a limit; p->cmd.tag
 *                       says whom to answer ("TAG BAD ..." or, when
 *                       p->cmd.tag.len is 0, "* BAD ..."), p->err_msg says
 *                       why, and p->err_close says the stream cannot be
 *                       resynchronised (reply, then close the connection).
 * After IMAP_PARSE_COMMAND, after an error and after
 * imap_parser_literal_refuse(), the daemon is done with p->cmd, resets its
 * command arena and calls imap_parser_next(); feeding before that is a
 * broken invariant and aborts.
 *
 * Resynchronisation: after an error the parser discards, on the following
 * feeds, the rest of the failed command: the rest of its line, and when
 * that line ends with a non-synchronizing literal announcement ({N+}),
 * the N literal octets the client sends without waiting and then the line
 * after them, and so on. Literal octets are never read as commands. A
 * refused synchronizing literal ends the command at once (the client sends
 * neither the literal nor the rest of the line). A refused
 * non-synchronizing literal (by the parser's limits or by
 * imap_parser_literal_refuse()) is skipped the same way; p->err_skip
 * tells how many octets that is, so the daemon may prefer to reply and
 * close. A refused {N+} whose size is unreadable or above
 * limits.max_command is not skipped: err_close is set. While skipping, a
 * further such {N+} gives IMAP_PARSE_ERR_DESYNC with err_close set (reply
 * "* BYE" and close).
 *
 * Grammar (RFC 9051 §9, RFC 3501, RFC 4466, RFC 7888, RFC 3516): a command
 * is tag SP name [SP arguments] CRLF; "UID" joins the next word into the
 * name ("UID FETCH"). Arguments form a tree of:
 *   atoms      1*ATOM-CHAR, with "]", "%" and "*" allowed too (astrings,
 *              list patterns, sequence sets); a leading "\" makes a flag
 *              ("\Seen", "\*"); all digits make a number; atoms that are
 *              sequence sets are flagged. "NIL" (any case) is IMAP_ARG_NIL
 *              and keeps its text, since it is also a valid astring.
 *   strings    quoted, "\\" and "\"" unescaped (other escapes refused),
 *              non-ASCII octets must be well-formed UTF-8 (RFC 9051).
 *   literals   {N} / {N+} (LITERAL+ / LITERAL-), ~{N} / ~{N+} (literal8,
 *              RFC 3516). Literal octets are CHAR8: NUL is refused except
 *              in literal8.
 *   lists      "(" [arg *(SP arg)] ")", nested at most IMAP_PARSER_MAX_DEPTH.
 *   sections   BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...],
 *              BINARY.SIZE[...] with an optional <offset.length>: the
 *              section spec (part numbers, HEADER, HEADER.FIELDS[.NOT]
 *              with its header list of astrings, TEXT, MIME) is checked
 *              and parsed into struct imap_section.
 * Parsing is generic: which arguments a command takes is the command
 * handler's business (helpers below). Unknown commands are not errors:
 * they come back with id IMAP_CMD_UNKNOWN for the daemon to refuse.
 *
 * Leniency, as in Dovecot: runs of spaces separate arguments and may
 * trail before the line end; a bare LF ends a line like CRLF
 * (cmd->bare_lf records it). Strict: a CR not followed by LF, NUL, 8-bit
 * octets outside strings and literals, ")" or "(" without a space before
 * the next argument, "+" and other atom-specials in a tag.
 *
 * Limits (struct imap_parser_limits, set by the daemon, changeable between
 * commands): max_line octets of non-literal text per line (line end not
 * counted; a tag or an atom can never be longer); max_literal octets per
 * literal; max_command octets per command, lines, line ends and literals
 * together; max_args arguments in the tree at every depth (a list counts
 * as one, plus its elements); IMAP_PARSER_MAX_DEPTH nested lists;
 * IMAP_LITERAL_MINUS_MAX for non-synchronizing literals when
 * limits.literal_minus is set; IMAP_TAG_MAX octets of tag;
 * IMAP_SECTION_PARTS_MAX part numbers in a section. Nothing is sized from
 * a number the peer sent: literal bytes are copied as they arrive into a
 * buffer that grows geometrically (at most the announced size, which was
 * checked), and a literal of at most 4 KiB takes arena memory.
 *
 * Memory: the tree, every string, the tag and the name live in the
 * command arena the daemon gives to imap_parser_init() (it resets it
 * between commands); literal bytes of more than 4 KiB live in buffers the
 * parser owns until imap_parser_next(). Besides, the parser owns a frame
 * array (about 1 KiB, allocated once) and a token buffer (bounded by
 * max_line, freed after a command that needed more than 4 KiB of it);
 * struct imap_parser itself is embedded in the daemon's session. No
 * global state: parsers on different threads need nothing more. An error
 * found at a CR consumes through the CR; its LF is skipped by the next
 * call, like the rest of any failed line.
 *
 * Caveats: a literal is held in memory whole (APPEND up to max_literal);
 * a streaming sink may come later. Argument syntax per command, sequence
 * set resolution, mailbox name encoding (imap_utf7.h) and date checking
 * are left to the handlers through the helpers below. The parser does not
 * know which commands may carry literal8 (BINARY allows it in APPEND
 * only); the handler refuses it elsewhere by looking at IMAP_ARGF_LITERAL8.
 */
#ifndef TERN_IMAP_IMAP_PARSER_H
#define TERN_IMAP_IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"

#define IMAP_PARSER_MAX_DEPTH 32    /* nested lists, header lists included */
#define IMAP_TAG_MAX 64             /* octets in a tag */
#define IMAP_SECTION_PARTS_MAX 64   /* numbers in "1.2.3..." */
#define IMAP_LITERAL_MINUS_MAX 4096 /* RFC 7888 LITERAL- non-sync ceiling */

/* Defaults of imap_parser_limits (imap_parser_init() with lim == NULL). */
#define IMAP_PARSER_DEFAULT_MAX_LINE (64 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_LITERAL (50ull * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_COMMAND (64ull * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_ARGS 10000

struct imap_parser_limits {
	size_t max_line;            /* non-literal octets per line, line end excluded */
	uint64_t max_literal;       /* octets per literal */
	uint64_t max_command;       /* octets per command, everything counted */
	size_t max_args;            /* arguments in the whole tree */
	unsigned literal_minus : 1; /* LITERAL- only: {N+} at most 4096 octets */
};

/*
 * Results of imap_parser_feed() and imap_parser_line(). Each error names
 * the reply it is meant for; p->err_msg holds a short static text fit to
 * follow "BAD ".
 */
enum imap_parse_result {
	IMAP_PARSE_LINE = 3,                  /* imap_parser_line(): a line is complete */
	IMAP_PARSE_COMMAND = 2,               /* p->cmd is a complete command */
	IMAP_PARSE_LITERAL = 1,               /* p->cmd.literal announced: accept or refuse */
	IMAP_PARSE_MORE = 0,                  /* all input consumed; feed more */
	IMAP_PARSE_ERR_EMPTY_LINE = -1,       /* empty line: "* BAD" (or ignore it) */
	IMAP_PARSE_ERR_TAG = -2,              /* tag missing, too long or with a
	                                       * forbidden octet: "* BAD" */
	IMAP_PARSE_ERR_NO_COMMAND = -3,       /* tag without a command name: BAD */
	IMAP_PARSE_ERR_SYNTAX = -4,           /* misplaced or forbidden octet: BAD */
	IMAP_PARSE_ERR_QUOTED = -5,           /* bad escape or line end in a quoted
	                                       * string: BAD */
	IMAP_PARSE_ERR_UTF8 = -6,             /* quoted string not UTF-8: BAD */
	IMAP_PARSE_ERR_NUL = -7,              /* NUL outside a literal8: BAD */
	IMAP_PARSE_ERR_BARE_CR = -8,          /* CR not followed by LF: BAD */
	IMAP_PARSE_ERR_PARENS = -9,           /* unbalanced parentheses: BAD */
	IMAP_PARSE_ERR_DEPTH = -10,           /* lists nested too deep: BAD */
	IMAP_PARSE_ERR_SECTION = -11,         /* malformed [section] or <partial>: BAD */
	IMAP_PARSE_ERR_NUMBER = -12,          /* number overflow in a section or
	                                       * partial: BAD */
	IMAP_PARSE_ERR_LITERAL_SIZE = -13,    /* "{" not followed by a well-formed
	                                       * size that fits 63 bits: BAD */
	IMAP_PARSE_ERR_LINE_TOO_LONG = -14,   /* over max_line: BAD [TOOBIG] */
	IMAP_PARSE_ERR_COMMAND_TOO_BIG = -15, /* over max_command: BAD [TOOBIG] */
	IMAP_PARSE_ERR_LITERAL_TOO_BIG = -16, /* over max_literal: NO/BAD [TOOBIG] */
	IMAP_PARSE_ERR_LITERAL_MINUS = -17,   /* {N+} over 4096 with LITERAL-:
	                                       * BAD [TOOBIG] (RFC 7888 §4) */
	IMAP_PARSE_ERR_TOO_MANY_ARGS = -18,   /* over max_args: BAD */
	IMAP_PARSE_ERR_DESYNC = -19,          /* cannot skip the rest of a failed
	                                       * command: "* BYE", close */
	IMAP_PARSE_ERR_RESOURCES = -20,       /* a literal's data could not be
	                                       * kept (no memory, disk error):
	                                       * NO [UNAVAILABLE], "* BYE", close */
	IMAP_PARSE_ERR_DISK_FULL = -21,       /* a literal's data could not be
	                                       * kept, the disk is full: the rest
	                                       * is skipped as after a NUL; NO
	                                       * [OVERQUOTA], the session stays */
};
/* The lowest error code (for tables and range checks). */
#define IMAP_PARSE_ERR_MIN IMAP_PARSE_ERR_DISK_FULL

enum imap_cmd_id {
	IMAP_CMD_UNKNOWN = 0,
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_IDLE,
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_ID,
	IMAP_CMD_GETQUOTA,
	IMAP_CMD_GETQUOTAROOT,
	IMAP_CMD_SETQUOTA,
	IMAP_CMD_SORT,
	IMAP_CMD_THREAD,
	IMAP_CMD_REPLACE,
	IMAP_CMD_COMPRESS,
	IMAP_CMD_GETMETADATA,
	IMAP_CMD_SETMETADATA,
	IMAP_CMD_CANCELUPDATE,
	IMAP_CMD_NOTIFY,
	IMAP_CMD_GENURLAUTH,
	IMAP_CMD_RESETKEY,
	IMAP_CMD_URLFETCH,
	IMAP_CMD_GETJMAPACCESS, /* RFC 9698 */
	IMAP_CMD_SETACL,        /* RFC 4314 (cmd_acl.c) */
	IMAP_CMD_DELETEACL,
	IMAP_CMD_GETACL,
	IMAP_CMD_LISTRIGHTS,
	IMAP_CMD_MYRIGHTS,
	IMAP_CMD_UID_EXPUNGE,
	IMAP_CMD_UID_SEARCH,
	IMAP_CMD_UID_FETCH,
	IMAP_CMD_UID_STORE,
	IMAP_CMD_UID_COPY,
	IMAP_CMD_UID_MOVE,
	IMAP_CMD_UID_SORT,
	IMAP_CMD_UID_THREAD,
	IMAP_CMD_UID_REPLACE,
	IMAP_CMD_COUNT
};

enum imap_arg_type {
	IMAP_ARG_END = 0, /* after the last element of every argument array */
	IMAP_ARG_ATOM,
	IMAP_ARG_NIL,    /* the atom NIL, any case; str keeps its text */
	IMAP_ARG_STRING, /* quoted string, unescaped */
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
	IMAP_ARG_SECTION, /* BODY[...]<...> and friends */
};

/* imap_arg.flags */
#define IMAP_ARGF_NUMBER 0x01u   /* ATOM of digits <= 2^63-1 (number64); num holds it */
#define IMAP_ARGF_NUMBER32 0x02u /* ... and <= 2^32-1 (number) */
#define IMAP_ARGF_SEQSET 0x04u   /* ATOM is a sequence-set or "$" (imap_seqset_check) */
#define IMAP_ARGF_FLAG 0x08u     /* ATOM starts with "\" ("\Seen", "\*") */
#define IMAP_ARGF_LITERAL8 0x10u /* LITERAL sent as ~{N} */
#define IMAP_ARGF_NONSYNC 0x20u  /* LITERAL sent as {N+} */
#define IMAP_ARGF_8BIT 0x40u     /* STRING holds non-ASCII (valid UTF-8) */

/* What a section attribute fetches. */
enum imap_fetch_att {
	IMAP_FETCH_BODY,
	IMAP_FETCH_BODY_PEEK,
	IMAP_FETCH_BINARY,
	IMAP_FETCH_BINARY_PEEK,
	IMAP_FETCH_BINARY_SIZE,
};

enum imap_section_text {
	IMAP_SECTION_WHOLE = 0, /* "[]" or "[1.2]": the whole message or part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* only after part numbers */
};

struct imap_arg;

struct imap_section {
	enum imap_fetch_att att;
	const uint32_t *part; /* part numbers, each >= 1 */
	size_t nparts;
	enum imap_section_text text;
	const struct imap_arg *fields; /* HEADER.FIELDS[.NOT]: astrings (ATOM, NIL,
	                                * STRING or LITERAL), then IMAP_ARG_END */
	size_t nfields;
	struct str spec;      /* text between "[" and the header list or "]",
	                       * as sent, e.g. "1.2.HEADER.FIELDS" */
	unsigned partial : 1; /* <offset.length> or <offset> given (never for
	                       * BINARY.SIZE) */
	uint64_t offset;      /* < 2^63 */
	uint64_t length;      /* 1 .. 2^63-1; UINT64_MAX for <offset> alone:
	                       * the rest from offset */
};

/*
 * One argument. Arrays of arguments end with an IMAP_ARG_END element, so
 * both args[i] with a count and walking to END work. str is
 * NUL-terminated for every type but LIST and END (a literal may contain
 * NULs when it is a literal8).
 */
struct imap_arg {
	enum imap_arg_type type;
	unsigned flags;              /* IMAP_ARGF_* */
	struct str str;              /* ATOM/NIL: text as sent; STRING: unescaped;
	                              * LITERAL: the octets; SECTION: the attribute
	                              * name as sent ("body.peek") */
	uint64_t num;                /* with IMAP_ARGF_NUMBER */
	const struct imap_arg *list; /* LIST: elements, then IMAP_ARG_END */
	size_t list_count;
	const struct imap_section *section; /* SECTION */
};

/* A literal announcement, valid after IMAP_PARSE_LITERAL. */
struct imap_literal_info {
	uint64_t size;
	unsigned nonsync : 1; /* {N+}: the client does not wait for "+" */
	unsigned binary : 1;  /* ~{N}: literal8 */
};

struct imap_cmd {
	struct str tag;              /* empty until read; in the arena */
	struct str name;             /* as sent; for UID commands both words joined by
	                              * one space ("uid fetch"); in the arena */
	enum imap_cmd_id id;         /* IMAP_CMD_UNKNOWN for a name not in the table */
	unsigned uid : 1;            /* the name started with "UID" */
	unsigned bare_lf : 1;        /* some line of the command ended with LF alone */
	const struct imap_arg *args; /* after IMAP_PARSE_COMMAND: arguments,
	                              * then IMAP_ARG_END */
	size_t nargs;
	struct imap_literal_info literal; /* the latest literal announced */
};

struct imap_frame; /* private: an open list while parsing */
struct imap_lit;   /* private: a big literal's spool (core/spool.h) */

struct imap_parser {
	/* public; limits may be changed while no command is under way */
	struct imap_parser_limits limits;
	struct imap_cmd cmd;    /* read-only; see the result codes */
	const char *err_msg;    /* after an error: static text for the reply */
	uint64_t err_skip;      /* after an error: octets of a refused {N+}
	                         * literal the parser will discard before the
	                         * rest of the command (UINT64_MAX: unreadable) */
	unsigned err_close : 1; /* after an error: the stream cannot be
	                         * resynchronised; reply and close */

	/* private */
	struct arena *arena;
	int state, resume, err;
	size_t line_len;    /* non-literal octets of the current line */
	uint64_t cmd_bytes; /* octets of the current command */
	size_t nargs_total;
	unsigned depth; /* open lists; frames[0] is the top level */
	struct imap_frame *frames;
	struct buf tok;           /* the token being read */
	struct imap_section *sec; /* section under construction */
	uint64_t num, lit_left;
	unsigned num_digits, num_overflow : 1, lit_nonsync : 1, lit_binary : 1;
	char *lit_dst;         /* arena literal being filled, or NULL */
	uint64_t lit_fill;     /* octets in it so far */
	struct imap_lit *lits; /* big literals of this command */
	struct imap_lit *lit_cur;
	const char *peer; /* the client's address for the spool budget, or NULL (caller's) */
	int skip_st; /* literal announcement seen while skipping */
	uint64_t skip_num;
	unsigned skip_digits, skip_overflow : 1, skip_nonsync : 1, skip_raw : 1;
};

/*
 * Prepares p. arena is the daemon's command arena: the parser allocates
 * the tree from it and never resets it. lim NULL takes the defaults. Only
 * the frame array (about 1 KiB) is allocated here.
 */
void imap_parser_init(struct imap_parser *p, struct arena *arena,
                      const struct imap_parser_limits *lim);

/* Frees what p owns (not the arena); p may be given to imap_parser_init() again. */
void imap_parser_clear(struct imap_parser *p);

/* The default limits. */
void imap_parser_limits_default(struct imap_parser_limits *lim);

/*
 * Parses from in[0..len) and sets *consumed_r to the octets used (all of
 * them for IMAP_PARSE_MORE; those up to and including the command's or
 * announcement's line end for IMAP_PARSE_COMMAND and IMAP_PARSE_LITERAL;
 * up to and including the offending octet for an error). The caller drops
 * consumed octets and presents the rest again later: the parser keeps no
 * pointer into in. Returns an imap_parse_result; see the top of this file
 * for what each asks of the caller. Once IMAP_PARSE_ERR_DESYNC or an error
 * with err_close was returned, every call returns IMAP_PARSE_ERR_DESYNC and
 * consumes nothing. Aborts (broken invariant) when called after
 * IMAP_PARSE_COMMAND or an error without imap_parser_next(), while a
 * literal waits for accept/refuse, or in the middle of a raw line.
 */
int imap_parser_feed(struct imap_parser *p, const char *in, size_t len, size_t *consumed_r);

/*
 * After IMAP_PARSE_LITERAL: the daemon has the budget (and sent "+ Ready"
 * for a synchronizing literal); the literal's octets are read by the next
 * feeds. Aborts when no literal is waiting.
 */
void imap_parser_literal_accept(struct imap_parser *p);

/*
 * After IMAP_PARSE_LITERAL: the command's first argument when it was read
 * whole before the literal announced (APPEND's mailbox, to refuse the
 * message before "+"), else NULL. Valid until the literal is accepted or
 * refused; lists have no elements yet.
 */
const struct imap_arg *imap_parser_first_arg(const struct imap_parser *p);

/*
 * After IMAP_PARSE_LITERAL: the daemon refuses the literal and ends the
 * command with its tagged reply. Then, as after an error, it resets its
 * arena and calls imap_parser_next(): for a synchronizing literal the next
 * octet starts a new command; for a non-synchronizing one the literal and
 * the rest of the command are skipped first (p->err_skip is set). Aborts
 * when no literal is waiting.
 */
void imap_parser_literal_refuse(struct imap_parser *p);

/*
 * Ends the current command after IMAP_PARSE_COMMAND, an error or a
 * refusal: frees the command's big literals, forgets p->cmd (its slices
 * into the arena are no longer the parser's concern) and prepares for the
 * next command, or for skipping the rest of a failed one. Calling it
 * before any command, or twice, does nothing; calling it while a command
 * is half read aborts.
 */
void imap_parser_next(struct imap_parser *p);
/* 1 while a command is half read (a literal on its way), else 0. */
int imap_parser_mid_command(const struct imap_parser *p);

/*
 * After IMAP_PARSE_COMMAND: takes ownership of the command's big literals
 * (over 4 KiB) so that the argument slices pointing into them stay valid
 * after imap_parser_next() (APPEND hands the message to a worker). Free
 * with imap_literals_free(), which sets *l to NULL. NULL when none.
 */
struct imap_lit *imap_parser_take_literals(struct imap_parser *p);
void imap_literals_free(struct imap_lit **l);
/*
 * The blob id (store_blob_id) of the big literal among lits whose data
 * starts at p with length len, hashed as it arrived: 0, or -1 when no
 * literal of the list is exactly that data (the caller hashes it).
 */
int imap_literal_blob_id(struct imap_lit *lits, const char *p, size_t len, uint8_t id_r[32]);
/* Octets announced by all big literals alive in the process, from their
 * acceptance until they are freed (with the parser or the taker). */
uint64_t imap_literals_held(void);

/*
 * Reads one raw line (the AUTHENTICATE responses, IDLE's "DONE"): no tag,
 * no literals, no quoting; any octets but NUL and a bare CR, at most
 * limits.max_line. Only between commands (after imap_parser_next() or
 * before the first command); aborts when a command is half read.
 * Returns IMAP_PARSE_LINE (*line_r is the line without its line end,
 * valid until the next call on p; the parser is ready for a command or
 * another line, no imap_parser_next() needed), IMAP_PARSE_MORE, or
 * IMAP_PARSE_ERR_LINE_TOO_LONG, _NUL or _BARE_CR. After such an error and
 * imap_parser_next(), the rest of the bad line is discarded (as raw text:
 * "{N+}" in it means nothing) by whichever call comes next, this one or
 * imap_parser_feed(). *consumed_r as for imap_parser_feed().
 */
int imap_parser_line(struct imap_parser *p, const char *in, size_t len, size_t *consumed_r,
                     struct str *line_r);

/* A short static description of an imap_parse_result code. */
const char *imap_parse_strerror(int code);

/* Command table. */
/* Looks up a (non-UID) command name, ASCII case-insensitively; IMAP_CMD_UNKNOWN if none. */
enum imap_cmd_id imap_cmd_lookup(struct str name);
/* The canonical upper-case name ("UID FETCH"), or "UNKNOWN". Static. */
const char *imap_cmd_name(enum imap_cmd_id id);

/*
 * Argument helpers for command handlers. Each returns 0 and sets its
 * output when arg has the asked form, else -1 (and leaves the output
 * alone). Slices point where the argument's str does.
 */
/* ATOM or NIL: its text. */
int imap_arg_atom(const struct imap_arg *arg, struct str *s_r);
/* 1 when arg is an ATOM or NIL whose text equals word ASCII case-insensitively. */
int imap_arg_atom_is(const struct imap_arg *arg, const char *word);
/* astring: ATOM, NIL (as the text "NIL"), STRING or LITERAL (not literal8). */
int imap_arg_astring(const struct imap_arg *arg, struct str *s_r);
/* string: STRING or LITERAL (not literal8). */
int imap_arg_string(const struct imap_arg *arg, struct str *s_r);
/* nstring: NIL gives STR_NULL (p == NULL), else as imap_arg_string(). */
int imap_arg_nstring(const struct imap_arg *arg, struct str *s_r);
/* number (0 .. 2^32-1) and number64 / mod-sequence-value (0 .. 2^63-1). */
int imap_arg_number32(const struct imap_arg *arg, uint32_t *v_r);
int imap_arg_number64(const struct imap_arg *arg, uint64_t *v_r);
/* LIST: its elements (END-terminated) and count. */
int imap_arg_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r);

/*
 * Parses an IMAP date-time (RFC 9051 §9, the APPEND argument, already
 * unquoted): "dd-Mon-yyyy hh:mm:ss +zzzz", the day possibly " d", the
 * month any case. Checks the day against the month (leap years
 * included), hours < 24, minutes and seconds < 60, zone minutes < 60.
 * Returns 0 and sets *t_r (seconds since the Unix epoch, UTC) and
 * *zone_min_r (the zone offset in minutes, may be NULL), or -1.
 */
int imap_datetime_parse(struct str s, int64_t *t_r, int *zone_min_r);

/*
 * Parses an IMAP date (SEARCH BEFORE/ON/SINCE...): "d-Mon-yyyy" or
 * "dd-Mon-yyyy" (quoted or not: pass the unquoted text). Returns 0 and
 * sets *days_r (days since 1970-01-01, negative before), or -1.
 */
int imap_date_parse(struct str s, int64_t *days_r);

#endif
