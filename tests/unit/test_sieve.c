/*
 * test_sieve.c — the Sieve compiler and interpreter (app/sieve/): the
 * behaviour each RFC's examples describe (written here as our own
 * scripts), every error branch of the parser with its line and column,
 * every prefix of each valid script (the parser must answer something for
 * each, never crash), and the limits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"
#include "unit.h"

static const char *msg1 =
	"Return-Path: <alice@example.org>\r\n"
	"Received: from mx.example.org by tern.example.com; Tue, 10 Nov 2026 09:15:00 +0100\r\n"
	"Date: Tue, 10 Nov 2026 08:14:33 -0500\r\n"
	"From: Alice Example <alice@example.org>\r\n"
	"To: bob+lists@example.com, \"Carol C\" <carol@EXAMPLE.com>\r\n"
	"Cc: dave@example.net\r\n"
	"Subject: =?utf-8?q?Caf=C3=A9?= meeting about MONEY\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"X-Spam-Level: ****\r\n"
	"X-Priority: 2\r\n"
	"List-Id: <dev.lists.example.org>\r\n"
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"SGVsbG8gQm9iLCB0aGUgcHJvamVjdCBpcyBmdW5kZWQu\r\n"
	"--b1\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<p>Hello <b>Bob</b></p>\r\n"
	"--b1--\r\n";

struct fake {
	int seen_dup;
	const char *incl_name, *incl_text;
	const char *incl_gname, *incl_gtext; /* the :global namespace's one script */
	const char *self;                     /* the running script's name */
};

static int fake_dup(void *ctx, struct str handle, struct str id)
{
	struct fake *f = ctx;
	return f->seen_dup;
}

static int fake_include(void *ctx, struct str name, int global, struct str *text_r)
{
	struct fake *f = ctx;
	const char *n = global ? f->incl_gname : f->incl_name;
	if (!n || !str_eq(name, str_c(n)))
		return -1;
	*text_r = str_c(global ? f->incl_gtext : f->incl_text);
	return 0;
}

static int fake_mbox(void *ctx, struct str name)
{
	return str_eq(name, STR_LIT("INBOX")) || str_eq(name, STR_LIT("Lists"));
}

static struct fake fk;
/* The server's fields in front of the message (sieve_env.head) for the
 * runs below; empty but where a test sets it. */
static struct str head_fields;

/* Compiles and runs script on msg; returns the printed result ("error"
 * when it does not compile, "runerror: ..." on a run-time error). */
