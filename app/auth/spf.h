/*
 * spf.h — SPF (RFC 7208): check_host() for the MAIL FROM or HELO identity
 * of a client address, as a resumable evaluator.
 *
 * Design. The evaluator never does I/O. spf_eval_step() runs until it
 * needs a DNS answer and returns SPF_STEP_QUERY with the name and type to
 * look up; the caller looks it up however it likes and hands the answer to
 * spf_eval_answer(), then steps again. spf_run() (spf_run.c) is that loop
 * over a struct dns_resolver: the server gives it the loop's resolver
 * (asynchronous, cached), unit tests and fuzz targets a table. One query
 * is outstanding at a time; the evaluator holds the include/redirect
 * stack, the 10 DNS-mechanism and 2 void-lookup counters (§4.6.4), and a
 * budget on the DNS queries of one evaluation (SPF_QUERIES_MAX), which no
 * legal record reaches (10 "mx" terms of 10 hosts each stay under it) but
 * which bounds what a hostile record can make us send.
 *
 * Results are the RFC's seven (§2.6). A "fail" from the top record whose
 * exp= names an explanation carries that text, macro-expanded (§6.2).
 *
 * Caveats: the %{p} macro costs a PTR lookup and the validation of up to 10
 * names; those queries count against SPF_QUERIES_MAX, not the 10 terms.
 * The evaluator trusts the resolver to follow CNAMEs.
 */
#ifndef TERN_AUTH_SPF_H
#define TERN_AUTH_SPF_H

#include <stdint.h>

#include "dns/dns_msg.h"

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

#define SPF_LOOKUPS_MAX 10     /* §4.6.4: terms that cause DNS lookups */
#define SPF_VOID_MAX 2         /* §4.6.4: lookups answering NXDOMAIN or no records */
#define SPF_MX_PTR_NAMES_MAX 10
#define SPF_QUERIES_MAX 160    /* DNS queries per evaluation, all kinds */
#define SPF_RECORD_MAX 4096
#define SPF_EXPLANATION_MAX 512

enum spf_identity {
	SPF_ID_MAILFROM, /* check_host(ip, domain of MAIL FROM, sender) */
	SPF_ID_HELO,     /* check_host(ip, HELO name, postmaster@HELO) (§2.3) */
};

struct spf_eval;

/*
 * Starts an evaluation. ip: the client address in text (IPv4, IPv6; an
 * IPv4-mapped IPv6 address counts as IPv4, §5). sender: the MAIL FROM
 * address without brackets ("" for the null path, which checks
 * postmaster@HELO, §2.4); a sender without '@' is taken as a domain with
 * local-part "postmaster" (§4.3). A domain in U-labels (SMTPUTF8) is
 * checked at its A-labels, lowercased (RFC 8616 §4; auth/alabels.h), and
 * spf_eval_domain() says that form. helo: the HELO/EHLO name. host: our host
 * name for %{r} (NULL: "unknown"). now: seconds since the epoch for %{t}.
 * Returns NULL when ip is not an address. Never fails otherwise: a
 * malformed domain ends in SPF_NONE at the first step.
 */
struct spf_eval *spf_eval_new(enum spf_identity id, const char *ip, const char *sender,
			      const char *helo, const char *host, int64_t now);
void spf_eval_free(struct spf_eval **e);

enum spf_step { SPF_STEP_DONE, SPF_STEP_QUERY };

/*
 * Runs the evaluation until it ends (SPF_STEP_DONE) or needs DNS
 * (SPF_STEP_QUERY: *name_r and *type_r say what; name_r stays valid until
 * the next call). After SPF_STEP_QUERY the caller must call
 * spf_eval_answer() before stepping again.
 */
enum spf_step spf_eval_step(struct spf_eval *e, const char **name_r, uint16_t *type_r);
/* The answer to the last query (copied from as needed; a is the caller's). */
void spf_eval_answer(struct spf_eval *e, const struct dns_answer *a);

/*
 * Ends the evaluation now as temperror with reason why (static or valid
 * while e is): for a caller whose time ran out (RFC 7208 §4.6.4 asks for at
 * least 20 s). Cancel any spf_run() over e first.
 */
void spf_eval_abort(struct spf_eval *e, const char *why);

/* The result once SPF_STEP_DONE was returned. */
enum spf_result spf_eval_result(const struct spf_eval *e);
/* The exp= explanation of a fail, or NULL. Valid while e is. */
const char *spf_eval_explanation(const struct spf_eval *e);
/* Why the result is what it is, for logs ("matched -all", "10 DNS lookups exceeded"). */
const char *spf_eval_reason(const struct spf_eval *e);
/* The domain the check was about (for Received-SPF and Authentication-Results). */
const char *spf_eval_domain(const struct spf_eval *e);
/* DNS queries the evaluation made. */
unsigned spf_eval_queries(const struct spf_eval *e);
/*
 * The i-th SPF record the evaluation read, for a failure report's
 * SPF-DNS field (RFC 6591 §3.1): the domain it is published at into
 * *domain_r and its text into *rec_r (valid while e is), in the order
 * read: the checked domain's own first, then the include: and redirect=
 * targets'. 1, or 0 past the last. Only the records that parsed are
 * kept, at most SPF_KEPT_MAX of them and SPF_KEPT_BYTES in all (the
 * rest are left out); the other answers the evaluation used (the A,
 * AAAA, MX and PTR lookups of its mechanisms, an exp= text) are not.
 */
#define SPF_KEPT_MAX 12
#define SPF_KEPT_BYTES 8192
int spf_eval_record(const struct spf_eval *e, size_t i, const char **domain_r, const char **rec_r);

/* "pass", "fail", ... exactly as RFC 7208 §2.6 names them. */
const char *spf_result_name(enum spf_result r);

/* ---- Driving an evaluation over a resolver (spf_run.c) ---- */

struct dns_resolver;
struct spf_run;
/* Runs once with the finished evaluation (still owned by the caller). */
typedef void spf_done_cb(void *arg, struct spf_eval *e);
/*
 * Steps e to its end, asking r for every query. done runs exactly once,
 * possibly before spf_run() returns (then it returns NULL), unless
 * spf_run_cancel() is called first. The resolver must outlive the run.
 */
struct spf_run *spf_run(const struct dns_resolver *r, struct spf_eval *e, spf_done_cb *done,
			void *arg);
/* Stops a run: its done callback will not run; e stays the caller's. */
void spf_run_cancel(struct spf_run *run);

#endif
