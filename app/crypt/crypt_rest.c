/*
 * crypt_rest.c — encryption at rest; see crypt_rest.h.
 */
#include "crypt/crypt_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/arena.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/mime_field.h"
#include "mime/rfc5322.h"
#include "store/store.h"

int crypt_key_load(struct crypt_key *k, enum crypt_method method, int aes_bits, const char *text,
		   size_t len, char *err, size_t errsz)
{
	memset(k, 0, sizeof *k);
	if (aes_bits != 128 && aes_bits != 256) {
		snprintf(err, errsz, "the cipher must be AES-128 or AES-256");
		return -1;
	}
	k->method = method;
	k->aes_bits = aes_bits;
	switch (method) {
	case CRYPT_PGP:
		return pgp_key_parse(text, len, &k->pgp, err, errsz);
	case CRYPT_SMIME:
		return smime_cert_parse(text, len, &k->cert, err, errsz);
	default:
		snprintf(err, errsz, "the method must be openpgp or smime");
		return -1;
	}
}

void crypt_key_free(struct crypt_key *k)
{
	smime_cert_free(&k->cert);
	sodium_memzero(k, sizeof *k);
}

const char *crypt_method_name(enum crypt_method m)
{
	return m == CRYPT_PGP ? "openpgp" : m == CRYPT_SMIME ? "smime" : "none";
}

enum crypt_method crypt_method_parse(const char *s)
{
	if (strcmp(s, "openpgp") == 0)
		return CRYPT_PGP;
	if (strcmp(s, "smime") == 0)
		return CRYPT_SMIME;
	return CRYPT_NONE;
}

/* The header section's fields, each handed to fn; the body's offset.
 * -1 when the section cannot be read. */
static int each_field(const char *msg, size_t len, void (*fn)(void *, const struct rfc5322_field *),
		      void *arg, size_t *body_r)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t used = 0, n;
	int rc;

	rfc5322_init(&p);
	for (;;) {
		rc = rfc5322_parse(&p, msg + used, len - used, 1, &n, &f);
		used += n;
		if (rc == RFC5322_FIELD) {
			fn(arg, &f);
			continue;
		}
		break;
	}
	*body_r = rc == RFC5322_END ? (size_t)p.body_offset : len;
	rfc5322_clear(&p);
	return rc == RFC5322_END ? 0 : -1;
}

struct ctype {
	struct arena *a;
	struct str type, subtype;
	int encrypted_type; /* 1 yes, 0 no, -1 no Content-Type */
};

static void ctype_cb(void *arg, const struct rfc5322_field *f)
{
	struct ctype *c = arg;
	if (c->encrypted_type != -1 || f->name.len != 12 ||
	    strncasecmp(f->name.p, "Content-Type", 12) != 0)
		return;
	char *v = arena_alloc(c->a, f->value.len + 1);
	struct str u = {v, rfc5322_unfold(f->value, v)};
	struct mime_param *ps;
	uint32_t np;
	c->encrypted_type = 0;
	if (mime_field_params(c->a, u, &c->type, &c->subtype, &ps, &np, 16) < 0)
		return;
	if (str_eq_ci_c(c->type, "multipart") && str_eq_ci_c(c->subtype, "encrypted")) {
		c->encrypted_type = 1;
		return;
	}
	if (!str_eq_ci_c(c->type, "application") ||
	    !(str_eq_ci_c(c->subtype, "pkcs7-mime") ||
	      str_eq_ci_c(c->subtype, "x-pkcs7-mime")))
		return;
	c->encrypted_type = 1;
	for (uint32_t i = 0; i < np; i++)
		if (str_eq_ci_c(ps[i].name, "smime-type") &&
		    (str_eq_ci_c(ps[i].value, "signed-data") ||
		     str_eq_ci_c(ps[i].value, "certs-only") ||
		     str_eq_ci_c(ps[i].value, "compressed-data")))
			c->encrypted_type = 0;
}

