/*
 * jmap_copy.c — the /copy methods between accounts: Email/copy (RFC 8621
 * §4.7) and Blob/copy (RFC 8620 §6.3), between the user's own account and
 * the accounts other users share with it (jmap_share.c), both ways, and
 * between two shared accounts.
 *
 * The source. fromAccountId is the user's own account or one shared with
 * the user; any other is fromAccountNotFound, whether or not it exists
 * (a guess learns nothing). In a shared source an email is read as its
 * Email/get would read it: in a mailbox with "l" and "r" (else notFound,
 * as if it did not exist); a blob when an email the user may read holds
 * those bytes, or a part of one ("P" blobs), never the owner's uploads.
 *
 * Email/copy is IMAP's COPY into another account (store_email_copy_into,
 * cmd_copy.c does the same): a new email of the target account on one
 * more reference to the same stored bytes, charged to the target's quota
 * (overQuota), in a thread of its own there. The target account is the
 * call's (jmap_share_enter): every mailbox of mailboxIds needs "i"
 * (mayAddItems) there, else forbidden; the keywords, the source's or
 * those the create gives, are cut to what the rights on every target
 * mailbox let the user set ("s" for $seen, "w" for the others) as IMAP
 * COPY and APPEND cut flags, so created always shows the keywords the
 * copy has. IMAP's \Deleted, a mark of the source's membership and no
 * JMAP keyword, never comes along: the copy is a new email with the
 * keywords shown, which a JMAP client could not see or clear the mark
 * on before the target's next EXPUNGE. receivedAt may be given too
 * (RFC 8621 §4.7). Into an
 * account that seals its mail the copy is stored sealed to its key
 * (crypt_copy.h, as IMAP COPY: the user's own account when it seals its
 * appends, an account shared with the user whenever it has a key). Email/copy from
 * an account to itself is invalidArguments: RFC 8620 §5.4 says the two
 * MUST differ (within an account, Email/set's mailboxIds do what a copy
 * would).
 *
 * onSuccessDestroyOriginal is done as RFC 8620 §5.4 says: an implicit
 * Email/set in fromAccountId destroying the originals copied, its
 * response right after this one, ifInState its destroyFromIfInState;
 * there Email/set holds the destroy to "t" and "e" on every mailbox of
 * the email (jmap_email_set.c).
 *
 * Blob/copy copies a blob the source lets the user read into the target
 * account as an upload of the user's there (jmap_upload_put_by: its time
 * to live starts), held to the target account's quota as the upload URL
 * is (overQuota in notCopied, the other blobs going on; a store error
 * is serverFail for that blob); one it cannot read is notCopied with
 * notFound (RFC 8620 §6.3), as one that does not exist;
 * a "B" blob keeps its id (ids are content ids), a part gets the "B" id
 * of its decoded bytes. Within one account nothing is copied and each
 * blob the account can read answers with its own id.
 *
 * Caveats: the copy into the first target mailbox is one transaction
 * with the source untouched; further target mailboxes are memberships
 * added after it (as Email/import adds them), and the implicit destroy
 * is a transaction of its own: a copy and its original are both there
 * between the two, never neither (IMAP MOVE's single transaction would
 * need the destroy's rights and state checks inside the store's copy).
 * A shared source's "B" blob is judged by the lowest email holding those
 * bytes (jmap_blob_email): when that one is unreadable and another is
 * readable the answer is blobNotFound, never a leak.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/hex.h"
#include "crypt/crypt_copy.h"
#include "imap/imap_acl.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/* The account a /copy reads from, and what the user may read there. */
struct copy_from {
	uint32_t account;
	const struct jmap_share *share; /* NULL: the user's own account */
	struct jmap_share grants;
};

/* fromAccountId into f: 0; -1 after setting fromAccountNotFound (or
 * serverFail). */
