/*
 * jmap_push.c — what a push says (RFC 8620 §7.1): which types' states
 * changed in an account since the state last pushed, read from the one
 * change log IMAP's CONDSTORE and /changes use, and the StateChange
 * object that tells it. The transports (EventSource and WebSocket on the
 * HTTP loops, app/http/http_push.c) call these on every change-feed
 * notification; nothing here knows how the bytes travel.
 *
 * Types and states: the mail types' state is the account's modseq
 * (jmap.h), so a StateChange names only the types whose objects changed,
 * each with the modseq of the last change seen. An email's change also
 * changes its mailboxes' counts (Mailbox state) and its thread (Thread
 * state); a new email is an EmailDelivery too (RFC 8621 §1.5: clients
 * alert on it). Identity, EmailSubmission, SieveScript, VacationResponse,
 * Quota and ShareNotification have states of their own (jmap_typestate.c, jmap_quota.c):
 * the transport keeps the ones it last told and asks their /get for the
 * ones now (jmap_push_own_states) at each notification; a JMAP write
 * that moves one of them notifies (jmap_typestate.c).
 *
 * Changes to those made outside JMAP notify where they are made, each
 * kind in one place: a Sieve script's write (store_sieve.c), an alias
 * added or removed (its local targets' Identity) and a new quota limit
 * (store_admin.c), the queue's update of what an account sent (its
 * EmailSubmission's deliveryStatus: queue_sched.c), a grant's change
 * (the grantee's ShareNotification: store_acl.c). A `tern` command
 * run while the server runs is another process: its publications are
 * noted in the store and published by the server within about a second
 * (store/store_xchg.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
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
    {"Identity", JMAP_TYPE_IDENTITY},
    {"EmailSubmission", JMAP_TYPE_SUBMISSION},
    {"SieveScript", JMAP_TYPE_SIEVE},
    {"VacationResponse", JMAP_TYPE_VACATION},
    {"Quota", JMAP_TYPE_QUOTA},
    {"ShareNotification", JMAP_TYPE_SHARENOTE},
};

/* The own-state types in struct jmap_push_own's order, and the
 * capability their /get needs. */
static const struct {
	unsigned bit;
	const char *get, *cap;
} own[JMAP_PUSH_OWN_N] = {
    {JMAP_TYPE_IDENTITY, "Identity/get", JMAP_CAP_SUBMISSION},
    {JMAP_TYPE_SUBMISSION, "EmailSubmission/get", JMAP_CAP_SUBMISSION},
    {JMAP_TYPE_SIEVE, "SieveScript/get", JMAP_CAP_SIEVE},
    {JMAP_TYPE_VACATION, "VacationResponse/get", JMAP_CAP_VACATION},
    {JMAP_TYPE_QUOTA, "Quota/get", JMAP_CAP_QUOTA},
    {JMAP_TYPE_SHARENOTE, "ShareNotification/get", JMAP_CAP_PRINCIPALS},
};
/* Quota's place in own[] (its state is read differently, below). */
#define OWN_QUOTA 4

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

long jmap_push_type_list(const struct json_value *t)
{
	unsigned m = 0;

	if (!t || t->type == JSON_NULL)
		return JMAP_TYPES_ALL;
	if (t->type != JSON_ARRAY)
		return -1;
	for (const struct json_value *e = t->first; e; e = e->next) {
		unsigned b = e->type == JSON_STRING && strlen(e->str) == e->len &&
				     strcmp(e->str, "*") && !strchr(e->str, ',')
				 ? jmap_push_types(e->str)
				 : 0;
		if (!b)
			return -1;
		m |= b;
	}
	return m;
}

/* One walk answers every since a transport asks about (its clients'
 * last told states, sorted): a change with modseq m changed the state of
 * each since below m, so it is kept in the bucket of the largest such
 * since and a since's types are its bucket's and those above. */
struct walk {
	const uint64_t *since;
	size_t n;
	unsigned *bucket;
	uint64_t upto;
	size_t count;
};

static int walk_cb(void *arg, const struct store_change *c)
{
	struct walk *w = arg;
	unsigned bits;

	switch (c->kind) {
	case STORE_CHANGE_EMAIL_CREATED:
		bits = JMAP_TYPE_EMAIL_DELIVERY | JMAP_TYPE_EMAIL | JMAP_TYPE_THREAD | JMAP_TYPE_MAILBOX;
		break;
	case STORE_CHANGE_EMAIL_UPDATED:
	case STORE_CHANGE_EMAIL_DESTROYED:
		bits = JMAP_TYPE_EMAIL | JMAP_TYPE_THREAD | JMAP_TYPE_MAILBOX;
		break;
	case STORE_CHANGE_EMAIL_THREAD:
		bits = JMAP_TYPE_THREAD;
		break;
	case STORE_CHANGE_EMAIL_QUIET:
		bits = 0; /* the record's other entries say what changed */
		break;
	default:
		bits = JMAP_TYPE_MAILBOX;
		break;
	}
	/* How many since values are below the change's modseq. */
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w->since[mid] < c->modseq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo)
		w->bucket[lo - 1] |= bits;
	if (c->modseq > w->upto)
		w->upto = c->modseq;
	return ++w->count >= WALK_MAX;
}

