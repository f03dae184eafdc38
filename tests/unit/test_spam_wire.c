/*
 * test_spam_wire.c — the spam filter's connection-side pieces: blocklist
 * zones (their text, the names asked, what an answer means, one message's
 * lookups against a table resolver), allow/block lists, the pipeline's
 * decision and its header fields, the connection rules, and greylisting's decision. The
 * parsers are also fed their input cut at every byte (a list or a zone
 * text split in two reads the same as whole).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dns/dns_msg.h"
#include "dns/dns_table.h"
#include "auth/dmarc.h"
#include "auth/iprev.h"
#include "spam/spam_conn.h"
#include "spam/spam_dnsbl.h"
#include "spam/spam_grey.h"
#include "spam/spam_lists.h"
#include "spam/spam_pipeline.h"
#include "spam/spam_private.h"
#include "spam/spam_sent.h"
#include "store/store.h"
#include "unit_env.h"

static void zones(void)
{
	struct spam_dnsbl_conf c;
	char err[160];

	CHECK_EQ_INT(spam_dnsbl_parse(SPAM_DNSBL_DEFAULT, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_STR(c.z[0].zone, "zen.spamhaus.org");
	CHECK_EQ_INT(c.z[0].ncodes, 4);
	CHECK_EQ_STR(c.z[1].zone, "bl.spamcop.net");
	CHECK(c.z[1].weight == 2.0 && c.z[1].ncodes == 0);
	CHECK_EQ_INT(spam_dnsbl_parse(SPAM_URIBL_DEFAULT, &c, err, sizeof err), 0);
	CHECK(c.n == 1 && c.z[0].code[0].lo == 0x7f000102 && c.z[0].code[0].hi == 0x7f000163);

	/* Comments, blank lines, commas, CRLF, upper case. */
	CHECK_EQ_INT(spam_dnsbl_parse("# lists\r\n\r\nBL.Example.ORG 3 # three\r\nx.test, 127.0.0.2=1\n",
				      &c, err, sizeof err), 0);
	CHECK(c.n == 2 && strcmp(c.z[0].zone, "bl.example.org") == 0 && c.z[0].weight == 3.0);
	CHECK(c.z[1].ncodes == 1 && c.z[1].code[0].weight == 1.0);
	CHECK_EQ_INT(spam_dnsbl_parse("", &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.n, 0);

	static const char *const bad[] = {
	    "nodot 1",            "bl.test x",        "bl.test 127.0.0.2",   "bl.test 10.0.0.2=1",
	    "bl.test 127.0.0.3-127.0.0.2=1", "bl.test 1 2", "bl..test 1",    "bl.test 127.0.0.2=1000",
	    "bl.test 127.0.0.2=nan", "-bl.test/x 1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_EQ_INT(spam_dnsbl_parse(bad[i], &c, err, sizeof err), -1);
		CHECK(strncmp(err, "line 1:", 7) == 0);
	}
	CHECK_EQ_INT(spam_dnsbl_parse("a.t\nb.t\nc.t\nd.t\ne.t\nf.t\ng.t\nh.t\ni.t\n", &c, err, sizeof err), -1);
	CHECK(strstr(err, "line 9") != NULL);

	/* Cut anywhere, the halves joined read the same. */
	const char *text = "zen.example 127.0.0.2-127.0.0.3=4 127.0.0.10=1.5\nbl.example 2\n";
	struct spam_dnsbl_conf whole;
	spam_dnsbl_parse(text, &whole, err, sizeof err);
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		char joined[256];
		snprintf(joined, sizeof joined, "%.*s%s", (int)cut, text, text + cut);
		CHECK_EQ_INT(spam_dnsbl_parse(joined, &c, err, sizeof err), 0);
		CHECK(memcmp(&c, &whole, sizeof c) == 0);
	}
}

