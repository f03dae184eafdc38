/*
 * acme_private.h — what the ACME client's files share.
 */
#ifndef TERN_ACME_ACME_PRIVATE_H
#define TERN_ACME_ACME_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "acme/acme_dnsupd.h"
#include "acme/acme_http.h"
#include "acme/acme_jws.h"
#include "core/buf.h"


/* Names in one certificate (one order): Let's Encrypt's limit, 100
 * (the host name and 33 domains' three names each). A bound all the
 * same: each name is one authorization, validated in turn. */
#define ACME_NAMES_MAX 100
/* The CSR of ACME_NAMES_MAX names of up to 253 octets, DER. */
#define ACME_CSR_MAX (ACME_NAMES_MAX * 256 + 1024)

struct config;
struct dns;
struct loop;
struct store;
struct tls_conf;

typedef void acme_names_cb(void *arg);

/*
 * Finds the names to order (acme_names.c): hostname first (the subject),
 * then, of each of st's domains, those of mta-sts., autoconfig. and
 * autodiscover. that tern serves (web: admin_web_names(), whose
 * ADMIN_WEB_MTA_STS brings mta-sts., ADMIN_WEB_AUTOCONFIG the other two)
 * and that resolve to hostname's addresses only. Fills names[0..*n_r)
 * and then calls cb(arg), on the loop of dns (at once when there is
 * nothing to look up). names and n_r must stay valid until then.
 */
void acme_names_find(struct dns *dns, struct store *st, const char *hostname, unsigned web,
                     char names[ACME_NAMES_MAX][256], size_t *n_r, acme_names_cb *cb, void *arg);

/*
 * Why name (not the host name) is left out of an order at now (Unix
 * time), or NULL when it can go in: "challenge_failed" (held out,
 * acme_name_failed), "outside_dns_zone" (DNS-01, and name is not in the
 * zone it updates). The one test of orders (acme.c) and of the names
 * check (acme_renew.c), so the check never asks for a renewal to get a
 * name the order then leaves out.
 */
const char *acme_name_unorderable(const char *name, int64_t now);

/* Authorizations whose challenge is answered and not valid yet, polled
 * together (in turn, one request at a time, a round each Retry-After):
 * the CA validates them all at once instead of one after the other. A
 * bound: TLS-ALPN-01 answers wait in a table of 16 (tls_sni.c); DNS-01
 * takes one at a time (one record, A.dns_owner). */
#define AUTHZ_PARALLEL 12
/* The wait after a failed attempt: doubling from a minute up to a day. */
#define BACKOFF_MIN 60
#define BACKOFF_MAX 86400

/* One request is in flight at a time and its answer goes to the handler of
 * A.state; so an order and a renewal-information check never overlap (an
 * order started while the check was out read its answer as theirs). */
enum acme_state {
	S_OFF,
	S_NAMES, /* finding the names to order (DNS), no request out yet */
	S_DIRECTORY,
	S_ACCOUNT,
	S_ORDER,
	S_AUTHZ,
	S_CHALLENGE,
	S_AUTHZ_POLL,
	S_FINALIZE,
	S_ORDER_POLL,
	S_CERT,
	S_CERT_ALT, /* fetching an alternate chain (RFC 8555 §7.4.2) */
	S_ARI_DIR,
	S_ARI,
	S_CONTACT, /* updating the account's contact (RFC 8555 §7.3.2) */
};

/* acme_state_name[S_X]: the step's name in log lines ("directory", ...). */
extern const char *const acme_state_name[];

/*
 * The client's state, one per process (acme.c defines it). Every file of
 * the client reads and writes it on the client's loop only; A names it
 * so that the steps, which touch it on nearly every line, read short.
 */
struct acme_client {
	struct loop *loop;
	struct store *st;
	struct dns *dns;
	char directory[512], email[256], challenge[16], hostname[256], data_dir[512];
	unsigned web_names; /* admin_web_names(): the served domains' names tern answers on */
	char eab_kid[256];
	char dns_server[128], dns_zone[256];
	struct tsig_key tsig;
	char dns_owner[300], dns_txt[64]; /* the record DNS-01 put, removed afterwards */
	struct acme_dnsprop *dns_prop;    /* waiting for it on the zone's servers */
	unsigned char eab_key[128];
	size_t eab_len;

	struct acme_key account;
	int have_account_key;
	int account_replaced; /* this attempt made a new key for a deactivated account */
	int account_unsaved;  /* the key in use is that new one, its account not yet created */
	char kid[1024];
	char url_nonce[512], url_account[512], url_order[512];
	int eab_required;
	char nonce[256];

