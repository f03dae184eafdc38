/*
 * mta_sts.c — RFC 8461's two formats and its MX matching (see mta_sts.h).
 */
#include "tlspol/mta_sts.h"

#include <stdio.h>
#include <string.h>

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int mta_sts_txt_parse(const char *p, size_t n, char id[MTA_STS_ID_MAX + 1])
{
	size_t i = 0, field = 0;
	int have_id = 0;

	id[0] = '\0';
	while (i < n) {
		while (i < n && is_wsp(p[i]))
			i++;
		if (i == n)
			break;
		size_t ks = i;
		while (i < n && p[i] != '=' && p[i] != ';')
			i++;
		if (i == n || p[i] != '=')
			return 0;
		size_t kl = i - ks;
		i++; /* '=' */
		size_t vs = i;
		while (i < n && p[i] != ';')
			i++;
		size_t ve = i;
		while (ve > vs && is_wsp(p[ve - 1]))
			ve--;
		if (i < n)
			i++; /* ';' */
		if (field == 0) {
			/* The version comes first, exactly (§3.1). */
			if (kl != 1 || p[ks] != 'v' || ve - vs != 5 || memcmp(p + vs, "STSv1", 5) != 0)
				return 0;
		} else if (kl == 2 && memcmp(p + ks, "id", 2) == 0 && !have_id) {
			size_t l = ve - vs;
			if (l == 0 || l > MTA_STS_ID_MAX)
				return 0;
			for (size_t k = vs; k < ve; k++)
				if (!is_alnum(p[k]))
					return 0;
			memcpy(id, p + vs, l);
			id[l] = '\0';
			have_id = 1;
		}
		field++;
	}
	return have_id;
}

int mta_sts_txt_versioned(const char *p, size_t n, const char *version)
{
	size_t vl = strlen(version);
	return n >= vl && memcmp(p, version, vl) == 0 && (n == vl || p[vl] == ';' || is_wsp(p[vl]));
}

const char *mta_sts_txt_only(const char *const *texts, size_t n, const char *version)
{
	const char *one = NULL;
	for (size_t i = 0; i < n; i++)
		if (mta_sts_txt_versioned(texts[i], strlen(texts[i]), version)) {
			if (one)
				return NULL;
			one = texts[i];
		}
	return one;
}

int mta_sts_txt_pick(const char *const *texts, size_t n, char id[MTA_STS_ID_MAX + 1])
{
	/* An invalid STSv1 record counts: with a valid one beside it, the
	 * domain's intent is unclear, and §3.1 says no policy. */
	const char *one = mta_sts_txt_only(texts, n, "v=STSv1");
	id[0] = '\0';
	return one && mta_sts_txt_parse(one, strlen(one), id);
}

/* A policy mx pattern: a host name, or "*." and a host name; stored lower case. */
static int mx_pattern(const char *v, size_t l, char out[MTA_STS_HOST_MAX + 1])
{
	size_t start = 0;
	if (l > 0 && v[l - 1] == '.')
		l--; /* an absolute name: the same host (matching drops it too) */
	if (l >= 2 && v[0] == '*' && v[1] == '.')
		start = 2;
	if (l == start || l > MTA_STS_HOST_MAX)
		return -1;
	char prev = '.';
	for (size_t k = start; k < l; k++) {
		char c = v[k];
		if (!(is_alnum(c) || c == '-' || c == '.' || c == '_'))
			return -1;
		if (c == '.' && prev == '.')
			return -1;
		prev = c;
	}
	if (prev == '.')
		return -1; /* "a..": one trailing dot dropped, an empty label left */
	for (size_t k = 0; k < l; k++)
		out[k] = lower(v[k]);
	out[l] = '\0';
	return 0;
}

