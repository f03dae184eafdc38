/*
 * cmd_import.c — tern import EMAIL PATH [--mailbox NAME]: mail from
 * Maildir and mbox (backup/mailfmt.h) into an account, folders, flags,
 * keywords and internal dates kept.
 *
 * PATH may be
 *   - a Maildir++ tree (Dovecot's and Courier's layout): PATH/cur is
 *     INBOX, each PATH/.Name.Sub/ the mailbox Name/Sub (modified UTF-7);
 *   - any other directory: every Maildir below it (a folder with cur/) and
 *     every mbox file (one whose first line is a From_ line) becomes the
 *     mailbox named by its path below PATH (".mbox" / ".mbx" and
 *     Thunderbird's ".sbd" left out; "inbox" at the top is INBOX);
 *   - an mbox file: into INBOX, or into --mailbox NAME.
 *
 * Path of the messages into the store: not the delivery pipeline
 * (app/deliver/), whose Sieve and spam stages are not wanted for one's
 * own old mail; messages go in as IMAP APPEND puts them
 * (store_deliver_sync with a mailbox and keywords), up to IMPORT_CHAIN
 * messages per commit.
 *
 * Idempotent and resumable: a message whose bytes (after line ends are
 * made CRLF, as the store keeps them) are already in the target mailbox,
 * by content id, is skipped; so a second run imports nothing, and a run
 * that was stopped goes on where it stopped.
 *
 * UIDs kept (import_mailbox_uids): a Maildir's dovecot-uidlist
 * (backup/uidlist.h), or what tern migrate read off the source, gives the
 * mailbox its UIDVALIDITY (store_mailbox_uids_keep) and each message its
 * UID (store_delivery.uid: the one append path, with a UID given), so
 * clients moved over download nothing again. The listed files go in by
 * UID, the others after them; a UID not above the ones before (a gap an
 * earlier run left) gives way to a new one, counted. A mailbox with
 * other mail cannot change its UIDVALIDITY: left out unless --new-uids.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/mailfmt.h"
#include "backup/uidlist.h"
#include "cli/cli.h"
#include "cli/cli_import.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/spool.h"
#include "core/str.h"
#include "mime/mime_cache.h"
#include "store/store.h"

#define IMPORT_CHAIN 200
#define IMPORT_CHAIN_BYTES ((size_t)32 << 20)
#define MSG_MAX ((size_t)1 << 31)
#define CRLF_PIECE ((size_t)64 << 10)
#define KW_OUT 4096
#define IMPORT_DATE_END ((time_t)253402300800) /* 10000-01-01T00:00:00Z */

struct pending {
	struct store_delivery d;
	struct spool data; /* as SMTP DATA and IMAP APPEND hold a message */
	struct buf meta;
	char kw[KW_OUT];
};

struct imp {
	struct store *st;
	uint32_t account, mailbox;
	char mailbox_name[1024];
	/* content ids already in the mailbox (sorted after loading) */
	uint8_t (*ids)[32];
	size_t nids, capids;
	struct pending *p;
	size_t np, pbytes;
	uint64_t imported, skipped, failed, bytes;
	struct cli_progress pr;
	int fatal;
	unsigned bad_folders; /* left out: names no mailbox can have, symlinks */
	/* The source's UIDs kept in the current mailbox (import_mailbox_uids):
	 * keep_next is the lowest UID the next message may keep, src_uidnext
	 * the source's UIDNEXT (0: not known). */
	int keeping, new_uids;
	uint32_t uidvalidity, keep_next, src_uidnext;
	uint64_t renumbered; /* messages whose UID could not be kept */
};

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int id_known(struct imp *im, const uint8_t id[32])
{
	return im->nids && bsearch(id, im->ids, im->nids, 32, id_cmp) != NULL;
}

