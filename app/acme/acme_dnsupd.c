/*
 * acme_dnsupd.c — RFC 2136 UPDATE with RFC 8945 TSIG. See acme_dnsupd.h.
 *
 *   header: id, opcode UPDATE, ZOCOUNT 1, PRCOUNT 0, UPCOUNT 1, ADCOUNT 1
 *   zone:   ZONE SOA IN
 *   update: add: OWNER TXT IN ttl "txt"; delete: OWNER TXT NONE 0 "txt"
 *   TSIG:   KEY TSIG ANY 0 {hmac-sha256., time, fudge, mac, id, 0, 0}
 *
 * The MAC covers the message as it is without the TSIG record (ADCOUNT
 * 0), then the TSIG variables: key name, class ANY, TTL 0, algorithm,
 * time signed, fudge, error 0, other length 0 (RFC 8945 §4.3.3).
 */
#include "acme/acme_dnsupd.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme/acme_jws.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/random.h"
#include "core/xalloc.h"
#include "net/tls_private.h"

#define FUDGE 300

struct w {
	unsigned char *p;
	size_t cap, len;
	int bad;
};

static void put(struct w *w, const void *d, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void u16(struct w *w, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	put(w, b, 2);
}

static void u32(struct w *w, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	put(w, b, 4);
}

/* A name in wire form, lower-cased (canonical for the MAC; servers compare without case). */
static void name(struct w *w, const char *s)
{
	size_t total = 0;
	while (*s) {
		size_t k = strcspn(s, ".");
		if (k == 0 || k > 63) {
			w->bad = 1;
			return;
		}
		unsigned char l = (unsigned char)k, lab[63];
		for (size_t i = 0; i < k; i++)
			lab[i] = (unsigned char)tolower((unsigned char)s[i]);
		put(w, &l, 1);
		put(w, lab, k);
		total += k + 1;
		s += k;
		if (*s == '.')
			s++;
	}
	put(w, "", 1);
	if (total + 1 > 255)
		w->bad = 1;
}

static const char ALG[] = "hmac-sha256";

size_t acme_dnsupd_encode(unsigned char *out, size_t outsz, uint16_t id, const char *zone,
                          const char *owner, const char *txt, uint32_t ttl, int del,
                          const struct tsig_key *k, int64_t now)
{
	struct w w = {out, outsz, 0, 0};
	size_t tlen = strlen(txt);

	if (tlen > 255)
		return 0;
	u16(&w, id);
	u16(&w, 0x2800); /* opcode 5 UPDATE */
	u16(&w, 1);
	u16(&w, 0);
	u16(&w, 1);
	u16(&w, 0); /* ADCOUNT: 0 while signing */
	name(&w, zone);
	u16(&w, 6);  /* SOA */
	u16(&w, 1);  /* IN */
	name(&w, owner);
	u16(&w, 16); /* TXT */
	u16(&w, del ? 254 : 1); /* NONE deletes this one record (RFC 2136 §2.5.4) */
	u32(&w, del ? 0 : ttl);
	u16(&w, (unsigned)tlen + 1);
	unsigned char l = (unsigned char)tlen;
	put(&w, &l, 1);
	put(&w, txt, tlen);
	if (w.bad)
		return 0;
	size_t msg_len = w.len;

	/* The TSIG variables after the message, for the MAC only. */
	struct w v = w;
	name(&v, k->name);
	u16(&v, 255);
	u32(&v, 0);
	name(&v, ALG);
	u16(&v, (unsigned)((uint64_t)now >> 32));
	u32(&v, (uint32_t)now);
	u16(&v, FUDGE);
	u16(&v, 0);
	u16(&v, 0);
	if (v.bad)
		return 0;
	unsigned char mac[32];
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, k->secret, k->secret_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, out, v.len);
	br_hmac_out(&hc, mac);
	explicit_bzero(&kc, sizeof kc);

	/* The TSIG record itself replaces the variables. */
	w.len = msg_len;
	name(&w, k->name);
	u16(&w, 250); /* TSIG */
	u16(&w, 255); /* ANY */
	u32(&w, 0);
	size_t rdlen_at = w.len;
	u16(&w, 0);
	size_t rd0 = w.len;
	name(&w, ALG);
	u16(&w, (unsigned)((uint64_t)now >> 32));
	u32(&w, (uint32_t)now);
	u16(&w, FUDGE);
	u16(&w, sizeof mac);
	put(&w, mac, sizeof mac);
	u16(&w, id);
	u16(&w, 0);
	u16(&w, 0);
	if (w.bad)
		return 0;
	size_t rdlen = w.len - rd0;
	out[rdlen_at] = (unsigned char)(rdlen >> 8);
	out[rdlen_at + 1] = (unsigned char)rdlen;
	out[11] = 1; /* ADCOUNT 1 */
	return w.len;
}

