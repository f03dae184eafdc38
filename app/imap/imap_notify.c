/*
 * imap_notify.c — NOTIFY (RFC 5465): the client names mailboxes and
 * events, and the server tells it about them as they happen, also
 * between commands and for mailboxes that are not selected.
 *
 * NOTIFY SET [STATUS] (filter events) ... | NOTIFY NONE. Filters:
 * SELECTED, SELECTED-DELAYED, INBOXES (INBOX), PERSONAL (every mailbox
 * of the account), SUBSCRIBED, SUBTREE mailbox(es), MAILBOXES
 * mailbox(es); the first filter a mailbox matches decides its
 * events; SELECTED or SELECTED-DELAYED at most once and with message
 * events only (RFC 5465 §6.1, else BAD: the selected mailbox's other
 * events are those of the first other filter it matches). Events served:
 * MessageNew and MessageExpunge (together, RFC 5465 §5, else BAD),
 * FlagChange (with both, likewise), MailboxName,
 * SubscriptionChange, MailboxMetadataChange and ServerMetadataChange
 * (RFC 5465 §5.8-5.9: "* METADATA mailbox entry ..." naming the entries
 * set, changed or removed, RFC 5464 §4.4.2, for the watched mailboxes
 * and "" for the server's; found by comparing each watched mailbox's
 * entries, names and a hash of each value, with the last look: bounded
 * by the account's metadata limits); AnnotationChange or an unknown
 * event is NO [BADEVENT (...)]. MessageNew
 * may carry fetch attributes for SELECTED / SELECTED-DELAYED (RFC 5465
 * §5.2; BAD elsewhere, as Dovecot answers): each new message of the
 * selected mailbox then gets "* n FETCH (UID ...)" with them after its
 * EXISTS, as Dovecot sends it (UID first; a body item without .PEEK does
 * not set \Seen). That FETCH is FETCH's own streaming (imap_fetch.c,
 * f->unsolicited), started only while no command runs or IDLE waits, so
 * it never cuts into a command's output; messages that come while one
 * streams follow when it ends.
 *
 * What goes out, as Dovecot sends it: for the selected mailbox, its
 * EXISTS, EXPUNGE and FETCH FLAGS as soon as the change is committed (the
 * sync IDLE does); for another mailbox whose counters changed, "* STATUS
 * name (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)" (HIGHESTMODSEQ too under
 * CONDSTORE; in the STATUS NOTIFY SET sends at once, also whenever
 * FlagChange is asked for, as Dovecot sends it); for its flag changes
 * (FlagChange) that STATUS under CONDSTORE, else only when UNSEEN
 * changed (a STATUS saying nothing new is not sent, as Dovecot); a new mailbox
 * "* LIST () "/" name", a deleted one
 * "* LIST (\NonExistent) "/" name", a renamed one with its OLDNAME
 * extended data item (RFC 5465 §5.4), a subscription change
 * "* LIST (\Subscribed) "/" name" or "* LIST () "/" name". With STATUS,
 * each watched mailbox's STATUS goes out at once.
 *
 * Shared mailboxes (imap_acl.h): SUBTREE and MAILBOXES may name the
 * other users' namespace ("Shared", "Shared/OWNER", "Shared/OWNER/M");
 * INBOXES, PERSONAL and SUBSCRIBED are the user's own mailboxes only
 * (RFC 5465 §6). A mailbox shared with the user is watched when a
 * filter names it and the user holds "l" on it; its STATUS goes out only
 * with "r" and its METADATA with GETMETADATA's rights (RFC 5465 §5: the
 * server "MUST NOT send" events of a mailbox the client cannot access),
 * the rights being read with each snapshot, so a grant taken away stops
 * the events (with MailboxName, the mailbox is told \NonExistent). The
 * session follows the change feed of each owner of such a mailbox, at
 * most NOTIFY_OWNERS_MAX of them.
 *
 * How: a snapshot of the account's mailboxes (owner, id, name, counters,
 * subscribed, the user's rights) taken at NOTIFY SET and compared with a
 * fresh one whenever the account's (or a watched owner's) change feed
 * fires and no command is under way (or IDLE waits), and at each NOOP.
 * Memory: one entry per mailbox (the account's mailbox limit bounds it;
 * NOTIFY_SHARED_MAX the shared ones), the filters (bounded by the
 * command) and the owners' subscriptions (NOTIFY_OWNERS_MAX).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"
#include "net/conn.h"

#define EV_NEW 1u
#define EV_EXPUNGE 2u
#define EV_FLAGS 4u
#define EV_NAME 8u
#define EV_SUBS 16u
#define EV_MBMETA 32u  /* MailboxMetadataChange */
#define EV_SRVMETA 64u /* ServerMetadataChange */

