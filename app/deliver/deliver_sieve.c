/*
 * deliver_sieve.c — the active Sieve script's result as a delivery plan;
 * see deliver_sieve.h.
 */
#include "deliver/deliver_sieve.h"

#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "forward/forward.h"
#include "mime/mime_date.h"
#include "queue/queue.h"
#include "sieve/sieve.h"
#include "sieve/sieve_mailto.h"
#include "sieve/sieve_vacation.h"
#include "smtp/smtp_author.h"
#include "smtp/smtp_headers.h"
#include "smtp/smtp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sodium.h>

#define REPLY_MAX (256 * 1024)

/* One thing that follows the commit: a reply to queue (msg not empty)
 * and/or a key to remember until expires. */
struct deliver_sieve_reply {
	struct deliver_sieve_reply *next;
	struct queue_request req;
	struct queue_rcpt rcpt[SIEVE_MAILTO_RCPTS_MAX];
	struct buf msg;
	char *to[SIEVE_MAILTO_RCPTS_MAX];
	unsigned nto;    /* 0: only a key to remember */
	const char *what; /* "vacation", "notify": the log's name */
	uint32_t account;
	uint8_t key[32];
	int64_t expires;
	char session[24];
};

static void reply_free1(struct deliver_sieve_reply *r)
{
	buf_free(&r->msg);
	for (unsigned i = 0; i < r->nto; i++)
		free(r->to[i]);
	free(r);
}

void deliver_sieve_reply_free(struct deliver_sieve_reply *r)
{
	while (r) {
		struct deliver_sieve_reply *next = r->next;
		reply_free1(r);
		r = next;
	}
}

static void reply_done(struct queue_request *q, void *arg)
{
	struct deliver_sieve_reply *r = arg;
	if (q->result == STORE_OK)
		log_info("deliver", r->session, "event=%s_sent account=%u local=%zu remote=%zu", r->what,
		         r->account, q->nlocal, q->nremote);
	else
		log_warn("deliver", r->session, "event=%s_failed account=%u result=%d", r->what,
		         r->account, q->result);
	reply_free1(r);
}

size_t deliver_sieve_reply_seen(const struct deliver_sieve_reply *r, struct store_seen *out,
                                size_t max)
{
	size_t n = 0;
	for (; r; r = r->next) {
		if (!r->expires)
			continue;
		if (n < max) {
			out[n].account = r->account;
			memcpy(out[n].key, r->key, 32);
			out[n].expires = r->expires;
		}
		n++;
	}
	return n;
}

void deliver_sieve_seen_attach(struct delivery *d, struct deliver_sieve_reply *const *chains,
                               size_t n, struct arena *a)
{
	size_t ns = 0;
	for (size_t i = 0; chains && i < n; i++)
		ns += deliver_sieve_reply_seen(chains[i], NULL, 0);
	if (!ns)
		return;
	struct store_seen *seen = arena_alloc(a, ns * sizeof *seen);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += deliver_sieve_reply_seen(chains[i], seen + k, ns - k);
	d->seen = seen;
	d->nseen = k;
}

/*
 * 1 when account's scripts may send one more message of their own (what
 * names the action in the log); else logs why not. The limit is the
 * account's share of TERN_FORWARD_RATE (forward.h says why that one).
 */
static int auto_rate_allowed(uint32_t account, const char *what, const char *session)
{
	if (forward_rate_account_allowed(account, loop_now_ms()))
		return 1;
	log_info("deliver", session, "event=sieve_action_skipped account=%u action=%s reason=rate",
	         account, what);
	return 0;
}

void deliver_sieve_reply_send(struct store *st, struct deliver_sieve_reply *r, struct loop *loop,
                              const char *session, int remembered)
{
	(void)session;
	while (r) {
		struct deliver_sieve_reply *next = r->next;
		r->next = NULL;
		/* Remembered first: a reply that failed to queue is not retried
		 * for every later message of the sender either. A commit and
		 * flush of its own, on the caller's thread, unless the
		 * message's commit already carried it. */
		if (r->expires && !remembered)
			(void)store_sieve_seen_put(st, r->account, r->key, r->expires);
		if (!r->nto) {
			reply_free1(r); /* a duplicate id: only remembered */
		} else if (!auto_rate_allowed(r->account, r->what, r->session)) {
			/* The plan checked too, but one message may bring several
			 * replies and notifications, and other messages' come in
			 * between: this check, with its record below, is the one
			 * that holds the account to the limit. */
			reply_free1(r);
		} else {
			forward_rate_account_record(r->account, loop_now_ms());
			for (unsigned i = 0; i < r->nto; i++)
				r->rcpt[i].addr = r->to[i];
			r->req.data = buf_data(&r->msg);
			r->req.len = buf_len(&r->msg);
			r->req.sender = "";
			r->req.flags = QUEUE_8BITMIME;
			r->req.rcpts = r->rcpt;
			r->req.nrcpts = r->nto;
			r->req.loop = loop;
			r->req.done = reply_done;
			r->req.arg = r;
			queue_submit(st, &r->req);
		}
		r = next;
	}
}

/* The memory key of a duplicate test's (handle, id) (RFC 7352 §3: the
 * handle keeps one test's ids apart from another's). */
static void duplicate_key(struct str handle, struct str id, uint8_t key[32])
{
	crypto_generichash_state h;
	uint8_t l[8];
	for (int k = 0; k < 8; k++)
		l[k] = (uint8_t)((uint64_t)handle.len >> (8 * k));
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, (const uint8_t *)"duplicate", 10);
	crypto_generichash_update(&h, l, 8);
	if (handle.len)
		crypto_generichash_update(&h, (const uint8_t *)handle.p, handle.len);
	if (id.len)
		crypto_generichash_update(&h, (const uint8_t *)id.p, id.len);
	crypto_generichash_final(&h, key, 32);
}

/* A message's unique id for what we send: <what>.<random>@<domain of addr>. */
static void make_msgid(char *id, size_t idsz, const char *what, struct str addr, const void *salt)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint64_t)time_wall() ^ (uint64_t)(uintptr_t)salt;
	ptrdiff_t at = str_rchr(addr, '@');
	snprintf(id, idsz, "%s.%016llx@%.*s", what, (unsigned long long)rnd,
	         at >= 0 ? (int)(addr.len - (size_t)at - 1) : 9, at >= 0 ? addr.p + at + 1 : "localhost");
}

/* Whose mailboxes and memory a script's tests read (a store and an account). */
struct mbox_ent {
	const char *name, *role;
	uint32_t id, uidvalidity;
};
struct mbctx {
	struct store *st;
	uint32_t account;
	struct arena *a; /* include's texts, valid until the run ends */
	struct mbox_ent *mb; /* the account's mailboxes, once asked (mailbox_search) */
	uint32_t nmb, capmb;
	uint32_t next_id; /* the account's next mailbox id (legacy ids) */
	int loaded;
};

