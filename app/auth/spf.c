/*
 * spf.c — the resumable check_host() of RFC 7208. See spf.h.
 *
 * The evaluator is one struct: a stack of frames (the record being
 * evaluated at each include depth; redirect= replaces the top frame's
 * record in place, §6.1), the mechanism in progress with its target, the
 * host names an mx or ptr term is walking, and the one outstanding
 * query with what to do with its answer (enum wait). advance() does work
 * until a query is needed or the result is known; on_answer() consumes an
 * answer. Permanent and temporary errors end the whole evaluation at
 * once, at any depth (§5.2: an include's temperror or permerror is the
 * result), so only pass, fail, softfail, neutral and none ever return to
 * a parent frame.
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/alabels.h"
#include "auth/spf_record.h"
#include "core/xalloc.h"

#define DEPTH_MAX (SPF_LOOKUPS_MAX + 2)
#define SPF_EXPAND_MAX 2048 /* a domain-spec's expansion before it is cut */
#define NAME_MAX_ 256

struct frame {
	char domain[NAME_MAX_];
	char *rec; /* the record, NUL-terminated; NULL until fetched */
	size_t len, pos;
	int redirected;    /* reached through redirect=: "none" becomes permerror */
	char inc_qual;     /* the include's qualifier in the parent frame (0 at the top) */
	int has_all;
	struct str redirect, exp;
};

enum wait {
	W_NONE,      /* no query: walk the terms */
	W_TXT,       /* the frame's record */
	W_A,         /* "a": the target's addresses */
	W_MX,        /* "mx": the exchangers */
	W_MXADDR,    /* "mx": the addresses of names[ni] */
	W_PTR,       /* "ptr" or %{p}: the client address's names */
	W_PTRADDR,   /* ... the addresses of names[ni], to validate it */
	W_EXISTS,    /* "exists" */
	W_EXP,       /* the explanation's TXT record */
};

struct spf_eval {
	int ip6;
	uint8_t ip[16];
	char iptext[64];
	char sender[512], helo[NAME_MAX_], host[NAME_MAX_], top_domain[NAME_MAX_];
	int64_t now;

	struct frame *stack[DEPTH_MAX];
	int depth;
	int lookups, voids;
	unsigned queries;

	struct spf_term cur; /* the mechanism in progress (slices into the top frame's record) */
	char target[NAME_MAX_];
	char names[SPF_MX_PTR_NAMES_MAX][NAME_MAX_];
	int nnames, ni;
	int ptr_for_macro;   /* the PTR walk finds %{p}, not a "ptr" match */
	int ptr_known;
	char ptrname[NAME_MAX_];
	int explaining;      /* the result is fail; fetching the exp= explanation */
	char *exp_text;      /* the explanation record while %{p} is being found for it */

	int pending;
	enum wait wait;
	char qname[DNS_NAME_MAX]; /* text form: \DDD escapes (dns_msg.h) */
	uint16_t qtype;

	/* The records read, for spf_eval_record(): "domain\0record" each. */
	char *kept[SPF_KEPT_MAX];
	size_t nkept, kept_bytes;

	int done;
	enum spf_result result;
	char reason[320];
	char expl[SPF_EXPLANATION_MAX];
	int has_expl;
};

const char *spf_result_name(enum spf_result r)
{
	static const char *const n[] = { "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" };
	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "permerror";
}

static void finish(struct spf_eval *e, enum spf_result r, const char *why)
{
	if (e->done)
		return;
	e->done = 1;
	e->result = r;
	if (why != e->reason)
		snprintf(e->reason, sizeof e->reason, "%s", why);
}

static struct frame *top(struct spf_eval *e)
{
	return e->stack[e->depth - 1];
}

