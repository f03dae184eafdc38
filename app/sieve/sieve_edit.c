/*
 * sieve_edit.c — the message as a script changed it: editheader (RFC
 * 5293: the header section written back from the result's fields, the
 * text form of an added field's value) and replace and enclose (RFC
 * 5703: a new message the later tests see). The interpreter keeps the
 * edited fields (sieve_msg.c); the delivery stage stores what this file
 * writes as that account's own copy.
 *
 * Inside foreverypart, replace replaces the current part (the whole
 * message when the current part is the message itself) and the loop goes
 * on over the new structure; enclose is carried out when the outermost
 * loop ends.
 *
 * Caveats: enclose's :headers are whole "Name: value" fields added to
 * the enclosing message, folded where long; a value that is not ASCII
 * is encoded (RFC 2047) unless the field holds addresses (which are no
 * text for RFC 2047: left as written); a replaced part keeps the message's edited
 * header as the fields say (set_message() parses the new bytes' header
 * again, the edits re-applied from the field list are not).
 */
#include <stdio.h>

#include "mime/mime_header_text.h"
#include "mime/rfc5322.h"
#include "sieve/sieve.h"
#include "sieve/sieve_run.h"
#include "sieve/sieve_vacation.h"

/* One field as stored: "name:value" (raw) or, added, "name: value". */
static int put_field(struct buf *out, struct str name, struct str value, int added)
{
	if (buf_append(out, name.p, name.len) < 0 || buf_append_c(out, ":") < 0)
		return -1;
	if (added) {
		/* The interpreter refused bare line ends; a folded value the
		 * script wrote keeps its folds, and a long one gets more. */
		(void)buf_append_c(out, " ");
		mime_header_text(out, value);
	} else {
		(void)buf_append(out, value.p, value.len);
	}
	return buf_append_c(out, "\r\n");
}

size_t field_size(const struct hfield *f)
{
	struct buf b;
	buf_init(&b, 16 * (f->name.len + f->value.len) + 64); /* room for RFC 2047 words and folds */
	(void)put_field(&b, f->name, f->value, f->added);
	size_t n = buf_len(&b);
	buf_free(&b);
	return n;
}

int sieve_header_write(const struct sieve_result *res, struct buf *out)
{
	return sieve_header_write_at(res, SIEVE_EDITS_LAST, out);
}

int sieve_header_write_at(const struct sieve_result *res, uint32_t edits, struct buf *out)
{
	for (uint32_t i = 0; i < res->nfields; i++) {
		const struct sieve_field *f = &res->fields[i];
		if (f->added > edits || (f->deleted && f->deleted <= edits))
			continue;
		if (put_field(out, f->name, f->value, f->added != 0) < 0)
			return -1;
	}
	return buf_append_c(out, "\r\n");
}

/* ---- replace and enclose (RFC 5703) ---- */

/* The new message's room: the header the tests see, the script's text
 * twice over (line ends), and for enclose the message itself. */
#define NEW_HEADER_MAX (SIEVE_HEADER_BYTES_MAX + 4 * SIEVE_STRING_MAX)

static int content_field(struct str name)
{
	return str_has_prefix_ci(name, "Content-") || str_eq_ci(name, STR_LIT("MIME-Version"));
}

/* The current header's fields (as editheader left them), without the
 * MIME ones and, when asked, Subject and From. */
static int put_fields(struct run *r, struct buf *out, int subject, int from)
{
	msg_headers(r);
	for (uint32_t i = 0; i < r->nhf; i++) {
		const struct hfield *f = &r->hf[i];
		if (f->deleted || f->fixed || content_field(f->name) ||
		    (subject && str_eq_ci(f->name, STR_LIT("Subject"))) ||
		    (from && str_eq_ci(f->name, STR_LIT("From"))))
			continue;
		if (put_field(out, f->name, f->value, f->added) < 0)
			return -1;
	}
	return 0;
}

/* The message the later tests see becomes b's bytes. */
static void set_message(struct run *r, struct buf *b)
{
	struct str m = str_make(arena_strndup(r->a, buf_data(b), buf_len(b)), buf_len(b));
	msg_set(r, m);
	r->res->message = m;
	/* The actions so far saw a message tern does not keep: they get
	 * the one the script leaves (sieve.h's SIEVE_EDITS_LAST). */
	for (uint32_t i = 0; i < r->res->nactions; i++)
		r->res->actions[i].edits = SIEVE_EDITS_LAST;
}

/*
 * replace's text as the new entity, from its Content-Type to its body: a
 * text/plain one in UTF-8, or with :mime the entity the text is; both
 * valid MIME whatever the script wrote (sieve_vacation.h's writers, the
 * ones vacation replies use). -1 at out's ceiling.
 */
static int put_entity(struct buf *out, const struct sv_node *n, struct str text)
{
	if (node_tag(n, G_MIME))
		sieve_mime_entity(out, text);
	else
		sieve_text_entity(out, text);
	return buf_room(out) ? 0 : -1;
}

