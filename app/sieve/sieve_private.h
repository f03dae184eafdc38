/*
 * sieve_private.h — the compiled form shared by the parser, the command
 * table and the interpreter.
 *
 * A script compiles to a tree of struct sv_node: every command and test
 * is one node with its name resolved to an id, its tagged arguments as
 * (tag, value) pairs, its positional arguments in order, its tests and
 * its block. Interpretation walks the tree; each node evaluated costs one
 * step of the run's budget.
 */
#ifndef TERN_SIEVE_PRIVATE_H
#define TERN_SIEVE_PRIVATE_H

#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "sieve/sieve.h"

/* Extensions, one bit each (the order of sieve_ext_names in sieve_spec.c). */
enum sv_ext {
	EXT_FILEINTO, EXT_ENVELOPE, EXT_REJECT, EXT_EREJECT, EXT_VARIABLES, EXT_IMAP4FLAGS,
	EXT_VACATION, EXT_VACATION_SECONDS, EXT_RELATIONAL, EXT_SUBADDRESS, EXT_BODY, EXT_COPY,
	EXT_MAILBOX, EXT_DATE, EXT_INDEX, EXT_REGEX, EXT_INCLUDE, EXT_EDITHEADER, EXT_DUPLICATE,
	EXT_ENCODED_CHARACTER, EXT_ENVIRONMENT, EXT_IHAVE, EXT_NUMERIC, EXT_ENOTIFY,
	EXT_SPECIAL_USE, EXT_MAILBOXID, EXT_FCC, EXT_SPAMTEST, EXT_SPAMTESTPLUS, EXT_VIRUSTEST,
	EXT_REDIRECT_DSN, EXT_MIME, EXT_FOREVERYPART, EXT_EXTRACTTEXT, EXT_REPLACE, EXT_ENCLOSE,
	EXT_ENVELOPE_DSN, EXT_ENVELOPE_DELIVERBY, EXT_REDIRECT_DELIVERBY, EXT_MBOXMETADATA,
	EXT_SERVERMETADATA,
#ifdef SIEVE_TESTSUITE
	EXT_HOOK, /* sv_hook's extension */
#endif
	EXT_COUNT
};

/* Commands and tests. */
enum sv_id {
	/* control and actions */
	C_REQUIRE, C_IF, C_ELSIF, C_ELSE, C_STOP, C_KEEP, C_DISCARD, C_FILEINTO, C_REDIRECT,
	C_REJECT, C_EREJECT, C_VACATION, C_SET, C_ADDFLAG, C_SETFLAG, C_REMOVEFLAG, C_INCLUDE,
	C_RETURN, C_GLOBAL, C_ADDHEADER, C_DELETEHEADER, C_NOTIFY, C_ERROR, C_FOREVERYPART, C_BREAK,
	C_EXTRACTTEXT, C_REPLACE, C_ENCLOSE,
#ifdef SIEVE_TESTSUITE
	C_HOOK0, C_HOOK_END = C_HOOK0 + 16, /* sv_hook's commands */
#endif
	C_UNKNOWN,
	/* tests */
	T_ADDRESS, T_ALLOF, T_ANYOF, T_ENVELOPE, T_EXISTS, T_FALSE, T_HEADER, T_NOT, T_SIZE,
	T_TRUE, T_BODY, T_STRING, T_HASFLAG, T_MAILBOXEXISTS, T_DATE, T_CURRENTDATE, T_IHAVE,
	T_ENVIRONMENT, T_DUPLICATE, T_VALID_NOTIFY_METHOD, T_NOTIFY_METHOD_CAPABILITY,
	T_SPECIALUSE_EXISTS, T_MAILBOXIDEXISTS, T_SPAMTEST, T_VIRUSTEST, T_METADATA, T_METADATAEXISTS,
	T_SERVERMETADATA, T_SERVERMETADATAEXISTS,
#ifdef SIEVE_TESTSUITE
	T_HOOK0, T_HOOK_END = T_HOOK0 + 16, /* sv_hook's tests */
#endif
	T_UNKNOWN, SV_ID_COUNT
};

