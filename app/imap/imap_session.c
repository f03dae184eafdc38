/*
 * imap_session.c — IMAP sessions: accept, greeting, input through the
 * command parser, literal budgets, output in steps, timers, limits, the
 * change feed and shutdown.
 *
 * Input: the parser (imap_parser.h) is fed whatever is buffered and says
 * when a command is complete, when a literal needs our decision, or what
 * was wrong. Pipelined commands run one after another until the output
 * holds IMAP_OUT_HIGH octets; then input waits until the output drained
 * (session_drained), which holds back a client that sends faster than it
 * reads. While a command is still producing output (s->fetch, s->pend)
 * nothing else is parsed, so responses never interleave.
 *
 * Literals: a literal is refused before "+" is sent when it is over the
 * budget of the session's state (a password before login, a mailbox name
 * or search string after it) or, in APPEND, over the APPENDLIMIT or the
 * quota left (cmd_append.c). The parser's own limits are set to the
 * largest of these numbers so a non-synchronizing literal is refused
 * just the same; a literal is read as it arrives, never in one blocking
 * read.
 */
#include "imap/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_dg_cache.h"
#include "imap/imap_server.h"
#include "imap/imap_subject_cache.h"
#include "imap/imap_view_cache.h"
#include "net/conn.h"
#include "net/limits.h"

const struct config *imap_cfg;
struct store *imap_store;
static unsigned sessions_alive;
static uint64_t session_base;
static uint64_t session_counter;
static _Thread_local struct imap_session *loop_sessions;
static _Thread_local int loop_draining;

static void session_data(struct conn *c, void *arg);
static void session_drained(struct conn *c, void *arg);
static void session_closed(struct conn *c, void *arg, const char *reason);
static void accept_session(struct loop *loop, int fd, int implicit, uint32_t account,
			   const char *login);
static const struct conn_ops imap_conn_ops = {
	.on_data = session_data,
	.on_drained = session_drained,
	.on_close = session_closed,
	.oom_goodbye = "* BYE [UNAVAILABLE] Out of memory, try again later\r\n",
};

void imap_server_init(const struct config *cfg, struct store *st)
{
	imap_cfg = cfg;
	imap_store = st;
	imap_view_cache_clear(); /* snapshots of another store mean nothing here */
	imap_subject_cache_clear();
	imap_dg_cache_clear();
	if (getrandom(&session_base, sizeof(session_base), 0) != sizeof(session_base))
		session_base = (uint64_t)time_wall() << 20;
}

unsigned imap_server_sessions(void)
{
	return __atomic_load_n(&sessions_alive, __ATOMIC_SEQ_CST);
}

int imap_secure(const struct imap_session *s)
{
	return s->conn && s->conn->tls != NULL;
}

/* Into the connection itself: only while nothing waits in s->pend, which
 * would otherwise reach the client after what is written here. */
static void write_conn(struct imap_session *s, const char *p, size_t n)
{
	if (n)
		s->out_midline = p[n - 1] != '\n';
	if (conn_write(s->conn, p, n) < 0 && s->state != IMAP_S_LOGOUT) {
		/* Not expected: producers check IMAP_OUT_HIGH first. */
		log_warn("imap", s->id, "event=output_overflow");
		imap_close_with(s, "output_overflow");
	}
}

/* Behind what waits already: the client reads the output in the order it
 * was made. */
static void write_pend(struct imap_session *s, const char *p, size_t n)
{
	if (buf_append(&s->pend, p, n) < 0) {
		/* One command's answer past IMAP_PEND_MAX: it cannot be told
		 * whole, so the session ends as a sync that large does. */
		log_warn("imap", s->id, "event=output_overflow pending=%zu", buf_len(&s->pend));
		imap_session_bye(s, "* BYE Too much output to send at once, please reconnect.",
				 "output_overflow");
	}
}

void imap_write(struct imap_session *s, const char *p, size_t n)
{
	if (s->conn_gone || s->bye_said)
		return; /* nothing after a BYE (imap_session_bye) */
	if (buf_len(&s->pend))
		write_pend(s, p, n);
	else
		write_conn(s, p, n);
}

void imap_session_bye(struct imap_session *s, const char *line, const char *reason)
{
	if (s->conn_gone || s->bye_said)
		return;
	/* What waits in s->pend is never sent once the session is closing
	 * (send_pending() stops in LOGOUT): a BYE queued behind it was
	 * lost, and the client saw the connection drop without a word. So
	 * the prepared output goes (its memory with it) and the BYE is
	 * written to the connection itself, on a line of its own even when
	 * the output sent so far stopped inside a line. */
	buf_free(&s->pend);
	if (s->out_midline)
		imap_write(s, "\r\n", 2);
	imap_write(s, line, strlen(line));
	imap_write(s, "\r\n", 2);
	s->bye_said = 1; /* the rest of the command's answer is dropped */
	imap_close_with(s, reason);
}

void imap_write_big(struct imap_session *s, const char *p, size_t n)
{
	if (s->conn_gone || s->bye_said)
		return;
	if (buf_len(&s->pend) == 0 && buf_len(&s->conn->out) + n <= IMAP_OUT_HIGH)
		write_conn(s, p, n);
	else
		write_pend(s, p, n);
}

