/*
 * test_pgp.c — OpenPGP keys read and messages encrypted (crypt/pgp.h),
 * against GnuPG: keys of each supported kind are made by gpg in a
 * scratch home, read by pgp_key_parse (armored and binary), and what
 * pgp_encrypt writes must decrypt with gpg to the same bytes, its
 * integrity check passing. Damaged, secret, signing-only, expired and
 * unsupported keys are refused with a reason; every truncation of a
 * key is refused or read, never a crash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "crypt/pgp.h"
#include "unit.h"

static char home[64];

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[2300];
	snprintf(full, sizeof full, "export GNUPGHOME=%s; { %s ; } >/dev/null 2>&1", home, cmd);
	return system(full);
}

/* The fingerprint gpg gives the key's encryption subkey. */
static void gpg_subkey_fpr(const char *uid, char out[41])
{
	char cmd[512], path[128];
	snprintf(path, sizeof path, "%s/colons", home);
	snprintf(cmd, sizeof cmd,
		 "GNUPGHOME=%s gpg --batch --with-colons --with-subkey-fingerprints --list-keys '%s' "
		 "| awk -F: '/^sub/ && $12 ~ /e/ {s=1; next} s && /^fpr/ {print $10; s=0}' | tail -1 > %s",
		 home, uid, path);
	out[0] = 0;
	if (system(cmd) != 0)
		return;
	size_t n;
	char *t = unit_read_file(path, &n);
	if (t && n >= 40) {
		memcpy(out, t, 40);
		out[40] = 0;
	}
	free(t);
}

/* Makes a key of primary algorithm prim with an encryption subkey sub
 * (NULL: none), exports it armored and binary. */
static void make_key(const char *uid, const char *prim, const char *sub)
{
	char spec[256];
	snprintf(spec, sizeof spec, "'%s' %s", uid, prim);
	CHECK(sh("gpg --batch --passphrase '' --quick-gen-key %s sign,cert never", spec) == 0);
	if (sub) {
		CHECK(sh("gpg --batch --passphrase '' --quick-add-key $(gpg --with-colons --list-keys '%s' "
			 "| awk -F: '/^fpr/ {print $10; exit}') %s encr never",
			 uid, sub) == 0);
	}
}

static void export_key(const char *uid, const char *path, int armored)
{
	char a[256];
	snprintf(a, sizeof a, "%s'%s' > %s", armored ? "--armor " : "", uid, path);
	CHECK(sh("gpg --batch --export %s", a) == 0);
}

/* Revokes the key's n-th subkey (gpg --edit-key, answered on stdin). */
static int revoke_subkey(const char *uid, int n)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "printf 'key %d\\nrevkey\\ny\\n0\\n\\ny\\nsave\\n' | gpg --batch --yes "
		 "--pinentry-mode loopback --passphrase '' --command-fd 0 --edit-key "
		 "$(gpg --with-colons --list-keys '%s' | awk -F: '/^fpr/ {print $10; exit}')",
		 n, uid);
	return sh("%s", cmd);
}

static const char entity[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Caf\xc3\xa9 at noon.\r\n"
	"-----BEGIN PGP MESSAGE-----\r\n"
	"not one\r\n";

/* Encrypts data to the key in path, decrypts with gpg, compares. */
static void round_trip(const char *path, const char *uid, int bits, const char *data, size_t n)
{
	size_t kn;
	char *kt = unit_read_file(path, &kn);
	struct pgp_key k;
	char err[256] = "";
	CHECK(kt != NULL);
	if (!kt)
		return;
	int rc = pgp_key_parse(kt, kn, &k, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s: %s\n", uid, err);
		free(kt);
		return;
	}
	char want[41], got[41];
	gpg_subkey_fpr(uid, want);
	pgp_fpr_hex(k.fpr, got);
	CHECK_EQ_STR(got, want);
	struct buf out;
	buf_init(&out, 64 << 20);
	CHECK_EQ_INT(pgp_encrypt(&out, &k, bits, data, n), 0);
	char enc[128], dec[128];
	snprintf(enc, sizeof enc, "%s/msg.asc", home);
	snprintf(dec, sizeof dec, "%s/msg.out", home);
	unit_write_file(enc, buf_data(&out), buf_len(&out));
	unlink(dec);
	/* --status-fd shows gpg's verdict on the integrity check. */
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "GNUPGHOME=%s gpg --batch --status-fd 1 --output %s --decrypt %s 2>/dev/null "
		 "| grep -q '^\\[GNUPG:\\] GOODMDC'", home, dec, enc);
	CHECK_EQ_INT(system(cmd), 0);
	size_t dn = 0;
	char *d = unit_read_file(dec, &dn);
	CHECK(d != NULL && dn == n && memcmp(d, data, n) == 0);
	if (!(d != NULL && dn == n))
		fprintf(stderr, "  %s aes%d: %zu octets back of %zu\n", uid, bits, dn, n);
	free(d);
	buf_free(&out);
	free(kt);
}

static void refused(const char *text, size_t n, const char *reason)
{
	struct pgp_key k;
	char err[256] = "";
	CHECK_EQ_INT(pgp_key_parse(text, n, &k, err, sizeof err), -1);
	CHECK(strstr(err, reason) != NULL);
	if (!strstr(err, reason))
		fprintf(stderr, "  wanted \"%s\" in \"%s\"\n", reason, err);
}