static void names(void)
{
	char n[DNS_NAME_MAX];
	CHECK_EQ_INT(spam_dnsbl_ip_name("93.184.215.7", "zen.test", n, sizeof n), 0);
	CHECK_EQ_STR(n, "7.215.184.93.zen.test");
	CHECK_EQ_INT(spam_dnsbl_ip_name("::ffff:127.0.0.2", "zen.test", n, sizeof n), 0);
	CHECK_EQ_STR(n, "2.0.0.127.zen.test");
	CHECK_EQ_INT(spam_dnsbl_ip_name("2a00:1450::1", "zen.test", n, sizeof n), 0);
	CHECK_EQ_STR(n, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.4.1.0.0.a.2.zen.test");
	/* The lists' test entries (RFC 5782 §5) are looked up. */
	CHECK_EQ_INT(spam_dnsbl_ip_name("127.0.0.1", "zen.test", n, sizeof n), 0);
	/* No address that is not globally reachable is sent out (RFC 6890
	 * registries): private, shared (CGNAT), link-local, unique-local,
	 * documentation, benchmarking, reserved, this-network, IPv6
	 * loopback, and an IPv4 one inside NAT64 or 6to4. */
	static const char *const inside[] = {
	    "10.1.2.3",       "192.168.1.1",      "172.20.0.1",     "100.64.0.1",
	    "100.127.255.254", "169.254.1.1",     "0.1.2.3",        "192.0.2.7",
	    "198.51.100.9",   "203.0.113.1",      "198.18.0.1",     "240.0.0.1",
	    "192.0.0.9",      "::ffff:100.64.1.1", "fd00::1",       "fe80::1",
	    "::1",            "2001:db8::1",      "64:ff9b::a00:1", "2002:c0a8:101::1",
	    "ff02::1",        "::"};
	for (size_t i = 0; i < sizeof inside / sizeof *inside; i++)
		if (spam_dnsbl_ip_name(inside[i], "zen.test", n, sizeof n) != -1) {
			fprintf(stderr, "looked up: %s\n", inside[i]);
			CHECK(0);
		}
	/* The shared range's neighbours are global. */
	CHECK_EQ_INT(spam_dnsbl_ip_name("100.63.255.255", "zen.test", n, sizeof n), 0);
	CHECK_EQ_INT(spam_dnsbl_ip_name("100.128.0.1", "zen.test", n, sizeof n), 0);
	CHECK_EQ_INT(spam_dnsbl_ip_name("not an ip", "zen.test", n, sizeof n), -1);
	CHECK_EQ_INT(spam_dnsbl_ip_name("93.184.215.7", "zen.test", n, 10), -1);
	CHECK_EQ_INT(spam_dnsbl_domain_name("Spam.Example.", "dbl.test", n, sizeof n), 0);
	CHECK_EQ_STR(n, "spam.example.dbl.test");
	CHECK_EQ_INT(spam_dnsbl_domain_name("", "dbl.test", n, sizeof n), -1);
	struct spam_dnsbl_zone zr = {.zone = "zen.spam-haus.org"};
	spam_dnsbl_rule("RBL_", &zr, n, sizeof n);
	CHECK_EQ_STR(n, "RBL_ZEN_SPAM_HAUS_ORG");
}

static struct dns_answer *answer_a(const char *const *addrs, size_t n, int status)
{
	struct dns_answer *a = malloc(sizeof *a);
	dns_answer_init(a, DNS_T_A, status, 60);
	for (size_t i = 0; i < n; i++) {
		uint8_t ip[4];
		unsigned b[4];
		sscanf(addrs[i], "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
		for (int j = 0; j < 4; j++)
			ip[j] = (uint8_t)b[j];
		struct dns_rr rr = {.type = DNS_T_A, .ttl = 60};
		dns_answer_add(a, &rr, ip, 4);
	}
	return a;
}

static void weights(void)
{
	struct spam_dnsbl_conf c;
	char err[160];
	int listed;
	spam_dnsbl_parse("zen.test 127.0.0.2-127.0.0.3=4 127.0.0.10-127.0.0.11=1.5\nany.test 2\n", &c,
			 err, sizeof err);
	const char *sbl[] = {"127.0.0.2"}, *pbl_sbl[] = {"127.0.0.10", "127.0.0.3"},
		   *refused[] = {"127.255.255.254"}, *invented[] = {"198.51.100.1"},
		   *unknown[] = {"127.0.0.5"}, *pbl[] = {"127.0.0.11"};
	struct dns_answer *a;

	a = answer_a(sbl, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[0], a, &listed) == 4.0 && listed);
	free(a);
	a = answer_a(pbl_sbl, 2, DNS_ANS_OK); /* several codes: the highest */
	CHECK(spam_dnsbl_weight(&c.z[0], a, &listed) == 4.0 && listed);
	free(a);
	a = answer_a(pbl, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[0], a, &listed) == 1.5 && listed);
	free(a);
	/* "Error" answers and invented ones never count, under any zone. */
	a = answer_a(refused, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[0], a, &listed) == 0 && !listed);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 0 && !listed);
	free(a);
	a = answer_a(invented, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 0 && !listed);
	free(a);
	/* 127.0.0.1 is never a listing (RFC 5782 2.1: no list holds it);
	 * URIBL answers it when it refuses a resolver, so a zone taking any
	 * code would list every domain asked about. */
	const char *loop[] = {"127.0.0.1"}, *loop_sbl[] = {"127.0.0.1", "127.0.0.2"};
	struct spam_dnsbl_conf wide;
	CHECK(spam_dnsbl_parse("wide.test 127.0.0.0-127.0.0.255=3\n", &wide, err, sizeof err) == 0);
	a = answer_a(loop, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 0 && !listed);
	CHECK(spam_dnsbl_weight(&wide.z[0], a, &listed) == 0 && !listed);
	free(a);
	a = answer_a(loop_sbl, 2, DNS_ANS_OK); /* a real listing beside it still counts */
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 2.0 && listed);
	free(a);
	/* A code the zone does not name: not listed there; any code elsewhere. */
	a = answer_a(unknown, 1, DNS_ANS_OK);
	CHECK(spam_dnsbl_weight(&c.z[0], a, &listed) == 0 && !listed);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 2.0 && listed);
	free(a);
	a = answer_a(NULL, 0, DNS_ANS_NXDOMAIN);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 0 && !listed);
	free(a);
	a = answer_a(NULL, 0, DNS_ANS_TEMP);
	CHECK(spam_dnsbl_weight(&c.z[1], a, &listed) == 0 && !listed);
	free(a);
}

static int done_calls;
static void run_done(void *arg)
{
	(void)arg;
	done_calls++;
}

