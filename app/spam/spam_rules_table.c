/*
 * spam_rules_table.c — the one-line description of every built-in rule,
 * by name, for X-Spam-Result, `tern spam test` and the web admin.
 * Weights are not here: each rule's weight is given where it fires.
 */
#include <string.h>

#include "spam/spam_private.h"

static const struct {
	const char *name, *desc;
} rules[] = {
    {"BAYES_SPAM", "the classifier says spam"},
    {"BAYES_HAM", "the classifier says ham"},
    {"FUZZY_JUNK", "nearly identical to a message this user moved to Junk"},
    {"MISSING_DATE", "no Date field"},
    {"INVALID_DATE", "Date field that does not parse"},
    {"DATE_IN_FUTURE", "Date more than a day ahead"},
    {"MISSING_MID", "no Message-ID field"},
    {"INVALID_MID", "Message-ID not <local@domain>"},
    {"MISSING_FROM", "no From address"},
    {"MISSING_SUBJECT", "no Subject field"},
    {"REPLYTO_DIFF_DOMAIN", "Reply-To in another domain than From"},
    {"FROM_NAME_HAS_ADDR", "From display name shows another address"},
    {"SPOOF_OUR_DOMAIN", "display name shows one of our domains, sent from elsewhere"},
    {"SPOOF_OUR_USER", "display name of one of our users, sent from elsewhere"},
    {"BULK_HEADER", "bulk or marketing mail markers"},
    {"SUBJ_ALL_CAPS", "Subject in capitals"},
    {"SUBJ_EXCESS_PUNCT", "Subject with runs of ! or $"},
    {"BAD_CHARSET", "a charset that is not known"},
    {"BAD_ENCODING", "broken transfer encoding"},
    {"HTML_ONLY", "HTML without a plain text part"},
    {"HIDDEN_TEXT", "HTML hides text from the reader"},
    {"IMAGE_ONLY", "images with next to no text"},
    {"URL_SHORTENER", "link through a URL shortener"},
    {"URL_IP", "link to a bare IP address"},
    {"ATTACH_EXEC", "executable attachment"},
    {"ATTACH_MACRO", "Office document type that carries macros"},
    {"ATTACH_DOUBLE_EXT", "attachment name with a double extension"},
    {"ATTACH_ARCHIVE_EXEC", "archive containing an executable"},
    {"PHISH_LINK_MISMATCH", "link text shows one domain, the link goes to another"},
    {"PHISH_IDN_MIXED", "host name mixing scripts (homograph)"},
    {"PHISH_LOOKALIKE", "host that looks like one of our domains or the sender's"},
    {"PHISH_URL_LISTED", "link on the local phishing list"},
    {"FILE_HASH_LISTED", "attachment on the local malware list"},
    {"FORM_ACTION", "HTML form posting elsewhere"},
};

const char *spam_rule_desc(const char *name)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (strcmp(rules[i].name, name) == 0)
			return rules[i].desc;
	return "";
}
