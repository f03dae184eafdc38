/*
 * mime_html.c — HTML reduced to text (mime_html.h): visible text, text
 * the markup hides, and the URLs of attributes with their anchors' text.
 * Written for the spam filter, which is why it is so careful about
 * hiding; search reads its text too.
 *
 * Spam hides words from readers and shows them to filters (white space
 * of tiny or invisible text between the words), and shows readers a link
 * text that is not where the link goes. So this reducer keeps what a
 * reader would see apart from what is hidden, and reports every anchor
 * with the text shown for it. It is a byte-at-a-time state machine: a
 * tag is collected in a bounded buffer (quotes respected, so a '>' in an
 * attribute does not end it) and interpreted when it ends; character
 * references are decoded as they complete. It never builds a tree: an
 * element stack of tag-name hashes tracks which open elements hide their
 * contents, closing tags pop to their match (unmatched ones are ignored),
 * end tags HTML lets writers omit (<p>, <li>, cells) are implied, and an
 * element that hides past the stack's depth makes the innermost tracked
 * one hide until it closes.
 * A <head> ends at its end tag or, as in a browser, at the first text or
 * element that does not belong in a head.
 */
#include <string.h>
#include <strings.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "mime/mime_html.h"

enum {
	H_TEXT,
	H_LT,      /* after '<' */
	H_TAG,     /* inside a tag, collecting */
	H_BANG,    /* "<!": comment or doctype */
	H_BANG_DASH, /* "<!-" */
	H_COMMENT, /* inside <!-- -->; quote counts the '-' seen (3: "--!",
	            * 4: just opened) */
	H_DECL,    /* <!DOCTYPE ...> or <?...?> until '>' */
	H_ENT,     /* after '&' */
};

/* Inlined and unrolled so that NH("name") folds to a constant: the
 * element tests below (is_block, is_void, ...) were a tenth of the time
 * spent on a long HTML message when every NH was computed at run time. */
static inline __attribute__((always_inline)) uint32_t name_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
#pragma GCC unroll 16
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * 16777619u;
	}
	return h;
}

#define NH(s) name_hash(s, sizeof(s) - 1)

void mime_html_init(struct mime_html *h, struct buf *text, struct buf *hidden,
                    mime_html_url_fn *fn, void *arg)
{
	memset(h, 0, sizeof *h);
	h->text = text;
	h->hidden = hidden;
	h->url_fn = fn;
	h->url_arg = arg;
	h->space = 1;
}

/* Visible text inside <a>: kept (up to its buffer) as the link's text. */
static void anchor_add(struct mime_html *h, const char *p, size_t n)
{
	if (h->in_anchor && !h->hidden_depth) {
		size_t room = sizeof h->anchor - h->anchor_len;
		if (n > room)
			n = room;
		memcpy(h->anchor + h->anchor_len, p, n);
		h->anchor_len += n;
	}
}

static void out(struct mime_html *h, const char *p, size_t n)
{
	int ws = n == 1 && (p[0] == ' ' || p[0] == '\n');
	if (ws && h->space)
		return;
	struct buf *b = h->hidden_depth ? h->hidden : h->text;
	buf_append(b, p, n); /* past the ceiling: dropped, the view is cut */
	h->space = ws;
	anchor_add(h, p, n);
}

/* A run of text octets, none of them white space but single spaces
 * between others: what out() would make of them one at a time (past the
 * ceiling, the run's first octets that fit), in one append. */
static void out_run(struct mime_html *h, const char *p, size_t n)
{
	struct buf *b = h->hidden_depth ? h->hidden : h->text;
	buf_append(b, p, n <= buf_room(b) ? n : buf_room(b));
	h->space = 0;
	anchor_add(h, p, n);
}

static void out_cp(struct mime_html *h, uint32_t cp)
{
	char u[4];
	if (cp == 0xa0 || cp == '\t' || cp == '\r' || cp == '\n')
		cp = ' ';
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x200b && cp <= 0x200d) || cp == 0xfeff ||
	    cp == 0xad)
		return; /* controls, zero-width characters and soft hyphens show nothing */
	out(h, u, utf8_encode(cp, u));
}

/* Text octets: white space collapsed; other octets as they are. */
static void out_text(struct mime_html *h, char c)
{
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f')
		out(h, " ", 1);
	else
		out(h, &c, 1);
}

/* The named character references of HTML 4 (every Latin-1 letter and
 * sign, the typographic ones, the euro): mail written in Spanish,
 * Portuguese or French spells its accents with them ("Espa&ntilde;a"),
 * and a word left as markup was neither seen by the filter nor found by
 * a search. Names are case-sensitive (&Eacute; is not &eacute;). */
