/*
 * sieve_mailto.c — mailto URIs for notifications; see sieve_mailto.h.
 */
#include "sieve/sieve_mailto.h"

#include <string.h>

#include "core/hex.h"
#include "smtp/smtp_parse.h"

/* s with its %XX escapes undone, from a; -1 for a malformed one. */
static int unescape(struct str s, struct arena *a, struct str *out)
{
	char *d = arena_alloc(a, s.len + 1);
	size_t n;

	if (pct_decode(s.p, s.len, d, s.len + 1, &n, 0) < 0)
		return -1;
	*out = str_make(d, n);
	return 0;
}

static int is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * The RFC 5321 §4.1.2 grammar is SMTP's (smtp_mailbox_address(): RCPT
 * TO's own parser, which JMAP's jmap_addr_valid() uses too): the
 * delivery hands a redirect's address to it, and this check had its own
 * copy that took what RCPT TO does not ("x@[300.1.1.1]", "x@[1.2.3]",
 * octets that are no UTF-8), so such a script compiled and its redirect
 * was skipped at every delivery (reason=bad_recipient). Sieve's own
 * refusal on top, on purpose: no angle bracket or comma, even quoted,
 * for a sieve-address's "<...>" and a mailto URI's list split there.
 */
int sieve_mailbox_valid(struct str addr)
{
	char canon[SMTP_ADDRESS_BUF];

	if (addr.len > SIEVE_MAILTO_ADDR_MAX)
		return 0;
	for (size_t i = 0; i < addr.len; i++)
		if (addr.p[i] == '<' || addr.p[i] == '>' || addr.p[i] == ',')
			return 0;
	return smtp_mailbox_address(addr, canon, sizeof canon) >= 0;
}

/* s's addr-spec: s, or what the angle brackets that end it hold */
static struct str addr_spec(struct str s)
{
	s = str_trim(s);
	if (s.len < 2 || s.p[s.len - 1] != '>')
		return s;
	ptrdiff_t lt = str_rchr(s, '<');
	if (lt < 0)
		return s;
	/* RFC 5228 §2.4.2.3's sieve-address: phrase "<" addr-spec ">", the
	 * phrase on one line with no bracket of its own (a :from's is read
	 * in full, sieve_from_valid) */
	for (ptrdiff_t i = 0; i < lt; i++)
		if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0' || s.p[i] == '<' || s.p[i] == '>')
			return s;
	return str_trim(str_make(s.p + lt + 1, s.len - (size_t)lt - 2));
}

struct str sieve_address_unwrap(struct str s, char *dst)
{
	s = addr_spec(s);
	/* the last "@" is the one between local part and domain: a quoted
	 * local part may hold one, a domain none */
	ptrdiff_t at = s.len ? str_rchr(s, '@') : -1;
	if (at < 0) {
		if (!s.len)
			return str_make(dst, 0);
		memcpy(dst, s.p, s.len);
		return str_make(dst, s.len);
	}
	struct str local = str_trim(str_make(s.p, (size_t)at));
	struct str domain = str_trim(str_sub(s, (size_t)at + 1, s.len));
	memcpy(dst, local.p, local.len);
	dst[local.len] = '@';
	memcpy(dst + local.len + 1, domain.p, domain.len);
	return str_make(dst, local.len + 1 + domain.len);
}

/* 1 when m lists addr already: the same local part (RFC 5321 §2.4: it
 * is the receiving host's to read case in) at the same domain, its case
 * not counted. */
static int listed(const struct sieve_mailto *m, struct str addr)
{
	ptrdiff_t at = str_rchr(addr, '@');
	for (uint32_t i = 0; at > 0 && i < m->nrcpts; i++) {
		struct str r = m->rcpts[i];
		if (r.len == addr.len && str_rchr(r, '@') == at && !memcmp(r.p, addr.p, (size_t)at) &&
		    str_eq_ci(str_sub(r, (size_t)at, r.len), str_sub(addr, (size_t)at, addr.len)))
			return 1;
	}
	return 0;
}