int crypt_is_encrypted(const char *msg, size_t len)
{
	struct ctype c = {.a = arena_new(4096), .encrypted_type = -1};
	size_t body;
	each_field(msg, len, ctype_cb, &c, &body);
	int yes = c.encrypted_type == 1;
	int plain = c.encrypted_type == -1 ||
		    (str_eq_ci_c(c.type, "text") && str_eq_ci_c(c.subtype, "plain"));
	arena_free(&c.a);
	if (yes)
		return 1;
	if (!plain)
		return 0;
	/* Inline PGP: the body's first line that is not blank. */
	const char *p = msg + body, *end = msg + len;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	static const char armor[] = "-----BEGIN PGP MESSAGE-----";
	return (size_t)(end - p) >= sizeof armor - 1 && memcmp(p, armor, sizeof armor - 1) == 0;
}

/* Sorts the fields: the entity's (Content-*) to inner, MIME-Version
 * dropped (written again), every other to outer, each as it came. */
struct split {
	struct buf *outer, *inner;
	int fail;
};

static void put_raw(struct buf *b, struct str raw, int *fail)
{
	if (buf_append(b, raw.p, raw.len) < 0 ||
	    ((raw.len == 0 || raw.p[raw.len - 1] != '\n') && buf_append(b, "\r\n", 2) < 0))
		*fail = 1;
}

static void split_cb(void *arg, const struct rfc5322_field *f)
{
	struct split *s = arg;
	if (f->name.len == 12 && strncasecmp(f->name.p, "MIME-Version", 12) == 0)
		return;
	int entity = f->name.len > 8 && strncasecmp(f->name.p, "Content-", 8) == 0;
	put_raw(entity ? s->inner : s->outer, f->raw, &s->fail);
}

size_t crypt_encrypted_max(size_t len)
{
	/* base64 (4/3, plus CRLF every 64 or 76 columns) of the entity and of
	 * its packets or envelope, and the MIME around them. */
	return len / 3 * 4 + len / 24 + 64 * 1024;
}

static int put(const struct crypt_sink *out, const char *s)
{
	return out->write(out->arg, s, strlen(s));
}

static int pgp_mime(const struct crypt_sink *out, const struct crypt_key *k,
		    const struct str *parts, size_t nparts)
{
	uint8_t rnd[12];
	char boundary[40];
	randombytes_buf(rnd, sizeof rnd);
	int n = snprintf(boundary, sizeof boundary, "tern-pgp-");
	for (size_t i = 0; i < sizeof rnd; i++)
		n += snprintf(boundary + n, sizeof boundary - (size_t)n, "%02x", rnd[i]);
	char head[1024];
	snprintf(head, sizeof head,
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n"
		 " boundary=\"%s\"\r\n"
		 "\r\n"
		 "This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n"
		 "--%s\r\n"
		 "Content-Type: application/pgp-encrypted\r\n"
		 "Content-Description: PGP/MIME version identification\r\n"
		 "\r\n"
		 "Version: 1\r\n"
		 "\r\n"
		 "--%s\r\n"
		 "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
		 "Content-Description: OpenPGP encrypted message\r\n"
		 "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n"
		 "\r\n",
		 boundary, boundary, boundary);
	if (put(out, head) < 0 || pgp_encrypt_parts(&k->pgp, k->aes_bits, parts, nparts, out) < 0)
		return -1;
	snprintf(head, sizeof head, "\r\n--%s--\r\n", boundary);
	return put(out, head);
}

/* The envelope's DER goes through the base64 lines as it is made. */
static int b64_sink(void *arg, const void *p, size_t n)
{
	base64_lines_put(arg, p, n);
	return ((struct base64_lines *)arg)->err ? -1 : 0;
}

static int smime_mime(const struct crypt_sink *out, const struct crypt_key *k,
		      const struct str *parts, size_t nparts)
{
	if (put(out, "MIME-Version: 1.0\r\n"
		     "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n"
		     " name=\"smime.p7m\"\r\n"
		     "Content-Transfer-Encoding: base64\r\n"
		     "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
		     "Content-Description: S/MIME Encrypted Message\r\n"
		     "\r\n") < 0)
		return -1;
	struct base64_lines b;
	base64_lines_init(&b, out->write, out->arg, 76);
	struct crypt_sink der = {b64_sink, &b};
	if (smime_envelop_parts(&k->cert, k->aes_bits, parts, nparts, &der) < 0)
		return -1;
	return base64_lines_end(&b);
}