enum filter_kind { F_SELECTED, F_SELECTED_DELAYED, F_INBOXES, F_PERSONAL, F_SUBSCRIBED, F_SUBTREE,
		   F_MAILBOXES };

struct filter {
	enum filter_kind kind;
	unsigned events;
	char **names; /* SUBTREE, MAILBOXES: UTF-8 names, malloc'ed */
	size_t nnames;
};

/* One METADATA entry as last seen: its name and a hash of its value. */
struct meta_seen {
	char *name; /* malloc'ed */
	uint64_t hash;
};

struct mbox_state {
	/* owner: the account holding it (the user, or one sharing it with
	 * the user); rights: the user's on it, read with the snapshot */
	uint32_t owner, rights;
	uint32_t id, messages, uidnext, uidvalidity;
	uint64_t hms;
	/* FlagChange without CONDSTORE: the STATUS says only UNSEEN's change.
	 * unread: the store's count (no $seen, no $draft), cheap; unseen:
	 * STATUS UNSEEN (no $seen) when counted, else -1. */
	uint32_t unread;
	int64_t unseen;
	int subscribed;
	char *name; /* malloc'ed */
	struct meta_seen *meta; /* MailboxMetadataChange watched: its entries */
	size_t nmeta;
	int meta_read;
};

struct imap_notify {
	struct filter *f;
	size_t nf;
	uint32_t account; /* the user's */
	/* A filter names a mailbox of the other users' namespace: the
	 * snapshot holds the shared mailboxes it matches, and the session
	 * follows their owners' change feeds (subs, at most
	 * NOTIFY_OWNERS_MAX, fixed in place while subscribed). */
	int shared;
	struct store_sub *subs;
	size_t nsubs;
	struct mbox_state *m;
	size_t nm;
	/* MessageNew's fetch attributes for the selected mailbox, parsed
	 * (in fa), and how far they were sent: the UIDs of sel_mailbox up to
	 * fetched_uid had theirs (or were there at SELECT). */
	struct arena *fa;
	struct imap_fetch_item *items;
	size_t nitems;
	int need_raw, need_tree, has_modseq;
	uint32_t sel_mailbox, sel_uidvalidity, fetched_uid;
	/* ServerMetadataChange: the server's entries as last seen */
	struct mbox_state server;
};

/* The owners whose change feeds NOTIFY follows for shared mailboxes: a
 * bound whatever other accounts grant the user. A change of an owner
 * past it is told at the next look (NOOP, a change of the user's own). */
#define NOTIFY_OWNERS_MAX 32
/* The shared mailboxes a snapshot holds at most (a grant each). */
#define NOTIFY_SHARED_MAX 65536

static void meta_free(struct mbox_state *m)
{
	for (size_t k = 0; k < m->nmeta; k++)
		free(m->meta[k].name);
	free(m->meta);
	m->meta = NULL;
	m->nmeta = 0;
}

static void snapshot_free(struct mbox_state *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		meta_free(&m[i]);
	}
	free(m);
}

static void meta_cb(void *arg, struct str name, struct str value)
{
	struct mbox_state *m = arg;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < value.len; i++)
		h = (h ^ (unsigned char)value.p[i]) * 1099511628211ull;
	m->meta = xrealloc(m->meta, (m->nmeta + 1) * sizeof(*m->meta));
	m->meta[m->nmeta++] = (struct meta_seen){ .name = xstrndup(name.p, name.len), .hash = h };
}

/* Reads the entries of m (id 0: the server) into m->meta, in the store's
 * order (lower-case names): a shared mailbox's as GETMETADATA reads them
 * for the user (the owner's /shared ones, the user's /private ones), and
 * none without the rights GETMETADATA needs (RFC 5465 §5: nothing of a
 * mailbox the user cannot access). */
static void meta_read(struct imap_session *s, struct mbox_state *m)
{
	meta_free(m);
	m->meta_read = imap_acl_allows(m->rights, IMAP_ACL_OP_METADATA) &&
		       store_metadata_get_as(imap_store, s->account, m->owner, m->id, meta_cb, m) ==
			       STORE_OK;
}

/*
 * "* METADATA name entry ..." (RFC 5464 §4.4.2: the names without values)
 * for the entries of o and n that differ (set, changed, removed); nothing
 * when o was never read.
 */
static void meta_diff(const struct mbox_state *o, const struct mbox_state *n, const char *name,
		      struct buf *out)
{
	size_t i = 0, k = 0, before = buf_len(out);