static void id_add(struct imp *im, const uint8_t id[32])
{
	if (im->nids == im->capids) {
		im->capids = im->capids ? im->capids * 2 : 1024;
		im->ids = realloc(im->ids, im->capids * 32);
		if (!im->ids)
			abort();
	}
	/* Keep it sorted: insertion at its place. */
	size_t lo = 0, hi = im->nids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(im->ids[mid], id, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < im->nids)
		memmove(im->ids[lo + 1], im->ids[lo], (im->nids - lo) * 32);
	memcpy(im->ids[lo], id, 32);
	im->nids++;
}

static void have_cb(void *arg, const struct store_email_info *in)
{
	struct imp *im = arg;
	if (im->nids == im->capids) {
		im->capids = im->capids ? im->capids * 2 : 1024;
		im->ids = realloc(im->ids, im->capids * 32);
		if (!im->ids)
			abort();
	}
	memcpy(im->ids[im->nids++], in->blob_id, 32);
}

/* Commits the messages gathered for the current mailbox. */
void import_flush(struct imp *im)
{
	if (im->np == 0)
		return;
	for (size_t i = 0; i < im->np; i++) {
		struct store_delivery *d = &im->p[i].d;
		d->also = i + 1 < im->np ? &im->p[i + 1].d : NULL;
	}
	int rc = store_deliver_sync(im->st, &im->p[0].d);
	if (rc == STORE_EEXIST && im->keeping) {
		/* A message came into the mailbox beside the import (a
		 * delivery, a client's APPEND) and took the UIDs kept from
		 * here on: the rest of the mailbox gets new ones, said. */
		fprintf(stderr, "tern: warning: %s: mail came in during the import: its messages "
		        "from here on get new UIDs\n", im->mailbox_name);
		im->keeping = 0;
		for (size_t i = 0; i < im->np; i++)
			if (im->p[i].d.uid) {
				im->p[i].d.uid = 0;
				im->renumbered++;
			}
		rc = store_deliver_sync(im->st, &im->p[0].d);
	}
	if (rc == STORE_EINVAL && im->np > 1) {
		/* One bad message (a keyword) fails its chain: one by one. */
		for (size_t i = 0; i < im->np; i++) {
			im->p[i].d.also = NULL;
			if (store_deliver_sync(im->st, &im->p[i].d) == STORE_OK) {
				im->imported++;
				im->bytes += im->p[i].d.len;
			} else {
				im->failed++;
			}
		}
	} else if (rc == STORE_OK) {
		for (size_t i = 0; i < im->np; i++) {
			im->imported++;
			im->bytes += im->p[i].d.len;
		}
	} else {
		fprintf(stderr, "tern: cannot store into %s: %s\n", im->mailbox_name,
		        rc == STORE_EQUOTA ? "over quota" : rc == STORE_EFULL ? "disk full" : "store error");
		im->failed += im->np;
		im->fatal = 1;
	}
	for (size_t i = 0; i < im->np; i++) {
		spool_free(&im->p[i].data);
		buf_free(&im->p[i].meta);
	}
	im->np = 0;
	im->pbytes = 0;
	cli_progress_step(&im->pr, im->bytes, 0, im->imported + im->skipped, 0);
}

/* Keywords the store takes: IMAP atoms (no specials, no controls). */
static void clean_keywords(const char *in, char *out, size_t outsz)
{
	size_t on = 0;
	int n = 0;
	out[0] = '\0';
	for (const char *p = in; *p && n < 60;) {
		while (*p == ' ')
			p++;
		const char *s = p;
		int ok = 1;
		while (*p && *p != ' ') {
			unsigned char c = (unsigned char)*p;
			if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
				ok = 0;
			p++;
		}
		size_t len = (size_t)(p - s);
		if (!ok || len == 0 || len > 255 || on + len + 2 > outsz)
			continue;
		/* Once each, case-insensitively ("P" and a "$Forwarded" keyword). */
		int dup = 0;
		for (const char *q = out; *q && !dup;) {
			size_t ql = strcspn(q, " ");
			dup = ql == len && strncasecmp(q, s, len) == 0;
			q += ql + (q[ql] == ' ');
		}
		if (dup)
			continue;
		if (on)
			out[on++] = ' ';
		memcpy(out + on, s, len);
		on += len;
		out[on] = '\0';
		n++;
	}
}

