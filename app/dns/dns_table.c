/*
 * dns_table.c — the table resolver. See dns_table.h.
 */
#include "dns/dns_table.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define TABLE_TTL 300
#define TABLE_HOPS 8

struct line {
	char name[256];
	uint16_t type;
	int servfail;
	const char *data; /* into dns_table.text, NUL-terminated */
};

struct dns_table {
	char *text;
	struct line *lines;
	size_t n;
	unsigned queries;
};

static char *next_field(char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
	char *s = *p;
	while (**p && **p != ' ' && **p != '\t')
		(*p)++;
	if (**p)
		*(*p)++ = '\0';
	return s;
}

struct dns_table *dns_table_new(const char *text, size_t len)
{
	struct dns_table *t = xcalloc(1, sizeof *t);
	t->text = xmalloc(len + 1);
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	t->lines = xcalloc(cap, sizeof *t->lines);
	for (char *p = t->text, *eol; p; p = eol) {
		eol = strchr(p, '\n');
		if (eol)
			*eol++ = '\0';
		size_t l = strlen(p);
		if (l && p[l - 1] == '\r')
			p[l - 1] = '\0';
		if (*p == '#')
			continue;
		char *name = next_field(&p), *type = next_field(&p);
		while (*p == ' ' || *p == '\t')
			p++;
		struct line *ln = &t->lines[t->n];
		if (!*name || dns_name_canon(name, ln->name, sizeof ln->name) < 0)
			continue;
		if (!(ln->type = dns_type_parse(type)))
			continue;
		ln->servfail = strcmp(p, "SERVFAIL") == 0;
		ln->data = p;
		t->n++;
	}
	return t;
}

void dns_table_free(struct dns_table **tp)
{
	struct dns_table *t = *tp;
	if (!t)
		return;
	*tp = NULL;
	free(t->lines);
	free(t->text);
	free(t);
}

unsigned dns_table_queries(const struct dns_table *t)
{
	return t->queries;
}

static void add(struct dns_answer *a, const struct line *ln)
{
	struct dns_rr rr = { .type = ln->type, .ttl = TABLE_TTL };
	unsigned char bin[16];
	char host[256];

	switch (ln->type) {
	case DNS_T_A:
		if (inet_pton(AF_INET, ln->data, bin) == 1)
			dns_answer_add(a, &rr, bin, 4);
		return;
	case DNS_T_AAAA:
		if (inet_pton(AF_INET6, ln->data, bin) == 1)
			dns_answer_add(a, &rr, bin, 16);
		return;
	case DNS_T_MX: {
		char *end;
		unsigned long pref = strtoul(ln->data, &end, 10);
		while (*end == ' ')
			end++;
		if (pref > 65535 || dns_name_canon(end, host, sizeof host) < 0)
			return;
		rr.pref = (uint16_t)pref;
		dns_answer_add(a, &rr, host, strlen(host));
		return;
	}
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		if (dns_name_canon(ln->data, host, sizeof host) == 0)
			dns_answer_add(a, &rr, host, strlen(host));
		return;
	default:
		dns_answer_add(a, &rr, ln->data, strlen(ln->data));
	}
}

void dns_table_lookup(struct dns_table *t, const char *name, uint16_t type, struct dns_answer *out)
{
	char want[256];

	t->queries++;
	dns_answer_init(out, type, DNS_ANS_NXDOMAIN, TABLE_TTL);
	if (dns_name_canon(name, want, sizeof want) < 0)
		return;
	for (int hop = 0; hop < TABLE_HOPS; hop++) {
		int exists = 0;
		const char *cname = NULL;
		for (size_t i = 0; i < t->n; i++) {
			const struct line *ln = &t->lines[i];
			if (strcmp(ln->name, want) != 0)
				continue;
			exists = 1;
			if (ln->type == type && ln->servfail) {
				dns_answer_init(out, type, DNS_ANS_TEMP, 0);
				return;
			}
			if (ln->type == type)
				add(out, ln);
			else if (ln->type == DNS_T_CNAME && type != DNS_T_CNAME)
				cname = ln->data;
		}
		if (out->nrr) {
			out->status = DNS_ANS_OK;
			return;
		}
		out->status = exists ? DNS_ANS_NODATA : DNS_ANS_NXDOMAIN;
		if (!cname || dns_name_canon(cname, want, sizeof want) < 0)
			return;
		snprintf(out->cname, sizeof out->cname, "%s", want);
	}
}

static void *table_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	struct dns_answer *a = xmalloc(sizeof *a);
	dns_table_lookup(ctx, name, type, a);
	cb(arg, a);
	free(a);
	return NULL;
}

static void table_cancel(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

struct dns_resolver dns_table_resolver(struct dns_table *t)
{
	return (struct dns_resolver){ table_start, table_cancel, t };
}
