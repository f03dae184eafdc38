/*
 * tls_sni.c — choosing the certificate per handshake: SNI among the
 * installed certificates, and the TLS-ALPN-01 challenge certificate.
 *
 * BearSSL asks its server policy for the chain and key once the
 * ClientHello is read, when the SNI name and the ALPN choice are known.
 * Our policy class looks the name up, switches the connection's conf (and
 * the reference it holds) when another fits, then hands over to BearSSL's
 * own single-certificate policy for that conf, which also does the
 * signing: br_ssl_server_set_single_*() points the engine at it, so
 * do_sign never reaches this class.
 *
 * A conf of the other key type than the one the connection started with
 * is not switched to: the suites offered were fixed at tls_server_init().
 */
#include "net/tls_private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

#define SNI_MAX 32
#define ALPN_MAX 16

struct named {
	char name[256];
	struct tls_conf *conf;
};

static pthread_mutex_t sni_lock = PTHREAD_MUTEX_INITIALIZER;
static struct named sni[SNI_MAX], alpn[ALPN_MAX];

static const char *const alpn_names[] = {TLS_ALPN_ACME};
static atomic_int alpn_pending; /* challenge certificates in the table */

/* Puts (conf != NULL) or removes name in table t; -1 when full or too long. */
static int table_set(struct named *t, size_t n, const char *name, struct tls_conf *conf)
{
	struct tls_conf *old = NULL;
	int rc = -1;

	if (strlen(name) >= sizeof t[0].name)
		return -1;
	pthread_mutex_lock(&sni_lock);
	for (size_t i = 0; i < n; i++) {
		if (t[i].conf != NULL && strcasecmp(t[i].name, name) == 0) {
			old = t[i].conf;
			t[i].conf = conf ? tls_conf_ref(conf) : NULL;
			rc = 0;
			break;
		}
	}
	for (size_t i = 0; rc < 0 && conf != NULL && i < n; i++) {
		if (t[i].conf == NULL) {
			snprintf(t[i].name, sizeof t[i].name, "%s", name);
			t[i].conf = tls_conf_ref(conf);
			rc = 0;
		}
	}
	if (conf == NULL)
		rc = 0;
	pthread_mutex_unlock(&sni_lock);
	tls_conf_unref(&old);
	return rc;
}

static struct tls_conf *table_get(struct named *t, size_t n, const char *name)
{
	struct tls_conf *c = NULL;

	pthread_mutex_lock(&sni_lock);
	for (size_t i = 0; i < n && c == NULL; i++)
		if (t[i].conf != NULL && strcasecmp(t[i].name, name) == 0)
			c = tls_conf_ref(t[i].conf);
	pthread_mutex_unlock(&sni_lock);
	return c;
}

int tls_sni_put(const char *name, struct tls_conf *conf)
{
	return table_set(sni, SNI_MAX, name, conf);
}

int tls_alpn_challenge_put(const char *name, struct tls_conf *conf)
{
	int rc = table_set(alpn, ALPN_MAX, name, conf);
	int n = 0;
	pthread_mutex_lock(&sni_lock);
	for (size_t i = 0; i < ALPN_MAX; i++)
		n += alpn[i].conf != NULL;
	pthread_mutex_unlock(&sni_lock);
	atomic_store(&alpn_pending, n);
	return rc;
}

void tls_sni_clear(void)
{
	for (size_t i = 0; i < SNI_MAX; i++)
		if (sni[i].conf != NULL)
			table_set(sni, SNI_MAX, sni[i].name, NULL);
	for (size_t i = 0; i < ALPN_MAX; i++)
		if (alpn[i].conf != NULL)
			table_set(alpn, ALPN_MAX, alpn[i].name, NULL);
	atomic_store(&alpn_pending, 0);
}

