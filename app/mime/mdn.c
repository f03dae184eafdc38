/*
 * mdn.c — disposition notification fields (RFC 8098 §3.1): parse and
 * write. See mdn.h.
 */
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mdn.h"
#include "mime/mime_header_text.h"
#include "mime/rfc5322.h"

static const char *const type_names[] = {"deleted", "dispatched", "displayed", "processed"};

/* The known fields, in the order mdn_report_write() writes them. */
enum { F_UA, F_GATEWAY, F_ORIG_RCPT, F_FINAL_RCPT, F_ORIG_ID, F_DISPOSITION, F_ERROR, F_N };
static const char *const field_names[F_N] = {
    "Reporting-UA",        "MDN-Gateway", "Original-Recipient", "Final-Recipient",
    "Original-Message-ID", "Disposition", "Error"};

const char *mdn_type_name(enum mdn_type t)
{
	return (unsigned)t < 4 ? type_names[t] : "processed";
}

int mdn_type_parse(struct str s, enum mdn_type *t_r)
{
	for (unsigned i = 0; i < 4; i++)
		if (str_eq_ci_c(s, type_names[i])) {
			*t_r = (enum mdn_type)i;
			return 0;
		}
	return -1;
}

static int known_field(struct str name)
{
	for (int i = 0; i < F_N; i++)
		if (str_eq_ci_c(name, field_names[i]))
			return i;
	return -1;
}

int mdn_field_name_ok(struct str s)
{
	if (!s.len || s.len > 76 || known_field(s) >= 0)
		return 0;
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] < 33 || (unsigned char)s.p[i] > 126 || s.p[i] == ':')
			return 0;
	return 1;
}

/* ---- Disposition ---- */

