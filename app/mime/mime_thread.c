/*
 * mime_thread.c — base subjects, msg-ids and the RFC 5256 threading
 * algorithms (see mime_thread.h).
 */
#include "mime/mime_thread.h"

#include <stdlib.h>
#include <string.h>

#include "core/msort.h"
#include "core/unorm.h"
#include "core/xalloc.h"
#include "mime/rfc5322.h"

#define SUBJECT_MAX (64 * 1024)

/* ---- case fold ---- */

/* The small letter of a two-octet code point (U+0080..U+07FF), or cp. */
static uint32_t fold2(uint32_t cp)
{
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
		return cp + 0x20; /* Latin-1 */
	if (cp >= 0x100 && cp <= 0x17f) {
		/* Latin Extended-A: pairs, upper first, except where the pairs
		 * start on an odd code point. */
		if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
			return (cp & 1) ? cp + 1 : cp;
		if (cp == 0x178)
			return 0xff;
		if (cp == 0x130 || cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17f)
			return cp;
		return (cp & 1) ? cp : cp + 1;
	}
	if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
		return cp + 0x20; /* Greek */
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 0x20; /* Cyrillic */
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	return cp;
}

void mime_casefold(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z') {
			p[i] = (char)(c + 32);
		} else if (c >= 0xc2 && c <= 0xdf && i + 1 < n &&
			   ((unsigned char)p[i + 1] & 0xc0) == 0x80) {
			uint32_t cp = ((uint32_t)(c & 0x1f) << 6) | ((unsigned char)p[i + 1] & 0x3f);
			uint32_t lc = fold2(cp);
			/* Every fold above stays within U+0080..U+07FF. */
			p[i] = (char)(0xc0 | (lc >> 6));
			p[i + 1] = (char)(0x80 | (lc & 0x3f));
			i++;
		}
	}
}

char *mime_sortkey(const char *in, size_t n, size_t *len_r)
{
	char *r = xmalloc(UNORM_KD_GROWTH * n + 1);
	size_t l = unorm_casemap(in, n, r);
	r[l] = '\0';
	*len_r = l;
	return r;
}

int mime_sortkey_cmp(struct str a, struct str b)
{
	size_t l = a.len < b.len ? a.len : b.len;
	int r = l ? memcmp(a.p, b.p, l) : 0;
	if (r)
		return r < 0 ? -1 : 1;
	return a.len < b.len ? -1 : a.len > b.len;
}