__attribute__((format(printf, 3, 0)))
static void vreply(struct imap_session *s, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s", prefix);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);

	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	imap_write_big(s, line, (size_t)n);
}

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, "", fmt, ap);
	va_end(ap);
}

void imap_tagged(struct imap_session *s, const char *fmt, ...)
{
	char prefix[IMAP_TAG_MAX + 2];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s ", s->tag[0] ? s->tag : "*");
	va_start(ap, fmt);
	if (s->msglimit_uid) {
		/* RFC 9738: an OK for part of the messages says where it
		 * stopped; when the OK carries a code of its own already, an
		 * untagged NO before it does. */
		char text[1024];
		uint32_t lowest = s->msglimit_uid;
		s->msglimit_uid = 0;
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		if (strncmp(text, "OK ", 3) != 0)
			imap_reply(s, "%s%s", prefix, text);
		else if (text[3] == '[') {
			imap_reply(s, "* NO [MESSAGELIMIT %u %u] Some messages were not processed.",
				   imap_message_limit(), lowest);
			imap_reply(s, "%s%s", prefix, text);
		} else
			imap_reply(s, "%sOK [MESSAGELIMIT %u %u] %s", prefix, imap_message_limit(),
				   lowest, text + 3);
		return;
	}
	vreply(s, prefix, fmt, ap);
	va_end(ap);
}

void imap_close_with(struct imap_session *s, const char *reason)
{
	s->state = IMAP_S_LOGOUT;
	if (!s->conn_gone)
		conn_close_after_flush(s->conn, reason);
}

int imap_session_error(struct imap_session *s)
{
	if (++s->errors < IMAP_MAX_ERRORS)
		return 0;
	imap_reply(s, "* BYE Too many invalid IMAP commands.");
	log_info("imap", s->id, "event=too_many_errors errors=%u", s->errors);
	imap_close_with(s, "too_many_errors");
	return 1;
}

void imap_cmd_end(struct imap_session *s)
{
	s->in_cmd = 0;
	s->tag[0] = '\0';
	s->msglimit_uid = 0;
	arena_reset(s->cmd_arena);
	if (s->notify_pending && s->notify && s->wait == IMAP_W_NONE) {
		/* NOTIFY: what changed while the command ran. */
		s->notify_pending = 0;
		imap_notify_check(s);
		arena_reset(s->cmd_arena);
	} else if (s->notify && s->wait == IMAP_W_NONE && !s->conn_gone) {
		/* MessageNew's FETCH for messages the command's sync showed. */
		imap_notify_fetched(s);
	}
}

/* The parser's limits for the session's state (see the top of the file). */
static void set_limits(struct imap_session *s)
{
	struct imap_parser_limits *l = &s->parser.limits;
	l->max_literal = s->state == IMAP_S_NOT_AUTH ? IMAP_LITERAL_PREAUTH : IMAP_LITERAL_MAX;
	l->max_command = IMAP_COMMAND_MAX;
	if (s->state != IMAP_S_NOT_AUTH) {
		/* APPEND: a message per literal (literal_decision() keeps every
		 * other command at IMAP_LITERAL_MAX), a few per MULTIAPPEND. */
		l->max_command = IMAP_APPEND_COMMAND_FACTOR * imap_append_limit() + IMAP_COMMAND_MAX;
		l->max_literal = l->max_command; /* NO [TOOBIG] is ours to say */
	}
}

static void change_cb(void *arg, uint32_t account, uint64_t modseq);

void imap_session_watch_account(struct imap_session *s, struct store_sub *sub, uint32_t account)
{
	sub->account = account;
	sub->loop = s->loop;
	sub->cb = change_cb;
	sub->arg = s;
	store_subscribe(imap_store, sub);
}

void imap_session_watch_view(struct imap_session *s)
{
	if (s->state != IMAP_S_SELECTED || s->view.account == s->account || s->view_subscribed)
		return;
	imap_session_watch_account(s, &s->view_sub, s->view.account);
	s->view_subscribed = 1;
}

static void unwatch_view(struct imap_session *s)
{
	if (s->view_subscribed)
		store_unsubscribe(imap_store, &s->view_sub);
	s->view_subscribed = 0;
}

