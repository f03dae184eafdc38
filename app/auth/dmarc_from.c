/*
 * dmarc_from.c — the Author Domain of a message (RFC 9989 §5.3.1). See
 * dmarc.h.
 *
 * The From values are read with the one address-list parser the tree has
 * (mime_field_addresses, which IMAP ENVELOPE uses), so DMARC and what a
 * mail client shows agree on the address. Several mailboxes of one domain
 * give that domain; two distinct domains give none, as do groups without
 * mailboxes and addresses without a domain. What the parser skips as
 * malformed may still be what a lenient client shows, so a field with
 * an address of another domain it skipped, or past the entries read, is
 * ambiguous too (skipped_other_domain).
 */
#include "auth/dmarc.h"

#include <string.h>

#include "core/arena.h"
#include "auth/alabels.h"
#include "mime/mime_field.h"

#define FROM_ADDRESSES_MAX 32

/* s without a final ".". */
static struct str no_final_dot(struct str s)
{
	if (s.len && s.p[s.len - 1] == '.')
		s.len--;
	return s;
}

/* The domain written after the "@" at v.p[at]: a literal, or up to a delimiter. */
static struct str domain_after(struct str v, size_t at)
{
	size_t i = at + 1;
	if (i < v.len && v.p[i] == '[') {
		while (i < v.len && v.p[i] != ']')
			i++;
		return str_make(v.p + at + 1, i < v.len ? i - at : i - at - 1);
	}
	while (i < v.len && !strchr(" \t\r\n<>,;:()\"[]@\\", v.p[i]))
		i++;
	return no_final_dot(str_make(v.p + at + 1, i - at - 1));
}

/* Has the domain name d (its one final dot removed) an empty label? */
static int empty_label(const char *d)
{
	size_t n = strlen(d);
	return n && (d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."));
}

/* Is d the domain of one of the parsed addresses? */
static int parsed_domain(struct str d, const struct mime_address *list, uint32_t cnt)
{
	for (uint32_t k = 0; k < cnt; k++)
		if (list[k].host.p && list[k].mailbox.p && str_eq_ci(no_final_dot(list[k].host), d))
			return 1;
	return 0;
}

/*
 * The "@" of v outside quoted-strings, comments and domain literals: a
 * display name cannot hold one (RFC 5322 §3.2.5), so each is in an
 * address. *foreign_r is set when one is followed by a domain none of
 * the parsed addresses has.
 */
static size_t ats_in_addresses(struct str v, const struct mime_address *list, uint32_t cnt,
			       int *foreign_r)
{
	size_t n = 0, depth = 0;
	int quoted = 0, literal = 0;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.p[i];
		if ((quoted || depth || literal) && c == '\\') {
			i++; /* a quoted-pair */
		} else if (quoted) {
			quoted = c != '"';
		} else if (depth) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (literal) {
			literal = c != ']';
		} else if (c == '@') {
			n++;
			*foreign_r |= !parsed_domain(domain_after(v, i), list, cnt);
		} else {
			quoted = c == '"';
			depth = c == '(';
			literal = c == '[';
		}
	}
	return n;
}

/* The "@" of the parsed addresses: each domain's and the source route's. */
static size_t ats_parsed(const struct mime_address *list, uint32_t cnt)
{
	size_t n = 0;
	for (uint32_t k = 0; k < cnt; k++) {
		if (!list[k].host.p || !list[k].mailbox.p)
			continue;
		n += !str_eq(list[k].host, STR_LIT("MISSING_DOMAIN"));
		for (size_t i = 0; list[k].adl.p && i < list[k].adl.len; i++)
			n += list[k].adl.p[i] == '@';
	}
	return n;
}

/*
 * Did the parser skip an address of another domain? More "@" than in
 * the addresses it returned means it skipped one, as ceo@bank.example in
 * "x@evil.example <ceo@bank.example>" (whose phrase is not one), which
 * clients that read the text before "<" as a display name show as the
 * sender. One that repeats a parsed domain ("me@shop.example
 * <me@shop.example>", as careless scripts write) hides nothing.
 */
static int skipped_other_domain(struct str v, const struct mime_address *list, uint32_t cnt)
{
	int foreign = 0;
	size_t raw = ats_in_addresses(v, list, cnt, &foreign);
	return raw > ats_parsed(list, cnt) && foreign;
}

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
		} else if (skipped_other_domain(from_values[i], list, cnt)) {
			cut = 1;
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
			if (empty_label(d)) {
				unusable = 1; /* "a..b", ".b", "b..": no domain */
				continue;
			}
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
