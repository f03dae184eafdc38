/*
 * jmap_email_set.c — Email/set (RFC 8621 §4.6): update of keywords and
 * mailboxIds (whole or by patch paths "keywords/K", "mailboxIds/ID"), and
 * destroy. Writes are addressed by email id and mailbox id: the email's
 * record names its memberships. One email's whole change is one store
 * write (store_email_update_async: IMAP's STORE, COPY and EXPUNGE cores
 * in one transaction), so it applies whole or not at all (RFC 8620
 * §5.3), IMAP sees it at one new MODSEQ and the change log names it as
 * one step.
 *
 * Keywords are lowercased system flags and IMAP atoms (store_keyword_valid);
 * "$deleted" is refused (IMAP's \Deleted is per mailbox, not a JMAP
 * keyword). An email must stay in at least one mailbox.
 * Create is jmap_email_create.c's.
 *
 * In a shared account (jmap_share.c) an update or destroy is held to the
 * user's rights (shared_update_allowed), a create as Email/import is
 * (jmap_share_new_email_refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "imap/imap_acl.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/* An email's memberships: JMAP_TARGETS_MAX of them, the most an email
 * of Email/set may have (maxMailboxesPerEmail). JMAP's writes keep to
 * it and IMAP's add no membership to an email (COPY makes a new one, a
 * MOVE moves one), but an email from when COPY added one (before
 * 02b71893) may be in more: over, then its mailboxIds are not
 * Email/set's to change. */
struct brief {
	int found, over;
	uint32_t nm;
	uint32_t mb[JMAP_TARGETS_MAX], uid[JMAP_TARGETS_MAX];
	/* In a shared account (rq->share): whether the user may read it,
	 * and its keywords (rq's arena) for the rights a change needs. */
	const struct jmap_request *rq;
	const char *kw;
	size_t kwlen;
};

static void brief_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct brief *r = arg;
	(void)i;
	/* An email a shared account's user may not read is none. */
	if (!b || (r->rq && !jmap_email_readable(r->rq, b->members, b->nmembers)))
		return;
	r->found = 1;
	if (r->rq && r->rq->share) {
		r->kw = arena_strndup(r->rq->a, b->keywords, b->keywords_len);
		r->kwlen = b->keywords_len;
	}
	r->over = b->nmembers > JMAP_TARGETS_MAX;
	for (size_t k = 0; k < b->nmembers && r->nm < JMAP_TARGETS_MAX; k++) {
		const uint8_t *p = b->members + k * 8;
		r->mb[r->nm] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		r->uid[r->nm++] = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	}
}

/* b's memberships as the store names them (v: b->nm of them); a
 * mailbox the user does not see has UIDVALIDITY 0, which the store's
 * copy or removal from it refuses. */
static void brief_members(struct jmap_mailboxes *m, const struct brief *b, struct store_member *v)
{
	for (uint32_t i = 0; i < b->nm; i++) {
		struct jmap_mailbox *mb = jmap_mailbox_by_id(m, b->mb[i]);
		v[i] = (struct store_member){b->mb[i], mb ? mb->uidvalidity : 0, b->uid[i]};
	}
}

struct set_err {
	const char *type, *desc, *prop;
	struct jmap_bad bad; /* invalidProperties of every bad property, when n */
};

static void w_err(struct jw *w, const char *key, struct set_err e)
{
	if (e.bad.n)
		jmap_w_set_error_bad(w, key, &e.bad);
	else
		jmap_w_set_error(w, key, e.type, e.desc, e.prop);
}

static int kw_ok(const char *k)
{
	return store_keyword_valid(k, strlen(k)) && strcasecmp(k, "$deleted") != 0;
}

static int has_mb(const uint32_t *v, uint32_t n, uint32_t x)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

/* The keywords and mailboxes the patch asks for. */
struct want {
	int kw_whole;          /* "keywords": {...} */
	struct buf kw_set;     /* whole: the new list */
	struct buf kw_add, kw_del;
	int mb_whole;
	uint32_t mb_set[JMAP_TARGETS_MAX], nmb_set;
	uint32_t mb_add[JMAP_TARGETS_MAX], nmb_add, mb_del[JMAP_TARGETS_MAX], nmb_del;
};

/*
 * The rest of a patch path after "keywords/" or "mailboxIds/": one JSON
 * Pointer token (RFC 8620 §5.3, RFC 6901), "~1" and "~0" unescaped into
 * a's memory, so keyword "a/b" is patched as "keywords/a~1b". NULL when
 * it is more than one token (a path into a keyword's value, true) or
 * has a "~" that is no escape: invalidPatch.
 */
