/*
 * mime_decode.c — base64 and quoted-printable decoders, charset conversion
 * (see mime_decode.h).
 */
#include "mime/mime_decode.h"
#include "core/base64.h"
#include "core/hex.h"
#include "core/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CTE_NAMES 6

static const struct {
	const char *name;
	enum mime_cte cte;
} cte_names[CTE_NAMES] = {
    {"7bit", MIME_CTE_7BIT},     {"8bit", MIME_CTE_8BIT},           {"binary", MIME_CTE_BINARY},
    {"base64", MIME_CTE_BASE64}, {"quoted-printable", MIME_CTE_QP}, {"", MIME_CTE_7BIT},
};

enum mime_cte mime_cte_parse(struct str value)
{
	size_t k;

	if (value.p == NULL)
		return MIME_CTE_7BIT;
	value = str_trim(value);
	for (k = 0; k < CTE_NAMES; k++)
		if (str_eq_ci_c(value, cte_names[k].name))
			return cte_names[k].cte;
	return MIME_CTE_UNKNOWN;
}

enum {
	QP_TEXT,
	QP_CR,     /* a CR in text: a line end if LF follows */
	QP_EQ,     /* "=" */
	QP_EQ_HEX, /* "=" and one hex digit (in hex1) */
	QP_EQ_WS,  /* "=" then white space: a soft break if the line ends */
	QP_EQ_CR,  /* "=" [white space] CR */
};

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
	d->state = QP_TEXT;
}

/* Sextet value of c, -1 for white space, -2 for padding, -3 for garbage. */
static int b64_value(unsigned char c)
{
	int v = base64_digit(c);

	if (v >= 0)
		return v;
	if (c == '=')
		return -2;
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return -1;
	return -3;
}

/* Emits the octets of a partial quantum (2 or 3 sextets) and resets it. */
static size_t b64_flush(struct mime_decoder *d, char *out)
{
	size_t n = 0;

	if (d->nsext == 2) {
		out[n++] = (char)(d->acc >> 4);
	} else if (d->nsext == 3) {
		out[n++] = (char)(d->acc >> 10);
		out[n++] = (char)(d->acc >> 2);
	} else if (d->nsext == 1) {
		d->errors++; /* six bits cannot make an octet */
	}
	d->acc = 0;
	d->nsext = 0;
	return n;
}

static size_t b64_feed(struct mime_decoder *d, const unsigned char *in, size_t len, char *out)
{
	size_t i, n = 0;
	int v;

	for (i = 0; i < len; i++) {
		/* The fast path: whole quanta of alphabet octets. */
		if (d->nsext == 0) {
			while (i + 4 <= len) {
				int a = b64_value(in[i]), b = b64_value(in[i + 1]);
				int c = b64_value(in[i + 2]), e = b64_value(in[i + 3]);

				if ((a | b | c | e) < 0)
					break;
				out[n++] = (char)(a << 2 | b >> 4);
				out[n++] = (char)((b & 15) << 4 | c >> 2);
				out[n++] = (char)((c & 3) << 6 | e);
				i += 4;
			}
			if (i == len)
				break;
		}
		v = b64_value(in[i]);
		if (v >= 0) {
			d->acc = d->acc << 6 | (uint32_t)v;
			if (++d->nsext == 4) {
				out[n++] = (char)(d->acc >> 16);
				out[n++] = (char)(d->acc >> 8);
				out[n++] = (char)d->acc;
				d->acc = 0;
				d->nsext = 0;
			}
		} else if (v == -2) {
			n += b64_flush(d, out + n);
		} else if (v == -3) {
			d->errors++;
		}
	}
	return n;
}

static size_t qp_flush_ws(struct mime_decoder *d, char *out)
{
	size_t n = d->nws;

	if (n)
		memcpy(out, d->ws, n);
	d->nws = 0;
	return n;
}

