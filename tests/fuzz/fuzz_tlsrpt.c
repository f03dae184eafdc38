/*
 * fuzz_tlsrpt.c — RFC 8460's TXT record parser and report writer
 * (tlspol/tlsrpt.h). The input is read as a TXT record, then its lines
 * become a report's policy strings and names. Checks: an accepted record
 * has 1..TLSRPT_RUA_MAX mailto:/https: URIs without spaces; the report is
 * always JSON the parser reads back, with ASCII strings intact.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "http/json.h"
#include "tlspol/tlsrpt.h"

static struct tlsrpt_record rec;
static struct tlsrpt_report rep;
static char lines[TLSRPT_POLICY_STRINGS_MAX][256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	if (tlsrpt_txt_parse(in, size, &rec) == 0) {
		assert(rec.nrua >= 1 && rec.nrua <= TLSRPT_RUA_MAX);
		for (size_t i = 0; i < rec.nrua; i++) {
			assert(strncasecmp(rec.rua[i], "mailto:", 7) == 0 ||
			       strncasecmp(rec.rua[i], "https://", 8) == 0);
			assert(strchr(rec.rua[i], ' ') == NULL);
		}
	}

	memset(&rep, 0, sizeof rep);
	struct tlsrpt_policy *p = &rep.policies[0];
	size_t n = 0, s = 0;
	for (size_t i = 0; i <= size && n < TLSRPT_POLICY_STRINGS_MAX; i++)
		if (i == size || in[i] == '\n') {
			size_t l = i - s < 255 ? i - s : 255;
			memcpy(lines[n], in + s, l);
			lines[n][l] = '\0';
			p->strings[n] = lines[n];
			n++;
			s = i + 1;
		}
	p->nstrings = n;
	p->type = (enum tlsrpt_policy_type)(size % 3);
	memcpy(p->domain, lines[0], strlen(lines[0]) + 1);
	p->mx_hosts[0] = lines[n - 1];
	p->nmx = 1;
	p->nfailures = 1;
	p->failures[0].result = (enum tlsrpt_result)(size % 11);
	rep.npolicies = 1;
	rep.organization = lines[0];
	rep.contact = lines[n - 1];
	rep.report_id = "x";
	rep.start = (int64_t)size * 86400;
	rep.end = rep.start + 86399;

	struct buf b;
	buf_init(&b, 1 << 20);
	assert(tlsrpt_report_json(&rep, &b) == 0);
	struct arena *a = arena_new(8192);
	char err[128];
	const struct json_value *root = json_parse(buf_data(&b), buf_len(&b), a, err, sizeof err);
	assert(root != NULL);
	const struct json_value *org = json_get(root, "organization-name");
	assert(org && org->type == JSON_STRING);
	/* ASCII comes back as it went (a NUL inside a line ends it as a C
	 * string); the writer replaces invalid UTF-8, so other text is not compared. */
	int ascii = 1;
	for (const char *c = lines[0]; *c; c++)
		ascii &= (unsigned char)*c < 0x80;
	if (ascii)
		assert(org->len == strlen(lines[0]) && memcmp(org->str, lines[0], org->len) == 0);
	arena_free(&a);
	buf_free(&b);
	return 0;
}
