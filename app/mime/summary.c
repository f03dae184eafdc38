/*
 * summary.c — cached header summary (see summary.h).
 */
#include "mime/summary.h"

#include <stdint.h>
#include <string.h>

#include "mime/rfc5322.h"

static const struct {
	unsigned char tag;
	const char *name;
	size_t off;
} fields[] = {
    {1, "From", offsetof(struct msg_summary, from)},
    {2, "To", offsetof(struct msg_summary, to)},
    {3, "Cc", offsetof(struct msg_summary, cc)},
    {4, "Subject", offsetof(struct msg_summary, subject)},
    {5, "Date", offsetof(struct msg_summary, date)},
    {6, "Message-ID", offsetof(struct msg_summary, message_id)},
    {7, "In-Reply-To", offsetof(struct msg_summary, in_reply_to)},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static struct str *field_of(struct msg_summary *s, size_t k)
{
	return (struct str *)((char *)s + fields[k].off);
}

static const struct str *cfield_of(const struct msg_summary *s, size_t k)
{
	return (const struct str *)((const char *)s + fields[k].off);
}

/* Largest n <= max such that p[0..n) does not end inside a UTF-8 sequence. */
static size_t cut_utf8(const char *p, size_t len, size_t max)
{
	size_t n = len;

	if (n <= max)
		return n;
	n = max;
	/* Back off continuation octets, then the lead octet they belong to. */
	while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80 && max - n < 3)
		n--;
	return n;
}

int msg_summary_parse(const char *msg, size_t len, struct arena *a, struct msg_summary *s)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used, k, n;
	int r, ret = 0;
	char *v;

	memset(s, 0, sizeof(*s));
	rfc5322_init(&p);
	for (;;) {
		r = rfc5322_parse(&p, msg + off, len - off, 1, &used, &f);
		off += used;
		if (r != RFC5322_FIELD) {
			if (r < 0)
				ret = -1;
			break; /* END; MORE cannot happen with eof set */
		}
		for (k = 0; k < NFIELDS; k++) {
			struct str *dst = field_of(s, k);

			if (dst->p || !str_eq_ci_c(f.name, fields[k].name))
				continue;
			v = arena_alloc(a, f.value.len + 1);
			n = rfc5322_unfold(f.value, v);
			n = cut_utf8(v, n, MSG_SUMMARY_VALUE_MAX);
			v[n] = '\0';
			*dst = str_make(v, n);
			break;
		}
	}
	rfc5322_clear(&p);
	return ret;
}

int msg_summary_encode(const struct msg_summary *s, struct buf *out)
{
	unsigned char hdr[3];
	size_t k, n;

	hdr[0] = MSG_SUMMARY_VERSION;
	if (buf_append(out, hdr, 1) < 0)
		return -1;
	for (k = 0; k < NFIELDS; k++) {
		const struct str *v = cfield_of(s, k);

		if (v->p == NULL)
			continue;
		n = cut_utf8(v->p, v->len, MSG_SUMMARY_VALUE_MAX);
		hdr[0] = fields[k].tag;
		hdr[1] = (unsigned char)(n >> 8);
		hdr[2] = (unsigned char)n;
		if (buf_append(out, hdr, 3) < 0 || buf_append(out, v->p, n) < 0)
			return -1;
	}
	return 0;
}

int msg_summary_decode(const void *p, size_t len, struct msg_summary *s)
{
	const unsigned char *d = p;
	size_t i = 1, n, k;
	unsigned seen = 0;

	memset(s, 0, sizeof(*s));
	if (len < 1 || d[0] != MSG_SUMMARY_VERSION)
		return -1;
	while (i < len) {
		if (len - i < 3)
			goto bad;
		n = (size_t)d[i + 1] << 8 | d[i + 2];
		if (d[i] == 0 || n > MSG_SUMMARY_VALUE_MAX || n > len - i - 3)
			goto bad;
		for (k = 0; k < NFIELDS; k++) {
			if (fields[k].tag != d[i])
				continue;
			if (seen & (1u << k))
				goto bad;
			seen |= 1u << k;
			*field_of(s, k) = str_make((const char *)d + i + 3, n);
		}
		i += 3 + n;
	}
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}
