/*
 * test_forward.c — the forwarding helpers (forward/forward.h): the loop
 * scan (Received count, our Delivered-To in any case, in brackets,
 * folded, and not in the body), the forwarded copy's sender (null,
 * local, SRS, kept when SRS cannot carry it), the per-alias rate window,
 * the key derived at forward_init, and the ARC fields a message arrives
 * with.
 */
#include <stdlib.h>
#include <string.h>

#include "forward/forward.h"
#include "unit_env.h"

static void test_scan(void)
{
	static const char msg[] =
	    "Received: from a by b; Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	    "Delivered-To: other@example.com\r\n"
	    "received: from c\r\n\tby d; Sun, 22 Nov 2026 10:00:00 +0000\r\n"
	    "Delivered-To:\r\n <Info@Example.COM> \r\n"
	    "Subject: x\r\n"
	    "\r\n"
	    "Received: not a field, the body\r\n"
	    "Delivered-To: body@example.com\r\n";
	unsigned n = 99;

	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, NULL, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "info@example.com", &n), 1);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "other@example.com", &n), 1);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "body@example.com", &n), 0);
	CHECK_EQ_INT(forward_scan(msg, sizeof msg - 1, "info@example.co", &n), 0);
	/* Byte by byte: every prefix is read within its length. */
	for (size_t len = 0; len < sizeof msg; len++) {
		char *copy = malloc(len ? len : 1);
		memcpy(copy, msg, len);
		forward_scan(copy, len, "info@example.com", &n);
		CHECK(n <= 2);
		free(copy);
	}
	CHECK_EQ_INT(forward_scan("", 0, "a@b", &n), 0);
	CHECK_EQ_INT(n, 0);

	/* ARC fields in the header (any of the three, any case), not in the body. */
	CHECK_EQ_INT(forward_has_arc(msg, sizeof msg - 1), 0);
	static const char arc[] = "Subject: x\r\narc-authentication-results: i=1; a.test; none\r\n\r\n";
	CHECK_EQ_INT(forward_has_arc(arc, sizeof arc - 1), 1);
	static const char seal[] = "ARC-Seal: i=1; cv=none\r\n\r\n";
	CHECK_EQ_INT(forward_has_arc(seal, sizeof seal - 1), 1);
	static const char body[] = "Subject: x\r\n\r\nARC-Seal: i=1; cv=none\r\n";
	CHECK_EQ_INT(forward_has_arc(body, sizeof body - 1), 0);
}

static void test_sender_and_rate(const char *base)
{
	char out[SRS_ADDR_MAX + 1], back[SRS_ADDR_MAX + 1];
	const int64_t now = (int64_t)20414 * 86400;

	/* Before forward_init: no key, senders are kept as they are. */
	CHECK(forward_srs() == NULL);
	CHECK_EQ_INT(forward_sender("a@origin.test", 0, "fwd.test", now, out, sizeof out), SRS_EINVAL);
	CHECK_EQ_STR(out, "a@origin.test");

	CHECK_EQ_INT(forward_init(base, 2), 0);
	CHECK(forward_srs() != NULL);
	CHECK_EQ_INT(forward_sender("", 0, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(forward_sender("me@fwd.test", 1, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK_EQ_STR(out, "me@fwd.test");
	CHECK_EQ_INT(forward_sender("a@origin.test", 0, "fwd.test", now, out, sizeof out), SRS_OK);
	CHECK(strncmp(out, "SRS0=", 5) == 0);
	CHECK_EQ_INT(srs_reverse(forward_srs(), out, now, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "a@origin.test");
	CHECK_EQ_INT(forward_sender("\"a b\"@origin.test", 0, "fwd.test", now, out, sizeof out),
		     SRS_EINVAL);
	CHECK_EQ_STR(out, "\"a b\"@origin.test");
	/* The key is the data directory's: a second init gives the same one. */
	struct srs k1 = *forward_srs();
	CHECK_EQ_INT(forward_init(base, 2), 0);
	CHECK(memcmp(k1.key, forward_srs()->key, sizeof k1.key) == 0);

	/* Two messages an hour per alias; others unaffected. */
	CHECK(forward_rate_allowed("a@fwd.test", 1000));
	forward_rate_record("a@fwd.test", 1000);
	forward_rate_record("a@fwd.test", 2000);
	CHECK(!forward_rate_allowed("a@fwd.test", 3000));
	CHECK(forward_rate_allowed("b@fwd.test", 3000));
	CHECK(forward_rate_allowed("a@fwd.test", 1000 + RATE_WINDOW_MS));
	CHECK_EQ_INT(forward_init(base, 0), 0); /* unlimited, and frees the table */
	CHECK(forward_rate_allowed("a@fwd.test", 3000));
}

int main(void)
{
	char base[256];

	if (unit_env_begin(base, sizeof base, "forward") < 0)
		return 1;
	test_scan();
	test_sender_and_rate(base);
	unit_rmrf(base);
	return unit_done("test_forward");
}
