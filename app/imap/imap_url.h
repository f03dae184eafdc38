/*
 * imap_url.h — relative IMAP URLs (RFC 5092) of a message or a part, as
 * CATENATE's URL parts name them (imap_url.c has the grammar).
 *
 * Caveats: only the forms CATENATE needs: "/mailbox[;UIDVALIDITY=n]
 * /;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]". Everything lands in the struct
 * (fixed sizes); nothing is allocated.
 */
#ifndef TERN_IMAP_IMAP_URL_H
#define TERN_IMAP_IMAP_URL_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum imap_url_result {
	IMAP_URL_OK = 0,
	IMAP_URL_BAD = -1,          /* not a URL of that form */
	IMAP_URL_NOT_RELATIVE = -2, /* imap://... or a network path */
	IMAP_URL_URLAUTH = -3,      /* carries URLAUTH, which is not served */
};

struct imap_url {
	char mailbox[1024];  /* percent-decoded, NUL-terminated, non-empty */
	uint32_t uidvalidity; /* 0: not given */
	uint32_t uid;         /* >= 1 */
	char section[256];    /* percent-decoded ("1.2.MIME"); "" for none */
	size_t section_len;
	int partial;          /* ;PARTIAL= given */
	uint64_t offset, length; /* length UINT64_MAX: to the end */
};

/* Parses url into *u. Returns an imap_url_result. */
int imap_url_parse(struct str url, struct imap_url *u);

struct imap_arg;
/* Header field names one HEADER.FIELDS section of a URL may list. */
#define IMAP_URL_FIELDS_MAX 64
/*
 * A URL's section (struct imap_url's, percent-decoded) of the form
 * "[part.]HEADER.FIELDS[.NOT] (name ...)" (RFC 5092 enc-section with RFC
 * 3501's header-list: one space before "(", names apart by one space,
 * atoms or quoted strings without escapes). Returns 1 with *spec_r the
 * part number ("" for the message itself), *not_r, and the names in
 * fields[0..n) as IMAP_ARG_ATOM pointing into sec, IMAP_ARG_END at
 * fields[n] (fields holds IMAP_URL_FIELDS_MAX + 1); 0 when sec is another
 * kind of section; -1 when it is this kind but malformed (no names, more
 * than IMAP_URL_FIELDS_MAX, bad spacing or quoting).
 */
int imap_url_header_fields(struct str sec, struct str *spec_r, int *not_r,
			   struct imap_arg *fields);

/*
 * URLAUTH (RFC 4467) URLs: "imap://" user ["@" host [":" port]] "/" ...
 * as above ... [";EXPIRE=" date-time] ";URLAUTH=" access [":" mechanism
 * ":" token]. access is "anonymous", "authuser", "user+" name or
 * "submit+" name (percent-decoded). rump_len covers the URL up to and
 * including the access (what the token signs).
 */
struct imap_url_auth {
	struct imap_url u;
	char user[320];   /* the URL's owner, percent-decoded */
	char access[16];  /* "anonymous", "authuser", "user", "submit" */
	char access_user[320];
	int64_t expire;   /* 0: none; seconds since the epoch */
	char mech[32];    /* "" when the URL has no token yet */
	char token[130];
	size_t rump_len;
};
/* 0 for a URL of that form, -1 otherwise. */
int imap_url_parse_auth(struct str url, struct imap_url_auth *a);

#endif
