/*
 * sasl_next.c — one client response of a SASL exchange turned into what
 * the protocol does next (see sasl_next.h).
 */
#include "auth/sasl_next.h"

#include <string.h>

void sasl_next_step(struct sasl_login *x, struct store *st, struct str b64, int initial,
		    char buf[SASL_RESPONSE_MAX], struct sasl_next *n)
{
	enum sasl_step step = sasl_login_step(x, b64, initial, buf, &n->user, &n->pass);

	n->what = SASL_NEXT_LOGIN;
	n->challenge = NULL;
	n->malformed = NULL;
	n->scram = NULL;
	n->buf[0] = '\0';
	switch (step) {
	case SASL_STEP_PASSWORD:
		n->what = SASL_NEXT_CHALLENGE;
		n->challenge = SASL_LOGIN_PASSWORD;
		break;
	case SASL_STEP_CHALLENGE:
		if (scram_login_challenge(st, x->scram, n->buf, sizeof n->buf) == 0) {
			n->what = SASL_NEXT_CHALLENGE;
			n->challenge = n->buf;
		} else {
			n->pass = STR_NULL;
			n->malformed = "malformed";
		}
		break;
	case SASL_STEP_SCRAM:
		n->scram = x->scram;
		break;
	case SASL_STEP_DONE:
		break;
	case SASL_STEP_BAD_BASE64:
		n->what = SASL_NEXT_BAD_BASE64;
		break;
	case SASL_STEP_AUTHZID:
	case SASL_STEP_MALFORMED:
	default:
		n->pass = STR_NULL;
		n->malformed = step == SASL_STEP_AUTHZID ? "authzid" : "malformed";
		break;
	}
}