int crypt_encrypt_message(const struct crypt_sink *out, const struct crypt_key *k,
			  const char *msg, size_t len)
{
	struct buf outer, inner;
	size_t body;
	int rc = -1;

	/* The header section is bounded (rfc5322.h); the body is never
	 * copied: it is the last part of the entity. */
	buf_init(&outer, RFC5322_HEADER_MAX + 64);
	buf_init(&inner, RFC5322_HEADER_MAX + 64);
	struct split s = {&outer, &inner, 0};
	if (each_field(msg, len, split_cb, &s, &body) < 0 || s.fail) {
		/* Unreadable: all of it inside, as a message of its own. */
		buf_reset(&outer);
		buf_reset(&inner);
		body = 0;
		if (buf_append_c(&inner, "Content-Type: message/rfc822\r\n") < 0)
			goto out;
	}
	struct str parts[3] = {buf_str(&inner), {"\r\n", 2}, {msg + body, len - body}};
	if (out->write(out->arg, buf_data(&outer), buf_len(&outer)) < 0)
		goto out;
	rc = k->method == CRYPT_PGP ? pgp_mime(out, k, parts, 3)
	     : k->method == CRYPT_SMIME ? smime_mime(out, k, parts, 3)
				       : -1;
out:
	if (buf_len(&inner))
		sodium_memzero(buf_data(&inner), buf_len(&inner));
	buf_free(&inner);
	buf_free(&outer);
	return rc;
}

/* Output nobody reads. */
static int discard(void *arg, const void *p, size_t n)
{
	(void)arg, (void)p, (void)n;
	return 0;
}

int crypt_key_check(const struct crypt_key *k, char *err, size_t errsz)
{
	static const char probe[] = "Content-Type: text/plain\r\n\r\nprobe\r\n";
	struct crypt_sink sink = {discard, NULL};
	if (crypt_encrypt_message(&sink, k, probe, sizeof probe - 1) == 0)
		return 0;
	snprintf(err, errsz, "the key reads well but cannot encrypt: its public value is not "
		 "a valid point or modulus");
	return -1;
}

int crypt_account_key(struct store *st, uint32_t account, int appending, struct crypt_key **k_r)
{
	struct store_encrypt e;
	char err[256];

	*k_r = NULL;
	if (store_account_encrypt_get(st, account, &e) != STORE_OK)
		return -1;
	if (e.method != CRYPT_NONE && (!appending || e.on_append)) {
		struct crypt_key *k = xcalloc(1, sizeof *k);
		if (crypt_key_load(k, (enum crypt_method)e.method, e.aes_bits, e.key, e.keylen, err,
				   sizeof err) < 0) {
			log_warn("crypt", NULL, "event=encrypt_skipped account_id=%u reason=\"%s\"",
				 account, err);
			crypt_key_release(k);
		} else {
			*k_r = k;
		}
	}
	store_encrypt_free(&e);
	return 0;
}

int crypt_put_key(struct store *st, uint32_t account, uint32_t actor, struct crypt_key **k_r)
{
	return crypt_account_key(st, account, actor == account, k_r);
}

void crypt_key_release(struct crypt_key *k)
{
	if (!k)
		return;
	crypt_key_free(k);
	free(k);
}

static int spool_sink(void *arg, const void *p, size_t n)
{
	return spool_append(arg, p, n);
}

int crypt_seal(const struct crypt_key *k, const char *msg, size_t len, struct spool *out,
	       struct str *sealed_r)
{
	if (crypt_is_encrypted(msg, len))
		return 0;
	struct crypt_sink sink = {spool_sink, out};
	spool_init(out, crypt_encrypted_max(len), NULL);
	if (crypt_encrypt_message(&sink, k, msg, len) < 0 || spool_finish(out, sealed_r) < 0)
		return -1;
	return 1;
}