/*
 * The :from a vacation reply or a notification may carry: the action's
 * own when it is one mailbox the account owns, shown as itself, the rule
 * port 587 applies to a From (smtp_submit.c: the account's address, its
 * +tags, its aliases); else none, so the message goes from the
 * recipient's address, and the refusal is logged. A script would
 * otherwise send, from our servers and under our DKIM signature, mail
 * that claims to come from anyone.
 */
static struct str own_from(struct store *st, uint32_t account, struct str from, struct arena *a,
                           const char *what, const char *session)
{
	char *addr[1], *name[1], q[SIEVE_MAILTO_ADDR_MAX * 4 + 8];
	const char *why = NULL;

	if (!from.len)
		return from;
	if (smtp_from_mailboxes(a, from, addr, name, 1) != 1)
		why = "unparsable";
	else if (!smtp_submit_owned(st, account, addr[0]))
		why = "not_owned";
	else if (smtp_author_name_shows_other(st, account, name[0], addr[0]))
		why = "name_shows_other";
	if (!why)
		return from;
	log_info("deliver", session, "event=sieve_from_refused account=%u action=%s from=%s reason=%s",
	         account, what, log_qn(from.p, from.len, q, sizeof q), why);
	return STR_NULL;
}

struct owner {
	struct store *st;
	uint32_t account;
};

/* sieve_vacation_skip's question: is addr one that reaches the account
 * (its own, +tags, an alias, a catch-all's), as submission judges a From. */
static int owned_addr(void *arg, struct str addr)
{
	const struct owner *o = arg;
	char a[STORE_ADDR_MAX + 1];
	if (addr.len >= sizeof a)
		return 0;
	memcpy(a, addr.p, addr.len);
	a[addr.len] = '\0';
	return smtp_submit_owned(o->st, o->account, a);
}

/* The vacation action's reply, when RFC 5230 and the memory allow one. */
static struct deliver_sieve_reply *vacation(struct store *st, const struct sieve_action *x,
                                            uint32_t account, struct str msg, struct str env_from,
                                            struct str env_to, struct arena *a, const char *session)
{
	struct str ours[65];
	uint32_t n = 0;
	uint8_t key[32];
	int64_t now = (int64_t)time_wall();

	if (env_to.len)
		ours[n++] = env_to;
	for (uint32_t i = 0; i < x->naddresses && n < 65; i++)
		ours[n++] = x->addresses[i];
	/* The address without its +detail is ours too. */
	char plain[330] = "";
	ptrdiff_t plus = str_chr(env_to, '+'), at = str_rchr(env_to, '@');
	if (plus > 0 && at > plus && env_to.len < sizeof plain && n < 65) {
		int k = snprintf(plain, sizeof plain, "%.*s%.*s", (int)plus, env_to.p,
		                 (int)(env_to.len - (size_t)at), env_to.p + at);
		ours[n++] = str_make(plain, (size_t)k);
	}
	struct owner o = {st, account};
	char sent_to[SIEVE_VACATION_ADDR_MAX];
	const char *why = sieve_vacation_skip(msg.p, msg.len, env_from, ours, n, owned_addr, &o, sent_to);
	if (!why) {
		sieve_vacation_key(x, env_from, key);
		if (store_sieve_seen(st, account, key, now) == 1)
			why = "already_replied";
	}
	if (why) {
		log_info("deliver", session, "event=vacation_skipped account=%u reason=%s", account, why);
		return NULL;
	}
	/* Past the limit already: no reply, and the sender is not
	 * remembered, so it is answered once the hour has room again. */
	if (!auto_rate_allowed(account, "vacation", session))
		return NULL;
	/* The key above keeps the script's :from: the memory of a reply
	 * does not depend on whether the address passed. */
	struct sieve_action v = *x;
	v.from = own_from(st, account, x->from, a, "vacation", session);
	/* Without a :from, the reply goes from the user's address the
	 * original was sent to, as its To or Cc shows (RFC 5230 §5.4, errata
	 * 2035: an alias, or one of :addresses), not from the mailbox it was
	 * delivered to; one of :addresses passes own_from's test first, since
	 * the script names those. Else the envelope recipient, +detail off. */
	struct str from_default = plain[0] && plus > 0 ? str_c(plain) : env_to;
	struct str to_addr = str_c(sent_to);
	if (to_addr.len && !str_eq_ci(to_addr, env_to) && !str_eq_ci(to_addr, from_default)) {
		struct str f = own_from(st, account, to_addr, a, "vacation", session);
		if (f.len)
			from_default = f;
	}
	struct deliver_sieve_reply *r = xcalloc(1, sizeof *r);
	char date[MIME_DATE_MAX], id[96];
	make_msgid(id, sizeof id, "vacation", env_to, r);
	mime_date_format(now, date);
	buf_init(&r->msg, REPLY_MAX);
	if (sieve_vacation_reply(&v, msg.p, msg.len, env_from, from_default, date, id, &r->msg) < 0) {
		log_warn("deliver", session, "event=vacation_skipped account=%u reason=too_large", account);
		deliver_sieve_reply_free(r);
		return NULL;
	}
	r->to[0] = xstrndup(env_from.p, env_from.len);
	r->nto = 1;
	r->what = "vacation";
	r->account = account;
	memcpy(r->key, key, 32);
	r->expires = now + (int64_t)(x->seconds ? x->seconds : 1);
	snprintf(r->session, sizeof r->session, "%s", session ? session : "");
	return r;
}

/*
 * The notify action's message (RFC 5435, RFC 5436 mailto), sent after
 * the commit from the null sender: none about an automatic message
 * (Auto-Submitted other than "no": a notification about a notification
 * would loop), none for a URI that does not parse.
 */
static struct deliver_sieve_reply *notify(struct store *st, const struct sieve_action *x,
                                          uint32_t account, struct str msg, struct str env_to,
                                          struct arena *a, const char *session)
{
	struct sieve_mailto m;
	const char *why = sieve_notify_skip(msg.p, msg.len);
	if (!why && sieve_mailto_parse(x->target, a, &m) < 0)
		why = "bad_uri";
	if (why) {
		log_info("deliver", session, "event=notify_skipped account=%u reason=%s", account, why);
		return NULL;
	}
	if (!auto_rate_allowed(account, "notify", session))
		return NULL;
	struct sieve_action v = *x;
	v.from = own_from(st, account, x->from, a, "notify", session);
	struct deliver_sieve_reply *r = xcalloc(1, sizeof *r);
	char date[MIME_DATE_MAX], id[96];
	make_msgid(id, sizeof id, "notify", env_to, r);
	mime_date_format((int64_t)time_wall(), date);
	buf_init(&r->msg, REPLY_MAX);
	if (sieve_notify_message(&v, &m, msg.p, msg.len, env_to, date, id, &r->msg) < 0) {
		log_warn("deliver", session, "event=notify_skipped account=%u reason=too_large", account);
		deliver_sieve_reply_free(r);
		return NULL;
	}
	for (uint32_t i = 0; i < m.nrcpts; i++)
		r->to[r->nto++] = xstrndup(m.rcpts[i].p, m.rcpts[i].len);
	r->what = "notify";
	r->account = account;
	snprintf(r->session, sizeof r->session, "%s", session ? session : "");
	return r;
}

