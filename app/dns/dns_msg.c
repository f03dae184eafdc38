/*
 * dns_msg.c — the DNS reply parser and struct dns_answer helpers. See
 * dns_msg.h.
 *
 * We parse the raw reply ourselves rather than use c-ares's per-type
 * parsers: one parser gives every type the same TTL, CNAME and negative
 * answer handling, and it runs (and is fuzzed) without c-ares.
 */
#include "dns/dns_msg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"

#define HDR_LEN 12
#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3
#define CNAME_HOPS_MAX 16

static const struct {
	uint16_t t;
	const char *name;
} type_names[] = {
	{ DNS_T_A, "A" },     { DNS_T_NS, "NS" },   { DNS_T_CNAME, "CNAME" }, { DNS_T_SOA, "SOA" },
	{ DNS_T_PTR, "PTR" }, { DNS_T_MX, "MX" },   { DNS_T_TXT, "TXT" },     { DNS_T_AAAA, "AAAA" },
	{ DNS_T_SRV, "SRV" }, { DNS_T_TLSA, "TLSA" },
};

const char *dns_type_name(uint16_t t)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (type_names[i].t == t)
			return type_names[i].name;
	return NULL;
}

uint16_t dns_type_parse(const char *s)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcasecmp(type_names[i].name, s) == 0)
			return type_names[i].t;
	return 0;
}

void dns_answer_init(struct dns_answer *a, uint16_t qtype, enum dns_answer_status st,
		     uint32_t ttl)
{
	a->status = (uint8_t)st;
	a->truncated = 0;
	a->ad = 0;
	a->qtype = qtype;
	a->ttl = ttl;
	a->nrr = 0;
	a->datalen = 0;
	a->cname[0] = '\0';
}

int dns_answer_add(struct dns_answer *a, const struct dns_rr *rr, const void *data, size_t len)
{
	if (a->nrr >= DNS_RR_MAX || len + 1 > (size_t)DNS_DATA_MAX - a->datalen) {
		a->truncated = 1;
		return -1;
	}
	struct dns_rr *r = &a->rr[a->nrr++];
	*r = *rr;
	r->off = a->datalen;
	r->len = (uint16_t)len;
	if (len && data)
		memcpy(a->data + a->datalen, data, len);
	a->data[a->datalen + len] = '\0';
	a->datalen = (uint16_t)(a->datalen + len + 1);
	return 0;
}

size_t dns_answer_size(const struct dns_answer *a)
{
	return offsetof(struct dns_answer, rr) + a->nrr * sizeof a->rr[0] + a->datalen;
}

void dns_answer_pack(const struct dns_answer *a, void *buf)
{
	uint8_t *w = buf;
	size_t head = offsetof(struct dns_answer, rr), rrs = a->nrr * sizeof a->rr[0];
	memcpy(w, a, head);
	memcpy(w + head, a->rr, rrs);
	memcpy(w + head + rrs, a->data, a->datalen);
}

void dns_answer_unpack(const void *buf, struct dns_answer *out)
{
	const uint8_t *r = buf;
	size_t head = offsetof(struct dns_answer, rr);
	memcpy(out, r, head);
	size_t rrs = out->nrr * sizeof out->rr[0];
	memcpy(out->rr, r + head, rrs);
	memcpy(out->data, r + head + rrs, out->datalen);
}

const char *dns_rr_text(const struct dns_answer *a, size_t i)
{
	const struct dns_rr *r = &a->rr[i];
	const char *t = (const char *)a->data + r->off;
	if (r->type == DNS_T_A || r->type == DNS_T_AAAA || r->type == DNS_T_TLSA)
		return "";
	if (r->type == DNS_T_TXT && memchr(t, 0, r->len))
		return ""; /* its text would end at the NUL, a record it is not */
	return t;
}

int dns_answer_null_mx(const struct dns_answer *a)
{
	int root = 0;
	if (a->status != DNS_ANS_OK)
		return 0;
	for (size_t i = 0; i < a->nrr; i++) {
		if (a->rr[i].type != DNS_T_MX)
			continue;
		if (a->rr[i].len != 0)
			return 0; /* a host: mail goes there */
		root = 1;
	}
	return root;
}

/*
 * Appends one label octet in canonical text form at out[*o]: lowercase,
 * printable ASCII as itself, and '.', '\\', space, controls and octets
 * past 0x7e as \DDD (c-ares reads that form back to the same octet).
 * -1 when it does not fit (with room for the NUL).
 */
static int put_octet(uint8_t c, char *out, size_t *o, size_t outsz)
{
	if (c >= 'A' && c <= 'Z')
		c = (uint8_t)(c + 32);
	if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
		if (*o + 1 >= outsz)
			return -1;
		out[(*o)++] = (char)c;
		return 0;
	}
	if (*o + 4 >= outsz)
		return -1;
	snprintf(out + *o, 5, "\\%03u", c);
	*o += 4;
	return 0;
}

