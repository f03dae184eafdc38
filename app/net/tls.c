/*
 * tls.c — the current conf, the session cache, and per-connection servers.
 */
#include "net/tls_private.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/random.h"
#include "core/xalloc.h"

/*
 * The current conf and where it comes from. tls_lock guards all of it;
 * holders of a reference need no lock.
 */
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_conf *tls_cur;
static struct {
	char data_dir[sizeof((struct config *)0)->data_dir];
	char hostname[sizeof((struct config *)0)->hostname];
	char cert[sizeof((struct config *)0)->tls_cert];
	char key[sizeof((struct config *)0)->tls_key];
} tls_src;

/*
 * Shared session cache: BearSSL's LRU behind a mutex, so a client resumes
 * whichever loop thread its next connection lands on.
 */
static pthread_mutex_t tls_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static br_ssl_session_cache_lru tls_lru;
static unsigned char *tls_lru_store;

/*
 * When each cached session was made. BearSSL's LRU has no clock: on a
 * quiet server a master secret stayed resumable for as long as 255 newer
 * sessions had not pushed it out (weeks), and whoever read it from
 * memory could decrypt every connection resumed from it. RFC 5246 F.1.4
 * suggests 24 hours at most; Postfix keeps one hour, as here. A ring
 * of the last TLS_SESSION_CACHE_ENTRIES saves: an entry the LRU still
 * holds but the ring has dropped is older than every one here, and is
 * not resumed either.
 */
#define TLS_SESSION_LIFETIME 3600
static struct {
	unsigned char id[32];
	int64_t made;
} tls_made[TLS_SESSION_CACHE_ENTRIES];
static size_t tls_made_next;

static int64_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* TLS_SESSION_LIFETIME, or TERN_TEST_TLS_SESSION_SECS (test-only, as
 * TERN_TEST_ALLOC_FAIL; not a user setting, and it only shortens): the
 * tests see a session expire in seconds. Read once by cache_reset, not
 * at every resumption under tls_cache_lock. */
static int64_t tls_session_life = TLS_SESSION_LIFETIME;

static int64_t session_lifetime(void)
{
	const char *v = getenv("TERN_TEST_TLS_SESSION_SECS");
	unsigned long s = v && *v ? strtoul(v, NULL, 10) : 0;
	return s > 0 && s < TLS_SESSION_LIFETIME ? (int64_t)s : TLS_SESSION_LIFETIME;
}

static void cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                       const br_ssl_session_parameters *params)
{
	pthread_mutex_lock(&tls_cache_lock);
	if (tls_lru_store != NULL && params->session_id_len == sizeof tls_made[0].id) {
		tls_lru.vtable->save(&tls_lru.vtable, sc, params);
		memcpy(tls_made[tls_made_next].id, params->session_id, sizeof tls_made[0].id);
		tls_made[tls_made_next].made = now_mono();
		tls_made_next = (tls_made_next + 1) % TLS_SESSION_CACHE_ENTRIES;
	}
	pthread_mutex_unlock(&tls_cache_lock);
}

/* 1 when the session ID was saved less than the lifetime ago. Caller holds tls_cache_lock. */
static int session_fresh(const br_ssl_session_parameters *params)
{
	int64_t now = now_mono(), life = tls_session_life;

	for (size_t i = 0; i < TLS_SESSION_CACHE_ENTRIES; i++)
		if (tls_made[i].made != 0 &&
		    memcmp(tls_made[i].id, params->session_id, sizeof tls_made[i].id) == 0)
			return now - tls_made[i].made < life;
	return 0;
}

static int cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                      br_ssl_session_parameters *params)
{
	int found = 0;

	pthread_mutex_lock(&tls_cache_lock);
	if (tls_lru_store != NULL && params->session_id_len == sizeof tls_made[0].id &&
	    session_fresh(params))
		found = tls_lru.vtable->load(&tls_lru.vtable, sc, params);
	pthread_mutex_unlock(&tls_cache_lock);
	return found;
}

