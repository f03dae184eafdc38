/*
 * jmap_vacation.c — VacationResponse/get and /set (RFC 8621 §8) on the
 * one vacation mechanism: the account's Sieve script named "vacation",
 * the one the portal's vacation form writes and activates, run by Sieve
 * at delivery (RFC 5230). There is no second copy of the setting.
 *
 * get reads that script: isEnabled when it exists, is the active script
 * and has a vacation command; subject and textBody are that command's
 * :subject and reason; fromDate and toDate the bounds of a currentdate
 * test around it. set writes the script in the form below (the portal's
 * form, with the dates when given) and activates it, or deactivates it
 * when isEnabled is false (the script stays, so its text is not lost).
 *
 *   require ["vacation", "date", "relational"];
 *   if allof (currentdate :zone "+0000" :value "ge" "iso8601" "FROM",
 *             currentdate :zone "+0000" :value "lt" "iso8601" "TO") {
 *   vacation :days 7 :subject "SUBJECT" "TEXT";
 *   }
 *
 * The bounds are written without a zone ("2026-12-24T00:00:00"), so they
 * compare as text with currentdate's "2026-12-24T00:00:00+00:00".
 *
 * With an htmlBody the reason is a MIME entity (RFC 5230 §5.8, :mime):
 * multipart/alternative of the text (one made from the HTML when
 * textBody is null, below) and the HTML, each part UTF-8 in base64, so any text goes through
 * unchanged and no line of it can be taken for the boundary. get reads
 * such an entity back (a script written elsewhere with :mime too): the
 * first text/plain and text/html leaves, decoded.
 *
 * The user's own filters keep running while the reply is on: when
 * isEnabled turns true with another script active, the vacation script
 * includes that script (RFC 6609, :personal :optional) before its
 * vacation command, and is made the active one, through the check every
 * activation takes (script_check.h): filters that would fail every
 * delivery (an include of theirs gone, recursion back into the vacation
 * script) refuse it, invalidSieve as SieveScript/set, nothing changed;
 * turning the reply off makes the included script active again (none
 * when it has gone, or would fail every delivery now:
 * script_check_activate refuses it). The
 * filters run first and unchanged: what they do to a message happens as
 * before, and a filter that ends with "stop" ends there, without the
 * reply (the order Nextcloud's form writes; the other one would answer
 * senders a filter discards or rejects). A reject needs that stop: Sieve
 * takes no vacation beside a reject (sieve_run.c fails the run, and the
 * message is kept). Delivery looks into the included script for reject
 * (deliver_sieve_may_reject). Which script is included is read back
 * from the vacation script itself: there is no second record.
 *
 *   require ["vacation", "include"];
 *   include :personal :optional "FILTERS";
 *   vacation ...;
 *
 * textBody and htmlBody both null are written as an empty reason, and
 * read back as null; the reply then has a default text (RFC 8621 §8
 * SHOULD; sieve_vacation_reply makes it). A textBody of "" is no body
 * either: it is stored the same way and told back as null.
 *
 * An HTML-only reply (textBody null) gets a text part made from the
 * HTML (its visible text, mime_html's), under a boundary of its own
 * (VAC_BOUNDARY_MADE) that get reads as textBody null.
 *
 * Caveats: the include
 * names the script, so one renamed while the reply is on is no longer
 * run (:optional: the reply still is) until the reply is saved again.
 * The portal's form (web/src/portal.jsx) writes the plain form and
 * activates it in the filters' place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_html.h"
#include "mime/mime_tree.h"
#include "core/log.h"
#include "sieve/script_check.h"
#include "sieve/sieve.h"
#include "sieve/sieve_lex.h"
#include "store/store.h"

#define VAC_NAME "vacation"

struct vac {
	int enabled;
	const char *from, *to, *subject, *text, *html; /* NULL = null; dates "…Z" */
	const char *filters; /* the script included before the reply, or NULL */
};

#define VAC_BOUNDARY "=_tern_vacation" /* '=' and '_': never in base64 */
/* The boundary when the text part was made from the HTML (textBody
 * null): get reads no textBody from such an entity. */
#define VAC_BOUNDARY_MADE "=_tern_vacation_html"

/* The decoded text of the first leaf of type text/SUB in a :mime
 * reason; NULL when none. */
