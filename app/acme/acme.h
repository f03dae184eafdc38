/*
 * acme.h — getting and renewing the server's certificate from an ACME CA
 * (RFC 8555): Let's Encrypt by default, any CA by TERN_ACME_DIRECTORY.
 *
 * Design. One client runs on one I/O loop (loop 0, beside the outbound
 * queue) as an explicit state machine: each state sends one HTTPS request
 * (acme_http.h) and the answer picks the next state. The order for the
 * names (acme_names.c: TERN_HOSTNAME, plus mta-sts., autoconfig. and
 * autodiscover. of each served domain, those a listener serves as
 * admin_web_names() says and whose DNS points here) is
 * authorized by the challenge TERN_ACME_CHALLENGE picks: tls-alpn-01 (the
 * challenge certificate on every TLS listener under ALPN acme-tls/1,
 * net/tls.h), http-01 (the HTTP listener answers
 * /.well-known/acme-challenge/ from acme_http01_answer()) or dns-01 (a
 * TXT record added by an RFC 2136 update with TSIG, acme_dnsupd.h, and
 * removed once the name is authorized; names outside its one zone are
 * left out of the order). Then a fresh EC P-256 key, a CSR, finalize, download; the
 * chain is installed as the current certificate and under each of its
 * names for SNI (tls_install, tls_sni_put): connections already open keep
 * the one they started with, new ones get the new one.
 *
 * Kept in the store (meta, sealed with admin_secret.h): the account key
 * ("acme/account-key") and the certificate's key ("acme/cert-key"); the
 * chain in the clear ("acme/cert"). A restart installs the stored
 * certificate at once (one expired, that does not load or that does not
 * name TERN_HOSTNAME is logged, event=stored_certificate_unused, and a
 * new one ordered) and renews when due: at two thirds of its lifetime
 * plus up to 1% jitter, or at a random moment (one per certificate) of
 * the renewal window the CA suggests through ACME Renewal Information
 * (RFC 9773, acme_ari.h) when that comes earlier; but never sooner after
 * a certificate is installed than a tenth of its lifetime, 6 hours at
 * most (acme_renew_hold; logged event=renewal_held; tern acme renew is
 * not held). The renewal timer reads the wall clock at
 * least daily (acme_renew_wait), so a clock set after start renews at
 * most a day late, and never early.
 *
 * Failures: a badNonce is retried with the fresh nonce of the error (up
 * to 31 times in a row, RFC 8555 §6.5); after finalize, no answer, a 5xx or a 429 is retried within the poll budget (a new
 * attempt would be a new order, another certificate issued); other
 * errors end the attempt with one log line naming the step and the CA's
 * problem (type and detail; rateLimited said so plainly), and the next
 * attempt waits Retry-After when the CA gave one (at least a minute, at
 * most a day), else 1, 2, 4 ... minutes up to a day; renewal information
 * never brings that retry earlier. The certificate in use is kept
 * meanwhile.
 *
 * Caveats: start-up only through acme_start(); every state runs on its
 * loop. Store writes (a few per certificate) block that loop briefly.
 * The certificate's key is EC P-256 only (the default of certbot 2,
 * lego and Caddy): a client whose TLS has no ECDSA (stacks from before
 * about 2010) cannot connect; serving it would take a second, RSA,
 * certificate chosen per handshake by the client's signature algorithms.
 * No account key rollover (RFC 8555 §7.3.5): the account key is made
 * once and kept.
 */
#ifndef TERN_ACME_ACME_H
#define TERN_ACME_ACME_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct loop;

/*
 * Starts the client on loop when ACME is on (TERN_ACME_EMAIL set and no
 * TERN_TLS_CERT), installing a stored certificate first. Returns 1 when
 * started, 0 when ACME is off.
 */
int acme_start(const struct config *cfg, struct store *st, struct loop *loop);

/*
 * Renews now (tern acme renew): starts an attempt at once unless one is
 * under way, asking again for the names held out after a failed
 * challenge. On the client's loop (loop_post). The server calls it when
 * the store holds "acme/renew-requested", which the command writes.
 */
void acme_renew_now_on_loop(void *unused);

/* Stops the client (its loop thread only; pending requests are dropped). */
void acme_stop_on_loop(void *unused);

/*
 * The HTTP-01 key authorization for token (RFC 8555 §8.3), for the HTTP
 * listener. Returns 0 with it in out, -1 when no challenge with that token
 * is pending. Thread-safe.
 */
int acme_http01_answer(const char *token, char *out, size_t outsz);

struct tls_conf;

/*
 * The certificate ACME stored in st (with its key, unsealed with
 * data_dir's secrets.key), or NULL: with err "" when none is stored,
 * with why in err[errsz] when one is and does not load (its key cannot
 * be unsealed, the chain does not parse, the key does not match it).
 * Dates are not checked. The caller drops it with tls_conf_unref(). For
 * tern acme status and the server's start; reads only.
 */
struct tls_conf *acme_stored_conf(struct store *st, const char *data_dir, char *err,
                                  size_t errsz);

/* What the web admin and the API show. */
struct acme_status {
	int enabled;
	char state[32];       /* "idle", "ordering", "waiting", "failed", "off" */
	char directory[512];
	char challenge[16];
	char last_error[512]; /* "" when the last attempt succeeded */
	int64_t last_success; /* Unix time, 0 never */
	int64_t next_run;     /* Unix time of the next attempt or renewal, 0 none */
};

/* Copies the current status. Thread-safe. */
void acme_status_get(struct acme_status *s);

#endif
