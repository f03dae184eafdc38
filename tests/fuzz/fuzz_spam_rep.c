/*
 * fuzz_spam_rep.c — the sender reputation's reader of a stored message
 * (spam/spam_rep.h, spam_rep_keys_of): its first Received and
 * Authentication-Results fields give the client network and the sender
 * domain a user's correction moves. Checks: both keys are NUL-ended
 * within SPAM_REP_KEY_MAX and are "" or of their kind ("ip:" with a
 * prefix length, "dom:" in lowercase); a prefix of the input never reads
 * past its end (ASan).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_rep.h"

static void check(const char *msg, size_t len)
{
	char ip[SPAM_REP_KEY_MAX], dom[SPAM_REP_KEY_MAX];
	memset(ip, 'x', sizeof ip);
	memset(dom, 'x', sizeof dom);
	spam_rep_keys_of(msg, len, ip, dom);
	assert(memchr(ip, '\0', sizeof ip) && memchr(dom, '\0', sizeof dom));
	assert(!ip[0] || (strncmp(ip, "ip:", 3) == 0 && strchr(ip, '/')));
	assert(!dom[0] || strncmp(dom, "dom:", 4) == 0);
	for (const char *p = dom; *p; p++)
		assert(!(*p >= 'A' && *p <= 'Z'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size octets, so ASan sees any read past it */
	char *m = malloc(size ? size : 1);
	memcpy(m, data, size);
	check(m, size);
	check(m, size / 2);
	free(m);
	return 0;
}
