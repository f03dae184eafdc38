/*
 * cmd_spam.c — `tern spam train` and `tern spam test` (DESIGN.md §5):
 *
 *   tern spam train spam|ham [--account EMAIL] PATH...
 *     learns every message of each PATH: a message file, an mbox file, a
 *     Maildir folder (the files of its cur/ and new/, nothing else of it:
 *     the server's index files beside them are no mail), or a directory
 *     of message files or Maildir folders (walked
 *     recursively); into the global model, or EMAIL's own. Each message
 *     once (by the key spam_learn.h names, as a Junk move): one learned
 *     as this class already (an earlier run, a copy) is counted as
 *     already learned, one learned as the other class is moved (its
 *     lesson forgotten first, fuzzy entry and byte-gram lesson too).
 *     Messages are learned in batches, each batch one store write of the
 *     model and one of the learned marks; then the counts and the
 *     model's size are printed. The global model's byte-gram regression keeps
 *     every message's grams as a lesson and is fitted once at the end.
 *   tern spam phish load FILE | tern spam phish status
 *     replaces the local phishing URL list with FILE's URLs (spam_phish.h),
 *     printing how many were kept; status prints the stored list's size,
 *     source and time. The running server reads the list from the store
 *     for each message, so a load counts at once.
 *   tern spam hashes load FILE | tern spam hashes status
 *     the same for the malware attachment list (SHA-256 digests,
 *     spam_hashes.h).
 *   tern spam test [--account EMAIL] FILE...
 *     prints `VERDICT score=N` (ham|spam|reject|discard at the thresholds
 *     the server uses: the Spam page's, or the defaults), then every rule
 *     that fired, one a line:
 *     `  NAME WEIGHT DESCRIPTION`. With several files each block starts
 *     with `file: PATH`.
 *
 * Without DNS: only the content rules and the classifier count here;
 * connection and DNS rules are the SMTP pipeline's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backup/mailfmt.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "spam/spam.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_learn.h"
#include "spam/spam_phish.h"
#include "spam/spam_private.h"
#include "spam/spam_settings.h"
#include "store/store.h"

#define SPAM_FILE_MAX (256u * 1024 * 1024) /* an mbox may be big */
#define BATCH_DELTAS (4u << 20)           /* deltas before a store write */

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat sb;
	if (fstat(fileno(f), &sb) < 0 || (uint64_t)sb.st_size > SPAM_FILE_MAX) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	char *p = xmalloc((size_t)sb.st_size + 1);
	*len_r = fread(p, 1, (size_t)sb.st_size, f);
	p[*len_r] = '\0';
	fclose(f);
	return p;
}

struct trainer {
	struct store *st;
	uint32_t account;
	int is_spam;
	struct spam_delta *d;
	size_t n, cap;
	int32_t dspam, dham; /* the batch's message counts (a move: -1 and +1) */
	int32_t total, known, moved;
	/* the batch's messages, marked learned once the model took them */
	struct spam_learn_mark *marks;
	size_t nmarks;
	uint64_t tok[SPAM_TOKENS_MAX];
	/* the global model's byte-gram lessons, stored GRAM_BATCH at a time
	 * and fitted once at the end (spam_grams.c) */
	struct spam_gram_lesson *lessons;
	size_t nlessons;
	int failed;
};

#define GRAM_BATCH 512
#define MARK_BATCH 4096 /* messages before a store write */

static int flush_grams(struct trainer *t)
{
	if (!t->nlessons)
		return 0;
	int rc = spam_grams_change(t->st, t->lessons, t->nlessons, 1);
	t->nlessons = 0;
	if (rc != 0) {
		fprintf(stderr, "tern: spam train: the store failed (%d)\n", rc);
		t->failed = 1;
		return -1;
	}
	return 0;
}

static int flush(struct trainer *t)
{
	if (!t->nmarks)
		return 0;
	int rc = spam_learn_batch(t->st, t->account, t->d, t->n, t->dspam, t->dham);
	if (rc == 0)
		rc = spam_learn_trained_set(t->st, t->account, t->marks, t->nmarks);
	t->n = 0;
	t->dspam = t->dham = 0;
	t->nmarks = 0;
	if (rc != 0) {
		fprintf(stderr, "tern: spam train: the store failed (%d)\n", rc);
		t->failed = 1;
		return -1;
	}
	return 0;
}

/* What the model learned from the message of key hex: this batch's
 * mark, else the store's ('s', 'h', 0). */
