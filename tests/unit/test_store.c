/*
 * test_store.c — the store: names, domains, accounts, aliases, recipient
 * resolution, delivery (sync and through the writer thread with group
 * commit), blob de-duplication, map growth, commit failures, the change
 * feed, reopening, schema versions.
 *
 * Uses store_private.h to look at counters and raw records (blob refcounts,
 * schema version) that the public API does not expose.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];
static int dirno;

/* A fresh, not yet existing data dir under base. */
static const char *new_dir(char *buf, size_t n)
{
	snprintf(buf, n, "%s/d%d", base, ++dirno);
	return buf;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits until *v >= want (30 s at most). */
static int wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 30000; i++) {
		if (atomic_load(v) >= want)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

static struct store *open_ok(const char *dir, unsigned flags)
{
	struct store *st = NULL;
	char err[256] = "";
	int rc = store_open(dir, flags, &st, err, sizeof err);
	if (rc != STORE_OK)
		fprintf(stderr, "store_open(%s): %d %s\n", dir, rc, err);
	CHECK_EQ_INT(rc, STORE_OK);
	return st;
}

static void msg_init(struct store_delivery *d, const char *data, size_t len, const uint32_t *acc,
                     size_t nacc, uint32_t *ids)
{
	memset(d, 0, sizeof *d);
	d->data = data;
	d->len = len;
	store_blob_id(data, len, d->blob_id);
	d->accounts = acc;
	d->naccounts = nacc;
	d->email_ids = ids;
	d->received_at = 1700000000;
	d->meta = "META";
	d->metalen = 4;
}

/* ---- collectors ---- */

struct strs {
	char v[32][400];
	int n;
};

static void collect_domain(void *arg, const char *d)
{
	struct strs *s = arg;
	if (s->n < 32)
		snprintf(s->v[s->n++], sizeof s->v[0], "%s", d);
}

static void collect_alias(void *arg, const char *a, const char *t)
{
	struct strs *s = arg;
	if (s->n < 32)
		snprintf(s->v[s->n++], sizeof s->v[0], "%s>%s", a, t);
}

static void collect_account(void *arg, const struct store_account_info *i)
{
	struct strs *s = arg;
	if (s->n < 32)
		snprintf(s->v[s->n++], sizeof s->v[0], "%u %s %llu %llu %u", i->id, i->email,
		         (unsigned long long)i->quota, (unsigned long long)i->used, i->emails);
}

static void collect_mailbox(void *arg, const struct store_mailbox_info *i)
{
	struct strs *s = arg;
	if (s->n < 32)
		snprintf(s->v[s->n++], sizeof s->v[0], "%u %s %s %u %llu %u %s", i->id, i->name,
		         i->role, i->uidnext, (unsigned long long)i->highest_modseq, i->messages,
		         i->uidvalidity ? "uv" : "nouv");
}

struct emails {
	uint32_t uid[512], id[512];
	uint64_t size[512];
	int n, meta_ok;
};

static void collect_email(void *arg, const struct store_email_info *i)
{
	struct emails *e = arg;
	if (e->n < 512) {
		e->uid[e->n] = i->uid;
		e->id[e->n] = i->email_id;
		e->size[e->n] = i->size;
		e->n++;
	}
	if (i->metalen == 4 && memcmp(i->meta, "META", 4) == 0)
		e->meta_ok++;
}

struct raw {
	char buf[256];
	size_t len;
};

static void collect_raw(void *arg, const char *data, size_t len)
{
	struct raw *r = arg;
	r->len = len;
	memcpy(r->buf, data, len < sizeof r->buf ? len : sizeof r->buf);
}

/* Whether the message read is want, byte for byte. */
struct raw_cmp {
	const char *want;
	size_t len;
	int same;
};

static void collect_cmp(void *arg, const char *data, size_t len)
{
	struct raw_cmp *r = arg;
	r->same = len == r->len && memcmp(data, r->want, len) == 0;
}

/* The blobref record of id: 0, or an LMDB error (-1: no read). */
static int blobref_read(struct store *st, const uint8_t id[32], struct blobref_rec *b)
{
	MDB_txn *txn;
	*b = (struct blobref_rec){0, 0, 0};
	if (store_rd_begin(st, &txn) != 0)
		return -1;
	int rc = blobref_get(txn, st, id, b);
	store_rd_end(st, txn);
	return rc;
}

static uint64_t blob_refs(struct store *st, const uint8_t id[32])
{
	struct blobref_rec b;
	int rc = blobref_read(st, id, &b);
	return rc == -1 ? (uint64_t)-1 : rc ? 0 : b.refs;
}

static size_t db_entries(struct store *st, enum store_db db)
{
	MDB_txn *txn;
	MDB_stat s;
	if (store_rd_begin(st, &txn) != 0)
		return (size_t)-1;
	mdb_stat(txn, st->db[db], &s);
	store_rd_end(st, txn);
	return s.ms_entries;
}

/* Blobs stored, in either layout (schema 1: blob by id; 2: blobdata), not
 * counting freed bytes waiting in blobgc for the sweep (store_hold.c). */
static size_t blob_count(struct store *st)
{
	return db_entries(st, DB_BLOB) + db_entries(st, DB_BLOBDATA) - db_entries(st, DB_BLOBGC);
}

/* The version app/store/SCHEMA.md's title names ("(version N)"), so the
 * page cannot fall behind the code; -1 when unreadable. */
static int schema_md_version(void)
{
	char line[256];
	FILE *f = fopen("app/store/SCHEMA.md", "r");
	int v = -1;

	if (f && fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "(version ");
		if (p)
			v = (int)strtol(p + 9, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

static uint32_t stored_schema(struct store *st)
{
	MDB_txn *txn;
	uint32_t v = 0;
	if (store_rd_begin(st, &txn) == 0) {
		meta_get_u32(txn, st, "schema_version", &v);
		store_rd_end(st, txn);
	}
	return v;
}

/* ---- loops on threads ---- */

struct loop_thread {
	struct loop *loop;
	pthread_t t;
};

static void *loop_main(void *arg)
{
	loop_run(arg);
	return NULL;
}

static void lt_start(struct loop_thread *lt)
{
	lt->loop = loop_new();
	pthread_create(&lt->t, NULL, loop_main, lt->loop);
}

static void lt_stop(struct loop_thread *lt)
{
	loop_stop(lt->loop);
	pthread_join(lt->t, NULL);
	loop_free(&lt->loop);
}

/* Posts a marker and waits for it: every earlier post has run. */
static void mark_cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void lt_sync(struct loop_thread *lt)
{
	atomic_int m = 0;
	loop_post(lt->loop, mark_cb, &m);
	CHECK(wait_for(&m, 1));
}

/* ================================================================ tests */

static void test_names(void)
{
	char out[400];
	size_t at;

	CHECK_EQ_INT(name_domain("Example.COM", out, sizeof out), 0);
	CHECK_EQ_STR(out, "example.com");
	CHECK_EQ_INT(name_domain("bücher.Example", out, sizeof out), 0);
	CHECK_EQ_STR(out, "bücher.example");
	CHECK_EQ_INT(name_domain("localhost", out, sizeof out), 0);
	CHECK_EQ_INT(name_domain("a-b.c0", out, sizeof out), 0);
	CHECK_EQ_INT(name_domain("", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("-a.com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("a-.com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("a..com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("a.com.", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain(".a.com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("a b.com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("a_b.com", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("[1.2.3.4]", out, sizeof out), -1);
	CHECK_EQ_INT(name_domain("\xff.com", out, sizeof out), -1);     /* not UTF-8 */
	CHECK_EQ_INT(name_domain("\xc0\xaf.com", out, sizeof out), -1); /* overlong */
	char lab[80];
	memset(lab, 'a', 63);
	strcpy(lab + 63, ".com");
	CHECK_EQ_INT(name_domain(lab, out, sizeof out), 0);
	memset(lab, 'a', 64);
	strcpy(lab + 64, ".com");
	CHECK_EQ_INT(name_domain(lab, out, sizeof out), -1);
	char big[300];
	for (int i = 0; i < 300; i += 2) {
		big[i] = 'a';
		big[i + 1] = '.';
	}
	big[253] = '\0'; /* 127 labels "a", 253 octets: fits */
	CHECK_EQ_INT(name_domain(big, out, sizeof out), 0);
	big[253] = 'a';
	big[254] = '\0';
	CHECK_EQ_INT(name_domain(big, out, sizeof out), -1);

	CHECK_EQ_INT(name_address("John.Doe+Tag@Example.COM", 0, out, sizeof out, &at), 0);
	CHECK_EQ_STR(out, "john.doe+tag@example.com");
	CHECK_EQ_INT((int)at, 12);
	CHECK_EQ_INT(name_address("Jürgen@Example.com", 0, out, sizeof out, &at), 0);
	CHECK_EQ_STR(out, "jürgen@example.com");
	/* NFC: u + U+0308 is ü (local part and domain), so the address
	 * matches the account however the client composed it. */
	CHECK_EQ_INT(name_address("Ju\xcc\x88rgen@bu\xcc\x88" "cher.Example", 0, out, sizeof out, &at), 0);
	CHECK_EQ_STR(out, "jürgen@bücher.example");
	CHECK_EQ_INT((int)at, 7);
	CHECK_EQ_INT(name_domain("bu\xcc\x88" "cher.example", out, sizeof out), 0);
	CHECK_EQ_STR(out, "bücher.example");
	CHECK_EQ_INT(name_address("@example.com", 1, out, sizeof out, &at), 0);
	CHECK_EQ_INT((int)at, 0);
	CHECK_EQ_INT(name_address("@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("a b@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("a\tb@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("a\"b@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address(".ab@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("a..b@example.com", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("noat", 0, out, sizeof out, &at), -1);
	CHECK_EQ_INT(name_address("a@", 0, out, sizeof out, &at), -1);
	char lp[100];
	memset(lp, 'x', 64);
	strcpy(lp + 64, "@e.com");
	CHECK_EQ_INT(name_address(lp, 0, out, sizeof out, &at), 0);
	memset(lp, 'x', 65);
	strcpy(lp + 65, "@e.com");
	CHECK_EQ_INT(name_address(lp, 0, out, sizeof out, &at), -1);
}

static void test_open_schema(void)
{
	char dir[300], err[256];
	struct store *st;
	struct stat sb;

	new_dir(dir, sizeof dir);
	st = open_ok(dir, 0);
	if (!st)
		return;
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK_EQ_INT((int)store_schema_version(), schema_md_version());
	CHECK_EQ_INT(stored_schema(st), store_schema_version());
	uint64_t map = 0, used = 0;
	CHECK_EQ_INT(store_map_info(st, &map, &used), STORE_OK);
	CHECK(map >= 64u << 20);
	CHECK(used > 0 && used < map);
	store_close(&st);
	CHECK(st == NULL);
	store_close(&st); /* NULL is fine */

	/* Reopen: nothing to migrate, same version. */
	st = open_ok(dir, 0);
	CHECK_EQ_INT(stored_schema(st), store_schema_version());

	/* A schema 1 store: read-only opens ask for a migration, a writable
	 * open migrates (1 -> 2 adds blobdata, rewrites nothing; 2 -> 3 moves
	 * an email's $deleted to its memberships: test_store_flags; 3 -> 4 adds
	 * blobgc; 4 -> 5 makes the subscription flags names in subscription:
	 * test_store_flags; 5 -> 6 adds dmarc_report and dmarc_seen;
	 * 6 -> 7 adds metadata: test_store_metadata;
	 * 7 -> 8 adds sieve and sieve_seen: test_store_sieve;
	 * 8 -> 9 adds apppass: test_store_apppass;
	 * 9 -> 10 threads the emails: test_store_thread;
	 * 10 -> 11 adds account states and names: test_store_account_state;
	 * 11 -> 12 adds spam: test_spam_rules;
	 * 12 -> 13 counts mailboxes and indexes threads: test_store_counts;
	 * 13 -> 14 keys Sieve scripts by a hash of the name: test_store_sieve). */
	CHECK_EQ_INT(store_test_set_schema(st, 1), STORE_OK);
	store_close(&st);
	err[0] = '\0';
	CHECK_EQ_INT(store_open(dir, STORE_READONLY, &st, err, sizeof err), STORE_EINVAL);
	CHECK(strstr(err, "migrate") != NULL);
	st = open_ok(dir, 0);
	CHECK_EQ_INT(stored_schema(st), store_schema_version());

	/* A newer schema is refused, read-write and read-only. */
	CHECK_EQ_INT(store_test_set_schema(st, 99), STORE_OK);
	store_close(&st);
	err[0] = '\0';
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_EINVAL);
	CHECK(st == NULL);
	CHECK(strstr(err, "newer") != NULL);
	CHECK_EQ_INT(store_open(dir, STORE_READONLY, &st, err, sizeof err), STORE_EINVAL);
	CHECK(st == NULL);
	CHECK_EQ_INT(store_open(dir, STORE_SERVER, &st, err, sizeof err), STORE_EINVAL);
	CHECK(st == NULL);

	/* Read-only on a directory with no store fails cleanly. */
	char dir2[300];
	new_dir(dir2, sizeof dir2);
	CHECK(store_open(dir2, STORE_READONLY, &st, err, sizeof err) != STORE_OK);
	CHECK(st == NULL);
	CHECK(store_open(dir2, STORE_READONLY | STORE_SERVER, &st, err, sizeof err) != STORE_OK);
}

static void test_domains_accounts_aliases(void)
{
	char dir[300], err[256];
	struct store *st;
	struct strs s;
	uint32_t id, id2, id3, mb;

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;

	/* Domains */
	CHECK_EQ_INT(store_domain_add(st, "Example.COM", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_EEXIST);
	CHECK(strstr(err, "already") != NULL);
	CHECK_EQ_INT(store_domain_add(st, "bad..com", err, sizeof err), STORE_EINVAL);
	CHECK_EQ_INT(store_domain_add(st, "other.org", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "bücher.example", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_is_local(st, "EXAMPLE.com"), 1);
	CHECK_EQ_INT(store_domain_is_local(st, "nope.com"), 0);
	CHECK_EQ_INT(store_domain_is_local(st, "not a domain"), 0);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_domain_list(st, collect_domain, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_STR(s.v[0], "bücher.example");
	CHECK_EQ_STR(s.v[1], "example.com");
	CHECK_EQ_STR(s.v[2], "other.org");
	CHECK_EQ_INT(store_domain_del(st, "nope.com", err, sizeof err), STORE_ENOTFOUND);

	/* Accounts */
	CHECK_EQ_INT(store_account_add(st, "Alice@Example.com", "s3cret", 0, &id, err, sizeof err),
	             STORE_OK);
	CHECK(id > 0);
	CHECK_EQ_INT(store_account_add(st, "alice@example.com", NULL, 0, NULL, err, sizeof err),
	             STORE_EEXIST);
	CHECK_EQ_INT(store_account_add(st, "x@unknown.com", NULL, 0, NULL, err, sizeof err),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_add(st, "a b@example.com", NULL, 0, NULL, err, sizeof err),
	             STORE_EINVAL);
	CHECK_EQ_INT(store_account_add(st, "bob@example.com", NULL, 1000, &id2, err, sizeof err),
	             STORE_OK);
	CHECK(id2 != id);
	CHECK_EQ_INT(store_account_id(st, "ALICE@EXAMPLE.COM", &id3), STORE_OK);
	CHECK_EQ_INT(id3, id);
	CHECK_EQ_INT(store_account_id(st, "nobody@example.com", &id3), STORE_ENOTFOUND);

	CHECK_EQ_INT(store_account_check_password(st, "alice@example.com", "s3cret"), 1);
	CHECK_EQ_INT(store_account_check_password(st, "ALICE@example.com", "s3cret"), 1);
	CHECK_EQ_INT(store_account_check_password(st, "alice@example.com", "wrong"), 0);
	CHECK_EQ_INT(store_account_check_password(st, "nobody@example.com", "s3cret"), 0);
	CHECK_EQ_INT(store_account_check_password(st, "bob@example.com", ""), 0); /* no password */
	CHECK_EQ_INT(store_account_passwd(st, "alice@example.com", "n3w", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_account_check_password(st, "alice@example.com", "s3cret"), 0);
	CHECK_EQ_INT(store_account_check_password(st, "alice@example.com", "n3w"), 1);
	CHECK_EQ_INT(store_account_passwd(st, "zed@example.com", "x", err, sizeof err),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_set_quota(st, "alice@example.com", 5000, err, sizeof err),
	             STORE_OK);

	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_account_list(st, collect_account, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 2);
	char want[200];
	snprintf(want, sizeof want, "%u alice@example.com 5000 0 0", id);
	CHECK_EQ_STR(s.v[0], want);
	snprintf(want, sizeof want, "%u bob@example.com 1000 0 0", id2);
	CHECK_EQ_STR(s.v[1], want);

	/* Default mailboxes */
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_list(st, id, collect_mailbox, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 6);
	CHECK_EQ_STR(s.v[0], "1 INBOX inbox 1 0 0 uv");
	CHECK_EQ_STR(s.v[1], "2 Sent sent 1 0 0 uv");
	CHECK_EQ_STR(s.v[2], "3 Drafts drafts 1 0 0 uv");
	CHECK_EQ_STR(s.v[3], "4 Trash trash 1 0 0 uv");
	CHECK_EQ_STR(s.v[4], "5 Junk junk 1 0 0 uv");
	CHECK_EQ_STR(s.v[5], "6 Archive archive 1 0 0 uv");
	CHECK_EQ_INT(store_mailbox_list(st, 9999, collect_mailbox, &s), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_find(st, id, "inbox", &mb), STORE_OK);
	CHECK_EQ_INT(mb, 1);
	CHECK_EQ_INT(store_mailbox_find(st, id, "Archive", &mb), STORE_OK);
	CHECK_EQ_INT(mb, 6);
	CHECK_EQ_INT(store_mailbox_find(st, id, "archive", &mb), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_find(st, 9999, "INBOX", &mb), STORE_ENOTFOUND);
	uint64_t ms = 99;
	CHECK_EQ_INT(store_account_modseq(st, id, &ms), STORE_OK);
	CHECK_EQ_INT(ms, 0);

	/* Aliases */
	CHECK_EQ_INT(store_alias_add(st, "Team@example.com", "alice@example.com", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "BOB@example.com", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "bob@example.com", err, sizeof err),
	             STORE_EEXIST);
	CHECK_EQ_INT(store_alias_add(st, "x@nope.com", "bob@example.com", err, sizeof err),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(store_alias_add(st, "x@example.com", "not an address", err, sizeof err),
	             STORE_EINVAL);
	CHECK_EQ_INT(store_alias_add(st, "@other.org", "alice@example.com", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_alias_add(st, "info@other.org", "alice@example.com", err, sizeof err),
	             STORE_OK);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_alias_list(st, collect_alias, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 4);
	CHECK_EQ_STR(s.v[0], "@other.org>alice@example.com");
	CHECK_EQ_STR(s.v[1], "info@other.org>alice@example.com");
	CHECK_EQ_STR(s.v[2], "team@example.com>alice@example.com");
	CHECK_EQ_STR(s.v[3], "team@example.com>bob@example.com");
	CHECK_EQ_INT(store_alias_del(st, "team@example.com", "alice@example.com", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_alias_del(st, "team@example.com", "alice@example.com", err, sizeof err),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "carol@example.com", err, sizeof err),
	             STORE_OK);
	CHECK_EQ_INT(store_alias_del(st, "team@example.com", NULL, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_alias_del(st, "team@example.com", NULL, err, sizeof err),
	             STORE_ENOTFOUND);

	/* A domain with accounts stays; one with only aliases goes, aliases too. */
	CHECK_EQ_INT(store_domain_del(st, "example.com", err, sizeof err), STORE_EEXIST);
	CHECK_EQ_INT(store_domain_del(st, "other.org", err, sizeof err), STORE_OK);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_alias_list(st, collect_alias, &s), STORE_OK);
	CHECK_EQ_INT(s.n, 0);

	/* Deleting accounts; ids are not reused. */
	CHECK_EQ_INT(store_account_del(st, "Alice@example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_del(st, "alice@example.com", err, sizeof err), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_id(st, "alice@example.com", &id3), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_list(st, id, collect_mailbox, &s), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_account_add(st, "alice@example.com", NULL, 0, &id3, err, sizeof err),
	             STORE_OK);
	CHECK(id3 > id2);
	CHECK_EQ_INT(store_account_del(st, "alice@example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_del(st, "bob@example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(db_entries(st, DB_MAILBOX), 0);
	CHECK_EQ_INT(db_entries(st, DB_PRINCIPAL), 0);
	CHECK_EQ_INT(store_domain_del(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_is_local(st, "example.com"), 0);
	store_close(&st);
}

static enum store_rcpt resolve(struct store *st, const char *a, uint32_t *acc, size_t *n)
{
	return store_resolve_rcpt(st, a, acc, 16, n);
}

static int has(const uint32_t *acc, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (acc[i] == id)
			return 1;
	return 0;
}

static void test_resolve(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t alice, bob, carol, davex, full, selfid, acc[16];
	size_t n;

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "catch.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "alice@example.com", NULL, 0, &alice, err, sizeof err),
	             0);
	CHECK_EQ_INT(store_account_add(st, "bob@example.com", NULL, 0, &bob, err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "carol@example.com", NULL, 0, &carol, err, sizeof err),
	             0);
	CHECK_EQ_INT(store_account_add(st, "dave+x@example.com", NULL, 0, &davex, err, sizeof err),
	             0);
	CHECK_EQ_INT(store_account_add(st, "full@example.com", NULL, 10, &full, err, sizeof err),
	             0);
	CHECK_EQ_INT(store_account_add(st, "self@example.com", NULL, 0, &selfid, err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "alice@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "bob@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "team@example.com", "team2@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "team2@example.com", "bob@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(
	    store_alias_add(st, "chain1@example.com", "chain2@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(
	    store_alias_add(st, "chain2@example.com", "chain3@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(
	    store_alias_add(st, "chain3@example.com", "Alice+x@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(
	    store_alias_add(st, "chain3@example.com", "alice@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_alias_add(st, "loop1@example.com", "loop2@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "loop2@example.com", "loop1@example.com", err, sizeof err),
	             0);
	/* An alias cannot take an account's address, even one that keeps a
	 * copy for the account: its other targets could send as it. Nor can
	 * an account take an alias's (issue 28, finding 8). */
	CHECK_EQ_INT(store_alias_add(st, "self@example.com", "self@example.com", err, sizeof err),
	             STORE_EEXIST);
	CHECK_EQ_INT(store_alias_add(st, "Self@example.com", "carol@example.com", err, sizeof err),
	             STORE_EEXIST);
	CHECK_EQ_INT(store_account_add(st, "team2@example.com", NULL, 0, NULL, err, sizeof err),
	             STORE_EEXIST);
	/* A target outside our domains is an outside forward (issue 29),
	 * alone or mixed with local targets; malformed or SRS targets are not. */
	CHECK_EQ_INT(
	    store_alias_add(st, "ext@example.com", "someone@elsewhere.org", err, sizeof err), 0);
	CHECK_EQ_INT(store_alias_add(st, "ext@example.com", "carol@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "ext@example.com", "Other@Elsewhere.org", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "onlyext@example.com", "x@elsewhere.org", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "viaext@example.com", "onlyext@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "viaext@example.com", "x@elsewhere.org", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "bad@example.com", "no-domain", err, sizeof err),
	             STORE_EINVAL);
	CHECK(strncmp(err, "invalid target address", 22) == 0);
	CHECK_EQ_INT(store_alias_add(st, "bad@example.com", "a@bad..domain", err, sizeof err),
	             STORE_EINVAL);
	CHECK_EQ_INT(store_alias_add(st, "bad@example.com", "SRS0=abcdef=AB=x.org=y@fwd.org", err,
	                             sizeof err),
	             STORE_EINVAL);
	CHECK(strstr(err, "SRS") != NULL);
	CHECK_EQ_INT(store_alias_add(st, "bad@", "x@elsewhere.org", err, sizeof err), STORE_EINVAL);
	CHECK(strncmp(err, "invalid alias", 13) == 0);
	CHECK_EQ_INT(
	    store_alias_add(st, "bob+sales@example.com", "carol@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_alias_add(st, "@catch.test", "carol@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_alias_add(st, "mixed@example.com", "full@example.com", err, sizeof err),
	             0);
	CHECK_EQ_INT(store_alias_add(st, "mixed@example.com", "alice@example.com", err, sizeof err),
	             0);
	/* A chain of 10 levels: deeper than the 8 allowed. */
	for (int i = 0; i < 10; i++) {
		char a[64], t[64];
		snprintf(a, sizeof a, "deep%d@example.com", i);
		snprintf(t, sizeof t, i == 9 ? "alice@example.com" : "deep%d@example.com", i + 1);
		CHECK_EQ_INT(store_alias_add(st, a, t, err, sizeof err), 0);
	}

	CHECK_EQ_INT(resolve(st, "alice@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice);
	CHECK_EQ_INT(resolve(st, "ALICE@Example.COM", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice);
	CHECK_EQ_INT(resolve(st, "alice+news@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice);
	CHECK_EQ_INT(resolve(st, "alice+a+b@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice);
	/* Literal '+' names win over plus-addressing. */
	CHECK_EQ_INT(resolve(st, "dave+x@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == davex);
	CHECK_EQ_INT(resolve(st, "dave+y@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(resolve(st, "bob+sales@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == carol);
	CHECK_EQ_INT(resolve(st, "bob+other@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == bob);
	CHECK_EQ_INT(resolve(st, "+tag@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	/* Multiple targets, de-duplicated (bob twice through team2). */
	CHECK_EQ_INT(resolve(st, "team@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 2 && has(acc, n, alice) && has(acc, n, bob));
	CHECK_EQ_INT(resolve(st, "team+x@example.com", acc, &n), STORE_RCPT_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(store_resolve_rcpt(st, "team@example.com", acc, 1, &n), STORE_RCPT_OK);
	CHECK_EQ_INT(n, 1);
	/* Chains, loops, depth. */
	CHECK_EQ_INT(resolve(st, "chain1@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice); /* Alice+x is not plus-stripped as a target */
	CHECK_EQ_INT(resolve(st, "loop1@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	CHECK_EQ_INT(resolve(st, "deep0@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	CHECK_EQ_INT(resolve(st, "deep2@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == alice);
	CHECK_EQ_INT(resolve(st, "self@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == selfid);
	/* Outside targets: store_resolve_rcpt has no room for them (an
	 * address that only forwards is unknown to it); with room they come
	 * with their alias, each address once. */
	CHECK_EQ_INT(resolve(st, "ext@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == carol);
	CHECK_EQ_INT(resolve(st, "onlyext@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	{
		struct store_forward fw[4];
		size_t nf = 9;
		CHECK_EQ_INT(store_resolve_forwards(st, "ext+tag@example.com", acc, 16, &n, fw, 4, &nf),
		             STORE_RCPT_OK);
		CHECK(n == 1 && acc[0] == carol);
		CHECK_EQ_INT(nf, 2);
		/* In the store's order (sorted), lowercased as stored. */
		CHECK_EQ_STR(fw[0].addr, "other@elsewhere.org");
		CHECK_EQ_STR(fw[0].alias, "ext@example.com");
		CHECK_EQ_STR(fw[1].addr, "someone@elsewhere.org");
		CHECK_EQ_INT(store_resolve_forwards(st, "onlyext@example.com", acc, 16, &n, fw, 4, &nf),
		             STORE_RCPT_OK);
		CHECK(n == 0 && nf == 1);
		CHECK_EQ_STR(fw[0].alias, "onlyext@example.com");
		/* Through another alias: the copy is counted once, named by the inner alias. */
		CHECK_EQ_INT(store_resolve_forwards(st, "viaext@example.com", acc, 16, &n, fw, 4, &nf),
		             STORE_RCPT_OK);
		CHECK(n == 0 && nf == 1);
		CHECK_EQ_STR(fw[0].alias, "onlyext@example.com");
		/* Room for one only: the first kept. */
		CHECK_EQ_INT(store_resolve_forwards(st, "ext@example.com", acc, 16, &n, fw, 1, &nf),
		             STORE_RCPT_OK);
		CHECK(nf == 1);
		CHECK_EQ_INT(store_resolve_forwards(st, "nobody@example.com", acc, 16, &n, fw, 4, &nf),
		             STORE_RCPT_UNKNOWN);
		CHECK_EQ_INT(nf, 0);
	}
	/* Catch-all only for its domain, only for unknown names. */
	CHECK_EQ_INT(resolve(st, "Anything@Catch.Test", acc, &n), STORE_RCPT_OK);
	CHECK(n == 1 && acc[0] == carol);
	CHECK_EQ_INT(resolve(st, "nobody@example.com", acc, &n), STORE_RCPT_UNKNOWN);
	/* Not ours / malformed. */
	CHECK_EQ_INT(resolve(st, "alice@elsewhere.org", acc, &n), STORE_RCPT_NOT_LOCAL);
	CHECK_EQ_INT(resolve(st, "postmaster", acc, &n), STORE_RCPT_NOT_LOCAL);
	CHECK_EQ_INT(resolve(st, "x@bad..domain", acc, &n), STORE_RCPT_NOT_LOCAL);
	CHECK_EQ_INT(resolve(st, "a b@example.com", acc, &n), STORE_RCPT_UNKNOWN);

	/* Quota: full@ gets over its 10 bytes; mixed still resolves for alice. */
	CHECK_EQ_INT(resolve(st, "full@example.com", acc, &n), STORE_RCPT_OK);
	struct store_delivery d;
	static const char m[] = "Subject: quota\r\n\r\nthis is more than ten bytes\r\n";
	msg_init(&d, m, sizeof m - 1, &full, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(resolve(st, "full@example.com", acc, &n), STORE_RCPT_OVER_QUOTA);
	CHECK_EQ_INT(resolve(st, "mixed@example.com", acc, &n), STORE_RCPT_OK);
	CHECK(n == 2 && has(acc, n, alice) && has(acc, n, full));
	/* A full account and a forward: the forward takes it, the account goes over. */
	CHECK_EQ_INT(store_alias_add(st, "fullfwd@example.com", "full@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_alias_add(st, "fullfwd@example.com", "f@elsewhere.org", err, sizeof err), 0);
	CHECK_EQ_INT(resolve(st, "fullfwd@example.com", acc, &n), STORE_RCPT_OVER_QUOTA);
	{
		struct store_forward fw[2];
		size_t nf;
		CHECK_EQ_INT(store_resolve_forwards(st, "fullfwd@example.com", acc, 16, &n, fw, 2, &nf),
		             STORE_RCPT_OK);
		CHECK(n == 1 && nf == 1);
	}
	CHECK_EQ_INT(store_account_set_quota(st, "full@example.com", 0, err, sizeof err), 0);
	CHECK_EQ_INT(resolve(st, "full@example.com", acc, &n), STORE_RCPT_OK);
	store_close(&st);
}

static void test_delivery(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc[3], ids[3];
	struct store_delivery d;
	struct emails e;
	struct strs s;
	struct raw raw;
	uint64_t ms;

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc[0], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc[1], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "c@example.com", NULL, 0, &acc[2], err, sizeof err), 0);

	static const char m1[] = "From: x@y\r\nSubject: one\r\n\r\nbody one\r\n";
	static const char m2[] = "From: x@y\r\nSubject: two\r\n\r\nbody two\r\n";
	msg_init(&d, m1, sizeof m1 - 1, acc, 3, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(d.result, STORE_OK);
	CHECK(ids[0] == 1 && ids[1] == 1 && ids[2] == 1);
	CHECK_EQ_INT(blob_count(st), 1);
	CHECK_EQ_INT(blob_refs(st, d.blob_id), 3);
	CHECK_EQ_INT(store_account_modseq(st, acc[1], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 1);

	/* The same message again: still one blob, six references, UID 2. */
	msg_init(&d, m1, sizeof m1 - 1, acc, 3, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK(ids[0] == 2 && ids[1] == 2 && ids[2] == 2);
	CHECK_EQ_INT(blob_count(st), 1);
	CHECK_EQ_INT(blob_refs(st, d.blob_id), 6);
	CHECK_EQ_INT(store_account_modseq(st, acc[1], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 2);

	/* Another message to one account. */
	msg_init(&d, m2, sizeof m2 - 1, &acc[0], 1, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(ids[0], 3);
	CHECK_EQ_INT(blob_count(st), 2);
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 3);
	CHECK_EQ_INT(store_account_modseq(st, acc[1], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 2);
	CHECK_EQ_INT(db_entries(st, DB_CHANGE), 7);

	for (int i = 0; i < 3; i++) {
		memset(&e, 0, sizeof e);
		CHECK_EQ_INT(store_email_list(st, acc[i], STORE_INBOX_ID, collect_email, &e),
		             STORE_OK);
		CHECK_EQ_INT(e.n, i == 0 ? 3 : 2);
		CHECK(e.uid[0] == 1 && e.uid[1] == 2);
		CHECK(e.id[0] == 1 && e.id[1] == 2);
		CHECK_EQ_INT(e.size[0], sizeof m1 - 1);
		CHECK_EQ_INT(e.meta_ok, e.n);
	}
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[0], 2, collect_email, &e), STORE_OK); /* Sent */
	CHECK_EQ_INT(e.n, 0);
	CHECK_EQ_INT(store_email_list(st, acc[0], 99, collect_email, &e), STORE_ENOTFOUND);

	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_list(st, acc[0], collect_mailbox, &s), STORE_OK);
	CHECK_EQ_STR(s.v[0], "1 INBOX inbox 4 3 3 uv");
	CHECK_EQ_STR(s.v[1], "2 Sent sent 1 0 0 uv");

	memset(&raw, 0, sizeof raw);
	CHECK_EQ_INT(store_email_raw(st, acc[0], 3, collect_raw, &raw), STORE_OK);
	CHECK(raw.len == sizeof m2 - 1 && memcmp(raw.buf, m2, raw.len) == 0);
	CHECK_EQ_INT(store_email_raw(st, acc[0], 4, collect_raw, &raw), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_email_raw(st, 999, 1, collect_raw, &raw), STORE_ENOTFOUND);

	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_account_list(st, collect_account, &s), STORE_OK);
	char want[200];
	snprintf(want, sizeof want, "%u a@example.com 0 %zu 3", acc[0],
	         2 * (sizeof m1 - 1) + sizeof m2 - 1);
	CHECK_EQ_STR(s.v[0], want);

	/* A delivery to an account deleted meanwhile skips it. */
	uint32_t gone[2] = {acc[1], 4242};
	msg_init(&d, m2, sizeof m2 - 1, gone, 2, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK(ids[0] == 3 && ids[1] == 0);
	CHECK_EQ_INT(blob_refs(st, d.blob_id), 2);

	/* A blob id that does not match the length is refused alone. */
	msg_init(&d, m2, sizeof m2 - 2, acc, 1, ids);
	store_blob_id(m2, sizeof m2 - 1, d.blob_id);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_EINVAL);

	/* Deleting accounts drops their references; the last one drops the blob. */
	uint8_t b1[32];
	store_blob_id(m1, sizeof m1 - 1, b1);
	CHECK_EQ_INT(store_account_del(st, "c@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(blob_refs(st, b1), 4);
	CHECK_EQ_INT(store_account_del(st, "b@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(blob_refs(st, b1), 2);
	CHECK_EQ_INT(store_account_del(st, "a@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(blob_refs(st, b1), 0);
	CHECK_EQ_INT(blob_count(st), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBREF), 0);
	CHECK_EQ_INT(db_entries(st, DB_EMAIL), 0);
	CHECK_EQ_INT(db_entries(st, DB_UID), 0);
	CHECK_EQ_INT(db_entries(st, DB_CHANGE), 0);
	store_close(&st);
}

/* ---- blob layouts ---- */

/* A blob written the schema 1 way: bytes in DB_BLOB under the id, and a
 * version 1 blobref (no sequence number). */
struct v1blob {
	const uint8_t *id;
	const char *data;
	size_t len;
};

static int put_v1_blob(struct store *st, MDB_txn *txn, void *ctx)
{
	struct v1blob *b = ctx;
	uint8_t buf[256];
	MDB_val k = {32, (void *)b->id}, v = {b->len + 1, buf};

	buf[0] = REC_V1;
	memcpy(buf + 1, b->data, b->len);
	int rc = mdb_put(txn, st->db[DB_BLOB], &k, &v, 0);
	struct blobref_rec br = {1, b->len, 0};
	return rc ? rc : blobref_put(txn, st, b->id, &br);
}

static int unref_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	return blob_unref(txn, st, ctx);
}

static uint64_t blob_seq(struct store *st, const uint8_t id[32])
{
	struct blobref_rec b;
	return blobref_read(st, id, &b) ? (uint64_t)-1 : b.seq;
}

static void test_blob_layouts(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc, id1;
	struct store_delivery d;
	struct raw raw;
	static const char old[] = "From: x@y\r\nSubject: old\r\n\r\nstored by schema 1\r\n";
	static const char m2[] = "From: x@y\r\nSubject: two\r\n\r\nbody two\r\n";
	static const char m3[] = "From: x@y\r\nSubject: three\r\n\r\nbody three\r\n";
	uint8_t oid[32], id2[32], id3[32];

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	store_blob_id(old, sizeof old - 1, oid);
	struct v1blob b = {oid, old, sizeof old - 1};
	CHECK_EQ_INT(store_write(st, put_v1_blob, &b), STORE_OK);

	/* The same bytes delivered again: one more reference to the old
	 * blob, no second copy, and the message reads back whole. */
	msg_init(&d, old, sizeof old - 1, &acc, 1, &id1);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(blob_refs(st, oid), 2);
	CHECK_EQ_INT(blob_seq(st, oid), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOB), 1);
	CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 0);
	memset(&raw, 0, sizeof raw);
	CHECK_EQ_INT(store_email_raw(st, acc, id1, collect_raw, &raw), STORE_OK);
	CHECK(raw.len == sizeof old - 1 && memcmp(raw.buf, old, raw.len) == 0);

	/* New bytes go to blobdata under growing sequence numbers. */
	msg_init(&d, m2, sizeof m2 - 1, &acc, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	memcpy(id2, d.blob_id, 32);
	msg_init(&d, m3, sizeof m3 - 1, &acc, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	memcpy(id3, d.blob_id, 32);
	CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 2);
	CHECK_EQ_INT(blob_seq(st, id2), 1);
	CHECK_EQ_INT(blob_seq(st, id3), 2);
	CHECK_EQ_INT(blob_refs(st, id3), 1);

	/* The last reference takes the bytes along: at once from blob (schema
	 * 1), through blobgc and the sweep from blobdata (store_hold.c). */
	CHECK_EQ_INT(store_write(st, unref_fn, oid), STORE_OK);
	CHECK_EQ_INT(db_entries(st, DB_BLOB), 1);
	CHECK_EQ_INT(store_write(st, unref_fn, oid), STORE_OK);
	CHECK_EQ_INT(db_entries(st, DB_BLOB), 0);
	CHECK_EQ_INT(blob_refs(st, oid), 0);
	CHECK_EQ_INT(store_write(st, unref_fn, id2), STORE_OK);
	CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 2);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
	CHECK_EQ_INT(blob_count(st), 1);
	CHECK_EQ_INT(store_blob_sweep(st, 0), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 1);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 0);
	CHECK_EQ_INT(blob_seq(st, id3), 2);

	/* A big blob, whose copy into LMDB's room takes huge pages
	 * (store_codec.c): every byte reads back in its place, the room's
	 * unaligned head and tail included. */
	size_t big = ((size_t)5 << 20) + 4321;
	char *bm = malloc(big);
	for (size_t i = 0; i < big; i++)
		bm[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	uint32_t bid = 0;
	msg_init(&d, bm, big, &acc, 1, &bid);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	struct raw_cmp cmp = {bm, big, 0};
	CHECK_EQ_INT(store_email_raw(st, acc, bid, collect_cmp, &cmp), STORE_OK);
	CHECK(cmp.same);
	free(bm);
	store_close(&st);
}

/* ---- writer thread ---- */

struct wctx {
	struct store *st;
	struct loop *loop;
	const uint32_t *acc;
	size_t nacc;
	int first, count;
	struct store_delivery *d;
	char (*msg)[64];
};

static atomic_int done_ok, done_bad, done_n, done_target;
static struct loop *_Atomic done_loop;

static void on_done(struct store_delivery *d, void *arg)
{
	(void)arg;
	if (d->result == STORE_OK)
		atomic_fetch_add(&done_ok, 1);
	else
		atomic_fetch_add(&done_bad, 1);
	if (atomic_fetch_add(&done_n, 1) + 1 == atomic_load(&done_target) && done_loop)
		loop_stop(done_loop);
}

static void *producer(void *arg)
{
	struct wctx *w = arg;
	for (int i = w->first; i < w->first + w->count; i++) {
		int len =
		    snprintf(w->msg[i], sizeof w->msg[i], "Subject: m%d\r\n\r\nbody %d\r\n", i, i);
		msg_init(&w->d[i], w->msg[i], (size_t)len, w->acc, w->nacc, NULL);
		w->d[i].loop = w->loop;
		w->d[i].done = on_done;
		store_deliver(w->st, &w->d[i]);
	}
	return NULL;
}

static void reset_done(int target, struct loop *l)
{
	atomic_store(&done_ok, 0);
	atomic_store(&done_bad, 0);
	atomic_store(&done_n, 0);
	atomic_store(&done_target, target);
	done_loop = l;
}

/*
 * Closed loop, like SMTP sessions: each of NSESS sessions sends its next
 * message only when the previous one is committed (done() on the loop).
 */
enum { NSESS = 16, PERSESS = 25 };
struct sess {
	struct store *st;
	struct loop *loop;
	const uint32_t *acc;
	int sent;
	struct store_delivery d;
	char msg[64];
};
static atomic_int sess_done;

static void sess_send(struct sess *s);

static void sess_on_done(struct store_delivery *d, void *arg)
{
	struct sess *s = arg;
	if (d->result != STORE_OK)
		atomic_fetch_add(&done_bad, 1);
	if (s->sent < PERSESS)
		sess_send(s);
	else if (atomic_fetch_add(&sess_done, 1) + 1 == NSESS)
		loop_stop(s->loop);
}

static void sess_send(struct sess *s)
{
	int len =
	    snprintf(s->msg, sizeof s->msg, "Subject: %p %d\r\n\r\nx\r\n", (void *)s, s->sent++);
	msg_init(&s->d, s->msg, (size_t)len, s->acc, 1, NULL);
	s->d.loop = s->loop;
	s->d.done = sess_on_done;
	s->d.arg = s;
	store_deliver(s->st, &s->d);
}

static void test_writer_sessions(struct store *st, const uint32_t *acc)
{
	struct sess *s = calloc(NSESS, sizeof *s);
	struct loop *loop = loop_new();
	unsigned long long c0 = atomic_load(&st->commits);

	atomic_store(&sess_done, 0);
	atomic_store(&done_bad, 0);
	double t0 = now_ms();
	for (int i = 0; i < NSESS; i++) {
		s[i] = (struct sess){.st = st, .loop = loop, .acc = acc};
		sess_send(&s[i]);
	}
	loop_run(loop);
	double t1 = now_ms();
	unsigned long long commits = atomic_load(&st->commits) - c0;
	CHECK_EQ_INT(atomic_load(&sess_done), NSESS);
	CHECK_EQ_INT(atomic_load(&done_bad), 0);
	CHECK(commits < NSESS * PERSESS);
	fprintf(stderr,
	        "test_store: writer: %d sessions x %d waiting deliveries in %.1f ms (%.0f/s), "
	        "%llu commits (%.1f per commit)\n",
	        NSESS, PERSESS, t1 - t0, NSESS * PERSESS / ((t1 - t0) / 1e3), commits,
	        (double)(NSESS * PERSESS) / (double)commits);
	loop_free(&loop);
	free(s);
}

static void test_writer(void)
{
	enum { NPROD = 4, PER = 50, N = NPROD * PER, NPAUSE = 1500 };
	char dir[300], err[256];
	struct store *st;
	uint32_t acc[2];
	struct emails e;

	st = open_ok(new_dir(dir, sizeof dir), STORE_SERVER);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc[0], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc[1], err, sizeof err), 0);

	/* 200 deliveries from 4 threads; done() runs on a loop that main runs. */
	struct store_delivery *d = calloc(NPAUSE, sizeof *d);
	char(*msg)[64] = calloc(NPAUSE, sizeof *msg);
	struct loop *loop = loop_new();
	struct wctx w[NPROD];
	pthread_t t[NPROD];
	unsigned long long c0 = atomic_load(&st->commits), b0 = atomic_load(&st->batches);
	reset_done(N, loop);
	double t0 = now_ms();
	for (int i = 0; i < NPROD; i++) {
		w[i] = (struct wctx){st, loop, acc, 2, i * PER, PER, d, msg};
		pthread_create(&t[i], NULL, producer, &w[i]);
	}
	loop_run(loop); /* until the last done() stops it */
	double t1 = now_ms();
	for (int i = 0; i < NPROD; i++)
		pthread_join(t[i], NULL);
	loop_free(&loop);
	CHECK_EQ_INT(atomic_load(&done_ok), N);
	CHECK_EQ_INT(atomic_load(&done_bad), 0);
	unsigned long long commits = atomic_load(&st->commits) - c0;
	unsigned long long batches = atomic_load(&st->batches) - b0;
	CHECK(commits < N);
	CHECK_EQ_INT(commits, batches);
	fprintf(stderr,
	        "test_store: writer: %d deliveries x 2 accounts from %d threads in %.1f ms "
	        "(%.0f deliveries/s), %llu commits (%.1f per commit)\n",
	        N, NPROD, t1 - t0, N / ((t1 - t0) / 1e3), commits, (double)N / (double)commits);
	for (int a = 0; a < 2; a++) {
		memset(&e, 0, sizeof e);
		CHECK_EQ_INT(store_email_list(st, acc[a], STORE_INBOX_ID, collect_email, &e), 0);
		CHECK_EQ_INT(e.n, N);
		int inorder = 1;
		for (int i = 0; i < e.n; i++)
			inorder &= e.uid[i] == (uint32_t)i + 1;
		CHECK(inorder);
	}
	uint64_t ms;
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), 0);
	CHECK_EQ_INT(ms, N);

	test_writer_sessions(st, acc);

	/* Baseline without group commit: one transaction and fsync each. */
	t0 = now_ms();
	for (int i = 0; i < 50; i++) {
		msg_init(&d[i], msg[i], strlen(msg[i]), acc, 2, NULL);
		CHECK_EQ_INT(store_deliver_sync(st, &d[i]), STORE_OK);
	}
	t1 = now_ms();
	fprintf(stderr, "test_store: sync: 50 deliveries one commit each in %.1f ms (%.0f/s)\n",
	        t1 - t0, 50 / ((t1 - t0) / 1e3));

	/* Paused writer, 1500 queued: exactly two batches (1000 + 500). */
	struct loop_thread lt;
	lt_start(&lt);
	store_test_pause_writer(st, 1);
	reset_done(NPAUSE, NULL);
	b0 = atomic_load(&st->batches);
	w[0] = (struct wctx){st, lt.loop, acc, 1, 0, NPAUSE, d, msg};
	producer(&w[0]);
	sleep_ms(20);
	CHECK_EQ_INT(atomic_load(&done_n), 0);
	t0 = now_ms();
	store_test_pause_writer(st, 0);
	CHECK(wait_for(&done_n, NPAUSE));
	t1 = now_ms();
	CHECK_EQ_INT(atomic_load(&done_ok), NPAUSE);
	CHECK_EQ_INT(atomic_load(&st->batches) - b0, 2);
	fprintf(stderr, "test_store: writer: %d queued deliveries committed in %.1f ms (%.0f/s)\n",
	        NPAUSE, t1 - t0, NPAUSE / ((t1 - t0) / 1e3));

	/* The byte cap: 7 x 10 MiB (one shared blob) make 2 batches (6 + 1). */
	size_t big = 10u << 20;
	char *bigmsg = malloc(big);
	memset(bigmsg, 'x', big);
	store_test_pause_writer(st, 1);
	reset_done(7, NULL);
	b0 = atomic_load(&st->batches);
	for (int i = 0; i < 7; i++) {
		msg_init(&d[i], bigmsg, big, acc, 1, NULL);
		d[i].loop = lt.loop;
		d[i].done = on_done;
		store_deliver(st, &d[i]);
	}
	store_test_pause_writer(st, 0);
	CHECK(wait_for(&done_n, 7));
	CHECK_EQ_INT(atomic_load(&done_ok), 7);
	CHECK_EQ_INT(atomic_load(&st->batches) - b0, 2);
	CHECK_EQ_INT(blob_refs(st, d[0].blob_id), 7);

	/* A failing commit: every request of the batch gets ETEMP, nothing stays. */
	uint64_t before;
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &before), 0);
	size_t blobs = blob_count(st);
	store_test_pause_writer(st, 1);
	store_test_fail_commits(st, EIO);
	reset_done(10, NULL);
	w[0] = (struct wctx){st, lt.loop, acc, 2, 0, 10, d, msg};
	producer(&w[0]);
	store_test_pause_writer(st, 0);
	CHECK(wait_for(&done_n, 10));
	CHECK_EQ_INT(atomic_load(&done_bad), 10);
	CHECK_EQ_INT(d[0].result, STORE_ETEMP);
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), 0);
	CHECK_EQ_INT(ms, before);
	CHECK_EQ_INT(blob_count(st), blobs);
	uint32_t one = acc[0];
	msg_init(&d[0], "x", 1, &one, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d[0]), STORE_ETEMP);
	store_test_fail_commits(st, 0);
	CHECK_EQ_INT(store_deliver_sync(st, &d[0]), STORE_OK);

	/* store_close drains what is queued, each request completed. */
	store_test_pause_writer(st, 1);
	reset_done(20, NULL);
	w[0] = (struct wctx){st, lt.loop, acc, 1, 0, 20, d, msg};
	producer(&w[0]);
	store_close(&st);
	CHECK(wait_for(&done_n, 20));
	CHECK_EQ_INT(atomic_load(&done_ok), 20);
	lt_sync(&lt);
	lt_stop(&lt);

	st = open_ok(dir, STORE_READONLY);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[0], STORE_INBOX_ID, collect_email, &e), 0);
	CHECK_EQ_INT(e.n, 512); /* collector cap; there are more */
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), 0);
	CHECK_EQ_INT(ms, N + NSESS * PERSESS + 50 + NPAUSE + 7 + 1 + 20);
	/* Writes are refused on a read-only store. */
	CHECK_EQ_INT(store_domain_add(st, "x.com", err, sizeof err), STORE_EINVAL);
	store_close(&st);
	free(bigmsg);
	free(msg);
	free(d);
}

/* ---- map growth ---- */

static void test_growth(void)
{
	enum { NMSG = 48, SZ = 64 * 1024 };
	char dir[300], err[256];
	struct store *st;
	uint32_t acc[2];
	struct emails e;
	uint64_t map0, map1, used;

	store_test_set_initial_map(256 * 1024);
	st = open_ok(new_dir(dir, sizeof dir), STORE_SERVER);
	if (!st)
		return;
	CHECK_EQ_INT(store_map_info(st, &map0, &used), 0);
	CHECK_EQ_INT(map0, 256 * 1024);
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc[0], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc[1], err, sizeof err), 0);

	char *buf = malloc((size_t)NMSG * SZ);
	struct store_delivery *d = calloc(NMSG, sizeof *d);
	for (int i = 0; i < NMSG; i++) {
		char *m = buf + (size_t)i * SZ;
		memset(m, 'a' + i % 26, SZ);
		memcpy(m, &i, sizeof i); /* all distinct */
	}
	/* Half synchronously (admin-style path), half through the writer. */
	for (int i = 0; i < NMSG / 2; i++) {
		msg_init(&d[i], buf + (size_t)i * SZ, SZ, acc, 2, NULL);
		CHECK_EQ_INT(store_deliver_sync(st, &d[i]), STORE_OK);
	}
	struct loop_thread lt;
	lt_start(&lt);
	reset_done(NMSG / 2, NULL);
	store_test_pause_writer(st, 1);
	for (int i = NMSG / 2; i < NMSG; i++) {
		msg_init(&d[i], buf + (size_t)i * SZ, SZ, acc, 2, NULL);
		d[i].loop = lt.loop;
		d[i].done = on_done;
		store_deliver(st, &d[i]);
	}
	store_test_pause_writer(st, 0);
	CHECK(wait_for(&done_n, NMSG / 2));
	CHECK_EQ_INT(atomic_load(&done_ok), NMSG / 2);
	CHECK_EQ_INT(store_map_info(st, &map1, &used), 0);
	unsigned long long grows = atomic_load(&st->grows);
	CHECK(grows >= 3);
	CHECK(map1 >= (uint64_t)NMSG * SZ);
	CHECK(used <= map1);
	fprintf(stderr, "test_store: growth: map %llu -> %llu bytes in %llu doublings, %llu used\n",
	        (unsigned long long)map0, (unsigned long long)map1, grows,
	        (unsigned long long)used);
	lt_sync(&lt);
	lt_stop(&lt);
	store_close(&st);

	/* Reopen: the map starts at least at the file's size, all data there. */
	st = open_ok(dir, 0);
	CHECK_EQ_INT(store_map_info(st, &map1, &used), 0);
	CHECK(map1 > used);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[1], STORE_INBOX_ID, collect_email, &e), 0);
	CHECK_EQ_INT(e.n, NMSG);
	struct raw raw;
	CHECK_EQ_INT(store_email_raw(st, acc[1], NMSG, collect_raw, &raw), 0);
	CHECK_EQ_INT(raw.len, SZ);
	CHECK(memcmp(raw.buf, buf + (size_t)(NMSG - 1) * SZ, sizeof raw.buf) == 0);
	/* Admin writes grow too: fill the map with accounts and new mail. The
	 * file holds some MiB of room past the data (store_room.c), so the map
	 * reopened above it has room to spare: write rounds of new messages
	 * (each round's differ from all before) until it must grow. */
	uint64_t m2, m3 = 0;
	CHECK_EQ_INT(store_map_info(st, &m2, NULL), 0);
	for (int i = 0; i < 300; i++) {
		char a[64];
		snprintf(a, sizeof a, "user%d@example.com", i);
		CHECK_EQ_INT(store_account_add(st, a, NULL, 0, NULL, err, sizeof err), 0);
	}
	for (int round = 1; round <= 16; round++) {
		for (int i = 0; i < NMSG; i++) {
			memcpy(buf + (size_t)i * SZ + sizeof i, &round, sizeof round);
			msg_init(&d[i], buf + (size_t)i * SZ, SZ - 1, acc, 1, NULL);
			CHECK_EQ_INT(store_deliver_sync(st, &d[i]), STORE_OK);
		}
		CHECK_EQ_INT(store_map_info(st, &m3, NULL), 0);
		if (m3 > m2)
			break;
	}
	CHECK(m3 > m2);
	store_close(&st);
	store_test_set_initial_map(0);
	free(buf);
	free(d);
}

/*
 * The map cannot grow (the address space is short: a ulimit -v, a 32-bit
 * host). LMDB's remap, failing, left the environment without a map and the
 * next transaction crashed; now the growth is refused before LMDB is asked,
 * new mail gets STORE_EFULL as on a full disk, everything stored reads
 * back, and once the map may grow again so do the deliveries.
 */
static void test_map_cannot_grow(void)
{
	enum { SZ = 48 * 1024 };
	char dir[300], err[256];
	struct store *st;
	uint32_t acc, ids[1];
	uint64_t map0, map1;

	store_test_set_initial_map(256 * 1024);
	st = open_ok(new_dir(dir, sizeof dir), 0);
	store_test_set_initial_map(0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	CHECK_EQ_INT(store_map_info(st, &map0, NULL), 0);
	store_test_set_map_limit(map0);

	char *m = malloc(SZ);
	struct store_delivery d;
	int ok = 0, rc = STORE_OK;
	for (int i = 0; i < 64 && rc == STORE_OK; i++) {
		memset(m, 'a', SZ);
		memcpy(m, &i, sizeof i);
		msg_init(&d, m, SZ, &acc, 1, ids);
		rc = store_deliver_sync(st, &d);
		ok += rc == STORE_OK;
	}
	CHECK_EQ_INT(rc, STORE_EFULL);
	CHECK(ok >= 1);
	CHECK_EQ_INT(store_map_info(st, &map1, NULL), 0);
	CHECK_EQ_INT(map1, map0);
	/* What was acknowledged is there, whole; what was refused is not. */
	struct emails e;
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, collect_email, &e), STORE_OK);
	CHECK_EQ_INT(e.n, ok);
	CHECK_EQ_INT(e.meta_ok, ok);
	for (int i = 0; i < e.n; i++)
		CHECK_EQ_INT(e.size[i], SZ);
	fprintf(stderr, "test_store: map held at %llu bytes: %d stored, then STORE_EFULL\n",
	        (unsigned long long)map0, ok);
	/* The limit goes: the map grows and mail comes in again. */
	store_test_set_map_limit(0);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(store_map_info(st, &map1, NULL), 0);
	CHECK(map1 > map0);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, collect_email, &e), STORE_OK);
	CHECK_EQ_INT(e.n, ok + 1);
	store_close(&st);
	free(m);
}

/* A real I/O error: the file may not grow (RLIMIT_FSIZE -> EFBIG). */
static void test_io_error(void)
{
	char dir[300], err[256], path[400];
	struct store *st;
	uint32_t acc;
	struct stat sb;
	struct rlimit old, lim;

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	CHECK(stat(path, &sb) == 0);

	size_t sz = 1u << 20;
	char *m = malloc(sz);
	memset(m, 'q', sz);
	struct store_delivery d;
	msg_init(&d, m, sz, &acc, 1, NULL);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size;
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = store_deliver_sync(st, &d);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK_EQ_INT(rc, STORE_ETEMP);
	uint64_t ms = 9;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), 0);
	CHECK_EQ_INT(ms, 0);
	CHECK_EQ_INT(blob_count(st), 0);
	/* The environment still works once the disk has room again. */
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), 0);
	CHECK_EQ_INT(ms, 1);
	store_close(&st);
	free(m);
}

/*
 * Another process (the CLI) grows the map behind our back: our next
 * transaction gets MDB_MAP_RESIZED and must adopt the new size.
 */
/*
 * In a child forked before this process opened dir (LMDB forbids opening
 * after): waits for the parent's go on p2c, then opens dir as the CLI does.
 * NULL means the child must _exit at once.
 */
static struct store *child_open_on_go(const char *dir, int p2c[2], int c2p[2])
{
	char c, err[256];
	struct store *st = NULL;

	close(p2c[1]);
	close(c2p[0]);
	if (read(p2c[0], &c, 1) != 1 || store_open(dir, 0, &st, err, sizeof err) != STORE_OK)
		return NULL;
	return st;
}

static void test_other_process_grows(void)
{
	enum { NMSG = 40, SZ = 64 * 1024 };
	char dir[300], err[256], c = 'g';
	struct store *st;
	uint32_t acc;
	int p2c[2], c2p[2], status = -1;

	new_dir(dir, sizeof dir);
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return;
	/* Fork before this process opens the environment (LMDB forbids after). */
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		if (!(st = child_open_on_go(dir, p2c, c2p)))
			_exit(2);
		char *m = malloc(SZ);
		uint32_t one = 1;
		for (int i = 0; i < NMSG; i++) {
			struct store_delivery d;
			memset(m, 'a' + i, SZ);
			msg_init(&d, m, SZ, &one, 1, NULL);
			bad |= store_deliver_sync(st, &d) != STORE_OK;
		}
		free(m);
		store_close(&st);
		bad |= write(c2p[1], "k", 1) != 1;
		_exit(bad);
	}
	close(p2c[0]);
	close(c2p[1]);
	store_test_set_initial_map(256 * 1024);
	st = open_ok(dir, STORE_SERVER);
	store_test_set_initial_map(0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	CHECK_EQ_INT(acc, 1);
	uint64_t map0, map1;
	CHECK_EQ_INT(store_map_info(st, &map0, NULL), 0);
	CHECK(write(p2c[1], &c, 1) == 1);
	CHECK(read(c2p[0], &c, 1) == 1);
	waitpid(pid, &status, 0);
	CHECK_EQ_INT(status, 0);

	struct emails e;
	/* No address space for a larger map: the read fails, and nothing
	 * else (LMDB's failed remap used to leave no map at all). */
	store_test_set_map_limit(map0);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, collect_email, &e), STORE_ETEMP);
	CHECK_EQ_INT(store_map_info(st, &map1, NULL), 0);
	CHECK_EQ_INT(map1, map0);
	store_test_set_map_limit(0);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, collect_email, &e), 0);
	CHECK_EQ_INT(e.n, NMSG);
	CHECK_EQ_INT(store_map_info(st, &map1, NULL), 0);
	CHECK(map1 > map0);
	struct store_delivery d;
	msg_init(&d, "after", 5, &acc, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	uint64_t ms;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), 0);
	CHECK_EQ_INT(ms, NMSG + 1);
	fprintf(stderr, "test_store: another process grew the map: ours %llu -> %llu\n",
	        (unsigned long long)map0, (unsigned long long)map1);
	store_close(&st);
	close(p2c[1]);
	close(c2p[0]);
}

/* ---- change feed ---- */

static atomic_int feed_calls;
static atomic_ullong feed_modseq;

static void on_change(void *arg, uint32_t account, uint64_t modseq)
{
	uint32_t *want = arg;
	if (account == *want) {
		atomic_store(&feed_modseq, modseq);
		atomic_fetch_add(&feed_calls, 1);
	}
}

struct unsub_job {
	struct store *st;
	struct store_sub *sub;
	atomic_int done;
};

static void unsub_on_loop(void *arg)
{
	struct unsub_job *j = arg;
	store_unsubscribe(j->st, j->sub);
	atomic_store(&j->done, 1);
}

static void stop_cb(void *arg)
{
	loop_stop(arg);
}

static void test_feed(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc[2];
	struct store_delivery d;

	st = open_ok(new_dir(dir, sizeof dir), STORE_SERVER);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc[0], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc[1], err, sizeof err), 0);

	struct loop_thread lt;
	lt_start(&lt);
	struct store_sub sub = {
	    .account = acc[0], .loop = lt.loop, .cb = on_change, .arg = &acc[0]};
	struct store_sub subb = {
	    .account = acc[1], .loop = lt.loop, .cb = on_change, .arg = &acc[0]};
	store_subscribe(st, &sub);
	store_subscribe(st, &subb);

	/* Through the writer thread. */
	reset_done(1, NULL);
	msg_init(&d, "hello", 5, acc, 1, NULL);
	d.loop = lt.loop;
	d.done = on_done;
	store_deliver(st, &d);
	CHECK(wait_for(&done_n, 1));
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 1);
	CHECK_EQ_INT(atomic_load(&feed_modseq), 1);

	/* Synchronous delivery publishes too; b's change is not a's. */
	msg_init(&d, "hello", 5, acc, 2, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 2);
	CHECK_EQ_INT(atomic_load(&feed_modseq), 2);

	/* After unsubscribe (on the loop thread) nothing arrives. */
	struct unsub_job j = {st, &sub, 0};
	loop_post(lt.loop, unsub_on_loop, &j);
	CHECK(wait_for(&j.done, 1));
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 2);
	store_unsubscribe(st, &subb);
	lt_stop(&lt);

	/*
	 * A notification already posted when the subscriber unsubscribes must
	 * not run its callback: the loop is idle (not running), so this thread
	 * stands for its thread.
	 */
	struct loop *l = loop_new();
	atomic_store(&feed_calls, 0);
	sub.loop = l;
	store_subscribe(st, &sub);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0); /* posts to l */
	store_unsubscribe(st, &sub);
	store_subscribe(st, &sub); /* same address, new generation */
	loop_post(l, stop_cb, l);
	loop_run(l);
	CHECK_EQ_INT(atomic_load(&feed_calls), 0);

	/* A notification may outlive the store: it must still run safely. */
	loop_free(&l);
	store_unsubscribe(st, &sub);
	l = loop_new();
	sub.loop = l;
	atomic_store(&feed_calls, 0);
	store_subscribe(st, &sub);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	store_close(&st);
	loop_post(l, stop_cb, l);
	loop_run(l);
	CHECK_EQ_INT(atomic_load(&feed_calls), 1);
	loop_free(&l);
}

/* Nested reads from a callback (MDB_NOTLS, reader-preferring lock). */
struct nest {
	struct store *st;
	uint32_t acc;
	int raw_ok;
};

static void nest_email(void *arg, const struct store_email_info *i)
{
	struct nest *n = arg;
	struct raw raw;
	if (store_email_raw(n->st, n->acc, i->email_id, collect_raw, &raw) == STORE_OK &&
	    raw.len == 5)
		n->raw_ok++;
}

/*
 * A change another process (the CLI) commits reaches this one's change
 * feed through the note it leaves (store_xchg.c): store_xchg_poll
 * publishes the account once, with its modseq now; nothing is told
 * twice, and a poll with nothing new tells nothing. The account's
 * removal there is published too, with STORE_MODSEQ_GONE, and the note its
 * removal left behind is taken away.
 */
static void test_feed_other_process(void)
{
	enum { NMSG = 3 };
	char dir[300], err[256], c = 'g';
	struct store *st;
	uint32_t acc;
	int p2c[2], c2p[2], status = -1;

	new_dir(dir, sizeof dir);
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		if (!(st = child_open_on_go(dir, p2c, c2p)))
			_exit(2);
		uint32_t one = 1;
		/* The first is noted at once, the rest at the close. */
		for (int i = 0; i < NMSG; i++) {
			struct store_delivery d;
			msg_init(&d, "other", 5, &one, 1, NULL);
			bad |= store_deliver_sync(st, &d) != STORE_OK;
		}
		bad |= write(c2p[1], "k", 1) != 1;
		/* Then, when told, removes the account. */
		bad |= read(p2c[0], &c, 1) != 1;
		bad |= store_account_del(st, "a@example.com", err, sizeof err) != STORE_OK;
		store_close(&st);
		bad |= write(c2p[1], "k", 1) != 1;
		_exit(bad);
	}
	close(p2c[0]);
	close(c2p[1]);
	st = open_ok(dir, STORE_SERVER);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	struct loop_thread lt;
	lt_start(&lt);
	atomic_store(&feed_calls, 0);
	struct store_sub sub = {.account = acc, .loop = lt.loop, .cb = on_change, .arg = &acc};
	store_subscribe(st, &sub);
	CHECK_EQ_INT(store_xchg_poll(st), 0);
	CHECK(write(p2c[1], &c, 1) == 1);
	CHECK(read(c2p[0], &c, 1) == 1);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 0); /* not in-process: nothing yet */
	CHECK_EQ_INT(store_xchg_poll(st), 1);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 1);
	CHECK_EQ_INT(atomic_load(&feed_modseq), NMSG);
	CHECK_EQ_INT(store_xchg_poll(st), 0);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 1);
	/* The child removes the account: its note is written after the
	 * removal deleted the old one, and names an account that is gone. */
	char v[16];
	size_t vl;
	CHECK(write(p2c[1], &c, 1) == 1);
	CHECK(read(c2p[0], &c, 1) == 1);
	waitpid(pid, &status, 0);
	CHECK_EQ_INT(status, 0);
	CHECK_EQ_INT(store_meta_get(st, "xchg/00000001", v, sizeof v, &vl), STORE_OK);
	CHECK_EQ_INT(store_xchg_poll(st), 1);
	lt_sync(&lt);
	CHECK_EQ_INT(atomic_load(&feed_calls), 2);
	CHECK(atomic_load(&feed_modseq) == STORE_MODSEQ_GONE);
	CHECK_EQ_INT(store_meta_get(st, "xchg/00000001", v, sizeof v, &vl), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_xchg_poll(st), 0);
	store_unsubscribe(st, &sub);
	lt_stop(&lt);
	store_close(&st);
	close(p2c[1]);
	close(c2p[0]);
}

static void test_nested_reads(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc;
	struct store_delivery d;

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	msg_init(&d, "hello", 5, &acc, 1, NULL);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	CHECK_EQ_INT(store_deliver_sync(st, &d), 0);
	struct nest n = {st, acc, 0};
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, nest_email, &n), 0);
	CHECK_EQ_INT(n.raw_ok, 2);
	store_close(&st);
}

/* ---- mailbox names in NFC ---- */

struct raw_name_ctx {
	uint32_t account, mailbox;
	const char *name;
};

/* Test-only: writes a mailbox's name as given, as a store from before
 * names were normalised may hold it. */
static int raw_name_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct raw_name_ctx *c = arg;
	struct mbox_rec m;
	int rc = mbox_get(txn, st, c->account, c->mailbox, &m);
	if (rc)
		return rc;
	snprintf(m.name, sizeof m.name, "%s", c->name);
	return mbox_put(txn, st, c->account, c->mailbox, &m);
}

#define E_NFD "e\xcc\x81"  /* e + U+0301 */
#define E_NFC "\xc3\xa9"   /* U+00E9 */

static int has_mailbox(struct store *st, uint32_t acc, const char *name)
{
	struct strs s;
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_list(st, acc, collect_mailbox, &s), STORE_OK);
	for (int i = 0; i < s.n; i++) {
		const char *sp = strchr(s.v[i], ' ');
		size_t n = strlen(name);
		if (sp && !strncmp(sp + 1, name, n) && sp[1 + n] == ' ')
			return 1;
	}
	return 0;
}

static void test_mailbox_nfc(void)
{
	char dir[300], err[256];
	uint32_t acc, id, id2, kid;
	struct store *st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), STORE_OK);

	/* Created decomposed, stored composed; either spelling finds it and
	 * neither creates a second. */
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Caf" E_NFD, &id), STORE_OK);
	CHECK(has_mailbox(st, acc, "Caf" E_NFC));
	CHECK(!has_mailbox(st, acc, "Caf" E_NFD));
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Caf" E_NFC, &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Caf" E_NFD, &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Caf" E_NFC, NULL), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Caf" E_NFD "/Kid", &kid), STORE_OK);
	CHECK(has_mailbox(st, acc, "Caf" E_NFC "/Kid"));
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Caf" E_NFD, "R" E_NFD "sum" E_NFD), STORE_OK);
	CHECK(has_mailbox(st, acc, "R" E_NFC "sum" E_NFC "/Kid"));
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "R" E_NFD "sum" E_NFC, 1), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "R" E_NFD "sum" E_NFC "/Kid"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_delete(st, acc, "R" E_NFC "sum" E_NFD), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "R" E_NFC "sum" E_NFC, &id2), STORE_ENOTFOUND);

	/* A store from before: a name kept decomposed is still found by both
	 * spellings, keeps its children under its own spelling, can be
	 * renamed to its NFC form, and blocks an equivalent new name. */
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Old", &id), STORE_OK);
	struct raw_name_ctx rc = {acc, id, "Ol" E_NFD};
	CHECK_EQ_INT(store_write(st, raw_name_fn, &rc), 0);
	CHECK(has_mailbox(st, acc, "Ol" E_NFD));
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Ol" E_NFC, &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Ol" E_NFD, &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Ol" E_NFC, NULL), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "Ol" E_NFC "/Kid", &kid), STORE_OK);
	CHECK(has_mailbox(st, acc, "Ol" E_NFD "/Kid"));
	CHECK_EQ_INT(store_mailbox_subscribe(st, acc, "Ol" E_NFC, 1), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Ol" E_NFC "/Kid", "Ol" E_NFC "/Kid2"), STORE_OK);
	CHECK(has_mailbox(st, acc, "Ol" E_NFD "/Kid2"));
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Ol" E_NFC, "Ol" E_NFC "/x"), STORE_EINVAL);
	/* either spelling of the new name is its NFC: this brings it to NFC */
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Ol" E_NFD, "Ol" E_NFD), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename(st, acc, "Ol" E_NFD, "Ol" E_NFC), STORE_EEXIST);
	CHECK(has_mailbox(st, acc, "Ol" E_NFC));
	CHECK(has_mailbox(st, acc, "Ol" E_NFC "/Kid2"));
	CHECK(!has_mailbox(st, acc, "Ol" E_NFD));
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Ol" E_NFD "/Kid2", &id2), STORE_OK);
	CHECK_EQ_INT(id2, kid);
	store_close(&st);
}

/* A name's levels are looked up by key, not compared with every mailbox
 * of the account: creating a 490-level name among 4,400 mailboxes looks
 * at a few of them per level (it looked at all 4,400 per level). */
static void test_mailbox_lookup_keyed(void)
{
	char dir[300], err[256], name[1001];
	uint32_t acc, id, id2;
	struct store *st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	store_mailbox_limits(st, 65535, 1000);
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), STORE_OK);
	size_t levels = 0;
	for (int t = 0; t <= 9; t++) {
		size_t k = (size_t)snprintf(name, sizeof name, "%c", 'a' + t);
		for (levels = 1; k + 2 <= 980; levels++)
			k += (size_t)snprintf(name + k, sizeof name - k, "/x");
		if (t < 9)
			CHECK_EQ_INT(store_mailbox_create(st, acc, name, NULL), STORE_OK);
	}
	unsigned long before = st->mailbox_name_probes;
	CHECK_EQ_INT(store_mailbox_create(st, acc, name, &id), STORE_OK);
	unsigned long probes = st->mailbox_name_probes - before;
	CHECK(levels > 400);
	if (probes > 4 * levels)
		fprintf(stderr, "create of %zu levels looked at %lu mailboxes\n", levels, probes);
	CHECK(probes <= 4 * levels);
	CHECK_EQ_INT(store_mailbox_find(st, acc, name, &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	CHECK_EQ_INT(store_mailbox_create(st, acc, name, NULL), STORE_EEXIST);
	name[strlen(name) - 2] = '\0';
	before = st->mailbox_name_probes;
	CHECK_EQ_INT(store_mailbox_rename(st, acc, name, "j2"), STORE_OK);
	CHECK(st->mailbox_name_probes - before <= 8);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "j2/x", &id2), STORE_OK);
	CHECK_EQ_INT(id2, id);
	store_close(&st);
}

/* ---- expunge (POP3 QUIT today, IMAP EXPUNGE later) ---- */

struct add_member_ctx {
	uint32_t account, email_id, mailbox, uid;
};

/* Test-only: gives an email a second membership, as IMAP COPY will. */
static int add_member_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct add_member_ctx *c = arg;
	struct mbox_rec m;
	struct email_rec e;
	uint8_t kb[12], members[16], urec[5];
	MDB_val k = key_u32_u32(kb, c->account, c->email_id), v;
	int rc;

	if ((rc = mbox_get(txn, st, c->account, c->mailbox, &m)) != 0)
		return rc;
	c->uid = m.uidnext++;
	m.messages++;
	if ((rc = mbox_put(txn, st, c->account, c->mailbox, &m)) != 0)
		return rc;
	if ((rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v)) != 0)
		return rc;
	uint8_t copy[4096];
	memcpy(copy, v.mv_data, v.mv_size);
	MDB_val cv = {v.mv_size, copy};
	if ((rc = email_dec(&cv, &e)) != 0 || e.nmembers != 1)
		return rc ? rc : MDB_CORRUPTED;
	memcpy(members, e.members, 8);
	be32_put(members + 8, c->mailbox);
	be32_put(members + 12, c->uid);
	e.members = members;
	e.nmembers = 2;
	if ((rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0)) != 0)
		return rc;
	urec[0] = REC_V1;
	be32_put(urec + 1, c->email_id);
	k = key_u32_u32_u32(kb, c->account, c->mailbox, c->uid);
	v = (MDB_val){sizeof urec, urec};
	return mdb_put(txn, st->db[DB_UID], &k, &v, 0);
}

static void uidvalidity_of(void *arg, const struct store_mailbox_info *i)
{
	if (i->id == STORE_INBOX_ID)
		*(uint32_t *)arg = i->uidvalidity;
}

/* Raw change record (account, modseq) into buf; its length, or 0. */
static size_t change_record(struct store *st, uint32_t account, uint64_t modseq, uint8_t *buf,
                            size_t bufsz)
{
	MDB_txn *txn;
	uint8_t kb[12];
	MDB_val k = key_u32_u64(kb, account, modseq), v;
	size_t n = 0;

	if (store_rd_begin(st, &txn) != 0)
		return 0;
	if (mdb_get(txn, st->db[DB_CHANGE], &k, &v) == 0 && v.mv_size <= bufsz) {
		memcpy(buf, v.mv_data, v.mv_size);
		n = v.mv_size;
	}
	store_rd_end(st, txn);
	return n;
}

static int email_members(struct store *st, uint32_t account, uint32_t email_id,
                         uint64_t *modseq_r)
{
	MDB_txn *txn;
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, email_id), v;
	struct email_rec e;
	int n = -1;

	if (store_rd_begin(st, &txn) != 0)
		return -1;
	if (mdb_get(txn, st->db[DB_EMAIL], &k, &v) == 0 && email_dec(&v, &e) == 0) {
		n = e.nmembers;
		*modseq_r = e.modseq;
	}
	store_rd_end(st, txn);
	return n;
}

/* A hold's digest of what it reads, and the length. */
struct held {
	uint8_t sum[32];
	size_t len;
};

static void digest_cb(void *arg, const char *data, size_t len)
{
	struct held *h = arg;
	store_blob_id(data, len, h->sum);
	h->len = len;
}

/* Entries in blobgc becomes want within ms milliseconds (the writer sweeps). */
static int gc_entries_become(struct store *st, size_t want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (db_entries(st, DB_BLOBGC) == want)
			return 1;
		sleep_ms(1);
	}
	return db_entries(st, DB_BLOBGC) == want;
}

/*
 * Holds (store_hold.c): a stream's bytes outlive the email's expunge and
 * its account's deletion; freed bytes wait in blobgc until a sweep finds
 * them old enough and not held; the writer sweeps at start and on time.
 */
static void test_hold(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc, ids[1], uv = 0;
	struct store_delivery d;
	struct store_hold h, h2;
	struct held got;
	size_t removed;
	uint64_t ms;
	size_t big = 300 * 1024;
	char *m = malloc(big);
	uint8_t want[32];

	if (!m)
		return;
	for (size_t i = 0; i < big; i++)
		m[i] = (char)('a' + i % 26);
	memcpy(m, "Subject: big\r\n\r\n", 16);
	store_blob_id(m, big, want);
	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st) {
		free(m);
		return;
	}
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc, err, sizeof err), 0);
	msg_init(&d, m, big, &acc, 1, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(store_mailbox_list(st, acc, uidvalidity_of, &uv), STORE_OK);

	/* No such email: nothing held. */
	CHECK_EQ_INT(store_email_hold(st, acc, ids[0] + 1, NULL, NULL, &h), STORE_ENOTFOUND);
	CHECK(!h.held);
	CHECK_EQ_INT(store_hold_read(st, &h, digest_cb, &got), STORE_EINVAL);

	/* Held twice (two sessions streaming it), then expunged. */
	CHECK_EQ_INT(store_email_hold(st, acc, ids[0], NULL, NULL, &h), STORE_OK);
	CHECK(h.held && h.seq != 0);
	CHECK_EQ_INT(store_email_hold(st, acc, ids[0], NULL, NULL, &h2), STORE_OK);
	uint32_t uid = 1;
	CHECK_EQ_INT(store_expunge(st, acc, STORE_INBOX_ID, uv, &uid, 1, &removed, &ms), STORE_OK);
	CHECK_EQ_INT(removed, 1);
	CHECK_EQ_INT(store_email_raw(st, acc, ids[0], digest_cb, &got), STORE_ENOTFOUND);
	CHECK_EQ_INT(blob_refs(st, want), 0);
	CHECK_EQ_INT(blob_count(st), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
	memset(&got, 0, sizeof got);
	CHECK_EQ_INT(store_hold_read(st, &h, digest_cb, &got), STORE_OK);
	CHECK(got.len == big && memcmp(got.sum, want, 32) == 0);

	/* Too young for a sweep with grace; held for one without. Neither
	 * deletes anything, so neither commits (no flush for nothing). */
	uint64_t commits = atomic_load(&st->commits);
	CHECK(store_blob_sweep(st, 60000) > store_wall_ms());
	CHECK_EQ_INT(store_blob_sweep(st, 0), 0);
	CHECK_EQ_INT(atomic_load(&st->commits), commits);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
	store_hold_release(st, &h);
	CHECK(!h.held);
	store_hold_release(st, &h); /* twice is fine */
	CHECK_EQ_INT(store_blob_sweep(st, 0), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1); /* h2 still holds it */
	memset(&got, 0, sizeof got);
	CHECK_EQ_INT(store_hold_read(st, &h2, digest_cb, &got), STORE_OK);
	CHECK(got.len == big && memcmp(got.sum, want, 32) == 0);

	/* The same bytes delivered again meanwhile: a new blob, not the held one. */
	msg_init(&d, m, big, &acc, 1, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(blob_refs(st, want), 1);
	CHECK(blob_seq(st, want) != h2.seq);
	store_hold_release(st, &h2);
	CHECK_EQ_INT(store_blob_sweep(st, 0), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 1);
	memset(&got, 0, sizeof got);
	CHECK_EQ_INT(store_email_raw(st, acc, ids[0], digest_cb, &got), STORE_OK);
	CHECK(got.len == big && memcmp(got.sum, want, 32) == 0);

	/* Held through the account's deletion (the API's, in this process). */
	CHECK_EQ_INT(store_email_hold(st, acc, ids[0], NULL, NULL, &h), STORE_OK);
	CHECK_EQ_INT(store_account_del(st, "a@example.com", err, sizeof err), 0);
	CHECK_EQ_INT(blob_count(st), 0);
	memset(&got, 0, sizeof got);
	CHECK_EQ_INT(store_hold_read(st, &h, digest_cb, &got), STORE_OK);
	CHECK(got.len == big && memcmp(got.sum, want, 32) == 0);
	CHECK_EQ_INT(store_blob_sweep(st, 0), 0);
	CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
	/* A crash loses holds: what waits is swept when the server starts. */
	store_close(&st);
	st = open_ok(dir, STORE_SERVER);
	if (st) {
		CHECK(gc_entries_become(st, 0, 5000));
		CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 0);

		/* Serving: an unref asks the writer for a sweep after the grace,
		 * and a release of a hold the sweep left asks for one at once. */
		store_test_gc_grace(st, 50);
		CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc, err, sizeof err), 0);
		msg_init(&d, m, big, &acc, 1, ids);
		CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
		CHECK_EQ_INT(store_email_hold(st, acc, ids[0], NULL, NULL, &h), STORE_OK);
		CHECK_EQ_INT(store_account_del(st, "b@example.com", err, sizeof err), 0);
		CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
		sleep_ms(300); /* the sweep ran, and left it */
		CHECK_EQ_INT(db_entries(st, DB_BLOBGC), 1);
		CHECK_EQ_INT(store_hold_read(st, &h, digest_cb, &got), STORE_OK);
		store_hold_release(st, &h);
		CHECK(gc_entries_become(st, 0, 5000));
		CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 0);
		store_close(&st);
	}
	free(m);
}

