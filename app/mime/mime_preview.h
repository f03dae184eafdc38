/*
 * mime_preview.h — the short text preview of a message (IMAP PREVIEW,
 * RFC 8970; later JMAP Email "preview").
 *
 * Design: the first text/plain leaf that is not an attachment, else the
 * first text/html leaf (parts of encapsulated messages are not looked
 * at), transfer-decoded and converted to UTF-8 (mime_decode.h), HTML
 * reduced to the text a reader sees by mime_html.h (as search reads it:
 * markup, comments, <head>, <style> and <script> dropped, character
 * references decoded, blocks apart, hidden text kept), control
 * characters and runs of white space collapsed to one space,
 * trimmed, and cut to MIME_PREVIEW_CHARS characters (never inside a UTF-8
 * sequence). Computed on demand from the cached structure: the work is
 * bounded by MIME_PREVIEW_SCAN encoded octets of the part, so it costs
 * about as much as a BODY.PEEK[1]<0.16384> and no store change is needed.
 *
 * Caveats: text in a charset mime_decode.h does not know is used as its
 * octets are when they are valid UTF-8, and left out otherwise; CDATA
 * is not interpreted.
 */
#ifndef TERN_MIME_PREVIEW_H
#define TERN_MIME_PREVIEW_H

#include <stddef.h>

#include "mime/mime_tree.h"

#define MIME_PREVIEW_CHARS 200
#define MIME_PREVIEW_MAX (MIME_PREVIEW_CHARS * 4 + 1) /* octets, NUL included */
#define MIME_PREVIEW_SCAN (16u * 1024)

/*
 * Writes the preview of msg[0..len) (whose tree is t) to out, NUL-terminated
 * valid UTF-8, and returns its length (0: no text part, or only white
 * space).
 */
size_t mime_preview(const char *msg, size_t len, const struct mime_tree *t,
                    char out[MIME_PREVIEW_MAX]);

/*
 * The text reduction on its own (for tests and the fuzz target): appends
 * the preview of the UTF-8 text in[0..n) (HTML when html) to out as above.
 */
size_t mime_preview_text(const char *in, size_t n, int html, char out[MIME_PREVIEW_MAX]);

#endif
