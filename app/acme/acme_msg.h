/*
 * acme_msg.h — reading the CA's JSON answers (RFC 8555 §7.1): the
 * directory, orders, authorizations and problem documents.
 *
 * Design. Pure functions from a response body to a fixed-size struct,
 * so the state machine (acme.c) holds no parsed trees and the fuzz target
 * (tests/fuzz/fuzz_acme_msg.c) runs exactly what the client runs. Each
 * parses with http/json.h into a private arena; strings too long for
 * their field, or with a NUL inside, count as missing.
 */
#ifndef TERN_ACME_ACME_MSG_H
#define TERN_ACME_ACME_MSG_H

#include <stddef.h>

#include "acme/acme_private.h"

struct acme_dir {
	char new_nonce[512], new_account[512], new_order[512];
	char renewal_info[512]; /* RFC 9773, "" when the CA has none */
	int eab_required;       /* meta.externalAccountRequired */
};

struct acme_order {
	char status[16];        /* pending, ready, processing, valid, invalid */
	char finalize[1024];
	char certificate[1024]; /* "" until valid */
	char authz[ACME_NAMES_MAX][512];
	size_t nauthz;
	char error[400];        /* an invalid order's error (RFC 8555 §7.1.3): "type: detail", "" none */
};

struct acme_authz {
	char status[16];
	char name[256];         /* identifier.value */
	char chall_url[512];    /* of the challenge of the wanted type, "" when none */
	char token[128];        /* its token: base64url only, else "" */
	char error[400];        /* the wanted challenge's error (else another's), "type: detail", "" none */
};

/* 0 when body is a directory with newNonce, newAccount and newOrder; else -1. */
int acme_msg_directory(const char *body, size_t len, struct acme_dir *d);
/* 0 when body is an order with a status and finalize URL; else -1. */
int acme_msg_order(const char *body, size_t len, struct acme_order *o);
/* 0 when body is an authorization with a status and identifier; want is the challenge type. */
int acme_msg_authz(const char *body, size_t len, const char *want, struct acme_authz *a);
/* The problem document's type (the urn:ietf:params:acme:error: prefix removed) and detail; "" when absent. */
void acme_msg_problem(const char *body, size_t len, char *type, size_t typesz, char *detail,
                      size_t detailsz);
/* The problem document's "instance" (RFC 7807 §3.1; RFC 8555 §7.3.3: where the
 * operator acts on userActionRequired, new terms of service) into out; "" when absent. */
void acme_msg_problem_instance(const char *body, size_t len, char *out, size_t outsz);

#endif