/*
 * Bytes freed by another process (the CLI deleting an account while the
 * server runs) are swept by the server's periodic sweep: no unref of its
 * own asks for one, and the server need not restart.
 */
/* The email record's trailing fields: origin, then the internal date's
 * zone. A record with neither is the layout every earlier build wrote
 * (and reads +0000); one with a zone and no origin carries origin 0, which
 * an older reader takes as "none". */
static void test_email_zone_codec(void)
{
	static const uint8_t meta[3] = { 1, 2, 3 };
	uint8_t buf[256];
	struct email_rec in = { .size = 10, .received_at = 1577950200, .metalen = 3, .meta = meta };
	struct email_rec out;
	struct rec_w w = { .p = buf, .cap = sizeof buf };

	email_enc(&w, &in);
	size_t plain = w.len;
	MDB_val v = { w.len, buf };
	CHECK_EQ_INT(email_dec(&v, &out), 0);
	CHECK_EQ_INT(out.zone, 0);
	CHECK_EQ_INT(out.origin, 0);
	CHECK_EQ_INT(email_size(&in), plain);

	in.zone = -480; /* "-0800" */
	w = (struct rec_w){ .p = buf, .cap = sizeof buf };
	email_enc(&w, &in);
	CHECK_EQ_INT(w.len, plain + 6);
	v = (MDB_val){ w.len, buf };
	CHECK_EQ_INT(email_dec(&v, &out), 0);
	CHECK_EQ_INT(out.zone, -480);
	CHECK_EQ_INT(out.origin, 0);
	CHECK_EQ_INT(out.received_at, 1577950200);

	in.origin = 7;
	in.zone = 5999;
	w = (struct rec_w){ .p = buf, .cap = sizeof buf };
	email_enc(&w, &in);
	v = (MDB_val){ w.len, buf };
	CHECK_EQ_INT(email_dec(&v, &out), 0);
	CHECK_EQ_INT(out.zone, 5999);
	CHECK_EQ_INT(out.origin, 7);

	in.zone = 0; /* a COPY's copy without a zone: as before */
	w = (struct rec_w){ .p = buf, .cap = sizeof buf };
	email_enc(&w, &in);
	CHECK_EQ_INT(w.len, plain + 4);
	v = (MDB_val){ w.len, buf };
	CHECK_EQ_INT(email_dec(&v, &out), 0);
	CHECK_EQ_INT(out.zone, 0);
	CHECK_EQ_INT(out.origin, 7);
}

