/*
 * cmd_select.c — SELECT and EXAMINE (RFC 3501 §6.3.1-2).
 *
 * Both load the mailbox snapshot (imap_mailbox_view.h) and answer with
 * FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT and PERMANENTFLAGS; an
 * IMAP4rev2 session gets the mailbox's LIST line too, and no RECENT
 * (RFC 9051 §6.3.2, imap_list_selected()).
 * Selecting the mailbox that is selected already keeps its snapshot and
 * brings it up to date from the change log instead of reading every
 * message again (a client that re-SELECTs INBOX to poll).
 *
 * SELECT opens the mailbox read-write (PERMANENTFLAGS with the system
 * flags, the keywords in use and \* for new ones, [READ-WRITE]); EXAMINE
 * read-only (PERMANENTFLAGS (), [READ-ONLY]): no STORE, EXPUNGE or
 * implicit \Seen. FLAGS lists the keywords in use too.
 *
 * \Recent (RFC 3501 §2.3.2), IMAP4rev1 sessions only: SELECT claims the
 * mailbox's recent messages through the store's writer (they are the
 * session's \Recent ones, no later session's) and EXAMINE reads them
 * without claiming; RECENT is the last untagged line (select_recent()).
 * Messages arriving while the session is selected are this session's
 * \Recent ones when it is the first to be told of them (its view sync
 * claims them the same way and says "* n RECENT" after the EXISTS,
 * imap_select_recent_sync()); an EXAMINE session sees them without
 * claiming.
 * Selecting while a mailbox is selected deselects it first, and a failed
 * SELECT leaves the session in the authenticated state (RFC 3501).
 *
 * CONDSTORE and QRESYNC (RFC 7162): "(CONDSTORE)" turns CONDSTORE on;
 * the answer carries HIGHESTMODSEQ with it on or off. "(QRESYNC (uidvalidity
 * modseq [known-uids] [seq-match]))", once QRESYNC is enabled, adds after
 * the usual answer a "VANISHED (EARLIER)" of the known UIDs expunged since
 * modseq (from the store's change log) and a FETCH (UID FLAGS MODSEQ) of
 * every known message changed since then (without known-uids every UID
 * is known, RFC 7162 §3.2.5; known-uids and seq-match may each
 * come without the other); the seq-match data is checked (sets
 * without "*", as many message numbers as UIDs) and spares the client
 * the UIDs it already saw vanish (qresync_match_floor()). Closing the
 * previous mailbox says "[CLOSED]" first, QRESYNC enabled or not (a server
 * offering QRESYNC always does, RFC 7162 §3.2.11), even when the new
 * SELECT fails.
 *
 * The name goes through imap_acl_target() (imap_acl.h): another
 * account's mailbox shared with the user needs "r" and is loaded as its
 * owner's (the view's account); it opens read-only without any of "i",
 * "e", "s", "w", "t" (RFC 4314 §4), its PERMANENTFLAGS are the flags the
 * rights let the user change, and the session follows the owner's change
 * feed while it is selected (imap_session_watch_view()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"

struct qresync {
	int given;
	uint32_t uidvalidity;
	uint64_t modseq;
	const struct imap_arg *known; /* known-uids, or NULL */
	const struct imap_arg *match; /* (seq-set uid-set) seq-match data, or NULL */
};

/*
 * One set of the QRESYNC parameter (known-uids, or a half of the
 * seq-match data): a sequence set without "*" (RFC 7162's formal syntax
 * says of each '"*" is not allowed') and not "$", which names no saved
 * result here. *n_r: how many numbers it holds. -1 if it is none.
 */
static int qresync_set(struct imap_session *s, const struct imap_arg *a, uint64_t *n_r)
{
	struct imap_seqset set;

	if (a->type != IMAP_ARG_ATOM || !(a->flags & IMAP_ARGF_SEQSET) ||
	    imap_seqset_parse(a->str, UINT32_MAX, IMAP_MAX_RANGES, s->cmd_arena, &set) !=
		    IMAP_SEQSET_OK ||
	    set.star || set.saved)
		return -1;
	*n_r = set.total;
	return 0;
}

