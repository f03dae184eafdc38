/*
 * test_srs.c — the Sender Rewriting Scheme (forward/srs.h): SRS0 forward
 * and reverse, SRS1 when re-forwarding an SRS0 or SRS1 address and its
 * reversal to the first forwarder, the 21-day window (and the 1024-day
 * wrap), a tampered hash, another key, case folding of the whole address,
 * the '+'/'-' separators, malformed addresses, senders that cannot be
 * rewritten, a result too long, and the parser fed every prefix of an
 * address (so no length is trusted beyond what it was given).
 */
#include <stdlib.h>
#include <string.h>

#include "forward/srs.h"
#include "unit.h"

#define DAY 86400
/* 2026-11-22, a day whose number modulo 1024 is not small. */
static const int64_t NOW = (int64_t)20414 * DAY + 3600;

static struct srs key1 = {.key = {1, 2, 3, 4, 5}}, key2 = {.key = {9, 9, 9}};

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static void test_srs0(void)
{
	char fwd[SRS_ADDR_MAX + 1], back[SRS_ADDR_MAX + 1], a[SRS_ADDR_MAX + 1];

	CHECK_EQ_INT(srs_forward(&key1, "alice@origin.test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	/* SRS0=HHHHHH=TT=origin.test=alice@fwd.test */
	CHECK(strncmp(fwd, "SRS0=", 5) == 0 && fwd[11] == '=' && fwd[14] == '=');
	CHECK(strstr(fwd, "=origin.test=alice@fwd.test") == fwd + 14);
	CHECK_EQ_INT(strlen(fwd), strlen("SRS0=HHHHHH=TT=origin.test=alice@fwd.test"));
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "alice@origin.test");
	/* The same day, the same address; the hash is a keyed one. */
	CHECK_EQ_INT(srs_forward(&key1, "alice@origin.test", "fwd.test", NOW + 3600, a, sizeof a), SRS_OK);
	CHECK_EQ_STR(a, fwd);
	CHECK_EQ_INT(srs_forward(&key2, "alice@origin.test", "fwd.test", NOW, a, sizeof a), SRS_OK);
	CHECK(strcmp(a, fwd) != 0);
	CHECK_EQ_INT(srs_reverse(&key2, fwd, NOW, back, sizeof back), SRS_EHASH);
	CHECK_EQ_STR(back, "");

	/* A local part with '=' and '+' in it survives the trip. */
	CHECK_EQ_INT(srs_forward(&key1, "a=b+c.d@origin.test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "a=b+c.d@origin.test");
}

static void test_expiry(void)
{
	char fwd[SRS_ADDR_MAX + 1], back[SRS_ADDR_MAX + 1];

	CHECK_EQ_INT(srs_forward(&key1, "bob@origin.test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW + 21 * DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW + 22 * DAY, back, sizeof back), SRS_EEXPIRED);
	CHECK_EQ_STR(back, "");
	/* A stamp from tomorrow (a clock ahead of ours) is one from 1023 days ago. */
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW - DAY, back, sizeof back), SRS_EEXPIRED);
	/* 1024 days later the stamp reads as new again: the window is mod 1024, as libsrs2's. */
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW + 1024 * DAY, back, sizeof back), SRS_OK);
	/* A shorter window set by the caller. */
	struct srs k = key1;
	k.max_age_days = 3;
	CHECK_EQ_INT(srs_reverse(&k, fwd, NOW + 3 * DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_INT(srs_reverse(&k, fwd, NOW + 4 * DAY, back, sizeof back), SRS_EEXPIRED);
	/* Moving the stamp to today needs a new hash: bad hash, not fresh. */
	char moved[SRS_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward(&key1, "bob@origin.test", "fwd.test", NOW + 30 * DAY, moved, sizeof moved), SRS_OK);
	memcpy(fwd + 12, moved + 12, 2);
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW + 30 * DAY, back, sizeof back), SRS_EHASH);
}

static void test_tamper(void)
{
	char fwd[SRS_ADDR_MAX + 1], t[1024], back[SRS_ADDR_MAX + 1];

	CHECK_EQ_INT(srs_forward(&key1, "carol@origin.test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	/* Each field changed in turn: the hash no longer matches. */
	const char *edits[][2] = {
		{"=origin.test=", "=evil.test="},
		{"=carol@", "=mallory@"},
		{"=carol@", "=carol2@"},
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		char *p = strstr(fwd, edits[i][0]);
		CHECK(p != NULL);
		snprintf(t, sizeof t, "%.*s%s%s", (int)(p - fwd), fwd, edits[i][1], p + strlen(edits[i][0]));
		CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_EHASH);
	}
	/* One hash character changed (to another that differs in more than case). */
	strcpy(t, fwd);
	t[5] = t[5] == '0' ? '1' : '0';
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_EHASH);
	/* A hash cut short or made longer. */
	snprintf(t, sizeof t, "SRS0=%.5s%s", fwd + 5, fwd + 11);
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_EHASH);
	snprintf(t, sizeof t, "SRS0=%.6sx%s", fwd + 5, fwd + 11);
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_EHASH);
}

