/*
 * jmap_mailbox.c — Mailbox/get (RFC 8621 §2). Mailbox/changes is in
 * jmap_mailbox_changes.c, /set in jmap_mailbox_set.c.
 *
 * Names: a JMAP mailbox has its own name and a parentId; the store keeps
 * IMAP's full names with "/" between levels, so name is the last level.
 * sortOrder is the store's (0 unless a client set one; IMAP has none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

static const char *const props[] = {
    "id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails",
    "totalThreads", "unreadThreads", "myRights", "isSubscribed", "shareWith",
};
#define NPROPS (sizeof props / sizeof props[0])

/* 1 when rights hold every bit of need. */
static int has(uint32_t rights, uint32_t need)
{
	return (rights & need) == need;
}

/*
 * RFC 8621 §2's table of IMAP rights: mayReadItems "lr", mayRemoveItems
 * "te" (both required), maySetSeen "s", maySetKeywords "w", mayAddItems
 * "i", mayCreateChild "k", mayRename and mayDelete "x", maySubmit "p";
 * RFC 9670 §4's mayShare "a".
 * The inbox is never renamed nor deleted, whoever asks.
 */
void jmap_mailbox_w_rights(struct jw *w, const struct jmap_mailbox *b)
{
	int inbox = strcmp(b->role, "inbox") == 0;
	uint32_t r = b->rights;

	jw_obj_begin(w);
	jw_kbool(w, "mayReadItems", has(r, STORE_ACL_L | STORE_ACL_R));
	jw_kbool(w, "mayAddItems", has(r, STORE_ACL_I));
	jw_kbool(w, "mayRemoveItems", has(r, STORE_ACL_T | STORE_ACL_E));
	jw_kbool(w, "maySetSeen", has(r, STORE_ACL_S));
	jw_kbool(w, "maySetKeywords", has(r, STORE_ACL_W));
	jw_kbool(w, "mayCreateChild", has(r, STORE_ACL_K));
	jw_kbool(w, "mayRename", !inbox && has(r, STORE_ACL_X));
	jw_kbool(w, "mayDelete", !inbox && has(r, STORE_ACL_X));
	jw_kbool(w, "maySubmit", has(r, STORE_ACL_P));
	jw_kbool(w, "mayShare", has(r, STORE_ACL_A)); /* RFC 9670 §4 */
	jw_obj_end(w);
}

static void write_mailbox(struct jw *w, const struct jmap_mailbox *b, unsigned want)
{
	jw_obj_begin(w);
	for (size_t p = 0; p < NPROPS; p++) {
		if (!(want & (1u << p)))
			continue;
		jw_key(w, props[p]);
		switch (p) {
		case 0: jmap_w_id(w, 'M', b->id); break;
		case 1: jw_str(w, b->leaf); break;
		case 2:
			if (b->parent)
				jmap_w_id(w, 'M', b->parent);
			else
				jw_null(w);
			break;
		case 3:
			if (b->role[0])
				jw_str(w, b->role);
			else
				jw_null(w);
			break;
		case 4: jw_uint(w, b->sort_order); break;
		case 5: jw_uint(w, b->total); break;
		case 6: jw_uint(w, b->unread); break;
		case 7: jw_uint(w, b->threads); break;
		case 8: jw_uint(w, b->unread_threads); break;
		case 9: jmap_mailbox_w_rights(w, b); break;
		case 10: jw_bool(w, b->subscribed); break;
		case 11: jmap_mailbox_w_share_with(w, b); break;
		}
	}
	jw_obj_end(w);
}

const struct json_value *jmap_mailbox_json(struct arena *a, const struct jmap_mailbox *b)
{
	struct buf buf;
	struct jw w;

	buf_init(&buf, 64 * 1024);
	jw_init(&w, &buf);
	write_mailbox(&w, b, (1u << NPROPS) - 1);
	const struct json_value *v = jmap_json_of(a, &w, &buf);
	buf_free(&buf);
	return v;
}

/* The properties argument as a bit set (id always); -1 with the error set. */
static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int mb_found(void *arg, const char *id)
{
	return jmap_mailbox_by_id(arg, jmap_id_num(id, 'M')) != NULL;
}

void jmap_mailbox_get(struct jmap_call *c)
{
	struct jmap_mailboxes m;
	char state[24];
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, props, NPROPS, &g) < 0)
		return;
	unsigned want = jmap_get_mask(&g, props, NPROPS);
	/* The state first: a change between it and the read shows again. */
	if (jmap_state(c, state) < 0)
		return;
	if (jmap_mailboxes_view(c->r, &m) < 0 ||
	    ((want & (1u << 11)) && jmap_mailbox_share_load(c->r, &m) < 0)) {
		jmap_error(c, "serverFail", "the store could not be read");
		return;
	}
	/* ids null lists every mailbox, past maxObjectsInGet too: clients
	 * learn the folder tree from this one call (RFC 8621 §2 has no
	 * other way), and an account may hold TERN_MAX_MAILBOXES (1,000 by
	 * default) of them. Still bounded: the store refuses mailboxes past
	 * that setting (65,535 at most), all of them are loaded above for
	 * explicit ids anyway, and the answer is held to the request's
	 * response budget (jmap_api.c). */
	jmap_get_list(c, state);
	if (!g.ids)
		for (size_t i = 0; i < m.n; i++)
			write_mailbox(&c->w, &m.v[i], want);
	for (const struct json_value *e = g.ids ? g.ids->first : NULL; e; e = e->next) {
		struct jmap_mailbox *b = jmap_mailbox_by_id(&m, jmap_id_num(e->str, 'M'));
		if (b)
			write_mailbox(&c->w, b, want);
	}
	jmap_get_end(c, &g, mb_found, &m);
}
