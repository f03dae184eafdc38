/*
 * jmap_email_create.c — Email/set create (RFC 8621 §4.6): a message
 * written from an Email object, then stored through jmap_email_store
 * (the writer, as IMAP APPEND).
 *
 * The header: the convenience properties (RFC 8621 §4.1.3) and the
 * "header:Name[:asForm][:all]" ones (§4.1.2), each written back from its
 * form: Raw as given (folds and all), Text folded by mime_header_text() as
 * unstructured text (RFC 2047 words when not ASCII), display names that
 * are not plain ASCII as RFC 2047 words too, specials in quoted strings,
 * addresses and URLs one a line, message ids as "<id>" folded at 78
 * columns, Dates in RFC 5322 form at their own offset; :all gives one
 * field per value. Date (sentAt, else now) and Message-ID (messageId,
 * else a new one at our host name) are always there unless a header:
 * property gives them; then MIME-Version. The form must be one the
 * field allows (jmap_hprop_parse, the parser Email/get uses), no
 * field may be given twice (§4.6) and no line be over 998 octets (RFC
 * 5322 §2.1.1: a long name, a Raw line, one long id or URL); a
 * Message-ID has one id, and :all gives a field RFC 5322 §3.6 allows
 * once (Subject, From, Message-ID...) one value at most.
 *
 * The body: from bodyStructure (leaves and multipart nodes, as given),
 * or from textBody (one text/plain part), htmlBody (one text/html part)
 * and attachments: text and html together are multipart/alternative,
 * the html and the inline attachments with a cid a multipart/related,
 * the other attachments make a multipart/mixed around that. A leaf's content is
 * bodyValues[partId].value (UTF-8 text: 7bit when it can be, else
 * quoted-printable) or the bytes of blobId (an upload, an Email, or a
 * part of one: base64). Parts get Content-Type with charset and name,
 * Content-Disposition with filename, Content-ID from cid,
 * Content-Language from language and Content-Location from location.
 *
 * A body part takes header: properties too (written after the Content-*
 * fields its own properties make, which it may not give again). The
 * root part's (bodyStructure, or a lone textBody/htmlBody part) are the
 * message's own fields: none the Email gives (§4.6), a Date or
 * Message-ID there is not made again.
 *
 * A bad Email is answered invalidProperties naming every bad property
 * (RFC 8620 §5.3), each by its name as the Email has it ("from",
 * "header:X:asDate", "textBody", "bodyStructure" for anything under it:
 * RFC 8620 asks for property names, not paths): a failed check records
 * it in the shared jmap_bad collector and the writing goes on to the
 * next property.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime/mime_decode.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/hostname.h"
#include "core/str.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "mime/mime_date.h"
#include "mime/mime_header_text.h"
#include "mime/mime_msgid.h"
#include "mime/mime_tree.h"
#include "store/store.h"

/* A message written here is at most this large (then tooLarge). */
#define CREATE_MAX ((size_t)JMAP_MAX_SIZE_UPLOAD + JMAP_MAX_SIZE_REQUEST + 1024 * 1024)
#define DEPTH_MAX 10

struct mk {
	struct jmap_call *c;
	const struct json_value *values; /* bodyValues */
	struct buf *out;
	/* Every property found bad (invalidProperties, RFC 8620 §5.3: all
	 * of them are named), and the first other failure (blobNotFound,
	 * tooLarge, serverFail). */
	struct jmap_bad *bad;
	const char *err_type, *err_desc;
	unsigned nb; /* boundaries made */
	/* The Email, and the part written as the message's root (its header
	 * fields are the message's), NULL when that is a multipart made here. */
	const struct json_value *em, *root;
};

/* -1, with prop added to the bad properties (type invalidProperties)
 * or the failure kept when it is the first. A check that fails goes on
 * to the next property: the answer names every bad one, not the first. */
static int fail(struct mk *m, const char *type, const char *desc, const char *prop)
{
	if (!strcmp(type, "invalidProperties"))
		jmap_bad_add(m->bad, prop, desc);
	else if (!m->err_type) {
		m->err_type = type;
		m->err_desc = desc;
	}
	return -1;
}

/* o's member k, NULL when it is null, missing or o no object (an
 * array's elements have no keys). */
static const struct json_value *member(const struct json_value *o, const char *k)
{
	const struct json_value *x = json_get(o, k);
	return x && x->type != JSON_NULL ? x : NULL;
}

/* A value without line breaks or other controls (a header's raw text). */
static int plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	return 1;
}

/* A Raw value (RFC 8621 §4.1.2.1: the octets after the colon): plain,
 * but folds (CRLF before whitespace) allowed. */
static int raw_plain(const char *s)
{
	for (; *s; s++) {
		if (s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t'))
			s++;
		else if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	}
	return 1;
}

/* Whether a line of out from start on is longer than RFC 5322 §2.1.1's
 * 998 octets (without its CRLF). */
static int line_too_long(const struct buf *out, size_t start)
{
	const char *d = buf_data(out);
	size_t col = 0;
	for (size_t i = start; i < buf_len(out); i++) {
		if (d[i] == '\r' || d[i] == '\n')
			col = 0;
		else if (++col > 998)
			return 1;
	}
	return 0;
}

static int ascii_atomish(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 || c < 0x20 || strchr("()<>[]:;@\\,.\"", c))
			return 0;
	}
	return 1;
}

static int ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* A display name or a group's name: as it is when it needs nothing, in
 * a quoted string when it has specials, tabs or looks like an encoded
 * word (which a reader would decode), as RFC 2047 words (those of
 * mime_header_text(), whose "Q" words keep only letters and digits:
 * phrase-safe) when it is not ASCII. */
static void w_phrase(struct buf *out, const char *s)
{
	int ascii = 1;
	for (const char *p = s; *p; p++)
		ascii &= (unsigned char)*p < 0x80;
	if (!ascii) {
		mime_header_text(out, str_c(s));
		return;
	}
	if (ascii_atomish(s) && !strstr(s, "=?")) {
		buf_append_c(out, s);
		return;
	}
	buf_append_c(out, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_c(out, "\\");
		buf_append(out, p, 1);
	}
	buf_append_c(out, "\"");
}

