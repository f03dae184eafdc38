/*
 * clamd.h — a client of ClamAV's daemon (clamd(8)): one message's scan.
 *
 * Design. One connection per message, on the caller's loop and never
 * blocking it: the address is TERN_CLAMD (a unix socket's path, or
 * host:port looked up on the loop's resolver, so a docker-compose service
 * name works), the command clamd's INSTREAM in its NUL-terminated form
 * ("zINSTREAM\0"), the message sent from where the spool holds it in
 * chunks of CLAMD_CHUNK octets, each behind its length as four octets in
 * network order, then a zero length; the reply is one NUL-terminated
 * line: "stream: OK", "stream: <signature> FOUND", or one ending in
 * "ERROR" ("INSTREAM size limit exceeded. ERROR" past clamd's
 * StreamMaxLength). Only one chunk is ever held in memory, in the
 * connection's output buffer (net/client.h), filled again as it drains.
 *
 * A host name's addresses (a compose service may have several) are
 * tried in order, up to CLAMD_ADDRS_MAX of them, until one takes the
 * connection: one that refuses or times out is passed over.
 *
 * Bounds: connecting has CLAMD_CONNECT_MS (the lookup, then each
 * address), then each step (a chunk written, the reply) CLAMD_IO_MS
 * (clamav-milter's ReadTimeout); the reply is at most CLAMD_REPLY_MAX
 * octets. Messages over CLAMD_SCAN_MAX are not sent at all (the caller
 * checks the size), as clamav-milter skips those over its
 * MaxFileSize (25 MiB by default, clamd's StreamMaxLength too).
 *
 * Caveats: TERN_TEST_CLAMD_TIMEOUT_MS (tests only, read by
 * clamd_configure()) replaces both timeouts. The result never arrives
 * inside clamd_scan_start().
 */
#ifndef TERN_VIRUS_CLAMD_H
#define TERN_VIRUS_CLAMD_H

#include <stddef.h>

#include "core/str.h"

struct loop;
struct clamd_scan;

#define CLAMD_CHUNK (256 * 1024)
#define CLAMD_REPLY_MAX 1024
#define CLAMD_NAME_MAX 128
#define CLAMD_SCAN_MAX (25 * 1024 * 1024)
#define CLAMD_CONNECT_MS 10000
#define CLAMD_ADDRS_MAX 4
#define CLAMD_IO_MS 120000

enum clamd_status {
	CLAMD_CLEAN,    /* "stream: OK" */
	CLAMD_INFECTED, /* "stream: NAME FOUND": name holds NAME */
	CLAMD_FAILED,   /* no verdict: why says what happened */
};

struct clamd_result {
	enum clamd_status status;
	/* INFECTED: the signature's name; FAILED after clamd answered: its
	 * reply. Printable ASCII only (others are '?'), cut to fit. */
	char name[CLAMD_NAME_MAX];
	/* FAILED: a log token: "unreachable", "timeout", "closed",
	 * "size_limit" (clamd's StreamMaxLength), "error" (another ERROR),
	 * "bad_reply", "not_found" (the host name has no address). */
	const char *why;
};

/*
 * Parses one reply (p[0..n), without its NUL) into *r. Any bytes are
 * accepted: what is neither OK nor FOUND is FAILED ("size_limit",
 * "error" or "bad_reply").
 */
void clamd_reply_parse(const char *p, size_t n, struct clamd_result *r);

/*
 * Where a reply ends in in[0..n): the length before its NUL, -2 when no
 * NUL came yet and n < CLAMD_REPLY_MAX, -1 when none came in
 * CLAMD_REPLY_MAX octets (too long: a bad reply).
 */
long clamd_reply_find(const char *in, size_t n);

/* Takes TERN_CLAMD's value (config.h's form; "" or NULL: no scanning).
 * Call once at start, before any loop runs. */
void clamd_configure(const char *v);

/* 1 when TERN_CLAMD is set: messages are to be scanned. */
int clamd_enabled(void);

typedef void clamd_done_cb(void *arg, const struct clamd_result *r);

/*
 * Scans data (the caller's, unchanged until done runs or the scan is
 * cancelled) on loop: done(arg, result) runs once, later, on loop; the
 * handle is gone when it has run. Returns the handle.
 */
struct clamd_scan *clamd_scan_start(struct loop *loop, struct str data, clamd_done_cb *done,
				    void *arg);

/* Stops a scan whose done has not run (it will not); NULL is a no-op. */
void clamd_scan_cancel(struct clamd_scan *sc);

#endif