int acme_dnsupd_reply(const unsigned char *p, size_t n, uint16_t id)
{
	if (n < 12)
		return -1;
	if ((unsigned)(p[0] << 8 | p[1]) != id)
		return -1;
	if (!(p[2] & 0x80) || ((p[2] >> 3) & 0x0F) != 5)
		return -1;
	return p[3] & 0x0F;
}

/* ---- the reply's TSIG (RFC 8945 §5.3) ---- */

/* Reads the (possibly compressed) name at *off into out as lower-case
 * "a.b." text; *off moves past it. 0 or -1. */
static int read_name(const unsigned char *p, size_t n, size_t *off, char *out, size_t outsz)
{
	size_t o = *off, len = 0, end = 0;
	int jumps = 0;
	for (;;) {
		if (o >= n)
			return -1;
		unsigned c = p[o];
		if (c == 0) {
			if (!end)
				end = o + 1;
			break;
		}
		if ((c & 0xC0) == 0xC0) {
			if (o + 1 >= n || ++jumps > 64)
				return -1;
			if (!end)
				end = o + 2;
			o = (size_t)(c & 0x3F) << 8 | p[o + 1];
			continue;
		}
		if (c > 63 || o + 1 + c > n || len + c + 2 > outsz)
			return -1;
		for (unsigned i = 0; i < c; i++) {
			unsigned char ch = p[o + 1 + i];
			if (ch <= ' ' || ch == '.' || ch >= 0x7F)
				return -1;
			out[len++] = (char)tolower(ch);
		}
		out[len++] = '.';
		o += 1 + c;
	}
	if (len == 0)
		out[len++] = '.';
	out[len] = '\0';
	*off = end;
	return 0;
}

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int why_set(char *why, size_t whysz, const char *s)
{
	snprintf(why, whysz, "%s", s);
	return -1;
}

/* Whether two names are the same, ignoring case and a trailing dot. */
static int same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