static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xa0},
    {"iexcl", 0xa1}, {"cent", 0xa2}, {"pound", 0xa3}, {"curren", 0xa4}, {"yen", 0xa5},
    {"brvbar", 0xa6}, {"sect", 0xa7}, {"uml", 0xa8}, {"copy", 0xa9}, {"ordf", 0xaa},
    {"laquo", 0xab}, {"not", 0xac}, {"shy", 0xad}, {"reg", 0xae}, {"macr", 0xaf},
    {"deg", 0xb0}, {"plusmn", 0xb1}, {"sup2", 0xb2}, {"sup3", 0xb3}, {"acute", 0xb4},
    {"micro", 0xb5}, {"para", 0xb6}, {"middot", 0xb7}, {"cedil", 0xb8}, {"sup1", 0xb9},
    {"ordm", 0xba}, {"raquo", 0xbb}, {"frac14", 0xbc}, {"frac12", 0xbd}, {"frac34", 0xbe},
    {"iquest", 0xbf}, {"Agrave", 0xc0}, {"Aacute", 0xc1}, {"Acirc", 0xc2}, {"Atilde", 0xc3},
    {"Auml", 0xc4}, {"Aring", 0xc5}, {"AElig", 0xc6}, {"Ccedil", 0xc7}, {"Egrave", 0xc8},
    {"Eacute", 0xc9}, {"Ecirc", 0xca}, {"Euml", 0xcb}, {"Igrave", 0xcc}, {"Iacute", 0xcd},
    {"Icirc", 0xce}, {"Iuml", 0xcf}, {"ETH", 0xd0}, {"Ntilde", 0xd1}, {"Ograve", 0xd2},
    {"Oacute", 0xd3}, {"Ocirc", 0xd4}, {"Otilde", 0xd5}, {"Ouml", 0xd6}, {"times", 0xd7},
    {"Oslash", 0xd8}, {"Ugrave", 0xd9}, {"Uacute", 0xda}, {"Ucirc", 0xdb}, {"Uuml", 0xdc},
    {"Yacute", 0xdd}, {"THORN", 0xde}, {"szlig", 0xdf}, {"agrave", 0xe0}, {"aacute", 0xe1},
    {"acirc", 0xe2}, {"atilde", 0xe3}, {"auml", 0xe4}, {"aring", 0xe5}, {"aelig", 0xe6},
    {"ccedil", 0xe7}, {"egrave", 0xe8}, {"eacute", 0xe9}, {"ecirc", 0xea}, {"euml", 0xeb},
    {"igrave", 0xec}, {"iacute", 0xed}, {"icirc", 0xee}, {"iuml", 0xef}, {"eth", 0xf0},
    {"ntilde", 0xf1}, {"ograve", 0xf2}, {"oacute", 0xf3}, {"ocirc", 0xf4}, {"otilde", 0xf5},
    {"ouml", 0xf6}, {"divide", 0xf7}, {"oslash", 0xf8}, {"ugrave", 0xf9}, {"uacute", 0xfa},
    {"ucirc", 0xfb}, {"uuml", 0xfc}, {"yacute", 0xfd}, {"thorn", 0xfe}, {"yuml", 0xff},
    {"OElig", 0x152}, {"oelig", 0x153}, {"Scaron", 0x160}, {"scaron", 0x161}, {"Yuml", 0x178},
    {"fnof", 0x192}, {"circ", 0x2c6}, {"tilde", 0x2dc}, {"ensp", 0x2002}, {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200c}, {"zwj", 0x200d}, {"lrm", 0x200e}, {"rlm", 0x200f},
    {"ndash", 0x2013}, {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"sbquo", 0x201a}, {"ldquo", 0x201c}, {"rdquo", 0x201d}, {"bdquo", 0x201e},
    {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022}, {"hellip", 0x2026},
    {"permil", 0x2030}, {"prime", 0x2032}, {"Prime", 0x2033}, {"lsaquo", 0x2039},
    {"rsaquo", 0x203a}, {"oline", 0x203e}, {"euro", 0x20ac}, {"trade", 0x2122},
    {"minus", 0x2212}, {"larr", 0x2190}, {"rarr", 0x2192}, {"uarr", 0x2191}, {"darr", 0x2193},
    {"harr", 0x2194}, {"hearts", 0x2665},
};

/* Decodes ent[0..n) (without '&' and ';'); returns the code point or 0. */
static uint32_t entity_cp(const char *e, size_t n)
{
	if (n >= 2 && e[0] == '#') {
		uint32_t v = 0;
		size_t i = 1;
		int hex = e[1] == 'x' || e[1] == 'X';
		if (hex)
			i++;
		if (i == n)
			return 0;
		for (; i < n; i++) {
			int c = (unsigned char)e[i];
			int d = hex ? hex_digit(c) : c >= '0' && c <= '9' ? c - '0' : -1;
			if (d < 0)
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
			if (v > 0x10ffff)
				return 0xfffd;
		}
		return v ? v : 0xfffd;
	}
	for (size_t i = 0; n && i < sizeof entities / sizeof entities[0]; i++)
		if (entities[i].name[0] == e[0] && strlen(entities[i].name) == n &&
		    memcmp(entities[i].name, e, n) == 0)
			return entities[i].cp;
	return 0;
}

/* A numeric reference at v[i] ("&#" then digits; ';' optional, as a
 * browser reads it in an attribute: "&#104ttp" is "http"): its code
 * point and the index past it in *end_r, or 0 when there is none. */
