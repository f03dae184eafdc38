/*
 * test_mime_thread.c — base subject extraction (RFC 5256 §2.1), msg-id
 * lists, the case fold, and both threading algorithms, output compared
 * byte by byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_thread.h"
#include "unit.h"

static void base(const char *subj, const char *want, int reply, int line)
{
	struct buf b;
	int r = -1;

	buf_init(&b, 4096);
	CHECK_EQ_INT(mime_base_subject(subj ? str_c(subj) : STR_NULL, &b, &r), 0);
	buf_append(&b, "", 1);
	if (strcmp(buf_data(&b), want) != 0 || r != reply)
		fprintf(stderr, "line %d: \"%s\" -> \"%s\" reply=%d\n", line, subj ? subj : "(null)",
			buf_data(&b), r);
	CHECK_EQ_STR(buf_data(&b), want);
	CHECK_EQ_INT(r, reply);
	buf_free(&b);
}

static void test_base_subject(void)
{
	base(NULL, "", 0, __LINE__);
	base("", "", 0, __LINE__);
	base("Hello", "hello", 0, __LINE__);
	base("  Hello \t  World  ", "hello world", 0, __LINE__);
	base("Re: Hello", "hello", 1, __LINE__);
	base("RE:Hello", "hello", 1, __LINE__);
	base("re :  Hello", "hello", 1, __LINE__);
	base("Fw: Hello", "hello", 1, __LINE__);
	base("FWD: Hello", "hello", 1, __LINE__);
	base("Re: Re: Fwd: Re: Hello", "hello", 1, __LINE__);
	base("Re[2]: Hello", "hello", 1, __LINE__);
	base("Re [2]: Hello", "hello", 1, __LINE__);
	base("[list] Re: Hello", "hello", 1, __LINE__);
	base("[list] [tag] Hello", "hello", 0, __LINE__);
	base("[list]", "[list]", 0, __LINE__);      /* a blob alone stays */
	base("[a] [b]", "[b]", 0, __LINE__);       /* only while something is left */
	base("Hello (fwd)", "hello", 1, __LINE__);
	base("Hello (FWD) (fwd)  ", "hello", 1, __LINE__);
	base("[Fwd: Hello]", "hello", 1, __LINE__);
	base("[fwd: Re: [list] Hello (fwd)]", "hello", 1, __LINE__);
	base("[Fwd: Hello", "[fwd: hello", 0, __LINE__);
	base("Reply to this", "reply to this", 0, __LINE__); /* "re" needs its colon */
	base("Re", "re", 0, __LINE__);
	base("Re:", "", 1, __LINE__);
	base("Fwd:Re:", "", 1, __LINE__);
	base("=?UTF-8?Q?Re=3A_=C3=89cole?=", "\xc3\xa9" "cole", 1, __LINE__);
	base("=?ISO-8859-1?Q?=C4rger?= und so", "\xc3\xa4rger und so", 0, __LINE__);
	base("\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1", "\xce\xb1\xce\xb8\xce\xae\xce\xbd\xce\xb1", 0,
	     __LINE__);
}

static void test_casefold(void)
{
	char s[] = "ABC xyz \xc3\x80\xc3\x9e\xc3\x97 \xc5\x81 \xc4\xb0 \xc5\xb8 \xd0\x90\xd0\x80 \xe2\x82\xac Z";
	mime_casefold(s, strlen(s));
	CHECK_EQ_STR(s, "abc xyz \xc3\xa0\xc3\xbe\xc3\x97 \xc5\x82 \xc4\xb0 \xc3\xbf \xd0\xb0\xd1\x90 \xe2\x82\xac z");
	char t[] = "\xc3"; /* a lone lead octet stays */
	mime_casefold(t, 1);
	CHECK_EQ_STR(t, "\xc3");
}

/* i;ascii-casemap order: "_", "[" and "`" come after the letters. */
static void test_collate(void)
{
	CHECK_EQ_INT(mime_collate(str_c("bobx"), str_c("bob_x")), -1);
	CHECK_EQ_INT(mime_collate(str_c("_eve"), str_c("zed")), 1);
	CHECK_EQ_INT(mime_collate(str_c("[list]"), str_c("zed")), 1);
	CHECK_EQ_INT(mime_collate(str_c("ab"), str_c("ab")), 0);
	CHECK_EQ_INT(mime_collate(str_c("ab"), str_c("abc")), -1);
	CHECK_EQ_INT(mime_collate(str_c("abc"), str_c("ab")), 1);
	CHECK_EQ_INT(mime_collate(str_c(""), str_c("")), 0);
	CHECK_EQ_INT(mime_collate(str_c("a1"), str_c("a9")), -1);
	CHECK_EQ_INT(mime_collate(str_c("z"), str_c("\xc3\xa0")), -1); /* octets above ASCII last */
}