static void lookups(void)
{
	static const char table[] =
	    "2.0.0.127.zen.test A 127.0.0.2\n"
	    "2.0.0.127.other.test A 127.255.255.254\n"
	    "spam.example.dbl.test A 127.0.1.2\n"
	    "clean.example.dbl.test A 127.0.1.255\n"
	    "flaky.example.dbl.test A SERVFAIL\n";
	struct dns_table *t = dns_table_new(table, sizeof table - 1);
	struct dns_resolver r = dns_table_resolver(t);
	struct spam_dnsbl_conf ipc, domc;
	char err[160];
	spam_dnsbl_parse("zen.test 127.0.0.2=4\nother.test 3\n", &ipc, err, sizeof err);
	spam_dnsbl_parse("dbl.test 127.0.1.2-127.0.1.99=5\n", &domc, err, sizeof err);
	const char *doms[] = {"spam.example", "Spam.Example", "clean.example", "flaky.example", ""};
	struct spam_dnsbl_run *run =
	    spam_dnsbl_start(&r, &ipc, "127.0.0.2", &domc, doms, 5, run_done, NULL);
	/* The table answers at once: nothing pending, done not called. */
	CHECK_EQ_INT(spam_dnsbl_pending(run), 0);
	CHECK_EQ_INT(done_calls, 0);
	CHECK_EQ_INT(dns_table_queries(t), 5); /* 2 zones for the IP, 3 distinct domains */
	struct spam_result tl;
	spam_result_init(&tl);
	spam_dnsbl_result(run, &tl);
	CHECK_EQ_INT(tl.nrules, 2);
	CHECK(spam_pipeline_rule(&tl, "RBL_ZEN_TEST") && spam_pipeline_rule(&tl, "RBL_ZEN_TEST")->weight == 4.0);
	CHECK_EQ_STR(spam_pipeline_rule(&tl, "RBL_ZEN_TEST")->desc, "the client listed by zen.test");
	CHECK(spam_pipeline_rule(&tl, "URIBL_DBL_TEST") && spam_pipeline_rule(&tl, "URIBL_DBL_TEST")->weight == 5.0);
	CHECK(!spam_result_has(&tl, "RBL_OTHER_TEST"));
	CHECK(tl.score == 9.0);
	spam_dnsbl_free(&run);
	CHECK(run == NULL);
	/* A private client: no IP query at all. */
	run = spam_dnsbl_start(&r, &ipc, "10.0.0.1", NULL, NULL, 0, run_done, NULL);
	CHECK_EQ_INT(dns_table_queries(t), 5);
	spam_dnsbl_free(&run);
	dns_table_free(&t);
}

/* Hash lists: their lines, the names asked (SHA-1 and MD5 hex, SHA-256
 * lowercase base32: vectors from Python's hashlib), what a message is
 * asked about, and one message's lookups. */
