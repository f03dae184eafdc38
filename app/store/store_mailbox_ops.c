/*
 * store_mailbox_ops.c — creating, renaming, deleting and subscribing
 * mailboxes (IMAP CREATE/RENAME/DELETE/SUBSCRIBE, JMAP Mailbox/set),
 * moving a role onto a mailbox (tern import), and a mailbox taking a
 * source's UIDVALIDITY and UIDNEXT (tern import and migrate keep UIDs).
 *
 * Names are full paths with "/" as the hierarchy delimiter, UTF-8, at
 * most STORE_MAILBOX_NAME_MAX octets (new ones at most the configured
 * limit, as is the number of an account's mailboxes: a user must not be
 * able to grow the account's mailbox list, which every LIST and SELECT
 * walks, without bound); the first level "INBOX" is matched
 * in any case and stored as "INBOX". Missing parents are created as real
 * mailboxes (RFC 3501 §6.3.3 lets a server create the superior
 * hierarchy), so every mailbox's parent field names an existing one.
 *
 * Names are stored in Unicode NFC (core/unorm.h; RFC 9051 §5.1's
 * Net-Unicode, RFC 5198, RFC 8621 §2): "é" as e + U+0301 and as U+00E9
 * is one name. A store written before names were normalised may hold
 * names in another form; they are not rewritten (that would rename
 * mailboxes under clients that cache them): every lookup (find() here,
 * store_mailbox_find) takes an exact match first, else a canonically
 * equivalent one, and once a stored mailbox is found its own spelling is
 * what the call goes on with, so its children (matched by prefix) and
 * its subscription keep working, and a new child under an old parent
 * takes the parent's spelling. Renaming such a mailbox to its NFC name is
 * allowed and is the way to bring it into NFC.
 *
 * Each call is one synchronous write transaction through store_write();
 * each writes one change record at one new modseq (mailbox created /
 * updated / destroyed entries; a delete also expunges the mailbox's
 * messages first, at its own modseq, as store_expunge does) and the
 * change feed is told after the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/unorm.h"
#include "core/xalloc.h"
#include "core/utf8.h"
#include "store/store_private.h"

#define CHANGE_ENTRY_SIZE 13u
#define OPS_MAX_MAILBOXES 65535u /* per account: one change record must hold a rename */

/* Validates and normalises a mailbox name into out (STORE_MAILBOX_NAME_MAX + 1). */
static int name_norm(const char *in, char *out)
{
	size_t n = strlen(in);

	if (n == 0 || n > STORE_MAILBOX_NAME_MAX || in[0] == '/' || in[n - 1] == '/')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return -1;
		if (c == '/' && in[i + 1] == '/')
			return -1;
	}
	/* NFC: a name that grows past the limit in it is refused, as it
	 * would be when sent in that form. */
	if (unorm_nfc_str(in, out, STORE_MAILBOX_NAME_MAX + 1) < 0)
		return -1;
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

/*
 * 1 when no level of a (normalised) name is "." or "..". Such a name is
 * refused for a new mailbox (as Dovecot refuses it): every program that
 * maps names onto paths would read it as "here" or "the parent", and tern
 * export --format mbox wrote "../../x" as DIR/EMAIL/../../x.mbox, outside
 * its folder. Existing names stay usable (lookups do not check this), so a
 * store that has one can still rename or delete it.
 */
static int name_levels_ok(const char *name)
{
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += len;
		if (*p == '/')
			p++;
	}
	return 1;
}

/*
 * 1 when a (normalised) name is STORE_SHARED_ROOT or under it: the other
 * users' namespace (imap_acl.h), where an own mailbox would be hidden by
 * the shared ones; refused for a new mailbox, as Dovecot and Cyrus keep
 * a namespace's prefix from personal names. Exact case, as the prefix is
 * matched.
 */
static int name_reserved(const char *name)
{
	size_t rl = sizeof STORE_SHARED_ROOT - 1;
	return strncmp(name, STORE_SHARED_ROOT, rl) == 0 && (name[rl] == '\0' || name[rl] == '/');
}

/* The name a new mailbox (CREATE, a RENAME's target) would have, NFC in
 * out (STORE_MAILBOX_NAME_MAX + 1): STORE_ETOOBIG past the limit,
 * STORE_EINVAL for a name no mailbox can have. */
static int new_name(struct store *st, const char *name, char *out)
{
	if (strlen(name) > st->mailbox_name_max)
		return STORE_ETOOBIG;
	if (name_norm(name, out) < 0 || !name_levels_ok(out) || name_reserved(out))
		return STORE_EINVAL;
	return STORE_OK;
}

/* One mailbox of the account, as found by a walk. */
struct mbx {
	uint32_t id;
	uint32_t hash; /* of the name's NFC (mbx_ix) */
	uint32_t next; /* index + 1 of the next in its bucket, 0: none */
	uint16_t len;  /* strlen(m.name) */
	uint8_t ascii; /* m.name is ASCII, so in NFC */
	struct mbox_rec m;
};

/*
 * The account's mailboxes keyed by the NFC of their names: find() looks a
 * name up in its bucket instead of comparing it with every mailbox (a
 * CREATE of a 499-level name in an account of 16,000 mailboxes compared
 * each level with all of them, canonical equivalence and all: 3 s of the
 * writer). Built for the calls that look up many names (CREATE's and
 * RENAME's levels: ix_build()), kept by create_path() as it adds; one that
 * looks up one or two (SUBSCRIBE, DELETE, fileinto) compares lengths in a
 * walk instead, cheaper than hashing every name. Names changed in place
 * (a rename's last step) are not indexed again, so no lookup follows one.
 * st->mailbox_name_probes counts the entries a lookup looked at.
 */
struct mbx_ix {
	uint32_t *head; /* index + 1 of a bucket's first, 0: none; NULL: not built */
	size_t mask;
	size_t cap;     /* the array's room (load_all) */
};

/* 1 when s[0..n) is all ASCII. */
static int all_ascii(const char *s, size_t n)
{
	return utf8_ascii_run((const unsigned char *)s, n) == n;
}

/* Sets v[i]'s len and ascii. */
static void mbx_measure(struct mbx *e)
{
	size_t l = strlen(e->m.name);
	e->len = (uint16_t)l;
	e->ascii = (uint8_t)all_ascii(e->m.name, l);
}

/* FNV-1a of the NFC of name[0..len) (as unorm_equal compares them: a name
 * past UNORM_CMP_MAX as it is). */
