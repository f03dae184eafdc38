/*
 * fuzz_dsn.c — delivery status notices built from hostile facts: the
 * sender, ENVID, every recipient's address, ORCPT, status text and remote
 * host as a peer could have put them into the queue record, and an
 * arbitrary original message. The first octet picks the action, RET and
 * the recipient count; the input, cut at NUL octets, gives the strings and
 * its rest the message. Checks: every LF of the notice follows a CR; the
 * two report parts hold no control octet but CRLF and tab; one Action and
 * one Status line per recipient, the status an enhanced code whose class
 * agrees with the action; a notice naming no UTF-8 address is 7 bit
 * throughout (an 8-bit original returns converted, RFC 6152), a global
 * one's header declares 8bit, and its returned part does exactly when
 * the returned octets have one; the
 * close delimiter last; the notice parses as a
 * multipart/report of three parts, whatever the returned message holds
 * (the boundary carries a hash of it); and a buffer of exactly the notice's size suffices while one
 * octet less fails cleanly.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_tree.h"
#include "queue/dsn.h"
#include "store/store_queue.h"

#define HOST "mx.example.org"

/* The next string, cut to max octets: the queue record keeps no more
 * of it (store_queue.h), and a longer one made dsn_build fail on input
 * the queue can never give it (an 8 KiB remote host name). */
static const char *next(char **p, char *end, size_t max)
{
	char *s = *p;
	if (*p >= end)
		return "";
	*p += strlen(*p) + 1;
	if (strlen(s) > max)
		s[max] = '\0';
	return s;
}

static size_t count(const char *h, size_t n, const char *needle)
{
	size_t c = 0, k = strlen(needle);
	for (const char *p = h; (p = memmem(p, n - (size_t)(p - h), needle, k)) != NULL; p += k)
		c++;
	return c;
}

/* What dsn.c should return for RET=HDRS: through the first empty line
 * (LF LF or LF CR LF, whichever comes first), else all. Written apart
 * from dsn.c's scan, so that a slip in that one shows here. */
