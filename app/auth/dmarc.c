/*
 * dmarc.c — the DMARC evaluator. See dmarc.h.
 *
 * State is the table of answers (struct entry) plus the one query in
 * flight. advance() recomputes the whole evaluation from the table each
 * time: the Author Domain's walk, the policy, the existence check and the
 * identifiers' walks, in that order, and stops at the first name it has
 * no answer for. With at most DMARC_QUERIES_MAX entries that costs
 * little, and it keeps the order of work in one readable function instead
 * of a state enum.
 */
#include "auth/dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "dns/dns_msg.h"

enum { DMARC_NO_RECORD, DMARC_ONE_RECORD, DMARC_TEMP };
/* An existence query's answer (DMARC_TEMP apart). */
enum exist { EXIST_NXDOMAIN = 0, EXIST_NODATA = 1, EXIST_RECORDS = 3 };

struct entry {
	char name[DMARC_DOMAIN_MAX]; /* the domain (not the _dmarc name) */
	uint16_t type;               /* TXT: its _dmarc record; A, AAAA, MX: does it exist */
	int state;                   /* TXT: DMARC_*; else an enum exist or DMARC_TEMP */
	char *text;                  /* the record's text (rec's slices point here) */
	struct dmarc_record rec;
};

/* dmarc_org_new()'s names; state[i] is 0 found (found[i]), -1 none, -2
 * temporary. */
struct org_walks {
	char names[DMARC_ORG_NAMES_MAX][DMARC_DOMAIN_MAX];
	char found[DMARC_ORG_NAMES_MAX][DMARC_DOMAIN_MAX];
	int state[DMARC_ORG_NAMES_MAX];
	size_t n;
};

struct dmarc_eval {
	char author[DMARC_DOMAIN_MAX];
	int author_ok;
	char spf_domain[DMARC_DOMAIN_MAX];
	int spf_pass, spf_temp;
	char dkim[DMARC_DKIM_MAX][DMARC_DOMAIN_MAX];
	size_t ndkim;
	/* Identifiers whose check failed temporarily (dmarc_input): the MAIL
	 * FROM domain first when SPF's did, then the DKIM d=. */
	char temp[DMARC_DKIM_MAX][DMARC_DOMAIN_MAX]; /* SPF's and up to DMARC_DKIM_MAX - 1 d= */
	size_t ntemp;

	struct entry tab[DMARC_QUERIES_MAX];
	unsigned n;

	int pending;
	char qname[DMARC_DOMAIN_MAX + 8];
	char qdomain[DMARC_DOMAIN_MAX];
	uint16_t qtype;

	/* dmarc_org_new() only: the names whose Organizational Domains are
	 * wanted, apart so that a message's evaluation does not carry them. */
	struct org_walks *org;

	unsigned sample; /* dmarc_input.sample */
	int done;
	struct dmarc_verdict v;
};

/* What a walk found: the records in the order met (longest name first). */
struct walk {
	const struct entry *found[DMARC_WALK_MAX];
	size_t nfound;
	char org[DMARC_DOMAIN_MAX];
};

enum need { READY, NEED, TEMP, BUDGET };

const char *dmarc_result_name(enum dmarc_result r)
{
	static const char *const n[] = { "none", "pass", "fail", "temperror", "permerror" };
	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "permerror";
}

static size_t labels(const char *d)
{
	size_t n = 1;
	for (; *d; d++)
		n += *d == '.';
	return n;
}

/* The name with its leftmost labels removed until keep remain. */
static const char *last_labels(const char *d, size_t keep)
{
	size_t n = labels(d);
	while (n-- > keep)
		d = strchr(d, '.') + 1;
	return d;
}

static const struct entry *find(const struct dmarc_eval *e, const char *name, uint16_t type)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->tab[i].type == type && strcmp(e->tab[i].name, name) == 0)
			return &e->tab[i];
	return NULL;
}

