/*
 * dns_msg.h — DNS replies as typed records: the wire parser (RFC 1035 §4)
 * and the answer every policy lookup returns.
 *
 * Design. A reply is parsed once into a struct dns_answer: a status
 * (records, NODATA, NXDOMAIN, temporary failure), the records of the asked
 * type that belong to the asked name after following its CNAME chain in
 * the answer section, and one TTL for the whole answer (the smallest TTL
 * of the records and CNAMEs used; for a negative answer the SOA's minimum
 * and TTL, whichever is smaller: RFC 2308 §5). Record data sit in one
 * fixed array inside the answer, so an answer has a hard maximum size
 * (about 150 KiB, always on the heap); dns_answer_pack() writes the part
 * in use, dns_answer_size() bytes, which is what the cache stores. Names are lowercase, without the trailing dot, with bytes
 * outside printable ASCII, dots and backslashes inside a label written
 * as \DDD (RFC 1035 §5.1), so two spellings of one name compare equal.
 *
 * The bounds hold a whole 64 KiB reply (a TCP answer, RFC 1035 §4.2.2)
 * of TXT, TLSA, A or AAAA records: their data never take more room than
 * their wire form, and no record is shorter than 12 octets. Big TXT sets
 * (an SPF record among verification tokens) and MX sets are real.
 *
 * Caveats: records beyond DNS_RR_MAX or DNS_DATA_MAX bytes of data are
 * dropped (the answer is marked truncated): only names, which compression
 * lets a reply repeat cheaply (MX, SRV, PTR), can get there; the parser never reads outside
 * the reply and follows compression pointers only backwards, so a
 * hostile reply cannot loop it.
 */
#ifndef TERN_DNS_DNS_MSG_H
#define TERN_DNS_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_TLSA = 52,
};

enum dns_answer_status {
	DNS_ANS_OK,       /* at least one record of the asked type */
	DNS_ANS_NODATA,   /* the name exists, no record of that type */
	DNS_ANS_NXDOMAIN, /* the name does not exist */
	DNS_ANS_TEMP,     /* SERVFAIL, timeout, refused, bad reply: try later */
};

#define DNS_NAME_MAX 1024 /* a name in text form, \DDD escapes included */
#define DNS_MSG_MAX 65535 /* a reply over TCP */
/* A record is at least a compressed owner (2), type, class, TTL, length (10). */
#define DNS_RR_MAX ((DNS_MSG_MAX - 12 - 5) / 12)
#define DNS_DATA_MAX 65535 /* off, len and datalen are 16 bits */

/*
 * One record. Its data are answer->data[off .. off+len):
 * A: 4 octets; AAAA: 16 octets; MX: the exchange name (text, NUL-ended,
 * len without the NUL) with pref set; PTR, CNAME, NS: the name as text;
 * TXT: the character-strings of the record joined without separators
 * (RFC 7208 §3.3), NUL-ended (a NUL may also be inside: dns_rr_text()
 * then gives ""); TLSA: usage, selector, matching type, then
 * the association data; SRV: the target name with pref, weight, port set.
 */
struct dns_rr {
	uint16_t type;
	uint16_t pref; /* MX preference, SRV priority */
	uint16_t weight, port;
	uint16_t off, len;
	uint32_t ttl;
};

struct dns_answer {
	uint8_t status;    /* enum dns_answer_status */
	uint8_t truncated; /* records were dropped for lack of room */
	/* The resolver set AD (RFC 4035 §3.2.3): it validated the whole
	 * answer with DNSSEC (every CNAME hop, when dns_query followed some).
	 * Meaningful only from a validating resolver the user trusts
	 * (TERN_DNS_TRUST_AD); dns_query asks for it with AD in the query
	 * (RFC 6840 §5.7). */
	uint8_t ad;
	uint16_t qtype;
	uint32_t ttl;      /* seconds this answer may be reused; 0: do not cache */
	uint16_t nrr;
	uint16_t datalen;
	char cname[256];   /* the name the records belong to when a CNAME led there, else "" */
	struct dns_rr rr[DNS_RR_MAX];
	uint8_t data[DNS_DATA_MAX];
};

/*
 * Parses the reply msg (len bytes) to a query for qname (text, any case,
 * trailing dot optional) of type qtype into *out. rcode NOERROR with
 * records of qtype for qname (or the end of its CNAME chain) gives
 * DNS_ANS_OK; NOERROR without them DNS_ANS_NODATA (out->cname tells
 * where a chain ended, so the caller may ask there); NXDOMAIN
 * DNS_ANS_NXDOMAIN; any other rcode DNS_ANS_TEMP. Returns the bytes
 * consumed (len, or less when trailing bytes follow the last section), or
 * -1 when the reply is malformed (then *out is a DNS_ANS_TEMP answer).
 */
int dns_msg_parse(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
		  struct dns_answer *out);

/* Sets *a to an empty answer of status st and type qtype, TTL ttl. */
void dns_answer_init(struct dns_answer *a, uint16_t qtype, enum dns_answer_status st,
		     uint32_t ttl);
/*
 * Adds a record: len bytes of data copied (data NULL: reserved for the
 * caller to fill), a NUL appended. -1 (and truncated set) when full.
 */
int dns_answer_add(struct dns_answer *a, const struct dns_rr *rr, const void *data, size_t len);
/* The bytes dns_answer_pack() writes for *a: its header, records and data in use. */
size_t dns_answer_size(const struct dns_answer *a);
/* Writes *a into buf (dns_answer_size(a) bytes, any alignment). */
void dns_answer_pack(const struct dns_answer *a, void *buf);
/* Sets *out to the answer dns_answer_pack() wrote at buf. */
void dns_answer_unpack(const void *buf, struct dns_answer *out);
/* Record i's data as a C string (names, TXT); "" for binary types and for
 * a TXT record with a NUL inside (its bytes are at a->data + off, len). */
const char *dns_rr_text(const struct dns_answer *a, size_t i);
/*
 * 1 when a (an MX answer) is a null MX (RFC 7505 §3): at least one MX
 * record whose exchange is the root "." and no MX record naming a host,
 * as dns_route() reads it. 0 otherwise (any other status included).
 */
int dns_answer_null_mx(const struct dns_answer *a);
/* Name in canonical text form (lowercase, no trailing dot) into out (outsz >= 1). -1 when too long. */
int dns_name_canon(const char *in, char *out, size_t outsz);
/*
 * A name given as raw label octets separated by dots (as an SPF macro
 * expands one: a space or a backslash is an octet of the label) into the
 * canonical text form answers are read in, so the query c-ares sends
 * carries those octets and the answer's owner name compares equal:
 * lowercase, '\\', space, controls and octets past 0x7e as \DDD. Every
 * dot separates labels. 0, or -1 (out holds garbage) when it does not fit.
 */
int dns_name_text(const char *raw, char *out, size_t outsz);
/*
 * The reverse-lookup name of an address (RFC 1035 §3.5, RFC 3596 §2.5):
 * "4.3.2.1.in-addr.arpa" for IPv4 (ip[0..4)), nibbles under "ip6.arpa"
 * for IPv6 (ip[0..16)). out needs 74 bytes for IPv6.
 */
void dns_reverse_name(const uint8_t *ip, int ip6, char *out, size_t outsz);
/* "A", "MX", ... or NULL; and back (case-insensitive), 0 when unknown. */
const char *dns_type_name(uint16_t t);
uint16_t dns_type_parse(const char *s);

#endif
