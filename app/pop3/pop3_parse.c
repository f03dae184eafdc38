/*
 * pop3_parse.c — POP3 line framing, command parsing
 * and dot-stuffing. See pop3_parse.h.
 */
#include "pop3/pop3_parse.h"

#include <string.h>

int pop3_line_find(const char *p, size_t len, size_t max, size_t *linelen_r, size_t *consumed_r)
{
	size_t scan = len < max + 2 ? len : max + 2;
	const char *lf = memchr(p, '\n', scan);

	*linelen_r = 0;
	*consumed_r = 0;
	if (!lf) {
		if (len < max + 2)
			return POP3_LINE_MORE;
		*consumed_r = max + 2;
		return POP3_LINE_TOO_LONG;
	}
	size_t end = (size_t)(lf - p), ll = end;
	if (ll > 0 && p[ll - 1] == '\r')
		ll--;
	*consumed_r = end + 1;
	if (ll > max)
		return POP3_LINE_TOO_LONG_END;
	if (memchr(p, '\0', ll))
		return POP3_LINE_NUL;
	*linelen_r = ll;
	return POP3_LINE_FOUND;
}

int pop3_line_discard(const char *p, size_t len, size_t *consumed_r)
{
	const char *lf = memchr(p, '\n', len);

	if (!lf) {
		*consumed_r = len;
		return 0;
	}
	*consumed_r = (size_t)(lf - p) + 1;
	return 1;
}

static const struct {
	const char *name;
	enum pop3_verb verb;
} verbs[] = {
	{ "USER", POP3_VERB_USER }, { "PASS", POP3_VERB_PASS }, { "APOP", POP3_VERB_APOP },
	{ "AUTH", POP3_VERB_AUTH }, { "STLS", POP3_VERB_STLS }, { "CAPA", POP3_VERB_CAPA },
	{ "UTF8", POP3_VERB_UTF8 }, { "QUIT", POP3_VERB_QUIT }, { "STAT", POP3_VERB_STAT },
	{ "LIST", POP3_VERB_LIST }, { "RETR", POP3_VERB_RETR }, { "DELE", POP3_VERB_DELE },
	{ "NOOP", POP3_VERB_NOOP }, { "RSET", POP3_VERB_RSET }, { "TOP", POP3_VERB_TOP },
	{ "UIDL", POP3_VERB_UIDL }, { "LANG", POP3_VERB_LANG },
};

/* Next space-separated word of s from *pos, skipping leading spaces. */
static struct str next_word(struct str s, size_t *pos)
{
	size_t i = *pos, start;

	while (i < s.len && s.p[i] == ' ')
		i++;
	start = i;
	while (i < s.len && s.p[i] != ' ')
		i++;
	*pos = i;
	return str_make(s.p + start, i - start);
}

static int rest_is_empty(struct str s, size_t pos)
{
	while (pos < s.len && s.p[pos] == ' ')
		pos++;
	return pos == s.len;
}

static int syntax(struct pop3_cmd *cmd, const char *err)
{
	cmd->err = err;
	return POP3_PARSE_SYNTAX;
}