static const char *path_token(struct arena *a, const char *s)
{
	size_t n = strlen(s), k = 0;
	char *t = arena_alloc(a, n + 1);

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '/')
			return NULL;
		if (s[i] == '~') {
			if (s[i + 1] != '0' && s[i + 1] != '1')
				return NULL;
			t[k++] = s[++i] == '0' ? '~' : '/';
		} else {
			t[k++] = s[i];
		}
	}
	t[k] = '\0';
	return t;
}

static int patch_parse(struct jmap_call *c, struct jmap_mailboxes *m, uint32_t email,
		       const struct json_value *p, struct want *w, struct set_err *e)
{
	/* Every bad property is named, not only the first (RFC 8620 §5.3):
	 * a bad one is noted and the next looked at. */
	static const char kw_bad[] = "keywords are IMAP atoms set to true";
	static const char mb_bad[] = "mailboxIds names no such mailbox";
	static const char mb_many[] = "more mailboxes than maxMailboxesPerEmail";
	struct jmap_bad bad = {.a = c->r->a};

	for (const struct json_value *x = p->first; x; x = x->next) {
		const char *k = x->key;
		if (!strcmp(k, "keywords")) {
			/* null: the default, none (RFC 8620 §5.3, RFC 8621
			 * §4.1.1 keywords default {}). */
			if (x->type == JSON_NULL) {
				w->kw_whole = 1;
				continue;
			}
			if (x->type != JSON_OBJECT) {
				jmap_bad_member(&bad, k, kw_bad);
				continue;
			}
			w->kw_whole = 1;
			for (const struct json_value *y = x->first; y; y = y->next) {
				if (y->type != JSON_BOOL || !y->boolean || !kw_ok(y->key)) {
					jmap_bad_member(&bad, k, kw_bad);
					break;
				}
				buf_printf(&w->kw_set, "%s%s", buf_len(&w->kw_set) ? " " : "", y->key);
			}
		} else if (!strncmp(k, "keywords/", 9)) {
			const char *kw = path_token(c->r->a, k + 9);
			if (!kw)
				goto badpath;
			if (!kw_ok(kw) || !((x->type == JSON_BOOL && x->boolean) || x->type == JSON_NULL)) {
				jmap_bad_member(&bad, k, kw_bad);
				continue;
			}
			struct buf *b = x->type == JSON_NULL ? &w->kw_del : &w->kw_add;
			buf_printf(b, "%s%s", buf_len(b) ? " " : "", kw);
		} else if (!strcmp(k, "mailboxIds")) {
			if (x->type != JSON_OBJECT) {
				jmap_bad_member(&bad, k, mb_bad);
				continue;
			}
			w->mb_whole = 1;
			for (const struct json_value *y = x->first; y; y = y->next) {
				const char *id = jmap_id_ref(c->r, y->key);
				struct jmap_mailbox *b = id ? jmap_mailbox_by_id(m, jmap_id_num(id, 'M')) : NULL;
				if (y->type != JSON_BOOL || !y->boolean || !b) {
					jmap_bad_member(&bad, k, mb_bad);
					break;
				}
				if (has_mb(w->mb_set, w->nmb_set, b->id))
					continue;
				if (w->nmb_set == JMAP_TARGETS_MAX) {
					jmap_bad_member(&bad, k, mb_many);
					break;
				}
				w->mb_set[w->nmb_set++] = b->id;
			}
		} else if (!strncmp(k, "mailboxIds/", 11)) {
			const char *id = path_token(c->r->a, k + 11);
			if (!id)
				goto badpath;
			id = jmap_id_ref(c->r, id);
			struct jmap_mailbox *b = id ? jmap_mailbox_by_id(m, jmap_id_num(id, 'M')) : NULL;
			if (!b || !((x->type == JSON_BOOL && x->boolean) || x->type == JSON_NULL)) {
				jmap_bad_member(&bad, k, mb_bad);
				continue;
			}
			/* Past the most an email may be in, a path was
			 * dropped without a word: refused now. */
			uint32_t *v = x->type == JSON_NULL ? w->mb_del : w->mb_add;
			uint32_t *nv = x->type == JSON_NULL ? &w->nmb_del : &w->nmb_add;
			if (has_mb(v, *nv, b->id))
				continue;
			if (*nv == JMAP_TARGETS_MAX) {
				jmap_bad_member(&bad, k, mb_many);
				continue;
			}
			v[(*nv)++] = b->id;
		} else if (!jmap_patch_same(c->r->a, jmap_email_json(c, email, k), x)) {
			/* Immutable, unless sent as it is (RFC 8620 §5.3). */
			jmap_bad_member(&bad, k, "this property cannot be changed");
		}
	}
	if ((w->kw_whole && (buf_len(&w->kw_add) || buf_len(&w->kw_del))) ||
	    (w->mb_whole && (w->nmb_add || w->nmb_del))) {
		*e = (struct set_err){"invalidPatch", "a property and a path into it", NULL, {0}};
		return -1;
	}
	if (bad.n) {
		*e = (struct set_err){"invalidProperties", bad.desc, NULL, bad};
		return -1;
	}
	return 0;
badpath:
	*e = (struct set_err){"invalidPatch", "a path into a keyword's or mailbox's value", NULL, {0}};
	return -1;
}

