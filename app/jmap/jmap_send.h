/*
 * jmap_send.h — the one way JMAP sends mail: EmailSubmission/set and
 * MDN/send both hand a composed message here, and it goes out as port
 * 587's does: under the account's hourly sending limit (the one table
 * smtp_rate.h keeps, so both ways count against it), with a Received
 * field naming the client's address and the account, DKIM-signed by
 * submission's signer with the keys of the author's domain, then
 * queue_submit() (local recipients delivered at once, the rest queued),
 * waiting for the commit before it returns, since the caller is a JMAP
 * worker thread that answers only after the message is safe.
 *
 * Caveats: blocks (the store writer's commit); never call it on a loop.
 */
#ifndef TERN_JMAP_JMAP_SEND_H
#define TERN_JMAP_JMAP_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct jmap_request;

struct jmap_outgoing {
	/* Input, the caller's, unchanged. */
	const char *mail_from;     /* envelope sender; "" is the null sender <> */
	const char *const *rcpts;  /* envelope recipients, 1..1000 */
	const unsigned *notify;    /* per recipient QUEUE_NOTIFY_* (0: default), or NULL */
	const char *const *orcpt;  /* per recipient ORCPT ("rfc822;a@b") or NULL, or NULL */
	const char *envid;         /* ENVID, or NULL */
	size_t nrcpts;
	struct str msg;            /* the message as composed (CRLF lines) */
	const char *sign_domain;   /* DKIM d= (the author's domain), or NULL */
	unsigned flags;            /* QUEUE_* (queue/queue.h) */
	int mt_priority;           /* MT-PRIORITY (RFC 6710), -9..9, 0 = normal */
	/* Output. */
	uint64_t queue_id;         /* 0 when every recipient was local */
	size_t nlocal, nremote;
	int signed_;               /* a DKIM-Signature was added */
	int64_t at;                /* when it was queued (seconds) */
};

enum {
	JMAP_SEND_OK = 0,
	JMAP_SEND_REFUSED = -1, /* the queue refused it (bad recipients) */
	JMAP_SEND_FAILED = -2,  /* a store error */
	JMAP_SEND_RATE = -3,    /* the account's hourly limit (TERN_SEND_RATE) */
	JMAP_SEND_FULL = -4,    /* the server's disk is full (STORE_EFULL) */
};

/* Sends o->msg for r's account (see above). JMAP_SEND_*. */
int jmap_send(struct jmap_request *r, struct jmap_outgoing *o);

/*
 * The implicit Email/set that follows a sending method's success (RFC
 * 8621 §7.5's onSuccessUpdateEmail/onSuccessDestroyEmail, RFC 9007
 * §2.1's onSuccessUpdateEmail): each key of update and each id in
 * destroy (either may be NULL) names, through email_of(arg, key), the
 * Email it applies to; NULL skips it (that object was not sent). When
 * any remains, c->r->then holds the call, under c's method call id.
 */
struct jmap_call;
struct json_value;
typedef const char *jmap_email_of_fn(void *arg, const char *key);
void jmap_then_email_set(struct jmap_call *c, const struct json_value *update,
			 const struct json_value *destroy, jmap_email_of_fn *email_of, void *arg);

#endif
