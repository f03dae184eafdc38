/*
 * sieve.h — Sieve (RFC 5228) scripts: compile once, run per message, get
 * back a list of actions.
 *
 * Design: sieve_compile() turns a script's text into a tree of resolved
 * commands and tests (names looked up, arguments checked against each
 * command's table entry, extensions checked against `require`, constant
 * strings decoded), or gives its errors, each with its line, column and
 * what was expected: after an error the parser skips to the end of the
 * failing command (its ";", or past its block, whose commands are still
 * checked) and goes on, as Pigeonhole's does, so a user sees every
 * mistake at once. The compiled script is immutable and owned by its own arena,
 * so one copy may serve many deliveries at once (sieve_cache.c keeps them
 * per script text). sieve_run() evaluates it against one message and
 * fills a struct sieve_result: the actions in order and whether the
 * implicit keep still applies. The interpreter never performs an action:
 * the delivery stage turns the result into its plan. Anything the
 * interpreter must ask the outside world (does this mailbox exist, was
 * this message seen before, the text of an included script) goes through
 * the callbacks of struct sieve_env, all optional.
 *
 * Limits (SIEVE_*_MAX below) are hard: a script over the size, nesting or
 * string limits does not compile; a run that passes the instruction,
 * redirect or variable expansion budget stops with an error (the caller
 * then keeps the message in INBOX and logs why: a script error never
 * changes where mail goes beyond that). Header and body tests examine at most SIEVE_HEADER_BYTES_MAX
 * and SIEVE_BODY_BYTES_MAX octets of the message; what lies beyond is not
 * seen (the tests answer as if it were absent).
 *
 * Caveats: extensions not listed by sieve_extensions() are refused by
 * `require` (and report false from `ihave`). Matching on text follows the
 * comparators' octet rules; "i;ascii-casemap" folds ASCII letters only.
 */
#ifndef TERN_SIEVE_H
#define TERN_SIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"

#define SIEVE_SCRIPT_MAX (512 * 1024)        /* octets of script text */
#define SIEVE_NEST_MAX 32                     /* blocks and tests inside each other */
#define SIEVE_STRING_MAX (64 * 1024)          /* one string literal */
#define SIEVE_LIST_MAX 1024                   /* strings in one string list */
#define SIEVE_STEPS_MAX 2000000               /* instructions and match steps per run */
#define SIEVE_HEADER_BYTES_MAX (1024 * 1024)  /* header octets tests examine */
#define SIEVE_BODY_BYTES_MAX (1024 * 1024)    /* body octets tests examine */
#define SIEVE_REDIRECTS_MAX 4                 /* redirect actions per message */
#define SIEVE_ACTIONS_MAX 64                  /* actions of any kind per message */
#define SIEVE_VARS_MAX 128                    /* variables per script */
#define SIEVE_VAR_NAME_MAX 64                 /* octets of a variable's name */
#define SIEVE_VAR_VALUE_MAX 4096              /* octets of a variable's value */
#define SIEVE_MATCH_VARS_MAX 32               /* ${0}..${32}, as Pigeonhole: higher is refused (RFC 5229 §6) */
/* octets that "${...}" expansion may produce in one run: each expanded
 * string is a copy kept until the run ends, and "${a}" (4 octets of
 * script) stands for up to SIEVE_VAR_VALUE_MAX, so without a total one
 * script made hundreds of MiB of copies for each message it ran on */
#define SIEVE_EXPAND_BYTES_MAX (8 * 1024 * 1024)
#define SIEVE_INCLUDE_DEPTH_MAX 5             /* nested include */
#define SIEVE_INCLUDES_MAX 16                 /* scripts included per run */
#define SIEVE_LOOPS_MAX 4                     /* foreverypart inside each other */
/* a script's constant :regex keys, compiled with it: their positions
 * once bounds are expanded, plus 16 a key (regcomp takes about 20 us a
 * position under musl; a script of them took minutes to compile) */
