/*
 * proxy_proto.c — PROXY protocol v1/v2 headers. See proxy_proto.h.
 */
#include "net/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A port in v1: 1 to 5 digits, no leading zero, at most 65535. */
static int v1_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int v1_addr(int family, const char *s, size_t n, const char *port, size_t pn,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	char text[48];
	uint16_t pv;
	if (n == 0 || n >= sizeof text || v1_port(port, pn, &pv) < 0)
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(pv);
		*len = sizeof *s4;
		return inet_pton(AF_INET, text, &s4->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(pv);
	*len = sizeof *s6;
	return inet_pton(AF_INET6, text, &s6->sin6_addr) == 1 ? 0 : -1;
}

/* "PROXY TCP4 src dst sport dport\r\n", "PROXY UNKNOWN ...\r\n". */
static int parse_v1(const uint8_t *p, size_t n, struct proxy_hdr *h)
{
	size_t end = 0;
	while (end + 1 < n && end + 2 <= PROXY_V1_MAX && !(p[end] == '\r' && p[end + 1] == '\n'))
		end++;
	if (end + 1 >= n || !(p[end] == '\r' && p[end + 1] == '\n'))
		return n < PROXY_V1_MAX ? -2 : -1;
	const char *s = (const char *)p;
	/* Split on single spaces into at most 6 words. */
	const char *w[6];
	size_t wl[6], nw = 0, i = 0;
	while (i < end) {
		if (nw == 6)
			return -1;
		w[nw] = s + i;
		size_t j = i;
		while (j < end && s[j] != ' ')
			j++;
		wl[nw++] = j - i;
		if (j < end && j + 1 == end)
			return -1; /* a trailing space */
		i = j + 1;
	}
	if (nw < 2 || wl[0] != 5 || memcmp(w[0], "PROXY", 5) != 0)
		return -1;
	memset(h, 0, sizeof *h);
	h->version = 1;
	if (wl[1] == 7 && memcmp(w[1], "UNKNOWN", 7) == 0)
		return (int)end + 2; /* the rest of the line is ignored */
	int family;
	if (wl[1] == 4 && memcmp(w[1], "TCP4", 4) == 0)
		family = AF_INET;
	else if (wl[1] == 4 && memcmp(w[1], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return -1;
	for (size_t k = 0; k < nw; k++)
		if (wl[k] == 0)
			return -1;
	if (nw != 6 || v1_addr(family, w[2], wl[2], w[4], wl[4], &h->src, &h->src_len) < 0 ||
	    v1_addr(family, w[3], wl[3], w[5], wl[5], &h->dst, &h->dst_len) < 0)
		return -1;
	h->has_addr = 1;
	return (int)end + 2;
}

static int parse_v2(const uint8_t *p, size_t n, struct proxy_hdr *h)
{
	if (n < 16)
		return -2;
	if ((p[12] >> 4) != 2)
		return -1;
	size_t len = ((size_t)p[14] << 8) | p[15];
	if (16 + len > PROXY_V2_MAX)
		return -1;
	unsigned cmd = p[12] & 0x0f, fam = p[13] >> 4, proto = p[13] & 0x0f;
	if (cmd > 1)
		return -1;
	if (n < 16 + len)
		return -2;
	memset(h, 0, sizeof *h);
	h->version = 2;
	const uint8_t *a = p + 16;
	/* LOCAL (a health check from the proxy itself), UNSPEC, UDP and
	 * UNIX addresses: no client address, the proxy's stays. */
	if (cmd == 0 || proto != 1)
		return (int)(16 + len);
	if (fam == 1) {
		if (len < 12)
			return -1;
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src, *d = (struct sockaddr_in *)&h->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		h->src_len = h->dst_len = sizeof *s;
		h->has_addr = 1;
	} else if (fam == 2) {
		if (len < 36)
			return -1;
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src,
				    *d = (struct sockaddr_in6 *)&h->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		h->src_len = h->dst_len = sizeof *s;
		h->has_addr = 1;
	}
	return (int)(16 + len);
}

int proxy_parse(const uint8_t *p, size_t n, struct proxy_hdr *h)
{
	/* Which version: decided by the prefix, as far as it has arrived. */
	size_t k = n < 12 ? n : 12;
	if (memcmp(p, v2_sig, k) == 0)
		return n < 12 ? -2 : parse_v2(p, n, h);
	k = n < 6 ? n : 6;
	if (memcmp(p, "PROXY ", k) == 0)
		return n < 6 ? -2 : parse_v1(p, n, h);
	return -1;
}