static int from_account(struct jmap_call *c, struct copy_from *f)
{
	const struct json_value *v = jmap_arg(c, "fromAccountId");
	uint32_t id = jmap_id_num(v->str, 'A');

	memset(f, 0, sizeof *f);
	f->account = id;
	if (id && id == c->r->user)
		return 0;
	switch (id ? jmap_share_load(c->r->st, c->r->user, id, c->r->a, &f->grants) : 1) {
	case 0: f->share = &f->grants; return 0;
	case -1: jmap_error(c, "serverFail", "the store could not be read"); return -1;
	}
	jmap_error(c, "fromAccountNotFound", NULL);
	return -1;
}

/* The state of the source account (its modseq, as jmap_state) into out. */
static int from_state(struct jmap_call *c, const struct copy_from *f, char out[24])
{
	uint64_t ms;

	if (store_account_modseq(c->r->st, f->account, &ms) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return -1;
	}
	snprintf(out, 24, "%llu", (unsigned long long)ms);
	return 0;
}

/* ---- Email/copy ---- */

static const struct jmap_arg email_copy_args[] = {
    {"fromAccountId", JA_ID, JA_REQUIRED},       {"ifFromInState", JA_STRING, JA_NULLABLE},
    {"accountId", JA_ID, JA_REQUIRED},           {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_REQUIRED},          {"onSuccessDestroyOriginal", JA_BOOL, 0},
    {"destroyFromIfInState", JA_STRING, JA_NULLABLE},
};

/* The membership of the source email a copy is made from: one in a
 * mailbox the user may read (mailbox 0: none, the email is notFound);
 * with kw, the email's keywords appended to it (failed: they did not
 * fit). */
struct source {
	const struct copy_from *f;
	uint32_t mailbox, uid;
	struct buf *kw;
	int failed;
};

static void source_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct source *s = arg;

	(void)i;
	for (size_t k = 0; b && k < b->nmembers && !s->mailbox; k++) {
		uint32_t mb = jmap_member_mailbox(b->members, k);
		if (jmap_share_may_read(s->f->share, mb)) {
			const uint8_t *p = b->members + 8 * k + 4;
			s->mailbox = mb;
			s->uid = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		}
	}
	if (s->mailbox && s->kw && b->keywords_len)
		s->failed = buf_append(s->kw, b->keywords, b->keywords_len) < 0;
}

/* What one create asks: the source email and the target's mailboxes,
 * keywords (given: kw_given; else the source's are read into t.kw) and
 * receivedAt (0: the source's). */
struct copy_want {
	uint32_t email;
	struct jmap_targets t;
	int kw_given;
	int64_t received_at;
};

/* Reads the EmailCopy object o into w; 0, or -1 with the SetError
 * written (invalidProperties naming every bad property). */
static int copy_want_read(struct jmap_call *c, struct jmap_mailboxes *tm,
			  const struct json_value *o, struct copy_want *w, struct jw *bad)
{
	const struct json_value *id = NULL, *mbs = NULL, *kws = NULL, *recv = NULL;
	struct jmap_bad bp = {.a = c->r->a};
	const char *badp = NULL;

	memset(w, 0, sizeof *w);
	if (o->type != JSON_OBJECT) {
		jmap_w_set_error(bad, o->key, "invalidProperties", "an EmailCopy object", NULL);
		return -1;
	}
	for (const struct json_value *x = o->first; x; x = x->next) {
		if (!strcmp(x->key, "id"))
			id = x;
		else if (!strcmp(x->key, "mailboxIds"))
			mbs = x;
		else if (!strcmp(x->key, "keywords"))
			kws = x->type == JSON_NULL ? NULL : x;
		else if (!strcmp(x->key, "receivedAt"))
			recv = x->type == JSON_NULL ? NULL : x;
		else
			jmap_bad_member(&bp, x->key, "not a property Email/copy sets (RFC 8621 §4.7)");
	}
	const char *eid = id && id->type == JSON_STRING ? jmap_id_ref(c->r, id->str) : NULL;
	if (!id || id->type != JSON_STRING)
		jmap_bad_add(&bp, "id", "id, the Email to copy, is required");
	else
		w->email = eid ? jmap_id_num(eid, 'E') : 0; /* 0: notFound below */
	if (recv && (recv->type != JSON_STRING || jmap_utcdate_parse(recv->str, &w->received_at) < 0))
		jmap_bad_add(&bp, "receivedAt", "receivedAt is a UTCDate");
	if (jmap_new_targets(c, tm, mbs, kws, &w->t, &badp) < 0)
		jmap_bad_add(&bp, badp, "mailboxIds or keywords as RFC 8621 §4.1.1 has them");
	w->kw_given = kws != NULL;
	if (w->kw_given) {
		size_t n = buf_len(&w->t.kw) ? 1 : 0;
		for (size_t i = 0; i < buf_len(&w->t.kw); i++)
			n += buf_data(&w->t.kw)[i] == ' ';
		if (n > STORE_KEYWORDS_MAX)
			jmap_bad_add(&bp, "keywords", "too many keywords");
	}
	if (bp.n) {
		jmap_w_set_error_bad(bad, o->key, &bp);
		buf_free(&w->t.kw);
		return -1;
	}
	return 0;
}

