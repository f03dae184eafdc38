/*
 * store_sieve.c — Sieve scripts per account ("sieve") and the Sieve
 * memory of what was already answered or seen ("sieve_seen": vacation's
 * :days per sender, duplicate's ids), schema 8; scripts keyed by a hash
 * of the name since schema 14. Layouts in SCHEMA.md.
 *
 * An account has at most STORE_SIEVE_SCRIPTS_MAX scripts of at most
 * STORE_SIEVE_BYTES_MAX octets together, one of them active (a flag in
 * its record; activating one clears the others in the same transaction).
 * Scripts are few and small, so list and "which is active" walk the
 * account's keys. Names follow RFC 5804 §1.6: UTF-8, no control
 * characters, no U+2028/U+2029, 1..STORE_SIEVE_NAME_CHARS characters
 * (so at most STORE_SIEVE_NAME_MAX octets), in Net-Unicode's NFC (RFC
 * 5198, core/unorm.h): a name given in another form is stored and looked
 * up in NFC, so "é" as e + U+0301 and as U+00E9 name one script. A
 * script stored before names were normalised keeps its name (its key is
 * the hash of that spelling): when a name's NFC hash finds nothing, the
 * account's few scripts are walked for a canonically equivalent name and
 * the call goes on with the stored spelling; renaming it brings it to
 * NFC. Writes are administrative (ManageSieve, CLI, API) and synchronous.
 *
 * Keys: a name may have 512 octets and LMDB keys have at most 511 (the
 * default MDB_MAXKEYSIZE, which the vendored build keeps), so a record's
 * key is the account and a BLAKE2b-128 of the name, and the name is in
 * the value. A record read under a name's key whose stored name differs
 * (a hash collision, which nobody can produce) is MDB_CORRUPTED, never
 * another script. Keys sort by hash, so lists are sorted by name here.
 *
 * JMAP ids and state (RFC 9661, jmap_sieve.c): a script's id must not
 * change when it is renamed, so each script's id lives in meta
 * "sieve-id/<account %08x>/<name hash in hex>" (u32), moved by a rename
 * and dropped by a delete in the same transaction; ids come from meta
 * "sieve-next/<account>" and never repeat. Every write adds one to meta
 * "sieve-state/<account>", the account's SieveScript state. A script
 * without an id (none recorded) gets one the first time
 * store_sieve_index() sees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/unorm.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "store/store_private.h"

#define SIEVE_V2 2u    /* the record's version byte since schema 14 */
#define HDR 12         /* u8 version, u8 active, i64 updated_at, u16 name length */
#define HASH 16        /* BLAKE2b-128 of the name */
#define KEY (4 + HASH) /* u32 account, the hash */
#define OLD_HDR 10     /* schema 8..13: u8 version 1, u8 active, i64 updated_at */
#define OLD_NAME 128   /* schema 8..13: a name's octets at most */

_Static_assert(STORE_SIEVE_NAME_IN_MAX <= UNORM_CMP_MAX, "unorm_nfc_str() takes any name in");

/* 1 when name, already in NFC, is a valid script name. */
static int nfc_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_SIEVE_NAME_MAX || !utf8_valid(str_make(name, n)) ||
	    utf8_chars(str_make(name, n)) > STORE_SIEVE_NAME_CHARS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		/* U+0080..U+009F (C1 controls) and U+2028/U+2029 */
		if (c == 0xc2 && i + 1 < n && (unsigned char)name[i + 1] < 0xa0)
			return 0;
		if (c == 0xe2 && i + 2 < n && (unsigned char)name[i + 1] == 0x80 &&
		    ((unsigned char)name[i + 2] == 0xa8 || (unsigned char)name[i + 2] == 0xa9))
			return 0;
	}
	return 1;
}

/* RFC 5804 §1.6 limits a name "after encoding to Net-Unicode": its NFC
 * is what is counted and checked, so 128 "é" sent as e + U+0301 (256
 * code points) is a name, as it is in NFC. */
int store_sieve_name_nfc(const char *name, char nfc[STORE_SIEVE_NAME_MAX + 1])
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_SIEVE_NAME_IN_MAX || !utf8_valid(str_make(name, n)) ||
	    unorm_nfc_str(name, nfc, STORE_SIEVE_NAME_MAX + 1) < 0 || !nfc_name_valid(nfc)) {
		nfc[0] = '\0';
		return -1;
	}
	return 0;
}

