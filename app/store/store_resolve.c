/*
 * store_resolve.c — envelope recipient to local accounts.
 *
 * Order (first step that matches decides, even if it then yields nothing):
 *   1. an alias named exactly the address,
 *   2. an account named exactly the address,
 *   3. with "+tag" removed from the local part (from the first '+'):
 *      an alias, then an account,
 *   4. the domain's catch-all alias "@domain".
 * Inactive accounts (store.h) are then left out; an address that named
 * only inactive accounts is STORE_RCPT_INACTIVE.
 * A name that literally contains '+' therefore wins over plus-addressing.
 *
 * Alias targets resolve as addresses of their own (alias, then account, no
 * plus-stripping, no catch-all), up to 8 levels. A target that names an
 * alias already being expanded (a cycle, including an alias pointing at its
 * own name) is not expanded again: it resolves to the account of that name
 * if there is one — so "info@ -> info@, bob@" delivers to the account info
 * and to bob, as Postfix does — and is otherwise dropped with a warning.
 * A target outside our domains is an outside forward: it is collected with
 * the alias that named it (store_resolve_forwards), never looked up.
 * An account reached may forward too (store_forward.c): when forwards are
 * wanted its outside targets join them, named by the account's address,
 * and without "keep" the account itself leaves the list.
 *
 * Everything runs in one read transaction, so a resolution sees one
 * consistent snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/asan.h"
#include "core/log.h"
#include "store/store_private.h"

#define RESOLVE_DEPTH_MAX 8
#define RESOLVE_ACCOUNTS_MAX STORE_RESOLVE_ACCOUNTS_MAX

struct resolve {
	struct store *st;
	MDB_txn *txn;
	uint32_t acc[RESOLVE_ACCOUNTS_MAX];
	size_t n;
	int err;                                 /* first LMDB error; the answer is then TEMPFAIL */
	const char *path[RESOLVE_DEPTH_MAX + 1]; /* aliases being expanded */
	int depth;
	struct store_forward *fwd; /* outside targets, or NULL when not wanted */
	size_t nfwd, fwd_max;
};

/* Adds outside target t named by the address of ours by: 1 when it is
 * (or already was) among the forwards, 0 when they are not wanted or full. */
static int add_forward_by(struct resolve *r, const char *t, const char *by)
{
	if (!r->fwd)
		return 0;
	for (size_t i = 0; i < r->nfwd; i++)
		if (strcmp(r->fwd[i].addr, t) == 0)
			return 1; /* one copy per outside address */
	if (r->nfwd == r->fwd_max) {
		log_warn("store", NULL, "event=resolve_truncated what=forwards max=%zu", r->fwd_max);
		return 0;
	}
	struct store_forward *f = &r->fwd[r->nfwd++];
	snprintf(f->addr, sizeof f->addr, "%s", t);
	snprintf(f->alias, sizeof f->alias, "%s", by);
	return 1;
}

static void add_forward(struct resolve *r, const char *t)
{
	add_forward_by(r, t, r->depth ? r->path[r->depth - 1] : "");
}

/*
 * The account's own forwarding (store_forward.c), when forwards are
 * wanted: its outside targets join the forwards, named by its address.
 * Returns 1 when the account keeps its copy, 0 when it does not, or an
 * LMDB error. A copy is always kept when nothing could be forwarded (a
 * target's domain became ours, the forwards are full): mail is never lost.
 */
static int account_forwards(struct resolve *r, uint32_t id, const char *email)
{
	struct store_account_forward f;
	int rc = fwd_get_txn(r->txn, r->st, id, &f);
	if (rc || !r->fwd || f.n == 0)
		return rc ? -rc : 1;
	size_t added = 0;
	for (size_t i = 0; i < f.n; i++) {
		const char *at = strrchr(f.to[i], '@');
		MDB_val dk = {strlen(at + 1), (void *)(at + 1)}, v;
		rc = mdb_get(r->txn, r->st->db[DB_DOMAIN], &dk, &v);
		if (rc == 0) {
			log_warn("store", NULL, "event=forward_target_ignored account=%s target=%s "
				 "reason=local_domain", email, f.to[i]);
			continue;
		}
		if (rc != MDB_NOTFOUND)
			return -rc;
		added += (size_t)add_forward_by(r, f.to[i], email);
	}
	return f.keep || added == 0;
}

static void add_account(struct resolve *r, uint32_t id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->acc[i] == id)
			return;
	if (r->n == RESOLVE_ACCOUNTS_MAX) {
		log_warn("store", NULL, "event=resolve_truncated max=%d", RESOLVE_ACCOUNTS_MAX);
		return;
	}
	r->acc[r->n++] = id;
}

