/*
 * test_pop3_parse.c — pop3_line_find(), pop3_cmd_parse(), base64, SASL
 * PLAIN and the dot-stuffer.
 *
 * Line finding and stuffing are incremental, so their cases run through a
 * small simulation fed whole, one byte at a time and in random chunks (and
 * the stuffer also with tiny output capacities); every run must give the
 * same result, and that result the expected one. Each command case is also
 * framed as "line\r\n" before being parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "core/base64.h"
#include "pop3/pop3_parse.h"
#include "unit.h"

static unsigned rng_state = 1;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/* ---- line framing ---- */

/*
 * A session reading lines: input arrives in chunks (0: whole, 1: bytes,
 * else random sizes); the event log names each line or error.
 */
static void frame(const char *in, size_t n, int chunking, size_t max, char *log, size_t logsz)
{
	char buf[4096];
	size_t have = 0, fed = 0, o = 0;
	int discarding = 0;

	log[0] = '\0';
	while (fed < n || have > 0) {
		size_t k = chunking == 0 ? n - fed : chunking == 1 ? 1 : 1 + rng() % 7;
		if (k > n - fed)
			k = n - fed;
		memcpy(buf + have, in + fed, k);
		have += k;
		fed += k;
		for (;;) {
			size_t ll, c;
			int r;
			if (discarding) {
				r = pop3_line_discard(buf, have, &c);
				memmove(buf, buf + c, have - c);
				have -= c;
				if (!r)
					break;
				discarding = 0;
				continue;
			}
			r = pop3_line_find(buf, have, max, &ll, &c);
			if (r == POP3_LINE_MORE)
				break;
			if (r == POP3_LINE_FOUND)
				o += (size_t)snprintf(log + o, logsz - o, "[%.*s]", (int)ll, buf);
			else
				o += (size_t)snprintf(log + o, logsz - o, "<%d>", r);
			if (r == POP3_LINE_TOO_LONG)
				discarding = 1;
			memmove(buf, buf + c, have - c);
			have -= c;
		}
		if (fed == n && k == 0)
			break;
	}
	if (have)
		snprintf(log + o, logsz - o, "+%zu", have);
}

static void check_frame_n(const char *in, size_t n, size_t max, const char *expect)
{
	char whole[2048], bytes[2048], chunks[2048];

	frame(in, n, 0, max, whole, sizeof(whole));
	frame(in, n, 1, max, bytes, sizeof(bytes));
	frame(in, n, 2, max, chunks, sizeof(chunks));
	CHECK_EQ_STR(whole, expect);
	CHECK_EQ_STR(bytes, expect);
	CHECK_EQ_STR(chunks, expect);
}

static void check_frame(const char *in, size_t max, const char *expect)
{
	check_frame_n(in, strlen(in), max, expect);
}

static void test_lines(void)
{
	char long_ok[300], long_bad[300], huge[600], expect[300];

	check_frame("CAPA\r\nNOOP\n", 253, "[CAPA][NOOP]");
	check_frame("USER a\r\nPASS", 253, "[USER a]+4");
	check_frame("\r\n\n", 253, "[][]");
	check_frame("NOOP\r\r\n", 253, "[NOOP\r]");
	check_frame_n("A\0B\r\nQUIT\r\n", 11, 253, "<-3>[QUIT]");

	/* Exactly 253 octets and CRLF: the longest line allowed. */
	memset(long_ok, 'x', 253);
	memcpy(long_ok + 253, "\r\nQUIT\r\n", 9);
	expect[0] = '[';
	memset(expect + 1, 'x', 253);
	memcpy(expect + 254, "][QUIT]", 8);
	check_frame(long_ok, 253, expect);
	/* 254 octets and CRLF: one over, but the LF arrives within max+2. */
	memset(long_bad, 'x', 254);
	memcpy(long_bad + 254, "\nQUIT\r\n", 8);
	check_frame(long_bad, 253, "<-2>[QUIT]");
	/* Far too long: reported once after max+2 octets, then discarded. */
	memset(huge, 'y', 500);
	memcpy(huge + 500, "\r\nSTAT\r\n", 9);
	check_frame(huge, 253, "<-1>[STAT]");
}

/* ---- commands ---- */

