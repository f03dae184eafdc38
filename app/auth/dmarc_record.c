/*
 * dmarc_record.c — the DMARC Policy Record parser. See dmarc_record.h.
 *
 * The record is split at ";" and each piece read as "name = value" with
 * the white space §4.8 allows around "=" and ";". Nothing is copied.
 */
#include "auth/dmarc_record.h"

#include <ctype.h>
#include <string.h>

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static struct str trim(struct str s)
{
	while (s.len && is_wsp(s.p[0]))
		s.p++, s.len--;
	while (s.len && is_wsp(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* Splits "name *WSP = *WSP value" ; -1 when the piece is not a tag-spec. */
static int split_tag(struct str piece, struct str *name, struct str *value)
{
	size_t i = 0;
	while (i < piece.len && isalpha((unsigned char)piece.p[i]))
		i++;
	if (i == 0)
		return -1;
	*name = str_make(piece.p, i);
	while (i < piece.len && is_wsp(piece.p[i]))
		i++;
	if (i == piece.len || piece.p[i] != '=')
		return -1;
	*value = trim(str_sub(piece, i + 1, piece.len - i - 1));
	if (value->len == 0)
		return -1;
	/* dmarc-value: printable ASCII and space, never ";" (split on already). */
	for (size_t k = 0; k < value->len; k++)
		if ((unsigned char)value->p[k] < 0x20 || (unsigned char)value->p[k] > 0x7e)
			return -1;
	return 0;
}

static enum dmarc_policy policy_of(struct str v)
{
	if (str_eq_ci_c(v, "none"))
		return DMARC_POLICY_NONE;
	if (str_eq_ci_c(v, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (str_eq_ci_c(v, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_INVALID;
}

/* RFC 3986 scheme ":" at least one more octet; an obsolete "!size" suffix is allowed. */
static int uri_ok(struct str u)
{
	size_t i = 0;
	if (u.len == 0 || !isalpha((unsigned char)u.p[0]))
		return 0;
	while (i < u.len && (isalnum((unsigned char)u.p[i]) || u.p[i] == '+' || u.p[i] == '-' ||
			     u.p[i] == '.'))
		i++;
	if (i == u.len || u.p[i] != ':' || i + 1 == u.len)
		return 0;
	for (size_t k = i + 1; k < u.len; k++)
		if (is_wsp(u.p[k]))
			return 0;
	return 1;
}

/* dmarc-urilist: 1 when every item is a URI, *any_r when at least one. */
static int urilist_ok(struct str v, int *any_r)
{
	*any_r = 0;
	size_t start = 0;
	int all = 1;
	for (size_t i = 0; i <= v.len; i++) {
		if (i < v.len && v.p[i] != ',')
			continue;
		if (uri_ok(trim(str_sub(v, start, i - start))))
			*any_r = 1;
		else
			all = 0;
		start = i + 1;
	}
	return all;
}

/* dmarc-fo: "0", "1", "d", "s" joined by ":", 0 and 1 exclusive, each at most once. */
static int fo_ok(struct str v)
{
	int seen[4] = { 0 };
	static const char opts[] = "01ds";
	size_t i = 0;
	for (;;) {
		if (i >= v.len)
			return 0;
		const char *o = memchr(opts, v.p[i], 4);
		if (!o || seen[o - opts]++)
			return 0;
		i++;
		if (i == v.len)
			break;
		if (v.p[i] != ':')
			return 0;
		i++;
	}
	return !(seen[0] && seen[1]);
}

/* One known tag; unknown tags are ignored (§4.7). Only the first of a repeated tag counts. */
static void apply_tag(struct dmarc_record *r, struct str n, struct str v, unsigned *seen)
{
	static const char *const names[] = { "p", "sp", "np", "psd", "t", "adkim", "aspf",
					     "rua", "ruf", "fo", "pct" };
	size_t k;
	for (k = 0; k < sizeof names / sizeof names[0]; k++)
		if (str_eq_ci_c(n, names[k]))
			break;
	if (k == sizeof names / sizeof names[0] || (*seen & (1u << k)))
		return;
	*seen |= 1u << k;
	int any;
	uint64_t num;
	switch (k) {
	case 0: r->p = policy_of(v); break;
	case 1: r->sp = policy_of(v); break;
	case 2: r->np = policy_of(v); break;
	case 3:
		if (str_eq_ci_c(v, "y"))
			r->psd = DMARC_PSD_Y;
		else if (str_eq_ci_c(v, "n"))
			r->psd = DMARC_PSD_N;
		else if (!str_eq_ci_c(v, "u"))
			r->bad_tags++;
		break;
	case 4:
		if (str_eq_ci_c(v, "y") || str_eq_ci_c(v, "n")) {
			r->has_t = 1;
			r->testing = str_eq_ci_c(v, "y");
		} else {
			r->bad_tags++;
		}
		break;
	case 5:
	case 6:
		if (str_eq_ci_c(v, "r") || str_eq_ci_c(v, "s"))
			*(k == 5 ? &r->adkim : &r->aspf) = (char)tolower((unsigned char)v.p[0]);
		else
			r->bad_tags++;
		break;
	case 7:
	case 8: {
		int all = urilist_ok(v, &any);
		if (!all)
			r->bad_tags++;
		if (k == 7) {
			r->rua = v;
			r->rua_valid = any;
		} else {
			r->ruf = v;
		}
		break;
	}
	case 9:
		if (fo_ok(v))
			r->fo = v;
		else
			r->bad_tags++;
		break;
	case 10:
		if (str_to_u64(v, 100, &num) == 0) {
			r->has_pct = 1;
			r->pct = (unsigned)num;
		} else {
			r->bad_tags++;
		}
		break;
	}
}

int dmarc_record_parse(const char *rec, size_t len, struct dmarc_record *r)
{
	struct str all = str_make(rec, len), name, value;
	unsigned seen = 0;
	size_t start = 0;
	int first = 1;

	memset(r, 0, sizeof *r);
	r->adkim = r->aspf = 'r';
	r->fo = STR_LIT("0");
	for (size_t i = 0; i <= len; i++) {
		if (i < len && rec[i] != ';')
			continue;
		struct str piece = trim(str_sub(all, start, i - start));
		start = i + 1;
		if (first) {
			/* dmarc-version: "v" equals %s"DMARC1", first, exactly. */
			if (split_tag(piece, &name, &value) < 0 || !str_eq_ci_c(name, "v") ||
			    !str_eq(value, STR_LIT("DMARC1")))
				return 0;
			first = 0;
			continue;
		}
		if (piece.len == 0)
			continue;
		if (split_tag(piece, &name, &value) == 0)
			apply_tag(r, name, value, &seen);
	}
	if (first)
		return 0;
	/* Appendix A.6: pct=0 is what t=y now says; an explicit t= wins. */
	if (r->has_pct && !r->has_t)
		r->testing = r->pct == 0;
	return 1;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	return p == DMARC_POLICY_QUARANTINE ? "quarantine" : p == DMARC_POLICY_REJECT ? "reject" : "none";
}
