/*
 * jmap_pointer.c — JSON Pointer (RFC 6901) as JMAP's result references
 * use it (RFC 8620 §3.7): a "*" token on an array applies the rest of the
 * path to each item, and items that come out as arrays are flattened into
 * the result. New nodes come from the arena; the tree is never changed.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "jmap/jmap_private.h"

/* The next token of *p (after its "/") unescaped into a fresh string;
 * NULL when a "~" is not "~0" or "~1" (RFC 6901 §3: no valid pointer). */
static char *token(struct arena *a, const char **p)
{
	const char *s = *p + 1, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	char *t = arena_alloc(a, n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '~') {
			if (i + 1 == n || (s[i + 1] != '0' && s[i + 1] != '1'))
				return NULL;
			t[k++] = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			t[k++] = s[i];
		}
	}
	t[k] = '\0';
	*p = s + n;
	return t;
}

static int index_of(const char *t, size_t *i_r)
{
	size_t v = 0;

	if (!*t || (t[0] == '0' && t[1]))
		return -1;
	for (; *t; t++) {
		if (*t < '0' || *t > '9' || v > 100000000)
			return -1;
		v = v * 10 + (size_t)(*t - '0');
	}
	*i_r = v;
	return 0;
}

static struct json_value *copy_node(struct arena *a, const struct json_value *v)
{
	struct json_value *n = arena_alloc(a, sizeof *n);
	*n = *v;
	n->next = NULL;
	n->key = NULL;
	return n;
}

static int walk(struct arena *a, const struct json_value *v, const char *p, int depth,
		const struct json_value **out_r)
{
	if (depth > JSON_DEPTH_MAX)
		return -1;
	if (*p == '\0') {
		*out_r = v;
		return 0;
	}
	if (*p != '/')
		return -1;
	char *t = token(a, &p);
	if (!t)
		return -1;
	if (v->type == JSON_OBJECT) {
		const struct json_value *m = json_get(v, t);
		return m ? walk(a, m, p, depth + 1, out_r) : -1;
	}
	if (v->type != JSON_ARRAY)
		return -1;
	if (strcmp(t, "*") != 0) {
		size_t i;
		const struct json_value *e = v->first;
		if (index_of(t, &i) < 0)
			return -1;
		while (e && i--)
			e = e->next;
		return e ? walk(a, e, p, depth + 1, out_r) : -1;
	}
	struct json_value *arr = arena_zalloc(a, sizeof *arr), **tail = &arr->first;
	arr->type = JSON_ARRAY;
	for (const struct json_value *e = v->first; e; e = e->next) {
		const struct json_value *r;
		if (walk(a, e, p, depth + 1, &r) < 0)
			return -1;
		if (r->type == JSON_ARRAY) {
			for (const struct json_value *x = r->first; x; x = x->next) {
				*tail = copy_node(a, x);
				tail = &(*tail)->next;
				arr->count++;
			}
		} else {
			*tail = copy_node(a, r);
			tail = &(*tail)->next;
			arr->count++;
		}
	}
	*out_r = arr;
	return 0;
}

int jmap_pointer(struct arena *a, const struct json_value *root, const char *path,
		 const struct json_value **out_r)
{
	return walk(a, root, path, 0, out_r);
}

static int cmp_key(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * The keys are sorted once so that "is this prefix also a key" is a
 * binary search: n log n however many paths a patch holds (a request may
 * carry tens of thousands).
 */
static const char **sorted_keys(struct arena *a, const struct json_value *patch, size_t *n_r)
{
	const char **keys = arena_alloc(a, (patch->count + 1) * sizeof *keys);
	size_t n = 0;

	for (const struct json_value *m = patch->first; m; m = m->next)
		keys[n++] = m->key;
	if (n)
		qsort(keys, n, sizeof *keys, cmp_key);
	*n_r = n;
	return keys;
}

/* Whether k's first plen octets, as written, are a key too: a binary
 * search of keys (sorted by strcmp) with no copy of the prefix. */
static int prefix_is_key(const char **keys, size_t n, const char *k, size_t plen)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strncmp(keys[mid], k, plen);
		if (d == 0 && keys[mid][plen] == '\0')
			return 1;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid; /* d > 0, or keys[mid] is longer than the prefix */
	}
	return 0;
}