static const char *const kind_names[] = {
	[SIEVE_ACT_KEEP] = "keep", [SIEVE_ACT_FILEINTO] = "fileinto",
	[SIEVE_ACT_REDIRECT] = "redirect", [SIEVE_ACT_DISCARD] = "discard",
	[SIEVE_ACT_REJECT] = "reject", [SIEVE_ACT_EREJECT] = "ereject",
	[SIEVE_ACT_VACATION] = "vacation", [SIEVE_ACT_NOTIFY] = "notify",
	[SIEVE_ACT_ADDHEADER] = "addheader", [SIEVE_ACT_DELETEHEADER] = "deleteheader",
	[SIEVE_ACT_DUPLICATE] = "duplicate", [SIEVE_ACT_REPLACE] = "replace",
	[SIEVE_ACT_ENCLOSE] = "enclose",
};

static int mailbox_exists(void *ctx, struct str name)
{
	struct mbctx *c = ctx;
	char n[512];
	uint32_t id;
	if (name.len >= sizeof n)
		return 0;
	memcpy(n, name.p, name.len);
	n[name.len] = '\0';
	return store_mailbox_find(c->st, c->account, n, &id) == STORE_OK;
}

/* A mailbox of the account found by special-use (RFC 8579: "\\Sent" is
 * the role "sent"), id (RFC 9042: the MAILBOXID, which is JMAP's Mailbox
 * id too, "M" and 8 lower-case hex digits: imap_session.h) or name; its name copied into found
 * (when there is room), 1 found. */
struct find_ctx {
	struct str use, id, name;
	char found[512];
	char use_attr[16]; /* the special-use of the one found ("\\Sent"), or "" */
	int hit;
};

/* The account's mailboxes, read once per delivery (c->a holds them): a
 * script's tests may ask many times, and each walk of the store's list
 * was a read transaction over every mailbox. */
static void load_cb(void *arg, const struct store_mailbox_info *info)
{
	struct mbctx *c = arg;
	if (c->nmb == c->capmb) {
		uint32_t nc = c->capmb ? c->capmb * 2 : 32;
		struct mbox_ent *n = arena_alloc(c->a, nc * sizeof(*n));
		if (c->nmb)
			memcpy(n, c->mb, c->nmb * sizeof(*n));
		c->mb = n;
		c->capmb = nc;
	}
	struct mbox_ent *e = &c->mb[c->nmb++];
	e->name = arena_strdup(c->a, info->name);
	e->role = arena_strdup(c->a, info->role);
	e->id = info->id;
	e->uidvalidity = info->uidvalidity;
}

static int mailbox_search(struct mbctx *c, struct find_ctx *f)
{
	if (!c->loaded) {
		c->nmb = 0;
		if (store_mailbox_list(c->st, c->account, load_cb, c) != STORE_OK)
			return 0;
		c->loaded = 1;
	}
	int64_t id = f->id.p ? hex_objid_parse(f->id.p, f->id.len, 'M') : -1;
	if (f->id.p && id < 0)
		return 0;
	/*
	 * Earlier builds showed the UIDVALIDITY as MAILBOXID, and a stored
	 * script may still hold one. That spelling is taken only when the
	 * number is no mailbox id the account ever had (at or above its next
	 * mailbox id: UIDVALIDITYs are times, mailbox ids small counters), so
	 * it can never pick another mailbox than the one it was given for
	 * (UIDVALIDITYs are server-wide and never reused); else the id is a
	 * mailbox id only, and a stale one falls back to the name.
	 */
	int legacy = 0;
	if (id >= 0) {
		int current = 0;
		for (uint32_t i = 0; i < c->nmb && !current; i++)
			current = c->mb[i].id == (uint32_t)id;
		if (!current) {
			if (!c->next_id &&
			    store_account_next_mailbox_id(c->st, c->account, &c->next_id) != STORE_OK)
				return 0;
			if ((uint32_t)id < c->next_id)
				return 0;
			legacy = 1;
		}
	}
	for (uint32_t i = 0; i < c->nmb; i++) {
		const struct mbox_ent *e = &c->mb[i];
		/* The roles IMAP shows as special-use (cmd_list.c): all but inbox. */
		int special = e->role[0] && strcmp(e->role, "inbox") != 0;
		if (f->name.p && !str_eq(f->name, str_c(e->name)) &&
		    !(str_eq_ci(f->name, STR_LIT("INBOX")) && str_eq_ci(str_c(e->name), f->name)))
			continue;
		if (f->use.p && !(f->use.len > 1 && f->use.p[0] == '\\' && special &&
		                  str_eq_ci(str_make(f->use.p + 1, f->use.len - 1), str_c(e->role))))
			continue;
		if (id >= 0 && (legacy ? e->uidvalidity : e->id) != (uint32_t)id)
			continue;
		f->hit = 1;
		snprintf(f->found, sizeof f->found, "%s", e->name);
		if (special)
			snprintf(f->use_attr, sizeof f->use_attr, "\\%c%s", e->role[0] - 32, e->role + 1);
		return 1;
	}
	return 0;
}

static int specialuse_exists(void *ctx, struct str mailbox, struct str use)
{
	struct find_ctx f = { .use = use, .name = mailbox.len ? mailbox : STR_NULL };
	return mailbox_search(ctx, &f);
}

static int mailboxid_exists(void *ctx, struct str id)
{
	struct find_ctx f = { .id = id };
	return mailbox_search(ctx, &f);
}