/* The one lexer of an RFC 5322 mailbox here (see the header): a mailto
 * URI's to/cc/bcc values and a :from go through it. A comma inside a
 * comment is no list separator (Pigeonhole's splitter takes it for one
 * and refuses "Joe (Doe, J) <j@x>"; RFC 5322 says otherwise). */
int sieve_mailbox_scan(struct str s, size_t from, size_t *end, ptrdiff_t *lt, ptrdiff_t *gt)
{
	int inq = 0, depth = 0;
	size_t i;

	*lt = *gt = -1;
	for (i = from; i < s.len; i++) {
		char c = s.p[i];
		if (c == '\r' || c == '\n' || c == '\0')
			return -1;
		if ((inq || depth) && c == '\\') {
			if (++i == s.len || s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0')
				return -1;
		} else if (inq) {
			inq = c != '"';
		} else if (depth) {
			depth += c == '(' ? 1 : c == ')' ? -1 : 0;
		} else if (c == ',') {
			break;
		} else if (c == '(') {
			depth = 1;
		} else if (*gt >= 0 && c != ' ' && c != '\t') {
			return -1; /* only CFWS after the angle-addr */
		} else if (c == '"') {
			inq = 1;
		} else if (c == ')' || (c == '<' && *lt >= 0) || (c == '>' && *lt < 0)) {
			return -1;
		} else if (c == '<') {
			*lt = (ptrdiff_t)i;
		} else if (c == '>') {
			*gt = (ptrdiff_t)i;
		}
	}
	*end = i;
	return inq || depth || (*lt >= 0 && *gt < 0) ? -1 : 0;
}

/* s without its comments (those outside quoted-strings), trimmed: the
 * addr-spec of "joe@example.net (Joe)" or "(c) jim@example.net". s has
 * passed sieve_mailbox_scan. */
static struct str uncomment(struct str s, struct arena *a)
{
	char *d = arena_alloc(a, s.len + 1);
	size_t n = 0;
	int inq = 0, depth = 0;

	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (depth) {
			if (c == '\\')
				i++;
			else
				depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '(' && !inq) {
			depth = 1;
			continue;
		}
		if (inq && c == '\\' && i + 1 < s.len)
			d[n++] = s.p[i++];
		else if (c == '"')
			inq = !inq;
		d[n++] = s.p[i];
	}
	return str_trim(str_make(d, n));
}

/*
 * One mailbox read as a mailto URI's to/cc/bcc value is
 * (sieve_mailbox_scan): a quoted display name may hold "<", ">" or ","
 * and a comment anything, as RFC 5322 §3.4 has it and Pigeonhole takes
 * ('"a <b> c" <me@x>', 'me@x (Me <m>)'); the last "<" no longer decides
 * (tern refused the first). A "," outside both is a second mailbox.
 */
int sieve_from_valid(struct str s)
{
	size_t end;
	ptrdiff_t lt, gt;
	if (sieve_mailbox_scan(s, 0, &end, &lt, &gt) < 0 || end != s.len)
		return 0;
	struct str spec = lt < 0 ? s : str_make(s.p + lt + 1, (size_t)(gt - lt - 1));
	struct arena *a = arena_new(0);
	int ok = sieve_mailbox_valid(uncomment(spec, a));
	arena_free(&a);
	return ok;
}

/*
 * Adds the comma-separated addresses of the encoded list s. The URI's to
 * part (hfield 0) is addr-specs alone (RFC 6068 §2's "to" rule); the
 * value of a to, cc or bcc header field is that field's value (§2: an
 * hfvalue encodes a header field's value), an RFC 5322 address-list, so
 * an address there may follow a display name in angle brackets, as
 * Pigeonhole takes it (its enotify/mailto.svtest, 'UTF-8 address'), and
 * carry comments; a quoted display name may hold "<" or ","
 * (sieve_mailbox_scan). The addr-spec is the recipient, the whole mailbox
 * shown in the notification's To or Cc. An address the URI names twice
 * (in its to and its cc, say) is one recipient, in the field that named
 * it first: it was sent the notification twice, and shown twice in its
 * header.
 */
