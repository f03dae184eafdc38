/*
 * test_spam_view.c — the spam filter's message view: results and
 * thresholds, HTML reduced to text (whole and one byte at a time), URL
 * extraction and hosts, and spam_msg_new over MIME messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam.h"
#include "spam/spam_private.h"
#include "unit.h"

static void test_result(void)
{
	struct spam_result r;
	struct spam_thresholds th;
	spam_result_init(&r);
	CHECK_EQ_INT(spam_result_add(&r, "MISSING_DATE", 1.5), 0);
	CHECK_EQ_INT(spam_result_add_desc(&r, "RBL_TEST", 4.0, "listed"), 0);
	CHECK(spam_result_has(&r, "MISSING_DATE"));
	CHECK(!spam_result_has(&r, "MISSING"));
	CHECK_EQ_STR(r.rules[0].desc, "no Date field");
	CHECK_EQ_STR(r.rules[1].desc, "listed");
	CHECK(r.score > 5.49 && r.score < 5.51);
	spam_result_decide(&r, NULL);
	CHECK_EQ_STR(spam_verdict_name(r.verdict), "spam");
	spam_thresholds_default(&th);
	CHECK(!th.discard_on && th.reject_on && th.tag < th.reject);
	th.reject = 5.0;
	spam_result_decide(&r, &th);
	CHECK_EQ_INT(r.verdict, SPAM_REJECT);
	th.discard_on = 1;
	th.discard = 5.5;
	spam_result_decide(&r, &th);
	CHECK_EQ_INT(r.verdict, SPAM_DISCARD);
	/* a full result still counts every weight */
	spam_result_init(&r);
	for (int i = 0; i < SPAM_RULES_MAX + 3; i++)
		spam_result_add(&r, "A_VERY_LONG_RULE_NAME_THAT_IS_CUT_SOMEWHERE_HERE", 1.0);
	CHECK_EQ_INT(r.nrules, SPAM_RULES_MAX);
	CHECK_EQ_INT(r.dropped, 3);
	CHECK(r.score > SPAM_RULES_MAX + 2.9);
	CHECK_EQ_INT(strlen(r.rules[0].name), SPAM_RULE_NAME_MAX - 1);
	spam_result_decide(&r, NULL);
	CHECK_EQ_STR(spam_verdict_name(r.verdict), "reject");
}

struct urls {
	char got[2048];
};

static void collect(void *arg, struct str url, struct str text, uint32_t flags)
{
	struct urls *u = arg;
	size_t n = strlen(u->got);
	snprintf(u->got + n, sizeof u->got - n, "[%.*s|%.*s|%u]", (int)url.len, url.p, (int)text.len,
	         text.p ? text.p : "", flags);
}

static struct str trim(struct str s)
{
	while (s.len && strchr(" \n", s.p[0]))
		s.p++, s.len--;
	while (s.len && strchr(" \n", s.p[s.len - 1]))
		s.len--;
	return s;
}

/* Reduces in whole, then one byte at a time: both must give want. */
static void html(const char *in, const char *want_text, const char *want_hidden,
                 const char *want_urls, int line)
{
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct buf t, h;
		struct urls u = {{0}};
		struct mime_html sh;
		buf_init(&t, 4096);
		buf_init(&h, 4096);
		mime_html_init(&sh, &t, &h, collect, &u);
		if (bytewise)
			for (size_t i = 0; in[i]; i++)
				mime_html_feed(&sh, in + i, 1);
		else
			mime_html_feed(&sh, in, strlen(in));
		mime_html_finish(&sh);
		struct str ts = trim(buf_str(&t)), hs = trim(buf_str(&h));
		char tx[4096], hx[4096];
		snprintf(tx, sizeof tx, "%.*s", (int)ts.len, ts.p);
		snprintf(hx, sizeof hx, "%.*s", (int)hs.len, hs.p);
		if (strcmp(tx, want_text) || strcmp(hx, want_hidden) || strcmp(u.got, want_urls))
			fprintf(stderr, "line %d (bytewise %d): text \"%s\" hidden \"%s\" urls %s\n", line,
			        bytewise, tx, hx, u.got);
		CHECK_EQ_STR(tx, want_text);
		CHECK_EQ_STR(hx, want_hidden);
		CHECK_EQ_STR(u.got, want_urls);
		buf_free(&t);
		buf_free(&h);
	}
}

