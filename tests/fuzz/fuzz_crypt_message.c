/*
 * fuzz_crypt_message.c — a message sealed for encryption at rest
 * (crypt/crypt_rest.h): whatever the bytes (a header past every limit,
 * no header, bare LFs, fields without values), crypt_is_encrypted
 * answers and crypt_encrypt_message writes one PGP/MIME message whose
 * header section holds exactly one MIME-Version and one Content-Type of
 * its own making, with nothing of the input's Content-* fields outside
 * the armor.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypt/crypt_rest.h"

static const char key_text[] =
	"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
	"\n"
	"mDMEawZiEBYJKwYBBAHaRw8BAQdAkA2jO3ya/jxqZgDgFYKlh9BKrREgaOMd+wly\n"
	"4iM8eeG0GEZ1enogPGZ1enpAZXhhbXBsZS50ZXN0PoiQBBMWCAA4FiEEAikqJmu+\n"
	"D2dBYyCkBtgYpx81tn0FAmsGYhACGwMFCwkIBwIGFQoJCAsCBBYCAwECHgECF4AA\n"
	"CgkQBtgYpx81tn2rQgD/WBUXDq/uON2LeODjiinLmZau0cMuf/dWKkuK1wuBNHMA\n"
	"/Ax920MfJy9H5uGk29oTNpD4ZU68wbNZqVlAFr5dqEYDuDgEawZiEBIKKwYBBAGX\n"
	"VQEFAQEHQBZT6S/vS1lucS29O0KJpwrxifIOaRCO0EVSR9E2EgVFAwEIB4h4BBgW\n"
	"CAAgFiEEAikqJmu+D2dBYyCkBtgYpx81tn0FAmsGYhACGwwACgkQBtgYpx81tn0P\n"
	"+QD9GP+beXoj6jsovZllbLYLWUZtt/DCB5ADkB3kH8B7hXQBANvHX8vyudXWaeXc\n"
	"EFdYqNFWpb9VUf+EQkNJ76sEkgsI\n"
	"=4vU1\n"
	"-----END PGP PUBLIC KEY BLOCK-----\n";

static struct crypt_key key;
static int loaded;

/* Occurrences of s at a line start in p[0..n). */
static size_t at_line_start(const char *p, size_t n, const char *s)
{
	size_t c = 0, l = strlen(s);
	for (size_t i = 0; i + l <= n; i++)
		if ((i == 0 || p[i - 1] == '\n') && strncasecmp(p + i, s, l) == 0)
			c++;
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
	/* Outside the armor: ours only (the input's header may hold any
	 * text, an armor line too, so the armor is looked for after ours). */
	static const char intro[] = "\r\nThis is an OpenPGP/MIME";
	const char *sep = memmem(o, n, intro, sizeof intro - 1);
	assert(sep);
	size_t rest = n - (size_t)(sep - o);
	const char *armor = memmem(sep, rest, "-----BEGIN PGP MESSAGE-----", 27);
	assert(armor && memmem(armor, n - (size_t)(armor - o), "-----END PGP MESSAGE-----", 25));
	size_t head = (size_t)(sep - o);
	assert(at_line_start(o, head, "MIME-Version:") == 1);
	assert(at_line_start(o, head, "Content-Type:") == 1);
	assert(at_line_start(o, head, "Content-Transfer-Encoding:") == 0);
	assert(crypt_is_encrypted(o, n) == 1);
	buf_free(&out);
	return 0;
}