void imap_session_unselect(struct imap_session *s)
{
	unwatch_view(s);
	if (s->state == IMAP_S_SELECTED) {
		imap_view_close(&s->view, imap_store);
		imap_searchres_clear(s);
		imap_context_clear(s);
		s->state = IMAP_S_AUTH;
	}
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void imap_session_too_much(struct imap_session *s, size_t n)
{
	log_warn("imap", s->id, "event=sync_output_overflow mailbox=%u messages=%zu limit=%u",
		 s->view.mailbox, n, IMAP_PEND_MAX);
	imap_session_unselect(s);
	imap_session_bye(s, "* BYE Too many changes to tell at once, please reconnect.",
			 "sync_output_overflow");
}

static void session_sync(struct imap_session *s, int tell_highest)
{
	struct buf out;

	if (s->state != IMAP_S_SELECTED)
		return;
	/* An EXPUNGE or a FETCH FLAGS line per message at most; FLAGS with
	 * PERMANENTFLAGS (twice at most) bring their own room. */
	buf_init(&out, imap_sync_out_max(s->view.count));
	/* CONTEXT=SEARCH needs the UIDs as the client knew them. */
	uint32_t *before = NULL;
	size_t nbefore = s->view.count;
	if (s->contexts) {
		before = xmalloc(((size_t)nbefore + 1) * sizeof(*before));
		for (size_t i = 0; i < nbefore; i++)
			before[i] = s->view.msgs[i].uid;
	}
	uint32_t last_uid = s->view.count ? s->view.msgs[s->view.count - 1].uid : 0;
	uint32_t recent0 = imap_view_recent_count(&s->view), count0 = s->view.count;
	uint64_t highest0 = s->view.highest_modseq;
	/* Only a STORE asks which messages' flags it told (cmd_store.c). */
	int store = s->in_cmd && (s->cmd_id == IMAP_CMD_STORE || s->cmd_id == IMAP_CMD_UID_STORE);
	size_t told0 = s->told.n;
	int r = imap_view_sync(&s->view, imap_store, &out, store ? &s->told : NULL);
	if (told0 && s->told.n > told0) /* a second sync in one command */
		qsort(s->told.uids, s->told.n, sizeof(*s->told.uids), uid_cmp);
	/* New UIDs are above the old ones, so the messages changed when
	 * the count or the last UID did. */
	if (r >= 0 && tell_highest && s->qresync && !s->view.held &&
	    s->view.highest_modseq != highest0 &&
	    (s->view.count != count0 ||
	     (s->view.count ? s->view.msgs[s->view.count - 1].uid : 0) != last_uid))
		tell_highest = 2;
	/* IMAP4rev1: new messages may be this session's \Recent ones; and
	 * RFC 3501 §7.3.2 sends RECENT "if the size of the mailbox changes",
	 * so an expunge that took \Recent messages says how many are left,
	 * as Dovecot does ("* 1 EXPUNGE" then "* 0 RECENT"). */
	if (r >= 0 && !imap_select_recent_sync(s, last_uid, &out) &&
	    imap_view_recent_count(&s->view) != recent0 &&
	    buf_printf(&out, "* %u RECENT\r\n", imap_view_recent_count(&s->view)) < 0)
		r = IMAP_VIEW_FULL;
	if (r >= 0 && tell_highest == 2 &&
	    buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		       (unsigned long long)imap_highest_modseq(s->view.highest_modseq)) < 0)
		r = IMAP_VIEW_FULL;
	if (r == IMAP_VIEW_FULL) {
		/* More to tell than any output may hold (some 4,000 messages
		 * with the most keywords changed at once), and the view has
		 * moved on: a prefix would leave the client's state wrong
		 * without a word. It hears nothing of it, and starts again. */
		buf_free(&out);
		free(before);
		imap_session_too_much(s, s->view.count);
		return;
	}
	if (r == -2 || r == -3) {
		/* Deleted under us (-2), or its UIDVALIDITY changed (-3: tern
		 * import or migrate gave the empty mailbox a source's, and its
		 * UIDs start again at 1): the UIDs the client holds mean nothing
		 * any more, and no response can say so (a UID "MUST NOT change
		 * during the session", RFC 9051 §2.3.1.1; UIDVALIDITY is told at
		 * SELECT). So end the session before it sees any message of the
		 * new state, as Dovecot does for both (RFC 9051 §7.1.5 allows
		 * BYE at any time). */
		int gone = r == -2;
		buf_free(&out);
		free(before);
		log_info("imap", s->id, "event=%s mailbox=%u",
			 gone ? "selected_mailbox_deleted" : "selected_mailbox_uidvalidity_changed",
			 s->view.mailbox);
		imap_reply(s, gone ? "* BYE Selected mailbox was deleted, have to disconnect."
				   : "* BYE Mailbox UIDVALIDITY changed, have to disconnect.");
		imap_session_unselect(s);
		imap_close_with(s, gone ? "mailbox_deleted" : "uidvalidity_changed");
		return;
	}
	if (r < 0)
		log_warn("imap", s->id, "event=sync_failed mailbox=%u", s->view.mailbox);
	if (s->contexts && r >= 0) {
		/* Each context's lines are at most one number per message
		 * (CONTEXT=SORT: a position and a number). */
		struct buf pre, post;
		size_t room = ((size_t)nbefore + s->view.count + 2) * 22 * IMAP_CONTEXT_MAX + 4096;
		buf_init(&pre, room);
		buf_init(&post, room);
		imap_context_update(s, before, nbefore, &pre, &post);
		if (buf_len(&pre))
			imap_write_big(s, buf_data(&pre), buf_len(&pre));
		if (buf_len(&out))
			imap_write_big(s, buf_data(&out), buf_len(&out));
		if (buf_len(&post))
			imap_write_big(s, buf_data(&post), buf_len(&post));
		buf_free(&pre);
		buf_free(&post);
	} else if (buf_len(&out)) {
		imap_write_big(s, buf_data(&out), buf_len(&out));
	}
	free(before);
	buf_free(&out);
}

void imap_session_sync(struct imap_session *s)
{
	session_sync(s, 1);
}

void imap_session_sync_quiet(struct imap_session *s)
{
	session_sync(s, 0);
}