static const br_ssl_session_cache_class tls_cache_class = {
    sizeof(const br_ssl_session_cache_class *), cache_save, cache_load};
/* What BearSSL holds a pointer to: a "context" that is just the vtable. */
static const br_ssl_session_cache_class *tls_cache_ctx = &tls_cache_class;

/* Starts the cache, or empties it (new conf: old sessions must not resume). */
static void cache_reset(void)
{
	size_t size = (size_t)TLS_SESSION_CACHE_ENTRIES * 100;

	pthread_mutex_lock(&tls_cache_lock);
	if (tls_lru_store == NULL)
		tls_lru_store = xmalloc(size);
	explicit_bzero(tls_lru_store, size);
	br_ssl_session_cache_lru_init(&tls_lru, tls_lru_store, size);
	memset(tls_made, 0, sizeof tls_made);
	tls_made_next = 0;
	tls_session_life = session_lifetime();
	pthread_mutex_unlock(&tls_cache_lock);
}

static void log_conf(const char *event, const struct tls_conf *conf)
{
	char q1[600], q2[200];
	int64_t days = (conf->not_after - (int64_t)time(NULL)) / 86400;

	log_info("tls", NULL, "event=%s source=%s subject=%s key=%s chain=%zu expires_in_days=%lld",
	         event, log_q(conf->source, q1, sizeof q1),
	         log_q(conf->subject[0] ? conf->subject : "-", q2, sizeof q2), conf->key_desc,
	         conf->chain_len, (long long)days);
	if (days < 0)
		log_warn("tls", NULL, "event=cert_expired source=%s",
		         log_q(conf->source, q1, sizeof q1));
	if (conf->key_type == BR_KEYTYPE_RSA && conf->key.rsa.n_bitlen < 2048)
		log_warn("tls", NULL, "event=weak_key key=%s", conf->key_desc);
}

/* Builds a conf from the remembered source. Caller holds no lock. */
static struct tls_conf *load_source(char *err, size_t errsz)
{
	if (tls_src.cert[0] != '\0' || tls_src.key[0] != '\0') {
		if (tls_src.cert[0] == '\0' || tls_src.key[0] == '\0') {
			snprintf(err, errsz, "TERN_TLS_CERT and TERN_TLS_KEY must be set together");
			return NULL;
		}
		return tls_conf_load(tls_src.cert, tls_src.key, err, errsz);
	}
	return tls_selfsigned_load(tls_src.data_dir, tls_src.hostname, err, errsz);
}

/* The current conf came from tls_install() (ACME), not from tls_src. */
static int tls_cur_installed;

static void install(struct tls_conf *conf, int installed)
{
	struct tls_conf *old;

	tls_conf_ref(conf);
	pthread_mutex_lock(&tls_lock);
	old = tls_cur;
	tls_cur = conf;
	tls_cur_installed = installed;
	pthread_mutex_unlock(&tls_lock);
	tls_conf_unref(&old);
	cache_reset();
}

void tls_install(struct tls_conf *conf)
{
	install(conf, 1);
}

/* What the user's files looked like when last loaded: size, mtime, inode of each. */
static struct {
	long long v[6];
} files_seen;

/*
 * When a pair a reload refused as not yet valid (outside_dates) becomes
 * valid, 0 when none waits. The files need not change again for it to be
 * loaded then: a renewal a clock a little behind the CA's saw as early
 * was otherwise never looked at again, and once the certificate in use
 * expired, that expired one was served with a valid one on disk.
 * Guarded by tls_lock.
 */
static int64_t files_valid_at;

static void files_stat(long long v[6])
{
	struct stat st;
	memset(v, 0, 6 * sizeof v[0]);
	if (tls_src.cert[0] && stat(tls_src.cert, &st) == 0) {
		v[0] = (long long)st.st_size;
		v[1] = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		v[2] = (long long)st.st_ino;
	}
	if (tls_src.key[0] && stat(tls_src.key, &st) == 0) {
		v[3] = (long long)st.st_size;
		v[4] = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		v[5] = (long long)st.st_ino;
	}
}