/* The rights the copy needs on every target mailbox: "i" each (else
 * forbidden, written); 0 with *rights_r their intersection, which the
 * keywords are cut to. */
static int copy_rights(struct jmap_call *c, const struct copy_want *w, const char *key,
		       struct jw *bad, uint32_t *rights_r)
{
	uint32_t all = STORE_ACL_ALL;

	for (size_t i = 0; i < w->t.n; i++) {
		uint32_t r = jmap_rights(c->r, w->t.mb[i]);
		if (!(r & STORE_ACL_I)) {
			jmap_w_set_error(bad, key, "forbidden", "no right to add to that mailbox",
					 "mailboxIds");
			return -1;
		}
		all &= r;
	}
	*rights_r = all;
	return 0;
}

/* The UIDVALIDITY of the source mailbox, or 0. */
static uint32_t uidvalidity_of(const struct jmap_mailboxes *m, uint32_t mailbox)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == mailbox)
			return m->v[i].uidvalidity;
	return 0;
}

/* The SetError of a failed copy (store_email_copy_into's rc). */
static void copy_store_error(struct jw *bad, const char *key, int rc)
{
	if (rc == STORE_EGONE || rc == STORE_EINVAL)
		/* the source went (or its mailbox) since it was read */
		jmap_w_set_error(bad, key, "notFound", "the Email to copy is gone", "id");
	else
		jmap_w_store_error(bad, key, rc);
}

/* The new email's created entry: what the server gave it (RFC 8620
 * §5.3), keywords and receivedAt among them (the rights may have cut
 * the keywords). */
static void created_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct jw *w = arg;

	(void)i;
	if (!b)
		return; /* destroyed meanwhile: the id alone */
	jw_key(w, "blobId");
	jmap_w_blob(w, b->blob_id);
	jw_key(w, "threadId");
	jmap_w_id(w, 'T', b->thread_id);
	jw_kuint(w, "size", b->size);
	jw_key(w, "keywords");
	jmap_w_keywords(w, b->keywords, b->keywords_len);
	jw_key(w, "receivedAt");
	jmap_w_utcdate(w, b->received_at);
}

static void write_created(struct jmap_call *c, struct jw *ok, const char *key, uint32_t email)
{
	jw_key(ok, key);
	jw_obj_begin(ok);
	jw_key(ok, "id");
	jmap_w_id(ok, 'E', email);
	store_emails_get(c->r->st, c->r->account, &email, 1, created_cb, ok);
	jw_obj_end(ok);
}

