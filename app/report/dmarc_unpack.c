/*
 * dmarc_unpack.c — a report attachment's bytes to its XML (gzip, zip or
 * plain), and gzip for the reports tern sends (dmarc_report.h).
 *
 * zip: reporters send one file per archive, but a folder entry or a
 * readme may come with it: the central directory (APPNOTE 4.3.12, at most
 * ZIP_MEMBERS_MAX entries read) names the member taken, the first file
 * ending in ".xml", else the first file (zip_pick); its sizes come from
 * there, so a data descriptor's zero local sizes (flag bit 3) are never
 * trusted. Without a central directory (a cut archive), the first local
 * file header (APPNOTE 4.3.7) is read. Several reports in one archive:
 * the first only. Only stored (0) and deflated (8) files, no encryption. Whatever the headers say, inflation
 * stops at the output bound: a size written by the peer sizes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	for (;;) {
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
		/* RFC 1952 §2.2: a gzip file is a series of members, their
		 * data one after the other (gzip -c a b, or a writer that
		 * flushes in parts). Only the first was read, so such a
		 * report was cut short. The same output bound covers all. */
		if (zr != Z_STREAM_END || wb != 31 || z.avail_in < 2 || z.next_in[0] != 0x1F ||
		    z.next_in[1] != 0x8B || inflateReset(&z) != Z_OK)
			break;
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

/* Central directory entries looked at: a report archive holds one file,
 * perhaps beside a folder entry or a readme. */
#define ZIP_MEMBERS_MAX 64

/* Where a member's data starts and how it is packed. */
struct zip_member {
	size_t local_off;   /* its local file header */
	uint32_t csize;     /* compressed size, from the central directory */
};

/* The end of central directory record: its offset, or -1. */
static long zip_eocd(const uint8_t *p, size_t n)
{
	/* 22 bytes plus a comment of up to 65535. */
	if (n < 22)
		return -1;
	size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
	for (size_t i = n - 22 + 1; i-- > lo;)
		if (memcmp(p + i, "PK\x05\x06", 4) == 0)
			return (long)i;
	return -1;
}

/*
 * The member holding the report, from the central directory (APPNOTE
 * 4.3.12): the first file whose name ends in ".xml", else the first
 * file; folder entries (a name ending in '/') and empty files are not
 * reports. Archives made by zipping a folder start with its entry, and
 * some reporters add a readme: the first member alone was taken, and
 * such a report refused. 0; -1 when there is no central directory; -2
 * when it names no file.
 */
static int zip_pick(const uint8_t *p, size_t n, struct zip_member *m)
{
	long e = zip_eocd(p, n);
	if (e < 0)
		return -1;
	size_t at = le32(p + e + 16);
	unsigned found = 0, found_xml = 0;
	/* Entries are read while their signature is there, not by the
	 * count the end record gives: a writer that got it wrong (or left
	 * it 0) still has its entries read. */
	for (unsigned k = 0; k < ZIP_MEMBERS_MAX; k++) {
		if (at > n || n - at < 46 || memcmp(p + at, "PK\x01\x02", 4) != 0)
			break;
		size_t nl = le16(p + at + 28), el = le16(p + at + 30), cl = le16(p + at + 32);
		if (n - at - 46 < nl)
			break;
		const char *name = (const char *)p + at + 46;
		int dir = nl > 0 && name[nl - 1] == '/';
		int xml = nl >= 4 && strncasecmp(name + nl - 4, ".xml", 4) == 0;
		int empty = le32(p + at + 20) == 0 && le32(p + at + 24) == 0;
		if (!dir && !empty && (!found || (xml && !found_xml))) {
			m->local_off = le32(p + at + 42);
			m->csize = le32(p + at + 20);
			found = 1;
			found_xml = (unsigned)xml;
		}
		at += 46 + nl + el + cl;
	}
	return found ? 0 : -2;
}

static int unzip_report(const uint8_t *p, size_t n, size_t max, uint8_t **out_r,
			size_t *outlen_r, char *err, size_t errsz)
{
	struct zip_member m = {0, 0};
	int picked = zip_pick(p, n, &m), central = picked == 0;
	if (picked == -2)
		return fail(err, errsz, "zip: no file in the archive");
	size_t lo = m.local_off;
	if (lo > n || n - lo < 30 || memcmp(p + lo, "PK\x03\x04", 4) != 0)
		return fail(err, errsz, "zip: truncated local header");
	const uint8_t *h = p + lo;
	uint16_t flags = le16(h + 6), method = le16(h + 8);
	uint32_t csize = central ? m.csize : le32(h + 18);
	size_t data = lo + 30 + (size_t)le16(h + 26) + le16(h + 28);
	if (flags & 0x1)
		return fail(err, errsz, "zip: encrypted");
	/* Sizes in a data descriptor (flag bit 3): the local header's are
	 * zero; only the central directory has them. */
	if ((flags & 0x8) && !central)
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
		return unzip_report(p, n, max, out_r, outlen_r, err, errsz);
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