static const char *mime_text(struct arena *a, const struct mime_tree *t, const char *reason,
			     const char *sub)
{
	for (uint32_t i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		if ((p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) ||
		    !str_eq_ci_c(p->type, "text") || !str_eq_ci_c(p->subtype, sub))
			continue;
		struct buf b;
		buf_init(&b, p->body_end - p->body_off + 16);
		mime_decode_all(mime_cte_parse(p->encoding),
				str_make(reason + p->body_off, p->body_end - p->body_off), &b);
		const char *r = arena_strndup(a, buf_data(&b), buf_len(&b));
		buf_free(&b);
		return r;
	}
	return NULL;
}

/* Reads the vacation command and the date bounds out of a script. */
static void vac_parse(struct arena *a, const char *text, size_t len, struct vac *v)
{
	struct sv_lexer lx;
	struct sv_token t, prev[3];
	int in_vacation = 0, in_include = 0, have = 0, mime = 0;

	memset(prev, 0, sizeof prev);
	sv_lex_init(&lx, text, len, a);
	for (sv_lex_next(&lx, &t); t.type != TK_EOF && t.type != TK_ERROR; sv_lex_next(&lx, &t)) {
		if (t.type == TK_IDENT && str_eq_ci_c(t.text, "vacation")) {
			in_vacation = 1;
			have = 1;
		} else if (t.type == TK_IDENT && str_eq_ci_c(t.text, "include")) {
			in_include = 1;
		} else if (in_include && t.type != TK_TAG) {
			/* include [:personal] [:optional] "NAME"; (see the top) */
			if (t.type == TK_STRING && !v->filters)
				v->filters = arena_strndup(a, t.text.p, t.text.len);
			in_include = 0;
		} else if (in_vacation && t.type == TK_TAG && str_eq_ci_c(t.text, "subject")) {
			sv_lex_next(&lx, &t);
			if (t.type == TK_STRING)
				v->subject = arena_strndup(a, t.text.p, t.text.len);
		} else if (in_vacation && t.type == TK_TAG && str_eq_ci_c(t.text, "mime")) {
			mime = 1;
		} else if (in_vacation && t.type == TK_STRING) {
			v->text = arena_strndup(a, t.text.p, t.text.len); /* the last string */
		} else if (in_vacation && t.type == TK_SEMI) {
			in_vacation = 0;
		} else if (t.type == TK_STRING && prev[0].type == TK_STRING &&
			   str_eq_ci_c(prev[0].text, "iso8601") && prev[1].type == TK_STRING) {
			/* :value "ge"|"lt" "iso8601" "BOUND" */
			const char *b = arena_printf(a, "%.*sZ", (int)t.text.len, t.text.p);
			if (str_eq_ci_c(prev[1].text, "ge"))
				v->from = b;
			else if (str_eq_ci_c(prev[1].text, "lt"))
				v->to = b;
		}
		prev[2] = prev[1];
		prev[1] = prev[0];
		prev[0] = t;
	}
	v->enabled &= have;
	/* An empty reason is how no body is written (vac_write): textBody
	 * null, as set (RFC 8621 §8); Sieve sends a default text for it. */
	if (!mime && v->text && !v->text[0])
		v->text = NULL;
	if (mime && v->text) {
		struct mime_tree tree;
		const char *reason = v->text;
		mime_tree_parse(reason, strlen(reason), a, &tree);
		v->text = strstr(reason, "boundary=\"" VAC_BOUNDARY_MADE "\"") == NULL
				  ? mime_text(a, &tree, reason, "plain")
				  : NULL;
		v->html = mime_text(a, &tree, reason, "html");
	}
}

/* The text a reader sees in html (mime_html's, the hidden text left
 * out), into b. */
static void html_plain(struct buf *b, const char *html)
{
	struct buf hidden;
	struct mime_html *h = xmalloc(sizeof *h);
	buf_init(&hidden, STORE_SIEVE_BYTES_MAX);
	mime_html_init(h, b, &hidden, NULL, NULL);
	mime_html_feed(h, html, strlen(html));
	mime_html_finish(h);
	free(h);
	buf_free(&hidden);
}

/* A :mime reason: multipart/alternative of text and html under the
 * boundary bd, or the HTML part alone when text is NULL. */
static void reason_parts(struct buf *b, const char *text, const char *html, const char *bd)
{
	if (text)
		buf_printf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n",
			   bd, bd);
	const char *parts[2] = {text, html}, *types[2] = {"plain", "html"};
	for (int i = 0; i < 2; i++) {
		if (!parts[i])
			continue;
		buf_printf(b, "Content-Type: text/%s; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n", types[i]);
		mime_base64_lines(b, parts[i], strlen(parts[i]));
		if (text)
			buf_printf(b, i == 0 ? "--%s\r\n" : "--%s--\r\n", bd);
	}
}

