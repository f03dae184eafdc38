/*
 * queue_notify.c — "delivered" notices for local deliveries (RFC 3461).
 *
 * A client that asks NOTIFY=SUCCESS for a recipient is owed a notice with
 * Action: delivered once the message is in that recipient's mailbox
 * (RFC 3461 §6.2; Thunderbird's "Delivery Status Notification" asks for
 * it). Remote recipients get theirs from the scheduler (Action: relayed,
 * queue_sched.c). Local ones are delivered at once, by the inbound SMTP
 * session (port 25) or by queue_submit() (submission), so the session
 * calls queue_notify_delivered() after its commit with the recipients
 * that asked.
 *
 * The notice is itself submitted: from the null sender (so it can never
 * cause a notice of its own), to the original envelope sender, through
 * queue_submit(), which puts it in the INBOX of a local sender or queues
 * it for a remote one (on port 25 the session sends none to an outside
 * sender: smtp_tx.c). It is a commit of its own after the 250: a crash
 * between the two loses the notice, never the message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "store/store.h"

/* The notice returns at most the header when the whole would pass this. */
#define NOTICE_MAX (64 * 1024 * 1024)

struct notice {
	struct queue_request req;
	struct queue_rcpt rcpt;
	struct buf msg;
	char *to;
	char id[20];
};

static void notice_done(struct queue_request *r, void *arg)
{
	struct notice *n = arg;

	if (r->result == STORE_OK)
		log_info("queue", n->id, "event=notice kind=delivered to=%s", r->nlocal ? "local" : "remote");
	else
		log_warn("queue", n->id, "event=notice_failed kind=delivered result=%d", r->result);
	buf_free(&n->msg);
	free(n->to);
	free(n);
}

unsigned queue_notice_flags(const char *to, const struct buf *msg)
{
	unsigned needs = dsn_needs(to, buf_data(msg), buf_len(msg));
	return ((needs & DSN_NEEDS_SMTPUTF8) ? QUEUE_SMTPUTF8 : 0) |
	       ((needs & DSN_NEEDS_8BITMIME) ? QUEUE_8BITMIME : 0);
}

void queue_notify_delivered(struct store *st, struct loop *loop, const char *session_id,
			    const struct dsn_info *in)
{
	if (!in->to || !*in->to || in->nrcpts == 0)
		return; /* the null sender gets no notices */
	struct notice *n = xcalloc(1, sizeof *n);
	struct dsn_info info = *in;
	uint64_t id = 0;

	snprintf(n->id, sizeof n->id, "%s", session_id ? session_id : "");
	/* A number for the notice's Message-ID; the time alone repeats. */
	if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		id = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)n;
	info.id = id;
	buf_init(&n->msg, NOTICE_MAX);
	if (dsn_build(&info, &n->msg) < 0) {
		buf_reset(&n->msg);
		info.ret_full = 0;
		if (dsn_build(&info, &n->msg) < 0) {
			log_warn("queue", n->id, "event=notice_failed kind=delivered reason=too_big");
			buf_free(&n->msg);
			free(n);
			return;
		}
	}
	n->to = xstrdup(in->to);
	n->rcpt = (struct queue_rcpt){n->to, NULL, QUEUE_NOTIFY_NEVER};
	n->req = (struct queue_request){
	    .data = buf_data(&n->msg), .len = buf_len(&n->msg), .sender = "", .rcpts = &n->rcpt,
	    .nrcpts = 1, .loop = loop, .done = notice_done, .arg = n,
	    /* RFC 8689 §5: the notice quotes a REQUIRETLS message (its header
	     * at least): it is sent as the original was. */
	    .flags = (in->requiretls ? QUEUE_REQUIRETLS : 0) | queue_notice_flags(in->to, &n->msg),
	};
	queue_submit(st, &n->req);
}