static void test_html(void)
{
	html("<p>Hello&nbsp;<b>world</b>&amp;you</p>", "Hello world&you", "", "", __LINE__);
	html("<head><title>t</title><style>p{color:red}</style></head><body>x &lt; y</body>",
	     "x < y", "", "", __LINE__);
	html("a<!-- hidden > comment -->b<script>var s='<p>';</script>c", "abc", "", "", __LINE__);
	html("buy <span style=\"display: none\">granny smith apples</span>now", "buy now",
	     "granny smith apples", "", __LINE__);
	html("<div style='font-size:0px'>x<b>y</b></div>z", "z", "xy", "", __LINE__);
	html("<a href=\"http://evil.example/login\">www.bank.example</a>", "www.bank.example", "",
	     "[http://evil.example/login|www.bank.example|1]", __LINE__);
	html("<a title='a>b' href=x>t</a><img src=\"cid:1\" alt=\"Pic\">", "t Pic", "",
	     "[x|t|1][cid:1||9]", __LINE__);
	html("&#72;&#x49; &unknown; &#xZZ; a&b", "HI &unknown; &#xZZ; a&b", "", "", __LINE__);
	html("<form action=\"https://f.example/p\"><input type=text></form>", "", "",
	     "[https://f.example/p||1]", __LINE__);
	html("x</p></div></span>y <unclosed", "x\ny", "", "", __LINE__);
	html("<a href='&#104;ttp://e.example/?a=1&amp;b=2'>go", "go", "",
	     "[http://e.example/?a=1&b=2|go|1]", __LINE__);
	html("z&#8203;e&shy;ro", "zero", "", "", __LINE__);
	/* A <head> never closed ends where a browser's parser ends it: at
	 * the first element or text that is not the head's, so it cannot
	 * hide the message and its links from the filter. */
	html("<html><head><body><a href=\"http://phish.example/\">Bank</a> verify now",
	     "Bank verify now", "", "[http://phish.example/|Bank|1]", __LINE__);
	html("<head><meta charset=utf-8><title>t</title>\n Win a <b>prize", "Win a prize", "", "",
	     __LINE__);
	html("<head><noscript><style>x</style></noscript><script>y</script></head>z", "z", "", "",
	     __LINE__);
	html("<head><style>p{}</style><div>shown</div>", "shown", "", "", __LINE__);
	/* Comments end where a browser ends them: "<!-->" and "<!--->" are
	 * empty comments, "--!>" closes one, and "<!-" without a second
	 * dash is a bogus comment up to the next '>'. */
	html("a<!-->b", "ab", "", "", __LINE__);
	html("a<!--->b<!---->c", "abc", "", "", __LINE__);
	html("a<!-- x --!>b", "ab", "", "", __LINE__);
	html("a<!->b<a href=\"http://phish.example/\">c</a>", "abc", "",
	     "[http://phish.example/|c|1]", __LINE__);
	html("a<!-- -- -x- --->b", "ab", "", "", __LINE__);
	html("a<!--!>x-->b", "ab", "", "", __LINE__); /* "!>" alone closes nothing */
	/* A browser drops tabs and line ends anywhere in a URL: the filter
	 * must see the host the link goes to. */
	html("<a href=\" ht\ttp://ev\r\nil.exa&#10;mple/x \">go</a><img src='http://i\n.example/p'>",
	     "go", "", "[http://evil.example/x|go|1][http://i.example/p||9]", __LINE__);
	/* ... and control octets and spaces around it (&#1; decodes to one) */
	html("<a href='&#1;\f http://evil.example/&#31;'>go</a>", "go", "",
	     "[http://evil.example/|go|1]", __LINE__);
	/* Relative links resolve against <base href> (in the head or not,
	 * the first one), as the reader's client resolves them. */
	html("<head><base href='http://evil.example/a/b'></head><a href=login>1</a>"
	     "<a href='/root?q'>2</a><a href='//other.example/x'>3</a><img src='?i'>"
	     "<a href='https://ok.example/'>4</a><base href='http://late.example/'>",
	     "1234", "",
	     "[http://evil.example/a/login|1|1][http://evil.example/root?q|2|1]"
	     "[http://other.example/x|3|1][http://evil.example/a/b?i||9][https://ok.example/|4|1]",
	     __LINE__);
	html("<base href='https://b.example'><a href=x>1</a>", "1", "", "[https://b.example/x|1|1]",
	     __LINE__);
	/* A numeric reference ends at its last digit, ';' or not */
	html("<a href='&#104ttp&#58//evil.example/&#x3f;a'>go</a>", "go", "",
	     "[http://evil.example/?a|go|1]", __LINE__);
}

