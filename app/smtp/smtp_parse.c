/*
 * smtp_parse.c — SMTP command line parsing (see smtp_parse.h).
 *
 * Everything here is a pure function of its input: no allocation, no
 * global state. Paths are parsed left to right with an index, never by
 * searching for ">" (a quoted local part may contain one).
 */
#include "smtp/smtp_parse.h"
#include "core/hex.h"
#include "core/punycode.h"
#include "core/utf8.h"
#include "mime/mime_date.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* RFC 5322 atext. */
static int is_atext(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int smtp_utf8_valid(struct str s)
{
	return utf8_valid(s);
}

int smtp_line_find(const char *p, size_t len, size_t max, size_t *linelen_r, size_t *consumed_r)
{
	const char *lf;
	size_t lim, i, content;

	*linelen_r = 0;
	*consumed_r = 0;
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	lim = len < max + 2 ? len : max + 2;
	lf = lim ? memchr(p, '\n', lim) : NULL;
	if (lf == NULL) {
		if (len < max + 2)
			return SMTP_LINE_MORE;
		*consumed_r = max + 2;
		return SMTP_LINE_TOO_LONG;
	}
	i = (size_t)(lf - p);
	content = i > 0 && p[i - 1] == '\r' ? i - 1 : i;
	if (content > max) {
		/* Only an LF at max+1 without CR gets here; leave the LF to
		 * smtp_line_discard() so TOO_LONG always works the same way. */
		*consumed_r = i;
		return SMTP_LINE_TOO_LONG;
	}
	*linelen_r = content;
	*consumed_r = i + 1;
	if (content == i)
		return SMTP_LINE_BARE_LF;
	if (content && memchr(p, '\r', content))
		return SMTP_LINE_BARE_CR;
	if (content && memchr(p, '\0', content))
		return SMTP_LINE_NUL;
	return SMTP_LINE_FOUND;
}

int smtp_line_discard(const char *p, size_t len, size_t *consumed_r)
{
	const char *lf = len ? memchr(p, '\n', len) : NULL;

	if (lf == NULL) {
		*consumed_r = len;
		return 0;
	}
	*consumed_r = (size_t)(lf - p) + 1;
	return 1;
}

/* One dot-separated label of a domain; see smtp_domain_valid(). */
static int label_valid(const unsigned char *p, size_t n, int *utf8)
{
	size_t i = 0, k;
	int ascii = 1;

	if (n == 0 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	while (i < n) {
		if (p[i] < 0x80) {
			if (!is_alnum(p[i]) && p[i] != '-')
				return 0;
			i++;
			continue;
		}
		k = utf8_seq(p + i, n - i);
		if (k == 0)
			return 0;
		ascii = 0;
		i += k;
	}
	/* U-labels are bounded by their A-label form, which we do not compute;
	 * the domain's total length still bounds them. */
	if (ascii && n > 63)
		return 0;
	if (!ascii)
		*utf8 = 1;
	return 1;
}

int smtp_domain_valid(struct str s, int *utf8_r)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i, start = 0, last_start = 0;
	int utf8 = 0, numeric = 1;

	if (utf8_r)
		*utf8_r = 0;
	if (s.len == 0 || s.len > SMTP_DOMAIN_MAX)
		return 0;
	for (i = 0; i <= s.len; i++) {
		if (i < s.len && p[i] != '.')
			continue;
		if (!label_valid(p + start, i - start, &utf8))
			return 0;
		last_start = start;
		start = i + 1;
	}
	/* An all-numeric last label is an IP address in disguise (RFC 3696 §2). */
	for (i = last_start; i < s.len; i++)
		if (!is_digit(p[i]))
			numeric = 0;
	if (numeric)
		return 0;
	if (utf8_r)
		*utf8_r = utf8;
	return 1;
}

size_t smtp_domain_other_form(struct str d, char *dst, size_t dstsz)
{
	size_t n = punycode_domain_other(d, dst,
	                                 dstsz < SMTP_DOMAIN_MAX + 1 ? dstsz : SMTP_DOMAIN_MAX + 1);

	/* What a label decodes to may still be no label ("-x" at its start). */
	if (n == 0 || !smtp_domain_valid(str_make(dst, n), NULL)) {
		if (dstsz)
			dst[0] = '\0';
		return 0;
	}
	return n;
}

static int ipv4_valid(struct str s)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= s.len || s.p[i] != '.')
				return 0;
			i++;
		}
		while (i < s.len && is_digit((unsigned char)s.p[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s.p[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return 0;
	}
	return i == s.len;
}

static int is_xdigit(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * RFC 5321 §4.1.3's IPv6-addr: eight groups (IPv6-full), or at most six
 * around one "::" (IPv6-comp, which stands for at least two groups of
 * zeros); with an IPv4 address at the end, six and four. inet_pton()
 * also takes a "::" for one group ("1:2:3:4:5:6:7::") and more groups
 * around it than that allows.
 */
static int ipv6_groups_valid(struct str s)
{
	size_t i = 0, groups = 0;
	int dcolon = 0, v4 = 0;

	if (s.len >= 1 && s.p[0] == ':') {
		if (s.len < 2 || s.p[1] != ':')
			return 0;
		dcolon = 1;
		i = 2;
	}
	while (i < s.len) {
		size_t j = i;
		while (j < s.len && is_xdigit((unsigned char)s.p[j]))
			j++;
		if (j < s.len && s.p[j] == '.') {
			if (!ipv4_valid(str_make(s.p + i, s.len - i)))
				return 0;
			v4 = 1;
			break;
		}
		if (j == i || j - i > 4)
			return 0;
		groups++;
		i = j;
		if (i == s.len)
			break;
		if (s.p[i++] != ':' || i == s.len)
			return 0; /* not a group separator, or one that ends it */
		if (s.p[i] == ':') {
			if (dcolon)
				return 0;
			dcolon = 1;
			i++;
		}
	}
	if (v4)
		return dcolon ? groups <= 4 : groups == 6;
	return dcolon ? groups <= 6 : groups == 8;
}

int smtp_addr_literal_valid(struct str s)
{
	struct str in;
	char tmp[64];
	unsigned char addr[16];

	if (s.len < 3 || s.p[0] != '[' || s.p[s.len - 1] != ']')
		return 0;
	in = str_make(s.p + 1, s.len - 2);
	if (!str_has_prefix_ci(in, "IPv6:"))
		return ipv4_valid(in);
	in = str_sub(in, 5, in.len);
	/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 octets. */
	if (in.len == 0 || in.len > 45 || memchr(in.p, '\0', in.len))
		return 0;
	if (!ipv6_groups_valid(in))
		return 0;
	memcpy(tmp, in.p, in.len);
	tmp[in.len] = '\0';
	return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Parsing state shared by the path and parameter code. */
struct pp {
	const char *p;
	size_t len, i;
	struct smtp_cmd *cmd;
};

static int fail(struct smtp_cmd *cmd, int code, const char *err, struct str bad)
{
	cmd->err = err;
	cmd->bad = bad;
	return code;
}

/* Domain or address literal at x->i ending right before one of stops. */
static int parse_domain(struct pp *x, const char *stops, struct str *dom_r, int *literal_r,
                        int *utf8_r)
{
	size_t start = x->i;
	struct str d;
	int utf8 = 0;

	*literal_r = 0;
	if (x->i < x->len && x->p[x->i] == '[') {
		while (x->i < x->len && x->p[x->i] != ']')
			x->i++;
		if (x->i == x->len)
			return -1;
		x->i++;
		d = str_make(x->p + start, x->i - start);
		if (!smtp_addr_literal_valid(d))
			return -1;
		*literal_r = 1;
	} else {
		while (x->i < x->len && !strchr(stops, x->p[x->i]))
			x->i++;
		d = str_make(x->p + start, x->i - start);
		if (!smtp_domain_valid(d, &utf8))
			return -1;
		if (utf8)
			*utf8_r = 1;
	}
	*dom_r = d;
	return 0;
}

/*
 * Local part at x->i (dot-string or quoted-string), stopping at the "@".
 * Returns NULL or the reason it is bad.
 */
static const char *parse_local(struct pp *x, struct smtp_path *path)
{
	const unsigned char *p = (const unsigned char *)x->p;
	size_t start = x->i, k;

	if (x->i < x->len && p[x->i] == '"') {
		path->quoted = 1;
		x->i++;
		for (;;) {
			if (x->i >= x->len)
				return "unterminated quoted local part";
			if (p[x->i] == '"')
				break;
			if (p[x->i] == '\\') {
				if (x->i + 1 >= x->len || p[x->i + 1] < 32 || p[x->i + 1] > 126)
					return "bad quoted-pair in local part";
				x->i += 2;
				continue;
			}
			if (p[x->i] >= 0x80) {
				k = utf8_seq(p + x->i, x->len - x->i);
				if (k == 0)
					return "bad UTF-8 in local part";
				path->utf8 = 1;
				x->i += k;
				continue;
			}
			if (p[x->i] < 32 || p[x->i] > 126)
				return "bad character in local part";
			x->i++;
		}
		x->i++;
	} else {
		int need_atom = 1;

		while (x->i < x->len && p[x->i] != '@' && p[x->i] != '>') {
			if (p[x->i] == '.') {
				if (need_atom)
					return "empty atom in local part";
				need_atom = 1;
				x->i++;
				continue;
			}
			if (p[x->i] >= 0x80) {
				k = utf8_seq(p + x->i, x->len - x->i);
				if (k == 0)
					return "bad UTF-8 in local part";
				path->utf8 = 1;
				x->i += k;
			} else if (is_atext(p[x->i])) {
				x->i++;
			} else {
				return "bad character in local part";
			}
			need_atom = 0;
		}
		if (need_atom)
			return "empty atom in local part";
	}
	path->local = str_make(x->p + start, x->i - start);
	if (path->local.len > SMTP_LOCAL_PART_MAX)
		return "local part too long";
	return NULL;
}

/*
 * Path at x->i, which is at "<". On success x->i is just past ">".
 */
static int parse_path(struct pp *x, struct smtp_path *path, int is_mail)
{
	struct smtp_cmd *cmd = x->cmd;
	size_t start = x->i, raw_start;
	struct str rest, dummy;
	const char *err;
	int lit, utf8 = 0;

	x->i++; /* "<" */
	raw_start = x->i;
	rest = str_make(x->p + x->i, x->len - x->i);

	if (x->i < x->len && x->p[x->i] == '>') {
		if (!is_mail)
			return fail(cmd, SMTP_PARSE_BAD_PATH, "null path not allowed here",
			            str_make(x->p + start, 2));
		path->is_null = 1;
		path->raw = str_make(x->p + raw_start, 0);
		x->i++;
		return 0;
	}
	if (!is_mail && rest.len >= 11 && str_eq_ci_c(str_make(rest.p, 10), "postmaster") &&
	    rest.p[10] == '>') {
		path->is_postmaster = 1;
		path->local = str_make(rest.p, 10);
		path->raw = path->local;
		x->i += 11;
		return 0;
	}

	/* Source route "@a,@b:" (RFC 5321 §4.1.2 A-d-l): checked, then dropped. */
	if (x->i < x->len && x->p[x->i] == '@') {
		for (;;) {
			x->i++; /* "@" */
			if (parse_domain(x, ",:>", &dummy, &lit, &utf8) < 0)
				return fail(cmd, SMTP_PARSE_BAD_PATH, "bad source route",
				            str_make(x->p + start, x->len - start));
			if (x->i < x->len && x->p[x->i] == ',' && x->i + 1 < x->len &&
			    x->p[x->i + 1] == '@') {
				x->i++;
				continue;
			}
			if (x->i < x->len && x->p[x->i] == ':')
				break;
			return fail(cmd, SMTP_PARSE_BAD_PATH, "bad source route",
			            str_make(x->p + start, x->len - start));
		}
		x->i++; /* ":" */
		path->had_route = 1;
	}

	err = parse_local(x, path);
	if (err)
		return fail(cmd, SMTP_PARSE_BAD_PATH, err, str_make(x->p + start, x->len - start));
	if (x->i >= x->len || x->p[x->i] != '@')
		return fail(cmd, SMTP_PARSE_BAD_PATH, "address has no domain",
		            str_make(x->p + start, x->len - start));
	x->i++;
	if (parse_domain(x, ">", &path->domain, &lit, &utf8) < 0)
		return fail(cmd, SMTP_PARSE_BAD_PATH, "bad domain",
		            str_make(x->p + start, x->len - start));
	path->domain_literal = lit ? 1 : 0;
	if (utf8)
		path->utf8 = 1;
	if (x->i >= x->len || x->p[x->i] != '>')
		return fail(cmd, SMTP_PARSE_BAD_PATH, "missing \">\"",
		            str_make(x->p + start, x->len - start));
	path->raw = str_make(x->p + raw_start, x->i - raw_start);
	x->i++;
	if (x->i - start > SMTP_PATH_MAX)
		return fail(cmd, SMTP_PARSE_BAD_PATH, "path too long",
		            str_make(x->p + start, x->i - start));
	return 0;
}

/* xtext (RFC 3461 §4): "!".."~" except "+" and "=", or "+" and two hex digits. */
static int utf8_addr_text_valid(struct str s);

/* Valid xtext s decodes to printable US-ASCII (0x20..0x7E) only. */
static int xtext_printable(struct str s)
{
	for (size_t i = 0; i + 2 < s.len; i++)
		if (s.p[i] == '+') {
			int c = hex_digit((unsigned char)s.p[i + 1]) * 16 + hex_digit((unsigned char)s.p[i + 2]);
			if (c < 0x20 || c > 0x7e)
				return 0;
			i += 2;
		}
	return 1;
}

static int xtext_valid(struct str s, size_t *decoded_len_r)
{
	size_t i = 0, n = 0;

	while (i < s.len) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '+') {
			if (i + 2 >= s.len || hex_digit((unsigned char)s.p[i + 1]) < 0 ||
			    hex_digit((unsigned char)s.p[i + 2]) < 0)
				return 0;
			i += 3;
		} else if (c >= 33 && c <= 126 && c != '=') {
			i++;
		} else {
			return 0;
		}
		n++;
	}
	if (decoded_len_r)
		*decoded_len_r = n;
	return 1;
}

/* RFC 6533 §3's utf-8-addr-xtext and utf-8-addr-unitext: QCHAR
 * (printable ASCII but "+", "=" and "\"), UTF-8 (checked well-formed by
 * the caller) and "\x{HEX}" (utf8_addr_escapes_valid checks those). "+XX"
 * is the rfc822 type's xtext, not this type's: "utf-8;b+2Bx@..." was read
 * as b+x where the grammar has no such escape (its "+" is "\x{2B}"). */
static int utf8_addr_text_valid(struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x80 && (c < 33 || c > 126 || c == '=' || c == '+'))
			return 0;
	}
	return 1;
}

