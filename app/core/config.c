/*
 * config.c — TERN_* environment variables into struct config. See config.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "acme/acme_dnsupd.h"
#include "acme/acme_jws.h"
#include "cidr.h"
#include "core/base64.h"
#include "dns/dns.h"
#include "gen/config_vars.h"
#include "hostname.h"
#include "str.h"
#include "store/store.h"

extern char **environ;

static const struct {
	const char *var;
	uint16_t port, fallback;
} listen_defaults[LISTEN_COUNT] = {
	[LISTEN_SMTP] = { "TERN_LISTEN_SMTP", 25, 2525 },
	[LISTEN_SUBMISSION] = { "TERN_LISTEN_SUBMISSION", 587, 2587 },
	[LISTEN_SUBMISSIONS] = { "TERN_LISTEN_SUBMISSIONS", 465, 2465 },
	[LISTEN_IMAP] = { "TERN_LISTEN_IMAP", 143, 2143 },
	[LISTEN_IMAPS] = { "TERN_LISTEN_IMAPS", 993, 2993 },
	[LISTEN_POP3] = { "TERN_LISTEN_POP3", 110, 2110 },
	[LISTEN_POP3S] = { "TERN_LISTEN_POP3S", 995, 2995 },
	[LISTEN_SIEVE] = { "TERN_LISTEN_SIEVE", 4190, 4190 },
	[LISTEN_HTTP] = { "TERN_LISTEN_HTTP", 80, 8080 },
	[LISTEN_HTTPS] = { "TERN_LISTEN_HTTPS", 443, 8443 },
};

static const struct {
	const char *name, *max_var, *per_ip_var;
	struct pool_limits def;
} pool_defaults[POOL_COUNT] = {
	/* Port 25: Postfix's smtpd_client_connection_count_limit per client. */
	[POOL_SMTP] = { "smtp", "TERN_SMTP_MAX_CONNECTIONS", "TERN_SMTP_MAX_CONNECTIONS_PER_IP",
			{ 1000, 50 } },
	[POOL_SUBMISSION] = { "submission", "TERN_SUBMISSION_MAX_CONNECTIONS",
			      "TERN_SUBMISSION_MAX_CONNECTIONS_PER_IP", { 500, 50 } },
	[POOL_IMAP] = { "imap", "TERN_IMAP_MAX_CONNECTIONS", "TERN_IMAP_MAX_CONNECTIONS_PER_IP",
			{ 1000, 50 } },
	[POOL_POP3] = { "pop3", "TERN_POP3_MAX_CONNECTIONS", "TERN_POP3_MAX_CONNECTIONS_PER_IP",
			{ 500, 50 } },
	/* A browser opens at most six per host; scripts a few more. */
	[POOL_HTTP] = { "http", "TERN_HTTP_MAX_CONNECTIONS", "TERN_HTTP_MAX_CONNECTIONS_PER_IP",
			{ 500, 50 } },
	/* ManageSieve: a mail client opens one now and then. */
	[POOL_SIEVE] = { "sieve", "TERN_SIEVE_MAX_CONNECTIONS", "TERN_SIEVE_MAX_CONNECTIONS_PER_IP",
			 { 200, 20 } },
};

const char *config_pool_name(enum conn_pool p)
{
	return pool_defaults[p].name;
}

const char *config_listen_var(enum listen_kind k)
{
	return listen_defaults[k].var;
}

static int bad(char *err, size_t errsz, const char *var, const char *val, const char *expected)
{
	snprintf(err, errsz, "config: %s=\"%s\" is invalid: expected %s", var, val, expected);
	return -1;
}

/*
 * TERN_DOMAIN in the form the store keeps it, in place: the rule of
 * `tern domain add` (store_domain_canonical), so an IDN is taken as a
 * U-label (stored and advertised as given, NFC, ASCII lowercased) or as
 * an A-label alike, where an ASCII-only check refused bücher.example at
 * start-up that the command line accepted. 0, or -1 when not a domain.
 */
static int config_domain(char *domain, size_t size)
{
	char canon[512];

	if (size > sizeof canon || store_domain_canonical(domain, canon, size) != 0)
		return -1;
	memcpy(domain, canon, strlen(canon) + 1);
	return 0;
}

int config_parse_listen(const char *s, struct listen_addr *a)
{
	const char *colon;
	size_t hostlen;
	uint64_t port;

	memset(a->host, 0, sizeof(a->host));
	a->port = 0;
	if (*s == '\0')
		return 0; /* disabled */
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -1;
		hostlen = (size_t)(end - s - 1);
		if (hostlen == 0 || hostlen >= sizeof(a->host))
			return -1;
		memcpy(a->host, s + 1, hostlen);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hostlen = (size_t)(colon - s);
		if (hostlen >= sizeof(a->host) || memchr(s, ':', hostlen))
			return -1; /* bare IPv6 needs brackets */
		memcpy(a->host, s, hostlen);
	}
	if (str_to_u64(str_c(colon + 1), 65535, &port) < 0 || port == 0)
		return -1;
	a->port = (uint16_t)port;
	return 0;
}

