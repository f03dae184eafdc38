/*
 * dmarc.h — DMARC (RFC 9989, DMARCbis; it obsoletes RFC 7489 and RFC 9091)
 * for one message: policy discovery by the DNS Tree Walk, identifier
 * alignment of the SPF and DKIM results with the Author Domain, and the
 * policy to apply, as a resumable evaluator.
 *
 * Design. The shape is SPF's (spf.h): the evaluator never does I/O.
 * dmarc_eval_step() runs until it needs a DNS answer and returns
 * DMARC_STEP_QUERY with the name and type; the caller hands the answer to
 * dmarc_eval_answer() and steps again. dmarc_run() is that loop over a
 * struct dns_resolver. Every answer is kept in a small per-evaluation
 * table and the evaluation is recomputed from that table at each step, so
 * the Author Domain's walk and each identifier's walk share answers and
 * no name is asked twice.
 *
 * What it does (section numbers are RFC 9989's):
 *  - policy discovery (§4.10.1): _dmarc.<Author Domain>, then the Tree
 *    Walk (§4.10): the parent, or the name cut to 7 labels when the Author
 *    Domain has more than 8, then one label less each time, at most
 *    DMARC_WALK_MAX queries, stopping at a record with psd=y or psd=n.
 *    Several DMARC records at one name count as none there.
 *  - the Organizational Domain (§4.10.2) of the Author Domain and, for
 *    relaxed alignment, of each authenticated identifier: psd=n names
 *    itself, psd=y (not at the start) names the domain one label below
 *    it, else the record with the fewest labels, else the start domain.
 *  - the policy: p= when the record is the Author Domain's; sp= for an
 *    existing subdomain and np= for a non-existent one (an A query
 *    answering NXDOMAIN, Appendix A.4) when it is the Organizational or
 *    Public Suffix Domain's, falling back to p=. t=y (or an old pct=0)
 *    lowers the policy applied by one step (§4.7); an old pct=N between
 *    1 and 99 with no t= does so for a failing message whose
 *    dmarc_input.sample is N or more (RFC 7489 §6.6.4's sampling).
 *  - alignment (§4.4): an SPF "pass" for spf_domain, or a DKIM "pass" with
 *    d=, aligns when equal to the Author Domain (strict) or, in relaxed
 *    mode (adkim=/aspf= r, the default), when both have the same
 *    Organizational Domain.
 *
 * Results (RFC 8601 §2.7.2 names): none (no record applies, or the
 * Author Domain is unusable), pass, fail, temperror (a DNS lookup that
 * mattered failed temporarily, or an identifier that would have aligned
 * has an SPF or DKIM temperror), permerror (the record chosen has an
 * invalid p=, sp= or np= and no valid rua=, so §4.10.1 allows no DMARC
 * processing; or the per-evaluation query budget ran out).
 *
 * Caveats: the Author Domain must already be an A-label:
 * dmarc_author_domain() converts U-labels (lowercased with Unicode's
 * simple mapping, core/ucase.h, then Punycode; no other UTS #46 mapping
 * or normalisation, so a U-label not in NFC finds no record).
 * Which From domain to use is decided by dmarc_author_domain(): zero or
 * several distinct domains give none (§5.3.1 allows going on with
 * several; we do not, so a forged second From cannot choose the policy),
 * and port 25 refuses the several (policy.h), so a forged second From
 * cannot lift the policy either. DNS errors are reported, not acted on:
 * what a temperror does to the SMTP reply is the caller's choice (§4.10.1
 * leaves it to the receiver).
 */
#ifndef TERN_AUTH_DMARC_H
#define TERN_AUTH_DMARC_H

#include <stddef.h>
#include <stdint.h>

#include "auth/dmarc_record.h"
#include "auth/spf.h"
#include "core/str.h"
#include "dns/dns_msg.h"

#define DMARC_WALK_MAX 8       /* §4.10: queries of one Tree Walk */
#define DMARC_QUERIES_MAX 40   /* DNS queries of one evaluation, all walks */
#define DMARC_DKIM_MAX 16      /* passing DKIM domains considered */
#define DMARC_DOMAIN_MAX 254

