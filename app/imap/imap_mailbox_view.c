/*
 * imap_mailbox_view.c — the selected mailbox snapshot. See the header.
 *
 * The diff in imap_view_sync() relies on two store facts: UIDs only grow
 * (a new message always has a UID above every one seen before), and a
 * message never comes back once expunged. So one merge walk over the old
 * and the new ascending UID lists finds the expunged ones (in the old list
 * only) and the new ones (at the tail of the new list).
 *
 * Usually the whole list is not read again: the change log names every
 * membership a change touched (store_mailbox_delta), so a sync reads only
 * those and patches the snapshot (delta_apply), with the same responses.
 * A mailbox that changed a lot, or a log that does not add up, falls back
 * to the full read and diff (sync_full).
 *
 * Both facts hold only under one UIDVALIDITY: an empty mailbox that takes
 * a source's (tern import, migrate: store_mailbox_uids_keep) numbers from
 * 1 again. Every sync that finds another UIDVALIDITY ends in sync_full,
 * which says so (-3) instead of diffing; the session decides what to do.
 */
#include "imap/imap_mailbox_view.h"
#include "imap/imap_view_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "store/store.h"

static const struct {
	const char *name, *kw;
	uint8_t bit;
} sysflags[] = {
	{ "\\Answered", "$answered", IMAP_F_ANSWERED }, { "\\Flagged", "$flagged", IMAP_F_FLAGGED },
	{ "\\Deleted", "$deleted", IMAP_F_DELETED },    { "\\Seen", "$seen", IMAP_F_SEEN },
	{ "\\Draft", "$draft", IMAP_F_DRAFT },
};

const char *imap_flag_keyword(struct str flag)
{
	for (size_t i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++)
		if (str_eq_ci_c(flag, sysflags[i].name))
			return sysflags[i].kw;
	return NULL;
}

void imap_msg_set_keywords(struct imap_msg *m, const char *kw, size_t len)
{
	char *other = NULL;
	size_t olen = 0;

	m->flags = 0;
	free(m->kw);
	m->kw = NULL;
	for (size_t i = 0; i < len;) {
		while (i < len && kw[i] == ' ')
			i++;
		size_t st = i;
		while (i < len && kw[i] != ' ')
			i++;
		if (i == st)
			break;
		struct str w = str_make(kw + st, i - st);
		int sys = 0;
		for (size_t k = 0; k < sizeof(sysflags) / sizeof(sysflags[0]); k++)
			if (str_eq_ci_c(w, sysflags[k].kw)) {
				m->flags |= sysflags[k].bit;
				sys = 1;
			}
		if (sys)
			continue;
		other = xrealloc(other, olen + w.len + 2);
		if (olen)
			other[olen++] = ' ';
		memcpy(other + olen, w.p, w.len);
		olen += w.len;
		other[olen] = '\0';
	}
	m->kw = other;
}

int imap_view_recent(const struct imap_mailbox_view *v, const struct imap_msg *m)
{
	if (!v || !v->show_recent)
		return 0;
	for (unsigned i = 0; i < v->nrecent; i++)
		if (m->uid >= v->recent[i][0] && m->uid < v->recent[i][1])
			return 1;
	return 0;
}

int imap_msg_flags_append(const struct imap_mailbox_view *v, const struct imap_msg *m,
			  struct buf *out)
{
	const char *sep = "";
	int r = buf_append_c(out, "(");
	if (imap_view_recent(v, m)) {
		r |= buf_append_c(out, "\\Recent");
		sep = " ";
	}
	for (size_t k = 0; k < sizeof(sysflags) / sizeof(sysflags[0]); k++)
		if (m->flags & sysflags[k].bit) {
			r |= buf_printf(out, "%s%s", sep, sysflags[k].name);
			sep = " ";
		}
	if (m->kw)
		r |= buf_printf(out, "%s%s", sep, m->kw);
	r |= buf_append_c(out, ")");
	return r < 0 ? -1 : 0;
}

