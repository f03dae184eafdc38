/*
 * test_core.c — buffers, slices, arenas, the loop, configuration, logging,
 * metrics histograms, the loop's poll-before-sleep rule, thread exit
 * functions.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "core/varint.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/idle_spin.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/thread_exit.h"
#include "core/worker.h"
#include "dns/dns.h"
#include "unit.h"

static void test_buf(void)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK_EQ_INT(buf_append_c(&b, "hello"), 0);
	CHECK_EQ_INT(buf_append_c(&b, "world"), 0);
	CHECK_EQ_INT(buf_len(&b), 10);
	CHECK_EQ_INT(buf_append_c(&b, "!"), -1); /* ceiling holds */
	CHECK_EQ_STR(buf_data(&b), "helloworld");
	buf_consume(&b, 5);
	CHECK_EQ_STR(buf_data(&b), "world");
	CHECK_EQ_INT(buf_append_c(&b, "12345"), 0); /* consumed space reclaimed */
	CHECK_EQ_STR(buf_data(&b), "world12345");
	CHECK_EQ_INT(buf_printf(&b, "x"), -1);
	/* A wiped consume leaves zeros where the bytes were, the rest intact. */
	char *front = b.p + b.off;
	buf_consume_wipe(&b, 3);
	CHECK(front[0] == 0 && front[1] == 0 && front[2] == 0);
	CHECK_EQ_STR(buf_data(&b), "ld12345");
	buf_consume_wipe(&b, 100); /* more than there is: all of it */
	CHECK(front[3] == 0 && front[9] == 0);
	CHECK_EQ_INT(buf_len(&b), 0);
	buf_reset(&b);
	CHECK_EQ_INT(buf_printf(&b, "%d-%s", 42, "ab"), 0);
	CHECK_EQ_STR(buf_data(&b), "42-ab");
	CHECK_EQ_INT(buf_printf(&b, "%s", "toolong"), -1);
	CHECK_EQ_STR(buf_data(&b), "42-ab"); /* unchanged on failure */
	buf_free(&b);

	/* Growth across many appends and a large printf. */
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		CHECK(buf_append(&b, "abcdefgh", 8) == 0 || i >= 131072);
	CHECK_EQ_INT(buf_len(&b), 80000);
	char big[5000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(buf_printf(&b, "%s", big), 0);
	CHECK_EQ_INT(buf_len(&b), 80000 + 4999);
	size_t avail;
	char *p = buf_reserve(&b, 100, &avail);
	CHECK(p != NULL && avail >= 100);
	CHECK(buf_reserve(&b, 1 << 20, &avail) == NULL);
	buf_free(&b);

	/* XML text: entities for the five, control characters but tab dropped. */
	buf_init(&b, 64);
	CHECK_EQ_INT(buf_append_xml(&b, "a<b>&\"c'\td\x01" "e"), 0);
	CHECK_EQ_STR(buf_data(&b), "a&lt;b&gt;&amp;&quot;c&apos;\tde");
	buf_reset(&b);
	CHECK_EQ_INT(buf_append_xml(&b, "&&&&&&&&&&&&&&&&&"), -1); /* 85 octets: past the ceiling */
	buf_free(&b);

	/* Bare LFs made CRLF; CRLF and a bare CR kept as they are. */
	buf_init(&b, 64);
	static const char lf[] = "\na\r\nb\nc\rd\n\n";
	CHECK_EQ_INT(buf_append_crlf(&b, lf, sizeof(lf) - 1), 0);
	CHECK_EQ_STR(buf_data(&b), "\r\na\r\nb\r\nc\rd\r\n\r\n");
	buf_reset(&b);
	CHECK_EQ_INT(buf_append_crlf(&b, "no line end", 11), 0);
	CHECK_EQ_STR(buf_data(&b), "no line end");
	buf_free(&b);

	/* buf_crlf_text: CRLF text is left where it is, bare LFs get a copy. */
	const char *t = "a\r\nb\r\n";
	size_t tn = 6;
	buf_init(&b, 64);
	CHECK_EQ_INT(buf_crlf_text(&b, &t, &tn), 0);
	CHECK(t != buf_data(&b) && tn == 6 && buf_len(&b) == 0);
	t = "a\nb\r\n\n";
	tn = 7;
	CHECK_EQ_INT(buf_crlf_text(&b, &t, &tn), 0);
	CHECK(t == buf_data(&b) && tn == 9);
	CHECK_EQ_STR(t, "a\r\nb\r\n\r\n");
	buf_free(&b);
	buf_init(&b, 4); /* no room for the copy: -1, the text unchanged */
	const char *u = "a\nb\n";
	t = u;
	tn = 4;
	CHECK_EQ_INT(buf_crlf_text(&b, &t, &tn), -1);
	CHECK(t == u && tn == 4);
	buf_free(&b);
}

