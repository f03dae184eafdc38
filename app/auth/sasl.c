/*
 * sasl.c — the pieces of SASL every protocol shares: the PLAIN message
 * split (RFC 4616) and the PLAIN/LOGIN exchange. Responses are read with
 * core/base64.h's strict decoder and no flags (RFC 4422 §3: no white
 * space, padding required); the lenient MIME decoder (mime/mime_decode.h)
 * is for message content, where garbage must be tolerated rather than
 * refused.
 */
#include "auth/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/xalloc.h"

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
	} else if (base64_decode(b64, 0, buf, SASL_RESPONSE_MAX, &n) < 0) {
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