enum dmarc_result {
	DMARC_RESULT_NONE,
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

/* What the message authenticated, for alignment. */
struct dmarc_input {
	const char *author_domain;   /* the RFC5322.From domain (dmarc_author_domain) */
	/* The MAIL FROM identity's SPF result. DMARC relies on that identity
	 * alone (§4.4.2): for the null path, whose check is of the HELO name,
	 * pass SPF_NONE. */
	enum spf_result spf;
	const char *spf_domain;      /* the domain SPF checked (spf_eval_domain) */
	const char *const *dkim_pass_domains; /* d= of every signature that passed */
	size_t ndkim;
	/* 0..99, drawn at random for this message by the caller (a fixed
	 * value in tests): a failing message is sampled in by an old record's
	 * pct=N when sample < N, so 0 always applies the policy. */
	unsigned sample;
	/* The d= of each DKIM signature whose result is temperror (its key
	 * lookup failed temporarily). Such a domain, or the MAIL FROM
	 * domain when spf is SPF_TEMPERROR, that would have aligned makes a
	 * message with no aligned pass temperror, not fail: the pass that a
	 * retry may find was not ruled out (rspamd's DMARC_DNSFAIL). */
	const char *const *dkim_temp_domains;
	size_t ndkim_temp;
};

/* The outcome, as data (valid while the evaluation is). */
struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_policy policy;      /* the Domain Owner's policy for this message (none when no record) */
	const char *policy_tag;        /* "p", "sp" or "np": which tag gave it ("" without a record) */
	/* What to do: none on pass; policy lowered one step when testing.
	 * On a temperror once the record is read (an alignment lookup or an
	 * identifier's own check failed), what a fail would get. */
	enum dmarc_policy disposition;
	/* temperror, but the record was read and a fail would get
	 * disposition none (p=none, or lowered to it): a retry cannot change
	 * what is done with the message, so there is no reason to defer it. */
	int temp_moot;
	int testing;                   /* t=y (or pct=0) on the record used */
	unsigned pct;                  /* the record's pct= without t= (100 when neither) */
	int sampled_out;               /* fail, and pct= left it out: disposition lowered one step */
	int spf_aligned, dkim_aligned;
	char header_from[DMARC_DOMAIN_MAX];   /* the Author Domain (header.from) */
	char policy_domain[DMARC_DOMAIN_MAX]; /* whose record gave the policy ("" without one) */
	char org_domain[DMARC_DOMAIN_MAX];    /* the Author Domain's Organizational Domain */
	char dkim_domain[DMARC_DOMAIN_MAX];   /* the aligned d=, when dkim_aligned */
	char reason[160];                     /* for logs */
	/* The record used (policy_domain's): its fo= without blanks ("0"
	 * when absent, cut to fit) and whether it has a ruf= list that may
	 * be used (not a psd=y record's, RFC 9991), for the failure reports
	 * (report/dmarc_fail.h). */
	char fo[16];
	int has_ruf;
	char adkim, aspf;   /* the record's alignment modes, 'r' or 's' (0 without a record) */
};

struct dmarc_eval;

/*
 * Starts an evaluation (everything in in is copied). Never fails: an
 * Author Domain that is not a domain name ends in "none" at the first
 * step. Identifiers beyond DMARC_DKIM_MAX are ignored.
 */
struct dmarc_eval *dmarc_eval_new(const struct dmarc_input *in);
void dmarc_eval_free(struct dmarc_eval **e);

enum dmarc_step { DMARC_STEP_DONE, DMARC_STEP_QUERY };

/*
 * Runs until the result is known (DMARC_STEP_DONE) or a DNS answer is
 * needed (DMARC_STEP_QUERY: *name_r, valid until the next call, and
 * *type_r). After a query, call dmarc_eval_answer() before stepping again.
 */
enum dmarc_step dmarc_eval_step(struct dmarc_eval *e, const char **name_r, uint16_t *type_r);
/* The answer to the last query (copied from; a stays the caller's). */
void dmarc_eval_answer(struct dmarc_eval *e, const struct dns_answer *a);
/*
 * Ends the evaluation now, for a caller whose time ran out: as a lookup
 * that failed temporarily, so temperror (or the exact pass the Author
 * Domain's own record already gives). Cancel any dmarc_run() over e
 * first. A finished evaluation is left as it is.
 */