static uint32_t numeric_ref(const char *v, size_t n, size_t i, size_t *end_r)
{
	size_t j = i + 2;
	if (j >= n || v[i + 1] != '#')
		return 0;
	int hex = v[j] == 'x' || v[j] == 'X';
	j += hex;
	size_t start = j;
	uint32_t cp = 0;
	for (; j < n; j++) {
		int c = (unsigned char)v[j];
		int d = hex ? hex_digit(c) : c >= '0' && c <= '9' ? c - '0' : -1;
		if (d < 0)
			break;
		if (cp <= 0x10ffff)
			cp = cp * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (j == start)
		return 0;
	*end_r = j + (j < n && v[j] == ';');
	return cp && cp <= 0x10ffff ? cp : 0xfffd;
}

/* Decodes character references of v in place (attribute values). */
static size_t decode_refs(char *v, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t end;
		uint32_t ncp = v[i] == '&' ? numeric_ref(v, n, i, &end) : 0;
		if (ncp) {
			char u[4];
			size_t un = utf8_encode(ncp, u);
			/* "&#" and a digit are never shorter than the encoding */
			memcpy(v + o, u, un);
			o += un;
			i = end;
			continue;
		}
		if (v[i] == '&') {
			size_t j = i + 1;
			while (j < n && j - i < 12 && v[j] != ';' && v[j] != '&' && v[j] != ' ')
				j++;
			uint32_t cp = entity_cp(v + i + 1, j - i - 1);
			if (cp && cp < 0x110000) {
				char u[4];
				size_t un = utf8_encode(cp, u);
				/* a reference is never shorter than its encoding */
				memcpy(v + o, u, un);
				o += un;
				i = j + (j < n && v[j] == ';');
				continue;
			}
		}
		v[o++] = v[i++];
	}
	return o;
}

/* Attribute lookup in a collected tag: its value (unquoted, references
 * decoded in place), or p == NULL. The tag buffer is modified. */
struct attr {
	const char *name;
	size_t nlen;
	char *val;
	size_t vlen;
};

/* The attributes the reducer reads (attr_get, hides). */
static int attr_read(const char *name, size_t n)
{
	static const char *const read[] = {"style", "hidden", "href", "src", "alt", "action"};
	for (size_t i = 0; i < sizeof read / sizeof read[0]; i++)
		if (strlen(read[i]) == n && strncasecmp(name, read[i], n) == 0)
			return 1;
	return 0;
}

static size_t parse_attrs(char *t, size_t n, struct attr *a, size_t max)
{
	size_t i = 0, k = 0;
	while (i < n && t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r' && t[i] != '/')
		i++; /* the tag name */
	while (i < n && k < max) {
		while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' ||
		                 t[i] == '/'))
			i++;
		size_t s = i;
		while (i < n && t[i] != '=' && t[i] != ' ' && t[i] != '\t' && t[i] != '\n' &&
		       t[i] != '\r' && t[i] != '/')
			i++;
		if (i == s)
			break;
		/* only the attributes something reads, each the first time
		 * (as a browser takes a repeated one): 32 others before a
		 * style left it unread */
		int keep = attr_read(t + s, i - s);
		for (size_t m = 0; keep && m < k; m++)
			keep = !(a[m].nlen == i - s && strncasecmp(a[m].name, t + s, i - s) == 0);
		a[k].name = t + s;
		a[k].nlen = i - s;
		a[k].val = NULL;
		a[k].vlen = 0;
		while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
			i++;
		if (i < n && t[i] == '=') {
			i++;
			while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
				i++;
			char q = i < n && (t[i] == '"' || t[i] == '\'') ? t[i] : 0;
			if (q)
				i++;
			size_t vs = i;
			while (i < n && (q ? t[i] != q : (t[i] != ' ' && t[i] != '\t' && t[i] != '\n')))
				i++;
			a[k].val = t + vs;
			a[k].vlen = keep ? decode_refs(t + vs, i - vs) : 0;
			if (q && i < n)
				i++;
		}
		k += keep;
	}
	return k;
}

static struct str attr_get(const struct attr *a, size_t n, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (a[i].nlen == l && a[i].val && str_eq_ci(str_make(a[i].name, l), str_make(name, l)))
			return str_make(a[i].val, a[i].vlen);
	return STR_NULL;
}

/* One declaration of a style attribute, spaces dropped and lowercased,
 * "!important" cut: prop[0..pl), val[0..vl). */
#define DECL_MAX 64

/* The number a CSS length or value starts with ("0", ".5", "1px"), its
 * unit after it into *unit; -1 when it starts with none. */
static double css_number(const char *v, size_t n, const char **unit)
{
	double x = 0, scale = 0;
	size_t i = 0;
	int digits = 0;
	for (; i < n; i++) {
		if (v[i] >= '0' && v[i] <= '9') {
			digits = 1;
			if (scale) {
				x += (v[i] - '0') * scale;
				scale /= 10;
			} else {
				x = x * 10 + (v[i] - '0');
			}
		} else if (v[i] == '.' && !scale) {
			scale = 0.1;
		} else {
			break;
		}
	}
	*unit = v + i;
	return digits ? x : -1;
}

static int decl_hides(const char *prop, size_t pl, const char *val, size_t vl)
{
	char v[DECL_MAX + 1];
	const char *unit;
	memcpy(v, val, vl);
	v[vl] = '\0';
#define PROP(lit) (pl == sizeof lit - 1 && memcmp(prop, lit, pl) == 0)
	if (PROP("display"))
		return strcmp(v, "none") == 0;
	if (PROP("visibility"))
		return strcmp(v, "hidden") == 0;
	double x = css_number(v, vl, &unit);
	if (x < 0)
		return 0;
	if (PROP("font-size")) /* nothing to read: zero, or a pixel or point high */
		return x == 0 || (x <= 1 && (!strcmp(unit, "px") || !strcmp(unit, "pt")));
	if (PROP("max-height") || PROP("height") || PROP("opacity"))
		return x == 0;
#undef PROP
	return 0;
}

/* Whether a style attribute's declarations hide the element's text
 * (display:none, visibility:hidden, a font of zero or one pixel or
 * point, zero height or opacity), read declaration by declaration: a
 * substring search over its first 256 octets missed a declaration past
 * them (padding with others hid text from the rules), and matched
 * inside others ("line-height:0;", "font-size:0.9em"). */