static const char *run_env(const char *script, const char *msg, const char *from, const char *to)
{
	static char out[4096];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a;

	if (!s) {
		snprintf(out, sizeof(out), "error: %s", err);
		return out;
	}
	memset(&env, 0, sizeof(env));
	env.msg = msg;
	env.len = strlen(msg);
	env.head = head_fields;
	env.env_from = str_c(from);
	env.env_to = str_c(to);
	env.domain = STR_LIT("example.com");
	env.host = STR_LIT("tern.example.com");
	env.now = 1794787200; /* 2026-11-16 00:00:00 UTC, a Monday */
	env.ctx = &fk;
	env.duplicate_seen = fake_dup;
	env.include_text = fake_include;
	env.script_name = fk.self ? str_c(fk.self) : STR_NULL;
	env.mailbox_exists = fake_mbox;
	a = arena_new(0);
	if (sieve_run(s, &env, a, &res) < 0)
		snprintf(out, sizeof(out), "runerror: %s", res.error);
	else
		sieve_result_format(&res, out, sizeof(out));
	arena_free(&a);
	sieve_script_free(&s);
	/* Drop the final newline so tests read naturally. */
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

static const char *run(const char *script)
{
	return run_env(script, msg1, "alice@example.org", "bob+lists@example.com");
}

/* run() of a script made with printf's format (the long values). */
static const char *runf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *runf(const char *fmt, ...)
{
	static char script[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	return run(script);
}

/* dst (size sz) made of n copies of unit; returns dst. */
static char *repeat(char *dst, size_t sz, const char *unit, int n)
{
	size_t k = 0;
	dst[0] = '\0';
	for (int i = 0; i < n && k < sz; i++)
		k += (size_t)snprintf(dst + k, sz - k, "%s", unit);
	return dst;
}

/* Every prefix of a script compiles or fails with an error; never more. */
static void prefixes(const char *script)
{
	size_t n = strlen(script);
	char err[SIEVE_ERROR_MAX];
	for (size_t i = 0; i < n; i++) {
		err[0] = '\0';
		struct sieve_script *s = sieve_compile(script, i, err);
		CHECK(s != NULL || (err[0] && strncmp(err, "line ", 5) == 0));
		sieve_script_free(&s);
	}
}

#define EXPECT(script, want)                                                                       \
	do {                                                                                       \
		CHECK_EQ_STR(run(script), want);                                                   \
		prefixes(script);                                                                  \
	} while (0)

static void test_core(void)
{
	EXPECT("", "keep");
	EXPECT("keep;", "keep");
	EXPECT("discard;", "discard");
	EXPECT("# comment\r\n/* block\r\n comment */ stop; discard;", "keep");
	EXPECT("if header :contains \"subject\" \"money\" { discard; }", "discard");
	EXPECT("if header :is \"subject\" \"money\" { discard; }", "keep");
	/* RFC 2047 words are decoded before matching (§2.7.2). */
	EXPECT("if header :contains \"Subject\" \"Caf\xc3\xa9\" { discard; }", "discard");
	EXPECT("require \"fileinto\";\r\n"
	       "if address :is :domain \"from\" \"example.org\" { fileinto \"Org\"; }\r\n"
	       "elsif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n"
	       "else { keep; }",
	       "fileinto \"Org\"");
	EXPECT("require \"fileinto\"; if false { keep; } elsif true { fileinto \"B\"; } else { discard; }",
	       "fileinto \"B\"");
	/* INBOX in any case is one mailbox (RFC 9051 §5.1): filed once, as
	 * Pigeonhole; it was listed twice */
	EXPECT("require \"fileinto\"; fileinto \"inbox\"; fileinto \"INBOX\"; fileinto \"Inbox\";",
	       "fileinto \"inbox\"");
	EXPECT("if not exists \"x-nope\" { discard; }", "discard");
	EXPECT("if exists [\"From\", \"X-Nope\"] { discard; }", "keep");
	EXPECT("if allof (true, exists \"to\", not false) { discard; }", "discard");
	EXPECT("if anyof (false, false) { discard; }", "keep");
	EXPECT("if size :over 100 { discard; }", "discard");
	EXPECT("if size :under 1K { discard; }", "discard");
	EXPECT("if size :over 1M { discard; }", "keep");
	EXPECT("if address :all :is \"to\" \"carol@example.com\" { discard; }", "discard");
	EXPECT("if address :localpart :is \"to\" \"CAROL\" { discard; }", "discard");
	EXPECT("if address :all :comparator \"i;octet\" :is \"to\" \"carol@example.com\" { discard; }",
	       "keep");
	EXPECT("if header :matches \"from\" \"*alice@*\" { discard; }", "discard");
	EXPECT("if header :matches \"subject\" \"?af*\" { discard; }", "discard");
	EXPECT("if header :matches \"x-spam-level\" \"\\\\*\\\\*\\\\*\\\\*\" { discard; }", "discard");
	EXPECT("redirect \"carol@example.net\";", "redirect \"carol@example.net\"");
	/* one address: the domain in any case; a local part may be case-sensitive */
	EXPECT("redirect \"carol@example.net\"; redirect \"carol@EXAMPLE.net\";",
	       "redirect \"carol@example.net\"");
	EXPECT("redirect \"carol@example.net\"; redirect \"CAROL@example.net\";",
	       "redirect \"carol@example.net\"\nredirect \"CAROL@example.net\"");
	EXPECT("require \"fileinto\"; fileinto \"A\"; fileinto \"A\"; keep;",
	       "fileinto \"A\"\nkeep");
	EXPECT("require \"fileinto\"; fileinto \"INBOX\"; keep;", "fileinto \"INBOX\"");
	EXPECT("if header :is \"x-priority\" \"2\" { stop; } discard;", "keep");
	EXPECT("text:\r\nx\r\n.\r\n;", "error: line 1, column 1: expected a command, found a string");
}

static void test_errors(void)
{
	{
		/* RFC 5228 §8.1: no NUL anywhere (it was taken) */
		char err[SIEVE_ERROR_MAX];
		static const char nul[] = "keep;\n# a\0b\nkeep;";
		CHECK(sieve_compile(nul, sizeof(nul) - 1, err) == NULL);
		CHECK_EQ_STR(err, "line 2, column 4: NUL character in the script");
		static const char nul2[] = "require \"fileinto\"; fileinto \"a\0\";";
		CHECK(sieve_compile(nul2, sizeof(nul2) - 1, err) == NULL);
		CHECK_EQ_STR(err, "line 1, column 32: NUL character in the script");
		/* A UTF-8 byte order mark is no Sieve text (RFC 5228 §8.1's
		 * grammar has no place for U+FEFF; Pigeonhole's sievec refuses
		 * it too): refused, saying what it is ("unexpected octet 0xef"
		 * told the user nothing they could see). */
		static const char bom[] = "\xef\xbb\xbfkeep;";
		CHECK(sieve_compile(bom, sizeof(bom) - 1, err) == NULL);
		CHECK_EQ_STR(err, "line 1, column 1: a UTF-8 byte order mark (U+FEFF) is not allowed in a "
				  "script: save it as UTF-8 without one");
	}
	CHECK_EQ_STR(run("keep"), "error: line 1, column 5: expected \";\", found end of script");
	CHECK_EQ_STR(run("kep;"), "error: line 1, column 1: unknown command \"kep\"");
	/* a mailbox name is UTF-8 (Pigeonhole refuses it too); it was taken */
	CHECK_EQ_STR(run("require \"fileinto\"; fileinto \"a\xff\";"),
	             "error: line 1, column 21: fileinto with a mailbox name that is not UTF-8");
	CHECK_EQ_STR(run("require [\"fileinto\", \"variables\"]; set \"b\" \"a\xc3\";"
	                 " fileinto \"${b}\";"),
	             "runerror: line 1: fileinto with a mailbox name that is not UTF-8");
	CHECK_EQ_STR(run("require \"fileinto\"; fileinto \"caf\xc3\xa9\";"), "fileinto \"caf\xc3\xa9\"");
	CHECK_EQ_STR(run("fileinto \"x\";"),
	             "error: line 1, column 1: fileinto needs require \"fileinto\"");
	CHECK_EQ_STR(run("require \"nope\";"),
	             "error: line 1, column 1: unsupported extension \"nope\"");
	CHECK_EQ_STR(run("keep;\nrequire \"fileinto\";"),
	             "error: line 2, column 1: require must come before any other command");
	CHECK_EQ_STR(run("if header :is \"a\" \"b {"),
	             "error: line 1, column 19: string is not closed by '\"'");
	CHECK_EQ_STR(run("if header :bogus \"a\" \"b\" {}"),
	             "error: line 1, column 11: unknown tag :bogus for header");
	CHECK_EQ_STR(run("if size :over 1 :under 2 {}"),
	             "error: line 1, column 4: conflicting tags for size");
	CHECK_EQ_STR(run("if size {}"), "error: line 1, column 4: size needs :over or :under");
	CHECK_EQ_STR(run("elsif true {}"),
	             "error: line 1, column 1: elsif without a preceding if");
	CHECK_EQ_STR(run("if true {} keep; else {}"),
	             "error: line 1, column 18: else without a preceding if");
	CHECK_EQ_STR(run("if header \"a\" {}"),
	             "error: line 1, column 4: header takes 2 positional arguments, found 1");
	CHECK_EQ_STR(run("if header :is 1 \"b\" {}"),
	             "error: line 1, column 15: expected a string or string list as argument 1 of header, found a number");
	CHECK_EQ_STR(run("if header :comparator \"i;nope\" \"a\" \"b\" {}"),
	             "error: line 1, column 11: unknown comparator \"i;nope\"");
	CHECK_EQ_STR(run("if header :comparator \"i;ascii-numeric\" \"a\" \"b\" {}"),
	             "error: line 1, column 11: comparator \"i;ascii-numeric\" needs require \"comparator-i;ascii-numeric\"");
	CHECK_EQ_STR(run("if header :is :contains \"a\" \"b\" {}"),
	             "error: line 1, column 15: only one match type (:is or :contains) may be given");
	CHECK_EQ_STR(run("if header :is :is \"a\" \"b\" {}"),
	             "error: line 1, column 15: tag :is given twice");
	CHECK_EQ_STR(run("if header :comparator \"a\" {}"),
	             "error: line 1, column 4: header takes 2 positional arguments, found 0");
	CHECK_EQ_STR(run("if header :comparator {}"),
	             "error: line 1, column 11: expected a string after :comparator");
	CHECK_EQ_STR(run("if true keep;"),
	             "error: line 1, column 9: expected \"{\" starting the block of if, found an identifier");
	CHECK_EQ_STR(run("if true { keep;"),
	             "error: line 1, column 16: expected \"}\" or a command, found end of script");
	CHECK_EQ_STR(run("if anyof (true false) {}"),
	             "error: line 1, column 16: expected \",\" or \")\", found an identifier");
	CHECK_EQ_STR(run("if anyof true {}"),
	             "error: line 1, column 10: expected \"(\" starting a test list, found an identifier");
	CHECK_EQ_STR(run("keep true;"), "error: line 1, column 6: keep takes no test");
	CHECK_EQ_STR(run("if header :is [\"a\" \"b\"] \"c\" {}"),
	             "error: line 1, column 20: expected \",\" or \"]\", found a string");
	CHECK_EQ_STR(run("if header :is [\"a\", 1] \"c\" {}"),
	             "error: line 1, column 21: expected a string in the list, found a number");
	CHECK_EQ_STR(run("if size :over 99999999999999999999 {}"),
	             "error: line 1, column 15: number is too large");
	CHECK_EQ_STR(run("if size :over 10X {}"),
	             "error: line 1, column 17: expected white space after a number");
	CHECK_EQ_STR(run("/* open"), "error: line 1, column 1: comment \"/*\" is not closed by \"*/\"");
	CHECK_EQ_STR(run("keep; @"), "error: line 1, column 7: unexpected character '@'");
	CHECK_EQ_STR(run("keep; :"), "error: line 1, column 7: expected a tag name after \":\"");
	CHECK_EQ_STR(run("require \"vacation\"; vacation text: x\r\n.\r\n;"),
	             "error: line 1, column 36: expected a line end after \"text:\"");
	CHECK_EQ_STR(run("require \"vacation\"; vacation text:\r\nnot ended\r\n"),
	             "error: line 1, column 30: multi-line string is not ended by a line with \".\"");
	CHECK_EQ_STR(run("if true { require \"fileinto\"; }"),
	             "error: line 1, column 11: require must come before any other command");
	CHECK_EQ_STR(run("}"), "error: line 1, column 1: expected a command, found \"}\"");
	CHECK_EQ_STR(run("require \"copy\"; redirect :copy 1;"),
	             "error: line 1, column 32: expected a string as argument 1 of redirect, found a number");
	CHECK_EQ_STR(run("redirect :copy \"a@b.c\";"),
	             "error: line 1, column 10: tag :copy needs require \"copy\"");
	CHECK_EQ_STR(run("require [\"variables\"]; set \"1x\" \"v\";"),
	             "error: line 1, column 24: invalid variable name \"1x\"");
	CHECK_EQ_STR(run("require \"relational\"; if header :value \"xx\" \"a\" \"b\" {}"),
	             "error: line 1, column 33: expected a relation (\"gt\", \"ge\", \"lt\", \"le\", \"eq\" or \"ne\") after :value");
	CHECK_EQ_STR(run("require \"index\"; if header :last \"a\" \"b\" {}"),
	             "error: line 1, column 21: :last needs :index");
	CHECK_EQ_STR(run("require \"encoded-character\"; if header :is \"a\" \"${unicode:D800}\" {}"),
	             "error: line 1, column 48: encoded character is not a Unicode code point");

	/* Nesting. */
	char deep[2048] = "";
	for (int i = 0; i < SIEVE_NEST_MAX + 1; i++)
		strcat(deep, "if true {");
	CHECK(strstr(run(deep), "nesting deeper than") != NULL);
	/* The size limit. */
	size_t big = SIEVE_SCRIPT_MAX + 1;
	char *s = malloc(big + 1);
	memset(s, ' ', big);
	s[big] = '\0';
	CHECK_EQ_STR(run(s), "error: line 1, column 1: script is larger than 524288 octets");
	free(s);
}

static void test_variables(void)
{
	/* RFC 5228 §2.4.2: ".." is a stuffed "."; ".y" stays ".y" (its dot
	 * was dropped, so the string below read "y") */
	EXPECT("require \"variables\"; set \"a\" text: # note\r\n..x\r\n.y\r\n...\r\n.\r\n;\r\n"
	       "if string :is \"${a}\" \".x\r\n.y\r\n..\r\n\" { discard; }",
	       "discard");
	/* A line break in a quoted string is CRLF, as in text: (a bare LF
	 * stayed one; Pigeonhole's lexer.svtest compares the two forms) */
	EXPECT("require \"variables\"; set \"a\" text:\n1\n.2\n.\n; set \"b\" \"1\n.2\n\";\n"
	       "if string :comparator \"i;octet\" :is \"${a}\" \"${b}\" { discard; }",
	       "discard");
	EXPECT("require \"variables\";\n"
	       "if string :comparator \"i;octet\" :is \"x\ny\r\nz\\\n\" \"x\r\ny\r\nz\r\n\" { discard; }",
	       "discard");
	EXPECT("require [\"variables\", \"fileinto\"];\r\n"
	       "if header :matches \"List-Id\" \"<*.lists.*>\" { fileinto \"Lists/${1}\"; }",
	       "fileinto \"Lists/dev\"");
	EXPECT("require [\"variables\", \"fileinto\"];\r\n"
	       "if address :matches :all \"from\" \"*@*\" { set :upperfirst \"u\" \"${1}\"; fileinto \"${u}-${2}\"; }",
	       "fileinto \"Alice-example.org\"");
	EXPECT("require [\"variables\", \"fileinto\"]; set \"a\" \"x\"; set :upper \"b\" \"${a}${nope}y\"; fileinto \"${b}\";",
	       "fileinto \"XY\"");
	EXPECT("require [\"variables\", \"fileinto\"]; set :length \"n\" \"caf\xc3\xa9\"; fileinto \"${n}\";",
	       "fileinto \"4\"");
	EXPECT("require [\"variables\", \"fileinto\"]; set :quotewildcard \"q\" \"a*b?\"; fileinto \"${q}\";",
	       "fileinto \"a\\*b\\?\"");
	EXPECT("require \"variables\"; set \"x\" \"abc\"; if string :is \"${x}\" \"abc\" { discard; }",
	       "discard");
	EXPECT("require [\"variables\", \"relational\"]; if string :count \"eq\" [\"a\", \"\", \"b\"] \"2\" { discard; }",
	       "discard");
	/* RFC 5229 §3: a namespace's name is identifier "." ... variable-name;
	 * "${a.b.}" and "${a..b}" are no references and stay as written (they
	 * were taken as unknown namespaced names and expanded to nothing) */
	EXPECT("require [\"variables\", \"fileinto\"]; fileinto \"${a.b.}|${a..b}|${.a}|${a.1b}\";",
	       "fileinto \"${a.b.}|${a..b}|${.a}|${a.1b}\"");
	/* and one into a namespace no require gave is an error (§3: MUST;
	 * they were expanded to nothing); include's "global" is one
	 * (RFC 6609 §3.5) */
	EXPECT("require [\"variables\", \"fileinto\"]; fileinto \"${a}|${x.y_2}\";",
	       "error: line 1, column 45: variable \"${x.y_2}\": no namespace \"x\" was required");
	EXPECT("require [\"variables\", \"fileinto\"]; fileinto \"${a.1}\";",
	       "error: line 1, column 45: variable \"${a.1}\": no namespace \"a\" was required");
	EXPECT("require [\"variables\", \"fileinto\"]; fileinto \"${global.x}\";",
	       "error: line 1, column 45: variable \"${global.x}\": no namespace \"global\" was required");
	EXPECT("require [\"variables\", \"fileinto\", \"include\"]; set \"global.x\" \"v\"; "
	       "fileinto \"${GLOBAL.x}\";",
	       "fileinto \"v\"");
	/* Without the variables extension ${} is literal. */
	EXPECT("require \"fileinto\"; fileinto \"${x}\";", "fileinto \"${x}\"");
	/* Captures survive a failed test (RFC 5229 §3.2). */
	EXPECT("require [\"variables\", \"fileinto\"];"
	       "if header :matches \"subject\" \"*meeting*\" {}"
	       "if header :matches \"subject\" \"nomatch*\" {}"
	       "fileinto \"${2}\";",
	       "fileinto \" about MONEY\"");
	/* RFC 5229 §6: match variables above those supported (${32}, as
	 * Pigeonhole: its suite's "Alphabet ?" reads ${26}, which tern
	 * refused past ${9}) are a syntax error, found at compile time;
	 * leading zeroes are ignored (§3.2), however many */
	EXPECT("require [\"variables\", \"fileinto\"]; if header :matches \"subject\" \"*\" { fileinto \"${33}\"; }",
	       "error: line 1, column 80: match variable \"${33}\" is out of range (at most ${32})");
	EXPECT("require [\"variables\", \"fileinto\"]; set \"s\" \"The quick brown fox jumps over the lazy dog.\";"
	       "if string :matches \"${s}\" \"T?? ????? ????? ?o? ?u??? o?er ?he ???? ?o?.\" {"
	       "fileinto \"${22}${8}${6}${25}${2}${13}${26}${1}${5}${15}${7}${21}${16}${12}${10}${17}${3}${9}${18}${20}${4}"
	       "${19}${11}${14}${24}${23}\"; }",
	       "fileinto \"abcdefghijklmnopqrstuvwxyz\"");
	/* 32 wildcards capture ${1}..${32}; a 33rd takes its part of the
	 * value but holds no variable. */
	EXPECT("require [\"variables\", \"fileinto\"]; if string :matches \"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\" "
	       "\"????????????????????????????????*\" { fileinto \"${1}${31}${32}-${0}\"; }",
	       "fileinto \"aEF-abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\"");
	/* A regex gives its groups up to ${32} too. */
	EXPECT("require [\"variables\", \"regex\", \"fileinto\"]; if string :regex \"abcdefghijkl\" "
	       "\"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\" { fileinto \"${9}${10}${12}\"; }",
	       "fileinto \"ijl\"");
	CHECK(strstr(run("require \"variables\"; if string \"a${99999999999999999999}\" \"a\" { discard; }"),
	             "is out of range") != NULL);
	EXPECT("require [\"variables\", \"fileinto\"]; if header :matches \"subject\" \"?*\" "
	       "{ fileinto \"${0000001}-${09}-${10x}\"; }",
	       "fileinto \"C--${10x}\"");
	/* A value is cut at the variable size limit. */
	char script[16384];
	char val[SIEVE_VAR_VALUE_MAX + 101];
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	snprintf(script, sizeof(script),
	         "require [\"variables\", \"fileinto\"]; set \"x\" \"%s\"; set :length \"n\" \"${x}\"; fileinto \"${n}\";",
	         val);
	CHECK_EQ_STR(run(script), "fileinto \"4096\"");
	/* :encodeurl's result is cut before a character whose escapes do
	 * not all fit (1366 "@" are 4098 octets encoded: 1365 of them, not
	 * 4096 octets ending in a lone "%"), and so is a UTF-8 character's
	 * (456 of U+4E03 are 4104: 455, not a partial "%E4%B8%83"). */
	static const char *const urlcut[] = { "@", "\xe4\xb8\x83" };
	static const char *const urlend[] = { "%40", "%83" };
	static const int urlrep[] = { 1366, 456 };
	for (int t = 0; t < 2; t++)
		CHECK_EQ_STR(runf("require [\"variables\", \"enotify\", \"fileinto\"]; set :encodeurl \"e\" \"%s\"; "
		                  "set :length \"n\" \"${e}\"; if string :matches \"${e}\" \"*%s\" { fileinto \"${n}\"; }",
		                  repeat(val, sizeof(val), urlcut[t], urlrep[t]), urlend[t]),
		             "fileinto \"4095\"");
	/* :quotewildcard's likewise: "0" and 2048 "*" quote to 4097 octets;
	 * the cut keeps 2047 "\\*" (4095), no lone "\\" at the end, so
	 * the key matches 2047 stars literally and not 2046 plus one. */
	val[0] = '0';
	repeat(val + 1, sizeof(val) - 1, "*", 2048);
	CHECK_EQ_STR(runf("require [\"variables\", \"fileinto\"]; set :quotewildcard \"q\" \"%s\"; "
	                  "set :length \"n\" \"${q}\"; if string :matches \"%.2048s\" \"${q}\" { fileinto \"${n}\"; }",
	                  val, val),
	             "fileinto \"4095\"");
	/* A "*" that takes more than a variable holds: its capture is cut
	 * to SIEVE_VAR_VALUE_MAX as ${0}'s is. It was not, and ${32}'s
	 * copy ran past the end of capbuf (ASan: heap-buffer-overflow in
	 * keep_caps). */
	CHECK_EQ_STR(runf("require [\"variables\", \"fileinto\"]; set \"x\" \"%s\"; "
	                  "if string :matches \"${x}${x}${x}\" \"???????????????????????????????*\" { "
	                  "set :length \"n\" \"${32}\"; set :length \"m\" \"${0}\"; fileinto \"${n}-${m}\"; }",
	                  repeat(val, sizeof(val), "a", 4000)),
	             "fileinto \"4096-4096\"");
	/* ... and before a UTF-8 character it would split: ${1} of 2730
	 * U+4E03 is 1365 of them (4095 octets). */
	CHECK_EQ_STR(runf("require [\"variables\", \"fileinto\"]; set \"x\" \"%s\"; "
	                  "if string :matches \"${x}${x}\" \"*\" { set :length \"n\" \"${1}\"; "
	                  "set :length \"m\" \"${0}\"; fileinto \"${n}-${m}\"; }",
	                  repeat(val, sizeof(val), "\xe4\xb8\x83", 1365)),
	             "fileinto \"1365-1365\"");
	/* A NUL is escaped too (strchr found the string's end). */
	EXPECT("require [\"variables\", \"enotify\", \"encoded-character\", \"fileinto\"]; "
	       "set :encodeurl \"e\" \"a${hex:00}b~\"; fileinto \"${e}\";",
	       "fileinto \"a%00b~\"");
}

static void test_imap4flags(void)
{
	EXPECT("require \"imap4flags\"; addflag \"\\\\Seen\"; addflag [\"$Work\", \"\\\\seen\"];",
	       "keep :flags \"$work \\seen\"");
	EXPECT("require [\"imap4flags\", \"fileinto\"]; setflag \"\\\\Flagged\"; fileinto \"A\"; removeflag \"\\\\Flagged\"; keep;",
	       "fileinto \"A\" :flags \"\\flagged\"\nkeep");
	EXPECT("require [\"imap4flags\", \"fileinto\"]; fileinto :flags [\"a\", \"b a\"] \"A\";",
	       "fileinto \"A\" :flags \"a b\"");
	EXPECT("require \"imap4flags\"; addflag \"x y\"; if hasflag :is \"y\" { discard; }", "discard");
	EXPECT("require [\"imap4flags\", \"variables\"]; addflag \"v\" \"f1\"; if hasflag \"v\" \"f1\" { discard; }",
	       "discard");
	EXPECT("require [\"imap4flags\", \"relational\", \"comparator-i;ascii-numeric\"]; addflag \"a b c\"; if hasflag :count \"ge\" :comparator \"i;ascii-numeric\" \"3\" { discard; }",
	       "discard");
}

static void test_extensions(void)
{
	/* vacation */
	EXPECT("require \"vacation\"; vacation :days 3 :subject \"Away\" \"I am away.\";",
	       "vacation\nkeep");
	EXPECT("require \"vacation\"; vacation \"a\"; vacation \"b\";",
	       "runerror: line 1: more than one vacation action");
	/* RFC 6131 §2: "vacation-seconds" implies "vacation"; a script may
	 * require only it (Pigeonhole's vacation/execute/seconds.sieve did not
	 * compile: "vacation needs require "vacation""). */
	EXPECT("require \"vacation-seconds\"; vacation :seconds 120 \"back soon\";", "vacation\nkeep");
	/* relational */
	/* i;ascii-casemap orders as i;octet once a-z are made A-Z (RFC 4790
	 * §9.2.1), so "_" (0x5F) and "[" sort after "a" (as "A"); they were
	 * put before it, folded to lower case */
	EXPECT("require [\"relational\", \"variables\"]; if string :value \"gt\" \"_x\" \"a\" { discard; }",
	       "discard");
	EXPECT("require [\"relational\", \"variables\"]; if string :value \"lt\" \"[\" \"a\" { discard; }",
	       "keep");
	EXPECT("require [\"relational\", \"fileinto\"]; if header :value \"ge\" \"x-spam-level\" \"**\" { fileinto \"a\"; }"
	       "if address :value \"lt\" :localpart \"from\" \"ALICE_\" { fileinto \"b\"; }",
	       "fileinto \"a\"\nfileinto \"b\"");
	EXPECT("require [\"relational\", \"comparator-i;ascii-numeric\"];"
	       "if header :value \"lt\" :comparator \"i;ascii-numeric\" \"x-priority\" \"3\" { discard; }",
	       "discard");
	EXPECT("require [\"relational\", \"comparator-i;ascii-numeric\"]; if address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" { discard; }",
	       "discard");
	EXPECT("require [\"relational\", \"comparator-i;ascii-numeric\"]; if header :count \"gt\" :comparator \"i;ascii-numeric\" \"received\" \"1\" { discard; }",
	       "keep");
	/* subaddress */
	EXPECT("require [\"subaddress\", \"envelope\", \"fileinto\"];"
	       "if envelope :detail \"to\" \"lists\" { fileinto \"L\"; }",
	       "fileinto \"L\"");
	EXPECT("require \"subaddress\"; if address :user \"to\" \"bob\" { discard; }", "discard");
	EXPECT("require \"subaddress\"; if address :detail \"cc\" \"\" { discard; }", "keep");
	/* envelope */
	EXPECT("require \"envelope\"; if envelope :domain \"from\" \"example.org\" { discard; }",
	       "discard");
	CHECK_EQ_STR(run_env("require \"envelope\"; if envelope :is \"from\" \"\" { discard; }", msg1, "",
	                     "bob@example.com"),
	             "discard");
	/* body */
	EXPECT("require \"body\"; if body :contains \"project is funded\" { discard; }", "discard");
	EXPECT("require \"body\"; if body :content \"text/html\" :contains \"<b>Bob\" { discard; }",
	       "discard");
	EXPECT("require \"body\"; if body :raw :contains \"SGVsbG8\" { discard; }", "discard");
	EXPECT("require \"body\"; if body :text :contains \"SGVsbG8\" { discard; }", "keep");
	/* RFC 5173 §5.3: :text (also the default) is the text a reader
	 * sees: an HTML part without its markup, as Pigeonhole; it matched
	 * the tags */
	EXPECT("require \"body\"; if body :text :contains \"<b>\" { discard; }", "keep");
	EXPECT("require \"body\"; if body :contains \"</p>\" { discard; }", "keep");
	EXPECT("require \"body\"; if body :text :contains \"hello bob\" { discard; }", "discard");
	EXPECT("require \"body\"; if body :content \"text\" :contains \"<b>\" { discard; }", "discard");
	{
		/* RFC 5173 §5.2: a multipart's prologue and epilogue, a nested
		 * message's header; "" is every type; what a part holds only
		 * where its own type matches */
		const char *m = "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
		                "PROLOGUEWORD\r\n--o\r\nContent-Type: text/plain\r\n\r\nplain BODYWORD\r\n"
		                "--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: PAPAYA\r\n\r\n"
		                "INNERWORD\r\n--o--\r\nEPILOGUEWORD\r\n";
		static const struct {
			const char *type, *word, *want;
		} c[] = {
		    {"multipart", "PROLOGUEWORD", "discard"}, {"multipart", "EPILOGUEWORD", "discard"},
		    {"multipart", "BODYWORD", "keep"},        {"multipart/mixed", "EPILOGUEWORD", "discard"},
		    {"message/rfc822", "PAPAYA", "discard"},  {"message", "INNERWORD", "keep"},
		    {"", "PROLOGUEWORD", "discard"},          {"", "PAPAYA", "discard"},
		    {"", "INNERWORD", "discard"},             {"text", "PAPAYA", "keep"},
		    {"text", "INNERWORD", "discard"},         {"text/plain", "BODYWORD", "discard"},
		};
		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
			char script[256];
			snprintf(script, sizeof script,
			         "require \"body\"; if body :content \"%s\" :contains \"%s\" { discard; }",
			         c[i].type, c[i].word);
			CHECK_EQ_STR(run_env(script, m, "a@b.example", "r@example.com"), c[i].want);
		}
		CHECK_EQ_STR(run_env("require \"body\"; if body :contains \"PROLOGUEWORD\" { discard; }", m,
		                     "a@b.example", "r@example.com"), "keep");
		/* the nested header is its fields, without the empty line
		 * after them (it had it: :is never matched the fields) */
		CHECK_EQ_STR(run_env("require \"body\"; if body :content \"message/rfc822\" "
		                     ":is \"Subject: PAPAYA\r\n\" { discard; }", m, "a@b.example",
		                     "r@example.com"), "discard");
	}
	{
		/* RFC 5173 §5: a header with no empty line after it has no
		 * body, and every body test is false, even one for "" (each
		 * matched the empty body; Pigeonhole's body/basic.svtest) */
		const char *nobody = "From: a@b.example\r\nSubject: no body\r\n";
		const char *empty = "From: a@b.example\r\nSubject: empty body\r\n\r\n";
		static const char *const scripts[] = {
			"require \"body\"; if body :raw :contains \"\" { discard; }",
			"require \"body\"; if body :raw :matches \"*\" { discard; }",
			"require \"body\"; if body :contains \"\" { discard; }",
			"require \"body\"; if body :content \"\" :contains \"\" { discard; }",
		};
		for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
			CHECK_EQ_STR(run_env(scripts[i], nobody, "a@b.example", "r@example.com"), "keep");
			CHECK_EQ_STR(run_env(scripts[i], empty, "a@b.example", "r@example.com"), "discard");
		}
	}
	{
		/* RFC 2045 §6.4: a part of an unknown transfer encoding is
		 * application/octet-stream, whatever its Content-Type says (its
		 * text was searched); RFC 5173 §5.3's best effort reads XHTML
		 * as HTML (it was not searched). Pigeonhole's body/text.svtest. */
		const char *m = "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
		                "--o\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: multipart/related\r\n"
		                "\r\nOPAQUEWORD\r\n--o\r\nContent-Type: application/xhtml+xml\r\n\r\n"
		                "<html><body>XHTML <b>WORD</b></body></html>\r\n--o--\r\n";
		static const struct {
			const char *test, *want;
		} c[] = {
		    {"body :text :contains \"OPAQUEWORD\"", "keep"},
		    {"body :content \"text\" :contains \"OPAQUEWORD\"", "keep"},
		    {"body :content \"application/octet-stream\" :contains \"OPAQUEWORD\"", "discard"},
		    {"body :raw :contains \"OPAQUEWORD\"", "discard"},
		    {"body :text :contains \"XHTML WORD\"", "discard"},
		    {"body :text :contains \"<b>\"", "keep"},
		};
		for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
			char script[256];
			snprintf(script, sizeof script, "require \"body\"; if %s { discard; }", c[i].test);
			CHECK_EQ_STR(run_env(script, m, "a@b.example", "r@example.com"), c[i].want);
		}
	}
	/* copy */
	EXPECT("require [\"copy\", \"fileinto\"]; fileinto :copy \"A\"; redirect :copy \"x@example.net\";",
	       "fileinto \"A\"\nredirect \"x@example.net\"\nkeep");
	/* reject / ereject */
	EXPECT("require \"reject\"; reject \"no thanks\";", "reject \"no thanks\"");
	EXPECT("require \"ereject\"; ereject \"go away\";", "ereject \"go away\"");
	EXPECT("require [\"reject\", \"fileinto\"]; fileinto \"A\"; reject \"x\";",
	       "runerror: line 1: reject cannot be combined with keep, fileinto, redirect or vacation");
	/* date, currentdate, index */
	EXPECT("require \"date\"; if date :zone \"+0000\" \"date\" \"date\" \"2026-11-10\" { discard; }",
	       "discard");
	EXPECT("require \"date\"; if date :originalzone \"date\" \"hour\" \"08\" { discard; }",
	       "discard");
	/* :originalzone with an obsolete zone name (RFC 5322 §4.3): EST is
	 * -0500, so 08:14 EST is hour 08 in its own zone (13 in UTC) */
	{
		const char *est = "From: a@example.org\r\nDate: Tue, 10 Nov 2026 08:14:33 EST\r\n\r\nx\r\n";
		const char *gmt = "From: a@example.org\r\nDate: Tue, 10 Nov 2026 08:14:33 GMT\r\n\r\nx\r\n";
		const char *pdt = "From: a@example.org\r\nDate: 10 Nov 2026 23:30 PDT\r\n\r\nx\r\n";
		CHECK_EQ_STR(run_env("require \"date\"; if date :originalzone \"date\" \"hour\" \"08\" { discard; }",
		                     est, "a@example.org", "b@example.com"), "discard");
		CHECK_EQ_STR(run_env("require \"date\"; if date :originalzone \"date\" \"zone\" \"-0500\" { discard; }",
		                     est, "a@example.org", "b@example.com"), "discard");
		CHECK_EQ_STR(run_env("require \"date\"; if date :originalzone \"date\" \"zone\" \"+0000\" { discard; }",
		                     gmt, "a@example.org", "b@example.com"), "discard");
		CHECK_EQ_STR(run_env("require \"date\"; if date :originalzone \"date\" \"date\" \"2026-11-10\" { discard; }",
		                     pdt, "a@example.org", "b@example.com"), "discard");
		CHECK_EQ_STR(run_env("require \"date\"; if date :zone \"+0000\" \"date\" \"date\" \"2026-11-11\" { discard; }",
		                     pdt, "a@example.org", "b@example.com"), "discard");
	}
	EXPECT("require \"date\"; if date :zone \"+0000\" \"date\" \"iso8601\" \"2026-11-10T13:14:33+00:00\" { discard; }",
	       "discard");
	EXPECT("require \"date\"; if date :zone \"-0500\" \"date\" \"std11\" \"Tue, 10 Nov 2026 08:14:33 -0500\" { discard; }",
	       "discard");
	EXPECT("require \"date\"; if date :zone \"+0000\" \"received\" \"time\" \"08:15:00\" { discard; }",
	       "discard");
	EXPECT("require \"date\"; if currentdate :zone \"+0000\" \"weekday\" \"1\" { discard; }", "discard");
	EXPECT("require \"date\"; if currentdate :zone \"+0000\" \"julian\" \"61360\" { discard; }",
	       "discard");
	EXPECT("require [\"date\", \"relational\"]; if currentdate :value \"ge\" \"date\" \"2026-01-01\" { discard; }",
	       "discard");
	EXPECT("require \"index\"; if header :index 2 :contains \"to\" \"carol\" { discard; }", "keep");
	/* tags before the positional arguments (RFC 5228 §2.6.2) */
	EXPECT("if header \"to\" :contains \"carol\" { discard; }",
	       "error: line 1, column 16: tag :contains after the positional arguments of header");
	EXPECT("require \"index\"; if address :index 1 :last :domain \"to\" \"example.com\" { discard; }",
	       "discard");
	/* regex */
	EXPECT("require [\"regex\", \"variables\", \"fileinto\"];"
	       "if header :regex \"subject\" \"meeting (about) ([A-Z]+)$\" { fileinto \"${2}\"; }",
	       "fileinto \"MONEY\"");
	/* a constant key that is no regular expression: refused with the
	 * script, as Pigeonhole does (it ran, failing at each delivery) */
	EXPECT("require \"regex\"; if header :regex \"subject\" \"(\" { discard; }",
	       "error: line 1, column 21: invalid regular expression \"(\"");
	EXPECT("require \"regex\"; if header :regex \"subject\" \"a++\" { discard; }",
	       "runerror: line 1: regular expression \"a++\" is too complex");
	EXPECT("require \"regex\"; if header :regex \"subject\" \"(a)\\\\1\" { discard; }",
	       "runerror: line 1: regular expression \"(a)\\1\" is too complex");
	EXPECT("require \"regex\"; if header :regex \"subject\" \"a{1,33}\" { discard; }",
	       "runerror: line 1: regular expression \"a{1,33}\" is too complex");
	EXPECT("require \"regex\"; if header :regex \"subject\" \"[+*]?M{1,2}O\" { discard; }",
	       "discard");
	/* include */
	fk.incl_name = "common";
	fk.incl_text = "require [\"fileinto\", \"include\", \"variables\"]; global \"box\"; fileinto \"${box}\"; return; discard;";
	EXPECT("require [\"include\", \"variables\"]; global \"box\"; set \"box\" \"Shared\"; include \"common\"; include :once \"common\";",
	       "fileinto \"Shared\"");
	/* a run-time error in an included script gives its name with the
	 * line (the line alone pointed into the main script) */
	fk.incl_text = "require [\"regex\", \"variables\"];\r\nset \"p\" \"((\";\r\n"
	               "if header :regex \"subject\" \"${p}\" { keep; }";
	CHECK_EQ_STR(run("require \"include\";\r\ninclude \"common\";"),
	             "runerror: script \"common\", line 3: invalid regular expression \"((\"");
	fk.incl_text = "require [\"fileinto\", \"include\", \"variables\"]; global \"box\"; fileinto \"${box}\"; return; discard;";
	EXPECT("require \"include\"; include :optional \"missing\";", "keep");
	EXPECT("require \"include\"; include \"missing\";",
	       "runerror: line 1: include: no script \"missing\"");
	fk.incl_text = "require \"include\"; include \"common\";";
	/* RFC 6609 §3.2: recursion is an error at execution (tern ran the
	 * script again until the depth limit); :once skips a script already
	 * in the include tree, the running one included (tern ran it again) */
	CHECK_EQ_STR(run("require \"include\"; include \"common\";"),
	             "runerror: script \"common\", line 1: include: recursive include of \"common\"");
	fk.self = "main";
	fk.incl_text = "require [\"include\", \"fileinto\"]; fileinto \"lib\"; include :once \"main\"; "
	               "include :once \"common\";";
	EXPECT("require [\"include\", \"fileinto\"]; fileinto \"main\"; include \"common\";",
	       "fileinto \"main\"\nfileinto \"lib\"");
	fk.incl_text = "require \"include\"; include :optional \"main\";";
	CHECK_EQ_STR(run("require [\"include\", \"fileinto\"]; fileinto \"main\"; include \"common\";"),
	             "runerror: script \"common\", line 1: include: recursive include of \"main\"");
	/* a :global "main" is another script than the running personal one */
	fk.incl_gname = "main";
	fk.incl_gtext = "require \"fileinto\"; fileinto \"Global\";";
	EXPECT("require \"include\"; include :once :global \"main\";", "fileinto \"Global\"");
	fk.self = NULL;
	fk.incl_gname = NULL;
	fk.incl_text = "require \"include\"; include \"common\";";
	/* global names variables by constant names (RFC 6609 §3.3) */
	CHECK_EQ_STR(run("require [\"include\", \"variables\"]; global \"a-b\";"),
	             "error: line 1, column 35: global: invalid variable name \"a-b\"");
	CHECK_EQ_STR(run("require [\"include\", \"variables\"]; set \"x\" \"y\"; global \"${x}\";"),
	             "error: line 1, column 48: global: invalid variable name \"${x}\"");
	/* RFC 6609 §3.3: a variable set (or read) as a local one is not
	 * declared global after (tern made it global from there) */
	CHECK_EQ_STR(run("require [\"include\", \"variables\"]; set \"x\" \"y\"; global \"X\";"),
	             "error: line 1, column 48: global: variable \"X\" was used as a local variable before");
	CHECK(strstr(run("require [\"include\", \"variables\", \"fileinto\"]; fileinto \"${x}\"; global \"x\";"),
	             "used as a local variable before") != NULL);
	EXPECT("require [\"include\", \"variables\", \"fileinto\"]; global \"x\"; set \"x\" \"a\"; "
	       "global \"x\"; fileinto \"${x}${global.y}\"; global \"y\";", "fileinto \"a\"");
	CHECK_EQ_STR(run("require [\"fileinto\"]; fileinto \"\";"),
	             "error: line 1, column 23: fileinto with an empty mailbox name");
	CHECK_EQ_STR(run("require [\"fileinto\", \"variables\"]; set \"b\" \"\"; fileinto \"${b}\";"),
	             "runerror: line 1: fileinto with an empty mailbox name");
	/* RFC 6609 §3.2: the name is a constant, never expanded */
	CHECK_EQ_STR(run("require [\"include\", \"variables\"]; set \"n\" \"common\"; include \"${n}\";"),
	             "error: line 1, column 53: include: the script name must be a constant string");
	CHECK_EQ_STR(run("require \"include\"; include \"\";"),
	             "error: line 1, column 20: include: invalid script name \"\"");
	/* a ManageSieve name (RFC 6609 §3.2, RFC 5804 §1.6): "/" is a
	 * character like any other (tern refused it), a control is none */
	CHECK(strstr(run("require \"include\"; include :global \"a\x01" "b\";"),
	             "error: line 1, column 20: include: invalid script name") != NULL);
	CHECK(strstr(run("require \"include\"; include \"a\xe2\x80\xa8\";"),
	             "error: line 1, column 20: include: invalid script name") != NULL);
	CHECK_EQ_STR(run("require \"include\"; include :optional :global \"../x\";"), "keep");
	fk.incl_name = "work/lib";
	fk.incl_text = "require \"fileinto\"; fileinto \"Slash\";";
	EXPECT("require \"include\"; include \"work/lib\";", "fileinto \"Slash\"");
	fk.incl_name = "common";
	fk.incl_text = "require \"include\"; include \"common\";";
	/* without variables required, "${n}" is a name like any other */
	CHECK_EQ_STR(run("require \"include\"; include :optional \"${n}\";"), "keep");
	/* RFC 6609 §3.2: :personal and :global are two namespaces, each
	 * include gets its own, and :once tells a personal "common" from a
	 * global "common". */
	fk.incl_text = "require \"fileinto\"; fileinto \"Personal\";";
	fk.incl_gname = "common";
	fk.incl_gtext = "require \"fileinto\"; fileinto \"Global\";";
	EXPECT("require \"include\"; include :global \"common\";", "fileinto \"Global\"");
	EXPECT("require \"include\"; include :personal \"common\";", "fileinto \"Personal\"");
	EXPECT("require \"include\"; include :once \"common\"; include :once :global \"common\"; "
	       "include :once :personal \"common\"; include :once :global \"common\";",
	       "fileinto \"Personal\"\nfileinto \"Global\"");
	/* an included script is compiled through the cache: once for as
	 * long as its text stays, not at each include of each run */
	sieve_cache_clear();
	CHECK_EQ_INT(sieve_cache_count(), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_STR(run("require \"include\"; include \"common\"; include :global \"common\"; include \"common\";"),
		             "fileinto \"Personal\"\nfileinto \"Global\"");
	CHECK_EQ_INT(sieve_cache_count(), 2);
	sieve_cache_clear();
	fk.incl_name = "mine";
	EXPECT("require \"include\"; include :optional \"common\"; include :global \"common\";",
	       "fileinto \"Global\"");
	fk.incl_name = fk.incl_gname = NULL;
	/* editheader */
	/* a constant field name that is not one does not compile (RFC 5293
	 * §4, §5); one from a variable fails addheader when it runs */
	CHECK_EQ_STR(run("require \"editheader\"; addheader \"X Bad\" \"v\";"),
	             "error: line 1, column 23: addheader: invalid field name \"X Bad\"");
	CHECK_EQ_STR(run("require \"editheader\"; addheader \"Subject:\" \"v\";"),
	             "error: line 1, column 23: addheader: invalid field name \"Subject:\"");
	CHECK_EQ_STR(run("require \"editheader\"; deleteheader \"\";"),
	             "error: line 1, column 23: deleteheader: invalid field name \"\"");
	CHECK_EQ_STR(run("require \"editheader\"; deleteheader :contains \"x y\" \"v\";"),
	             "error: line 1, column 23: deleteheader: invalid field name \"x y\"");
	CHECK_EQ_STR(run("require [\"editheader\", \"variables\"]; set \"n\" \"X Bad\"; addheader \"${n}\" \"v\";"),
	             "runerror: line 1: addheader: invalid field name");
	/* tern sieve test prints the edits: an added field, each field
	 * removed with the value it had. */
	EXPECT("require \"editheader\"; addheader \"X-Seen\" \"yes\"; if header :is \"x-seen\" \"yes\" { discard; }",
	       "addheader \"X-Seen\" \"yes\"\ndiscard");
	EXPECT("require \"editheader\"; deleteheader \"list-id\"; if exists \"list-id\" { discard; }",
	       "deleteheader \"list-id\" \"<dev.lists.example.org>\"\nkeep");
	EXPECT("require \"editheader\"; addheader :last \"X-Tag\" \"a\"; deleteheader :index 1 \"to\";",
	       "addheader :last \"X-Tag\" \"a\"\n"
	       "deleteheader \"to\" \"bob+lists@example.com, \\\"Carol C\\\" <carol@EXAMPLE.com>\"\nkeep");
	EXPECT("require \"editheader\"; deleteheader \"received\"; if exists \"received\" { discard; }",
	       "discard");
	EXPECT("require \"editheader\"; deleteheader :contains \"to\" \"nomatch\"; if exists \"to\" { discard; }",
	       "discard");
	/* duplicate */
	fk.seen_dup = 1;
	EXPECT("require \"duplicate\"; if duplicate { discard; }", "discard");
	/* RFC 7352 §3.1: a Message-ID that is absent or empty identifies
	 * nothing, so the test is false (every such message was one
	 * duplicate of the first: discarded here). */
	CHECK_EQ_STR(run_env("require \"duplicate\"; if duplicate { discard; }",
			     "From: a@example.org\r\nMessage-ID: \r\nSubject: x\r\n\r\nbody\r\n",
			     "a@example.org", "bob@example.com"), "keep");
	CHECK_EQ_STR(run_env("require \"duplicate\"; if duplicate :header \"X-Id\" { discard; }",
			     "From: a@example.org\r\nX-Id:  \t \r\nSubject: x\r\n\r\nbody\r\n",
			     "a@example.org", "bob@example.com"), "keep");
	CHECK_EQ_STR(run_env("require \"duplicate\"; if duplicate { discard; }",
			     "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n",
			     "a@example.org", "bob@example.com"), "keep");
	fk.seen_dup = 0;
	EXPECT("require \"duplicate\"; if duplicate :uniqueid \"x\" :seconds 60 { discard; }", "keep");
	/* encoded-character */
	EXPECT("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:41 42}${unicode:e9}${hex:zz}\";",
	       "fileinto \"AB\xc3\xa9${hex:zz}\"");
	/* hex-pair = 1*2HEXDIG: one digit is an octet too, three are not */
	EXPECT("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:41 4 42}${hex:414}\";",
	       "fileinto \"A\x04" "B${hex:414}\"");
	/* unicode-hex = 1*HEXDIG (RFC 5228 §2.4.2.4): leading zeros are
	 * fine, a value past 10FFFF is an error, and only an encoding that
	 * is well formed to its "}" is one (else it stays as written). */
	EXPECT("require [\"encoded-character\", \"fileinto\"]; fileinto \"${UnICoDE:0000040}${unicode:000000000000041}\";",
	       "fileinto \"@A\"");
	CHECK_EQ_STR(run("require [\"encoded-character\", \"fileinto\"]; fileinto \"${unicode:1234567}\";"),
	             "error: line 1, column 53: encoded character is not a Unicode code point");
	EXPECT("require [\"encoded-character\", \"fileinto\"]; fileinto \"${unicode:110000 zz}${unicode:D800\";",
	       "fileinto \"${unicode:110000 zz}${unicode:D800\"");
	/* set names a variable with a constant identifier */
	EXPECT("require \"variables\"; set \"${a}\" \"x\";",
	       "error: line 1, column 22: invalid variable name \"${a}\"");
	/* a header address without a domain matches no local part or domain,
	 * and "<>" is no address (the envelope's null path is another matter) */
	{
		const char *m = "From: <>\r\nTo: root\r\nCc: a@b.example\r\n\r\nx\r\n";
		CHECK_EQ_STR(run_env("if address :localpart :matches \"from\" \"*\" { discard; }", m,
		                     "s@x.example", "r@example.com"), "keep");
		CHECK_EQ_STR(run_env("if address :is \"from\" \"\" { discard; }", m, "s@x.example",
		                     "r@example.com"), "keep");
		CHECK_EQ_STR(run_env("if address :domain :matches \"to\" \"*\" { discard; }", m,
		                     "s@x.example", "r@example.com"), "keep");
		CHECK_EQ_STR(run_env("if address :all :is \"to\" \"root\" { discard; }", m,
		                     "s@x.example", "r@example.com"), "discard");
		CHECK_EQ_STR(run_env("if address :localpart :is \"cc\" \"a\" { discard; }", m,
		                     "s@x.example", "r@example.com"), "discard");
	}
	/* address reads fields that hold addresses (RFC 5228 §5.1): others do
	 * not compile, and named by a variable they match nothing */
	EXPECT("if address :contains \"subject\" \"a\" { discard; }",
	       "error: line 1, column 4: header \"subject\" holds no addresses for address");
	EXPECT("if address :is [\"to\", \"List-Id\"] \"a\" { discard; }",
	       "error: line 1, column 4: header \"List-Id\" holds no addresses for address");
	{
		const char *m = "Subject: root@example.org\r\nX-Original-To: bob@example.com\r\n"
		                "Resent-Reply-To: r@example.net\r\n\r\nx\r\n";
		CHECK_EQ_STR(run_env("if address :domain \"X-Original-To\" \"example.com\" { discard; }",
		                     m, "s@x.example", "r@example.com"), "discard");
		CHECK_EQ_STR(run_env("if address :localpart \"resent-reply-to\" \"r\" { discard; }",
		                     m, "s@x.example", "r@example.com"), "discard");
		CHECK_EQ_STR(run_env("require \"variables\"; set \"h\" \"subject\";"
		                     "if address :matches \"${h}\" \"*\" { discard; }",
		                     m, "s@x.example", "r@example.com"), "keep");
		CHECK_EQ_STR(run_env("require \"variables\"; set \"h\" \"x-original-to\";"
		                     "if address :is \"${h}\" \"bob@example.com\" { discard; }",
		                     m, "s@x.example", "r@example.com"), "discard");
	}
	/* environment */
	EXPECT("require \"environment\"; if environment :is \"domain\" \"example.com\" { discard; }",
	       "discard");
	EXPECT("require \"environment\"; if environment :is \"nope\" \"\" { discard; }", "keep");
	/* "version" is tern's (RFC 5183 §4.1: the interpreter's product
	 * version; unit tests are built as "test"), not "1" */
	EXPECT("require [\"environment\", \"fileinto\", \"variables\"];"
	       "if environment :matches \"version\" \"*\" { fileinto \"v-${1}\"; }",
	       "fileinto \"v-test\"");
	/* ihave: a block for an unknown extension is not compiled strictly */
	EXPECT("require \"ihave\"; if ihave \"x-unknown\" { frobnicate :wild 3 (true); } else { discard; }",
	       "discard");
	EXPECT("require \"ihave\"; if ihave \"fileinto\" { fileinto \"F\"; }", "fileinto \"F\"");
	EXPECT("require \"ihave\"; error \"stop here\";", "runerror: line 1: error: stop here");
	/* mailbox */
	EXPECT("require [\"fileinto\", \"mailbox\"]; if mailboxexists \"Lists\" { fileinto :create \"New\"; }",
	       "fileinto \"New\"");
	EXPECT("require \"mailbox\"; if mailboxexists [\"INBOX\", \"Nope\"] { discard; }", "keep");
	/* enotify */
	EXPECT("require \"enotify\"; notify :message \"hi\" \"mailto:alice@example.org\";",
	       "notify \"mailto:alice@example.org\"\nkeep");
	EXPECT("require \"enotify\"; if valid_notify_method \"xmpp:a@b\" { discard; }", "keep");
	/* RFC 6068's hfname must be a header field's name (a ':' in it
	 * was accepted; Pigeonhole's enotify/valid_notify_method.svtest) */
	EXPECT("require \"enotify\"; if valid_notify_method \"mailto:a@example.org?header:=x\" "
	       "{ discard; }", "keep");
	EXPECT("require \"enotify\"; if valid_notify_method \"mailto:a@example.org?x%3Ay=1\" "
	       "{ discard; }", "keep");
	EXPECT("require \"enotify\"; if valid_notify_method \"mailto:a@example.org?X-Tag=1\" "
	       "{ discard; }", "discard");
	/* no URI holds "<", ">", a space or a quote as they are (RFC 3986
	 * §2, RFC 6068 §2's qchar): they were taken in the header fields */
	EXPECT("require \"enotify\"; if valid_notify_method [\"mailto:a@example.org?h<=1\", "
	       "\"mailto:a@example.org?subject=a>b\", \"mailto:a@example.org?subject=a b\"] "
	       "{ discard; }", "keep");
	EXPECT("require \"enotify\"; if valid_notify_method \"mailto:a@example.org?subject=a%20b&body=(1)+[2]~\" "
	       "{ discard; }", "discard");
	EXPECT("require \"enotify\"; if notify_method_capability \"mailto:a@b.c\" \"online\" \"maybe\" { discard; }",
	       "discard");
	/* spamtest: no score yet means "not tested" (0) */
	EXPECT("require [\"spamtest\", \"relational\", \"comparator-i;ascii-numeric\"];"
	       "if spamtest :value \"eq\" :comparator \"i;ascii-numeric\" \"0\" { discard; }",
	       "discard");
	/* special-use, mailboxid, fcc, redirect-dsn */
	/* a special-use attribute is "\\" and an atom (RFC 8579, RFC 6154):
	 * a constant that is none is refused (it named no mailbox ever) */
	EXPECT("require [\"fileinto\", \"special-use\"]; fileinto :specialuse \"Junk\" \"Spam\";",
	       "error: line 1, column 38: \"Junk\" is no special-use attribute (\"\\\" and an atom)");
	EXPECT("require \"special-use\"; if specialuse_exists \"INBOX\" [\"\\\\Sent\", \"\\\\a b\"] {}",
	       "error: line 1, column 27: \"\\a b\" is no special-use attribute (\"\\\" and an atom)");
	EXPECT("require \"special-use\"; if specialuse_exists \"\\\\\" {}",
	       "error: line 1, column 27: \"\\\" is no special-use attribute (\"\\\" and an atom)");
	EXPECT("require [\"special-use\", \"variables\"]; set \"u\" \"x\"; "
	       "if specialuse_exists [\"\\\\Sent\", \"${u}\"] { discard; }", "keep");
	EXPECT("require [\"fileinto\", \"special-use\"]; fileinto :specialuse \"\\\\Junk\" \"Spam\";",
	       "fileinto \"Spam\"");
	EXPECT("require [\"fileinto\", \"mailboxid\"]; fileinto :mailboxid \"F12\" \"A\";",
	       "fileinto \"A\"");
	EXPECT("require [\"vacation\", \"fcc\"]; vacation :fcc \"Sent\" \"away\";", "vacation\nkeep");
	EXPECT("require \"redirect-dsn\"; redirect :notify \"NEVER\" \"x@example.net\";",
	       "redirect \"x@example.net\"");
	/* comparator-i;ascii-numeric: no digits is infinity */
	EXPECT("require \"comparator-i;ascii-numeric\"; if header :is :comparator \"i;ascii-numeric\" \"x-nope\" \"\" { discard; }",
	       "keep");
	EXPECT("require \"comparator-i;ascii-numeric\"; if header :is :comparator \"i;ascii-numeric\" \"subject\" \"abc\" { discard; }",
	       "discard");
	/* it has no substring operation (RFC 4790 §9.1.1): :contains and
	 * :matches with it do not compile (RFC 5228 §2.7.1), whichever tag
	 * comes first */
	CHECK_EQ_STR(run("require \"comparator-i;ascii-numeric\"; if header :contains :comparator \"i;ascii-numeric\" \"x-priority\" \"2\" { discard; }"),
	             "error: line 1, column 42: :contains cannot be used with comparator \"i;ascii-numeric\"");
	CHECK_EQ_STR(run("require \"comparator-i;ascii-numeric\"; if header :comparator \"i;ascii-numeric\" :matches \"x-priority\" \"*\" { discard; }"),
	             "error: line 1, column 42: :matches cannot be used with comparator \"i;ascii-numeric\"");
	CHECK(strncmp(run("require [\"variables\", \"comparator-i;ascii-numeric\"]; if string :matches :comparator \"i;ascii-numeric\" \"12\" \"1*\" { discard; }"),
	              "error: ", 7) == 0);
}

