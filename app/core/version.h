/*
 * version.h — the version this binary was built from.
 */
#ifndef TERN_CORE_VERSION_H
#define TERN_CORE_VERSION_H

/* `git describe --always --dirty` at build time ("test" in unit tests). */
extern const char tern_version[];

#endif