int config_parse_duration(const char *s, unsigned *secs_r)
{
	size_t n = strlen(s);
	uint64_t mult = 1, v;

	if (n == 0)
		return -1;
	switch (s[n - 1]) {
	case 's': n--; break;
	case 'm': mult = 60; n--; break;
	case 'h': mult = 3600; n--; break;
	case 'd': mult = 86400; n--; break;
	default: break;
	}
	if (str_to_u64(str_make(s, n), UINT32_MAX / mult, &v) < 0)
		return -1;
	*secs_r = (unsigned)(v * mult);
	return 0;
}

int config_backup_dir_valid(const char *dir)
{
	return dir[0] == '\0' || (dir[0] == '/' && strlen(dir) < sizeof ((struct config *)0)->backup_dir &&
				   !strpbrk(dir, "\r\n\""));
}

int config_backup_time_parse(const char *v, unsigned *minute_r)
{
	/* HH:MM, both two digits. */
	int digits = strlen(v) == 5 && v[2] == ':';
	for (int i = 0; digits && i < 5; i++)
		digits = i == 2 || (v[i] >= '0' && v[i] <= '9');
	unsigned h = digits ? (unsigned)(v[0] - '0') * 10 + (unsigned)(v[1] - '0') : 99;
	unsigned m = digits ? (unsigned)(v[3] - '0') * 10 + (unsigned)(v[4] - '0') : 99;
	if (h > 23 || m > 59)
		return -1;
	*minute_r = h * 60 + m;
	return 0;
}

int config_relay_host_valid(const char *rh)
{
	struct listen_addr a;
	int has_port = rh[0] == '[' ? strstr(rh, "]:") != NULL : strchr(rh, ':') != NULL;
	if (has_port)
		return config_parse_listen(rh, &a) == 0 && a.host[0] != '\0';
	/* Without a port: a name, or an IPv6 literal in brackets. */
	if (rh[0] == '[') {
		size_t n = strlen(rh);
		return n > 2 && rh[n - 1] == ']' && !memchr(rh + 1, ']', n - 2);
	}
	return hostname_syntax_ok(rh);
}

int config_clamd_parse(const char *v, struct listen_addr *a)
{
	if (v[0] == '/') {
		/* sockaddr_un's sun_path: 108 bytes with the NUL */
		return strlen(v) < 108 ? 1 : -1;
	}
	if (config_parse_listen(v, a) < 0 || !a->host[0])
		return -1;
	if (strchr(a->host, ':') || inet_pton(AF_INET, a->host, &(struct in_addr){0}) == 1)
		return 0; /* an IP literal */
	return hostname_syntax_ok(a->host) ? 0 : -1;
}

