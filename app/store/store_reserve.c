/*
 * store_reserve.c — free space on the data directory's file system, as
 * the store sees it (and as a test makes it seem).
 */
#include <stdatomic.h>
#include <sys/statvfs.h>

#include "store/store_private.h"

/* Test override of the free bytes (UINT64_MAX: none, ask the kernel). */
static atomic_ullong test_free = UINT64_MAX;

uint64_t store_disk_free(const char *dir)
{
	struct statvfs vs;
	uint64_t t = atomic_load(&test_free);

	if (t != UINT64_MAX)
		return t;
	if (statvfs(dir, &vs) != 0)
		return UINT64_MAX; /* unknown: never the reason to refuse */
	return (uint64_t)vs.f_bavail * vs.f_frsize;
}

void store_test_set_disk_free(uint64_t bytes)
{
	atomic_store(&test_free, bytes);
}
