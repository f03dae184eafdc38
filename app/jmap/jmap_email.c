/*
 * jmap_email.c — Email/get and Email/changes (RFC 8621 §4.2-4.3).
 *
 * Email/get reads the email record (thread, keywords, mailboxes, size,
 * received date) and, for the header properties, the MIME cache record
 * written at delivery (mime/mime_cache.h), so no message is parsed again;
 * References and the preview read the message's bytes in the same read
 * transaction. Properties served: id, blobId, threadId, mailboxIds,
 * keywords, size, receivedAt, messageId, inReplyTo, references, sender,
 * from, to, cc, bcc, replyTo, subject, sentAt, hasAttachment, preview,
 * the body properties (jmap_email_body.c), headers and header:NAME:asForm
 * (jmap_email_header.c).
 *
 * Keywords: the store keeps IMAP's system flags as $seen, $answered,
 * $flagged, $draft, which are JMAP's names already; \Deleted is per IMAP
 * membership and not a JMAP keyword.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/xalloc.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "mime/mime_cache.h"
#include "mime/mime_date.h"
#include "mime/mime_preview.h"
#include "mime/rfc5322.h"
#include "store/store.h"

static const char *const props[] = {
    "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
    "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
    "sentAt", "hasAttachment", "preview", "bodyStructure", "textBody", "htmlBody", "attachments",
    "bodyValues", "headers",
};
enum { P_ID, P_BLOB, P_THREAD, P_MAILBOXES, P_KEYWORDS, P_SIZE, P_RECEIVED, P_MSGID, P_IRT, P_REFS,
       P_SENDER, P_FROM, P_TO, P_CC, P_BCC, P_REPLYTO, P_SUBJECT, P_SENT, P_HASATT, P_PREVIEW,
       P_BODYSTRUCTURE, P_TEXTBODY, P_HTMLBODY, P_ATTACHMENTS, P_BODYVALUES, P_HEADERS, NPROPS };
#define CONTENT_PROPS ((1u << P_MSGID) | (1u << P_IRT) | (1u << P_REFS) | (1u << P_SENDER) |     \
		       (1u << P_FROM) | (1u << P_TO) | (1u << P_CC) | (1u << P_BCC) |                \
		       (1u << P_REPLYTO) | (1u << P_SUBJECT) | (1u << P_SENT) | (1u << P_HASATT) |   \
		       (1u << P_PREVIEW) | (0x1fu << P_BODYSTRUCTURE) | (1u << P_HEADERS))

void jmap_w_utcdate(struct jw *w, int64_t t)
{
	struct tm tm;
	char s[40];
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	jw_str(w, s);
}

/* Lowercased: the store keeps the case a keyword was first given (IMAP
 * shows it so), but RFC 8621 §4.1.1 has JMAP keywords returned in lower
 * case, JMAP being case-sensitive where IMAP is not. */
void jmap_w_keywords(struct jw *w, const char *kw, size_t len)
{
	jw_obj_begin(w);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && kw[j] != ' ')
			j++;
		if (j > i) {
			char k[256];
			size_t n = j - i < sizeof k ? j - i : sizeof k - 1;
			for (size_t x = 0; x < n; x++)
				k[x] = kw[i + x] >= 'A' && kw[i + x] <= 'Z' ? (char)(kw[i + x] + 32)
									 : kw[i + x];
			k[n] = '\0';
			jw_kbool(w, k, 1);
		}
		i = j + 1;
	}
	jw_obj_end(w);
}

