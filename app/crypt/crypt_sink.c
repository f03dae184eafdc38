/*
 * crypt_sink.c — sinks and the streaming base64 line encoder; see
 * crypt_sink.h.
 */
#include "crypt/crypt_sink.h"

#include <string.h>

#include "core/base64.h"

int crypt_sink_buf(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

void crypt_b64_init(struct crypt_b64 *b, const struct crypt_sink *out, size_t cols)
{
	memset(b, 0, sizeof *b);
	b->out = out;
	b->group = cols / 4 * 3;
	b->crc = CRYPT_CRC24_INIT;
}

static void line(struct crypt_b64 *b, const uint8_t *p, size_t n)
{
	char l[110];
	if (b->err || n == 0)
		return;
	if (base64_encode(p, n, 0, l, sizeof l - 2) < 0) {
		b->err = 1;
		return;
	}
	size_t k = strlen(l);
	l[k++] = '\r';
	l[k++] = '\n';
	if (b->out->write(b->out->arg, l, k) < 0)
		b->err = 1;
}

uint32_t crypt_crc24(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	while (n--) {
		crc ^= (uint32_t)*p++ << 16;
		for (int i = 0; i < 8; i++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864CFBu;
		}
	}
	return crc & 0xFFFFFFu;
}

void crypt_b64_put(struct crypt_b64 *b, const void *p, size_t n)
{
	const uint8_t *c = p;
	b->crc = crypt_crc24(b->crc, c, n);
	if (b->npend) {
		size_t k = b->group - b->npend < n ? b->group - b->npend : n;
		memcpy(b->pend + b->npend, c, k);
		b->npend += k;
		c += k;
		n -= k;
		if (b->npend < b->group)
			return;
		line(b, b->pend, b->group);
		b->npend = 0;
	}
	for (; n >= b->group; c += b->group, n -= b->group)
		line(b, c, b->group);
	memcpy(b->pend, c, n);
	b->npend = n;
}

int crypt_b64_end(struct crypt_b64 *b)
{
	line(b, b->pend, b->npend);
	b->npend = 0;
	return b->err ? -1 : 0;
}