#define SIEVE_REGEX_COST_MAX 16384
/* vacation's period: a shorter :days or :seconds is raised to a day, as
 * Pigeonhole's sieve_vacation_min_period (RFC 6131 §2 lets a site set
 * its minimum): one reply per sender and day at most, so a script cannot
 * turn a stream of messages from one sender into a stream of replies. */
#define SIEVE_VACATION_MIN_SECONDS 86400
#define SIEVE_VACATION_MAX_SECONDS (365 * 86400)
/* duplicate's :seconds at most (RFC 7352 §3.3 lets a site cap it, as
 * Pigeonhole's sieve_duplicate_max_period): each id a script tests is
 * kept in the store that long, so a longer one lets entries pile up */
#define SIEVE_DUPLICATE_MAX_SECONDS (30 * 86400)
#define SIEVE_ERROR_MAX 256                   /* error text, NUL included */
/* compile errors whose text is kept (Pigeonhole's ManageSieve default,
 * managesieve_max_compile_errors); those past it are only counted */
#define SIEVE_ERRORS_MAX 5
/* sieve_errors_format's longest output, NUL included */
#define SIEVE_ERRORS_TEXT_MAX (SIEVE_ERRORS_MAX * (SIEVE_ERROR_MAX + 2) + 64)
#define SIEVE_WARNINGS_MAX 1024               /* warnings' text, NUL included */

struct sieve_script; /* compiled; opaque */

/* The extensions tern implements, space-separated, in the order of the
 * ManageSieve SIEVE capability. */
const char *sieve_extensions(void);
/* 1 when name (case-sensitive, as RFC 5228 §3.2 says) is implemented. */
int sieve_extension_known(struct str name);

/* A script's compile errors, in the order of the text. */
struct sieve_errors {
	uint32_t n; /* errors found: the first SIEVE_ERRORS_MAX are in text */
	/* "line L, column C: MESSAGE", MESSAGE saying what was expected or
	 * what is wrong */
	char text[SIEVE_ERRORS_MAX][SIEVE_ERROR_MAX];
};

/*
 * Compiles text[0..len). On success returns the script (free with
 * sieve_script_free); errs->n is 0. On failure returns NULL with every
 * error in errs (errs->n >= 1).
 */
struct sieve_script *sieve_compile_errors(const char *text, size_t len, struct sieve_errors *errs);
/* The same, for callers that report one error (logs, caches): the first
 * one into err (SIEVE_ERROR_MAX octets, NUL-terminated). */
struct sieve_script *sieve_compile(const char *text, size_t len, char err[SIEVE_ERROR_MAX]);
/* The errors as a user reads them: each kept one, joined by sep (what a
 * line break is where they are shown), then "(N more errors)" when some
 * were only counted; into out (NUL-terminated, truncated to outsz,
 * SIEVE_ERRORS_TEXT_MAX holds them all). Returns out. */
const char *sieve_errors_format(const struct sieve_errors *errs, const char *sep, char *out,
                                size_t outsz);
void sieve_script_free(struct sieve_script **s);
/* What the script does that compiles but likely is not what its author
 * meant (a vacation period the site raises or lowers, a flag that is no
 * IMAP flag, a header name that matches nothing, an unknown date part):
 * "line L, column C: warning: TEXT" joined by "; " on one line (so
 * ManageSieve's OK (WARNINGS) answer, RFC 5804 §2.6, is a quoted string:
 * sieve-connect takes no literal there), as many as fit
 * SIEVE_WARNINGS_MAX; "" when none. Owned by the script. */
const char *sieve_script_warnings(const struct sieve_script *s);
/* Calls fn for each fileinto whose mailbox is a constant (kind
 * SIEVE_TARGET_FILEINTO, create 1 with :create, or with :specialuse or
 * :mailboxid, where the name is only a fallback), each redirect whose
 * address is one (SIEVE_TARGET_REDIRECT) and each include of a personal
 * script (SIEVE_TARGET_INCLUDE; create has SIEVE_INCLUDE_OPTIONAL with
 * :optional, SIEVE_INCLUDE_ONCE with :once) or a global one
 * (SIEVE_TARGET_INCLUDE_GLOBAL, likewise), with its line and column:
 * ManageSieve warns of a mailbox or an included script that does not
 * exist and of a redirect to the owner, and SETACTIVE walks includes. */