struct cmd_case {
	const char *line;
	enum pop3_verb verb;
	int rc;
	const char *arg;     /* NULL: not checked */
	int has_msg;
	uint32_t msg;
	uint64_t lines;
	const char *initial; /* NULL: no initial response */
};

static const struct cmd_case cmd_cases[] = {
	{ "CAPA", POP3_VERB_CAPA, 0, NULL, 0, 0, 0, NULL },
	{ "capa extra words", POP3_VERB_CAPA, 0, NULL, 0, 0, 0, NULL },
	{ "Quit", POP3_VERB_QUIT, 0, NULL, 0, 0, 0, NULL },
	{ "STLS", POP3_VERB_STLS, 0, NULL, 0, 0, 0, NULL },
	{ "UTF8", POP3_VERB_UTF8, 0, NULL, 0, 0, 0, NULL },
	{ "USER bob@example.test", POP3_VERB_USER, 0, "bob@example.test", 0, 0, 0, NULL },
	{ "USER  bob@example.test  ", POP3_VERB_USER, 0, "bob@example.test", 0, 0, 0, NULL },
	{ "USER", POP3_VERB_USER, -1, NULL, 0, 0, 0, NULL },
	{ "USER   ", POP3_VERB_USER, -1, NULL, 0, 0, 0, NULL },
	{ "PASS secret", POP3_VERB_PASS, 0, "secret", 0, 0, 0, NULL },
	{ "PASS  two words ", POP3_VERB_PASS, 0, " two words ", 0, 0, 0, NULL },
	{ "PASS", POP3_VERB_PASS, 0, "", 0, 0, 0, NULL },
	{ "AUTH", POP3_VERB_AUTH, 0, "", 0, 0, 0, NULL },
	{ "AUTH PLAIN", POP3_VERB_AUTH, 0, "PLAIN", 0, 0, 0, NULL },
	{ "AUTH PLAIN AGJvYgBwdw==", POP3_VERB_AUTH, 0, "PLAIN", 0, 0, 0, "AGJvYgBwdw==" },
	{ "auth login =", POP3_VERB_AUTH, 0, "login", 0, 0, 0, "=" },
	{ "AUTH PLAIN a b", POP3_VERB_AUTH, -1, NULL, 0, 0, 0, NULL },
	{ "STAT", POP3_VERB_STAT, 0, NULL, 0, 0, 0, NULL },
	{ "LIST", POP3_VERB_LIST, 0, NULL, 0, 0, 0, NULL },
	{ "LIST 3", POP3_VERB_LIST, 0, NULL, 1, 3, 0, NULL },
	{ "list 0", POP3_VERB_LIST, 0, NULL, 1, 0, 0, NULL },
	{ "LIST 4294967295", POP3_VERB_LIST, 0, NULL, 1, 4294967295u, 0, NULL },
	{ "LIST 4294967296", POP3_VERB_LIST, -1, NULL, 1, 0, 0, NULL },
	{ "LIST -1", POP3_VERB_LIST, -1, NULL, 1, 0, 0, NULL },
	{ "LIST 1x", POP3_VERB_LIST, -1, NULL, 1, 0, 0, NULL },
	{ "LIST 1 2", POP3_VERB_LIST, -1, NULL, 1, 1, 0, NULL },
	{ "UIDL", POP3_VERB_UIDL, 0, NULL, 0, 0, 0, NULL },
	{ "UIDL 12", POP3_VERB_UIDL, 0, NULL, 1, 12, 0, NULL },
	{ "RETR 1", POP3_VERB_RETR, 0, NULL, 1, 1, 0, NULL },
	{ "RETR", POP3_VERB_RETR, -1, NULL, 1, 0, 0, NULL },
	{ "RETR +1", POP3_VERB_RETR, -1, NULL, 1, 0, 0, NULL },
	{ "DELE 7", POP3_VERB_DELE, 0, NULL, 1, 7, 0, NULL },
	{ "DELE 7 ", POP3_VERB_DELE, 0, NULL, 1, 7, 0, NULL },
	{ "TOP 1 10", POP3_VERB_TOP, 0, NULL, 1, 1, 10, NULL },
	{ "TOP 1 0", POP3_VERB_TOP, 0, NULL, 1, 1, 0, NULL },
	{ "TOP 1 99999999999999999999999", POP3_VERB_TOP, 0, NULL, 1, 1, UINT64_MAX, NULL },
	{ "TOP 1", POP3_VERB_TOP, -1, NULL, 1, 1, 0, NULL },
	{ "TOP 1 x", POP3_VERB_TOP, -1, NULL, 1, 1, 0, NULL },
	{ "TOP 1 2 3", POP3_VERB_TOP, -1, NULL, 1, 1, 2, NULL },
	{ "NOOP", POP3_VERB_NOOP, 0, NULL, 0, 0, 0, NULL },
	{ "RSET", POP3_VERB_RSET, 0, NULL, 0, 0, 0, NULL },
	{ "APOP a b", POP3_VERB_APOP, 0, NULL, 0, 0, 0, NULL },
	{ "LANG", POP3_VERB_LANG, 0, "", 0, 0, 0, NULL },
	{ "LANG en", POP3_VERB_LANG, 0, "en", 0, 0, 0, NULL },
	{ "lang  *  ", POP3_VERB_LANG, 0, "*", 0, 0, 0, NULL },
	{ "LANG en fr", POP3_VERB_LANG, -1, NULL, 0, 0, 0, NULL },
	{ "XTND", POP3_VERB_UNKNOWN, 0, NULL, 0, 0, 0, NULL },
	{ "", POP3_VERB_UNKNOWN, 0, NULL, 0, 0, 0, NULL },
	{ " NOOP", POP3_VERB_UNKNOWN, 0, NULL, 0, 0, 0, NULL },
	{ "NOOPX", POP3_VERB_UNKNOWN, 0, NULL, 0, 0, 0, NULL },
};

