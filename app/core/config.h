/*
 * config.h — run-time configuration from TERN_* environment variables.
 *
 * The environment is read once at start-up into one struct config. A bad
 * value stops start-up with exactly one line naming the variable, the value
 * and what is expected (exit status 2): a mail server that starts with half
 * its settings ignored is worse than one that does not start.
 *
 * Later, settings stored by the wizard are merged in under the environment:
 * the environment always wins (cfg->locked records which ones came from it).
 */
#ifndef TERN_CORE_CONFIG_H
#define TERN_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* A listening address; port 0 means "disabled". */
struct listen_addr {
	char host[64]; /* "" for all addresses, else a literal IPv4/IPv6 */
	uint16_t port;
	uint16_t fallback_port; /* used when binding port is refused (non-root) */
	int explicit_;          /* 1 when set from the environment */
};

enum listen_kind {
	LISTEN_SMTP,
	LISTEN_SUBMISSION,
	LISTEN_SUBMISSIONS,
	LISTEN_IMAP,
	LISTEN_IMAPS,
	LISTEN_POP3,
	LISTEN_POP3S,
	LISTEN_SIEVE,
	LISTEN_HTTP,
	LISTEN_HTTPS,
	LISTEN_COUNT
};

/* Connection pools: each service has its own, so that one cannot starve
 * another (port 25 floods must not lock users out of IMAP). */
enum conn_pool { POOL_SMTP, POOL_SUBMISSION, POOL_IMAP, POOL_POP3, POOL_HTTP, POOL_SIEVE, POOL_COUNT };

struct pool_limits {
	unsigned max;    /* connections in all */
	unsigned per_ip; /* from one IPv4 address or one IPv6 /64 */
};

struct config {
	char data_dir[512];
	char hostname[256];
	char domain[256];
	char admin_password[256]; /* "" when unset; never logged */
	struct listen_addr listen[LISTEN_COUNT];
	char tls_cert[512];
	char tls_key[512];
	char acme_email[256];
	char acme_directory[512];  /* the URL (letsencrypt[-staging] already expanded) */
	char acme_challenge[16];   /* "tls-alpn-01" (default), "http-01" or "dns-01" */
	char acme_eab_kid[256];    /* TERN_ACME_EAB_KID: External Account Binding key id */
	char acme_eab_hmac[256];   /* TERN_ACME_EAB_HMAC_KEY: its base64url HMAC key; never logged */
	char acme_preferred_chain[256]; /* TERN_ACME_PREFERRED_CHAIN: the root's CN, "" = the CA's default */
	char tls_ca_file[512];     /* TERN_TLS_CA_FILE: extra trust anchors (private CAs) */
	char acme_dns_server[128]; /* TERN_ACME_DNS_SERVER: RFC 2136 server for dns-01 */
	char acme_dns_zone[256];   /* TERN_ACME_DNS_ZONE: its zone; "" = the host name's parent */
	char acme_tsig_key[512];   /* TERN_ACME_TSIG_KEY: name:base64secret (HMAC-SHA256); never logged */
	char dns_servers[512];
	char relay_host[256];
	char clamd[256]; /* TERN_CLAMD: "" (no virus scanning), host:port or a unix socket's path */
	char relay_user[256];
	char dmarc_report_from[320]; /* TERN_DMARC_REPORT_FROM: "", "off" or an address */
	char relay_password[256];
	int relay_tls_verify; /* TERN_RELAY_TLS_VERIFY: 1 (default) verify the relay's certificate and name */
	/* TERN_DNS_TRUST_AD: 1 when the resolvers validate DNSSEC and the path
	 * to them is trusted, so the AD bit is believed and DANE applies (as
	 * Postfix's smtp_dns_support_level=dnssec); 0 (default) otherwise. */
	int dns_trust_ad;
	uint64_t max_message_size;
	uint64_t message_memory; /* TERN_MESSAGE_MEMORY: message bytes all sessions hold in memory */
	uint64_t disk_reserve; /* TERN_DISK_RESERVE: bytes kept for deletions; UINT64_MAX = auto */
	enum log_level log_level;
	int log_json;