/* The :mime reason for an HTML reply (see the top): its text in b.
 * Without a text, one is made from the HTML (RFC 8621 §8: a plaintext
 * part SHOULD be generated from htmlBody), under the boundary that says
 * so, so that textBody still reads back null; the HTML alone (the MAY)
 * when the two would not fit in one Sieve string, so that an HTML that
 * fits alone is not refused as tooLarge for the text added to it. */
static void mime_reason(struct buf *b, const char *text, const char *html)
{
	if (text) {
		reason_parts(b, text, html, VAC_BOUNDARY);
		return;
	}
	struct buf made;
	buf_init(&made, STORE_SIEVE_BYTES_MAX);
	html_plain(&made, html);
	reason_parts(b, buf_data(&made), html, VAC_BOUNDARY_MADE);
	buf_free(&made);
	if (buf_len(b) > SIEVE_STRING_MAX) {
		buf_reset(b);
		reason_parts(b, NULL, html, NULL);
	}
}

/* The settings as stored: 0, or -1 on a store error. */
static int vac_read(struct jmap_call *c, struct vac *v)
{
	struct buf text;
	int active = 0;

	memset(v, 0, sizeof *v);
	buf_init(&text, STORE_SIEVE_BYTES_MAX + 1);
	int rc = store_sieve_get(c->r->st, c->r->account, VAC_NAME, &text, &active);
	if (rc == STORE_OK) {
		v->enabled = active;
		vac_parse(c->r->a, buf_data(&text), buf_len(&text), v);
	}
	buf_free(&text);
	return rc != STORE_OK && rc != STORE_ENOTFOUND ? -1 : 0;
}

/* The settings as stored; -1 with serverFail set. */
static int vac_load(struct jmap_call *c, struct vac *v)
{
	if (vac_read(c, v) < 0) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	return 0;
}

static void w_str_or_null(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	if (s)
		jw_str(w, s);
	else
		jw_null(w);
}

static const char *const vac_props[] = {"id",      "isEnabled", "fromDate", "toDate",
					 "subject", "textBody",  "htmlBody"};

static void w_vac(struct jw *w, const struct vac *v, const struct jmap_get *g)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", "singleton");
	for (size_t i = 1; i < sizeof vac_props / sizeof vac_props[0]; i++) {
		const char *k = vac_props[i];
		if (!jmap_get_wants(g, k))
			continue;
		switch (i) {
		case 1: jw_kbool(w, k, v->enabled); break;
		case 2: w_str_or_null(w, k, v->from); break;
		case 3: w_str_or_null(w, k, v->to); break;
		case 4: w_str_or_null(w, k, v->subject); break;
		case 5: w_str_or_null(w, k, v->text); break;
		case 6: w_str_or_null(w, k, v->html); break;
		}
	}
	jw_obj_end(w);
}

static int str_differ(const char *a, const char *b)
{
	return !a != !b || (a && strcmp(a, b));
}

/* The properties of st that differ from asked (an object), or null when
 * none does. */
static void w_vac_diff(struct jw *w, const struct vac *asked, const struct vac *st)
{
	const char *av[] = {asked->from, asked->to, asked->subject, asked->text, asked->html};
	const char *sv[] = {st->from, st->to, st->subject, st->text, st->html};
	int any = !asked->enabled != !st->enabled;
	for (size_t i = 0; i < 5; i++)
		any |= str_differ(av[i], sv[i]);
	if (!any) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	if (!asked->enabled != !st->enabled)
		jw_kbool(w, "isEnabled", st->enabled);
	for (size_t i = 0; i < 5; i++)
		if (str_differ(av[i], sv[i]))
			w_str_or_null(w, vac_props[i + 2], sv[i]);
	jw_obj_end(w);
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int singleton(void *arg, const char *id)
{
	(void)arg;
	return !strcmp(id, "singleton");
}

/*
 * The type's state: the script is not mail, so the account's modseq (the
 * mail types' state) does not move when it changes, and RFC 8620 §5.1
 * wants the state to change with the data. The snapshots of
 * jmap_typestate.c do that, as for SieveScript: the one object's full
 * rendering is compared.
 */
static void vac_state(struct jmap_call *c, const struct vac *v, char state[24])
{
	struct jmap_get all = {0};
	struct jmap_ts_obj o;
	struct buf b;
	struct jw w;

	buf_init(&b, 8 * (size_t)STORE_SIEVE_BYTES_MAX); /* escapes: 6 octets at most */
	jw_init(&w, &b);
	w_vac(&w, v, &all);
	jmap_ts_digest(&o, "singleton", buf_data(&b), buf_len(&b));
	buf_free(&b);
	jmap_ts_state(c->r, "vac", &o, 1, state);
}

void jmap_vacation_get(struct jmap_call *c)
{
	char state[24];
	struct vac v;
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, vac_props, sizeof vac_props / sizeof vac_props[0],
			   &g) < 0 ||
	    vac_load(c, &v) < 0)
		return;
	vac_state(c, &v, state);
	jmap_get_list(c, state);
	if (jmap_get_has_id(&g, "singleton"))
		w_vac(&c->w, &v, &g);
	jmap_get_end(c, &g, singleton, NULL);
}

