/*
 * spam_zip.c — the names in a ZIP archive, to find executables packed
 * where a filter looking at attachment names would not see them
 * (spam_private.h). Only local file headers are walked (signature, then
 * the fixed 30-octet header, the name, the extra field and the stored
 * size when known); nothing is decompressed. Every length is checked
 * against the bytes there are, so a damaged archive ends the walk.
 */
#include <string.h>

#include "spam/spam_private.h"

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

int spam_zip_has_exec(const unsigned char *zip, size_t n)
{
	size_t off = 0;
	for (int files = 0; files < 1000 && off + 30 <= n; files++) {
		const unsigned char *h = zip + off;
		if (memcmp(h, "PK\x03\x04", 4) != 0)
			break;
		unsigned flags = le16(h + 6);
		uint32_t csize = spam_le32(h + 18);
		size_t nlen = le16(h + 26), xlen = le16(h + 28);
		if (off + 30 + nlen > n)
			break;
		if (spam_name_is_exec(str_make((const char *)h + 30, nlen)))
			return 1;
		if (flags & 0x08)
			break; /* size only after the data: stop rather than search */
		size_t next = off + 30 + nlen + xlen + (size_t)csize;
		if (next <= off || next > n)
			break;
		off = next;
	}
	return 0;
}
