/*
 * mime_date.c — RFC 5322 date-time parsing and formatting (see mime_date.h).
 */
#include "mime/mime_date.h"

#include <stdio.h>
#include <string.h>

int64_t mime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int rfc3339_num(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int mime_rfc3339_parse(const char *s, int64_t *t_r)
{
	return mime_rfc3339_parse_off(s, t_r, NULL);
}

int mime_rfc3339_parse_off(const char *s, int64_t *t_r, int *off_r)
{
	int y, mo, d, h, mi, se;
	size_t len = strlen(s);

	if (len < 20 || rfc3339_num(s, 4, &y) || s[4] != '-' || rfc3339_num(s + 5, 2, &mo) || s[7] != '-' ||
	    rfc3339_num(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    rfc3339_num(s + 11, 2, &h) || s[13] != ':' || rfc3339_num(s + 14, 2, &mi) || s[16] != ':' ||
	    rfc3339_num(s + 17, 2, &se))
		return -1;
	/* date-mday 01-28, -29, -30 or -31 by month and year (RFC 3339 §5.7) */
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -1;
	if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return -1;
	const char *z = s + 19;
	if (*z == '.') {
		z++;
		if (*z < '0' || *z > '9')
			return -1;
		while (*z >= '0' && *z <= '9')
			z++;
	}
	int64_t off = 0;
	if (*z == 'Z' || *z == 'z') {
		z++;
	} else if (*z == '+' || *z == '-') {
		int oh, om;
		if (rfc3339_num(z + 1, 2, &oh) || z[3] != ':' || rfc3339_num(z + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (*z == '+' ? 1 : -1);
		z += 6;
	} else {
		return -1;
	}
	if (*z != '\0')
		return -1;
	*t_r = mime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
	       off;
	if (off_r)
		*off_r = (int)off;
	return 0;
}

void mime_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	/* Howard Hinnant's civil_from_days: years start on 1 March. */
	int64_t zz = z + 719468;
	int64_t era = (zz >= 0 ? zz : zz - 146096) / 146097;
	unsigned doe = (unsigned)(zz - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int64_t)yoe + era * 400 + (*m_r <= 2);
}

void mime_rfc3339_format(int64_t t, char out[MIME_RFC3339_MAX])
{
	int64_t z = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - z * 86400, y;
	unsigned m, d;
	mime_civil_from_days(z, &y, &m, &d);
	snprintf(out, MIME_RFC3339_MAX, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

void mime_date_format(int64_t t, char out[MIME_DATE_MAX])
{
	mime_date_format_off(t, 0, out);
}

void mime_date_format_off(int64_t t, int off, char out[MIME_DATE_MAX])
{
	static const char *const days[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int aoff = off < 0 ? -off : off;
	t += off; /* the local time at the zone */
	int64_t z = t >= 0 ? t / 86400 : (t - 86399) / 86400; /* days since 1970-01-01 */
	int64_t secs = t - z * 86400;
	int64_t y;
	unsigned m, d;
	mime_civil_from_days(z, &y, &m, &d);
	int wd = (int)(((z % 7) + 7) % 7); /* 1970-01-01 was a Thursday */

	snprintf(out, MIME_DATE_MAX, "%s, %u %s %04lld %02d:%02d:%02d %c%02d%02d", days[wd], d,
		 months[m - 1], (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60),
		 (int)(secs % 60), off < 0 ? '-' : '+', aoff / 3600 % 24, aoff / 60 % 60);
}

struct cur {
	const char *p, *end;
};

/* Skips white space and (nested) comments, quoted pairs inside them. */
static void skip_cfws(struct cur *c)
{
	unsigned depth = 0;

	while (c->p < c->end) {
		char ch = *c->p;
		if (depth) {
			if (ch == '\\' && c->p + 1 < c->end)
				c->p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
		} else if (ch == '(') {
			depth = 1;
		} else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
			return;
		}
		c->p++;
	}
}

/* 1..max digits; -1 when none. */
static int64_t number(struct cur *c, unsigned max, unsigned *ndigits_r)
{
	int64_t v = 0;
	unsigned n = 0;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && n < max) {
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (ndigits_r)
		*ndigits_r = n;
	return n ? v : -1;
}

/* Letters only: the length of the word at c (not consumed). */
static size_t word_len(const struct cur *c)
{
	size_t n = 0;

	while (c->p + n < c->end && ((c->p[n] | 0x20) >= 'a' && (c->p[n] | 0x20) <= 'z'))
		n++;
	return n;
}

static int word_is(const struct cur *c, size_t n, const char *w)
{
	if (strlen(w) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((c->p[i] | 0x20) != (w[i] | 0x20))
			return 0;
	return 1;
}

static const char *const month_names[12] = { "jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec" };

/* The zone in minutes east of UTC (0 when absent or unknown). */
static int zone(struct cur *c)
{
	static const struct {
		const char *name;
		int min;
	} names[] = { { "ut", 0 },       { "utc", 0 },     { "gmt", 0 },     { "z", 0 },
		      { "est", -300 },   { "edt", -240 },  { "cst", -360 },  { "cdt", -300 },
		      { "mst", -420 },   { "mdt", -360 },  { "pst", -480 },  { "pdt", -420 } };

	skip_cfws(c);
	if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
		int sign = *c->p == '-' ? -1 : 1;
		unsigned nd;
		struct cur d = { c->p + 1, c->end };
		int64_t v = number(&d, 4, &nd);
		if (nd != 4 || v % 100 > 59)
			return 0;
		c->p = d.p;
		return sign * (int)(v / 100 * 60 + v % 100);
	}
	size_t n = word_len(c);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (word_is(c, n, names[i].name))
			return names[i].min;
	return 0; /* military letters and the unknown: +0000 (RFC 5322 §4.3) */
}

int mime_date_parse(struct str value, int64_t *t_r, int64_t *day_r)
{
	return mime_date_parse_zone(value, t_r, day_r, NULL);
}

int mime_date_parse_zone(struct str value, int64_t *t_r, int64_t *day_r, int *zone_r)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t day, year, hh, mm, ss = 0;
	unsigned m, nd;

	if (!value.p)
		return -1;
	struct cur c = { value.p, value.p + value.len };
	skip_cfws(&c);
	/* Optional day name and comma. */
	size_t n = word_len(&c);
	if (n) {
		c.p += n;
		skip_cfws(&c);
		if (c.p < c.end && *c.p == ',')
			c.p++;
		skip_cfws(&c);
	}
	day = number(&c, 2, NULL);
	if (day < 1)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-') /* "20-Nov-2026", seen from some gateways */
		c.p++;
	n = word_len(&c);
	for (m = 0; m < 12; m++)
		if (n >= 3 && word_is(&c, 3, month_names[m]))
			break;
	if (m == 12)
		return -1;
	c.p += n; /* "Sept", "September" */
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	year = number(&c, 4, &nd);
	if (year < 0 || (c.p < c.end && *c.p >= '0' && *c.p <= '9'))
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	else if (year < 1900)
		return -1; /* RFC 5322 §3.3: "any numeric year 1900 or later" ("0102") */
	if (day > mdays[m] ||
	    (m == 1 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))))
		return -1;
	skip_cfws(&c);
	hh = number(&c, 2, NULL);
	skip_cfws(&c);
	if (hh < 0 || hh > 23 || c.p >= c.end || *c.p != ':')
		return -1;
	c.p++;
	skip_cfws(&c);
	mm = number(&c, 2, NULL);
	if (mm < 0 || mm > 59)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == ':') {
		c.p++;
		skip_cfws(&c);
		ss = number(&c, 2, NULL);
		if (ss < 0 || ss > 60) /* 60: a leap second */
			return -1;
	}
	int z = zone(&c);
	if (zone_r)
		*zone_r = z;
	int64_t days = mime_days_from_civil(year, m + 1, (unsigned)day);
	if (day_r)
		*day_r = days;
	if (t_r)
		*t_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)z * 60;
	return 0;
}
