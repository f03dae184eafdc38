/*
 * crypt_test_key.h — one OpenPGP public key (Ed25519 primary, cv25519
 * encryption subkey, made by gpg; no secret half is kept), shared by
 * test_crypt_rest and fuzz_crypt_message, which need a key that loads,
 * not one that decrypts.
 */
#ifndef TERN_TEST_CRYPT_KEY_H
#define TERN_TEST_CRYPT_KEY_H

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

#endif