int store_sieve_name_valid(const char *name)
{
	char nfc[STORE_SIEVE_NAME_MAX + 1];
	return store_sieve_name_nfc(name, nfc) == 0;
}

static void name_hash(const char *name, size_t n, uint8_t out[HASH])
{
	crypto_generichash(out, HASH, (const uint8_t *)name, n, NULL, 0);
}

static MDB_val script_key(uint8_t b[KEY], uint32_t account, const char *name)
{
	be32_put(b, account);
	name_hash(name, strlen(name), b + 4);
	return (MDB_val){KEY, b};
}

/* A script record as stored; pointers into the value. */
struct srec {
	const char *name; /* not NUL-terminated */
	size_t name_len;
	int active;
	const char *text;
	size_t text_len;
};

static int script_decode(const MDB_val *v, struct srec *r)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < HDR || p[0] != SIEVE_V2)
		return MDB_CORRUPTED;
	r->name_len = (size_t)p[10] << 8 | p[11];
	if (r->name_len == 0 || r->name_len > STORE_SIEVE_NAME_MAX ||
	    HDR + r->name_len > v->mv_size)
		return MDB_CORRUPTED;
	r->name = (const char *)p + HDR;
	r->active = p[1];
	r->text = r->name + r->name_len;
	r->text_len = v->mv_size - HDR - r->name_len;
	return 0;
}

static int script_is(const struct srec *r, const char *name)
{
	return name && strlen(name) == r->name_len && memcmp(r->name, name, r->name_len) == 0;
}

/* The record of name into r (whose pointers live as long as the
 * transaction and no write to DB_SIEVE): 0, MDB_NOTFOUND or an error. */
static int script_get(MDB_txn *txn, struct store *st, const MDB_val *k, const char *name,
                      struct srec *r)
{
	MDB_val v;
	int rc = mdb_get(txn, st->db[DB_SIEVE], (MDB_val *)k, &v);
	if (rc)
		return rc;
	if ((rc = script_decode(&v, r)) != 0)
		return rc;
	return script_is(r, name) ? 0 : MDB_CORRUPTED; /* another name, same hash */
}

/* Writes a record of name under k: active, updated_at, text. */
static int script_put(MDB_txn *txn, struct store *st, MDB_val *k, const char *name, int active,
                      int64_t updated_at, const char *text, size_t len)
{
	size_t n = strlen(name);
	MDB_val nv = {HDR + n + len, NULL};
	int rc = mdb_put(txn, st->db[DB_SIEVE], k, &nv, MDB_RESERVE);
	if (rc)
		return rc;
	uint8_t *p = nv.mv_data;
	p[0] = SIEVE_V2;
	p[1] = (uint8_t)active;
	be64_put(p + 2, (uint64_t)updated_at);
	p[10] = (uint8_t)(n >> 8);
	p[11] = (uint8_t)n;
	memcpy(p + HDR, name, n);
	if (len)
		memcpy(p + HDR + n, text, len);
	return 0;
}

/* Walks an account's scripts: fn(arg, key, value, record) for each; fn
 * returns non-zero to stop with that code. */
typedef int each_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r);

