/*
 * pop3_mail.c — the TRANSACTION state: STAT, LIST, UIDL, RETR, TOP, DELE,
 * RSET, the streamed multi-line responses, and the UPDATE state at QUIT.
 *
 * Message numbers index the snapshot taken at login (pop3_auth.c): mail
 * delivered during the session is not shown, and numbers never shift.
 * Sizes are the octets RETR sends before dot-stuffing (RFC 1939 §11: the
 * stuffed dots are not counted, every line end is counted as its CRLF),
 * worked out at login (pop3_auth.c) from each message's MIME record when
 * it tells (the message is read when not): the stored size, plus a CR for
 * each bare LF a literal8 APPEND kept (sent as CRLF by pop3_stuff), plus
 * the CRLF added to a last line that has none (Dovecot sends that CRLF too
 * but does not count it).
 *
 * Without the UTF8 command (RFC 6856 §3) a message whose header has UTF-8
 * fields is sent with its header downgraded (mime_header_downgrade.h):
 * the snapshot (pop3_auth.c) sized it so, RETR and TOP build that header
 * when they start (struct pop3_send's head), send it through the same
 * stuffing, then the body from where the stored header ended. That
 * header is at most 1 MiB of the stored one (mime_header_section_len),
 * so what a session holds stays a few MiB whatever the message.
 *
 * UIDLs are Dovecot's default format, "%08x%08x" of the IMAP UID and the
 * INBOX's UIDVALIDITY: stable across sessions, and the same pair IMAP will
 * show, so a client moving from POP3 to IMAP can match messages up.
 *
 * Streaming: RETR and TOP copy the message from the store chunk by chunk,
 * each chunk in its own short read transaction, whenever the output buffer
 * drained below POP3_OUT_HIGH; a 50 MiB message never sits in memory
 * whole. A message expunged by IMAP since login gets "-ERR" (still_there);
 * should it vanish mid-way, the connection is closed: a half-sent body
 * cannot be answered "-ERR".
 *
 * QUIT with messages marked runs the expunge on a worker thread as one
 * synchronous store write (it fsyncs; a loop must not), and "+OK" is sent
 * only after it committed. The account stays locked until then.
 *
 * \Seen, as Dovecot sets it (pop3_no_flag_updates = no, its default): a
 * message RETR sent gets \Seen when the session ends, at QUIT or when the
 * connection drops, so IMAP and JMAP show as read what a POP3 client
 * fetched. TOP sets nothing; RSET forgets the RETRs before it; a message
 * expunged at QUIT is not marked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "mime/mime_header_downgrade.h"
#include "net/conn.h"
#include "pop3/pop3_session.h"
#include "store/store.h"

struct pop3_expunge_job {
	struct worker_job wj;
	struct pop3_session *s;
	uint32_t account, mailbox, uidvalidity;
	uint32_t *uids; /* to expunge */
	size_t n;
	uint32_t *seen; /* to mark \Seen */
	size_t nseen;
	int result, seen_result;
	size_t removed;
};