	if (!o->meta_read || !n->meta_read)
		return;
	while (i < o->nmeta || k < n->nmeta) {
		int c = i == o->nmeta ? 1 : k == n->nmeta ? -1 : strcasecmp(o->meta[i].name, n->meta[k].name);
		const char *changed = NULL;
		if (c < 0)
			changed = o->meta[i++].name;
		else if (c > 0)
			changed = n->meta[k++].name;
		else if (o->meta[i++].hash != n->meta[k++].hash)
			changed = n->meta[k - 1].name;
		if (!changed)
			continue;
		if (buf_len(out) == before) {
			buf_append_c(out, "* METADATA ");
			imap_append_mailbox(out, name);
		}
		buf_append_c(out, " ");
		imap_append_string(out, str_c(changed));
	}
	if (buf_len(out) != before)
		buf_append_c(out, "\r\n");
}

void imap_notify_clear(struct imap_session *s)
{
	struct imap_notify *nt = s->notify;
	if (!nt)
		return;
	for (size_t i = 0; i < nt->nf; i++) {
		for (size_t k = 0; k < nt->f[i].nnames; k++)
			free(nt->f[i].names[k]);
		free(nt->f[i].names);
	}
	free(nt->f);
	for (size_t i = 0; i < nt->nsubs; i++)
		store_unsubscribe(imap_store, &nt->subs[i]);
	free(nt->subs);
	snapshot_free(nt->m, nt->nm);
	if (nt->fa)
		arena_free(&nt->fa);
	meta_free(&nt->server);
	free(nt);
	s->notify = NULL;
}

/* A deep copy of items[0..n) in a (names, part numbers, header lists),
 * with room for IMAP_FETCH_ITEMS_ROOM. */
static struct imap_fetch_item *items_copy(struct arena *a, const struct imap_fetch_item *src,
					  size_t n)
{
	struct imap_fetch_item *dst = arena_zalloc(a, IMAP_FETCH_ITEMS_ROOM * sizeof(*dst));

	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i];
		dst[i].name = str_dup(a, str_c(src[i].name));
		if (src[i].nparts) {
			uint32_t *p = arena_alloc(a, src[i].nparts * sizeof(*p));
			memcpy(p, src[i].part, src[i].nparts * sizeof(*p));
			dst[i].part = p;
		}
		if (src[i].fields) {
			size_t k = 0;
			while (src[i].fields[k].type != IMAP_ARG_END)
				k++;
			dst[i].fields = imap_args_copy(a, src[i].fields, k);
		}
	}
	return dst;
}

void imap_notify_selected(struct imap_session *s)
{
	struct imap_notify *nt = s->notify;
	if (!nt || s->state != IMAP_S_SELECTED)
		return;
	nt->sel_mailbox = s->view.mailbox;
	nt->sel_uidvalidity = s->view.uidvalidity;
	nt->fetched_uid = imap_view_last_uid(&s->view);
}

/* MessageNew's FETCH of the selected mailbox's messages that came since
 * the last one, when no command's output can be cut into. */
static void notify_fetch(struct imap_session *s, struct imap_notify *nt)
{
	if (!nt->nitems || s->state != IMAP_S_SELECTED || s->fetch || s->conn_gone ||
	    (s->wait != IMAP_W_NONE && s->wait != IMAP_W_IDLE) ||
	    (s->in_cmd && s->wait != IMAP_W_IDLE))
		return;
	if (nt->sel_mailbox != s->view.mailbox || nt->sel_uidvalidity != s->view.uidvalidity) {
		imap_notify_selected(s);
		return;
	}
	uint32_t last = imap_view_last_uid(&s->view);
	if (last <= nt->fetched_uid)
		return;
	struct imap_fetch *f = xcalloc(1, sizeof(*f));
	f->own = arena_new(4096);
	f->unsolicited = 1;
	f->uid_mode = 1;
	f->lit = -1;
	f->items = items_copy(f->own, nt->items, nt->nitems);
	if (!s->uidonly) { /* UID first, as Dovecot sends it */
		memmove(f->items + 1, f->items, nt->nitems * sizeof(*f->items));
		f->items[0] = (struct imap_fetch_item){ .kind = IMAP_FI_UID, .name = "UID" };
	}
	f->nitems = nt->nitems + !s->uidonly;
	f->need_raw = nt->need_raw;
	f->need_tree = nt->need_tree;
	f->has_modseq = nt->has_modseq;
	struct imap_seq_range *r = arena_alloc(f->own, sizeof(*r));
	r->lo = nt->fetched_uid + 1;
	r->hi = last;
	f->set.ranges = r;
	f->set.count = 1;
	f->set.total = (uint64_t)r->hi - r->lo + 1;
	nt->fetched_uid = last;
	imap_fetch_start(s, f);
}

