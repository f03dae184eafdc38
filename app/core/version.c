/*
 * version.c — the build's version string, in one object of its own.
 *
 * The Makefile rebuilds this object whenever `git describe` changes (it
 * depends on build/version.txt, rewritten only then), so `tern version`,
 * the start-up log and GET /api/system never name a stale commit. Were the
 * string compiled into the objects that print it, make would rebuild them
 * only when their own sources change.
 */
#include "core/version.h"

#ifndef TERN_VERSION
#define TERN_VERSION "dev"
#endif

const char tern_version[] = TERN_VERSION;
