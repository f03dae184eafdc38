/*
 * fuzz_mdn.c — disposition notification fields (mime/mdn.c) from a
 * hostile report, as MDN/parse gets them in a blob. Checks: a parsed
 * report has a Final-Recipient and a known disposition; its values hold
 * no control octet; written back (mdn_report_write) every line ends in
 * CRLF and nothing else holds CR or LF; parsed again it gives the same
 * values when none was cut (MDN_VALUE_MAX, or what a 998-octet line holds
 * beside the field's name: mdn.h); and a buffer one octet short
 * of what was written fails cleanly.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mdn.h"

static int same(struct str a, struct str b)
{
	if (!a.p || !b.p)
		return !a.p && !b.p;
	return a.len == b.len && !memcmp(a.p, b.p, a.len);
}

static void clean(struct str s)
{
	for (size_t i = 0; s.p && i < s.len; i++)
		assert((unsigned char)s.p[i] >= 0x20 && s.p[i] != 0x7f);
}

/* As mdn_report_write cuts: past MDN_VALUE_MAX, or past what a line of
 * 998 octets holds after "name: " and before CRLF. */
static int cut(struct str s, size_t name_len)
{
	size_t room = 998 - 2 - name_len;
	return s.p && s.len > (room < MDN_VALUE_MAX ? room : MDN_VALUE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	struct mdn_report r, r2;
	if (mdn_report_parse((const char *)data, size, a, &r) < 0) {
		arena_free(&a);
		return 0;
	}
	assert(r.final_recipient.len > 0 && (unsigned)r.type <= MDN_PROCESSED);
	assert(r.nerrors <= MDN_ERRORS_MAX && r.next <= MDN_EXT_MAX);
	struct str *v[] = {&r.reporting_ua, &r.mdn_gateway, &r.original_recipient,
			   &r.final_recipient, &r.original_message_id};
	static const char *const names[] = {"Reporting-UA", "MDN-Gateway", "Original-Recipient",
					    "Final-Recipient", "Original-Message-ID"};
	int any_cut = 0;
	for (size_t i = 0; i < 5; i++) {
		clean(*v[i]);
		any_cut |= cut(*v[i], strlen(names[i]));
	}
	for (size_t i = 0; i < r.nerrors; i++) {
		clean(r.errors[i]);
		any_cut |= cut(r.errors[i], strlen("Error"));
	}
	for (size_t i = 0; i < r.next; i++) {
		assert(mdn_field_name_ok(r.ext[i].name));
		clean(r.ext[i].value);
		any_cut |= cut(r.ext[i].value, r.ext[i].name.len);
	}

	struct buf b;
	buf_init(&b, 2 * size + 4096);
	assert(mdn_report_write(&r, &b) == 0);
	const char *o = buf_data(&b);
	size_t n = buf_len(&b);
	assert(n >= 2 && o[n - 2] == '\r' && o[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (o[i] == '\r')
			assert(i + 1 < n && o[i + 1] == '\n');
		if (o[i] == '\n')
			assert(i > 0 && o[i - 1] == '\r');
	}
	assert(mdn_report_parse(o, n, a, &r2) == 0);
	assert(r2.manual_action == r.manual_action && r2.sent_manually == r.sent_manually &&
	       r2.type == r.type && r2.nerrors == r.nerrors && r2.next == r.next);
	if (!any_cut) {
		struct str *v2[] = {&r2.reporting_ua, &r2.mdn_gateway, &r2.original_recipient,
				    &r2.final_recipient, &r2.original_message_id};
		for (size_t i = 0; i < 5; i++)
			assert(same(*v[i], *v2[i]));
		for (size_t i = 0; i < r.nerrors; i++)
			assert(same(r.errors[i], r2.errors[i]));
		for (size_t i = 0; i < r.next; i++)
			assert(same(r.ext[i].name, r2.ext[i].name) &&
			       same(r.ext[i].value, r2.ext[i].value));
	}
	struct buf small;
	buf_init(&small, n - 1);
	assert(mdn_report_write(&r, &small) == -1);
	buf_free(&small);
	buf_free(&b);
	arena_free(&a);
	return 0;
}
