/*
 * spam_msg.c — the message view the filter's rules and tokenizer read
 * (spam.h): built once per message from its bytes.
 *
 * The MIME tree comes from mime/ (the one MIME parser); every text leaf
 * is transfer-decoded and converted to UTF-8 with mime/'s decoders, then
 * text/plain is appended as it is and text/html goes through the HTML
 * reducer (mime/mime_html.h), which separates hidden text and reports URLs.
 * Leaves that are not inline text are attachments, each with the SHA-256
 * of its decoded content when it was read whole and the caller asked
 * (SPAM_VIEW_DIGESTS: only hash lists need it). Everything is copied
 * into the view's arena and bounded by the SPAM_* limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sha256.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/rfc5322.h"
#include "spam/spam_private.h"

/* The reducer's URL flags are the filter's (add_url keeps them). */
_Static_assert(MIME_HTML_URL_ATTR == SPAM_URL_HTML && MIME_HTML_URL_IMAGE == SPAM_URL_IMAGE,
	       "mime_html.h URL flags");

/* Slots of the index of URLs seen (index + 1, 0 empty): twice
 * SPAM_URLS_MAX, so a probe ends soon. A long HTML message repeats its
 * links hundreds of times; a scan of the list for each was a tenth of
 * the time spent on such mail. */
#define URL_SLOTS (2 * SPAM_URLS_MAX)

struct view_build {
	struct spam_msg *m;
	struct buf text, hidden;
	uint32_t urlcap;
	uint16_t url_slot[URL_SLOTS];
};

static int is_ip_host(struct str h)
{
	if (h.len && h.p[0] == '[')
		return 1;
	int digits = 0;
	for (size_t i = 0; i < h.len; i++) {
		char c = h.p[i];
		if (c >= '0' && c <= '9')
			digits = 1;
		else if (c != '.')
			return 0;
	}
	return digits;
}

static int is_idn_host(struct str h)
{
	for (size_t i = 0; i < h.len; i++)
		if ((unsigned char)h.p[i] >= 0x80)
			return 1;
	for (size_t i = 0; i + 4 <= h.len; i++)
		if ((i == 0 || h.p[i - 1] == '.') && memcmp(h.p + i, "xn--", 4) == 0)
			return 1;
	return 0;
}

static void add_url(void *arg, struct str url, struct str text, uint32_t flags)
{
	struct view_build *vb = arg;
	struct spam_msg *m = vb->m;
	if (url.len > 2048)
		url.len = 2048;
	/* the same URL twice: keep one, merging what is known of it */
	size_t k = (size_t)spam_hash(url.p, url.len, 0) & (URL_SLOTS - 1);
	for (; vb->url_slot[k]; k = (k + 1) & (URL_SLOTS - 1)) {
		struct spam_url *u = &m->urls[vb->url_slot[k] - 1];
		if (str_eq(u->url, url)) {
			u->flags |= flags;
			if (text.len && !u->text.len)
				u->text = str_make(arena_strndup(m->arena, text.p, text.len), text.len);
			return;
		}
	}
	if (m->nurls >= SPAM_URLS_MAX) {
		m->flags |= SPAM_MSG_TRUNCATED;
		return;
	}
	if (m->nurls == vb->urlcap) {
		uint32_t cap = vb->urlcap ? vb->urlcap * 2 : 16;
		struct spam_url *v = arena_alloc(m->arena, cap * sizeof *v);
		if (m->nurls)
			memcpy(v, m->urls, m->nurls * sizeof *v);
		m->urls = v;
		vb->urlcap = cap;
	}
	vb->url_slot[k] = (uint16_t)(m->nurls + 1);
	struct spam_url *u = &m->urls[m->nurls++];
	u->url = str_make(arena_strndup(m->arena, url.p, url.len), url.len);
	char host[256];
	size_t hn = spam_url_host(url, host, sizeof host);
	u->host = str_make(arena_strndup(m->arena, host, hn), hn);
	u->text = text.len ? str_make(arena_strndup(m->arena, text.p, text.len), text.len) : STR_NULL;
	u->flags = flags;
	if (is_ip_host(u->host))
		u->flags |= SPAM_URL_IP;
	if (is_idn_host(u->host))
		u->flags |= SPAM_URL_IDN;
}