static void msg_from_info(struct imap_msg *m, const struct store_email_info *info)
{
	*m = (struct imap_msg){ .uid = info->uid,
				.email_id = info->email_id,
				.object_id = info->object_id,
				.size = info->size,
				.received_at = info->received_at,
				.zone = info->zone,
				.modseq = info->modseq,
				.saved_at = info->saved_at,
				.thread_id = info->thread_id };
	int u = mime_cache_header_utf8(info->meta, info->metalen, info->size);
	m->dg = u < 0 ? IMAP_DG_UNKNOWN : u ? IMAP_DG_UTF8 : IMAP_DG_NONE;
	imap_msg_set_keywords(m, info->keywords, info->keywords_len);
	if (info->deleted) /* the membership's, not a keyword of the email */
		m->flags |= IMAP_F_DELETED;
}

static void msgs_free(struct imap_msg *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i].kw);
	free(v);
}

static void load_email(void *arg, const struct store_email_info *info)
{
	struct imap_mailbox_view *v = arg;

	if (v->count == UINT32_MAX)
		return;
	if (v->count == v->cap) {
		v->cap = v->cap ? (v->cap > UINT32_MAX / 2 ? UINT32_MAX : v->cap * 2) : 64;
		v->msgs = xrealloc(v->msgs, (size_t)v->cap * sizeof(*v->msgs));
	}
	msg_from_info(&v->msgs[v->count++], info);
}

static void take_state(struct imap_mailbox_view *v, const struct store_view_state *vs)
{
	v->modseq = vs->account_modseq;
	v->uidvalidity = vs->uidvalidity;
	v->uidnext = vs->uidnext;
	v->highest_modseq = vs->highest_modseq;
	v->held = 0;
}

/* Reads mailbox state and message list into v (account/mailbox set):
 * the account's modseq, the mailbox and its messages from one read
 * transaction, so a change is either all in or seen at the next sync. */
static int read_view(struct imap_mailbox_view *v, struct store *st)
{
	struct store_view_state vs;
	int r = store_mailbox_snapshot(st, v->account, v->mailbox, &vs, load_email, v);
	if (r != STORE_OK)
		return r == STORE_ENOTFOUND ? r : STORE_ETEMP;
	take_state(v, &vs);
	return STORE_OK;
}

static int view_sync(struct imap_mailbox_view *v, struct store *st, struct buf *out,
		     struct imap_view_told *told);

int imap_view_load(struct imap_mailbox_view *v, struct store *st, uint32_t account,
		   uint32_t mailbox)
{
	/* A snapshot another session closed: brought up to date from the
	 * change log (imap_view_cache.h); one from before the mailbox took
	 * another UIDVALIDITY (-3) is dropped for the whole read below. */
	if (imap_view_cache_get(st, account, mailbox, v)) {
		int r = view_sync(v, st, NULL, NULL);
		if (r == 0)
			return STORE_OK;
		imap_view_free(v);
		if (r == -2)
			return STORE_ENOTFOUND;
	}
	memset(v, 0, sizeof(*v));
	v->account = account;
	v->mailbox = mailbox;
	int r = read_view(v, st);
	if (r != STORE_OK)
		imap_view_free(v);
	return r;
}

void imap_view_free(struct imap_mailbox_view *v)
{
	msgs_free(v->msgs, v->count);
	free(v->kwnames);
	memset(v, 0, sizeof(*v));
}

void imap_view_close(struct imap_mailbox_view *v, struct store *st)
{
	imap_view_cache_put(st, v);
}

/* "* VANISHED uids" (RFC 7162 §3.2.10) for gone, n UIDs in descending
 * order, runs compressed. -1 when out is full. */
static int emit_vanished(struct buf *out, const uint32_t *gone, uint32_t expunged)
{
	int rc = 0;
	if (buf_append_c(out, "* VANISHED ") < 0)
		rc = -1;
	for (uint32_t k = expunged; k > 0;) {
		uint32_t lo = gone[k - 1], hi = lo, e = k - 1;
		while (e > 0 && gone[e - 1] == hi + 1)
			hi = gone[--e];
		if (buf_printf(out, "%s%u", k == expunged ? "" : ",", lo) < 0 ||
		    (hi != lo && buf_printf(out, ":%u", hi) < 0))
			rc = -1;
		k = e;
	}
	if (buf_append_c(out, "\r\n") < 0)
		rc = -1;
	return rc;
}

