/*
 * jmap_mdn.c — MDN/send and MDN/parse (RFC 9007): read receipts as
 * JMAP objects.
 *
 * MDN/send composes, for each MDN object, the multipart/report of RFC
 * 8098 §3: a human-readable text/plain part, the message/disposition-
 * notification part (mime/mdn.c writes its fields) and, when
 * includeOriginalMessage, the original as message/rfc822. It goes to the
 * addresses of the original's Disposition-Notification-To field, from
 * the null envelope sender (RFC 8098 §2.1: nothing may answer an MDN),
 * through jmap_send() — the outbound path EmailSubmission uses, DKIM
 * included. The server sets originalMessageId (the original's
 * Message-ID), originalRecipient (its Original-Recipient field, when it
 * has one) and finalRecipient ("rfc822; " and the identity's address),
 * which a client may set only to an address of the account (RFC 9007
 * §5); subject and textBody get a default when the client gives none.
 * onSuccessUpdateEmail ("#creation id" keys) becomes the implicit
 * Email/set, as EmailSubmission's does: that is how a client sets
 * $mdnsent (RFC 9007 §2.1's example); an Email that has it already is
 * refused mdnAlreadySent, one that asks for none (no valid
 * Disposition-Notification-To) notFound, as §2.1 says.
 *
 * MDN/parse reads a blob as a message: the first
 * message/disposition-notification part is the report (mdn_report_parse),
 * the first text/plain part the textBody, the message's Subject the
 * subject, and a message/rfc822 part makes includeOriginalMessage true.
 *
 * Caveats: forEmailId in MDN/parse is always null (the store keeps no
 * index from Message-ID to email); a report's Disposition modifiers are
 * not returned (RFC 9007 has no property for them).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/hostname.h"
#include "core/xalloc.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_send.h"
#include "mime/mdn.h"
#include "mime/mime_date.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "mime/mime_header_text.h"
#include "mime/mime_tree.h"
#include "mime/rfc5322.h"
#include "queue/queue.h"
#include "store/store.h"

#define DNT_MAX 16             /* Disposition-Notification-To addresses used */
#define MDN_TEXT_MAX (1 << 20) /* textBody, subject */
#define PARSE_BLOB_MAX (64u << 20)

/* ---- the original ---- */

struct orig {
	char *data; /* malloc'ed */
	size_t len;
	int found, mdnsent;
};

static void content_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct orig *o = arg;
	(void)meta;
	(void)metalen;
	o->data = xmalloc(len + 1);
	memcpy(o->data, data, len);
	o->len = len;
	o->found = 1;
}

static void brief_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct orig *o = arg;
	(void)i;
	if (!b)
		return;
	/* Keywords are case-insensitive (RFC 8621 §4.1.1). */
	for (size_t k = 0; k + 8 <= b->keywords_len; k++)
		if (!strncasecmp(b->keywords + k, "$mdnsent", 8) && (k == 0 || b->keywords[k - 1] == ' ') &&
		    (k + 8 == b->keywords_len || b->keywords[k + 8] == ' '))
			o->mdnsent = 1;
}

/* The unfolded value of the first field name of h, or p NULL. */
static struct str field(struct arena *a, const struct jmap_hfields *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (str_eq_ci_c(h->v[i].name, name)) {
			char *u = arena_alloc(a, h->v[i].value.len + 1);
			return str_make(u, rfc5322_unfold(h->v[i].value, u));
		}
	return (struct str){NULL, 0};
}

/* ---- MDN/send ---- */

/* A String|null member: 0 (*s_r NULL when absent or null), -1 wrong type. */
static int opt_str(const struct json_value *o, const char *k, const char **s_r)
{
	const struct json_value *v = json_get(o, k);
	*s_r = NULL;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING)
		return -1;
	*s_r = v->str;
	return 0;
}