static int style_hides(struct str s)
{
	size_t i = 0;
	while (i < s.len) {
		char d[DECL_MAX];
		size_t n = 0, colon = 0, overflow = 0;
		for (; i < s.len && s.p[i] != ';'; i++) {
			unsigned char ch = (unsigned char)s.p[i];
			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f')
				continue;
			if (n == sizeof d) {
				overflow = 1;
				continue;
			}
			if (ch == ':' && !colon)
				colon = n + 1;
			d[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		i++; /* the ';' */
		if (overflow || !colon)
			continue; /* no declaration that hides is that long */
		size_t vl = n - colon;
		if (vl >= 10 && memcmp(d + n - 10, "!important", 10) == 0)
			vl -= 10;
		if (decl_hides(d, colon - 1, d + colon, vl))
			return 1;
	}
	return 0;
}

static int hides(const struct attr *a, size_t na)
{
	struct str st = attr_get(a, na, "style");
	if (st.p && style_hides(st))
		return 1;
	for (size_t i = 0; i < na; i++)
		if (a[i].nlen == 6 && str_eq_ci(str_make(a[i].name, 6), STR_LIT("hidden")))
			return 1;
	return 0;
}

static int is_void(uint32_t nh)
{
	return nh == NH("br") || nh == NH("img") || nh == NH("hr") || nh == NH("meta") ||
	       nh == NH("link") || nh == NH("input") || nh == NH("area") || nh == NH("base") ||
	       nh == NH("col") || nh == NH("wbr") || nh == NH("source") || nh == NH("param") ||
	       nh == NH("embed");
}

/* Elements a browser lays out as blocks of their own: their text does
 * not run into the words around them ("<h5>Title</h5>text", "<dt>Term
 * </dt><dd>meaning</dd>" read as one word when h5 and dt were left out). */
#define BLOCKS(X)                                                                             \
	X("p") X("div") X("br") X("tr") X("li") X("td") X("th") X("table") X("h1") X("h2")    \
	X("h3") X("h4") X("ul") X("ol") X("blockquote") X("hr") X("title") X("center") X("pre") \
	X("h5") X("h6") X("dl") X("dt") X("dd") X("section") X("article") X("header")          \
	X("footer") X("nav") X("aside") X("address") X("figure") X("figcaption") X("main")     \
	X("fieldset") X("details") X("summary") X("caption")
/* A name's bit in a filter of 64 (shift 0) or another (shift 6): the
 * masks of the blocks' bits fold to constants, and most names that are
 * not a block (span, a, font, b, img) miss one of them, so they are
 * told apart without comparing them with 38 names. */
#define BLOCK_BIT(s) | (1ull << (NH(s) & 63))
#define BLOCK_BIT6(s) | (1ull << ((NH(s) >> 6) & 63))
#define BLOCK_HASH(s) NH(s),
#define SLOT(x) ((uint32_t)((x) * 2654435761u) >> 25)

static int is_block(uint32_t nh)
{
	if (!((0 BLOCKS(BLOCK_BIT)) >> (nh & 63) & 1) || !((0 BLOCKS(BLOCK_BIT6)) >> ((nh >> 6) & 63) & 1))
		return 0;
	/* the rest by the names' hashes, open-addressed in a table made
	 * once per thread (its own copy: nothing shared to lock) */
	static _Thread_local uint32_t set[128];
	static _Thread_local int made;
	if (!made) {
		const uint32_t names[] = { BLOCKS(BLOCK_HASH) };
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
			unsigned at = SLOT(names[k]);
			while (set[at])
				at = (at + 1) & 127;
			set[at] = names[k];
		}
		made = 1;
	}
	for (unsigned at = SLOT(nh); set[at]; at = (at + 1) & 127)
		if (set[at] == nh)
			return 1;
	return 0;
}

#undef BLOCK_BIT
#undef BLOCK_BIT6
#undef BLOCK_HASH
#undef SLOT
#undef BLOCKS

/* Whether u starts with a scheme ("http:", "mailto:"). */
static int has_scheme(struct str u)
{
	for (size_t i = 0; i < u.len; i++) {
		char c = (char)(u.p[i] | 32);
		if (i > 0 && u.p[i] == ':')
			return 1;
		if (!(c >= 'a' && c <= 'z') && (i == 0 || !((u.p[i] >= '0' && u.p[i] <= '9') ||
		                                            u.p[i] == '+' || u.p[i] == '-' ||
		                                            u.p[i] == '.')))
			return 0;
	}
	return 0;
}

/* Relative u resolved against the <base href> into out (room for the
 * base, a '/' and a tag), as the reader's client resolves it: "//host/.."
 * takes the base's scheme, "/path" its scheme and host, "?q" and "#f"
 * all of it, anything else the base up to its path's last '/'. Without
 * this, <base href="http://evil.example/"> and <a href="login"> (the
 * "baseStriker" trick) hid the link's host from every URL check. */
static struct str resolve(const struct mime_html *h, struct str u, char *out)
{
	const char *b = h->base;
	size_t bl = h->base_len, keep = bl, auth = 0, end = bl;
	for (size_t i = 0; i < bl; i++)
		if (b[i] == ':') {
			auth = i + 1;
			break;
		} else if (b[i] == '/') {
			break;
		}
	while (auth < bl && (b[auth] == '/' || b[auth] == '\\'))
		auth++;
	for (end = auth; end < bl && b[end] != '/' && b[end] != '\\' && b[end] != '?' &&
	                 b[end] != '#';
	     end++)
		;
	int slash = 0; /* a '/' to add between the host and u */
	if (u.len >= 2 && (u.p[0] == '/' || u.p[0] == '\\') && (u.p[1] == '/' || u.p[1] == '\\')) {
		for (keep = 0; keep < bl && b[keep] != ':'; keep++)
			;
		keep += keep < bl; /* the scheme and its ':' */
	} else if (u.p[0] == '/' || u.p[0] == '\\') {
		keep = end;
	} else if (u.p[0] == '?' || u.p[0] == '#') {
		keep = bl;
	} else {
		keep = end;
		for (size_t i = end; i < bl && b[i] != '?' && b[i] != '#'; i++)
			if (b[i] == '/' || b[i] == '\\')
				keep = i + 1;
		slash = keep == end;
	}
	memcpy(out, b, keep);
	if (slash)
		out[keep++] = '/';
	memcpy(out + keep, u.p, u.len);
	return str_make(out, keep + u.len);
}

static void report_url(struct mime_html *h, struct str url, struct str text, uint32_t flags)
{
	if (!h->url_fn)
		return;
	/* A browser removes ASCII tabs and line ends anywhere in a URL, and
	 * control octets and spaces around it (WHATWG URL parsing), so
	 * "ht<TAB>tp://ev<LF>il.example/" goes to evil.example: the filter
	 * must see that host, not "ht" or "ev". An attribute value is never
	 * longer than the tag buffer. */
	char b[MIME_HTML_TAG_MAX];
	size_t n = 0;
	for (size_t i = 0; i < url.len && n < sizeof b; i++)
		if (url.p[i] != '\t' && url.p[i] != '\n' && url.p[i] != '\r')
			b[n++] = url.p[i];
	struct str u = str_make(b, n);
	while (u.len && (unsigned char)u.p[0] <= ' ')
		u.p++, u.len--;
	while (u.len && (unsigned char)u.p[u.len - 1] <= ' ')
		u.len--;
	char j[sizeof h->base + 1 + MIME_HTML_TAG_MAX];
	if (u.len && h->base_len && !has_scheme(u))
		u = resolve(h, u, j);
	if (u.len && h->url_fn)
		h->url_fn(h->url_arg, u, text, flags);
}

static void anchor_end(struct mime_html *h)
{
	if (!h->in_anchor)
		return;
	h->in_anchor = 0;
	report_url(h, str_make(h->anchor_url, h->anchor_url_len),
	           str_trim(str_make(h->anchor, h->anchor_len)), MIME_HTML_URL_ATTR);
}

/* Whether c separates attributes (as parse_attrs has it). */
static int tag_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * The tag's buffer is full: the attributes nothing reads (attr_read),
 * and the repeats of those read (the first counts), are dropped from it,
 * keeping the tag's name, the attributes read and the last one (it may
 * be the one being collected, cut anywhere), so that a style after
 * kilobytes of short attributes is still seen. When that frees less than
 * a quarter of the buffer, the rest of the tag is dropped as before: each
 * pass costs the buffer's length, paid for by what it freed.
 */
