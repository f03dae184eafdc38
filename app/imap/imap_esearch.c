/*
 * imap_esearch.c — RETURN options and the ESEARCH answer shared by SEARCH
 * (RFC 4731, RFC 9051) and SORT (ESORT, RFC 5267 §3), with PARTIAL
 * (RFC 9394) and SAVE (RFC 5182).
 *
 * Both commands hand over the matches as the client sees them (UIDs or
 * sequence numbers): ascending for SEARCH, in sort order for SORT. MIN
 * and MAX are the first and last of that order (RFC 5267 §3.2: "the
 * lowest/highest sorted message"), ALL and PARTIAL's set list the values
 * in that order with only ascending runs joined into ranges ("2,6,4:5"),
 * which for SEARCH is the shortest sequence-set. COUNT and MIN/MAX are
 * over every match, PARTIAL only over its positions.
 *
 * PARTIAL takes "a:b" (1-based positions) or "-a:-b" (counted from the
 * last match, RFC 9394 §3.1). RFC 9394 §3.1 answers with "the original
 * range": a negative range is echoed as the client wrote it ("-4:-2"
 * stays "-4:-2", "-1:-100" as in the RFC's example). A positive one is
 * answered smaller first ("2:4" for 4:2), as Dovecot answers and as
 * imaptest's search-partial and sort-partial scripts expect (RFC 5267's
 * PARTIAL, which 9394 extends, said nothing of the echo). PARTIAL with
 * ALL is refused with BAD, as Dovecot refuses it ("PARTIAL conflicts
 * with ALL").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_esearch.h"
#include "imap/imap_session.h"

/* One signed position: "-"? nz-number, at most 2^32-1. */
static int parse_pos(const char *p, size_t n, int *neg, uint32_t *v)
{
	uint64_t x = 0;

	*neg = n && p[0] == '-';
	if (*neg) {
		p++;
		n--;
	}
	if (n == 0 || n > 10 || p[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	if (x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int imap_partial_parse(struct str w, struct imap_partial *r)
{
	const char *colon = memchr(w.p, ':', w.len);
	int n1, n2;
	uint32_t a, b;

	if (!colon || parse_pos(w.p, (size_t)(colon - w.p), &n1, &a) < 0 ||
	    parse_pos(colon + 1, w.len - (size_t)(colon - w.p) - 1, &n2, &b) < 0 || n1 != n2)
		return -1;
	r->neg = n1;
	r->reversed = a > b;
	r->lo = a < b ? a : b;
	r->hi = a < b ? b : a;
	return 0;
}

void imap_partial_window(const struct imap_partial *p, size_t n, size_t *from_r, size_t *to_r)
{
	uint64_t from, to; /* 0-based, [from, to) */

	if (!p->neg) {
		from = p->lo - 1;
		to = p->hi;
	} else {
		/* -1 is the last match: -lo..-hi is [n-hi, n-lo+1) */
		from = p->hi >= n ? 0 : n - p->hi;
		to = p->lo > n ? 0 : n - p->lo + 1;
	}
	if (from > n)
		from = n;
	if (to > n)
		to = n;
	if (to < from)
		to = from;
	*from_r = (size_t)from;
	*to_r = (size_t)to;
}

int imap_return_parse(const struct imap_arg *list, size_t n, struct imap_return *r,
		      const char **why_r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &list[i];
		/* RFC 5267 §4.2: CONTEXT says the client will likely search the
		 * same way again; "Servers MAY ignore this return option". Alone,
		 * it leaves the list as empty as "RETURN ()": ALL. */
		if (imap_arg_atom_is(a, "CONTEXT"))
			continue;
		unsigned bit = imap_arg_atom_is(a, "MIN")       ? IMAP_RET_MIN
			       : imap_arg_atom_is(a, "MAX")     ? IMAP_RET_MAX
			       : imap_arg_atom_is(a, "ALL")     ? IMAP_RET_ALL
			       : imap_arg_atom_is(a, "COUNT")   ? IMAP_RET_COUNT
			       : imap_arg_atom_is(a, "SAVE")    ? IMAP_RET_SAVE
			       : imap_arg_atom_is(a, "PARTIAL") ? IMAP_RET_PARTIAL
			       : imap_arg_atom_is(a, "UPDATE")  ? IMAP_RET_UPDATE
								: 0;
		if (!bit) {
			*why_r = "Unknown RETURN option.";
			return -1;
		}
		if (bit == IMAP_RET_PARTIAL) {
			struct str w;
			if (r->opts & IMAP_RET_PARTIAL) {
				*why_r = "PARTIAL given twice.";
				return -1;
			}
			if (++i >= n || imap_arg_atom(&list[i], &w) < 0 ||
			    imap_partial_parse(w, &r->partial) < 0) {
				*why_r = "PARTIAL range broken.";
				return -1;
			}
		}
		r->opts |= bit;
	}
	if ((r->opts & IMAP_RET_PARTIAL) && (r->opts & IMAP_RET_ALL)) {
		*why_r = "PARTIAL conflicts with ALL.";
		return -1;
	}
	/* RFC 4731 §3.1: an empty list means ALL. */
	if (r->opts == 0)
		r->opts = IMAP_RET_ALL;
	return 0;
}

void imap_esearch_list(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (j > i)
			buf_printf(out, "%s%u:%u", i ? "," : "", v[i], v[j]);
		else
			buf_printf(out, "%s%u", i ? "," : "", v[i]);
		i = j + 1;
	}
}

void imap_esearch_append(struct buf *out, const char *tag, int uid, const struct imap_return *r,
			 const uint32_t *v, size_t n, int modseq, uint64_t high)
{
	unsigned ret = r->opts;

	buf_printf(out, "* ESEARCH (TAG \"%s\")%s", tag, uid ? " UID" : "");
	if (n && (ret & IMAP_RET_MIN))
		buf_printf(out, " MIN %u", v[0]);
	if (n && (ret & IMAP_RET_MAX))
		buf_printf(out, " MAX %u", v[n - 1]);
	if (ret & IMAP_RET_COUNT)
		buf_printf(out, " COUNT %zu", n);
	if (n && (ret & IMAP_RET_ALL)) {
		buf_append_c(out, " ALL ");
		imap_esearch_list(out, v, n);
	}
	if (ret & IMAP_RET_PARTIAL) {
		size_t from, to;
		imap_partial_window(&r->partial, n, &from, &to);
		const struct imap_partial *p = &r->partial;
		if (p->neg) /* as given (RFC 9394 §3.1, "the original range") */
			buf_printf(out, " PARTIAL (-%u:-%u ", p->reversed ? p->hi : p->lo,
				   p->reversed ? p->lo : p->hi);
		else
			buf_printf(out, " PARTIAL (%u:%u ", p->lo, p->hi);
		if (to > from)
			imap_esearch_list(out, v + from, to - from);
		else
			buf_append_c(out, "NIL");
		buf_append_c(out, ")");
	}
	if (modseq && n)
		buf_printf(out, " MODSEQ %llu", (unsigned long long)high);
	buf_append_c(out, "\r\n");
}

uint64_t imap_return_modseq(const struct imap_mailbox_view *view, int esearch,
			    const struct imap_return *r, const uint32_t *hits, size_t n)
{
	unsigned ret = r->opts;
	int some = esearch && (ret & (IMAP_RET_MIN | IMAP_RET_MAX | IMAP_RET_PARTIAL)) &&
		   !(ret & (IMAP_RET_ALL | IMAP_RET_COUNT));
	size_t from = 0, to = 0;
	uint64_t high = 0;

	if (some && (ret & IMAP_RET_PARTIAL))
		imap_partial_window(&r->partial, n, &from, &to);
	for (size_t i = 0; i < n; i++) {
		if (some && !((ret & IMAP_RET_MIN) && i == 0) && !((ret & IMAP_RET_MAX) && i == n - 1) &&
		    !(i >= from && i < to))
			continue;
		if (view->msgs[hits[i] - 1].modseq > high)
			high = view->msgs[hits[i] - 1].modseq;
	}
	return high;
}

size_t imap_return_saved(const struct imap_return *r, uint32_t *u, size_t n)
{
	unsigned ret = r->opts;

	if (!n || (ret & (IMAP_RET_ALL | IMAP_RET_COUNT)))
		return n;
	if (ret & IMAP_RET_PARTIAL) {
		/* RFC 9394 §3.1: SAVE with PARTIAL keeps the returned ones
		 * (with MIN or MAX too, those are kept as well). */
		size_t from, to, k = 0;
		uint32_t lo = u[0], hi = u[n - 1];
		imap_partial_window(&r->partial, n, &from, &to);
		memmove(u, u + from, (to - from) * sizeof(*u));
		k = to - from;
		if ((ret & IMAP_RET_MIN) && (k == 0 || u[0] != lo)) {
			memmove(u + 1, u, k * sizeof(*u));
			u[0] = lo;
			k++;
		}
		if ((ret & IMAP_RET_MAX) && (k == 0 || u[k - 1] != hi))
			u[k++] = hi;
		return k;
	}
	if (ret & (IMAP_RET_MIN | IMAP_RET_MAX)) {
		/* RFC 5182 §2.4: only what MIN and MAX return. */
		uint32_t lo = u[0], hi = u[n - 1];
		size_t k = 0;
		if (ret & IMAP_RET_MIN)
			u[k++] = lo;
		if ((ret & IMAP_RET_MAX) && !(k && hi == lo))
			u[k++] = hi;
		return k;
	}
	return n;
}
