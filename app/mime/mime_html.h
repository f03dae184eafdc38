/*
 * mime_html.h — HTML reduced to the text a reader sees, one
 * implementation for whoever reads HTML bodies as text: the spam filter
 * (its words, its hidden text, its URLs; spam_msg.c) and message search
 * (IMAP SEARCH BODY/TEXT, JMAP Email/query and the full-text index;
 * mime_search.c).
 */
#ifndef TERN_MIME_HTML_H
#define TERN_MIME_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define MIME_HTML_TAG_MAX 4096 /* a tag longer than this is cut */
#define MIME_HTML_VALUE_MAX 1024 /* an attribute value longer than this is cut */
#define MIME_HTML_STACK 64     /* open elements tracked for hidden text */
#define MIME_HTML_ANCHOR_MAX 256

/* Called for each URL in an attribute; text is the anchor's visible text
 * for <a href> (given when the anchor closes), else empty; flags
 * MIME_HTML_URL_ATTR, and MIME_HTML_URL_IMAGE for an <img src>. */
#define MIME_HTML_URL_ATTR 0x01u
#define MIME_HTML_URL_IMAGE 0x08u
typedef void mime_html_url_fn(void *arg, struct str url, struct str text, uint32_t flags);

/*
 * An incremental HTML-to-text reducer: fed any chunking, it appends the
 * visible text to *text and text a reader would not see (display:none,
 * visibility:hidden, font-size 0 or 1px, zero-size or hidden
 * containers) to *hidden, decodes character references to UTF-8, drops
 * comments, <head>, <style> and <script>, and turns block ends into line
 * ends. Tags are read into a bounded buffer; attributes are looked at
 * when the tag ends. hidden may be text (search: all of it in one), and
 * fn NULL when no one wants the URLs.
 */
struct mime_html {
	struct buf *text, *hidden; /* the caller's, with ceilings */
	mime_html_url_fn *url_fn;
	void *url_arg;
	uint32_t nimages;

	/* private */
	int state;
	char quote;
	size_t taglen;
	size_t run; /* octets of the attribute value (or unquoted run) being read */
	int tag_full; /* the tag's buffer is full of what is read: the rest is dropped */
	char tag[MIME_HTML_TAG_MAX];
	size_t entlen;
	char ent[16];
	unsigned skip; /* inside <script>/<style>/<head>/<title>: name index + 1 */
	unsigned skip_after; /* what skip goes back to when its element ends
	                      * (<head>, around a <title> or <style> in it) */
	unsigned depth;
	uint8_t hid[MIME_HTML_STACK];   /* per open element: hides its text */
	uint32_t names[MIME_HTML_STACK];/* tag name hashes */
	unsigned hidden_depth;          /* open elements that hide */
	int in_anchor;
	char anchor_url[1024];
	size_t anchor_url_len;
	char anchor[MIME_HTML_ANCHOR_MAX];
	size_t anchor_len;
	char base[1024]; /* the first <base href>: relative URLs resolve against it */
	size_t base_len;
	int space; /* the last octet written was white space */
};

void mime_html_init(struct mime_html *h, struct buf *text, struct buf *hidden,
                    mime_html_url_fn *fn, void *arg);
void mime_html_feed(struct mime_html *h, const char *in, size_t len);
/* mime_html_feed() without its fast paths: every octet through the state
 * machine alone. The same result, slower: the reference the tests hold
 * mime_html_feed() to (test_mime_html). */
void mime_html_feed_octets(struct mime_html *h, const char *in, size_t len);
/* Ends the input: an open anchor is reported. */
void mime_html_finish(struct mime_html *h);

#endif