static void tag_make_room(struct mime_html *h)
{
	char *t = h->tag;
	size_t n = h->taglen, i = 0, o, kept[8][2], nkept = 0;

	if (h->tag_full)
		return;
	if (i < n && t[i] == '/')
		i++;
	while (i < n && !tag_ws(t[i]) && t[i] != '/')
		i++;
	o = i;
	for (;;) {
		size_t p = i; /* the separator before the attribute, if any */
		while (i < n && (tag_ws(t[i]) || t[i] == '/'))
			i++;
		size_t s = i;
		while (i < n && t[i] != '=' && !tag_ws(t[i]) && t[i] != '/')
			i++;
		size_t ne = i;
		while (i < n && tag_ws(t[i]))
			i++;
		if (i < n && t[i] == '=') {
			i++;
			while (i < n && tag_ws(t[i]))
				i++;
			char q = i < n && (t[i] == '"' || t[i] == '\'') ? t[i] : 0;
			if (q)
				i++;
			while (i < n && (q ? t[i] != q : !tag_ws(t[i])))
				i++;
			if (q && i < n)
				i++;
		} else if (i < n) {
			i = ne; /* a name alone: what follows is the next one */
		}
		int last = i >= n || s == ne;
		int keep = last;
		if (!last && attr_read(t + s, ne - s)) {
			keep = 1;
			for (size_t k = 0; k < nkept && keep; k++)
				keep = !(kept[k][1] == ne - s &&
				         strncasecmp(t + kept[k][0], t + s, ne - s) == 0);
		}
		if (keep) {
			/* What is kept moves down (o <= p always), after one
			 * separator: its own last one, or a space when it had
			 * none and what was before it is dropped. */
			size_t from = p < s ? s - 1 : s;
			if (p == s && o < p) {
				t[o++] = ' ';
				from = s;
			}
			size_t end = last ? n : i;
			memmove(t + o, t + from, end - from);
			if (!last && nkept < 8) {
				kept[nkept][0] = o + (s - from);
				kept[nkept][1] = ne - s;
				nkept++;
			}
			o += end - from;
		}
		if (last)
			break;
	}
	h->taglen = o;
	if (n - o < sizeof h->tag / 4)
		h->tag_full = 1;
}

/* Whether tag text t[0..n) has "style" or "hidden" in it (any case):
 * without either, hides() is 0 whatever the attributes. */