	char names[ACME_NAMES_MAX][256];
	size_t nnames;
	char order_url[1024], finalize_url[1024], cert_url[1024];
	char authz[ACME_NAMES_MAX][512];
	size_t nauthz, iauthz; /* iauthz: the next to start */
	struct {
		size_t idx; /* in authz */
		char name[256];
	} pend[AUTHZ_PARALLEL];
	size_t npend, ipoll; /* ipoll: the next of pend to poll this round */
	long pend_retry;     /* the CA's Retry-After for the next round */
	char chall_url[512], chall_name[256];
	unsigned polls, poll_waited; /* polls and their seconds since the last progress */

	struct acme_key certkey;
	enum acme_state state;

	/* TERN_ACME_PREFERRED_CHAIN: the CN of the root the chain should
	 * lead to; the CA's other chains (its Link rel="alternate") are
	 * fetched in turn while the default leads elsewhere, and the
	 * default, kept here, is installed when none does. */
	char preferred_chain[256];
	char alts[ACME_ALTERNATES_MAX][512];
	size_t nalts, ialt;
	struct buf chain_default;

	/* the signed request in flight (resent on badNonce) */
	char post_url[1024];
	struct buf post_payload;
	int post_jwk, tries, want_nonce;

	uint64_t timer;
	unsigned backoff;
	/* RFC 9773: the CA's renewal window for the certificate in use */
	char url_ari[512], ari_id[200];
	uint64_t ari_timer;
	int64_t renew_planned; /* Unix time the renewal timer is set for */
	int64_t not_before;    /* after a failure: no attempt before this Unix time, 0 none */
	int64_t hold_until;    /* after an install: no renewal before this Unix time (acme_renew_hold) */
	uint32_t ari_rnd;      /* the certificate's random moment in an ARI window */
	int attempt_deferred;  /* an attempt came due while the ARI check or a contact update was out */
	int contact_only;      /* this run updates the account's contact, no order (contact_check) */
	int retry_soon;        /* the failure held a name out: retry in RETRY_SOON */
	int retry_kept;        /* "acme/retry" is in the store (retry_keep) */
	char settings_fp[33];  /* the TERN_ACME_* settings' fingerprint (settings_fingerprint) */
	int no_replaces;       /* this attempt's order goes without "replaces" (on_order) */
	int finalize_lost;     /* the last finalize got no answer: the CA may not have it */
	/* Names the certificate in use carries, and a look-up of the names it
	 * should carry (a domain added, or its DNS now pointing here). */
	char cert_names[ACME_NAMES_MAX * 256];
	char chk_names[ACME_NAMES_MAX][256];
	size_t chk_n;
	int chk_pending;
	uint64_t names_timer;
	int dir_public; /* the directory's address is public: every other URL's must be */
	int running;
	struct acme_http_req *req; /* the request on its way (one at a time), until on_response */
};
extern struct acme_client acme_client;
#define A acme_client

/* ---- acme.c: the attempt, its end, the status ---- */

/* Starts an attempt now (a loop timer's callback; arg unused): names,
 * then the directory. Deferred while an ARI check or contact update is
 * out; nothing while an order is under way. */
void acme_attempt(struct loop *loop, void *arg);
/* Runs acme_attempt in secs seconds (replacing the planned one). */
void acme_schedule(unsigned secs);
/* Ends the attempt that failed: one log line, the status, the back-off or
 * retry_after (clamped to BACKOFF_MIN..BACKOFF_MAX; -1 none), the retry
 * planned and kept in the store. A contact-only run just ends. */
