/*
 * crypt_sink.c — the buffer sink and OpenPGP's CRC-24; see crypt_sink.h.
 */
#include "crypt/crypt_sink.h"

int crypt_sink_buf(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
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