static int metadata_get(void *ctx, struct str mailbox, struct str name, struct arena *a,
                        struct str *value_r)
{
	struct mbctx *c = ctx;
	uint32_t id = 0;
	char n[512];
	if (name.len == 0 || name.len > STORE_METADATA_NAME_MAX)
		return 0;
	if (mailbox.p) {
		if (mailbox.len == 0 || mailbox.len >= sizeof n || memchr(mailbox.p, '\0', mailbox.len))
			return 0;
		/* A mailbox's /private/specialuse is its special-use, not a
		 * stored entry (RFC 6154 §4; GETMETADATA answers it so). */
		if (str_eq_ci(name, STR_LIT("/private/specialuse"))) {
			struct find_ctx f = { .name = mailbox };
			if (!mailbox_search(c, &f) || !f.use_attr[0])
				return 0;
			*value_r = str_c(arena_strdup(a, f.use_attr));
			return 1;
		}
		memcpy(n, mailbox.p, mailbox.len);
		n[mailbox.len] = '\0';
		int rc = store_mailbox_find(c->st, c->account, n, &id);
		if (rc != STORE_OK)
			return rc == STORE_ENOTFOUND ? 0 : -1;
	}
	struct buf v;
	buf_init(&v, STORE_METADATA_BYTES);
	int rc = store_metadata_get_one(c->st, c->account, id, name, &v);
	if (rc == STORE_OK)
		*value_r = str_make(arena_strndup(a, buf_data(&v), buf_len(&v)), buf_len(&v));
	buf_free(&v);
	return rc == STORE_OK ? 1 : rc == STORE_ENOTFOUND ? 0 : -1;
}

static int duplicate_seen(void *ctx, struct str handle, struct str id)
{
	struct mbctx *c = ctx;
	uint8_t key[32];
	duplicate_key(handle, id, key);
	return store_sieve_seen(c->st, c->account, key, (int64_t)time_wall()) == 1;
}

/*
 * include (RFC 6609 §3.2): a :personal name is one of the account's own
 * scripts, a :global one the administrator's (STORE_SIEVE_GLOBAL), two
 * namespaces: the same name may exist in both and each include gets the
 * one it asked for. The text is copied into the run's arena (the
 * interpreter keeps it until sieve_run returns).
 */
static int include_text(void *ctx, struct str name, int global, struct str *text_r)
{
	struct mbctx *c = ctx;
	char n[STORE_SIEVE_NAME_MAX + 1];
	struct buf text;
	if (name.len > STORE_SIEVE_NAME_MAX || memchr(name.p, '\0', name.len))
		return -1;
	memcpy(n, name.p, name.len);
	n[name.len] = '\0';
	buf_init(&text, STORE_SIEVE_BYTES_MAX);
	if (store_sieve_get(c->st, global ? STORE_SIEVE_GLOBAL : c->account, n, &text, NULL) !=
	    STORE_OK) {
		buf_free(&text);
		return -1;
	}
	*text_r = str_make(arena_strndup(c->a, buf_data(&text), buf_len(&text)), buf_len(&text));
	buf_free(&text);
	return 0;
}

/* The duplicate test's id to remember once the message is stored: with
 * :last at every hit, else only when it was not seen (its lifetime runs
 * from the first). */
static struct deliver_sieve_reply *duplicate_note(const struct sieve_action *x, uint32_t account,
                                                  const char *session)
{
	if (x->index && !x->last)
		return NULL;
	struct deliver_sieve_reply *r = xcalloc(1, sizeof *r);
	duplicate_key(x->handle, x->text, r->key);
	r->account = account;
	r->expires = (int64_t)time_wall() + (int64_t)(x->seconds ? x->seconds : 1);
	snprintf(r->session, sizeof r->session, "%s", session ? session : "");
	return r;
}

/* Why a redirect to target is not carried out, or NULL when it may go:
 * a loop (the message already passed through env_to: our Delivered-To),
 * the recipient itself, or its hourly forwarding budget spent. */
static const char *redirect_refused(struct str msg, struct str env_to, struct str target)
{
	char to[STORE_ADDR_MAX + 1];
	unsigned hops;
	if (str_eq_ci(target, env_to))
		return "self";
	if (env_to.len >= sizeof to || str_lower_into(env_to, to, sizeof to) < 0)
		return "bad_recipient";
	if (forward_scan(msg.p, msg.len, to, &hops) == 1)
		return "loop";
	if (hops + 1 >= FORWARD_HOPS_MAX)
		return "too_many_hops";
	if (!forward_rate_allowed(to, loop_now_ms()))
		return "rate";
	return NULL;
}

/* redirect :notify (RFC 6009 §5: "NEVER" or a comma list of SUCCESS,
 * FAILURE, DELAY) as DELIVER_NOTIFY_* bits; 0 when absent or not valid. */
static unsigned notify_bits(struct str v)
{
	static const struct { const char *name; unsigned bit; } kw[] = {
		{ "NEVER", DELIVER_NOTIFY_NEVER }, { "SUCCESS", DELIVER_NOTIFY_SUCCESS },
		{ "FAILURE", DELIVER_NOTIFY_FAILURE }, { "DELAY", DELIVER_NOTIFY_DELAY },
	};
	unsigned bits = 0;
	for (size_t i = 0; i < v.len;) {
		size_t j = i;
		while (j < v.len && v.p[j] != ',')
			j++;
		struct str w = str_trim(str_make(v.p + i, j - i));
		unsigned b = 0;
		for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
			if (str_eq_ci(w, str_c(kw[k].name)))
				b = kw[k].bit;
		if (!b)
			return 0;
		bits |= b;
		i = j + 1;
	}
	/* NEVER stands alone (RFC 3461 §4.1). */
	return (bits & DELIVER_NOTIFY_NEVER) && bits != DELIVER_NOTIFY_NEVER ? 0 : bits;
}

/*
 * Sieve's flags (RFC 5232: IMAP flags as written, "\\Seen") as the
 * store's keywords, where the system flags are "$seen" and the like (the
 * IMAP layer's mapping), added to base (the delivery's own keywords, such
 * as $Junk; NULL for none); other backslash flags (\\Recent) are dropped,
 * as is a flag that is no keyword ("a(b": RFC 5232 §3 has the script's
 * flags be IMAP flags; Pigeonhole ignores the others too). The store
 * refuses a list past its limit whole, and the message then had none, so
 * the list stops where the store's rule does (kwset_parse(),
 * store_flags.c): a keyword given twice (any case) counts once, the
 * system flags not at all, STORE_KEYWORDS_MAX of the others with base's.
 */
static int keyword_system(struct str f)
{
	static const char *const names[] = { "$seen", "$answered", "$flagged", "$draft",
					      "$deleted" };
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
		if (str_eq_ci(f, str_c(names[k])))
			return 1;
	return 0;
}

