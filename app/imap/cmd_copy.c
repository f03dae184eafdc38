/*
 * cmd_copy.c — COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851,
 * UIDPLUS COPYUID of RFC 4315).
 *
 * store_email_copy() (store_copy.c) does the work on the worker pool in
 * one transaction: for COPY a new message per message in the target (an
 * email of its own on the same stored bytes, whose flags change apart
 * from the original's, RFC 9051 §6.4.7, keeping its EMAILID, RFC 8474
 * §5.1), for MOVE the same email with a new UID in the target and the
 * end of the old membership (RFC 6851 keeps the message's identity,
 * flags and MODSEQ history). Then, on the loop:
 * COPY answers "OK [COPYUID v src dst]"; MOVE sends the COPYUID in an
 * untagged OK first (RFC 6851 §4.3), then the view sync reports the moved
 * messages as EXPUNGE (VANISHED with QRESYNC), then the tagged OK. A
 * COPY into the selected mailbox is announced by the same sync (EXISTS).
 * A message of the set another session expunged since this one last
 * synced fails the whole command, nothing copied or moved: "NO
 * [EXPUNGEISSUED]" (RFC 9051 §7.1) after the EXPUNGE that says which, as
 * Dovecot does; COPY must leave the target as it was when it fails.
 *
 * Shared mailboxes (imap_acl.h): the source is the selected mailbox,
 * its owner's; the target resolves through imap_acl_resolve() and needs
 * "i" (RFC 4314 §4), a MOVE besides needs "t" and "e" on the source
 * (RFC 6851 §4.4: MOVE is COPY, \Deleted and EXPUNGE). A COPY whose
 * source or target is not the user's own mailbox is
 * store_email_copy_into(): a message of the target owner's on the same
 * stored bytes, charged to that owner's quota, with the flags the user
 * may set there. A MOVE between two accounts is that copy and the
 * source's expunge in one transaction (the messages are never in both
 * accounts or in neither); a MOVE within one owner's mailboxes is the
 * ordinary one (the same email, a new membership), which into a shared
 * mailbox keeps only the flags the user may set there (RFC 4314 §4).
 * A copy or move into an account that seals its mail (crypt_copy.h) is
 * stored sealed to that account's key: the messages are sealed on a
 * worker first, then the copy (with a MOVE's expunge) is the one
 * transaction above on the sealed bytes.
 *
 * INPROGRESS (RFC 9585): a COPY or MOVE of more than IMAP_STEP messages
 * says so when it starts ("* OK [INPROGRESS ("tag" 0 n)] Copying."), then
 * every IMAP_PROGRESS_MS how far its transaction got. The work stays one
 * transaction on the writer (a moved message is never in both mailboxes
 * or in neither, and a failed COPY leaves the target as it was, RFC 9051
 * §6.4.7), so it is not cut into steps as SEARCH is: a loop timer reads
 * the count the transaction keeps (store_copy_result.done).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "crypt/crypt_copy.h"
#include "imap/imap_acl.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"

/*
 * "[COPYUID v src dst] " (RFC 4315 §3) into b, runs as ranges; nothing
 * when no message was copied, or when a set does not fit b (a copy of
 * millions of scattered UIDs): a code cut short would tell the client a
 * wrong mapping, and COPYUID is a SHOULD the client can do without.
 */
static void copyuid_code(struct buf *b, const struct store_copy_result *r)
{
	if (r->n == 0)
		return;
	if (buf_printf(b, "[COPYUID %u ", r->uidvalidity) < 0 ||
	    imap_seqset_append_values(b, r->src_uids, r->n, SIZE_MAX) != r->n ||
	    buf_append_c(b, " ") < 0 ||
	    imap_seqset_append_values(b, r->dst_uids, r->n, SIZE_MAX) != r->n ||
	    buf_append_c(b, "] ") < 0)
		buf_reset(b);
}

/* While a big copy runs on the writer: how far its transaction got
 * (INPROGRESS, RFC 9585), every IMAP_PROGRESS_MS until it is done
 * (job_done() stops the timer). */
static void copy_progress_cb(struct loop *loop, void *arg)
{
	struct imap_job *j = arg;
	struct imap_session *s = j->s;

	j->progress_timer = 0;
	if (s->conn_gone)
		return;
	imap_progress(s, &j->progress, __atomic_load_n(&j->copy->done, __ATOMIC_RELAXED), j->n);
	imap_flush(s);
	j->progress_timer = loop_timer_add(loop, IMAP_PROGRESS_MS, copy_progress_cb, j);
}

/* A copy into another account (crypt_copy.h): the key it is sealed with
 * when that account seals, and the sealed forms, made on a worker before
 * the store's transaction. */
struct copy_seal {
	uint32_t actor;
	struct crypt_key *key;
	uint32_t *emails; /* of j->uids, from the view (0: not in it) */
	struct crypt_copy cc;
	int failed;
};

static void copy_seal_free(void *arg)
{
	struct copy_seal *cs = arg;

	crypt_key_release(cs->key);
	crypt_copy_free(&cs->cc);
	free(cs->emails);
	free(cs);
}

