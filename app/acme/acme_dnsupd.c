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
#include <sys/socket.h>
#include <unistd.h>

#include "acme/acme_jws.h"
#include "core/loop.h"
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
	if (acme_b64url_decode(sec, strlen(sec), k->secret, sizeof k->secret, &k->secret_len) < 0 ||
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
};

static void done(struct upd *u, int rcode, const char *err)
{
	if (u->timer)
		loop_timer_del(u->loop, u->timer);
	loop_del_fd(u->loop, u->fd);
	close(u->fd);
	acme_dnsupd_cb *cb = u->cb;
	void *arg = u->arg;
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
		if (rc >= 0) {
			done(u, rc, NULL);
			return;
		}
	}
}

static void on_timer(struct loop *loop, void *arg)
{
	struct upd *u = arg;
	(void)loop;
	u->timer = 0;
	if (++u->tries >= 3) {
		done(u, -1, "no answer");
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
	tls_random(&u->id, sizeof u->id);
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
	if (loop_add_fd(loop, u->fd, LOOP_READ, on_read, u) < 0) {
		close(u->fd);
		free(u);
		return -1;
	}
	loop_post(loop, first, u);
	return 0;
}
