/*
 * deliver.c — deliver_submit(): the stored bytes (head + message without
 * forged Authentication-Results), their blob id and structure record, and
 * the plans as one store request. See deliver.h.
 */
#include "deliver/deliver.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "crypt/crypt_rest.h"
#include "mime/mime_cache.h"
#include "mime/rfc5322.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips white space and (nested) comments from *i; the end of v is fine. */
static void skip_cfws(struct str v, size_t *i)
{
	int depth = 0;
	while (*i < v.len) {
		char c = v.p[*i];
		if (depth == 0 && !is_wsp(c) && c != '(')
			return;
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (c == '\\' && depth > 0 && *i + 1 < v.len)
			(*i)++;
		(*i)++;
	}
}

int deliver_ar_claims(struct str value, const char *authserv_id)
{
	size_t i = 0, n = strlen(authserv_id);
	skip_cfws(value, &i);
	size_t start = i;
	/* The authserv-id is a value (token or quoted-string); ours is a
	 * host name, so a token compare is enough, and a quoted form of it
	 * is unquoted first. */
	if (i < value.len && value.p[i] == '"') {
		start = ++i;
		while (i < value.len && value.p[i] != '"')
			i++;
		return i - start == n && strncasecmp(value.p + start, authserv_id, n) == 0;
	}
	while (i < value.len && !is_wsp(value.p[i]) && value.p[i] != ';' && value.p[i] != '(')
		i++;
	return i - start == n && strncasecmp(value.p + start, authserv_id, n) == 0;
}

/*
 * Is name a spam filter's verdict field? Ours (X-Spam-*) and those of
 * the filters mail clients can be told to trust or users' rules read:
 * SpamAssassin (X-Spam-*, bare X-Spam), Rspamd (X-Spamd-*, X-Rspamd-*),
 * DSPAM, bogofilter, SpamPal, POPFile, SpamBayes, SpamCatcher. Past our
 * border none is from a filter of ours, so a sender's is a forgery that
 * would mark spam as clean in the user's client.
 */
static int verdict_field(struct str name)
{
	static const char *const prefixes[] = {"X-Spam-", "X-Spamd-", "X-Rspamd-", "X-DSPAM-"};
	static const char *const names[] = {"X-Spam",
	                                    "X-Bogosity",
	                                    "X-SpamPal",
	                                    "X-Text-Classification",
	                                    "X-Spambayes-Classification",
	                                    "X-SpamCatcher-Score"};
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
		if (str_has_prefix_ci(name, prefixes[i]))
			return 1;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (str_eq_ci_c(name, names[i]))
			return 1;
	return 0;
}

/* Is the field name (with its value) one clean_ranges() leaves out? */
static int unwanted(struct str name, struct str value, const char *authserv_id)
{
	/* Our spam verdict comes in the head; whatever the sender wrote
	 * under a filter's verdict names goes (issue 34's hygiene). The
	 * Return-Path is the final delivery's (RFC 5321 §4.4), ours in the
	 * head: one the sender wrote would stand under it as a second,
	 * forged envelope sender (Postfix's cleanup drops it too). */
	return verdict_field(name) || str_eq_ci_c(name, "Return-Path") ||
	       (str_eq_ci_c(name, "Authentication-Results") && deliver_ar_claims(value, authserv_id));
}

/*
 * Is the line at off the empty line that ends the header section? As
 * rfc5322_parse() (which IMAP, Sieve and the MIME tree read the stored
 * copy with) has it: "\n", "\r\n" or a last "\r". A line "\rX" is a
 * malformed field line to it, and the fields below it are still header.
 */
static int header_end(struct str data, size_t off)
{
	return data.p[off] == '\n' ||
	       (data.p[off] == '\r' && (off + 1 == data.len || data.p[off + 1] == '\n'));
}

/*
 * The fields from off (a line start) to the header section's end, read
 * line by line: where the parser gave up (a field past its limits), a
 * forged field further down must still go, since a mail client shows it.
 * A field is a line and the lines after it that start with WSP; the
 * first empty line (header_end()) ends the section. Advances *kept as
 * clean_ranges().
 */