static size_t header_len(const char *p, size_t n)
{
	const char *lf = memmem(p, n, "\n\n", 2), *crlf = memmem(p, n, "\n\r\n", 3);

	if (lf && (!crlf || lf < crlf))
		return (size_t)(lf - p) + 2;
	return crlf ? (size_t)(crlf - p) + 3 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const actions[] = { "failed", "delayed", "delivered", "relayed" };
	struct dsn_rcpt r[4];
	struct dsn_info in = { .hostname = HOST, .arrival = 1700000000, .now = 1700003600,
			       .id = 42 };
	char *copy, *p, *end, boundary[128], tail[160];
	struct buf b, exact;

	if (size < 1)
		return 0;
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	p = copy + 1;
	end = copy + size;
	enum dsn_action act = (enum dsn_action)(data[0] & 3);
	in.ret_full = data[0] >> 2 & 1;
	in.nrcpts = (size_t)(data[0] >> 3 & 3) + 1;
	in.retry_until = data[0] & 0x20 ? 1700400000 : 0;
	in.to = next(&p, end, SQ_ADDR_MAX);
	in.envid = next(&p, end, SQ_ENVID_MAX);
	for (size_t i = 0; i < in.nrcpts; i++) {
		r[i].addr = next(&p, end, SQ_ADDR_MAX);
		r[i].orcpt = next(&p, end, SQ_ORCPT_MAX);
		r[i].status = next(&p, end, SQ_STATUS_MAX);
		r[i].remote = next(&p, end, 255); /* store_queue.c keeps 255 */
		r[i].action = act;
		r[i].attempted = data[0] & 0x40 ? 1700003000 : 0;
	}
	in.rcpts = r;
	in.msg = p < end ? p : end;
	in.msglen = (size_t)(end - in.msg);

	buf_init(&b, 4 * size + 65536); /* quoted-printable may triple the original */
	assert(dsn_build(&in, &b) == 0);
	const char *o = buf_data(&b);
	size_t n = buf_len(&b);

	for (size_t i = 0; i < n; i++)
		if (o[i] == '\n')
			assert(i > 0 && o[i - 1] == '\r');
	/* The boundary, from the header: id, time, a hash of the returned
	 * octets, host. */
	/* "report-type=delivery-status" or, for a global notice (a UTF-8
	 * address), "report-type=global-delivery-status" (RFC 6533 §6.4). */
	static const char ct[] = "delivery-status;\r\n\tboundary=\"";
	const char *bq = memmem(o, n, ct, sizeof ct - 1); /* inputs hold no CR */
	assert(bq);
	const char *rtype = bq;
	bq += sizeof ct - 1;
	const char *be = memchr(bq, '"', n - (size_t)(bq - o));
	assert(be && (size_t)(be - bq) < sizeof(boundary));
	memcpy(boundary, bq, (size_t)(be - bq));
	boundary[be - bq] = '\0';
	assert(strncmp(boundary, "42.1700003600.", 14) == 0 && strlen(boundary) == 14 + 16 + 1 + strlen(HOST));
	int tl = snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", boundary);
	assert(n >= (size_t)tl && memcmp(o + n - tl, tail, (size_t)tl) == 0);

	/* The two report parts: from the top to the third part's delimiter. */
	char third[sizeof(boundary) + 40];
	snprintf(third, sizeof(third), "--%s\r\nContent-Description: ", boundary);
	const char *t3 = o;
	for (int k = 0; k < 3; k++) { /* the third delimiter line */
		if (k)
			t3++;
		t3 = memmem(t3, n - (size_t)(t3 - o), third, strlen(third));
		assert(t3);
	}
	size_t rep = (size_t)(t3 - o);
	for (size_t i = 0; i < rep; i++) {
		unsigned char c = (unsigned char)o[i];
		assert(c >= 0x20 || c == '\t' || (c == '\r' && o[i + 1] == '\n') || c == '\n');
		assert(c != 0x7f);
	}
	char al[32];
	snprintf(al, sizeof(al), "\r\nAction: %s\r\nStatus: ", actions[act]);
	assert(count(o, rep, "\r\nAction: ") == in.nrcpts && count(o, rep, al) == in.nrcpts);
	/* Last-Attempt-Date only with the time of an attempt. */
	assert(count(o, rep, "\r\nLast-Attempt-Date: ") == (data[0] & 0x40 ? in.nrcpts : 0));
	for (const char *s = o; (s = memmem(s, rep - (size_t)(s - o), al, strlen(al))) != NULL;) {
		s += strlen(al);
		char cls = act == DSN_FAILED ? '5' : act == DSN_DELAYED ? '4' : '2';
		size_t k = 0, dots = 0;
		assert(s[0] == cls && s[1] == '.');
		for (k = 2; s[k] != '\r'; k++) {
			assert((s[k] >= '0' && s[k] <= '9') || s[k] == '.');
			dots += s[k] == '.';
		}
		assert(dots == 1 && s[2] != '.' && s[k - 1] != '.' && k <= 9);
	}

	/* The returned part's 8bit declaration: only in a global notice (a
	 * UTF-8 address), else every octet is 7 bit. */
	int global = 0;
	for (const char *c = in.to; *c; c++)
		global |= (unsigned char)*c >= 0x80;
	for (size_t i = 0; i < in.nrcpts; i++) {
		for (const char *c = r[i].addr; *c; c++)
			global |= (unsigned char)*c >= 0x80;
		for (const char *c = r[i].orcpt; *c; c++)
			global |= (unsigned char)*c >= 0x80;
	}
	assert((rtype - o >= 19 && memcmp(rtype - 19, "report-type=global-", 19) == 0) == global);
	assert(global || (rtype - o >= 12 && memcmp(rtype - 12, "report-type=", 12) == 0));
	/* The multipart says 8bit exactly when it is global (RFC 2045 §6.4:
	 * its 8bit parts make it 8bit). */
	const char *top_end = memmem(o, n, "\r\n\r\n", 4);
	assert(top_end);
	assert((memmem(o, (size_t)(top_end - o) + 2, "\r\nContent-Transfer-Encoding: 8bit\r\n", 35) !=
		NULL) == global);
	/* What comes back: the message under RET=FULL in a failure notice, up
	 * to DSN_RETURN_MAX, else its header. */
	size_t ret = in.ret_full && act == DSN_FAILED && in.msglen <= DSN_RETURN_MAX
			     ? in.msglen
			     : header_len(in.msg, in.msglen);
	int eight = 0;
	for (size_t i = 0; i < ret; i++)
		eight |= (unsigned char)in.msg[i] >= 0x80;
	const char *hdr_end = memmem(t3, n - rep, "\r\n\r\n", 4);
	assert(hdr_end);
	assert((memmem(t3, (size_t)(hdr_end - t3), "Content-Transfer-Encoding: 8bit", 31) != NULL) ==
	       (global && eight));
	for (size_t i = 0; !global && i < n; i++)
		assert((unsigned char)o[i] < 0x80);

	/* MIME structure: whatever the returned message holds, it cannot
	 * hold the boundary, which depends on its own octets. */
	assert(!memmem(o + (t3 - o) + strlen(third), n - rep - strlen(third) - (size_t)tl,
		       boundary, strlen(boundary)));
	struct arena *a = arena_new(0);
	struct mime_tree t;
	mime_tree_parse(o, n, a, &t);
	assert(t.parts[0].flags & MIME_PART_MULTIPART);
	assert(str_eq_ci_c(t.parts[0].subtype, "report") && t.parts[0].nchildren == 3);
	assert(str_eq_ci_c(t.parts[2].subtype,
			   global ? "global-delivery-status" : "delivery-status"));
	arena_free(&a);

	/* Exactly enough room, then one octet too little. */
	buf_init(&exact, n);
	assert(dsn_build(&in, &exact) == 0 && buf_len(&exact) == n);
	assert(memcmp(buf_data(&exact), o, n) == 0);
	buf_free(&exact);
	buf_init(&exact, n - 1);
	assert(dsn_build(&in, &exact) == -1);
	buf_free(&exact);

	buf_free(&b);
	free(copy);
	return 0;
}
