/*
 * acme_account.c — talking to the CA, and the account (RFC 8555 §6, §7.3).
 *
 * acme_post() is the one way a signed request goes out: it fetches a
 * nonce when none is at hand (newNonce), keeps the Replay-Nonce of every
 * answer, and resends on badNonce; the answer then goes to the handler
 * of the state (acme_dispatch). Polls (acme_wait_then) resend the same
 * request after Retry-After. The directory's answer leads to newAccount
 * (with External Account Binding when the CA asks for it), whose answer
 * may replace a deactivated account's key or update the contact, then to
 * the order (acme_order.c).
 */
#include "acme/acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_ari.h"
#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "acme/acme_msg.h"
#include "acme/acme_private.h"
#include "core/cidr.h"
#include "core/log.h"
#include "core/loop.h"
#include "http/json.h"

#define TIMEOUT_MS 30000
/* Sends of one signed request that the CA may answer badNonce before
 * the attempt fails (RFC 8555 §6.5 says to retry with the nonce of the
 * error, and sets no bound). Rejections are random (pebble rejects 15%
 * by default; a CA behind a balancer whose nonces do not travel, more):
 * at 5 sends, a CA rejecting half the nonces failed one request in 32,
 * and so about one order in three. At 32, half rejected fails one in
 * four billion, 80% one in 1,300; a CA that rejects every nonce costs
 * 32 small requests before the back-off. */
#define BAD_NONCE_TRIES 32
/* The most seconds polls wait, in all, without progress (an authorization
 * turning valid) before the attempt is given up: Let's Encrypt finalizes
 * in seconds, and in minutes at its busiest. */
#define POLL_BUDGET 1800

/*
 * Every URL after the directory comes from the CA (its directory, the
 * Location of an order, the authorizations, finalize and certificate
 * URLs). When the directory is on a public address, they must be too: a
 * hostile CA must not make the server send requests to its own loopback
 * or private network (SSRF). A directory on a private or loopback
 * address (a CA of one's own, the tests' pebble) keeps every address.
 */
static int dir_addr_note(const struct sockaddr *sa)
{
	A.dir_public = cidr_addr_global(sa);
	return 1;
}

static int ca_addr_ok(const struct sockaddr *sa)
{
	return !A.dir_public || cidr_addr_global(sa);
}

/* GETs the directory (answer to on_response), noting where it is. */
int acme_request_directory(void)
{
	return acme_http_request_opts(A.loop, A.dns, "GET", A.directory, NULL, NULL, 0, TIMEOUT_MS,
	                              NULL, dir_addr_note, 0, acme_on_response, NULL, &A.req);
}

/* Any other request to the CA (answer to on_response). */
int acme_request(const char *method, const char *url, const char *content_type,
                   const void *body, size_t len)
{
	return acme_http_request_opts(A.loop, A.dns, method, url, content_type, body, len,
	                              TIMEOUT_MS, NULL, ca_addr_ok, 0, acme_on_response, NULL, &A.req);
}

static void send_post(void);

void acme_on_response(void *arg, const struct acme_http_resp *r)
{
	(void)arg;
	A.req = NULL;
	if (!A.running)
		return;
	if (r->nonce[0])
		snprintf(A.nonce, sizeof A.nonce, "%s", r->nonce);
	if (A.want_nonce) {
		/* The HEAD newNonce before a signed request. */
		A.want_nonce = 0;
		if (A.nonce[0] == '\0' && r->status >= 400) {
			/* RFC 8555 §6.6: a CA down (503) or limiting (429) says
			 * when to come back; the back-off's minute ignored it. */
			acme_fail(r->retry_after, "no Replay-Nonce from %s (HTTP %d)", A.url_nonce,
			     r->status);
			return;
		}
		if (A.nonce[0] == '\0') {
			acme_fail(-1, "no Replay-Nonce from %s (%s)", A.url_nonce,
			     r->status ? "no header" : r->error);
			return;
		}
		send_post();
		return;
	}
	if (r->status == 400 && A.state != S_DIRECTORY && A.state != S_ARI_DIR && A.state != S_ARI) {
		char type[64], detail[8];
		acme_msg_problem(r->body, r->body_len, type, sizeof type, detail, sizeof detail);
		if (strcmp(type, "badNonce") == 0 && ++A.tries < BAD_NONCE_TRIES) {
			log_info("acme", NULL, "event=bad_nonce step=%s retry=%d", acme_state_name[A.state],
			         A.tries);
			send_post();
			return;
		}
	}
	acme_dispatch(r);
}

