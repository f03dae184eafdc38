/*
 * test_dmarc_report.c — the DMARC aggregate report parser and unpacker:
 * reports shaped as Google's, Microsoft's and RFC 9990's namespaced form
 * (tests/data/dmarc/, written for these tests; run from the repository
 * root as make unit does), every prefix of each refused without a crash,
 * the refusals (DOCTYPE subset, depth, mismatched tags, no root, missing
 * metadata), the bounds (records, text), and gzip/zip/plain unpacking with
 * the size limit (a gzip bomb) and corrupt archives.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "report/dmarc_report.h"
#include "unit.h"

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (f == NULL) {
		*len_r = 0;
		return calloc(1, 1);
	}
	char *b = malloc(1 << 20);
	*len_r = fread(b, 1, (1 << 20) - 1, f);
	b[*len_r] = '\0';
	fclose(f);
	return b;
}

static void test_google(void)
{
	size_t n;
	char *x = slurp("tests/data/dmarc/google.xml", &n);
	struct dmarc_report r;
	char err[128] = "";
	CHECK_EQ_INT(dmarc_report_parse(x, n, &r, err, sizeof err), 0);
	CHECK_EQ_STR(r.org_name, "google.com");
	CHECK_EQ_STR(r.email, "noreply-dmarc-support@google.com");
	CHECK_EQ_STR(r.report_id, "4471920382914776512");
	CHECK_EQ_INT(r.begin, 1795219200);
	CHECK_EQ_INT(r.end, 1795305599);
	CHECK_EQ_STR(r.domain, "example.org");
	CHECK_EQ_STR(r.p, "quarantine");
	CHECK_EQ_STR(r.np, "reject");
	CHECK_EQ_INT(r.pct, 100);
	CHECK_EQ_INT(r.nrows, 2);
	CHECK_EQ_INT(r.total_count, 17);
	CHECK_EQ_INT(r.flags, 0);
	if (r.nrows == 2) {
		CHECK_EQ_STR(r.rows[0].source_ip, "192.0.2.25");
		CHECK_EQ_INT(r.rows[0].count, 14);
		CHECK_EQ_STR(r.rows[0].dkim, "pass");
		CHECK_EQ_INT(r.rows[0].ndkim, 1);
		CHECK_EQ_STR(r.rows[0].dkim_auth[0].selector, "tern1");
		CHECK_EQ_STR(r.rows[0].spf_auth[0].result, "pass");
		CHECK_EQ_STR(r.rows[1].source_ip, "2001:db8::bad");
		CHECK_EQ_STR(r.rows[1].disposition, "quarantine");
		CHECK_EQ_INT(r.rows[1].ndkim, 0);
		CHECK_EQ_STR(r.rows[1].spf_auth[0].domain, "spoofer.example");
		CHECK_EQ_STR(r.rows[1].spf_auth[0].result, "softfail");
	}
	dmarc_report_free(&r);

	/* Every prefix short of the closing tag is refused, and cleanly
	 * (ASan watches). */
	size_t whole = (size_t)(strstr(x, "</feedback>") - x) + strlen("</feedback>");
	for (size_t i = 0; i < whole; i++) {
		struct dmarc_report t;
		int rc = dmarc_report_parse(x, i, &t, err, sizeof err);
		CHECK_EQ_INT(rc, -1);
		CHECK(t.rows == NULL && t.nrows == 0);
		if (rc == 0)
			dmarc_report_free(&t);
	}
	free(x);
}

static void test_microsoft(void)
{
	size_t n;
	char *x = slurp("tests/data/dmarc/microsoft.xml", &n);
	struct dmarc_report r;
	char err[128] = "";
	CHECK_EQ_INT(dmarc_report_parse(x, n, &r, err, sizeof err), 0);
	CHECK_EQ_STR(r.org_name, "Enterprise Outlook");
	CHECK_EQ_INT(r.nrows, 1);
	CHECK_EQ_STR(r.np, "");
	if (r.nrows == 1) {
		const struct dmarc_report_row *w = &r.rows[0];
		CHECK_EQ_STR(w->envelope_to, "outlook.example");
		CHECK_EQ_STR(w->envelope_from, "lists.example.net");
		CHECK_EQ_STR(w->spf, "fail");
		CHECK_EQ_STR(w->reason, "forwarded");
		CHECK_EQ_INT(w->ndkim, 2);
		CHECK_EQ_STR(w->dkim_auth[1].domain, "lists.example.net");
		CHECK_EQ_STR(w->dkim_auth[1].selector, "s2026");
		CHECK_EQ_INT(w->nspf, 1);
		CHECK_EQ_STR(w->spf_auth[0].scope, "mfrom");
	}
	dmarc_report_free(&r);
	free(x);
}