static int disposition_read(const struct json_value *d, struct mdn_report *rep)
{
	const struct json_value *am = d ? json_get(d, "actionMode") : NULL,
				*sm = d ? json_get(d, "sendingMode") : NULL,
				*ty = d ? json_get(d, "type") : NULL;
	if (!d || d->type != JSON_OBJECT || !am || am->type != JSON_STRING || !sm ||
	    sm->type != JSON_STRING || !ty || ty->type != JSON_STRING)
		return -1;
	for (const struct json_value *p = d->first; p; p = p->next)
		if (strcmp(p->key, "actionMode") && strcmp(p->key, "sendingMode") &&
		    strcmp(p->key, "type"))
			return -1;
	if (!strcmp(am->str, "manual-action"))
		rep->manual_action = 1;
	else if (strcmp(am->str, "automatic-action"))
		return -1;
	if (!strcmp(sm->str, "mdn-sent-manually"))
		rep->sent_manually = 1;
	else if (strcmp(sm->str, "mdn-sent-automatically"))
		return -1;
	if (mdn_type_parse(str_c(ty->str), &rep->type) < 0 || strcmp(ty->str, mdn_type_name(rep->type)))
		return -1;
	return 0;
}

/* Text lines with CRLF ends, into out. */
static void put_text(struct buf *out, const char *s)
{
	/* CRs dropped (a CRLF is a LF then), then as mime_text_body writes
	 * it: a line over 998 octets (a client's textBody, or a long
	 * Subject quoted in ours) goes quoted-printable. */
	struct buf t;
	size_t n = strlen(s);
	buf_init(&t, n + 1);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r')
			buf_append(&t, s + i, 1);
	mime_text_body(out, buf_data(&t), buf_len(&t));
	buf_free(&t);
}

struct mdn_out {
	const char *subject, *text, *final_rcpt; /* what the server chose, NULL: the client's */
	struct str orig_rcpt, orig_id;           /* p NULL: none */
	int incl_default;                        /* includeOriginalMessage omitted */
};

/* Sends one MDN object o for identity address ident; *email_r its
 * forEmailId, *res what the server set. */