static void test_commands(void)
{
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		char framed[300], log[600], expect[600];
		struct pop3_cmd cmd;
		int rc;

		snprintf(framed, sizeof(framed), "%s\r\n", c->line);
		snprintf(expect, sizeof(expect), "[%s]", c->line);
		frame(framed, strlen(framed), 1, POP3_LINE_MAX, log, sizeof(log));
		CHECK_EQ_STR(log, expect);

		rc = pop3_cmd_parse(str_c(c->line), &cmd);
		if (rc != c->rc || cmd.verb != c->verb)
			fprintf(stderr, "case \"%s\"\n", c->line);
		CHECK_EQ_INT(rc, c->rc);
		CHECK_EQ_INT(cmd.verb, c->verb);
		if (rc != 0) {
			CHECK(cmd.err != NULL && cmd.err[0] != '\0');
			continue;
		}
		if (c->arg)
			CHECK_EQ_SLICE(cmd.arg, c->arg);
		CHECK_EQ_INT(cmd.has_msg, c->has_msg);
		CHECK_EQ_INT(cmd.msg, c->msg);
		CHECK(cmd.lines == c->lines);
		CHECK_EQ_INT(cmd.has_initial, c->initial != NULL);
		if (c->initial)
			CHECK_EQ_SLICE(cmd.initial, c->initial);
	}
}

/* ---- LANG's language range (RFC 6856 §3, RFC 4647) ---- */

