/*
 * test_json.c — the REST API's JSON parser, writer and field checks.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "http/json.h"
#include "unit.h"

/*
 * The JSON code's calls into buf_append and utf8_seq, counted (the
 * Makefile links this test with --wrap for both): a string's cost per
 * octet shows as a call count that grows with the string.
 */
static size_t appends, seqs;
int __real_buf_append(struct buf *b, const void *p, size_t n);
size_t __real_utf8_seq(const unsigned char *s, size_t n);
int __wrap_buf_append(struct buf *b, const void *p, size_t n);
size_t __wrap_utf8_seq(const unsigned char *s, size_t n);

int __wrap_buf_append(struct buf *b, const void *p, size_t n)
{
	appends++;
	return __real_buf_append(b, p, n);
}

size_t __wrap_utf8_seq(const unsigned char *s, size_t n)
{
	seqs++;
	return __real_utf8_seq(s, n);
}

static struct json_value *parse(struct arena *a, const char *s)
{
	char err[128];
	return json_parse(s, strlen(s), a, err, sizeof(err));
}

/*
 * A long string costs a few calls, not a few per octet: a 5 MB Core/echo
 * whose result three later calls referred to spent a second of CPU in
 * per-octet buf_append and utf8_seq calls (measured with perf, 70% in
 * memcpy of one octet). Round trip of 4 MB of ASCII, of 2-, 3- and
 * 4-octet sequences, and of text with escapes every 1000 octets.
 */
/* v written into b (made here, up to max): the appends it took. */
static size_t write_counted(struct buf *b, size_t max, const struct json_value *v)
{
	struct jw w;

	buf_init(b, max);
	jw_init(&w, b);
	appends = 0;
	jw_value(&w, v);
	CHECK(!jw_failed(&w));
	return appends;
}

static void test_long_strings(void)
{
	static const char *const units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	const size_t n = 4u << 20;
	struct arena *a = arena_new(0);
	char *s = arena_alloc(a, n + 3);

	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t ul = strlen(units[u]), len = 0;
		s[len++] = '"';
		while (len + ul < n)
			memcpy(s + len, units[u], ul), len += ul;
		s[len++] = '"';
		s[len] = '\0';
		seqs = 0;
		struct json_value *v = json_parse(s, len, a, (char[64]){0}, 64);
		CHECK(v && v->type == JSON_STRING && v->len == len - 2);
		/* ASCII needs no UTF-8 check; a sequence is checked once. */
		CHECK_EQ_INT((long)seqs, ul == 1 ? 0 : (long)((len - 2) / ul));
		struct buf b;
		CHECK(write_counted(&b, 2 * n, v) <= 3); /* the quotes and the run */
		CHECK(buf_len(&b) == len && memcmp(buf_data(&b), s, len) == 0);
		buf_free(&b);
	}
	/* An escape every 1000 octets: two appends each (the run before it
	 * and the escape). */
	size_t len = 0;
	s[len++] = '"';
	for (size_t i = 0; len + 2 < n; i++)
		if (i % 1000 == 999)
			s[len++] = '\\', s[len++] = 'n';
		else
			s[len++] = 'x';
	s[len++] = '"';
	s[len] = '\0';
	struct json_value *v = json_parse(s, len, a, (char[64]){0}, 64);
	CHECK(v && v->type == JSON_STRING);
	CHECK(v && memchr(v->str, '\n', v->len));
	struct buf b;
	CHECK(write_counted(&b, 2 * n, v) <= 2 * (len / 1000) + 4);
	/* Read back: the same string. */
	struct json_value *back = json_parse(buf_data(&b), buf_len(&b), a, (char[64]){0}, 64);
	CHECK(back && v && back->len == v->len && memcmp(back->str, v->str, v->len) == 0);
	buf_free(&b);
	arena_free(&a);
}

/* jw_flush_to: past JW_FLUSH_AT the buffer moves to the flush target,
 * so a long document costs a small buffer and comes out whole. */
static struct buf flushed;
static int flushes;
static int to_flushed(void *cls, struct buf *b)
{
	(void)cls;
	flushes++;
	if (buf_append(&flushed, buf_data(b), buf_len(b)) < 0)
		return -1;
	buf_reset(b);
	return 0;
}

