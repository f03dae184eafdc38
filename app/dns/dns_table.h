/*
 * dns_table.h — a resolver answering from a table of records in text, for
 * unit tests, fuzz targets and examples: the evaluators run against it as
 * they run against the network.
 *
 * The table is lines of "NAME TYPE DATA" (blank lines and lines starting
 * with '#' skipped): A and AAAA take an address, MX "PREF HOST", PTR and
 * CNAME a name, TXT the rest of the line verbatim (one record per line).
 * DATA "SERVFAIL" makes every lookup of (NAME, TYPE) fail temporarily. A
 * name with any line exists (other types answer NODATA); any other name
 * is NXDOMAIN. A CNAME line is followed as a recursive resolver would.
 * Every answer has TTL 300 and is given synchronously.
 *
 * Caveats: lines that do not parse are skipped; dns_table_new never fails.
 */
#ifndef TERN_DNS_DNS_TABLE_H
#define TERN_DNS_DNS_TABLE_H

#include <stddef.h>

#include "dns/dns_resolver.h"

struct dns_table;

/* Parses text (len bytes, need not be NUL-terminated) into a table; the caller frees it. */
struct dns_table *dns_table_new(const char *text, size_t len);
void dns_table_free(struct dns_table **t);
/* The resolver answering from t (valid while t is). */
struct dns_resolver dns_table_resolver(struct dns_table *t);
/* How many lookups t has answered. */
unsigned dns_table_queries(const struct dns_table *t);
/* Answers (name, type) from t into *out (what the resolver hands its callback). */
void dns_table_lookup(struct dns_table *t, const char *name, uint16_t type, struct dns_answer *out);

#endif