/* Hidden text stays hidden past the 64 open elements the reducer
 * tracks: nested <div>s, or unclosed <p>s (their end tags may be left
 * out), must not show the rules what a reader never sees. */
static void test_html_deep(void)
{
	char in[2048], want[512];
	size_t n = 0, w = 0;
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(in + n, sizeof in - n, "<div>");
	n += (size_t)snprintf(in + n, sizeof in - n, "<span style='display:none'>poison</span>");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(in + n, sizeof in - n, "</div>");
	snprintf(in + n, sizeof in - n, "shown");
	html(in, "shown", "poison", "", __LINE__);

	n = 0;
	for (int i = 0; i < 80; i++) {
		n += (size_t)snprintf(in + n, sizeof in - n, "<p>x");
		w += (size_t)snprintf(want + w, sizeof want - w, i ? "\nx" : "x");
	}
	snprintf(in + n, sizeof in - n, "<span hidden>secret</span> y");
	snprintf(want + w, sizeof want - w, " y");
	html(in, want, "secret", "", __LINE__);
	/* a block ends an unclosed hidden <p>, as in a browser */
	html("<p style='display:none'>pre<div>shown</div>", "shown", "pre", "", __LINE__);
	html("<ul><li>a<li hidden>b<li>c</ul>", "a\nc", "b", "", __LINE__);
}

/* A style hides the text by its declarations, wherever they stand, and
 * only those: not one that merely contains the words. */
/* One short attribute of kind f (numbered i) at p. */
static size_t fill_attr(char *p, size_t room, int f, int i)
{
	switch (f) {
	case 0:
		return (size_t)snprintf(p, room, " a%d=1", i);
	case 1:
		return (size_t)snprintf(p, room, " b%d=\"x y\"", i);
	case 2:
		return (size_t)snprintf(p, room, " c%d='q'd%d=2", i, i);
	case 3:
		return (size_t)snprintf(p, room, " e%d", i);
	default:
		return (size_t)snprintf(p, room, " alt=%d", i);
	}
}

