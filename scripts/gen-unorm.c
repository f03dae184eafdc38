/*
 * gen-unorm.c — host tool: turns Unicode's UnicodeData.txt and
 * DerivedNormalizationProps.txt, as Debian's icu source package ships
 * them (vendor/build.sh's recipe_icu), into build/gen/unorm_table.c for
 * core/unorm.c (NFC, UAX #15):
 *
 *   - each code point's canonical combining class (UnicodeData field 3),
 *   - its full canonical decomposition (field 5 without a <tag>, applied
 *     again to its own result until nothing decomposes; Hangul syllables
 *     are left to the algorithm in unorm.c),
 *   - its NFC_Quick_Check value (DerivedNormalizationProps, N or M),
 *   - the primary composites: every two-code-point canonical
 *     decomposition whose code point is not Full_Composition_Exclusion,
 *     as sorted (first, second, composite) triples,
 *   - the assigned code points and their bidirectional category (field
 *     4: R or AL, L, or another), as sorted ranges, for SASLprep
 *     (core/saslprep.h: RFC 3454 §6's bidi rule and §7's unassigned
 *     code points); the <..., First> and <..., Last> lines are ranges.
 *
 * The generator checks that no full decomposition passes UNORM_DECOMP_MAX
 * code points nor UNORM_GROWTH times its source's UTF-8 length, that a
 * code point with NFC_QC Yes and class 0 decomposes (if at all) to a
 * starter that is not the second of any pair (the segment boundary
 * unorm.c relies on), and that the files have about as many lines as
 * Unicode's; any failure stops the build.
 *
 * Usage: gen-unorm UnicodeData.txt DerivedNormalizationProps.txt out.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/unorm.h"

#define CP_MAX 0x110000
#define PAGES (CP_MAX >> 8)

static uint8_t *ccc, *qc, *excl, *dn, *second, *kn;
static uint32_t (*dm)[2]; /* one level of canonical decomposition */
static uint32_t *kpool, *kstart; /* one level of any decomposition: */
static size_t kpn;               /* kpool[kstart[cp] + 0..kn[cp]) */
static uint32_t *title; /* simple titlecase mapping (field 14), 0: none */
static uint8_t *bidi;   /* UNORM_BIDI_* + 1 of an assigned code point, 0: unassigned */

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "gen-unorm: %s: %s\n", what, detail);
	exit(1);
}

static size_t utf8_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Full canonical decomposition of cp into out (UNORM_DECOMP_MAX): length. */
static size_t full(uint32_t cp, uint32_t *out, size_t k, int depth)
{
	if (depth > 8)
		die("decomposition loops", "");
	if (!dn[cp]) {
		if (k >= UNORM_DECOMP_MAX)
			die("decomposition too long", "");
		out[k] = cp;
		return k + 1;
	}
	for (size_t i = 0; i < dn[cp]; i++)
		k = full(dm[cp][i], out, k, depth + 1);
	return k;
}

/* Full compatibility decomposition of cp (any <tag>, and canonical ones)
 * into out (UNORM_KD_MAX): length. Hangul syllables are left as they are
 * (unorm.c decomposes them); none appears inside another's. */
static size_t kfull(uint32_t cp, uint32_t *out, size_t k, int depth)
{
	if (depth > 8)
		die("compatibility decomposition loops", "");
	if (!kn[cp]) {
		if (k >= UNORM_KD_MAX)
			die("compatibility decomposition too long", "");
		if (depth > 0 && cp >= 0xac00 && cp < 0xac00 + 11172)
			die("Hangul syllable inside a decomposition", "");
		out[k] = cp;
		return k + 1;
	}
	for (size_t i = 0; i < kn[cp]; i++)
		k = kfull(kpool[kstart[cp] + i], out, k, depth + 1);
	return k;
}

