/*
 * spam_settings.c — reading the filter's settings from meta
 * (spam_settings.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_settings.h"
#include "store/store.h"

void spam_setting_text(struct store *st, const char *name, char *buf, size_t bufsz, int *found_r)
{
	size_t n = 0;
	int found = st && store_meta_get(st, name, buf, bufsz - 1, &n) == STORE_OK;
	if (!found)
		n = 0;
	buf[n] = '\0';
	if (found_r)
		*found_r = found;
}

static double number(struct store *st, const char *name, double def, double max, const char **bad)
{
	char v[64], *end;
	int found;
	spam_setting_text(st, name, v, sizeof v, &found);
	if (!found)
		return def;
	double d = strtod(v, &end);
	if (end == v || *end || !(d >= 0 && d <= max)) {
		if (!*bad)
			*bad = name;
		return def;
	}
	return d;
}

/* parse: spam_dnsbl_parse or spam_hashbl_parse */
static void zones(struct store *st, const char *name, const char *def,
		  int (*parse)(const char *, struct spam_dnsbl_conf *, char *, size_t),
		  struct spam_dnsbl_conf *out, const char **bad)
{
	char *text = xmalloc(SPAM_SETTING_TEXT_MAX), err[160];
	int found = 0;
	spam_setting_text(st, name, text, SPAM_SETTING_TEXT_MAX, &found);
	if (parse(found ? text : def, out, err, sizeof err) < 0) {
		if (found && !*bad)
			*bad = name;
		parse(def, out, err, sizeof err);
	}
	free(text);
}

int spam_settings_digests(struct store *st, const struct spam_settings *set)
{
	struct spam_feed_status fs;
	for (size_t i = 0; i < set->hashbl.n; i++)
		if (set->hashbl.z[i].subject == SPAM_HASHBL_FILE)
			return 1;
	return spam_feed_status(st, &spam_hashes_kind, &fs) == STORE_OK && fs.entries > 0;
}

void spam_settings_dnsbl(struct store *st, struct spam_dnsbl_conf *out)
{
	const char *bad = NULL;
	zones(st, "setting/spam_dnsbl", SPAM_DNSBL_DEFAULT, spam_dnsbl_parse, out, &bad);
}

void spam_settings_load(struct store *st, struct spam_settings *out, const char **bad_r)
{
	const char *bad = NULL;
	char v[16];
	int found;

	memset(out, 0, sizeof *out);
	spam_setting_text(st, "setting/spam_filter", v, sizeof v, NULL);
	out->enabled = strcmp(v, "off") != 0;
	spam_thresholds_default(&out->th);
	out->th.tag = number(st, "setting/spam_junk", out->th.tag, 1000, &bad);
	out->th.reject = number(st, "setting/spam_reject", out->th.reject_on ? out->th.reject : 0,
				1000, &bad);
	out->th.reject_on = out->th.reject > 0;
	out->th.discard = number(st, "setting/spam_discard", out->th.discard_on ? out->th.discard : 0,
				 1000, &bad);
	out->th.discard_on = out->th.discard > 0;
	zones(st, "setting/spam_dnsbl", SPAM_DNSBL_DEFAULT, spam_dnsbl_parse, &out->dnsbl, &bad);
	zones(st, "setting/spam_uribl", SPAM_URIBL_DEFAULT, spam_dnsbl_parse, &out->uribl, &bad);
	zones(st, "setting/spam_hashbl", "", spam_hashbl_parse, &out->hashbl, &bad);
	spam_setting_text(st, "setting/spam_greylist", v, sizeof v, NULL);
	out->greylist = strcmp(v, "on") == 0;
	out->greylist_delay = (unsigned)number(st, "setting/spam_greylist_delay",
					       SPAM_GREY_DELAY_DEFAULT, 86400, &bad);
	spam_setting_text(st, "setting/spam_greylist_good", out->greylist_good,
			  sizeof out->greylist_good, &found);
	if (!found)
		snprintf(out->greylist_good, sizeof out->greylist_good, "%s", SPAM_GREY_GOOD_DEFAULT);
	spam_setting_text(st, "setting/spam_traps", out->traps, sizeof out->traps, NULL);
	spam_setting_text(st, "setting/spam_reputation", v, sizeof v, NULL);
	out->reputation = strcmp(v, "on") == 0;
	if (bad_r)
		*bad_r = bad;
}

int spam_list_name(int allow, const char *scope, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "spamlist/%s/%s", allow ? "allow" : "block", scope);
	return n > 0 && (size_t)n < outsz && n <= 128 ? 0 : -1;
}
