/*
 * gen-psl.c — host tool: turns the Public Suffix List (Debian's
 * publicsuffix package, public_suffix_list.dat; vendor/build.sh's
 * recipe_publicsuffix) into build/gen/psl_table.c for dns/psl.c: a trie
 * of labels read from the right, laid out breadth first so each node's
 * children are consecutive and sorted, each distinct label stored once.
 * dns/psl_table.h describes the packing.
 *
 * Rules are the first word of each line that is not a comment; the
 * "===BEGIN PRIVATE DOMAINS===" marker starts the private section.
 * Unicode labels are stored in their ASCII form ("xn--" + Punycode,
 * core/punycode.c, linked in). A wildcard anywhere but the leftmost
 * label, an empty or over-long label, or a table past the packing's
 * limits stops the build.
 *
 * Usage: gen-psl public_suffix_list.dat out.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/punycode.h"
#include "core/utf8.h"
#include "dns/psl_table.h"

struct node {
	char label[64];
	unsigned flags;
	struct node **kid;
	size_t nkid, cap;
	uint32_t index, first; /* in the output */
	uint32_t off;          /* label offset in the pool */
};

static void die(const char *what, const char *rule)
{
	fprintf(stderr, "gen-psl: %s: %s\n", what, rule);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory", "");
	return p;
}

/* The same order dns/psl.c searches in: octets, then length. */
static int label_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int c = memcmp(a, b, la < lb ? la : lb);
	return c ? c : la < lb ? -1 : la > lb;
}