/* "Name <a@b>" or "a@b" from an EmailAddress; -1 when it is not one.
 * The email is an addr-spec (RFC 8621 §4.1.2.3, RFC 5322 §3.4.1):
 * local-part "@" domain, checked as the envelope's are
 * (jmap_addr_valid); UTF-8 allowed (RFC 6532 §3.2: the message then
 * needs SMTPUTF8 to travel, which jmap_send.c asks for). "bad" or
 * "a@b@c" made a To field no reader can take an address from. */
static int w_mailbox(struct buf *out, const struct json_value *a)
{
	const struct json_value *n = member(a, "name"), *e = member(a, "email");
	if (a->type != JSON_OBJECT || !e || e->type != JSON_STRING ||
	    !jmap_addr_valid(e->str, e->len) ||
	    (n && (n->type != JSON_STRING || !plain(n->str))))
		return -1;
	if (n && *n->str) {
		w_phrase(out, n->str);
		buf_printf(out, " <%s>", e->str);
	} else {
		buf_append_c(out, e->str);
	}
	return 0;
}

/* "Name <a@b>,\r\n c@d" from an EmailAddress[] (one address a line). */
static int w_addrs(struct mk *m, const char *prop, const struct json_value *v)
{
	if (v->type != JSON_ARRAY)
		return fail(m, "invalidProperties", "an EmailAddress list", prop);
	for (const struct json_value *a = v->first; a; a = a->next) {
		if (a != v->first)
			buf_append_c(m->out, ",\r\n ");
		if (w_mailbox(m->out, a) < 0)
			return fail(m, "invalidProperties", "an EmailAddress list", prop);
	}
	return 0;
}

/* From an EmailAddressGroup[] (RFC 8621 §4.1.2.4): a group with a name
 * is "Name: a, b;", the addresses of one without are listed bare. */
static int w_groups(struct mk *m, const char *prop, const struct json_value *v)
{
	const char *what = "an EmailAddressGroup list";
	if (v->type != JSON_ARRAY)
		return fail(m, "invalidProperties", what, prop);
	int first = 1;
	for (const struct json_value *g = v->first; g; g = g->next) {
		const struct json_value *n = member(g, "name"), *as = member(g, "addresses");
		if (g->type != JSON_OBJECT || !as || as->type != JSON_ARRAY ||
		    (n && (n->type != JSON_STRING || !*n->str || !plain(n->str))))
			return fail(m, "invalidProperties", what, prop);
		if (n) {
			if (!first)
				buf_append_c(m->out, ",\r\n ");
			first = 0;
			w_phrase(m->out, n->str);
			buf_append_c(m->out, ":");
		}
		for (const struct json_value *a = as->first; a; a = a->next) {
			if (n)
				buf_append_c(m->out, a == as->first ? " " : ",\r\n ");
			else if (!first)
				buf_append_c(m->out, ",\r\n ");
			first = 0;
			if (w_mailbox(m->out, a) < 0)
				return fail(m, "invalidProperties", what, prop);
		}
		if (n)
			buf_append_c(m->out, ";");
	}
	return 0;
}

/* "<a@b> <c@d>" from a String[] of message ids without brackets, a line
 * folded before an id that would take it past 78 columns; col is where
 * the value starts. */
static int w_ids(struct mk *m, const char *prop, const struct json_value *v, size_t col)
{
	if (v->type != JSON_ARRAY || !v->first)
		return fail(m, "invalidProperties", "a list of message ids", prop);
	for (const struct json_value *a = v->first; a; a = a->next) {
		/* Only RFC 5322 §3.6.4's id-left "@" id-right: anything else
		 * ("@b", "a@b@c", "a(b)@c", "a,b@c") would be read back as
		 * another id, a comment, or none. */
		if (a->type != JSON_STRING || !mime_msgid_valid(str_make(a->str, a->len)))
			return fail(m, "invalidProperties", "a list of message ids", prop);
		size_t w = strlen(a->str) + 3;
		if (a != v->first && col + w > 78) {
			buf_append_c(m->out, "\r\n");
			col = 0;
		}
		buf_printf(m->out, "%s<%s>", a == v->first ? "" : " ", a->str);
		col += w;
	}
	return 0;
}

/* "<url1>,\r\n <url2>" from a String[] of URLs (RFC 2369). */
static int w_urls(struct mk *m, const char *prop, const struct json_value *v)
{
	if (v->type != JSON_ARRAY || !v->first)
		return fail(m, "invalidProperties", "a list of URLs", prop);
	for (const struct json_value *a = v->first; a; a = a->next) {
		if (a->type != JSON_STRING || !*a->str || !ascii_printable(a->str) ||
		    strpbrk(a->str, "<> "))
			return fail(m, "invalidProperties", "a list of URLs", prop);
		buf_printf(m->out, "%s<%s>", a == v->first ? "" : ",\r\n ", a->str);
	}
	return 0;
}

/*
 * One header field from the value v of property prop in form: RFC 8621
 * §4.1.2's forms written back as the field's wire form, "Field: ...\r\n".
 * A Date keeps its offset (Email/get gives it back with the field's own
 * zone).
 */