static size_t qp_feed(struct mime_decoder *d, const unsigned char *in, size_t len, char *out)
{
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned char c = in[i];

		switch (d->state) {
		case QP_TEXT:
			if (c == ' ' || c == '\t') {
				if (d->nws == MIME_QP_WS_MAX)
					n += qp_flush_ws(d, out + n);
				d->ws[d->nws++] = (char)c;
			} else if (c == '\n') {
				d->nws = 0; /* white space at a line end is padding */
				out[n++] = '\n';
			} else if (c == '\r') {
				d->state = QP_CR;
			} else if (c == '=') {
				n += qp_flush_ws(d, out + n);
				d->state = QP_EQ;
			} else {
				n += qp_flush_ws(d, out + n);
				/* Copy the run of plain octets in one go. */
				size_t j = i + 1;

				while (j < len && in[j] != '=' && in[j] != '\r' && in[j] != '\n' &&
				       in[j] != ' ' && in[j] != '\t')
					j++;
				memcpy(out + n, in + i, j - i);
				n += j - i;
				i = j;
				continue;
			}
			i++;
			break;
		case QP_CR:
			d->state = QP_TEXT;
			if (c == '\n') {
				d->nws = 0;
				out[n++] = '\r';
				out[n++] = '\n';
				i++;
			} else {
				/* A bare CR is an ordinary octet. */
				n += qp_flush_ws(d, out + n);
				out[n++] = '\r';
			}
			break;
		case QP_EQ:
			if (hex_digit(c) >= 0) {
				d->hex1 = (char)c;
				d->state = QP_EQ_HEX;
				i++;
			} else if (c == '\n') {
				d->state = QP_TEXT; /* soft line break */
				i++;
			} else if (c == '\r') {
				d->state = QP_EQ_CR;
				i++;
			} else if (c == ' ' || c == '\t') {
				d->state = QP_EQ_WS;
				d->ws[d->nws++] = (char)c;
				i++;
			} else {
				d->errors++;
				out[n++] = '=';
				d->state = QP_TEXT;
			}
			break;
		case QP_EQ_HEX:
			d->state = QP_TEXT;
			if (hex_digit(c) >= 0) {
				out[n++] =
				    (char)(hex_digit((unsigned char)d->hex1) << 4 | hex_digit(c));
				i++;
			} else {
				d->errors++;
				out[n++] = '=';
				out[n++] = d->hex1;
			}
			break;
		case QP_EQ_WS:
			if (c == ' ' || c == '\t') {
				if (d->nws < MIME_QP_WS_MAX)
					d->ws[d->nws++] = (char)c;
				else
					d->errors++;
				i++;
			} else if (c == '\n') {
				d->nws = 0;
				d->state = QP_TEXT;
				i++;
			} else if (c == '\r') {
				d->state = QP_EQ_CR;
				i++;
			} else {
				/* "=" and spaces inside a line: not a soft break. */
				d->errors++;
				out[n++] = '=';
				n += qp_flush_ws(d, out + n);
				d->state = QP_TEXT;
			}
			break;
		case QP_EQ_CR:
			/* "=" CR LF is a soft break; "=" CR alone is taken as one
			 * too (old Mac line ends). */
			d->nws = 0;
			d->state = QP_TEXT;
			if (c == '\n')
				i++;
			break;
		}
	}
	return n;
}

size_t mime_decoder_feed(struct mime_decoder *d, const char *in, size_t len, char *out)
{
	switch (d->cte) {
	case MIME_CTE_BASE64:
		return b64_feed(d, (const unsigned char *)in, len, out);
	case MIME_CTE_QP:
		return qp_feed(d, (const unsigned char *)in, len, out);
	default:
		if (len)
			memcpy(out, in, len);
		return len;
	}
}

size_t mime_decoder_finish(struct mime_decoder *d, char *out)
{
	size_t n = 0;

	if (d->cte == MIME_CTE_BASE64)
		n = b64_flush(d, out);
	else if (d->cte == MIME_CTE_QP) {
		switch (d->state) {
		case QP_CR:
			out[n++] = '\r'; /* white space before it was at the end */
			break;
		case QP_EQ_HEX:
			d->errors++;
			out[n++] = '=';
			out[n++] = d->hex1;
			break;
		default:
			/* Trailing white space and a final soft break vanish. */
			break;
		}
		d->nws = 0;
		d->state = QP_TEXT;
	}
	return n;
}

/* Chunk size for the whole-input helpers. */
#define DECODE_CHUNK 4096

int mime_decode_all(enum mime_cte cte, struct str in, struct buf *out)
{
	struct mime_decoder d;
	char tmp[MIME_DECODE_OUT_MAX(DECODE_CHUNK)];
	size_t off = 0, n, k;

	mime_decoder_init(&d, cte);
	if (cte != MIME_CTE_BASE64 && cte != MIME_CTE_QP)
		return buf_append(out, in.p, in.len);
	while (off < in.len) {
		k = in.len - off < DECODE_CHUNK ? in.len - off : DECODE_CHUNK;
		n = mime_decoder_feed(&d, in.p + off, k, tmp);
		if (buf_append(out, tmp, n) < 0)
			return -1;
		off += k;
	}
	n = mime_decoder_finish(&d, tmp);
	return buf_append(out, tmp, n);
}

uint64_t mime_decoded_size(enum mime_cte cte, struct str in)
{
	struct mime_decoder d;
	char tmp[MIME_DECODE_OUT_MAX(DECODE_CHUNK)];
	size_t off = 0, k;
	uint64_t total = 0;

	if (cte != MIME_CTE_BASE64 && cte != MIME_CTE_QP)
		return in.len;
	mime_decoder_init(&d, cte);
	while (off < in.len) {
		k = in.len - off < DECODE_CHUNK ? in.len - off : DECODE_CHUNK;
		total += mime_decoder_feed(&d, in.p + off, k, tmp);
		off += k;
	}
	return total + mime_decoder_finish(&d, tmp);
}

enum charset {
	CS_UNKNOWN,
	CS_UTF8,
	CS_LATIN9,
	CS_CP1252,
	CS_UTF16, /* RFC 2781, decoded here: big-endian unless a BOM says */
	CS_UTF16LE,
	CS_UTF16BE,
	CS_UTF7, /* RFC 2152, decoded here: neither musl's iconv nor the
	          * standard's list of iconv names has it */
	CS_TABLE, /* mime_charset_tables[] */
	CS_ICONV, /* an East Asian charset or a single-octet one without a
	           * table here (legacy_names[]), by libc's iconv */
};

