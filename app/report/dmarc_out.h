/*
 * dmarc_out.h — the DMARC aggregate reports tern sends (RFC 9990, as
 * draft-ietf-dmarc-aggregate-reporting-30): where a report may go, the
 * report XML, and the message that carries it.
 *
 * Destinations (dmarc_dest_*). A resumable evaluator in the shape of the
 * others (dns_drive.h): it asks _dmarc.<policy domain> TXT, takes the
 * mailto: URIs of rua= (or ruf= for the failure reports, dmarc_fail.h;
 * same verification) (at most DMARC_DEST_MAX, read by report_uri.h:
 * percent-decoded, hfields ignored, each with its optional "!size"
 * limit; an address written twice is one destination, under the larger
 * limit), and for each whose domain is outside the policy
 * domain's asks <policy domain>._report._dmarc.<rua domain> TXT; that
 * destination is used only when at least one TXT record there starts
 * with v=DMARC1 (RFC 7489 §7.1 steps 5-7, RFC 9990 §4 steps 6-8: the
 * others are discarded; with none left the relationship cannot be
 * confirmed). A record with psd=y gives no ruf= destination (RFC 9991:
 * failure reports do not go to a Public Suffix Operator). "Outside"
 * is RFC 9990 §4's: a destination domain is inside when it is the
 * policy domain or has the same Organizational Domain, found by the
 * DNS Tree Walk of RFC 9989 §4.10 (auth/dmarc.h's dmarc_org_new, one
 * walk per name, answers shared, at most DMARC_QUERIES_MAX queries),
 * not by its parentage: a sibling (reports.example.com for
 * news.example.com) is inside, a public suffix above the policy domain
 * (co.uk for example.co.uk) is outside and verified. A walk that fails
 * temporarily leaves its destination for a later try.
 *
 * A rua= (ruf= for failure reports) in that verification record
 * replaces the destination (RFC 7489 §7.1 step 8, RFC 9990 §4 step 9:
 * the report receiver says where its reports go), with the URIs on the
 * same host only (the step's MUST: no loops, no sending on); without
 * such a URI the destination stays as the policy record wrote it.
 *
 * The policy published in the report is the record read now (RFC 9990
 * §2.1 reports the policy found at evaluation; the record at the end of
 * the day stands for it).
 */
#ifndef TERN_REPORT_DMARC_OUT_H
#define TERN_REPORT_DMARC_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "dns/dns_drive.h"
#include "report/dmarc_report.h"
#include "report/report_uri.h"

struct dmarc_eval;

#define DMARC_DEST_MAX 4

enum dmarc_dest_status {
	DMARC_DEST_OK,        /* a DMARC record with at least one usable destination */
	DMARC_DEST_NONE,      /* no record, several, or no rua= mailto: that may be used */
	DMARC_DEST_TEMP,      /* a lookup failed temporarily: try again later */
};

struct dmarc_dest_addr {
	char addr[REPORT_URI_ADDR_MAX + 1]; /* decoded mailbox, domain lowercased */
	uint64_t max_size; /* "!size" in bytes, 0 = none */
	int external;      /* outside the policy domain: needed verification */
	int state;         /* 0 unknown, 1 verified (or inside), -1 refused, -2 temporary
	                    * failure, -3 replaced by another destination listed already */
};

struct dmarc_dest {
	char pdomain[254];
	char qname[600];
	int step;                   /* 0: ask the record; 1..n: verify destination step-1 */
	int record_state;           /* 0 not asked, 1 one record, -1 none, -2 temporary */
	char record[1024];          /* the DMARC record's text */
	struct dmarc_dest_addr dest[DMARC_DEST_MAX];
	unsigned ndest;
	int ruf;                    /* set after init: the ruf= list (failure reports), not rua= */
	struct dmarc_eval *org;     /* the Organizational Domain walks while they run */
	int org_done;               /* they ran (or were not needed) */
};

/* Starts an evaluation for policy domain pdomain (copied). */
void dmarc_dest_init(struct dmarc_dest *d, const char *pdomain);
/* Frees what an evaluation holds while it runs (one cut short by a
 * deadline); d itself stays the caller's. Call it once done with d. */
void dmarc_dest_clear(struct dmarc_dest *d);
/* dns_drive ops over a struct dmarc_dest. */
extern const struct dns_drive_ops dmarc_dest_ops;
/* The outcome once the drive is done. */
enum dmarc_dest_status dmarc_dest_status(const struct dmarc_dest *d);

/* A To field of every destination: DMARC_DEST_MAX addresses, ", " between. */
#define DMARC_TO_MAX (DMARC_DEST_MAX * (REPORT_URI_ADDR_MAX + 2) + 1)

/* Writes the report message addressed To to into out: 0, or -1. */
typedef int dmarc_build_fn(void *arg, const char *to, struct buf *out);

/*
 * The verified destinations of d that a report fits, and its message.
 * A "!size" limit is compared with the whole message as handed to the
 * queue, its base64-encoded attachment included (RFC 7489 §7.2.1, RFC
 * 9990 §3: "after compression and after any encoding required by the
 * particular transport mechanism"; for mail the report travels as the
 * message, and OpenDMARC's opendmarc-reports measures it so); a
 * failure report is that message too. build writes the message for a
 * To field; it runs with every verified address, and when some limit is
 * passed, again without those (logged, event=report_too_big). Fills to,
 * rcpt[0..*n_r) (pointing into d) and msg (empty when *n_r is 0).
 * 0, or -1 when build failed.
 */
int dmarc_dest_fit(const struct dmarc_dest *d, dmarc_build_fn *build, void *arg, struct buf *msg,
		   char to[DMARC_TO_MAX], const char *rcpt[DMARC_DEST_MAX], size_t *n_r);

/*
 * Fills the policy_published part of r from a DMARC record text (the
 * record the destinations evaluator read). 0, or -1 when not a record.
 */
int dmarc_out_policy(const char *record, struct dmarc_report *r);

/*
 * Writes r as an RFC 9990 report (namespace urn:ietf:params:xml:ns:
 * dmarc-2.0) to out: org_name is the receiver (TERN_HOSTNAME), email the
 * From address, generator "tern". Optional row fields left empty are
 * left out; the ones RFC 9990's schema requires (an auth result's domain,
 * selector, result) are written empty; an SPF scope other than "mfrom"
 * (a bounce's HELO check), which the schema does not allow, is left out.
 * tests/data/dmarc/rfc9990.xsd is that schema.
 * 0, or -1 when out's ceiling was reached.
 */
int dmarc_out_xml(const struct dmarc_report *r, struct buf *out);

/*
 * The report message (CRLF lines, no DKIM signature yet): From, To (the
 * destinations, comma-separated), Subject "Report Domain: D Submitter: S
 * Report-ID: <ID>", a short text part and the gzip attachment named
 * "receiver!domain!begin!end!id.xml.gz" (RFC 9990 §5.2). now stamps
 * Date and Message-ID. 0, or -1 when out's ceiling was reached.
 */
int dmarc_out_message(const struct dmarc_report *r, const char *from, const char *to,
		      const char *hostname, int64_t now, const uint8_t *gz, size_t gzlen,
		      struct buf *out);

#endif