void dmarc_eval_abort(struct dmarc_eval *e, const char *why);
/* The verdict once DMARC_STEP_DONE was returned. */
const struct dmarc_verdict *dmarc_eval_verdict(const struct dmarc_eval *e);
/* DNS queries asked so far. */
unsigned dmarc_eval_queries(const struct dmarc_eval *e);

/*
 * Whether domain (an SPF or DKIM identifier) is aligned with v's Author
 * Domain in mode ('s' or 'r'): the same name, or, relaxed, the Author
 * Domain's Organizational Domain or a name under it. For identifiers the
 * evaluation did not need (one that did not pass, for the failure
 * reports' Identity-Alignment, report/dmarc_fail.h): decided from the
 * names alone, without the identifier's own Tree Walk, so a name under
 * the Organizational Domain that a psd=n record makes an organization of
 * its own still counts as aligned. 0 when v has no record.
 */
int dmarc_verdict_aligned(const struct dmarc_verdict *v, const char *domain, char mode);

/*
 * ---- Organizational Domains alone (report destinations) ----
 *
 * An evaluation that only finds the Organizational Domain (§4.10.2) of
 * each of names[0..n) by the same Tree Walk, the answers shared between
 * the walks (two names under one parent ask its _dmarc name once), and
 * asks for nothing else: RFC 9990 §4 needs it to tell whether a report
 * destination is within the policy domain's organization. n is at most
 * DMARC_ORG_NAMES_MAX (the rest are ignored); the names are copied.
 * Stepped with dmarc_eval_step() and dmarc_eval_answer() (or dmarc_run)
 * like any other, freed with dmarc_eval_free(); its verdict means nothing.
 */
#define DMARC_ORG_NAMES_MAX 8
struct dmarc_eval *dmarc_org_new(const char *const *names, size_t n);
/*
 * Once DMARC_STEP_DONE: names[i]'s Organizational Domain into out
 * (outsz bytes, lowercase) and 0; -1 when names[i] is not a domain name
 * that can be walked or the query budget ran out before its walk ended
 * (out is ""); -2 when a lookup of its walk failed temporarily.
 */
int dmarc_org_domain(const struct dmarc_eval *e, size_t i, char *out, size_t outsz);

/* "none", "pass", "fail", "temperror", "permerror" (RFC 8601 §2.7.2). */
const char *dmarc_result_name(enum dmarc_result r);

/*
 * The Author Domain of a message (§5.3.1) from the values of its From
 * fields (n of them, unfolded or not): exactly one distinct domain, written
 * lowercase into out (outsz bytes). Returns 0; -1 when no address has a
 * usable domain (no DMARC evaluation: result none); -2 when the author is
 * ambiguous: an address names a domain and another a second one or none
 * usable, or a field holds more than 32 addresses and group markers (past
 * which it is not read), or an address of another domain the parser
 * skipped as malformed. Also no DMARC evaluation, and a message
 * the caller refuses: a forged second address must not lift the policy
 * of the domain a reader sees (RFC 7489 §6.6.1).
 * out is meaningful only on 0.
 */
int dmarc_author_domain(const struct str *from_values, size_t n, char *out, size_t outsz);

/* ---- Driving an evaluation over a resolver (dmarc_run.c) ---- */

struct dns_resolver;
struct dmarc_run;
typedef void dmarc_done_cb(void *arg, struct dmarc_eval *e);
/*
 * Steps e to its end through r. done runs exactly once, possibly before
 * dmarc_run() returns (then it returns NULL), unless dmarc_run_cancel()
 * is called first. The resolver must outlive the run.
 */
struct dmarc_run *dmarc_run(const struct dns_resolver *r, struct dmarc_eval *e,
			    dmarc_done_cb *done, void *arg);
/* Stops a run: done will not run; e stays the caller's. */
void dmarc_run_cancel(struct dmarc_run *run);

#endif
