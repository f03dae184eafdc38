/*
 * bench-fold.c — micro-benchmark of the text search reads: the HTML
 * reducer (mime/mime_html.h) and Unicode case folding (core/ufold.h).
 * Built and run by scripts/bench-fold (which also builds the same program
 * from an older revision's sources and runs the two interleaved); not a
 * test.
 *
 * Usage: bench-fold HTML-RECORDS REPS [WORKLOAD]
 *
 * HTML-RECORDS: HTML parts, each a 4-octet little-endian length and that
 * many octets of UTF-8 (scripts/bench-fold extracts them from the spam
 * corpus). Each workload runs REPS times; printed per workload: the
 * median and the fastest run in ms of CPU time, and a hash of the output so that two
 * builds' results can be compared:
 *   html-search  every part reduced as search reduces it (text and hidden
 *                text in one buf, no URL callback)
 *   html-spam    as the spam filter does (hidden apart, URLs reported)
 *   fold-html    the search's text of every part folded as
 *                mime_search_fold_buf folds it (ufold_room, ufold_inplace)
 *   fold-ascii, fold-latin1, fold-cyrillic, fold-greek, fold-cjk
 *                4 MiB of such text, folded the same way
 *   ufold-latin1 the Latin-1 text folded into a second buffer (ufold)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ufold.h"
#include "mime/mime_html.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int hashing; /* only the untimed runs hash what they made */