/* i;unicode-casemap sort keys: one key for every case and normalisation
 * of a text, and accented letters sorting by their base letter. */
static const char *key(const char *s)
{
	static char b[4][256];
	static int k;
	size_t n;
	char *r = mime_sortkey(s, strlen(s), &n), *o = b[k++ & 3];
	CHECK(n < sizeof b[0] && strlen(r) == n);
	snprintf(o, sizeof b[0], "%s", r);
	free(r);
	return o;
}

static int cmp(const char *a, const char *b)
{
	return mime_sortkey_cmp(str_c(key(a)), str_c(key(b)));
}

static void test_sortkey(void)
{
	/* i;unicode-casemap (RFC 5051): titlecase, then NFKD */
	CHECK_EQ_STR(key("Hello World"), "HELLO WORLD");
	CHECK_EQ_STR(key("\xc3\x89t\xc3\xa9"), "E\xcc\x81TE\xcc\x81");      /* Été */
	CHECK_EQ_STR(key("e\xcc\x81TE\xcc\x81"), "E\xcc\x81TE\xcc\x81");     /* ÉTÉ decomposed */
	/* ß has no simple titlecase mapping: not "SS" */
	CHECK_EQ_STR(key("Stra\xc3\x9f" "e"), "STRA\xc3\x9f" "E");
	CHECK_EQ_STR(key("\xc2\xb2"), "2");                                   /* ² */
	CHECK_EQ_STR(key("\xef\xbd\x81"), "A");                              /* fullwidth a */
	CHECK_EQ_STR(key("\xe2\x84\xab"), key("\xc3\xa5"));                    /* Ångström sign */
	CHECK_EQ_STR(key("\xce\xa3\xce\x8a\xce\xa3"), key("\xcf\x83\xce\xaf\xcf\x82")); /* ΣΊΣ σίς */
	CHECK_EQ_STR(key("\xea\xb0\x81"), "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8");  /* Hangul */
	CHECK_EQ_STR(key("a\xff"), "A\xff");                                   /* ill-formed kept */
	CHECK_EQ_INT(cmp("\xc3\xa9t\xc3\xa9", "faux"), -1); /* été before faux */
	CHECK_EQ_INT(cmp("ete", "\xc3\xa9t\xc3\xa9"), -1);
	CHECK_EQ_INT(cmp("\xc3\x89T\xc3\x89", "e\xcc\x81te\xcc\x81"), 0);
	CHECK_EQ_INT(cmp("\xc3\x96l", "Ol"), 1);
	CHECK_EQ_INT(cmp("\xc3\x96l", "Pa"), -1); /* Ö sorts with O, its mark after the O */
}

/* i;ascii-numeric (RFC 4790 §9.1): numbers of any length by value, and
 * strings without a leading digit after them all, equal to each other. */
static void test_collate_numeric(void)
{
	CHECK_EQ_INT(mime_collate_numeric(str_c("9"), str_c("10")), -1);
	CHECK_EQ_INT(mime_collate_numeric(str_c("10 x"), str_c("9 y")), 1);
	CHECK_EQ_INT(mime_collate_numeric(str_c("007"), str_c("7b")), 0);
	CHECK_EQ_INT(mime_collate_numeric(str_c("0"), str_c("000")), 0);
	CHECK_EQ_INT(mime_collate_numeric(str_c("123456789012345678901234567890"),
					  str_c("123456789012345678901234567891")), -1);
	CHECK_EQ_INT(mime_collate_numeric(str_c("99999999999999999999"), str_c("abc")), -1);
	CHECK_EQ_INT(mime_collate_numeric(str_c("abc"), str_c("")), 0);
	CHECK_EQ_INT(mime_collate_numeric(str_c(""), str_c("1")), 1);
}

/* A References header of 10,000 ids (in a time linear in them): the
 * last max are kept, in order, for every max and count around it. */