static void test_namespaced(void)
{
	size_t n;
	char *x = slurp("tests/data/dmarc/dmarcbis.xml", &n);
	struct dmarc_report r;
	char err[128] = "";
	CHECK_EQ_INT(dmarc_report_parse(x, n, &r, err, sizeof err), 0);
	CHECK_EQ_STR(r.org_name, "Receiver & Sons");
	CHECK_EQ_STR(r.report_id, "r-2026-11-21<1>");
	CHECK_EQ_STR(r.testing, "n");
	CHECK_EQ_INT(r.pct, -1);
	CHECK_EQ_INT(r.nrows, 1);
	if (r.nrows == 1)
		CHECK_EQ_STR(r.rows[0].disposition, "reject");
	dmarc_report_free(&r);
	free(x);
}

#define META                                                                                       \
	"<report_metadata><org_name>o</org_name><report_id>i</report_id>"                          \
	"<date_range><begin>1</begin><end>2</end></date_range></report_metadata>"                  \
	"<policy_published><domain>d.example</domain></policy_published>"

static int parse_c(const char *s, char *err, size_t errsz)
{
	struct dmarc_report r;
	int rc = dmarc_report_parse(s, strlen(s), &r, err, errsz);
	if (rc == 0)
		dmarc_report_free(&r);
	return rc;
}

static void test_refusals(void)
{
	char err[128];
	CHECK_EQ_INT(parse_c("<feedback>" META "</feedback>", err, sizeof err), 0);
	CHECK_EQ_INT(parse_c("<feedback>" META "</feedback><feedback/>", err, sizeof err), -1);
	CHECK_EQ_INT(parse_c("<report>" META "</report>", err, sizeof err), -1);
	CHECK_EQ_STR(err, "the root element is not <feedback>");
	CHECK_EQ_INT(parse_c("<!DOCTYPE feedback [<!ENTITY a \"aaaa\">]><feedback>" META
	                     "</feedback>",
	                     err, sizeof err),
	             -1);
	CHECK_EQ_STR(err, "DOCTYPE with an internal subset");
	CHECK_EQ_INT(parse_c("<!DOCTYPE feedback><feedback>" META "</feedback>", err, sizeof err), 0);
	CHECK_EQ_INT(parse_c("<feedback>" META "<record></row></feedback>", err, sizeof err), -1);
	CHECK_EQ_STR(err, "end tag does not match its start tag");
	CHECK_EQ_INT(parse_c("<feedback>" META "&bogus;</feedback>", err, sizeof err), -1);
	CHECK_EQ_INT(parse_c("<feedback>" META "&#0;</feedback>", err, sizeof err), -1);
	CHECK_EQ_INT(parse_c("<feedback>" META "&#xD800;</feedback>", err, sizeof err), -1);
	CHECK_EQ_INT(parse_c("x<feedback>" META "</feedback>", err, sizeof err), -1);
	CHECK_EQ_INT(parse_c("<feedback><report_metadata><org_name>o</org_name></report_metadata>"
	                     "<policy_published><domain>d</domain></policy_published></feedback>",
	                     err, sizeof err),
	             -1);
	CHECK_EQ_STR(err, "report_metadata lacks org_name or report_id");
	CHECK_EQ_INT(parse_c("<feedback><report_metadata><org_name>o</org_name><report_id>i"
	                     "</report_id><date_range><begin>5</begin><end>2</end></date_range>"
	                     "</report_metadata><policy_published><domain>d</domain>"
	                     "</policy_published></feedback>",
	                     err, sizeof err),
	             -1);
	CHECK_EQ_INT(parse_c("<feedback>" META "<record><row><count>x</count></row></record>"
	                     "</feedback>",
	                     err, sizeof err),
	             -1);
	CHECK_EQ_STR(err, "record count is not a number");
	CHECK_EQ_INT(parse_c("<feedback>" META "<record><row a='<'>", err, sizeof err), -1);

	/* Depth: DMARC_XML_DEPTH_MAX elements open at once are fine, one more is not. */
	struct buf b;
	buf_init(&b, 1 << 16);
	buf_append_c(&b, "<feedback>" META);
	for (int i = 1; i < DMARC_XML_DEPTH_MAX; i++)
		buf_append_c(&b, "<a>");
	for (int i = 1; i < DMARC_XML_DEPTH_MAX; i++)
		buf_append_c(&b, "</a>");
	buf_append_c(&b, "</feedback>");
	struct dmarc_report r;
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&b), buf_len(&b), &r, err, sizeof err), 0);
	dmarc_report_free(&r);
	buf_reset(&b);
	buf_append_c(&b, "<feedback>" META);
	for (int i = 0; i < DMARC_XML_DEPTH_MAX; i++)
		buf_append_c(&b, "<a>");
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&b), buf_len(&b), &r, err, sizeof err), -1);
	CHECK_EQ_STR(err, "elements nested too deep");
	buf_free(&b);
}

