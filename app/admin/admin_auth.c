/*
 * admin_auth.c — the inbound authentication settings (admin_auth.h).
 */
#include "admin/admin_auth.h"

#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "store/store.h"

void admin_auth_get(struct store *st, const char *name, char *out, size_t outsz)
{
	size_t n = 0;
	if (outsz == 0)
		return;
	if (store_meta_get(st, name, out, outsz - 1, &n) != STORE_OK)
		n = 0;
	out[n] = '\0';
}

/* LDH labels separated by dots, 1..253 octets, not starting or ending with a dot. */
static int domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || !strchr(d, '.'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == '_'))
			return 0;
		if (c == '.' && d[i + 1] == '.')
			return 0;
	}
	return 1;
}

int admin_auth_list_encode(const char *const *domains, size_t n, struct buf *b, const char **bad_r)
{
	*bad_r = NULL;
	if (n > ADMIN_AUTH_LIST_ENTRIES)
		return STORE_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char low[256];
		if (!domain_ok(domains[i])) {
			*bad_r = domains[i];
			return STORE_EINVAL;
		}
		str_lower_into(str_c(domains[i]), low, sizeof low);
		if (buf_printf(b, "%s\n", low) < 0)
			return STORE_EINVAL;
	}
	return STORE_OK;
}

int admin_auth_set_postmaster(struct store *st, const char *email)
{
	uint32_t id;
	char low[330];
	if (str_lower_into(str_c(email), low, sizeof low) < 0)
		return STORE_EINVAL;
	int rc = store_account_id(st, low, &id);
	if (rc != STORE_OK)
		return rc;
	return store_meta_put(st, ADMIN_AUTH_POSTMASTER, low, strlen(low), 0);
}
