/*
 * acme_dnsupd.h — DNS-01 (RFC 8555 §8.4) through RFC 2136 dynamic updates
 * signed with TSIG (RFC 8945, HMAC-SHA256): the message encoder, the
 * reply reader, and one update sent over UDP on a loop.
 *
 * Design. The encoder and the reader are pure (unit tests, fuzz target
 * fuzz_dnsupd_reply). An update adds (or deletes) one TXT record at
 * _acme-challenge.NAME in the zone TERN_ACME_DNS_ZONE on the server
 * TERN_ACME_DNS_SERVER, keyed by TERN_ACME_TSIG_KEY ("name:base64secret",
 * as nsupdate -y takes it). The reply must carry the server's TSIG
 * over our request's MAC and the reply (RFC 8945 §5.3), made with the
 * same key within the fudge: a reply that is unsigned, signed with
 * another key, or whose MAC does not verify is discarded as if it had not
 * come (§5.3.2: the client waits for a signed one or its timeout), so a
 * forged NOERROR cannot make tern tell the CA to look, nor a forged
 * REFUSED stop it.
 */
#ifndef TERN_ACME_ACME_DNSUPD_H
#define TERN_ACME_ACME_DNSUPD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;

struct tsig_key {
	char name[256];          /* key name, e.g. "tern-acme." */
	unsigned char secret[128];
	size_t secret_len;
};

/*
 * Parses TERN_ACME_DNS_SERVER's form, "ip", "ip:port" or "[ipv6]:port"
 * (port 53 when absent), into ss and sl. 0 or -1. Config checks it at
 * start-up with this same function, so a bad value stops tern there.
 */
int acme_dns_server_parse(const char *server, struct sockaddr_storage *ss, socklen_t *sl);

/* Parses "name:base64secret" (optionally "hmac-sha256:name:secret"). 0 or -1. */
int acme_tsig_parse(const char *s, struct tsig_key *k);

/*
 * Encodes an UPDATE for zone: add (del 0) or delete (del 1) the TXT
 * record txt at owner, TTL ttl, signed with k at time now (fudge 300 s).
 * Writes at most outsz bytes to out. Returns the length, or 0 when a name
 * is invalid (a label over 63 bytes, a name over 255) or out is too small.
 */
size_t acme_dnsupd_encode(unsigned char *out, size_t outsz, uint16_t id, const char *zone,
                          const char *owner, const char *txt, uint32_t ttl, int del,
                          const struct tsig_key *k, int64_t now);

/*
 * Reads a reply to the update with id: returns its RCODE (0 NOERROR, 5
 * REFUSED, 9 NOTAUTH, ...; the extended TSIG error is not read), or -1
 * when p is not a response to it (too short, not a response, not an
 * UPDATE, another id).
 */
int acme_dnsupd_reply(const unsigned char *p, size_t n, uint16_t id);

/*
 * Verifies the TSIG of reply p[0..n) to the request req[0..reqlen) (as
 * acme_dnsupd_encode wrote it, signed with k) at time now: 0, or -1 with
 * the reason in why (whysz bytes): no TSIG (unsigned), another key or
 * algorithm, a TSIG error from the server (BADSIG, BADKEY, BADTIME), a
 * MAC that does not verify, a time outside the fudge, a malformed reply.
 */
int acme_dnsupd_verify(const unsigned char *p, size_t n, const unsigned char *req, size_t reqlen,
                       const struct tsig_key *k, int64_t now, char *why, size_t whysz);

/* The RCODE's name ("NOERROR", "REFUSED", "NOTAUTH", ...) or "RCODE<n>". */
const char *acme_dnsupd_rcode_name(int rcode, char *buf, size_t bufsz);

typedef void acme_dnsupd_cb(void *arg, int rcode, const char *error);

/*
 * Sends the update (encoded as above, id random) to server ("ip:port" or
 * "[v6]:port", port 53 when absent) over UDP and calls cb(arg, rcode,
 * NULL) with the RCODE of the first reply whose TSIG verifies, or
 * cb(arg, -1, why) on a timeout (3 tries of 2 s; why then says why the
 * replies that came were discarded) or a send failure; always later,
 * from loop. 0, or -1 (bad
 * server or names; cb does not run).
 */
int acme_dnsupd_send(struct loop *loop, const char *server, const char *zone, const char *owner,
                     const char *txt, int del, const struct tsig_key *k, acme_dnsupd_cb *cb,
                     void *arg);

#endif