void acme_fail(long retry_after, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* acme_fail with the CA's answer r (not a success): its problem document. */
void acme_fail_resp(const struct acme_http_resp *r);
/* A contact-only run is over: an attempt that came due meanwhile starts. */
void acme_contact_done(void);
/* Hands r to the handler of A.state (acme_on_*). */
void acme_dispatch(const struct acme_http_resp *r);
/* Sets the status shown: state, error (NULL keeps it), next run (<0 keeps it). */
void acme_status_set(const char *state, const char *error, int64_t next);
/* Notes a certificate installed at now (Unix time) as the last success. */
void acme_status_succeeded(int64_t now);

/* ---- acme_store.c: what is kept in the store ---- */

/* The TERN_ACME_* settings' fingerprint (32 hex digits and a NUL in out). */
void acme_settings_fingerprint(const struct config *cfg, char out[33]);
/* Keeps the failure's wait (A.not_before, A.backoff) and why in "acme/retry". */
void acme_retry_keep(const char *why);
/* A certificate came: drops "acme/retry". */
void acme_retry_forget(void);
/* At start: the kept wait, when not over and later than planned (Unix
 * time), set in A.not_before and returned; else 0. */
int64_t acme_retry_restore(int64_t planned);
/* k's scalar sealed (admin_secret.h) into sealed[sealedsz]; 0 or -1. */
int acme_key_seal(const struct acme_key *k, char *sealed, size_t sealedsz);
/* Stores k sealed under meta key name; 0 or -1. */
int acme_key_save(const char *name, const struct acme_key *k);
/* Loads the key stored under name into k; 0 or -1 (none, or unreadable). */
int acme_key_load(const char *name, struct acme_key *k);
/* Reads "acme/names-failed" (names held out of orders) at start. */
void acme_names_failed_load(void);
/* 1 when name is held out of orders at now (Unix time). */
int acme_name_failed(const char *name, int64_t now);
/* Holds name out for 30 days and stores the list; 0, or -1 when full. */
int acme_name_failed_add(const char *name, int64_t now);
/* Forgets every name held out, in memory and in the store (tern acme
 * renew: the operator may have fixed what failed them). */
void acme_names_failed_release(void);
/* 1 when "acme/account-contact" is TERN_ACME_EMAIL. */
int acme_contact_stored_same(void);
/* Stores TERN_ACME_EMAIL as the account's contact. */
void acme_contact_stored_put(void);

/* ---- acme_account.c: requests, nonces, directory, account ---- */

/* GETs the directory, noting whether its address is public; the answer
 * goes to acme_on_response. 0, or -1 for a bad URL. */
int acme_request_directory(void);
/* Any other request to the CA (a public directory: public addresses
 * only); the answer goes to acme_on_response. 0 or -1. */
int acme_request(const char *method, const char *url, const char *content_type,
                 const void *body, size_t len);
/* Every answer: keeps its Replay-Nonce, resends on badNonce, else
 * acme_dispatch. */
void acme_on_response(void *arg, const struct acme_http_resp *r);
/* Sends payload (a C string) to url signed (JWS; jwk: with the account's
 * key instead of its kid) in state next, fetching a nonce first when
 * none is at hand. */
void acme_post(enum acme_state next, const char *url, const char *payload, int jwk);
/* A POST-as-GET (RFC 8555 §6.3) of url in state next. */
void acme_get_as_post(enum acme_state next, const char *url);
/* Polls url in state st after Retry-After or a back-off, within the poll budget. */
void acme_wait_then(enum acme_state st, const char *url, long retry_after);
void acme_on_directory(const struct acme_http_resp *r);
void acme_on_account(const struct acme_http_resp *r);
void acme_on_contact(const struct acme_http_resp *r);

/* ---- acme_order.c: the order, its authorizations and challenges ---- */

/* Removes every challenge answer out (HTTP-01, TLS-ALPN-01, DNS-01). */
void acme_challenges_clear(void);
/* Asks for the order of A.names (with "replaces" for a renewal). */
void acme_new_order(void);
void acme_on_order(const struct acme_http_resp *r);
void acme_on_authz(const struct acme_http_resp *r);
void acme_on_challenge(const struct acme_http_resp *r);
void acme_on_authz_poll(const struct acme_http_resp *r);

/* ---- acme_cert.c: finalize, download, chains ---- */

/* A new key and CSR for A.names, sent to finalize. */
void acme_finalize(void);
void acme_on_order_poll(const struct acme_http_resp *r);
void acme_on_cert(const struct acme_http_resp *r);
void acme_on_cert_alt(const struct acme_http_resp *r);

/* ---- acme_renew.c: the certificate in use, its renewal, ARI ---- */

/* Makes conf current and puts it under each of its names (SNI); plans
 * its renewal and the ARI check. how: "installed" (new) or "loaded". */
void acme_install(struct tls_conf *conf, const char *how);
/* Plans the renewal for at (Unix time; in the past: at once). */
void acme_renew_plan(int64_t at);
/* Runs the ARI check in secs seconds. */
void acme_ari_schedule(unsigned secs);
/* The ARI check (a timer callback). */
void acme_ari_check(struct loop *loop, void *arg);
/* The ARI check is over: an attempt that came due meanwhile starts. */
void acme_ari_settled(void);
void acme_on_ari_directory(const struct acme_http_resp *r);
void acme_on_ari(const struct acme_http_resp *r);
/* Runs acme_names_check in secs seconds. */
void acme_names_check_schedule(unsigned secs);
/* Looks up the names the certificate should carry (a timer callback). */
void acme_names_check(struct loop *loop, void *arg);
/* 1 when name is one of the comma-separated names in list. */
int acme_names_has(const char *list, const char *name);

#endif