int acme_dnsupd_verify(const unsigned char *p, size_t n, const unsigned char *req, size_t reqlen,
                       const struct tsig_key *k, int64_t now, char *why, size_t whysz)
{
	char kname[300], alg[300];
	size_t o = 12, tsig_at = 0;

	if (n < 12 || reqlen < 12 + 38)
		return why_set(why, whysz, "malformed reply");
	unsigned counts[4] = {be16(p + 4), be16(p + 6), be16(p + 8), be16(p + 10)};
	if (counts[3] == 0)
		return why_set(why, whysz, "reply unsigned (no TSIG)");
	for (unsigned i = 0; i < counts[0]; i++) {
		if (read_name(p, n, &o, kname, sizeof kname) < 0 || o + 4 > n)
			return why_set(why, whysz, "malformed reply");
		o += 4;
	}
	unsigned nrr = counts[1] + counts[2] + counts[3];
	for (unsigned i = 0; i < nrr; i++) {
		size_t at = o;
		if (read_name(p, n, &o, kname, sizeof kname) < 0 || o + 10 > n)
			return why_set(why, whysz, "malformed reply");
		uint16_t type = be16(p + o), rdlen = be16(p + o + 8);
		if (o + 10 + rdlen > n)
			return why_set(why, whysz, "malformed reply");
		if (type == 250 && i != nrr - 1)
			return why_set(why, whysz, "TSIG not the last record");
		if (i == nrr - 1) {
			if (type != 250)
				return why_set(why, whysz, "reply unsigned (no TSIG)");
			tsig_at = at;
		}
		o += 10 + rdlen;
	}
	if (o != n)
		return why_set(why, whysz, "malformed reply");

	/* The TSIG record: owner = key name, class ANY, then its RDATA. */
	size_t r = tsig_at;
	if (read_name(p, n, &r, kname, sizeof kname) < 0)
		return why_set(why, whysz, "malformed reply");
	if (!same_name(kname, k->name))
		return why_set(why, whysz, "reply signed with another key");
	uint16_t cls = be16(p + r + 2);
	uint32_t ttl = (uint32_t)be16(p + r + 4) << 16 | be16(p + r + 6);
	size_t rd = r + 10, rdend = rd + be16(p + r + 8);
	size_t a = rd;
	if (cls != 255 || read_name(p, rdend, &a, alg, sizeof alg) < 0 || a + 10 > rdend)
		return why_set(why, whysz, "malformed TSIG");
	if (!same_name(alg, ALG))
		return why_set(why, whysz, "reply signed with another algorithm");
	uint64_t signed_at = (uint64_t)be16(p + a) << 32 | (uint32_t)be16(p + a + 2) << 16 |
	                     be16(p + a + 4);
	uint16_t fudge = be16(p + a + 6), maclen = be16(p + a + 8);
	size_t m = a + 10;
	if (m + maclen + 6 > rdend)
		return why_set(why, whysz, "malformed TSIG");
	uint16_t orig_id = be16(p + m + maclen), error = be16(p + m + maclen + 2),
	         olen = be16(p + m + maclen + 4);
	if (m + maclen + 6 + olen != rdend)
		return why_set(why, whysz, "malformed TSIG");
	if (error != 0) {
		snprintf(why, whysz, "the server refused our signature: TSIG error %s",
		         error == 16 ? "BADSIG" : error == 17 ? "BADKEY" : error == 18 ? "BADTIME"
		                                                                     : "other");
		return -1;
	}
	/* RFC 8945 §5.2.2.3: a MAC may be truncated, to no less than half
	 * the hash or 10 octets, whichever is more (16 for HMAC-SHA256);
	 * only the octets sent are compared. */
	if (maclen == 0)
		return why_set(why, whysz, "reply unsigned (empty MAC)");
	if (maclen > 32)
		return why_set(why, whysz, "malformed TSIG (MAC longer than HMAC-SHA256's)");
	if (maclen < 16)
		return why_set(why, whysz, "TSIG MAC truncated below 16 octets (RFC 8945 §5.2.2.3)");

	/* The MAC covers: the request's MAC, the reply without its TSIG (ARCOUNT
	 * one less, the original id), then the TSIG variables (§4.3.3). */
	unsigned char head[12], var[600], mac[32];
	memcpy(head, p, 12);
	head[0] = (unsigned char)(orig_id >> 8);
	head[1] = (unsigned char)orig_id;
	head[10] = (unsigned char)((counts[3] - 1) >> 8);
	head[11] = (unsigned char)(counts[3] - 1);
	struct w v = {var, sizeof var, 0, 0};
	name(&v, kname);
	u16(&v, cls);
	u32(&v, ttl);
	name(&v, alg);
	put(&v, p + a, 8); /* time signed, fudge */
	u16(&v, error);
	u16(&v, olen);
	put(&v, p + m + maclen + 6, olen);
	if (v.bad)
		return why_set(why, whysz, "malformed TSIG");
	unsigned char rl[2] = {0, 32};
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, k->secret, k->secret_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, rl, 2);
	br_hmac_update(&hc, req + reqlen - 38, 32);
	br_hmac_update(&hc, head, 12);
	br_hmac_update(&hc, p + 12, tsig_at - 12);
	br_hmac_update(&hc, var, v.len);
	br_hmac_out(&hc, mac);
	explicit_bzero(&kc, sizeof kc);
	unsigned diff = 0;
	for (size_t i = 0; i < maclen; i++)
		diff |= mac[i] ^ p[m + i];
	if (diff)
		return why_set(why, whysz, "TSIG MAC does not verify (forged or another secret)");
	if ((int64_t)signed_at > now + fudge || (int64_t)signed_at < now - fudge)
		return why_set(why, whysz, "TSIG time outside the fudge");
	return 0;
}

const char *acme_dnsupd_rcode_name(int rcode, char *buf, size_t bufsz)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};
	if (rcode >= 0 && rcode < (int)(sizeof names / sizeof names[0]))
		return names[rcode];
	snprintf(buf, bufsz, "RCODE%d", rcode);
	return buf;
}

int acme_tsig_parse(const char *s, struct tsig_key *k)
{
	memset(k, 0, sizeof *k);
	if (strncasecmp(s, "hmac-sha256:", 12) == 0)
		s += 12;
	const char *colon = strchr(s, ':');
	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof k->name - 1)
		return -1;
	memcpy(k->name, s, (size_t)(colon - s));
	const char *sec = colon + 1;
	if (base64_decode(str_make(sec, strlen(sec)), BASE64_URL | BASE64_NOPAD, k->secret,
	                  sizeof k->secret, &k->secret_len) < 0 ||
	    k->secret_len == 0)
		return -1;
	return 0;
}

/* ---- sending ---- */

