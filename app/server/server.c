/*
 * server.c — tern serve. See server.h.
 */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_domain.h"
#include "admin/admin_jobs.h"
#include "admin/admin_meta.h"
#include "admin/admin_secret.h"
#include "auth/sasl.h"
#include "backup/backup_sched.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/loop.h"
#include "core/spool.h"
#include "jmap/jmap_blob.h"
#include "core/version.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "forward/forward.h"
#include "http/dns_check.h"
#include "http/http_pushsub.h"
#include "http/http_server.h"
#include "imap/imap_server.h"
#include "acme/acme.h"
#include "net/anchors.h"
#include "net/limits.h"
#include "net/listener.h"
#include "net/tls.h"
#include "pop3/pop3_server.h"
#include "sieve/msieve_server.h"
#include "queue/queue.h"
#include "report/dmarc_reporter.h"
#include "search/fts_indexer.h"
#include "spam/spam_learn.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_phish.h"
#include "spam/spam_rep.h"
#include "smtp/smtp_server.h"
#include "server/retention.h"
#include "store/store.h"
#include "virus/clamd.h"

#define MAX_LOOPS 64
/*
 * What a stop gives transactions and deliveries under way: `docker stop`
 * (and `docker compose up -d` after a pull) sends SIGTERM and SIGKILL 10 s
 * later, and what runs after the drain (the close of what is left, the
 * store's last commits, the saved statistics and reputation) must fit in
 * that too, or it is killed and loses them.
 */
#define DRAIN_MS 6000
/* Then, sessions cut: those waiting for the store get their answer. */
#define CLOSE_MS 1000

#define SMTP_BUSY "421 4.3.2 Service temporarily unavailable, try again later\r\n"

struct drain_req {
	struct listener *listeners;
	int nlisteners;
	struct loop *loop;
};

struct worker {
	struct loop *loop;
	pthread_t thread;
	int index;
	const char *dns_servers;
	/* Kept here, not allocated per post: a loop that stops before it runs
	 * the post (loop_free drops queued posts) must not leak it. */
	struct drain_req drain;
};

/*
 * A start-up failure the user must fix, said as a bad variable is (main
 * prints those): one line naming the variable and its value, exit 2, so
 * `docker logs` or a restart loop shows the cause first and alone.
 */
static int refuse(const char *var, const char *value, const char *what, const char *why)
{
	fprintf(stderr, "config: %s=\"%s\" %s: %s\n", var, value, what, why);
	return 2;
}

/* A listener's variable as the user wrote it, or its default. */
static const char *listen_value(const struct config *cfg, enum listen_kind k, char *buf,
				size_t bufsz)
{
	const char *v = getenv(config_listen_var(k));
	if (v)
		return v;
	const struct listen_addr *a = &cfg->listen[k];
	snprintf(buf, bufsz, "%s%s%s:%u", strchr(a->host, ':') ? "[" : "", a->host,
		 strchr(a->host, ':') ? "]" : "", a->port);
	return buf;
}

/*
 * What the user pointed tern at, checked before anything is logged or
 * written: the data directory can be created and used, the certificate
 * files can be read. 0, or the exit status after the one line.
 */