static int w_field(struct mk *m, const char *field, enum jmap_hform form, const char *prop,
		   const struct json_value *v)
{
	size_t start = buf_len(m->out);
	int64_t t;
	int off, rc = 0;
	char date[MIME_DATE_MAX];

	buf_printf(m->out, "%s:", field);
	switch (form) {
	case JH_RAW:
		if (v->type != JSON_STRING || !raw_plain(v->str))
			return fail(m, "invalidProperties", "a header value, folded at most", prop);
		if (v->str[0] != ' ' && v->str[0] != '\t')
			buf_append_c(m->out, " ");
		buf_append_c(m->out, v->str);
		break;
	case JH_TEXT:
		if (v->type != JSON_STRING || !plain(v->str))
			return fail(m, "invalidProperties", "a String", prop);
		buf_append_c(m->out, " ");
		mime_header_text_literal(m->out, str_c(v->str));
		break;
	case JH_ADDRESSES:
	case JH_GROUPED: {
		buf_append_c(m->out, " ");
		size_t at = buf_len(m->out);
		rc = form == JH_ADDRESSES ? w_addrs(m, prop, v) : w_groups(m, prop, v);
		/* No address (an empty list): no field, as for null. RFC
		 * 5322 §3.4's address-list has one at least, so "To: " is
		 * no field a reader can parse. */
		if (rc == 0 && buf_len(m->out) == at) {
			m->out->len = start;
			return 0;
		}
		break;
	}
	case JH_MSGIDS:
		/* RFC 5322 §3.6.4, §3.6.6: one msg-id, where In-Reply-To and
		 * References take a list. */
		if ((!strcasecmp(field, "Message-ID") || !strcasecmp(field, "Resent-Message-ID")) &&
		    v->type == JSON_ARRAY && v->first && v->first->next)
			return fail(m, "invalidProperties", "one message id", prop);
		buf_append_c(m->out, " ");
		rc = w_ids(m, prop, v, buf_len(m->out) - start);
		break;
	case JH_DATE:
		if (v->type != JSON_STRING || mime_rfc3339_parse_off(v->str, &t, &off) < 0)
			return fail(m, "invalidProperties", "a Date", prop);
		mime_date_format_off(t, off, date);
		buf_printf(m->out, " %s", date);
		break;
	case JH_URLS:
		buf_append_c(m->out, " ");
		rc = w_urls(m, prop, v);
		break;
	case JH_NFORMS: break;
	}
	buf_append_c(m->out, "\r\n");
	/* Text is folded to fit; what else makes a line this long (a long
	 * name, a Raw value's line, one long id or URL) cannot be written. */
	if (rc == 0 && line_too_long(m->out, start))
		return fail(m, "invalidProperties", "a header line over 998 octets", prop);
	return rc;
}

/* The convenience properties (RFC 8621 §4.1.3), each a header field in
 * one form, in the order they are written. */
static const struct {
	const char *prop, *field;
	enum jmap_hform form;
} conv[] = {
	{"sentAt", "Date", JH_DATE},          {"messageId", "Message-ID", JH_MSGIDS},
	{"from", "From", JH_ADDRESSES},       {"sender", "Sender", JH_ADDRESSES},
	{"replyTo", "Reply-To", JH_ADDRESSES}, {"to", "To", JH_ADDRESSES},
	{"cc", "Cc", JH_ADDRESSES},           {"bcc", "Bcc", JH_ADDRESSES},
	{"subject", "Subject", JH_TEXT},      {"inReplyTo", "In-Reply-To", JH_MSGIDS},
	{"references", "References", JH_MSGIDS},
};

/* A "header:" property of the Email: its name parsed, and its value. */
struct hdr_prop {
	struct jmap_hprop hp;
	const struct json_value *v;
};

/* Whether o (an Email, with conv: its convenience properties too, or a
 * body part) has a property that writes the header field name. */
static int gives(struct mk *m, const struct json_value *o, const char *name, int conv_too)
{
	struct jmap_hprop hp;
	for (size_t i = 0; conv_too && i < sizeof conv / sizeof conv[0]; i++)
		if (!strcasecmp(conv[i].field, name) && member(o, conv[i].prop))
			return 1;
	for (const struct json_value *x = o && o->type == JSON_OBJECT ? o->first : NULL; x; x = x->next)
		if (!strncmp(x->key, "header:", 7) && x->type != JSON_NULL &&
		    jmap_hprop_parse(m->c->r->a, x->key, &hp) == 0 && !strcasecmp(hp.name, name))
			return 1;
	return 0;
}

/* The part written as the message's root: bodyStructure, or the one
 * textBody or htmlBody part when there is nothing else; else NULL (also
 * when that is no object: writing the part says so). */
static const struct json_value *root_part(const struct json_value *em)
{
	const struct json_value *tb = member(em, "textBody"), *hb = member(em, "htmlBody"),
				*at = member(em, "attachments"), *l = tb ? tb : hb, *r;
	if (member(em, "bodyStructure"))
		r = member(em, "bodyStructure");
	else if ((at && at->type == JSON_ARRAY && at->first) || (tb && hb) || !l ||
	         l->type != JSON_ARRAY)
		return NULL;
	else
		r = l->first;
	return r && r->type == JSON_OBJECT ? r : NULL;
}

/*
 * The "header:Name[:asForm][:all]" properties of o (null ones left out)
 * into hs, checked as RFC 8621 §4.6 asks: a form the field allows
 * (§4.1.2), no field given twice (two such properties, or one and its
 * convenience property). On the Email (part NULL) no Content-* field
 * (they belong to body parts) and no MIME-Version (written here); on a
 * body part (part: its property, named in errors) none of the Content-*
 * fields written from the part's own properties (Content-Language and
 * -Location when language and location are given), and on the root part
 * none the Email gives nor MIME-Version. *n_r: how many good ones. 0,
 * or -1 when one or more were bad (each named).
 */
static int header_props(struct mk *m, const struct json_value *o, const char *part,
			struct hdr_prop *hs, size_t *n_r)
{
	static const char *const from_part[] = {"Content-Type", "Content-Transfer-Encoding",
						"Content-Disposition", "Content-ID"};
	size_t n = 0;
	int rc = 0;
	for (const struct json_value *x = o->first; x; x = x->next) {
		if (strncmp(x->key, "header:", 7) != 0 || x->type == JSON_NULL)
			continue;
		struct jmap_hprop *hp = &hs[n].hp;
		if (jmap_hprop_parse(m->c->r->a, x->key, hp) < 0) {
			rc = fail(m, "invalidProperties", "a header form this field does not allow",
				  part ? part : x->key);
			continue;
		}
		hs[n].v = x;
		int dup = 0;
		if (part) {
			for (size_t i = 0; !dup && i < sizeof from_part / sizeof from_part[0]; i++)
				dup = !strcasecmp(from_part[i], hp->name);
			dup |= (!strcasecmp(hp->name, "Content-Language") && member(o, "language")) ||
			       (!strcasecmp(hp->name, "Content-Location") && member(o, "location"));
			/* §4.6: the root part's fields are the message's, so none
			 * the Email gives, nor MIME-Version (written here). */
			if (o == m->root)
				dup |= !strcasecmp(hp->name, "MIME-Version") ||
				       gives(m, m->em, hp->name, 1);
		} else {
			dup = !strncasecmp(hp->name, "Content-", 8) ||
			      !strcasecmp(hp->name, "MIME-Version");
			for (size_t i = 0; !dup && i < sizeof conv / sizeof conv[0]; i++)
				dup = !strcasecmp(conv[i].field, hp->name) && member(o, conv[i].prop);
		}
		for (size_t i = 0; !dup && i < n; i++)
			dup = !strcasecmp(hs[i].hp.name, hp->name);
		if (dup) {
			rc = fail(m, "invalidProperties",
				  "a header field given twice, or one written from others",
				  part ? part : x->key);
			continue;
		}
		n++;
	}
	*n_r = n;
	return rc;
}