/* 1 when v has announced the keyword p[0..l) (in any case). */
static int kw_known(const struct imap_mailbox_view *v, const char *p, size_t l)
{
	for (size_t i = 0; i < v->kwnames_len;) {
		size_t st = i;
		while (i < v->kwnames_len && v->kwnames[i] != ' ')
			i++;
		if (str_eq_ci(str_make(v->kwnames + st, i - st), str_make(p, l)))
			return 1;
		i++;
	}
	return 0;
}

/* Appends the keywords of kw (space-separated) v has not announced yet;
 * 1 when one was added. */
static int kw_add(struct imap_mailbox_view *v, const char *kw)
{
	int added = 0;

	for (const char *p = kw; p && *p;) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l && !kw_known(v, p, l)) {
			if (v->kwnames_len + l + 1 > v->kwnames_cap) {
				v->kwnames_cap = 2 * (v->kwnames_len + l + 1);
				v->kwnames = xrealloc(v->kwnames, v->kwnames_cap);
			}
			if (v->kwnames_len)
				v->kwnames[v->kwnames_len++] = ' ';
			memcpy(v->kwnames + v->kwnames_len, p, l);
			v->kwnames_len += l;
			added = 1;
		}
		p = e ? e + 1 : NULL;
	}
	return added;
}

/* The list rebuilt from the keywords v's messages and also[0..nalso)
 * carry: a session that keeps adding and removing new keywords, or sees
 * others do so, keeps only what is in use, not every name ever seen. */
static void kw_rebuild(struct imap_mailbox_view *v, const struct imap_msg *also, uint32_t nalso)
{
	v->kwnames_len = 0;
	for (uint32_t i = 0; i < v->count; i++)
		kw_add(v, v->msgs[i].kw);
	for (uint32_t i = 0; i < nalso; i++)
		kw_add(v, also[i].kw);
	v->kwnames_keep = v->kwnames_len;
}

/* As imap_view_kw_learn(), m one of v's messages or of also (sync_full(),
 * whose new list is not v's yet). */
static int kw_learn(struct imap_mailbox_view *v, const struct imap_msg *also, uint32_t nalso,
                    const struct imap_msg *m)
{
	size_t bound = v->kwnames_keep > IMAP_VIEW_KWNAMES_MAX / 2 ? 2 * v->kwnames_keep
	                                                           : IMAP_VIEW_KWNAMES_MAX;

	if (!kw_add(v, m->kw))
		return 0;
	if (v->kwnames_len > bound)
		kw_rebuild(v, also, nalso);
	return 1;
}

int imap_view_kw_learn(struct imap_mailbox_view *v, const struct imap_msg *m)
{
	return kw_learn(v, NULL, 0, m);
}

void imap_view_kw_reset(struct imap_mailbox_view *v)
{
	kw_rebuild(v, NULL, 0);
}

void imap_view_kw_canon(const struct imap_mailbox_view *v, char *kw, size_t n)
{
	for (size_t p = 0; p < n;) {
		size_t e = p;
		while (e < n && kw[e] != ' ')
			e++;
		for (size_t i = 0; i < v->kwnames_len;) {
			size_t st = i;
			while (i < v->kwnames_len && v->kwnames[i] != ' ')
				i++;
			if (str_eq_ci(str_make(v->kwnames + st, i - st), str_make(kw + p, e - p))) {
				memcpy(kw + p, v->kwnames + st, e - p);
				break;
			}
			i++;
		}
		p = e + 1;
	}
}

/* " kw1 kw2..." of v after the system flags (appended, not printf'ed:
 * the list is not NUL-terminated and may pass INT_MAX in theory). */
