/*
 * fuzz_sieve_run.c — the Sieve interpreter on random scripts and
 * messages. The input up to its first NUL is the script, the rest the
 * message. Checks: a run ends within its step budget; the action count
 * and the redirect count stay within their limits; a run-time error
 * leaves the implicit keep alone (no edited header, no new message); the
 * header editheader left is written within its bound and never holds the
 * server's fields in front (sieve_env.head, on every other message); the
 * printed result is bounded text. A value longer than a variable holds
 * (4096 octets) comes from a short script that doubles a variable, or
 * from a long header field: the seed long_values does both, through
 * :matches and :regex captures, the quoting modifiers and editheader
 * (it overflowed capbuf before 18952389).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/sieve.h"

/* METADATA entries (mboxmetadata, servermetadata): an entry whose name
 * ends in "x" exists, its value its mailbox's name (the server's: the
 * entry's); a mailbox named "fail" cannot be read. */
static int metadata(void *ctx, struct str mailbox, struct str name, struct arena *a,
                    struct str *value_r)
{
	(void)ctx;
	(void)a;
	if (mailbox.p && mailbox.len == 4 && memcmp(mailbox.p, "fail", 4) == 0)
		return -1;
	if (!name.len || name.p[name.len - 1] != 'x')
		return 0;
	*value_r = mailbox.p ? mailbox : name;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul = memchr(in, '\0', size);
	size_t slen = nul ? (size_t)(nul - in) : size;
	const char *msg = nul ? nul + 1 : "";
	size_t mlen = nul ? size - slen - 1 : 0;
	char err[SIEVE_ERROR_MAX], out[2048];
	struct sieve_script *s = sieve_compile(in, slen, err);

	if (!s)
		return 0;
	struct sieve_env env = { .msg = msg, .len = mlen, .env_from = STR_LIT("a@example.org"),
		                 .env_to = STR_LIT("b+x@example.com"), .now = 1794787200,
		                 /* Deliver By on odd-sized messages (envelope-deliverby). */
		                 .by = (int)(mlen & 1), .by_return = (int)(mlen >> 1 & 1),
		                 .by_trace = (int)(mlen >> 2 & 1), .by_deadline = 1794787200 - 30 + (int64_t)mlen,
		                 .metadata = metadata,
		                 .head = mlen >> 3 & 1 ? STR_LIT("Received: by head.example\r\n"
		                                                 "X-Fuzz-Head: 7f3a\r\n")
		                                       : STR_NULL };
	struct sieve_result res;
	struct arena *a = arena_new(0);
	int rc = sieve_run(s, &env, a, &res);
	unsigned redirects = 0;
	assert(res.steps <= SIEVE_STEPS_MAX);
	assert(res.nactions <= SIEVE_ACTIONS_MAX);
	for (uint32_t i = 0; i < res.nactions; i++)
		redirects += res.actions[i].kind == SIEVE_ACT_REDIRECT;
	assert(redirects <= SIEVE_REDIRECTS_MAX);
	if (rc < 0)
		assert(res.implicit_keep && res.nactions == 0 && res.error[0] && !res.fields &&
		       !res.message.p);
	if (rc == 0 && res.fields) {
		/* editheader's header as delivery writes it: bounded, ends
		 * with the empty line. */
		struct buf h;
		buf_init(&h, SIEVE_HEADER_BYTES_MAX + 64 * 1024);
		if (sieve_header_write(&res, &h) == 0) {
			assert(buf_len(&h) >= 2 && memcmp(buf_data(&h) + buf_len(&h) - 2, "\r\n", 2) == 0);
			assert(!env.head.len || memmem(msg, mlen, "7f3a", 4) ||
			       !memmem(buf_data(&h), buf_len(&h), "X-Fuzz-Head: 7f3a", 17));
		}
		buf_free(&h);
		/* Each action's point (RFC 5293 §5) writes a header too, with
		 * no more fields than the message and the script's edits. */
		for (uint32_t i = 0; i < res.nactions; i++) {
			assert(res.actions[i].edits <= res.edits ||
			       res.actions[i].edits == SIEVE_EDITS_LAST);
			buf_init(&h, SIEVE_HEADER_BYTES_MAX + 64 * 1024);
			if (sieve_header_write_at(&res, res.actions[i].edits, &h) == 0)
				assert(buf_len(&h) >= 2 &&
				       memcmp(buf_data(&h) + buf_len(&h) - 2, "\r\n", 2) == 0);
			buf_free(&h);
		}
	}
	if (rc == 0 && res.message.p) /* replace/enclose: within the new message's room */
		assert(res.message.len <= mlen + 4 * (SIEVE_HEADER_BYTES_MAX + 4 * SIEVE_STRING_MAX));
	sieve_result_format(&res, out, sizeof(out));
	assert(strlen(out) < sizeof(out));
	arena_free(&a);
	sieve_script_free(&s);
	return 0;
}
