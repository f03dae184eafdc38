/*
 * mime_cache.c — binary record of a MIME tree (see mime_cache.h).
 */
#include "mime/mime_cache.h"

#include <string.h>

#include "core/varint.h"

/*
 * Strings that fill most records. Append only: a record refers to entries
 * by index. Case matters (values keep the case they were written in).
 */
static const char *const dict[] = {
    "text",
    "plain",
    "html",
    "multipart",
    "mixed",
    "alternative",
    "related",
    "signed",
    "encrypted",
    "report",
    "digest",
    "message",
    "rfc822",
    "global",
    "delivery-status",
    "disposition-notification",
    "application",
    "octet-stream",
    "pdf",
    "pkcs7-signature",
    "x-pkcs7-signature",
    "pkcs7-mime",
    "x-pkcs7-mime",
    "pgp-signature",
    "pgp-encrypted",
    "ms-tnef",
    "vnd.ms-tnef",
    "zip",
    "image",
    "jpeg",
    "png",
    "gif",
    "calendar",
    "audio",
    "video",
    "charset",
    "us-ascii",
    "utf-8",
    "UTF-8",
    "iso-8859-1",
    "ISO-8859-1",
    "windows-1252",
    "iso-8859-15",
    "format",
    "flowed",
    "delsp",
    "yes",
    "boundary",
    "name",
    "filename",
    "protocol",
    "micalg",
    "sha-256",
    "sha1",
    "sha-1",
    "method",
    "REQUEST",
    "type",
    "7bit",
    "8bit",
    "base64",
    "quoted-printable",
    "binary",
    "7BIT",
    "8BIT",
    "BASE64",
    "Quoted-printable",
    "inline",
    "attachment",
    "en-US",
    "en",
    "size",
    "creation-date",
    "modification-date",
    "reply-type",
    "original",
    "smime-type",
    "signed-data",
    "enveloped-data",
    "US-ASCII",
    "Windows-1252",
    "report-type",
    "application/pkcs7-signature",
    "application/pgp-signature",
    "MISSING_DOMAIN",
    "MISSING_MAILBOX",
    "rfc822-headers",
    "vnd.openxmlformats-officedocument.wordprocessingml.document",
    "msword",
    "x-zip-compressed",
    "json",
    "xml",
    "csv",
    "css",
    "javascript",
    "enriched",
    "x-vcard",
    "vcard",
    "svg+xml",
    "webp",
    "heic",
    "",
};
#define DICT_N (sizeof(dict) / sizeof(dict[0]))

/* bits above the part flags */
#define B_LINES (1u << 8)
#define B_BARE (1u << 9)
#define B_PARAMS (1u << 10)
#define B_ID (1u << 11)
#define B_DESC (1u << 12)
#define B_ENC (1u << 13)
#define B_MD5 (1u << 14)
#define B_LOC (1u << 15)
#define B_DISP (1u << 16)
#define B_LANG (1u << 17)
#define B_ENV (1u << 18)
#define B_ALL (MIME_PART_FLAGS | ((1u << 19) - (1u << 8)))

#define E_DATE 0x1u
#define E_SUBJECT 0x2u
#define E_IRT 0x4u
#define E_MSGID 0x8u
#define E_LIST0 0x10u /* from; then sender, reply-to, to, cc, bcc */
#define E_ALL 0x3FFu

#define A_NAME 0x1u
#define A_ADL 0x2u
#define A_MAILBOX 0x4u
#define A_HOST 0x8u

static int put_varint(struct buf *out, uint64_t v)
{
	unsigned char tmp[VARINT_MAX];
	return buf_append(out, tmp, varint_put(tmp, v));
}

static int put_str(struct buf *out, struct str s)
{
	size_t k;

	/* The first octet rules out nearly every entry before any strlen. */
	for (k = 0; k < DICT_N; k++)
		if (dict[k][0] == (s.len ? s.p[0] : '\0') && strlen(dict[k]) == s.len &&
		    (s.len == 0 || memcmp(dict[k], s.p, s.len) == 0))
			return put_varint(out, (uint64_t)k << 1 | 1);
	if (put_varint(out, (uint64_t)s.len << 1) < 0)
		return -1;
	return buf_append(out, s.p, s.len);
}

