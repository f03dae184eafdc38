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

#include "core/xalloc.h"
#include "store/store.h"

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
	v->msgs[v->count++] = (struct imap_msg){ .uid = info->uid,
						 .email_id = info->email_id,
						 .size = info->size,
						 .received_at = info->received_at };
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
	v->readonly = 1;
	int r = read_view(v, st);
	if (r != STORE_OK)
		imap_view_free(v);
	return r;
}

void imap_view_free(struct imap_mailbox_view *v)
{
	free(v->msgs);
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
	if (read_view(&nv, st) != STORE_OK) {
		free(nv.msgs);
		return -1;
	}

	/* Expunged: in the old list, not in the new. Walk from the end so
	 * each EXPUNGE names the number the client still holds. */
	uint32_t i = v->count, j = nv.count, expunged = 0;
	int rc = 0;
	while (i > 0) {
		uint32_t ou = v->msgs[i - 1].uid;
		while (j > 0 && nv.msgs[j - 1].uid > ou)
			j--;
		if (j > 0 && nv.msgs[j - 1].uid == ou) {
			i--;
			j--;
			continue;
		}
		if (buf_printf(out, "* %u EXPUNGE\r\n", i) < 0)
			rc = -1;
		expunged++;
		i--;
	}
	if (nv.count != v->count || expunged)
		if (buf_printf(out, "* %u EXISTS\r\n", nv.count) < 0)
			rc = -1;
	free(v->msgs);
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
