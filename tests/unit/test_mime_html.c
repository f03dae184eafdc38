/*
 * test_mime_html.c — mime/mime_html.h's fast paths (runs of text, white
 * space, tags, quoted values, comments, declarations, skipped elements
 * read in bulk) against the state machine alone, an octet at a time
 * (mime_html_feed_octets): the same text, hidden text, URLs and image
 * count, octet for octet, on real mail, on the fuzz corpora and on
 * random markup, whole and in random pieces, as search and as the spam
 * filter read HTML.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_html.h"
#include "unit.h"

#define IN_MAX (1u << 20)

/* What one reading gave: text, hidden text, and every URL reported. */
struct seen {
	struct buf text, hidden, urls;
	uint32_t nimages;
};

static void on_url(void *arg, struct str url, struct str text, uint32_t flags)
{
	struct buf *b = arg;
	buf_printf(b, "%zu:%.*s %zu:%.*s %u\n", url.len, (int)url.len, url.p, text.len,
		   (int)text.len, text.p, flags);
}

/* in[0..n) read as search reads it (spam 0) or as the spam filter does,
 * through the fast paths in pieces of random lengths (piece 0: whole) or
 * an octet at a time through the state machine (piece -1). */
static void read_html(struct seen *s, const char *in, size_t n, int spam, int piece)
{
	static struct mime_html h;
	buf_init(&s->text, 4u << 20);
	buf_init(&s->hidden, 4u << 20);
	buf_init(&s->urls, 16u << 20);
	mime_html_init(&h, &s->text, spam ? &s->hidden : &s->text, spam ? on_url : NULL, &s->urls);
	if (piece < 0) {
		mime_html_feed_octets(&h, in, n);
	} else {
		for (size_t i = 0; i < n;) {
			size_t k = piece ? 1 + (size_t)rand() % (size_t)piece : n;
			k = k < n - i ? k : n - i;
			mime_html_feed(&h, in + i, k);
			i += k;
		}
	}
	mime_html_finish(&h);
	s->nimages = h.nimages;
}

static int same_buf(const struct buf *a, const struct buf *b)
{
	return buf_len(a) == buf_len(b) && !memcmp(buf_data(a), buf_data(b), buf_len(a));
}

static size_t compared, differed;

static void same_as_octets(const char *in, size_t n)
{
	for (int spam = 0; spam < 2; spam++) {
		struct seen ref, got;
		read_html(&ref, in, n, spam, -1);
		for (int round = 0; round < 2; round++) {
			read_html(&got, in, n, spam, round ? 97 : 0);
			int same = same_buf(&ref.text, &got.text) &&
				   same_buf(&ref.hidden, &got.hidden) && same_buf(&ref.urls, &got.urls) &&
				   ref.nimages == got.nimages;
			differed += !same;
			compared++;
			buf_free(&got.text);
			buf_free(&got.hidden);
			buf_free(&got.urls);
		}
		buf_free(&ref.text);
		buf_free(&ref.hidden);
		buf_free(&ref.urls);
	}
}

static char *file_buf;

/* Every step-th file under dir (depth levels of subdirectories). */
static size_t each_file(const char *dir, int depth, size_t step)
{
	static size_t seen;
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t files = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (depth > 0) {
			files += each_file(path, depth - 1, step);
			continue;
		}
		if (seen++ % step)
			continue;
		FILE *f = fopen(path, "rb");
		size_t n = f ? fread(file_buf, 1, IN_MAX, f) : 0;
		if (f)
			fclose(f);
		same_as_octets(file_buf, n);
		files++;
	}
	closedir(d);
	return files;
}

