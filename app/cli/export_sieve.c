/*
 * export_sieve.c — what an account archive holds besides mail
 * (cli_import.h): the app passwords' names and the Sieve scripts; on
 * import also the mailboxes' JMAP sortOrder that cmd_export.c writes,
 * and the reading of account.json that import_mailboxes.c shares.
 *
 * A script's file name is its name with '/', '%', and a leading '.'
 * written as %XX, plus ".sieve" (a long name shortened, script_file), so
 * any RFC 5804 name gives one plain file in sieve/; account.json keeps
 * the real name, the file and whether it is active. Import reads only
 * files named in account.json and only inside sieve/, and checks each
 * script with tern's Sieve compiler before storing it, as PUTSCRIPT
 * would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/cli_import.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "http/json.h"
#include "sieve/sieve.h"
#include "store/store.h"

#define ACCOUNT_JSON_MAX ((size_t)4 << 20)

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * sieve/<name escaped>.sieve into out: 0 or -1. A name is up to 512
 * octets and escaping makes it longer, but a file name has at most 255
 * (NAME_MAX): a name whose escaped form is over FILE_WHOLE octets keeps
 * its first characters up to FILE_CUT octets, then "%~" and a BLAKE2b-128
 * of the whole name in hex. Escaping writes every '%' as %25, so no
 * whole name's file has "%~" and the two kinds never meet.
 */
#define FILE_WHOLE 200
#define FILE_CUT 160
static int script_file(const char *name, char *out, size_t outsz)
{
	char esc[STORE_SIEVE_NAME_MAX * 3 + 1];
	size_t o = 0, cut = 0, n = strlen(name);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq((const unsigned char *)name + i, n - i);
		unsigned char c = (unsigned char)name[i];
		if (len == 0 || o + 3 * len >= sizeof esc)
			return -1;
		if (c == '/' || c == '%' || (i == 0 && c == '.')) {
			o += (size_t)snprintf(esc + o, sizeof esc - o, "%%%02X", c);
		} else {
			memcpy(esc + o, name + i, len);
			o += len;
		}
		i += len;
		if (o <= FILE_CUT)
			cut = o; /* a character's end: the cut never splits one */
	}
	esc[o] = '\0';
	if (o > FILE_WHOLE) {
		uint8_t h[16];
		crypto_generichash(h, sizeof h, (const uint8_t *)name, n, NULL, 0);
		o = cut + (size_t)snprintf(esc + cut, sizeof esc - cut, "%%~");
		for (size_t i = 0; i < sizeof h; i++)
			o += (size_t)snprintf(esc + o, sizeof esc - o, "%02x", h[i]);
	}
	if ((size_t)snprintf(out, outsz, "sieve/%s.sieve", esc) >= outsz)
		return -1;
	return 0;
}

/* The whole file into out (bounded by out's maximum): 0 or -1 (also
 * for anything but a regular file: never through a symlink, which
 * could name any file the admin can read, nor waiting on a FIFO). */
static int read_file(const char *path, struct buf *out)
{
	char chunk[65536];
	size_t got;
	int rc = 0;
	struct stat sb;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	FILE *f = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? fdopen(fd, "rb") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(out, chunk, got) != 0)
			rc = -1;
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

static int write_file(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wbx"); /* a new file: never one there, nor through a symlink */
	if (!f)
		return -1;
	int rc = fwrite(p, 1, n, f) == n ? 0 : -1;
	return fclose(f) != 0 ? -1 : rc;
}

struct ap_out {
	FILE *f;
	int n;
};

static void ap_cb(void *arg, const struct store_apppass_info *a)
{
	struct ap_out *o = arg;
	fputs(o->n++ ? "," : "", o->f);
	fputs("{\"name\":", o->f);
	jstr(o->f, a->name);
	fprintf(o->f, ",\"created_at\":%lld,\"last_used\":%lld}", (long long)a->created_at,
	        (long long)a->last_used);
}

struct sv_out {
	struct store *st;
	uint32_t account;
	const char *root;
	FILE *f;
	int n, fail;
};

