/*
 * fuzz_jmap_request.c — JMAP API requests (app/jmap/jmap_api.c) against a
 * real store with one account: the Request object's checks, result
 * references and JSON Pointer, and every method's argument validation
 * (Mailbox/set's and Email/set's writes included; four emails are
 * delivered first, the last with repeated fields). The store persists
 * across runs, so writes pile up: what a run sees depends on the runs
 * before, as a server's would. Checks: the answer is 200 or 400 and
 * always one JSON object that json_parse accepts.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "http/json.h"
#include "jmap/jmap.h"
#include "store/store.h"
#include "fuzz_tmpdir.h"

static struct store *st;
static uint32_t account;

static void setup(void)
{
	/* static: fuzz_tmpdir removes it at exit */
	static char dir[] = "/tmp/tern-fuzz-jmap-XXXXXX";
	char err[256];

	log_init(-1, LOG_ERROR, 0);
	if (!fuzz_tmpdir(dir) || store_open(dir, 0, &st, err, sizeof err) != STORE_OK ||
	    store_domain_add(st, "example.test", err, sizeof err) != STORE_OK ||
	    store_account_add(st, "f@example.test", "pw", 0, &account, err, sizeof err) != STORE_OK)
		abort();
	/* A few emails, a thread among them, for the Email and Thread methods. */
	static const char *const msgs[] = {
	    "Message-ID: <a@x>\r\nFrom: A <a@x>\r\nSubject: hi\r\n\r\none\r\n",
	    "In-Reply-To: <a@x>\r\nFrom: b@x\r\nSubject: Re: hi\r\n\r\ntwo\r\n",
	    "Subject: other\r\n\r\nthree\r\n",
	    /* Repeated fields: Email/get reads the header for the last. */
	    ("To: a@x\r\nSubject: one\r\nTo: B <b@x>, c@x\r\nSubject: two\r\nReferences: <a@x>\r\n"
	     "References: <b@x>\r\n\r\nfour\r\n"),
	};
	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		struct store_delivery d;
		memset(&d, 0, sizeof d);
		d.data = msgs[i];
		d.len = strlen(msgs[i]);
		store_blob_id(d.data, d.len, d.blob_id);
		d.accounts = &account;
		d.naccounts = 1;
		d.received_at = 1700000000 + (int64_t)i;
		if (store_deliver_sync(st, &d) != STORE_OK)
			abort();
	}
	/* Two Sieve scripts, one active, for SieveScript/... (RFC 9661). */
	static const char rules[] = "require \"fileinto\";\nif true { fileinto \"x\"; }\n";
	if (store_sieve_put(st, account, "rules", rules, sizeof rules - 1, 1700000000) != STORE_OK ||
	    store_sieve_put(st, account, "other", "keep;\n", 6, 1700000000) != STORE_OK ||
	    store_sieve_activate(st, account, "rules") != STORE_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct buf out;
	char err[64];

	if (!st)
		setup();
	a = arena_new(16384);
	buf_init(&out, JMAP_RESPONSE_MAX);
	struct jmap_who who = {.account = account, .cred = 1};
	int status = jmap_api(st, &who, NULL, (const char *)data, size, a, &out);
	assert(status == 200 || status == 400);
	struct arena *b = arena_new(16384);
	struct json_value *v = json_parse(buf_data(&out), buf_len(&out), b, err, sizeof err);
	assert(v && v->type == JSON_OBJECT);
	arena_free(&b);
	buf_free(&out);
	arena_free(&a);
	return 0;
}