/* A field RFC 5322 §3.6's table has at most once in a message. */
static int once_only(const char *name)
{
	static const char *const once[] = {"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
					   "Message-ID", "In-Reply-To", "References", "Subject"};
	for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
		if (!strcasecmp(once[i], name))
			return 1;
	return 0;
}

/* One header: property's fields; errors name prop (the property, or
 * the body part property it is in). */
static int w_header_prop(struct mk *m, const struct jmap_hprop *hp, const struct json_value *x,
			 const char *prop)
{
	if (!hp->all)
		return w_field(m, hp->name, hp->form, prop, x);
	/* :all: one field for each value, in order; at most one of a field
	 * RFC 5322 §3.6 allows once. */
	if (x->type != JSON_ARRAY)
		return fail(m, "invalidProperties", "an array of values (:all)", prop);
	if (x->first && x->first->next && once_only(hp->name))
		return fail(m, "invalidProperties", "a field a message has once (RFC 5322 §3.6)",
			    prop);
	for (const struct json_value *e = x->first; e; e = e->next)
		if (e->type == JSON_NULL || w_field(m, hp->name, hp->form, prop, e) < 0)
			return fail(m, "invalidProperties", "an array of values (:all)", prop);
	return 0;
}

/* The fields of hs[0..n), in order, each checked (-1 when one is bad). */
static int w_header_props(struct mk *m, const struct hdr_prop *hs, size_t n, const char *part)
{
	int rc = 0;
	for (size_t k = 0; k < n; k++)
		if (w_header_prop(m, &hs[k].hp, hs[k].v, part ? part : hs[k].v->key) < 0)
			rc = -1;
	return rc;
}

/* A body part's header: properties (prop: the Email property it is in). */
static int w_part_headers(struct mk *m, const struct json_value *p, const char *prop)
{
	struct hdr_prop *hs = arena_alloc(m->c->r->a, (p->count + 1) * sizeof *hs);
	size_t n;
	if (header_props(m, p, prop, hs, &n) < 0)
		return -1;
	return w_header_props(m, hs, n, prop);
}

/* A language tag (RFC 3282 §2, RFC 5646's characters), within reason. */
static int lang_tag(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
	return n > 0 && n <= 64 && !s[n] && s[0] != '-';
}

/* Content-Language from the part's language (RFC 8621 §4.1.4: String[],
 * at most what Email/get reads back) and Content-Location from its
 * location (a URI, RFC 2557 §4.2: no space, no brackets); then the
 * part's header: properties. */
static int w_lang_loc(struct mk *m, const struct json_value *p, const char *prop)
{
	const struct json_value *lang = member(p, "language"), *loc = member(p, "location");
	size_t start = buf_len(m->out), col = 0, n = 0;
	if (lang) {
		if (lang->type != JSON_ARRAY || !lang->first)
			return fail(m, "invalidProperties", "a list of language tags", prop);
		buf_append_c(m->out, "Content-Language:");
		col = 17;
		for (const struct json_value *t = lang->first; t; t = t->next) {
			if (t->type != JSON_STRING || !lang_tag(t->str) || ++n > MIME_LANGS_MAX)
				return fail(m, "invalidProperties", "a list of language tags", prop);
			if (t != lang->first && col + strlen(t->str) + 2 > 78) {
				buf_append_c(m->out, ",\r\n");
				col = 0;
			} else if (t != lang->first) {
				buf_append_c(m->out, ",");
				col++;
			}
			buf_printf(m->out, " %s", t->str);
			col += strlen(t->str) + 1;
		}
		buf_append_c(m->out, "\r\n");
	}
	if (loc) {
		if (loc->type != JSON_STRING || !*loc->str || !ascii_printable(loc->str) ||
		    strpbrk(loc->str, " <>\""))
			return fail(m, "invalidProperties", "a URI", prop);
		buf_printf(m->out, "Content-Location: %s\r\n", loc->str);
	}
	if (line_too_long(m->out, start))
		return fail(m, "invalidProperties", "a header line over 998 octets", prop);
	return w_part_headers(m, p, prop);
}

static int w_header(struct mk *m, const struct json_value *em)
{
	const struct json_value *v;
	struct hdr_prop *hs = arena_alloc(m->c->r->a, (em->count + 1) * sizeof *hs);
	size_t nh;
	int rc = header_props(m, em, NULL, hs, &nh);

	for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
		if ((v = member(em, conv[i].prop))) {
			if (w_field(m, conv[i].field, conv[i].form, conv[i].prop, v) < 0)
				rc = -1;
			continue;
		}
		/* Date and Message-ID are always written, unless a header:
		 * property gives them (the root part's too). */
		if (gives(m, em, conv[i].field, 0) || gives(m, m->root, conv[i].field, 0))
			continue;
		if (i == 0) {
			char date[MIME_DATE_MAX];
			mime_date_format((int64_t)time(NULL), date);
			buf_printf(m->out, "Date: %s\r\n", date);
		} else if (i == 1) {
			uint8_t r[12];
			char rh[2 * sizeof r + 1];
			randombytes_buf(r, sizeof r);
			hex_encode(rh, r, sizeof r);
			buf_printf(m->out, "Message-ID: <%s@%s>\r\n", rh, hostname_now());
		}
	}
	if (w_header_props(m, hs, nh, NULL) < 0)
		rc = -1;
	buf_append_c(m->out, "MIME-Version: 1.0\r\n");
	return rc;
}