int mime_collate(struct str a, struct str b)
{
	size_t l = a.len < b.len ? a.len : b.len;

	for (size_t i = 0; i < l; i++) {
		unsigned x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		x -= x >= 'a' && x <= 'z' ? 32 : 0;
		y -= y >= 'a' && y <= 'z' ? 32 : 0;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return a.len < b.len ? -1 : a.len > b.len;
}

int mime_collate_numeric(struct str a, struct str b)
{
	size_t na = 0, nb = 0, za = 0, zb = 0;
	while (na < a.len && a.p[na] >= '0' && a.p[na] <= '9')
		na++;
	while (nb < b.len && b.p[nb] >= '0' && b.p[nb] <= '9')
		nb++;
	if (!na || !nb)
		return !na - !nb; /* no number: +infinity */
	while (za + 1 < na && a.p[za] == '0')
		za++;
	while (zb + 1 < nb && b.p[zb] == '0')
		zb++;
	if (na - za != nb - zb)
		return na - za < nb - zb ? -1 : 1;
	int r = memcmp(a.p + za, b.p + zb, na - za);
	return r < 0 ? -1 : r > 0;
}

/* ---- base subject ---- */

static int ci_prefix(const char *p, size_t n, const char *w)
{
	size_t l = strlen(w);
	if (n < l)
		return 0;
	for (size_t i = 0; i < l; i++)
		if ((p[i] | (p[i] >= 'A' && p[i] <= 'Z' ? 0x20 : 0)) != w[i])
			return 0;
	return 1;
}

/* Length of a subj-blob ("[" *BLOBCHAR "]" *WSP) at p, or 0. */
static size_t blob_len(const char *p, size_t n)
{
	size_t i = 1;
	if (n == 0 || p[0] != '[')
		return 0;
	while (i < n && p[i] != '[' && p[i] != ']')
		i++;
	if (i >= n || p[i] != ']')
		return 0;
	for (i++; i < n && p[i] == ' '; i++)
		;
	return i;
}

/* Length of a subj-refwd ("re" / "fw" ["d"]) *WSP [subj-blob] ":") at p, or 0. */
static size_t refwd_len(const char *p, size_t n)
{
	size_t i;
	if (ci_prefix(p, n, "re"))
		i = 2;
	else if (ci_prefix(p, n, "fwd"))
		i = 3;
	else if (ci_prefix(p, n, "fw"))
		i = 2;
	else
		return 0;
	while (i < n && p[i] == ' ')
		i++;
	i += blob_len(p + i, n - i);
	return i < n && p[i] == ':' ? i + 1 : 0;
}

/* Length of a subj-leader at p ((*subj-blob subj-refwd) / WSP), or 0. */
static size_t leader_len(const char *p, size_t n, int *reply)
{
	size_t i = 0, b;
	if (n && p[0] == ' ')
		return 1;
	while ((b = blob_len(p + i, n - i)) != 0)
		i += b;
	size_t r = refwd_len(p + i, n - i);
	if (!r)
		return 0;
	*reply = 1;
	return i + r;
}

int mime_base_subject(struct str subject, struct buf *out, int *reply_r)
{
	struct buf dec;
	int reply = 0;

	if (reply_r)
		*reply_r = 0;
	if (!subject.p)
		return 0;
	/* (1) decode, and every run of white space becomes one space */
	buf_init(&dec, SUBJECT_MAX);
	rfc5322_decode_words(subject, &dec); /* a prefix past the cap */
	char *s = buf_data(&dec);
	size_t n = 0;
	for (size_t i = 0; i < buf_len(&dec); i++) {
		char c = s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
		if (c == ' ' && (n == 0 || s[n - 1] == ' '))
			continue;
		s[n++] = c;
	}
	size_t st = 0, en = n;
	for (;;) {
		/* (2) trailing "(fwd)" and white space */
		for (;;) {
			if (en > st && s[en - 1] == ' ') {
				en--;
			} else if (en - st >= 5 && ci_prefix(s + en - 5, 5, "(fwd)")) {
				en -= 5;
				reply = 1;
			} else {
				break;
			}
		}
		/* (3)-(5) leaders and blobs */
		for (int changed = 1; changed;) {
			changed = 0;
			size_t l;
			while ((l = leader_len(s + st, en - st, &reply)) != 0) {
				st += l;
				changed = 1;
			}
			l = blob_len(s + st, en - st);
			if (l && st + l < en) {
				st += l;
				changed = 1;
			}
		}
		/* (6) "[fwd: ... ]" */
		if (en - st >= 6 && ci_prefix(s + st, en - st, "[fwd:") && s[en - 1] == ']') {
			st += 5;
			en -= 1;
			reply = 1;
			continue;
		}
		break;
	}
	while (st < en && s[st] == ' ')
		st++;
	mime_casefold(s + st, en - st);
	int r = buf_append(out, s + st, en - st);
	buf_free(&dec);
	if (reply_r)
		*reply_r = reply;
	return r < 0 ? -1 : 0;
}

/* ---- msg-ids ---- */

/* The index of the quote closing the quoted string opened at v.p[i], or
 * v.len when it is not closed. */
static size_t quoted_end(struct str v, size_t i)
{
	for (i++; i < v.len; i++) {
		if (v.p[i] == '\\')
			i++;
		else if (v.p[i] == '"')
			return i;
	}
	return v.len;
}

/*
 * The end ('>') of the msg-id opened at v.p[i] == '<', or 0 when there is
 * none: no white space or '<' but inside a quoted local part
 * (<"a b"@x>), at least one octet, at most 998.
 */
static size_t msgid_end(struct str v, size_t i)
{
	size_t j = i + 1;

	while (j < v.len && v.p[j] != '>' && v.p[j] != '<') {
		if (v.p[j] == '"') {
			size_t q = quoted_end(v, j);
			if (q < v.len) {
				j = q + 1;
				continue;
			}
		}
		if ((unsigned char)v.p[j] <= ' ')
			return 0;
		j++;
	}
	if (j >= v.len || v.p[j] != '>' || j == i + 1 || j - i + 1 > 998)
		return 0;
	return j;
}

/* Reverses ids[0..n). */
static void ids_reverse(struct str *ids, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct str t = ids[i];
		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
}

/*
 * The ids are kept in a ring of max slots (slot n % max for the n-th), so
 * an id past max costs one store: moving the kept ones down for each
 * (100 slices an id) made a References header of 10,000 ids twice as
 * slow to read. At the end the ring is turned so the oldest kept is first.
 */
size_t mime_msgids(struct str v, struct str *ids, size_t max)
{
	size_t n = 0, depth = 0;

	if (!v.p || max == 0)
		return 0;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.p[i];
		if (depth) { /* a comment: ids inside do not count */
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (c == '"') {
			/* A phrase (obsolete In-Reply-To, RFC 5322 §4.5.4): an id
			 * or a '(' inside is text. An unclosed quote is taken as
			 * a stray octet, so the ids after it still count. */
			size_t q = quoted_end(v, i);
			if (q < v.len)
				i = q;
			continue;
		}
		if (c != '<')
			continue;
		size_t j = msgid_end(v, i);
		if (j == 0)
			continue;
		ids[n++ % max] = str_make(v.p + i, j - i + 1); /* keep the last ones */
		i = j;
	}
	if (n <= max)
		return n;
	size_t first = n % max; /* the oldest kept: rotate it to ids[0] */
	ids_reverse(ids, first);
	ids_reverse(ids + first, max - first);
	ids_reverse(ids, max);
	return max;
}

size_t mime_msgid_norm(struct str id, char *out)
{
	size_t n = 0;
	int quoted = 0;

	for (size_t i = 0; i < id.len; i++) {
		char c = id.p[i];
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && c == '\\' && i + 1 < id.len)
			c = id.p[++i];
		out[n++] = c;
	}
	return n;
}

