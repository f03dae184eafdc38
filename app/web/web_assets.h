/*
 * web_assets.h - the compiled web UI, embedded in the binary.
 *
 * The UI's sources live in web/; `make` builds them (npm toolchain) and
 * turns every file of the bundle into a gzip-compressed C array, so the
 * server needs nothing on disk and nothing from the network at run time.
 * The HTTP layer (app/http) serves these; it never reads files.
 */
#ifndef TERN_WEB_ASSETS_H
#define TERN_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;          /* URL path, e.g. "/", "/assets/index-3f2a.js" */
	const unsigned char *gz;   /* the bytes, gzip-compressed */
	size_t gzlen;
	size_t len;                /* uncompressed size */
	const char *type;          /* Content-Type, with charset for text */
	const char *etag;          /* strong ETag, quoted, from the content hash */
	int immutable;             /* 1 for hashed file names: cache for a year */
	const unsigned char *raw;  /* the same bytes uncompressed (len), for a
	                            * client that does not ask for gzip; may be NULL */
	const char *etag_raw;      /* strong ETag of the uncompressed representation */
};

/* The asset served at path (exact match, query string stripped by the
 * caller), or NULL. "/" maps to the index page. */
const struct web_asset *web_asset_find(const char *path);

/* For single-page-app routes (e.g. "/accounts"): the index page. */
const struct web_asset *web_asset_index(void);

#endif