/* The entry for (name, type), or asks for it: NEED, or BUDGET when no query is left. */
static enum need lookup(struct dmarc_eval *e, const char *name, uint16_t type, const struct entry **r)
{
	*r = find(e, name, type);
	if (*r)
		return (*r)->state == DMARC_TEMP ? TEMP : READY;
	if (e->n == DMARC_QUERIES_MAX)
		return BUDGET;
	snprintf(e->qdomain, sizeof e->qdomain, "%s", name);
	snprintf(e->qname, sizeof e->qname, "%s%s", type == DNS_T_TXT ? "_dmarc." : "", name);
	e->qtype = type;
	e->pending = 1;
	return NEED;
}

/*
 * The Tree Walk (§4.10) from start, then the Organizational Domain
 * selection of §4.10.2 into w->org.
 */
static enum need walk(struct dmarc_eval *e, const char *start, struct walk *w)
{
	const char *target = start;
	size_t x = labels(start);

	w->nfound = 0;
	for (int q = 0; q < DMARC_WALK_MAX; q++) {
		const struct entry *en;
		enum need r = lookup(e, target, DNS_T_TXT, &en);
		if (r != READY)
			return r;
		if (en->state == DMARC_ONE_RECORD) {
			w->found[w->nfound++] = en;
			if (en->rec.psd != DMARC_PSD_U)
				break;
		}
		/* Steps 3, 4 and 7: one label less, or straight to 7 labels from a longer start. */
		size_t cur = labels(target);
		if (cur == 1)
			break;
		target = (q == 0 && x >= 8) ? last_labels(start, 7) : strchr(target, '.') + 1;
	}

	snprintf(w->org, sizeof w->org, "%s", start);
	for (size_t i = 0; i < w->nfound; i++) {
		const struct entry *f = w->found[i];
		if (f->rec.psd == DMARC_PSD_N) {
			snprintf(w->org, sizeof w->org, "%s", f->name);
			return READY;
		}
		if (f->rec.psd == DMARC_PSD_Y && strcmp(f->name, start) != 0) {
			snprintf(w->org, sizeof w->org, "%s", last_labels(start, labels(f->name) + 1));
			return READY;
		}
	}
	if (w->nfound)
		snprintf(w->org, sizeof w->org, "%s", w->found[w->nfound - 1]->name);
	return READY;
}

/* The record's fo= (blanks dropped) and whether it names ruf= that may
 * be used: RFC 9991 says report generators "MUST NOT consider" the ruf=
 * of a record with psd=y (a Public Suffix Operator's), so such a verdict
 * queues no failure report (report/dmarc_fail.c, smtp_checks.c). */
static void report_tags(struct dmarc_verdict *v, const struct dmarc_record *rec)
{
	size_t n = 0;
	for (size_t i = 0; i < rec->fo.len && n + 1 < sizeof v->fo; i++)
		if (rec->fo.p[i] != ' ' && rec->fo.p[i] != '\t')
			v->fo[n++] = rec->fo.p[i];
	if (n == 0)
		v->fo[n++] = '0';
	v->fo[n] = '\0';
	v->has_ruf = rec->ruf.len > 0 && rec->psd != DMARC_PSD_Y;
	v->adkim = rec->adkim;
	v->aspf = rec->aspf;
}

static void finish(struct dmarc_eval *e, enum dmarc_result r, const char *why)
{
	e->done = 1;
	e->v.result = r;
	snprintf(e->v.reason, sizeof e->v.reason, "%s", why);
}

static enum dmarc_policy lower(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

/* id is org or a name under it (ASCII case ignored). */
static int at_or_under(const char *id, const char *org)
{
	size_t il = strlen(id), ol = strlen(org);
	return ol > 0 && (il == ol ? strcasecmp(id, org) == 0
				   : il > ol && id[il - ol - 1] == '.' && strcasecmp(id + il - ol, org) == 0);
}

int dmarc_verdict_aligned(const struct dmarc_verdict *v, const char *domain, char mode)
{
	if (!v->policy_domain[0] || !domain || !*domain)
		return 0;
	if (strcasecmp(domain, v->header_from) == 0)
		return 1;
	return mode != 's' && at_or_under(domain, v->org_domain);
}

/*
 * Is id aligned with the Author Domain (org: its Organizational Domain)?
 * READY with *yes set, or what the walk needs.
 */
static enum need aligned(struct dmarc_eval *e, const char *id, char mode, const char *org, int *yes)
{
	*yes = strcmp(id, e->author) == 0;
	if (*yes || mode == 's')
		return READY;
	/* Same Organizational Domain: id must be org or under it, or no walk can match. */
	if (!at_or_under(id, org))
		return READY;
	struct walk w;
	enum need r = walk(e, id, &w);
	if (r == READY)
		*yes = strcmp(w.org, org) == 0;
	return r;
}

/*
 * Does the Author Domain exist (RFC 9091 §2.1)? It does not when a query
 * gives NXDOMAIN, or when A, AAAA and MX all give NODATA; the queries
 * stop at the first answer that decides. READY with *yes set, or what the
 * evaluation needs.
 */
static enum need exists(struct dmarc_eval *e, int *yes)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		const struct entry *ex;
		enum need r = lookup(e, e->author, types[i], &ex);
		if (r != READY)
			return r;
		if (ex->state != EXIST_NODATA) {
			*yes = ex->state == EXIST_RECORDS;
			return READY;
		}
	}
	*yes = 0;
	return READY;
}

