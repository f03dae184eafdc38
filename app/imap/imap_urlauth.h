/*
 * imap_urlauth.h — URLAUTH URLs (RFC 4467) read on behalf of someone:
 * IMAP's URLFETCH and the submission server's BURL (RFC 4468) share it
 * (cmd_urlauth.c). The keys and the signing are cmd_urlauth.c's.
 *
 * Caveats: reads the store on the caller's thread (a loop: read
 * transactions only); before the IMAP server was set up (no store) every
 * URL fails.
 */
#ifndef TERN_IMAP_IMAP_URLAUTH_H
#define TERN_IMAP_IMAP_URLAUTH_H

#include "core/buf.h"
#include "core/str.h"

struct imap_session;

/*
 * Appends the octets of a URLAUTH URL to b when login (NULL: nobody
 * logged in) may have them; submit: the asker is the submission server
 * acting for login (BURL), which "submit+login" URLs are for. s: the IMAP
 * session asking, or NULL. 0; -1 when the URL is not valid for the asker
 * or names nothing; -2 when b's ceiling was reached.
 */
int imap_urlauth_fetch(struct imap_session *s, const char *login, int submit, struct str url,
		       struct buf *b);

#endif
