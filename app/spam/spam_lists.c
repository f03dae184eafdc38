/*
 * spam_lists.c — allow and block list entries and their matching
 * (spam_lists.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"
#include "core/xalloc.h"
#include "spam/spam_lists.h"

enum kind { K_BAD, K_ADDR, K_DOMAIN, K_NET };

static int is_sep(char c)
{
	return c == '\n' || c == '\r' || c == ',' || c == ' ' || c == '\t';
}

/* The next entry of *p into e (NUL-ended, cut entries are K_BAD); 0 at the end. */
static int next_entry(const char **p, char *e, size_t esz, size_t *len_r)
{
	const char *s = *p;
	while (*s && is_sep(*s))
		s++;
	if (!*s)
		return 0;
	const char *start = s;
	while (*s && !is_sep(*s))
		s++;
	size_t n = (size_t)(s - start);
	*len_r = n;
	if (n >= esz)
		n = esz - 1;
	memcpy(e, start, n);
	e[n] = '\0';
	*p = s;
	return 1;
}

static int domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || !strchr(d, '.'))
		return 0;
	for (const char *p = d; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80))
			return 0;
		if (c == '.' && p[1] == '.')
			return 0;
	}
	return 1;
}

static enum kind classify(const char *e)
{
	const char *at = strrchr(e, '@');
	if (at == e)
		return domain_ok(e + 1) ? K_DOMAIN : K_BAD;
	if (at)
		return at > e && domain_ok(at + 1) && !strchr(e, ' ') ? K_ADDR : K_BAD;
	if (strchr(e, ':') || strchr(e, '/') || strspn(e, "0123456789.") == strlen(e))
		return cidr_list_valid(e) ? K_NET : K_BAD;
	return domain_ok(e) ? K_DOMAIN : K_BAD;
}

int spam_list_valid(const char *text, char *err, size_t errsz)
{
	char e[SPAM_LIST_ENTRY_MAX + 1];
	size_t len;
	const char *p = text ? text : "";
	while (next_entry(&p, e, sizeof e, &len)) {
		if (len > SPAM_LIST_ENTRY_MAX || classify(e) == K_BAD) {
			snprintf(err, errsz, "not an address, domain or network: \"%.60s\"", e);
			return 0;
		}
	}
	return 1;
}

/* domain equals d or is under it. */
static int domain_under(const char *domain, const char *d)
{
	size_t n = strlen(domain), m = strlen(d);
	if (n < m || strcasecmp(domain + n - m, d) != 0)
		return 0;
	return n == m || domain[n - m - 1] == '.';
}

static int addr_match(const char *addr, const char *e, enum kind k)
{
	if (!addr || !*addr)
		return 0;
	if (k == K_ADDR)
		return strcasecmp(addr, e) == 0;
	const char *at = strrchr(addr, '@');
	return at && domain_under(at + 1, e[0] == '@' ? e + 1 : e);
}

int spam_list_match(const char *list, const struct spam_subject *s, int allow, char *hit,
		    size_t hitsz)
{
	char e[SPAM_LIST_ENTRY_MAX + 1];
	size_t len;
	const char *p = list ? list : "";
	while (next_entry(&p, e, sizeof e, &len)) {
		enum kind k = classify(e);
		int m = 0;
		if (k == K_NET)
			m = s->ip && *s->ip && cidr_list_match(e, s->ip);
		else if (k == K_ADDR || k == K_DOMAIN)
			m = (addr_match(s->mail_from, e, k) && (!allow || s->mail_from_verified)) ||
			    (addr_match(s->from, e, k) && (!allow || s->from_verified));
		if (m) {
			if (hit && hitsz)
				snprintf(hit, hitsz, "%s", e);
			return 1;
		}
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spam_list_canon(const char *text, char *out, size_t outsz)
{
	char err[128];
	if (!spam_list_valid(text, err, sizeof err) || outsz == 0)
		return -1;
	size_t n = 0, cap = 16, o = 0, len;
	char **v = xmalloc(cap * sizeof *v), e[SPAM_LIST_ENTRY_MAX + 1];
	const char *p = text ? text : "";
	int rc = 0;
	while (next_entry(&p, e, sizeof e, &len)) {
		for (char *q = e; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		if (n == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = xstrdup(e);
	}
	qsort(v, n, sizeof *v, cmp);
	out[0] = '\0';
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i && strcmp(v[i], v[i - 1]) == 0)
			continue;
		size_t l = strlen(v[i]);
		if (o + l + 2 > outsz) {
			rc = -1;
			break;
		}
		memcpy(out + o, v[i], l);
		o += l;
		out[o++] = '\n';
		out[o] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}
