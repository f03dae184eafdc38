/*
 * der_w.c — the DER writer. See der_w.h.
 */
#include "net/der_w.h"

#include <string.h>


void dw_bytes(struct der_w *w, const void *p, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void dw_byte(struct der_w *w, unsigned char c)
{
	dw_bytes(w, &c, 1);
}

/* DER length octets for n into out; returns how many. */
static size_t len_octets(size_t n, unsigned char out[9])
{
	size_t k = 0, i;

	if (n < 0x80) {
		out[0] = (unsigned char)n;
		return 1;
	}
	for (i = n; i > 0; i >>= 8)
		k++;
	out[0] = (unsigned char)(0x80 | k);
	for (i = 0; i < k; i++)
		out[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
	return k + 1;
}

void dw_prim(struct der_w *w, unsigned char tag, const void *p, size_t n)
{
	unsigned char l[9];

	dw_byte(w, tag);
	dw_bytes(w, l, len_octets(n, l));
	dw_bytes(w, p, n);
}

void dw_begin(struct der_w *w, unsigned char tag)
{
	dw_byte(w, tag);
	if (w->depth == DER_DEPTH) {
		w->bad = 1;
		return;
	}
	w->open[w->depth++] = w->len;
}

void dw_end(struct der_w *w)
{
	unsigned char l[9];
	size_t start, clen, k;

	if (w->depth == 0)
		w->bad = 1;
	if (w->bad)
		return;
	start = w->open[--w->depth];
	clen = w->len - start;
	k = len_octets(clen, l);
	if (k > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memmove(w->buf + start + k, w->buf + start, clen);
	memcpy(w->buf + start, l, k);
	w->len += k;
}