static int may_hide(const char *t, size_t n)
{
	for (size_t i = 0; i + 5 <= n; i++) {
		char c = (char)(t[i] | 32);
		if (c == 's' && strncasecmp(t + i, "style", 5) == 0)
			return 1;
		if (c == 'h' && i + 6 <= n && strncasecmp(t + i, "hidden", 6) == 0)
			return 1;
	}
	return 0;
}

/* End tags a writer may leave out (HTML's optional end tags): an open
 * <p>, <li>, <option>, <dt>/<dd>, <td>/<th> on top of the stack ends
 * where the next of its kind opens (a <p> where any block opens, a cell
 * where a row opens); else a page of unclosed <p> or <li> filled the
 * stack, and what opened past it was not tracked. */
static void implied_end(struct mime_html *h, uint32_t nh)
{
	while (h->depth) {
		uint32_t top = h->names[h->depth - 1];
		int ends =
		    (top == NH("p") && is_block(nh) && nh != NH("br")) ||
		    (top == NH("li") && nh == NH("li")) ||
		    (top == NH("option") && nh == NH("option")) ||
		    ((top == NH("dt") || top == NH("dd")) && (nh == NH("dt") || nh == NH("dd"))) ||
		    ((top == NH("td") || top == NH("th")) &&
		     (nh == NH("td") || nh == NH("th") || nh == NH("tr"))) ||
		    (top == NH("tr") && nh == NH("tr"));
		if (!ends)
			return;
		h->depth--;
		h->hidden_depth -= h->hid[h->depth];
	}
}

static void open_elem(struct mime_html *h, uint32_t nh, char *t, size_t n)
{
	struct attr a[32];
	/* attributes are parsed only where something reads them: most
	 * elements of a long HTML mail have neither a URL nor a style, and
	 * without a url_fn, or with hidden text kept with the rest (search),
	 * only an <img>'s alt text is read */
	int want = (h->url_fn && (nh == NH("a") || nh == NH("form") || nh == NH("area") ||
	                          nh == NH("base"))) ||
	           nh == NH("img") || (h->hidden != h->text && may_hide(t, n));
	size_t na = want ? parse_attrs(t, n, a, 32) : 0;
	int selfclose = n && t[n - 1] == '/';

	if (nh == NH("a")) {
		anchor_end(h);
		struct str href = attr_get(a, na, "href");
		if (href.p) {
			h->in_anchor = 1;
			h->anchor_len = 0;
			size_t l = href.len < sizeof h->anchor_url ? href.len : sizeof h->anchor_url;
			memcpy(h->anchor_url, href.p, l);
			h->anchor_url_len = l;
		}
	} else if (nh == NH("img")) {
		h->nimages++;
		struct str src = attr_get(a, na, "src");
		if (src.p)
			report_url(h, src, STR_NULL, MIME_HTML_URL_ATTR | MIME_HTML_URL_IMAGE);
		struct str alt = attr_get(a, na, "alt");
		if (alt.p && alt.len) {
			out(h, " ", 1);
			for (size_t i = 0; i < alt.len; i++)
				out_text(h, alt.p[i]);
			out(h, " ", 1);
		}
	} else if (nh == NH("base")) {
		/* the first one with an href counts, as in a browser; kept
		 * cleaned (report_url's rules), so it resolves what follows */
		struct str href = attr_get(a, na, "href");
		if (href.p && !h->base_len) {
			for (size_t i = 0; i < href.len && h->base_len < sizeof h->base; i++)
				if (href.p[i] != '\t' && href.p[i] != '\n' && href.p[i] != '\r' &&
				    (h->base_len || (unsigned char)href.p[i] > ' '))
					h->base[h->base_len++] = href.p[i];
			while (h->base_len && (unsigned char)h->base[h->base_len - 1] <= ' ')
				h->base_len--;
			if (!has_scheme(str_make(h->base, h->base_len)))
				h->base_len = 0; /* relative to the message: nothing to resolve */
		}
	} else if (nh == NH("form") || nh == NH("area")) {
		struct str u = attr_get(a, na, nh == NH("form") ? "action" : "href");
		if (u.p)
			report_url(h, u, STR_NULL, MIME_HTML_URL_ATTR);
	}
	if (is_block(nh))
		out(h, "\n", 1);
	if (nh == NH("script") || nh == NH("style") || nh == NH("head") || nh == NH("title")) {
		if (!selfclose && nh != NH("title"))
			h->skip = nh;
		return;
	}
	if (is_void(nh) || selfclose)
		return;
	implied_end(h, nh);
	int hid = hides(a, na);
	if (h->depth < MIME_HTML_STACK) {
		h->names[h->depth] = nh;
		h->hid[h->depth] = (uint8_t)hid;
		h->hidden_depth += h->hid[h->depth];
		h->depth++;
	} else if (hid && !h->hid[h->depth - 1]) {
		/* Deeper than the stack: the element joins the innermost one
		 * tracked, which hides from now on until it closes. Dropping
		 * it instead let 64 nested tags show the rules what a reader
		 * never sees; hiding a little too long is the safe side. */
		h->hid[h->depth - 1] = 1;
		h->hidden_depth++;
	}
}

static void close_elem(struct mime_html *h, uint32_t nh)
{
	if (nh == NH("a"))
		anchor_end(h);
	if (is_block(nh))
		out(h, "\n", 1);
	for (unsigned d = h->depth; d-- > 0;) {
		if (h->names[d] != nh)
			continue;
		while (h->depth > d) { /* pops what was left open inside too */
			h->depth--;
			h->hidden_depth -= h->hid[h->depth];
		}
		return;
	}
}