int tls_init(const struct config *cfg, char *err, size_t errsz)
{
	struct tls_conf *conf;

	pthread_mutex_lock(&tls_lock);
	snprintf(tls_src.data_dir, sizeof tls_src.data_dir, "%s", cfg->data_dir);
	snprintf(tls_src.hostname, sizeof tls_src.hostname, "%s", cfg->hostname);
	snprintf(tls_src.cert, sizeof tls_src.cert, "%s", cfg->tls_cert);
	snprintf(tls_src.key, sizeof tls_src.key, "%s", cfg->tls_key);
	files_valid_at = 0;
	pthread_mutex_unlock(&tls_lock);

	files_stat(files_seen.v);
	conf = load_source(err, errsz);
	if (conf == NULL)
		return -1;
	install(conf, 0);
	log_conf("loaded", conf);
	tls_conf_unref(&conf);
	return 0;
}

int tls_files_changed(void)
{
	long long now[6];
	if (tls_src.cert[0] == '\0')
		return 0;
	files_stat(now);
	if (memcmp(now, files_seen.v, sizeof now) == 0) {
		/* The reload sets files_valid_at again from what it finds. */
		pthread_mutex_lock(&tls_lock);
		int due = files_valid_at != 0 && (int64_t)time(NULL) >= files_valid_at;
		pthread_mutex_unlock(&tls_lock);
		return due ? 2 : 0;
	}
	/* Remembered now, so a pair that does not load is retried only
	 * when it changes again (or becomes valid), not every few seconds. */
	memcpy(files_seen.v, now, sizeof now);
	return 1;
}

/*
 * 1 (err set) when conf, read at a reload, is expired or not yet valid
 * while the current one is within its dates: installing it would break
 * every handshake that checks dates (a backup's old pair copied back, a
 * clock-skewed CA). Else 0: with nothing better to serve, it serves.
 */
static int outside_dates(const struct tls_conf *conf, char *err, size_t errsz)
{
	int64_t now = (int64_t)time(NULL);
	struct tls_conf *cur = tls_current();
	int cur_ok = cur != NULL && cur->not_before <= now && now <= cur->not_after;
	tls_conf_unref(&cur);
	if (!cur_ok || (conf->not_before <= now && now <= conf->not_after))
		return 0;
	time_t t = (time_t)(conf->not_after < now ? conf->not_after : conf->not_before);
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(err, errsz, "%s: the certificate %s %s; the current one is kept", conf->source,
	         conf->not_after < now ? "expired" : "is not valid before", when);
	return 1;
}

int tls_reload(char *err, size_t errsz)
{
	char q[600];
	/* Without the user's files, the self-signed pair is what serves
	 * until ACME installs its certificate; once it has, a SIGHUP must
	 * not put the self-signed pair back in front of it (a client with
	 * no SNI, or another name, would get it until the next renewal). */
	pthread_mutex_lock(&tls_lock);
	int keep = tls_cur_installed && tls_src.cert[0] == '\0' && tls_src.key[0] == '\0';
	pthread_mutex_unlock(&tls_lock);
	if (keep) {
		log_info("tls", NULL, "event=reload_kept reason=acme_certificate");
		return 1;
	}
	files_stat(files_seen.v);
	struct tls_conf *conf = load_source(err, errsz);

	int refused = conf != NULL && outside_dates(conf, err, errsz);

	/* Only the pair just refused as early waits to become valid. */
	pthread_mutex_lock(&tls_lock);
	files_valid_at = refused && conf->not_before > (int64_t)time(NULL) ? conf->not_before : 0;
	pthread_mutex_unlock(&tls_lock);
	if (refused) {
		tls_conf_unref(&conf);
		log_warn("tls", NULL, "event=reload_refused error=%s", log_q(err, q, sizeof q));
		return -1;
	}
	if (conf == NULL) {
		log_warn("tls", NULL, "event=reload_failed error=%s", log_q(err, q, sizeof q));
		return -1;
	}
	install(conf, 0);
	log_conf("reloaded", conf);
	tls_conf_unref(&conf);
	return 0;
}

