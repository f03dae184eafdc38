/*
 * smtp_data.c — DATA phase reader (see smtp_data.h).
 *
 * A byte-driven state machine; the only octets that change state are CR,
 * LF and a dot at a line start. Inside a line the reader takes a whole run
 * at once (text_run): plain octets, found eight at a time, and CRLF line
 * ends whose next line does not start with a dot, which change nothing but
 * the line count. A typical message is then one append per input chunk
 * instead of three per line.
 */
#include "smtp/smtp_data.h"

#include <stdint.h>
#include <string.h>

enum {
	ST_BOL,    /* at the start of a CRLF line (or of the data) */
	ST_DOT,    /* "." at the start of a line, held back */
	ST_DOT_CR, /* "." CR at the start of a line, held back */
	ST_TEXT,   /* inside a line */
	ST_CR,     /* inside a line, after a CR */
	ST_DONE,
};

/* Appends message octets; the line count is the caller's. */
static void append(struct smtp_data_reader *r, struct buf *out, const char *p, size_t n)
{
	size_t take = n;

	if (!r->too_big) {
		/* Keep exactly the first max_size octets whatever the chunking,
		 * so the result never depends on how the input arrived. */
		if (r->size + take > r->max_size)
			take = (size_t)(r->max_size - r->size);
		if (take > buf_room(out))
			take = buf_room(out);
		if (take && buf_append(out, p, take) < 0)
			take = 0;
		if (take < n)
			r->too_big = 1;
	}
	r->size += n;
}

static void emit(struct smtp_data_reader *r, struct buf *out, const char *p, size_t n)
{
	/* line_len counts the CRLF too, and not the stuffing dot (§4.5.3.1.6). */
	if (r->line_len + n > SMTP_DATA_LINE_MAX)
		r->long_line = 1;
	r->line_len += n;
	append(r, out, p, n);
}

/*
 * Non-zero when a byte of w is below 14: CR (13), LF (10) and NUL, the
 * only octets text_run stops at, all are. Exact as a yes/no test (a borrow
 * can only turn on high bits above a byte that really is below 14).
 */
static int has_below_14(uint64_t w)
{
	return ((w - 0x0101010101010101u * 14) & ~w & 0x8080808080808080u) != 0;
}

/*
 * Length of the run at p that ST_TEXT takes without changing state: octets
 * other than CR and LF, and CRLF line ends followed (within p) by an octet
 * other than a dot, after which the octet-by-octet machine would be back in
 * ST_TEXT. Keeps line_len, long_line and saw_nul as that machine would;
 * the run itself is the caller's to append.
 */
static size_t text_run(struct smtp_data_reader *r, const char *p, size_t n)
{
	size_t i = 0, line_start = 0, line_len = r->line_len;

	while (i < n) {
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (!has_below_14(w)) {
				i += 8;
				continue;
			}
		}
		char c = p[i];
		if (c == '\r') {
			if (n - i < 3 || p[i + 1] != '\n' || p[i + 2] == '.')
				break; /* bare CR, a dot line, or the chunk ends: the machine's */
			line_len += i + 2 - line_start;
			if (line_len > SMTP_DATA_LINE_MAX)
				r->long_line = 1;
			line_len = 0;
			i += 2;
			line_start = i;
			continue;
		}
		if (c == '\n')
			break;
		if (c == '\0')
			r->saw_nul = 1;
		i++;
	}
	line_len += i - line_start;
	if (line_len > SMTP_DATA_LINE_MAX)
		r->long_line = 1;
	r->line_len = line_len;
	return i;
}

size_t smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len, struct buf *out)
{
	size_t i = 0, n;

	while (i < len && r->state != ST_DONE) {
		char c = in[i];

		switch (r->state) {
		case ST_BOL:
			if (c == '.') {
				r->state = ST_DOT;
				i++;
				continue;
			}
			r->state = ST_TEXT;
			continue; /* same octet, as text */
		case ST_DOT:
			if (c == '\r') {
				r->state = ST_DOT_CR;
				i++;
				continue;
			}
			/* ".x": a stuffed line; the first dot goes, x is text. */
			r->state = ST_TEXT;
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				r->state = ST_DONE;
				r->done = 1;
				i++;
				continue;
			}
			/* ". CR x": the dot goes, the CR was bare; x is seen
			 * after a CR. */
			emit(r, out, "\r", 1);
			r->state = ST_CR;
			continue;
		case ST_TEXT:
			n = text_run(r, in + i, len - i);
			if (n) {
				append(r, out, in + i, n);
				i += n;
				continue;
			}
			emit(r, out, in + i, 1);
			i++;
			if (c == '\r') {
				r->state = ST_CR;
			} else {
				/* Bare LF: not a line start for unstuffing or
				 * the end marker, but the line count restarts. */
				r->saw_bare_lf = 1;
				r->line_len = 0;
			}
			continue;
		case ST_CR:
			if (c == '\n') {
				emit(r, out, "\n", 1);
				i++;
				r->line_len = 0;
				r->state = ST_BOL;
				continue;
			}
			r->saw_bare_cr = 1;
			r->state = ST_TEXT;
			continue;
		}
	}
	return i;
}

void smtp_data_init(struct smtp_data_reader *r, size_t max_size)
{
	r->state = ST_BOL;
	r->line_len = 0;
	r->max_size = max_size;
	r->size = 0;
	r->done = 0;
	r->too_big = 0;
	r->saw_bare_lf = 0;
	r->saw_bare_cr = 0;
	r->saw_nul = 0;
	r->long_line = 0;
}