/* A complete tag is in h->tag[0..taglen). */
static void tag_end(struct mime_html *h)
{
	char *t = h->tag;
	size_t n = h->taglen;
	int closing = n && t[0] == '/';
	if (closing)
		t++, n--;
	size_t k = 0;
	while (k < n && t[k] != ' ' && t[k] != '\t' && t[k] != '\n' && t[k] != '\r' && t[k] != '/')
		k++;
	if (k == 0)
		return;
	uint32_t nh = name_hash(t, k);
	if (h->skip) {
		if (closing && nh == h->skip) {
			h->skip = h->skip_after;
			h->skip_after = 0;
			return;
		}
		if (h->skip != NH("head") || closing)
			return;
		/* Inside <head>: what belongs there is skipped (a title's or a
		 * style's text until its end tag), anything else starts the
		 * body as a browser's parser has it (WHATWG "in head"), or an
		 * unclosed <head> would hide the whole message and its links
		 * from the filter while the reader sees them. */
		if (nh == NH("title") || nh == NH("style") || nh == NH("script") ||
		    nh == NH("noscript") || nh == NH("template")) {
			if (t[n - 1] != '/') {
				h->skip_after = h->skip;
				h->skip = nh;
			}
			return;
		}
		if (nh == NH("base"))
			open_elem(h, nh, t, n); /* it resolves the links that follow */
		if (nh == NH("meta") || nh == NH("link") || nh == NH("base") || nh == NH("html") ||
		    nh == NH("head"))
			return;
		h->skip = 0;
	}
	if (closing)
		close_elem(h, nh);
	else
		open_elem(h, nh, t, n);
}

static void ent_end(struct mime_html *h, int semi)
{
	uint32_t cp = entity_cp(h->ent, h->entlen);
	if (cp && !h->skip) {
		out_cp(h, cp);
	} else if (!h->skip) {
		out(h, "&", 1);
		for (size_t i = 0; i < h->entlen; i++)
			out_text(h, h->ent[i]);
		if (semi)
			out(h, ";", 1);
	}
	h->entlen = 0;
}

/* Whether the tag collected so far ends in '=' (spaces after it
 * aside): a quote there opens an attribute value. */
static int tag_after_eq(const struct mime_html *h)
{
	size_t k = h->taglen;
	while (k > 0 && (h->tag[k - 1] == ' ' || h->tag[k - 1] == '\t'))
		k--;
	return k > 0 && h->tag[k - 1] == '=';
}

