/*
 * fuzz_dkim_sig.c — the DKIM-Signature tag list and field parser, then the
 * whole verifier over the input as a message (keys from a small
 * dns_table). Oracles: a parse either succeeds with every tag inside the input
 * or fails with a reason and a result; a parsed signature has d=, s= (in
 * ASCII: U-labels as A-labels), a
 * From in h=, an i= ending in d= or under it and the start of its b=;
 * the start of b= kept, parsed or not, is base64 only; the verifier gives the
 * same results whole and split at a point taken from the data.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dkim/dkim_verify.h"
#include "dns/dns_table.h"

static const char zone[] =
    "a._domainkey.example.org TXT v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "brisbane._domainkey.football.example.com TXT v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "t._domainkey.example.org TXT SERVFAIL\n";
static struct dns_table *table;

static size_t run(const uint8_t *data, size_t size, size_t split, enum dkim_result *out)
{
	if (table == NULL)
		table = dns_table_new(zone, sizeof zone - 1);
	struct dns_resolver r = dns_table_resolver(table);
	struct dkim_verifier *v = dkim_verifier_new(&r, 1700000000);
	dkim_verifier_update(v, data, split);
	dkim_verifier_update(v, data + split, size - split);
	assert(dkim_verifier_run(v, NULL, NULL) == DKIM_VERIFY_DONE);
	size_t n = dkim_verifier_count(v);
	assert(n <= DKIM_VERIFY_SIGS_MAX + 1);
	for (size_t i = 0; i < n; i++)
		out[i] = dkim_verifier_result(v, i)->result;
	dkim_verifier_free(&v);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct dkim_tag tags[DKIM_TAGS_MAX];
	struct dkim_sig sig;
	enum dkim_result res, r1[DKIM_VERIFY_SIGS_MAX + 1], r2[DKIM_VERIFY_SIGS_MAX + 1];
	const char *why = NULL;

	int n = dkim_tags_parse(in, tags, DKIM_TAGS_MAX, &why);
	assert(n == -1 ? why != NULL : n >= 1);
	for (int i = 0; i < n; i++)
		assert(tags[i].name.p >= in.p && tags[i].value.p + tags[i].value.len <= in.p + in.len);
	if (dkim_sig_parse(in, &sig, &res, &why) == 0) {
		assert(sig.d[0] && sig.s[0] && strchr(sig.i, '@'));
		/* d= and s= in their DNS form: U-labels became A-labels. */
		for (const char *c = sig.d; *c; c++)
			assert((unsigned char)*c < 0x80);
		for (const char *c = sig.s; *c; c++)
			assert((unsigned char)*c < 0x80);
		assert(sig.h.p >= in.p && sig.h.p + sig.h.len <= in.p + in.len);
		assert(sig.btext[0]);
	} else {
		assert(why != NULL && (res == DKIM_RESULT_PERMERROR || res == DKIM_RESULT_NEUTRAL));
	}
	/* header.b's source, whether the rest parsed or not: the start of b=
	 * in base64 only (it goes into a field as a property value). */
	static const char b64set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	assert(strlen(sig.btext) <= DKIM_BTEXT_MAX &&
	       strspn(sig.btext, b64set) == strlen(sig.btext));

	size_t split = size ? data[0] % (size + 1) : 0;
	size_t c1 = run(data, size, size, r1), c2 = run(data, size, split, r2);
	assert(c1 == c2 && memcmp(r1, r2, c1 * sizeof r1[0]) == 0);
	return 0;
}
