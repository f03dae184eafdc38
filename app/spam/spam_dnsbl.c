/*
 * spam_dnsbl.c — blocklist zones: their text form, the names to look up,
 * what an answer means, and one message's lookups in parallel
 * (spam_dnsbl.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"
#include "core/hex.h"
#include "core/xalloc.h"
#include "dns/dns_msg.h"
#include "spam/spam_dnsbl.h"

#define LINE_MAX_ 1024
#define WEIGHT_LIMIT 100.0

static int err_line(char *err, size_t errsz, unsigned line, const char *what)
{
	snprintf(err, errsz, "line %u: %s", line, what);
	return -1;
}

/* A host name as a zone: labels of letters, digits, '-' and '_'. */
static int zone_ok(const char *z, size_t n)
{
	if (n == 0 || n >= SPAM_DNSBL_ZONE_MAX || z[0] == '.' || z[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)z[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return 0;
		if (c == '.' && z[i + 1] == '.')
			return 0;
	}
	return strchr(z, '.') != NULL;
}

static int weight_parse(const char *s, double *w)
{
	char *end;
	if (!*s)
		return -1;
	double v = strtod(s, &end);
	if (*end || !(v >= -WEIGHT_LIMIT && v <= WEIGHT_LIMIT))
		return -1;
	*w = v;
	return 0;
}

static int code_addr(const char *s, uint32_t *v)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*v = ntohl(a.s_addr);
	return (*v >> 24) == 127 ? 0 : -1;
}

/* "A[-B]=W" */
static int code_parse(char *tok, struct spam_dnsbl_code *c)
{
	char *eq = strchr(tok, '='), *dash;
	if (!eq)
		return -1;
	*eq = '\0';
	if (weight_parse(eq + 1, &c->weight) < 0)
		return -1;
	dash = strchr(tok, '-');
	if (dash)
		*dash = '\0';
	if (code_addr(tok, &c->lo) < 0)
		return -1;
	c->hi = c->lo;
	if (dash && code_addr(dash + 1, &c->hi) < 0)
		return -1;
	return c->hi >= c->lo ? 0 : -1;
}

/* "name=NAME": letters, digits and '_', kept upper case. */
static int name_parse(const char *v, char *out)
{
	size_t n = strlen(v);
	if (n == 0 || n >= SPAM_DNSBL_NAME_MAX)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c && !isalnum(c) && c != '_')
			return -1;
		out[i] = (char)toupper(c);
	}
	return 0;
}

/* "email[/HASH]", "wallet[/HASH]" or "file" into z's subject and hash. */
static int subject_parse(const char *tok, struct spam_dnsbl_zone *z)
{
	const char *slash = strchr(tok, '/');
	size_t n = slash ? (size_t)(slash - tok) : strlen(tok);
	if (n == 5 && !strncasecmp(tok, "email", 5)) {
		z->subject = SPAM_HASHBL_EMAIL;
		z->hash = SPAM_HASH_SHA1;
	} else if (n == 4 && !strncasecmp(tok, "file", 4)) {
		z->subject = SPAM_HASHBL_FILE;
		z->hash = SPAM_HASH_SHA256;
	} else if (n == 6 && !strncasecmp(tok, "wallet", 6)) {
		z->subject = SPAM_HASHBL_WALLET;
		z->hash = SPAM_HASH_SHA1;
	} else {
		return -1;
	}
	if (!slash)
		return 0;
	if (!strcasecmp(slash + 1, "sha256"))
		z->hash = SPAM_HASH_SHA256;
	else if (z->subject == SPAM_HASHBL_FILE)
		return -1; /* attachments are hashed once, with SHA-256 */
	else if (!strcasecmp(slash + 1, "sha1"))
		z->hash = SPAM_HASH_SHA1;
	else if (!strcasecmp(slash + 1, "md5"))
		z->hash = SPAM_HASH_MD5;
	else
		return -1;
	return 0;
}

