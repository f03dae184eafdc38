/*
 * cmd_fetch.c — FETCH and UID FETCH: argument checks and the item list
 * (RFC 3501 §6.4.5). The output is streamed by imap_fetch.c.
 *
 * Served: UID, FLAGS (always empty: no flags are stored yet),
 * INTERNALDATE, RFC822.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT,
 * ENVELOPE, BODYSTRUCTURE, BODY, BODY[] and BODY.PEEK[] with part numbers,
 * HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME and <partial>,
 * BINARY[], BINARY.PEEK[] and BINARY.SIZE[] (RFC 3516), and the macros
 * FAST, ALL and FULL, EMAILID and THREADID (OBJECTID, RFC 8474), SAVEDATE
 * (RFC 8514), PREVIEW and PREVIEW (LAZY) (RFC 8970). A body item without
 * .PEEK on a read-write mailbox stores \Seen first (imap_fetch_mark_seen(),
 * imap_job.c). The PARTIAL modifier (RFC 9394 §3.2) narrows the set to
 * positions among the messages it selects. MODSEQ and the (CHANGEDSINCE n [VANISHED]) modifiers of
 * RFC 7162. Room is kept past
 * FETCH_MAX_ITEMS for the items added implicitly (MODSEQ of CHANGEDSINCE,
 * FLAGS, MODSEQ and UID of the implicit \Seen, imap_job.c).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_seqset.h"
#include "imap/imap_esearch.h"
#include "imap/imap_session.h"

#define FETCH_MAX_ITEMS (IMAP_FETCH_ITEMS_ROOM - 4)
#define FETCH_NAME_MAX 4096

static int bad(struct imap_session *s, const char *why)
{
	/* NOTIFY's MessageNew fetch attributes are checked here too. */
	imap_tagged(s, "BAD Error in IMAP command %s: %s",
		    s->cmd_id == IMAP_CMD_NOTIFY ? "NOTIFY" : "FETCH", why);
	imap_session_error(s);
	return -1;
}

/* A HEADER.FIELDS name in the response: an atom in capitals when it is
 * one, as the section spec is written and as Dovecot answers (clients
 * match the item they asked for), else a quoted string. */
static void append_field_name(struct buf *b, struct str f)
{
	int atom = f.len > 0;
	for (size_t i = 0; i < f.len && atom; i++) {
		unsigned char c = (unsigned char)f.p[i];
		atom = c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
	}
	if (!atom) {
		imap_append_string(b, f);
		return;
	}
	for (size_t i = 0; i < f.len; i++) {
		char c = (char)toupper((unsigned char)f.p[i]);
		buf_append(b, &c, 1);
	}
}

/* The response name of a section: "BODY[" SPEC [" (" fields ")"] "]" ["<" off ">"],
 * or "BINARY[" / "BINARY.SIZE[" with part numbers. */
static const char *section_name(struct imap_session *s, const struct imap_section *sec)
{
	struct buf b;
	buf_init(&b, FETCH_NAME_MAX);
	buf_append_c(&b, sec->att == IMAP_FETCH_BINARY_SIZE ? "BINARY.SIZE["
			 : sec->att == IMAP_FETCH_BINARY || sec->att == IMAP_FETCH_BINARY_PEEK
			     ? "BINARY["
			     : "BODY[");
	for (size_t i = 0; i < sec->spec.len; i++) {
		char c = (char)toupper((unsigned char)sec->spec.p[i]);
		buf_append(&b, &c, 1);
	}
	if (sec->fields) {
		buf_append_c(&b, " (");
		for (size_t i = 0; i < sec->nfields; i++) {
			struct str f;
			if (imap_arg_astring(&sec->fields[i], &f) < 0)
				continue;
			if (i)
				buf_append_c(&b, " ");
			append_field_name(&b, f);
		}
		buf_append_c(&b, ")");
	}
	buf_append_c(&b, "]");
	if (sec->partial)
		buf_printf(&b, "<%llu>", (unsigned long long)sec->offset);
	if (buf_len(&b) >= FETCH_NAME_MAX - 1) {
		buf_free(&b);
		return NULL;
	}
	const char *r = str_dup(s->cmd_arena, buf_str(&b));
	buf_free(&b);
	return r;
}