static int put_spool(void *arg, const void *p, size_t n)
{
	return spool_append(arg, p, n);
}

/* raw with its line ends made CRLF (buf_append_crlf) into sp, a piece at
 * a time: a piece ends after a LF, or before a CR whose LF may be next,
 * so no CR LF pair is split between two. */
static int crlf_to_spool(struct spool *sp, const char *raw, size_t len)
{
	struct buf stage;
	int rc = 0;

	buf_init(&stage, 2 * CRLF_PIECE);
	for (size_t off = 0; rc == 0 && off < len;) {
		size_t n = len - off < CRLF_PIECE ? len - off : CRLF_PIECE;
		if (off + n < len) {
			const char *lf = memrchr(raw + off, '\n', n);
			if (lf)
				n = (size_t)(lf - (raw + off)) + 1;
			else if (raw[off + n - 1] == '\r')
				n--;
		}
		buf_reset(&stage);
		if (buf_append_crlf(&stage, raw + off, n) < 0 ||
		    spool_append(sp, buf_data(&stage), buf_len(&stage)) < 0)
			rc = -1;
		off += n;
	}
	buf_free(&stage);
	return rc;
}

/* The UID a message the source gave uid (0: none) takes while the
 * mailbox keeps the source's UIDs: its own when above the ones before it,
 * else the next past them and past the source's UIDNEXT (what the source
 * would have given it); 0 (the mailbox's next) when not keeping. */
static uint32_t import_uid(struct imp *im, uint32_t uid)
{
	if (!im->keeping)
		return 0;
	if (uid == 0 || uid < im->keep_next || uid > STORE_UID_KEEP_MAX) {
		if (uid)
			im->renumbered++;
		uid = im->keep_next > im->src_uidnext ? im->keep_next : im->src_uidnext;
	}
	if (uid > STORE_UID_KEEP_MAX) { /* past what a source may give: the store's own */
		im->keeping = 0;
		return 0;
	}
	im->keep_next = uid + 1;
	return uid;
}

/* One message (raw bytes as found) into the current mailbox. */
void import_add(struct imp *im, const char *raw, size_t len, int is_mbox, unsigned flags,
                const char *others, time_t date, uint32_t uid)
{
	struct pending *pm;
	char mkw[KW_OUT];
	unsigned mflags = 0;

	if (im->np == IMPORT_CHAIN || im->pbytes > IMPORT_CHAIN_BYTES)
		import_flush(im);
	pm = &im->p[im->np];
	memset(&pm->d, 0, sizeof pm->d);
	/* Into a spool, never a copy of the whole message in memory: past
	 * the memory budget its bytes go to a file (spool_use below). */
	spool_init(&pm->data, MSG_MAX, NULL);
	buf_init(&pm->meta, (size_t)256 << 10);
	mkw[0] = '\0';
	struct str msg;
	int rc = is_mbox ? mbox_message_decode_to(raw, len, is_mbox == 2, put_spool, &pm->data, &mflags,
	                                          mkw, sizeof mkw)
	                 : crlf_to_spool(&pm->data, raw, len);
	if (rc != 0 || pm->data.len == 0 || spool_finish(&pm->data, &msg) != 0) {
		spool_free(&pm->data);
		buf_free(&pm->meta);
		im->failed++;
		return;
	}
	spool_blob_id(&pm->data, pm->d.blob_id);
	if (id_known(im, pm->d.blob_id)) {
		spool_free(&pm->data);
		buf_free(&pm->meta);
		im->skipped++;
		return;
	}
	id_add(im, pm->d.blob_id);
	/* Keywords: the flags as store names, then the others. */
	struct buf kw;
	char all[KW_OUT * 2];
	buf_init(&kw, sizeof all - 1);
	mailfmt_flags_to_keywords(flags | mflags, &kw);
	const char *extra[2] = {others, mkw};
	for (int k = 0; k < 2; k++)
		if (extra[k] && extra[k][0]) {
			if (buf_len(&kw))
				buf_append(&kw, " ", 1);
			buf_append_c(&kw, extra[k]);
		}
	memcpy(all, buf_data(&kw), buf_len(&kw));
	all[buf_len(&kw)] = '\0';
	buf_free(&kw);
	clean_keywords(all, pm->kw, sizeof pm->kw);
	if (mime_cache_build(msg.p, msg.len, &pm->meta) == 0) {
		pm->d.meta = buf_data(&pm->meta);
		pm->d.metalen = buf_len(&pm->meta);
	}
	pm->d.data = msg.p;
	pm->d.len = msg.len;
	pm->d.accounts = &im->account;
	pm->d.naccounts = 1;
	pm->d.mailbox = im->mailbox;
	pm->d.uid = import_uid(im, uid);
	pm->d.keywords = pm->kw[0] ? pm->kw : NULL;
	/* A date past 9999 (a Maildir's mtime is anything a tar archive or a
	 * 64-bit-time file system says) is no IMAP date-time (4-digit year)
	 * and past what gmtime renders: the import's time instead. */
	pm->d.received_at = date > 0 && date < IMPORT_DATE_END ? (int64_t)date : (int64_t)time(NULL);
	im->np++;
	im->pbytes += pm->d.len;
}

