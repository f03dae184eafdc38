/*
 * test_iprev.c — the iprev check (RFC 8601 §3) against a table of
 * records: pass (IPv4, IPv6, an IPv4-mapped address, the second of two
 * PTR names), fail (names that do not lead back, a name without
 * addresses), permerror (no PTR), temperror (PTR or forward SERVFAIL),
 * the name limit, and the reverse names of dns_reverse_name.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/iprev.h"
#include "dns/dns_drive.h"
#include "dns/dns_table.h"
#include "unit.h"

static int calls;

static void done(void *arg)
{
	(void)arg;
	calls++;
}

static const char *const zone =
	"1.2.0.192.in-addr.arpa PTR mail.example.com\n"
	"mail.example.com A 192.0.2.1\n"
	"2.2.0.192.in-addr.arpa PTR liar.example.com\n"
	"liar.example.com A 192.0.2.99\n"
	"3.2.0.192.in-addr.arpa PTR other.example.com\n"
	"3.2.0.192.in-addr.arpa PTR good.example.com\n"
	"other.example.com A 192.0.2.77\n"
	"good.example.com A 192.0.2.3\n"
	"4.2.0.192.in-addr.arpa PTR noaddr.example.com\n"
	"5.2.0.192.in-addr.arpa PTR SERVFAIL\n"
	"6.2.0.192.in-addr.arpa PTR flaky.example.com\n"
	"flaky.example.com A SERVFAIL\n"
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.example.com\n"
	"v6.example.com AAAA 2001:db8::1\n"
	"v6.example.com A 192.0.2.1\n";

static enum iprev_result check(const char *ip, const char *extra, char *name, unsigned *queries)
{
	char z[8192];
	snprintf(z, sizeof z, "%s%s", zone, extra ? extra : "");
	struct dns_table *t = dns_table_new(z, strlen(z));
	struct dns_resolver r = dns_table_resolver(t);
	struct iprev_eval *e = iprev_eval_new(ip);
	CHECK(e != NULL);
	if (!e) {
		dns_table_free(&t);
		return IPREV_PERMERROR;
	}
	calls = 0;
	CHECK(iprev_run(&r, e, done, NULL) == NULL);
	CHECK_EQ_INT(calls, 1);
	enum iprev_result res = iprev_eval_result(e);
	if (name)
		snprintf(name, 256, "%s", iprev_eval_name(e));
	if (queries)
		*queries = dns_table_queries(t);
	iprev_eval_free(&e);
	dns_table_free(&t);
	return res;
}

/* A caller whose time ran out: an unfinished check ends as temperror. */
static void test_abort(void)
{
	struct iprev_eval *e = iprev_eval_new("192.0.2.1");
	const char *name;
	uint16_t type;
	CHECK_EQ_INT(iprev_eval_step(e, &name, &type), 1); /* the PTR query, never answered */
	iprev_eval_abort(e);
	CHECK_EQ_INT(iprev_eval_result(e), IPREV_TEMPERROR);
	CHECK_EQ_INT(iprev_eval_step(e, &name, &type), 0);
	iprev_eval_free(&e);
}

int main(void)
{
	test_abort();
	char name[256];
	unsigned q;

	CHECK_EQ_INT(check("192.0.2.1", NULL, name, &q), IPREV_PASS);
	CHECK_EQ_STR(name, "mail.example.com");
	CHECK_EQ_INT(q, 2);
	CHECK_EQ_INT(check("::ffff:192.0.2.1", NULL, NULL, NULL), IPREV_PASS);
	CHECK_EQ_INT(check("2001:db8::1", NULL, name, NULL), IPREV_PASS);
	CHECK_EQ_STR(name, "v6.example.com");
	CHECK_EQ_INT(check("192.0.2.3", NULL, name, &q), IPREV_PASS);
	CHECK_EQ_STR(name, "good.example.com");
	CHECK_EQ_INT(check("192.0.2.2", NULL, name, NULL), IPREV_FAIL);
	CHECK_EQ_STR(name, "");
	CHECK_EQ_INT(check("192.0.2.4", NULL, NULL, NULL), IPREV_FAIL);
	CHECK_EQ_INT(check("192.0.2.200", NULL, NULL, NULL), IPREV_PERMERROR);
	CHECK_EQ_INT(check("192.0.2.5", NULL, NULL, NULL), IPREV_TEMPERROR);
	CHECK_EQ_INT(check("192.0.2.6", NULL, NULL, NULL), IPREV_TEMPERROR);
	/* A temporary failure does not hide a name that passes. */
	CHECK_EQ_INT(check("192.0.2.6", "6.2.0.192.in-addr.arpa PTR ok.example.com\nok.example.com A 192.0.2.6\n",
			   NULL, NULL), IPREV_PASS);
	/* At most IPREV_NAMES_MAX names are followed: a match at the 12th is not seen. */
	char many[4096] = "";
	for (int i = 0; i < 12; i++) {
		char line[128];
		snprintf(line, sizeof line, "7.2.0.192.in-addr.arpa PTR n%d.example.com\n", i);
		strcat(many, line);
	}
	strcat(many, "n11.example.com A 192.0.2.7\n");
	CHECK_EQ_INT(check("192.0.2.7", many, NULL, &q), IPREV_FAIL);
	CHECK_EQ_INT(q, 1 + IPREV_NAMES_MAX);
	CHECK(iprev_eval_new("not-an-ip") == NULL);

	char rev[80];
	uint8_t v4[4] = { 192, 0, 2, 1 };
	dns_reverse_name(v4, 0, rev, sizeof rev);
	CHECK_EQ_STR(rev, "1.2.0.192.in-addr.arpa");
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x1 };
	dns_reverse_name(v6, 1, rev, sizeof rev);
	CHECK_EQ_STR(rev, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	CHECK_EQ_STR(iprev_result_name(IPREV_PERMERROR), "permerror");
	return unit_done("test_iprev");
}