/*
 * replace inside foreverypart (RFC 5703 §5): the current part, its own
 * header and body, becomes the text (a text/plain entity, or with :mime
 * the entity the text is); the rest of the message stays as it is. The
 * loop goes on over the new structure (a replaced multipart's children
 * are gone).
 */
static void replace_part(struct run *r, const struct sv_node *n, struct str text)
{
	const struct mime_part *p = &r->tree.parts[r->part];
	size_t start = (size_t)p->hdr_off, end = (size_t)p->body_end;
	size_t top = (size_t)r->tree.parts[0].body_off;
	struct buf b, e;
	int rc = 0;

	if (end > r->env->len || start > end || top > start) {
		run_fail(r, n, "replace: the current part is not in the message");
		return;
	}
	if (node_tag(n, G_MIME) && sieve_body_offset(text.p, text.len) < 0) {
		run_fail(r, n, "replace :mime: the replacement's header is too long");
		return;
	}
	buf_init(&e, NEW_HEADER_MAX + 4 * text.len + 64);
	rc |= put_entity(&e, n, text);
	size_t elen = buf_len(&e);
	/* The CRLF before the next boundary is the boundary's (RFC 2046
	 * §5.1.1): the entity gives up its last one when one follows. */
	if (end + 1 < r->env->len && r->env->msg[end] == '\r' && r->env->msg[end + 1] == '\n' &&
	    elen >= 2 && buf_data(&e)[elen - 1] == '\n')
		elen -= 2;
	buf_init(&b, r->env->len + NEW_HEADER_MAX + buf_len(&e));
	/* The message's header as the script has it now (its edits are in
	 * the field list), then the body up to the part, the new entity,
	 * the rest. */
	msg_headers(r);
	for (uint32_t i = 0; i < r->nhf; i++)
		if (!r->hf[i].deleted && !r->hf[i].fixed)
			rc |= put_field(&b, r->hf[i].name, r->hf[i].value, r->hf[i].added);
	rc |= buf_append_c(&b, "\r\n");
	rc |= buf_append(&b, r->env->msg + top, start - top);
	rc |= buf_append(&b, buf_data(&e), elen);
	buf_free(&e);
	rc |= buf_append(&b, r->env->msg + end, r->env->len - end);
	if (rc < 0)
		run_fail(r, n, "replace: the new message is too large");
	else {
		/* Edits so far are in the fields the header is written from:
		 * the new bytes keep the message's header as it is now. */
		set_message(r, &b);
		msg_tree(r);
	}
	buf_free(&b);
}

void cmd_replace(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *subj = node_tag(n, G_SUBJECT), *from = node_tag(n, G_FROM);
	struct str text = arg_str(r, &n->pos[0], 0);
	struct buf b;
	int rc = 0;

	if (run_spend(r, text.len / 64 + 1) < 0)
		return;
	if (r->loops && r->part != 0) {
		replace_part(r, n, text);
		return;
	}
	buf_init(&b, NEW_HEADER_MAX + 4 * text.len + 64);
	rc |= put_fields(r, &b, subj != NULL, from != NULL);
	if (subj) {
		rc |= buf_append_c(&b, "Subject: ");
		mime_header_text(&b, arg_str(r, subj, 0));
		rc |= buf_append_c(&b, "\r\n");
	}
	if (from) {
		/* The address as given (controls made spaces), a display
		 * name that is not ASCII as RFC 2047 words. */
		rc |= buf_append_c(&b, "From: ");
		sieve_from_value(&b, arg_str(r, from, 0));
		rc |= buf_append_c(&b, "\r\n");
	}
	rc |= buf_append_c(&b, "MIME-Version: 1.0\r\n");
	if (node_tag(n, G_MIME) && sieve_body_offset(text.p, text.len) < 0) {
		run_fail(r, n, "replace :mime: the replacement's header is too long");
		buf_free(&b);
		return;
	}
	rc |= put_entity(&b, n, text);
	if (rc < 0)
		run_fail(r, n, "replace: the new message is too large");
	else
		set_message(r, &b);
	if (r->loops && !r->failed)
		msg_tree(r); /* the loop goes on over the new message */
	buf_free(&b);
}

static int has_8bit(struct str s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] >= 0x80)
			return 1;
	return 0;
}

/* A boundary the enclosed message cannot contain by chance: from a hash
 * of its bytes. */
static void boundary(const char *msg, size_t len, char out[40])
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)msg[i]) * 1099511628211ull;
	snprintf(out, 40, "tern-enclose-%016llx", (unsigned long long)h);
}

