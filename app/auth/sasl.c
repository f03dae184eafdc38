/*
 * sasl.c — the pieces of SASL every protocol shares: strict base64 for
 * challenge/response lines (RFC 4648 section 4, as RFC 4422 requires) and
 * the PLAIN message split (RFC 4616). POP3, IMAP and SMTP submission all
 * use these; the lenient MIME decoder (mime/mime_decode.h) is for message
 * content, where garbage must be tolerated rather than refused.
 */
#include "auth/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sasl_base64_decode(struct str in, char *out, size_t outsz, size_t *len_r)
{
	size_t o = 0;

	if (in.len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in.len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in.p[i + j];
			if (c == '=' && i + 4 == in.len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after '=' */
				return -1;
			if ((v[j] = b64val(c)) < 0)
				return -1;
		}
		uint32_t n = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t k = 3 - (size_t)pad;
		/* Canonical encodings only: the bits padding hides must be 0. */
		if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff)))
			return -1;
		if (o + k > outsz)
			return -1;
		out[o++] = (char)(n >> 16);
		if (k > 1)
			out[o++] = (char)(n >> 8);
		if (k > 2)
			out[o++] = (char)n;
	}
	*len_r = o;
	return 0;
}

int sasl_base64_encode(const void *p, size_t n, char *out, size_t outsz)
{
	const unsigned char *s = p;
	size_t o = 0;

	if (outsz < (n + 2) / 3 * 4 + 1)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

int sasl_plain_split(struct str msg, struct str *authzid_r, struct str *authcid_r,
		    struct str *passwd_r)
{
	const char *nul1 = memchr(msg.p, '\0', msg.len);
	if (!nul1)
		return -1;
	size_t a = (size_t)(nul1 - msg.p);
	const char *nul2 = memchr(nul1 + 1, '\0', msg.len - a - 1);
	if (!nul2)
		return -1;
	size_t b = (size_t)(nul2 - msg.p);
	if (memchr(nul2 + 1, '\0', msg.len - b - 1) || b == a + 1)
		return -1;
	*authzid_r = str_make(msg.p, a);
	*authcid_r = str_make(nul1 + 1, b - a - 1);
	*passwd_r = str_make(nul2 + 1, msg.len - b - 1);
	return 0;
}

/* ---- The server side of PLAIN and LOGIN ---- */

const char *sasl_mech_log_name(enum sasl_mech m)
{
	switch (m) {
	case SASL_MECH_PLAIN:
		return "plain";
	case SASL_MECH_LOGIN:
		return "login";
	case SASL_MECH_SCRAM_SHA1:
		return "scram-sha-1";
	case SASL_MECH_SCRAM_SHA256:
		return "scram-sha-256";
	default:
		return "none";
	}
}

/* Set once at startup, before any session (TERN_SASL_SCRAM). */
static int scram_offered;

void sasl_scram_offer(int on)
{
	scram_offered = on != 0;
}

int sasl_scram_offered(void)
{
	return scram_offered;
}

const char *sasl_mechs(void)
{
	return scram_offered ? "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN" : "PLAIN LOGIN";
}

void sasl_mechs_each(const char *pre, const char *post, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (const char *m = sasl_mechs(); *m && k < n;) {
		size_t w = strcspn(m, " ");
		int r = snprintf(out + k, n - k, "%s%.*s%s", pre, (int)w, m, post);
		if (r < 0)
			break;
		k += (size_t)r;
		m += w + (m[w] == ' ');
	}
}

int sasl_login_start_scram(struct sasl_login *x, struct str mech)
{
	enum scram_hash h;

	if (!scram_offered || scram_mech_parse(mech, &h) < 0)
		return sasl_login_start(x, mech);
	sasl_login_end(x);
	x->mech = h == SCRAM_SHA256 ? SASL_MECH_SCRAM_SHA256 : SASL_MECH_SCRAM_SHA1;
	x->scram = xcalloc(1, sizeof *x->scram);
	return 0;
}

int sasl_login_start(struct sasl_login *x, struct str mech)
{
	sasl_login_end(x);
	if (str_eq_ci_c(mech, "PLAIN"))
		x->mech = SASL_MECH_PLAIN;
	else if (str_eq_ci_c(mech, "LOGIN"))
		x->mech = SASL_MECH_LOGIN;
	else
		return -1;
	return 0;
}

int sasl_login_cancel_counts(const struct sasl_login *x, struct str *user_r)
{
	*user_r = str_make("", 0);
	if ((x->mech != SASL_MECH_SCRAM_SHA1 && x->mech != SASL_MECH_SCRAM_SHA256) ||
	    !x->user_given || !x->scram)
		return 0;
	*user_r = str_c(x->scram->user);
	return 1;
}

void sasl_login_end(struct sasl_login *x)
{
	if (x->scram) {
		scram_server_end(x->scram);
		free(x->scram);
	}
	explicit_bzero(x, sizeof(*x));
	x->mech = SASL_MECH_NONE;
}

enum sasl_step sasl_login_step(struct sasl_login *x, struct str b64, int initial,
			       char buf[SASL_RESPONSE_MAX], struct str *user_r, struct str *pass_r)
{
	size_t n = 0;

	*user_r = *pass_r = str_make("", 0);
	if (initial && str_eq(b64, STR_LIT("="))) {
		n = 0;
	} else if (sasl_base64_decode(b64, buf, SASL_RESPONSE_MAX, &n) < 0) {
		return SASL_STEP_BAD_BASE64;
	}
	if (x->mech == SASL_MECH_PLAIN) {
		struct str authz, authc;
		if (sasl_plain_split(str_make(buf, n), &authz, &authc, pass_r) < 0) {
			*pass_r = str_make("", 0);
			return SASL_STEP_MALFORMED;
		}
		*user_r = authc;
		if (authz.len && !str_eq_ci(authz, authc)) {
			/* No master users: acting as someone else is refused. */
			*pass_r = str_make("", 0);
			return SASL_STEP_AUTHZID;
		}
		return SASL_STEP_DONE;
	}
	if (x->mech == SASL_MECH_SCRAM_SHA1 || x->mech == SASL_MECH_SCRAM_SHA256) {
		if (x->user_given) {
			*user_r = str_c(x->scram->user);
			*pass_r = str_make(buf, n);
			return SASL_STEP_SCRAM;
		}
		enum scram_hash h = x->mech == SASL_MECH_SCRAM_SHA256 ? SCRAM_SHA256 : SCRAM_SHA1;
		int rc = scram_client_first(x->scram, h, str_make(buf, n));
		*user_r = str_c(x->scram->user);
		if (rc == SCRAM_BAD_AUTHZID)
			return SASL_STEP_AUTHZID;
		if (rc < 0)
			return SASL_STEP_MALFORMED;
		x->user_given = 1;
		return SASL_STEP_CHALLENGE;
	}
	if (x->mech != SASL_MECH_LOGIN)
		return SASL_STEP_MALFORMED;
	if (!x->user_given) {
		/* LOGIN, first response: the user name; then the password. */
		if (n > SASL_USER_MAX || memchr(buf, '\0', n))
			return SASL_STEP_MALFORMED;
		memcpy(x->user, buf, n);
		x->user[n] = '\0';
		x->user_given = 1;
		return SASL_STEP_PASSWORD;
	}
	*user_r = str_c(x->user);
	*pass_r = str_make(buf, n);
	return SASL_STEP_DONE;
}