/* ---- containers ---- */

#define NONE UINT32_MAX

struct box {
	uint32_t msg; /* index into m, or NONE for a dummy */
	uint32_t parent, child, next, prev;
	int64_t date; /* for sorting */
};

struct forest {
	struct box *b;
	size_t n, cap;
	uint32_t root; /* a dummy holding the root set */
};

static uint32_t box_new(struct forest *f, uint32_t msg)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->b = xrealloc(f->b, f->cap * sizeof(*f->b));
	}
	f->b[f->n] = (struct box){ .msg = msg, .parent = NONE, .child = NONE, .next = NONE,
				   .prev = NONE };
	return (uint32_t)f->n++;
}

static void unlink_box(struct forest *f, uint32_t x)
{
	struct box *b = &f->b[x];
	if (b->parent == NONE)
		return;
	if (b->prev != NONE)
		f->b[b->prev].next = b->next;
	else
		f->b[b->parent].child = b->next;
	if (b->next != NONE)
		f->b[b->next].prev = b->prev;
	b->parent = b->next = b->prev = NONE;
}

/* Makes x the last child of p (x has no parent). */
static void add_child(struct forest *f, uint32_t p, uint32_t x)
{
	uint32_t *link = &f->b[p].child, prev = NONE;
	while (*link != NONE) {
		prev = *link;
		link = &f->b[*link].next;
	}
	*link = x;
	f->b[x].prev = prev;
	f->b[x].parent = p;
	f->b[x].next = NONE;
}

/* 1 when a is x or an ancestor of x. */
static int is_ancestor(const struct forest *f, uint32_t a, uint32_t x)
{
	for (; x != NONE; x = f->b[x].parent)
		if (x == a)
			return 1;
	return 0;
}

/* msg-id -> box, open addressing over the ids' octets. */
struct idmap {
	struct str *key;
	uint32_t *val;
	size_t cap;
};

static uint64_t hash(struct str s)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 1099511628211ull;
	return h;
}

/* The slot of k: its box, or NONE where it would go. */
static uint32_t *idmap_slot(struct idmap *m, struct str k)
{
	size_t i = (size_t)hash(k) & (m->cap - 1);
	while (m->val[i] != NONE && !str_eq(m->key[i], k))
		i = (i + 1) & (m->cap - 1);
	m->key[i] = k;
	return &m->val[i];
}

static uint32_t box_for_id(struct forest *f, struct idmap *m, struct str id)
{
	uint32_t *slot = idmap_slot(m, id);
	if (*slot == NONE)
		*slot = box_new(f, NONE);
	return *slot;
}

