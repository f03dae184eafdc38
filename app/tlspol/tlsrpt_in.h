/*
 * tlsrpt_in.h — reading a TLS-RPT report someone sent us (RFC 8460 §4.4
 * JSON) into struct tlsrpt_report, the type tern writes its own with.
 *
 * Design. json_parse() builds the tree in the caller's arena; the fields
 * §4.4 requires are checked (organization-name, date-range with RFC 3339
 * date-times, report-id, policies with policy-type, policy-domain and
 * summary counts); contact-info, policy-string, mx-host and
 * failure-details are optional, unknown members ignored (§4.4 allows
 * extensions). Every string the struct points to lives in the arena.
 * Bounds come from struct tlsrpt_report: at most TLSRPT_POLICIES_MAX
 * policies (more: the report is refused, not cut, so counts never lie),
 * TLSRPT_POLICY_STRINGS_MAX strings and mx hosts (more are dropped: they
 * only describe) and TLSRPT_FAILURES_MAX failure details (the rest are
 * added to the last kept one's count); organization-name, contact-info
 * and report-id longer than 255 octets are cut to that (flag
 * TLSRPT_REPORT_CUT, as DMARC's intake cuts and keeps), failure texts to
 * their fixed room; addresses and host names longer than their room are
 * refused.
 *
 * Caveats: nothing says the report is true: anyone can mail one.
 */
#ifndef TERN_TLSPOL_TLSRPT_IN_H
#define TERN_TLSPOL_TLSRPT_IN_H

#include <stddef.h>
#include <stdint.h>

#include "tlspol/tlsrpt.h"

struct arena;

#define TLSRPT_IN_MAX ((size_t)1 << 20) /* JSON bytes looked at */
/* JSON values parsed: a value is an 80-octet node, so a megabyte of
 * "[0,0,...]" from anyone who mails a report made a 40 MB tree. What is
 * kept (TLSRPT_POLICIES_MAX policies of TLSRPT_FAILURES_MAX failures)
 * takes a few hundred. */
#define TLSRPT_IN_VALUES_MAX 50000

/*
 * Parses json[0..n) into *r (strings in a). 0, or -1 with a short reason
 * in err (errsz bytes).
 */
int tlsrpt_report_parse(const char *json, size_t n, struct arena *a, struct tlsrpt_report *r,
			char *err, size_t errsz);

/* An RFC 3339 date-time ("2016-04-01T00:00:00Z", fractions and offsets
 * allowed) as seconds since the epoch: 0, or -1 when malformed. */
int tlsrpt_datetime_parse(const char *s, int64_t *t_r);

#endif