static void hash_lists(void)
{
	struct spam_dnsbl_conf c;
	char err[160], n[DNS_NAME_MAX];

	CHECK_EQ_INT(spam_hashbl_parse("email _email.k3y.hbl.test 127.0.3.2=8 name=sh_hbl_email\n"
				       "FILE _file.k3y.hbl.test 127.0.3.10=10 name=SH_HBL_FILE\n"
				       "email/md5 ebl.test 5 # md5 hex\nemail/sha256 e256.test\n"
				       "wallet _cw.k3y.hbl.test 127.0.3.20=8\n",
				       &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.n, 5);
	CHECK(c.z[4].subject == SPAM_HASHBL_WALLET && c.z[4].hash == SPAM_HASH_SHA1);
	CHECK(c.z[0].subject == SPAM_HASHBL_EMAIL && c.z[0].hash == SPAM_HASH_SHA1);
	CHECK_EQ_STR(c.z[0].name, "SH_HBL_EMAIL");
	CHECK_EQ_STR(c.z[0].zone, "_email.k3y.hbl.test");
	CHECK(c.z[1].subject == SPAM_HASHBL_FILE && c.z[1].hash == SPAM_HASH_SHA256);
	CHECK(c.z[1].ncodes == 1 && c.z[1].code[0].weight == 10.0);
	CHECK(c.z[2].hash == SPAM_HASH_MD5 && c.z[2].weight == 5.0 && !c.z[2].name[0]);
	CHECK(c.z[3].hash == SPAM_HASH_SHA256);
	static const char *const bad[] = {
	    "file/md5 f.test",  "dns x.test",          "email",          "email/sha512 x.test",
	    "x.test 2",         "email x.test name=a-b", "email x.test name=A name=B",
	    "email x.test name=", "email x.test name=ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		CHECK_EQ_INT(spam_hashbl_parse(bad[i], &c, err, sizeof err), -1);
		CHECK(strncmp(err, "line 1:", 7) == 0);
	}
	/* A plain zone takes a name too; a hash line is not a plain zone. */
	CHECK_EQ_INT(spam_dnsbl_parse("k3y.zen.dq.test 127.0.0.2=4 name=Zen", &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.z[0].name, "ZEN");
	spam_dnsbl_rule("RBL_", &c.z[0], n, sizeof n);
	CHECK_EQ_STR(n, "RBL_ZEN");
	CHECK_EQ_INT(spam_dnsbl_parse("email ebl.test", &c, err, sizeof err), -1);

	struct spam_dnsbl_zone z = {.zone = "h.test", .subject = SPAM_HASHBL_EMAIL};
	CHECK_EQ_INT(spam_hashbl_name(&z, "Drop.Box@Example.NET", NULL, n, sizeof n), 0);
	CHECK_EQ_STR(n, "240616acfdf76b8c2496d8ada25fc32451a8954b.h.test");
	z.hash = SPAM_HASH_MD5;
	CHECK_EQ_INT(spam_hashbl_name(&z, "drop.box@example.net", NULL, n, sizeof n), 0);
	CHECK_EQ_STR(n, "b9876e657957368b6c4f835ae93b68c2.h.test");
	z.hash = SPAM_HASH_SHA256;
	CHECK_EQ_INT(spam_hashbl_name(&z, "drop.box@example.net", NULL, n, sizeof n), 0);
	CHECK_EQ_STR(n, "cgyxpizp7ykp4jqebolbk3oq7cptykm2jpzhceyxlvqw5xljwueq.h.test");
	CHECK_EQ_INT(spam_hashbl_name(&z, "drop.box@example.net", NULL, n, 40), -1);
	CHECK_EQ_INT(spam_hashbl_name(&z, "", NULL, n, sizeof n), -1);
	/* A wallet is hashed as written: its case is part of it. */
	struct spam_dnsbl_zone zw = {.zone = "cw.test", .subject = SPAM_HASHBL_WALLET};
	CHECK_EQ_INT(spam_hashbl_name(&zw, "0x52908400098527886E0F7030069857D2E4169EE7", NULL, n, sizeof n), 0);
	CHECK_EQ_STR(n, "1bae933f94080e226f94e779669f6d1dfd06c2f5.cw.test");

	/* Wallets in a text: Bitcoin (base58, bech32), Ethereum, each once;
	 * not a word too short, with a letter base58 lacks, or hex of another
	 * length. */
	const char *wtext = "Pay 0.1 BTC to 1TernTestWa11etAddrXyzABCDEF now (or 1TernTestWa11etAddrXyzABCDEF), "
	                    "bc1q9x8gf2tvdw0s3jn54khce6mua7lqpzry9x8gf2, "
	                    "0x52908400098527886E0F7030069857D2E4169EE7. Not 1Short, 1TernTestWa11etAddrXyzABCDE0, "
	                    "0x52908400098527886E0F7030069857D2E4169EE, bc1qbbbbbbbbbbbbbbbbbbbbbbbbb.";
	struct spam_msg wm;
	memset(&wm, 0, sizeof wm);
	wm.text = str_make(wtext, strlen(wtext));
	struct spam_hashbl_subjects ws;
	spam_hashbl_subjects(&wm, NULL, 0, &ws);
	CHECK_EQ_INT(ws.nwallets, 3);
	CHECK_EQ_STR(ws.wallet[0], "1TernTestWa11etAddrXyzABCDEF");
	CHECK_EQ_STR(ws.wallet[1], "bc1q9x8gf2tvdw0s3jn54khce6mua7lqpzry9x8gf2");
	CHECK_EQ_STR(ws.wallet[2], "0x52908400098527886E0F7030069857D2E4169EE7");
	CHECK_EQ_INT(ws.nemails, 0);

	/* What a message is asked about: From, Reply-To, the text's
	 * addresses (not ours, not roles, each once), each whole attachment. */
	const char *msg =
	    "From: Prize Desk <Desk@Lottery.example>\r\n"
	    "Reply-To: Claims+Ref-77@payout.example\r\n"
	    "Subject: you won\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "Write to Drop.Box@Example.NET. Or ask@help-desk.example, drop.box@example.net, bob@ours.test,\r\n"
	    "or pay 1TernTestWa11etAddrXyzABCDEF\r\n"
	    "or postmaster@payout.example; not @alone, a@b, x@host or y@host.123.\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"claim.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "TVqQACBub3QgcmVhbGx5\r\nIGEgcHJvZ3JhbQo=\r\n"
	    "--b--\r\n";
	struct spam_msg *v;
	spam_msg_new(msg, strlen(msg), &v); /* digests only when asked: none here */
	CHECK(v->nattach == 1 && !(v->attach[0].flags & SPAM_ATTACH_HASHED));
	spam_msg_free(&v);
	spam_msg_new_opts(msg, strlen(msg), SPAM_VIEW_DIGESTS, &v);
	const char *ours[] = {"ours.test"};
	struct spam_hashbl_subjects subj;
	spam_hashbl_subjects(v, ours, 1, &subj);
	CHECK_EQ_INT(subj.nemails, 4);
	CHECK_EQ_STR(subj.email[0], "desk@lottery.example");
	CHECK_EQ_STR(subj.email[1], "claims@payout.example"); /* without its tag */
	CHECK_EQ_STR(subj.email[2], "drop.box@example.net"); /* without the full stop */
	CHECK_EQ_STR(subj.email[3], "ask@help-desk.example");
	CHECK_EQ_INT(subj.nfiles, 1);
	static const uint8_t want[32] = {
	    0x5c, 0x64, 0x9a, 0xa2, 0x94, 0xb4, 0xe1, 0xc6, 0xbb, 0x90, 0x55, 0x20, 0x50, 0xe3, 0xde, 0x9b,
	    0xc1, 0x37, 0x30, 0x62, 0xfc, 0x66, 0x5c, 0xd2, 0x0f, 0xcb, 0x91, 0xa6, 0x64, 0xbf, 0x2a, 0x30};
	CHECK(memcmp(subj.file[0], want, 32) == 0);
	spam_msg_free(&v);
	/* An attachment cut by the end of what is read (SPAM_SCAN_MAX) has
	 * no hash: the list knows the whole file's. */
	size_t big = SPAM_SCAN_MAX + 4096, at = (size_t)(strstr(msg, "TVqQ") - msg);
	char *cut = malloc(big + 1);
	memcpy(cut, msg, at);
	for (size_t i = at; i < big; i++)
		cut[i] = (i - at) % 78 == 76 ? '\r' : (i - at) % 78 == 77 ? '\n' : 'A';
	cut[big] = '\0';
	spam_msg_new_opts(cut, big, SPAM_VIEW_DIGESTS, &v);
	spam_hashbl_subjects(v, NULL, 0, &subj);
	CHECK(v->nattach == 1 && !(v->attach[0].flags & SPAM_ATTACH_HASHED));
	CHECK_EQ_INT(subj.nfiles, 0);
	CHECK_EQ_INT(subj.nemails, 5); /* bob@ours.test is not ours here */
	CHECK_EQ_STR(subj.email[4], "bob@ours.test");
	spam_msg_free(&v);
	free(cut);
	/* Gmail's one mailbox under its dotted and googlemail.com spellings */
	static const char gm[] = "From: a@b.example\r\n\r\n"
				 "Pay J.Doe+win@GoogleMail.com or jdoe@gmail.com or j.d.o.e@gmail.com;\r\n"
				 "not j.doe@gmail.co.uk or ...@gmail.com\r\n";
	spam_msg_new(gm, strlen(gm), &v);
	spam_hashbl_subjects(v, NULL, 0, &subj);
	CHECK_EQ_INT(subj.nemails, 3);
	CHECK_EQ_STR(subj.email[0], "a@b.example");
	CHECK_EQ_STR(subj.email[1], "jdoe@gmail.com");
	CHECK_EQ_STR(subj.email[2], "j.doe@gmail.co.uk");
	spam_msg_free(&v);

	/* The lookups: one rule per listing zone, named by its name= (the
	 * key in the zone never shows). */
	static const char table[] =
	    "240616acfdf76b8c2496d8ada25fc32451a8954b._email.k3y.hbl.test A 127.0.3.2\n"
	    "lrsjviuuwtq4no4qkuqfby66tpatomdc7rtfzuqpzoi2mzf7fiya._file.k3y.hbl.test A 127.0.3.10\n"
	    "d42bd58d864b156dfb7b4000223d2d91b7f35f44._cw.k3y.hbl.test A 127.0.3.20\n"
	    "b9876e657957368b6c4f835ae93b68c2.ebl.test A 127.255.255.254\n";
	struct dns_table *t = dns_table_new(table, sizeof table - 1);
	struct dns_resolver r = dns_table_resolver(t);
	spam_hashbl_parse("email _email.k3y.hbl.test 127.0.3.2=8 name=SH_HBL_EMAIL\n"
			  "file _file.k3y.hbl.test 127.0.3.10=10 name=SH_HBL_FILE\n"
			  "email/md5 ebl.test 5\n"
			  "wallet _cw.k3y.hbl.test 127.0.3.20=6 name=SH_HBL_CW\n", &c, err, sizeof err);
	spam_msg_new_opts(msg, strlen(msg), SPAM_VIEW_DIGESTS, &v);
	spam_hashbl_subjects(v, ours, 1, &subj);
	spam_msg_free(&v);
	struct spam_dnsbl_run *run = spam_hashbl_start(&r, &c, &subj, run_done, NULL);
	CHECK_EQ_INT(spam_dnsbl_pending(run), 0);
	CHECK_EQ_INT(dns_table_queries(t), 4 + 1 + 4 + 1); /* 4 addresses twice, 1 file, 1 wallet */
	struct spam_result res;
	spam_result_init(&res);
	spam_dnsbl_result(run, &res);
	CHECK_EQ_INT(res.nrules, 3);
	const struct spam_rule *rl = spam_pipeline_rule(&res, "HASHBL_SH_HBL_CW");
	CHECK(rl && rl->weight == 6.0 && strcmp(rl->desc, "a wallet listed by SH_HBL_CW") == 0);
	rl = spam_pipeline_rule(&res, "HASHBL_SH_HBL_EMAIL");
	CHECK(rl && rl->weight == 8.0);
	CHECK(rl && strcmp(rl->desc, "an address listed by SH_HBL_EMAIL") == 0);
	rl = spam_pipeline_rule(&res, "HASHBL_SH_HBL_FILE");
	CHECK(rl && rl->weight == 10.0);
	CHECK(rl && strcmp(rl->desc, "an attachment listed by SH_HBL_FILE") == 0);
	CHECK(!spam_result_has(&res, "HASHBL_EBL_TEST")); /* an error answer */
	spam_dnsbl_free(&run);
	dns_table_free(&t);
}

static void lists(void)
{
	char err[160], hit[64], canon[256];
	CHECK(spam_list_valid("alice@example.com, example.org\n@example.net 192.0.2.7 10.0.0.0/8 2001:db8::/32",
			      err, sizeof err));
	CHECK(spam_list_valid("", err, sizeof err));
	CHECK(!spam_list_valid("not a domain", err, sizeof err));
	CHECK(strstr(err, "\"not\"") != NULL);
	CHECK(!spam_list_valid("10.0.0.0/33", err, sizeof err));
	CHECK(!spam_list_valid("@", err, sizeof err));
	CHECK(!spam_list_valid("a@", err, sizeof err));
	CHECK(!spam_list_valid("x..y.com", err, sizeof err));

	struct spam_subject s = {"192.0.2.7", "bounce@mail.example.org", 1, "Alice@Example.com", 0};
	CHECK(spam_list_match("example.org", &s, 1, hit, sizeof hit));
	CHECK_EQ_STR(hit, "example.org");
	CHECK(spam_list_match("@example.org", &s, 1, NULL, 0));
	CHECK(!spam_list_match("ample.org", &s, 1, NULL, 0));
	/* From did not verify: allow does not count, block does. */
	CHECK(!spam_list_match("alice@example.com", &s, 1, NULL, 0));
	CHECK(spam_list_match("alice@example.com", &s, 0, NULL, 0));
	s.from_verified = 1;
	CHECK(spam_list_match("alice@example.com", &s, 1, NULL, 0));
	CHECK(spam_list_match("192.0.2.0/24", &s, 1, hit, sizeof hit));
	CHECK_EQ_STR(hit, "192.0.2.0/24");
	CHECK(!spam_list_match("198.51.100.0/24 2001:db8::/32", &s, 1, NULL, 0));
	s.mail_from_verified = 0;
	CHECK(!spam_list_match("example.org", &s, 1, NULL, 0));
	CHECK(spam_list_match("example.org", &s, 0, NULL, 0));

	CHECK_EQ_INT(spam_list_canon("B.test, a.test\na.test  c@D.test", canon, sizeof canon), 0);
	CHECK_EQ_STR(canon, "a.test\nb.test\nc@d.test\n");
	CHECK_EQ_INT(spam_list_canon("", canon, sizeof canon), 0);
	CHECK_EQ_STR(canon, "");
	CHECK_EQ_INT(spam_list_canon("a.test b.test", canon, 8), -1);

	/* Cut anywhere: the same entries. */
	const char *text = "alice@example.com\nexample.org, 192.0.2.0/24";
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		char joined[128];
		snprintf(joined, sizeof joined, "%.*s%s", (int)cut, text, text + cut);
		CHECK_EQ_INT(spam_list_canon(joined, canon, sizeof canon), 0);
		CHECK_EQ_STR(canon, "192.0.2.0/24\nalice@example.com\nexample.org\n");
	}
}

static void pipeline(void)
{
	struct spam_result t;
	struct spam_thresholds th = {.tag = 6, .reject = 15, .discard = 30, .reject_on = 1, .discard_on = 0};
	struct spam_flags f = {0};
	struct buf b;

	spam_result_init(&t);
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_HAM);
	spam_result_add(&t, "RBL_ZEN", 4);
	spam_result_add(&t, "SPF_FAIL", 2);
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_TAG);
	spam_result_add(&t, "URIBL_DBL", 9);
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_REJECT);
	f.postmaster = 1; /* never refused: Junk at worst */
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_TAG);
	f.postmaster = 0;
	th.discard_on = 1;
	th.discard = 14;
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_DISCARD);
	th.discard_on = 0;
	f.trap = 1; /* a trap's message is accepted, into Junk */
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_TAG);
	f.trap = 0;
	f.allowed = 1; /* allow beats everything, block included */
	f.blocked = 1;
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_HAM);
	f.allowed = 0;
	struct spam_result low;
	spam_result_init(&low);
	CHECK_EQ_INT(spam_pipeline_decide(&low, &th, &f), SPAM_REJECT);
	f.blocked = 0;
	th.reject_on = 0; /* reject off: the highest is Junk */
	CHECK_EQ_INT(spam_pipeline_decide(&t, &th, &f), SPAM_TAG);
	th.reject_on = 1;

	spam_pipeline_decide(&t, &th, &f);
	buf_init(&b, 4096);
	CHECK_EQ_INT(spam_pipeline_fields(&t, &th, &f, &b), 0);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b),
		     "X-Spam-Status: Yes, score=15.00 required=6.00 action=reject\r\n"
		     "X-Spam-Result: score=15.00; RBL_ZEN=4.00, SPF_FAIL=2.00, URIBL_DBL=9.00\r\n");
	buf_free(&b);

	/* Long results fold; past SPAM_RULES_MAX they still count. */
	struct spam_result *many = malloc(sizeof *many);
	spam_result_init(many);
	for (int i = 0; i < SPAM_RULES_MAX + 3; i++)
		spam_result_add(many, "SOME_LONGER_RULE_NAME", 1);
	CHECK_EQ_INT(many->nrules, SPAM_RULES_MAX);
	CHECK_EQ_INT(many->dropped, 3);
	spam_pipeline_decide(many, &th, &f);
	buf_init(&b, 16384);
	CHECK_EQ_INT(spam_pipeline_fields(many, &th, &f, &b), 0);
	buf_append(&b, "", 1);
	CHECK(strstr(buf_data(&b), "+3 more\r\n") != NULL);
	int col = 0, longest = 0;
	for (const char *p = buf_data(&b); *p; p++) {
		col = *p == '\n' ? 0 : col + 1;
		if (col > longest)
			longest = col;
	}
	CHECK(longest <= 80);
	buf_free(&b);
	buf_init(&b, 100); /* too small: refused, never cut silently */
	CHECK_EQ_INT(spam_pipeline_fields(many, &th, &f, &b), -1);
	buf_free(&b);
	free(many);

	buf_init(&b, 1024);
	spam_pipeline_log(&t, &b);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b), " spam=reject spam_score=15.00 spam_rules=RBL_ZEN,SPF_FAIL,URIBL_DBL");
	buf_free(&b);
}