/* A Sieve quoted string of s (RFC 5228 §2.4.2: \ and " escaped). */
static void sieve_quote(struct buf *b, const char *s, size_t n)
{
	const char *end = s + n;
	buf_append(b, "\"", 1);
	for (; s < end; s++) {
		if (*s == '"' || *s == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, s, 1);
	}
	buf_append(b, "\"", 1);
}

/* A UTCDate ("2026-12-24T00:00:00Z", fraction allowed) as the bound
 * written in the script ("2026-12-24T00:00:00"); NULL when not one. */
static const char *bound_of(struct arena *a, const char *s)
{
	int64_t t;
	return jmap_utcdate_parse(s, &t) < 0 ? NULL : arena_strndup(a, s, 19);
}

/* VacationResponse/set's refusal of a reply whose script would fail
 * every delivery (vac_write): chk->err says where and why. */
#define VAC_REFUSED 1

/* Writes v: STORE_OK, a store error, or VAC_REFUSED with chk filled
 * (nothing changed then); chk is the check's room either way. */
static int vac_write(struct jmap_call *c, const struct vac *v, struct script_check *chk)
{
	struct buf b;
	const char *from = v->from ? bound_of(c->r->a, v->from) : NULL;
	const char *to = v->to ? bound_of(c->r->a, v->to) : NULL;
	char err[SIEVE_ERROR_MAX], active[STORE_SIEVE_NAME_MAX + 1];
	struct store *st = c->r->st;
	uint32_t acc = c->r->account;

	/* The filters to keep running (see the top): the script active
	 * now, or, when the reply is on already, the one it includes. */
	int have = store_sieve_active(st, acc, NULL, active) == STORE_OK;
	int on = have && !strcmp(active, VAC_NAME);
	const char *filters = !v->enabled ? NULL : on ? v->filters : have ? active : NULL;
	buf_init(&b, STORE_SIEVE_BYTES_MAX);
	buf_printf(&b, "require [\"vacation\"%s%s];\n", filters ? ", \"include\"" : "",
		   from || to ? ", \"date\", \"relational\"" : "");
	if (filters) {
		buf_append_c(&b, "include :personal :optional ");
		sieve_quote(&b, filters, strlen(filters));
		buf_append_c(&b, ";\n");
	}
	if (from || to) {
		buf_append_c(&b, "if allof (");
		if (from)
			buf_printf(&b, "currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" \"%s\"%s",
				   from, to ? ",\n          " : "");
		if (to)
			buf_printf(&b, "currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" \"%s\"", to);
		buf_append_c(&b, ") {\n");
	}
	buf_append_c(&b, "vacation :days 7");
	if (v->subject) {
		buf_append_c(&b, " :subject ");
		sieve_quote(&b, v->subject, strlen(v->subject));
	}
	if (v->html) {
		struct buf r;
		buf_init(&r, STORE_SIEVE_BYTES_MAX);
		mime_reason(&r, v->text, v->html);
		buf_append_c(&b, " :mime ");
		sieve_quote(&b, buf_data(&r), buf_len(&r));
		buf_free(&r);
	} else {
		buf_append_c(&b, " ");
		sieve_quote(&b, v->text ? v->text : "", v->text ? strlen(v->text) : 0);
	}
	buf_append_c(&b, ";\n");
	if (from || to)
		buf_append_c(&b, "}\n");
	/* What Sieve will run must compile; what we write always does but
	 * for its size (a string of SIEVE_STRING_MAX octets at most):
	 * STORE_EINVAL then, which the caller tells as tooLarge. */
	struct sieve_script *sc = sieve_compile(buf_data(&b), buf_len(&b), err);
	/* Turned on, the script made active runs the filters it includes:
	 * it takes the check every activation takes (script_check.h), before
	 * anything is stored. :optional covers only filters that are gone;
	 * ones that would fail every delivery (an include of theirs gone,
	 * recursion back into this script, an included script that no longer
	 * compiles) refuse it: the filters stay active as they are, the
	 * reply off. A vacation script active already is taken as it is, as
	 * SETACTIVE takes the active script. */
	if (sc && v->enabled && !on) {
		script_check_init(chk, st, acc, VAC_NAME);
		chk->activating = 1;
		script_check_text(chk, buf_data(&b), buf_len(&b));
		if (chk->invalid) {
			sieve_script_free(&sc);
			buf_free(&b);
			return VAC_REFUSED;
		}
	}
	/* Off: the filters it included are active again, as before, if
	 * they pass the check every activation takes (script_check.h): one
	 * that broke meanwhile (its include deleted) would fail every
	 * delivery, so none is active then and mail goes to INBOX, as that
	 * failing run would have filed it. The set still succeeds: RFC 8621
	 * §8 has no error for it, and the reply is off as asked. */
	const char *act = v->enabled ? VAC_NAME : on ? "" : NULL; /* NULL: as it is */
	if (sc && !v->enabled && on && v->filters) {
		script_check_init(chk, st, acc, v->filters);
		int ck = script_check_ready(chk);
		if (ck == STORE_OK && !chk->invalid)
			act = chk->name;
		else if (ck == STORE_OK) {
			char qn[2 * sizeof chk->name + 3], qe[2 * sizeof chk->err + 3];
			log_warn("jmap", NULL,
				 "event=vacation_filters_not_reactivated account=%u script=%s why=%s",
				 acc, log_q(chk->name, qn, sizeof qn), log_q(chk->err, qe, sizeof qe));
		}
	}
	/* The text and its activation in one transaction: as two writes, a
	 * crash or a full disk between them left the new text under the old
	 * activation (a reply turned on that never ran, one turned off
	 * still sent with the filters gone). */
	int rc = !sc ? STORE_EINVAL
		 : act ? store_sieve_put_activate(st, acc, VAC_NAME, buf_data(&b), buf_len(&b),
						  (int64_t)time(NULL), act)
		       : store_sieve_put(st, acc, VAC_NAME, buf_data(&b), buf_len(&b), (int64_t)time(NULL));
	sieve_script_free(&sc);
	buf_free(&b);
	return rc;
}

