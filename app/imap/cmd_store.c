/*
 * cmd_store.c — STORE and UID STORE (RFC 9051 §6.4.6; UNCHANGEDSINCE from
 * RFC 7162 is parsed and honoured, though CONDSTORE is not advertised yet).
 *
 * FLAGS replaces, +FLAGS adds, -FLAGS removes; .SILENT drops the untagged
 * FETCH answers. System flags map to the store's keywords ($seen ...);
 * other flags are keywords (atoms, kept in the case first given on the
 * message). \Recent cannot be stored. The write runs on the worker pool (imap_job.c); after the
 * commit the view takes the new flags, so this session's next sync does
 * not announce its own change again, and each message in the set gets
 * "* n FETCH (FLAGS ...)" (with UID for UID STORE, as Dovecot sends).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session.h"

static void bad(struct imap_session *s, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command STORE: %s", why);
	imap_session_error(s);
}

/* Appends one flag as a store keyword to b; -1 with *why on a bad flag. */
int imap_flags_add(const struct imap_arg *a, struct buf *b, const char **why)
{
	struct str f;
	if (imap_arg_atom(a, &f) < 0) {
		*why = "Invalid flag.";
		return -1;
	}
	const char *kw = NULL;
	if (f.len && f.p[0] == '\\') {
		kw = imap_flag_keyword(f);
		if (!kw) {
			*why = str_eq_ci_c(f, "\\Recent") ? "\\Recent can't be set."
							 : "Invalid system flag.";
			return -1;
		}
		return buf_printf(b, "%s%s", buf_len(b) ? " " : "", kw) < 0 ? (*why = "Too many flags.", -1) : 0;
	}
	if (!store_keyword_valid(f.p, f.len)) {
		*why = "Invalid keyword.";
		return -1;
	}
	if ((buf_len(b) && buf_append_c(b, " ") < 0) || buf_append_str(b, f) < 0) {
		*why = "Too many flags.";
		return -1;
	}
	return 0;
}

/* In a shared mailbox the store also checks the user's rights on the
 * other mailboxes of each email (store_email_keywords_as_async): an
 * email's keywords are one set, seen in all of them. */
static void store_start(struct imap_job *j)
{
	imap_job_keywords_start(j, (enum store_kw_op)j->op, j->keywords, j->unchangedsince);
}