static void test_flush_to(void)
{
	struct buf b, whole;
	struct jw w, ww;
	char item[32];

	buf_init(&b, 1u << 30);
	buf_init(&whole, 1u << 30);
	buf_init(&flushed, 1u << 30);
	jw_init(&w, &b);
	jw_flush_to(&w, to_flushed, NULL);
	jw_init(&ww, &whole);
	jw_arr_begin(&w);
	jw_arr_begin(&ww);
	for (int i = 0; i < 100000; i++) {
		snprintf(item, sizeof item, "item %d", i);
		jw_str(&w, item);
		jw_str(&ww, item);
		CHECK(buf_len(&b) < JW_FLUSH_AT);
	}
	jw_arr_end(&w);
	jw_arr_end(&ww);
	CHECK(!jw_failed(&w) && flushes > 10);
	buf_append(&flushed, buf_data(&b), buf_len(&b));
	CHECK(buf_len(&flushed) == buf_len(&whole) &&
	      memcmp(buf_data(&flushed), buf_data(&whole), buf_len(&whole)) == 0);
	/* A flush that fails fails the writer. */
	buf_free(&flushed);
	buf_init(&flushed, 10);
	jw_init(&w, &b);
	jw_flush_to(&w, to_flushed, NULL);
	buf_reset(&b);
	for (int i = 0; i < 100000 && !jw_failed(&w); i++)
		jw_str(&w, "an item");
	CHECK(jw_failed(&w));
	buf_free(&b);
	buf_free(&whole);
	buf_free(&flushed);
}

