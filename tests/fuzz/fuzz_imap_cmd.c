/*
 * fuzz_imap_cmd.c — the IMAP command parser driven like the daemon drives
 * it (literals accepted or refused by a rule of their size, a raw line
 * after IDLE and AUTHENTICATE, arena reset and next after each result).
 * The input is given whole and again in two feeds split at a point taken
 * from the data; both must give the same events. The first octet picks
 * small or default limits. Every tree is walked and checked: strings
 * NUL-terminated, flagged 8-bit strings valid UTF-8, sequence-set atoms
 * accepted by imap_seqset_parse(), sections well formed.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "imap/imap_utf7.h"

static uint32_t mix(uint32_t h, uint64_t v)
{
	return (h ^ (uint32_t)v ^ (uint32_t)(v >> 32)) * 16777619u;
}

static uint32_t walk(const struct imap_arg *a, size_t n, struct arena *ar, unsigned depth,
                     uint32_t h)
{
	assert(depth <= IMAP_PARSER_MAX_DEPTH + 1);
	assert(a[n].type == IMAP_ARG_END);
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *x = &a[i];
		struct imap_seqset set;
		struct str s;
		int64_t t;
		uint64_t v;

		h = mix(h, x->type);
		h = mix(h, x->flags);
		if (x->type != IMAP_ARG_LIST) {
			assert(x->str.p && x->str.p[x->str.len] == '\0');
			for (size_t k = 0; k < x->str.len; k++)
				h = mix(h, (unsigned char)x->str.p[k]);
		}
		switch (x->type) {
		case IMAP_ARG_ATOM:
			assert(x->str.len > 0 && !memchr(x->str.p, 0, x->str.len));
			if (x->flags & IMAP_ARGF_SEQSET)
				assert(imap_seqset_parse(x->str, 100, SIZE_MAX, ar, &set) == 0);
			if (imap_arg_number64(x, &v) == 0)
				h = mix(h, v);
			/* fall through */
		case IMAP_ARG_NIL:
			assert(imap_arg_astring(x, &s) == 0);
			h = mix(h, (uint64_t)imap_utf7_valid(s));
			break;
		case IMAP_ARG_STRING:
			assert(!memchr(x->str.p, 0, x->str.len));
			assert(!(x->flags & IMAP_ARGF_8BIT) || imap_utf8_valid(x->str));
			if (imap_datetime_parse(x->str, &t, NULL) == 0)
				h = mix(h, (uint64_t)t);
			if (imap_date_parse(x->str, &t) == 0)
				h = mix(h, (uint64_t)t);
			break;
		case IMAP_ARG_LITERAL:
			if (!(x->flags & IMAP_ARGF_LITERAL8))
				assert(!memchr(x->str.p, 0, x->str.len));
			break;
		case IMAP_ARG_LIST:
			h = walk(x->list, x->list_count, ar, depth + 1, h);
			break;
		case IMAP_ARG_SECTION: {
			const struct imap_section *sec = x->section;

			assert(sec && sec->nparts <= IMAP_SECTION_PARTS_MAX);
			for (size_t k = 0; k < sec->nparts; k++)
				assert(sec->part[k] >= 1);
			assert((sec->fields != NULL) ==
			       (sec->text == IMAP_SECTION_HEADER_FIELDS ||
			        sec->text == IMAP_SECTION_HEADER_FIELDS_NOT));
			if (sec->fields)
				h = walk(sec->fields, sec->nfields, ar, depth + 1, h);
			assert(!sec->partial || sec->length > 0);
			h = mix(h, sec->offset);
			h = mix(h, sec->length);
			break;
		}
		case IMAP_ARG_END:
			assert(0);
		}
	}
	return h;
}

static uint32_t run(const char *d, size_t size, size_t split, const struct imap_parser_limits *lim)
{
	struct arena *ar = arena_new(0);
	struct imap_parser p;
	size_t have = split, pos = 0, c;
	int line_mode = 0;
	uint32_t h = 2166136261u;

	imap_parser_init(&p, ar, lim);
	for (;;) {
		struct str line;
		int r = line_mode ? imap_parser_line(&p, d + pos, have - pos, &c, &line)
		                  : imap_parser_feed(&p, d + pos, have - pos, &c);

		assert(c <= have - pos);
		pos += c;
		if (r == IMAP_PARSE_MORE) {
			assert(pos == have);
			if (have == size)
				break;
			have = size;
			continue;
		}
		h = mix(h, (uint64_t)(r + 100));
		h = mix(h, pos);
		if (r == IMAP_PARSE_LINE) {
			h = mix(h, line.len);
			line_mode = 0;
		} else if (r == IMAP_PARSE_LITERAL) {
			assert(p.cmd.literal.size <= p.limits.max_literal);
			h = mix(h, p.cmd.literal.size);
			if (p.cmd.literal.size % 7 == 3) {
				imap_parser_literal_refuse(&p);
				arena_reset(ar);
				imap_parser_next(&p);
			} else {
				imap_parser_literal_accept(&p);
			}
		} else if (r == IMAP_PARSE_COMMAND) {
			assert(p.cmd.tag.len > 0 && p.cmd.name.len > 0);
			assert(p.cmd.nargs <= p.limits.max_args);
			h = mix(h, p.cmd.id);
			h = walk(p.cmd.args, p.cmd.nargs, ar, 0, h);
			if (p.cmd.id == IMAP_CMD_IDLE ||
			    (p.cmd.id == IMAP_CMD_AUTHENTICATE && p.cmd.nargs == 1))
				line_mode = 1;
			arena_reset(ar);
			imap_parser_next(&p);
		} else {
			assert(r < 0 && r >= IMAP_PARSE_ERR_MIN && p.err_msg);
			h = mix(h, p.cmd.tag.len);
			if (p.err_close)
				break;
			arena_reset(ar);
			imap_parser_next(&p);
			line_mode = 0;
		}
	}
	imap_parser_clear(&p);
	arena_free(&ar);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim;
	size_t split;

	if (size < 2)
		return 0;
	imap_parser_limits_default(&lim);
	lim.max_literal = 1 << 20;
	if (data[0] & 1) {
		lim.max_line = 64;
		lim.max_literal = 100;
		lim.max_command = 400;
		lim.max_args = 20;
	}
	lim.literal_minus = (data[0] & 2) != 0;
	split = data[1] % (size - 1);
	assert(run((const char *)data + 2, size - 2, size - 2, &lim) ==
	       run((const char *)data + 2, size - 2, split, &lim));
	return 0;
}