static void test_utf8_encode(void)
{
	static const struct { uint32_t cp; const char *want; } cases[] = {
		{ 0x41, "A" }, { 0xE9, "\xC3\xA9" }, { 0x20AC, "\xE2\x82\xAC" },
		{ 0x1F600, "\xF0\x9F\x98\x80" }, { 0x10FFFF, "\xF4\x8F\xBF\xBF" },
		/* not characters: U+FFFD */
		{ 0xD800, "\xEF\xBF\xBD" }, { 0x110000, "\xEF\xBF\xBD" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[5] = {0};
		size_t n = utf8_encode(cases[i].cp, out);
		CHECK_EQ_INT(n, strlen(cases[i].want));
		CHECK_EQ_STR(out, cases[i].want);
		CHECK(utf8_seq((const unsigned char *)out, n) == n);
	}
}

static void test_str(void)
{
	uint64_t v;
	CHECK(str_eq_ci(STR_LIT("MaIl"), STR_LIT("mail")));
	CHECK(!str_eq_ci(STR_LIT("mail"), STR_LIT("mails")));
	CHECK(str_has_prefix_ci(STR_LIT("FROM:<a>"), "from:"));
	CHECK_EQ_INT(str_to_u64(STR_LIT("18446744073709551615"), UINT64_MAX, &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ_INT(str_to_u64(STR_LIT("18446744073709551616"), UINT64_MAX, &v), -1);
	CHECK_EQ_INT(str_to_u64(STR_LIT("100"), 99, &v), -1);
	CHECK_EQ_INT(str_to_u64(STR_LIT("-1"), 99, &v), -1);
	CHECK_EQ_INT(str_to_u64(STR_LIT(""), 99, &v), -1);
	CHECK_EQ_SLICE(str_trim(STR_LIT("  a b \t")), "a b");
	CHECK_EQ_INT(str_chr(STR_LIT("a@b@c"), '@'), 1);
	CHECK_EQ_INT(str_rchr(STR_LIT("a@b@c"), '@'), 3);
	CHECK_EQ_SLICE(str_sub(STR_LIT("abcdef"), 4, 10), "ef");
	char low[8];
	CHECK_EQ_INT(str_lower_into(STR_LIT("AbC"), low, sizeof(low)), 0);
	CHECK_EQ_STR(low, "abc");
	CHECK_EQ_INT(str_lower_into(STR_LIT("12345678"), low, sizeof(low)), -1);
}

static void test_arena(void)
{
	struct arena *a = arena_new(256);
	char *s = arena_strdup(a, "hello");
	void *big = arena_alloc(a, 10000); /* larger than a block */
	memset(big, 1, 10000);
	for (int i = 0; i < 1000; i++) {
		char *p = arena_printf(a, "n=%d", i);
		CHECK(((uintptr_t)p & 15) == 0);
	}
	CHECK_EQ_STR(s, "hello");
	CHECK(arena_used(a) > 10000);
	arena_reset(a);
	CHECK_EQ_INT(arena_used(a), 0);
	CHECK_EQ_STR(str_dup(a, STR_LIT("xyz")), "xyz");
	arena_free(&a);
	CHECK(a == NULL);
	arena_free(&a); /* NULL is fine */
}

struct loop_test {
	struct loop *loop;
	int order[8], n;
	int fired_cancelled;
	int pipe_reads;
	int posts;
};

static void timer_cb(struct loop *l, void *arg)
{
	struct loop_test *t = arg;
	t->order[t->n++] = 1;
}

static void timer_cb2(struct loop *l, void *arg)
{
	struct loop_test *t = arg;
	t->order[t->n++] = 2;
}

static void cancelled_cb(struct loop *l, void *arg)
{
	((struct loop_test *)arg)->fired_cancelled = 1;
}

/* Stops the loop once every post has run: on a loaded machine the
 * posters may still be running at 200 ms, and what is checked is that
 * each post runs, not how fast threads get scheduled. */
static void stop_cb(struct loop *l, void *arg)
{
	struct loop_test *t = arg;
	if (__atomic_load_n(&t->posts, __ATOMIC_SEQ_CST) < 4000) {
		loop_timer_add(l, 10, stop_cb, t);
		return;
	}
	loop_stop(l);
}

static void pipe_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct loop_test *t = arg;
	char c;
	if (read(fd, &c, 1) == 1)
		t->pipe_reads++;
	loop_del_fd(l, fd); /* deleting itself inside the callback */
}

static void post_cb(void *arg)
{
	struct loop_test *t = arg;
	__atomic_add_fetch(&t->posts, 1, __ATOMIC_SEQ_CST);
}

static void *poster(void *arg)
{
	struct loop_test *t = arg;
	for (int i = 0; i < 1000; i++)
		loop_post(t->loop, post_cb, t);
	return NULL;
}

static void test_loop(void)
{
	struct loop_test t = { 0 };
	int fds[2];
	pthread_t th[4];

	t.loop = loop_new();
	CHECK(pipe(fds) == 0);
	CHECK_EQ_INT(loop_add_fd(t.loop, fds[0], LOOP_READ, pipe_cb, &t), 0);
	CHECK(write(fds[1], "x", 1) == 1);
	loop_timer_add(t.loop, 30, timer_cb2, &t);
	loop_timer_add(t.loop, 10, timer_cb, &t);
	uint64_t id = loop_timer_add(t.loop, 20, cancelled_cb, &t);
	loop_timer_del(t.loop, id);
	/* Read before the stop timer is added, so that the check below
	 * holds however long the threads take to start. */
	uint64_t t0 = loop_now_ms();
	loop_timer_add(t.loop, 200, stop_cb, &t);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, poster, &t);
	loop_run(t.loop);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(loop_now_ms() - t0 >= 190);
	CHECK_EQ_INT(t.n, 2);
	CHECK_EQ_INT(t.order[0], 1);
	CHECK_EQ_INT(t.order[1], 2);
	CHECK_EQ_INT(t.fired_cancelled, 0);
	CHECK_EQ_INT(t.pipe_reads, 1);
	/* Every post ran (stop_cb waits for them). */
	CHECK_EQ_INT(t.posts, 4000);
	close(fds[0]);
	close(fds[1]);
	loop_free(&t.loop);
}

static void test_idle_spin_rule(void)
{
	struct idle_spin s;

	CHECK_EQ_INT(idle_spin_window_for(1), 0);
	CHECK_EQ_INT(idle_spin_window_for(-1), 0); /* sysconf failed */
	CHECK_EQ_INT(idle_spin_window_for(2), IDLE_SPIN_WINDOW_US);

	idle_spin_init(&s, 50);
	CHECK_EQ_INT(idle_spin_armed(&s), 0); /* a new loop sleeps */
	idle_spin_slept(&s, 51, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 0); /* a long sleep: stay asleep */
	idle_spin_slept(&s, 50, 0);
	CHECK_EQ_INT(idle_spin_armed(&s), 0); /* a timer, not an event */
	idle_spin_slept(&s, 50, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 1); /* an event within the window */
	idle_spin_polled(&s, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 1); /* polling pays: go on */
	idle_spin_polled(&s, 0);
	CHECK_EQ_INT(idle_spin_armed(&s), 0); /* a wasted window: sleep next */
	idle_spin_slept(&s, 3, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 1);
	idle_spin_slept(&s, 1000000, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 0);

	idle_spin_init(&s, 0); /* one CPU: never */
	idle_spin_slept(&s, 0, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 0);
	idle_spin_polled(&s, 1);
	CHECK_EQ_INT(idle_spin_armed(&s), 0);
}

/* Ping-pong through two pipes: a thread writes a byte, the loop answers
 * it at once. Each round trip is short, so the loop polls between them
 * (when the machine has more than one CPU); no round may be lost. */
struct pingpong {
	struct loop *loop;
	int to_loop[2], from_loop[2];
	int rounds;
};

#define PINGPONG_ROUNDS 3000

static void pingpong_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct pingpong *p = arg;
	char c[64];
	(void)ev;
	ssize_t n = read(fd, c, sizeof c);
	for (ssize_t i = 0; i < n; i++)
		if (write(p->from_loop[1], "y", 1) == 1 && ++p->rounds == PINGPONG_ROUNDS)
			loop_stop(l);
}