enum { SIEVE_TARGET_FILEINTO, SIEVE_TARGET_REDIRECT, SIEVE_TARGET_INCLUDE,
       SIEVE_TARGET_INCLUDE_GLOBAL };
enum { SIEVE_INCLUDE_OPTIONAL = 1, SIEVE_INCLUDE_ONCE = 2 };
typedef void sieve_target_fn(void *arg, int kind, struct str target, int create, uint32_t line,
                             uint32_t col);
void sieve_script_targets(const struct sieve_script *s, sieve_target_fn *fn, void *arg);
/* 1 when the script uses an extension (by its require name). */
int sieve_script_requires(const struct sieve_script *s, const char *ext);
/* 1 when the script can send mail elsewhere: a redirect, or a notify
 * (whose :message may carry the mail's text), anywhere in it; else 0. */
int sieve_script_sends_out(const struct sieve_script *s);

/*
 * The compiled-script cache (sieve_cache.c), shared by all threads:
 * sieve_cache_get() returns the compiled form of text (compiling it when
 * the text is new) and a reference the caller gives back with
 * sieve_cache_release() when its run is over; the script stays valid
 * until then. sieve_run compiles included scripts (include_text's)
 * through it too. On a compile error returns NULL with err set (as
 * sieve_compile) and *ref_r untouched. sieve_cache_clear() drops every
 * entry (tests, shutdown); scripts still referenced live on until
 * released.
 */
struct sieve_ref;
const struct sieve_script *sieve_cache_get(const char *text, size_t len, char err[SIEVE_ERROR_MAX],
                                           struct sieve_ref **ref_r);
void sieve_cache_release(struct sieve_ref **ref);
void sieve_cache_clear(void);
/* The scripts the cache holds (at most its slots; tests). */
size_t sieve_cache_count(void);

enum sieve_action_kind {
	SIEVE_ACT_KEEP,
	SIEVE_ACT_FILEINTO,
	SIEVE_ACT_REDIRECT,
	SIEVE_ACT_DISCARD,
	SIEVE_ACT_REJECT,
	SIEVE_ACT_EREJECT,
	SIEVE_ACT_VACATION,
	SIEVE_ACT_NOTIFY,
	SIEVE_ACT_ADDHEADER,
	SIEVE_ACT_DELETEHEADER,
	SIEVE_ACT_DUPLICATE, /* remember (handle, id) for seconds when delivered */
	SIEVE_ACT_REPLACE,   /* replace ran (the message is res->message) */
	SIEVE_ACT_ENCLOSE,   /* enclose ran (likewise) */
};

/*
 * One action. Strings point into the result's arena. Which members are
 * set depends on kind:
 *   KEEP         flags
 *   FILEINTO     target (mailbox), flags, create, copy, mailboxid, specialuse
 *   REDIRECT     target (address), copy, notify, ret, by*
 *   REJECT/EREJECT  text (reason)
 *   VACATION     text (reason), subject, from, addresses, handle, seconds
 *                (:days converted; within SIEVE_VACATION_MIN/MAX_SECONDS),
 *                mime, fcc
 *   NOTIFY       target (method URI), from, importance, options, text (message), fcc
 *   ADDHEADER    name, value, last
 *   DELETEHEADER name, value (the field removed, raw), index (its position
 *                among the fields of that name, 1-based); one per field
 *   REPLACE/ENCLOSE  subject (:subject, empty when not given): a record of
 *                the edit for `tern sieve test`; the message is res->message
 *   DISCARD      nothing: says a discard ran (it only cancels the implicit
 *                keep; a later keep still delivers)
 *   DUPLICATE    handle, text (the unique id), seconds, last (:last: the
 *                lifetime restarts at every hit), index (1: it was seen)
 * flags is a space-separated list of IMAP flags/keywords (lower case for
 * the system flags' backslash names as written), empty when none.
 */
