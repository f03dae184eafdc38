/*
 * smtp_spam.c — port 25's spam stage (smtp_spam.h): the blocklist
 * lookups of the client from the connect on, the recipients' spam policy
 * at RCPT, and at the end of DATA the score, the decision and its
 * rendering.
 *
 * The end of DATA waits (the session is in SMTP_S_WAIT_STORE, reading
 * paused) for the IP lookups started at connect and the domain lookups
 * of the envelope sender and From domains, all on the loop's resolver
 * and bounded by its timeouts; then everything else is a few LMDB reads
 * and arithmetic (well under a millisecond), so it runs inline. The
 * content's analysis (parse, rules, classifiers) runs inline too for a
 * message up to SPAM_INLINE_BYTES, on the worker pool above that. The
 * greylisting record is written by the worker pool so the loop never
 * waits for a commit; the 451 does not depend on it.
 *
 * The lists and traps are read from meta per message (spam_settings.h),
 * so an administrator's change applies to the next message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "dns/psl.h"
#include "mime/mime_field.h"
#include "mime/rfc5322.h"
#include "net/conn.h"
#include "policy/policy.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_spam.h"
#include "spam/spam_grey.h"
#include "spam/spam_learn.h"
#include "spam/spam_lists.h"
#include "spam/spam_pipeline.h"
#include "spam/spam_sent.h"
#include "spam/spam_recent.h"
#include "spam/spam_rep.h"
#include "spam/spam_settings.h"

#define FIELDS_MAX 8192
/*
 * The largest message analysed on the loop. The analysis costs about
 * 25 us a KiB (measured through tern serve, 4 senders, the worker's CPU
 * per message: 2 KB 80 us, 8 KB 220 us, 32 KB 720 us, 128 KB 2.6 ms), so
 * up to this size it stays well under the millisecond a loop may spend
 * (DESIGN.md §3), and most mail is smaller.
 */
#define SPAM_INLINE_BYTES (16 * 1024)
/* Every 64 writes, a sweep reads the next 2000 records of the table (not
 * all of them): about 31 reads a write, whatever the table's size, and
 * the whole table read once per 2000/64 new records at most. */
#define GREY_SWEEP_EVERY 64
#define GREY_SWEEP_VISIT 2000

struct smtp_spam {
	struct smtp_session *s;
	struct spam_settings set;
	struct spam_conn_in in;
	const char *fields;
	int junk;
	int waiting;
	int analyse_failed;
	struct spam_result *res; /* the message's rules: content, connection, lists */
	struct spam_msg *msg;  /* the content's view, from the worker */
	/* Per recipient account (tx->accounts; the first recipient's account
	 * when none): the classifier's rules from its own model. */
	struct spam_result *own;
	uint32_t *own_account;
	unsigned nown;
	struct spam_flags flags;
	struct worker_job wj;
	char author[256];
	char from_addr[SPAM_LIST_ENTRY_MAX];
	struct spam_dnsbl_run *uri;  /* the domain lists */
	struct spam_dnsbl_run *hash; /* the hash lists */
	struct spam_hashbl_subjects *subj; /* what they are asked (when there are some) */
	struct dns_resolver resolver;
};

/* ---- connect ---- */

static void finish(struct smtp_spam *sp);

static void ip_done(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_spam *sp = s->in_tx ? s->tx.spam : NULL;
	if (sp && sp->waiting && spam_dnsbl_pending(s->dnsbl) == 0 &&
	    spam_dnsbl_pending(sp->uri) == 0 && spam_dnsbl_pending(sp->hash) == 0)
		finish(sp);
}

/* setting/spam_filter is "off": one read, not the whole spam_settings_load. */
static int filter_off(void)
{
	char v[16];
	spam_setting_text(smtp_store, "setting/spam_filter", v, sizeof v, NULL);
	return strcmp(v, "off") == 0;
}