void jmap_w_mailboxes(struct jw *w, const struct jmap_request *r, const uint8_t *members,
		      size_t n)
{
	jw_obj_begin(w);
	for (size_t k = 0; k < n; k++) {
		const uint8_t *p = members + k * 8;
		int dup = 0;
		/* In a shared account: the mailboxes the user may read
		 * (RFC 8621 §2, mayReadItems) alone. */
		if (r->share && !jmap_may_read(r, jmap_member_mailbox(members, k)))
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = memcmp(members + j * 8, p, 4) == 0;
		if (dup)
			continue;
		char id[16];
		snprintf(id, sizeof id, "M%08x",
			 (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
		jw_kbool(w, id, 1);
	}
	jw_obj_end(w);
}

/* A raw header text decoded (RFC 2047) into the arena, in NFC
 * (RFC 8621 §4.1.2.2, as header:NAME:asText gives it). */
static const char *decoded(struct arena *a, struct str s)
{
	struct buf b;
	size_t n;
	buf_init(&b, 64 * 1024);
	rfc5322_decode_words(s, &b);
	const char *t = jmap_text_nfc(a, buf_data(&b), buf_len(&b), &n);
	const char *r = arena_strndup(a, t, n);
	buf_free(&b);
	return r;
}

static void w_addrs(struct jw *w, struct arena *a, const struct mime_addrs *l, int present)
{
	if (!present || l->n == 0) {
		jw_null(w);
		return;
	}
	jw_arr_begin(w);
	for (uint32_t i = 0; i < l->n; i++) {
		const struct mime_address *ad = &l->v[i];
		/* A group's start (its name, no host) or end (nothing):
		 * groups are flattened (RFC 8621 §4.1.2.3), their names
		 * are no addresses. */
		if (!ad->mailbox.p || !ad->host.p)
			continue;
		jw_obj_begin(w);
		jw_key(w, "name");
		if (ad->name.len)
			jw_str(w, decoded(a, ad->name));
		else
			jw_null(w);
		jw_key(w, "email");
		jw_str(w, mime_address_email(a, ad));
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* The unfolded value of the last field called name (§4.1.3), without
 * copying the other fields as jmap_hfields_read does. */
static struct str header_field(const char *d, size_t len, const char *name, struct arena *a)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	struct str r = STR_NULL;

	rfc5322_init(&p);
	while (rfc5322_parse(&p, d + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (str_eq_ci_c(f.name, name)) {
			char *u = arena_alloc(a, f.value.len + 1);
			r = str_make(u, rfc5322_unfold(f.value, u));
		}
	}
	rfc5322_clear(&p);
	return r;
}

/*
 * An attached message (message/rfc822 or /global) is one, whatever it
 * holds: it is in "attachments" (RFC 8621 section 4.1.4 makes it a leaf
 * there), and hasAttachment SHOULD be true when that list holds an item
 * not marked inline (hasAttachment, the same section). One marked inline is
 * judged by the parts it holds, as before. A part of another type than
 * text counts wherever it is; then whatever that "attachments" list
 * holds not marked inline (a text/csv, a named text/plain after the
 * first part: no Content-Disposition needed).
 */
int jmap_has_attachment(const struct mime_tree *t)
{
	for (uint32_t i = 1; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		if ((p->flags & MIME_PART_MESSAGE) &&
		    !(p->disposition.p && str_eq_ci_c(p->disposition, "inline")))
			return 1;
		if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
			continue;
		if (p->disposition.p && str_eq_ci_c(p->disposition, "attachment"))
			return 1;
		if (!str_eq_ci_c(p->type, "text") && !str_eq_ci_c(p->type, "multipart"))
			return 1;
	}
	return jmap_body_has_attachment(t);
}

/* The properties P_MSGID..P_SENT, all served from the cached envelope
 * but references, and the header:NAME:asForm each one is (§4.1.3). */
#define ENV_PROPS (((1u << (P_SENT + 1)) - (1u << P_MSGID)) & ~(1u << P_REFS))
static const struct {
	const char *name;
	enum jmap_hform form;
} env_fields[] = {
    [P_MSGID - P_MSGID] = {"Message-ID", JH_MSGIDS},
    [P_IRT - P_MSGID] = {"In-Reply-To", JH_MSGIDS},
    [P_REFS - P_MSGID] = {"References", JH_MSGIDS},
    [P_SENDER - P_MSGID] = {"Sender", JH_ADDRESSES},
    [P_FROM - P_MSGID] = {"From", JH_ADDRESSES},
    [P_TO - P_MSGID] = {"To", JH_ADDRESSES},
    [P_CC - P_MSGID] = {"Cc", JH_ADDRESSES},
    [P_BCC - P_MSGID] = {"Bcc", JH_ADDRESSES},
    [P_REPLYTO - P_MSGID] = {"Reply-To", JH_ADDRESSES},
    [P_SUBJECT - P_MSGID] = {"Subject", JH_TEXT},
    [P_SENT - P_MSGID] = {"Date", JH_DATE},
};

struct content {
	struct jmap_call *c;
	unsigned want, bwant;
	uint32_t email;
	const struct jmap_body_opts *opts;
	const struct jmap_hprop *hps;
	size_t nhps;
};

static void content_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct content *ct = arg;
	struct jw *w = &ct->c->w;
	struct arena *a = ct->c->r->a;
	struct mime_tree t;

	mime_cache_load(meta, metalen, data, len, a, &t);
	const struct mime_envelope *env = t.parts[0].env;
	static const struct mime_envelope none;
	if (!env)
		env = &none;
	/* The header's fields, read when something needs them: "headers",
	 * header:NAME properties, or a convenience property whose field
	 * repeats (below). */
	struct jmap_hfields h;
	int have_h = 0;
	if ((ct->want & (1u << P_HEADERS)) || ct->nhps || (ct->want & (1u << P_SUBJECT)) ||
	    ((t.flags & MIME_TREE_REPEATED_ENV) && (ct->want & ENV_PROPS))) {
		jmap_hfields_read(a, data, len, &h);
		have_h = 1;
	}
	for (int p = P_MSGID; p < P_BODYSTRUCTURE; p++) {
		if (!(ct->want & (1u << p)))
			continue;
		jw_key(w, props[p]);
		/* These are header:NAME:asForm without :all, the last
		 * instance of the field (§4.1.3). The cached envelope holds
		 * IMAP's choice for a repeated field (the lists joined, else
		 * the first), so only a message that repeats one (a tree
		 * flag, set at parse) reads its header for them. Subject is
		 * always read: the envelope's lost its trailing white space,
		 * which asText keeps (§4.1.2.2). */
		if (have_h && (p == P_REFS || p == P_SUBJECT ||
		               ((t.flags & MIME_TREE_REPEATED_ENV) && (ENV_PROPS & (1u << p))))) {
			jmap_hfield_last_write(w, a, &h, env_fields[p - P_MSGID].name,
			                       env_fields[p - P_MSGID].form);
			continue;
		}
		switch (p) {
		case P_MSGID: jmap_w_msgids(w, env->message_id); break;
		case P_IRT: jmap_w_msgids(w, env->in_reply_to); break;
		case P_REFS: jmap_w_msgids(w, header_field(data, len, "References", a)); break;
		case P_SENDER: w_addrs(w, a, &env->sender, env->sender.n > 0); break;
		case P_FROM: w_addrs(w, a, &env->from, 1); break;
		case P_TO: w_addrs(w, a, &env->to, 1); break;
		case P_CC: w_addrs(w, a, &env->cc, 1); break;
		case P_BCC: w_addrs(w, a, &env->bcc, 1); break;
		case P_REPLYTO: w_addrs(w, a, &env->reply_to, 1); break;
		case P_SENT: jmap_w_date(w, env->date); break;
		case P_HASATT: jw_bool(w, jmap_has_attachment(&t)); break;
		case P_PREVIEW: {
			char pv[MIME_PREVIEW_MAX];
			mime_preview(data, len, &t, pv);
			jw_str(w, pv);
			break;
		}
		}
	}
	unsigned body = (ct->want >> P_BODYSTRUCTURE) & 0x1fu;
	if (body)
		jmap_email_body(w, a, data, &t, ct->email, body, ct->bwant, ct->opts);
	if (have_h) {
		if (ct->want & (1u << P_HEADERS))
			jmap_headers_write(w, a, &h);
		for (size_t i = 0; i < ct->nhps; i++)
			jmap_hprop_write(w, a, &h, &ct->hps[i]);
	}
}

struct getctx {
	struct jmap_call *c;
	unsigned want, bwant;
	const struct jmap_body_opts *opts;
	const struct jmap_hprop *hps;
	size_t nhps;
	const uint32_t *ids;
	char *found;
};

static void get_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct getctx *g = arg;
	struct jw *w = &g->c->w;

	/* An email the user may not read in a shared account is none. */
	if (!b || !jmap_email_readable(g->c->r, b->members, b->nmembers))
		return;
	g->found[i] = 1;
	jw_obj_begin(w);
	for (int p = 0; p < P_MSGID; p++) {
		if (!(g->want & (1u << p)))
			continue;
		jw_key(w, props[p]);
		switch (p) {
		case P_ID: jmap_w_id(w, 'E', b->email_id); break;
		case P_BLOB: jmap_w_blob(w, b->blob_id); break;
		case P_THREAD: jmap_w_id(w, 'T', b->thread_id); break;
		case P_MAILBOXES: jmap_w_mailboxes(w, g->c->r, b->members, b->nmembers); break;
		case P_KEYWORDS: jmap_w_keywords(w, b->keywords, b->keywords_len); break;
		case P_SIZE: jw_uint(w, b->size); break;
		case P_RECEIVED: jmap_w_utcdate(w, b->received_at); break;
		}
	}
	if ((g->want & CONTENT_PROPS) || g->nhps) {
		/* A second read transaction: the writes of this request
		 * (none in /get) cannot come between. */
		struct content ct = {g->c, g->want, g->bwant, b->email_id, g->opts, g->hps, g->nhps};
		store_email_content(g->c->r->st, g->c->r->account, b->email_id, content_cb, &ct);
	}
	jw_obj_end(w);
}

const struct json_value *jmap_email_json(struct jmap_call *c, uint32_t id, const char *prop)
{
	struct jmap_hprop hp;
	unsigned want = 0;
	int p;

	for (p = 0; p < NPROPS && strcmp(prop, props[p]); p++)
		;
	if (p < NPROPS)
		want = 1u << p;
	else if (jmap_hprop_parse(c->r->a, prop, &hp) < 0)
		return NULL;
	/* Written as Email/get writes it (bodyProperties and body values
	 * as its defaults), into a writer of its own. */
	struct jmap_body_opts opts = {0};
	char found = 0;
	struct getctx g = {c, want, 0x7ffu, &opts, p < NPROPS ? NULL : &hp, p < NPROPS ? 0 : 1,
			   &id, &found};
	struct buf b;
	struct jw save = c->w;
	buf_init(&b, JMAP_RESPONSE_MAX);
	jw_init(&c->w, &b);
	int rc = store_emails_get(c->r->st, c->r->account, &id, 1, get_cb, &g);
	const struct json_value *v = rc == STORE_OK && found ? jmap_json_of(c->r->a, &c->w, &b) : NULL;
	c->w = save;
	buf_free(&b);
	return v;
}

void jmap_w_blob(struct jw *w, const uint8_t id[32])
{
	char s[66];
	s[0] = 'B';
	hex_encode(s + 1, id, 32);
	jw_str(w, s);
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},       {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE}, {"bodyProperties", JA_STRINGS, JA_NULLABLE},
    {"fetchTextBodyValues", JA_BOOL, 0},     {"fetchHTMLBodyValues", JA_BOOL, 0},
    {"fetchAllBodyValues", JA_BOOL, 0},      {"maxBodyValueBytes", JA_UINT, 0},
};

struct all_ids {
	uint32_t *v;
	size_t n, cap;
	const struct jmap_request *r;
};

static void all_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct all_ids *a = arg;
	(void)i;
	if (!jmap_email_readable(a->r, b->members, b->nmembers))
		return;
	if (a->n < a->cap)
		a->v[a->n] = b->email_id;
	a->n++;
}

