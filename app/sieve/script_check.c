/*
 * script_check.c — a stored Sieve script checked against what its account
 * has now (script_check.h): compile, then the walk through the personal
 * scripts it includes, as a delivery reaches them, with warnings for an
 * upload and a refusal for an activation.
 */
#include "sieve/script_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "sieve/sieve_mailto.h"

/* The walk through the personal scripts that the one checked includes,
 * as a delivery reaches them (sieve_run.c, cmd_include). */
struct script_walk {
	int depth; /* of the script whose includes come: 0 the one checked */
	char path[SIEVE_INCLUDE_DEPTH_MAX + 1][STORE_SIEVE_NAME_MAX + 1];
	int nseen; /* scripts walked already, each at the greatest depth seen */
	char seen[STORE_SIEVE_SCRIPTS_MAX][STORE_SIEVE_NAME_MAX + 1];
	int seen_depth[STORE_SIEVE_SCRIPTS_MAX];
};

/* Appends one warning to c->warn ("; "-separated, as the compiler's);
 * one that does not fit is dropped. */
static void check_warn(struct script_check *c, uint32_t line, uint32_t col, const char *what,
                       struct str target)
{
	char one[SIEVE_ERROR_MAX], where[96] = "";
	size_t have = strlen(c->warn);
	if (c->walk && c->walk->depth)
		snprintf(where, sizeof where, "script \"%.64s\", ", c->walk->path[c->walk->depth]);
	snprintf(one, sizeof one, "%sline %u, column %u: warning: %s \"%.*s\"", where, line, col,
	         what, (int)(target.len > 64 ? 64 : target.len), target.p);
	if (have + 2 + strlen(one) + 1 > sizeof c->warn)
		return;
	/* one quoted line of UTF-8, as the compiler's warnings */
	int utf8 = utf8_valid(str_c(one));
	for (char *p = one; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || (!utf8 && (unsigned char)*p >= 0x80))
			*p = '?';
	snprintf(c->warn + have, sizeof c->warn - have, "%s%s", have ? "; " : "", one);
}

/* The activation is refused: what it found, in the script made active
 * or (named) in one it includes. */
static void activate_refuse(struct script_check *c, uint32_t line, uint32_t col, const char *what,
                            struct str target, const char *after)
{
	char where[96] = "";
	if (c->walk->depth)
		snprintf(where, sizeof where, "script \"%.64s\", ", c->walk->path[c->walk->depth]);
	snprintf(c->err, sizeof c->err, "%sline %u, column %u: %s \"%.*s\"%s", where, line, col, what,
	         (int)(target.len > 64 ? 64 : target.len), target.p, after);
	c->invalid = 1;
}

/* An include that fails every run: an activation is refused, an upload
 * warned of (warn says it). */
static void include_problem(struct script_check *c, uint32_t line, uint32_t col, struct str target,
                            const char *what, const char *after, const char *warn)
{
	if (c->activating)
		activate_refuse(c, line, col, what, target, after);
	else
		check_warn(c, line, col, warn, target);
}

static void check_target(void *arg, int kind, struct str target, int create, uint32_t line,
                         uint32_t col);

/* The included script, text, is compiled and its includes walked in
 * turn, unless walked already as deep or deeper (with no more room for
 * nesting below it than now), or at all for an include with :once (a
 * delivery skips a script included already). A cycle below it was found
 * by its first walk, whatever the path. */
static void walk_into(struct script_check *c, const char *name, const struct buf *text, int once,
                      uint32_t line, uint32_t col, struct str target)
{
	struct script_walk *w = c->walk;
	int i = 0;
	while (i < w->nseen && strcmp(w->seen[i], name))
		i++;
	if (i < w->nseen && (once || w->seen_depth[i] >= w->depth + 1))
		return;
	if (w->depth >= SIEVE_INCLUDE_DEPTH_MAX) {
		char after[96];
		snprintf(after, sizeof after, " nested deeper than %d (the script fails when it runs)",
		         SIEVE_INCLUDE_DEPTH_MAX);
		include_problem(c, line, col, target, "include of", after,
		                "the script fails when it runs: include nested too deep of");
		return;
	}
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *sc = sieve_compile(buf_data(text), buf_len(text), err);
	if (!sc) {
		include_problem(c, line, col, target, "included script", " does not compile",
		                "the included script does not compile:");
		return;
	}
	w->depth++;
	snprintf(w->path[w->depth], sizeof w->path[0], "%s", name);
	sieve_script_targets(sc, check_target, c);
	w->depth--;
	sieve_script_free(&sc);
	/* found again: the walk below may have added others */
	for (i = 0; i < w->nseen && strcmp(w->seen[i], name); i++)
		;
	if (i == w->nseen && w->nseen < STORE_SIEVE_SCRIPTS_MAX)
		snprintf(w->seen[w->nseen++], sizeof w->seen[0], "%s", name);
	if (i < w->nseen)
		w->seen_depth[i] = w->depth + 1;
}

/*
 * An include (RFC 6609 §3.2): without :optional of a script the owner has
 * not got, the run fails and every action is dropped. The personal
 * scripts included are walked as a delivery reaches them, with the same
 * verdicts: one including, without :once, a script it is being included
 * by is recursion, and nesting past SIEVE_INCLUDE_DEPTH_MAX fails too.
 */
