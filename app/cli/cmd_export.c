/*
 * cmd_export.c — tern export EMAIL|--all DIR [--format maildir|mbox]:
 * every mailbox of an account, as files other software reads
 * (backup/mailfmt.h), so that leaving tern never needs tern.
 *
 * DIR/EMAIL/ gets, for maildir, a Maildir++ tree as Dovecot keeps one:
 * INBOX at the top (cur/ new/ tmp/), each other mailbox in
 * ".Name.Sub" (the name in modified UTF-7, '/' as '.', a '.' of the name
 * as "\2e" as Dovecot's listescape writes it), flags in the file
 * names, keywords through `dovecot-keywords` (26 per folder at most, as
 * Maildir letters allow), the internal date as each file's mtime, the
 * UIDVALIDITY and UIDs in `dovecot-uidlist` and the subscribed names in
 * `subscriptions` (Dovecot's version 2 format); message bytes exactly as
 * stored. For mbox, one mboxrd
 * file per mailbox, "Name/Sub.mbox" (UTF-8 names), LF line ends.
 * Beside them account.json: the address, quota and aliases, each
 * mailbox's name, role, subscription, JMAP sortOrder ("sort_order"),
 * UIDVALIDITY and counts, every subscribed name ("subscriptions", also
 * one with no mailbox), the app passwords' names and dates (their
 * secrets are hashed and stay behind), and the Sieve scripts, each in
 * sieve/ as a file (export_sieve.c); `tern import` of this folder puts
 * the mailboxes (empty ones too), roles, subscriptions, scripts and
 * sortOrders back (import_mailboxes.c, export_sieve.c).
 *
 * Export reads through the store's read API while the server runs; each
 * mailbox is one read transaction (a consistent view of that mailbox).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "backup/mailfmt.h"
#include "cli/cli.h"
#include "cli/cli_import.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/str.h"
#include "imap/imap_utf7.h"
#include "store/store.h"

#define KW_MAX 26

struct exp {
	struct store *st;
	const char *root; /* DIR/EMAIL */
	int mbox;
	uint32_t account;
	int fail;
	uint64_t messages, bytes;
	struct cli_progress pr;
	/* per mailbox */
	char folder[4096];      /* maildir folder path, or the .mbox file */
	FILE *out;              /* mbox file, or the uidlist */
	char kw[KW_MAX][256];   /* dovecot-keywords of the folder */
	int nkw;
	uint32_t uidvalidity, uidnext;
	uint64_t total_messages;
};

/* mkdir of tmp, which may exist already; past the first `lenient`
 * bytes of the path (inside the export's own folder) only as a
 * directory, never a symlink: what the export writes stays under it. */
static int mkdir_one(const char *tmp, size_t lenient)
{
	struct stat sb;
	if (mkdir(tmp, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (strlen(tmp) <= lenient)
		return 0;
	if (lstat(tmp, &sb) != 0)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = S_ISLNK(sb.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	return 0;
}

static int mkdirs(const char *path, size_t lenient)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir_one(tmp, lenient) != 0)
				return -1;
			*p = '/';
		}
	return mkdir_one(tmp, lenient);
}

static int write_file(const char *path, const void *p, size_t n, int64_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = 0, e = file_write_all(fd, p, n);
	if (e != 0) {
		errno = e;
		rc = -1;
	}
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && mtime > 0) {
		struct timeval tv[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
		utimes(path, tv);
	}
	return rc;
}

/* The keyword's letter in this folder, adding it; -1 past 26. */
static int kw_index(struct exp *e, const char *k, size_t n)
{
	for (int i = 0; i < e->nkw; i++)
		if (strlen(e->kw[i]) == n && strncmp(e->kw[i], k, n) == 0)
			return i;
	if (e->nkw == KW_MAX || n >= sizeof e->kw[0])
		return -1;
	memcpy(e->kw[e->nkw], k, n);
	e->kw[e->nkw][n] = '\0';
	return e->nkw++;
}

struct raw {
	struct exp *e;
	const struct store_email_info *info;
	unsigned flags;
	const char *others;
};