static void test_gc_poll(void)
{
	char dir[300], err[256], c = 'g';
	struct store *st;
	uint32_t acc, ids[1];
	int p2c[2], c2p[2], status = -1;
	struct store_delivery d;
	static const char m[] = "Subject: freed elsewhere\r\n\r\nbody\r\n";

	new_dir(dir, sizeof dir);
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return;
	/* Fork before this process opens the environment (LMDB forbids after). */
	pid_t pid = fork();
	if (pid == 0) {
		if (!(st = child_open_on_go(dir, p2c, c2p)))
			_exit(2);
		int bad = store_account_del(st, "c@example.com", err, sizeof err) != 0;
		store_close(&st);
		bad |= write(c2p[1], "k", 1) != 1;
		_exit(bad);
	}
	close(p2c[0]);
	close(c2p[1]);
	store_test_set_gc_poll(100);
	st = open_ok(dir, STORE_SERVER);
	store_test_set_gc_poll(0);
	if (st) {
		store_test_gc_grace(st, 50);
		CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
		CHECK_EQ_INT(store_account_add(st, "c@example.com", NULL, 0, &acc, err, sizeof err), 0);
		msg_init(&d, m, sizeof m - 1, &acc, 1, ids);
		CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
		CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 1);
	}
	CHECK(write(p2c[1], &c, 1) == 1);
	CHECK(read(c2p[0], &c, 1) == 1);
	waitpid(pid, &status, 0);
	CHECK_EQ_INT(status, 0);
	if (st) {
		CHECK(gc_entries_become(st, 0, 5000));
		CHECK_EQ_INT(db_entries(st, DB_BLOBDATA), 0);
		store_close(&st);
	}
	close(p2c[1]);
	close(c2p[0]);
}

