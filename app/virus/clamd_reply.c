/*
 * clamd_reply.c — reading clamd's answer to INSTREAM (clamd.h): where the
 * NUL-terminated reply ends, and what it says. The forms are clamd's
 * (clamd(8), "zINSTREAM"): "stream: OK", "stream: <name> FOUND", and any
 * line ending in "ERROR", of which "INSTREAM size limit exceeded. ERROR"
 * is told apart (StreamMaxLength). A line that is none of these is a bad
 * reply, never a clean one: only "OK" lets a message through.
 */
#include <string.h>

#include "virus/clamd.h"

static int ends_with(const char *p, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && memcmp(p + n - t, tail, t) == 0;
}

static int starts_with(const char *p, size_t n, const char *head)
{
	size_t h = strlen(head);
	return n >= h && memcmp(p, head, h) == 0;
}

/* p[0..n) into out as printable ASCII, cut to fit: it goes to logs. */
static void copy_printable(char *out, size_t outsz, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)p[i];
		out[o++] = c > ' ' && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	out[o] = '\0';
}

/* Line ends a reply may carry (clamd's newline forms, a peer's CR). */
static size_t trim_end(const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	return n;
}

void clamd_reply_parse(const char *p, size_t n, struct clamd_result *r)
{
	static const char stream[] = "stream: ";
	const size_t sl = sizeof stream - 1;

	memset(r, 0, sizeof *r);
	n = trim_end(p, n);
	if (n == sl + 2 && starts_with(p, n, stream) && ends_with(p, n, "OK")) {
		r->status = CLAMD_CLEAN;
		return;
	}
	if (starts_with(p, n, stream) && n > sl + 6 && ends_with(p, n, " FOUND")) {
		r->status = CLAMD_INFECTED;
		copy_printable(r->name, sizeof r->name, p + sl, n - sl - 6);
		return;
	}
	r->status = CLAMD_FAILED;
	copy_printable(r->name, sizeof r->name, p, n);
	if (ends_with(p, n, "ERROR"))
		r->why = memmem(p, n, "size limit exceeded", 19) ? "size_limit" : "error";
	else
		r->why = "bad_reply";
}

long clamd_reply_find(const char *in, size_t n)
{
	size_t look = n < CLAMD_REPLY_MAX ? n : CLAMD_REPLY_MAX;
	const char *nul = memchr(in, '\0', look);
	if (nul)
		return (long)(nul - in);
	return n < CLAMD_REPLY_MAX ? -2 : -1;
}