/* Skips white space and (nested) comments. */
static size_t skip_cfws(struct str v, size_t i)
{
	for (;;) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		if (i == v.len || v.p[i] != '(')
			return i;
		int depth = 0;
		for (; i < v.len; i++) {
			if (v.p[i] == '\\' && i + 1 < v.len)
				i++;
			else if (v.p[i] == '(')
				depth++;
			else if (v.p[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
}

/* A token (letters, digits, '-'), after CFWS; *i moves past it. */
static struct str token(struct str v, size_t *i)
{
	size_t s = skip_cfws(v, *i), e = s;
	while (e < v.len && ((v.p[e] >= 'a' && v.p[e] <= 'z') || (v.p[e] >= 'A' && v.p[e] <= 'Z') ||
			     (v.p[e] >= '0' && v.p[e] <= '9') || v.p[e] == '-'))
		e++;
	*i = e;
	return str_make(v.p + s, e - s);
}

/* The separator c after CFWS: 0 with *i past it, else -1. */
static int sep(struct str v, size_t *i, char c)
{
	size_t k = skip_cfws(v, *i);
	if (k == v.len || v.p[k] != c)
		return -1;
	*i = k + 1;
	return 0;
}

int mdn_disposition_parse(struct str v, struct mdn_report *r)
{
	size_t i = 0;
	struct str act = token(v, &i);
	if (sep(v, &i, '/') < 0)
		return -1;
	struct str snd = token(v, &i);
	if (sep(v, &i, ';') < 0)
		return -1;
	struct str type = token(v, &i);

	if (str_eq_ci_c(act, "manual-action"))
		r->manual_action = 1;
	else if (str_eq_ci_c(act, "automatic-action"))
		r->manual_action = 0;
	else
		return -1;
	if (str_eq_ci_c(snd, "MDN-sent-manually"))
		r->sent_manually = 1;
	else if (str_eq_ci_c(snd, "MDN-sent-automatically"))
		r->sent_manually = 0;
	else
		return -1;
	if (mdn_type_parse(type, &r->type) < 0)
		return -1;
	/* Modifiers ("/error", extensions) or nothing; anything else is not
	 * a Disposition. */
	i = skip_cfws(v, i);
	return i == v.len || v.p[i] == '/' ? 0 : -1;
}

/* ---- parse ---- */

/* The value unfolded, trimmed, controls made spaces, in a's memory. */
static struct str value_of(struct arena *a, struct str raw)
{
	char *o = arena_alloc(a, raw.len + 1);
	size_t n = rfc5322_unfold(raw, o);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)o[i] < 0x20 || o[i] == 0x7f)
			o[i] = ' ';
	struct str s = str_trim(str_make(o, n));
	return s.p ? s : str_make(o, 0);
}

int mdn_report_parse(const char *p, size_t len, struct arena *a, struct mdn_report *r)
{
	struct rfc5322_parser ps;
	struct rfc5322_field f;
	size_t off = 0, used;
	int rc, have_disp = 0, bad = 0;
	struct str *slot[F_N] = {&r->reporting_ua, &r->mdn_gateway, &r->original_recipient,
				 &r->final_recipient, &r->original_message_id, NULL, NULL};

	memset(r, 0, sizeof *r);
	rfc5322_init(&ps);
	while ((rc = rfc5322_parse(&ps, p + off, len - off, 1, &used, &f)) == RFC5322_FIELD) {
		off += used;
		if (!f.name.len)
			continue; /* a line that is not a field */
		struct str v = value_of(a, f.value);
		int k = known_field(f.name);
		if (k == F_DISPOSITION) {
			if (!have_disp && mdn_disposition_parse(v, r) < 0)
				bad = 1;
			have_disp = 1;
		} else if (k == F_ERROR) {
			if (r->nerrors < MDN_ERRORS_MAX)
				r->errors[r->nerrors++] = v;
		} else if (k >= 0) {
			if (!slot[k]->p)
				*slot[k] = v;
		} else if (r->next < MDN_EXT_MAX && mdn_field_name_ok(f.name)) {
			r->ext[r->next].name = str_make(arena_strndup(a, f.name.p, f.name.len), f.name.len);
			r->ext[r->next++].value = v;
		}
	}
	rfc5322_clear(&ps);
	if (rc < 0 || bad || !have_disp || !r->final_recipient.len)
		return -1;
	return 0;
}

/* ---- write ---- */

/* "Name: value" CRLF, folded before white space past 78 columns
 * (mime_header_fold, controls made spaces), the value cut (at a UTF-8
 * character's start) so that even a line without white space stays
 * within RFC 5322 §2.1.1's 998 octets. */
static int put(struct buf *out, const char *name, struct str v)
{
	size_t room = 998 - 2 - strlen(name); /* names are at most 76 */
	size_t n = v.len > MDN_VALUE_MAX ? MDN_VALUE_MAX : v.len;
	if (n > room)
		n = room;
	while (n > 0 && n < v.len && ((unsigned char)v.p[n] & 0xc0) == 0x80)
		n--;
	int rc = buf_append_c(out, name) | buf_append_c(out, ": ");
	mime_header_fold(out, str_make(v.p, n));
	rc |= buf_append_c(out, "\r\n");
	return rc ? -1 : 0;
}

int mdn_report_write(const struct mdn_report *r, struct buf *out)
{
	const struct str *slot[] = {&r->reporting_ua, &r->mdn_gateway, &r->original_recipient,
				    &r->final_recipient, &r->original_message_id};
	int rc = 0;
	for (int k = 0; k < F_DISPOSITION; k++)
		if (slot[k]->p)
			rc |= put(out, field_names[k], *slot[k]);
	rc |= buf_printf(out, "Disposition: %s/%s; %s\r\n",
			 r->manual_action ? "manual-action" : "automatic-action",
			 r->sent_manually ? "MDN-sent-manually" : "MDN-sent-automatically",
			 mdn_type_name(r->type));
	for (size_t i = 0; i < r->nerrors && i < MDN_ERRORS_MAX; i++)
		rc |= put(out, "Error", r->errors[i]);
	for (size_t i = 0; i < r->next && i < MDN_EXT_MAX; i++) {
		if (!mdn_field_name_ok(r->ext[i].name))
			continue;
		char name[80];
		memcpy(name, r->ext[i].name.p, r->ext[i].name.len);
		name[r->ext[i].name.len] = '\0';
		rc |= put(out, name, r->ext[i].value);
	}
	return rc ? -1 : 0;
}
