/*
 * gen-confusables.c — host tool: turns Unicode's confusables.txt (UTS
 * #39) and UnicodeData.txt's canonical decompositions, as Debian's icu
 * source package ships them (vendor/build.sh's recipe_icu), into
 * build/gen/confusable_table.c for spam/spam_confusable.c: each code
 * point's skeleton, precomputed, so folding a name is one table lookup
 * per code point. spam/confusable_table.h says what a skeleton is here.
 *
 * The generator checks that every skeleton is a fixed point (folding it
 * again changes nothing) and stops the build if not.
 *
 * Usage: gen-confusables confusables.txt UnicodeData.txt out.c
 *
 * With --lower it writes instead build/gen/ucase_table.c for
 * core/ucase.c: UnicodeData.txt's simple lowercase mappings.
 *
 * Usage: gen-confusables --lower UnicodeData.txt out.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ucase.h"
#include "core/utf8.h"
#include "spam/confusable_table.h"

#define CP_MAX 0x110000
#define SEQ_MAX 64

struct seq {
	uint8_t n;
	uint32_t c[];
};

static struct seq **decomp, **proto;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "gen-confusables: %s: %s\n", what, detail);
	exit(1);
}

/* Hex code points separated by spaces from s up to a ';' or the end. */
static struct seq *parse_seq(const char *s, const char *line)
{
	uint32_t c[SEQ_MAX];
	size_t n = 0;
	char *end;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == ';' || *s == '#' || *s == '\n')
			break;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s || v >= CP_MAX || n == SEQ_MAX)
			die("bad code point sequence", line);
		c[n++] = (uint32_t)v;
		s = end;
	}
	struct seq *q = malloc(sizeof *q + n * sizeof c[0]);
	if (!q)
		die("out of memory", "");
	q->n = (uint8_t)n;
	memcpy(q->c, c, n * sizeof c[0]);
	return q;
}

static void read_decomp(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (!f)
		die("cannot open", path);
	while (fgets(line, sizeof line, f)) {
		/* code;name;gc;ccc;bidi;decomposition;... */
		char *fld[6], *p = line;
		int k = 0;
		for (; k < 6 && p; k++) {
			fld[k] = p;
			p = strchr(p, ';');
			if (p)
				*p++ = '\0';
		}
		if (k < 6 || !fld[5][0] || fld[5][0] == '<')
			continue; /* none, or a compatibility one: not NFD */
		unsigned long cp = strtoul(fld[0], NULL, 16);
		if (cp < CP_MAX)
			decomp[cp] = parse_seq(fld[5], fld[0]);
	}
	fclose(f);
}

static size_t read_proto(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t n = 0;
	if (!f)
		die("cannot open", path);
	while (fgets(line, sizeof line, f)) {
		/* SOURCE ; TARGET... ; MA # comment */
		char *s = line;
		if ((unsigned char)s[0] == 0xef) /* a byte order mark */
			s += 3;
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F')))
			continue;
		char *end;
		unsigned long cp = strtoul(s, &end, 16);
		char *semi = strchr(end, ';');
		if (cp >= CP_MAX || !semi)
			die("bad line", line);
		proto[cp] = parse_seq(semi + 1, line);
		n++;
	}
	fclose(f);
	return n;
}

static void push(uint32_t *out, size_t *n, uint32_t c)
{
	if (*n == SEQ_MAX)
		die("skeleton too long", "");
	out[(*n)++] = c;
}

static void nfd(uint32_t c, uint32_t *out, size_t *n)
{
	if (decomp[c]) {
		for (size_t i = 0; i < decomp[c]->n; i++)
			nfd(decomp[c]->c[i], out, n);
	} else {
		push(out, n, c);
	}
}

/* The prototype of one (decomposed) code point, for names without case. */
static const struct seq *prototype(uint32_t c)
{
	if (c >= 'a' && c <= 'z' && !proto[c] && proto[c - 32])
		return proto[c - 32];
	return proto[c];
}

/* One round: NFD, prototypes, NFD, ASCII lowercased. */
static size_t fold_once(const uint32_t *in, size_t n, uint32_t *out)
{
	uint32_t a[SEQ_MAX], b[SEQ_MAX];
	size_t na = 0, nb = 0, no = 0;
	for (size_t i = 0; i < n; i++)
		nfd(in[i], a, &na);
	for (size_t i = 0; i < na; i++) {
		uint32_t c = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		const struct seq *p = prototype(c);
		if (!p) {
			push(b, &nb, c);
			continue;
		}
		for (size_t k = 0; k < p->n; k++)
			push(b, &nb, p->c[k]);
	}
	for (size_t i = 0; i < nb; i++) /* a[] is free again: NFD of b[] into it */
		nfd(b[i], a, &no);
	for (size_t i = 0; i < no; i++)
		out[i] = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
	return no;
}

/* skeleton(in[0..n)) into out; returns its length. Rounds until nothing
 * changes: a prototype may itself be folded by the case rule ("ı" has
 * the prototype "i", which reads as "l"). */
static size_t skeleton(const uint32_t *in, size_t n, uint32_t *out)
{
	uint32_t t[SEQ_MAX];
	size_t m = fold_once(in, n, out);
	for (int round = 0; round < 8; round++) {
		size_t k = fold_once(out, m, t);
		if (k == m && memcmp(t, out, m * sizeof *t) == 0)
			return m;
		memcpy(out, t, k * sizeof *t);
		m = k;
	}
	die("skeleton does not settle", "");
	return 0;
}