/* Text as 7bit when it is short-lined ASCII without "=_", else as
 * quoted-printable (RFC 2045 §6.7); line ends become CRLF (a bare CR is
 * dropped from 7bit text, kept as =0D in quoted-printable). Returns the
 * encoding's name. */
static const char *w_text(struct buf *out, const char *s, size_t n, int write)
{
	int seven = 1;
	size_t col = 0;
	for (size_t i = 0; i < n && seven; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			col = 0;
			continue;
		}
		if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\r') || ++col > 76 ||
		    (c == '=' && i + 1 < n && s[i + 1] == '_'))
			seven = 0;
	}
	if (!write)
		return seven ? "7bit" : "quoted-printable";
	if (seven) {
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '\r')
				continue;
			if (s[i] == '\n')
				buf_append_c(out, "\r\n");
			else
				buf_append(out, &s[i], 1);
		}
		return "7bit";
	}
	mime_qp_lines(out, s, n); /* one that did not fit: the caller's room check */
	return "quoted-printable";
}

/* Octets of a parameter section's value: a line of the section stays
 * well within 78 columns (RFC 5322 §2.1.1) whatever the value's length. */
#define PARAM_SECTION 56

/*
 * ;name="v" when v is printable ASCII, else ;name*=utf-8''%XX... (RFC
 * 2231 §4); a value too long for one line is written in RFC 2231 §3
 * sections (name*0="..." name*1="...", or name*0*=utf-8''... name*1*=...),
 * one a line, never cutting a quoted-pair or a %XX. A 200-character name
 * was one line of up to 1800 octets, past RFC 5322's limit of 998.
 */
static void w_param(struct buf *out, const char *name, const char *v)
{
	int ascii = ascii_printable(v);
	struct buf enc; /* the value as written, quotes aside */
	buf_init(&enc, 16 * 1024 * 1024);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (ascii) {
			if (*p == '"' || *p == '\\')
				buf_append_c(&enc, "\\");
			buf_append(&enc, (const char *)p, 1);
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		           (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p)) {
			buf_append(&enc, (const char *)p, 1);
		} else {
			buf_printf(&enc, "%%%02X", *p);
		}
	}
	const char *e = buf_data(&enc);
	size_t n = buf_len(&enc);
	if (1 + strlen(name) + (ascii ? 3 : 9) + n <= 78) { /* " name*=utf-8''v" */
		if (ascii)
			buf_printf(out, ";\r\n %s=\"%.*s\"", name, (int)n, e);
		else
			buf_printf(out, ";\r\n %s*=utf-8''%.*s", name, (int)n, e);
		buf_free(&enc);
		return;
	}
	for (size_t at = 0, k = 0; at < n; k++) {
		size_t len = n - at < PARAM_SECTION ? n - at : PARAM_SECTION;
		/* not inside "\\x" or "%XX": step back to where one starts */
		if (at + len < n) {
			size_t cut = at + len;
			if (!ascii) {
				if (e[cut - 1] == '%')
					cut -= 1;
				else if (cut >= 2 && e[cut - 2] == '%')
					cut -= 2;
			} else {
				size_t bs = 0;
				while (bs < cut - at && e[cut - 1 - bs] == '\\')
					bs++;
				if (bs % 2)
					cut--;
			}
			len = cut - at;
		}
		if (ascii)
			buf_printf(out, ";\r\n %s*%zu=\"%.*s\"", name, k, (int)len, e + at);
		else
			buf_printf(out, ";\r\n %s*%zu*=%s%.*s", name, k, k ? "" : "utf-8''", (int)len,
				   e + at);
		at += len;
	}
	buf_free(&enc);
}

static int valid_type(const char *t)
{
	const char *slash = strchr(t, '/');
	if (!slash || slash == t || !slash[1] || strchr(slash + 1, '/'))
		return 0;
	for (const char *p = t; *p; p++)
		if (*p <= 32 || *p >= 127 || strchr("()<>@,;:\\\"[]?=", *p))
			return 0;
	return 1;
}

static int w_part(struct mk *m, const struct json_value *p, const char *prop, const char *deftype,
		  const char *defdisp, int depth);

static int w_multipart(struct mk *m, const struct json_value *p, const char *type,
		       const struct json_value *subs, const char *prop, int depth)
{
	char bnd[48];
	uint8_t r[8];
	randombytes_buf(r, sizeof r);
	snprintf(bnd, sizeof bnd, "=_tern_%u_%02x%02x%02x%02x%02x%02x%02x%02x", m->nb++, r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7]);
	buf_printf(m->out, "Content-Type: %s;\r\n boundary=\"%s\"\r\n", type, bnd);
	if (w_lang_loc(m, p, prop) < 0)
		return -1;
	buf_append_c(m->out, "\r\n");
	for (const struct json_value *s = subs->first; s; s = s->next) {
		buf_printf(m->out, "--%s\r\n", bnd);
		if (w_part(m, s, prop, "text/plain", NULL, depth + 1) < 0)
			return -1;
		buf_append_c(m->out, "\r\n");
	}
	buf_printf(m->out, "--%s--\r\n", bnd);
	return 0;
}

/* The bytes of a blob: B (upload or Email) or P (a part, decoded). */
static int blob_bytes(struct mk *m, const char *bid, struct buf *tmp, struct jmap_bytes *b)
{
	uint8_t id[32];
	int temp = 0;
	bid = jmap_id_ref(m->c->r, bid);
	if (bid && jmap_blob_parse(bid, id) == 0 &&
	    jmap_share_bytes_get(m->c->r, id, b, &temp) == 0)
		return 0;
	if (bid && jmap_share_part_read(m->c->r, bid, tmp, &temp) == 0) {
		memset(b, 0, sizeof *b);
		b->p = buf_data(tmp);
		b->len = buf_len(tmp);
		return 0;
	}
	return fail(m, temp ? "serverFail" : "blobNotFound", temp ? "the store failed" : "no such blob",
		    NULL);
}