static int flag(struct jmap_call *c, const char *name)
{
	const struct json_value *v = jmap_arg(c, name);
	return v && v->boolean;
}

/* What Email/get and Email/parse were asked for: properties (defwant
 * when absent), bodyProperties, the body value options. 0, or -1 with
 * the error set. */
struct email_opts {
	unsigned want, bwant;
	struct jmap_hprop *hps;
	size_t nhps;
	struct jmap_body_opts opts;
};

static int flag(struct jmap_call *c, const char *name);

static int hprop_cmp(const void *x, const void *y)
{
	const struct jmap_hprop *const *a = x, *const *b = y;
	int r = strcmp((*a)->prop, (*b)->prop);
	/* The same name: first given first. */
	return r ? r : (*a > *b) - (*a < *b);
}

/*
 * A property asked twice is answered once (a JSON object's names are
 * unique, RFC 8259 §4): hps[0..n) keeps the first of each, in order.
 * Sorted pointers find the repeats, so a request listing many costs
 * n log n. Returns the new count.
 */
static size_t hprops_unique(struct arena *a, struct jmap_hprop *hps, size_t n)
{
	if (n < 2)
		return n;
	const struct jmap_hprop **v = arena_alloc(a, n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = &hps[i];
	qsort(v, n, sizeof *v, hprop_cmp);
	unsigned char *drop = arena_zalloc(a, n);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(v[i]->prop, v[i - 1]->prop))
			drop[v[i] - hps] = 1; /* v[i] comes after v[i - 1] in hps */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			hps[k++] = hps[i];
	return k;
}

