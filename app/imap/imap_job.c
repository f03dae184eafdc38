/*
 * imap_job.c — store writes of IMAP commands (STORE, EXPUNGE, CLOSE,
 * CREATE/DELETE/RENAME/SUBSCRIBE, the implicit \Seen of FETCH) run on the
 * worker pool: the store's writing functions commit with an fsync, which
 * must never block a loop. The frequent ones (flags, expunge, copy/move)
 * instead start an asynchronous store write (j->start) that joins the
 * writer thread's group commit, so concurrent sessions share an fsync and
 * no worker thread waits for one.
 *
 * While a job runs the session waits in IMAP_W_STORE with reading paused,
 * so pipelined commands queue behind the answer, as after LOGIN. The
 * job's done() runs on the session's loop after the commit and writes the
 * untagged and tagged responses; a session whose connection went away
 * meanwhile is freed then (imap_session_free() waits for s->job).
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"
#include "net/conn.h"

struct imap_job *imap_job_new(struct imap_session *s)
{
	struct imap_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->account = s->account;
	return j;
}

static void job_free(struct imap_job *j)
{
	if (j->res)
		store_kw_results_free(j->res, j->n);
	free(j->res);
	free(j->uids);
	free(j->keywords);
	if (j->copy) {
		store_copy_result_free(j->copy);
		free(j->copy);
	}
	if (j->ctx_free)
		j->ctx_free(j->ctx);
	free(j);
}

static void job_run(void *arg)
{
	struct imap_job *j = arg;
	j->run(j);
}

static void job_done(void *arg)
{
	struct imap_job *j = arg;
	struct imap_session *s = j->s;

	s->job = NULL;
	if (j->progress_timer) /* COPY/MOVE's INPROGRESS (cmd_copy.c) */
		loop_timer_del(s->loop, j->progress_timer);
	if (s->conn_gone) {
		if (j->fetch) {
			s->fetch = j->fetch; /* freed with the session */
			j->fetch = NULL;
		}
		job_free(j);
		imap_session_free(s);
		return;
	}
	s->wait = IMAP_W_NONE;
	j->done(s, j);
	job_free(j);
	if (s->in_cmd && !s->fetch && s->wait == IMAP_W_NONE)
		imap_cmd_end(s);
	conn_pause_read(s->conn, 0);
	imap_session_input(s);
	imap_flush(s);
}

void imap_job_store_done(void *arg, int result)
{
	struct imap_job *j = arg;
	j->result = result;
	job_done(j);
}

void imap_job_submit(struct imap_session *s, struct imap_job *j)
{
	if (j->start) {
		/* A store write that joins the writer's group commit: nothing
		 * blocks, imap_job_store_done() comes back on this loop. */
		s->job = j;
		s->wait = IMAP_W_STORE;
		conn_pause_read(s->conn, 1);
		j->start(j);
		return;
	}
	j->wj.fn = job_run;
	j->wj.done = job_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	s->job = j;
	s->wait = IMAP_W_STORE;
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}

void imap_job_keywords_start(struct imap_job *j, enum store_kw_op op, const char *keywords,
			     uint64_t unchangedsince)
{
	/* The session's user, whose rights bound what changes in a shared
	 * mailbox. */
	struct store_kw_actor as = imap_acl_kw_actor(j->s->account, 0);

	j->res = xcalloc(j->n ? j->n : 1, sizeof(*j->res));
	store_email_keywords_as_async(imap_store, j->s->loop, &as, j->account, j->mailbox,
				      j->uidvalidity, j->uids, j->n, op, keywords, unchangedsince,
				      j->res, &j->modseq, imap_job_store_done, j);
}

uint32_t *imap_set_uids(struct imap_session *s, const struct imap_seqset *set, int uid_mode,
			size_t *n_r)
{
	const struct imap_mailbox_view *v = &s->view;
	size_t n = 0, cap = set->total < v->count ? (size_t)set->total : v->count;
	uint32_t *u = xmalloc((cap + 1) * sizeof(*u));

	/* Range by range (sorted, disjoint: the UIDs come out ascending):
	 * a STORE of one message costs its range, not the mailbox. */
	for (size_t r = 0; r < set->count; r++) {
		const struct imap_seq_range *g = &set->ranges[r];
		uint32_t i = uid_mode ? imap_view_lower_bound(v, g->lo) : g->lo - 1;
		for (; i < v->count && (uid_mode ? v->msgs[i].uid : (uint64_t)i + 1) <= g->hi; i++)
			u[n++] = v->msgs[i].uid;
	}
	*n_r = n;
	return u;
}

uint32_t imap_message_limit(void)
{
	return imap_cfg && imap_cfg->imap_message_limit ? imap_cfg->imap_message_limit : 1000000;
}

uint32_t imap_save_limit(void)
{
	return imap_cfg && imap_cfg->imap_save_limit ? imap_cfg->imap_save_limit
						     : imap_message_limit();
}

void imap_limit_uids(struct imap_session *s, uint32_t *uids, size_t *n)
{
	size_t lim = imap_message_limit();

	if (*n <= lim)
		return;
	/* RFC 9738: the highest UIDs are done, the client asks again for
	 * the ones below the UID the tagged OK names. */
	memmove(uids, uids + (*n - lim), lim * sizeof(*uids));
	*n = lim;
	s->msglimit_uid = uids[0];
}