/* Writes each blobId of the EmailBodyParts under p (a part, or an array
 * of them) that names no blob: blobNotFound's notFound (RFC 8621 §4.6,
 * "every blobId referenced by an EmailBodyPart that could not be found"). */
static void w_missing_blobs(struct mk *m, struct jw *w, const struct json_value *p, int depth)
{
	if (!p || depth > 64)
		return;
	if (p->type == JSON_ARRAY) {
		for (const struct json_value *e = p->first; e; e = e->next)
			w_missing_blobs(m, w, e, depth + 1);
		return;
	}
	const struct json_value *bid = member(p, "blobId");
	if (bid && bid->type == JSON_STRING) {
		struct buf tmp;
		struct jmap_bytes b;
		struct mk probe = *m;
		probe.err_type = NULL;
		buf_init(&tmp, CREATE_MAX);
		if (blob_bytes(&probe, bid->str, &tmp, &b) == 0)
			jmap_bytes_free(&b);
		else if (probe.err_type && !strcmp(probe.err_type, "blobNotFound"))
			jw_str(w, bid->str);
		buf_free(&tmp);
	}
	w_missing_blobs(m, w, member(p, "subParts"), depth + 1);
}

/* A leaf part's header section, to the empty line: its type (with
 * charset when one is given), transfer encoding cte, and what the client
 * gave of name, disposition, cid, language and location. */
static int w_leaf_head(struct mk *m, const struct json_value *p, const char *prop,
		       const char *type, const char *charset, const char *cte, const char *dname)
{
	const struct json_value *nm = member(p, "name"), *cid = member(p, "cid");
	buf_printf(m->out, "Content-Type: %s", type);
	if (charset)
		buf_printf(m->out, "; charset=%s", charset);
	if (nm)
		w_param(m->out, "name", nm->str);
	buf_printf(m->out, "\r\nContent-Transfer-Encoding: %s\r\n", cte);
	if (dname) {
		buf_append_c(m->out, "Content-Disposition: ");
		buf_append_c(m->out, dname);
		if (nm)
			w_param(m->out, "filename", nm->str);
		buf_append_c(m->out, "\r\n");
	}
	if (cid)
		buf_printf(m->out, "Content-ID: <%s>\r\n", cid->str);
	int rc = w_lang_loc(m, p, prop);
	buf_append_c(m->out, "\r\n");
	return rc;
}

static int w_leaf(struct mk *m, const struct json_value *p, const char *prop, const char *type,
		  const char *defdisp)
{
	const struct json_value *pid = member(p, "partId"), *bid = member(p, "blobId"),
				*cs = member(p, "charset"), *nm = member(p, "name"),
				*disp = member(p, "disposition"), *cid = member(p, "cid");
	if (!!pid == !!bid || (pid && pid->type != JSON_STRING) || (bid && bid->type != JSON_STRING) ||
	    (cs && (cs->type != JSON_STRING || !ascii_atomish(cs->str))) ||
	    (nm && (nm->type != JSON_STRING || !plain(nm->str))) ||
	    (disp && (disp->type != JSON_STRING || !ascii_atomish(disp->str))) ||
	    (cid && (cid->type != JSON_STRING || !ascii_printable(cid->str) || strpbrk(cid->str, "<> "))))
		return fail(m, "invalidProperties", "a body part needs partId or blobId", prop);
	/* §4.6: with partId, charset and size MUST be omitted (the server
	 * picks the encoding; the size is the value's); with blobId a size
	 * is ignored, but is an UnsignedInt. */
	const struct json_value *sz = member(p, "size");
	if (sz && (pid || sz->type != JSON_NUMBER || !sz->is_int || sz->integer < 0))
		return fail(m, "invalidProperties", "size is an UnsignedInt, and only with blobId",
			    prop);
	if (pid && cs)
		return fail(m, "invalidProperties", "charset is omitted with partId", prop);
	const char *dname = disp ? disp->str : defdisp;
	if (pid) {
		const struct json_value *bv = member(m->values, pid->str), *val = member(bv, "value");
		if (!bv || !val || val->type != JSON_STRING)
			return fail(m, "invalidProperties",
				    "partId names a value in bodyValues", prop);
		/* §4.6 asks no text type of a partId: a text part is written
		 * as text in UTF-8, another one carries the value's octets as
		 * they are (base64, no charset), as a blob's would be. */
		size_t n = strlen(val->str);
		if (strncasecmp(type, "text/", 5) != 0) {
			if (w_leaf_head(m, p, prop, type, NULL, "base64", dname) < 0)
				return -1;
			mime_base64_lines(m->out, val->str, n);
			return 0;
		}
		if (w_leaf_head(m, p, prop, type, "utf-8", w_text(NULL, val->str, n, 0), dname) < 0)
			return -1;
		w_text(m->out, val->str, n, 1);
		return 0;
	}
	struct buf tmp;
	struct jmap_bytes b;
	buf_init(&tmp, CREATE_MAX);
	if (blob_bytes(m, bid->str, &tmp, &b) < 0) {
		buf_free(&tmp);
		return -1;
	}
	int rc = w_leaf_head(m, p, prop, type, cs ? cs->str : NULL, "base64", dname);
	if (rc == 0)
		mime_base64_lines(m->out, b.p, b.len);
	jmap_bytes_free(&b);
	buf_free(&tmp);
	return rc;
}

static int w_part(struct mk *m, const struct json_value *p, const char *prop, const char *deftype,
		  const char *defdisp, int depth)
{
	if (p->type != JSON_OBJECT || depth > DEPTH_MAX)
		return fail(m, "invalidProperties", "an EmailBodyPart", prop);
	for (const struct json_value *x = p->first; x; x = x->next) {
		static const char *const ok[] = { "partId", "blobId", "type", "charset", "name",
						  "disposition", "cid", "language", "location",
						  "subParts", "size" };
		int known = !strncmp(x->key, "header:", 7);
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
			known |= !strcmp(x->key, ok[i]);
		if (!known && x->type != JSON_NULL)
			return fail(m, "invalidProperties", "a body part property tern cannot write",
				    prop);
	}
	const struct json_value *ty = member(p, "type"), *subs = member(p, "subParts");
	const char *type = ty && ty->type == JSON_STRING ? ty->str : deftype;
	if ((ty && ty->type != JSON_STRING) || !valid_type(type))
		return fail(m, "invalidProperties", "a media type", prop);
	if (!strncasecmp(type, "multipart/", 10)) {
		if (!subs || subs->type != JSON_ARRAY || !subs->first || member(p, "partId") ||
		    member(p, "blobId"))
			return fail(m, "invalidProperties", "a multipart has subParts only", prop);
		return w_multipart(m, p, type, subs, prop, depth);
	}
	if (subs)
		return fail(m, "invalidProperties", "only a multipart has subParts", prop);
	return w_leaf(m, p, prop, type, defdisp);
}