static void test_limits(void)
{
	char script[8192];
	/* Redirects past the limit stop the run: implicit keep only. */
	snprintf(script, sizeof(script),
	         "redirect \"a@x.example\"; redirect \"b@x.example\"; redirect \"c@x.example\";"
	         "redirect \"d@x.example\"; redirect \"e@x.example\";");
	CHECK_EQ_STR(run(script), "runerror: line 1: more than 4 redirects");
	CHECK_EQ_STR(run("redirect \"not an address\";"),
	             "error: line 1, column 1: redirect to an invalid address \"not an address\"");
	/* A redirect's and a mailto's address is an RFC 5321 Mailbox: one
	 * check (sieve_mailbox_valid), at compile time for a constant, at
	 * run time for one made of variables. */
	{
		static const struct {
			const char *addr;
			int ok;
		} addrs[] = {
			{ "a@b.example", 1 }, { "<a@b.example>", 1 }, { " first.last+tag@b.example ", 1 },
			{ "\\\"a..b\\\"@b.example", 1 }, { "x@[192.0.2.1]", 1 }, { "x@[IPv6:2001:db8::1]", 1 },
			{ "jos\xc3\xa9@b.example", 1 }, { "a@xn--caf-dma.example", 1 },
			{ "@r1.example,@r2.example:a@b.example", 0 }, /* a source route */
			{ "@r1.example:a@b.example", 0 },
			{ ".a@b.example", 0 }, { "a.@b.example", 0 }, { "a..b@b.example", 0 },
			{ "a(c)@b.example", 0 }, { "a,b@b.example", 0 }, { "a;b@b.example", 0 },
			{ "a[b@b.example", 0 }, { "a@b.example (Al)", 0 },
			{ "a@-b.example", 0 }, { "a@b-.example", 0 }, { "a@b..example", 0 },
			{ "a@.b.example", 0 }, { "a@b.example.", 0 }, { "a@b_c.example", 0 },
			{ "a@[1.2.3.4", 0 }, { "a@", 0 }, { "@b.example", 0 }, { "a", 0 },
			{ "\\\"a@b.example", 0 }, { "a\\\"b@b.example", 0 },
			/* RFC 5321 §4.1.2: a quoted local part may hold spaces
			 * and quoted-pairs (qtextSMTP, quoted-pairSMTP) */
			{ "\\\"a b\\\"@b.example", 1 }, { "\\\"john  doe\\\"@b.example", 1 },
			{ "\\\"a\\\\\\\"b\\\"@b.example", 1 }, { "\\\"a\\\\\\\\b\\\"@b.example", 1 },
			{ "\\\"a\\\"b\\\"@b.example", 0 }, { "\\\"a\\\\\\\"@b.example", 0 },
			{ "\\\"a\tb\\\"@b.example", 0 },
			{ "\\\"a<b\\\"@b.example", 0 }, { "\\\"\\\"@b.example", 1 },
			/* what RCPT TO refuses, refused here too (the redirect
			 * was skipped at each delivery, bad_recipient) */
			{ "x@[300.1.1.1]", 0 }, { "x@[1.2.3]", 0 }, { "x@[x:y]", 0 },
			{ "x@[IPv6:2001:db8::1::2]", 0 },
			{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.example", 0 },
		};
		char sc[512];
		const char *want = "error: line 1, column 1: redirect to an invalid address \"";
		for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
			const char *a = addrs[i].addr;
			snprintf(sc, sizeof sc, "redirect \"%s\";", a);
			const char *got = run(sc);
			if (addrs[i].ok) {
				CHECK(strncmp(got, "redirect ", 9) == 0);
			} else {
				CHECK(strncmp(got, want, strlen(want)) == 0);
			}
			/* the same address from a variable: checked when it runs */
			snprintf(sc, sizeof sc, "require \"variables\"; set \"t\" \"%s\"; redirect \"${t}\";", a);
			got = run(sc);
			CHECK(addrs[i].ok ? strncmp(got, "redirect ", 9) == 0
			                  : strncmp(got, "runerror: line 1: redirect to an invalid address", 48) == 0);
			if (a[0] == '<' || a[0] == ' ')
				continue;
			snprintf(sc, sizeof sc, "require \"enotify\"; notify \"mailto:%s\";", a);
			got = run(sc);
			CHECK(addrs[i].ok ? strncmp(got, "notify ", 7) == 0
			                  : strncmp(got, "error: line 1, column 20: notify method ", 40) == 0);
		}
		/* RFC 5228 §2.4.2.3: a redirect's sieve-address may be a display
		 * name and the addr-spec in angle brackets (tern refused it); a
		 * mailto URI's address may not (RFC 6068 §2) */
		CHECK_EQ_STR(run("redirect \"Al Example <a@b.example>\";"), "redirect \"a@b.example\"");
		/* RFC 5322 §3.4.1: white space may stand around the "@" (the
		 * CFWS of local part and domain); it was refused, and is not
		 * part of the address (Pigeonhole's compile/redirect.sieve) */
		CHECK_EQ_STR(run("redirect \"a @b.example\";"), "redirect \"a@b.example\"");
		CHECK_EQ_STR(run("redirect \" Al < a @ b.example > \";"), "redirect \"a@b.example\"");
		CHECK_EQ_STR(run("require \"variables\"; set \"t\" \"a@ b.example\"; redirect \"${t}\";"),
		             "redirect \"a@b.example\"");
		CHECK(strncmp(run("redirect \"a b@b.example\";"), want, strlen(want)) == 0);
		CHECK_EQ_STR(run("require \"variables\"; set \"t\" \"\\\"Al, Jr.\\\" <a@b.example>\"; redirect \"${t}\";"),
		             "redirect \"a@b.example\"");
		CHECK(strncmp(run("redirect \"Al <a@b.example> x\";"), want, strlen(want)) == 0);
		CHECK(strncmp(run("redirect \"Al <a@b.example\";"), want, strlen(want)) == 0);
		CHECK(strncmp(run("redirect \"Al <b <a@b.example>\";"), want, strlen(want)) == 0);
		CHECK(strncmp(run("redirect \"Al\r\n <a@b.example>\";"), want, strlen(want)) == 0);
		CHECK(strncmp(run("require \"enotify\"; notify \"mailto:Al <a@b.example>\";"),
		              "error: line 1, column 20: notify method ", 40) == 0);
		/* but a to= or cc= header field's value may hold one (RFC 6068
		 * §2: an hfvalue is the field's value); it did not compile */
		CHECK_EQ_STR(run("require \"enotify\"; notify \"mailto:?to=%22Al%22%20%3Ca@b.example%3E\";"),
		             "notify \"mailto:?to=%22Al%22%20%3Ca@b.example%3E\"\nkeep");
		CHECK_EQ_STR(run("require \"enotify\"; notify :importance \"3\" \"mailto:a@b.example\";"),
		             "notify \"mailto:a@b.example\"\nkeep");
		CHECK_EQ_STR(run("require \"enotify\"; notify :importance \"high\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :importance must be \"1\", \"2\" or \"3\"");
		CHECK_EQ_STR(run("require \"enotify\"; notify :importance \"0\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :importance must be \"1\", \"2\" or \"3\"");
		/* from a variable: checked when it runs (it was sent as "2") */
		CHECK_EQ_STR(run("require [\"enotify\", \"variables\"]; set \"i\" \"7\";"
		                 " notify :importance \"${i}\" \"mailto:a@b.example\";"),
		             "runerror: line 1: :importance \"7\" is not \"1\", \"2\" or \"3\"");
		CHECK_EQ_STR(run("require [\"enotify\", \"variables\"]; set \"i\" \"\";"
		                 " notify :importance \"${i}\" \"mailto:a@b.example\";"),
		             "runerror: line 1: :importance \"\" is not \"1\", \"2\" or \"3\"");
		CHECK_EQ_STR(run("require [\"enotify\", \"variables\"]; set \"i\" \"1\";"
		                 " notify :importance \"${i}\" \"mailto:a@b.example\";"),
		             "notify \"mailto:a@b.example\"\nkeep");
		/* a :from is one mailbox, with or without a display name
		 * (RFC 5435 §3.3, RFC 5230 §4.4); :options are name=value */
		CHECK_EQ_STR(run("require \"enotify\"; notify :from \"not an address\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :from \"not an address\" is not a valid address");
		CHECK_EQ_STR(run("require \"vacation\"; vacation :from \"a@b.test, c@d.test\" \"x\";"),
		             "error: line 1, column 30: :from \"a@b.test, c@d.test\" is not a valid address");
		CHECK_EQ_STR(run("require \"vacation\"; vacation :from \"Bob \\\"B\\\" <bob@example.com>\" \"x\";"),
		             "vacation\nkeep");
		CHECK_EQ_STR(run("require \"vacation\"; vacation :from \"<bob@example.com>\" \"x\";"),
		             "vacation\nkeep");
		/* RFC 5322 §3.4: a quoted display name may hold "<", ">" or ",",
		 * a comment anything (tern refused the first three: the last "<"
		 * decided, and a "<" before it was a stray bracket); Pigeonhole's
		 * sieve-test 0.5.19 takes them, and refuses a bare "a <b> <c@d>"
		 * and a second mailbox after a quoted comma. */
		static const char *const from_ok[] = {
			"\\\"a <b> c\\\" <me@example.test>", "\\\"a, b\\\" <me@example.test>",
			"a (x <y>) <me@example.test>", "me@example.test (Me <m>)",
			"\\\"a <b> c\\\" <me@example.test> (note)"};
		static const char *const from_bad[] = {
			"a <b> <me@example.test>", "\\\"a, b\\\" <me@example.test>, c@d.test",
			"\\\"a <b> c <me@example.test>", "a (x <me@example.test>"};
		char fsc[256], fwant[256];
		for (size_t i = 0; i < sizeof from_ok / sizeof *from_ok; i++) {
			snprintf(fsc, sizeof fsc, "require \"vacation\"; vacation :from \"%s\" \"x\";", from_ok[i]);
			CHECK_EQ_STR(run(fsc), "vacation\nkeep");
		}
		for (size_t i = 0; i < sizeof from_bad / sizeof *from_bad; i++) {
			snprintf(fsc, sizeof fsc, "require \"vacation\"; vacation :from \"%s\" \"x\";", from_bad[i]);
			char plain[128];
			size_t pn = 0;
			for (const char *c = from_bad[i]; *c; c++) /* as the script's string reads */
				if (*c != '\\')
					plain[pn++] = *c;
			plain[pn] = '\0';
			snprintf(fwant, sizeof fwant, "error: line 1, column 30: :from \"%s\" is not a valid address",
			         plain);
			CHECK_EQ_STR(run(fsc), fwant);
		}
		CHECK_EQ_STR(run("require [\"vacation\", \"variables\"]; set \"f\" \"x y\"; vacation :from \"${f}\" \"x\";"),
		             "vacation\nkeep");
		CHECK_EQ_STR(run("require \"enotify\"; notify :options [\"k=v\", \"noequals\"] \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :options \"noequals\" is not \"name=value\"");
		CHECK_EQ_STR(run("require \"enotify\"; notify :options \"=v\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :options \"=v\" is not \"name=value\"");
		/* §3.5: the name starts with a letter or digit, the value is
		 * one line */
		CHECK_EQ_STR(run("require \"enotify\"; notify :options \"_k=v\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :options \"_k=v\" is not \"name=value\"");
		CHECK_EQ_STR(run("require \"enotify\"; notify :options \"k=a\nb\" \"mailto:a@b.example\";"),
		             "error: line 1, column 27: :options \"k=a??b\" is not \"name=value\"");
		CHECK_EQ_STR(run("require \"enotify\"; notify :options \"9k._-=v=w\" \"mailto:a@b.example\";"),
		             "notify \"mailto:a@b.example\"\nkeep");
		CHECK_EQ_STR(run("require \"enotify\"; notify :options \"x-k=a=b\" \"mailto:a@b.example\";"),
		             "notify \"mailto:a@b.example\"\nkeep");
		CHECK_EQ_STR(run("require \"enotify\"; notify \"xmpp:a@b.example\";"),
		             "error: line 1, column 20: notify method \"xmpp:a@b.example\" is not supported (only mailto)");
		CHECK_EQ_STR(run("require \"enotify\"; notify \"mailto:a@b.example?cc=@r.example:c@d.example\";"),
		             "error: line 1, column 20: notify method \"mailto:a@b.example?cc=@r.example:c@d.example\" is not a valid mailto URI");
		CHECK_EQ_STR(run("require [\"enotify\", \"variables\"]; set \"m\" \"mailto:a..b@c.example\"; "
		                 "if valid_notify_method \"${m}\" { discard; }"), "keep");
		CHECK_EQ_STR(run("require [\"enotify\", \"variables\"]; set \"m\" \"mailto:a@c.example\"; "
		                 "if valid_notify_method \"${m}\" { discard; }"), "discard");
	}
	/* A pattern that backtracks a lot against a long value runs out of steps. */
	char *m = malloc(400000), *p = m;
	for (int i = 0; i < 5; i++) {
		strcpy(p, "Subject: ");
		memset(p + 9, 'a', 60000);
		strcpy(p + 60009, "\r\n");
		p += 60011;
	}
	strcpy(p, "\r\nbody\r\n");
	const char *r = run_env("if header :matches \"subject\" \"*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\" { discard; }", m,
	                        "", "bob@example.com");
	CHECK(strstr(r, "budget") != NULL);
	if (!strstr(r, "budget"))
		fprintf(stderr, "got %s\n", r);
	free(m);
	/* Many actions. */
	char *big = malloc(100000);
	strcpy(big, "require \"fileinto\";");
	for (int i = 0; i < SIEVE_ACTIONS_MAX + 2; i++)
		sprintf(big + strlen(big), "fileinto \"b%d\";", i);
	CHECK_EQ_STR(run(big), "runerror: line 1: more than 64 actions");
	free(big);
}

/*
 * A :regex pattern whose bounds multiply ("((a|b)...){32}){32}": 63
 * octets that the regex library expands to some 20000 positions, each
 * one worked for each octet of the value. Against a 60000-octet Subject
 * it took 9 s of CPU in musl's regexec (the server's), charged about
 * 62000 of the 2000000 steps: some thirty such tests in one script, run
 * for every message. Such a pattern is now too complex (over
 * REGEX_WEIGHT_MAX positions), and one under it costs steps for the
 * value's length times its size: "((a|b){32}){32}x" (2050 positions, a
 * second against the same value) is over the budget at once.
 */
static void test_regex_cost(void)
{
	size_t vlen = 60000;
	char *m = malloc(vlen + 64);
	strcpy(m, "Subject: ");
	memset(m + 9, 'a', vlen);
	strcpy(m + 9 + vlen, "\r\n\r\nbody\r\n");
	const char *r = run_env("require \"regex\"; if header :regex \"subject\" "
	                        "\"(((a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)){32}){32}\" "
	                        "{ discard; }",
	                        m, "", "bob@example.com");
	CHECK(strstr(r, "too complex") != NULL);
	if (!strstr(r, "too complex"))
		fprintf(stderr, "got %s\n", r);
	r = run_env("require \"regex\"; if header :regex \"subject\" \"((a|b){32}){32}x\" { discard; }", m,
	            "", "bob@example.com");
	CHECK(strstr(r, "budget") != NULL);
	if (!strstr(r, "budget"))
		fprintf(stderr, "got %s\n", r);
	/* The same keys from a variable (compiled at run time, not with
	 * the script) are refused and charged alike, before any regcomp or
	 * regexec: against the long value the charge alone is past the
	 * budget, against a short one the key is too complex. */
	const char *dyn = "require [\"regex\", \"variables\"]; set \"k\" "
	                  "\"(((a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)){32}){32}\"; "
	                  "if header :regex \"subject\" \"${k}\" { discard; }";
	CHECK_EQ_STR(run_env(dyn, m, "", "bob@example.com"),
	             "runerror: line 1: the script ran past its budget of 2000000 steps");
	r = run(dyn);
	CHECK(strstr(r, "too complex") != NULL);
	if (!strstr(r, "too complex"))
		fprintf(stderr, "got %s\n", r);
	r = run_env("require [\"regex\", \"variables\"]; set \"k\" \"((a|b){32}){32}x\"; "
	            "if header :regex \"subject\" \"${k}\" { discard; }",
	            m, "", "bob@example.com");
	CHECK(strstr(r, "budget") != NULL);
	if (!strstr(r, "budget"))
		fprintf(stderr, "got %s\n", r);
	/* An everyday pattern over the same long value still runs. */
	CHECK_EQ_STR(run_env("require \"regex\"; if header :regex \"subject\" \"^a+[0-9]{0,3}$\" "
	                     "{ discard; }",
	                     m, "", "bob@example.com"),
	             "discard");
	free(m);
}

/*
 * A script's constant :regex keys are compiled with it, and regcomp
 * takes about 20 us a position: 26000 keys of "((a|b){32}){32}" (2049
 * positions, 42 ms each) fit in 512 KiB, some 18 minutes of compiling
 * on the thread that checks the script (ManageSieve's loop for
 * CHECKSCRIPT) and again at delivery. Past SIEVE_REGEX_COST_MAX the
 * script does not compile; a few everyday keys do.
 */
static void test_regex_compile_cost(void)
{
	size_t cap = 64 * 1024, n = 0;
	char *sc = malloc(cap), err[SIEVE_ERROR_MAX];
	n += (size_t)snprintf(sc + n, cap - n, "require \"regex\";\nif header :regex \"subject\" [");
	for (int k = 0; k < 10; k++)
		n += (size_t)snprintf(sc + n, cap - n, "%s\"((a|b){32}){32}%d\"", k ? "," : "", k);
	n += (size_t)snprintf(sc + n, cap - n, "] { discard; }\n");
	struct sieve_script *s = sieve_compile(sc, n, err);
	CHECK(s == NULL && strstr(err, "line 2, column 4: regular expressions too many") != NULL);
	if (s)
		fprintf(stderr, "compiled\n");
	else if (!strstr(err, "too many"))
		fprintf(stderr, "got %s\n", err);
	sieve_script_free(&s);
	n = (size_t)snprintf(sc, cap, "require \"regex\";\nif header :regex \"subject\" [");
	for (int k = 0; k < 100; k++)
		n += (size_t)snprintf(sc + n, cap - n, "%s\"^[a-z]+-%d@(example|test)\\\\.org$\"", k ? "," : "", k);
	n += (size_t)snprintf(sc + n, cap - n, "] { discard; }\n");
	s = sieve_compile(sc, n, err);
	CHECK(s != NULL);
	if (!s)
		fprintf(stderr, "got %s\n", err);
	sieve_script_free(&s);
	free(sc);
}

/*
 * A test inside foreverypart runs once a part. :contains under
 * i;ascii-casemap folded its keys (and values) into the run's arena each
 * time: seven 60000-octet keys over 2000 parts made 800 MiB that lived
 * until the run ended, in about 4000 steps (10000 parts, 4 GiB: the
 * allocation aborts, and the server with it). The copies are now freed
 * when the test ends.
 */
static void test_loop_fold_memory(void)
{
	size_t cap = 600 * 1024, n = 0, mcap = 64 * 1024, ml = 0;
	char *sc = malloc(cap), *msg = malloc(mcap), err[SIEVE_ERROR_MAX];
	n += (size_t)snprintf(sc, cap,
	                      "require \"foreverypart\"; foreverypart { if header :contains \"subject\" [");
	for (int k = 0; k < 7; k++) {
		n += (size_t)snprintf(sc + n, cap - n, "%s\"", k ? "," : "");
		memset(sc + n, 'q', 60000);
		n += 60000;
		sc[n++] = '"';
	}
	n += (size_t)snprintf(sc + n, cap - n, "] { discard; } }");
	ml += (size_t)snprintf(msg, mcap, "Subject: x\r\nMIME-Version: 1.0\r\n"
	                                  "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 2000; i++)
		ml += (size_t)snprintf(msg + ml, mcap - ml, "--b\r\n\r\nx\r\n");
	ml += (size_t)snprintf(msg + ml, mcap - ml, "--b--\r\n");
	struct sieve_script *s = sieve_compile(sc, n, err);
	CHECK(s != NULL);
	if (s) {
		struct sieve_env env;
		struct sieve_result res;
		memset(&env, 0, sizeof(env));
		env.msg = msg;
		env.len = ml;
		env.env_from = STR_LIT("alice@example.org");
		env.env_to = STR_LIT("bob@example.com");
		struct arena *a = arena_new(0);
		CHECK(sieve_run(s, &env, a, &res) == 0);
		CHECK(arena_used(a) < 64u * 1024 * 1024);
		if (arena_used(a) >= 64u * 1024 * 1024)
			fprintf(stderr, "arena %zu MiB\n", arena_used(a) >> 20);
		arena_free(&a);
		sieve_script_free(&s);
	}
	/* Folding still finds what it should. */
	CHECK_EQ_STR(run("if header :contains \"subject\" [\"NOPE\", \"MoNeY\"] { discard; }"), "discard");
	CHECK_EQ_STR(run("if header :contains \"subject\" [\"NOPE\", \"zzz\"] { discard; }"), "keep");
	free(sc);
	free(msg);
}

/*
 * Variables expanded over and over: each "${a}" of 4 octets stands for
 * 4096, so 16 of them make a 64 KiB string, and a list of 1024 such keys
 * 64 MiB of copies for one test (about 68 KiB of script text). Seven of
 * them fit a script's 512 KiB: 448 MiB for one delivery, a few steps of
 * the budget each. The run now stops at SIEVE_EXPAND_BYTES_MAX.
 */
static void test_expansion_budget(void)
{
	size_t cap = 600 * 1024, n = 0;
	char *sc = malloc(cap), err[SIEVE_ERROR_MAX];
	n += (size_t)snprintf(sc + n, cap - n, "require \"variables\";\nset \"a\" \"");
	memset(sc + n, 'x', 4096);
	n += 4096;
	n += (size_t)snprintf(sc + n, cap - n, "\";\n");
	for (int t = 0; t < 7; t++) {
		n += (size_t)snprintf(sc + n, cap - n, "if header :is \"X-None\" [");
		for (int k = 0; k < 1024; k++) {
			sc[n++] = '"';
			for (int j = 0; j < 16; j++)
				n += (size_t)snprintf(sc + n, cap - n, "${a}");
			n += (size_t)snprintf(sc + n, cap - n, k < 1023 ? "\"," : "\"");
		}
		n += (size_t)snprintf(sc + n, cap - n, "] { discard; }\n");
	}
	struct sieve_script *s = sieve_compile(sc, n, err);
	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "compile: %s\n", err);
		free(sc);
		return;
	}
	struct sieve_env env;
	struct sieve_result res;
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	env.env_from = STR_LIT("alice@example.org");
	env.env_to = STR_LIT("bob@example.com");
	struct arena *a = arena_new(0);
	int rc = sieve_run(s, &env, a, &res);
	CHECK(rc < 0 && strstr(res.error, "expanded") != NULL);
	CHECK(arena_used(a) < 32u * 1024 * 1024);
	if (arena_used(a) >= 32u * 1024 * 1024)
		fprintf(stderr, "arena %zu MiB, rc %d\n", arena_used(a) >> 20, rc);
	arena_free(&a);
	sieve_script_free(&s);
	/* A script that expands little is not touched. */
	CHECK_EQ_STR(run("require \"variables\"; set \"a\" \"x\"; set \"b\" \"${a}${a}\";"
	                 "if string :is \"${b}\" \"xx\" { discard; }"),
	             "discard");
	free(sc);
}

/* What the portal asks the password for (api_sieve.c): a redirect or a
 * notify anywhere, in a block, an elsif or an else included. */
static void test_sends_out(void)
{
	static const struct {
		const char *text;
		int out;
	} t[] = {
		{ "keep;", 0 },
		{ "require \"fileinto\"; if header :contains \"subject\" \"redirect\" { fileinto \"x\"; }", 0 },
		{ "redirect \"a@b.example\";", 1 },
		{ "if true { if true { redirect \"a@b.example\"; } }", 1 },
		{ "if false { keep; } elsif true { redirect \"a@b.example\"; }", 1 },
		{ "if false { keep; } elsif false { keep; } else { if true { redirect \"a@b.example\"; } }", 1 },
		{ "require \"enotify\"; notify \"mailto:a@b.example\";", 1 },
	};
	char err[SIEVE_ERROR_MAX];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct sieve_script *s = sieve_compile(t[i].text, strlen(t[i].text), err);
		CHECK(s != NULL);
		if (s)
			CHECK(sieve_script_sends_out(s) == t[i].out);
		sieve_script_free(&s);
	}
}

static void test_cache(void)
{
	char err[SIEVE_ERROR_MAX];
	struct sieve_ref *r1 = NULL, *r2 = NULL, *r3 = NULL;
	const char *t = "keep;";
	const struct sieve_script *a = sieve_cache_get(t, strlen(t), err, &r1);
	const struct sieve_script *b = sieve_cache_get(t, strlen(t), err, &r2);
	CHECK(a != NULL && a == b);
	CHECK(sieve_cache_get("kep;", 4, err, &r3) == NULL && r3 == NULL);
	CHECK_EQ_STR(err, "line 1, column 1: unknown command \"kep\"");
	sieve_cache_clear(); /* evicted while referenced: still usable */
	CHECK(sieve_script_requires(a, "fileinto") == 0);
	sieve_cache_release(&r1);
	sieve_cache_release(&r2);
	CHECK(r1 == NULL && r2 == NULL);
	/* More texts than slots: the oldest go, the table stays bounded. */
	for (int i = 0; i < 300; i++) {
		char s[64];
		struct sieve_ref *r = NULL;
		snprintf(s, sizeof(s), "if size :over %d { keep; }", i);
		CHECK(sieve_cache_get(s, strlen(s), err, &r) != NULL);
		sieve_cache_release(&r);
	}
	sieve_cache_clear();
}

/* A message with nested multiparts, an attachment and a forwarded one. */
static const char *mixed =
	"From: carol@example.net\r\nTo: bob@example.com\r\nSubject: files\r\n"
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
	"--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n"
	"--i\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n"
	"--i\r\nContent-Type: text/html\r\n\r\n<p>See attached.</p>\r\n--i--\r\n"
	"--o\r\nContent-Type: application/x-msdownload; name=\"setup.exe\"\r\n"
	"Content-Disposition: attachment; filename=\"Important Setup.exe\"\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n"
	"--o\r\nContent-Type: message/rfc822\r\n\r\n"
	"From: dave@example.com\r\nSubject: inner\r\nX-Inner: yes\r\n\r\ninner body\r\n--o--\r\n";

static const char *run_mixed(const char *script)
{
	prefixes(script);
	return run_env(script, mixed, "carol@example.net", "bob@example.com");
}

/* mime and foreverypart (RFC 5703 §3-4), on the RFC's kinds of examples. */
static void test_mime(void)
{
	/* §3: file a message with an attachment whose name says "important",
	 * and stop looking at the first one. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"mime\", \"fileinto\"];\n"
	                       "foreverypart {\n"
	                       "  if header :mime :param \"filename\" :contains\n"
	                       "     \"Content-Disposition\" \"important\" {\n"
	                       "    fileinto \"Important\"; break;\n  }\n}"),
	             "fileinto \"Important\"");
	/* §4.1: refuse executables anywhere in the message. */
	CHECK_EQ_STR(run_mixed("require [\"mime\", \"reject\"];\n"
	                       "if header :mime :anychild :param \"filename\" :matches\n"
	                       "   \"Content-Disposition\" [\"*.com\", \"*.exe\", \"*.scr\"] {\n"
	                       "  reject \"No executables, please.\";\n}"),
	             "reject \"No executables, please.\"");
	/* Without :anychild only the current part (the message) is looked at. */
	CHECK_EQ_STR(run_mixed("require \"mime\"; if header :mime :param \"filename\" :matches "
	                       "\"Content-Disposition\" \"*.exe\" { discard; }"),
	             "keep");
	/* Every part in order, the message first; :type, :subtype, :contenttype. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"mime\", \"fileinto\", \"variables\"];"
	                       "foreverypart { if header :mime :contenttype :matches \"Content-Type\" "
	                       "\"*\" { fileinto \"${1}\"; } }"),
	             "fileinto \"multipart/mixed\"\nfileinto \"multipart/alternative\"\n"
	             "fileinto \"text/plain\"\nfileinto \"text/html\"\n"
	             "fileinto \"application/x-msdownload\"\nfileinto \"message/rfc822\"");
	CHECK_EQ_STR(run_mixed("require [\"mime\", \"fileinto\"];"
	                       "if header :mime :type \"Content-Type\" \"multipart\" { fileinto \"a\"; }"
	                       "if header :mime :subtype \"Content-Type\" \"mixed\" { fileinto \"b\"; }"
	                       "if header :mime :type \"Content-Type\" \"text\" { fileinto \"c\"; }"
	                       "if header :mime :anychild :subtype \"Content-Type\" \"html\" { fileinto \"d\"; }"
	                       "if header :mime :param \"boundary\" \"Content-Type\" \"o\" { fileinto \"e\"; }"),
	             "fileinto \"a\"\nfileinto \"b\"\nfileinto \"d\"\nfileinto \"e\"");
	/* A nested loop walks the parts inside the outer loop's part. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"mime\", \"fileinto\", \"variables\"];"
	                       "foreverypart { if header :mime :subtype \"Content-Type\" \"alternative\" {"
	                       " foreverypart { if header :mime :subtype :matches \"Content-Type\" \"*\" {"
	                       " fileinto \"in-${1}\"; } } } }"),
	             "fileinto \"in-plain\"\nfileinto \"in-html\"");
	/* exists and address with :mime; inside a loop a test without :mime
	 * still reads the message's header. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"mime\", \"fileinto\"];"
	                       "if exists :mime \"X-Inner\" { fileinto \"no\"; }"
	                       "if exists :mime :anychild [\"X-Inner\", \"Subject\"] { fileinto \"any\"; }"
	                       "if address :mime :anychild :domain \"From\" \"example.com\" { fileinto \"dave\"; }"
	                       "foreverypart { if exists :mime \"X-Inner\" {"
	                       " if header :is \"Subject\" \"files\" { fileinto \"outer\"; } } }"),
	             "fileinto \"any\"\nfileinto \"dave\"\nfileinto \"outer\"");
	/* break ends the innermost loop, or the named one and all inside it. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"fileinto\", \"variables\"];"
	                       "set \"n\" \"\"; foreverypart { set \"n\" \"${n}x\"; if string \"${n}\" \"xx\" "
	                       "{ break; } } fileinto \"${n}\";"),
	             "fileinto \"xx\"");
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"fileinto\", \"variables\"];"
	                       "set \"n\" \"\"; foreverypart :name \"out\" { foreverypart {"
	                       " set \"n\" \"${n}x\"; break :name \"out\"; } set \"n\" \"${n}y\"; }"
	                       " fileinto \"${n}\";"),
	             "fileinto \"x\"");
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"fileinto\", \"variables\"];"
	                       "set \"n\" \"\"; foreverypart { foreverypart { set \"n\" \"${n}x\"; break; }"
	                       " set \"n\" \"${n}y\"; } fileinto \"${n}\";"),
	             /* seven parts (the forwarded message is one); the three with
	              * parts inside run the inner loop once */
	             "fileinto \"xyxyyyyxyy\"");
	/* A message without Content-Type is one text part. */
	CHECK_EQ_STR(run_env("require [\"foreverypart\", \"mime\", \"fileinto\", \"variables\"];"
	                     "set \"n\" \"\"; foreverypart { set \"n\" \"${n}x\"; } fileinto \"${n}\";",
	                     "Subject: hi\r\n\r\nbody\r\n", "a@example.org", "b@example.com"),
	             "fileinto \"x\"");
	/* Errors. */
	CHECK_EQ_STR(run("require \"foreverypart\"; break;"),
	             "error: line 1, column 25: break outside foreverypart");
	CHECK_EQ_STR(run("require \"foreverypart\"; foreverypart :name \"a\" { break :name \"b\"; }"),
	             "error: line 1, column 50: break :name \"b\" names no enclosing foreverypart");
	CHECK_EQ_STR(run("require \"foreverypart\"; foreverypart { foreverypart { foreverypart {"
	                 " foreverypart { foreverypart { } } } } }"),
	             "error: line 1, column 85: foreverypart nested deeper than 4");
	CHECK_EQ_STR(run("foreverypart { }"),
	             "error: line 1, column 1: foreverypart needs require \"foreverypart\"");
	CHECK_EQ_STR(run("if header :mime \"a\" \"b\" { }"),
	             "error: line 1, column 11: tag :mime needs require \"mime\"");
	CHECK_EQ_STR(run("require \"mime\"; if header :type \"a\" \"b\" { }"),
	             "error: line 1, column 20: :anychild, :type, :subtype, :contenttype and :param need :mime");
	CHECK_EQ_STR(run("require \"mime\"; if header :mime :type :subtype \"a\" \"b\" { }"),
	             "error: line 1, column 20: only one of :type, :subtype, :contenttype and :param may be given");
	CHECK_EQ_STR(run("require \"mime\"; if address :mime :type \"a\" \"b\" { }"),
	             "error: line 1, column 34: unknown tag :type for address");
	CHECK(strstr(sieve_extensions(), " mime foreverypart") != NULL);
}

/* extracttext (RFC 5703 §7). */
static void test_extracttext(void)
{
	/* §7's kind of use: the start of the text part, for a notification. */
	CHECK_EQ_STR(run_mixed("require [\"foreverypart\", \"mime\", \"variables\", \"extracttext\","
	                       " \"fileinto\"];\nforeverypart {\n"
	                       "  if header :mime :subtype \"Content-Type\" \"plain\" {\n"
	                       "    extracttext :first 6 \"start\"; fileinto \"${start}\";\n"
	                       "    extracttext :upper \"all\"; fileinto \"${all}\";\n  }\n"
	                       "  if header :mime :subtype \"Content-Type\" \"mixed\" {\n"
	                       "    extracttext \"m\"; fileinto \"m-${m}\";\n  }\n"
	                       "  if exists :mime \"X-Inner\" { extracttext \"i\"; fileinto \"i-${i}\"; }\n}"),
	             "fileinto \"m-\"\nfileinto \"See at\"\nfileinto \"SEE ATTACHED.\"\n"
	             "fileinto \"i-inner body\"");
	/* :first counts characters, not octets; base64 and charsets decoded. */
	CHECK_EQ_STR(run_env("require [\"foreverypart\", \"variables\", \"extracttext\", \"fileinto\"];"
	                     "foreverypart { extracttext :first 3 \"t\"; fileinto \"${t}\"; }",
	                     "Content-Type: text/plain; charset=iso-8859-1\r\n"
	                     "Content-Transfer-Encoding: base64\r\n\r\n6Ont6/Q=\r\n",
	                     "a@example.org", "b@example.com"),
	             "fileinto \"\xc3\xa8\xc3\xa9\xc3\xad\"");
	/* an HTML part's text is what a reader sees, as body :text's (it
	 * was the markup; Pigeonhole's mime/extracttext.svtest) */
	CHECK_EQ_STR(run_env("require [\"foreverypart\", \"variables\", \"extracttext\", \"fileinto\"];"
	                     "foreverypart { extracttext \"t\"; fileinto \"${t}\"; }",
	                     "Content-Type: text/html\r\n\r\n<html><body><b>Bold</b> move</body></html>\r\n",
	                     "a@example.org", "b@example.com"),
	             "fileinto \"Bold move \""); /* the block's line end, as the result prints it */
	CHECK_EQ_STR(run("require [\"foreverypart\", \"variables\", \"extracttext\"]; extracttext \"x\";"),
	             "error: line 1, column 55: extracttext outside foreverypart");
	CHECK_EQ_STR(run("require [\"foreverypart\", \"extracttext\"]; foreverypart { extracttext \"x\"; }"),
	             "error: line 1, column 57: extracttext needs require \"variables\"");
	CHECK_EQ_STR(run("require [\"foreverypart\", \"variables\"]; foreverypart { extracttext \"x\"; }"),
	             "error: line 1, column 55: extracttext needs require \"extracttext\"");
	/* its name is a variable's, as set's (they were taken) */
	CHECK_EQ_STR(run("require [\"foreverypart\", \"variables\", \"extracttext\"]; "
	                 "foreverypart { extracttext \"${x}\"; }"),
	             "error: line 1, column 70: invalid variable name \"${x}\"");
	CHECK_EQ_STR(run("require [\"foreverypart\", \"variables\", \"extracttext\"]; "
	                 "foreverypart { extracttext \"0\"; }"),
	             "error: line 1, column 70: invalid variable name \"0\"");
	CHECK(strstr(sieve_extensions(), " foreverypart extracttext") != NULL);
}

/* envelope-dsn (RFC 6009 §3) over the DSN parameters given. */
static const char *run_dsn(const char *script, const char *notify, const char *orcpt,
                           const char *ret, const char *envid)
{
	static char out[1024];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a = arena_new(0);

	CHECK(s != NULL);
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	env.dsn_notify = str_c(notify);
	env.dsn_orcpt = str_c(orcpt);
	env.dsn_ret = str_c(ret);
	env.dsn_envid = str_c(envid);
	snprintf(out, sizeof out, "error");
	if (s && sieve_run(s, &env, a, &res) == 0)
		sieve_result_format(&res, out, sizeof out);
	arena_free(&a);
	sieve_script_free(&s);
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

/* Which of :all, :localpart, :domain match envelope "from" given as
 * want: "a" for ":all :is all", "l" for ":localpart :is local", "d" for
 * ":domain :is domain", "-" for :domain :contains "" (any domain). */
static const char *env_parts(const char *from, const char *all, const char *local, const char *domain)
{
	static char out[32];
	char sc[512];
	snprintf(sc, sizeof sc, "require [\"envelope\", \"fileinto\"];"
	         "if envelope :all :is \"from\" \"%s\" { fileinto \"a\"; }"
	         "if envelope :localpart :is \"from\" \"%s\" { fileinto \"l\"; }"
	         "if envelope :domain :is \"from\" \"%s\" { fileinto \"d\"; }"
	         "if envelope :domain :contains \"from\" \"\" { fileinto \"-\"; }",
	         all, local, domain);
	const char *r = run_env(sc, msg1, from, "bob@example.com");
	size_t n = 0;
	for (const char *p = r; *p && n + 1 < sizeof out; p++)
		if (p[0] == '"' && p[1] && p[2] == '"')
			out[n++] = p[1], p += 2;
	out[n] = '\0';
	return out;
}

/* The envelope as an SMTP path (RFC 5321 §4.1.2): angle brackets and a
 * source route go; a path that is not one is matched by :all as written
 * and by no local part or domain (RFC 5228 §2.7.4, §5.4); the null path
 * is "" to every part. As Pigeonhole's suite (envelope.svtest) has it. */
static void test_envelope_paths(void)
{
	CHECK_EQ_STR(env_parts("s@example.org", "s@example.org", "s", "example.org"), "ald-");
	CHECK_EQ_STR(env_parts("<s@example.org>", "s@example.org", "s", "example.org"), "ald-");
	CHECK_EQ_STR(env_parts("", "", "", ""), "ald-");
	CHECK_EQ_STR(env_parts("<>", "", "", ""), "ald-");
	CHECK_EQ_STR(env_parts("<@cola.example.org,@mx.example.nl:s@example.org>", "s@example.org", "s",
	                       "example.org"), "ald-");
	CHECK_EQ_STR(env_parts("@a.example:s@example.org", "s@example.org", "s", "example.org"), "ald-");
	CHECK_EQ_STR(env_parts("  < @ a . example , @ b.example :  s \t@  example . org >  ", "s@example.org",
	                       "s", "example.org"), "ald-");
	/* :all of a quoted local part is an address: quoted where it must
	 * be, not where it need not (it gave x y@example.org, no address;
	 * Pigeonhole's execute/address-normalize.svtest) */
	CHECK_EQ_STR(env_parts("\"x y\"@example.org", "\\\"x y\\\"@example.org", "x y", "example.org"),
	             "ald-");
	CHECK_EQ_STR(env_parts("\"S[r]us\"@example.org", "\\\"S[r]us\\\"@example.org", "S[r]us",
	                       "example.org"), "ald-");
	CHECK_EQ_STR(env_parts("<\"Sirius\"@example.org>", "Sirius@example.org", "Sirius", "example.org"),
	             "ald-");
	CHECK_EQ_STR(env_parts(".jp..x.@example.com", ".jp..x.@example.com", ".jp..x.", "example.com"), "ald-");
	/* Not paths: :all sees them as written, nothing else matches. */
	const char *bad[] = { "s@", "<<s@example.org>", "s@example.org>", "<s@example.org", "<s example.org>",
	                      "<s@@example.org>", "<cola.example.org:s@example.org>", "<@.example.org:s@example.org>",
	                      "<@cola..nl:s@example.org>", "<@a.example,b.example:s@example.org>",
	                      "<@a.example,@b.example,s@example.org>", "<@a.example@b.example:s@example.org>" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *got = env_parts(bad[i], bad[i], "s", "example.org");
		if (strcmp(got, "a"))
			fprintf(stderr, "%s: %s\n", bad[i], got);
		CHECK_EQ_STR(got, "a");
	}
	/* A local part alone (RFC 5321's <postmaster>) is one. */
	CHECK_EQ_STR(env_parts("<MAILER-DAEMON  >", "MAILER-DAEMON", "MAILER-DAEMON", ""), "ald-");
}

static void test_envelope_dsn(void)
{
	const char *sc = "require [\"envelope\", \"envelope-dsn\"];\n"
	                 "if envelope \"notify\" \"delay\" { discard; }\n"
	                 "if envelope :localpart \"orcpt\" \"orig\" { discard; }\n"
	                 "if envelope \"ret\" \"FULL\" { discard; }\n"
	                 "if envelope :matches \"envid\" \"id-*\" { discard; }\n";
	CHECK_EQ_STR(run_dsn(sc, "", "", "", ""), "keep");
	CHECK_EQ_STR(run_dsn(sc, "SUCCESS,DELAY", "", "", ""), "discard");
	CHECK_EQ_STR(run_dsn(sc, "NEVER", "rfc822;orig@x.test", "", ""), "discard");
	CHECK_EQ_STR(run_dsn(sc, "NEVER", "x400;orig", "HDRS", "other"), "keep");
	CHECK_EQ_STR(run_dsn(sc, "", "", "FULL", ""), "discard");
	CHECK_EQ_STR(run_dsn(sc, "", "", "", "id-7"), "discard");
	/* Without the extension the parts are unknown: the script does
	 * not compile (RFC 5228 §5.4); a part from a variable gives nothing. */
	CHECK_EQ_STR(run("require \"envelope\"; if envelope \"notify\" \"delay\" { discard; }"),
	             "error: line 1, column 24: unknown envelope part \"notify\"");
	CHECK_EQ_STR(run_dsn("require [\"envelope\", \"variables\"]; set \"p\" \"notify\"; "
	                     "if envelope \"${p}\" \"delay\" { discard; }", "DELAY", "", "", ""), "keep");
	CHECK_EQ_STR(run("require \"envelope\"; if envelope [\"to\", \"x-foo\"] \"a\" { discard; }"),
	             "error: line 1, column 24: unknown envelope part \"x-foo\"");
	CHECK_EQ_STR(run("require \"envelope\"; if envelope [\"From\", \"TO\", \"auth\"] \"a\" { discard; }"),
	             "keep");
	/* redirect :notify and :ret are carried in the action. */
	CHECK_EQ_STR(run("require \"redirect-dsn\"; redirect :notify \"NEVER\" :ret \"HDRS\" \"a@b.c\";"),
	             "redirect \"a@b.c\"");
}

/* editheader's result as the header delivery stores (sieve_edit.c). */
static const char *edited(const char *script, const char *msg)
{
	static char out[4096];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct buf b;
	struct arena *a = arena_new(0);

	CHECK(s != NULL);
	memset(&env, 0, sizeof(env));
	env.msg = msg;
	env.len = strlen(msg);
	env.head = head_fields;
	out[0] = '\0';
	buf_init(&b, sizeof out - 1);
	if (s && sieve_run(s, &env, a, &res) == 0) {
		if (!res.fields && res.message.p)
			snprintf(out, sizeof out, "msg:%.*s", (int)res.message.len, res.message.p);
		else if (!res.fields)
			snprintf(out, sizeof out, "unchanged");
		else if (sieve_header_write(&res, &b) == 0)
			snprintf(out, sizeof out, "%.*s", (int)buf_len(&b), buf_data(&b));
	}
	buf_free(&b);
	arena_free(&a);
	sieve_script_free(&s);
	return out;
}

/* addheader's value goes through mime_header_text(), folded (its own
 * tests: test_mime_header_text.c). */
static void test_header_text(void)
{
	char words[1200];
	size_t n = 0;
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(words + n, sizeof words - n, "%sword%02d", i ? " " : "", i);
	char script[1400];
	snprintf(script, sizeof script, "require \"editheader\"; addheader \"X-Long\" \"%s\";", words);
	const char *h = edited(script, "A: b\r\n\r\nbody\r\n");
	CHECK(strncmp(h, "X-Long: word00 word01", 21) == 0);
	CHECK(strstr(h, "\r\n word") != NULL && strstr(h, "word59\r\nA: b\r\n\r\n") != NULL);
}

/* Each action knows the edits made before it (RFC 5293 §5): the header
 * written at that point is the message its copy stores; a deleteheader
 * that removes several fields is one edit; a replace makes the earlier
 * actions take the message as left. */
static void test_edit_points(void)
{
	const char *script =
		"require [\"editheader\", \"fileinto\", \"copy\", \"replace\"];"
		"fileinto \"A\"; addheader \"X-1\" \"one\"; redirect :copy \"r@b.example\";"
		"deleteheader \"X-D\"; fileinto \"B\"; addheader :last \"X-2\" \"two\"; keep;";
	const char *msg = "X-D: a\r\nSubject: s\r\nX-D: b\r\n\r\nbody\r\n";
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a = arena_new(0);
	static const char *want[] = {
		"X-D: a\r\nSubject: s\r\nX-D: b\r\n\r\n",
		"X-1: one\r\nX-D: a\r\nSubject: s\r\nX-D: b\r\n\r\n",
		"X-1: one\r\nSubject: s\r\n\r\n",
		"X-1: one\r\nSubject: s\r\nX-2: two\r\n\r\n",
	};

	CHECK(s != NULL);
	memset(&env, 0, sizeof env);
	env.msg = msg;
	env.len = strlen(msg);
	CHECK(s && sieve_run(s, &env, a, &res) == 0);
	CHECK(res.edits == 3);
	uint32_t at[4] = { 99, 99, 99, 99 };
	for (uint32_t i = 0; i < res.nactions; i++) {
		const struct sieve_action *x = &res.actions[i];
		if (x->kind == SIEVE_ACT_FILEINTO && x->target.len == 1)
			at[x->target.p[0] == 'A' ? 0 : 2] = x->edits;
		else if (x->kind == SIEVE_ACT_REDIRECT)
			at[1] = x->edits;
		else if (x->kind == SIEVE_ACT_KEEP)
			at[3] = x->edits;
	}
	CHECK(at[0] == 0 && at[1] == 1 && at[2] == 2 && at[3] == 3);
	for (int i = 0; i < 4; i++) {
		struct buf b;
		buf_init(&b, 4096);
		CHECK(sieve_header_write_at(&res, at[i], &b) == 0);
		(void)buf_append(&b, "", 1);
		CHECK_EQ_STR(buf_data(&b), want[i]);
		buf_free(&b);
	}
	arena_free(&a);
	sieve_script_free(&s);

	/* fileinto, addheader, replace, fileinto: the first stores what the
	 * script leaves (tern keeps one message). */
	script = "require [\"editheader\", \"fileinto\", \"replace\"];"
	         "fileinto \"A\"; addheader \"X-1\" \"one\"; replace \"new\"; fileinto \"B\";";
	s = sieve_compile(script, strlen(script), err);
	a = arena_new(0);
	CHECK(s && sieve_run(s, &env, a, &res) == 0);
	CHECK(res.message.p != NULL);
	for (uint32_t i = 0; i < res.nactions; i++)
		if (res.actions[i].kind == SIEVE_ACT_FILEINTO && res.actions[i].target.p[0] == 'A')
			CHECK(res.actions[i].edits == SIEVE_EDITS_LAST);
	arena_free(&a);
	sieve_script_free(&s);
}

/* The fields the server puts in front (sieve_env.head): the tests read
 * them first, size counts them; deleteheader leaves them and the edited
 * header or replaced message never holds them (the store writes them). */
static void test_server_head(void)
{
	const char *m = "From: a@b.example\r\nSubject: s\r\n\r\nbody\r\n";
	head_fields = STR_LIT("Return-Path: <a@b.example>\r\nReceived: by mx.example.com\r\n"
	                      "X-Spam-Status: Yes, score=9\r\n");
	CHECK_EQ_STR(run_env("require [\"fileinto\", \"variables\", \"index\"];"
	                     "if header :matches \"x-spam-status\" \"*,*\" { fileinto \"${1}\"; }"
	                     "if header :index 1 :is \"received\" \"by mx.example.com\" { fileinto \"ours\"; }"
	                     "if address :is \"return-path\" \"a@b.example\" { fileinto \"rp\"; }",
	                     m, "a@b.example", "bob@example.com"),
	             "fileinto \"Yes\"\nfileinto \"ours\"\nfileinto \"rp\"");
	char s[160];
	snprintf(s, sizeof s, "require \"fileinto\"; if size :over %zu { fileinto \"all\"; }",
	         strlen(m) + head_fields.len - 1);
	CHECK_EQ_STR(run_env(s, m, "a@b.example", "bob@example.com"), "fileinto \"all\"");
	CHECK_EQ_STR(edited("require [\"editheader\", \"fileinto\"]; deleteheader \"x-spam-status\";"
	                    "deleteheader \"subject\"; addheader \"X-New\" \"v\";"
	                    "if not exists \"x-spam-status\" { fileinto \"gone\"; }", m),
	             "X-New: v\r\nFrom: a@b.example\r\n\r\n");
	CHECK_EQ_STR(run_env("require [\"editheader\", \"fileinto\"]; deleteheader \"x-spam-status\";"
	                     "if exists \"x-spam-status\" { fileinto \"kept\"; }",
	                     m, "a@b.example", "bob@example.com"),
	             "fileinto \"kept\"");
	const char *r = edited("require [\"replace\", \"fileinto\"]; replace \"new\";", m);
	CHECK(strncmp(r, "msg:From: a@b.example\r\nSubject: s\r\n", 34) == 0 && !strstr(r, "X-Spam") && !strstr(r, "Received"));
	CHECK_EQ_STR(run_env("require [\"replace\", \"fileinto\"]; replace \"new\";"
	                     "if header :contains \"x-spam-status\" \"Yes\" { fileinto \"still\"; }",
	                     m, "a@b.example", "bob@example.com"),
	             "replace\nfileinto \"still\"");
	head_fields = STR_NULL;
}

static void test_edit_write(void)
{
	const char *m = "Received: x\r\nX-A: 1\r\nSubject: s\r\n\tfolded\r\nX-A: 2\r\nX-A: 3\r\n\r\nbody\r\n";
	CHECK_EQ_STR(edited("keep;", m), "unchanged");
	/* RFC 5293 §4: a value's line ends that do not fold are made folds
	 * (tern cut the value at the first), a fold stays one, the closing
	 * line end of a text: value goes; the header test sees the value
	 * unfolded, whole. */
	CHECK_EQ_STR(edited("require [\"editheader\", \"variables\", \"encoded-character\"];"
	                    "set \"v\" \"a${hex:0a}b${hex:0d 0d}c${hex:0d 0a 09}d\";"
	                    "addheader \"X-T\" \"${v}\"; addheader \"X-U\" text:\r\nx\r\ny\r\n.\r\n;", m),
	             "X-U: x\r\n y\r\nX-T: a\r\n b\r\n c\r\n\td\r\nReceived: x\r\nX-A: 1\r\nSubject: s\r\n\tfolded\r\n"
	             "X-A: 2\r\nX-A: 3\r\n\r\n");
	CHECK_EQ_STR(run("require [\"editheader\", \"fileinto\"]; addheader \"X-T\" \"a\nb\";"
	                 "if header :is \"x-t\" \"a b\" { fileinto \"whole\"; }"),
	             "addheader \"X-T\" \"a  b\"\nfileinto \"whole\"");
	/* A NUL: a constant refused when compiled, one from a variable an
	 * error when it runs (the message is kept, nothing stored with it). */
	CHECK_EQ_STR(run("require [\"editheader\", \"encoded-character\"]; addheader \"X-T\" \"a${hex:00}b\";"),
	             "error: line 1, column 46: addheader: the value holds a NUL");
	CHECK_EQ_STR(run("require [\"editheader\", \"encoded-character\", \"variables\", \"fileinto\"];"
	                 "set \"v\" \"a${hex:00}b\"; fileinto \"F\"; addheader \"X-T\" \"${v}\";"),
	             "runerror: line 1: addheader: the value holds a NUL");
	CHECK_EQ_STR(edited("require \"editheader\"; addheader \"X-New\" \"v\"; addheader :last \"X-End\" \"\xc3\xa9\";", m),
	             "X-New: v\r\nReceived: x\r\nX-A: 1\r\nSubject: s\r\n\tfolded\r\nX-A: 2\r\nX-A: 3\r\n"
	             "X-End: =?utf-8?q?=C3=A9?=\r\n\r\n");
	/* Received is protected; :index 2 counts from the top, :last from the end. */
	CHECK_EQ_STR(edited("require \"editheader\"; deleteheader \"received\"; deleteheader :index 2 \"x-a\";", m),
	             "Received: x\r\nX-A: 1\r\nSubject: s\r\n\tfolded\r\nX-A: 3\r\n\r\n");
	CHECK_EQ_STR(edited("require \"editheader\"; deleteheader :index 1 :last \"x-a\"; deleteheader :contains \"x-a\" \"1\";", m),
	             "Received: x\r\nSubject: s\r\n\tfolded\r\nX-A: 2\r\n\r\n");
	/* All of one name, then nothing else to delete. */
	CHECK_EQ_STR(edited("require \"editheader\"; deleteheader \"X-A\"; deleteheader \"subject\";", m),
	             "Received: x\r\n\r\n");
	CHECK(sieve_body_offset(m, strlen(m)) == (ptrdiff_t)(strlen(m) - 6));
	CHECK(sieve_body_offset("A: b\r\n", 6) == 6);

	/* replace (RFC 5703 §5): the header without its MIME fields, the
	 * new body as text/plain; :subject and :from replace theirs. */
	const char *mm = "From: a@x\r\nSubject: old\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n";
	CHECK_EQ_STR(edited("require \"replace\"; replace \"New\ntext\";", mm),
	             "msg:From: a@x\r\nSubject: old\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nNew\r\ntext\r\n");
	CHECK_EQ_STR(edited("require \"replace\"; replace :subject \"n\xc3\xa9w\" :from \"b@y\" :mime \"Content-Type: text/plain\r\n\r\nhi\";", mm),
	             "msg:Subject: =?utf-8?q?n=C3=A9w?=\r\nFrom: b@y\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhi\r\n");
	/* Edited after the replace: the fields are the new message's. */
	CHECK_EQ_STR(edited("require [\"replace\", \"editheader\"]; replace \"b\"; deleteheader \"from\";", mm),
	             "Subject: old\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
	/* enclose (RFC 5703 §6): multipart/mixed, the text, then the message. */
	const char *enc = edited("require \"enclose\"; enclose :subject \"Wrapped\" :headers \"X-Why: test\" \"Look\";", mm);
	CHECK(strncmp(enc, "msg:From: a@x\r\nSubject: Wrapped\r\nX-Why: test\r\nMIME-Version: 1.0\r\n"
	                   "Content-Type: multipart/mixed; boundary=\"tern-enclose-", 114) == 0);
	CHECK(strstr(enc, "\r\n\r\nLook\r\n--tern-enclose-") != NULL);
	CHECK(strstr(enc, "Content-Type: message/rfc822\r\n\r\nFrom: a@x\r\nSubject: old\r\n"
	                  "MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n\r\n--tern-enclose-") != NULL);
	CHECK(strlen(enc) > 20 && strcmp(enc + strlen(enc) - 4, "--\r\n") == 0);
	/* A long :headers field is folded at its spaces, not encoded. */
	enc = edited("require \"enclose\"; enclose :headers \"To: Aa Bb <aa@example.test>, "
	             "Cc Dd <cc@example.test>, Ee Ff <ee@example.test>, Gg <gg@example.test>\" \"Look\";",
	             mm);
	CHECK(strstr(enc, "\r\nTo: Aa Bb <aa@example.test>, Cc Dd <cc@example.test>, Ee Ff "
	                  "<ee@example.test>,\r\n Gg <gg@example.test>\r\n") != NULL);
	/* What the script writes goes out as valid MIME (RFC 2045 §2.7,
	 * §2.8; RFC 5322 §2.1.1): 8-bit text as 8bit under charset=utf-8,
	 * a line over 998 octets or a NUL as quoted-printable; a :from
	 * whose display name is not ASCII as RFC 2047 words; a :mime
	 * entity keeps only its Content-* fields, and its text body the
	 * encoding it needs. Before, a long line went out as "8bit", the
	 * :from raw in the header, and a From in the :mime entity made a
	 * second From. */
	CHECK(strstr(edited("require \"replace\"; replace \"Gr\xc3\xbc\xc3\x9f" "e\";", mm),
	             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n") != NULL);
	{
		static char big[2200];
		memset(big, 0, sizeof big);
		strcpy(big, "require [\"replace\", \"enclose\"]; replace \"");
		size_t at = strlen(big);
		memset(big + at, 'x', 1200);
		strcpy(big + at + 1200, "\";");
		const char *e = edited(big, mm);
		CHECK(strstr(e, "Content-Transfer-Encoding: quoted-printable\r\n\r\nxxx") != NULL);
		CHECK(strstr(e, "x=\r\n") != NULL);
		strcpy(big, "require \"enclose\"; enclose \"");
		at = strlen(big);
		memset(big + at, 'y', 1200);
		strcpy(big + at + 1200, "\";");
		e = edited(big, mm);
		CHECK(strstr(e, "Content-Type: text/plain; charset=utf-8\r\n"
		                "Content-Transfer-Encoding: quoted-printable\r\n\r\nyyy") != NULL);
		CHECK(strstr(e, "Content-Transfer-Encoding: 8bit") == NULL);
	}
	CHECK(strstr(edited("require \"replace\"; replace :from \"J\xc3\xbcrgen <j@example.test>\" \"x\";", mm),
	             "\r\nFrom: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\n") != NULL);
	CHECK_EQ_STR(edited("require \"replace\"; replace :mime \"From: ceo@bank.test\r\n"
	                    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
	                    "\xc3\xa9t\xc3\xa9\";", mm),
	             "msg:From: a@x\r\nSubject: old\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	             "\xc3\xa9t\xc3\xa9\r\n");
	/* enclose of 8-bit text or an 8-bit message: the multipart and the
	 * message/rfc822 part say 8bit (7bit, the default, was false). */
	{
		const char *m8 = "From: a@x\r\nSubject: b\r\n\r\nK\xc3\xa4se\r\n";
		const char *e = edited("require \"enclose\"; enclose \"Look\";", m8);
		CHECK(strstr(e, "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--tern-enclose-") != NULL);
		CHECK(strstr(e, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n") != NULL);
		e = edited("require \"enclose\"; enclose \"Gr\xc3\xbc\xc3\x9f" "e\";", mm);
		CHECK(strstr(e, "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--tern-enclose-") != NULL);
		CHECK(strstr(e, "Content-Type: message/rfc822\r\n\r\n") != NULL);
		e = edited("require \"enclose\"; enclose \"Look\";", mm);
		CHECK(strstr(e, "8bit") == NULL);
	}
	/* enclose :headers: a text field that is not ASCII as RFC 2047
	 * words, an address field as written (it went out raw before). */
	{
		const char *e = edited("require \"enclose\"; enclose :headers [\"X-Note: Gr\xc3\xbc\xc3\x9f" "e\", "
		                       "\"Reply-To: ann@example.test\"] \"Look\";", mm);
		CHECK(strstr(e, "\r\nX-Note: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nReply-To: ann@example.test\r\n") != NULL);
	}
	/* A :mime entity already encoded, or not text, stays as written. */
	CHECK(strstr(edited("require \"replace\"; replace :mime \"Content-Type: application/pdf\r\n"
	                    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\";", mm),
	             "MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=") != NULL);
	/* Later tests see the new message. */
	EXPECT("require [\"replace\", \"body\"]; replace :subject \"Hi\" \"zebra\"; "
	       "if allof (header :is \"subject\" \"Hi\", body :contains \"zebra\") { discard; }",
	       "replace :subject \"Hi\"\ndiscard");
	EXPECT("require \"enclose\"; enclose \"see\"; if header :contains \"content-type\" \"multipart/mixed\" { discard; }",
	       "enclose\ndiscard");
	/* Inside foreverypart (RFC 5703 §5): replace replaces the current
	 * part, boundaries and the other parts untouched; on the message
	 * itself (the loop's first part) the whole message. */
	const char *mx = "From: a@x\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n"
	                 "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	                 "--b\r\nContent-Type: application/octet-stream\r\n"
	                 "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n";
	CHECK_EQ_STR(edited("require [\"foreverypart\", \"mime\", \"replace\"]; foreverypart {\n"
	                    "if header :mime :type \"content-type\" \"application\" { replace \"removed\"; } }", mx),
	             "msg:From: a@x\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n"
	             "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	             "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nremoved\r\n--b--\r\n");
	CHECK_EQ_STR(run("require [\"replace\", \"foreverypart\"]; foreverypart { replace \"x\"; }"),
	             "replace\nkeep");
	/* The edits made before a part's replacement stay; later tests see
	 * the new part; the loop goes on to the parts after it. */
	CHECK_EQ_STR(run_env("require [\"foreverypart\", \"mime\", \"replace\", \"editheader\", "
	                     "\"body\", \"fileinto\"]; addheader \"X-A\" \"1\";\n"
	                     "foreverypart { if header :mime :type \"content-type\" \"application\" {"
	                     " replace :mime \"Content-Type: text/plain\r\n\r\ngone\"; }\n"
	                     " if header :mime :subtype \"content-type\" \"plain\" { fileinto \"seen\"; } }\n"
	                     "if allof (body :contains \"gone\", header :is \"x-a\" \"1\") { discard; }",
	                     mx, "a@x", "b@y"),
	             "addheader \"X-A\" \"1\"\nfileinto \"seen\"\nreplace\ndiscard");
	/* enclose inside foreverypart: once the loop is over. */
	const char *enl = edited("require [\"foreverypart\", \"mime\", \"enclose\"]; foreverypart {\n"
	                         "if header :mime :type \"content-type\" \"application\" { enclose \"wrapped\"; } }", mx);
	CHECK(strncmp(enl, "msg:From: a@x\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
	                   "Content-Type: multipart/mixed; boundary=\"tern-enclose-", 86) == 0);
	CHECK(strstr(enl, "\r\n\r\nwrapped\r\n--tern-enclose-") != NULL);
	CHECK_EQ_STR(run_env("require [\"foreverypart\", \"enclose\", \"fileinto\"]; foreverypart {"
	                     " enclose :subject \"w\" \"x\"; fileinto \"in\"; }", mx, "a@x", "b@y"),
	             "fileinto \"in\"\nenclose :subject \"w\"");
	CHECK(strncmp(run("require \"enclose\"; enclose :headers \"bad\" \"x\";"), "runerror: ", 10) == 0);
	CHECK_EQ_STR(run("require \"replace\"; replace :mime :subject \"s\" :from \"f\" \"x\"; keep;"),
	             "replace :subject \"s\"\nkeep");
	CHECK(strncmp(run("replace \"x\";"), "error", 5) == 0);
}

/* envelope-deliverby and redirect-deliverby (RFC 6009 §4, §5) with MAIL's
 * BY= as by (0: none); now is 2026-11-16 00:00:00 UTC. */
static const char *run_by(const char *script, int by, int64_t left, int ret, int trace)
{
	static char out[1024];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a = arena_new(0);

	if (!s) {
		snprintf(out, sizeof out, "error: %s", err);
		arena_free(&a);
		return out;
	}
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	env.now = 1794787200;
	env.by = by;
	env.by_deadline = env.now + left;
	env.by_return = ret;
	env.by_trace = trace;
	if (sieve_run(s, &env, a, &res) == 0)
		sieve_result_format(&res, out, sizeof out);
	else
		snprintf(out, sizeof out, "runerror: %s", res.error);
	arena_free(&a);
	sieve_script_free(&s);
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

static void test_deliverby(void)
{
	const char *env = "require [\"envelope\", \"envelope-deliverby\", \"fileinto\", "
	                  "\"relational\", \"comparator-i;ascii-numeric\"];\n"
	                  "if envelope \"bymode\" \"return\" { fileinto \"R\"; }\n"
	                  "if envelope \"bymode\" \"notify\" { fileinto \"N\"; }\n"
	                  "if envelope \"bytrace\" \"on\" { fileinto \"T\"; }\n"
	                  "if envelope :value \"lt\" :comparator \"i;ascii-numeric\" \"bytimerelative\" \"600\""
	                  " { fileinto \"soon\"; }\n"
	                  "if envelope \"bytimeabsolute\" \"2026-11-16T00:05:00Z\" { fileinto \"abs\"; }\n"
	                  "if envelope :matches \"bytimerelative\" \"-*\" { fileinto \"late\"; }\n";
	CHECK_EQ_STR(run_by(env, 1, 300, 1, 0), "fileinto \"R\"\nfileinto \"soon\"\nfileinto \"abs\"");
	CHECK_EQ_STR(run_by(env, 1, -30, 0, 1),
	             "fileinto \"N\"\nfileinto \"T\"\nfileinto \"late\"");
	/* No BY= on MAIL: the parts give nothing, :count says 0. */
	CHECK_EQ_STR(run_by(env, 0, 0, 0, 0), "keep");
	CHECK_EQ_STR(run_by("require [\"envelope\", \"envelope-deliverby\", \"relational\", "
	                    "\"comparator-i;ascii-numeric\"]; if envelope :count \"eq\" "
	                    ":comparator \"i;ascii-numeric\" \"bymode\" \"0\" { discard; }", 0, 0, 0, 0),
	             "discard");
	/* Without the extension the parts are unknown. */
	CHECK_EQ_STR(run_by("require \"envelope\"; if envelope \"bymode\" \"return\" { discard; }",
	                    1, 300, 1, 0), "error: line 1, column 24: unknown envelope part \"bymode\"");

	const char *rd = "require [\"redirect-deliverby\"];\n";
	char buf[512];
	snprintf(buf, sizeof buf, "%sredirect :bytimerelative 600 \"a@example.net\";", rd);
	CHECK_EQ_STR(run_by(buf, 0, 0, 0, 0),
	             "redirect \"a@example.net\" :bytimeabsolute \"2026-11-16T00:10:00Z\" :bymode \"return\"");
	snprintf(buf, sizeof buf, "%sredirect :bytimeabsolute \"2026-11-16T09:30:00+01:00\" :bymode "
	         "\"notify\" :bytrace \"a@example.net\";", rd);
	CHECK_EQ_STR(run_by(buf, 0, 0, 0, 0),
	             "redirect \"a@example.net\" :bytimeabsolute \"2026-11-16T08:30:00Z\" :bymode \"notify\" :bytrace");
	snprintf(buf, sizeof buf, "%sredirect :bytimeabsolute \"tomorrow\" \"a@example.net\";", rd);
	CHECK_EQ_STR(run_by(buf, 0, 0, 0, 0),
	             "error: line 2, column 10: :bytimeabsolute \"tomorrow\" is not an RFC 3339 date-time");
	/* one from a variable is checked when it runs */
	CHECK_EQ_STR(run_by("require [\"redirect-deliverby\", \"variables\"]; set \"t\" \"tomorrow\";\n"
	                    "redirect :bytimeabsolute \"${t}\" \"a@example.net\";", 0, 0, 0, 0),
	             "runerror: line 2: :bytimeabsolute \"tomorrow\" is not an RFC 3339 date-time");
	EXPECT("require \"redirect-deliverby\"; redirect :bymode \"return\" \"a@example.net\";",
	       "error: line 1, column 40: :bymode needs :bytimerelative or :bytimeabsolute");
	EXPECT("require \"redirect-deliverby\"; redirect :bytimerelative 5 :bymode \"later\" \"a@example.net\";",
	       "error: line 1, column 58: :bymode must be \"notify\" or \"return\"");
	EXPECT("require \"redirect-deliverby\"; redirect :bytimerelative 5 :bytimeabsolute "
	       "\"2026-11-16T09:30:00Z\" \"a@example.net\";",
	       "error: line 1, column 31: only one of :bytimerelative and :bytimeabsolute may be given");
	EXPECT("redirect :bytimerelative 5 \"a@example.net\";",
	       "error: line 1, column 10: tag :bytimerelative needs require \"redirect-deliverby\"");
	CHECK(strstr(sieve_extensions(), "envelope-deliverby redirect-deliverby") != NULL);
}

/* mboxmetadata, servermetadata (RFC 5490): entries given by the env's
 * metadata callback, the mailbox "Work" holding one, the server one; a
 * mailbox named "Broken" cannot be read (the store failed). */
static int meta_cb(void *ctx, struct str mailbox, struct str name, struct arena *a,
                   struct str *value_r)
{
	(void)ctx;
	(void)a;
	if (mailbox.p && str_eq(mailbox, STR_LIT("Broken")))
		return -1;
	if (mailbox.p && str_eq(mailbox, STR_LIT("Work")) &&
	    str_eq_ci(name, STR_LIT("/private/comment"))) {
		*value_r = STR_LIT("Quarterly Plans");
		return 1;
	}
	if (!mailbox.p && str_eq_ci(name, STR_LIT("/shared/motd"))) {
		*value_r = STR_LIT("");
		return 1;
	}
	return 0;
}

static const char *run_meta(const char *script, int with_cb)
{
	static char out[1024];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a = arena_new(0);

	if (!s) {
		snprintf(out, sizeof out, "error: %s", err);
		arena_free(&a);
		return out;
	}
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	if (with_cb)
		env.metadata = meta_cb;
	if (sieve_run(s, &env, a, &res) == 0)
		sieve_result_format(&res, out, sizeof out);
	else
		snprintf(out, sizeof out, "runerror: %s", res.error);
	arena_free(&a);
	sieve_script_free(&s);
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

/* fileinto to one name with another :specialuse or :mailboxid may be
 * another mailbox: two actions, not one (before, the second was taken
 * for a duplicate and dropped). */
static void test_fileinto_targets(void)
{
	const char *t = "require [\"fileinto\", \"special-use\", \"mailboxid\"];\n"
	                "fileinto :specialuse \"\\\\Sent\" \"A\"; fileinto \"A\";\n"
	                "fileinto :mailboxid \"M00000001\" \"A\"; fileinto :specialuse \"\\\\sent\" \"A\";\n"
	                "fileinto :mailboxid \"M00000001\" \"A\";";
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(t, strlen(t), err);
	struct sieve_env env;
	struct sieve_result res;
	struct arena *a = arena_new(0);
	CHECK(s != NULL);
	if (!s) {
		arena_free(&a);
		return;
	}
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	CHECK_EQ_INT(sieve_run(s, &env, a, &res), 0);
	CHECK_EQ_INT((int)res.nactions, 3);
	if (res.nactions == 3) {
		CHECK(str_eq(res.actions[0].specialuse, STR_LIT("\\Sent")) && !res.actions[0].mailboxid.len);
		CHECK(!res.actions[1].specialuse.len && !res.actions[1].mailboxid.len);
		CHECK(str_eq(res.actions[2].mailboxid, STR_LIT("M00000001")));
	}
	arena_free(&a);
	sieve_script_free(&s);
}

static void test_metadata(void)
{
	const char *req = "require [\"mboxmetadata\", \"servermetadata\", \"fileinto\", "
	                  "\"variables\", \"relational\", \"comparator-i;ascii-numeric\"];\n";
	char buf[1024];

	/* The default match is :is under i;ascii-casemap, names in any case. */
	snprintf(buf, sizeof buf, "%sif metadata \"Work\" \"/PRIVATE/comment\" \"quarterly plans\" "
	         "{ fileinto \"a\"; }\nif metadata :matches \"Work\" \"/private/comment\" \"* *\" "
	         "{ fileinto \"${2}\"; }\nif metadata :comparator \"i;octet\" \"Work\" "
	         "\"/private/comment\" \"quarterly plans\" { fileinto \"octet\"; }", req);
	CHECK_EQ_STR(run_meta(buf, 1), "fileinto \"a\"\nfileinto \"Plans\"");
	/* An entry or a mailbox that is not there: false, :count too. */
	snprintf(buf, sizeof buf, "%sif metadata :matches \"Work\" \"/private/none\" \"*\" { fileinto \"a\"; }\n"
	         "if metadata :matches \"Home\" \"/private/comment\" \"*\" { fileinto \"b\"; }\n"
	         "if metadata :count \"eq\" :comparator \"i;ascii-numeric\" \"Work\" \"/private/none\" \"0\" "
	         "{ fileinto \"c\"; }\n"
	         "if metadata :count \"eq\" :comparator \"i;ascii-numeric\" \"Work\" \"/private/comment\" \"1\" "
	         "{ fileinto \"d\"; }", req);
	CHECK_EQ_STR(run_meta(buf, 1), "fileinto \"d\"");
	/* exists: all of them; the server's entries are not a mailbox's. */
	snprintf(buf, sizeof buf, "%sif metadataexists \"Work\" \"/private/comment\" { fileinto \"a\"; }\n"
	         "if metadataexists \"Work\" [\"/private/comment\", \"/shared/motd\"] { fileinto \"b\"; }\n"
	         "if servermetadataexists \"/shared/MOTD\" { fileinto \"c\"; }\n"
	         "if servermetadataexists [\"/shared/motd\", \"/private/comment\"] { fileinto \"d\"; }\n"
	         "if servermetadata :is \"/shared/motd\" \"\" { fileinto \"e\"; }\n"
	         "if servermetadata :contains \"/private/comment\" \"\" { fileinto \"f\"; }", req);
	CHECK_EQ_STR(run_meta(buf, 1), "fileinto \"a\"\nfileinto \"c\"\nfileinto \"e\"");
	/* Without a store nothing is there. */
	CHECK_EQ_STR(run_meta(buf, 0), "keep");
	/* A store that fails is a run-time error (the message is kept). */
	snprintf(buf, sizeof buf, "%sif metadataexists \"Broken\" \"/private/x\" { discard; }", req);
	CHECK_EQ_STR(run_meta(buf, 1), "runerror: line 2: metadata entry \"/private/x\" could not be read");
	/* Arguments and require. */
	CHECK_EQ_STR(run_meta("if metadata \"INBOX\" \"/private/x\" \"y\" { discard; }", 1),
	             "error: line 1, column 4: metadata needs require \"mboxmetadata\"");
	CHECK_EQ_STR(run_meta("require \"mboxmetadata\"; if servermetadataexists \"/private/x\" { discard; }", 1),
	             "error: line 1, column 28: servermetadataexists needs require \"servermetadata\"");
	CHECK(strncmp(run_meta("require \"mboxmetadata\"; if metadata \"/private/x\" \"y\" { discard; }", 1),
	              "error: ", 7) == 0);
	CHECK(strncmp(run_meta("require \"servermetadata\"; if servermetadataexists \"a\" \"b\" { discard; }", 1),
	              "error: ", 7) == 0);
	/* Each name looked up is a step of the run (a long list inside a
	 * loop is bounded by the budget like any other work); so is each
	 * mailbox mailboxexists asks for. */
	{
		uint64_t steps[2];
		const char *sc[2] = {
			"require \"mboxmetadata\"; if metadataexists \"Work\" \"/private/comment\" { keep; }",
			"require \"mboxmetadata\"; if metadataexists \"Work\" [\"/private/comment\", "
			"\"/private/comment\", \"/private/comment\", \"/private/comment\"] { keep; }",
		};
		for (int k = 0; k < 2; k++) {
			char err[SIEVE_ERROR_MAX];
			struct sieve_script *s = sieve_compile(sc[k], strlen(sc[k]), err);
			struct sieve_env env;
			struct sieve_result res;
			struct arena *a = arena_new(0);
			memset(&env, 0, sizeof(env));
			env.msg = msg1;
			env.len = strlen(msg1);
			env.metadata = meta_cb;
			steps[k] = 0;
			if (s && sieve_run(s, &env, a, &res) == 0)
				steps[k] = res.steps;
			arena_free(&a);
			sieve_script_free(&s);
		}
		CHECK(steps[0] > 0 && steps[1] >= steps[0] + 3);
	}
	CHECK(strstr(sieve_extensions(), " mboxmetadata servermetadata") != NULL);
	CHECK(sieve_extension_known(STR_LIT("mboxmetadata")) && sieve_extension_known(STR_LIT("servermetadata")));
}

/* What a run does once (a part's text decoded and folded, a constant
 * :regex key compiled with the script) answers as doing it each time
 * would: every comparator on the same part, keys in nested tests,
 * elsif, foreverypart; a bad key from a variable a run error, a bad
 * constant one a compile error. */
static void test_once_per_run(void)
{
	EXPECT("require [\"body\", \"fileinto\"];"
	       "if body :contains \"PROJECT\" { fileinto \"a\"; }"
	       "if body :comparator \"i;octet\" :contains \"PROJECT\" { fileinto \"b\"; }"
	       "if body :comparator \"i;octet\" :contains \"project\" { fileinto \"c\"; }"
	       "if body :contains [\"zzz\", \"HELLO bob\"] { fileinto \"d\"; }"
	       "if body :content \"text/html\" :contains \"<B>bob\" { fileinto \"e\"; }"
	       "if body :matches \"*Funded.\" { fileinto \"f\"; }",
	       "fileinto \"a\"\nfileinto \"c\"\nfileinto \"d\"\nfileinto \"e\"\nfileinto \"f\"");
	EXPECT("require [\"regex\", \"variables\", \"fileinto\"];"
	       "if false { keep; } elsif anyof (false, not header :regex \"subject\" \"^xyz\") {"
	       "  if header :regex \"subject\" \"^caf.+ (MEETING) about\" { fileinto \"${1}\"; }"
	       "  if header :comparator \"i;octet\" :regex \"subject\" \"^caf.+ (MEETING)\" { fileinto \"no\"; }"
	       "}",
	       "fileinto \"meeting\"");
	EXPECT("require [\"regex\", \"foreverypart\", \"mime\", \"fileinto\"];"
	       "foreverypart { if header :mime :regex \"content-type\" \"^text/h\" { fileinto \"h\"; } }",
	       "fileinto \"h\"");
	EXPECT("require [\"regex\", \"variables\"]; set \"p\" \"^Caf\";"
	       "if header :regex \"subject\" [\"${p}\", \"zz\"] { discard; }",
	       "discard");
	CHECK_EQ_STR(run("require [\"regex\", \"variables\"]; set \"p\" \"((\";"
	                 "if header :regex \"subject\" [\"^x\", \"${p}\"] { discard; }"),
	             "runerror: line 1: invalid regular expression \"((\"");
	/* a run-time error of a matcher gives the line of its test, as a
	 * compile-time error does: here the third line's */
	CHECK_EQ_STR(run("require [\"regex\", \"variables\"];\r\nset \"p\" \"((\";\r\n"
	                 "if allof(true,\r\n  header :regex \"subject\" \"${p}\") { discard; }"),
	             "runerror: line 4: invalid regular expression \"((\"");
	CHECK_EQ_STR(run("require [\"editheader\", \"regex\", \"variables\"];\r\nset \"p\" \"((\";\r\n"
	                 "keep;\r\ndeleteheader :regex \"subject\" \"${p}\";"),
	             "runerror: line 4: invalid regular expression \"((\"");
	CHECK_EQ_STR(run("require \"regex\"; if header :regex \"subject\" [\"^x\", \"((\"] { discard; }"),
	             "error: line 1, column 21: invalid regular expression \"((\"");
}

/* The period of the script's action of that kind, in seconds; 0 when
 * the script has none or does not run. */
static uint64_t action_period(const char *script, enum sieve_action_kind kind)
{
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	struct sieve_env env;
	struct sieve_result res;
	uint64_t secs = 0;

	if (!s)
		return 0;
	memset(&env, 0, sizeof(env));
	env.msg = msg1;
	env.len = strlen(msg1);
	env.env_from = STR_LIT("alice@example.org");
	env.env_to = STR_LIT("bob@example.com");
	struct arena *a = arena_new(0);
	if (sieve_run(s, &env, a, &res) == 0)
		for (uint32_t i = 0; i < res.nactions; i++)
			if (res.actions[i].kind == kind)
				secs = res.actions[i].seconds;
	arena_free(&a);
	sieve_script_free(&s);
	return secs;
}

/* A period under a day is raised to one (Pigeonhole's
 * sieve_vacation_min_period): ":seconds 0" was 0, so the delivery stage
 * remembered the sender for one second and answered every message. */
static void test_vacation_period(void)
{
	const char *v = "require [\"vacation\", \"vacation-seconds\"]; vacation ";
	char script[256];
	static const struct {
		const char *args;
		uint64_t want;
	} cases[] = {
		{ "", 7 * 86400 },
		{ ":seconds 0", 86400 },
		{ ":seconds 1", 86400 },
		{ ":seconds 86399", 86400 },
		{ ":seconds 90000", 90000 },
		{ ":seconds 99999999999", 365 * 86400 },
		{ ":days 0", 86400 },
		{ ":days 1", 86400 },
		{ ":days 30", 30 * 86400 },
		{ ":days 1000", 365 * 86400 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(script, sizeof script, "%s%s \"away\";", v, cases[i].args);
		CHECK_EQ_INT(action_period(script, SIEVE_ACT_VACATION), cases[i].want);
	}
}

/*
 * duplicate's :seconds (RFC 7352 §3.3) is at most
 * SIEVE_DUPLICATE_MAX_SECONDS: it was taken whole, so the delivery
 * stage added up to 2^64-1 to the time (a signed overflow, undefined;
 * under UBSan an abort in delivery) and an id kept for ever, each
 * message a script tested adding one to the store for good.
 */
static void test_duplicate_period(void)
{
	const char *d = "require \"duplicate\"; if duplicate :uniqueid \"x\" ";
	char script[256];
	static const struct {
		const char *args;
		uint64_t want;
	} cases[] = {
		{ "", 7 * 86400 },
		{ ":seconds 60", 60 },
		{ ":seconds 2592000", SIEVE_DUPLICATE_MAX_SECONDS },
		{ ":seconds 9223372036854775807", SIEVE_DUPLICATE_MAX_SECONDS },
		{ ":seconds 18446744073709551615", SIEVE_DUPLICATE_MAX_SECONDS },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(script, sizeof script, "%s%s { keep; }", d, cases[i].args);
		CHECK_EQ_INT(action_period(script, SIEVE_ACT_DUPLICATE), cases[i].want);
	}
}

/* The warnings of a script that compiles; "error" when it does not. */
static const char *warnings(const char *script)
{
	static char out[SIEVE_WARNINGS_MAX];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s = sieve_compile(script, strlen(script), err);
	if (!s)
		return "error";
	snprintf(out, sizeof out, "%s", sieve_script_warnings(s));
	sieve_script_free(&s);
	return out;
}

/*
 * What compiles but is not what its author likely meant is warned about
 * (RFC 5804 §1.3's WARNINGS, as Pigeonhole's sievec warns about the same
 * constructs); the script still compiles and runs. An unknown date part
 * was refused outright, where Pigeonhole takes the script with a warning
 * and the test is false.
 */
static void test_warnings(void)
{
	CHECK_EQ_STR(warnings("keep;"), "");
	CHECK_EQ_STR(warnings("require \"vacation\"; vacation :days 7 \"x\";"), "");
	CHECK_EQ_STR(warnings("require \"vacation\"; vacation :days 0 \"x\";"),
	             "line 1, column 30: warning: :days 0 is under the minimum of 1 (raised to it)");
	CHECK_EQ_STR(warnings("require \"vacation\"; vacation :days 400 \"x\";"),
	             "line 1, column 30: warning: :days 400 is over the maximum of 365 (lowered to it)");
	CHECK_EQ_STR(warnings("require \"vacation\"; vacation :days 18446744073709551615 \"x\";"),
	             "line 1, column 30: warning: :days 18446744073709551615 is over the maximum of 365 (lowered to it)");
	CHECK_EQ_STR(warnings("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 60 \"x\";"),
	             "line 1, column 52: warning: :seconds 60 is under the minimum of 86400 (raised to it)");
	CHECK_EQ_STR(warnings("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 86400 \"x\";"), "");
	CHECK_EQ_STR(warnings("require \"duplicate\"; if duplicate :seconds 9999999 { keep; }"),
	             "line 1, column 35: warning: :seconds 9999999 is over the maximum of 2592000 (lowered to it)");
	CHECK_EQ_STR(warnings("require \"imap4flags\"; addflag [\"\\\\Seen\", \"$Junk\"];"), "");
	CHECK_EQ_STR(warnings("require \"imap4flags\"; addflag \"\\\\Seen \\\\Foo\";"),
	             "line 1, column 23: warning: \"\\Foo\" is no IMAP flag and will be ignored");
	CHECK_EQ_STR(warnings("require [\"imap4flags\", \"fileinto\"]; fileinto :flags \"a(b\" \"X\";"),
	             "line 1, column 37: warning: \"a(b\" is no IMAP flag and will be ignored");
	CHECK_EQ_STR(warnings("require [\"imap4flags\", \"variables\"]; setflag \"${x}\";"), "");
	CHECK_EQ_STR(warnings("if header :is \"x y\" \"a\" { keep; }"),
	             "line 1, column 4: warning: \"x y\" is no header field name: it matches nothing");
	CHECK_EQ_STR(warnings("if exists [\"From\", \"a:b\"] { keep; }"),
	             "line 1, column 4: warning: \"a:b\" is no header field name: it matches nothing");
	CHECK_EQ_STR(warnings("if exists \"\" { keep; }"), "");
	/* what the script wrote comes back as one line of UTF-8 */
	CHECK_EQ_STR(warnings("if exists \"a\r\nb\tc\xff\" { keep; }"),
	             "line 1, column 4: warning: \"a??b?c?\" is no header field name: it matches nothing");
	CHECK_EQ_STR(warnings("if exists \"caf\xc3\xa9 x\" { keep; }"),
	             "line 1, column 4: warning: \"caf\xc3\xa9 x\" is no header field name: it matches nothing");
	CHECK_EQ_STR(warnings("require \"date\"; if date \"date\" \"era\" \"x\" {}"),
	             "line 1, column 20: warning: unknown date part \"era\": the test is always false");
	/* RFC 5228 §8.1: hash-comment = "#" *octet-not-crlf CRLF */
	CHECK_EQ_STR(warnings("keep;\r\n# bye"),
	             "line 2, column 1: warning: the last line's \"#\" comment is not ended by a line break");
	CHECK_EQ_STR(warnings("keep; # bye\r\n"), "");
	/* two warnings, on one line (a ManageSieve quoted string) */
	CHECK_EQ_STR(warnings("require [\"date\", \"vacation\"];\nif currentdate \"era\" \"x\" {}\n"
	                      "vacation :days 0 \"x\";"),
	             "line 2, column 4: warning: unknown date part \"era\": the test is always false; "
	             "line 3, column 10: warning: :days 0 is under the minimum of 1 (raised to it)");
	/* the test is false, the script runs on */
	CHECK_EQ_STR(run("require [\"date\", \"fileinto\"]; if date \"date\" \"era\" \"x\" "
	                 "{ fileinto \"A\"; } else { fileinto \"B\"; }"),
	             "fileinto \"B\"");
	/* many warnings: as many as fit, whole ones */
	char big[8192] = "require \"date\";\n";
	for (int i = 0; i < 100; i++)
		strcat(big, "if currentdate \"era\" \"x\" {}\n");
	const char *w = warnings(big);
	CHECK(strlen(w) > 900 && strlen(w) < SIEVE_WARNINGS_MAX);
	CHECK(strlen(w) >= 12 && !strcmp(w + strlen(w) - 12, "always false"));
}

/* Compiles script; its errors as sieve_errors_format gives them, with
 * " | " between, "" when it compiles. */
static const char *all_errors(const char *script, uint32_t *n_r)
{
	static char out[SIEVE_ERRORS_TEXT_MAX];
	struct sieve_errors errs;
	struct sieve_script *s = sieve_compile_errors(script, strlen(script), &errs);
	*n_r = errs.n;
	if (s) {
		sieve_script_free(&s);
		return "";
	}
	return sieve_errors_format(&errs, " | ", out, sizeof out);
}

/* The parser goes on after an error, to the end of the failing command,
 * and reports every error (ManageSieve's users see them all). */
static void test_error_recovery(void)
{
	uint32_t n;
	/* three bad commands, each its own error; the good ones between
	 * them do not hide the next */
	CHECK_EQ_STR(all_errors("keep;\nfrop;\nkeep;\nfileinto \"x\";\nstop;\nredirect;\n", &n),
	             "line 2, column 1: unknown command \"frop\" | "
	             "line 4, column 1: fileinto needs require \"fileinto\" | "
	             "line 6, column 1: redirect takes 1 positional argument, found 0");
	CHECK(n == 3);
	/* an error in an if's test: its block is still checked, its else
	 * is not "without an if" */
	all_errors("if header :frop \"a\" \"b\" {\n  frop;\n} else {\n  keep;\n  bar;\n}\n", &n);
	CHECK(n == 3);
	/* ";" and "}" inside brackets are no end; a script with errors of
	 * syntax is reported with those alone (as Pigeonhole: the others
	 * may come of what the parser misread), "keep takes no test" and
	 * the unknown "frop" here */
	CHECK_EQ_STR(all_errors("keep\nstop;\nif anyof (true; }) { keep; }\ndiscard;\nfrop;\n"
	                        "if true { keep }", &n),
	             "line 3, column 15: expected \",\" or \")\", found \";\" | "
	             "line 6, column 16: expected \";\", found \"}\"");
	CHECK(n == 2);
	/* a stray "}" at the top, bad octets: each reported, then on */
	CHECK_EQ_STR(all_errors("}\nkeep;\n\x01;\n@;\nkeep\n", &n),
	             "line 1, column 1: expected a command, found \"}\" | "
	             "line 3, column 1: unexpected octet 0x01 | "
	             "line 4, column 1: unexpected character '@' | "
	             "line 6, column 1: expected \";\", found end of script");
	CHECK(n == 4);
	/* an unknown name once, at its first use */
	CHECK_EQ_STR(all_errors("frop;\nkeep;\nfrop;\nif frop { frop; }\nbar;", &n),
	             "line 1, column 1: unknown command \"frop\" | "
	             "line 5, column 1: unknown command \"bar\"");
	CHECK(n == 2);
	/* past SIEVE_ERRORS_MAX only counted; memory stays that bounded */
	char big[4096] = "";
	for (int i = 0; i < 200; i++)
		strcat(big, "keep 1;");
	const char *e = all_errors(big, &n);
	CHECK(n == 200);
	CHECK(strstr(e, "(195 more errors)") != NULL);
	CHECK(strlen(e) < SIEVE_ERRORS_TEXT_MAX);
	/* sieve_compile gives the first */
	char err[SIEVE_ERROR_MAX];
	CHECK(sieve_compile("keep;\nfrop;\nbar;", 16, err) == NULL);
	CHECK_EQ_STR(err, "line 2, column 1: unknown command \"frop\"");
	/* nesting past the limit in every command: one error each */
	char deep[4096] = "";
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 40; i++)
			strcat(deep, "if true {");
		for (int i = 0; i < 40; i++)
			strcat(deep, "}");
	}
	CHECK_EQ_STR(all_errors(deep, &n), "line 1, column 283: nesting deeper than 32 | "
	                                   "line 1, column 683: nesting deeper than 32");
	CHECK(n == 2);
	/* recovery stays within the nesting limit: "{{{{..." recursed
	 * once a brace (a stack overflow at 400,000 of them) */
	size_t nb = 400000;
	char *braces = malloc(nb + 1);
	memset(braces, '{', nb);
	braces[nb] = '\0';
	CHECK(strncmp(all_errors(braces, &n), "line 1, column 1: expected a command, found \"{\"", 47) == 0);
	CHECK(n >= 1 && n <= SIEVE_NEST_MAX + 1);
	free(braces);
	/* every :regex key that is none, with the other errors */
	CHECK_EQ_STR(all_errors("require \"regex\";\nif header :regex \"a\" \"(\" {}\nkeep 1;\n"
	                        "if header :regex \"a\" [\"x\", \"[\"] {}", &n),
	             "line 3, column 6: keep takes 0 positional arguments, found 1 | "
	             "line 2, column 4: invalid regular expression \"(\" | "
	             "line 4, column 4: invalid regular expression \"[\"");
	CHECK(n == 3);
	/* a good script: none */
	CHECK_EQ_STR(all_errors("if true { keep; } else { discard; }", &n), "");
	CHECK(n == 0);
}

/* A script storing into more distinct variables than a run holds
 * (SIEVE_VARS_MAX) is refused when it compiles, naming the first one
 * too many, once; it compiled and failed at every delivery before. A
 * name set again is the same variable, and the global ones (RFC 6609)
 * have a table of their own. */
static void test_variable_count(void)
{
	static char script[16384];
	size_t k = (size_t)snprintf(script, sizeof script, "require [\"variables\", \"include\"];\n");
	for (int i = 0; i < SIEVE_VARS_MAX; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, "set \"v%d\" \"x\"; set \"v%d\" \"y\";\n", i, i);
	for (int i = 0; i < SIEVE_VARS_MAX; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, "set \"global.g%d\" \"x\";\n", i);
	k += (size_t)snprintf(script + k, sizeof script - k, "keep;\n");
	CHECK_EQ_STR(run(script), "keep");
	size_t at = k - strlen("keep;\n");
	snprintf(script + at, sizeof script - at, "set \"extra\" \"x\"; set \"more\" \"x\";\nkeep;\n");
	uint32_t n;
	char want[64];
	snprintf(want, sizeof want, "line %d, column 1: more than %d variables", 2 * SIEVE_VARS_MAX + 2,
	         SIEVE_VARS_MAX);
	CHECK_EQ_STR(all_errors(script, &n), want);
	CHECK(n == 1);
	snprintf(script + at, sizeof script - at, "global \"g\"; set \"g\" \"x\";\nkeep;\n");
	snprintf(want, sizeof want, "line %d, column 13: more than %d global variables", 2 * SIEVE_VARS_MAX + 2,
	         SIEVE_VARS_MAX);
	CHECK_EQ_STR(all_errors(script, &n), want);
	/* a flag variable (RFC 5232 §3) is one of them; "global.NAME" is
	 * the global NAME, for setflag too */
	k = (size_t)snprintf(script, sizeof script,
	                     "require [\"variables\", \"imap4flags\", \"include\"];\n");
	for (int i = 0; i < SIEVE_VARS_MAX; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, "setflag \"f%d\" \"x\";\n", i);
	k += (size_t)snprintf(script + k, sizeof script - k, "setflag \"global.g\" \"x\";\n");
	CHECK_EQ_STR(all_errors(script, &n), "");
	snprintf(script + k, sizeof script - k, "set \"one_more\" \"x\";\n");
	snprintf(want, sizeof want, "line %d, column 1: more than %d variables", SIEVE_VARS_MAX + 3,
	         SIEVE_VARS_MAX);
	CHECK_EQ_STR(all_errors(script, &n), want);
	/* global declarations (RFC 6609 §3.3): one name declared again is
	 * one variable (each took a place when it ran: 129 failed); more
	 * distinct names than a frame holds do not compile */
	k = (size_t)snprintf(script, sizeof script, "require [\"variables\", \"include\"];\n");
	for (int i = 0; i <= SIEVE_VARS_MAX; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, "global \"g\";\n");
	snprintf(script + k, sizeof script - k, "set \"g\" \"x\";\nkeep;\n");
	CHECK_EQ_STR(run(script), "keep");
	k = (size_t)snprintf(script, sizeof script, "require [\"variables\", \"include\"];\n");
	for (int i = 0; i <= SIEVE_VARS_MAX; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, "global \"g%d\";\n", i);
	snprintf(want, sizeof want, "line %d, column 1: more than %d global variables declared",
	         SIEVE_VARS_MAX + 2, SIEVE_VARS_MAX);
	CHECK_EQ_STR(all_errors(script, &n), want);
}

/* A multi-line string of lines ended by bare LFs, the script's last
 * text: each line is CRLF-ended in the string, one octet more than
 * written. Its buffer was sized from the rest of the script, so such a
 * string near the end overran it: a 40-line value came out with NULs
 * ("addheader: the value holds a NUL"), a larger one past its block. */
static void test_multiline_size(void)
{
	static char script[32768];
	uint32_t n;
	for (int lines = 40; lines <= 400; lines *= 10) {
		size_t k = (size_t)snprintf(script, sizeof script,
		                            "require [\"editheader\", \"variables\"];\nset \"v\" text:\n");
		for (int i = 0; i < lines; i++)
			k += (size_t)snprintf(script + k, sizeof script - k, "%050d\n", i);
		snprintf(script + k, sizeof script - k, "..dot\n.\n;\naddheader \"x-frop\" \"${v}\";\n");
		CHECK_EQ_STR(all_errors(script, &n), "");
		snprintf(script + k, sizeof script - k,
		         "..dot\n.\n;\nset :length \"n\" \"${v}\";\nif string \"${n}\" \"%d\" { discard; }\n",
		         lines * 52 + 6 < SIEVE_VAR_VALUE_MAX ? lines * 52 + 6 : SIEVE_VAR_VALUE_MAX);
		CHECK_EQ_STR(run(script), "discard");
		snprintf(script + k, sizeof script - k, "..dot\n.\n;\naddheader \"x-frop\" text:\n%050d\n.\n;", 0);
		CHECK_EQ_STR(all_errors(script, &n), "");
	}
}

int main(void)
{
	test_error_recovery();
	test_warnings();
	test_sends_out();
	test_cache();
	test_vacation_period();
	test_duplicate_period();
	test_core();
	test_errors();
	test_variables();
	test_imap4flags();
	test_extensions();
	test_limits();
	test_variable_count();
	test_multiline_size();
	test_expansion_budget();
	test_regex_cost();
	test_regex_compile_cost();
	test_loop_fold_memory();
	test_mime();
	test_extracttext();
	test_edit_write();
	test_server_head();
	test_edit_points();
	test_header_text();
	test_envelope_dsn();
	test_envelope_paths();
	test_once_per_run();
	test_deliverby();
	test_metadata();
	test_fileinto_targets();
	CHECK(strstr(sieve_extensions(), "vacation-seconds") != NULL);
	return unit_done("test_sieve");
}
