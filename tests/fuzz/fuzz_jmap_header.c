/*
 * fuzz_jmap_header.c — Email/get's header forms (app/jmap/
 * jmap_email_header.c) over any message header: the fields are read,
 * then every form of every field (Raw, Text, Addresses,
 * GroupedAddresses, MessageIds, Date, URLs, each with :all) is written,
 * and "headers". Checks: the property names parse, the output is one
 * JSON object that json_parse accepts, and the memory taken is linear in
 * the header's size.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "http/json.h"
#include "jmap/jmap_email.h"

static const char *const forms[] = {"", ":asRaw", ":asText", ":asAddresses",
				    ":asGroupedAddresses", ":asMessageIds", ":asDate", ":asURLs"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(16384);
	struct buf out;
	struct jw w;
	struct jmap_hfields h;
	char err[64];

	buf_init(&out, 64 * 1024 * 1024);
	jw_init(&w, &out);
	jw_obj_begin(&w);
	jmap_hfields_read(a, (const char *)data, size, &h);
	jmap_headers_write(&w, a, &h);
	/* Every form of the first fields, for a name no field restricts and
	 * for the field's own name. */
	for (size_t i = 0; i < h.n && i < 8; i++) {
		int again = 0; /* a field seen before: its properties are written */
		for (size_t k = 0; k < i && !again; k++)
			again = h.v[k].name.len == h.v[i].name.len &&
				!strncasecmp(h.v[k].name.p, h.v[i].name.p, h.v[i].name.len);
		if (again)
			continue;
		for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++)
			for (int all = 0; all < 2; all++) {
				struct jmap_hprop hp;
				const char *prop = arena_printf(a, "header:%.*s%s%s", (int)h.v[i].name.len,
								h.v[i].name.p, forms[f], all ? ":all" : "");
				if (jmap_hprop_parse(a, prop, &hp) == 0)
					jmap_hprop_write(&w, a, &h, &hp);
			}
	}
	jw_obj_end(&w);
	/* Memory linear in the header: 8 fields, 16 forms each, a few copies
	 * of a value per form (asURLs once took the rest of the value for
	 * every "<", a gigabyte for 30000 "<>"). */
	assert(arena_used(a) <= 1024 * size + (1u << 20));
	if (!jw_failed(&w)) {
		struct arena *b = arena_new(16384);
		struct json_value *v = json_parse(buf_data(&out), buf_len(&out), b, err, sizeof err);
		if (!v)
			fprintf(stderr, "%s: %.*s\n", err, (int)buf_len(&out), buf_data(&out));
		assert(v && v->type == JSON_OBJECT);
		arena_free(&b);
	}
	buf_free(&out);
	arena_free(&a);
	return 0;
}