struct tls_conf *tls_current(void)
{
	struct tls_conf *conf = NULL;

	pthread_mutex_lock(&tls_lock);
	if (tls_cur != NULL)
		conf = tls_conf_ref(tls_cur);
	pthread_mutex_unlock(&tls_lock);
	return conf;
}

void tls_shutdown(void)
{
	struct tls_conf *old;

	pthread_mutex_lock(&tls_lock);
	old = tls_cur;
	tls_cur = NULL;
	pthread_mutex_unlock(&tls_lock);
	tls_conf_unref(&old);
	tls_sni_clear();

	pthread_mutex_lock(&tls_cache_lock);
	if (tls_lru_store != NULL) {
		explicit_bzero(tls_lru_store, (size_t)TLS_SESSION_CACHE_ENTRIES * 100);
		free(tls_lru_store);
		tls_lru_store = NULL;
	}
	explicit_bzero(&tls_lru, sizeof tls_lru);
	pthread_mutex_unlock(&tls_cache_lock);
}

/*
 * Suite order. With AES-NI and PCLMUL, AES-GCM is the fastest AEAD BearSSL
 * has; without them its constant-time AES/GHASH is several times slower
 * than ChaCha20-Poly1305, which then goes first. AES-128 before AES-256:
 * 128 bits is plenty and 256 costs 40% more rounds.
 */