static void copy_submit(struct imap_job *j);

/* On a worker: the messages sealed to the target's key, when it has
 * one for this copy (crypt_copy_key: the user's own account by
 * on_append, another's always). */
static void copy_seal_run(void *arg)
{
	struct imap_job *j = arg;
	struct copy_seal *cs = j->ctx;

	if (crypt_copy_key(imap_store, cs->actor, j->account, j->target_account, &cs->key) < 0)
		cs->failed = 1;
	else if (cs->key)
		cs->failed = crypt_copy_seal(&cs->cc, imap_store, cs->key, j->account, cs->emails,
					     j->n) < 0;
}

/* Back on the loop: the copy on the sealed bytes, or the failure told. */
static void copy_seal_done(void *arg)
{
	struct imap_job *j = arg;
	struct copy_seal *cs = j->ctx;

	if (j->s->conn_gone || cs->failed) {
		imap_job_store_done(j, STORE_ETEMP);
		return;
	}
	copy_submit(j);
}

/* A copy into another account: first a worker's turn, which seals the
 * messages when that account seals what it is given; then the copy. The
 * email ids are the view's, read here on the loop. */
static void copy_seal_start(struct imap_job *j)
{
	struct imap_session *s = j->s;
	struct copy_seal *cs = xcalloc(1, sizeof *cs);

	cs->actor = s->account;
	cs->emails = xcalloc(j->n + 1, sizeof *cs->emails);
	for (size_t i = 0; i < j->n; i++) {
		uint32_t k = imap_view_lower_bound(&s->view, j->uids[i]);
		if (k < s->view.count && s->view.msgs[k].uid == j->uids[i])
			cs->emails[i] = s->view.msgs[k].email_id;
	}
	j->ctx = cs;
	j->ctx_free = copy_seal_free;
	j->wj.fn = copy_seal_run;
	j->wj.done = copy_seal_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	worker_submit(&j->wj);
}

/* The store's copy (on the sealed bytes when j->ctx has them). */
static void copy_submit(struct imap_job *j)
{
	struct copy_seal *cs = j->ctx;
	int across = j->target_account != j->account;
	if (across || j->target_account != j->s->account) {
		/* Into or out of a shared mailbox: the copy is the target
		 * owner's, with the flags the user may set there; a MOVE
		 * between accounts expunges the source in the same commit,
		 * one between two of an owner's is the ordinary one with the
		 * flags filtered (RFC 4314 §4). */
		struct store_copy_into to =
		    imap_acl_copy_into(j->s->account, j->target_account, j->target, j->rights);
		to.move = j->op;
		to.blobs = cs ? cs->cc.blobs : NULL;
		store_email_copy_into_async(imap_store, j->s->loop, j->account, j->mailbox,
					    j->uidvalidity, j->uids, j->n, &to, j->copy,
					    imap_job_store_done, j);
	} else {
		store_email_copy_async(imap_store, j->s->loop, j->account, j->mailbox,
				       j->uidvalidity, j->uids, j->n, j->target,
				       j->op | STORE_COPY_ALL | (j->op ? 0 : STORE_COPY_NEW),
				       j->copy, imap_job_store_done, j);
	}
}

static void copy_start(struct imap_job *j)
{
	j->copy = xcalloc(1, sizeof(*j->copy));
	if (j->target_account != j->account)
		copy_seal_start(j);
	else
		copy_submit(j);
	/* More than a step's worth: say so at once (the client knows the
	 * command is long before its answer, and when to expect it), then
	 * how far it got while it runs. The answer comes on a later turn
	 * of the loop, so the timer and the report precede it. */
	if (j->n > IMAP_STEP) {
		j->progress.what = j->op ? "Moving" : "Copying";
		imap_progress(j->s, &j->progress, 0, j->n);
		j->progress_timer =
		    loop_timer_add(j->s->loop, IMAP_PROGRESS_MS, copy_progress_cb, j);
	}
}