/* The message numbered num, or NULL after replying why not. */
static struct pop3_msg *get_msg(struct pop3_session *s, uint32_t num)
{
	if (num == 0 || num > s->nmsgs) {
		pop3_reply(s, "-ERR There's no message %u.", num);
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[num - 1];
	if (m->deleted) {
		pop3_reply(s, "-ERR Message is deleted.");
		return NULL;
	}
	return m;
}

void pop3_cmd_stat(struct pop3_session *s, struct pop3_cmd *cmd)
{
	pop3_reply(s, "+OK %u %llu", s->nmsgs - s->ndeleted,
		   (unsigned long long)(s->total_size - s->deleted_size));
}

void pop3_cmd_list(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (cmd->has_msg) {
		struct pop3_msg *m = get_msg(s, cmd->msg);
		if (m)
			pop3_reply(s, "+OK %u %u", cmd->msg, m->size);
		return;
	}
	pop3_reply(s, "+OK %u messages:", s->nmsgs - s->ndeleted);
	s->send = (struct pop3_send){ .kind = POP3_SEND_LIST };
	pop3_send_refill(s);
}

void pop3_cmd_uidl(struct pop3_session *s, struct pop3_cmd *cmd)
{
	if (cmd->has_msg) {
		struct pop3_msg *m = get_msg(s, cmd->msg);
		if (m)
			pop3_reply(s, "+OK %u %08x%08x", cmd->msg, m->uid, s->uidvalidity);
		return;
	}
	pop3_reply(s, "+OK");
	s->send = (struct pop3_send){ .kind = POP3_SEND_UIDL };
	pop3_send_refill(s);
}

/* What RETR and TOP send of a message: its bytes from skip on, after head
 * (the downgraded header, or nothing). */
struct body_src {
	struct store_hold hold;
	struct buf head;
	uint64_t skip;
};

/* Takes b (the message's bytes) with it: released when the body is sent. */
static void start_body(struct pop3_session *s, uint32_t num, int top, uint64_t lines,
		       const struct body_src *b)
{
	s->send = (struct pop3_send){ .kind = POP3_SEND_BODY, .index = num - 1, .hold = b->hold,
				      .head = b->head, .off = b->skip };
	s->send.stuff.top = top;
	s->send.stuff.lines = lines;
	pop3_send_refill(s);
}

/*
 * Holds the message's bytes for the answer. POP3 holds no lock against
 * IMAP: a session there may have expunged it since this maildrop was read.
 * Then "-ERR" and the session goes on (fetchmail and Thunderbird skip it).
 * Once held, the bytes stay readable to the end of the answer even if it
 * is expunged meanwhile (store_hold.c), so "+OK" is never followed by a
 * cut.
 */
/* In the hold's transaction: the header downgraded into b->head, the
 * original's header skipped (RFC 6856 §3, m->downgrade). */
static void downgrade_head(void *arg, const void *meta, size_t metalen, const char *data,
			   size_t len)
{
	struct body_src *b = arg;
	size_t hl = mime_header_section_len(data, len);

	(void)meta;
	(void)metalen;
	buf_init(&b->head, MIME_HEADER_DOWNGRADE_MAX(hl));
	if (mime_header_downgrade(data, hl, &b->head) == 0)
		b->skip = hl;
	else
		buf_free(&b->head); /* cannot happen: the ceiling is above any result */
}

static int hold_message(struct pop3_session *s, uint32_t num, const struct pop3_msg *m,
			struct body_src *b)
{
	*b = (struct body_src){ 0 };
	int rc = store_email_hold(pop3_store, s->account, m->email_id,
				  m->downgrade ? downgrade_head : NULL, b, &b->hold);