static void spamtest(void)
{
	struct spam_thresholds th = {.tag = 5, .reject = 15, .reject_on = 1};
	struct spam_flags f = {0};
	struct spam_result r;
	static const struct {
		double score;
		int want;
	} cases[] = {{-3, 1}, {0, 1}, {1.2, 1}, {1.25, 2}, {4.9, 4}, {5, 5}, {7, 6},
		     {12.9, 8}, {14.99, 9}, {15, 10}, {99, 10}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		spam_result_init(&r);
		spam_result_add(&r, "X", cases[i].score);
		CHECK_EQ_INT(spam_pipeline_spamtest(&r, &th, &f), cases[i].want);
	}
	f.allowed = 1;
	CHECK_EQ_INT(spam_pipeline_spamtest(&r, &th, &f), 1);
	f.allowed = 0;
	th.reject_on = 0; /* no reject threshold: three times tag is "surely" */
	CHECK_EQ_INT(spam_pipeline_spamtest(&r, &th, &f), 10);
}

static void sent_ids(void)
{
	static const char msg[] = "From: a@b.example\r\nIn-Reply-To: <one@x.example>\r\n"
				  "References: <zero@x.example>\r\n <one@x.example>\t<two@x.example>\r\n"
				  "Subject: <not@an.id>\r\n\r\nReferences: <body@x.example>\r\n";
	char ids[8][256];
	CHECK_EQ_INT(spam_sent_ids(msg, sizeof msg - 1, "References", ids, 8), 3);
	CHECK_EQ_STR(ids[0], "zero@x.example");
	CHECK_EQ_STR(ids[2], "two@x.example");
	CHECK_EQ_INT(spam_sent_ids(msg, sizeof msg - 1, "In-Reply-To", ids, 8), 1);
	CHECK_EQ_STR(ids[0], "one@x.example");
	CHECK_EQ_INT(spam_sent_ids(msg, sizeof msg - 1, "References", ids, 2), 2);
	CHECK_EQ_INT(spam_sent_ids(msg, sizeof msg - 1, "Message-ID", ids, 8), 0);
	/* Cut anywhere: the ids of a prefix are a prefix of the ids. */
	for (size_t cut = 0; cut < sizeof msg - 1; cut++)
		CHECK(spam_sent_ids(msg, cut, "References", ids, 8) <= 3);
}