/* Tags. Each tag's argument type is fixed (sieve_spec.c). */
enum sv_tag {
	G_IS, G_CONTAINS, G_MATCHES, G_REGEX, G_VALUE, G_COUNT, G_COMPARATOR, G_ALL, G_LOCALPART,
	G_DOMAIN, G_USER, G_DETAIL, G_OVER, G_UNDER, G_COPY, G_CREATE, G_FLAGS, G_DAYS, G_SECONDS,
	G_SUBJECT, G_FROM, G_ADDRESSES, G_MIME, G_HANDLE, G_RAW, G_CONTENT, G_TEXT, G_ZONE,
	G_ORIGINALZONE, G_INDEX, G_LAST, G_LOWER, G_UPPER, G_LOWERFIRST, G_UPPERFIRST,
	G_QUOTEWILDCARD, G_QUOTEREGEX, G_LENGTH, G_ENCODEURL, G_ONCE, G_OPTIONAL, G_PERSONAL,
	G_GLOBAL, G_HEADER, G_UNIQUEID, G_IMPORTANCE, G_OPTIONS, G_MESSAGE, G_MAILBOXID,
	G_SPECIALUSE, G_FCC, G_PERCENT, G_NOTIFY, G_RET, G_ANYCHILD, G_TYPE, G_SUBTYPE, G_CONTENTTYPE,
	G_PARAM, G_NAME, G_FIRST, G_HEADERS, G_BYTIMERELATIVE, G_BYTIMEABSOLUTE, G_BYMODE, G_BYTRACE,
#ifdef SIEVE_TESTSUITE
	G_HOOK0, G_HOOK_END = G_HOOK0 + 8, /* sv_hook's tags */
#endif
	G_COUNT_TAGS
};

enum sv_argtype { A_NONE, A_STR, A_LIST, A_NUM };

struct sv_string {
	struct str s;
	unsigned dyn : 1; /* holds "${": expanded at run time (variables) */
	void *re;         /* a constant :regex key compiled once (regex_t), or NULL */
};

struct sv_arg {
	uint8_t type;   /* A_STR, A_LIST or A_NUM */
	uint32_t n;     /* strings */
	struct sv_string *v;
	uint64_t num;
};

struct sv_tagarg {
	uint8_t tag;
	uint32_t line, col; /* of the tag, for errors */
	struct sv_arg arg; /* type A_NONE when the tag takes none */
};