void smtp_spam_connect(struct smtp_session *s)
{
	struct dns *d = dns_thread();
	if (!d || s->mode != SMTP_MODE_MX || filter_off())
		return;
	struct spam_dnsbl_conf *conf = xmalloc(sizeof *conf);
	spam_settings_dnsbl(smtp_store, conf);
	s->dnsbl_resolver = dns_resolver_of(d);
	s->dnsbl = spam_dnsbl_start(&s->dnsbl_resolver, conf, s->conn->peer_ip, NULL, NULL, 0,
				    ip_done, s);
	free(conf);
}

void smtp_spam_session_free(struct smtp_session *s)
{
	spam_dnsbl_free(&s->dnsbl);
}

void smtp_spam_tx_free(struct smtp_tx *tx)
{
	struct smtp_spam *sp = tx->spam;
	if (!sp)
		return;
	spam_dnsbl_free(&sp->uri);
	spam_dnsbl_free(&sp->hash);
	free(sp->subj);
	spam_msg_free(&sp->msg);
	free(sp->res);
	free(sp->own);
	free(sp->own_account);
	free(sp);
	tx->spam = NULL;
}

/* ---- RCPT ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static uint64_t list_hash(uint64_t h, const char *name)
{
	char *text = xmalloc(SPAM_LIST_MAX + 1);
	spam_setting_text(smtp_store, name, text, SPAM_LIST_MAX + 1, NULL);
	h = fnv(h, text);
	free(text);
	return h;
}

/* What makes one recipient's verdict differ from another's. The
 * postmaster is not in it: a transaction that includes the postmaster is
 * never refused (Junk at worst) rather than sending the postmaster away,
 * as RCPT always accepts the postmaster at once (RFC 5321 §4.5.1). */
static uint64_t policy_key(uint32_t account, const char *domain, int trap)
{
	char name[160], scope[32];
	uint64_t h = 0xcbf29ce484222325ull;
	snprintf(scope, sizeof scope, "u%u", account);
	for (int allow = 0; allow < 2; allow++) {
		if (spam_list_name(allow, scope, name, sizeof name) == 0)
			h = list_hash(h, name);
		if (spam_list_name(allow, domain, name, sizeof name) == 0)
			h = list_hash(h, name);
	}
	return fnv(h, trap ? "trap" : "-");
}

static int is_trap(const char *addr)
{
	/* the whole list the API accepts: a value longer than the buffer
	 * does not read at all, and every trap would be off */
	char *traps = xmalloc(SPAM_LIST_MAX + 1);
	struct spam_subject sub = {.mail_from = addr};
	spam_setting_text(smtp_store, "setting/spam_traps", traps, SPAM_LIST_MAX + 1, NULL);
	int hit = traps[0] && spam_list_match(traps, &sub, 0, NULL, 0);
	free(traps);
	return hit;
}

int smtp_spam_rcpt(struct smtp_session *s, const char *addr, const uint32_t *ids, size_t n,
		   int postmaster)
{
	struct smtp_tx *tx = &s->tx;
	if (s->mode != SMTP_MODE_MX || n == 0)
		return 0;
	const char *at = strrchr(addr, '@');
	const char *domain = at ? at + 1 : "";
	int trap = is_trap(addr);
	uint64_t key = policy_key(ids[0], domain, trap);
	for (size_t i = 1; i < n; i++)
		if (policy_key(ids[i], domain, trap) != key)
			key ^= 1; /* an alias to accounts with different lists: on its own */
	if (!tx->spam_key_set) {
		tx->spam_key_set = 1;
		tx->spam_key = key;
		tx->spam_account = ids[0];
		tx->spam_domain = arena_strdup(tx->arena, domain);
		tx->spam_trap = trap;
	}
	if (key == tx->spam_key) {
		tx->spam_postmaster |= postmaster;
		return 0;
	}
	char q[600];
	log_info("smtp", s->id, "event=rcpt_deferred rcpt=%s reason=spam_policy_differs",
		 log_q(addr, q, sizeof q));
	smtp_reply(s, "452 4.5.3 <%s>: Send this recipient again in its own transaction", addr);
	smtp_rcpt_put_off(s);
	return -1;
}

/* ---- end of DATA ---- */