int main(void)
{
	struct arena *a = arena_new(0);
	struct json_value *v;

	test_flush_to();
	v = parse(a, " {\"email\":\"b@x.org\",\"quota\":10,\"on\":true,\"n\":null,\"l\":[1,2.5,\"\\u00e9\\ud83d\\ude00\"]} ");
	CHECK(v && v->type == JSON_OBJECT && v->count == 5);
	CHECK(strcmp(json_get(v, "email")->str, "b@x.org") == 0);
	CHECK(json_get(v, "quota")->is_int && json_get(v, "quota")->integer == 10);
	CHECK(json_get(v, "on")->boolean == 1 && json_get(v, "n")->type == JSON_NULL);
	const struct json_value *l = json_get(v, "l");
	CHECK(l->count == 3 && !l->first->next->is_int && l->first->next->number == 2.5);
	CHECK(strcmp(l->first->next->next->str, "\xc3\xa9\xf0\x9f\x98\x80") == 0);
	/* A value that is no member has the key "", never NULL: code walking
	 * an array it took for an object compares keys safely. */
	CHECK(strcmp(json_get(v, "email")->key, "email") == 0 && l->first->key &&
	      strcmp(l->first->key, "") == 0 && v->key && strcmp(v->key, "") == 0);
	CHECK(json_get(l, "") == NULL);

	/* Refused. */
	const char *bad[] = { "", "{", "{\"a\":1,}", "[1,]", "{\"a\":1,\"a\":2}", "01", "1.", "-",
			      "\"\\ud800\"", "\"\\x\"", "\"a\nb\"", "{} x", "\"\xc0\xaf\"", "nul",
			      "{\"a\" 1}", "[1 2]", "1e", "\"\\u12\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128] = "";
		CHECK(!json_parse(bad[i], strlen(bad[i]), a, err, sizeof(err)) && err[0]);
	}
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK(!json_parse(deep, 200, a, (char[64]){ 0 }, 64));
	CHECK(parse(a, "[[[[]]]]") != NULL);

	/*
	 * Duplicate names in a large object: found wherever they are, and in
	 * n log n. A JMAP request (5 MB) or a TLS report (1 MiB, from anyone)
	 * of short distinct names cost n^2/2 comparisons: this megabyte took
	 * 90 s of CPU under ASan, and one duplicate at its end was found last.
	 */
	{
		size_t cap = (1u << 20) + 64, n = 0;
		char *big = arena_alloc(a, cap);
		int keys = 0;
		big[n++] = '{';
		while (n < cap - 64)
			n += (size_t)snprintf(big + n, cap - n, "%s\"%x\":0", keys ? "," : "", keys),
				keys++;
		size_t open_end = n;
		big[n++] = '}';
		clock_t t0 = clock();
		v = json_parse(big, n, a, (char[64]){ 0 }, 64);
		double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
		CHECK(v && v->count == (size_t)keys && json_get(v, "0") && json_get(v, "1f"));
		CHECK(cpu < 5.0);
		/* The same with the first name again at the end, and in the middle. */
		n = open_end + (size_t)snprintf(big + open_end, cap - open_end, ",\"0\":1}");
		CHECK(!json_parse(big, n, a, (char[64]){ 0 }, 64));
		CHECK(!parse(a, "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
				 "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
				 "\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"h\":2,\"s\":1}"));
		CHECK(parse(a, "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
				"\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
				"\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"s\":{\"a\":1}}") != NULL);
	}

	/* A cap on the values made: "[1,[2,3]]" is five; the budget is
	 * shared by the parses given it and lowered by each. */
	{
		size_t left = 5;
		int over = -1;
		char err[64] = "";
		CHECK(json_parse_capped("[1,[2,3]]", 9, a, &left, &over, err, sizeof err) && left == 0 &&
		      over == 0);
		CHECK(!json_parse_capped("7", 1, a, &left, &over, err, sizeof err) && over == 1 &&
		      strstr(err, "too many values"));
		left = 4;
		CHECK(!json_parse_capped("[1,[2,3]]", 9, a, &left, &over, err, sizeof err) && over == 1);
		left = 9;
		CHECK(!json_parse_capped("[1,", 3, a, &left, &over, err, sizeof err) && over == 0);
	}

	/* Integers: int64 range exactly, beyond is a double only. */
	v = parse(a, "[-9223372036854775808,9223372036854775807,9223372036854775808]");
	CHECK(v->first->is_int && v->first->integer == INT64_MIN);
	CHECK(v->first->next->is_int && v->first->next->integer == INT64_MAX);
	CHECK(!v->first->next->next->is_int);

	/* JSON has numbers, not integers (RFC 8259 §6): any spelling of an
	 * exact integer within int64 is one (1e5 and 100000.0 were not, so
	 * an API integer field refused them), and nothing else is. */
	static const struct {
		const char *text;
		int is_int;
		int64_t value;
	} spell[] = {
		{ "1e5", 1, 100000 }, { "100000.0", 1, 100000 }, { "1.5e3", 1, 1500 },
		{ "1E+2", 1, 100 }, { "10e-1", 1, 1 }, { "0.0", 1, 0 }, { "-0.0", 1, 0 },
		{ "0e999999999999", 1, 0 }, { "-2.50e1", 1, -25 }, { "1e18", 1, 1000000000000000000 },
		{ "9.223372036854775807e18", 1, INT64_MAX }, { "-9.223372036854775808e18", 1, INT64_MIN },
		{ "0.000100e4", 1, 1 }, { "0.000120e4", 0, 0 }, { "1.5", 0, 0 }, { "1e-1", 0, 0 }, { "1e19", 0, 0 },
		{ "9.223372036854775808e18", 0, 0 }, { "100000.0000000000000001", 0, 0 },
		{ "1e999999999999", 0, 0 }, { "1.0e-999999999999", 0, 0 }, { "0.5e1", 1, 5 },
	};
	for (size_t i = 0; i < sizeof spell / sizeof spell[0]; i++) {
		v = parse(a, spell[i].text);
		CHECK(v && v->type == JSON_NUMBER && v->is_int == spell[i].is_int);
		CHECK(!spell[i].is_int || v->integer == spell[i].value);
		CHECK(v->num && strcmp(v->num, spell[i].text) == 0); /* kept for jw_value */
	}
	CHECK(parse(a, "12")->num == NULL);

	/* Field checks name the field. */
	static const struct json_field f[] = { { "email", JK_STRING, 1 }, { "quota", JK_INT, 0 } };
	const char *field, *code;
	char detail[128];
	CHECK(json_check_object(parse(a, "{\"email\":\"x\"}"), f, 2, &field, &code, detail, sizeof detail) == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":\"1\"}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "quota") == 0 && strcmp(code, "invalid_field") == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":-1}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "quota") == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":1e5}"), f, 2, &field, &code, detail, sizeof detail) == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":100000.0}"), f, 2, &field, &code, detail, sizeof detail) == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":1.5}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "quota") == 0 && strcmp(code, "invalid_field") == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"quota\":1e19}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "quota") == 0);
	CHECK(json_check_object(parse(a, "{\"email\":\"x\",\"zz\":1}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "zz") == 0 && strcmp(code, "unknown_field") == 0);
	CHECK(json_check_object(parse(a, "{}"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(field, "email") == 0 && strcmp(code, "missing_field") == 0);
	/* A body that is no object is the body's fault, as an empty one is
	 * (bad_json), not a field's: no field to name. */
	CHECK(json_check_object(parse(a, "[]"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(code, "bad_json") == 0 && field[0] == '\0');
	CHECK(json_check_object(parse(a, "null"), f, 2, &field, &code, detail, sizeof detail) < 0 &&
	      strcmp(code, "bad_json") == 0 && field[0] == '\0');
	CHECK(json_check_object(parse(a, "{\"email\":\"a\\u0000b\"}"), f, 2, &field, &code, detail, sizeof detail) < 0);

	/* Writer: commas, escapes, invalid UTF-8 replaced, bound respected. */
	struct buf b;
	struct jw w;
	buf_init(&b, 1024);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "s", "a\"b\\c\n\x01\xff\xe2\x80\xa8");
	jw_key(&w, "l");
	jw_arr_begin(&w);
	jw_int(&w, -1);
	jw_bool(&w, 0);
	jw_null(&w);
	jw_arr_end(&w);
	jw_kuint(&w, "u", 18446744073709551615ull);
	jw_obj_end(&w);
	CHECK(!jw_failed(&w));
	CHECK(strcmp(buf_data(&b), "{\"s\":\"a\\\"b\\\\c\\u000a\\u0001\\ufffd\\u2028\",\"l\":[-1,false,null],"
				   "\"u\":18446744073709551615}") == 0);
	CHECK(parse(a, buf_data(&b)) != NULL);
	buf_free(&b);
	/* Long lists: every member after the first gets its comma (a
	 * per-depth counter in a byte once dropped the 257th one). */
	buf_init(&b, 16384);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "l");
	jw_arr_begin(&w);
	for (int i = 0; i < 600; i++)
		jw_int(&w, i % 10);
	jw_arr_end(&w);
	for (int i = 0; i < 300; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		jw_kuint(&w, k, 7);
	}
	jw_obj_end(&w);
	CHECK(!jw_failed(&w));
	struct json_value *lv = parse(a, buf_data(&b));
	CHECK(lv != NULL && json_get(lv, "k299") != NULL);
	const struct json_value *list = lv ? json_get(lv, "l") : NULL;
	size_t nl = 0;
	for (const struct json_value *c = list ? list->first : NULL; c; c = c->next)
		nl++;
	CHECK(nl == 600);
	buf_free(&b);
	buf_init(&b, 8);
	jw_init(&w, &b);
	jw_str(&w, "longer than eight");
	CHECK(jw_failed(&w));
	buf_free(&b);

	/* Byte at a time: every prefix of a valid document is refused, never read past. */
	const char *doc = "{\"a\":[1,{\"b\":\"c\\u0041\"}],\"d\":-1.5e3}";
	for (size_t n = 0; n < strlen(doc); n++) {
		char *copy = arena_strndup(a, doc, n);
		CHECK(!json_parse(copy, n, a, (char[64]){ 0 }, 64));
	}
	CHECK(parse(a, doc) != NULL);

	/* jw_value writes a parsed tree back as it came (JMAP's Core/echo). */
	const char *same = "{\"a\":[1,{\"b\":\"c\\u0000d\"}],\"d\":-1500,\"e\":2.5,\"f\":null,\"g\":true}";
	buf_init(&b, 1024);
	jw_init(&w, &b);
	jw_value(&w, parse(a, same));
	CHECK(!jw_failed(&w));
	CHECK_EQ_STR(buf_data(&b), same);
	buf_free(&b);
	/* Numbers past a double's range or precision, and those not written
	 * as %.17g writes them, come back as their text: 1e400 was null,
	 * 20 digits 1e+20, -0.0 0. */
	const char *nums = "[1e400,-1E+400,99999999999999999999,0.1000000000000000000001,-0.0,1.5e3,"
			   "-9223372036854775809,2.5]";
	buf_init(&b, 1024);
	jw_init(&w, &b);
	jw_value(&w, parse(a, nums));
	CHECK(!jw_failed(&w));
	CHECK_EQ_STR(buf_data(&b), nums);
	buf_free(&b);
	/* Past 63 octets too (it was "number too long"), to JSON_NUMBER_MAX:
	 * "[1.77…7]" with a number of k octets. */
	for (size_t k = JSON_NUMBER_MAX; k <= JSON_NUMBER_MAX + 1; k++) {
		char *longnum = arena_alloc(a, k + 3);
		memset(longnum, '7', k + 2);
		memcpy(longnum, "[1.", 3);
		memcpy(longnum + k + 1, "]", 2);
		struct json_value *nv = json_parse(longnum, k + 2, a, (char[64]){ 0 }, 64);
		CHECK(k == JSON_NUMBER_MAX ? nv != NULL : nv == NULL);
		if (!nv)
			continue;
		buf_init(&b, 4096);
		jw_init(&w, &b);
		jw_value(&w, nv);
		CHECK(!jw_failed(&w));
		CHECK_EQ_STR(buf_data(&b), longnum);
		buf_free(&b);
	}
	test_long_strings();
	arena_free(&a);
	return unit_done("test_json");
}