int imap_limit_refuse(struct imap_session *s, size_t count)
{
	if (count <= imap_message_limit())
		return 0;
	imap_tagged(s, "NO [MESSAGELIMIT %u] Too many messages in one command.",
		    imap_message_limit());
	return -1;
}

/* ---- FETCH's implicit \Seen ---- */

/* In a shared mailbox, an email also in a mailbox where the user lacks
 * "s" stays unseen (store_email_keywords_as_async, as STORE). */
static void seen_start(struct imap_job *j)
{
	imap_job_keywords_start(j, STORE_KW_ADD, "$seen", 0);
}

/*
 * The items a FETCH that set \Seen gains, told only for the messages whose
 * flags changed (the others did not change): FLAGS unless asked for (RFC
 * 3501 §6.4.5: the changed flags go out with the FETCH), and, as for any
 * flag change, MODSEQ under CONDSTORE and the UID under QRESYNC, unless
 * asked for (RFC 7162 §3.2.4: "a FETCH/UID FETCH that implicitly set the
 * \Seen flag"). At most three, within the room kept (IMAP_FETCH_ITEMS_ROOM).
 */
static void seen_items(struct imap_session *s, struct imap_job *j, struct imap_fetch *f)
{
	int has_flags = 0, has_uid = s->uidonly; /* UIDFETCH carries the UID */

	for (size_t i = 0; i < f->nitems; i++) {
		has_flags |= f->items[i].kind == IMAP_FI_FLAGS;
		has_uid |= f->items[i].kind == IMAP_FI_UID;
	}
	if (has_flags && (f->has_modseq || !s->condstore) && (has_uid || !s->qresync))
		return;
	f->seen_uids = xmalloc((j->n + 1) * sizeof(*f->seen_uids));
	for (size_t i = 0; i < j->n; i++)
		if (j->res[i].status == STORE_KW_CHANGED)
			f->seen_uids[f->nseen++] = j->res[i].uid;
	if (!has_flags)
		f->items[f->nitems++] = (struct imap_fetch_item){
		    .kind = IMAP_FI_FLAGS, .name = "FLAGS", .implicit = 1};
	if (s->condstore && !f->has_modseq)
		f->items[f->nitems++] = (struct imap_fetch_item){
		    .kind = IMAP_FI_MODSEQ, .name = "MODSEQ", .implicit = 1};
	if (s->qresync && !has_uid)
		f->items[f->nitems++] = (struct imap_fetch_item){
		    .kind = IMAP_FI_UID, .name = "UID", .implicit = 1};
}

static void seen_done(struct imap_session *s, struct imap_job *j)
{
	if (j->result == STORE_OK)
		for (size_t i = 0; i < j->n; i++) {
			uint32_t seq = imap_view_seq(&s->view, j->res[i].uid);
			if (!seq || j->res[i].status != STORE_KW_CHANGED)
				continue;
			struct imap_msg *m = &s->view.msgs[seq - 1];
			imap_msg_set_keywords(m, j->res[i].keywords, strlen(j->res[i].keywords));
			m->modseq = j->res[i].modseq;
		}
	struct imap_fetch *f = j->fetch;
	j->fetch = NULL;
	if (j->modseq)
		seen_items(s, j, f);
	imap_fetch_start(s, f);
}

void imap_fetch_mark_seen(struct imap_session *s, struct imap_fetch *f)
{
	size_t n;
	uint32_t *uids = imap_set_uids(s, &f->set, f->uid_mode, &n);
	int need = 0;

	if (f->min_uid) { /* MESSAGELIMIT: the older ones are not fetched */
		size_t k = 0;
		while (k < n && uids[k] < f->min_uid)
			k++;
		memmove(uids, uids + k, (n - k) * sizeof(*uids));
		n -= k;
	}

	for (size_t i = 0; i < n && !need; i++) {
		uint32_t seq = imap_view_seq(&s->view, uids[i]);
		need = seq && !(s->view.msgs[seq - 1].flags & IMAP_F_SEEN);
	}
	/* The implicit \Seen needs "s" (RFC 4314 §4) on a shared mailbox. */
	if (s->view.readonly || (s->view.lacks & STORE_ACL_S) || !need) {
		free(uids);
		imap_fetch_start(s, f);
		return;
	}
	struct imap_job *j = imap_job_new(s);
	j->account = s->view.account; /* the mailbox's owner */
	j->mailbox = s->view.mailbox;
	j->uidvalidity = s->view.uidvalidity;
	j->uids = uids;
	j->n = n;
	j->fetch = f;
	j->start = seen_start;
	j->done = seen_done;
	imap_job_submit(s, j);
}

int imap_fetch_sets_seen(const struct imap_arg *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &list[i];
		if (a->type == IMAP_ARG_SECTION) {
			if (a->section->att == IMAP_FETCH_BODY || a->section->att == IMAP_FETCH_BINARY)
				return 1;
		} else if (imap_arg_atom_is(a, "RFC822") || imap_arg_atom_is(a, "RFC822.TEXT")) {
			return 1;
		}
	}
	return 0;
}

void imap_fetch_write_flags(struct imap_session *s, const char *sp, const struct imap_msg *m)
{
	struct buf b;
	/* The longest list a message may have (16 KiB of keywords and the
	 * system flags): past a smaller buffer the keywords were left out
	 * and FLAGS showed the system flags alone. */
	buf_init(&b, IMAP_FLAGS_LINE_MAX);
	buf_printf(&b, "%sFLAGS ", sp);
	imap_msg_flags_append(&s->view, m, &b);
	imap_write(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
}