/* Parses the SELECT parameter list; -1 after a BAD reply. */
static int select_params(struct imap_session *s, const struct imap_cmd *cmd, struct qresync *q)
{
	const struct imap_arg *l, *ql;
	size_t n, qn;
	int condstore = 0;

	if (cmd->nargs == 1)
		return 0;
	if (cmd->nargs != 2 || imap_arg_list(&cmd->args[1], &l, &n) < 0)
		goto bad;
	/* Each parameter at most once: a repeated one is a BAD (RFC 4466
	 * §2.1), and nothing takes effect unless the whole list is good. */
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_is(&l[i], "CONDSTORE") && !condstore) {
			condstore = 1;
			continue;
		}
		if (!imap_arg_atom_is(&l[i], "QRESYNC") || q->given || i + 1 >= n || !s->qresync ||
		    imap_arg_list(&l[i + 1], &ql, &qn) < 0 || qn < 2 || qn > 4 ||
		    imap_arg_number32(&ql[0], &q->uidvalidity) < 0 || q->uidvalidity == 0 ||
		    imap_arg_number64(&ql[1], &q->modseq) < 0 || q->modseq == 0)
			goto bad;
		uint64_t nseq, nuid;
		/* Both known-uids and seq-match-data are optional, each
		 * without the other (RFC 7162 §7: "[SP known-uids] [SP
		 * seq-match-data]"): a list third is the seq-match data. */
		const struct imap_arg *match = NULL;
		if (qn >= 3 && ql[2].type == IMAP_ARG_LIST) {
			if (qn == 4)
				goto bad;
			match = &ql[2];
		} else if (qn >= 3) {
			if (qresync_set(s, &ql[2], &nuid) < 0)
				goto bad;
			q->known = &ql[2];
			match = qn == 4 ? &ql[3] : NULL;
		}
		/* The seq-match data pairs message numbers with UIDs one by
		 * one, so the two sets must hold as many (RFC 7162 §3.2.5.2,
		 * paraphrased; Dovecot answers BAD too). */
		if (match && (match->type != IMAP_ARG_LIST || match->list_count != 2 ||
			      qresync_set(s, &match->list[0], &nseq) < 0 ||
			      qresync_set(s, &match->list[1], &nuid) < 0 || nseq != nuid))
			goto bad;
		if (match && s->uidonly) {
			/* RFC 9586: the sequence match data is message numbers. */
			imap_tagged(s, "BAD [UIDREQUIRED] Message sequence numbers are not "
				       "allowed with UIDONLY.");
			imap_session_error(s);
			return -1;
		}
		q->match = match;
		q->given = 1;
		i++;
	}
	/* Not imap_session_condstore(): the previous mailbox's
	 * HIGHESTMODSEQ is no news; the new one's follows. */
	if (condstore)
		s->condstore = 1;
	return 0;
bad:
	imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments.", imap_cmd_name(cmd->id));
	imap_session_error(s);
	return -1;
}

/*
 * The seq-match data (RFC 7162 §3.2.5.2) pairs message numbers with the
 * UIDs the client had there. Where a pair still holds in the mailbox, the
 * client's view below that UID is the mailbox's: UIDs only grow, so as
 * many messages below it means the same ones, and nothing under it has
 * vanished that the client still shows. A client that saw expunges after
 * the modseq it stored (a session cut before its next HIGHESTMODSEQ) is
 * thus not told them again. The pairs are walked in ascending order up to
 * the first that no longer holds (at most count + 1 steps: the message
 * numbers grow and one past the count cannot hold). Returns the UID of
 * the last pair that holds: the VANISHED UIDs below it are left out.
 * 0 when there is no data or no pair holds.
 */