static void sv_cb(void *arg, const char *name, int active, size_t size)
{
	struct sv_out *o = arg;
	char rel[256], path[4096];
	struct buf text;
	(void)size;
	buf_init(&text, STORE_SIEVE_BYTES_MAX);
	if (script_file(name, rel, sizeof rel) != 0 ||
	    (size_t)snprintf(path, sizeof path, "%s/%s", o->root, rel) >= sizeof path ||
	    store_sieve_get(o->st, o->account, name, &text, NULL) != STORE_OK ||
	    write_file(path, buf_data(&text), buf_len(&text)) != 0) {
		fprintf(stderr, "tern: Sieve script \"%s\" could not be written\n", name);
		o->fail = 1;
	} else {
		fputs(o->n++ ? "," : "", o->f);
		fputs("{\"name\":", o->f);
		jstr(o->f, name);
		fputs(",\"file\":", o->f);
		jstr(o->f, rel);
		fprintf(o->f, ",\"active\":%s}", active ? "true" : "false");
	}
	buf_free(&text);
}

int export_account_extras(struct store *st, uint32_t account, const char *root, FILE *f)
{
	char dir[4096];
	struct ap_out ao = {f, 0};
	struct sv_out so = {st, account, root, f, 0, 0};

	fputs(",\"app_passwords\":[", f);
	if (store_apppass_list(st, account, ap_cb, &ao) != STORE_OK)
		return -1;
	fputs("],\"sieve\":[", f);
	snprintf(dir, sizeof dir, "%s/sieve", root);
	struct stat sb;
	if (mkdir(dir, 0700) != 0 && (errno != EEXIST || lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
		fprintf(stderr, "tern: cannot make %s: %s\n", dir,
		        errno == EEXIST ? "something else is there (a symlink is never followed)"
		                        : strerror(errno));
		return -1;
	}
	if (store_sieve_list(st, account, sv_cb, &so) != STORE_OK)
		so.fail = 1;
	fputs("]", f);
	return so.fail ? -1 : 0;
}

/*
 * The mailboxes' JMAP sortOrder ("sort_order", written since it is kept;
 * an archive from before has none, which is 0, the default). The mail
 * was imported first, so the mailboxes exist; one that does not (empty
 * and not recreated) is told and skipped. Returns how many were set, or
 * -1 after printing why.
 */
static int import_sort_orders(struct store *st, uint32_t account, const char *p,
                              const struct json_value *mb)
{
	int set = 0, fail = 0;
	for (const struct json_value *v = mb && mb->type == JSON_ARRAY ? mb->first : NULL; v;
	     v = v->next) {
		const struct json_value *name = json_get(v, "name"),
		                        *so = json_get(v, "sort_order");
		if (!so)
			continue;
		if (!name || name->type != JSON_STRING || so->type != JSON_NUMBER || !so->is_int ||
		    so->integer < 0 || so->integer > UINT32_MAX) {
			fprintf(stderr, "tern: a mailbox entry of %s is not usable\n", p);
			fail = 1;
			continue;
		}
		if (so->integer == 0)
			continue; /* what a mailbox has unless told */
		int r = store_mailbox_sort_order(st, account, name->str, (uint32_t)so->integer);
		if (r == STORE_OK) {
			set++;
		} else if (r == STORE_ENOTFOUND) {
			fprintf(stderr,
			        "tern: mailbox \"%s\" is not there: its sort order is not kept\n",
			        name->str);
		} else {
			fprintf(stderr, "tern: mailbox \"%s\": sort order not stored\n", name->str);
			fail = 1;
		}
	}
	return fail ? -1 : set;
}

/* A file name account.json gives: inside sieve/, no way out of it. */
static int safe_rel(const char *rel)
{
	return strncmp(rel, "sieve/", 6) == 0 && !strstr(rel, "..") && !strchr(rel + 6, '/');
}

int account_json_load(const char *path, struct arena *a, struct buf *js,
                      const struct json_value **root_r)
{
	char p[4096], err[128] = "";
	struct stat sb;

	if ((size_t)snprintf(p, sizeof p, "%s/account.json", path) >= sizeof p)
		return 1;
	if (lstat(p, &sb) != 0)
		return 1; /* not an archive tern export wrote */
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "tern: %s is not a regular file (a symlink is never followed): "
		        "not read\n", p);
		return -1;
	}
	buf_init(js, ACCOUNT_JSON_MAX);
	if (read_file(p, js) != 0 ||
	    !(*root_r = json_parse(buf_data(js), buf_len(js), a, err, sizeof err))) {
		fprintf(stderr, "tern: %s cannot be read%s%s\n", p, err[0] ? ": " : "", err);
		buf_free(js);
		return -1;
	}
	return 0;
}

