/*
 * fuzz_acme_msg.c — the ACME client's readers of the CA's answers: the
 * HTTP response parser (acme_http_parse, chunked bodies included) and,
 * on its body, the directory, order, authorization, problem and renewal
 * information (RFC 9773 window; the certificate identifier's DER walk)
 * readers.
 * Oracles: every string they return is NUL-terminated within its field,
 * Retry-After (seconds or an HTTP date) is -1 or 0..ACME_RETRY_AFTER_MAX,
 * Link rel="alternate" targets are at most ACME_ALTERNATES_MAX https URLs,
 * a challenge token is base64url only, and a decoded body is never longer
 * than its input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_ari.h"
#include "acme/acme_http.h"
#include "acme/acme_msg.h"

#define TERMINATED(f) assert(memchr((f), '\0', sizeof(f)) != NULL)

static void readers(const char *b, size_t n)
{
	struct acme_dir d;
	struct acme_order o;
	struct acme_authz z;
	char type[64], detail[256];

	if (acme_msg_directory(b, n, &d) == 0) {
		TERMINATED(d.new_nonce);
		TERMINATED(d.new_order);
		assert(d.new_account[0] != '\0' || d.new_account[0] == '\0');
	}
	if (acme_msg_order(b, n, &o) == 0) {
		TERMINATED(o.status);
		TERMINATED(o.finalize);
		TERMINATED(o.error);
		assert(o.nauthz <= ACME_NAMES_MAX);
		for (size_t i = 0; i < o.nauthz; i++)
			TERMINATED(o.authz[i]);
	}
	if (acme_msg_authz(b, n, "tls-alpn-01", &z) == 0) {
		TERMINATED(z.name);
		TERMINATED(z.error);
		assert(strspn(z.token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                       "0123456789-_") == strlen(z.token));
	}
	int64_t start, end;
	char why[64];
	if (acme_ari_window(b, n, &start, &end, why, sizeof why) == 0)
		assert(end >= start && strlen(why) < sizeof why);
	char id[200];
	if (acme_ari_cert_id((const unsigned char *)b, n, id, sizeof id) == 0)
		assert(strchr(id, '.') != NULL);
	acme_msg_problem(b, n, type, sizeof type, detail, sizeof detail);
	TERMINATED(type);
	TERMINATED(detail);
	char inst[512];
	acme_msg_problem_instance(b, n, inst, sizeof inst);
	TERMINATED(inst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acme_http_resp r;
	struct buf scratch;

	buf_init(&scratch, size + 1);
	if (acme_http_parse((const char *)data, size, &r, &scratch) == 0) {
		assert(r.status >= 0 && r.status <= 999);
		assert(r.body_len <= size && r.body[r.body_len] == '\0');
		TERMINATED(r.nonce);
		TERMINATED(r.location);
		assert(r.retry_after >= -1 && r.retry_after <= ACME_RETRY_AFTER_MAX);
		assert(r.nalternates <= ACME_ALTERNATES_MAX);
		for (size_t i = 0; i < r.nalternates; i++) {
			TERMINATED(r.alternates[i]);
			assert(strncasecmp(r.alternates[i], "https://", 8) == 0);
		}
		readers(r.body, r.body_len);
	} else {
		assert(r.status == 0 && r.error[0] != '\0');
	}
	/* The body readers alone, on the raw input. */
	readers((const char *)data, size);
	buf_free(&scratch);
	return 0;
}
