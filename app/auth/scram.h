/*
 * scram.h — the server side of SASL SCRAM-SHA-256 (RFC 7677) and
 * SCRAM-SHA-1 (RFC 5802), without channel binding (no -PLUS is offered).
 *
 * Design. Pure functions on caller memory, so the unit tests and the fuzz
 * target drive them alone: the key derivation (Hi = PBKDF2 with HMAC,
 * RFC 5802 §2.2), the stored form of the keys (RFC 5803), and an exchange
 * in three calls: scram_client_first() parses and keeps the client's first
 * message, scram_server_first() answers it with the salt and iteration
 * count of the keys given (real, or fake for a user that has none) and a
 * server nonce from libsodium, scram_client_final() parses the last
 * message and checks its proof in constant time, giving the server-final
 * message ("v=...") on success. HMAC and the hashes are BearSSL's.
 * Nothing allocates, nothing logs (a proof is a password equivalent).
 *
 * Parsing is strict (RFC 5802 §7): gs2 flag 'n' or 'y' ('p=' asks for
 * channel binding we do not offer), an authzid only when it names the
 * user itself (as PLAIN, no acting as someone else), saslname escapes =2C
 * and =3D only, a printable client nonce, the reserved 'm=' refused,
 * other extensions well-formed and ignored, every part bounded.
 *
 * Caveats. scram_keys_derive uses the password as given: its caller
 * applies SASLprep first (RFC 5802 §2.2; scram_login_seal does, with
 * core/saslprep.h).
 */
#ifndef TERN_AUTH_SCRAM_H
#define TERN_AUTH_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum scram_hash { SCRAM_SHA1 = 0, SCRAM_SHA256 = 1 };
#define SCRAM_HASHES 2

/* Iterations for new keys. RFC 7677 §4 asks at least 4096; the server
 * pays it only when a password is set, the client once per login, and
 * an attacker per guess against a stolen StoredKey: 10000 (2.4 times the
 * minimum) costs a client a few ms. */
#define SCRAM_ITERATIONS 10000
#define SCRAM_ITER_MIN 4096
#define SCRAM_ITER_MAX 1000000 /* a stored form asking more is refused */
#define SCRAM_SALT_LEN 16      /* new keys' salt */
#define SCRAM_SALT_MAX 64      /* a stored salt may be 8..64 octets */
#define SCRAM_KEY_MAX 32       /* SHA-256's output; SHA-1's is 20 */
#define SCRAM_USER_MAX 320     /* an address, as login.h's LOGIN_USER_MAX */
#define SCRAM_CNONCE_MAX 256   /* the client's nonce */
#define SCRAM_SNONCE_LEN 32    /* base64 of 24 random octets */
/* The client's messages, decoded, are refused past this; the server's
 * first message fits in SCRAM_MSG_MAX too. */
#define SCRAM_MSG_MAX 1024
/* The stored form (RFC 5803) of one hash's keys, NUL included: the name
 * (13), '$', the iterations (7), ':', the salt (88 at SCRAM_SALT_MAX),
 * '$', two keys of 44 with their ':' (201 in all). */
#define SCRAM_STORED_MAX 224

struct scram_keys {
	enum scram_hash hash;
	uint32_t iter;
	uint8_t salt[SCRAM_SALT_MAX];
	size_t salt_len;
	uint8_t stored_key[SCRAM_KEY_MAX];
	uint8_t server_key[SCRAM_KEY_MAX];
};

/* "SCRAM-SHA-256" or "SCRAM-SHA-1" (any case) into *h_r: 0, else -1. */
int scram_mech_parse(struct str name, enum scram_hash *h_r);
/* The mechanism's name, and its hash's output length (32 or 20). */
const char *scram_mech_name(enum scram_hash h);
size_t scram_hash_len(enum scram_hash h);

/* Derives k from password (any octets) with salt and iter (RFC 5802
 * §3: SaltedPassword, then StoredKey and ServerKey). */
void scram_keys_derive(enum scram_hash h, const void *password, size_t pwlen,
		       const uint8_t *salt, size_t salt_len, uint32_t iter, struct scram_keys *k);
/* The same with a fresh random salt and SCRAM_ITERATIONS. */
void scram_keys_new(enum scram_hash h, const void *password, size_t pwlen, struct scram_keys *k);

/*
 * The stored form, RFC 5803 §3 "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:
 * <ServerKey>" (base64), into out (size >= SCRAM_STORED_MAX): 0, or -1
 * when out is too small. scram_keys_parse reads it back: 0, or -1 for
 * anything else (another shape, a salt outside 8..SCRAM_SALT_MAX octets, an
 * iteration count outside SCRAM_ITER_MIN..SCRAM_ITER_MAX).
 */
int scram_keys_format(const struct scram_keys *k, char *out, size_t outsz);
int scram_keys_parse(const char *s, struct scram_keys *k);

/* The server's state between the messages of one exchange. Fixed size:
 * login.h copies it into the check it runs on the worker. */
struct scram_server {
	enum scram_hash hash;
	int step;                        /* 0 client-first, 1 client-final, 2 over */
	char user[SCRAM_USER_MAX + 1];   /* the saslname, unescaped */
	char gs2[SCRAM_USER_MAX * 3 + 8];/* the gs2 header as sent */
	size_t gs2_len;
	char auth[SCRAM_MSG_MAX * 3];    /* client-first-bare "," server-first */
	size_t auth_len;
	char nonce[SCRAM_CNONCE_MAX + SCRAM_SNONCE_LEN + 1]; /* both parts */
	size_t nonce_len;
	/* The caller's, never read here: the keys the server-first message
	 * was made with and the record they came from (scram_login.c keeps
	 * them so that they are unsealed once per exchange). */
	struct scram_keys keys;
	uint32_t account;
	uint64_t cred; /* 0: fake keys, which no proof matches */
};

/* Why a message was refused (for the log's reason=): */
#define SCRAM_BAD_AUTHZID (-2) /* an authzid other than the user */
#define SCRAM_BAD_CBIND (-3)   /* the client asked for channel binding */

/*
 * Starts an exchange for hash h and takes the client-first message (as
 * decoded from base64, any octets). Returns 0 with s->user set,
 * SCRAM_BAD_AUTHZID (s->user set too, for the log), SCRAM_BAD_CBIND, or
 * -1 when the message is not well formed (s->user may be empty).
 */
int scram_client_first(struct scram_server *s, enum scram_hash h, struct str msg);

/*
 * The server-first message for keys k (of s's hash) into out (size
 * >= SCRAM_MSG_MAX), NUL-terminated; the server nonce comes from
 * libsodium. 0, or -1 when called out of order.
 */
int scram_server_first(struct scram_server *s, const struct scram_keys *k, char *out,
		       size_t outsz);
/* The same with the server nonce given (printable, 1..SCRAM_SNONCE_LEN
 * characters): the unit tests replay the RFCs' examples with it. */
int scram_server_first_with(struct scram_server *s, const struct scram_keys *k,
			    const char *snonce, char *out, size_t outsz);

/*
 * Takes the client-final message (decoded) and checks its proof against
 * k in constant time. Returns 1 when it holds, with the server-final
 * message ("v=" base64) NUL-terminated in out (size >= 64); 0 when the
 * proof is wrong; -1 when the message is not well formed, its channel
 * binding is not the gs2 header of the first message, or its nonce is
 * not the one the server sent (a replay). The exchange is then over.
 */
int scram_client_final(struct scram_server *s, const struct scram_keys *k, struct str msg,
		       char *out, size_t outsz);

/* Wipes s. */
void scram_server_end(struct scram_server *s);

#endif