static double conn_score(struct spam_conn_in in)
{
	struct spam_result t;
	spam_result_init(&t);
	spam_conn_rules(&in, &t);
	return t.score;
}

static void conn(void)
{
	struct spam_conn_in in = {.helo = "mail.example.org"};
	CHECK(conn_score(in) == 0);
	in.helo = "192.0.2.1";
	CHECK(conn_score(in) == 2);
	in.helo = "[192.0.2.1]";
	CHECK(conn_score(in) == 0.5);
	in.helo = "localhost";
	CHECK(conn_score(in) == 1.5);
	in.helo = "mx.example.test";
	in.helo_ours = 1;
	CHECK(conn_score(in) == 3);
	in = (struct spam_conn_in){.helo = "a.b", .has_iprev = 1, .iprev = IPREV_PERMERROR};
	CHECK(conn_score(in) == 1.5);
	in.iprev = IPREV_FAIL;
	CHECK(conn_score(in) == 1);
	in.iprev = IPREV_TEMPERROR; /* a DNS failure says nothing */
	CHECK(conn_score(in) == 0);
	in = (struct spam_conn_in){.helo = "a.b", .spf = SPAM_AUTH_FAIL, .dkim_fail = 1,
				   .dmarc = SPAM_AUTH_FAIL, .dmarc_policy = DMARC_POLICY_QUARANTINE};
	CHECK(conn_score(in) == 2 + 1 + 2.5);
	in.dkim_pass = 1; /* one good signature outweighs a broken one */
	CHECK(conn_score(in) == 2 - 0.2 + 2.5);
	in.dkim_pass = 0;
	in.arc_trusted = 1; /* the administrator vouched: what a forwarder broke does not count */
	CHECK(conn_score(in) == -1);
	in.arc_trusted = 0;
	in.tolerated = 1;
	CHECK(conn_score(in) == 0);
	in = (struct spam_conn_in){.helo = "a.b", .spf = SPAM_AUTH_PASS, .dkim_pass = 1,
				   .dmarc = SPAM_AUTH_PASS, .arc = SPAM_AUTH_PASS, .reply_to_sent = 1};
	struct spam_result t;
	spam_result_init(&t);
	spam_conn_rules(&in, &t);
	CHECK_EQ_INT(t.nrules, 5);
	CHECK(spam_result_has(&t, "REPLY_TO_SENT") && spam_result_has(&t, "DMARC_PASS"));
	CHECK_EQ_STR(spam_pipeline_rule(&t, "REPLY_TO_SENT")->desc, "a reply to a message the recipient sent");
}