static uint32_t name_hash(const char *name, size_t len, int ascii)
{
	char tmp[UNORM_GROWTH * UNORM_CMP_MAX];
	if (!ascii && len <= UNORM_CMP_MAX && !unorm_is_nfc(name, len)) {
		len = unorm_nfc(name, len, tmp);
		name = tmp;
	}
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

/* Puts v[i] in its bucket. */
static void ix_add(struct mbx_ix *ix, struct mbx *v, size_t i)
{
	v[i].hash = name_hash(v[i].m.name, v[i].len, v[i].ascii);
	uint32_t *b = &ix->head[v[i].hash & ix->mask];
	v[i].next = *b;
	*b = (uint32_t)i + 1;
}

/* The levels of name: the most mailboxes create_path() can add for it. */
static size_t name_levels(const char *name)
{
	size_t k = 1;
	for (; *name; name++)
		k += *name == '/';
	return k;
}

/*
 * Reads every mailbox of the account into an array (malloc'ed) with room
 * for extra more (*cap_r = *n_r + extra): counted first, then allocated
 * once. Grown by doubling, each growth copied a thousand-odd bytes per
 * mailbox already read, and create_path() copied it all once more per
 * mailbox it added: most of the time a create took in an account of
 * thousands of mailboxes.
 */
static int load_all(struct store *st, MDB_txn *txn, uint32_t account, size_t extra,
		    struct mbx **v_r, size_t *n_r, size_t *cap_r, struct mbx_ix *ix)
{
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k, v;
	struct mbx *arr = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);

	if (rc)
		return rc;
	k = key_u32_u32(pfx, account, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		cap++;
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	cap += extra;
	arr = xmalloc((cap ? cap : 1) * sizeof(*arr));
	k = key_u32_u32(pfx, account, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, pfx, 4) == 0 && n < cap - extra;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		arr[n].id = be32_get((uint8_t *)k.mv_data + 4);
		if ((rc = mbox_dec(&v, &arr[n].m)) != 0)
			break;
		mbx_measure(&arr[n]);
		n++;
	}
out:
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc) {
		free(arr);
		return rc;
	}
	ix->head = NULL;
	ix->cap = cap;
	*v_r = arr;
	*n_r = n;
	*cap_r = cap;
	return 0;
}

/*
 * As load_all() for a call that needs one mailbox (SUBSCRIBE, a JMAP sort
 * order, a fileinto to an existing one): only the one named name is read
 * into the array (*n_r 1, or 0 when there is none), by a walk that keeps
 * no copy of the others. Each load_all() allocated and filled a thousand
 * octets per mailbox: 17 MB for 16,500 of them, 40 ms of the writer for
 * each SUBSCRIBE.
 */
static int load_one(struct store *st, MDB_txn *txn, uint32_t account, const char *name,
		    struct mbx **v_r, size_t *n_r, size_t *cap_r, struct mbx_ix *ix)
{
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k, v;
	struct mbx *one = xmalloc(sizeof(*one)), *cand = xmalloc(sizeof(*cand));
	size_t len = strlen(name);
	int found = 0; /* 1: an equivalent one, 2: the name itself */
	int rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);

	if (rc)
		goto out;
	k = key_u32_u32(pfx, account, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cand->id = be32_get((uint8_t *)k.mv_data + 4);
		if ((rc = mbox_dec(&v, &cand->m)) != 0)
			break;
		mbx_measure(cand);
		st->mailbox_name_probes++;
		if (cand->len == len && memcmp(cand->m.name, name, len) == 0) {
			*one = *cand;
			found = 2;
			break;
		}
		if (!found && unorm_equal(cand->m.name, cand->len, name, len)) {
			*one = *cand;
			found = 1;
		}
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	free(cand);
	if (rc) {
		free(one);
		return rc;
	}
	ix->head = NULL;
	ix->cap = 1;
	*v_r = one;
	*n_r = found ? 1 : 0;
	*cap_r = 1;
	return 0;
}

/* *kids_r 1 when a mailbox of the account is below name (name + "/..."),
 * else 0; 2 when actor (another account, 0 for none) holds no "l" on one
 * of them: a child it may not see. 0 or an LMDB code. A walk, as
 * load_one(). */
static int has_kids(struct store *st, MDB_txn *txn, uint32_t account, uint32_t actor,
		    const char *name, int *kids_r)
{
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k, v;
	struct mbox_rec *m = xmalloc(sizeof(*m));
	size_t len = strlen(name);
	int kids = 0, rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);

	if (rc) {
		free(m);
		return rc;
	}
	k = key_u32_u32(pfx, account, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = mbox_dec(&v, m)) != 0)
			break;
		if (strncmp(m->name, name, len) != 0 || m->name[len] != '/')
			continue;
		kids = 1;
		if (!actor)
			break;
		uint32_t r;
		if ((rc = acl_rights_txn(txn, st, actor, account, be32_get((uint8_t *)k.mv_data + 4),
					 &r)) != 0)
			break;
		if (!(r & STORE_ACL_L)) {
			kids = 2;
			break;
		}
	}
	mdb_cursor_close(cur);
	free(m);
	*kids_r = kids;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Indexes v[0..n) (once). */
static void ix_build(struct mbx_ix *ix, struct mbx *v, size_t n)
{
	if (ix->head)
		return;
	/* Buckets: a power of two at least twice the mailboxes there may be. */
	size_t nb = 16;
	while (nb < 2 * ix->cap)
		nb *= 2;
	ix->head = xcalloc(nb, sizeof(*ix->head));
	ix->mask = nb - 1;
	for (size_t i = 0; i < n; i++)
		ix_add(ix, v, i);
}

/* The mailbox named name[0..len): an exact match, else one whose stored
 * name is canonically equivalent (a name stored before NFC; see the top).
 * v[0..n): the account's mailboxes. */
static struct mbx *find(struct store *st, const struct mbx_ix *ix, struct mbx *v, size_t n,
			const char *name, size_t len)
{
	struct mbx *equiv = NULL; /* the first in the account's order */
	int ascii = all_ascii(name, len);
	if (!ix->head) {
		/* A walk: an ASCII name (in NFC) is equivalent to the name
		 * only when it is the name's NFC, octet for octet. */
		char tmp[UNORM_GROWTH * UNORM_CMP_MAX];
		const char *q = name;
		size_t ql = len;
		if (!ascii && len <= UNORM_CMP_MAX && !unorm_is_nfc(name, len)) {
			ql = unorm_nfc(name, len, tmp);
			q = tmp;
		}
		for (size_t i = 0; i < n; i++) {
			struct mbx *e = &v[i];
			st->mailbox_name_probes++;
			if (e->len == len && memcmp(e->m.name, name, len) == 0)
				return e;
			if (equiv)
				continue;
			if (e->ascii ? e->len == ql && memcmp(e->m.name, q, ql) == 0
				     : unorm_equal(e->m.name, e->len, name, len))
				equiv = e;
		}
		return equiv;
	}
	uint32_t h = name_hash(name, len, ascii);
	for (uint32_t i = ix->head[h & ix->mask]; i; i = v[i - 1].next) {
		struct mbx *e = &v[i - 1];
		st->mailbox_name_probes++;
		if (e->hash != h)
			continue;
		if (e->len == len && memcmp(e->m.name, name, len) == 0)
			return e;
		if ((!equiv || e < equiv) && unorm_equal(e->m.name, e->len, name, len))
			equiv = e;
	}
	return equiv;
}

static int new_uidvalidity(struct store *st, MDB_txn *txn, uint32_t *uv_r)
{
	uint32_t last;
	int rc = meta_get_u32(txn, st, "last_uidvalidity", &last);
	if (rc)
		return rc;
	uint32_t uv = (uint32_t)time(NULL);
	if (uv <= last)
		uv = last + 1;
	if (uv == 0)
		uv = 1;
	*uv_r = uv;
	return meta_put_u32(txn, st, "last_uidvalidity", uv);
}