struct sieve_action {
	enum sieve_action_kind kind;
	struct str target, text, flags, subject, from, handle, mailboxid, specialuse, fcc;
	struct str importance, name, value, notify, ret;
	struct str *addresses; /* VACATION: :addresses; NOTIFY: :options */
	uint32_t naddresses;
	uint64_t seconds;
	uint32_t index;
	unsigned create : 1, copy : 1, mime : 1, last : 1;
	/* REDIRECT with redirect-deliverby (RFC 6009 §5): by set, the
	 * deadline (seconds since the epoch), R mode (:bymode "return", the
	 * default), :bytrace. */
	unsigned by : 1, by_return : 1, by_trace : 1;
	int64_t by_deadline;
	/* The editheader edits the message had had when the action ran
	 * (RFC 5293 §5: an action that stores or sends the message takes it
	 * as edited up to that point, as Pigeonhole's): its header is
	 * sieve_header_write_at(res, edits); SIEVE_EDITS_LAST when a replace
	 * or enclose followed (tern keeps only the last message: such an
	 * action gets the message as the script left it). */
	uint32_t edits;
};
#define SIEVE_EDITS_LAST UINT32_MAX

/* A header field of the message a script edited (editheader). */
struct sieve_field {
	struct str name, value; /* value raw, folds kept; an added one as the script gave it */
	/* The edit (from 1) that added it, 0 for the message's own; the edit
	 * that deleted it, 0 when it is still there. */
	uint32_t added, deleted;
};

struct sieve_result {
	struct sieve_action *actions;
	uint32_t nactions;
	/* editheader (RFC 5293): when the script added or deleted a field,
	 * the message's header fields in order, those it deleted included
	 * (each says when it came and went); NULL and 0 otherwise (also
	 * after a run-time error). edits: how many edits the script made. */
	struct sieve_field *fields;
	uint32_t nfields, edits;
	/* replace/enclose (RFC 5703): the whole new message (header and body,
	 * CRLF lines) the later tests saw; fields, when set, are its header
	 * as edited since. p NULL when the message was not replaced. */
	struct str message;
	int implicit_keep;     /* 1: the message also goes to INBOX */
	struct str keep_flags; /* flags for the implicit keep */
	uint64_t steps;        /* instructions and match steps used */
	char error[SIEVE_ERROR_MAX]; /* run-time error, "" when none */
};

