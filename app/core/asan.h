/*
 * asan.h — manual poisoning for memory that tern recycles itself.
 *
 * AddressSanitizer guards each malloc'ed block, but not the pieces an
 * arena carves out of one block, nor a buffer parked in a cache for
 * reuse. Code that recycles memory marks the bytes nobody may touch with
 * MEM_POISON and hands them out again with MEM_UNPOISON, so an overflow
 * or a use after release is reported there too. Outside ASan builds
 * both are empty and TERN_ASAN is 0: the release binary is unchanged.
 */
#ifndef TERN_CORE_ASAN_H
#define TERN_CORE_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define TERN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TERN_ASAN 1
#endif
#endif

#ifdef TERN_ASAN
#include <sanitizer/asan_interface.h>
#define MEM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define MEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define TERN_ASAN 0
#define MEM_POISON(p, n) ((void)0)
#define MEM_UNPOISON(p, n) ((void)0)
#endif

#endif