static int append_kwnames(const struct imap_mailbox_view *v, struct buf *out)
{
	if (!v->kwnames_len)
		return 0;
	return buf_append_c(out, " ") < 0 ? -1 : buf_append(out, v->kwnames, v->kwnames_len);
}

/* PERMANENTFLAGS of a mailbox shared with the user without all of "s",
 * "t" and "w": the flags it may change (RFC 4314 §4; keywords and \\*
 * need "w"). */
static int limited_permanentflags(const struct imap_mailbox_view *v, struct buf *out)
{
	int w = !(v->lacks & STORE_ACL_W);
	const char *sep = "";
	if (buf_append_c(out, "* OK [PERMANENTFLAGS (") < 0)
		return -1;
	if (w) {
		buf_append_c(out, "\\Answered \\Flagged \\Draft");
		sep = " ";
	}
	if (!(v->lacks & STORE_ACL_T)) {
		buf_printf(out, "%s\\Deleted", sep);
		sep = " ";
	}
	if (!(v->lacks & STORE_ACL_S)) {
		buf_printf(out, "%s\\Seen", sep);
		sep = " ";
	}
	if (w && (append_kwnames(v, out) < 0 || buf_append_c(out, " \\*") < 0))
		return -1;
	return buf_append_c(out, ")] Flags permitted.\r\n") < 0 ? -1 : 0;
}

int imap_view_flags_lines(const struct imap_mailbox_view *v, struct buf *out)
{
	static const char sys[] = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
	/* Both lines: the list twice and under 160 octets of fixed text. */
	size_t room = 2 * v->kwnames_len + 160;

	if (out->max > SIZE_MAX - room)
		return -1;
	out->max += room;

	if (buf_append_c(out, "* FLAGS (") < 0 || buf_append_c(out, sys) < 0 ||
	    append_kwnames(v, out) < 0 || buf_append_c(out, ")\r\n") < 0)
		return -1;
	if (v->readonly)
		return buf_append_c(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
	if (v->lacks & (STORE_ACL_S | STORE_ACL_T | STORE_ACL_W))
		return limited_permanentflags(v, out);
	if (buf_append_c(out, "* OK [PERMANENTFLAGS (") < 0 || buf_append_c(out, sys) < 0 ||
	    append_kwnames(v, out) < 0 || buf_append_c(out, " \\*)] Flags permitted.\r\n") < 0)
		return -1;
	return 0;
}

/*
 * FLAGS / PERMANENTFLAGS before the first response of a sync that shows a
 * keyword not announced yet; keywords learnt after that are announced once
 * more at the end of the sync (announce_rest()), so a sync sends the two
 * lines at most twice whatever it brings.
 * *state: 0 nothing sent, 1 sent, 2 sent and learnt more since.
 */
static int announce(struct imap_mailbox_view *v, struct buf *out, const struct imap_msg *also,
                    uint32_t nalso, const struct imap_msg *m, int *state)
{
	if (!out || !m->kw || !kw_learn(v, also, nalso, m))
		return 0;
	if (*state) {
		*state = 2;
		return 0;
	}
	*state = 1;
	return imap_view_flags_lines(v, out);
}

static int announce_rest(const struct imap_mailbox_view *v, struct buf *out, int state)
{
	return out && state == 2 ? imap_view_flags_lines(v, out) : 0;
}

static int flags_differ(const struct imap_msg *o, const struct imap_msg *n)
{
	return o->flags != n->flags || (o->kw == NULL) != (n->kw == NULL) ||
	       (o->kw && strcmp(o->kw, n->kw) != 0);
}

/* "* seq FETCH (FLAGS ...)" for n, changed by someone else. */
static int emit_flags(const struct imap_mailbox_view *v, struct buf *out, uint32_t seq,
		      const struct imap_msg *n)
{
	if ((v->uidonly ? buf_printf(out, "* %u UIDFETCH (", n->uid)
			: buf_printf(out, "* %u FETCH (", seq)) < 0 ||
	    (v->qresync && !v->uidonly && buf_printf(out, "UID %u ", n->uid) < 0) ||
	    buf_append_c(out, "FLAGS ") < 0 || imap_msg_flags_append(v, n, out) < 0 ||
	    (v->condstore && buf_printf(out, " MODSEQ (%llu)", (unsigned long long)n->modseq) < 0) ||
	    buf_append_c(out, ")\r\n") < 0)
		return -1;
	return 0;
}

/* What a session announced and claimed stays with the view re-read. */
static void keep_session_state(struct imap_mailbox_view *nv, const struct imap_mailbox_view *v)
{
	nv->kwnames = v->kwnames; /* moved: v is overwritten with nv next */
	nv->kwnames_len = v->kwnames_len;
	nv->kwnames_cap = v->kwnames_cap;
	nv->kwnames_keep = v->kwnames_keep;
	memcpy(nv->recent, v->recent, sizeof(nv->recent));
	nv->nrecent = v->nrecent;
	nv->show_recent = v->show_recent;
}

/* The whole mailbox re-read and compared with v (out NULL: no responses). */
static void told_add(struct imap_view_told *t, uint32_t uid)
{
	if (!t)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->uids = xrealloc(t->uids, t->cap * sizeof(*t->uids));
	}
	t->uids[t->n++] = uid;
}