/* §4.3: a multi-label name, labels of 1..63 octets, 253 in all (a trailing dot allowed). */
static int domain_ok(const char *d)
{
	size_t n = strlen(d), label = 0, labels = 0;
	if (n && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || d[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

/*
 * An address where the identity's domain should be: a literal
 * ("[192.0.2.1]", a HELO of many clients without a name, or a MAIL FROM
 * domain) or a bare IPv4 address (a last label all digits, which no
 * top-level domain is). §2.3 and §4.3: no domain, "none", nothing asked.
 * Only for the identity: a domain-spec's target may be any name.
 */
static int address_literal(const char *d)
{
	size_t n = strlen(d);
	if (d[0] == '[')
		return 1;
	if (n && d[n - 1] == '.')
		n--;
	size_t i = n;
	while (i > 0 && d[i - 1] >= '0' && d[i - 1] <= '9')
		i--;
	return i < n && (i == 0 || d[i - 1] == '.');
}

/* Asks for a name already in DNS text form (one an answer gave: dns_msg.h). */
static void ask_text(struct spf_eval *e, const char *name, uint16_t type, enum wait w)
{
	if (++e->queries > SPF_QUERIES_MAX) {
		finish(e, SPF_PERMERROR, "DNS query budget of one evaluation exceeded");
		return;
	}
	snprintf(e->qname, sizeof e->qname, "%s", name);
	e->qtype = type;
	e->wait = w;
	e->pending = 1;
}

/*
 * Asks for a name of raw label octets: a domain from the identity or a
 * record, possibly macro-expanded. Any octet but '.' may be in a label
 * (§7.3: %_ and %- put spaces and "%20" there, %{l} a backslash), so it
 * goes into text form, where c-ares would read a backslash as an escape
 * and the answer's owner name has a space as \032.
 */
static void ask(struct spf_eval *e, const char *raw, uint16_t type, enum wait w)
{
	char text[DNS_NAME_MAX];
	if (dns_name_text(raw, text, sizeof text) < 0) {
		finish(e, SPF_PERMERROR, "a name too long to ask for"); /* domain_ok() bounds it */
		return;
	}
	ask_text(e, text, type, w);
}

static void macro_ctx(struct spf_eval *e, struct spf_macro_ctx *c)
{
	*c = (struct spf_macro_ctx){
		.sender = e->sender,
		.domain = e->depth ? top(e)->domain : e->top_domain,
		.ip = e->iptext,
		.ip6 = e->ip6,
		.ip16 = e->ip,
		.helo = e->helo,
		.ptr = e->ptr_known ? e->ptrname : NULL,
		.host = e->host,
		.now = e->now,
	};
}

/* Expands a domain-spec into e->target; -1 (the evaluation finished) on a permerror. */
static int expand_target(struct spf_eval *e, struct str spec)
{
	struct spf_macro_ctx c;
	/* Room for the expansion before §7.3 cuts it to 253 octets: a
	 * sender of 512 twice and some; only more than that is refused. */
	char full[SPF_EXPAND_MAX];
	macro_ctx(e, &c);
	int n = spf_macro_expand(spec, 0, &c, full, sizeof full);
	if (n < 0 || (size_t)n >= sizeof e->target) {
		finish(e, SPF_PERMERROR, "a domain-spec does not expand to a name");
		return -1;
	}
	memcpy(e->target, full, (size_t)n + 1);
	return 0;
}

/* A record read, kept for spf_eval_record() while there is room. */
static void keep_record(struct spf_eval *e, const char *domain, const char *rec, size_t len)
{
	size_t dl = strlen(domain), need = dl + 1 + len + 1;
	if (e->nkept == SPF_KEPT_MAX || e->kept_bytes + need > SPF_KEPT_BYTES)
		return;
	char *k = xmalloc(need);
	memcpy(k, domain, dl + 1);
	memcpy(k + dl + 1, rec, len);
	k[dl + 1 + len] = '\0';
	e->kept[e->nkept++] = k;
	e->kept_bytes += need;
}

int spf_eval_record(const struct spf_eval *e, size_t i, const char **domain_r, const char **rec_r)
{
	if (i >= e->nkept)
		return 0;
	*domain_r = e->kept[i];
	*rec_r = e->kept[i] + strlen(e->kept[i]) + 1;
	return 1;
}

/* Fetches the record of domain into a frame: a new one (include) or the top one (redirect). */
static void start_frame(struct spf_eval *e, const char *domain, int redirect, char inc_qual)
{
	struct frame *f;
	if (redirect) {
		f = top(e);
		free(f->rec);
		inc_qual = f->inc_qual;
	} else {
		if (e->depth == DEPTH_MAX) {
			finish(e, SPF_PERMERROR, "includes nested too deep");
			return;
		}
		f = e->stack[e->depth++] = xmalloc(sizeof *f);
	}
	memset(f, 0, sizeof *f);
	f->redirected = redirect;
	f->inc_qual = inc_qual;
	snprintf(f->domain, sizeof f->domain, "%s", domain);
	size_t n = strlen(f->domain);
	if (n > 1 && f->domain[n - 1] == '.')
		f->domain[n - 1] = '\0';
	int top_frame = e->depth == 1 && !redirect;
	if (!domain_ok(domain) || (top_frame && address_literal(domain))) {
		/* Malformed: "none" (§4.3), which an include or redirect turns into permerror. */
		if (top_frame)
			finish(e, SPF_NONE, "the domain is not a valid name");
		else
			finish(e, SPF_PERMERROR, "an include or redirect names an invalid domain");
		return;
	}
	ask(e, f->domain, DNS_T_TXT, W_TXT);
}

static enum spf_result qual_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

static void explain(struct spf_eval *e, const char *text);

/* The frame on top ended with r (pass, fail, softfail, neutral or none). */
static void frame_end(struct spf_eval *e, enum spf_result r, const char *why)
{
	struct frame *f = top(e);
	if (r == SPF_NONE && (f->redirected || e->depth > 1)) {
		finish(e, SPF_PERMERROR, f->redirected ? "redirect= to a domain without an SPF record"
						      : "include: of a domain without an SPF record");
		return;
	}
	if (e->depth == 1) {
		snprintf(e->reason, sizeof e->reason, "%s", why);
		if (r == SPF_FAIL && f->exp.len) {
			/* §6.2: exp= of the top record only; failures to explain are silent. */
			e->result = r;
			e->explaining = 1;
			explain(e, NULL);
			return;
		}
		finish(e, r, why);
		return;
	}
	char q = f->inc_qual, w[320];
	snprintf(w, sizeof w, "matched include:%s", f->domain);
	free(f->rec);
	free(f);
	e->depth--;
	e->wait = W_NONE;
	if (r == SPF_PASS)
		frame_end(e, qual_result(q), w);
	/* fail, softfail, neutral: the include did not match; the parent goes on. */
}

static void reverse_name(struct spf_eval *e, char *out, size_t outsz)
{
	dns_reverse_name(e->ip, e->ip6, out, outsz);
}

static void start_ptr_walk(struct spf_eval *e, int for_macro)
{
	char rev[NAME_MAX_];
	e->ptr_for_macro = for_macro;
	reverse_name(e, rev, sizeof rev);
	ask(e, rev, DNS_T_PTR, W_PTR);
}

static int cidr_match(const uint8_t *net, const uint8_t *ip, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++) {
		unsigned sh = 7 - i % 8;
		if ((net[i / 8] >> sh & 1) != (ip[i / 8] >> sh & 1))
			return 0;
	}
	return 1;
}

/* Does an A or AAAA answer hold the client address (within the term's CIDR length)? */
static int answer_has_ip(struct spf_eval *e, const struct dns_answer *a, unsigned bits)
{
	for (size_t i = 0; i < a->nrr; i++) {
		const struct dns_rr *r = &a->rr[i];
		if (r->len == (e->ip6 ? 16u : 4u) && cidr_match(a->data + r->off, e->ip, bits))
			return 1;
	}
	return 0;
}

/* Counts a lookup of a DNS mechanism; 0, or -1 when the limit is passed (finished). */
static int count_lookup(struct spf_eval *e)
{
	if (++e->lookups > SPF_LOOKUPS_MAX) {
		finish(e, SPF_PERMERROR, "more than 10 DNS lookups");
		return -1;
	}
	return 0;
}

/* Counts a void lookup (§4.6.4); -1 when the limit is passed (finished). */
static int count_void(struct spf_eval *e, const struct dns_answer *a)
{
	if (a->status != DNS_ANS_NXDOMAIN && a->status != DNS_ANS_NODATA)
		return 0;
	if (++e->voids > SPF_VOID_MAX) {
		finish(e, SPF_PERMERROR, "more than 2 void DNS lookups");
		return -1;
	}
	return 0;
}

static void matched(struct spf_eval *e, const char *what)
{
	char w[320];
	struct frame *f = top(e);
	snprintf(w, sizeof w, "matched %c%s in the record of %s", e->cur.qual, what, f->domain);
	e->wait = W_NONE;
	frame_end(e, qual_result(e->cur.qual), w);
}

/* Evaluates the term t of the top frame. Returns 1 when it started a query or ended the frame. */
static int eval_term(struct spf_eval *e, const struct spf_term *t)
{
	struct frame *f = top(e);
	e->cur = *t;
	switch (t->kind) {
	case SPF_T_ALL:
		matched(e, "all");
		return 1;
	case SPF_T_IP4:
		if (!e->ip6 && cidr_match(t->net, e->ip, t->cidr4)) {
			matched(e, "ip4");
			return 1;
		}
		return 0;
	case SPF_T_IP6:
		if (e->ip6 && cidr_match(t->net, e->ip, t->cidr6)) {
			matched(e, "ip6");
			return 1;
		}
		return 0;
	case SPF_T_INCLUDE:
	case SPF_T_A:
	case SPF_T_MX:
	case SPF_T_PTR:
	case SPF_T_EXISTS:
		break;
	default:
		return 0; /* modifiers act at the end of the record */
	}
	if (count_lookup(e) < 0)
		return 1;
	if (t->spec.len) {
		if (expand_target(e, t->spec) < 0)
			return 1;
	} else {
		snprintf(e->target, sizeof e->target, "%s", f->domain);
	}
	switch (t->kind) {
	case SPF_T_INCLUDE: {
		char d[NAME_MAX_];
		memcpy(d, e->target, sizeof d);
		start_frame(e, d, 0, t->qual);
		return 1;
	}
	case SPF_T_A: ask(e, e->target, e->ip6 ? DNS_T_AAAA : DNS_T_A, W_A); return 1;
	case SPF_T_MX: ask(e, e->target, DNS_T_MX, W_MX); return 1;
	case SPF_T_EXISTS: ask(e, e->target, DNS_T_A, W_EXISTS); return 1;
	default: start_ptr_walk(e, 0); return 1;
	}
}

/* Walks the top frame's terms until a query starts or the frame ends. */
static void walk_terms(struct spf_eval *e)
{
	struct frame *f = top(e);
	struct spf_term t;

	for (;;) {
		size_t before = f->pos;
		int r = spf_term_next(f->rec, f->len, &f->pos, &t);
		if (r < 0) {
			finish(e, SPF_PERMERROR, "syntax error"); /* checked before: cannot happen */
			return;
		}
		struct str needs_ptr = r == 0 ? f->redirect : t.spec;
		if ((r == 0 ? !f->has_all : t.kind < SPF_T_REDIRECT) && !e->ptr_known &&
		    spf_macro_uses_ptr(needs_ptr)) {
			f->pos = before; /* come back to this term once %{p} is known */
			start_ptr_walk(e, 1);
			return;
		}
		if (r == 0)
			break;
		if (eval_term(e, &t))
			return;
	}
	/* §6.1: redirect= applies when no mechanism matched and the record has no "all". */
	if (f->redirect.len && !f->has_all) {
		if (count_lookup(e) < 0 || expand_target(e, f->redirect) < 0)
			return;
		char d[NAME_MAX_];
		memcpy(d, e->target, sizeof d);
		start_frame(e, d, 1, 0);
		return;
	}
	frame_end(e, SPF_NEUTRAL, "no mechanism matched");
}

static void on_txt(struct spf_eval *e, const struct dns_answer *a)
{
	struct frame *f = top(e);
	const char *rec = NULL;
	size_t n = 0, reclen = 0;
	const char *why;

	if (a->status == DNS_ANS_TEMP) {
		finish(e, SPF_TEMPERROR, "DNS error fetching the SPF record");
		return;
	}
	for (size_t i = 0; i < a->nrr; i++) {
		/* The bytes, not dns_rr_text(): an SPF record with a NUL inside
		 * is one, and a syntax error (a permerror), not "none". */
		const char *t = (const char *)a->data + a->rr[i].off;
		if (a->rr[i].type == DNS_T_TXT && spf_record_is_spf(t, a->rr[i].len)) {
			rec = t;
			reclen = a->rr[i].len;
			n++;
		}
	}
	if (n == 0 && a->truncated) {
		/* More TXT records than an answer keeps (dns_msg.h): the SPF
		 * record may be among those dropped, so "none" would be a guess. */
		finish(e, SPF_TEMPERROR, "too many TXT records to find the SPF record among");
		return;
	}
	if (n == 0) {
		frame_end(e, SPF_NONE, "no SPF record");
		return;
	}
	if (n > 1) {
		finish(e, SPF_PERMERROR, "more than one SPF record");
		return;
	}
	if (reclen >= SPF_RECORD_MAX) {
		finish(e, SPF_PERMERROR, "SPF record too long");
		return;
	}
	if (spf_record_check(rec, reclen, &why) < 0) {
		finish(e, SPF_PERMERROR, why);
		return;
	}
	f->rec = xmalloc(reclen + 1);
	memcpy(f->rec, rec, reclen);
	f->rec[reclen] = '\0';
	f->len = reclen;
	keep_record(e, f->domain, f->rec, reclen);
	f->pos = 6;
	struct spf_term t;
	for (size_t p = 6; spf_term_next(f->rec, f->len, &p, &t) == 1;) {
		if (t.kind == SPF_T_REDIRECT)
			f->redirect = t.spec;
		else if (t.kind == SPF_T_EXP)
			f->exp = t.spec;
		else if (t.kind == SPF_T_ALL)
			f->has_all = 1;
	}
	e->wait = W_NONE;
}

static int name_under(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);
	return n == d ? strcasecmp(name, dom) == 0
		      : n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, dom) == 0;
}

