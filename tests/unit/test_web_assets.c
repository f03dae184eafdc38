/*
 * test_web_assets.c — lookups in the embedded UI table (web_assets.c),
 * run against the fixture table in tests/web_assets_fixture.c.
 */
#include <string.h>

#include "unit.h"
#include "web/web_assets.h"
#include "web/web_assets_table.h"

int main(void)
{
	const struct web_asset *a;

	/* "/" and the SPA fallback are the index page. */
	a = web_asset_find("/");
	CHECK(a != NULL);
	CHECK(a == web_asset_index());
	CHECK_EQ_STR(a ? a->path : NULL, "/index.html");
	CHECK(a && a->immutable == 0);
	CHECK(web_asset_find("/index.html") == a);

	/* Hashed assets by exact path, immutable. */
	a = web_asset_find("/assets/index-Fx1tUre5.js");
	CHECK(a != NULL);
	CHECK(a && a->immutable == 1);
	CHECK(a && a->gzlen > 18 && a->gz[0] == 0x1f && a->gz[1] == 0x8b);
	CHECK(a && strncmp(a->type, "text/javascript", 15) == 0);

	/* Only exact matches: no prefix, suffix, case or traversal games. */
	CHECK(web_asset_find("") == NULL);
	CHECK(web_asset_find(NULL) == NULL);
	CHECK(web_asset_find("/assets/") == NULL);
	CHECK(web_asset_find("/assets/index-Fx1tUre5.j") == NULL);
	CHECK(web_asset_find("/assets/index-Fx1tUre5.js/") == NULL);
	CHECK(web_asset_find("/ASSETS/index-Fx1tUre5.js") == NULL);
	CHECK(web_asset_find("/assets/../index.html") == NULL);
	CHECK(web_asset_find("index.html") == NULL);
	CHECK(web_asset_find("/zzz") == NULL);
	CHECK(web_asset_find("/a") == NULL);

	/* The table is sorted and unique, as the binary search assumes. */
	for (size_t i = 1; i < web_asset_count; i++)
		CHECK(strcmp(web_asset_table[i - 1].path, web_asset_table[i].path) < 0);

	return unit_done("test_web_assets");
}
