/*
 * jmap_email_header.c — Email/get's "headers" and "header:NAME[:asForm]
 * [:all]" properties (RFC 8621 §4.1.2-4.1.3), and sentAt (which is
 * header:Date:asDate).
 *
 * The message's header fields are read once per email (jmap_hfields_read)
 * with the parser every other reader uses (mime/rfc5322.h); each form is
 * then computed from the raw value by the library that IMAP uses for the
 * same job: unfolding and RFC 2047 words (rfc5322.h), address lists
 * (mime_field_addresses), message ids (mime_msgid.h, RFC 5322's
 * grammar: a list that does not parse is null, §4.1.2.3), dates
 * (mime_date_parse). Raw values go out as they are except NUL octets,
 * which are dropped; octets that are not UTF-8 become U+FFFD in the JSON
 * writer, as §4.1.2.1 asks.
 *
 * Which forms a field may be asked in follows §4.1.2: a field RFC 5322
 * or RFC 2369 defines allows only its own forms (and Raw); any other
 * field allows every form. Asking otherwise is invalidArguments.
 *
 * Text (asText, Subject, display names) is given in NFC (§4.1.2.2);
 * asText and subject keep a value's trailing white space (w_text()).
 *
 * Caveats: a Date with a named zone ("GMT", "EST") is given in UTC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/unorm.h"
#include "jmap/jmap_email.h"
#include "mime/mime_date.h"
#include "mime/mime_field.h"
#include "mime/mime_msgid.h"
#include "mime/rfc5322.h"

/* Addresses kept per value; more are dropped. */
#define HDR_ADDR_MAX 1000

static const char *const form_names[] = {"asRaw", "asText", "asAddresses", "asGroupedAddresses",
					 "asMessageIds", "asDate", "asURLs"};

/* Fields with a defined syntax and the forms (bits of enum jmap_hform)
 * each allows besides Raw; fields not listed allow all. */
static const struct {
	const char *name;
	unsigned forms;
} known[] = {
    {"From", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Sender", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Reply-To", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"To", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Cc", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Bcc", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-From", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-Sender", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-Reply-To", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-To", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-Cc", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Resent-Bcc", 1u << JH_ADDRESSES | 1u << JH_GROUPED},
    {"Message-ID", 1u << JH_MSGIDS},
    {"In-Reply-To", 1u << JH_MSGIDS},
    {"References", 1u << JH_MSGIDS},
    {"Resent-Message-ID", 1u << JH_MSGIDS},
    {"Date", 1u << JH_DATE},
    {"Resent-Date", 1u << JH_DATE},
    {"Subject", 1u << JH_TEXT},
    {"Comments", 1u << JH_TEXT},
    {"Keywords", 1u << JH_TEXT},
    {"List-Id", 1u << JH_TEXT},
    {"List-Help", 1u << JH_URLS},
    {"List-Unsubscribe", 1u << JH_URLS},
    {"List-Subscribe", 1u << JH_URLS},
    {"List-Post", 1u << JH_URLS},
    {"List-Owner", 1u << JH_URLS},
    {"List-Archive", 1u << JH_URLS},
    {"Received", 0},
    {"Return-Path", 0},
};

int jmap_hprop_parse(struct arena *a, const char *prop, struct jmap_hprop *hp)
{
	if (strncmp(prop, "header:", 7) != 0)
		return -1;
	const char *name = prop + 7, *colon = strchr(name, ':');
	size_t nlen = colon ? (size_t)(colon - name) : strlen(name);
	if (nlen == 0 || nlen > 200)
		return -1;
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)name[i] < 33 || (unsigned char)name[i] > 126)
			return -1;
	hp->prop = prop;
	hp->name = arena_strndup(a, name, nlen);
	hp->form = JH_RAW;
	hp->all = 0;
	const char *rest = colon ? colon + 1 : NULL;
	if (rest && strncmp(rest, "as", 2) == 0) {
		const char *end = strchr(rest, ':');
		size_t flen = end ? (size_t)(end - rest) : strlen(rest);
		int f;
		for (f = 0; f < JH_NFORMS; f++)
			if (strlen(form_names[f]) == flen && !strncmp(rest, form_names[f], flen))
				break;
		if (f == JH_NFORMS)
			return -1;
		hp->form = (enum jmap_hform)f;
		rest = end ? end + 1 : NULL;
	}
	if (rest) {
		if (strcmp(rest, "all") != 0)
			return -1;
		hp->all = 1;
	}
	if (hp->form == JH_RAW)
		return 0;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!strcasecmp(known[i].name, hp->name))
			return known[i].forms & (1u << hp->form) ? 0 : -1;
	return 0;
}