static void grey(void)
{
	struct spam_grey_rec next, rec;
	int w;
	char k1[SPAM_GREY_KEY_MAX], k2[SPAM_GREY_KEY_MAX], k3[SPAM_GREY_KEY_MAX];

	CHECK_EQ_INT(spam_grey_decide(NULL, 1000, 300, &next, &w), SPAM_GREY_NEW);
	CHECK(w && next.first == 1000 && !next.passed);
	rec = next;
	CHECK_EQ_INT(spam_grey_decide(&rec, 1299, 300, &next, &w), SPAM_GREY_WAIT);
	CHECK(!w);
	CHECK_EQ_INT(spam_grey_decide(&rec, 1300, 300, &next, &w), SPAM_GREY_PASS);
	CHECK(w && next.passed && next.last == 1300);
	rec = next;
	/* Passed: no write until a day later, then the time to live moves on. */
	CHECK_EQ_INT(spam_grey_decide(&rec, 5000, 300, &next, &w), SPAM_GREY_PASS);
	CHECK(!w);
	CHECK_EQ_INT(spam_grey_decide(&rec, 1300 + SPAM_GREY_REFRESH, 300, &next, &w), SPAM_GREY_PASS);
	CHECK(w && next.last == 1300 + SPAM_GREY_REFRESH);
	/* Forgotten after its time to live: new again. */
	CHECK_EQ_INT(spam_grey_decide(&rec, 1300 + SPAM_GREY_PASSED_TTL, 300, &next, &w), SPAM_GREY_NEW);
	struct spam_grey_rec stale = {1000, 1000, 0};
	CHECK_EQ_INT(spam_grey_decide(&stale, 1000 + SPAM_GREY_RETRY_WINDOW, 300, &next, &w), SPAM_GREY_NEW);

	/* The client's /24 (and an IPv6 /64), addresses in any case. */
	spam_grey_key("192.0.2.7", "A@Example.org", "bob@example.test", k1);
	spam_grey_key("192.0.2.200", "a@example.org", "BOB@example.test", k2);
	spam_grey_key("192.0.3.7", "a@example.org", "bob@example.test", k3);
	CHECK(strncmp(k1, "grey/", 5) == 0 && strlen(k1) == 37);
	CHECK_EQ_STR(k1, k2);
	CHECK(strcmp(k1, k3) != 0);
	spam_grey_key("2001:db8:1:2::5", "a@example.org", "bob@example.test", k1);
	spam_grey_key("2001:db8:1:2:ffff::9", "a@example.org", "bob@example.test", k2);
	spam_grey_key("2001:db8:1:3::5", "a@example.org", "bob@example.test", k3);
	CHECK_EQ_STR(k1, k2);
	CHECK(strcmp(k1, k3) != 0);
	spam_grey_key("192.0.2.7", "a@example.org", "bob@example.test", k1);
	spam_grey_key("192.0.2.7", "a@example.org", "carol@example.test", k2);
	CHECK(strcmp(k1, k2) != 0);
	/* One sender's every message is one triplet: BATV tags and the
	 * numbers VERP writes into bounce addresses do not count */
	spam_grey_key("192.0.2.7", "prvs=1234abcdef=news@example.org", "bob@example.test", k1);
	spam_grey_key("192.0.2.7", "PRVS=9876fedcba=news@example.org", "bob@example.test", k2);
	spam_grey_key("192.0.2.7", "news@example.org", "bob@example.test", k3);
	CHECK_EQ_STR(k1, k2);
	CHECK_EQ_STR(k1, k3);
	spam_grey_key("192.0.2.7", "btv1==123abc==news@example.org", "bob@example.test", k2);
	CHECK_EQ_STR(k1, k2);
	spam_grey_key("192.0.2.7", "bounce-4711-12@example.org", "bob@example.test", k1);
	spam_grey_key("192.0.2.7", "bounce-815-999999@example.org", "bob@example.test", k2);
	CHECK_EQ_STR(k1, k2);
	spam_grey_key("192.0.2.7", "bounce-a-12@example.org", "bob@example.test", k3);
	CHECK(strcmp(k1, k3) != 0);
	spam_grey_key("192.0.2.7", "news@example1.org", "bob@example.test", k1);
	spam_grey_key("192.0.2.7", "news@example2.org", "bob@example.test", k2);
	CHECK(strcmp(k1, k2) != 0); /* the domain as it is */
}

