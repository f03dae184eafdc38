/*
 * spam_sent.c — Message-IDs of sent mail, and replies to them
 * (spam_sent.h).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "spam/spam_private.h"
#include "spam/spam_sent.h"
#include "store/store.h"

#define SWEEP_MAX 2000 /* records a sweep reads */

size_t spam_sent_ids(const char *msg, size_t len, const char *name, char (*ids)[256], size_t max)
{
	size_t n = 0, nl = strlen(name), i = 0;
	int in = 0;
	while (i < len && n < max) {
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t e = eol ? (size_t)(eol - msg) : len, l = e - i;
		if (l == 0 || (l == 1 && msg[i] == '\r'))
			break; /* the end of the header section */
		if (msg[i] != ' ' && msg[i] != '\t')
			in = l > nl && strncasecmp(msg + i, name, nl) == 0 && msg[i + nl] == ':';
		if (in) {
			for (size_t k = i; k < e && n < max; k++) {
				if (msg[k] != '<')
					continue;
				const char *close = memchr(msg + k, '>', e - k);
				if (!close)
					break;
				size_t idl = (size_t)(close - msg) - k - 1;
				if (idl > 0 && idl < sizeof ids[0]) {
					memcpy(ids[n], msg + k + 1, idl);
					ids[n++][idl] = '\0';
				}
				k = (size_t)(close - msg);
			}
		}
		i = e + 1;
	}
	return n;
}

static void key(uint32_t account, const char *id, char out[SPAM_SENT_NAME_MAX])
{
	uint8_t a[4] = {(uint8_t)(account >> 24), (uint8_t)(account >> 16), (uint8_t)(account >> 8),
			(uint8_t)account};
	uint8_t h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, a, sizeof a);
	crypto_generichash_update(&st, (const uint8_t *)id, strlen(id));
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(out, "sentid/", 7);
	hex_encode(out + 7, h, sizeof h);
}

static void be64(uint8_t *p, int64_t x)
{
	uint64_t v = (uint64_t)x;
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static int sent_expired(const void *val, size_t len, int64_t now)
{
	return len != 8 || get64(val) <= now;
}

size_t spam_sent_sweep(struct store *st, int64_t now, size_t visit)
{
	static struct spam_sweeper sw = {"sentid/", SPAM_SENT_NAME_MAX, sent_expired,
	                                 PTHREAD_MUTEX_INITIALIZER, ""};
	return spam_sweep(st, &sw, now, visit);
}

/* The sweep every SPAM_SENT_SWEEP_EVERY notes, on the worker pool. */
struct sweep_job {
	struct worker_job wj;
	struct store *st;
};

static void sweep_run(void *arg)
{
	struct sweep_job *j = arg;
	spam_sent_sweep(j->st, time_wall(), SWEEP_MAX);
}

static void sweep_done(void *arg)
{
	free(arg);
}

int spam_sent_note_make(struct spam_sent_note *n, uint32_t account, const char *a, size_t alen,
			const char *b, size_t blen)
{
	char ids[1][256];
	if (spam_sent_ids(a, alen, "Message-ID", ids, 1) == 0 &&
	    spam_sent_ids(b, blen, "Message-ID", ids, 1) == 0)
		return 0;
	key(account, ids[0], n->name);
	be64(n->expires, time_wall() + SPAM_SENT_TTL);
	return 1;
}

int spam_sent_note_txn(struct store *st, void *txn, void *arg)
{
	const struct spam_sent_note *n = arg;
	return store_meta_put_txn(st, txn, n->name, n->expires, sizeof n->expires);
}

void spam_sent_noted(struct store *st)
{
	static unsigned notes;
	if (__atomic_add_fetch(&notes, 1, __ATOMIC_RELAXED) % SPAM_SENT_SWEEP_EVERY)
		return;
	if (!worker_pool_running()) {
		spam_sent_sweep(st, time_wall(), SWEEP_MAX);
		return;
	}
	struct sweep_job *j = xcalloc(1, sizeof *j);
	j->st = st;
	j->wj.fn = sweep_run;
	j->wj.done = sweep_done;
	j->wj.arg = j;
	worker_submit(&j->wj);
}

int spam_sent_is_reply(struct store *st, uint32_t account, const char *msg, size_t len)
{
	char (*ids)[256] = xmalloc(SPAM_SENT_REFS_MAX * sizeof *ids);
	size_t n = spam_sent_ids(msg, len, "In-Reply-To", ids, SPAM_SENT_REFS_MAX);
	n += spam_sent_ids(msg, len, "References", ids + n, SPAM_SENT_REFS_MAX - n);
	int64_t now = time_wall();
	int hit = 0;
	for (size_t i = 0; i < n && !hit; i++) {
		char name[SPAM_SENT_NAME_MAX];
		uint8_t v[8];
		size_t vl = 0;
		key(account, ids[i], name);
		hit = store_meta_get(st, name, v, sizeof v, &vl) == STORE_OK && vl == 8 && get64(v) > now;
	}
	free(ids);
	return hit;
}