/* 1 when keyword k[0..kl) is one of the space-separated list[0..n)
 * (keywords are case-insensitive, RFC 8621 §4.1.1). */
static int kw_listed(const char *list, size_t n, const char *k, size_t kl)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && list[j] != ' ')
			j++;
		if (j - i == kl && strncasecmp(list + i, k, kl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

/* The rights changing the keywords of list that are (in_other 1) or
 * are not (0) in other need (imap_acl_keyword_right: the one mapping
 * IMAP's STORE and the store's check use too). */
static uint32_t kw_rights(const char *list, size_t n, const char *other, size_t on, int in_other)
{
	uint32_t need = 0;

	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && list[j] != ' ')
			j++;
		if (j > i && kw_listed(other, on, list + i, j - i) == in_other)
			need |= imap_acl_keyword_right(list + i, j - i);
		i = j + 1;
	}
	return need;
}

/* The rights the keyword change w asks of the email b (kw_rights). */
static uint32_t kw_need(const struct brief *b, const struct want *w)
{
	const char *cur = b->kw ? b->kw : "";
	uint32_t need = 0;

	if (w->kw_whole)
		need |= kw_rights(buf_data(&w->kw_set), buf_len(&w->kw_set), cur, b->kwlen, 0) |
			kw_rights(cur, b->kwlen, buf_data(&w->kw_set), buf_len(&w->kw_set), 0);
	need |= kw_rights(buf_data(&w->kw_add), buf_len(&w->kw_add), cur, b->kwlen, 0);
	need |= kw_rights(buf_data(&w->kw_del), buf_len(&w->kw_del), cur, b->kwlen, 1);
	return need;
}

/* forbidden for a keyword change (RFC 8620 §5.3); seen: for lack of
 * the right on $seen alone. */
static void kw_forbidden(struct set_err *e, int seen)
{
	*e = (struct set_err){"forbidden",
			      seen ? "no right to set $seen in every mailbox of the email"
				   : "no right to set keywords in every mailbox of the email",
			      "keywords", {0}};
}

/*
 * What a change asks of a shared account's user (jmap_share.c), from
 * RFC 8621 §2's myRights: a keyword that changes needs its right on
 * every mailbox the email is in ("only ... if they have this permission
 * for all of the Mailboxes"); a mailbox the email joins needs "i"
 * (mayAddItems), one it leaves "t" and "e" (mayRemoveItems). A mailbox
 * the user does not see is no mailbox for it: named in the patch, it is
 * invalidProperties as an unknown id would be. 0, or -1 with e set
 * (forbidden: RFC 8620 §5.3, the change would violate an ACL). The
 * keywords are checked here on the grants the call read when it began
 * and the memberships read before the write: the store checks them again
 * in its write (update_one).
 */
static int shared_update_allowed(struct jmap_call *c, const struct brief *b,
				 const struct want *w, const uint32_t *after, uint32_t na,
				 struct set_err *e)
{
	const struct jmap_request *r = c->r;
	const uint32_t *named[3] = {w->mb_set, w->mb_add, w->mb_del};
	uint32_t nnamed[3] = {w->nmb_set, w->nmb_add, w->nmb_del};
	uint32_t need = kw_need(b, w);