/* name (a folder or file name from the source: any bytes) as it can be
 * shown on a terminal: control bytes as '?', cut at outsz. */
static const char *name_shown(const char *name, char *out, size_t outsz)
{
	size_t n = 0;
	for (const char *p = name; *p && n < outsz - 1; p++)
		out[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	out[n] = '\0';
	return out;
}

/* A symlink found in the tree imported: said, and counted as left out. */
static void skip_link(struct imp *im, const char *path)
{
	char shown[1024];
	fprintf(stderr, "tern: skipping %s: a symbolic link (never followed)\n",
	        name_shown(path, shown, sizeof shown));
	im->bad_folders++;
}

/* The mailbox done: its UIDNEXT past the source's, so a UID the source
 * gave after the copy (mail a client saw there last) is never reused. */
static void keep_end(struct imp *im)
{
	import_flush(im);
	if (im->keeping && im->src_uidnext > im->keep_next &&
	    store_mailbox_uids_keep(im->st, im->account, im->mailbox_name, im->uidvalidity,
	                            im->src_uidnext, NULL) != STORE_OK)
		fprintf(stderr, "tern: warning: %s: its UIDNEXT could not be set to %u\n",
		        im->mailbox_name, im->src_uidnext);
	im->keeping = 0;
}

int import_mailbox_uids(struct imp *im, uint32_t uidvalidity, uint32_t uidnext)
{
	uint32_t next = 0;
	int rc = store_mailbox_uids_keep(im->st, im->account, im->mailbox_name, uidvalidity, 0,
	                                 &next);
	if (rc == STORE_OK) {
		im->keeping = 1;
		im->uidvalidity = uidvalidity;
		im->keep_next = next;
		/* A UIDNEXT past what a source may give is not followed. */
		im->src_uidnext = uidnext <= STORE_UID_KEEP_MAX + 1 ? uidnext : 0;
		printf("%s: UIDVALIDITY %u and the messages' UIDs kept\n", im->mailbox_name,
		       uidvalidity);
		return 0;
	}
	if (rc == STORE_EEXIST && im->new_uids) {
		printf("%s: holds other mail already: new UIDs (--new-uids)\n", im->mailbox_name);
		return 0;
	}
	if (rc == STORE_EEXIST) {
		fprintf(stderr,
		        "tern: %s holds other mail already, so the source's UIDs cannot be kept: "
		        "left out (run again with --new-uids to copy it with new UIDs; clients "
		        "then download it again)\n",
		        im->mailbox_name);
		im->bad_folders++;
		return 1;
	}
	fprintf(stderr, "tern: %s: cannot keep its UIDs (%d)\n", im->mailbox_name, rc);
	return -1;
}

void import_mailbox_cut(struct imp *im)
{
	import_flush(im);
	im->keeping = 0;
}

void import_new_uids(struct imp *im)
{
	im->new_uids = 1;
}

/* Makes name the current mailbox (created when missing) and loads what it holds. */
int import_mailbox(struct imp *im, const char *name)
{
	keep_end(im);
	if (im->fatal)
		return -1;
	snprintf(im->mailbox_name, sizeof im->mailbox_name, "%s", name);
	int rc = store_mailbox_find(im->st, im->account, name, &im->mailbox);
	if (rc == STORE_ENOTFOUND)
		rc = store_mailbox_create(im->st, im->account, name, &im->mailbox);
	if (rc == STORE_EINVAL || rc == STORE_ETOOBIG) {
		/* A folder name from the source (a file name: any bytes) that
		 * no mailbox can have: that folder is left out, not the rest,
		 * and the name is shown without its control bytes. */
		char shown[256];
		fprintf(stderr, "tern: skipping folder \"%s\": not a name a mailbox can have\n",
		        name_shown(name, shown, sizeof shown));
		im->bad_folders++;
		return 1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "tern: cannot open or create mailbox \"%s\" (%d)\n", name, rc);
		return -1;
	}
	im->nids = 0;
	if (store_email_list(im->st, im->account, im->mailbox, have_cb, im) != STORE_OK)
		return -1;
	if (im->nids)
		qsort(im->ids, im->nids, 32, id_cmp);
	return 0;
}

