/*
 * forwarded.c — the client behind reverse proxies. See forwarded.h.
 */
#include "net/forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"

/*
 * One node: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:4711". 0 with the bare address in out, or -1.
 */
static int node_addr(const char *p, size_t n, char *out, size_t outsz)
{
	char t[64];
	unsigned char bin[16];

	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof t)
		return -1;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', n);
		if (!close)
			return -1;
		size_t rest = n - (size_t)(close - p) - 1;
		if (rest && close[1] != ':')
			return -1;
		n = (size_t)(close - p) - 1;
		p++;
	} else {
		const char *colon = memchr(p, ':', n);
		/* One colon: IPv4 with a port; more: a bare IPv6 address. */
		if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - p) - 1))
			n = (size_t)(colon - p);
	}
	if (n == 0 || n >= sizeof t || n >= outsz)
		return -1;
	memcpy(t, p, n);
	t[n] = '\0';
	if (inet_pton(AF_INET, t, bin) != 1 && inet_pton(AF_INET6, t, bin) != 1)
		return -1;
	memcpy(out, t, n + 1);
	return 0;
}

/* The for= node of one Forwarded element ("for=...;proto=https"), or -1. */
static int element_for(const char *p, size_t n, char *out, size_t outsz)
{
	while (n) {
		size_t k = 0;
		/* A quoted value may hold ';' or ','; pairs end at a ';' outside quotes. */
		int q = 0;
		while (k < n && (q || p[k] != ';')) {
			if (p[k] == '"')
				q = !q;
			k++;
		}
		const char *pair = p;
		size_t pl = k;
		while (pl && (*pair == ' ' || *pair == '\t'))
			pair++, pl--;
		if (pl > 4 && strncasecmp(pair, "for=", 4) == 0) {
			const char *v = pair + 4;
			size_t vl = pl - 4;
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
				v++, vl -= 2;
			return node_addr(v, vl, out, outsz);
		}
		p += k < n ? k + 1 : k;
		n -= k < n ? k + 1 : k;
	}
	return -1;
}

int forwarded_client(const char *fwd, const char *xff, const char *trusted, char *out,
		     size_t outsz)
{
	const char *v = fwd ? fwd : xff;
	char addr[64], last[64] = "";
	if (!v)
		return 0;
	size_t n = strnlen(v, FORWARDED_MAX + 1);
	if (n == 0 || n > FORWARDED_MAX)
		return 0;
	/* Elements from the right; commas inside quotes (Forwarded) do not split. */
	size_t end = n;
	while (end > 0) {
		size_t start = end;
		int q = 0;
		while (start > 0 && (q || v[start - 1] != ',')) {
			if (v[start - 1] == '"')
				q = !q;
			start--;
		}
		int r = fwd ? element_for(v + start, end - start, addr, sizeof addr)
			    : node_addr(v + start, end - start, addr, sizeof addr);
		if (r < 0)
			return 0;
		if (!cidr_list_match(trusted, addr)) {
			snprintf(out, outsz, "%s", addr);
			return 1;
		}
		memcpy(last, addr, sizeof last);
		end = start ? start - 1 : 0;
	}
	/* Every hop is a trusted proxy: the first of them is the client. */
	if (!last[0])
		return 0;
	snprintf(out, outsz, "%s", last);
	return 1;
}