/* Lines "XXXX[..YYYY] ; prop[; value]" of prop: sets v[cp] = val(value). */
static size_t read_props(const char *path, const char *prop, uint8_t *v, int quick)
{
	FILE *in = fopen(path, "r");
	char line[512];
	size_t n = 0, plen = strlen(prop);
	if (!in)
		die("cannot read", path);
	while (fgets(line, sizeof line, in)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *end, *s = line;
		unsigned long lo = strtoul(s, &end, 16), hi = lo;
		if (end == s || lo >= CP_MAX)
			die("bad line", line);
		if (end[0] == '.' && end[1] == '.') {
			s = end + 2;
			hi = strtoul(s, &end, 16);
			if (end == s || hi >= CP_MAX || hi < lo)
				die("bad range", line);
		}
		while (*end == ' ')
			end++;
		if (*end != ';')
			die("bad line", line);
		end++;
		while (*end == ' ')
			end++;
		if (strncmp(end, prop, plen) || !strchr(" ;#\r\n", end[plen]) || !end[plen])
			continue;
		uint8_t val = 1;
		if (quick) {
			char *q = strchr(end + plen, ';');
			if (!q)
				die("no value", line);
			q++;
			while (*q == ' ')
				q++;
			val = *q == 'M' ? UNORM_QC_MAYBE : *q == 'N' ? UNORM_QC_NO : 0;
			if (!val)
				die("bad quick check value", line);
		}
		for (unsigned long cp = lo; cp <= hi; cp++)
			v[cp] = val;
		n++;
	}
	fclose(in);
	return n;
}

struct pair {
	uint32_t a, b, c;
};

