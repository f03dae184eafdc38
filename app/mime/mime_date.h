/*
 * mime_date.h — the Date: header of a message (RFC 5322 §3.3 date-time,
 * with the obsolete forms of §4.3), for IMAP SEARCH SENTBEFORE/SENTON/
 * SENTSINCE and SORT DATE; and the one formatter for the dates tern
 * writes (Date added at submission, Received).
 *
 * Design: one pure function over the unfolded or raw field value; no
 * allocation, no locale, no libc time functions (the musl build and the
 * host build must agree). It is lenient where mail in the wild is: the
 * day name is optional and not checked against the date, comments and
 * runs of white space are skipped anywhere between tokens, seconds may be
 * missing, month names are matched in any case, two-digit years mean
 * 1950..2049 and three-digit years 1900 + n (RFC 5322 §4.3), the zone may
 * be numeric, one of the obsolete names (UT, GMT, EST...), a military
 * letter (taken as +0000, as §4.3 says) or missing (+0000).
 *
 * Caveats: anything after the zone is ignored; a value that does not
 * parse gives -1 and the caller decides on a fallback (IMAP uses the
 * internal date, as Dovecot does).
 */
#ifndef TERN_MIME_DATE_H
#define TERN_MIME_DATE_H

#include <stdint.h>

#include "core/str.h"

/*
 * Parses value. Returns 0 and sets *t_r (seconds since the Unix epoch,
 * UTC, the zone applied) and *day_r (the calendar day as written, days
 * since 1970-01-01, time and zone disregarded: what RFC 3501 SENTON
 * compares); either may be NULL. Returns -1 when value is not a date.
 */
int mime_date_parse(struct str value, int64_t *t_r, int64_t *day_r);
/* The same, and *zone_r (may be NULL): the zone as written, in minutes
 * east of UTC, an obsolete name's offset (EST -300, GMT 0...), 0 for a
 * military letter, an unknown name or none (Sieve's date :originalzone). */
int mime_date_parse_zone(struct str value, int64_t *t_r, int64_t *day_r, int *zone_r);

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, m 1..12). */
int64_t mime_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: the date of day z (days since 1970-01-01). */
void mime_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r);

/* An RFC 3339 date-time, NUL-terminated ("2025-01-02T03:04:05Z",
 * fractions and offsets allowed) into *t_r (seconds since the epoch).
 * 0 or -1. */
int mime_rfc3339_parse(const char *s, int64_t *t_r);
/* The same, and the offset written into *off_r (seconds east of UTC, 0
 * for "Z"; off_r may be NULL). 0 or -1. */
int mime_rfc3339_parse_off(const char *s, int64_t *t_r, int *off_r);
/* t as an RFC 3339 date-time in UTC, "2026-11-23T09:30:00Z", NUL-terminated. */
#define MIME_RFC3339_MAX 32
void mime_rfc3339_format(int64_t t, char out[MIME_RFC3339_MAX]);

/* Size of mime_date_format()'s output, NUL included ("Sun, 31 Dec 9999
 * 23:59:59 +0000" and room for wider years). */
#define MIME_DATE_MAX 40

/*
 * Writes t (seconds since the Unix epoch) as an RFC 5322 date-time in UTC,
 * "Sat, 21 Nov 2026 02:06:58 +0000", NUL-terminated, into out (at least
 * MIME_DATE_MAX octets): the form of the Date and Received fields tern
 * writes. mime_date_parse() reads it back to t.
 */
void mime_date_format(int64_t t, char out[MIME_DATE_MAX]);
/* The same at the offset off (seconds east of UTC, whole minutes, less
 * than a day either way): the local time there and its zone,
 * "Sat, 21 Nov 2026 03:06:58 +0100". */
void mime_date_format_off(int64_t t, int off, char out[MIME_DATE_MAX]);

#endif