static int sync_full(struct imap_mailbox_view *v, struct store *st, struct buf *out,
		     struct imap_view_told *told)
{
	struct imap_mailbox_view nv;

	memset(&nv, 0, sizeof(nv));
	nv.account = v->account;
	nv.mailbox = v->mailbox;
	nv.readonly = v->readonly;
	nv.condstore = v->condstore;
	nv.qresync = v->qresync;
	nv.uidonly = v->uidonly;
	int r = read_view(&nv, st);
	if (r != STORE_OK || nv.uidvalidity != v->uidvalidity) {
		msgs_free(nv.msgs, nv.count);
		return r == STORE_OK ? -3 : r == STORE_ENOTFOUND ? -2 : -1;
	}
	if (!out) {
		msgs_free(v->msgs, v->count);
		keep_session_state(&nv, v);
		*v = nv;
		return 0;
	}

	/* Expunged: in the old list, not in the new. Walk from the end so
	 * each EXPUNGE names the number the client still holds. */
	uint32_t i = v->count, j = nv.count, expunged = 0;
	int rc = 0, kw_state = 0;
	uint32_t *gone = v->qresync || v->uidonly ? xmalloc(((size_t)v->count + 1) * sizeof(*gone)) : NULL;
	while (i > 0) {
		uint32_t ou = v->msgs[i - 1].uid;
		while (j > 0 && nv.msgs[j - 1].uid > ou)
			j--;
		if (j > 0 && nv.msgs[j - 1].uid == ou) {
			i--;
			j--;
			continue;
		}
		if (gone)
			gone[expunged] = ou; /* descending */
		else if (buf_printf(out, "* %u EXPUNGE\r\n", i) < 0)
			rc = IMAP_VIEW_FULL;
		expunged++;
		i--;
	}
	if (gone && expunged && emit_vanished(out, gone, expunged) < 0)
		rc = IMAP_VIEW_FULL;
	free(gone);
	/* Flags changed by others: the new numbering, ascending. */
	for (i = 0, j = 0; i < v->count && j < nv.count;) {
		const struct imap_msg *o = &v->msgs[i], *n = &nv.msgs[j];
		if (o->uid < n->uid) {
			i++;
			continue;
		}
		if (o->uid > n->uid) {
			j++;
			continue;
		}
		if (flags_differ(o, n)) {
			if (announce(v, out, nv.msgs, nv.count, n, &kw_state) < 0 ||
			    emit_flags(v, out, j + 1, n) < 0)
				rc = IMAP_VIEW_FULL;
			told_add(told, n->uid);
		}
		i++;
		j++;
	}
	/* New messages: their keywords are announced before EXISTS. */
	uint32_t last = v->count ? v->msgs[v->count - 1].uid : 0;
	for (j = nv.count; j > 0 && nv.msgs[j - 1].uid > last; j--)
		if (announce(v, out, nv.msgs, nv.count, &nv.msgs[j - 1], &kw_state) < 0)
			rc = IMAP_VIEW_FULL;
	if (announce_rest(v, out, kw_state) < 0)
		rc = IMAP_VIEW_FULL;
	if (nv.count != v->count - expunged) /* new messages: see delta_apply */
		if (buf_printf(out, "* %u EXISTS\r\n", nv.count) < 0)
			rc = IMAP_VIEW_FULL;
	msgs_free(v->msgs, v->count);
	keep_session_state(&nv, v);
	*v = nv;
	return rc;
}