/* Picks the record (§4.10.1) and sets the policy fields; 0, or -1 when finished. */
static int choose_policy(struct dmarc_eval *e, const struct walk *w, const struct entry **rec_r)
{
	const struct entry *at_author = find(e, e->author, DNS_T_TXT), *use = NULL;
	if (at_author && at_author->state == DMARC_ONE_RECORD) {
		use = at_author;
	} else {
		/* The Organizational Domain's record, else the PSD's (psd=y). */
		for (size_t i = 0; i < w->nfound; i++)
			if (strcmp(w->found[i]->name, w->org) == 0)
				use = w->found[i];
		for (size_t i = 0; !use && i < w->nfound; i++)
			if (w->found[i]->rec.psd == DMARC_PSD_Y)
				use = w->found[i];
	}
	if (!use) {
		finish(e, DMARC_RESULT_NONE, "no DMARC record");
		return -1;
	}
	*rec_r = use;
	snprintf(e->v.policy_domain, sizeof e->v.policy_domain, "%s", use->name);
	report_tags(&e->v, &use->rec);
	e->v.testing = use->rec.testing;
	e->v.pct = use->rec.has_pct && !use->rec.has_t ? use->rec.pct : 100;
	return 0;
}

/*
 * The walk above the Author Domain failed temporarily, but its own record
 * is known: an identifier equal to the Author Domain aligns in any mode
 * without the Organizational Domain, so a parent's DNS trouble need not
 * turn that pass into a temperror. 1 when it finished the evaluation.
 */
static int exact_pass(struct dmarc_eval *e)
{
	const struct entry *own = find(e, e->author, DNS_T_TXT);
	if (!own || own->state != DMARC_ONE_RECORD || own->rec.p == DMARC_POLICY_INVALID)
		return 0;
	int spf = e->spf_pass && strcmp(e->spf_domain, e->author) == 0, dkim = 0;
	for (size_t i = 0; i < e->ndkim && !spf && !dkim; i++)
		dkim = strcmp(e->dkim[i], e->author) == 0;
	if (!spf && !dkim)
		return 0;
	snprintf(e->v.policy_domain, sizeof e->v.policy_domain, "%s", e->author);
	report_tags(&e->v, &own->rec);
	e->v.policy = own->rec.p == DMARC_POLICY_ABSENT ? DMARC_POLICY_NONE : own->rec.p;
	e->v.policy_tag = "p";
	e->v.testing = own->rec.testing;
	e->v.spf_aligned = spf;
	e->v.dkim_aligned = dkim;
	if (dkim)
		snprintf(e->v.dkim_domain, sizeof e->v.dkim_domain, "%s", e->author);
	e->v.disposition = DMARC_POLICY_NONE;
	finish(e, DMARC_RESULT_PASS, spf ? "SPF pass aligned (strict)" : "DKIM pass aligned (strict)");
	return 1;
}

/*
 * dmarc_org_new()'s pass: every name's walk in turn. A walk that failed
 * temporarily, or that the budget cut short, leaves that name unknown
 * and the next ones still walked (their answers may be in the table).
 */