int main(void)
{
	snprintf(home, sizeof home, "/tmp/tern-test-pgp-%d", (int)getpid());
	mkdir(home, 0700);
	char path[128], bin[128];
	snprintf(path, sizeof path, "%s/key.asc", home);
	snprintf(bin, sizeof bin, "%s/key.gpg", home);

	static const struct {
		const char *uid, *prim, *sub;
	} kinds[] = {
		{"cv <cv@example.com>", "ed25519", "cv25519"},
		{"rsa <rsa@example.com>", "rsa2048", "rsa2048"},
		{"p256 <p256@example.com>", "nistp256", "nistp256"},
		{"p384 <p384@example.com>", "nistp384", "nistp384"},
		{"p521 <p521@example.com>", "nistp521", "nistp521"},
	};
	size_t big_n = 3 << 20;
	char *big = malloc(big_n);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (char)("abcdefghij\r\n"[i % 12]);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		make_key(kinds[i].uid, kinds[i].prim, kinds[i].sub);
		export_key(kinds[i].uid, path, 1);
		round_trip(path, kinds[i].uid, 128, entity, sizeof entity - 1);
		round_trip(path, kinds[i].uid, 256, entity, sizeof entity - 1);
		export_key(kinds[i].uid, bin, 0);
		round_trip(bin, kinds[i].uid, 256, "", 0);
	}
	/* Sizes around the packet length forms and the CFB block. */
	static const size_t sizes[] = {1, 15, 16, 17, 185, 186, 191, 192, 8191, 8192, 8383, 8384};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		round_trip(path, "p521 <p521@example.com>", 128, big, sizes[i]);
	export_key("cv <cv@example.com>", path, 1);
	round_trip(path, "cv <cv@example.com>", 256, big, big_n);

	/* Truncated anywhere: refused or read, never past the end. */
	size_t kn;
	char *kt = unit_read_file(path, &kn);
	for (size_t n = 0; kt && n < kn; n++) {
		char *cut = malloc(n ? n : 1);
		memcpy(cut, kt, n);
		struct pgp_key k;
		char err[256];
		pgp_key_parse(cut, n, &k, err, sizeof err);
		free(cut);
	}
	/* A damaged base64 digit: the checksum (or the packets) refuse it. */
	char *bad = strdup(kt);
	char *body = strstr(bad, "\n\n");
	if (body && body[10] != 'A')
		body[10] = 'A';
	else if (body)
		body[10] = 'B';
	struct pgp_key k;
	char err[256];
	CHECK_EQ_INT(pgp_key_parse(bad, kn, &k, err, sizeof err), -1);
	free(bad);
	free(kt);

	size_t bn;
	char *bt = unit_read_file(bin, &bn);
	for (size_t n = 0; bt && n < bn; n++) {
		char e2[256];
		pgp_key_parse(bt, n, &k, e2, sizeof e2);
	}
	free(bt);

	/* A signing-only key; an expired encryption subkey; a secret key. */
	make_key("sign <sign@example.com>", "ed25519", NULL);
	export_key("sign <sign@example.com>", path, 1);
	kt = unit_read_file(path, &kn);
	refused(kt, kn, "no encryption key");
	free(kt);
	CHECK(sh("gpg --batch --passphrase '' --faked-system-time 20200101T000000 "
		 "--quick-gen-key 'old <old@example.com>' ed25519 sign,cert never") == 0);
	/* The subkey is made a day after the primary key: both clocks start at
	 * their faked time and run on, so with the same start a slow primary key
	 * generation left the subkey older than its primary, which gpg refuses. */
	CHECK(sh("gpg --batch --passphrase '' --faked-system-time 20200102T000000 --quick-add-key "
		 "$(gpg --with-colons --list-keys old@example.com | awk -F: '/^fpr/ {print $10; exit}') "
		 "cv25519 encr 1d") == 0);
	export_key("old <old@example.com>", path, 1);
	kt = unit_read_file(path, &kn);
	refused(kt, kn, "expired");
	free(kt);
	CHECK(sh("gpg --batch --pinentry-mode loopback --passphrase '' --armor "
		 "--export-secret-keys cv@example.com > %s", path) == 0);
	kt = unit_read_file(path, &kn);
	refused(kt, kn, "secret");
	free(kt);
	/* Two encryption subkeys, the newer revoked: the older is used;
	 * both revoked: refused. */
	make_key("rv <rv@example.com>", "ed25519", "cv25519");
	char first[41] = "";
	gpg_subkey_fpr("rv@example.com", first);
	CHECK(sh("gpg --batch --passphrase '' --quick-add-key $(gpg --with-colons --list-keys "
		 "rv@example.com | awk -F: '/^fpr/ {print $10; exit}') cv25519 encr never") == 0);
	CHECK(revoke_subkey("rv@example.com", 2) == 0);
	export_key("rv <rv@example.com>", path, 1);
	kt = unit_read_file(path, &kn);
	CHECK_EQ_INT(pgp_key_parse(kt, kn, &k, err, sizeof err), 0);
	char got[41];
	pgp_fpr_hex(k.fpr, got);
	CHECK_EQ_STR(got, first);
	free(kt);
	CHECK(revoke_subkey("rv@example.com", 1) == 0);
	export_key("rv <rv@example.com>", path, 1);
	kt = unit_read_file(path, &kn);
	refused(kt, kn, "revoked");
	free(kt);
	make_key("dsa <dsa@example.com>", "dsa2048", "elg2048");
	export_key("dsa <dsa@example.com>", path, 1);
	kt = unit_read_file(path, &kn);
	refused(kt, kn, "ElGamal");
	free(kt);
	refused("hello", 5, "not an OpenPGP key");
	refused("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n", 42, "END PGP");

	free(big);
	char rm[256];
	snprintf(rm, sizeof rm, "gpgconf --homedir %s --kill all >/dev/null 2>&1; rm -rf %s", home,
		 home);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	printf("test_pgp: %d checks, %d failed\n", unit_checks, unit_failures);
	return unit_failures != 0;
}
