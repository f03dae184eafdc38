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
 * "[2001:db8::1]:4711". 0 with the bare address in out (IPv6 canonical,
 * IPv4-mapped as IPv4), or -1.
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
	if (inet_pton(AF_INET, t, bin) == 1) {
		memcpy(out, t, n + 1);
		return 0;
	}
	if (inet_pton(AF_INET6, t, bin) != 1)
		return -1;
	/* The address as a socket's peer would read (conn.c): an IPv4-mapped
	 * one, which a proxy on a dual-stack socket writes, as the IPv4
	 * address it is, and IPv6 in its one canonical spelling, so the logs
	 * (fail2ban bans what they say) and the limits see one client as one. */
	return cidr_in6_text(bin, out, outsz);
}

/* [p, p+n) without blanks at either end. */
static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t'))
		(*p)++, (*n)--;
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* The next name=value pair of one Forwarded element, its blanks cut: ';'
 * outside quotes ends each (a quoted value may hold ';' or ','). 1 with
 * it in *pair and *pl, 0 at the element's end. */
static int next_pair(const char **p, size_t *n, const char **pair, size_t *pl)
{
	if (*n == 0)
		return 0;
	size_t k = 0;
	int q = 0;
	while (k < *n && (q || (*p)[k] != ';')) {
		if ((*p)[k] == '"')
			q = !q;
		k++;
	}
	*pair = *p;
	*pl = k;
	trim(pair, pl);
	*p += k < *n ? k + 1 : k;
	*n -= k < *n ? k + 1 : k;
	return 1;
}

/* The for= node of one Forwarded element ("for=...;proto=https"), or -1. */
static int element_for(const char *p, size_t n, char *out, size_t outsz)
{
	const char *pair;
	size_t pl;
	while (next_pair(&p, &n, &pair, &pl))
		if (pl > 4 && strncasecmp(pair, "for=", 4) == 0) {
			const char *v = pair + 4;
			size_t vl = pl - 4;
			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
				v++, vl -= 2;
			return node_addr(v, vl, out, outsz);
		}
	return -1;
}

/* The last FORWARDED_MAX bytes of v at most, from an element's start:
 * the elements the nearest proxies added, all that is read. */
static const char *tail(const char *v, size_t *n)
{
	*n = strlen(v);
	if (*n <= FORWARDED_MAX)
		return v;
	const char *p = v + *n - FORWARDED_MAX, *c = memchr(p, ',', FORWARDED_MAX);
	p = c ? c + 1 : v + *n;
	*n = (size_t)(v + *n - p);
	return p;
}

int forwarded_client(const char *fwd, const char *xff, const char *trusted, char *out,
		     size_t outsz)
{
	/* The proxies people run (nginx, Traefik, Caddy, Apache) write
	 * X-Forwarded-For and pass a client's own Forwarded on untouched:
	 * with both, only X-Forwarded-For can be the proxy's. */
	const char *v = xff ? xff : fwd;
	char addr[64], last[64] = "";
	if (!v)
		return 0;
	int is_fwd = !xff;
	size_t n;
	v = tail(v, &n);
	if (n == 0)
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
		int r = is_fwd ? element_for(v + start, end - start, addr, sizeof addr)
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

/* Where the last element of a comma-separated list starts (commas
 * inside quotes do not split). */
static const char *last_element(const char *v, size_t n)
{
	int q = 0;
	while (n > 0 && (q || v[n - 1] != ',')) {
		if (v[n - 1] == '"')
			q = !q;
		n--;
	}
	return v + n;
}

int forwarded_host_valid(const char *p, size_t n)
{
	size_t h;
	if (n == 0 || n >= sizeof ((struct forwarded_origin *)0)->host)
		return 0;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', n);
		char t[64];
		unsigned char bin[16];
		if (!close || (size_t)(close - p) - 1 >= sizeof t)
			return 0;
		memcpy(t, p + 1, (size_t)(close - p) - 1);
		t[close - p - 1] = '\0';
		if (inet_pton(AF_INET6, t, bin) != 1)
			return 0;
		h = (size_t)(close - p) + 1;
	} else {
		for (h = 0; h < n && p[h] != ':'; h++) {
			char c = p[h];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '.'))
				return 0;
		}
		if (h == 0 || p[0] == '.' || p[0] == '-')
			return 0;
	}
	if (h == n)
		return 1;
	if (p[h] != ':' || n - h - 1 == 0 || n - h - 1 > 5)
		return 0;
	unsigned port = 0;
	for (size_t i = h + 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		port = port * 10 + (unsigned)(p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

static void set_proto(const char *p, size_t n, struct forwarded_origin *o)
{
	trim(&p, &n);
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		p++, n -= 2;
	if (n == 5 && strncasecmp(p, "https", 5) == 0)
		o->https = 1;
	else if (n == 4 && strncasecmp(p, "http", 4) == 0)
		o->https = 0;
}

static void set_host(const char *p, size_t n, struct forwarded_origin *o)
{
	trim(&p, &n);
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		p++, n -= 2;
	if (!forwarded_host_valid(p, n))
		return;
	for (size_t i = 0; i < n; i++)
		o->host[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
	o->host[n] = '\0';
}

void forwarded_origin(const char *fwd, const char *xff, const char *xfproto, const char *xfhost,
		      struct forwarded_origin *o)
{
	size_t n;
	o->https = -1;
	o->host[0] = '\0';
	if (fwd && !xff && !xfproto && !xfhost) {
		const char *p = tail(fwd, &n);
		const char *e = p + n;
		p = last_element(p, n);
		n = (size_t)(e - p);
		const char *pair;
		size_t pl;
		while (next_pair(&p, &n, &pair, &pl))
			if (pl > 6 && strncasecmp(pair, "proto=", 6) == 0)
				set_proto(pair + 6, pl - 6, o);
			else if (pl > 5 && strncasecmp(pair, "host=", 5) == 0)
				set_host(pair + 5, pl - 5, o);
		return;
	}
	if (xfproto) {
		const char *p = tail(xfproto, &n), *e = p + n;
		p = last_element(p, n);
		set_proto(p, (size_t)(e - p), o);
	}
	if (xfhost) {
		const char *p = tail(xfhost, &n), *e = p + n;
		p = last_element(p, n);
		set_host(p, (size_t)(e - p), o);
	}
}
