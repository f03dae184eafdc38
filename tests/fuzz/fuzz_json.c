/*
 * fuzz_json.c — the REST API's JSON parser. Whatever parses must survive
 * the writer: re-encoding a parsed tree and parsing that again gives the
 * same encoding (strings, numbers, nesting, key order all round-trip).
 * The first encoding may change a number's spelling once: 2^63 is no
 * int64 and is written as a double, 9.2233720368547758e+18, whose digits
 * are an exact integer within int64, which the parser then takes as one
 * (RFC 8259 §6 has no integer type). So the second and third encodings
 * are compared, and the first must parse.
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
		struct buf b0, b1, b2;
		struct jw w;
		buf_init(&b0, 16 * size + 64);
		buf_init(&b1, 16 * size + 64);
		buf_init(&b2, 16 * size + 64);
		jw_init(&w, &b0);
		emit(&w, v);
		assert(!jw_failed(&w));
		struct json_value *v1 = json_parse(buf_data(&b0), buf_len(&b0), a, err, sizeof(err));
		assert(v1);
		jw_init(&w, &b1);
		emit(&w, v1);
		assert(!jw_failed(&w));
		struct json_value *v2 = json_parse(buf_data(&b1), buf_len(&b1), a, err, sizeof(err));
		assert(v2);
		jw_init(&w, &b2);
		emit(&w, v2);
		assert(buf_len(&b1) == buf_len(&b2) && memcmp(buf_data(&b1), buf_data(&b2), buf_len(&b1)) == 0);
		buf_free(&b0);
		buf_free(&b1);
		buf_free(&b2);
	}
	arena_free(&a);
	return 0;
}