static uint32_t qresync_match_floor(struct imap_session *s, const struct qresync *q)
{
	const struct imap_mailbox_view *v = &s->view;
	struct imap_seqset seqs, uids;
	struct imap_seqset_iter is, iu;
	uint32_t seq, uid, floor = 0;

	if (!q->match ||
	    imap_seqset_parse(q->match->list[0].str, UINT32_MAX, IMAP_MAX_RANGES, s->cmd_arena,
			      &seqs) != IMAP_SEQSET_OK ||
	    imap_seqset_parse(q->match->list[1].str, UINT32_MAX, IMAP_MAX_RANGES, s->cmd_arena,
			      &uids) != IMAP_SEQSET_OK)
		return 0;
	imap_seqset_iter_init(&is, &seqs);
	imap_seqset_iter_init(&iu, &uids);
	while (imap_seqset_iter_next(&is, &seq) && imap_seqset_iter_next(&iu, &uid)) {
		if (seq > v->count || v->msgs[seq - 1].uid != uid)
			break;
		floor = uid;
	}
	return floor;
}

/*
 * A set of many scattered UIDs does not compress into ranges: a mailbox
 * where every other message was expunged gives ~11 octets a UID, and its
 * set can pass any buffer's ceiling (it was built in one of 16 MiB and
 * a failed append went unseen: the set was cut). So it goes as several
 * VANISHED (EARLIER) responses of at most IMAP_VANISHED_LINE_MAX octets
 * each, each a whole set: a client adds every one to the UIDs it knows
 * gone (RFC 7162 §3.2.10), so several say what one would, a client
 * reading line by line never meets an unbounded line, and no UID is lost
 * at a cut. What does not fit the output ends the session
 * (imap_write_big()), never a shortened set.
 */
void imap_write_vanished_earlier(struct imap_session *s, const uint32_t *uids, size_t n)
{
	static const char head[] = "* VANISHED (EARLIER) ";
	struct buf b;

	buf_init(&b, IMAP_VANISHED_LINE_MAX);
	while (n > 0 && !s->conn_gone && !s->bye_said) {
		buf_reset(&b);
		buf_append(&b, head, sizeof(head) - 1);
		size_t k = imap_seqset_append_values(&b, uids, n, IMAP_VANISHED_LINE_MAX - 2);
		buf_append(&b, "\r\n", 2);
		if (k == 0) /* an element (21 octets) fits any fresh line */
			fatalx("imap vanished: no UID fits a line");
		imap_write_big(s, buf_data(&b), buf_len(&b));
		uids += k;
		n -= k;
	}
	buf_free(&b);
}

