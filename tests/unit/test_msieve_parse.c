/*
 * test_msieve_parse.c — ManageSieve command lines (msieve_parse.c):
 * names, quoted strings with their escapes, literals in both forms,
 * numbers, every error result, the size check on a literal before its
 * octets, the need hint, and every command fed one byte at a time
 * (each prefix must ask for more, never succeed early or fail).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/msieve_parse.h"
#include "unit.h"

static struct msieve_cmd cmd;

static int parse(const char *s, size_t *consumed)
{
	size_t need;
	return msieve_parse(s, strlen(s), MSIEVE_LITERAL_MAX, &cmd, consumed, &need);
}

/* Every proper prefix of an OK command is MORE, with a need past it. */
static void bytewise(const char *s)
{
	size_t n = strlen(s), consumed, need;
	for (size_t i = 0; i < n; i++) {
		int r = msieve_parse(s, i, MSIEVE_LITERAL_MAX, &cmd, &consumed, &need);
		CHECK_EQ_INT(r, MSIEVE_MORE);
		CHECK(need > i);
	}
	CHECK_EQ_INT(msieve_parse(s, n, MSIEVE_LITERAL_MAX, &cmd, &consumed, &need), MSIEVE_OK);
	CHECK_EQ_INT(consumed, n);
}

int main(void)
{
	size_t c;

	CHECK_EQ_INT(parse("LISTSCRIPTS\r\n", &c), MSIEVE_OK);
	CHECK_EQ_SLICE(cmd.name, "LISTSCRIPTS");
	CHECK_EQ_INT(cmd.nargs, 0);
	CHECK_EQ_INT(c, 13);
	CHECK_EQ_INT(parse("noop\nNOOP\r\n", &c), MSIEVE_OK);
	CHECK_EQ_INT(c, 5);
	CHECK_EQ_INT(parse("PUTSCRIPT \"a\\\"b\\\\\" {5+}\r\nkeep;\r\n", &c), MSIEVE_OK);
	CHECK_EQ_INT(cmd.nargs, 2);
	CHECK_EQ_SLICE(cmd.args[0].s, "a\"b\\");
	CHECK_EQ_SLICE(cmd.args[1].s, "keep;");
	CHECK(cmd.args[1].literal);
	CHECK_EQ_INT(parse("CHECKSCRIPT {3}\r\na\r\n\r\n", &c), MSIEVE_OK);
	CHECK_EQ_SLICE(cmd.args[0].s, "a\r\n");
	CHECK_EQ_INT(parse("HAVESPACE \"x\" 12345\r\n", &c), MSIEVE_OK);
	CHECK_EQ_INT(cmd.args[1].kind, MSIEVE_ARG_NUMBER);
	CHECK_EQ_INT(cmd.args[1].num, 12345);

	/* Errors, each consuming through the line end. */
	CHECK_EQ_INT(parse("\r\nNOOP\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(c, 2);
	CHECK_EQ_STR(cmd.err, "Expected a command name");
	CHECK_EQ_INT(parse("NOOP \"a\\x\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_STR(cmd.err, "Invalid escape in a quoted string");
	CHECK_EQ_INT(parse("NOOP \"a\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP x\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP  \"a\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP {x}\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP {1x\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP \"a\"\"b\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("A \"1\" \"2\" \"3\" \"4\" \"5\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_STR(cmd.err, "Too many arguments");
	CHECK_EQ_INT(parse("NOOP 99999999999999999999999\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP \"a\"\rX\r\n", &c), MSIEVE_BAD);
	/* A refused line that announces a literal: its octets are to be skipped. */
	CHECK_EQ_INT(parse("PUTSCRIPT \"a\\q\" {13+}\r\nNOOP \"evil\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(c, strlen("PUTSCRIPT \"a\\q\" {13+}\r\n"));
	CHECK_EQ_INT(cmd.skip, 13);
	CHECK_EQ_INT(parse("NOOP \"1\" \"2\" \"3\" \"4\" {7}\r\nx\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(cmd.skip, 7);
	CHECK_EQ_INT(parse("NOOP x\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(cmd.skip, 0);
	CHECK_EQ_INT(cmd.skip_literal, 0);
	/* "{0+}" announces a literal too: no octets, but the command goes on. */
	CHECK_EQ_INT(parse("NOOP \"a\\q\" {0+}\r\n\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(cmd.skip, 0);
	CHECK_EQ_INT(cmd.skip_literal, 1);
	{
		uint64_t n = 99;
		CHECK_EQ_INT(msieve_line_literal("a {12+}\r\n", 9, &n), 1);
		CHECK_EQ_INT(n, 12);
		CHECK_EQ_INT(msieve_line_literal("{0}\n", 4, &n), 1);
		CHECK_EQ_INT(n, 0);
		CHECK_EQ_INT(msieve_line_literal("{4294967295+}\r\n", 15, &n), 1);
		CHECK_EQ_INT(n, 4294967295u);
		CHECK_EQ_INT(msieve_line_literal("{4294967296+}\r\n", 15, &n), 0);
		/* leading zeros, as the parser takes them */
		CHECK_EQ_INT(msieve_line_literal("x {00000000006+}\r\n", strlen("x {00000000006+}\r\n"), &n), 1);
		CHECK_EQ_INT(n, 6);
		CHECK_EQ_INT(msieve_line_literal("{000000000004294967295}\n", strlen("{000000000004294967295}\n"), &n), 1);
		CHECK_EQ_INT(n, 4294967295u);
		CHECK_EQ_INT(msieve_line_literal("{100000000006+}\r\n", strlen("{100000000006+}\r\n"), &n), 0);
		CHECK_EQ_INT(msieve_line_literal("{00000000004294967296}\n", strlen("{00000000004294967296}\n"), &n), 0);
		CHECK_EQ_INT(msieve_line_literal("{}\r\n", 4, &n), 0);
		CHECK_EQ_INT(msieve_line_literal("{1x}\r\n", 6, &n), 0);
		CHECK_EQ_INT(msieve_line_literal("12}\r\n", 5, &n), 0);
		CHECK_EQ_INT(msieve_line_literal("{12++}\r\n", 8, &n), 0);
		CHECK_EQ_INT(msieve_line_literal("\r\n", 2, &n), 0);
		CHECK_EQ_INT(msieve_line_literal("", 0, &n), 0);
	}
	/* RFC 5804 §4: a quoted string is UTF-8 (SAFE-UTF8-CHAR); a literal is octets. */
	CHECK_EQ_INT(parse("NOOP \"a\xff\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_STR(cmd.err, "Invalid UTF-8 in a quoted string");
	CHECK_EQ_INT(c, 11);
	CHECK_EQ_INT(parse("NOOP \"\xc3\x28\"\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("NOOP \"caf\xc3\xa9\"\r\n", &c), MSIEVE_OK);
	CHECK_EQ_INT(parse("NOOP {1+}\r\n\xff\r\n", &c), MSIEVE_OK);

	/* A literal over the limit: refused from its size, its octets to skip. */
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {600000+}\r\n###", &c), MSIEVE_TOOBIG);
	CHECK_EQ_INT(c, strlen("PUTSCRIPT \"b\" {600000+}\r\n"));
	CHECK_EQ_INT(cmd.skip, 600000);
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {524289}\r\n", &c), MSIEVE_TOOBIG);
	CHECK_EQ_INT(cmd.skip, 524289);
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {4294967295+}\r\n", &c), MSIEVE_TOOBIG);
	CHECK_EQ_INT(cmd.skip, 4294967295u);
	/* A size past 32 bits (RFC 5804's "number") is no literal: the command
	 * ends at the line end, and the next line is read as a command. */
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {4294967296+}\r\nNOOP\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(c, strlen("PUTSCRIPT \"b\" {4294967296+}\r\n"));
	CHECK_EQ_STR(cmd.err, "Literal size is not a 32-bit number");
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {99999999999999999999999999+}\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {99999999999999999999999999", &c), MSIEVE_MORE);
	CHECK_EQ_INT(parse("PUTSCRIPT \"b\" {524288+}\r\n", &c), MSIEVE_MORE);
	/* An announcement over the limit but malformed announces nothing:
	 * a syntax error through its line's end, nothing to skip (it was
	 * TOOBIG, the next 600000 octets, commands, skipped). */
	CHECK_EQ_INT(parse("NOOP {600000 x\r\nNOOP\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(c, strlen("NOOP {600000 x\r\n"));
	CHECK_EQ_INT(cmd.skip, 0);
	CHECK_EQ_INT(parse("NOOP {600000+}x\r\nNOOP\r\n", &c), MSIEVE_BAD);
	CHECK_EQ_INT(c, strlen("NOOP {600000+}x\r\n"));
	CHECK_EQ_INT(cmd.skip, 0);
	CHECK_EQ_INT(parse("NOOP {600000+", &c), MSIEVE_MORE);
	CHECK_EQ_INT(parse("NOOP {600000}\n###", &c), MSIEVE_TOOBIG);
	CHECK_EQ_INT(c, strlen("NOOP {600000}\n"));

	/* Before authentication the caller's limit is 4096 octets: the
	 * longest SASL response fits, a script's worth does not. */
	{
		size_t need, consumed;
		const char *auth = "AUTHENTICATE \"PLAIN\" {4096+}\r\n";
		CHECK_EQ_INT(msieve_parse(auth, strlen(auth), MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &need),
		             MSIEVE_MORE);
		CHECK_EQ_INT(need, strlen(auth) + 4096 + 1);
		const char *big = "NOOP {4097+}\r\n###";
		CHECK_EQ_INT(msieve_parse(big, strlen(big), MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &need),
		             MSIEVE_TOOBIG);
		CHECK_EQ_INT(consumed, strlen("NOOP {4097+}\r\n"));
		CHECK_EQ_INT(cmd.skip, 4097);
		CHECK_EQ_STR(cmd.err, "Literal larger than 4096 octets");
		/* The same literal once authenticated: waits for its octets. */
		CHECK_EQ_INT(msieve_parse(big, strlen(big), MSIEVE_LITERAL_MAX, &cmd, &consumed, &need),
		             MSIEVE_MORE);
		CHECK_EQ_INT(msieve_parse_response("{524288+}\r\n", 12, MSIEVE_LITERAL_PREAUTH, &cmd,
		                                   &consumed, &need),
		             MSIEVE_TOOBIG);
	}

	/* The need hint covers a literal's octets. */
	size_t need = 0;
	const char *partial = "PUTSCRIPT \"b\" {100+}\r\nkeep;";
	CHECK_EQ_INT(msieve_parse(partial, strlen(partial), MSIEVE_LITERAL_MAX, &cmd, &c, &need), MSIEVE_MORE);
	CHECK_EQ_INT(need, strlen("PUTSCRIPT \"b\" {100+}\r\n") + 100 + 1);

	/* A line without an end past the limit. */
	char *longl = malloc(MSIEVE_LINE_MAX + 10);
	memset(longl, 'A', MSIEVE_LINE_MAX + 9);
	longl[MSIEVE_LINE_MAX + 9] = '\0';
	CHECK_EQ_INT(parse(longl, &c), MSIEVE_LONG);
	/* The last octets stay: they may begin a literal's announcement. */
	CHECK_EQ_INT(c, MSIEVE_LINE_MAX + 9 - MSIEVE_ANNOUNCE_MAX);
	memcpy(longl, "NOOP \"", 6);
	CHECK_EQ_INT(parse(longl, &c), MSIEVE_LONG);
	CHECK_EQ_INT(c, MSIEVE_LINE_MAX + 9 - MSIEVE_ANNOUNCE_MAX);
	/* A number, a literal's size (under the limit, or over it), or what
	 * follows an oversized literal's announcement, without a line end:
	 * the limit is the line's whichever token it stops in (a run of
	 * zeros was buffered up to MSIEVE_IN_MAX, before authentication too,
	 * its 9 KiB here MORE). */
	{
		const char *heads[] = { "HAVESPACE \"a\" 0", "NOOP {0", "NOOP {9", "NOOP {900000+}x" };
		for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
			size_t h = strlen(heads[k]);
			memset(longl, heads[k][h - 1], MSIEVE_LINE_MAX + 9);
			memcpy(longl, heads[k], h);
			CHECK_EQ_INT(parse(longl, &c), MSIEVE_LONG);
			CHECK_EQ_INT(c, MSIEVE_LINE_MAX + 9 - MSIEVE_ANNOUNCE_MAX);
			CHECK_EQ_INT(msieve_parse(longl, MSIEVE_LINE_MAX - 1, MSIEVE_LITERAL_MAX, &cmd, &c, &need),
			             MSIEVE_MORE);
		}
	}
	free(longl);

	/* A whole line past the limit is refused too, through its end only
	 * (what follows is the next command); it was OK when it came at
	 * once and MSIEVE_LONG when it came in pieces. */
	{
		size_t big = 3 * MSIEVE_LINE_MAX;
		char *l = malloc(big);
		memset(l, 'A', MSIEVE_LINE_MAX);
		strcpy(l + MSIEVE_LINE_MAX, "\r\nNOOP\r\n");
		CHECK_EQ_INT(parse(l, &c), MSIEVE_BAD);
		CHECK_EQ_INT(c, MSIEVE_LINE_MAX + 2);
		CHECK_EQ_STR(cmd.err, "Line too long.");
		/* one octet shorter is a command */
		strcpy(l + MSIEVE_LINE_MAX - 1, "\r\n");
		CHECK_EQ_INT(parse(l, &c), MSIEVE_OK);
		CHECK_EQ_INT(c, MSIEVE_LINE_MAX + 1);
		/* four quoted strings, none over MSIEVE_QUOTED_MAX, the line
		 * over MSIEVE_LINE_MAX */
		size_t n = (size_t)sprintf(l, "X");
		for (int k = 0; k < 4; k++) {
			n += (size_t)sprintf(l + n, " \"");
			memset(l + n, 'q', MSIEVE_QUOTED_MAX);
			n += MSIEVE_QUOTED_MAX;
			n += (size_t)sprintf(l + n, "\"");
		}
		strcpy(l + n, "\r\n");
		CHECK_EQ_INT(parse(l, &c), MSIEVE_BAD);
		CHECK_EQ_INT(c, n + 2);
		CHECK_EQ_INT(msieve_parse(l, MSIEVE_LINE_MAX + 1, MSIEVE_LITERAL_MAX, &cmd, &c, &need),
		             MSIEVE_LONG);
		/* a literal's octets do not count: a short line around a long
		 * literal is a command, and every prefix of it asks for more */
		n = (size_t)sprintf(l, "PUTSCRIPT {%d+}\r\n", 2 * MSIEVE_LINE_MAX);
		memset(l + n, 's', 2 * MSIEVE_LINE_MAX);
		strcpy(l + n + 2 * MSIEVE_LINE_MAX, " \"x\"\r\n");
		bytewise(l);
		free(l);
	}

	bytewise("LISTSCRIPTS\r\n");
	bytewise("PUTSCRIPT \"a\\\"b\" {5+}\r\nkeep;\r\n");
	bytewise("HAVESPACE \"x\" 42\r\n");
	bytewise("AUTHENTICATE \"PLAIN\" \"AGJvYgBwdw==\"\r\n");
	/* SASL responses (RFC 5804 §2.1): one quoted string or literal. */
	const char *resp[] = { "\"AGJvYgBwdw==\"\r\n", "{12+}\r\nAGJvYgBwdw==\r\n", "{12}\r\nAGJvYgBwdw==\r\n",
	                       "\"\"\r\n" };
	for (size_t k = 0; k < sizeof resp / sizeof resp[0]; k++) {
		size_t n = strlen(resp[k]), consumed, rneed;
		for (size_t i = 0; i < n; i++) {
			CHECK_EQ_INT(msieve_parse_response(resp[k], i, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_MORE);
			CHECK(rneed > i);
		}
		CHECK_EQ_INT(msieve_parse_response(resp[k], n, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_OK);
		CHECK_EQ_INT(consumed, n);
		CHECK(cmd.nargs == 1 && str_eq(cmd.args[0].s, k == 3 ? STR_LIT("") : STR_LIT("AGJvYgBwdw==")));
	}
	{
		size_t consumed, rneed;
		CHECK_EQ_INT(msieve_parse_response("\"a\" \"b\"\r\n", 10, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_BAD);
		CHECK_EQ_INT(msieve_parse_response("42\r\n", 4, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_BAD);
		CHECK_EQ_INT(msieve_parse_response("{x}\r\n", 5, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_BAD);
		CHECK_EQ_INT(consumed, 5);
		CHECK_EQ_INT(msieve_parse_response(" \"a\"\r\n", 6, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_BAD);
		CHECK_EQ_INT(msieve_parse_response("{999999999}\r\n", 14, MSIEVE_LITERAL_PREAUTH, &cmd, &consumed, &rneed), MSIEVE_TOOBIG);
	}
	CHECK_EQ_INT(msieve_line_end("ab\ncd", 5), 3);
	CHECK_EQ_INT(msieve_line_end("abcd", 4), 0);
	return unit_done("test_msieve_parse");
}