static void store_done(struct imap_session *s, struct imap_job *j)
{
	if (j->result == STORE_EINVAL) {
		imap_keywords_too_many(s);
		return;
	}
	if (j->result == STORE_ENOTFOUND) {
		imap_tagged(s, "NO [EXPUNGEISSUED] The mailbox was deleted or recreated.");
		return;
	}
	if (j->result == STORE_EFULL) { /* not even the reserve was left */
		imap_disk_full(s);
		return;
	}
	if (j->result != STORE_OK) {
		imap_tagged(s, "NO [SERVERBUG] Internal error storing flags.");
		return;
	}
	struct buf out, modified;
	int new_kw = 0, full = 0;
	buf_init(&out, imap_sync_out_max(j->n));
	buf_init(&modified, (size_t)j->n * 24 + 64);
	for (size_t i = 0; i < j->n; i++) {
		const struct store_kw_result *r = &j->res[i];
		uint32_t seq = imap_view_seq(&s->view, r->uid);
		if (!seq || r->status == STORE_KW_GONE)
			continue;
		struct imap_msg *m = &s->view.msgs[seq - 1];
		imap_msg_set_keywords(m, r->keywords, strlen(r->keywords));
		m->modseq = r->modseq;
		/* A new keyword: FLAGS and PERMANENTFLAGS say so before the
		 * FETCH that shows it (RFC 9051 §7.3.5). */
		if (m->kw && imap_view_kw_learn(&s->view, m))
			new_kw = 1;
		if (r->status == STORE_KW_MODIFIED) {
			buf_printf(&modified, "%s%u", buf_len(&modified) ? "," : "",
				   j->uid_mode ? r->uid : seq);
			continue;
		}
		/* RFC 7162 §3.1.3: a conditional STORE reports the new MODSEQ
		 * even when .SILENT, "required to update the client's cache with
		 * the correct mod-sequence values"; so does any STORE once
		 * CONDSTORE is on (the cache is the same; Dovecot does so). */
		/* .SILENT, but this command told the message's flags as
		 * another session left them (imap_cmd.c): the flags after
		 * the STORE follow, so the last FETCH a client reads is
		 * the message's state (as Dovecot does). */
		int silent = j->silent && !imap_session_told(s, r->uid);
		if (silent &&
		    !((j->unchangedsince || s->condstore) && r->status == STORE_KW_CHANGED))
			continue;
		if (s->uidonly)
			full |= buf_printf(&out, "* %u UIDFETCH (", r->uid);
		else
			full |= buf_printf(&out, "* %u FETCH (", seq);
		if ((j->uid_mode || s->qresync) && !s->uidonly)
			full |= buf_printf(&out, "UID %u ", r->uid);
		if (!silent) {
			full |= buf_append_c(&out, "FLAGS ");
			full |= imap_msg_flags_append(&s->view, m, &out);
		}
		if (s->condstore)
			full |= buf_printf(&out, "%sMODSEQ (%llu)", silent ? "" : " ",
					   (unsigned long long)m->modseq);
		full |= buf_append_c(&out, ")\r\n");
	}
	if (full) {
		/* The flags are stored; telling them would pass what any
		 * output may hold (IMAP_PEND_MAX): no prefix of it, as for a
		 * sync that large. The client sees the new state when back. */
		buf_free(&out);
		buf_free(&modified);
		imap_session_too_much(s, j->n);
		return;
	}
	if (new_kw) {
		struct buf fl;
		buf_init(&fl, 0); /* the lines bring their room */
		imap_view_flags_lines(&s->view, &fl);
		imap_write(s, buf_data(&fl), buf_len(&fl));
		buf_free(&fl);
	}
	if (buf_len(&out))
		imap_write_big(s, buf_data(&out), buf_len(&out));
	imap_context_refresh(s); /* CONTEXT=SEARCH: what the new flags changed */
	imap_session_held_line(s); /* our MODSEQs above a held-back expunge's */
	if (buf_len(&modified))
		imap_tagged(s, "OK [MODIFIED %.*s] Conditional store failed.", (int)buf_len(&modified),
			    buf_data(&modified));
	else
		imap_tagged(s, "OK Store completed.");
	buf_free(&out);
	buf_free(&modified);
}

