/*
 * tlsrpt_in.c — a received TLS-RPT report's JSON read (tlsrpt_in.h).
 */
#include "tlspol/tlsrpt_in.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "http/json.h"

static int fail(char *err, size_t errsz, const char *what)
{
	if (errsz)
		snprintf(err, errsz, "%s", what);
	return -1;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's formula). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int tlsrpt_datetime_parse(const char *s, int64_t *t_r)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	size_t n = strlen(s), i = 19;
	if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &se))
		return -1;
	/* Reports describe the past of mail: 1970 on keeps the arithmetic and
	 * the writer's 4-digit years simple. */
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	if (s[i] == '.') {
		i++;
		size_t f = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return -1;
	}
	int sign = 0;
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		sign = 0;
	else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && !digits(s + i + 1, 2, &oh) &&
		 s[i + 3] == ':' && !digits(s + i + 4, 2, &om) && oh < 24 && om < 60)
		sign = s[i] == '+' ? 1 : -1;
	else
		return -1;
	*t_r = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

/* The string member key of o, at most max bytes: the string, "" when absent and optional, NULL when bad. */
static const char *str_of(const struct json_value *o, const char *key, size_t max, int required)
{
	const struct json_value *v = json_get(o, key);
	if (!v)
		return required ? NULL : "";
	if (v->type != JSON_STRING || v->len > max || strlen(v->str) != v->len)
		return NULL;
	return v->str;
}

/*
 * A free-text member of the report (organization-name, contact-info,
 * report-id): as str_of(), but one longer than max is cut to it (never
 * inside a UTF-8 sequence; a copy in a) and r is flagged, as DMARC's
 * intake cuts its text fields and keeps the report: RFC 8460 sets no
 * length, and the counts are what the report is for.
 */
static const char *text_of(const struct json_value *o, const char *key, size_t max, int required,
			   struct arena *a, struct tlsrpt_report *r)
{
	const struct json_value *v = json_get(o, key);
	if (!v || v->type != JSON_STRING || v->len <= max)
		return str_of(o, key, max, required);
	if (strlen(v->str) != v->len)
		return NULL;
	size_t n = max;
	/* v->str[n], the first octet left out, continues a sequence: drop its start. */
	while (n && ((unsigned char)v->str[n] & 0xC0) == 0x80)
		n--;
	r->flags |= TLSRPT_REPORT_CUT;
	return arena_strndup(a, v->str, n);
}

static int count_of(const struct json_value *o, const char *key, uint64_t *c)
{
	const struct json_value *v = json_get(o, key);
	if (!v || v->type != JSON_NUMBER || !v->is_int || v->integer < 0)
		return -1;
	*c = (uint64_t)v->integer;
	return 0;
}