static void test_expunge(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t acc[2], ids[2], uv = 0;
	struct store_delivery d;
	struct emails e;
	struct strs s;
	struct raw raw;
	uint64_t ms = 0;
	uint8_t crec[256];
	size_t removed = 99;
	static const char m1[] = "Subject: shared\r\n\r\nboth accounts\r\n";
	static const char m2[] = "Subject: two\r\n\r\nalso in Sent\r\n";
	static const char m3[] = "Subject: three\r\n\r\nwith an envelope\r\n";
	const char *env[] = {"MAIL FROM:<x@y>\r\nRCPT TO:<a@example.com>\r\n"};
	uint8_t b1[32], b3[32];

	st = open_ok(new_dir(dir, sizeof dir), 0);
	if (!st)
		return;
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "a@example.com", NULL, 0, &acc[0], err, sizeof err), 0);
	CHECK_EQ_INT(store_account_add(st, "b@example.com", NULL, 0, &acc[1], err, sizeof err), 0);
	msg_init(&d, m1, sizeof m1 - 1, acc, 2, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	memcpy(b1, d.blob_id, 32);
	msg_init(&d, m2, sizeof m2 - 1, acc, 1, ids);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	msg_init(&d, m3, sizeof m3 - 1, acc, 1, ids);
	d.envelopes = env;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	memcpy(b3, d.blob_id, 32);
	struct add_member_ctx am = {acc[0], 2, 2 /* Sent */, 0};
	CHECK_EQ_INT(store_write(st, add_member_fn, &am), STORE_OK);
	CHECK_EQ_INT(store_mailbox_list(st, acc[0], uidvalidity_of, &uv), STORE_OK);
	CHECK(uv != 0);
	CHECK_EQ_INT(db_entries(st, DB_ENVELOPE), 1);
	CHECK_EQ_INT(blob_refs(st, b1), 2);

	/* Wrong UIDVALIDITY, mailbox or account: nothing happens. */
	uint32_t uids[] = {1, 2, 3, 99};
	CHECK_EQ_INT(store_expunge(st, acc[0], STORE_INBOX_ID, uv + 1, uids, 4, &removed, &ms),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(removed, 0);
	CHECK_EQ_INT(store_expunge(st, acc[0], 77, uv, uids, 4, NULL, NULL), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_expunge(st, 999, STORE_INBOX_ID, uv, uids, 4, NULL, NULL),
	             STORE_ENOTFOUND);
	CHECK_EQ_INT(store_expunge(st, acc[0], STORE_INBOX_ID, uv, NULL, 1, NULL, NULL),
	             STORE_EINVAL);
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 3);

	/* The expunge: UIDs 1-3 go, 99 never existed. */
	CHECK_EQ_INT(store_expunge(st, acc[0], STORE_INBOX_ID, uv, uids, 4, &removed, &ms),
	             STORE_OK);
	CHECK_EQ_INT(removed, 3);
	CHECK_EQ_INT(ms, 4);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[0], STORE_INBOX_ID, collect_email, &e), STORE_OK);
	CHECK_EQ_INT(e.n, 0);
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[0], 2, collect_email, &e), STORE_OK);
	CHECK(e.n == 1 && e.id[0] == 2);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_mailbox_list(st, acc[0], collect_mailbox, &s), STORE_OK);
	CHECK_EQ_STR(s.v[0], "1 INBOX inbox 4 4 0 uv");
	CHECK_EQ_STR(s.v[1], "2 Sent sent 2 0 1 uv");
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 4);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_account_list(st, collect_account, &s), STORE_OK);
	char want[128];
	snprintf(want, sizeof want, "%u a@example.com 0 %zu 1", acc[0], sizeof m2 - 1);
	CHECK_EQ_STR(s.v[0], want);
	/* The email still in Sent kept its blob and its modseq: its copy
	 * there did not change, and Sent's highest modseq (2) stays. */
	CHECK_EQ_INT(email_members(st, acc[0], 2, &ms), 1);
	CHECK_EQ_INT(ms, 2);
	CHECK_EQ_INT(email_members(st, acc[0], 1, &ms), -1);
	CHECK_EQ_INT(store_email_raw(st, acc[0], 1, collect_raw, &raw), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_email_raw(st, acc[0], 2, collect_raw, &raw), STORE_OK);
	CHECK_EQ_INT(blob_refs(st, b1), 1); /* b still has it */
	CHECK_EQ_INT(blob_refs(st, b3), 0);
	CHECK_EQ_INT(blob_count(st), 2);
	CHECK_EQ_INT(db_entries(st, DB_ENVELOPE), 0);
	/* One change record at modseq 4 with one entry per membership removed,
	 * each destroyed email's followed by its thread's. */
	size_t n = change_record(st, acc[0], 4, crec, sizeof crec);
	CHECK_EQ_INT(n, 3 + 5 * 13);
	if (n == 3 + 5 * 13) {
		CHECK_EQ_INT(crec[0], REC_V1);
		CHECK_EQ_INT(be16_get(crec + 1), 5);
		static const uint8_t kinds[5] = {CHANGE_EMAIL_DESTROYED, CHANGE_EMAIL_THREAD,
		                                 CHANGE_EMAIL_UPDATED, CHANGE_EMAIL_DESTROYED,
		                                 CHANGE_EMAIL_THREAD};
		static const uint32_t emails[5] = {1, 1, 2, 3, 3};
		for (int i = 0; i < 5; i++) {
			const uint8_t *en = crec + 3 + i * 13;
			CHECK_EQ_INT(en[0], kinds[i]);
			if (kinds[i] == CHANGE_EMAIL_THREAD) {
				CHECK(be32_get(en + 1) != 0);                  /* thread id */
				CHECK_EQ_INT(be32_get(en + 5), 0);
				CHECK_EQ_INT(be32_get(en + 9), emails[i]);     /* email id */
				continue;
			}
			CHECK_EQ_INT(be32_get(en + 1), emails[i]);         /* email id */
			CHECK_EQ_INT(be32_get(en + 5), STORE_INBOX_ID);    /* mailbox */
			CHECK_EQ_INT(be32_get(en + 9), emails[i]);         /* uid */
		}
	}
	/* The other account is untouched. */
	memset(&e, 0, sizeof e);
	CHECK_EQ_INT(store_email_list(st, acc[1], STORE_INBOX_ID, collect_email, &e), STORE_OK);
	CHECK_EQ_INT(e.n, 1);

	/* Again: nothing left to remove, no modseq spent. */
	CHECK_EQ_INT(store_expunge(st, acc[0], STORE_INBOX_ID, uv, uids, 4, &removed, &ms),
	             STORE_OK);
	CHECK_EQ_INT(removed, 0);
	CHECK_EQ_INT(ms, 0);
	CHECK_EQ_INT(store_account_modseq(st, acc[0], &ms), STORE_OK);
	CHECK_EQ_INT(ms, 4);
	CHECK_EQ_INT(store_expunge(st, acc[1], STORE_INBOX_ID, uv, NULL, 0, &removed, NULL),
	             STORE_ENOTFOUND); /* b's INBOX has its own UIDVALIDITY */

	/* A store opened read-only cannot expunge. */
	store_close(&st);
	st = open_ok(dir, STORE_READONLY);
	if (st) {
		CHECK_EQ_INT(store_expunge(st, acc[1], STORE_INBOX_ID, 0, uids, 1, NULL, NULL),
		             STORE_EINVAL);
		store_close(&st);
	}
}

int main(void)
{
	/* Failures are provoked on purpose; their log lines only on request. */
	if (unit_env_begin(base, sizeof base, "store") < 0)
		return 1;

	test_names();
	test_open_schema();
	test_domains_accounts_aliases();
	test_resolve();
	test_delivery();
	test_blob_layouts();
	test_writer();
	test_growth();
	test_map_cannot_grow();
	test_io_error();
	test_other_process_grows();
	test_feed();
	test_feed_other_process();
	test_nested_reads();
	test_expunge();
	test_mailbox_nfc();
	test_mailbox_lookup_keyed();
	test_hold();
	test_gc_poll();
	test_email_zone_codec();

	unit_rmrf(base);
	return unit_done("test_store");
}