/*
 * The East Asian charsets and their aliases, each mapped to a name that
 * both musl's iconv (the static binary) and glibc's (unit tests) know, or
 * to CP932 with SHIFT_JIS for musl 1.2.3, which lacks CP932.
 * Each maps to the widest member of its family, since senders label a
 * superset's mail with the subset's name: GB2312 and GBK mail uses GBK
 * octets, EUC-KR mail uses CP949's, Shift_JIS mail uses CP932's.
 */
static const struct {
	const char *alias, *iconv_name, *alt; /* alt: when iconv lacks the first (musl: CP932) */
} cjk_names[] = {
    {"gb2312", "GB18030", NULL},
    {"gbk", "GB18030", NULL},
    {"x-gbk", "GB18030", NULL},
    {"gb18030", "GB18030", NULL},
    {"cp936", "GB18030", NULL},
    {"ms936", "GB18030", NULL},
    {"windows-936", "GB18030", NULL},
    {"euc-cn", "GB18030", NULL},
    {"x-euc-cn", "GB18030", NULL},
    {"csgb2312", "GB18030", NULL},
    {"gb_2312-80", "GB18030", NULL},
    {"chinese", "GB18030", NULL},
    {"big5", "BIG5", NULL},
    {"x-x-big5", "BIG5", NULL},
    {"cn-big5", "BIG5", NULL},
    {"csbig5", "BIG5", NULL},
    {"cp950", "BIG5", NULL},
    {"big5-hkscs", "BIG5-HKSCS", NULL},
    {"big5hkscs", "BIG5-HKSCS", NULL},
    {"euc-kr", "CP949", NULL},
    {"euckr", "CP949", NULL},
    {"cseuckr", "CP949", NULL},
    {"ks_c_5601-1987", "CP949", NULL},
    {"ks_c_5601", "CP949", NULL},
    {"ksc5601", "CP949", NULL},
    {"korean", "CP949", NULL},
    {"cp949", "CP949", NULL},
    {"uhc", "CP949", NULL},
    {"windows-949", "CP949", NULL},
    {"x-windows-949", "CP949", NULL},
    {"shift_jis", "CP932", "SHIFT_JIS"},
    {"shift-jis", "CP932", "SHIFT_JIS"},
    {"sjis", "CP932", "SHIFT_JIS"},
    {"x-sjis", "CP932", "SHIFT_JIS"},
    {"ms_kanji", "CP932", "SHIFT_JIS"},
    {"csshiftjis", "CP932", "SHIFT_JIS"},
    {"cp932", "CP932", "SHIFT_JIS"},
    {"windows-31j", "CP932", "SHIFT_JIS"},
    {"ms932", "CP932", "SHIFT_JIS"},
    {"euc-jp", "EUC-JP", NULL},
    {"eucjp", "EUC-JP", NULL},
    {"x-euc-jp", "EUC-JP", NULL},
    {"cseucpkdfmtjapanese", "EUC-JP", NULL},
    {"iso-2022-jp", "ISO-2022-JP", NULL},
    {"csiso2022jp", "ISO-2022-JP", NULL},
};

/*
 * The single-octet charsets without a table of our own, by the names both
 * musl's iconv and glibc's know (glibc's CP874 is windows-874; musl has
 * only TIS-620, its subset without the punctuation at 0x80..0x9F).
 * Other spellings of the ISO 8859 and windows-125x names are made these
 * by canon_charset(). ISO-8859-9 is read as windows-1254, its superset,
 * as ISO-8859-1 is as windows-1252 (charset_of()).
 */
static const struct {
	const char *alias, *iconv_name, *alt;
} legacy_names[] = {
    {"iso-8859-3", "ISO-8859-3", NULL},   {"iso-8859-4", "ISO-8859-4", NULL},
    {"iso-8859-6", "ISO-8859-6", NULL},   {"iso-8859-7", "ISO-8859-7", NULL},
    {"iso-8859-8", "ISO-8859-8", NULL},   {"iso-8859-9", "WINDOWS-1254", NULL},
    {"iso-8859-10", "ISO-8859-10", NULL}, {"iso-8859-11", "ISO-8859-11", NULL},
    {"iso-8859-13", "ISO-8859-13", NULL}, {"iso-8859-14", "ISO-8859-14", NULL},
    {"iso-8859-16", "ISO-8859-16", NULL}, {"windows-1253", "WINDOWS-1253", NULL},
    {"windows-1254", "WINDOWS-1254", NULL}, {"windows-1255", "WINDOWS-1255", NULL},
    {"windows-1256", "WINDOWS-1256", NULL}, {"windows-1257", "WINDOWS-1257", NULL},
    {"windows-1258", "WINDOWS-1258", NULL}, {"latin3", "ISO-8859-3", NULL},
    {"latin4", "ISO-8859-4", NULL},       {"latin5", "WINDOWS-1254", NULL},
    {"latin6", "ISO-8859-10", NULL},      {"latin7", "ISO-8859-13", NULL},
    {"latin8", "ISO-8859-14", NULL},      {"latin10", "ISO-8859-16", NULL},
    {"greek", "ISO-8859-7", NULL},        {"hebrew", "ISO-8859-8", NULL},
    {"arabic", "ISO-8859-6", NULL},       {"tis-620", "TIS-620", NULL},
    {"tis620", "TIS-620", NULL},          {"windows-874", "CP874", "TIS-620"},
    {"cp874", "CP874", "TIS-620"},        {"x-cp874", "CP874", "TIS-620"},
    {"ibm866", "CP866", NULL},            {"cp866", "CP866", NULL},
};