static int send_one(struct jmap_call *c, const struct json_value *o, const char *ident,
		    const char **email_r, struct mdn_out *res, struct jmap_set_err *e)
{
	static const char *const client_props[] = {"forEmailId",  "subject",     "textBody",
						   "includeOriginalMessage", "reportingUA",
						   "disposition", "finalRecipient", "extensionFields"};
	static const char *const server_props[] = {"mdnGateway", "originalRecipient",
						   "originalMessageId", "error"};
	struct jmap_request *r = c->r;
	struct arena *a = r->a;
	struct mdn_report *rep = arena_zalloc(a, sizeof *rep);

	memset(res, 0, sizeof *res);
	if (o->type != JSON_OBJECT)
		return jmap_set_fail(e, "invalidProperties", NULL, NULL);
	for (const struct json_value *p = o->first; p; p = p->next) {
		int ok = 0;
		for (size_t k = 0; k < sizeof client_props / sizeof client_props[0] && !ok; k++)
			ok = !strcmp(p->key, client_props[k]);
		for (size_t k = 0; k < sizeof server_props / sizeof server_props[0] && !ok; k++)
			ok = !strcmp(p->key, server_props[k]) && p->type == JSON_NULL;
		if (!ok)
			return jmap_set_fail(e, "invalidProperties", p->key, NULL);
	}
	const char *subject, *text, *ua, *final;
	if (opt_str(o, "subject", &subject) < 0)
		return jmap_set_fail(e, "invalidProperties", "subject", NULL);
	if (opt_str(o, "textBody", &text) < 0)
		return jmap_set_fail(e, "invalidProperties", "textBody", NULL);
	if (opt_str(o, "reportingUA", &ua) < 0)
		return jmap_set_fail(e, "invalidProperties", "reportingUA", NULL);
	if (opt_str(o, "finalRecipient", &final) < 0)
		return jmap_set_fail(e, "invalidProperties", "finalRecipient", NULL);
	if ((subject && strlen(subject) > MDN_TEXT_MAX) || (text && strlen(text) > MDN_TEXT_MAX))
		return jmap_set_fail(e, "tooLarge", NULL, NULL);
	const struct json_value *inc = json_get(o, "includeOriginalMessage");
	if (inc && inc->type != JSON_BOOL && inc->type != JSON_NULL)
		return jmap_set_fail(e, "invalidProperties", "includeOriginalMessage", NULL);
	int include = inc && inc->type == JSON_BOOL && inc->boolean;
	res->incl_default = !inc || inc->type == JSON_NULL;
	if (disposition_read(json_get(o, "disposition"), rep) < 0)
		return jmap_set_fail(e, "invalidProperties", "disposition", NULL);
	const struct json_value *ext = json_get(o, "extensionFields");
	if (ext && ext->type != JSON_NULL) {
		if (ext->type != JSON_OBJECT || ext->count > MDN_EXT_MAX)
			return jmap_set_fail(e, "invalidProperties", "extensionFields", NULL);
		for (const struct json_value *p = ext->first; p; p = p->next) {
			if (p->type != JSON_STRING || !mdn_field_name_ok(str_c(p->key)) ||
			    strpbrk(p->str, "\r\n"))
				return jmap_set_fail(e, "invalidProperties", "extensionFields", NULL);
			rep->ext[rep->next].name = str_c(p->key);
			rep->ext[rep->next++].value = str_c(p->str);
		}
	}
	if (ua) {
		if (strpbrk(ua, "\r\n"))
			return jmap_set_fail(e, "invalidProperties", "reportingUA", NULL);
		rep->reporting_ua = str_c(ua);
	}
	/* The final recipient: the identity's, or one the account owns. */
	if (final) {
		const char *semi = strchr(final, ';'), *addr = semi ? semi + 1 : final;
		while (*addr == ' ' || *addr == '\t')
			addr++;
		if (strpbrk(final, "\r\n") || (semi && strncasecmp(final, "rfc822", 6)))
			return jmap_set_fail(e, "invalidProperties", "finalRecipient", NULL);
		int own = jmap_account_may_send(r, addr);
		if (own < 0)
			return jmap_set_fail(e, "serverFail", NULL, NULL);
		if (!own)
			return jmap_set_fail(e, "forbiddenFrom", "finalRecipient",
				    "not an address of this account");
		if (!semi)
			final = arena_printf(a, "rfc822; %s", addr);
	} else {
		final = res->final_rcpt = arena_printf(a, "rfc822; %s", ident);
	}
	rep->final_recipient = str_c(final);

	/* The original. */
	const struct json_value *fe = json_get(o, "forEmailId");
	if (!fe || fe->type != JSON_STRING)
		return jmap_set_fail(e, "invalidProperties", "forEmailId", NULL);
	const char *eid = jmap_id_ref(r, fe->str);
	uint32_t num = eid ? jmap_id_num(eid, 'E') : 0;
	struct orig og = {0};
	if (num)
		store_emails_get(r->st, r->account, &num, 1, brief_cb, &og);
	if (num && store_email_content(r->st, r->account, num, content_cb, &og) != STORE_OK)
		og.found = 0;
	if (!og.found) {
		free(og.data);
		return jmap_set_fail(e, "notFound", "forEmailId", "no such email");
	}
	*email_r = arena_printf(a, "E%08x", num);
	if (og.mdnsent) {
		free(og.data);
		return jmap_set_fail(e, "mdnAlreadySent", NULL, NULL);
	}
	struct jmap_hfields h;
	jmap_hfields_read(a, og.data, og.len, &h);
	struct str dnt = field(a, &h, "Disposition-Notification-To");
	struct mime_address *l = NULL;
	uint32_t nl = 0;
	if (dnt.p)
		mime_field_addresses(a, dnt, &l, &nl, DNT_MAX);
	const char *to[DNT_MAX + 1];
	size_t nto = 0;
	for (uint32_t k = 0; k < nl && nto < DNT_MAX; k++)
		if (l[k].mailbox.p && l[k].host.p && l[k].host.len &&
		    !str_eq_ci_c(l[k].host, "MISSING_DOMAIN"))
			to[nto++] = arena_printf(a, "%.*s@%.*s", (int)l[k].mailbox.len, l[k].mailbox.p,
						 (int)l[k].host.len, l[k].host.p);
	if (!nto) {
		free(og.data);
		/* RFC 9007 §2.1: notFound is also an original without a
		 * valid Disposition-Notification-To. */
		return jmap_set_fail(e, "notFound", "forEmailId",
			    "the email asks for no disposition notification");
	}
	res->orig_id = field(a, &h, "Message-ID");
	res->orig_rcpt = field(a, &h, "Original-Recipient");
	if (res->orig_id.p)
		rep->original_message_id = res->orig_id;
	if (res->orig_rcpt.p)
		rep->original_recipient = res->orig_rcpt;
	struct str osub = field(a, &h, "Subject");
	struct buf dsub;
	buf_init(&dsub, 4096);
	if (osub.p)
		rfc5322_decode_words(osub, &dsub);
	const char *orig_subject = arena_strndup(a, buf_data(&dsub), buf_len(&dsub));
	buf_free(&dsub);
	static const char *const verbs[] = {"Deleted", "Dispatched", "Read", "Processed"};
	if (!subject)
		subject = res->subject = arena_printf(a, "%s: %s", verbs[rep->type], orig_subject);
	if (!text)
		text = res->text = arena_printf(
		    a, "This is a disposition notification for the message \"%s\" sent to %s.\n"
		       "Its disposition: %s.\n",
		    orig_subject, ident, mdn_type_name(rep->type));

	/* The report (RFC 8098 §3, RFC 6522). */
	struct buf m;
	uint8_t rnd[12];
	char bnd[64], date[MIME_DATE_MAX];
	randombytes_buf(rnd, sizeof rnd);
	memcpy(bnd, "mdn-", 4);
	hex_encode(bnd + 4, rnd, sizeof rnd);
	mime_date_format((int64_t)time(NULL), date);
	buf_init(&m, og.len + 2 * MDN_TEXT_MAX + 64 * 1024);
	buf_printf(&m, "From: <%s>\r\nTo: ", ident);
	for (size_t k = 0; k < nto; k++)
		buf_printf(&m, "%s<%s>", k ? ",\r\n " : "", to[k]);
	buf_append_c(&m, "\r\nSubject: ");
	mime_header_text(&m, str_c(subject));
	buf_printf(&m, "\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n", date, bnd, hostname_now());
	if (res->orig_id.p && res->orig_id.len < 990 && !memchr(res->orig_id.p, '\n', res->orig_id.len))
		buf_printf(&m, "References: %.*s\r\n", (int)res->orig_id.len, res->orig_id.p);
	/* RFC 3834 §5: sent without the user's action. */
	if (!rep->sent_manually)
		buf_append_c(&m, "Auto-Submitted: auto-replied\r\n");
	buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
		       "report-type=disposition-notification;\r\n\tboundary=\"%s\"\r\n\r\n"
		       "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n", bnd, bnd);
	put_text(&m, text);
	buf_printf(&m, "--%s\r\nContent-Type: message/disposition-notification\r\n\r\n", bnd);
	mdn_report_write(rep, &m);
	if (include) {
		buf_printf(&m, "--%s\r\nContent-Type: message/rfc822\r\n", bnd);
		int eight = 0;
		for (size_t k = 0; k < og.len && !eight; k++)
			eight = (unsigned char)og.data[k] >= 0x80;
		buf_printf(&m, "%s\r\n", eight ? "Content-Transfer-Encoding: 8bit\r\n" : "");
		buf_append(&m, og.data, og.len);
		if (og.len && og.data[og.len - 1] != '\n')
			buf_append_c(&m, "\r\n");
	}
	int full = buf_printf(&m, "--%s--\r\n", bnd) < 0;
	free(og.data);
	if (full) {
		buf_free(&m);
		return jmap_set_fail(e, "tooLarge", NULL, NULL);
	}
	const char *at = strrchr(ident, '@');
	struct jmap_outgoing q = {.mail_from = "", .rcpts = to, .nrcpts = nto, .msg = buf_str(&m),
				  .sign_domain = at ? at + 1 : NULL};
	int sent = jmap_send(r, &q);
	buf_free(&m);
	if (sent == JMAP_SEND_RATE)
		return jmap_set_fail(e, "rateLimit", NULL, "the account's hourly sending limit is reached");
	if (sent == JMAP_SEND_FULL)
		return jmap_set_fail(e, jmap_store_fail_type(STORE_EFULL, 1), NULL,
				     jmap_store_fail_desc(STORE_EFULL));
	if (sent != JMAP_SEND_OK)
		return jmap_set_fail(e, sent == JMAP_SEND_REFUSED ? "invalidProperties" : "serverFail", NULL,
			    "the queue refused the message");
	return 0;
}