static void test_msgids_many(void)
{
	struct buf b;
	static struct str ids[MIME_THREAD_REFS_MAX];
	static const size_t maxes[] = {1, 2, 7, MIME_THREAD_REFS_MAX};
	static const size_t counts[] = {1, 6, 7, 8, 13, 14, 99, 100, 101, 10000};
	char want[32];

	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		buf_init(&b, 1 << 20);
		for (size_t i = 0; i < counts[c]; i++)
			buf_printf(&b, "<id%zu@x.example>%s", i, i % 3 ? " " : "\r\n\t");
		for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
			size_t max = maxes[m], n = mime_msgids(str_make(buf_data(&b), buf_len(&b)), ids, max);
			size_t keep = counts[c] < max ? counts[c] : max;
			CHECK_EQ_INT(n, keep);
			for (size_t k = 0; k < n && k < keep; k++) {
				snprintf(want, sizeof want, "<id%zu@x.example>", counts[c] - keep + k);
				CHECK(str_eq(ids[k], str_c(want)));
			}
		}
		buf_free(&b);
	}
}

static void test_msgids(void)
{
	struct str ids[3];
	size_t n = mime_msgids(str_c(" <a@x> (c <no@x>) <b@x>\r\n\t<c@x> junk <bad <d@x>"), ids, 3);
	CHECK_EQ_INT(n, 3);
	CHECK(n == 3 && str_eq(ids[0], str_c("<b@x>")) && str_eq(ids[1], str_c("<c@x>")) &&
	      str_eq(ids[2], str_c("<d@x>")));
	CHECK_EQ_INT(mime_msgids(str_c("<a b@x> <> <x"), ids, 3), 0);
	CHECK_EQ_INT(mime_msgids(STR_NULL, ids, 3), 0);
	CHECK_EQ_INT(mime_msgids(str_c("<a@x>"), ids, 0), 0);
	test_msgids_many();

	/* Quoted phrases (obsolete In-Reply-To) hide what is inside them, a
	 * '(' too; a quoted local part may hold white space; an unclosed
	 * quote is a stray octet. */
	n = mime_msgids(str_c("\"about <q3@x>\" <q1@x> \"Wed (EDT\" <q4@x>"), ids, 3);
	CHECK_EQ_INT(n, 2);
	CHECK(n == 2 && str_eq(ids[0], str_c("<q1@x>")) && str_eq(ids[1], str_c("<q4@x>")));
	n = mime_msgids(str_c("<\"a b\\\"c\"@x> \"unclosed <e@x>"), ids, 3);
	CHECK_EQ_INT(n, 2);
	CHECK(n == 2 && str_eq(ids[0], str_c("<\"a b\\\"c\"@x>")) && str_eq(ids[1], str_c("<e@x>")));

	/* Normalized: the quoting goes, so <"q1"@x> and <q1@x> match. */
	char out[32];
	CHECK(n == 2 && mime_msgid_norm(ids[0], out) == 9 && memcmp(out, "<a b\"c@x>", 9) == 0);
	struct str q = str_c("<\"q1\"@x.test>");
	size_t len = mime_msgid_norm(q, out);
	CHECK(len == 11 && memcmp(out, "<q1@x.test>", 11) == 0);
	q = str_c("<a.b@x>");
	CHECK(mime_msgid_norm(q, out) == q.len && memcmp(out, q.p, q.len) == 0);
}

/* Messages for the thread tests: num, minute, id, refs (space-separated
 * or NULL), subject. */
struct spec {
	uint32_t num;
	int minute;
	const char *id, *refs, *subject;
};

static void thread(const struct spec *sp, size_t n, int refs, const char *want, int line)
{
	struct mime_thread_msg m[32];
	struct str ids[32][8];
	struct buf subj[32], out;

	for (size_t i = 0; i < n; i++) {
		buf_init(&subj[i], 1024);
		mime_base_subject(str_c(sp[i].subject), &subj[i], &m[i].reply);
		m[i].num = sp[i].num;
		m[i].sent = sp[i].minute * 60;
		m[i].msgid = sp[i].id ? str_c(sp[i].id) : str_make("", 0);
		m[i].nrefs = sp[i].refs ? mime_msgids(str_c(sp[i].refs), ids[i], 8) : 0;
		m[i].refs = ids[i];
		m[i].base = buf_str(&subj[i]);
	}
	buf_init(&out, 65536);
	CHECK_EQ_INT(refs ? mime_thread_references(m, n, &out) : mime_thread_orderedsubject(m, n, &out),
		     0);
	buf_append(&out, "", 1);
	if (strcmp(buf_data(&out), want) != 0)
		fprintf(stderr, "line %d: got %s\n", line, buf_data(&out));
	CHECK_EQ_STR(buf_data(&out), want);
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&subj[i]);
}