/* One RFC 6533 §3 HEXPOINT, the hex digits d[0..n): at most six, no
 * leading zero, no surrogate, none past 10FFFF, and two digits only for
 * the characters that may not stand literally ("\", "+", "=", SP, and
 * 80..FF). The grammar's controls (01..1F, 7F) are refused too: the
 * address, once dequoted, must be a Mailbox (§3), as "+XX"'s must be
 * printable (RFC 3461 §4.2). */
static int hexpoint_valid(const char *d, size_t n)
{
	uint32_t cp = 0;
	if (n < 2 || n > 6 || d[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		int h = hex_digit((unsigned char)d[i]);
		if (h < 0)
			return 0;
		cp = cp * 16 + (uint32_t)h;
	}
	if (n == 2)
		return cp >= 0x80 || cp == 0x20 || cp == '+' || cp == '=' || cp == '\\';
	return !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
}

/* Every "\" of a utf-8 type ORCPT address starts an EmbeddedUnicodeChar,
 * "\x{" HEXPOINT "}" (RFC 6533 §3: QCHAR and QUCHAR exclude "\"). */
static int utf8_addr_escapes_valid(struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] != '\\')
			continue;
		if (s.len - i < 5 || s.p[i + 1] != 'x' || s.p[i + 2] != '{')
			return 0;
		size_t j = i + 3;
		while (j < s.len && s.p[j] != '}')
			j++;
		if (j == s.len || !hexpoint_valid(s.p + i + 3, j - i - 3))
			return 0;
		i = j;
	}
	return 1;
}