/* Change records under construction: one per call (several modseqs only
 * past 65535 entries, which OPS_MAX_MAILBOXES rules out for mailboxes). */
struct changes {
	uint32_t account;
	uint8_t *rec;
	size_t n, cap;
};

static void change_add(struct changes *c, unsigned kind, uint32_t id, uint32_t mailbox, uint32_t uid)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->rec = xrealloc(c->rec, 3 + c->cap * CHANGE_ENTRY_SIZE);
	}
	uint8_t *e = c->rec + 3 + c->n * CHANGE_ENTRY_SIZE;
	e[0] = (uint8_t)kind;
	be32_put(e + 1, id);
	be32_put(e + 5, mailbox);
	be32_put(e + 9, uid);
	c->n++;
}

/* Writes the entries at ++a->modseq (in chunks of 65535). */
static int change_flush(struct store *st, MDB_txn *txn, struct changes *c, struct acct_rec *a)
{
	uint8_t kb[12];
	size_t done = 0;

	while (done < c->n) {
		size_t k = c->n - done > 65535 ? 65535 : c->n - done;
		uint8_t *p = c->rec + done * CHANGE_ENTRY_SIZE; /* header overwrites the tail before */
		uint8_t save[3];
		memcpy(save, p, 3);
		p[0] = REC_V1;
		be16_put(p + 1, (uint16_t)k);
		a->modseq++;
		MDB_val key = key_u32_u64(kb, c->account, a->modseq);
		MDB_val v = { 3 + k * CHANGE_ENTRY_SIZE, p };
		int rc = mdb_put(txn, st->db[DB_CHANGE], &key, &v, 0);
		memcpy(p, save, 3);
		if (rc)
			return rc;
		done += k;
	}
	c->n = 0;
	return 0;
}

/* Creates name's missing parents and name itself; *id_r the last one.
 * v/n are the account's mailboxes, grown with the new ones into the room
 * load_all() left (cap: name_levels(name) more at least). stored (room for
 * STORE_MAILBOX_NAME_MAX + 1, or NULL) gets the path as stored. */
static int create_path(struct store *st, MDB_txn *txn, uint32_t account, struct acct_rec *a,
		       struct mbx *v, struct mbx_ix *ix, size_t *n, size_t cap, const char *name,
		       struct changes *ch, int leaf_exists_ok, uint32_t *id_r, char *stored)
{
	/* The path as stored: a level found under an older spelling (see
	 * the top) replaces the given one, so children share their parent's
	 * prefix octet for octet. */
	char path[STORE_MAILBOX_NAME_MAX + 1];
	size_t len = strlen(name);
	uint32_t parent = 0;
	int rc;

	memcpy(path, name, len + 1);
	name = path;
	ix_build(ix, v, *n); /* a lookup a level */
	for (size_t end = 0; end <= len; end++) {
		if (end < len && name[end] != '/')
			continue;
		struct mbx *f = find(st, ix, v, *n, name, end);
		if (f) {
			if (end == len && !leaf_exists_ok)
				return STORE_EEXIST;
			size_t fl = strlen(f->m.name);
			if (fl != end || memcmp(f->m.name, path, end) != 0) {
				if (fl + len - end > STORE_MAILBOX_NAME_MAX)
					return STORE_ETOOBIG;
				memmove(path + fl, path + end, len - end + 1);
				memcpy(path, f->m.name, fl);
				len = fl + len - end;
				end = fl;
			}
			parent = f->id;
			continue;
		}
		if (*n >= st->mailbox_max || *n >= cap)
			return STORE_ELIMIT;
		if (a->next_mailbox_id == UINT32_MAX)
			return STORE_EINVAL;
		struct mbx nm = { .id = a->next_mailbox_id++ };
		if ((rc = new_uidvalidity(st, txn, &nm.m.uidvalidity)) != 0)
			return rc;
		nm.m.uidnext = 1;
		nm.m.parent = parent;
		memcpy(nm.m.name, name, end);
		nm.m.name[end] = '\0';
		if ((rc = mbox_put(txn, st, account, nm.id, &nm.m)) != 0)
			return rc;
		change_add(ch, CHANGE_MAILBOX_CREATED, nm.id, 0, 0);
		v[*n] = nm;
		mbx_measure(&v[*n]);
		ix_add(ix, v, (*n)++);
		parent = nm.id;
	}
	*id_r = parent;
	if (stored)
		memcpy(stored, path, len + 1);
	return 0;
}

enum op_kind { OP_CREATE, OP_RENAME, OP_DELETE, OP_SUBSCRIBE, OP_SORT, OP_ROLE, OP_ROLE_SET,
	       OP_UIDS };

struct op_ctx {
	enum op_kind kind;
	uint32_t account;
	uint32_t actor; /* OP_CREATE, _DELETE, _RENAME: another account acting
			 * with its rights (store_mailbox_create_as); 0: the owner */
	char name[STORE_MAILBOX_NAME_MAX + 1], to[STORE_MAILBOX_NAME_MAX + 1];
	int on;
	unsigned role; /* OP_CREATE: ROLE_* for the new mailbox; OP_ROLE, OP_ROLE_SET: the one to give */
	uint32_t sort_order; /* OP_SORT */
	uint32_t uidvalidity, uidnext; /* OP_UIDS: the source's; out: the mailbox's UIDNEXT */
	/* out */
	uint32_t id;
	uint64_t modseq;
};