static void test_threads(void)
{
	static const struct spec a[] = {
		{ 1, 1, "<1@x>", NULL, "Topic A" },
		{ 2, 2, "<2@x>", "<1@x>", "Re: Topic A" },
		{ 3, 3, "<3@x>", "<1@x>", "RE: [list] Topic A" },
		{ 4, 4, "<4@x>", "<1@x> <2@x>", "Re: Re: Topic A" },
		{ 5, 5, "<5@x>", NULL, "Other" },
		{ 6, 6, "<6@x>", "<missing@x>", "Lost child" },
		{ 7, 7, "<7@x>", "<missing@x>", "Re: Lost child" },
		{ 8, 8, "<8@x>", NULL, "Re: other (fwd)" },
	};
	thread(a, 8, 1, "(1 (2 4)(3))(5 8)((6)(7))", __LINE__);
	thread(a, 8, 0, "(1 (2)(3)(4))(5 8)(6 7)", __LINE__);
	thread(a, 0, 1, "", __LINE__);
	thread(a, 1, 1, "(1)", __LINE__);

	/* Dates decide the order, not the input; a missing parent with one
	 * child is promoted; two non-replies with one subject share a dummy. */
	static const struct spec b[] = {
		{ 10, 50, "<a@x>", NULL, "Same" },
		{ 11, 10, "<b@x>", NULL, "Same" },
		{ 12, 30, "<c@x>", "<gone@x>", "Solo" },
		{ 13, 20, NULL, NULL, "" },
		{ 14, 20, NULL, NULL, "" },
	};
	thread(b, 5, 1, "((11)(10))(13)(14)(12)", __LINE__);
	thread(b, 5, 0, "(11 10)(13 14)(12)", __LINE__);

	/* Loops and duplicates: a message referring to its own child, a
	 * duplicate Message-ID, references naming the message itself. */
	static const struct spec c[] = {
		{ 1, 1, "<p@x>", "<q@x>", "Loop" },
		{ 2, 2, "<q@x>", "<p@x>", "Re: Loop" },
		{ 3, 3, "<p@x>", NULL, "Dup" },
		{ 4, 4, "<s@x>", "<s@x> <s@x>", "Self" },
	};
	thread(c, 4, 1, "(2 1)(3)(4)", __LINE__); /* the first link wins */

	/* A reply chain with a fork and a reply whose subject grouping joins
	 * a dummy. */
	static const struct spec d[] = {
		{ 1, 1, "<1@x>", NULL, "Chain" },
		{ 2, 2, "<2@x>", "<1@x>", "Re: Chain" },
		{ 3, 3, "<3@x>", "<1@x> <2@x>", "Re: Chain" },
		{ 4, 4, "<4@x>", "<1@x> <2@x> <3@x>", "Re: Chain" },
		{ 5, 5, "<5@x>", "<1@x> <2@x>", "Re: Chain" },
		{ 6, 6, "<6@x>", "<zz@x>", "Chain" },
		{ 7, 7, "<7@x>", "<zz@x>", "Re: Chain" },
	};
	thread(d, 7, 1, "((1 2 (3 4)(5))(6)(7))", __LINE__);
}

static void test_long_chain(void)
{
	/* 20,000 replies in one chain: no recursion, so no stack to run out of. */
	enum { N = 20000 };
	static struct mime_thread_msg m[N];
	static char ids[N][16];
	static struct str refs[N];
	struct buf out;

	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%d@x>", i);
		m[i] = (struct mime_thread_msg){ .num = (uint32_t)i + 1, .sent = i,
						 .msgid = str_c(ids[i]), .base = str_c("s") };
		if (i) {
			refs[i] = str_c(ids[i - 1]);
			m[i].refs = &refs[i];
			m[i].nrefs = 1;
		}
	}
	buf_init(&out, 1u << 20);
	CHECK_EQ_INT(mime_thread_references(m, N, &out), 0);
	CHECK(buf_len(&out) > 2 && buf_data(&out)[0] == '(' && buf_data(&out)[buf_len(&out) - 1] == ')');
	CHECK(memmem(buf_data(&out), buf_len(&out), "(", 1) == buf_data(&out));
	buf_free(&out);
}

int main(void)
{
	test_base_subject();
	test_casefold();
	test_collate();
	test_sortkey();
	test_collate_numeric();
	test_msgids();
	test_threads();
	test_long_chain();
	return unit_done("test_mime_thread");
}