int smtp_orcpt_decode(struct str type, struct str addr, char *dst, size_t dstsz)
{
	size_t n = 0;
	int utf8 = 0;
	for (size_t i = 0; i < addr.len; i++)
		utf8 |= (unsigned char)addr.p[i] >= 0x80;
	if (!utf8 || !str_eq_ci_c(type, "utf-8") || !utf8_valid(addr) || !utf8_addr_text_valid(addr))
		return smtp_xtext_decode(addr, dst, dstsz);
	for (size_t i = 0; i < addr.len;) {
		const unsigned char *p = (const unsigned char *)addr.p + i;
		char esc[16];
		size_t l = 1, el = 1;
		if (*p >= 0x80) {
			uint32_t cp = utf8_decode(p, addr.len - i, &l);
			static const char hex[] = "0123456789ABCDEF";
			int d = cp > 0xFFFFF ? 6 : cp > 0xFFFF ? 5 : cp > 0xFFF ? 4 : cp > 0xFF ? 3 : 2;
			el = 0;
			esc[el++] = '\\';
			esc[el++] = 'x';
			esc[el++] = '{';
			for (int k = d - 1; k >= 0; k--)
				esc[el++] = hex[(cp >> (4 * k)) & 15];
			esc[el++] = '}';
		} else {
			esc[0] = (char)*p;
		}
		if (n + el >= dstsz)
			return -1;
		memcpy(dst + n, esc, el);
		n += el;
		i += l;
	}
	dst[n] = '\0';
	return (int)n;
}

