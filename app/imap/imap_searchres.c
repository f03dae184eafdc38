/*
 * imap_searchres.c — the saved search result of SEARCHRES (RFC 5182) and
 * the one place where a command's sequence set is parsed, so that "$"
 * means the same thing in SEARCH, FETCH, STORE, COPY, MOVE and the rest.
 *
 * The result is kept as UIDs, not sequence numbers: RFC 5182 §2.1 says
 * expunged messages leave the saved result, and a UID that is no longer
 * in the view simply maps to nothing, so EXPUNGE needs no bookkeeping
 * here. Sequence numbers are computed when "$" is used, against the view
 * the client sees at that moment.
 *
 * SAVELIMIT (RFC 9738; built from its abstract and the MESSAGELIMIT
 * conventions here, the RFC's full text was not at hand): "$" holds at
 * most imap_save_limit() UIDs, advertised as SAVELIMIT=n. A result over
 * it keeps its highest UIDs, and "* OK [SAVELIMIT n uid]" (uid: the
 * lowest kept) goes out before the command's tagged reply, which may
 * carry a code of its own (MESSAGELIMIT).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_session.h"

void imap_searchres_clear(struct imap_session *s)
{
	free(s->saved_uids);
	s->saved_uids = NULL;
	s->saved_n = 0;
}

void imap_searchres_save(struct imap_session *s, const uint32_t *uids, size_t n)
{
	size_t lim = imap_save_limit();

	imap_searchres_clear(s);
	if (n == 0)
		return;
	if (n > lim) {
		/* SAVELIMIT: the highest UIDs, as MESSAGELIMIT keeps them;
		 * the client learns which is the lowest one kept. */
		uids += n - lim;
		n = lim;
		imap_reply(s, "* OK [SAVELIMIT %zu %u] Only the %zu highest UIDs were saved.", lim,
			   uids[0], lim);
	}
	s->saved_uids = xmalloc(n * sizeof(*uids));
	memcpy(s->saved_uids, uids, n * sizeof(*uids));
	s->saved_n = n;
}

int imap_set_parse(struct imap_session *s, struct str text, int uid, struct imap_seqset *set_r)
{
	uint32_t max = uid ? imap_view_last_uid(&s->view) : s->view.count;
	int r = imap_seqset_parse(text, max, IMAP_MAX_RANGES, s->cmd_arena, set_r);

	if (r != IMAP_SEQSET_OK || !set_r->saved)
		return r;
	/* "$": the saved messages still in the view, in the command's terms. */
	uint32_t *v = arena_alloc(s->cmd_arena, (s->saved_n ? s->saved_n : 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < s->saved_n; i++) {
		uint32_t seq = imap_view_seq(&s->view, s->saved_uids[i]);
		if (seq)
			v[n++] = uid ? s->saved_uids[i] : seq;
	}
	/* UIDs ascend in the view, so their sequence numbers do too. */
	imap_seqset_from_sorted(v, n, s->cmd_arena, set_r);
	return IMAP_SEQSET_OK;
}
