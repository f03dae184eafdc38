/*
 * fuzz_pop3_cmd.c — pop3_line_find() + pop3_cmd_parse() over a byte
 * stream, each line also through base64 and SASL PLAIN decoding and a
 * LANG's argument through pop3_lang_select(); then the
 * whole input through the dot-stuffer in one call and in 3-octet output
 * steps, which must produce the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "core/base64.h"
#include "pop3/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t pos = 0, ll, c, n = 0, w1, w2 = 0, off = 0, w;
	char dec[POP3_SASL_MAX];
	int r;

	for (;;) {
		r = pop3_line_find(p + pos, size - pos, POP3_LINE_MAX, &ll, &c);
		if (r == POP3_LINE_MORE)
			break;
		assert(c > 0 && c <= size - pos && ll <= POP3_LINE_MAX);
		if (r == POP3_LINE_FOUND) {
			struct pop3_cmd cmd;
			struct str a, b, d, line = str_make(p + pos, ll);
			int rc = pop3_cmd_parse(line, &cmd);
			assert(rc == POP3_PARSE_OK || (rc == POP3_PARSE_SYNTAX && cmd.err));
			if (rc == POP3_PARSE_OK && cmd.verb == POP3_VERB_LANG && cmd.arg.len) {
				int sel = pop3_lang_select(cmd.arg);
				/* English is chosen only by "*" or a range of "en" */
				assert(sel >= -1 && sel <= 1);
				assert(sel != 1 || (cmd.arg.len == 1 && cmd.arg.p[0] == '*') ||
				       ((cmd.arg.p[0] | 0x20) == 'e' && (cmd.arg.p[1] | 0x20) == 'n' &&
					(cmd.arg.len == 2 || cmd.arg.p[2] == '-')));
			}
			if (base64_decode(line, 0, dec, sizeof(dec), &n) == 0) {
				assert(n <= ll / 4 * 3);
				assert(sasl_plain_split(str_make(dec, n), &a, &b, &d) <= 0);
			}
		}
		pos += c;
		if (r == POP3_LINE_TOO_LONG) {
			if (!pop3_line_discard(p + pos, size - pos, &n))
				break;
			pos += n;
		}
	}
	char *one = malloc(size * 2 + 1), *two = malloc(size * 2 + 1);
	struct pop3_stuff s1 = { .top = size & 1, .lines = size % 5 }, s2 = s1;
	assert(pop3_stuff(&s1, p, size, one, size * 2 + 1, &w1) <= size);
	while (off < size && !s2.done) {
		off += pop3_stuff(&s2, p + off, size - off, two + w2, 3, &w);
		w2 += w;
	}
	assert(w1 == w2 && memcmp(one, two, w1) == 0 && s1.mid_line == s2.mid_line);
	free(one);
	free(two);
	return 0;
}
