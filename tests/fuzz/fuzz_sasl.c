/*
 * fuzz_sasl.c — the server side of SASL PLAIN and LOGIN (sasl_login_*)
 * driven as SMTP AUTH drives it, and strict base64 both ways. The first
 * octet picks the mechanism name's spelling and whether the first line is
 * the command's initial response; the rest, cut at LF, is what the client
 * sends. Each step is checked against a model built from
 * base64_decode() and sasl_plain_split(): the outcome (bad base64,
 * malformed, another authzid, the password challenge, done), and on done
 * the user and password exactly. The exchange ends on anything but the
 * challenge, and sasl_login_end() leaves nothing behind. Base64: what
 * decodes re-encodes to the same text (canonical only), every line
 * encodes and decodes back, and a buffer one octet short is refused.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sasl.h"
#include "core/base64.h"

static const char *const mechs[] = { "PLAIN", "plain", "LOGIN", "Login", "CRAM-MD5", "" };

static void check_base64(struct str line)
{
	size_t cap = line.len / 4 * 3 + 3, n, m;
	char *dec = malloc(cap), *enc = malloc(line.len / 3 * 4 + 8), *back = malloc(line.len + 1);

	if (base64_decode(line, 0, dec, cap, &n) == 0) {
		assert(n <= line.len / 4 * 3);
		assert(base64_encode(dec, n, 0, enc, line.len + 1) == 0);
		assert(strlen(enc) == line.len && memcmp(enc, line.p, line.len) == 0);
		if (n > 0)
			assert(base64_decode(line, 0, dec, n - 1, &m) < 0);
		assert(base64_decode(line, 0, dec, n, &m) == 0 && m == n);
	}
	size_t elen = (line.len + 2) / 3 * 4;
	assert(base64_encode(line.p, line.len, 0, enc, elen) < 0);
	assert(base64_encode(line.p, line.len, 0, enc, elen + 1) == 0 && strlen(enc) == elen);
	assert(base64_decode(str_make(enc, elen), 0, back, line.len, &n) == 0);
	assert(n == line.len && memcmp(back, line.p, n) == 0);
	free(dec);
	free(enc);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_login x;
	char buf[SASL_RESPONSE_MAX], dec[SASL_RESPONSE_MAX], user[SASL_USER_MAX + 1] = "";
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	int initial, steps = 0, login_user = 0;

	if (size < 1)
		return 0;
	initial = data[0] >> 7;
	memset(&x, 0, sizeof(x)); /* as a session struct starts (sasl.h) */
	const char *mech = mechs[(data[0] & 0x7f) % (sizeof(mechs) / sizeof(mechs[0]))];
	int started = sasl_login_start(&x, str_c(mech)) == 0;
	assert(started == (strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0));
	assert(started || x.mech == SASL_MECH_NONE);
	enum sasl_mech m0 = x.mech;

	while (started && p <= end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		struct str line = str_make(p, lf ? (size_t)(lf - p) : (size_t)(end - p)), u, pw, a, c, d;
		int first = steps++ == 0 && initial;
		size_t n = 0;

		check_base64(line);
		/* The model. */
		enum sasl_step want;
		int dec_ok = (first && str_eq(line, STR_LIT("="))) ||
		             base64_decode(line, 0, dec, sizeof(dec), &n) == 0;
		if (first && str_eq(line, STR_LIT("=")))
			n = 0;
		if (!dec_ok)
			want = SASL_STEP_BAD_BASE64;
		else if (m0 == SASL_MECH_PLAIN)
			want = sasl_plain_split(str_make(dec, n), &a, &c, &d) < 0 ? SASL_STEP_MALFORMED
			       : (a.len && !str_eq_ci(a, c))              ? SASL_STEP_AUTHZID
										: SASL_STEP_DONE;
		else if (!login_user)
			want = n > SASL_USER_MAX || memchr(dec, '\0', n) ? SASL_STEP_MALFORMED
									: SASL_STEP_PASSWORD;
		else
			want = SASL_STEP_DONE;

		enum sasl_step got = sasl_login_step(&x, line, first, buf, &u, &pw);
		assert(got == want);
		switch (got) {
		case SASL_STEP_DONE:
			if (m0 == SASL_MECH_PLAIN) {
				assert(str_eq(u, c) && str_eq(pw, d));
			} else {
				assert(u.len == strlen(user) && memcmp(u.p, user, u.len) == 0);
				assert(str_eq(pw, str_make(dec, n)));
			}
			break;
		case SASL_STEP_PASSWORD:
			assert(m0 == SASL_MECH_LOGIN && x.user_given);
			memcpy(user, dec, n);
			user[n] = '\0';
			login_user = 1;
			break;
		case SASL_STEP_AUTHZID:
			assert(str_eq(u, c));
			/* fall through */
		default:
			assert(pw.len == 0);
		}
		if (got != SASL_STEP_PASSWORD)
			break;
		if (!lf)
			break;
		p = lf + 1;
	}
	sasl_login_end(&x);
	assert(x.mech == SASL_MECH_NONE && x.user_given == 0);
	for (size_t i = 0; i < sizeof(x.user); i++)
		assert(x.user[i] == 0);
	return 0;
}
