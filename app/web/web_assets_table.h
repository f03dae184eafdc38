/*
 * web_assets_table.h - the data behind web_assets.h, private to app/web.
 *
 * The table is generated at build time (scripts/gen-web-assets.mjs writes
 * build/gen/web_assets.c from the Vite output in build/web/). The lookup
 * code in web_assets.c is hand-written and the same for every table, so the
 * unit and fuzz builds link a small fixed table instead
 * (tests/web_assets_fixture.c) and need no npm toolchain.
 *
 * Caveats: the table must be sorted by path with strcmp order and paths
 * must be unique; the generator guarantees both.
 */
#ifndef TERN_WEB_ASSETS_TABLE_H
#define TERN_WEB_ASSETS_TABLE_H

#include "web/web_assets.h"

/* Every asset, sorted by path (strcmp), web_asset_count entries. */
extern const struct web_asset web_asset_table[];
extern const size_t web_asset_count;

/* The entry for "/index.html" in web_asset_table, or NULL when the
 * table has none (then "/" and single-page-app routes are 404s). */
extern const struct web_asset *const web_asset_index_page;

#endif