static void step(struct mime_html *h, char c)
{
	switch (h->state) {
	case H_TEXT:
		if (h->skip == NH("head") && c != '<' && c != ' ' && c != '\t' && c != '\r' &&
		    c != '\n' && c != '\f')
			h->skip = 0; /* text starts the body too (see tag_end) */
		if (c == '<')
			h->state = H_LT;
		else if (c == '&' && !h->skip) {
			h->state = H_ENT;
			h->entlen = 0;
		} else if (!h->skip)
			out_text(h, c);
		return;
	case H_LT:
		if (c == '!') {
			h->state = H_BANG;
		} else if (c == '?') {
			h->state = H_DECL;
		} else if (((c | 32) >= 'a' && (c | 32) <= 'z') || c == '/') {
			h->state = H_TAG; /* an opening or a closing tag */
			h->taglen = 0;
			h->tag_full = 0;
			h->quote = 0;
			h->run = 1;
			h->tag[h->taglen++] = c;
		} else {
			h->state = H_TEXT; /* a lone '<' is text */
			if (!h->skip)
				out(h, "<", 1);
			step(h, c);
		}
		return;
	case H_TAG:
		/* A value (quoted, or a run without spaces) keeps its first
		 * MIME_HTML_VALUE_MAX octets: one long attribute filled the
		 * tag's buffer, and a style after it was cut off unread. */
		if (h->quote) {
			if (c == h->quote) {
				h->quote = 0;
				h->run = 0;
			} else if (++h->run > MIME_HTML_VALUE_MAX) {
				return;
			}
		} else if ((c == '"' || c == '\'') && h->taglen && h->run <= MIME_HTML_VALUE_MAX &&
		           tag_after_eq(h)) {
			h->quote = c; /* quotes count only inside an attribute value, after '=' */
			h->run = 0;
		} else if (c == '>') {
			tag_end(h);
			h->state = H_TEXT;
			return;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
			h->run = 0;
		} else if (++h->run > MIME_HTML_VALUE_MAX) {
			return;
		}
		if (h->taglen == sizeof h->tag)
			tag_make_room(h);
		if (h->taglen < sizeof h->tag)
			h->tag[h->taglen++] = c;
		return;
	case H_BANG:
		if (c == '-')
			h->state = H_BANG_DASH;
		else
			h->state = c == '>' ? H_TEXT : H_DECL;
		return;
	case H_BANG_DASH:
		/* Comments end where a browser's parser ends them (WHATWG
		 * comment states), or a sender hides from the filter what the
		 * reader sees: "<!--" opens one, "<!-" without the second dash
		 * is a bogus comment that the next '>' ends. */
		if (c == '-') {
			h->state = H_COMMENT;
			h->quote = 4; /* "<!-->" and "<!--->" are whole comments */
		} else {
			h->state = c == '>' ? H_TEXT : H_DECL;
		}
		return;
	case H_COMMENT:
		/* until "-->" or "--!>"; quote counts dashes, 3 after "--!" */
		if (c == '-')
			h->quote = h->quote == 1 || h->quote == 2 || h->quote == 4 ? 2 : 1;
		else if (c == '>' && h->quote >= 2)
			h->state = H_TEXT;
		else if (c == '!' && h->quote == 2)
			h->quote = 3;
		else
			h->quote = 0;
		return;
	case H_DECL:
		if (c == '>')
			h->state = H_TEXT;
		return;
	case H_ENT:
		if (c == ';') {
			ent_end(h, 1);
			h->state = H_TEXT;
		} else if (((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') ||
		           (c == '#' && h->entlen == 0)) {
			if (h->entlen < sizeof h->ent) {
				h->ent[h->entlen++] = c;
			} else {
				ent_end(h, 0);
				h->state = H_TEXT;
				step(h, c);
			}
		} else {
			ent_end(h, 0);
			h->state = H_TEXT;
			step(h, c);
		}
		return;
	}
}

/* What the fast paths of mime_html_feed() stop at, per octet. */
enum {
	C_WS = 1,       /* white space, as out_text() and the tag's run see it */
	C_TEXT_END = 2, /* ends a run of text octets: '<', '&', white space */
	C_TAG_END = 4,  /* ends a stretch of a tag outside quotes: '>', quotes */
};
#define WS_ (C_WS | C_TEXT_END)
static const uint8_t cls[256] = {
	['\t'] = WS_, ['\n'] = WS_, ['\f'] = WS_, ['\r'] = WS_, [' '] = WS_,
	['<'] = C_TEXT_END, ['&'] = C_TEXT_END,
	['>'] = C_TAG_END, ['"'] = C_TAG_END, ['\''] = C_TAG_END,
};
#undef WS_

void mime_html_feed(struct mime_html *h, const char *in, size_t len)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0;
	while (i < len) {
		/* fast paths, the same as step() one octet at a time: inside a
		 * tag only '>' and quotes matter (the rest is kept for the
		 * attributes), inside <style> or <script> only '<', inside a
		 * comment only '-' (and what follows one), inside a
		 * declaration only '>' */
		if (h->state == H_TAG) {
			size_t j = i;
			if (h->quote) {
				const char *q = memchr(in + i, h->quote, len - i);
				j = q ? (size_t)(q - in) : len;
				/* a value's first MIME_HTML_VALUE_MAX octets (step) */
				if (h->taglen == sizeof h->tag && j > i &&
				    h->run < MIME_HTML_VALUE_MAX)
					tag_make_room(h);
				size_t room = sizeof h->tag - h->taglen;
				size_t k =
				    h->run < MIME_HTML_VALUE_MAX ? MIME_HTML_VALUE_MAX - h->run : 0;
				k = k < j - i ? k : j - i;
				k = k < room ? k : room;
				memcpy(h->tag + h->taglen, in + i, k);
				h->taglen += k;
				h->run += j - i;
			} else {
				size_t run = h->run, tl = h->taglen;
				for (; j < len; j++) {
					uint8_t k = cls[u[j]];
					if (k & C_TAG_END)
						break;
					if (k & C_WS)
						run = 0;
					else if (++run > MIME_HTML_VALUE_MAX)
						continue;
					if (tl == sizeof h->tag) {
						h->taglen = tl;
						tag_make_room(h);
						tl = h->taglen;
					}
					if (tl < sizeof h->tag)
						h->tag[tl++] = in[j];
				}
				h->run = run;
				h->taglen = tl;
			}
			i = j;
			if (i == len)
				return;
		} else if (h->state == H_TEXT && !h->skip) {
			/* a run of text octets is written as it is, in one
			 * piece, with the single spaces between its words (each
			 * follows one, so out() would write it too); a run of
			 * other white space is one space at most (out_text,
			 * out) */
			size_t j = i;
			for (;;) {
				while (j < len && !(cls[u[j]] & C_TEXT_END))
					j++;
				if (j > i && j + 1 < len && u[j] == ' ' &&
				    !(cls[u[j + 1]] & C_TEXT_END))
					j++;
				else
					break;
			}
			if (j > i)
				out_run(h, in + i, j - i);
			if (j < len && cls[u[j]] & C_WS) {
				while (++j < len && cls[u[j]] & C_WS)
					;
				out(h, " ", 1);
			}
			i = j;
			if (i == len)
				return;
			if (!(cls[u[i]] & C_TEXT_END))
				continue;
			if (u[i] == '<') { /* what step() does with it here */
				h->state = H_LT;
				i++;
				continue;
			}
		} else if (h->state == H_TEXT && h->skip && h->skip != NH("head")) {
			const char *lt = memchr(in + i, '<', len - i);
			if (!lt)
				return;
			i = (size_t)(lt - in);
		} else if (h->state == H_COMMENT && !h->quote) {
			/* no dash pending: nothing but a '-' changes the state */
			const char *d = memchr(in + i, '-', len - i);
			if (!d)
				return;
			i = (size_t)(d - in);
		} else if (h->state == H_DECL) {
			const char *gt = memchr(in + i, '>', len - i);
			if (!gt)
				return;
			i = (size_t)(gt - in);
		}
		step(h, in[i++]);
	}
}

void mime_html_feed_octets(struct mime_html *h, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		step(h, in[i]);
}

void mime_html_finish(struct mime_html *h)
{
	if (h->state == H_ENT)
		ent_end(h, 0);
	h->state = H_TEXT;
	anchor_end(h);
}