static int pair_cmp(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: gen-unorm UnicodeData.txt DerivedNormalizationProps.txt out.c\n");
		return 2;
	}
	ccc = calloc(CP_MAX, 1);
	qc = calloc(CP_MAX, 1);
	excl = calloc(CP_MAX, 1);
	dn = calloc(CP_MAX, 1);
	second = calloc(CP_MAX, 1);
	dm = calloc(CP_MAX, sizeof *dm);
	kn = calloc(CP_MAX, 1);
	kpool = calloc(1u << 16, sizeof *kpool);
	kstart = calloc(CP_MAX, sizeof *kstart);
	title = calloc(CP_MAX, sizeof *title);
	bidi = calloc(CP_MAX, 1);
	if (!bidi || !ccc || !qc || !excl || !dn || !second || !dm || !kn || !kpool || !kstart || !title)
		die("out of memory", "tables");

	FILE *in = fopen(argv[1], "r");
	if (!in)
		die("cannot read", argv[1]);
	char line[1024];
	size_t lines = 0, decomps = 0;
	unsigned long first = CP_MAX; /* the open <..., First> line's code point */
	while (fgets(line, sizeof line, in)) {
		/* code;name;gc;ccc;bidi;decomposition;...;titlecase (14) */
		char *f[15], *s = line;
		for (int i = 0; i < 14; i++) {
			f[i] = s;
			s = strchr(s, ';');
			if (!s)
				die("bad line", line);
			*s++ = '\0';
		}
		f[14] = s;
		s[strcspn(s, "\r\n")] = '\0';
		char *end;
		unsigned long cp = strtoul(f[0], &end, 16);
		if (end == f[0] || *end || cp >= CP_MAX)
			die("bad code point", f[0]);
		unsigned long c = strtoul(f[3], &end, 10);
		if (end == f[3] || *end || c > 254)
			die("bad combining class", f[3]);
		ccc[cp] = (uint8_t)c;
		uint8_t bc = 1 + (strcmp(f[4], "R") == 0 || strcmp(f[4], "AL") == 0 ? UNORM_BIDI_RAL
				  : strcmp(f[4], "L") == 0			  ? UNORM_BIDI_L
										  : UNORM_BIDI_OTHER);
		size_t nl = strlen(f[1]);
		if (nl > 8 && strcmp(f[1] + nl - 8, ", First>") == 0)
			first = cp;
		else if (nl > 7 && strcmp(f[1] + nl - 7, ", Last>") == 0) {
			if (first >= cp)
				die("Last> without First>", f[1]);
			memset(bidi + first, bc, cp - first);
			first = CP_MAX;
		}
		bidi[cp] = bc;
		/* Ranges (<CJK Ideograph, First>..Last>) have class 0 and no
		 * decomposition: nothing to fill in. */
		lines++;
		if (f[14][0]) {
			unsigned long t = strtoul(f[14], &end, 16);
			if (end == f[14] || *end || t >= CP_MAX)
				die("bad titlecase mapping", f[14]);
			if (t != cp)
				title[cp] = (uint32_t)t;
		}
		if (f[5][0] == '\0')
			continue;
		s = f[5];
		if (*s == '<') { /* the tag goes; the code points are the same */
			s = strchr(s, '>');
			if (!s)
				die("bad decomposition tag", f[5]);
			s++;
		}
		kstart[cp] = (uint32_t)kpn;
		for (;;) {
			while (*s == ' ')
				s++;
			if (!*s)
				break;
			unsigned long v = strtoul(s, &end, 16);
			if (end == s || v >= CP_MAX || v == 0 || kn[cp] == UNORM_KD_MAX ||
			    kpn == 1u << 16)
				die("bad decomposition", f[5]);
			kpool[kpn++] = (uint32_t)v;
			kn[cp]++;
			s = end;
		}
		if (f[5][0] == '<')
			continue; /* a compatibility one: not canonical */
		s = f[5];
		for (;;) {
			while (*s == ' ')
				s++;
			if (!*s)
				break;
			unsigned long v = strtoul(s, &end, 16);
			if (end == s || v >= CP_MAX || v == 0 || dn[cp] == 2)
				die("bad decomposition", f[5]);
			dm[cp][dn[cp]++] = (uint32_t)v;
			s = end;
		}
		decomps++;
	}
	fclose(in);
	if (lines < 30000 || decomps < 2000)
		die("too few characters or decompositions", argv[1]);
	if (read_props(argv[2], "Full_Composition_Exclusion", excl, 0) < 50 ||
	    read_props(argv[2], "NFC_QC", qc, 1) < 50)
		die("too few normalization properties", argv[2]);

	/* The primary composites. */
	struct pair *pairs = calloc(4096, sizeof *pairs);
	size_t np = 0;
	for (uint32_t cp = 0; cp < CP_MAX; cp++) {
		if (dn[cp] != 2 || excl[cp])
			continue;
		if (ccc[dm[cp][0]] != 0)
			die("pair's first is not a starter", "");
		if (np == 4096)
			die("too many composites", "");
		pairs[np++] = (struct pair){dm[cp][0], dm[cp][1], cp};
		second[dm[cp][1]] = 1;
	}
	if (np < 900)
		die("too few composites", argv[1]);
	qsort(pairs, np, sizeof *pairs, pair_cmp);

	/* Records: one per code point with anything to say. */
	uint16_t *page = calloc(PAGES, sizeof *page);
	uint16_t *idx = calloc(CP_MAX, sizeof *idx);
	uint32_t (*fd)[UNORM_DECOMP_MAX] = calloc(CP_MAX, sizeof *fd);
	uint8_t *fn = calloc(CP_MAX, 1);
	/* NFKD (kl, ko) and i;unicode-casemap (ml, mo: the NFKD of the
	 * simple titlecase mapping, RFC 5051 §2 step 2) of each code point,
	 * when not the code point itself, into one pool. */
	uint8_t *kl = calloc(CP_MAX, 1), *ml = calloc(CP_MAX, 1);
	uint32_t *ko = calloc(CP_MAX, sizeof *ko), *mo = calloc(CP_MAX, sizeof *mo);
	uint32_t *xpool = calloc(1u << 16, sizeof *xpool);
	size_t xn = 1, kgrow = 0;
	if (!kl || !ml || !ko || !mo || !xpool)
		die("out of memory", "tables");
	size_t npages = 1, nrec = 1;
	for (uint32_t cp = 0; cp < CP_MAX; cp++) {
		if (cp >= 0xac00 && cp < 0xac00 + 11172)
			continue; /* Hangul: algorithmic */
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		for (int m = 0; m < 2; m++) {
			uint32_t t[UNORM_KD_MAX];
			uint32_t from = m && title[cp] ? title[cp] : cp;
			size_t tn = kfull(from, t, 0, 0);
			if (tn == 1 && t[0] == cp)
				continue;
			if (xn + tn > 65535)
				die("compatibility decompositions too long", "");
			size_t len = 0;
			for (size_t k = 0; k < tn; k++)
				len += utf8_len(t[k]);
			if (len > UNORM_KD_GROWTH * utf8_len(cp))
				die("compatibility decomposition grows too much", "");
			if (len > kgrow * utf8_len(cp))
				kgrow = (len + utf8_len(cp) - 1) / utf8_len(cp);
			memcpy(xpool + xn, t, tn * sizeof *t);
			(m ? ml : kl)[cp] = (uint8_t)tn;
			(m ? mo : ko)[cp] = (uint32_t)xn;
			xn += tn;
		}
		if (dn[cp]) {
			fn[cp] = (uint8_t)full(cp, fd[cp], 0, 0);
			size_t len = 0;
			for (size_t k = 0; k < fn[cp]; k++)
				len += utf8_len(fd[cp][k]);
			if (len > UNORM_GROWTH * utf8_len(cp))
				die("decomposition grows too much", "");
			if (qc[cp] == 0 && ccc[cp] == 0 && (ccc[fd[cp][0]] || second[fd[cp][0]]))
				die("quick-check Yes starter decomposes to a non-boundary", "");
		}
		if (qc[cp] == 0 && ccc[cp] == 0 && second[cp])
			die("quick-check Yes starter composes backwards", "");
		if (ccc[cp] && qc[cp] == 0 && second[cp])
			die("combining mark second of a pair but quick-check Yes", "");
		if (!ccc[cp] && !qc[cp] && !fn[cp] && !kl[cp] && !ml[cp])
			continue;
		if (cp < 0x300)
			if (ccc[cp] || qc[cp])
				die("class or quick check below U+0300", "");
		if (!page[cp >> 8])
			page[cp >> 8] = (uint16_t)npages++;
		idx[cp] = (uint16_t)nrec++;
		if (nrec > 65535)
			die("too many records", "");
	}

	FILE *out = fopen(argv[3], "w");
	if (!out)
		die("cannot write", argv[3]);
	fprintf(out, "/* GENERATED by scripts/gen-unorm.c from Debian's icu source\n"
		     " * (UnicodeData.txt, DerivedNormalizationProps.txt). Do not edit. */\n"
		     "#include \"core/unorm.h\"\n\n");
	fprintf(out, "const uint16_t unorm_page[%u] = {", PAGES);
	for (size_t p = 0; p < PAGES; p++)
		fprintf(out, "%s%u,", p % 16 ? " " : "\n\t", page[p]);
	fprintf(out, "\n};\n\n");
	/* Decompositions, one array; records point into it. */
	fprintf(out, "const uint32_t unorm_decomp[] = {\n\t0,\n");
	size_t off = 1;
	uint32_t *doff = calloc(CP_MAX, sizeof *doff);
	for (uint32_t cp = 0; cp < CP_MAX; cp++) {
		if (!fn[cp])
			continue;
		if (off + fn[cp] > 65535)
			die("decompositions too long", "");
		doff[cp] = (uint32_t)off;
		fprintf(out, "\t");
		for (size_t k = 0; k < fn[cp]; k++)
			fprintf(out, "0x%04X, ", fd[cp][k]);
		fprintf(out, "/* U+%04X */\n", cp);
		off += fn[cp];
	}
	fprintf(out, "};\n\n");
	fprintf(out, "const uint32_t unorm_kdecomp[%zu] = {\n\t0,", xn);
	for (size_t i = 1; i < xn; i++)
		fprintf(out, "%s0x%04X,", i % 8 ? " " : "\n\t", xpool[i]);
	fprintf(out, "\n};\n\n");
	fprintf(out, "const struct unorm_two unorm_casemap_two[0x800] = {\n");
	for (uint32_t cp = 0; cp < 0x800; cp++) {
		const uint32_t *t = ml[cp] ? xpool + mo[cp] : &cp;
		size_t tn = ml[cp] ? ml[cp] : 1, len = 0;
		char u[64];
		for (size_t k = 0; k < tn; k++) {
			uint32_t c = t[k];
			if (c < 0x80)
				u[len++] = (char)c;
			else if (c < 0x800) {
				u[len++] = (char)(0xc0 | (c >> 6));
				u[len++] = (char)(0x80 | (c & 0x3f));
			} else if (c < 0x10000) {
				u[len++] = (char)(0xe0 | (c >> 12));
				u[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
				u[len++] = (char)(0x80 | (c & 0x3f));
			} else {
				u[len++] = (char)(0xf0 | (c >> 18));
				u[len++] = (char)(0x80 | ((c >> 12) & 0x3f));
				u[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
				u[len++] = (char)(0x80 | (c & 0x3f));
			}
		}
		int fast = cp >= 0x80 && len <= 8 && ccc[t[0]] == 0;
		fprintf(out, "\t{ %zu, %d, \"", fast ? len : 0, fast);
		for (size_t k = 0; fast && k < len; k++)
			fprintf(out, "\\x%02x", (unsigned char)u[k]);
		fprintf(out, "\" },\n");
	}
	fprintf(out, "};\n\n");
	fprintf(out, "const struct unorm_rec unorm_recs[%zu] = {\n\t{ 0, 0, 0, 0, 0, 0, 0, 0 },\n",
		nrec);
	for (uint32_t cp = 0; cp < CP_MAX; cp++) {
		if (!idx[cp])
			continue;
		fprintf(out, "\t{ %u, %u, %u, %u, %u, %u, %u, %u }, /* U+%04X */\n", ccc[cp],
			qc[cp], fn[cp], kl[cp], ml[cp], doff[cp], ko[cp], mo[cp], cp);
	}
	fprintf(out, "};\n\n");
	fprintf(out, "const uint16_t unorm_index[%zu][256] = {\n", npages);
	fprintf(out, "\t{ 0 },\n");
	for (size_t p = 0; p < PAGES; p++) {
		if (!page[p])
			continue;
		fprintf(out, "\t{ /* page %zu */", p);
		for (size_t k = 0; k < 256; k++)
			fprintf(out, "%s%u,", k % 16 ? " " : "\n\t\t", idx[(p << 8) | k]);
		fprintf(out, "\n\t},\n");
	}
	fprintf(out, "};\n\n");
	fprintf(out, "const struct unorm_pair unorm_pairs[%zu] = {\n", np);
	for (size_t i = 0; i < np; i++)
		fprintf(out, "\t{ 0x%04X, 0x%04X, 0x%04X },\n", pairs[i].a, pairs[i].b, pairs[i].c);
	fprintf(out, "};\n\nconst size_t unorm_npairs = %zu;\n", np);
	/* Runs of assigned code points of one bidi category. */
	size_t nb = 0;
	fprintf(out, "\nconst struct unorm_range unorm_bidi[] = {\n");
	for (uint32_t cp = 0; cp < CP_MAX;) {
		uint32_t e = cp;
		while (e + 1 < CP_MAX && bidi[e + 1] == bidi[cp])
			e++;
		if (bidi[cp]) {
			fprintf(out, "\t{ 0x%04X, 0x%04X, %u },\n", cp, e, bidi[cp] - 1u);
			nb++;
		}
		cp = e + 1;
	}
	fprintf(out, "};\n\nconst size_t unorm_nbidi = %zu;\n", nb);
	if (nb < 500 || bidi[0x05d0] != 1 + UNORM_BIDI_RAL || bidi[0x4e00] != 1 + UNORM_BIDI_L ||
	    bidi[0x0378])
		die("bidi ranges look wrong", argv[1]);
	fprintf(stderr, "gen-unorm: %zu records, %zu compatibility code points, growth %zu\n",
		nrec, xn, kgrow);
	if (fclose(out))
		die("cannot write", argv[3]);
	return 0;
}
