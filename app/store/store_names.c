/*
 * store_names.c — validation and canonical form of domains and addresses.
 *
 * Names are stored in one canonical form so that lookups are exact byte
 * matches: ASCII letters lowercased, everything else kept as is. Non-ASCII
 * must be well-formed UTF-8 (internationalised domains and local parts,
 * RFC 6531/6532, stored as UTF-8 rather than punycode) in Unicode
 * Normalization Form C: "café" typed as e + U+0301 (a macOS keyboard, a
 * client that sends NFD) is the account created as U+00E9 (RFC 6530 §10.1
 * and RFC 6532 §3.1 ask for NFC; a U-label is NFC by IDNA2008). We do not
 * apply Unicode case folding — "CAFÉ" and "café" are two names, as in
 * most MTAs; only ASCII letters are lowercased.
 *
 * Domains: labels of 1..63 octets, total <= 253, ASCII labels are
 * letters/digits/hyphens not starting or ending with a hyphen, and a label
 * may also hold non-ASCII characters as valid UTF-8 (its ASCII bytes still
 * follow the LDH rule). Local parts:
 * 1..64 octets, no space, control or the RFC 5322 specials that would need
 * quoting; no leading, trailing or doubled dot.
 */
#include <string.h>

#include "core/unorm.h"
#include "core/utf8.h"
#include "store/store_private.h"

static int ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int label_ok(const unsigned char *p, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n;) {
		if (p[i] >= 0x80) {
			size_t l = utf8_seq(p + i, n - i);
			if (l == 0)
				return 0;
			i += l;
			continue;
		}
		if (!ascii_alnum(p[i]) && p[i] != '-')
			return 0;
		i++;
	}
	if (p[0] == '-' || p[n - 1] == '-')
		return 0;
	return 1;
}

static int domain_ok(const unsigned char *p, size_t n)
{
	if (n == 0 || n > STORE_DOMAIN_MAX)
		return 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (!label_ok(p + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

static void lower_into(const char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
}

/*
 * The NFC of in (a NUL-terminated name, valid UTF-8 as checked) into
 * nfc (nfcsz octets): in itself when it is NFC already (all ASCII, the
 * usual case), else nfc; NULL when the normalised form does not fit.
 */
static const char *nfc_of(const char *in, char *nfc, size_t nfcsz)
{
	if (unorm_is_nfc(in, strlen(in)))
		return in;
	return unorm_nfc_str(in, nfc, nfcsz) == 0 ? nfc : NULL;
}

int name_domain(const char *in, char *out, size_t outsz)
{
	char nfc[STORE_DOMAIN_MAX + 2];
	size_t n = strlen(in);

	if (n > STORE_DOMAIN_MAX || (in = nfc_of(in, nfc, sizeof nfc)) == NULL)
		return -1;
	n = strlen(in);
	if (n >= outsz || !domain_ok((const unsigned char *)in, n))
		return -1;
	lower_into(in, n, out);
	return 0;
}

int store_domain_canonical(const char *domain, char *out, size_t outsz)
{
	return name_domain(domain, out, outsz);
}

int name_local_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n == 0 || n > STORE_LOCAL_MAX)
		return -1;
	if (p[0] == '.' || p[n - 1] == '.')
		return -1;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			size_t l = utf8_seq(p + i, n - i);
			if (l == 0)
				return -1;
			i += l;
			continue;
		}
		if (c <= ' ' || c == 0x7f || strchr("\"(),:;<>@[\\]", c) != NULL)
			return -1;
		if (c == '.' && p[i + 1] == '.')
			return -1;
		i++;
	}
	return 0;
}

int name_address(const char *in, int allow_catchall, char *out, size_t outsz, size_t *at_r)
{
	char nfc[STORE_ADDR_MAX + 2];
	size_t n = strlen(in);

	if (n > STORE_ADDR_MAX || (in = nfc_of(in, nfc, sizeof nfc)) == NULL)
		return -1;
	const char *at = strrchr(in, '@');
	n = strlen(in);
	if (at == NULL || n >= outsz || n > STORE_ADDR_MAX)
		return -1;
	size_t local = (size_t)(at - in);
	if (local == 0) {
		if (!allow_catchall)
			return -1;
	} else if (name_local_ok(in, local) != 0) {
		return -1;
	}
	if (!domain_ok((const unsigned char *)at + 1, n - local - 1))
		return -1;
	lower_into(in, n, out);
	*at_r = local;
	return 0;
}