static void test_html_style(void)
{
	char in[1024];
	size_t n = (size_t)snprintf(in, sizeof in, "<span style=\"");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(in + n, sizeof in - n, "color : red ; ");
	snprintf(in + n, sizeof in - n, "DISPLAY: none !important\">poison</span>shown");
	html(in, "shown", "poison", "", __LINE__);
	html("<b style='opacity:0'>x</b><i style='font-size:.5px'>y</i><u style='max-height:0px;"
	     "overflow:hidden'>z</u>w",
	     "w", "xyz", "", __LINE__);
	html("<p style='font-size:0.9em;line-height:0;opacity:0.5'>small print</p>", "small print",
	     "", "", __LINE__);
	html("<div style='height:0px'>a</div><div style='line-height:0px'>b</div>", "b", "a", "",
	     __LINE__);
	/* nor does what stands before the style in the tag: one long
	 * attribute (it filled the tag's buffer) or 40 short ones (past the
	 * 32 attributes read) */
	static char big[8192];
	n = (size_t)snprintf(big, sizeof big, "<span data-x=\"");
	for (int i = 0; i < 5000; i++)
		big[n++] = 'A';
	n += (size_t)snprintf(big + n, sizeof big - n, "\" class=");
	for (int i = 0; i < 3000; i++)
		big[n++] = 'B'; /* and a long one unquoted */
	snprintf(big + n, sizeof big - n, " style=\"display:none\">poison</span>shown");
	html(big, "shown", "poison", "", __LINE__);
	n = (size_t)snprintf(in, sizeof in, "<span");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(in + n, sizeof in - n, " a%d=1", i);
	snprintf(in + n, sizeof in - n, " alt=1 alt=2 style=display:none>poison</span>shown");
	html(in, "shown", "poison", "", __LINE__);
	/* nor the volume of short attributes (more than the tag's buffer
	 * holds, in every spelling: unquoted, quoted, without a separator
	 * after a quote, names alone, a repeated read one), nor a repeated
	 * style (the first counts, as in a browser) */
	static char many[65536];
	for (int f = 0; f < 5; f++) {
		n = (size_t)snprintf(many, sizeof many, "<span");
		for (int i = 0; i < 3000; i++)
			n += fill_attr(many + n, sizeof many - n, f, i);
		snprintf(many + n, sizeof many - n, " style=\"display:none\">poison</span>shown");
		html(many, "shown", "poison", "", __LINE__);
		n = (size_t)snprintf(many, sizeof many, "<a href=\"https://link.example/\"");
		for (int i = 0; i < 3000; i++)
			n += fill_attr(many + n, sizeof many - n, f, i);
		snprintf(many + n, sizeof many - n, " hidden>poison</a>shown");
		html(many, "shown", "poison", "[https://link.example/||1]", __LINE__);
	}
	n = (size_t)snprintf(many, sizeof many, "<span style=display:none");
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, " style=color:red");
	snprintf(many + n, sizeof many - n, ">poison</span>shown");
	html(many, "shown", "poison", "", __LINE__);
}

static void url_host(const char *url, const char *want)
{
	char h[256];
	size_t n = spam_url_host(str_c(url), h, sizeof h);
	if (strcmp(h, want))
		fprintf(stderr, "%s: got %s\n", url, h);
	CHECK_EQ_STR(h, want);
	CHECK_EQ_INT(n, strlen(want));
}

static void base(const char *host, const char *want)
{
	struct str b = spam_domain_base(str_c(host));
	CHECK_EQ_SLICE(b, want);
}