static const char *flags_to_keywords(struct arena *a, const char *base, struct str flags)
{
	static const char *const sys[][2] = {
		{ "\\Answered", "$answered" }, { "\\Flagged", "$flagged" }, { "\\Deleted", "$deleted" },
		{ "\\Seen", "$seen" },         { "\\Draft", "$draft" },
	};
	size_t blen = base ? strlen(base) : 0;
	char *out = arena_alloc(a, blen + 1 + flags.len + 16), *o = out;
	size_t n = 0;
	memcpy(o, base ? base : "", blen);
	o += blen;
	for (size_t i = 0; i < blen;) { /* base's keywords count too */
		size_t j = i;
		while (j < blen && base[j] != ' ')
			j++;
		n += j > i && !keyword_system(str_make(base + i, j - i));
		i = j + 1;
	}
	for (size_t i = 0; i < flags.len;) {
		size_t j = i;
		while (j < flags.len && flags.p[j] != ' ')
			j++;
		struct str f = str_make(flags.p + i, j - i);
		i = j + 1;
		if (!f.len)
			continue;
		if (f.p[0] == '\\') {
			const char *kw = NULL;
			for (size_t k = 0; k < sizeof sys / sizeof sys[0] && !kw; k++)
				if (str_eq_ci(f, str_c(sys[k][0])))
					kw = sys[k][1];
			if (!kw)
				continue;
			f = str_c(kw);
		}
		int counted = !keyword_system(f);
		if (!store_keyword_valid(f.p, f.len) ||
		    store_keywords_has(out, (size_t)(o - out), arena_strndup(a, f.p, f.len)) ||
		    (counted && n >= STORE_KEYWORDS_MAX))
			continue;
		n += counted;
		if (o != out)
			*o++ = ' ';
		memcpy(o, f.p, f.len);
		o += f.len;
	}
	*o = '\0';
	return out;
}

/* 1 when a fileinto names the Junk mailbox (by name or special use). */
static int is_junk(const struct sieve_action *a)
{
	return str_eq_ci(a->target, STR_LIT("Junk")) || str_eq_ci(a->specialuse, STR_LIT("\\Junk"));
}

/* One place a copy goes (a keep, a fileinto, the implicit keep). */
struct dest {
	enum store_target_role folder;
	const char *name; /* NULL: by role */
	int create, is_default;
	struct str flags;
	uint32_t edits; /* the script's edits when it was filed (sieve_action.edits) */
};

/*
 * Appends a destination unless one for the same mailbox is there
 * (RFC 5228 §2.10.3: one copy per mailbox; the first one's flags stand,
 * a later :create is kept). Returns the new count.
 */
static uint32_t dest_add(struct arena *a, struct dest *d, uint32_t n, enum store_target_role folder,
                         struct str name, int create, struct str flags, uint32_t edits)
{
	for (uint32_t i = 0; i < n; i++) {
		int same = name.len ? d[i].name && strlen(d[i].name) == name.len &&
		                          memcmp(d[i].name, name.p, name.len) == 0
		                    : !d[i].name && d[i].folder == folder;
		if (same) {
			d[i].create |= create;
			return n;
		}
	}
	d[n] = (struct dest){ folder, name.len ? arena_strndup(a, name.p, name.len) : NULL, create, 0, flags,
		              edits };
	return n + 1;
}

/*
 * Runs the active script of script_acc (the account's own, or
 * STORE_SIEVE_GLOBAL: the administrator's) over env's message into res
 * (strings from a). 1 when it ran; 0 when there is none, or it failed
 * (logged: the plan stands).
 */
static int run_active(struct store *st, uint32_t script_acc, uint32_t account,
                      const struct sieve_env *env, struct arena *a, struct sieve_result *res,
                      char name[STORE_SIEVE_NAME_MAX + 1], const char *session)
{
	struct buf text;
	/* The error holds quotes ("unknown command \"kep\""): quoted as a
	 * whole, escaped, so the record stays one key=value pair. */
	char err[SIEVE_ERROR_MAX], q[STORE_SIEVE_NAME_MAX * 4 + 8], eq[SIEVE_ERROR_MAX * 2 + 8];
	struct sieve_ref *ref = NULL;
	const char *g = script_acc == STORE_SIEVE_GLOBAL ? " global=1" : "";

	buf_init(&text, STORE_SIEVE_BYTES_MAX);
	if (store_sieve_active(st, script_acc, &text, name) != STORE_OK) {
		buf_free(&text);
		return 0;
	}
	const struct sieve_script *s = sieve_cache_get(buf_data(&text), buf_len(&text), err, &ref);
	buf_free(&text);
	if (!s) {
		log_warn("deliver", session, "event=sieve_failed account=%u script=%s%s error=%s",
		         account, log_q(name, q, sizeof q), g, log_quoted(err, eq, sizeof eq));
		return 0;
	}
	/* The script is the root of its include tree (RFC 6609 §3.2). */
	struct sieve_env e = *env;
	e.script_name = str_c(name);
	e.script_global = script_acc == STORE_SIEVE_GLOBAL;
	int rc = sieve_run(s, &e, a, res);
	/* The result's strings are a's: the script may go back. */
	sieve_cache_release(&ref);
	if (rc < 0) {
		log_warn("deliver", session, "event=sieve_failed account=%u script=%s%s error=%s",
		         account, log_q(name, q, sizeof q), g, log_quoted(res->error, eq, sizeof eq));
		return 0;
	}
	return 1;
}

/*
 * editheader: the header of a copy filed after edits edits of res (an
 * action's, SIEVE_EDITS_LAST: as the script left it) into *hdr and the
 * body it goes on into *body, both in a; the other recipients' copies
 * stay as received. *hdr empty when the header is longer than the
 * script could see or the edited one would not fit (logged): the copy
 * is then msg as it is.
 */
static void header_at(const struct sieve_result *res, uint32_t edits, struct str msg,
                      struct arena *a, uint32_t account, const char *session, struct str *hdr,
                      struct str *body)
{
	if (res->message.p)
		msg = res->message; /* replace/enclose: the script's new message */
	ptrdiff_t off = sieve_body_offset(msg.p, msg.len);
	struct buf h;

	*hdr = STR_NULL;
	if (off < 0) {
		log_info("deliver", session, "event=sieve_action_skipped account=%u action=editheader reason=header_too_long",
		         account);
		return;
	}
	*body = str_make(msg.p + off, msg.len - (size_t)off);
	if (!res->fields) {
		/* Replaced, not edited since: the new message as it is. */
		*hdr = str_make(msg.p, (size_t)off);
		return;
	}
	buf_init(&h, SIEVE_HEADER_BYTES_MAX + 64 * 1024);
	if (sieve_header_write_at(res, edits, &h) < 0)
		log_info("deliver", session, "event=sieve_action_skipped account=%u action=editheader reason=too_large",
		         account);
	else
		*hdr = str_make(arena_strndup(a, buf_data(&h), buf_len(&h)), buf_len(&h));
	buf_free(&h);
}

