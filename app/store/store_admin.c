/*
 * store_admin.c — domains, accounts and aliases.
 *
 * These changes are rare and come from the CLI or the admin API, so each is
 * its own synchronous write transaction through store_write() (which grows
 * the map when needed and serialises with the writer thread and with other
 * processes through LMDB's writer lock). Password hashing — tens of
 * milliseconds of argon2id — happens before the transaction begins, never
 * while holding LMDB's single writer slot.
 *
 * Invariants kept here (see SCHEMA.md): an account's domain exists; the
 * name index and the principal record agree; account ids are never reused
 * (counter in meta); every account has mailboxes 1..6 with the six roles,
 * mailbox 1 being INBOX; an alias's domain exists.
 */
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/password.h"
#include "auth/scram_login.h"
#include "core/log.h"
#include "core/punycode.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "store/store_private.h"

_Static_assert(STORE_HASH_MAX == PASSWORD_HASH_MAX, "hash buffer sizes agree");

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Key of the domain part of a canonical address. */
static MDB_val domain_key(const char *addr, size_t at)
{
	return (MDB_val){strlen(addr + at + 1), (void *)(addr + at + 1)};
}

/* 1 when the canonical address s ends with "@" domain. */
static int in_domain(const void *s, size_t n, const char *domain, size_t dn)
{
	const char *p = s;
	return n > dn && p[n - dn - 1] == '@' && memcmp(p + n - dn, domain, dn) == 0;
}