static void test_urls(void)
{
	struct urls u = {{0}};
	const char *t = "see http://a.example/x, (www.b.example) or https://c.example. "
	                "nohttp://no.example and HTTP://D.EXAMPLE/";
	spam_url_scan(t, strlen(t), collect, &u);
	CHECK_EQ_STR(u.got, "[http://a.example/x||2][www.b.example||2][https://c.example||2]"
	                    "[HTTP://D.EXAMPLE/||2]");
	url_host("http://User:pw@WWW.Example.COM:8080/path?q", "www.example.com");
	url_host("https://evil.example@bank.example/", "bank.example");
	url_host("www.shop.example/a", "www.shop.example");
	url_host("http:\\\\host.example\\x", "host.example");
	url_host("mailto:a@b.example", "");
	url_host("http://%62ank.example./", "bank.example");
	url_host("http://%62ank%2Eexample%20.evil.example/", "bank.example");
	url_host("http://bank%.example%4/", "bank%.example%4");
	url_host("http://bank%00.evil.example/", "bank");
	{
		/* A host longer than dst is no host, never its first 255
		 * octets (which named another domain); escapes count as
		 * the octets they decode to. */
		char longu[1200], h[256];
		int n = snprintf(longu, sizeof longu, "http://");
		for (int i = 0; i < 300; i++)
			longu[n++] = 'a';
		snprintf(longu + n, sizeof longu - (size_t)n, ".example/");
		h[0] = 'x';
		CHECK_EQ_INT(spam_url_host(str_c(longu), h, sizeof h), 0);
		CHECK_EQ_STR(h, "");
		n = snprintf(longu, sizeof longu, "http://");
		for (int i = 0; i < 251; i++)
			n += snprintf(longu + n, sizeof longu - (size_t)n, "%%41");
		snprintf(longu + n, sizeof longu - (size_t)n, ".com/");
		CHECK_EQ_INT(spam_url_host(str_c(longu), h, sizeof h), 255);
		CHECK_EQ_INT(h[0], 'a');
		CHECK_EQ_STR(h + 251, ".com");
	}
	url_host("http://[::1]:80/", "[::1]");
	url_host("http://192.0.2.1/", "192.0.2.1");
	/* http and https need no slashes in a browser: the authority follows
	 * the scheme (WHATWG "special authority slashes" state). */
	url_host("http:evil.example/login", "evil.example");
	url_host("HTTPS:user@evil.example:443", "evil.example");
	url_host("https:/evil.example", "evil.example");
	/* The host a browser connects to (WHATWG URL host parsing): the
	 * ideographic and fullwidth full stops are dots, fullwidth letters
	 * and digits their ASCII forms (UTS #46 mapping, NFKC) ... */
	url_host("http://evil\xef\xbc\x8e" "example/", "evil.example");
	url_host("http://evil\xe3\x80\x82" "example/", "evil.example");
	url_host("http://evil\xef\xbd\xa1" "example\xef\xbc\x8e/", "evil.example");
	url_host("http://\xef\xbc\xa5vil.\xef\xbd\x85xample/", "evil.example");
	url_host("http://%EF%BC%A5vil%E3%80%82example/", "evil.example");
	/* ... and a host ending in a number is an IPv4 address in any of
	 * the forms inet_aton takes: hex, octal, one to four parts. */
	url_host("http://0x7f.1/", "127.0.0.1");
	url_host("http://2130706433/", "127.0.0.1");
	url_host("http://0177.0.0.1/", "127.0.0.1");
	url_host("http://127.1/", "127.0.0.1");
	url_host("http://0X7F000001:80/", "127.0.0.1");
	url_host("http://192.168.0x1.010./", "192.168.1.8");
	url_host("http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97\xe3\x80\x82\xef\xbc\x91/",
		 "127.0.0.1");
	url_host("http://0x/", "0.0.0.0");
	/* not addresses to a browser either (it refuses them): left as written */
	url_host("http://4294967296/", "4294967296");
	url_host("http://1.2.3.08/", "1.2.3.08");
	url_host("http://256.1.1.1/", "256.1.1.1");
	url_host("http://1.2.3.4.5/", "1.2.3.4.5");
	url_host("http://1..2/", "1..2");
	url_host("http://a.1/", "a.1");
	/* names that merely hold digits stay names */
	url_host("http://0x7f.example/", "0x7f.example");
	url_host("http://1.2.3.4a/", "1.2.3.4a");
	url_host("http://1e100.net/", "1e100.net");
	base("www.mail.example.com", "example.com");
	base("shop.example.co.uk", "example.co.uk");
	base("example.co.uk", "example.co.uk");
	base("localhost", "localhost");
	base("a.b", "a.b");
	/* The Public Suffix List, not a guess at the last labels. */
	base("www.test.k12.ak.us", "test.k12.ak.us");
	base("a.b.test.ck", "b.test.ck");
	base("login.evil.github.io", "evil.github.io");
	base("www.example.gov.uk", "example.gov.uk");
	base("www.example.com.br", "example.com.br");
	base("co.uk", "co.uk");
}

