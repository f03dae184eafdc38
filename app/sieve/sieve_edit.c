/*
 * sieve_edit.c — the message as a script edited it (editheader, RFC
 * 5293): the header section written back from the result's fields, and
 * the text form of an added field's value. The interpreter keeps the
 * edited fields (sieve_msg.c); the delivery stage stores what this file
 * writes as that account's own copy.
 */
#include "mime/rfc5322.h"
#include "sieve/sieve.h"

void sieve_header_text(struct buf *out, struct str s)
{
	static const char hex[] = "0123456789ABCDEF";
	int ascii = 1;
	for (size_t i = 0; i < s.len; i++)
		ascii &= (unsigned char)s.p[i] < 0x80;
	if (ascii) {
		for (size_t i = 0; i < s.len; i++) {
			unsigned char c = (unsigned char)s.p[i];
			char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
			(void)buf_append(out, &ch, 1);
		}
		return;
	}
	/* RFC 2047 §2: an encoded word is at most 75 octets; longer text
	 * becomes several words on folded lines. */
	size_t w = 0;
	(void)buf_append_c(out, "=?utf-8?q?");
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		size_t need = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                      (c >= '0' && c <= '9') || c == ' '
		                  ? 1
		                  : 3;
		/* Never split a UTF-8 sequence: start a new word before a lead octet. */
		if (w + need > 60 && (c < 0x80 || c >= 0xc0)) {
			(void)buf_append_c(out, "?=\r\n =?utf-8?q?");
			w = 0;
		}
		if (need == 1) {
			char ch = c == ' ' ? '_' : (char)c;
			(void)buf_append(out, &ch, 1);
		} else {
			char e[3] = { '=', hex[c >> 4], hex[c & 15] };
			(void)buf_append(out, e, 3);
		}
		w += need;
	}
	(void)buf_append_c(out, "?=");
}

int sieve_header_write(const struct sieve_result *res, struct buf *out)
{
	for (uint32_t i = 0; i < res->nfields; i++) {
		const struct sieve_field *f = &res->fields[i];
		if (buf_append(out, f->name.p, f->name.len) < 0 || buf_append_c(out, ":") < 0)
			return -1;
		if (f->added) {
			/* The interpreter refused bare line ends; a folded value
			 * the script wrote keeps its folds. */
			int ascii = 1;
			for (size_t k = 0; k < f->value.len; k++)
				ascii &= (unsigned char)f->value.p[k] < 0x80;
			(void)buf_append_c(out, " ");
			if (ascii)
				(void)buf_append(out, f->value.p, f->value.len);
			else
				sieve_header_text(out, f->value);
		} else {
			(void)buf_append(out, f->value.p, f->value.len);
		}
		if (buf_append_c(out, "\r\n") < 0)
			return -1;
	}
	return buf_append_c(out, "\r\n");
}

ptrdiff_t sieve_body_offset(const char *msg, size_t len)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	int rc;
	ptrdiff_t body = -1;

	rfc5322_init(&p);
	while ((rc = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f)) == RFC5322_FIELD)
		off += used;
	if (rc == RFC5322_END && p.body_offset <= SIEVE_HEADER_BYTES_MAX)
		body = (ptrdiff_t)p.body_offset;
	else if (rc == RFC5322_MORE && off == len && len <= SIEVE_HEADER_BYTES_MAX)
		body = (ptrdiff_t)len; /* a header with no body */
	rfc5322_clear(&p);
	return body;
}
