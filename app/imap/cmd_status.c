/*
 * cmd_status.c — STATUS (RFC 3501 §6.3.10, STATUS=SIZE RFC 8438).
 *
 * Items: MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, RECENT, SIZE, DELETED,
 * MAILBOXID (OBJECTID, RFC 8474), APPENDLIMIT (RFC 7889 §3: the largest
 * APPEND the mailbox takes, the same for every mailbox here),
 * DELETED-STORAGE (RFC 9208: what EXPUNGE would give back, in units
 * of 1024 octets as the STORAGE resource, rounded up as its usage; a
 * server with QUOTA=RES-STORAGE must know it: the stored octets of the
 * \Deleted messages whose email goes with the expunge, i.e. whose every
 * membership is \Deleted here; an email another mailbox still holds (JMAP
 * mailboxIds, or an IMAP COPY made by a build before copies were emails
 * of their own: one email, counted once in the quota) frees nothing).
 * UNSEEN and DELETED count the messages without $seen / with \Deleted;
 * RECENT counts the messages no SELECT has claimed yet (RFC 3501 §2.3.2,
 * store_mailbox_claim_recent_async()) and, for the mailbox this session
 * has selected, those it claimed (once each: EXAMINE shows unclaimed ones).
 * SIZE sums RFC822.SIZE as FETCH gives it to this session (RFC 8438 §1):
 * the stored octets, but for a session without UTF-8 each message whose
 * header has UTF-8 fields at its downgraded size (imap_downgrade.h), read
 * and measured once (rare: the MIME record rules out nearly all), then
 * kept (imap_dg_cache.h).
 *
 * A mailbox shared with the user (imap_acl.h) needs "r" (RFC 4314 §4);
 * its counts are the owner's mailbox's, read from the owner's records.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"
#include "mime/mime_cache.h"

enum { ST_MESSAGES = 1, ST_UIDNEXT = 2, ST_UIDVALIDITY = 4, ST_UNSEEN = 8, ST_RECENT = 16,
       ST_SIZE = 32, ST_DELETED = 64 };
enum { ST_HIGHESTMODSEQ = 128 }; /* CONDSTORE (RFC 7162 §3.1.9) */
enum { ST_MAILBOXID = 256 };     /* OBJECTID (RFC 8474) */
enum { ST_APPENDLIMIT = 512 };   /* APPENDLIMIT (RFC 7889) */
enum { ST_DELETED_STORAGE = 1024 }; /* QUOTA=RES-STORAGE (RFC 9208) */

static const struct {
	const char *name;
	unsigned bit;
} items[] = {
	{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT }, { "UIDVALIDITY", ST_UIDVALIDITY },
	{ "UNSEEN", ST_UNSEEN },     { "RECENT", ST_RECENT },   { "SIZE", ST_SIZE },
	{ "DELETED", ST_DELETED },
	{ "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
	{ "MAILBOXID", ST_MAILBOXID },
	{ "APPENDLIMIT", ST_APPENDLIMIT },
	{ "DELETED-STORAGE", ST_DELETED_STORAGE },
};

struct status_ctx {
	uint32_t mailbox;
	int found;
	struct store_mailbox_info info;
	uint64_t size, deleted_size;
	uint32_t counted, unseen, deleted, recent;
	/* SIZE for a session without UTF-8: the emails whose header may
	 * have UTF-8 fields (their MIME record says so, or cannot tell). */
	int ascii;
	uint32_t *dg;
	size_t ndg, capdg;
	/* \Deleted memberships here of emails with several memberships:
	 * their bytes are freed only if all of them are here. */
	struct shared_del {
		uint32_t email_id;
		uint16_t nmembers;
		uint64_t size;
	} *shared;
	size_t nshared, capshared;
};

static int shared_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct shared_del *)a)->email_id;
	uint32_t y = ((const struct shared_del *)b)->email_id;
	return x < y ? -1 : x > y;
}

