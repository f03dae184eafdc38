/*
 * cmd_expunge.c — EXPUNGE, UID EXPUNGE (UIDPLUS, RFC 4315) and CLOSE
 * (RFC 9051 §6.4.3, §6.4.2).
 *
 * The session's view is brought up to date first (other sessions' flag
 * changes), then the messages with \Deleted in it (and, for UID EXPUNGE,
 * in the UID set) are expunged through the writer, which skips any that
 * lost \Deleted meanwhile (store_expunge_deleted_async()). After the
 * commit the session syncs its view: "* n EXPUNGE" for every message
 * gone — its own and any other session's — then the tagged OK, with the
 * new HIGHESTMODSEQ once QRESYNC is enabled. CLOSE expunges the same way
 * but says nothing and leaves the selected state; on a read-only mailbox
 * it only deselects.
 */
#include <stdlib.h>

#include "core/xalloc.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"

static void expunge_start(struct imap_job *j)
{
	store_expunge_deleted_async(imap_store, j->s->loop, j->account, j->mailbox, j->uidvalidity,
				    j->uids, j->n, &j->removed, &j->modseq, imap_job_store_done, j);
}

static void expunge_done(struct imap_session *s, struct imap_job *j)
{
	if (j->op) { /* CLOSE: silently */
		imap_session_unselect(s);
		imap_tagged(s, "OK Close completed.");
		return;
	}
	if (j->result == STORE_EFULL) { /* not even the reserve was left */
		imap_disk_full(s);
		return;
	}
	if (j->result != STORE_OK && j->result != STORE_ENOTFOUND) {
		imap_tagged(s, "NO [SERVERBUG] Internal error expunging.");
		return;
	}
	imap_session_sync_quiet(s);
	/* With QRESYNC the expunges moved HIGHESTMODSEQ without a FETCH to
	 * say so: the tagged OK carries the new value, the one a client
	 * resynchronises from next time (RFC 7162 §3.2.10's example; as
	 * Dovecot does). Nothing expunged, nothing moved. */
	if (s->qresync && j->removed)
		imap_tagged(s, "OK [HIGHESTMODSEQ %llu] Expunge completed.",
			    (unsigned long long)imap_highest_modseq(s->view.highest_modseq));
	else
		imap_tagged(s, "OK Expunge completed.");
}

/* The \Deleted messages of the view (within set when given). */
static uint32_t *deleted_uids(struct imap_session *s, const struct imap_seqset *set, size_t *n_r)
{
	uint32_t *u;
	size_t n = 0;

	if (!set) {
		u = xmalloc(((size_t)s->view.count + 1) * sizeof(*u));
		for (uint32_t i = 0; i < s->view.count; i++)
			if (s->view.msgs[i].flags & IMAP_F_DELETED)
				u[n++] = s->view.msgs[i].uid;
	} else { /* the set's UIDs, then those of them \Deleted */
		u = imap_set_uids(s, set, 1, &n);
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (s->view.msgs[imap_view_seq(&s->view, u[i]) - 1].flags & IMAP_F_DELETED)
				u[w++] = u[i];
		n = w;
	}
	*n_r = n;
	return u;
}

static void start(struct imap_session *s, const struct imap_seqset *set, int close)
{
	/* \Deleted as the mailbox has it, not as this session last read it:
	 * other sessions' flag changes first (EXPUNGE may tell them; CLOSE
	 * tells nothing), and the store checks each again at the commit. */
	if (!close) {
		imap_session_sync(s);
		if (s->state != IMAP_S_SELECTED) { /* deleted, or another UIDVALIDITY: BYE sent */
			imap_tagged(s, "NO Mailbox was deleted.");
			return;
		}
	} else {
		/* CLOSE: a mailbox deleted meanwhile (-2) has nothing left to
		 * remove; one under another UIDVALIDITY (-3) holds only messages
		 * this session was never shown, and they stay. */
		int rr = imap_view_refresh(&s->view, imap_store);
		if (rr == -2 || rr == -3) {
			imap_session_unselect(s);
			imap_tagged(s, "OK Close completed.");
			return;
		}
	}
	struct imap_job *j = imap_job_new(s);
	j->account = s->view.account; /* the mailbox's owner */
	j->mailbox = s->view.mailbox;
	j->uidvalidity = s->view.uidvalidity;
	j->uids = deleted_uids(s, set, &j->n);
	if (set) /* UID EXPUNGE: MESSAGELIMIT counts the \Deleted ones (RFC 9738) */
		imap_limit_uids(s, j->uids, &j->n);
	j->op = close;
	j->start = expunge_start;
	j->done = expunge_done;
	if (j->n == 0) {
		/* Nothing to remove: answer now, no write. */
		expunge_done(s, j);
		free(j->uids);
		free(j);
		return;
	}
	imap_job_submit(s, j);
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_seqset set;
	struct str v;

	if (cmd->id == IMAP_CMD_UID_EXPUNGE) {
		if (cmd->nargs != 1 || imap_arg_atom(&cmd->args[0], &v) < 0 ||
		    imap_set_parse(s, v, 1, &set) != IMAP_SEQSET_OK) {
			imap_tagged(s, "BAD Error in IMAP command UID EXPUNGE: Invalid arguments.");
			imap_session_error(s);
			return;
		}
	} else if (cmd->nargs) {
		imap_tagged(s, "BAD Error in IMAP command EXPUNGE: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	if (s->view.readonly) {
		imap_tagged(s, IMAP_NO_READ_ONLY);
		return;
	}
	if (s->view.lacks & STORE_ACL_E) { /* RFC 4314 §4: EXPUNGE needs "e" */
		imap_tagged(s, "NO [NOPERM] Permission denied.");
		return;
	}
	start(s, cmd->id == IMAP_CMD_UID_EXPUNGE ? &set : NULL, 0);
}

void imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs) {
		imap_tagged(s, "BAD Error in IMAP command CLOSE: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	/* Without "e" CLOSE just closes (RFC 4314 §4: it expunges only with it). */
	if (s->view.readonly || (s->view.lacks & STORE_ACL_E)) {
		imap_session_unselect(s);
		imap_tagged(s, "OK Close completed.");
		return;
	}
	start(s, NULL, 1);
}