int smtp_xtext_decode(struct str s, char *dst, size_t dstsz)
{
	size_t i = 0, n = 0, dlen;

	if (!xtext_valid(s, &dlen) || dlen >= dstsz || dlen > INT32_MAX) {
		if (dstsz)
			dst[0] = '\0';
		return -1;
	}
	while (i < s.len) {
		if (s.p[i] == '+') {
			dst[n++] = (char)(hex_digit((unsigned char)s.p[i + 1]) * 16 +
			                  hex_digit((unsigned char)s.p[i + 2]));
			i += 3;
		} else {
			dst[n++] = s.p[i++];
		}
	}
	dst[n] = '\0';
	return (int)n;
}

static int param_notify(struct str v, unsigned *bits_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kw[] = {
	    {"NEVER", SMTP_NOTIFY_NEVER},
	    {"SUCCESS", SMTP_NOTIFY_SUCCESS},
	    {"FAILURE", SMTP_NOTIFY_FAILURE},
	    {"DELAY", SMTP_NOTIFY_DELAY},
	};
	unsigned bits = 0;
	size_t start = 0, i, k;

	for (i = 0; i <= v.len; i++) {
		unsigned bit = 0;

		if (i < v.len && v.p[i] != ',')
			continue;
		for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
			if (str_eq_ci_c(str_make(v.p + start, i - start), kw[k].name))
				bit = kw[k].bit;
		if (bit == 0 || (bits & bit))
			return -1;
		bits |= bit;
		start = i + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*bits_r = bits;
	return 0;
}

/* BY's value (RFC 2852 §4): ["-" / "+"] 1*9DIGIT ";" ("R" / "N") ["T"]. */
static int param_by(struct str v, struct smtp_params *prm)
{
	size_t i = 0, digits = 0;
	int64_t t = 0;
	int neg = 0;

	if (i < v.len && (v.p[i] == '-' || v.p[i] == '+'))
		neg = v.p[i++] == '-';
	for (; i < v.len && v.p[i] >= '0' && v.p[i] <= '9'; i++, digits++) {
		if (digits == 9)
			return -1;
		t = t * 10 + (v.p[i] - '0');
	}
	if (digits == 0 || i >= v.len || v.p[i++] != ';' || i >= v.len)
		return -1;
	char mode = (char)(v.p[i++] & ~0x20);
	if (mode != 'R' && mode != 'N')
		return -1;
	prm->by_trace = 0;
	if (i < v.len && (v.p[i] & ~0x20) == 'T') {
		prm->by_trace = 1;
		i++;
	}
	if (i != v.len)
		return -1;
	prm->by_time = neg ? -t : t;
	prm->by_mode = mode;
	return 0;
}

/* HOLDFOR's value (RFC 4865 §3): 1*9DIGIT seconds. */
static int param_holdfor(struct str v, struct smtp_params *prm)
{
	uint32_t t = 0;

	if (v.len == 0 || v.len > 9)
		return -1;
	for (size_t i = 0; i < v.len; i++) {
		if (!is_digit((unsigned char)v.p[i]))
			return -1;
		t = t * 10 + (uint32_t)(v.p[i] - '0');
	}
	prm->hold_for = t;
	return 0;
}

/* HOLDUNTIL's value (RFC 4865 §3): an RFC 3339 date-time. */
static int param_holduntil(struct str v, struct smtp_params *prm)
{
	char tmp[64];

	if (v.len == 0 || v.len >= sizeof tmp)
		return -1;
	memcpy(tmp, v.p, v.len);
	tmp[v.len] = '\0';
	return mime_rfc3339_parse(tmp, &prm->hold_until);
}

int smtp_mt_priority_parse(struct str v, int *priority_r)
{
	size_t i = 0;
	int neg = 0;

	if (v.len > 0 && (v.p[0] == '+' || v.p[0] == '-'))
		neg = v.p[i++] == '-';
	if (v.len != i + 1 || !is_digit((unsigned char)v.p[i]))
		return -1;
	*priority_r = neg ? -(v.p[i] - '0') : v.p[i] - '0';
	return 0;
}

/* One "keyword[=value]" of MAIL (is_mail) or RCPT into *prm. */
static int parse_param(struct smtp_cmd *cmd, struct str tok, int is_mail, struct smtp_params *prm)
{
	struct str key = tok, val = STR_NULL;
	ptrdiff_t eq = str_chr(tok, '=');
	int has_val = eq >= 0;
	unsigned bit = 0;
	size_t i, n;

	if (has_val) {
		key = str_make(tok.p, (size_t)eq);
		val = str_make(tok.p + eq + 1, tok.len - (size_t)eq - 1);
	}
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (key.len == 0 || !is_alnum((unsigned char)key.p[0]))
		return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad parameter syntax", tok);
	for (i = 0; i < key.len; i++)
		if (!is_alnum((unsigned char)key.p[i]) && key.p[i] != '-')
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad parameter syntax", tok);
	/* esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 (RFC 6531 §3.3)
	 * that only ORCPT's utf-8 type takes (RFC 6533 §3, checked there). */
	if (has_val && val.len == 0)
		return fail(cmd, SMTP_PARSE_BAD_PARAM, "empty parameter value", tok);
	int val_utf8 = 0;
	for (i = 0; i < val.len; i++) {
		unsigned char c = (unsigned char)val.p[i];

		if (c >= 0x80) {
			size_t l = utf8_seq((const unsigned char *)val.p + i, val.len - i);
			if (l == 0)
				return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad parameter value", tok);
			val_utf8 = 1;
			i += l - 1;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad parameter value", tok);
	}
	if (val_utf8 && !(!is_mail && str_eq_ci_c(key, "ORCPT")))
		return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad parameter value", tok);

	if (is_mail && str_eq_ci_c(key, "SIZE")) {
		bit = SMTP_PARAM_SIZE;
		/* size-value = 1*20DIGIT (RFC 1870 §5): twenty digits past 2^64
		 * are well formed, just too big (552 from the session). */
		if (!has_val || val.len > 20)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad SIZE value", tok);
		for (i = 0; i < val.len; i++)
			if (!is_digit((unsigned char)val.p[i]))
				return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad SIZE value", tok);
		if (str_to_u64(val, UINT64_MAX, &prm->size) < 0)
			prm->size = UINT64_MAX;
	} else if (is_mail && str_eq_ci_c(key, "BODY")) {
		bit = SMTP_PARAM_BODY;
		if (str_eq_ci_c(val, "7BIT"))
			prm->body = SMTP_BODY_7BIT;
		else if (str_eq_ci_c(val, "8BITMIME"))
			prm->body = SMTP_BODY_8BITMIME;
		else if (str_eq_ci_c(val, "BINARYMIME"))
			prm->body = SMTP_BODY_BINARYMIME;
		else
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad BODY value", tok);
	} else if (is_mail && str_eq_ci_c(key, "SMTPUTF8")) {
		bit = SMTP_PARAM_SMTPUTF8;
		if (has_val)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "SMTPUTF8 takes no value", tok);
	} else if (is_mail && str_eq_ci_c(key, "RET")) {
		bit = SMTP_PARAM_RET;
		if (str_eq_ci_c(val, "FULL"))
			prm->ret = SMTP_RET_FULL;
		else if (str_eq_ci_c(val, "HDRS"))
			prm->ret = SMTP_RET_HDRS;
		else
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad RET value", tok);
	} else if (is_mail && str_eq_ci_c(key, "ENVID")) {
		bit = SMTP_PARAM_ENVID;
		/* RFC 3461 §4.4: printable US-ASCII once decoded ("+0D" is not:
		 * Postfix refuses it alike). */
		if (!has_val || !xtext_valid(val, &n) || n > SMTP_ENVID_MAX || !xtext_printable(val))
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad ENVID value", tok);
		prm->envid = val;
	} else if (is_mail && str_eq_ci_c(key, "REQUIRETLS")) {
		bit = SMTP_PARAM_REQUIRETLS; /* RFC 8689 §4.1 */
		if (has_val)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "REQUIRETLS takes no value", tok);
	} else if (is_mail && str_eq_ci_c(key, "BY")) {
		bit = SMTP_PARAM_BY;
		if (!has_val || param_by(val, prm) < 0)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad BY value", tok);
	} else if (is_mail && str_eq_ci_c(key, "HOLDFOR")) {
		bit = SMTP_PARAM_HOLDFOR;
		if (!has_val || param_holdfor(val, prm) < 0)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value", tok);
	} else if (is_mail && str_eq_ci_c(key, "HOLDUNTIL")) {
		bit = SMTP_PARAM_HOLDUNTIL;
		if (!has_val || param_holduntil(val, prm) < 0)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad HOLDUNTIL value", tok);
	} else if (is_mail && str_eq_ci_c(key, "MT-PRIORITY")) {
		bit = SMTP_PARAM_MTPRIORITY;
		if (!has_val || smtp_mt_priority_parse(val, &prm->mt_priority) < 0)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value", tok);
	} else if (is_mail && str_eq_ci_c(key, "AUTH")) {
		bit = SMTP_PARAM_AUTH;
		if (!has_val || (!str_eq(val, STR_LIT("<>")) && !xtext_valid(val, NULL)))
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad AUTH value", tok);
		prm->auth = val;
	} else if (!is_mail && str_eq_ci_c(key, "NOTIFY")) {
		bit = SMTP_PARAM_NOTIFY;
		if (!has_val || param_notify(val, &prm->notify) < 0)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad NOTIFY value", tok);
	} else if (!is_mail && str_eq_ci_c(key, "ORCPT")) {
		ptrdiff_t semi = str_chr(val, ';');

		bit = SMTP_PARAM_ORCPT;
		if (!has_val || semi <= 0 || val.len > SMTP_ORCPT_MAX)
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad ORCPT value", tok);
		prm->orcpt_type = str_make(val.p, (size_t)semi);
		prm->orcpt_addr = str_make(val.p + semi + 1, val.len - (size_t)semi - 1);
		for (i = 0; i < prm->orcpt_type.len; i++)
			if (!is_atext((unsigned char)prm->orcpt_type.p[i]))
				return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad ORCPT value", tok);
		/* UTF-8 only in the utf-8 type (utf-8-addr-unitext), whose
		 * escapes are "\x{HEX}" (valid xtext characters). */
		if (val_utf8 && !str_eq_ci_c(prm->orcpt_type, "utf-8"))
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad ORCPT value", tok);
		prm->orcpt_utf8 = val_utf8;
		/* RFC 3461 §4.2: the address before xtext encoding is printable
		 * US-ASCII, as ENVID's (§4.4): an escape may not hide a CR, LF,
		 * NUL (which would cut the value as kept) or an 8-bit octet. */
		int type_utf8 = str_eq_ci_c(prm->orcpt_type, "utf-8");
		if (prm->orcpt_addr.len == 0 ||
		    !(type_utf8 ? utf8_addr_text_valid(prm->orcpt_addr) : xtext_valid(prm->orcpt_addr, NULL)) ||
		    !xtext_printable(prm->orcpt_addr) ||
		    (type_utf8 && !utf8_addr_escapes_valid(prm->orcpt_addr)))
			return fail(cmd, SMTP_PARSE_BAD_PARAM, "bad ORCPT value", tok);
	} else {
		return fail(cmd, SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter", tok);
	}
	if (prm->seen & bit)
		return fail(cmd, SMTP_PARSE_BAD_PARAM, "duplicate parameter", tok);
	/* RFC 4865 §3: one release time, given one way. */
	if ((bit & (SMTP_PARAM_HOLDFOR | SMTP_PARAM_HOLDUNTIL)) &&
	    (prm->seen & (SMTP_PARAM_HOLDFOR | SMTP_PARAM_HOLDUNTIL)))
		return fail(cmd, SMTP_PARSE_BAD_PARAM, "HOLDFOR and HOLDUNTIL together", tok);
	prm->seen |= bit;
	return 0;
}

/* "FROM:<path> params" / "TO:<path> params" in cmd->arg. */
static int parse_mail_rcpt(struct smtp_cmd *cmd, int is_mail)
{
	const char *kw = is_mail ? "FROM:" : "TO:";
	struct str arg = cmd->arg, tok;
	struct pp x;
	size_t start;
	int r;

	if (!str_has_prefix_ci(arg, kw))
		return fail(cmd, SMTP_PARSE_SYNTAX,
		            is_mail ? "expected MAIL FROM:<address>" : "expected RCPT TO:<address>",
		            arg);
	x.p = arg.p;
	x.len = arg.len;
	x.i = strlen(kw);
	x.cmd = cmd;
	/* Postfix accepts "FROM: <a@b>"; so do we. */
	while (x.i < x.len && is_wsp(x.p[x.i]))
		x.i++;
	if (x.i == x.len)
		return fail(cmd, SMTP_PARSE_SYNTAX,
		            is_mail ? "expected MAIL FROM:<address>" : "expected RCPT TO:<address>",
		            arg);
	if (x.p[x.i] != '<')
		return fail(cmd, SMTP_PARSE_BAD_PATH, "address must be in angle brackets",
		            str_make(x.p + x.i, x.len - x.i));
	r = parse_path(&x, &cmd->path, is_mail);
	if (r < 0)
		return r;
	if (x.i < x.len && !is_wsp(x.p[x.i]))
		return fail(cmd, SMTP_PARSE_SYNTAX, "garbage after address",
		            str_make(x.p + x.i, x.len - x.i));
	for (;;) {
		while (x.i < x.len && is_wsp(x.p[x.i]))
			x.i++;
		if (x.i == x.len)
			break;
		start = x.i;
		while (x.i < x.len && !is_wsp(x.p[x.i]))
			x.i++;
		tok = str_make(x.p + start, x.i - start);
		r = parse_param(cmd, tok, is_mail, &cmd->params);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_bdat(struct smtp_cmd *cmd)
{
	struct str arg = cmd->arg, num, rest;
	size_t i = 0;

	while (i < arg.len && !is_wsp(arg.p[i]))
		i++;
	num = str_make(arg.p, i);
	rest = str_trim(str_sub(arg, i, arg.len));
	if (num.len == 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "expected BDAT size [LAST]", arg);
	if (str_to_u64(num, UINT64_MAX, &cmd->bdat_size) < 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "bad BDAT chunk size", num);
	cmd->bdat_sized = 1;
	if (rest.len == 0)
		return 0;
	if (!str_eq_ci_c(rest, "LAST"))
		return fail(cmd, SMTP_PARSE_SYNTAX, "expected BDAT size [LAST]", rest);
	cmd->bdat_last = 1;
	return 0;
}

/* BURL url [LAST] (RFC 4468 §3.3): the URL is one word. */
static int parse_burl(struct smtp_cmd *cmd)
{
	struct str arg = cmd->arg, rest;
	size_t i = 0;

	while (i < arg.len && !is_wsp(arg.p[i]))
		i++;
	cmd->burl_url = str_make(arg.p, i);
	rest = str_trim(str_sub(arg, i, arg.len));
	if (cmd->burl_url.len == 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "expected BURL url [LAST]", arg);
	if (rest.len == 0)
		return 0;
	if (!str_eq_ci_c(rest, "LAST"))
		return fail(cmd, SMTP_PARSE_SYNTAX, "expected BURL url [LAST]", rest);
	cmd->bdat_last = 1;
	return 0;
}

static int parse_auth(struct smtp_cmd *cmd)
{
	struct str arg = cmd->arg;
	size_t i = 0, j;

	while (i < arg.len && !is_wsp(arg.p[i]))
		i++;
	cmd->auth_mech = str_make(arg.p, i);
	/* RFC 4422 sasl-mech: 1*20 of upper-case letters, digits, "-", "_";
	 * accepted in any case. */
	if (i == 0 || i > 20)
		return fail(cmd, SMTP_PARSE_SYNTAX, "bad SASL mechanism name", cmd->auth_mech);
	for (j = 0; j < i; j++)
		if (!is_alnum((unsigned char)arg.p[j]) && arg.p[j] != '-' && arg.p[j] != '_')
			return fail(cmd, SMTP_PARSE_SYNTAX, "bad SASL mechanism name",
			            cmd->auth_mech);
	while (i < arg.len && is_wsp(arg.p[i]))
		i++;
	cmd->auth_initial = str_make(arg.p + i, arg.len - i);
	for (j = 0; j < cmd->auth_initial.len; j++)
		if (is_wsp(cmd->auth_initial.p[j]))
			return fail(cmd, SMTP_PARSE_SYNTAX, "extra argument after AUTH",
			            cmd->auth_initial);
	return 0;
}

static int helo_arg_valid(struct str s)
{
	if (s.len && s.p[0] == '[')
		return smtp_addr_literal_valid(s);
	return smtp_domain_valid(s, NULL);
}

enum arg_rule {
	ARG_NONE,     /* must have no argument */
	ARG_ANY,      /* may have one */
	ARG_REQUIRED, /* must have one */
};

static const struct {
	const char *name;
	enum smtp_verb verb;
	enum arg_rule rule;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO, ARG_REQUIRED},     {"EHLO", SMTP_VERB_EHLO, ARG_REQUIRED},
    {"MAIL", SMTP_VERB_MAIL, ARG_REQUIRED},     {"RCPT", SMTP_VERB_RCPT, ARG_REQUIRED},
    {"DATA", SMTP_VERB_DATA, ARG_NONE},         {"BDAT", SMTP_VERB_BDAT, ARG_REQUIRED},
    {"BURL", SMTP_VERB_BURL, ARG_REQUIRED},
    {"RSET", SMTP_VERB_RSET, ARG_NONE},         {"NOOP", SMTP_VERB_NOOP, ARG_ANY},
    {"QUIT", SMTP_VERB_QUIT, ARG_NONE},         {"VRFY", SMTP_VERB_VRFY, ARG_REQUIRED},
    {"EXPN", SMTP_VERB_EXPN, ARG_REQUIRED},     {"HELP", SMTP_VERB_HELP, ARG_ANY},
    {"STARTTLS", SMTP_VERB_STARTTLS, ARG_NONE}, {"AUTH", SMTP_VERB_AUTH, ARG_REQUIRED},
};

int smtp_cmd_parse(struct str line, struct smtp_cmd *cmd)
{
	size_t i = 0, k;
	enum arg_rule rule = ARG_ANY;

	memset(cmd, 0, sizeof(*cmd));
	while (i < line.len && !is_wsp(line.p[i]))
		i++;
	cmd->verb_str = str_make(line.p, i);
	cmd->arg = str_trim(str_sub(line, i, line.len));
	for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (str_eq_ci_c(cmd->verb_str, verbs[k].name)) {
			cmd->verb = verbs[k].verb;
			rule = verbs[k].rule;
			break;
		}
	}
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return SMTP_PARSE_OK;
	if (rule == ARG_NONE && cmd->arg.len)
		return fail(cmd, SMTP_PARSE_SYNTAX, "no argument allowed", cmd->arg);
	if (rule == ARG_REQUIRED && cmd->arg.len == 0)
		return fail(cmd, SMTP_PARSE_SYNTAX, "argument required", cmd->verb_str);

	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		/* Like Postfix: take it all, flag what is not a hostname. An
		 * address literal is the exception: RFC 5321 §4.1.3 gives it
		 * a syntax, and one that breaks it ("[1.2.3]",
		 * "[IPv6:1::2::3]", or a general literal, no tag but IPv6
		 * being registered) is no claim about the client at all. */
		if (cmd->arg.p[0] == '[' && !smtp_addr_literal_valid(cmd->arg))
			return fail(cmd, SMTP_PARSE_SYNTAX, "malformed address literal", cmd->arg);
		cmd->helo = cmd->arg;
		cmd->helo_invalid = helo_arg_valid(cmd->arg) ? 0 : 1;
		return SMTP_PARSE_OK;
	case SMTP_VERB_MAIL:
		return parse_mail_rcpt(cmd, 1);
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(cmd, 0);
	case SMTP_VERB_BDAT:
		return parse_bdat(cmd);
	case SMTP_VERB_BURL:
		return parse_burl(cmd);
	case SMTP_VERB_AUTH:
		return parse_auth(cmd);
	default:
		return SMTP_PARSE_OK;
	}
}