void jmap_hfields_read(struct arena *a, const char *data, size_t len, struct jmap_hfields *h)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used, cap = 16;

	h->n = 0;
	h->v = arena_alloc(a, cap * sizeof *h->v);
	rfc5322_init(&p);
	while (rfc5322_parse(&p, data + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (!f.name.len)
			continue; /* a line that is not a field */
		if (h->n == cap) {
			struct jmap_hfield *nv = arena_alloc(a, cap * 2 * sizeof *nv);
			memcpy(nv, h->v, cap * sizeof *nv);
			h->v = nv;
			cap *= 2;
		}
		/* Copies: a field's slices may point into the parser. */
		h->v[h->n].name = str_make(arena_strndup(a, f.name.p, f.name.len), f.name.len);
		h->v[h->n].value = str_make(arena_strndup(a, f.value.p, f.value.len), f.value.len);
		h->n++;
	}
	rfc5322_clear(&p);
}

/* The raw value without NUL octets. */
static void w_raw(struct jw *w, struct arena *a, struct str v)
{
	if (!memchr(v.p, '\0', v.len)) {
		jw_strn(w, v.p, v.len);
		return;
	}
	char *o = arena_alloc(a, v.len + 1);
	size_t n = 0;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i])
			o[n++] = v.p[i];
	jw_strn(w, o, n);
}

static struct str unfold(struct arena *a, struct str v)
{
	char *u = arena_alloc(a, v.len + 1);
	return str_make(u, rfc5322_unfold(v, u));
}

const char *jmap_text_nfc(struct arena *a, const char *s, size_t n, size_t *out_n)
{
	*out_n = n;
	if (unorm_is_nfc(s, n))
		return s;
	char *o = arena_alloc(a, UNORM_GROWTH * n + 1);
	*out_n = unorm_nfc(s, n, o);
	return o;
}

/*
 * §4.1.2.2's steps: white space unfolded, the terminating CRLF and "any
 * SP characters at the beginning of the value removed", RFC 2047 words
 * decoded (NUL and other controls dropped), NFC. Nothing else is
 * trimmed: a space at the end stays, as Cyrus keeps it (rfc5322_unfold()
 * trimmed both ends).
 */
static void w_text(struct jw *w, struct arena *a, struct str v)
{
	struct buf b;
	char *uf = arena_alloc(a, v.len + 1);
	size_t un = 0, lead = 0;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] != '\r' && v.p[i] != '\n')
			uf[un++] = v.p[i];
	while (lead < un && uf[lead] == ' ')
		lead++;
	struct str u = str_make(uf + lead, un - lead);
	buf_init(&b, 4 * u.len + 64);
	rfc5322_decode_words(u, &b);
	char *o = arena_alloc(a, buf_len(&b) + 1);
	size_t n = 0;
	for (size_t i = 0; i < buf_len(&b); i++) {
		unsigned char c = (unsigned char)buf_data(&b)[i];
		if (c >= 0x20 || c == '\t')
			o[n++] = (char)c;
	}
	buf_free(&b);
	const char *t = jmap_text_nfc(a, o, n, &n);
	jw_strn(w, t, n);
}

static void w_address(struct jw *w, struct arena *a, const struct mime_address *ad)
{
	jw_obj_begin(w);
	jw_key(w, "name");
	if (ad->name.len)
		w_text(w, a, ad->name);
	else
		jw_null(w);
	jw_key(w, "email");
	jw_str(w, mime_address_email(a, ad));
	jw_obj_end(w);
}

/* An address list: every mailbox (groups flattened), or, grouped, the
 * groups with the mailboxes outside any group gathered under name null
 * (§4.1.2.4). The parser marks a group's start with a host-less entry
 * holding its name and its end with an empty one. */