/* The bytes of the shared emails whose memberships are all \Deleted here. */
static uint64_t shared_freed(struct status_ctx *c)
{
	uint64_t freed = 0;
	if (c->nshared == 0)
		return 0; /* qsort takes no NULL */
	qsort(c->shared, c->nshared, sizeof(c->shared[0]), shared_cmp);
	for (size_t i = 0; i < c->nshared;) {
		size_t j = i;
		while (j < c->nshared && c->shared[j].email_id == c->shared[i].email_id)
			j++;
		if (j - i >= c->shared[i].nmembers)
			freed += c->shared[i].size;
		i = j;
	}
	return freed;
}

static void mailbox_cb(void *arg, const struct store_mailbox_info *info)
{
	struct status_ctx *c = arg;
	if (info->id != c->mailbox)
		return;
	c->info = *info;
	c->info.name = NULL; /* not valid after the callback */
	c->info.role = NULL;
	c->found = 1;
}

static void email_cb(void *arg, const struct store_email_info *info)
{
	struct status_ctx *c = arg;
	c->size += info->size;
	c->counted++;
	/* A session without UTF-8 gets these at their downgraded size
	 * (imap_downgrade.h), worked out after the walk: rare, each read. */
	if (c->ascii && mime_cache_header_utf8(info->meta, info->metalen, info->size) != 0) {
		if (c->ndg == c->capdg) {
			c->capdg = c->capdg ? c->capdg * 2 : 16;
			c->dg = xrealloc(c->dg, c->capdg * sizeof(c->dg[0]));
		}
		c->dg[c->ndg++] = info->email_id;
	}
	struct str kw = str_make(info->keywords, info->keywords_len);
	int seen = 0;
	for (size_t i = 0; i < kw.len;) {
		size_t st = i;
		while (i < kw.len && kw.p[i] != ' ')
			i++;
		struct str w = str_make(kw.p + st, i - st);
		seen |= str_eq_ci_c(w, "$seen");
		i++;
	}
	c->unseen += !seen;
	c->deleted += info->deleted; /* the membership's flag, not a keyword */
	if (info->deleted && info->nmembers <= 1) {
		c->deleted_size += info->size;
	} else if (info->deleted) {
		if (c->nshared == c->capshared) {
			c->capshared = c->capshared ? c->capshared * 2 : 16;
			c->shared = xrealloc(c->shared, c->capshared * sizeof(c->shared[0]));
		}
		c->shared[c->nshared++] = (struct shared_del){ info->email_id, info->nmembers, info->size };
	}
	c->recent += info->uid >= c->info.first_recent;
}

int imap_status_items(const struct imap_arg *list, size_t n, unsigned *want_r)
{
	unsigned want = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++)
			if (imap_arg_atom_is(&list[i], items[k].name))
				bit = items[k].bit;
		if (!bit)
			return -1;
		want |= bit;
	}
	*want_r = want;
	return 0;
}

void imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[1024]; /* up to STORE_MAILBOX_NAME_MAX octets, as the other commands */
	const struct imap_arg *list;
	size_t n;
	unsigned want = 0;

	if (cmd->nargs != 2 || imap_arg_list(&cmd->args[1], &list, &n) < 0 || n == 0) {
		imap_tagged(s, "BAD Error in IMAP command STATUS: Invalid arguments.");
		imap_session_error(s);
		return;
	}
	if (imap_status_items(list, n, &want) < 0) {
		imap_tagged(s, "BAD Error in IMAP command STATUS: Unknown status item.");
		imap_session_error(s);
		return;
	}
	/* RFC 4314 §4: STATUS needs "r" (an own mailbox: every right). */
	struct imap_acl_target t;
	if (imap_acl_target(s, &cmd->args[0], IMAP_ACL_OP_READ, name, sizeof(name), &t) < 0)
		return;
	if (want & ST_HIGHESTMODSEQ)
		imap_session_condstore(s);

	struct status_ctx c = { .mailbox = t.mailbox };
	/* One mailbox read, not all of them (clients ask each mailbox). */
	int r = store_mailbox_get(imap_store, t.owner, c.mailbox, mailbox_cb, &c);
	if (r == STORE_ENOTFOUND) {
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return;
	}
	if (r != STORE_OK || !c.found) {
		imap_tagged(s, "NO [SERVERBUG] Internal error reading the mailbox.");
		return;
	}
	struct buf out;
	buf_init(&out, 2048);
	if (imap_status_append(s, t.owner, name, &c.info, list, n, want, &out) < 0) {
		buf_free(&out);
		imap_tagged(s, "NO [SERVERBUG] Internal error reading the mailbox.");
		return;
	}
	imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	imap_tagged(s, "OK Status completed.");
}