static int kid_cmp(const void *a, const void *b)
{
	return label_cmp((*(struct node *const *)a)->label, (*(struct node *const *)b)->label);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct node *child(struct node *n, const char *label)
{
	for (size_t i = 0; i < n->nkid; i++)
		if (strcmp(n->kid[i]->label, label) == 0)
			return n->kid[i];
	if (n->nkid == n->cap)
		n->kid = xrealloc(n->kid, (n->cap = n->cap ? n->cap * 2 : 4) * sizeof *n->kid);
	struct node *c = xrealloc(NULL, sizeof *c);
	memset(c, 0, sizeof *c);
	snprintf(c->label, sizeof c->label, "%s", label);
	n->kid[n->nkid++] = c;
	return c;
}

/* One label of a rule in its ASCII form into out[64]. */
static void ascii_label(const char *p, size_t n, char out[64], const char *rule)
{
	int ascii = 1;
	for (size_t i = 0; i < n; i++)
		ascii &= (unsigned char)p[i] < 0x80;
	if (n == 0 || n > 63)
		die("empty or over-long label", rule);
	if (ascii) {
		for (size_t i = 0; i < n; i++)
			out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
		out[n] = '\0';
		return;
	}
	uint32_t cps[64];
	size_t ncp = 0;
	for (size_t i = 0; i < n;) {
		size_t k;
		if (!utf8_seq((const unsigned char *)p + i, n - i) || ncp == 64)
			die("bad UTF-8 label", rule);
		uint32_t cp = utf8_decode((const unsigned char *)p + i, n - i, &k);
		cps[ncp++] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
		i += k;
	}
	memcpy(out, "xn--", 4);
	size_t len = punycode_encode(cps, ncp, out + 4, 59);
	if (len == 0)
		die("label too long in ASCII form", rule);
	out[4 + len] = '\0';
}

static void add_rule(struct node *root, const char *rule, int private_)
{
	unsigned f = PSL_F_RULE;
	const char *r = rule;
	if (*r == '!') {
		f = PSL_F_EXCEPT;
		r++;
	} else if (r[0] == '*' && r[1] == '.') {
		f = PSL_F_WILD;
		r += 2;
	}
	if (strchr(r, '*') || strchr(r, '!'))
		die("wildcard or exception not leftmost", rule);
	struct node *n = root;
	size_t end = strlen(r);
	while (end > 0) {
		size_t s = end;
		while (s > 0 && r[s - 1] != '.')
			s--;
		char label[64];
		ascii_label(r + s, end - s, label, rule);
		n = child(n, label);
		end = s ? s - 1 : 0;
		if (s == 1)
			die("empty label", rule);
	}
	n->flags |= private_ ? f << PSL_F_PRIVATE_SHIFT : f;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen-psl public_suffix_list.dat out.c\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	struct node root = {.label = ""};
	char line[1024];
	int private_ = 0;
	size_t nrules = 0, npriv = 0;
	while (fgets(line, sizeof line, in)) {
		if (strstr(line, "===BEGIN PRIVATE DOMAINS==="))
			private_ = 1;
		if (line[0] == '/' && line[1] == '/')
			continue;
		char *w = strtok(line, " \t\r\n");
		if (!w)
			continue;
		add_rule(&root, w, private_);
		nrules++;
		npriv += private_;
	}
	fclose(in);
	if (nrules < 1000 || npriv == 0)
		die("too few rules, or no private section", argv[1]);

	/* Breadth first: the queue is the output order. */
	size_t cap = 1024, count = 1;
	struct node **q = xrealloc(NULL, cap * sizeof *q);
	q[0] = &root;
	for (size_t i = 0; i < count; i++) {
		struct node *n = q[i];
		n->index = (uint32_t)i;
		qsort(n->kid, n->nkid, sizeof *n->kid, kid_cmp);
		n->first = (uint32_t)count;
		if (n->nkid >= (1u << PSL_KIDS_BITS))
			die("too many children", n->label);
		for (size_t k = 0; k < n->nkid; k++) {
			if (count == cap)
				q = xrealloc(q, (cap *= 2) * sizeof *q);
			q[count++] = n->kid[k];
		}
	}
	if (count >= (1u << PSL_OFF_BITS))
		die("too many nodes", argv[1]);

	/* The label pool: each distinct label once (sorted copy, then a binary
	 * search per node). */
	char **labels = xrealloc(NULL, count * sizeof *labels);
	for (size_t i = 0; i < count; i++)
		labels[i] = q[i]->label;
	qsort(labels, count, sizeof *labels, str_ptr_cmp);
	size_t nl = 0;
	for (size_t i = 0; i < count; i++)
		if (nl == 0 || strcmp(labels[nl - 1], labels[i]) != 0)
			labels[nl++] = labels[i];
	uint32_t *offs = xrealloc(NULL, nl * sizeof *offs);
	uint32_t pool = 0;
	for (size_t i = 0; i < nl; i++) {
		offs[i] = pool;
		pool += (uint32_t)strlen(labels[i]);
	}
	if (pool >= (1u << PSL_OFF_BITS))
		die("label pool too large", argv[1]);
	for (size_t i = 0; i < count; i++) {
		size_t lo = 0, hi = nl;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = strcmp(labels[mid], q[i]->label);
			if (c == 0) {
				lo = mid;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		q[i]->off = offs[lo];
	}

	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	fprintf(out, "/* GENERATED by scripts/gen-psl.c from Debian's publicsuffix (vendor/manifest):\n"
		     " * %zu rules (%zu private), %zu nodes, %u octets of labels. */\n"
		     "#include \"dns/psl_table.h\"\n\n"
		     "const size_t psl_node_count = %zu;\n"
		     "const uint32_t psl_nodes[][2] = {\n",
		nrules, npriv, count, pool, count);
	for (size_t i = 0; i < count; i++) {
		struct node *n = q[i];
		uint32_t w0 = n->off << 14 | (uint32_t)strlen(n->label) << 8 | n->flags;
		uint32_t w1 = (n->nkid ? n->first : 0) << 14 | (uint32_t)n->nkid;
		fprintf(out, "\t{0x%x, 0x%x},\n", w0, w1);
	}
	fprintf(out, "};\nconst char psl_labels[] =");
	for (size_t i = 0; i < nl; i++)
		fprintf(out, "%s\"%s\"", i % 8 ? " " : "\n\t", labels[i]);
	fprintf(out, ";\n");
	return fclose(out) == 0 ? 0 : 1;
}
