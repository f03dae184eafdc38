/*
 * fuzz_smtp_reply.c — the outbound client's reply reader over a byte
 * stream: line finding, multi-line assembly, EHLO keywords and status
 * codes of every complete reply, and smtp_status_code() on each line as
 * the queue would keep it.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "queue/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct smtp_reply r;
	struct smtp_ehlo e;
	char st[16], line[SMTP_REPLY_LINE_MAX + 1];
	size_t pos = 0;

	smtp_reply_init(&r);
	while (pos < size) {
		long n = smtp_reply_line_find(p + pos, size - pos, SMTP_REPLY_LINE_MAX);
		if (n <= 0)
			break;
		assert((size_t)n <= size - pos && n <= SMTP_REPLY_LINE_MAX);
		memcpy(line, p + pos, (size_t)n - 1);
		line[n - 1] = '\0';
		smtp_status_code(line, st, sizeof st);
		assert(strlen(st) < sizeof st);
		int rc = smtp_reply_line(&r, p + pos, (size_t)n - 1);
		pos += (size_t)n;
		assert(r.textlen <= SMTP_REPLY_TEXT_MAX && strlen(r.text) == r.textlen);
		if (rc == 1) {
			assert(r.code >= 200 && r.code <= 599);
			smtp_ehlo_parse(&r, &e);
			smtp_reply_status(&r, st, sizeof st);
			assert(st[0] >= '2' && st[0] <= '5');
		}
		if (rc != 0)
			smtp_reply_init(&r);
	}
	return 0;
}