static const uint16_t suites_ec_aesni[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};
static const uint16_t suites_ec_soft[] = {
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
};
static const uint16_t suites_rsa_aesni[] = {
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};
static const uint16_t suites_rsa_soft[] = {
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

static int have_fast_aes(void)
{
	/* Every thread computes the same value; atomic only to make that race defined. */
	static atomic_int fast = -1;
	int f = atomic_load_explicit(&fast, memory_order_relaxed);

	if (f < 0) {
		f = br_aes_x86ni_ctr_get_vtable() != NULL && br_ghash_pclmul_get() != 0;
		atomic_store_explicit(&fast, f, memory_order_relaxed);
	}
	return f;
}

int tls_server_init(struct tls_server *ts, struct tls_conf *conf)
{
	br_ssl_server_context *sc = &ts->sc;
	br_ssl_engine_context *eng = &sc->eng;
	unsigned char seed[32];
	const uint16_t *suites;
	int fast = have_fast_aes();

	/*
	 * Step 1: the parts of br_ssl_server_init_full_* we want, and only
	 * those, so CBC, CCM, 3DES and static RSA/ECDH are not even linked.
	 */
	br_ssl_server_zero(sc);
	ts->conf = tls_conf_ref(conf);
	ts->handshake_done = 0;
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	if (conf->key_type == BR_KEYTYPE_EC)
		suites = fast ? suites_ec_aesni : suites_ec_soft;
	else
		suites = fast ? suites_rsa_aesni : suites_rsa_soft;
	br_ssl_engine_set_suites(eng, suites, 3);
	/*
	 * The hashes the ServerKeyExchange may be signed with. No SHA-1
	 * (RFC 9155): a client that offers only SHA-1, or sends no
	 * signature_algorithms (which means SHA-1), has no ECDHE suite in
	 * common and gets handshake_failure. SHA-224 only for clients that
	 * sign nothing better.
	 */
	br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	/* These pick aes_x86ni/ghash_pclmul, chacha20_sse2 and ctmulq at run time. */
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	br_ssl_engine_set_default_ec(eng);

	/* Step 2: the key signs ECDHE parameters; no static key exchange.
	 * Which conf signs is settled by SNI/ALPN once the ClientHello is in
	 * (tls_sni.c); ts->conf is the default. */
	tls_sni_use(sc, conf);
	int alpn = tls_sni_attach(ts);
	br_ssl_engine_set_all_flags(eng,
	                            BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(eng, ts->iobuf, sizeof ts->iobuf, 1);
	/*
	 * No session cache when a protocol list is set: BearSSL 0.6 resumes a
	 * session without clearing its "no protocol matched" mark and then
	 * reads past the end of the list (a client that offered h2 and came
	 * back crashed the server; test_tls reproduces it). The list is only
	 * set while a TLS-ALPN-01 challenge is pending, so few handshakes pay
	 * for the full handshake.
	 */
	pthread_mutex_lock(&tls_cache_lock);
	if (tls_lru_store != NULL && !alpn)
		br_ssl_server_set_cache(sc, &tls_cache_ctx);
	pthread_mutex_unlock(&tls_cache_lock);

	/* Step 3: seed from the kernel (no /dev in a chroot), then reset. */
	if (random_bytes(seed, sizeof seed) < 0) {
		log_error("tls", NULL, "event=no_entropy error=%s", strerror(errno));
		tls_server_finish(ts);
		return -1;
	}
	br_ssl_engine_inject_entropy(eng, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
	if (!br_ssl_server_reset(sc)) {
		log_error("tls", NULL, "event=engine_reset_failed error=%d",
		          br_ssl_engine_last_error(eng));
		tls_server_finish(ts);
		return -1;
	}
	return 0;
}

void tls_server_finish(struct tls_server *ts)
{
	tls_conf_unref(&ts->conf);
	/* The context holds the master secret and record keys. BearSSL
	 * decrypts records in place, so the buffer holds the last plaintext
	 * delivered: an AUTH or LOGIN line, when that was the last thing
	 * read. */
	explicit_bzero(&ts->sc, sizeof ts->sc);
	explicit_bzero(ts->iobuf, sizeof ts->iobuf);
	ts->handshake_done = 0;
}

int tls_server_handshake_done(struct tls_server *ts)
{
	if (!ts->handshake_done &&
	    (br_ssl_engine_current_state(&ts->sc.eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0)
		ts->handshake_done = 1;
	return ts->handshake_done;
}

const char *tls_server_version(const struct tls_server *ts)
{
	switch (br_ssl_engine_get_version(&ts->sc.eng)) {
	case BR_TLS12:
		return "TLSv1.2";
	case BR_TLS11:
		return "TLSv1.1";
	case BR_TLS10:
		return "TLSv1";
	default:
		return NULL;
	}
}

static unsigned server_suite(const struct tls_server *ts)
{
	br_ssl_session_parameters sp;
	unsigned suite;

	/* The copy carries the master secret: take the one field and wipe it. */
	br_ssl_engine_get_session_parameters(&ts->sc.eng, &sp);
	suite = sp.cipher_suite;
	explicit_bzero(&sp, sizeof sp);
	return suite;
}

const char *tls_server_cipher(const struct tls_server *ts)
{
	switch (server_suite(ts)) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-RSA-CHACHA20-POLY1305";
	default:
		return NULL;
	}
}

int tls_server_cipher_bits(const struct tls_server *ts)
{
	switch (server_suite(ts)) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return 128;
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return 256;
	default:
		return 0;
	}
}

const char *tls_server_name(const struct tls_server *ts)
{
	const char *name = br_ssl_engine_get_server_name(&ts->sc.eng);

	return name != NULL && name[0] != '\0' ? name : NULL;
}

static const char *alert_name(unsigned a)
{
	static const struct {
		unsigned char code;
		const char *name;
	} alerts[] = {
	    {0, "close_notify"},
	    {10, "unexpected_message"},
	    {20, "bad_record_mac"},
	    {22, "record_overflow"},
	    {40, "handshake_failure"},
	    {42, "bad_certificate"},
	    {43, "unsupported_certificate"},
	    {44, "certificate_revoked"},
	    {45, "certificate_expired"},
	    {46, "certificate_unknown"},
	    {47, "illegal_parameter"},
	    {48, "unknown_ca"},
	    {49, "access_denied"},
	    {50, "decode_error"},
	    {51, "decrypt_error"},
	    {70, "protocol_version"},
	    {71, "insufficient_security"},
	    {80, "internal_error"},
	    {86, "inappropriate_fallback"},
	    {90, "user_canceled"},
	    {100, "no_renegotiation"},
	    {109, "missing_extension"},
	    {110, "unsupported_extension"},
	    {112, "unrecognized_name"},
	    {120, "no_application_protocol"},
	};
	size_t i;

	for (i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
		if (alerts[i].code == a)
			return alerts[i].name;
	return NULL;
}

const char *tls_error_text(int err, char *buf, size_t bufsz)
{
	static const char *const names[] = {
	    [BR_ERR_OK] = "ok",
	    [BR_ERR_BAD_PARAM] = "bad_param",
	    [BR_ERR_BAD_STATE] = "bad_state",
	    [BR_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
	    [BR_ERR_BAD_VERSION] = "bad_version",
	    [BR_ERR_BAD_LENGTH] = "bad_length",
	    [BR_ERR_TOO_LARGE] = "too_large",
	    [BR_ERR_BAD_MAC] = "bad_mac",
	    [BR_ERR_NO_RANDOM] = "no_random",
	    [BR_ERR_UNKNOWN_TYPE] = "unknown_type",
	    [BR_ERR_UNEXPECTED] = "unexpected",
	    [BR_ERR_BAD_CCS] = "bad_ccs",
	    [BR_ERR_BAD_ALERT] = "bad_alert",
	    [BR_ERR_BAD_HANDSHAKE] = "bad_handshake",
	    [BR_ERR_OVERSIZED_ID] = "oversized_id",
	    [BR_ERR_BAD_CIPHER_SUITE] = "no_shared_cipher",
	    [BR_ERR_BAD_COMPRESSION] = "bad_compression",
	    [BR_ERR_BAD_FRAGLEN] = "bad_fraglen",
	    [BR_ERR_BAD_SECRENEG] = "bad_secreneg",
	    [BR_ERR_EXTRA_EXTENSION] = "extra_extension",
	    [BR_ERR_BAD_SNI] = "bad_sni",
	    [BR_ERR_BAD_HELLO_DONE] = "bad_hello_done",
	    [BR_ERR_LIMIT_EXCEEDED] = "limit_exceeded",
	    [BR_ERR_BAD_FINISHED] = "bad_finished",
	    [BR_ERR_RESUME_MISMATCH] = "resume_mismatch",
	    [BR_ERR_INVALID_ALGORITHM] = "invalid_algorithm",
	    [BR_ERR_BAD_SIGNATURE] = "bad_signature",
	    [BR_ERR_WRONG_KEY_USAGE] = "wrong_key_usage",
	    [BR_ERR_NO_CLIENT_AUTH] = "no_client_auth",
	    [BR_ERR_IO] = "io",
	};

	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256) {
		const char *a = alert_name((unsigned)(err - BR_ERR_RECV_FATAL_ALERT));
		if (a != NULL)
			snprintf(buf, bufsz, "peer_alert_%s", a);
		else
			snprintf(buf, bufsz, "peer_alert_%d", err - BR_ERR_RECV_FATAL_ALERT);
	} else if (err >= BR_ERR_SEND_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT + 256) {
		const char *a = alert_name((unsigned)(err - BR_ERR_SEND_FATAL_ALERT));
		if (a != NULL)
			snprintf(buf, bufsz, "sent_alert_%s", a);
		else
			snprintf(buf, bufsz, "sent_alert_%d", err - BR_ERR_SEND_FATAL_ALERT);
	} else if (err >= 0 && (size_t)err < sizeof names / sizeof names[0] && names[err]) {
		snprintf(buf, bufsz, "%s", names[err]);
	} else if (err >= 32 && err < 64) {
		snprintf(buf, bufsz, "x509_%d", err);
	} else {
		snprintf(buf, bufsz, "error_%d", err);
	}
	return buf;
}