/* The plan's copies are the message as res left it. */
static void own_copy(struct deliver_plan *plan, const struct sieve_result *res, struct str msg,
                     struct arena *a, const char *session)
{
	struct str hdr, body;
	header_at(res, SIEVE_EDITS_LAST, msg, a, plan->account, session, &hdr, &body);
	if (hdr.len) {
		plan->own_header = hdr;
		plan->own_body = body;
	}
}

/*
 * The headers of the plan's copies when the account's script edited
 * (res): each copy the message as edited when its action ran (RFC 5293
 * §5), d[i].edits; the copy of a keep or fileinto before any edit is
 * seen as the account's script got it (the global script's edits, gres,
 * when gedit). One header a distinct point of the script (at most its
 * edits + 1); a copy whose header is the plan's own shares its blob.
 */
static void own_copies(struct deliver_plan *plan, struct deliver_copy *more, const struct dest *d,
                       uint32_t nd, const struct sieve_result *res, const struct sieve_result *gres,
                       struct str msg, struct str seen, struct arena *a, const char *session)
{
	uint32_t n = res->edits + 1;
	struct str *hc = arena_zalloc(a, n * sizeof *hc), body = STR_NULL, b;
	uint8_t *done = arena_zalloc(a, n);
	struct str base = STR_NULL; /* the copy before any edit; p NULL: as received */

	if (gres) {
		header_at(gres, SIEVE_EDITS_LAST, msg, a, plan->account, session, &base, &b);
		if (base.len)
			body = b;
	}
	for (uint32_t i = 0; i < nd; i++) {
		uint32_t v = d[i].edits < res->edits ? d[i].edits : res->edits;
		if (!done[v]) {
			done[v] = 1;
			if (v == 0 && !res->message.p)
				hc[v] = base; /* nothing the script did yet */
			else {
				header_at(res, v, seen, a, plan->account, session, &hc[v], &b);
				if (hc[v].len)
					body = b;
			}
		}
		struct str h = hc[v];
		if (i == 0) {
			plan->own_header = h;
		} else if (h.p == plan->own_header.p) {
			more[i - 1].own_header = STR_NULL; /* the plan's blob */
		} else if (!h.len) {
			/* As received while the plan's is edited: that header,
			 * written as the script saw it before its edits. */
			header_at(res, 0, seen, a, plan->account, session, &h, &b);
			more[i - 1].own_header = h;
		} else {
			more[i - 1].own_header = h;
		}
	}
	plan->own_body = body;
}

/*
 * The message as res left it (edited_message), or as it was after edits
 * edits (edited_at), contiguous in a: the edited header on the body, or
 * the replacement (replace/enclose). msg itself when the script changed
 * nothing, or when the header is longer than it could see or the edited
 * one would not fit (as own_copy() leaves such copies).
 */
static struct str edited_at(const struct sieve_result *res, uint32_t edits, struct str msg,
                            struct arena *a)
{
	if (res->message.p)
		msg = res->message;
	if (!res->fields)
		return msg;
	ptrdiff_t body = sieve_body_offset(msg.p, msg.len);
	struct buf h;
	if (body < 0)
		return msg;
	buf_init(&h, SIEVE_HEADER_BYTES_MAX + 64 * 1024);
	if (sieve_header_write_at(res, edits, &h) < 0) {
		buf_free(&h);
		return msg;
	}
	size_t hl = buf_len(&h), bl = msg.len - (size_t)body;
	char *p = arena_alloc(a, hl + bl + 1);
	memcpy(p, buf_data(&h), hl);
	memcpy(p + hl, msg.p + body, bl);
	p[hl + bl] = '\0';
	buf_free(&h);
	return str_make(p, hl + bl);
}

static struct str edited_message(const struct sieve_result *res, struct str msg, struct arena *a)
{
	return edited_at(res, SIEVE_EDITS_LAST, msg, a);
}

/*
 * What a redirect run after edits edits carries (RFC 5293 §5): seen
 * before any edit of the script, cur (the message as left) at its last,
 * else the message at that point, written once for each point (cache:
 * res->edits + 1 entries) so that redirects of one point share it.
 */
static struct str redirect_message(const struct sieve_result *res, uint32_t edits, struct str seen,
                                   struct str cur, struct str *cache, struct arena *a)
{
	if (edits >= res->edits || !res->fields)
		return cur;
	if (edits == 0 && !res->message.p)
		return seen;
	if (!cache[edits].p)
		cache[edits] = edited_at(res, edits, seen, a);
	return cache[edits];
}

void deliver_sieve_plan(struct store *st, struct deliver_plan *plan, struct str msg,
                        struct str head, struct str env_from, struct str env_to, int spam_score,
                        int virus_score, struct arena *a, const char *session, int may_reject,
                        const struct deliver_sieve_dsn *dsn,
                        struct deliver_sieve_out *out)
{
	char name[STORE_SIEVE_NAME_MAX + 1], q[STORE_SIEVE_NAME_MAX * 4 + 8];
	struct deliver_sieve_reply **tail = &out->after;

	memset(out, 0, sizeof *out);
	struct mbctx mc = { .st = st, .account = plan->account, .a = a };
	struct sieve_env env = {
		.msg = msg.p, .len = msg.len, .env_from = env_from, .env_to = env_to,
		.now = (int64_t)time_wall(), .ctx = &mc, .mailbox_exists = mailbox_exists,
		.duplicate_seen = duplicate_seen, .include_text = include_text,
		.specialuse_exists = specialuse_exists, .mailboxid_exists = mailboxid_exists,
		.metadata = metadata_get,
		.spam_score = spam_score,
		.virus_score = virus_score,
		/* What the store writes in front: the head, then this
		 * account's own verdict fields (deliver.c's compose order). */
		.head = plan->own_fields.len
		            ? str_c(arena_printf(a, "%.*s%.*s", (int)head.len, head.p,
		                                 (int)plan->own_fields.len, plan->own_fields.p))
		            : head,
	};
	if (dsn) {
		env.dsn_notify = dsn->notify;
		env.dsn_orcpt = dsn->orcpt;
		env.dsn_ret = dsn->ret;
		env.dsn_envid = dsn->envid;
		env.by = (dsn->by & DELIVER_BY) != 0;
		env.by_return = (dsn->by & DELIVER_BY_RETURN) != 0;
		env.by_trace = (dsn->by & DELIVER_BY_TRACE) != 0;
		env.by_deadline = dsn->by_deadline;
		env.remote_ip = dsn->remote_ip;
		env.remote_host = dsn->remote_host;
		env.auth = dsn->auth;
	}
	sieve_env_host(&env, hostname_now()); /* environment "host", "domain" */
	struct sieve_result res, gres;
	/* The administrator's global script first: when it decides (an
	 * explicit keep, fileinto, discard, redirect, reject), that is the
	 * plan and the account's script does not run (a global fileinto
	 * "Junk" forces Junk); when it leaves the implicit keep, the
	 * account's script decides, on the message as the global one left
	 * it (its editheader, replace and enclose stand, RFC 5293 §4:
	 * later actions see the edited message). */
	int ran = run_active(st, STORE_SIEVE_GLOBAL, plan->account, &env, a, &res, name, session);
	int global = ran && !res.implicit_keep;
	int gedit = ran && !global && (res.fields || res.message.p);
	struct str seen = msg; /* the message the deciding script saw */
	if (gedit) {
		gres = res;
		seen = edited_message(&gres, msg, a);
		env.msg = seen.p;
		env.len = seen.len;
	}
	if (!global && !run_active(st, plan->account, plan->account, &env, a, &res, name, session)) {
		/* No active script, or it failed: the plan stands, with the
		 * global script's edits. */
		if (gedit)
			own_copy(plan, &gres, msg, a, session);
		return;
	}
	/* What notifications carry: the message as edited; redirects, as
	 * it was when each ran. */
	struct str cur = res.fields || res.message.p ? edited_message(&res, seen, a) : seen;
	struct str *rcache = arena_zalloc(a, (res.edits + 1) * sizeof *rcache);