static void test_lang(void)
{
	static const struct {
		const char *range;
		int want;
	} cases[] = {
		{ "*", 1 },        { "en", 1 },        { "EN", 1 },      { "en-GB", 1 },
		{ "en-boont", 1 }, { "en-419", 1 },    { "de", 0 },      { "uga", 0 },
		{ "eng", 0 },      { "e", 0 },         { "english", 0 }, { "abcdefgh", 0 },
		{ "abcdefghi", -1 }, { "en-", -1 },    { "-en", -1 },    { "en--GB", -1 },
		{ "1en", -1 },     { "en_GB", -1 },    { "**", -1 },     { "*-en", -1 },
		{ "en-abcdefghi", -1 }, { "\xc3\xa9n", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = pop3_lang_select(str_c(cases[i].range));
		if (got != cases[i].want)
			fprintf(stderr, "range \"%s\"\n", cases[i].range);
		CHECK_EQ_INT(got, cases[i].want);
	}
}

/* ---- base64 and SASL PLAIN ---- */

static void test_base64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	static const char *const bad[] = { "Zg=", "Zg", "Zg==Zg==", "Zh==", "Zm9=", "Z===",
					   "====", "Zm9v!", "Zm 9v", "Zm9\n", "=Zm9" };
	char out[64];
	size_t n;

	for (size_t i = 0; i < 7; i++) {
		CHECK_EQ_INT(base64_decode(str_c(enc[i]), 0, out, sizeof(out), &n), 0);
		CHECK_EQ_INT(n, strlen(plain[i]));
		CHECK(memcmp(out, plain[i], n) == 0);
		CHECK_EQ_INT(base64_encode(plain[i], strlen(plain[i]), 0, out, sizeof(out)), 0);
		CHECK_EQ_STR(out, enc[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(base64_decode(str_c(bad[i]), 0, out, sizeof(out), &n), -1);
	/* Output capacity is respected. */
	CHECK_EQ_INT(base64_decode(str_c("Zm9vYmFy"), 0, out, 5, &n), -1);
	CHECK_EQ_INT(base64_decode(str_c("Zm9vYmFy"), 0, out, 6, &n), 0);
	CHECK_EQ_INT(base64_encode("foo", 3, 0, out, 4), -1);
	/* The challenges the session sends. */
	CHECK_EQ_INT(base64_encode("Username:", 9, 0, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "VXNlcm5hbWU6");
	CHECK_EQ_INT(base64_encode("Password:", 9, 0, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "UGFzc3dvcmQ6");
}

static void test_sasl_plain(void)
{
	struct str z, c, p;

	CHECK_EQ_INT(sasl_plain_split(str_make("\0bob\0pw", 7), &z, &c, &p), 0);
	CHECK_EQ_SLICE(z, "");
	CHECK_EQ_SLICE(c, "bob");
	CHECK_EQ_SLICE(p, "pw");
	CHECK_EQ_INT(sasl_plain_split(str_make("adm\0bob\0", 8), &z, &c, &p), 0);
	CHECK_EQ_SLICE(z, "adm");
	CHECK_EQ_SLICE(p, "");
	CHECK_EQ_INT(sasl_plain_split(str_make("bob\0pw", 6), &z, &c, &p), -1);
	CHECK_EQ_INT(sasl_plain_split(str_make("\0\0pw", 4), &z, &c, &p), -1);
	CHECK_EQ_INT(sasl_plain_split(str_make("\0a\0b\0c", 6), &z, &c, &p), -1);
	CHECK_EQ_INT(sasl_plain_split(str_make("", 0), &z, &c, &p), -1);
}

/* ---- dot-stuffing ---- */

/*
 * Runs the stuffer over src fed in pieces of src_step octets (0: whole)
 * into an output of at most cap octets per call, then appends the end of
 * the response the way the session does.
 */
static size_t stuff_run(const char *src, size_t n, int top, uint64_t lines, size_t src_step,
			size_t cap, char *out, size_t outsz)
{
	struct pop3_stuff st;
	size_t off = 0, o = 0;
	int guard = 0;

	memset(&st, 0, sizeof(st));
	st.top = top;
	st.lines = lines;
	while (off < n && !st.done && guard++ < 100000) {
		size_t avail = n - off, w;
		if (src_step && avail > src_step)
			avail = src_step;
		size_t room = outsz - o < cap ? outsz - o : cap;
		size_t used = pop3_stuff(&st, src + off, avail, out + o, room, &w);
		CHECK(w <= room);
		off += used;
		o += w;
	}
	CHECK(off == n || st.done);
	if (st.mid_line) {
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	out[o] = '\0';
	return o;
}

struct stuff_case {
	const char *src;
	int top;
	uint64_t lines;
	const char *expect;
};

static const struct stuff_case stuff_cases[] = {
	{ "a\r\n.b\r\n", 0, 0, "a\r\n..b\r\n.\r\n" },
	{ ".start\r\n", 0, 0, "..start\r\n.\r\n" },
	{ ".\r\n", 0, 0, "..\r\n.\r\n" },
	{ "x\r\n.\r\n..\r\n", 0, 0, "x\r\n..\r\n...\r\n.\r\n" },
	{ "no end", 0, 0, "no end\r\n.\r\n" },
	{ "a.b\r\n a\r\n", 0, 0, "a.b\r\n a\r\n.\r\n" },
	/* Bare LFs go out as CRLF (RFC 1939 §3); a bare CR stays. */
	{ "lf\n.dot\n", 0, 0, "lf\r\n..dot\r\n.\r\n" },
	{ "\n.\n\n", 0, 0, "\r\n..\r\n\r\n.\r\n" },
	{ "a\r\n\nb", 0, 0, "a\r\n\r\nb\r\n.\r\n" },
	{ "cr\r\rx\n", 0, 0, "cr\r\rx\r\n.\r\n" },
	{ "", 0, 0, ".\r\n" },
	{ "H: 1\r\nG: 2\r\n\r\nb1\r\n.b2\r\nb3\r\n", 1, 0, "H: 1\r\nG: 2\r\n\r\n.\r\n" },
	{ "H: 1\r\nG: 2\r\n\r\nb1\r\n.b2\r\nb3\r\n", 1, 2,
	  "H: 1\r\nG: 2\r\n\r\nb1\r\n..b2\r\n.\r\n" },
	{ "H: 1\r\n\r\nb1\r\n", 1, 5, "H: 1\r\n\r\nb1\r\n.\r\n" },
	{ "H: 1\r\n", 1, 5, "H: 1\r\n.\r\n" },
	{ "\r\nbody\r\n", 1, 0, "\r\n.\r\n" },
	{ "H: 1\n\nb\nc\n", 1, 1, "H: 1\r\n\r\nb\r\n.\r\n" },
	{ "H: 1\n\nb\nc\n", 1, 0, "H: 1\r\n\r\n.\r\n" },
	{ "H: .\r\n.\r\n\r\nb\r\n", 1, 0, "H: .\r\n..\r\n\r\n.\r\n" },
	{ "H: x\r\n\r\n\r\n\r\nb\r\n", 1, 2, "H: x\r\n\r\n\r\n\r\n.\r\n" },
};

static void test_stuff(void)
{
	/* At least 2: a stuffed dot is written whole (the session has more). */
	static const size_t caps[] = { 4096, 2, 3, 5 };
	static const size_t steps[] = { 0, 1, 2, 7 };
	char out[4096];

	for (size_t i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		const struct stuff_case *c = &stuff_cases[i];
		for (size_t a = 0; a < sizeof(caps) / sizeof(caps[0]); a++) {
			for (size_t b = 0; b < sizeof(steps) / sizeof(steps[0]); b++) {
				stuff_run(c->src, strlen(c->src), c->top, c->lines, steps[b],
					  caps[a], out, sizeof(out) - 8);
				if (strcmp(out, c->expect) != 0)
					fprintf(stderr, "stuff case %zu cap %zu step %zu\n", i,
						caps[a], steps[b]);
				CHECK_EQ_STR(out, c->expect);
			}
		}
	}
}

/* Random messages: unstuffing the output gives the input back, its bare
 * LFs made CRLF. */
static void test_stuff_roundtrip(void)
{
	static const char alphabet[] = ".\r\nab";
	char src[512], want[1200], out[1200], back[1200];

	for (int iter = 0; iter < 2000; iter++) {
		size_t n = rng() % 300, o, k = 0;
		for (size_t i = 0; i < n; i++)
			src[i] = alphabet[rng() % 5];
		o = stuff_run(src, n, 0, 0, 1 + rng() % 9, 2 + rng() % 9, out, sizeof(out) - 8);
		/* Unstuff: drop the terminator, then one dot at each line start. */
		size_t body = o - 3;
		if (body >= 2 && !(n && src[n - 1] == '\n'))
			body -= 2; /* the CRLF the session added */
		int line_start = 1;
		for (size_t i = 0; i < body; i++) {
			if (line_start && out[i] == '.') {
				CHECK(i + 1 < body && out[i + 1] == '.');
				i++;
			}
			back[k++] = out[i];
			line_start = out[i] == '\n';
		}
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			if (src[i] == '\n' && (i == 0 || src[i - 1] != '\r'))
				want[m++] = '\r';
			want[m++] = src[i];
		}
		CHECK_EQ_INT(k, m);
		CHECK(memcmp(back, want, m) == 0);
	}
}

int main(void)
{
	test_lines();
	test_commands();
	test_lang();
	test_base64();
	test_sasl_plain();
	test_stuff();
	test_stuff_roundtrip();
	return unit_done("test_pop3_parse");
}