static int email_opts(struct jmap_call *c, unsigned defwant, struct email_opts *o)
{
	const struct json_value *pv = jmap_arg(c, "properties");
	unsigned want = pv ? 0 : defwant;
	struct jmap_hprop *hps = arena_alloc(c->r->a, ((pv ? pv->count : 0) + 1) * sizeof *hps);
	size_t nhps = 0;
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next) {
		int p;
		for (p = 0; p < NPROPS && strcmp(e->str, props[p]); p++)
			;
		if (p < NPROPS) {
			want |= 1u << p;
			continue;
		}
		if (jmap_hprop_parse(c->r->a, e->str, &hps[nhps]) < 0) {
			jmap_bad_arg(c, "properties",
				     !strncmp(e->str, "header:", 7)
					 ? "a header form this field does not allow, or a bad name"
					 : "unknown property");
			return -1;
		}
		nhps++;
	}
	nhps = hprops_unique(c->r->a, hps, nhps);
	want |= 1u << P_ID;
	/* bodyProperties: the default set of §4.1.4 (no headers), subParts
	 * always; header:NAME forms as on the Email, per part. */
	const struct json_value *bp = jmap_arg(c, "bodyProperties"), *v;
	unsigned bwant = bp ? 1u << 10 : 0x7ffu;
	struct jmap_hprop *bhps = arena_alloc(c->r->a, ((bp ? bp->count : 0) + 1) * sizeof *bhps);
	size_t nbhps = 0;
	for (const struct json_value *e = bp ? bp->first : NULL; e; e = e->next) {
		int k = jmap_body_props(e->str);
		if (k >= 0) {
			bwant |= 1u << k;
			if (!strcmp(e->str, "subParts"))
				bwant |= 1u << JMAP_BODY_P_SUBPARTS_ASKED;
		} else if (jmap_hprop_parse(c->r->a, e->str, &bhps[nbhps]) == 0) {
			nbhps++;
		} else {
			jmap_bad_arg(c, "bodyProperties",
				     !strncmp(e->str, "header:", 7)
					 ? "a header form this field does not allow, or a bad name"
					 : "unknown property");
			return -1;
		}
	}
	nbhps = hprops_unique(c->r->a, bhps, nbhps);
	struct jmap_body_opts opts = {
	    .text = flag(c, "fetchTextBodyValues"),
	    .html = flag(c, "fetchHTMLBodyValues"),
	    .all = flag(c, "fetchAllBodyValues"),
	    .hps = bhps,
	    .nhps = nbhps,
	};
	/* RFC 8621 §4.2: 0, the default, is no truncation. */
	if ((v = jmap_arg(c, "maxBodyValueBytes")))
		opts.max = (uint64_t)v->integer;
	o->want = want;
	o->bwant = bwant;
	o->hps = hps;
	o->nhps = nhps;
	o->opts = opts;
	return 0;
}