/* The first From address, "local@domain", into out ("" when none). */
static void from_address(struct smtp_tx *tx, char *out, size_t outsz)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	const char *msg = tx->data.p + tx->header_len;
	size_t len = tx->data.len - tx->header_len;

	out[0] = '\0';
	rfc5322_init(&p);
	while (rfc5322_parse(&p, msg + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (!str_eq_ci_c(f.name, "From"))
			continue;
		char *v = arena_alloc(tx->arena, f.value.len + 1);
		struct mime_address *a = NULL;
		uint32_t na = 0;
		mime_field_addresses(tx->arena, str_make(v, rfc5322_unfold(f.value, v)), &a, &na, 4);
		for (uint32_t i = 0; i < na; i++)
			if (a[i].mailbox.len && a[i].host.len) {
				snprintf(out, outsz, "%.*s@%.*s", (int)a[i].mailbox.len, a[i].mailbox.p,
					 (int)a[i].host.len, a[i].host.p);
				break;
			}
		break;
	}
	rfc5322_clear(&p);
}

static void lists(struct smtp_spam *sp, struct spam_result *res)
{
	struct smtp_session *s = sp->s;
	struct smtp_tx *tx = &s->tx;
	struct spam_subject sub = {
	    .ip = s->conn_gone ? "" : s->conn->peer_ip,
	    .mail_from = tx->mail_from,
	    .mail_from_verified = sp->in.spf == SPAM_AUTH_PASS,
	    .from = sp->from_addr,
	    .from_verified = sp->in.dmarc == SPAM_AUTH_PASS,
	};
	char scope[32], name[160], hit[SPAM_LIST_ENTRY_MAX], desc[SPAM_RULE_DESC_MAX];
	const char *scopes[3] = {"*", tx->spam_domain ? tx->spam_domain : "", scope};
	static const char *const rules[2][3] = {
	    {"BLOCK_LISTED_GLOBAL", "BLOCK_LISTED_DOMAIN", "BLOCK_LISTED_USER"},
	    {"ALLOW_LISTED_GLOBAL", "ALLOW_LISTED_DOMAIN", "ALLOW_LISTED_USER"},
	};
	char *text = xmalloc(SPAM_LIST_MAX + 1);

	snprintf(scope, sizeof scope, "u%u", tx->spam_account);
	for (int allow = 1; allow >= 0; allow--)
		for (int i = 0; i < 3; i++) {
			if (!*scopes[i] || spam_list_name(allow, scopes[i], name, sizeof name) < 0)
				continue;
			spam_setting_text(smtp_store, name, text, SPAM_LIST_MAX + 1, NULL);
			if (!text[0] || !spam_list_match(text, &sub, allow, hit, sizeof hit))
				continue;
			snprintf(desc, sizeof desc, "%s list entry %.60s", allow ? "allow" : "block", hit);
			spam_result_add_desc(res, rules[allow][i], 0, desc);
			if (allow)
				sp->flags.allowed = 1;
			else
				sp->flags.blocked = 1;
		}
	free(text);
}

struct grey_job {
	struct worker_job wj;
	struct store *st;
	size_t n;
	char (*keys)[SPAM_GREY_KEY_MAX];
	struct spam_grey_rec *recs;
};

static void grey_write_run(void *arg)
{
	static unsigned writes;
	struct grey_job *j = arg;
	for (size_t i = 0; i < j->n; i++)
		spam_grey_write(j->st, j->keys[i], &j->recs[i]);
	if (__atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED) % GREY_SWEEP_EVERY == 0)
		spam_grey_sweep(j->st, time_wall(), GREY_SWEEP_VISIT);
}

static void grey_write_done(void *arg)
{
	struct grey_job *j = arg;
	free(j->keys);
	free(j->recs);
	free(j);
}