/* The server-set properties of a sent MDN (RFC 9007 §2.1's "sent"). */
static void w_sent(struct jw *w, const struct mdn_out *x)
{
	jw_obj_begin(w);
	if (x->final_rcpt)
		jw_kstr(w, "finalRecipient", x->final_rcpt);
	if (x->subject)
		jw_kstr(w, "subject", x->subject);
	if (x->text)
		jw_kstr(w, "textBody", x->text);
	if (x->incl_default)
		jw_kbool(w, "includeOriginalMessage", 0);
	jw_key(w, "originalRecipient");
	if (x->orig_rcpt.p)
		jw_strn(w, x->orig_rcpt.p, x->orig_rcpt.len);
	else
		jw_null(w);
	jw_key(w, "originalMessageId");
	if (x->orig_id.p)
		jw_strn(w, x->orig_id.p, x->orig_id.len);
	else
		jw_null(w);
	jw_key(w, "mdnGateway");
	jw_null(w);
	jw_key(w, "error");
	jw_null(w);
	jw_obj_end(w);
}

struct sent_list {
	const char **cids, **emails;
	size_t n;
};

static const char *then_email(void *arg, const char *key)
{
	struct sent_list *s = arg;
	if (key[0] != '#')
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->cids[i], key + 1))
			return s->emails[i];
	return NULL;
}

