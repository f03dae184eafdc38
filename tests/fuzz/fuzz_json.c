/*
 * fuzz_json.c — the REST API's JSON parser. Whatever parses must survive
 * the writer: re-encoding a parsed tree and parsing that again gives the
 * same encoding (strings, numbers, nesting, key order all round-trip).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "http/json.h"

static void emit(struct jw *w, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL: jw_null(w); break;
	case JSON_BOOL: jw_bool(w, v->boolean); break;
	case JSON_NUMBER:
		if (v->is_int)
			jw_int(w, v->integer);
		else
			jw_double(w, v->number);
		break;
	case JSON_STRING: jw_strn(w, v->str, v->len); break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		v->type == JSON_ARRAY ? jw_arr_begin(w) : jw_obj_begin(w);
		for (const struct json_value *c = v->first; c; c = c->next) {
			if (v->type == JSON_OBJECT)
				jw_key(w, c->key);
			emit(w, c);
		}
		v->type == JSON_ARRAY ? jw_arr_end(w) : jw_obj_end(w);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	char err[128];
	struct json_value *v = json_parse((const char *)data, size, a, err, sizeof(err));
	if (v) {
		struct buf b1, b2;
		struct jw w;
		buf_init(&b1, 16 * size + 64);
		buf_init(&b2, 16 * size + 64);
		jw_init(&w, &b1);
		emit(&w, v);
		assert(!jw_failed(&w));
		struct json_value *v2 = json_parse(buf_data(&b1), buf_len(&b1), a, err, sizeof(err));
		assert(v2);
		jw_init(&w, &b2);
		emit(&w, v2);
		assert(buf_len(&b1) == buf_len(&b2) && memcmp(buf_data(&b1), buf_data(&b2), buf_len(&b1)) == 0);
		buf_free(&b1);
		buf_free(&b2);
	}
	arena_free(&a);
	return 0;
}
