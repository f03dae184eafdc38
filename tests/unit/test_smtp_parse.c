/*
 * test_smtp_parse.c — smtp_line_find(), smtp_cmd_parse() and helpers.
 *
 * Line finding is incremental, so each line case is run through a small
 * simulated session (buffer, find, consume, discard after TOO_LONG) with the
 * input given whole, one byte at a time and in random chunks; the event
 * logs must match each other and the expected one. Every command case is
 * also sent as "line\r\n" through that session before being parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"
#include "unit.h"

/* ---- line finding ---- */

struct log {
	char s[8192];
	size_t n;
};

static void log_add(struct log *l, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && l->n + 5 < sizeof(l->s); i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == 0) {
			memcpy(l->s + l->n, "\\0", 2);
			l->n += 2;
		} else if (c == '\r') {
			memcpy(l->s + l->n, "\\r", 2);
			l->n += 2;
		} else {
			l->s[l->n++] = (char)c;
		}
	}
	l->s[l->n] = '\0';
}

static void log_str(struct log *l, const char *s)
{
	log_add(l, s, strlen(s));
}

static unsigned rng_state;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/*
 * Feeds input in chunks (chunk 0: whole; 1: bytes; else random sizes with
 * that seed) to a session that finds lines; returns the event log.
 */
static void run_lines(const char *in, size_t len, size_t max, unsigned chunk, struct log *l)
{
	char *acc = malloc(len + 1);
	size_t have = 0, pos = 0, got = 0, ll, c;
	int discarding = 0, r;
	char tmp[32];

	l->n = 0;
	l->s[0] = '\0';
	rng_state = chunk;
	while (got < len) {
		size_t step = chunk == 0 ? len : chunk == 1 ? 1 : 1 + rng() % 13;

		if (step > len - got)
			step = len - got;
		memcpy(acc + have, in + got, step);
		have += step;
		got += step;
		for (;;) {
			if (discarding) {
				r = smtp_line_discard(acc + pos, have - pos, &c);
				pos += c;
				if (r == 0)
					break;
				log_str(l, "~");
				discarding = 0;
				continue;
			}
			r = smtp_line_find(acc + pos, have - pos, max, &ll, &c);
			if (r == SMTP_LINE_MORE) {
				CHECK(c == 0 && ll == 0);
				break;
			}
			CHECK(c > 0 && c <= max + 2 && c <= have - pos);
			switch (r) {
			case SMTP_LINE_FOUND:
				CHECK(c == ll + 2);
				log_str(l, "<");
				break;
			case SMTP_LINE_BARE_LF:
				log_str(l, "LF<");
				break;
			case SMTP_LINE_BARE_CR:
				log_str(l, "CR<");
				break;
			case SMTP_LINE_NUL:
				log_str(l, "NUL<");
				break;
			case SMTP_LINE_TOO_LONG:
				CHECK(ll == 0);
				log_str(l, "LONG");
				discarding = 1;
				break;
			default:
				CHECK(!"bad return");
			}
			if (r != SMTP_LINE_TOO_LONG) {
				log_add(l, acc + pos, ll);
				log_str(l, ">");
			}
			pos += c;
		}
	}
	snprintf(tmp, sizeof(tmp), "|%zu", have - pos);
	log_str(l, tmp);
	free(acc);
}

static void check_lines(const char *in, size_t len, size_t max, const char *expect, int line)
{
	struct log whole, other;
	unsigned seed;

	run_lines(in, len, max, 0, &whole);
	unit_checks++;
	if (strcmp(whole.s, expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: lines \"%s\", expected \"%s\"\n", __FILE__, line, whole.s,
		        expect);
	}
	for (seed = 1; seed < 12; seed++) {
		run_lines(in, len, max, seed, &other);
		unit_checks++;
		if (strcmp(whole.s, other.s) != 0) {
			unit_failures++;
			fprintf(stderr, "%s:%d: chunking %u gives \"%s\", whole \"%s\"\n", __FILE__,
			        line, seed, other.s, whole.s);
		}
	}
}

#define LINES(in, max, expect) check_lines(in, sizeof(in) - 1, max, expect, __LINE__)

static void test_line_find(void)
{
	size_t ll, c;

	LINES("", 10, "|0");
	LINES("HELO x\r\n", 510, "<HELO x>|0");
	LINES("HELO x\r\nQUIT\r\n", 510, "<HELO x><QUIT>|0");
	LINES("\r\n", 510, "<>|0");
	LINES("NOOP", 510, "|4");
	LINES("NOOP\r", 510, "|5"); /* CR at the end: need more */
	LINES("NOOP\r\nRS", 510, "<NOOP>|2");
	/* exactly max, max+1, max+2 */
	LINES("0123456789\r\n", 10, "<0123456789>|0");
	LINES("01234567890\r\nQUIT\r\n", 10, "LONG~<QUIT>|0");
	LINES("012345678901\r\nQUIT\r\n", 10, "LONG~<QUIT>|0");
	LINES("0123456789012345678901234\r\nQUIT\r\n", 10, "LONG~<QUIT>|0");
	LINES("0123456789\n", 10, "LF<0123456789>|0");
	LINES("01234567890\nQUIT\r\n", 10, "LONG~<QUIT>|0");
	LINES("0123456789\r", 10, "|11");
	LINES("01234567890\r", 10, "LONG|0");
	LINES("0123456789a", 10, "|11");
	LINES("0123456789ab", 10, "LONG|0");
	LINES("0123456789abcdef", 10, "LONG|0");
	LINES("\r\n", 0, "<>|0");
	LINES("a\r\n", 0, "LONG~|0");
	/* defects */
	LINES("HELO x\n", 510, "LF<HELO x>|0");
	LINES("\n", 510, "LF<>|0");
	LINES("HELO\rx\r\n", 510, "CR<HELO\\rx>|0");
	LINES("HELO x\r\r\n", 510, "CR<HELO x\\r>|0");
	LINES("\r\r\n", 510, "CR<\\r>|0");
	LINES("HE\0LO\r\n", 510, "NUL<HE\\0LO>|0");
	LINES("HE\0L\rO\n", 510, "LF<HE\\0L\\rO>|0");
	LINES("HE\0L\rO\r\n", 510, "CR<HE\\0L\\rO>|0");
	LINES("MAIL FROM:<a>\rRCPT TO:<b>\r\nDATA\r\n", 510,
	      "CR<MAIL FROM:<a>\\rRCPT TO:<b>><DATA>|0");
	LINES("a\nb\r\nc\n", 510, "LF<a><b>LF<c>|0");

	/* Never reads past max+2 even when len is bigger. */
	CHECK_EQ_INT(smtp_line_find("abcdefgh\r\n", 10, 3, &ll, &c), SMTP_LINE_TOO_LONG);
	CHECK_EQ_INT(c, 5);
	CHECK_EQ_INT(smtp_line_find("abc\r\n", 5, 3, &ll, &c), SMTP_LINE_FOUND);
	CHECK_EQ_INT(ll, 3);
	CHECK_EQ_INT(c, 5);
	CHECK_EQ_INT(smtp_line_find("abcd\n", 5, 3, &ll, &c), SMTP_LINE_TOO_LONG);
	CHECK_EQ_INT(c, 4);
	CHECK_EQ_INT(smtp_line_discard("xyz", 3, &c), 0);
	CHECK_EQ_INT(c, 3);
	CHECK_EQ_INT(smtp_line_discard("x\nyz", 4, &c), 1);
	CHECK_EQ_INT(c, 2);
	CHECK_EQ_INT(smtp_line_discard("", 0, &c), 0);
	CHECK_EQ_INT(c, 0);
	CHECK_EQ_INT(smtp_line_find("", 0, 510, &ll, &c), SMTP_LINE_MORE);
	CHECK_EQ_INT(smtp_line_find("ab", 2, SIZE_MAX, &ll, &c), SMTP_LINE_MORE);
}