static const struct jmap_arg send_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"identityId", JA_ID, JA_REQUIRED},
    {"send", JA_IDMAP, JA_REQUIRED},
    {"onSuccessUpdateEmail", JA_IDREFMAP, JA_NULLABLE},
};

void jmap_mdn_send(struct jmap_call *c)
{
	if (jmap_args_check(c, send_args, sizeof send_args / sizeof send_args[0]) < 0)
		return;
	const struct json_value *snd = jmap_arg(c, "send"), *osu = jmap_arg(c, "onSuccessUpdateEmail");
	const char *ident = jmap_identity_email(c->r, jmap_arg(c, "identityId")->str);
	if (!ident) {
		jmap_bad_arg(c, "identityId", "no such identity");
		return;
	}
	if (snd->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	struct buf ok, bad;
	struct jw okw, badw;
	buf_init(&ok, 4 * 1024 * 1024);
	buf_init(&bad, 1024 * 1024);
	jw_init(&okw, &ok);
	jw_init(&badw, &bad);
	jw_obj_begin(&okw);
	jw_obj_begin(&badw);
	struct sent_list sl = {arena_zalloc(c->r->a, (snd->count + 1) * sizeof *sl.cids),
			       arena_zalloc(c->r->a, (snd->count + 1) * sizeof *sl.emails), 0};
	size_t nok = 0, nbad = 0;
	for (const struct json_value *o = snd->first; o; o = o->next) {
		struct jmap_set_err e = {0};
		struct mdn_out res;
		const char *email = NULL;
		if (send_one(c, o, ident, &email, &res, &e) < 0) {
			jmap_w_set_err(&badw, o->key, &e);
			nbad++;
			continue;
		}
		sl.cids[sl.n] = o->key;
		sl.emails[sl.n++] = email;
		jw_key(&okw, o->key);
		w_sent(&okw, &res);
		nok++;
	}
	jw_obj_end(&okw);
	jw_obj_end(&badw);
	if (osu)
		jmap_then_email_set(c, osu, NULL, then_email, &sl);
	jmap_begin(c);
	jmap_w_raw_or_null(&c->w, "sent", &ok, nok != 0);
	jmap_w_raw_or_null(&c->w, "notSent", &bad, nbad != 0);
	jw_obj_end(&c->w);
	buf_free(&ok);
	buf_free(&bad);
}

/* ---- MDN/parse ---- */

/* A text part's content as UTF-8 (a's memory). */
static struct str part_text(struct arena *a, const char *data, const struct mime_part *p)
{
	struct str body = str_make(data + p->body_off, p->body_end - p->body_off);
	struct buf dec;
	buf_init(&dec, body.len + 16);
	mime_decode_all(mime_cte_parse(p->encoding), body, &dec);
	struct str cs = mime_param_get(p->params, p->nparams, "charset");
	size_t n = buf_len(&dec);
	char *o = arena_alloc(a, 3 * n + 1);
	ptrdiff_t k = cs.p && mime_charset_known(cs) ? mime_charset_to_utf8(cs, buf_data(&dec), n, o)
						      : -1;
	if (k < 0) {
		memcpy(o, buf_data(&dec), n);
		k = (ptrdiff_t)n;
	}
	buf_free(&dec);
	return str_make(o, (size_t)k);
}

static void w_opt(struct jw *w, const char *key, struct str s)
{
	jw_key(w, key);
	if (s.p)
		jw_strn(w, s.p, s.len);
	else
		jw_null(w);
}

/* One blob's MDN into w; -1 when it holds none. */
static int parse_one(struct jmap_call *c, const char *data, size_t len, struct jw *w)
{
	struct arena *a = c->r->a;
	struct mime_tree t;
	mime_tree_parse(data, len, a, &t);
	uint32_t dn = MIME_NONE, text = MIME_NONE;
	int incl = 0;
	for (uint32_t i = 1; i < t.nparts; i++) {
		const struct mime_part *p = &t.parts[i];
		if (p->depth != 1)
			continue; /* the report's own parts, not those of the original */
		if (dn == MIME_NONE && mime_part_is(p, "message", "disposition-notification"))
			dn = i;
		else if (text == MIME_NONE && mime_part_is(p, "text", "plain"))
			text = i;
		else if (mime_part_is(p, "message", "rfc822") || mime_part_is(p, "message", "global"))
			incl = 1;
	}
	if (dn == MIME_NONE)
		return -1;
	struct str fields = part_text(a, data, &t.parts[dn]);
	struct mdn_report rep;
	if (mdn_report_parse(fields.p, fields.len, a, &rep) < 0)
		return -1;
	struct jmap_hfields h;
	jmap_hfields_read(a, data, len, &h);
	struct str subj = field(a, &h, "Subject");
	jw_obj_begin(w);
	jw_key(w, "forEmailId");
	jw_null(w);
	jw_key(w, "subject");
	if (subj.p) {
		struct buf d;
		buf_init(&d, 64 * 1024);
		rfc5322_decode_words(subj, &d);
		jw_strn(w, buf_data(&d), buf_len(&d));
		buf_free(&d);
	} else {
		jw_null(w);
	}
	w_opt(w, "textBody", text == MIME_NONE ? (struct str){NULL, 0} : part_text(a, data, &t.parts[text]));
	jw_kbool(w, "includeOriginalMessage", incl);
	w_opt(w, "reportingUA", rep.reporting_ua);
	jw_key(w, "disposition");
	jw_obj_begin(w);
	jw_kstr(w, "actionMode", rep.manual_action ? "manual-action" : "automatic-action");
	jw_kstr(w, "sendingMode", rep.sent_manually ? "mdn-sent-manually" : "mdn-sent-automatically");
	jw_kstr(w, "type", mdn_type_name(rep.type));
	jw_obj_end(w);
	w_opt(w, "mdnGateway", rep.mdn_gateway);
	w_opt(w, "originalRecipient", rep.original_recipient);
	w_opt(w, "finalRecipient", rep.final_recipient);
	w_opt(w, "originalMessageId", rep.original_message_id);
	jw_key(w, "error");
	if (rep.nerrors) {
		jw_arr_begin(w);
		for (size_t i = 0; i < rep.nerrors; i++)
			jw_strn(w, rep.errors[i].p, rep.errors[i].len);
		jw_arr_end(w);
	} else {
		jw_null(w);
	}
	jw_key(w, "extensionFields");
	if (rep.next) {
		jw_obj_begin(w);
		for (size_t i = 0; i < rep.next; i++) {
			jw_key(w, arena_strndup(a, rep.ext[i].name.p, rep.ext[i].name.len));
			jw_strn(w, rep.ext[i].value.p, rep.ext[i].value.len);
		}
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
	jw_obj_end(w);
	return 0;
}

static const struct jmap_arg parse_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"blobIds", JA_IDS, JA_REQUIRED},
};