/* Account id of a canonical address through the name index. */
int name_lookup(MDB_txn *txn, struct store *st, const char *addr, uint32_t *id_r)
{
	MDB_val k = {strlen(addr), (void *)addr}, v;
	int rc = mdb_get(txn, st->db[DB_PRINCIPAL_NAME], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size < 6 || ((uint8_t *)v.mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	*id_r = be32_get((uint8_t *)v.mv_data + 2);
	return 0;
}

/* ---- domains ---- */

struct domain_ctx {
	char name[STORE_DOMAIN_MAX + 1];
	char other[STORE_DOMAIN_MAX + 1]; /* add: its other IDN spelling, or "" */
	store_write_fn *then;             /* add: more of the same write, or NULL */
	void *then_ctx;
	char *err;
	size_t errsz;
};

static int domain_add_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct domain_ctx *c = ctx;
	uint8_t rec[9];
	MDB_val k = {strlen(c->name), c->name}, v = {sizeof rec, rec};

	rec[0] = REC_V1;
	be64_put(rec + 1, (uint64_t)now_s());
	/* An A-label and its U-label are one domain (RFC 5890 §2.3.2.1):
	 * served in one spelling, it is not added again in the other. */
	if (c->other[0]) {
		MDB_val ok = {strlen(c->other), c->other}, ov;
		int orc = mdb_get(txn, st->db[DB_DOMAIN], &ok, &ov);
		if (orc == 0)
			return store_err(c->err, c->errsz, STORE_EEXIST,
			                 "domain %s already exists as %s", c->name, c->other);
		if (orc != MDB_NOTFOUND)
			return orc;
	}
	int rc = mdb_put(txn, st->db[DB_DOMAIN], &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return store_err(c->err, c->errsz, STORE_EEXIST, "domain %s already exists",
		                 c->name);
	if (rc == 0 && c->then)
		rc = c->then(st, txn, c->then_ctx);
	return rc;
}

int store_domain_add(struct store *st, const char *domain, char *err, size_t errsz)
{
	return store_domain_add_then(st, domain, NULL, NULL, err, errsz);
}

int store_domain_add_then(struct store *st, const char *domain, store_write_fn *then,
                          void *then_ctx, char *err, size_t errsz)
{
	struct domain_ctx c = {.then = then, .then_ctx = then_ctx, .err = err, .errsz = errsz};

	if (name_domain(domain, c.name, sizeof c.name) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid domain name");
	punycode_domain_other(str_c(c.name), c.other, sizeof c.other);
	int rc = store_write(st, domain_add_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=domain_add domain=%s", c.name);
	return rc;
}

static int domain_del_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct domain_ctx *c = ctx;
	size_t dn = strlen(c->name);
	MDB_val k = {dn, c->name}, key, val;
	MDB_cursor *cur;
	int rc;

	rc = mdb_get(txn, st->db[DB_DOMAIN], &k, &val);
	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no domain %s", c->name);
	if (rc)
		return rc;

	/* Accounts of the domain: a full scan of the name index (few accounts). */
	rc = mdb_cursor_open(txn, st->db[DB_PRINCIPAL_NAME], &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (in_domain(key.mv_data, key.mv_size, c->name, dn)) {
			mdb_cursor_close(cur);
			return store_err(c->err, c->errsz, STORE_EEXIST,
			                 "domain %s still has accounts", c->name);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;

	/* Its aliases (and catch-all) would dangle: they go with it. */
	rc = mdb_cursor_open(txn, st->db[DB_ALIAS], &cur);
	if (rc)
		return rc;
	rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	while (rc == 0) {
		if (in_domain(key.mv_data, key.mv_size, c->name, dn)) {
			char kb[STORE_ADDR_MAX + 1];
			MDB_val again = {key.mv_size, kb};
			if (key.mv_size > sizeof kb) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(kb, key.mv_data, key.mv_size);
			if ((rc = mdb_cursor_del(cur, MDB_NODUPDATA)) != 0)
				break;
			/* Re-seek rather than trust the cursor's position after a delete. */
			rc = mdb_cursor_get(cur, &again, &val, MDB_SET_RANGE);
			key = again;
			continue;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_NODUP);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* Its DKIM keys: a domain added again gets new ones. */
	if ((rc = mdb_del(txn, st->db[DB_DKIM], &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* Its DMARC reports (keys: the domain, a NUL, the rest). */
	if ((rc = mdb_cursor_open(txn, st->db[DB_DMARC_REPORT], &cur)) != 0)
		return rc;
	for (;;) {
		MDB_val pk = {dn + 1, c->name};
		rc = mdb_cursor_get(cur, &pk, &val, MDB_SET_RANGE);
		if (rc || pk.mv_size <= dn || memcmp(pk.mv_data, c->name, dn + 1) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	return mdb_del(txn, st->db[DB_DOMAIN], &k, NULL);
}

int store_domain_del(struct store *st, const char *domain, char *err, size_t errsz)
{
	struct domain_ctx c = {.err = err, .errsz = errsz};

	if (name_domain(domain, c.name, sizeof c.name) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid domain name");
	int rc = store_write(st, domain_del_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=domain_del domain=%s", c.name);
	return rc;
}

int store_domain_is_local(struct store *st, const char *domain)
{
	char name[STORE_DOMAIN_MAX + 1];
	MDB_txn *txn;
	MDB_val v;

	if (name_domain(domain, name, sizeof name) != 0)
		return 0;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	MDB_val k = {strlen(name), name};
	int rc = mdb_get(txn, st->db[DB_DOMAIN], &k, &v);
	store_rd_end(st, txn);
	if (rc == 0)
		return 1;
	return rc == MDB_NOTFOUND ? 0 : STORE_ETEMP;
}

int store_domain_served(struct store *st, const char *domain)
{
	char alt[STORE_DOMAIN_MAX + 1];
	int rc = store_domain_is_local(st, domain);

	if (rc != 0 || punycode_domain_other(str_c(domain), alt, sizeof alt) == 0)
		return rc;
	return store_domain_is_local(st, alt);
}

void store_served_spelling(struct store *st, char *addr, size_t addrsz)
{
	char *at = strrchr(addr, '@'), alt[STORE_DOMAIN_MAX + 1];
	size_t n;

	if (!at)
		return;
	n = punycode_domain_other(str_c(at + 1), alt, sizeof(alt));
	if (n == 0 || (size_t)(at + 1 - addr) + n + 1 > addrsz)
		return;
	if (store_domain_is_local(st, at + 1) != 0 || store_domain_is_local(st, alt) != 1)
		return;
	memcpy(at + 1, alt, n + 1);
}

int store_domain_list(struct store *st, store_domain_cb *cb, void *arg)
{
	char name[STORE_DOMAIN_MAX + 1];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_DOMAIN], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size >= sizeof name)
				continue;
			memcpy(name, k.mv_data, k.mv_size);
			name[k.mv_size] = '\0';
			cb(arg, name);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

/* ---- accounts ---- */

struct acct_ctx {
	char addr[STORE_ADDR_MAX + 1];
	size_t at;
	char hash[STORE_HASH_MAX];
	char scram[2][STORE_SCRAM_SEALED_MAX]; /* the SCRAM keys, sealed ("": none) */
	uint64_t quota;
	uint32_t id;
	char *err;
	size_t errsz;
	struct acl_owners owners; /* account_del_fn: whose grants to it went */
};

static const struct {
	const char *name;
	uint8_t role;
} default_mailboxes[] = {
    {"INBOX", ROLE_INBOX}, {"Sent", ROLE_SENT}, {"Drafts", ROLE_DRAFTS},
    {"Trash", ROLE_TRASH}, {"Junk", ROLE_JUNK}, {"Archive", ROLE_ARCHIVE},
};

const char *mbox_role_default_name(unsigned role)
{
	for (size_t i = 0; i < sizeof default_mailboxes / sizeof default_mailboxes[0]; i++)
		if (role != ROLE_NONE && default_mailboxes[i].role == role)
			return default_mailboxes[i].name;
	return "";
}

static int account_add_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct acct_ctx *c = ctx;
	MDB_val dk = domain_key(c->addr, c->at), v;
	uint32_t id, last_uv;
	int rc;

	rc = mdb_get(txn, st->db[DB_DOMAIN], &dk, &v);
	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no domain %s",
		                 c->addr + c->at + 1);
	if (rc)
		return rc;
	rc = name_lookup(txn, st, c->addr, &id);
	if (rc == 0)
		return store_err(c->err, c->errsz, STORE_EEXIST, "account %s already exists",
		                 c->addr);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* An alias resolves before an account (store_resolve.c): the new
	 * account would never see its mail, and the alias's targets could
	 * send as it. The name is taken. */
	MDB_val ak = {strlen(c->addr), c->addr};
	rc = mdb_get(txn, st->db[DB_ALIAS], &ak, &v);
	if (rc == 0)
		return store_err(c->err, c->errsz, STORE_EEXIST,
		                 "%s is an alias: delete the alias first", c->addr);
	if (rc != MDB_NOTFOUND)
		return rc;

	/* Ids are never reused: a stale reference can never hit a new account. */
	if ((rc = meta_get_u32(txn, st, "next_principal_id", &id)) != 0)
		return rc;
	if (id == 0 || id == UINT32_MAX)
		return store_err(c->err, c->errsz, STORE_EINVAL, "account ids exhausted");
	if ((rc = meta_put_u32(txn, st, "next_principal_id", id + 1)) != 0)
		return rc;

	/*
	 * UIDVALIDITY: the creation time, but strictly above any value handed
	 * out before, so an account deleted and re-created within a second
	 * still tells IMAP clients to drop their cache. One value for each
	 * default mailbox (uv, uv + 1, ...): a mailbox renamed onto another's
	 * name must not bring that name's old UIDVALIDITY and UIDs back (RFC
	 * 9051 §6.4.9).
	 */
	uint32_t ndef = sizeof default_mailboxes / sizeof default_mailboxes[0];
	if ((rc = meta_get_u32(txn, st, "last_uidvalidity", &last_uv)) != 0)
		return rc;
	uint32_t uv = (uint32_t)now_s();
	if (uv <= last_uv)
		uv = last_uv + 1;
	if (uv == 0 || uv > UINT32_MAX - ndef)
		uv = 1;
	if ((rc = meta_put_u32(txn, st, "last_uidvalidity", uv + ndef - 1)) != 0)
		return rc;

	/* Email ids (IMAP's EMAILID, JMAP's Email and, for a new thread,
	 * Thread id) start above those of every account deleted before: a
	 * client that keeps bodies by EMAILID (RFC 8474 §5.1: the same id is
	 * the same immutable message) and logs in again under an address that
	 * was deleted and made again must not be shown an old message's
	 * cached body for a new one. */
	uint32_t email_floor = 0;
	if ((rc = meta_get_u32(txn, st, "email_id_floor", &email_floor)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (email_floor == 0 || email_floor == UINT32_MAX)
		email_floor = 1;

	struct acct_rec a = {.quota = c->quota,
	                     .next_email_id = email_floor,
	                     .next_mailbox_id =
	                         1 + sizeof default_mailboxes / sizeof default_mailboxes[0],
	                     .created_at = now_s()};
	memcpy(a.email, c->addr, strlen(c->addr) + 1);
	memcpy(a.hash, c->hash, strlen(c->hash) + 1);
	if ((rc = acct_put(txn, st, id, &a)) != 0)
		return rc;
	/* A store made before (an id reused is never: a stale record stays
	 * unused all the same, its digest names another hash). */
	if ((rc = scram_set_txn(txn, st, id, c->hash, c->scram)) != 0)
		return rc;

	uint8_t nrec[6] = {REC_V1, 1};
	be32_put(nrec + 2, id);
	MDB_val nk = {strlen(c->addr), c->addr}, nv = {sizeof nrec, nrec};
	if ((rc = mdb_put(txn, st->db[DB_PRINCIPAL_NAME], &nk, &nv, MDB_NOOVERWRITE)) != 0)
		return rc;

	for (uint32_t i = 0; i < ndef; i++) {
		struct mbox_rec m = {.uidvalidity = uv + i,
		                     .uidnext = 1,
		                     .role = default_mailboxes[i].role};
		memcpy(m.name, default_mailboxes[i].name, strlen(default_mailboxes[i].name) + 1);
		if ((rc = mbox_put(txn, st, id, i + 1, &m)) != 0)
			return rc;
		/* The default mailboxes start subscribed (Dovecot's autosubscribe). */
		if ((rc = sub_set(txn, st, id, m.name, 1)) != 0 && rc != 1)
			return rc;
	}
	c->id = id;
	return 0;
}

int store_account_add(struct store *st, const char *email, const char *password, uint64_t quota,
                      uint32_t *id_r, char *err, size_t errsz)
{
	struct acct_ctx c = {.quota = quota, .err = err, .errsz = errsz};

	if (name_address(email, 0, c.addr, sizeof c.addr, &c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	if (password && password[0] && password_hash(password, c.hash, sizeof c.hash) != 0)
		return store_err(err, errsz, STORE_ETEMP, "cannot hash password (out of memory)");
	/* Keys that cannot be sealed now are made at the first login. */
	if (password && password[0])
		scram_login_seal(store_data_dir(st), password, c.scram);
	int rc = store_write(st, account_add_fn, &c);
	explicit_bzero(c.scram, sizeof c.scram);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	if (rc != STORE_OK)
		return rc;
	log_info("store", NULL, "event=account_add account=%s id=%u", c.addr, c.id);
	if (id_r)
		*id_r = c.id;
	return STORE_OK;
}

/* See store_private.h. */
int db_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
		  int (*each)(void *arg, const MDB_val *v), void *arg)
{
	MDB_cursor *cur;
	MDB_val k = {plen, (void *)prefix}, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
		if (each && (rc = each(arg, &v)) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		/* The first key left with the prefix is again the first >= prefix. */
		k = (MDB_val){plen, (void *)prefix};
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

struct unref_arg {
	struct store *st;
	MDB_txn *txn;
};

static int unref_email_blob(void *arg, const MDB_val *v)
{
	struct unref_arg *u = arg;
	struct email_rec e;
	int rc = email_dec(v, &e);
	return rc ? rc : blob_unref(u->txn, u->st, e.blob_id);
}

/* The spam filter's meta records of account id (SCHEMA.md, meta): its
 * allow and block lists, what its model learned from which message, its
 * votes on them and what the filter saw of its emails' senders, so
 * nothing of the account stays behind. What the global model learned
 * stays learned (in its model, not in the votes). */
static int spam_meta_del_txn(MDB_txn *txn, struct store *st, uint32_t id)
{
	char kb[64];
	int rc = spam_account_lessons_drop_txn(txn, st, id);
	int n = snprintf(kb, sizeof kb, "spamtrained/%u/", id);
	if (rc == 0)
		rc = db_del_prefix(txn, st->db[DB_META], (const uint8_t *)kb, (size_t)n, NULL, NULL);
	if (rc == 0) {
		n = snprintf(kb, sizeof kb, "spamfrom/%u/", id);
		rc = db_del_prefix(txn, st->db[DB_META], (const uint8_t *)kb, (size_t)n, NULL, NULL);
	}
	for (int allow = 0; rc == 0 && allow < 2; allow++) {
		n = snprintf(kb, sizeof kb, "spamlist/%s/u%u", allow ? "allow" : "block", id);
		MDB_val k = {(size_t)n, kb};
		rc = mdb_del(txn, st->db[DB_META], &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	return rc;
}

static int account_del_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct acct_ctx *c = ctx;
	uint8_t pfx[4];
	uint32_t id;
	int rc = name_lookup(txn, st, c->addr, &id);

	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no account %s", c->addr);
	if (rc)
		return rc;
	MDB_val nk = {strlen(c->addr), c->addr};
	MDB_val pk = key_u32(pfx, id);
	/* The next account starts its email ids above this one's (account_add_fn). */
	struct acct_rec a;
	uint32_t floor = 0;
	if ((rc = acct_get(txn, st, id, &a)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0) {
		explicit_bzero(a.hash, sizeof a.hash);
		if ((rc = meta_get_u32(txn, st, "email_id_floor", &floor)) != 0 && rc != MDB_NOTFOUND)
			return rc;
		if (a.next_email_id > floor && (rc = meta_put_u32(txn, st, "email_id_floor",
		                                                  a.next_email_id)) != 0)
			return rc;
	}
	if ((rc = mdb_del(txn, st->db[DB_PRINCIPAL_NAME], &nk, NULL)) != 0)
		return rc;
	if ((rc = mdb_del(txn, st->db[DB_PRINCIPAL], &pk, NULL)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	struct unref_arg u = {st, txn};
	if ((rc = db_del_prefix(txn, st->db[DB_EMAIL], pfx, 4, unref_email_blob, &u)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_UID], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_ENVELOPE], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_MAILBOX], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_SUBSCRIPTION], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_METADATA], pfx, 4, NULL, NULL)) != 0)
		return rc;
	/* Grants on its mailboxes and those made to it (store_acl.c). */
	c->owners.n = 0; /* a write that runs again starts afresh */
	if ((rc = acl_drop_account_txn(txn, st, id, &c->owners)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_SIEVE], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_SIEVE_SEEN], pfx, 4, NULL, NULL)) != 0)
		return rc;
	/* The scripts' JMAP ids and state (store_sieve.c), in meta. */
	char mk[3][32];
	int ml[3] = {
		snprintf(mk[0], sizeof mk[0], "sieve-id/%08x/", id),
		snprintf(mk[1], sizeof mk[1], "sieve-next/%08x", id),
		snprintf(mk[2], sizeof mk[2], "sieve-state/%08x", id),
	};
	for (int i = 0; i < 3; i++)
		if ((rc = db_del_prefix(txn, st->db[DB_META], (const uint8_t *)mk[i], (size_t)ml[i], NULL,
				     NULL)) != 0)
			return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_APPPASS], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = totp_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = scram_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = fwd_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = enc_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = fts_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_SPAM], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = spam_meta_del_txn(txn, st, id)) != 0)
		return rc;
	if ((rc = counts_drop_account(txn, st, id)) != 0)
		return rc;
	/* The account's JMAP identities and submissions (SCHEMA.md, meta). */
	char mp[48];
	snprintf(mp, sizeof mp, "jmapident/%u/", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	snprintf(mp, sizeof mp, "jmapsub/%u/", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	/* Their /changes snapshots (jmap_typestate.c), and the outcome of
	 * its finished queue entries (store_queue.c). */
	snprintf(mp, sizeof mp, "jts/%u/", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	/* Its share notifications (store_sharenote.c). */
	if ((rc = sharenote_drop_account_txn(txn, st, id)) != 0)
		return rc;
	snprintf(mp, sizeof mp, "qdone/%08x/", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	/* Its mailboxes' UIDVALIDITYs taken from a source (store_mailbox_ops.c). */
	snprintf(mp, sizeof mp, "uids_kept/%08x/", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	/* Its note of another process's change (store_xchg.c). */
	snprintf(mp, sizeof mp, "xchg/%08x", id);
	if ((rc = meta_del_prefix_txn(txn, st, mp)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_THREADREF], pfx, 4, NULL, NULL)) != 0)
		return rc;
	if ((rc = db_del_prefix(txn, st->db[DB_CHANGE], pfx, 4, NULL, NULL)) != 0)
		return rc;
	c->id = id;
	return 0;
}

int store_account_del(struct store *st, const char *email, char *err, size_t errsz)
{
	uint32_t id;
	return store_account_del_id(st, email, &id, err, errsz);
}

int store_account_del_id(struct store *st, const char *email, uint32_t *id_r, char *err,
			 size_t errsz)
{
	struct acct_ctx c = {.err = err, .errsz = errsz};

	if (name_address(email, 0, c.addr, sizeof c.addr, &c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	int rc = store_write(st, account_del_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK) {
		log_info("store", NULL, "event=account_del account=%s id=%u", c.addr, c.id);
		*id_r = c.id;
		acl_owners_publish(st, &c.owners); /* their shareWith changed */
		/* Those who follow it, as the grantees its mailboxes were
		 * shared with do (an IMAP session with one selected, JMAP push),
		 * learn it went: STORE_MODSEQ_GONE, it has no modseq any more (a subscriber
		 * tells the removal apart by it, imap_session.c). */
		store_publish_change(st, c.id, STORE_MODSEQ_GONE);
	}
	free(c.owners.v);
	return rc;
}

/* Rewrites one account record: password hash, quota, state or name. */
struct acct_update {
	struct acct_ctx c;
	int set_hash, set_quota, set_state, set_name;
	enum store_account_state state;
	const char *name;
	uint32_t id; /* set by account_update_fn */
};

/* JMAP push (Identity, Quota) learns of an administrative change to an
 * account's own objects when it commits, as of a JMAP write: the
 * account's subscribers are told (the modseq does not move). */
static void publish_account(struct store *st, uint32_t id)
{
	uint64_t ms;
	if (id && store_account_modseq(st, id, &ms) == STORE_OK)
		store_publish_change(st, id, ms);
}

/* The same for an address, when it is a local account's. */
static void publish_address(struct store *st, const char *addr)
{
	uint32_t id;
	if (store_account_id(st, addr, &id) == STORE_OK)
		publish_account(st, id);
}

static int account_update_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct acct_update *u = ctx;
	struct acct_rec a;
	uint32_t id;
	int rc = name_lookup(txn, st, u->c.addr, &id);

	if (rc == MDB_NOTFOUND)
		return store_err(u->c.err, u->c.errsz, STORE_ENOTFOUND, "no account %s", u->c.addr);
	if (rc || (rc = acct_get(txn, st, id, &a)) != 0)
		return rc;
	u->id = id;
	if (u->set_hash) {
		memcpy(a.hash, u->c.hash, strlen(u->c.hash) + 1);
		if ((rc = scram_set_txn(txn, st, id, u->c.hash, u->c.scram)) != 0)
			return rc;
	}
	if (u->set_state)
		a.state = (uint8_t)u->state;
	if (u->set_name) {
		uint32_t gen = 0;
		memcpy(a.name, u->name, strlen(u->name) + 1);
		if ((rc = meta_get_u32(txn, st, "names_gen", &gen)) != 0 && rc != MDB_NOTFOUND)
			return rc;
		if ((rc = meta_put_u32(txn, st, "names_gen", gen + 1)) != 0)
			return rc;
	}
	if (u->set_quota)
		a.quota = u->c.quota;
	rc = acct_put(txn, st, id, &a);
	explicit_bzero(a.hash, sizeof a.hash);
	return rc;
}

int store_account_passwd(struct store *st, const char *email, const char *password, char *err,
                         size_t errsz)
{
	struct acct_update u = {.c = {.err = err, .errsz = errsz}, .set_hash = 1};

	if (name_address(email, 0, u.c.addr, sizeof u.c.addr, &u.c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	if (password && password[0] && password_hash(password, u.c.hash, sizeof u.c.hash) != 0)
		return store_err(err, errsz, STORE_ETEMP, "cannot hash password (out of memory)");
	if (password && password[0])
		scram_login_seal(store_data_dir(st), password, u.c.scram);
	int rc = store_write(st, account_update_fn, &u);
	explicit_bzero(u.c.scram, sizeof u.c.scram);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=account_passwd account=%s", u.c.addr);
	return rc;
}

int store_account_set_quota(struct store *st, const char *email, uint64_t quota, char *err,
                            size_t errsz)
{
	struct acct_update u = {.c = {.quota = quota, .err = err, .errsz = errsz}, .set_quota = 1};

	if (name_address(email, 0, u.c.addr, sizeof u.c.addr, &u.c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	int rc = store_write(st, account_update_fn, &u);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		publish_account(st, u.id); /* Quota's limit */
	return rc;
}

static const char *const state_names[] = {"active", "cannot_sign_in", "inactive"};

const char *store_account_state_name(enum store_account_state s)
{
	return (unsigned)s <= STORE_ACCOUNT_INACTIVE ? state_names[s] : "active";
}

int store_account_state_parse(const char *word, enum store_account_state *st_r)
{
	for (unsigned i = 0; i <= STORE_ACCOUNT_INACTIVE; i++)
		if (strcmp(word, state_names[i]) == 0) {
			*st_r = (enum store_account_state)i;
			return 0;
		}
	return -1;
}

int store_display_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n > STORE_DISPLAY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return utf8_valid((struct str){name, n});
}

int store_account_set_state(struct store *st, const char *email, enum store_account_state state,
			    char *err, size_t errsz)
{
	struct acct_update u = {.c = {.err = err, .errsz = errsz}, .set_state = 1, .state = state};

	if ((unsigned)state > STORE_ACCOUNT_INACTIVE)
		return store_err(err, errsz, STORE_EINVAL, "invalid state");
	if (name_address(email, 0, u.c.addr, sizeof u.c.addr, &u.c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	int rc = store_write(st, account_update_fn, &u);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		log_info("store", NULL, "event=account_state account=%s state=%s", u.c.addr,
		         store_account_state_name(state));
	return rc;
}

int store_account_set_disabled(struct store *st, const char *email, int on, char *err,
                               size_t errsz)
{
	return store_account_set_state(st, email, on ? STORE_ACCOUNT_NOLOGIN : STORE_ACCOUNT_ACTIVE,
	                               err, errsz);
}

int store_account_set_name(struct store *st, const char *email, const char *name, char *err,
			   size_t errsz)
{
	struct acct_update u = {.c = {.err = err, .errsz = errsz}, .set_name = 1, .name = name};

	if (!store_display_name_valid(name))
		return store_err(err, errsz, STORE_EINVAL,
		                 "invalid display name (UTF-8, at most %u octets, no control "
		                 "characters)", STORE_DISPLAY_NAME_MAX);
	if (name_address(email, 0, u.c.addr, sizeof u.c.addr, &u.c.at) != 0)
		return store_err(err, errsz, STORE_EINVAL, "invalid address");
	int rc = store_write(st, account_update_fn, &u);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
		publish_account(st, u.id); /* its Identities' name */
	return rc;
}

/* Account id's record in its own read transaction, the password hash
 * wiped (the callers want a name, an address or a counter); a store code. */
static int acct_read(struct store *st, uint32_t id, struct acct_rec *a)
{
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = acct_get(txn, st, id, a);
	store_rd_end(st, txn);
	explicit_bzero(a->hash, sizeof a->hash);
	return rc ? store_mdb_code(rc) : STORE_OK;
}

int store_account_name(struct store *st, uint32_t id, char *name, size_t namesz)
{
	struct acct_rec a;

	name[0] = '\0';
	int rc = acct_read(st, id, &a);
	if (rc == STORE_OK)
		snprintf(name, namesz, "%s", a.name);
	return rc;
}

int store_names_gen(struct store *st, uint64_t *gen_r)
{
	MDB_txn *txn;
	uint32_t gen = 0;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = meta_get_u32(txn, st, "names_gen", &gen);
	store_rd_end(st, txn);
	if (rc && rc != MDB_NOTFOUND)
		return store_mdb_code(rc);
	*gen_r = (uint64_t)st->serial << 32 | gen;
	return STORE_OK;
}

int store_account_id(struct store *st, const char *email, uint32_t *id_r)
{
	char addr[STORE_ADDR_MAX + 1];
	size_t at;
	MDB_txn *txn;

	if (name_address(email, 0, addr, sizeof addr, &at) != 0)
		return STORE_ENOTFOUND;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = name_lookup(txn, st, addr, id_r);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/* What the stamp digests for the password: the hash, or what stood for
 * it before the re-hashes of the same password since it was set. */
static const char *stamp_source(const struct acct_rec *a)
{
	uint8_t bind[SCRAM_BIND];

	_Static_assert(sizeof a->stamp_bind == SCRAM_BIND, "stamp_bind is a scram_bind");
	if (!a->stamp_src[0])
		return a->hash;
	scram_bind(a->hash, bind);
	return memcmp(bind, a->stamp_bind, sizeof bind) == 0 ? a->stamp_src : a->hash;
}

/*
 * The credentials stamp of a login (store_account_creds): a digest of the
 * account's stored hash (stamp_source: what a re-hash kept) and state,
 * and of what the login used: app password apppass while it exists
 * (existing 1), or the account's own password (apppass 0) with 2FA off
 * or on (existing = totp). Never 0 (0 means "gone").
 */
uint64_t cred_stamp(const struct acct_rec *a, uint32_t apppass, int existing)
{
	crypto_generichash_state h;
	uint8_t d[8], extra[5];
	uint64_t v;
	const char *src = stamp_source(a);

	be32_put(extra, apppass);
	extra[4] = (uint8_t)existing;
	crypto_generichash_init(&h, NULL, 0, sizeof d);
	crypto_generichash_update(&h, (const uint8_t *)src, strlen(src));
	crypto_generichash_update(&h, &a->state, 1);
	crypto_generichash_update(&h, extra, sizeof extra);
	crypto_generichash_final(&h, d, sizeof d);
	memcpy(&v, d, sizeof v);
	return v | 1;
}

struct rehash_op {
	uint32_t id;
	const char *old_hash, *new_hash;
	int lost;
};

static int rehash_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct rehash_op *o = ctx;
	struct acct_rec a;
	char sealed[2][STORE_SCRAM_SEALED_MAX];
	int rc = acct_get(txn, st, o->id, &a);

	/* Compare-and-swap: a password set since the login read it wins. */
	if (rc == 0 && strcmp(a.hash, o->old_hash) != 0) {
		o->lost = 1;
		goto out;
	}
	/* The SCRAM keys are of the same password: kept, bound to the new
	 * hash (read before the hash moves, as they are bound to the old). */
	for (int i = 0; rc == 0 && i < 2; i++)
		rc = scram_get_txn(txn, st, o->id, a.hash, i, sealed[i], sizeof sealed[i]);
	if (rc == 0) {
		/* The stamp keeps its source: the sessions stand. */
		const char *src = stamp_source(&a);
		if (src != a.stamp_src)
			memcpy(a.stamp_src, a.hash, sizeof a.stamp_src);
		snprintf(a.hash, sizeof a.hash, "%s", o->new_hash);
		scram_bind(a.hash, a.stamp_bind);
		rc = acct_put(txn, st, o->id, &a);
	}
	if (rc == 0 && sealed[0][0] && sealed[1][0])
		rc = scram_put_txn(txn, st, o->id, a.hash, sealed);
out:
	explicit_bzero(&a, sizeof a);
	explicit_bzero(sealed, sizeof sealed);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
}

int acct_rehash(struct store *st, uint32_t id, const char *old_hash, const char *new_hash)
{
	struct rehash_op o = {id, old_hash, new_hash, 0};
	int rc = store_write(st, rehash_fn, &o);
	return rc == STORE_OK && o.lost ? 1 : rc;
}

/*
 * After a login whose account password matched hash and asked for it
 * (password_check): a hash of the same password made now (its SASLprep,
 * current parameters), written over hash unless the password changed
 * meanwhile. The new hash into hash (for what the login writes next)
 * when it was written. A failure costs nothing but the re-hash: the old
 * hash still matches.
 */
static void login_rehash(struct store *st, uint32_t id, char hash[STORE_HASH_MAX],
			 const char *password)
{
	char fresh[STORE_HASH_MAX];

	if (password_hash(password, fresh, sizeof fresh) == 0 &&
	    acct_rehash(st, id, hash, fresh) == STORE_OK)
		memcpy(hash, fresh, STORE_HASH_MAX);
	explicit_bzero(fresh, sizeof fresh);
}

/* App passwords whose tag matches that a login verifies at most. */
#define LOGIN_APPPASS_TRIES 4

/*
 * Reads the account's id, hash and the app passwords whose tag matches
 * in one read transaction, then verifies outside it (argon2id takes far
 * longer than a read): the account password first, then those app
 * passwords (store_apppass.c), whose use is recorded. An account that
 * may not sign in is checked the same way (nothing recorded), so that its
 * right password can be told apart from a wrong one: STORE_LOGIN_NOLOGIN
 * (a protocol says "contact your administrator", RFC 5530 CONTACTADMIN),
 * where a wrong one is 0 as for any account. 1, 0, STORE_LOGIN_NOLOGIN
 * or STORE_ETEMP.
 */
static int login_check(struct store *st, const char *email, const char *password, uint32_t *id_r,
		       uint64_t *cred_r, uint32_t *apppass_r, int apppass, int scope)
{
	char addr[STORE_ADDR_MAX + 1], hash[STORE_HASH_MAX];
	struct apppass_cand cand[LOGIN_APPPASS_TRIES];
	uint8_t tag[APPPASS_TAG];
	size_t ncand = 0, at;
	struct acct_rec a;
	uint32_t id = 0, used = 0;
	int totp = 0, active = 0;
	char scram[STORE_SCRAM_SEALED_MAX] = ""; /* the account's SCRAM record, sealed */
	MDB_txn *txn;
	int rc;

	hash[0] = '\0';
	apppass_tag(password, tag);
	if (name_address(email, 0, addr, sizeof addr, &at) == 0) {
		if (store_rd_begin(st, &txn) != 0)
			return STORE_ETEMP;
		rc = name_lookup(txn, st, addr, &id);
		if (rc == 0)
			rc = acct_get(txn, st, id, &a);
		if (rc == 0) {
			active = a.state == STORE_ACCOUNT_ACTIVE;
			memcpy(hash, a.hash, sizeof hash);
		}
		if (rc == 0 && apppass) {
			/* 2FA on: a mail protocol cannot ask for a code, so only
			 * app passwords sign in there. */
			totp = totp_on_txn(txn, st, id);
			if (totp < 0)
				rc = MDB_CORRUPTED;
		}
		if (rc == 0 && apppass && hash[0])
			rc = apppass_candidates(txn, st, id, scope, tag, cand, LOGIN_APPPASS_TRIES,
						&ncand);
		if (rc == 0 && hash[0])
			rc = scram_get_txn(txn, st, id, hash, 0, scram, sizeof scram);
		store_rd_end(st, txn);
		if (rc && rc != MDB_NOTFOUND) {
			explicit_bzero(&a, sizeof a);
			explicit_bzero(cand, sizeof cand);
			return STORE_ETEMP;
		}
	}
	if (hash[0] == '\0') { /* no password, or no sign-in */
		explicit_bzero(cand, sizeof cand);
		return password_verify_dummy(password);
	}
	/* With 2FA on the account password costs a check all the same, so
	 * timing does not say whether it was right. */
	int rehash = 0;
	int r = password_check(hash, password, &rehash);
	/* With 2FA on, or for a bearer token, the account's own password is
	 * not what is asked for. */
	if ((totp || scope != STORE_APPPASS_MAIL) && r == 1)
		r = 0;
	/* A hash of the text as typed before SASLprep, or of weaker
	 * parameters: replaced now that the password is known (as Dovecot
	 * and Stalwart upgrade a scheme at login), on a login it signed in. */
	if (r == 1 && rehash && active)
		login_rehash(st, id, hash, password);
	for (size_t i = 0; r != 1 && i < ncand; i++) {
		if (password_verify(cand[i].hash, password) == 1) {
			r = 1;
			used = cand[i].id;
			/* A failed record of the use must not fail the login. */
			if (active && apppass_touch(st, id, cand[i].id) == STORE_ENOTFOUND)
				r = 0; /* revoked between the read and now */
		}
	}
	explicit_bzero(cand, sizeof cand);
	/* A password set before SCRAM, keys that could not be sealed then, or
	 * sealed with a secrets.key since lost or replaced: made now from the
	 * password just proven, so the account gains SCRAM without a reset.
	 * A failure costs nothing but SCRAM. */
	if (r == 1 && used == 0 && active && !scram_login_opens(store_data_dir(st), scram)) {
		char sealed[2][STORE_SCRAM_SEALED_MAX];
		if (scram_login_seal(store_data_dir(st), password, sealed) == 0)
			scram_store_later(st, id, hash, sealed);
		explicit_bzero(sealed, sizeof sealed);
	}
	if (r == 1 && !active) {
		r = STORE_LOGIN_NOLOGIN; /* right, but no sign-in: no id, no stamp */
	} else if (r == 1) {
		if (id_r)
			*id_r = id;
		if (cred_r)
			*cred_r = cred_stamp(&a, used, used ? 1 : totp);
		if (apppass_r)
			*apppass_r = used;
	}
	explicit_bzero(&a, sizeof a);
	explicit_bzero(hash, sizeof hash);
	explicit_bzero(scram, sizeof scram);
	return r;
}

int store_account_check_password(struct store *st, const char *email, const char *password)
{
	int r = login_check(st, email, password, NULL, NULL, NULL, 0, STORE_APPPASS_MAIL);
	return r == STORE_LOGIN_NOLOGIN ? 0 : r;
}

int store_account_login(struct store *st, const char *email, const char *password,
			uint32_t *id_r, uint64_t *cred_r, uint32_t *apppass_r)
{
	return login_check(st, email, password, id_r, cred_r, apppass_r, 1, STORE_APPPASS_MAIL);
}

int store_account_login_scoped(struct store *st, const char *email, const char *password,
			       int scope, uint32_t *id_r, uint64_t *cred_r, uint32_t *apppass_r)
{
	return login_check(st, email, password, id_r, cred_r, apppass_r, 1, scope);
}

int store_account_email(struct store *st, uint32_t id, char *email, size_t emailsz)
{
	struct acct_rec a;

	email[0] = '\0';
	int rc = acct_read(st, id, &a);
	if (rc == STORE_OK)
		snprintf(email, emailsz, "%s", a.email);
	return rc;
}

int store_account_next_mailbox_id(struct store *st, uint32_t id, uint32_t *next_r)
{
	struct acct_rec a;

	*next_r = 0;
	int rc = acct_read(st, id, &a);
	if (rc == STORE_OK)
		*next_r = a.next_mailbox_id;
	return rc;
}

int store_account_creds(struct store *st, const uint32_t *ids, const uint32_t *apppass,
			uint64_t *creds_r, size_t n)
{
	struct acct_rec a;
	MDB_txn *txn;
	int rc = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t ap = apppass ? apppass[i] : 0;
		int existing = 0;
		creds_r[i] = 0;
		rc = acct_get(txn, st, ids[i], &a);
		if (rc == 0) {
			existing = ap ? apppass_exists(txn, st, ids[i], ap) : totp_on_txn(txn, st, ids[i]);
			if (existing < 0)
				rc = MDB_CORRUPTED;
			else if (existing > 1)
				rc = existing; /* an LMDB error */
		}
		if (rc == 0)
			creds_r[i] = cred_stamp(&a, ap, existing);
		else if (rc == MDB_NOTFOUND)
			rc = 0;
		explicit_bzero(a.hash, sizeof a.hash);
	}
	store_rd_end(st, txn);
	return rc ? STORE_ETEMP : STORE_OK;
}

int store_account_list(struct store *st, store_account_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	struct acct_rec a;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_PRINCIPAL], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 4 || acct_dec(&v, &a) != 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			struct store_account_info info = {
			    .id = be32_get(k.mv_data),
			    .email = a.email,
			    .quota = a.quota,
			    .used = a.used,
			    .emails = a.emails,
			    .disabled = a.state != STORE_ACCOUNT_ACTIVE,
			    .state = (enum store_account_state)a.state,
			    .display_name = a.name,
			};
			cb(arg, &info);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int store_account_count(struct store *st, size_t *n_r)
{
	MDB_txn *txn;
	MDB_stat ms;
	*n_r = 0;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = mdb_stat(txn, st->db[DB_PRINCIPAL], &ms);
	store_rd_end(st, txn);
	if (rc)
		return STORE_ETEMP;
	*n_r = ms.ms_entries;
	return STORE_OK;
}

/* ---- aliases ---- */

struct alias_ctx {
	char alias[STORE_ADDR_MAX + 1];
	size_t at;
	uint8_t target[1 + STORE_ADDR_MAX]; /* the record: version byte + address */
	size_t tlen;                        /* record length; 0 = every target */
	int known;                          /* store_alias_add_known */
	char *err;
	size_t errsz;
};

/*
 * For store_alias_add_known: a target in one of our domains must be an
 * account's address or an alias, exactly, as delivery resolves a target
 * (store_resolve.c: no "+tag" stripped, no catch-all); else the alias
 * would take mail that bounces. 0, STORE_EINVAL or an LMDB error.
 */
static int alias_target_known(struct store *st, MDB_txn *txn, struct alias_ctx *c)
{
	char t[STORE_ADDR_MAX + 1];
	uint32_t id;
	MDB_val v;

	memcpy(t, c->target + 1, c->tlen - 1);
	t[c->tlen - 1] = '\0';
	const char *at = strrchr(t, '@');
	MDB_val dk = {strlen(at + 1), (void *)(at + 1)}, tk = {strlen(t), t};
	int rc = mdb_get(txn, st->db[DB_DOMAIN], &dk, &v);
	if (rc == MDB_NOTFOUND)
		return 0; /* forwarded */
	if (rc == 0 && (rc = mdb_get(txn, st->db[DB_ALIAS], &tk, &v)) == MDB_NOTFOUND)
		rc = name_lookup(txn, st, t, &id);
	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_EINVAL,
				 "invalid target: no account or alias has the address %s, so mail "
				 "to the alias would bounce (add it first)", t);
	return rc;
}

static int alias_add_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct alias_ctx *c = ctx;
	MDB_val dk = domain_key(c->alias, c->at), v;
	int rc = mdb_get(txn, st->db[DB_DOMAIN], &dk, &v);

	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no domain %s",
		                 c->alias + c->at + 1);
	if (rc)
		return rc;
	/* An alias on an account's address would take that account's mail
	 * and let the targets send as it: the name belongs to the account. */
	uint32_t id;
	rc = name_lookup(txn, st, c->alias, &id);
	if (rc == 0)
		return store_err(c->err, c->errsz, STORE_EEXIST,
		                 "%s is an account: an alias cannot take its address", c->alias);
	if (rc != MDB_NOTFOUND)
		return rc;
	MDB_val k = {strlen(c->alias), c->alias};
	v = (MDB_val){c->tlen, c->target};
	rc = 0;
	if (c->known) {
		/* The pair there already is 409 whatever its target is now;
		 * a new one names a target that exists (the alias itself not
		 * yet: one to itself reaches nobody). */
		MDB_cursor *cur;
		MDB_val kk = k, vv = v;
		if ((rc = mdb_cursor_open(txn, st->db[DB_ALIAS], &cur)) != 0)
			return rc;
		rc = mdb_cursor_get(cur, &kk, &vv, MDB_GET_BOTH);
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = alias_target_known(st, txn, c);
		else if (rc == 0)
			rc = MDB_KEYEXIST;
	}
	if (rc == 0)
		rc = mdb_put(txn, st->db[DB_ALIAS], &k, &v, MDB_NODUPDATA);
	if (rc == MDB_KEYEXIST)
		return store_err(c->err, c->errsz, STORE_EEXIST, "alias %s -> %.*s already exists",
		                 c->alias, (int)c->tlen - 1, (char *)c->target + 1);
	return rc;
}

static int alias_args(struct alias_ctx *c, const char *alias, const char *target)
{
	char t[STORE_ADDR_MAX + 1];
	size_t tat;

	if (name_address(alias, 1, c->alias, sizeof c->alias, &c->at) != 0)
		return store_err(c->err, c->errsz, STORE_EINVAL,
		                 "invalid alias: expected local@domain or @domain");
	c->tlen = 0;
	if (target == NULL)
		return STORE_OK;
	if (name_address(target, 0, t, sizeof t, &tat) != 0)
		return store_err(c->err, c->errsz, STORE_EINVAL,
		                 "invalid target address: expected a full address, user@example.com");
	/* Outside targets are forwarded with SRS: a target that is itself an
	 * SRS address would send bounces' copies round in circles. */
	if (strncasecmp(t, "srs0", 4) == 0 || strncasecmp(t, "srs1", 4) == 0)
		if (t[4] == '=' || t[4] == '+' || t[4] == '-')
			return store_err(c->err, c->errsz, STORE_EINVAL,
			                 "invalid target address: an SRS address cannot be a target");
	c->target[0] = REC_V1;
	memcpy(c->target + 1, t, strlen(t));
	c->tlen = 1 + strlen(t);
	return STORE_OK;
}

static int alias_add(struct store *st, const char *alias, const char *target, int known,
		     char *err, size_t errsz)
{
	struct alias_ctx c = {.known = known, .err = err, .errsz = errsz};
	int rc;

	if (target == NULL)
		return store_err(err, errsz, STORE_EINVAL, "missing target");
	if ((rc = alias_args(&c, alias, target)) != STORE_OK)
		return rc;
	rc = store_write(st, alias_add_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK)
	if (rc == STORE_OK) {
		log_info("store", NULL, "event=alias_add alias=%s target=%.*s", c.alias,
		         (int)c.tlen - 1, (char *)c.target + 1);
		publish_address(st, (char *)c.target + 1); /* a new Identity */
	}
	return rc;
}

int store_alias_add(struct store *st, const char *alias, const char *target, char *err,
                    size_t errsz)
{
	return alias_add(st, alias, target, 0, err, errsz);
}

int store_alias_add_known(struct store *st, const char *alias, const char *target, char *err,
                          size_t errsz)
{
	return alias_add(st, alias, target, 1, err, errsz);
}

/* The local targets of an alias, to tell after its removal. */
#define ALIAS_TELL_MAX 16
struct alias_targets {
	const char *alias;
	char t[ALIAS_TELL_MAX][STORE_ADDR_MAX + 1];
	size_t n;
};

static void alias_targets_cb(void *arg, const char *alias, const char *target)
{
	struct alias_targets *x = arg;
	if (x->n < ALIAS_TELL_MAX && !strcasecmp(alias, x->alias))
		snprintf(x->t[x->n++], sizeof x->t[0], "%s", target);
}

static int alias_del_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct alias_ctx *c = ctx;
	MDB_val k = {strlen(c->alias), c->alias}, v = {c->tlen, c->target};
	int rc = mdb_del(txn, st->db[DB_ALIAS], &k, c->tlen ? &v : NULL);

	if (rc == MDB_NOTFOUND)
		return store_err(c->err, c->errsz, STORE_ENOTFOUND, "no such alias");
	return rc;
}

int store_alias_del(struct store *st, const char *alias, const char *target, char *err,
                    size_t errsz)
{
	struct alias_ctx c = {.err = err, .errsz = errsz};
	int rc;

	if ((rc = alias_args(&c, alias, target)) != STORE_OK)
		return rc;
	/* Whose Identity goes: the one target, or each the alias had. */
	struct alias_targets *x = xcalloc(1, sizeof *x);
	x->alias = c.alias;
	if (c.tlen)
		snprintf(x->t[x->n++], sizeof x->t[0], "%.*s", (int)c.tlen - 1, (char *)c.target + 1);
	else
		store_alias_list(st, alias_targets_cb, x);
	rc = store_write(st, alias_del_fn, &c);
	if (rc == STORE_ETEMP || rc == STORE_EFULL)
		store_err(err, errsz, rc,
			  rc == STORE_EFULL ? STORE_EFULL_TEXT : "store error, see the log");
	else if (rc == STORE_OK) {
		log_info("store", NULL, "event=alias_del alias=%s", c.alias);
		for (size_t i = 0; i < x->n; i++)
			publish_address(st, x->t[i]);
	}
	free(x);
	return rc;
}

int store_alias_list(struct store *st, store_alias_cb *cb, void *arg)
{
	char alias[STORE_ADDR_MAX + 1], target[STORE_ADDR_MAX + 1];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_ALIAS], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size >= sizeof alias || v.mv_size < 2 ||
			    v.mv_size - 1 >= sizeof target || ((uint8_t *)v.mv_data)[0] != REC_V1) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(alias, k.mv_data, k.mv_size);
			alias[k.mv_size] = '\0';
			memcpy(target, (char *)v.mv_data + 1, v.mv_size - 1);
			target[v.mv_size - 1] = '\0';
			cb(arg, alias, target);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}
