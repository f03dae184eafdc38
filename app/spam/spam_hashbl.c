/*
 * spam_hashbl.c — what a hash list (spam_dnsbl.h) is asked about: the
 * addresses and wallets a message's text names and its attachments'
 * digests, and the name each is looked up under (hashed and encoded as
 * the lists expect). The lookups themselves are spam_dnsbl.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bearssl.h>

#include "auth/totp.h"
#include "core/hex.h"
#include "spam/spam_dnsbl.h"

int spam_hashbl_name(const struct spam_dnsbl_zone *z, const char *text, const uint8_t sha256[32],
		     char *out, size_t outsz)
{
	uint8_t d[32];
	size_t dn = 0;
	char enc[65];

	if (z->subject == SPAM_HASHBL_FILE) {
		memcpy(d, sha256, 32);
		dn = 32;
	} else {
		char v[SPAM_EMAIL_MAX];
		size_t n = strlen(text);
		if (n == 0 || n >= sizeof v)
			return -1;
		/* an address in any case is one address; a wallet's case is its value */
		for (size_t i = 0; i < n; i++)
			v[i] = z->subject == SPAM_HASHBL_EMAIL ? (char)tolower((unsigned char)text[i])
			                                         : text[i];
		if (z->hash == SPAM_HASH_MD5) {
			br_md5_context c;
			br_md5_init(&c);
			br_md5_update(&c, v, n);
			br_md5_out(&c, d);
			dn = br_md5_SIZE;
		} else if (z->hash == SPAM_HASH_SHA256) {
			br_sha256_context c;
			br_sha256_init(&c);
			br_sha256_update(&c, v, n);
			br_sha256_out(&c, d);
			dn = br_sha256_SIZE;
		} else {
			br_sha1_context c;
			br_sha1_init(&c);
			br_sha1_update(&c, v, n);
			br_sha1_out(&c, d);
			dn = br_sha1_SIZE;
		}
	}
	if (z->hash == SPAM_HASH_SHA256) {
		if (totp_b32_encode(d, dn, enc, sizeof enc) < 0)
			return -1;
		for (char *p = enc; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	} else {
		hex_encode(enc, d, dn);
	}
	int n = snprintf(out, outsz, "%s.%s", enc, z->zone);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* ---- Addresses ---- */

/* Local parts every notice names: asking about them costs a query and
 * risks a listing nobody meant. */
static int role_address(const char *a)
{
	static const char *const roles[] = {"postmaster@", "abuse@", "hostmaster@", "webmaster@",
					    "mailer-daemon@"};
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (!strncmp(a, roles[i], strlen(roles[i])))
			return 1;
	return 0;
}

/* Gmail ignores dots in a local part and serves googlemail.com as
 * gmail.com, so "j.doe@googlemail.com" and "jdoe@gmail.com" are one
 * mailbox, asked about as the second: the form the lists hold (Spamhaus
 * asks it so), and the one a spammer's dotted variants would hide. */
static void gmail_canonical(char *low)
{
	char *at = strrchr(low, '@');
	if (strcmp(at + 1, "gmail.com") && strcmp(at + 1, "googlemail.com"))
		return;
	char *w = low;
	for (const char *r = low; r < at; r++)
		if (*r != '.')
			*w++ = *r;
	if (w == low) /* a local part of dots only: not an address to ask about */
		return;
	memcpy(w, "@gmail.com", sizeof "@gmail.com");
}

static void email_add(struct spam_hashbl_subjects *o, const char *a, size_t n,
		      const char *const *ours, size_t nours)
{
	if (o->nemails == SPAM_DNSBL_SUBJECTS_MAX || n == 0 || n >= SPAM_EMAIL_MAX)
		return;
	char low[SPAM_EMAIL_MAX];
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)a[i]);
	low[n] = '\0';
	char *at = strrchr(low, '@');
	if (!at || at == low || !at[1] || role_address(low))
		return;
	/* A sub-address ("box+tag@") is the box's: lists hold the box, and a
	 * tag the list never saw would hide a listed one. */
	char *plus = memchr(low + 1, '+', (size_t)(at - low - 1));
	if (plus) {
		memmove(plus, at, strlen(at) + 1);
		at = plus;
	}
	for (size_t i = 0; i < nours; i++)
		if (!strcasecmp(at + 1, ours[i]))
			return;
	gmail_canonical(low);
	n = strlen(low);
	for (size_t i = 0; i < o->nemails; i++)
		if (!strcmp(o->email[i], low))
			return;
	memcpy(o->email[o->nemails++], low, n + 1);
}

static int atext(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~.-", c));
}

/* The addresses written in text: local@host.tld, the local part of
 * atext, the host of letters, digits, '-' and '.' with a dot and a
 * top-level label of letters. */
