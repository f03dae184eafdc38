/*
 * cmd_fetch.c — tern fetch EMAIL [--mailbox NAME] [--id ID].
 *
 * Without --id lists the mailbox (id, date, from, subject from the envelope
 * in the MIME structure cached at delivery, mime_cache.h). Emails stored by
 * earlier builds may carry a mime/summary.h record instead, read as a
 * fallback, or no record at all (local deliveries from the queue before
 * they kept one): those are parsed here. With --id writes the raw message
 * to stdout, and with --envelope the SMTP envelope kept with it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_cache.h"
#include "mime/rfc5322.h"
#include "mime/summary.h"
#include "store/store.h"

static int usage(void)
{
	return cli_usage("fetch");
}

/* Prints a header value on one line, control bytes replaced, capped. */
static void print_field(struct str s, int width)
{
	int n = 0;
	for (size_t i = 0; i < s.len && n < width; i++, n++) {
		unsigned char c = (unsigned char)s.p[i];
		putchar(c < ' ' || c == 0x7f ? ' ' : c);
	}
	for (; n < width; n++)
		putchar(' ');
}

#define LIST_FIELD_MAX 4096

/* From (first address, display name decoded) and Subject (decoded) of the
 * envelope in a mime cache record; 0, or -1 when meta is not one. */
static int from_cache(const struct store_email_info *e, struct arena *a, struct buf *from,
		      struct buf *subject)
{
	struct mime_tree t;

	if (!e->meta || mime_cache_decode(e->meta, e->metalen, a, &t) < 0 || t.size != e->size)
		return -1;
	const struct mime_envelope *env = t.parts[0].env;
	if (!env)
		return 0;
	if (env->subject.p)
		rfc5322_decode_words(env->subject, subject);
	for (uint32_t i = 0; i < env->from.n; i++) {
		const struct mime_address *ad = &env->from.v[i];
		if (!ad->mailbox.p || !ad->host.p)
			continue; /* a group marker */
		if (ad->name.p && ad->name.len) {
			rfc5322_decode_words(ad->name, from);
			buf_append_c(from, " <");
		}
		buf_append_str(from, ad->mailbox);
		buf_append_c(from, "@");
		buf_append_str(from, ad->host);
		if (ad->name.p && ad->name.len)
			buf_append_c(from, ">");
		break;
	}
	return 0;
}

struct list_ctx {
	struct store *st;
	uint32_t account;
	int n;
};

static void collect(void *arg, const char *data, size_t len)
{
	buf_append(arg, data, len);
}

/* From and Subject of an email stored without any record: parse it now. */
static int from_message(struct list_ctx *c, const struct store_email_info *e, struct arena *a,
			struct buf *from, struct buf *subject)
{
	struct buf raw, meta;
	int rc = -1;

	buf_init(&raw, e->size + 1);
	buf_init(&meta, 0);
	if (store_email_raw(c->st, c->account, e->email_id, collect, &raw) == STORE_OK &&
	    mime_cache_build(buf_data(&raw), buf_len(&raw), &meta) == 0) {
		struct store_email_info parsed = *e;
		parsed.meta = buf_data(&meta);
		parsed.metalen = buf_len(&meta);
		parsed.size = buf_len(&raw);
		rc = from_cache(&parsed, a, from, subject);
	}
	buf_free(&meta);
	buf_free(&raw);
	return rc;
}

static void list_one(void *arg, const struct store_email_info *e)
{
	struct list_ctx *c = arg;
	struct msg_summary s;
	struct buf from, subject;
	char when[32];
	time_t t = (time_t)e->received_at;
	struct tm tm;
	struct arena *a = arena_new(16384);

	buf_init(&from, LIST_FIELD_MAX);
	buf_init(&subject, LIST_FIELD_MAX);
	/* The structure record; an email with no record at all is parsed now;
	 * any other record is the msg_summary of an earlier build. */
	int has_record = e->meta && e->metalen;
	int done = from_cache(e, a, &from, &subject) == 0 ||
	           (!has_record && from_message(c, e, a, &from, &subject) == 0);
	if (!done) {
		memset(&s, 0, sizeof(s));
		if (e->meta)
			msg_summary_decode(e->meta, e->metalen, &s);
		buf_append_str(&from, s.from.p ? s.from : str_c(""));
		buf_append_str(&subject, s.subject.p ? s.subject : str_c(""));
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-8u %s  ", e->email_id, when);
	print_field(buf_str(&from), 32);
	printf("  ");
	print_field(buf_str(&subject), 60);
	putchar('\n');
	buf_free(&from);
	buf_free(&subject);
	arena_free(&a);
	c->n++;
}

static void write_raw(void *arg, const char *data, size_t len)
{
	(void)arg;
	fwrite(data, 1, len, stdout);
}

int cli_fetch(const struct config *cfg, int argc, char **argv)
{
	const char *mailbox = "INBOX";
	uint64_t id = 0;
	int have_id = 0, envelope = 0, rc = 1;

	if (argc < 1)
		return usage();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mailbox") == 0 && i + 1 < argc) {
			mailbox = argv[++i];
		} else if (strcmp(argv[i], "--envelope") == 0) {
			envelope = 1;
		} else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
			if (str_to_u64(str_c(argv[i + 1]), UINT32_MAX, &id) < 0)
				return cli_bad_arg("fetch", "--id", argv[i + 1],
						   "a message number (tern fetch EMAIL lists them)");
			have_id = 1;
			i++;
		} else {
			return usage();
		}
	}
	if (envelope && !have_id)
		return usage();
	struct store *st = cli_store_open(cfg, CLI_STORE_READ);
	if (!st)
		return 1;
	uint32_t account, mbox;
	if (store_account_id(st, argv[0], &account) != STORE_OK) {
		fprintf(stderr, "tern: no such account: %s\n", argv[0]);
	} else if (have_id) {
		int r = envelope ? store_email_envelope(st, account, (uint32_t)id, write_raw, NULL)
				 : store_email_raw(st, account, (uint32_t)id, write_raw, NULL);
		if (r == STORE_OK)
			rc = 0;
		else
			fprintf(stderr, "tern: no %s %llu in %s\n", envelope ? "envelope for message" : "message",
				(unsigned long long)id, argv[0]);
	} else if (store_mailbox_find(st, account, mailbox, &mbox) != STORE_OK) {
		fprintf(stderr, "tern: no mailbox %s in %s\n", mailbox, argv[0]);
	} else {
		struct list_ctx c = {st, account, 0};
		if (store_email_list(st, account, mbox, list_one, &c) == STORE_OK) {
			fprintf(stderr, "%d message%s in %s\n", c.n, c.n == 1 ? "" : "s", mailbox);
			rc = 0;
		}
	}
	store_close(&st);
	return rc;
}