static struct str keep(struct arena *a, struct buf *b)
{
	return str_make(arena_strndup(a, buf_data(b), buf_len(b)), buf_len(b));
}

static struct str decode_unstructured(struct arena *a, struct str raw)
{
	if (!raw.p)
		return STR_NULL;
	char *un = xmalloc(raw.len + 1);
	size_t n = rfc5322_unfold(raw, un);
	struct buf b;
	buf_init(&b, 4096);
	rfc5322_decode_words(str_make(un, n), &b);
	struct str r = keep(a, &b);
	buf_free(&b);
	free(un);
	return r;
}

static struct str lower_copy(struct arena *a, struct str s)
{
	char *p = arena_alloc(a, s.len + 1);
	for (size_t i = 0; i < s.len; i++) { /* s.p may be NULL when s.len is 0 */
		char c = s.p[i];
		p[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	p[s.len] = '\0';
	return str_make(p, s.len);
}

/* "mailbox@host" of an address, lowercased (either side may be empty). */
static struct str addr_of(struct arena *a, const struct mime_address *ad)
{
	size_t n = ad->mailbox.len + 1 + ad->host.len;
	char *p = arena_alloc(a, n + 1);
	if (ad->mailbox.len)
		memcpy(p, ad->mailbox.p, ad->mailbox.len);
	p[ad->mailbox.len] = '@';
	if (ad->host.len)
		memcpy(p + ad->mailbox.len + 1, ad->host.p, ad->host.len);
	p[n] = '\0';
	return lower_copy(a, str_make(p, n));
}

static void read_header(struct spam_msg *m, const char *msg, size_t len)
{
	const struct mime_part *root = &m->tree.parts[0];
	size_t hl = (size_t)(root->body_off < len ? root->body_off : len);
	m->hdr = arena_strndup(m->arena, msg, hl);
	m->hdr_len = hl;
	size_t bl = len - hl < SPAM_GRAM_TEXT ? len - hl : SPAM_GRAM_TEXT;
	m->body_head = str_make(arena_strndup(m->arena, msg + hl, bl), bl);
	const struct mime_envelope *env = root->env;
	if (env) {
		m->subject = decode_unstructured(m->arena, env->subject);
		m->message_id = env->message_id.p ? str_make(str_dup(m->arena, env->message_id),
		                                            env->message_id.len)
		                                  : STR_NULL;
		m->date = env->date.p ? str_make(str_dup(m->arena, env->date), env->date.len) : STR_NULL;
		if (env->from.n) {
			const struct mime_address *f = &env->from.v[0];
			m->from_name = decode_unstructured(m->arena, f->name);
			m->from_domain = lower_copy(m->arena, f->host);
			m->from_addr = addr_of(m->arena, f);
		}
		if (env->reply_to.n) {
			const struct mime_address *r = &env->reply_to.v[0];
			m->reply_to_domain = lower_copy(m->arena, r->host);
			m->reply_to_addr = addr_of(m->arena, r);
		}
	}
}

static int is_attachment(const struct mime_part *p)
{
	if (p->disposition.p && str_eq_ci(p->disposition, STR_LIT("attachment")))
		return 1;
	return mime_param_get(p->disp_params, p->ndisp_params, "filename").p != NULL;
}

#define ZIP_SCAN_MAX (2u << 20) /* encoded octets of an archive looked into */
#define DIGEST_CHUNK 4096

/* SHA-256 of p's decoded content (hash lists name attachments by it),
 * decoded a chunk at a time: no copy of the part is made. */
static void attach_digest(const struct mime_part *p, const char *msg, uint8_t out[32])
{
	struct mime_decoder d;
	struct sha256 c;
	char dec[MIME_DECODE_OUT_MAX(DIGEST_CHUNK)];
	sha256_init(&c);
	mime_decoder_init(&d, mime_cte_parse(p->encoding));
	for (uint64_t off = p->body_off; off < p->body_end;) {
		size_t n = p->body_end - off < DIGEST_CHUNK ? (size_t)(p->body_end - off) : DIGEST_CHUNK;
		sha256_update(&c, dec, mime_decoder_feed(&d, msg + off, n, dec));
		off += n;
	}
	sha256_update(&c, dec, mime_decoder_finish(&d, dec));
	sha256_out(&c, out);
}

static void add_attach(struct spam_msg *m, const struct mime_part *p, const char *msg, size_t len,
                       unsigned opts)
{
	if (m->nattach >= SPAM_ATTACH_MAX)
		return;
	if (!m->attach)
		m->attach = arena_zalloc(m->arena, SPAM_ATTACH_MAX * sizeof *m->attach);
	struct spam_attach *a = &m->attach[m->nattach++];
	struct str name = mime_param_get(p->disp_params, p->ndisp_params, "filename");
	if (!name.p)
		name = mime_param_get(p->params, p->nparams, "name");
	a->name = name.p ? decode_unstructured(m->arena, name) : STR_NULL;
	char t[128];
	int tn = snprintf(t, sizeof t, "%.*s/%.*s", (int)(p->type.len > 60 ? 60 : p->type.len),
	                  p->type.p, (int)(p->subtype.len > 60 ? 60 : p->subtype.len), p->subtype.p);
	a->type = lower_copy(m->arena, str_make(t, (size_t)tn));
	a->size = p->body_end - p->body_off;
	a->flags = spam_attach_classify(a->name, a->type);
	/* Only a part read to its end has the hash a list would know: one cut
	 * by SPAM_SCAN_MAX ends at len without its boundary. */
	if ((opts & SPAM_VIEW_DIGESTS) &&
	    (p->body_end < len || (p->body_end == len && !(m->flags & SPAM_MSG_TRUNCATED)))) {
		attach_digest(p, msg, a->sha256);
		a->flags |= SPAM_ATTACH_HASHED;
	}
	if ((a->flags & SPAM_ATTACH_ARCHIVE) && p->body_off < len) {
		size_t n = (size_t)(p->body_end - p->body_off);
		if (n > len - p->body_off)
			n = len - p->body_off;
		if (n > ZIP_SCAN_MAX)
			n = ZIP_SCAN_MAX;
		struct buf dec;
		buf_init(&dec, n + MIME_DECODE_OUT_MAX(0));
		mime_decode_all(mime_cte_parse(p->encoding), str_make(msg + p->body_off, n), &dec);
		if (spam_zip_has_exec((const unsigned char *)buf_data(&dec), buf_len(&dec)))
			a->flags |= SPAM_ATTACH_ARCHIVE_EXEC;
		buf_free(&dec);
	}
}

/* Appends the decoded UTF-8 text of text leaf p. */
static void add_text(struct view_build *vb, const struct mime_part *p, const char *msg,
                     size_t len)
{
	struct spam_msg *m = vb->m;
	size_t n = (size_t)(p->body_end - p->body_off);
	if (p->body_off >= len)
		return;
	if (n > len - p->body_off)
		n = len - p->body_off;
	struct buf dec;
	buf_init(&dec, n + MIME_DECODE_OUT_MAX(0));
	enum mime_cte cte = mime_cte_parse(p->encoding);
	mime_decode_all(cte, str_make(msg + p->body_off, n), &dec);
	struct str cs = mime_param_get(p->params, p->nparams, "charset");
	char *u = xmalloc(buf_len(&dec) * 3 + 1);
	ptrdiff_t ul = mime_charset_to_utf8(cs, buf_data(&dec), buf_len(&dec), u);
	struct str t;
	if (ul < 0) {
		m->flags |= SPAM_MSG_BAD_CHARSET;
		t = buf_str(&dec);
	} else {
		t = str_make(u, (size_t)ul);
	}
	size_t before = buf_len(&vb->text);
	if (mime_part_is(p, "text", "html")) {
		struct mime_html h;
		m->flags |= SPAM_MSG_HTML;
		m->html_len += (uint32_t)t.len;
		mime_html_init(&h, &vb->text, &vb->hidden, add_url, vb);
		mime_html_feed(&h, t.p, t.len);
		mime_html_finish(&h);
		m->nimages += h.nimages;
	} else {
		m->flags |= SPAM_MSG_PLAIN;
		buf_append(&vb->text, t.p, t.len);
	}
	buf_append(&vb->text, "\n", 1);
	/* URLs written as text, in plain parts and in HTML's visible text */
	spam_url_scan(buf_data(&vb->text) + before, buf_len(&vb->text) - before, add_url, vb);
	free(u);
	buf_free(&dec);
}

void spam_msg_new(const char *msg, size_t len, struct spam_msg **m_r)
{
	spam_msg_new_opts(msg, len, 0, m_r);
}

void spam_msg_new_opts(const char *msg, size_t len, unsigned opts, struct spam_msg **m_r)
{
	struct arena *a = arena_new(16384);
	struct spam_msg *m = arena_zalloc(a, sizeof *m);
	m->arena = a;
	m->size = len;
	if (len > SPAM_SCAN_MAX) {
		len = SPAM_SCAN_MAX;
		m->flags |= SPAM_MSG_TRUNCATED;
	}
	mime_tree_parse(msg, len, a, &m->tree);
	read_header(m, msg, len);

	struct view_build vb = {.m = m};
	buf_init(&vb.text, SPAM_TEXT_MAX);
	buf_init(&vb.hidden, SPAM_TEXT_MAX / 4);
	for (uint32_t i = 0; i < m->tree.nparts; i++) {
		const struct mime_part *p = &m->tree.parts[i];
		if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
			continue;
		int text = mime_part_is(p, "text", "plain") || mime_part_is(p, "text", "html");
		if (text && !is_attachment(p)) {
			add_text(&vb, p, msg, len);
			continue;
		}
		if (mime_part_is(p, "image", NULL))
			m->nimages++;
		if (i > 0)
			add_attach(m, p, msg, len, opts);
	}
	if (buf_len(&vb.text) >= SPAM_TEXT_MAX - 1)
		m->flags |= SPAM_MSG_TRUNCATED;
	m->text = keep(a, &vb.text);
	m->hidden = keep(a, &vb.hidden);
	buf_free(&vb.text);
	buf_free(&vb.hidden);
	*m_r = m;
}

void spam_msg_new_delivered(const char *return_path, const char *msg, size_t len,
                            unsigned opts, struct spam_msg **m_r)
{
	/* a copy of what the view looks at, the field first: the stored
	 * copy's first SPAM_SCAN_MAX octets, truncated where it would be */
	size_t rl = strlen(return_path) + sizeof "Return-Path: <>\r\n" - 1;
	size_t n = len < SPAM_SCAN_MAX ? len : SPAM_SCAN_MAX;
	char *p = xmalloc(rl + n + 1);
	snprintf(p, rl + 1, "Return-Path: <%s>\r\n", return_path);
	if (n)
		memcpy(p + rl, msg, n);
	spam_msg_new_opts(p, rl + n, opts, m_r);
	free(p);
	(*m_r)->size = (uint64_t)rl + len;
	if (rl + len > SPAM_SCAN_MAX)
		(*m_r)->flags |= SPAM_MSG_TRUNCATED;
}

int spam_field_ours(struct str name, struct str value)
{
	if (name.len >= 7 && !strncasecmp(name.p, "X-Spam-", 7))
		return 1;
	if (name.len >= 4 && !strncasecmp(name.p, "ARC-", 4))
		return 1;
	if (str_eq_ci_c(name, "Authentication-Results"))
		return 1;
	return str_eq_ci_c(name, "Received") && value.len &&
	       memmem(value.p, value.len, " (tern) with ", 13) != NULL;
}

void spam_msg_free(struct spam_msg **m)
{
	if (!*m)
		return;
	struct arena *a = (*m)->arena;
	arena_free(&a);
	*m = NULL;
}
