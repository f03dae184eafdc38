/*
 * fuzz_mta_sts.c — MTA-STS's TXT record and policy parsers (RFC 8461).
 * The input's first line is read as a TXT record, the rest as a policy
 * body. Checks: an accepted record starts with v=STSv1 and its id is
 * 1-32 letters and digits; an accepted policy has a mode, max_age within
 * a year, an mx list within bounds of lower-case patterns (mode none
 * aside) and every plain mx pattern matches itself. The whole input is
 * also read as the queue's cache record (queue/sts.c): an accepted one
 * has an id of at most 32 characters and a policy within the same bounds.
 * The first line as a whole TXT answer is picked (mta_sts_txt_pick)
 * exactly when it is an STSv1 record that parses; twice over, never.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "queue/sts.h"
#include "tlspol/mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t rlen = nl ? (size_t)(nl - in) : size;
	char id[MTA_STS_ID_MAX + 1];

	if (mta_sts_txt_parse(in, rlen, id)) {
		size_t l = strlen(id);
		assert(memmem(in, rlen, "v=STSv1", 7) != NULL);
		assert(l >= 1 && l <= MTA_STS_ID_MAX);
	}

	/* A whole answer of that one record (NUL-ended, no NUL inside):
	 * picked exactly when it is of the kind and parses. */
	char rec[512];
	if (rlen < sizeof rec && !memchr(in, '\0', rlen)) {
		memcpy(rec, in, rlen);
		rec[rlen] = '\0';
		const char *texts[2] = {rec, rec};
		char pid[MTA_STS_ID_MAX + 1];
		int want = mta_sts_txt_versioned(rec, rlen, "v=STSv1") && mta_sts_txt_parse(rec, rlen, id);
		assert(mta_sts_txt_pick(texts, 1, pid) == want);
		assert(!want || strcmp(pid, id) == 0);
		/* Twice: two records of the kind are no policy. */
		assert(mta_sts_txt_pick(texts, 2, pid) == 0);
	}

	struct mta_sts_policy p;
	const char *why = NULL;
	const char *body = nl ? nl + 1 : in + size;
	size_t blen = (size_t)(in + size - body);
	if (mta_sts_policy_parse(body, blen, &p, &why) == 0) {
		assert(p.mode <= MTA_STS_ENFORCE);
		assert(p.max_age <= MTA_STS_MAX_AGE_MAX);
		assert(p.nmx <= MTA_STS_MX_MAX);
		assert(p.nmx > 0 || p.mode == MTA_STS_NONE);
		for (size_t i = 0; i < p.nmx; i++) {
			size_t ml = strlen(p.mx[i]);
			assert(ml >= 1 && ml <= MTA_STS_HOST_MAX);
			for (size_t k = 0; k < ml; k++)
				assert(!(p.mx[i][k] >= 'A' && p.mx[i][k] <= 'Z'));
			if (p.mx[i][0] != '*')
				assert(mta_sts_mx_match(&p, p.mx[i]));
		}
	} else {
		assert(why != NULL);
	}

	char cid[MTA_STS_ID_MAX + 1];
	int64_t exp;
	if (sts_record_parse(in, size, &p, cid, &exp) == 0) {
		assert(strlen(cid) >= 1 && strlen(cid) <= MTA_STS_ID_MAX);
		assert(p.nmx <= MTA_STS_MX_MAX && p.max_age <= MTA_STS_MAX_AGE_MAX);
	}
	return 0;
}