void imap_notify_fetched(struct imap_session *s)
{
	if (s->notify)
		notify_fetch(s, s->notify);
}

struct snap_ctx {
	struct mbox_state *m;
	size_t n, cap;
	uint32_t owner; /* the user: its own mailboxes come first */
	const struct imap_notify *nt;
};

/* Appends a mailbox's state, its name name (taken: freed with the
 * snapshot). */
static struct mbox_state *snap_add(struct snap_ctx *c, char *name, uint32_t owner,
				   uint32_t rights, const struct store_mailbox_info *i)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->m = xrealloc(c->m, c->cap * sizeof(*c->m));
	}
	c->m[c->n] = (struct mbox_state){ .owner = owner, .rights = rights,
					  .id = i->id, .messages = i->messages,
					  .uidnext = i->uidnext, .uidvalidity = i->uidvalidity,
					  .hms = i->highest_modseq, .subscribed = i->subscribed,
					  .unread = i->unread_emails, .unseen = -1,
					  .name = name };
	return &c->m[c->n++];
}

static void snap_cb(void *arg, const struct store_mailbox_info *i)
{
	struct snap_ctx *c = arg;
	snap_add(c, xstrndup(i->name, strlen(i->name)), c->owner, STORE_ACL_ALL, i);
}

static unsigned events_for(const struct imap_notify *nt, const struct mbox_state *m);

/*
 * A mailbox shared with the user (imap_acl_shared_each: "l" held, named
 * "Shared/OWNER/NAME" as LIST names it, the rights as granted now, so a
 * grant taken away drops it from the next snapshot), kept when a filter
 * of the NOTIFY matches it.
 */
static void snap_shared_cb(void *arg, const char *name, uint32_t owner, uint32_t rights,
			   const struct store_mailbox_info *i)
{
	struct snap_ctx *c = arg;
	struct mbox_state *m = snap_add(c, xstrndup(name, strlen(name)), owner, rights, i);
	if (!events_for(c->nt, m)) {
		c->n--; /* watched by no filter */
		free(m->name);
	}
}

/* The user's mailboxes, and the shared ones nt's filters name. */
static int snapshot(struct imap_session *s, const struct imap_notify *nt, struct mbox_state **m_r,
		    size_t *n_r)
{
	struct snap_ctx c = { .owner = s->account, .nt = nt };
	if (store_mailbox_list(imap_store, s->account, snap_cb, &c) != STORE_OK ||
	    (nt->shared && imap_acl_shared_each(imap_store, s->account, NOTIFY_SHARED_MAX,
						snap_shared_cb, &c) != STORE_OK)) {
		snapshot_free(c.m, c.n);
		return -1;
	}
	*m_r = c.m;
	*n_r = c.n;
	return 0;
}

/* Follows the change feed of each owner of a shared mailbox in the
 * snapshot (up to NOTIFY_OWNERS_MAX), so that its changes are told as
 * they happen, as the user's own are. */
static void watch_owners(struct imap_session *s, struct imap_notify *nt)
{
	for (size_t i = 0; i < nt->nm; i++) {
		uint32_t owner = nt->m[i].owner;
		size_t k = 0;
		if (owner == s->account)
			continue;
		while (k < nt->nsubs && nt->subs[k].account != owner)
			k++;
		if (k < nt->nsubs || nt->nsubs == NOTIFY_OWNERS_MAX)
			continue;
		if (!nt->subs) /* never moved once one is subscribed */
			nt->subs = xcalloc(NOTIFY_OWNERS_MAX, sizeof(*nt->subs));
		imap_session_watch_account(s, &nt->subs[nt->nsubs++], owner);
	}
}

/* The events that apply to a (non-selected) mailbox: its first filter's. */
static unsigned events_for(const struct imap_notify *nt, const struct mbox_state *m)
{
	int own = m->owner == nt->account;
	for (size_t i = 0; i < nt->nf; i++) {
		const struct filter *f = &nt->f[i];
		int match = 0;
		switch (f->kind) {
		case F_SELECTED:
		case F_SELECTED_DELAYED: break;
		/* RFC 5465 §6: these three are the user's personal
		 * namespace; the other users' is named by SUBTREE and
		 * MAILBOXES only. */
		case F_INBOXES: match = own && strcmp(m->name, "INBOX") == 0; break;
		case F_PERSONAL: match = own; break;
		case F_SUBSCRIBED: match = own && m->subscribed; break;
		case F_SUBTREE:
		case F_MAILBOXES:
			for (size_t k = 0; k < f->nnames && !match; k++) {
				size_t l = strlen(f->names[k]);
				match = strcmp(m->name, f->names[k]) == 0 ||
					(f->kind == F_SUBTREE && strncmp(m->name, f->names[k], l) == 0 &&
					 m->name[l] == '/');
			}
			break;
		}
		if (match)
			return f->events;
	}
	return 0;
}