	/* Where copies go, in the order of the actions: the first becomes
	 * the plan's own, the others its further copies. */
	uint32_t cap = res.nactions + 2, nd = 0;
	struct dest *d = arena_alloc(a, cap * sizeof *d);
	int fallback = 0;
	for (uint32_t i = 0; i < res.nactions; i++) {
		const struct sieve_action *x = &res.actions[i];
		switch (x->kind) {
		case SIEVE_ACT_KEEP:
			nd = dest_add(a, d, nd, STORE_TARGET_INBOX, STR_NULL, 0, x->flags, x->edits);
			break;
		case SIEVE_ACT_FILEINTO: {
			/* :mailboxid (RFC 9042 §4) and :specialuse (RFC 8579
			 * §4.1) name the mailbox when one has that id or use;
			 * else the name given stands. */
			struct str t = x->target;
			struct find_ctx f = { .id = x->mailboxid };
			int found = x->mailboxid.len && mailbox_search(&mc, &f);
			if (!found && x->specialuse.len && !is_junk(x)) {
				f = (struct find_ctx){ .use = x->specialuse };
				found = mailbox_search(&mc, &f);
			}
			if (found)
				t = str_c(arena_strdup(a, f.found));
			if (str_eq_ci(t, STR_LIT("INBOX")))
				nd = dest_add(a, d, nd, STORE_TARGET_INBOX, STR_NULL, 0, x->flags, x->edits);
			else if (!found && is_junk(x))
				nd = dest_add(a, d, nd, STORE_TARGET_JUNK, STR_NULL, 0, x->flags, x->edits);
			else if (t.len > 1000 || memchr(t.p, '\0', t.len)) {
				/* Not a name the store could hold: the INBOX (RFC 5228 §4.1). */
				log_info("deliver", session, "event=fileinto_fallback account=%u reason=bad_name",
				         plan->account);
				nd = dest_add(a, d, nd, STORE_TARGET_INBOX, STR_NULL, 0, x->flags, x->edits);
			} else
				nd = dest_add(a, d, nd, STORE_TARGET_INBOX, t, found ? 0 : x->create,
				              x->flags, x->edits);
			break;
		}
		case SIEVE_ACT_DISCARD:
		case SIEVE_ACT_ADDHEADER:
		case SIEVE_ACT_DELETEHEADER:
		case SIEVE_ACT_REPLACE:
		case SIEVE_ACT_ENCLOSE:
			break; /* the edited message is res.fields/res.message: own_copy() */
		case SIEVE_ACT_DUPLICATE:
			if ((*tail = duplicate_note(x, plan->account, session)))
				tail = &(*tail)->next;
			break;
		case SIEVE_ACT_REDIRECT: {
			/* The address as RCPT TO would have written it: the
			 * store's key for a local one, the queue's RCPT TO
			 * for an outside one ("john doe"@d keeps its quotes,
			 * "bob"@d is bob@d, RFC 5321 §4.1.2). */
			char tbuf[SMTP_ADDRESS_BUF];
			int tn = smtp_mailbox_address(x->target, tbuf, sizeof tbuf);
			struct str target = str_make(tbuf, tn > 0 ? (size_t)tn : 0);
			const char *why = tn > 0 ? redirect_refused(msg, env_to, target) : "bad_recipient";
			if (!why && out->nredirects >= DELIVER_SIEVE_REDIRECTS_MAX)
				why = "too_many";
			if (why) {
				log_info("deliver", session, "event=sieve_redirect_skipped account=%u reason=%s",
				         plan->account, why);
				fallback |= !x->copy;
				break;
			}
			out->redirect_notify[out->nredirects] = notify_bits(x->notify);
			out->redirect_ret[out->nredirects] = str_eq_ci(x->ret, STR_LIT("FULL")) ? 1
			                                     : str_eq_ci(x->ret, STR_LIT("HDRS")) ? -1 : 0;
			out->redirect_by[out->nredirects] =
				x->by ? DELIVER_BY | (x->by_return ? DELIVER_BY_RETURN : 0) |
						(x->by_trace ? DELIVER_BY_TRACE : 0)
				      : 0;
			out->redirect_by_deadline[out->nredirects] = x->by_deadline;
			struct str rm = redirect_message(&res, x->edits, seen, cur, rcache, a);
			out->redirect_msg[out->nredirects] = rm.p != msg.p ? rm : STR_NULL;
			out->redirects[out->nredirects++] = arena_strndup(a, target.p, target.len);
			break;
		}
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			if (may_reject) {
				/* One line of printable ASCII for the SMTP reply. */
				char *r = arena_alloc(a, 201);
				size_t k = 0;
				for (size_t j = 0; j < x->text.len && k < 200; j++) {
					char c = x->text.p[j];
					if (c == '\r' || c == '\n')
						break;
					r[k++] = c >= 0x20 && c < 0x7f ? c : '?';
				}
				r[k] = '\0';
				out->reject = k ? r : "Message rejected by the recipient's filter";
				break;
			}
			log_info("deliver", session, "event=sieve_action_skipped account=%u action=%s reason=not_alone",
			         plan->account, kind_names[x->kind]);
			fallback = 1;
			break;
		case SIEVE_ACT_NOTIFY:
			if ((*tail = notify(st, x, plan->account, cur, env_to, a, session)))
				tail = &(*tail)->next;
			break;
		case SIEVE_ACT_VACATION:
			/* The message as edited, as notify: RFC 5293 names vacation
			 * among the actions that examine the header as the script's
			 * editheader left it (a List-Id or Precedence it added
			 * stops the reply, a Subject it replaced is the one
			 * quoted). */
			if ((*tail = vacation(st, x, plan->account, cur, env_from, env_to, a, session)))
				tail = &(*tail)->next;
			break;
		default: {
			/* An action this stage does not know: logged; the copy
			 * still lands somewhere (the implicit keep or below). */
			unsigned k = (unsigned)x->kind;
			log_info("deliver", session, "event=sieve_action_skipped account=%u action=%s reason=not_supported",
			         plan->account,
			         k < sizeof kind_names / sizeof kind_names[0] && kind_names[k] ? kind_names[k] : "?");
			break;
		}
		}
	}
	if (out->reject) {
		plan->discard = 1;
		log_info("deliver", session, "event=sieve account=%u script=%s%s result=reject steps=%llu",
		         plan->account, log_q(name, q, sizeof q), global ? " global=1" : "",
		         (unsigned long long)res.steps);
		deliver_sieve_reply_free(out->after);
		out->after = NULL;
		out->nredirects = 0;
		return;
	}
	/* The implicit keep (also beside fileinto :copy) keeps the default
	 * folder, Junk for a quarantine. */
	if (res.implicit_keep) {
		struct str none = STR_NULL;
		nd = dest_add(a, d, nd, plan->folder, none, 0, res.keep_flags, SIEVE_EDITS_LAST);
		d[nd - 1].is_default = 1;
	} else if (!nd && fallback) {
		nd = dest_add(a, d, nd, STORE_TARGET_INBOX, STR_NULL, 0, STR_NULL, SIEVE_EDITS_LAST);
	}
	const char *base = plan->keywords;
	if (!nd) {
		plan->discard = 1;
	} else {
		struct deliver_copy *more = nd > 1 ? arena_alloc(a, (nd - 1) * sizeof *more) : NULL;
		for (uint32_t i = 0; i < nd; i++) {
			/* An explicit choice other than Junk overrides a Junk
			 * default and its $Junk; the default keywords stay with
			 * the script's flags otherwise. */
			const char *kw = base;
			if (!d[i].is_default && plan->folder == STORE_TARGET_JUNK &&
			    (d[i].name || d[i].folder != STORE_TARGET_JUNK))
				kw = NULL;
			if (d[i].flags.len)
				kw = flags_to_keywords(a, kw, d[i].flags);
			if (i == 0) {
				plan->folder = d[i].folder;
				plan->mailbox = d[i].name;
				plan->create = d[i].create;
				plan->keywords = kw;
			} else {
				more[i - 1] = (struct deliver_copy){ d[i].folder, d[i].name, d[i].create, kw,
				                                     STR_NULL };
			}
		}
		plan->more = more;
		plan->nmore = nd - 1;
		if (res.fields || res.message.p)
			own_copies(plan, more, d, nd, &res, gedit ? &gres : NULL, msg, seen, a, session);
		else if (gedit)
			own_copy(plan, &gres, msg, a, session);
	}
	log_info("deliver", session, "event=sieve account=%u script=%s%s result=%s copies=%u redirects=%u%s steps=%llu",
	         plan->account, log_q(name, q, sizeof q), global ? " global=1" : "",
	         plan->discard ? "discard" : plan->mailbox ? "mailbox" : plan->folder == STORE_TARGET_JUNK ? "junk" : "inbox",
	         nd, out->nredirects, fallback ? " fallback=inbox" : "", (unsigned long long)res.steps);
}

