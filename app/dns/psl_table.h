/*
 * psl_table.h — the generated Public Suffix List table and its layout.
 *
 * build/gen/psl_table.c is written at build time by scripts/gen-psl.c
 * from Debian's publicsuffix package (public_suffix_list.dat; the pin is
 * in vendor/manifest). It is a trie of labels read from the right: node
 * 0 is the root, the children of a node are consecutive and sorted
 * (octet order of the ASCII form, shorter first on a tie), so a lookup
 * is one binary search per label. Labels are stored once each in
 * psl_labels, in their ASCII form (IDN labels as "xn--" + Punycode,
 * ASCII lowercase). Everything is constant data; only dns/psl.c reads
 * it, and the generator includes this header for the packing below.
 */
#ifndef TERN_DNS_PSL_TABLE_H
#define TERN_DNS_PSL_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* What rules end at a node: "name" (RULE), "*.name" (WILD), "!name"
 * (EXCEPT), each from the ICANN section; shifted by PSL_F_PRIVATE_SHIFT
 * when from the private section. */
#define PSL_F_RULE 1u
#define PSL_F_WILD 2u
#define PSL_F_EXCEPT 4u
#define PSL_F_PRIVATE_SHIFT 3

/* Node word 0: label offset in psl_labels (18 bits) << 14 | label length
 * (6 bits) << 8 | flags (8 bits). Word 1: index of the first child (18
 * bits) << 14 | number of children (14 bits). */
#define PSL_OFF_BITS 18
#define PSL_KIDS_BITS 14
#define PSL_NODE_OFF(w0) ((w0) >> 14)
#define PSL_NODE_LEN(w0) (((w0) >> 8) & 0x3fu)
#define PSL_NODE_FLAGS(w0) ((w0) & 0xffu)
#define PSL_NODE_FIRST(w1) ((w1) >> 14)
#define PSL_NODE_NKIDS(w1) ((w1) & 0x3fffu)

extern const uint32_t psl_nodes[][2];
extern const size_t psl_node_count;
extern const char psl_labels[];

#endif
