/*
 * dmarc_report.h — DMARC aggregate reports (RFC 9990, "DMARC Aggregate
 * Reporting"; written against draft-ietf-dmarc-aggregate-reporting-30,
 * the last text we could read, which RFC 9990 published as -32): the
 * report as data, its XML parser, and the unpacking of a report as mailed
 * (gzip, zip or plain XML).
 *
 * Design. A report arrives as one attachment of at most a few megabytes
 * once inflated, so the parser reads a whole buffer (no resumable state:
 * the bytes are all in memory before it runs, and inflating is bounded
 * first). It is hand-written for the report schema only: elements, text,
 * CDATA, comments, processing instructions and the five predefined
 * entities plus character references. A DOCTYPE with an internal subset is
 * refused (no entity definitions, so no expansion attacks), as is anything
 * nested deeper than DMARC_XML_DEPTH_MAX. Namespace prefixes are dropped
 * (RFC 9990's urn:ietf:params:xml:ns:dmarc-2.0 and RFC 7489's unqualified
 * names read the same); unknown elements, <extension> included, are
 * skipped. Older reports (RFC 7489 Appendix C: <pct>, no <np>) parse too.
 *
 * Bounds: every text field is cut to its array (flag DMARC_REPORT_CUT);
 * at most DMARC_REPORT_ROWS_MAX records are kept (the counts of the rest
 * still add to total_count); DMARC_REPORT_AUTH_MAX DKIM and SPF results
 * per record. The parser never sizes anything from the input.
 *
 * Caveats: text is kept as bytes (the XML's UTF-8), only trimmed; callers
 * rendering it escape it. IP addresses are not validated beyond their
 * characters.
 */
#ifndef TERN_REPORT_DMARC_REPORT_H
#define TERN_REPORT_DMARC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define DMARC_XML_DEPTH_MAX 16
#define DMARC_REPORT_ROWS_MAX 1000
#define DMARC_REPORT_AUTH_MAX 3
#define DMARC_REPORT_XML_MAX ((size_t)16 << 20) /* inflated bytes read */

/* flags */
#define DMARC_REPORT_CUT 0x1u       /* a text field was longer than kept */
#define DMARC_REPORT_ROWS_CUT 0x2u  /* more records than DMARC_REPORT_ROWS_MAX */

struct dmarc_report_auth {
	char domain[254];
	char selector[254]; /* DKIM only: a signature's, up to 253 octets (dkim_sig_selector_ok) */
	char scope[8];     /* SPF only: "mfrom", "helo" or "" */
	char result[16];
};

struct dmarc_report_row {
	char source_ip[46];
	uint32_t count; /* saturates at UINT32_MAX */
	char disposition[16]; /* policy_evaluated: none, quarantine, reject, pass (RFC 9990) */
	char dkim[8], spf[8];  /* policy_evaluated: pass or fail (the aligned results) */
	char reason[24];       /* policy_evaluated/reason/type (the first), or "" */
	char header_from[254], envelope_from[254], envelope_to[254];
	struct dmarc_report_auth dkim_auth[DMARC_REPORT_AUTH_MAX];
	struct dmarc_report_auth spf_auth[DMARC_REPORT_AUTH_MAX];
	uint8_t ndkim, nspf;
};

struct dmarc_report {
	/* report_metadata */
	char org_name[128], email[128], report_id[128];
	int64_t begin, end; /* seconds since the epoch */
	/* policy_published */
	char domain[254];
	char p[12], sp[12], np[12], adkim[2], aspf[2], testing[2];
	char fo[16]; /* "0", "1", "d", "s" joined by ':' (read, and written; not stored) */
	int pct; /* -1 when absent */
	/* records */
	struct dmarc_report_row *rows; /* xmalloc'd, nrows of them */
	size_t nrows;
	uint64_t total_count; /* every record's count, kept or not */
	unsigned flags;       /* DMARC_REPORT_* */
};

/*
 * Parses a report's XML (xml[0..len), not NUL-terminated). Returns 0 and
 * fills r (free with dmarc_report_free), or -1 with a one-line reason in
 * err: not well-formed, too deep, a DOCTYPE subset, no <feedback> root,
 * or missing what a report must have (org_name, report_id, date_range,
 * policy domain). r is empty (and needs no free) after -1.
 */
int dmarc_report_parse(const char *xml, size_t len, struct dmarc_report *r, char *err,
		       size_t errsz);
void dmarc_report_free(struct dmarc_report *r);

/* What an attachment holds, from its bytes (magic numbers), not its name. */
enum dmarc_report_pack {
	DMARC_PACK_XML,
	DMARC_PACK_GZIP,
	DMARC_PACK_ZIP,
	DMARC_PACK_UNKNOWN,
};
enum dmarc_report_pack dmarc_report_pack_of(const uint8_t *p, size_t n);

/*
 * The XML of an attachment: gzip is inflated, the first file of a zip
 * (stored or deflated) is taken, XML is copied. At most max bytes come out
 * (more is an error, not a cut: a cut report would not parse). Returns 0
 * with *out_r (xmalloc'd) and *outlen_r, or -1 with err filled.
 */
int dmarc_report_unpack(const uint8_t *p, size_t n, size_t max, uint8_t **out_r,
			size_t *outlen_r, char *err, size_t errsz);

/*
 * gzip-compresses p[0..n) (one member, no file name) into *out_r
 * (xmalloc'd). Returns 0, or -1 (zlib failed: no memory).
 */
int dmarc_report_gzip(const uint8_t *p, size_t n, uint8_t **out_r, size_t *outlen_r);

#endif
