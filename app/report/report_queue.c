/*
 * report_queue.c — a report message signed and queued (report_queue.h).
 */
#include "report/report_queue.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/latch.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dkim/dkim.h"
#include "queue/queue.h"
#include "store/store.h"

#define SIGNED_MAX ((size_t)24 << 20)

/* queue_submit's completion, possibly on the writer thread. */
static void queued(struct queue_request *r, void *arg)
{
	(void)r;
	latch_open(arg);
}

int report_queue_signed(struct store *st, const char *log_module, const char *from,
			const char *const *rcpts, size_t n, const char *msg, size_t len,
			int64_t now, int (*consume)(struct store *st, void *txn, void *arg),
			void *consume_arg, uint64_t *queue_id_r)
{
	const char *fd = strrchr(from, '@');
	struct str whole = str_make(msg, len);
	struct buf out;
	unsigned nsigs;

	/* Signed as submission signs (store_dkim_sign): the From domain's
	 * keys in either spelling of an internationalized domain, d= in
	 * A-labels, so a TERN_DOMAIN written as a U-label has its reports
	 * signed too. */
	buf_init(&out, SIGNED_MAX + 8192);
	int sr = fd ? store_dkim_sign(st, fd + 1, &whole, 1, &out, &nsigs) : STORE_ENOTFOUND;
	if (sr == STORE_ENOTFOUND) {
		log_error(log_module, NULL,
			  "event=report_unsigned from=%s reason=\"no DKIM keys for the From domain\"", from);
		buf_free(&out);
		return -1;
	}
	if (sr != DKIM_OK || buf_append(&out, msg, len) != 0) {
		log_error(log_module, NULL, "event=report_sign_failed from=%s result=%d", from, sr);
		buf_free(&out);
		return -1;
	}
	struct queue_rcpt *qr = xcalloc(n ? n : 1, sizeof *qr);
	for (size_t i = 0; i < n; i++)
		qr[i] = (struct queue_rcpt){rcpts[i], NULL, QUEUE_NOTIFY_NEVER};
	struct latch w = LATCH_INIT;
	struct queue_request q = {0};
	q.data = buf_data(&out);
	q.len = buf_len(&out);
	q.sender = from;
	q.rcpts = qr;
	q.nrcpts = n;
	q.received_at = now;
	q.txn_also = consume;
	q.txn_also_arg = consume_arg;
	q.done = queued;
	q.arg = &w;
	queue_submit(st, &q);
	latch_wait(&w);
	free(qr);
	buf_free(&out);
	if (q.result != STORE_OK) {
		log_error(log_module, NULL, "event=report_queue_failed from=%s result=%d", from, q.result);
		return -1;
	}
	*queue_id_r = q.queue_id;
	return 0;
}

void report_file_id(const char *report_id, char *out, size_t outsz)
{
	size_t n = 0;
	for (const char *p = report_id; *p && n + 1 < outsz; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
			out[n++] = *p;
	if (n == 0 && outsz > 1)
		out[n++] = '0';
	if (outsz)
		out[n] = '\0';
}
