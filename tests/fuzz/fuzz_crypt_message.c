/*
 * fuzz_crypt_message.c — a message sealed for encryption at rest
 * (crypt/crypt_rest.h): whatever the bytes (a header past every limit,
 * no header, bare LFs, fields without values), crypt_is_encrypted
 * answers and crypt_encrypt_message writes one PGP/MIME message whose
 * header section, as a reader parses it, holds exactly one MIME-Version
 * and one Content-Type (its own) and none of the input's Content-*
 * fields, the armor closing before the last boundary.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypt/crypt_rest.h"
#include "mime/rfc5322.h"
#include "../unit/crypt_test_key.h"

static struct crypt_key key;
static int loaded;

/* Fields named name in the header section of p[0..n), as a reader
 * parses it (the input's header lines never hold an empty line, so the
 * section ends where ours does). */
static size_t fields_named(const char *p, size_t n, const char *name)
{
	struct rfc5322_parser ps;
	struct rfc5322_field f;
	size_t used = 0, k, c = 0;
	rfc5322_init(&ps);
	while (rfc5322_parse(&ps, p + used, n - used, 1, &k, &f) == RFC5322_FIELD) {
		used += k;
		c += f.name.len == strlen(name) && strncasecmp(f.name.p, name, f.name.len) == 0;
	}
	rfc5322_clear(&ps);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (!loaded) {
		assert(crypt_key_load(&key, CRYPT_PGP, 128, key_text, sizeof key_text - 1, err,
				      sizeof err) == 0);
		loaded = 1;
	}
	const char *msg = (const char *)data;
	(void)crypt_is_encrypted(msg, size);
	struct buf out;
	buf_init(&out, crypt_encrypted_max(size));
	struct crypt_sink sink = {crypt_sink_buf, &out};
	assert(crypt_encrypt_message(&sink, &key, msg, size) == 0);
	const char *o = buf_data(&out);
	size_t n = buf_len(&out);
	/* Outside the armor: ours only. */
	assert(fields_named(o, n, "MIME-Version") == 1);
	assert(fields_named(o, n, "Content-Type") == 1);
	assert(fields_named(o, n, "Content-Transfer-Encoding") == 0);
	static const char closing[] = "-----END PGP MESSAGE-----\r\n\r\n--tern-pgp-";
	assert(memmem(o, n, closing, sizeof closing - 1));
	assert(crypt_is_encrypted(o, n) == 1);
	buf_free(&out);
	return 0;
}