static void set_err(struct jw *w, const char *key, const char *type, const char *prop,
		      const char *desc)
{
	jmap_w_set_error(w, key, type, desc, prop);
}

/* Applies an update's properties to v; every bad one goes into bad (RFC
 * 8620 §5.3: invalidProperties names them all), v is then not written. */
static void vac_apply(struct arena *a, struct vac *v, const struct json_value *o,
		      struct jmap_bad *bad)
{
	for (const struct json_value *p = o->first; p; p = p->next) {
		const char *k = p->key;
		int null = p->type == JSON_NULL;
		if (!strcmp(k, "isEnabled")) {
			if (p->type != JSON_BOOL)
				jmap_bad_member(bad, k, "isEnabled is a Boolean");
			else
				v->enabled = p->boolean;
		} else if (!strcmp(k, "fromDate") || !strcmp(k, "toDate")) {
			if (!null && (p->type != JSON_STRING || !bound_of(a, p->str)))
				jmap_bad_member(bad, k, "a UTCDate or null");
			else
				*(k[0] == 'f' ? &v->from : &v->to) = null ? NULL : p->str;
		} else if (!strcmp(k, "subject") || !strcmp(k, "textBody")) {
			if (!null && (p->type != JSON_STRING || memchr(p->str, '\0', p->len)))
				jmap_bad_member(bad, k, "a String without NUL, or null");
			else
				*(k[0] == 's' ? &v->subject : &v->text) = null ? NULL : p->str;
		} else if (!strcmp(k, "htmlBody")) {
			/* No NUL (RFC 5322 §3.5, and the script is C text): it
			 * was cut short there. */
			if (!null && (p->type != JSON_STRING || memchr(p->str, '\0', p->len)))
				jmap_bad_member(bad, k, "a String without NUL, or null");
			else
				v->html = null ? NULL : p->str;
		} else if (strcmp(k, "id") || p->type != JSON_STRING || strcmp(p->str, "singleton")) {
			/* unknown names; id but as it is (RFC 8620 §5.3) */
			jmap_bad_member(bad, k, strcmp(k, "id") ? "not a VacationResponse property"
								: "set by the server");
		}
	}
}

