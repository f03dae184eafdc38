/*
 * crypt_copy.h — encryption at rest for a copy into another account:
 * IMAP COPY, MOVE (cmd_copy.c) and JMAP Email/copy (jmap_copy.c) from a
 * mailbox or account of one owner into another's. The store makes such a
 * copy on one more reference to the source's bytes
 * (store_email_copy_into); when the target account seals its mail
 * (crypt_rest.h), what it holds must be readable only with its private
 * key, so the copy is stored as its own sealed form instead: these
 * functions make those forms, handed to the store as
 * store_copy_into.blobs.
 *
 * Which rule applies is the one of crypt_rest.h's header: the target's
 * owner copying into their own account (from a mailbox shared with them)
 * is their own act, as an APPEND, sealed only when the account seals its
 * appends too (on_append); anyone else putting mail into the owner's
 * mailbox (a grantee copying into a mailbox shared with them) brings
 * mail the owner did not write, as a delivery does, sealed whenever the
 * owner has a key. A source already encrypted (sealed to its own
 * owner's key, or mail that came encrypted) is copied as it is: the
 * server holds no private key, and crypt_seal() keeps encrypted mail as
 * it is.
 *
 * The sealing is a public-key operation per message: crypt_copy_seal()
 * runs on a worker, never a loop; the copy's store transaction (a MOVE's
 * copy and expunge together) comes after it, with the sealed bytes.
 * Memory: each sealed form is a spool (core/spool.h), which spills to an
 * unlinked file past the process's budget.
 */
#ifndef TERN_CRYPT_CRYPT_COPY_H
#define TERN_CRYPT_CRYPT_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "crypt/crypt_rest.h"

struct store;
struct store_copy_blob;

/*
 * The key a copy by user actor into account dst is sealed with, by the
 * rule above, into *k_r (NULL: the copy is stored as it is; also when
 * src is dst, a copy within one account). 0, or -1 when the store cannot
 * say. Free with crypt_key_release(). Reads the store: a quick read,
 * fine on a loop.
 */
int crypt_copy_key(struct store *st, uint32_t actor, uint32_t src, uint32_t dst,
		   struct crypt_key **k_r);

/* The sealed forms of n emails of one account. */
struct crypt_copy {
	struct store_copy_blob *blobs; /* n entries, for store_copy_into.blobs */
	struct crypt_copy_msg *msgs;
	size_t n;
};

/*
 * Seals emails[0..n) of account src to k into cc (on a worker): blobs[i]
 * the sealed form of emails[i], or data NULL when that one is copied as
 * it is (already encrypted, or gone: the copy then finds it gone). 0, or
 * -1 when sealing or the store failed (cc must still be freed).
 */
int crypt_copy_seal(struct crypt_copy *cc, struct store *st, const struct crypt_key *k,
		    uint32_t src, const uint32_t *emails, size_t n);
void crypt_copy_free(struct crypt_copy *cc);

#endif