static void test_bounds(void)
{
	struct buf b;
	char err[128];
	struct dmarc_report r;

	buf_init(&b, 1 << 22);
	buf_append_c(&b, "<feedback>" META);
	for (int i = 0; i < DMARC_REPORT_ROWS_MAX + 5; i++)
		buf_printf(&b, "<record><row><source_ip>192.0.2.%d</source_ip><count>2</count></row>"
		               "<auth_results><dkim><domain>a</domain></dkim><dkim><domain>b</domain>"
		               "</dkim><dkim/><dkim/><dkim/></auth_results></record>",
		           i % 256);
	buf_append_c(&b, "<record><row><count>1</count></row><identifiers><header_from>");
	for (int i = 0; i < 600; i++)
		buf_append_c(&b, "x");
	buf_append_c(&b, "</header_from></identifiers></record></feedback>");
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&b), buf_len(&b), &r, err, sizeof err), 0);
	CHECK_EQ_INT(r.nrows, DMARC_REPORT_ROWS_MAX);
	CHECK_EQ_INT(r.total_count, 2 * (DMARC_REPORT_ROWS_MAX + 5) + 1);
	CHECK(r.flags & DMARC_REPORT_ROWS_CUT);
	CHECK_EQ_INT(r.rows[0].ndkim, DMARC_REPORT_AUTH_MAX);
	CHECK_EQ_STR(r.rows[0].dkim_auth[1].domain, "b");
	dmarc_report_free(&r);

	/* A field longer than kept is cut, and the report says so. */
	buf_reset(&b);
	buf_append_c(&b, "<feedback>" META "<record><row><count>1</count></row><identifiers>"
	                 "<header_from>");
	for (int i = 0; i < 600; i++)
		buf_append_c(&b, "y");
	buf_append_c(&b, "</header_from></identifiers></record></feedback>");
	CHECK_EQ_INT(dmarc_report_parse(buf_data(&b), buf_len(&b), &r, err, sizeof err), 0);
	CHECK(r.flags & DMARC_REPORT_CUT);
	CHECK_EQ_INT(strlen(r.rows[0].header_from), sizeof r.rows[0].header_from - 1);
	dmarc_report_free(&r);
	buf_free(&b);
}

