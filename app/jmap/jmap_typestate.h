/*
 * jmap_typestate.h — states and exact /changes for JMAP types kept
 * outside the store's change log (Identity, EmailSubmission,
 * SieveScript): snapshots of what /get renders, kept in meta. See
 * jmap_typestate.c for the design and caveats.
 */
#ifndef TERN_JMAP_JMAP_TYPESTATE_H
#define TERN_JMAP_JMAP_TYPESTATE_H

#include <stddef.h>

struct jmap_request;
struct jmap_call;

/* Snapshots kept per account and type. */
#define JMAP_TS_KEEP 32

/* One object as /get renders it: its id (not copied; no space or line
 * end) and a digest of the rendering. */
struct jmap_ts_obj {
	const char *id;
	char digest[17];
};

/* Fills o: id, and the digest of json[0..len) (the object's /get form). */
void jmap_ts_digest(struct jmap_ts_obj *o, const char *id, const char *json, size_t len);

/*
 * The state of type ("ident", "sub", "sieve", "vac") for r's account whose
 * objects are now v[0..n): the latest snapshot's number, or the next one
 * after keeping v as it when they differ. state_r gets "J<number>"
 * (24 octets). 0, or -1 when the snapshot could not be written (more
 * than 64 KiB of ids, a store error; state_r then names the last kept).
 */
int jmap_ts_state(struct jmap_request *r, const char *type, const struct jmap_ts_obj *v, size_t n,
		  char state_r[24]);

/*
 * TYPE/changes (RFC 8620 §5.2) for c, whose objects are now v[0..n):
 * checks the arguments and writes the response or the error
 * (cannotCalculateChanges only for a state not kept).
 */
void jmap_ts_changes(struct jmap_call *c, const char *type, const struct jmap_ts_obj *v, size_t n);

#endif
