/*
 * fuzz_dkim_key.c — the DKIM key record parser (RFC 6376 §3.6.1), then a
 * signature check with whatever key it yields. Oracles: success means a
 * known key type, and either revoked or a non-empty key (32 octets for
 * Ed25519); failure comes with a reason.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dkim/dkim_verify.h"

static const uint8_t *key_data;
static size_t key_size;

/* Every lookup answers the input as one TXT record. */
static void *txt(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	static struct dns_answer a;
	struct dns_rr rr = {.type = DNS_T_TXT, .ttl = 60};
	(void)ctx;
	(void)name;
	dns_answer_init(&a, type, DNS_ANS_OK, 60);
	if (dns_answer_add(&a, &rr, key_data, key_size) != 0)
		dns_answer_init(&a, type, DNS_ANS_TEMP, 0); /* over DNS_DATA_MAX */
	cb(arg, &a);
	return NULL;
}

static const char msg[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=a; h=from;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=a; h=from;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    "From: a@example.org\r\n\r\nHi.\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_pubkey k;
	const char *why = NULL;

	if (dkim_pubkey_parse(str_make((const char *)data, size), &k, &why) == 0) {
		assert(k.type == DKIM_KEY_RSA || k.type == DKIM_KEY_ED25519);
		assert(k.revoked ? k.plen == 0 : k.plen > 0 && k.plen <= DKIM_PUBKEY_MAX);
		assert(k.type != DKIM_KEY_ED25519 || k.revoked || k.plen == 32);
	} else {
		assert(why != NULL);
	}

	struct dns_resolver r = {txt, NULL, NULL};
	key_data = data;
	key_size = size;
	struct dkim_verifier *v = dkim_verifier_new(&r, 1700000000);
	dkim_verifier_update(v, msg, sizeof msg - 1);
	assert(dkim_verifier_run(v, NULL, NULL) == DKIM_VERIFY_DONE);
	assert(dkim_verifier_count(v) == 2);
	for (size_t i = 0; i < 2; i++)
		assert(dkim_verifier_result(v, i)->result != DKIM_RESULT_PASS);
	dkim_verifier_free(&v);
	return 0;
}