/*
 * cs in the spelling the tables here use when it is an ISO 8859 or a
 * windows-125x label written another way ("iso8859-7", "ISO_8859-7",
 * "iso-8859-8-i", "cp1253", "x-cp1253"; a trailing "-i" or "-e", ISO
 * 8859-6/8's logical and explicit orders, has the same octets), written
 * to canon; else cs itself.
 */
static struct str canon_charset(struct str cs, char canon[16])
{
	size_t i, n;

	if (cs.len >= 7 && cs.len <= 16 && strncasecmp(cs.p, "iso", 3) == 0) {
		i = 3;
		if (cs.p[i] == '-' || cs.p[i] == '_' || cs.p[i] == ' ')
			i++;
		if (i + 4 > cs.len || strncmp(cs.p + i, "8859", 4) != 0)
			return cs;
		i += 4;
		if (i < cs.len && (cs.p[i] == '-' || cs.p[i] == '_' || cs.p[i] == ' '))
			i++;
		n = i;
		while (n < cs.len && n - i < 2 && cs.p[n] >= '0' && cs.p[n] <= '9')
			n++;
		if (n == i || (n < cs.len && !(n + 2 == cs.len && cs.p[n] == '-' &&
		                                strchr("iIeE", cs.p[n + 1]))))
			return cs;
		snprintf(canon, 16, "iso-8859-%.*s", (int)(n - i), cs.p + i);
		return str_c(canon);
	}
	if ((cs.len == 6 && strncasecmp(cs.p, "cp125", 5) == 0) ||
	    (cs.len == 8 && strncasecmp(cs.p, "x-cp125", 7) == 0)) {
		snprintf(canon, 16, "windows-125%c", cs.p[cs.len - 1]);
		return str_c(canon);
	}
	return cs;
}

/* The index of cs in legacy_names[], or -1. */
static int legacy_of(struct str cs)
{
	for (size_t k = 0; k < sizeof(legacy_names) / sizeof(legacy_names[0]); k++)
		if (str_eq_ci_c(cs, legacy_names[k].alias))
			return (int)k;
	return -1;
}

/* The iconv names of cs, by cjk_names[] or legacy_of(); 0 when neither
 * has it. */
static int iconv_names_of(struct str cs, const char **name_r, const char **alt_r)
{
	int k;

	for (size_t j = 0; j < sizeof(cjk_names) / sizeof(cjk_names[0]); j++)
		if (str_eq_ci_c(cs, cjk_names[j].alias)) {
			*name_r = cjk_names[j].iconv_name;
			*alt_r = cjk_names[j].alt;
			return 1;
		}
	k = legacy_of(cs);
	if (k < 0)
		return 0;
	*name_r = legacy_names[k].iconv_name;
	*alt_r = legacy_names[k].alt;
	return 1;
}

/* The table of cs when it is one of mime_charset_tables[], else NULL. */
static const uint16_t *table_of(struct str cs)
{
	static const struct {
		const char *alias, *name;
	} aliases[] = {
	    {"cp1251", "windows-1251"},   {"cp1250", "windows-1250"}, {"iso8859-2", "iso-8859-2"},
	    {"iso_8859-2", "iso-8859-2"}, {"latin2", "iso-8859-2"},   {"iso8859-5", "iso-8859-5"},
	    {"iso_8859-5", "iso-8859-5"}, {"koi8", "koi8-r"},
	};
	const char *name = NULL;

	for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
		if (str_eq_ci_c(cs, aliases[k].alias))
			name = aliases[k].name;
	for (size_t k = 0; mime_charset_tables[k].name; k++)
		if (name ? strcmp(name, mime_charset_tables[k].name) == 0
		         : str_eq_ci_c(cs, mime_charset_tables[k].name))
			return mime_charset_tables[k].hi;
	return NULL;
}

