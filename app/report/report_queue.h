/*
 * report_queue.h — queueing a report message tern makes (DMARC aggregate,
 * TLS-RPT): DKIM-signed with the keys of its From domain, then handed to
 * the outbound queue, waiting for the commit.
 *
 * Caveats: blocking (the queue's commit): the report thread or the CLI
 * only, never an I/O loop.
 */
#ifndef TERN_REPORT_REPORT_QUEUE_H
#define TERN_REPORT_REPORT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Signs msg[0..len) for from's domain (store_dkim_sign: either spelling
 * of an internationalized domain, t= the wall clock) and queues it from
 * `from` to rcpts[0..n) (NOTIFY=NEVER), arrived at now. log_module names
 * the log lines' module. consume (may be NULL) runs with consume_arg
 * inside the queue's commit (queue_request.txn_also): the report's
 * pending records are deleted there, so they are gone if and only if
 * the report is queued.
 * 0 with *queue_id_r, or -1 (logged: no keys, signing or queueing failed;
 * nothing consumed).
 */
int report_queue_signed(struct store *st, const char *log_module, const char *from,
			const char *const *rcpts, size_t n, const char *msg, size_t len,
			int64_t now, int (*consume)(struct store *st, void *txn, void *arg),
			void *consume_arg, uint64_t *queue_id_r);

/*
 * The unique-id of a report attachment's file name (RFC 7489 §7.2.1.1,
 * RFC 8460 §5.1: 1*(ALPHA / DIGIT)) from a report id: its letters and
 * digits, the rest dropped ("20413.example.net" gives "20413examplenet").
 * Cut to outsz - 1; "0" when nothing is left.
 */
void report_file_id(const char *report_id, char *out, size_t outsz);

#endif