/* The outbound queue's settings (TERN_QUEUE_*, TERN_RELAY_HOST's form). */
static int load_queue(struct config *cfg, char *err, size_t errsz)
{
	const char *v;

	cfg->queue_lifetime_s = 5 * 86400;
	cfg->smtp_futurerelease_max_s = 30 * 86400; /* Stalwart's maxDelayedSend */
	cfg->queue_delay_notice_s = 4 * 3600;
	cfg->queue_timeout_s = 300;
	cfg->queue_mx_port = 25;
	if ((v = getenv("TERN_QUEUE_LIFETIME")) != NULL &&
	    (config_parse_duration(v, &cfg->queue_lifetime_s) < 0 || cfg->queue_lifetime_s < 1))
		return bad(err, errsz, "TERN_QUEUE_LIFETIME", v, "a duration such as 5d, 12h or 3600");
	/* HOLDFOR is at most nine digits (RFC 4865 §3); a year is plenty. */
	if ((v = getenv("TERN_SMTP_FUTURERELEASE_MAX")) != NULL &&
	    (config_parse_duration(v, &cfg->smtp_futurerelease_max_s) < 0 ||
	     cfg->smtp_futurerelease_max_s > 366 * 86400))
		return bad(err, errsz, "TERN_SMTP_FUTURERELEASE_MAX", v,
			   "a duration up to 366d such as 30d, 12h or 0 (off)");
	if ((v = getenv("TERN_QUEUE_DELAY_NOTICE")) != NULL &&
	    (config_parse_duration(v, &cfg->queue_delay_notice_s) < 0 ||
	     cfg->queue_delay_notice_s < 1))
		return bad(err, errsz, "TERN_QUEUE_DELAY_NOTICE", v, "a duration such as 4h or 600");
	if ((v = getenv("TERN_QUEUE_TIMEOUT")) != NULL &&
	    (config_parse_duration(v, &cfg->queue_timeout_s) < 0 || cfg->queue_timeout_s < 1 ||
	     cfg->queue_timeout_s > 3600))
		return bad(err, errsz, "TERN_QUEUE_TIMEOUT", v, "a duration from 1s to 1h");
	if ((v = getenv("TERN_QUEUE_IP_STRATEGY")) != NULL) {
		enum dns_ip_strategy ip;
		if (dns_ip_strategy_parse(v, &ip) < 0)
			return bad(err, errsz, "TERN_QUEUE_IP_STRATEGY", v,
				   "ipv4_then_ipv6, ipv6_then_ipv4, ipv4_only or ipv6_only");
		cfg->queue_ip_strategy = (int)ip;
	}
	if ((v = getenv("TERN_QUEUE_MX_PORT")) != NULL) {
		uint64_t port;
		if (str_to_u64(str_c(v), 65535, &port) < 0 || port == 0)
			return bad(err, errsz, "TERN_QUEUE_MX_PORT", v, "a port from 1 to 65535");
		cfg->queue_mx_port = (uint16_t)port;
	}
	cfg->mta_sts_port = 443;
	if ((v = getenv("TERN_MTA_STS_PORT")) != NULL) {
		uint64_t port;
		if (str_to_u64(str_c(v), 65535, &port) < 0 || port == 0)
			return bad(err, errsz, "TERN_MTA_STS_PORT", v, "a port from 1 to 65535");
		cfg->mta_sts_port = (uint16_t)port;
	}
	if ((v = getenv("TERN_QUEUE_RETRY_SCHEDULE")) != NULL) {
		/* "1,2,5": seconds between attempts, the last one repeating. */
		const char *p = v;
		cfg->queue_nretry = 0;
		while (*p) {
			char one[32];
			size_t n = strcspn(p, ",");
			if (n == 0 || n >= sizeof one || cfg->queue_nretry == 16)
				return bad(err, errsz, "TERN_QUEUE_RETRY_SCHEDULE", v,
					   "up to 16 durations separated by commas, such as 1,2,5");
			memcpy(one, p, n);
			one[n] = '\0';
			if (config_parse_duration(one, &cfg->queue_retry_s[cfg->queue_nretry]) < 0 ||
			    cfg->queue_retry_s[cfg->queue_nretry] == 0)
				return bad(err, errsz, "TERN_QUEUE_RETRY_SCHEDULE", v,
					   "up to 16 durations separated by commas, such as 1,2,5");
			cfg->queue_nretry++;
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (cfg->dns_servers[0]) {
		/* "ip[:port],...": IPv6 as "[ip]:port" (or bare without a port). */
		const char *p = cfg->dns_servers;
		while (*p) {
			char one[80], ip[80];
			unsigned char bin[16];
			size_t n = strcspn(p, ",");
			if (n == 0 || n >= sizeof one)
				return bad(err, errsz, "TERN_DNS_SERVERS", cfg->dns_servers,
					   "ip[:port] addresses separated by commas, [v6]:port for IPv6");
			memcpy(one, p, n);
			one[n] = '\0';
			const char *port = NULL;
			if (one[0] == '[') {
				char *close = strchr(one, ']');
				if (!close || (close[1] && close[1] != ':'))
					port = "bad";
				else {
					*close = '\0';
					port = close[1] ? close + 2 : NULL;
				}
				snprintf(ip, sizeof ip, "%s", one + 1);
			} else if (strchr(one, ':') == strrchr(one, ':') && strchr(one, ':')) {
				char *colon = strchr(one, ':');
				*colon = '\0';
				port = colon + 1;
				snprintf(ip, sizeof ip, "%s", one);
			} else {
				snprintf(ip, sizeof ip, "%s", one);
			}
			uint64_t pv = 0;
			if ((inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1) ||
			    (port && (str_to_u64(str_c(port), 65535, &pv) < 0 || pv == 0)))
				return bad(err, errsz, "TERN_DNS_SERVERS", cfg->dns_servers,
					   "ip[:port] addresses separated by commas, [v6]:port for IPv6");
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (cfg->relay_host[0] && !config_relay_host_valid(cfg->relay_host))
		return bad(err, errsz, "TERN_RELAY_HOST", cfg->relay_host, CONFIG_RELAY_HOST_EXPECTED);
	if (cfg->dmarc_report_from[0] && strcmp(cfg->dmarc_report_from, "off") != 0) {
		const char *at = strrchr(cfg->dmarc_report_from, '@');
		if (at == NULL || at == cfg->dmarc_report_from || !hostname_syntax_ok(at + 1) ||
		    strpbrk(cfg->dmarc_report_from, " \t<>,;\"") != NULL)
			return bad(err, errsz, "TERN_DMARC_REPORT_FROM", cfg->dmarc_report_from,
				   "an address of a served domain such as dmarc@example.com, or off");
	}
	if (cfg->relay_user[0] && !cfg->relay_host[0])
		return bad(err, errsz, "TERN_RELAY_USER", cfg->relay_user,
			   "to be set together with TERN_RELAY_HOST");
	return 0;
}

int config_parse_size(const char *s, uint64_t *v_r)
{
	size_t n = strlen(s);
	uint64_t mult = 1, v;

	if (n == 0)
		return -1;
	switch (s[n - 1]) {
	case 'k': case 'K': mult = 1024; n--; break;
	case 'm': case 'M': mult = 1024 * 1024; n--; break;
	case 'g': case 'G': mult = 1024ull * 1024 * 1024; n--; break;
	default: break;
	}
	if (str_to_u64(str_make(s, n), UINT64_MAX / mult, &v) < 0)
		return -1;
	*v_r = v * mult;
	return 0;
}

/* Copies the variable's value into dst when set; -1 when it does not fit. */
static int get_str(const char *var, char *dst, size_t dstsz, char *err, size_t errsz)
{
	const char *v = getenv(var);
	if (!v)
		return 0;
	if (strlen(v) >= dstsz) {
		snprintf(err, errsz, "config: %s is too long: at most %zu characters expected", var,
			 dstsz - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int get_uint(const char *var, unsigned *dst, unsigned min, unsigned max, char *err,
		    size_t errsz)
{
	const char *v = getenv(var);
	uint64_t x;
	char expect[96];

	if (!v)
		return 0;
	snprintf(expect, sizeof(expect), "a whole number from %u to %u", min, max);
	if (str_to_u64(str_c(v), max, &x) < 0 || x < min)
		return bad(err, errsz, var, v, expect);
	*dst = (unsigned)x;
	return 0;
}

int config_load(struct config *cfg, char *err, size_t errsz)
{
	const char *v;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./data");
	cfg->max_message_size = 50ull * 1024 * 1024;
	cfg->message_memory = 64ull * 1024 * 1024;
	cfg->disk_reserve = UINT64_MAX; /* auto: the store sizes it from the disk */
	cfg->log_level = LOG_INFO;
	for (int p = 0; p < POOL_COUNT; p++)
		cfg->pools[p] = pool_defaults[p].def;
	/* Dovecot gives a client 3 minutes to log in, nginx's mail proxy 60 s;
	 * a real client needs a few seconds, a slot holder all it is given. */
	cfg->login_timeout_s = 60;
	cfg->smtp_stress_timeout_s = 10; /* Postfix's smtpd_timeout in stress mode */
	cfg->http_header_timeout_s = 15;
	cfg->http_send_timeout_s = 60; /* nginx's send_timeout, Apache's Timeout */
	cfg->max_recipients = 100;
	cfg->trash_retention_days = 30; /* Stalwart's and Gmail's 30 days */
	cfg->junk_retention_days = 30;
	cfg->smtp_timeout_s = 300;
	cfg->smtp_session_max_s = 3600;
	cfg->smtp_max_errors = 10;
	cfg->smtp_soft_errors = UINT_MAX; /* half of smtp_max_errors, below */
	cfg->pop3_timeout_s = 600; /* RFC 1939 §3: at least 10 minutes */
	cfg->send_rate = 500; /* submission, per account and hour */
	cfg->auth_checks = 1;
	cfg->fts = 1;
	cfg->relay_tls_verify = 1;
	cfg->forward_rate = 200; /* messages forwarded outside, per alias and hour */
	/* Dovecot limits neither by default; every LIST walks the whole
	 * list, so tern does: ample for people, not for a script. */
	cfg->max_mailboxes = 1000;
	cfg->max_mailbox_name = 255;
	cfg->imap_message_limit = 1000000;

	if (get_str("TERN_DATA_DIR", cfg->data_dir, sizeof(cfg->data_dir), err, errsz) < 0)
		return -1;
	if (cfg->data_dir[0] == '\0')
		return bad(err, errsz, "TERN_DATA_DIR", "", "a directory path");

	struct utsname u;
	if (uname(&u) == 0)
		snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", u.nodename);
	if (get_str("TERN_HOSTNAME", cfg->hostname, sizeof(cfg->hostname), err, errsz) < 0)
		return -1;
	if (!hostname_syntax_ok(cfg->hostname))
		return bad(err, errsz, "TERN_HOSTNAME", cfg->hostname,
			   "a host name such as mail.example.com");

	if (get_str("TERN_DOMAIN", cfg->domain, sizeof(cfg->domain), err, errsz) < 0)
		return -1;
	if (cfg->domain[0] && config_domain(cfg->domain, sizeof cfg->domain) < 0)
		return bad(err, errsz, "TERN_DOMAIN", cfg->domain,
			   "a domain such as example.com or bücher.example");
	if (get_str("TERN_ADMIN_PASSWORD", cfg->admin_password, sizeof(cfg->admin_password), err,
		    errsz) < 0)
		return -1;

	for (int k = 0; k < LISTEN_COUNT; k++) {
		struct listen_addr *a = &cfg->listen[k];
		v = getenv(listen_defaults[k].var);
		if (v) {
			if (config_parse_listen(v, a) < 0)
				return bad(err, errsz, listen_defaults[k].var, v,
					   "[address]:port, address:port, :port, or empty to disable");
			a->explicit_ = 1;
		} else {
			a->port = listen_defaults[k].port;
			a->fallback_port = listen_defaults[k].fallback;
		}
	}

	if (get_str("TERN_TLS_CERT", cfg->tls_cert, sizeof(cfg->tls_cert), err, errsz) < 0 ||
	    get_str("TERN_TLS_KEY", cfg->tls_key, sizeof(cfg->tls_key), err, errsz) < 0)
		return -1;
	if (!cfg->tls_cert[0] != !cfg->tls_key[0])
		return bad(err, errsz, cfg->tls_cert[0] ? "TERN_TLS_KEY" : "TERN_TLS_CERT", "",
			   "a PEM file path (TERN_TLS_CERT and TERN_TLS_KEY go together)");
	if (get_str("TERN_ACME_EMAIL", cfg->acme_email, sizeof(cfg->acme_email), err, errsz) < 0)
		return -1;
	if (cfg->acme_email[0] && !strchr(cfg->acme_email, '@'))
		return bad(err, errsz, "TERN_ACME_EMAIL", cfg->acme_email, "an e-mail address");
	snprintf(cfg->acme_directory, sizeof(cfg->acme_directory), "letsencrypt");
	if (get_str("TERN_ACME_DIRECTORY", cfg->acme_directory, sizeof(cfg->acme_directory), err,
		    errsz) < 0)
		return -1;
	if (strcmp(cfg->acme_directory, "letsencrypt") == 0)
		snprintf(cfg->acme_directory, sizeof(cfg->acme_directory), "%s",
			 CONFIG_ACME_LETSENCRYPT);
	else if (strcmp(cfg->acme_directory, "letsencrypt-staging") == 0)
		snprintf(cfg->acme_directory, sizeof(cfg->acme_directory), "%s",
			 CONFIG_ACME_LETSENCRYPT_STAGING);
	if (strncmp(cfg->acme_directory, "https://", 8) != 0 || cfg->acme_directory[8] == '\0')
		return bad(err, errsz, "TERN_ACME_DIRECTORY", cfg->acme_directory,
			   "letsencrypt, letsencrypt-staging or an https:// URL");
	snprintf(cfg->acme_challenge, sizeof(cfg->acme_challenge), "tls-alpn-01");
	if (get_str("TERN_ACME_CHALLENGE", cfg->acme_challenge, sizeof(cfg->acme_challenge), err,
		    errsz) < 0)
		return -1;
	if (strcmp(cfg->acme_challenge, "tls-alpn-01") != 0 &&
	    strcmp(cfg->acme_challenge, "http-01") != 0 && strcmp(cfg->acme_challenge, "dns-01") != 0)
		return bad(err, errsz, "TERN_ACME_CHALLENGE", cfg->acme_challenge,
			   "tls-alpn-01, http-01 or dns-01");
	if (get_str("TERN_ACME_EAB_KID", cfg->acme_eab_kid, sizeof(cfg->acme_eab_kid), err,
		    errsz) < 0 ||
	    get_str("TERN_ACME_EAB_HMAC_KEY", cfg->acme_eab_hmac, sizeof(cfg->acme_eab_hmac), err,
		    errsz) < 0)
		return -1;
	if (!cfg->acme_eab_kid[0] != !cfg->acme_eab_hmac[0])
		return bad(err, errsz, cfg->acme_eab_kid[0] ? "TERN_ACME_EAB_HMAC_KEY" : "TERN_ACME_EAB_KID",
			   "", "both set (External Account Binding: key id and base64url HMAC key)");
	if (get_str("TERN_ACME_PREFERRED_CHAIN", cfg->acme_preferred_chain,
		    sizeof(cfg->acme_preferred_chain), err, errsz) < 0)
		return -1;
	if (get_str("TERN_TLS_CA_FILE", cfg->tls_ca_file, sizeof(cfg->tls_ca_file), err, errsz) < 0)
		return -1;
	if (get_str("TERN_ACME_DNS_SERVER", cfg->acme_dns_server, sizeof(cfg->acme_dns_server), err,
		    errsz) < 0 ||
	    get_str("TERN_ACME_DNS_ZONE", cfg->acme_dns_zone, sizeof(cfg->acme_dns_zone), err,
		    errsz) < 0 ||
	    get_str("TERN_ACME_TSIG_KEY", cfg->acme_tsig_key, sizeof(cfg->acme_tsig_key), err,
		    errsz) < 0)
		return -1;
	/* Checked here with the parsers ACME itself uses, so a typo stops start-up
	 * (exit 2) rather than failing a renewal weeks later. */
	{
		struct sockaddr_storage ss;
		socklen_t sl;
		struct tsig_key k;
		unsigned char eab[128];
		size_t eablen;
		if (cfg->acme_dns_server[0] && acme_dns_server_parse(cfg->acme_dns_server, &ss, &sl) < 0)
			return bad(err, errsz, "TERN_ACME_DNS_SERVER", cfg->acme_dns_server,
				   "ip[:port] or [ipv6]:port (the DNS server taking RFC 2136 updates)");
		if (cfg->acme_dns_zone[0] && !hostname_syntax_ok(cfg->acme_dns_zone))
			return bad(err, errsz, "TERN_ACME_DNS_ZONE", cfg->acme_dns_zone,
				   "a zone such as example.com");
		if (cfg->acme_tsig_key[0] && acme_tsig_parse(cfg->acme_tsig_key, &k) < 0)
			return bad(err, errsz, "TERN_ACME_TSIG_KEY", "(hidden)",
				   "name:base64secret (as nsupdate -y takes it)");
		if (cfg->acme_eab_hmac[0] &&
		    (base64_decode(str_make(cfg->acme_eab_hmac, strlen(cfg->acme_eab_hmac)),
		                   BASE64_URL | BASE64_NOPAD, eab, sizeof eab, &eablen) < 0 ||
		     eablen == 0))
			return bad(err, errsz, "TERN_ACME_EAB_HMAC_KEY", "(hidden)",
				   "the base64url HMAC key the CA gave");
	}
	if (strcmp(cfg->acme_challenge, "dns-01") == 0 && cfg->acme_email[0] &&
	    (!cfg->acme_dns_server[0] || !cfg->acme_tsig_key[0]))
		return bad(err, errsz, cfg->acme_dns_server[0] ? "TERN_ACME_TSIG_KEY" : "TERN_ACME_DNS_SERVER",
			   "", "set for TERN_ACME_CHALLENGE=dns-01 (the DNS server taking RFC 2136 updates, "
			   "ip[:port]; the TSIG key, name:base64secret)");
	if (get_str("TERN_DNS_SERVERS", cfg->dns_servers, sizeof(cfg->dns_servers), err, errsz) < 0 ||
	    get_str("TERN_RELAY_HOST", cfg->relay_host, sizeof(cfg->relay_host), err, errsz) < 0 ||
	    get_str("TERN_CLAMD", cfg->clamd, sizeof(cfg->clamd), err, errsz) < 0 ||
	    get_str("TERN_RELAY_USER", cfg->relay_user, sizeof(cfg->relay_user), err, errsz) < 0 ||
	    get_str("TERN_DMARC_REPORT_FROM", cfg->dmarc_report_from, sizeof(cfg->dmarc_report_from),
		    err, errsz) < 0 ||
	    get_str("TERN_RELAY_PASSWORD", cfg->relay_password, sizeof(cfg->relay_password), err,
		    errsz) < 0)
		return -1;
	struct listen_addr clamd;
	if (cfg->clamd[0] && config_clamd_parse(cfg->clamd, &clamd) < 0)
		return bad(err, errsz, "TERN_CLAMD", cfg->clamd, CONFIG_CLAMD_EXPECTED);

	cfg->backup_minute = 3 * 60 + 30;
	cfg->backup_keep = 7;
	if (get_str("TERN_BACKUP_DIR", cfg->backup_dir, sizeof(cfg->backup_dir), err, errsz) < 0 ||
	    get_uint("TERN_BACKUP_KEEP", &cfg->backup_keep, 1, CONFIG_BACKUP_KEEP_MAX, err, errsz) < 0)
		return -1;
	if (!config_backup_dir_valid(cfg->backup_dir))
		return bad(err, errsz, "TERN_BACKUP_DIR", cfg->backup_dir,
			   "an absolute path such as /backup, or empty for no scheduled backups");
	if ((v = getenv("TERN_BACKUP_TIME")) != NULL && config_backup_time_parse(v, &cfg->backup_minute) < 0)
		return bad(err, errsz, "TERN_BACKUP_TIME", v, "a time of day in UTC as HH:MM, such as 03:30");
	if ((v = getenv("TERN_MAX_MESSAGE_SIZE")) != NULL) {
		if (config_parse_size(v, &cfg->max_message_size) < 0 ||
		    cfg->max_message_size < 1024 || cfg->max_message_size > (1ull << 31))
			return bad(err, errsz, "TERN_MAX_MESSAGE_SIZE", v,
				   "a size from 1K to 2G such as 52428800, 50M or 1G");
	}
	if ((v = getenv("TERN_MESSAGE_MEMORY")) != NULL) {
		if (config_parse_size(v, &cfg->message_memory) < 0 ||
		    cfg->message_memory < 1024 * 1024 || cfg->message_memory > (1ull << 40))
			return bad(err, errsz, "TERN_MESSAGE_MEMORY", v,
				   "a size from 1M to 1T such as 64M or 1G");
	}
	if ((v = getenv("TERN_DISK_RESERVE")) != NULL && strcmp(v, "auto") != 0) {
		if (config_parse_size(v, &cfg->disk_reserve) < 0 || cfg->disk_reserve > (1ull << 40))
			return bad(err, errsz, "TERN_DISK_RESERVE", v,
				   "auto, 0 to keep none, or a size up to 1T such as 64M");
	}
	if ((v = getenv("TERN_LOG_FORMAT")) != NULL) {
		if (strcmp(v, "json") == 0)
			cfg->log_json = 1;
		else if (strcmp(v, "text") != 0)
			return bad(err, errsz, "TERN_LOG_FORMAT", v, "text or json");
	}
	if ((v = getenv("TERN_RELAY_TLS_VERIFY")) != NULL) {
		if (strcmp(v, "off") == 0)
			cfg->relay_tls_verify = 0;
		else if (strcmp(v, "on") != 0)
			return bad(err, errsz, "TERN_RELAY_TLS_VERIFY", v, "on or off");
	}
	if ((v = getenv("TERN_MTA_STS_MODE")) != NULL && strcmp(v, "testing") != 0 &&
	    strcmp(v, "enforce") != 0)
		return bad(err, errsz, "TERN_MTA_STS_MODE", v, "testing or enforce");
	if ((v = getenv("TERN_DNS_TRUST_AD")) != NULL) {
		if (strcmp(v, "on") == 0)
			cfg->dns_trust_ad = 1;
		else if (strcmp(v, "off") != 0)
			return bad(err, errsz, "TERN_DNS_TRUST_AD", v, "on or off");
	}
	if ((v = getenv("TERN_JMAP_PUSH_PRIVATE")) != NULL) {
		if (strcmp(v, "on") == 0)
			cfg->jmap_push_private = 1;
		else if (strcmp(v, "off") != 0)
			return bad(err, errsz, "TERN_JMAP_PUSH_PRIVATE", v, "on or off");
	}
	if ((v = getenv("TERN_FTS")) != NULL) {
		if (strcmp(v, "off") == 0)
			cfg->fts = 0;
		else if (strcmp(v, "on") != 0)
			return bad(err, errsz, "TERN_FTS", v, "on or off");
	}
	if ((v = getenv("TERN_AUTH_CHECKS")) != NULL) {
		if (strcmp(v, "off") == 0)
			cfg->auth_checks = 0;
		else if (strcmp(v, "on") != 0)
			return bad(err, errsz, "TERN_AUTH_CHECKS", v, "on or off");
	}
	if ((v = getenv("TERN_LOG_LEVEL")) != NULL && log_level_parse(v, &cfg->log_level) < 0)
		return bad(err, errsz, "TERN_LOG_LEVEL", v, "debug, info, warn or error");

	for (int p = 0; p < POOL_COUNT; p++)
		if (get_uint(pool_defaults[p].max_var, &cfg->pools[p].max, 1, 100000, err, errsz) < 0 ||
		    get_uint(pool_defaults[p].per_ip_var, &cfg->pools[p].per_ip, 1, 100000, err,
			     errsz) < 0)
			return -1;
	if (get_uint("TERN_LOGIN_TIMEOUT", &cfg->login_timeout_s, 1, 3600, err, errsz) < 0 ||
	    get_uint("TERN_SASL_SCRAM", &cfg->sasl_scram, 0, 1, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_STRESS_TIMEOUT", &cfg->smtp_stress_timeout_s, 1, 300, err, errsz) < 0 ||
	    get_uint("TERN_HTTP_HEADER_TIMEOUT", &cfg->http_header_timeout_s, 1, 300, err, errsz) < 0 ||
	    get_uint("TERN_HTTP_SEND_TIMEOUT", &cfg->http_send_timeout_s, 1, 300, err, errsz) < 0)
		return -1;
	if (get_uint("TERN_SMTP_MAX_RECIPIENTS", &cfg->max_recipients, 1, 10000, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_TIMEOUT", &cfg->smtp_timeout_s, 1, 86400, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_MAX_SESSION_TIME", &cfg->smtp_session_max_s, 1, 86400, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_MAX_ERRORS", &cfg->smtp_max_errors, 1, 1000, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_SOFT_ERRORS", &cfg->smtp_soft_errors, 0, 1000, err, errsz) < 0 ||
	    get_uint("TERN_SMTP_GREET_DELAY", &cfg->smtp_greet_delay_ms, 0, 60000, err, errsz) < 0 ||
	    get_uint("TERN_THREADS", &cfg->loops, 0, 256, err, errsz) < 0 ||
	    get_uint("TERN_POP3_TIMEOUT", &cfg->pop3_timeout_s, 1, 86400, err, errsz) < 0 ||
	    get_uint("TERN_SEND_RATE", &cfg->send_rate, 0, 100000, err, errsz) < 0 ||
	    get_uint("TERN_FORWARD_RATE", &cfg->forward_rate, 0, 100000, err, errsz) < 0 ||
	    get_uint("TERN_MAX_MAILBOXES", &cfg->max_mailboxes, 10, 65535, err, errsz) < 0 ||
	    get_uint("TERN_MAX_MAILBOX_NAME", &cfg->max_mailbox_name, 16, 1000, err, errsz) < 0 ||
	    get_uint("TERN_IMAP_MESSAGE_LIMIT", &cfg->imap_message_limit, 1, 100000000, err,
		     errsz) < 0 ||
	    get_uint("TERN_IMAP_SAVE_LIMIT", &cfg->imap_save_limit, 1, 100000000, err, errsz) < 0 ||
	    get_uint("TERN_TRASH_RETENTION_DAYS", &cfg->trash_retention_days, 0, 36500, err,
		     errsz) < 0 ||
	    get_uint("TERN_JUNK_RETENTION_DAYS", &cfg->junk_retention_days, 0, 36500, err, errsz) < 0)
		return -1;
	if (cfg->smtp_soft_errors == UINT_MAX)
		cfg->smtp_soft_errors = cfg->smtp_max_errors / 2;
	snprintf(cfg->metrics_allow, sizeof(cfg->metrics_allow), "127.0.0.0/8,::1/128");
	if (get_str("TERN_METRICS_ALLOW", cfg->metrics_allow, sizeof(cfg->metrics_allow), err,
		    errsz) < 0)
		return -1;
	if (!cidr_list_valid(cfg->metrics_allow))
		return bad(err, errsz, "TERN_METRICS_ALLOW", cfg->metrics_allow,
			   "a comma-separated list of networks such as 127.0.0.0/8,10.0.0.0/8,::1/128");
	if (get_str("TERN_TRUSTED_PROXIES", cfg->trusted_proxies, sizeof(cfg->trusted_proxies), err,
		    errsz) < 0)
		return -1;
	if (!cidr_list_valid(cfg->trusted_proxies))
		return bad(err, errsz, "TERN_TRUSTED_PROXIES", cfg->trusted_proxies,
			   "a comma-separated list of the proxies' networks such as 10.0.0.5,172.17.0.0/16");
	return load_queue(cfg, err, errsz);
}

unsigned config_name_distance(const char *a, const char *b)
{
	/* Optimal string alignment over three rows; names are short. */
	enum { MAXN = 64 };
	unsigned rows[3][MAXN + 1];
	size_t la = strlen(a), lb = strlen(b);
	if (la > MAXN || lb > MAXN)
		return 255;
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		unsigned *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb] > 255 ? 255 : prev[lb];
}

void config_unknown_vars(void (*fn)(void *arg, const char *name, const char *closest),
			 void *arg)
{
	static const char *const known[] = { CONFIG_VARS };
	char name[80];

	for (char **e = environ; e && *e; e++) {
		size_t n = strcspn(*e, "=");
		if (strncmp(*e, "TERN_", 5) != 0 || strncmp(*e, "TERN_TEST_", 10) == 0 ||
		    n >= sizeof name)
			continue;
		memcpy(name, *e, n);
		name[n] = '\0';
		const char *best = NULL;
		unsigned best_d = 255;
		int found = 0;
		for (size_t i = 0; i < sizeof known / sizeof known[0] && !found; i++) {
			unsigned d = config_name_distance(name, known[i]);
			found = d == 0;
			if (d < best_d) {
				best_d = d;
				best = known[i];
			}
		}
		/* Close means a slip of a few keys, not another variable. */
		if (!found)
			fn(arg, name, best_d <= 3 ? best : NULL);
	}
}