static int add_rcpts(struct str s, struct arena *a, struct sieve_mailto *m, int field, int hfield)
{
	struct str d;
	if (unescape(s, a, &d) < 0)
		return -1;
	size_t i = 0;
	while (i <= d.len) {
		size_t j = i;
		ptrdiff_t lt = -1, gt = -1;
		if (hfield && sieve_mailbox_scan(d, i, &j, &lt, &gt) < 0)
			return -1;
		while (!hfield && j < d.len && d.p[j] != ',')
			j++;
		struct str addr = str_trim(str_make(d.p + i, j - i)), named = STR_NULL;
		if (hfield && addr.len) {
			struct str spec = lt < 0 ? addr : str_make(d.p + lt + 1, (size_t)(gt - lt - 1));
			named = addr;
			addr = uncomment(spec, a);
			/* "<addr>" or a bare address alone has no name to show */
			if (named.len == addr.len + (lt < 0 ? 0 : 2))
				named = STR_NULL;
		}
		if (addr.len && !sieve_mailbox_valid(addr))
			return -1;
		if (addr.len && !listed(m, addr)) {
			if (m->nrcpts >= SIEVE_MAILTO_RCPTS_MAX)
				return -1;
			m->field[m->nrcpts] = (uint8_t)field;
			m->named[m->nrcpts] = named;
			m->rcpts[m->nrcpts++] = addr;
		}
		i = j + 1;
	}
	return 0;
}

int sieve_field_name_valid(struct str s)
{
	if (s.len == 0 || s.len > 998)
		return 0;
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] < 33 || (unsigned char)s.p[i] > 126 || s.p[i] == ':')
			return 0;
	return 1;
}

/* 1 when every octet of s may stand in a URI (RFC 3986 §2: unreserved,
 * reserved or "%"): "<", ">", a space, a quote or a control character
 * must be written %XX in the header fields of a mailto URI (RFC 6068
 * §2's qchar) */
static int uri_chars_ok(struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (!(is_letdig(c) || strchr("-._~:/?#[]@!$&'()*+,;=%", c)) || c == '\0')
			return 0;
	}
	return 1;
}

int sieve_mailto_parse(struct str uri, struct arena *a, struct sieve_mailto *m)
{
	memset(m, 0, sizeof *m);
	if (!str_has_prefix_ci(uri, "mailto:"))
		return -1;
	struct str rest = str_sub(uri, 7, uri.len);
	ptrdiff_t q = str_chr(rest, '?');
	struct str to = q < 0 ? rest : str_make(rest.p, (size_t)q);
	if (add_rcpts(to, a, m, SIEVE_MAILTO_TO, 0) < 0)
		return -1;
	struct str hf = q < 0 ? STR_NULL : str_sub(rest, (size_t)q + 1, rest.len);
	if (!uri_chars_ok(hf))
		return -1;
	size_t i = 0;
	while (i < hf.len) {
		size_t j = i;
		while (j < hf.len && hf.p[j] != '&')
			j++;
		struct str pair = str_make(hf.p + i, j - i);
		i = j + 1;
		ptrdiff_t eq = str_chr(pair, '=');
		if (eq <= 0)
			continue;
		struct str name = str_make(pair.p, (size_t)eq), value = str_sub(pair, (size_t)eq + 1, pair.len);
		/* RFC 6068 §2's hfname is a header field's name: "header:"
		 * names none, so no message can carry it */
		if (unescape(name, a, &name) < 0 || !sieve_field_name_valid(name))
			return -1;
		if (str_eq_ci(name, STR_LIT("to")) || str_eq_ci(name, STR_LIT("cc")) ||
		    str_eq_ci(name, STR_LIT("bcc"))) {
			int field = str_eq_ci(name, STR_LIT("to"))   ? SIEVE_MAILTO_TO
			            : str_eq_ci(name, STR_LIT("cc")) ? SIEVE_MAILTO_CC
			                                             : SIEVE_MAILTO_BCC;
			if (add_rcpts(value, a, m, field, 1) < 0)
				return -1;
		} else if (str_eq_ci(name, STR_LIT("subject"))) {
			if (unescape(value, a, &m->subject) < 0)
				return -1;
		} else if (str_eq_ci(name, STR_LIT("body"))) {
			if (unescape(value, a, &m->body) < 0)
				return -1;
		}
	}
	return m->nrcpts ? 0 : -1;
}
