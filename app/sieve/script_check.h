/*
 * script_check.h — a stored Sieve script checked against what its
 * account has now: the one check behind ManageSieve's PUTSCRIPT,
 * CHECKSCRIPT and SETACTIVE, and the one activation every other road
 * takes (the REST API, JMAP's onSuccessActivateScript and
 * VacationResponse on and off, `tern sieve activate`, the active script
 * of `tern import` and `tern migrate --sieve`), so a script that
 * would fail every delivery cannot be made active by any of them.
 *
 * Design: the script is compiled (its errors, or its warnings), then its
 * includes are walked as a delivery reaches them (sieve_run.c,
 * cmd_include): an include without :optional of a script the owner has
 * not got, a recursive include without :once, nesting past
 * SIEVE_INCLUDE_DEPTH_MAX and an included script that does not compile
 * each make the run fail and every action drop (RFC 6609 §3.2). Checking
 * an upload, those are warnings (scripts come in any order; Pigeonhole
 * warns too); activating, they refuse the script, as Pigeonhole's
 * SETACTIVE does. Besides, a fileinto without :create into a mailbox the
 * owner has not got and a redirect to the owner's own address are
 * warned of.
 *
 * Caveats: the check reads the store and compiles up to
 * STORE_SIEVE_SCRIPTS_MAX scripts: a few hundred ms at worst, so
 * ManageSieve runs it on the worker pool. A global script's personal
 * includes name each recipient's own scripts at delivery: they are not
 * checked (only its :global ones are).
 */
#ifndef TERN_SCRIPT_CHECK_H
#define TERN_SCRIPT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/sieve.h"
#include "store/store.h"

struct script_walk;

/* One check. script_check_init fills the inputs every caller has (the
 * rest zeroed); login, sep and activating are set after it where they
 * apply. The outputs are the check's. Nothing is kept past the call: it
 * may live on the stack, in a job or in an arena. */
struct script_check {
	/* in */
	struct store *st;
	uint32_t account; /* or STORE_SIEVE_GLOBAL */
	char name[STORE_SIEVE_NAME_MAX + 1]; /* the script's own name: the include tree's root */
	const char *login; /* the owner's address (a redirect to it is warned of), or NULL */
	const char *sep;   /* between compile errors in err (a line break where shown); NULL "\n" */
	int activating;    /* script_check_text: as an activation (what fails every run refuses) */
	/* out */
	int invalid; /* it does not compile, or (activating) an include fails: err says why */
	char err[SIEVE_ERRORS_TEXT_MAX];
	char warn[SIEVE_WARNINGS_MAX]; /* "; "-separated on one line, "" when none */
	struct script_walk *walk; /* private: while the includes are walked */
};

/* c zeroed, then the check of script name (NULL or "": none, which
 * script_check_activate takes as deactivating) of account in st. */
void script_check_init(struct script_check *c, struct store *st, uint32_t account,
                       const char *name);

/* Checks text[0..len) as an upload of c->name: c->invalid with c->err
 * when it does not compile, else its warnings (those of the includes
 * walked too) in c->warn. With c->activating, an include that fails
 * every run refuses it too (c->invalid, c->err), as
 * script_check_activate would once it is stored: a request that stores
 * and activates at once refuses before anything changes. */
void script_check_text(struct script_check *c, const char *text, size_t len);

/*
 * Makes c->name the account's active script, as SETACTIVE does: a script
 * not active yet is checked first against what the account has now and
 * refused, left inactive, when it does not compile or an include would
 * fail at every delivery (c->invalid, c->err says where and why: "line
 * L, column C: ...", with `script "NAME", ` before it when it is in an
 * included script); its warnings are in c->warn. The active one is
 * taken as it is. An empty c->name deactivates (nothing checked).
 * Returns STORE_OK (also when refused: see c->invalid), STORE_ENOTFOUND,
 * STORE_EINVAL or another store error; nothing changed unless STORE_OK
 * and !c->invalid.
 */
int script_check_activate(struct script_check *c);

/* script_check_activate's check alone, nothing changed: for a caller
 * that activates in the same transaction as another write
 * (store_sieve_put_activate). STORE_OK (see c->invalid) or its errors. */
int script_check_ready(struct script_check *c);

#endif
