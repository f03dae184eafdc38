/*
 * json.h — a small JSON (RFC 8259) parser and writer for the REST API.
 *
 * Design. The parser builds a tree in an arena the caller owns: each value
 * is a node; arrays and objects chain their children (first/next), object
 * members carry their key. Strings are decoded (escapes, surrogate pairs)
 * into NUL-terminated UTF-8 copies. The input must be well-formed UTF-8;
 * duplicate keys, control characters in strings, leading zeros, nesting
 * deeper than JSON_DEPTH_MAX and trailing bytes are refused. Request bodies
 * are bounded before they get here (64 KiB), so the tree is too; larger
 * input from a peer (JMAP's 5 MB) goes through json_parse_capped().
 *
 * The writer appends to a struct buf (bounded: a write that would pass its
 * maximum makes jw_failed() true) and places commas itself.
 *
 * json_check_object() is the API's gate for request bodies: it names the
 * first unknown field, missing required field or field of the wrong type.
 */
#ifndef TERN_HTTP_JSON_H
#define TERN_HTTP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct arena;

#define JSON_DEPTH_MAX 32
#define JSON_NUMBER_MAX 1024 /* octets of one number's text */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	int boolean;       /* JSON_BOOL */
	double number;     /* JSON_NUMBER */
	int is_int;        /* JSON_NUMBER: exactly an integer within int64, however
			    * written (1e5, 100000.0 and 1.5e3 are; 1.5 is not) */
	int64_t integer;   /* JSON_NUMBER when is_int */
	const char *num;   /* JSON_NUMBER: its text as given unless it is plain
			    * digits within int64, else NULL */
	const char *str;   /* JSON_STRING: decoded, NUL-terminated */
	size_t len;        /* JSON_STRING: bytes (may contain NUL from \u0000) */
	struct json_value *first; /* JSON_ARRAY/OBJECT children */
	size_t count;
	const char *key;          /* an object member's key; "" for any other value */
	struct json_value *next;  /* next sibling */
};

/*
 * Parses p[0..n) into a tree allocated from a. Returns the root, or NULL
 * with a short reason and the byte offset in err (size errsz).
 */
struct json_value *json_parse(const char *p, size_t n, struct arena *a, char *err, size_t errsz);
/*
 * json_parse making at most *left values (each costs a node of some 80
 * octets: "[0,0,...]" parses into 40 times its text), *left lowered by
 * those it made. Past it NULL, with *over_r (when given) 1 and err "too
 * many values"; otherwise *over_r is 0. A peer's JSON is parsed with a
 * cap, so its tree is bounded by more than its length.
 */
struct json_value *json_parse_capped(const char *p, size_t n, struct arena *a, size_t *left,
				     int *over_r, char *err, size_t errsz);

/* The member named key of an object, or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* Expected shape of one member of a request object. */
enum json_kind { JK_STRING, JK_INT, JK_BOOL, JK_OBJECT, JK_ANY };
struct json_field {
	const char *name;
	enum json_kind kind;
	int required;
};
/*
 * Checks that v is an object whose members are all among fields (n
 * entries), of the right kind, with every required one present; JK_INT
 * means an integer >= 0. Returns 0, or -1 with *field_r (the offending
 * name, or "" when v is not an object), *code_r ("unknown_field",
 * "missing_field", "invalid_field") and a sentence in detail.
 */
int json_check_object(const struct json_value *v, const struct json_field *fields, size_t n,
		      const char **field_r, const char **code_r, char *detail, size_t detailsz);

/* ---- writer ---- */
struct jw {
	struct buf *b;
	int depth;
	unsigned char written[JSON_DEPTH_MAX]; /* 1: a value is already written at this depth */
	int after_key;
	int failed;
	int (*flush)(void *cls, struct buf *b); /* jw_flush_to's */
	void *flush_cls;
};
void jw_init(struct jw *w, struct buf *b);
/*
 * Once the buffer holds JW_FLUSH_AT octets or more, flush(cls, b) is
 * called to move them on (into a spool): a long document then costs a
 * small buffer, not its size. flush empties b and returns 0, or returns
 * -1 and the writer fails. Set right after jw_init.
 */
#define JW_FLUSH_AT ((size_t)64 * 1024)
void jw_flush_to(struct jw *w, int (*flush)(void *cls, struct buf *b), void *cls);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
/* Member name; the next value written belongs to it. */
void jw_key(struct jw *w, const char *key);
/* Strings are escaped; bytes that are not valid UTF-8 become U+FFFD. */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* Already-encoded JSON text as the next value (caller guarantees validity). */
void jw_raw(struct jw *w, const char *json);
/* The same with a length. */
void jw_rawn(struct jw *w, const char *json, size_t n);
/* A parsed value (json_parse's tree, or one built alike) written back;
 * its depth counts against JSON_DEPTH_MAX like any other. A number that
 * is no int64 is written as its text came (num), so one past a double's
 * range or precision (1e400, 20 digits, -0.0) comes back as given, not
 * null or rounded (JMAP's Core/echo, RFC 8620 §4.1). */
void jw_value(struct jw *w, const struct json_value *v);
/* Shortcuts: key then value. */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kuint(struct jw *w, const char *key, uint64_t v);
void jw_kbool(struct jw *w, const char *key, int v);
/* 1 when a write did not fit the buffer's maximum. */
static inline int jw_failed(const struct jw *w) { return w->failed; }

#endif