int import_account_extras(struct store *st, const char *email, const char *path)
{
	char p[4096], err[SIEVE_ERROR_MAX];
	struct buf js, text;
	uint32_t account;
	int rc = 0, copied = 0;

	struct arena *a = arena_new(64 << 10);
	const struct json_value *root = NULL;
	int lr = account_json_load(path, a, &js, &root);
	if (lr != 0) {
		arena_free(&a);
		return lr > 0 ? 0 : -1;
	}
	snprintf(p, sizeof p, "%s/account.json", path);
	buf_init(&text, STORE_SIEVE_BYTES_MAX);
	if (store_account_id(st, email, &account) != STORE_OK) {
		fprintf(stderr, "tern: no account %s\n", email);
		rc = -1;
		goto out;
	}
	const struct json_value *sv = json_get(root, "sieve"), *ap = json_get(root, "app_passwords");
	const char *active = NULL;
	for (const struct json_value *v = sv && sv->type == JSON_ARRAY ? sv->first : NULL; v; v = v->next) {
		const struct json_value *name = json_get(v, "name"), *file = json_get(v, "file"),
		                        *act = json_get(v, "active");
		if (!name || name->type != JSON_STRING || !file || file->type != JSON_STRING ||
		    !safe_rel(file->str) || !store_sieve_name_valid(name->str)) {
			fprintf(stderr, "tern: a Sieve entry of %s is not usable\n", p);
			rc = -1;
			continue;
		}
		char fp[4096];
		struct stat sd;
		snprintf(fp, sizeof fp, "%s/sieve", path);
		if (lstat(fp, &sd) != 0 || !S_ISDIR(sd.st_mode)) {
			fprintf(stderr, "tern: Sieve script \"%s\": %s is not a directory (a symlink is "
			        "never followed)\n", name->str, fp);
			rc = -1;
			continue;
		}
		snprintf(fp, sizeof fp, "%s/%s", path, file->str);
		buf_reset(&text);
		struct sieve_script *s = NULL;
		if (read_file(fp, &text) != 0) {
			fprintf(stderr, "tern: Sieve script \"%s\": cannot read %s (not a regular file, "
			        "or unreadable)\n", name->str, fp);
			rc = -1;
			continue;
		}
		if (!(s = sieve_compile(buf_data(&text), buf_len(&text), err))) {
			fprintf(stderr, "tern: Sieve script \"%s\" not imported: %s\n", name->str, err);
			rc = -1;
			continue;
		}
		sieve_script_free(&s);
		int r = store_sieve_put(st, account, name->str, buf_data(&text), buf_len(&text),
		                        (int64_t)time(NULL));
		if (r != STORE_OK) {
			fprintf(stderr, "tern: Sieve script \"%s\" not stored: %s\n", name->str,
			        cli_sieve_store_msg(r));
			rc = -1;
			continue;
		}
		copied++;
		if (act && act->type == JSON_BOOL && act->boolean)
			active = name->str;
	}
	/* A faithful restore, but not of an active script that would fail
	 * at every delivery here (an include of a script not in the archive,
	 * recursion): the check every activation takes (script_check.h)
	 * leaves it stored and inactive, says why, and the import exits 1,
	 * as tern migrate --sieve does. */
	int made = active && cli_sieve_activate(st, account, active) == 0;
	if (active && !made)
		rc = -1;
	printf("sieve: %d scripts imported%s%s%s\n", copied,
	       !active ? "" : made ? " (active: " : " (not made active: ", active ? active : "",
	       active ? ")" : "");
	int so = import_sort_orders(st, account, p, json_get(root, "mailboxes"));
	if (so < 0)
		rc = -1;
	else if (so > 0)
		printf("mailboxes: %d sort orders set\n", so);
	if (ap && ap->type == JSON_ARRAY && ap->count)
		printf("app passwords: %zu named in account.json; their secrets are not exported, make new "
		       "ones (tern app-password add)\n", ap->count);
out:
	arena_free(&a);
	buf_free(&js);
	buf_free(&text);
	return rc;
}
