/*
 * spam_phish.h — the local phishing URL list: feed files as OpenPhish
 * (one URL a line) and PhishTank (CSV with a "url" column) publish them,
 * loaded by the administrator (`tern spam phish load`, the API, the web
 * admin) or fetched from a URL every few hours, and the check of a
 * message's links against it (rule PHISH_URL_LISTED).
 *
 * Design. A URL's key is its host (lowercase, no trailing dot; scheme,
 * userinfo and port dropped), its path without trailing '/', then '?'
 * and the query when there is one; the fragment does not count. A link
 * is listed when its key, its key without the query, or the key of one
 * of its path's parents down to the bare host is: a feed naming
 * "http://evil.example/login/" catches
 * "https://evil.example/login/verify.php?user=x"; an entry with a query
 * names that query only. The list is kept as the sorted 64-bit hashes
 * of the keys (spam_feed.h: the record, its status, the loading and the
 * download of the feed URL are common to the local lists), so a check
 * is a few binary searches in the record in place.
 *
 * Caveats: a link is compared as written (entities decoded); percent
 * escapes and Unicode host names are not normalized, feeds write them
 * as the pages' links do.
 */
#ifndef TERN_SPAM_SPAM_PHISH_H
#define TERN_SPAM_SPAM_PHISH_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"


#define SPAM_PHISH_KEY_MAX 2048 /* a longer URL is cut (same for feed and link) */
#define SPAM_PHISH_WEIGHT 7.0   /* Rspamd's PHISHED_OPENPHISH weighs 7 */

struct spam_feed;

/* The list's kind (spam_feed.h): STORE_SPAM_PHISH, setting/spam_phish_url;
 * spam_feed_check with it adds PHISH_URL_LISTED (SPAM_PHISH_WEIGHT,
 * naming the first listed link's host). */
extern const struct spam_feed_kind spam_phish_kind;

/* The key of url into out (outsz octets, NUL-terminated); its length, 0
 * when url has no host (mailto:, a bare word, a relative link). */
size_t spam_phish_key(struct str url, char *out, size_t outsz);

/*
 * Parses a feed text[0..len): PhishTank's CSV when its first line is a
 * header naming a "url" column (quoted fields, "" inside quotes), else
 * one URL a line (the first word of the line; blank lines and lines
 * starting with '#' skipped). Never fails (allocation failure aborts);
 * free with spam_feed_free. A line that is not a URL with a host counts
 * as bad.
 */
void spam_phish_parse(const char *text, size_t len, struct spam_feed *f);

/* 1 when url is on the list in record rec (a STORE_SPAM_PHISH record). */
int spam_phish_listed(struct str rec, struct str url);

#endif