	for (int k = 0; k < 3; k++)
		for (uint32_t i = 0; i < nnamed[k]; i++)
			if (!(jmap_rights(r, named[k][i]) & STORE_ACL_L)) {
				*e = (struct set_err){"invalidProperties",
						      "mailboxIds names no such mailbox", "mailboxIds",
						      {0}};
				return -1;
			}
	for (uint32_t i = 0; need && i < b->nm; i++)
		if ((jmap_rights(r, b->mb[i]) & need) != need) {
			kw_forbidden(e, need & STORE_ACL_S && !(jmap_rights(r, b->mb[i]) & STORE_ACL_S));
			return -1;
		}
	for (uint32_t i = 0; i < na; i++)
		if (!has_mb(b->mb, b->nm, after[i]) && !(jmap_rights(r, after[i]) & STORE_ACL_I)) {
			*e = (struct set_err){"forbidden", "no right to add to that mailbox",
					      "mailboxIds", {0}};
			return -1;
		}
	uint32_t te = STORE_ACL_T | STORE_ACL_E;
	for (uint32_t i = 0; i < b->nm; i++)
		if (!has_mb(after, na, b->mb[i]) && (jmap_rights(r, b->mb[i]) & te) != te) {
			*e = (struct set_err){"forbidden", "no right to remove from that mailbox",
					      "mailboxIds", {0}};
			return -1;
		}
	return 0;
}

/* The id of the mailbox with role, or 0. */
static uint32_t role_mailbox(struct jmap_mailboxes *m, const char *role)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].role && !strcmp(m->v[i].role, role))
			return m->v[i].id;
	return 0;
}

/* The spam filter's lesson from one email's change of mailboxes, told to
 * the store's Junk hook (store_junk.c) as IMAP's MOVE tells it: into Junk
 * is spam; out of Junk into a mailbox that is not Trash is ham. Decided
 * from the memberships before and after, not per copy (the copies run
 * without lessons), so keeping Junk while adding a label teaches nothing
 * and dropping Junk from an email also in the INBOX teaches ham. */
static void junk_lesson(struct jmap_call *c, struct jmap_mailboxes *m, uint32_t email,
			const uint32_t *before, uint32_t nb, const uint32_t *after, uint32_t na)
{
	uint32_t junk = role_mailbox(m, "junk"), trash = role_mailbox(m, "trash");
	if (!junk)
		return;
	int was = has_mb(before, nb, junk), is = has_mb(after, na, junk);
	uint32_t other = 0; /* a mailbox on the other side of the lesson */
	if (!was && is) {
		other = before[0];
	} else if (was && !is) {
		for (uint32_t i = 0; i < na && !other; i++)
			if (after[i] != trash)
				other = after[i];
		if (!other)
			return; /* to Trash only: no lesson */
	} else {
		return;
	}
	store_junk_notify(c->r->st, c->r->account, is ? other : junk, is ? junk : other, &email, 1);
}

/* The error of an update the store's write refused (wr: its
 * store_email_update_async() result); need: the rights its keyword
 * change asked (kw_need). */
static void update_failed(struct set_err *e, int wr, uint32_t need)
{
	if (wr == STORE_EACCES && need)
		kw_forbidden(e, need == STORE_ACL_S);
	else if (wr == STORE_EACCES)
		*e = (struct set_err){"forbidden", "no right to change the mailboxes", "mailboxIds",
				      {0}};
	else if (wr == STORE_EINVAL)
		*e = (struct set_err){"invalidProperties", "too many or bad keywords", "keywords", {0}};
	else if (wr == STORE_ELIMIT)
		*e = (struct set_err){"invalidProperties", "more mailboxes than maxMailboxesPerEmail",
				      "mailboxIds", {0}};
	else
		*e = (struct set_err){jmap_store_fail_type(wr, 0),
				      wr == STORE_EFULL	  ? jmap_store_fail_desc(wr)
				      : wr == STORE_EGONE ? "the email changed meanwhile"
							  : "the change failed",
				      NULL, {0}};
}