/*
 * 1 when the dates leave no moment to reply in (fromDate not before
 * toDate, to the second as stored). RFC 8621 §8 says nothing of the
 * order; such a window is refused (invalidProperties, both named)
 * rather than stored: isEnabled would read true for a reply that is
 * never sent, and the client that swapped the dates would not know.
 */
static int empty_window(struct arena *a, const struct vac *v)
{
	if (!v->from || !v->to)
		return 0;
	const char *f = bound_of(a, v->from), *t = bound_of(a, v->to);
	return f && t && strcmp(f, t) >= 0;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},   {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE},  {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},
};

void jmap_vacation_set(struct jmap_call *c)
{
	char old[24], now[24];
	struct vac v;
	struct jmap_set set;

	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0 ||
	    vac_load(c, &v) < 0)
		return;
	vac_state(c, &v, old);
	if (jmap_set_if_in_state(c, old) < 0)
		return;
	jmap_set_open(&set, 64 * 1024);
	struct script_check *chk = arena_alloc(c->r->a, sizeof *chk);
	for (const struct json_value *e = set.create ? set.create->first : NULL; e; e = e->next)
		set_err(&set.w[JMAP_SET_NOT_CREATED], e->key, "singleton", NULL, NULL);
	for (const struct json_value *e = set.destroy ? set.destroy->first : NULL; e; e = e->next)
		set_err(&set.w[JMAP_SET_NOT_DESTROYED], e->str, "singleton", NULL, NULL);
	for (const struct json_value *e = set.update ? set.update->first : NULL; e; e = e->next) {
		struct jw *nu = &set.w[JMAP_SET_NOT_UPDATED];
		/* "#cid" only through a client's createdIds: none is made here. */
		const char *id = jmap_id_ref(c->r, e->key);
		if (!id || strcmp(id, "singleton")) {
			set_err(nu, e->key, "notFound", NULL, NULL);
			continue;
		}
		struct vac n = v;
		const char *why = "a PatchObject is an object";
		/* No property is an object: every path is malformed. */
		if (e->type != JSON_OBJECT || jmap_patch_check(c->r->a, NULL, e, &why) < 0) {
			set_err(nu, id, "invalidPatch", NULL, why);
			continue;
		}
		struct jmap_bad bad = {.a = c->r->a};
		vac_apply(c->r->a, &n, e, &bad);
		if (!bad.n && empty_window(c->r->a, &n)) {
			jmap_bad_member(&bad, "fromDate", "fromDate is not before toDate");
			jmap_bad_member(&bad, "toDate", "toDate is not after fromDate");
		}
		if (bad.n) {
			jmap_w_set_error_bad(nu, id, &bad);
			continue;
		}
		int rc = vac_write(c, &n, chk);
		if (rc == VAC_REFUSED) {
			/* invalidSieve, as SieveScript/set's refused activation
			 * (RFC 9661), with where and why */
			char desc[1400];
			snprintf(desc, sizeof desc,
				 "not made active: the script would fail at every delivery: %.1200s",
				 chk->err);
			set_err(nu, id, "invalidSieve", NULL, desc);
			continue;
		}
		if (rc == STORE_EINVAL || rc == STORE_ETOOBIG || rc == STORE_ELIMIT) {
			/* Over a Sieve string, or the account's script bytes. */
			set_err(nu, id, rc == STORE_ELIMIT ? "overQuota" : "tooLarge", NULL,
				rc == STORE_ELIMIT ? "the account's Sieve scripts are full"
						   : "the reply is over 64 KiB as Sieve holds it");
			continue;
		}
		if (rc != STORE_OK) {
			/* A full disk: the singleton is only ever updated, so
			 * serverUnavailable (retry later), not serverFail. */
			set_err(nu, id, jmap_store_fail_type(rc, 0), NULL, jmap_store_fail_desc(rc));
			continue;
		}
		/* What is stored (a date to the second, a "" text as
		 * null): the state is of that, and the properties it has
		 * other than set are told (RFC 8620 §5.3). */
		struct vac st;
		if (vac_read(c, &st) < 0)
			st = n;
		jw_key(&set.w[JMAP_SET_UPDATED], id);
		w_vac_diff(&set.w[JMAP_SET_UPDATED], &n, &st);
		v = st;
	}
	vac_state(c, &v, now);
	jmap_set_end(c, &set, old, now);
}