static void copy_done(struct imap_session *s, struct imap_job *j)
{
	struct store_copy_result *r = j->copy;
	int move = j->op;

	if (j->result == STORE_ENOTFOUND) {
		imap_tagged(s, "NO [TRYCREATE] Mailbox doesn't exist.");
	} else if (j->result == STORE_EGONE) {
		/* Another session expunged one of them since this one last
		 * looked: all or nothing (RFC 9051 §6.4.7, RFC 6851 §3.3), so
		 * nothing was copied; the sync tells which (EXPUNGE), and the
		 * client may retry without it. */
		imap_session_sync(s);
		imap_tagged(s, "NO [EXPUNGEISSUED] Some of the requested messages no longer exist.");
	} else if (j->result == STORE_EQUOTA) {
		/* A copy is a message of its own and counts (RFC 9208 §4.3). */
		imap_tagged(s, "NO [OVERQUOTA] Quota exceeded.");
	} else if (j->result == STORE_EFULL) {
		imap_disk_full(s);
	} else if (j->result != STORE_OK) {
		imap_tagged(s, "NO [SERVERBUG] Internal error copying messages.");
	} else {
		struct buf b;
		buf_init(&b, 1u << 24);
		copyuid_code(&b, r);
		if (move) {
			if (buf_len(&b)) {
				imap_write_big(s, "* OK ", 5);
				imap_write_big(s, buf_data(&b), buf_len(&b));
				imap_write_big(s, "Moved UIDs.\r\n", 13);
			}
			imap_session_sync_quiet(s);
			if (s->qresync && r->n) /* as EXPUNGE (cmd_expunge.c) */
				imap_tagged(s, "OK [HIGHESTMODSEQ %llu] Move completed.",
					    (unsigned long long)imap_highest_modseq(s->view.highest_modseq));
			else
				imap_tagged(s, "OK %s", r->n ? "Move completed." : "No messages found.");
		} else {
			imap_session_sync(s); /* EXISTS when copying into the selected mailbox */
			if (buf_len(&b) < 900)
				imap_tagged(s, "OK %.*sCopy completed.", (int)buf_len(&b), buf_data(&b));
			else { /* too long for one imap_tagged line */
				imap_write_big(s, s->tag, strlen(s->tag));
				imap_write_big(s, " OK ", 4);
				imap_write_big(s, buf_data(&b), buf_len(&b));
				imap_write_big(s, "Copy completed.\r\n", 17);
			}
		}
		buf_free(&b);
	}
	if (r) {
		store_copy_result_free(r);
		free(r);
		j->copy = NULL;
	}
}

/*
 * The target of a COPY or MOVE into t, an own mailbox or one shared with
 * the user (imap_acl.h), and whether the user may do it: "i" on the
 * target (RFC 4314 §4), and for a MOVE a read-write selection holding
 * "t" and "e" (RFC 4314 §4, RFC 6851 §4.4: MOVE is COPY, STORE \Deleted
 * and EXPUNGE). 0, or -1 after the tagged NO.
 */
static int copy_target(struct imap_session *s, const char *name, int move,
		       struct imap_acl_target *t)
{
	int rc = imap_acl_resolve(imap_store, s->account, name, t);

	if (rc == STORE_OK && t->shared && !(t->rights & STORE_ACL_L))
		rc = STORE_ENOTFOUND; /* RFC 4314 §6: not to be told apart */
	if (rc == STORE_ENOTFOUND && t->shared) {
		/* No CREATE would make it: not TRYCREATE. */
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return -1;
	}
	if (rc == STORE_ENOTFOUND) {
		char no[1024 + 64];
		imap_tagged(s, "%s", imap_missing_target(name, no, sizeof no));
		return -1;
	}
	if (rc != STORE_OK) {
		imap_tagged(s, "NO [UNAVAILABLE] Internal error.");
		return -1;
	}
	if (move && s->view.readonly) {
		imap_tagged(s, IMAP_NO_READ_ONLY);
		return -1;
	}
	if (!imap_acl_allows(t->rights, IMAP_ACL_OP_APPEND) ||
	    (move && !imap_acl_allows(~s->view.lacks, IMAP_ACL_OP_MOVE_FROM))) {
		imap_tagged(s, "NO [NOPERM] Permission denied.");
		return -1;
	}
	return 0;
}

void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_COPY || cmd->id == IMAP_CMD_UID_MOVE;
	int move = cmd->id == IMAP_CMD_MOVE || cmd->id == IMAP_CMD_UID_MOVE;
	struct imap_seqset set;
	struct str v;
	char name[1024];

	if (cmd->nargs != 2 || imap_arg_atom(&cmd->args[0], &v) < 0 ||
	    !(cmd->args[0].flags & IMAP_ARGF_SEQSET) ||
	    imap_set_parse(s, v, uid, &set) != IMAP_SEQSET_OK) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[1], name, sizeof(name)) < 0)
		return;
	/* RFC 9051 §6.4.5: a sequence number past the end is an error. */
	if (!uid && (imap_seqset_last(&set) > s->view.count || (set.star && !s->view.count))) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid messageset.",
			    imap_cmd_name(cmd->id));
		imap_session_error(s);
		return;
	}
	struct imap_acl_target t;
	if (copy_target(s, name, move, &t) < 0)
		return;
	struct imap_job *j = imap_job_new(s);
	j->account = s->view.account; /* the source's: the owner's when shared */
	j->mailbox = s->view.mailbox;
	j->uidvalidity = s->view.uidvalidity;
	j->uids = imap_set_uids(s, &set, uid, &j->n);
	/* RFC 9738: MOVE does the highest UIDs and says where it stopped;
	 * COPY is all or nothing (RFC 9051 §6.4.7), so it is refused. */
	if (move)
		imap_limit_uids(s, j->uids, &j->n);
	else if (imap_limit_refuse(s, j->n) < 0) {
		free(j->uids);
		free(j);
		return;
	}
	j->target = t.mailbox;
	j->target_account = t.owner;
	j->rights = t.rights;
	j->op = move;
	j->start = copy_start;
	j->done = copy_done;
	if (j->n == 0) {
		imap_tagged(s, "OK No messages found.");
		free(j->uids);
		free(j);
		return;
	}
	imap_job_submit(s, j);
}