/* RENAME INBOX: its messages move to the (new) mailbox dst with new UIDs. */
static int move_inbox(struct store *st, MDB_txn *txn, struct op_ctx *c, struct mbx *inbox,
		      struct mbx *dst, struct changes *ch, uint64_t a_modseq)
{
	MDB_cursor *cur;
	uint8_t pfx[12], kb[12], ek[8];
	MDB_val k = key_u32_u32_u32(pfx, c->account, inbox->id, 0), v;
	int rc = mdb_cursor_open(txn, st->db[DB_UID], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
		if (v.mv_size < 5)
			return MDB_CORRUPTED;
		uint32_t old_uid = be32_get((uint8_t *)k.mv_data + 8);
		uint32_t email_id = be32_get((uint8_t *)v.mv_data + 1);
		uint8_t urec[UID_REC_MAX];
		/* Keeps a SAVEDATE and the membership flags. */
		size_t ulen = v.mv_size >= UID_REC_MAX     ? UID_REC_MAX
		              : v.mv_size >= UID_REC_SAVED ? UID_REC_SAVED
		                                           : 5;
		memcpy(urec, v.mv_data, ulen);
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		uint32_t new_uid = dst->m.uidnext++;
		MDB_val nk = key_u32_u32_u32(kb, c->account, dst->id, new_uid), nv = { ulen, urec };
		if ((rc = mdb_put(txn, st->db[DB_UID], &nk, &nv, 0)) != 0)
			break;
		/* The email's membership changes mailbox and uid. */
		MDB_val ekey = key_u32_u32(ek, c->account, email_id);
		struct email_rec e;
		uint8_t *copy;
		struct email_shape before = {0}, after;
		if ((rc = email_get_copy(txn, st, &ekey, &e, &copy)) == 0) {
			email_shape_of(&before, &e);
			for (uint16_t i = 0; i < e.nmembers; i++) {
				uint8_t *mp = (uint8_t *)e.members + (size_t)i * 8;
				if (be32_get(mp) == inbox->id && be32_get(mp + 4) == old_uid) {
					be32_put(mp, dst->id);
					be32_put(mp + 4, new_uid);
				}
			}
			e.modseq = a_modseq + 1; /* the modseq change_flush writes at */
			rc = rec_put(txn, st->db[DB_EMAIL], &ekey, email_size(&e), email_enc, &e, 0);
			if (rc == 0) {
				email_shape_of(&after, &e);
				rc = counts_email(txn, st, c->account, email_id, &before, &after);
				email_shape_free(&after);
			}
			/* Its copies in other mailboxes show that modseq too: their
			 * HIGHESTMODSEQ must not stay below it (INBOX and dst
			 * take the final one in the caller). */
			for (uint16_t i = 0; i < e.nmembers && rc == 0; i++) {
				uint32_t mb = be32_get(e.members + (size_t)i * 8);
				struct mbox_rec om;
				if (mb == dst->id || mb == inbox->id)
					continue;
				if ((rc = mbox_get(txn, st, c->account, mb, &om)) == 0 &&
				    om.highest_modseq < e.modseq) {
					om.highest_modseq = e.modseq;
					rc = mbox_put(txn, st, c->account, mb, &om);
				}
			}
		}
		email_shape_free(&before);
		free(copy);
		if (rc)
			break;
		change_add(ch, CHANGE_EMAIL_UPDATED, email_id, inbox->id, old_uid);
		change_add(ch, CHANGE_EMAIL_UPDATED, email_id, dst->id, new_uid);
		dst->m.messages++;
		if (inbox->m.messages)
			inbox->m.messages--;
		k = key_u32_u32_u32(pfx, c->account, inbox->id, 0);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Collects the UIDs of a mailbox (malloc'ed). */
static int mailbox_uids(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox,
			uint32_t **uids_r, size_t *n_r)
{
	MDB_cursor *cur;
	uint8_t pfx[12];
	MDB_val k = key_u32_u32_u32(pfx, account, mailbox, 0), v;
	uint32_t *u = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_open(txn, st->db[DB_UID], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			u = xrealloc(u, cap * sizeof(*u));
		}
		u[n++] = be32_get((uint8_t *)k.mv_data + 8);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0) {
		free(u);
		return rc;
	}
	*uids_r = u;
	*n_r = n;
	return 0;
}

/*
 * counts_rebuild() for a trash that moved (store_counts.c: a thread's
 * unread split is on the account's first trash), and a mailbox-updated
 * entry for every mailbox of v whose counters it moved: their
 * unreadThreads change with no email changing, and JMAP Mailbox/changes
 * learns of counts from the log only (a client kept the old ones).
 */
static int recount(struct store *st, MDB_txn *txn, uint32_t account, const struct mbx *v,
		   size_t n, struct changes *ch)
{
	uint32_t(*before)[4] = xcalloc(n ? n : 1, sizeof *before), now[4];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = counts_mailbox_get(txn, st, account, v[i].id, before[i]);
	if (!rc)
		rc = counts_rebuild(txn, st, account);
	for (size_t i = 0; i < n && !rc; i++)
		if (!(rc = counts_mailbox_get(txn, st, account, v[i].id, now)) &&
		    memcmp(now, before[i], sizeof now))
			change_add(ch, CHANGE_MAILBOX_UPDATED, v[i].id, 0, 0);
	free(before);
	return rc;
}

/*
 * OP_ROLE: f takes c->role from every other holder, each of which must be
 * as account creation made it (the role's default name, no messages):
 * else STORE_EEXIST before anything is written. f with another role keeps
 * it (STORE_EEXIST); f that has the role already changes nothing.
 */
static int give_role(struct store *st, MDB_txn *txn, struct op_ctx *c, struct mbx *v, size_t n,
		     struct mbx *f, struct changes *ch)
{
	const char *dflt = mbox_role_default_name(c->role);
	int rc;

	if (f->m.role == c->role)
		return 0;
	if (f->m.role != ROLE_NONE)
		return STORE_EEXIST;
	for (size_t i = 0; i < n; i++)
		if (&v[i] != f && v[i].m.role == c->role &&
		    (v[i].m.messages != 0 || strcmp(v[i].m.name, dflt) != 0))
			return STORE_EEXIST;
	for (size_t i = 0; i < n; i++) {
		if (&v[i] != f && v[i].m.role != c->role)
			continue;
		v[i].m.role = &v[i] == f ? (uint8_t)c->role : ROLE_NONE;
		if ((rc = mbox_put(txn, st, c->account, v[i].id, &v[i].m)) != 0)
			return rc;
		change_add(ch, CHANGE_MAILBOX_UPDATED, v[i].id, 0, 0);
	}
	/* The trash is the first mailbox with the role: unread threads split
	 * on it (store_counts.c), so the account is counted again. */
	return c->role == ROLE_TRASH ? recount(st, txn, c->account, v, n, ch) : 0;
}

/*
 * OP_ROLE_SET: f's role becomes c->role (ROLE_NONE: none), held by no
 * other mailbox (STORE_EEXIST) and never the INBOX's (STORE_EINVAL).
 */
static int set_role(struct store *st, MDB_txn *txn, struct op_ctx *c, struct mbx *v, size_t n,
		    struct mbx *f, struct changes *ch)
{
	int rc;

	if (f->m.role == c->role)
		return 0;
	if (f->m.role == ROLE_INBOX)
		return STORE_EINVAL;
	for (size_t i = 0; c->role != ROLE_NONE && i < n; i++)
		if (&v[i] != f && v[i].m.role == c->role)
			return STORE_EEXIST;
	int trash = f->m.role == ROLE_TRASH || c->role == ROLE_TRASH;
	f->m.role = (uint8_t)c->role;
	if ((rc = mbox_put(txn, st, c->account, f->id, &f->m)) != 0)
		return rc;
	change_add(ch, CHANGE_MAILBOX_UPDATED, f->id, 0, 0);
	/* Unread threads split on the trash (store_counts.c). */
	return trash ? recount(st, txn, c->account, v, n, ch) : 0;
}

/*
 * tern import and migrate: the source's UIDVALIDITY on f, so that the
 * UIDs its messages keep (store_delivery.uid) mean what they meant there.
 * Another UIDVALIDITY is taken only by a mailbox without messages, whose
 * UIDs then start again at 1 (every UID below its old UIDNEXT belonged to
 * the old UIDVALIDITY, RFC 9051 §2.3.1.1); the same one leaves the UIDs
 * as they are (a second run, a resumed one). UIDNEXT goes up to c->uidnext
 * when that is higher, never down. last_uidvalidity goes up to the value
 * kept, so a mailbox made later never takes it (new_uidvalidity).
 */
static int keep_uids(struct store *st, MDB_txn *txn, struct op_ctx *c, struct mbx *f,
		     struct changes *ch)
{
	struct mbox_rec *m = &f->m;
	int changed = 0, rc;
	/*
	 * The same UIDVALIDITY again is a second or resumed run only when
	 * this mailbox took it from a source (the meta key below). Both
	 * Dovecot and tern make UIDVALIDITYs from the clock, so a mailbox of
	 * our own, with mail, can have the source's by chance (both made in
	 * the same second): its messages' UIDs are not the source's.
	 */
	char key[48];
	uint32_t kept = 0;
	snprintf(key, sizeof key, "uids_kept/%08x/%08x", c->account, f->id);
	if ((rc = meta_get_u32(txn, st, key, &kept)) == MDB_NOTFOUND)
		kept = 0, rc = 0;
	if (rc)
		return rc;

	if (c->uidvalidity != m->uidvalidity || kept != c->uidvalidity) {
		if (m->messages) {
			c->uidnext = m->uidnext;
			return STORE_EEXIST;
		}
		uint32_t last;
		if ((rc = meta_get_u32(txn, st, "last_uidvalidity", &last)) == MDB_NOTFOUND)
			last = 0, rc = 0;
		if (rc)
			return rc;
		if (c->uidvalidity > last &&
		    (rc = meta_put_u32(txn, st, "last_uidvalidity", c->uidvalidity)) != 0)
			return rc;
		if ((rc = meta_put_u32(txn, st, key, c->uidvalidity)) != 0)
			return rc;
		if (m->uidvalidity != c->uidvalidity) {
			m->uidvalidity = c->uidvalidity;
			m->uidnext = 1;
			m->first_recent = 0; /* what comes in now is new to the account */
			changed = 1;
		}
	}
	if (c->uidnext > m->uidnext) {
		m->uidnext = c->uidnext;
		changed = 1;
	}
	c->uidnext = m->uidnext;
	if (!changed)
		return 0;
	if ((rc = mbox_put(txn, st, c->account, f->id, m)) != 0)
		return rc;
	change_add(ch, CHANGE_MAILBOX_UPDATED, f->id, 0, 0);
	return 0;
}

/* ---- Another account acting on the owner's mailboxes (the _as calls) ---- */

static int acting(const struct op_ctx *c)
{
	return c->actor && c->actor != c->account;
}

/* c->actor's rights on m. */
static int actor_rights(MDB_txn *txn, struct store *st, const struct op_ctx *c,
			const struct mbx *m, uint32_t *rights_r)
{
	return acl_rights_txn(txn, st, c->actor, c->account, m->id, rights_r);
}

/*
 * The closest mailbox above name that c->actor may see ("l"), else INBOX:
 * the one whose "k" lets a new name be made and whose grants the new
 * mailboxes take. One it may not see is passed over as if it were not
 * there (RFC 4314 §6): were it the parent, a NOPERM where a name under a
 * mailbox that does not exist gets OK would tell that it exists (Cyrus
 * and Dovecot take the closest existing one, and tell). 0 with *p_r
 * (NULL when the owner has no INBOX), or an LMDB error.
 */
static int closest_parent(MDB_txn *txn, struct store *st, const struct op_ctx *c,
			  const struct mbx_ix *ix, struct mbx *v, size_t n, const char *name,
			  struct mbx **p_r)
{
	for (size_t end = strlen(name); end > 0; end--) {
		if (name[end - 1] != '/')
			continue;
		struct mbx *p = find(st, ix, v, n, name, end - 1);
		uint32_t r;
		int rc;
		if (!p)
			continue;
		if ((rc = actor_rights(txn, st, c, p, &r)) != 0)
			return rc;
		if (r & STORE_ACL_L)
			return *p_r = p, 0;
	}
	*p_r = find(st, ix, v, n, "INBOX", 5);
	return 0;
}

/* Checks whether c->actor may make name (a create, a rename's new name;
 * self: the mailbox being renamed, which may stand there under another
 * spelling): 0 with *from_r the mailbox whose grants new ones take,
 * STORE_EEXIST, STORE_EACCES, or an LMDB error. */
static int actor_may_make(MDB_txn *txn, struct store *st, const struct op_ctx *c,
			  const struct mbx_ix *ix, struct mbx *v, size_t n, const char *name,
			  const struct mbx *self, uint32_t *from_r)
{
	uint32_t r;
	int rc;
	struct mbx *t = find(st, ix, v, n, name, strlen(name));

	if (t && t != self) {
		/* There: told only to one that may see it (RFC 4314 §6);
		 * one that may not gets NOPERM, as Cyrus answers, what a
		 * name it may not make gets. With "k" on the parent that
		 * still differs from the OK a free name gets: the name is
		 * taken, and no answer can hide that. */
		if ((rc = actor_rights(txn, st, c, t, &r)) != 0)
			return rc;
		return (r & STORE_ACL_L) ? STORE_EEXIST : STORE_EACCES;
	}
	struct mbx *p;
	if ((rc = closest_parent(txn, st, c, ix, v, n, name, &p)) != 0)
		return rc;
	if (!p)
		return STORE_EACCES;
	if ((rc = actor_rights(txn, st, c, p, &r)) != 0)
		return rc;
	if (!(r & STORE_ACL_K))
		return STORE_EACCES;
	*from_r = p->id;
	return 0;
}

/* Checks whether c->actor may delete (or rename away) f: 0, STORE_ENOTFOUND
 * (no "l": it is not there for it), STORE_EACCES, or an LMDB error. */
static int actor_may_remove(MDB_txn *txn, struct store *st, const struct op_ctx *c,
			    const struct mbx *f)
{
	uint32_t r;
	int rc = actor_rights(txn, st, c, f, &r);

	if (rc)
		return rc;
	if (!(r & STORE_ACL_L))
		return STORE_ENOTFOUND;
	return (r & STORE_ACL_X) ? 0 : STORE_EACCES;
}

/* The mailboxes create_path() added (v[from..n)) take the grants of
 * mailbox parent. */
static int inherit_grants(MDB_txn *txn, struct store *st, uint32_t account, uint32_t parent,
			  const struct mbx *v, size_t from, size_t n)
{
	int rc = 0;
	for (size_t i = from; rc == 0 && i < n; i++)
		rc = acl_copy_txn(txn, st, account, parent, v[i].id);
	return rc;
}

static int op_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct op_ctx *c = arg;
	struct changes ch = { .account = c->account };
	struct acct_rec a;
	struct mbx *v = NULL;
	struct mbx_ix ix = {0};
	size_t n = 0, cap;
	int rc;

	c->id = 0;
	c->modseq = 0;
	if ((rc = acct_get(txn, st, c->account, &a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	/* Room for what create_path() may add: c->name's levels (a create),
	 * c->to's (a rename). */
	size_t extra = c->kind == OP_CREATE ? name_levels(c->name)
		       : c->kind == OP_RENAME ? name_levels(c->to) : 0;
	/* SUBSCRIBE, DELETE and a sort order change their one mailbox (or
	 * none); DELETE asks has_kids() about the rest. */
	int one = c->kind == OP_SUBSCRIBE || c->kind == OP_SORT || c->kind == OP_DELETE ||
		  c->kind == OP_UIDS;
	if ((rc = one ? load_one(st, txn, c->account, c->name, &v, &n, &cap, &ix)
		      : load_all(st, txn, c->account, extra, &v, &n, &cap, &ix)) != 0)
		return rc;
	if (c->kind == OP_RENAME)
		ix_build(&ix, v, n); /* the name, the new one, its levels */
	struct mbx *f = c->kind == OP_CREATE ? NULL : find(st, &ix, v, n, c->name, strlen(c->name));
	if (c->kind != OP_CREATE && c->kind != OP_SUBSCRIBE && !f) {
		rc = STORE_ENOTFOUND;
		goto out;
	}
	if (f) /* its own spelling from here on (see the top) */
		memcpy(c->name, f->m.name, strlen(f->m.name) + 1);

	switch (c->kind) {
	case OP_CREATE: {
		uint32_t from = 0;
		size_t n0 = n;
		if (acting(c) &&
		    (rc = actor_may_make(txn, st, c, &ix, v, n, c->name, NULL, &from)) != 0)
			break;
		rc = create_path(st, txn, c->account, &a, v, &ix, &n, cap, c->name, &ch, 0, &c->id, NULL);
		if (rc == 0 && from)
			rc = inherit_grants(txn, st, c->account, from, v, n0, n);
		if (rc == 0 && c->role) {
			/* The leaf is the last one create_path() added. */
			v[n - 1].m.role = (uint8_t)c->role;
			rc = mbox_put(txn, st, c->account, v[n - 1].id, &v[n - 1].m);
		}
		break;
	}
	case OP_SUBSCRIBE: {
		/* A name, existing or not (RFC 9051 §6.3.7); a mailbox of that
		 * name (f) is told as updated. */
		if (c->on && !f) {
			size_t nsub = 0;
			if ((rc = sub_count(st, txn, c->account, &nsub)) != 0)
				break;
			if (nsub >= st->mailbox_max && sub_has(txn, st, c->account, c->name) == 0) {
				rc = STORE_ELIMIT;
				break;
			}
		}
		rc = sub_set(txn, st, c->account, c->name, c->on);
		if (rc == 1) {
			rc = c->on ? 0 : STORE_ENOTFOUND;
			goto out; /* nothing to change */
		}
		if (rc == 0 && f) {
			c->id = f->id;
			change_add(&ch, CHANGE_MAILBOX_UPDATED, f->id, 0, 0);
		}
		break;
	}
	case OP_DELETE: {
		c->id = f->id;
		if (acting(c) && (rc = actor_may_remove(txn, st, c, f)) != 0)
			break;
		if (f->m.role == ROLE_INBOX) {
			rc = STORE_EINVAL;
			break;
		}
		int kids;
		if ((rc = has_kids(st, txn, c->account, acting(c) ? c->actor : 0, c->name, &kids)) !=
		    0)
			break;
		if (kids) {
			/* has children; one the actor may not see is not told
			 * (RFC 4314 §6): it is refused as a right it lacks,
			 * as RENAME is when a mailbox that would move is not
			 * the actor's to remove. */
			rc = kids == 2 ? STORE_EACCES : STORE_EEXIST;
			goto out;
		}
		uint32_t *uids;
		size_t nu;
		if ((rc = mailbox_uids(st, txn, c->account, f->id, &uids, &nu)) != 0)
			break;
		rc = store_expunge_txn(st, txn, c->account, f->id, uids, nu);
		free(uids);
		if (rc)
			break;
		/* The expunge rewrote the account record: read it again. */
		if ((rc = acct_get(txn, st, c->account, &a)) != 0)
			break;
		uint8_t kb[8];
		MDB_val k = key_u32_u32(kb, c->account, f->id);
		if ((rc = mdb_del(txn, st->db[DB_MAILBOX], &k, NULL)) != 0)
			break;
		if ((rc = meta_drop_mailbox(txn, st, c->account, f->id)) != 0)
			break;
		if ((rc = acl_drop_mailbox_txn(txn, st, c->account, f->id)) != 0)
			break;
		/* Its counters went to zero with the expunge (and so away);
		 * another trash may now be the one unread threads split on. */
		if (f->m.role == ROLE_TRASH && (rc = recount(st, txn, c->account, v, n, &ch)) != 0)
			break;
		change_add(&ch, CHANGE_MAILBOX_DESTROYED, f->id, 0, 0);
		break;
	}
	case OP_SORT:
		c->id = f->id;
		if (f->m.sort_order == c->sort_order)
			goto out; /* nothing to change */
		f->m.sort_order = c->sort_order;
		if ((rc = mbox_put(txn, st, c->account, f->id, &f->m)) == 0)
			change_add(&ch, CHANGE_MAILBOX_UPDATED, f->id, 0, 0);
		break;
	case OP_ROLE:
		c->id = f->id;
		rc = give_role(st, txn, c, v, n, f, &ch);
		break;
	case OP_ROLE_SET:
		c->id = f->id;
		rc = set_role(st, txn, c, v, n, f, &ch);
		break;
	case OP_UIDS:
		c->id = f->id;
		rc = keep_uids(st, txn, c, f, &ch);
		break;
	case OP_RENAME: {
		size_t flen = strlen(c->name), tlen = strlen(c->to), n0 = n;
		uint32_t from = 0;
		c->id = f->id;
		if (acting(c)) {
			if ((rc = actor_may_remove(txn, st, c, f)) != 0)
				break;
			/* Its messages would go to a new mailbox: the owner's
			 * own to do (Cyrus lets only the owner rename an INBOX). */
			if (f->m.role == ROLE_INBOX) {
				rc = STORE_EINVAL;
				break;
			}
			if ((rc = actor_may_make(txn, st, c, &ix, v, n, c->to, f, &from)) != 0)
				break;
		}
		struct mbx *t = find(st, &ix, v, n, c->to, tlen);
		/* Only f itself may be there: a name stored before NFC renamed
		 * to its NFC spelling. */
		if (t && (t != f || !strcmp(c->to, c->name))) {
			rc = STORE_EEXIST;
			break;
		}
		if (f->m.role == ROLE_INBOX) {
			/* RFC 3501 §6.3.5: a new mailbox takes INBOX's messages;
			 * INBOX stays, empty; its children do not move. */
			uint32_t id;
			if ((rc = create_path(st, txn, c->account, &a, v, &ix, &n, cap, c->to, &ch, 0, &id, NULL)) != 0)
				break;
			struct mbx *dst = find(st, &ix, v, n, c->to, tlen);
			struct mbx *inbox = find(st, &ix, v, n, "INBOX", 5);
			if ((rc = move_inbox(st, txn, c, inbox, dst, &ch, a.modseq)) != 0)
				break;
			c->id = dst->id;
			if ((rc = mbox_put(txn, st, c->account, inbox->id, &inbox->m)) != 0 ||
			    (rc = mbox_put(txn, st, c->account, dst->id, &dst->m)) != 0)
				break;
			break;
		}
		char fnfc[STORE_MAILBOX_NAME_MAX + 1];
		size_t fnl = unorm_nfc_str(c->name, fnfc, sizeof fnfc) == 0 ? strlen(fnfc) : 0;
		if ((tlen > flen && strncmp(c->to, c->name, flen) == 0 && c->to[flen] == '/') ||
		    (fnl && tlen > fnl && strncmp(c->to, fnfc, fnl) == 0 && c->to[fnl] == '/')) {
			rc = STORE_EINVAL; /* into itself */
			break;
		}
		/* The new names, checked before anything is written. */
		for (size_t i = 0; i < n; i++) {
			const char *nm = v[i].m.name;
			if (strncmp(nm, c->name, flen) != 0 || (nm[flen] != '\0' && nm[flen] != '/'))
				continue;
			/* The mailboxes under f move with it: another account
			 * renames each only with "x" on it, as f itself. One it
			 * may not see makes the rename not its own to do (an
			 * EACCES, not an ENOTFOUND: f is there for it). */
			if (acting(c) && v[i].id != f->id &&
			    (rc = actor_may_remove(txn, st, c, &v[i])) != 0) {
				if (rc == STORE_ENOTFOUND)
					rc = STORE_EACCES;
				goto out;
			}
			if (tlen + strlen(nm + flen) > st->mailbox_name_max) {
				rc = STORE_ETOOBIG;
				goto out;
			}
		}
		/* The new parent chain first (it may create mailboxes). */
		uint32_t parent = 0;
		const char *slash = strrchr(c->to, '/');
		if (slash) {
			char pname[STORE_MAILBOX_NAME_MAX + 1];
			memcpy(pname, c->to, (size_t)(slash - c->to));
			pname[slash - c->to] = '\0';
			char sp[STORE_MAILBOX_NAME_MAX + 1];
			if ((rc = create_path(st, txn, c->account, &a, v, &ix, &n, cap, pname, &ch, 1, &parent,
					      sp)) != 0)
				break;
			if (from && (rc = inherit_grants(txn, st, c->account, from, v, n0, n)) != 0)
				break;
			/* The parents' stored spelling (see the top). */
			size_t spl = strlen(sp), leaf = tlen - (size_t)(slash - c->to);
			if (spl + leaf > st->mailbox_name_max) {
				rc = STORE_ETOOBIG;
				break;
			}
			memmove(c->to + spl, slash, leaf + 1);
			memcpy(c->to, sp, spl);
			tlen = spl + leaf;
		}
		for (size_t i = 0; i < n; i++) {
			struct mbox_rec *m = &v[i].m;
			if (strncmp(m->name, c->name, flen) != 0 ||
			    (m->name[flen] != '\0' && m->name[flen] != '/'))
				continue;
			char nn[STORE_MAILBOX_NAME_MAX + 1];
			size_t rest = strlen(m->name + flen);
			memcpy(nn, c->to, tlen);
			memcpy(nn + tlen, m->name + flen, rest + 1);
			memcpy(m->name, nn, tlen + rest + 1);
			if (m->name[tlen] == '\0')
				m->parent = parent;
			if ((rc = mbox_put(txn, st, c->account, v[i].id, m)) != 0)
				goto out;
			change_add(&ch, CHANGE_MAILBOX_UPDATED, v[i].id, 0, 0);
		}
		break;
	}
	}
	if (rc || ch.n == 0)
		goto out;
	size_t nentries = ch.n;
	if ((rc = change_flush(st, txn, &ch, &a)) != 0)
		goto out;
	c->modseq = a.modseq;
	/* Every mailbox this call wrote takes the modseq as its highest. */
	for (size_t i = 0; i < nentries; i++) {
		const uint8_t *e = ch.rec + 3 + i * CHANGE_ENTRY_SIZE;
		if (e[0] == CHANGE_MAILBOX_DESTROYED)
			continue;
		uint32_t id = e[0] == CHANGE_EMAIL_UPDATED ? be32_get(e + 5) : be32_get(e + 1);
		struct mbox_rec m;
		if ((rc = mbox_get(txn, st, c->account, id, &m)) != 0) {
			if (rc == MDB_NOTFOUND)
				continue;
			goto out;
		}
		m.highest_modseq = a.modseq;
		if ((rc = mbox_put(txn, st, c->account, id, &m)) != 0)
			goto out;
	}
	rc = acct_put(txn, st, c->account, &a);
out:
	free(v);
	free(ix.head);
	free(ch.rec);
	return rc;
}

static int run_op(struct store *st, struct op_ctx *c, uint32_t *id_r)
{
	int rc = store_write(st, op_fn, c);
	if (rc != STORE_OK)
		return rc;
	if (id_r)
		*id_r = c->id;
	if (c->modseq)
		store_publish_change(st, c->account, c->modseq);
	return STORE_OK;
}

void store_mailbox_limits(struct store *st, unsigned max_mailboxes, unsigned max_name)
{
	st->mailbox_max = max_mailboxes && max_mailboxes < OPS_MAX_MAILBOXES ? max_mailboxes
									     : OPS_MAX_MAILBOXES;
	st->mailbox_name_max = max_name && max_name < STORE_MAILBOX_NAME_MAX ? max_name
									      : STORE_MAILBOX_NAME_MAX;
}

int store_mailbox_create(struct store *st, uint32_t account, const char *name, uint32_t *mailbox_r)
{
	return store_mailbox_create_as(st, account, account, name, mailbox_r);
}

int store_mailbox_name_creatable(struct store *st, const char *name)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	return new_name(st, name, norm);
}

int mailbox_rename_txn(struct store *st, MDB_txn *txn, uint32_t account, const char *from,
		       const char *to)
{
	struct op_ctx c = { .kind = OP_RENAME, .account = account };
	if (name_norm(from, c.name) < 0)
		return STORE_ENOTFOUND;
	int rc = new_name(st, to, c.to);
	return rc == STORE_OK ? op_fn(st, txn, &c) : rc;
}

int store_mailbox_rename(struct store *st, uint32_t account, const char *from, const char *to)
{
	return store_mailbox_rename_as(st, account, account, from, to);
}

int store_mailbox_rename_as(struct store *st, uint32_t actor, uint32_t owner, const char *from,
			    const char *to)
{
	struct op_ctx c = { .kind = OP_RENAME, .account = owner, .actor = actor };
	if (name_norm(from, c.name) < 0)
		return STORE_ENOTFOUND;
	int rc = new_name(st, to, c.to);
	if (rc != STORE_OK)
		return rc;
	if (strcmp(c.to, "INBOX") == 0)
		return STORE_EEXIST;
	/* RENAME INBOX INBOX/old is allowed: INBOX is not moved (its
	 * messages are, into a new mailbox), so it does not go into itself
	 * (RFC 9051 §6.3.6 sets no exception for a child of INBOX). */
	return run_op(st, &c, NULL);
}

int store_mailbox_delete(struct store *st, uint32_t account, const char *name)
{
	return store_mailbox_delete_as(st, account, account, name);
}

int store_mailbox_create_as(struct store *st, uint32_t actor, uint32_t owner, const char *name,
			    uint32_t *mailbox_r)
{
	struct op_ctx c = { .kind = OP_CREATE, .account = owner, .actor = actor };
	int rc = new_name(st, name, c.name);
	return rc == STORE_OK ? run_op(st, &c, mailbox_r) : rc;
}

int store_mailbox_delete_as(struct store *st, uint32_t actor, uint32_t owner, const char *name)
{
	struct op_ctx c = { .kind = OP_DELETE, .account = owner, .actor = actor };
	if (name_norm(name, c.name) < 0)
		return STORE_ENOTFOUND;
	return run_op(st, &c, NULL);
}

int store_mailbox_subscribe(struct store *st, uint32_t account, const char *name, int on)
{
	struct op_ctx c = { .kind = OP_SUBSCRIBE, .account = account, .on = on };
	if (on && strlen(name) > st->mailbox_name_max)
		return STORE_ETOOBIG;
	if (name_norm(name, c.name) < 0)
		return on ? STORE_EINVAL : STORE_ENOTFOUND;
	return run_op(st, &c, NULL);
}

int store_mailbox_sort_order(struct store *st, uint32_t account, const char *name, uint32_t order)
{
	struct op_ctx c = { .kind = OP_SORT, .account = account, .sort_order = order };
	if (name_norm(name, c.name) < 0)
		return STORE_ENOTFOUND;
	return run_op(st, &c, NULL);
}

/* A role a mailbox can be given ("sent" .. "snoozed"), ROLE_NONE for
 * another (INBOX's is its own). */
static unsigned role_given(const char *role)
{
	for (unsigned r = ROLE_SENT; r < ROLE_COUNT; r++)
		if (strcmp(role, mbox_role_name(r)) == 0)
			return r;
	return ROLE_NONE;
}

int store_mailbox_create_role(struct store *st, uint32_t account, const char *name,
			      const char *role, uint32_t *mailbox_r)
{
	struct op_ctx c = { .kind = OP_CREATE, .account = account, .role = role_given(role) };
	if (!c.role)
		return STORE_EINVAL;
	int rc = new_name(st, name, c.name);
	return rc == STORE_OK ? run_op(st, &c, mailbox_r) : rc;
}

int store_mailbox_set_role(struct store *st, uint32_t account, const char *name, const char *role)
{
	struct op_ctx c = { .kind = OP_ROLE, .account = account, .role = role_given(role) };
	if (!c.role)
		return STORE_EINVAL;
	if (name_norm(name, c.name) < 0)
		return STORE_ENOTFOUND;
	return run_op(st, &c, NULL);
}

int store_mailbox_uids_keep(struct store *st, uint32_t account, const char *name,
			    uint32_t uidvalidity, uint32_t uidnext, uint32_t *uidnext_r)
{
	struct op_ctx c = { .kind = OP_UIDS, .account = account, .uidvalidity = uidvalidity,
			    .uidnext = uidnext };
	if (uidvalidity == 0 || uidnext > STORE_UID_KEEP_MAX + 1)
		return STORE_EINVAL;
	if (name_norm(name, c.name) < 0)
		return STORE_ENOTFOUND;
	int rc = run_op(st, &c, NULL);
	if (uidnext_r && (rc == STORE_OK || rc == STORE_EEXIST))
		*uidnext_r = c.uidnext;
	return rc;
}

int store_mailbox_role_valid(const char *role)
{
	return role_given(role) != ROLE_NONE;
}

int store_mailbox_role(struct store *st, uint32_t account, const char *name, const char *role)
{
	struct op_ctx c = { .kind = OP_ROLE_SET, .account = account,
			    .role = role ? role_given(role) : ROLE_NONE };
	if (role && !c.role)
		return STORE_EINVAL;
	if (name_norm(name, c.name) < 0)
		return STORE_ENOTFOUND;
	return run_op(st, &c, NULL);
}

/*
 * A delivery's named target (Sieve fileinto), inside the writer's
 * transaction so a created mailbox commits with the message: the
 * mailbox named name, created with its missing parents when create is set
 * under IMAP CREATE's rules (name syntax, the configured length and
 * count limits). 0 with *mailbox_r; 1 with *why_r when the copy must go
 * to the INBOX instead (no such mailbox, a bad name, a limit); otherwise
 * an LMDB error that fails the batch.
 */
int mbox_for_delivery(struct store *st, MDB_txn *txn, uint32_t account, const char *name,
		      int create, uint32_t *mailbox_r, const char **why_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	struct changes ch = { .account = account };
	struct acct_rec a;
	struct mbx *v = NULL;
	struct mbx_ix ix = {0};
	size_t n = 0, cap;
	int rc;

	if (name_norm(name, norm) < 0) {
		*why_r = "bad_name";
		return 1;
	}
	/* The usual case, an existing mailbox, reads only that one. */
	if ((rc = load_one(st, txn, account, norm, &v, &n, &cap, &ix)) != 0)
		return rc;
	if (n) {
		*mailbox_r = v[0].id;
		goto out;
	}
	if (!create) {
		*why_r = "no_such_mailbox";
		rc = 1;
		goto out;
	}
	free(v);
	v = NULL;
	if ((rc = load_all(st, txn, account, name_levels(norm), &v, &n, &cap, &ix)) != 0)
		return rc;
	if (strlen(norm) > st->mailbox_name_max) {
		*why_r = "name_too_long";
		rc = 1;
		goto out;
	}
	if (!name_levels_ok(norm) || name_reserved(norm)) {
		*why_r = "bad_name";
		rc = 1;
		goto out;
	}
	if ((rc = acct_get(txn, st, account, &a)) != 0)
		goto out;
	rc = create_path(st, txn, account, &a, v, &ix, &n, cap, norm, &ch, 1, mailbox_r, NULL);
	int fallback = 0;
	if (rc == STORE_ELIMIT || rc == STORE_EINVAL) {
		/* Parents created before the limit stay (as with IMAP CREATE's
		 * parents: real mailboxes); the copy goes to the INBOX. */
		*why_r = rc == STORE_ELIMIT ? "too_many_mailboxes" : "bad_name";
		fallback = 1;
		rc = 0;
	}
	if (rc || ch.n == 0) {
		rc = rc ? rc : fallback;
		goto out;
	}
	size_t nentries = ch.n;
	if ((rc = change_flush(st, txn, &ch, &a)) != 0)
		goto out;
	for (size_t i = 0; i < nentries; i++) {
		/* The new mailboxes take the change's modseq as their highest. */
		uint32_t id = be32_get(ch.rec + 3 + i * CHANGE_ENTRY_SIZE + 1);
		struct mbox_rec m;
		if ((rc = mbox_get(txn, st, account, id, &m)) != 0)
			goto out;
		m.highest_modseq = a.modseq;
		if ((rc = mbox_put(txn, st, account, id, &m)) != 0)
			goto out;
	}
	if ((rc = acct_put(txn, st, account, &a)) == 0)
		rc = fallback;
out:
	free(v);
	free(ix.head);
	free(ch.rec);
	return rc;
}
