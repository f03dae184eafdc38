/*
 * imap_mailbox_view.c — the selected mailbox snapshot. See the header.
 *
 * The diff in imap_view_sync() relies on two store facts: UIDs only grow
 * (a new message always has a UID above every one seen before), and a
 * message never comes back once expunged. So one merge walk over the old
 * and the new ascending UID lists finds the expunged ones (in the old list
 * only) and the new ones (at the tail of the new list).
 */
#include "imap/imap_mailbox_view.h"

#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/xalloc.h"
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

int imap_msg_flags_append(const struct imap_msg *m, struct buf *out)
{
	const char *sep = "";
	int r = buf_append_c(out, "(");
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

static void msgs_free(struct imap_msg *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i].kw);
	free(v);
}

struct load_ctx {
	struct imap_mailbox_view *v;
	int found;
};

static void load_mailbox(void *arg, const struct store_mailbox_info *info)
{
	struct load_ctx *ctx = arg;
	if (info->id != ctx->v->mailbox)
		return;
	ctx->v->uidvalidity = info->uidvalidity;
	ctx->v->uidnext = info->uidnext;
	ctx->v->highest_modseq = info->highest_modseq;
	ctx->found = 1;
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
	struct imap_msg *m = &v->msgs[v->count++];
	*m = (struct imap_msg){ .uid = info->uid,
				.email_id = info->email_id,
				.size = info->size,
				.received_at = info->received_at,
				.modseq = info->modseq,
				.saved_at = info->saved_at,
				.thread_id = info->thread_id };
	imap_msg_set_keywords(m, info->keywords, info->keywords_len);
}

/* Reads mailbox state and message list into v (account/mailbox set). */
static int read_view(struct imap_mailbox_view *v, struct store *st)
{
	struct load_ctx ctx = { .v = v };
	int r;

	/* The modseq first: a change that lands between the reads is seen
	 * again at the next sync instead of being missed. */
	if (store_account_modseq(st, v->account, &v->modseq) != STORE_OK)
		return STORE_ETEMP;
	r = store_mailbox_list(st, v->account, load_mailbox, &ctx);
	if (r != STORE_OK)
		return STORE_ETEMP;
	if (!ctx.found)
		return STORE_ENOTFOUND;
	r = store_email_list(st, v->account, v->mailbox, load_email, v);
	if (r != STORE_OK)
		return r == STORE_ENOTFOUND ? r : STORE_ETEMP;
	return STORE_OK;
}

int imap_view_load(struct imap_mailbox_view *v, struct store *st, uint32_t account,
		   uint32_t mailbox)
{
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
	memset(v, 0, sizeof(*v));
}

int imap_view_sync(struct imap_mailbox_view *v, struct store *st, struct buf *out)
{
	struct imap_mailbox_view nv;
	uint64_t modseq;

	if (store_account_modseq(st, v->account, &modseq) != STORE_OK)
		return -1;
	if (modseq == v->modseq)
		return 0;
	memset(&nv, 0, sizeof(nv));
	nv.account = v->account;
	nv.mailbox = v->mailbox;
	nv.readonly = v->readonly;
	nv.condstore = v->condstore;
	nv.qresync = v->qresync;
	int r = read_view(&nv, st);
	if (r != STORE_OK) {
		msgs_free(nv.msgs, nv.count);
		return r == STORE_ENOTFOUND ? -2 : -1;
	}

	/* Expunged: in the old list, not in the new. Walk from the end so
	 * each EXPUNGE names the number the client still holds. */
	uint32_t i = v->count, j = nv.count, expunged = 0;
	int rc = 0;
	uint32_t *gone = v->qresync ? xmalloc(((size_t)v->count + 1) * sizeof(*gone)) : NULL;
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
			rc = -1;
		expunged++;
		i--;
	}
	if (gone && expunged) {
		/* RFC 7162 §3.2.10: one VANISHED with the UIDs, runs compressed. */
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
	}
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
		if (o->flags != n->flags || (o->kw == NULL) != (n->kw == NULL) ||
		    (o->kw && strcmp(o->kw, n->kw) != 0)) {
			if (buf_printf(out, "* %u FETCH (", j + 1) < 0 ||
			    (v->qresync && buf_printf(out, "UID %u ", n->uid) < 0) ||
			    buf_append_c(out, "FLAGS ") < 0 || imap_msg_flags_append(n, out) < 0 ||
			    (v->condstore &&
			     buf_printf(out, " MODSEQ (%llu)", (unsigned long long)n->modseq) < 0) ||
			    buf_append_c(out, ")\r\n") < 0)
				rc = -1;
		}
		i++;
		j++;
	}
	if (nv.count != v->count || expunged)
		if (buf_printf(out, "* %u EXISTS\r\n", nv.count) < 0)
			rc = -1;
	msgs_free(v->msgs, v->count);
	*v = nv;
	return rc;
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

uint32_t imap_view_last_uid(const struct imap_mailbox_view *v)
{
	return v->count ? v->msgs[v->count - 1].uid : 0;
}
