/*
 * fuzz_config.c — the configuration's value parsers and config_load()
 * itself (operator input, but a typo must give one clear error, never a
 * crash). The input, cut at NUL octets, is a list of settings: the first
 * octet of each picks a TERN_* variable, the rest is its value. Each value
 * also goes through config_parse_duration() and config_parse_size(),
 * checked against a model (digits, one suffix, the product in range), and
 * config_parse_listen(), whose result, written back as "host:port" or
 * "[host]:port", parses to the same address. config_load() then runs on
 * that environment: an error is one "config: ..." line; a success keeps
 * every documented range (sizes, timeouts, retry schedule, a valid
 * TERN_METRICS_ALLOW, relay user only with a relay host).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/config.h"

extern char **environ;

static const char *const vars[] = {
	"TERN_ACME_DIRECTORY", "TERN_ACME_EMAIL", "TERN_ADMIN_PASSWORD", "TERN_DATA_DIR",
	"TERN_DNS_SERVERS", "TERN_DOMAIN", "TERN_HOSTNAME", "TERN_LISTEN_HTTP", "TERN_LISTEN_HTTPS",
	"TERN_LISTEN_IMAP", "TERN_LISTEN_IMAPS", "TERN_LISTEN_POP3", "TERN_LISTEN_POP3S",
	"TERN_LISTEN_SIEVE", "TERN_LISTEN_SMTP", "TERN_LISTEN_SUBMISSION", "TERN_LISTEN_SUBMISSIONS",
	"TERN_LOG_FORMAT", "TERN_LOG_LEVEL", "TERN_MAX_MESSAGE_SIZE", "TERN_METRICS_ALLOW",
	"TERN_POP3_TIMEOUT", "TERN_QUEUE_DELAY_NOTICE", "TERN_QUEUE_LIFETIME", "TERN_QUEUE_MX_PORT",
	"TERN_QUEUE_RETRY_SCHEDULE", "TERN_QUEUE_TIMEOUT", "TERN_RELAY_HOST", "TERN_RELAY_PASSWORD",
	"TERN_RELAY_USER", "TERN_SEND_RATE", "TERN_SMTP_MAX_CONNECTIONS",
	"TERN_SMTP_MAX_CONNECTIONS_PER_IP", "TERN_SMTP_MAX_ERRORS", "TERN_SMTP_MAX_RECIPIENTS",
	"TERN_SMTP_MAX_SESSION_TIME", "TERN_SMTP_TIMEOUT", "TERN_THREADS", "TERN_TLS_CERT",
	"TERN_TLS_KEY", "TERN_SUBMISSION_MAX_CONNECTIONS", "TERN_SUBMISSION_MAX_CONNECTIONS_PER_IP",
	"TERN_IMAP_MAX_CONNECTIONS", "TERN_IMAP_MAX_CONNECTIONS_PER_IP", "TERN_POP3_MAX_CONNECTIONS",
	"TERN_POP3_MAX_CONNECTIONS_PER_IP", "TERN_HTTP_MAX_CONNECTIONS",
	"TERN_HTTP_MAX_CONNECTIONS_PER_IP", "TERN_LOGIN_TIMEOUT", "TERN_SMTP_STRESS_TIMEOUT",
	"TERN_HTTP_HEADER_TIMEOUT", "TERN_HTTP_SEND_TIMEOUT", "TERN_SASL_SCRAM",
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

/* putenv() keeps these (no copy), so nothing grows with the runs. */
static char envbuf[NVARS][8192 + 64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (char **e = environ; *e;) {
		if (strncmp(*e, "TERN_", 5) == 0) {
			char name[256];
			size_t n = strcspn(*e, "=");
			snprintf(name, sizeof(name), "%.*s", (int)n, *e);
			unsetenv(name);
			e = environ;
		} else {
			e++;
		}
	}
	return 0;
}

/* Digits then one suffix from sfx (multipliers mul); -1 when not that shape. */
static int model(const char *s, const char *sfx, const uint64_t *mul, uint64_t max,
		 uint64_t *v_r)
{
	size_t n = strlen(s);
	uint64_t m = 1;
	unsigned __int128 v = 0;
	const char *k;

	if (n && (k = strchr(sfx, s[n - 1])) != NULL) {
		m = mul[k - sfx];
		n--;
	}
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > (unsigned __int128)UINT64_MAX)
			return -1;
	}
	if (v * m > max)
		return -1;
	*v_r = (uint64_t)(v * m);
	return 0;
}

