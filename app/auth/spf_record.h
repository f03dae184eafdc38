/*
 * spf_record.h — the SPF record grammar (RFC 7208 §4.6, §5, §6, §7): terms
 * of a "v=spf1" record, and macro strings expanded against a message's
 * identities.
 *
 * Design. The evaluator (spf.h) validates a whole record once with
 * spf_record_check() (a syntax error anywhere is a permerror before any
 * term is evaluated, §4.6) and then walks it term by term with
 * spf_term_next(), holding only a position: terms are slices into the
 * record, nothing is copied. Macro strings are checked at parse time
 * (spf_macro_check) and expanded when a term is evaluated
 * (spf_macro_expand), because the expansion depends on the domain being
 * evaluated at that depth.
 *
 * Caveats: names in terms are not lowercased here; the resolver's
 * canonical form does that. A term longer than the record cannot exist,
 * so no term-length limit applies beyond the record's.
 */
#ifndef TERN_AUTH_SPF_RECORD_H
#define TERN_AUTH_SPF_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum spf_term_kind {
	SPF_T_ALL,
	SPF_T_INCLUDE,
	SPF_T_A,
	SPF_T_MX,
	SPF_T_PTR,
	SPF_T_IP4,
	SPF_T_IP6,
	SPF_T_EXISTS,
	SPF_T_REDIRECT, /* modifiers from here on */
	SPF_T_EXP,
	SPF_T_UNKNOWN_MOD, /* a well-formed modifier we do not know: ignored (§6) */
};

struct spf_term {
	enum spf_term_kind kind;
	char qual;          /* '+', '-', '~' or '?' (mechanisms) */
	struct str spec;    /* the domain-spec or modifier value; len 0 when absent */
	unsigned cidr4;     /* a, mx, ip4: prefix length, 32 when absent */
	unsigned cidr6;     /* a, mx, ip6: prefix length, 128 when absent */
	uint8_t net[16];    /* ip4 (first 4 octets) and ip6: the network */
};

/*
 * Is rec (len bytes) an SPF record: "v=spf1" (any case) alone or followed
 * by a space (§4.5)? 1 or 0.
 */
int spf_record_is_spf(const char *rec, size_t len);

/*
 * Parses the term starting at or after *pos in rec[0..len) (after the
 * version and spaces). Returns 1 with *t filled and *pos past the term, 0
 * at the end of the record, -1 when the term is malformed (*pos then
 * points at it).
 */
int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t);

/*
 * Checks a whole SPF record: every term parses and at most one redirect=
 * and one exp= appear (§6). Returns 0, or -1 with *why_r a static reason.
 */
int spf_record_check(const char *rec, size_t len, const char **why_r);

/* What macros expand to: the identities of one check_host() (§7.3). */
struct spf_macro_ctx {
	const char *sender;  /* s: local-part@domain */
	const char *domain;  /* d: the domain being evaluated now */
	const char *ip;      /* i, c: the client address in text (IPv4 dotted, IPv6 as given) */
	int ip6;             /* v: "ip6" when 1, "in-addr" when 0 */
	const uint8_t *ip16; /* i for IPv6: the 16 octets, dot-separated nibbles */
	const char *helo;    /* h */
	const char *ptr;     /* p: the validated name, NULL until known (then SPF_MACRO_NEED_PTR) */
	const char *host;    /* r: our host name ("unknown" when NULL) */
	int64_t now;         /* t */
};

#define SPF_MACRO_BAD (-1)      /* a syntax error: permerror */
#define SPF_MACRO_NEED_PTR (-2) /* %{p} used, ctx->ptr not known yet */

/*
 * Checks the macro-string s (exp 1: an explain-string, where c, r, t and
 * spaces are allowed; exp 0: a domain-spec, which must also end in a
 * macro or "." and a top label, §7.1). 0 or SPF_MACRO_BAD.
 */
int spf_macro_check(struct str s, int exp);

/*
 * Expands s into out (outsz > 0, always NUL-terminated). A domain-spec
 * (exp 0) longer than 253 octets loses labels from the left until it fits
 * (§7.3). Returns the length written, SPF_MACRO_BAD, or
 * SPF_MACRO_NEED_PTR. An expansion that does not fit in out is cut at
 * outsz - 1 (an explain-string) or SPF_MACRO_BAD (a domain-spec).
 */
int spf_macro_expand(struct str s, int exp, const struct spf_macro_ctx *ctx, char *out,
		     size_t outsz);

/* Does s use the p macro (so the evaluator must validate the PTR name first)? */
int spf_macro_uses_ptr(struct str s);

#endif