/* Takes up to 10 names from a PTR answer (§5.5: more are ignored), in the order to try them. */
static void ptr_names(struct spf_eval *e, const struct dns_answer *a)
{
	const char *dom = e->ptr_for_macro ? top(e)->domain : e->target;
	e->nnames = e->ni = 0;
	/* For %{p}: the domain itself first, then its subdomains, then any (§7.3). The "ptr" mechanism takes only the first two. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < a->nrr && i < SPF_MX_PTR_NAMES_MAX; i++) {
			const char *n = dns_rr_text(a, i);
			int rank = strcasecmp(n, dom) == 0 ? 0 : name_under(n, dom) ? 1 : 2;
			if (rank != pass || (rank == 2 && !e->ptr_for_macro))
				continue;
			snprintf(e->names[e->nnames++], NAME_MAX_, "%s", n);
		}
	}
}

static void ptr_walk_done(struct spf_eval *e, const char *validated)
{
	if (!e->ptr_for_macro) {
		if (validated)
			matched(e, "ptr");
		else
			e->wait = W_NONE;
		return;
	}
	e->ptr_known = 1;
	snprintf(e->ptrname, sizeof e->ptrname, "%s", validated ? validated : "unknown");
	e->wait = W_NONE;
	if (e->explaining)
		explain(e, e->exp_text);
}

static void next_ptr_name(struct spf_eval *e)
{
	if (e->ni >= e->nnames) {
		ptr_walk_done(e, NULL);
		return;
	}
	ask_text(e, e->names[e->ni], e->ip6 ? DNS_T_AAAA : DNS_T_A, W_PTRADDR);
}

static void next_mx_name(struct spf_eval *e)
{
	if (e->ni >= e->nnames) {
		e->wait = W_NONE; /* no exchanger had the address */
		return;
	}
	ask_text(e, e->names[e->ni], e->ip6 ? DNS_T_AAAA : DNS_T_A, W_MXADDR);
}