static void check_values(const char *s)
{
	static const uint64_t dmul[] = { 1, 60, 3600, 86400 };
	static const uint64_t smul[] = { 1024, 1024, 1048576, 1048576, 1073741824, 1073741824 };
	uint64_t want, size;
	unsigned secs;
	struct listen_addr a, b;
	char back[128];

	int rc = config_parse_duration(s, &secs), mrc = model(s, "smhd", dmul, UINT32_MAX, &want);
	assert(rc == mrc && (rc < 0 || secs == want));
	rc = config_parse_size(s, &size);
	mrc = model(s, "kKmMgG", smul, UINT64_MAX, &want);
	assert(rc == mrc && (rc < 0 || size == want));

	if (config_parse_listen(s, &a) < 0)
		return;
	assert(memchr(a.host, '\0', sizeof(a.host)));
	if (*s == '\0') {
		assert(a.port == 0 && a.host[0] == '\0');
		return;
	}
	assert(a.port >= 1);
	if (strchr(a.host, ':') || a.host[0] == '[')
		snprintf(back, sizeof(back), "[%s]:%u", a.host, a.port);
	else
		snprintf(back, sizeof(back), "%s:%u", a.host, a.port);
	assert(config_parse_listen(back, &b) == 0);
	assert(b.port == a.port && strcmp(a.host, b.host) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *p, *end, err[256];
	static struct config cfg;
	int set[NVARS] = { 0 };

	memcpy(in, data, size);
	in[size] = '\0';
	for (p = in, end = in + size; p < end; p += strlen(p) + 1) {
		if (!*p)
			continue;
		size_t v = (unsigned char)*p % NVARS;
		check_values(p + 1);
		snprintf(envbuf[v], sizeof(envbuf[v]), "%s=%s", vars[v], p + 1);
		putenv(envbuf[v]);
		set[v] = 1;
	}

	memset(err, 'x', sizeof(err));
	if (config_load(&cfg, err, sizeof(err)) < 0) {
		assert(memchr(err, '\0', sizeof(err)) && strncmp(err, "config: ", 8) == 0);
	} else {
		assert(cfg.data_dir[0] && cfg.hostname[0]);
		assert(!cfg.tls_cert[0] == !cfg.tls_key[0]);
		assert(cfg.max_message_size >= 1024 && cfg.max_message_size <= (1ull << 31));
		for (int k = 0; k < POOL_COUNT; k++)
			assert(cfg.pools[k].max >= 1 && cfg.pools[k].max <= 100000 &&
			       cfg.pools[k].per_ip >= 1 && cfg.pools[k].per_ip <= 100000);
		assert(cfg.login_timeout_s >= 1 && cfg.login_timeout_s <= 3600);
		assert(cfg.smtp_stress_timeout_s >= 1 && cfg.smtp_stress_timeout_s <= 300);
		assert(cfg.http_header_timeout_s >= 1 && cfg.http_header_timeout_s <= 300);
		assert(cfg.http_send_timeout_s >= 1 && cfg.http_send_timeout_s <= 300);
		assert(cfg.smtp_timeout_s >= 1 && cfg.smtp_timeout_s <= 86400);
		assert(cfg.loops <= 256 && cfg.send_rate <= 100000);
		assert(cfg.queue_lifetime_s >= 1 && cfg.queue_delay_notice_s >= 1);
		assert(cfg.queue_timeout_s >= 1 && cfg.queue_timeout_s <= 3600);
		assert(cfg.queue_mx_port >= 1 && cfg.queue_nretry <= 16);
		for (unsigned i = 0; i < cfg.queue_nretry; i++)
			assert(cfg.queue_retry_s[i] >= 1);
		assert(cidr_list_valid(cfg.metrics_allow));
		assert(!cfg.relay_user[0] || cfg.relay_host[0]);
		for (int k = 0; k < LISTEN_COUNT; k++)
			assert(memchr(cfg.listen[k].host, '\0', sizeof(cfg.listen[k].host)));
	}
	for (size_t v = 0; v < NVARS; v++)
		if (set[v])
			unsetenv(vars[v]);
	free(in);
	return 0;
}