enum sv_match { M_IS, M_CONTAINS, M_MATCHES, M_REGEX, M_VALUE, M_COUNT };
enum sv_cmp { CMP_OCTET, CMP_CASEMAP, CMP_NUMERIC };
enum sv_rel { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
enum sv_addrpart { AP_ALL, AP_LOCALPART, AP_DOMAIN, AP_USER, AP_DETAIL };

struct sv_node {
	uint16_t id; /* enum sv_id */
	uint32_t line, col;
	uint16_t ntags, npos, ntests;
	struct sv_tagarg *tags;
	struct sv_arg *pos;
	struct sv_node **tests;
	struct sv_node *block;   /* first command of the block */
	struct sv_node *next;    /* next command in the same block */
	struct sv_node *elsenode; /* IF/ELSIF: the ELSIF or ELSE that follows */
	/* Resolved from the tags at compile time. */
	uint8_t match, cmp, rel, addrpart;
	struct str name; /* C_UNKNOWN / T_UNKNOWN: the name as written */
};

struct sieve_script {
	struct arena *arena;
	struct sv_node *first;
	uint64_t exts; /* bit per enum sv_ext required */
	const char *warnings; /* sieve_script_warnings */
	struct sv_string **regexes; /* the strings whose re sieve_script_free releases */
	uint32_t nregexes;
	uint64_t regex_cost;              /* compiling them: sv_regex_cost's sum */
	const struct sv_node *regex_over; /* the test that took it past the limit */
	struct sieve_errors *regex_errs;  /* while compiling: where a key that is none goes */
};

/* sieve_vars.c: is n (what "${...}" holds) a variable name, namespaced
 * or not, as RFC 5229 §3's variable-ref has it */
int sv_namespaced_name_ok(struct str n);

/* sieve_parse.c: may an included script be called s (RFC 6609 §3.2: a
 * ManageSieve script name, RFC 5804 §1.6: UTF-8 with no control
 * character, U+2028 or U+2029) */
int sv_script_name_ok(struct str s);

/* sieve_spec.c */
struct sv_spec {
	const char *name;
	uint16_t id;
	int8_t ext;         /* enum sv_ext needed, -1 for none */
	uint8_t is_test;
	uint8_t tests;      /* 0 none, 1 one test, 2 a test list */
	uint8_t block;      /* 1 takes a block */
	const char *pos;    /* positional types: 'S' string, 'L' list, 'N' number;
	                     * '?' makes the next one optional */
	const uint8_t *tags; /* allowed tags, G_COUNT_TAGS-terminated */
};
const struct sv_spec *sv_spec_find(struct str name, int is_test);
const struct sv_spec *sv_spec_by_id(uint16_t id);
int sv_address_header(struct str name); /* may the address test read it */
int sv_tag_find(struct str name);
const char *sv_tag_name(int tag);
enum sv_argtype sv_tag_argtype(int tag);
int sv_tag_ext(int tag, uint16_t cmd); /* extension a tag needs on cmd, -1 none */
int sv_ext_find(struct str name);
const char *sv_ext_name(int ext);
/* 1 when ihave (RFC 5463) grants the extension: known, and not one that
 * changes how a script is read (§4: variables, encoded-character). */
int sv_ihave_grants(struct str name);

#ifdef SIEVE_TESTSUITE
/*
 * A test harness's own extension (tests/sievesuite/ runs Pigeonhole's
 * suite, which is written in its vnd.dovecot.testsuite extension). Only
 * the harness's copy of the engine is compiled with SIEVE_TESTSUITE: the
 * product knows no hook and no vendor extension. The harness sets sv_hook
 * before compiling; `require "<ext>"` enables the hook's commands and
 * tests (ids from C_HOOK0 / T_HOOK0 in specs, which the parser checks like
 * its own, with tags of their own from G_HOOK0), which the interpreter
 * hands to command() and test().
 */
struct run;
struct sv_hook {
	const char *ext;
	/* another extension name that gives the same commands, or NULL (the
	 * harness's vnd.dovecot.debug, which some of the suite's files
	 * require for their debug_log) */
	const char *ext_also;
	const char *ns; /* a variable namespace it gives (RFC 5229 §3), or NULL */
	const struct sv_spec *specs;
	size_t nspecs;
	/* its tags, G_HOOK0 + i; each with its argument type */
	const char *const *tags;
	const uint8_t *tag_args; /* enum sv_argtype */
	size_t ntags;
	void (*command)(struct run *r, const struct sv_node *n);
	int (*test)(struct run *r, const struct sv_node *n); /* 1, 0, -1 (run_fail'ed) */
};
extern const struct sv_hook *sv_hook;
/* Where vars_set cuts a value: the suite's setting
 * sieve_variables_max_variable_size, which the harness keeps at most
 * SIEVE_VAR_VALUE_MAX (the buffers' size); the product's cut is that
 * constant. */
extern size_t sv_var_value_cut;
#define SV_VAR_VALUE_CUT sv_var_value_cut
#else
#define SV_VAR_VALUE_CUT SIEVE_VAR_VALUE_MAX
#endif

/* sieve_match.c */
struct sv_matcher {
	uint8_t match, cmp, rel;
	uint64_t *steps; /* shared budget, decremented */
	/* :matches / :regex captures, when wanted (variables) */
	struct str caps[SIEVE_MATCH_VARS_MAX + 1];
	char *capbuf;   /* SIEVE_VAR_VALUE_MAX * (SIEVE_MATCH_VARS_MAX + 1) octets the captures are copied to */
	int want_caps;
	int ncaps;
	const void *re; /* the key's regex_t when compiled ahead (:regex) */
};
/* 1 match, 0 no, -1 budget exhausted / bad regex (err set). */
int sv_match_one(struct sv_matcher *m, struct str value, struct str key, char *err);
/* comparator order: <0, 0, >0 (i;ascii-numeric: numbers, no digits = +inf) */
int sv_cmp_order(uint8_t cmp, struct str a, struct str b);
int sv_rel_holds(uint8_t rel, int order);
/* s with ASCII letters lower-cased (i;ascii-casemap's fold), from a. */
struct str sv_fold_copy(struct arena *a, struct str s);
/* s folded the same way into dst (s.len + 1 octets, NUL-terminated). */
void sv_fold_into(char *dst, struct str s);
/* A :regex key compiled for cmp (a regex_t, free with sv_regex_free), or
 * NULL when it is refused as too complex (the run then reports it when
 * the key is used) or does not compile (*invalid_r set: sieve_compile
 * refuses the script). */
void *sv_regex_compile(struct str k, uint8_t cmp, int *invalid_r);
/* What compiling key k costs, in expanded positions plus a constant per
 * pattern (sieve_compile's SIEVE_REGEX_COST_MAX counts it). */
uint64_t sv_regex_cost(struct str k);
void sv_regex_free(void *re);
int sv_rel_parse(struct str s);
int sv_cmp_parse(struct str s);

#endif
