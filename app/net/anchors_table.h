/*
 * anchors_table.h — the generated table of built-in trust anchors.
 *
 * build/gen/anchors_table.c is written at build time by
 * scripts/gen-anchors.c from Debian's ca-certificates source package
 * (mozilla/certdata.txt, the server-auth trusted roots; vendor/manifest
 * pins the version). Everything in it is constant data; only
 * net/anchors.c reads it.
 */
#ifndef TERN_NET_ANCHORS_TABLE_H
#define TERN_NET_ANCHORS_TABLE_H

#include <stddef.h>

#include <bearssl.h>

/* The roots, as BearSSL trust anchors (all flagged BR_X509_TA_CA). */
extern const br_x509_trust_anchor anchors_builtin[];
/* Their CKA_LABEL from certdata.txt ("ISRG Root X1"), same order. */
extern const char *const anchors_builtin_label[];
/* Entries in both arrays. */
extern const size_t anchors_builtin_count;

#endif