/* A message number: digits only, 1..10 of them, at most UINT32_MAX. */
static int parse_msgnum(struct str w, uint32_t *v_r)
{
	uint64_t v;

	if (str_to_u64(w, UINT32_MAX, &v) < 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* A line count: digits only; a huge count is as good as "everything". */
static int parse_lines(struct str w, uint64_t *v_r)
{
	uint64_t v = 0;

	if (w.len == 0)
		return -1;
	for (size_t i = 0; i < w.len; i++) {
		if (w.p[i] < '0' || w.p[i] > '9')
			return -1;
		unsigned d = (unsigned)(w.p[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*v_r = v;
	return 0;
}

int pop3_cmd_parse(struct str line, struct pop3_cmd *cmd)
{
	size_t pos = 0;
	struct str w;

	memset(cmd, 0, sizeof(*cmd));
	/* The verb is whatever precedes the first space, no leading spaces. */
	while (pos < line.len && line.p[pos] != ' ')
		pos++;
	cmd->verb_str = str_make(line.p, pos);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (str_eq_ci_c(cmd->verb_str, verbs[i].name)) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}

	switch (cmd->verb) {
	case POP3_VERB_USER: {
		struct str rest = str_trim(str_sub(line, pos, line.len));
		if (rest.len == 0)
			return syntax(cmd, "No username given.");
		cmd->arg = rest;
		return POP3_PARSE_OK;
	}
	case POP3_VERB_PASS:
		/* Exactly one separating space: a password may start with one. */
		cmd->arg = pos < line.len ? str_sub(line, pos + 1, line.len)
					  : str_make(line.p + line.len, 0);
		return POP3_PARSE_OK;
	case POP3_VERB_AUTH:
		cmd->arg = next_word(line, &pos);
		if (cmd->arg.len == 0)
			return POP3_PARSE_OK;
		w = next_word(line, &pos);
		if (w.len) {
			cmd->initial = w;
			cmd->has_initial = 1;
		}
		if (!rest_is_empty(line, pos))
			return syntax(cmd, "Invalid parameters.");
		return POP3_PARSE_OK;
	case POP3_VERB_LANG:
		cmd->arg = next_word(line, &pos);
		if (!rest_is_empty(line, pos))
			return syntax(cmd, "Invalid parameters.");
		return POP3_PARSE_OK;
	case POP3_VERB_LIST:
	case POP3_VERB_UIDL:
		w = next_word(line, &pos);
		if (w.len == 0)
			return POP3_PARSE_OK;
		cmd->has_msg = 1;
		if (parse_msgnum(w, &cmd->msg) < 0)
			return syntax(cmd, "Invalid message number.");
		if (!rest_is_empty(line, pos))
			return syntax(cmd, "Noise after message number.");
		return POP3_PARSE_OK;
	case POP3_VERB_RETR:
	case POP3_VERB_DELE:
	case POP3_VERB_TOP:
		w = next_word(line, &pos);
		cmd->has_msg = 1;
		if (parse_msgnum(w, &cmd->msg) < 0)
			return syntax(cmd, "Invalid message number.");
		if (cmd->verb == POP3_VERB_TOP) {
			w = next_word(line, &pos);
			if (parse_lines(w, &cmd->lines) < 0)
				return syntax(cmd, "Invalid number of lines.");
		}
		if (!rest_is_empty(line, pos))
			return syntax(cmd, "Noise after message number.");
		return POP3_PARSE_OK;
	default:
		/* No arguments: extra words are ignored, as Dovecot does. */
		return POP3_PARSE_OK;
	}
}


/* ---- LANG ---- */

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int pop3_lang_select(struct str range)
{
	if (range.len == 1 && range.p[0] == '*')
		return 1;
	/* The syntax first: each subtag 1 to 8 letters (the first) or
	 * letters and digits (the others). */
	size_t primary = 0;
	for (size_t i = 0, n = 0; i <= range.len; i++) {
		if (i == range.len || range.p[i] == '-') {
			if (n == 0 || n > 8)
				return -1;
			if (primary == 0)
				primary = i;
			n = 0;
			continue;
		}
		char c = range.p[i];
		if (!is_alpha(c) && (primary == 0 || c < '0' || c > '9'))
			return -1;
		n++;
	}
	/* Lookup cuts the range back to its primary subtag at the last. */
	return str_eq_ci_c(str_make(range.p, primary), "en");
}

/* ---- dot-stuffing ---- */

/* A line ended (its LF was copied): advance TOP's header/body accounting. */
static void line_ended(struct pop3_stuff *st, int blank)
{
	st->mid_line = 0;
	st->line_len = 0;
	if (!st->top)
		return;
	if (!st->in_body) {
		if (blank) {
			st->in_body = 1;
			if (st->lines == 0)
				st->done = 1;
		}
		return;
	}
	if (--st->lines == 0)
		st->done = 1;
}

size_t pop3_stuff(struct pop3_stuff *st, const char *src, size_t n, char *dst, size_t cap,
		  size_t *written_r)
{
	size_t i = 0, o = 0;

	while (i < n && !st->done) {
		if (!st->mid_line && src[i] == '.') {
			if (cap - o < 2)
				break;
			dst[o++] = '.';
			dst[o++] = '.';
			i++;
			st->mid_line = 1;
			st->line_len = 1;
			st->last = '.';
			continue;
		}
		/* Copy up to the next LF (one memcpy per line, not per octet). */
		const char *lf = memchr(src + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - src) : n;
		size_t k = end - i;
		if (k > cap - o)
			k = cap - o;
		if (k) {
			memcpy(dst + o, src + i, k);
			o += k;
			st->line_len += k;
			st->last = src[i + k - 1];
			st->mid_line = 1;
			i += k;
		}
		if (i < end)
			break; /* dst is full */
		if (!lf)
			continue; /* src used up in the middle of a line */
		/* The LF: a bare one goes out as CRLF (RFC 1939 §3). */
		int has_cr = st->line_len > 0 && st->last == '\r';
		if (cap - o < (has_cr ? 1u : 2u))
			break;
		if (!has_cr)
			dst[o++] = '\r';
		dst[o++] = '\n';
		i++;
		/* The line is blank when it held nothing but its line end. */
		int blank = st->line_len == (has_cr ? 1u : 0u);
		st->last = '\n';
		line_ended(st, blank);
	}
	*written_r = o;
	return i;
}