static void w_addresses(struct jw *w, struct arena *a, struct str v, int grouped)
{
	struct mime_address *l;
	uint32_t n;

	mime_field_addresses(a, unfold(a, v), &l, &n, HDR_ADDR_MAX);
	jw_arr_begin(w);
	int open = 0; /* a grouped entry is open: 1 a bare one, 2 a named group */
	for (uint32_t i = 0; i < n; i++) {
		const struct mime_address *ad = &l[i];
		int start = ad->mailbox.p && !ad->host.p, end = !ad->mailbox.p;
		if (!grouped) {
			if (!start && !end)
				w_address(w, a, ad);
			continue;
		}
		if ((start || end) && open) {
			jw_arr_end(w);
			jw_obj_end(w);
			open = 0;
		}
		if (end)
			continue;
		if (!open) {
			jw_obj_begin(w);
			jw_key(w, "name");
			if (start)
				w_text(w, a, ad->mailbox);
			else
				jw_null(w);
			jw_key(w, "addresses");
			jw_arr_begin(w);
			open = start ? 2 : 1;
		}
		if (!start)
			w_address(w, a, ad);
	}
	if (open) {
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void jmap_w_msgids(struct jw *w, struct str v)
{
	size_t pos = 0;
	struct str id;

	/* Checked whole first: a list that breaks part way is null, not
	 * the ids before the break (§4.1.2.3 "If parsing fails"). */
	if (!mime_msgid_list_valid(v)) {
		jw_null(w);
		return;
	}
	jw_arr_begin(w);
	while (mime_msgid_list_next(v, &pos, &id) == 1)
		jw_strn(w, id.p, id.len);
	jw_arr_end(w);
}

int jmap_w_date(struct jw *w, struct str v)
{
	int64_t t;
	struct tm tm;
	char s[48];

	int zmin;
	if (!v.p || mime_date_parse_zone(v, &t, NULL, &zmin) < 0) {
		jw_null(w);
		return -1;
	}
	/* The zone the date was read with (an obsolete name's too: EST is
	 * -05:00); one past a day (RFC 5322 allows up to +9959) has no RFC
	 * 3339 form, whose offset hours are 00..23: the instant goes in UTC. */
	int zone = zmin * 60;
	if (zone <= -86400 || zone >= 86400)
		zone = 0;
	time_t local = (time_t)(t + zone);
	gmtime_r(&local, &tm);
	size_t n = strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (zone == 0)
		snprintf(s + n, sizeof s - n, "Z");
	else
		snprintf(s + n, sizeof s - n, "%c%02d:%02d", zone < 0 ? '-' : '+', abs(zone) / 3600,
			 abs(zone) % 3600 / 60);
	jw_str(w, s);
	return 0;
}

/* List-* URLs (RFC 2369): the text between each "<" and ">", white
 * space removed; null when there is none. */
static void w_urls(struct jw *w, struct arena *a, struct str v)
{
	int any = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] != '<')
			continue;
		const char *gt = memchr(v.p + i + 1, '>', v.len - i - 1);
		if (!gt)
			break;
		/* room for this URL alone: the rest of the value for each "<"
		 * made a value of 30000 "<>" take a gigabyte */
		size_t j = i + 1, end = (size_t)(gt - v.p);
		char *u = arena_alloc(a, end - j + 1);
		size_t n = 0;
		for (; j < end; j++)
			if (v.p[j] != ' ' && v.p[j] != '\t' && v.p[j] != '\r' && v.p[j] != '\n')
				u[n++] = v.p[j];
		if (!any)
			jw_arr_begin(w);
		any = 1;
		jw_strn(w, u, n);
		i = j;
	}
	if (any)
		jw_arr_end(w);
	else
		jw_null(w);
}

static void w_form(struct jw *w, struct arena *a, struct str v, enum jmap_hform form)
{
	switch (form) {
	case JH_RAW: w_raw(w, a, v); break;
	case JH_TEXT: w_text(w, a, v); break;
	case JH_ADDRESSES: w_addresses(w, a, v, 0); break;
	case JH_GROUPED: w_addresses(w, a, v, 1); break;
	case JH_MSGIDS: jmap_w_msgids(w, v); break;
	case JH_DATE: jmap_w_date(w, unfold(a, v)); break;
	case JH_URLS: w_urls(w, a, v); break;
	case JH_NFORMS: break;
	}
}

void jmap_hprop_write(struct jw *w, struct arena *a, const struct jmap_hfields *h,
		      const struct jmap_hprop *hp)
{
	jw_key(w, hp->prop);
	if (hp->all) {
		jw_arr_begin(w);
		for (size_t i = 0; i < h->n; i++)
			if (str_eq_ci_c(h->v[i].name, hp->name))
				w_form(w, a, h->v[i].value, hp->form);
		jw_arr_end(w);
		return;
	}
	jmap_hfield_last_write(w, a, h, hp->name, hp->form);
}

/* §4.1.3: without :all "the result is the value of the last instance of
 * the header field ... or null if none". */
void jmap_hfield_last_write(struct jw *w, struct arena *a, const struct jmap_hfields *h,
                            const char *name, enum jmap_hform form)
{
	for (size_t i = h->n; i-- > 0;)
		if (str_eq_ci_c(h->v[i].name, name)) {
			w_form(w, a, h->v[i].value, form);
			return;
		}
	jw_null(w);
}

void jmap_headers_write(struct jw *w, struct arena *a, const struct jmap_hfields *h)
{
	jw_key(w, "headers");
	jw_arr_begin(w);
	for (size_t i = 0; i < h->n; i++) {
		jw_obj_begin(w);
		jw_key(w, "name");
		jw_strn(w, h->v[i].name.p, h->v[i].name.len);
		jw_key(w, "value");
		w_raw(w, a, h->v[i].value);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}