/* core/ucase.h's table: field 13 (simple lowercase) of every line. */
static int write_lower(const char *in, const char *path)
{
	FILE *f = fopen(in, "r");
	char line[1024];
	size_t n = 0;
	if (!f)
		die("cannot open", in);
	FILE *out = fopen(path, "w");
	if (!out) {
		perror(path);
		return 1;
	}
	fprintf(out, "/* GENERATED by scripts/gen-confusables.c --lower from Debian's icu\n"
		     " * source (UnicodeData.txt; vendor/manifest). */\n"
		     "#include \"core/ucase.h\"\n\n"
		     "const uint32_t ucase_from[] = {");
	uint32_t to[4096];
	while (fgets(line, sizeof line, f)) {
		/* code;name;gc;ccc;bidi;decomp;dec;dig;num;mirror;old;comment;upper;lower;title */
		char *fld[14], *p = line;
		int k = 0;
		for (; k < 14 && p; k++) {
			fld[k] = p;
			p = strchr(p, ';');
			if (p)
				*p++ = '\0';
		}
		if (k < 14 || !fld[13][0])
			continue;
		unsigned long cp = strtoul(fld[0], NULL, 16), lc = strtoul(fld[13], NULL, 16);
		if (cp >= CP_MAX || lc >= CP_MAX || lc == 0 || n == sizeof to / sizeof to[0])
			die("bad lowercase mapping", fld[0]);
		fprintf(out, "%s0x%lx,", n % 10 ? " " : "\n\t", cp);
		to[n++] = (uint32_t)lc;
	}
	fclose(f);
	if (n < 1000)
		die("too few lowercase mappings", in);
	fprintf(out, "\n};\nconst uint32_t ucase_to[] = {");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s0x%x,", i % 10 ? " " : "\n\t", to[i]);
	fprintf(out, "\n};\nconst size_t ucase_count = %zu;\n", n);
	return fclose(out) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--lower"))
		return write_lower(argv[2], argv[3]);
	if (argc != 4) {
		fprintf(stderr, "usage: gen-confusables confusables.txt UnicodeData.txt out.c\n");
		return 2;
	}
	decomp = calloc(CP_MAX, sizeof *decomp);
	proto = calloc(CP_MAX, sizeof *proto);
	if (!decomp || !proto)
		die("out of memory", "");
	size_t nproto = read_proto(argv[1]);
	read_decomp(argv[2]);
	if (nproto < 1000)
		die("too few confusables", argv[1]);

	size_t cap = 16384, count = 0, pool_cap = 1 << 16, pool_len = 0;
	uint32_t *cps = malloc(cap * sizeof *cps), *to = malloc(cap * sizeof *to);
	char *pool = malloc(pool_cap);
	if (!cps || !to || !pool)
		die("out of memory", "");
	for (uint32_t c = 0; c < CP_MAX; c++) {
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		uint32_t s[SEQ_MAX], s2[SEQ_MAX];
		size_t n = skeleton(&c, 1, s);
		if (n == 1 && s[0] == c)
			continue;
		if (skeleton(s, n, s2) != n || memcmp(s, s2, n * sizeof *s) != 0) {
			char hex[16];
			snprintf(hex, sizeof hex, "U+%04X", c);
			die("skeleton is not a fixed point", hex);
		}
		char u8[SEQ_MAX * 4];
		size_t len = 0;
		for (size_t i = 0; i < n; i++)
			len += utf8_encode(s[i], u8 + len);
		if (len >= (1u << CONF_LEN_BITS))
			die("skeleton too long in UTF-8", "");
		/* the same skeleton already in the pool: share it */
		char *hit = NULL;
		for (char *p = pool; p + len <= pool + pool_len && !hit; p++)
			if (memcmp(p, u8, len) == 0)
				hit = p;
		if (!hit) {
			if (pool_len + len > pool_cap && !(pool = realloc(pool, pool_cap *= 2)))
				die("out of memory", "");
			hit = pool + pool_len;
			memcpy(hit, u8, len);
			pool_len += len;
		}
		if (count == cap) {
			cap *= 2;
			if (!(cps = realloc(cps, cap * sizeof *cps)) || !(to = realloc(to, cap * sizeof *to)))
				die("out of memory", "");
		}
		cps[count] = c;
		to[count++] = (uint32_t)(hit - pool) << CONF_LEN_BITS | (uint32_t)len;
	}
	if (pool_len >= (1u << (32 - CONF_LEN_BITS)))
		die("pool too large", "");

	FILE *out = fopen(argv[3], "w");
	if (!out) {
		perror(argv[3]);
		return 1;
	}
	fprintf(out, "/* GENERATED by scripts/gen-confusables.c from Debian's icu source\n"
		     " * (confusables.txt, UnicodeData.txt; vendor/manifest): %zu prototypes,\n"
		     " * %zu code points with a skeleton, %zu octets of skeletons. */\n"
		     "#include \"spam/confusable_table.h\"\n\n"
		     "const size_t conf_count = %zu;\n"
		     "const uint32_t conf_cp[] = {",
		nproto, count, pool_len, count);
	for (size_t i = 0; i < count; i++)
		fprintf(out, "%s0x%x,", i % 10 ? " " : "\n\t", cps[i]);
	fprintf(out, "\n};\nconst uint32_t conf_to[] = {");
	for (size_t i = 0; i < count; i++)
		fprintf(out, "%s0x%x,", i % 10 ? " " : "\n\t", to[i]);
	fprintf(out, "\n};\nconst char conf_pool[] =");
	for (size_t i = 0; i < pool_len; i++) {
		if (i % 32 == 0)
			fprintf(out, "%s\n\t\"", i ? "\"" : "");
		fprintf(out, "\\x%02x", (unsigned char)pool[i]);
	}
	fprintf(out, "\";\n");
	return fclose(out) == 0 ? 0 : 1;
}