static void raw_cb(void *arg, const char *data, size_t len)
{
	struct raw *r = arg;
	struct exp *e = r->e;
	const struct store_email_info *in = r->info;
	char path[4400];

	if (e->mbox) {
		struct buf b;
		buf_init(&b, (size_t)len * 2 + 4096);
		if (mbox_message_encode(data, len, (time_t)in->received_at, r->flags, r->others, &b) != 0 ||
		    fwrite(buf_data(&b), 1, buf_len(&b), e->out) != buf_len(&b))
			e->fail = 1;
		buf_free(&b);
	} else {
		uint32_t kw = 0;
		char info[48], base[128];
		for (const char *p = r->others; *p;) {
			const char *sp = strchr(p, ' ');
			size_t n = sp ? (size_t)(sp - p) : strlen(p);
			int i = kw_index(e, p, n);
			if (i >= 0)
				kw |= 1u << i;
			p += n + (sp != NULL);
		}
		maildir_info_format(info, r->flags, kw);
		snprintf(base, sizeof base, "%lld.M%uP%u.tern,S=%llu", (long long)in->received_at, in->uid,
		         in->email_id, (unsigned long long)len);
		snprintf(path, sizeof path, "%s/cur/%s%s", e->folder, base, info);
		if (write_file(path, data, len, in->received_at) != 0)
			e->fail = 1;
		else if (e->out)
			fprintf(e->out, "%u :%s\n", in->uid, base);
	}
	e->messages++;
	e->bytes += len;
	cli_progress_step(&e->pr, e->bytes, 0, e->messages, e->total_messages);
}

static void email_cb(void *arg, const struct store_email_info *in)
{
	struct exp *e = arg;
	char others[4096];
	struct raw r = {e, in, 0, others};

	if (e->fail)
		return;
	r.flags = mailfmt_flags_of(in->keywords, in->keywords_len, others, sizeof others);
	if (in->deleted)
		r.flags |= MF_DELETED;
	if (store_email_raw(e->st, e->account, in->email_id, raw_cb, &r) != STORE_OK)
		e->fail = 1;
}

/* The account's subscribed names, sorted: subscriptions are names, so
 * some may have no mailbox (RFC 9051 §6.3.7) and go out all the same. */
struct sub_list {
	char **v;
	size_t n;
};

