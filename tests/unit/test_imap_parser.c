/*
 * test_imap_parser.c — the IMAP command parser.
 *
 * Every stream is run through a small simulated daemon (input buffer,
 * feed, accept or refuse literals, reset the arena, next; a raw line
 * after IDLE and after AUTHENTICATE without an initial response) that
 * writes an event log. Each stream is given whole, one byte at a time and
 * in random chunks; every log must equal the expected one.
 *
 * Log events: C(tag|COMMAND|args) a command, with arguments rendered
 * (atoms as sent, NIL, "quoted" re-escaped, {N}"literal", (lists),
 * sections normalised as NAME[1.2.HEADER.FIELDS (a b)]<o.l>); L{N} /
 * L{N+} / L~{N} a literal announcement, followed by R when the daemon
 * refused it; E(CODE|tag) an error, then ! when it asks to close;
 * N(line) a raw line; ~ at the end when the parser is mid-command.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "store/store.h"
#include "unit.h"

struct log {
	char s[32768];
	size_t n;
};

static void logf_(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct log *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->n >= sizeof(l->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->n += (size_t)n < sizeof(l->s) - l->n ? (size_t)n : sizeof(l->s) - l->n - 1;
}

/* Quoted rendering: \" \\ re-escaped, CR LF NUL and 8-bit shown as escapes. */
static void log_quoted(struct log *l, struct str s)
{
	logf_(l, "\"");
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (s.len > 48 && i == 16) {
			logf_(l, "...");
			i = s.len - 16;
			c = (unsigned char)s.p[i];
		}
		if (c == '"' || c == '\\')
			logf_(l, "\\%c", c);
		else if (c == '\r')
			logf_(l, "\\r");
		else if (c == '\n')
			logf_(l, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			logf_(l, "\\x%02x", c);
		else
			logf_(l, "%c", c);
	}
	logf_(l, "\"");
}

static void log_args(struct log *l, const struct imap_arg *a, size_t n);

static void log_arg(struct log *l, const struct imap_arg *a)
{
	static const char *const texts[] = {"",     "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	                                    "TEXT", "MIME"};
	const struct imap_section *sec;

	switch (a->type) {
	case IMAP_ARG_ATOM:
		logf_(l, "%.*s", (int)a->str.len, a->str.p);
		break;
	case IMAP_ARG_NIL:
		logf_(l, "NIL");
		break;
	case IMAP_ARG_STRING:
		log_quoted(l, a->str);
		break;
	case IMAP_ARG_LITERAL:
		logf_(l, "%s{%zu%s}", a->flags & IMAP_ARGF_LITERAL8 ? "~" : "", a->str.len,
		      a->flags & IMAP_ARGF_NONSYNC ? "+" : "");
		log_quoted(l, a->str);
		break;
	case IMAP_ARG_LIST:
		logf_(l, "(");
		log_args(l, a->list, a->list_count);
		logf_(l, ")");
		break;
	case IMAP_ARG_SECTION:
		sec = a->section;
		logf_(l, "%.*s[", (int)a->str.len, a->str.p);
		for (size_t i = 0; i < sec->nparts; i++)
			logf_(l, "%s%u", i ? "." : "", sec->part[i]);
		logf_(l, "%s%s", sec->nparts && sec->text ? "." : "", texts[sec->text]);
		if (sec->fields) {
			logf_(l, " (");
			log_args(l, sec->fields, sec->nfields);
			logf_(l, ")");
		}
		logf_(l, "]");
		if (sec->partial && sec->length == UINT64_MAX)
			logf_(l, "<%llu>", (unsigned long long)sec->offset);
		else if (sec->partial)
			logf_(l, "<%llu.%llu>", (unsigned long long)sec->offset,
			      (unsigned long long)sec->length);
		break;
	case IMAP_ARG_END:
		logf_(l, "<END?>");
		break;
	}
}

static void log_args(struct log *l, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			logf_(l, " ");
		log_arg(l, &a[i]);
	}
	/* The array is END-terminated. */
	if (a[n].type != IMAP_ARG_END)
		logf_(l, "<NO END>");
}

static const char *err_name(int r)
{
	static const char *const names[] = {
	    "",       "EMPTY",   "TAG",     "NO_COMMAND", "SYNTAX",          "QUOTED",
	    "UTF8",   "NUL",     "BARE_CR", "PARENS",     "DEPTH",           "SECTION",
	    "NUMBER", "LITSIZE", "LINE",    "COMMAND",    "LITERAL_TOO_BIG", "LITERAL_MINUS",
	    "ARGS",   "DESYNC",
	};

	if (r < 0 && -r < (int)(sizeof(names) / sizeof(names[0])))
		return names[-r];
	return "?";
}

struct sim {
	const struct imap_parser_limits *lim; /* NULL: defaults */
	uint64_t budget;                      /* refuse literals above it (0: none) */
};

static unsigned rng_state;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/*
 * Runs in[0..len) through the simulated daemon; chunk 0 gives it whole,
 * 1 one octet at a time, other values random chunk sizes with that seed.
 */
static void run(const char *in, size_t len, const struct sim *sim, unsigned chunk, struct log *l)
{
	struct arena *a = arena_new(0);
	struct imap_parser p;
	char *acc = malloc(len + 1);
	size_t have = 0, pos = 0, got = 0, c;
	int line_mode = 0, dead = 0;

	l->n = 0;
	l->s[0] = '\0';
	rng_state = chunk;
	imap_parser_init(&p, a, sim->lim);
	for (;;) {
		while (!dead) {
			struct str line;
			int r;

			if (line_mode)
				r = imap_parser_line(&p, acc + pos, have - pos, &c, &line);
			else
				r = imap_parser_feed(&p, acc + pos, have - pos, &c);
			CHECK(c <= have - pos);
			pos += c;
			if (r == IMAP_PARSE_MORE) {
				CHECK(pos == have);
				break;
			}
			switch (r) {
			case IMAP_PARSE_LINE:
				CHECK(pos > 0 && acc[pos - 1] == '\n');
				logf_(l, "N(%.*s)", (int)line.len, line.p);
				line_mode = 0;
				break;
			case IMAP_PARSE_LITERAL:
				CHECK(pos > 0 && acc[pos - 1] == '\n');
				logf_(l, "L%s{%llu%s}", p.cmd.literal.binary ? "~" : "",
				      (unsigned long long)p.cmd.literal.size,
				      p.cmd.literal.nonsync ? "+" : "");
				if (sim->budget && p.cmd.literal.size > sim->budget) {
					logf_(l, "R");
					imap_parser_literal_refuse(&p);
					CHECK(p.cmd.tag.len > 0);
					arena_reset(a);
					imap_parser_next(&p);
				} else {
					imap_parser_literal_accept(&p);
				}
				break;
			case IMAP_PARSE_COMMAND:
				CHECK(pos > 0 && acc[pos - 1] == '\n');
				if (p.cmd.id == IMAP_CMD_UNKNOWN)
					logf_(l, "C(%.*s|?%.*s|", (int)p.cmd.tag.len, p.cmd.tag.p,
					      (int)p.cmd.name.len, p.cmd.name.p);
				else
					logf_(l, "C(%.*s|%s|", (int)p.cmd.tag.len, p.cmd.tag.p,
					      imap_cmd_name(p.cmd.id));
				log_args(l, p.cmd.args, p.cmd.nargs);
				logf_(l, ")");
				if (p.cmd.id == IMAP_CMD_IDLE ||
				    (p.cmd.id == IMAP_CMD_AUTHENTICATE && p.cmd.nargs == 1))
					line_mode = 1;
				arena_reset(a);
				imap_parser_next(&p);
				break;
			default:
				CHECK(r < 0);
				CHECK(p.err_msg != NULL);
				logf_(l, "E(%s|%.*s)", err_name(r), (int)p.cmd.tag.len,
				      p.cmd.tag.p ? p.cmd.tag.p : "");
				if (p.err_close) {
					logf_(l, "!");
					dead = 1;
					break;
				}
				arena_reset(a);
				imap_parser_next(&p);
				line_mode = 0;
				break;
			}
		}
		if (got == len || dead)
			break;
		{
			size_t step = chunk == 0 ? len : chunk == 1 ? 1 : 1 + rng() % 17;

			if (step > len - got)
				step = len - got;
			memcpy(acc + have, in + got, step);
			have += step;
			got += step;
		}
	}
	if (!dead && (p.state != 0 || line_mode))
		logf_(l, "~");
	imap_parser_clear(&p);
	arena_free(&a);
	free(acc);
}