/* The metadata events of mailbox m: its filter's, or SELECTED's for the
 * selected one. */
static unsigned selected_events(const struct imap_notify *nt);
static int is_selected(const struct imap_session *s, const struct mbox_state *m);
static unsigned meta_events(const struct imap_session *s, const struct imap_notify *nt,
			    const struct mbox_state *m)
{
	return (events_for(nt, m) | (is_selected(s, m) ? selected_events(nt) : 0)) & EV_MBMETA;
}

/* ServerMetadataChange in any group: the server's entries are watched. */
static int server_watched(const struct imap_notify *nt)
{
	for (size_t i = 0; i < nt->nf; i++)
		if (nt->f[i].events & EV_SRVMETA)
			return 1;
	return 0;
}

static unsigned selected_events(const struct imap_notify *nt)
{
	for (size_t i = 0; i < nt->nf; i++)
		if (nt->f[i].kind == F_SELECTED || nt->f[i].kind == F_SELECTED_DELAYED)
			return nt->f[i].events;
	return 0;
}

static int is_selected(const struct imap_session *s, const struct mbox_state *m)
{
	return s->state == IMAP_S_SELECTED && s->view.account == m->owner &&
	       s->view.mailbox == m->id;
}

static void unseen_cb(void *arg, const struct store_email_info *info)
{
	int64_t *n = arg;
	struct str kw = str_make(info->keywords, info->keywords_len);
	for (size_t i = 0; i < kw.len;) {
		size_t st = i;
		while (i < kw.len && kw.p[i] != ' ')
			i++;
		if (str_eq_ci_c(str_make(kw.p + st, i - st), "$seen"))
			return;
		i++;
	}
	(*n)++;
}

/* STATUS UNSEEN of mailbox m: its messages without $seen; -1 on error. */
static int64_t count_unseen(const struct mbox_state *m)
{
	int64_t n = 0;
	if (store_email_list(imap_store, m->owner, m->id, unseen_cb, &n) != STORE_OK)
		return -1;
	return n;
}

/*
 * Whether a flag change in a mailbox not selected is told (FlagChange,
 * RFC 5465 §5.1): by its STATUS, which without CONDSTORE has no
 * HIGHESTMODSEQ, so only when its UNSEEN changed (as Dovecot tells it); a
 * STATUS saying what the client knew is noise. Counts now's UNSEEN for
 * the next look.
 */
static int flags_told(struct imap_session *s, const struct mbox_state *o, struct mbox_state *now)
{
	if (o->hms == now->hms)
		return 0;
	if (s->condstore)
		return 1;
	now->unseen = count_unseen(now);
	if (o->unseen >= 0 && now->unseen >= 0)
		return o->unseen != now->unseen;
	/* Not counted last time: the store's unread count tells, but for a
	 * \Seen change of a \Draft message. */
	return o->unread != now->unread || now->unseen < 0;
}

/* hms: HIGHESTMODSEQ even without CONDSTORE (the STATUS NOTIFY SET
 * sends at once for FlagChange, as Dovecot does). A shared mailbox's
 * only with "r", as STATUS answers (RFC 4314 §4; RFC 5465 §5: nothing
 * of a mailbox the client cannot access). */
static void status_line(struct imap_session *s, const struct mbox_state *m, int hms,
			struct buf *out)
{
	static const struct imap_arg items[] = {
		{ .type = IMAP_ARG_ATOM, .str = { "MESSAGES", 8 } },
		{ .type = IMAP_ARG_ATOM, .str = { "UIDNEXT", 7 } },
		{ .type = IMAP_ARG_ATOM, .str = { "UIDVALIDITY", 11 } },
		{ .type = IMAP_ARG_ATOM, .str = { "UNSEEN", 6 } },
		{ .type = IMAP_ARG_ATOM, .str = { "HIGHESTMODSEQ", 13 } },
		{ .type = IMAP_ARG_END },
	};
	size_t n = s->condstore || hms ? 5 : 4;
	unsigned want;