static void send_post(void)
{
	struct buf body;

	if (A.nonce[0] == '\0') {
		A.want_nonce = 1;
		if (acme_request("HEAD", A.url_nonce, NULL, NULL, 0) < 0)
			acme_fail(-1, "bad newNonce URL %s", A.url_nonce);
		return;
	}
	buf_init(&body, 256 * 1024);
	if (acme_jws(&A.account, A.post_jwk ? NULL : A.kid, A.nonce, A.post_url,
	             buf_data(&A.post_payload), &body) < 0) {
		buf_free(&body);
		acme_fail(-1, "cannot sign the request");
		return;
	}
	A.nonce[0] = '\0'; /* each nonce is good for one request */
	if (acme_request("POST", A.post_url, "application/jose+json", buf_data(&body),
	            buf_len(&body)) < 0)
		acme_fail(-1, "bad URL %s", A.post_url);
	buf_free(&body);
}

void acme_post(enum acme_state next, const char *url, const char *payload, int jwk)
{
	A.state = next;
	A.tries = 0;
	A.post_jwk = jwk;
	if (url != A.post_url) /* polls resend the URL already here */
		snprintf(A.post_url, sizeof A.post_url, "%s", url);
	buf_reset(&A.post_payload);
	buf_append_c(&A.post_payload, payload);
	buf_append(&A.post_payload, "", 1);
	send_post();
}

void acme_get_as_post(enum acme_state next, const char *url)
{
	acme_post(next, url, "", 0);
}

static void poll_timer(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	A.timer = 0;
	acme_get_as_post(A.state, A.post_url);
}

/* Polls url in state st after Retry-After, or backing off without one
 * (acme_poll_wait), while the waits add up to POLL_BUDGET at most. It
 * once polled every second without Retry-After, capped a longer one at
 * 10 s, and gave up after 60 polls: a minute, for a CA that said nothing. */
void acme_wait_then(enum acme_state st, const char *url, long retry_after)
{
	unsigned s = acme_poll_wait(retry_after, A.polls);
	if (A.poll_waited + s > POLL_BUDGET) {
		acme_fail(-1, "the CA did not finish after %u polls in %u s", A.polls, A.poll_waited);
		return;
	}
	A.polls++;
	A.poll_waited += s;
	A.state = st;
	if (url != A.post_url)
		snprintf(A.post_url, sizeof A.post_url, "%s", url);
	A.timer = loop_timer_add(A.loop, (uint64_t)s * 1000, poll_timer, NULL);
}

/* "contact":["mailto:TERN_ACME_EMAIL"] into the object w writes. */
static void contact_key(struct jw *w)
{
	char mailto[300];
	jw_key(w, "contact");
	jw_arr_begin(w);
	snprintf(mailto, sizeof mailto, "mailto:%s", A.email);
	jw_str(w, mailto);
	jw_arr_end(w);
}

static void new_account(void);

/*
 * newAccount answered unauthorized: the key's account is deactivated (RFC
 * 8555 §7.3.6, by its holder or the CA; Boulder and pebble answer so for
 * its key), and the CA takes nothing signed with that key again. A new
 * key, and a new account with it, once per attempt: the key is stored
 * only when the CA has created the account (on_account), so a failure
 * leaves the stored one as it was. Returns 1 when the new account is
 * asked for.
 */
static int account_replace(const struct acme_http_resp *r)
{
	char type[64], detail[400], q[500];
	if ((r->status != 401 && r->status != 403) || A.contact_only || A.account_replaced)
		return 0;
	acme_msg_problem(r->body, r->body_len, type, sizeof type, detail, sizeof detail);
	if (strcmp(type, "unauthorized") != 0)
		return 0;
	log_warn("acme", NULL, "event=account_deactivated detail=%s hint=\"a new account key and "
	                       "account replace it\"", log_q(detail, q, sizeof q));
	acme_key_wipe(&A.account);
	if (acme_key_generate(&A.account) < 0) {
		A.have_account_key = 0; /* the next attempt loads the stored one */
		return 0;
	}
	A.account_replaced = A.account_unsaved = 1;
	new_account();
	return 1;
}