static void test_unpack(void)
{
	size_t n, outlen;
	char *x = slurp("tests/data/dmarc/google.xml", &n);
	uint8_t *gz, *out;
	size_t gzlen;
	char err[128];

	CHECK_EQ_INT(dmarc_report_pack_of((const uint8_t *)x, n), DMARC_PACK_XML);
	CHECK_EQ_INT(dmarc_report_gzip((const uint8_t *)x, n, &gz, &gzlen), 0);
	CHECK_EQ_INT(dmarc_report_pack_of(gz, gzlen), DMARC_PACK_GZIP);
	CHECK_EQ_INT(dmarc_report_unpack(gz, gzlen, 1 << 20, &out, &outlen, err, sizeof err), 0);
	CHECK(outlen == n && memcmp(out, x, n) == 0);
	free(out);
	/* Over the limit, cut short, corrupt. */
	CHECK_EQ_INT(dmarc_report_unpack(gz, gzlen, n - 1, &out, &outlen, err, sizeof err), -1);
	CHECK_EQ_STR(err, "report larger than the limit once inflated");
	CHECK_EQ_INT(dmarc_report_unpack(gz, gzlen / 2, 1 << 20, &out, &outlen, err, sizeof err), -1);
	CHECK_EQ_STR(err, "compressed data cut short");
	gz[gzlen / 2] ^= 0x55;
	gz[gzlen / 2 + 1] ^= 0xAA;
	CHECK_EQ_INT(dmarc_report_unpack(gz, gzlen, 1 << 20, &out, &outlen, err, sizeof err), -1);
	free(gz);

	/* A bomb: 64 MiB of zeros in a few KiB stops at the limit. */
	size_t big = (size_t)64 << 20;
	uint8_t *zeros = calloc(1, big);
	CHECK_EQ_INT(dmarc_report_gzip(zeros, big, &gz, &gzlen), 0);
	free(zeros);
	CHECK(gzlen < 100000);
	CHECK_EQ_INT(dmarc_report_unpack(gz, gzlen, DMARC_REPORT_XML_MAX, &out, &outlen, err,
	                                 sizeof err),
	             -1);
	free(gz);

	/* zip: a deflated file whose sizes are in a data descriptor (as
	 * streaming zippers write), so the central directory has them. */
	z_stream z;
	memset(&z, 0, sizeof z);
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	uint8_t *def = malloc(n + 1024);
	z.next_in = (Bytef *)x;
	z.avail_in = (uInt)n;
	z.next_out = def;
	z.avail_out = (uInt)(n + 1024);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	size_t dlen = z.total_out;
	deflateEnd(&z);
	static const char fname[] = "google.com!example.org!1795219200!1795305599.xml";
	size_t fl = sizeof fname - 1;
	uint8_t *zip = calloc(1, n + 4096);
	size_t o = 0;
	memcpy(zip, "PK\x03\x04\x14\x00\x08\x00\x08\x00", 10); /* flags: data descriptor */
	zip[26] = (uint8_t)fl;
	o = 30;
	memcpy(zip + o, fname, fl);
	o += fl;
	memcpy(zip + o, def, dlen);
	o += dlen;
	size_t cd = o + 16; /* after the data descriptor */
	memcpy(zip + o, "PK\x07\x08", 4);
	o = cd;
	memcpy(zip + o, "PK\x01\x02\x14\x00\x14\x00\x08\x00\x08\x00", 12);
	zip[o + 20] = (uint8_t)dlen;
	zip[o + 21] = (uint8_t)(dlen >> 8);
	zip[o + 22] = (uint8_t)(dlen >> 16);
	zip[o + 28] = (uint8_t)fl;
	o += 46;
	memcpy(zip + o, fname, fl);
	o += fl;
	memcpy(zip + o, "PK\x05\x06", 4);
	zip[o + 16] = (uint8_t)cd;
	zip[o + 17] = (uint8_t)(cd >> 8);
	zip[o + 18] = (uint8_t)(cd >> 16);
	o += 22;
	CHECK_EQ_INT(dmarc_report_pack_of(zip, o), DMARC_PACK_ZIP);
	CHECK_EQ_INT(dmarc_report_unpack(zip, o, 1 << 20, &out, &outlen, err, sizeof err), 0);
	CHECK(outlen == n && memcmp(out, x, n) == 0);
	free(out);
	/* Without the central directory the streamed file's size is unknown. */
	CHECK_EQ_INT(dmarc_report_unpack(zip, cd, 1 << 20, &out, &outlen, err, sizeof err), -1);
	/* Encrypted. */
	zip[6] |= 1;
	CHECK_EQ_INT(dmarc_report_unpack(zip, o, 1 << 20, &out, &outlen, err, sizeof err), -1);
	CHECK_EQ_STR(err, "zip: encrypted");
	CHECK_EQ_INT(dmarc_report_unpack((const uint8_t *)"PK\x03\x04", 4, 1 << 20, &out, &outlen,
	                                 err, sizeof err),
	             -1);
	CHECK_EQ_INT(dmarc_report_unpack((const uint8_t *)"hello", 5, 1 << 20, &out, &outlen, err,
	                                 sizeof err),
	             -1);
	free(zip);
	free(def);

	/* A zip of a folder (its entry first) with a readme beside the
	 * report (Python's zipfile wrote it): the member named .xml is the
	 * report. The first member alone was read: an empty folder entry,
	 * and the report refused. */
	size_t zl;
	char *several = slurp("tests/data/dmarc/several.zip", &zl);
	CHECK_EQ_INT(dmarc_report_unpack((const uint8_t *)several, zl, 1 << 20, &out, &outlen, err,
	                                 sizeof err),
	             0);
	CHECK(outlen == n && memcmp(out, x, n) == 0);
	free(out);
	/* The same bytes past the limit: refused, not read further. */
	CHECK_EQ_INT(dmarc_report_unpack((const uint8_t *)several, zl, n - 1, &out, &outlen, err,
	                                 sizeof err),
	             -1);
	CHECK_EQ_STR(err, "report larger than the limit once inflated");
	free(several);
	char *folder = slurp("tests/data/dmarc/folder-only.zip", &zl);
	CHECK_EQ_INT(dmarc_report_unpack((const uint8_t *)folder, zl, 1 << 20, &out, &outlen, err,
	                                 sizeof err),
	             -1);
	CHECK_EQ_STR(err, "zip: no file in the archive");
	free(folder);

	/* gzip of two members (RFC 1952 §2.2: gzip -c a b): both inflated,
	 * one after the other; only the first was, a report cut in two. A
	 * bomb in the second member stops at the limit as in the first. */
	uint8_t *g1, *g2;
	size_t g1len, g2len;
	CHECK_EQ_INT(dmarc_report_gzip((const uint8_t *)x, n / 2, &g1, &g1len), 0);
	CHECK_EQ_INT(dmarc_report_gzip((const uint8_t *)x + n / 2, n - n / 2, &g2, &g2len), 0);
	uint8_t *two = malloc(g1len + g2len + 8);
	memcpy(two, g1, g1len);
	memcpy(two + g1len, g2, g2len);
	CHECK_EQ_INT(dmarc_report_unpack(two, g1len + g2len, 1 << 20, &out, &outlen, err, sizeof err), 0);
	CHECK(outlen == n && memcmp(out, x, n) == 0);
	free(out);
	CHECK_EQ_INT(dmarc_report_unpack(two, g1len + g2len, n - 1, &out, &outlen, err, sizeof err), -1);
	CHECK_EQ_STR(err, "report larger than the limit once inflated");
	/* trailing bytes that are not a member: ignored, as gzip(1) does */
	memcpy(two + g1len, "junk", 4);
	CHECK_EQ_INT(dmarc_report_unpack(two, g1len + 4, 1 << 20, &out, &outlen, err, sizeof err), 0);
	CHECK(outlen == n / 2);
	free(out);
	free(g2);
	zeros = calloc(1, big);
	CHECK_EQ_INT(dmarc_report_gzip(zeros, big, &g2, &g2len), 0);
	free(zeros);
	two = realloc(two, g1len + g2len);
	memcpy(two + g1len, g2, g2len);
	CHECK_EQ_INT(dmarc_report_unpack(two, g1len + g2len, DMARC_REPORT_XML_MAX, &out, &outlen, err,
	                                 sizeof err),
	             -1);
	CHECK_EQ_STR(err, "report larger than the limit once inflated");
	free(two);
	free(g1);
	free(g2);
	free(x);
}

int main(void)
{
	test_google();
	test_microsoft();
	test_namespaced();
	test_refusals();
	test_bounds();
	test_unpack();
	return unit_done("test_dmarc_report");
}
