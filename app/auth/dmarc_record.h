/*
 * dmarc_record.h — the DMARC Policy Record (RFC 9989 §4.7, §4.8): one TXT
 * record at _dmarc.<domain> read into a struct.
 *
 * Design. The record is a tag list: "v=DMARC1" first (case-sensitive
 * value; anything else and the TXT record is not a DMARC record at all),
 * then ";"-separated tags. Following §4.8 the rest is forgiving: unknown
 * tags are ignored, a tag whose value does not parse keeps its default
 * (and is noted in bad_tags), the first of a repeated tag wins. p, sp and
 * np are kept as read (absent / valid / invalid) because §4.10.1 decides
 * what an invalid policy means only once the record is chosen: with a
 * valid rua URI it reads as p=none, without one the record gives no
 * DMARC processing (dmarc.c turns that into permerror).
 *
 * Older records (RFC 7489): pct=0 reads as t=y (RFC 9989 Appendix A.6
 * makes t= the two-valued successor of pct; an explicit t= wins over
 * pct=), and a pct between 1 and 99 is kept for dmarc.c to sample; ri= and rf= were removed and are ignored
 * like any unknown tag; a "!size" suffix on a report URI is obsolete
 * syntax that is accepted and dropped by readers of rua.
 *
 * Caveats: URIs are checked only for the RFC 3986 scheme shape
 * ("scheme:rest"); the report sender checks mailto: addresses properly.
 * The parser never allocates: everything is a slice into the input.
 */
#ifndef TERN_AUTH_DMARC_RECORD_H
#define TERN_AUTH_DMARC_RECORD_H

#include <stddef.h>

#include "core/str.h"

enum dmarc_policy {
	DMARC_POLICY_ABSENT,   /* tag not present */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
	DMARC_POLICY_INVALID,  /* present with a value that is not one of the three */
};

enum dmarc_psd { DMARC_PSD_U, DMARC_PSD_Y, DMARC_PSD_N };

struct dmarc_record {
	enum dmarc_policy p, sp, np;
	enum dmarc_psd psd;
	char adkim, aspf;      /* 'r' or 's' */
	int testing;           /* t=y, or an old pct=0 */
	int has_t, has_pct;
	unsigned pct;          /* as read (0..100), only when has_pct */
	struct str rua, ruf;   /* the raw URI lists (empty when absent or bad) */
	int rua_valid;         /* rua holds at least one well-formed URI */
	struct str fo;         /* "0" by default */
	unsigned bad_tags;     /* known tags whose value did not parse (kept default) */
};

/*
 * Parses rec (len bytes: a TXT record's strings joined). Returns 1 with *r
 * filled when it is a DMARC record, 0 when it is not (no "v=DMARC1" as
 * the first tag: §4.7 says to ignore such a record entirely). Never reads
 * outside rec; slices in *r point into rec.
 */
int dmarc_record_parse(const char *rec, size_t len, struct dmarc_record *r);

/* "none", "quarantine", "reject" ("none" for ABSENT and INVALID). */
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
