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

int hostname_syntax_ok(const char *name)
{
	size_t n = strlen(name), label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];
		if (c == '.' || c == '\0') {
			/* The label just ended: not empty, not too long, no '-' last. */
			if (label == 0 || label > 63 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return 0;
		label++;
	}
	return 1;
}