static void check_include(struct script_check *c, int global, struct str target, int flags,
                          uint32_t line, uint32_t col)
{
	struct script_walk *w = c->walk;
	char name[STORE_SIEVE_NAME_MAX + 1];
	if (target.len == 0 || target.len >= sizeof name || memchr(target.p, '\0', target.len))
		return;
	/* a global script's :personal include is each recipient's own */
	if (!global && c->account == STORE_SIEVE_GLOBAL)
		return;
	memcpy(name, target.p, target.len);
	name[target.len] = '\0';
	for (int d = 0; !global && d <= w->depth; d++)
		if (!strcmp(w->path[d], name)) {
			if (!(flags & SIEVE_INCLUDE_ONCE))
				include_problem(c, line, col, target, "recursive include of",
				                " (the script fails when it runs)",
				                "the script fails when it runs: recursive include of");
			return;
		}
	struct buf b;
	buf_init(&b, STORE_SIEVE_BYTES_MAX);
	int rc = store_sieve_get(c->st, global ? STORE_SIEVE_GLOBAL : c->account, name,
	                         global ? NULL : &b, NULL);
	if (rc == STORE_ENOTFOUND && !(flags & SIEVE_INCLUDE_OPTIONAL))
		include_problem(c, line, col, target,
		                global ? "no such global script to include"
		                       : "no such personal script to include",
		                " (without :optional the script fails when it runs)",
		                global ? "no such global script to include (without :optional the "
		                         "script fails when it runs)"
		                       : "no such personal script to include (without :optional the "
		                         "script fails when it runs)");
	else if (rc == STORE_OK && !global)
		walk_into(c, name, &b, flags & SIEVE_INCLUDE_ONCE, line, col, target);
	buf_free(&b);
}

/* What the compiler cannot know: a fileinto without :create into a
 * mailbox the owner has not got (the message goes to the INBOX, RFC
 * 5228 §4.1), a redirect to the owner's own address (nothing is
 * forwarded: the copy would come back), an include (check_include). */
static void check_target(void *arg, int kind, struct str target, int create, uint32_t line,
                         uint32_t col)
{
	struct script_check *c = arg;
	if (c->invalid)
		return;
	if (kind == SIEVE_TARGET_INCLUDE || kind == SIEVE_TARGET_INCLUDE_GLOBAL) {
		check_include(c, kind == SIEVE_TARGET_INCLUDE_GLOBAL, target, create, line, col);
		return;
	}
	if (c->walk->depth > 0 || c->account == STORE_SIEVE_GLOBAL)
		return; /* an included script's own fileinto and redirect; no owner */
	if (kind == SIEVE_TARGET_REDIRECT) {
		char buf[1024];
		if (!c->login || target.len >= sizeof buf)
			return; /* no login is that long */
		struct str a = sieve_address_unwrap(target, buf);
		if (str_eq_ci(a, str_c(c->login)))
			check_warn(c, line, col, "redirect to the script's own account", a);
		return;
	}
	uint32_t id;
	char name[1024];
	/* "Junk" in any case goes to the account's Junk mailbox at delivery
	 * (deliver_sieve.c, is_junk), whatever its name */
	if (create || target.len == 0 || target.len >= sizeof name ||
	    memchr(target.p, '\0', target.len) || str_eq_ci(target, STR_LIT("Junk")))
		return;
	memcpy(name, target.p, target.len);
	name[target.len] = '\0';
	if (store_mailbox_find(c->st, c->account, name, &id) == STORE_ENOTFOUND)
		check_warn(c, line, col,
		           "no such mailbox (without :create the message goes to the INBOX)", target);
}

void script_check_init(struct script_check *c, struct store *st, uint32_t account,
                       const char *name)
{
	memset(c, 0, sizeof *c);
	c->st = st;
	c->account = account;
	/* In NFC, as the store keeps it: a name sent decomposed may be longer
	 * than c->name until it is normalised (RFC 5804 §1.6). */
	if (!name || store_sieve_name_nfc(name, c->name) < 0)
		snprintf(c->name, sizeof c->name, "%s", name ? name : "");
}

void script_check_text(struct script_check *c, const char *text, size_t len)
{
	struct sieve_errors *errs = xmalloc(sizeof *errs);
	struct sieve_script *sc = sieve_compile_errors(text, len, errs);
	if (!sc) {
		sieve_errors_format(errs, c->sep ? c->sep : "\n", c->err, sizeof c->err);
		free(errs);
		c->invalid = 1;
		return;
	}
	free(errs);
	snprintf(c->warn, sizeof(c->warn), "%s", sieve_script_warnings(sc));
	c->walk = xcalloc(1, sizeof *c->walk);
	snprintf(c->walk->path[0], sizeof c->walk->path[0], "%s", c->name);
	sieve_script_targets(sc, check_target, c);
	free(c->walk);
	c->walk = NULL;
	sieve_script_free(&sc);
}

/*
 * A script not active yet is checked again against what the account has
 * now, as Pigeonhole's SETACTIVE does; one that would fail at every
 * delivery is refused (what an upload only warns of). The active one is
 * not checked again (Pigeonhole neither): refusing would not take it out.
 */
int script_check_ready(struct script_check *c)
{
	struct buf b;
	int active = 0;
	if (!c->name[0])
		return STORE_OK;
	buf_init(&b, STORE_SIEVE_BYTES_MAX);
	int rc = store_sieve_get(c->st, c->account, c->name, &b, &active);
	if (rc == STORE_OK && !active) {
		c->activating = 1;
		script_check_text(c, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
	return rc;
}

int script_check_activate(struct script_check *c)
{
	int rc = script_check_ready(c);
	if (rc == STORE_OK && !c->invalid)
		rc = store_sieve_activate(c->st, c->account, c->name[0] ? c->name : NULL);
	return rc;
}