/* Greylisting: 1 when the message must wait (451), 0 to go on. */
static int greylisted(struct smtp_spam *sp)
{
	struct smtp_session *s = sp->s;
	struct smtp_tx *tx = &s->tx;
	if (!sp->set.greylist || s->authenticated || sp->flags.allowed || s->conn_gone)
		return 0;
	const char *at = strrchr(tx->mail_from, '@');
	if (sp->in.spf == SPAM_AUTH_PASS && at && policy_domain_listed(sp->set.greylist_good, at + 1))
		return 0;
	int64_t now = time_wall();
	int wait = 0;
	struct grey_job *j = xcalloc(1, sizeof *j);
	j->st = smtp_store;
	j->keys = xcalloc(tx->nrcpts ? tx->nrcpts : 1, SPAM_GREY_KEY_MAX);
	j->recs = xcalloc(tx->nrcpts ? tx->nrcpts : 1, sizeof *j->recs);
	for (unsigned r = 0; r < tx->nrcpts; r++) {
		struct spam_grey_rec rec, next;
		int write = 0;
		spam_grey_key(s->conn->peer_ip, tx->mail_from, tx->rcpts[r].address, j->keys[j->n]);
		int found = spam_grey_read(smtp_store, j->keys[j->n], now, &rec);
		if (found < 0)
			continue; /* a store error never holds mail back */
		if (spam_grey_decide(found ? &rec : NULL, now, sp->set.greylist_delay, &next, &write) !=
		    SPAM_GREY_PASS)
			wait = 1;
		if (write)
			j->recs[j->n++] = next;
	}
	if (j->n && worker_pool_running()) {
		j->wj.fn = grey_write_run;
		j->wj.done = grey_write_done;
		j->wj.arg = j;
		worker_submit(&j->wj);
	} else {
		if (j->n)
			grey_write_run(j);
		grey_write_done(j);
	}
	return wait;
}

/* ---- learning from the filter's own verdicts: traps and strong listings only ---- */

struct learn_job {
	struct worker_job wj;
	struct store *st;
	struct spam_msg *msg;
};

static void learn_run(void *arg)
{
	struct learn_job *j = arg;
	spam_train_trap(j->st, j->msg);
}

static void learn_done(void *arg)
{
	struct learn_job *j = arg;
	spam_msg_free(&j->msg);
	free(j);
}

/*
 * The global model learns spam from a message to a spam trap, or one
 * listed by SPAM_LEARN_LISTINGS blocklists with a weight of
 * SPAM_LEARN_WEIGHT or more each: never from the score itself
 * (self-learning drifts). The view moves to the job.
 */
#define SPAM_LEARN_LISTINGS 2
#define SPAM_LEARN_WEIGHT 4.0
static void learn(struct smtp_spam *sp)
{
	unsigned strong = 0;
	for (uint32_t i = 0; i < sp->res->nrules; i++) {
		const struct spam_rule *r = &sp->res->rules[i];
		strong += (strncmp(r->name, "RBL_", 4) == 0 || strncmp(r->name, "URIBL_", 6) == 0) &&
			  r->weight >= SPAM_LEARN_WEIGHT;
	}
	if (!sp->msg || sp->flags.allowed || (!sp->flags.trap && strong < SPAM_LEARN_LISTINGS))
		return;
	struct smtp_tx *tx = &sp->s->tx;
	const char *reason = sp->flags.trap ? "trap" : "blocklists";
	if (!spam_learn_own_first(tx->data.p + tx->header_len, tx->data.len - tx->header_len)) {
		log_info("smtp", sp->s->id, "event=spam_learn kind=spam model=global reason=%s what=known",
			 reason);
		return; /* a retry or a campaign's next copy: learned already */
	}
	log_info("smtp", sp->s->id, "event=spam_learn kind=spam model=global reason=%s", reason);
	struct learn_job *j = xcalloc(1, sizeof *j);
	j->st = smtp_store;
	j->msg = sp->msg;
	sp->msg = NULL;
	j->wj.fn = learn_run;
	j->wj.done = learn_done;
	j->wj.arg = j;
	if (worker_pool_running()) {
		worker_submit(&j->wj);
	} else {
		learn_run(j);
		learn_done(j);
	}
}