static enum charset charset_of(struct str cs)
{
	char canon[16];
	static const struct {
		const char *name;
		enum charset cs;
	} names[] = {
	    {"utf-8", CS_UTF8},          {"utf8", CS_UTF8},         {"us-ascii", CS_UTF8},
	    {"ascii", CS_UTF8},
	    /* US-ASCII's other IANA names; ANSI_X3.4-1968 is what glibc's C
	     * locale calls it, so cron's and scripts' mail says that */
	    {"ansi_x3.4-1968", CS_UTF8}, {"ansi_x3.4-1986", CS_UTF8}, {"iso646-us", CS_UTF8},
	    {"iso_646.irv:1991", CS_UTF8}, {"csascii", CS_UTF8},    {"cp367", CS_UTF8},
	    {"ibm367", CS_UTF8},         {"iso-ir-6", CS_UTF8},     {"us", CS_UTF8},
	    /* ISO-8859-1 by all its IANA names is read as windows-1252, its
	     * superset, as the WHATWG Encoding Standard's label table says and
	     * every mail reader does: Outlook and Word label their curly
	     * quotes, dashes and euro sign (0x80..0x9F) ISO-8859-1, where
	     * strict Latin-1 has invisible C1 controls */
	    {"iso-8859-1", CS_CP1252},   {"iso_8859-1:1987", CS_CP1252}, {"latin1", CS_CP1252},
	    {"l1", CS_CP1252},           {"cp819", CS_CP1252},      {"ibm819", CS_CP1252},
	    {"iso-ir-100", CS_CP1252},   {"csisolatin1", CS_CP1252},
	    {"iso-8859-15", CS_LATIN9},  {"latin9", CS_LATIN9},
	    {"windows-1252", CS_CP1252}, {"cp1252", CS_CP1252},
	    {"utf-7", CS_UTF7},          {"utf7", CS_UTF7},         {"unicode-1-1-utf-7", CS_UTF7},
	    {"csunicode11utf7", CS_UTF7},
	    {"utf-16", CS_UTF16},        {"utf16", CS_UTF16},       {"utf-16le", CS_UTF16LE},
	    {"utf-16be", CS_UTF16BE},
	};
	size_t k;

	if (cs.p == NULL || cs.len == 0)
		return CS_UTF8;
	cs = canon_charset(cs, canon);
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (str_eq_ci_c(cs, names[k].name))
			return names[k].cs;
	if (table_of(cs))
		return CS_TABLE;
	{
		const char *name, *alt;
		return iconv_names_of(cs, &name, &alt) ? CS_ICONV : CS_UNKNOWN;
	}
}

int mime_charset_known(struct str charset)
{
	return charset_of(charset) != CS_UNKNOWN;
}

int mime_charset_is_utf7(struct str charset)
{
	return charset.p && charset.len && charset_of(charset) == CS_UTF7;
}

int mime_charset_utf16(struct str charset, const char *p, size_t n)
{
	enum charset cs = charset.p && charset.len ? charset_of(charset) : CS_UNKNOWN;

	if (cs == CS_UTF16 && n >= 2 && (unsigned char)p[0] == 0xFF && (unsigned char)p[1] == 0xFE)
		return 2;
	return cs == CS_UTF16LE ? 2 : cs == CS_UTF16 || cs == CS_UTF16BE ? 1 : 0;
}

/* windows-1252 0x80..0x9F; the five holes map to the C1 code point, as
 * browsers do. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static unsigned latin9_cp(unsigned char c)
{
	switch (c) {
	case 0xA4:
		return 0x20AC;
	case 0xA6:
		return 0x0160;
	case 0xA8:
		return 0x0161;
	case 0xB4:
		return 0x017D;
	case 0xB8:
		return 0x017E;
	case 0xBC:
		return 0x0152;
	case 0xBD:
		return 0x0153;
	case 0xBE:
		return 0x0178;
	default:
		return c;
	}
}

static size_t put_cp(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	out[0] = (char)(0xE0 | cp >> 12);
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[2] = (char)(0x80 | (cp & 0x3F));
	return 3;
}

/*
 * Converts in[0..len) by cd into out at *n, within the cap octets the
 * caller has: output that would pass it is cut rather than overrun. A bad
 * octet becomes U+FFFD and is skipped, a sequence cut off at the end one
 * U+FFFD; each round consumes input or ends, so nothing can loop.
 */
static void iconv_run(iconv_t cd, const char *in, size_t len, char *out, size_t *n, size_t cap)
{
	char *ip = (char *)in, *op = out + *n;
	size_t il = len, ol;

	while (il > 0) {
		/* No room is held back for the U+FFFD below: a single-octet
		 * charset's octet may take all its 3 (the euro sign, Thai), and
		 * the cap leaves 3 for each octet not yet converted anyway. */
		ol = cap - (size_t)(op - out);
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		if ((errno != EILSEQ && errno != EINVAL) || ol < 3)
			break; /* E2BIG: the cap, cut */
		memcpy(op, "\xEF\xBF\xBD", 3);
		op += 3;
		if (errno == EINVAL)
			break;
		ip++;
		il--;
	}
	*n = (size_t)(op - out);
}

/*
 * The codes a charset's walk decodes here rather than by iconv: given the
 * input at s (len >= 1 octets left) and the walk's shift state, 1 with
 * the code point in *cp (a U+FFFD for a bad one), or 0 for iconv's; *adv
 * is the code's length either way, so the walk stays in step with the
 * charset's own octet boundaries.
 */
typedef int own_fn(const unsigned char *s, size_t len, size_t *adv, uint32_t *cp, int *state);

/* GB18030's 4-octet codes for U+10000 and up (the emoji), which musl 1.2.3
 * decodes wrongly: from the standard's linear mapping. */
