/*
 * fuzz_http_stream.c — the bridge's request stream (http_stream_feed:
 * each pipelined request's header checked, its body skipped by its
 * framing). The first byte picks a piece size; fed whole, one octet at a
 * time and in those pieces, the events and their offsets are the same;
 * no call takes more than it was given or returns past an event; a
 * refusal is 400, 414 or 431 and ends the stream; a stop takes nothing; a
 * header ends at an LF. Cut at a point where the stream is between
 * requests, the rest fed to a fresh stream gives the same events,
 * shifted: each request is judged on its own.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http_parse.h"

#define EVENTS_MAX 4096

struct trace {
	size_t n;
	size_t at[EVENTS_MAX];
	int ev[EVENTS_MAX];
	size_t first_gap;  /* the first offset after a request's end, or 0 */
	size_t gap_events; /* events up to it */
};

static void feed(const uint8_t *p, size_t n, size_t step, struct trace *t)
{
	struct http_stream s;
	http_stream_init(&s);
	t->n = 0;
	t->first_gap = 0;
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		for (size_t used = 0; used < k;) {
			int ev;
			size_t got =
			    http_stream_feed(&s, (const char *)p + off + used, k - used, &ev);
			assert(got <= k - used);
			used += got;
			if (ev == HTTP_STREAM_MORE) {
				assert(used == k);
				continue;
			}
			assert(ev == HTTP_STREAM_HEAD_END || ev == HTTP_STREAM_BODY_END ||
			       ev == HTTP_STREAM_STOP || ev == 400 || ev == 414 || ev == 431);
			if (ev == HTTP_STREAM_HEAD_END)
				assert(got > 0 && p[off + used - 1] == '\n');
			if (ev == HTTP_STREAM_BODY_END)
				assert(got > 0);
			if (ev == HTTP_STREAM_STOP)
				assert(got == 0);
			if (t->n < EVENTS_MAX) {
				t->at[t->n] = off + used;
				t->ev[t->n++] = ev;
			}
			if (!t->first_gap && http_stream_at_start(&s) && off + used < n) {
				t->first_gap = off + used;
				t->gap_events = t->n;
			}
			if (ev == HTTP_STREAM_STOP || ev >= 400) {
				/* It stays so. */
				int again;
				assert(http_stream_feed(&s, (const char *)p + off + used,
				                        n - off - used, &again) == 0 ||
				       off + used == n);
				return;
			}
		}
	}
}

static int same(const struct trace *a, const struct trace *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->at[i] != b->at[i] || a->ev[i] != b->ev[i])
			return 0;
	return 1;
}

static struct trace whole, bytes, pieces, rest;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 64;
	data++;
	size--;
	feed(data, size, size ? size : 1, &whole);
	feed(data, size, 1, &bytes);
	feed(data, size, step, &pieces);
	assert(same(&whole, &bytes) && same(&whole, &pieces));
	if (whole.first_gap) {
		size_t cut = whole.first_gap, i = whole.gap_events;
		feed(data + cut, size - cut, size - cut, &rest);
		assert(rest.n == whole.n - i);
		for (size_t j = 0; j < rest.n; j++)
			assert(rest.at[j] + cut == whole.at[i + j] &&
			       rest.ev[j] == whole.ev[i + j]);
	}
	return 0;
}
