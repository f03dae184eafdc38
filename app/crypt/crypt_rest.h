/*
 * crypt_rest.h — encryption at rest: mail delivered to an account that
 * has set a public key (an OpenPGP key or an S/MIME certificate, through
 * the portal or the REST API; store_account_encrypt_*) is stored
 * encrypted to that key, so that what lies on the server's disk, in its
 * backups and in an export can be read only with the user's private key,
 * which the server never holds. Stalwart calls this the same.
 *
 * Where it runs: at the end of the delivery pipeline (deliver.c), after
 * every check that reads the message (authentication, spam, Sieve), on
 * the bytes as they are to be stored. What IMAP APPEND and JMAP store is
 * the user's own and stays as it is unless the account asked for it to
 * be sealed too (on_append; cmd_append.c, jmap_email_new.c); imports copy
 * mail as it was. Who stores it decides (crypt_put_key), for an APPEND
 * and for a copy into another account (IMAP COPY or MOVE into or out of
 * a shared mailbox, JMAP Email/copy; crypt_copy.h) alike: the owner
 * storing into their own account, or copying into it from a mailbox
 * shared with them, is their own act (sealed only with on_append);
 * another user putting mail into the owner's shared mailbox brings mail
 * the owner did not write, as a delivery does (sealed whenever the owner
 * has a key). A message that is already encrypted (PGP/MIME, S/MIME
 * enveloped, inline PGP) is stored as it came, and so is a copy of one
 * (sealed to its own owner's key, or mail that came encrypted): the
 * server holds no private key to open it with.
 *
 * The stored message keeps its header fields (From, To, Subject, Date,
 * Message-ID, Received, Authentication-Results, the spam verdict...) in
 * the clear, so that the mailbox can be listed, threaded and searched by
 * header as before; its MIME entity (the Content-* fields and the body)
 * is what is encrypted, as a mail client does it:
 *   - OpenPGP: PGP/MIME (RFC 3156 §4), multipart/encrypted with the
 *     version part and the armored message (crypt/pgp.h);
 *   - S/MIME: application/pkcs7-mime; smime-type=enveloped-data (RFC 8551
 *     §3.3), the CMS EnvelopedData in base64 (crypt/smime.h).
 * Thunderbird, Apple Mail, K-9/OpenKeychain, Evolution and mutt decrypt
 * both on display. The body can no longer be searched on the server.
 */
#ifndef TERN_CRYPT_CRYPT_REST_H
#define TERN_CRYPT_CRYPT_REST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/str.h"
#include "crypt/crypt_sink.h"
#include "crypt/pgp.h"
#include "crypt/smime.h"

enum crypt_method { CRYPT_NONE = 0, CRYPT_PGP = 1, CRYPT_SMIME = 2 };

/* A key read and ready to encrypt to. */
struct crypt_key {
	enum crypt_method method;
	int aes_bits; /* 128 or 256 */
	struct pgp_key pgp;
	struct smime_cert cert;
};

/*
 * Reads text[0..len) as the method's key (an OpenPGP public key; an
 * X.509 certificate in PEM or DER) into *k. 0, or -1 with a sentence for
 * the user in err. crypt_key_free() after either.
 */
int crypt_key_load(struct crypt_key *k, enum crypt_method method, int aes_bits, const char *text,
		   size_t len, char *err, size_t errsz);
void crypt_key_free(struct crypt_key *k);

/* Encrypts a probe to k: 0, or -1 with the reason in err when the key
 * was read but its arithmetic refuses it (an even modulus, a point not
 * on its curve or of small order). Checked when a key is set, so that a
 * delivery never meets such a key. */
int crypt_key_check(const struct crypt_key *k, char *err, size_t errsz);

/* "openpgp", "smime"; the reverse (CRYPT_NONE for anything else). */
const char *crypt_method_name(enum crypt_method m);
enum crypt_method crypt_method_parse(const char *s);

/* Whether msg[0..len) is already encrypted: multipart/encrypted,
 * application/(x-)pkcs7-mime that is not signed-data, certs-only or
 * compressed-data, or a body that starts with an inline PGP message. */
int crypt_is_encrypted(const char *msg, size_t len);

/*
 * Writes to out the message msg[0..len) encrypted to k (see above), as
 * it is made: besides the output, memory holds the header section (at
 * most RFC5322_HEADER_MAX) and, for S/MIME, the envelope. A header
 * section that cannot be read (over rfc5322.h's limits) is kept whole
 * inside the encryption, as a message/rfc822 entity. 0, or -1 (a write
 * failed, or the key was refused by the arithmetic).
 */
int crypt_encrypt_message(const struct crypt_sink *out, const struct crypt_key *k,
			  const char *msg, size_t len);

/* The most crypt_encrypt_message() can write for len octets. */
size_t crypt_encrypted_max(size_t len);

struct store;

/*
 * The account's key when what is stored for it now is to be sealed
 * (appending: the user's own IMAP APPEND or JMAP message, sealed only
 * when the account asked for that too): *k_r is NULL when there is no
 * key, or not for appends, or the key no longer works (logged as
 * event=encrypt_skipped: mail is then stored as it comes rather than
 * refused, which would only bounce it later). 0, or -1 when the store
 * cannot say. Free with crypt_key_release().
 */
int crypt_account_key(struct store *st, uint32_t account, int appending, struct crypt_key **k_r);
/*
 * The same for what user actor puts into account itself (IMAP APPEND,
 * a copy into it; see the top): the owner's own
 * act is appending, anyone else's (a grantee of a shared mailbox) is
 * mail the owner did not write, sealed as a delivery is.
 */
int crypt_put_key(struct store *st, uint32_t account, uint32_t actor, struct crypt_key **k_r);
void crypt_key_release(struct crypt_key *k);

/*
 * The stored form of msg[0..len) for an account whose key is k: when msg
 * is not encrypted already, it is sealed into out (initialised here,
 * spilling to disk past the memory budget, core/spool.h), *sealed_r its
 * bytes and 1 returned; 0 when msg is to be stored as it is (out
 * untouched); -1 when sealing failed (out must be spool_free()d).
 */
int crypt_seal(const struct crypt_key *k, const char *msg, size_t len, struct spool *out,
	       struct str *sealed_r);

#endif
