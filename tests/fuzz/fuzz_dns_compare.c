/*
 * fuzz_dns_compare.c — the published-records check's comparison
 * (dns_check_compare(), no c-ares) on values as a DNS answer could carry
 * them. The first octet picks the record type (MX, SRV, CNAME, TXT) and
 * whether the expected value is taken from the input or is one of tern's
 * own shapes; the input, cut at NUL octets, gives the expected value and
 * the values seen. Checks: FOUND sticks once reached, at most
 * DNS_CHECK_FOUND_MAX values noted and each NUL-terminated in its slot;
 * the expected value always matches itself (a DKIM one when it has "p="),
 * and so does it with white space changed (TXT) or upper case and a
 * trailing dot (host names). dns_check_canon() never writes past a small
 * buffer, leaves no capital letter, nor a trailing dot unless it cut the
 * name short.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/dns_check.h"

static const char *const types[] = { "MX", "SRV", "CNAME", "TXT" };
static const char *const shapes[] = {
	"10 mail.example.org.",
	"0 1 993 mail.example.org.",
	"mail.example.org.",
	"v=spf1 mx -all",
	"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org",
	"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
};

static void check_res(const struct dns_result *r, enum dns_check_status before)
{
	assert(r->nfound >= 0 && r->nfound <= DNS_CHECK_FOUND_MAX);
	for (int i = 0; i < r->nfound; i++)
		assert(memchr(r->found[i], '\0', sizeof(r->found[i])));
	if (before == DNS_CHECK_FOUND)
		assert(r->status == DNS_CHECK_FOUND);
	if (r->status == DNS_CHECK_FOUND)
		assert(r->nfound == 0);
}

static void expect_found(const struct admin_dns_record *rec, const char *seen)
{
	struct dns_result r = { .status = DNS_CHECK_MISSING };
	dns_check_compare(rec, &r, seen);
	assert(r.status == DNS_CHECK_FOUND && r.nfound == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct admin_dns_record rec;
	struct dns_result res = { .status = DNS_CHECK_MISSING };
	char *in, *p, *end, seen[ADMIN_DNS_VALUE_MAX * 3];

	if (size < 1)
		return 0;
	rec.type = types[data[0] & 3];
	in = malloc(size);
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	p = in;
	end = in + size - 1;
	if (data[0] & 4) {
		size_t n = strlen(p);
		if (n >= sizeof(rec.value))
			n = sizeof(rec.value) - 1;
		memcpy(rec.value, p, n);
		rec.value[n] = '\0';
		p += strlen(p) + (p < end);
	} else {
		strcpy(rec.value, shapes[(data[0] >> 3) % (sizeof(shapes) / sizeof(shapes[0]))]);
	}

	/* Every value seen, as on_answer() passes them: under ADMIN_DNS_VALUE_MAX. */
	while (p < end) {
		size_t n = strlen(p);
		enum dns_check_status before = res.status;
		if (n >= ADMIN_DNS_VALUE_MAX)
			p[ADMIN_DNS_VALUE_MAX - 1] = '\0';
		dns_check_compare(&rec, &res, p);
		check_res(&res, before);
		/* Exactly the given size, so ASan sees a write past it. */
		size_t sz = (size_t)(data[0] >> 5) + 1, k;
		char *small = malloc(sz);
		dns_check_canon(p, small, sz);
		k = strlen(small);
		assert(k < sz);
		if (k + 1 < sz) /* not cut short: the whole name, its dots stripped */
			assert(k == 0 || small[k - 1] != '.');
		for (const char *c = small; *c; c++)
			assert(!(*c >= 'A' && *c <= 'Z'));
		free(small);
		p += n + 1;
	}

	/* The expected value matches itself, and its equivalent spellings. */
	int txt = strcmp(rec.type, "TXT") == 0;
	if (!txt || strncmp(rec.value, "v=DKIM1", 7) != 0 || strstr(rec.value, "p="))
		expect_found(&rec, rec.value);
	if (txt && strncmp(rec.value, "v=DKIM1", 7) != 0) {
		/* Runs of white space, leading and trailing white space. */
		size_t o = 0;
		seen[o++] = '\t';
		for (const char *c = rec.value; *c; c++) {
			if (*c == ' ') {
				memcpy(seen + o, " \t ", 3);
				o += 3;
			} else {
				seen[o++] = *c;
			}
		}
		seen[o++] = ' ';
		seen[o] = '\0';
		expect_found(&rec, seen);
	} else if (!txt) {
		size_t n = strlen(rec.value);
		for (size_t i = 0; i < n; i++)
			seen[i] = (rec.value[i] >= 'a' && rec.value[i] <= 'z') ? (char)(rec.value[i] - 32)
									       : rec.value[i];
		memcpy(seen + n, ".", 2);
		expect_found(&rec, seen);
	}
	free(in);
	return 0;
}