	if (!(m->rights & STORE_ACL_R))
		return;
	struct store_mailbox_info info = { .id = m->id, .name = m->name, .uidvalidity = m->uidvalidity,
					   .uidnext = m->uidnext, .messages = m->messages,
					   .highest_modseq = m->hms };
	if (imap_status_items(items, n, &want) == 0)
		imap_status_append(s, m->owner, m->name, &info, items, n, want, out);
}

static void list_line(struct buf *out, const char *attrs, const char *name, const char *old)
{
	buf_printf(out, "* LIST (%s) \"/\" ", attrs);
	imap_append_mailbox(out, name);
	if (old) {
		buf_append_c(out, " (\"OLDNAME\" (");
		imap_append_mailbox(out, old);
		buf_append_c(out, "))");
	}
	buf_append_c(out, "\r\n");
}

/* The entry of k's mailbox (the same owner and id) in m, or NULL. */
static const struct mbox_state *find_same(const struct mbox_state *m, size_t n,
					  const struct mbox_state *k)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].id == k->id && m[i].owner == k->owner)
			return &m[i];
	return NULL;
}

void imap_notify_check(struct imap_session *s)
{
	struct imap_notify *nt = s->notify;
	struct mbox_state *now;
	size_t nn;
	struct buf out;

	if (!nt || s->state == IMAP_S_LOGOUT || s->conn_gone)
		return;
	imap_names_utf8 = s->utf8;
	if (selected_events(nt) && s->state == IMAP_S_SELECTED)
		imap_session_sync(s);
	if (snapshot(s, nt, &now, &nn) < 0)
		return;
	buf_init(&out, (nn + nt->nm + 1) * 2600);
	for (size_t i = 0; i < nn; i++) {
		const struct mbox_state *o = find_same(nt->m, nt->nm, &now[i]);
		unsigned ev = events_for(nt, &now[i]);
		if (o)
			ev |= events_for(nt, o);
		if (!o) {
			if (ev & EV_NAME)
				list_line(&out, now[i].subscribed && (ev & EV_SUBS) ? "\\Subscribed" : "",
					  now[i].name, NULL);
			continue;
		}
		if (strcmp(o->name, now[i].name) != 0 && (ev & EV_NAME))
			list_line(&out, "", now[i].name, o->name);
		if (o->subscribed != now[i].subscribed && (ev & EV_SUBS))
			list_line(&out, now[i].subscribed ? "\\Subscribed" : "", now[i].name, NULL);
		if (o->hms == now[i].hms)
			now[i].unseen = o->unseen; /* nothing changed in it */
		if (!is_selected(s, &now[i]) && (now[i].rights & STORE_ACL_R) &&
		    (ev & (EV_NEW | EV_EXPUNGE | EV_FLAGS))) {
			int moved = o->messages != now[i].messages || o->uidnext != now[i].uidnext;
			int flags = (ev & EV_FLAGS) && flags_told(s, o, &now[i]);
			if (moved || flags)
				status_line(s, &now[i], 0, &out);
		}
		if (meta_events(s, nt, &now[i])) {
			meta_read(s, &now[i]);
			meta_diff(o, &now[i], now[i].name, &out);
		}
	}
	for (size_t i = 0; i < nt->nm; i++)
		if (!find_same(now, nn, &nt->m[i]) && (events_for(nt, &nt->m[i]) & EV_NAME))
			list_line(&out, "\\NonExistent", nt->m[i].name, NULL);
	if (server_watched(nt)) {
		struct mbox_state srv = { .owner = s->account, .rights = STORE_ACL_ALL };
		meta_read(s, &srv);
		meta_diff(&nt->server, &srv, "", &out);
		meta_free(&nt->server);
		nt->server = srv;
	}
	snapshot_free(nt->m, nt->nm);
	nt->m = now;
	nt->nm = nn;
	watch_owners(s, nt);
	if (buf_len(&out))
		imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	notify_fetch(s, nt);
}

/* ---- NOTIFY SET / NONE ---- */

static const struct {
	const char *name;
	unsigned bit;
} events[] = { { "MessageNew", EV_NEW },   { "MessageExpunge", EV_EXPUNGE },
	       { "FlagChange", EV_FLAGS }, { "MailboxName", EV_NAME },
	       { "SubscriptionChange", EV_SUBS }, { "MailboxMetadataChange", EV_MBMETA },
	       { "ServerMetadataChange", EV_SRVMETA } };
static const char *const known_unserved[] = { "AnnotationChange" };
#define BADEVENT                                                                              \
	"NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange "  \
	"MailboxMetadataChange ServerMetadataChange)]"

static int bad(struct imap_session *s, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command NOTIFY: %s", why);
	imap_session_error(s);
	return -1;
}