static void test_case_folding(void)
{
	char fwd[SRS_ADDR_MAX + 1], t[1024], back[SRS_ADDR_MAX + 1];

	CHECK_EQ_INT(srs_forward(&key1, "Dave.Smith@Origin.Test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	/* An MTA that upper- or lower-cases the whole address: still ours. */
	strcpy(t, fwd);
	upper(t);
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "DAVE.SMITH@ORIGIN.TEST");
	for (char *p = t; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "dave.smith@origin.test");
	/* The original case is what we give back when nothing changed it. */
	CHECK_EQ_INT(srs_reverse(&key1, fwd, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "Dave.Smith@Origin.Test");
	/* The other separators after SRS0. */
	strcpy(t, fwd);
	t[4] = '+';
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_OK);
	t[4] = '-';
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_OK);
	t[4] = '.';
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_NOT_SRS);
}

static void test_srs1(void)
{
	char hop1[SRS_ADDR_MAX + 1], hop2[SRS_ADDR_MAX + 1], hop3[SRS_ADDR_MAX + 1];
	char back[SRS_ADDR_MAX + 1], t[1024];

	/* The first forwarder (key2) rewrote alice; we (key1) forward again. */
	CHECK_EQ_INT(srs_forward(&key2, "alice@origin.test", "first.test", NOW, hop1, sizeof hop1), SRS_OK);
	CHECK_EQ_INT(srs_forward(&key1, hop1, "fwd.test", NOW, hop2, sizeof hop2), SRS_OK);
	/* SRS1=HHHHHH=first.test==HHHHHH=TT=origin.test=alice@fwd.test */
	snprintf(t, sizeof t, "=first.test=%s", hop1 + 4);
	*strrchr(t, '@') = '\0';
	CHECK(strncmp(hop2, "SRS1=", 5) == 0 && strstr(hop2, t) == hop2 + 11);
	CHECK(strstr(hop2, "@fwd.test") != NULL);
	/* Our reversal leads to the first forwarder's SRS0, which its key opens. */
	CHECK_EQ_INT(srs_reverse(&key1, hop2, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, hop1);
	CHECK_EQ_INT(srs_reverse(&key2, hop1, NOW, t, sizeof t), SRS_OK);
	CHECK_EQ_STR(t, "alice@origin.test");
	/* SRS1 has no stamp of ours: no expiry here (the first forwarder checks). */
	CHECK_EQ_INT(srs_reverse(&key1, hop2, NOW + 400 * DAY, back, sizeof back), SRS_OK);
	/* Tampering with the first forwarder's name. */
	char *p = strstr(hop2, "=first.test=");
	snprintf(t, sizeof t, "%.*s=evil.test=%s", (int)(p - hop2), hop2, p + strlen("=first.test="));
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_EHASH);
	/* Case folding of an SRS1 too. */
	strcpy(t, hop2);
	upper(t);
	CHECK_EQ_INT(srs_reverse(&key1, t, NOW, back, sizeof back), SRS_OK);

	/* A third hop (key2 again) keeps SRS1 and the first forwarder: no growth. */
	CHECK_EQ_INT(srs_forward(&key2, hop2, "third.test", NOW, hop3, sizeof hop3), SRS_OK);
	CHECK(strncmp(hop3, "SRS1=", 5) == 0);
	CHECK_EQ_INT(strlen(hop3) - strlen("third.test"), strlen(hop2) - strlen("fwd.test"));
	CHECK_EQ_INT(srs_reverse(&key2, hop3, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, hop1);
	CHECK_EQ_INT(srs_reverse(&key1, hop3, NOW, back, sizeof back), SRS_EHASH);
	/* An SRS0 with '+' separator is rewritten keeping its separator. */
	strcpy(t, hop1);
	t[4] = '+';
	CHECK_EQ_INT(srs_forward(&key1, t, "fwd.test", NOW, hop2, sizeof hop2), SRS_OK);
	CHECK(strstr(hop2, "=first.test=+") != NULL);
	CHECK_EQ_INT(srs_reverse(&key1, hop2, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, t);
}

static void test_malformed(void)
{
	char out[SRS_ADDR_MAX + 1];
	static const char *const bad[] = {
		"SRS0=@fwd.test",         "SRS0=abcdef@fwd.test",   "SRS0=abcdef=TT@fwd.test",
		"SRS0=abcdef=TT=d@fwd.test", "SRS0=abcdef=TT=d=@fwd.test", "SRS0==AB=d=l@fwd.test",
		"SRS0=abcdef==d=l@fwd.test", "SRS0=abcdef=AB==l@fwd.test", "SRS1=abcdef@fwd.test",
		"SRS1=abcdef=host@fwd.test", "SRS1=abcdef=host=@fwd.test", "SRS1=abcdef=host=x@fwd.test",
		"SRS1=abcdef==rest@fwd.test", "SRS1==host==x@fwd.test",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = srs_reverse(&key1, bad[i], NOW, out, sizeof out);
		if (r != SRS_EINVAL)
			fprintf(stderr, "srs_reverse(%s) = %d\n", bad[i], r);
		CHECK_EQ_INT(r, SRS_EINVAL);
		CHECK_EQ_STR(out, "");
	}
	/* Stamps that are not two base32 letters. */
	CHECK_EQ_INT(srs_reverse(&key1, "SRS0=abcdef=A1=d=l@fwd.test", NOW, out, sizeof out), SRS_EINVAL);
	CHECK_EQ_INT(srs_reverse(&key1, "SRS0=abcdef=ABC=d=l@fwd.test", NOW, out, sizeof out), SRS_EINVAL);
	/* Not SRS at all. */
	static const char *const plain[] = {"alice@fwd.test", "SRS2=a=b=c=d@fwd.test", "SRS0@fwd.test",
					    "SRS@fwd.test", "srs0", ""};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		CHECK_EQ_INT(srs_reverse(&key1, plain[i], NOW, out, sizeof out), SRS_NOT_SRS);

	/* Senders srs_forward will not rewrite. */
	static const char *const keep[] = {"no-at-sign", "@origin.test", "alice@", "\"a b\"@origin.test",
					   "a..b@origin.test", ".a@origin.test", "a b@origin.test",
					   "a@dom=ain.test"};
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		CHECK_EQ_INT(srs_forward(&key1, keep[i], "fwd.test", NOW, out, sizeof out), SRS_EINVAL);
		CHECK_EQ_STR(out, "");
	}
	CHECK_EQ_INT(srs_forward(&key1, "a@origin.test", "", NOW, out, sizeof out), SRS_EINVAL);
	/* Something that only looks like SRS is rewritten as a plain sender. */
	CHECK_EQ_INT(srs_forward(&key1, "SRS0=x@origin.test", "fwd.test", NOW, out, sizeof out), SRS_OK);
	CHECK(strncmp(out, "SRS0=", 5) == 0);
	char back[SRS_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_reverse(&key1, out, NOW, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "SRS0=x@origin.test");

	/* Too long for out, or for a path (320). */
	char small[30];
	CHECK_EQ_INT(srs_forward(&key1, "alice@origin.test", "fwd.test", NOW, small, sizeof small), SRS_ETOOLONG);
	CHECK_EQ_STR(small, "");
	char big[400], huge[1000];
	memset(big, 'x', 300);
	strcpy(big + 300, "@origin.test");
	CHECK_EQ_INT(srs_forward(&key1, big, "fwd.test", NOW, huge, sizeof huge), SRS_ETOOLONG);
	CHECK_EQ_STR(srs_result_name(SRS_EEXPIRED), "expired");
	CHECK_EQ_STR(srs_result_name(SRS_EHASH), "bad_hash");
}

/* srs_parse on every prefix of addresses: never reads past what it is given. */
static void test_parse_prefixes(void)
{
	char fwd[SRS_ADDR_MAX + 1], hop[SRS_ADDR_MAX + 1];
	struct srs_parts p;

	CHECK_EQ_INT(srs_forward(&key1, "alice@origin.test", "fwd.test", NOW, fwd, sizeof fwd), SRS_OK);
	CHECK_EQ_INT(srs_forward(&key1, fwd, "two.test", NOW, hop, sizeof hop), SRS_OK);
	const char *all[] = {fwd, hop};
	for (size_t a = 0; a < 2; a++) {
		size_t n = (size_t)(strchr(all[a], '@') - all[a]);
		for (size_t len = 0; len <= n; len++) {
			char *copy = malloc(len ? len : 1);
			memcpy(copy, all[a], len);
			int r = srs_parse(copy, len, &p);
			CHECK(r == SRS_OK || r == SRS_EINVAL || r == SRS_NOT_SRS);
			if (len == n)
				CHECK_EQ_INT(r, SRS_OK);
			free(copy);
		}
	}
	CHECK_EQ_INT(srs_parse(fwd, (size_t)(strchr(fwd, '@') - fwd), &p), SRS_OK);
	CHECK_EQ_INT(p.kind, 0);
	CHECK_EQ_INT(p.hash_len, SRS_HASH_LEN);
	CHECK_EQ_INT(p.stamp_len, 2);
	CHECK(p.domain_len == 11 && memcmp(p.domain, "origin.test", 11) == 0);
	CHECK(p.local_len == 5 && memcmp(p.local, "alice", 5) == 0);
	CHECK_EQ_INT(srs_parse(hop, (size_t)(strchr(hop, '@') - hop), &p), SRS_OK);
	CHECK_EQ_INT(p.kind, 1);
	CHECK(p.host_len == 8 && memcmp(p.host, "fwd.test", 8) == 0);
	CHECK(p.rest[0] == '=');
}

int main(void)
{
	test_srs0();
	test_expiry();
	test_tamper();
	test_case_folding();
	test_srs1();
	test_malformed();
	test_parse_prefixes();
	return unit_done("test_srs");
}