static uint8_t learned_as(struct trainer *t, const char *hex)
{
	for (size_t i = t->nmarks; i-- > 0;)
		if (memcmp(t->marks[i].hex, hex, SPAM_LEARN_KEY_HEX) == 0)
			return t->marks[i].what;
	return spam_learn_trained(t->st, t->account, hex);
}

/* Takes back the fuzzy entry and byte-gram lesson of m learned as the
 * other class (the counts are taken back in the batch's deltas). */
static void forget_extras(struct trainer *t, const struct spam_msg *m, int was_spam)
{
	if (t->account && was_spam && spam_fuzzy_learn(t->st, t->account, m, -1) != 0)
		t->failed = 1;
	if (t->account || flush_grams(t) != 0)
		return;
	struct spam_gram_lesson l;
	l.g = xmalloc(SPAM_GRAM_TEXT * sizeof *l.g);
	spam_gram_lesson_of(m, was_spam, &l);
	if (spam_grams_change(t->st, &l, 1, -1) != 0)
		t->failed = 1;
	free(l.g);
}

/*
 * Learns the message once: one the model learned as this class already
 * (an earlier run, or the same message twice in this one) is counted
 * as known and skipped; one it learned as the other class is forgotten
 * from that class first (moved), as a user's move out of Junk does.
 */
static void learn_one(struct trainer *t, const char *msg, size_t len)
{
	char hex[SPAM_LEARN_KEY_HEX + 1];
	uint8_t what = t->is_spam ? 's' : 'h';
	spam_learn_key(msg, len, hex);
	uint8_t was = learned_as(t, hex);
	if (was == what) {
		t->known++;
		return;
	}
	struct spam_msg *m;
	spam_msg_new(msg, len, &m);
	size_t n = spam_tokens(m, t->tok, SPAM_TOKENS_MAX);
	if (was) {
		forget_extras(t, m, was == 's');
		t->moved++;
	}
	/* a user's spam also enters their fuzzy memory, as spam_train does */
	if (t->account && t->is_spam && spam_fuzzy_learn(t->st, t->account, m, 1) != 0)
		t->failed = 1;
	if (!t->account) {
		if (!t->lessons) {
			t->lessons = xmalloc(GRAM_BATCH * sizeof *t->lessons);
			for (size_t i = 0; i < GRAM_BATCH; i++)
				t->lessons[i].g = xmalloc(SPAM_GRAM_TEXT * sizeof *t->lessons[i].g);
		}
		spam_gram_lesson_of(m, t->is_spam, &t->lessons[t->nlessons++]);
		if (t->nlessons == GRAM_BATCH)
			flush_grams(t);
	}
	spam_msg_free(&m);
	if (t->n + n > t->cap) {
		t->cap = t->n + n > BATCH_DELTAS ? t->n + n : BATCH_DELTAS;
		t->d = xrealloc(t->d, t->cap * sizeof *t->d);
	}
	int32_t ds = t->is_spam - (was == 's'), dh = !t->is_spam - (was == 'h');
	for (size_t i = 0; i < n; i++)
		t->d[t->n++] = (struct spam_delta){t->tok[i], ds, dh};
	t->dspam += ds;
	t->dham += dh;
	if (!t->marks)
		t->marks = xmalloc(MARK_BATCH * sizeof *t->marks);
	memcpy(t->marks[t->nmarks].hex, hex, sizeof hex);
	t->marks[t->nmarks++].what = what;
	t->total++;
	if (t->n >= BATCH_DELTAS || t->nmarks == MARK_BATCH)
		flush(t);
}

static void learn_mbox(struct trainer *t, const char *p, size_t len)
{
	size_t off = 0;
	struct mbox_msg mm;
	struct buf b;
	buf_init(&b, SPAM_FILE_MAX);
	while (mbox_next(p, len, &off, &mm) == 1) {
		unsigned flags;
		char kw[256];
		buf_reset(&b);
		if (mbox_message_decode(mm.body, mm.body_len, mm.verbatim, &b, &flags, kw, sizeof kw) == 0)
			learn_one(t, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
}

static void learn_path(struct trainer *t, const char *path, int depth);

/* Is dir/name a directory? */
static int is_subdir(const char *dir, const char *name)
{
	struct stat sb;
	size_t l = strlen(dir) + strlen(name) + 2;
	char *sub = xmalloc(l);
	snprintf(sub, l, "%s/%s", dir, name);
	int r = stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode);
	free(sub);
	return r;
}

/*
 * A Maildir folder (a directory with cur/ or new/) holds its messages
 * there and only there: beside them a mail server keeps its own files
 * (Dovecot's dovecot-uidlist, dovecot.index.log, dovecot.index.cache,
 * dovecot-keywords, the empty maildirfolder; Courier's courierimapuiddb),
 * which are no mail and would be learned as mail. tmp/ holds messages
 * still being written; a Maildir++ subfolder (.Sent) starts with '.'.
 */
static int wanted_entry(const char *name, int maildir)
{
	if (name[0] == '.')
		return 0;
	if (maildir)
		return strcmp(name, "cur") == 0 || strcmp(name, "new") == 0;
	return strcmp(name, "tmp") != 0;
}

static void learn_dir(struct trainer *t, const char *path, int depth)
{
	if (depth > 16)
		return;
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "tern: %s: %s\n", path, strerror(errno));
		t->failed = 1;
		return;
	}
	int maildir = is_subdir(path, "cur") || is_subdir(path, "new");
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!wanted_entry(e->d_name, maildir))
			continue;
		size_t l = strlen(path) + strlen(e->d_name) + 2;
		char *sub = xmalloc(l);
		snprintf(sub, l, "%s/%s", path, e->d_name);
		learn_path(t, sub, depth + 1);
		free(sub);
	}
	closedir(d);
}