static void check_run(const char *in, size_t len, const struct sim *sim, const char *expect,
                      int line)
{
	struct log whole, other;
	unsigned seed;

	run(in, len, sim, 0, &whole);
	unit_checks++;
	if (strcmp(whole.s, expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: got\n    %s\nexpected\n    %s\n", __FILE__, line, whole.s,
		        expect);
	}
	for (seed = 1; seed < 14; seed++) {
		run(in, len, sim, seed, &other);
		unit_checks++;
		if (strcmp(whole.s, other.s) != 0) {
			unit_failures++;
			fprintf(stderr, "%s:%d: chunking %u gives\n    %s\nwhole gives\n    %s\n",
			        __FILE__, line, seed, other.s, whole.s);
		}
	}
}

static const struct sim defaults = {NULL, 0};

#define P(in, expect) check_run(in, sizeof(in) - 1, &defaults, expect, __LINE__)
#define PS(sim, in, expect) check_run(in, sizeof(in) - 1, sim, expect, __LINE__)

/* ---- real-world commands ---- */

static void test_clients(void)
{
	/* Thunderbird */
	P("1 capability\r\n", "C(1|CAPABILITY|)");
	P("2 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")\r\n",
	  "C(2|ID|(\"name\" \"Thunderbird\" \"version\" \"115.3.1\"))");
	P("3 authenticate PLAIN\r\nAHVzZXIAcGFzcw==\r\n4 select \"INBOX\"\r\n",
	  "C(3|AUTHENTICATE|PLAIN)N(AHVzZXIAcGFzcw==)C(4|SELECT|\"INBOX\")");
	P("5 getquotaroot \"INBOX\"\r\n", "C(5|GETQUOTAROOT|\"INBOX\")");
	P("6 UID fetch 1:* (FLAGS)\r\n", "C(6|UID FETCH|1:* (FLAGS))");
	P("a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc "
	  "Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To "
	  "Content-Type Reply-To)])\r\n",
	  "C(a1|UID FETCH|1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc "
	  "Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To "
	  "Content-Type Reply-To)]))");
	P("7 UID fetch 5 (UID RFC822.SIZE BODY.PEEK[])\r\n",
	  "C(7|UID FETCH|5 (UID RFC822.SIZE BODY.PEEK[]))");
	P("8 uid store 5 +Flags (\\Seen)\r\n", "C(8|UID STORE|5 +Flags (\\Seen))");
	P("9 list (SUBSCRIBED) \"\" \"*\" return (SPECIAL-USE)\r\n",
	  "C(9|LIST|(SUBSCRIBED) \"\" \"*\" return (SPECIAL-USE))");
	P("10 IDLE\r\nDONE\r\n11 noop\r\n", "C(10|IDLE|)N(DONE)C(11|NOOP|)");
	P("12 UID MOVE 3:4 \"Trash\"\r\n", "C(12|UID MOVE|3:4 \"Trash\")");

	/* Apple Mail */
	P("1.1 CAPABILITY\r\n2.1 ENABLE QRESYNC\r\n", "C(1.1|CAPABILITY|)C(2.1|ENABLE|QRESYNC)");
	P("3.1 SELECT INBOX (QRESYNC (1234567 99 1:100))\r\n",
	  "C(3.1|SELECT|INBOX (QRESYNC (1234567 99 1:100)))");
	P("4.1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
	  "C(4.1|UID FETCH|1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED))");
	P("5.1 UID SEARCH 1:* NOT DELETED\r\n", "C(5.1|UID SEARCH|1:* NOT DELETED)");
	P("6.1 UID FETCH 27 (BODY.PEEK[1.2.MIME] BODY.PEEK[1.2]<0.16384>)\r\n",
	  "C(6.1|UID FETCH|27 (BODY.PEEK[1.2.MIME] BODY.PEEK[1.2]<0.16384>))");
	P("7.1 STATUS \"Sent Messages\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)\r\n",
	  "C(7.1|STATUS|\"Sent Messages\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ))");

	/* K-9 Mail */
	P("5 UID SEARCH 1:* NOT DELETED SINCE 1-Jan-2024\r\n",
	  "C(5|UID SEARCH|1:* NOT DELETED SINCE 1-Jan-2024)");
	P("6 UID FETCH 123 (UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (date subject "
	  "from content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity "
	  "Chat-Version)])\r\n",
	  "C(6|UID FETCH|123 (UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (date subject "
	  "from content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity "
	  "Chat-Version)]))");
	P("7 UID STORE 12 +FLAGS.SILENT (\\Seen)\r\n8 UID COPY 12 \"Trash\"\r\n9 EXPUNGE\r\n",
	  "C(7|UID STORE|12 +FLAGS.SILENT (\\Seen))C(8|UID COPY|12 \"Trash\")C(9|EXPUNGE|)");
	P("10 UID FETCH 123 (UID BODYSTRUCTURE)\r\n", "C(10|UID FETCH|123 (UID BODYSTRUCTURE))");
	P("11 UID FETCH 123 (UID BODY.PEEK[1.1] BODY.PEEK[2]<0.4096>)\r\n",
	  "C(11|UID FETCH|123 (UID BODY.PEEK[1.1] BODY.PEEK[2]<0.4096>))");

	/* mbsync */
	P("3 LOGIN \"user\" \"pa\\\"ss\\\\\"\r\n", "C(3|LOGIN|\"user\" \"pa\\\"ss\\\\\")");
	P("4 NAMESPACE\r\n5 LIST \"\" \"*\"\r\n6 SELECT \"INBOX\"\r\n",
	  "C(4|NAMESPACE|)C(5|LIST|\"\" \"*\")C(6|SELECT|\"INBOX\")");
	P("7 UID FETCH 1:1000000000 (UID FLAGS)\r\n", "C(7|UID FETCH|1:1000000000 (UID FLAGS))");
	P("8 APPEND \"INBOX\" (\\Seen) {12+}\r\nFrom: a\r\n\r\nb\r\n",
	  "L{12+}C(8|APPEND|\"INBOX\" (\\Seen) {12+}\"From: a\\r\\n\\r\\nb\")");
	P("9 UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n10 UID EXPUNGE 3\r\n11 LOGOUT\r\n",
	  "C(9|UID STORE|3 +FLAGS.SILENT (\\Deleted))C(10|UID EXPUNGE|3)C(11|LOGOUT|)");

	/* Outlook */
	P("A0001 CAPABILITY\r\nA0002 LOGIN user@example.com {6}\r\np@ss w\r\n",
	  "C(A0001|CAPABILITY|)L{6}C(A0002|LOGIN|user@example.com {6}\"p@ss w\")");
	P("A0005 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n",
	  "C(A0005|UID FETCH|1:* (UID FLAGS RFC822.SIZE INTERNALDATE))");
	P("A0007 UID STORE 3 FLAGS (\\Seen \\Answered)\r\n",
	  "C(A0007|UID STORE|3 FLAGS (\\Seen \\Answered))");

	/* RFC examples and extensions */
	P("a SEARCH CHARSET UTF-8 SUBJECT {4+}\r\ntest\r\n",
	  "L{4+}C(a|SEARCH|CHARSET UTF-8 SUBJECT {4+}\"test\")");
	P("t LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
	  "C(t|LIST|\"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN)))");
	P("x SELECT INBOX (CONDSTORE)\r\n", "C(x|SELECT|INBOX (CONDSTORE))");
	P("y UID STORE 1:5 +FLAGS.SILENT (\\Deleted)\r\n",
	  "C(y|UID STORE|1:5 +FLAGS.SILENT (\\Deleted))");
	P("z ID (\"name\" \"Thunderbird\")\r\n", "C(z|ID|(\"name\" \"Thunderbird\"))");
	P("z ID NIL\r\n", "C(z|ID|NIL)");
	P("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\nb NOOP\r\n",
	  "C(a|AUTHENTICATE|PLAIN AHVzZXIAcGFzcw==)C(b|NOOP|)");
	P("a AUTHENTICATE PLAIN =\r\n", "C(a|AUTHENTICATE|PLAIN =)");
	P("a AUTHENTICATE LOGIN\r\n*\r\n", "C(a|AUTHENTICATE|LOGIN)N(*)");
	P("A1 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n",
	  "C(A1|SELECT|INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541)))");
	P("A2 UID SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
	  "C(A2|UID SEARCH|MODSEQ \"/flags/\\\\draft\" all 620162338)");
	P("A3 STORE 1:* (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Deleted)\r\n",
	  "C(A3|STORE|1:* (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Deleted))");
	P("A4 SORT (REVERSE DATE) UTF-8 ALL\r\nA5 THREAD REFERENCES UTF-8 ALL\r\n",
	  "C(A4|SORT|(REVERSE DATE) UTF-8 ALL)C(A5|THREAD|REFERENCES UTF-8 ALL)");
	P("A4 UID SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n",
	  "C(A4|UID SORT|(SUBJECT) UTF-8 SINCE 1-Feb-1994)");
	P("A6 UID SEARCH RETURN (MIN MAX COUNT SAVE) UNSEEN\r\nA7 UID FETCH $ (FLAGS)\r\n",
	  "C(A6|UID SEARCH|RETURN (MIN MAX COUNT SAVE) UNSEEN)C(A7|UID FETCH|$ (FLAGS))");
	P("A8 FETCH 1 (BINARY.PEEK[1]<0.100> BINARY.SIZE[2] BINARY[])\r\n",
	  "C(A8|FETCH|1 (BINARY.PEEK[1]<0.100> BINARY.SIZE[2] BINARY[]))");
	P("A9 APPEND Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" ~{5}\r\nhe\0lo\r\n",
	  "L~{5}C(A9|APPEND|Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" ~{5}\"he\\x00lo\")");
	P("A10 GETQUOTA \"\"\r\nA11 CREATE Archive (USE (\\Archive))\r\n",
	  "C(A10|GETQUOTA|\"\")C(A11|CREATE|Archive (USE (\\Archive)))");
	P("A12 RENAME \"Old\" \"New\"\r\nA13 SEARCH OR (FROM alice) (TO bob) SINCE 1-Feb-1994\r\n",
	  "C(A12|RENAME|\"Old\" \"New\")C(A13|SEARCH|OR (FROM alice) (TO bob) SINCE 1-Feb-1994)");
	P("A14 LIST (SUBSCRIBED REMOTE) \"\" (\"INBOX\" \"Sent\" \"%\")\r\n",
	  "C(A14|LIST|(SUBSCRIBED REMOTE) \"\" (\"INBOX\" \"Sent\" \"%\"))");
	P("A15 LIST \"\" %\r\nA16 LSUB \"\" *\r\n", "C(A15|LIST|\"\" %)C(A16|LSUB|\"\" *)");
	P("A17 APPEND INBOX (\\Seen) {5+}\r\nhello (\\Flagged) \" 7-Feb-1994 21:52:25 -0800\" "
	  "{5+}\r\nworld\r\n",
	  "L{5+}L{5+}C(A17|APPEND|INBOX (\\Seen) {5+}\"hello\" (\\Flagged) \" 7-Feb-1994 "
	  "21:52:25 -0800\" {5+}\"world\")");
	P("A18 APPEND INBOX UTF8 (~{3+}\r\nabc)\r\n",
	  "L~{3+}C(A18|APPEND|INBOX UTF8 (~{3+}\"abc\"))");
	P("A19 SETQUOTA \"\" (STORAGE 512)\r\nA20 UNSELECT\r\nA21 CHECK\r\nA22 CLOSE\r\n",
	  "C(A19|SETQUOTA|\"\" (STORAGE 512))C(A20|UNSELECT|)C(A21|CHECK|)C(A22|CLOSE|)");
	P("A23 EXAMINE blurdybloop\r\nA24 DELETE foo\r\nA25 SUBSCRIBE #news.comp.mail.mime\r\n"
	  "A26 UNSUBSCRIBE #news.comp.mail.mime\r\nA27 STARTTLS\r\n",
	  "C(A23|EXAMINE|blurdybloop)C(A24|DELETE|foo)C(A25|SUBSCRIBE|#news.comp.mail.mime)"
	  "C(A26|UNSUBSCRIBE|#news.comp.mail.mime)C(A27|STARTTLS|)");
	P("A28 COPY 2:4 MEETING\r\nA29 MOVE 1 Archive\r\nA30 UID THREAD ORDEREDSUBJECT UTF-8 "
	  "ALL\r\n",
	  "C(A28|COPY|2:4 MEETING)C(A29|MOVE|1 Archive)"
	  "C(A30|UID THREAD|ORDEREDSUBJECT UTF-8 ALL)");
	P("A31 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
	  "C(A31|FETCH|2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)]))");
	P("A32 FETCH 1 (BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.2.3.TEXT] BODY[2.MIME] "
	  "BODY[3.HEADER] BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)] "
	  "BODY[]<0.2048>)\r\n",
	  "C(A32|FETCH|1 (BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.2.3.TEXT] BODY[2.MIME] "
	  "BODY[3.HEADER] BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)] "
	  "BODY[]<0.2048>))");
	P("A33 FETCH 1 BODY[HEADER.FIELDS (\"X-Odd Name\" {4}\r\nFrom)]\r\n",
	  "L{4}C(A33|FETCH|1 BODY[HEADER.FIELDS (\"X-Odd Name\" {4}\"From\")])");
	P("A34 FETCH 1:3 ALL\r\nA35 FETCH 1 FAST\r\nA36 FETCH 1 (ENVELOPE BODY EMAILID THREADID "
	  "SAVEDATE PREVIEW MODSEQ)\r\n",
	  "C(A34|FETCH|1:3 ALL)C(A35|FETCH|1 FAST)C(A36|FETCH|1 (ENVELOPE BODY EMAILID THREADID "
	  "SAVEDATE PREVIEW MODSEQ))");
	P("A37 STORE 1 FLAGS (\\Seen $Forwarded \\*)\r\n",
	  "C(A37|STORE|1 FLAGS (\\Seen $Forwarded \\*))");
	P("A38 SEARCH RETURN () ALL\r\n", "C(A38|SEARCH|RETURN () ALL)");
	P("A39 SEARCH YOUNGER 3600 LARGER 10000 KEYWORD $Junk UID 1:*,5\r\n",
	  "C(A39|SEARCH|YOUNGER 3600 LARGER 10000 KEYWORD $Junk UID 1:*,5)");
}