/* ---- mbox ---- */

static int import_mbox(struct imp *im, const char *path, const char *mailbox)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t off = 0;
	struct mbox_msg m;
	int rc;

	if (fd < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "tern: cannot read %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((rc = import_mailbox(im, mailbox)) != 0) {
		close(fd);
		return rc > 0 ? 0 : -1;
	}
	if (sb.st_size == 0) {
		close(fd);
		return 0;
	}
	const char *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	while (!im->fatal && mbox_next(p, (size_t)sb.st_size, &off, &m))
		import_add(im, m.body, m.body_len, 1 + m.verbatim, 0, NULL, m.date, 0);
	import_flush(im);
	munmap((void *)p, (size_t)sb.st_size);
	return im->fatal ? -1 : 0;
}

/* Whether path is an mbox: its first line is a From_ line. */
static int looks_mbox(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int yes = 0;
	if (f && fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, "\r\n");
		yes = mbox_is_from_line(line, n);
	}
	if (f)
		fclose(f);
	return yes;
}

/* ---- Maildir ---- */

static void load_keywords(const char *folder, char kw[26][256])
{
	char path[4200], line[400];
	snprintf(path, sizeof path, "%s/dovecot-keywords", folder);
	for (int i = 0; i < 26; i++)
		kw[i][0] = '\0';
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	FILE *f = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		char *end;
		long i = strtol(line, &end, 10);
		if (end == line || *end != ' ' || i < 0 || i > 25)
			continue;
		end++;
		end[strcspn(end, "\r\n")] = '\0';
		snprintf(kw[i], sizeof kw[i], "%s", end);
	}
	fclose(f);
}

/* A message file of a Maildir: cur/ or new/ (sub), its name, and the UID
 * dovecot-uidlist gives it (0: none). */
struct mfile {
	char *name;
	uint32_t uid;
	int sub;
};

/* The files dovecot-uidlist names first, in the order of their UIDs; the
 * others after them by name: the unique part starts with the delivery
 * time, so the order of arrival is kept (and with it the UIDs' order). */