/* Random markup from pieces chosen to cross every state's edges. */
static void test_random(void)
{
	static const char *const pick[] = {
		"<", ">", "&", ";", " ", "\t", "\r\n", "\f", "  ", "-", "--", "!", "'", "\"", "=",
		"/", "?", "a", "Word", "caf\xc3\xa9", "<p>", "</p>", "<br/>", "<div style=\"",
		"display:none", "font-size:0", "\">", "<a href=", "http://x.example/", "</a>",
		"<img src='i.png' alt=\"A&amp;B\">", "<!--", "-->", "--!>", "<!-", "<!DOCTYPE html>",
		"<?xml?>", "<script>", "</script>", "<style>", "</style>", "<head>", "</head>",
		"<title>", "</title>", "<base href=\"http://b.example/d/\">", "&nbsp;", "&eacute",
		"&#233;", "&#x41;", "&bogus;", "&#", "<span hidden>", "</span>", "<li>", "<td>",
		"<table>", "</table>", "<form action=/f>", "<x", "<1", "< a", "=\"", "\xe2\x80\x8b",
	};
	char in[512];
	srand(5);
	for (int r = 0; r < 3000; r++) {
		size_t n = 0, want = (size_t)(rand() % (int)sizeof in);
		while (n < want) {
			const char *s = pick[rand() % (int)(sizeof pick / sizeof pick[0])];
			size_t l = strlen(s);
			if (n + l > sizeof in)
				break;
			memcpy(in + n, s, l);
			n += l;
		}
		same_as_octets(in, n);
	}
	/* long runs: a tag past its buffer, a value past its limit, long
	 * text, white space and comments */
	char *big = file_buf;
	size_t n = 0;
	n += (size_t)sprintf(big + n, "<div ");
	for (int k = 0; k < 600; k++)
		n += (size_t)sprintf(big + n, "data-%d=\"%0*d\" ", k, k % 50 + 1, k);
	n += (size_t)sprintf(big + n, "style='display:none'>hidden</div><a href=\"");
	memset(big + n, 'u', 3000);
	n += 3000;
	n += (size_t)sprintf(big + n, "\">link</a>\n<a href=");
	memset(big + n, 'v', 1500);
	n += 1500;
	n += (size_t)sprintf(big + n, " title=x>unquoted</a>\n");
	memset(big + n, ' ', 5000);
	n += 5000;
	n += (size_t)sprintf(big + n, "<!-- ");
	memset(big + n, '-', 100);
	n += 100;
	memset(big + n, 'c', 5000);
	n += 5000;
	n += (size_t)sprintf(big + n, " --> after");
	same_as_octets(big, n);
}

/* Every block element sets its text apart from the words around it, in
 * any case of its name, and inline ones do not (is_block's filters and
 * table against the list it was written from). */
static void test_blocks(void)
{
	static const char *const blocks[] = {
		"p", "div", "br", "tr", "li", "td", "th", "table", "h1", "h2", "h3", "h4", "ul",
		"ol", "blockquote", "hr", "title", "center", "pre", "h5", "h6", "dl", "dt", "dd",
		"section", "article", "header", "footer", "nav", "aside", "address", "figure",
		"figcaption", "main", "fieldset", "details", "summary", "caption",
	};
	static const char *const inline_[] = {
		"span", "a", "font", "b", "i", "u", "em", "strong", "small", "big", "sub", "sup",
		"tbody", "thead", "label", "abbr", "code", "q", "s", "mark", "bdi", "time", "x",
		"h7", "pp", "divv", "d", "tdd", "tt", "nobr", "blink", "marquee",
	};
	char in[128], want[8];
	for (size_t k = 0; k < sizeof blocks / sizeof blocks[0] + sizeof inline_ / sizeof inline_[0];
	     k++) {
		int block = k < sizeof blocks / sizeof blocks[0];
		const char *name = block ? blocks[k] : inline_[k - sizeof blocks / sizeof blocks[0]];
		for (int upper = 0; upper < 2; upper++) {
			char nm[32];
			size_t l = strlen(name);
			for (size_t c = 0; c <= l; c++)
				nm[c] = upper && name[c] >= 'a' && name[c] <= 'z' ? name[c] - 32 : name[c];
			int n = snprintf(in, sizeof in, "a<%s>b</%s>c", nm, nm);
			struct seen s;
			read_html(&s, in, (size_t)n, 0, 0);
			snprintf(want, sizeof want, block ? "a\nb\nc" : "abc");
			if (buf_len(&s.text) != strlen(want) || memcmp(buf_data(&s.text), want, strlen(want))) {
				fprintf(stderr, "<%s>: \"%.*s\"\n", nm, (int)buf_len(&s.text),
					buf_data(&s.text));
				CHECK(0);
			}
			buf_free(&s.text);
			buf_free(&s.hidden);
			buf_free(&s.urls);
		}
	}
}

static void test_corpora(void)
{
	/* the markup of HTML mail and its MIME around it, raw, as text:
	 * tags, references, comments and quoted-printable's "=3D" */
	size_t files = each_file("../shared/corpora/spam/train", 2, 3);
	CHECK(files > 900);
	files = each_file("tests/fuzz/corpus/fuzz_spam_html", 0, 1);
	files += each_file("tests/fuzz/corpus/fuzz_mime_search", 0, 1);
	files += each_file("tests/fuzz/corpus/fuzz_mime_preview", 0, 1);
	CHECK(files > 10);
}

int main(void)
{
	file_buf = malloc(IN_MAX);
	test_blocks();
	test_random();
	test_corpora();
	CHECK(compared > 10000);
	CHECK_EQ_INT(differed, 0);
	free(file_buf);
	return unit_done("test_mime_html");
}