/* ---- commands ---- */

static const char *verb_name(enum smtp_verb v)
{
	static const char *names[] = {"UNKNOWN", "HELO", "EHLO", "MAIL",     "RCPT",
	                              "DATA",    "BDAT", "RSET", "NOOP",     "QUIT",
	                              "VRFY",    "EXPN", "HELP", "STARTTLS", "AUTH",
	                              "BURL"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

static void desc_add(char *d, size_t dsz, const char *prefix, struct str s)
{
	size_t n = strlen(d);

	snprintf(d + n, dsz - n, "%s%.*s", prefix, (int)s.len, s.p ? s.p : "");
}

/* A canonical text for everything smtp_cmd_parse() set. */
static void describe(const struct smtp_cmd *c, char *d, size_t dsz)
{
	const struct smtp_path *p = &c->path;
	const struct smtp_params *m = &c->params;
	size_t n;

	snprintf(d, dsz, "%s", verb_name(c->verb));
	switch (c->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		desc_add(d, dsz, " helo=", c->helo);
		if (c->helo_invalid)
			desc_add(d, dsz, " invalid", STR_LIT(""));
		return;
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		if (p->is_null)
			desc_add(d, dsz, " path=<>", STR_LIT(""));
		else if (p->is_postmaster)
			desc_add(d, dsz, " path=", p->local);
		else {
			desc_add(d, dsz, " path=", p->local);
			desc_add(d, dsz, "@", p->domain);
		}
		if (p->quoted)
			desc_add(d, dsz, " quoted", STR_LIT(""));
		if (p->domain_literal)
			desc_add(d, dsz, " literal", STR_LIT(""));
		if (p->had_route)
			desc_add(d, dsz, " route", STR_LIT(""));
		if (p->utf8)
			desc_add(d, dsz, " utf8", STR_LIT(""));
		n = strlen(d);
		if (m->seen & SMTP_PARAM_SIZE)
			n += (size_t)snprintf(d + n, dsz - n, " size=%llu",
			                      (unsigned long long)m->size);
		if (m->seen & SMTP_PARAM_BODY)
			n += (size_t)snprintf(d + n, dsz - n, " body=%d", (int)m->body);
		if (m->seen & SMTP_PARAM_SMTPUTF8)
			n += (size_t)snprintf(d + n, dsz - n, " smtputf8");
		if (m->seen & SMTP_PARAM_RET)
			n += (size_t)snprintf(d + n, dsz - n, " ret=%d", (int)m->ret);
		if (m->seen & SMTP_PARAM_NOTIFY)
			n += (size_t)snprintf(d + n, dsz - n, " notify=%x", m->notify);
		(void)n;
		if (m->seen & SMTP_PARAM_ENVID)
			desc_add(d, dsz, " envid=", m->envid);
		if (m->seen & SMTP_PARAM_AUTH)
			desc_add(d, dsz, " auth=", m->auth);
		if (m->seen & SMTP_PARAM_ORCPT) {
			desc_add(d, dsz, " orcpt=", m->orcpt_type);
			desc_add(d, dsz, ";", m->orcpt_addr);
		}
		if (m->seen & SMTP_PARAM_REQUIRETLS) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " requiretls");
		}
		if (m->seen & SMTP_PARAM_BY) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " by=%lld;%c%s", (long long)m->by_time, m->by_mode,
			         m->by_trace ? "T" : "");
		}
		if (m->seen & SMTP_PARAM_HOLDFOR) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " holdfor=%u", (unsigned)m->hold_for);
		}
		if (m->seen & SMTP_PARAM_HOLDUNTIL) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " holduntil=%lld", (long long)m->hold_until);
		}
		if (m->seen & SMTP_PARAM_MTPRIORITY) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " mtpriority=%d", m->mt_priority);
		}
		return;
	case SMTP_VERB_BDAT:
		n = strlen(d);
		snprintf(d + n, dsz - n, " size=%llu%s", (unsigned long long)c->bdat_size,
		         c->bdat_last ? " last" : "");
		return;
	case SMTP_VERB_BURL:
		desc_add(d, dsz, " url=", c->burl_url);
		if (c->bdat_last) {
			n = strlen(d);
			snprintf(d + n, dsz - n, " last");
		}
		return;
	case SMTP_VERB_AUTH:
		desc_add(d, dsz, " mech=", c->auth_mech);
		if (c->auth_initial.len)
			desc_add(d, dsz, " ir=", c->auth_initial);
		return;
	default:
		if (c->arg.len)
			desc_add(d, dsz, " arg=", c->arg);
		return;
	}
}

struct cmd_case {
	const char *line;
	int rc;
	const char *desc; /* for rc 0: describe(); else the expected cmd->err */
};