static int add_item(struct imap_session *s, struct imap_fetch *f, const struct imap_arg *a)
{
	struct imap_fetch_item it = { 0 };

	if (f->nitems >= FETCH_MAX_ITEMS)
		return bad(s, "Too many fetch items.");
	if (a->type == IMAP_ARG_SECTION) {
		const struct imap_section *sec = a->section;
		it.kind = sec->att == IMAP_FETCH_BINARY_SIZE ? IMAP_FI_BINARY_SIZE
			  : sec->att == IMAP_FETCH_BINARY || sec->att == IMAP_FETCH_BINARY_PEEK
			      ? IMAP_FI_BINARY
			      : IMAP_FI_BODY;
		it.text = sec->text;
		it.fields = sec->fields;
		it.part = sec->part;
		it.nparts = sec->nparts;
		if (sec->nparts || sec->text == IMAP_SECTION_MIME || it.kind != IMAP_FI_BODY)
			f->need_tree = 1;
		it.partial = sec->partial;
		it.offset = sec->offset;
		it.length = sec->length;
		it.name = section_name(s, sec);
		if (!it.name)
			return bad(s, "Header list too long.");
		f->need_raw = 1;
	} else if (imap_arg_atom_is(a, "UID")) {
		it.kind = IMAP_FI_UID;
		it.name = "UID";
	} else if (imap_arg_atom_is(a, "FLAGS")) {
		it.kind = IMAP_FI_FLAGS;
		it.name = "FLAGS";
	} else if (imap_arg_atom_is(a, "INTERNALDATE")) {
		it.kind = IMAP_FI_INTERNALDATE;
		it.name = "INTERNALDATE";
	} else if (imap_arg_atom_is(a, "RFC822.SIZE")) {
		it.kind = IMAP_FI_RFC822_SIZE;
		it.name = "RFC822.SIZE";
		f->has_size = 1;
	} else if (imap_arg_atom_is(a, "RFC822")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_BODY, .name = "RFC822" };
		f->need_raw = 1;
	} else if (imap_arg_atom_is(a, "RFC822.HEADER")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_BODY, .name = "RFC822.HEADER",
					       .text = IMAP_SECTION_HEADER };
		f->need_raw = 1;
	} else if (imap_arg_atom_is(a, "RFC822.TEXT")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_BODY, .name = "RFC822.TEXT",
					       .text = IMAP_SECTION_TEXT };
		f->need_raw = 1;
	} else if (imap_arg_atom_is(a, "ENVELOPE") || imap_arg_atom_is(a, "BODYSTRUCTURE") ||
		   imap_arg_atom_is(a, "BODY")) {
		it.kind = imap_arg_atom_is(a, "ENVELOPE")	 ? IMAP_FI_ENVELOPE
			  : imap_arg_atom_is(a, "BODYSTRUCTURE") ? IMAP_FI_BODYSTRUCTURE
								 : IMAP_FI_BODY_STRUCT;
		it.name = it.kind == IMAP_FI_ENVELOPE	     ? "ENVELOPE"
			  : it.kind == IMAP_FI_BODYSTRUCTURE ? "BODYSTRUCTURE"
							     : "BODY";
		f->need_raw = 1;
		f->need_tree = 1;
	} else if (imap_arg_atom_is(a, "MODSEQ")) {
		imap_session_condstore(s); /* RFC 7162 §3.1: using it enables it */
		if (!f->has_modseq) {
			it.kind = IMAP_FI_MODSEQ;
			it.name = "MODSEQ";
			f->has_modseq = 1;
		} else {
			return 0;
		}
	} else if (imap_arg_atom_is(a, "EMAILID")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_EMAILID, .name = "EMAILID" };
	} else if (imap_arg_atom_is(a, "THREADID")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_THREADID, .name = "THREADID" };
	} else if (imap_arg_atom_is(a, "SAVEDATE")) {
		it = (struct imap_fetch_item){ .kind = IMAP_FI_SAVEDATE, .name = "SAVEDATE" };
	} else if (imap_arg_atom_is(a, "PREVIEW")) {
		/* Computed from the first text part (mime_preview.h); LAZY
		 * changes nothing: it is always cheap enough to send. */
		it = (struct imap_fetch_item){ .kind = IMAP_FI_PREVIEW, .name = "PREVIEW" };
		f->need_raw = 1;
		f->need_tree = 1;
	} else {
		return bad(s, "Unknown fetch item.");
	}
	/* An item asked for twice is answered once, as Dovecot answers UID,
	 * FLAGS and the like (clients and imaptest expect one of each). By
	 * its response name: BODY[1] and BODY.PEEK[1] are the one item
	 * BODY[1] (Dovecot sends such a section's octets twice). A partial's
	 * name holds only its offset: the length tells BODY[1]<0.10> from
	 * BODY[1]<0.5>, both answered. */
	for (size_t i = 0; i < f->nitems; i++)
		if (!strcmp(f->items[i].name, it.name) && f->items[i].length == it.length)
			return 0;
	f->items[f->nitems++] = it;
	return 0;
}