/*
 * Writes into dst (room for q.len octets) the dot-string a quoted local
 * part q stands for, when it stands for one: "bob" is bob, "b\ob" is bob
 * too. Returns its length, or 0 when the content is no dot-string ("john
 * doe", "", "a..b"), which then keeps its quotes.
 */
static size_t quoted_as_dot_string(struct str q, char *dst)
{
	size_t n = 0, i;
	int need_atom = 1;

	for (i = 1; i + 1 < q.len; i++) {
		unsigned char c = (unsigned char)q.p[i];
		if (c == '\\')
			c = (unsigned char)q.p[++i]; /* parse_local checked the pair */
		if (c == '.') {
			if (need_atom)
				return 0;
			need_atom = 1;
		} else if (c >= 0x80 || is_atext(c)) {
			need_atom = 0; /* UTF-8 was validated by parse_local */
		} else {
			return 0;
		}
		dst[n++] = (char)c;
	}
	return need_atom ? 0 : n;
}

int smtp_path_address(const struct smtp_path *path, char *dst, size_t dstsz)
{
	size_t n = 0, i;
	struct str local = path->local;

	if (dstsz == 0)
		return -1;
	dst[0] = '\0';
	if (path->is_null)
		return 0;
	if (path->is_postmaster)
		local = STR_LIT("postmaster");
	if (local.len + 1 > dstsz)
		return -1;
	/* RFC 5322 §3.2.4: "quoted-string is identical to atom,
	 * semantically", so "bob"@d is bob@d's mailbox; the one spelling
	 * is what the store and the Return-Path see (RFC 5321 §4.1.2 asks
	 * for the unquoted form where it can be written so). */
	if (path->quoted)
		n = quoted_as_dot_string(local, dst);
	if (n == 0) {
		memcpy(dst, local.p, local.len);
		n = local.len;
	}
	if (path->domain.len) {
		if (n + 1 + path->domain.len + 1 > dstsz) {
			dst[0] = '\0';
			return -1;
		}
		dst[n++] = '@';
		for (i = 0; i < path->domain.len; i++) {
			char c = path->domain.p[i];

			dst[n++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
	}
	dst[n] = '\0';
	return (int)n;
}

int smtp_mailbox_address(struct str addr, char *dst, size_t dstsz)
{
	char line[SMTP_ADDRESS_BUF + 16];
	struct smtp_cmd cmd;

	if (dstsz)
		dst[0] = '\0';
	if (addr.len + 12 > sizeof line || memchr(addr.p, '\0', addr.len) ||
	    !memchr(addr.p, '@', addr.len))
		return -1;
	int n = snprintf(line, sizeof line, "RCPT TO:<%.*s>", (int)addr.len, addr.p);
	if (smtp_cmd_parse(str_make(line, (size_t)n), &cmd) != SMTP_PARSE_OK ||
	    cmd.verb != SMTP_VERB_RCPT || cmd.params.seen || cmd.path.had_route ||
	    cmd.path.is_postmaster || cmd.path.raw.len != addr.len)
		return -1;
	return smtp_path_address(&cmd.path, dst, dstsz);
}