/* Date of a box for sorting: its message's, or its first child's. */
static int64_t box_date(const struct forest *f, const struct mime_thread_msg *m, uint32_t x)
{
	const struct box *b = &f->b[x];
	if (b->msg != NONE)
		return m[b->msg].sent;
	return b->child != NONE ? f->b[b->child].date : 0;
}

static uint32_t box_order(const struct forest *f, uint32_t x)
{
	const struct box *b = &f->b[x];
	while (b->msg == NONE && b->child != NONE)
		b = &f->b[b->child];
	return b->msg == NONE ? UINT32_MAX : b->msg;
}

static int cmp_box(const void *ctx, uint32_t a, uint32_t b)
{
	const struct forest *f = ctx;
	const struct box *x = &f->b[a], *y = &f->b[b];
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	uint32_t ox = box_order(f, a), oy = box_order(f, b);
	return ox < oy ? -1 : ox > oy;
}

/* Boxes under x in post-order (children before parents), x last. */
static uint32_t *post_order(const struct forest *f, uint32_t x, size_t *n_r)
{
	uint32_t *out = xmalloc(f->n * sizeof(*out)), *stack = xmalloc(f->n * sizeof(*stack));
	size_t n = 0, sp = 0;

	/* Reverse pre-order with children pushed in order gives the reverse
	 * of a post-order; it is reversed at the end. */
	stack[sp++] = x;
	while (sp) {
		uint32_t y = stack[--sp];
		out[n++] = y;
		for (uint32_t c = f->b[y].child; c != NONE; c = f->b[c].next)
			stack[sp++] = c;
	}
	for (size_t i = 0; i < n / 2; i++) {
		uint32_t t = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	free(stack);
	*n_r = n;
	return out;
}

/* Sorts every sibling list under the root by date, dummies by their
 * (earliest) first child, ties by input order. */
static void sort_all(struct forest *f, const struct mime_thread_msg *m)
{
	size_t n;
	uint32_t *po = post_order(f, f->root, &n);
	uint32_t *kids = xmalloc(f->n * sizeof(*kids));

	for (size_t i = 0; i < n; i++) {
		uint32_t x = po[i];
		size_t k = 0;
		for (uint32_t c = f->b[x].child; c != NONE; c = f->b[c].next)
			kids[k++] = c;
		msort_u32(kids, k, cmp_box, f);
		f->b[x].child = k ? kids[0] : NONE;
		for (size_t j = 0; j < k; j++) {
			f->b[kids[j]].prev = j ? kids[j - 1] : NONE;
			f->b[kids[j]].next = j + 1 < k ? kids[j + 1] : NONE;
		}
		f->b[x].date = box_date(f, m, x);
	}
	free(kids);
	free(po);
}

/* Writes the threads under the root. */
static int write_forest(const struct forest *f, const struct mime_thread_msg *m, struct buf *out)
{
	/* Stack entries: a box to write (value), or a literal ")" / "(" /
	 * " (" (NONE - 1, NONE - 2, NONE - 3). */
	const uint32_t CLOSE = NONE - 1, OPEN = NONE - 2, SP_OPEN = NONE - 3;
	uint32_t *stack = xmalloc((3 * f->n + 4) * sizeof(*stack));
	int rc = 0;

	for (uint32_t r = f->b[f->root].child; r != NONE && rc == 0; r = f->b[r].next) {
		size_t sp = 0;
		stack[sp++] = CLOSE;
		stack[sp++] = r;
		stack[sp++] = OPEN;
		while (sp && rc == 0) {
			uint32_t x = stack[--sp];
			if (x == CLOSE || x == OPEN || x == SP_OPEN) {
				rc = buf_append_c(out, x == CLOSE ? ")" : x == OPEN ? "(" : " (");
				continue;
			}
			const struct box *b = &f->b[x];
			size_t k = 0;
			for (uint32_t c = b->child; c != NONE; c = f->b[c].next)
				k++;
			if (b->msg != NONE)
				rc = buf_printf(out, "%u", m[b->msg].num);
			if (b->msg != NONE && k == 1) {
				/* a chain: " child" continues the thread-members */
				rc = rc ? rc : buf_append_c(out, " ");
				stack[sp++] = b->child;
				continue;
			}
			/* thread-nested: each child in parentheses, pushed in reverse */
			uint32_t last = NONE;
			for (uint32_t c = b->child; c != NONE; c = f->b[c].next)
				last = c;
			for (uint32_t c = last; c != NONE; c = f->b[c].prev) {
				stack[sp++] = CLOSE;
				stack[sp++] = c;
				stack[sp++] = c == b->child && b->msg != NONE ? SP_OPEN : OPEN;
			}
		}
	}
	free(stack);
	return rc < 0 ? -1 : 0;
}

/* ---- REFERENCES ---- */

/* The message whose subject a root box stands for. */
static const struct mime_thread_msg *box_msg(const struct forest *f,
					     const struct mime_thread_msg *m, uint32_t x)
{
	const struct box *b = &f->b[x];
	if (b->msg == NONE && b->child != NONE)
		b = &f->b[b->child];
	return b->msg == NONE ? NULL : &m[b->msg];
}

int mime_thread_references(const struct mime_thread_msg *m, size_t n, struct buf *out)
{
	struct forest f = { 0 };
	struct idmap map;
	size_t nids = n;

	for (size_t i = 0; i < n; i++)
		nids += m[i].nrefs;
	map.cap = 16;
	while (map.cap < 2 * nids + 2)
		map.cap *= 2;
	map.key = xcalloc(map.cap, sizeof(*map.key));
	map.val = xmalloc(map.cap * sizeof(*map.val));
	memset(map.val, 0xff, map.cap * sizeof(*map.val));

	/* (1) containers and links */
	for (size_t i = 0; i < n; i++) {
		uint32_t self;
		if (m[i].msgid.len == 0) {
			self = box_new(&f, (uint32_t)i);
		} else {
			self = box_for_id(&f, &map, m[i].msgid);
			if (f.b[self].msg != NONE) /* a duplicate id: a message of its own */
				self = box_new(&f, (uint32_t)i);
			else
				f.b[self].msg = (uint32_t)i;
		}
		uint32_t prev = NONE;
		for (size_t r = 0; r < m[i].nrefs; r++) {
			uint32_t ref = box_for_id(&f, &map, m[i].refs[r]);
			/* (A) link consecutive references unless already linked or a loop */
			if (prev != NONE && f.b[ref].parent == NONE && !is_ancestor(&f, ref, prev))
				add_child(&f, prev, ref);
			prev = ref;
		}
		/* (B) the last reference is the parent */
		if (prev != NONE && (prev == self || is_ancestor(&f, self, prev)))
			prev = NONE; /* would make a loop */
		if (f.b[self].parent != prev) {
			unlink_box(&f, self);
			if (prev != NONE)
				add_child(&f, prev, self);
		}
	}
	free(map.key);
	free(map.val);

	/* (2) the root set, under one dummy root */
	f.root = box_new(&f, NONE);
	for (uint32_t x = 0; x < f.root; x++)
		if (f.b[x].parent == NONE)
			add_child(&f, f.root, x);

	/* (3) prune dummies, children first */
	size_t np;
	uint32_t *po = post_order(&f, f.root, &np);
	for (size_t i = 0; i < np; i++) {
		uint32_t x = po[i], p = f.b[x].parent;
		if (x == f.root || f.b[x].msg != NONE)
			continue;
		if (f.b[x].child == NONE) {
			unlink_box(&f, x);
			continue;
		}
		/* Promote the children, unless that would put several at the
		 * root: then the dummy stays and holds them. */
		if (p == f.root && f.b[f.b[x].child].next != NONE)
			continue;
		uint32_t c = f.b[x].child, after = x;
		while (c != NONE) {
			uint32_t next = f.b[c].next;
			unlink_box(&f, c);
			/* insert c after 'after' in p's list */
			f.b[c].parent = p;
			f.b[c].prev = after;
			f.b[c].next = f.b[after].next;
			if (f.b[after].next != NONE)
				f.b[f.b[after].next].prev = c;
			f.b[after].next = c;
			after = c;
			c = next;
		}
		unlink_box(&f, x);
	}
	free(po);

	/* (4) sort the roots by date */
	sort_all(&f, m);

	/* (5) group the roots by base subject */
	size_t nroots = 0;
	for (uint32_t r = f.b[f.root].child; r != NONE; r = f.b[r].next)
		nroots++;
	struct idmap subj;
	subj.cap = 16;
	while (subj.cap < 2 * nroots + 2)
		subj.cap *= 2;
	subj.key = xcalloc(subj.cap, sizeof(*subj.key));
	subj.val = xmalloc(subj.cap * sizeof(*subj.val));
	memset(subj.val, 0xff, subj.cap * sizeof(*subj.val));
	for (uint32_t r = f.b[f.root].child; r != NONE; r = f.b[r].next) {
		const struct mime_thread_msg *mm = box_msg(&f, m, r);
		if (!mm || mm->base.len == 0)
			continue;
		uint32_t *slot = idmap_slot(&subj, mm->base);
		if (*slot == NONE) {
			*slot = r;
			continue;
		}
		/* Prefer a dummy, then a message that is not a reply. */
		const struct box *old = &f.b[*slot];
		const struct mime_thread_msg *om = box_msg(&f, m, *slot);
		if ((f.b[r].msg == NONE && old->msg != NONE) ||
		    (old->msg != NONE && f.b[r].msg != NONE && om->reply && !mm->reply))
			*slot = r;
	}
	for (uint32_t r = f.b[f.root].child, next; r != NONE; r = next) {
		next = f.b[r].next;
		const struct mime_thread_msg *mm = box_msg(&f, m, r);
		if (!mm || mm->base.len == 0)
			continue;
		uint32_t t = *idmap_slot(&subj, mm->base);
		if (t == r)
			continue;
		if (f.b[t].msg == NONE && f.b[r].msg == NONE) {
			/* two dummies: r's children join t */
			while (f.b[r].child != NONE) {
				uint32_t c = f.b[r].child;
				unlink_box(&f, c);
				add_child(&f, t, c);
			}
			unlink_box(&f, r);
		} else if (f.b[t].msg == NONE) {
			unlink_box(&f, r);
			add_child(&f, t, r);
		} else if (!m[f.b[t].msg].reply && mm->reply) {
			unlink_box(&f, r);
			add_child(&f, t, r);
		} else {
			/* neither is the other's reply: both under a new dummy,
			 * which takes t's place in the table and the root set */
			uint32_t d = box_new(&f, NONE);
			f.b[d].parent = f.root;
			f.b[d].prev = f.b[t].prev;
			f.b[d].next = f.b[t].next;
			if (f.b[t].prev != NONE)
				f.b[f.b[t].prev].next = d;
			else
				f.b[f.root].child = d;
			if (f.b[t].next != NONE)
				f.b[f.b[t].next].prev = d;
			if (next == t)
				next = d;
			f.b[t].parent = f.b[t].prev = f.b[t].next = NONE;
			add_child(&f, d, t);
			unlink_box(&f, r);
			add_child(&f, d, r);
			*idmap_slot(&subj, mm->base) = d;
		}
	}
	free(subj.key);
	free(subj.val);

	/* (6) every sibling list by date */
	sort_all(&f, m);
	int rc = write_forest(&f, m, out);
	free(f.b);
	return rc;
}

/* ---- ORDEREDSUBJECT ---- */

static int cmp_subject(const void *ctx, uint32_t a, uint32_t b)
{
	const struct mime_thread_msg *x = (const struct mime_thread_msg *)ctx + a;
	const struct mime_thread_msg *y = (const struct mime_thread_msg *)ctx + b;
	/* The octets, as SORT compares and as str_eq() groups below: under
	 * mime_collate() a key holding small ASCII (NFKD of a ligature or a
	 * superscript) tied with its capitals, interleaved with them by
	 * date, and one base subject made several threads. */
	int c = mime_sortkey_cmp(x->base, y->base);
	if (c)
		return c;
	if (x->sent != y->sent)
		return x->sent < y->sent ? -1 : 1;
	return a < b ? -1 : a > b;
}

int mime_thread_orderedsubject(const struct mime_thread_msg *m, size_t n, struct buf *out)
{
	struct forest f = { 0 };
	uint32_t *ord = xmalloc((n ? n : 1) * sizeof(*ord));

	for (size_t i = 0; i < n; i++)
		ord[i] = (uint32_t)i;
	msort_u32(ord, n, cmp_subject, m);
	for (size_t i = 0; i < n; i++)
		box_new(&f, (uint32_t)i);
	f.root = box_new(&f, NONE);
	uint32_t head = NONE;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = ord[i];
		if (head != NONE && str_eq(m[head].base, m[x].base)) {
			add_child(&f, head, x);
		} else {
			head = x;
			add_child(&f, f.root, x);
		}
	}
	free(ord);
	sort_all(&f, m); /* threads by their first message's date */
	int rc = write_forest(&f, m, out);
	free(f.b);
	return rc;
}