/* The scripts one script includes by a constant name (RFC 6609). */
struct includes {
	uint32_t acc[SIEVE_INCLUDES_MAX], account;
	char name[SIEVE_INCLUDES_MAX][STORE_SIEVE_NAME_MAX + 1];
	size_t n;
};

static void include_cb(void *arg, int kind, struct str target, int create, uint32_t line, uint32_t col)
{
	struct includes *in = arg;
	(void)create;
	(void)line;
	(void)col;
	if ((kind != SIEVE_TARGET_INCLUDE && kind != SIEVE_TARGET_INCLUDE_GLOBAL) ||
	    in->n == SIEVE_INCLUDES_MAX || target.len > STORE_SIEVE_NAME_MAX ||
	    memchr(target.p, '\0', target.len))
		return;
	in->acc[in->n] = kind == SIEVE_TARGET_INCLUDE_GLOBAL ? STORE_SIEVE_GLOBAL : in->account;
	memcpy(in->name[in->n], target.p, target.len);
	in->name[in->n++][target.len] = '\0';
}

/*
 * 1 when text, or a script it includes (as a run would, SIEVE_INCLUDES_MAX
 * scripts SIEVE_INCLUDE_DEPTH_MAX deep at most: *budget counts them),
 * requires reject or ereject. A filter the vacation response includes
 * (jmap_vacation.c) can reject, though the active script cannot.
 */
static int text_may_reject(struct store *st, uint32_t account, const struct buf *text, int depth,
                           int *budget)
{
	char err[SIEVE_ERROR_MAX];
	struct sieve_ref *ref = NULL;
	struct includes *in = NULL;
	const struct sieve_script *s = sieve_cache_get(buf_data(text), buf_len(text), err, &ref);
	int may = s && (sieve_script_requires(s, "reject") || sieve_script_requires(s, "ereject"));
	if (s && !may && depth < SIEVE_INCLUDE_DEPTH_MAX && sieve_script_requires(s, "include")) {
		in = xcalloc(1, sizeof *in);
		in->account = account;
		sieve_script_targets(s, include_cb, in);
	}
	sieve_cache_release(&ref);
	for (size_t i = 0; in && i < in->n && !may && *budget > 0; i++) {
		struct buf t;
		(*budget)--;
		buf_init(&t, STORE_SIEVE_BYTES_MAX);
		if (store_sieve_get(st, in->acc[i], in->name[i], &t, NULL) == STORE_OK)
			may = text_may_reject(st, account, &t, depth + 1, budget);
		buf_free(&t);
	}
	free(in);
	return may;
}

int deliver_sieve_may_reject(struct store *st, uint32_t account)
{
	struct buf text;
	int may = 0;

	/* The global script's reject counts for every account. */
	uint32_t which[2] = { STORE_SIEVE_GLOBAL, account };
	for (int i = 0; i < 2 && !may; i++) {
		int budget = SIEVE_INCLUDES_MAX;
		buf_init(&text, STORE_SIEVE_BYTES_MAX);
		if (store_sieve_active(st, which[i], &text, NULL) == STORE_OK)
			may = text_may_reject(st, account, &text, 0, &budget);
		buf_free(&text);
	}
	return may;
}