static void advance_org(struct dmarc_eval *e)
{
	struct org_walks *o = e->org;
	for (size_t i = 0; i < o->n; i++) {
		struct walk w;
		if (!o->names[i][0]) {
			o->state[i] = -1; /* not a domain name */
			continue;
		}
		enum need r = walk(e, o->names[i], &w);
		if (r == NEED)
			return;
		o->state[i] = r == READY ? 0 : r == TEMP ? -2 : -1;
		snprintf(o->found[i], sizeof o->found[i], "%s", r == READY ? w.org : "");
	}
	finish(e, DMARC_RESULT_NONE, "Organizational Domains found");
}

/* One pass over the evaluation; returns with e->pending or e->done set. */
static void advance(struct dmarc_eval *e)
{
	struct walk w;
	const struct entry *pol;
	enum need r;

	if (e->org) {
		advance_org(e);
		return;
	}
	if (!e->author_ok) {
		finish(e, DMARC_RESULT_NONE, "no usable Author Domain");
		return;
	}
	/* 1. Policy discovery and the Author Domain's Organizational Domain. */
	if ((r = walk(e, e->author, &w)) == TEMP && exact_pass(e))
		return;
	if (r != READY)
		goto stop;
	snprintf(e->v.org_domain, sizeof e->v.org_domain, "%s", w.org);
	if (choose_policy(e, &w, &pol) < 0)
		return;
	const struct dmarc_record *rec = &pol->rec;

	/* 2. Which tag: p= at the Author Domain, else sp= or np= (existence decides). */
	enum dmarc_policy chosen = rec->p;
	e->v.policy_tag = "p";
	int invalid = rec->p == DMARC_POLICY_INVALID;
	if (strcmp(pol->name, e->author) != 0) {
		invalid |= rec->sp == DMARC_POLICY_INVALID || rec->np == DMARC_POLICY_INVALID;
		int yes = 1;
		if (rec->np != DMARC_POLICY_ABSENT && rec->np != DMARC_POLICY_INVALID &&
		    (r = exists(e, &yes)) != READY)
			goto stop;
		if (!yes) {
			chosen = rec->np;
			e->v.policy_tag = "np";
		} else if (rec->sp != DMARC_POLICY_ABSENT && rec->sp != DMARC_POLICY_INVALID) {
			chosen = rec->sp;
			e->v.policy_tag = "sp";
		}
	}
	if (invalid) {
		/* §4.10.1: a valid rua= makes it p=none; without one, no DMARC processing. */
		if (!rec->rua_valid) {
			finish(e, DMARC_RESULT_PERMERROR, "the DMARC record has an invalid policy and no valid rua");
			return;
		}
		chosen = DMARC_POLICY_NONE;
	}
	e->v.policy = chosen == DMARC_POLICY_ABSENT ? DMARC_POLICY_NONE : chosen;

	/* 3. Alignment: SPF first, then each passing DKIM domain, until one aligns. */
	int temp = 0, budget = 0, yes = 0;
	e->v.spf_aligned = e->v.dkim_aligned = 0;
	if (e->spf_pass) {
		r = aligned(e, e->spf_domain, rec->aspf, w.org, &yes);
		if (r == NEED)
			goto stop;
		temp |= r == TEMP;
		budget |= r == BUDGET;
		e->v.spf_aligned = r == READY && yes;
	}
	for (size_t i = 0; !e->v.spf_aligned && !e->v.dkim_aligned && i < e->ndkim; i++) {
		r = aligned(e, e->dkim[i], rec->adkim, w.org, &yes);
		if (r == NEED)
			goto stop;
		temp |= r == TEMP;
		budget |= r == BUDGET;
		if (r == READY && yes) {
			e->v.dkim_aligned = 1;
			snprintf(e->v.dkim_domain, sizeof e->v.dkim_domain, "%s", e->dkim[i]);
		}
	}
	if (e->v.spf_aligned || e->v.dkim_aligned) {
		e->v.disposition = DMARC_POLICY_NONE;
		finish(e, DMARC_RESULT_PASS, e->v.spf_aligned ? "SPF pass aligned" : "DKIM pass aligned");
		return;
	}
	/* An identifier whose own check failed temporarily and that would
	 * align: its pass was not ruled out, so the result is not a fail. */
	int temp_id = 0;
	for (size_t i = 0; !temp_id && i < e->ntemp; i++) {
		r = aligned(e, e->temp[i], i == 0 && e->spf_temp ? rec->aspf : rec->adkim, w.org, &yes);
		if (r == NEED)
			goto stop;
		temp |= r == TEMP;
		temp_id = r == READY && yes;
	}
	/*
	 * An identifier the budget left unchecked counts as not aligned: a
	 * sender must not turn its "fail" into an error by adding signatures.
	 */
	/* An old record's pct=N below 100 (RFC 7489 §6.6.4, Historic in RFC
	 * 9989 but still published): the policy applies to that share of
	 * failing mail, the next less strict one to the rest, as t=y does. */
	e->v.sampled_out = !e->v.testing && e->v.pct < 100 && e->sample >= e->v.pct;
	e->v.disposition = e->v.testing || e->v.sampled_out ? lower(e->v.policy) : e->v.policy;
	if (temp || temp_id) {
		e->v.temp_moot = e->v.disposition == DMARC_POLICY_NONE;
		finish(e, DMARC_RESULT_TEMPERROR, temp_id ? "an SPF or DKIM check that could align failed temporarily"
							  : "a DNS lookup for alignment failed temporarily");
		return;
	}
	finish(e, DMARC_RESULT_FAIL, budget ? "no identifier aligned within the DNS query budget"
				     : e->spf_pass || e->ndkim ? "no authenticated identifier aligned"
							       : "no SPF or DKIM pass");
	return;

stop:
	if (r == TEMP)
		finish(e, DMARC_RESULT_TEMPERROR, "a DMARC policy lookup failed temporarily");
	else if (r == BUDGET)
		finish(e, DMARC_RESULT_PERMERROR, "DNS query budget of one evaluation exceeded");
	/* NEED: e->pending is set. */
}

