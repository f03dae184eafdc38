/*
 * smtp_data.c — DATA phase reader (see smtp_data.h).
 *
 * A byte-driven state machine; the only octets that change state are CR,
 * LF and a dot at a line start, so runs of other octets are copied in one
 * append.
 */
#include "smtp/smtp_data.h"

enum {
	ST_BOL,    /* at the start of a CRLF line (or of the data) */
	ST_DOT,    /* "." at the start of a line, held back */
	ST_DOT_CR, /* "." CR at the start of a line, held back */
	ST_TEXT,   /* inside a line */
	ST_CR,     /* inside a line, after a CR */
	ST_DONE,
};

static void emit(struct smtp_data_reader *r, struct buf *out, const char *p, size_t n)
{
	size_t take = n;

	/* line_len counts the CRLF too, and not the stuffing dot (§4.5.3.1.6). */
	if (r->line_len + n > SMTP_DATA_LINE_MAX)
		r->long_line = 1;
	r->line_len += n;
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

/* Length of the run at p of octets that need no state change in ST_TEXT. */
static size_t plain_run(const char *p, size_t n, struct smtp_data_reader *r)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\r' || c == '\n')
			break;
		if (c == '\0')
			r->saw_nul = 1;
	}
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
			n = plain_run(in + i, len - i, r);
			if (n) {
				emit(r, out, in + i, n);
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