static void note(struct smtp_spam *sp, const struct spam_result *res)
{
	struct smtp_session *s = sp->s;
	struct smtp_tx *tx = &s->tx;
	struct buf log;
	buf_init(&log, 4096);
	spam_pipeline_log(res, &log);
	tx->auth_log = arena_printf(tx->arena, "%s%.*s", tx->auth_log ? tx->auth_log : "",
				    (int)buf_len(&log), buf_data(&log));
	buf_free(&log);
	tx->spam_recent_seq = spam_recent_add(s->conn_gone ? "" : s->conn->peer_ip, tx->mail_from,
					      tx->nrcpts ? tx->rcpts[0].address : "",
					      tx->spam_account, res);
}

static void refuse(struct smtp_spam *sp, const struct verdict *v)
{
	struct smtp_session *s = sp->s;
	char q[600];
	log_info("smtp", s->id, "event=message_rejected reason=%s from=%s size=%zu%s", v->reason,
		 log_q(s->tx.mail_from, q, sizeof q), s->tx.data.len, s->tx.auth_log);
	metrics_inc(METRIC_REJECTED);
	if (!s->conn_gone)
		smtp_reply_verdict(s, v);
	s->tx.refused = 1;
	smtp_tx_committed(s);
}

static const struct verdict v_spam = {550, "5.7.1", "Message refused as spam", "spam"};
static const struct verdict v_blocked = {550, "5.7.1", "Message refused: sender is blocked",
					 "spam_blocked"};
static const struct verdict v_grey = {451, "4.7.1", "Greylisted, please try again later",
				      "greylisted"};

/* The reputation keys of this message (spam_rep.h): the client's network
 * and the authenticated sender domain. */
static void rep_keys(struct smtp_spam *sp, char *ip, char *dom)
{
	struct smtp_session *s = sp->s;
	const char *at = strrchr(s->tx.mail_from, '@');
	const char *d = sp->in.dmarc == SPAM_AUTH_PASS && sp->author[0] ? sp->author
			: sp->in.spf == SPAM_AUTH_PASS && at && at[1] ? at + 1
								      : NULL;
	spam_rep_ip_key(s->conn_gone ? NULL : s->conn->peer_ip, ip, SPAM_REP_KEY_MAX);
	spam_rep_domain_key(d, dom, SPAM_REP_KEY_MAX);
}

/* Adds the reputation rules; returns their weight. */
static double reputation(struct smtp_spam *sp, struct spam_result *res)
{
	char ip[SPAM_REP_KEY_MAX], dom[SPAM_REP_KEY_MAX];
	if (!sp->set.reputation)
		return 0;
	rep_keys(sp, ip, dom);
	int64_t now = time_wall();
	return spam_rep_rule(ip, "IP_REPUTATION", now, res) +
	       spam_rep_rule(dom, "DOMAIN_REPUTATION", now, res);
}

struct rep_save_job {
	struct worker_job wj;
	struct store *st;
};

static void rep_save_run(void *arg)
{
	struct rep_save_job *j = arg;
	if (spam_rep_save(j->st, time_wall()) != STORE_OK)
		log_warn("smtp", NULL, "event=reputation_save_failed");
}

static void rep_save_done(void *arg)
{
	free(arg);
}

/* Notes the verdict the message had without its reputation (so a
 * reputation never feeds itself): spam at or over the tag threshold, and
 * a spam trap's message, spam by definition whatever it scored (counted
 * by its score, a trap fed its low-scoring senders ham). Every
 * SPAM_REP_SAVE_EVERY verdicts the table is saved, on the pool. */
static void reputation_note(struct smtp_spam *sp, double score)
{
	char ip[SPAM_REP_KEY_MAX], dom[SPAM_REP_KEY_MAX];
	if (!sp->set.reputation)
		return;
	rep_keys(sp, ip, dom);
	int64_t now = time_wall();
	int is_spam = score >= sp->set.th.tag || (sp->flags.trap && !sp->flags.allowed);
	spam_rep_note(ip, is_spam, now);
	spam_rep_note(dom, is_spam, now);
	if (!spam_rep_save_due() || !worker_pool_running())
		return;
	struct rep_save_job *j = xcalloc(1, sizeof *j);
	j->st = smtp_store;
	j->wj.fn = rep_save_run;
	j->wj.done = rep_save_done;
	j->wj.arg = j;
	worker_submit(&j->wj);
}