static int line_parse(char *line, unsigned no, int hashed, struct spam_dnsbl_conf *out, char *err,
		      size_t errsz)
{
	char *save = NULL, *tok = strtok_r(line, " \t", &save);
	if (!tok)
		return 0;
	if (out->n == SPAM_DNSBL_ZONES_MAX)
		return err_line(err, errsz, no, "too many zones");
	struct spam_dnsbl_zone *z = &out->z[out->n];
	memset(z, 0, sizeof *z);
	if (hashed) {
		if (subject_parse(tok, z) < 0)
			return err_line(err, errsz, no,
					"expected email[/HASH], wallet[/HASH] or file before the zone "
					"(HASH: sha1, md5 or sha256)");
		if ((tok = strtok_r(NULL, " \t", &save)) == NULL)
			return err_line(err, errsz, no, "expected a zone");
	}
	size_t len = strlen(tok);
	if (!zone_ok(tok, len))
		return err_line(err, errsz, no, "not a zone name");
	for (size_t i = 0; i <= len; i++)
		z->zone[i] = (char)tolower((unsigned char)tok[i]);
	z->weight = 1.0;
	int first = 1;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (!strncasecmp(tok, "name=", 5)) {
			if (z->name[0] || name_parse(tok + 5, z->name) < 0)
				return err_line(err, errsz, no,
						"expected name=NAME (letters, digits, '_'; at most 23)");
			continue;
		}
		if (!strchr(tok, '=')) {
			if (!first || weight_parse(tok, &z->weight) < 0)
				return err_line(err, errsz, no, "expected a weight (-100..100) after the zone");
		} else {
			if (z->ncodes == SPAM_DNSBL_CODES_MAX)
				return err_line(err, errsz, no, "too many return codes");
			if (code_parse(tok, &z->code[z->ncodes++]) < 0)
				return err_line(err, errsz, no,
						"expected 127.x.x.x[-127.x.x.x]=WEIGHT");
		}
		first = 0;
	}
	out->n++;
	return 0;
}

static int conf_parse(const char *text, int hashed, struct spam_dnsbl_conf *out, char *err,
		      size_t errsz)
{
	unsigned no = 0;
	memset(out, 0, sizeof *out);
	while (text && *text) {
		const char *eol = strchr(text, '\n');
		size_t n = eol ? (size_t)(eol - text) : strlen(text);
		char line[LINE_MAX_];
		no++;
		if (n >= sizeof line)
			return err_line(err, errsz, no, "line too long");
		memcpy(line, text, n);
		line[n] = '\0';
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (char *p = line; *p; p++)
			if (*p == '\r' || *p == ',')
				*p = ' ';
		if (line_parse(line, no, hashed, out, err, errsz) < 0)
			return -1;
		text += n + (eol ? 1 : 0);
	}
	return 0;
}

int spam_dnsbl_parse(const char *text, struct spam_dnsbl_conf *out, char *err, size_t errsz)
{
	return conf_parse(text, 0, out, err, errsz);
}

int spam_hashbl_parse(const char *text, struct spam_dnsbl_conf *out, char *err, size_t errsz)
{
	return conf_parse(text, 1, out, err, errsz);
}

int spam_dnsbl_ip_name(const char *ip, const char *zone, char *out, size_t outsz)
{
	uint8_t a[16];
	int n;
	/* Only a globally reachable address (cidr_ip_global: RFC 6890's
	 * registries, so RFC 1918, CGNAT's 100.64.0.0/10 of RFC 6598,
	 * link-local, unique-local, documentation, benchmarking, reserved,
	 * and the IPv4 inside a NAT64 or 6to4 address alike): nobody lists
	 * the others, an answer about them means nothing and the query leaks
	 * the network's inside. IPv4 loopback is the one exception: a list's
	 * test entries live there (RFC 5782 §5, 127.0.0.2 listed, 127.0.0.1
	 * never), the same on every host, so the query tells nothing. */
	if (inet_pton(AF_INET, ip, a) == 1 ||
	    (inet_pton(AF_INET6, ip, a) == 1 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
	     (memmove(a, a + 12, 4), 1))) {
		if (a[0] != 127 && !cidr_ip_global(ip))
			return -1;
		n = snprintf(out, outsz, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
		return n > 0 && (size_t)n < outsz ? 0 : -1;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || !cidr_ip_global(ip))
		return -1;
	if (outsz < 64 + strlen(zone) + 1)
		return -1;
	char *p = out;
	for (int i = 15; i >= 0; i--) {
		*p++ = hex_lower[a[i] & 15];
		*p++ = '.';
		*p++ = hex_lower[a[i] >> 4];
		*p++ = '.';
	}
	strcpy(p, zone);
	return 0;
}

int spam_dnsbl_domain_name(const char *domain, const char *zone, char *out, size_t outsz)
{
	size_t n = strlen(domain);
	while (n && domain[n - 1] == '.')
		n--;
	if (n == 0 || n + 1 + strlen(zone) + 1 > outsz)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)domain[i]);
	out[n] = '.';
	strcpy(out + n + 1, zone);
	return 0;
}