static void learn_path(struct trainer *t, const char *path, int depth)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		fprintf(stderr, "tern: %s: %s\n", path, strerror(errno));
		t->failed = 1;
		return;
	}
	if (S_ISDIR(sb.st_mode)) {
		learn_dir(t, path, depth);
		return;
	}
	/* an empty file is no message (a Maildir's maildirfolder marker) */
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
		return;
	size_t len;
	char *p = slurp(path, &len);
	if (!p) {
		fprintf(stderr, "tern: %s: %s\n", path, strerror(errno));
		t->failed = 1;
		return;
	}
	const char *nl = memchr(p, '\n', len);
	size_t first = nl ? (size_t)(nl - p) : len;
	if (first && p[first - 1] == '\r')
		first--;
	if (mbox_is_from_line(p, first))
		learn_mbox(t, p, len);
	else
		learn_one(t, p, len);
	free(p);
}

static int account_of(struct store *st, const char *email, uint32_t *id_r)
{
	if (!email) {
		*id_r = 0;
		return 0;
	}
	if (store_account_id(st, email, id_r) != STORE_OK) {
		fprintf(stderr, "tern: no such account: %s\n", email);
		return -1;
	}
	return 0;
}

static void print_model(void *arg, const struct str *recs)
{
	struct spam_model m;
	(void)arg;
	if (recs[0].p && spam_model_decode(recs[0].p, recs[0].len, &m) == 0)
		printf("model: %u tokens (%zu bytes), %u spam and %u ham learned\n", m.ntok,
		       recs[0].len, m.nspam, m.nham);
}

static int spam_train_cmd(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL;
	int is_spam, first = 1;
	if (argc < 2)
		return cli_usage("spam");
	if (strcmp(argv[0], "spam") == 0)
		is_spam = 1;
	else if (strcmp(argv[0], "ham") == 0)
		is_spam = 0;
	else
		return cli_usage("spam");
	if (strcmp(argv[1], "--account") == 0) {
		if (argc < 4)
			return cli_usage("spam");
		email = argv[2];
		first = 3;
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_CREATE);
	if (!st)
		return 1;
	struct trainer *t = xmalloc(sizeof *t);
	memset(t, 0, sizeof *t);
	t->st = st;
	t->is_spam = is_spam;
	if (account_of(st, email, &t->account) < 0) {
		free(t);
		store_close(&st);
		return 1;
	}
	for (int i = first; i < argc; i++)
		learn_path(t, argv[i], 0);
	flush(t);
	printf("learned %d %s (%s), %d already learned, %d moved from %s\n", t->total,
	       is_spam ? "spam" : "ham", email ? email : "global model", t->known, t->moved,
	       is_spam ? "ham" : "spam");
	store_spam_get(st, &t->account, 1, STORE_SPAM_MODEL, print_model, NULL);
	if (!t->account && flush_grams(t) == 0) {
		uint32_t ns, nh;
		if (spam_grams_refit(st, &ns, &nh) != 0) {
			fprintf(stderr, "tern: spam train: the byte-gram regression could not be stored\n");
			t->failed = 1;
		} else {
			printf("byte grams: %u spam and %u ham lessons, %s\n", ns, nh,
			       ns >= SPAM_GRAM_MIN_LESSONS && nh >= SPAM_GRAM_MIN_LESSONS
			           ? "weights fitted"
			           : "too few of a class for weights");
		}
	}
	int rc = t->failed ? 1 : 0;
	if (t->lessons)
		for (size_t i = 0; i < GRAM_BATCH; i++)
			free(t->lessons[i].g);
	free(t->lessons);
	free(t->marks);
	free(t->d);
	free(t);
	store_close(&st);
	return rc;
}