static void test_lexical(void)
{
	/* case, spaces, line ends */
	P("a uid fetch 1 (body.peek[header.fields (subject)])\r\n",
	  "C(a|UID FETCH|1 (body.peek[HEADER.FIELDS (subject)]))");
	P("a  FETCH  1   (FLAGS  UID )  \r\n", "C(a|FETCH|1 (FLAGS UID))");
	P("a NOOP\nb NOOP\r\n", "C(a|NOOP|)C(b|NOOP|)");
	P("a NOOP \r\n", "C(a|NOOP|)");
	P("a SELECT nil\r\n", "C(a|SELECT|NIL)");
	P("a SELECT [Gmail]/All\r\nb SELECT \"[Gmail]/Sent Mail\"\r\n",
	  "C(a|SELECT|[Gmail]/All)C(b|SELECT|\"[Gmail]/Sent Mail\")");
	P("a SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n",
	  "C(a|SELECT|~peter/mail/&U,BTFw-/&ZeVnLIqe-)");
	P("a CREATE \"Donn\xc3\xa9"
	  "es\"\r\n",
	  "C(a|CREATE|\"Donn\\xc3\\xa9es\")");
	P("a LOGIN {0}\r\n {0}\r\n\r\n", "L{0}L{0}C(a|LOGIN|{0}\"\" {0}\"\")");
	P("a LOGIN {4}\r\nuser {4}\r\npass\r\n", "L{4}L{4}C(a|LOGIN|{4}\"user\" {4}\"pass\")");
	P("a LOGIN {4}\nuser {4}\npass\n", "L{4}L{4}C(a|LOGIN|{4}\"user\" {4}\"pass\")");
	P("a LOGIN \"\\\\\" \"\\\"\"\r\n", "C(a|LOGIN|\"\\\\\" \"\\\"\")");
	P("a LOGIN \"tab\there\" x\r\n", "C(a|LOGIN|\"tab\\x09here\" x)");
	P("a LOGIN {3}\r\n(\")\r\n", "L{3}C(a|LOGIN|{3}\"(\\\")\")");
	P("a LOGIN {5}\r\na\r\nb)\r\n", "L{5}C(a|LOGIN|{5}\"a\\r\\nb)\")");
	P("a XYZZY foo (bar)\r\n", "C(a|?XYZZY|foo (bar))");
	P("a UID NOOP\r\n", "C(a|?UID NOOP|)");
	P("a UID XFOO 1\r\n", "C(a|?UID XFOO|1)");
	P("a UID  fetch 1 FLAGS\r\n", "C(a|UID FETCH|1 FLAGS)");
	P("a FETCH 1 (((((x)))))\r\n", "C(a|FETCH|1 (((((x))))))");
	P("a FETCH 1 ()\r\n", "C(a|FETCH|1 ())");
	P("a FETCH 1 (() ())\r\n", "C(a|FETCH|1 (() ()))");
	P("a] NOOP\r\n", "C(a]|NOOP|)");
	P("a NOOP", "~");
	P("a NOOP\r", "~");
	P("a LOGIN {5}\r\nab", "L{5}~");
	P("", "");
	/* literals spanning anything that looks like syntax */
	P("a LOGIN {10+}\r\n\r\nb NOOP\r\n x\r\n",
	  "L{10+}C(a|LOGIN|{10+}\"\\r\\nb NOOP\\r\\n\" x)");
	/* a token over 4 KiB (the token buffer is trimmed afterwards) */
	{
		static char big[5000 + 64];
		int n = snprintf(big, sizeof(big), "a SELECT \"");

		memset(big + n, 'q', 5000);
		memcpy(big + n + 5000, "\"\r\nb NOOP\r\n", 11);
		check_run(big, (size_t)n + 5011, &defaults,
		          "C(a|SELECT|\"qqqqqqqqqqqqqqqq...qqqqqqqqqqqqqqqq\")C(b|NOOP|)",
		          __LINE__);
	}
	/* a literal over 4 KiB lands in a parser buffer */
	{
		static char big[5000 + 64];
		int n = snprintf(big, sizeof(big), "a APPEND INBOX {5000+}\r\n");

		memset(big + n, 'x', 5000);
		memcpy(big + n + 5000, "\r\n", 2);
		check_run(
		    big, (size_t)n + 5002, &defaults,
		    "L{5000+}C(a|APPEND|INBOX {5000+}\"xxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxx\")",
		    __LINE__);
	}
}