double spam_dnsbl_weight(const struct spam_dnsbl_zone *z, const struct dns_answer *a,
			 int *listed_r)
{
	double best = 0;
	int listed = 0;
	if (a->status == DNS_ANS_OK)
		for (size_t i = 0; i < a->nrr; i++) {
			const struct dns_rr *rr = &a->rr[i];
			if (rr->type != DNS_T_A || rr->len != 4)
				continue;
			const uint8_t *d = a->data + rr->off;
			uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
			/* Outside 127/8: an invented answer; 127.255.255/24: an error;
			 * 127.0.0.1: no list holds it (RFC 5782 2.1), URIBL says
			 * "query refused" with it, so it must not list every domain
			 * of a public resolver's users, whatever the zone's codes. */
			if (d[0] != 127 || (d[1] == 255 && d[2] == 255) || v == 0x7f000001u)
				continue;
			double w = z->weight;
			int hit = z->ncodes == 0;
			for (size_t c = 0; c < z->ncodes; c++)
				if (v >= z->code[c].lo && v <= z->code[c].hi && (!hit || z->code[c].weight > w)) {
					w = z->code[c].weight;
					hit = 1;
				}
			if (!hit)
				continue;
			if (!listed || w > best)
				best = w;
			listed = 1;
		}
	if (listed_r)
		*listed_r = listed;
	return listed ? best : 0;
}

void spam_dnsbl_rule(const char *prefix, const struct spam_dnsbl_zone *z, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = prefix; *p && o + 1 < outsz; p++)
		out[o++] = *p;
	for (const char *p = z->name[0] ? z->name : z->zone; *p && o + 1 < outsz; p++)
		out[o++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
	out[o] = '\0';
}

/* ---- One message's lookups ---- */

#define QUERIES_MAX (SPAM_DNSBL_ZONES_MAX * (1 + SPAM_DNSBL_SUBJECTS_MAX))

/* A run's zone kinds: its confs and its rules' prefixes. */
enum { KIND_IP, KIND_DOMAIN, KIND_HASH, KINDS };
static const char *const kind_prefix[KINDS] = {"RBL_", "URIBL_", "HASHBL_"};
static const char *const kind_what[KINDS] = {"the client", "a domain", ""};
static const char *const subject_what[] = {"", "an address", "an attachment", "a wallet"};

struct query {
	struct spam_dnsbl_run *run;
	void *handle;
	uint8_t kind;  /* KIND_* */
	uint8_t zone;  /* index in its conf */
	uint8_t done;
	uint8_t listed;
	double weight;
};

struct spam_dnsbl_run {
	const struct dns_resolver *r;
	struct spam_dnsbl_conf conf[KINDS];
	struct query q[QUERIES_MAX];
	size_t nq, pending;
	int starting;
	void (*done)(void *arg);
	void *arg;
};

static void answered(void *arg, const struct dns_answer *a)
{
	struct query *q = arg;
	struct spam_dnsbl_run *run = q->run;
	int listed = 0;
	q->handle = NULL;
	q->done = 1;
	q->weight = spam_dnsbl_weight(&run->conf[q->kind].z[q->zone], a, &listed);
	q->listed = (uint8_t)listed;
	if (--run->pending == 0 && !run->starting)
		run->done(run->arg);
}

static void ask(struct spam_dnsbl_run *run, const char *name, int kind, size_t zone)
{
	struct query *q = &run->q[run->nq++];
	q->run = run;
	q->kind = (uint8_t)kind;
	q->zone = (uint8_t)zone;
	run->pending++;
	q->handle = run->r->start(run->r->ctx, name, DNS_T_A, answered, q);
}

static struct spam_dnsbl_run *run_new(const struct dns_resolver *r, void (*done)(void *arg),
				      void *arg)
{
	struct spam_dnsbl_run *run = xcalloc(1, sizeof *run);
	run->r = r;
	run->done = done;
	run->arg = arg;
	run->starting = 1;
	return run;
}

