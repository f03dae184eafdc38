/*
 * web_assets.c - lookups in the embedded UI bundle (see web_assets.h).
 *
 * The table itself is generated (web_assets_table.h says where from); this
 * file only searches it, so the same code serves the real bundle in
 * build/tern and the fixture table in the unit tests.
 */
#include <string.h>

#include "web/web_assets.h"
#include "web/web_assets_table.h"

const struct web_asset *web_asset_find(const char *path)
{
	size_t lo = 0, hi = web_asset_count;

	if (path == NULL)
		return NULL;
	if (strcmp(path, "/") == 0)
		return web_asset_index_page;
	/* Binary search: the generator sorted the table with strcmp order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, web_asset_table[mid].path);

		if (c == 0)
			return &web_asset_table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct web_asset *web_asset_index(void)
{
	return web_asset_index_page;
}
