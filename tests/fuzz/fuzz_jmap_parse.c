/*
 * fuzz_jmap_parse.c — Email/parse (app/jmap/jmap_email.c) over any bytes
 * taken as a message: every property, bodyStructure, bodyValues of all
 * parts, headers, from the one MIME parse Email/get also uses. Checks:
 * the output is one JSON object json_parse accepts.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "http/json.h"
#include "jmap/jmap_email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(16384);
	struct buf out;
	char err[64];

	buf_init(&out, 64 * 1024 * 1024);
	jmap_email_parse_write(a, (const char *)data, size, &out);
	const struct json_value *v = json_parse(buf_data(&out), buf_len(&out), a, err, sizeof err);
	assert(v && v->type == JSON_OBJECT);
	buf_free(&out);
	arena_free(&a);
	return 0;
}