struct spam_dnsbl_run *spam_dnsbl_start(const struct dns_resolver *r,
					const struct spam_dnsbl_conf *ipconf, const char *ip,
					const struct spam_dnsbl_conf *domconf,
					const char *const *domains, size_t ndomains,
					void (*done)(void *arg), void *arg)
{
	struct spam_dnsbl_run *run = run_new(r, done, arg);
	char name[DNS_NAME_MAX];
	if (ipconf)
		run->conf[KIND_IP] = *ipconf;
	if (domconf)
		run->conf[KIND_DOMAIN] = *domconf;
	for (size_t z = 0; ip && z < run->conf[KIND_IP].n; z++)
		if (spam_dnsbl_ip_name(ip, run->conf[KIND_IP].z[z].zone, name, sizeof name) == 0)
			ask(run, name, KIND_IP, z);
	if (ndomains > SPAM_DNSBL_SUBJECTS_MAX)
		ndomains = SPAM_DNSBL_SUBJECTS_MAX;
	for (size_t d = 0; d < ndomains; d++) {
		int seen = !domains[d] || !domains[d][0];
		for (size_t e = 0; e < d && !seen; e++)
			seen = domains[e] && strcasecmp(domains[e], domains[d]) == 0;
		for (size_t z = 0; !seen && z < run->conf[KIND_DOMAIN].n; z++)
			if (spam_dnsbl_domain_name(domains[d], run->conf[KIND_DOMAIN].z[z].zone, name,
						   sizeof name) == 0)
				ask(run, name, KIND_DOMAIN, z);
	}
	run->starting = 0;
	return run;
}

struct spam_dnsbl_run *spam_hashbl_start(const struct dns_resolver *r,
					 const struct spam_dnsbl_conf *conf,
					 const struct spam_hashbl_subjects *subj,
					 void (*done)(void *arg), void *arg)
{
	struct spam_dnsbl_run *run = run_new(r, done, arg);
	const struct spam_dnsbl_conf *c = &run->conf[KIND_HASH];
	char name[DNS_NAME_MAX];
	run->conf[KIND_HASH] = *conf;
	for (size_t z = 0; z < c->n; z++) {
		const struct spam_dnsbl_zone *zn = &c->z[z];
		size_t n = zn->subject == SPAM_HASHBL_EMAIL    ? subj->nemails
			   : zn->subject == SPAM_HASHBL_WALLET ? subj->nwallets
			                                       : subj->nfiles;
		for (size_t i = 0; i < n && i < SPAM_DNSBL_SUBJECTS_MAX; i++) {
			const char *text = zn->subject == SPAM_HASHBL_EMAIL    ? subj->email[i]
			                   : zn->subject == SPAM_HASHBL_WALLET ? subj->wallet[i]
			                                                       : NULL;
			const uint8_t *d = zn->subject == SPAM_HASHBL_FILE ? subj->file[i] : NULL;
			if (spam_hashbl_name(zn, text, d, name, sizeof name) == 0)
				ask(run, name, KIND_HASH, z);
		}
	}
	run->starting = 0;
	return run;
}

size_t spam_dnsbl_pending(const struct spam_dnsbl_run *run)
{
	return run ? run->pending : 0;
}

void spam_dnsbl_result(const struct spam_dnsbl_run *run, struct spam_result *res)
{
	if (!run)
		return;
	for (int kind = 0; kind < KINDS; kind++)
		for (size_t z = 0; z < run->conf[kind].n; z++) {
			const struct spam_dnsbl_zone *zn = &run->conf[kind].z[z];
			int listed = 0;
			double w = 0;
			for (size_t i = 0; i < run->nq; i++) {
				const struct query *q = &run->q[i];
				if (q->kind != kind || q->zone != z || !q->listed)
					continue;
				if (!listed || q->weight > w)
					w = q->weight;
				listed = 1;
			}
			if (!listed)
				continue;
			char rule[SPAM_RULE_NAME_MAX];
			char desc[SPAM_RULE_DESC_MAX];
			spam_dnsbl_rule(kind_prefix[kind], zn, rule, sizeof rule);
			snprintf(desc, sizeof desc, "%s listed by %s",
				 kind == KIND_HASH ? subject_what[zn->subject] : kind_what[kind],
				 zn->name[0] ? zn->name : zn->zone);
			spam_result_add_desc(res, rule, w, desc);
		}
}

void spam_dnsbl_free(struct spam_dnsbl_run **runp)
{
	struct spam_dnsbl_run *run = *runp;
	if (!run)
		return;
	for (size_t i = 0; i < run->nq; i++)
		if (!run->q[i].done && run->q[i].handle)
			run->r->cancel(run->r->ctx, run->q[i].handle);
	free(run);
	*runp = NULL;
}