/*
 * The explanation (§6.2): text is the TXT record fetched, or NULL when
 * %{p} had to be found first for the exp= domain-spec itself.
 */
static void explain(struct spf_eval *e, const char *text)
{
	struct spf_macro_ctx c;
	struct frame *f = top(e);

	if (!e->ptr_known && spf_macro_uses_ptr(text ? str_c(text) : f->exp)) {
		/* %{p} needed: keep the text, find the name, come back here. */
		if (text && !e->exp_text) {
			e->exp_text = xmalloc(strlen(text) + 1);
			memcpy(e->exp_text, text, strlen(text) + 1);
		}
		start_ptr_walk(e, 1);
		return;
	}
	if (!text) {
		if (expand_target(e, f->exp) == 0 && domain_ok(e->target))
			ask(e, e->target, DNS_T_TXT, W_EXP);
		else
			finish(e, SPF_FAIL, e->reason);
		return;
	}
	macro_ctx(e, &c);
	struct str s = str_c(text);
	if (spf_macro_check(s, 1) == 0 && spf_macro_expand(s, 1, &c, e->expl, sizeof e->expl) >= 0)
		e->has_expl = 1;
	else
		e->expl[0] = '\0';
	finish(e, SPF_FAIL, e->reason);
}

static void on_answer(struct spf_eval *e, const struct dns_answer *a)
{
	switch (e->wait) {
	case W_TXT:
		on_txt(e, a);
		return;
	case W_A:
	case W_EXISTS:
		if (a->status == DNS_ANS_TEMP) {
			finish(e, SPF_TEMPERROR, "DNS error in an a or exists lookup");
			return;
		}
		if (count_void(e, a) < 0)
			return;
		if (e->wait == W_EXISTS ? a->nrr > 0 : answer_has_ip(e, a, e->ip6 ? e->cur.cidr6 : e->cur.cidr4))
			matched(e, e->wait == W_EXISTS ? "exists" : "a");
		else
			e->wait = W_NONE;
		return;
	case W_MX:
		if (a->status == DNS_ANS_TEMP) {
			finish(e, SPF_TEMPERROR, "DNS error in an mx lookup");
			return;
		}
		if (count_void(e, a) < 0)
			return;
		if (a->nrr > SPF_MX_PTR_NAMES_MAX) {
			finish(e, SPF_PERMERROR, "more than 10 MX records");
			return;
		}
		e->nnames = e->ni = 0;
		for (size_t i = 0; i < a->nrr; i++)
			if (dns_rr_text(a, i)[0]) /* a null MX names no host */
				snprintf(e->names[e->nnames++], NAME_MAX_, "%s", dns_rr_text(a, i));
		next_mx_name(e);
		return;
	case W_MXADDR:
		if (a->status == DNS_ANS_TEMP) {
			finish(e, SPF_TEMPERROR, "DNS error looking up an exchanger's address");
			return;
		}
		if (answer_has_ip(e, a, e->ip6 ? e->cur.cidr6 : e->cur.cidr4)) {
			matched(e, "mx");
			return;
		}
		e->ni++;
		next_mx_name(e);
		return;
	case W_PTR:
		/* §5.5: a DNS error makes "ptr" not match (and %{p} "unknown"). */
		if (!e->ptr_for_macro && count_void(e, a) < 0)
			return;
		if (a->status != DNS_ANS_OK) {
			ptr_walk_done(e, NULL);
			return;
		}
		ptr_names(e, a);
		next_ptr_name(e);
		return;
	case W_PTRADDR:
		if (a->status == DNS_ANS_OK && answer_has_ip(e, a, e->ip6 ? 128 : 32)) {
			ptr_walk_done(e, e->names[e->ni]);
			return;
		}
		e->ni++;
		next_ptr_name(e);
		return;
	case W_EXP: {
		const char *text = NULL;
		/* A NUL is outside the macro-string's grammar: no explanation
		 * (§6.2), where its "" text would give an empty one. */
		if (a->status == DNS_ANS_OK && a->nrr == 1 &&
		    !memchr(a->data + a->rr[0].off, 0, a->rr[0].len))
			text = dns_rr_text(a, 0);
		if (!text) {
			finish(e, SPF_FAIL, e->reason);
			return;
		}
		explain(e, text);
		return;
	}
	case W_NONE:
		return;
	}
}