/* Account of an exact canonical address: 1 found (added), 0 not, -1 error. */
static int try_account(struct resolve *r, const char *addr, size_t len)
{
	MDB_val k = {len, (void *)addr}, v;
	int rc = mdb_get(r->txn, r->st->db[DB_PRINCIPAL_NAME], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && (v.mv_size < 6 || ((uint8_t *)v.mv_data)[0] != REC_V1))
		rc = MDB_CORRUPTED;
	if (rc) {
		r->err = rc;
		return -1;
	}
	add_account(r, be32_get((uint8_t *)v.mv_data + 2));
	return 1;
}

static int on_path(struct resolve *r, const char *addr, size_t len)
{
	for (int i = 0; i < r->depth; i++)
		if (strlen(r->path[i]) == len && memcmp(r->path[i], addr, len) == 0)
			return 1;
	return 0;
}

static void resolve_target(struct resolve *r, const char *t);

/*
 * Expands the alias named addr: 1 when it exists (targets resolved), 0
 * when there is no such alias, -1 on error.
 */
static int try_alias(struct resolve *r, const char *addr, size_t len)
{
	char key[STORE_ADDR_MAX + 1];
	MDB_cursor *cur;
	MDB_val k = {len, (void *)addr}, v;
	int rc;

	if (len > STORE_ADDR_MAX)
		return 0;
	rc = mdb_cursor_open(r->txn, r->st->db[DB_ALIAS], &cur);
	if (rc) {
		r->err = rc;
		return -1;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == MDB_NOTFOUND) {
		mdb_cursor_close(cur);
		return 0;
	}
	if (r->depth >= RESOLVE_DEPTH_MAX) {
		mdb_cursor_close(cur);
		log_warn("store", NULL, "event=alias_too_deep alias=%.*s max=%d", (int)len, addr,
		         RESOLVE_DEPTH_MAX);
		return 1;
	}
	memcpy(key, addr, len);
	key[len] = '\0';
	r->path[r->depth++] = key;
	while (rc == 0) {
		char t[STORE_ADDR_MAX + 1];
		if (v.mv_size < 2 || v.mv_size - 1 > STORE_ADDR_MAX ||
		    ((uint8_t *)v.mv_data)[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(t, (char *)v.mv_data + 1, v.mv_size - 1);
		t[v.mv_size - 1] = '\0';
		resolve_target(r, t);
		if (r->err)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	r->depth--;
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0) {
		r->err = rc;
		return -1;
	}
	return r->err ? -1 : 1;
}

static void resolve_target(struct resolve *r, const char *t)
{
	const char *at = strrchr(t, '@');
	size_t len = strlen(t);
	MDB_val v;

	if (at == NULL)
		return;
	MDB_val dk = {len - (size_t)(at + 1 - t), (void *)(at + 1)};
	int rc = mdb_get(r->txn, r->st->db[DB_DOMAIN], &dk, &v);
	if (rc == MDB_NOTFOUND) {
		add_forward(r, t);
		return;
	}
	if (rc) {
		r->err = rc;
		return;
	}
	if (on_path(r, t, len)) {
		if (try_account(r, t, len) == 0)
			log_warn("store", NULL, "event=alias_loop target=%s", t);
		return;
	}
	rc = try_alias(r, t, len);
	if (rc == 0)
		rc = try_account(r, t, len);
	if (rc == 0)
		log_debug("store", NULL, "event=alias_target_ignored target=%s reason=unknown", t);
}

/* Steps 1-4 on a canonical address; 1 when one matched. */
static int resolve_steps(struct resolve *r, const char *addr, size_t at)
{
	size_t len = strlen(addr);
	char stripped[STORE_ADDR_MAX + 1];
	int rc;

	if ((rc = try_alias(r, addr, len)) != 0 || (rc = try_account(r, addr, len)) != 0)
		return rc;
	const char *plus = memchr(addr, '+', at);
	if (plus && plus > addr) {
		size_t l = (size_t)(plus - addr);
		memcpy(stripped, addr, l);
		memcpy(stripped + l, addr + at, len - at + 1);
		size_t sl = strlen(stripped);
		if ((rc = try_alias(r, stripped, sl)) != 0 ||
		    (rc = try_account(r, stripped, sl)) != 0)
			return rc;
	}
	return try_alias(r, addr + at, len - at);
}

#if TERN_TEST_KNOBS
/*
 * Test-only, read by a sanitizer build alone (core/asan.h; a release build
 * has no such code): while the file TERN_TEST_RESOLVE_FAIL_FILE exists and
 * holds address (its first line, any case), the resolution of address
 * meets an LMDB error in its read transaction, as a map error or a
 * reader table in trouble would, and answers STORE_RCPT_TEMPFAIL through
 * the resolver's own error path. Logs event=test_resolve_fail.
 */
static int test_resolve_fails(const char *address)
{
	const char *path = getenv("TERN_TEST_RESOLVE_FAIL_FILE");
	if (!path || !*path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[STORE_ADDR_MAX + 2] = "";
	int hit = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (!hit || strcasecmp(line, address) != 0)
		return 0;
	log_info("store", NULL, "event=test_resolve_fail");
	return 1;
}
#endif

enum store_rcpt store_resolve_forwards(struct store *st, const char *address, uint32_t *accounts_r,
                                       size_t max, size_t *n_r, struct store_forward *fwd_r,
                                       size_t fmax, size_t *nf_r)
{
	char addr[STORE_ADDR_MAX + 1], domain[STORE_DOMAIN_MAX + 1];
	struct resolve rs = {.st = st, .fwd = fwd_r, .fwd_max = fmax}, *r = &rs;
	const char *at = strrchr(address, '@');
	size_t aat;
	enum store_rcpt res;
	MDB_val v;

	*n_r = 0;
	if (nf_r)
		*nf_r = 0;
	if (at == NULL || name_domain(at + 1, domain, sizeof domain) != 0)
		return STORE_RCPT_NOT_LOCAL;

	if (store_rd_begin(st, &r->txn) != 0)
		return STORE_RCPT_TEMPFAIL;
	MDB_val dk = {strlen(domain), domain};
	int rc = mdb_get(r->txn, st->db[DB_DOMAIN], &dk, &v);
#if TERN_TEST_KNOBS
	if (test_resolve_fails(address))
		rc = MDB_BAD_TXN;
#endif
	if (rc) {
		res = rc == MDB_NOTFOUND ? STORE_RCPT_NOT_LOCAL : STORE_RCPT_TEMPFAIL;
		goto out;
	}
	if (name_address(address, 0, addr, sizeof addr, &aat) != 0) {
		res = STORE_RCPT_UNKNOWN;
		goto out;
	}
	resolve_steps(r, addr, aat);
	if (r->err) {
		log_error("store", NULL, "event=resolve_failed error=\"%s\"", mdb_strerror(r->err));
		res = STORE_RCPT_TEMPFAIL;
		goto out;
	}
	if (r->n == 0 && r->nfwd == 0) {
		res = STORE_RCPT_UNKNOWN;
		goto out;
	}
	/*
	 * Quota is refused only when every account is full: when some are not,
	 * the message is accepted for all of them (we cannot bounce one copy
	 * yet), and the full ones go a little over — soft rather than lost.
	 */
	size_t over = 0, live = 0, inactive = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct acct_rec a;
		if ((rc = acct_get(r->txn, st, r->acc[i], &a)) != 0) {
			res = STORE_RCPT_TEMPFAIL;
			goto out;
		}
		explicit_bzero(a.hash, sizeof a.hash);
		/* An inactive account takes no mail: it leaves the list, and an
		 * address that named nothing else is refused as such. */
		if (a.state == STORE_ACCOUNT_INACTIVE) {
			inactive++;
			continue;
		}
		int keep = account_forwards(r, r->acc[i], a.email);
		if (keep < 0) {
			log_error("store", NULL, "event=resolve_failed error=\"%s\"",
				  mdb_strerror(-keep));
			res = STORE_RCPT_TEMPFAIL;
			goto out;
		}
		if (!keep)
			continue; /* forwarded only */
		r->acc[live++] = r->acc[i];
		if (a.quota && a.used >= a.quota)
			over++;
	}
	r->n = live;
	if (r->n == 0 && r->nfwd == 0) {
		res = inactive ? STORE_RCPT_INACTIVE : STORE_RCPT_UNKNOWN;
		goto out;
	}
	if (nf_r)
		*nf_r = r->nfwd; /* the accounts' own forwards included */
	/* A forward always takes the message, so only local copies can be "full". */
	res = r->n && over == r->n && r->nfwd == 0 ? STORE_RCPT_OVER_QUOTA : STORE_RCPT_OK;
	*n_r = r->n < max ? r->n : max;
	memcpy(accounts_r, r->acc, *n_r * sizeof *accounts_r);
out:
	store_rd_end(st, r->txn);
	return res;
}

enum store_rcpt store_resolve_rcpt(struct store *st, const char *address, uint32_t *accounts_r,
                                   size_t max, size_t *n_r)
{
	enum store_rcpt res = store_resolve_forwards(st, address, accounts_r, max, n_r, NULL, 0, NULL);

	/* Without room for forwards, an address that only forwards has no one here. */
	return res == STORE_RCPT_OK && *n_r == 0 ? STORE_RCPT_UNKNOWN : res;
}