	/* Limits (TERN_<SERVICE>_MAX_CONNECTIONS[_PER_IP], TERN_SMTP_*): see README. */
	struct pool_limits pools[POOL_COUNT];
	unsigned login_timeout_s;       /* TERN_LOGIN_TIMEOUT: connect to login, IMAP/POP3/submission */
	unsigned sasl_scram;            /* TERN_SASL_SCRAM: 1 offers SCRAM-SHA-256/-1 (sasl.h) */
	unsigned smtp_stress_timeout_s; /* TERN_SMTP_STRESS_TIMEOUT: port 25 idle limit under pressure */
	unsigned http_header_timeout_s; /* TERN_HTTP_HEADER_TIMEOUT: a complete request header */
	unsigned http_send_timeout_s;   /* TERN_HTTP_SEND_TIMEOUT: an answer's client taking none */
	unsigned max_recipients;
	/* TERN_SMTP_FUTURERELEASE_MAX: the longest submission may hold a
	 * message for (RFC 4865 HOLDFOR/HOLDUNTIL); 0 = not offered. */
	unsigned smtp_futurerelease_max_s;
	/* TERN_TRASH_RETENTION_DAYS, TERN_JUNK_RETENTION_DAYS: messages saved
	 * in a \Trash or \Junk mailbox this many days ago are expunged
	 * (server/retention.h); 0 keeps them for ever. */
	unsigned trash_retention_days, junk_retention_days;
	unsigned smtp_timeout_s;      /* idle time between commands */
	unsigned smtp_session_max_s;  /* total session time */
	unsigned smtp_max_errors;
	/* TERN_SMTP_SOFT_ERRORS: errors past which each command waits a
	 * second (Postfix's smtpd_soft_error_limit); half of smtp_max_errors
	 * unless set. */
	unsigned smtp_soft_errors;
	unsigned smtp_greet_delay_ms; /* TERN_SMTP_GREET_DELAY: pause before port 25's greeting */
	unsigned loops; /* event loop threads; 0 = one per core */
	unsigned pop3_timeout_s; /* TERN_POP3_TIMEOUT: idle time between commands */
	unsigned send_rate; /* TERN_SEND_RATE: messages per hour per account, 0 = unlimited */
	unsigned forward_rate; /* TERN_FORWARD_RATE: messages forwarded outside per alias and hour */
	int auth_checks;       /* TERN_AUTH_CHECKS: 1 on (default), 0 off: port 25 checks nothing at end of DATA */
	int fts; /* TERN_FTS: 1 (default) keeps the full-text index (search/fts_indexer.h) */
	int jmap_push_private; /* TERN_JMAP_PUSH_PRIVATE: 1 lets push URLs reach private addresses */
	unsigned max_mailboxes;    /* TERN_MAX_MAILBOXES: per account */
	unsigned max_mailbox_name; /* TERN_MAX_MAILBOX_NAME: octets of a new name (UTF-8) */
	unsigned imap_message_limit; /* TERN_IMAP_MESSAGE_LIMIT: MESSAGELIMIT (RFC 9738) */
	unsigned imap_save_limit;    /* TERN_IMAP_SAVE_LIMIT: SAVELIMIT; 0 (unset): the message limit */
	char metrics_allow[512]; /* TERN_METRICS_ALLOW: networks that may read /metrics */
	/* TERN_TRUSTED_PROXIES: networks whose PROXY headers (mail) and
	 * X-Forwarded-For/Forwarded fields (HTTP) say who the client is. */
	char trusted_proxies[512];

	/* Scheduled backups (TERN_BACKUP_*, app/backup/backup_sched.c): see README. */
	char backup_dir[512];     /* TERN_BACKUP_DIR: "" = no scheduled backups */
	unsigned backup_minute;   /* TERN_BACKUP_TIME: minute of the day, UTC (03:30) */
	unsigned backup_keep;     /* TERN_BACKUP_KEEP: good backups kept (7) */