void jmap_mdn_parse(struct jmap_call *c)
{
	if (jmap_args_check(c, parse_args, sizeof parse_args / sizeof parse_args[0]) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "blobIds");
	if (ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	/* A blob named twice is parsed once: "parsed" is an object, and a
	 * key given twice is no JSON a client can read (RFC 8259 4). */
	ids = jmap_ids_unique(c->r->a, ids);
	struct buf ok, unp, nf;
	struct jw okw, unpw, nfw;
	size_t nok = 0, nunp = 0, nnf = 0;
	buf_init(&ok, JMAP_RESPONSE_MAX / 2);
	buf_init(&unp, 64 * 1024);
	buf_init(&nf, 64 * 1024);
	jw_init(&okw, &ok);
	jw_init(&unpw, &unp);
	jw_init(&nfw, &nf);
	jw_obj_begin(&okw);
	jw_arr_begin(&unpw);
	jw_arr_begin(&nfw);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		uint8_t bid[32];
		uint32_t em;
		unsigned part;
		struct jmap_bytes b;
		struct buf pb;
		int temp = 0, have = 0, parsed = -1;
		const char *p = NULL;
		size_t len = 0;
		buf_init(&pb, PARSE_BLOB_MAX);
		if (jmap_blob_parse(e->str, bid) == 0 &&
		    jmap_bytes_get(c->r->st, c->r->account, bid, &b, &temp) == 0) {
			have = 1;
			p = b.p;
			len = b.len;
		} else if (jmap_part_parse(e->str, &em, &part) == 0 &&
			   jmap_part_read(c->r->st, c->r->account, e->str, &pb, &temp) == 0) {
			have = 2;
			p = buf_data(&pb);
			len = buf_len(&pb);
		}
		if (have) {
			struct buf one;
			struct jw ow;
			buf_init(&one, JMAP_RESPONSE_MAX / 4);
			jw_init(&ow, &one);
			parsed = parse_one(c, p, len, &ow);
			if (parsed == 0 && !jw_failed(&ow)) {
				jw_key(&okw, e->str);
				jw_rawn(&okw, buf_data(&one), buf_len(&one));
			}
			buf_free(&one);
		}
		if (have == 1)
			jmap_bytes_free(&b);
		buf_free(&pb);
		if (parsed == 0) {
			nok++;
		} else if (have) {
			jw_str(&unpw, e->str);
			nunp++;
		} else {
			jw_str(&nfw, e->str);
			nnf++;
		}
	}
	jw_obj_end(&okw);
	jw_arr_end(&unpw);
	jw_arr_end(&nfw);
	jmap_begin(c);
	jmap_w_raw_or_null(&c->w, "parsed", &ok, nok != 0);
	jmap_w_raw_or_null(&c->w, "notParsable", &unp, nunp != 0);
	jmap_w_raw_or_null(&c->w, "notFound", &nf, nnf != 0);
	jw_obj_end(&c->w);
	buf_free(&ok);
	buf_free(&unp);
	buf_free(&nf);
}