static int gb18030_own(const unsigned char *s, size_t len, size_t *adv, uint32_t *cp, int *state)
{
	(void)state;
	*adv = 1;
	if (s[0] < 0x81 || s[0] == 0xFF || len < 2)
		return 0;
	*adv = 2;
	if (s[1] < 0x30 || s[1] > 0x39 || len < 4)
		return 0;
	*adv = 4;
	if (s[0] < 0x90 || s[0] > 0xE3 || s[2] < 0x81 || s[2] > 0xFE || s[3] < 0x30 || s[3] > 0x39)
		return 0;
	*cp = 0x10000 + (uint32_t)(s[0] - 0x90) * 12600 + (uint32_t)(s[1] - 0x30) * 1260 +
	      (uint32_t)(s[2] - 0x81) * 10 + (uint32_t)(s[3] - 0x30);
	return 1; /* past U+10FFFF: utf8_encode() makes it U+FFFD */
}

/*
 * A Shift_JIS code with lead l and trail t as CP932 has it beyond JIS X
 * 0208 (mime_cp932_ext), as the WHATWG Encoding Standard decodes it:
 * leads 0x87 and 0xEB..0xFC, where musl's iconv has nothing or, from 0xEB
 * on, JIS X 0213's characters in place of Windows' (髙 became ㈲). The
 * user-defined rows 0xF0..0xF9 are the Private Use Area from U+E000.
 * Returns 0 for another lead (iconv's), else 1 with *cp, U+FFFD where
 * CP932 has no character; *adv is 1 when that U+FFFD leaves an ASCII
 * trail to be read again, else 2.
 */
static int cp932_ext(unsigned l, unsigned t, size_t *adv, uint32_t *cp)
{
	static const unsigned char rows[] = {0x87, 0xED, 0xEE, 0xFA, 0xFB, 0xFC};
	int ti = t >= 0x40 && t <= 0x7E ? (int)t - 0x40 : t >= 0x80 && t <= 0xFC ? (int)t - 0x41 : -1;

	if (l != 0x87 && (l < 0xEB || l > 0xFC))
		return 0;
	*cp = 0xFFFD;
	*adv = ti >= 0 || t >= 0x80 ? 2 : 1;
	if (ti < 0)
		return 1;
	for (size_t r = 0; r < sizeof(rows); r++)
		if (rows[r] == l && mime_cp932_ext[r][ti])
			*cp = mime_cp932_ext[r][ti];
	if (l >= 0xF0 && l <= 0xF9)
		*cp = 0xE000 + (l - 0xF0) * 188 + (uint32_t)ti;
	if (*cp == 0xFFFD && t < 0x80)
		*adv = 1;
	return 1;
}

static int sjis_own(const unsigned char *s, size_t len, size_t *adv, uint32_t *cp, int *state)
{
	(void)state;
	*adv = 1;
	if (s[0] < 0x81 || (s[0] >= 0xA0 && s[0] <= 0xDF) || s[0] > 0xFC || len < 2)
		return 0;
	if (cp932_ext(s[0], s[1], adv, cp))
		return 1;
	*adv = (s[1] >= 0x40 && s[1] <= 0xFC && s[1] != 0x7F) ? 2 : 1;
	return 0;
}

/* A JIS X 0208 row and cell (1..94) in rows 13 or 89..92, CP932's
 * additions, as ISO-2022-JP and EUC-JP carry them: by their Shift_JIS
 * code. 0 for the rest. */
static int jis_own(unsigned row, unsigned cell, uint32_t *cp)
{
	unsigned l = (row + 1) / 2 + (row <= 62 ? 0x80 : 0xC0);
	unsigned t = row % 2 ? cell + 0x3F + (cell >= 64) : cell + 0x9E;
	size_t adv;

	if (row != 13 && (row < 89 || row > 92))
		return 0;
	return cp932_ext(l, t, &adv, cp);
}

/* ISO-2022-JP (RFC 1468): *state is 1 inside JIS X 0208 (ESC $ @, ESC $
 * B), 2 inside another two-octet set (JIS X 0212), 0 in a one-octet one. */
static int iso2022jp_own(const unsigned char *s, size_t len, size_t *adv, uint32_t *cp,
                         int *state)
{
	*adv = 1;
	if (s[0] == 0x1B && len >= 3) {
		if (s[1] == '$' && (s[2] == '@' || s[2] == 'B'))
			*state = 1, *adv = 3;
		else if (s[1] == '$' && s[2] == '(' && len >= 4)
			*state = 2, *adv = 4;
		else if (s[1] == '(')
			*state = 0, *adv = 3;
		return 0;
	}
	if (*state == 0 || s[0] < 0x21 || s[0] > 0x7E || len < 2 || s[1] < 0x21 || s[1] > 0x7E)
		return 0;
	*adv = 2;
	return *state == 1 && jis_own(s[0] - 0x20u, s[1] - 0x20u, cp);
}

/* EUC-JP: JIS X 0208 as two octets 0xA1..0xFE, 0x8E and a half-width
 * katakana, 0x8F and two of JIS X 0212. */