static int mfile_cmp(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	if ((x->uid == 0) != (y->uid == 0))
		return x->uid == 0 ? 1 : -1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* folder's dovecot-uidlist into *ul (its text mapped at *map, the
 * caller's to unmap): 1 when there is one that reads, 0 when none, a
 * warning said for one that does not (new UIDs then). */
static int load_uidlist(const char *folder, struct uidlist *ul, char **map, size_t *maplen)
{
	char path[4200];
	struct stat sb;
	snprintf(path, sizeof path, "%s/dovecot-uidlist", folder);
	memset(ul, 0, sizeof *ul);
	*map = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0 ||
	    (uint64_t)sb.st_size > MSG_MAX) {
		close(fd);
		return 0;
	}
	*maplen = (size_t)sb.st_size;
	*map = mmap(NULL, *maplen, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return 0;
	}
	if (uidlist_parse(*map, *maplen, ul) != 0) {
		char shown[1024];
		fprintf(stderr, "tern: warning: %s is no dovecot-uidlist tern reads: the messages "
		        "get new UIDs\n", name_shown(path, shown, sizeof shown));
		return 0;
	}
	return 1;
}

/* One file of the folder: read and handed to import_add. */
static void import_file(struct imp *im, const char *dir, const struct mfile *mf,
                        char kwnames[26][256])
{
	char path[4500];
	struct stat sb;
	unsigned flags;
	uint32_t kwbits;
	snprintf(path, sizeof path, "%s/%s", dir, mf->name);
	/* O_NONBLOCK: a FIFO among the files is no message, and opening it
	 * must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int e = fd < 0 || fstat(fd, &sb) != 0 ? errno
	        : S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > MSG_MAX ? EFBIG : 0;
	if (e || !S_ISREG(sb.st_mode)) {
		/* A message that cannot be read is said and counted, never
		 * left behind without a word. */
		if (e) {
			char shown[1024];
			fprintf(stderr, "tern: cannot import %s: %s\n",
			        name_shown(path, shown, sizeof shown),
			        e == EFBIG ? "larger than a message may be"
			        : e == ELOOP ? "a symbolic link (never followed)" : strerror(e));
			im->failed++;
		}
		if (fd >= 0)
			close(fd);
		return;
	}
	/* Mapped, not read into memory: its pages are the file's. */
	size_t got = (size_t)sb.st_size;
	char *buf = got ? mmap(NULL, got, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (buf == MAP_FAILED) {
		im->failed++;
		return;
	}
	char others[KW_OUT];
	size_t on = 0;
	others[0] = '\0';
	maildir_info_parse(mf->name, strlen(mf->name), &flags, &kwbits);
	for (int k = 0; k < 26; k++)
		if ((kwbits & (1u << k)) && kwnames[k][0] &&
		    on + strlen(kwnames[k]) + 2 < sizeof others) {
			on += (size_t)snprintf(others + on, sizeof others - on, "%s%s",
			                       on ? " " : "", kwnames[k]);
		}
	import_add(im, buf ? buf : "", got, 0, flags, others, sb.st_mtime, mf->uid);
	if (buf)
		munmap(buf, got);
}

/* A Maildir folder into mailbox: with a dovecot-uidlist, its UIDVALIDITY
 * and the UIDs of its messages kept (import_mailbox_uids). */
static int import_maildir(struct imp *im, const char *folder, const char *mailbox)
{
	char kwnames[26][256], dirs[2][4200];
	static const char *const subs[] = {"cur", "new"};
	struct mfile *files = NULL;
	size_t n = 0;
	struct uidlist ul;
	char *map;
	size_t maplen = 0;
	int rc = import_mailbox(im, mailbox);

	if (rc != 0)
		return rc > 0 ? 0 : -1;
	int listed = load_uidlist(folder, &ul, &map, &maplen);
	if (listed && (rc = import_mailbox_uids(im, ul.uidvalidity, ul.uidnext)) != 0)
		goto out;
	load_keywords(folder, kwnames);
	for (int s = 0; s < 2; s++) {
		snprintf(dirs[s], sizeof dirs[s], "%s/%s", folder, subs[s]);
		int dfd = open(dirs[s], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;
		if (!d) {
			if (dfd >= 0)
				close(dfd);
			else if (errno == ELOOP || errno == ENOTDIR)
				skip_link(im, dirs[s]);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			files = realloc(files, (n + 1) * sizeof *files);
			if (!files)
				abort();
			files[n].name = strdup(de->d_name);
			if (!files[n].name)
				abort();
			files[n].uid = listed ? uidlist_find(&ul, de->d_name) : 0;
			files[n++].sub = s;
		}
		closedir(d);
	}
	if (n)
		qsort(files, n, sizeof *files, mfile_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!im->fatal)
			import_file(im, dirs[files[i].sub], &files[i], kwnames);
		free(files[i].name);
	}
	free(files);
	import_flush(im);
	rc = im->fatal ? -1 : 0;
out:
	uidlist_free(&ul);
	if (map)
		munmap(map, maplen);
	return rc > 0 ? 0 : rc;
}

