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

/* dnspython's signed reply to req, its MAC cut to t octets: its length, 0 on failure. */
static size_t signed_reply(const unsigned char *req, size_t len, int t, unsigned char *out,
			   size_t outsz)
{
	static const char script[] =
	    "import sys, dns.message, dns.tsigkeyring, dns.tsig\n"
	    "kr = dns.tsigkeyring.from_text({\"tern-acme.\": (dns.tsig.HMAC_SHA256, "
	    "\"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\")})\n"
	    "q = dns.message.from_wire(open(sys.argv[1], \"rb\").read(), keyring=kr)\n"
	    "w = dns.message.make_response(q).to_wire()\n"
	    "t = int(sys.argv[3])\n"
	    "assert w[-40:-38] == bytes([0, 32])\n"
	    "i = w.rindex(bytes([0, 250, 0, 255, 0, 0, 0, 0])) + 8\n"
	    "rdlen = int.from_bytes(w[i:i + 2], \"big\") - (32 - t)\n"
	    "w = w[:i] + rdlen.to_bytes(2, \"big\") + w[i + 2:-40] + t.to_bytes(2, \"big\") + "
	    "w[-38:-38 + t] + w[-6:]\n"
	    "open(sys.argv[2], \"wb\").write(w)\n";
	char in[] = "/tmp/tern-dnsupd-q-XXXXXX", outp[] = "/tmp/tern-dnsupd-r-XXXXXX";
	int fd = mkstemp(in), fo = mkstemp(outp);
	size_t n = 0;
	if (fd < 0 || fo < 0 || write(fd, req, len) != (ssize_t)len)
		goto out;
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '%s' %s %s %d >/dev/null 2>&1", script, in,
		 outp, t);
	if (system(cmd) == 0) {
		ssize_t r = read(fo, out, outsz);
		n = r > 0 ? (size_t)r : 0;
	}
out:
	if (fd >= 0)
		close(fd);
	if (fo >= 0)
		close(fo);
	unlink(in);
	unlink(outp);
	return n;
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
	/* The secret is strict base64 (core/base64.h), padding optional:
	 * the old reader dropped any run of '=' and the bits padding hides,
	 * so misspelled secrets passed for others. */
	CHECK(acme_tsig_parse("k:c2VjcmV0LXNlY3JldC1zZWNyZXQ", &k) == 0);
	CHECK(k.secret_len == 20 && memcmp(k.secret, "secret-secret-secret", 20) == 0);
	CHECK(acme_tsig_parse("k:c2VjcmV0LXNlY3JldC1zZWNyZXQ==", &k) == -1);
	CHECK(acme_tsig_parse("k:c2VjcmV0LXNlY3JldC1zZWNyZXR=", &k) == -1);
	CHECK(acme_tsig_parse("k:c2VjcmV0LXNlY3JldC1zZWNyZXQ= ", &k) == -1);

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

	/* Replies signed by dnspython (an independent RFC 8945 signer) over
	 * our request, their MAC cut to T octets as §5.2.2.3 allows: 32 and
	 * 16 (half of SHA-256) verify, 15 and 10 are refused, a changed octet
	 * in the part sent is refused. */
	n = acme_dnsupd_encode(msg, sizeof msg, 0x5555, "acme.test", "_acme-challenge.mail.acme.test",
	                       "abc-DEF_123", 60, 0, &k, now);
	static const struct {
		int t, flip, ok;
	} cuts[] = {{32, 0, 0}, {16, 0, 0}, {20, 0, 0}, {15, 0, -1}, {10, 0, -1}, {16, 1, -1}};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		unsigned char rep[1024];
		size_t rn = signed_reply(msg, n, cuts[i].t, rep, sizeof rep);
		CHECK(rn > 0);
		if (rn == 0)
			continue;
		if (cuts[i].flip)
			rep[rn - 6 - 1] ^= 1; /* the MAC's last octet sent */
		char why[200] = "";
		int rc = acme_dnsupd_verify(rep, rn, msg, n, &k, now, why, sizeof why);
		if (rc != cuts[i].ok)
			fprintf(stderr, "MAC cut to %d (flip %d): %d %s\n", cuts[i].t, cuts[i].flip, rc, why);
		CHECK_EQ_INT(rc, cuts[i].ok);
		if (cuts[i].ok < 0 && !cuts[i].flip)
			CHECK(strstr(why, "16 octets") != NULL);
	}
	return unit_done("test_acme_dnsupd");
}
