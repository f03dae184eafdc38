/*
 * smtp_virus.c — the end of DATA's virus scan (smtp_virus.h). The
 * verdict is data (struct verdict, as the other stages'); this file
 * renders it, logs one record, counts it, and ends the transaction, or
 * hands the message on to the rest of delivery.
 */
#include <inttypes.h>

#include "core/log.h"
#include "core/metrics.h"
#include "net/conn.h"
#include "policy/policy.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_virus.h"
#include "virus/clamd.h"

static const struct verdict infected = {554, "5.7.1", "Error: message refused, a virus was found",
					"virus_found"};
/* clamav-milter's OnFail Defer: no verdict is no delivery, and the
 * sender tries again later. */
static const struct verdict unscanned = {451, "4.7.1",
					 "Error: the virus scan failed, try again later",
					 "virus_scan_failed"};

/* The message is left without delivery: the reply (unless the client went
 * away), then the end of the transaction. */
static void refuse(struct smtp_session *s, const struct verdict *v, int permanent)
{
	if (!s->conn_gone)
		smtp_reply_verdict(s, v);
	s->tx.refused = permanent;
	smtp_tx_committed(s);
}

static void scanned(void *arg, const struct clamd_result *r)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	size_t size = tx->data.len - tx->header_len;

	tx->virus_scan = NULL;
	switch (r->status) {
	case CLAMD_CLEAN:
		metrics_inc(METRIC_VIRUS_CLEAN);
		log_debug("smtp", s->id, "event=virus_scan result=clean size=%zu", size);
		tx->sieve_virustest = 1;
		if (s->conn_gone) {
			/* No reply can be given: the client sends it again. */
			smtp_tx_committed(s);
			return;
		}
		/* Reading stays paused: the next stage pauses it itself, and
		 * resuming first could let a connection the client half-closed
		 * go (and the session with it) under the stage's feet. */
		s->state = tx->virus_state;
		smtp_tx_scanned(s);
		if (s->conn_gone || s->state == SMTP_S_WAIT_STORE)
			return; /* the store or the queue answers later */
		/* Refused there (submission's checks of the header), its reply
		 * queued: what the client pipelined behind it is read now, as
		 * after a DATA refused at once. */
		conn_pause_read(s->conn, 0);
		smtp_session_input(s);
		conn_flush(s->conn);
		return;
	case CLAMD_INFECTED:
		metrics_inc(METRIC_VIRUS_INFECTED);
		if (s->mode == SMTP_MODE_MX) /* inbound SMTP's count, as its other refusals */
			metrics_inc(METRIC_REJECTED);
		log_info("smtp", s->id, "event=virus_found signature=\"%s\" size=%zu", r->name, size);
		refuse(s, &infected, 1);
		return;
	case CLAMD_FAILED:
		break;
	}
	metrics_inc(METRIC_VIRUS_FAILED);
	log_warn("smtp", s->id, "event=virus_scan_failed reason=%s clamd=\"%s\" size=%zu", r->why,
		 r->name, size);
	refuse(s, &unscanned, 0);
}

int smtp_virus_scan(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	size_t size = tx->data.len - tx->header_len;

	if (!clamd_enabled())
		return 0;
	if (size > CLAMD_SCAN_MAX) {
		metrics_inc(METRIC_VIRUS_SKIPPED);
		log_info("smtp", s->id, "event=virus_scan_skipped reason=too_big size=%zu max=%d", size,
			 CLAMD_SCAN_MAX);
		return 0;
	}
	tx->virus_state = s->state;
	s->state = SMTP_S_WAIT_STORE;
	/* The reply to this message must come before any reply to what is
	 * pipelined behind it. */
	conn_pause_read(s->conn, 1);
	tx->virus_scan = clamd_scan_start(s->loop, str_make(tx->data.p + tx->header_len, size),
					  scanned, s);
	return 1;
}

void smtp_virus_tx_free(struct smtp_tx *tx)
{
	clamd_scan_cancel(tx->virus_scan);
	tx->virus_scan = NULL;
}