/* The QRESYNC answer: VANISHED (EARLIER) and the changed messages. */
static void qresync_answer(struct imap_session *s, const struct qresync *q)
{
	struct imap_mailbox_view *v = &s->view;
	struct imap_seqset known = { 0 };
	uint32_t *gone;
	size_t n;

	if (q->uidvalidity != v->uidvalidity)
		return; /* all the client knows is void: no VANISHED, no FETCH */
	if (q->known && imap_seqset_parse(q->known->str, v->uidnext ? v->uidnext - 1 : 0,
					  IMAP_MAX_RANGES, s->cmd_arena, &known) != IMAP_SEQSET_OK)
		return;
	uint32_t floor = qresync_match_floor(s, q);
	if (store_mailbox_vanished(imap_store, v->account, v->mailbox, q->modseq, &gone, &n) ==
	    STORE_OK) {
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (gone[i] > floor && (!q->known || imap_seqset_contains(&known, gone[i])))
				gone[w++] = gone[i];
		imap_write_vanished_earlier(s, gone, w);
		free(gone);
	}
	struct buf b;
	buf_init(&b, 16384);
	for (uint32_t i = 0; i < v->count; i++) {
		const struct imap_msg *m = &v->msgs[i];
		/* Known UIDs bound the flag changes told as they bound the
		 * VANISHED (RFC 7162 §3.2.5): a client caching only some
		 * messages of a big mailbox names them, and is not sent the
		 * changes of all the others. */
		if (m->modseq <= q->modseq || (q->known && !imap_seqset_contains(&known, m->uid)))
			continue;
		buf_reset(&b);
		if (s->uidonly)
			buf_printf(&b, "* %u UIDFETCH (FLAGS ", m->uid);
		else
			buf_printf(&b, "* %u FETCH (UID %u FLAGS ", i + 1, m->uid);
		imap_msg_flags_append(&s->view, m, &b);
		buf_printf(&b, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
		imap_write_big(s, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
}

/* Where a claim's answer goes; nobody waits for it (select_recent()). */
struct recent_claim {
	uint32_t first, next;
};

static void recent_claimed(void *arg, int result)
{
	(void)result; /* a claim lost to an error: they stay recent for the next */
	free(arg);
}

/*
 * IMAP4rev1 \Recent (RFC 3501 §2.3.2): the messages from the mailbox's
 * first recent uid to its uidnext are this session's recent ones; SELECT
 * then moves the first recent uid to uidnext in the store so no later
 * session sees them recent, EXAMINE only looks. The claim goes to the
 * writer without waiting for its commit: SELECT never waits for an fsync
 * (a client that polls with SELECT after each APPEND would); until the
 * commit the store keeps it noted, taken with the read in one step
 * (store_mailbox_recent_take()), so no other session, on any loop, sees
 * the same messages recent. A claim lost to a crash leaves them recent
 * for the next SELECT.
 */
static void select_recent(struct imap_session *s, int examine)
{
	uint32_t first = 0, next = 0, n = 0;

	int r = examine ? store_mailbox_recent(imap_store, s->view.account, s->view.mailbox, &first, &next)
			: store_mailbox_recent_take(imap_store, s->view.account, s->view.mailbox, &first,
						    &next);
	if (r == STORE_OK) {
		s->view.recent[0][0] = first;
		s->view.recent[0][1] = next;
		s->view.nrecent = first != next;
		s->view.show_recent = 1;
		n = imap_view_recent_count(&s->view);
		if (!examine && first != next) {
			struct recent_claim *c = xmalloc(sizeof(*c));
			store_mailbox_claim_recent_async(imap_store, s->loop, s->view.account,
							 s->view.mailbox, 1, next, &c->first, &c->next,
							 recent_claimed, c);
		}
	}
	imap_reply(s, "* %u RECENT", n);
}

static void mailbox_there_cb(void *arg, const struct store_mailbox_info *i)
{
	(void)i;
	*(int *)arg = 1;
}

int imap_select_rights_check(struct imap_session *s)
{
	uint32_t rights;
	int there = 0;

	if (s->view.account == s->account ||
	    store_mailbox_rights(imap_store, s->account, s->view.account, s->view.mailbox,
				 &rights) != STORE_OK)
		return 0;
	uint32_t lacks = STORE_ACL_ALL & ~rights;
	if (lacks == s->view.lacks)
		return 0;
	/* A mailbox the owner deleted has no grant either: the sync says
	 * it was deleted (imap_session.c), as for an own mailbox. */
	if (!(rights & STORE_ACL_R) &&
	    (store_mailbox_get(imap_store, s->view.account, s->view.mailbox, mailbox_there_cb,
			       &there) != STORE_OK ||
	     !there))
		return 0;
	if (!(rights & STORE_ACL_R)) {
		/* RFC 4314 does not ask it, but a reader whose "r" went must
		 * not go on reading (Dovecot re-checks too); no response takes
		 * a mailbox away from a client that has it selected, so end the
		 * session as when the owner deletes the mailbox. */
		log_info("imap", s->id, "event=selected_mailbox_revoked mailbox=%u",
			 s->view.mailbox);
		imap_reply(s, "* BYE Access to the selected mailbox was revoked, have to disconnect.");
		imap_session_unselect(s);
		imap_close_with(s, "mailbox_revoked");
		return -1;
	}
	s->view.lacks = lacks;
	s->view.readonly = s->view.examined || imap_acl_select_readonly(rights);
	struct buf fl;
	buf_init(&fl, 0); /* the lines bring their room */
	imap_view_flags_lines(&s->view, &fl);
	imap_write(s, buf_data(&fl), buf_len(&fl));
	buf_free(&fl);
	return 0;
}

int imap_select_recent_sync(struct imap_session *s, uint32_t last_uid, struct buf *out)
{
	struct imap_mailbox_view *v = &s->view;
	uint32_t first = 0, next = 0;

	if (!v->show_recent || v->count == 0 || v->msgs[v->count - 1].uid <= last_uid)
		return 0;
	if (store_mailbox_recent(imap_store, v->account, v->mailbox, &first, &next) != STORE_OK ||
	    first == next)
		return 0;
	uint32_t *last = v->nrecent ? v->recent[v->nrecent - 1] : NULL;
	if (!(last && first <= last[1]) && v->nrecent >= IMAP_VIEW_RECENT_RUNS)
		return 0; /* no run left: left recent for a later session */
	/* Read again and noted in one step, so that no session on another
	 * loop takes the same ones meanwhile (store_mailbox_recent_take()). */
	if (!v->readonly &&
	    (store_mailbox_recent_take(imap_store, v->account, v->mailbox, &first, &next) !=
		     STORE_OK ||
	     first == next))
		return 0;
	if (last && first <= last[1]) {
		/* our own claim may not be committed yet: the same run grows */
		if (next > last[1])
			last[1] = next;
	} else if (v->nrecent < IMAP_VIEW_RECENT_RUNS) {
		/* another session claimed the ones in between (they are its),
		 * or none was ours yet: a run of its own */
		v->recent[v->nrecent][0] = first;
		v->recent[v->nrecent][1] = next;
		v->nrecent++;
	} else if (v->readonly) {
		return 0;
	} else {
		/* Taken (the first read said there was room) but no run left:
		 * the claim must go on so that its note is dropped, and nobody
		 * shows these \Recent. Rare: it needs another session's claim
		 * between the two reads. */
		struct recent_claim *c = xmalloc(sizeof(*c));
		store_mailbox_claim_recent_async(imap_store, s->loop, v->account, v->mailbox, 1,
						 next, &c->first, &c->next, recent_claimed, c);
		return 0;
	}
	if (!v->readonly) {
		struct recent_claim *c = xmalloc(sizeof(*c));
		store_mailbox_claim_recent_async(imap_store, s->loop, v->account, v->mailbox, 1,
						 next, &c->first, &c->next, recent_claimed, c);
	}
	buf_printf(out, "* %u RECENT\r\n", imap_view_recent_count(v));
	return 1;
}

void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[1024]; /* up to STORE_MAILBOX_NAME_MAX octets, as the other commands */
	uint32_t mailbox;
	struct qresync q = { 0 };

	if (select_params(s, cmd, &q) < 0)
		return;
	/* RFC 7162 §3.2.11: "A server implementing the extension ... MUST
	 * return the CLOSED response code when the currently selected mailbox
	 * is closed implicitly using the SELECT/EXAMINE command", enabled or
	 * not; a SELECT that then fails has closed it too (RFC 9051 §6.3.2). */
	if (s->state == IMAP_S_SELECTED)
		imap_reply(s, "* OK [CLOSED] Previous mailbox closed.");
	/* The snapshot of the mailbox being closed is kept aside: selecting
	 * the same one again only brings it up to date (imap_view_refresh). */
	struct imap_mailbox_view prev = { 0 };
	if (s->state == IMAP_S_SELECTED) {
		prev = s->view;
		memset(&s->view, 0, sizeof(s->view));
	}
	imap_session_unselect(s);
	/* RFC 4314 §4: SELECT and EXAMINE need "r" (every right on an own
	 * mailbox); the view is the owner's mailbox. */
	struct imap_acl_target t;
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_READ, name, sizeof(name), &t) < 0) {
		imap_view_close(&prev, imap_store);
		return;
	}
	mailbox = t.mailbox;
	int r = STORE_OK;
	if (prev.account == t.owner && prev.mailbox == mailbox) {
		s->view = prev;
		memset(&prev, 0, sizeof(prev));
		int rr = imap_view_refresh(&s->view, imap_store);
		if (rr == -2)
			r = STORE_ENOTFOUND;
		if (rr < 0)
			imap_view_free(&s->view);
		if (rr == -1 || rr == -3) /* -3: another UIDVALIDITY, read afresh */
			r = imap_view_load(&s->view, imap_store, t.owner, mailbox);
	} else {
		r = imap_view_load(&s->view, imap_store, t.owner, mailbox);
	}
	imap_view_close(&prev, imap_store);
	if (r == STORE_ENOTFOUND) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return;
	}
	if (r != STORE_OK) {
		log_warn("imap", s->id, "event=select_failed mailbox=%u error=%d", mailbox, r);
		imap_tagged(s, "NO [SERVERBUG] Internal error opening the mailbox.");
		return;
	}
	s->state = IMAP_S_SELECTED;
	/* Another account's mailbox: read-only without any right to change
	 * it (RFC 4314 §4), and every write asks the rights it lacks; its
	 * changes reach the session through the owner's feed. */
	s->view.lacks = STORE_ACL_ALL & ~t.rights;
	s->view.examined = cmd->id == IMAP_CMD_EXAMINE;
	s->view.readonly = s->view.examined || imap_acl_select_readonly(t.rights);
	imap_session_watch_view(s);
	/* FLAGS lists the keywords in use here, in the case first given
	 * (RFC 9051 §7.3.5), as Dovecot does. */
	imap_view_kw_reset(&s->view);
	struct buf fl;
	buf_init(&fl, 0); /* the lines bring their room */
	imap_view_flags_lines(&s->view, &fl);
	imap_write(s, buf_data(&fl), buf_len(&fl));
	buf_free(&fl);
	imap_reply(s, "* %u EXISTS", s->view.count);
	/* RFC 9051 §6.3.2: "REQUIRED untagged responses: FLAGS, EXISTS,
	 * LIST" (RFC 3501 has no LIST here: rev1 sessions get none). */
	if (s->rev2)
		imap_list_selected(s, t.owner, mailbox, name);
	/* IMAP4rev2 retired RECENT and the UNSEEN code (RFC 9051 §6.3.2);
	 * RECENT comes last for rev1 (select_recent()). */
	s->view.nrecent = 0;
	s->view.show_recent = 0;
	for (uint32_t i = 0; i < s->view.count && !s->rev2; i++)
		if (!(s->view.msgs[i].flags & IMAP_F_SEEN)) {
			imap_reply(s, "* OK [UNSEEN %u] First unseen.", i + 1);
			break;
		}
	imap_reply(s, "* OK [UIDVALIDITY %u] UIDs valid", s->view.uidvalidity);
	imap_reply(s, "* OK [UIDNEXT %u] Predicted next UID", s->view.uidnext);
	imap_reply(s, "* OK [MAILBOXID (" IMAP_MAILBOXID_FMT ")] Ok", s->view.mailbox);
	s->view.condstore = s->condstore;
	s->view.qresync = s->qresync;
	s->view.uidonly = s->uidonly;
	/* Every SELECT and EXAMINE, CONDSTORE enabled or not: "A server
	 * supporting the persistent storage of mod-sequences for the mailbox
	 * MUST send the OK untagged response including HIGHESTMODSEQ
	 * response code with every successful SELECT or EXAMINE command"
	 * (RFC 7162 §3.1.2.1, as RFC 4551 before it). */
	imap_reply(s, "* OK [HIGHESTMODSEQ %llu] Highest",
		   (unsigned long long)imap_highest_modseq(s->view.highest_modseq));
	if (q.given)
		qresync_answer(s, &q);
	imap_notify_selected(s);
	/* Reading another's mailbox claims none of its \Recent (the
	 * owner's sessions are the ones to see them). */
	if (!s->rev2)
		select_recent(s, s->view.readonly);
	imap_tagged(s, "OK [%s] %s completed.", s->view.readonly ? "READ-ONLY" : "READ-WRITE",
		    cmd->id == IMAP_CMD_EXAMINE ? "Examine" : "Select");
}
