/*
 * http_static.c — the embedded web UI (web/web_assets.h).
 *
 * Assets are embedded twice: gzip-compressed, sent as they are to a
 * client whose Accept-Encoding allows gzip (every browser), and
 * uncompressed for any other client (curl without --compressed sends no
 * Accept-Encoding) — the binary carries no inflater, and ~60 KiB of raw
 * copies cost less than one. Each representation has its own strong ETag,
 * and responses say Vary: Accept-Encoding. A table without raw copies (the
 * unit tests' fixture) sends gzip when no Accept-Encoding came (RFC 9110
 * §12.5.3: then any coding is acceptable) and 406 to a client that
 * refuses gzip. Hashed file names are cached for a year;
 * the index page revalidates by ETag (304). Unknown paths that look like
 * files (under /assets/, or with a static file's extension) are 404;
 * other paths are single-page-app routes and get the index.
 * The asset table is matched exactly, so no path can reach anything else.
 */
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"
#include "http/http_parse.h"
#include "web/web_assets.h"

/* A missing file (404) rather than a UI route (index): anything under
 * /assets/ or with a static file's extension. Routes may hold addresses
 * ("/accounts/bob@example.com"), so a dot alone does not make a file. */
static int looks_like_file(const char *p, const char *last)
{
	static const char *const ext[] = { ".js", ".mjs", ".css", ".map", ".png", ".svg", ".ico",
					   ".jpg", ".webp", ".woff", ".woff2", ".json", ".txt",
					   ".html", ".xml", ".webmanifest" };
	if (strncmp(p, "/assets/", 8) == 0)
		return 1;
	const char *dot = last ? strrchr(last, '.') : NULL;
	for (size_t i = 0; dot && i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcasecmp(dot, ext[i]) == 0)
			return 1;
	return 0;
}

void http_static(struct http_ctx *x)
{
	const char *p = x->path;
	const char *last = strrchr(p, '/');

	/* Dot segments, backslashes and control bytes never name an asset. */
	if (p[0] != '/' || strstr(p, "/.") || strchr(p, '\\') || strchr(p, '%')) {
		http_text(x, 404, "text/plain; charset=utf-8", "not found\n");
		return;
	}
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20) {
			http_text(x, 404, "text/plain; charset=utf-8", "not found\n");
			return;
		}
	const struct web_asset *a = web_asset_find(p);
	if (!a && !looks_like_file(p, last))
		a = web_asset_index();
	if (!a) {
		http_text(x, 404, "text/plain; charset=utf-8", "not found\n");
		return;
	}
	const char *ae = http_req_header(x, "Accept-Encoding");
	int gz = ae ? http_gzip_ok(ae) : !a->raw;
	if (!gz && !a->raw) {
		http_text(x, 406, "text/plain; charset=utf-8",
			  "this server sends its pages gzip-compressed only\n");
		return;
	}
	const char *etag = gz ? a->etag : a->etag_raw;
	http_header(x, "ETag", etag);
	http_header(x, "Vary", "Accept-Encoding");
	http_header(x, "Cache-Control",
		    a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
	if (http_etag_match(http_req_header(x, "If-None-Match"), etag)) {
		buf_reset(&x->out);
		x->status = 304;
		x->type = NULL;
		return;
	}
	x->status = 200;
	x->type = a->type;
	if (gz) {
		http_header(x, "Content-Encoding", "gzip");
		x->static_body = a->gz;
		x->static_len = a->gzlen;
	} else {
		x->static_body = a->raw;
		x->static_len = a->len;
	}
}
