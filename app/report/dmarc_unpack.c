/*
 * dmarc_unpack.c — a report attachment's bytes to its XML (gzip, zip or
 * plain), and gzip for the reports tern sends (dmarc_report.h).
 *
 * zip: reporters send one file per archive. The first local file header
 * is read (APPNOTE 4.3.7); when the sizes are in a data descriptor (flag
 * bit 3) they are taken from the central directory entry of that file, so
 * the local header's zero sizes are never trusted. Only stored (0) and
 * deflated (8) files, no encryption. Whatever the headers say, inflation
 * stops at the output bound: a size written by the peer sizes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xalloc.h"
#include "report/dmarc_report.h"

static int fail(char *err, size_t errsz, const char *msg)
{
	if (err && errsz)
		snprintf(err, errsz, "%s", msg);
	return -1;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum dmarc_report_pack dmarc_report_pack_of(const uint8_t *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B)
		return DMARC_PACK_GZIP;
	if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return DMARC_PACK_ZIP;
	size_t i = 0;
	if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i < n && p[i] == '<')
		return DMARC_PACK_XML;
	return DMARC_PACK_UNKNOWN;
}

/*
 * Inflates in[0..n) with windowBits wb (31: gzip, -15: raw deflate) into a
 * buffer that grows up to max. A stream that ends before its end marker
 * is an error.
 */
static int inflate_to(const uint8_t *in, size_t n, int wb, size_t max, uint8_t **out_r,
		      size_t *outlen_r, char *err, size_t errsz)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, wb) != Z_OK)
		return fail(err, errsz, "inflate: cannot start");
	size_t cap = n * 4 < 65536 ? 65536 : n * 4, len = 0;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *out = xmalloc(cap);
	int zr = Z_OK;
	z.next_in = (Bytef *)in;
	/* zlib's avail_in is 32 bits; attachments are far smaller. */
	z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
	while (zr == Z_OK) {
		if (len == cap) {
			if (cap > max)
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			out = xrealloc(out, cap);
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		zr = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (zr == Z_BUF_ERROR && z.avail_out != 0)
			break; /* input ran out before the end */
		if (zr == Z_BUF_ERROR)
			zr = Z_OK;
	}
	inflateEnd(&z);
	if (len > max) {
		free(out);
		return fail(err, errsz, "report larger than the limit once inflated");
	}
	if (zr != Z_STREAM_END) {
		free(out);
		return fail(err, errsz, zr == Z_DATA_ERROR ? "corrupt compressed data"
		                                           : "compressed data cut short");
	}
	*out_r = out;
	*outlen_r = len;
	return 0;
}

/* The compressed size and method of the first file, from the central
 * directory (for archives that put sizes in a data descriptor). */
static int zip_central(const uint8_t *p, size_t n, uint32_t *csize_r)
{
	/* End of central directory: 22 bytes plus a comment of up to 65535. */
	if (n < 22)
		return -1;
	size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
	for (size_t i = n - 22 + 1; i-- > lo;) {
		if (memcmp(p + i, "PK\x05\x06", 4) != 0)
			continue;
		uint32_t cd_off = le32(p + i + 16);
		if ((size_t)cd_off + 46 > n || memcmp(p + cd_off, "PK\x01\x02", 4) != 0)
			return -1;
		*csize_r = le32(p + cd_off + 20);
		return 0;
	}
	return -1;
}

static int unzip_first(const uint8_t *p, size_t n, size_t max, uint8_t **out_r,
		       size_t *outlen_r, char *err, size_t errsz)
{
	if (n < 30)
		return fail(err, errsz, "zip: truncated local header");
	uint16_t flags = le16(p + 6), method = le16(p + 8);
	uint32_t csize = le32(p + 18);
	size_t data = 30 + (size_t)le16(p + 26) + le16(p + 28);
	if (flags & 0x1)
		return fail(err, errsz, "zip: encrypted");
	if ((flags & 0x8) && zip_central(p, n, &csize) != 0)
		return fail(err, errsz, "zip: no central directory for a streamed file");
	if (data > n || csize > n - data)
		return fail(err, errsz, "zip: file data past the end of the archive");
	if (method == 8)
		return inflate_to(p + data, csize, -15, max, out_r, outlen_r, err, errsz);
	if (method != 0)
		return fail(err, errsz, "zip: compression method is neither stored nor deflate");
	if (csize > max)
		return fail(err, errsz, "report larger than the limit");
	*out_r = xmalloc(csize ? csize : 1);
	memcpy(*out_r, p + data, csize);
	*outlen_r = csize;
	return 0;
}

int dmarc_report_unpack(const uint8_t *p, size_t n, size_t max, uint8_t **out_r,
			size_t *outlen_r, char *err, size_t errsz)
{
	switch (dmarc_report_pack_of(p, n)) {
	case DMARC_PACK_GZIP:
		return inflate_to(p, n, 31, max, out_r, outlen_r, err, errsz);
	case DMARC_PACK_ZIP:
		return unzip_first(p, n, max, out_r, outlen_r, err, errsz);
	case DMARC_PACK_XML:
		if (n > max)
			return fail(err, errsz, "report larger than the limit");
		*out_r = xmalloc(n ? n : 1);
		memcpy(*out_r, p, n);
		*outlen_r = n;
		return 0;
	default:
		return fail(err, errsz, "neither gzip, zip nor XML");
	}
}

int dmarc_report_gzip(const uint8_t *p, size_t n, uint8_t **out_r, size_t *outlen_r)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	uLong cap = deflateBound(&z, (uLong)n);
	uint8_t *out = xmalloc(cap);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int zr = deflate(&z, Z_FINISH);
	size_t len = cap - z.avail_out;
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(out);
		return -1;
	}
	*out_r = out;
	*outlen_r = len;
	return 0;
}