/* MessageNew's fetch attributes a: checked as FETCH checks them, kept in
 * nt. 0, or -1 after a reply. */
static int parse_fetch_att(struct imap_session *s, struct imap_notify *nt, const struct imap_arg *a)
{
	struct imap_fetch probe = { 0 };

	probe.items = arena_zalloc(s->cmd_arena, IMAP_FETCH_ITEMS_ROOM * sizeof(*probe.items));
	if (imap_fetch_items(s, &probe, a, 1) < 0)
		return -1;
	if (nt->fa)
		arena_free(&nt->fa);
	nt->fa = arena_new(4096);
	nt->items = items_copy(nt->fa, probe.items, probe.nitems);
	nt->nitems = probe.nitems;
	nt->need_raw = probe.need_raw;
	nt->need_tree = probe.need_tree;
	nt->has_modseq = probe.has_modseq;
	return 0;
}

/* The events list of a group into f->events: 0, or -1 after a reply. */
static int parse_events(struct imap_session *s, struct imap_notify *nt, const struct imap_arg *a,
			struct filter *f)
{
	const struct imap_arg *l;
	size_t n;

	if (imap_arg_atom_is(a, "NONE")) {
		f->events = 0;
		return 0;
	}
	if (imap_arg_list(a, &l, &n) < 0 || n == 0)
		return bad(s, "Invalid event list");
	for (size_t i = 0; i < n; i++) {
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(events) / sizeof(events[0]); k++)
			if (imap_arg_atom_is(&l[i], events[k].name))
				bit = events[k].bit;
		if (!bit) {
			for (size_t k = 0; k < sizeof(known_unserved) / sizeof(known_unserved[0]); k++)
				if (imap_arg_atom_is(&l[i], known_unserved[k])) {
					imap_tagged(s, BADEVENT " Unsupported event.");
					return -1;
				}
			if (l[i].type != IMAP_ARG_ATOM)
				return bad(s, "Invalid event");
			imap_tagged(s, BADEVENT " Unknown event.");
			return -1;
		}
		if (bit == EV_NEW && i + 1 < n && l[i + 1].type == IMAP_ARG_LIST) {
			if (f->kind != F_SELECTED && f->kind != F_SELECTED_DELAYED)
				return bad(s, "MessageNew fetch attributes are only for SELECTED");
			if (parse_fetch_att(s, nt, &l[++i]) < 0)
				return -1;
		}
		f->events |= bit;
	}
	/* RFC 5465 §5: MessageNew and MessageExpunge come together, and
	 * FlagChange needs both, for any filter, "Otherwise, the server MUST
	 * respond with the tagged BAD response" (Dovecot lets either alone
	 * pass for mailboxes other than the selected one). */
	unsigned msg = f->events & (EV_NEW | EV_EXPUNGE);
	/* RFC 5465 §6.1: "It is an error to specify other types of events
	 * with either the SELECTED or the SELECTED-DELAYED selector". */
	if ((f->kind == F_SELECTED || f->kind == F_SELECTED_DELAYED) &&
	    (f->events & ~(EV_NEW | EV_EXPUNGE | EV_FLAGS)))
		return bad(s, "Only message events are allowed for SELECTED");
	if (msg && msg != (EV_NEW | EV_EXPUNGE))
		return bad(s, "MessageNew and MessageExpunge must be together");
	if ((f->events & EV_FLAGS) && !msg)
		return bad(s, "FlagChange requires MessageNew and MessageExpunge");
	return 0;
}

/* SUBTREE / MAILBOXES: one mailbox or a list of them, as UTF-8 names; a
 * name no mailbox can have is left out (RFC 5465 §3.1: "If the name does
 * not refer to an existing mailbox, the server MUST ignore it"). */
static int parse_names(struct imap_session *s, const struct imap_arg *a, struct filter *f)
{
	const struct imap_arg *l = a;
	size_t n = 1;

	if (a->type == IMAP_ARG_LIST && imap_arg_list(a, &l, &n) == 0 && n == 0)
		return bad(s, "Empty mailbox list");
	f->names = xcalloc(n, sizeof(*f->names));
	for (size_t i = 0; i < n; i++) {
		char name[1024];
		int r = imap_mailbox_watch_arg(s, &l[i], name, sizeof(name));
		if (r < 0)
			return -1;
		if (r == 0)
			f->names[f->nnames++] = xstrndup(name, strlen(name));
	}
	return 0;
}

