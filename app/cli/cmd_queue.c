/*
 * cmd_queue.c — tern queue list|flush|del [ID]: the outbound queue, from
 * another process while the server runs (LMDB serialises the writers).
 *
 * flush makes entries due now; the server's scheduler reads the due index
 * every second, so it starts on them within about a second. del drops
 * entries without any notice to their senders (Postfix's postsuper -d).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/store.h"
#include "store/store_queue.h"

static const char *state_name(uint8_t s)
{
	return s == SQ_SENT ? "sent" : s == SQ_FAILED ? "failed" : "pending";
}

static void print_entry(void *arg, const struct store_queue_entry *e)
{
	size_t *n = arg;
	char when[32], next[32];
	struct tm tm;
	time_t t = (time_t)e->created_at;

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	t = (time_t)e->next_attempt;
	gmtime_r(&t, &tm);
	strftime(next, sizeof next, "%Y-%m-%d %H:%M:%S", &tm);
	if (e->next_attempt == SQ_HELD_AT) /* restored: flush releases it */
		snprintf(next, sizeof next, "held");
	/* RFC 4865: held whole until next; a flush releases it now. RFC
	 * 6710: a priority other than the default. */
	char prio[24] = "";
	if (e->priority)
		snprintf(prio, sizeof prio, " (priority %d)", e->priority);
	printf("%llu  %llu bytes  queued %s  next %s%s%s  attempts %u  from <%s>\n",
	       (unsigned long long)e->id, (unsigned long long)e->size, when, next,
	       (e->flags & SQ_HOLD) ? " (future release)" : "", prio, e->attempts, e->sender);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		printf("    <%s> %s%s%s\n", r->addr, state_name(r->state), r->status[0] ? ": " : "",
		       r->status);
	}
	(*n)++;
}

static int usage(void)
{
	return cli_usage("queue");
}

static int parse_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '1' || *s > '9' || *end)
		return -1;
	*id = v;
	return 0;
}

int cli_queue(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	uint64_t id = 0;
	size_t n = 0;
	int r;

	if (argc < 1)
		return usage();
	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
			return 1;
		r = store_queue_list(st, print_entry, &n);
		store_close(&st);
		if (r != STORE_OK) {
			fprintf(stderr, "tern: cannot read the queue\n");
			return 1;
		}
		if (n == 0)
			printf("queue is empty\n");
		return 0;
	}
	int flush = strcmp(argv[0], "flush") == 0;
	if (!flush && strcmp(argv[0], "del") != 0)
		return usage();
	if (argc > 2 || (!flush && argc != 2))
		return usage();
	if (argc == 2 && (flush || strcmp(argv[1], "all") != 0) && parse_id(argv[1], &id) < 0)
		return cli_bad_arg("queue", "ID", argv[1],
				   flush ? "a queue entry number (tern queue list)"
					 : "a queue entry number or all");
	if (!(st = cli_store_open(cfg, CLI_STORE_CHANGE)))
		return 1;
	r = flush ? store_queue_flush(st, id, &n) : store_queue_del(st, id, &n);
	store_close(&st);
	if (r == STORE_ENOTFOUND) {
		fprintf(stderr, "tern: no queue entry %llu\n", (unsigned long long)id);
		return 1;
	}
	if (r != STORE_OK) {
		fprintf(stderr, "tern: cannot change the queue\n");
		return 1;
	}
	printf("%zu %s\n", n, flush ? "flushed" : "deleted");
	return 0;
}