int imap_session_sync_flags(struct imap_session *s)
{
	struct buf out;

	imap_session_told_clear(s);
	/* CONTEXT and NOTIFY follow the full syncs only. */
	if (s->state != IMAP_S_SELECTED || s->contexts || s->notify)
		return 0;
	buf_init(&out, imap_sync_out_max(s->view.count));
	int r = imap_view_sync_flags(&s->view, imap_store, &out,
				     s->cmd_id == IMAP_CMD_STORE ? &s->told : NULL);
	if (r == IMAP_VIEW_FULL) {
		buf_free(&out);
		imap_session_too_much(s, s->view.count);
		return 0;
	}
	if (r < 0)
		log_warn("imap", s->id, "event=sync_failed mailbox=%u", s->view.mailbox);
	else if (buf_len(&out))
		imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	return r > 0;
}

void imap_session_told_clear(struct imap_session *s)
{
	free(s->told.uids);
	s->told = (struct imap_view_told){ 0 };
}

int imap_session_told(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->told.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->told.uids[mid] == uid)
			return 1;
		if (s->told.uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void imap_session_held_line(struct imap_session *s)
{
	struct buf b;

	if (s->state != IMAP_S_SELECTED || !s->view.held || !s->view.condstore)
		return;
	buf_init(&b, 128);
	if (imap_view_held_line(&s->view, &b) == 0 && buf_len(&b))
		imap_write(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
}

/* 1 while output made earlier still waits for the client to read it. */
static int output_backed_up(struct imap_session *s)
{
	if (s->conn_gone)
		return 0;
	return s->fetch || buf_len(&s->pend) || buf_len(&s->conn->out) >= IMAP_OUT_HIGH;
}

/*
 * 1 when a feed change is told now, outside any command's output: in
 * IDLE, or with NOTIFY while no command runs (feed_changed()).
 */
static int feed_tells_now(const struct imap_session *s)
{
	return s->wait == IMAP_W_IDLE || (s->notify && !s->in_cmd && s->wait == IMAP_W_NONE);
}

/* The account changed: IDLE and NOTIFY tell the client now. Not while
 * the client leaves earlier output unread: each sync adds a line per
 * changed message to s->pend, so a client in IDLE that never reads,
 * while another session flips the flags of the whole mailbox again and
 * again, grew the session to IMAP_PEND_MAX (64 MiB, times 50 sessions
 * an address). The change waits in s->feed_pending instead, and
 * session_drained() tells it once the output is read: one sync then
 * covers every change since, so what waits is one sync's worth. */
static void feed_changed(struct imap_session *s)
{
	if (output_backed_up(s)) {
		s->feed_pending = 1;
		return;
	}
	s->feed_pending = 0;
	/* A sync may end the session (BYE: the selected mailbox was
	 * deleted or took another UIDVALIDITY), and the flush after it may
	 * then find the connection gone: s stays until this is done with
	 * it. */
	s->flushing++;
	/* A selected shared mailbox's rights as granted now, read before
	 * its owner's changes are told as they are before each command
	 * (imap_cmd.c): a reader whose "r" went gets BYE, not the owner's
	 * new messages; a command under way checked them as it began. */
	if (s->state == IMAP_S_SELECTED && !s->conn_gone && feed_tells_now(s) &&
	    imap_select_rights_check(s) < 0)
		imap_flush(s);
	if (s->wait == IMAP_W_IDLE && !s->conn_gone && s->state != IMAP_S_LOGOUT)
		imap_idle_notify(s);
	if (s->notify && !s->conn_gone) {
		/* NOTIFY: at once when nothing runs (IDLE included), else when
		 * the command ends. */
		if ((!s->in_cmd && s->wait == IMAP_W_NONE) || s->wait == IMAP_W_IDLE) {
			imap_notify_check(s);
			if (!s->in_cmd)
				arena_reset(s->cmd_arena);
			imap_flush(s);
		} else {
			s->notify_pending = 1;
		}
	}
	if (--s->flushing == 0 && s->conn_gone)
		imap_session_free(s);
}

static void change_cb(void *arg, uint32_t account, uint64_t modseq)
{
	struct imap_session *s = arg;

	/* The removal of the session's own account (STORE_MODSEQ_GONE,
	 * store_account_del) is session_watch's to tell: BYE Account was
	 * deleted, not that its selected mailbox was. */
	if (account == s->account && modseq == STORE_MODSEQ_GONE)
		return;
	feed_changed(s);
}

void imap_session_logged_in(struct imap_session *s)
{
	conn_deadline(s->conn, 0, NULL, NULL); /* the login deadline */
	s->state = IMAP_S_AUTH;
	set_limits(s);
	imap_session_watch_account(s, &s->sub, s->account);
	s->subscribed = 1;
}

void imap_session_free(struct imap_session *s)
{
	if (s->job || s->append || s->flushing)
		return; /* the job's completion, or imap_flush, frees us */
	if (s->subscribed)
		store_unsubscribe(imap_store, &s->sub);
	s->subscribed = 0;
	unwatch_view(s);
	imap_fetch_free(s);
	imap_search_abort(s);
	if (s->state == IMAP_S_SELECTED)
		imap_view_close(&s->view, imap_store);
	imap_view_free(&s->view);
	imap_searchres_clear(s);
	imap_context_clear(s);
	imap_notify_clear(s);
	imap_parser_clear(&s->parser);
	arena_free(&s->cmd_arena);
	buf_free(&s->pend);
	if (s->prev)
		s->prev->next = s->next;
	else if (loop_sessions == s)
		loop_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s->told.uids);
	sasl_login_end(&s->sasl);
	free(s);
	__atomic_sub_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
}

void imap_flush(struct imap_session *s)
{
	s->flushing++;
	conn_flush(s->conn);
	if (--s->flushing == 0 && s->conn_gone)
		imap_session_free(s);
}

/* ---- timers ---- */

static void idle_timeout(struct loop *loop, void *arg);

static void idle_rearm(struct imap_session *s)
{
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = loop_timer_add(s->loop, IMAP_AUTOLOGOUT_MS, idle_timeout, s);
}

/* 1 while a TLS handshake runs (IMAPS before the greeting, or after STARTTLS). */
static int handshaking(const struct imap_session *s)
{
	return s->conn->tls && !conn_tls_established(s->conn);
}

static void idle_timeout(struct loop *loop, void *arg)
{
	struct imap_session *s = arg;

	s->idle_timer = 0;
	if (handshaking(s)) {
		log_info("imap", s->id, "event=timeout kind=tls_handshake");
		conn_close(s->conn, "tls_handshake_timeout"); /* frees s */
		return;
	}
	if (s->wait == IMAP_W_AUTH || s->wait == IMAP_W_STORE) {
		idle_rearm(s); /* our side is working; it answers soon */
		return;
	}
	log_info("imap", s->id, "event=timeout kind=idle state=%d", s->state);
	/* In the middle of a literal a BYE line would be taken as content. */
	if (!s->fetch && buf_len(&s->pend) == 0)
		imap_reply(s, "* BYE Disconnected for inactivity.");
	imap_close_with(s, "idle_timeout");
	imap_flush(s);
}

/* ---- input ---- */

/* Sends prepared output while there is room; 1 when some is still waiting. */
static int send_pending(struct imap_session *s)
{
	while (buf_len(&s->pend) && !s->conn_gone && s->state != IMAP_S_LOGOUT) {
		size_t used = buf_len(&s->conn->out);
		if (used >= IMAP_OUT_HIGH)
			return 1;
		size_t n = IMAP_OUT_HIGH - used;
		if (n > buf_len(&s->pend))
			n = buf_len(&s->pend);
		write_conn(s, buf_data(&s->pend), n);
		buf_consume(&s->pend, n);
	}
	if (buf_len(&s->pend) == 0)
		buf_free(&s->pend); /* a big SEARCH result does not stay allocated */
	return buf_len(&s->pend) != 0;
}

static void parse_error(struct imap_session *s, int r)
{
	struct imap_parser *p = &s->parser;
	const char *msg = p->err_msg ? p->err_msg : imap_parse_strerror(r);
	int toobig = r == IMAP_PARSE_ERR_LINE_TOO_LONG || r == IMAP_PARSE_ERR_COMMAND_TOO_BIG ||
		     r == IMAP_PARSE_ERR_LITERAL_TOO_BIG || r == IMAP_PARSE_ERR_LITERAL_MINUS;
	char tag[IMAP_TAG_MAX + 1] = "*";

	if (p->cmd.tag.len && p->cmd.tag.len <= IMAP_TAG_MAX && r != IMAP_PARSE_ERR_TAG) {
		memcpy(tag, p->cmd.tag.p, p->cmd.tag.len);
		tag[p->cmd.tag.len] = '\0';
	}
	if (r == IMAP_PARSE_ERR_RESOURCES) {
		/* An environment error (no memory, disk): this session ends,
		 * with a temporary answer, and the server goes on. */
		imap_reply(s, "%s NO [UNAVAILABLE] %s", tag, msg);
		imap_reply(s, "* BYE Out of local resources, try again later.");
		log_error("imap", s->id, "event=literal_dropped reason=resources");
		imap_close_with(s, "resources");
		return;
	}
	/* A message literal past the parser's bound (a few times the
	 * APPENDLIMIT) is a message over the APPENDLIMIT: NO [TOOBIG], as
	 * literal_decision() answers one a little over it (RFC 7889; a
	 * CATENATE TEXT part answered BAD before). */
	int too_big_message = (r == IMAP_PARSE_ERR_LITERAL_TOO_BIG ||
			       r == IMAP_PARSE_ERR_COMMAND_TOO_BIG) &&
			      imap_cmd_carries_message(s);
	if (r == IMAP_PARSE_ERR_DESYNC || p->err_close) {
		/* A {N+} message too big even to skip (RFC 7888 §4 leaves the
		 * server to read it or close): the same NO [TOOBIG] as a {N}
		 * of that size, then the connection ends at once rather than
		 * reading gigabytes for nothing. */
		if (too_big_message)
			imap_reply(s, "%s " IMAP_NO_TOOBIG, tag);
		else
			imap_reply(s, "%s BAD %s%s", tag, toobig ? "[TOOBIG] " : "", msg);
		imap_reply(s, "* BYE Cannot resynchronise the command stream.");
		log_info("imap", s->id, "event=protocol_error error=%d", r);
		imap_close_with(s, "protocol_error");
		return;
	}
	s->append_bytes = 0;
	if (r == IMAP_PARSE_ERR_DISK_FULL) {
		/* As the store answers a small APPEND on a full disk. */
		imap_reply(s, "%s NO [OVERQUOTA] Not enough disk space on the server.", tag);
		log_info("imap", s->id, "event=literal_dropped reason=disk_full");
		imap_parser_next(p);
		arena_reset(s->cmd_arena);
		return;
	}
	if (too_big_message)
		imap_reply(s, "%s " IMAP_NO_TOOBIG, tag);
	else
		imap_reply(s, "%s BAD %s%s", tag, toobig ? "[TOOBIG] " : "", msg);
	imap_parser_next(p);
	arena_reset(s->cmd_arena);
	if (!too_big_message)
		imap_session_error(s);
}

int imap_cmd_carries_message(const struct imap_session *s)
{
	int id = s->parser.cmd.id;
	return (id == IMAP_CMD_APPEND || id == IMAP_CMD_REPLACE || id == IMAP_CMD_UID_REPLACE) &&
	       s->state != IMAP_S_NOT_AUTH;
}

/*
 * APPEND's message announced for a mailbox that is not there: 1 with
 * NO [TRYCREATE] (RFC 9051 §6.3.12; NONEXISTENT for a name CREATE would
 * refuse, imap_missing_target) in *no_r, as Dovecot answers before
 * "+", so the client creates it without sending the message twice. A
 * name that is no mailbox name, or a store error, is left to cmd_append.
 */
static int append_to_missing(struct imap_session *s, char *no, size_t nosz)
{
	const struct imap_arg *a = imap_parser_first_arg(&s->parser);
	char name[1024];
	struct imap_acl_target t;

	if (s->parser.cmd.id != IMAP_CMD_APPEND || !a ||
	    imap_mailbox_name_of(s, a, name, sizeof name) < 0)
		return 0;
	int r = imap_acl_resolve(imap_store, s->account, name, &t);
	/* A shared name (imap_acl.h) no CREATE makes: NONEXISTENT, also for
	 * a mailbox the user may not look up (RFC 4314 §6), as cmd_append. */
	if (t.shared && (r == STORE_ENOTFOUND || (r == STORE_OK && !(t.rights & STORE_ACL_L)))) {
		snprintf(no, nosz, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return 1;
	}
	if (r != STORE_ENOTFOUND)
		return 0;
	const char *text = imap_missing_target(name, no, nosz); /* as cmd_append */
	if (text != no)
		snprintf(no, nosz, "%s", text);
	return 1;
}

/* A literal announced: within budget, or refused before any "+". */
static void literal_decision(struct imap_session *s)
{
	struct imap_parser *p = &s->parser;
	uint64_t budget = s->state == IMAP_S_NOT_AUTH ? IMAP_LITERAL_PREAUTH : IMAP_LITERAL_MAX;
	const char *no = NULL;
	char missing[1100];

	if (imap_cmd_carries_message(s)) {
		/* The mailbox, APPENDLIMIT and quota, before "+" (RFC 7889,
		 * RFC 9208): no message sent for nothing. */
		if (append_to_missing(s, missing, sizeof missing))
			no = missing;
		else if (imap_append_literal_ok(s, p->cmd.literal.size, &no)) {
			if (!p->cmd.literal.nonsync)
				imap_write(s, "+ Ready for literal data\r\n", 26);
			imap_parser_literal_accept(p);
			return;
		}
	} else if (p->cmd.id == IMAP_CMD_SETMETADATA && s->state != IMAP_S_NOT_AUTH) {
		/* RFC 5464 §4.3: a value over the limit is refused before
		 * "+"; values may be literal8. */
		if (p->cmd.literal.size <= IMAP_METADATA_VALUE_MAX) {
			if (!p->cmd.literal.nonsync)
				imap_write(s, "+ Ready for literal data\r\n", 26);
			imap_parser_literal_accept(p);
			return;
		}
		_Static_assert(IMAP_METADATA_VALUE_MAX == 65536, "the text below says it");
		no = "NO [METADATA MAXSIZE 65536] Metadata value too long.";
	} else if (p->cmd.literal.size <= budget && !p->cmd.literal.binary) {
		if (!p->cmd.literal.nonsync)
			imap_write(s, "+ Ready for literal data\r\n", 26);
		imap_parser_literal_accept(p);
		return;
	}
	char tag[IMAP_TAG_MAX + 1];
	size_t n = p->cmd.tag.len <= IMAP_TAG_MAX ? p->cmd.tag.len : 0;
	memcpy(tag, p->cmd.tag.p, n);
	tag[n] = '\0';
	if (no)
		imap_reply(s, "%s %s", tag, no);
	else if (p->cmd.literal.binary)
		imap_reply(s, "%s BAD Binary literals are not accepted here.", tag);
	else
		imap_reply(s, "%s BAD [TOOBIG] Literal too large (at most %llu octets here).", tag,
			   (unsigned long long)budget);
	imap_parser_literal_refuse(p);
	imap_parser_next(p);
	arena_reset(s->cmd_arena);
	s->append_bytes = 0;
	if (!no)
		imap_session_error(s);
}

static void run_line(struct imap_session *s, struct str line)
{
	if (s->wait == IMAP_W_SASL)
		imap_sasl_line(s, line);
	else
		imap_idle_line(s, line);
}

void imap_session_input(struct imap_session *s)
{
	while (!s->conn_gone && s->state != IMAP_S_LOGOUT && s->wait != IMAP_W_AUTH &&
	       s->wait != IMAP_W_STORE) {
		struct buf *in = &s->conn->in;
		if (send_pending(s))
			return; /* resumed by session_drained */
		if (s->fetch) {
			imap_fetch_refill(s);
			if (s->fetch || buf_len(&s->pend))
				return;
			continue;
		}
		if (s->search)
			return; /* its next step comes from the loop (cmd_search.c) */
		/* After "OK Begin TLS", nothing is read until TLS is up: the
		 * conn drops the plaintext sent behind STARTTLS. */
		if (s->starttls_pending) {
			if (!s->conn->tls)
				return;
			s->starttls_pending = 0;
		}
		/* Stopping: a command half read (an APPEND's message on its
		 * way) is read to its end and runs first. */
		if (s->draining && s->wait == IMAP_W_NONE && !s->in_cmd &&
		    !imap_parser_mid_command(&s->parser)) {
			imap_reply(s, "* BYE Server shutting down.");
			imap_close_with(s, "shutdown");
			return;
		}
		if (buf_len(&s->conn->out) > IMAP_OUT_HIGH || buf_len(in) == 0)
			return;
		size_t consumed = 0;
		if (s->wait == IMAP_W_SASL || s->wait == IMAP_W_IDLE) {
			struct str line;
			int r = imap_parser_line(&s->parser, buf_data(in), buf_len(in), &consumed,
						 &line);
			if (r == IMAP_PARSE_LINE) {
				int secret = s->wait == IMAP_W_SASL;
				run_line(s, line);
				if (secret)
					buf_consume_wipe(in, consumed);
				else
					buf_consume(in, consumed);
				continue;
			}
			if (s->wait == IMAP_W_SASL)
				buf_consume_wipe(in, consumed);
			else
				buf_consume(in, consumed);
			if (r == IMAP_PARSE_MORE)
				return;
			imap_parser_next(&s->parser);
			s->wait = IMAP_W_NONE;
			imap_tagged(s, "BAD %s", imap_parse_strerror(r));
			imap_cmd_end(s);
			imap_session_error(s);
			continue;
		}
		int r = imap_parser_feed(&s->parser, buf_data(in), buf_len(in), &consumed);
		/* A LOGIN line carries a password: wipe what was parsed. */
		if (s->state == IMAP_S_NOT_AUTH)
			buf_consume_wipe(in, consumed);
		else
			buf_consume(in, consumed);
		switch (r) {
		case IMAP_PARSE_MORE:
			return;
		case IMAP_PARSE_LITERAL:
			literal_decision(s);
			continue;
		case IMAP_PARSE_COMMAND: {
			const struct imap_cmd *cmd = &s->parser.cmd;
			size_t n = cmd->tag.len <= IMAP_TAG_MAX ? cmd->tag.len : IMAP_TAG_MAX;
			memcpy(s->tag, cmd->tag.p, n);
			s->tag[n] = '\0';
			s->cmd_id = cmd->id;
			s->in_cmd = 1;
			s->append_bytes = 0;
			imap_dispatch(s, cmd);
			/* The tree stays in the arena until imap_cmd_end(). */
			imap_parser_next(&s->parser);
			if (s->wait == IMAP_W_NONE && !s->fetch && !s->search && s->in_cmd)
				imap_cmd_end(s);
			set_limits(s);
			continue;
		}
		case IMAP_PARSE_ERR_EMPTY_LINE:
			/* Some clients send a bare CRLF as a keepalive; Dovecot
			 * ignores it too. */
			imap_parser_next(&s->parser);
			arena_reset(s->cmd_arena);
			continue;
		default:
			parse_error(s, r);
			continue;
		}
	}
}

/*
 * Sends the greeting once the connection can carry it: at once in
 * plaintext, after the handshake on IMAPS. Returns 0 when the session may
 * go on, -1 when not yet.
 */
static int greet(struct imap_session *s)
{
	if (s->greeted)
		return 0;
	if (handshaking(s))
		return -1;
	s->greeted = 1;
	if (s->refused) {
		imap_reply(s, "* BYE [UNAVAILABLE] %s", s->refused);
		imap_close_with(s, "connection_limit");
		return -1;
	}
	idle_rearm(s);
	imap_reply(s, "* %s [CAPABILITY %s] tern ready.", s->state == IMAP_S_AUTH ? "PREAUTH" : "OK",
		   imap_capabilities(s));
	return 0;
}

static void session_data(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	if (greet(s) < 0)
		return;
	idle_rearm(s);
	imap_session_input(s);
}

static void session_drained(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	if (greet(s) < 0)
		return;
	/* A client that reads a long response is not idle. */
	if (s->fetch || buf_len(&s->pend))
		idle_rearm(s);
	/* A change the feed held back while the client did not read, told
	 * before any command of its behind it runs (DONE). */
	if (s->feed_pending && s->state != IMAP_S_LOGOUT) {
		/* Its sync may end the session (BYE) and close c: s and c
		 * are not touched after that. */
		s->flushing++;
		feed_changed(s);
		if (--s->flushing == 0 && s->conn_gone) {
			imap_session_free(s);
			return;
		}
		if (s->conn_gone)
			return;
	}
	if (s->fetch || buf_len(&s->pend) || buf_len(&c->in) > 0)
		imap_session_input(s);
}

static void session_closed(struct conn *c, void *arg, const char *reason)
{
	struct imap_session *s = arg;
	char q[IMAP_USER_MAX * 2 + 8];

	if (s->limited) /* a refused connection logged its one line */
		log_info("imap", s->id,
			 "event=disconnect reason=%s user=%s in=%llu out=%llu fetched=%u", reason,
			 s->login[0] ? log_q(s->login, q, sizeof(q)) : "-",
			 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
			 s->fetched);
	if (s->idle_timer)
		loop_timer_del(s->loop, s->idle_timer);
	s->idle_timer = 0;
	imap_auth_cancel(s);
	if (s->limited)
		limits_release(POOL_IMAP, c->peer_ip);
	s->limited = 0;
	s->conn_gone = 1;
	s->conn = NULL;
	imap_session_free(s);
}

void imap_server_accept(struct loop *loop, int fd, void *arg)
{
	accept_session(loop, fd, arg == IMAP_IMPLICIT_TLS, 0, NULL);
}

void imap_server_accept_preauth(struct loop *loop, int fd, uint32_t account, const char *login)
{
	accept_session(loop, fd, 0, account, login);
}

/* account != 0: PREAUTH as login (imap_server_accept_preauth). */
static void accept_session(struct loop *loop, int fd, int implicit, uint32_t account,
			   const char *login)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	uint64_t n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);

	snprintf(s->id, sizeof(s->id), "%012llx",
		 (unsigned long long)((session_base + n) & 0xffffffffffffull));
	s->loop = loop;
	s->conn = conn_new(loop, fd, implicit, IMAP_IN_MAX, IMAP_OUT_MAX, &imap_conn_ops, s);
	if (!s->conn) {
		free(s);
		return;
	}
	s->cmd_arena = arena_new(0);
	imap_parser_init(&s->parser, s->cmd_arena, NULL);
	s->parser.peer = s->conn->peer_ip; /* the conn outlives the parser */
	set_limits(s);
	/* Prepared output is bounded by the largest SEARCH answer we make. */
	buf_init(&s->pend, IMAP_PEND_MAX);
	__atomic_add_fetch(&sessions_alive, 1, __ATOMIC_SEQ_CST);
	s->next = loop_sessions;
	if (loop_sessions)
		loop_sessions->prev = s;
	loop_sessions = s;
	metrics_inc(METRIC_CONN_IMAP);
	int lim = limits_acquire(POOL_IMAP, s->conn->peer_ip);
	if (lim < 0 || loop_draining) {
		const char *why = loop_draining ? "shutdown"
				  : lim == -2   ? "per_ip_limit"
						: "connection_limit";
		s->refused = loop_draining ? "Server shutting down."
			     : lim == -2   ? "Too many connections from your address."
					   : "Too many connections.";
		/* One line at most (limits.h); no connect or disconnect line. */
		limits_log_refused(POOL_IMAP, "imap", s->id, s->conn->peer_ip, s->conn->peer_port,
				   why);
		if (implicit) {
			/* Closed at once, as port 465 and HTTPS do: saying BYE
			 * takes a handshake, and a connection that holds no slot
			 * must not wait for one (up to the handshake timeout,
			 * any number of them from one address). */
			conn_close(s->conn, "connection_limit"); /* frees s */
			return;
		}
	} else {
		log_info("imap", s->id, "event=connect peer=%s port=%u tls=%s", s->conn->peer_ip,
			 s->conn->peer_port, implicit ? "implicit" : "no");
		s->limited = 1;
		/* Until LOGIN/AUTHENTICATE succeeds, whatever the client does. */
		conn_deadline(s->conn, (uint64_t)imap_cfg->login_timeout_s * 1000,
			      "* BYE Login timeout.\r\n", "login_timeout");
	}
	if (implicit) /* greeted after the handshake, which the conn bounds */
		return;
	if (account) {
		s->account = account;
		snprintf(s->login, sizeof(s->login), "%s", login);
		imap_session_logged_in(s);
	}
	greet(s);
	conn_flush(s->conn); /* last use of s: a refused session may be gone */
}

void imap_server_drain(void)
{
	loop_draining = 1;
	for (struct imap_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		s->draining = 1;
		if (s->conn_gone || s->state == IMAP_S_LOGOUT)
			continue;
		if (handshaking(s)) {
			conn_close(s->conn, "shutdown"); /* nothing can be said yet */
			continue;
		}
		/* Mid-command (a FETCH streaming, a password check): it ends
		 * first and imap_session_input closes at the next command. An
		 * idling client is told at once (RFC 9051 allows BYE any time). */
		if (s->wait == IMAP_W_AUTH || s->wait == IMAP_W_STORE || s->fetch ||
		    buf_len(&s->pend) || imap_parser_mid_command(&s->parser) ||
		    (s->in_cmd && s->wait != IMAP_W_IDLE))
			continue;
		imap_reply(s, "* BYE Server shutting down.");
		imap_close_with(s, "shutdown");
		conn_flush(s->conn);
	}
}

void imap_server_close_all(void)
{
	for (struct imap_session *s = loop_sessions, *n; s; s = n) {
		n = s->next;
		if (!s->conn_gone)
			conn_close(s->conn, "shutdown");
	}
}