/* The memberships after the first: as Email/import adds them. */
static int copy_more_mailboxes(struct jmap_call *c, const struct copy_want *w,
			       const struct store_copy_result *res)
{
	for (size_t i = 1; i < w->t.n; i++) {
		struct store_copy_result cr = {0};
		int rc = store_email_copy(c->r->st, c->r->account, w->t.mb[0], res->uidvalidity,
					  res->dst_uids, 1, w->t.mb[i], STORE_COPY_NO_LESSON, &cr);
		store_copy_result_free(&cr);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* The copy of email (of from) into to, sealed to the target account's
 * key when it takes one for this copy (crypt_copy.h); the store's rc. */
static int copy_into(struct jmap_call *c, uint32_t from, uint32_t mailbox, uint32_t uidvalidity,
		     uint32_t uid, uint32_t email, struct store_copy_into *to,
		     struct store_copy_result *res)
{
	struct crypt_key *key;
	struct crypt_copy cc = {0};

	if (crypt_copy_key(c->r->st, c->r->user, from, to->account, &key) < 0)
		return STORE_ETEMP;
	int sealed = key ? crypt_copy_seal(&cc, c->r->st, key, from, &email, 1) : 0;
	crypt_key_release(key);
	int rc = STORE_ETEMP;
	if (sealed == 0) {
		to->blobs = cc.blobs;
		rc = store_email_copy_into(c->r->st, from, mailbox, uidvalidity, &uid, 1, to, res);
	}
	crypt_copy_free(&cc);
	return rc;
}

/* One create: copied (ok, and its source id into copied) or not (bad). */
static void copy_email(struct jmap_call *c, const struct copy_from *f, struct jmap_mailboxes *tm,
		       const struct jmap_mailboxes *sm, const struct json_value *o, struct jw *ok,
		       struct jw *bad, struct jw *copied)
{
	struct copy_want w;
	struct source s = {f, 0, 0, NULL, 0};
	uint32_t rights;

	if (copy_want_read(c, tm, o, &w, bad) < 0)
		return;
	/* Keywords are always the store's to set (given or the source's):
	 * so the copy never takes the source membership's \Deleted. */
	s.kw = w.kw_given ? NULL : &w.t.kw;
	if (w.email && (store_emails_get(c->r->st, f->account, &w.email, 1, source_cb, &s) != STORE_OK ||
			s.failed)) {
		jmap_w_set_error(bad, o->key, "serverFail", "the store failed, try again", NULL);
		goto out;
	}
	if (!s.mailbox) {
		jmap_w_set_error(bad, o->key, "notFound", "no such Email in fromAccountId", "id");
		goto out;
	}
	if (copy_rights(c, &w, o->key, bad, &rights) < 0)
		goto out;
	struct store_copy_into to = imap_acl_copy_into(c->r->user, c->r->account, w.t.mb[0], rights);
	to.keywords = buf_len(&w.t.kw) ? buf_data(&w.t.kw) : "";
	to.keywords_len = buf_len(&w.t.kw);
	to.received_at = w.received_at;
	struct store_copy_result res = {0};
	int rc = copy_into(c, f->account, s.mailbox, uidvalidity_of(sm, s.mailbox), s.uid, w.email,
			   &to, &res);
	if (rc == STORE_OK && res.n == 0)
		rc = STORE_EGONE;
	if (rc == STORE_OK)
		rc = copy_more_mailboxes(c, &w, &res);
	if (rc == STORE_OK || res.n) {
		/* A later membership failing leaves the copy made: it is
		 * answered as created, in the mailboxes it got. */
		char eid[16];
		snprintf(eid, sizeof eid, "E%08x", res.last_email);
		write_created(c, ok, o->key, res.last_email);
		jmap_created_put(c->r, o->key, eid);
		jmap_w_id(copied, 'E', w.email);
	} else {
		copy_store_error(bad, o->key, rc);
	}
	store_copy_result_free(&res);
out:
	buf_free(&w.t.kw);
}

/* onSuccessDestroyOriginal: the implicit Email/set of RFC 8620 §5.4
 * destroying the originals listed in ids (a JSON array), run after this
 * call (jmap_api.c's then). As jmap_then_email_set (jmap_send.c) writes
 * one, but in the source account and with its ifInState. */
static void destroy_originals(struct jmap_call *c, const struct copy_from *f, struct buf *ids)
{
	const struct json_value *ifin = jmap_arg(c, "destroyFromIfInState");
	struct buf then;
	struct jw tw;
	char err[64];

	buf_init(&then, buf_len(ids) + 512);
	jw_init(&tw, &then);
	jw_arr_begin(&tw); /* one Invocation */
	jw_str(&tw, "Email/set");
	jw_obj_begin(&tw);
	jw_key(&tw, "accountId");
	jmap_w_id(&tw, 'A', f->account);
	if (ifin)
		jw_kstr(&tw, "ifInState", ifin->str);
	jw_key(&tw, "destroy");
	jw_rawn(&tw, buf_data(ids), buf_len(ids));
	jw_obj_end(&tw);
	jw_str(&tw, c->id);
	jw_arr_end(&tw);
	if (!jw_failed(&tw))
		c->r->then = json_parse(buf_data(&then), buf_len(&then), c->r->a, err, sizeof err);
	buf_free(&then);
}

/* ifInState and ifFromInState against the two accounts' states now. */
static int copy_states(struct jmap_call *c, const struct copy_from *f, char old[24])
{
	const struct json_value *ifin = jmap_arg(c, "ifInState");
	const struct json_value *iffrom = jmap_arg(c, "ifFromInState");
	char fs[24];

	if (jmap_state(c, old) < 0)
		return -1;
	if (iffrom && (from_state(c, f, fs) < 0 || strcmp(iffrom->str, fs) != 0)) {
		if (!c->err_type)
			jmap_error(c, "stateMismatch", "ifFromInState is not fromAccountId's state");
		return -1;
	}
	if (ifin && strcmp(ifin->str, old) != 0) {
		jmap_error(c, "stateMismatch", NULL);
		return -1;
	}
	return 0;
}

void jmap_email_copy(struct jmap_call *c)
{
	struct copy_from f;
	struct jmap_mailboxes tm, sm;
	char old[24], now[24];

	if (jmap_args_check(c, email_copy_args, sizeof email_copy_args / sizeof email_copy_args[0]) < 0 ||
	    from_account(c, &f) < 0)
		return;
	if (f.account == c->r->account) {
		jmap_bad_arg(c, "fromAccountId",
			     "fromAccountId must differ from accountId (RFC 8620 §5.4); "
			     "use Email/set mailboxIds within an account");
		return;
	}
	const struct json_value *create = jmap_arg(c, "create");
	if (create->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	if (copy_states(c, &f, old) < 0)
		return;
	if (jmap_mailboxes_view(c->r, &tm) < 0 ||
	    jmap_mailboxes_load(c->r->st, f.account, c->r->a, &sm) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	struct buf okb, badb, idsb;
	struct jw ok, bad, ids;
	buf_init(&okb, JMAP_RESPONSE_MAX / 4);
	buf_init(&badb, JMAP_RESPONSE_MAX / 4);
	buf_init(&idsb, JMAP_RESPONSE_MAX / 4);
	jw_init(&ok, &okb);
	jw_init(&bad, &badb);
	jw_init(&ids, &idsb);
	jw_obj_begin(&ok);
	jw_obj_begin(&bad);
	jw_arr_begin(&ids);
	int ncopied = 0;
	for (const struct json_value *o = create->first; o; o = o->next) {
		size_t before = buf_len(&idsb);
		copy_email(c, &f, &tm, &sm, o, &ok, &bad, &ids);
		ncopied += buf_len(&idsb) != before;
	}
	jw_obj_end(&ok);
	jw_obj_end(&bad);
	jw_arr_end(&ids);
	if (jmap_state(c, now) == 0) {
		struct jw *w = &c->w;
		jw_obj_begin(w);
		jw_key(w, "fromAccountId");
		jmap_w_id(w, 'A', f.account);
		jw_key(w, "accountId");
		jmap_w_id(w, 'A', c->r->account);
		jw_kstr(w, "oldState", old);
		jw_kstr(w, "newState", now);
		jmap_w_map_or_null(w, "created", &okb);
		jmap_w_map_or_null(w, "notCreated", &badb);
		jw_obj_end(w);
		const struct json_value *destroy = jmap_arg(c, "onSuccessDestroyOriginal");
		if (destroy && destroy->boolean && ncopied)
			destroy_originals(c, &f, &idsb);
	}
	buf_free(&okb);
	buf_free(&badb);
	buf_free(&idsb);
}

/* ---- Blob/copy ---- */

static const struct jmap_arg blob_copy_args[] = {
    {"fromAccountId", JA_ID, JA_REQUIRED},
    {"accountId", JA_ID, JA_REQUIRED},
    {"blobIds", JA_IDS, JA_REQUIRED},
};

/* 1 when the user may read email of f's account (in a mailbox with "l"
 * and "r"); -1: a store error. */
static int email_readable_in(struct jmap_call *c, const struct copy_from *f, uint32_t email)
{
	struct source s = {f, 0, 0, NULL, 0};

	if (store_emails_get(c->r->st, f->account, &email, 1, source_cb, &s) != STORE_OK)
		return -1;
	return s.mailbox != 0;
}

/* 1 when the user may read blob id s of the user's own account (B, P, or
 * a part Email/parse named: "<blob>_<n>..."). -1: a store error. */
static int own_readable(struct jmap_call *c, uint32_t account, const char *s)
{
	uint8_t id[32];
	uint64_t size;
	if (jmap_blob_parse(s, id) == 0) {
		int fd = jmap_upload_open(account, id, &size);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		long long e = jmap_blob_email(c->r->st, account, id);
		return e < 0 ? -1 : e > 0;
	}
	struct buf b;
	int temp = 0;
	buf_init(&b, JMAP_MAX_SIZE_UPLOAD);
	int ok = jmap_part_read(c->r->st, account, s, &b, &temp) == 0;
	buf_free(&b);
	return temp ? -1 : ok;
}

/* The same in a shared account: a "B" blob an email the user may read
 * holds, a "P" part of one, or the user's own upload there; nothing else
 * (the owner's uploads and Email/parse's parts of them are the
 * owner's). */
static int shared_readable(struct jmap_call *c, const struct copy_from *f, const char *s)
{
	uint8_t id[32];
	uint32_t email;
	unsigned part;

	if (jmap_blob_parse(s, id) == 0) {
		uint64_t size;
		int fd = jmap_upload_open_by(f->account, c->r->user, id, &size);
		if (fd >= 0) { /* the user's own upload there */
			close(fd);
			return 1;
		}
		long long e = jmap_blob_email(c->r->st, f->account, id);
		return e <= 0 ? (int)e : email_readable_in(c, f, (uint32_t)e);
	}
	if (jmap_part_parse(s, &email, &part) == 0)
		return email_readable_in(c, f, email);
	return 0;
}

static int blob_readable(struct jmap_call *c, const struct copy_from *f, const char *s)
{
	return f->share ? shared_readable(c, f, s) : own_readable(c, f->account, s);
}

/* blob_readable said yes already. */
static int checked_readable(void *arg, uint32_t email)
{
	(void)arg;
	(void)email;
	return 1;
}

/* Copies blob s (readable) of f's account into the call's account as an
 * upload of the user's there (jmap_upload_put_by: in a shared account
 * the user's own, which Email/import there reads; within the target
 * account's quota); its id there into out. 0, or below 0 what
 * jmap_upload_put_by answered (JMAP_UPLOAD_STORE too when the source
 * could not be read). */
static int blob_copy_one(struct jmap_call *c, const struct copy_from *f, const char *s,
			 char out[66])
{
	uint8_t id[32];
	int temp = 0, rc;

	if (jmap_blob_parse(s, id) == 0) {
		struct jmap_bytes b = {0};
		/* Readable (blob_readable): in a shared source the user's own
		 * upload there too (jmap_share_blob.c). */
		if (jmap_bytes_get_by(c->r->st, f->account, f->share ? c->r->user : f->account, id,
				      checked_readable, NULL, &b, &temp) < 0)
			return JMAP_UPLOAD_STORE;
		rc = jmap_upload_put_by(c->r->st, c->r->account, c->r->user, b.p, b.len, id);
		int err = errno; /* jmap_w_upload_error reads it */
		jmap_bytes_free(&b);
		errno = err;
	} else {
		/* A part: its decoded bytes, under their own content id. */
		struct buf b;
		buf_init(&b, JMAP_MAX_SIZE_UPLOAD);
		rc = jmap_part_read(c->r->st, f->account, s, &b, &temp) < 0 ? JMAP_UPLOAD_STORE : 0;
		if (rc == 0) {
			store_blob_id(buf_data(&b), buf_len(&b), id);
			rc = jmap_upload_put_by(c->r->st, c->r->account, c->r->user, buf_data(&b),
						buf_len(&b), id);
		}
		int err = errno;
		buf_free(&b);
		errno = err;
	}
	out[0] = 'B';
	hex_encode(out + 1, id, 32);
	out[65] = 0;
	return rc;
}

void jmap_blob_copy(struct jmap_call *c)
{
	struct copy_from f;

	if (jmap_args_check(c, blob_copy_args, sizeof blob_copy_args / sizeof blob_copy_args[0]) < 0 ||
	    from_account(c, &f) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "blobIds");
	if (ids->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	/* copied and notCopied are maps by blobId: a blob named twice is
	 * answered once (its name twice in one object was the answer). */
	ids = jmap_ids_unique(c->r->a, ids);
	struct buf okb, badb;
	struct jw ok, bad;
	buf_init(&okb, JMAP_RESPONSE_MAX / 4);
	buf_init(&badb, JMAP_RESPONSE_MAX / 4);
	jw_init(&ok, &okb);
	jw_init(&bad, &badb);
	jw_obj_begin(&ok);
	jw_obj_begin(&bad);
	/* Into a shared account, a copy is an upload there: it needs "i" on
	 * a mailbox of it, as Blob/upload and the upload URL do. */
	int may_put = jmap_share_may_upload(c->r->share);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		char to[66];
		int r = blob_readable(c, &f, e->str);
		if (r > 0 && f.account != c->r->account && !may_put) {
			jmap_w_set_error(&bad, e->str, "forbidden",
					 "adding to this account needs \"i\" on a mailbox of it", NULL);
			continue;
		}
		if (r > 0 && f.account != c->r->account) {
			/* One that is not stored (past the target's quota, a
			 * store or disk error) is notCopied, the others go on
			 * (RFC 8620 §6.3). */
			int rc = blob_copy_one(c, &f, e->str, to);
			if (rc < 0) {
				jmap_w_upload_error(&bad, e->str, rc);
				continue;
			}
		}
		if (r < 0) {
			buf_free(&okb);
			buf_free(&badb);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (r)
			jw_kstr(&ok, e->str, f.account != c->r->account ? to : e->str);
		else /* RFC 8620 §6.3: "notFound" (blobNotFound is Email/import's) */
			jmap_w_set_error(&bad, e->str, "notFound", NULL, NULL);
	}
	jw_obj_end(&ok);
	jw_obj_end(&bad);
	struct jw *w = &c->w;
	jw_obj_begin(w);
	jw_key(w, "fromAccountId");
	jmap_w_id(w, 'A', f.account);
	jw_key(w, "accountId");
	jmap_w_id(w, 'A', c->r->account);
	jmap_w_map_or_null(w, "copied", &okb);
	jmap_w_map_or_null(w, "notCopied", &badb);
	jw_obj_end(w);
	buf_free(&okb);
	buf_free(&badb);
}