static int each_script(MDB_txn *txn, struct store *st, uint32_t account, each_fn *fn, void *arg)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	struct srec r;
	int rc = mdb_cursor_open(txn, st->db[DB_SIEVE], &cur);

	if (rc)
		return rc;
	be32_put(pfx, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size > 4 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KEY || (rc = script_decode(&v, &r)) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if ((rc = fn(arg, &k, &v, &r)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct usage {
	const char *except; /* a script whose old size does not count (being replaced) */
	size_t count, bytes;
};

static int usage_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	struct usage *u = arg;
	(void)k;
	(void)v;
	if (u->except && unorm_equal(r->name, r->name_len, u->except, strlen(u->except)))
		return 0;
	u->count++;
	u->bytes += r->text_len;
	return 0;
}

static int check_room(MDB_txn *txn, struct store *st, uint32_t account, const char *name,
                      size_t len)
{
	struct usage u = {name, 0, 0};
	int rc;
	if (len > STORE_SIEVE_BYTES_MAX)
		return STORE_ETOOBIG;
	if ((rc = each_script(txn, st, account, usage_fn, &u)) != 0)
		return rc;
	if (u.count + 1 > STORE_SIEVE_SCRIPTS_MAX || u.bytes + len > STORE_SIEVE_BYTES_MAX)
		return STORE_ELIMIT;
	return 0;
}

struct put_ctx {
	uint32_t account;
	const char *name, *newname;
	const char *text;
	size_t len;
	int64_t now;
	int kind; /* 0 put, 1 delete, 2 rename, 3 activate */
	/* kind 0: an activation (kind 3) made in the same transaction, or NULL */
	struct put_ctx *then;
	/* name and newname in NFC; a stored name from before NFC */
	char nfc[STORE_SIEVE_NAME_MAX + 1], newnfc[STORE_SIEVE_NAME_MAX + 1];
	char stored[STORE_SIEVE_NAME_MAX + 1];
};

struct equiv {
	const char *name;
	char *out;
};

static int equiv_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	struct equiv *e = arg;
	(void)k;
	(void)v;
	if (!unorm_equal(r->name, r->name_len, e->name, strlen(e->name)))
		return 0;
	memcpy(e->out, r->name, r->name_len);
	e->out[r->name_len] = '\0';
	return 1;
}

/* A script whose stored name is canonically equivalent to name (one
 * stored before names were NFC, see the top): 1 with its name in out
 * (STORE_SIEVE_NAME_MAX + 1), 0 when there is none, or an error. */
static int stored_equiv(MDB_txn *txn, struct store *st, uint32_t account, const char *name,
			char *out)
{
	struct equiv e = {name, out};
	return each_script(txn, st, account, equiv_fn, &e);
}

static int account_exists(MDB_txn *txn, struct store *st, uint32_t account)
{
	struct acct_rec a;
	if (account == STORE_SIEVE_GLOBAL)
		return 0; /* the administrator's global scripts */
	int rc = acct_get(txn, st, account, &a);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
}

static int active_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	MDB_txn *txn = ((void **)arg)[0];
	struct store *st = ((void **)arg)[1];
	const char *want = ((void **)arg)[2];
	int is = script_is(r, want);
	if (r->active == is)
		return 0;
	/* The cursor's key and value are read-only memory: put changed copies. */
	uint8_t *copy = malloc(v->mv_size);
	if (!copy)
		return ENOMEM;
	memcpy(copy, v->mv_data, v->mv_size);
	copy[1] = (uint8_t)is;
	MDB_val nv = {v->mv_size, copy};
	uint8_t kb[KEY];
	MDB_val key = {KEY, kb};
	memcpy(kb, k->mv_data, KEY);
	int rc = mdb_put(txn, st->db[DB_SIEVE], &key, &nv, 0);
	free(copy);
	return rc;
}

/* "sieve-id/<account>/<hash of name, hex>" into out (ID_KEY octets). */
#define ID_KEY 64
static void id_key(char out[ID_KEY], uint32_t account, const char *name)
{
	uint8_t h[HASH];
	int o = snprintf(out, ID_KEY, "sieve-id/%08x/", account);
	name_hash(name, strlen(name), h);
	for (int i = 0; i < HASH; i++)
		o += snprintf(out + o, (size_t)(ID_KEY - o), "%02x", h[i]);
}

