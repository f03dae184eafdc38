/*
 * sieve_run.h — the state of one run, shared by the interpreter's files:
 * sieve_run.c (commands and control), sieve_test.c (tests),
 * sieve_msg.c (the message as tests see it) and sieve_vars.c (variables,
 * flags, string expansion).
 */
#ifndef TERN_SIEVE_RUN_H
#define TERN_SIEVE_RUN_H

#include "core/buf.h"
#include "mime/mime_tree.h"
#include "sieve/sieve_private.h"

struct hfield {
	struct str name, value; /* value raw (folded) */
	/* the edit (r->edits, from 1) that deleted or added the field, 0
	 * none: what the message was after edit e (an action's, RFC 5293
	 * §5) is the fields with added <= e and deleted 0 or above e */
	uint16_t deleted, added;
	uint8_t fixed; /* one of env->head's: read, never edited or written */
};

struct var {
	char name[SIEVE_VAR_NAME_MAX + 1];
	struct buf val;
};

struct frame {
	const struct sieve_script *script;
	struct var vars[SIEVE_VARS_MAX];
	int nvars;
	char globals[SIEVE_VARS_MAX][SIEVE_VAR_NAME_MAX + 1]; /* names declared global */
	int nglobals;
};

struct run {
	const struct sieve_env *env; /* &menv */
	struct sieve_env menv; /* the caller's, with msg/len replaced by replace/enclose */
	struct arena *a;
	struct sieve_result *res;
	uint64_t steps; /* left */
	size_t expand_left; /* octets of expansion left (SIEVE_EXPAND_BYTES_MAX) */
	char *err;
	int failed, stopped, returned;
	/* the command or test being evaluated, innermost: the line a
	 * run-time error without a node of its own (a matcher's, a limit's)
	 * is reported at, as compile-time errors are */
	const struct sv_node *at;
	/* the message */
	struct hfield *hf;
	uint32_t nhf, caphf;
	int headers_parsed;
	int64_t size_delta; /* octets editheader added (removed) since the message was set */
	uint32_t edits;     /* addheader and deleteheader commands that changed the header */
	struct mime_tree tree;
	int tree_parsed;
	uint64_t body_seen; /* body octets examined so far */
	struct str *btext;  /* per part: [2i] its text, [2i+1] folded; p NULL until read */
	struct str *htext;  /* per part: as btext, an HTML part reduced to what a reader sees */
	/* variables */
	struct frame *frame;
	struct var globals[SIEVE_VARS_MAX];
	int nglobals;
	struct buf flags; /* the internal flags variable (imap4flags) */
	struct str caps[SIEVE_MATCH_VARS_MAX + 1];
	int ncaps;
	char *capbuf; /* (SIEVE_MATCH_VARS_MAX + 1) * SIEVE_VAR_VALUE_MAX */
	char *mcapbuf;
	/* actions */
	uint32_t maxactions;
	int redirects, vacations;
	int include_depth, includes;
	struct str included[SIEVE_INCLUDES_MAX];
	int includes_once[SIEVE_INCLUDES_MAX];
	/* 1: included[i] named a :global script, another namespace than
	 * :personal (RFC 6609 §3.2): the same name is another script */
	int includes_global[SIEVE_INCLUDES_MAX];
	/* the include tree's scripts running now, outermost first (indexes
	 * into included[]; -1 the root, env->script_name): recursion */
	int include_stack[SIEVE_INCLUDE_DEPTH_MAX];
	struct buf scratch; /* one header value unfolded and decoded */
	/* foreverypart (RFC 5703) */
	uint32_t part;          /* the current MIME part: 0, the message, outside loops */
	uint64_t part_hdr_seen; /* part header octets examined (:mime) */
	const struct sv_node *cur_test; /* header :mime options being read */
	struct str cur_field;           /* the name of the field a test's callback reads */
	int loops;              /* foreverypart loops running */
	const struct sv_node *pending_enclose; /* enclose inside a loop: done when the loops end */
	int breaking;           /* a break is leaving loops... */
	struct str break_name;  /* ...up to the one of this :name (p NULL: the innermost) */
};

/* sieve_run.c */
void run_fail(struct run *r, const struct sv_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int run_spend(struct run *r, uint64_t n);
const struct sv_arg *node_tag(const struct sv_node *n, int tag);

#ifdef SIEVE_TESTSUITE
/* sv_hook's commands with a block run it with this (sieve_run.c) */
void sv_run_block(struct run *r, const struct sv_node *n);
#endif

/* sieve_test.c: 1 true, 0 false, -1 run error (r->failed) */
int test_eval(struct run *r, const struct sv_node *t);

/* sieve_edit.c: the octets field f takes in the message as written out */
size_t field_size(const struct hfield *f);

/* sieve_msg.c */
void msg_headers(struct run *r);
/* The unfolded, RFC 2047-decoded value of field i (into r->scratch). */
struct str msg_header_value(struct run *r, uint32_t i, int decode);
/* The same for a raw (folded) value. */
struct str msg_field_value(struct run *r, struct str raw, int decode);
/* The header fields of MIME part i (the message's for 0); returns how many. */
uint32_t msg_part_fields(struct run *r, uint32_t i, struct hfield **out);
/* The message the later tests see becomes m (replace, enclose): what
 * was parsed of the old one is forgotten. */
void msg_set(struct run *r, struct str m);
/* Parses the MIME structure once per run (again after replace/enclose). */
void msg_tree(struct run *r);
/* The text of body part parts[i] decoded to UTF-8 (fold: ASCII lower-cased),
 * cached for the run in r->a; 0, or -1 when the step budget ran out. */
int msg_part_text(struct run *r, uint32_t i, int fold, struct str *out);
/* As msg_part_text, but a text/html part as the text a reader sees
 * (mime_html.h): body's :text transform (RFC 5173 §5.3). */
int msg_part_plain(struct run *r, uint32_t i, int fold, struct str *out);
int msg_header_add(struct run *r, struct str name, struct str value, int last);

/* sieve_edit.c: replace and enclose (RFC 5703) */
void cmd_replace(struct run *r, const struct sv_node *n);
void cmd_enclose(struct run *r, const struct sv_node *n);

/* sieve_vars.c */
/* Expands ${...} in s when it is dynamic; result valid for the run. */
struct str vars_expand(struct run *r, const struct sv_string *s);
int vars_set(struct run *r, struct str name, struct str value);
struct buf *vars_find(struct run *r, struct str name, int create);
/* 1 when the current frame declared name global (RFC 6609 §3.3). */
int vars_is_global(struct run *r, struct str name);
/* Flags lists: space-separated, normalised (no duplicates, ASCII
 * case-insensitively), appended to or removed from dst. */
void flags_add(struct buf *dst, struct str list);
void flags_remove(struct buf *dst, struct str list);
/* Expands every string of a list argument and calls fn on each value. */
struct str arg_str(struct run *r, const struct sv_arg *a, uint32_t i);

#endif