static int copy_to(char *dst, size_t dstsz, const char *s)
{
	if (!s || strlen(s) >= dstsz)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* s (NULL: "") into dst, cut to its room, never inside a UTF-8 sequence. */
static void copy_cut(char *dst, size_t dstsz, const char *s)
{
	snprintf(dst, dstsz, "%s", s ? s : "");
	size_t l = strlen(dst);
	/* s[l], the first byte left out, continues a sequence: drop its start. */
	if (s)
		while (l && ((unsigned char)s[l] & 0xC0) == 0x80)
			dst[--l] = '\0';
}

static int failure(const struct json_value *f, struct tlsrpt_policy *p)
{
	const char *rt = str_of(f, "result-type", 64, 1);
	uint64_t n;
	if (!rt || f->type != JSON_OBJECT || count_of(f, "failed-session-count", &n) < 0)
		return -1;
	/* Result types outside §4.3's list are kept as validation-failure
	 * with their name in additional-information: the count still tells. */
	enum tlsrpt_result res = TLSRPT_VALIDATION_FAILURE;
	int known = 0;
	for (int i = TLSRPT_STARTTLS_NOT_SUPPORTED; i <= TLSRPT_STS_WEBPKI_INVALID; i++)
		if (strcmp(rt, tlsrpt_result_name((enum tlsrpt_result)i)) == 0) {
			res = (enum tlsrpt_result)i;
			known = 1;
		}
	struct tlsrpt_failure *x = tlsrpt_failure_add(p, res, n);
	if (!x)
		return 0; /* its count joined one of its type */
	if (copy_to(x->sending_mta_ip, sizeof x->sending_mta_ip, str_of(f, "sending-mta-ip", 64, 0)) ||
	    copy_to(x->receiving_mx_hostname, sizeof x->receiving_mx_hostname,
		    str_of(f, "receiving-mx-hostname", 300, 0)) ||
	    copy_to(x->receiving_ip, sizeof x->receiving_ip, str_of(f, "receiving-ip", 64, 0)))
		return -1;
	copy_cut(x->additional_information, sizeof x->additional_information,
		 known ? str_of(f, "additional-information", 4096, 0) : rt);
	copy_cut(x->failure_reason_code, sizeof x->failure_reason_code,
		 str_of(f, "failure-reason-code", 4096, 0));
	return 0;
}

static int strings(const struct json_value *arr, const char **out, size_t *n)
{
	*n = 0;
	if (!arr)
		return 0;
	if (arr->type != JSON_ARRAY)
		return -1;
	for (const struct json_value *s = arr->first; s; s = s->next) {
		if (s->type != JSON_STRING || strlen(s->str) != s->len)
			return -1;
		if (*n < TLSRPT_POLICY_STRINGS_MAX)
			out[(*n)++] = s->str;
	}
	return 0;
}

static int policy(const struct json_value *pv, struct tlsrpt_policy *p)
{
	const struct json_value *pol = json_get(pv, "policy"), *sum = json_get(pv, "summary");
	memset(p, 0, sizeof *p);
	if (pv->type != JSON_OBJECT || !pol || pol->type != JSON_OBJECT || !sum ||
	    sum->type != JSON_OBJECT)
		return -1;
	const char *type = str_of(pol, "policy-type", 32, 1);
	if (!type)
		return -1;
	if (strcmp(type, "sts") == 0)
		p->type = TLSRPT_STS;
	else if (strcmp(type, "tlsa") == 0)
		p->type = TLSRPT_TLSA;
	else if (strcmp(type, "no-policy-found") == 0)
		p->type = TLSRPT_NO_POLICY;
	else
		return -1;
	if (copy_to(p->domain, sizeof p->domain, str_of(pol, "policy-domain", 255, 1)) || !p->domain[0] ||
	    strings(json_get(pol, "policy-string"), p->strings, &p->nstrings) ||
	    strings(json_get(pol, "mx-host"), p->mx_hosts, &p->nmx) ||
	    count_of(sum, "total-successful-session-count", &p->successful) ||
	    count_of(sum, "total-failure-session-count", &p->failed))
		return -1;
	const struct json_value *fd = json_get(pv, "failure-details");
	if (fd) {
		if (fd->type != JSON_ARRAY)
			return -1;
		for (const struct json_value *f = fd->first; f; f = f->next)
			if (failure(f, p) < 0)
				return -1;
	}
	return 0;
}

int tlsrpt_report_parse(const char *json, size_t n, struct arena *a, struct tlsrpt_report *r,
			char *err, size_t errsz)
{
	char jerr[128];
	memset(r, 0, sizeof *r);
	if (n > TLSRPT_IN_MAX)
		return fail(err, errsz, "report too large");
	size_t values = TLSRPT_IN_VALUES_MAX;
	int over;
	struct json_value *root = json_parse_capped(json, n, a, &values, &over, jerr, sizeof jerr);
	if (!root)
		return fail(err, errsz, over ? "too many JSON values" : "not JSON");
	if (root->type != JSON_OBJECT)
		return fail(err, errsz, "not a JSON object");
	const struct json_value *dr = json_get(root, "date-range");
	const char *s, *e;
	r->organization = text_of(root, "organization-name", 255, 1, a, r);
	r->contact = text_of(root, "contact-info", 255, 0, a, r);
	r->report_id = text_of(root, "report-id", 255, 1, a, r);
	if (!r->organization || !r->contact || !r->report_id || !r->report_id[0])
		return fail(err, errsz, "organization-name, contact-info or report-id missing or bad");
	if (!dr || dr->type != JSON_OBJECT || !(s = str_of(dr, "start-datetime", 64, 1)) ||
	    !(e = str_of(dr, "end-datetime", 64, 1)) || tlsrpt_datetime_parse(s, &r->start) ||
	    tlsrpt_datetime_parse(e, &r->end) || r->end < r->start)
		return fail(err, errsz, "date-range missing or bad");
	const struct json_value *pols = json_get(root, "policies");
	if (!pols || pols->type != JSON_ARRAY || pols->count == 0)
		return fail(err, errsz, "policies missing");
	for (const struct json_value *pv = pols->first; pv; pv = pv->next) {
		if (r->npolicies == TLSRPT_POLICIES_MAX)
			return fail(err, errsz, "too many policies");
		if (policy(pv, &r->policies[r->npolicies]) < 0)
			return fail(err, errsz, "a policy is missing fields or bad");
		r->npolicies++;
	}
	return 0;
}