int mta_sts_policy_parse(const char *p, size_t n, struct mta_sts_policy *pol, const char **why)
{
	int have_version = 0, have_mode = 0, have_age = 0;
	const char *dummy;
	size_t i = 0;

	if (!why)
		why = &dummy;
	memset(pol, 0, sizeof *pol);
	if (n > MTA_STS_POLICY_MAX) {
		*why = "policy too large";
		return -1;
	}
	while (i < n) {
		size_t ls = i;
		while (i < n && p[i] != '\n')
			i++;
		size_t le = i;
		if (i < n)
			i++;
		if (le > ls && p[le - 1] == '\r')
			le--;
		if (le == ls)
			continue;
		const char *colon = memchr(p + ls, ':', le - ls);
		if (!colon) {
			*why = "a line without a colon";
			return -1;
		}
		size_t ke = (size_t)(colon - p), vs = ke + 1, ve = le;
		while (vs < ve && is_wsp(p[vs]))
			vs++;
		while (ve > vs && is_wsp(p[ve - 1]))
			ve--;
		const char *k = p + ls, *v = p + vs;
		size_t kl = ke - ls, vl = ve - vs;
		if (kl == 7 && memcmp(k, "version", 7) == 0) {
			if (have_version++)
				continue;
			if (vl != 5 || memcmp(v, "STSv1", 5) != 0) {
				*why = "version is not STSv1";
				return -1;
			}
		} else if (kl == 4 && memcmp(k, "mode", 4) == 0) {
			if (have_mode++)
				continue;
			if (vl == 7 && memcmp(v, "enforce", 7) == 0)
				pol->mode = MTA_STS_ENFORCE;
			else if (vl == 7 && memcmp(v, "testing", 7) == 0)
				pol->mode = MTA_STS_TESTING;
			else if (vl == 4 && memcmp(v, "none", 4) == 0)
				pol->mode = MTA_STS_NONE;
			else {
				*why = "mode is not enforce, testing or none";
				return -1;
			}
		} else if (kl == 7 && memcmp(k, "max_age", 7) == 0) {
			if (have_age++)
				continue;
			uint64_t a = 0;
			if (vl == 0 || vl > 10) {
				*why = "bad max_age";
				return -1;
			}
			for (size_t d = 0; d < vl; d++) {
				if (v[d] < '0' || v[d] > '9') {
					*why = "bad max_age";
					return -1;
				}
				a = a * 10 + (uint64_t)(v[d] - '0');
			}
			/* Capped, not refused: §3.2's grammar allows 1*10DIGIT
			 * and "Parsers MUST accept ... policy files that are
			 * syntactically valid"; "maximum value of 31557600" is
			 * then the longest a sender keeps it. Refusing would
			 * drop the domain's protection over a number. */
			pol->max_age = a > MTA_STS_MAX_AGE_MAX ? MTA_STS_MAX_AGE_MAX : (uint32_t)a;
		} else if (kl == 2 && memcmp(k, "mx", 2) == 0) {
			if (pol->nmx == MTA_STS_MX_MAX) {
				*why = "too many mx lines";
				return -1;
			}
			if (mx_pattern(v, vl, pol->mx[pol->nmx]) < 0) {
				*why = "bad mx pattern";
				return -1;
			}
			pol->nmx++;
		}
		/* Other keys: extensions, ignored (§3.2). */
	}
	if (!have_version || !have_mode || !have_age) {
		*why = !have_version ? "no version" : !have_mode ? "no mode" : "no max_age";
		return -1;
	}
	if (pol->nmx == 0 && pol->mode != MTA_STS_NONE) {
		*why = "no mx";
		return -1;
	}
	return 0;
}

/* Equal ignoring case, a's length given. */
static int eq_ci(const char *a, size_t al, const char *b)
{
	size_t bl = strlen(b);
	if (al != bl)
		return 0;
	for (size_t k = 0; k < al; k++)
		if (lower(a[k]) != b[k])
			return 0;
	return 1;
}

int mta_sts_mx_match(const struct mta_sts_policy *pol, const char *host)
{
	size_t hl = strlen(host);
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (hl == 0)
		return 0;
	for (size_t i = 0; i < pol->nmx; i++) {
		const char *m = pol->mx[i];
		if (m[0] == '*' && m[1] == '.') {
			/* The wildcard stands for exactly one leftmost label (§4.1). */
			const char *dot = memchr(host, '.', hl);
			if (dot && dot != host && eq_ci(dot + 1, hl - (size_t)(dot + 1 - host), m + 2))
				return 1;
		} else if (eq_ci(host, hl, m)) {
			return 1;
		}
	}
	return 0;
}

const char *mta_sts_mode_name(enum mta_sts_mode m)
{
	return m == MTA_STS_ENFORCE ? "enforce" : m == MTA_STS_TESTING ? "testing" : "none";
}

void mta_sts_own_policy(const char *hostname, enum mta_sts_mode mode, char out[MTA_STS_OWN_MAX],
			char id[MTA_STS_ID_MAX + 1])
{
	snprintf(out, MTA_STS_OWN_MAX, "version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: 86400\r\n",
		 mode == MTA_STS_ENFORCE ? "enforce" : "testing", hostname);
	/* FNV-1a of the text: senders refetch when the id changes (§3.1). */
	uint64_t h = 1469598103934665603ull;
	for (const char *c = out; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	snprintf(id, MTA_STS_ID_MAX + 1, "%016llx", (unsigned long long)h);
}
