/*
 * fuzz_tls_pem.c — certificate/key loading from untrusted PEM or DER.
 *
 * The first two bytes (big-endian) choose where the rest splits: before
 * the split is the certificate file, after it the key file. Loading must fail cleanly or
 * yield a conf whose key matches its certificate; never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "net/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size < 2)
		return 0;
	size_t split = (((size_t)data[0] << 8) | data[1]) % (size - 1);
	data += 2;
	size -= 2;
	struct tls_conf *c = tls_conf_from_pem(data, split, "cert", data + split, size - split, "key",
					       err, sizeof(err));
	if (c)
		tls_conf_unref(&c);
	return 0;
}
