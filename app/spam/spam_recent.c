/*
 * spam_recent.c — the ring of recent decisions (spam_recent.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/loop.h"
#include "spam/spam_recent.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct spam_recent ring[SPAM_RECENT_MAX];
static uint64_t next_seq = 1;

uint64_t spam_recent_add(const char *ip, const char *mail_from, const char *rcpt,
			 uint32_t account, const struct spam_result *t)
{
	struct spam_recent e;
	size_t o = 0;
	memset(&e, 0, sizeof e);
	e.at = time_wall();
	snprintf(e.ip, sizeof e.ip, "%s", ip ? ip : "");
	snprintf(e.mail_from, sizeof e.mail_from, "%s", mail_from ? mail_from : "");
	snprintf(e.rcpt, sizeof e.rcpt, "%s", rcpt ? rcpt : "");
	e.account = account;
	e.score = t->score;
	snprintf(e.action, sizeof e.action, "%s", spam_verdict_name(t->verdict));
	for (uint32_t i = 0; i < t->nrules && o < sizeof e.rules; i++) {
		int n = snprintf(e.rules + o, sizeof e.rules - o, "%s%s=%.2f", i ? " " : "",
				 t->rules[i].name, t->rules[i].weight);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	pthread_mutex_lock(&lock);
	e.seq = next_seq++;
	ring[e.seq % SPAM_RECENT_MAX] = e;
	pthread_mutex_unlock(&lock);
	return e.seq;
}

void spam_recent_set_email(uint64_t seq, uint32_t account, uint32_t email)
{
	pthread_mutex_lock(&lock);
	struct spam_recent *e = &ring[seq % SPAM_RECENT_MAX];
	if (seq && e->seq == seq && e->account == account)
		e->email = email;
	pthread_mutex_unlock(&lock);
}

void spam_recent_set_action(uint64_t seq, const char *action)
{
	pthread_mutex_lock(&lock);
	struct spam_recent *e = &ring[seq % SPAM_RECENT_MAX];
	if (seq && e->seq == seq)
		snprintf(e->action, sizeof e->action, "%s", action);
	pthread_mutex_unlock(&lock);
}

int spam_recent_get(uint64_t seq, struct spam_recent *out)
{
	int rc = -1;
	pthread_mutex_lock(&lock);
	const struct spam_recent *e = &ring[seq % SPAM_RECENT_MAX];
	if (seq && e->seq == seq) {
		*out = *e;
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

size_t spam_recent_list(struct spam_recent *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	for (uint64_t s = next_seq - 1; s >= 1 && n < max && n < SPAM_RECENT_MAX; s--)
		out[n++] = ring[s % SPAM_RECENT_MAX];
	pthread_mutex_unlock(&lock);
	return n;
}
