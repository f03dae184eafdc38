/*
 * fuzz_msieve_cmd.c — ManageSieve command lines (msieve_parse.c). Checks:
 * a result's consumed count stays within the input and is positive; an
 * OK command's arguments lie inside the input (literals) or the
 * command's decode buffers (quoted strings); a MORE's need is past the
 * input; parsing the first `consumed` octets alone gives the same OK;
 * every prefix of an OK command is MORE; the same input read as a SASL
 * response, under the pre-authentication literal limit, stays within
 * bounds too and never holds a literal over that limit; a refused
 * command's literal to skip is the one its line announces.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/msieve_parse.h"

static struct msieve_cmd cmd, cmd2;

static void response(const char *p, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	response(p, size);
	size_t consumed = 0, need = 0, c2, n2;
	int r = msieve_parse(p, size, MSIEVE_LITERAL_MAX, &cmd, &consumed, &need);

	if (r == MSIEVE_MORE) {
		assert(need > size);
		return 0;
	}
	assert(consumed > 0 && consumed <= size);
	uint64_t lit = 0;
	if (msieve_line_literal(p, size, &lit))
		assert(lit <= UINT32_MAX);
	if (r == MSIEVE_BAD && cmd.skip) {
		/* the refused line ends announcing the literal to skip */
		assert(msieve_line_literal(p, consumed, &lit) && lit == cmd.skip);
	}
	if (r != MSIEVE_OK)
		return 0;
	assert(cmd.nargs <= MSIEVE_ARGS_MAX);
	for (int i = 0; i < cmd.nargs; i++) {
		const struct msieve_arg *a = &cmd.args[i];
		if (a->kind != MSIEVE_ARG_STRING)
			continue;
		if (a->literal)
			assert(a->s.p >= p && a->s.p + a->s.len <= p + consumed);
		else
			assert(a->s.len <= MSIEVE_QUOTED_MAX);
	}
	assert(msieve_parse(p, consumed, MSIEVE_LITERAL_MAX, &cmd2, &c2, &n2) == MSIEVE_OK && c2 == consumed);
	for (size_t i = 0; i < consumed; i += 1 + consumed / 64)
		assert(msieve_parse(p, i, MSIEVE_LITERAL_MAX, &cmd2, &c2, &n2) == MSIEVE_MORE);
	return 0;
}

/* The SASL response form (msieve_parse_response): the same bounds, and
 * an OK is exactly one string. */
static void response(const char *p, size_t size)
{
	size_t consumed = 0, need = 0;
	int r = msieve_parse_response(p, size, MSIEVE_LITERAL_PREAUTH, &cmd2, &consumed, &need);
	if (r == MSIEVE_MORE) {
		assert(need > size);
		return;
	}
	assert(consumed > 0 && consumed <= size);
	if (r == MSIEVE_OK)
		assert(cmd2.nargs == 1 && cmd2.args[0].kind == MSIEVE_ARG_STRING &&
		       cmd2.args[0].s.len <= MSIEVE_LITERAL_PREAUTH);
}
