/*
 * fuzz_spam_hashbl.c — hash lists (spam/spam_dnsbl.h): the administrator's
 * hash list lines and the scan of a message's text for the addresses a
 * list is asked about. The input up to its first NUL is the lines; the
 * rest is the text. Checks: lines that parse name an email or file
 * subject with a hash it allows (a file's is SHA-256), a rule name of
 * upper case letters, digits and '_', and every name asked fits a DNS
 * name; each address found is distinct, lowercase, written in the text
 * (any case; a "+tag" dropped, and at Gmail the dots), with a local
 * part, and a host with a dot and a top-level label of letters; each
 * wallet distinct and written in the text as it is; at most
 * SPAM_DNSBL_SUBJECTS_MAX of each.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_msg.h"
#include "spam/spam_dnsbl.h"

static int in_text(const char *t, size_t n, const char *a)
{
	size_t al = strlen(a);
	for (size_t i = 0; i + al <= n; i++)
		if (!strncasecmp(t + i, a, al))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spam_dnsbl_conf c;
	static struct spam_hashbl_subjects subj;
	static char text[8192];
	char err[160], name[DNS_NAME_MAX];
	static const uint8_t digest[32] = {1, 2, 3};

	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t tl = strlen(text);
	const char *rest = tl < size ? text + tl + 1 : text + tl;
	size_t rl = tl < size ? size - tl - 1 : 0;

	if (spam_hashbl_parse(text, &c, err, sizeof err) == 0) {
		assert(c.n <= SPAM_DNSBL_ZONES_MAX);
		for (size_t i = 0; i < c.n; i++) {
			const struct spam_dnsbl_zone *z = &c.z[i];
			assert(z->subject == SPAM_HASHBL_EMAIL || z->subject == SPAM_HASHBL_FILE ||
			       z->subject == SPAM_HASHBL_WALLET);
			assert(z->subject != SPAM_HASHBL_FILE || z->hash == SPAM_HASH_SHA256);
			for (const char *p = z->name; *p; p++)
				assert(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
			if (spam_hashbl_name(z, "someone@example.org", digest, name, sizeof name) == 0)
				assert(strlen(name) < sizeof name && strchr(name, '.'));
		}
	} else {
		assert(strncmp(err, "line ", 5) == 0);
	}

	struct spam_msg m;
	memset(&m, 0, sizeof m);
	m.text = str_make(rest, rl);
	spam_hashbl_subjects(&m, NULL, 0, &subj);
	assert(subj.nemails <= SPAM_DNSBL_SUBJECTS_MAX && subj.nfiles == 0);
	for (size_t i = 0; i < subj.nemails; i++) {
		const char *a = subj.email[i], *at = strrchr(a, '@');
		assert(strlen(a) < SPAM_EMAIL_MAX && at && at > a);
		const char *dot = strrchr(at, '.');
		assert(dot && dot > at + 1 && strlen(dot + 1) >= 2);
		for (const char *p = a; *p; p++)
			assert(!isupper((unsigned char)*p));
		for (const char *p = dot + 1; *p; p++)
			assert(isalpha((unsigned char)*p));
		/* written in the text, but for a "+tag" the address drops, and
		 * at Gmail its dots (and googlemail.com is gmail.com) */
		char local[SPAM_EMAIL_MAX];
		snprintf(local, sizeof local, "%.*s", (int)(at - a), a);
		if (!strcmp(at, "@gmail.com"))
			assert(!strchr(local, '.') &&
			       (in_text(rest, rl, at) || in_text(rest, rl, "@googlemail.com")));
		else
			assert(in_text(rest, rl, local) && in_text(rest, rl, at));
		assert(!strchr(local + 1, '+')); /* a tag after the first octet */
		for (size_t j = 0; j < i; j++)
			assert(strcmp(subj.email[j], a) != 0);
	}
	assert(subj.nwallets <= SPAM_DNSBL_SUBJECTS_MAX);
	for (size_t i = 0; i < subj.nwallets; i++) {
		const char *w = subj.wallet[i];
		size_t n = strlen(w);
		assert(n >= 26 && n < SPAM_WALLET_MAX && memmem(rest, rl, w, n));
		for (size_t j = 0; j < i; j++)
			assert(strcmp(subj.wallet[j], w) != 0);
	}
	return 0;
}
