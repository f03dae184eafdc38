/*
 * spam_settings.h — the filter's settings as the administrator stored
 * them (meta, SCHEMA.md; the REST API writes them, app/http/api_spam.c),
 * read per connection and per message so a change applies to the next.
 *
 *   setting/spam_filter          "off" turns scoring off (default on)
 *   setting/spam_junk            score from which mail goes to Junk (spam.h's tag)
 *   setting/spam_reject          score refused with 550 at the end of DATA ("0": off)
 *   setting/spam_discard         score accepted and dropped (absent or "0": off)
 * (the defaults are spam_thresholds_default()'s, from the measurements)
 *   setting/spam_dnsbl           IP blocklist zones (spam_dnsbl.h; absent: the defaults)
 *   setting/spam_uribl           domain blocklist zones (absent: the defaults)
 *   setting/spam_hashbl          hash list zones (absent: none; their lists want a key)
 *   setting/spam_greylist        "on" turns greylisting on (default off)
 *   setting/spam_greylist_delay  seconds a new triplet waits (default 300)
 *   setting/spam_greylist_good   sending domains exempt when SPF passes
 *                                (absent: SPAM_GREY_GOOD_DEFAULT)
 *   setting/spam_traps           addresses whose mail is spam by definition
 *   spamlist/allow/SCOPE, spamlist/block/SCOPE   the lists (spam_lists.h)
 *
 * Caveats: a stored value that does not parse (written by hand) is
 * logged by the caller and the default used; the API refuses such values.
 */
#ifndef TERN_SPAM_SPAM_SETTINGS_H
#define TERN_SPAM_SPAM_SETTINGS_H

#include <stddef.h>

#include "spam/spam_dnsbl.h"
#include "spam/spam_lists.h"
#include "spam/spam.h"

struct store;

#define SPAM_GREY_DELAY_DEFAULT 300
#define SPAM_GREY_GOOD_DEFAULT                                                              \
	"gmail.com googlemail.com outlook.com hotmail.com live.com yahoo.com icloud.com "   \
	"me.com aol.com gmx.net gmx.de web.de proton.me protonmail.com fastmail.com "        \
	"amazonses.com github.com"
#define SPAM_SETTING_TEXT_MAX 16384

struct spam_settings {
	int enabled;
	struct spam_thresholds th;
	struct spam_dnsbl_conf dnsbl, uribl, hashbl;
	int greylist;
	unsigned greylist_delay;
	/* as long as the API lets a list be (SPAM_LIST_MAX): a shorter
	 * buffer could not read the setting at all */
	char greylist_good[SPAM_LIST_MAX + 1];
	char traps[SPAM_LIST_MAX + 1];
	int reputation; /* spam_rep.h's rules and bookkeeping (off by default) */
};

/* The settings (defaults where absent or unreadable). *bad_r names the
 * first stored setting that did not parse (static), or NULL. */
void spam_settings_load(struct store *st, struct spam_settings *out, const char **bad_r);
/* 1 when something needs the attachments' digests (SPAM_VIEW_DIGESTS):
 * a hash list with a file zone in set, or a malware list in st. */
int spam_settings_digests(struct store *st, const struct spam_settings *set);
/* Only the IP blocklist zones (the connect stage). */
void spam_settings_dnsbl(struct store *st, struct spam_dnsbl_conf *out);

/* A setting's text, NUL-ended, "" when absent (*found_r 0). */
void spam_setting_text(struct store *st, const char *name, char *buf, size_t bufsz, int *found_r);

/* A list's meta name: "spamlist/allow/" or "spamlist/block/" and the scope. -1 when too long. */
int spam_list_name(int allow, const char *scope, char *out, size_t outsz);

#endif