static int check_paths(const struct config *cfg)
{
	if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST)
		return refuse("TERN_DATA_DIR", cfg->data_dir, "cannot be created", strerror(errno));
	struct stat sb;
	if (stat(cfg->data_dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
		errno = ENOTDIR;
	else if (access(cfg->data_dir, R_OK | W_OK | X_OK) == 0)
		errno = 0;
	if (errno)
		return refuse("TERN_DATA_DIR", cfg->data_dir, "cannot be opened", strerror(errno));
	const char *files[][2] = { { "TERN_TLS_CERT", cfg->tls_cert },
				   { "TERN_TLS_KEY", cfg->tls_key },
				   { "TERN_TLS_CA_FILE", cfg->tls_ca_file } };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (!files[i][1][0])
			continue;
		int fd = open(files[i][1], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return refuse(files[i][0], files[i][1], "cannot be read", strerror(errno));
		close(fd);
	}
	return 0;
}

/*
 * The relay's login, as merged from the variables and the web admin's
 * settings: AUTH needs a user and a password. A password without a
 * user was never sent, and a user without a password logged in with an
 * empty one (the relay refuses, and the mail waits and bounces days
 * later): from the environment either is a setup error, said at start.
 */
static int check_relay_login(const struct config *cfg)
{
	if (getenv("TERN_RELAY_PASSWORD") && cfg->relay_password[0] && !cfg->relay_user[0])
		return refuse("TERN_RELAY_PASSWORD", "(hidden)", "cannot be used",
			      "no relay user is set (TERN_RELAY_USER, or the web admin's relay "
			      "settings): the password would never be sent");
	if (getenv("TERN_RELAY_USER") && cfg->relay_user[0] && !cfg->relay_password[0])
		return refuse("TERN_RELAY_USER", cfg->relay_user, "cannot be used",
			      "no relay password is set (TERN_RELAY_PASSWORD, or the web admin's "
			      "relay settings): the relay would get an empty one");
	return 0;
}

/* The dashboard's hourly chart lives in memory; the store keeps a copy
 * (meta "stats/hours", written every minute and at stop) for restarts. */
#define HOURS_KEY "stats/hours"

static void hours_restore(struct store *st)
{
	char text[METRICS_HOURS_TEXT_MAX];
	size_t len;
	if (store_meta_get(st, HOURS_KEY, text, sizeof text, &len) == STORE_OK)
		metrics_hours_load((int64_t)time(NULL), text, len);
}

static void hours_keep(struct store *st)
{
	char text[METRICS_HOURS_TEXT_MAX];
	size_t len = metrics_hours_save((int64_t)time(NULL), text, sizeof text);
	if (store_meta_put(st, HOURS_KEY, text, len, 0) != STORE_OK)
		log_warn("server", NULL, "event=stats_save_failed");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	/* Named per loop, so that `top -H` and perf tell the threads apart. */
	snprintf(name, sizeof(name), "tern-loop%d", w->index);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	/* One c-ares channel per loop, for the policy checks of its sessions. */
	char err[256];
	struct dns *dns = dns_new(w->loop, w->dns_servers, err, sizeof(err));
	if (!dns)
		log_error("server", NULL, "event=dns_failed loop=%d error=\"%s\"", w->index, err);
	dns_thread_set(dns);
	loop_run(w->loop);
	dns_thread_set(NULL);
	dns_free(&dns); /* sessions are gone: nothing waits for an answer */
	return NULL;
}

/* Loops that ran drain_on_loop: when all have, the listening sockets
 * are no loop's any more and close. */
static unsigned drained_loops;

/* Runs on each loop: stop accepting there, then close idle sessions. */
static void drain_on_loop(void *arg)
{
	struct drain_req *d = arg;
	for (int i = 0; i < d->nlisteners; i++)
		if (d->listeners[i].fd >= 0)
			listener_detach(&d->listeners[i], d->loop);
	__atomic_add_fetch(&drained_loops, 1, __ATOMIC_SEQ_CST);
	smtp_server_drain();
	pop3_server_drain();
	imap_server_drain();
	msieve_server_drain();
	http_server_drain();
}

/* Changes a `tern` command made beside the server reach its change
 * feed's subscribers once a second (store_xchg.c): one meta key read
 * on loop 0 per tick, a list only when it moved. */
static struct {
	struct loop *loop;
	struct store *st;
	uint64_t timer;
} xchg;

static void xchg_tick(struct loop *l, void *arg)
{
	(void)arg;
	xchg.timer = 0;
	store_xchg_poll(xchg.st);
	xchg.timer = loop_timer_add(l, 1000, xchg_tick, NULL);
}

static void xchg_start_on_loop(void *arg)
{
	(void)arg;
	xchg.timer = loop_timer_add(xchg.loop, 1000, xchg_tick, NULL);
}

static void xchg_stop_on_loop(void *arg)
{
	(void)arg;
	if (xchg.timer)
		loop_timer_del(xchg.loop, xchg.timer);
	xchg.timer = 0;
}

static void queue_stop_on_loop(void *arg)
{
	(void)arg;
	queue_sched_stop();
}

static void queue_quiesce_on_loop(void *arg)
{
	(void)arg;
	queue_sched_quiesce();
}

static void close_all_on_loop(void *arg)
{
	(void)arg;
	smtp_server_close_all();
	pop3_server_close_all();
	imap_server_close_all();
	msieve_server_close_all();
	http_server_close_all();
}

/* Creates the primary domain named by TERN_DOMAIN on first start. */
static void seed_domain(const struct config *cfg, struct store *st)
{
	char err[256];
	/* Served in either IDN spelling (added as bücher.example, named
	 * xn--bcher-kva.example here, or the reverse): the same domain. */
	if (!cfg->domain[0] || store_domain_served(st, cfg->domain) == 1)
		return;
	struct dkim_keys keys;
	int rc = admin_domain_add(st, cfg->domain, &keys, err, sizeof(err));
	dkim_keys_wipe(&keys);
	if (rc == STORE_OK)
		log_info("server", NULL, "event=domain_added domain=%s source=TERN_DOMAIN", cfg->domain);
	else
		log_warn("server", NULL, "event=domain_add_failed domain=%s error=\"%s\"", cfg->domain, err);
}

/* Sessions of every protocol, for the shutdown wait. */
static unsigned sessions_alive(void)
{
	return smtp_server_sessions() + pop3_server_sessions() + imap_server_sessions() +
	       msieve_server_sessions() +
	       http_server_sessions();
}

/*
 * The store halted (store.h, store_halted; store_writer.c, "A failed
 * flush"): it refuses every write from now on. Stop as `docker stop`
 * does, so sessions hear 451 / NO and goodbye rather than a reset, and
 * end with STORE_EXIT_HALTED for the supervisor to start tern again.
 * Runs on the thread that met the failure; the main thread takes the
 * signal (all others block it).
 */
static void store_halt_stop(void)
{
	kill(getpid(), SIGTERM);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int server_run(const struct config *cfg_env)
{
	/* The environment's settings, completed by those the wizard stored. */
	static struct config merged;
	const struct config *cfg = &merged;
	struct worker workers[MAX_LOOPS];
	struct listener listeners[LISTEN_COUNT];
	int nlisteners = 0, nloops;
	struct store *st;
	char err[512], lv[300];
	sigset_t sigs;

	/* Signals are taken synchronously by the main thread only. */
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (ulimit -f) makes a write fail with EFBIG, which
	 * the spool and uploads answer like a full disk, instead of killing
	 * the whole server. */
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* Every connection is a descriptor (an HTTP one three): the
	 * connection limits mean nothing under a soft limit of 1024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	merged = *cfg_env;
	sasl_scram_offer(cfg->sasl_scram); /* before any listener */
	int rc = check_paths(cfg);
	if (rc != 0)
		return rc;
	mem_setup();
	mem_reserve_init();
	rc = store_open(cfg->data_dir, STORE_SERVER, &st, err, sizeof(err));
	if (rc != STORE_OK) {
		log_error("server", NULL, "event=start_failed error=\"%s\"", err);
		/* A store this build must not touch (another server holds it, a
		 * newer schema, no room for the upgrade's backup) is a setup
		 * error like a bad variable: exit 2, not worth a restart loop. */
		return rc == STORE_EBUSY || rc == STORE_EINVAL || rc == STORE_EFULL ? 2 : 1;
	}
	store_on_halt(st, store_halt_stop);
	/* Message data past the memory budget goes here (core/spool.h);
	 * swept only now that this server holds the data directory. */
	char spool[sizeof(cfg->data_dir) + 8];
	int sn = snprintf(spool, sizeof(spool), "%.*s/spool", (int)sizeof(cfg->data_dir) - 1,
			  cfg->data_dir);
	if (sn < 0 || spool_setup(spool, cfg->message_memory) < 0) {
		log_error("server", NULL, "event=start_failed error=\"cannot use %s: %s\"", spool,
			  strerror(errno));
		store_close(&st);
		return 1;
	}
	/* JMAP's upload blobs (jmap/jmap_blob.h), kept for their time to live. */
	char updir[sizeof(cfg->data_dir) + 8];
	snprintf(updir, sizeof updir, "%.*s/" JMAP_UPLOAD_DIR, (int)sizeof(cfg->data_dir) - 1,
		 cfg->data_dir);
	if (jmap_upload_setup(updir, cfg->max_message_size) < 0)
		log_error("server", NULL, "event=upload_dir_failed dir=%s error=\"%s\"", updir,
			  strerror(errno));
	/* A key file cut short by a kill at the first start (admin_secret.h). */
	int swept = admin_secret_sweep(cfg->data_dir);
	if (swept > 0)
		log_info("server", NULL, "event=secret_tmp_removed files=%d", swept);
	store_mailbox_limits(st, cfg->max_mailboxes, cfg->max_mailbox_name);
	/* Before the merge reads them: a relay password an older build
	 * stored in the clear is sealed now (it stays usable either way). */
	if (admin_settings_seal(st) != STORE_OK)
		log_warn("server", NULL, "event=secret_seal_failed hint=\"the relay password stays "
			 "in the clear until the next start\"");
	store_reserve_set(st, cfg->disk_reserve); /* room kept for deletions; logs a failure */
	admin_settings_merge(&merged, st);
	rc = check_relay_login(cfg);
	if (rc != 0) {
		store_close(&st);
		return rc;
	}
	hours_restore(st);
	hostname_set(cfg->hostname);
	if (!hostname_is_fqdn(cfg->hostname))
		log_warn("server", NULL, "event=hostname_not_qualified hostname=%s hint=\"set "
			 "TERN_HOSTNAME (or the host name in the web admin) to a full name such as "
			 "mail.example.com: other servers refuse mail from a bare name\"", cfg->hostname);
	seed_domain(cfg, st);
	/* Private CAs (TERN_TLS_CA_FILE) join the built-in roots before any
	 * client verifies a server; a bad file is a setup error (exit 2). */
	if (cfg->tls_ca_file[0] && anchors_add_file(cfg->tls_ca_file, err, sizeof(err)) < 0) {
		store_close(&st);
		return refuse("TERN_TLS_CA_FILE", cfg->tls_ca_file, "cannot be used", err);
	}
	if (tls_init(cfg, err, sizeof(err)) < 0) {
		store_close(&st);
		/* With files given, they are the cause (not PEM, a key that does
		 * not match); without, the self-signed pair in the data dir. */
		if (cfg->tls_cert[0])
			return refuse("TERN_TLS_CERT", cfg->tls_cert, "cannot be used", err);
		return refuse("TERN_DATA_DIR", cfg->data_dir, "cannot be used", err);
	}
	limits_init(cfg);
	/* Password hashing and other CPU-heavy work stay off the loops. */
	worker_pool_start(2);
	/* Users' Junk moves train the spam filter (spam/spam_learn.h). */
	store_junk_hook_set(spam_learn_hook);
	/* Sender reputation as it was at the last stop (spam/spam_rep.h). */
	if (spam_rep_load(st) != STORE_OK)
		log_warn("server", NULL, "event=reputation_load_failed");
	/* SRS key and the per-alias rate: port 25 and the queue's notices use them. */
	forward_init(cfg->data_dir, cfg->forward_rate);
	clamd_configure(cfg->clamd);
	smtp_server_init(cfg, st);
	pop3_server_init(cfg, st);
	imap_server_init(cfg, st);
	msieve_server_init(cfg, st);

	listener_trust_proxies(cfg->trusted_proxies);
	if (cfg->listen[LISTEN_SMTP].port) {
		if (listener_open(&listeners[nlisteners], &cfg->listen[LISTEN_SMTP], "smtp",
				  smtp_server_accept, NULL, err, sizeof(err)) < 0) {
			store_close(&st);
			return refuse("TERN_LISTEN_SMTP",
				      listen_value(cfg, LISTEN_SMTP, lv, sizeof lv), "cannot be used", err);
		}
		listeners[nlisteners].proxy = 1;
		listeners[nlisteners].busy_line = SMTP_BUSY;
		nlisteners++;
	}
	/* What a connection shed while memory is short is told (listener.h);
	 * implicit-TLS ports get nothing: no clear text before the handshake. */
	static const struct {
		enum listen_kind kind;
		const char *name;
		listener_accept_cb *accept;
		void *arg;
		const char *busy_line;
	} mail_listeners[] = {
		{ LISTEN_POP3, "pop3", pop3_server_accept, NULL,
		  "-ERR [SYS/TEMP] Server busy, try again later.\r\n" },
		{ LISTEN_POP3S, "pop3s", pop3_server_accept, POP3_IMPLICIT_TLS, NULL },
		{ LISTEN_IMAP, "imap", imap_server_accept, NULL,
		  "* BYE [UNAVAILABLE] Server busy, try again later.\r\n" },
		{ LISTEN_IMAPS, "imaps", imap_server_accept, IMAP_IMPLICIT_TLS, NULL },
		{ LISTEN_SUBMISSION, "submission", smtp_server_accept, SMTP_SUBMISSION, SMTP_BUSY },
		{ LISTEN_SUBMISSIONS, "submissions", smtp_server_accept, SMTP_SUBMISSIONS, NULL },
		{ LISTEN_SIEVE, "sieve", msieve_server_accept, NULL,
		  "BYE (TRYLATER) \"Server busy, try again later.\"\r\n" },
	};
	for (size_t i = 0; i < sizeof(mail_listeners) / sizeof(mail_listeners[0]); i++) {
		if (!cfg->listen[mail_listeners[i].kind].port)
			continue;
		if (listener_open(&listeners[nlisteners], &cfg->listen[mail_listeners[i].kind],
				  mail_listeners[i].name, mail_listeners[i].accept,
				  mail_listeners[i].arg, err, sizeof(err)) < 0) {
			for (int j = 0; j < nlisteners; j++)
				listener_close(&listeners[j]);
			store_close(&st);
			enum listen_kind k = mail_listeners[i].kind;
			return refuse(config_listen_var(k), listen_value(cfg, k, lv, sizeof lv),
				      "cannot be used", err);
		}
		listeners[nlisteners].proxy = 1;
		listeners[nlisteners].busy_line = mail_listeners[i].busy_line;
		nlisteners++;
	}

	{
		int nhttp = 0;
		enum listen_kind failed = LISTEN_COUNT;
		if (http_server_start(cfg, st, &listeners[nlisteners], &nhttp, &failed, err,
				      sizeof(err)) < 0) {
			for (int j = 0; j < nlisteners; j++)
				listener_close(&listeners[j]);
			store_close(&st);
			if (failed == LISTEN_COUNT) {
				log_error("server", NULL, "event=start_failed listener=http error=\"%s\"",
					  err);
				return 1;
			}
			return refuse(config_listen_var(failed), listen_value(cfg, failed, lv, sizeof lv),
				      "cannot be used", err);
		}
		nlisteners += nhttp;
	}

	nloops = cfg->loops ? (int)cfg->loops : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nloops < 1)
		nloops = 1;
	if (nloops > MAX_LOOPS)
		nloops = MAX_LOOPS;
	for (int i = 0; i < nloops; i++) {
		workers[i].loop = loop_new();
		workers[i].index = i;
		workers[i].dns_servers = cfg->dns_servers;
		for (int j = 0; j < nlisteners; j++)
			if (listener_attach(&listeners[j], workers[i].loop) < 0)
				fatal("cannot attach listener: %s", strerror(errno));
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			fatal("pthread_create failed");
	}
	/* The outbound queue's scheduler and its SMTP clients live on loop 0. */
	queue_sched_start(cfg, st, workers[0].loop);
	/* The ACME client too: a few HTTPS requests a day. */
	acme_start(cfg, st, workers[0].loop);
	/* JMAP PushSubscription deliveries: a few HTTPS requests per change. */
	http_pushsub_start(cfg, st, workers[0].loop);
	xchg.loop = workers[0].loop;
	xchg.st = st;
	loop_post(workers[0].loop, xchg_start_on_loop, NULL);
	if (backup_sched_start(cfg, st, err, sizeof(err)) < 0)
		log_error("server", NULL, "event=backup_schedule_failed error=\"%s\"", err);
	/* DMARC results to the store, and the daily reports, on a thread of its own. */
	dmarc_reporter_start(cfg, st);
	/* The full-text index, behind the rest (search/fts_indexer.h). */
	if (cfg->fts)
		fts_indexer_start(st);
	/* Trash and Junk past their retention days, off the main thread. */
	retention_start(cfg, st);
	for (int j = 0; j < nlisteners; j++)
		log_info("server", NULL, "event=listening service=%s port=%u", listeners[j].name,
			 listeners[j].port);
	http_server_ready();
	store_started(st); /* an upgrade's backup goes once the next start got here */
	log_info("server", NULL, "event=started version=%s hostname=%s loops=%d data=%s",
		 tern_version, cfg->hostname, nloops, cfg->data_dir);

	unsigned ticks = 0;
	for (;;) {
		/* Every 5 s: the user's certificate files changed on disk
		 * (certbot, Traefik renewing them) reload without a SIGHUP. */
		struct timespec tick = {5, 0};
		int sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig < 0) {
			if (++ticks % 12 == 0)
				hours_keep(st);
			spam_feed_fetch_tick(st, workers[0].loop, &spam_phish_kind);
			spam_feed_fetch_tick(st, workers[0].loop, &spam_hashes_kind);
			int changed = tls_files_changed();
			if (changed && tls_reload(err, sizeof(err)) == 0)
				log_info("server", NULL, "event=tls_reloaded reason=%s",
					 changed == 2 ? "now_valid" : "files_changed");
			/* tern acme renew leaves its request in the store. */
			char req[8];
			size_t reqlen;
			if (store_meta_get(st, "acme/renew-requested", req, sizeof(req), &reqlen) ==
			    STORE_OK) {
				store_meta_del(st, "acme/renew-requested");
				loop_post(workers[0].loop, acme_renew_now_on_loop, NULL);
			}
			continue;
		}
		if (sig == SIGHUP) {
			dmarc_reporter_flush_soon(); /* so tern dmarc report sees the latest counts */
			int reloaded = tls_reload(err, sizeof(err));
			if (reloaded == 0)
				log_info("server", NULL, "event=tls_reloaded");
			else if (reloaded < 0)
				log_error("server", NULL, "event=tls_reload_failed error=\"%s\"", err);
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}

	log_info("server", NULL, "event=stopping sessions=%u deliveries=%u%s", sessions_alive(),
		 queue_sched_talking(), store_halted(st) ? " reason=store_halted" : "");
	retention_stop(); /* between two slices: the rest goes on at the next start */
	/* An admin's DNS check waits up to 8 s for a silent server: ended
	 * now, its request answers within the drain. */
	dns_check_stop_all();
	/* No delivery starts from now; those under way get the drain's time. */
	loop_post(workers[0].loop, queue_quiesce_on_loop, NULL);
	for (int i = 0; i < nloops; i++) {
		struct drain_req *d = &workers[i].drain;
		d->listeners = listeners;
		d->nlisteners = nlisteners;
		d->loop = workers[i].loop;
		loop_post(workers[i].loop, drain_on_loop, d);
	}
	int open = 1;
	for (int ms = 0; ms < DRAIN_MS; ms += open ? 5 : 50) {
		if (open && __atomic_load_n(&drained_loops, __ATOMIC_SEQ_CST) == (unsigned)nloops) {
			/* Closed now, not at the exit: a client connecting
			 * during the drain is refused at once (another MX, a
			 * load balancer's other backend) instead of waiting
			 * in the backlog for the reset at the exit. */
			for (int j = 0; j < nlisteners; j++)
				listener_close(&listeners[j]);
			open = 0;
		}
		if (!open && sessions_alive() == 0 && queue_sched_talking() == 0)
			break;
		sleep_ms(open ? 5 : 50);
	}
	if (sessions_alive() > 0 || queue_sched_talking() > 0) {
		log_warn("server", NULL, "event=drain_timeout sessions=%u deliveries=%u",
			 sessions_alive(), queue_sched_talking());
		for (int i = 0; i < nloops; i++)
			loop_post(workers[i].loop, close_all_on_loop, NULL);
		/* Sessions waiting for the store finish when the writer answers. */
		for (int ms = 0; ms < CLOSE_MS && sessions_alive() > 0; ms += 50)
			sleep_ms(50);
	}
	http_server_stop(); /* no handler runs past here */
	admin_jobs_stop();  /* a stopped migration resumes when started again */
	backup_sched_stop();
	/* Outbound deliveries stop where they are: entries stay due in the store. */
	loop_post(workers[0].loop, queue_stop_on_loop, NULL);
	loop_post(workers[0].loop, acme_stop_on_loop, NULL);
	loop_post(workers[0].loop, http_pushsub_stop_on_loop, NULL);
	loop_post(workers[0].loop, xchg_stop_on_loop, NULL);
	for (int ms = 0; ms < 5000 && queue_sched_active() > 0; ms += 20)
		sleep_ms(20);
	worker_pool_stop(); /* before the loops go: jobs post their results to them */
	dmarc_reporter_stop(); /* its last flush, before the store closes */
	fts_indexer_stop();    /* the batch under way, through the writer */
	/* Store requests still on their way (a session may have ended while
	 * its request waited): their completions must run on live loops, or
	 * a stopped loop drops them with what they hold. */
	for (int ms = 0; ms < 2000 && store_inflight(st) > 0; ms += 10)
		sleep_ms(10);
	for (int i = 0; i < nloops; i++)
		loop_stop(workers[i].loop);
	for (int i = 0; i < nloops; i++)
		pthread_join(workers[i].thread, NULL);
	for (int j = 0; j < nlisteners; j++)
		listener_close(&listeners[j]);
	hours_keep(st); /* the chart's last minutes */
	if (spam_rep_save(st, time_wall()) != STORE_OK) /* for the next start */
		log_warn("server", NULL, "event=reputation_save_failed");
	int status = store_halted(st) ? STORE_EXIT_HALTED : 0;
	store_close(&st); /* commits what is queued */
	/* Only now: until store_close stopped it, the writer posts each
	 * finished write to its loop (a stopped loop only queues it). Freed
	 * before, a write still queued at the stop posted to freed memory
	 * (ASan: heap-use-after-free in loop_post from the writer). */
	for (int i = 0; i < nloops; i++)
		loop_free(&workers[i].loop);
	admin_secret_forget(); /* the key kept in memory (admin_secret.h) */
	log_info("server", NULL, "event=stopped status=%d", status);
	return status;
}