static int update_one(struct jmap_call *c, struct jmap_mailboxes *m, uint32_t id,
		      const struct json_value *patch, struct set_err *e)
{
	struct brief b = {.rq = c->r};
	struct want w = {0};
	int rc = -1;

	if (patch->type != JSON_OBJECT) {
		*e = (struct set_err){"invalidPatch", NULL, NULL, {0}};
		return -1;
	}
	if (store_emails_get(c->r->st, c->r->account, &id, 1, brief_cb, &b) != STORE_OK || !b.found ||
	    !b.nm) {
		*e = (struct set_err){"notFound", NULL, NULL, {0}};
		return -1;
	}
	/* keywords and mailboxIds are the objects a client's paths go into
	 * (one part deep: the rest is patch_parse's); a path into any other
	 * property, or next to the whole property, is malformed. */
	static const char objs[] = "{\"keywords\":{},\"mailboxIds\":{}}";
	char err[64];
	const char *why;
	if (jmap_patch_check(c->r->a, json_parse(objs, sizeof objs - 1, c->r->a, err, sizeof err),
			     patch, &why) < 0) {
		*e = (struct set_err){"invalidPatch", why, NULL, {0}};
		return -1;
	}
	buf_init(&w.kw_set, 64 * 300);
	buf_init(&w.kw_add, 64 * 300);
	buf_init(&w.kw_del, 64 * 300);
	if (patch_parse(c, m, id, patch, &w, e) < 0)
		goto out;

	/* The mailboxes after the change; at least one. In a shared
	 * account a whole mailboxIds is the mailboxes the user sees of the
	 * email: those it does not see stay. */
	uint32_t after[JMAP_TARGETS_MAX], na = 0;
	for (uint32_t i = 0; i < b.nm; i++)
		if (!has_mb(after, na, b.mb[i]) &&
		    ((c->r->share && !jmap_may_read(c->r, b.mb[i])) ||
		     (w.mb_whole ? has_mb(w.mb_set, w.nmb_set, b.mb[i])
				 : !has_mb(w.mb_del, w.nmb_del, b.mb[i]))))
			after[na++] = b.mb[i];
	const uint32_t *adds = w.mb_whole ? w.mb_set : w.mb_add;
	uint32_t nadds = w.mb_whole ? w.nmb_set : w.nmb_add;
	int toomany = b.over && (w.mb_whole || w.nmb_add || w.nmb_del);
	for (uint32_t i = 0; i < nadds && !toomany; i++) {
		if (has_mb(after, na, adds[i]))
			continue;
		if (na == JMAP_TARGETS_MAX)
			toomany = 1;
		else
			after[na++] = adds[i];
	}
	if (toomany) {
		/* Dropped without a word before: "updated", and the email
		 * not in the mailboxes past the 64th. */
		*e = (struct set_err){"invalidProperties", "more mailboxes than maxMailboxesPerEmail",
				      "mailboxIds", {0}};
		goto out;
	}
	if (na == 0) {
		*e = (struct set_err){"invalidProperties", "an email is in at least one mailbox",
				      "mailboxIds", {0}};
		goto out;
	}
	if (c->r->share && shared_update_allowed(c, &b, &w, after, na, e) < 0)
		goto out;

	/* One write for the whole change (RFC 8620 §5.3: an update applies
	 * whole or not at all), at one modseq. Keywords go through the first
	 * membership (they are the email's). In a shared account the store
	 * checks the user's rights again inside its write (STORE_EACCES:
	 * nothing written), so a mailbox the email joined or a grant taken
	 * back since the check above refuses the change too. */
	struct store_kw_actor act = imap_acl_kw_actor(c->r->user, 1);
	struct store_member members[JMAP_TARGETS_MAX], gone[JMAP_TARGETS_MAX];
	uint32_t to[JMAP_TARGETS_MAX];
	struct store_email_update u = {
	    .as = c->r->share ? &act : NULL,
	    .account = c->r->account,
	    .max_members = JMAP_TARGETS_MAX,
	};
	brief_members(m, &b, members);
	if (w.kw_whole || buf_len(&w.kw_add) || buf_len(&w.kw_del)) {
		u.kw = members[0];
		u.kw_set = w.kw_whole ? buf_data(&w.kw_set) : NULL;
		u.kw_add = buf_data(&w.kw_add);
		u.kw_remove = buf_data(&w.kw_del);
	}
	/* Mailboxes: copies into the new ones, then the old ones go. When
	 * exactly one membership goes (a move, the usual change), the copies
	 * come from it and the last one moves it: no removal of its own. */
	uint32_t ngone = 0, gi = 0;
	for (uint32_t i = 0; i < b.nm; i++)
		if (!has_mb(after, na, b.mb[i]))
			gone[ngone++] = members[i], gi = i;
	for (uint32_t i = 0; i < na; i++)
		if (!has_mb(b.mb, b.nm, after[i]))
			to[u.nto++] = after[i];
	u.from = members[ngone == 1 ? gi : 0];
	u.to = to;
	u.move = ngone == 1 && u.nto;
	u.gone = gone;
	u.ngone = u.move ? 0 : ngone;
	int wr = jmap_write_update(c->r->st, &u);
	if (wr != STORE_OK) {
		update_failed(e, wr, kw_need(&b, &w));
		goto out;
	}
	/* The owner's spam filter learns from the owner alone. */
	if (!c->r->share)
		junk_lesson(c, m, id, b.mb, b.nm, after, na);
	rc = 0;
out:
	buf_free(&w.kw_set);
	buf_free(&w.kw_add);
	buf_free(&w.kw_del);
	return rc;
}

