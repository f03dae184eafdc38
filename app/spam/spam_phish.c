/*
 * spam_phish.c — the local phishing URL list (spam_phish.h): the key of a
 * URL, the feed parser, the stored record and the check of a message's
 * links.
 *
 * The record (STORE_SPAM_PHISH, account 0): "TSP1", then little-endian
 * u32 n, i64 loaded_at, u16 source length, the source's octets, then n
 * u64 key hashes in ascending order. A record that is not this reads as
 * no list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "spam/spam_phish.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define HASH_SEED 0x7068697368ull /* "phish": not the classifier's token hashes */
#define REC_HDR 18                /* magic, n, loaded_at, source length */
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

static void add(struct spam_phish_feed *f, size_t *cap, struct str url)
{
	char key[SPAM_PHISH_KEY_MAX];
	size_t n = spam_phish_key(url, key, sizeof key);
	if (n == 0) {
		f->bad++;
		return;
	}
	if (f->n >= SPAM_PHISH_MAX) {
		f->dropped++;
		return;
	}
	if (f->n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		f->h = xrealloc(f->h, *cap * sizeof *f->h);
	}
	f->h[f->n++] = key_hash(key, n);
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

void spam_phish_parse(const char *text, size_t len, struct spam_phish_feed *f)
{
	size_t cap = 0, pos = 0;
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
		add(f, &cap, url);
	}
	spam_sort_hashes(f->h, f->n);
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++)
		if (k == 0 || f->h[k - 1] != f->h[i])
			f->h[k++] = f->h[i];
	f->n = k;
}

void spam_phish_feed_free(struct spam_phish_feed *f)
{
	free(f->h);
	memset(f, 0, sizeof *f);
}

/* ---- the record ---- */

struct rec {
	uint32_t n;
	int64_t loaded_at;
	struct str source;
	const unsigned char *ent;
};

static int rec_read(struct str r, struct rec *out)
{
	const unsigned char *p = (const unsigned char *)r.p;
	if (r.p == NULL || r.len < REC_HDR || memcmp(p, "TSP1", 4) != 0)
		return -1;
	out->n = spam_le32(p + 4);
	out->loaded_at = (int64_t)spam_le64(p + 8);
	size_t slen = (size_t)p[16] | (size_t)p[17] << 8;
	if (r.len - REC_HDR < slen || (r.len - REC_HDR - slen) / 8 != out->n ||
	    (r.len - REC_HDR - slen) % 8)
		return -1;
	out->source = str_make(r.p + REC_HDR, slen);
	out->ent = p + REC_HDR + slen;
	return 0;
}

static int rec_has(const struct rec *r, uint64_t h)
{
	return spam_rec_find(r->ent, r->n, 8, h) != NULL;
}

int spam_phish_listed(struct str rec, struct str url)
{
	struct rec r;
	char key[SPAM_PHISH_KEY_MAX];
	size_t host, query;

	if (rec_read(rec, &r) < 0 || r.n == 0)
		return 0;
	size_t n = key_parts(url, key, sizeof key, &host, &query);
	if (n == 0)
		return 0;
	if (rec_has(&r, key_hash(key, n)))
		return 1;
	/* without the query, then each parent of the path down to the host */
	size_t end = query;
	if (end < n && rec_has(&r, key_hash(key, end)))
		return 1;
	for (int tries = 0; end > host && tries < PARENTS_MAX; tries++) {
		end--;
		while (end > host && key[end] != '/')
			end--;
		while (end > host && key[end - 1] == '/')
			end--;
		if (rec_has(&r, key_hash(key, end)))
			return 1;
	}
	return 0;
}

int spam_phish_encode(const struct spam_phish_feed *f, const char *source, int64_t now,
		      struct buf *out)
{
	unsigned char h[REC_HDR];
	size_t slen = strlen(source);
	if (slen > SPAM_PHISH_SOURCE_MAX - 1)
		slen = SPAM_PHISH_SOURCE_MAX - 1;
	memcpy(h, "TSP1", 4);
	spam_put32(h + 4, (uint32_t)f->n);
	spam_put64(h + 8, (uint64_t)now);
	h[16] = (unsigned char)slen;
	h[17] = (unsigned char)(slen >> 8);
	if (buf_append(out, h, sizeof h) < 0 || buf_append(out, source, slen) < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		unsigned char e[8];
		spam_put64(e, f->h[i]);
		if (buf_append(out, e, 8) < 0)
			return -1;
	}
	return 0;
}

struct put_ctx {
	const struct spam_phish_feed *f;
	const char *source;
	int64_t now;
};

static int put_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	struct put_ctx *c = arg;
	(void)old;
	(void)oldlen;
	if (c->f->n == 0)
		return 0; /* an empty buffer: the list is removed */
	return spam_phish_encode(c->f, c->source, c->now, out);
}

int spam_phish_store(struct store *st, const struct spam_phish_feed *f, const char *source)
{
	struct put_ctx c = {f, source ? source : "", (int64_t)time(NULL)};
	int rc = store_spam_update(st, 0, STORE_SPAM_PHISH, put_fn, &c);
	return rc < 0 ? rc : rc > 0 ? STORE_ETEMP : STORE_OK;
}

static void status_cb(void *arg, const struct str *recs)
{
	struct spam_phish_status *s = arg;
	struct rec r;
	if (rec_read(recs[0], &r) < 0)
		return;
	s->entries = r.n;
	s->loaded_at = r.loaded_at;
	size_t k = r.source.len < sizeof s->source ? r.source.len : sizeof s->source - 1;
	memcpy(s->source, r.source.p, k);
	s->source[k] = '\0';
}

int spam_phish_status(struct store *st, struct spam_phish_status *s)
{
	uint32_t zero = 0;
	memset(s, 0, sizeof *s);
	return store_spam_get(st, &zero, 1, STORE_SPAM_PHISH, status_cb, s);
}

struct check_ctx {
	const struct spam_msg *m;
	struct spam_result *res;
};

static void check_cb(void *arg, const struct str *recs)
{
	struct check_ctx *c = arg;
	if (recs[0].p == NULL)
		return;
	for (uint32_t i = 0; i < c->m->nurls; i++) {
		const struct spam_url *u = &c->m->urls[i];
		if (spam_phish_listed(recs[0], u->url)) {
			char desc[SPAM_RULE_DESC_MAX];
			snprintf(desc, sizeof desc, "link on the phishing list: %.*s", (int)u->host.len,
				 u->host.p ? u->host.p : "");
			spam_result_add_desc(c->res, "PHISH_URL_LISTED", SPAM_PHISH_WEIGHT, desc);
			return;
		}
	}
}

int spam_phish_check(struct store *st, const struct spam_msg *m, struct spam_result *res)
{
	uint32_t zero = 0;
	struct check_ctx c = {m, res};
	if (m->nurls == 0)
		return STORE_OK;
	return store_spam_get(st, &zero, 1, STORE_SPAM_PHISH, check_cb, &c);
}
