/*
 * psl.c — registrable domains from the compiled Public Suffix List
 * (psl.h, psl_table.h).
 *
 * One walk of the trie from the host's last label towards its first
 * finds every rule that matches: a node's rule covers the labels walked
 * so far, its wildcard one label more, and an exception on the next
 * node ends the walk with that node's parent as the suffix. The longest
 * rule seen is the public suffix, "*" (one label) when none matched.
 */
#include <string.h>

#include "core/punycode.h"
#include "dns/psl.h"
#include "dns/psl_table.h"

#define HOST_MAX 253
#define LABEL_MAX 63
#define LABELS_MAX 128 /* 253 octets hold at most 127 labels */

/* The child of node labelled key[0..n), or -1. */
static long find_child(uint32_t node, const char *key, size_t n)
{
	uint32_t w1 = psl_nodes[node][1];
	size_t lo = PSL_NODE_FIRST(w1), hi = lo + PSL_NODE_NKIDS(w1);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t w0 = psl_nodes[mid][0];
		size_t ln = PSL_NODE_LEN(w0);
		int c = memcmp(psl_labels + PSL_NODE_OFF(w0), key, ln < n ? ln : n);
		if (c == 0)
			c = ln < n ? -1 : ln > n;
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static unsigned node_flags(uint32_t node, unsigned flags)
{
	unsigned f = PSL_NODE_FLAGS(psl_nodes[node][0]);
	unsigned icann = f & 7u;
	return (flags & PSL_PRIVATE) ? icann | (f >> PSL_F_PRIVATE_SHIFT & 7u) : icann;
}

/* Splits host into labels (start offsets, right to left in *start) after
 * dropping one trailing dot. Returns the count, 0 when host is not a
 * name. */
static size_t split(struct str *host, size_t start[LABELS_MAX], size_t len[LABELS_MAX])
{
	if (host->len && host->p[host->len - 1] == '.')
		host->len--;
	if (host->len == 0 || host->len > HOST_MAX)
		return 0;
	for (size_t i = 0; i < host->len; i++)
		if ((unsigned char)host->p[i] <= ' ' || host->p[i] == 0x7f)
			return 0; /* controls and spaces are in no name */
	size_t n = 0, end = host->len;
	for (;;) {
		size_t s = end;
		while (s > 0 && host->p[s - 1] != '.')
			s--;
		if (s == end || end - s > LABEL_MAX || n == LABELS_MAX)
			return 0;
		start[n] = s;
		len[n++] = end - s;
		if (s == 0)
			return n;
		end = s - 1;
	}
}

/* Labels in the public suffix of host (split into n labels). */
static size_t suffix_labels(struct str host, const size_t *start, const size_t *len, size_t n,
                            unsigned flags)
{
	size_t best = 1; /* the rule "*" */
	uint32_t node = 0;
	for (size_t k = 0; k < n; k++) {
		if ((node_flags(node, flags) & PSL_F_WILD) && k + 1 > best)
			best = k + 1;
		char key[LABEL_MAX + 1];
		size_t kn = punycode_label_ascii(host.p + start[k], len[k], key);
		long c = kn ? find_child(node, key, kn) : -1;
		if (c < 0)
			break;
		node = (uint32_t)c;
		unsigned f = node_flags(node, flags);
		if (f & PSL_F_EXCEPT) /* the exception rule minus its leftmost label */
			return k ? k : 1;
		if ((f & PSL_F_RULE) && k + 1 > best)
			best = k + 1;
	}
	return best;
}

int psl_public_suffix(struct str host, unsigned flags, struct str *out_r)
{
	size_t start[LABELS_MAX], len[LABELS_MAX];
	size_t n = split(&host, start, len);
	if (n == 0)
		return -1;
	size_t s = suffix_labels(host, start, len, n, flags); /* 1..n */
	*out_r = str_make(host.p + start[s - 1], host.len - start[s - 1]);
	return 0;
}

int psl_registrable(struct str host, unsigned flags, struct str *out_r)
{
	size_t start[LABELS_MAX], len[LABELS_MAX];
	size_t n = split(&host, start, len);
	if (n == 0)
		return -1;
	size_t s = suffix_labels(host, start, len, n, flags);
	if (s >= n)
		return -1;
	*out_r = str_make(host.p + start[s], host.len - start[s]);
	return 0;
}

int psl_registrable_lower(struct str host, unsigned flags, char *dst, size_t dstsz)
{
	struct str r;
	if (psl_registrable(host, flags, &r) < 0 || str_lower_into(r, dst, dstsz) < 0)
		return -1;
	return (int)r.len;
}