static void test_view(void)
{
	const char *m =
	    "Return-Path: <bounce@Bulk.Example>\r\n"
	    "From: \"=?utf-8?q?Caf=C3=A9?=\" <Sales@Shop.Example>\r\n"
	    "Reply-To: other@elsewhere.example\r\n"
	    "Subject: =?utf-8?b?SMOpbGxv?=\r\n"
	    "Message-ID: <1@shop.example>\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
	    "--c\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 at http://shop.example/a\r\n"
	    "--c\r\nContent-Type: text/html\r\n\r\n<p>Hi <a href=\"http://t.example/\">here</a>"
	    "<span style=\"display:none\">secret</span></p><img src=\"http://i.example/p.gif\">\r\n"
	    "--c--\r\n"
	    "--b\r\nContent-Type: application/octet-stream; name=\"inv.pdf.exe\"\r\n"
	    "Content-Disposition: attachment\r\n\r\nMZ\r\n--b--\r\n";
	struct spam_msg *v;
	spam_msg_new(m, strlen(m), &v);
	CHECK_EQ_SLICE(v->subject, "H\xc3\xa9llo");
	CHECK_EQ_SLICE(v->from_name, "Caf\xc3\xa9");
	CHECK_EQ_SLICE(v->from_addr, "sales@shop.example");
	CHECK_EQ_SLICE(v->from_domain, "shop.example");
	CHECK_EQ_SLICE(v->reply_to_domain, "elsewhere.example");
	CHECK_EQ_SLICE(v->message_id, "<1@shop.example>");
	CHECK(v->date.p == NULL);
	CHECK(strstr(v->text.p, "Caf\xc3\xa9 at http://shop.example/a") != NULL);
	CHECK(strstr(v->text.p, "Hi here") != NULL);
	CHECK(strstr(v->text.p, "secret") == NULL);
	CHECK_EQ_SLICE(v->hidden, "secret");
	CHECK_EQ_INT(v->nurls, 3);
	CHECK_EQ_SLICE(v->urls[0].host, "shop.example");
	CHECK_EQ_SLICE(v->urls[1].text, "here");
	CHECK(v->urls[2].flags & SPAM_URL_IMAGE);
	CHECK_EQ_INT(v->nimages, 1);
	CHECK_EQ_INT(v->nattach, 1);
	CHECK_EQ_SLICE(v->attach[0].name, "inv.pdf.exe");
	CHECK_EQ_SLICE(v->attach[0].type, "application/octet-stream");
	CHECK(v->flags & SPAM_MSG_HTML);
	CHECK(v->flags & SPAM_MSG_PLAIN);
	spam_msg_free(&v);
	CHECK(v == NULL);

	spam_msg_new("", 0, &v); /* nothing at all still gives a view */
	CHECK_EQ_INT(v->nurls, 0);
	CHECK_EQ_INT(v->text.len, 0);
	spam_msg_free(&v);
}

/* Tokens and grams of a view, for comparing two. */
struct readings {
	uint64_t tok[SPAM_TOKENS_MAX];
	uint32_t gram[SPAM_GRAM_TEXT];
	size_t ntok, ngram;
	uint64_t size;
};

static void read_view(struct spam_msg *v, struct readings *r)
{
	r->ntok = spam_tokens(v, r->tok, SPAM_TOKENS_MAX);
	r->ngram = spam_grams(v, r->gram);
	r->size = v->size;
	spam_msg_free(&v);
}

static int same_readings(const struct readings *a, const struct readings *b)
{
	return a->ntok == b->ntok && a->ngram == b->ngram &&
	       !memcmp(a->tok, b->tok, a->ntok * sizeof a->tok[0]) &&
	       !memcmp(a->gram, b->gram, a->ngram * sizeof a->gram[0]);
}