/* 1 when a filter names the other users' namespace or a name in it. */
static int names_shared(const struct imap_notify *nt)
{
	for (size_t i = 0; i < nt->nf; i++)
		for (size_t k = 0; k < nt->f[i].nnames; k++)
			if (imap_acl_name_shared(nt->f[i].names[k]))
				return 1;
	return 0;
}

void imap_cmd_notify(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->args;
	size_t n = cmd->nargs, i = 1;

	if (n == 1 && imap_arg_atom_is(&a[0], "NONE")) {
		imap_notify_clear(s);
		imap_tagged(s, "OK NOTIFY completed.");
		return;
	}
	if (n < 2 || !imap_arg_atom_is(&a[0], "SET")) {
		bad(s, "Invalid arguments");
		return;
	}
	int status = 0, selected_seen = 0;
	if (imap_arg_atom_is(&a[1], "STATUS")) {
		status = 1;
		i++;
	}
	if (i >= n) {
		bad(s, "Missing event groups");
		return;
	}
	struct imap_notify *nt = xcalloc(1, sizeof(*nt));
	nt->f = xcalloc(n, sizeof(*nt->f));
	nt->account = s->account;
	nt->server.owner = s->account;
	nt->server.rights = STORE_ACL_ALL;
	struct imap_notify *old = s->notify;
	s->notify = nt; /* freed through imap_notify_clear on any failure */
	for (; i < n; i++) {
		const struct imap_arg *g;
		size_t gn;
		struct filter *f = &nt->f[nt->nf++];
		if (imap_arg_list(&a[i], &g, &gn) < 0 || gn < 2) {
			bad(s, "Invalid event group");
			goto fail;
		}
		size_t ev = 1;
		if (imap_arg_atom_is(&g[0], "SELECTED"))
			f->kind = F_SELECTED;
		else if (imap_arg_atom_is(&g[0], "SELECTED-DELAYED"))
			f->kind = F_SELECTED_DELAYED;
		else if (imap_arg_atom_is(&g[0], "INBOXES"))
			f->kind = F_INBOXES;
		else if (imap_arg_atom_is(&g[0], "PERSONAL"))
			f->kind = F_PERSONAL;
		else if (imap_arg_atom_is(&g[0], "SUBSCRIBED"))
			f->kind = F_SUBSCRIBED;
		else if (imap_arg_atom_is(&g[0], "SUBTREE") || imap_arg_atom_is(&g[0], "MAILBOXES")) {
			f->kind = imap_arg_atom_is(&g[0], "SUBTREE") ? F_SUBTREE : F_MAILBOXES;
			if (gn < 3 || parse_names(s, &g[1], f) < 0) {
				if (gn < 3)
					bad(s, "Missing mailboxes");
				goto fail;
			}
			ev = 2;
		} else {
			bad(s, "Unknown filter");
			goto fail;
		}
		if (gn != ev + 1) {
			bad(s, "Invalid event group");
			goto fail;
		}
		/* RFC 5465 §6.1: only one of SELECTED and SELECTED-DELAYED,
		 * once, in a command (Dovecot answers BAD too). */
		if (f->kind == F_SELECTED || f->kind == F_SELECTED_DELAYED) {
			if (selected_seen++) {
				bad(s, "Duplicate selected filter");
				goto fail;
			}
		}
		if (parse_events(s, nt, &g[ev], f) < 0)
			goto fail;
	}
	nt->shared = names_shared(nt);
	if (snapshot(s, nt, &nt->m, &nt->nm) < 0) {
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
		goto fail;
	}
	/* The entries the metadata events compare with. */
	for (size_t k = 0; k < nt->nm; k++)
		if (meta_events(s, nt, &nt->m[k]))
			meta_read(s, &nt->m[k]);
	if (server_watched(nt))
		meta_read(s, &nt->server);
	/* A new SET replaces the old one. */
	s->notify = old;
	imap_notify_clear(s);
	s->notify = nt;
	watch_owners(s, nt);
	imap_notify_selected(s);
	if (status) {
		struct buf out;
		buf_init(&out, (nt->nm + 1) * 2600);
		for (size_t k = 0; k < nt->nm; k++)
			if (!is_selected(s, &nt->m[k]) &&
			    (events_for(nt, &nt->m[k]) & (EV_NEW | EV_EXPUNGE)))
				status_line(s, &nt->m[k], !!(events_for(nt, &nt->m[k]) & EV_FLAGS),
					    &out);
		if (buf_len(&out))
			imap_write_big(s, buf_data(&out), buf_len(&out));
		buf_free(&out);
	}
	imap_tagged(s, "OK NOTIFY completed.");
	return;
fail:
	imap_notify_clear(s);
	s->notify = old;
}
