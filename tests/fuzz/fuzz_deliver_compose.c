/*
 * fuzz_deliver_compose.c — the stored bytes of a delivery (deliver.h):
 * head + the message without the Authentication-Results fields claiming
 * our authserv-id. The result is never longer than the input, starts with
 * the head, ends with the body, and its header section has no field that
 * claims us.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "deliver/deliver.h"
#include "mime/rfc5322.h"

#define ID "mx.example.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "Return-Path: <a@b.example>\r\n";
	struct spool sp;
	struct str out;
	struct str in = str_make((const char *)data, size);

	int r = deliver_compose(&sp, str_make(head, sizeof head - 1), in, ID);
	assert(r == 0);
	assert(spool_finish(&sp, &out) == 0);
	assert(out.len <= sizeof head - 1 + size);
	assert(memcmp(out.p, head, sizeof head - 1) == 0);

	/* No field of the result (after the head) claims us. */
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = sizeof head - 1, used;
	rfc5322_init(&p);
	while (rfc5322_parse(&p, out.p + off, out.len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		assert(!(str_eq_ci_c(f.name, "Authentication-Results") && deliver_ar_claims(f.value, ID)));
	}
	rfc5322_clear(&p);
	spool_free(&sp);
	return 0;
}