static void count_cb(void *arg, const char *name, const void *val, size_t len)
{
	(void)name;
	(void)val;
	(void)len;
	(*(size_t *)arg)++;
}

static size_t count(struct store *st, const char *prefix)
{
	size_t n = 0;
	CHECK_EQ_INT(store_meta_list(st, prefix, count_cb, &n), STORE_OK);
	return n;
}

/* The greylist and sent-message sweeps read a bounded number of records
 * each, resuming where the last one stopped (the whole table was read
 * every 64 writes), and come round to the first again. */
static void sweeps(void)
{
	char base[256], dir[300], key[64];
	struct store *st = NULL;
	char err[256];
	const int64_t now = 1800000000;

	if (unit_env_begin(base, sizeof base, "sweep") < 0)
		return;
	snprintf(dir, sizeof dir, "%s/store", base);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st == NULL)
		return;
	for (int i = 0; i < 300; i++) {
		/* even: expired long ago; odd: live */
		struct spam_grey_rec r = {i % 2 ? now : 1, i % 2 ? now : 1, 0};
		snprintf(key, sizeof key, "grey/k%03d", i);
		CHECK_EQ_INT(spam_grey_write(st, key, &r), 0);
		uint8_t v[8];
		int64_t exp = i % 2 ? now + 1000 : 1;
		for (int b = 7; b >= 0; b--, exp >>= 8)
			v[b] = (uint8_t)exp;
		snprintf(key, sizeof key, "sentid/k%03d", i);
		CHECK_EQ_INT(store_meta_put(st, key, v, sizeof v, 0), STORE_OK);
	}
	/* 100 read a sweep: the 50 expired among them go, the rest wait. */
	CHECK_EQ_INT(spam_grey_sweep(st, now, 100), 50);
	CHECK_EQ_INT(count(st, "grey/"), 250);
	CHECK_EQ_INT(spam_grey_sweep(st, now, 100), 50);
	CHECK_EQ_INT(spam_grey_sweep(st, now, 100), 50);
	CHECK_EQ_INT(count(st, "grey/"), 150);
	/* the end reached: from the first again, nothing left to delete */
	CHECK_EQ_INT(spam_grey_sweep(st, now, 100), 0);
	CHECK_EQ_INT(spam_grey_sweep(st, now, 100), 0);
	struct spam_grey_rec gone = {1, 1, 0};
	CHECK_EQ_INT(spam_grey_write(st, "grey/a-first", &gone), 0);
	CHECK_EQ_INT(spam_grey_sweep(st, now, 200), 0); /* the rest of the odd ones */
	CHECK_EQ_INT(spam_grey_sweep(st, now, 200), 1); /* round again: the new first */
	CHECK_EQ_INT(count(st, "grey/"), 150);

	CHECK_EQ_INT(spam_sent_sweep(st, now, 120), 60);
	CHECK_EQ_INT(count(st, "sentid/"), 240);
	CHECK_EQ_INT(spam_sent_sweep(st, now, 200), 90);
	CHECK_EQ_INT(count(st, "sentid/"), 150);
	store_close(&st);
	unit_rmrf(base);
}

int main(void)
{
	zones();
	names();
	weights();
	lookups();
	hash_lists();
	lists();
	pipeline();
	spamtest();
	sent_ids();
	conn();
	grey();
	sweeps();
	return unit_done("test_spam_wire");
}
