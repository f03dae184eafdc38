/*
 * web_assets_fixture.c - a tiny stand-in for the generated UI asset table.
 *
 * build/tern links build/gen/web_assets.c, generated from the Vite bundle
 * (scripts/gen-web-assets.mjs). The unit and fuzz builds link this file
 * instead so that they need no node/npm and do not rebuild when the UI
 * changes. The bytes are real gzip members (gzip -9n) so code that serves
 * or inflates them behaves as with the real table. Sorted by path, like
 * the generated one.
 */
#include "web/web_assets_table.h"

/* "console.log(1)\n" */
static const unsigned char fixture_js_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b, 0xce,
	0xcf, 0x2b, 0xce, 0xcf, 0x49, 0xd5, 0xcb, 0xc9, 0x4f, 0xd7, 0x30, 0xd4,
	0xe4, 0x02, 0x00, 0x07, 0xee, 0xfd, 0x71, 0x0f, 0x00, 0x00, 0x00,
};

/* "<!doctype html><title>t</title>\n" */
static const unsigned char fixture_index_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xb3, 0x51,
	0x4c, 0xc9, 0x4f, 0x2e, 0xa9, 0x2c, 0x48, 0x55, 0xc8, 0x28, 0xc9, 0xcd,
	0xb1, 0xb3, 0x29, 0xc9, 0x2c, 0xc9, 0x49, 0xb5, 0x2b, 0xb1, 0xd1, 0x87,
	0x30, 0xb8, 0x00, 0x1e, 0x18, 0xde, 0x2e, 0x20, 0x00, 0x00, 0x00,
};

const struct web_asset web_asset_table[] = {
	{ "/assets/index-Fx1tUre5.js", fixture_js_gz, sizeof(fixture_js_gz), 15,
	  "text/javascript; charset=utf-8", "\"fixture-js\"", 1, NULL, NULL },
	{ "/index.html", fixture_index_gz, sizeof(fixture_index_gz), 32,
	  "text/html; charset=utf-8", "\"fixture-index\"", 0, NULL, NULL },
};
const size_t web_asset_count = sizeof(web_asset_table) / sizeof(web_asset_table[0]);
const struct web_asset *const web_asset_index_page = &web_asset_table[1];