static uint64_t hash(uint64_t h, const char *p, size_t n)
{
	if (!hashing)
		return h;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct rec {
	const char *p;
	size_t n;
};
static struct rec *recs;
static size_t nrecs;

static void no_url(void *arg, struct str url, struct str text, uint32_t flags)
{
	uint64_t *h = arg;
	*h = hash(*h, url.p, url.len);
	*h = hash(*h, text.p, text.len);
	*h = hash(*h, (const char *)&flags, sizeof flags);
}

static uint64_t run_html(int spam)
{
	uint64_t h = 14695981039346656037ull;
	struct buf text, hidden;
	buf_init(&text, 8u << 20);
	buf_init(&hidden, 8u << 20);
	static struct mime_html mh;
	for (size_t r = 0; r < nrecs; r++) {
		buf_reset(&text);
		buf_reset(&hidden);
		mime_html_init(&mh, &text, spam ? &hidden : &text, spam ? no_url : NULL, &h);
		mime_html_feed(&mh, recs[r].p, recs[r].n);
		mime_html_finish(&mh);
		h = hash(h, buf_data(&text), buf_len(&text));
		h = hash(h, buf_data(&hidden), buf_len(&hidden));
	}
	buf_free(&text);
	buf_free(&hidden);
	return h;
}

/* mime_search_fold_buf, as it is. */
static void fold_buf(struct buf *b)
{
	size_t n = buf_len(b), need = ufold_room(buf_data(b), n), avail;
	if (need > n && !buf_reserve(b, need - n, &avail))
		abort();
	b->len = ufold_inplace(buf_data(b), n);
}

static struct buf *html_texts;

static uint64_t run_fold_html(void)
{
	uint64_t h = 14695981039346656037ull;
	static struct buf w;
	if (!w.max)
		buf_init(&w, 16u << 20);
	for (size_t r = 0; r < nrecs; r++) {
		buf_reset(&w);
		buf_append(&w, buf_data(&html_texts[r]), buf_len(&html_texts[r]));
		fold_buf(&w);
		h = hash(h, buf_data(&w), buf_len(&w));
	}
	return h;
}

static char *gen;
static size_t gen_len;
static struct buf gen_buf;

static uint64_t run_fold_gen(void)
{
	buf_reset(&gen_buf);
	buf_append(&gen_buf, gen, gen_len);
	fold_buf(&gen_buf);
	return hash(14695981039346656037ull, buf_data(&gen_buf), buf_len(&gen_buf));
}

static uint64_t run_ufold_gen(void)
{
	static char *o;
	if (!o)
		o = malloc(UFOLD_GROWTH * (4u << 20));
	size_t l = ufold(gen, gen_len, o);
	return hash(14695981039346656037ull, o, l);
}

static void make_text(const char *sample)
{
	size_t sl = strlen(sample);
	gen_len = 0;
	while (gen_len + sl <= (4u << 20)) {
		memcpy(gen + gen_len, sample, sl);
		gen_len += sl;
	}
}

static const char *only; /* the one workload to run, or all */

static void bench(const char *name, uint64_t (*fn)(void), int reps)
{
	if (only && strcmp(only, name))
		return;
	double *t = malloc(sizeof *t * (size_t)reps);
	hashing = 1;
	uint64_t h = fn(); /* untimed, hashed before and after */
	hashing = 0;
	for (int i = 0; i < reps; i++) {
		double t0 = now_ms();
		fn();
		t[i] = now_ms() - t0;
	}
	hashing = 1;
	if (fn() != h) {
		fprintf(stderr, "%s: output differs between runs\n", name);
		exit(1);
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_d);
	printf("%-14s median %8.3f ms  min %8.3f ms  hash %016llx\n", name, t[reps / 2], t[0],
	       (unsigned long long)h);
	free(t);
}

static uint64_t run_html_search(void) { return run_html(0); }
static uint64_t run_html_spam(void) { return run_html(1); }

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: bench-fold HTML-RECORDS REPS [WORKLOAD]\n");
		return 2;
	}
	int reps = atoi(argv[2]);
	only = argv[3];
	FILE *f = fopen(argv[1], "rb");
	if (!f || reps < 1) {
		perror(argv[1]);
		return 2;
	}
	static char *all;
	size_t cap = 64u << 20, len = fread(all = malloc(cap), 1, cap, f);
	fclose(f);
	size_t total = 0;
	for (size_t i = 0; i + 4 <= len;) {
		size_t n = (size_t)(unsigned char)all[i] | (size_t)(unsigned char)all[i + 1] << 8 |
			   (size_t)(unsigned char)all[i + 2] << 16 |
			   (size_t)(unsigned char)all[i + 3] << 24;
		if (i + 4 + n > len)
			break;
		recs = realloc(recs, sizeof *recs * (nrecs + 1));
		recs[nrecs++] = (struct rec){ all + i + 4, n };
		total += n;
		i += 4 + n;
	}
	printf("%zu HTML parts, %zu octets\n", nrecs, total);
	html_texts = calloc(nrecs, sizeof *html_texts);
	for (size_t r = 0; r < nrecs; r++) {
		struct mime_html mh;
		buf_init(&html_texts[r], 8u << 20);
		mime_html_init(&mh, &html_texts[r], &html_texts[r], NULL, NULL);
		mime_html_feed(&mh, recs[r].p, recs[r].n);
		mime_html_finish(&mh);
	}
	bench("html-search", run_html_search, reps);
	bench("html-spam", run_html_spam, reps);
	bench("fold-html", run_fold_html, reps);

	gen = malloc(4u << 20);
	buf_init(&gen_buf, 16u << 20);
	static const struct {
		const char *name, *text;
	} texts[] = {
		{ "fold-ascii", "The Quick Brown Fox Jumps Over The Lazy Dog, Again And AGAIN. " },
		{ "fold-latin1", "Ça été Très Agréable À Noël: Größe, Straße, Ærø, Øresund, "
				 "Señor Núñez, São João, Élève Ñandú. " },
		{ "fold-cyrillic", "Съешь Же Ещё Этих Мягких Французских Булок, Да Выпей ЧАЮ. " },
		{ "fold-greek", "Ξεσκεπάζω Την Ψυχοφθόρα ΒΔΕΛΥΓΜΙΑ, Σίσυφος ΐ. " },
		{ "fold-cjk", "日本語のテキスト、「検索」は速い。中文文本。 " },
	};
	for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
		make_text(texts[k].text);
		bench(texts[k].name, run_fold_gen, reps);
	}
	make_text(texts[1].text);
	bench("ufold-latin1", run_ufold_gen, reps);
	return 0;
}