struct upd {
	struct loop *loop;
	int fd;
	uint16_t id;
	unsigned char msg[1024];
	size_t len;
	int tries;
	uint64_t timer;
	acme_dnsupd_cb *cb;
	void *arg;
	struct tsig_key key;  /* to verify replies */
	unsigned refused;     /* replies whose TSIG did not verify */
	char why[160];        /* why the last one was refused */
};

static void done(struct upd *u, int rcode, const char *err)
{
	if (u->timer)
		loop_timer_del(u->loop, u->timer);
	loop_del_fd(u->loop, u->fd);
	close(u->fd);
	acme_dnsupd_cb *cb = u->cb;
	void *arg = u->arg;
	explicit_bzero(&u->key, sizeof u->key);
	free(u);
	cb(arg, rcode, err);
}

static void on_read(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct upd *u = arg;
	unsigned char buf[4096];
	(void)loop;
	(void)events;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof buf, 0);
		if (r < 0) {
			if (errno == ECONNREFUSED) {
				done(u, -1, "connection refused");
				return;
			}
			return; /* EAGAIN: wait */
		}
		int rc = acme_dnsupd_reply(buf, (size_t)r, u->id);
		if (rc < 0)
			continue; /* not a reply to this update */
		char why[160];
		if (acme_dnsupd_verify(buf, (size_t)r, u->msg, u->len, &u->key, time_wall(), why,
		                       sizeof why) == 0) {
			done(u, rc, NULL);
			return;
		}
		/* §5.3.2: discarded; a signed reply may still come. */
		u->refused++;
		snprintf(u->why, sizeof u->why, "%s", why);
		log_warn("acme", NULL, "event=dns01_reply_refused rcode=%d why=\"%s\"", rc, why);
	}
}

static void on_timer(struct loop *loop, void *arg)
{
	struct upd *u = arg;
	(void)loop;
	u->timer = 0;
	if (++u->tries >= 3) {
		char err[240];
		if (u->refused)
			snprintf(err, sizeof err, "no signed answer (%u replies refused, the last: %s)",
			         u->refused, u->why);
		done(u, -1, u->refused ? err : "no answer");
		return;
	}
	send(u->fd, u->msg, u->len, 0);
	u->timer = loop_timer_add(u->loop, 2000, on_timer, u);
}

static void first(void *arg)
{
	struct upd *u = arg;
	if (send(u->fd, u->msg, u->len, 0) < 0 && errno != EAGAIN) {
		done(u, -1, strerror(errno));
		return;
	}
	u->timer = loop_timer_add(u->loop, 2000, on_timer, u);
}

int acme_dns_server_parse(const char *server, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	unsigned port = 53;
	const char *p = server, *hend;

	memset(ss, 0, sizeof *ss);
	if (*p == '[') {
		hend = strchr(p, ']');
		if (hend == NULL)
			return -1;
		p++;
	} else {
		hend = strchr(p, ':');
		if (hend == NULL)
			hend = p + strlen(p);
	}
	if ((size_t)(hend - p) >= sizeof host)
		return -1;
	memcpy(host, p, (size_t)(hend - p));
	host[hend - p] = '\0';
	const char *ps = *hend == ']' ? hend + 1 : hend;
	if (*ps == ':') {
		char *e;
		unsigned long v = strtoul(ps + 1, &e, 10);
		if (*e != '\0' || v == 0 || v > 65535)
			return -1;
		port = (unsigned)v;
	} else if (*ps != '\0') {
		return -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof *s6;
	} else {
		return -1;
	}
	return 0;
}

int acme_dnsupd_send(struct loop *loop, const char *server, const char *zone, const char *owner,
                     const char *txt, int del, const struct tsig_key *k, acme_dnsupd_cb *cb,
                     void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (acme_dns_server_parse(server, &ss, &sl) < 0)
		return -1;
	struct upd *u = xcalloc(1, sizeof *u);
	random_bytes(&u->id, sizeof u->id);
	u->len = acme_dnsupd_encode(u->msg, sizeof u->msg, u->id, zone, owner, txt, 60, del, k,
	                            time_wall());
	if (u->len == 0) {
		free(u);
		return -1;
	}
	u->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0 || connect(u->fd, (struct sockaddr *)&ss, sl) < 0) {
		if (u->fd >= 0)
			close(u->fd);
		free(u);
		return -1;
	}
	u->loop = loop;
	u->cb = cb;
	u->arg = arg;
	u->key = *k;
	if (loop_add_fd(loop, u->fd, LOOP_READ, on_read, u) < 0) {
		close(u->fd);
		free(u);
		return -1;
	}
	loop_post(loop, first, u);
	return 0;
}