static void test_malformed(void)
{
	struct imap_parser_limits lim;
	struct sim sim = {&lim, 0};

	/* parentheses */
	P("a FETCH 1 (FLAGS\r\nb NOOP\r\n", "E(PARENS|a)C(b|NOOP|)");
	P("a FETCH 1 FLAGS)\r\nb NOOP\r\n", "E(PARENS|a)C(b|NOOP|)");
	P("a FETCH 1 (FLAGS))\r\nb NOOP\r\n", "E(PARENS|a)C(b|NOOP|)");
	P("a FETCH 1 (FLAGS\nb NOOP\r\n", "E(PARENS|a)C(b|NOOP|)");
	P("a FETCH 1(FLAGS)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (FLAGS)(UID)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 \"x\"y\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	/* quoting */
	P("a LOGIN \"user\r\nb NOOP\r\n", "E(QUOTED|a)C(b|NOOP|)");
	P("a LOGIN \"user\nb NOOP\r\n", "E(QUOTED|a)C(b|NOOP|)");
	P("a LOGIN \"us\\er\" x\r\nb NOOP\r\n", "E(QUOTED|a)C(b|NOOP|)");
	P("a LOGIN us\"er x\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a SELECT \"\xff\"\r\nb NOOP\r\n", "E(UTF8|a)C(b|NOOP|)");
	P("a SELECT \"\xc0\xaf\"\r\nb NOOP\r\n", "E(UTF8|a)C(b|NOOP|)");
	P("a SELECT Donn\xc3\xa9"
	  "es\r\nb NOOP\r\n",
	  "E(SYNTAX|a)C(b|NOOP|)");
	/* NUL, CR, LF */
	P("a NO\0OP\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a LOGIN \"x\0\" y\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a\0 NOOP\r\nb NOOP\r\n", "E(TAG|)C(b|NOOP|)");
	P("a NOOP\rb NOOP\r\nc NOOP\r\n", "E(BARE_CR|a)C(c|NOOP|)");
	P("a LOGIN x\ry\r\nb NOOP\r\n", "E(BARE_CR|a)C(b|NOOP|)");
	P("\r\n", "E(EMPTY|)");
	P("\n\r\na NOOP\r\n", "E(EMPTY|)E(EMPTY|)C(a|NOOP|)");
	P("\rx\r\na NOOP\r\n", "E(BARE_CR|)C(a|NOOP|)");
	/* tags */
	P(" NOOP\r\nb NOOP\r\n", "E(TAG|)C(b|NOOP|)");
	P("a+b NOOP\r\nb NOOP\r\n", "E(TAG|)C(b|NOOP|)");
	P("* NOOP\r\n+ x\r\n(a NOOP\r\na\"b NOOP\r\na%b NOOP\r\na\\b NOOP\r\nb NOOP\r\n",
	  "E(TAG|)E(TAG|)E(TAG|)E(TAG|)E(TAG|)E(TAG|)C(b|NOOP|)");
	P("\xc3\xa9 NOOP\r\nb NOOP\r\n", "E(TAG|)C(b|NOOP|)");
	P("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa NOOP\r\n",
	  "C(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|NOOP|)");
	P("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa NOOP\r\nb NOOP\r\n",
	  "E(TAG|)C(b|NOOP|)");
	P("a\r\nb \r\nc NOOP\r\n", "E(NO_COMMAND|a)E(NO_COMMAND|b)C(c|NOOP|)");
	P("a (NOOP)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a UID\r\nb UID \r\nc NOOP\r\n", "E(SYNTAX|a)E(SYNTAX|b)C(c|NOOP|)");
	/* octets that cannot start or continue anything */
	P("a X \"y\"\0\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a X ab\0c\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a X \0\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a X \xff\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a X ab\xff\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a X \x01\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a X \x7f\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a X a\tb\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a X \"a\" \0\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[\0]\r\nb NOOP\r\n", "E(NUL|a)C(b|NOOP|)");
	/* flags and atoms */
	P("a STORE 1 FLAGS (\\)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a STORE 1 FLAGS (a\\b)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a STORE 1 FLAGS (a{b)\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	/* literal syntax */
	P("a LOGIN {}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {+}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {5x}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {5++}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {-5}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {5} x\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a LOGIN {5}\rx\r\nb NOOP\r\n", "E(BARE_CR|a)C(b|NOOP|)");
	P("a LOGIN {99999999999999999999}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {9223372036854775808}\r\nb NOOP\r\n", "E(LITSIZE|a)C(b|NOOP|)");
	P("a LOGIN {9223372036854775807}\r\nb NOOP\r\n", "E(LITERAL_TOO_BIG|a)C(b|NOOP|)");
	P("a LOGIN {99999999999999999999+}\r\nb NOOP\r\n", "E(LITSIZE|a)!");
	P("a APPEND INBOX {99999999999}\r\nb NOOP\r\n", "E(LITERAL_TOO_BIG|a)C(b|NOOP|)");
	P("a APPEND INBOX ~x{5}\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	/* literal octets are never commands, even after an error */
	P("{5}\r\nhello\r\n", "E(TAG|)E(NO_COMMAND|hello)");
	P("{5+}\r\nb NOO\r\nc NOOP\r\n", "E(TAG|)C(c|NOOP|)");
	P("a {5+}\r\nhello\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (BAD\" {5+}\r\nhello\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (BAD\" {5+}\r\nx NOOP\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (BAD\" {5}\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a LOGIN {5+}x\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (x\" {2+}\r\nab {3+}\r\nabc\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 (x\" {99999999999999999999+}\r\nb NOOP\r\n", "E(SYNTAX|a)E(DESYNC|)!");
	P("a LOGIN {5+}\r\nab\0de x\r\nb NOOP\r\n", "L{5+}E(NUL|a)C(b|NOOP|)");
	P("a LOGIN {5+}\r\nabcd\0 x {3+}\r\n\r\n\r\nb NOOP\r\n", "L{5+}E(NUL|a)C(b|NOOP|)");
	/* sections */
	P("a FETCH 1 BODY[HEADER.FIELDS]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[HEADER.FIELDS ()]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[HEADER.FIELDS From]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[HEADER.FIELDS (From (x))]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[HEADER.FIELDS (From)\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[HEADER.FIELDS (From\r\nb NOOP\r\n", "E(PARENS|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[TEXT (x)]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[0]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[01]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[1.]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[1..2]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[.1]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[MIME]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[1.FOO]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[1.2.HEADER.X]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	/* Past RFC 3516's grammar, as Dovecot and imaptest take them. */
	P("a FETCH 1 (BINARY[HEADER] BINARY.SIZE[1.MIME] BINARY.PEEK[2.TEXT]<0.5>)\r\n",
	  "C(a|FETCH|1 (BINARY[HEADER] BINARY.SIZE[1.MIME] BINARY.PEEK[2.TEXT]<0.5>))");
	P("a FETCH 1 BODY[]<>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<5.>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<5\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<5x>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BINARY.SIZE[1]<5>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	/* origin alone, as Dovecot takes it: the rest from there */
	P("a FETCH 1 BODY[]<5>\r\n", "C(a|FETCH|1 BODY[]<5>)");
	P("a FETCH 1 BODY[]<9223372036854775808>\r\nb NOOP\r\n", "E(NUMBER|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<0.0>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<.5>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<1.2\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BINARY.SIZE[1]<0.5>\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[4294967296]\r\nb NOOP\r\n", "E(NUMBER|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<9223372036854775808.1>\r\nb NOOP\r\n", "E(NUMBER|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[]<0.9223372036854775807>\r\n",
	  "C(a|FETCH|1 BODY[]<0.9223372036854775807>)");
	P("a FETCH 1 BODY[4294967295]\r\n", "C(a|FETCH|1 BODY[4294967295])");
	P("a FETCH 1 BODY[]x\r\nb NOOP\r\n", "E(SYNTAX|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[x y]\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 BODY[1\r\nb NOOP\r\n", "E(SECTION|a)C(b|NOOP|)");
	P("a FETCH 1 XBODY[1]\r\n", "C(a|FETCH|1 XBODY[1])");
	P("a FETCH 1 BODY[HEADER.FIELDS  (From)]\r\n", "C(a|FETCH|1 BODY[HEADER.FIELDS (From)])");
	/* no section inside a header list: it is an atom there */
	P("a FETCH 1 BODY[HEADER.FIELDS (BODY[x] a]b)]\r\n",
	  "C(a|FETCH|1 BODY[HEADER.FIELDS (BODY[x] a]b)])");
	P("a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26"
	  ".27.28.29.30.31.32.33.34.35.36.37.38.39.40.41.42.43.44.45.46.47.48.49.50.51.52.53.54"
	  ".55.56.57.58.59.60.61.62.63.64.65]\r\nb NOOP\r\n",
	  "E(SECTION|a)C(b|NOOP|)");

	/* depth: 32 nested lists are fine, 33 are not; a header list counts */
	for (int depth = 31; depth <= 33; depth++) {
		for (int hdr = 0; hdr < 2; hdr++) {
			char in[256], expect[256];
			size_t n = 0;
			int lists = hdr ? depth - 1 : depth;

			n += (size_t)snprintf(in + n, sizeof(in) - n, "a X ");
			for (int i = 0; i < lists; i++)
				in[n++] = '(';
			n += (size_t)snprintf(in + n, sizeof(in) - n, "%s",
			                      hdr ? "BODY[HEADER.FIELDS (x)]" : "x");
			for (int i = 0; i < lists; i++)
				in[n++] = ')';
			n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nb NOOP\r\n");
			if (depth <= IMAP_PARSER_MAX_DEPTH)
				snprintf(expect, sizeof(expect), "C(a|?X|%.*s)C(b|NOOP|)",
				         (int)(n - 4 - 10), in + 4);
			else
				snprintf(expect, sizeof(expect), "E(DEPTH|a)C(b|NOOP|)");
			check_run(in, n, &defaults, expect, __LINE__);
		}
	}

	/* limits */
	imap_parser_limits_default(&lim);
	lim.max_line = 20;
	PS(&sim, "a SELECT 0123456789\r\nb NOOP\r\n", "C(a|SELECT|0123456789)C(b|NOOP|)");
	PS(&sim, "a SELECT 01234567890\r\nb NOOP\r\n", "C(a|SELECT|01234567890)C(b|NOOP|)");
	PS(&sim, "a SELECT 012345678901\r\nb NOOP\r\n", "E(LINE|a)C(b|NOOP|)");
	PS(&sim, "a SELECT \"0123456789\"\r\nb NOOP\r\n", "E(LINE|a)C(b|NOOP|)");
	PS(&sim, "a SELECT 0123456789012345678901234567890123456789\r\nb NOOP\r\n",
	   "E(LINE|a)C(b|NOOP|)");
	PS(&sim, "a SELECT 0123456789\r\nb NOOP\r\n", "C(a|SELECT|0123456789)C(b|NOOP|)");
	/* the limit is per line: text after a literal starts a new line */
	PS(&sim, "a LOGIN {3}\r\nabc 0123456789abcdef\r\n",
	   "L{3}C(a|LOGIN|{3}\"abc\" 0123456789abcdef)");
	PS(&sim, "a LOGIN 01234567890123 {5+}\r\nhello\r\nb NOOP\r\n", "E(LINE|a)C(b|NOOP|)");
	PS(&sim, "a LOGIN 012345678901 {5+}\r\nhello\r\nb NOOP\r\n", "E(LINE|a)C(b|NOOP|)");
	PS(&sim, "a LOGIN 0123456789 {5+}\r\nhello\r\nb NOOP\r\n", "E(LINE|a)C(b|NOOP|)");

	imap_parser_limits_default(&lim);
	lim.max_literal = 10;
	PS(&sim, "a LOGIN {10}\r\n0123456789\r\n", "L{10}C(a|LOGIN|{10}\"0123456789\")");
	PS(&sim, "a LOGIN {11}\r\nb NOOP\r\n", "E(LITERAL_TOO_BIG|a)C(b|NOOP|)");
	PS(&sim, "a APPEND INBOX {20+}\r\n01234567890123456789 more stuff\r\nb NOOP\r\n",
	   "E(LITERAL_TOO_BIG|a)C(b|NOOP|)");
	PS(&sim, "a APPEND INBOX {20+}\r\n01234567890123456789 (x) {3+}\r\nabc\r\nb NOOP\r\n",
	   "E(LITERAL_TOO_BIG|a)C(b|NOOP|)");

	imap_parser_limits_default(&lim);
	lim.max_command = 40;
	PS(&sim, "a LOGIN {10+}\r\n0123456789 x\r\nb NOOP\r\n",
	   "L{10+}C(a|LOGIN|{10+}\"0123456789\" x)C(b|NOOP|)");
	PS(&sim, "a LOGIN {30+}\r\n012345678901234567890123456789\r\nb NOOP\r\n",
	   "E(COMMAND|a)C(b|NOOP|)");
	PS(&sim, "a LOGIN {10+}\r\n0123456789 0123456789012345\r\nb NOOP\r\n",
	   "L{10+}E(COMMAND|a)C(b|NOOP|)");
	/* a literal to skip that is over max_command cannot be skipped */
	PS(&sim, "a LOGIN x\" {41+}\r\n", "E(SYNTAX|a)E(DESYNC|)!");
	PS(&sim, "a LOGIN {41+}\r\nb NOOP\r\n", "E(COMMAND|a)!");
	PS(&sim, "a LOGIN {41}\r\nb NOOP\r\n", "E(COMMAND|a)C(b|NOOP|)");
	PS(&sim, "a LOGIN x\" {40+}\r\n0123456789012345678901234567890123456789\r\nb NOOP\r\n",
	   "E(SYNTAX|a)C(b|NOOP|)");

	imap_parser_limits_default(&lim);
	lim.max_args = 3;
	PS(&sim, "a FETCH 1 (A B)\r\nb NOOP\r\n", "E(ARGS|a)C(b|NOOP|)");
	PS(&sim, "a FETCH 1 (A)\r\nb FETCH 1 2 3 4\r\nc NOOP\r\n",
	   "C(a|FETCH|1 (A))E(ARGS|b)C(c|NOOP|)");
	PS(&sim, "a LOGIN x y {1}\r\nz\r\n", "L{1}C(a|LOGIN|x y {1}\"z\")");
	PS(&sim, "a LOGIN x y z {1}\r\nb NOOP\r\n", "E(ARGS|a)C(b|NOOP|)");
	PS(&sim, "a LOGIN x y z {1+}\r\nz\r\nb NOOP\r\n", "E(ARGS|a)C(b|NOOP|)");
	PS(&sim, "a FETCH 1 BODY[HEADER.FIELDS (a b)]\r\nb NOOP\r\n", "E(ARGS|a)C(b|NOOP|)");
	PS(&sim, "a FETCH 1 BODY[HEADER.FIELDS (a)]\r\nb NOOP\r\n",
	   "C(a|FETCH|1 BODY[HEADER.FIELDS (a)])C(b|NOOP|)");
	PS(&sim, "a FETCH 1 2 3 BODY[]\r\nb X 1 2 3 (x)\r\nc X 1 2 3 \"q\"\r\nd NOOP\r\n",
	   "E(ARGS|a)E(ARGS|b)E(ARGS|c)C(d|NOOP|)");

	/* LITERAL- */
	imap_parser_limits_default(&lim);
	lim.literal_minus = 1;
	{
		static char buf[2 * 4097 + 200];
		int n = snprintf(buf, sizeof(buf), "a APPEND INBOX {4096+}\r\n");

		memset(buf + n, 'y', 4096);
		n += 4096;
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\nb APPEND INBOX {4097+}\r\n");
		memset(buf + n, 'z', 4097);
		n += 4097;
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\nc APPEND INBOX {4097}\r\n");
		check_run(buf, (size_t)n, &sim,
		          "L{4096+}C(a|APPEND|INBOX {4096+}\"yyyyyyyyyyyyyyyy...yyyyyyyyyyyyyyyy\")"
		          "E(LITERAL_MINUS|b)L{4097}~",
		          __LINE__);
	}

	/* the daemon refuses literals over its own budget */
	sim.lim = NULL;
	sim.budget = 100;
	PS(&sim, "a APPEND INBOX {200}\r\nb NOOP\r\n", "L{200}RC(b|NOOP|)");
	PS(&sim,
	   "a APPEND INBOX {101+}\r\n"
	   "0123456789012345678901234567890123456789012345678901234567890123456789"
	   "0123456789012345678901234567890\r\nb NOOP\r\n",
	   "L{101+}RC(b|NOOP|)");
	PS(&sim,
	   "a APPEND INBOX {101+}\r\n"
	   "0123456789012345678901234567890123456789012345678901234567890123456789"
	   "0123456789012345678901234567890 (\\Seen) {3+}\r\nabc\r\nb NOOP\r\n",
	   "L{101+}RC(b|NOOP|)");
	PS(&sim, "a LOGIN {5}\r\nhello {200}\r\nb NOOP\r\n", "L{5}L{200}RC(b|NOOP|)");
}

/* ---- direct API checks ---- */

struct one {
	struct arena *a;
	struct imap_parser p;
};

/* Parses a single complete command given whole, accepting literals. */
static int one(struct one *o, const char *in, size_t len)
{
	size_t pos = 0, c;
	int r;

	o->a = arena_new(0);
	imap_parser_init(&o->p, o->a, NULL);
	for (;;) {
		r = imap_parser_feed(&o->p, in + pos, len - pos, &c);
		pos += c;
		if (r != IMAP_PARSE_LITERAL)
			return r;
		imap_parser_literal_accept(&o->p);
	}
}

static void one_done(struct one *o)
{
	imap_parser_clear(&o->p);
	arena_free(&o->a);
}

#define ONE(o, s) one(o, s, sizeof(s) - 1)

static void test_args(void)
{
	struct one o;
	const struct imap_arg *a, *l;
	struct str s;
	uint32_t v32;
	uint64_t v64;
	size_t n;

	CHECK_EQ_INT(ONE(&o, "t1 X 0 4294967295 4294967296 9223372036854775807 "
	                     "9223372036854775808 00012 1:* $ 1,2 abc NIL \\Seen {3}\r\nlit "
	                     "\"q\\\"s\" ~{2}\r\nL8 (a b)\r\n"),
	             IMAP_PARSE_COMMAND);
	a = o.p.cmd.args;
	CHECK_EQ_INT(o.p.cmd.nargs, 16);
	CHECK_EQ_INT(a[16].type, IMAP_ARG_END);
	CHECK(imap_arg_number32(&a[0], &v32) == 0 && v32 == 0);
	CHECK(imap_arg_number32(&a[1], &v32) == 0 && v32 == UINT32_MAX);
	CHECK(imap_arg_number32(&a[2], &v32) < 0);
	CHECK(imap_arg_number64(&a[2], &v64) == 0 && v64 == 4294967296ull);
	CHECK(imap_arg_number64(&a[3], &v64) == 0 && v64 == 9223372036854775807ull);
	CHECK(imap_arg_number64(&a[4], &v64) < 0);
	CHECK_EQ_INT(a[4].type, IMAP_ARG_ATOM);
	CHECK(imap_arg_number32(&a[5], &v32) == 0 && v32 == 12);
	CHECK(a[0].flags & IMAP_ARGF_NUMBER32);
	CHECK(!(a[0].flags & IMAP_ARGF_SEQSET)); /* "0" is not a sequence set */
	CHECK(a[1].flags & IMAP_ARGF_SEQSET);
	CHECK(!(a[2].flags & IMAP_ARGF_SEQSET));
	CHECK(!(a[5].flags & IMAP_ARGF_SEQSET)); /* leading zero */
	CHECK(a[6].flags & IMAP_ARGF_SEQSET);
	CHECK(!(a[6].flags & IMAP_ARGF_NUMBER));
	CHECK(a[7].flags & IMAP_ARGF_SEQSET);
	CHECK(a[8].flags & IMAP_ARGF_SEQSET);
	CHECK(imap_arg_atom(&a[9], &s) == 0 && str_eq(s, STR_LIT("abc")));
	CHECK(imap_arg_atom_is(&a[9], "ABC"));
	CHECK(!imap_arg_atom_is(&a[9], "AB"));
	CHECK(imap_arg_string(&a[9], &s) < 0);
	CHECK(imap_arg_astring(&a[9], &s) == 0 && str_eq(s, STR_LIT("abc")));
	CHECK_EQ_INT(a[10].type, IMAP_ARG_NIL);
	CHECK(imap_arg_nstring(&a[10], &s) == 0 && s.p == NULL && s.len == 0);
	CHECK(imap_arg_astring(&a[10], &s) == 0 && str_eq(s, STR_LIT("NIL")));
	CHECK(a[11].flags & IMAP_ARGF_FLAG);
	CHECK(imap_arg_atom(&a[11], &s) == 0 && str_eq(s, STR_LIT("\\Seen")));
	CHECK(imap_arg_nstring(&a[11], &s) < 0);
	CHECK_EQ_INT(a[12].type, IMAP_ARG_LITERAL);
	CHECK(!(a[12].flags & (IMAP_ARGF_NONSYNC | IMAP_ARGF_LITERAL8)));
	CHECK(imap_arg_string(&a[12], &s) == 0 && str_eq(s, STR_LIT("lit")));
	CHECK(imap_arg_astring(&a[12], &s) == 0 && s.p[3] == '\0');
	CHECK(imap_arg_string(&a[13], &s) == 0 && str_eq(s, STR_LIT("q\"s")) && s.p[3] == '\0');
	CHECK(imap_arg_nstring(&a[13], &s) == 0 && str_eq(s, STR_LIT("q\"s")));
	CHECK(a[14].flags & IMAP_ARGF_LITERAL8);
	CHECK(imap_arg_string(&a[14], &s) < 0); /* literal8 is not a string */
	CHECK(imap_arg_astring(&a[14], &s) < 0);
	CHECK(imap_arg_list(&a[15], &l, &n) == 0 && n == 2 && l[2].type == IMAP_ARG_END);
	CHECK(imap_arg_atom_is(&l[0], "a") && imap_arg_atom_is(&l[1], "B"));
	CHECK(imap_arg_list(&a[9], &l, &n) < 0);
	CHECK(imap_arg_number32(&a[15], &v32) < 0);
	one_done(&o);

	/* name as sent, UID flag, bare LF, tag and literal info */
	CHECK_EQ_INT(ONE(&o, "Tag7 uid Fetch 1 FLAGS\n"), IMAP_PARSE_COMMAND);
	CHECK_EQ_SLICE(o.p.cmd.tag, "Tag7");
	CHECK_EQ_SLICE(o.p.cmd.name, "uid Fetch");
	CHECK_EQ_INT(o.p.cmd.id, IMAP_CMD_UID_FETCH);
	CHECK(o.p.cmd.uid && o.p.cmd.bare_lf);
	one_done(&o);
	CHECK_EQ_INT(ONE(&o, "t NOOP\r\n"), IMAP_PARSE_COMMAND);
	CHECK(!o.p.cmd.uid && !o.p.cmd.bare_lf && o.p.cmd.nargs == 0);
	CHECK(o.p.cmd.args != NULL && o.p.cmd.args[0].type == IMAP_ARG_END);
	one_done(&o);

	/* the quoted string is unescaped, 8-bit flagged */
	CHECK_EQ_INT(ONE(&o, "t LOGIN \"a\\\\b\\\"c\" \"\xc3\xa9\"\r\n"), IMAP_PARSE_COMMAND);
	CHECK_EQ_SLICE(o.p.cmd.args[0].str, "a\\b\"c");
	CHECK(!(o.p.cmd.args[0].flags & IMAP_ARGF_8BIT));
	CHECK(o.p.cmd.args[1].flags & IMAP_ARGF_8BIT);
	one_done(&o);

	/* sections in detail */
	CHECK_EQ_INT(ONE(&o, "t FETCH 1 (body.peek[1.2.HEADER.fields.NOT (A \"B\")]<10.20> "
	                     "BINARY.SIZE[3] BODY[])\r\n"),
	             IMAP_PARSE_COMMAND);
	CHECK(imap_arg_list(&o.p.cmd.args[1], &l, &n) == 0 && n == 3);
	{
		const struct imap_section *sec = l[0].section;

		CHECK_EQ_INT(l[0].type, IMAP_ARG_SECTION);
		CHECK_EQ_SLICE(l[0].str, "body.peek");
		CHECK_EQ_INT(sec->att, IMAP_FETCH_BODY_PEEK);
		CHECK(sec->nparts == 2 && sec->part[0] == 1 && sec->part[1] == 2);
		CHECK_EQ_INT(sec->text, IMAP_SECTION_HEADER_FIELDS_NOT);
		CHECK_EQ_SLICE(sec->spec, "1.2.HEADER.fields.NOT");
		CHECK(sec->nfields == 2 && sec->fields[1].type == IMAP_ARG_STRING &&
		      sec->fields[2].type == IMAP_ARG_END);
		CHECK(sec->partial && sec->offset == 10 && sec->length == 20);
		sec = l[1].section;
		CHECK_EQ_INT(sec->att, IMAP_FETCH_BINARY_SIZE);
		CHECK(sec->nparts == 1 && sec->part[0] == 3 && !sec->partial && !sec->fields);
		sec = l[2].section;
		CHECK(sec->att == IMAP_FETCH_BODY && sec->nparts == 0 &&
		      sec->text == IMAP_SECTION_WHOLE && sec->spec.len == 0);
	}
	one_done(&o);

	/* an origin alone: partial from there to the end */
	CHECK_EQ_INT(ONE(&o, "t FETCH 1 BINARY.PEEK[1]<40>\r\n"), IMAP_PARSE_COMMAND);
	{
		const struct imap_section *sec = o.p.cmd.args[1].section;

		CHECK_EQ_INT(o.p.cmd.args[1].type, IMAP_ARG_SECTION);
		CHECK_EQ_INT(sec->att, IMAP_FETCH_BINARY_PEEK);
		CHECK(sec->partial && sec->offset == 40 && sec->length == UINT64_MAX);
	}
	one_done(&o);
}

static void test_lifecycle(void)
{
	struct arena *a = arena_new(0);
	struct imap_parser p;
	struct str line;
	size_t c;
	int r;

	imap_parser_init(&p, a, NULL);
	/* next() before anything and twice is harmless */
	imap_parser_next(&p);
	imap_parser_next(&p);

	/* pipelined commands stop at each command's end */
	r = imap_parser_feed(&p, "a NOOP\r\nb NOOP\r\n", 16, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_INT(c, 8);
	imap_parser_next(&p);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "b NOOP\r\n", 8, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_INT(c, 8);
	arena_reset(a);
	imap_parser_next(&p);

	/* a synchronizing literal stops right after its line end */
	r = imap_parser_feed(&p, "c LOGIN {3}\r\nabc x\r\n", 20, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_LITERAL);
	CHECK_EQ_INT(c, 13);
	CHECK(imap_parser_first_arg(&p) == NULL); /* the literal is the first */
	CHECK(p.cmd.literal.size == 3 && !p.cmd.literal.nonsync && !p.cmd.literal.binary);
	CHECK_EQ_SLICE(p.cmd.tag, "c");
	CHECK_EQ_INT(p.cmd.id, IMAP_CMD_LOGIN);
	imap_parser_literal_accept(&p);
	r = imap_parser_feed(&p, "abc x\r\n", 7, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_INT(c, 7);
	arena_reset(a);
	imap_parser_next(&p);

	/* refusing: tag kept for the reply, the next octet is a new command */
	r = imap_parser_feed(&p, "d APPEND x {300}\r\n", 18, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_LITERAL);
	const struct imap_arg *first = imap_parser_first_arg(&p); /* APPEND's mailbox */
	CHECK(first && first->type == IMAP_ARG_ATOM);
	if (first)
		CHECK_EQ_SLICE(first->str, "x");
	imap_parser_literal_refuse(&p);
	CHECK_EQ_SLICE(p.cmd.tag, "d");
	CHECK_EQ_INT(p.err_skip, 0);
	CHECK(!p.err_close);
	arena_reset(a);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "e NOOP\r\n", 8, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	arena_reset(a);
	imap_parser_next(&p);

	/* refusing a non-sync literal: err_skip says how much will be dropped */
	r = imap_parser_feed(&p, "f APPEND x {7+}\r\n", 17, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_LITERAL);
	CHECK(imap_parser_first_arg(&p) != NULL);
	CHECK(p.cmd.literal.nonsync);
	imap_parser_literal_refuse(&p);
	CHECK_EQ_INT(p.err_skip, 7);
	arena_reset(a);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "1234567\r\ng NOOP\r\n", 17, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_INT(c, 17);
	CHECK_EQ_SLICE(p.cmd.tag, "g");
	arena_reset(a);
	imap_parser_next(&p);

	/* parser-side refusal of a non-sync literal */
	p.limits.max_literal = 4;
	r = imap_parser_feed(&p, "h APPEND x {5+}\r\n", 17, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	CHECK_EQ_INT(c, 17);
	CHECK_EQ_INT(p.err_skip, 5);
	CHECK(p.cmd.literal.size == 5 && p.cmd.literal.nonsync);
	CHECK_EQ_SLICE(p.cmd.tag, "h");
	CHECK(p.err_msg && *p.err_msg);
	arena_reset(a);
	imap_parser_next(&p);
	p.limits.max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	r = imap_parser_feed(&p, "12345\r\ni NOOP\r\n", 15, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	arena_reset(a);
	imap_parser_next(&p);

	/* raw lines */
	r = imap_parser_line(&p, "DO", 2, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_MORE);
	CHECK_EQ_INT(c, 2);
	r = imap_parser_line(&p, "NE\r\nj NOOP\r\n", 12, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_LINE);
	CHECK_EQ_INT(c, 4);
	CHECK_EQ_SLICE(line, "DONE");
	r = imap_parser_line(&p, "\r\n", 2, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_LINE);
	CHECK_EQ_SLICE(line, "");
	r = imap_parser_line(&p, "a\0b\r\n", 5, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_NUL);
	CHECK_EQ_INT(c, 2);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "b\r\nk NOOP\r\n", 11, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_SLICE(p.cmd.tag, "k");
	arena_reset(a);
	imap_parser_next(&p);
	r = imap_parser_line(&p, "a\rb\r\n", 5, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_BARE_CR);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "\r\nl NOOP\r\n", 10, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_SLICE(p.cmd.tag, "l");
	arena_reset(a);
	imap_parser_next(&p);
	p.limits.max_line = 5;
	r = imap_parser_line(&p, "12345\n", 6, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_LINE);
	/* after a bad raw line, the next line call skips its rest first; a
	 * "{N+}" in it is no literal */
	r = imap_parser_line(&p, "123456 {3+}\r\nabc\r\n", 18, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_LINE_TOO_LONG);
	CHECK_EQ_INT(c, 6);
	imap_parser_next(&p);
	r = imap_parser_line(&p, " {3", 3, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_MORE);
	CHECK_EQ_INT(c, 3);
	r = imap_parser_line(&p, "+}\r\nabc\r\n", 9, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_LINE);
	CHECK_EQ_INT(c, 9);
	CHECK_EQ_SLICE(line, "abc");
	r = imap_parser_line(&p, "123456 {3+}\r\nabc\r\n", 18, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_LINE_TOO_LONG);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, " {3+}\r\nabc\r\n", 12, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_NO_COMMAND); /* "abc" was not skipped as a literal */
	CHECK_EQ_INT(c, 11);                        /* through the CR; the LF is skipped next */
	CHECK_EQ_SLICE(p.cmd.tag, "abc");
	arena_reset(a);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "\n", 1, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_MORE);
	r = imap_parser_line(&p, "123456\r\nm NOOP\r\n", 16, &c, &line);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_LINE_TOO_LONG);
	CHECK_EQ_INT(c, 6);
	imap_parser_next(&p);
	p.limits.max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	r = imap_parser_feed(&p, "\r\nm NOOP\r\n", 10, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	CHECK_EQ_SLICE(p.cmd.tag, "m");
	arena_reset(a);
	imap_parser_next(&p);

	/* once desynchronised it stays so */
	r = imap_parser_feed(&p, "n LOGIN {99999999999999999999+}\r\nx", 34, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_LITERAL_SIZE);
	CHECK(p.err_close);
	imap_parser_next(&p);
	r = imap_parser_feed(&p, "o NOOP\r\n", 8, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_ERR_DESYNC);
	CHECK_EQ_INT(c, 0);

	imap_parser_clear(&p);
	arena_free(&a);
}

static void test_names(void)
{
	CHECK_EQ_INT(imap_cmd_lookup(STR_LIT("fetch")), IMAP_CMD_FETCH);
	CHECK_EQ_INT(imap_cmd_lookup(STR_LIT("GetQuotaRoot")), IMAP_CMD_GETQUOTAROOT);
	CHECK_EQ_INT(imap_cmd_lookup(STR_LIT("UID")), IMAP_CMD_UNKNOWN);
	CHECK_EQ_INT(imap_cmd_lookup(STR_LIT("FETCHX")), IMAP_CMD_UNKNOWN);
	CHECK_EQ_INT(imap_cmd_lookup(STR_LIT("")), IMAP_CMD_UNKNOWN);
	CHECK_EQ_STR(imap_cmd_name(IMAP_CMD_UID_THREAD), "UID THREAD");
	CHECK_EQ_STR(imap_cmd_name(IMAP_CMD_REPLACE), "REPLACE");
	CHECK_EQ_STR(imap_cmd_name(IMAP_CMD_UID_REPLACE), "UID REPLACE");
	CHECK_EQ_STR(imap_cmd_name(IMAP_CMD_AUTHENTICATE), "AUTHENTICATE");
	CHECK_EQ_STR(imap_cmd_name(IMAP_CMD_UNKNOWN), "UNKNOWN");
	for (int id = 1; id < IMAP_CMD_UID_EXPUNGE; id++)
		CHECK_EQ_INT(imap_cmd_lookup(str_c(imap_cmd_name(id))), id);
	for (int code = IMAP_PARSE_ERR_MIN; code <= IMAP_PARSE_LINE; code++)
		CHECK(strcmp(imap_parse_strerror(code), "Unknown error") != 0);
}

static void test_dates(void)
{
	int64_t t, d;
	int z;

	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:25 -0700"), &t, &z), 0);
	CHECK_EQ_INT(t, 837596665);
	CHECK_EQ_INT(z, -420);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT(" 7-Feb-1994 21:52:25 -0800"), &t, &z), 0);
	CHECK_EQ_INT(t, 760686745);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("07-feb-1994 21:52:25 +0000"), &t, NULL), 0);
	CHECK_EQ_INT(t, 760657945);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("01-Jan-1970 00:00:00 +0100"), &t, &z), 0);
	CHECK_EQ_INT(t, -3600);
	CHECK_EQ_INT(z, 60);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("29-Feb-2000 23:59:59 +0000"), &t, &z), 0);
	CHECK_EQ_INT(t, 951868799);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("7-Feb-1994 21:52:25 -0800"), &t, &z), 0);
	CHECK(imap_datetime_parse(STR_LIT("29-Feb-1900 00:00:00 +0000"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("29-Feb-2001 00:00:00 +0000"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("31-Apr-2001 00:00:00 +0000"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("00-Jan-2001 00:00:00 +0000"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jux-1996 02:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 24:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:60:25 -0700"), &t, &z) < 0);
	/* a leap second, :60 in any zone, is the second before it (as Dovecot) */
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("31-Dec-2016 23:59:60 +0000"), &t, &z), 0);
	CHECK_EQ_INT(t, 1483228799);
	CHECK_EQ_INT(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:60 -0700"), &t, &z), 0);
	CHECK_EQ_INT(t, 837596699);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:61 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:25 -0760"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:25 0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:25 -0700 "), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-96 02:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("  7-Jul-1996 02:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT(" 17-Jul-1996 02:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT(""), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 0a:44:25 -0700"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996 02:44:25 -07x0"), &t, &z) < 0);
	CHECK(imap_datetime_parse(STR_LIT("17-Jul-1996T02:44:25 -0700"), &t, &z) < 0);

	CHECK_EQ_INT(imap_date_parse(STR_LIT("1-Feb-1994"), &d), 0);
	CHECK_EQ_INT(d, 8797);
	CHECK_EQ_INT(imap_date_parse(STR_LIT("01-feb-1994"), &d), 0);
	CHECK_EQ_INT(d, 8797);
	CHECK_EQ_INT(imap_date_parse(STR_LIT("31-Dec-1969"), &d), 0);
	CHECK_EQ_INT(d, -1);
	CHECK(imap_date_parse(STR_LIT(" 1-Feb-1994"), &d) < 0);
	CHECK(imap_date_parse(STR_LIT("1-Feb-1994 "), &d) < 0);
	CHECK(imap_date_parse(STR_LIT("123-Feb-1994"), &d) < 0);
	CHECK(imap_date_parse(STR_LIT("1-February-1994"), &d) < 0);
	CHECK(imap_date_parse(STR_LIT("1-Feb-94"), &d) < 0);
	CHECK(imap_date_parse(STR_LIT(""), &d) < 0);
}

/* Big literals are counted process-wide from acceptance until freed,
 * whether the parser drops them or a taker frees them (APPEND admission). */
static void test_literals_held(void)
{
	struct arena *a = arena_new(0);
	struct imap_parser p;
	size_t c, n = 5000; /* over the parser's small-literal size */
	char line[64], *data = malloc(n + 2);
	int r, len;

	CHECK(data != NULL);
	memset(data, 'x', n);
	memcpy(data + n, "\r\n", 2);
	imap_parser_init(&p, a, NULL);
	uint64_t before = imap_literals_held();

	/* Taken by the command, freed by the taker. */
	len = snprintf(line, sizeof line, "a APPEND INBOX {%zu}\r\n", n);
	r = imap_parser_feed(&p, line, (size_t)len, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_LITERAL);
	imap_parser_literal_accept(&p);
	CHECK(imap_literals_held() == before + n);
	r = imap_parser_feed(&p, data, n + 2, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_COMMAND);
	struct str msg = p.cmd.args[1].str;
	struct imap_lit *lits = imap_parser_take_literals(&p);
	CHECK(lits != NULL);
	/* Hashed as it arrived: the store's id of the same bytes. */
	uint8_t id[32], want[32];
	store_blob_id(data, n, want);
	CHECK_EQ_INT(imap_literal_blob_id(lits, msg.p, msg.len, id), 0);
	CHECK(memcmp(id, want, 32) == 0);
	CHECK_EQ_INT(imap_literal_blob_id(lits, msg.p + 1, msg.len - 1, id), -1);
	arena_reset(a);
	imap_parser_next(&p);
	CHECK(imap_literals_held() == before + n);
	imap_literals_free(&lits);
	CHECK(lits == NULL);
	CHECK(imap_literals_held() == before);

	/* Half received, then the parser goes away: released with it. */
	len = snprintf(line, sizeof line, "b APPEND INBOX {%zu}\r\n", n);
	r = imap_parser_feed(&p, line, (size_t)len, &c);
	CHECK_EQ_INT(r, IMAP_PARSE_LITERAL);
	imap_parser_literal_accept(&p);
	r = imap_parser_feed(&p, data, n / 2, &c);
	CHECK(imap_literals_held() == before + n);
	imap_parser_clear(&p);
	CHECK(imap_literals_held() == before);

	free(data);
	arena_free(&a);
}

int main(void)
{
	test_clients();
	test_lexical();
	test_malformed();
	test_args();
	test_lifecycle();
	test_names();
	test_dates();
	test_literals_held();
	return unit_done("test_imap_parser");
}
