/*
 * fuzz_smtp_cmd.c — smtp_line_find() + smtp_cmd_parse() on a byte stream.
 * The stream is framed whole and again in two feeds split at a point taken
 * from the data; both must find the same lines. Every line is parsed, and
 * accepted paths must fit SMTP_ADDRESS_BUF and read back as themselves
 * (as a RCPT path and as a bare mailbox, smtp_mailbox_address),
 * and their domain's other IDN spelling, if any, must be a valid domain.
 * A HELO/EHLO that parses names no malformed address literal; a MAIL
 * that parses has at most one of HOLDFOR/HOLDUNTIL, and a HOLDUNTIL time
 * written back as an RFC 3339 date-time reads back as itself; its
 * MT-PRIORITY is within -9..9 and reads back the same written as the
 * SMTP client writes it.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mime/mime_date.h"
#include "smtp/smtp_parse.h"

/* The address a path is kept as (quotes dropped where they can be,
 * the domain in lower case) is a path of its own, kept the same way. */
static void check_again(const char *addr, size_t n)
{
	char line[SMTP_ADDRESS_BUF + 16], again[SMTP_ADDRESS_BUF];
	struct smtp_cmd cmd;

	memcpy(line, "RCPT TO:<", 9);
	memcpy(line + 9, addr, n);
	line[9 + n] = '>';
	assert(smtp_cmd_parse(str_make(line, 10 + n), &cmd) == 0);
	assert(smtp_path_address(&cmd.path, again, sizeof(again)) == (int)n);
	assert(memcmp(again, addr, n) == 0);
	/* Read as a bare mailbox (a Sieve redirect's), it is the same. */
	if (!cmd.path.is_postmaster) {
		assert(smtp_mailbox_address(str_make(addr, n), again, sizeof(again)) == (int)n);
		assert(memcmp(again, addr, n) == 0);
	}
	/* An IDN domain's other spelling is a domain that fits. */
	if (!cmd.path.domain_literal && cmd.path.domain.len) {
		char alt[SMTP_DOMAIN_MAX + 1];
		size_t k = smtp_domain_other_form(cmd.path.domain, alt, sizeof(alt));
		assert(k <= SMTP_DOMAIN_MAX && (k == 0 || strlen(alt) == k));
		assert(k == 0 || smtp_domain_valid(str_make(alt, k), NULL));
	}
}

/* RFC 4865's parameters as parsed: one of the two, in range, and a
 * release time that survives being written out and read again. */
static void check_hold(const struct smtp_params *m)
{
	unsigned both = SMTP_PARAM_HOLDFOR | SMTP_PARAM_HOLDUNTIL;
	char line[64 + MIME_RFC3339_MAX];
	struct smtp_cmd again;

	assert((m->seen & both) != both);
	assert(m->hold_for <= 999999999u);
	if (!(m->seen & SMTP_PARAM_HOLDUNTIL) || m->hold_until < 0 ||
	    m->hold_until > (int64_t)253402300799) /* 9999-12-31T23:59:59Z */
		return;
	char t[MIME_RFC3339_MAX];
	mime_rfc3339_format(m->hold_until, t);
	int n = snprintf(line, sizeof line, "MAIL FROM:<> HOLDUNTIL=%s", t);
	assert(smtp_cmd_parse(str_make(line, (size_t)n), &again) == 0);
	assert(again.params.hold_until == m->hold_until);
}

/* RFC 6710's MT-PRIORITY as parsed: in range, 0 when not given, and
 * the form the queue's client sends ("MT-PRIORITY=%d") parses back to it. */
static void check_priority(const struct smtp_params *m)
{
	char line[64];
	struct smtp_cmd again;

	assert(m->mt_priority >= -9 && m->mt_priority <= 9);
	if (!(m->seen & SMTP_PARAM_MTPRIORITY)) {
		assert(m->mt_priority == 0);
		return;
	}
	int n = snprintf(line, sizeof line, "MAIL FROM:<> MT-PRIORITY=%d", m->mt_priority);
	assert(smtp_cmd_parse(str_make(line, (size_t)n), &again) == 0);
	assert(again.params.mt_priority == m->mt_priority);
}

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
			if (rc == 0 && (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT)) {
				int n = smtp_path_address(&cmd.path, addr, sizeof(addr));
				assert(n >= 0);
				if (n > 0)
					check_again(addr, (size_t)n);
				check_hold(&cmd.params);
				check_priority(&cmd.params);
			}
			if (rc == 0 && (cmd.verb == SMTP_VERB_HELO || cmd.verb == SMTP_VERB_EHLO) &&
			    cmd.helo.p[0] == '[')
				assert(smtp_addr_literal_valid(cmd.helo));
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
