/*
 * test_acme_dnsupd.c — the RFC 2136 UPDATE with TSIG that DNS-01 sends,
 * and the reply reader. The message is read back, and its TSIG verified,
 * by dnspython (Debian's python3-dnspython) when present: an independent
 * implementation of RFC 8945.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme_dnsupd.h"
#include "unit.h"

static int run_py(const unsigned char *msg, size_t len, const char *script)
{
	char path[] = "/tmp/tern-dnsupd-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, msg, len) != (ssize_t)len)
		return -1;
	close(fd);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '%s' %s >/dev/null 2>&1", script, path);
	int rc = system(cmd);
	unlink(path);
	return rc;
}

int main(void)
{
	struct tsig_key k;
	unsigned char msg[1024];
	char rb[16];

	/* Keys as nsupdate -y writes them. */
	CHECK(acme_tsig_parse("tern-acme.:c2VjcmV0LXNlY3JldC1zZWNyZXQ=", &k) == 0);
	CHECK_EQ_STR(k.name, "tern-acme.");
	CHECK(k.secret_len == 20 && memcmp(k.secret, "secret-secret-secret", 20) == 0);
	CHECK(acme_tsig_parse("hmac-sha256:tern-acme:c2VjcmV0LXNlY3JldC1zZWNyZXQ=", &k) == 0);
	CHECK_EQ_STR(k.name, "tern-acme");
	CHECK(acme_tsig_parse("nocolon", &k) == -1);
	CHECK(acme_tsig_parse(":c2VjcmV0", &k) == -1);
	CHECK(acme_tsig_parse("k:!!!", &k) == -1);

	CHECK(acme_tsig_parse("tern-acme.:c2VjcmV0LXNlY3JldC1zZWNyZXQ=", &k) == 0);
	size_t n = acme_dnsupd_encode(msg, sizeof msg, 0x1234, "acme.test",
	                              "_acme-challenge.Mail.acme.test", "abc-DEF_123", 60, 0, &k,
	                              1800000000);
	CHECK(n > 100);
	/* Header: id, UPDATE, one zone, one update, one additional (TSIG). */
	CHECK(msg[0] == 0x12 && msg[1] == 0x34 && msg[2] == 0x28 && msg[3] == 0);
	CHECK(msg[5] == 1 && msg[7] == 0 && msg[9] == 1 && msg[11] == 1);
	CHECK(memmem(msg, n, "\x0b" "hmac-sha256", 12) != NULL);
	CHECK(memmem(msg, n, "\x04mail", 5) != NULL); /* owner lower-cased */
	/* Deterministic: same input, same bytes (the MAC covers time, not randomness). */
	unsigned char again[1024];
	CHECK(acme_dnsupd_encode(again, sizeof again, 0x1234, "acme.test",
	                         "_acme-challenge.Mail.acme.test", "abc-DEF_123", 60, 0, &k,
	                         1800000000) == n &&
	      memcmp(again, msg, n) == 0);
	/* Bad names and small buffers give 0. */
	CHECK(acme_dnsupd_encode(msg, 40, 1, "acme.test", "a.acme.test", "x", 60, 0, &k, 1) == 0);
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".acme.test");
	CHECK(acme_dnsupd_encode(msg, sizeof msg, 1, "acme.test", label, "x", 60, 0, &k, 1) == 0);
	CHECK(acme_dnsupd_encode(msg, sizeof msg, 1, "acme..test", "a.acme.test", "x", 60, 0, &k, 1) == 0);

	/* Replies: only a response to this UPDATE counts; the RCODE comes back. */
	unsigned char r[12] = {0x12, 0x34, 0xA8, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	CHECK(acme_dnsupd_reply(r, sizeof r, 0x1234) == 0);
	r[3] = 5;
	CHECK(acme_dnsupd_reply(r, sizeof r, 0x1234) == 5);
	CHECK_EQ_STR(acme_dnsupd_rcode_name(5, rb, sizeof rb), "REFUSED");
	CHECK_EQ_STR(acme_dnsupd_rcode_name(9, rb, sizeof rb), "NOTAUTH");
	CHECK_EQ_STR(acme_dnsupd_rcode_name(17, rb, sizeof rb), "RCODE17");
	CHECK(acme_dnsupd_reply(r, sizeof r, 0x1235) == -1);
	CHECK(acme_dnsupd_reply(r, 11, 0x1234) == -1);
	r[2] = 0x28; /* a query, not a response */
	CHECK(acme_dnsupd_reply(r, sizeof r, 0x1234) == -1);
	r[2] = 0x80; /* a QUERY response */
	CHECK(acme_dnsupd_reply(r, sizeof r, 0x1234) == -1);

	if (access("/usr/bin/python3", X_OK) != 0 ||
	    system("/usr/bin/python3 -c \"import dns.message\" >/dev/null 2>&1") != 0) {
		printf("test_acme_dnsupd: python3-dnspython missing, TSIG cross-check skipped\n");
		return unit_done("test_acme_dnsupd");
	}
	/* dnspython verifies the TSIG (it raises on a bad MAC) and reads the update. */
	static const char check_add[] =
	    "import sys, dns.message, dns.tsigkeyring, dns.tsig, dns.rdatatype, dns.rdataclass\n"
	    "kr = dns.tsigkeyring.from_text({\"tern-acme.\": (dns.tsig.HMAC_SHA256, "
	    "\"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\")})\n"
	    "m = dns.message.from_wire(open(sys.argv[1], \"rb\").read(), keyring=kr, "
	    "ignore_trailing=False)\n"
	    "assert m.opcode() == 5 and m.had_tsig\n"
	    "z = m.sections[0][0]; assert str(z.name) == \"acme.test.\" and z.rdtype == 6\n"
	    "u = m.sections[2][0]\n"
	    "assert str(u.name) == \"_acme-challenge.mail.acme.test.\" and u.rdtype == 16\n"
	    "assert u.ttl == TTL and u[0].strings == (b\"abc-DEF_123\",)\n"
	    "assert (u.deleting or u.rdclass) == CLS, (u.deleting, u.rdclass)\n";
	char script[2048];
	/* dnspython checks the time against its clock: sign with the real one. */
	int64_t now = (int64_t)time(NULL);
	n = acme_dnsupd_encode(msg, sizeof msg, 0x4321, "acme.test", "_acme-challenge.mail.acme.test",
	                       "abc-DEF_123", 60, 0, &k, now);
	snprintf(script, sizeof script, "CLS=1\nTTL=60\n%s", check_add);
	CHECK(run_py(msg, n, script) == 0);
	n = acme_dnsupd_encode(msg, sizeof msg, 0x4321, "acme.test", "_acme-challenge.mail.acme.test",
	                       "abc-DEF_123", 60, 1, &k, now);
	snprintf(script, sizeof script, "CLS=254\nTTL=0\n%s", check_add);
	CHECK(run_py(msg, n, script) == 0);
	/* The wrong key: dnspython refuses the MAC. */
	msg[n - 10] ^= 1;
	CHECK(run_py(msg, n, script) != 0);
	return unit_done("test_acme_dnsupd");
}