void dmarc_eval_abort(struct dmarc_eval *e, const char *why)
{
	if (e->done)
		return;
	e->pending = 0;
	/* As a lookup that failed temporarily: the Author Domain's own
	 * record, when known, may still give its exact pass. */
	if (!exact_pass(e))
		finish(e, DMARC_RESULT_TEMPERROR, why);
}

enum dmarc_step dmarc_eval_step(struct dmarc_eval *e, const char **name_r, uint16_t *type_r)
{
	if (!e->done && !e->pending)
		advance(e);
	if (e->done)
		return DMARC_STEP_DONE;
	*name_r = e->qname;
	*type_r = e->qtype;
	return DMARC_STEP_QUERY;
}

/* Keeps the TXT answer: how many DMARC records, and the one when exactly one. */
static void keep_txt(struct entry *en, const struct dns_answer *a)
{
	int count = 0;
	size_t which = 0;
	struct dmarc_record tmp;

	if (a->status == DNS_ANS_TEMP) {
		en->state = DMARC_TEMP;
		return;
	}
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
		const char *t = dns_rr_text(a, i);
		if (a->rr[i].type == DNS_T_TXT && dmarc_record_parse(t, strlen(t), &tmp)) {
			count++;
			which = i;
		}
	}
	if (count == 0 && a->truncated) {
		/* records dropped for room (dns_msg.h): the policy may be one of them */
		en->state = DMARC_TEMP;
		return;
	}
	en->state = count == 1 ? DMARC_ONE_RECORD : DMARC_NO_RECORD;
	if (count == 1) {
		en->text = xstrdup(dns_rr_text(a, which));
		dmarc_record_parse(en->text, strlen(en->text), &en->rec);
	}
}

void dmarc_eval_answer(struct dmarc_eval *e, const struct dns_answer *a)
{
	if (!e->pending || e->done)
		return;
	e->pending = 0;
	struct entry *en = &e->tab[e->n++];
	memset(en, 0, sizeof *en);
	snprintf(en->name, sizeof en->name, "%s", e->qdomain);
	en->type = e->qtype;
	if (e->qtype == DNS_T_TXT)
		keep_txt(en, a);
	else
		en->state = a->status == DNS_ANS_TEMP	    ? DMARC_TEMP
			    : a->status == DNS_ANS_NXDOMAIN ? EXIST_NXDOMAIN
			    : a->status == DNS_ANS_NODATA   ? EXIST_NODATA
							    : EXIST_RECORDS;
}

