/*
 * asan.h — manual poisoning for memory that tern recycles itself.
 *
 * AddressSanitizer guards each malloc'ed block, but not the pieces an
 * arena carves out of one block, nor a buffer parked in a cache for
 * reuse. Code that recycles memory marks the bytes nobody may touch with
 * MEM_POISON and hands them out again with MEM_UNPOISON, so an overflow
 * or a use after release is reported there too. Outside ASan builds
 * both are empty and TERN_ASAN is 0: the release binary is unchanged.
 * TERN_TEST_KNOBS says whether the tests' knobs are compiled in.
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

/* A build under a sanitizer (build/tern-asan, build/tern-tsan, the unit
 * tests): the only builds that read the tests' TERN_TEST_* knobs that
 * change behaviour a release must keep (a held request, a shorter
 * timeout). TERN_TEST_KNOBS is 0 in the release binary. */
#if defined(TERN_ASAN) || defined(__SANITIZE_THREAD__)
#define TERN_TEST_KNOBS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TERN_TEST_KNOBS 1
#endif
#endif
#ifndef TERN_TEST_KNOBS
#define TERN_TEST_KNOBS 0
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