	/* Outbound queue (TERN_QUEUE_*): see README. */
	unsigned queue_lifetime_s;     /* TERN_QUEUE_LIFETIME: give up after (5d) */
	unsigned queue_delay_notice_s; /* TERN_QUEUE_DELAY_NOTICE: the delay DSN after (4h) */
	unsigned queue_timeout_s;      /* TERN_QUEUE_TIMEOUT: each remote reply (300 s) */
	unsigned queue_retry_s[16];    /* TERN_QUEUE_RETRY_SCHEDULE (tests): seconds */
	unsigned queue_nretry;         /* 0 = the default 1m,5m,15m,30m,1h */
	uint16_t queue_mx_port;        /* TERN_QUEUE_MX_PORT (tests): 25 */
	/* TERN_QUEUE_IP_STRATEGY: the address families outbound delivery
	 * uses, an enum dns_ip_strategy (0: both, IPv4 first). */
	int queue_ip_strategy;
	uint16_t mta_sts_port;         /* TERN_MTA_STS_PORT (tests): 443, MTA-STS policy fetches */
};

#define CONFIG_ACME_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"
#define CONFIG_ACME_LETSENCRYPT_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

/* "smtp", "submission", "imap", "pop3", "http": for logs and variable names. */
const char *config_pool_name(enum conn_pool p);

/* Environment variable name for a listener ("TERN_LISTEN_SMTP"). */
const char *config_listen_var(enum listen_kind k);

/*
 * Fills cfg from the environment. On a bad value writes one line to err
 * (size errsz) and returns -1; the caller prints it and exits 2.
 */
int config_load(struct config *cfg, char *err, size_t errsz);

/*
 * Parses "[addr]:port", "addr:port", ":port" or "" (disabled) into *a.
 * Returns 0 or -1.
 */
int config_parse_listen(const char *s, struct listen_addr *a);

/* Parses a duration "5d", "4h", "30m", "90s" or "120" (seconds). Returns 0 or -1. */
int config_parse_duration(const char *s, unsigned *secs_r);

/* Parses a size "50M", "10k", "1048576", "2G". Returns 0 or -1. */
int config_parse_size(const char *s, uint64_t *v_r);

/* Scheduled backups: the checks TERN_BACKUP_* and the web admin share.
 * A directory is "" (off) or an absolute path; a time is HH:MM (UTC), its
 * minute of the day into *minute_r (0, or -1 when malformed); a count to
 * keep is 1..CONFIG_BACKUP_KEEP_MAX. */
#define CONFIG_BACKUP_KEEP_MAX 1000
int config_backup_dir_valid(const char *dir);
int config_backup_time_parse(const char *v, unsigned *minute_r);
/*
 * The one check of a relay host, wherever it comes from (TERN_RELAY_HOST,
 * the wizard, the settings API, a value stored by an older build): a host
 * name or [IPv6], optionally :port with a port from 1 to 65535. 1 when
 * valid. CONFIG_RELAY_HOST_EXPECTED says what is expected, for messages.
 */
int config_relay_host_valid(const char *rh);
#define CONFIG_RELAY_HOST_EXPECTED \
	"host[:port] with a port from 1 to 65535, such as smtp.example.net:587 ([v6]:port for IPv6)"

/*
 * Where clamd listens (TERN_CLAMD): an absolute path is its unix socket
 * (1 is returned, the path fits a sockaddr_un), host:port or [v6]:port
 * its TCP socket (0 is returned, *a filled: a host name or an IP
 * literal, the port 1 to 65535). -1 when neither.
 */
int config_clamd_parse(const char *v, struct listen_addr *a);
#define CONFIG_CLAMD_EXPECTED \
	"host:port (such as clamav:3310 or 127.0.0.1:3310, [v6]:port for IPv6) or the absolute " \
	"path of clamd's unix socket"

/*
 * The TERN_* variables of the environment that tern does not know (a
 * typo such as TERN_HOST_NAME is otherwise silently ignored): fn is
 * called for each with the known name closest to it, or NULL when none
 * is close. The known names are every "TERN_..." literal in app/,
 * collected at build time (build/gen/config_vars.h), so a new variable
 * needs no list kept by hand. TERN_TEST_* (the test harness's) are
 * skipped.
 */
void config_unknown_vars(void (*fn)(void *arg, const char *name, const char *closest),
			 void *arg);
/* The edit distance (insertions, deletions, substitutions, adjacent
 * swaps) between a and b, capped at 255. */
unsigned config_name_distance(const char *a, const char *b);

#endif