int jmap_push_changed_many(struct store *st, uint32_t account, const uint64_t *since, size_t n,
			   unsigned *types_r, uint64_t *upto_r)
{
	uint64_t floor, ms = 0;
	size_t first = 0;

	for (size_t i = 0; i < n; i++) {
		types_r[i] = 0;
		upto_r[i] = since[i];
	}
	if (!n)
		return 0;
	if (store_changes_floor(st, account, &floor) != STORE_OK)
		return -1;
	/* A state from before a restore (store_restore.c): the log does not
	 * say what changed since, so everything may have. */
	while (first < n && since[first] < floor)
		first++;
	unsigned *bucket = calloc(n, sizeof *bucket);
	if (!bucket)
		return -1;
	struct walk w = {since + first, n - first, bucket + first, since[n - 1], 0};
	int rc = 0;
	if (first < n && store_changes_since(st, account, since[first], walk_cb, &w) != STORE_OK)
		rc = -1;
	int stopped = w.count >= WALK_MAX; /* past it every type is taken as changed */
	if (!rc && (first || stopped) && store_account_modseq(st, account, &ms) != STORE_OK)
		rc = -1;
	unsigned acc = 0;
	for (size_t i = n; !rc && i-- > 0;) {
		acc |= bucket[i];
		if (i < first || stopped) {
			types_r[i] = JMAP_TYPES_MAIL;
			upto_r[i] = ms > w.upto ? ms : w.upto;
		} else {
			types_r[i] = acc;
			if (acc && w.upto > since[i])
				upto_r[i] = w.upto;
		}
	}
	free(bucket);
	return rc;
}

int jmap_push_changed(struct store *st, uint32_t account, uint64_t since, unsigned *types_r,
		      uint64_t *upto_r)
{
	return jmap_push_changed_many(st, account, &since, 1, types_r, upto_r);
}

int jmap_push_own_states(struct store *st, const struct jmap_who *who, unsigned mask,
			 struct jmap_push_own *out)
{
	struct buf req, resp;
	struct jw w;
	char acc[16], err[64], idx[4];
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!(mask & JMAP_TYPES_OWN))
		return 0;
	/* The states are what each type's /get answers, so the request runs
	 * those: ids [] (no object rendered, the state only). */
	snprintf(acc, sizeof acc, "A%08x", who->account);
	buf_init(&req, 4096);
	jw_init(&w, &req);
	jw_obj_begin(&w);
	jw_key(&w, "using");
	jw_arr_begin(&w);
	jw_str(&w, JMAP_CAP_CORE);
	jw_str(&w, JMAP_CAP_MAIL);
	for (size_t i = 0; i < JMAP_PUSH_OWN_N; i++)
		if (mask & own[i].bit)
			jw_str(&w, own[i].cap);
	jw_arr_end(&w);
	jw_key(&w, "methodCalls");
	jw_arr_begin(&w);
	for (size_t i = 0; i < JMAP_PUSH_OWN_N; i++) {
		if (!(mask & own[i].bit))
			continue;
		snprintf(idx, sizeof idx, "%zu", i);
		jw_arr_begin(&w);
		jw_str(&w, own[i].get);
		jw_obj_begin(&w);
		jw_kstr(&w, "accountId", acc);
		jw_key(&w, "ids");
		if (own[i].bit == JMAP_TYPE_QUOTA) {
			jw_null(&w); /* whether there is one (below) */
		} else {
			jw_arr_begin(&w);
			jw_arr_end(&w);
		}
		jw_obj_end(&w);
		jw_str(&w, idx);
		jw_arr_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	struct arena *a = arena_new(0);
	buf_init(&resp, JMAP_RESPONSE_MAX);
	if (!jw_failed(&w) &&
	    jmap_api(st, who, NULL, buf_data(&req), buf_len(&req), a, &resp) == 200) {
		const struct json_value *v = json_parse(buf_data(&resp), buf_len(&resp), a, err, sizeof err);
		const struct json_value *mr = v && v->type == JSON_OBJECT ? json_get(v, "methodResponses") : NULL;
		for (const struct json_value *e = mr && mr->type == JSON_ARRAY ? mr->first : NULL; e;
		     e = e->next) {
			const struct json_value *name = e->first, *args = name ? name->next : NULL,
						*id = args ? args->next : NULL;
			if (!id || name->type != JSON_STRING || !strcmp(name->str, "error") ||
			    args->type != JSON_OBJECT || id->type != JSON_STRING || !id->str[0] ||
			    id->str[1] || id->str[0] < '0' || id->str[0] >= '0' + JMAP_PUSH_OWN_N)
				continue;
			const struct json_value *state = json_get(args, "state"),
						*list = json_get(args, "list");
			/* Quota's state moves with the modseq; an account without a
			 * quota has no object it could be about. */
			if (id->str[0] - '0' == OWN_QUOTA &&
			    (!list || list->type != JSON_ARRAY || !list->count))
				continue;
			if (state && state->type == JSON_STRING && state->len < sizeof out->state[0]) {
				snprintf(out->state[id->str[0] - '0'], sizeof out->state[0], "%s",
					 state->str);
				rc = 0;
			}
		}
	}
	buf_free(&resp);
	buf_free(&req);
	arena_free(&a);
	return rc;
}