/* (CHANGEDSINCE n [VANISHED]) of RFC 7162 §3.1.4 and §3.2.6, and
 * (PARTIAL range) of RFC 9394 §3.2 (partial->lo 0: none given).
 * CHANGEDSINCE 0 is accepted as Dovecot does: every modseq is above 0,
 * so it selects every message and still implies MODSEQ; *has_since
 * says it was given. */
static int fetch_modifiers(const struct imap_arg *a, uint64_t *since,
			   int *has_since, int *vanished, struct imap_partial *partial)
{
	const struct imap_arg *l;
	size_t n;

	if (imap_arg_list(a, &l, &n) < 0 || n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* A modifier given twice is a BAD (RFC 4466 §2.4: each
		 * fetch-modifier names one thing), as the PARTIAL test below. */
		if (imap_arg_atom_is(&l[i], "CHANGEDSINCE") && i + 1 < n && !*has_since &&
		    imap_arg_number64(&l[i + 1], since) == 0) {
			*has_since = 1;
			i++;
		} else if (imap_arg_atom_is(&l[i], "VANISHED") && !*vanished) {
			*vanished = 1;
		} else if (imap_arg_atom_is(&l[i], "PARTIAL") && i + 1 < n && !partial->lo) {
			struct str w;
			if (imap_arg_atom(&l[++i], &w) < 0 || imap_partial_parse(w, partial) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/*
 * PARTIAL: of the messages the set (and CHANGEDSINCE) selects, in UID
 * order, only those at the range's positions; f->set becomes them.
 */
static void fetch_partial(struct imap_session *s, struct imap_fetch *f, int uid,
			  const struct imap_partial *p)
{
	const struct imap_mailbox_view *v = &s->view;
	uint32_t *sel = xmalloc(((size_t)v->count + 1) * sizeof(*sel));
	size_t n = 0, from, to;

	for (uint32_t i = 0; i < v->count; i++) {
		uint32_t key = uid ? v->msgs[i].uid : i + 1;
		if (!imap_seqset_contains(&f->set, key) ||
		    (f->changedsince && v->msgs[i].modseq <= f->changedsince))
			continue;
		sel[n++] = key;
	}
	imap_partial_window(p, n, &from, &to);
	imap_seqset_from_sorted(sel + from, to - from, s->cmd_arena, &f->set);
	free(sel);
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): the UIDs of set expunged since m. */
static void fetch_vanished(struct imap_session *s, const struct imap_seqset *set, uint64_t since)
{
	uint32_t *gone;
	size_t n, w = 0;

	if (store_mailbox_vanished(imap_store, s->view.account, s->view.mailbox, since, &gone, &n) !=
	    STORE_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (imap_seqset_contains(set, gone[i]))
			gone[w++] = gone[i];
	imap_write_vanished_earlier(s, gone, w);
	free(gone);
}

int imap_fetch_items(struct imap_session *s, struct imap_fetch *f, const struct imap_arg *a,
		     int uid)
{
	const struct imap_arg *list = a;
	size_t n = 1;

	if (a->type == IMAP_ARG_LIST) {
		imap_arg_list(a, &list, &n);
		if (n == 0)
			return bad(s, "Empty fetch item list.");
	} else if (imap_arg_atom_is(a, "FAST") || imap_arg_atom_is(a, "ALL") ||
		   imap_arg_atom_is(a, "FULL")) {
		/* The macros (RFC 9051 §6.4.5): FAST's three, ALL's four, FULL's five. */
		static const char *const all[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
						   "BODY" };
		size_t k = imap_arg_atom_is(a, "FAST") ? 3 : imap_arg_atom_is(a, "ALL") ? 4 : 5;
		for (size_t i = 0; i < k; i++) {
			struct imap_arg fa = { .type = IMAP_ARG_ATOM, .str = str_c(all[i]) };
			add_item(s, f, &fa);
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (uid && !s->uidonly && imap_arg_atom_is(&list[i], "UID"))
			continue;
		if (add_item(s, f, &list[i]) < 0)
			return -1;
		if (imap_arg_atom_is(&list[i], "PREVIEW") && i + 1 < n &&
		    list[i + 1].type == IMAP_ARG_LIST) {
			/* RFC 8970: PREVIEW (LAZY) */
			const struct imap_arg *ml;
			size_t mn;
			imap_arg_list(&list[++i], &ml, &mn);
			for (size_t k = 0; k < mn; k++)
				if (!imap_arg_atom_is(&ml[k], "LAZY"))
					return bad(s, "Unknown PREVIEW modifier.");
		}
	}
	return 0;
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	int uid = cmd->id == IMAP_CMD_UID_FETCH;
	struct str set;
	uint64_t changedsince = 0;
	int has_since = 0, vanished = 0;
	struct imap_partial partial = { 0 };

	if ((cmd->nargs != 2 && cmd->nargs != 3) || imap_arg_atom(&cmd->args[0], &set) < 0 ||
	    !(cmd->args[0].flags & IMAP_ARGF_SEQSET) ||
	    (cmd->nargs == 3 && fetch_modifiers(&cmd->args[2], &changedsince, &has_since, &vanished,
						  &partial) < 0)) {
		bad(s, "Invalid arguments.");
		return;
	}
	if (vanished && (!uid || !s->qresync || !has_since)) {
		bad(s, "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE.");
		return;
	}
	/* Only a command that is run turns CONDSTORE on (RFC 7162 §3.1). */
	if (has_since)
		imap_session_condstore(s);
	struct imap_fetch *f = xcalloc(1, sizeof(*f));
	f->changedsince = changedsince;
	f->uid_mode = uid;
	f->lit = -1;
	f->items = arena_zalloc(s->cmd_arena, (FETCH_MAX_ITEMS + 4) * sizeof(*f->items));
	if (imap_set_parse(s, set, uid, &f->set) != IMAP_SEQSET_OK) {
		free(f);
		bad(s, "Invalid messageset.");
		return;
	}
	/* RFC 9051 §6.4.5: a sequence number past the end (or "*" in an
	 * empty mailbox) is an error; UIDs that do not exist are not. */
	if (!uid && (imap_seqset_last(&f->set) > s->view.count || (f->set.star && !s->view.count))) {
		free(f);
		bad(s, "Invalid messageset.");
		return;
	}
	struct imap_seqset whole = f->set; /* VANISHED reports on all of it */
	if (partial.lo)
		fetch_partial(s, f, uid, &partial);
	if (s->view.count > imap_message_limit()) { /* else nothing to count */
		size_t nmsgs;
		uint32_t *uids = imap_set_uids(s, &f->set, uid, &nmsgs);
		imap_limit_uids(s, uids, &nmsgs);
		f->min_uid = s->msglimit_uid;
		free(uids);
	}
	/* UID FETCH always reports the UID, first as Dovecot does; under
	 * UIDONLY the UIDFETCH response carries it already (RFC 9586). */
	if (uid && !s->uidonly)
		f->items[f->nitems++] = (struct imap_fetch_item){ .kind = IMAP_FI_UID, .name = "UID" };

	if (imap_fetch_items(s, f, &cmd->args[1], uid) < 0) {
		free(f);
		return;
	}
	const struct imap_arg *list = NULL;
	size_t n = 0;
	if (cmd->args[1].type == IMAP_ARG_LIST)
		imap_arg_list(&cmd->args[1], &list, &n);
	else
		list = &cmd->args[1], n = 1;
	if (has_since) {
		/* CHANGEDSINCE implies MODSEQ (RFC 7162 §3.1.4.1); room is kept. */
		if (!f->has_modseq)
			f->items[f->nitems++] = (struct imap_fetch_item){ .kind = IMAP_FI_MODSEQ,
									  .name = "MODSEQ" };
		f->has_modseq = 1;
		if (vanished)
			fetch_vanished(s, &whole, changedsince);
	}
	if (imap_fetch_sets_seen(list, n))
		imap_fetch_mark_seen(s, f); /* stores \Seen, then starts f */
	else
		imap_fetch_start(s, f);
}