static int put_params(struct buf *out, const struct mime_param *v, uint32_t n)
{
	uint32_t i;

	if (put_varint(out, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (put_varint(out, v[i].flags & MIME_PARAM_FLAGS) < 0 ||
		    put_str(out, v[i].name) < 0 || put_str(out, v[i].value) < 0)
			return -1;
		if ((v[i].flags & MIME_PARAM_EXTENDED) &&
		    (put_str(out, v[i].charset) < 0 || put_str(out, v[i].language) < 0))
			return -1;
	}
	return 0;
}

static const struct mime_addrs *env_list(const struct mime_envelope *e, unsigned k)
{
	const struct mime_addrs *l[6] = {&e->from, &e->sender, &e->reply_to,
	                                 &e->to,   &e->cc,     &e->bcc};
	return l[k];
}

static int put_envelope(struct buf *out, const struct mime_envelope *e)
{
	const struct str *s[4] = {&e->date, &e->subject, &e->in_reply_to, &e->message_id};
	unsigned bits = 0, k;
	uint32_t i;

	for (k = 0; k < 4; k++)
		if (s[k]->p)
			bits |= 1u << k;
	for (k = 0; k < 6; k++)
		if (env_list(e, k)->n)
			bits |= E_LIST0 << k;
	if (put_varint(out, bits) < 0)
		return -1;
	for (k = 0; k < 4; k++)
		if (s[k]->p && put_str(out, *s[k]) < 0)
			return -1;
	for (k = 0; k < 6; k++) {
		const struct mime_addrs *l = env_list(e, k);

		if (l->n == 0)
			continue;
		if (put_varint(out, l->n) < 0)
			return -1;
		for (i = 0; i < l->n; i++) {
			const struct mime_address *ad = &l->v[i];
			unsigned ab = (ad->name.p ? A_NAME : 0) | (ad->adl.p ? A_ADL : 0) |
			              (ad->mailbox.p ? A_MAILBOX : 0) | (ad->host.p ? A_HOST : 0);

			if (put_varint(out, ab) < 0 || (ad->name.p && put_str(out, ad->name) < 0) ||
			    (ad->adl.p && put_str(out, ad->adl) < 0) ||
			    (ad->mailbox.p && put_str(out, ad->mailbox) < 0) ||
			    (ad->host.p && put_str(out, ad->host) < 0))
				return -1;
		}
	}
	return 0;
}

static int has_lines(const struct mime_part *p)
{
	return p->lines && (str_eq_ci_c(p->type, "text") || str_eq_ci_c(p->type, "message"));
}

int mime_cache_encode(const struct mime_tree *t, struct buf *out)
{
	unsigned char version = MIME_CACHE_VERSION;
	uint64_t prev_hdr = 0;
	uint32_t i, k;

	if (buf_append(out, &version, 1) < 0 || put_varint(out, t->flags & MIME_TREE_FLAGS) < 0 ||
	    put_varint(out, t->size) < 0 || put_varint(out, t->nparts) < 0)
		return -1;
	for (i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		uint32_t bits = p->flags & MIME_PART_FLAGS;

		bits |= has_lines(p) ? B_LINES : 0;
		bits |= p->hdr_bare_lf || p->body_bare_lf ? B_BARE : 0;
		bits |= p->nparams ? B_PARAMS : 0;
		bits |= p->id.p ? B_ID : 0;
		bits |= p->description.p ? B_DESC : 0;
		bits |= p->encoding.p ? B_ENC : 0;
		bits |= p->md5.p ? B_MD5 : 0;
		bits |= p->location.p ? B_LOC : 0;
		bits |= p->disposition.p ? B_DISP : 0;
		bits |= p->nlanguages ? B_LANG : 0;
		bits |= p->env ? B_ENV : 0;
		if (put_varint(out, bits) < 0)
			return -1;
		if (i > 0 && put_varint(out, i - p->parent) < 0)
			return -1;
		if (put_varint(out, p->hdr_off - prev_hdr) < 0 ||
		    put_varint(out, p->body_off - p->hdr_off) < 0 ||
		    put_varint(out, p->body_end - p->body_off) < 0)
			return -1;
		prev_hdr = p->hdr_off;
		if ((bits & B_LINES) && put_varint(out, p->lines) < 0)
			return -1;
		if ((bits & B_BARE) &&
		    (put_varint(out, p->hdr_bare_lf) < 0 || put_varint(out, p->body_bare_lf) < 0))
			return -1;
		if (put_str(out, p->type) < 0 || put_str(out, p->subtype) < 0)
			return -1;
		if ((bits & B_PARAMS) && put_params(out, p->params, p->nparams) < 0)
			return -1;
		if (((bits & B_ID) && put_str(out, p->id) < 0) ||
		    ((bits & B_DESC) && put_str(out, p->description) < 0) ||
		    ((bits & B_ENC) && put_str(out, p->encoding) < 0) ||
		    ((bits & B_MD5) && put_str(out, p->md5) < 0) ||
		    ((bits & B_LOC) && put_str(out, p->location) < 0))
			return -1;
		if ((bits & B_DISP) && (put_str(out, p->disposition) < 0 ||
		                        put_params(out, p->disp_params, p->ndisp_params) < 0))
			return -1;
		if (bits & B_LANG) {
			if (put_varint(out, p->nlanguages) < 0)
				return -1;
			for (k = 0; k < p->nlanguages; k++)
				if (put_str(out, p->languages[k]) < 0)
					return -1;
		}
		if ((bits & B_ENV) && put_envelope(out, p->env) < 0)
			return -1;
	}
	return 0;
}

struct rd {
	const unsigned char *p;
	size_t len, i;
	struct arena *a;
	int bad;
	int subject_only; /* mime_cache_root_subject(): stop after the strings */
};

static uint64_t get_varint_long(struct rd *r)
{
	uint64_t v;
	size_t n = varint_get(r->p + r->i, r->len - r->i, &v);

	if (n == 0) { /* cut short, or more than 64 bits */
		r->bad = 1;
		return 0;
	}
	r->i += n;
	return v;
}

/* Most varints of a record are one octet (flags, short lengths, dictionary
 * strings): that case inline, the rest in get_varint_long(). A SEARCH
 * reads a few dozen per message. */
static inline uint64_t get_varint(struct rd *r)
{
	if (r->i < r->len && !(r->p[r->i] & 0x80))
		return r->p[r->i++];
	return get_varint_long(r);
}

/* A count of items that each take at least min octets of what is left. */
static uint32_t get_count(struct rd *r, uint32_t max, size_t min)
{
	uint64_t n = get_varint(r);

	if (r->bad || n > max || n * min > r->len - r->i) {
		r->bad = 1;
		return 0;
	}
	return (uint32_t)n;
}

static struct str get_str(struct rd *r)
{
	uint64_t c = get_varint(r), n;

	if (r->bad)
		return str_make("", 0);
	if (c & 1) {
		if ((c >> 1) >= DICT_N) {
			r->bad = 1;
			return str_make("", 0);
		}
		return str_c(dict[c >> 1]);
	}
	n = c >> 1;
	if (n > r->len - r->i) {
		r->bad = 1;
		return str_make("", 0);
	}
	r->i += n;
	return str_make((const char *)r->p + r->i - n, (size_t)n);
}

static void get_params(struct rd *r, struct mime_param **v_r, uint32_t *n_r, int allow_empty)
{
	uint32_t n = get_count(r, MIME_PARAMS_MAX, 3), i;
	struct mime_param *v;

	*v_r = NULL;
	*n_r = 0;
	if (r->bad || (n == 0 && !allow_empty)) {
		r->bad = 1;
		return;
	}
	if (n == 0)
		return;
	v = arena_zalloc(r->a, n * sizeof(*v));
	for (i = 0; i < n && !r->bad; i++) {
		uint64_t f = get_varint(r);

		if (f & ~(uint64_t)MIME_PARAM_FLAGS ||
		    ((f & MIME_PARAM_UTF8) && !(f & MIME_PARAM_EXTENDED))) {
			r->bad = 1;
			break;
		}
		v[i].flags = (unsigned)f;
		v[i].name = get_str(r);
		v[i].value = get_str(r);
		if (f & MIME_PARAM_EXTENDED) {
			v[i].charset = get_str(r);
			v[i].language = get_str(r);
		}
	}
	*v_r = v;
	*n_r = n;
}

static struct mime_envelope *get_envelope(struct rd *r)
{
	struct mime_envelope *e = arena_zalloc(r->a, sizeof(*e));
	struct str *s[4] = {&e->date, &e->subject, &e->in_reply_to, &e->message_id};
	struct mime_addrs *l[6] = {&e->from, &e->sender, &e->reply_to, &e->to, &e->cc, &e->bcc};
	uint64_t bits = get_varint(r);
	unsigned k;
	uint32_t i, n;

	if (bits & ~(uint64_t)E_ALL)
		r->bad = 1;
	for (k = 0; k < 4 && !r->bad; k++)
		if (bits & (1u << k))
			*s[k] = get_str(r);
	if (r->subject_only)
		return e;
	for (k = 0; k < 6 && !r->bad; k++) {
		if (!(bits & (E_LIST0 << k)))
			continue;
		n = get_count(r, MIME_ADDRS_MAX + 1, 1);
		if (r->bad)
			break;
		l[k]->n = n;
		l[k]->v = n ? arena_zalloc(r->a, n * sizeof(*l[k]->v)) : NULL;
		for (i = 0; i < n && !r->bad; i++) {
			struct mime_address *ad = &l[k]->v[i];
			uint64_t ab = get_varint(r);

			if (ab & ~(uint64_t)(A_NAME | A_ADL | A_MAILBOX | A_HOST)) {
				r->bad = 1;
				break;
			}
			if (ab & A_NAME)
				ad->name = get_str(r);
			if (ab & A_ADL)
				ad->adl = get_str(r);
			if (ab & A_MAILBOX)
				ad->mailbox = get_str(r);
			if (ab & A_HOST)
				ad->host = get_str(r);
		}
	}
	return e;
}

/* 1 when a is b or one of b's ancestors. */
static int is_ancestor_or_self(const struct mime_part *parts, uint32_t a, uint32_t b)
{
	while (b != MIME_NONE) {
		if (b == a)
			return 1;
		b = parts[b].parent;
	}
	return 0;
}

static int get_part(struct rd *r, struct mime_tree *t, uint32_t i, uint32_t *last_child,
                    uint64_t *prev_hdr)
{
	struct mime_part *p = &t->parts[i];
	uint64_t bits = get_varint(r), v, hl, bl;
	uint32_t k;

	memset(p, 0, sizeof(*p));
	p->parent = MIME_NONE;
	p->next = MIME_NONE;
	if (r->bad || (bits & ~(uint64_t)B_ALL))
		return -1;
	p->flags = (uint16_t)(bits & MIME_PART_FLAGS);
	if ((p->flags & MIME_PART_MULTIPART) && (p->flags & MIME_PART_MESSAGE))
		return -1;
	if (i > 0) {
		struct mime_part *pp;

		v = get_varint(r);
		if (r->bad || v == 0 || v > i)
			return -1;
		p->parent = i - (uint32_t)v;
		pp = &t->parts[p->parent];
		/* Pre-order: the parent is the previous part or one of its
		 * ancestors; a message part has one child only. */
		if (!(pp->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) ||
		    ((pp->flags & MIME_PART_MESSAGE) && pp->nchildren) ||
		    !is_ancestor_or_self(t->parts, p->parent, i - 1) || pp->depth >= MIME_DEPTH_MAX)
			return -1;
		p->depth = (uint16_t)(pp->depth + 1);
	}
	v = get_varint(r);
	hl = get_varint(r);
	bl = get_varint(r);
	if (r->bad || v > t->size - *prev_hdr)
		return -1;
	p->hdr_off = *prev_hdr + v;
	if (hl > t->size - p->hdr_off)
		return -1;
	p->body_off = p->hdr_off + hl;
	if (bl > t->size - p->body_off)
		return -1;
	p->body_end = p->body_off + bl;
	*prev_hdr = p->hdr_off;
	if (i == 0) {
		if (p->hdr_off != 0 || p->body_end != t->size)
			return -1;
	} else {
		const struct mime_part *pp = &t->parts[p->parent];
		uint32_t prev = last_child[p->parent];

		if (p->hdr_off < pp->body_off || p->body_end > pp->body_end ||
		    (prev != MIME_NONE && p->hdr_off < t->parts[prev].body_end))
			return -1;
		if (prev != MIME_NONE)
			t->parts[prev].next = i;
		last_child[p->parent] = i;
		t->parts[p->parent].nchildren++;
	}
	if (bits & B_LINES)
		p->lines = get_varint(r);
	if (bits & B_BARE) {
		p->hdr_bare_lf = get_varint(r);
		p->body_bare_lf = get_varint(r);
		if (p->hdr_bare_lf > hl || p->body_bare_lf > bl)
			return -1;
	}
	p->type = get_str(r);
	p->subtype = get_str(r);
	if (bits & B_PARAMS)
		get_params(r, &p->params, &p->nparams, 0);
	if (bits & B_ID)
		p->id = get_str(r);
	if (bits & B_DESC)
		p->description = get_str(r);
	if (bits & B_ENC)
		p->encoding = get_str(r);
	if (bits & B_MD5)
		p->md5 = get_str(r);
	if (bits & B_LOC)
		p->location = get_str(r);
	if (bits & B_DISP) {
		p->disposition = get_str(r);
		get_params(r, &p->disp_params, &p->ndisp_params, 1);
	}
	if (bits & B_LANG) {
		p->nlanguages = get_count(r, MIME_LANGS_MAX, 1);
		if (r->bad || p->nlanguages == 0)
			return -1;
		p->languages = arena_alloc(r->a, p->nlanguages * sizeof(*p->languages));
		for (k = 0; k < p->nlanguages; k++)
			p->languages[k] = get_str(r);
	}
	/* Envelopes sit exactly on messages: the root and the child of a
	 * message part. */
	if (!!(bits & B_ENV) != (i == 0 || (t->parts[p->parent].flags & MIME_PART_MESSAGE)))
		return -1;
	if (bits & B_ENV)
		p->env = get_envelope(r);
	return r->bad ? -1 : 0;
}

static void empty_tree(struct arena *a, struct mime_tree *t)
{
	struct mime_part *p = arena_zalloc(a, sizeof(*p));

	p->parent = MIME_NONE;
	p->next = MIME_NONE;
	p->type = str_c(dict[0]);
	p->subtype = str_c(dict[1]);
	p->flags = MIME_PART_DEFAULT_TYPE;
	p->env = arena_zalloc(a, sizeof(*p->env));
	t->parts = p;
	t->nparts = 1;
	t->flags = 0;
	t->size = 0;
}

int mime_cache_decode(const void *p, size_t len, struct arena *a, struct mime_tree *t)
{
	struct rd r = {p, len, 1, a, 0, 0};
	uint32_t *last_child, i;
	uint64_t prev_hdr = 0, tflags;

	memset(t, 0, sizeof(*t));
	if (len < 1 || r.p[0] != MIME_CACHE_VERSION)
		goto bad;
	tflags = get_varint(&r);
	if (tflags & ~(uint64_t)MIME_TREE_FLAGS)
		goto bad;
	t->flags = (uint32_t)tflags;
	t->size = get_varint(&r);
	/* Each part takes at least 6 octets. */
	t->nparts = get_count(&r, MIME_PARTS_MAX, 6);
	if (r.bad || t->nparts == 0)
		goto bad;
	t->parts = arena_alloc(a, t->nparts * sizeof(*t->parts));
	last_child = arena_alloc(a, t->nparts * sizeof(*last_child));
	for (i = 0; i < t->nparts; i++)
		last_child[i] = MIME_NONE;
	for (i = 0; i < t->nparts; i++)
		if (get_part(&r, t, i, last_child, &prev_hdr) < 0)
			goto bad;
	if (r.i != r.len)
		goto bad;
	for (i = 0; i < t->nparts; i++)
		if ((t->parts[i].flags & MIME_PART_MESSAGE) && t->parts[i].nchildren != 1)
			goto bad;
	return 0;
bad:
	empty_tree(a, t);
	return -1;
}

int mime_cache_load(const void *meta, size_t metalen, const char *msg, size_t len,
                    struct arena *a, struct mime_tree *t)
{
	if (meta && metalen && mime_cache_decode(meta, metalen, a, t) == 0 && t->size == len)
		return 1;
	mime_tree_parse(msg, len, a, t);
	return 0;
}

int mime_cache_build(const char *msg, size_t len, struct buf *out)
{
	struct arena *a = arena_new(0);
	struct mime_tree t;

	buf_init(out, MIME_CACHE_META_MAX);
	mime_tree_parse(msg, len, a, &t);
	if (mime_cache_encode(&t, out) < 0) {
		buf_reset(out);
		mime_tree_keep_root(&t, msg, len, MIME_CACHE_ADDRS_DEGRADED);
		if (mime_cache_encode(&t, out) < 0)
			buf_reset(out);
	}
	arena_free(&a);
	return buf_len(out) ? 0 : -1;
}

/* Reads the cache record's root part alone (the first, pre-order) into
 * *root, t->size set: 0, or -1 when the record is not one. */
static int read_root(const void *p, size_t len, struct arena *a, struct mime_tree *t,
                     struct mime_part *root)
{
	struct rd r = {p, len, 1, a, 0, 1};
	uint32_t last_child = MIME_NONE;
	uint64_t prev_hdr = 0, tflags;

	memset(t, 0, sizeof(*t));
	if (len < 1 || r.p[0] != MIME_CACHE_VERSION)
		return -1;
	tflags = get_varint(&r);
	if (tflags & ~(uint64_t)MIME_TREE_FLAGS)
		return -1;
	t->size = get_varint(&r);
	t->nparts = get_count(&r, MIME_PARTS_MAX, 6);
	if (r.bad || t->nparts == 0)
		return -1;
	t->parts = root;
	return get_part(&r, t, 0, &last_child, &prev_hdr);
}

/* The tree flags of a record for a message of size octets, read from its
 * first octets alone: 0, or -1 when p is no such record. */
static int tree_flags_of(const void *p, size_t len, uint64_t size, uint64_t *flags_r)
{
	struct rd r = {p, len, 1, NULL, 0, 1};

	if (!p || len < 1 || r.p[0] != MIME_CACHE_VERSION)
		return -1;
	*flags_r = get_varint(&r);
	uint64_t rsize = get_varint(&r);
	if (r.bad || (*flags_r & ~(uint64_t)MIME_TREE_FLAGS) || rsize != size)
		return -1;
	return 0;
}

int mime_cache_header_utf8(const void *p, size_t len, uint64_t size)
{
	uint64_t tflags;

	if (tree_flags_of(p, len, size, &tflags) < 0 || !(tflags & MIME_TREE_HDR_SCANNED))
		return -1;
	return (tflags & MIME_TREE_HDR_UTF8) ? 1 : 0;
}

int mime_cache_final_lf(const void *p, size_t len, uint64_t size)
{
	uint64_t tflags;

	if (tree_flags_of(p, len, size, &tflags) < 0 || !(tflags & MIME_TREE_END_SCANNED))
		return -1;
	return (tflags & MIME_TREE_NO_FINAL_LF) ? 0 : 1;
}

int mime_cache_root_bare_lf(const void *p, size_t len, struct arena *a, uint64_t *size_r,
                            uint64_t *bare_lf_r)
{
	struct mime_tree t;
	struct mime_part root;

	/* The root spans the message: its header (the empty line included)
	 * and its body hold every LF. */
	if (read_root(p, len, a, &t, &root) < 0)
		return -1;
	*size_r = t.size;
	*bare_lf_r = root.hdr_bare_lf + root.body_bare_lf;
	return 0;
}

int mime_cache_root_subject(const void *p, size_t len, struct arena *a, uint64_t *size_r,
                            struct str *subject_r)
{
	struct mime_tree t;
	struct mime_part root;

	/* The root's envelope comes last in it. */
	if (read_root(p, len, a, &t, &root) < 0 || !root.env)
		return -1;
	*size_r = t.size;
	*subject_r = root.env->subject;
	return 0;
}