/* ---- Sync from the change log ---- */

/* A membership the change log named: its state now. */
struct delta_ent {
	uint32_t uid;
	int present;
	uint32_t seq;      /* delta_apply: its number in the view, 0 = none */
	struct imap_msg m; /* when present; m.kw owned */
};

struct delta {
	struct delta_ent *e;
	size_t n, cap;
};

static struct delta_ent *delta_add(struct delta *d, uint32_t uid)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->e = xrealloc(d->e, d->cap * sizeof(*d->e));
	}
	struct delta_ent *e = &d->e[d->n++];
	memset(e, 0, sizeof(*e));
	e->uid = uid;
	return e;
}

static void delta_email(void *arg, const struct store_email_info *info)
{
	struct delta_ent *e = delta_add(arg, info->uid);
	e->present = 1;
	msg_from_info(&e->m, info);
}

static void delta_gone(void *arg, uint32_t uid)
{
	delta_add(arg, uid);
}

static void delta_free(struct delta *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].m.kw);
	free(d->e);
}

static int delta_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct delta_ent *)a)->uid, y = ((const struct delta_ent *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Sorts by UID and keeps one entry per UID (all report the same state). */
static void delta_unique(struct delta *d)
{
	if (d->n < 2)
		return;
	qsort(d->e, d->n, sizeof(*d->e), delta_cmp);
	size_t w = 1;
	for (size_t i = 1; i < d->n; i++) {
		if (d->e[i].uid == d->e[w - 1].uid) {
			free(d->e[i].m.kw);
			continue;
		}
		d->e[w++] = d->e[i];
	}
	d->n = w;
}

/*
 * Applies d (unique, ascending) to v and writes the responses as
 * sync_full() does: EXPUNGEs (or one VANISHED) in the old numbering from
 * the highest, FETCH FLAGS of the messages changed in the new numbering,
 * EXISTS when messages came. A message new to v always
 * has a UID above every one v holds (checked by the caller).
 */
static int delta_apply(struct imap_mailbox_view *v, struct delta *d, struct buf *out,
		       struct imap_view_told *told)
{
	uint32_t expunged = 0, count0 = v->count;
	int kw_state = 0;
	uint32_t *gone = (v->qresync || v->uidonly) && out ? xmalloc((d->n + 1) * sizeof(*gone)) : NULL;
	int rc = 0;

	/* Sequence numbers first: marking a message removed (UID 0) breaks
	 * the order imap_view_seq() searches. */
	for (size_t k = 0; k < d->n; k++)
		d->e[k].seq = d->e[k].present ? 0 : imap_view_seq(v, d->e[k].uid);
	for (size_t k = d->n; k > 0; k--) {
		uint32_t seq = d->e[k - 1].seq;
		if (!seq)
			continue;
		if (gone)
			gone[expunged] = d->e[k - 1].uid; /* descending */
		else if (out && buf_printf(out, "* %u EXPUNGE\r\n", seq) < 0)
			rc = IMAP_VIEW_FULL;
		expunged++;
		free(v->msgs[seq - 1].kw);
		v->msgs[seq - 1].kw = NULL;
		v->msgs[seq - 1].uid = 0; /* removed below */
	}
	if (gone && expunged && emit_vanished(out, gone, expunged) < 0)
		rc = IMAP_VIEW_FULL;
	free(gone);
	if (expunged) {
		uint32_t w = 0;
		for (uint32_t i = 0; i < v->count; i++)
			if (v->msgs[i].uid)
				v->msgs[w++] = v->msgs[i];
		v->count = w;
	}
	for (size_t k = 0; k < d->n; k++) {
		struct delta_ent *e = &d->e[k];
		if (!e->present)
			continue;
		uint32_t seq = imap_view_seq(v, e->uid);
		if (seq) {
			struct imap_msg *o = &v->msgs[seq - 1];
			int changed = flags_differ(o, &e->m);
			free(o->kw);
			*o = e->m;
			e->m.kw = NULL;
			if (changed && out &&
			    (announce(v, out, NULL, 0, o, &kw_state) < 0 ||
			     emit_flags(v, out, seq, o) < 0))
				rc = IMAP_VIEW_FULL;
			if (changed && out)
				told_add(told, o->uid);
			continue;
		}
		if (v->count == UINT32_MAX)
			continue;
		if (v->count == v->cap) {
			v->cap = v->cap ? (v->cap > UINT32_MAX / 2 ? UINT32_MAX : v->cap * 2) : 64;
			v->msgs = xrealloc(v->msgs, (size_t)v->cap * sizeof(*v->msgs));
		}
		v->msgs[v->count++] = e->m;
		e->m.kw = NULL;
		if (announce(v, out, NULL, 0, &v->msgs[v->count - 1], &kw_state) < 0)
			rc = IMAP_VIEW_FULL;
	}
	if (announce_rest(v, out, kw_state) < 0)
		rc = IMAP_VIEW_FULL;
	/* EXISTS only for new messages: each EXPUNGE already took one from
	 * the client's count (RFC 9051 §7.5.1: "it is not necessary to send
	 * an EXISTS response with the new value"), and Dovecot sends none. */
	if (out && v->count != count0 - expunged)
		if (buf_printf(out, "* %u EXISTS\r\n", v->count) < 0)
			rc = IMAP_VIEW_FULL;
	return rc;
}

/*
 * Brings v up to date from the change log when that is cheaper than
 * reading the whole mailbox (it nearly always is: a session re-reads
 * after each change of its account, its own included), else reads it all.
 */
static int view_sync(struct imap_mailbox_view *v, struct store *st, struct buf *out,
		     struct imap_view_told *told)
{
	struct delta d = { 0 };
	struct store_view_state vs;
	/* Past this many changed messages one read of the whole is cheaper. */
	size_t max = 256 + v->count / 4;
	int r = store_mailbox_delta(st, v->account, v->mailbox, v->modseq, max, &vs, delta_email,
				    delta_gone, &d);

	if (r == STORE_OK && vs.account_modseq == v->modseq) {
		delta_free(&d);
		return 0;
	}
	if (r == STORE_OK && vs.account_modseq < v->modseq)
		r = STORE_EEXIST; /* a snapshot from elsewhere than this store: re-read */
	if (r == STORE_OK && vs.uidvalidity == v->uidvalidity) {
		delta_unique(&d);
		uint32_t last = imap_view_last_uid(v);
		for (size_t k = 0; k < d.n; k++)
			if (d.e[k].present && d.e[k].uid <= last && !imap_view_seq(v, d.e[k].uid))
				r = STORE_EEXIST; /* not in the view yet below its top: re-read */
	}
	if (r == STORE_OK && vs.uidvalidity == v->uidvalidity) {
		int rc = delta_apply(v, &d, out, told);
		delta_free(&d);
		take_state(v, &vs);
		return rc;
	}
	delta_free(&d);
	if (r == STORE_ENOTFOUND)
		return -2;
	if (r != STORE_OK && r != STORE_EEXIST)
		return -1;
	return sync_full(v, st, out, told);
}

int imap_view_sync(struct imap_mailbox_view *v, struct store *st, struct buf *out,
		   struct imap_view_told *told)
{
	return view_sync(v, st, out, told);
}

int imap_view_sync_flags(struct imap_mailbox_view *v, struct store *st, struct buf *out,
			 struct imap_view_told *told)
{
	struct delta d = { 0 };
	struct store_view_state vs;
	size_t max = 256 + v->count / 4, out0 = buf_len(out);
	int r = store_mailbox_delta(st, v->account, v->mailbox, v->modseq, max, &vs, delta_email,
				    delta_gone, &d);

	if (r != STORE_OK || vs.account_modseq <= v->modseq || vs.uidvalidity != v->uidvalidity) {
		delta_free(&d); /* nothing new, or more than a delta: the next full sync */
		return 0;
	}
	delta_unique(&d);
	/* Left for the next full sync: expunges and new messages. */
	int rest = 0;
	for (size_t k = 0; k < d.n; k++)
		if (!imap_view_seq(v, d.e[k].uid) ? d.e[k].present : !d.e[k].present)
			rest = 1;
	int kw_state = 0, rc = 0;
	for (size_t k = 0; k < d.n; k++) {
		struct delta_ent *e = &d.e[k];
		uint32_t seq = e->present ? imap_view_seq(v, e->uid) : 0;
		if (!seq)
			continue;
		struct imap_msg *o = &v->msgs[seq - 1];
		int changed = flags_differ(o, &e->m);
		uint64_t modseq = o->modseq;
		free(o->kw);
		*o = e->m;
		e->m.kw = NULL;
		/* An expunge held back, CONDSTORE off: the MODSEQ stays below
		 * it, should this command turn CONDSTORE on (FETCH MODSEQ);
		 * the full sync sets it. With CONDSTORE the line after these
		 * says the highest below it. */
		if (rest && !v->condstore)
			o->modseq = modseq;
		if (changed &&
		    (announce(v, out, NULL, 0, o, &kw_state) < 0 || emit_flags(v, out, seq, o) < 0))
			rc = IMAP_VIEW_FULL;
		if (changed)
			told_add(told, o->uid); /* delta_unique(): ascending */
	}
	if (announce_rest(v, out, kw_state) < 0)
		rc = IMAP_VIEW_FULL;
	if (!rest)
		take_state(v, &vs); /* all of it applied: the view is current */
	else
		v->held = 1;
	if (rc == 0 && rest && v->condstore && buf_len(out) > out0)
		rc = 1; /* MODSEQs above the held-back expunges told */
	delta_free(&d);
	return rc;
}

int imap_view_held_line(const struct imap_mailbox_view *v, struct buf *out)
{
	if (!v->held || !v->condstore)
		return 0;
	return buf_printf(out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			  (unsigned long long)(v->highest_modseq ? v->highest_modseq : 1)) < 0
		       ? -1
		       : 0;
}

int imap_view_refresh(struct imap_mailbox_view *v, struct store *st)
{
	return view_sync(v, st, NULL, NULL);
}

uint32_t imap_view_lower_bound(const struct imap_mailbox_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_view_seq(const struct imap_mailbox_view *v, uint32_t uid)
{
	uint32_t i = imap_view_lower_bound(v, uid);
	return i < v->count && v->msgs[i].uid == uid ? i + 1 : 0;
}

uint32_t imap_view_recent_below(const struct imap_mailbox_view *v, uint32_t below)
{
	uint32_t n = 0;
	if (!v->show_recent)
		return 0;
	/* the UIDs ascend: each run [lo, hi) is one run of the view */
	for (unsigned i = 0; i < v->nrecent; i++) {
		uint32_t lo = v->recent[i][0], hi = v->recent[i][1] < below ? v->recent[i][1] : below;
		if (lo < hi)
			n += imap_view_lower_bound(v, hi) - imap_view_lower_bound(v, lo);
	}
	return n;
}

uint32_t imap_view_recent_count(const struct imap_mailbox_view *v)
{
	return imap_view_recent_below(v, UINT32_MAX);
}

uint32_t imap_view_last_uid(const struct imap_mailbox_view *v)
{
	return v->count ? v->msgs[v->count - 1].uid : 0;
}
