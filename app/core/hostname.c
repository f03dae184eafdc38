/*
 * hostname.c — the effective host name. See hostname.h.
 */
#include "core/hostname.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/xalloc.h"

struct name {
	struct name *prev; /* older names, kept reachable (never freed, see hostname.h) */
	char text[];
};

static _Atomic(struct name *) current;
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;

const char *hostname_now(void)
{
	struct name *n = atomic_load_explicit(&current, memory_order_acquire);
	return n ? n->text : "localhost";
}

void hostname_set(const char *name)
{
	pthread_mutex_lock(&set_lock);
	struct name *old = atomic_load_explicit(&current, memory_order_relaxed);
	if (!old || strcmp(old->text, name) != 0) {
		size_t len = strlen(name);
		struct name *n = xmalloc(sizeof *n + len + 1);
		memcpy(n->text, name, len + 1);
		n->prev = old;
		atomic_store_explicit(&current, n, memory_order_release);
	}
	pthread_mutex_unlock(&set_lock);
}

int hostname_is_fqdn(const char *name)
{
	size_t n = strlen(name);
	const char *dot = strchr(name, '.');
	return n >= 3 && dot && dot != name && name[n - 1] != '.';
}