static const struct cmd_case cmd_cases[] = {
    /* verbs and arguments */
    {"", 0, "UNKNOWN"},
    {"FOO bar", 0, "UNKNOWN arg=bar"},
    {"MAILX FROM:<>", 0, "UNKNOWN arg=FROM:<>"},
    {" HELO x", 0, "UNKNOWN arg=HELO x"},
    {"QUIT", 0, "QUIT"},
    {"quit", 0, "QUIT"},
    {"QuIt  ", 0, "QUIT"},
    {"QUIT now", SMTP_PARSE_SYNTAX, "no argument allowed"},
    {"DATA", 0, "DATA"},
    {"DATA x", SMTP_PARSE_SYNTAX, "no argument allowed"},
    {"RSET", 0, "RSET"},
    {"RSET\t", 0, "RSET"},
    {"STARTTLS", 0, "STARTTLS"},
    {"STARTTLS x", SMTP_PARSE_SYNTAX, "no argument allowed"},
    {"NOOP", 0, "NOOP"},
    {"NOOP hello there", 0, "NOOP arg=hello there"},
    {"HELP", 0, "HELP"},
    {"HELP MAIL", 0, "HELP arg=MAIL"},
    {"VRFY", SMTP_PARSE_SYNTAX, "argument required"},
    {"VRFY postmaster", 0, "VRFY arg=postmaster"},
    {"EXPN list", 0, "EXPN arg=list"},
    {"EXPN  ", SMTP_PARSE_SYNTAX, "argument required"},

    /* HELO / EHLO */
    {"EHLO", SMTP_PARSE_SYNTAX, "argument required"},
    {"EHLO   ", SMTP_PARSE_SYNTAX, "argument required"},
    {"EHLO mail.example.com", 0, "EHLO helo=mail.example.com"},
    {"ehlo localhost", 0, "EHLO helo=localhost"},
    {"HELO a-b.c9", 0, "HELO helo=a-b.c9"},
    {"EHLO [192.0.2.1]", 0, "EHLO helo=[192.0.2.1]"},
    {"EHLO [IPv6:2001:db8::1]", 0, "EHLO helo=[IPv6:2001:db8::1]"},
    {"EHLO [ipv6:::1]", 0, "EHLO helo=[ipv6:::1]"},
    {"EHLO [IPv6:::ffff:192.0.2.1]", 0, "EHLO helo=[IPv6:::ffff:192.0.2.1]"},
    {"EHLO bücher.example", 0, "EHLO helo=bücher.example"},
    {"EHLO 192.0.2.1", 0, "EHLO helo=192.0.2.1 invalid"},
    {"EHLO [192.0.2.256]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [192.0.2]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [IPv6:2001:db8::g]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [tag:stuff]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"HELO [1.2.3]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [IPv6:zz]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [IPv6:1::2::3]", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [192.0.2.1", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO [192.0.2.1] extra", SMTP_PARSE_SYNTAX, "malformed address literal"},
    {"EHLO -bad.example", 0, "EHLO helo=-bad.example invalid"},
    {"EHLO bad-.example", 0, "EHLO helo=bad-.example invalid"},
    {"EHLO a..b", 0, "EHLO helo=a..b invalid"},
    {"EHLO example.com.", 0, "EHLO helo=example.com. invalid"},
    {"EHLO under_score.example", 0, "EHLO helo=under_score.example invalid"},
    {"EHLO two words", 0, "EHLO helo=two words invalid"},
    {"EHLO \xC3\x28.example", 0, "EHLO helo=\xC3\x28.example invalid"},
    {"HELO  spaced.example  ", 0, "HELO helo=spaced.example"},

    /* MAIL paths */
    {"MAIL FROM:<>", 0, "MAIL path=<>"},
    {"mail from:<>", 0, "MAIL path=<>"},
    {"MAIL FROM: <>", 0, "MAIL path=<>"},
    {"MAIL FROM:<a@b.example>", 0, "MAIL path=a@b.example"},
    {"MAIL FROM: <a@b.example>", 0, "MAIL path=a@b.example"},
    {"MAIL FROM:\t<a@b.example>", 0, "MAIL path=a@b.example"},
    {"MAIL   FROM:<a@b.example>  ", 0, "MAIL path=a@b.example"},
    {"MAIL FROM:<First.Last+tag@Example.COM>", 0, "MAIL path=First.Last+tag@Example.COM"},
    {"MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x.example>", 0, "MAIL path=!#$%&'*+-/=?^_`{|}~@x.example"},
    {"MAIL FROM:<\"john doe\"@x.example>", 0, "MAIL path=\"john doe\"@x.example quoted"},
    {"MAIL FROM:<\"a\\\"b\"@x.example>", 0, "MAIL path=\"a\\\"b\"@x.example quoted"},
    {"MAIL FROM:<\"a>b\"@x.example>", 0, "MAIL path=\"a>b\"@x.example quoted"},
    {"MAIL FROM:<\"\"@x.example>", 0, "MAIL path=\"\"@x.example quoted"},
    {"MAIL FROM:<a@[192.0.2.1]>", 0, "MAIL path=a@[192.0.2.1] literal"},
    {"MAIL FROM:<a@[IPv6:::1]>", 0, "MAIL path=a@[IPv6:::1] literal"},
    {"MAIL FROM:<@r1.example,@r2.example:a@b.example>", 0, "MAIL path=a@b.example route"},
    {"MAIL FROM:<@r1.example:a@b.example>", 0, "MAIL path=a@b.example route"},
    {"MAIL FROM:<@[192.0.2.1]:a@b.example>", 0, "MAIL path=a@b.example route"},
    {"MAIL FROM:<a@localhost>", 0, "MAIL path=a@localhost"},
    {"MAIL", SMTP_PARSE_SYNTAX, "argument required"},
    {"MAIL FROM:", SMTP_PARSE_SYNTAX, "expected MAIL FROM:<address>"},
    {"MAIL FROM", SMTP_PARSE_SYNTAX, "expected MAIL FROM:<address>"},
    {"MAIL TO:<a@b.example>", SMTP_PARSE_SYNTAX, "expected MAIL FROM:<address>"},
    {"MAIL FROM :<a@b.example>", SMTP_PARSE_SYNTAX, "expected MAIL FROM:<address>"},
    {"MAIL FROM:a@b.example", SMTP_PARSE_BAD_PATH, "address must be in angle brackets"},
    {"MAIL FROM:<a@b.example", SMTP_PARSE_BAD_PATH, "missing \">\""},
    {"MAIL FROM:<a@b.example>x", SMTP_PARSE_SYNTAX, "garbage after address"},
    {"MAIL FROM:<a@b.example>SIZE=1", SMTP_PARSE_SYNTAX, "garbage after address"},
    {"MAIL FROM:<a>", SMTP_PARSE_BAD_PATH, "address has no domain"},
    {"MAIL FROM:<postmaster>", SMTP_PARSE_BAD_PATH, "address has no domain"},
    {"MAIL FROM:<a@>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<@b.example>", SMTP_PARSE_BAD_PATH, "bad source route"},
    {"MAIL FROM:<a@@b.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@b@c.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a..b@x.example>", SMTP_PARSE_BAD_PATH, "empty atom in local part"},
    {"MAIL FROM:<.a@x.example>", SMTP_PARSE_BAD_PATH, "empty atom in local part"},
    {"MAIL FROM:<a.@x.example>", SMTP_PARSE_BAD_PATH, "empty atom in local part"},
    {"MAIL FROM:<a b@x.example>", SMTP_PARSE_BAD_PATH, "bad character in local part"},
    {"MAIL FROM:<a(b)@x.example>", SMTP_PARSE_BAD_PATH, "bad character in local part"},
    {"MAIL FROM:<\"ab@x.example>", SMTP_PARSE_BAD_PATH, "unterminated quoted local part"},
    {"MAIL FROM:<\"a\tb\"@x.example>", SMTP_PARSE_BAD_PATH, "bad character in local part"},
    {"MAIL FROM:<\"a\\", SMTP_PARSE_BAD_PATH, "bad quoted-pair in local part"},
    {"MAIL FROM:<\"a\"b@x.example>", SMTP_PARSE_BAD_PATH, "address has no domain"},
    {"MAIL FROM:<a@b..example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@example.>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@-x.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@x_y.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@192.0.2.1>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@[192.0.2.1>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@[300.0.2.1]>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@[1.2.3.4.5]>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@[1.2.3.4]x>", SMTP_PARSE_BAD_PATH, "missing \">\""},
    {"MAIL FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@[x:y]>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<@r1.example,a@b.example>", SMTP_PARSE_BAD_PATH, "bad source route"},
    {"MAIL FROM:<@r1.example;a@b.example>", SMTP_PARSE_BAD_PATH, "bad source route"},
    {"MAIL FROM:<<a@b.example>>", SMTP_PARSE_BAD_PATH, "bad character in local part"},

    /* SMTPUTF8 addresses */
    {"MAIL FROM:<josé@example.com> SMTPUTF8", 0, "MAIL path=josé@example.com utf8 smtputf8"},
    {"MAIL FROM:<用户@例子.广告>", 0, "MAIL path=用户@例子.广告 utf8"},
    {"MAIL FROM:<a@bücher.example>", 0, "MAIL path=a@bücher.example utf8"},
    {"MAIL FROM:<\"jö e\"@x.example>", 0, "MAIL path=\"jö e\"@x.example quoted utf8"},
    {"MAIL FROM:<\xF0\x9F\x98\x80@x.example>", 0, "MAIL path=\xF0\x9F\x98\x80@x.example utf8"},
    {"MAIL FROM:<\xF4\x8F\xBF\xBF@x.example>", 0, "MAIL path=\xF4\x8F\xBF\xBF@x.example utf8"},
    {"MAIL FROM:<\xC2\x80@x.example>", 0, "MAIL path=\xC2\x80@x.example utf8"},
    {"MAIL FROM:<\xC0\xAF@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xC1\xBF@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xE0\x80\xAF@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xF0\x80\x80\xAF@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xED\xA0\x80@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xF4\x90\x80\x80@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xF5\x80\x80\x80@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\xFF@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\x80@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<a\xC3@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<a\xE2\x82@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<\"\xC0\xAF\"@x.example>", SMTP_PARSE_BAD_PATH, "bad UTF-8 in local part"},
    {"MAIL FROM:<a@b\xC3\x28.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@\xED\xBF\xBF.example>", SMTP_PARSE_BAD_PATH, "bad domain"},
    {"MAIL FROM:<a@b\xC3\xBC_.example>", SMTP_PARSE_BAD_PATH, "bad domain"},

    /* MAIL parameters */
    {"MAIL FROM:<> SIZE=0", 0, "MAIL path=<> size=0"},
    {"MAIL FROM:<a@b.example> SIZE=12345", 0, "MAIL path=a@b.example size=12345"},
    {"MAIL FROM:<a@b.example> size=18446744073709551615", 0,
     "MAIL path=a@b.example size=18446744073709551615"},
    /* 1*20DIGIT (RFC 1870): past 2^64 is too big, not bad syntax. */
    {"MAIL FROM:<a@b.example> SIZE=18446744073709551616", 0,
     "MAIL path=a@b.example size=18446744073709551615"},
    {"MAIL FROM:<a@b.example> SIZE=99999999999999999999", 0,
     "MAIL path=a@b.example size=18446744073709551615"},
    {"MAIL FROM:<a@b.example> SIZE=00000000000000000001", 0, "MAIL path=a@b.example size=1"},
    {"MAIL FROM:<a@b.example> SIZE=000000000000000000001", SMTP_PARSE_BAD_PARAM, "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE=99999999999999999999999", SMTP_PARSE_BAD_PARAM,
     "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE=-1", SMTP_PARSE_BAD_PARAM, "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE=+1", SMTP_PARSE_BAD_PARAM, "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE=1k", SMTP_PARSE_BAD_PARAM, "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE", SMTP_PARSE_BAD_PARAM, "bad SIZE value"},
    {"MAIL FROM:<a@b.example> SIZE=", SMTP_PARSE_BAD_PARAM, "empty parameter value"},
    {"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", SMTP_PARSE_BAD_PARAM, "duplicate parameter"},
    {"MAIL FROM:<a@b.example> SIZE=1 size=1", SMTP_PARSE_BAD_PARAM, "duplicate parameter"},
    {"MAIL FROM:<a@b.example> BODY=8BITMIME", 0, "MAIL path=a@b.example body=2"},
    {"MAIL FROM:<a@b.example> body=7bit", 0, "MAIL path=a@b.example body=1"},
    {"MAIL FROM:<a@b.example> BODY=BINARYMIME", 0, "MAIL path=a@b.example body=3"},
    {"MAIL FROM:<a@b.example> BODY=8BIT", SMTP_PARSE_BAD_PARAM, "bad BODY value"},
    {"MAIL FROM:<a@b.example> BODY", SMTP_PARSE_BAD_PARAM, "bad BODY value"},
    {"MAIL FROM:<a@b.example> SMTPUTF8", 0, "MAIL path=a@b.example smtputf8"},
    {"MAIL FROM:<a@b.example> smtputf8", 0, "MAIL path=a@b.example smtputf8"},
    {"MAIL FROM:<a@b.example> SMTPUTF8=yes", SMTP_PARSE_BAD_PARAM, "SMTPUTF8 takes no value"},
    /* RFC 8689 */
    {"MAIL FROM:<a@b.example> REQUIRETLS", 0, "MAIL path=a@b.example requiretls"},
    {"MAIL FROM:<a@b.example> requiretls SMTPUTF8", 0, "MAIL path=a@b.example smtputf8 requiretls"},
    {"MAIL FROM:<a@b.example> REQUIRETLS=yes", SMTP_PARSE_BAD_PARAM, "REQUIRETLS takes no value"},
    {"RCPT TO:<a@b.example> REQUIRETLS", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    /* Deliver By (RFC 2852 §4): ["-"/"+"]1*9DIGIT ";" R/N ["T"]. */
    {"MAIL FROM:<a@b.example> BY=120;R", 0, "MAIL path=a@b.example by=120;R"},
    {"MAIL FROM:<a@b.example> by=-30;nt", 0, "MAIL path=a@b.example by=-30;NT"},
    {"MAIL FROM:<a@b.example> BY=+999999999;N", 0, "MAIL path=a@b.example by=999999999;N"},
    {"MAIL FROM:<a@b.example> BY=1000000000;R", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=60", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=60;", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=60;X", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=60;RTT", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=;R", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY", SMTP_PARSE_BAD_PARAM, "bad BY value"},
    {"MAIL FROM:<a@b.example> BY=1;R BY=2;R", SMTP_PARSE_BAD_PARAM, "duplicate parameter"},
    {"RCPT TO:<a@b.example> BY=1;R", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    /* FUTURERELEASE (RFC 4865 §3) */
    {"MAIL FROM:<a@b.example> HOLDFOR=3600", 0, "MAIL path=a@b.example holdfor=3600"},
    {"MAIL FROM:<a@b.example> holdfor=0", 0, "MAIL path=a@b.example holdfor=0"},
    {"MAIL FROM:<a@b.example> HOLDFOR=999999999", 0, "MAIL path=a@b.example holdfor=999999999"},
    {"MAIL FROM:<a@b.example> HOLDFOR=1000000000", SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value"},
    {"MAIL FROM:<a@b.example> HOLDFOR=-5", SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value"},
    {"MAIL FROM:<a@b.example> HOLDFOR=+5", SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value"},
    {"MAIL FROM:<a@b.example> HOLDFOR=1h", SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value"},
    {"MAIL FROM:<a@b.example> HOLDFOR", SMTP_PARSE_BAD_PARAM, "bad HOLDFOR value"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00Z", 0,
     "MAIL path=a@b.example holduntil=1796119200"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=2026-12-01T12:00:00+02:00", 0,
     "MAIL path=a@b.example holduntil=1796119200"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=2026-12-01", SMTP_PARSE_BAD_PARAM, "bad HOLDUNTIL value"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=1796119200", SMTP_PARSE_BAD_PARAM, "bad HOLDUNTIL value"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=2026-13-01T10:00:00Z", SMTP_PARSE_BAD_PARAM,
     "bad HOLDUNTIL value"},
    {"MAIL FROM:<a@b.example> HOLDFOR=5 HOLDUNTIL=2026-12-01T10:00:00Z", SMTP_PARSE_BAD_PARAM,
     "HOLDFOR and HOLDUNTIL together"},
    {"MAIL FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00Z HOLDFOR=5", SMTP_PARSE_BAD_PARAM,
     "HOLDFOR and HOLDUNTIL together"},
    {"MAIL FROM:<a@b.example> HOLDFOR=5 HOLDFOR=6", SMTP_PARSE_BAD_PARAM, "duplicate parameter"},
    {"RCPT TO:<a@b.example> HOLDFOR=5", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    /* MT-PRIORITY (RFC 6710 §6): [+/-]DIGIT, -9..9 */
    {"MAIL FROM:<a@b.example> MT-PRIORITY=3", 0, "MAIL path=a@b.example mtpriority=3"},
    {"MAIL FROM:<a@b.example> mt-priority=+9", 0, "MAIL path=a@b.example mtpriority=9"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=-9", 0, "MAIL path=a@b.example mtpriority=-9"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=0", 0, "MAIL path=a@b.example mtpriority=0"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=-0", 0, "MAIL path=a@b.example mtpriority=0"},
    {"MAIL FROM:<> SIZE=10 MT-PRIORITY=-4 BODY=8BITMIME", 0,
     "MAIL path=<> size=10 body=2 mtpriority=-4"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=10", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=-10", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=09", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=+", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=--1", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=+-1", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=high", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=1a", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY", SMTP_PARSE_BAD_PARAM, "bad MT-PRIORITY value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=", SMTP_PARSE_BAD_PARAM, "empty parameter value"},
    {"MAIL FROM:<a@b.example> MT-PRIORITY=1 MT-PRIORITY=1", SMTP_PARSE_BAD_PARAM,
     "duplicate parameter"},
    {"RCPT TO:<a@b.example> MT-PRIORITY=1", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    {"MAIL FROM:<a@b.example> RET=FULL", 0, "MAIL path=a@b.example ret=1"},
    {"MAIL FROM:<a@b.example> RET=hdrs", 0, "MAIL path=a@b.example ret=2"},
    {"MAIL FROM:<a@b.example> RET=NONE", SMTP_PARSE_BAD_PARAM, "bad RET value"},
    {"MAIL FROM:<a@b.example> ENVID=QQ314159", 0, "MAIL path=a@b.example envid=QQ314159"},
    {"MAIL FROM:<a@b.example> ENVID=a+2Bb+3d", 0, "MAIL path=a@b.example envid=a+2Bb+3d"},
    {"MAIL FROM:<a@b.example> ENVID=a+2", SMTP_PARSE_BAD_PARAM, "bad ENVID value"},
    {"MAIL FROM:<a@b.example> ENVID=a+zz", SMTP_PARSE_BAD_PARAM, "bad ENVID value"},
    /* RFC 3461 §4.4: printable once decoded (a space is; CR, DEL, 8-bit not). */
    {"MAIL FROM:<a@b.example> ENVID=a+20b", 0, "MAIL path=a@b.example envid=a+20b"},
    {"MAIL FROM:<a@b.example> ENVID=a+0Db", SMTP_PARSE_BAD_PARAM, "bad ENVID value"},
    {"MAIL FROM:<a@b.example> ENVID=a+7F", SMTP_PARSE_BAD_PARAM, "bad ENVID value"},
    {"MAIL FROM:<a@b.example> ENVID=+c3+a9", SMTP_PARSE_BAD_PARAM, "bad ENVID value"},
    {"MAIL FROM:<a@b.example> ENVID=a=b", SMTP_PARSE_BAD_PARAM, "bad parameter value"},
    {"MAIL FROM:<a@b.example> ENVID=\xC3\xA9", SMTP_PARSE_BAD_PARAM, "bad parameter value"},
    {"MAIL FROM:<a@b.example> AUTH=<>", 0, "MAIL path=a@b.example auth=<>"},
    {"MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com", 0,
     "MAIL path=a@b.example auth=e+3Dmc2@example.com"},
    {"MAIL FROM:<a@b.example> AUTH=a+", SMTP_PARSE_BAD_PARAM, "bad AUTH value"},
    {"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x AUTH=<>", 0,
     "MAIL path=a@b.example size=10 body=2 smtputf8 ret=2 envid=x auth=<>"},
    {"MAIL FROM:<a@b.example>   SIZE=10\t\tBODY=7BIT  ", 0, "MAIL path=a@b.example size=10 body=1"},
    {"MAIL FROM:<a@b.example> NOTIFY=NEVER", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    {"MAIL FROM:<a@b.example> X-FOO", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    {"MAIL FROM:<a@b.example> X-FOO=1", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    {"MAIL FROM:<a@b.example> -X", SMTP_PARSE_BAD_PARAM, "bad parameter syntax"},
    {"MAIL FROM:<a@b.example> =1", SMTP_PARSE_BAD_PARAM, "bad parameter syntax"},
    {"MAIL FROM:<a@b.example> S_Z=1", SMTP_PARSE_BAD_PARAM, "bad parameter syntax"},

    /* RCPT */
    {"RCPT TO:<b@c.example>", 0, "RCPT path=b@c.example"},
    {"rcpt to: <b@c.example>", 0, "RCPT path=b@c.example"},
    {"RCPT TO:<postmaster>", 0, "RCPT path=postmaster"},
    {"RCPT TO:<PostMaster>", 0, "RCPT path=PostMaster"},
    {"RCPT TO:<postmaster@c.example>", 0, "RCPT path=postmaster@c.example"},
    {"RCPT TO:<postmaster> NOTIFY=NEVER", 0, "RCPT path=postmaster notify=1"},
    {"RCPT TO:<postmasterx>", SMTP_PARSE_BAD_PATH, "address has no domain"},
    {"RCPT TO:<>", SMTP_PARSE_BAD_PATH, "null path not allowed here"},
    {"RCPT TO:<b@c.example> NOTIFY=SUCCESS,FAILURE,DELAY", 0, "RCPT path=b@c.example notify=e"},
    {"RCPT TO:<b@c.example> notify=failure", 0, "RCPT path=b@c.example notify=4"},
    {"RCPT TO:<b@c.example> NOTIFY=NEVER,SUCCESS", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> NOTIFY=SUCCESS,SUCCESS", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> NOTIFY=SUCCESS,", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> NOTIFY=,SUCCESS", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> NOTIFY=ALWAYS", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> NOTIFY", SMTP_PARSE_BAD_PARAM, "bad NOTIFY value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;b@c.example", 0,
     "RCPT path=b@c.example orcpt=rfc822;b@c.example"},
    /* RFC 6533 §3: the utf-8 type's "+" is "\x{2B}"; xtext's "+XX" is
     * the rfc822 type's, malformed here (it was read as "b+x"). */
    {"RCPT TO:<b@c.example> ORCPT=utf-8;b\\x{2B}x@c.example", 0,
     "RCPT path=b@c.example orcpt=utf-8;b\\x{2B}x@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;b+2Bx@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;caf\xC3\xA9+2B@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    /* RFC 6533 §3 utf-8-addr-unitext: UTF-8 in the utf-8 type only
     * (the session asks for SMTPUTF8), well formed, in no other param. */
    {"RCPT TO:<b@c.example> ORCPT=utf-8;caf\xC3\xA9@c.example", 0,
     "RCPT path=b@c.example orcpt=utf-8;caf\xC3\xA9@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=UTF-8;\xE4\xB8\xAD\\x{2B}@c.example", 0,
     "RCPT path=b@c.example orcpt=UTF-8;\xE4\xB8\xAD\\x{2B}@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;caf\xC3\xA9@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;caf\xC3@c.example", SMTP_PARSE_BAD_PARAM,
     "bad parameter value"},
    {"RCPT TO:<b@c.example> NOTIFY=N\xC3\xA9VER", SMTP_PARSE_BAD_PARAM, "bad parameter value"},
    {"MAIL FROM:<b@c.example> ENVID=\xC3\xA9", SMTP_PARSE_BAD_PARAM, "bad parameter value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=;b@c", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rf(c;b", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a+", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    /* RFC 3461 §4.2: the address decodes to printable US-ASCII (graphic
     * and space), as ENVID's: no control octet, NUL, DEL or 8-bit one
     * hidden in an escape, in either type's "+XX". */
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a+20b@c.example", 0,
     "RCPT path=b@c.example orcpt=rfc822;a+20b@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a+0D+0AX:+20y@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a+00@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a+7F@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=rfc822;caf+C3+A9@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;caf\xC3\xA9+0A@c.example", SMTP_PARSE_BAD_PARAM,
     "bad ORCPT value"},
    /* RFC 6533 §3 EmbeddedUnicodeChar "\x{" HEXPOINT "}": no leading
     * zero, no code point that must stand literally, no surrogate, none
     * past 10FFFF; "\" only so; and the result a Mailbox (no control). */
    {"RCPT TO:<b@c.example> ORCPT=utf-8;caf\\x{E9}.\\x{1F600}.\\x{10FFFF}.\\x{5c}@c.example", 0,
     "RCPT path=b@c.example orcpt=utf-8;caf\\x{E9}.\\x{1F600}.\\x{10FFFF}.\\x{5c}@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;\xC3\xA9\\x{D7FF}\\x{E000}@c.example", 0,
     "RCPT path=b@c.example orcpt=utf-8;\xC3\xA9\\x{D7FF}\\x{E000}@c.example"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{0}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{00}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{0A}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{7F}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{41}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{0E9}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{D800}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;\xC3\xA9\\x{DFFF}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{110000}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{1000000}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{E9@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\X{E9}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\b@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    {"RCPT TO:<b@c.example> ORCPT=utf-8;a\\x{G9}@c.example", SMTP_PARSE_BAD_PARAM, "bad ORCPT value"},
    /* the rfc822 type has no such escape: "\" is an xtext character */
    {"RCPT TO:<b@c.example> ORCPT=rfc822;a\\x{0}@c.example", 0,
     "RCPT path=b@c.example orcpt=rfc822;a\\x{0}@c.example"},
    {"RCPT TO:<b@c.example> NOTIFY=DELAY ORCPT=rfc822;b@c.example", 0,
     "RCPT path=b@c.example notify=8 orcpt=rfc822;b@c.example"},
    {"RCPT TO:<b@c.example> SIZE=1", SMTP_PARSE_UNKNOWN_PARAM, "unknown parameter"},
    {"RCPT TO:<b@c.example> NOTIFY=NEVER NOTIFY=NEVER", SMTP_PARSE_BAD_PARAM,
     "duplicate parameter"},
    {"RCPT FROM:<b@c.example>", SMTP_PARSE_SYNTAX, "expected RCPT TO:<address>"},
    {"RCPT TO:", SMTP_PARSE_SYNTAX, "expected RCPT TO:<address>"},
    {"RCPT TO:b@c.example", SMTP_PARSE_BAD_PATH, "address must be in angle brackets"},
    {"RCPT TO:<@x.example:b@c.example>", 0, "RCPT path=b@c.example route"},
    {"RCPT TO:<ü@c.example>", 0, "RCPT path=ü@c.example utf8"},

    /* BDAT */
    {"BDAT 0", 0, "BDAT size=0"},
    {"BDAT 1000", 0, "BDAT size=1000"},
    {"BDAT 1000 LAST", 0, "BDAT size=1000 last"},
    {"bdat 1000   last  ", 0, "BDAT size=1000 last"},
    {"BDAT 0 LAST", 0, "BDAT size=0 last"},
    {"BDAT 18446744073709551615", 0, "BDAT size=18446744073709551615"},
    {"BDAT 18446744073709551616", SMTP_PARSE_SYNTAX, "bad BDAT chunk size"},
    {"BDAT", SMTP_PARSE_SYNTAX, "argument required"},
    {"BURL", SMTP_PARSE_SYNTAX, "argument required"},
    {"BURL imap://u@h/X/;UID=1;URLAUTH=submit+u:internal:00 LAST", 0,
     "BURL url=imap://u@h/X/;UID=1;URLAUTH=submit+u:internal:00 last"},
    {"burl /x", 0, "BURL url=/x"},
    {"BURL imap://u@h/X/;UID=1 FIRST", SMTP_PARSE_SYNTAX, "expected BURL url [LAST]"},
    {"BDAT -1", SMTP_PARSE_SYNTAX, "bad BDAT chunk size"},
    {"BDAT +1", SMTP_PARSE_SYNTAX, "bad BDAT chunk size"},
    {"BDAT 1x", SMTP_PARSE_SYNTAX, "bad BDAT chunk size"},
    {"BDAT LAST", SMTP_PARSE_SYNTAX, "bad BDAT chunk size"},
    {"BDAT 10 LAST x", SMTP_PARSE_SYNTAX, "expected BDAT size [LAST]"},
    {"BDAT 10 FIRST", SMTP_PARSE_SYNTAX, "expected BDAT size [LAST]"},

    /* AUTH */
    {"AUTH PLAIN", 0, "AUTH mech=PLAIN"},
    {"AUTH plain AGZvbwBiYXI=", 0, "AUTH mech=plain ir=AGZvbwBiYXI="},
    {"AUTH PLAIN =", 0, "AUTH mech=PLAIN ir=="},
    {"AUTH SCRAM-SHA-256", 0, "AUTH mech=SCRAM-SHA-256"},
    {"AUTH X_Y", 0, "AUTH mech=X_Y"},
    {"AUTH", SMTP_PARSE_SYNTAX, "argument required"},
    {"AUTH PLAIN a b", SMTP_PARSE_SYNTAX, "extra argument after AUTH"},
    {"AUTH PL/AIN", SMTP_PARSE_SYNTAX, "bad SASL mechanism name"},
    {"AUTH ABCDEFGHIJKLMNOPQRSTU", SMTP_PARSE_SYNTAX, "bad SASL mechanism name"},
};

/* Sends "line\r\n" through run_lines() whole and bytewise; checks it survives. */
static void check_line_roundtrip(const char *line, int lineno)
{
	size_t n = strlen(line);
	char *in = malloc(n + 3);
	struct log a, b;
	char expect[2048];

	memcpy(in, line, n);
	memcpy(in + n, "\r\n", 2);
	run_lines(in, n + 2, 2048, 0, &a);
	run_lines(in, n + 2, 2048, 1, &b);
	snprintf(expect, sizeof(expect), "<%s>|0", line);
	unit_checks++;
	if (strcmp(a.s, b.s) != 0 || strcmp(a.s, expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: line \"%s\" framed as \"%s\" / \"%s\"\n", __FILE__, lineno,
		        line, a.s, b.s);
	}
	free(in);
}

static void test_cmd_table(void)
{
	size_t k;
	char d[1024];

	for (k = 0; k < sizeof(cmd_cases) / sizeof(cmd_cases[0]); k++) {
		const struct cmd_case *t = &cmd_cases[k];
		struct smtp_cmd cmd;
		int rc;

		/* A copy of exactly the line's length, so ASan sees any over-read. */
		size_t n = strlen(t->line);
		char *line = malloc(n ? n : 1);

		memcpy(line, t->line, n);
		check_line_roundtrip(t->line, (int)k);
		rc = smtp_cmd_parse(str_make(line, n), &cmd);
		unit_checks++;
		if (rc != t->rc) {
			unit_failures++;
			fprintf(stderr, "%s: case %zu \"%s\": rc %d, expected %d (err %s)\n",
			        __FILE__, k, t->line, rc, t->rc, cmd.err ? cmd.err : "-");
			free(line);
			continue;
		}
		if (rc == 0) {
			describe(&cmd, d, sizeof(d));
			CHECK(cmd.err == NULL);
		} else {
			snprintf(d, sizeof(d), "%s", cmd.err ? cmd.err : "(none)");
			/* bad points into the line */
			CHECK(cmd.bad.p == NULL ||
			      (cmd.bad.p >= line && cmd.bad.p + cmd.bad.len <= line + n));
		}
		unit_checks++;
		if (strcmp(d, t->desc) != 0) {
			unit_failures++;
			fprintf(stderr, "%s: case %zu \"%s\": \"%s\", expected \"%s\"\n", __FILE__,
			        k, t->line, d, t->desc);
		}
		free(line);
	}
}

/* Local part, domain and path length limits. */
static void test_cmd_limits(void)
{
	char line[1024], l64[80], d[300];
	struct smtp_cmd cmd;
	size_t i;

	memset(l64, 'a', 64);
	l64[64] = '\0';
	snprintf(line, sizeof(line), "MAIL FROM:<%s@x.example>", l64);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), 0);
	snprintf(line, sizeof(line), "MAIL FROM:<%sa@x.example>", l64);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), SMTP_PARSE_BAD_PATH);
	CHECK_EQ_STR(cmd.err, "local part too long");
	/* A 64-octet quoted local part counts its quotes. */
	snprintf(line, sizeof(line), "MAIL FROM:<\"%.62s\"@x.example>", l64);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), 0);
	snprintf(line, sizeof(line), "MAIL FROM:<\"%.63s\"@x.example>", l64);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), SMTP_PARSE_BAD_PATH);

	/* 63-octet label fine, 64 not */
	memset(d, 'b', 63);
	d[63] = '\0';
	snprintf(line, sizeof(line), "RCPT TO:<a@%s.example>", d);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), 0);
	snprintf(line, sizeof(line), "RCPT TO:<a@%sb.example>", d);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), SMTP_PARSE_BAD_PATH);

	/* Domain of exactly 255 octets: "x." * 127 + "z" = 255. */
	for (i = 0; i < 254; i += 2)
		memcpy(d + i, "x.", 2);
	d[254] = 'z';
	d[255] = '\0';
	CHECK(smtp_domain_valid(str_make(d, 255), NULL));
	d[255] = 'z';
	d[256] = '\0';
	CHECK(!smtp_domain_valid(str_make(d, 256), NULL));
	/* ... but the whole path may be 256 octets at most: "<a@" + 255 + ">" = 259. */
	d[255] = '\0';
	snprintf(line, sizeof(line), "RCPT TO:<a@%s>", d);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), SMTP_PARSE_BAD_PATH);
	CHECK_EQ_STR(cmd.err, "path too long");
	/* "<" + 64 + "@" + 189 + ">" = 256 */
	snprintf(line, sizeof(line), "RCPT TO:<%s@%s>", l64, d + 255 - 189);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), 0);
	snprintf(line, sizeof(line), "RCPT TO:<%s@%s>", l64, d + 255 - 191);
	CHECK_EQ_INT(smtp_cmd_parse(str_c(line), &cmd), SMTP_PARSE_BAD_PATH);
	CHECK_EQ_STR(cmd.err, "path too long");
}

static void test_helpers(void)
{
	struct smtp_cmd cmd;
	char buf[SMTP_ADDRESS_BUF], small[8];
	int utf8;

	CHECK_EQ_INT(smtp_cmd_parse(str_c("RCPT TO:<Joe.Smith@Mail.EXAMPLE.com>"), &cmd), 0);
	CHECK_EQ_INT(smtp_path_address(&cmd.path, buf, sizeof(buf)), 26);
	CHECK_EQ_STR(buf, "Joe.Smith@mail.example.com");
	CHECK_EQ_INT(smtp_path_address(&cmd.path, small, sizeof(small)), -1);
	CHECK_EQ_STR(small, "");
	CHECK_EQ_INT(smtp_path_address(&cmd.path, small, 0), -1);
	CHECK_EQ_INT(smtp_cmd_parse(str_c("RCPT TO:<PostMaster>"), &cmd), 0);
	CHECK_EQ_INT(smtp_path_address(&cmd.path, buf, sizeof(buf)), 10);
	CHECK_EQ_STR(buf, "postmaster");
	CHECK_EQ_INT(smtp_cmd_parse(str_c("MAIL FROM:<>"), &cmd), 0);
	CHECK_EQ_INT(smtp_path_address(&cmd.path, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(smtp_cmd_parse(str_c("MAIL FROM:<\"A B\"@[IPv6:ABCD::1]>"), &cmd), 0);
	smtp_path_address(&cmd.path, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "\"A B\"@[ipv6:abcd::1]");
	/* A bad BDAT says whether its chunk size was read (to skip it). */
	CHECK_EQ_INT(smtp_cmd_parse(str_c("BDAT 5 MORE"), &cmd), SMTP_PARSE_SYNTAX);
	CHECK(cmd.bdat_sized && cmd.bdat_size == 5);
	CHECK_EQ_INT(smtp_cmd_parse(str_c("BDAT 5x"), &cmd), SMTP_PARSE_SYNTAX);
	CHECK(!cmd.bdat_sized);
	CHECK_EQ_INT(smtp_cmd_parse(str_c("BDAT"), &cmd), SMTP_PARSE_SYNTAX);
	CHECK(!cmd.bdat_sized);
	CHECK_EQ_INT(smtp_cmd_parse(str_c("BDAT 0 LAST"), &cmd), 0);
	CHECK(cmd.bdat_sized && cmd.bdat_last);
	/* A quoted local part that is a dot-string in quotes loses them. */
	static const char *const unquote[][2] = {
	    {"RCPT TO:<\"bob\"@x.example>", "bob@x.example"},
	    {"RCPT TO:<\"b\\ob.smith\"@x.example>", "bob.smith@x.example"},
	    {"RCPT TO:<\"j\xC3\xB6rg\"@x.example>", "j\xC3\xB6rg@x.example"},
	    {"RCPT TO:<\"a+b=c\"@x.example>", "a+b=c@x.example"},
	    {"RCPT TO:<\"john doe\"@x.example>", "\"john doe\"@x.example"},
	    {"RCPT TO:<\"a..b\"@x.example>", "\"a..b\"@x.example"},
	    {"RCPT TO:<\".a\"@x.example>", "\".a\"@x.example"},
	    {"RCPT TO:<\"a.\"@x.example>", "\"a.\"@x.example"},
	    {"RCPT TO:<\"\"@x.example>", "\"\"@x.example"},
	    {"RCPT TO:<\"a\\\"b\"@x.example>", "\"a\\\"b\"@x.example"},
	    {"RCPT TO:<\"a@b\"@x.example>", "\"a@b\"@x.example"},
	};
	for (size_t i = 0; i < sizeof(unquote) / sizeof(unquote[0]); i++) {
		CHECK_EQ_INT(smtp_cmd_parse(str_c(unquote[i][0]), &cmd), 0);
		CHECK_EQ_INT(smtp_path_address(&cmd.path, buf, sizeof(buf)), (int)strlen(unquote[i][1]));
		CHECK_EQ_STR(buf, unquote[i][1]);
	}
	CHECK_EQ_INT(smtp_cmd_parse(str_c("MAIL FROM:<Ü@BÜCHER.Example>"), &cmd), 0);
	smtp_path_address(&cmd.path, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "Ü@bÜcher.example");

	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("a+2Bb+3Dc"), buf, sizeof(buf)), 5);
	CHECK_EQ_STR(buf, "a+b=c");
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("+2b"), buf, sizeof(buf)), 1);
	CHECK_EQ_STR(buf, "+");
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT(""), buf, sizeof(buf)), 0);
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("a+2"), buf, sizeof(buf)), -1);
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("a b"), buf, sizeof(buf)), -1);
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("abcd"), small, 4), -1);
	CHECK_EQ_INT(smtp_xtext_decode(STR_LIT("abc"), small, 4), 3);

	/* ORCPT as kept: xtext decoded; the utf-8 type's UTF-8 as \x{HEX}
	 * (RFC 6533's ASCII form, fewest digits), its escapes as sent. */
	CHECK_EQ_INT(smtp_orcpt_decode(STR_LIT("rfc822"), STR_LIT("a+2Bb@c"), buf, sizeof(buf)), 5);
	CHECK_EQ_STR(buf, "a+b@c");
	CHECK(smtp_orcpt_decode(STR_LIT("utf-8"), STR_LIT("caf\\x{E9}@c"), buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, "caf\\x{E9}@c");
	CHECK(smtp_orcpt_decode(STR_LIT("UTF-8"), STR_LIT("caf\xC3\xA9.\xE4\xB8\xAD.\xF0\x9F\x98\x80@c"), buf,
				sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, "caf\\x{E9}.\\x{4E2D}.\\x{1F600}@c");
	CHECK_EQ_INT(smtp_orcpt_decode(STR_LIT("utf-8"), STR_LIT("\xC3\xA9"), small, 4), -1);

	CHECK(smtp_utf8_valid(STR_LIT("")));
	CHECK(smtp_utf8_valid(STR_LIT("plain")));
	CHECK(smtp_utf8_valid(STR_LIT("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF")));
	CHECK(smtp_utf8_valid(STR_LIT("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF")));
	CHECK(smtp_utf8_valid(STR_LIT("\xED\x9F\xBF\xEE\x80\x80")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xC0\x80")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xE0\x9F\xBF")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xED\xA0\x80")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xED\xBF\xBF")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xF0\x8F\xBF\xBF")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xF4\x90\x80\x80")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xF8\x88\x80\x80\x80")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xE2\x82")));
	CHECK(!smtp_utf8_valid(STR_LIT("\xE2\x28\xA1")));
	CHECK(!smtp_utf8_valid(STR_LIT("a\xBF")));

	CHECK(smtp_domain_valid(STR_LIT("xn--bcher-kva.example"), &utf8));
	CHECK_EQ_INT(utf8, 0);
	CHECK(smtp_domain_valid(STR_LIT("bücher.example"), &utf8));
	CHECK_EQ_INT(utf8, 1);
	CHECK(smtp_domain_valid(STR_LIT("a"), NULL));
	CHECK(smtp_domain_valid(STR_LIT("1a.example"), NULL));
	CHECK(smtp_domain_valid(STR_LIT("example.1a"), NULL));
	CHECK(!smtp_domain_valid(STR_LIT("example.123"), NULL));
	CHECK(!smtp_domain_valid(STR_LIT(""), NULL));
	CHECK(!smtp_domain_valid(STR_LIT("."), NULL));
	CHECK(!smtp_domain_valid(STR_LIT("a b"), NULL));
	CHECK(!smtp_domain_valid(STR_LIT("ü-"), NULL));
	CHECK(smtp_addr_literal_valid(STR_LIT("[0.0.0.0]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[255.255.255.255]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:::]")));
	CHECK(smtp_addr_literal_valid(
	    STR_LIT("[IPv6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]")));
	CHECK(!smtp_addr_literal_valid(
	    STR_LIT("[IPv6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[1.2.3.4")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[1.2.3.0004]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[1.2.3.]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[.1.2.3]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1.2.3.4]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:::1\0]")));
	/* RFC 5321 §4.1.3: "::" stands for at least two groups of zeros,
	 * with at most six groups (four before an IPv4 address) around it. */
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6:7:8]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3::6:7:8]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6::]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:::2:3:4:5:6:7]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1::]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:::1.2.3.4]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4::1.2.3.4]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6:1.2.3.4]")));
	CHECK(smtp_addr_literal_valid(STR_LIT("[ipv6:ABCD:ef01::1]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6:7::]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:::2:3:4:5:6:7:8]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3::5:6:7:8]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5::1.2.3.4]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6:7]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:1.2.3.4]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:2:3:4:5:6:7:8:]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6::1:2:3:4:5:6:7:8]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1:::2]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:1::2::3]")));
	CHECK(!smtp_addr_literal_valid(STR_LIT("[IPv6:12345::1]")));
}