/* What the interpreter knows about the message and asks the outside. */
struct sieve_env {
	const char *msg; /* the whole message, header and body */
	size_t len;
	/* Header fields the server puts in front of msg when it stores it
	 * (Return-Path, its Received, Authentication-Results, the spam
	 * verdict), CRLF lines; may be empty. Tests read them as the first
	 * fields of the header, as a script under Dovecot reads what the MTA,
	 * its milters and LMTP added, and size counts them; they are the
	 * server's: deleteheader leaves them and the result's header
	 * (fields, message) does not hold them, so the caller writes them
	 * once, in front, as before. */
	struct str head;
	struct str env_from;   /* MAIL FROM (empty for the null path) */
	struct str env_to;     /* the recipient (RCPT TO) */
	struct str auth;       /* authenticated sender, if any */
	/* envelope-dsn (RFC 6009 §3): the DSN parameters MAIL and this RCPT
	 * carried, empty when absent: NOTIFY as "SUCCESS,DELAY" or "NEVER",
	 * ORCPT decoded ("rfc822;user@host"), RET ("FULL"/"HDRS"), ENVID
	 * decoded. */
	struct str dsn_notify, dsn_orcpt, dsn_ret, dsn_envid;
	/* envelope-deliverby (RFC 6009 §4): MAIL's BY= (RFC 2852), when by:
	 * its deadline (seconds since the epoch), R mode (else N), trace. */
	int by, by_return, by_trace;
	int64_t by_deadline;
	struct str domain, host, remote_host, remote_ip; /* environment items */
	int64_t now;           /* seconds since the epoch (currentdate) */
	int32_t zone_minutes;  /* local zone offset for currentdate/date */
	int spam_score;        /* spamtest 1..10, 0 = not tested */
	int virus_score;       /* virustest 1..5, 0 = not tested */
	void *ctx;
	/* 1 when the mailbox exists, 0 when not. */
	int (*mailbox_exists)(void *ctx, struct str name);
	/* 1 when a mailbox with that special-use exists (name empty: any). */
	int (*specialuse_exists)(void *ctx, struct str mailbox, struct str use);
	/* 1 when a mailbox of that id exists. */
	int (*mailboxid_exists)(void *ctx, struct str id);
	/* mboxmetadata, servermetadata (RFC 5490): the value of the METADATA
	 * entry name (RFC 5464, "/private/..." or "/shared/...", any case) of
	 * the mailbox, or of the server when mailbox.p is NULL, into *value_r
	 * (allocated from a). 1 found; 0 no such entry or mailbox; -1 it
	 * could not be read (a run-time error). Unset: nothing is found. */
	int (*metadata)(void *ctx, struct str mailbox, struct str name, struct arena *a,
	                struct str *value_r);
	/* 1 when (handle, id) was recorded within its lifetime. */
	int (*duplicate_seen)(void *ctx, struct str handle, struct str id);
	/* The text of a script to include; 0 and *text_r set, or -1 when
	 * there is none. global: from the administrator's scripts. The text
	 * must stay valid until sieve_run returns. */
	int (*include_text)(void *ctx, struct str name, int global, struct str *text_r);
	/* The running script's own name in include's namespaces (the root of
	 * the include tree, RFC 6609 §3.2), global 1 for an administrator's
	 * script; name.p NULL when it has none. An include of it with :once
	 * is skipped, without :once it is recursion (a run-time error). */
	struct str script_name;
	int script_global;
};

/*
 * Sets env's environment items "host" (host, which must outlive the run)
 * and "domain" (RFC 5183 §4.1: what follows host's first label, host
 * itself when it has one label).
 */
void sieve_env_host(struct sieve_env *env, const char *host);

/*
 * Runs s against env's message. Everything the result points to is
 * allocated from a. Returns 0, or -1 on a run-time error (res->error says
 * why; the actions gathered so far are dropped and res->implicit_keep is
 * 1, so a caller that follows the result files the message into INBOX).
 */
int sieve_run(const struct sieve_script *s, const struct sieve_env *env, struct arena *a,
              struct sieve_result *res);

/*
 * The stored form of an edited header (res->fields, sieve_edit.c): each
 * field as "name:value" CRLF, an added one as "name: value" with a value
 * that is not ASCII as RFC 2047 words, then the empty line. Lines the
 * header parser could not read as fields are not in res->fields and so
 * not written. 0, or -1 when out's maximum refused it.
 * sieve_header_write() writes the header as the script left it,
 * sieve_header_write_at() as it was after edits edits (an action's
 * edits; SIEVE_EDITS_LAST: as left).
 */
int sieve_header_write(const struct sieve_result *res, struct buf *out);
int sieve_header_write_at(const struct sieve_result *res, uint32_t edits, struct buf *out);

/*
 * Where msg's body starts (after the empty line ending its header), or
 * -1 when the header section is longer than Sieve examines
 * (SIEVE_HEADER_BYTES_MAX): an edited header would then lose fields.
 */
ptrdiff_t sieve_body_offset(const char *msg, size_t len);

/*
 * Writes the result as `tern sieve test` prints it (DESIGN.md §5), one
 * action a line, into out (NUL-terminated, truncated to outsz).
 */
void sieve_result_format(const struct sieve_result *res, char *out, size_t outsz);

#endif