static void advance(struct spf_eval *e)
{
	if (e->depth == 0) {
		start_frame(e, e->top_domain, 0, 0);
		return;
	}
	walk_terms(e);
}

enum spf_step spf_eval_step(struct spf_eval *e, const char **name_r, uint16_t *type_r)
{
	while (!e->done && !e->pending)
		advance(e);
	if (e->done)
		return SPF_STEP_DONE;
	*name_r = e->qname;
	*type_r = e->qtype;
	return SPF_STEP_QUERY;
}

void spf_eval_answer(struct spf_eval *e, const struct dns_answer *a)
{
	if (!e->pending || e->done)
		return;
	e->pending = 0;
	on_answer(e, a);
}

static int ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

struct spf_eval *spf_eval_new(enum spf_identity id, const char *ip, const char *sender,
			      const char *helo, const char *host, int64_t now)
{
	uint8_t b[16];
	struct spf_eval *e;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	e = xcalloc(1, sizeof *e);
	if (inet_pton(AF_INET, ip, b) == 1) {
		memcpy(e->ip, b, 4);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		if (memcmp(b, mapped, 12) == 0) {
			memcpy(e->ip, b + 12, 4);
		} else {
			memcpy(e->ip, b, 16);
			e->ip6 = 1;
		}
	} else {
		free(e);
		return NULL;
	}
	inet_ntop(e->ip6 ? AF_INET6 : AF_INET, e->ip, e->iptext, sizeof e->iptext);
	snprintf(e->helo, sizeof e->helo, "%s", helo ? helo : "");
	snprintf(e->host, sizeof e->host, "%s", host ? host : "");
	e->now = now;
	/* §2.4: the null path checks postmaster@HELO; §4.3: no local-part means postmaster. */
	const char *at = sender ? strrchr(sender, '@') : NULL;
	int n;
	if (id == SPF_ID_HELO || !sender || !*sender)
		n = snprintf(e->sender, sizeof e->sender, "postmaster@%s", e->helo);
	else if (!at)
		n = snprintf(e->sender, sizeof e->sender, "postmaster@%s", sender);
	else if (at == sender)
		n = snprintf(e->sender, sizeof e->sender, "postmaster%s", sender);
	else
		n = snprintf(e->sender, sizeof e->sender, "%s", sender);
	/* Longer than any SMTP path (RFC 5321 §4.5.3.1.3: 256 octets): cut,
	 * it could lose its "@" and its domain; no domain is checked, so the
	 * result is "none" (§4.3). */
	if (n < 0 || (size_t)n >= sizeof e->sender)
		snprintf(e->sender, sizeof e->sender, "postmaster@");
	char *dom = strrchr(e->sender, '@') + 1;
	if (!ascii(dom)) {
		/* RFC 8616 §4: an SMTPUTF8 sender's domain is checked at its
		 * A-labels (and %{d}, %{o}, %{s} say them); the local-part
		 * stays as sent. No A-label: no domain to check, "none". */
		char a[NAME_MAX_];
		if (auth_domain_alabels(dom, a, sizeof a) < 0 ||
		    (size_t)(dom - e->sender) + strlen(a) >= sizeof e->sender)
			a[0] = '\0';
		memcpy(dom, a, strlen(a) + 1);
	}
	snprintf(e->top_domain, sizeof e->top_domain, "%s", dom);
	return e;
}

