/*
 * mime_threadkeys.h — what the store's threading (JMAP threadId, IMAP
 * THREADID) needs from a message: 64-bit hashes of its own Message-ID, of
 * the ids it replies to, and of its base subject.
 *
 * Design: a pure function over the raw message (only its header section is
 * read), so the store's writer, its migration and the unit and fuzz tests
 * all call the same code. The ids are normalised with mime_msgid_norm()
 * (quoting removed) and the subject reduced with mime_base_subject()
 * (RFC 5256 §2.1, folded), so "Re: [list] Hello" and "hello" hash alike.
 * The store decides what a hash means (SCHEMA.md, "Threads").
 *
 * Limits: at most MIME_THREADKEYS_REFS ids are kept (the first In-Reply-To
 * id, then the References ids from the nearest to the farthest, each once);
 * a header section past RFC5322_HEADER_MAX is read up to that point.
 *
 * Caveats: a hash is BLAKE2b-64 of the normalised text: two different ids
 * of one account collide with a chance of about n^2 / 2^65, which at a
 * million ids is 3e-8; a collision puts a message in a wrong thread,
 * nothing worse.
 */
#ifndef TERN_MIME_THREADKEYS_H
#define TERN_MIME_THREADKEYS_H

#include <stddef.h>
#include <stdint.h>

#define MIME_THREADKEYS_REFS 20

struct mime_threadkeys {
	int has_self;       /* the message has a Message-ID */
	uint64_t self;      /* its hash */
	size_t nrefs;       /* ids it refers to, nearest first, no duplicates */
	uint64_t refs[MIME_THREADKEYS_REFS];
	uint64_t subject;   /* hash of the folded base subject ("" when none) */
};

/* Fills *k from the message data[0..len) (any octets). Never fails. */
void mime_threadkeys_get(const char *data, size_t len, struct mime_threadkeys *k);

#endif
