/*
 * spam_recent.h — the last SPAM_RECENT_MAX decisions of the filter, in
 * memory, for the web admin's Spam page (GET /api/v1/spam/recent): when,
 * who sent it from where, to whom, the score, the action and every rule.
 *
 * Design. A fixed ring behind a mutex: sessions on every loop add, the
 * HTTP threads read a copy. Nothing is stored: a restart empties it, and
 * the log keeps every decision anyway (spam= pairs of event=delivered
 * and event=message_rejected).
 *
 * Once the message is stored, the session gives the decision the email
 * id of the first recipient's copy (spam_recent_set_email), so the Spam
 * page's "spam" / "not spam" buttons can train that user's model with
 * the very message (POST /api/v1/spam/recent/{seq}/train).
 */
#ifndef TERN_SPAM_SPAM_RECENT_H
#define TERN_SPAM_SPAM_RECENT_H

#include <stddef.h>
#include <stdint.h>

#include "spam/spam.h"

#define SPAM_RECENT_MAX 100

struct spam_recent {
	int64_t at;        /* seconds since the epoch */
	uint64_t seq;      /* increases by one per decision */
	char ip[48];
	char mail_from[256];
	char rcpt[256];
	uint32_t account;  /* the first recipient's account */
	uint32_t email;    /* its stored copy's email id; 0: not stored (yet) */
	double score;
	char action[16];   /* spam_verdict_name(), or "greylist" */
	char rules[1024];  /* "NAME=W NAME=W ..." */
};

/* Records a decision; returns its seq. Thread-safe. */
uint64_t spam_recent_add(const char *ip, const char *mail_from, const char *rcpt,
			 uint32_t account, const struct spam_result *res);
/* Notes that decision seq's message was stored as email in account (when
 * it is still in the ring and its account is account). Thread-safe. */
void spam_recent_set_email(uint64_t seq, uint32_t account, uint32_t email);
/* Sets decision seq's action to action: "greylist" for a message the
 * verdict let through and greylisting answered 451 (Rspamd's history
 * says "soft reject"): it was neither delivered nor refused for spam,
 * and the Spam page must not show it as ham. Thread-safe. */
void spam_recent_set_action(uint64_t seq, const char *action);
/* Copies decision seq into *out: 0, or -1 when it left the ring. Thread-safe. */
int spam_recent_get(uint64_t seq, struct spam_recent *out);
/* Copies the newest decisions, newest first, at most max; returns how many. Thread-safe. */
size_t spam_recent_list(struct spam_recent *out, size_t max);

#endif
