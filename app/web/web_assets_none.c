/*
 * web_assets_none.c - placeholder until the UI bundle is embedded.
 *
 * The webui work replaces this file with the generated asset table
 * (see web_assets.h). Until then no asset exists and the HTTP layer
 * answers 404 for UI paths.
 */
#include "web/web_assets.h"

const struct web_asset *web_asset_find(const char *path)
{
	(void)path;
	return NULL;
}

const struct web_asset *web_asset_index(void)
{
	return NULL;
}
