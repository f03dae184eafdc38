/*
 * api_password.c — POST /api/v1/password/strength: the password rule's
 * verdict on a password being typed, for the live meter under the
 * wizard's, the portal's and the admin's password fields (issue 31).
 *
 * The same rating every path that sets a password applies
 * (auth/password_policy.h), so the meter and the refusal never disagree.
 * No authentication: the wizard asks before any admin exists, and the
 * answer tells nothing about any account. The rule refuses more than
 * PASSWORD_MAX_CHARS characters before estimating, so a request costs
 * under a millisecond (password_policy.h); the HTTP
 * listener's per-client limits bound how many. Nothing is logged or kept.
 */
#include "auth/password_policy.h"
#include "http/http_internal.h"
#include "http/json.h"

void api_password_strength(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "password", JK_STRING, 1 },
	};
	if (http_body_check(x, f, 1) < 0)
		return;
	struct password_rating r;
	password_policy_rate(http_body_str(x, "password"), &r);
	struct jw w;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kbool(&w, "acceptable", r.ok);
	jw_kint(&w, "score", r.score);
	jw_kint(&w, "min_score", PASSWORD_MIN_SCORE);
	jw_key(&w, "log10_guesses");
	jw_double(&w, r.log10_guesses);
	jw_kstr(&w, "weakness", r.weakness);
	jw_kstr(&w, "message", r.message);
	jw_obj_end(&w);
}