/* A domain name we can walk: canonical, labels of 1..63 octets. */
static int canon_domain(const char *in, char *out, size_t outsz)
{
	if (!in || !*in || dns_name_canon(in, out, outsz) < 0 || strlen(out) > 253 || !*out)
		return -1;
	size_t label = 0;
	for (const char *p = out;; p++) {
		if (*p == '.' || !*p) {
			if (label == 0 || label > 63)
				return -1;
			if (!*p)
				return 0;
			label = 0;
		} else {
			label++;
		}
	}
}

/* Adds the usable names of in[0..n) to list (*len entries), each once, up to max. */
static void add_domains(char list[][DMARC_DOMAIN_MAX], size_t *len, size_t max, const char *const *in,
			size_t n)
{
	for (size_t i = 0; i < n && *len < max; i++) {
		char d[DMARC_DOMAIN_MAX];
		if (canon_domain(in[i], d, sizeof d) < 0)
			continue;
		size_t k;
		for (k = 0; k < *len && strcmp(list[k], d) != 0; k++)
			;
		if (k == *len)
			memcpy(list[(*len)++], d, sizeof d);
	}
}

struct dmarc_eval *dmarc_eval_new(const struct dmarc_input *in)
{
	struct dmarc_eval *e = xcalloc(1, sizeof *e);
	e->author_ok = canon_domain(in->author_domain, e->author, sizeof e->author) == 0;
	snprintf(e->v.header_from, sizeof e->v.header_from, "%s",
		 e->author_ok ? e->author : (in->author_domain ? in->author_domain : ""));
	e->v.policy_tag = "";
	e->v.policy = e->v.disposition = DMARC_POLICY_NONE;
	e->v.pct = 100;
	e->sample = in->sample;
	e->spf_pass = in->spf == SPF_PASS &&
		      canon_domain(in->spf_domain, e->spf_domain, sizeof e->spf_domain) == 0;
	add_domains(e->dkim, &e->ndkim, DMARC_DKIM_MAX, in->dkim_pass_domains, in->ndkim);
	/* temp[0] is SPF's when it failed temporarily (aligned by aspf=),
	 * kept apart from the DKIM d= (adkim=) even when the same name. */
	e->spf_temp = in->spf == SPF_TEMPERROR &&
		      canon_domain(in->spf_domain, e->temp[0], sizeof e->temp[0]) == 0;
	add_domains(e->temp + e->spf_temp, &e->ntemp, DMARC_DKIM_MAX - 1, in->dkim_temp_domains,
		    in->ndkim_temp);
	e->ntemp += (size_t)e->spf_temp;
	return e;
}

struct dmarc_eval *dmarc_org_new(const char *const *names, size_t n)
{
	struct dmarc_eval *e = xcalloc(1, sizeof *e);
	struct org_walks *o = e->org = xcalloc(1, sizeof *o);
	e->v.policy_tag = "";
	o->n = n < DMARC_ORG_NAMES_MAX ? n : DMARC_ORG_NAMES_MAX;
	for (size_t i = 0; i < o->n; i++) {
		o->state[i] = -2; /* until walked: an aborted run leaves it so */
		if (canon_domain(names[i], o->names[i], sizeof o->names[i]) < 0)
			o->names[i][0] = '\0';
	}
	return e;
}

int dmarc_org_domain(const struct dmarc_eval *e, size_t i, char *out, size_t outsz)
{
	int st = e->org && e->done && i < e->org->n ? e->org->state[i] : -1;
	snprintf(out, outsz, "%s", st == 0 ? e->org->found[i] : "");
	return st;
}

void dmarc_eval_free(struct dmarc_eval **e)
{
	if (!*e)
		return;
	for (unsigned i = 0; i < (*e)->n; i++)
		free((*e)->tab[i].text);
	free((*e)->org);
	free(*e);
	*e = NULL;
}

const struct dmarc_verdict *dmarc_eval_verdict(const struct dmarc_eval *e)
{
	return &e->v;
}

unsigned dmarc_eval_queries(const struct dmarc_eval *e)
{
	return e->n + (unsigned)e->pending;
}
