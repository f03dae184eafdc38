/*
 * dkim_bodies.c — the body hashers one message's verifiers share (dkim.h).
 *
 * DKIM's verifier and ARC's each read the whole message and hash its body
 * once per (canonicalization, l=) their signatures name. A message that
 * passed through a mailing list or a forwarder carries both kinds, nearly
 * always relaxed with no l=: the same hash twice. Sharing the hashers
 * makes it once; the verifiers keep feeding as before, and the set decides
 * by counting who has had which octets.
 */
#include <string.h>

#include "dkim/dkim.h"

void dkim_bodies_init(struct dkim_bodies *s)
{
	s->n = 0;
}

int dkim_bodies_want(struct dkim_bodies *s, int simple, uint64_t limit)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->b[i].simple == (simple != 0) && s->b[i].limit == limit)
			return (int)i;
	if (s->n == DKIM_BODIES_MAX)
		return -1;
	struct dkim_body *b = &s->b[s->n];
	if (simple)
		dkim_body_init_simple(b);
	else
		dkim_body_init(b);
	b->limit = limit;
	s->fed[s->n] = 0;
	s->done[s->n] = 0;
	return (int)s->n++;
}

void dkim_bodies_feed(struct dkim_bodies *s, uint64_t at, const void *p, size_t n)
{
	const char *c = p;

	for (size_t i = 0; i < s->n; i++) {
		/* A hasher only ever extends its run: one ahead of this feed
		 * (another verifier's) has these octets; one behind it (made
		 * after this verifier began) gets them from its own maker. */
		if (s->done[i] || s->fed[i] < at || s->fed[i] >= at + n)
			continue;
		size_t skip = (size_t)(s->fed[i] - at);
		dkim_body_update(&s->b[i], c + skip, n - skip);
		s->fed[i] = at + n;
	}
}

const uint8_t *dkim_bodies_hash(struct dkim_bodies *s, int i)
{
	if (!s->done[i]) {
		dkim_body_final(&s->b[i], s->hash[i]);
		s->done[i] = 1;
	}
	return s->hash[i];
}