static int eucjp_own(const unsigned char *s, size_t len, size_t *adv, uint32_t *cp, int *state)
{
	(void)state;
	*adv = 1;
	if (s[0] == 0x8E || s[0] == 0x8F) {
		size_t k = s[0] == 0x8E ? 2 : 3;
		*adv = len < k ? len : k;
		return 0;
	}
	if (s[0] < 0xA1 || s[0] > 0xFE || len < 2 || s[1] < 0xA1 || s[1] > 0xFE)
		return 0;
	*adv = 2;
	return jis_own(s[0] - 0xA0u, s[1] - 0xA0u, cp);
}

/*
 * Converts by iconv within the caller's 3 * len octets, which is enough:
 * no charset here makes more than 3 UTF-8 octets of one input octet (2-octet
 * codes give at most 4, Big5-HKSCS's two-code-point ones too; 4-octet
 * GB18030 codes at most 4), nor does a U+FFFD. The codes an own_fn above
 * takes are decoded here and iconv sees the rest in pieces, through one
 * descriptor, so a shift state (ISO-2022-JP's) carries across them.
 */
static ptrdiff_t iconv_to_utf8(const char *name, const char *alt, const char *in, size_t len,
                               char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	iconv_t cd = iconv_open("UTF-8", name);
	size_t n = 0, i = 0, from = 0, cap = 3 * len, adv, k;
	own_fn *own = strcmp(name, "GB18030") == 0       ? gb18030_own
	              : strcmp(name, "CP932") == 0       ? sjis_own
	              : strcmp(name, "ISO-2022-JP") == 0 ? iso2022jp_own
	              : strcmp(name, "EUC-JP") == 0      ? eucjp_own
	                                                 : NULL;
	uint32_t cp;
	int state = 0;
	char u[4];

	if (cd == (iconv_t)-1 && alt)
		cd = iconv_open("UTF-8", alt);
	if (cd == (iconv_t)-1)
		return -1; /* a libc without the charset: as if unknown */
	while (own && i < len) {
		if (!own(s + i, len - i, &adv, &cp, &state)) {
			i += adv;
			continue;
		}
		iconv_run(cd, in + from, i - from, out, &n, cap);
		k = utf8_encode(cp, u);
		if (n + k <= cap) {
			memcpy(out + n, u, k);
			n += k;
		}
		from = i += adv;
	}
	iconv_run(cd, in + from, len - from, out, &n, cap);
	{
		char *op = out + n;
		size_t ol = cap - n;

		iconv(cd, NULL, NULL, &op, &ol); /* back to the initial shift state */
		n = (size_t)(op - out);
	}
	iconv_close(cd);
	return (ptrdiff_t)n;
}

/*
 * UTF-16 (RFC 2781), little-endian when le: a leading BOM in either order
 * sets the order (for the -LE/-BE labels too: a reader drops it as the
 * WHATWG decoders do), a surrogate pair is one character, a lone
 * surrogate and a final odd octet U+FFFD; at most 3 octets out per 2 in.
 */
static size_t utf16_to_utf8(const unsigned char *s, size_t len, char *out, int le)
{
	size_t i = 0, n = 0;

	if (len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF))) {
		le = s[0] == 0xFF;
		i = 2;
	}
	for (; i + 1 < len; i += 2) {
		uint32_t u = le ? (uint32_t)s[i + 1] << 8 | s[i] : (uint32_t)s[i] << 8 | s[i + 1];

		if (u >= 0xD800 && u <= 0xDBFF && i + 3 < len) {
			uint32_t lo = le ? (uint32_t)s[i + 3] << 8 | s[i + 2]
			                 : (uint32_t)s[i + 2] << 8 | s[i + 3];
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				i += 2;
			}
		}
		n += utf8_encode(u, out + n); /* a lone surrogate: U+FFFD */
	}
	if (i < len)
		n += utf8_encode(0xFFFD, out + n);
	return n;
}

/*
 * UTF-7 (RFC 2152): ASCII as itself; "+" starts base64 of UTF-16 code
 * units, ended by the first octet outside base64 (a "-" there is
 * absorbed, "+-" is "+"). A lone surrogate, an 8-bit octet and a
 * unit left unfinished become U+FFFD; at most 3 octets out per octet in.
 */
static size_t utf7_to_utf8(const unsigned char *s, size_t len, char *out)
{
	size_t i = 0, n = 0;
	uint32_t acc = 0, high = 0;
	int bits = 0, shifted = 0, units = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		int v = shifted ? b64_value(c) : -1; /* the base64 alphabet: 0..63 */

		if (v >= 0) {
			acc = (acc << 6 | (uint32_t)v) & 0x3FFFFF;
			bits += 6;
			if (bits < 16)
				continue;
			bits -= 16;
			uint32_t u = (acc >> bits) & 0xFFFF;
			units++;
			if (high && u >= 0xDC00 && u <= 0xDFFF) {
				n += utf8_encode(0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00),
				                 out + n);
				high = 0;
				continue;
			}
			if (high)
				n += utf8_encode(0xFFFD, out + n);
			high = 0;
			if (u >= 0xD800 && u <= 0xDBFF)
				high = u;
			else
				n += utf8_encode(u >= 0xDC00 && u <= 0xDFFF ? 0xFFFD : u, out + n);
			continue;
		}
		if (shifted) {
			/* the run ends: a pending high surrogate or a partial
			 * unit (more than padding) is an error */
			if (high || bits >= 6)
				n += utf8_encode(0xFFFD, out + n);
			high = 0;
			bits = 0;
			shifted = 0;
			if (c == '-') {
				if (units == 0 && i > 0 && s[i - 1] == '+')
					out[n++] = '+'; /* "+-" */
				continue;
			}
		}
		if (c == '+') {
			shifted = 1;
			units = 0;
			continue;
		}
		if (c >= 0x80)
			n += utf8_encode(0xFFFD, out + n);
		else
			out[n++] = (char)c;
	}
	if (shifted && (high || bits >= 6))
		n += utf8_encode(0xFFFD, out + n);
	return n;
}