static int clean_rest(struct str data, size_t off, size_t *kept, const char *authserv_id,
                      int (*emit)(void *arg, const char *p, size_t n), void *arg)
{
	int rc = 0;
	while (off < data.len && !header_end(data, off)) {
		size_t end = off;
		do {
			const char *nl = memchr(data.p + end, '\n', data.len - end);
			end = nl ? (size_t)(nl - data.p) + 1 : data.len;
		} while (end < data.len && (data.p[end] == ' ' || data.p[end] == '\t'));
		struct str f = str_make(data.p + off, end - off);
		ptrdiff_t colon = str_chr(f, ':');
		if (colon > 0) {
			struct str name = str_make(f.p, (size_t)colon);
			while (name.len &&
			       (name.p[name.len - 1] == ' ' || name.p[name.len - 1] == '\t'))
				name.len--;
			/* The value without its line end, as the parser gives
			 * it: "\"mx.example.com\r\n" (no closing quote) claims
			 * us to every reader. */
			struct str value = str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
			if (value.len && value.p[value.len - 1] == '\n')
				value.len--;
			if (value.len && value.p[value.len - 1] == '\r')
				value.len--;
			if (unwanted(name, value, authserv_id)) {
				if (off > *kept && emit(arg, data.p + *kept, off - *kept) < 0)
					rc = -1;
				*kept = end;
			}
		}
		off = end;
	}
	return rc;
}

/*
 * Hands emit the ranges of data to keep: all of it but the
 * Authentication-Results fields that claim authserv_id, any spam
 * filter's verdict field (verdict_field()) and the Return-Path fields. Past a field the parser
 * gives up on (over its limits), the rest of the header section is read
 * by clean_rest(). 0, or -1 when emit failed.
 */
static int clean_ranges(struct str data, const char *authserv_id,
			int (*emit)(void *arg, const char *p, size_t n), void *arg)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, kept = 0, used;
	int r, rc = 0;

	rfc5322_init(&p);
	while ((r = rfc5322_parse(&p, data.p + off, data.len - off, 1, &used, &f)) == RFC5322_FIELD) {
		off += used;
		if (!unwanted(f.name, f.value, authserv_id))
			continue;
		/* The whole input is given at once, so raw is a slice of it. */
		if (f.raw.p < data.p + kept || f.raw.p + f.raw.len > data.p + data.len)
			continue;
		size_t start = (size_t)(f.raw.p - data.p);
		if (start > kept && emit(arg, data.p + kept, start - kept) < 0)
			rc = -1;
		kept = start + f.raw.len;
	}
	rfc5322_clear(&p);
	if (r < 0 && clean_rest(data, off, &kept, authserv_id, emit, arg) < 0)
		rc = -1;
	if (rc == 0 && data.len > kept && emit(arg, data.p + kept, data.len - kept) < 0)
		rc = -1;
	return rc;
}

static int emit_spool(void *arg, const char *p, size_t n)
{
	return spool_append(arg, p, n);
}

/* Appends the message to the spool as clean_ranges() keeps it (NULL
 * authserv_id: all of it). 0, or -1 when the spool refused. */
static int copy_message(struct spool *sp, struct str data, const char *authserv_id)
{
	if (!authserv_id)
		return spool_append(sp, data.p, data.len);
	return clean_ranges(data, authserv_id, emit_spool, sp);
}

struct clean_copy {
	struct str data;
	struct arena *a;
	char *p;   /* NULL until a range is left out */
	size_t len;
	int whole; /* one range: all of data */
};

static int emit_copy(void *arg, const char *p, size_t n)
{
	struct clean_copy *c = arg;
	if (c->p == NULL && p == c->data.p && n == c->data.len) {
		c->whole = 1; /* nothing left out: no copy */
		return 0;
	}
	if (c->p == NULL)
		c->p = arena_alloc(c->a, c->data.len + 1);
	memcpy(c->p + c->len, p, n);
	c->len += n;
	return 0;
}

struct str deliver_clean(struct str data, const char *authserv_id, struct arena *a)
{
	struct clean_copy c = {data, a, NULL, 0, 0};
	clean_ranges(data, authserv_id, emit_copy, &c);
	if (c.whole || data.len == 0)
		return data;
	return str_make(c.p ? c.p : "", c.len);
}

/* head and fields, then data cleaned as copy_message does, then more as
 * it is. */
static int compose(struct spool *out, struct str head, struct str fields, struct str data,
                   struct str more, const char *authserv_id)
{
	spool_init(out, (uint64_t)head.len + fields.len + data.len + more.len, NULL);
	if (head.len && spool_append(out, head.p, head.len) < 0)
		return -1;
	if (fields.len && spool_append(out, fields.p, fields.len) < 0)
		return -1;
	if (copy_message(out, data, authserv_id) < 0)
		return -1;
	return more.len ? spool_append(out, more.p, more.len) : 0;
}

int deliver_compose(struct spool *out, struct str head, struct str data, const char *authserv_id)
{
	return compose(out, head, STR_NULL, data, STR_NULL, authserv_id);
}