static int spam_test_cmd(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL;
	int first = 0;
	if (argc >= 2 && strcmp(argv[0], "--account") == 0) {
		email = argv[1];
		first = 2;
	}
	if (first >= argc)
		return cli_usage("spam");
	/* read-only: testing never changes the models */
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	if (!st)
		return 1;
	uint32_t account;
	if (account_of(st, email, &account) < 0) {
		store_close(&st);
		return 1;
	}
	int rc = 0;
	struct spam_result *res = xmalloc(sizeof *res);
	/* The thresholds the server decides with (the Spam page's), so the
	 * verdict printed is the one a delivery would get from this score. */
	struct spam_settings *set = xmalloc(sizeof *set);
	spam_settings_load(st, set, NULL);
	for (int i = first; i < argc; i++) {
		size_t len;
		char *p = slurp(argv[i], &len);
		if (!p) {
			fprintf(stderr, "tern: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		struct spam_msg *m;
		spam_msg_new_opts(p, len, SPAM_VIEW_DIGESTS, &m); /* the malware list is checked */
		spam_result_init(res);
		if (spam_analyse(st, account, m, res) != 0)
			fprintf(stderr, "tern: %s: the classifier's models could not be read\n", argv[i]);
		spam_result_decide(res, &set->th);
		if (argc - first > 1)
			printf("file: %s\n", argv[i]);
		printf("%s score=%.2f\n", spam_verdict_name(res->verdict), res->score);
		for (uint32_t k = 0; k < res->nrules; k++)
			printf("  %s %.2f %s\n", res->rules[k].name, res->rules[k].weight,
			       res->rules[k].desc);
		spam_msg_free(&m);
		free(p);
	}
	free(res);
	free(set);
	store_close(&st);
	return rc;
}

/* `tern spam phish|hashes load FILE|status`: a local list (spam_feed.h). */
static int spam_feed_cmd(const struct config *cfg, const struct spam_feed_kind *k, int argc,
			 char **argv)
{
	if (argc == 1 && strcmp(argv[0], "status") == 0) {
		struct store *st = cli_store_open(cfg, CLI_STORE_READ);
		if (!st)
			return 1;
		struct spam_feed_status s;
		int rc = spam_feed_status(st, k, &s);
		store_close(&st);
		if (rc != STORE_OK) {
			fprintf(stderr, "tern: the %s could not be read\n", k->label);
			return 1;
		}
		printf("entries: %u\n", s.entries);
		if (s.loaded_at) {
			char when[32];
			time_t t = (time_t)s.loaded_at;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("loaded: %s\nsource: %s\n", when, s.source);
		}
		return 0;
	}
	if (argc != 2 || strcmp(argv[0], "load") != 0)
		return cli_usage("spam");
	size_t len;
	char *text = slurp(argv[1], &len);
	if (!text) {
		fprintf(stderr, "tern: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct store *st = cli_store_open(cfg, CLI_STORE_CREATE);
	if (!st) {
		free(text);
		return 1;
	}
	struct spam_feed f;
	const char *base = strrchr(argv[1], '/');
	char source[SPAM_FEED_SOURCE_MAX];
	snprintf(source, sizeof source, "file %s", base ? base + 1 : argv[1]);
	k->parse(text, len, &f);
	int rc = spam_feed_store(st, k, &f, source);
	store_close(&st);
	free(text);
	if (rc != STORE_OK) {
		spam_feed_free(&f);
		fprintf(stderr, "tern: the %s could not be stored\n", k->label);
		return 1;
	}
	printf("entries: %zu (lines without an entry: %zu, over the limit: %zu)\n", f.n, f.bad,
	       f.dropped);
	spam_feed_free(&f);
	return 0;
}

int cli_spam(const struct config *cfg, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage("spam");
	if (strcmp(argv[0], "train") == 0)
		return spam_train_cmd(cfg, argc - 1, argv + 1);
	if (strcmp(argv[0], "test") == 0)
		return spam_test_cmd(cfg, argc - 1, argv + 1);
	if (strcmp(argv[0], "phish") == 0)
		return spam_feed_cmd(cfg, &spam_phish_kind, argc - 1, argv + 1);
	if (strcmp(argv[0], "hashes") == 0)
		return spam_feed_cmd(cfg, &spam_hashes_kind, argc - 1, argv + 1);
	return cli_usage("spam");
}
