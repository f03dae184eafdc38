/*
 * ucase.c — Unicode simple lowercase mapping. See ucase.h.
 */
#include "core/ucase.h"

uint32_t ucase_lower(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	size_t lo = 0, hi = ucase_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ucase_from[mid] == cp)
			return ucase_to[mid];
		if (ucase_from[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return cp;
}
