/*
 * spam_phish.c — the local phishing URL list (spam_phish.h): the key of a
 * URL, the feed parser and the check of a message's links. The record
 * and its status are spam_feed.c's (STORE_SPAM_PHISH, account 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "spam/spam_feed.h"
#include "spam/spam_phish.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define HASH_SEED 0x7068697368ull /* "phish": not the classifier's token hashes */
#define PARENTS_MAX 32            /* path parents tried per link */

/* The key (spam_phish.h) into out; *host_r its host's length, *query_r
 * where '?' starts (the length when none). */
static size_t key_parts(struct str url, char *out, size_t outsz, size_t *host_r, size_t *query_r)
{
	struct str rest;
	size_t n = spam_url_split(url, out, outsz, &rest);
	if (n == 0 || (!memchr(out, '.', n) && out[0] != '[')) {
		out[0] = '\0';
		return 0; /* no host, or a bare word */
	}
	*host_r = n;
	for (size_t i = 0; i < rest.len; i++)
		if ((unsigned char)rest.p[i] <= ' ' || rest.p[i] == 0x7f) {
			rest.len = i; /* a control octet or a space ends a URL */
			break;
		}
	size_t plen = 0, q = rest.len;
	while (plen < rest.len && rest.p[plen] != '?' && rest.p[plen] != '#')
		plen++;
	if (plen < rest.len && rest.p[plen] == '?') {
		q = plen + 1;
		while (q < rest.len && rest.p[q] != '#')
			q++;
	}
	/* the path without trailing '/' */
	size_t pend = plen;
	while (pend > 0 && rest.p[pend - 1] == '/')
		pend--;
	for (size_t i = 0; i < pend && n + 1 < outsz; i++)
		out[n++] = rest.p[i];
	*query_r = n;
	if (plen < rest.len && rest.p[plen] == '?' && q > plen + 1) /* a query that is not empty */
		for (size_t i = plen; i < q && n + 1 < outsz; i++)
			out[n++] = rest.p[i];
	out[n] = '\0';
	return n;
}

size_t spam_phish_key(struct str url, char *out, size_t outsz)
{
	size_t host, query;
	return key_parts(url, out, outsz, &host, &query);
}

static uint64_t key_hash(const char *key, size_t n)
{
	return spam_hash(key, n, HASH_SEED);
}

/* ---- the feed ---- */

static void add(struct spam_feed *f, struct str url)
{
	char key[SPAM_PHISH_KEY_MAX];
	size_t n = spam_phish_key(url, key, sizeof key);
	if (n == 0)
		f->bad++;
	else
		spam_feed_add(f, key_hash(key, n));
}

/* CSV field i of line (quotes removed, "" inside quotes as one) into out. */
static struct str csv_field(struct str line, int want, char *out, size_t outsz)
{
	size_t i = 0, n = 0;
	for (int field = 0; i <= line.len; field++) {
		n = 0;
		int quoted = i < line.len && line.p[i] == '"';
		if (quoted)
			i++;
		for (; i < line.len; i++) {
			char c = line.p[i];
			if (quoted && c == '"') {
				if (i + 1 < line.len && line.p[i + 1] == '"') {
					i++;
				} else {
					quoted = 0;
					continue;
				}
			} else if (!quoted && c == ',') {
				break;
			}
			if (n + 1 < outsz)
				out[n++] = c;
		}
		if (field == want)
			return str_make(out, n);
		i++; /* past the comma */
	}
	return STR_NULL;
}

/* The index of a "url" column when line is a CSV header naming one, else -1. */
static int csv_url_column(struct str line)
{
	char field[64];
	if (!memchr(line.p, ',', line.len))
		return -1;
	for (int i = 0; i < 64; i++) {
		struct str v = str_trim(csv_field(line, i, field, sizeof field));
		if (v.p == NULL)
			return -1;
		if (v.len == 3 && strncasecmp(v.p, "url", 3) == 0)
			return i;
	}
	return -1;
}

void spam_phish_parse(const char *text, size_t len, struct spam_feed *f)
{
	size_t pos = 0;
	int col = -1, first = 1;
	char field[SPAM_PHISH_KEY_MAX];

	memset(f, 0, sizeof *f);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* a byte order mark */
	while (pos < len) {
		const char *eol = memchr(text + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - text) : len;
		size_t stop = end > pos && text[end - 1] == '\r' ? end - 1 : end;
		struct str line = str_trim(str_make(text + pos, stop - pos));
		pos = end + 1;
		if (line.len == 0 || line.p[0] == '#')
			continue;
		if (first) {
			first = 0;
			col = csv_url_column(line);
			if (col >= 0)
				continue;
		}
		struct str url;
		if (col >= 0) {
			url = csv_field(line, col, field, sizeof field);
		} else {
			size_t k = 0;
			while (k < line.len && line.p[k] != ' ' && line.p[k] != '\t')
				k++;
			url = str_make(line.p, k);
		}
		add(f, url);
	}
	spam_feed_done(f);
}

static int listed_in(const struct spam_feed_rec *r, struct str url)
{
	char key[SPAM_PHISH_KEY_MAX];
	size_t host, query;
	size_t n = key_parts(url, key, sizeof key, &host, &query);
	if (n == 0)
		return 0;
	if (spam_feed_rec_has(r, key_hash(key, n)))
		return 1;
	/* without the query, then each parent of the path down to the host */
	size_t end = query;
	if (end < n && spam_feed_rec_has(r, key_hash(key, end)))
		return 1;
	for (int tries = 0; end > host && tries < PARENTS_MAX; tries++) {
		end--;
		while (end > host && key[end] != '/')
			end--;
		while (end > host && key[end - 1] == '/')
			end--;
		if (spam_feed_rec_has(r, key_hash(key, end)))
			return 1;
	}
	return 0;
}

int spam_phish_listed(struct str rec, struct str url)
{
	struct spam_feed_rec r;
	return spam_feed_rec_read(rec, &r) == 0 && r.n && listed_in(&r, url);
}

/* spam_feed_kind.match: the first listed link, by its host. */
static int match(const struct spam_feed_rec *r, const struct spam_msg *m, char *desc, size_t descsz)
{
	for (uint32_t i = 0; i < m->nurls; i++) {
		const struct spam_url *u = &m->urls[i];
		if (listed_in(r, u->url)) {
			snprintf(desc, descsz, "link on the phishing list: %.*s", (int)u->host.len,
				 u->host.p ? u->host.p : "");
			return 1;
		}
	}
	return 0;
}

static int wanted(const struct spam_msg *m)
{
	return m->nurls > 0;
}

const struct spam_feed_kind spam_phish_kind = {
	.name = "phish",
	.label = "phishing list",
	.store_kind = STORE_SPAM_PHISH,
	.url_setting = "setting/spam_phish_url",
	.parse = spam_phish_parse,
	.rule = "PHISH_URL_LISTED",
	.weight = SPAM_PHISH_WEIGHT,
	.match = match,
	.wanted = wanted,
};
