/*
 * dmarc_from.c — the Author Domain of a message (RFC 9989 §5.3.1). See
 * dmarc.h.
 *
 * The From values are read with the one address-list parser the tree has
 * (mime_field_addresses, which IMAP ENVELOPE uses), so DMARC and what a
 * mail client shows agree on the address. Several mailboxes of one domain
 * give that domain; two distinct domains give none, as do groups without
 * mailboxes and addresses without a domain.
 */
#include "auth/dmarc.h"

#include <string.h>

#include "core/arena.h"
#include "auth/alabels.h"
#include "mime/mime_field.h"

#define FROM_ADDRESSES_MAX 32

int dmarc_author_domain(const struct str *from_values, size_t n, char *out, size_t outsz)
{
	struct arena *a = arena_new(4096);
	int found = 0, unusable = 0, several = 0, cut = 0;

	for (size_t i = 0; i < n; i++) {
		struct mime_address *list;
		uint32_t cnt;
		/* One entry more than we read: a field cut at the limit would
		 * leave the addresses after it unseen, where a reader's client
		 * shows them (a forger's 32 addresses, or 16 empty groups, in
		 * front of the domain it spoofs). Such a field is ambiguous. */
		mime_field_addresses(a, from_values[i], &list, &cnt, FROM_ADDRESSES_MAX + 1);
		if (cnt > FROM_ADDRESSES_MAX) {
			cut = 1;
			cnt = FROM_ADDRESSES_MAX;
		}
		for (uint32_t k = 0; k < cnt; k++) {
			char d[DMARC_DOMAIN_MAX];
			if (!list[k].host.p || !list[k].mailbox.p)
				continue; /* a group marker */
			if (str_eq(list[k].host, STR_LIT("MISSING_DOMAIN")) ||
			    str_lower_into(list[k].host, d, sizeof d) < 0) {
				unusable = 1;
				continue;
			}
			size_t dl = strlen(d);
			if (dl && d[dl - 1] == '.')
				d[dl - 1] = '\0';
			int utf8 = 0;
			for (const char *c = d; *c; c++)
				utf8 |= (unsigned char)*c >= 0x80;
			char alab[DMARC_DOMAIN_MAX];
			if (utf8 && auth_domain_alabels(d, alab, sizeof alab) == 0)
				memcpy(d, alab, strlen(alab) + 1);
			else if (utf8)
				d[0] = '\0'; /* no A-label: unusable */
			if (strlen(d) >= outsz || !*d)
				unusable = 1;
			else if (!found) {
				memcpy(out, d, strlen(d) + 1);
				found = 1;
			} else if (strcmp(out, d) != 0) {
				several = 1;
			}
		}
	}
	arena_free(&a);
	if (!found)
		return cut ? -2 : -1;
	/* Beside the domain a reader sees, another one, or an address
	 * without one: the forger's way to lift that domain's policy. */
	return unusable || several || cut ? -2 : 0;
}
