/*
 * forward_copy.h — one forwarded copy of a message: the bytes that leave
 * and the outbound queue entry that carries them, written in the same
 * store commit as the message's local copies (DESIGN.md §3b).
 *
 * Design. The caller (port 25's smtp_forward.c today; a Sieve redirect
 * to an outside address can use the same) says what was received and
 * where it goes; forward_copy_build() makes
 *   - the bytes: a Delivered-To field per address of ours that forwards
 *     it, the caller's head (our Received), then the message without the
 *     Authentication-Results fields that claim authserv_id (composed by
 *     deliver_compose, as the local copies are), and on top an ARC set
 *     (RFC 8617) sealed with fwd_domain's RSA DKIM key, its AAR the
 *     caller's Authentication-Results and cv= what the caller's checks
 *     found of the chain the message arrived with;
 *   - the queue entry: one recipient per target (each once), the sender
 *     rewritten by forward_sender() (SRS), notices only when notify_ok.
 * forward_copy_hook() is a struct store_delivery transaction hook
 * (hook_arg: the struct forward_copy) that adds the entry.
 *
 * Caveats: a message that has ARC sets the caller did not validate
 * (arc_known 0, also when a temporary failure left the chain unjudged)
 * is not sealed: a seal would vouch for, or condemn, what nobody
 * checked. A chain whose newest seal says cv=fail is not sealed again.
 * Linear in the message size and signs with RSA: run it on the worker
 * pool. Strings in the result are malloc'ed (forward_copy_free).
 */
#ifndef TERN_FORWARD_FORWARD_COPY_H
#define TERN_FORWARD_FORWARD_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "store/store_queue.h"

struct store;
struct store_delivery;

struct forward_copy_in {
	struct store *st;        /* DKIM keys, our domains */
	struct str head;         /* our Received field(s), CRLF-ended, put after Delivered-To */
	struct str message;      /* the message as received */
	const char *authserv_id; /* our host name: its Authentication-Results are removed */
	const char *const *delivered_to; /* our addresses that forward it (may be 0 of them) */
	size_t ndelivered_to;
	const char *const *targets; /* outside addresses, 1..SQ_RCPTS_MAX (repeats dropped) */
	size_t ntargets;
	const char *sender;     /* envelope sender as received, "" for the null sender */
	const char *fwd_domain; /* our domain it is forwarded through (SRS, ARC d=); NULL: a
				 * bounce passing through, neither rewritten nor sealed */
	const char *authres;    /* the Authentication-Results field (or value) for the AAR */
	int arc_known;          /* the chain the message arrived with was validated: */
	int arc_cv;             /* its enum arc_cv */
	int notify_ok;          /* failure notices may go to the (original) sender */
	uint32_t flags;         /* SQ_8BITMIME, SQ_SMTPUTF8, SQ_RET_FULL */
	const char *envid;      /* ENVID or NULL */
	/* Optional, parallel to targets (Sieve redirect :notify, RFC 6009
	 * §5): SQ_NOTIFY_* bits for that recipient, 0 for the default. Only
	 * with notify_ok: otherwise every recipient is NEVER. */
	const uint8_t *target_notify;
	/* Optional, parallel to targets: the ORCPT ("rfc822;addr", decoded)
	 * that recipient goes with, NULL or "" for none. */
	const char *const *target_orcpt;
	int ret;                /* 1 RET=FULL, -1 HDRS (redirect :ret), 0 as flags say */
	int64_t now;            /* seconds since the epoch */
	int64_t by_deadline;    /* with SQ_BY in flags: Deliver By's deadline (RFC 2852) */
};

struct forward_copy {
	struct store_queue_entry e; /* e.id is set by the hook's commit */
	char *data;
	size_t len;
	int srs_rc;      /* forward_sender()'s result, for the log */
	const char *arc; /* "sealed", "chain_closed", "skipped_chain", "no_key", "failed",
			  * "none" (a bounce), for the log */
};

/* Builds c from in (c zeroed first). 0, or -1 when the bytes could not be
 * composed (the spool refused: memory, disk); c is then empty. */
int forward_copy_build(const struct forward_copy_in *in, struct forward_copy *c);

/* Transaction hook (store.h): adds c (d->hook_arg) to the queue. 0 or an LMDB error. */
int forward_copy_hook(struct store *st, void *txn, struct store_delivery *d);

/* Frees what c holds (not c). */
void forward_copy_free(struct forward_copy *c);

/*
 * 1 when messages a and b (each a header section, an empty line, a body)
 * have the same author fields (From, Sender, Resent-From, Resent-Sender),
 * byte for byte and in the same order; 0 when not, or when either has no
 * empty line. A Sieve edit that changes them is not carried by a copy
 * that leaves: the copy goes from our servers with an envelope sender
 * of ours (SPF-aligned with our domains) and perhaps our signature, so
 * the edit would make a From of our domains pass DMARC for whoever wrote
 * the script.
 */
int forward_authors_same(struct str a, struct str b);

#endif