/* A message scored in its SMTP transaction reads as the copy the
 * delivery stores: the Return-Path the delivery puts first is there, and
 * the fields tern adds to the stored copy (our Received, the
 * authentication results, the verdict) count for neither classifier. */
static void test_delivered_view(void)
{
	static struct readings smtp, stored, plain, bare;
	const char *msg = "Received: from relay.example by mx.sender.example with SMTP\r\n"
	                  "From: Ann <ann@sender.example>\r\nTo: bob@ours.example\r\n"
	                  "Subject: the minutes\r\nMessage-ID: <7@sender.example>\r\n\r\n"
	                  "Hello Bob, the minutes of the meeting are attached.\r\n";
	struct spam_msg *v;
	spam_msg_new_delivered("bounce@sender.example", msg, strlen(msg), 0, &v);
	CHECK(v->hdr_len > 38 && !memcmp(v->hdr, "Return-Path: <bounce@sender.example>\r\n", 38));
	read_view(v, &smtp);

	char copy[2048];
	snprintf(copy, sizeof copy,
	         "Return-Path: <bounce@sender.example>\r\n"
	         "Received: from mx.sender.example ([192.0.2.7])\r\n\tby mx.ours.example (tern) "
	         "with ESMTPS id 1a2b.1;\r\n\tMon, 2 Sep 2024 10:00:00 +0000\r\n"
	         "Authentication-Results: mx.ours.example; spf=pass smtp.mailfrom=sender.example\r\n"
	         "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=ours.example; s=s1; b=AAAA\r\n"
	         "X-Spam-Status: No, score=-1.20\r\nX-Spam-Result: BAYES_HAM(-1.20)\r\n%s",
	         msg);
	spam_msg_new(copy, strlen(copy), &v);
	read_view(v, &stored);
	CHECK(smtp.ntok > 20 && smtp.ngram > 100);
	CHECK(same_readings(&smtp, &stored));

	/* without the Return-Path it would read otherwise */
	spam_msg_new(msg, strlen(msg), &v);
	read_view(v, &plain);
	CHECK(!same_readings(&smtp, &plain));
	CHECK_EQ_INT((int)smtp.size, (int)(strlen(msg) + strlen("Return-Path: <bounce@sender.example>\r\n")));

	/* the null reverse path, as the delivery writes it */
	spam_msg_new_delivered("", msg, strlen(msg), 0, &v);
	read_view(v, &bare);
	snprintf(copy, sizeof copy, "Return-Path: <>\r\n%s", msg);
	spam_msg_new(copy, strlen(copy), &v);
	read_view(v, &stored);
	CHECK(same_readings(&bare, &stored));

	/* a message the size of the scan bound: the field pushes its end out,
	 * as in the stored copy */
	char *big = malloc(SPAM_SCAN_MAX);
	memset(big, 'a', SPAM_SCAN_MAX);
	memcpy(big, "Subject: big\r\n\r\n", 16);
	for (size_t i = 100; i < SPAM_SCAN_MAX; i += 80)
		memcpy(big + i - 2, "\r\n", 2);
	spam_msg_new(big, SPAM_SCAN_MAX, &v);
	CHECK(!(v->flags & SPAM_MSG_TRUNCATED));
	spam_msg_free(&v);
	spam_msg_new_delivered("a@b.example", big, SPAM_SCAN_MAX, 0, &v);
	CHECK(v->flags & SPAM_MSG_TRUNCATED);
	CHECK_EQ_INT((int)v->size, (int)(SPAM_SCAN_MAX + strlen("Return-Path: <a@b.example>\r\n")));
	spam_msg_free(&v);
	free(big);
}

int main(void)
{
	test_result();
	test_html();
	test_html_deep();
	test_html_style();
	test_urls();
	test_view();
	test_delivered_view();
	return unit_done("test_spam_view");
}