/* What the filter saw of the sender (its reputation keys), kept with the
 * copies (store_delivery.spam_from): a user's later correction goes to
 * these, never to what the stored message's fields claim (spam_learn.c). */
static void keep_sender(struct smtp_spam *sp)
{
	struct smtp_tx *tx = &sp->s->tx;
	char ip[SPAM_REP_KEY_MAX], dom[SPAM_REP_KEY_MAX];
	rep_keys(sp, ip, dom);
	tx->spam_from = arena_printf(tx->arena, "%s\n%s", ip, dom);
}

/* Recipient i's result: the message's rules and its own classifier's. */
static void result_of(struct smtp_spam *sp, unsigned i, struct spam_result *out)
{
	*out = *sp->res;
	const struct spam_result *o = &sp->own[i];
	for (uint32_t k = 0; k < o->nrules; k++)
		spam_result_add_desc(out, o->rules[k].name, o->rules[k].weight, o->rules[k].desc);
	out->dropped += o->dropped;
}

static const char *fields_of(struct smtp_spam *sp, const struct spam_result *res)
{
	struct smtp_tx *tx = &sp->s->tx;
	struct buf f;
	buf_init(&f, FIELDS_MAX);
	if (spam_pipeline_fields(res, &sp->set.th, &sp->flags, &f) < 0)
		buf_reset(&f); /* cannot happen within FIELDS_MAX; never refuse for it */
	const char *r = arena_printf(tx->arena, "%.*s", (int)buf_len(&f), buf_data(&f));
	buf_free(&f);
	return r;
}

/*
 * The recipients' verdicts when their own models made them differ: the
 * message is refused only when every recipient's verdict refuses it (a
 * recipient whose verdict is reject among others that accept gets it in
 * Junk: never accept-then-bounce), and each account gets its own folder,
 * X-Spam-* fields and spamtest (smtp_tx.spam_own). first is recipient
 * 0's result, decided. Returns 1 when they differ, 0 when one verdict holds.
 */
static int own_verdicts(struct smtp_spam *sp, const struct spam_result *first)
{
	struct smtp_tx *tx = &sp->s->tx;
	if (sp->nown < 2)
		return 0;
	struct spam_result *r = xmalloc(sizeof *r);
	struct smtp_spam_own *own = arena_alloc(tx->arena, sp->nown * sizeof *own);
	const char **verdict = arena_alloc(tx->arena, sp->nown * sizeof *verdict);
	double *score = arena_alloc(tx->arena, sp->nown * sizeof *score);
	const char *f0 = fields_of(sp, first);
	int differ = 0, all_reject = first->verdict == SPAM_REJECT;
	for (unsigned i = 0; i < sp->nown; i++) {
		result_of(sp, i, r);
		enum spam_verdict v = spam_pipeline_decide(r, &sp->set.th, &sp->flags);
		all_reject &= v == SPAM_REJECT;
		if (v == SPAM_REJECT)
			r->verdict = SPAM_TAG; /* accepted for the others: into Junk */
		own[i].junk = v == SPAM_DISCARD ? 2 : (v != SPAM_HAM || sp->junk);
		own[i].spamtest = spam_pipeline_spamtest(r, &sp->set.th, &sp->flags);
		own[i].fields = fields_of(sp, r);
		differ |= strcmp(own[i].fields, f0) != 0;
		verdict[i] = spam_verdict_name(r->verdict);
		score[i] = r->score;
	}
	free(r);
	if (!differ || all_reject)
		return 0;
	tx->spam_own = own;
	/* The message's log record has the first recipient's verdict: say
	 * each account's where they differ. */
	for (unsigned i = 0; i < sp->nown; i++)
		log_info("smtp", sp->s->id, "event=spam_verdict account=%u spam=%s spam_score=%.2f",
			 sp->own_account[i], verdict[i], score[i]);
	return 1;
}