/* A path of more parts than JSON nests objects (JSON_DEPTH_MAX) names
 * nothing that exists; refusing it bounds the work to that many
 * prefixes a key. */
int jmap_patch_prefix_check(struct arena *a, const struct json_value *patch, const char **desc_r)
{
	size_t n;
	const char **keys = sorted_keys(a, patch, &n);

	for (size_t i = 0; i < n; i++) {
		int parts = 0;
		for (const char *sl = strchr(keys[i], '/'); sl; sl = strchr(sl + 1, '/')) {
			if (++parts > JSON_DEPTH_MAX) {
				*desc_r = "a path deeper than any object";
				return -1;
			}
			if (prefix_is_key(keys, n, keys[i], (size_t)(sl - keys[i]))) {
				*desc_r = "a property and a path into it both set";
				return -1;
			}
		}
	}
	return 0;
}

int jmap_patch_check(struct arena *a, const struct json_value *cur, const struct json_value *patch,
		     const char **desc_r)
{
	size_t n;
	const char **keys = sorted_keys(a, patch, &n);

	for (size_t i = 0; i < n; i++) {
		const char *k = keys[i];
		const struct json_value *v = cur;
		if (!strchr(k, '/'))
			continue;
		/* token() reads from a "/": "/" + k walks k's parts. */
		size_t len = strlen(k);
		char *path = arena_alloc(a, len + 2);
		const char *p = path;
		path[0] = '/';
		memcpy(path + 1, k, len + 1);
		for (;;) {
			char *t = token(a, &p);
			if (!t) {
				*desc_r = "a \"~\" that is not \"~0\" or \"~1\"";
				return -1;
			}
			if (!*p)
				break; /* the last part need not exist: it is set or removed */
			/* k up to here, as written: a key of its own too? */
			if (prefix_is_key(keys, n, k, (size_t)(p - path) - 1)) {
				*desc_r = "a property and a path into it both set";
				return -1;
			}
			const struct json_value *m =
			    v && v->type == JSON_OBJECT ? json_get(v, t) : NULL;
			if (m && m->type == JSON_ARRAY) {
				*desc_r = "a path into an array (it is replaced whole)";
				return -1;
			}
			if (!m || m->type != JSON_OBJECT) {
				*desc_r = "a path through something that is not an object";
				return -1;
			}
			v = m;
		}
	}
	return 0;
}

int jmap_json_same(const struct json_value *x, const struct json_value *y)
{
	if (x->type != y->type)
		return 0;
	switch (x->type) {
	case JSON_NULL: return 1;
	case JSON_BOOL: return !x->boolean == !y->boolean;
	case JSON_NUMBER:
		return x->is_int && y->is_int ? x->integer == y->integer : x->number == y->number;
	case JSON_STRING: return x->len == y->len && memcmp(x->str, y->str, x->len) == 0;
	case JSON_ARRAY:
		if (x->count != y->count)
			return 0;
		for (x = x->first, y = y->first; x && y; x = x->next, y = y->next)
			if (!jmap_json_same(x, y))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (x->count != y->count)
			return 0;
		for (const struct json_value *m = x->first; m; m = m->next) {
			const struct json_value *o = json_get(y, m->key);
			if (!o || !jmap_json_same(m, o))
				return 0;
		}
		return 1;
	}
	return 0;
}

int jmap_patch_same(struct arena *a, const struct json_value *cur, const struct json_value *p)
{
	const struct json_value *v;

	if (!cur || strchr(p->key, '*'))
		return 0;
	return jmap_pointer(a, cur, arena_printf(a, "/%s", p->key), &v) == 0 &&
	       jmap_json_same(v, p);
}

const struct json_value *jmap_json_of(struct arena *a, const struct jw *w, const struct buf *b)
{
	char err[64];

	return jw_failed(w) ? NULL : json_parse(buf_data(b), buf_len(b), a, err, sizeof err);
}
