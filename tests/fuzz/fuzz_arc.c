/*
 * fuzz_arc.c — the ARC header fields and the chain validator over the
 * input as a message (keys from a small dns_table: the corpus chains were
 * sealed by dkimpy with the fz key), the Authentication-Results reader
 * and the ARC-Seal parser over the input as a field value, and the
 * sealer. Oracles: the validator gives the same verdict whole and split at
 * a point taken from the data; a parsed seal has d=, s= and an instance;
 * a message without ARC fields that tern seals (Ed25519, a fixed key)
 * then validates as cv=pass with one set.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "auth/arc.h"
#include "dns/dns_table.h"

static const char zone[] =
    "fz._domainkey.example.com TXT v=DKIM1; k=rsa; h=sha256; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA13FHAqt8UrAQNFRR3lRCtpqE5f8R+evbC34uGsZj9ID2dJ/WGT8CZAe6Un5QcYov2v7qfwCPUl6hCHfnokL3ZnFKfBDgUw/aAKGu9u82/DqRcn7vf7X3dQgNyoWfDeZC9AOI3cSWs+KipLY9dZ+kQA98rAD7qDe6cFIjrUHjbfrVFQGke+MT+3NQP/dTe9uECy1+ji/jKZ4rvDlVm2UQ0u03SBiFSwf+oOv0AnczgK2PX668AzmFc2gFxW/qihY0bE0wyz38lkNKtKXn+CvYTJdSxn8DnIXGVk+2aTfHaI8wZVykyqIbl9yH7NYayqKYWGKfGYvcNaXpKOye7qKlQwIDAQAB\n"
    "t._domainkey.example.com TXT SERVFAIL\n"
    "ed._domainkey.example.net TXT "; /* + the Ed25519 key's record */
static struct dns_table *table;
static struct dkim_key edkey;

static void setup(void)
{
	static const uint8_t seed[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	struct buf text;

	if (table != NULL)
		return;
	assert(dkim_key_import(&edkey, DKIM_ALG_ED25519_SHA256, "ed", 0, seed, sizeof seed) == DKIM_OK);
	buf_init(&text, 4096);
	assert(buf_append(&text, zone, sizeof zone - 1) == 0);
	assert(dkim_key_txt(&edkey, &text) == DKIM_OK);
	table = dns_table_new(buf_data(&text), buf_len(&text));
	buf_free(&text);
}

static struct arc_result run(const uint8_t *data, size_t size, size_t split)
{
	struct dns_resolver r = dns_table_resolver(table);
	struct arc_verifier *v = arc_verifier_new(&r, 1795000000);
	arc_verifier_update(v, data, split);
	arc_verifier_update(v, data + split, size - split);
	assert(arc_verifier_run(v, NULL, NULL) == ARC_VERIFY_DONE);
	struct arc_result res = *arc_verifier_result(v);
	assert(res.cv <= ARC_CV_FAIL && (res.cv != ARC_CV_NONE || res.nsets == 0));
	assert(res.cv != ARC_CV_PASS || (res.nsets >= 1 && res.nsets <= ARC_SETS_MAX));
	arc_verifier_free(&v);
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct arc_seal_sig as;
	const char *why = NULL;
	char id[64], res[32];

	setup();
	if (arc_seal_parse(in, &as, &why) == 0)
		assert(as.d[0] && as.s[0] && as.instance > 0);
	else
		assert(why != NULL);
	(void)arc_authres_lookup(in, "dmarc", id, sizeof id, res, sizeof res);
	char from[64];
	if (arc_authres_property(in, "dmarc", "header.from", res, sizeof res, from, sizeof from) == 1)
		assert(strlen(from) < sizeof from);
	(void)arc_instance(ARC_F_AAR, in);
	struct str payload = arc_aar_payload(in);
	assert(payload.p == NULL || (payload.p >= in.p && payload.p + payload.len <= in.p + in.len));

	size_t split = size ? data[0] % (size + 1) : 0;
	struct arc_result a = run(data, size, size), b = run(data, size, split);
	assert(a.cv == b.cv && a.failed == b.failed && a.nsets == b.nsets);
	assert(strcmp(a.reason, b.reason) == 0);

	/* Seal what has no chain; it must then validate. A message starting
	 * with white space would glue its first line to our last field, and
	 * one without a header section we can hold is refused. */
	if (a.cv == ARC_CV_NONE && size > 0 && data[0] != ' ' && data[0] != '\t' && size < 4096) {
		struct arc_seal_params p = {&edkey, "example.net", "mx.example.net; arc=none", ARC_CV_NONE,
		                            1795000000};
		struct buf out;
		buf_init(&out, 1 << 20);
		if (arc_seal(&p, (const char *)data, size, &out) == ARC_OK) {
			assert(buf_append(&out, data, size) == 0);
			struct arc_result c = run((const uint8_t *)buf_data(&out), buf_len(&out), buf_len(&out));
			assert(c.cv == ARC_CV_PASS && c.nsets == 1);
		}
		buf_free(&out);
	}
	return 0;
}