unsigned jmap_push_own_take(struct jmap_push_own *told, const struct jmap_push_own *now,
			    unsigned mask)
{
	unsigned m = 0;
	for (size_t i = 0; i < JMAP_PUSH_OWN_N; i++)
		if (mask & own[i].bit && now->state[i][0] && strcmp(told->state[i], now->state[i])) {
			memcpy(told->state[i], now->state[i], sizeof told->state[i]);
			m |= own[i].bit;
		}
	return m;
}

void jmap_push_state_change(struct buf *out, uint32_t account, unsigned mask, uint64_t modseq,
			    const struct jmap_push_own *ostates, const char *push_state)
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
		if (mask & types[i].bit & JMAP_TYPES_MAIL)
			jw_kstr(&w, types[i].name, state);
	for (size_t i = 0; ostates && i < JMAP_PUSH_OWN_N; i++)
		if (mask & own[i].bit && ostates->state[i][0])
			jw_kstr(&w, types[4 + i].name, ostates->state[i]);
	jw_obj_end(&w);
	jw_obj_end(&w);
	if (push_state)
		jw_kstr(&w, "pushState", push_state);
	jw_obj_end(&w);
}

/*
 * The push state (RFC 8620 §7.1 pushState, the EventSource event id):
 * the modseq, which is every mail type's state, then, when the client
 * asked for any own-state type, each own type's state after a '_' (""
 * for one not asked or not known), so a client reconnecting with it is
 * told what changed in between for every type, not the mail types only.
 */
size_t jmap_push_state_format(char *out, size_t n, uint64_t modseq, unsigned mask,
			      const struct jmap_push_own *os)
{
	int k = snprintf(out, n, "%llu", (unsigned long long)modseq);
	size_t len = k > 0 && (size_t)k < n ? (size_t)k : 0;

	if (!(mask & JMAP_TYPES_OWN) || !os)
		return len;
	for (size_t i = 0; i < JMAP_PUSH_OWN_N; i++) {
		const char *st = (mask & types[4 + i].bit) ? os->state[i] : "";
		/* A state that holds the separator, or anything outside the
		 * printable ASCII an event id may carry, is left unknown. */
		for (const char *c = st; *c; c++)
			if (*c == '_' || *c <= ' ' || *c > '~') {
				st = "";
				break;
			}
		k = snprintf(out + len, n - len, "_%s", st);
		if (k < 0 || (size_t)k >= n - len) {
			out[len] = '\0';
			return len;
		}
		len += (size_t)k;
	}
	return len;
}

int jmap_push_state_parse(const char *s, size_t len, uint64_t *modseq_r, struct jmap_push_own *own_r,
			  int *has_own_r)
{
	char num[24];
	const char *us = memchr(s, '_', len);
	size_t nl = us ? (size_t)(us - s) : len;

	*has_own_r = 0;
	memset(own_r, 0, sizeof *own_r);
	if (nl >= sizeof num)
		return -1;
	memcpy(num, s, nl);
	num[nl] = '\0';
	if (jmap_state_parse(num, modseq_r) < 0)
		return -1;
	if (!us)
		return 0;
	const char *p = us, *end = s + len;
	for (size_t i = 0; i < JMAP_PUSH_OWN_N; i++) {
		if (p >= end || *p != '_')
			return -1;
		p++;
		const char *q = memchr(p, '_', (size_t)(end - p));
		size_t l = q ? (size_t)(q - p) : (size_t)(end - p);
		if (l >= sizeof own_r->state[0])
			return -1;
		memcpy(own_r->state[i], p, l);
		own_r->state[i][l] = '\0';
		p += l;
	}
	if (p != end)
		return -1;
	*has_own_r = 1;
	return 0;
}
