/*
 * dns_check_compare.c — how a value seen in DNS compares with the record
 * tern asks for (the rules are at the top of dns_check.c). Pure string
 * work on values from DNS answers, apart from c-ares so that the unit and
 * fuzz builds link it (tests/fuzz/fuzz_dns_compare.c). Moved unchanged
 * from dns_check.c; compare() took the query, which held rec and res.
 */
#include "http/dns_check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void dns_check_canon(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in), o = 0;
	while (n && in[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		char c = in[i];
		out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[o] = '\0';
}

static void squeeze(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	int space = 0;
	for (; *in && o + 1 < outsz; in++) {
		if (*in == ' ' || *in == '\t') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < outsz)
			out[o++] = ' ';
		space = 0;
		out[o++] = *in;
	}
	out[o] = '\0';
}

/* The value of tag t= in a DKIM record ("" when absent), white space removed. */
static void dkim_tag(const char *rec, const char *tag, char *out, size_t outsz)
{
	size_t o = 0, tl = strlen(tag);
	const char *p = rec;
	out[0] = '\0';
	while (*p) {
		while (*p == ' ' || *p == ';' || *p == '\t')
			p++;
		if (strncmp(p, tag, tl) == 0 && p[tl] == '=') {
			for (p += tl + 1; *p && *p != ';' && o + 1 < outsz; p++)
				if (*p != ' ' && *p != '\t')
					out[o++] = *p;
			out[o] = '\0';
			return;
		}
		while (*p && *p != ';')
			p++;
	}
}

void dns_check_note_found(struct dns_result *r, const char *v)
{
	if (r->nfound < DNS_CHECK_FOUND_MAX)
		snprintf(r->found[r->nfound++], sizeof(r->found[0]), "%s", v);
}

void dns_check_compare(const struct admin_dns_record *rec, struct dns_result *res,
		       const char *seen)
{
	char a[ADMIN_DNS_VALUE_MAX], b[ADMIN_DNS_VALUE_MAX];
	int same = 0, kin = 1;

	if (res->status == DNS_CHECK_FOUND)
		return;
	if (strcmp(rec->type, "TXT") == 0) {
		const char *exp = rec->value;
		if (strncmp(exp, "v=DKIM1", 7) == 0) {
			dkim_tag(exp, "p", a, sizeof(a));
			dkim_tag(seen, "p", b, sizeof(b));
			kin = strstr(seen, "p=") != NULL;
			same = kin && strcmp(a, b) == 0;
		} else {
			/* Same kind: the same "v=..." prefix (spf1, DMARC1). */
			const char *sp = strchr(exp, ' '), *semi = strchr(exp, ';');
			size_t plen = sp ? (size_t)(sp - exp) : strlen(exp);
			if (semi && (size_t)(semi - exp) < plen)
				plen = (size_t)(semi - exp);
			kin = strncasecmp(seen, exp, plen) == 0;
			squeeze(exp, a, sizeof(a));
			squeeze(seen, b, sizeof(b));
			same = strcmp(a, b) == 0;
		}
	} else {
		/* "prio host." (MX), "prio weight port host." (SRV), "host." (CNAME):
		 * the host and the port decide. */
		const char *e = strrchr(rec->value, ' '), *s = strrchr(seen, ' ');
		dns_check_canon(e ? e + 1 : rec->value, a, sizeof(a));
		dns_check_canon(s ? s + 1 : seen, b, sizeof(b));
		same = strcmp(a, b) == 0;
		if (same && strcmp(rec->type, "SRV") == 0) {
			unsigned p1 = 0, w1 = 0, port1 = 0, p2 = 0, w2 = 0, port2 = 0;
			sscanf(rec->value, "%u %u %u", &p1, &w1, &port1);
			sscanf(seen, "%u %u %u", &p2, &w2, &port2);
			same = port1 == port2;
		}
	}
	if (same) {
		res->status = DNS_CHECK_FOUND;
		res->nfound = 0;
		return;
	}
	if (kin) {
		res->status = DNS_CHECK_DIFFERENT;
		dns_check_note_found(res, seen);
	}
}
