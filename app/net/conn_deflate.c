/*
 * conn_deflate.c — the raw DEFLATE layer of a connection. See
 * conn_deflate.h.
 */
#include "net/conn_deflate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xalloc.h"

/* Compressor: 8 KiB window, memLevel 6 (zlib: (1 << (wbits + 2)) +
 * (1 << (memLevel + 9)) octets, plus its state). */
#define DEFLATE_WBITS 13
#define DEFLATE_MEMLEVEL 6

struct conn_deflate {
	z_stream din, dout;
	int din_ok, dout_ok;
	int flushing; /* a sync flush did not fit in wbuf yet */
	size_t raw;   /* plaintext octets still to pass uncompressed */
	size_t zmem;  /* zlib's allocations, against CONN_DEFLATE_ZMEM_MAX */
	struct buf rbuf, wbuf;
	unsigned long long zin, plain_in, plain_out, zout;
};

/* zlib's allocations carry their size in front, so that the free hook
 * can give it back to the connection's count. */
static voidpf zalloc_hook(voidpf opaque, uInt items, uInt size)
{
	struct conn_deflate *z = opaque;
	size_t n = (size_t)items * size;

	if (size && n / size != items)
		return Z_NULL;
	if (z->zmem + n + 16 > CONN_DEFLATE_ZMEM_MAX)
		return Z_NULL;
	size_t *p = malloc(n + 16);
	if (!p)
		return Z_NULL;
	p[0] = n + 16;
	z->zmem += n + 16;
	return (char *)p + 16;
}

static void zfree_hook(voidpf opaque, voidpf address)
{
	struct conn_deflate *z = opaque;
	if (!address)
		return;
	size_t *p = (size_t *)(void *)((char *)address - 16);
	z->zmem -= p[0];
	free(p);
}

struct conn_deflate *conn_deflate_new(void)
{
	struct conn_deflate *z = xcalloc(1, sizeof(*z));

	z->din.zalloc = z->dout.zalloc = zalloc_hook;
	z->din.zfree = z->dout.zfree = zfree_hook;
	z->din.opaque = z->dout.opaque = z;
	/* Negative window bits: raw DEFLATE, no zlib header (RFC 4978 §4). */
	z->din_ok = inflateInit2(&z->din, -15) == Z_OK;
	z->dout_ok = z->din_ok && deflateInit2(&z->dout, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
					       -DEFLATE_WBITS, DEFLATE_MEMLEVEL,
					       Z_DEFAULT_STRATEGY) == Z_OK;
	buf_init(&z->rbuf, CONN_DEFLATE_BUF);
	buf_init(&z->wbuf, CONN_DEFLATE_BUF);
	if (!z->dout_ok) {
		conn_deflate_free(&z);
		return NULL;
	}
	return z;
}

void conn_deflate_free(struct conn_deflate **zp)
{
	struct conn_deflate *z = *zp;
	if (!z)
		return;
	if (z->din_ok)
		inflateEnd(&z->din);
	if (z->dout_ok)
		deflateEnd(&z->dout);
	buf_free(&z->rbuf);
	buf_free(&z->wbuf);
	free(z);
	*zp = NULL;
}

struct buf *conn_deflate_rbuf(struct conn_deflate *z) { return &z->rbuf; }
struct buf *conn_deflate_wbuf(struct conn_deflate *z) { return &z->wbuf; }

int conn_deflate_in(struct conn_deflate *z, struct buf *plain)
{
	int grew = 0;

	while (buf_len(&z->rbuf) > 0 && buf_room(plain) > 0) {
		size_t avail, want = buf_room(plain) < 16384 ? buf_room(plain) : 16384;
		char *dst = buf_reserve(plain, want, &avail);
		if (!dst)
			return -1;
		if (avail > want)
			avail = want;
		z->din.next_in = (Bytef *)(void *)buf_data(&z->rbuf);
		z->din.avail_in = (uInt)buf_len(&z->rbuf);
		z->din.next_out = (Bytef *)dst;
		z->din.avail_out = (uInt)avail;
		int r = inflate(&z->din, Z_SYNC_FLUSH);
		size_t used = buf_len(&z->rbuf) - z->din.avail_in;
		size_t made = avail - z->din.avail_out;
		buf_consume(&z->rbuf, used);
		buf_commit(plain, made);
		z->zin += used;
		z->plain_in += made;
		grew |= made > 0;
		/* Z_STREAM_END: the peer ended its stream; nothing may follow. */
		if (r == Z_STREAM_END && buf_len(&z->rbuf) > 0)
			return -1;
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
			return -1;
		if (used == 0 && made == 0)
			break;
	}
	return grew;
}

void conn_deflate_raw(struct conn_deflate *z, size_t n)
{
	z->raw = n;
}

int conn_deflate_out(struct conn_deflate *z, struct buf *plain)
{
	while (z->raw && buf_len(plain) && buf_room(&z->wbuf)) {
		/* The reply to COMPRESS itself, still in clear. */
		size_t n = z->raw;
		if (n > buf_len(plain))
			n = buf_len(plain);
		if (n > buf_room(&z->wbuf))
			n = buf_room(&z->wbuf);
		if (buf_append(&z->wbuf, buf_data(plain), n) < 0)
			return -1;
		buf_consume(plain, n);
		z->raw -= n;
	}
	if (z->raw)
		return 0;
	while ((buf_len(plain) > 0 || z->flushing) && buf_room(&z->wbuf) > 0) {
		size_t avail, want = buf_room(&z->wbuf) < 16384 ? buf_room(&z->wbuf) : 16384;
		char *dst = buf_reserve(&z->wbuf, want, &avail);
		if (!dst)
			return -1;
		if (avail > want)
			avail = want;
		z->dout.next_in = (Bytef *)(void *)buf_data(plain);
		z->dout.avail_in = (uInt)buf_len(plain);
		z->dout.next_out = (Bytef *)dst;
		z->dout.avail_out = (uInt)avail;
		/* Everything queued goes out with a sync flush: the peer can
		 * read each response without waiting for more. */
		int r = deflate(&z->dout, Z_SYNC_FLUSH);
		size_t used = buf_len(plain) - z->dout.avail_in;
		size_t made = avail - z->dout.avail_out;
		buf_consume(plain, used);
		buf_commit(&z->wbuf, made);
		z->plain_out += used;
		z->zout += made;
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;
		/* Output space left over means the flush is complete. */
		z->flushing = z->dout.avail_out == 0;
		if (used == 0 && made == 0)
			break;
	}
	return 0;
}

int conn_deflate_pending(const struct conn_deflate *z)
{
	return buf_len(&z->wbuf) > 0 || z->flushing;
}

void conn_deflate_counts(const struct conn_deflate *z, unsigned long long *zin,
			 unsigned long long *plain_in, unsigned long long *plain_out,
			 unsigned long long *zout)
{
	*zin = z->zin;
	*plain_in = z->plain_in;
	*plain_out = z->plain_out;
	*zout = z->zout;
}