int dns_name_text(const char *raw, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = raw; *p; p++) {
		if (*p == '.') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		} else if (put_octet((uint8_t)*p, out, &o, outsz) < 0) {
			return -1;
		}
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

int dns_name_canon(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in);
	if (n && in[n - 1] == '.' && !(n >= 2 && in[n - 2] == '\\'))
		n--;
	if (n + 1 > outsz) {
		out[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	out[n] = '\0';
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Reads the name at msg[off] into out (canonical text). *next is the offset
 * just after the name where it started (before any pointer). 0, or -1 when
 * the name is malformed or its text does not fit.
 */
static int read_name(const uint8_t *msg, size_t len, size_t off, char *out, size_t outsz,
		     size_t *next)
{
	size_t o = 0, pos = off, lowest = off;
	int jumped = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			size_t to = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			/* Only backwards, so no loop is possible. */
			if (to >= lowest)
				return -1;
			lowest = pos = to;
			continue;
		}
		if (l & 0xc0)
			return -1; /* the 01 and 10 label types are not in use */
		if (l == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return -1;
		if (o && o + 1 < outsz)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++)
			if (put_octet(msg[pos + 1 + i], out, &o, outsz) < 0)
				return -1;
		pos += 1 + (size_t)l;
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

struct rr_view {
	char owner[DNS_NAME_MAX];
	uint16_t type, cls;
	uint32_t ttl;
	size_t rdoff, rdlen;
};

/* Reads the record at *off; advances *off past it. 0 or -1. */
static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr_view *v)
{
	size_t p;
	if (read_name(msg, len, *off, v->owner, sizeof v->owner, &p) < 0 || p + 10 > len)
		return -1;
	v->type = get16(msg + p);
	v->cls = get16(msg + p + 2);
	v->ttl = get32(msg + p + 4);
	/* RFC 2181 §8: a TTL with the top bit set counts as zero. */
	if (v->ttl & 0x80000000u)
		v->ttl = 0;
	v->rdlen = get16(msg + p + 8);
	v->rdoff = p + 10;
	if (v->rdoff + v->rdlen > len)
		return -1;
	*off = v->rdoff + v->rdlen;
	return 0;
}

/* Adds the data of one record of the asked type to the answer. 0, or -1 when malformed. */
static int take_rr(const uint8_t *msg, size_t len, const struct rr_view *v, struct dns_answer *a)
{
	struct dns_rr rr = { .type = v->type, .ttl = v->ttl };
	const uint8_t *d = msg + v->rdoff;
	char name[DNS_NAME_MAX];
	size_t end;

	switch (v->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (v->rdlen != (v->type == DNS_T_A ? 4u : 16u))
			return -1;
		dns_answer_add(a, &rr, d, v->rdlen);
		return 0;
	case DNS_T_MX:
		if (v->rdlen < 3)
			return -1;
		rr.pref = get16(d);
		if (read_name(msg, v->rdoff + v->rdlen, v->rdoff + 2, name, sizeof name, &end) < 0)
			return -1;
		dns_answer_add(a, &rr, name, strlen(name));
		return 0;
	case DNS_T_SRV:
		if (v->rdlen < 7)
			return -1;
		rr.pref = get16(d);
		rr.weight = get16(d + 2);
		rr.port = get16(d + 4);
		if (read_name(msg, v->rdoff + v->rdlen, v->rdoff + 6, name, sizeof name, &end) < 0)
			return -1;
		dns_answer_add(a, &rr, name, strlen(name));
		return 0;
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		if (read_name(msg, v->rdoff + v->rdlen, v->rdoff, name, sizeof name, &end) < 0)
			return -1;
		dns_answer_add(a, &rr, name, strlen(name));
		return 0;
	case DNS_T_TXT: {
		/* The character-strings joined, straight into the answer, a NUL
		 * inside kept: dns_rr_text() hides such a record from readers of
		 * C strings, SPF reads its bytes (a permerror, RFC 7208 §4.6). */
		size_t n = 0;
		for (size_t i = 0; i < v->rdlen; i += 1 + (size_t)d[i]) {
			size_t l = d[i];
			if (i + 1 + l > v->rdlen)
				return -1;
			n += l;
		}
		if (dns_answer_add(a, &rr, NULL, n) < 0)
			return 0;
		uint8_t *w = a->data + a->rr[a->nrr - 1].off;
		for (size_t i = 0; i < v->rdlen; i += 1 + (size_t)d[i]) {
			memcpy(w, d + i + 1, d[i]);
			w += d[i];
		}
		return 0;
	}
	default:
		dns_answer_add(a, &rr, d, v->rdlen);
		return 0;
	}
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The parse proper; -1 leaves *out for the caller to reset. */
static int parse(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
		 struct dns_answer *out)
{
	char want[DNS_NAME_MAX], orig[DNS_NAME_MAX];
	struct rr_view v;
	size_t off = HDR_LEN, ans_off;
	uint32_t ttl = UINT32_MAX;

	if (len < HDR_LEN || dns_name_canon(qname, want, sizeof want) < 0)
		return -1;
	if (!(msg[2] & 0x80))
		return -1; /* not a response */
	unsigned rcode = msg[3] & 0x0f;
	unsigned qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8);
	for (unsigned i = 0; i < qd; i++) {
		char skip[DNS_NAME_MAX];
		size_t p;
		if (read_name(msg, len, off, skip, sizeof skip, &p) < 0 || p + 4 > len)
			return -1;
		off = p + 4;
	}
	ans_off = off;
	/* Follow the CNAME chain of the asked name through the answer section. */
	for (int hop = 0; hop < CNAME_HOPS_MAX && qtype != DNS_T_CNAME; hop++) {
		int moved = 0;
		off = ans_off;
		for (unsigned i = 0; i < an; i++) {
			if (read_rr(msg, len, &off, &v) < 0)
				return -1;
			if (v.type != DNS_T_CNAME || v.cls != 1 || strcmp(v.owner, want) != 0)
				continue;
			size_t end;
			char target[DNS_NAME_MAX];
			if (read_name(msg, v.rdoff + v.rdlen, v.rdoff, target, sizeof target, &end) < 0)
				return -1;
			memcpy(want, target, strlen(target) + 1);
			ttl = min32(ttl, v.ttl);
			moved = 1;
			break;
		}
		if (!moved)
			break;
	}
	dns_answer_init(out, qtype, DNS_ANS_NODATA, 0);
	out->ad = (msg[3] & 0x20) != 0;
	dns_name_canon(qname, orig, sizeof orig);
	if (strcmp(orig, want) != 0 && strlen(want) < sizeof out->cname)
		memcpy(out->cname, want, strlen(want) + 1);
	off = ans_off;
	for (unsigned i = 0; i < an; i++) {
		if (read_rr(msg, len, &off, &v) < 0)
			return -1;
		if (v.type != qtype || v.cls != 1 || strcmp(v.owner, want) != 0)
			continue;
		if (take_rr(msg, len, &v, out) < 0)
			return -1;
		ttl = min32(ttl, v.ttl);
	}
	if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN) {
		dns_answer_init(out, qtype, DNS_ANS_TEMP, 0);
		return (int)off;
	}
	if (out->nrr) {
		out->status = DNS_ANS_OK;
		out->ttl = ttl;
		/* The rest (authority, additional) is not needed. */
		return (int)len;
	}
	/* Negative: cache for the SOA's min(TTL, MINIMUM) (RFC 2308 §5); without an SOA, not at all. */
	out->status = rcode == RCODE_NXDOMAIN ? DNS_ANS_NXDOMAIN : DNS_ANS_NODATA;
	uint32_t neg = 0;
	for (unsigned i = 0; i < ns; i++) {
		if (read_rr(msg, len, &off, &v) < 0)
			return -1;
		if (v.type != DNS_T_SOA)
			continue;
		size_t p;
		char skip[DNS_NAME_MAX];
		if (read_name(msg, v.rdoff + v.rdlen, v.rdoff, skip, sizeof skip, &p) < 0 ||
		    read_name(msg, v.rdoff + v.rdlen, p, skip, sizeof skip, &p) < 0 ||
		    p + 20 != v.rdoff + v.rdlen)
			return -1;
		neg = min32(v.ttl, get32(msg + p + 16));
	}
	out->ttl = ttl == UINT32_MAX ? neg : min32(ttl, neg);
	return (int)off;
}

int dns_msg_parse(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
		  struct dns_answer *out)
{
	int r = parse(msg, len, qname, qtype, out);
	if (r < 0)
		dns_answer_init(out, qtype, DNS_ANS_TEMP, 0);
	return r;
}

void dns_reverse_name(const uint8_t *ip, int ip6, char *out, size_t outsz)
{
	if (!ip6) {
		snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]);
		return;
	}
	char tmp[80];
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		tmp[o++] = hex_lower[ip[i] & 15];
		tmp[o++] = '.';
		tmp[o++] = hex_lower[ip[i] >> 4];
		tmp[o++] = '.';
	}
	snprintf(tmp + o, sizeof tmp - o, "ip6.arpa");
	snprintf(out, outsz, "%s", tmp);
}