void jmap_email_get(struct jmap_call *c)
{
	char state[24];
	unsigned want = 0;

	if (jmap_args_check(c, get_args, sizeof get_args / sizeof get_args[0]) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "ids");
	struct email_opts eo;
	/* RFC 8621 §4.2: the default leaves bodyStructure and headers out. */
	if (email_opts(c, ((1u << NPROPS) - 1) & ~(1u << P_BODYSTRUCTURE) & ~(1u << P_HEADERS),
		       &eo) < 0)
		return;
	want = eo.want;
	if (ids && ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	ids = jmap_ids_unique(c->r->a, ids);
	if (jmap_state(c, state) < 0)
		return;
	uint32_t *nums;
	size_t n = 0;
	if (ids) {
		nums = arena_alloc(c->r->a, (ids->count + 1) * sizeof *nums);
		for (const struct json_value *e = ids->first; e; e = e->next)
			nums[n++] = jmap_id_num(e->str, 'E');
	} else {
		struct all_ids al = {arena_alloc(c->r->a, JMAP_MAX_OBJECTS_IN_GET * sizeof(uint32_t)), 0,
				     JMAP_MAX_OBJECTS_IN_GET, c->r};
		if (store_emails_all(c->r->st, c->r->account, all_cb, &al) != STORE_OK) {
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (al.n > JMAP_MAX_OBJECTS_IN_GET) {
			jmap_error(c, "requestTooLarge", NULL);
			return;
		}
		nums = al.v;
		n = al.n;
	}
	struct getctx g = {c, want, eo.bwant, &eo.opts, eo.hps, eo.nhps, nums,
			   arena_zalloc(c->r->a, n + 1)};
	jmap_begin(c);
	jw_kstr(&c->w, "state", state);
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
	/* An id that is not ours (0) reads as missing. */
	if (n && store_emails_get(c->r->st, c->r->account, nums, n, get_cb, &g) != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	jw_arr_begin(&c->w);
	size_t i = 0;
	for (const struct json_value *e = ids ? ids->first : NULL; e; e = e->next, i++)
		if (!g.found[i])
			jw_str(&c->w, e->str);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

/* ---- Email/parse (RFC 8621 §4.9) ---- */

/* An Email from bytes alone: the metadata properties are null but blobId
 * and size; the rest as Email/get computes it (the same writers). */
static void parsed_write(struct jmap_call *c, const struct email_opts *eo, unsigned want,
			 const char *bid, const char *data, size_t len)
{
	struct jw *w = &c->w;
	jw_obj_begin(w);
	for (int p = 0; p < P_MSGID; p++) {
		if (!(want & (1u << p)))
			continue;
		jw_key(w, props[p]);
		if (p == P_BLOB)
			jw_str(w, bid);
		else if (p == P_SIZE)
			jw_uint(w, len);
		else
			jw_null(w);
	}
	if ((want & CONTENT_PROPS) || eo->nhps) {
		/* The parts' blobIds name parts of this blob. */
		struct jmap_body_opts o = eo->opts;
		o.blob = bid;
		struct content ct = {c, want, eo->bwant, 0, &o, eo->hps, eo->nhps};
		content_cb(&ct, NULL, 0, data, len);
	}
	jw_obj_end(w);
}

void jmap_email_parse_write(struct arena *a, const char *data, size_t len, struct buf *out)
{
	struct jmap_request r;
	struct jmap_call c;
	memset(&r, 0, sizeof r);
	memset(&c, 0, sizeof c);
	r.a = a;
	c.r = &r;
	jw_init(&c.w, out);
	/* Every body part property too, and one header form per part. */
	static const struct jmap_hprop part_hp = {"header:Content-Type:asText:all", "Content-Type",
						  JH_TEXT, 1};
	struct email_opts eo = {
	    (1u << NPROPS) - 1, 0xfffu, NULL, 0, {1, 1, 1, 0, &part_hp, 1, NULL}};
	parsed_write(&c, &eo, eo.want, "B", data, len);
}

static const struct jmap_arg parse_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},       {"blobIds", JA_IDS, JA_REQUIRED},
    {"properties", JA_STRINGS, JA_NULLABLE}, {"bodyProperties", JA_STRINGS, JA_NULLABLE},
    {"fetchTextBodyValues", JA_BOOL, 0},     {"fetchHTMLBodyValues", JA_BOOL, 0},
    {"fetchAllBodyValues", JA_BOOL, 0},      {"maxBodyValueBytes", JA_UINT, 0},
};

void jmap_email_parse(struct jmap_call *c)
{
	struct email_opts eo;
	/* RFC 8621 §4.9's default: no metadata, no bodyStructure, no headers. */
	unsigned def = 0;
	for (int p = P_MSGID; p < NPROPS; p++)
		if (p != P_BODYSTRUCTURE && p != P_HEADERS)
			def |= 1u << p;
	if (jmap_args_check(c, parse_args, sizeof parse_args / sizeof parse_args[0]) < 0 ||
	    email_opts(c, def, &eo) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "blobIds"), *pv = jmap_arg(c, "properties");
	unsigned want = eo.want & ~(1u << P_ID);
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next)
		if (!strcmp(e->str, "id"))
			want |= 1u << P_ID;
	if (ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	/* A blob named twice is parsed once: "parsed" is an object, and a
	 * key given twice is no JSON a client can read (RFC 8259 4). */
	ids = jmap_ids_unique(c->r->a, ids);
	struct buf nf, np;
	struct jw nfw, npw;
	int nparsed = 0, nnf = 0, nnp = 0;
	buf_init(&nf, JMAP_RESPONSE_MAX / 4);
	buf_init(&np, JMAP_RESPONSE_MAX / 4);
	jw_init(&nfw, &nf);
	jw_init(&npw, &np);
	jw_arr_begin(&nfw);
	jw_arr_begin(&npw);
	jmap_begin(c);
	/* "parsed" is null when no blob parsed (RFC 8621 §4.9): written as
	 * an object as they come, and taken back to here when empty. */
	struct jw before = c->w;
	size_t mark = c->w.b->len;
	jw_key(&c->w, "parsed");
	jw_obj_begin(&c->w);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		struct jmap_bytes b;
		struct buf part;
		uint8_t id[32];
		int temp = 0, got;
		buf_init(&part, JMAP_MAX_SIZE_UPLOAD);
		memset(&b, 0, sizeof b);
		got = jmap_blob_parse(e->str, id) == 0
			  ? jmap_bytes_get(c->r->st, c->r->account, id, &b, &temp) == 0
			  : jmap_part_read(c->r->st, c->r->account, e->str, &part, &temp) == 0;
		if (got && !b.p) {
			b.p = buf_data(&part);
			b.len = buf_len(&part);
		}
		if (temp) {
			jmap_bytes_free(&b);
			buf_free(&part);
			buf_free(&nf);
			buf_free(&np);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (!got) {
			jw_str(&nfw, e->str);
			nnf++;
		} else if (!jmap_looks_like_email(b.p, b.len)) {
			jw_str(&npw, e->str);
			nnp++;
		} else {
			jw_key(&c->w, e->str);
			parsed_write(c, &eo, want, e->str, b.p, b.len);
			nparsed++;
		}
		jmap_bytes_free(&b);
		buf_free(&part);
	}
	jw_obj_end(&c->w);
	if (!nparsed && !jw_failed(&c->w)) {
		c->w = before;
		c->w.b->len = mark;
		jw_key(&c->w, "parsed");
		jw_null(&c->w);
	}
	jw_arr_end(&nfw);
	jw_arr_end(&npw);
	jmap_w_raw_or_null(&c->w, "notParsable", &np, nnp != 0);
	jmap_w_raw_or_null(&c->w, "notFound", &nf, nnf != 0);
	jw_obj_end(&c->w);
	buf_free(&nf);
	buf_free(&np);
}

/* ---- Email/changes ---- */

struct echange {
	uint32_t id;
	int created, updated, destroyed;
	/* In a shared account (jmap_share.c): a change of it named a
	 * mailbox the user may read; it is readable now. */
	int in_readable, readable;
};

/* The emails in the order the log first names them (the answer's
 * order), found by id through idx. */
struct echanges {
	const struct jmap_request *r; /* a shared account's call, else NULL */
	struct jmap_pos from, to; /* the changes after from, up to to */
	struct jmap_step step;
	struct echange *v;
	size_t n, cap;
	struct jmap_idx idx;
};

static struct echange *echange_of(struct echanges *ch, uint32_t id)
{
	int added;
	size_t i = jmap_idx_place(&ch->idx, id, ch->n, &added);

	if (!added)
		return &ch->v[i];
	if (ch->n == ch->cap) {
		ch->cap = ch->cap ? ch->cap * 2 : 64;
		ch->v = xrealloc(ch->v, ch->cap * sizeof *ch->v);
	}
	ch->v[ch->n] = (struct echange){.id = id};
	return &ch->v[ch->n++];
}

static void echanges_free(struct echanges *ch)
{
	free(ch->v);
	jmap_idx_free(&ch->idx);
	jmap_idx_free(&ch->step.idx);
}

static int echange_cb(void *arg, const struct store_change *sc)
{
	struct echanges *ch = arg;

	if (sc->modseq > ch->to.step)
		return 1;
	if (sc->kind > STORE_CHANGE_EMAIL_DESTROYED)
		return 0;
	size_t i = jmap_step_place(&ch->step, sc->modseq, sc->id);
	if (!jmap_pos_after(&ch->from, sc->modseq, i) || jmap_pos_after(&ch->to, sc->modseq, i))
		return 0;
	struct echange *e = echange_of(ch, sc->id);
	e->created |= sc->kind == STORE_CHANGE_EMAIL_CREATED;
	e->updated |= sc->kind == STORE_CHANGE_EMAIL_UPDATED;
	e->destroyed |= sc->kind == STORE_CHANGE_EMAIL_DESTROYED;
	if (ch->r)
		e->in_readable |= jmap_may_read(ch->r, sc->mailbox);
	return 0;
}

static void readable_now_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct echanges *ch = arg;

	ch->v[i].readable = b && jmap_email_readable(ch->r, b->members, b->nmembers);
}

/* Which of the changed emails the user may read now (a shared account's
 * call only): 0 or -1 (store error). */
static int echanges_readable(struct jmap_call *c, struct echanges *ch)
{
	if (!ch->r || !ch->n)
		return 0;
	uint32_t *ids = xmalloc(ch->n * sizeof *ids);
	for (size_t i = 0; i < ch->n; i++)
		ids[i] = ch->v[i].id;
	int rc = store_emails_get(c->r->st, c->r->account, ids, ch->n, readable_now_cb, ch);
	free(ids);
	return rc == STORE_OK ? 0 : -1;
}

/*
 * The list (0 created, 1 updated, 2 destroyed) an email's changes put it
 * in, -1 none. Created and destroyed since: in neither. In a shared
 * account the user sees the emails it may read now; one it may not
 * read that a change moved out of a mailbox it may read (it left the
 * user's view) is destroyed for it, as is any destroyed email (its
 * grant may be gone with its mailbox): ids alone, which RFC 8620 §5.2
 * lets a client not know.
 */
static int echange_list(const struct echanges *ch, const struct echange *e)
{
	if (e->created && e->destroyed)
		return -1;
	if (e->destroyed)
		return 2;
	if (ch->r && !e->readable)
		return !e->created && e->in_readable ? 2 : -1;
	if (e->created)
		return 0;
	return e->updated ? 1 : -1;
}

/*
 * The last place after from whose answer names at most max emails: the
 * end of the last whole step that fits, or, when the first step alone
 * names more, the place in it after its first max new emails.
 */
struct ebound {
	struct echanges ids; /* the emails named, from ids.from on */
	uint64_t max, cur;
	struct jmap_pos upto;
	int over;
};

static int ebound_cb(void *arg, const struct store_change *sc)
{
	struct ebound *b = arg;

	if (sc->kind > STORE_CHANGE_EMAIL_DESTROYED)
		return 0;
	size_t i = jmap_step_place(&b->ids.step, sc->modseq, sc->id);
	if (!jmap_pos_after(&b->ids.from, sc->modseq, i))
		return 0;
	if (sc->modseq != b->cur) {
		if (b->ids.n > b->max) {
			b->over = 1;
			return 1;
		}
		b->upto = (struct jmap_pos){b->cur, 0};
		b->cur = sc->modseq;
	}
	size_t before = b->ids.n;
	echange_of(&b->ids, sc->id);
	if (b->ids.n > before && b->ids.n == b->max + 1 && b->upto.step == b->ids.from.step &&
	    b->upto.skip == b->ids.from.skip) {
		/* The first step read names more than max: stop inside it,
		 * after the emails before this one. */
		b->upto = (struct jmap_pos){sc->modseq, i};
		b->over = 1;
		return 1;
	}
	return 0;
}

void jmap_email_changes(struct jmap_call *c)
{
	char state[24], newstate[48];
	uint64_t since, now, max;
	struct jmap_pos from, upto;

	if (jmap_changes_begin_pos(c, state, &from, &since, &now, &max) < 0)
		return;
	const struct json_value *ss = jmap_arg(c, "sinceState");
	upto = (struct jmap_pos){now, 0};
	if (max) {
		struct ebound b = {.max = max, .cur = from.skip ? from.step : since};
		b.ids.from = from;
		b.upto = from;
		int rc = store_changes_since(c->r->st, c->r->account, since, ebound_cb, &b);
		int over = b.over || b.ids.n > b.max;
		echanges_free(&b.ids);
		if (rc != STORE_OK) {
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (over)
			upto = b.upto;
	}
	int moved = jmap_share_reads_moved(c->r, since, upto.step);
	if (moved) {
		jmap_share_reads_error(c, moved);
		return;
	}
	struct echanges ch = {.r = c->r->share ? c->r : NULL, .from = from, .to = upto};
	if (store_changes_since(c->r->st, c->r->account, since, echange_cb, &ch) != STORE_OK ||
	    echanges_readable(c, &ch) < 0) {
		echanges_free(&ch);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_pos_format(&upto, newstate);
	int more = upto.step != now || upto.skip;
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", ss->str);
	jw_kstr(&c->w, "newState", more ? newstate : state);
	jw_kbool(&c->w, "hasMoreChanges", more);
	static const char *const keys[] = {"created", "updated", "destroyed"};
	for (int k = 0; k < 3; k++) {
		jw_key(&c->w, keys[k]);
		jw_arr_begin(&c->w);
		for (size_t i = 0; i < ch.n; i++)
			if (echange_list(&ch, &ch.v[i]) == k)
				jmap_w_id(&c->w, 'E', ch.v[i].id);
		jw_arr_end(&c->w);
	}
	jw_obj_end(&c->w);
	echanges_free(&ch);
}