/* A new id for a script of account, recorded under name. */
static int id_assign(MDB_txn *txn, struct store *st, uint32_t account, const char *name)
{
	char k[ID_KEY];
	uint32_t next = 1;
	int rc;

	snprintf(k, sizeof k, "sieve-next/%08x", account);
	if ((rc = meta_get_u32(txn, st, k, &next)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (next == 0)
		next = 1;
	if ((rc = meta_put_u32(txn, st, k, next + 1)) != 0)
		return rc;
	id_key(k, account, name);
	return meta_put_u32(txn, st, k, next);
}

static int state_bump(MDB_txn *txn, struct store *st, uint32_t account)
{
	char k[32];
	uint32_t v = 0;
	int rc;

	snprintf(k, sizeof k, "sieve-state/%08x", account);
	if ((rc = meta_get_u32(txn, st, k, &v)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	return meta_put_u32(txn, st, k, v + 1);
}

/* After a write of kind c->kind succeeded: the ids and the state. */
static int ids_after(MDB_txn *txn, struct store *st, const struct put_ctx *c, int found)
{
	char k[ID_KEY], k2[ID_KEY];
	MDB_val key;
	uint32_t id;
	int rc = 0;

	switch (c->kind) {
	case 0:
		if (!found)
			rc = id_assign(txn, st, c->account, c->name);
		break;
	case 1:
		id_key(k, c->account, c->name);
		key = (MDB_val){strlen(k), k};
		rc = mdb_del(txn, st->db[DB_META], &key, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
		break;
	case 2:
		id_key(k, c->account, c->name);
		id_key(k2, c->account, c->newname);
		rc = meta_get_u32(txn, st, k, &id);
		if (rc == MDB_NOTFOUND) {
			rc = id_assign(txn, st, c->account, c->newname);
			break;
		}
		key = (MDB_val){strlen(k), k};
		if (rc || (rc = mdb_del(txn, st->db[DB_META], &key, NULL)) != 0)
			break;
		rc = meta_put_u32(txn, st, k2, id);
		break;
	default:
		break;
	}
	return rc ? rc : state_bump(txn, st, c->account);
}

/* Renames the found script r under k to c->newname. */
static int apply_rename(struct store *st, MDB_txn *txn, struct put_ctx *c, MDB_val *k,
                        const struct srec *r, const MDB_val *v)
{
	uint8_t kb2[KEY];
	struct srec r2;
	char other[STORE_SIEVE_NAME_MAX + 1];
	MDB_val k2 = script_key(kb2, c->account, c->newname);
	int rc = script_get(txn, st, &k2, c->newname, &r2);
	if (rc == 0)
		return STORE_EEXIST;
	if (rc != MDB_NOTFOUND)
		return rc;
	/* Another script under an older spelling of the new name; the
	 * script itself is fine (brought to NFC). */
	if ((rc = stored_equiv(txn, st, c->account, c->newname, other)) < 0)
		return rc;
	if (rc == 1 && strcmp(other, c->name) != 0)
		return STORE_EEXIST;
	/* Copy the text out before the put may move pages. */
	char *text = malloc(r->text_len + 1);
	if (!text)
		return ENOMEM;
	memcpy(text, r->text, r->text_len);
	int64_t at = (int64_t)be64_get((const uint8_t *)v->mv_data + 2);
	rc = script_put(txn, st, &k2, c->newname, r->active, at, text, r->text_len);
	free(text);
	return rc ? rc : mdb_del(txn, st->db[DB_SIEVE], k, NULL);
}

static int sieve_apply(struct store *st, MDB_txn *txn, struct put_ctx *c, int *found_r)
{
	uint8_t kb[KEY];
	struct srec r;
	MDB_val k, v;
	int rc;

	if ((rc = account_exists(txn, st, c->account)) != 0)
		return rc;
	if (c->kind == 3 && !c->name[0]) {
		void *a[3] = {txn, st, NULL};
		return each_script(txn, st, c->account, active_fn, a);
	}
	k = script_key(kb, c->account, c->name);
	if ((rc = mdb_get(txn, st->db[DB_SIEVE], &k, &v)) == 0 &&
	    (rc = script_decode(&v, &r)) == 0 && !script_is(&r, c->name))
		rc = MDB_CORRUPTED; /* another name, same hash */
	if (rc == MDB_NOTFOUND) {
		/* under an older spelling? (see the top) */
		int e = stored_equiv(txn, st, c->account, c->name, c->stored);
		if (e < 0)
			return e;
		if (e == 1) {
			c->name = c->stored;
			k = script_key(kb, c->account, c->name);
			if ((rc = mdb_get(txn, st->db[DB_SIEVE], &k, &v)) == 0 &&
			    (rc = script_decode(&v, &r)) == 0 && !script_is(&r, c->name))
				rc = MDB_CORRUPTED;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	int found = rc == 0;
	*found_r = found;
	switch (c->kind) {
	case 0:
		if ((rc = check_room(txn, st, c->account, c->name, c->len)) != 0)
			return rc;
		return script_put(txn, st, &k, c->name, found ? r.active : 0, c->now, c->text,
		                  c->len);
	case 1:
		if (!found)
			return STORE_ENOTFOUND;
		if (r.active)
			return STORE_EACTIVE;
		return mdb_del(txn, st->db[DB_SIEVE], &k, NULL);
	case 2:
		if (!found)
			return STORE_ENOTFOUND;
		return apply_rename(st, txn, c, &k, &r, &v);
	default: {
		if (!found)
			return STORE_ENOTFOUND;
		void *a[3] = {txn, st, (void *)c->name};
		return each_script(txn, st, c->account, active_fn, a);
	}
	}
}

static int sieve_write_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct put_ctx *c = arg;
	int found = 0, then_found = 0;
	int rc = sieve_apply(st, txn, c, &found);
	if (!rc)
		rc = ids_after(txn, st, c, found);
	return rc || !c->then ? rc : sieve_apply(st, txn, c->then, &then_found);
}

/* The names of c checked and brought to NFC: 0, or STORE_EINVAL. */
static int sieve_names(struct put_ctx *c)
{
	if (!store_sieve_name_valid(c->name) && !(c->kind == 3 && c->name[0] == '\0'))
		return STORE_EINVAL;
	if (c->kind == 2 && !store_sieve_name_valid(c->newname))
		return STORE_EINVAL;
	/* NFC, still within the limits (a name that grows past them in
	 * NFC is refused as it would be if sent so) */
	if (unorm_nfc_str(c->name, c->nfc, sizeof c->nfc) < 0 ||
	    (c->name[0] && !store_sieve_name_valid(c->nfc)))
		return STORE_EINVAL;
	c->name = c->nfc;
	if (c->kind == 2) {
		if (unorm_nfc_str(c->newname, c->newnfc, sizeof c->newnfc) < 0 ||
		    !store_sieve_name_valid(c->newnfc))
			return STORE_EINVAL;
		c->newname = c->newnfc;
	}
	return 0;
}

static int sieve_write(struct store *st, struct put_ctx *c)
{
	if (sieve_names(c) || (c->then && sieve_names(c->then)))
		return STORE_EINVAL;
	int rc = store_write(st, sieve_write_fn, c);
	/* JMAP push tells SieveScript's state (its own, not the modseq):
	 * subscribers of the account learn that a script changed, whoever
	 * changed it (ManageSieve, the portal, JMAP). */
	uint64_t ms;
	if (rc == STORE_OK && c->account != STORE_SIEVE_GLOBAL &&
	    store_account_modseq(st, c->account, &ms) == STORE_OK)
		store_publish_change(st, c->account, ms);
	return rc;
}

int store_sieve_put(struct store *st, uint32_t account, const char *name, const char *text,
                    size_t len, int64_t now)
{
	struct put_ctx c = {.account = account, .name = name, .text = text, .len = len, .now = now, .kind = 0};
	return sieve_write(st, &c);
}

int store_sieve_put_activate(struct store *st, uint32_t account, const char *name,
                             const char *text, size_t len, int64_t now, const char *active)
{
	struct put_ctx a = {.account = account, .name = active ? active : "", .kind = 3};
	struct put_ctx c = {.account = account, .name = name, .text = text, .len = len, .now = now,
	                    .kind = 0, .then = &a};
	return sieve_write(st, &c);
}

int store_sieve_del(struct store *st, uint32_t account, const char *name)
{
	struct put_ctx c = {.account = account, .name = name, .kind = 1};
	return sieve_write(st, &c);
}

int store_sieve_rename(struct store *st, uint32_t account, const char *name, const char *newname)
{
	struct put_ctx c = {.account = account, .name = name, .newname = newname, .kind = 2};
	return sieve_write(st, &c);
}

int store_sieve_activate(struct store *st, uint32_t account, const char *name)
{
	struct put_ctx c = {.account = account, .name = name ? name : "", .kind = 3};
	return sieve_write(st, &c);
}

int store_sieve_get(struct store *st, uint32_t account, const char *name, struct buf *out,
                    int *active_r)
{
	MDB_txn *txn;
	uint8_t kb[KEY];
	struct srec r;
	int rc;

	char nfc[STORE_SIEVE_NAME_MAX + 1], stored[STORE_SIEVE_NAME_MAX + 1];
	if (!store_sieve_name_valid(name) || unorm_nfc_str(name, nfc, sizeof nfc) < 0)
		return STORE_ENOTFOUND;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	MDB_val k = script_key(kb, account, nfc);
	rc = script_get(txn, st, &k, nfc, &r);
	if (rc == MDB_NOTFOUND && stored_equiv(txn, st, account, nfc, stored) == 1) {
		k = script_key(kb, account, stored); /* an older spelling (see the top) */
		rc = script_get(txn, st, &k, stored, &r);
	}
	if (rc == 0) {
		if (active_r)
			*active_r = r.active;
		if (out && buf_append(out, r.text, r.text_len) < 0)
			rc = ENOMEM;
	}
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : store_mdb_code(rc);
}

/* The account's records gathered (in hash order) to be sorted by name. */
struct gather {
	struct srec *v;
	size_t n, cap;
};

static int gather_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	struct gather *g = arg;
	(void)k;
	(void)v;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : STORE_SIEVE_SCRIPTS_MAX;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = *r;
	return 0;
}

static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static int srec_cmp(const void *x, const void *y)
{
	const struct srec *a = x, *b = y;
	return name_cmp(a->name, a->name_len, b->name, b->name_len);
}

struct active_ctx {
	struct buf *text;
	char *name_r;
	int found;
};

static int find_active_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	struct active_ctx *c = arg;
	(void)k;
	(void)v;
	if (!r->active)
		return 0;
	c->found = 1;
	if (c->name_r) {
		memcpy(c->name_r, r->name, r->name_len);
		c->name_r[r->name_len] = '\0';
	}
	if (c->text && buf_append(c->text, r->text, r->text_len) < 0)
		return ENOMEM;
	return MDB_NOTFOUND; /* stop: one is active at most */
}

int store_sieve_list(struct store *st, uint32_t account, store_sieve_list_cb *cb, void *arg)
{
	struct gather g = {NULL, 0, 0};
	char name[STORE_SIEVE_NAME_MAX + 1];
	MDB_txn *txn;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = each_script(txn, st, account, gather_fn, &g);
	if (rc == 0 && g.n)
		qsort(g.v, g.n, sizeof *g.v, srec_cmp);
	/* cb runs inside the read transaction, the records' memory. */
	for (size_t i = 0; rc == 0 && i < g.n; i++) {
		memcpy(name, g.v[i].name, g.v[i].name_len);
		name[g.v[i].name_len] = '\0';
		cb(arg, name, g.v[i].active, g.v[i].text_len);
	}
	store_rd_end(st, txn);
	free(g.v);
	return store_mdb_code(rc);
}

int store_sieve_active(struct store *st, uint32_t account, struct buf *text,
                       char name_r[STORE_SIEVE_NAME_MAX + 1])
{
	struct active_ctx c = {text, name_r, 0};
	MDB_txn *txn;
	int rc;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = each_script(txn, st, account, find_active_fn, &c);
	store_rd_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_code(rc);
	return c.found ? STORE_OK : STORE_ENOTFOUND;
}

int store_sieve_room(struct store *st, uint32_t account, const char *name, size_t len)
{
	MDB_txn *txn;
	int rc;
	if (!store_sieve_name_valid(name))
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = check_room(txn, st, account, name, len);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/* ---- sieve_seen ---- */

static MDB_val seen_key(uint8_t b[36], uint32_t account, const uint8_t key[32])
{
	be32_put(b, account);
	memcpy(b + 4, key, 32);
	return (MDB_val){36, b};
}

int store_sieve_seen(struct store *st, uint32_t account, const uint8_t key[32], int64_t now)
{
	MDB_txn *txn;
	uint8_t kb[36];
	MDB_val k = seen_key(kb, account, key), v;
	int rc, seen = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_get(txn, st->db[DB_SIEVE_SEEN], &k, &v);
	if (rc == 0 && v.mv_size == 9 && ((uint8_t *)v.mv_data)[0] == REC_V1)
		seen = (int64_t)be64_get((uint8_t *)v.mv_data + 1) > now;
	store_rd_end(st, txn);
	if (rc && rc != MDB_NOTFOUND)
		return store_mdb_code(rc);
	return seen;
}

struct seen_ctx {
	uint32_t account;
	const uint8_t *key;
	int64_t expires;
};

static int seen_put_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct seen_ctx *c = arg;
	uint8_t kb[36], vb[9];
	MDB_val k = seen_key(kb, c->account, c->key), v = {9, vb};
	vb[0] = REC_V1;
	be64_put(vb + 1, (uint64_t)c->expires);
	return mdb_put(txn, st->db[DB_SIEVE_SEEN], &k, &v, 0);
}

int store_sieve_seen_put(struct store *st, uint32_t account, const uint8_t key[32],
                         int64_t expires)
{
	struct seen_ctx c = {account, key, expires};
	return store_write(st, seen_put_fn, &c);
}

int store_sieve_seen_put_txn(struct store *st, MDB_txn *txn, const struct store_seen *e)
{
	struct seen_ctx c = {e->account, e->key, e->expires};
	return seen_put_fn(st, txn, &c);
}

/* Deletes expired sieve_seen entries, at most max per call. */
static int seen_sweep_fn(struct store *st, MDB_txn *txn, void *arg)
{
	int64_t now = *(int64_t *)arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_SIEVE_SEEN], &cur), n = 0;
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 10000;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size != 9 || (int64_t)be64_get((uint8_t *)v.mv_data + 1) <= now) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			n++;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_sieve_seen_sweep(struct store *st, int64_t now)
{
	return store_write(st, seen_sweep_fn, &now);
}

/* ---- JMAP's view: ids and state (see the top of the file) ---- */

struct index_ctx {
	MDB_txn *txn;
	struct store *st;
	uint32_t account;
	struct store_sieve_info *out;
	size_t n, missing;
	int assign; /* inside a write: give ids to scripts without one */
};

static int index_fn(void *arg, MDB_val *k, MDB_val *v, const struct srec *r)
{
	struct index_ctx *c = arg;
	char key[ID_KEY];
	uint32_t id = 0;
	int rc;

	(void)k;
	(void)v;
	if (c->n == STORE_SIEVE_SCRIPTS_MAX)
		return MDB_NOTFOUND; /* more than the limit allows: the first ones */
	struct store_sieve_info *i = &c->out[c->n];
	memcpy(i->name, r->name, r->name_len);
	i->name[r->name_len] = '\0';
	i->active = r->active;
	i->size = r->text_len;
	id_key(key, c->account, i->name);
	rc = meta_get_u32(c->txn, c->st, key, &id);
	if (rc == MDB_NOTFOUND && c->assign) {
		if ((rc = id_assign(c->txn, c->st, c->account, i->name)) != 0 ||
		    (rc = meta_get_u32(c->txn, c->st, key, &id)) != 0)
			return rc;
	} else if (rc == MDB_NOTFOUND) {
		c->missing++;
	} else if (rc) {
		return rc;
	}
	i->id = id;
	c->n++;
	return 0;
}

static int index_assign_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct index_ctx *c = arg;
	c->txn = txn;
	c->n = c->missing = 0;
	int rc = each_script(txn, st, c->account, index_fn, c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int info_cmp(const void *x, const void *y)
{
	return strcmp(((const struct store_sieve_info *)x)->name,
	              ((const struct store_sieve_info *)y)->name);
}

int store_sieve_index(struct store *st, uint32_t account,
                      struct store_sieve_info out[STORE_SIEVE_SCRIPTS_MAX], size_t *n_r,
                      uint32_t *state_r)
{
	struct index_ctx c = {NULL, st, account, out, 0, 0, 0};
	char key[32];
	MDB_txn *txn;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		if (store_rd_begin(st, &txn) != 0)
			return STORE_ETEMP;
		c.txn = txn;
		c.n = c.missing = 0;
		rc = each_script(txn, st, account, index_fn, &c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		snprintf(key, sizeof key, "sieve-state/%08x", account);
		*state_r = 0;
		if (rc == 0 && (rc = meta_get_u32(txn, st, key, state_r)) == MDB_NOTFOUND)
			rc = 0;
		store_rd_end(st, txn);
		if (rc || !c.missing)
			break;
		/* Scripts without ids: give them theirs, then read again. */
		c.assign = 1;
		rc = store_write(st, index_assign_fn, &c);
		c.assign = 0;
		if (rc)
			return rc;
	}
	if (c.n)
		qsort(out, c.n, sizeof *out, info_cmp);
	*n_r = c.n;
	return store_mdb_code(rc);
}

/* ---- schema 13 -> 14 ---- */

/* One script of the old layout: its key (account, name) and its id. */
struct old_script {
	uint32_t account;
	char name[OLD_NAME + 1];
	uint32_t id;
	int has_id;
};

/* Step 1: every old key. A record schema 13 could not have written is
 * left where it is, logged: the account's script list reports it as
 * damaged, as it did before, and the store (the mail) still opens. */
static int gather_old(MDB_txn *txn, struct store *st, struct old_script **v_r, size_t *n_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t cap = 0;
	int rc = mdb_cursor_open(txn, st->db[DB_SIEVE], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;
		size_t n = k.mv_size - 4;
		if (k.mv_size <= 4 || n > OLD_NAME || v.mv_size < OLD_HDR || p[0] != REC_V1 ||
		    memchr((const char *)k.mv_data + 4, '\0', n)) {
			log_warn("store", NULL, "event=sieve_record_damaged account=%08x key_octets=%zu "
			         "action=left_unmigrated", k.mv_size >= 4 ? be32_get(k.mv_data) : 0,
			         k.mv_size);
			continue;
		}
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 64;
			*v_r = xrealloc(*v_r, cap * sizeof **v_r);
		}
		struct old_script *o = &(*v_r)[(*n_r)++];
		o->account = be32_get(k.mv_data);
		memcpy(o->name, (const char *)k.mv_data + 4, n);
		o->name[n] = '\0';
		o->id = 0;
		o->has_id = 0;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Step 2 for one script: its old record moved under the new key. A new
 * key already taken (a hash equal to a name not yet moved) stops the
 * migration, which then changes nothing. */
static int move_record(MDB_txn *txn, struct store *st, const struct old_script *o)
{
	uint8_t ob[4 + OLD_NAME], nb[KEY];
	size_t n = strlen(o->name);
	MDB_val ok = {4 + n, ob}, v, probe;
	be32_put(ob, o->account);
	memcpy(ob + 4, o->name, n);
	int rc = mdb_get(txn, st->db[DB_SIEVE], &ok, &v);
	if (rc)
		return rc;
	const uint8_t *p = v.mv_data;
	size_t len = v.mv_size - OLD_HDR;
	char *text = malloc(len + 1);
	if (!text)
		return ENOMEM;
	memcpy(text, p + OLD_HDR, len);
	int active = p[1];
	int64_t at = (int64_t)be64_get(p + 2);
	MDB_val nk = script_key(nb, o->account, o->name);
	if ((rc = mdb_del(txn, st->db[DB_SIEVE], &ok, NULL)) == 0) {
		rc = mdb_get(txn, st->db[DB_SIEVE], &nk, &probe);
		if (rc == 0)
			rc = MDB_CORRUPTED;
		else if (rc == MDB_NOTFOUND)
			rc = script_put(txn, st, &nk, o->name, active, at, text, len);
	}
	free(text);
	return rc;
}

/*
 * Schema 14: keys were (account, name), which cannot hold a name of 512
 * octets; now (account, hash), the name in the value (SCHEMA.md). The
 * old keys are gathered first so no cursor walks records being moved;
 * every old id entry is read and deleted before any new one is written,
 * so an old name that happens to spell another's new id key loses
 * nothing.
 */
int sieve_migrate_hashed(MDB_txn *txn, struct store *st)
{
	struct old_script *v = NULL;
	size_t n = 0;
	char k[64 + OLD_NAME];
	int rc = gather_old(txn, st, &v, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(k, sizeof k, "sieve-id/%08x/%s", v[i].account, v[i].name);
		rc = meta_get_u32(txn, st, k, &v[i].id);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		MDB_val key = {strlen(k), k};
		if (rc == 0 && (rc = mdb_del(txn, st->db[DB_META], &key, NULL)) == 0)
			v[i].has_id = 1;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = move_record(txn, st, &v[i]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!v[i].has_id)
			continue;
		id_key(k, v[i].account, v[i].name);
		rc = meta_put_u32(txn, st, k, v[i].id);
	}
	free(v);
	return rc;
}