static int destroy_one(struct jmap_call *c, struct jmap_mailboxes *m, uint32_t id,
		       struct set_err *e)
{
	struct brief b = {.rq = c->r};
	uint32_t te = STORE_ACL_T | STORE_ACL_E;

	if (store_emails_get(c->r->st, c->r->account, &id, 1, brief_cb, &b) != STORE_OK || !b.found) {
		*e = (struct set_err){"notFound", NULL, NULL, {0}};
		return -1;
	}
	/* In a shared account: mayRemoveItems on every mailbox it is in
	 * (RFC 8621 §2), one the user does not see too. */
	for (uint32_t i = 0; c->r->share && i < b.nm; i++)
		if ((jmap_rights(c->r, b.mb[i]) & te) != te) {
			*e = (struct set_err){"forbidden", "no right to remove it from every mailbox",
					      NULL, {0}};
			return -1;
		}
	/* Every membership goes, in one write; the last takes the email
	 * with it. In a shared account the store checks the rights again. */
	struct store_kw_actor act = imap_acl_kw_actor(c->r->user, 1);
	struct store_member gone[JMAP_TARGETS_MAX];
	brief_members(m, &b, gone);
	struct store_email_update u = {
	    .as = c->r->share ? &act : NULL,
	    .account = c->r->account,
	    .gone = gone,
	    .ngone = b.nm,
	};
	int xr = jmap_write_update(c->r->st, &u);
	if (xr == STORE_EACCES) {
		*e = (struct set_err){"forbidden", "no right to remove it from every mailbox", NULL,
				      {0}};
		return -1;
	}
	if (xr != STORE_OK) {
		*e = (struct set_err){jmap_store_fail_type(xr, 0), jmap_store_fail_desc(xr), NULL, {0}};
		return -1;
	}
	return 0;
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},  {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE}, {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},
};

void jmap_email_set(struct jmap_call *c)
{
	char old[24], now[24];
	struct jmap_mailboxes m;
	struct jmap_set set;

	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0 ||
	    jmap_state(c, old) < 0 || jmap_set_if_in_state(c, old) < 0)
		return;
	if (jmap_mailboxes_load(c->r->st, c->r->account, c->r->a, &m) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_set_open(&set, JMAP_RESPONSE_MAX / 4);
	/* okw[i], badw[i]: created/updated/destroyed and their not* (the enum's order). */
	struct jw *okw = &set.w[JMAP_SET_CREATED], *badw = &set.w[JMAP_SET_NOT_CREATED];
	for (const struct json_value *o = set.create ? set.create->first : NULL; o; o = o->next)
		jmap_email_create(c, &m, o->key, o, &okw[0], &badw[0]);
	for (const struct json_value *o = set.update ? set.update->first : NULL; o; o = o->next) {
		struct set_err e;
		const char *key = jmap_id_ref(c->r, o->key);
		uint32_t id = key ? jmap_id_num(key, 'E') : 0;
		if (!id)
			e = (struct set_err){"notFound", NULL, NULL, {0}};
		if (!id || update_one(c, &m, id, o, &e) < 0) {
			w_err(&badw[1], key ? key : o->key, e);
			continue;
		}
		jw_key(&okw[1], key);
		jw_null(&okw[1]);
	}
	for (const struct json_value *o = set.destroy ? set.destroy->first : NULL; o; o = o->next) {
		struct set_err e;
		const char *key = jmap_id_ref(c->r, o->str);
		uint32_t id = key ? jmap_id_num(key, 'E') : 0;
		if (!id)
			e = (struct set_err){"notFound", NULL, NULL, {0}};
		if (!id || destroy_one(c, &m, id, &e) < 0) {
			w_err(&badw[2], key ? key : o->str, e);
			continue;
		}
		jw_str(&okw[2], key);
	}
	if (jmap_state(c, now) < 0) {
		jmap_set_free(&set);
		return;
	}
	jmap_set_end(c, &set, old, now);
}
