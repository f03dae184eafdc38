/*
 * test_crypt_rest.c — encryption at rest's message handling (crypt/
 * crypt_rest.h): which messages count as already encrypted, and how a
 * message is split into the header kept in the clear and the entity
 * sealed (the sealing itself is checked against gpg and openssl by
 * test_pgp, test_smime and tests/proto/test_encryption.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt/crypt_rest.h"
#include "mime/rfc5322.h"
#include "crypt_test_key.h"
#include "unit.h"


static void encrypted(const char *msg, int want)
{
	int got = crypt_is_encrypted(msg, strlen(msg));
	CHECK_EQ_INT(got, want);
	if (got != want)
		fprintf(stderr, "  for: %s\n", msg);
}

static void test_detection(void)
{
	encrypted("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";"
		  " boundary=x\r\n\r\n--x--\r\n", 1);
	encrypted("content-type: Multipart/Encrypted;\r\n boundary=x\r\n\r\n", 1);
	encrypted("Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIA\r\n", 1);
	encrypted("Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data\r\n\r\n", 1);
	encrypted("Content-Type: application/x-pkcs7-mime; name=smime.p7m\r\n\r\nMIA\r\n", 1);
	/* Opaque signed, certificates, compressed: readable by anyone. */
	encrypted("Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nMIA\r\n", 0);
	encrypted("Content-Type: application/pkcs7-mime; smime-type=\"certs-only\"\r\n\r\n", 0);
	encrypted("Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\n\r\n", 0);
	encrypted("Content-Type: multipart/signed; protocol=\"application/pgp-signature\";"
		  " boundary=x\r\n\r\n--x--\r\n", 0);
	/* Inline PGP in a plain text body (or one with no Content-Type). */
	encrypted("Subject: x\r\n\r\n\r\n  -----BEGIN PGP MESSAGE-----\r\n\r\nhQ\r\n", 1);
	encrypted("Content-Type: text/plain; charset=utf-8\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n", 1);
	encrypted("Content-Type: text/html\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n", 0);
	encrypted("Subject: x\r\n\r\nSee below.\r\n-----BEGIN PGP MESSAGE-----\r\n", 0);
	encrypted("Subject: x\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\n", 0);
	encrypted("", 0);
	encrypted("no header", 0);
}

static const char *header_end(const char *p)
{
	const char *e = strstr(p, "\r\n\r\n");
	return e ? e + 2 : p + strlen(p);
}

static void test_split(void)
{
	struct crypt_key k;
	char err[256];
	CHECK_EQ_INT(crypt_key_load(&k, CRYPT_PGP, 256, key_text, sizeof key_text - 1, err,
				    sizeof err), 0);
	CHECK_EQ_INT(crypt_key_check(&k, err, sizeof err), 0);
	static const char msg[] =
		"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"From: Ann <ann@example.org>\r\n"
		"MIME-Version: 1.0\r\n"
		"Subject: the plan\r\n"
		"Content-Type: text/plain;\r\n charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"X-Spam-Status: No\r\n"
		"\r\n"
		"secret body=3D\r\n";
	struct buf out;
	buf_init(&out, crypt_encrypted_max(sizeof msg));
	struct crypt_sink sink = {crypt_sink_buf, &out};
	CHECK_EQ_INT(crypt_encrypt_message(&sink, &k, msg, sizeof msg - 1), 0);
	buf_append(&out, "", 1);
	const char *o = buf_data(&out);
	/* The fields in the clear, in their order, then ours. */
	static const char clear[] =
		"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"From: Ann <ann@example.org>\r\n"
		"Subject: the plan\r\n"
		"X-Spam-Status: No\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n";
	CHECK(strncmp(o, clear, sizeof clear - 1) == 0);
	const char *end = header_end(o);
	CHECK(strstr(o, "quoted-printable") == NULL && strstr(o, "secret") == NULL &&
	      strstr(o, "charset") == NULL);
	CHECK(strstr(end, "\r\nVersion: 1\r\n") != NULL);
	CHECK(strstr(end, "-----BEGIN PGP MESSAGE-----\r\n\r\n") != NULL);
	CHECK_EQ_INT(crypt_is_encrypted(o, strlen(o)), 1);
	buf_free(&out);

	/* A header past rfc5322.h's field limit: all of it sealed, nothing
	 * in the clear but ours. */
	size_t n = RFC5322_FIELD_MAX + 100;
	char *big = malloc(n + 64);
	memcpy(big, "Subject: ", 9);
	memset(big + 9, 'a', n - 9);
	memcpy(big + n, "\r\n\r\nbody\r\n", 11);
	buf_init(&out, crypt_encrypted_max(n + 10));
	CHECK_EQ_INT(crypt_encrypt_message(&sink, &k, big, n + 10), 0);
	buf_append(&out, "", 1);
	CHECK(strncmp(buf_data(&out), "MIME-Version: 1.0\r\nContent-Type: multipart/encrypted",
		      52) == 0);
	/* A run of 32: the sealed text is base64 of random-looking octets,
	 * where "aaaa" turns up by chance once in a few hundred runs. */
	CHECK(strstr(buf_data(&out), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == NULL);
	buf_free(&out);
	free(big);

	/* A sink that fails: so does the sealing. */
	buf_init(&out, 100);
	CHECK_EQ_INT(crypt_encrypt_message(&sink, &k, msg, sizeof msg - 1), -1);
	buf_free(&out);
	crypt_key_free(&k);
}

static void test_keys(void)
{
	struct crypt_key k;
	char err[256];
	CHECK_EQ_INT(crypt_key_load(&k, CRYPT_PGP, 192, key_text, sizeof key_text - 1, err,
				    sizeof err), -1);
	CHECK(strstr(err, "AES-128 or AES-256") != NULL);
	crypt_key_free(&k);
	CHECK_EQ_INT(crypt_key_load(&k, CRYPT_SMIME, 128, key_text, sizeof key_text - 1, err,
				    sizeof err), -1);
	crypt_key_free(&k);
	CHECK_EQ_INT(crypt_key_load(&k, CRYPT_NONE, 128, key_text, sizeof key_text - 1, err,
				    sizeof err), -1);
	crypt_key_free(&k);
	CHECK_EQ_STR(crypt_method_name(crypt_method_parse("openpgp")), "openpgp");
	CHECK_EQ_STR(crypt_method_name(crypt_method_parse("smime")), "smime");
	CHECK_EQ_INT(crypt_method_parse("OpenPGP"), CRYPT_NONE);
}

int main(void)
{
	test_detection();
	test_split();
	test_keys();
	return unit_done("test_crypt_rest");
}
