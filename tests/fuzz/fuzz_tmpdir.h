/*
 * fuzz_tmpdir.h — a private directory for a fuzz target's store, removed
 * with everything in it when the process exits. For the targets that run
 * a real store (fuzz_imap_session, fuzz_jmap_request): libFuzzer, its
 * merge children and make fuzz-check each start one, and a directory left
 * behind by each would pile up in /tmp. A crash ends the process without
 * the exit handlers, so the store it crashed on stays to be looked at.
 */
#ifndef TERN_TESTS_FUZZ_TMPDIR_H
#define TERN_TESTS_FUZZ_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static const char *fuzz_tmpdir_path;

static int fuzz_tmpdir_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_tmpdir_remove(void)
{
	if (fuzz_tmpdir_path)
		nftw(fuzz_tmpdir_path, fuzz_tmpdir_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Makes the directory tmpl names (a path ending in "XXXXXX", replaced in
 * place; tmpl must live until exit) and has it removed at exit. Returns
 * tmpl, or NULL when mkdtemp failed. Call it once a process.
 */
static inline char *fuzz_tmpdir(char *tmpl)
{
	if (!mkdtemp(tmpl))
		return NULL;
	fuzz_tmpdir_path = tmpl;
	atexit(fuzz_tmpdir_remove);
	return tmpl;
}

#endif