struct keep_check {
	struct str data;
	int whole; /* one range came: all of data */
};

static int emit_whole(void *arg, const char *p, size_t n)
{
	struct keep_check *k = arg;
	k->whole = p == k->data.p && n == k->data.len;
	return k->whole ? 0 : -1;
}

/* Does clean_ranges() keep all of data? It reads the header only. */
static int keeps_all(struct str data, const char *authserv_id)
{
	struct keep_check k = {data, 0};
	return !authserv_id || data.len == 0 ||
	       (clean_ranges(data, authserv_id, emit_whole, &k) == 0 && k.whole);
}

/* The stored bytes head + data, written in place around data in its
 * spool (struct delivery.data_spool), with their blob id. 0, or -1:
 * compose them instead. */
static int compose_in_place(struct delivery *dl, struct str *bytes_r)
{
	if (!dl->data_spool || !keeps_all(dl->data, dl->authserv_id) ||
	    spool_front_put(dl->data_spool, dl->head, dl->data.p, bytes_r) < 0)
		return -1;
	store_blob_id(bytes_r->p, bytes_r->len, dl->sd_.blob_id);
	return 0;
}

/* The plan's copies are bytes of their own (editheader, or fields of its
 * own). */
static int has_own(const struct deliver_plan *p)
{
	return (p->own_header.len || p->own_fields.len) && !p->discard;
}

/* One plan's own copy (editheader, encryption at rest): its bytes,
 * structure record and the store's view of them. */
struct deliver_own {
	struct spool msg;
	struct buf meta;
	struct spool enc;       /* the copy encrypted, when key is set */
	struct crypt_key *key;  /* the account's encryption at rest, or NULL */
	struct store_bytes sb;
};

/* Plan i's copies are bytes of their own: its own header or fields, or
 * its account's encryption. */
static int own_copy(const struct delivery *dl, size_t i)
{
	return dl->own_ && (has_own(&dl->plans[i]) || dl->own_[i].key);
}

/* A further copy with a header of its own (deliver_copy.own_header). */
static int has_own_more(const struct deliver_plan *p, size_t j)
{
	return !p->discard && p->more[j].own_header.len;
}

/* dl->own_ when it is still NULL: a slot per plan, then one per further
 * copy (nown_), in the order deliver_submit() lists them. */
static void own_alloc(struct delivery *dl)
{
	if (dl->own_)
		return;
	dl->nown_ = dl->nplans;
	for (size_t i = 0; i < dl->nplans; i++)
		dl->nown_ += dl->plans[i].discard ? 0 : dl->plans[i].nmore;
	dl->own_ = xcalloc(dl->nown_, sizeof *dl->own_);
}

static void free_private(struct delivery *dl)
{
	for (size_t i = 0; dl->own_ && i < dl->nown_; i++) {
		spool_free(&dl->own_[i].msg);
		buf_free(&dl->own_[i].meta);
		spool_free(&dl->own_[i].enc);
		crypt_key_release(dl->own_[i].key); /* the plans' slots hold them */
	}
	free(dl->own_);
	dl->own_ = NULL;
	dl->nown_ = 0;
	spool_free(&dl->msg_);
	if (dl->data_spool)
		spool_front_restore(dl->data_spool);
	buf_free(&dl->meta_);
	free(dl->accounts_);
	free(dl->email_ids_);
	free(dl->targets_);
	free(dl->envelopes_);
	dl->accounts_ = NULL;
	dl->email_ids_ = NULL;
	dl->targets_ = NULL;
	dl->envelopes_ = NULL;
}

static void finish(struct delivery *dl, int result)
{
	dl->result = result;
	free_private(dl);
	dl->done(dl, dl->arg);
}

static void finish_run(void *arg)
{
	struct delivery *dl = arg;
	finish(dl, dl->result);
}

/* Completion without the store: on the caller's loop when it has one. */
static void finish_soon(struct delivery *dl, int result)
{
	dl->result = result;
	if (dl->loop)
		loop_post(dl->loop, finish_run, dl);
	else
		finish_run(dl);
}

static void stored(struct store_delivery *d, void *arg)
{
	struct delivery *dl = arg;
	if (d->result == STORE_OK && d->naccounts && dl->email_ids_[0]) {
		dl->first_account = dl->accounts_[0];
		dl->first_email = dl->email_ids_[0];
	}
	dl->seen_stored = d->result == STORE_OK && d->nseen > 0;
	finish(dl, d->result);
}

static void stored_applied(struct store_delivery *d, void *arg)
{
	struct delivery *dl = arg;
	(void)d;
	dl->applied(dl, dl->arg);
}