void tls_sni_names_clear(void)
{
	struct tls_conf *old[SNI_MAX];
	size_t n = 0;

	pthread_mutex_lock(&sni_lock);
	for (size_t i = 0; i < SNI_MAX; i++) {
		if (sni[i].conf != NULL) {
			old[n++] = sni[i].conf;
			sni[i].conf = NULL;
		}
	}
	pthread_mutex_unlock(&sni_lock);
	for (size_t i = 0; i < n; i++)
		tls_conf_unref(&old[i]);
}

/* Points the engine at BearSSL's single-certificate policy for conf. */
void tls_sni_use(br_ssl_server_context *sc, const struct tls_conf *conf)
{
	br_ssl_engine_context *eng = &sc->eng;

	if (conf->key_type == BR_KEYTYPE_EC)
		br_ssl_server_set_single_ec(sc, conf->chain, conf->chain_len, &conf->key.ec,
		                            BR_KEYTYPE_SIGN, conf->issuer_key_type,
		                            br_ssl_engine_get_ec(eng),
		                            br_ecdsa_sign_asn1_get_default());
	else
		br_ssl_server_set_single_rsa(sc, conf->chain, conf->chain_len, &conf->key.rsa,
		                             BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
		                             br_rsa_pkcs1_sign_get_default());
}

static int sni_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *csc,
                      br_ssl_server_choices *choices)
{
	struct tls_server *ts =
	    (struct tls_server *)(void *)((char *)pctx - offsetof(struct tls_server, policy_vt));
	br_ssl_server_context *sc = &ts->sc;
	const char *name = br_ssl_engine_get_server_name(&sc->eng);
	const char *proto = br_ssl_engine_get_selected_protocol(&sc->eng);
	struct tls_conf *pick = NULL;

	(void)csc;
	if (proto != NULL && strcmp(proto, TLS_ALPN_ACME) == 0) {
		/* RFC 8737 §3: only the challenge certificate answers acme-tls/1. */
		pick = name && name[0] ? table_get(alpn, ALPN_MAX, name) : NULL;
		if (pick == NULL) {
			char q[300];
			log_info("tls", NULL, "event=acme_tls_alpn_unknown name=%s",
			         log_q(name && name[0] ? name : "-", q, sizeof q));
			return 0;
		}
	} else if (name != NULL && name[0] != '\0') {
		pick = table_get(sni, SNI_MAX, name);
	}
	if (pick != NULL && pick->key_type == ts->conf->key_type) {
		tls_conf_unref(&ts->conf);
		ts->conf = pick;
		pick = NULL;
	}
	tls_conf_unref(&pick);
	tls_sni_use(sc, ts->conf);
	return (*sc->policy_vtable)->choose(sc->policy_vtable, sc, choices);
}

static uint32_t sni_do_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data,
                            size_t *len)
{
	(void)pctx, (void)data, (void)len;
	return 0; /* never called: choose hands the engine to BearSSL's policy */
}

static size_t sni_do_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id,
                          unsigned char *data, size_t hv_len, size_t len)
{
	(void)pctx, (void)algo_id, (void)data, (void)hv_len, (void)len;
	return 0; /* as above */
}

static const br_ssl_server_policy_class sni_policy = {
    sizeof(const br_ssl_server_policy_class *), sni_choose, sni_do_keyx, sni_do_sign};

int tls_sni_attach(struct tls_server *ts)
{
	ts->policy_vt = &sni_policy;
	ts->sc.policy_vtable = &ts->policy_vt;
	/* ALPN only while a TLS-ALPN-01 challenge is pending: BearSSL 0.6
	 * mishandles a resumed session when a protocol list is set (it read
	 * past the list and crashed the server for Chromium coming back with
	 * h2; tls.c turns the session cache off for such handshakes), so
	 * ordinary handshakes go without a list and keep resumption. */
	if (atomic_load(&alpn_pending) > 0) {
		br_ssl_engine_set_protocol_names(&ts->sc.eng, (const char **)alpn_names, 1);
		return 1;
	}
	return 0;
}