void spf_eval_free(struct spf_eval **ep)
{
	struct spf_eval *e = *ep;
	if (!e)
		return;
	*ep = NULL;
	for (int i = 0; i < e->depth; i++) {
		free(e->stack[i]->rec);
		free(e->stack[i]);
	}
	for (size_t i = 0; i < e->nkept; i++)
		free(e->kept[i]);
	free(e->exp_text);
	free(e);
}

void spf_eval_abort(struct spf_eval *e, const char *why)
{
	e->pending = 0;
	/* The result is fail already while exp= is being fetched: only the
	 * explanation is lost (§6.2: a DNS error there means no exp=). */
	if (e->explaining)
		finish(e, SPF_FAIL, e->reason);
	else
		finish(e, SPF_TEMPERROR, why);
}

enum spf_result spf_eval_result(const struct spf_eval *e)
{
	return e->done ? e->result : SPF_TEMPERROR;
}

const char *spf_eval_explanation(const struct spf_eval *e)
{
	return e->done && e->has_expl ? e->expl : NULL;
}

const char *spf_eval_reason(const struct spf_eval *e)
{
	return e->reason;
}

const char *spf_eval_domain(const struct spf_eval *e)
{
	return e->top_domain;
}

unsigned spf_eval_queries(const struct spf_eval *e)
{
	return e->queries;
}