	if (rc == STORE_OK)
		return 1;
	buf_free(&b->head);
	if (rc == STORE_ENOTFOUND)
		pop3_reply(s, "-ERR Message %u was removed by another session.", num);
	else
		pop3_reply(s, "-ERR [SYS/TEMP] Message %u cannot be read now.", num);
	return 0;
}

void pop3_cmd_retr(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = get_msg(s, cmd->msg);
	struct body_src b;

	if (!m || !hold_message(s, cmd->msg, m, &b))
		return;
	pop3_reply(s, "+OK %u octets", m->size);
	s->retrieved++;
	m->read = 1;
	start_body(s, cmd->msg, 0, 0, &b);
}

void pop3_cmd_top(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = get_msg(s, cmd->msg);
	struct body_src b;

	if (!m || !hold_message(s, cmd->msg, m, &b))
		return;
	pop3_reply(s, "+OK");
	start_body(s, cmd->msg, 1, cmd->lines, &b);
}

void pop3_cmd_dele(struct pop3_session *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = get_msg(s, cmd->msg);

	if (!m)
		return;
	m->deleted = 1;
	s->ndeleted++;
	s->deleted_size += m->size;
	pop3_reply(s, "+OK Marked to be deleted.");
}

void pop3_cmd_rset(struct pop3_session *s, struct pop3_cmd *cmd)
{
	for (uint32_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = s->msgs[i].read = 0;
	s->ndeleted = 0;
	s->deleted_size = 0;
	pop3_reply(s, "+OK");
}

/* ---- streamed responses ---- */

static void refill_lines(struct pop3_session *s)
{
	struct pop3_send *sd = &s->send;
	char line[48];

	while (sd->index < s->nmsgs && buf_len(&s->conn->out) < POP3_OUT_HIGH) {
		const struct pop3_msg *m = &s->msgs[sd->index++];
		if (m->deleted)
			continue;
		int n = sd->kind == POP3_SEND_LIST
				? snprintf(line, sizeof(line), "%u %u\r\n", sd->index, m->size)
				: snprintf(line, sizeof(line), "%u %08x%08x\r\n", sd->index, m->uid,
					   s->uidvalidity);
		pop3_write(s, line, (size_t)n);
	}
	if (sd->index >= s->nmsgs) {
		pop3_write(s, ".\r\n", 3);
		sd->kind = POP3_SEND_NONE;
	}
}

struct body_ctx {
	struct pop3_session *s;
	uint64_t *off; /* into what body_chunk is given */
	int complete, bad;
};

/* Runs inside the store's read transaction: copy, stuff, nothing else. */
static void body_chunk(void *arg, const char *data, size_t len)
{
	struct body_ctx *ctx = arg;
	struct pop3_send *sd = &ctx->s->send;
	struct buf *out = &ctx->s->conn->out;
	uint64_t *off = ctx->off;
	size_t room = buf_room(out), avail, written;

	if (*off > len) {
		ctx->bad = 1;
		return;
	}
	/* Keep 5 octets for the end ("\r\n.\r\n") and 1 for buf's NUL (so
	 * the storage stays a power of two its cache recycles); ask no more
	 * than this chunk can become (a stuffed line grows by at most half),
	 * so a small message does not grow the buffer to its maximum. */
	size_t want = (size_t)(len - *off) + (size_t)(len - *off) / 2 + 2;
	if (room < 8)
		return;
	room -= 6;
	if (room > want)
		room = want;
	char *dst = buf_reserve(out, room, &avail);
	if (!dst) {
		ctx->bad = 1;
		return;
	}
	size_t used = pop3_stuff(&sd->stuff, data + *off, len - *off, dst, room, &written);
	buf_commit(out, written);
	*off += used;
	ctx->complete = *off == len || sd->stuff.done;
}

static void end_body(struct pop3_session *s)
{
	s->send.kind = POP3_SEND_NONE;
	store_hold_release(pop3_store, &s->send.hold);
	buf_free(&s->send.head);
}

static void refill_body(struct pop3_session *s)
{
	struct pop3_send *sd = &s->send;
	const struct pop3_msg *m = &s->msgs[sd->index];
	struct body_ctx ctx = { .s = s };
	int rc = STORE_OK;

	if (sd->head_off < buf_len(&sd->head)) {
		/* The downgraded header first, through the same stuffing. */
		ctx.off = &sd->head_off;
		body_chunk(&ctx, buf_data(&sd->head), buf_len(&sd->head));
		if (!ctx.complete || sd->stuff.done)
			goto sent;
		ctx.complete = 0;
		if (buf_len(&s->conn->out) >= POP3_OUT_HIGH)
			return;
	}
	ctx.off = &sd->off;
	rc = store_hold_read(pop3_store, &sd->hold, body_chunk, &ctx);
sent:
	if (rc != STORE_OK || ctx.bad) {
		log_warn("pop3", s->id, "event=message_unavailable uid=%u error=%d", m->uid, rc);
		end_body(s);
		pop3_close_with(s, "message_unavailable");
		return;
	}
	if (!ctx.complete)
		return;
	if (sd->stuff.mid_line)
		pop3_write(s, "\r\n.\r\n", 5);
	else
		pop3_write(s, ".\r\n", 3);
	end_body(s);
}

void pop3_send_refill(struct pop3_session *s)
{
	while (s->send.kind != POP3_SEND_NONE && !s->conn_gone && s->state != POP3_S_CLOSING &&
	       buf_len(&s->conn->out) < POP3_OUT_HIGH) {
		size_t before = buf_len(&s->conn->out);
		if (s->send.kind == POP3_SEND_BODY)
			refill_body(s);
		else
			refill_lines(s);
		if (buf_len(&s->conn->out) == before)
			break; /* no room for progress: wait for the output to drain */
	}
}

/* ---- UPDATE: the expunge at QUIT ---- */

/*
 * QUIT's last answer. The maildrop is unlocked before it goes out: the
 * UPDATE state is over (what it wrote is committed), and a client that
 * logs in again as soon as it reads the answer must not find the lock
 * still held until this connection is torn down (RFC 1939 §6: the
 * server releases any lock and closes).
 */
static void quit_answer(struct pop3_session *s, const char *answer)
{
	pop3_auth_release(s);
	pop3_reply(s, "%s", answer);
	pop3_close_with(s, "quit");
}

static void expunge_run(void *arg)
{
	struct pop3_expunge_job *j = arg;

	if (j->nseen) {
		struct store_kw_result *res = xcalloc(j->nseen, sizeof(*res));
		j->seen_result =
		    store_email_keywords(pop3_store, j->account, j->mailbox, j->uidvalidity,
		                         j->seen, j->nseen, STORE_KW_ADD, "$seen", 0, res, NULL);
		if (j->seen_result == STORE_OK)
			store_kw_results_free(res, j->nseen);
		free(res);
	}
	if (j->n)
		j->result = store_expunge(pop3_store, j->account, j->mailbox, j->uidvalidity,
		                          j->uids, j->n, &j->removed, NULL);
}

static void job_free(struct pop3_expunge_job *j)
{
	free(j->uids);
	free(j->seen);
	free(j);
}

static void expunge_done(void *arg)
{
	struct pop3_expunge_job *j = arg;
	struct pop3_session *s = j->s;
	char q[POP3_USER_MAX * 2 + 8];

	s->expunge = NULL;
	if (j->seen_result != STORE_OK && j->seen_result != STORE_ENOTFOUND)
		log_warn("pop3", s->id, "event=seen_failed user=%s messages=%zu error=%d",
		         log_q(s->login, q, sizeof(q)), j->nseen, j->seen_result);
	if (j->n == 0) {
		/* Only \Seen to set: the end of a session without QUIT, or a
		 * QUIT that deleted nothing. */
		job_free(j);
		if (s->conn_gone) {
			pop3_session_free(s);
			return;
		}
		quit_answer(s, "+OK Logging out.");
		pop3_flush(s);
		return;
	}
	if (j->result == STORE_OK) {
		s->expunged = (unsigned)j->removed;
		log_info("pop3", s->id, "event=expunged user=%s marked=%zu removed=%zu",
			 log_q(s->login, q, sizeof(q)), j->n, j->removed);
	} else if (j->result == STORE_ENOTFOUND) {
		/* The account (and its INBOX) was deleted meanwhile: nothing
		 * left to remove, and nothing wrong with the server. */
		log_info("pop3", s->id, "event=expunge_skipped user=%s reason=mailbox_gone",
			 log_q(s->login, q, sizeof(q)));
	} else {
		log_error("pop3", s->id, "event=expunge_failed user=%s marked=%zu error=%d",
			  log_q(s->login, q, sizeof(q)), j->n, j->result);
	}
	/* A client that hung up after QUIT still had its deletions made. */
	if (s->conn_gone) {
		job_free(j);
		pop3_session_free(s);
		return;
	}
	if (j->result == STORE_OK)
		quit_answer(s, "+OK Logging out, messages deleted.");
	else if (j->result == STORE_ENOTFOUND)
		quit_answer(s, "-ERR [SYS/PERM] The mailbox no longer exists.");
	else
		quit_answer(s, "-ERR [SYS/TEMP] Some deleted messages were not removed.");
	job_free(j);
	pop3_flush(s);
}

/* A job for what the session's end writes: \Seen on what RETR sent (those
 * DELE marked too when with_deleted), and with expunge the messages DELE
 * marked. NULL when there is nothing to write. */
static struct pop3_expunge_job *end_job(struct pop3_session *s, int expunge, int with_deleted)
{
	size_t nread = 0;

	for (uint32_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].read && (with_deleted || !s->msgs[i].deleted))
			nread++;
	if (nread == 0 && (!expunge || s->ndeleted == 0))
		return NULL;
	struct pop3_expunge_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->account = s->account;
	j->mailbox = s->mailbox;
	j->uidvalidity = s->uidvalidity;
	if (nread)
		j->seen = xmalloc(nread * sizeof(*j->seen));
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (nread && s->msgs[i].read && (with_deleted || !s->msgs[i].deleted))
			j->seen[j->nseen++] = s->msgs[i].uid;
		s->msgs[i].read = 0; /* marked once: the session's end is now */
	}
	if (expunge && s->ndeleted) {
		j->uids = xmalloc((size_t)s->ndeleted * sizeof(*j->uids));
		for (uint32_t i = 0; i < s->nmsgs; i++)
			if (s->msgs[i].deleted)
				j->uids[j->n++] = s->msgs[i].uid;
	}
	j->wj.fn = expunge_run;
	j->wj.done = expunge_done;
	j->wj.arg = j;
	j->wj.loop = s->loop;
	return j;
}

int pop3_end_transaction(struct pop3_session *s)
{
	struct pop3_expunge_job *j = end_job(s, 0, 1);

	if (!j)
		return 0;
	s->expunge = j;
	s->state = POP3_S_UPDATE;
	worker_submit(&j->wj);
	return 1;
}

void pop3_quit_transaction(struct pop3_session *s)
{
	struct pop3_expunge_job *j = end_job(s, 1, 0);

	if (!j) {
		quit_answer(s, "+OK Logging out.");
		return;
	}
	s->expunge = j;
	s->state = POP3_S_UPDATE;
	/* Anything pipelined behind QUIT is never read. */
	conn_pause_read(s->conn, 1);
	worker_submit(&j->wj);
}