/*
 * One own slot's store view: its composed bytes (composed 1: o->msg) or
 * the shared ones, sealed with key when the account has one (encryption
 * at rest: one sealed copy a blob), and their structure record. -1 with
 * dl->result STORE_ETEMP when that failed.
 */
static int own_finish(struct delivery *dl, struct deliver_own *o, int composed,
                      struct crypt_key *key)
{
	struct store_delivery *d = &dl->sd_;
	struct str bytes;

	if (composed) {
		if (spool_finish(&o->msg, &bytes) < 0) {
			dl->result = STORE_ETEMP;
			return -1;
		}
		o->sb.data = bytes.p;
		o->sb.len = bytes.len;
		spool_blob_id(&o->msg, o->sb.blob_id);
	} else {
		o->sb.data = d->data;
		o->sb.len = d->len;
		memcpy(o->sb.blob_id, d->blob_id, sizeof o->sb.blob_id);
	}
	int sealed = key ? crypt_seal(key, o->sb.data, o->sb.len, &o->enc, &bytes) : 0;
	if (sealed < 0) {
		dl->result = STORE_ETEMP;
		return -1;
	}
	if (sealed) {
		o->sb.data = bytes.p;
		o->sb.len = bytes.len;
		spool_blob_id(&o->enc, o->sb.blob_id);
	}
	if (o->sb.data == d->data) {
		o->sb.meta = d->meta;
		o->sb.metalen = d->metalen;
	} else if (mime_cache_build(o->sb.data, o->sb.len, &o->meta) == 0) {
		o->sb.meta = buf_data(&o->meta);
		o->sb.metalen = buf_len(&o->meta);
	}
	return 0;
}

/* The linear work: off the loop for big messages. Sets dl->result. */
static void prepare(struct delivery *dl)
{
	struct str bytes;

	dl->result = STORE_OK;
	if (compose_in_place(dl, &bytes) == 0) {
		/* the id is set */
	} else if (deliver_compose(&dl->msg_, dl->head, dl->data, dl->authserv_id) < 0 ||
	           spool_finish(&dl->msg_, &bytes) < 0) {
		dl->result = STORE_ETEMP;
		return;
	} else {
		spool_blob_id(&dl->msg_, dl->sd_.blob_id);
	}
	struct store_delivery *d = &dl->sd_;
	d->data = bytes.p;
	d->len = bytes.len;
	dl->len = bytes.len;
	if (dl->sd_.naccounts && mime_cache_build(bytes.p, bytes.len, &dl->meta_) == 0) {
		d->meta = buf_data(&dl->meta_);
		d->metalen = buf_len(&dl->meta_);
	}
	/* Plans with their own header: head, their own fields, that header
	 * (the same forged fields removed), then the body; with their own
	 * fields only: head, the fields, then the message. Further copies
	 * with their own header likewise, sealed with their plan's key. */
	size_t slot = dl->nplans;
	for (size_t i = 0; dl->own_ && i < dl->nplans; i++) {
		const struct deliver_plan *p = &dl->plans[i];
		if (p->discard)
			continue;
		struct deliver_own *o = &dl->own_[i];
		if (own_copy(dl, i)) {
			int rc = !has_own(p) ? 0
			         : p->own_header.len
			                 ? compose(&o->msg, dl->head, p->own_fields, p->own_header,
			                           p->own_body, dl->authserv_id)
			                 : compose(&o->msg, dl->head, p->own_fields, dl->data, STR_NULL,
			                           dl->authserv_id);
			if (rc < 0 || own_finish(dl, o, has_own(p), o->key) < 0)
				return;
		}
		for (size_t j = 0; j < p->nmore; j++, slot++) {
			struct deliver_own *c = &dl->own_[slot];
			if (!has_own_more(p, j))
				continue;
			if (compose(&c->msg, dl->head, p->own_fields, p->more[j].own_header, p->own_body,
			            dl->authserv_id) < 0 ||
			    own_finish(dl, c, 1, o->key) < 0)
				return;
		}
	}
}

static void commit(struct delivery *dl)
{
	if (dl->result != STORE_OK) {
		finish_soon(dl, dl->result);
		return;
	}
	store_deliver(dl->st_, &dl->sd_);
}

static void prepare_run(void *arg)
{
	prepare(arg);
}

static void prepare_done(void *arg)
{
	commit(arg);
}

/* Each plan's account's encryption at rest key (crypt_rest.h), read and
 * checked now. -1 when the store cannot say. */