/* A list property (textBody, htmlBody) of at most one part: that part,
 * else NULL (*rc_r -1 when the list is not that). */
static const struct json_value *single(struct mk *m, const struct json_value *em, const char *prop,
				       int *rc_r)
{
	const struct json_value *v = member(em, prop);
	if (!v)
		return NULL;
	if (v->type != JSON_ARRAY || !v->first || v->first->next) {
		*rc_r = fail(m, "invalidProperties", "one body part", prop);
		return NULL;
	}
	return v->first;
}

/* textBody's part is text/plain, htmlBody's text/html: the whole type,
 * "text/plainx" or "text/html2" is not it. */
static int body_type(struct mk *m, const struct json_value *p, const char *prop, const char *want)
{
	const struct json_value *ty = member(p, "type");
	if (strcasecmp(ty && ty->type == JSON_STRING ? ty->str : want, want))
		return fail(m, "invalidProperties", "textBody is text/plain, htmlBody text/html",
			    prop);
	return 0;
}

/* A fresh boundary "=_tern_K_<16 hex>" for a multipart of kind K. */
static void boundary(char *b, size_t n, char kind)
{
	uint8_t r[8];
	randombytes_buf(r, sizeof r);
	snprintf(b, n, "=_tern_%c_%02x%02x%02x%02x%02x%02x%02x%02x", kind, r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7]);
}

/* An attachment the HTML shows in place: disposition inline and a cid
 * (what its <img src="cid:..."> names). */
static int inline_part(const struct json_value *a)
{
	const struct json_value *d = member(a, "disposition"), *cid = member(a, "cid");
	return a->type == JSON_OBJECT && d && d->type == JSON_STRING && !strcasecmp(d->str, "inline") &&
	       cid && cid->type == JSON_STRING && *cid->str;
}

/* One part of attachments: application/octet-stream and an attachment
 * unless it says otherwise. */
static int w_attachment(struct mk *m, const struct json_value *a)
{
	return w_part(m, a, "attachments", "application/octet-stream", "attachment", 1);
}

/* The htmlBody part, in a multipart/related (RFC 2387, type text/html)
 * with the inline attachments when there are any (n_inline). */
static int w_html(struct mk *m, const struct json_value *hb, const struct json_value *at,
		  size_t n_inline)
{
	if (!n_inline)
		return w_part(m, hb, "htmlBody", "text/html", NULL, 1);
	char rb[48];
	boundary(rb, sizeof rb, 'r');
	buf_printf(m->out,
		   "Content-Type: multipart/related; type=\"text/html\";\r\n boundary=\"%s\"\r\n\r\n--%s\r\n",
		   rb, rb);
	int rc = w_part(m, hb, "htmlBody", "text/html", NULL, 1);
	for (const struct json_value *a = at->first; a; a = a->next) {
		if (!inline_part(a))
			continue;
		buf_printf(m->out, "\r\n--%s\r\n", rb);
		/* the first bad one names attachments */
		if (w_attachment(m, a) < 0) {
			rc = -1;
			break;
		}
	}
	buf_printf(m->out, "\r\n--%s--\r\n", rb);
	return rc;
}

/*
 * The body from textBody, htmlBody and attachments: text and html
 * together are multipart/alternative; with html, the attachments that
 * are inline and have a cid go with it in a multipart/related (the
 * structure mail readers resolve "cid:" URLs in, and what Email/get
 * then reads as the html's images); the other attachments make a
 * multipart/mixed around it all.
 */