void cmd_enclose(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *subj = node_tag(n, G_SUBJECT), *hdrs = node_tag(n, G_HEADERS);
	struct str text = arg_str(r, &n->pos[0], 0);
	char bnd[40];
	struct buf b;
	int rc = 0;

	if (r->loops) {
		/* Inside foreverypart the whole message is enclosed once the
		 * outermost loop is over: the loop's later tests still walk
		 * the parts they started on. The last such enclose counts. */
		r->pending_enclose = n;
		return;
	}
	ptrdiff_t body = sieve_body_offset(r->env->msg, r->env->len);
	if (body < 0) {
		run_fail(r, n, "enclose: the message's header is too long");
		return;
	}
	if (run_spend(r, (r->env->len + text.len) / 64 + 1) < 0)
		return;
	buf_init(&b, NEW_HEADER_MAX * 2 + 4 * text.len + r->env->len);
	boundary(r->env->msg, r->env->len, bnd);
	/* The enclosing message: the original's fields but the MIME ones
	 * (and Subject with :subject), then the script's :headers. */
	rc |= put_fields(r, &b, subj != NULL, 0);
	if (subj) {
		rc |= buf_append_c(&b, "Subject: ");
		mime_header_text(&b, arg_str(r, subj, 0));
		rc |= buf_append_c(&b, "\r\n");
	}
	for (uint32_t i = 0; hdrs && i < hdrs->n; i++) {
		struct str h = arg_str(r, hdrs, i);
		ptrdiff_t colon = str_chr(h, ':');
		int ok = colon > 0;
		for (ptrdiff_t k = 0; ok && k < colon; k++)
			ok = (unsigned char)h.p[k] > 32 && (unsigned char)h.p[k] < 127;
		for (size_t k = 0; ok && k < h.len; k++)
			ok = (h.p[k] != '\r' && h.p[k] != '\n') || (k + 2 < h.len && h.p[k] == '\r' &&
			                                             h.p[k + 1] == '\n' &&
			                                             (h.p[k + 2] == ' ' || h.p[k + 2] == '\t'));
		if (!ok) {
			run_fail(r, n, "enclose :headers: \"%.*s\" is not a header field",
			         (int)(h.len > 64 ? 64 : h.len), h.p);
			buf_free(&b);
			return;
		}
		/* The name as given, the value folded where it is long; text
		 * that is not ASCII as RFC 2047 words (header text is ASCII
		 * outside SMTPUTF8 mail, RFC 5322 §2.2), but in a field of
		 * addresses, where words are no text (RFC 2047 §5). */
		struct str name = str_trim(str_make(h.p, (size_t)colon));
		struct str value = str_make(h.p + colon + 1, h.len - (size_t)colon - 1);
		rc |= buf_append(&b, h.p, (size_t)colon + 1);
		if (has_8bit(value) && !sv_address_header(name)) {
			rc |= buf_append_c(&b, " ");
			mime_header_text(&b, str_trim(value));
		} else {
			mime_header_fold(&b, value);
		}
		rc |= buf_append_c(&b, "\r\n");
	}
	/* 8-bit octets in the text or the message: the parts that hold
	 * them say 8bit, and so the multipart and the message/rfc822 part
	 * (RFC 2045 §6.4, RFC 2046 §5.2.1: 7bit, the default, would be
	 * false, and a hop without 8BITMIME needs to know). */
	int msg8 = has_8bit(str_make(r->env->msg, r->env->len)), text8 = has_8bit(text);
	rc |= buf_append_c(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"");
	rc |= buf_append_c(&b, bnd);
	rc |= buf_append_c(&b, msg8 || text8 ? "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--"
	                                     : "\"\r\n\r\n--");
	rc |= buf_append_c(&b, bnd);
	rc |= buf_append_c(&b, "\r\n");
	sieve_text_entity(&b, text);
	rc |= buf_append_c(&b, "--");
	rc |= buf_append_c(&b, bnd);
	rc |= buf_append_c(&b, msg8 ? "\r\nContent-Type: message/rfc822\r\n"
	                              "Content-Transfer-Encoding: 8bit\r\n\r\n"
	                            : "\r\nContent-Type: message/rfc822\r\n\r\n");
	/* The enclosed message as the script sees it: its edited header. */
	msg_headers(r);
	for (uint32_t i = 0; i < r->nhf; i++)
		if (!r->hf[i].deleted && !r->hf[i].fixed)
			rc |= put_field(&b, r->hf[i].name, r->hf[i].value, r->hf[i].added);
	rc |= buf_append_c(&b, "\r\n");
	rc |= buf_append(&b, r->env->msg + body, r->env->len - (size_t)body);
	rc |= buf_append_c(&b, "\r\n--");
	rc |= buf_append_c(&b, bnd);
	rc |= buf_append_c(&b, "--\r\n");
	if (rc < 0)
		run_fail(r, n, "enclose: the new message is too large");
	else
		set_message(r, &b);
	buf_free(&b);
}

ptrdiff_t sieve_body_offset(const char *msg, size_t len)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int rc;
	ptrdiff_t body = -1;

	rfc5322_init(&p);
	while ((rc = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f)) == RFC5322_FIELD)
		off += used;
	if (rc == RFC5322_END && p.body_offset <= SIEVE_HEADER_BYTES_MAX)
		body = (ptrdiff_t)p.body_offset;
	else if (rc == RFC5322_MORE && off == len && len <= SIEVE_HEADER_BYTES_MAX)
		body = (ptrdiff_t)len; /* a header with no body */
	rfc5322_clear(&p);
	return body;
}