void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_STORE;
	struct str set, item;
	struct imap_seqset ss;
	uint64_t unchangedsince = 0;
	size_t ai = 1;
	const char *why = NULL;

	if (cmd->nargs < 3 || imap_arg_atom(&cmd->args[0], &set) < 0 ||
	    !(cmd->args[0].flags & IMAP_ARGF_SEQSET)) {
		bad(s, "Invalid arguments.");
		return;
	}
	/* (UNCHANGEDSINCE n) */
	if (cmd->args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *l;
		size_t ln;
		imap_arg_list(&cmd->args[1], &l, &ln);
		if (ln != 2 || !imap_arg_atom_is(&l[0], "UNCHANGEDSINCE") ||
		    imap_arg_number64(&l[1], &unchangedsince) < 0) {
			bad(s, "Invalid STORE modifiers.");
			return;
		}
		if (unchangedsince == 0)
			unchangedsince = 1; /* RFC 7162: 0 fails for every message with a modseq */
		imap_session_condstore(s);
		ai = 2;
	}
	if (ai + 1 >= cmd->nargs + 1 || imap_arg_atom(&cmd->args[ai], &item) < 0) {
		bad(s, "Invalid arguments.");
		return;
	}
	int op, silent = 0;
	struct str base = item;
	if (base.len > 7 && str_eq_ci_c(str_make(base.p + base.len - 7, 7), ".SILENT")) {
		silent = 1;
		base.len -= 7;
	}
	if (str_eq_ci_c(base, "FLAGS"))
		op = STORE_KW_SET;
	else if (str_eq_ci_c(base, "+FLAGS"))
		op = STORE_KW_ADD;
	else if (str_eq_ci_c(base, "-FLAGS"))
		op = STORE_KW_REMOVE;
	else {
		bad(s, "Invalid STORE item.");
		return;
	}
	ai++;
	if (ai >= cmd->nargs) {
		bad(s, "Missing flags.");
		return;
	}
	struct buf kw;
	buf_init(&kw, IMAP_FLAGS_TEXT_MAX);
	if (cmd->args[ai].type == IMAP_ARG_LIST) {
		const struct imap_arg *l;
		size_t ln;
		imap_arg_list(&cmd->args[ai], &l, &ln);
		for (size_t i = 0; i < ln && !why; i++)
			imap_flags_add(&l[i], &kw, &why);
		if (ai + 1 != cmd->nargs)
			why = "Invalid arguments.";
	} else {
		for (size_t i = ai; i < cmd->nargs && !why; i++)
			imap_flags_add(&cmd->args[i], &kw, &why);
	}
	if (!why && imap_set_parse(s, set, uid, &ss) != IMAP_SEQSET_OK)
		why = "Invalid messageset.";
	if (!why && !uid && (imap_seqset_last(&ss) > s->view.count || (ss.star && !s->view.count)))
		why = "Invalid messageset.";
	if (why) {
		buf_free(&kw);
		bad(s, why);
		return;
	}
	if (s->view.readonly) {
		buf_free(&kw);
		imap_tagged(s, IMAP_NO_READ_ONLY);
		return;
	}
	/* A mailbox shared with the user (imap_acl.h): the flags its rights
	 * do not cover are left out, as Dovecot does (RFC 4314 §4: \Seen
	 * needs "s", \Deleted "t", the rest "w"); FLAGS would clear those
	 * too, so it needs all three; nothing left to change is NOPERM. */
	if (s->view.lacks & (STORE_ACL_S | STORE_ACL_T | STORE_ACL_W)) {
		uint32_t rights = STORE_ACL_ALL & ~s->view.lacks;
		size_t had = buf_len(&kw);
		buf_truncate(&kw, had ? imap_acl_keywords_filter(rights, buf_data(&kw), had) : 0);
		if (op == STORE_KW_SET || (had && !buf_len(&kw))) {
			buf_free(&kw);
			imap_tagged(s, "NO [NOPERM] Permission denied.");
			return;
		}
	}
	/* A keyword already in use here keeps the case it has: "$forwarded"
	 * sets the "$Forwarded" the client saw in FLAGS. */
	imap_view_kw_canon(&s->view, buf_data(&kw), buf_len(&kw));
	struct imap_job *j = imap_job_new(s);
	j->account = s->view.account; /* the mailbox's owner */
	j->mailbox = s->view.mailbox;
	j->uidvalidity = s->view.uidvalidity;
	j->uids = imap_set_uids(s, &ss, uid, &j->n);
	imap_limit_uids(s, j->uids, &j->n);
	j->op = op;
	j->silent = silent;
	j->uid_mode = uid;
	j->unchangedsince = unchangedsince;
	j->keywords = xmalloc(buf_len(&kw) + 1);
	if (buf_len(&kw))
		memcpy(j->keywords, buf_data(&kw), buf_len(&kw));
	j->keywords[buf_len(&kw)] = '\0';
	buf_free(&kw);
	if (j->n == 0) {
		free(j->uids);
		free(j->keywords);
		free(j);
		imap_tagged(s, "OK Store completed.");
		return;
	}
	j->start = store_start;
	j->done = store_done;
	imap_job_submit(s, j);
}