static int load_keys(struct delivery *dl)
{
	for (size_t i = 0; i < dl->nplans; i++) {
		struct crypt_key *k;
		if (dl->plans[i].discard)
			continue;
		if (crypt_account_key(dl->st_, dl->plans[i].account, 0, &k) < 0)
			return -1;
		if (!k)
			continue;
		own_alloc(dl);
		dl->own_[i].key = k;
	}
	return 0;
}

void deliver_submit(struct store *st, struct delivery *dl)
{
	struct store_delivery *d = &dl->sd_;
	size_t n = 0;

	dl->st_ = st;
	dl->result = STORE_OK;
	dl->len = 0;
	dl->copies = 0;
	dl->first_account = dl->first_email = 0;
	dl->seen_stored = 0;
	memset(&dl->msg_, 0, sizeof dl->msg_);
	memset(&dl->meta_, 0, sizeof dl->meta_);
	memset(d, 0, sizeof *d);
	size_t total = 1;
	for (size_t i = 0; i < dl->nplans; i++)
		total += 1 + (dl->plans[i].discard ? 0 : dl->plans[i].nmore);
	dl->accounts_ = xcalloc(total, sizeof *dl->accounts_);
	dl->email_ids_ = xcalloc(total, sizeof *dl->email_ids_);
	dl->targets_ = xcalloc(total, sizeof *dl->targets_);
	dl->envelopes_ = xcalloc(total, sizeof *dl->envelopes_);
	dl->own_ = NULL;
	dl->nown_ = 0;
	for (size_t i = 0; i < dl->nplans; i++) {
		if (has_own(&dl->plans[i]))
			own_alloc(dl);
		for (size_t j = 0; j < dl->plans[i].nmore; j++)
			if (has_own_more(&dl->plans[i], j))
				own_alloc(dl);
	}
	if (load_keys(dl) < 0) {
		finish_soon(dl, STORE_ETEMP);
		return;
	}
	size_t slot = dl->nplans;
	for (size_t i = 0; i < dl->nplans; i++) {
		const struct deliver_plan *p = &dl->plans[i];
		if (p->discard)
			continue;
		/* Filled in by prepare(), before the store sees them. */
		const struct store_bytes *own = own_copy(dl, i) ? &dl->own_[i].sb : NULL;
		dl->accounts_[n] = p->account;
		dl->targets_[n] = (struct store_target){p->folder, p->keywords, p->mailbox, p->create, own};
		dl->envelopes_[n] = p->envelope;
		n++;
		for (size_t j = 0; j < p->nmore; j++) {
			const struct deliver_copy *c = &p->more[j];
			const struct store_bytes *cown = has_own_more(p, j) ? &dl->own_[slot].sb : own;
			slot++;
			dl->accounts_[n] = p->account;
			dl->targets_[n] = (struct store_target){c->folder, c->keywords, c->mailbox, c->create, cown};
			dl->envelopes_[n] = p->envelope;
			n++;
		}
	}
	dl->copies = n;
	if (n == 0 && !dl->txn_hook) {
		finish_soon(dl, STORE_OK);
		return;
	}
	d->accounts = dl->accounts_;
	d->naccounts = n;
	d->email_ids = dl->email_ids_;
	d->targets = dl->targets_;
	d->envelopes = dl->envelopes_;
	d->received_at = dl->received_at;
	d->quota_check = dl->quota_check;
	d->spam_from = dl->spam_from;
	d->txn_hook = dl->txn_hook;
	d->txn_once = dl->txn_once;
	d->hook_arg = dl->hook_arg;
	d->hook_len = dl->hook_len;
	d->keep_always = dl->keep_always;
	/* With the copies only: a request without accounts writes none. */
	d->seen = n ? dl->seen : NULL;
	d->nseen = n ? dl->nseen : 0;
	d->loop = dl->loop;
	d->done = stored;
	d->applied = dl->applied ? stored_applied : NULL;
	d->arg = dl;
	if (n == 0) {
		/* Only the hook: no message to build. */
		store_deliver(st, d);
		return;
	}
	/* Sealing is a public-key operation a copy (up to a millisecond for
	 * RSA-4096): off the loop whatever the size. */
	int sealing = 0;
	for (size_t i = 0; dl->own_ && i < dl->nplans; i++)
		sealing |= dl->own_[i].key != NULL;
	if ((dl->data.len > WORKER_MESSAGE_BYTES || sealing) && worker_pool_running()) {
		dl->wj_.fn = prepare_run;
		dl->wj_.done = prepare_done;
		dl->wj_.arg = dl;
		dl->wj_.loop = dl->loop;
		worker_submit(&dl->wj_);
		return;
	}
	prepare(dl);
	commit(dl);
}
