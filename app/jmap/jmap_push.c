/*
 * jmap_push.c — what a push says (RFC 8620 §7.1): which types' states
 * changed in an account since the state last pushed, read from the one
 * change log IMAP's CONDSTORE and /changes use, and the StateChange
 * object that tells it. The transports (EventSource and WebSocket on the
 * HTTP loops, app/http/http_push.c) call these on every change-feed
 * notification; nothing here knows how the bytes travel.
 *
 * Types and states: every type's state is the account's modseq (jmap.h),
 * so a StateChange names only the types whose objects changed, each with
 * the modseq of the last change seen. An email's change also changes its
 * mailboxes' counts (Mailbox state) and its thread (Thread state); a new
 * email is an EmailDelivery too (RFC 8621 §1.5: clients alert on it).
 */
#include <stdio.h>
#include <string.h>

#include "jmap/jmap_private.h"
#include "store/store.h"

/* A long gap (a client's Last-Event-ID from long ago) is not walked
 * further than this: past it every type is taken as changed. */
#define WALK_MAX 100000

static const struct {
	const char *name;
	unsigned bit;
} types[] = {
    {"Mailbox", JMAP_TYPE_MAILBOX},
    {"Email", JMAP_TYPE_EMAIL},
    {"Thread", JMAP_TYPE_THREAD},
    {"EmailDelivery", JMAP_TYPE_EMAIL_DELIVERY},
};

unsigned jmap_push_types(const char *s)
{
	unsigned mask = 0;

	if (!strcmp(s, "*"))
		return JMAP_TYPES_ALL;
	while (*s) {
		size_t n = strcspn(s, ",");
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strlen(types[i].name) == n && !memcmp(types[i].name, s, n))
				mask |= types[i].bit;
		s += n;
		if (*s == ',')
			s++;
	}
	return mask;
}

struct walk {
	unsigned mask;
	uint64_t upto;
	size_t n;
};

static int walk_cb(void *arg, const struct store_change *c)
{
	struct walk *w = arg;

	switch (c->kind) {
	case STORE_CHANGE_EMAIL_CREATED:
		w->mask |= JMAP_TYPE_EMAIL_DELIVERY;
		/* fall through */
	case STORE_CHANGE_EMAIL_UPDATED:
	case STORE_CHANGE_EMAIL_DESTROYED:
		w->mask |= JMAP_TYPE_EMAIL | JMAP_TYPE_THREAD | JMAP_TYPE_MAILBOX;
		break;
	case STORE_CHANGE_EMAIL_THREAD:
		w->mask |= JMAP_TYPE_THREAD;
		break;
	default:
		w->mask |= JMAP_TYPE_MAILBOX;
		break;
	}
	if (c->modseq > w->upto)
		w->upto = c->modseq;
	if (++w->n >= WALK_MAX) {
		w->mask = JMAP_TYPES_ALL;
		return 1;
	}
	return 0;
}

int jmap_push_changed(struct store *st, uint32_t account, uint64_t since, unsigned *types_r,
		      uint64_t *upto_r)
{
	struct walk w = {0, since, 0};
	uint64_t floor;

	*types_r = 0;
	*upto_r = since;
	if (store_changes_floor(st, account, &floor) != STORE_OK)
		return -1;
	if (since < floor) {
		/* A state from before a restore (store_restore.c): the log does
		 * not say what changed since, so everything may have. */
		w.n = WALK_MAX;
		w.mask = JMAP_TYPES_ALL;
	} else if (store_changes_since(st, account, since, walk_cb, &w) != STORE_OK) {
		return -1;
	}
	if (w.n >= WALK_MAX) {
		/* Stopped early: the state to tell is the account's now. */
		uint64_t ms;
		if (store_account_modseq(st, account, &ms) != STORE_OK)
			return -1;
		if (ms > w.upto)
			w.upto = ms;
	}
	*types_r = w.mask;
	*upto_r = w.upto;
	return 0;
}

void jmap_push_state_change(struct buf *out, uint32_t account, unsigned mask, uint64_t modseq,
			    int with_push_state)
{
	struct jw w;
	char acc[16], state[24];

	snprintf(acc, sizeof acc, "A%08x", account);
	snprintf(state, sizeof state, "%llu", (unsigned long long)modseq);
	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kstr(&w, "@type", "StateChange");
	jw_key(&w, "changed");
	jw_obj_begin(&w);
	jw_key(&w, acc);
	jw_obj_begin(&w);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (mask & types[i].bit)
			jw_kstr(&w, types[i].name, state);
	jw_obj_end(&w);
	jw_obj_end(&w);
	if (with_push_state)
		jw_kstr(&w, "pushState", state);
	jw_obj_end(&w);
}