int imap_status_append(struct imap_session *s, uint32_t owner, const char *name,
		       const struct store_mailbox_info *info, const struct imap_arg *list, size_t n,
		       unsigned want, struct buf *out)
{
	struct status_ctx c = { .mailbox = info->id, .info = *info,
				.ascii = (want & ST_SIZE) && !s->utf8 };
	unsigned listed = ST_SIZE | ST_UNSEEN | ST_DELETED | ST_RECENT | ST_DELETED_STORAGE;
	if ((want & listed) &&
	    store_email_list(imap_store, owner, c.mailbox, email_cb, &c) != STORE_OK) {
		free(c.shared);
		free(c.dg);
		return -1;
	}
	c.deleted_size += shared_freed(&c);
	free(c.shared);
	/* RFC 8438 §1: SIZE is the sum of RFC822.SIZE, which FETCH gives
	 * such a session downgraded. */
	int64_t dg = imap_dg_size_delta(owner, c.dg, c.ndg);
	c.size = dg < 0 && (uint64_t)-dg > c.size ? 0 : c.size + (uint64_t)dg;
	free(c.dg);
	uint32_t messages = (want & listed) ? c.counted : c.info.messages;
	/* The selected mailbox's messages this session claimed are \Recent
	 * to it (RFC 3501 §2.3.2), as its SELECT and EXISTS told it: those
	 * below first_recent. The ones from there on are the unclaimed ones
	 * counted above, which an EXAMINE shows \Recent without claiming:
	 * counted once. */
	if (s->state == IMAP_S_SELECTED && s->view.account == owner && s->view.mailbox == c.mailbox)
		c.recent += imap_view_recent_below(&s->view, c.info.first_recent);

	buf_append_c(out, "* STATUS ");
	imap_append_mailbox(out, name);
	buf_append_c(out, " (");
	const char *sep = "";
	unsigned done = 0;
	/* In the order asked, as Dovecot answers; an item asked twice once
	 * (a status-att-list names an attribute once, as Dovecot answers). */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++) {
			if (!imap_arg_atom_is(&list[i], items[k].name) || (done & items[k].bit))
				continue;
			done |= items[k].bit;
			unsigned long long v = 0;
			if (items[k].bit == ST_MAILBOXID) {
				buf_printf(out, "%sMAILBOXID (" IMAP_MAILBOXID_FMT ")", sep,
					   c.info.id);
				sep = " ";
				continue;
			}
			switch (items[k].bit) {
			case ST_MESSAGES: v = messages; break;
			case ST_UIDNEXT: v = c.info.uidnext; break;
			case ST_UIDVALIDITY: v = c.info.uidvalidity; break;
			case ST_UNSEEN: v = c.unseen; break;
			case ST_DELETED: v = c.deleted; break;
			case ST_RECENT: v = c.recent; break;
			case ST_SIZE: v = c.size; break;
			case ST_HIGHESTMODSEQ: v = imap_highest_modseq(c.info.highest_modseq); break;
			case ST_APPENDLIMIT: v = imap_append_limit(); break;
			case ST_DELETED_STORAGE: v = (c.deleted_size + 1023) / 1024; break;
			default: v = 0; break;
			}
			buf_printf(out, "%s%s %llu", sep, items[k].name, v);
			sep = " ";
		}
	}
	buf_append_c(out, ")\r\n");
	return 0;
}