static int w_body(struct mk *m, const struct json_value *em)
{
	int rc = 0;
	const struct json_value *bs = member(em, "bodyStructure"), *at = member(em, "attachments");
	const struct json_value *tb = single(m, em, "textBody", &rc),
				*hb = single(m, em, "htmlBody", &rc);
	if (bs) {
		if (member(em, "textBody") || member(em, "htmlBody") || at)
			return fail(m, "invalidProperties",
				    "bodyStructure or textBody/htmlBody/attachments", "bodyStructure");
		return w_part(m, bs, "bodyStructure", "text/plain", NULL, 0);
	}
	if (at && at->type != JSON_ARRAY) {
		rc = fail(m, "invalidProperties", "a list of body parts", "attachments");
		at = NULL;
	}
	size_t n_inline = 0, n_rest = 0;
	for (const struct json_value *a = at ? at->first : NULL; a; a = a->next) {
		if (hb && inline_part(a))
			n_inline++;
		else
			n_rest++;
	}
	/* Each of textBody, htmlBody and attachments is checked whatever
	 * the others are (a bad one is named, the writing goes on). */
	char bnd[48];
	if (n_rest) {
		boundary(bnd, sizeof bnd, 'm');
		buf_printf(m->out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n--%s\r\n",
			   bnd, bnd);
	}
	if (tb && hb) {
		char ab[48];
		boundary(ab, sizeof ab, 'a');
		buf_printf(m->out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n--%s\r\n",
			   ab, ab);
		if (w_part(m, tb, "textBody", "text/plain", NULL, 1) < 0)
			rc = -1;
		buf_printf(m->out, "\r\n--%s\r\n", ab);
		if (w_html(m, hb, at, n_inline) < 0)
			rc = -1;
		buf_printf(m->out, "\r\n--%s--\r\n", ab);
	} else if (tb) {
		if (w_part(m, tb, "textBody", "text/plain", NULL, 1) < 0)
			rc = -1;
	} else if (hb) {
		if (w_html(m, hb, at, n_inline) < 0)
			rc = -1;
	} else {
		buf_append_c(m->out, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	}
	if (tb && body_type(m, tb, "textBody", "text/plain") < 0)
		rc = -1;
	if (hb && body_type(m, hb, "htmlBody", "text/html") < 0)
		rc = -1;
	if (n_rest) {
		for (const struct json_value *a = at->first; a; a = a->next) {
			if (hb && inline_part(a))
				continue;
			buf_printf(m->out, "\r\n--%s\r\n", bnd);
			/* the first bad one names attachments */
			if (w_attachment(m, a) < 0) {
				rc = -1;
				break;
			}
		}
		buf_printf(m->out, "\r\n--%s--\r\n", bnd);
	}
	return rc;
}

static const char *const settable[] = {
	"mailboxIds", "keywords", "receivedAt", "messageId", "inReplyTo", "references",
	"sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt",
	"bodyStructure", "textBody", "htmlBody", "attachments", "bodyValues",
};

void jmap_email_create(struct jmap_call *c, struct jmap_mailboxes *mbs, const char *cid,
		       const struct json_value *em, struct jw *ok, struct jw *bad)
{
	struct buf msg;
	struct jmap_targets t;
	const char *badp = NULL;
	int64_t at = (int64_t)time(NULL);
	struct jmap_bad bp = {.a = c->r->a};
	struct mk m = {c, NULL, &msg, &bp, NULL, NULL, 0, em, NULL};

	if (em->type != JSON_OBJECT) {
		jmap_w_set_error(bad, cid, "invalidProperties", "an Email object", NULL);
		return;
	}
	m.root = root_part(em);
	/* Every bad property is named, not only the first (RFC 8620 §5.3):
	 * these checks, then the header and body written (into bp too). */
	for (const struct json_value *x = em->first; x; x = x->next) {
		int known = !strncmp(x->key, "header:", 7);
		for (size_t i = 0; !known && i < sizeof settable / sizeof settable[0]; i++)
			known = !strcmp(x->key, settable[i]);
		if (!known)
			jmap_bad_member(&bp, x->key, "not a property a client sets");
	}
	const struct json_value *recv = member(em, "receivedAt");
	if (recv && (recv->type != JSON_STRING || jmap_utcdate_parse(recv->str, &at) < 0))
		jmap_bad_add(&bp, "receivedAt", "receivedAt is a UTCDate");
	m.values = member(em, "bodyValues");
	if (m.values && m.values->type != JSON_OBJECT)
		jmap_bad_add(&bp, "bodyValues", "bodyValues is an object");
	/* §4.6: a value's isEncodingProblem and isTruncated are false or
	 * omitted (the server cannot store a value it was told is cut). */
	for (const struct json_value *v = m.values && m.values->type == JSON_OBJECT
						  ? m.values->first
						  : NULL;
	     v; v = v->next) {
		const struct json_value *f1 = member(v, "isTruncated"),
		                        *f2 = member(v, "isEncodingProblem");
		if (v->type != JSON_OBJECT || (f1 && (f1->type != JSON_BOOL || f1->boolean)) ||
		    (f2 && (f2->type != JSON_BOOL || f2->boolean))) {
			jmap_bad_add(&bp, "bodyValues",
				     "a body value is an object, not truncated, no encoding problem");
			break;
		}
	}
	int trc = jmap_new_targets(c, mbs, member(em, "mailboxIds"), member(em, "keywords"), &t,
				   &badp);
	if (trc < 0)
		jmap_bad_add(&bp, badp, "mailboxIds or keywords as RFC 8621 §4.1.1 has them");
	const char *why = trc < 0 ? NULL : jmap_share_new_email_refused(c->r, &t);
	if (why)
		fail(&m, "forbidden", why, NULL);
	int cut = trc < 0 ? 0 : jmap_share_keywords_cut(c->r, &t);
	buf_init(&msg, CREATE_MAX);
	/* Every append smaller than a request fails only with this little
	 * room left: less means something did not fit. */
	int hrc = w_header(&m, em), brc = w_body(&m, em);
	if (hrc == 0 && brc == 0 && buf_room(&msg) <= JMAP_MAX_SIZE_REQUEST)
		fail(&m, "tooLarge", "the message would be too large", NULL);
	if (bp.n) {
		jmap_w_set_error_bad(bad, cid, &bp);
	} else if (m.err_type && !strcmp(m.err_type, "blobNotFound")) {
		jw_key(bad, cid);
		jmap_w_set_error_open(bad, m.err_type, m.err_desc, NULL);
		jw_key(bad, "notFound");
		jw_arr_begin(bad);
		static const char *const lists[] = {"bodyStructure", "textBody", "htmlBody",
						    "attachments"};
		for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
			w_missing_blobs(&m, bad, member(em, lists[i]), 0);
		jw_arr_end(bad);
		jw_obj_end(bad);
	} else if (m.err_type) {
		jmap_w_set_error(bad, cid, m.err_type, m.err_desc, NULL);
	} else {
		struct jmap_new_email e = {
			.data = buf_data(&msg), .len = buf_len(&msg), .mailboxes = t.mb,
			.nmailboxes = t.n, .keywords = buf_len(&t.kw) ? buf_data(&t.kw) : NULL,
			.received_at = at,
		};
		int rc = jmap_email_store(c->r->st, c->r->account, c->r->user, &e);
		if (rc == STORE_OK) {
			char eid[16];
			/* Omitted, they took their defaults (RFC 8621 §4.1.1), which
			 * created names (RFC 8620 §5.3). */
			jmap_w_created_email(ok, cid, &e,
					     (recv ? 0 : JMAP_CREATED_RECEIVED_AT) |
						 (member(em, "keywords") && !cut ? 0
										 : JMAP_CREATED_KEYWORDS));
			snprintf(eid, sizeof eid, "E%08x", e.email_id);
			jmap_created_put(c->r, cid, eid);
		} else {
			jmap_w_store_error(bad, cid, rc);
		}
	}
	buf_free(&msg);
	buf_free(&t.kw);
}
