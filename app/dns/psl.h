/*
 * psl.h — the Public Suffix List: the registrable domain of a host name
 * ("www.example.co.uk" -> "example.co.uk"), the one answer every part of
 * tern uses when it needs "the domain someone registered" (the spam
 * filter's link and look-alike rules, the domains asked of URI
 * blocklists).
 *
 * The list is compiled in (dns/psl_table.h: generated at build time from
 * Debian's publicsuffix package); nothing is read at run time. The
 * algorithm is publicsuffix.org's: every rule that matches the host's
 * labels from the right is considered; an exception rule ("!www.ck")
 * prevails, else the rule with the most labels, a wildcard ("*.ck")
 * matching any one label; with no match the rule is "*" (the last
 * label). The public suffix is the labels the prevailing rule matches
 * (an exception rule minus its leftmost label); the registrable domain is
 * one label more.
 *
 * Names may be in ASCII form ("xn--85x722f.com.cn") or UTF-8
 * ("食狮.com.cn"), any ASCII case, with one trailing dot. Results are
 * slices of the caller's host (its own octets and case, without the
 * trailing dot). Pure functions; nothing allocates.
 *
 * Caveats: Unicode labels are lowercased in ASCII only and are not
 * normalised (UTS #46 mapping is not applied), as the list's own
 * U-labels are already in that form; an IP address literal is looked up
 * as a name like any other: callers skip addresses.
 */
#ifndef TERN_DNS_PSL_H
#define TERN_DNS_PSL_H

#include "core/str.h"

/* flags: also apply the list's private section (rules for names that
 * companies hand out: "github.io", "blogspot.com"), as browsers and
 * Rspamd do. Without it, only the ICANN section counts. */
#define PSL_PRIVATE 1u

/*
 * The public suffix of host in *out_r ("co.uk" for "www.example.co.uk",
 * "example" for the unlisted "example"). Returns 0, or -1 when host is
 * not a name: empty, a leading dot, an empty label, a label over 63
 * octets, the whole over 253, or an octet that is a control or a space.
 */
int psl_public_suffix(struct str host, unsigned flags, struct str *out_r);

/*
 * The registrable domain of host in *out_r: its public suffix and one
 * more label ("example.co.uk" for "a.b.example.co.uk"). Returns 0, or -1
 * when host is not a name (above) or has none: host is itself a public
 * suffix ("co.uk", "com", "www.ck" excepted).
 */
int psl_registrable(struct str host, unsigned flags, struct str *out_r);

/*
 * The registrable domain lowercased (ASCII) into dst (dstsz octets,
 * NUL-terminated). Returns its length, or -1 when there is none or it
 * does not fit.
 */
int psl_registrable_lower(struct str host, unsigned flags, char *dst, size_t dstsz);

#endif
