/*
 * fuzz_smtp_cmd.c — smtp_line_find() + smtp_cmd_parse() on a byte stream.
 * The stream is framed whole and again in two feeds split at a point taken
 * from the data; both must find the same lines. Every line is parsed, and
 * accepted paths must fit SMTP_ADDRESS_BUF.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_parse.h"

/* Frames p[0..have) from *pos like a session would; returns a running hash. */
static uint32_t frame(const char *p, size_t have, size_t *pos, int *discarding, uint32_t h)
{
	size_t ll, c;
	int r;

	for (;;) {
		if (*discarding) {
			r = smtp_line_discard(p + *pos, have - *pos, &c);
			*pos += c;
			if (!r)
				return h;
			*discarding = 0;
			continue;
		}
		r = smtp_line_find(p + *pos, have - *pos, 100, &ll, &c);
		if (r == SMTP_LINE_MORE)
			return h;
		assert(c > 0 && c <= have - *pos && c <= 102 && ll <= 100);
		if (r == SMTP_LINE_TOO_LONG)
			*discarding = 1;
		h = h * 31 + (uint32_t)(r + 7) * 1000 + (uint32_t)ll;
		if (r == SMTP_LINE_FOUND) {
			struct smtp_cmd cmd;
			char addr[SMTP_ADDRESS_BUF];
			int rc = smtp_cmd_parse(str_make(p + *pos, ll), &cmd);

			assert(rc <= 0 && rc >= SMTP_PARSE_BAD_PARAM);
			if (rc == 0 && (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT))
				assert(smtp_path_address(&cmd.path, addr, sizeof(addr)) >= 0);
			h = h * 31 + (uint32_t)(rc + 5) * 100 + (uint32_t)cmd.verb;
		}
		*pos += c;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t split = size ? data[0] % (size + 1) : 0, pos = 0, pos2 = 0;
	int d = 0, d2 = 0;
	uint32_t h1, h2;

	h1 = frame(p, size, &pos, &d, 0);
	h2 = frame(p, split, &pos2, &d2, 0);
	h2 = frame(p, size, &pos2, &d2, h2);
	assert(h1 == h2 && pos == pos2);
	return 0;
}
