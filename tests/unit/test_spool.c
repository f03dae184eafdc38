/*
 * test_spool.c — message spools (core/spool.h): a small message stays in
 * memory, a big one or one past the budget goes to an unlinked file, the
 * content and blob id come out the same either way whatever the chunking,
 * the budget is given back, files left in the directory are swept; and a
 * buffer whose memory cannot be had fails its append instead of ending
 * the process (issue 28, finding 1); an unhashed spool cut back to a
 * mark holds the bytes before it; memory held outside spools (spool_hold)
 * counts against the same budget and per-address share; a spool with
 * front room takes a head written in front of its content in place
 * (spool_front_put), in memory and in its file, and gives the octets the
 * head covered back (spool_front_restore).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/spool.h"
#include "store/store.h"
#include "unit.h"

/* A real allocation failure, not a simulated one: under ASan a request
 * past its maximum returns NULL with this option instead of a report. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static char dir[64];

static size_t count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Appends len pattern bytes in pieces of step; returns them in *all_r. */
static char *fill(struct spool *sp, size_t len, size_t step, int *rc_r)
{
	char *all = malloc(len + 1);
	*rc_r = 0;
	for (size_t i = 0; i < len; i++)
		all[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	for (size_t i = 0; i < len && *rc_r == 0; i += step)
		*rc_r = spool_append(sp, all + i, len - i < step ? len - i : step);
	return all;
}

static void check_content(size_t len, size_t step, int want_file)
{
	struct spool sp;
	struct str data;
	uint8_t id[32], want[32];
	int rc;

	spool_init(&sp, 64u << 20, "192.0.2.1");
	char *all = fill(&sp, len, step, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(spool_spilled(&sp), want_file);
	CHECK_EQ_INT(spool_finish(&sp, &data), 0);
	/* Finished, a spilled spool keeps its mapping, not a descriptor. */
	CHECK_EQ_INT(spool_spilled(&sp), want_file);
	CHECK_EQ_INT(spool_files_open(), 0);
	CHECK_EQ_INT(data.len, len);
	CHECK(memcmp(data.p, all, len) == 0);
	CHECK_EQ_INT(data.p[len], '\0');
	spool_blob_id(&sp, id);
	store_blob_id(all, len, want);
	CHECK(memcmp(id, want, 32) == 0);
	spool_blob_id(&sp, id); /* asking twice gives the same */
	CHECK(memcmp(id, want, 32) == 0);
	CHECK_EQ_INT(spool_append(&sp, "x", 1), -1); /* finished */
	struct str again; /* asking twice gives the same range */
	CHECK_EQ_INT(spool_finish(&sp, &again), 0);
	CHECK(again.p == data.p && again.len == data.len);
	spool_free(&sp);
	CHECK_EQ_INT(spool_mem_held(), 0);
	CHECK_EQ_INT(spool_files_open(), 0);
	free(all);
}

static void test_spool_content(void)
{
	check_content(0, 1, 0);
	check_content(10 * 1024, 1, 0);          /* byte by byte, in memory */
	check_content(10 * 1024, 4096, 0);
	check_content(SPOOL_MEM_MAX + 1, 65536, 1); /* past the per-message limit */
	check_content(3 * SPOOL_MEM_MAX, 1000, 1);
	check_content(3 * SPOOL_MEM_MAX, 200000, 1); /* pieces bigger than the stage */
	/* The files are unlinked from the start: the directory stays empty. */
	CHECK_EQ_INT(count_files(), 0);
}

/* An unhashed spool cut back to a mark, in memory and in its file (past
 * the stage and within it), then appended to: the bytes are the prefix
 * and what came after, as if the cut bytes had never been written (a
 * JMAP answer takes back a failed method's partial response). */
static void check_truncate(size_t len, size_t cut)
{
	struct spool sp;
	struct str data;
	int rc;

	spool_init_unhashed(&sp, 64u << 20, "192.0.2.2");
	char *all = fill(&sp, len, 65536, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(spool_truncate(&sp, len + 1), -1); /* past the end */
	CHECK_EQ_INT(spool_truncate(&sp, cut), 0);
	CHECK_EQ_INT(sp.len, cut);
	CHECK_EQ_INT(spool_append(&sp, "tail", 4), 0);
	CHECK_EQ_INT(spool_finish(&sp, &data), 0);
	CHECK_EQ_INT(data.len, cut + 4);
	CHECK(memcmp(data.p, all, cut) == 0 && memcmp(data.p + cut, "tail", 4) == 0);
	CHECK_EQ_INT(data.p[cut + 4], '\0');
	CHECK_EQ_INT(spool_truncate(&sp, 0), -1); /* finished */
	spool_free(&sp);
	free(all);
	CHECK_EQ_INT(spool_mem_held(), 0);
	CHECK_EQ_INT(spool_files_open(), 0);
}

static void test_spool_truncate(void)
{
	check_truncate(10 * 1024, 100);                       /* in memory */
	check_truncate(3 * SPOOL_MEM_MAX, 3 * SPOOL_MEM_MAX - 10); /* in the stage */
	check_truncate(3 * SPOOL_MEM_MAX, SPOOL_MEM_MAX + 5);  /* into the file */
	check_truncate(3 * SPOOL_MEM_MAX, 0);
	/* A hashed spool cannot take bytes back: its blob id has them. */
	struct spool sp;
	spool_init(&sp, 1024, NULL);
	CHECK_EQ_INT(spool_append(&sp, "abc", 3), 0);
	CHECK_EQ_INT(spool_truncate(&sp, 1), -1);
	spool_free(&sp);
}

/*
 * A spool of len content octets with room front ahead: finished, a head
 * of hlen octets put to end at the content's offset at, then restored.
 * Whatever the chunking and wherever the bytes are, the content is the
 * same as without room, head + content from at is one range while put,
 * and the content is whole again after the restore.
 */
static void check_front(size_t len, size_t step, size_t front, size_t hlen, size_t at,
			int want_file)
{
	struct spool sp;
	struct str data, whole, again;
	int rc;

	spool_init_unhashed(&sp, 64u << 20, "192.0.2.3");
	CHECK_EQ_INT(spool_reserve_front(&sp, front), 0);
	CHECK_EQ_INT(spool_reserve_front(&sp, front), -1); /* once */
	char *all = fill(&sp, len, step, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(sp.len, len);
	CHECK_EQ_INT(spool_spilled(&sp), want_file);
	CHECK_EQ_INT(spool_truncate(&sp, 0), -1); /* refused with room */
	CHECK_EQ_INT(spool_front_put(&sp, str_make("x", 1), NULL, &whole), -1); /* not finished */
	CHECK_EQ_INT(spool_finish(&sp, &data), 0);
	CHECK_EQ_INT(data.len, len);
	CHECK(memcmp(data.p, all, len) == 0);
	CHECK_EQ_INT(data.p[len], '\0');
	char *head = malloc(hlen + 1);
	for (size_t i = 0; i < hlen; i++)
		head[i] = (char)('A' + i % 26);
	/* Too long for the room and the content before at: nothing changes. */
	CHECK_EQ_INT(spool_front_put(&sp, str_make(head, front + at + 1), data.p + at, &whole), -1);
	CHECK(memcmp(data.p, all, len) == 0);
	CHECK_EQ_INT(spool_front_put(&sp, str_make(head, hlen), data.p + at, &whole), 0);
	CHECK_EQ_INT(whole.len, hlen + len - at);
	CHECK(whole.p + hlen == data.p + at);
	CHECK(memcmp(whole.p, head, hlen) == 0);
	CHECK(memcmp(whole.p + hlen, all + at, len - at) == 0);
	CHECK_EQ_INT(spool_front_put(&sp, str_make(head, hlen), data.p + at, &whole), -1); /* one at a time */
	spool_front_restore(&sp);
	CHECK(memcmp(data.p, all, len) == 0);
	spool_front_restore(&sp); /* nothing put: nothing done */
	CHECK(memcmp(data.p, all, len) == 0);
	CHECK_EQ_INT(spool_finish(&sp, &again), 0);
	CHECK(again.p == data.p && again.len == len);
	/* Put again after the restore; freed while put. */
	CHECK_EQ_INT(spool_front_put(&sp, str_make(head, hlen), data.p + at, &whole), 0);
	CHECK(memcmp(whole.p, head, hlen) == 0);
	spool_free(&sp);
	CHECK_EQ_INT(spool_mem_held(), 0);
	CHECK_EQ_INT(spool_files_open(), 0);
	free(head);
	free(all);
}

static void test_spool_front(void)
{
	check_front(10 * 1024, 1, 100, 60, 0, 0);        /* in memory, in the room */
	check_front(10 * 1024, 4096, 100, 300, 250, 0);  /* over content octets too */
	check_front(10 * 1024, 4096, 100, 100, 0, 0);    /* the whole room */
	check_front(0, 1, 64, 10, 0, 0);                 /* no content */
	check_front(3 * SPOOL_MEM_MAX, 65536, 4096, 900, 0, 1);      /* in the file */
	check_front(3 * SPOOL_MEM_MAX, 200000, 4096, 5000, 2000, 1); /* across pages */
	check_front(SPOOL_MEM_MAX + 1, 1000, 10, 10, 0, 1);
	/* Room only on an empty spool, and not past SPOOL_FRONT_MAX. */
	struct spool sp;
	spool_init_unhashed(&sp, 1024, NULL);
	CHECK_EQ_INT(spool_reserve_front(&sp, SPOOL_FRONT_MAX + 1), -1);
	CHECK_EQ_INT(spool_append(&sp, "abc", 3), 0);
	CHECK_EQ_INT(spool_reserve_front(&sp, 10), -1);
	spool_free(&sp);
	/* The room takes nothing from the content's ceiling. */
	spool_init_unhashed(&sp, 8, NULL);
	CHECK_EQ_INT(spool_reserve_front(&sp, 100), 0);
	CHECK_EQ_INT(spool_append(&sp, "12345678", 8), 0);
	CHECK_EQ_INT(spool_append(&sp, "9", 1), -1);
	spool_free(&sp);
}

static void test_spool_budget(void)
{
	struct spool a, b, c;
	int rc;

	/* The budget is 4 MiB (main): two 1.5 MiB messages from one address
	 * pass its quarter, so the second spills; a third from another
	 * address fits. */
	spool_init(&a, 8u << 20, "198.51.100.1");
	spool_init(&b, 8u << 20, "198.51.100.1");
	spool_init(&c, 8u << 20, "203.0.113.9");
	free(fill(&a, 900 * 1024, 65536, &rc));
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(spool_spilled(&a), 0);
	CHECK(spool_mem_held() >= 900 * 1024);
	free(fill(&b, 900 * 1024, 65536, &rc));
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(spool_spilled(&b), 1); /* the address's share is used up */
	free(fill(&c, 900 * 1024, 65536, &rc));
	CHECK_EQ_INT(spool_spilled(&c), 0);
	CHECK_EQ_INT(spool_files_open(), 1);
	spool_free(&a);
	spool_free(&b);
	spool_free(&c);
	spool_free(&c); /* twice is fine */

	/* Two addresses of one IPv6 /64 share a share. */
	spool_init(&a, 8u << 20, "2001:db8:1:2::1");
	spool_init(&b, 8u << 20, "2001:db8:1:2:ffff::9");
	free(fill(&a, 900 * 1024, 65536, &rc));
	free(fill(&b, 900 * 1024, 65536, &rc));
	CHECK_EQ_INT(spool_spilled(&a), 0);
	CHECK_EQ_INT(spool_spilled(&b), 1);
	spool_free(&a);
	spool_free(&b);
	CHECK_EQ_INT(spool_mem_held(), 0);
	CHECK_EQ_INT(spool_files_open(), 0);

	/* Over max: refused, nothing appended. */
	spool_init(&a, 10, NULL);
	CHECK_EQ_INT(spool_append(&a, "0123456789", 10), 0);
	CHECK_EQ_INT(spool_append(&a, "x", 1), -1);
	CHECK_EQ_INT(a.len, 10);
	spool_free(&a);

	/* An all-zero spool (never inited) frees without touching fd 0. */
	struct spool z;
	memset(&z, 0, sizeof(z));
	spool_free(&z);
	CHECK(fcntl(0, F_GETFD) != -1); /* stdin still open */
}

static void test_spool_sweep(void)
{
	char path[128];

	/* What a process killed between create and unlink would leave. */
	snprintf(path, sizeof(path), "%s/spool.abc123", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(count_files(), 1);
	CHECK_EQ_INT(spool_setup(dir, 4u << 20), 0);
	CHECK_EQ_INT(count_files(), 0);
}

static void test_buf_no_memory(void)
{
	struct buf b;

	/* Before: xmalloc aborted the process ("event=out_of_memory"). */
	buf_init(&b, (size_t)1 << 62);
	CHECK_EQ_INT(buf_append(&b, "abc", 3), 0);
	CHECK(buf_reserve(&b, (size_t)1 << 61, NULL) == NULL);
	CHECK_EQ_INT(buf_len(&b), 3); /* unchanged */
	CHECK_EQ_STR(buf_data(&b), "abc");
	CHECK_EQ_INT(buf_append(&b, "def", 3), 0); /* and still usable */
	CHECK_EQ_STR(buf_data(&b), "abcdef");
	buf_free(&b);
}

/* Memory held outside spools (a WebSocket message under way) counts in
 * the same budget and the same per-address quarter (1 MiB of 4 MiB). */
static void test_spool_hold(void)
{
	struct spool_hold h1, h2, other;
	struct spool sp;
	int rc;

	spool_hold_init(&h1, "198.51.100.7");
	spool_hold_init(&h2, "198.51.100.7");
	spool_hold_init(&other, "203.0.113.7");
	CHECK_EQ_INT(spool_hold_set(&h1, 600 * 1024), 0);
	CHECK_EQ_INT((int)(spool_mem_held() / 1024), 600);
	/* A second hold of the address passes its quarter: refused, counted
	 * until it is given back (the caller frees that memory). */
	CHECK_EQ_INT(spool_hold_set(&h2, 600 * 1024), -1);
	spool_hold_free(&h2);
	CHECK_EQ_INT(spool_hold_set(&other, 900 * 1024), 0);
	/* A message from the same address now spills early: the share is
	 * the spools' and the holds' together. */
	spool_init(&sp, 8u << 20, "198.51.100.7");
	free(fill(&sp, 500 * 1024, 65536, &rc));
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(spool_spilled(&sp), 1);
	spool_free(&sp);
	/* Shrinking is never refused; the whole budget is one too. */
	CHECK_EQ_INT(spool_hold_set(&h1, 100 * 1024), 0);
	CHECK_EQ_INT(spool_hold_set(&other, 1000 * 1024), 0);
	spool_hold_init(&h2, "192.0.2.1");
	CHECK_EQ_INT(spool_hold_set(&h2, 1000 * 1024), 0);
	struct spool_hold h3;
	spool_hold_init(&h3, "192.0.2.200");
	CHECK_EQ_INT(spool_hold_set(&h3, 1000 * 1024), 0);
	struct spool_hold h4;
	spool_hold_init(&h4, "192.0.2.201");
	CHECK_EQ_INT(spool_hold_set(&h4, 1000 * 1024), -1); /* 4.0 MiB + 100 KiB */
	spool_hold_free(&h1);
	spool_hold_free(&h2);
	spool_hold_free(&h3);
	spool_hold_free(&h4);
	spool_hold_free(&other);
	CHECK_EQ_INT(spool_mem_held(), 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tern-spool-test-%d", (int)getpid());
	CHECK_EQ_INT(spool_setup(dir, 4u << 20), 0);
	test_spool_content();
	test_spool_truncate();
	test_spool_front();
	test_spool_budget();
	test_spool_hold();
	test_spool_sweep();
	test_buf_no_memory();
	rmdir(dir);
	return unit_done("test_spool");
}