/* Whether dir holds a cur/ directory (not a symlink to one). */
static int is_maildir(const char *dir)
{
	char p[4200];
	struct stat sb;
	if ((size_t)snprintf(p, sizeof p, "%s/cur", dir) >= sizeof p)
		return 0;
	return lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Whether path, inside the tree imported, is a symlink: said and left
 * out (never followed: it could point anywhere, a key file or another
 * account's mail, and the import would copy that into the mailbox). */
static int is_link(struct imp *im, const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0 || !S_ISLNK(sb.st_mode))
		return 0;
	skip_link(im, path);
	return 1;
}

/* Maildir++: PATH is INBOX, PATH/.A.B the mailbox A/B; then the names
 * its subscriptions file lists are subscribed. */
static int import_maildirpp(struct imp *im, const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	int rc = import_maildir(im, root, "INBOX");

	if (!d)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4200];
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", root, de->d_name);
		if (is_link(im, path) || !is_maildir(path))
			continue;
		struct buf name;
		buf_init(&name, 4096);
		if (maildirpp_name(de->d_name + 1, strlen(de->d_name + 1), '.', &name) != 0) {
			fprintf(stderr, "tern: skipping %s: not a modified UTF-7 or UTF-8 folder name\n",
			        path);
			buf_free(&name);
			continue;
		}
		rc = import_maildir(im, path, buf_data(&name));
		buf_free(&name);
	}
	closedir(d);
	/* Dovecot's or Courier's subscriptions beside the folders; in a
	 * folder tern export wrote, account.json's list says (and was read). */
	char aj[4200];
	struct stat sb;
	snprintf(aj, sizeof aj, "%s/account.json", root);
	if (rc == 0 && lstat(aj, &sb) != 0 &&
	    import_maildirpp_subscriptions(im->st, im->account, root) != 0)
		rc = -1;
	return rc;
}