static void emails_in(struct str text, struct spam_hashbl_subjects *o, const char *const *ours,
		      size_t nours)
{
	const char *p = text.p, *end = text.p + text.len;
	while (o->nemails < SPAM_DNSBL_SUBJECTS_MAX && p < end &&
	       (p = memchr(p, '@', (size_t)(end - p))) != NULL) {
		const char *l = p, *h = p + 1;
		while (l > text.p && p - l < 64 && atext((unsigned char)l[-1]))
			l--;
		while (l < p && *l == '.')
			l++;
		while (h < end && (isalnum((unsigned char)*h) || *h == '-' || *h == '.'))
			h++;
		while (h > p + 1 && h[-1] == '.') /* a sentence's full stop */
			h--;
		const char *dot = h;
		while (dot > p + 1 && dot[-1] != '.')
			dot--;
		size_t tld = (size_t)(h - dot);
		for (const char *t = dot; t < h && tld; t++)
			if (!isalpha((unsigned char)*t))
				tld = 0;
		/* the top-level label, after a dot that is not the host's first octet */
		if (l < p && dot > p + 2 && tld >= 2 && h - p - 1 < 254 && isalnum((unsigned char)p[1]))
			email_add(o, l, (size_t)(h - l), ours, nours);
		p = h; /* past the '@' at least */
	}
}

/* ---- Cryptocurrency wallets written in the text ---- */

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return 0;
	return 1;
}

#define BASE58 "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#define BECH32 "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

/* 1 when w[0..n) is shaped as a wallet address of a currency spam asks
 * to be paid in: Bitcoin (base58 from 1 or 3; bech32 "bc1"), Litecoin
 * (base58 from L or M), Ethereum ("0x" and 40 hex digits), Monero (95
 * base58 from 4 or 8), Bitcoin Cash ("bitcoincash:" and q or p). No
 * checksum is verified: a list only answers for real ones, and a
 * look-alike word costs one query. */
static int wallet_shape(const char *w, size_t n)
{
	if ((w[0] == '1' || w[0] == '3') && n >= 26 && n <= 35 && all_of(w, n, BASE58))
		return 1;
	if ((w[0] == 'L' || w[0] == 'M') && n >= 26 && n <= 34 && all_of(w, n, BASE58))
		return 1;
	if ((w[0] == '4' || w[0] == '8') && n == 95 && all_of(w, n, BASE58))
		return 1;
	if (n >= 26 && n <= 74 && !strncmp(w, "bc1", 3) && all_of(w + 3, n - 3, BECH32))
		return 1;
	if (n == 42 && w[0] == '0' && w[1] == 'x' && all_of(w + 2, 40, "0123456789abcdefABCDEF"))
		return 1;
	if (n == 54 && !strncmp(w, "bitcoincash:", 12) && (w[12] == 'q' || w[12] == 'p') &&
	    all_of(w + 13, 41, BECH32))
		return 1;
	return 0;
}

/* Words of letters and digits ("bitcoincash:" joined to what follows). */
static void wallets_in(struct str text, struct spam_hashbl_subjects *o)
{
	const char *p = text.p, *end = text.p + text.len;
	while (p < end && o->nwallets < SPAM_DNSBL_SUBJECTS_MAX) {
		if (!isalnum((unsigned char)*p)) {
			p++;
			continue;
		}
		const char *w = p;
		while (p < end && isalnum((unsigned char)*p))
			p++;
		if (p - w == 11 && p < end && *p == ':' && !strncmp(w, "bitcoincash", 11))
			for (p++; p < end && isalnum((unsigned char)*p); p++)
				;
		size_t n = (size_t)(p - w);
		if (n >= SPAM_WALLET_MAX || !wallet_shape(w, n))
			continue;
		int seen = 0;
		for (size_t i = 0; i < o->nwallets && !seen; i++)
			seen = strlen(o->wallet[i]) == n && !memcmp(o->wallet[i], w, n);
		if (!seen) {
			memcpy(o->wallet[o->nwallets], w, n);
			o->wallet[o->nwallets++][n] = '\0';
		}
	}
}

/* ---- All of a message's ---- */

void spam_hashbl_subjects(const struct spam_msg *m, const char *const *ours, size_t nours,
			  struct spam_hashbl_subjects *out)
{
	memset(out, 0, sizeof *out);
	if (m->from_addr.len)
		email_add(out, m->from_addr.p, m->from_addr.len, ours, nours);
	if (m->reply_to_addr.len)
		email_add(out, m->reply_to_addr.p, m->reply_to_addr.len, ours, nours);
	emails_in(m->text, out, ours, nours);
	wallets_in(m->text, out);
	for (uint32_t i = 0; i < m->nattach && out->nfiles < SPAM_DNSBL_SUBJECTS_MAX; i++) {
		const struct spam_attach *a = &m->attach[i];
		int seen = !(a->flags & SPAM_ATTACH_HASHED);
		for (size_t k = 0; k < out->nfiles && !seen; k++)
			seen = memcmp(out->file[k], a->sha256, 32) == 0;
		if (!seen)
			memcpy(out->file[out->nfiles++], a->sha256, 32);
	}
}
