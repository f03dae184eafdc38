/*
 * spam_hashes.c — the local malware attachment list (spam_hashes.h): the
 * feed parser and the check of a message's attachments. The record and
 * its status are spam_feed.c's (STORE_SPAM_HASHES, account 0).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_private.h"
#include "store/store.h"

uint64_t spam_hashes_key(const uint8_t sha256[32])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | sha256[i];
	return v;
}

/* The first field of exactly 64 hex digits in line[0..n) into d; 0 or -1. */
static int line_digest(const char *line, size_t n, uint8_t d[32])
{
	size_t i = 0;
	while (i < n) {
		if (!isxdigit((unsigned char)line[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && isxdigit((unsigned char)line[j]))
			j++;
		int alone = j == n || !isalnum((unsigned char)line[j]);
		if (j - i == 64 && alone && (i == 0 || !isalnum((unsigned char)line[i - 1]))) {
			/* the 64 were isxdigit(): either case, and it cannot fail */
			(void)hex_decode(d, line + i, 64, HEX_ANY_CASE);
			return 0;
		}
		while (j < n && isalnum((unsigned char)line[j]))
			j++; /* the rest of a longer word */
		i = j;
	}
	return -1;
}

void spam_hashes_parse(const char *text, size_t len, struct spam_feed *f)
{
	size_t pos = 0;
	memset(f, 0, sizeof *f);
	while (pos < len) {
		const char *eol = memchr(text + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - text) : len;
		struct str line = str_trim(str_make(text + pos, end - pos));
		pos = end + 1;
		if (line.len == 0 || line.p[0] == '#')
			continue;
		uint8_t d[32];
		if (line_digest(line.p, line.len, d) == 0)
			spam_feed_add(f, spam_hashes_key(d));
		else
			f->bad++;
	}
	spam_feed_done(f);
}

int spam_hashes_listed(const char *rec, size_t reclen, const uint8_t sha256[32])
{
	struct spam_feed_rec r;
	if (spam_feed_rec_read(str_make(rec, reclen), &r) < 0)
		return 0;
	return spam_feed_rec_has(&r, spam_hashes_key(sha256));
}

/* spam_feed_kind.match: the first listed attachment, by its name. */
static int match(const struct spam_feed_rec *r, const struct spam_msg *m, char *desc, size_t descsz)
{
	for (uint32_t i = 0; i < m->nattach; i++) {
		const struct spam_attach *a = &m->attach[i];
		if ((a->flags & SPAM_ATTACH_HASHED) && spam_feed_rec_has(r, spam_hashes_key(a->sha256))) {
			snprintf(desc, descsz, "a known malicious file: %.*s",
			         (int)(a->name.len > 60 ? 60 : a->name.len), a->name.p ? a->name.p : "");
			return 1;
		}
	}
	return 0;
}

static int wanted(const struct spam_msg *m)
{
	for (uint32_t i = 0; i < m->nattach; i++)
		if (m->attach[i].flags & SPAM_ATTACH_HASHED)
			return 1;
	return 0;
}

const struct spam_feed_kind spam_hashes_kind = {
	.name = "hashes",
	.label = "malware list",
	.store_kind = STORE_SPAM_HASHES,
	.url_setting = "setting/spam_hashes_url",
	.parse = spam_hashes_parse,
	.rule = "FILE_HASH_LISTED",
	.weight = SPAM_HASHES_WEIGHT,
	.match = match,
	.wanted = wanted,
};