static void *pingpong_peer(void *arg)
{
	struct pingpong *p = arg;
	char c;
	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		if (write(p->to_loop[1], "x", 1) != 1 || read(p->from_loop[0], &c, 1) != 1)
			break;
	}
	return NULL;
}

static void test_loop_pingpong(void)
{
	struct pingpong p = { 0 };
	pthread_t th;

	p.loop = loop_new();
	CHECK(pipe(p.to_loop) == 0 && pipe(p.from_loop) == 0);
	CHECK_EQ_INT(loop_add_fd(p.loop, p.to_loop[0], LOOP_READ, pingpong_cb, &p), 0);
	pthread_create(&th, NULL, pingpong_peer, &p);
	loop_run(p.loop);
	pthread_join(th, NULL);
	CHECK_EQ_INT(p.rounds, PINGPONG_ROUNDS);
	for (int i = 0; i < 2; i++) {
		close(p.to_loop[i]);
		close(p.from_loop[i]);
	}
	loop_free(&p.loop);
}

static void test_config(void)
{
	struct config cfg;
	char err[300];
	struct listen_addr a;
	uint64_t v;

	CHECK_EQ_INT(config_parse_listen("[::1]:25", &a), 0);
	CHECK_EQ_STR(a.host, "::1");
	CHECK_EQ_INT(a.port, 25);
	CHECK_EQ_INT(config_parse_listen("127.0.0.1:2525", &a), 0);
	CHECK_EQ_STR(a.host, "127.0.0.1");
	CHECK_EQ_INT(config_parse_listen(":587", &a), 0);
	CHECK_EQ_STR(a.host, "");
	CHECK_EQ_INT(config_parse_listen("", &a), 0);
	CHECK_EQ_INT(a.port, 0);
	CHECK_EQ_INT(config_parse_listen("::1:25", &a), -1);
	CHECK_EQ_INT(config_parse_listen("host:99999", &a), -1);
	CHECK_EQ_INT(config_parse_listen("25", &a), -1);
	CHECK_EQ_INT(config_parse_size("50M", &v), 0);
	CHECK(v == 50u * 1024 * 1024);
	CHECK_EQ_INT(config_parse_size("7k", &v), 0);
	CHECK(v == 7168);
	CHECK_EQ_INT(config_parse_size("M", &v), -1);
	CHECK_EQ_INT(config_parse_size("99999999999999999999G", &v), -1);

	setenv("TERN_HOSTNAME", "mx.example.test", 1);
	setenv("TERN_LISTEN_SMTP", "127.0.0.1:2525", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.listen[LISTEN_SMTP].port, 2525);
	CHECK_EQ_INT(cfg.listen[LISTEN_IMAP].port, 143);
	CHECK_EQ_INT(cfg.listen[LISTEN_IMAP].fallback_port, 2143);
	setenv("TERN_LOG_LEVEL", "loud", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_LOG_LEVEL") && strstr(err, "loud") && strstr(err, "expected"));
	unsetenv("TERN_LOG_LEVEL");
	setenv("TERN_TLS_CERT", "/x.pem", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_TLS_KEY") != NULL);
	unsetenv("TERN_TLS_CERT");
	/* The greeting delay is checked as every number is (it was once read
	 * where it was used, and a bad value silently meant none). */
	CHECK_EQ_INT(cfg.smtp_greet_delay_ms, 0);
	setenv("TERN_SMTP_GREET_DELAY", "2500", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.smtp_greet_delay_ms, 2500);
	setenv("TERN_SMTP_GREET_DELAY", "2s", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_SMTP_GREET_DELAY") && strstr(err, "0 to 60000"));
	setenv("TERN_SMTP_GREET_DELAY", "60001", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	unsetenv("TERN_SMTP_GREET_DELAY");
	/* The error sleep starts past half the error limit unless set. */
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.smtp_soft_errors, 5);
	setenv("TERN_SMTP_MAX_ERRORS", "30", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.smtp_soft_errors, 15);
	setenv("TERN_SMTP_SOFT_ERRORS", "0", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.smtp_soft_errors, 0);
	setenv("TERN_SMTP_SOFT_ERRORS", "1001", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_SMTP_SOFT_ERRORS") && strstr(err, "0 to 1000"));
	unsetenv("TERN_SMTP_SOFT_ERRORS");
	unsetenv("TERN_SMTP_MAX_ERRORS");

	/* Host and domain names as DNS and SMTP take them (RFC 1035 §2.3.4,
	 * RFC 1123 §2.1, RFC 5321 §4.1.2): an empty label, a label over 63
	 * octets or one that starts or ends with '-', or a final dot, were
	 * once taken and went into EHLO (TERN_HOSTNAME) or were dropped with
	 * a warning at start (TERN_DOMAIN: the store refused the domain). */
	{
		static const char *const bad_names[] = {
			"mail..example.com", "mail.example.com.", "mail-.example.com",
			"mail.-example.com", "a.b-", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		};
		static const char *const vars[] = { "TERN_HOSTNAME", "TERN_DOMAIN", "TERN_ACME_DNS_ZONE" };
		for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
			for (size_t j = 0; j < sizeof vars / sizeof vars[0]; j++) {
				char *old = getenv(vars[j]) ? strdup(getenv(vars[j])) : NULL;
				setenv(vars[j], bad_names[i], 1);
				CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
				CHECK(strstr(err, vars[j]) && strstr(err, bad_names[i]) &&
				      strstr(err, "expected"));
				if (old)
					setenv(vars[j], old, 1);
				else
					unsetenv(vars[j]);
				free(old);
			}
		setenv("TERN_DMARC_REPORT_FROM", "dmarc@example..com", 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
		CHECK(strstr(err, "TERN_DMARC_REPORT_FROM") != NULL);
		unsetenv("TERN_DMARC_REPORT_FROM");
		setenv("TERN_RELAY_HOST", "smtp..example.net", 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
		CHECK(strstr(err, "TERN_RELAY_HOST") != NULL);
		unsetenv("TERN_RELAY_HOST");
		/* What is right stays right: 63-octet labels, digits, xn--. */
		setenv("TERN_DOMAIN", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.xn--bcher-kva.example", 1);
		setenv("TERN_HOSTNAME", "mx-1.0-9.example.test", 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
		setenv("TERN_HOSTNAME", "localhost", 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
		unsetenv("TERN_DOMAIN");
		setenv("TERN_HOSTNAME", "mx.example.test", 1);
		CHECK_EQ_INT(hostname_syntax_ok("mx.example.test"), 1);
		CHECK_EQ_INT(hostname_syntax_ok("mx..example.test"), 0);
		CHECK_EQ_INT(hostname_syntax_ok(""), 0);
	}

	/* ACME: directory names, challenge, External Account Binding pairs. */
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_STR(cfg.acme_directory, CONFIG_ACME_LETSENCRYPT);
	CHECK_EQ_STR(cfg.acme_challenge, "tls-alpn-01");
	setenv("TERN_ACME_DIRECTORY", "letsencrypt-staging", 1);
	setenv("TERN_ACME_CHALLENGE", "http-01", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_STR(cfg.acme_directory, CONFIG_ACME_LETSENCRYPT_STAGING);
	CHECK_EQ_STR(cfg.acme_challenge, "http-01");
	setenv("TERN_ACME_DIRECTORY", "http://ca.example/dir", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_DIRECTORY") != NULL);
	unsetenv("TERN_ACME_DIRECTORY");
	setenv("TERN_ACME_CHALLENGE", "dns", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_CHALLENGE") != NULL);
	unsetenv("TERN_ACME_CHALLENGE");
	setenv("TERN_ACME_CHALLENGE", "dns-01", 1);
	setenv("TERN_ACME_EMAIL", "a@example.test", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_DNS_SERVER") != NULL);
	setenv("TERN_ACME_DNS_SERVER", "127.0.0.1:5353", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_TSIG_KEY") != NULL);
	setenv("TERN_ACME_TSIG_KEY", "k.:c2VjcmV0", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_STR(cfg.acme_dns_server, "127.0.0.1:5353");
	/* Each malformed ACME value stops start-up naming its variable. */
	setenv("TERN_ACME_TSIG_KEY", "no-colon-here", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_TSIG_KEY") != NULL);
	CHECK(strstr(err, "no-colon") == NULL); /* the secret is not echoed */
	setenv("TERN_ACME_TSIG_KEY", "k.:not*base64", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_TSIG_KEY") != NULL);
	setenv("TERN_ACME_TSIG_KEY", "k.:c2VjcmV0", 1);
	setenv("TERN_ACME_DNS_SERVER", "ns.example.com:53", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_DNS_SERVER") != NULL);
	setenv("TERN_ACME_DNS_SERVER", "127.0.0.1:99999", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_DNS_SERVER") != NULL);
	setenv("TERN_ACME_DNS_SERVER", "[::1]:5353", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	setenv("TERN_ACME_DNS_ZONE", "bad zone!", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_DNS_ZONE") != NULL);
	setenv("TERN_ACME_DNS_ZONE", "example.com", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	unsetenv("TERN_ACME_DNS_ZONE");
	unsetenv("TERN_ACME_CHALLENGE");
	unsetenv("TERN_ACME_EMAIL");
	unsetenv("TERN_ACME_DNS_SERVER");
	unsetenv("TERN_ACME_TSIG_KEY");
	setenv("TERN_ACME_EAB_KID", "kid-1", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_EAB_HMAC_KEY") != NULL);
	setenv("TERN_ACME_EAB_HMAC_KEY", "not base64!", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "TERN_ACME_EAB_HMAC_KEY") != NULL);
	setenv("TERN_ACME_EAB_HMAC_KEY", "c2VjcmV0", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	unsetenv("TERN_ACME_EAB_HMAC_KEY");
	unsetenv("TERN_ACME_EAB_KID");

	/* The outbound queue's settings. */
	unsigned secs = 0;
	CHECK_EQ_INT(config_parse_duration("5d", &secs), 0);
	CHECK_EQ_INT(secs, 432000);
	CHECK_EQ_INT(config_parse_duration("90s", &secs), 0);
	CHECK_EQ_INT(secs, 90);
	CHECK_EQ_INT(config_parse_duration("2h", &secs), 0);
	CHECK_EQ_INT(secs, 7200);
	CHECK_EQ_INT(config_parse_duration("h", &secs), -1);
	CHECK_EQ_INT(config_parse_duration("99999999999d", &secs), -1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.queue_lifetime_s, 432000);
	CHECK_EQ_INT(cfg.queue_delay_notice_s, 14400);
	CHECK_EQ_INT(cfg.queue_mx_port, 25);
	CHECK_EQ_INT(cfg.queue_nretry, 0);
	CHECK_EQ_INT(cfg.queue_ip_strategy, DNS_IP_V4_THEN_V6);
	static const char *const strategies[] = {"ipv4_then_ipv6", "ipv6_then_ipv4", "ipv4_only",
						 "ipv6_only"};
	for (int i = 3; i >= 0; i--) {
		setenv("TERN_QUEUE_IP_STRATEGY", strategies[i], 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
		CHECK_EQ_INT(cfg.queue_ip_strategy, i);
		CHECK_EQ_STR(dns_ip_strategy_name((enum dns_ip_strategy)i), strategies[i]);
	}
	unsetenv("TERN_QUEUE_IP_STRATEGY");
	setenv("TERN_QUEUE_RETRY_SCHEDULE", "1,2m,3", 1);
	setenv("TERN_DNS_SERVERS", "127.0.0.1:5353,[::1]:53,10.0.0.1", 1);
	setenv("TERN_RELAY_HOST", "smtp.example.net:587", 1);
	CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(cfg.queue_nretry, 3);
	CHECK_EQ_INT(cfg.queue_retry_s[1], 120);
	static const char *const bad_env[][2] = {
	    {"TERN_QUEUE_RETRY_SCHEDULE", "1,,2"}, {"TERN_QUEUE_LIFETIME", "soon"},
	    {"TERN_DNS_SERVERS", "resolver.example"}, {"TERN_DNS_SERVERS", "1.2.3.4:0"},
	    {"TERN_RELAY_HOST", "smtp.example.net:x"}, {"TERN_QUEUE_MX_PORT", "0"}, {"TERN_MTA_STS_PORT", "70000"},
	    {"TERN_DNS_TRUST_AD", "yes"}, {"TERN_MTA_STS_MODE", "on"},
	    {"TERN_QUEUE_IP_STRATEGY", "ipv4"}, {"TERN_QUEUE_IP_STRATEGY", "IPV4_ONLY"},
	    {"TERN_QUEUE_IP_STRATEGY", ""},
	};
	for (size_t i = 0; i < sizeof bad_env / sizeof bad_env[0]; i++) {
		const char *old = getenv(bad_env[i][0]);
		char keep[128];
		snprintf(keep, sizeof keep, "%s", old ? old : "");
		setenv(bad_env[i][0], bad_env[i][1], 1);
		CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
		CHECK(strstr(err, bad_env[i][0]) != NULL);
		if (old)
			setenv(bad_env[i][0], keep, 1);
		else
			unsetenv(bad_env[i][0]);
	}
	unsetenv("TERN_QUEUE_RETRY_SCHEDULE");
	unsetenv("TERN_DNS_SERVERS");
	unsetenv("TERN_RELAY_HOST");
}

static void test_log(void)
{
	char path[] = "/tmp/tern-log-XXXXXX";
	int fd = mkstemp(path);
	char q[64];
	static char got[8192];

	CHECK(fd >= 0);
	log_init(fd, LOG_INFO, 0);
	log_debug("t", NULL, "event=hidden");
	log_info("t", "s1", "event=shown who=%s", log_q("two words", q, sizeof(q)));
	/* A value a caller forgot to quote cannot start a record of its own. */
	log_warn("t", NULL, "event=raw org=%s ip=1.2.3.4",
		 "x\nlevel=warn module=http event=auth_failed ip=6.6.6.8\r");
	{
		/* Escaped, they outgrow the record: cut, never split. */
		static char lfs[1500];
		memset(lfs, '\n', sizeof(lfs) - 1);
		log_warn("t", NULL, "event=many v=%s", lfs);
	}
	/* A bidi override or a C1 control from a peer is shown, not obeyed:
	 * after U+202E the rest of a line reads backwards. Other UTF-8 stays. */
	log_warn("t", NULL, "event=bidi rcpt=%s ok=%s status=sent",
		 "a\xe2\x80\xaex\xe2\x81\xa6y\xc2\x9bz\xd8\x9c\xe2\x80\x8f", "\xc3\xa9\xe2\x80\x94");
	log_init(fd, LOG_INFO, 1);
	log_warn("t", "s2", "event=json who=%s n=3", log_q("a \"b\"", q, sizeof(q)));
	log_warn("t", NULL, "event=jbidi v=%s", "\xe2\x80\xae!");
	/* A peer's user name need not be UTF-8; a JSON line must be. */
	log_warn("t", NULL, "event=bytes user=%s ok=%s ip=1.2.3.4",
		 log_quoted("a\xff\xc3(b", q, sizeof(q)), "\xc3\xa9");
	/* A quoted value longer than the encoder's buffer: its tail must be
	 * dropped, never read as pairs of its own (ip= stays the last key). */
	{
		static char longq[5000], lv[3000];
		memset(lv, 'x', sizeof(lv) - 1);
		memcpy(lv + 2500, " ip=6.6.6.7 ", 12);
		log_warn("t", NULL, "event=long user=%s ip=1.2.3.4",
			 log_quoted(lv, longq, sizeof(longq)));
	}
	log_init(2, LOG_WARN, 0);
	lseek(fd, 0, SEEK_SET);
	static char got_all[16384];
	ssize_t n = read(fd, got_all, sizeof(got_all) - 1);
	got_all[n > 0 ? n : 0] = '\0';
	CHECK(strstr(got_all, "\"ip\":\"6.6.6.7\"") == NULL);
	CHECK(strstr(got_all, "\"user\":\"a\\ufffd\\ufffd(b\",\"ok\":\"\xc3\xa9\",\"ip\":\"1.2.3.4\"}") != NULL);
	{
		int records = 0;
		for (ssize_t i = 0; i < n; i++)
			records += got_all[i] == '\n';
		CHECK_EQ_INT(records, 8); /* shown, raw, many, bidi, json, jbidi, bytes, long */
	}
	CHECK(strstr(got_all, "\",\"ip\":\"1.2.3.4\"}") != NULL);
	CHECK(strstr(got_all, " event=bidi rcpt=a\\u202ex\\u2066y\\u009bz\\u061c\\u200f "
			      "ok=\xc3\xa9\xe2\x80\x94 status=sent\n") != NULL);
	CHECK(strstr(got_all, "\"event\":\"jbidi\",\"v\":\"\\\\u202e!\"}") != NULL);
	CHECK(memmem(got_all, (size_t)(n > 0 ? n : 0), "\xe2\x80\xae", 3) == NULL);
	CHECK_EQ_STR(log_quoted("plain", q, sizeof(q)), "\"plain\"");
	CHECK_EQ_STR(log_quoted(NULL, q, sizeof(q)), "\"\"");
	CHECK_EQ_STR(log_quoted("a\"b=c", q, sizeof(q)), "\"a\\\"b=c\"");
	n = n > (ssize_t)sizeof(got) - 1 ? (ssize_t)sizeof(got) - 1 : n;
	memcpy(got, got_all, n > 0 ? (size_t)n : 0);
	got[n > 0 ? n : 0] = '\0';
	CHECK(strstr(got, "hidden") == NULL);
	CHECK(strstr(got, "\nlevel=warn module=http") == NULL);
	CHECK(strstr(got, "event=raw org=x\\x0alevel=warn module=http event=auth_failed "
			  "ip=6.6.6.8\\x0d ip=1.2.3.4\n") != NULL);
	CHECK(strstr(got, "level=info module=t session=s1 event=shown who=\"two words\"") != NULL);
	CHECK(strstr(got, "\"session\":\"s2\",\"event\":\"json\",\"who\":\"a \\\"b\\\"\",\"n\":\"3\"}") != NULL);
	CHECK_EQ_STR(log_q("plain", q, sizeof(q)), "plain");
	CHECK_EQ_STR(log_q("new\nline", q, sizeof(q)), "\"new\\x0aline\"");
	close(fd);
	unlink(path);
}

struct job_test {
	struct worker_job job;
	struct loop *loop;
	int value, done_on_loop;
	pthread_t loop_thread;
};

static int jobs_done;

static void job_fn(void *arg)
{
	struct job_test *t = arg;
	t->value *= 2;
}

static void job_done(void *arg)
{
	struct job_test *t = arg;
	t->done_on_loop = pthread_equal(pthread_self(), t->loop_thread);
	if (++jobs_done == 50)
		loop_stop(t->loop);
}

static void test_worker(void)
{
	struct job_test t[50];
	struct loop *l = loop_new();

	worker_pool_start(3);
	for (int i = 0; i < 50; i++) {
		t[i] = (struct job_test){ .loop = l, .value = i, .loop_thread = pthread_self() };
		t[i].job = (struct worker_job){ .fn = job_fn, .done = job_done, .arg = &t[i], .loop = l };
		worker_submit(&t[i].job);
	}
	loop_run(l);
	worker_pool_stop();
	for (int i = 0; i < 50; i++) {
		CHECK_EQ_INT(t[i].value, 2 * i);
		CHECK(t[i].done_on_loop);
	}
	loop_free(&l);
}

struct observer {
	pthread_t t;
	uint64_t us;
};

static void *observe_many(void *arg)
{
	struct observer *o = arg;
	for (int i = 0; i < 10000; i++)
		metrics_observe_us(HIST_STORE_COMMIT, o->us);
	return NULL;
}

/* Bucket edges (a bound is inclusive, as Prometheus' le), cumulative
 * counts, the +Inf bucket, the sum, and no lost updates across threads. */
static void test_metrics_hist(void)
{
	struct metric_hist_snapshot s;

	metrics_hist_get(HIST_STORE_WAIT, &s);
	CHECK_EQ_INT(s.count, 0);
	for (size_t i = 1; i < METRIC_HIST_BUCKETS; i++)
		CHECK(metric_hist_bounds_us[i] > metric_hist_bounds_us[i - 1]);

	metrics_observe_us(HIST_STORE_WAIT, 0);
	metrics_observe_us(HIST_STORE_WAIT, 250);  /* on the first bound */
	metrics_observe_us(HIST_STORE_WAIT, 251);  /* just above it */
	metrics_observe_us(HIST_STORE_WAIT, 5000000);
	metrics_observe_us(HIST_STORE_WAIT, 5000001); /* above every bound */
	metrics_hist_get(HIST_STORE_WAIT, &s);
	CHECK_EQ_INT(s.le[0], 2);
	CHECK_EQ_INT(s.le[1], 3);
	CHECK_EQ_INT(s.le[METRIC_HIST_BUCKETS - 2], 3);
	CHECK_EQ_INT(s.le[METRIC_HIST_BUCKETS - 1], 4);
	CHECK_EQ_INT(s.count, 5);
	CHECK_EQ_INT(s.sum_us, 0 + 250 + 251 + 5000000 + 5000001);
	for (size_t i = 1; i < METRIC_HIST_BUCKETS; i++)
		CHECK(s.le[i] >= s.le[i - 1]);

	/* The other histogram is untouched; an unknown one reads as empty. */
	metrics_hist_get(HIST_STORE_COMMIT, &s);
	CHECK_EQ_INT(s.count, 0);
	metrics_observe_us(HIST_COUNT, 1);
	metrics_hist_get(HIST_COUNT, &s);
	CHECK_EQ_INT(s.count, 0);

	struct observer o[4];
	for (int i = 0; i < 4; i++) {
		o[i].us = (uint64_t)i * 700;
		pthread_create(&o[i].t, NULL, observe_many, &o[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(o[i].t, NULL);
	metrics_hist_get(HIST_STORE_COMMIT, &s);
	CHECK_EQ_INT(s.count, 40000);
	CHECK_EQ_INT(s.sum_us, 10000ull * (0 + 700 + 1400 + 2100));
	CHECK_EQ_INT(s.le[0], 10000);                    /* 0 */
	CHECK_EQ_INT(s.le[2], 20000);                    /* 700 <= 1000 */
	CHECK_EQ_INT(s.le[3], 30000);                    /* 1400 <= 2000 */
	CHECK_EQ_INT(s.le[4], 40000);                    /* 2100 <= 5000 */
}

/* Each exit function appends its letter; the order shows they run last
 * registered first, on the thread that ends, after its start routine. */
static _Thread_local char exit_trace[THREAD_EXIT_MAX + 2];
static char exit_seen[THREAD_EXIT_MAX + 2];

static void exit_mark(char c)
{
	size_t n = strlen(exit_trace);
	exit_trace[n] = c;
	memcpy(exit_seen, exit_trace, sizeof exit_seen); /* the thread's TLS is gone after join */
}
static void exit_a(void) { exit_mark('a'); }
static void exit_b(void) { exit_mark('b'); }

static void *exit_thread(void *arg)
{
	int *rc = arg;
	rc[0] = thread_at_exit(exit_a);
	rc[1] = thread_at_exit(exit_b);
	for (int i = 2; i < THREAD_EXIT_MAX; i++)
		rc[i] = thread_at_exit(exit_a);
	rc[THREAD_EXIT_MAX] = thread_at_exit(exit_b); /* one too many */
	CHECK_EQ_STR(exit_trace, ""); /* nothing ran yet */
	return NULL;
}

static void test_thread_exit(void)
{
	int rc[THREAD_EXIT_MAX + 1];
	pthread_t t;

	CHECK_EQ_INT(pthread_create(&t, NULL, exit_thread, rc), 0);
	CHECK_EQ_INT(pthread_join(t, NULL), 0);
	for (int i = 0; i < THREAD_EXIT_MAX; i++)
		CHECK_EQ_INT(rc[i], 0);
	CHECK_EQ_INT(rc[THREAD_EXIT_MAX], -1);
	/* 8 registered: a, b, then six a; run in reverse. */
	CHECK_EQ_STR(exit_seen, "aaaaaaba");
	/* Another thread starts with an empty list of its own. */
	memset(exit_seen, 0, sizeof exit_seen);
	CHECK_EQ_INT(pthread_create(&t, NULL, exit_thread, rc), 0);
	CHECK_EQ_INT(pthread_join(t, NULL), 0);
	CHECK_EQ_STR(exit_seen, "aaaaaaba");
}

/* LEB128 varints: round trips at the edges, cut short, over 64 bits. */
static void test_varint(void)
{
	static const uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, 1u << 20, UINT32_MAX,
	                                (uint64_t)1 << 63, UINT64_MAX};
	unsigned char b[VARINT_MAX + 1];
	uint64_t v;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		size_t n = varint_put(b, vals[i]);
		CHECK(n >= 1 && n <= VARINT_MAX);
		CHECK_EQ_INT((int)varint_get(b, n, &v), (int)n);
		CHECK(v == vals[i]);
		CHECK_EQ_INT((int)varint_get(b, n - 1, &v), 0); /* cut short */
	}
	CHECK_EQ_INT((int)varint_put(b, 127), 1);
	CHECK_EQ_INT((int)varint_put(b, UINT64_MAX), VARINT_MAX);
	memset(b, 0xff, sizeof b); /* eleven octets all continuing */
	CHECK_EQ_INT((int)varint_get(b, sizeof b, &v), 0);
	memset(b, 0x80, VARINT_MAX - 1);
	b[VARINT_MAX - 1] = 0x02; /* bit 64 */
	CHECK_EQ_INT((int)varint_get(b, VARINT_MAX, &v), 0);
}

int main(void)
{
	test_varint();
	test_metrics_hist();
	test_worker();
	test_buf();
	test_utf8_encode();
	test_str();
	test_arena();
	test_loop();
	test_idle_spin_rule();
	test_loop_pingpong();
	test_config();
	test_log();
	test_thread_exit();
	return unit_done("test_core");
}
