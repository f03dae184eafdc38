/*
 * imap_progress.c — INPROGRESS (RFC 9585): how a long command tells the
 * client how far it got, "* OK [INPROGRESS ("tag" done total)] Text.".
 *
 * One reporter for every command that reports: SEARCH, SORT and THREAD,
 * which go in steps on the loop (cmd_search.c), and COPY and MOVE, whose
 * one store transaction runs on the writer thread while a loop timer
 * reads how far it got (cmd_copy.c). Each passes its own struct
 * imap_progress; the first report goes out when asked for (so a client
 * and a test know when to expect it), later ones at most every
 * IMAP_PROGRESS_MS.
 */
#include "core/loop.h"
#include "imap/imap_session.h"

void imap_progress(struct imap_session *s, struct imap_progress *p, uint64_t done, uint64_t total)
{
	uint64_t now = loop_now_ms();

	if (s->conn_gone || (p->last_ms && now - p->last_ms < IMAP_PROGRESS_MS))
		return;
	imap_reply(s, "* OK [INPROGRESS (\"%s\" %llu %llu)] %s.", s->tag, (unsigned long long)done,
		   (unsigned long long)total, p->what);
	p->last_ms = now ? now : 1;
}