ptrdiff_t mime_charset_to_utf8(struct str charset, const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	char canon[16];
	enum charset cs = charset_of(charset);
	const uint16_t *hi;
	size_t i = 0, n = 0, k;

	if (cs == CS_UNKNOWN)
		return -1;
	if (cs == CS_UTF7)
		return (ptrdiff_t)utf7_to_utf8(s, len, out);
	if (cs == CS_UTF16 || cs == CS_UTF16LE || cs == CS_UTF16BE)
		return (ptrdiff_t)utf16_to_utf8(s, len, out, cs == CS_UTF16LE);
	if (charset.p)
		charset = canon_charset(charset, canon);
	hi = cs == CS_TABLE ? table_of(charset) : NULL;
	if (cs == CS_ICONV) {
		const char *name = NULL, *alt = NULL;
		iconv_names_of(charset, &name, &alt);
		return iconv_to_utf8(name, alt, in, len, out);
	}
	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			/* ASCII is itself in every charset taken here: a run
			 * of it is copied whole (mail text is mostly ASCII,
			 * and a byte at a time made this the largest cost of
			 * an Email/get of previews). */
			size_t run = utf8_ascii_run(s + i, len - i);
			memcpy(out + n, s + i, run);
			n += run;
			i += run;
			continue;
		}
		switch (cs) {
		case CS_UTF8:
			k = utf8_seq(s + i, len - i);
			if (k == 0) {
				n += put_cp(out + n, 0xFFFD);
				i++;
			} else {
				memcpy(out + n, s + i, k);
				n += k;
				i += k;
			}
			continue;
		case CS_LATIN9:
			n += put_cp(out + n, latin9_cp(c));
			break;
		case CS_CP1252:
			n += put_cp(out + n, c < 0xA0 ? cp1252_hi[c - 0x80] : c);
			break;
		case CS_TABLE:
			n += put_cp(out + n, hi[c - 0x80]);
			break;
		default:
			break;
		}
		i++;
	}
	return (ptrdiff_t)n;
}

int mime_base64_lines(struct buf *out, const void *p, size_t n)
{
	return base64_lines_buf(out, p, n, 76);
}

int mime_qp_lines(struct buf *out, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t col = 0;
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i] == '\n' || (c[i] == '\r' && i + 1 < n && c[i + 1] == '\n')) {
			i += c[i] == '\r';
			r |= buf_append(out, "\r\n", 2);
			col = 0;
			continue;
		}
		/* White space is literal unless a line end (or the end) follows. */
		int eol = i + 1 == n || c[i + 1] == '\n' ||
			  (c[i + 1] == '\r' && i + 2 < n && c[i + 2] == '\n');
		int lit = (c[i] >= 33 && c[i] <= 126 && c[i] != '=') ||
			  ((c[i] == ' ' || c[i] == '\t') && !eol);
		size_t w = lit ? 1 : 3;
		/* 76 columns with the soft break's "=" (a line may end at 76
		 * when nothing follows on it). */
		if (col + w > (eol ? 76u : 75u)) {
			r |= buf_append(out, "=\r\n", 3);
			col = 0;
		}
		if (lit) {
			r |= buf_append(out, (const char *)&c[i], 1);
		} else {
			char e[3] = {'=', hex_upper[c[i] >> 4], hex_upper[c[i] & 15]};
			r |= buf_append(out, e, 3);
		}
		col += w;
	}
	return r < 0 ? -1 : 0;
}

int mime_text_body(struct buf *out, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t line = 0;
	int high = 0, qp = 0, r = 0;
	for (size_t i = 0; i < n && !qp; i++) {
		if (c[i] == '\n' || (c[i] == '\r' && i + 1 < n && c[i + 1] == '\n')) {
			i += c[i] == '\r';
			line = 0;
			continue;
		}
		high |= c[i] >= 0x80;
		qp = c[i] == '\0' || c[i] == '\r' || ++line > 998;
	}
	r |= buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
			qp ? "quoted-printable" : high ? "8bit" : "7bit");
	if (qp) {
		r |= mime_qp_lines(out, p, n);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (c[i] == '\n' && (i == 0 || c[i - 1] != '\r'))
				r |= buf_append(out, "\r", 1);
			r |= buf_append(out, (const char *)&c[i], 1);
		}
	}
	/* The body ends with a line end. */
	if (n == 0 || c[n - 1] != '\n')
		r |= buf_append(out, "\r\n", 2);
	return r < 0 ? -1 : 0;
}
