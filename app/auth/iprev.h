/*
 * iprev.h — the "iprev" check of RFC 8601 §3: does the client address's
 * PTR name lead back to the address? As a resumable evaluator with the
 * shape of SPF and DMARC (step, answer; iprev_run over a resolver).
 *
 * Design. One PTR query for the address's reverse name; then, for each
 * name it returns (at most IPREV_NAMES_MAX, in answer order), one A query
 * (IPv4 client) or AAAA query (IPv6 client); the first name whose
 * addresses include the client's gives pass. Results (RFC 8601 §2.7.3):
 *   pass       a PTR name resolves back to the address
 *   fail       PTR names exist but none resolves back to it
 *   temperror  a lookup failed temporarily (and no name passed)
 *   permerror  no PTR data for the address (NXDOMAIN or no records)
 *
 * Caveats: an IPv4-mapped IPv6 address is checked as IPv4.
 */
#ifndef TERN_AUTH_IPREV_H
#define TERN_AUTH_IPREV_H

#include <stdint.h>

#include "dns/dns_msg.h"

#define IPREV_NAMES_MAX 10

enum iprev_result { IPREV_PASS, IPREV_FAIL, IPREV_TEMPERROR, IPREV_PERMERROR };

struct iprev_eval;

/* Starts a check of ip (text); NULL when ip is not an address. */
struct iprev_eval *iprev_eval_new(const char *ip);
void iprev_eval_free(struct iprev_eval **e);
/* 1 with the next query in *name_r (valid until the next call) and *type_r; 0 when done. */
int iprev_eval_step(struct iprev_eval *e, const char **name_r, uint16_t *type_r);
/* The answer to the last query. */
void iprev_eval_answer(struct iprev_eval *e, const struct dns_answer *a);
/* Ends an unfinished check now as temperror (a caller whose time ran
 * out; cancel its iprev_run first). A finished one is left as it is. */
void iprev_eval_abort(struct iprev_eval *e);
enum iprev_result iprev_eval_result(const struct iprev_eval *e);
/* The PTR name that passed ("" otherwise). */
const char *iprev_eval_name(const struct iprev_eval *e);
/* The address in canonical text (for policy.iprev=). */
const char *iprev_eval_ip(const struct iprev_eval *e);
/* "pass", "fail", "temperror", "permerror". */
const char *iprev_result_name(enum iprev_result r);

struct dns_resolver;
struct dns_drive;
/* Steps e to its end through r (dns_drive.h): done(arg) runs once, maybe before it returns NULL. */
struct dns_drive *iprev_run(const struct dns_resolver *r, struct iprev_eval *e,
			    void (*done)(void *arg), void *arg);

#endif