/* Any other tree: Maildirs and mbox files named by their paths. */
static int import_tree(struct imp *im, const char *root, const char *rel, int depth)
{
	char path[4200];
	DIR *d;
	struct dirent *de;
	int rc = 0;

	snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (depth > 16 || (d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char sub[4200], relsub[2048], name[2048];
		struct stat sb;
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= sizeof sub)
			continue;
		snprintf(relsub, sizeof relsub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (lstat(sub, &sb) != 0)
			continue;
		if (S_ISLNK(sb.st_mode)) {
			skip_link(im, sub);
			continue;
		}
		/* The mailbox name: the path, without mbox suffixes. */
		snprintf(name, sizeof name, "%s", relsub);
		for (char *p; (p = strstr(name, ".sbd/")) != NULL;)
			memmove(p, p + 4, strlen(p + 4) + 1);
		size_t nl = strlen(name);
		if (nl > 5 && (strcmp(name + nl - 5, ".mbox") == 0))
			name[nl - 5] = '\0';
		else if (nl > 4 && strcmp(name + nl - 4, ".mbx") == 0)
			name[nl - 4] = '\0';
		if (strcasecmp(name, "inbox") == 0)
			snprintf(name, sizeof name, "INBOX");
		if (S_ISDIR(sb.st_mode)) {
			if (is_maildir(sub))
				rc = import_maildir(im, sub, name);
			if (rc == 0 && strcmp(de->d_name, "cur") != 0 && strcmp(de->d_name, "new") != 0 &&
			    strcmp(de->d_name, "tmp") != 0)
				rc = import_tree(im, root, relsub, depth + 1);
		} else if (S_ISREG(sb.st_mode) && looks_mbox(sub)) {
			rc = import_mbox(im, sub, name);
		}
	}
	closedir(d);
	return rc;
}

struct imp *import_begin(const struct config *cfg, struct store *st, const char *email,
                         const char *op)
{
	/* The server's spool directory, for messages past the memory budget
	 * (the one mechanism SMTP DATA and IMAP APPEND use; core/spool.h). */
	char spool[sizeof cfg->data_dir + 8];
	snprintf(spool, sizeof spool, "%.*s/spool", (int)sizeof cfg->data_dir - 1, cfg->data_dir);
	if (spool_use(spool, cfg->message_memory) != 0) {
		fprintf(stderr, "tern: cannot use %s: %s\n", spool, strerror(errno));
		return NULL;
	}
	struct imp *im = calloc(1, sizeof *im);
	if (!im || !(im->p = calloc(IMPORT_CHAIN, sizeof *im->p)))
		abort();
	im->st = st;
	if (store_account_id(st, email, &im->account) != STORE_OK) {
		fprintf(stderr, "tern: no account %s\n", email);
		free(im->p);
		free(im);
		return NULL;
	}
	cli_progress_init(&im->pr, op);
	return im;
}

int import_end(struct imp *im, const char *email, int rc)
{
	keep_end(im);
	printf("%s: %llu imported, %llu already there, %llu failed\n", email,
	       (unsigned long long)im->imported, (unsigned long long)im->skipped,
	       (unsigned long long)im->failed);
	if (im->renumbered)
		printf("%s: %llu messages got new UIDs (their UID was below one their mailbox "
		       "had given already)\n",
		       email, (unsigned long long)im->renumbered);
	int code = rc != 0 || im->fatal || im->bad_folders ? 1 : 0;
	free(im->ids);
	free(im->p);
	free(im);
	return code;
}

int import_fatal(const struct imp *im)
{
	return im->fatal;
}

int cli_import(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL, *path = NULL, *mailbox = NULL;
	struct stat sb;
	int new_uids = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--mailbox") == 0 && i + 1 < argc)
			mailbox = argv[++i];
		else if (strcmp(argv[i], "--new-uids") == 0)
			new_uids = 1;
		else if (argv[i][0] == '-')
			goto usage;
		else if (!email)
			email = argv[i];
		else if (!path)
			path = argv[i];
		else
			goto usage;
	}
	if (!email || !path)
		goto usage;
	if (stat(path, &sb) != 0) {
		fprintf(stderr, "tern: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_CREATE);
	if (!st)
		return 1;
	struct imp *im = import_begin(cfg, st, email, "import");
	if (!im) {
		store_close(&st);
		return 1;
	}
	if (new_uids)
		import_new_uids(im);
	/* A folder tern export wrote: its roles and subscriptions first, so a
	 * role is decided before the mail fills the account's mailboxes. */
	int pre = S_ISDIR(sb.st_mode) ? import_account_mailboxes(st, email, path) : 0;
	int rc;
	if (S_ISREG(sb.st_mode))
		rc = import_mbox(im, path, mailbox ? mailbox : "INBOX");
	else if (mailbox) {
		fprintf(stderr, "tern: --mailbox is for an mbox file\n");
		rc = -1;
	} else if (is_maildir(path))
		rc = import_maildirpp(im, path);
	else
		rc = import_tree(im, path, "", 0);
	int code = import_end(im, email, rc);
	/* A folder tern export wrote also holds the account's settings. */
	if (S_ISDIR(sb.st_mode) && import_account_extras(st, email, path) != 0)
		code = 1;
	if (pre != 0)
		code = 1;
	store_close(&st);
	return code;
usage:
	return cli_usage("import");
}