void acme_on_account(const struct acme_http_resp *r)
{
	if (account_replace(r))
		return;
	if ((r->status != 200 && r->status != 201) || r->location[0] == '\0' ||
	    strlen(r->location) >= sizeof A.kid) {
		acme_fail_resp(r);
		return;
	}
	snprintf(A.kid, sizeof A.kid, "%s", r->location);
	log_info("acme", NULL, "event=account %s", r->status == 201 ? "created=1" : "existing=1");
	if (A.account_unsaved && acme_key_save("acme/account-key", &A.account) < 0)
		log_warn("acme", NULL, "event=store_failed hint=\"the new account key is used but "
		                       "not kept: a restart makes another account\"");
	A.account_unsaved = 0;
	if (r->status == 201)
		acme_contact_stored_put(); /* created with it */
	else if (!acme_contact_stored_same()) {
		/* RFC 8555 §7.3.2: the contact TERN_ACME_EMAIL names now. */
		struct buf p;
		struct jw w;
		buf_init(&p, 1024);
		jw_init(&w, &p);
		jw_obj_begin(&w);
		contact_key(&w);
		jw_obj_end(&w);
		buf_append(&p, "", 1);
		acme_post(S_CONTACT, A.kid, buf_data(&p), 0);
		buf_free(&p);
		return;
	}
	if (A.contact_only)
		acme_contact_done();
	else
		acme_new_order();
}

void acme_on_contact(const struct acme_http_resp *r)
{
	if (r->status != 200) {
		char type[64], detail[400];
		acme_msg_problem(r->body, r->body_len, type, sizeof type, detail, sizeof detail);
		char q[600];
		log_warn("acme", NULL, "event=account_contact_update_failed status=%d error=%s",
		         r->status, log_q(r->status ? detail : r->error, q, sizeof q));
	} else {
		acme_contact_stored_put();
		log_info("acme", NULL, "event=account_contact_updated contact=mailto:%s", A.email);
	}
	/* Either way the order goes on: a contact is no reason to miss one. */
	if (A.contact_only)
		acme_contact_done();
	else
		acme_new_order();
}

static void new_account(void)
{
	struct buf p, eab;
	struct jw w;

	if (A.eab_required && A.eab_len == 0) {
		acme_fail(-1, "the CA requires External Account Binding: set TERN_ACME_EAB_KID and "
		         "TERN_ACME_EAB_HMAC_KEY");
		return;
	}
	buf_init(&p, 16384);
	buf_init(&eab, 8192);
	jw_init(&w, &p);
	jw_obj_begin(&w);
	jw_kbool(&w, "termsOfServiceAgreed", 1);
	contact_key(&w);
	/* RFC 8555 §7.3.1: only to find the account whose contact to update,
	 * never to make one (the next order does, with the new contact). */
	if (A.contact_only)
		jw_kbool(&w, "onlyReturnExisting", 1);
	else if (A.eab_len > 0 && acme_eab(&A.account, A.eab_kid, A.eab_key, A.eab_len, A.url_account,
	                              &eab) == 0 &&
	    buf_append(&eab, "", 1) == 0) {
		jw_key(&w, "externalAccountBinding");
		jw_raw(&w, buf_data(&eab));
	}
	jw_obj_end(&w);
	buf_append(&p, "", 1);
	acme_post(S_ACCOUNT, A.url_account, buf_data(&p), 1);
	buf_free(&p);
	buf_free(&eab);
}

void acme_on_directory(const struct acme_http_resp *r)
{
	struct acme_dir d;

	if (r->status != 200 || acme_msg_directory(r->body, r->body_len, &d) < 0) {
		if (r->status == 200)
			acme_fail(-1, "%s is not an ACME directory", A.directory);
		else
			acme_fail_resp(r);
		return;
	}
	snprintf(A.url_nonce, sizeof A.url_nonce, "%s", d.new_nonce);
	snprintf(A.url_account, sizeof A.url_account, "%s", d.new_account);
	snprintf(A.url_order, sizeof A.url_order, "%s", d.new_order);
	A.eab_required = d.eab_required;
	new_account();
}