/* Every signal is in: decide, then deliver, refuse or greylist. */
static void finish(struct smtp_spam *sp)
{
	struct smtp_session *s = sp->s;
	struct smtp_tx *tx = &s->tx;
	struct spam_result *res = sp->res;

	sp->waiting = 0;
	spam_conn_rules(&sp->in, res);
	spam_dnsbl_result(s->dnsbl, res);
	spam_dnsbl_result(sp->uri, res);
	spam_dnsbl_result(sp->hash, res);
	if (tx->spam_trap) {
		sp->flags.trap = 1;
		spam_result_add_desc(res, "SPAM_TRAP", 0, "sent to a spam trap");
	}
	lists(sp, res);
	double rep = reputation(sp, res);
	sp->flags.postmaster = tx->spam_postmaster;
	/* The first recipient's result stands for the message (the log, the
	 * recent decisions, reputation, learning); the others' only where
	 * their own models make them differ (own_verdicts). */
	struct spam_result *first = xmalloc(sizeof *first);
	result_of(sp, 0, first);
	enum spam_verdict v = spam_pipeline_decide(first, &sp->set.th, &sp->flags);
	reputation_note(sp, first->score - rep);
	keep_sender(sp);
	/* What the recipients' Sieve spamtest sees (deliver_sieve.h). */
	tx->sieve_spamtest = spam_pipeline_spamtest(first, &sp->set.th, &sp->flags);
	note(sp, first);
	learn(sp);
	int differ = own_verdicts(sp, first);
	if (v == SPAM_REJECT && !differ) {
		free(first);
		refuse(sp, sp->flags.blocked ? &v_blocked : &v_spam);
		return;
	}
	int all_discard = v == SPAM_DISCARD && !differ;
	if (!all_discard && greylisted(sp)) {
		free(first);
		tx->spam_own = NULL;
		spam_recent_set_action(tx->spam_recent_seq, "greylist");
		refuse(sp, &v_grey);
		return;
	}
	if (!differ)
		tx->spam_fields = fields_of(sp, first);
	free(first);
	smtp_tx_store(s, sp->fields, differ ? sp->junk : all_discard ? 2 : (v == SPAM_TAG || sp->junk));
}

/* Waits for the blocklists when they still run. */
static void lookups(struct smtp_spam *sp)
{
	struct smtp_session *s = sp->s;
	struct smtp_tx *tx = &s->tx;
	const char *doms[SPAM_DNSBL_SUBJECTS_MAX];
	char base[SPAM_DNSBL_SUBJECTS_MAX][256];
	size_t nd = 0;

	/* The domains that speak for the sender, then the links' registrable
	 * domains: domain lists (DBL, URIBL) list what was registered, not
	 * host names. */
	const char *at = strrchr(tx->mail_from, '@');
	if (at && at[1])
		doms[nd++] = at + 1;
	if (sp->author[0])
		doms[nd++] = sp->author;
	for (uint32_t i = 0; sp->msg && i < sp->msg->nurls && nd < SPAM_DNSBL_SUBJECTS_MAX; i++) {
		const struct spam_url *u = &sp->msg->urls[i];
		if (!u->host.len || (u->flags & SPAM_URL_IP) ||
		    psl_registrable_lower(u->host, PSL_PRIVATE, base[nd], sizeof base[nd]) < 0)
			continue;
		int seen = 0;
		for (size_t k = 0; k < nd && !seen; k++)
			seen = strcasecmp(doms[k], base[nd]) == 0;
		if (!seen) {
			doms[nd] = base[nd];
			nd++;
		}
	}
	struct dns *d = dns_thread();
	if (d)
		sp->resolver = dns_resolver_of(d);
	if (d && sp->set.uribl.n && nd)
		sp->uri = spam_dnsbl_start(&sp->resolver, NULL, NULL, &sp->set.uribl, doms, nd, ip_done, s);
	if (d && sp->subj && (sp->subj->nemails || sp->subj->nfiles || sp->subj->nwallets))
		sp->hash = spam_hashbl_start(&sp->resolver, &sp->set.hashbl, sp->subj, ip_done, s);
	if (spam_dnsbl_pending(s->dnsbl) || spam_dnsbl_pending(sp->uri) ||
	    spam_dnsbl_pending(sp->hash)) {
		sp->waiting = 1; /* ip_done goes on */
		return;
	}
	finish(sp);
}