/* An IDN domain's other spelling (smtp_domain_other_form). */
static void test_domain_other_form(void)
{
	char d[SMTP_DOMAIN_MAX + 1], big[300];

	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("bücher.test"), d, sizeof d), 18);
	CHECK(strcmp(d, "xn--bcher-kva.test") == 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("mx.xn--bcher-kva.test"), d, sizeof d), 15);
	CHECK(strcmp(d, "mx.bücher.test") == 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("xn--bcher-kva.xn--mnchen-3ya.de"), d, sizeof d),
	             19);
	CHECK(strcmp(d, "bücher.münchen.de") == 0);
	/* Mixed: the ASCII spelling of it all. */
	CHECK(smtp_domain_other_form(STR_LIT("xn--bcher-kva.münchen.de"), d, sizeof d) > 0);
	CHECK(strcmp(d, "xn--bcher-kva.xn--mnchen-3ya.de") == 0);
	/* Nothing to convert, or nothing that converts. */
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("example.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("axn--b.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("xn--.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("xn--a_b-kva.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("xn--abc-.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("xn----eha.test"), d, sizeof d), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("bücher.test"), d, 18), 0);
	CHECK_EQ_INT(smtp_domain_other_form(STR_LIT("bücher.test"), d, 0), 0);
	/* "ü" and four labels of 60 is 246 octets, 251 as "xn--tda"...;
	 * another ".aaaaaaa" takes it to 254, and 259 past SMTP_DOMAIN_MAX. */
	memset(big, 'a', sizeof big);
	memcpy(big, "\xC3\xBC", 2);
	for (int i = 0; i < 5; i++)
		big[2 + 61 * i] = '.';
	CHECK(smtp_domain_valid(str_make(big, 254), NULL));
	CHECK_EQ_INT(smtp_domain_other_form(str_make(big, 246), d, sizeof d), 251);
	CHECK_EQ_INT(smtp_domain_other_form(str_make(big, 254), d, sizeof d), 0);
}

/* A bare mailbox (a Sieve redirect's) read as RCPT TO reads a path. */
static void test_mailbox_address(void)
{
	char buf[SMTP_ADDRESS_BUF];

	CHECK_EQ_INT(smtp_mailbox_address(str_c("\"bob\"@Example.TEST"), buf, sizeof buf), 16);
	CHECK_EQ_STR(buf, "bob@example.test");
	CHECK_EQ_INT(smtp_mailbox_address(str_c("\"john doe\"@x.test"), buf, sizeof buf), 17);
	CHECK_EQ_STR(buf, "\"john doe\"@x.test");
	CHECK_EQ_INT(smtp_mailbox_address(str_c("\"a\\\"b\"@x.test"), buf, sizeof buf), 13);
	CHECK_EQ_STR(buf, "\"a\\\"b\"@x.test");
	/* nothing RCPT would not take as one path, nor more than the path */
	static const char *const bad[] = { "<a@x.test>", "a@x.test> NOTIFY=NEVER", "@r.test:a@x.test",
		                           "postmaster", "a b@x.test", "a@x.test\r\nDATA", "\"a@x.test",
		                           "a@", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(smtp_mailbox_address(str_c(bad[i]), buf, sizeof buf), -1);
		CHECK_EQ_STR(buf, "");
	}
	CHECK_EQ_INT(smtp_mailbox_address(str_c("a@x.test"), buf, 4), -1);
}

int main(void)
{
	test_line_find();
	test_cmd_table();
	test_cmd_limits();
	test_helpers();
	test_domain_other_form();
	test_mailbox_address();
	return unit_done("test_smtp_parse");
}