static void sub_cb(void *arg, const char *name)
{
	struct sub_list *s = arg;
	s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
	if (!s->v || !(s->v[s->n] = strdup(name)))
		abort();
	s->n++;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct mbox_list {
	struct store_mailbox_info *v;
	char **names;
	char **roles;
	size_t n;
};

static void mailbox_cb(void *arg, const struct store_mailbox_info *in)
{
	struct mbox_list *l = arg;
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	l->names = realloc(l->names, (l->n + 1) * sizeof *l->names);
	l->roles = realloc(l->roles, (l->n + 1) * sizeof *l->roles);
	if (!l->v || !l->names || !l->roles)
		abort();
	l->v[l->n] = *in;
	l->names[l->n] = strdup(in->name);
	l->roles[l->n] = strdup(in->role);
	l->n++;
}

/* The Maildir++ folder of a mailbox name ("" for INBOX): modified UTF-7,
 * '.' between levels. A '.' inside a level (and the escape character
 * itself) is written as Dovecot's listescape plugin writes it, "\2e"
 * ("\5c"): else "A.B" would be read back as A/B, and share its folder
 * when the account has both. */
static int maildir_name(const char *name, char *out, size_t outsz)
{
	struct buf b;
	size_t o = 0;

	if (strcasecmp(name, "INBOX") == 0) {
		out[0] = '\0';
		return 0;
	}
	buf_init(&b, 4096);
	if (imap_utf8_to_utf7(str_c(name), &b) != 0) {
		buf_free(&b);
		return -1;
	}
	out[o++] = '.';
	for (size_t i = 0; i < buf_len(&b); i++) {
		char c = buf_data(&b)[i];
		if (o + 4 > outsz) {
			buf_free(&b);
			return -1;
		}
		if (c == '.' || c == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\%02x", (unsigned char)c);
		else
			out[o++] = c == '/' ? '.' : c;
	}
	out[o] = '\0';
	buf_free(&b);
	return 0;
}

/*
 * The mbox file's path below the account's folder for a mailbox name
 * ("Name/Sub"): a level "." or ".." (a store from before such names were
 * refused for new mailboxes) is written "%2E" / "%2E%2E", so that no name
 * leads out of the folder (DIR/EMAIL/../../x.mbox). -1 when it does not fit.
 */
static int mbox_rel(const char *name, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		int dots = (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.');
		if (o + 3 * len + 2 > outsz)
			return -1;
		for (size_t i = 0; i < len; i++) {
			if (dots) {
				memcpy(out + o, "%2E", 3);
				o += 3;
			} else {
				out[o++] = p[i];
			}
		}
		p += len;
		if (*p == '/')
			out[o++] = *p++;
	}
	out[o] = '\0';
	return 0;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

struct alias_out {
	FILE *f;
	const char *email;
	int n;
};

static void alias_cb(void *arg, const char *alias, const char *target)
{
	struct alias_out *a = arg;
	if (strcasecmp(target, a->email) != 0)
		return;
	fputs(a->n++ ? "," : "", a->f);
	json_str(a->f, alias);
}

struct acct_find {
	const char *email;
	struct store_account_info info;
	int found;
};

static void acct_cb(void *arg, const struct store_account_info *in)
{
	struct acct_find *a = arg;
	if (strcasecmp(in->email, a->email) == 0) {
		a->info = *in;
		a->info.email = NULL;
		a->found = 1;
	}
}

static int export_account(struct store *st, const char *email, const char *dir, int mbox)
{
	struct exp *e = calloc(1, sizeof *e);
	struct mbox_list l = {0};
	struct sub_list subs = {0};
	struct acct_find af = {email, {0}, 0};
	char root[4096], path[4400];
	int rc = 0;

	if (e == NULL)
		return 1;
	store_account_list(st, acct_cb, &af);
	if (!af.found) {
		fprintf(stderr, "tern: no account %s\n", email);
		free(e);
		return 1;
	}
	snprintf(root, sizeof root, "%s/%s", dir, email);
	if (mkdirs(root, strlen(dir)) != 0) {
		fprintf(stderr, "tern: cannot create %s: %s\n", root, strerror(errno));
		free(e);
		return 1;
	}
	e->st = st;
	e->root = root;
	e->mbox = mbox;
	e->account = af.info.id;
	e->total_messages = af.info.emails;
	cli_progress_init(&e->pr, "export");
	if (store_mailbox_list(st, e->account, mailbox_cb, &l) != STORE_OK) {
		fprintf(stderr, "tern: cannot list the mailboxes of %s\n", email);
		free(e);
		return 1;
	}
	for (size_t i = 0; i < l.n && !e->fail; i++) {
		const char *name = l.names[i];
		e->nkw = 0;
		e->out = NULL;
		if (mbox) {
			char rel[4096];
			if (mbox_rel(name, rel, sizeof rel) != 0 ||
			    (size_t)snprintf(e->folder, sizeof e->folder, "%s/%s.mbox", root, rel) >=
				    sizeof e->folder) {
				e->fail = 1;
				break;
			}
			char *slash = strrchr(e->folder, '/');
			*slash = '\0';
			int mk = mkdirs(e->folder, strlen(root));
			*slash = '/';
			if (mk != 0) {
				e->fail = 1;
				break;
			}
			e->out = fopen(e->folder, "wx");
			if (e->out == NULL) {
				e->fail = 1;
				break;
			}
		} else {
			char sub[2048];
			if (maildir_name(name, sub, sizeof sub) != 0) {
				e->fail = 1;
				break;
			}
			if ((size_t)snprintf(e->folder, sizeof e->folder, "%s/%s", root, sub) >= sizeof e->folder) {
				e->fail = 1;
				break;
			}
			static const char *const parts[] = {"cur", "new", "tmp"};
			for (int k = 0; k < 3; k++) {
				snprintf(path, sizeof path, "%s/%s", e->folder, parts[k]);
				if (mkdirs(path, strlen(root)) != 0)
					e->fail = 1;
			}
			snprintf(path, sizeof path, "%s/dovecot-uidlist", e->folder);
			e->out = fopen(path, "wx");
			if (e->out == NULL) {
				e->fail = 1;
				break;
			}
			fprintf(e->out, "3 V%u N%u\n", l.v[i].uidvalidity, l.v[i].uidnext);
		}
		if (store_email_list(st, e->account, l.v[i].id, email_cb, e) != STORE_OK)
			e->fail = 1;
		if (fclose(e->out) != 0)
			e->fail = 1;
		if (!mbox && e->nkw) {
			snprintf(path, sizeof path, "%s/dovecot-keywords", e->folder);
			FILE *k = fopen(path, "wx");
			for (int j = 0; k && j < e->nkw; j++)
				fprintf(k, "%d %s\n", j, e->kw[j]);
			if (k == NULL || fclose(k) != 0)
				e->fail = 1;
		}
	}
	/* Subscriptions (Maildir++) and the account's description. */
	if (store_subscription_list(st, e->account, sub_cb, &subs) != STORE_OK)
		e->fail = 1;
	else if (subs.n)
		qsort(subs.v, subs.n, sizeof *subs.v, str_cmp);
	if (!e->fail && !mbox) {
		/* Dovecot's format (version 2): levels apart by tabs, names in
		 * modified UTF-7 as the folders' are. */
		snprintf(path, sizeof path, "%s/subscriptions", root);
		FILE *f = fopen(path, "wx");
		if (f)
			fputs("V\t2\n\n", f);
		for (size_t i = 0; f && i < subs.n; i++) {
			struct buf b;
			buf_init(&b, 4096);
			if (imap_utf8_to_utf7(str_c(subs.v[i]), &b) != 0) {
				buf_free(&b);
				continue;  /* not a name IMAP could give */
			}
			for (size_t k = 0; k < buf_len(&b); k++)
				fputc(buf_data(&b)[k] == '/' ? '\t' : buf_data(&b)[k], f);
			fputc('\n', f);
			buf_free(&b);
		}
		if (f == NULL || fclose(f) != 0)
			e->fail = 1;
	}
	if (!e->fail) {
		snprintf(path, sizeof path, "%s/account.json", root);
		FILE *f = fopen(path, "wx");
		if (f) {
			struct alias_out ao = {f, email, 0};
			fputs("{\"email\":", f);
			json_str(f, email);
			fprintf(f, ",\"quota\":%llu,\"emails\":%u,\"used\":%llu,\"aliases\":[",
			        (unsigned long long)af.info.quota, af.info.emails,
			        (unsigned long long)af.info.used);
			store_alias_list(st, alias_cb, &ao);
			fputs("],\"mailboxes\":[", f);
			for (size_t i = 0; i < l.n; i++) {
				fputs(i ? "," : "", f);
				fputs("{\"name\":", f);
				json_str(f, l.names[i]);
				fputs(",\"role\":", f);
				json_str(f, l.roles[i]);
				fprintf(f,
				        ",\"subscribed\":%s,\"sort_order\":%u,\"uidvalidity\":%u,"
				        "\"uidnext\":%u,\"messages\":%u}",
				        l.v[i].subscribed ? "true" : "false", l.v[i].sort_order,
				        l.v[i].uidvalidity, l.v[i].uidnext, l.v[i].messages);
			}
			fputs("],\"subscriptions\":[", f);
			for (size_t i = 0; i < subs.n; i++) {
				fputs(i ? "," : "", f);
				json_str(f, subs.v[i]);
			}
			fputs("]", f);
			if (export_account_extras(st, e->account, root, f) != 0)
				e->fail = 1;
			fputs("}\n", f);
		}
		if (f == NULL || fclose(f) != 0)
			e->fail = 1;
	}
	/* On disk before the success is reported (a user may delete the
	 * account next): every file and folder of the export, then the
	 * entries of root in dir and of dir in its parent (either may be
	 * new). One pass at the end: the files are closed already. */
	if (!e->fail) {
		int se = file_sync_tree(root);
		if (se == 0)
			se = file_sync_dir(dir);
		if (se == 0)
			se = file_sync_parent(dir);
		if (se != 0) {
			errno = se;
			e->fail = 1;
		}
	}
	if (e->fail) {
		fprintf(stderr, "tern: export of %s into %s failed (%s)\n", email, root,
		        errno ? strerror(errno) : "store error");
		rc = 1;
	} else {
		printf("%s: %llu messages, %llu bytes, %zu mailboxes into %s\n", email,
		       (unsigned long long)e->messages, (unsigned long long)e->bytes, l.n, root);
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.names[i]);
		free(l.roles[i]);
	}
	for (size_t i = 0; i < subs.n; i++)
		free(subs.v[i]);
	free(subs.v);
	free(l.names);
	free(l.roles);
	free(l.v);
	free(e);
	return rc;
}

struct all {
	char **emails;
	size_t n;
};

static void all_cb(void *arg, const struct store_account_info *in)
{
	struct all *a = arg;
	a->emails = realloc(a->emails, (a->n + 1) * sizeof *a->emails);
	if (!a->emails)
		abort();
	a->emails[a->n++] = strdup(in->email);
}

int cli_export(const struct config *cfg, int argc, char **argv)
{
	const char *who = NULL, *dir = NULL;
	int all = 0, mbox = 0, rc = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			const char *f = argv[++i];
			if (strcmp(f, "mbox") == 0)
				mbox = 1;
			else if (strcmp(f, "maildir") != 0)
				return cli_bad_arg("export", "--format", f, "maildir or mbox");
		} else if (argv[i][0] == '-')
			goto usage;
		else if (!all && !who)
			who = argv[i];
		else if (!dir)
			dir = argv[i];
		else
			goto usage;
	}
	if (!dir || (all == (who != NULL)))
		goto usage;
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	if (st == NULL)
		return 1;
	if (all) {
		struct all a = {0};
		store_account_list(st, all_cb, &a);
		for (size_t i = 0; i < a.n; i++) {
			rc |= export_account(st, a.emails[i], dir, mbox);
			free(a.emails[i]);
		}
		free(a.emails);
	} else {
		rc = export_account(st, who, dir, mbox);
	}
	store_close(&st);
	return rc;
usage:
	return cli_usage("export");
}