/* The content: the message view, the rules and the classifier (spam.h). */
static void analyse_run(void *arg)
{
	struct smtp_spam *sp = arg;
	struct smtp_tx *tx = &sp->s->tx;
	spam_msg_new_delivered(tx->mail_from, tx->data.p + tx->header_len,
			       tx->data.len - tx->header_len,
			       spam_settings_digests(smtp_store, &sp->set) ? SPAM_VIEW_DIGESTS : 0,
			       &sp->msg);
	/* One parse and one tokenization, then each recipient account's
	 * model (with the global one) in turn. */
	if (sp->set.hashbl.n)
		sp->subj = xmalloc(sizeof *sp->subj);
	spam_analyse_rules(smtp_store, sp->msg, sp->res, sp->subj);
	struct spam_features *f = spam_features_new(sp->msg);
	for (unsigned i = 0; i < sp->nown; i++) {
		spam_result_init(&sp->own[i]);
		if (spam_classify(smtp_store, sp->own_account[i], f, &sp->own[i]) != 0)
			sp->analyse_failed = 1;
	}
	spam_features_free(&f);
	sp->in.reply_to_sent = spam_sent_is_reply(smtp_store, tx->spam_account,
						  tx->data.p + tx->header_len,
						  tx->data.len - tx->header_len);
}

static void analyse_done(void *arg)
{
	struct smtp_spam *sp = arg;
	if (sp->analyse_failed)
		log_warn("smtp", sp->s->id, "event=spam_model_unreadable");
	lookups(sp);
}

void smtp_spam_message(struct smtp_session *s, const struct spam_conn_in *in, const char *author,
		       const char *fields, int junk)
{
	struct smtp_tx *tx = &s->tx;
	const char *bad = NULL;

	/* Nothing to score: the settings (a dozen reads and the zone lists
	 * parsed, 68 k instructions a message) are not loaded either. */
	if (s->authenticated || filter_off()) {
		smtp_tx_store(s, fields, junk);
		return;
	}
	struct smtp_spam *sp = xcalloc(1, sizeof *sp);
	tx->spam = sp;
	sp->s = s;
	sp->in = *in;
	sp->fields = fields;
	sp->junk = junk;
	spam_settings_load(smtp_store, &sp->set, &bad);
	if (bad)
		log_warn("smtp", s->id, "event=setting_ignored name=%s reason=unparsable", bad);
	if (!sp->set.enabled) {
		smtp_tx_store(s, fields, junk);
		return;
	}
	snprintf(sp->author, sizeof sp->author, "%s", author ? author : "");
	from_address(tx, sp->from_addr, sizeof sp->from_addr);
	sp->res = xmalloc(sizeof *sp->res);
	spam_result_init(sp->res);
	/* The recipient accounts in tx->accounts' order (the first is the
	 * first recipient's, tx->spam_account); forwards only: that one. */
	sp->nown = tx->naccounts ? tx->naccounts : 1;
	sp->own = xmalloc(sp->nown * sizeof *sp->own);
	sp->own_account = xmalloc(sp->nown * sizeof *sp->own_account);
	sp->own_account[0] = tx->spam_account;
	for (unsigned i = 0; i < tx->naccounts; i++)
		sp->own_account[i] = tx->accounts[i];
	/* Parsing the message and the model's reads take more than a
	 * millisecond on a big one: on the pool (the session waits with
	 * reading paused, and nothing else touches the tx meanwhile). A
	 * small one is analysed here: the hand-off (the worker woken, its
	 * answer posted back, the loop woken) cost more than the work. */
	if (worker_pool_running() && tx->data.len > SPAM_INLINE_BYTES) {
		sp->wj.fn = analyse_run;
		sp->wj.done = analyse_done;
		sp->wj.arg = sp;
		sp->wj.loop = s->loop;
		worker_submit(&sp->wj);
		return;
	}
	analyse_run(sp);
	analyse_done(sp);
}
